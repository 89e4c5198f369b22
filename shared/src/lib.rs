//! Gemini API webhooks on AWS: verify every signature scheme Gemini uses, model its events, and carry
//! them between the pipeline's stages. In this repository it is the crate every function builds on
//! (`shared/`, named `shared` inside the workspace).
//!
//! With no features it is the contracts alone, what a consumer of the routed queues needs: the event
//! model ([`event`]) and what a ping is ([`ping`]), the messages between stages ([`message`]), the size budget ([`limits`]),
//! SQS-safe encoding ([`sqs`]), routing ([`routing`]) and the trace a delivery carries ([`trace`]). Features add the rest:
//!
//! | feature | adds | for |
//! | --- | --- | --- |
//! | `runtime` | configuration from the environment (`config`), JSON logging (`logging`), CloudWatch metrics (`metrics`) | every function (`verify` and `aws` include it) |
//! | `verify` | `signature` verification (`v1`, `v1a`, JWT), Google's JWKS (`keys`), the refresh engine (`refresh`) | the receiver |
//! | `sign` | the sender's side: signing every scheme, generating keys (`signature::sign`) | tests, the demo, the CLI |
//! | `aws` | SQS sends with typed failures, publishing downstream messages, clients, batch responses, the consumer's idempotency (`aws`) | the functions, the CLI |
//! | `fixtures` | Lambda events as AWS sends them, realistic envelopes, `sam local`'s sample events, the template's variables per function (`fixtures`) | tests, the local stack, the CLI |
//! | `ledger` | reconciling tracked jobs (`reconcile`), their checks on EventBridge Scheduler (`aws::schedules`); the ledger's model (`ledger`) is always in, its table (`aws::jobs_ledger`) with `aws` | the reconciler, the CLI |
//! | `gemini` | a typed client for the Gemini API calls the project makes (`gemini`: files, jobs; the WebhookService with `verify`) | the CLI, the consumer |
//!
//! Everything that decides something (verification, parsing, routing) is pure and synchronous where it
//! can be, so it is tested without AWS; the few parts that do I/O sit behind small types with their own
//! tests.
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(feature = "aws")]
pub mod aws;
pub mod clock;
#[cfg(feature = "runtime")]
pub mod config;
pub mod event;
#[cfg(feature = "fixtures")]
pub mod fixtures;
#[cfg(feature = "gemini")]
pub mod gemini;
pub mod id;
pub mod job;
#[cfg(feature = "verify")]
pub mod keys;
pub mod ledger;
pub mod limits;
#[cfg(feature = "runtime")]
pub mod logging;
pub mod message;
#[cfg(feature = "runtime")]
pub mod metrics;
pub mod ping;
#[cfg(feature = "ledger")]
pub mod reconcile;
#[cfg(feature = "verify")]
pub mod refresh;
pub mod results;
pub mod routing;
pub mod signature;
pub mod sqs;
pub mod trace;
pub mod workflow;

/// The README's Rust snippets, compiled as tests: what it tells users to write must build.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeSnippets;

/// `docs/deploy-and-operate.md`'s Rust snippets, compiled as tests the same way.
#[cfg(doctest)]
#[doc = include_str!("../../docs/deploy-and-operate.md")]
struct DeployAndOperateSnippets;

pub use event::{Event, EventKind};
pub use id::{WebhookId, WebhookTimestamp};
pub use signature::{Scheme, Verified};
#[cfg(feature = "verify")]
pub use signature::{Verifier, VerifyError};
