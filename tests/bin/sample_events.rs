//! Writes sample Lambda events for every function into `events/` (or the directory given), for
//! `sam local invoke -e`. The receiver's events are signed now, so regenerate them before use: their
//! timestamp is valid for five minutes.
//!
//! ```sh
//! cargo run -p e2e --bin sample-events            # signs with the demo secret in events/env.json
//! WEBHOOK_SECRET=whsec_... cargo run -p e2e --bin sample-events
//! ```

use std::path::PathBuf;

use e2e::sample_events::{DEMO_SECRET, sample_events};
use shared::clock::{Clock, SystemClock};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("events"));
    std::fs::create_dir_all(&dir)?;
    let secret = std::env::var("WEBHOOK_SECRET").unwrap_or_else(|_| DEMO_SECRET.to_owned());
    let now = SystemClock.unix_now();
    for (name, event) in sample_events(&secret, now)? {
        std::fs::write(dir.join(format!("{name}.json")), serde_json::to_string_pretty(&event)? + "\n")?;
    }
    println!("wrote sample events to {} (receiver events signed at {now}, valid for 300 s)", dir.display());
    Ok(())
}
