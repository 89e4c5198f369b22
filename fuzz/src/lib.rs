//! What the fuzz targets share: fixed key material and the verifier it configures, the text form of a
//! delivery that the `verify` and `signature_headers` corpora are written in, and a check, independent
//! of the verifier, that a delivery really carries a signature one of those keys made.
//!
//! Everything is fixed (constant secrets and seeds, a committed fuzz-only RSA key), so a crash
//! reproduces from its input alone.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderName, HeaderValue};
use rsa::pkcs1v15;
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};
use serde_json::{Value, json};
use sha2::Sha256;
use shared::clock::ManualClock;
use shared::keys::{JwksCache, KeySet, jwks_document, rsa_jwk};
use shared::signature::sign::{Ed25519Signer, v1_entry};
use shared::signature::{
    DEFAULT_TOLERANCE_SECS, Scheme, SigningSecret, VerifyError, WEBHOOK_ID, WEBHOOK_SIGNATURE,
    WEBHOOK_TIMESTAMP,
};
use shared::{Event, Verified, Verifier, WebhookId, WebhookTimestamp};

/// The audience the verifier requires of a JWT.
pub const AUDIENCE: &str = "https://hooks.example.com/gemini";
/// The `kid` of the fixture's RSA key in its JWKS.
pub const RSA_KID: &str = "fuzz-rsa-1";
/// The `v1` secrets: the two Standard Webhooks test-vector secrets and the demo secret of
/// `cli/src/sample_events.rs`, so real signed deliveries verify as seeds; three, as in a rotation.
pub const SECRETS: [&str; 3] = [
    "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "whsec_ZGVtby1vbmx5LXNlY3JldC1kby1ub3QtdXNlIQ==",
];
/// Seeds of the two Ed25519 keys in the JWKS (two, as across a key rotation).
pub const ED25519_SEEDS: [[u8; 32]; 2] = [[0x11; 32], [0x22; 32]];
/// A 2048-bit RSA key made for fuzzing alone (PKCS#8 DER); it signs nothing anywhere else.
static RSA_PKCS8_DER: &[u8] = include_bytes!("../keys/rsa-2048.pk8.der");
/// The clock when a delivery's `webhook-timestamp` does not parse.
pub const BASE_NOW: i64 = 1_769_083_200;
/// Longest verifier error message accepted: they are logged, so an attacker must not grow them.
pub const MAX_ERROR_MESSAGE_LEN: usize = 256;

/// The verifier and the keys behind it.
pub struct Fixture {
    /// The verifier's clock, set per input.
    pub clock: Arc<ManualClock>,
    /// Every scheme accepted: the three secrets, the JWKS below, and [`AUDIENCE`].
    pub verifier: Verifier,
    /// The JWKS: both Ed25519 public keys and the RSA public key under [`RSA_KID`].
    pub keys: KeySet,
    /// The parsed [`SECRETS`].
    pub secrets: Vec<SigningSecret>,
    /// The Ed25519 signers of [`ED25519_SEEDS`].
    pub ed25519: Vec<Ed25519Signer>,
    /// The RS256 signer; sign through [`Self::rsa_sign`].
    rsa: pkcs1v15::SigningKey<Sha256>,
    /// RS256 signatures made so far, by signing input: an instrumented RSA signature costs tens of
    /// milliseconds, and the fuzzer mostly mutates what a token does not cover.
    rsa_signatures: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
    /// The JWKS document, as served.
    pub jwks: Vec<u8>,
}

/// The one fixture, built on first use.
pub static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let clock = Arc::new(ManualClock::at(BASE_NOW));
    let secrets: Vec<SigningSecret> =
        SECRETS.iter().map(|s| SigningSecret::parse(s).expect("fixture secret")).collect();
    let ed25519: Vec<Ed25519Signer> = ED25519_SEEDS.iter().map(Ed25519Signer::from_seed).collect();
    let private = rsa::RsaPrivateKey::from_pkcs8_der(RSA_PKCS8_DER).expect("fixture RSA key");
    let jwks = jwks_document([
        ed25519[0].public_jwk(Some("fuzz-ed25519-1")),
        ed25519[1].public_jwk(None),
        rsa_jwk(&private.to_public_key(), RSA_KID),
    ])
    .to_string()
    .into_bytes();
    let keys = KeySet::from_jwks(&jwks).expect("fixture JWKS");
    let cache = JwksCache::inline(&jwks, clock.clone()).expect("fixture JWKS");
    let verifier = Verifier::builder()
        .secrets(secrets.clone())
        .keys(Arc::new(cache))
        .audience(AUDIENCE)
        // The URL token is not a header: what is fuzzed here is everything the headers carry.
        .accept_dynamic_without_token()
        .clock(clock.clone())
        .build()
        .expect("fixture verifier");
    let rsa = pkcs1v15::SigningKey::new(private);
    Fixture { clock, verifier, keys, secrets, ed25519, rsa, rsa_signatures: Mutex::default(), jwks }
});

impl Fixture {
    /// Verifies with the fixture's keys, purely (no JWKS fetch).
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        self.verifier.verify_with_keys(headers, body, None, Some(&self.keys))
    }

    /// Sets the clock `offset` seconds after the delivery's timestamp (or [`BASE_NOW`] when there is
    /// no single parseable one), so the fuzzer reaches past the replay window at will. Returns the
    /// time set, kept within ±2^62 s: a clock, unlike a header, is not the sender's to choose.
    pub fn set_clock(&self, headers: &HeaderMap, offset: i64) -> i64 {
        let base = single_str(headers, WEBHOOK_TIMESTAMP)
            .and_then(|raw| WebhookTimestamp::parse(raw).ok())
            .map_or(BASE_NOW, WebhookTimestamp::unix);
        let now = base.saturating_add(offset).clamp(-(1 << 62), 1 << 62);
        self.clock.set(now);
        now
    }

    /// A compact RS256 JWT over `header` and `claims`, signed with the fixture's RSA key.
    pub fn jwt(&self, header: &Value, claims: &Value) -> String {
        shared::signature::sign::encode_jwt(header, claims, |input| self.rsa_sign(input))
    }

    /// The RS256 signature of `input` (PKCS#1 v1.5 is deterministic: there is only one).
    pub fn rsa_sign(&self, input: &[u8]) -> Vec<u8> {
        let mut signatures = self.rsa_signatures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if signatures.len() >= 4096 {
            signatures.clear();
        }
        signatures.entry(input.to_vec()).or_insert_with(|| self.rsa.sign(input).to_vec()).clone()
    }

    /// The header of the JWTs the fixture issues.
    pub fn jwt_header(&self) -> Value {
        json!({"alg": "RS256", "typ": "JWT", "kid": RSA_KID})
    }

    /// Claims valid at `now` for [`AUDIENCE`].
    pub fn jwt_claims(&self, now: i64) -> Value {
        json!({"iss": "https://accounts.google.com", "aud": AUDIENCE, "iat": now, "exp": now + 300})
    }

    /// Whether `headers` carry, for `body`, an entry of `scheme` that the fixture's keys really made:
    /// recomputed here from the keys, not with the verifier, so the two can be compared. The fuzzer
    /// cannot forge one; it can only replay one from a seed or from the harness's own signing.
    pub fn genuinely_signed(&self, headers: &HeaderMap, body: &[u8], scheme: Scheme) -> bool {
        let (Some(id), Some(timestamp)) =
            (single_str(headers, WEBHOOK_ID), single_str(headers, WEBHOOK_TIMESTAMP))
        else {
            return false;
        };
        // Every `version,signature` pair and every bare token, however the entries were joined
        // (whitespace, `, ` from a Function URL, a bare `,` from a proxy): no signature holds a comma,
        // so the header read as tokens between whitespace and commas holds each entry as two neighbours.
        let tokens: Vec<&str> = headers
            .get_all(WEBHOOK_SIGNATURE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(|c: char| c == ',' || c.is_ascii_whitespace()))
            .filter(|token| !token.is_empty())
            .collect();
        let mut entries = tokens.windows(2).map(|pair| format!("{},{}", pair[0], pair[1]));
        // Padding is optional on the wire; the unpadded forms are canonical.
        let unpadded = |entry: &str| entry.trim_end_matches('=').to_owned();
        match scheme {
            Scheme::V1 => {
                let expected: Vec<String> =
                    self.secrets.iter().map(|s| unpadded(&v1_entry(s, id, timestamp, body))).collect();
                entries.any(|entry| expected.contains(&unpadded(&entry)))
            }
            Scheme::V1a => {
                let expected: Vec<String> =
                    self.ed25519.iter().map(|k| unpadded(&k.entry(id, timestamp, body))).collect();
                entries.any(|entry| expected.contains(&unpadded(&entry)))
            }
            // A JWT may come bare or after a `version,` prefix: either way it is one token.
            Scheme::Jwt => tokens.iter().any(|token| {
                let Some((input, signature)) = token.rsplit_once('.') else { return false };
                URL_SAFE_NO_PAD.encode(self.rsa_sign(input.as_bytes())) == signature.trim_end_matches('=')
            }),
            // Read from the API, never delivered: no delivery can carry it.
            Scheme::Reconciled => false,
        }
    }

    /// What must hold of any verdict: a delivery verifies only if it really carries a signature of
    /// the scheme reported, for the id and timestamp reported, within the replay window; a refusal's
    /// message is short and never echoes a signature.
    pub fn check_verdict(&self, headers: &HeaderMap, body: &[u8], verdict: &Result<Verified, VerifyError>) {
        match verdict {
            Ok(verified) => {
                assert!(
                    self.genuinely_signed(headers, body, verified.scheme),
                    "verified as {} without a genuine {0} signature: {verified:?}",
                    verified.scheme
                );
                assert_eq!(single_str(headers, WEBHOOK_ID), Some(verified.webhook_id.as_str()));
                let timestamp =
                    single_str(headers, WEBHOOK_TIMESTAMP).and_then(|t| WebhookTimestamp::parse(t).ok());
                assert_eq!(timestamp, Some(verified.timestamp));
                let age = shared::clock::Clock::unix_now(&*self.clock) - verified.timestamp.unix();
                assert!(age.unsigned_abs() <= DEFAULT_TOLERANCE_SECS, "verified {age} s off");
            }
            Err(error) => {
                let message = error.to_string();
                assert!(message.len() <= MAX_ERROR_MESSAGE_LEN, "error message of {} bytes", message.len());
                assert!(!error.code().is_empty());
                let _ = error.rejection();
                for value in headers.get_all(WEBHOOK_SIGNATURE) {
                    for entry in value.to_str().unwrap_or_default().split_ascii_whitespace() {
                        let signature = entry.split_once(',').map_or(entry, |(_, value)| value);
                        assert!(
                            signature.len() < 20 || !message.contains(signature),
                            "error message echoes a signature: {message}"
                        );
                    }
                }
            }
        }
    }
}

/// What must hold of any event that parsed: a type, accessors that never fail, and a round trip
/// through its JSON that changes nothing.
pub fn check_event(event: &Event) {
    assert!(!event.event_type().is_empty());
    let _ = (event.kind(), event.kind().is_failure(), event.version(), event.timestamp(), event.data_id());
    let _ = (event.output_uri(), event.file_name(), event.error_message(), event.user_metadata());
    if let Some(code) = event.error_code() {
        let _ = code.to_string();
    }
    let json = serde_json::to_vec(event).expect("an event serialises");
    assert_eq!(Event::parse(&json).as_ref(), Ok(event), "event changed in a round trip");
}

/// `shared::id`'s promise: both types are built only through `parse`, so a value has passed the same
/// bounds checks wherever it came from (a header, a queue message, a table item).
pub fn check_id_and_timestamp(id: &WebhookId, timestamp: WebhookTimestamp) {
    assert_eq!(WebhookId::parse(id.as_str()).as_ref(), Ok(id));
    assert_eq!(
        WebhookTimestamp::parse(&timestamp.to_string()),
        Ok(timestamp),
        "a message carried a timestamp no header could"
    );
}

/// The value of a header that appears exactly once, as UTF-8.
pub fn single_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    std::str::from_utf8(value.as_bytes()).ok()
}

/// A delivery in text form: `name: value` header lines up to the first empty line, then the body,
/// byte for byte. Lines named `x-fuzz-*` are directives to the harness, not headers:
///
/// ```text
/// webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
/// webhook-timestamp: 1614265330
/// webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
/// x-fuzz-now: 12
///
/// {"test": 2432232314}
/// ```
#[derive(Debug, Default)]
pub struct Delivery<'a> {
    /// Header lines in order, name and value as bytes (the value without leading blanks).
    pub headers: Vec<(&'a [u8], &'a [u8])>,
    /// `x-fuzz-*` lines, by the name after `x-fuzz-`, lowercased.
    pub directives: Vec<(String, &'a [u8])>,
    /// Everything after the first empty line.
    pub body: &'a [u8],
}

impl<'a> Delivery<'a> {
    /// Reads the text form; never fails (lines without a colon are skipped).
    pub fn parse(data: &'a [u8]) -> Self {
        let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
            Some(end) => (&data[..end], &data[end + 2..]),
            None => (data, &data[data.len()..]),
        };
        let mut delivery = Delivery { body, ..Delivery::default() };
        for line in head.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            let start = value.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(value.len());
            let value = &value[start..];
            let lower = name.to_ascii_lowercase();
            match lower.strip_prefix(b"x-fuzz-") {
                Some(directive) => {
                    delivery.directives.push((String::from_utf8_lossy(directive).into_owned(), value))
                }
                None => delivery.headers.push((name, value)),
            }
        }
        delivery
    }

    /// The headers as an HTTP header map; lines that are not a valid header are left out, as the
    /// HTTP layer in front of the receiver would refuse them.
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
                map.append(name, value);
            }
        }
        map
    }

    /// The last value of a directive.
    pub fn directive(&self, name: &str) -> Option<&'a [u8]> {
        self.directives.iter().rev().find(|(n, _)| n == name).map(|(_, value)| *value)
    }

    /// The last value of a directive, as text.
    pub fn directive_str(&self, name: &str) -> Option<&'a str> {
        self.directive(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// `x-fuzz-now`: the clock's offset from the delivery's timestamp, in seconds (default 0).
    pub fn now_offset(&self) -> i64 {
        self.directive_str("now").and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    }

    /// The values of the header lines named `name` (any case), as text where they are UTF-8.
    pub fn header_strs(&self, name: &str) -> impl Iterator<Item = &'a str> + '_ {
        let name = name.to_owned();
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .filter_map(|(_, value)| std::str::from_utf8(value).ok())
    }
}

/// Renders a delivery in the text form [`Delivery::parse`] reads.
pub fn render(headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(format!("{name}: {value}\n").as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_text_form() {
        let data = b"Webhook-Id: msg_1\nwebhook-timestamp:\t 5\r\nx-fuzz-NOW: -3\nno colon\n\nbody\n\nmore";
        let delivery = Delivery::parse(data);
        assert_eq!(delivery.headers, [(&b"Webhook-Id"[..], &b"msg_1"[..]), (b"webhook-timestamp", b"5")]);
        assert_eq!(delivery.now_offset(), -3);
        assert_eq!(delivery.body, b"body\n\nmore");
        assert_eq!(single_str(&delivery.header_map(), WEBHOOK_ID), Some("msg_1"));
    }

    #[test]
    fn the_test_vectors_verify_and_count_as_genuine() {
        let fixture = &*FIXTURE;
        let data = render(
            &[
                (WEBHOOK_ID, "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                (WEBHOOK_TIMESTAMP, "1614265330"),
                // A decoy, then the genuine entry without its padding.
                (
                    WEBHOOK_SIGNATURE,
                    concat!(
                        "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= ",
                        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"
                    ),
                ),
            ],
            br#"{"test": 2432232314}"#,
        );
        let delivery = Delivery::parse(&data);
        let headers = delivery.header_map();
        fixture.set_clock(&headers, 0);
        let verdict = fixture.verify(&headers, delivery.body);
        assert_eq!(verdict.as_ref().map(|v| v.scheme), Ok(Scheme::V1));
        fixture.check_verdict(&headers, delivery.body, &verdict);
    }

    #[test]
    fn the_fixture_signs_every_scheme_verifiably() {
        let fixture = &*FIXTURE;
        let (id, timestamp, body) = ("msg_1", "1769083200", b"{}");
        let token = fixture.jwt(&fixture.jwt_header(), &fixture.jwt_claims(BASE_NOW));
        for (scheme, entry) in
            [(Scheme::V1a, fixture.ed25519[1].entry(id, timestamp, body)), (Scheme::Jwt, token)]
        {
            let data = render(
                &[(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, timestamp), (WEBHOOK_SIGNATURE, &entry)],
                body,
            );
            let headers = Delivery::parse(&data).header_map();
            fixture.set_clock(&headers, 0);
            let verdict = fixture.verify(&headers, body);
            assert_eq!(verdict.as_ref().map(|v| v.scheme), Ok(scheme));
            fixture.check_verdict(&headers, body, &verdict);
        }
    }
}
