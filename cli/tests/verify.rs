//! `verify` on the built binary: a captured delivery checked offline says which entry verifies, or why
//! none does (exit 1), judged now or at a past time; `v1a` against a sender's `whpk_` key with the
//! URL's token from the request line; secrets from the endpoint's secret in Secrets Manager.

mod support;

use std::path::PathBuf;

use serde_json::Value;
use shared::keys::text::public_key_text;
use shared::signature::sign::{Ed25519Signer, SignedHeaders};
use shared::signature::{EndpointSecrets, SigningSecret, UrlToken};
use support::Run;
use testkit::Emulator;

const BODY: &str = r#"{"type":"batch.succeeded","data":{"id":"batches/v1"}}"#;
/// A past delivery's time: 2026-01-22T12:00:00Z.
const THEN: i64 = 1_769_083_200;
const TOKEN: &str = "tok0123456789abcdefghijklmnopqrstuvwxyzABCDE";

/// A captured delivery in a file: `request_line` (if any), the headers, an empty line, the body.
fn capture(name: &str, request_line: Option<&str>, signed: &SignedHeaders, body: &str) -> PathBuf {
    let mut text = request_line.map(|line| format!("{line}\r\n")).unwrap_or_default();
    text.push_str(&format!(
        "webhook-id: {}\r\nwebhook-timestamp: {}\r\nwebhook-signature: {}\r\ncontent-type: application/json\r\n\r\n{body}",
        signed.id, signed.timestamp, signed.signature
    ));
    let path = std::env::temp_dir().join(format!("verify-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn verify(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = support::cli();
    command.arg("verify").args(args).arg("--json").envs(env.iter().copied());
    support::run(command)
}

fn report(run: &Run) -> Value {
    serde_json::from_str(run.stdout.lines().next().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr))
}

#[test]
fn a_delivery_signed_by_one_of_two_entries_says_which_and_a_stale_one_verifies_only_at_its_time() {
    let (ours, theirs) = (SigningSecret::generate(), SigningSecret::generate());
    let mut signed = SignedHeaders::v1(&theirs, "msg_two", THEN, BODY.as_bytes());
    let ours_entry = SignedHeaders::v1(&ours, "msg_two", THEN, BODY.as_bytes()).signature;
    signed.signature = format!("{} {ours_entry}", signed.signature);
    let path = capture("two", None, &signed, BODY);
    let path = path.to_str().unwrap();
    let whsec = ours.expose_whsec();
    let secret = [("WEBHOOK_SECRETS", whsec.as_str())];

    let at_its_time = verify(&[path, "--at", "delivery"], &secret);
    assert_eq!(at_its_time.code, Some(0), "{}{}", at_its_time.stdout, at_its_time.stderr);
    let shown = report(&at_its_time);
    assert_eq!((shown["verified"].as_bool(), shown["scheme"].as_str()), (Some(true), Some("v1")));
    assert_eq!(shown["webhook_id"], "msg_two");
    let entries = shown["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[0]["verified"].as_bool(), entries[0]["code"].as_str()),
        (Some(false), Some("signature_mismatch"))
    );
    assert_eq!(entries[1]["verified"], true, "the second entry is the one that verifies");
    assert!(!at_its_time.stdout.contains(&ours_entry[3..]), "signatures are shortened, not echoed");

    let now = verify(&[path], &secret);
    assert_eq!(now.code, Some(1), "judged now, a week old: {}", now.stderr);
    assert_eq!(report(&now)["code"], "timestamp_too_old");
    assert!(now.stderr.contains("does not verify"), "{}", now.stderr);

    let at = (THEN + 200).to_string();
    assert_eq!(verify(&[path, "--at", &at], &secret).code, Some(0), "Unix seconds, within the window");
    assert_eq!(verify(&[path, "--at", "2026-01-22T12:03:00Z"], &secret).code, Some(0), "a time");
}

#[test]
fn a_tampered_body_from_its_own_file_is_refused_by_every_entry() {
    let secret = SigningSecret::generate();
    let signed = SignedHeaders::v1(&secret, "msg_tampered", THEN, BODY.as_bytes());
    let headers = capture("tampered-headers", None, &signed, "");
    let body = std::env::temp_dir().join(format!("verify-{}-tampered-body", std::process::id()));
    std::fs::write(&body, BODY.replace("v1", "v2")).unwrap();
    let run = verify(
        &[headers.to_str().unwrap(), "--body", body.to_str().unwrap(), "--at", "delivery"],
        &[("WEBHOOK_SECRETS", &secret.expose_whsec())],
    );
    assert_eq!(run.code, Some(1));
    let shown = report(&run);
    assert_eq!(shown["code"], "signature_mismatch");
    assert_eq!(shown["entries"][0]["verified"], false);
}

#[test]
fn a_v1a_delivery_verifies_against_a_whpk_key_with_the_token_its_url_carried() {
    let key = Ed25519Signer::generate();
    let signed = SignedHeaders::v1a(&key, "msg_dynamic", THEN, BODY.as_bytes());
    let whpk = public_key_text(&key.verifying_key());
    let with_token = capture("v1a", Some(&format!("POST /?token={TOKEN} HTTP/1.1")), &signed, BODY);
    let with_token = with_token.to_str().unwrap();

    let run = verify(&[with_token, "--jwks", &whpk, "--at", "delivery"], &[("WEBHOOK_URL_TOKEN", TOKEN)]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let shown = report(&run);
    assert_eq!((shown["scheme"].as_str(), shown["token_checked"].as_bool()), (Some("v1a"), Some(true)));

    let other = "tok_someone_elses_token_0123456789abcdef";
    let run = verify(&[with_token, "--jwks", &whpk, "--at", "delivery"], &[("WEBHOOK_URL_TOKEN", other)]);
    assert_eq!((run.code, report(&run)["code"].as_str()), (Some(1), Some("dynamic_token_mismatch")));

    // No request line: the signature is checked, the token cannot be, and the answer says so.
    let bare = capture("v1a-bare", None, &signed, BODY);
    let run = verify(
        &[bare.to_str().unwrap(), "--jwks", &whpk, "--at", "delivery"],
        &[("WEBHOOK_URL_TOKEN", TOKEN)],
    );
    assert_eq!((run.code, report(&run)["token_checked"].as_bool()), (Some(0), Some(false)));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_secrets_come_from_the_endpoints_secret_in_secrets_manager() {
    let emulator = Emulator::shared().unwrap();
    let secret = SigningSecret::generate();
    let value =
        EndpointSecrets::new(vec![secret.clone()], Some(UrlToken::parse(TOKEN).unwrap())).to_secret_string();
    let created = emulator
        .secretsmanager()
        .await
        .create_secret()
        .name(format!("verify-endpoint-{}", std::process::id()))
        .secret_string(value)
        .send()
        .await
        .unwrap();
    let signed = SignedHeaders::v1(&secret, "msg_stored", THEN, BODY.as_bytes());
    let path = capture("stored", None, &signed, BODY);
    let args = vec![
        "verify".to_owned(),
        path.to_str().unwrap().to_owned(),
        "--secret-arn".to_owned(),
        created.arn().unwrap().to_owned(),
        "--at".to_owned(),
        "delivery".to_owned(),
        "--endpoint".to_owned(),
        emulator.endpoint().to_owned(),
    ];
    let mut command = support::cli();
    command.args(args);
    let run = support::run_async(command).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("verified") && run.stdout.contains("msg_stored"), "{}", run.stdout);
}

#[test]
fn nothing_to_verify_with_and_an_unreadable_capture_are_usage_and_input_errors() {
    let signed = SignedHeaders::v1(&SigningSecret::generate(), "msg_x", THEN, BODY.as_bytes());
    let path = capture("nothing", None, &signed, BODY);
    let run = verify(&[path.to_str().unwrap()], &[]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("nothing to verify with"), "{}", run.stderr);

    let junk = std::env::temp_dir().join(format!("verify-{}-junk", std::process::id()));
    std::fs::write(&junk, "webhook-id msg_1\n\n{}").unwrap();
    let run =
        verify(&[junk.to_str().unwrap()], &[("WEBHOOK_SECRETS", &SigningSecret::generate().expose_whsec())]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("line 1"), "names the line: {}", run.stderr);
}
