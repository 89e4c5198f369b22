//! Signature verification for every scheme Gemini uses, over the exact bytes received.
//!
//! All schemes sign the same content, `webhook-id + "." + webhook-timestamp + "." + body`:
//! - `v1`: HMAC-SHA256 with a `whsec_` secret (static webhooks); several secrets cover a rotation.
//! - `v1a`: Ed25519 against Google's JWKS (dynamic webhooks, as observed live).
//! - JWT: a compact RS256 token with a `kid` (the documented dynamic form), accepted only with an
//!   audience to check. It authenticates the sender for this endpoint; Google documents no claim
//!   binding it to the body, which the README states plainly.
//!
//! The order of checks is fixed: headers are parsed and bounded, the timestamp window is checked, and
//! only then does any crypto run, cheapest scheme first.

pub(crate) mod b64;
mod error;
mod headers;
mod jwt;
mod scheme;
mod secret;
pub mod sign;
mod v1;
mod v1a;

use std::sync::Arc;

use http::HeaderMap;

pub use error::{JwtError, Rejection, VerifyError};
pub use headers::{
    MAX_SIGNATURE_ENTRIES, MAX_SIGNATURE_HEADER_LEN, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
pub use scheme::{Scheme, Schemes, UnknownScheme};
pub use secret::{SecretError, SecretListError, SigningSecret};

use crate::clock::{Clock, SystemClock};
use crate::id::{WebhookId, WebhookTimestamp};
use crate::keys::{JwksCache, KeySet};
use headers::{Entry, WebhookHeaders};

/// Default replay window, each way: what Gemini's guide and every Standard Webhooks library use.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// A delivery proven to come from the holder of a trusted key, within the replay window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The `webhook-id` header: the idempotency key.
    pub webhook_id: WebhookId,
    /// The `webhook-timestamp` header.
    pub timestamp: WebhookTimestamp,
    /// The scheme of the entry that verified.
    pub scheme: Scheme,
}

/// A verifier that cannot be built as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No scheme is left that this verifier could check: no secrets for `v1` and no key source for
    /// `v1a`/JWT, or none of those schemes accepted.
    #[error(
        "nothing to verify with: configure signing secrets (v1) or a key set (v1a, jwt) for an accepted scheme"
    )]
    NothingToVerifyWith,
}

/// Builds a [`Verifier`]; see [`Verifier::builder`].
#[derive(Debug)]
pub struct VerifierBuilder {
    secrets: Vec<SigningSecret>,
    keys: Option<Arc<JwksCache>>,
    tolerance_secs: u64,
    schemes: Schemes,
    audience: Option<String>,
    clock: Arc<dyn Clock>,
}

impl VerifierBuilder {
    /// Adds a `v1` signing secret; call again (or use [`Self::secrets`]) for rotation overlaps.
    pub fn secret(mut self, secret: SigningSecret) -> Self {
        self.secrets.push(secret);
        self
    }

    /// Adds `v1` signing secrets.
    pub fn secrets(mut self, secrets: impl IntoIterator<Item = SigningSecret>) -> Self {
        self.secrets.extend(secrets);
        self
    }

    /// The key source for `v1a` and JWT signatures.
    pub fn keys(mut self, keys: Arc<JwksCache>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Replay window in seconds, each way (default [`DEFAULT_TOLERANCE_SECS`]).
    pub fn tolerance_secs(mut self, secs: u64) -> Self {
        self.tolerance_secs = secs;
        self
    }

    /// Which schemes to accept (default all). Entries of other schemes are ignored.
    pub fn schemes(mut self, schemes: Schemes) -> Self {
        self.schemes = schemes;
        self
    }

    /// The audience a JWT's `aud` must contain (your endpoint's URL). Without one, JWT entries are not
    /// accepted at all: a token Google minted for another endpoint would verify just as well.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The clock for the replay window and JWT expiry (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the verifier.
    pub fn build(self) -> Result<Verifier, BuildError> {
        let accepted = self.schemes;
        let mut schemes = accepted;
        if self.secrets.is_empty() {
            schemes = schemes.without(Scheme::V1);
        }
        if self.keys.is_none() {
            schemes = schemes.without(Scheme::V1a).without(Scheme::Jwt);
        }
        // Google signs every JWT with the same keys, whoever the endpoint: only the audience tells a
        // token minted for this endpoint from one captured at another. No audience, no JWT.
        if self.audience.is_none() {
            schemes = schemes.without(Scheme::Jwt);
        }
        if schemes.is_empty() {
            return Err(BuildError::NothingToVerifyWith);
        }
        Ok(Verifier {
            secrets: self.secrets,
            keys: self.keys,
            tolerance_secs: self.tolerance_secs,
            accepted,
            schemes,
            audience: self.audience,
            clock: self.clock,
        })
    }
}

/// Verifies deliveries. Built once at start-up and shared by every request.
#[derive(Debug)]
pub struct Verifier {
    secrets: Vec<SigningSecret>,
    keys: Option<Arc<JwksCache>>,
    tolerance_secs: u64,
    /// The schemes configured; `schemes` is those of them this verifier has secrets or keys for.
    accepted: Schemes,
    schemes: Schemes,
    audience: Option<String>,
    clock: Arc<dyn Clock>,
}

/// Why the asymmetric entries did not verify.
#[derive(Debug, Default)]
struct AsymmetricMiss {
    /// A kid was unknown or no key verified: the key set may have rotated.
    may_have_rotated: bool,
    /// The most telling JWT refusal, when a JWT entry was present.
    jwt: Option<JwtError>,
}

impl Verifier {
    /// Starts a builder with the defaults: all schemes, 300 s tolerance, the system clock.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder {
            secrets: Vec::new(),
            keys: None,
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
            schemes: Schemes::ALL,
            audience: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The schemes this verifier can check (accepted and configured).
    pub fn schemes(&self) -> Schemes {
        self.schemes
    }

    /// A verifier like this one, sharing its key cache and clock, with other `v1` secrets: how a
    /// rotated secret takes effect without a restart.
    pub fn with_secrets(&self, secrets: Vec<SigningSecret>) -> Result<Verifier, BuildError> {
        let mut builder = Verifier::builder()
            .secrets(secrets)
            .tolerance_secs(self.tolerance_secs)
            .schemes(self.accepted)
            .clock(self.clock.clone());
        if let Some(keys) = &self.keys {
            builder = builder.keys(keys.clone());
        }
        if let Some(audience) = &self.audience {
            builder = builder.audience(audience.clone());
        }
        builder.build()
    }

    /// Verifies a delivery: the three headers (names in any case) and the body bytes exactly as
    /// received. Fetches the JWKS only when an asymmetric entry must be checked and no fresh key set
    /// is cached.
    pub async fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        let now = self.clock.unix_now();
        let parsed = self.precheck(headers, now)?;
        if self.verify_symmetric(&parsed, body) {
            return Ok(parsed.into_verified(Scheme::V1));
        }
        let Some(cache) = self.keys.as_ref().filter(|_| has_asymmetric(&parsed)) else {
            return Err(no_symmetric_match(&parsed));
        };
        let keys = cache.keys().await?;
        let miss = match self.verify_asymmetric(&parsed, body, now, &keys) {
            Ok(scheme) => return Ok(parsed.into_verified(scheme)),
            Err(miss) => miss,
        };
        if miss.may_have_rotated
            && let Some(rotated) = cache.refresh_after_miss().await
        {
            let scheme = self.verify_asymmetric(&parsed, body, now, &rotated).map_err(miss_error)?;
            return Ok(parsed.into_verified(scheme));
        }
        Err(miss_error(miss))
    }

    /// Verifies against a given key set with no I/O at all: the pure core of [`Self::verify`], for
    /// callers that manage keys themselves and for benchmarks.
    pub fn verify_with_keys(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        keys: Option<&KeySet>,
    ) -> Result<Verified, VerifyError> {
        let now = self.clock.unix_now();
        let parsed = self.precheck(headers, now)?;
        if self.verify_symmetric(&parsed, body) {
            return Ok(parsed.into_verified(Scheme::V1));
        }
        match keys {
            Some(keys) if has_asymmetric(&parsed) => {
                let scheme = self.verify_asymmetric(&parsed, body, now, keys).map_err(miss_error)?;
                Ok(parsed.into_verified(scheme))
            }
            _ => Err(no_symmetric_match(&parsed)),
        }
    }

    /// Header parsing and the replay window: everything that runs before any crypto.
    fn precheck<'h>(&self, headers: &'h HeaderMap, now: i64) -> Result<WebhookHeaders<'h>, VerifyError> {
        let parsed = WebhookHeaders::parse(headers, self.schemes)?;
        self.check_window(parsed.timestamp, now)?;
        Ok(parsed)
    }

    fn check_window(&self, timestamp: WebhookTimestamp, now: i64) -> Result<(), VerifyError> {
        let age = now.saturating_sub(timestamp.unix());
        let tolerance = i64::try_from(self.tolerance_secs).unwrap_or(i64::MAX);
        if age > tolerance {
            return Err(VerifyError::TimestampTooOld { age_secs: age, tolerance_secs: self.tolerance_secs });
        }
        if age < -tolerance {
            return Err(VerifyError::TimestampInFuture {
                ahead_secs: -age,
                tolerance_secs: self.tolerance_secs,
            });
        }
        Ok(())
    }

    fn verify_symmetric(&self, parsed: &WebhookHeaders<'_>, body: &[u8]) -> bool {
        let candidates = || {
            parsed.entries().filter_map(|e| match e {
                Entry::V1(mac) => Some(mac),
                _ => None,
            })
        };
        v1::any_matches(&self.secrets, parsed.id.as_str(), parsed.timestamp_raw, body, candidates)
    }

    fn verify_asymmetric(
        &self,
        parsed: &WebhookHeaders<'_>,
        body: &[u8],
        now: i64,
        keys: &KeySet,
    ) -> Result<Scheme, AsymmetricMiss> {
        let mut miss = AsymmetricMiss::default();
        let mut signed_content = None;
        for entry in parsed.entries() {
            match entry {
                Entry::V1(_) => {}
                Entry::V1a(signature) => {
                    let content = signed_content.get_or_insert_with(|| {
                        v1a::signed_content(parsed.id.as_str(), parsed.timestamp_raw, body)
                    });
                    if v1a::any_key_verifies(keys.ed25519_keys(), content, &signature) {
                        return Ok(Scheme::V1a);
                    }
                    miss.may_have_rotated = true;
                }
                Entry::Jwt(token) => match jwt::verify(token, keys, now, self.audience.as_deref()) {
                    Ok(()) => return Ok(Scheme::Jwt),
                    Err(error) => {
                        miss.may_have_rotated |=
                            matches!(error, JwtError::UnknownKeyId | JwtError::BadSignature);
                        miss.jwt.get_or_insert(error);
                    }
                },
            }
        }
        Err(miss)
    }
}

fn has_asymmetric(parsed: &WebhookHeaders<'_>) -> bool {
    parsed.entries().any(|e| matches!(e, Entry::V1a(_) | Entry::Jwt(_)))
}

/// The error when `v1` did not match and nothing else can be tried.
fn no_symmetric_match(parsed: &WebhookHeaders<'_>) -> VerifyError {
    if parsed.entries().next().is_some() { VerifyError::NoMatch } else { VerifyError::NoUsableSignature }
}

impl WebhookHeaders<'_> {
    fn into_verified(self, scheme: Scheme) -> Verified {
        Verified { webhook_id: self.id, timestamp: self.timestamp, scheme }
    }
}

fn miss_error(miss: AsymmetricMiss) -> VerifyError {
    miss.jwt.map_or(VerifyError::NoMatch, VerifyError::Jwt)
}
