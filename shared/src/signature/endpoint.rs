//! What an endpoint's secret holds: the `v1` signing secrets, and the URL token that binds dynamic
//! (`v1a`, JWT) deliveries to this endpoint.
//!
//! Dynamic deliveries are signed with Google's global keys: a valid signature proves Google sent the
//! delivery, not that the job was yours; anyone can start a job with `webhook_config.uris` set to your
//! URL. The token, a secret query parameter in the URL you give Gemini per job, is what makes a dynamic
//! delivery yours: without it (or with a wrong one) it is refused before any asymmetric crypto runs.
//!
//! A Secrets Manager value takes either shape:
//! - plain text: the `whsec_` secrets, separated by whitespace (no URL token);
//! - a JSON object, as the console's key/value editor writes it:
//!   `{"signing_secrets": "whsec_A whsec_B", "url_token": "..."}` (`signing_secrets` may also be a list;
//!   either key may be absent or empty; no other key is allowed, so a typo is an error, not a silent
//!   loss of verification). `owners` (`{"<webhook id>": ["<fingerprint>", ...]}`), written by the CLI,
//!   says which webhook each signing secret belongs to, by [`SigningSecret::fingerprint`], so that
//!   pruning or revoking one webhook's secrets never removes another's; the receiver ignores it.
//!
//! [`EndpointSecrets::to_secret_string`] is the one writer of this format, beside its parser.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use rand_core::{OsRng, RngCore};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::b64;
use super::secret::{SecretListError, SigningSecret};

/// The endpoint's secrets, as held in its Secrets Manager secret (or given inline, locally).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointSecrets {
    /// The `v1` signing secrets: several during a rotation's overlap, none before the endpoint is
    /// registered with Gemini.
    pub signing: Vec<SigningSecret>,
    /// The token dynamic deliveries must carry in the URL's `token` query parameter.
    pub url_token: Option<UrlToken>,
    /// Which webhook each signing secret belongs to: webhook id by [`SigningSecret::fingerprint`].
    /// A secret with no entry was stored by hand, or before owners were recorded.
    pub owners: BTreeMap<String, String>,
}

/// A secret value that cannot be used. Names what is wrong, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretValueError {
    /// It starts like JSON but is not a JSON object of strings.
    #[error("the value looks like JSON but is not an object of the expected shape: {0}")]
    NotAnObject(String),
    /// A signing secret is not a usable `whsec_` secret.
    #[error("signing_secrets: {0}")]
    Signing(#[from] SecretListError),
    /// The URL token is not usable.
    #[error("url_token: {0}")]
    Token(#[from] TokenError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonShape {
    #[serde(default)]
    signing_secrets: Option<SigningList>,
    #[serde(default)]
    url_token: Option<String>,
    /// Fingerprints by webhook id.
    #[serde(default)]
    owners: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SigningList {
    Text(String),
    List(Vec<String>),
}

impl EndpointSecrets {
    /// The secrets of an endpoint, no owner recorded (an endpoint made by hand, or locally).
    pub fn new(signing: Vec<SigningSecret>, url_token: Option<UrlToken>) -> Self {
        Self { signing, url_token, owners: BTreeMap::new() }
    }

    /// Parses a secret value in either shape (see the module documentation).
    pub fn parse(value: &str) -> Result<Self, SecretValueError> {
        let trimmed = value.trim();
        if !trimmed.starts_with('{') {
            let signing = SigningSecret::parse_list(trimmed)?;
            return Ok(Self { signing, url_token: None, owners: BTreeMap::new() });
        }
        // serde_json's message names the field and position, never the value.
        let shape: JsonShape =
            serde_json::from_str(trimmed).map_err(|e| SecretValueError::NotAnObject(redacted(&e)))?;
        let signing = match shape.signing_secrets {
            None => Vec::new(),
            Some(SigningList::Text(text)) => SigningSecret::parse_list(&text)?,
            Some(SigningList::List(items)) => SigningSecret::parse_list(&items.join(" "))?,
        };
        let url_token = shape
            .url_token
            .filter(|t| !t.trim().is_empty())
            .map(|t| UrlToken::parse(t.trim()))
            .transpose()?;
        let owners = shape
            .owners
            .into_iter()
            .flat_map(|(webhook, prints)| prints.into_iter().map(move |print| (print, webhook.clone())))
            .collect();
        Ok(Self { signing, url_token, owners })
    }

    /// The value as stored: the JSON form, with `owners` when any is recorded. The one writer of the
    /// format [`EndpointSecrets::parse`] reads (a test holds the two together). It holds every secret:
    /// write it to the secret and nowhere else.
    pub fn to_secret_string(&self) -> String {
        let signing: Vec<String> = self.signing.iter().map(SigningSecret::expose_whsec).collect();
        let mut value = serde_json::json!({"signing_secrets": signing.join(" ")});
        if let Some(token) = &self.url_token {
            value["url_token"] = token.expose().into();
        }
        let mut owners: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for secret in &self.signing {
            if let Some((print, webhook)) = self.owners.get_key_value(&secret.fingerprint()) {
                owners.entry(webhook).or_default().push(print);
            }
        }
        if !owners.is_empty() {
            value["owners"] = serde_json::json!(owners);
        }
        value.to_string()
    }

    /// The webhook `secret` belongs to, when recorded.
    pub fn owner(&self, secret: &SigningSecret) -> Option<&str> {
        self.owners.get(&secret.fingerprint()).map(String::as_str)
    }

    /// Adds `secret` for `webhook`, first (newest first); a secret already held only gains its owner.
    pub fn add(&mut self, secret: SigningSecret, webhook: &str) {
        self.owners.insert(secret.fingerprint(), webhook.to_owned());
        self.signing.retain(|held| *held != secret);
        self.signing.insert(0, secret);
    }

    /// Removes `secret`, and what it records of its owner.
    pub fn remove(&mut self, secret: &SigningSecret) {
        self.owners.remove(&secret.fingerprint());
        self.signing.retain(|held| held != secret);
    }
}

/// serde_json's error without anything it may quote from the input (an invalid type error quotes the
/// value).
fn redacted(error: &serde_json::Error) -> String {
    match error.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            format!("invalid JSON at line {} column {}", error.line(), error.column())
        }
        _ => {
            let text = error.to_string();
            // "unknown field `x`, expected ..." names a key: keys are not secret. Anything else may quote a value.
            if text.starts_with("unknown field") { text } else { "a field has the wrong type".into() }
        }
    }
}

/// The token a dynamic delivery's URL must carry. `Debug` shows nothing of it; comparison is constant
/// time and does not reveal the length.
#[derive(Clone)]
pub struct UrlToken(String);

/// Why a URL token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Fewer than [`UrlToken::MIN_LEN`] characters: under 128 bits even if every character is random.
    #[error("the token is shorter than {} characters (at least 128 bits of randomness)", UrlToken::MIN_LEN)]
    TooShort,
    /// Longer than [`UrlToken::MAX_LEN`].
    #[error("the token is longer than {} characters", UrlToken::MAX_LEN)]
    TooLong,
    /// A character outside letters, digits, `-` and `_` (what a URL carries unescaped).
    #[error("the token may hold only letters, digits, '-' and '_'")]
    BadCharacter,
}

impl UrlToken {
    /// Shortest token accepted: 22 letters and digits carry 131 bits.
    pub const MIN_LEN: usize = 22;
    /// Longest token accepted.
    pub const MAX_LEN: usize = 256;

    /// Checks a configured token.
    pub fn parse(raw: &str) -> Result<Self, TokenError> {
        if raw.len() < Self::MIN_LEN {
            return Err(TokenError::TooShort);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(TokenError::TooLong);
        }
        if !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(TokenError::BadCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The dynamic webhook's URL: the receiver's `url` with this token as its `token` query parameter
    /// (what a job's `webhook_config.uris` names). It holds the token: handle it as a secret.
    pub fn in_url(&self, url: &str) -> String {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}token={}", self.0)
    }

    /// A new token: 32 random bytes, base64url (43 characters, 256 bits).
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        Self(b64::URL_SAFE_LENIENT.encode(bytes))
    }

    /// Whether `candidate` (the request's `token` query parameter) is this token.
    pub fn matches(&self, candidate: &str) -> bool {
        Sha256::digest(self.0.as_bytes()).ct_eq(&Sha256::digest(candidate.as_bytes())).into()
    }

    /// The token itself, for the URL given to Gemini. Handle it as a secret.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl PartialEq for UrlToken {
    fn eq(&self, other: &Self) -> bool {
        self.matches(&other.0)
    }
}

impl Eq for UrlToken {}

impl fmt::Debug for UrlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UrlToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const B: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const TOKEN: &str = "k3Jq9vWn2XyZ8aBcDeFgHiJkLm";

    #[test]
    fn reads_plain_text_and_both_json_shapes() {
        let plain = EndpointSecrets::parse(&format!("  {A}\n{B} ")).unwrap();
        assert_eq!((plain.signing.len(), plain.url_token), (2, None));
        let console =
            EndpointSecrets::parse(&format!(r#"{{"signing_secrets":"{A} {B}","url_token":"{TOKEN}"}}"#))
                .unwrap();
        assert_eq!(console.signing, plain.signing);
        assert!(console.url_token.unwrap().matches(TOKEN));
        let listed = EndpointSecrets::parse(&format!(r#"{{"signing_secrets":["{A}"]}}"#)).unwrap();
        assert_eq!((listed.signing.len(), listed.url_token), (1, None));
        let unregistered =
            EndpointSecrets::parse(&format!(r#"{{"signing_secrets":"","url_token":"{TOKEN}"}}"#)).unwrap();
        assert!(unregistered.signing.is_empty() && unregistered.url_token.is_some());
        assert_eq!(EndpointSecrets::parse("").unwrap(), EndpointSecrets::default());
    }

    #[test]
    fn the_writer_writes_what_the_parser_reads_owners_included() {
        let (a, b, c) = (SigningSecret::generate(), SigningSecret::generate(), SigningSecret::generate());
        let mut secrets = EndpointSecrets::parse(&format!(
            r#"{{"signing_secrets":"{}","url_token":"{TOKEN}"}}"#,
            c.expose_whsec()
        ))
        .unwrap();
        assert_eq!(secrets.owner(&c), None, "stored by hand: no owner");
        secrets.add(a.clone(), "hook-one");
        secrets.add(b.clone(), "hook-two");
        let read = EndpointSecrets::parse(&secrets.to_secret_string()).unwrap();
        assert_eq!(read, secrets);
        assert_eq!(read.signing, [b.clone(), a.clone(), c.clone()], "newest first");
        assert_eq!(
            (read.owner(&a), read.owner(&b), read.owner(&c)),
            (Some("hook-one"), Some("hook-two"), None)
        );
        let mut pruned = read.clone();
        pruned.remove(&a);
        let read = EndpointSecrets::parse(&pruned.to_secret_string()).unwrap();
        assert_eq!((read.signing.len(), read.owner(&a), read.owner(&b)), (2, None, Some("hook-two")));
        let value: serde_json::Value = serde_json::from_str(&pruned.to_secret_string()).unwrap();
        assert_eq!(value["owners"], serde_json::json!({"hook-two": [b.fingerprint()]}));
        assert_eq!(
            EndpointSecrets::parse(&EndpointSecrets::default().to_secret_string()).unwrap(),
            EndpointSecrets::default()
        );
    }

    #[test]
    fn errors_name_the_problem_never_a_value() {
        let typo = EndpointSecrets::parse(r#"{"signing_secret":"whsec_hunter2hunter2hunter2"}"#).unwrap_err();
        assert!(typo.to_string().contains("unknown field `signing_secret`"), "{typo}");
        assert!(!typo.to_string().contains("hunter2"));
        let wrong_type = EndpointSecrets::parse(r#"{"url_token": 12345678901234567890123}"#).unwrap_err();
        assert!(!wrong_type.to_string().contains("1234567890"), "{wrong_type}");
        let short = EndpointSecrets::parse(r#"{"url_token":"tooshort"}"#).unwrap_err();
        assert_eq!(short, SecretValueError::Token(TokenError::TooShort));
    }

    #[test]
    fn tokens_are_long_url_safe_and_compared_whole() {
        let token = UrlToken::generate();
        assert_eq!(token.expose().len(), 43);
        assert_eq!(UrlToken::parse(token.expose()).unwrap(), token);
        assert!(token.matches(token.expose()));
        assert!(!token.matches(&token.expose()[..42]));
        assert!(!token.matches(""));
        assert_eq!(UrlToken::parse("a b c d e f g h i j k l"), Err(TokenError::BadCharacter));
        assert_eq!(format!("{token:?}"), "UrlToken(<redacted>)");
    }
}
