//! Writes the committed seed corpora, `fuzz/seeds/<target>/`, from the Standard Webhooks test vectors
//! (`shared/test-vectors/standard-webhooks.json` of the protocol reference, copied below), the sample
//! events in `events/`, and deliveries signed by the fuzz fixture's keys. Run it after changing the
//! fixture or the formats: `cargo run --manifest-path fuzz/Cargo.toml --example write_seeds`.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use shared::signature::sign::v1_entry;
use shared::signature::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP};
use webhooks_fuzz::{AUDIENCE, BASE_NOW, FIXTURE, RSA_KID, render};

/// The Standard Webhooks test vectors: (id, timestamp, body, signature), signed with the first two
/// fixture secrets.
const VECTORS: [(&str, &str, &str, &str); 2] = [
    (
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        "1649367553",
        r#"{"email":"test@example.com","username":"test_user"}"#,
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    ),
    (
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        r#"{"test": 2432232314}"#,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ),
];
const DECOYS: [&str; 7] = [
    "v1,R3PTzyfHASBKHH98a7yexTwaJ4yNIcGhFQc1yuN+BPU=",
    "v1,tFtCZ5RDCPxzWQRWXWPgrCgE2frDBe9gjpbWQxnVfsQ=",
    "v1,Mm7xgUVICxZfQ3bgf0h0Dof65L/IFx+PnZvnDWPCX6Q=",
    "v1,9DfC1c3eeOrXB6w/5dIDydLNQaEyww5KalE5jLBZucE=",
    "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
    "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
    "v1,",
];

/// Gemini events: every documented type, with the fields the pipeline reads.
fn events() -> Vec<(&'static str, Value)> {
    vec![
        (
            "batch-succeeded",
            json!({"type": "batch.succeeded", "version": "v1", "timestamp": "2026-01-22T12:00:00Z",
            "data": {"id": "batches/sample123", "output_file_uri": "gs://my-bucket/results.jsonl"},
            "user_metadata": {"team": "ml"}}),
        ),
        (
            "batch-failed",
            json!({"type": "batch.failed", "version": "v1",
            "data": {"id": "batches/9", "error_code": 13, "error_message": "internal error",
                     "user_metadata": {"team": "ml", "priority": 2}}}),
        ),
        ("batch-cancelled", json!({"type": "batch.cancelled", "data": {"id": "batch_123456"}})),
        ("batch-expired", json!({"type": "batch.expired", "data": {"id": "batch_123456"}})),
        (
            "interaction-requires-action",
            json!({"type": "interaction.requires_action",
            "data": {"id": "interactions/abc", "required_action": {"type": "function_call"}}}),
        ),
        (
            "interaction-completed",
            json!({"type": "interaction.completed", "data": {"id": "interactions/abc"}}),
        ),
        (
            "interaction-cancelled",
            json!({"type": "interaction.cancelled", "data": {"id": "interactions/abc"}}),
        ),
        (
            "interaction-failed",
            json!({"type": "interaction.failed",
            "data": {"id": "interactions/abc", "error_code": "INTERNAL", "error_message": "x"}}),
        ),
        (
            "video-generated",
            json!({"type": "video.generated",
            "data": {"id": "operations/v1", "video_uri": "gs://b/v.mp4", "file_name": "v.mp4"}}),
        ),
        (
            "unknown-type",
            json!({"type": "model.tuned", "data": {"id": 7, "new_field": [1, 2.5, -3e-7, null]},
            "extra": true, "nested": {"a": {"b": {"c": []}}}}),
        ),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("seeds");
    let sample = |name: &str| -> Result<Value, Box<dyn std::error::Error>> {
        Ok(serde_json::from_slice(&fs::read(root.join("../events").join(format!("{name}.json")))?)?)
    };

    // --- verify and signature_headers: deliveries in the text form. ---
    let mut deliveries: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |name: &str, data: Vec<u8>| deliveries.push((name.to_owned(), data));
    for (i, (id, timestamp, body, signature)) in VECTORS.iter().enumerate() {
        let headers = [(WEBHOOK_ID, *id), (WEBHOOK_TIMESTAMP, *timestamp), (WEBHOOK_SIGNATURE, *signature)];
        add(&format!("vector-{i}"), render(&headers, body.as_bytes()));
        let with_decoys = format!("{} {signature}", DECOYS.join(" "));
        let headers = [(WEBHOOK_ID, *id), (WEBHOOK_TIMESTAMP, *timestamp), (WEBHOOK_SIGNATURE, &with_decoys)];
        add(&format!("vector-{i}-decoys"), render(&headers, body.as_bytes()));
        let headers = [(WEBHOOK_ID, *id), (WEBHOOK_TIMESTAMP, *timestamp), (WEBHOOK_SIGNATURE, *signature)];
        for (edge, now) in [("stale", "301"), ("future", "-301"), ("edge", "300")] {
            let mut data = format!("x-fuzz-now: {now}\n").into_bytes();
            data.extend(render(&headers, body.as_bytes()));
            add(&format!("vector-{i}-{edge}"), data);
        }
    }
    let receiver = sample("receiver-function-url")?;
    let sample_body = receiver["body"].as_str().unwrap_or_default();
    let header = |name: &str| receiver["headers"][name].as_str().unwrap_or_default().to_owned();
    let (sample_id, sample_timestamp) = (header(WEBHOOK_ID), header(WEBHOOK_TIMESTAMP));
    add(
        "sample-event",
        render(
            &[
                ("Content-Type", "application/json"),
                ("Webhook-Id", &sample_id),
                ("Webhook-Timestamp", &sample_timestamp),
                ("Webhook-Signature", &header(WEBHOOK_SIGNATURE)),
            ],
            sample_body.as_bytes(),
        ),
    );

    let fixture = &*FIXTURE;
    let (id, timestamp) = ("msg_2f1c8a2e-5d1b-4a8e-9b3a-0c2d4e6f8a1b", BASE_NOW.to_string());
    let events = events();
    let body = events[0].1.to_string();
    let body = body.as_bytes();
    for (k, key) in fixture.ed25519.iter().enumerate() {
        let entry = key.entry(id, &timestamp, body);
        add(
            &format!("v1a-key{k}"),
            render(&[(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, &timestamp), (WEBHOOK_SIGNATURE, &entry)], body),
        );
    }
    let token = fixture.jwt(&fixture.jwt_header(), &fixture.jwt_claims(BASE_NOW));
    add(
        "jwt",
        render(&[(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, &timestamp), (WEBHOOK_SIGNATURE, &token)], body),
    );
    let mixed = format!(
        "{} v1a,{} {} {}",
        DECOYS[0],
        "A".repeat(86),
        "a.b.c",
        fixture.ed25519[1].entry(id, &timestamp, body)
    );
    add(
        "mixed-entries",
        render(&[(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, &timestamp), (WEBHOOK_SIGNATURE, &mixed)], body),
    );
    let split = fixture.ed25519[0].entry(id, &timestamp, body);
    add(
        "split-signature-header",
        render(
            &[
                (WEBHOOK_ID, id),
                (WEBHOOK_TIMESTAMP, &timestamp),
                (WEBHOOK_SIGNATURE, DECOYS[1]),
                (WEBHOOK_SIGNATURE, &split),
            ],
            body,
        ),
    );
    let v1 = v1_entry(&fixture.secrets[2], id, &timestamp, body);
    add(
        "v1-unpadded",
        render(
            &[
                (WEBHOOK_ID, id),
                (WEBHOOK_TIMESTAMP, &timestamp),
                (WEBHOOK_SIGNATURE, v1.trim_end_matches('=')),
            ],
            body,
        ),
    );

    // Signing directives: the harness signs, so the fuzzer explores what a genuine signature meets.
    let signed = |how: &str, extra: &[(&str, String)], entries: &str| {
        let mut lines = vec![("x-fuzz-sign".to_owned(), how.to_owned())];
        lines.extend(extra.iter().map(|(n, v)| (format!("x-fuzz-{n}"), v.clone())));
        lines.extend([
            (WEBHOOK_ID.to_owned(), id.to_owned()),
            (WEBHOOK_TIMESTAMP.to_owned(), timestamp.clone()),
            (WEBHOOK_SIGNATURE.to_owned(), entries.to_owned()),
        ]);
        let lines: Vec<(&str, &str)> = lines.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        render(&lines, body)
    };
    add("sign-v1", signed("v1", &[], ""));
    add("sign-v1-rotated", signed("v1:2", &[("now", "-120".into())], &DECOYS[..3].join(" ")));
    add("sign-v1a", signed("v1a", &[], DECOYS[4]));
    add("sign-v1a-second-key", signed("v1a:1", &[("now", "299".into())], "a.b.c"));
    add("sign-jwt", signed("jwt", &[], ""));
    let claims = |claims: Value| ("jwt-claims", claims.to_string());
    let header = |header: Value| ("jwt-header", header.to_string());
    let now = BASE_NOW;
    add(
        "sign-jwt-audiences",
        signed(
            "jwt",
            &[claims(json!({"aud": ["https://other.example", AUDIENCE], "iat": now, "exp": now + 60}))],
            "",
        ),
    );
    add(
        "sign-jwt-other-audience",
        signed("jwt", &[claims(json!({"aud": "https://other.example", "iat": now, "exp": now + 60}))], ""),
    );
    add(
        "sign-jwt-expired",
        signed("jwt", &[claims(json!({"aud": AUDIENCE, "iat": now - 361, "exp": now - 61}))], ""),
    );
    add("sign-jwt-not-yet", signed("jwt", &[claims(json!({"aud": AUDIENCE, "nbf": now as f64 + 61.5}))], ""));
    add("sign-jwt-no-aud", signed("jwt", &[claims(json!({"exp": now + 600, "iat": now}))], ""));
    add("sign-jwt-no-kid", signed("jwt", &[header(json!({"alg": "RS256"}))], ""));
    add("sign-jwt-unknown-kid", signed("jwt", &[header(json!({"alg": "RS256", "kid": "rotated-away"}))], ""));
    add("sign-jwt-hs256", signed("jwt", &[header(json!({"alg": "HS256", "kid": RSA_KID}))], ""));
    add("sign-jwt-none", signed("jwt", &[header(json!({"alg": "none"}))], ""));
    add(
        "sign-jwt-crit",
        signed("jwt", &[header(json!({"alg": "RS256", "kid": RSA_KID, "crit": ["exp"]}))], ""),
    );
    // Assembled tokens: the header is parsed, the signature never verifies.
    let raw = |header: Value, signature: String| {
        let claims = json!({"aud": AUDIENCE});
        let directives = format!("x-fuzz-jwt-header: {header}\nx-fuzz-jwt-claims: {claims}\n");
        let mut data = format!("{directives}x-fuzz-jwt-sig: {signature}\n").into_bytes();
        data.extend(render(&[(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, &timestamp)], body));
        data
    };
    add("jwt-assembled", raw(json!({"alg": "RS256", "kid": RSA_KID}), "A".repeat(342)));
    add("jwt-assembled-alg", raw(json!({"alg": "ES256", "kid": RSA_KID}), "AAAA".into()));

    // Malformed and boundary headers.
    let timestamp = timestamp.as_str();
    fn base<'a>(id: &'a str, timestamp: &'a str, sig: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, timestamp), (WEBHOOK_SIGNATURE, sig)]
    }
    let base = |sig| base(id, timestamp, sig);
    let mut repeated = base(DECOYS[0]);
    repeated.push((WEBHOOK_ID, "msg_other"));
    add("repeated-id", render(&repeated, body));
    add("missing-signature", render(&base(DECOYS[0])[..2], body));
    add(
        "non-integer-timestamp",
        render(
            &[(WEBHOOK_ID, id), (WEBHOOK_TIMESTAMP, "2026-01-22T12:00:00Z"), (WEBHOOK_SIGNATURE, DECOYS[0])],
            body,
        ),
    );
    let longest_id = "m".repeat(256);
    add(
        "longest-id",
        render(
            &[
                (WEBHOOK_ID, &longest_id),
                (WEBHOOK_TIMESTAMP, "999999999999999999"),
                (WEBHOOK_SIGNATURE, DECOYS[0]),
            ],
            body,
        ),
    );
    let sixteen = vec![DECOYS[0]; 16].join(" ");
    add("sixteen-entries", render(&base(&sixteen), body));
    let seventeen = vec!["v1,AAAA"; 17].join(" ");
    add("seventeen-entries", render(&base(&seventeen), body));
    let long = format!("v1,{}", "A".repeat(8 * 1024 - 3));
    add("longest-signature-header", render(&base(&long), body));
    let mut obs_text = render(&base(DECOYS[0]), body);
    obs_text.splice(0..0, b"webhook-signature: v1,\xc3\xa9\xff\n".iter().copied());
    add("obs-text", obs_text);

    let named = |(name, data): &(String, Vec<u8>)| (format!("{name}.txt"), data.clone());
    write(&seeds.join("verify"), deliveries.iter().map(named))?;
    // Directives other than `x-fuzz-now` mean nothing to `signature_headers`.
    let plain =
        |(name, _): &&(String, Vec<u8>)| !name.starts_with("sign-") && !name.starts_with("jwt-assembled");
    write(&seeds.join("signature_headers"), deliveries.iter().filter(plain).map(named))?;

    // --- envelope: event bodies and the two queue messages. ---
    let mut envelope: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|(name, event)| (format!("event-{name}.json"), event.to_string().into_bytes()))
        .collect();
    for (i, (_, _, body, _)) in VECTORS.iter().enumerate() {
        envelope.push((format!("vector-{i}-body.json"), body.as_bytes().to_vec()));
    }
    envelope.push(("sample-body.json".into(), sample_body.as_bytes().to_vec()));
    for (name, file) in [("ingest-message.json", "recorder-sqs"), ("downstream-message.json", "consumer-sqs")]
    {
        let body = sample(file)?["Records"][0]["body"].as_str().unwrap_or_default().to_owned();
        envelope.push((name.into(), body.into_bytes()));
    }
    write(&seeds.join("envelope"), envelope)?;

    // --- stream_image: the sample stream event, and images alone. ---
    let stream = sample("fanout-stream")?;
    let image = stream["Records"][0]["dynamodb"]["NewImage"].clone();
    let mut images = vec![
        ("stream-event.json".to_owned(), serde_json::to_vec_pretty(&stream)?),
        ("image.json".to_owned(), serde_json::to_vec(&image)?),
    ];
    for (name, event) in &events {
        let mut image = image.clone();
        image["type"] = json!({"S": event["type"]});
        image["event"] = json!({"S": event.to_string()});
        match event["data"]["id"].as_str() {
            Some(data_id) => image["data_id"] = json!({"S": data_id}),
            None => {
                if let Some(fields) = image.as_object_mut() {
                    fields.remove("data_id");
                }
            }
        }
        images.push((format!("image-{name}.json"), serde_json::to_vec(&image)?));
    }
    let mut every_type = image.clone();
    every_type["extra"] = json!({"M": {"l": {"L": [{"N": "1.5"}, {"BOOL": true}, {"NULL": true}]},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "-2e3"]}, "b": {"B": "AAEC"}, "bs": {"BS": ["AA=="]}}});
    images.push(("image-every-attribute-type.json".into(), serde_json::to_vec(&every_type)?));
    let mut modify = stream.clone();
    modify["Records"][0]["eventName"] = json!("MODIFY");
    let insert = stream["Records"][0].clone();
    if let Some(records) = modify["Records"].as_array_mut() {
        records.push(insert);
    }
    images.push(("stream-modify-then-insert.json".into(), serde_json::to_vec(&modify)?));
    write(&seeds.join("stream_image"), images)?;

    // --- jwks: the fixture's document and variants of it. ---
    let document: Value = serde_json::from_slice(&fixture.jwks)?;
    let keys = document["keys"].as_array().cloned().unwrap_or_default();
    let rsa = keys[2].clone();
    let n = rsa["n"].as_str().unwrap_or_default();
    let mut jwks = vec![("fixture.json".to_owned(), fixture.jwks.clone())];
    let variant = |entries: Vec<Value>| json!({"keys": entries}).to_string().into_bytes();
    jwks.push(("ed25519-only.json".into(), variant(vec![keys[0].clone()])));
    jwks.push((
        "google-like.json".into(),
        variant(vec![
            json!({"kty": "EC", "crv": "P-256", "kid": "ec1", "use": "sig", "alg": "ES256",
                   "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                   "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}),
            json!({"kty": "OKP", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}),
            json!({"kty": "RSA", "use": "enc", "kid": "enc", "n": n, "e": "AQAB"}),
            keys[1].clone(),
            rsa.clone(),
        ]),
    ));
    let short_n = &n[..n.len() / 2];
    jwks.push((
        "rsa-1024-bit.json".into(),
        variant(vec![json!({"kty": "RSA", "kid": "short", "n": short_n, "e": "AQAB"})]),
    ));
    jwks.push((
        "rsa-exponent-1.json".into(),
        variant(vec![json!({"kty": "RSA", "kid": "e1", "n": n, "e": "AQ"})]),
    ));
    jwks.push((
        "rsa-no-kid-rs384.json".into(),
        variant(vec![json!({"kty": "RSA", "alg": "RS384", "n": n, "e": "AQAB"})]),
    ));
    let identity = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    jwks.push((
        "ed25519-weak-key.json".into(),
        variant(vec![json!({"kty": "OKP", "crv": "Ed25519", "x": identity})]),
    ));
    write(&seeds.join("jwks"), jwks)
}

/// Replaces `dir`'s generated seeds with `files`, keeping `regression-*` inputs (crashes once found).
fn write(
    dir: &PathBuf,
    files: impl IntoIterator<Item = (String, Vec<u8>)>,
) -> Result<(), Box<dyn std::error::Error>> {
    fs::create_dir_all(dir)?;
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("regression-")) {
            fs::remove_file(path)?;
        }
    }
    let mut count = 0;
    for (name, data) in files {
        fs::write(dir.join(name), data)?;
        count += 1;
    }
    println!("{}: {count} seeds", dir.display());
    Ok(())
}
