//! The documented JWT form: a compact RS256 token whose `kid` names a key in the JWKS.
//!
//! Only RS256 is accepted: `alg` is read to refuse everything else (`none`, `HS256` signed with the
//! public key as an HMAC secret, ...), never to choose an algorithm.

use base64::Engine as _;
use rsa::pkcs1v15::Signature;
use rsa::signature::Verifier as _;
use serde::Deserialize;
use serde_json::Value;

use super::b64;
use super::error::JwtError;
use crate::keys::KeySet;

/// Allowed clock skew for `exp` and `nbf`, as most JWT libraries default to.
pub(crate) const LEEWAY_SECS: i64 = 60;

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    aud: Option<Audience>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, expected: &str) -> bool {
        match self {
            Self::One(aud) => aud == expected,
            Self::Many(auds) => auds.iter().any(|aud| aud == expected),
        }
    }
}

/// Verifies `token` against the set's RSA keys, then its time and audience claims.
pub(super) fn verify(token: &str, keys: &KeySet, now: i64, audience: Option<&str>) -> Result<(), JwtError> {
    let mut parts = token.split('.');
    let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let header: Header = decode_json(header_b64)?;
    if header.alg != "RS256" {
        // Attacker-controlled: bounded by characters, never cut inside one.
        return Err(JwtError::AlgorithmNotAllowed(header.alg.chars().take(16).collect()));
    }
    if header.crit.is_some() {
        return Err(JwtError::CriticalExtension);
    }
    let signature = b64::URL_SAFE_LENIENT.decode(signature_b64).map_err(|_| JwtError::Malformed)?;
    let signature = Signature::try_from(signature.as_slice()).map_err(|_| JwtError::Malformed)?;
    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + claims_b64.len()];

    let mut candidates =
        keys.rsa_keys().iter().filter(|k| header.kid.is_none() || k.kid == header.kid).peekable();
    if candidates.peek().is_none() {
        return Err(JwtError::UnknownKeyId);
    }
    if !candidates.any(|k| k.key.verify(signing_input, &signature).is_ok()) {
        return Err(JwtError::BadSignature);
    }

    // Claims are read only once the signature holds.
    let claims: Claims = decode_json(claims_b64)?;
    let now = now as f64;
    if claims.exp.is_some_and(|exp| now >= exp + LEEWAY_SECS as f64) {
        return Err(JwtError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| now + (LEEWAY_SECS as f64) < nbf) {
        return Err(JwtError::NotYetValid);
    }
    if let Some(expected) = audience
        && !claims.aud.is_some_and(|aud| aud.contains(expected))
    {
        return Err(JwtError::AudienceMismatch);
    }
    Ok(())
}

fn decode_json<T: for<'de> Deserialize<'de>>(segment: &str) -> Result<T, JwtError> {
    let bytes = b64::URL_SAFE_LENIENT.decode(segment).map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}
