//! JSON Web Key Sets: parse the keys we can use, skip the rest; and build sets for tests and tools.

use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use rsa::pkcs1v15;
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPublicKey};
use serde::Deserialize;
use serde_json::Value;
#[cfg(feature = "sign")]
use serde_json::json;
use sha2::{Digest, Sha256};

use super::text::{KeyTextError, parse_public_key};
use crate::signature::b64;

/// Smallest RSA modulus accepted, in bits.
const MIN_RSA_BITS: usize = 2048;

/// Why a JWKS document gave no usable key set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// Not a JSON object with a `keys` array.
    #[error("not a JWKS document: {0}")]
    NotJwks(String),
    /// A `whpk_` key of an inline key list that cannot be used (1 is the first).
    #[error("public key {position}: {error}")]
    NotAPublicKey {
        /// Where in the list it stands.
        position: usize,
        /// What is wrong with it.
        error: KeyTextError,
    },
    /// Parsed, but no Ed25519 or RSA signing key in it was usable.
    #[error("JWKS holds no usable Ed25519 or RS256 key ({skipped} skipped)")]
    NoUsableKeys {
        /// How many entries were skipped (unknown type, wrong use, invalid material).
        skipped: usize,
    },
}

/// An RSA key from the set, with its key id.
#[derive(Debug, Clone)]
pub(crate) struct RsaKey {
    pub(crate) kid: Option<String>,
    pub(crate) key: pkcs1v15::VerifyingKey<Sha256>,
}

/// The usable keys of one JWKS document. Two sets are equal when they came from the same document, so
/// a refetch that brings nothing new does not cause a second verification pass.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    ed25519: Vec<VerifyingKey>,
    rsa: Vec<RsaKey>,
    /// SHA-256 of the document the keys came from.
    fingerprint: [u8; 32],
}

impl PartialEq for KeySet {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint
    }
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<Value>,
}

/// The JWK members we read; everything else is ignored.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default, rename = "use")]
    key_use: Option<String>,
}

impl KeySet {
    /// Parses a JWKS document, keeping Ed25519 (`OKP`/`Ed25519`) and RSA signing keys. Entries of
    /// other types, for encryption, for other algorithms or with invalid material are skipped, so a
    /// key Google adds tomorrow never breaks verification with the keys we know.
    pub fn from_jwks(document: &[u8]) -> Result<Self, JwksError> {
        let fingerprint = Sha256::digest(document).into();
        let document: Document =
            serde_json::from_slice(document).map_err(|e| JwksError::NotJwks(e.to_string()))?;
        let mut set = Self { fingerprint, ..Self::default() };
        let mut skipped = 0;
        for value in document.keys {
            let usable = serde_json::from_value::<Jwk>(value).ok().and_then(|jwk| set.add(jwk));
            if usable.is_none() {
                skipped += 1;
            }
        }
        if set.is_empty() {
            return Err(JwksError::NoUsableKeys { skipped });
        }
        if skipped > 0 {
            tracing::debug!(skipped, "JWKS entries skipped");
        }
        Ok(set)
    }

    /// Reads inline key configuration: a JWKS document, or (anything not starting with `{`) Ed25519
    /// public keys in any Standard Webhooks text form (`whpk_`, bare base64; 32 raw bytes or SPKI),
    /// separated by whitespace or commas, so keys from any `v1a` sender can be pasted as they come.
    pub fn from_inline(text: &[u8]) -> Result<Self, JwksError> {
        let trimmed = text.trim_ascii_start();
        if trimmed.starts_with(b"{") {
            return Self::from_jwks(text);
        }
        let text = std::str::from_utf8(trimmed)
            .map_err(|_| JwksError::NotJwks("neither a JWKS document nor public keys".into()))?;
        let mut set = Self { fingerprint: Sha256::digest(text).into(), ..Self::default() };
        let keys = text.split(|c: char| c == ',' || c.is_whitespace()).filter(|k| !k.is_empty());
        for (index, key) in keys.enumerate() {
            let not_usable = |error| JwksError::NotAPublicKey { position: index + 1, error };
            let key = parse_public_key(key).map_err(not_usable)?;
            if key.is_weak() {
                return Err(not_usable(KeyTextError::NotAKey));
            }
            set.ed25519.push(key);
        }
        if set.is_empty() {
            return Err(JwksError::NoUsableKeys { skipped: 0 });
        }
        Ok(set)
    }

    /// Adds a parsed JWK; `None` when it is not a usable signing key.
    fn add(&mut self, jwk: Jwk) -> Option<()> {
        if jwk.key_use.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => {
                if jwk.alg.as_deref().is_some_and(|a| a != "EdDSA" && a != "Ed25519") {
                    return None;
                }
                let x = decode_url(jwk.x.as_deref()?)?;
                let key = VerifyingKey::from_bytes(&x.try_into().ok()?).ok()?;
                // Reject weak (small-order) keys outright: no honest signer uses one.
                if key.is_weak() {
                    return None;
                }
                self.ed25519.push(key);
            }
            ("RSA", _) => {
                if jwk.alg.as_deref().is_some_and(|a| a != "RS256") {
                    return None;
                }
                let n = BigUint::from_bytes_be(&decode_url(jwk.n.as_deref()?)?);
                let e = BigUint::from_bytes_be(&decode_url(jwk.e.as_deref()?)?);
                let key = RsaPublicKey::new(n, e).ok()?;
                if key.size() * 8 < MIN_RSA_BITS {
                    return None;
                }
                self.rsa.push(RsaKey { kid: jwk.kid, key: pkcs1v15::VerifyingKey::new(key) });
            }
            _ => return None,
        }
        Some(())
    }

    /// Ed25519 keys, tried in turn for `v1a` (the signature names no key).
    pub fn ed25519_keys(&self) -> &[VerifyingKey] {
        &self.ed25519
    }

    pub(crate) fn rsa_keys(&self) -> &[RsaKey] {
        &self.rsa
    }

    /// Whether an RSA key with this `kid` is in the set.
    pub fn has_rsa_kid(&self, kid: &str) -> bool {
        self.rsa.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.ed25519.len() + self.rsa.len()
    }

    /// True when the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn decode_url(value: &str) -> Option<Vec<u8>> {
    b64::URL_SAFE_LENIENT.decode(value).ok()
}

#[cfg(feature = "sign")]
fn encode_url(bytes: &[u8]) -> String {
    b64::URL_SAFE_LENIENT.encode(bytes)
}

/// The JWK of an Ed25519 public key, as Google publishes them.
#[cfg(feature = "sign")]
pub fn ed25519_jwk(key: &VerifyingKey, kid: Option<&str>) -> Value {
    let mut jwk = json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
                         "x": encode_url(key.as_bytes())});
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    jwk
}

/// The JWK of an RSA public key for RS256.
#[cfg(feature = "sign")]
pub fn rsa_jwk(key: &RsaPublicKey, kid: &str) -> Value {
    json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
           "n": encode_url(&key.n().to_bytes_be()), "e": encode_url(&key.e().to_bytes_be())})
}

/// A JWKS document holding `keys`.
#[cfg(feature = "sign")]
pub fn jwks_document(keys: impl IntoIterator<Item = Value>) -> Value {
    json!({"keys": keys.into_iter().collect::<Vec<_>>()})
}

#[cfg(all(test, feature = "sign"))]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use rand_core::OsRng;

    #[test]
    fn keeps_ed25519_keys_and_skips_unknown_types() {
        let key = SigningKey::generate(&mut OsRng).verifying_key();
        let doc = jwks_document([
            json!({"kty": "EC", "crv": "P-256", "x": "abc", "y": "def"}),
            ed25519_jwk(&key, None),
            json!({"kty": "OKP", "crv": "X25519", "x": encode_url(&[9; 32])}),
            json!({"kty": "OKP", "crv": "Ed25519", "use": "enc", "x": encode_url(key.as_bytes())}),
            json!("not even an object"),
        ]);
        let set = KeySet::from_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(set.ed25519_keys(), &[key]);
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn skips_invalid_key_material() {
        let doc = jwks_document([
            json!({"kty": "OKP", "crv": "Ed25519", "x": "too-short"}),
            json!({"kty": "OKP", "crv": "Ed25519"}),
            json!({"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"}),
        ]);
        let err = KeySet::from_jwks(doc.to_string().as_bytes()).unwrap_err();
        assert_eq!(err, JwksError::NoUsableKeys { skipped: 3 });
    }

    #[test]
    fn refuses_documents_that_are_not_a_jwks() {
        for doc in ["", "[]", "{}", r#"{"keys": 5}"#] {
            assert!(matches!(KeySet::from_jwks(doc.as_bytes()), Err(JwksError::NotJwks(_))), "{doc}");
        }
    }

    #[test]
    fn inline_configuration_reads_a_jwks_or_public_keys_in_every_text_form() {
        let one = SigningKey::generate(&mut OsRng).verifying_key();
        let two = SigningKey::generate(&mut OsRng).verifying_key();
        let jwks = jwks_document([ed25519_jwk(&one, None)]).to_string();
        assert_eq!(KeySet::from_inline(format!("  {jwks}").as_bytes()).unwrap().ed25519_keys(), &[one]);

        let mut spki = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        spki.extend_from_slice(two.as_bytes());
        let bare = base64::engine::general_purpose::STANDARD.encode(&spki);
        let list = format!("{},\n  {bare}\n", super::super::text::public_key_text(&one));
        assert_eq!(KeySet::from_inline(list.as_bytes()).unwrap().ed25519_keys(), &[one, two]);

        let bad = format!("{} whpk_AAAA", super::super::text::public_key_text(&one));
        assert!(matches!(
            KeySet::from_inline(bad.as_bytes()),
            Err(JwksError::NotAPublicKey { position: 2, .. })
        ));
        // The identity point: a weak key no honest signer has.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = format!("whpk_{}", base64::engine::general_purpose::STANDARD.encode(identity));
        assert!(matches!(
            KeySet::from_inline(weak.as_bytes()),
            Err(JwksError::NotAPublicKey { position: 1, .. })
        ));
        assert_eq!(KeySet::from_inline(b" \n"), Err(JwksError::NoUsableKeys { skipped: 0 }));
    }
}
