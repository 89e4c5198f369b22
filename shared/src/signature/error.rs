//! Why a delivery was not verified, and what the receiver should answer for each reason.

use crate::refresh::Unavailable;

/// The three answers a verification failure can lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// The request itself is malformed: HTTP 400. Retrying the same request cannot succeed.
    Malformed,
    /// Not proven to come from Gemini, or outside the replay window: HTTP 401.
    Unauthenticated,
    /// Could not be checked now (no signing keys obtainable): HTTP 503, so Gemini retries later.
    Unavailable,
}

/// Why a JWT-form signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// Not three base64url segments holding a JSON header and claims.
    #[error("token is not a well-formed JWT")]
    Malformed,
    /// `alg` is not `RS256` (`none` and `HS*` are always refused).
    #[error("token algorithm {0:?} is not allowed; only RS256 is")]
    AlgorithmNotAllowed(String),
    /// The header marks an extension critical that this verifier does not implement.
    #[error("token has critical header extensions")]
    CriticalExtension,
    /// No RSA key in the key set has the token's `kid`.
    #[error("token key id is not in the key set")]
    UnknownKeyId,
    /// The RS256 signature does not verify under the selected key.
    #[error("token signature does not verify")]
    BadSignature,
    /// `exp` is in the past.
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token is not valid yet")]
    NotYetValid,
    /// `aud` does not hold the configured audience.
    #[error("token audience does not match")]
    AudienceMismatch,
    /// A claim every accepted token must carry is missing.
    #[error("token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// `exp - iat` is longer than a delivery needs: a long-lived token is a long replay window.
    #[error("token lifetime of {0} s is longer than the {max} s allowed", max = super::jwt::MAX_LIFETIME_SECS)]
    LifetimeTooLong(i64),
    /// `iat` is in the future.
    #[error("token is issued in the future")]
    IssuedInFuture,
    /// `iss` is not the configured issuer.
    #[error("token issuer does not match")]
    IssuerMismatch,
}

/// Why a delivery did not verify. Each variant maps to one [`Rejection`]; none carries secret
/// material, signatures or body bytes, so the message is safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A header is present but unusable (not ASCII, repeated, over its length limit, not an integer).
    #[error("{header} header {reason}")]
    InvalidHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The timestamp is further in the past than the tolerance.
    #[error("webhook-timestamp is {age_secs} s old, beyond the {tolerance_secs} s tolerance")]
    TimestampTooOld {
        /// How old the timestamp is.
        age_secs: i64,
        /// The configured tolerance.
        tolerance_secs: u64,
    },
    /// The timestamp is further in the future than the tolerance.
    #[error("webhook-timestamp is {ahead_secs} s ahead, beyond the {tolerance_secs} s tolerance")]
    TimestampInFuture {
        /// How far ahead the timestamp is.
        ahead_secs: i64,
        /// The configured tolerance.
        tolerance_secs: u64,
    },
    /// No entry of an accepted scheme was present in `webhook-signature`.
    #[error("webhook-signature holds no entry of an accepted scheme")]
    NoUsableSignature,
    /// Entries were present, but none verified.
    #[error("no signature matched")]
    NoMatch,
    /// A dynamic (`v1a` or JWT) delivery whose URL does not carry this endpoint's token: Google may
    /// have sent it, but for someone else's job.
    #[error("dynamic deliveries must carry this endpoint's token in the URL")]
    DynamicTokenMismatch,
    /// A `v1` delivery to an endpoint whose secret holds no signing secret: nobody has registered it
    /// with Gemini yet (or every secret was removed), so no genuine `v1` delivery can be expected.
    #[error(
        "this endpoint holds no signing secret yet: register it with Gemini (gemini-webhooks webhooks create)"
    )]
    NoSigningSecret,
    /// A JWT-form signature was refused and nothing else verified.
    #[error("JWT signature refused: {0}")]
    Jwt(JwtError),
    /// Asymmetric entries could not be checked: no trustworthy signing keys are obtainable right now.
    #[error(transparent)]
    KeysUnavailable(Unavailable),
    /// `v1` entries could not be checked: no signing secret is obtainable right now (or the endpoint
    /// is not registered with Gemini yet).
    #[error(transparent)]
    SecretsUnavailable(Unavailable),
}

impl VerifyError {
    /// The answer this failure calls for.
    pub fn rejection(&self) -> Rejection {
        match self {
            Self::MissingHeader(_) | Self::InvalidHeader { .. } => Rejection::Malformed,
            Self::TimestampTooOld { .. }
            | Self::TimestampInFuture { .. }
            | Self::NoUsableSignature
            | Self::NoMatch
            | Self::DynamicTokenMismatch
            | Self::NoSigningSecret
            | Self::Jwt(_) => Rejection::Unauthenticated,
            Self::KeysUnavailable(_) | Self::SecretsUnavailable(_) => Rejection::Unavailable,
        }
    }

    /// A stable, machine-readable code for response bodies, logs and metric dimensions.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::InvalidHeader { .. } => "invalid_header",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
            Self::TimestampInFuture { .. } => "timestamp_in_future",
            Self::NoUsableSignature => "no_usable_signature",
            Self::NoMatch => "signature_mismatch",
            Self::DynamicTokenMismatch => "dynamic_token_mismatch",
            Self::NoSigningSecret => "no_signing_secret",
            Self::Jwt(_) => "jwt_refused",
            Self::KeysUnavailable(_) => "signing_keys_unavailable",
            Self::SecretsUnavailable(_) => "signing_secrets_unavailable",
        }
    }
}
