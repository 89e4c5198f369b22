//! The whole pipeline on one machine: the real receiver, recorder and fanout handlers wired to the
//! emulator's queues, table and stream, with local triggers that behave like the template's event
//! source mappings (SQS batches of up to 10 with partial failures; the table stream, INSERT only).

pub mod http;
pub mod sample_events;

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use fanout::{DEFAULT_MAX_ATTEMPTS, Fanout, SqsPublisher};
use lambda_http::{Body, Request, Response};
use lambda_runtime::{Context, LambdaEvent};
use receiver::{Config, Receiver, SqsIngestQueue};
use recorder::{DynamoDbEventStore, Recorder};
use shared::clock::Clock;
use shared::config::FromVars;
use shared::routing::Routes;
use testkit::{Emulator, Stack, StreamReader};

/// What a pass of the local triggers did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drained {
    /// Ingest messages handed to the recorder.
    pub ingested: usize,
    /// Of those, reported failed by the recorder (made visible again for redelivery).
    pub ingest_failures: usize,
    /// INSERT records handed to the fanout.
    pub inserts: usize,
    /// Of those, reported failed by the fanout.
    pub stream_failures: usize,
}

/// The deployed stack, locally.
pub struct Pipeline {
    /// The stack's resources in the emulator.
    pub stack: Stack,
    /// An SQS client straight to the emulator: the triggers' side, which an outage between the
    /// functions and AWS does not touch.
    pub sqs: aws_sdk_sqs::Client,
    receiver: Arc<Receiver<SqsIngestQueue>>,
    recorder: Recorder<DynamoDbEventStore>,
    fanout: Fanout<SqsPublisher>,
    stream: StreamReader,
    /// A stream batch the fanout failed, retried from its first failed record before anything newer,
    /// as the stream trigger does.
    pending_stream: Option<aws_lambda_events::event::dynamodb::Event>,
}

impl Pipeline {
    /// Creates the stack's resources in `emulator` and wires the three functions to them, the receiver
    /// configured by `receiver_vars` (its `INGEST_QUEUE_URL` is filled in).
    pub async fn start(
        emulator: &Emulator,
        receiver_vars: &[(&str, String)],
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        Self::start_through(emulator, emulator.endpoint(), receiver_vars, clock).await
    }

    /// As [`Pipeline::start`], with the functions reaching AWS through `functions_endpoint` (a
    /// [`testkit::FaultProxy`] in front of the emulator), and the triggers reaching it directly.
    pub async fn start_through(
        emulator: &Emulator,
        functions_endpoint: &str,
        receiver_vars: &[(&str, String)],
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let stack = Stack::create(emulator).await?;
        let direct = emulator.sdk_config().await;
        let sdk = testkit::sdk_config_for(functions_endpoint).await;
        let sqs = aws_sdk_sqs::Client::new(&direct);
        let config = Config::from_lookup(|name| match name {
            "INGEST_QUEUE_URL" => Some(stack.ingest.url.clone()),
            _ => receiver_vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()),
        })?;
        let secretsmanager = aws_sdk_secretsmanager::Client::new(&sdk);
        let verification = receiver::build_verification(&config, || secretsmanager, clock.clone()).await?;
        let receiver = Arc::new(Receiver {
            verification,
            queue: SqsIngestQueue::new(aws_sdk_sqs::Client::new(&sdk), &stack.ingest.url),
            max_body_bytes: config.max_body_bytes,
            clock: clock.clone(),
        });
        let recorder = Recorder {
            store: DynamoDbEventStore::new(aws_sdk_dynamodb::Client::new(&sdk), &stack.table),
            ttl_secs: recorder::DEFAULT_RECORD_TTL_SECS,
            clock: clock.clone(),
        };
        let routes = Routes::parse(Some(&template_routes(&stack)), stack.routed("default").url.clone())?;
        let fanout = Fanout {
            routes,
            publisher: SqsPublisher::new(aws_sdk_sqs::Client::new(&sdk)),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            clock,
        };
        let stream = StreamReader::open(&direct, &stack.stream_arn).await?;
        Ok(Self { stack, sqs, receiver, recorder, fanout, stream, pending_stream: None })
    }

    /// The receiver, to serve over HTTP while the triggers run.
    pub fn receiver(&self) -> Arc<Receiver<SqsIngestQueue>> {
        self.receiver.clone()
    }

    /// One HTTP delivery to the receiver.
    pub async fn deliver(&self, request: Request) -> Response<Body> {
        receiver::handle(&self.receiver, request).await
    }

    /// Runs both triggers: the ingest queue into the recorder, then the stream into the fanout.
    pub async fn drain(&mut self) -> Result<Drained, Box<dyn std::error::Error>> {
        let ingest = self.drain_ingest().await?;
        let stream = self.drain_stream().await?;
        Ok(Drained { inserts: stream.inserts, stream_failures: stream.stream_failures, ..ingest })
    }

    /// The SQS trigger: batches of up to ten from the ingest queue into the recorder until the queue
    /// is empty; records the recorder reports failed become visible again (at once, here), and the
    /// pass stops at the first batch with failures, so a persistent fault cannot spin.
    pub async fn drain_ingest(&mut self) -> Result<Drained, Box<dyn std::error::Error>> {
        let mut drained = Drained::default();
        loop {
            let batch = self
                .sqs
                .receive_message()
                .queue_url(&self.stack.ingest.url)
                .max_number_of_messages(10)
                .send()
                .await?;
            if batch.messages().is_empty() {
                return Ok(drained);
            }
            let event = sqs_event(batch.messages());
            let response =
                recorder::handle(&self.recorder, LambdaEvent::new(event, Context::default())).await?;
            let failed: Vec<&str> =
                response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
            drained.ingested += batch.messages().len();
            drained.ingest_failures += failed.len();
            for message in batch.messages() {
                let handle = message.receipt_handle().unwrap_or_default();
                let url = &self.stack.ingest.url;
                if failed.contains(&message.message_id().unwrap_or_default()) {
                    self.sqs
                        .change_message_visibility()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .visibility_timeout(0)
                        .send()
                        .await?;
                } else {
                    self.sqs.delete_message().queue_url(url).receipt_handle(handle).send().await?;
                }
            }
            if !failed.is_empty() {
                return Ok(drained);
            }
        }
    }

    /// The stream trigger: a failed batch is retried from its first failed record; only then are
    /// new records (INSERT only, the template's filter) read and handed to the fanout.
    pub async fn drain_stream(&mut self) -> Result<Drained, Box<dyn std::error::Error>> {
        let mut drained = Drained::default();
        let event = match self.pending_stream.take() {
            Some(pending) => pending,
            None => {
                let mut event = self.stream.next_event().await?;
                event.records.retain(|r| r.event_name == "INSERT");
                event
            }
        };
        if event.records.is_empty() {
            return Ok(drained);
        }
        drained.inserts = event.records.len();
        let retry = event.clone();
        let response = fanout::handle(&self.fanout, LambdaEvent::new(event, Context::default())).await?;
        drained.stream_failures = response.batch_item_failures.len();
        let first_failed = retry.records.iter().position(|r| {
            response.batch_item_failures.iter().any(|f| f.item_identifier == r.change.sequence_number)
        });
        if let Some(first) = first_failed {
            let mut pending = retry;
            pending.records.drain(..first);
            self.pending_stream = Some(pending);
        }
        Ok(drained)
    }
}

/// The routing `template.yaml` configures, pointed at this stack's queues.
fn template_routes(stack: &Stack) -> String {
    serde_json::json!([
        {"match": "batch.*", "queues": [stack.routed("batch").url]},
        {"match": "interaction.*", "queues": [stack.routed("interaction").url]},
        {"match": "video.*", "queues": [stack.routed("video").url]},
    ])
    .to_string()
}

fn sqs_event(messages: &[aws_sdk_sqs::types::Message]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages
        .iter()
        .map(|m| {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id().map(str::to_owned);
            record.receipt_handle = m.receipt_handle().map(str::to_owned);
            record.body = m.body().map(str::to_owned);
            record.event_source = Some("aws:sqs".into());
            record
        })
        .collect();
    event
}
