//! The fanout's decode of a DynamoDB stream record's NEW_IMAGE into an `EventRecord`
//! (`EventRecord::from_stream_image`), on JSON in DynamoDB's attribute-value form, read the way the Lambda
//! runtime reads it: a whole stream event (`{"Records": [...]}`, every INSERT decoded), or one image
//! alone (`{"webhook_id": {"S": "..."}, ...}`) so the fuzzer spends its effort on the image.
//!
//! Why: the image is the fanout's only input, and a record that fails to decode is retried and then
//! dead-lettered, so decoding must refuse cleanly, never panic. Checked where it decodes: the item the
//! recorder would write for the record decodes back equal, routing answers, the downstream message
//! round-trips through its queue body, and ids and timestamps meet the header bounds.
#![no_main]

use std::sync::LazyLock;

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use libfuzzer_sys::fuzz_target;
use shared::message::DownstreamMessage;
use shared::routing::Routes;
use webhooks_fuzz::{check_event, check_id_and_timestamp};

/// Routing as a deployment would configure it: by type glob, and by type and user metadata.
static ROUTES: LazyLock<Routes> = LazyLock::new(|| {
    let rules = r#"[
        {"match": "batch.*", "queues": ["https://sqs.us-east-1.amazonaws.com/123456789012/batch"]},
        {"match": "*.failed", "metadata": {"team": "ml"},
         "queues": ["https://sqs.us-east-1.amazonaws.com/123456789012/ml-alerts"]},
        {"match": "video.generated", "queues": ["https://sqs.us-east-1.amazonaws.com/123456789012/batch"]}
    ]"#;
    Routes::parse(Some(rules), "https://sqs.us-east-1.amazonaws.com/123456789012/default").expect("routes")
});

fuzz_target!(|data: &[u8]| {
    let images: Vec<serde_dynamo::Item> = match serde_json::from_slice::<StreamEvent>(data) {
        Ok(event) => event
            .records
            .into_iter()
            .filter(|record| record.event_name == "INSERT")
            .map(|record| record.change.new_image)
            .collect(),
        Err(_) => match serde_json::from_slice::<serde_dynamo::Item>(data) {
            Ok(image) => vec![image],
            Err(_) => return,
        },
    };
    for image in images {
        let record = match shared::message::EventRecord::from_stream_image(image) {
            Ok(record) => record,
            Err(error) => {
                let _ = error.to_string();
                continue;
            }
        };
        check_id_and_timestamp(&record.provenance.webhook_id, record.provenance.webhook_timestamp);
        check_event(&record.event);

        let item: serde_dynamo::Item = serde_dynamo::to_item(&record).expect("a record encodes as an item");
        let again =
            shared::message::EventRecord::from_stream_image(item).expect("the recorder's item decodes");
        assert_eq!(again, record, "record changed through the table");

        let destinations = ROUTES.destinations(&record.event_type, record.event.user_metadata());
        assert!(!destinations.targets.is_empty());
        assert_eq!(destinations.by_default, destinations.targets == [ROUTES_DEFAULT]);

        let message = DownstreamMessage::from(record);
        let body = serde_json::to_string(&message).expect("a downstream message serialises");
        let delivered = DownstreamMessage::from_sqs_body(&body).expect("a downstream message parses back");
        assert_eq!(delivered, message, "downstream message changed on the queue");
    }
});

const ROUTES_DEFAULT: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/default";
