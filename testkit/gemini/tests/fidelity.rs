//! The simulator against Google's reference: its answers have the fields, JSON types, status codes and
//! error shapes of the examples transcribed in `tests/fixtures/` (see its README), under `/v1beta/` and
//! `/v1/`; and the project's own client (`shared::gemini`) works against it, every call.

use gemini_sim::{Settings, Simulator};
use serde_json::{Value, json};
use shared::gemini::{
    DEFAULT_API_VERSION, GeminiClient, NewWebhook, Revocation, WebhookConfig, WebhookState, WebhookUpdate,
};

const KEY: &str = "fidelity-key";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every field of `got` exists in `reference` with the same JSON type (arrays by their first element);
/// with `complete`, every field of `reference` is in `got` too. Returns where they differ.
fn shape_differences(got: &Value, reference: &Value, complete: bool, at: &str) -> Vec<String> {
    match (got, reference) {
        (Value::Object(g), Value::Object(r)) => {
            let mut differences = Vec::new();
            for (key, value) in g {
                match r.get(key) {
                    Some(expected) => differences.extend(shape_differences(
                        value,
                        expected,
                        complete,
                        &format!("{at}.{key}"),
                    )),
                    None => differences.push(format!("{at}.{key}: not in the reference")),
                }
            }
            if complete {
                differences
                    .extend(r.keys().filter(|k| !g.contains_key(*k)).map(|k| format!("{at}.{k}: missing")));
            }
            differences
        }
        // Each element against the reference's; complete when the elements together have every field.
        (Value::Array(g), Value::Array(r)) => match r.first() {
            Some(r) => {
                let mut differences: Vec<String> = g
                    .iter()
                    .enumerate()
                    .flat_map(|(i, e)| shape_differences(e, r, false, &format!("{at}[{i}]")))
                    .collect();
                if complete && let Some(first) = g.first() {
                    let mut union = first.clone();
                    for element in g {
                        if let (Some(union), Some(fields)) = (union.as_object_mut(), element.as_object()) {
                            union.extend(fields.clone());
                        }
                    }
                    differences.extend(shape_differences(&union, r, true, &format!("{at}[*]")));
                }
                differences
            }
            None => Vec::new(),
        },
        (g, r) if std::mem::discriminant(g) == std::mem::discriminant(r) => Vec::new(),
        (g, r) => vec![format!("{at}: {g} is not of the type of {r}")],
    }
}

async fn call(method: reqwest::Method, url: &str, key: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(key) = key {
        request = request.header("x-goog-api-key", key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn answers_have_the_references_shapes_and_status_codes() {
    let simulator = Simulator::start(KEY, Settings::default()).await.unwrap();
    for version in [DEFAULT_API_VERSION, "v1beta"] {
        let base = format!("{}/{version}/webhooks", simulator.base_url());
        let new =
            json!({"uri": "https://example.com/h", "subscribed_events": ["batch.succeeded"], "name": "n"});
        let (status, created) = call(reqwest::Method::POST, &base, Some(KEY), Some(new.clone())).await;
        assert_eq!(status, 200, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(shape_differences(&created, &fixture("webhook"), false, "create"), Vec::<String>::new());
        assert!(created["new_signing_secret"].as_str().unwrap().starts_with("whsec_"));

        let (status, rotated) = call(
            reqwest::Method::POST,
            &format!("{base}/{id}:rotateSigningSecret"),
            Some(KEY),
            Some(json!({})),
        )
        .await;
        assert_eq!((status, shape_differences(&rotated, &fixture("rotate"), true, "rotate")), (200, vec![]));

        // After a rotation every field but the secret is present: the whole resource, as in the reference.
        let (status, got) = call(reqwest::Method::GET, &format!("{base}/{id}"), Some(KEY), None).await;
        assert_eq!(status, 200);
        let mut reference = fixture("webhook");
        reference.as_object_mut().unwrap().remove("new_signing_secret");
        assert_eq!(shape_differences(&got, &reference, true, "get"), Vec::<String>::new());

        // A second webhook, rotated too, so whichever comes first in a page has every field.
        let (_, second) = call(reqwest::Method::POST, &base, Some(KEY), Some(new)).await;
        let rotate = format!("{base}/{}:rotateSigningSecret", second["id"].as_str().unwrap());
        call(reqwest::Method::POST, &rotate, Some(KEY), Some(json!({}))).await;
        let (status, page) =
            call(reqwest::Method::GET, &format!("{base}?page_size=1"), Some(KEY), None).await;
        assert_eq!(status, 200);
        assert_eq!(shape_differences(&page, &fixture("list"), true, "list"), Vec::<String>::new());

        let (status, wrong) = call(reqwest::Method::GET, &base, Some("wrong"), None).await;
        assert_eq!((status, &wrong), (400, &fixture("error")), "Google's answer to an invalid key");
        let (status, missing) = call(reqwest::Method::GET, &base, None, None).await;
        assert_eq!((status, missing["error"]["status"].as_str()), (403, Some("PERMISSION_DENIED")));
        let (status, absent) = call(reqwest::Method::GET, &format!("{base}/nope"), Some(KEY), None).await;
        assert_eq!((status, absent["error"]["status"].as_str()), (404, Some("NOT_FOUND")));
        assert_eq!(shape_differences(&absent, &fixture("error"), true, "404"), Vec::<String>::new());
        let bad = json!({"uri": "https://example.com/h", "subscribed_events": ["batch.completed"]});
        let (status, refused) = call(reqwest::Method::POST, &base, Some(KEY), Some(bad)).await;
        assert_eq!((status, refused["error"]["status"].as_str()), (400, Some("INVALID_ARGUMENT")));
        let (status, _) = call(reqwest::Method::DELETE, &format!("{base}/{id}"), Some(KEY), None).await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn the_projects_client_makes_every_call() {
    let simulator = Simulator::start(KEY, Settings::default()).await.unwrap();
    let client = GeminiClient::new(simulator.base_url(), DEFAULT_API_VERSION, KEY).unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let new = NewWebhook {
            uri: format!("https://example.com/{i}"),
            subscribed_events: vec!["batch.succeeded".into()],
            name: None,
        };
        let created = client.create_webhook(&new).await.unwrap();
        let secret = created.new_signing_secret.clone().unwrap();
        assert!(created.signing_secrets[0].describes(&secret));
        ids.push(created.id);
    }
    let page = client.list_webhooks(2, None).await.unwrap();
    assert_eq!((page.webhooks.len(), page.next_page_token.is_some()), (2, true));
    assert_eq!(client.all_webhooks().await.unwrap().len(), 3, "every page");

    let disabled = WebhookUpdate { state: Some(WebhookState::Disabled), ..WebhookUpdate::default() };
    assert_eq!(client.update_webhook(&ids[0], &disabled).await.unwrap().state, Some(WebhookState::Disabled));
    client.ping_webhook(&ids[1]).await.unwrap();
    let rotated =
        client.rotate_signing_secret(&ids[1], Revocation::RevokePreviousSecretsAfterH24).await.unwrap();
    let after = client.get_webhook(&ids[1]).await.unwrap();
    assert_eq!(after.signing_secrets.len(), 2);
    assert!(after.signing_secrets[0].describes(&rotated) && after.signing_secrets[1].expire_time.is_some());
    client.delete_webhook(&ids[2]).await.unwrap();
    let missing = client.get_webhook(&ids[2]).await.unwrap_err();
    assert_eq!(missing.status(), Some(404), "{missing}");
    assert!(missing.to_string().contains("NOT_FOUND"), "Google's status and message: {missing}");

    let wrong = GeminiClient::new(simulator.base_url(), DEFAULT_API_VERSION, "wrong").unwrap();
    let refused = wrong.all_webhooks().await.unwrap_err().to_string();
    assert!(refused.contains("400") && refused.contains("API key not valid"), "{refused}");
}

#[tokio::test]
async fn a_job_ends_when_the_simulator_is_told_and_a_wrong_request_is_refused() {
    let simulator =
        Simulator::start(KEY, Settings { finish_jobs_after: None, ..Settings::default() }).await.unwrap();
    let client = GeminiClient::new(simulator.base_url(), DEFAULT_API_VERSION, KEY).unwrap();
    let hook = WebhookConfig { uris: vec!["http://127.0.0.1:9/".into()], ..WebhookConfig::default() };
    let interaction = client.create_interaction("gemini-2.5-flash", "hello", &hook).await.unwrap();
    let finish = |job: &str| format!("{}/_sim/{job}:finish", simulator.base_url());

    let failed = json!({"outcome": "failed", "error_code": 8, "error_message": "quota"});
    let (status, answer) =
        call(reqwest::Method::POST, &finish(&format!("interactions/{}", interaction.id)), None, Some(failed))
            .await;
    assert_eq!((status, answer["webhook_ids"].as_array().map(Vec::len)), (200, Some(1)), "{answer}");
    let got = client.get_interaction(&interaction.id).await.unwrap();
    assert_eq!(
        (got["status"].as_str(), got["errors"][0]["message"].as_str()),
        (Some("failed"), Some("quota"))
    );
    // An ended job stays as it ended: nothing more is delivered.
    let (status, again) =
        call(reqwest::Method::POST, &finish(&format!("interactions/{}", interaction.id)), None, None).await;
    assert_eq!((status, again["webhook_ids"].as_array().map(Vec::len)), (200, Some(0)));

    let (status, refused) =
        call(reqwest::Method::POST, &finish("batches/nope"), None, Some(json!({"outcome": "done"}))).await;
    assert_eq!(status, 400, "an unknown outcome is named: {refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("done"), "{refused}");
    let (status, _) = call(reqwest::Method::POST, &finish("batches/nope"), None, None).await;
    assert_eq!(status, 404);
}
