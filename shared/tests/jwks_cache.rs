//! The JWKS cache against a real HTTP server on 127.0.0.1: first fetch, TTL, rate-limited refetch on
//! rotation, stale-on-error, and the distinct "no keys at all" error.

mod support;

use std::sync::Arc;

use gemini_webhooks_aws::clock::ManualClock;
use gemini_webhooks_aws::keys::{JwksCache, JwksUrlError, jwks_document};
use gemini_webhooks_aws::refresh::RefreshPolicy;
use gemini_webhooks_aws::signature::sign::{Ed25519Signer, SignedHeaders};
use gemini_webhooks_aws::signature::{Rejection, Scheme, Verifier, VerifyError};
use serde_json::Value;

fn policy() -> RefreshPolicy {
    RefreshPolicy::JWKS
}
use support::{Answer, JwksServer, NOW};

const BODY: &[u8] = br#"{"type":"video.generated","data":{"id":"operations/v1"}}"#;
const AUD: &str = "https://hooks.example.com/gemini";

struct Fixture {
    server: JwksServer,
    clock: Arc<ManualClock>,
    verifier: Verifier,
}

async fn fixture(answer: Answer) -> Fixture {
    let server = JwksServer::start(answer).await;
    let clock = support::clock();
    let cache = JwksCache::remote(&server.url, clock.clone(), policy()).unwrap();
    let verifier = Verifier::builder()
        .keys(Arc::new(cache))
        .audience(AUD)
        .accept_dynamic_without_token()
        .clock(clock.clone())
        .build()
        .unwrap();
    Fixture { server, clock, verifier }
}

fn serving(keys: &[&Ed25519Signer], cache_control: Option<&'static str>) -> Answer {
    Answer::Jwks { document: jwks_document(keys.iter().map(|k| k.public_jwk(None))), cache_control }
}

impl Fixture {
    /// Verifies a delivery signed by `key` just now (by the fixture's clock).
    async fn deliver(&self, key: &Ed25519Signer) -> Result<Scheme, VerifyError> {
        let headers = SignedHeaders::v1a(key, "msg_cache", self.clock_now(), BODY).to_header_map().unwrap();
        self.verifier.verify(&headers, BODY, None).await.map(|v| v.scheme)
    }

    fn clock_now(&self) -> i64 {
        use gemini_webhooks_aws::clock::Clock;
        self.clock.unix_now()
    }
}

#[tokio::test]
async fn fetches_on_first_use_and_serves_from_cache_until_max_age() {
    let key = Ed25519Signer::generate();
    let f = fixture(serving(&[&key], Some("public, max-age=600"))).await;
    assert_eq!(f.server.hits(), 0, "nothing is fetched before it is needed");

    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a));
    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a));
    assert_eq!(f.server.hits(), 1);

    f.clock.advance(599);
    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a));
    assert_eq!(f.server.hits(), 1, "still fresh at 599 s");

    f.clock.advance(2);
    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a));
    assert_eq!(f.server.hits(), 2, "refetched once max-age passed");
}

#[tokio::test]
async fn without_cache_control_the_ttl_is_one_hour() {
    let key = Ed25519Signer::generate();
    let f = fixture(serving(&[&key], None)).await;
    f.deliver(&key).await.unwrap();
    f.clock.advance(3599);
    f.deliver(&key).await.unwrap();
    assert_eq!(f.server.hits(), 1);
    f.clock.advance(2);
    f.deliver(&key).await.unwrap();
    assert_eq!(f.server.hits(), 2);
}

#[tokio::test]
async fn a_rotated_key_is_refetched_at_most_once_a_minute() {
    let old = Ed25519Signer::generate();
    let new = Ed25519Signer::generate();
    let f = fixture(serving(&[&old], Some("max-age=3600"))).await;
    f.deliver(&old).await.unwrap();
    assert_eq!(f.server.hits(), 1);

    // Google rotates: the server now publishes the new key, our cache still holds the old set.
    f.server.answer(serving(&[&new], Some("max-age=3600")));

    f.clock.advance(30);
    assert_eq!(f.deliver(&new).await, Err(VerifyError::NoMatch));
    assert_eq!(f.deliver(&new).await, Err(VerifyError::NoMatch));
    assert_eq!(f.server.hits(), 1, "no refetch within a minute of the last one");

    f.clock.advance(31);
    assert_eq!(f.deliver(&new).await, Ok(Scheme::V1a), "refetched on the miss, then verified");
    assert_eq!(f.server.hits(), 2);

    // A forged signature keeps missing, but cannot make us fetch more than once a minute.
    let stranger = Ed25519Signer::generate();
    for _ in 0..10 {
        assert_eq!(f.deliver(&stranger).await, Err(VerifyError::NoMatch));
    }
    assert_eq!(f.server.hits(), 2);
}

#[tokio::test]
async fn an_unknown_jwt_kid_triggers_a_refetch() {
    let ed = Ed25519Signer::generate();
    let f = fixture(serving(&[&ed], Some("max-age=3600"))).await;
    f.deliver(&ed).await.unwrap();

    f.server.answer(Answer::Jwks {
        document: jwks_document([ed.public_jwk(None), support::RSA_KEY.public_jwk()]),
        cache_control: None,
    });
    f.clock.advance(61);
    let token = support::RSA_KEY.token(&serde_json::json!({"aud": AUD, "iat": NOW + 61, "exp": NOW + 361}));
    let headers = SignedHeaders::new("msg_kid", NOW + 61, &[token]).to_header_map().unwrap();
    assert_eq!(f.verifier.verify(&headers, BODY, None).await.map(|v| v.scheme), Ok(Scheme::Jwt));
    assert_eq!(f.server.hits(), 2);
}

#[tokio::test]
async fn the_last_good_set_is_served_while_refreshes_fail() {
    let key = Ed25519Signer::generate();
    let f = fixture(serving(&[&key], Some("max-age=600"))).await;
    f.deliver(&key).await.unwrap();

    f.server.answer(Answer::Status(500));
    f.clock.advance(601);
    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a), "stale keys still verify");
    assert_eq!(f.server.hits(), 2, "one refresh attempted");
    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a));
    assert_eq!(f.server.hits(), 2, "no retry within 10 s of a failure");

    // A body that is not a JWKS counts as a failure too, and does not replace the good set.
    f.server.answer(Answer::Jwks { document: Value::String("oops".into()), cache_control: None });
    f.clock.advance(11);
    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a));
    assert_eq!(f.server.hits(), 3);

    f.server.answer(serving(&[&key], None));
    f.clock.advance(11);
    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a));
    assert_eq!(f.server.hits(), 4, "recovered");
}

#[tokio::test]
async fn with_no_keys_at_all_the_error_is_unavailable_not_unauthenticated() {
    let key = Ed25519Signer::generate();
    let f = fixture(Answer::Status(503)).await;
    let err = f.deliver(&key).await.unwrap_err();
    assert!(matches!(err, VerifyError::KeysUnavailable(_)), "{err:?}");
    assert_eq!(err.rejection(), Rejection::Unavailable);

    // Once the source answers again (and the failure back-off has passed), the same delivery verifies.
    f.server.answer(serving(&[&key], None));
    f.clock.advance(10);
    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a));
}

#[tokio::test]
async fn an_unreachable_jwks_url_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    drop(listener);
    let clock = support::clock();
    let cache = JwksCache::remote(&url, clock.clone(), policy()).unwrap();
    let verifier = Verifier::builder()
        .keys(Arc::new(cache))
        .accept_dynamic_without_token()
        .clock(clock)
        .build()
        .unwrap();
    let key = Ed25519Signer::generate();
    let headers = SignedHeaders::v1a(&key, "msg_down", NOW, BODY).to_header_map().unwrap();
    let err = verifier.verify(&headers, BODY, None).await.unwrap_err();
    assert_eq!(err.rejection(), Rejection::Unavailable);
}

#[tokio::test]
async fn concurrent_requests_on_a_cold_cache_share_one_fetch() {
    let key = Ed25519Signer::generate();
    let f = Arc::new(fixture(serving(&[&key], None)).await);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (f, key) = (f.clone(), key.clone());
            tokio::spawn(async move { f.deliver(&key).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok(Scheme::V1a));
    }
    assert_eq!(f.server.hits(), 1);
}

#[test]
fn plain_http_is_refused_except_on_loopback() {
    let clock = Arc::new(ManualClock::at(NOW));
    let remote = |url: &str| JwksCache::remote(url, clock.clone(), policy()).map(|_| ());
    assert_eq!(remote("http://keys.example.com/jwks.json"), Err(JwksUrlError::NotHttps));
    assert_eq!(remote("ftp://keys.example.com/jwks.json"), Err(JwksUrlError::NotHttps));
    assert_eq!(remote("not a url"), Err(JwksUrlError::Invalid));
    assert!(remote("https://generativelanguage.googleapis.com/.well-known/jwks.json").is_ok());
    assert!(remote("http://127.0.0.1:9/jwks.json").is_ok());
    assert!(remote("http://localhost:9/jwks.json").is_ok());
    assert!(remote("http://[::1]:9/jwks.json").is_ok());
}

#[tokio::test]
async fn past_the_maximum_stale_age_with_the_source_down_keys_are_unavailable_not_trusted() {
    let key = Ed25519Signer::generate();
    let f = fixture(serving(&[&key], Some("max-age=3600"))).await;
    f.deliver(&key).await.unwrap();
    f.server.answer(Answer::Status(500));

    f.clock.advance(23 * 3600);
    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a), "23 h after the fetch: stale, still served");
    f.clock.advance(3600 + 1);
    let err = f.deliver(&key).await.unwrap_err();
    assert!(matches!(err, VerifyError::KeysUnavailable(_)), "{err:?}");
    assert_eq!(err.rejection(), Rejection::Unavailable, "503: Gemini retries until the keys are back");

    f.server.answer(serving(&[&key], None));
    f.clock.advance(11);
    assert_eq!(f.deliver(&key).await, Ok(Scheme::V1a));
}
