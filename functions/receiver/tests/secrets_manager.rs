//! Secrets from Secrets Manager (in the emulator): a rotated secret is picked up without a restart,
//! re-reading after a miss is rate-limited so forged traffic cannot hammer Secrets Manager, the value
//! may be plain text or the console's JSON, an endpoint not yet registered refuses `v1` (401, a
//! stranger's request) until its secret is written, and a bad value written to the secret is counted
//! (`RefreshFailed`, alarmed) while the last good copy goes on verifying.

mod support;

use std::sync::Arc;

use receiver::{Config, Notice};
use shared::clock::ManualClock;
use shared::config::FromVars;
use shared::refresh::RefreshPolicy;
use shared::signature::sign::SignedHeaders;
use shared::signature::{Rejection, SigningSecret, Verifier, VerifyError};
use support::{BODY, ED25519, NOW};
use testkit::Emulator;

/// Seconds between re-reads, and least seconds between re-reads after a miss.
const REFRESH_EVERY_SECS: i64 = RefreshPolicy::SECRETS.default_ttl_secs as i64;
const MISS_REFETCH_SECS: i64 = RefreshPolicy::SECRETS.miss_refetch_interval_secs as i64;

struct Fixture {
    secretsmanager: aws_sdk_secretsmanager::Client,
    arn: String,
    clock: Arc<ManualClock>,
    verifier: Verifier,
    notices: Vec<Notice>,
}

async fn fixture(initial: &SigningSecret) -> Fixture {
    fixture_with(&initial.expose_whsec()).await
}

async fn fixture_with(value: &str) -> Fixture {
    let emulator = Emulator::shared().unwrap();
    let secretsmanager = emulator.secretsmanager().await;
    let name = format!("webhook-secrets-{}-{}", std::process::id(), NOW ^ rand_suffix());
    let created = secretsmanager.create_secret().name(&name).secret_string(value).send().await.unwrap();
    let arn = created.arn().unwrap().to_owned();
    let config = Config::from_lookup(|var| match var {
        "WEBHOOK_SECRETS_ARN" => Some(arn.clone()),
        "JWKS_JSON" => Some(shared::keys::jwks_document([support::ED25519.public_jwk(None)]).to_string()),
        "INGEST_QUEUE_URL" | "QUARANTINE_QUEUE_URL" => Some("http://127.0.0.1:1/q".into()),
        _ => None,
    })
    .unwrap();
    let clock = Arc::new(ManualClock::at(NOW));
    let client = secretsmanager.clone();
    let (verifier, notices) = receiver::build_verifier(&config, || client, clock.clone()).await.unwrap();
    Fixture { secretsmanager, arn, clock, verifier, notices }
}

fn rand_suffix() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static NEXT: AtomicI64 = AtomicI64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Fixture {
    async fn deliver(&self, secret: &SigningSecret) -> Result<(), VerifyError> {
        let now = shared::clock::Clock::unix_now(&*self.clock);
        let headers = SignedHeaders::v1(secret, "msg_rotation", now, BODY).to_header_map().unwrap();
        self.verifier.verify(&headers, BODY, None).await.map(|_| ())
    }

    async fn deliver_dynamic(&self, url_token: Option<&str>) -> Result<(), VerifyError> {
        let now = shared::clock::Clock::unix_now(&*self.clock);
        let headers = SignedHeaders::v1a(&ED25519, "msg_dynamic", now, BODY).to_header_map().unwrap();
        self.verifier.verify(&headers, BODY, url_token).await.map(|_| ())
    }

    async fn rotate_to(&self, secrets: &[&SigningSecret]) {
        let value = secrets.iter().map(|s| s.expose_whsec()).collect::<Vec<_>>().join(" ");
        self.put(&value).await;
    }

    async fn put(&self, value: &str) {
        self.secretsmanager
            .put_secret_value()
            .secret_id(&self.arn)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
}

const TOKEN: &str = "tok_0123456789abcdefghijklmn";

#[tokio::test]
async fn a_rotated_secret_verifies_without_a_restart_after_one_rate_limited_refetch() {
    let (old, new) = (SigningSecret::generate(), SigningSecret::generate());
    let f = fixture(&old).await;
    assert_eq!(f.deliver(&old).await, Ok(()));

    f.rotate_to(&[&new]).await;
    f.clock.advance(MISS_REFETCH_SECS - 1);
    assert_eq!(f.deliver(&new).await, Err(VerifyError::NoMatch), "within a minute of start-up: no refetch");

    f.clock.advance(1);
    assert_eq!(f.deliver(&new).await, Ok(()), "the miss triggered a refetch");
    assert_eq!(f.deliver(&old).await, Err(VerifyError::NoMatch), "the old secret is gone");
}

#[tokio::test]
async fn secrets_are_re_read_every_five_minutes_even_without_misses() {
    let (old, new) = (SigningSecret::generate(), SigningSecret::generate());
    let f = fixture(&old).await;
    f.rotate_to(&[&old, &new]).await;
    f.clock.advance(REFRESH_EVERY_SECS);
    assert_eq!(f.deliver(&old).await, Ok(()), "this delivery's check re-read both secrets");
    f.rotate_to(&[&new]).await;
    // Deleting the secret now would not matter: `new` was read during the overlap.
    f.secretsmanager
        .delete_secret()
        .secret_id(&f.arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    assert_eq!(f.deliver(&new).await, Ok(()));
}

#[tokio::test]
async fn the_consoles_json_shape_holds_signing_secrets_and_the_url_token() {
    let (a, b) = (SigningSecret::generate(), SigningSecret::generate());
    let value =
        format!(r#"{{"signing_secrets":"{} {}","url_token":"{TOKEN}"}}"#, a.expose_whsec(), b.expose_whsec());
    let f = fixture_with(&value).await;
    assert!(f.notices.is_empty(), "{:?}", f.notices);
    assert_eq!(f.deliver(&a).await, Ok(()));
    assert_eq!(f.deliver(&b).await, Ok(()));
    assert_eq!(f.deliver_dynamic(Some(TOKEN)).await, Ok(()));
    assert_eq!(f.deliver_dynamic(None).await, Err(VerifyError::DynamicTokenMismatch));
}

#[tokio::test]
async fn an_unregistered_endpoint_refuses_v1_as_a_stranger_until_its_secret_is_written() {
    // What the stack creates: a token, and no signing secret until the endpoint is registered. A `v1`
    // delivery then cannot be genuine: a 401 (Gemini retries any non-2xx all the same), not a 503 that
    // would page someone for a stranger's request.
    let f = fixture_with(&format!(r#"{{"signing_secrets":"","url_token":"{TOKEN}"}}"#)).await;
    assert_eq!(f.notices, [Notice::NotRegistered]);
    let secret = SigningSecret::generate();
    let err = f.deliver(&secret).await.unwrap_err();
    assert_eq!(err, VerifyError::NoSigningSecret);
    assert_eq!(err.rejection(), Rejection::Unauthenticated);
    assert!(err.to_string().contains("register"), "{err}");
    assert_eq!(f.deliver_dynamic(Some(TOKEN)).await, Ok(()), "dynamic deliveries need no signing secret");

    f.put(&format!(r#"{{"signing_secrets":"{}","url_token":"{TOKEN}"}}"#, secret.expose_whsec())).await;
    f.clock.advance(MISS_REFETCH_SECS);
    assert_eq!(
        f.deliver(&secret).await,
        Ok(()),
        "verifies within a minute of registration, without a restart"
    );
}

#[tokio::test]
async fn a_rotated_url_token_is_picked_up_after_one_rate_limited_refetch() {
    let secret = SigningSecret::generate();
    let f =
        fixture_with(&format!(r#"{{"signing_secrets":"{}","url_token":"{TOKEN}"}}"#, secret.expose_whsec()))
            .await;
    let rotated = "tok_rotated_0123456789abcdefghij";
    f.put(&format!(r#"{{"signing_secrets":"{}","url_token":"{rotated}"}}"#, secret.expose_whsec())).await;
    f.clock.advance(MISS_REFETCH_SECS);
    assert_eq!(f.deliver_dynamic(Some(rotated)).await, Ok(()));
    assert_eq!(f.deliver_dynamic(Some(TOKEN)).await, Err(VerifyError::DynamicTokenMismatch));
}

#[tokio::test]
async fn a_bad_value_written_to_the_secret_is_counted_and_the_last_good_copy_goes_on_verifying() {
    let secret = SigningSecret::generate();
    let f = fixture(&secret).await;
    assert_eq!(f.deliver(&secret).await, Ok(()));

    f.put(r#"{"signing_secret": "a typo in the key"}"#).await;
    f.clock.advance(REFRESH_EVERY_SECS);
    shared::metrics::capture();
    assert_eq!(f.deliver(&secret).await, Ok(()), "the last good copy is served");
    let metrics = shared::metrics::take_captured();
    let failed: Vec<&serde_json::Value> = metrics.iter().filter(|m| m["RefreshFailed"] == 1).collect();
    assert_eq!(failed.len(), 1, "{metrics:?}");
    assert_eq!(
        (failed[0]["Function"].as_str(), failed[0]["what"].as_str()),
        (Some("receiver"), Some("signing_secrets"))
    );
}
