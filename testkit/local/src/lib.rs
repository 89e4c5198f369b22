//! The whole pipeline on one machine: the real receiver, recorder and fanout handlers wired to the
//! emulator's queues, table and stream, with local triggers that behave like the template's event
//! source mappings (SQS batches of up to 10 with partial failures; the table stream, INSERT only).

pub mod docker_host;
pub mod http;
pub mod load;
pub mod workflow;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::EventRecord as StreamRecord;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use fanout::{Fanout, TargetPublisher};
use lambda_http::{Body, Request, Response};
use lambda_runtime::{Context, LambdaEvent};
use receiver::{Receiver, SqsDeliveryQueues};
use reconciler::ReconcilerFunction;
use recorder::{DynamoDbEventStore, Recorder};
use shared::aws::clients::Clients;
use shared::aws::queue::SqsQueue;
use shared::aws::schedules::CheckRequest;
use shared::clock::Clock;
use shared::config::FromVars;
use shared::fixtures::lambda_events::{sqs_event, sqs_record};
use shared::fixtures::stack::Function;
use shared::message::{DownstreamMessage, EventRecord};
use shared::routing::Routes;
use testkit::{Emulator, Stack, StreamReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The receiver's two URLs, as a user gives them to Gemini: the plain one registered for static (`v1`)
/// webhooks, and the one with the endpoint's token passed in each job's `webhook_config.uris`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// For static webhooks.
    pub plain: String,
    /// For dynamic webhooks: `plain` with `?token=`.
    pub dynamic: String,
    /// The URL token, as the endpoint's secret holds it (the starter reads it there).
    pub token: shared::signature::UrlToken,
}

impl Endpoint {
    /// The URLs of the receiver at `url`, whose URL token is `token`.
    pub fn new(url: &str, token: &shared::signature::UrlToken) -> Self {
        Self { plain: url.to_owned(), dynamic: token.in_url(url), token: token.clone() }
    }

    /// The URL a delivery signed dynamically (`true`) or statically goes to.
    pub fn for_scheme(&self, dynamic: bool) -> &str {
        if dynamic { &self.dynamic } else { &self.plain }
    }
}

/// The loop a user runs, on one machine: the local Gemini (jobs end only when told, deliveries retried
/// 20 ms apart), the pipeline wired to the emulator with its receiver served over HTTP (trusting the
/// local Gemini's keys and the endpoint's URL token), and a client of the local Gemini.
pub struct GeminiLoop {
    /// The local Gemini.
    pub simulator: gemini_sim::Simulator,
    /// The pipeline.
    pub pipeline: Pipeline,
    /// The receiver's URLs.
    pub endpoint: Endpoint,
    /// The user's client of the local Gemini.
    pub gemini: shared::gemini::GeminiClient,
}

impl GeminiLoop {
    /// Starts the loop on `emulator`, the local Gemini accepting `api_key`.
    pub async fn start(emulator: &Emulator, api_key: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let settings = gemini_sim::Settings {
            finish_jobs_after: None,
            first_retry: std::time::Duration::from_millis(20),
            ..gemini_sim::Settings::default()
        };
        let simulator = gemini_sim::Simulator::start(api_key, settings).await?;
        let token = shared::signature::UrlToken::generate();
        let vars = [
            ("WEBHOOK_SECRETS", shared::signature::SigningSecret::generate().expose_whsec()),
            ("WEBHOOK_URL_TOKEN", token.expose().to_owned()),
            ("JWKS_URL", simulator.jwks_url()),
        ];
        let pipeline = Pipeline::start(emulator, &vars, Arc::new(shared::clock::SystemClock)).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = Endpoint::new(&format!("http://{}/", listener.local_addr()?), &token);
        pipeline.serve_receiver(listener);
        let gemini = shared::gemini::GeminiClient::new(
            simulator.base_url(),
            shared::gemini::DEFAULT_API_VERSION,
            api_key,
        )?;
        Ok(Self { simulator, pipeline, endpoint, gemini })
    }

    /// The workflows' starter, starting jobs on the local Gemini with this loop's dynamic webhook.
    pub async fn starter(&self, emulator: &Emulator) -> Result<starter::Starter, Box<dyn std::error::Error>> {
        let (base, key) = (self.simulator.base_url(), self.simulator.api_key());
        self.pipeline.starter(emulator, base, key, &self.endpoint).await
    }
}

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
    /// The events the fanout routed, in stream order.
    pub routed: Vec<Routed>,
}

impl Drained {
    /// Adds another pass's counts and routed events to this one's.
    pub fn add(&mut self, other: Drained) {
        self.ingested += other.ingested;
        self.ingest_failures += other.ingest_failures;
        self.inserts += other.inserts;
        self.stream_failures += other.stream_failures;
        self.routed.extend(other.routed);
    }
}

/// One event the fanout routed: where its rules sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// The event's `webhook-id`.
    pub webhook_id: String,
    /// Its type.
    pub event_type: String,
    /// The queue URLs it went to.
    pub queues: Vec<String>,
}

/// Concurrent recorder invocations the local SQS trigger runs, as Lambda's SQS event source mapping
/// starts with five pollers.
pub const INGEST_POLLERS: usize = 5;

/// The deployed stack, locally.
pub struct Pipeline {
    /// The stack's resources in the emulator.
    pub stack: Stack,
    /// An SQS client straight to the emulator: the triggers' side, which an outage between the
    /// functions and AWS does not touch.
    pub sqs: aws_sdk_sqs::Client,
    receiver: Arc<Receiver<SqsDeliveryQueues>>,
    recorder: Recorder<DynamoDbEventStore, SqsQueue>,
    fanout: Fanout<TargetPublisher, SqsQueue>,
    stream: tokio::sync::Mutex<StreamPosition>,
}

impl Pipeline {
    /// Creates the stack's resources in `emulator` and wires the three functions to them, the receiver
    /// configured by `receiver_vars` (its queue URLs are filled in).
    pub async fn start(
        emulator: &Emulator,
        receiver_vars: &[(&str, String)],
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        Self::start_through(emulator, emulator.endpoint(), receiver_vars, clock).await
    }

    /// As [`Pipeline::start`], the receiver verifying `v1` with `secret` alone, on the system clock:
    /// what most tests need.
    pub async fn with_secret(
        emulator: &Emulator,
        secret: &shared::signature::SigningSecret,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let vars = [("WEBHOOK_SECRETS", secret.expose_whsec())];
        Self::start(emulator, &vars, Arc::new(shared::clock::SystemClock)).await
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
        let sqs = aws_sdk_sqs::Client::new(&direct);
        // Each function configured as the template configures it, with its own timeouts, as deployed.
        let functions = |timeouts| async move {
            let sdk = testkit::sdk_config_for(functions_endpoint, timeouts).await;
            Clients::from_sdk_config(sdk, Some(functions_endpoint.to_owned()))
        };
        let resources = stack.resources();
        let config = receiver::Config::from_lookup(|name| {
            let given = receiver_vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
            given.or_else(|| resources.var(Function::Receiver, name))
        })?;
        let receiver_aws = functions(receiver::TIMEOUTS).await;
        let (verifier, _notices) =
            receiver::build_verifier(&config, || receiver_aws.secretsmanager(), clock.clone()).await?;
        let receiver = Arc::new(Receiver::from_config(&config, verifier, &receiver_aws, clock.clone()));
        let recorder_config = recorder::Config::from_lookup(|name| resources.var(Function::Recorder, name))?;
        let recorder =
            Recorder::from_config(&recorder_config, &functions(recorder::TIMEOUTS).await, clock.clone());
        let fanout_config = fanout::Config::from_lookup(|name| resources.var(Function::Fanout, name))?;
        let fanout = Fanout::from_config(fanout_config, &functions(fanout::TIMEOUTS).await, clock);
        let reader = StreamReader::open(&direct, &stack.stream_arn).await?;
        let stream = tokio::sync::Mutex::new(StreamPosition { reader, pending: None });
        Ok(Self { stack, sqs, receiver, recorder, fanout, stream })
    }

    /// The example consumer on this stack (its claims table and results bucket), calling the Gemini API
    /// at `gemini_base` with `api_key`, which it reads from a secret made here, as in AWS.
    pub async fn consumer(
        &self,
        emulator: &Emulator,
        gemini_base: &str,
        api_key: &str,
    ) -> Result<consumer::Consumer, Box<dyn std::error::Error>> {
        let clients = Self::emulator_clients(emulator).await;
        let secret = self.api_key_secret(&clients, api_key).await?;
        let resources = self.stack.resources();
        let config = consumer::Config::from_lookup(|name| match name {
            "GEMINI_API_KEY_SECRET_ARN" => Some(secret.clone()),
            "GEMINI_API_BASE" => Some(gemini_base.to_owned()),
            _ => resources.var(Function::Consumer, name),
        })?;
        Ok(consumer::Consumer::from_config(&config, &clients, Arc::new(shared::clock::SystemClock)))
    }

    /// The jobs ledger's reconciler on this stack, calling the Gemini API at `gemini_base` with
    /// `api_key` (read from a secret, as in AWS), on `clock`.
    pub async fn reconciler(
        &self,
        emulator: &Emulator,
        gemini_base: &str,
        api_key: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<ReconcilerFunction, Box<dyn std::error::Error>> {
        let clients = Self::emulator_clients(emulator).await;
        let secret = self.api_key_secret(&clients, api_key).await?;
        let resources = self.stack.resources();
        let config = reconciler::Config::from_lookup(|name| match name {
            "GEMINI_API_KEY_SECRET_ARN" => Some(secret.clone()),
            "GEMINI_API_BASE" => Some(gemini_base.to_owned()),
            _ => resources.var(Function::Reconciler, name),
        })?;
        Ok(ReconcilerFunction::from_config(&config, &clients, clock))
    }

    /// The ARN EventBridge Scheduler would invoke the local reconciler by.
    pub fn reconciler_arn(&self) -> String {
        self.stack.reconciler_arn()
    }

    /// EventBridge Scheduler, locally (the emulator keeps schedules but fires none): every check of the
    /// stack's group due by `now_ms` is handed to `reconciler` as Scheduler would invoke it, then
    /// deleted, as a one-time schedule deletes itself. Returns each check's answer, in time order.
    pub async fn run_due_checks(
        &self,
        emulator: &Emulator,
        reconciler: &ReconcilerFunction,
        now_ms: i64,
    ) -> Result<Vec<reconciler::Answer>, Box<dyn std::error::Error>> {
        let scheduler = emulator.scheduler().await;
        let group = &self.stack.schedule_group;
        let listed = scheduler.list_schedules().group_name(group).send().await?;
        let mut due = Vec::new();
        for summary in listed.schedules() {
            let Some(name) = summary.name() else { continue };
            let schedule = scheduler.get_schedule().group_name(group).name(name).send().await?;
            let at = schedule.schedule_expression().and_then(shared::aws::schedules::at_time);
            let input = schedule.target().and_then(|t| t.input()).unwrap_or_default();
            if let Some(at) = at.filter(|at| *at <= now_ms) {
                due.push((at, name.to_owned(), serde_json::from_str::<CheckRequest>(input)?));
            }
        }
        due.sort_by_key(|(at, _, _)| *at);
        let mut answers = Vec::new();
        for (_, name, request) in due {
            scheduler.delete_schedule().group_name(group).name(&name).send().await?;
            let mut context = Context::default();
            context.invoked_function_arn = self.reconciler_arn();
            answers.push(reconciler::handle(reconciler, LambdaEvent::new(request, context)).await?);
        }
        Ok(answers)
    }

    async fn emulator_clients(emulator: &Emulator) -> Clients {
        Clients::from_sdk_config(emulator.sdk_config().await, Some(emulator.endpoint().to_owned()))
    }

    /// The stack's Gemini API key secret, holding `api_key`: made on first use, as the template makes it.
    async fn api_key_secret(
        &self,
        clients: &Clients,
        api_key: &str,
    ) -> Result<String, Box<dyn std::error::Error>> {
        self.secret(clients, "gemini-api-key", api_key).await
    }

    /// The stack's secret `{prefix}-{suffix}`, holding `value` (made, or given a new version); its ARN.
    async fn secret(
        &self,
        clients: &Clients,
        suffix: &str,
        value: &str,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let name = format!("{}-{suffix}", self.stack.prefix);
        let secrets = clients.secretsmanager();
        match secrets.create_secret().name(&name).secret_string(value).send().await {
            Ok(created) => Ok(created.arn().unwrap_or_default().to_owned()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_exists_exception()) => {
                let put = secrets.put_secret_value().secret_id(&name).secret_string(value).send().await?;
                Ok(put.arn().unwrap_or_default().to_owned())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The workflows' starter on this stack: calling the Gemini API at `gemini_base` with `api_key`,
    /// giving Gemini the dynamic webhook of the receiver at `endpoint` (the key and the URL token read
    /// from secrets, as in AWS).
    pub async fn starter(
        &self,
        emulator: &Emulator,
        gemini_base: &str,
        api_key: &str,
        endpoint: &Endpoint,
    ) -> Result<starter::Starter, Box<dyn std::error::Error>> {
        let clients = Self::emulator_clients(emulator).await;
        let key = self.api_key_secret(&clients, api_key).await?;
        let stored = shared::signature::EndpointSecrets::new(Vec::new(), Some(endpoint.token.clone()));
        let receiver_url = &endpoint.plain;
        let endpoint = self.secret(&clients, "endpoint", &stored.to_secret_string()).await?;
        let resources = self.stack.resources();
        let config = starter::Config::from_lookup(|name| match name {
            "GEMINI_API_KEY_SECRET_ARN" => Some(key.clone()),
            "GEMINI_API_BASE" => Some(gemini_base.to_owned()),
            "WEBHOOK_URL" => Some(receiver_url.to_owned()),
            "WEBHOOK_SECRETS_ARN" => Some(endpoint.clone()),
            _ => resources.var(Function::Starter, name),
        })?;
        Ok(starter::Starter::from_config(&config, &clients, Arc::new(shared::clock::SystemClock)))
    }

    /// Routes events by `routes` instead of the template's.
    pub fn set_routes(&mut self, routes: Routes) {
        self.fanout.routes = routes;
    }

    /// The receiver, to serve over HTTP while the triggers run.
    pub fn receiver(&self) -> Arc<Receiver<SqsDeliveryQueues>> {
        self.receiver.clone()
    }

    /// Serves the receiver over HTTP on `listener`, as its Function URL would, until the task is
    /// aborted or the runtime ends.
    pub fn serve_receiver(&self, listener: TcpListener) -> JoinHandle<()> {
        let receiver = self.receiver();
        tokio::spawn(http::serve(
            listener,
            Arc::new(move |request| {
                let receiver = receiver.clone();
                async move { receiver::handle(&receiver, request).await }
            }),
        ))
    }

    /// Every message waiting in every routed queue, by queue name, deleted as read: what the
    /// downstream Lambdas would receive.
    pub async fn take_downstream(
        &self,
    ) -> Result<BTreeMap<&'static str, Vec<DownstreamMessage>>, Box<dyn std::error::Error>> {
        take_downstream(&self.sqs, &self.stack.routed).await
    }

    /// One HTTP delivery to the receiver.
    pub async fn deliver(&self, request: Request) -> Response<Body> {
        receiver::handle(&self.receiver, request).await
    }

    /// Runs both triggers: the ingest queue into the recorder, then the stream into the fanout.
    pub async fn drain(&self) -> Result<Drained, Box<dyn std::error::Error>> {
        let ingest = self.drain_ingest().await?;
        let stream = self.drain_stream().await?;
        Ok(Drained {
            inserts: stream.inserts,
            stream_failures: stream.stream_failures,
            routed: stream.routed,
            ..ingest
        })
    }

    /// The SQS trigger: [`INGEST_POLLERS`] pollers at once, each handing batches of up to ten from
    /// the ingest queue to the recorder until the queue is empty; records the recorder reports failed
    /// become visible again (at once, here), and a poller stops at its first batch with failures, so a
    /// persistent fault cannot spin.
    pub async fn drain_ingest(&self) -> Result<Drained, Box<dyn std::error::Error>> {
        let mut drained = Drained::default();
        for poller in futures::future::join_all((0..INGEST_POLLERS).map(|_| self.poll_ingest())).await {
            let poller = poller?;
            drained.ingested += poller.ingested;
            drained.ingest_failures += poller.ingest_failures;
        }
        Ok(drained)
    }

    /// One poller of [`Pipeline::drain_ingest`].
    async fn poll_ingest(&self) -> Result<Drained, Box<dyn std::error::Error>> {
        let mut drained = Drained::default();
        while let Some(batch) = self.ingest_batch(0).await? {
            drained.ingested += batch.ingested;
            drained.ingest_failures += batch.ingest_failures;
            if batch.ingest_failures > 0 {
                break;
            }
        }
        Ok(drained)
    }

    /// One invocation of the SQS trigger: up to ten messages from the ingest queue handed to the
    /// recorder, then, as the event source mapping does, the successes deleted in one batch and the
    /// failures made visible again (at once, here, rather than after the visibility timeout). `None`
    /// when the queue had nothing visible, after long-polling `wait_secs`.
    pub async fn ingest_batch(&self, wait_secs: i32) -> Result<Option<Drained>, Box<dyn std::error::Error>> {
        let url = &self.stack.ingest.url;
        let receive = self.sqs.receive_message().queue_url(url).max_number_of_messages(10);
        let receive = receive.message_system_attribute_names(MessageSystemAttributeName::All);
        let batch = receive.wait_time_seconds(wait_secs).send().await?;
        if batch.messages().is_empty() {
            return Ok(None);
        }
        for message in batch.messages() {
            testkit::check_sqs_safe(message)?;
        }
        let event = sqs_event(batch.messages().iter().map(|m| sqs_record(m, url)).collect());
        let response = recorder::handle(&self.recorder, LambdaEvent::new(event, Context::default())).await?;
        let failed: Vec<&str> =
            response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        let mut handled = Vec::new();
        for (i, message) in batch.messages().iter().enumerate() {
            let handle = message.receipt_handle().unwrap_or_default();
            if failed.contains(&message.message_id().unwrap_or_default()) {
                let visible = self.sqs.change_message_visibility().queue_url(url).receipt_handle(handle);
                visible.visibility_timeout(0).send().await?;
            } else {
                let entry =
                    DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(handle);
                handled.push(entry.build()?);
            }
        }
        if !handled.is_empty() {
            let deleted =
                self.sqs.delete_message_batch().queue_url(url).set_entries(Some(handled)).send().await?;
            if let Some(failure) = deleted.failed().first() {
                return Err(format!("deleting from the ingest queue: {failure:?}").into());
            }
        }
        Ok(Some(Drained {
            ingested: batch.messages().len(),
            ingest_failures: failed.len(),
            ..Drained::default()
        }))
    }

    /// The stream trigger: a failed batch is retried from its first failed record; only then are
    /// new records (INSERT only, the template's filter) read and handed to the fanout. One invocation
    /// at a time, as for a single-shard stream.
    pub async fn drain_stream(&self) -> Result<Drained, Box<dyn std::error::Error>> {
        let mut stream = self.stream.lock().await;
        let mut drained = Drained::default();
        let event = match stream.pending.take() {
            Some(pending) => pending,
            None => {
                let mut event = stream.reader.next_event().await?;
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
        let failed = |r: &StreamRecord| {
            response.batch_item_failures.iter().any(|f| f.item_identifier == r.change.sequence_number)
        };
        let first_failed = retry.records.iter().position(failed);
        for record in &retry.records[..first_failed.unwrap_or(retry.records.len())] {
            // A superseded end is recorded, never routed (the fanout skips it).
            if let Ok(event) = EventRecord::from_stream_image(record.change.new_image.clone())
                && event.superseded_by.is_none()
            {
                let user_metadata = event.event.user_metadata();
                let queues = self.fanout.routes.destinations(&event.event_type, user_metadata).targets;
                drained.routed.push(Routed {
                    webhook_id: event.provenance.webhook_id.to_string(),
                    event_type: event.event_type.clone(),
                    queues: queues.into_iter().map(str::to_owned).collect(),
                });
            }
        }
        if let Some(first) = first_failed {
            let mut pending = retry;
            pending.records.drain(..first);
            stream.pending = Some(pending);
        }
        Ok(drained)
    }
}

/// Where the stream trigger is.
struct StreamPosition {
    reader: StreamReader,
    /// A batch the fanout failed, retried from its first failed record before anything newer, as the
    /// stream trigger does.
    pending: Option<aws_lambda_events::event::dynamodb::Event>,
}

/// Every message waiting in each of `routed`, by queue name, deleted as read.
pub async fn take_downstream(
    sqs: &aws_sdk_sqs::Client,
    routed: &BTreeMap<&'static str, testkit::Queue>,
) -> Result<BTreeMap<&'static str, Vec<DownstreamMessage>>, Box<dyn std::error::Error>> {
    let mut all = BTreeMap::new();
    for (name, queue) in routed {
        let messages = testkit::drain_queue(sqs, &queue.url).await?;
        let decoded = messages
            .iter()
            .map(|m| DownstreamMessage::from_sqs_body(m.body().unwrap_or_default()))
            .collect::<Result<Vec<_>, _>>()?;
        all.insert(*name, decoded);
    }
    Ok(all)
}

/// The routed queue `template.yaml`'s routes send `event_type` to.
pub fn routed_queue_for(event_type: &str) -> &'static str {
    match event_type.split('.').next() {
        Some("batch") => "batch",
        Some("interaction") => "interaction",
        Some("video") => "video",
        _ => "default",
    }
}
