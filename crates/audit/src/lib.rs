//! The auditor's toolkit of closedloop, beside the workflow service and the `cloop` CLI:
//!
//! - `rules`: which tickets broke the handling rules in a month (classified late, response
//!   or resolution deadline missed, archived without a review, solution without a required
//!   approval), each with the events that show it.
//! - `time_travel`: a ticket as it stood at an instant, folded from the events recorded by
//!   then.
//! - `export`: the log (or a range) as JSON Lines in the exact form of the hash recipe of
//!   `docs/audit.md`, and an independent verifier of such an export.
//! - `checkpoint`: kept checkpoints (one JSON line each), and verifying a log database
//!   against them, which shows a chain rewritten with recomputed hashes.
//! - `erasure`: the keys a ticket's events are sealed with, and replaying the log's erasure
//!   events against a key store restored from a backup.
//!
//! Everything here reads; nothing writes to the event log. Rows come from a `RowSource`:
//! the service's `EventLog`, or `LogFile`, a read-only view of a database file. The work is
//! blocking (SQLite, hashing): async callers run it in `spawn_blocking`.

pub mod checkpoint;
pub mod decode;
pub mod erasure;
mod error;
pub mod export;
mod line;
pub mod rules;
pub mod source;
pub mod time_travel;

pub use checkpoint::{
    append_checkpoint, read_checkpoints, take_checkpoint, verify_against, verify_store_against,
    Checkpoint, CheckpointReport,
};
pub use decode::{
    decode_event, decode_row, decode_rows, is_ticket_stream, TicketEvent, TICKET_STREAM_PREFIX,
};
pub use erasure::{reapply_erasures, sealed_keys_of, ErasureReplay};
pub use error::AuditError;
pub use export::{
    export_jsonl, verify_jsonl, ChainStart, ExportLine, ExportSummary, ExportVerifyReport,
    PositionRange,
};
pub use rules::{
    audit_month, rules_check, Evidence, Month, MonthAudit, Rule, RuleOptions, Violation,
};
pub use source::{for_each_row, LogFile, RowSource};
pub use time_travel::{fold_until, ticket_at, ticket_at_in, TicketAt};
