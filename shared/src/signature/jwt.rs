//! The documented JWT form: a compact RS256 token whose `kid` names a key in the JWKS.
//!
//! Only RS256 is accepted: `alg` is read to refuse everything else (`none`, `HS256` signed with the
//! public key as an HMAC secret, ...), never to choose an algorithm.
//!
//! What an accepted token proves, and what it does not: Google (the holder of a JWKS key) minted it for
//! this audience (your URL), within its lifetime, which must be stated (`iat` and `exp`) and at most
//! ten minutes. Google documents no claim binding it to the body, the `webhook-id` or the timestamp, so
//! within its lifetime a captured token verifies with any body: the URL token (which the capturer must
//! also have) and the short lifetime are what bound that.

use base64::Engine as _;
use rsa::pkcs1v15::Signature;
use rsa::signature::Verifier as _;
use serde::Deserialize;
use serde_json::Value;

use super::b64;
use super::error::JwtError;
use crate::keys::KeySet;

/// Allowed clock skew for `exp`, `nbf` and `iat`, as most JWT libraries default to.
pub(crate) const LEEWAY_SECS: i64 = 60;

/// Longest lifetime (`exp - iat`) accepted: a delivery is sent within seconds of the token's minting.
pub const MAX_LIFETIME_SECS: i64 = 600;

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
    iat: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    iss: Option<String>,
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

/// What a token must claim besides a good signature.
pub(super) struct Expected<'a> {
    /// The `aud` it must hold.
    pub(super) audience: Option<&'a str>,
    /// The `iss` it must carry, when one is configured.
    pub(super) issuer: Option<&'a str>,
}

/// Verifies `token` against the set's RSA keys, then its time, audience and issuer claims; returns its
/// `exp`.
pub(super) fn verify(token: &str, keys: &KeySet, now: i64, expected: &Expected<'_>) -> Result<i64, JwtError> {
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
    let exp = claims.exp.ok_or(JwtError::MissingClaim("exp"))?;
    let iat = claims.iat.ok_or(JwtError::MissingClaim("iat"))?;
    let lifetime = exp - iat;
    if lifetime > MAX_LIFETIME_SECS as f64 {
        return Err(JwtError::LifetimeTooLong(lifetime as i64));
    }
    let now = now as f64;
    let leeway = LEEWAY_SECS as f64;
    if now >= exp + leeway {
        return Err(JwtError::Expired);
    }
    if iat > now + leeway {
        return Err(JwtError::IssuedInFuture);
    }
    if claims.nbf.is_some_and(|nbf| now + leeway < nbf) {
        return Err(JwtError::NotYetValid);
    }
    if let Some(audience) = expected.audience
        && !claims.aud.is_some_and(|aud| aud.contains(audience))
    {
        return Err(JwtError::AudienceMismatch);
    }
    if let Some(issuer) = expected.issuer
        && claims.iss.as_deref() != Some(issuer)
    {
        return Err(JwtError::IssuerMismatch);
    }
    Ok(exp as i64)
}

fn decode_json<T: for<'de> Deserialize<'de>>(segment: &str) -> Result<T, JwtError> {
    let bytes = b64::URL_SAFE_LENIENT.decode(segment).map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}
