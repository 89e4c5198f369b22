//! The three Standard Webhooks headers as the network delivers them: any names, any bytes, repeated,
//! split or missing, in the text form of `webhooks_fuzz::Delivery` (`x-fuzz-now: N` moves the clock).
//!
//! Why: header parsing and bounding run on every request before anything is authenticated. Checked:
//! `WebhookId::parse` and `WebhookTimestamp::parse` accept exactly what their documentation says and
//! round-trip through serde; the verifier reports missing and repeated headers in its documented order
//! (id, timestamp, signature), applies the window before any crypto, and never verifies or answers with
//! anything but what `Fixture::check_verdict` allows.
#![no_main]

use http::HeaderMap;
use libfuzzer_sys::fuzz_target;
use shared::id::{IdError, MAX_WEBHOOK_ID_LEN};
use shared::signature::{
    DEFAULT_TOLERANCE_SECS, VerifyError, WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP,
};
use shared::{WebhookId, WebhookTimestamp};
use webhooks_fuzz::{Delivery, FIXTURE, single_str};

fuzz_target!(|data: &[u8]| {
    let delivery = Delivery::parse(data);
    for (_, value) in &delivery.headers {
        if let Ok(text) = std::str::from_utf8(value) {
            check_id(text);
            check_timestamp(text);
        }
    }
    if let Ok(text) = std::str::from_utf8(delivery.body) {
        check_id(text);
        check_timestamp(text);
    }

    let headers = delivery.header_map();
    let now = FIXTURE.set_clock(&headers, delivery.now_offset());
    let verdict = FIXTURE.verify(&headers, delivery.body);
    FIXTURE.check_verdict(&headers, delivery.body, &verdict);
    check_order(&headers, now, &verdict);
});

/// An id is 1 to 256 bytes of printable ASCII without spaces, kept as given.
fn check_id(raw: &str) {
    let valid =
        !raw.is_empty() && raw.len() <= MAX_WEBHOOK_ID_LEN && raw.bytes().all(|b| b.is_ascii_graphic());
    match WebhookId::parse(raw) {
        Ok(id) => {
            assert!(valid, "accepted id {raw:?}");
            assert_eq!(id.as_str(), raw);
            let json = serde_json::to_string(&id).expect("an id serialises");
            assert_eq!(serde_json::from_str::<WebhookId>(&json).expect("an id deserialises"), id);
        }
        Err(_) => {
            assert!(!valid, "refused id {raw:?}");
            assert!(serde_json::from_value::<WebhookId>(raw.into()).is_err(), "serde accepted {raw:?}");
        }
    }
}

/// A timestamp is 1 to 18 ASCII digits, read as base 10.
fn check_timestamp(raw: &str) {
    let valid = (1..=18).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit());
    match WebhookTimestamp::parse(raw) {
        Ok(timestamp) => {
            assert!(valid, "accepted timestamp {raw:?}");
            assert_eq!(Ok(timestamp.unix()), raw.parse::<i64>());
            let json = serde_json::to_string(&timestamp).expect("a timestamp serialises");
            assert_eq!(serde_json::from_str::<WebhookTimestamp>(&json).expect("deserialises"), timestamp);
        }
        Err(error) => {
            assert!(!valid, "refused timestamp {raw:?}");
            assert_eq!(error, IdError::TimestampNotInteger);
        }
    }
}

/// The verdict names the first problem in the documented order, and the window is applied before any
/// signature is looked at.
fn check_order(headers: &HeaderMap, now: i64, verdict: &Result<shared::Verified, VerifyError>) {
    let count = |name| headers.get_all(name).iter().count();
    let valid = |name: &str, raw: &str| match name {
        // The verifier refuses a comma too: two ids a proxy joined.
        WEBHOOK_ID => WebhookId::parse(raw).is_ok() && !raw.contains(','),
        _ => WebhookTimestamp::parse(raw).is_ok(),
    };
    for name in [WEBHOOK_ID, WEBHOOK_TIMESTAMP] {
        if count(name) == 0 {
            assert_eq!(verdict.as_ref().err(), Some(&VerifyError::MissingHeader(name)));
            return;
        }
        if !single_str(headers, name).is_some_and(|raw| valid(name, raw)) {
            assert!(
                matches!(verdict, Err(VerifyError::InvalidHeader { header, .. }) if *header == name),
                "{name} repeated or invalid: {verdict:?}"
            );
            return;
        }
    }
    let timestamp = single_str(headers, WEBHOOK_TIMESTAMP)
        .and_then(|t| WebhookTimestamp::parse(t).ok())
        .expect("checked above");
    if count(WEBHOOK_SIGNATURE) == 0 {
        assert_eq!(verdict.as_ref().err(), Some(&VerifyError::MissingHeader(WEBHOOK_SIGNATURE)));
        return;
    }
    let signature_malformed =
        matches!(verdict, Err(VerifyError::InvalidHeader { header: WEBHOOK_SIGNATURE, .. }));
    let age = now - timestamp.unix();
    let window_error = match verdict {
        Err(VerifyError::TimestampTooOld { age_secs, .. }) => Some(*age_secs == age && age > 0),
        Err(VerifyError::TimestampInFuture { ahead_secs, .. }) => Some(*ahead_secs == -age && age < 0),
        _ => None,
    };
    if age.unsigned_abs() > DEFAULT_TOLERANCE_SECS {
        assert!(signature_malformed || window_error == Some(true), "age {age}: {verdict:?}");
    } else {
        assert_eq!(window_error, None, "age {age}: {verdict:?}");
    }
}
