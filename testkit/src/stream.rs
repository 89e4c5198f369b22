//! Reading the events table's stream through the DynamoDB Streams API and handing it over in the shape
//! Lambda's stream trigger delivers: what the fanout tests and the local poller feed the fanout.

use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord, StreamViewType};
use aws_sdk_dynamodbstreams::types::{OperationType, ShardIteratorType};

use crate::stack::StackError;

/// A reader of every shard of one stream, from its start, remembering where it stopped.
#[derive(Debug)]
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Open shard iterators; a shard whose iterator runs out is dropped.
    iterators: Vec<String>,
}

impl StreamReader {
    /// Opens every shard of `stream_arn` at its oldest record.
    pub async fn open(config: &aws_config::SdkConfig, stream_arn: &str) -> Result<Self, StackError> {
        let client = aws_sdk_dynamodbstreams::Client::new(config);
        let described = client
            .describe_stream()
            .stream_arn(stream_arn)
            .send()
            .await
            .map_err(|e| StackError::new(format!("stream {stream_arn}"), e))?;
        let mut iterators = Vec::new();
        for shard in described.stream_description().map(|d| d.shards()).unwrap_or_default() {
            let Some(shard_id) = shard.shard_id() else { continue };
            let iterator = client
                .get_shard_iterator()
                .stream_arn(stream_arn)
                .shard_id(shard_id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .map_err(|e| StackError::new(format!("shard {shard_id}"), e))?;
            iterators.extend(iterator.shard_iterator().map(str::to_owned));
        }
        Ok(Self { client, stream_arn: stream_arn.to_owned(), iterators })
    }

    /// The records written since the last call, as one Lambda stream event (possibly empty).
    pub async fn next_event(&mut self) -> Result<Event, StackError> {
        let mut records = Vec::new();
        let mut next_iterators = Vec::new();
        for iterator in std::mem::take(&mut self.iterators) {
            let page = self
                .client
                .get_records()
                .shard_iterator(&iterator)
                .send()
                .await
                .map_err(|e| StackError::new(format!("stream {}", self.stream_arn), e))?;
            records.extend(page.records().iter().map(|r| self.lambda_record(r)));
            next_iterators.extend(page.next_shard_iterator().map(str::to_owned));
        }
        self.iterators = next_iterators;
        let mut event = Event::default();
        event.records = records;
        Ok(event)
    }

    fn lambda_record(&self, record: &aws_sdk_dynamodbstreams::types::Record) -> EventRecord {
        let mut out = EventRecord::default();
        out.event_id = record.event_id().unwrap_or_default().to_owned();
        out.event_name = match record.event_name() {
            Some(OperationType::Insert) => "INSERT",
            Some(OperationType::Modify) => "MODIFY",
            Some(OperationType::Remove) => "REMOVE",
            _ => "UNKNOWN",
        }
        .to_owned();
        out.event_source = Some("aws:dynamodb".into());
        out.event_version = record.event_version().map(str::to_owned);
        out.aws_region = crate::emulator::REGION.to_owned();
        out.event_source_arn = Some(self.stream_arn.clone());
        let mut change = StreamRecord::default();
        if let Some(data) = record.dynamodb() {
            change.keys = data.keys().cloned().unwrap_or_default().into();
            change.new_image = data.new_image().cloned().unwrap_or_default().into();
            change.old_image = data.old_image().cloned().unwrap_or_default().into();
            change.sequence_number = data.sequence_number().map(str::to_owned);
            change.size_bytes = data.size_bytes().unwrap_or_default();
            change.stream_view_type = Some(StreamViewType::NewImage);
        }
        out.change = change;
        out
    }
}
