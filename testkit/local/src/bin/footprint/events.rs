//! The events each function gets in its long run, shaped as Lambda delivers them and doing the real
//! work against the emulator, and what counts as success for each. A run whose invocations failed
//! measures an error path, not the function, so every answer is checked.
//!
//! - receiver (and its Node.js twin): signed `v1` deliveries in HTTP API payload-format 2.0 events
//!   (`v1a` ones, signed by a key of a served JWKS, for the receiver's cold first delivery with its key
//!   fetch); each must answer 200, which it only does once SQS accepted the message.
//! - recorder: SQS events of [`RECORDER_BATCH`] ingest messages, every `webhook-id` new; no record may
//!   fail. Each becomes a conditional PutItem and a stream record.
//! - fanout: the real INSERT records the recorder's run left on the table's stream, read back through
//!   the DynamoDB Streams API, in batches of `--fanout-batch` ([`DEFAULT_FANOUT_BATCH`]); no record
//!   may fail, and exactly the records sent must be waiting on the routed queues ([`Drain`]).
//! - consumer: the real downstream messages the fanout's run sent to the batch queue, in batches of
//!   [`CONSUMER_BATCH`]; no record may fail.

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use shared::clock::{Clock, SystemClock};
use shared::event::{Event, EventKind};
use shared::message::IngestMessage;
use shared::signature::sign::{Ed25519Signer, SignedHeaders};
use shared::signature::{Scheme, SigningSecret, Verified};
use shared::{WebhookId, WebhookTimestamp};
use testkit::{HttpRequest, PayloadFormat, StreamReader, http_event};

use crate::Error;
use crate::drain::Drain;
use testkit::Outcome;

/// `template.yaml`: the recorder's SQS trigger, `BatchSize: 10`.
pub(crate) const RECORDER_BATCH: usize = 10;
/// `template.yaml`: the fanout's stream trigger, `BatchSize: 100`, the most it may be handed.
pub(crate) const TEMPLATE_FANOUT_BATCH: usize = 100;
/// Stream records per fanout invocation by default: one window of the fanout's (ten records, one
/// SendMessageBatch per queue), already more than webhook traffic fills between two polls of the
/// stream (four a second). The template's 100 (`--fanout-batch 100`) sends 100,000 messages
/// through the emulator in a 1,000-invocation run, at a few milliseconds each in moto: most of an
/// hour measuring moto, for a peak RSS a few hundred KB higher.
pub(crate) const DEFAULT_FANOUT_BATCH: usize = 10;
/// `template.yaml`: the example consumer's SQS trigger, `BatchSize: 10`.
pub(crate) const CONSUMER_BATCH: usize = 10;

/// Where a run's events come from.
enum Source {
    /// Signed deliveries, made as they are handed out (their timestamps must be fresh).
    Deliveries { signer: Signer, prefix: String },
    /// Ingest-queue batches of new `webhook-id`s.
    Ingest { prefix: String, queue_arn: String },
    /// Events built up front from what the emulator holds, handed out round-robin, with the number
    /// of records in each.
    Prebuilt { events: Vec<Vec<u8>>, records: Vec<usize> },
}

/// How deliveries are signed.
enum Signer {
    /// `v1`, with the receiver's secret.
    V1(SigningSecret),
    /// `v1a`, with a key whose public half the receiver fetches, posted to the URL holding the
    /// receiver's URL token, as Gemini posts a dynamic delivery.
    V1a { key: Box<Ed25519Signer>, url_token: String },
}

/// What a successful answer looks like.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An HTTP response with status 200.
    HttpOk,
    /// A batch response with an empty `batchItemFailures`.
    NoFailures,
}

/// A function's events, how its answers are checked, and what the harness does between invocations.
pub(crate) struct Workload {
    source: Source,
    expect: Expect,
    drain: Option<Drain>,
}

/// Every event type Gemini documents, and one it does not (routed to the default queue).
fn event_types() -> impl Iterator<Item = &'static str> + Clone {
    EventKind::CATALOG.iter().map(|(name, _)| *name).chain(["model.tuned"])
}

/// A Gemini envelope of the `index`-th type (cycling through [`event_types`]), about a job of its own.
fn envelope(index: usize) -> Vec<u8> {
    let count = event_types().count();
    let event_type = event_types().nth(index % count).unwrap_or("batch.succeeded");
    let job = match event_type.split('.').next() {
        Some("batch") => format!("batches/{index}"),
        Some("interaction") => format!("interactions/{index}"),
        Some("video") => format!("operations/{index}"),
        _ => format!("tunedModels/{index}"),
    };
    let body = json!({
        "type": event_type, "version": "v1", "timestamp": "2026-01-22T12:00:00Z",
        "data": {"id": job, "output_file_uri": format!("gs://my-bucket/{job}/results.jsonl")},
        "user_metadata": {"team": "ml"},
    });
    body.to_string().into_bytes()
}

impl Workload {
    /// Signed `v1` deliveries with ids `{prefix}_{index}`, for a receiver configured with `secret`.
    pub(crate) fn deliveries(secret: &SigningSecret, prefix: &str) -> Self {
        let source = Source::Deliveries { signer: Signer::V1(secret.clone()), prefix: prefix.to_owned() };
        Self { source, expect: Expect::HttpOk, drain: None }
    }

    /// Signed `v1a` deliveries with ids `{prefix}_{index}`, for a receiver that fetches `key`'s public
    /// half and holds `url_token`.
    pub(crate) fn v1a_deliveries(key: Ed25519Signer, url_token: &str, prefix: &str) -> Self {
        let signer = Signer::V1a { key: Box::new(key), url_token: url_token.to_owned() };
        let source = Source::Deliveries { signer, prefix: prefix.to_owned() };
        Self { source, expect: Expect::HttpOk, drain: None }
    }

    /// Ingest batches with ids `{prefix}_{n}`, as the trigger on `queue_arn` delivers them.
    pub(crate) fn ingest(prefix: &str, queue_arn: &str) -> Self {
        let source = Source::Ingest { prefix: prefix.to_owned(), queue_arn: queue_arn.to_owned() };
        Self { source, expect: Expect::NoFailures, drain: None }
    }

    /// The stream's records, `expected` of them (all INSERTs), read from `reader` and handed out
    /// `batch` at a time as the stream trigger does, the routed queues drained by `drain` between
    /// invocations. Fails if the stream holds another number: the recorder did not record every
    /// message it was given.
    pub(crate) async fn stream(
        reader: &mut StreamReader,
        expected: usize,
        batch: usize,
        drain: Drain,
    ) -> Result<Self, Error> {
        let mut records = Vec::with_capacity(expected);
        loop {
            let event = reader.next_event().await?;
            if event.records.is_empty() {
                break;
            }
            records.extend(event.records);
        }
        let inserts = records.iter().filter(|r| r.event_name == "INSERT").count();
        if records.len() != expected || inserts != expected {
            return Err(format!(
                "the stream holds {} records ({inserts} INSERTs), not the {expected} the recorder was given",
                records.len()
            )
            .into());
        }
        let (mut events, mut sizes) = (Vec::new(), Vec::new());
        for batch in records.chunks(batch) {
            let mut event = StreamEvent::default();
            event.records = batch.to_vec();
            events.push(serde_json::to_vec(&event)?);
            sizes.push(batch.len());
        }
        let source = Source::Prebuilt { events, records: sizes };
        Ok(Self { source, expect: Expect::NoFailures, drain: Some(drain) })
    }

    /// SQS events of [`CONSUMER_BATCH`] of `messages` each, as the trigger on their queue delivers them.
    pub(crate) fn downstream(messages: Vec<SqsMessage>) -> Result<Self, Error> {
        let (mut events, mut sizes) = (Vec::new(), Vec::new());
        for batch in messages.chunks(CONSUMER_BATCH) {
            let mut event = SqsEvent::default();
            event.records = batch.to_vec();
            events.push(serde_json::to_vec(&event)?);
            sizes.push(batch.len());
        }
        if events.is_empty() {
            return Err("no downstream messages to give the consumer".into());
        }
        let source = Source::Prebuilt { events, records: sizes };
        Ok(Self { source, expect: Expect::NoFailures, drain: None })
    }

    /// The `index`-th event's JSON.
    pub(crate) fn event(&self, index: usize) -> Result<Vec<u8>, Error> {
        match &self.source {
            Source::Deliveries { signer, prefix } => {
                let body = envelope(index);
                let (id, now) = (format!("{prefix}_{index}"), SystemClock.unix_now());
                let request = match signer {
                    Signer::V1(secret) => {
                        HttpRequest::signed(&SignedHeaders::v1(secret, &id, now, &body), &body)
                    }
                    Signer::V1a { key, url_token } => {
                        HttpRequest::signed(&SignedHeaders::v1a(key, &id, now, &body), &body)
                            .with_url_token(url_token)
                    }
                };
                let event = http_event(PayloadFormat::HttpApi, &request);
                Ok(serde_json::to_vec(&event)?)
            }
            Source::Ingest { prefix, queue_arn } => {
                let mut event = SqsEvent::default();
                for n in index * RECORDER_BATCH..(index + 1) * RECORDER_BATCH {
                    event.records.push(ingest_record(&format!("{prefix}_{n}"), n, queue_arn)?);
                }
                Ok(serde_json::to_vec(&event)?)
            }
            Source::Prebuilt { events, .. } => {
                events.get(index % events.len().max(1)).cloned().ok_or_else(|| "no events were built".into())
            }
        }
    }

    /// Between invocations, while the function waits for the next: accounts for what invocation
    /// `index` sent, draining the queues now and then and after the `last` (the fanout's run only).
    pub(crate) async fn after(&mut self, index: usize, last: bool) -> Result<(), Error> {
        let sent = self.records_of(index);
        match &mut self.drain {
            Some(drain) => drain.sent(sent, last).await,
            None => Ok(()),
        }
    }

    /// The consumer's messages the drain kept, if this workload drained.
    pub(crate) fn into_kept(self) -> Vec<SqsMessage> {
        self.drain.map(Drain::into_kept).unwrap_or_default()
    }

    /// How many records (deliveries, messages) the first `invocations` events carry in all.
    pub(crate) fn records(&self, invocations: usize) -> usize {
        (0..invocations).map(|index| self.records_of(index)).sum()
    }

    /// How many records the `index`-th event carries.
    fn records_of(&self, index: usize) -> usize {
        match &self.source {
            Source::Deliveries { .. } => 1,
            Source::Ingest { .. } => RECORDER_BATCH,
            Source::Prebuilt { records, .. } => {
                records.get(index % records.len().max(1)).copied().unwrap_or(0)
            }
        }
    }

    /// Whether `outcome` is a successful answer to invocation `request_id`.
    pub(crate) fn check(&self, request_id: &str, outcome: &Outcome) -> Result<(), String> {
        let body = match outcome {
            Outcome::Response { request_id: answered, body } if answered == request_id => body,
            Outcome::Response { request_id: answered, .. } => {
                return Err(format!("answered {answered}, expected {request_id}"));
            }
            Outcome::Error { request_id: failed, body } => {
                return Err(format!("invocation {failed} failed: {}", String::from_utf8_lossy(body)));
            }
            Outcome::InitError { body } => {
                return Err(format!("init error: {}", String::from_utf8_lossy(body)));
            }
        };
        let answer: Value =
            serde_json::from_slice(body).map_err(|e| format!("answer is not JSON ({e}): {body:?}"))?;
        let good = match self.expect {
            Expect::HttpOk => answer["statusCode"] == 200,
            Expect::NoFailures => answer["batchItemFailures"].as_array().is_some_and(Vec::is_empty),
        };
        if good { Ok(()) } else { Err(format!("unsuccessful answer: {answer}")) }
    }
}

/// One ingest-queue record: what the receiver would have enqueued for delivery `n`.
fn ingest_record(webhook_id: &str, n: usize, queue_arn: &str) -> Result<SqsMessage, Error> {
    let body = envelope(n);
    let now = SystemClock.unix_now();
    let verified = Verified {
        webhook_id: WebhookId::parse(webhook_id)?,
        timestamp: WebhookTimestamp::from_unix(now),
        scheme: Scheme::V1,
        jwt: None,
    };
    let message = IngestMessage::new(verified, &body, Event::parse(&body)?, now * 1000)
        .with_trace(testkit::TRACE_HEADER.parse().ok());
    let mut record = SqsMessage::default();
    record.message_id = Some(format!("00000000-0000-4000-8000-{n:012}"));
    record.receipt_handle = Some(format!("receipt-{n}"));
    record.body = Some(serde_json::to_string(&message)?);
    record.event_source = Some("aws:sqs".into());
    record.event_source_arn = Some(queue_arn.to_owned());
    record.aws_region = Some(testkit::REGION.into());
    Ok(record)
}

/// Messages waiting (visible) in a queue: how the harness checks that a run really enqueued.
pub(crate) async fn visible_messages(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<u64, Error> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await?;
    let count = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no message count for {url}"))?;
    Ok(count)
}
