//! `fixtures`: the Lambda event fixtures for `sam local invoke`.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;
use shared::clock::{Clock, SystemClock};
use shared::signature::SigningSecret;

use super::flags::{Sensitive, parse_sensitive};
use crate::ui::output::Output;
use crate::ui::report::usage;
use clap::Args;
use shared::fixtures::sample_events::{DEMO_SECRET, LocalStack, sample_events};

#[derive(Debug, Args)]
pub struct FixturesArgs {
    /// Output directory (default: `events`, or `events/local` when signing with your own secret).
    pub dir: Option<PathBuf>,
    /// Sign with this secret instead of the demo secret: the events then go to the git-ignored
    /// `events/local`, never into the committed `events/` (`@FILE`, `@-`).
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true, value_parser = parse_sensitive)]
    pub secret: Option<Sensitive>,
}

#[derive(Serialize)]
struct Written {
    dir: PathBuf,
    files: Vec<String>,
    signed_at: i64,
    demo_secret: bool,
}

impl fmt::Display for Written {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signer =
            if self.demo_secret { "the demo secret" } else { "your secret (WEBHOOK_SECRET or --secret)" };
        write!(
            f,
            "wrote {} files to {}: the receiver's events signed with {signer} at {}, valid for 300 s",
            self.files.len(),
            self.dir.display(),
            self.signed_at
        )
    }
}

pub(crate) fn run(args: FixturesArgs, out: Output) -> anyhow::Result<()> {
    let demo = args.secret.as_ref().map(Sensitive::expose).is_none_or(|s| s == DEMO_SECRET);
    let committed = Path::new("events");
    let dir = match args.dir {
        // A real secret never lands in the committed fixtures.
        Some(dir) if !demo && dir.components().eq(committed.components()) => committed.join("local"),
        Some(dir) => dir,
        None if demo => committed.to_owned(),
        None => committed.join("local"),
    };
    let secret = args.secret.as_ref().map(Sensitive::expose).unwrap_or(DEMO_SECRET);
    SigningSecret::parse(secret)
        .map_err(|e| usage(format!("--secret (or WEBHOOK_SECRET) is not a signing secret: {e}")))?;
    let now = SystemClock.unix_now();
    let mut events = sample_events(secret, now).map_err(anyhow::Error::from_boxed)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    events.push(("env", LocalStack::default_local().env_vars()));
    let mut files = Vec::new();
    for (name, event) in events {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&event)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        files.push(path.display().to_string());
    }
    out.print(&Written { dir, files, signed_at: now, demo_secret: demo });
    Ok(())
}
