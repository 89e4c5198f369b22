//! The stack's table and queues, as `template.yaml` defines them, created in an emulator under a
//! unique prefix so tests sharing one emulator never see each other's data.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};
use shared::fixtures::stack::{LedgerResources, RoutedQueues, StackResources, StarterResources};

use crate::Emulator;

/// The events table's settings.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    /// Name suffix after the stack prefix.
    pub name: &'static str,
    /// Partition key (a string).
    pub partition_key: &'static str,
    /// Attribute holding the expiry time in Unix seconds.
    pub ttl_attribute: &'static str,
    /// What the stream carries (new images only), if the table has one.
    pub stream_view: Option<&'static str>,
}

/// The table every delivery is recorded in, keyed by `webhook-id`.
pub const EVENTS_TABLE: TableSpec = TableSpec {
    name: "events",
    partition_key: shared::message::table::KEY,
    ttl_attribute: shared::message::table::EXPIRES_AT,
    stream_view: Some(shared::message::table::STREAM_VIEW),
};

/// The example consumer's claims on each `webhook_id` (`shared::aws::idempotency`).
pub const CLAIMS_TABLE: TableSpec = TableSpec {
    name: "claims",
    partition_key: shared::aws::idempotency::KEY,
    ttl_attribute: shared::aws::idempotency::EXPIRES_AT,
    stream_view: None,
};

/// The receiver's ledger of verified JWTs (created when JWT is accepted).
pub const JWT_TOKENS_TABLE: TableSpec = TableSpec {
    name: "jwt-tokens",
    partition_key: shared::signature::jwt_tokens::KEY,
    ttl_attribute: shared::signature::jwt_tokens::EXPIRES_AT,
    stream_view: None,
};

/// The jobs ledger: one entry per tracked job (`shared::ledger`).
pub const JOBS_TABLE: TableSpec = TableSpec {
    name: "jobs",
    partition_key: shared::aws::jobs_ledger::KEY,
    ttl_attribute: "expires_at",
    stream_view: None,
};

/// The schedule group a tracked job's checks are made in, after the stack prefix.
pub const SCHEDULE_GROUP: &str = "checks";

/// A queue's settings; every queue has a dead-letter queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueSpec {
    /// Name suffix after the stack prefix; the DLQ adds `-dlq`.
    pub name: &'static str,
    /// At least six times the consuming function's timeout, as AWS advises for Lambda triggers.
    pub visibility_timeout_secs: u32,
    /// Receives before a message moves to the DLQ.
    pub max_receive_count: u32,
    /// How long a message is kept (4 days; the DLQ keeps 14).
    pub retention_secs: u32,
}

/// Retention of every dead-letter queue: the SQS maximum, 14 days.
pub const DLQ_RETENTION_SECS: u32 = 14 * 24 * 3600;

const fn queue(name: &'static str) -> QueueSpec {
    QueueSpec { name, visibility_timeout_secs: 180, max_receive_count: 5, retention_secs: 4 * 24 * 3600 }
}

/// The queue the receiver writes verified deliveries to; the recorder reads it.
pub const INGEST_QUEUE: QueueSpec = queue("ingest");

/// The routed queues the fanout writes to; users hang their Lambdas off these.
pub const ROUTED_QUEUES: [QueueSpec; 4] =
    [queue("batch"), queue("interaction"), queue("video"), queue("default")];

/// The example consumer's own queue, fed by the routing beside the routed queues (its visibility
/// timeout six times the consumer's 300-second timeout).
pub const CONSUMER_QUEUE: QueueSpec = QueueSpec { visibility_timeout_secs: 1800, ..queue("consumer") };

/// The queue workflows' tasks send job requests to; the starter reads it (its visibility timeout six
/// times the starter's 60-second timeout).
pub const JOB_REQUESTS_QUEUE: QueueSpec = QueueSpec { visibility_timeout_secs: 360, ..queue("job-requests") };

/// A queue where what could not be processed is kept for people to look at: no consumer, no DLQ of its
/// own, the longest retention SQS allows.
#[derive(Debug, Clone, Copy)]
pub struct KeptQueueSpec {
    /// Name suffix after the stack prefix.
    pub name: &'static str,
    /// How long a message is kept: 14 days, the SQS maximum.
    pub retention_secs: u32,
}

/// Verified deliveries the receiver could not turn into an ingest message.
pub const QUARANTINE_QUEUE: KeptQueueSpec =
    KeptQueueSpec { name: "quarantine", retention_secs: DLQ_RETENTION_SECS };

/// Recorded events a routed queue refused for good, as full downstream messages (and the stream
/// trigger's pointers to batches it gave up on).
pub const FANOUT_DLQ: KeptQueueSpec =
    KeptQueueSpec { name: "fanout-dlq", retention_secs: DLQ_RETENTION_SECS };

/// The largest message every queue of the stack accepts: SQS's maximum, which the size budget is
/// derived from ([`shared::limits`]).
pub const MAX_MESSAGE_BYTES: usize = shared::limits::SQS_MAX_MESSAGE_BYTES;

/// The stack's resources could not be created.
#[derive(Debug, thiserror::Error)]
#[error("creating {what} failed: {detail}")]
pub struct StackError {
    what: String,
    detail: String,
}

impl StackError {
    pub(crate) fn new(what: impl Into<String>, error: impl std::error::Error) -> Self {
        Self { what: what.into(), detail: DisplayErrorContext(error).to_string() }
    }
}

/// A queue without a DLQ, created.
#[derive(Debug, Clone)]
pub struct KeptQueue {
    /// The queue's name.
    pub name: String,
    /// The queue's URL.
    pub url: String,
    /// The queue's ARN.
    pub arn: String,
}

/// A queue and its DLQ, created.
#[derive(Debug, Clone)]
pub struct Queue {
    /// The queue's name.
    pub name: String,
    /// The queue's URL.
    pub url: String,
    /// The queue's ARN.
    pub arn: String,
    /// The dead-letter queue's URL.
    pub dlq_url: String,
}

/// The stack's resources in one emulator.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The unique prefix of every name.
    pub prefix: String,
    /// The events table's name.
    pub table: String,
    /// The events table's stream ARN.
    pub stream_arn: String,
    /// The ingest queue.
    pub ingest: Queue,
    /// The routed queues by spec name (`batch`, `interaction`, `video`, `default`).
    pub routed: BTreeMap<&'static str, Queue>,
    /// The example consumer's own queue.
    pub consumer: Queue,
    /// The workflows' job-requests queue.
    pub job_requests: Queue,
    /// The receiver's quarantine.
    pub quarantine: KeptQueue,
    /// The fanout's dead-letter queue.
    pub fanout_dlq: KeptQueue,
    /// The example consumer's claims table.
    pub claims_table: String,
    /// The receiver's ledger of verified JWTs.
    pub jwt_tokens_table: String,
    /// The example consumer's results bucket (encrypted and private in the template; the emulator
    /// takes neither).
    pub results_bucket: String,
    /// The jobs ledger.
    pub jobs_table: String,
    /// The EventBridge Scheduler group of the ledger's checks.
    pub schedule_group: String,
}

impl Stack {
    /// Creates the tables and every queue under a fresh prefix.
    pub async fn create(emulator: &Emulator) -> Result<Self, StackError> {
        Self::create_named(emulator, &unique_prefix()).await
    }

    /// Creates the tables and every queue under `prefix` (`{prefix}-ingest`, `{prefix}-events`, ...):
    /// names known in advance, for `sam local`'s `--env-vars`.
    pub async fn create_named(emulator: &Emulator, prefix: &str) -> Result<Self, StackError> {
        let prefix = prefix.to_owned();
        let dynamodb = emulator.dynamodb().await;
        let sqs = emulator.sqs().await;
        let table = format!("{prefix}-{}", EVENTS_TABLE.name);
        let stream_arn = create_table(&dynamodb, &table, &EVENTS_TABLE).await?.ok_or_else(|| StackError {
            what: format!("table {table}"),
            detail: "no stream ARN returned".into(),
        })?;
        let ingest = create_queue(&sqs, &prefix, &INGEST_QUEUE).await?;
        let mut routed = BTreeMap::new();
        for spec in &ROUTED_QUEUES {
            routed.insert(spec.name, create_queue(&sqs, &prefix, spec).await?);
        }
        let consumer = create_queue(&sqs, &prefix, &CONSUMER_QUEUE).await?;
        let job_requests = create_queue(&sqs, &prefix, &JOB_REQUESTS_QUEUE).await?;
        let quarantine = create_kept_queue(&sqs, &prefix, &QUARANTINE_QUEUE).await?;
        let fanout_dlq = create_kept_queue(&sqs, &prefix, &FANOUT_DLQ).await?;
        let claims_table = format!("{prefix}-{}", CLAIMS_TABLE.name);
        create_table(&dynamodb, &claims_table, &CLAIMS_TABLE).await?;
        let jwt_tokens_table = format!("{prefix}-{}", JWT_TOKENS_TABLE.name);
        create_table(&dynamodb, &jwt_tokens_table, &JWT_TOKENS_TABLE).await?;
        let jobs_table = format!("{prefix}-{}", JOBS_TABLE.name);
        create_table(&dynamodb, &jobs_table, &JOBS_TABLE).await?;
        let schedule_group = format!("{prefix}-{SCHEDULE_GROUP}");
        emulator
            .scheduler()
            .await
            .create_schedule_group()
            .name(&schedule_group)
            .send()
            .await
            .map_err(|e| StackError::new(format!("schedule group {schedule_group}"), e))?;
        let results_bucket = format!("{prefix}-{RESULTS_BUCKET}");
        emulator
            .s3()
            .await
            .create_bucket()
            .bucket(&results_bucket)
            .send()
            .await
            .map_err(|e| StackError::new(format!("bucket {results_bucket}"), e))?;
        Ok(Self {
            prefix,
            table,
            stream_arn,
            ingest,
            routed,
            consumer,
            job_requests,
            quarantine,
            fanout_dlq,
            claims_table,
            jwt_tokens_table,
            results_bucket,
            jobs_table,
            schedule_group,
        })
    }

    /// A routed queue by spec name; panics on a name not in [`ROUTED_QUEUES`] (a test bug).
    pub fn routed(&self, name: &str) -> &Queue {
        &self.routed[name]
    }

    /// The stack's resources as the template hands them to the functions: the example consumer's
    /// queue on every route (as with `DeployExampleConsumer`), JWTs accepted; no endpoint secret (tests
    /// give the receiver its secrets inline).
    pub fn resources(&self) -> StackResources {
        StackResources {
            ingest_queue: self.ingest.url.clone(),
            ingest_dlq: self.ingest.dlq_url.clone(),
            quarantine_queue: self.quarantine.url.clone(),
            fanout_dlq: self.fanout_dlq.url.clone(),
            routed: RoutedQueues {
                batch: self.routed("batch").url.clone(),
                interaction: self.routed("interaction").url.clone(),
                video: self.routed("video").url.clone(),
                default: self.routed("default").url.clone(),
            },
            consumer_queue: Some(self.consumer.url.clone()),
            events_table: self.table.clone(),
            jwt_tokens_table: Some(self.jwt_tokens_table.clone()),
            claims_table: self.claims_table.clone(),
            results_bucket: self.results_bucket.clone(),
            endpoint_secret: None,
            gemini_api_key_secret: format!("{}-gemini-api-key", self.prefix),
            ledger: Some(LedgerResources {
                jobs_table: self.jobs_table.clone(),
                schedule_group: self.schedule_group.clone(),
                scheduler_role_arn: format!("arn:aws:iam::123456789012:role/{}-scheduler", self.prefix),
            }),
            starter: Some(StarterResources {
                job_requests_dlq: self.job_requests.dlq_url.clone(),
                reconciler_arn: self.reconciler_arn(),
                // No receiver is served by the stack itself: whoever serves one gives its URL.
                webhook_url: "http://127.0.0.1:9/".into(),
            }),
        }
    }

    /// The ARN EventBridge Scheduler invokes the stack's reconciler by.
    pub fn reconciler_arn(&self) -> String {
        format!("arn:aws:lambda:{}:123456789012:function:{}-reconciler", crate::REGION, self.prefix)
    }

    /// As [`Stack::resources`], without the example consumer: the routes of a stack deployed
    /// without it.
    pub fn resources_without_consumer(&self) -> StackResources {
        StackResources { consumer_queue: None, ..self.resources() }
    }
}

fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("t{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The results bucket's name, after the prefix.
pub const RESULTS_BUCKET: &str = "results";

/// Creates a table (on-demand, with its stream if the spec has one) and turns on its TTL; returns the
/// stream ARN.
pub async fn create_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    name: &str,
    spec: &TableSpec,
) -> Result<Option<String>, StackError> {
    let what = || format!("table {name}");
    let stream = match spec.stream_view {
        Some(view) => Some(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view))
                .build()
                .map_err(|e| StackError::new(what(), e))?,
        ),
        None => None,
    };
    let created = dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(spec.partition_key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StackError::new(what(), e))?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(spec.partition_key)
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| StackError::new(what(), e))?,
        )
        .set_stream_specification(stream)
        .send()
        .await
        .map_err(|e| StackError::new(what(), e))?;
    dynamodb
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(spec.ttl_attribute)
                .build()
                .map_err(|e| StackError::new(what(), e))?,
        )
        .send()
        .await
        .map_err(|e| StackError::new(what(), e))?;
    Ok(created.table_description().and_then(|t| t.latest_stream_arn()).map(str::to_owned))
}

/// Creates a queue with its DLQ and redrive policy.
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    spec: &QueueSpec,
) -> Result<Queue, StackError> {
    create_queue_named(sqs, prefix, spec.name, spec).await
}

/// Creates the queue `{prefix}-{name}` with `spec`'s settings, its DLQ and redrive policy.
pub async fn create_queue_named(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    name: &str,
    spec: &QueueSpec,
) -> Result<Queue, StackError> {
    let name = format!("{prefix}-{name}");
    let dlq_name = format!("{name}-dlq");
    let dlq_url = create_one(
        sqs,
        &dlq_name,
        [
            (QueueAttributeName::MessageRetentionPeriod, DLQ_RETENTION_SECS.to_string()),
            (QueueAttributeName::MaximumMessageSize, MAX_MESSAGE_BYTES.to_string()),
        ],
    )
    .await?;
    let dlq_arn = queue_arn(sqs, &dlq_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": spec.max_receive_count.to_string(),
    })
    .to_string();
    let url = create_one(
        sqs,
        &name,
        [
            (QueueAttributeName::VisibilityTimeout, spec.visibility_timeout_secs.to_string()),
            (QueueAttributeName::MessageRetentionPeriod, spec.retention_secs.to_string()),
            (QueueAttributeName::MaximumMessageSize, MAX_MESSAGE_BYTES.to_string()),
            (QueueAttributeName::RedrivePolicy, redrive),
        ],
    )
    .await?;
    let arn = queue_arn(sqs, &url).await?;
    Ok(Queue { name, url, arn, dlq_url })
}

/// Creates a queue that keeps what could not be processed (no DLQ of its own).
pub async fn create_kept_queue(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    spec: &KeptQueueSpec,
) -> Result<KeptQueue, StackError> {
    let name = format!("{prefix}-{}", spec.name);
    let url = create_one(
        sqs,
        &name,
        [
            (QueueAttributeName::MessageRetentionPeriod, spec.retention_secs.to_string()),
            (QueueAttributeName::MaximumMessageSize, MAX_MESSAGE_BYTES.to_string()),
        ],
    )
    .await?;
    let arn = queue_arn(sqs, &url).await?;
    Ok(KeptQueue { name, url, arn })
}

/// Creates a FIFO queue (`{prefix}-{name}.fifo`), deduplicating by explicit id only; returns its URL.
pub async fn create_fifo_queue(
    sqs: &aws_sdk_sqs::Client,
    prefix: &str,
    name: &str,
) -> Result<String, StackError> {
    let name = format!("{prefix}-{name}.fifo");
    create_one(
        sqs,
        &name,
        [
            (QueueAttributeName::FifoQueue, "true".to_owned()),
            (QueueAttributeName::ContentBasedDeduplication, "false".to_owned()),
        ],
    )
    .await
}

async fn create_one(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: impl IntoIterator<Item = (QueueAttributeName, String)>,
) -> Result<String, StackError> {
    let mut request = sqs.create_queue().queue_name(name);
    for (key, value) in attributes {
        request = request.attributes(key, value);
    }
    let created = request.send().await.map_err(|e| StackError::new(format!("queue {name}"), e))?;
    created
        .queue_url()
        .map(str::to_owned)
        .ok_or_else(|| StackError { what: format!("queue {name}"), detail: "no URL returned".into() })
}

/// Every message waiting in `url`, with its attributes, deleted as read: what a test asserts on.
pub async fn drain_queue(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<Vec<aws_sdk_sqs::types::Message>, StackError> {
    let mut all = Vec::new();
    loop {
        let batch = receive_batch(sqs, url, 0).await?;
        if batch.is_empty() {
            return Ok(all);
        }
        all.extend(batch);
    }
}

/// Up to ten messages from `url`, deleted once read: one poll of a consumer. `wait_secs` above zero
/// long-polls, as Lambda's SQS trigger does, so an idle consumer waits in the queue instead of
/// spinning.
pub async fn receive_batch(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    wait_secs: i32,
) -> Result<Vec<aws_sdk_sqs::types::Message>, StackError> {
    let page = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_secs)
        .message_attribute_names("All")
        // Every system attribute, as Lambda's SQS trigger hands them over (`AWSTraceHeader` among them).
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| StackError::new(format!("queue {url}"), e))?;
    if page.messages().is_empty() {
        return Ok(Vec::new());
    }
    for message in page.messages() {
        check_sqs_safe(message)?;
    }
    let entries = page.messages().iter().enumerate().map(|(i, message)| {
        DeleteMessageBatchRequestEntry::builder()
            .id(i.to_string())
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .build()
            .map_err(|e| StackError::new(format!("queue {url}"), e))
    });
    let deleted = sqs
        .delete_message_batch()
        .queue_url(url)
        .set_entries(Some(entries.collect::<Result<_, _>>()?))
        .send()
        .await
        .map_err(|e| StackError::new(format!("queue {url}"), e))?;
    if let Some(failed) = deleted.failed().first() {
        let detail = failed.message().unwrap_or("delete failed").to_owned();
        return Err(StackError { what: format!("queue {url}"), detail });
    }
    Ok(page.messages().to_vec())
}

/// Fails on a message holding a character SQS refuses, in its body or a String attribute: the
/// emulator may store what SQS would never have accepted, so every message a test reads back is
/// checked here.
pub fn check_sqs_safe(message: &aws_sdk_sqs::types::Message) -> Result<(), StackError> {
    let id = message.message_id().unwrap_or("?");
    let texts = std::iter::once(("body", message.body().unwrap_or_default())).chain(
        message
            .message_attributes()
            .into_iter()
            .flatten()
            .map(|(name, value)| (name.as_str(), value.string_value().unwrap_or_default())),
    );
    for (part, text) in texts {
        if let Some((offset, c)) = shared::sqs::first_disallowed(text) {
            return Err(StackError {
                what: format!("message {id}"),
                detail: format!("{part} holds {c:?} at byte {offset}, which SQS refuses"),
            });
        }
    }
    Ok(())
}

async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, StackError> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| StackError::new(format!("queue {url}"), e))?;
    attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| StackError { what: format!("queue {url}"), detail: "no ARN returned".into() })
}
