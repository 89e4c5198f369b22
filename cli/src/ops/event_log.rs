//! The events table read as a log: every event recorded in a time window (optionally of some types, or
//! of one job), oldest first; or one event by its `webhook-id`.
//!
//! A window is read with a parallel Scan filtered on `received_at`, not an index: an index on time
//! would cost a second write unit on every event recorded, forever, to save a read that happens when
//! someone replays. A Scan reads the whole table, about 125,000 read units ($0.016 on demand) per
//! million stored 1 KB events, in [`SEGMENTS`] parallel segments, each paginated to its end.

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::try_join_all;
use shared::message::{EventRecord, table};
use wildmatch::WildMatch;

use crate::ops::aws::{AwsCause, cause};
use crate::ops::window::Window;

/// Parallel Scan segments: enough to read a week of events in seconds, few enough for any table.
pub const SEGMENTS: i32 = 4;

/// The table could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading the events table {table} (check the name, your AWS credentials and region)")]
pub struct LogError {
    /// The table.
    pub table: String,
    /// What DynamoDB or the SDK said.
    #[source]
    pub source: AwsCause,
}

/// Which events: a window, and optionally a type glob and a job.
#[derive(Debug, Clone)]
pub struct Filter {
    /// When the receiver accepted them.
    pub window: Window,
    /// A glob on the event type (`batch.*`).
    pub event_type: Option<String>,
    /// The job, `data.id`.
    pub job: Option<String>,
    /// These events alone, by `webhook-id` (read by key: no Scan).
    pub webhook_ids: Vec<String>,
}

impl Filter {
    /// Whether `event` is one this filter selects (the window, type and job; not the ids).
    fn selects(&self, event: &EventRecord) -> bool {
        self.window.contains(event.provenance.received_at)
            && self.event_type.as_deref().is_none_or(|glob| WildMatch::new(glob).matches(&event.event_type))
            && self.job.as_ref().is_none_or(|job| event.data_id.as_ref() == Some(job))
    }
}

/// What a read found.
#[derive(Debug, Default)]
pub struct Found {
    /// The matching events, oldest first.
    pub events: Vec<EventRecord>,
    /// Items in the window that are not events (written by something else), by key, with why.
    pub unreadable: Vec<(String, String)>,
    /// Items the Scan read in all (what it costs).
    pub scanned: usize,
}

/// The events table.
#[derive(Debug, Clone)]
pub struct EventLog {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    page_size: Option<i32>,
}

impl EventLog {
    /// The table `table`.
    pub fn new(dynamodb: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { dynamodb, table: table.into(), page_size: None }
    }

    /// Reads at most `items` items per Scan page (DynamoDB's own limit is 1 MB): to test pagination.
    pub fn with_page_size(mut self, items: i32) -> Self {
        self.page_size = Some(items);
        self
    }

    fn error<E, R>(&self) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E, R>) -> LogError + '_
    where
        E: std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        move |e| LogError { table: self.table.clone(), source: cause(e) }
    }

    /// Every event `filter` selects, oldest first.
    pub async fn find(&self, filter: &Filter) -> Result<Found, LogError> {
        let mut found = Found::default();
        if filter.webhook_ids.is_empty() {
            let segments = (0..SEGMENTS).map(|segment| self.scan_segment(segment, filter));
            for segment in try_join_all(segments).await? {
                found.events.extend(segment.events);
                found.unreadable.extend(segment.unreadable);
                found.scanned += segment.scanned;
            }
        } else {
            for (id, item) in filter
                .webhook_ids
                .iter()
                .zip(try_join_all(filter.webhook_ids.iter().map(|id| self.get(id))).await?)
            {
                match item {
                    Some(Ok(event)) => found.events.push(event),
                    Some(Err(why)) => found.unreadable.push((id.clone(), why)),
                    None => {}
                }
                found.scanned += 1;
            }
        }
        found.events.retain(|e| filter.selects(e));
        found.events.sort_by(|a, b| {
            let key = |e: &EventRecord| (e.provenance.received_at, e.provenance.webhook_id.to_string());
            key(a).cmp(&key(b))
        });
        Ok(found)
    }

    /// One segment of the Scan, every page of it.
    async fn scan_segment(&self, segment: i32, filter: &Filter) -> Result<Found, LogError> {
        let mut found = Found::default();
        let mut expression = "#received BETWEEN :since AND :until".to_owned();
        let mut scan = self
            .dynamodb
            .scan()
            .table_name(&self.table)
            .segment(segment)
            .total_segments(SEGMENTS)
            .set_limit(self.page_size)
            .expression_attribute_names("#received", "received_at")
            .expression_attribute_values(":since", AttributeValue::N(filter.window.since_ms.to_string()))
            // BETWEEN includes its end; the window does not.
            .expression_attribute_values(
                ":until",
                AttributeValue::N((filter.window.until_ms - 1).to_string()),
            );
        if let Some(job) = &filter.job {
            expression.push_str(" AND #job = :job");
            scan = scan
                .expression_attribute_names("#job", "data_id")
                .expression_attribute_values(":job", AttributeValue::S(job.clone()));
        }
        let scan = scan.filter_expression(expression);
        let mut start = None;
        loop {
            let page = scan.clone().set_exclusive_start_key(start).send().await.map_err(self.error())?;
            found.scanned += usize::try_from(page.scanned_count()).unwrap_or(0);
            for item in page.items() {
                match serde_dynamo::from_item::<_, EventRecord>(item.clone()) {
                    Ok(event) => found.events.push(event),
                    Err(e) => {
                        let key =
                            item.get(table::KEY).and_then(|k| k.as_s().ok()).cloned().unwrap_or_default();
                        found.unreadable.push((key, e.to_string()));
                    }
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(found),
            }
        }
    }

    /// The event recorded under `webhook_id`, if any (a consistent read).
    pub async fn get(&self, webhook_id: &str) -> Result<Option<Result<EventRecord, String>>, LogError> {
        let item = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(table::KEY, AttributeValue::S(webhook_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(self.error())?;
        Ok(item.item.map(|item| serde_dynamo::from_item(item).map_err(|e| e.to_string())))
    }
}
