//! The receiver's configuration, read once at cold start from the environment.

use shared::aws::clients::Timeouts;
pub use shared::config::ConfigError;
use shared::config::{FromVars, Vars};
use shared::keys::GOOGLE_JWKS_URL;
pub use shared::limits::DEFAULT_MAX_BODY_BYTES;
use shared::limits::MAX_BODY_BYTES_CEILING;
use shared::signature::{DEFAULT_TOLERANCE_SECS, EndpointSecrets, Scheme, Schemes, SigningSecret, UrlToken};

/// The schemes accepted when `ACCEPTED_SCHEMES` is not set. JWT needs an audience (`JWT_AUDIENCE`), so
/// it is opt-in: with it in the default, every cold start without one would warn.
pub const DEFAULT_SCHEMES: Schemes = Schemes::NONE.with(Scheme::V1).with(Scheme::V1a);

/// Where the endpoint's secrets (the `v1` signing secrets and the URL token) come from.
#[derive(Debug, Clone)]
pub enum SecretsConfig {
    /// `WEBHOOK_SECRETS` (a whitespace-separated `whsec_` list) and `WEBHOOK_URL_TOKEN`, each optional:
    /// local use.
    Inline(EndpointSecrets),
    /// `WEBHOOK_SECRETS_ARN`: a Secrets Manager secret holding both (AWS), kept fresh.
    SecretsManager {
        /// The secret's ARN or name.
        arn: String,
    },
}

/// Where the keys for `v1a` and JWT signatures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysConfig {
    /// `JWKS_URL` (default Google's): fetched and cached.
    Url(String),
    /// `JWKS_JSON`: an inline JWKS document or `whpk_` public keys, never fetched.
    Inline(String),
}

/// Everything the receiver needs to know, parsed and checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// `v1` secrets.
    pub secrets: SecretsConfig,
    /// `v1a`/JWT keys.
    pub keys: KeysConfig,
    /// `TIMESTAMP_TOLERANCE_SECS` (default 300).
    pub tolerance_secs: u64,
    /// `MAX_BODY_BYTES` (default 256 KiB).
    pub max_body_bytes: usize,
    /// `ACCEPTED_SCHEMES` (default `v1,v1a`).
    pub schemes: Schemes,
    /// `JWT_AUDIENCE`: the `aud` a JWT must carry; JWTs are refused when unset.
    pub audience: Option<String>,
    /// `JWT_ISSUER`: the `iss` a JWT must carry; unchecked when unset (Google documents none).
    pub issuer: Option<String>,
    /// `JWT_TOKENS_TABLE`: where each verified JWT is held to its first delivery; required when JWT is
    /// accepted.
    pub jwt_tokens_table: Option<String>,
    /// `INGEST_QUEUE_URL`.
    pub ingest_queue_url: String,
    /// `QUARANTINE_QUEUE_URL`: where verified deliveries that cannot be enqueued are kept.
    pub quarantine_queue_url: String,
    /// `METRICS_NAMESPACE`.
    pub metrics_namespace: String,
    /// `AWS_ENDPOINT_URL`: a local emulator, for every AWS client.
    pub endpoint_url: Option<String>,
}

impl FromVars for Config {
    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let inline = [vars.optional("WEBHOOK_SECRETS"), vars.optional("WEBHOOK_URL_TOKEN")];
        let secrets = match (inline, vars.optional("WEBHOOK_SECRETS_ARN")) {
            ([list, token], None) => SecretsConfig::Inline(EndpointSecrets {
                signing: match list {
                    Some(list) => SigningSecret::parse_list(&list)
                        .map_err(|e| ConfigError::new("WEBHOOK_SECRETS", e))?,
                    None => Vec::new(),
                },
                url_token: token
                    .map(|t| UrlToken::parse(&t))
                    .transpose()
                    .map_err(|e| ConfigError::new("WEBHOOK_URL_TOKEN", e))?,
                ..EndpointSecrets::default()
            }),
            ([None, None], Some(arn)) => SecretsConfig::SecretsManager { arn },
            ([list, _], Some(_)) => {
                let variable = if list.is_some() { "WEBHOOK_SECRETS" } else { "WEBHOOK_URL_TOKEN" };
                return Err(ConfigError::new(
                    variable,
                    "set it or WEBHOOK_SECRETS_ARN (whose secret holds it), not both",
                ));
            }
        };
        let keys = match (vars.optional("JWKS_JSON"), vars.optional("JWKS_URL")) {
            (Some(json), _) => KeysConfig::Inline(json),
            (None, url) => KeysConfig::Url(url.unwrap_or_else(|| GOOGLE_JWKS_URL.to_owned())),
        };
        let schemes = vars.parsed("ACCEPTED_SCHEMES", DEFAULT_SCHEMES)?;
        if schemes.is_empty() {
            return Err(ConfigError::new("ACCEPTED_SCHEMES", "names no scheme"));
        }
        let jwt_tokens_table = vars.optional("JWT_TOKENS_TABLE");
        if schemes.contains(Scheme::Jwt) && jwt_tokens_table.is_none() {
            return Err(ConfigError::new(
                "JWT_TOKENS_TABLE",
                "ACCEPTED_SCHEMES includes jwt, whose tokens sign no body: name the table that holds each \
                 token to its first delivery (the template creates it), or leave jwt out",
            ));
        }
        let max_body_bytes = vars.parsed("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)?;
        if max_body_bytes > MAX_BODY_BYTES_CEILING {
            return Err(ConfigError::new(
                "MAX_BODY_BYTES",
                format!(
                    "{max_body_bytes} is over {MAX_BODY_BYTES_CEILING}, the most a quarantined body can \
                     take in one SQS message"
                ),
            ));
        }
        Ok(Self {
            secrets,
            keys,
            tolerance_secs: vars.parsed("TIMESTAMP_TOLERANCE_SECS", DEFAULT_TOLERANCE_SECS)?,
            max_body_bytes,
            schemes,
            audience: vars.optional("JWT_AUDIENCE"),
            issuer: vars.optional("JWT_ISSUER"),
            jwt_tokens_table,
            ingest_queue_url: vars.queue_url("INGEST_QUEUE_URL")?,
            quarantine_queue_url: vars.queue_url("QUARANTINE_QUEUE_URL")?,
            metrics_namespace: vars.metrics_namespace(),
            endpoint_url: vars.endpoint_url(),
        })
    }
}

/// The AWS SDK's timeouts: Gemini wants an answer within seconds, so a slow SQS must become a 503 it
/// will retry rather than a hung request.
pub const TIMEOUTS: Timeouts = Timeouts::RECEIVER;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const QUEUE: (&str, &str) = ("INGEST_QUEUE_URL", "http://127.0.0.1:1/000000000000/ingest");
    const QUARANTINE: (&str, &str) = ("QUARANTINE_QUEUE_URL", "http://127.0.0.1:1/000000000000/quarantine");

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut all = vec![QUARANTINE];
        all.extend_from_slice(vars);
        lookup(&all)
    }

    #[test]
    fn defaults_need_only_the_queues() {
        let config = config(&[QUEUE]).unwrap();
        assert!(
            matches!(&config.secrets, SecretsConfig::Inline(s) if s.signing.is_empty() && s.url_token.is_none())
        );
        assert_eq!(config.keys, KeysConfig::Url(GOOGLE_JWKS_URL.into()));
        assert_eq!(config.tolerance_secs, 300);
        assert_eq!(config.max_body_bytes, 256 * 1024);
        assert_eq!(config.schemes, "v1,v1a".parse().unwrap(), "JWT is opt-in: it needs an audience");
    }

    #[test]
    fn accepting_jwt_needs_the_table_that_holds_each_token_to_one_delivery() {
        let jwt = ("ACCEPTED_SCHEMES", "v1,jwt");
        assert_eq!(config(&[QUEUE, jwt]).unwrap_err().variable, "JWT_TOKENS_TABLE");
        let with = config(&[QUEUE, jwt, ("JWT_TOKENS_TABLE", "tokens")]).unwrap();
        assert_eq!(with.jwt_tokens_table.as_deref(), Some("tokens"));
        assert!(config(&[QUEUE]).unwrap().jwt_tokens_table.is_none(), "not without jwt");
    }

    #[test]
    fn a_missing_queue_is_named() {
        assert_eq!(config(&[]).unwrap_err().variable, "INGEST_QUEUE_URL");
        assert_eq!(lookup(&[QUEUE]).unwrap_err().variable, "QUARANTINE_QUEUE_URL");
    }

    #[test]
    fn a_body_limit_whose_quarantine_could_not_fit_sqs_is_refused() {
        let at_ceiling = MAX_BODY_BYTES_CEILING.to_string();
        assert_eq!(
            config(&[QUEUE, ("MAX_BODY_BYTES", &at_ceiling)]).unwrap().max_body_bytes,
            MAX_BODY_BYTES_CEILING
        );
        let over = (MAX_BODY_BYTES_CEILING + 1).to_string();
        assert_eq!(config(&[QUEUE, ("MAX_BODY_BYTES", &over)]).unwrap_err().variable, "MAX_BODY_BYTES");
    }

    #[test]
    fn a_bad_secret_is_named_by_variable_and_position_not_value() {
        let err =
            config(&[QUEUE, ("WEBHOOK_SECRETS", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_!!hunter2")])
                .unwrap_err();
        assert_eq!(err.variable, "WEBHOOK_SECRETS");
        let message = err.to_string();
        assert!(message.contains("#2"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn bad_numbers_and_schemes_are_named() {
        assert_eq!(config(&[QUEUE, ("MAX_BODY_BYTES", "lots")]).unwrap_err().variable, "MAX_BODY_BYTES");
        assert_eq!(
            config(&[QUEUE, ("TIMESTAMP_TOLERANCE_SECS", "-5")]).unwrap_err().variable,
            "TIMESTAMP_TOLERANCE_SECS"
        );
        assert_eq!(config(&[QUEUE, ("ACCEPTED_SCHEMES", "v1,v9")]).unwrap_err().variable, "ACCEPTED_SCHEMES");
        assert_eq!(config(&[QUEUE, ("ACCEPTED_SCHEMES", " , ")]).unwrap_err().variable, "ACCEPTED_SCHEMES");
    }

    #[test]
    fn both_secret_sources_at_once_are_refused() {
        let secret = ("WEBHOOK_SECRETS", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let err = config(&[QUEUE, secret, ("WEBHOOK_SECRETS_ARN", "arn:x")]).unwrap_err();
        assert_eq!(err.variable, "WEBHOOK_SECRETS");
        let token = ("WEBHOOK_URL_TOKEN", "tok_0123456789abcdefghijklmn");
        let err = config(&[QUEUE, token, ("WEBHOOK_SECRETS_ARN", "arn:x")]).unwrap_err();
        assert_eq!(err.variable, "WEBHOOK_URL_TOKEN");
    }

    #[test]
    fn a_weak_url_token_is_named_not_echoed() {
        let err = config(&[QUEUE, ("WEBHOOK_URL_TOKEN", "hunter2")]).unwrap_err();
        assert_eq!(err.variable, "WEBHOOK_URL_TOKEN");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn inline_keys_win_over_a_url() {
        let config = config(&[QUEUE, ("JWKS_JSON", r#"{"keys":[]}"#), ("JWKS_URL", "https://x")]).unwrap();
        assert_eq!(config.keys, KeysConfig::Inline(r#"{"keys":[]}"#.into()));
    }
}
