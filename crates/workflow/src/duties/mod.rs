//! The duties: what the service runs on its own, on a timer, rather than at a request. Each
//! reads the projections and records what it decides through the commands; none writes a
//! read model (the log's projector does, in the `projections` crate).
//!
//! - `timers`: the SLA timers, driven by the `sla_index` projection.
//! - `assignment`: the assigner (hand-backs of people who are away, then the policy's choices).
//! - `retention`: archived tickets leave the lists when their retention expires.
//! - `checkpoints`: the timer that keeps and publishes checkpoints of the log's head.
//! - `key_backup`: the timer that copies the key store (`keys.db`) into `backups/`.

pub mod assignment;
pub mod checkpoints;
pub mod key_backup;
pub mod retention;
pub mod timers;
