//! Secrets from Secrets Manager (in the emulator): a rotated secret is picked up without a restart,
//! and re-reading after a miss is rate-limited so forged traffic cannot hammer Secrets Manager.

mod support;

use std::sync::Arc;

use receiver::{Config, MISS_REFETCH_SECS, REFRESH_EVERY_SECS, Verification};
use shared::clock::ManualClock;
use shared::config::FromVars;
use shared::signature::sign::SignedHeaders;
use shared::signature::{SigningSecret, VerifyError};
use support::{BODY, NOW};
use testkit::Emulator;

struct Fixture {
    secretsmanager: aws_sdk_secretsmanager::Client,
    arn: String,
    clock: Arc<ManualClock>,
    verification: Verification,
}

async fn fixture(initial: &SigningSecret) -> Fixture {
    let emulator = Emulator::shared().unwrap();
    let secretsmanager = emulator.secretsmanager().await;
    let name = format!("webhook-secrets-{}-{}", std::process::id(), NOW ^ rand_suffix());
    let created = secretsmanager
        .create_secret()
        .name(&name)
        .secret_string(initial.expose_whsec())
        .send()
        .await
        .unwrap();
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
    let verification = receiver::build_verification(&config, || client, clock.clone()).await.unwrap();
    Fixture { secretsmanager, arn, clock, verification }
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
        self.verification.verify(&headers, BODY).await.map(|_| ())
    }

    async fn rotate_to(&self, secrets: &[&SigningSecret]) {
        let value = secrets.iter().map(|s| s.expose_whsec()).collect::<Vec<_>>().join(" ");
        self.secretsmanager
            .put_secret_value()
            .secret_id(&self.arn)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
}

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
