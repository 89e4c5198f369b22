//! Receive Gemini API webhooks safely: verify every signature scheme Gemini uses, model its events,
//! and carry them between the pipeline's stages.
//!
//! The receiver, recorder and fanout functions are thin shells around this crate. Everything here that
//! decides something (verification, parsing, routing) is pure and synchronous where it can be, so it is
//! tested without AWS; the few parts that do I/O (fetching Google's JWKS) sit behind small types with
//! their own tests.
//!
//! ```
//! use shared::signature::{sign, SigningSecret, Verifier};
//! use shared::clock::ManualClock;
//! use std::sync::Arc;
//!
//! let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
//! let clock = Arc::new(ManualClock::at(1_614_265_330));
//! let verifier = Verifier::builder().secret(secret.clone()).clock(clock).build()?;
//!
//! let body = br#"{"type":"batch.succeeded","data":{"id":"batches/123"}}"#;
//! let headers = sign::SignedHeaders::v1(&secret, "msg_1", 1_614_265_330, body).to_header_map()?;
//!
//! // `verify` is async: it fetches Google's JWKS when a `v1a` or JWT entry needs it.
//! let runtime = tokio::runtime::Builder::new_current_thread().build()?;
//! // The third argument is the URL's `token` query parameter, which only dynamic deliveries need.
//! let verified = runtime.block_on(verifier.verify(&headers, body, None))?;
//! assert_eq!(verified.webhook_id.as_str(), "msg_1");
//! assert_eq!(verified.scheme, shared::Scheme::V1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(feature = "aws")]
pub mod aws;
pub mod clock;
pub mod config;
pub mod event;
pub mod id;
pub mod keys;
pub mod limits;
pub mod logging;
pub mod message;
pub mod metrics;
pub mod refresh;
pub mod routing;
pub mod signature;
pub mod sqs;

pub use event::{Event, EventKind};
pub use id::{WebhookId, WebhookTimestamp};
pub use signature::{Scheme, Verified, Verifier, VerifyError};
