//! The receiver: the HTTPS endpoint Gemini posts to. It verifies the delivery, puts it on the ingest
//! queue and answers, in milliseconds; everything slower happens downstream.
//!
//! `main.rs` only reads [`Config`], builds the clients and calls [`handle`]; tests call [`handle`]
//! directly with `lambda_http` requests of every payload format.

mod config;
mod handler;
mod jwt_tokens;
mod queue;
mod secrets;
mod setup;

pub use config::{
    Config, ConfigError, DEFAULT_MAX_BODY_BYTES, DEFAULT_SCHEMES, KeysConfig, SecretsConfig, TIMEOUTS,
};
pub use handler::{REFUSAL_LOG_WINDOW_SECS, RETRY_AFTER_SECS, Receiver, RefusalClass, handle};
pub use jwt_tokens::{JwtTokens, TokenError};
pub use queue::{DeliveryQueues, EnqueueError, SqsDeliveryQueues};
pub use secrets::SecretsManagerSource;
pub use setup::{Notice, SetupError, build_verifier};
