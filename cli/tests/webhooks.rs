//! The deploy path as a user walks it, against the emulator (the stack) and the local Gemini
//! simulator: the stack's secret starts with no signing secret and the receiver refuses `v1` (401);
//! `webhooks create` registers the receiver disabled, writes the secret Gemini returns straight into
//! Secrets Manager (never shown), and enables it once every receiver can have read it, so its first
//! delivery verifies; `rotate` keeps both secrets through the overlap, `prune` drops the old one,
//! `delete` unregisters. Several webhooks on one endpoint keep their own secrets through each of these,
//! and concurrent changes lose nothing. And what the simulator does as Gemini: retries a 503 until the
//! queue is back, disables an endpoint that keeps failing.

mod support;

use support::Run;

use std::sync::Arc;
use std::time::Duration;

use gemini_sim::store::OVERLAP_SECS;
use gemini_sim::{Attempt, PingBody, Settings, Simulator};
use local_stack::{Drained, Pipeline};
use serde_json::{Value, json};
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::gemini::{DEFAULT_API_VERSION, GeminiClient, NewWebhook};
use shared::signature::{EndpointSecrets, SigningSecret, UrlToken};
use testkit::{Emulator, Fault, FaultProxy};
use tokio::net::TcpListener;

const KEY: &str = "test-api-key";
const TOKEN: &str = "tok0123456789abcdefghijklmnopqrstuvwxyzABCDE";

/// Gemini's retries, compressed: milliseconds instead of minutes.
fn fast() -> Settings {
    Settings {
        first_retry: Duration::from_millis(20),
        max_retry: Duration::from_millis(200),
        max_attempts: 40,
        disable_after: 100,
        timeout: Duration::from_secs(5),
        ..Settings::default()
    }
}

/// The built CLI against `simulator` and the AWS endpoint `aws`.
async fn cli(simulator: &Simulator, aws: &str, args: &[&str]) -> Run {
    let mut command = support::cli();
    command
        .arg("webhooks")
        .args(args)
        .args(["--endpoint", aws])
        .env("GEMINI_API_KEY", KEY)
        .env("GEMINI_API_BASE", simulator.base_url());
    support::run_async(command).await
}

/// Waits (polling, up to 20 s) until `simulator` has made an attempt at `webhook_id` (any, when empty)
/// that `done` accepts.
async fn attempt_where(simulator: &Simulator, webhook_id: &str, done: impl Fn(&Attempt) -> bool) -> Attempt {
    let wanted = |a: &Attempt| (webhook_id.is_empty() || a.webhook_id == webhook_id) && done(a);
    for _ in 0..1000 {
        if let Some(found) = simulator.attempts().into_iter().find(wanted) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no such attempt at {webhook_id}: {:?}", simulator.attempts());
}

async fn stored(emulator: &Emulator, arn: &str) -> EndpointSecrets {
    let value = emulator.secretsmanager().await.get_secret_value().secret_id(arn).send().await.unwrap();
    EndpointSecrets::parse(value.secret_string().unwrap()).unwrap()
}

/// The endpoint's secret as the stack creates it: a URL token, no signing secret.
async fn stack_secret(emulator: &Emulator) -> String {
    let created = emulator
        .secretsmanager()
        .await
        .create_secret()
        .name(format!("endpoint-{}-{}", std::process::id(), SystemClock.unix_now_ms()))
        .secret_string(
            EndpointSecrets::new(Vec::new(), Some(UrlToken::parse(TOKEN).unwrap())).to_secret_string(),
        )
        .send()
        .await
        .unwrap();
    created.arn().unwrap().to_owned()
}

fn secrets_of(stored: &EndpointSecrets) -> Vec<String> {
    stored.signing.iter().map(SigningSecret::expose_whsec).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn register_rotate_prune_and_delete_without_a_restart() {
    let emulator = Emulator::shared().unwrap();
    let simulator = Simulator::start(KEY, fast()).await.unwrap();
    let arn = stack_secret(emulator).await;
    let clock = Arc::new(ManualClock::at(SystemClock.unix_now()));
    let pipeline =
        Pipeline::start(emulator, &[("WEBHOOK_SECRETS_ARN", arn.clone())], clock.clone()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    pipeline.serve_receiver(listener);
    let aws = emulator.endpoint();

    // The minute `create` waits with the webhook disabled, on the receiver's clock: it passes as the
    // webhook is turned on (the command itself is told not to wait).
    let states = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, receiver_clock) = (states.clone(), clock.clone());
    simulator.on_state(move |_, state| {
        seen.lock().unwrap().push(state.to_owned());
        if state == "enabled" {
            receiver_clock.advance(61);
        }
    });
    let created =
        cli(&simulator, aws, &["create", "--url", &url, "--secret-arn", &arn, "--settle", "0", "--json"])
            .await;
    assert_eq!(created.code, Some(0), "{}{}", created.stdout, created.stderr);
    let shown: Value = serde_json::from_str(created.stdout.lines().next().unwrap()).unwrap();
    let id = shown["id"].as_str().unwrap().to_owned();
    let first = simulator.live_secrets(&id);
    assert_eq!(first.len(), 1);
    assert!(!created.stdout.contains(&first[0]) && !created.stderr.contains(&first[0]), "never shown");
    let after_create = stored(emulator, &arn).await;
    assert_eq!(secrets_of(&after_create), first, "the secret went straight into Secrets Manager");
    assert_eq!(after_create.url_token.unwrap().expose(), TOKEN, "the token is kept");

    assert_eq!(*states.lock().unwrap(), ["disabled", "enabled"], "off while its secret was stored");
    assert_eq!(shown["state"], "enabled");

    // The receiver read its (empty) secret at start; the webhook was turned on once it could read it
    // again: the very first delivery after registration verifies, no restart.
    assert_eq!(cli(&simulator, aws, &["ping", &id]).await.code, Some(0));
    let ping = attempt_where(&simulator, "", |a| a.status.is_some()).await;
    assert_eq!((ping.attempt, ping.status), (1, Some(200)), "the first delivery verifies");

    let rotated = cli(&simulator, aws, &["rotate", &id, "--secret-arn", &arn]).await;
    assert_eq!(rotated.code, Some(0), "{}", rotated.stderr);
    let both = simulator.live_secrets(&id);
    assert_eq!(both.len(), 2);
    assert_eq!(secrets_of(&stored(emulator, &arn).await), both, "the new one beside the old");
    let during = simulator.emit("batch.succeeded", json!({"id": "batches/r1"}), None).remove(0);
    let attempt = attempt_where(&simulator, &during, |a| a.status.is_some()).await;
    assert_eq!((attempt.v1_entries, attempt.status), (2, Some(200)), "signed with both, accepted");

    // The overlap ends: Gemini signs with the new secret alone; the receiver still verifies.
    simulator.advance(OVERLAP_SECS + 1);
    clock.advance(61);
    let after = simulator.emit("batch.succeeded", json!({"id": "batches/r2"}), None).remove(0);
    let attempt = attempt_where(&simulator, &after, |a| a.status.is_some()).await;
    assert_eq!((attempt.v1_entries, attempt.status), (1, Some(200)));

    let pruned = cli(&simulator, aws, &["prune", &id, "--secret-arn", &arn, "--json"]).await;
    assert_eq!(pruned.code, Some(0), "{}", pruned.stderr);
    assert_eq!(secrets_of(&stored(emulator, &arn).await), simulator.live_secrets(&id), "the old one is gone");
    let last = simulator.emit("batch.succeeded", json!({"id": "batches/r3"}), None).remove(0);
    assert_eq!(attempt_where(&simulator, &last, |a| a.status.is_some()).await.status, Some(200));

    assert_eq!(cli(&simulator, aws, &["delete", &id]).await.code, Some(0));
    let listed = cli(&simulator, aws, &["list", "--json"]).await;
    assert!(!listed.stdout.contains(&id), "{}", listed.stdout);

    pipeline.drain().await.unwrap();
    let downstream = pipeline.take_downstream().await.unwrap();
    let mut jobs: Vec<&str> = downstream["batch"].iter().filter_map(|m| m.data_id.as_deref()).collect();
    jobs.sort_unstable();
    assert_eq!(jobs, ["batches/r1", "batches/r2", "batches/r3"], "each event once");
    assert!(downstream["default"].is_empty(), "the ping was answered, and went no further");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_answered_503_is_retried_until_the_queue_is_back_and_arrives_once() {
    let emulator = Emulator::shared().unwrap();
    let simulator = Simulator::start(KEY, fast()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let client = GeminiClient::new(simulator.base_url(), DEFAULT_API_VERSION, KEY).unwrap();
    let new = NewWebhook { uri: url, subscribed_events: vec!["batch.failed".into()], name: None };
    let secret = client.create_webhook(&new).await.unwrap().new_signing_secret.unwrap();
    let proxy = FaultProxy::start(emulator.endpoint()).await.unwrap();
    let vars = [("WEBHOOK_SECRETS", secret.expose_whsec())];
    let pipeline =
        Pipeline::start_through(emulator, &proxy.endpoint(), &vars, Arc::new(SystemClock)).await.unwrap();
    pipeline.serve_receiver(listener);

    proxy.set(Fault::Refuse);
    let id = simulator.emit("batch.failed", json!({"id": "batches/q", "error_code": 13}), None).remove(0);
    attempt_where(&simulator, &id, |a| a.attempt == 3 && a.status == Some(503)).await;
    proxy.set(Fault::None);
    attempt_where(&simulator, &id, |a| a.status == Some(200)).await;

    pipeline.drain().await.unwrap();
    let downstream = pipeline.take_downstream().await.unwrap();
    assert_eq!(downstream["batch"].len(), 1, "once, after every retry");
    assert_eq!(downstream["batch"][0].webhook_id().as_str(), id, "the same webhook-id on every attempt");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhooks_ping_of_either_body_is_answered_200_and_reaches_no_queue() {
    // Gemini documents no ping body: an event of type `webhook.ping`, or text that is not JSON.
    for body in [PingBody::Event, PingBody::Raw(b"Test delivery from the Gemini API".to_vec())] {
        let emulator = Emulator::shared().unwrap();
        let simulator = Simulator::start(KEY, Settings { ping_body: body.clone(), ..fast() }).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let client = GeminiClient::new(simulator.base_url(), DEFAULT_API_VERSION, KEY).unwrap();
        let new = NewWebhook { uri: url, subscribed_events: vec!["batch.succeeded".into()], name: None };
        let created = client.create_webhook(&new).await.unwrap();
        let vars = [("WEBHOOK_SECRETS", created.new_signing_secret.unwrap().expose_whsec())];
        let pipeline = Pipeline::start(emulator, &vars, Arc::new(SystemClock)).await.unwrap();
        pipeline.serve_receiver(listener);

        let pinged = cli(&simulator, emulator.endpoint(), &["ping", &created.id]).await;
        assert_eq!(pinged.code, Some(0), "{}", pinged.stderr);
        assert!(pinged.stderr.contains("Pings"), "says where to see it: {}", pinged.stderr);
        let attempt = attempt_where(&simulator, "", |a| a.status.is_some()).await;
        assert_eq!((attempt.attempt, attempt.status), (1, Some(200)), "{body:?}: answered, never retried");

        assert_eq!(pipeline.drain().await.unwrap(), Drained::default(), "{body:?}: nothing enqueued");
        let quarantined =
            pipeline.sqs.receive_message().queue_url(&pipeline.stack.quarantine.url).send().await.unwrap();
        assert!(
            quarantined.messages().is_empty(),
            "{body:?}: not kept, so the quarantine's alarm stays quiet"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_that_keeps_failing_is_disabled() {
    let simulator = Simulator::start(KEY, Settings { disable_after: 3, ..fast() }).await.unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client = GeminiClient::new(simulator.base_url(), "v1", KEY).unwrap();
    let new = NewWebhook {
        uri: format!("http://{closed}/"),
        subscribed_events: vec!["video.generated".into()],
        name: None,
    };
    let id = client.create_webhook(&new).await.unwrap().id;
    let delivery =
        simulator.emit("video.generated", json!({"id": "models/veo/operations/1"}), None).remove(0);
    attempt_where(&simulator, &delivery, |a| a.attempt == 3).await;
    for _ in 0..500 {
        if simulator.webhook(&id).unwrap()["state"] == "disabled_due_to_failed_deliveries" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(simulator.webhook(&id).unwrap()["state"], "disabled_due_to_failed_deliveries");
    assert!(simulator.emit("video.generated", json!({"id": "x"}), None).is_empty(), "no more deliveries");
    assert_eq!(simulator.attempts().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_manager_failing_during_create_says_how_to_recover_and_shows_no_secret() {
    let emulator = Emulator::shared().unwrap();
    let simulator = Simulator::start(KEY, fast()).await.unwrap();
    let arn = stack_secret(emulator).await;
    let proxy = Arc::new(FaultProxy::start(emulator.endpoint()).await.unwrap());
    let broken = proxy.clone();
    simulator.on_create(move || broken.set(Fault::Refuse));

    let url = "https://abc123.lambda-url.us-east-1.on.aws/";
    let args = ["create", "--url", url, "--secret-arn", &arn, "--settle", "0"];
    let failed = cli(&simulator, &proxy.endpoint(), &args).await;
    assert_eq!(failed.code, Some(1), "{}{}", failed.stdout, failed.stderr);
    let id = simulator.webhook_ids().pop().unwrap();
    let secret = simulator.live_secrets(&id).remove(0);
    assert!(!failed.stdout.contains(&secret) && !failed.stderr.contains(&secret), "never shown");
    let first = failed.stderr.lines().next().unwrap();
    let recovery = format!("gemini-webhooks webhooks rotate {id} --immediately --secret-arn {arn}");
    assert!(first.contains(&id) && first.contains(&recovery), "{}", failed.stderr);
    assert!(secrets_of(&stored(emulator, &arn).await).is_empty(), "nothing half-written");

    // The recovery it gave, once Secrets Manager is back.
    proxy.set(Fault::None);
    let args = ["rotate", id.as_str(), "--immediately", "--settle", "0", "--secret-arn", &arn];
    let recovered = cli(&simulator, &proxy.endpoint(), &args).await;
    assert_eq!(recovered.code, Some(0), "{}", recovered.stderr);
    assert_eq!(secrets_of(&stored(emulator, &arn).await), simulator.live_secrets(&id));
}

/// Creates a webhook for `url` through the CLI (no settling), returning its id.
async fn create(simulator: &Simulator, aws: &str, url: &str, arn: &str) -> String {
    let args = ["create", "--url", url, "--secret-arn", arn, "--allow-duplicate", "--settle", "0", "--json"];
    let created = cli(simulator, aws, &args).await;
    assert_eq!(created.code, Some(0), "{}{}", created.stdout, created.stderr);
    let shown: Value = serde_json::from_str(created.stdout.lines().next().unwrap()).unwrap();
    shown["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn pruning_or_revoking_one_webhooks_secrets_leaves_every_other_webhooks_alone() {
    let emulator = Emulator::shared().unwrap();
    let simulator = Simulator::start(KEY, fast()).await.unwrap();
    let arn = stack_secret(emulator).await;
    let aws = emulator.endpoint();
    let url = "https://abc123.lambda-url.us-east-1.on.aws/";
    // One endpoint registered twice (say, from two Gemini projects), and a secret stored by hand.
    let (one, two) = (create(&simulator, aws, url, &arn).await, create(&simulator, aws, url, &arn).await);
    let by_hand = SigningSecret::generate();
    let store =
        gemini_webhooks::ops::endpoint_secret::EndpointSecret::new(emulator.secretsmanager().await, &arn);
    store
        .update(|secrets| {
            secrets.signing.push(by_hand.clone());
            Ok(())
        })
        .await
        .unwrap();
    let secret_of = |id: &str| simulator.live_secrets(id).remove(0);
    let (first_of_one, first_of_two) = (secret_of(&one), secret_of(&two));

    let revoked =
        cli(&simulator, aws, &["rotate", &one, "--immediately", "--settle", "0", "--secret-arn", &arn]).await;
    assert_eq!(revoked.code, Some(0), "{}", revoked.stderr);
    let held = secrets_of(&stored(emulator, &arn).await);
    assert!(!held.contains(&first_of_one), "one's previous secret is revoked");
    assert!(held.contains(&secret_of(&one)) && held.contains(&first_of_two), "two's is untouched: {held:?}");
    assert!(held.contains(&by_hand.expose_whsec()), "one whose owner is unknown is never revoked");

    // Two rotates with an overlap, which ends: pruning one removes its own old secret alone.
    assert_eq!(cli(&simulator, aws, &["rotate", &two, "--secret-arn", &arn]).await.code, Some(0));
    simulator.advance(OVERLAP_SECS + 1);
    let pruned = cli(&simulator, aws, &["prune", &one, "--secret-arn", &arn]).await;
    assert_eq!(pruned.code, Some(0), "{}", pruned.stderr);
    let held = secrets_of(&stored(emulator, &arn).await);
    assert!(held.contains(&first_of_two), "two's expired secret is two's to prune: {held:?}");
    assert!(held.contains(&by_hand.expose_whsec()), "kept without --force");
    assert!(pruned.stderr.contains("--force"), "{}", pruned.stderr);
    let pruned = cli(&simulator, aws, &["prune", &two, "--secret-arn", &arn, "--force"]).await;
    assert_eq!(pruned.code, Some(0), "{}", pruned.stderr);
    let mut expected = vec![secret_of(&two), secret_of(&one)];
    let mut held = secrets_of(&stored(emulator, &arn).await);
    expected.sort();
    held.sort();
    assert_eq!(held, expected, "each webhook's live secret, and nothing else");
}

#[tokio::test]
async fn concurrent_changes_to_the_endpoint_secret_lose_nothing() {
    let emulator = Emulator::shared().unwrap();
    let arn = stack_secret(emulator).await;
    let store =
        gemini_webhooks::ops::endpoint_secret::EndpointSecret::new(emulator.secretsmanager().await, &arn);
    let (mine, theirs) = (SigningSecret::generate(), SigningSecret::generate());

    // Read, then another writer changes it, then write: refused, rather than their change lost.
    let read = store.read().await.unwrap();
    store
        .update(|secrets| {
            secrets.add(theirs.clone(), "theirs");
            Ok(())
        })
        .await
        .unwrap();
    let mut mine_only = read.secrets.clone();
    mine_only.add(mine.clone(), "mine");
    let refused = store.write_if_current(&read, &mine_only).await.unwrap_err();
    assert!(
        matches!(refused, gemini_webhooks::ops::endpoint_secret::SecretStoreError::Changed { .. }),
        "{refused}"
    );
    assert_eq!(stored(emulator, &arn).await.signing, std::slice::from_ref(&theirs));

    // `update` reads again and applies the change to what is there; two at once both land.
    let (a, b) = (SigningSecret::generate(), SigningSecret::generate());
    let (first, second) = tokio::join!(
        store.update(|secrets| {
            secrets.add(a.clone(), "a");
            Ok(())
        }),
        store.update(|secrets| {
            secrets.add(b.clone(), "b");
            Ok(())
        }),
    );
    first.unwrap();
    second.unwrap();
    let held = stored(emulator, &arn).await;
    for secret in [&a, &b, &theirs] {
        assert!(held.signing.contains(secret), "lost a secret");
    }
    assert_eq!((held.owner(&a), held.owner(&b)), (Some("a"), Some("b")));
    assert_eq!(held.url_token.unwrap().expose(), TOKEN, "the token is kept");
}
