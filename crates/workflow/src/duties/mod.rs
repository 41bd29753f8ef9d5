//! The duties: what the service runs on its own, on a timer, rather than at a request. Each
//! reads the projections and records what it decides through the commands; none writes a
//! read model (the log's projector does, in the `projections` crate).
//!
//! - `timers`: the SLA timers, driven by the `sla_index` projection.
//! - `assignment`: the assigner (hand-backs of people who are away, then the policy's choices).
//! - `retention`: archived tickets leave the lists when their retention expires.
//! - `checkpoints`: the timer that keeps and publishes checkpoints of the log's head.
//! - `key_backup`: the timer that copies the key store (`keys.db`) into `backups/`.
//! - `awards`: the monthly best-suggestion award, granted at the start of each month.
//! - `report_delivery`: the report schedule, which records `report_scheduled` once per period.

use crate::commands::Commands;
use crate::queries::Readers;
use chrono::{DateTime, Utc};
use domain::Rules;
use std::sync::Arc;
use std::time::Duration;

pub mod assignment;
pub mod awards;
pub mod checkpoints;
pub mod key_backup;
pub mod report_delivery;
pub mod retention;
pub mod timers;

/// What a duty that goes over the tickets in rounds works with (the SLA timers, the
/// assigner): the command side (with its readers, rules and clock), and its pace: `tick`
/// between rounds, at most `batch` tickets a round.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub commands: Commands,
    pub tick: Duration,
    pub batch: usize,
}

impl Sweep {
    /// The readers of the projections the commands write.
    pub fn readers(&self) -> &Readers {
        &self.commands.readers
    }

    /// The rules the commands decide with.
    pub fn rules(&self) -> &Arc<Rules> {
        &self.commands.rules
    }

    /// Now, on the commands' clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.commands.clock.now()
    }
}
