//! The verifier, every scheme at once: three `v1` secrets, a JWKS with two Ed25519 keys and an RSA key,
//! and a JWT audience, fed deliveries in the text form of `webhooks_fuzz::Delivery`.
//!
//! Why: this is the one gate between the internet and the pipeline. Beyond "no panic" it checks that
//! nothing verifies unless it really carries a signature the fixture's keys made (recomputed outside
//! the verifier), and, round trip, that what the fixture signs does verify:
//!
//! - `x-fuzz-now: N` puts the clock N seconds after the delivery's timestamp;
//! - `x-fuzz-sign: v1[:i] | v1a[:i] | jwt` signs the delivery's id, timestamp and body with secret or key
//!   `i` (the input's own signature entries stay, as decoys), then expects it to verify exactly when the
//!   clock is inside the replay window, and a tampered body never to;
//! - `x-fuzz-jwt-header` / `x-fuzz-jwt-claims` (JSON) and `x-fuzz-jwt-sig` (base64url) assemble a JWT
//!   entry; with `x-fuzz-sign: jwt` the header and claims are signed for real, so the claim checks are
//!   reached, and a token that verifies must name the audience and RS256.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use shared::signature::sign::v1_entry;
use shared::signature::{
    DEFAULT_TOLERANCE_SECS, MAX_ASYMMETRIC_ENTRIES, MAX_SIGNATURE_ENTRIES, MAX_SIGNATURE_HEADER_LEN, Scheme,
    VerifyError, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
use shared::{WebhookId, WebhookTimestamp};
use webhooks_fuzz::{AUDIENCE, Delivery, FIXTURE, Fixture};

fuzz_target!(|data: &[u8]| {
    let delivery = Delivery::parse(data);
    match delivery.directive_str("sign") {
        Some(how) => signed(&FIXTURE, &delivery, how),
        None => as_received(&FIXTURE, &delivery),
    }
});

/// The delivery as given: whatever the verdict, it must be one a genuine signature explains.
fn as_received(fixture: &Fixture, delivery: &Delivery<'_>) {
    let mut headers = delivery.header_map();
    if let Some(token) = assembled_jwt(delivery)
        && let Ok(value) = HeaderValue::from_str(&token)
    {
        headers.append(WEBHOOK_SIGNATURE, value);
    }
    fixture.set_clock(&headers, delivery.now_offset());
    let verdict = fixture.verify(&headers, delivery.body);
    fixture.check_verdict(&headers, delivery.body, &verdict);
}

/// A JWT from the `x-fuzz-jwt-*` directives, its signature as given (so never a valid one).
fn assembled_jwt(delivery: &Delivery<'_>) -> Option<String> {
    let header = delivery.directive("jwt-header")?;
    let claims = delivery.directive("jwt-claims").unwrap_or(b"{}");
    let signature = delivery.directive_str("jwt-sig").unwrap_or_default();
    Some(format!("{}.{}.{signature}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims)))
}

/// The delivery's id, timestamp and body signed by the fixture, after the input's own entries.
fn signed(fixture: &Fixture, delivery: &Delivery<'_>, how: &str) {
    let (Some(id), Some(timestamp)) =
        (delivery.header_strs(WEBHOOK_ID).next(), delivery.header_strs(WEBHOOK_TIMESTAMP).next())
    else {
        return;
    };
    let (Ok(id_value), Ok(timestamp_value)) = (HeaderValue::from_str(id), HeaderValue::from_str(timestamp))
    else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(WEBHOOK_ID, id_value);
    headers.insert(WEBHOOK_TIMESTAMP, timestamp_value);
    let now = fixture.set_clock(&headers, delivery.now_offset());
    let (scheme, index) = how.split_once(':').unwrap_or((how, "0"));
    let (scheme, index) = (scheme.trim(), index.trim().parse::<usize>().unwrap_or(0));
    let body = delivery.body;

    let mut custom_jwt = None;
    let entry = match scheme {
        "v1" => v1_entry(&fixture.secrets[index % fixture.secrets.len()], id, timestamp, body),
        "v1a" => fixture.ed25519[index % fixture.ed25519.len()].entry(id, timestamp, body),
        "jwt" => {
            let json = |name| delivery.directive(name).and_then(|v| serde_json::from_slice::<Value>(v).ok());
            let header = json("jwt-header").unwrap_or_else(|| fixture.jwt_header());
            let claims = json("jwt-claims").unwrap_or_else(|| fixture.jwt_claims(now));
            let token = fixture.jwt(&header, &claims);
            if header != fixture.jwt_header() || claims != fixture.jwt_claims(now) {
                custom_jwt = Some((header, claims));
            }
            token
        }
        _ => return,
    };

    // The input's entries go first, as decoys, bounded so the header stays within the verifier's limits
    // (at most one entry fewer than allowed, and room for one more asymmetric entry).
    let asymmetric = |e: &str| {
        let e = e.strip_suffix(',').unwrap_or(e);
        e.starts_with("v1a,") || e.contains('.')
    };
    let mut room_for_asymmetric = MAX_ASYMMETRIC_ENTRIES - 1;
    let mut entries: Vec<&str> = delivery
        .header_strs(WEBHOOK_SIGNATURE)
        .flat_map(str::split_ascii_whitespace)
        .filter(|e| e.bytes().all(|b| b.is_ascii_graphic()))
        // A run of entries a proxy joined with bare commas is split back into several, which the
        // counts below could not see: such decoys are left out (the signature_headers target has them).
        .filter(|e| e.strip_suffix(',').unwrap_or(e).matches(',').count() <= 1)
        .filter(|e| {
            if !asymmetric(e) {
                return true;
            }
            let fits = room_for_asymmetric > 0;
            room_for_asymmetric = room_for_asymmetric.saturating_sub(1);
            fits
        })
        .take(MAX_SIGNATURE_ENTRIES - 1)
        .collect();
    while !entries.is_empty()
        && entries.iter().map(|e| e.len() + 1).sum::<usize>() + entry.len() > MAX_SIGNATURE_HEADER_LEN
    {
        entries.pop();
    }
    entries.push(&entry);
    let Ok(signature) = HeaderValue::from_str(&entries.join(" ")) else { return };
    headers.insert(WEBHOOK_SIGNATURE, signature);

    let verdict = fixture.verify(&headers, body);
    fixture.check_verdict(&headers, body, &verdict);
    let Ok(parsed_timestamp) = WebhookTimestamp::parse(timestamp) else {
        assert!(matches!(verdict, Err(VerifyError::InvalidHeader { .. })), "{verdict:?}");
        return;
    };
    // A comma in the id is two ids joined by a proxy: refused as a header, whatever the signature.
    if WebhookId::parse(id).is_err() || id.contains(',') || entry.len() > MAX_SIGNATURE_HEADER_LEN {
        assert!(matches!(verdict, Err(VerifyError::InvalidHeader { .. })), "{verdict:?}");
        return;
    }
    let in_window = (now - parsed_timestamp.unix()).unsigned_abs() <= DEFAULT_TOLERANCE_SECS;
    match (&verdict, &custom_jwt) {
        (Ok(_), _) => assert!(in_window),
        (Err(VerifyError::TimestampTooOld { .. } | VerifyError::TimestampInFuture { .. }), _) => {
            assert!(!in_window, "{verdict:?}")
        }
        // Real signatures over fuzzed header and claims: refusals are expected, as JWT refusals.
        (Err(VerifyError::Jwt(_)), Some(_)) => {}
        (Err(error), _) => panic!("a genuine {scheme} signature was refused: {error:?}"),
    }
    if let (Ok(verified), Some((header, claims))) = (&verdict, &custom_jwt)
        && verified.scheme == Scheme::Jwt
    {
        check_accepted_jwt(header, claims, now);
    }

    // The same signature over another body must not verify (a JWT does not bind the body: skipped).
    if scheme != "jwt" {
        let mut tampered = body.to_vec();
        match tampered.first_mut() {
            Some(first) => *first ^= 1,
            None => tampered.push(b'{'),
        }
        let verdict = fixture.verify(&headers, &tampered);
        fixture.check_verdict(&headers, &tampered, &verdict);
    }
}

/// A JWT the verifier accepted: RS256, no critical extension, our audience, `iat` and `exp` present and
/// at most ten minutes apart, not expired, not issued in the future, already valid.
fn check_accepted_jwt(header: &Value, claims: &Value, now: i64) {
    assert_eq!(header.get("alg").and_then(Value::as_str), Some("RS256"), "accepted {header}");
    assert!(header.get("crit").is_none_or(Value::is_null), "accepted crit in {header}");
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == AUDIENCE,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud == AUDIENCE),
        _ => false,
    };
    assert!(audience_ok, "accepted a token for another audience: {claims}");
    let leeway = 60.0;
    let exp = claims.get("exp").and_then(Value::as_f64).expect("accepted a token without exp");
    let iat = claims.get("iat").and_then(Value::as_f64).expect("accepted a token without iat");
    assert!(exp - iat <= 600.0, "accepted a long-lived token: {claims}");
    assert!((now as f64) < exp + leeway, "accepted an expired token: {claims}");
    assert!(iat <= (now as f64) + leeway, "accepted a token issued in the future: {claims}");
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64) {
        assert!((now as f64) + leeway >= nbf, "accepted a token not valid yet: {claims}");
    }
}
