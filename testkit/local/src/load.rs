//! Load through the local pipeline: signed deliveries from concurrent senders over real HTTP, some of
//! them Gemini's retries of an event already delivered, while the triggers run as Lambda's would; then
//! a count of what reached the routed queues, so "none lost, none twice" is checked, not assumed.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_sdk_sqs::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::json;
use shared::EventKind;
use shared::clock::{Clock, SystemClock};
use shared::keys::jwks_document;
use shared::message::DownstreamMessage;
use shared::signature::sign::{Ed25519Signer, SignedHeaders};
use shared::signature::{SigningSecret, UrlToken};
use testkit::Emulator;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::{Drained, Endpoint, Pipeline, routed_queue_for};

/// How hard to push.
#[derive(Debug, Clone, Copy)]
pub struct LoadPlan {
    /// HTTP deliveries in all, retries included.
    pub deliveries: usize,
    /// Senders delivering at once, each waiting for its answer before its next delivery.
    pub senders: usize,
    /// Percentage of `deliveries` that repeat an event already in the plan (same `webhook-id` and
    /// body, signed afresh), as Gemini does when it retries.
    pub duplicate_percent: usize,
    /// Seeds the order of deliveries, so a run can be repeated.
    pub seed: u64,
}

impl LoadPlan {
    /// Deliveries that are retries.
    pub fn duplicates(&self) -> usize {
        self.deliveries * self.duplicate_percent / 100
    }

    /// Distinct events.
    pub fn unique(&self) -> usize {
        self.deliveries - self.duplicates()
    }
}

/// What a load run measured and found.
#[derive(Debug)]
pub struct LoadReport {
    /// The plan that ran.
    pub plan: LoadPlan,
    /// Final answers by HTTP status (a 503 is retried, as Gemini would, and counted in `retried`).
    pub statuses: BTreeMap<u16, usize>,
    /// Deliveries answered 503 and sent again.
    pub retried: usize,
    /// Client-side latency of every delivery, sorted: request written to answer read.
    pub latencies: Vec<Duration>,
    /// From the first delivery to the last answer.
    pub sending: Duration,
    /// From the first delivery until every event was in its routed queue.
    pub settled: Duration,
    /// What the local triggers handed to the recorder and the fanout.
    pub drained: Drained,
    /// How long each event spent in each hop, from the times the pipeline stamps on it.
    pub hops: Hops,
    /// Downstream accounting.
    pub downstream: Downstream,
}

/// Each planned event against what arrived in the routed queues.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Downstream {
    /// Events that arrived exactly once, in the queue the routes name.
    pub exactly_once: usize,
    /// Events that never arrived.
    pub lost: usize,
    /// Extra copies of events that arrived more than once.
    pub duplicated: usize,
    /// Events that arrived in a queue the routes do not name for them.
    pub misrouted: usize,
    /// Messages no planned event accounts for.
    pub unexpected: usize,
}

impl LoadReport {
    /// Whether every delivery was acknowledged and every event reached its queue exactly once.
    pub fn holds(&self) -> bool {
        let acknowledged = self.statuses.iter().all(|(status, _)| *status == 200);
        let everything_once = Downstream { exactly_once: self.plan.unique(), ..Downstream::default() };
        acknowledged && self.downstream == everything_once
    }

    /// The latency below which `percent` of deliveries were answered.
    pub fn latency_percentile(&self, percent: f64) -> Duration {
        percentile(&self.latencies, percent).unwrap_or(Duration::ZERO)
    }

    /// Deliveries answered per second while sending.
    pub fn throughput(&self) -> f64 {
        self.plan.deliveries as f64 / self.sending.as_secs_f64()
    }
}

/// The value below which `percent` of `sorted` lie (nearest rank); `None` when there are none.
pub fn percentile<T: Copy>(sorted: &[T], percent: f64) -> Option<T> {
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
}

/// Milliseconds each event spent in each hop, each list sorted: read from the times the pipeline
/// itself stamps (`received_at` by the receiver, `recorded_at` by the recorder, SQS's `SentTimestamp`
/// on the routed message) and the moment a consumer's poll returned it.
#[derive(Debug, Default)]
pub struct Hops {
    /// Accepted by the receiver to recorded: the ingest queue and its trigger, the recorder's write.
    pub ingest_to_recorded: Vec<i64>,
    /// Recorded to on its routed queue: the table's stream and its trigger, the fanout's send.
    pub recorded_to_routed: Vec<i64>,
    /// On its routed queue to in a consumer's hands: the routed queue and its trigger.
    pub routed_to_consumer: Vec<i64>,
    /// The event's own `timestamp` (set when it was first sent, as Gemini stamps an event as it makes
    /// it) to in a consumer's hands: the whole path, the receiver's answer included.
    pub end_to_end: Vec<i64>,
}

impl Hops {
    /// One event's hops, from its downstream message, when SQS sent it to its routed queue (Unix ms)
    /// and when a consumer's poll returned it (Unix ms).
    fn add(&mut self, message: &DownstreamMessage, routed_at: i64, consumed_at: i64) {
        let received = message.provenance.received_at;
        self.ingest_to_recorded.push(message.recorded_at - received);
        self.recorded_to_routed.push(routed_at - message.recorded_at);
        self.routed_to_consumer.push(consumed_at - routed_at);
        if let Some(made) = message.event.timestamp().and_then(unix_ms) {
            self.end_to_end.push(consumed_at - made);
        }
    }

    fn sort(&mut self) {
        for hop in [
            &mut self.ingest_to_recorded,
            &mut self.recorded_to_routed,
            &mut self.routed_to_consumer,
            &mut self.end_to_end,
        ] {
            hop.sort_unstable();
        }
    }
}

/// An RFC 3339 time as Unix milliseconds.
fn unix_ms(text: &str) -> Option<i64> {
    DateTime::from_str(text, DateTimeFormat::DateTime).ok()?.to_millis().ok()
}

/// Concurrent recorder invocations: Lambda's SQS trigger adds pollers while a backlog grows (up to
/// 1,250), so a steady 32 senders are met by more than its first five.
const RECORDERS: usize = 16;

/// SQS triggers long-poll, so an idle poller waits in the queue rather than loading it. (Lambda's wait
/// 20 seconds; one keeps the end of a run prompt.)
const LONG_POLL_SECS: i32 = 1;

/// A stream trigger reads each shard four times a second when there is nothing new.
const STREAM_POLL_PAUSE: Duration = Duration::from_millis(250);

/// One event of the plan.
struct PlannedEvent {
    id: String,
    index: usize,
    event_type: &'static str,
    /// Made when first sent, stamped with that moment; its retries send the same bytes.
    body: OnceLock<Vec<u8>>,
    queue: &'static str,
    /// Every fourth event is signed as a dynamic webhook (`v1a`), the rest with the static secret.
    dynamic: bool,
}

impl PlannedEvent {
    /// The event's body: about the size of a real one, its `timestamp` the moment it was first sent.
    fn body(&self) -> &[u8] {
        self.body.get_or_init(|| {
            let now = DateTime::from_millis(SystemClock.unix_now_ms());
            let i = self.index;
            let body = json!({
                "type": self.event_type,
                "version": "v1",
                "timestamp": now.fmt(DateTimeFormat::DateTime).unwrap_or_default(),
                "data": {"id": format!("batches/load-{i:06}"), "output_file_uri": format!("gs://load/{i:06}.jsonl")},
                "user_metadata": {"run": "load", "sequence": i},
            });
            body.to_string().into_bytes()
        })
    }
}

/// Runs `plan` against a fresh stack in `emulator`: the receiver served over HTTP on loopback, the
/// ingest and stream triggers polling until every acknowledged delivery has been handled.
pub async fn run(emulator: &Emulator, plan: LoadPlan) -> Result<LoadReport, Box<dyn std::error::Error>> {
    let secret = SigningSecret::generate();
    let key = Ed25519Signer::generate();
    let token = UrlToken::generate();
    let vars = [
        ("WEBHOOK_SECRETS", secret.expose_whsec()),
        ("WEBHOOK_URL_TOKEN", token.expose().to_owned()),
        ("JWKS_JSON", jwks_document([key.public_jwk(Some("load-1"))]).to_string()),
    ];
    let pipeline = Pipeline::start(emulator, &vars, Arc::new(SystemClock)).await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    // Static deliveries go to the plain URL; dynamic ones to the URL with the token, as Gemini is told.
    let url = Endpoint::new(&format!("http://{}/", listener.local_addr()?), &token);
    let server = pipeline.serve_receiver(listener);

    let events = Arc::new(plan_events(plan.unique()));
    let started = Instant::now();
    let senders = spawn_senders(&plan, &url, &events, Arc::new((secret, key)))?;
    // Each stage polls until the stage before it has finished and it then finds nothing more.
    let (all_sent, all_recorded, all_routed) =
        (AtomicBool::new(false), AtomicBool::new(false), AtomicBool::new(false));
    let sending = async {
        let mut answers = Vec::with_capacity(plan.deliveries);
        let mut failure = None;
        for sender in senders {
            match sender.await {
                Ok(sent) => answers.extend(sent),
                Err(error) => failure = Some(error),
            }
        }
        let elapsed = started.elapsed();
        all_sent.store(true, Ordering::Release);
        failure.map_or(Ok((answers, elapsed)), Err)
    };
    let drained = RefCell::new(Drained::default());
    let (pipeline, drained_ref) = (&pipeline, &drained);
    let recording = async {
        let pollers = (0..RECORDERS).map(|_| {
            poll_until_settled(&all_sent, Duration::ZERO, move || async move {
                let batch = pipeline.ingest_batch(LONG_POLL_SECS).await?;
                if let Some(batch) = &batch {
                    let mut total = drained_ref.borrow_mut();
                    total.ingested += batch.ingested;
                    total.ingest_failures += batch.ingest_failures;
                }
                Ok(batch.is_some())
            })
        });
        let recorded = futures::future::try_join_all(pollers).await;
        all_recorded.store(true, Ordering::Release);
        recorded
    };
    let routing = async {
        let routed = poll_until_settled(&all_recorded, STREAM_POLL_PAUSE, move || async move {
            let pass = pipeline.drain_stream().await?;
            let mut total = drained_ref.borrow_mut();
            total.inserts += pass.inserts;
            total.stream_failures += pass.stream_failures;
            Ok(pass.inserts > 0)
        })
        .await;
        all_routed.store(true, Ordering::Release);
        routed
    };
    // One consumer per routed queue, as each has its own trigger.
    let arrived = RefCell::new(Vec::new());
    let hops = RefCell::new(Hops::default());
    let (arrived_ref, hops_ref) = (&arrived, &hops);
    let consumers = pipeline.stack.routed.iter().map(|(&name, queue)| {
        poll_until_settled(&all_routed, Duration::ZERO, move || async move {
            let messages = testkit::receive_batch(&pipeline.sqs, &queue.url, LONG_POLL_SECS).await?;
            let consumed_at = SystemClock.unix_now_ms();
            let mut arrived = arrived_ref.borrow_mut();
            let mut hops = hops_ref.borrow_mut();
            for received in &messages {
                let message = DownstreamMessage::from_sqs_body(received.body().unwrap_or_default())?;
                let sent =
                    received.attributes().and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp));
                let routed_at = sent.and_then(|at| at.parse::<i64>().ok()).ok_or("no SentTimestamp")?;
                hops.add(&message, routed_at, consumed_at);
                arrived.push((message.provenance.webhook_id.to_string(), name));
            }
            Ok(!messages.is_empty())
        })
    });
    let consuming = futures::future::try_join_all(consumers);
    let (sent, recorded, routed, consumed) = tokio::join!(sending, recording, routing, consuming);
    recorded?;
    routed?;
    consumed?;
    let (answers, sending) = sent?;
    let (drained, arrived, mut hops) = (drained.into_inner(), arrived.into_inner(), hops.into_inner());
    hops.sort();
    let settled = started.elapsed();
    server.abort();

    let mut statuses = BTreeMap::new();
    let mut retried = 0;
    let mut latencies = Vec::with_capacity(answers.len());
    for answer in answers {
        let answer = answer?;
        *statuses.entry(answer.status).or_default() += 1;
        retried += answer.retries;
        latencies.push(answer.latency);
    }
    latencies.sort_unstable();
    let arrived = arrived.iter().map(|(id, queue)| (id.as_str(), *queue));
    let downstream = account(&events, arrived);
    Ok(LoadReport { plan, statuses, retried, latencies, sending, settled, drained, hops, downstream })
}

/// `plan.senders` tasks taking the next delivery of the plan's order until none is left, each waiting
/// for its answer before the next.
fn spawn_senders(
    plan: &LoadPlan,
    url: &Endpoint,
    events: &Arc<Vec<PlannedEvent>>,
    signing: Arc<(SigningSecret, Ed25519Signer)>,
) -> Result<Vec<Sender>, reqwest::Error> {
    let order = Arc::new(delivery_order(plan));
    let next = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::builder().pool_max_idle_per_host(plan.senders).build()?;
    let spawn = |_| {
        let (events, order, next, signing, http) =
            (events.clone(), order.clone(), next.clone(), signing.clone(), http.clone());
        let url = url.clone();
        tokio::spawn(async move {
            let mut answers = Vec::new();
            while let Some(&event) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                answers.push(deliver(&http, &url, &events[event], &signing).await);
            }
            answers
        })
    };
    Ok((0..plan.senders).map(spawn).collect())
}

/// Distinct events cycling through every event type Gemini sends, each about the size of a real one.
fn plan_events(count: usize) -> Vec<PlannedEvent> {
    let types: Vec<&str> = EventKind::CATALOG.iter().map(|(name, _)| *name).collect();
    (0..count)
        .map(|i| {
            let event_type = types[i % types.len()];
            PlannedEvent {
                id: format!("msg_load_{i:06}"),
                index: i,
                event_type,
                body: OnceLock::new(),
                queue: routed_queue_for(event_type),
                dynamic: i % 4 == 3,
            }
        })
        .collect()
}

/// Every event once, plus a retry of `duplicates` distinct events, shuffled: a retry may land before,
/// alongside or long after the delivery it repeats, as Gemini's retries of a slow answer do.
fn delivery_order(plan: &LoadPlan) -> Vec<usize> {
    let mut rng = SplitMix64(plan.seed);
    let mut retried: Vec<usize> = (0..plan.unique()).collect();
    rng.shuffle(&mut retried);
    let mut order: Vec<usize> =
        (0..plan.unique()).chain(retried.into_iter().take(plan.duplicates())).collect();
    rng.shuffle(&mut order);
    order
}

/// A sender task: every answer it got.
type Sender = JoinHandle<Vec<Result<Answer, reqwest::Error>>>;

/// One delivery's outcome.
struct Answer {
    status: u16,
    retries: usize,
    latency: Duration,
}

/// Signs `event` now and posts it; a 503 is sent again (newly signed) after its `Retry-After`, up to
/// five times, as a well-behaved webhook sender retries. The latency is the last attempt's.
async fn deliver(
    http: &reqwest::Client,
    url: &Endpoint,
    event: &PlannedEvent,
    (secret, key): &(SigningSecret, Ed25519Signer),
) -> Result<Answer, reqwest::Error> {
    let mut retries = 0;
    loop {
        let now = SystemClock.unix_now();
        let signed = if event.dynamic {
            SignedHeaders::v1a(key, &event.id, now, event.body())
        } else {
            SignedHeaders::v1(secret, &event.id, now, event.body())
        };
        // The plan's ids are `msg_` and hex: always header values (an empty map would be a 401).
        let request = http
            .post(url.for_scheme(event.dynamic))
            .header("content-type", "application/json")
            .headers(signed.to_header_map().unwrap_or_default())
            .body(event.body().to_vec());
        let sent = Instant::now();
        let response = request.send().await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(u64::from(receiver::RETRY_AFTER_SECS));
        response.bytes().await?;
        let latency = sent.elapsed();
        if status != 503 || retries == 5 {
            return Ok(Answer { status, retries, latency });
        }
        retries += 1;
        // The receiver asked for time: a sender hammering an overloaded dependency makes it worse.
        tokio::time::sleep(Duration::from_secs(retry_after.min(30))).await;
    }
}

/// Polls as an event source mapping does: `pass` again at once while it finds work, after
/// `idle_pause` when it finds none, until a pass that found nothing began after `upstream` had
/// finished.
async fn poll_until_settled<F, Fut>(
    upstream: &AtomicBool,
    idle_pause: Duration,
    mut pass: F,
) -> Result<(), Box<dyn std::error::Error>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, Box<dyn std::error::Error>>>,
{
    loop {
        let upstream_finished = upstream.load(Ordering::Acquire);
        if !pass().await? {
            if upstream_finished {
                return Ok(());
            }
            tokio::time::sleep(idle_pause).await;
        }
    }
}

/// Compares what arrived, as (`webhook-id`, routed queue) pairs, with the plan.
fn account<'a>(events: &[PlannedEvent], arrived: impl IntoIterator<Item = (&'a str, &'a str)>) -> Downstream {
    let mut arrivals: HashMap<&str, Vec<&str>> = HashMap::new();
    for (id, queue) in arrived {
        arrivals.entry(id).or_default().push(queue);
    }
    let mut tally = Downstream::default();
    for event in events {
        match arrivals.remove(event.id.as_str()).as_deref() {
            None | Some([]) => tally.lost += 1,
            Some([queue]) if *queue == event.queue => tally.exactly_once += 1,
            Some([_]) => tally.misrouted += 1,
            Some(queues) => {
                tally.duplicated += queues.len() - 1;
                tally.misrouted += usize::from(queues.iter().any(|q| *q != event.queue));
            }
        }
    }
    tally.unexpected = arrivals.values().map(Vec::len).sum();
    tally
}

/// A small, seedable generator for the delivery order (no cryptographic use).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::event::Event;

    #[test]
    fn the_order_holds_every_event_once_and_the_planned_retries_twice() {
        let plan = LoadPlan { deliveries: 1_000, senders: 4, duplicate_percent: 5, seed: 7 };
        let order = delivery_order(&plan);

        let mut counts = vec![0; plan.unique()];
        for event in &order {
            counts[*event] += 1;
        }
        assert_eq!(order.len(), 1_000);
        assert_eq!(counts.iter().filter(|c| **c == 1).count(), 900);
        assert_eq!(counts.iter().filter(|c| **c == 2).count(), 50);
        assert_ne!(order[..10], (0..10).collect::<Vec<_>>()[..], "shuffled");
    }

    #[test]
    fn percentiles_are_nearest_rank_and_nothing_has_none() {
        let sorted: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(50));
        assert_eq!(percentile(&sorted, 99.0), Some(99));
        assert_eq!(percentile(&sorted, 100.0), Some(100));
        assert_eq!(percentile(&sorted, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile::<i64>(&[], 50.0), None);
    }

    #[test]
    fn each_hop_is_read_from_the_times_the_pipeline_stamps() {
        let event = &plan_events(1)[0];
        let body = event.body();
        let made = unix_ms(Event::parse(body).unwrap().timestamp().unwrap()).unwrap();
        assert_eq!(event.body(), body, "a retry sends the same bytes");
        let message = DownstreamMessage {
            provenance: serde_json::from_value(json!({
                "webhook_id": "msg_1", "webhook_timestamp": 1, "received_at": made + 4, "scheme": "v1"
            }))
            .unwrap(),
            event_type: event.event_type.into(),
            data_id: None,
            user_metadata: None,
            event: Event::parse(body).unwrap(),
            recorded_at: made + 30,
            replayed_at: None,
        };
        let mut hops = Hops::default();

        hops.add(&message, made + 300, made + 320);

        assert_eq!(hops.ingest_to_recorded, [26]);
        assert_eq!(hops.recorded_to_routed, [270]);
        assert_eq!(hops.routed_to_consumer, [20]);
        assert_eq!(hops.end_to_end, [320]);
    }

    #[test]
    fn accounting_tells_lost_duplicated_misrouted_and_unexpected_apart() {
        let events = plan_events(5);
        let id = |i: usize| events[i].id.as_str();
        let queue = |i: usize| events[i].queue;
        let arrived = [
            (id(0), queue(0)),
            (id(1), queue(1)),
            (id(1), queue(1)),
            (id(2), "nowhere"),
            (id(3), queue(3)),
            ("msg_not_planned", "default"),
        ];

        let tally = account(&events, arrived);

        let expected = Downstream { exactly_once: 2, lost: 1, duplicated: 1, misrouted: 1, unexpected: 1 };
        assert_eq!(tally, expected);
    }
}
