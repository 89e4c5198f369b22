//! `whsec_` signing secrets for the `v1` (HMAC-SHA256) scheme.

use std::fmt;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use super::b64;

const PREFIX: &str = "whsec_";

/// Why a signing secret was refused. Never carries the secret itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// Nothing after the `whsec_` prefix.
    #[error("signing secret is empty")]
    Empty,
    /// The part after `whsec_` is not standard base64.
    #[error(
        "signing secret is not standard base64 after `whsec_` (separate several secrets with spaces, not commas)"
    )]
    NotBase64,
    /// Fewer than [`SigningSecret::MIN_KEY_BYTES`] bytes once decoded: too weak to trust.
    #[error("signing secret is {0} bytes once decoded; at least 16 are required (Gemini's are 24)")]
    TooShort(usize),
}

/// A secret refused in a list, by its 1-based position (never by value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signing secret #{position} of {count}: {problem}")]
pub struct SecretListError {
    /// 1-based position of the refused secret in the list.
    pub position: usize,
    /// How many secrets the list held.
    pub count: usize,
    /// What is wrong with it.
    pub problem: SecretError,
}

/// A `v1` signing secret, decoded once, with its HMAC key schedule precomputed so each verification
/// hashes only the message. `Debug` shows nothing of the key.
#[derive(Clone)]
pub struct SigningSecret {
    key: Vec<u8>,
    mac: Hmac<Sha256>,
}

impl SigningSecret {
    /// Fewest key bytes accepted: 128 bits.
    pub const MIN_KEY_BYTES: usize = 16;

    /// Parses `whsec_` + standard base64 (padding optional). The prefix may be left out, as the
    /// Standard Webhooks libraries allow.
    pub fn parse(raw: &str) -> Result<Self, SecretError> {
        let encoded = raw.strip_prefix(PREFIX).unwrap_or(raw);
        if encoded.is_empty() {
            return Err(SecretError::Empty);
        }
        let key = b64::STANDARD_LENIENT.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        Self::from_key(key)
    }

    /// Parses a whitespace-separated list, as held in `WEBHOOK_SECRETS` or a Secrets Manager secret.
    /// Several secrets cover a rotation's overlap: a signature made with any of them verifies.
    pub fn parse_list(raw: &str) -> Result<Vec<Self>, SecretListError> {
        let items: Vec<&str> = raw.split_whitespace().collect();
        let count = items.len();
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                Self::parse(item).map_err(|problem| SecretListError { position: i + 1, count, problem })
            })
            .collect()
    }

    /// A new random 24-byte secret, as Gemini issues them.
    pub fn generate() -> Self {
        let mut key = vec![0u8; 24];
        OsRng.fill_bytes(&mut key);
        // 24 bytes is never empty.
        Self::from_key(key).unwrap_or_else(|_| unreachable!("a 24-byte key is valid"))
    }

    fn from_key(key: Vec<u8>) -> Result<Self, SecretError> {
        if key.is_empty() {
            return Err(SecretError::Empty);
        }
        if key.len() < Self::MIN_KEY_BYTES {
            return Err(SecretError::TooShort(key.len()));
        }
        // HMAC takes keys of any length, so this cannot fail for a non-empty key.
        let mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| SecretError::Empty)?;
        Ok(Self { key, mac })
    }

    /// The secret in its `whsec_` form, for `keygen` output and configuration files. Handle it as a
    /// secret: it is the only place this type reveals the key.
    pub fn expose_whsec(&self) -> String {
        format!("{PREFIX}{}", b64::STANDARD_LENIENT.encode(&self.key))
    }

    /// A short name for the secret that reveals nothing of it: the first 16 hex digits of the SHA-256 of
    /// its key. What the endpoint's secret records each webhook's secrets by.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        hex::encode(&Sha256::digest(&self.key)[..8])
    }

    /// HMAC-SHA256 of `id.timestamp.body`, streamed: the body is never copied.
    pub(crate) fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}

impl PartialEq for SigningSecret {
    /// Constant-time: comparing secrets must not leak them either.
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.key.ct_eq(&other.key).into()
    }
}

impl Eq for SigningSecret {}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_padding_and_prefix() {
        let padded = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let bare = SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(padded.key, bare.key);
        let unpadded = SigningSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let with_pad = SigningSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        assert_eq!(unpadded.key, with_pad.key);
    }

    #[test]
    fn refuses_empty_and_undecodable_secrets() {
        assert_eq!(SigningSecret::parse("whsec_").unwrap_err(), SecretError::Empty);
        assert_eq!(SigningSecret::parse("").unwrap_err(), SecretError::Empty);
        assert_eq!(SigningSecret::parse("whsec_not base64!").unwrap_err(), SecretError::NotBase64);
    }

    #[test]
    fn refuses_secrets_shorter_than_sixteen_bytes() {
        // "whsec_AAAA" decodes to 3 bytes: anyone could guess it.
        assert_eq!(SigningSecret::parse("whsec_AAAA").unwrap_err(), SecretError::TooShort(3));
        assert_eq!(
            SigningSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAA").unwrap_err(),
            SecretError::TooShort(15)
        );
        assert!(SigningSecret::parse("whsec_AAAAAAAAAAAAAAAAAAAAAA==").is_ok(), "16 bytes");
    }

    #[test]
    fn names_the_refused_secret_by_position_never_by_value() {
        let err = SigningSecret::parse_list("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n whsec_%%%%secretvalue")
            .unwrap_err();
        assert_eq!(err, SecretListError { position: 2, count: 2, problem: SecretError::NotBase64 });
        let message = err.to_string();
        assert!(message.contains("#2 of 2"), "{message}");
        assert!(!message.contains("secretvalue"), "{message}");
    }

    #[test]
    fn a_fingerprint_names_a_secret_without_revealing_it() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let fingerprint = secret.fingerprint();
        assert_eq!(fingerprint.len(), 16);
        assert_eq!(
            fingerprint,
            SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap().fingerprint()
        );
        assert_ne!(fingerprint, SigningSecret::generate().fingerprint());
        assert!(!secret.expose_whsec().contains(&fingerprint));
    }

    #[test]
    fn debug_output_redacts_the_key() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{secret:?}"), "SigningSecret(<redacted>)");
    }

    #[test]
    fn generated_secrets_round_trip_through_their_whsec_form() {
        let secret = SigningSecret::generate();
        let again = SigningSecret::parse(&secret.expose_whsec()).unwrap();
        assert_eq!(secret.key, again.key);
        assert_eq!(secret.key.len(), 24);
    }
}
