//! A smaller load run than `make load`, on every `make test`: concurrent senders and retries racing
//! the originals through the real pipeline must still give every event exactly once downstream.

use local_stack::load::{self, LoadPlan};
use testkit::Emulator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_with_retries_reach_downstream_exactly_once() {
    let plan = LoadPlan { deliveries: 800, senders: 16, duplicate_percent: 10, seed: 1 };

    let report = load::run(Emulator::shared().unwrap(), plan).await.unwrap();

    assert_eq!(report.statuses.get(&200), Some(&800), "{:?}", report.statuses);
    assert_eq!(report.drained.inserts, 720, "one new record per event");
    assert_eq!(report.downstream.exactly_once, 720, "{:?}", report.downstream);
    assert!(report.holds(), "{:?}", report.downstream);
    let hops = &report.hops;
    for (hop, samples) in [
        ("ingest to recorded", &hops.ingest_to_recorded),
        ("recorded to routed", &hops.recorded_to_routed),
        ("routed to consumer", &hops.routed_to_consumer),
        ("end to end", &hops.end_to_end),
    ] {
        assert_eq!(samples.len(), 720, "every event is timed through {hop}");
    }
}
