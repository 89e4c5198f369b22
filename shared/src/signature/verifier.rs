//! The verifier: built once from the endpoint's secrets and Google's keys, it checks each delivery in
//! the fixed order the module documentation gives.

use std::sync::Arc;

use http::HeaderMap;

use super::endpoint::EndpointSecrets;
use super::error::{JwtError, VerifyError};
use super::headers::{Entry, WebhookHeaders};
use super::secret::SigningSecret;
use sha2::Digest as _;

use super::{JwtSeen, Scheme, Schemes, UrlToken, Verified, jwt, v1, v1a};
use crate::clock::{Clock, SystemClock};
use crate::id::WebhookTimestamp;
use crate::keys::{JwksCache, KeySet};
use crate::refresh::Refreshing;

/// The endpoint's secrets, kept fresh (from Secrets Manager in AWS) or fixed (inline, locally).
pub type SecretsSource = Refreshing<EndpointSecrets>;

/// What the refresh engine calls the endpoint's secrets in errors and logs.
pub const SIGNING_SECRETS: &str = "signing secrets";

/// Default replay window, each way: what Gemini's guide and every Standard Webhooks library use.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// A verifier that cannot be built as configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// No scheme is left that this verifier could check: no secrets for `v1`, no key source for
    /// `v1a`/JWT (or no URL token to bind them to the endpoint), or none of those schemes accepted.
    #[error(
        "nothing to verify with: configure signing secrets (v1), or a key set and a URL token (v1a, jwt), for an accepted scheme"
    )]
    NothingToVerifyWith,
    /// Secrets given both inline and as a source.
    #[error("give the endpoint's secrets either inline or as a source, not both")]
    TwoSecretSources,
}

/// Builds a [`Verifier`]; see [`Verifier::builder`].
#[derive(Debug)]
pub struct VerifierBuilder {
    inline: EndpointSecrets,
    source: Option<Arc<SecretsSource>>,
    keys: Option<Arc<JwksCache>>,
    tolerance_secs: u64,
    schemes: Schemes,
    audience: Option<String>,
    issuer: Option<String>,
    dynamic_without_token: bool,
    clock: Arc<dyn Clock>,
}

impl VerifierBuilder {
    /// Adds a `v1` signing secret; call again (or use [`Self::secrets`]) for rotation overlaps.
    pub fn secret(mut self, secret: SigningSecret) -> Self {
        self.inline.signing.push(secret);
        self
    }

    /// Adds `v1` signing secrets.
    pub fn secrets(mut self, secrets: impl IntoIterator<Item = SigningSecret>) -> Self {
        self.inline.signing.extend(secrets);
        self
    }

    /// The token dynamic deliveries must carry in the URL (inline configuration).
    pub fn url_token(mut self, token: UrlToken) -> Self {
        self.inline.url_token = Some(token);
        self
    }

    /// The endpoint's secrets (signing secrets and URL token) from a source kept fresh, instead of
    /// inline: how a rotation takes effect without a restart.
    pub fn secrets_from(mut self, source: Arc<SecretsSource>) -> Self {
        self.source = Some(source);
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

    /// The `iss` a JWT must carry. Google documents none for webhooks, so none is checked by default.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Accepts dynamic deliveries without a URL token. Any Gemini customer can then have Google deliver
    /// genuine events of their own jobs to you: only for tests, and for callers that bind dynamic
    /// deliveries to themselves some other way.
    pub fn accept_dynamic_without_token(mut self) -> Self {
        self.dynamic_without_token = true;
        self
    }

    /// The clock for the replay window and JWT expiry (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the configuration and builds the verifier.
    pub fn build(self) -> Result<Verifier, BuildError> {
        let inline_given = !self.inline.signing.is_empty() || self.inline.url_token.is_some();
        if self.source.is_some() && inline_given {
            return Err(BuildError::TwoSecretSources);
        }
        let mut schemes = self.schemes;
        let secrets = match self.source {
            Some(source) => source,
            None => {
                // Fixed secrets: what they lack is known now.
                if self.inline.signing.is_empty() {
                    schemes = schemes.without(Scheme::V1);
                }
                if self.inline.url_token.is_none() && !self.dynamic_without_token {
                    schemes = schemes.without(Scheme::V1a).without(Scheme::Jwt);
                }
                Arc::new(Refreshing::fixed(SIGNING_SECRETS, self.inline, self.clock.clone()))
            }
        };
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
            secrets,
            keys: self.keys,
            tolerance_secs: self.tolerance_secs,
            schemes,
            audience: self.audience,
            issuer: self.issuer,
            dynamic_without_token: self.dynamic_without_token,
            clock: self.clock,
        })
    }
}

/// Verifies deliveries. Built once at start-up and shared by every request.
#[derive(Debug)]
pub struct Verifier {
    secrets: Arc<SecretsSource>,
    keys: Option<Arc<JwksCache>>,
    tolerance_secs: u64,
    /// The schemes this verifier can check (accepted and configured).
    schemes: Schemes,
    audience: Option<String>,
    issuer: Option<String>,
    dynamic_without_token: bool,
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
            inline: EndpointSecrets::default(),
            source: None,
            keys: None,
            tolerance_secs: DEFAULT_TOLERANCE_SECS,
            schemes: Schemes::ALL,
            audience: None,
            issuer: None,
            dynamic_without_token: false,
            clock: Arc::new(SystemClock),
        }
    }

    /// The schemes this verifier can check (accepted and configured).
    pub fn schemes(&self) -> Schemes {
        self.schemes
    }

    /// The endpoint's secrets, as this verifier sees them.
    pub fn secrets(&self) -> &Arc<SecretsSource> {
        &self.secrets
    }

    /// Verifies a delivery: the three headers (names in any case), the body bytes exactly as received,
    /// and the `token` query parameter of the URL it was posted to. Fetches secrets or keys only when
    /// an entry needs them and no fresh copy is cached.
    pub async fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        url_token: Option<&str>,
    ) -> Result<Verified, VerifyError> {
        let now = self.clock.unix_now();
        let parsed = self.precheck(headers, now)?;
        let (symmetric, asymmetric) = (parsed.has_symmetric(), parsed.has_asymmetric());
        if !symmetric && !asymmetric {
            return Err(no_entry(&parsed));
        }
        // A `v1` miss is final only once every other entry missed too; secrets that cannot be had
        // now make the whole answer "try again".
        let mut symmetric_miss = None;
        if symmetric {
            match self.verify_symmetric(&parsed, body).await {
                Ok(()) => return Ok(parsed.into_verified((Scheme::V1, None))),
                Err(error) => symmetric_miss = Some(error),
            }
        }
        let refusal = if asymmetric {
            match self.verify_dynamic(&parsed, body, now, url_token).await {
                Ok(scheme) => return Ok(parsed.into_verified(scheme)),
                Err(error) => error,
            }
        } else {
            symmetric_miss.take().unwrap_or(VerifyError::NoMatch)
        };
        Err(match (symmetric_miss, refusal) {
            (_, refusal @ (VerifyError::KeysUnavailable(_) | VerifyError::SecretsUnavailable(_))) => refusal,
            (Some(unavailable @ VerifyError::SecretsUnavailable(_)), _) => unavailable,
            (_, refusal) => refusal,
        })
    }

    /// Verifies against a given key set and the secrets last fetched, with no I/O at all: the pure core
    /// of [`Self::verify`], for callers that manage keys themselves and for benchmarks.
    pub fn verify_with_keys(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        url_token: Option<&str>,
        keys: Option<&KeySet>,
    ) -> Result<Verified, VerifyError> {
        let now = self.clock.unix_now();
        let parsed = self.precheck(headers, now)?;
        let secrets = self.secrets.cached().unwrap_or_default();
        if symmetric_matches(&secrets.signing, &parsed, body) {
            return Ok(parsed.into_verified((Scheme::V1, None)));
        }
        match keys {
            Some(keys) if parsed.has_asymmetric() => {
                self.check_url_token(&secrets, url_token)?;
                let scheme = self.verify_asymmetric(&parsed, body, now, keys).map_err(miss_error)?;
                Ok(parsed.into_verified(scheme))
            }
            _ => Err(no_entry(&parsed)),
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

    /// `v1` against the current secrets, and once more after a refetch: they may have rotated, or been
    /// written for the first time (`webhooks create`), so the first delivery after registration verifies.
    async fn verify_symmetric(&self, parsed: &WebhookHeaders<'_>, body: &[u8]) -> Result<(), VerifyError> {
        let current = self.secrets.current().await.map_err(VerifyError::SecretsUnavailable)?;
        if symmetric_matches(&current.signing, parsed, body) {
            return Ok(());
        }
        let fresh = self.secrets.refresh_after_miss().await;
        if fresh.as_ref().is_some_and(|fresh| symmetric_matches(&fresh.signing, parsed, body)) {
            return Ok(());
        }
        // Read fine, but nobody registered the endpoint: no genuine `v1` delivery can be expected, so
        // this is a refusal (Gemini retries any non-2xx all the same), not an outage.
        if fresh.as_ref().unwrap_or(&current).signing.is_empty() {
            return Err(VerifyError::NoSigningSecret);
        }
        Err(VerifyError::NoMatch)
    }

    /// `v1a` and JWT: the URL token first (retried once after a refetch, for a rotated token), then the
    /// keys (retried once after a refetch, for rotated keys).
    async fn verify_dynamic(
        &self,
        parsed: &WebhookHeaders<'_>,
        body: &[u8],
        now: i64,
        url_token: Option<&str>,
    ) -> Result<(Scheme, Option<JwtSeen>), VerifyError> {
        let Some(cache) = &self.keys else { return Err(no_entry(parsed)) };
        if !self.dynamic_without_token {
            let secrets = self.secrets.current().await.map_err(VerifyError::SecretsUnavailable)?;
            if let Err(mismatch) = self.check_url_token(&secrets, url_token) {
                let rotated = self.secrets.refresh_after_miss().await;
                match rotated {
                    Some(rotated) if self.check_url_token(&rotated, url_token).is_ok() => {}
                    _ => return Err(mismatch),
                }
            }
        }
        let keys = cache.current().await.map_err(VerifyError::KeysUnavailable)?;
        let miss = match self.verify_asymmetric(parsed, body, now, &keys) {
            Ok(scheme) => return Ok(scheme),
            Err(miss) => miss,
        };
        if miss.may_have_rotated
            && let Some(rotated) = cache.refresh_after_miss().await
        {
            return self.verify_asymmetric(parsed, body, now, &rotated).map_err(miss_error);
        }
        Err(miss_error(miss))
    }

    /// Whether the URL carries the endpoint's token. No token configured means dynamic deliveries are
    /// not accepted at all.
    fn check_url_token(&self, secrets: &EndpointSecrets, url_token: Option<&str>) -> Result<(), VerifyError> {
        if self.dynamic_without_token {
            return Ok(());
        }
        match &secrets.url_token {
            None => Err(VerifyError::NoUsableSignature),
            Some(token) if url_token.is_some_and(|candidate| token.matches(candidate)) => Ok(()),
            Some(_) => Err(VerifyError::DynamicTokenMismatch),
        }
    }

    fn verify_asymmetric(
        &self,
        parsed: &WebhookHeaders<'_>,
        body: &[u8],
        now: i64,
        keys: &KeySet,
    ) -> Result<(Scheme, Option<JwtSeen>), AsymmetricMiss> {
        let mut miss = AsymmetricMiss::default();
        let mut signed_content = None;
        let expected = jwt::Expected { audience: self.audience.as_deref(), issuer: self.issuer.as_deref() };
        for entry in parsed.entries() {
            match entry {
                Entry::V1(_) => {}
                Entry::V1a(signature) => {
                    let content = signed_content.get_or_insert_with(|| {
                        v1a::signed_content(parsed.id.as_str(), parsed.timestamp_raw, body)
                    });
                    if v1a::any_key_verifies(keys.ed25519_keys(), content, &signature) {
                        return Ok((Scheme::V1a, None));
                    }
                    miss.may_have_rotated = true;
                }
                Entry::Jwt(token) => match jwt::verify(token, keys, now, &expected) {
                    Ok(expires_at) => {
                        let sha256 = hex::encode(sha2::Sha256::digest(token.as_bytes()));
                        return Ok((Scheme::Jwt, Some(JwtSeen { sha256, expires_at })));
                    }
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

/// Whether a `v1` entry matches any of `secrets`.
fn symmetric_matches(secrets: &[SigningSecret], parsed: &WebhookHeaders<'_>, body: &[u8]) -> bool {
    let candidates = || {
        parsed.entries().filter_map(|e| match e {
            Entry::V1(mac) => Some(mac),
            _ => None,
        })
    };
    v1::any_matches(secrets, parsed.id.as_str(), parsed.timestamp_raw, body, candidates)
}

/// The error when no entry could be tried at all.
fn no_entry(parsed: &WebhookHeaders<'_>) -> VerifyError {
    if parsed.entries().next().is_some() { VerifyError::NoMatch } else { VerifyError::NoUsableSignature }
}

impl WebhookHeaders<'_> {
    fn into_verified(self, (scheme, jwt): (Scheme, Option<JwtSeen>)) -> Verified {
        Verified { webhook_id: self.id, timestamp: self.timestamp, scheme, jwt }
    }
}

fn miss_error(miss: AsymmetricMiss) -> VerifyError {
    miss.jwt.map_or(VerifyError::NoMatch, VerifyError::Jwt)
}
