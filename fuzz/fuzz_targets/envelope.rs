//! The Gemini event envelope (`Event::parse`, the receiver's parse of a verified body) and the
//! inter-stage messages on arbitrary bytes: `IngestMessage` as the recorder reads the ingest queue, and
//! `DownstreamMessage::from_sqs_body` as a consumer reads a routed queue.
//!
//! Why: these are the JSON contracts between stages; a body that parses must survive every hop
//! unchanged. Checked: both ways of reading an event agree; what parses serialises and parses back
//! equal; an ingest message goes through the table item the recorder writes and the fanout decodes,
//! then the downstream message, and arrives equal; ids and timestamps read from a queue meet the same
//! bounds as those read from headers (`shared::id`'s promise).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::event::Event;
use shared::message::{DownstreamMessage, EventRecord, IngestMessage};
use webhooks_fuzz::{check_event, check_id_and_timestamp};

/// When the recorder records, in the round trip (Unix ms), and its TTL (7 days).
const RECORDED_AT_MS: i64 = 1_769_083_200_250;
const TTL_SECS: u64 = 7 * 24 * 3600;

fuzz_target!(|data: &[u8]| {
    let event = Event::parse(data);
    let via_serde = serde_json::from_slice::<Event>(data);
    // The receiver's parse is the stricter (it also refuses integers beyond 64 bits, which only raw
    // bytes show): what it takes, serde takes the same.
    if let Ok(event) = &event {
        assert_eq!(via_serde.as_ref().ok(), Some(event), "Event::parse and serde disagree");
    }
    if let Ok(event) = event {
        check_event(&event);
    }

    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(message) = serde_json::from_str::<IngestMessage>(text) {
        check_ingest(message);
    }
    if let Ok(message) = DownstreamMessage::from_sqs_body(text) {
        check_downstream(&message);
    }
});

fn check_ingest(message: IngestMessage) {
    check_id_and_timestamp(&message.provenance.webhook_id, message.provenance.webhook_timestamp);
    check_event(&message.event);
    let json = serde_json::to_string(&message).expect("an ingest message serialises");
    let again: IngestMessage = serde_json::from_str(&json).expect("an ingest message parses back");
    assert_eq!(again, message);

    // The recorder's write, the stream, the fanout's decode.
    let record = EventRecord::new(message, RECORDED_AT_MS, TTL_SECS);
    let item: serde_dynamo::Item = serde_dynamo::to_item(&record).expect("a record encodes as an item");
    let decoded = shared::message::EventRecord::from_stream_image(item).expect("the recorder's item decodes");
    assert_eq!(decoded, record, "record changed through the table");
    let downstream = DownstreamMessage::from(record);
    let body = serde_json::to_string(&downstream).expect("a downstream message serialises");
    let delivered = DownstreamMessage::from_sqs_body(&body).expect("a downstream message parses back");
    assert_eq!(delivered, downstream, "downstream message changed on the queue");
}

fn check_downstream(message: &DownstreamMessage) {
    check_id_and_timestamp(&message.provenance.webhook_id, message.provenance.webhook_timestamp);
    check_event(&message.event);
    let _ = message.kind();
    let body = serde_json::to_string(message).expect("a downstream message serialises");
    assert_eq!(&DownstreamMessage::from_sqs_body(&body).expect("parses back"), message);
}
