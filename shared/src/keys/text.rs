//! The Standard Webhooks `v1a` key texts: `whpk_` and base64 for a public key, `whsk_` and base64 for a
//! secret one. The proposals disagree on what the base64 holds, so every form seen is read: a public
//! key as 32 raw bytes or the 44-byte SPKI DER structure one implementation writes; a secret key as a
//! 32-byte seed or 64 bytes, seed then public key (see `shared/tests/data/v1a/README.md`). What is
//! written is the common form: 32 bytes each.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;

/// The prefix of a public key's text.
pub const PUBLIC_PREFIX: &str = "whpk_";
/// The prefix of a secret key's text.
pub const SECRET_PREFIX: &str = "whsk_";

/// The DER that comes before the 32 key bytes in an Ed25519 SubjectPublicKeyInfo.
const SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// A key text that cannot be used. Names what is wrong, never the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyTextError {
    /// Not base64 after its prefix.
    #[error("not base64 after its prefix")]
    NotBase64,
    /// A length no form has.
    #[error("{0} bytes: expected 32, or {1}")]
    Length(usize, &'static str),
    /// 32 bytes that are not an Ed25519 public key.
    #[error("not an Ed25519 public key")]
    NotAKey,
    /// A 64-byte secret key whose public half is not the seed's.
    #[error("its public half is not the seed's public key")]
    Mismatch,
}

fn bytes(text: &str, prefix: &str) -> Result<Vec<u8>, KeyTextError> {
    let text = text.trim();
    STANDARD.decode(text.strip_prefix(prefix).unwrap_or(text)).map_err(|_| KeyTextError::NotBase64)
}

/// Reads a public key: `whpk_` (or bare base64) of 32 raw bytes or of a 44-byte SPKI structure.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, KeyTextError> {
    let bytes = bytes(text, PUBLIC_PREFIX)?;
    let raw: [u8; 32] = match bytes.len() {
        32 => bytes.try_into().map_err(|_| KeyTextError::NotAKey)?,
        44 if bytes.starts_with(&SPKI_PREFIX) => bytes[12..].try_into().map_err(|_| KeyTextError::NotAKey)?,
        other => return Err(KeyTextError::Length(other, "a 44-byte SPKI structure")),
    };
    VerifyingKey::from_bytes(&raw).map_err(|_| KeyTextError::NotAKey)
}

/// A public key's text: `whpk_` and its 32 bytes.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_PREFIX}{}", STANDARD.encode(key.as_bytes()))
}

/// Reads a secret key's seed: `whsk_` (or bare base64) of a 32-byte seed, or of 64 bytes (the seed,
/// then its public key, which must match).
pub fn parse_secret_key(text: &str) -> Result<[u8; 32], KeyTextError> {
    let bytes = bytes(text, SECRET_PREFIX)?;
    let seed: [u8; 32] = match bytes.len() {
        32 | 64 => bytes[..32].try_into().map_err(|_| KeyTextError::NotBase64)?,
        other => return Err(KeyTextError::Length(other, "64 (seed and public key)")),
    };
    if bytes.len() == 64 {
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        if public.as_bytes()[..] != bytes[32..] {
            return Err(KeyTextError::Mismatch);
        }
    }
    Ok(seed)
}

/// A secret key's text: `whsk_` and its 32-byte seed. It is the key: handle it as a secret.
pub fn secret_key_text(seed: &[u8; 32]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_back_as_written_and_in_the_other_forms() {
        let seed = [7u8; 32];
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        assert_eq!(parse_public_key(&public_key_text(&public)), Ok(public));
        assert_eq!(parse_secret_key(&secret_key_text(&seed)), Ok(seed));
        let mut spki = SPKI_PREFIX.to_vec();
        spki.extend_from_slice(public.as_bytes());
        assert_eq!(parse_public_key(&format!("whpk_{}", STANDARD.encode(&spki))), Ok(public));
        let mut long = seed.to_vec();
        long.extend_from_slice(public.as_bytes());
        assert_eq!(parse_secret_key(&STANDARD.encode(&long)), Ok(seed), "bare base64 too");
        long[63] ^= 1;
        assert_eq!(
            parse_secret_key(&format!("whsk_{}", STANDARD.encode(&long))),
            Err(KeyTextError::Mismatch)
        );
        assert_eq!(parse_public_key("whpk_AAAA"), Err(KeyTextError::Length(3, "a 44-byte SPKI structure")));
        assert_eq!(parse_public_key("whpk_not base64!"), Err(KeyTextError::NotBase64));
    }
}
