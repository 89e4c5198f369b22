//! One size budget for the whole pipeline, derived from the limits AWS documents, so that any body the
//! receiver accepts fits every later stage.
//!
//! | stage | limit | what it holds |
//! | --- | --- | --- |
//! | ingest message, downstream message, quarantine, DLQs | SQS: 1 MiB, body and attributes | the event, or the raw body in base64 |
//! | events table item | DynamoDB: 400 KB | the event and its copied fields |
//!
//! The event travels whole through every stage, and some of its fields are copied beside it: the
//! table item copies `type` and `data.id`, the downstream message those and `user_metadata` too. So
//! the receiver checks two numbers per delivery, each for the stage it binds: its ingest message plus
//! the item's copies must fit [`EVENT_BUDGET_BYTES`] (under DynamoDB's 400 KB), and plus the
//! downstream message's copies must fit [`DOWNSTREAM_BUDGET_BYTES`] (under SQS's 1 MiB). The
//! `user_metadata` copy counts against the second alone: it never goes into the item. A verified
//! delivery over either budget is quarantined, never refused; a body over `MAX_BODY_BYTES` is refused
//! (413) before any crypto.

/// SQS's largest message (body and attributes), since August 2025.
pub const SQS_MAX_MESSAGE_BYTES: usize = 1_048_576;

/// DynamoDB's largest item (attribute names and values).
pub const DYNAMODB_MAX_ITEM_BYTES: usize = 409_600;

/// Room for everything in a message or item that is not the event or a copy of one of its fields:
/// ids (a `webhook-id` is at most 256 bytes), hashes, timestamps, a trace header (under 100 bytes),
/// field and attribute names, a queue URL, a quarantine reason.
pub const FIXED_FIELDS_BYTES: usize = 4_096;

/// The most an ingest message plus the fields the table item copies out of its event may take.
pub const EVENT_BUDGET_BYTES: usize = DYNAMODB_MAX_ITEM_BYTES - FIXED_FIELDS_BYTES;

/// The most an ingest message plus the fields the downstream message copies out of its event may
/// take (the downstream message also carries a replay's mark and its attributes: in the fixed room).
pub const DOWNSTREAM_BUDGET_BYTES: usize = SQS_MAX_MESSAGE_BYTES - FIXED_FIELDS_BYTES;

/// Default for the receiver's `MAX_BODY_BYTES`: Gemini's envelopes are a few hundred bytes, and a
/// 256 KiB body fits the budget unless its `user_metadata` is most of it.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

/// The largest `MAX_BODY_BYTES` allowed: a quarantined body travels base64-encoded (4 bytes for 3) in
/// one SQS message, so any body the receiver reads can be kept.
pub const MAX_BODY_BYTES_CEILING: usize = (SQS_MAX_MESSAGE_BYTES - FIXED_FIELDS_BYTES) / 4 * 3;

// The derivation, checked when the crate compiles.
const _: () = assert!(EVENT_BUDGET_BYTES + FIXED_FIELDS_BYTES <= DYNAMODB_MAX_ITEM_BYTES);
const _: () = assert!(EVENT_BUDGET_BYTES + FIXED_FIELDS_BYTES <= SQS_MAX_MESSAGE_BYTES);
const _: () = assert!(DEFAULT_MAX_BODY_BYTES <= MAX_BODY_BYTES_CEILING);
const _: () = assert!(MAX_BODY_BYTES_CEILING / 3 * 4 + FIXED_FIELDS_BYTES <= SQS_MAX_MESSAGE_BYTES);
