//! Retention of archived tickets: the `[retention]` table, the reads of the `retention_index`
//! projection (the `projections` crate writes it), and the daily timer that records `retention_expired`
//! (domain command `ExpireRetention`) on every ticket archived longer ago than the retention
//! period (`archived_days`, 730 by default: the documents' "at least 2 years").
//!
//! After its `retention_expired` event a ticket leaves the projections' lists, search and
//! watches; the fold empties its content and personal data. The log is never rewritten: the
//! history of the ticket, with the new event, stays in it and verifies.
//!
//! The timer is derived from the projections, never held only in memory, so it survives
//! restarts (the first run is at start-up), and it never fires twice: the aggregate records
//! the expiry once, and the append names the version the timer saw.

use crate::clock::Clock;
use crate::commands::Commands;
use crate::error::WorkflowError;
use crate::queries::{due_ticket_ids, Readers};
use chrono::{DateTime, Utc};
use domain::command::Command;
use domain::ids::TicketId;
use domain::ticket::Ticket;
use rusqlite::Connection;
use serde::Deserialize;
use service::duty::Duty;
use service::shutdown::Shutdown;
use std::sync::Arc;
use std::time::Duration;

/// The `[retention]` table of the configuration file. Every key is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// How long an archived ticket is kept in the lists, in days after its archiving.
    pub archived_days: u64,
    /// The same in seconds; when set it replaces `archived_days` (for tests and trials).
    pub archived_seconds: Option<u64>,
    /// How often the timer looks for expired tickets, in seconds (daily by default).
    pub check_interval_secs: u64,
    /// Tickets expired per database read at most.
    pub batch: usize,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            archived_days: 730,
            archived_seconds: None,
            check_interval_secs: 86_400,
            batch: 500,
        }
    }
}

impl RetentionSettings {
    /// Checks the values that have a limited range; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if self.archived_seconds.is_none() && self.archived_days == 0 {
            return Err("[retention] archived_days must be positive".into());
        }
        if self.archived_days > 36_500
            || self
                .archived_seconds
                .is_some_and(|secs| secs > 3_153_600_000)
        {
            return Err("[retention] the retention period must be at most 100 years".into());
        }
        if self.batch == 0 {
            return Err("[retention] batch must be positive".into());
        }
        Ok(())
    }

    /// The retention period after archiving.
    pub fn period(&self) -> chrono::Duration {
        let seconds = self
            .archived_seconds
            .unwrap_or(self.archived_days.saturating_mul(86_400));
        chrono::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 1_000))
    }

    /// How often the timer runs.
    pub fn check_interval(&self) -> Duration {
        Duration::from_secs(self.check_interval_secs.max(1))
    }
}

/// The archived tickets whose archiving was at or before `cutoff`, oldest first, at most
/// `limit`.
pub fn due_for_retention(
    connection: &Connection,
    cutoff: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<String>, WorkflowError> {
    due_ticket_ids(
        connection,
        "SELECT ticket_id FROM retention_index WHERE archived_at_ms <= ?1 \
         ORDER BY archived_at_ms, seq LIMIT ?2",
        cutoff,
        limit,
        (
            "prepare the retention read",
            "read tickets due for retention",
        ),
    )
}

/// The command the timer runs on a ticket: `ExpireRetention` when it was archived at or
/// before `cutoff` and has not expired yet, nothing otherwise.
pub fn plan(ticket: &Ticket, cutoff: DateTime<Utc>) -> Vec<Command> {
    let due = ticket.is_archived()
        && !ticket.retention_expired
        && ticket.archived_at.is_some_and(|at| at <= cutoff);
    if due {
        vec![Command::ExpireRetention]
    } else {
        Vec::new()
    }
}

/// The retention timer.
#[derive(Debug, Clone)]
pub struct Retention {
    pub commands: Commands,
    pub readers: Readers,
    pub clock: Arc<dyn Clock>,
    pub settings: RetentionSettings,
}

impl Retention {
    /// Records `retention_expired` on every ticket due now; returns how many.
    pub async fn run_once(&self) -> Result<usize, WorkflowError> {
        let cutoff = self.clock.now() - self.settings.period();
        let batch = self.settings.batch;
        let mut expired = 0;
        loop {
            let due = self
                .readers
                .with(move |connection| due_for_retention(connection, cutoff, batch))
                .await?;
            let mut recorded = 0;
            for ticket_text in &due {
                let Ok(ticket_id) = TicketId::parse(ticket_text) else {
                    tracing::warn!(ticket = %ticket_text, "retention index names an invalid ticket id");
                    continue;
                };
                match self
                    .commands
                    .execute_system(
                        &ticket_id,
                        move |ticket| plan(ticket, cutoff),
                        "cloop-workflow/retention",
                    )
                    .await
                {
                    Ok(count) => recorded += count,
                    Err(error) => {
                        tracing::warn!(ticket = %ticket_id, ?error, "retention expiry failed, will retry");
                    }
                }
            }
            expired += recorded;
            // A short batch was the last; a batch where nothing could be recorded (all
            // failing for now) is left for the next run rather than read again at once.
            if due.len() < batch || recorded == 0 {
                break;
            }
        }
        if expired > 0 {
            tracing::info!(
                expired,
                "archived tickets reached the end of their retention"
            );
        }
        Ok(expired)
    }

    /// Runs at once, then every `check_interval`, until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        Duty::every("retention run", self.settings.check_interval())
            .run(shutdown, || self.run_once())
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_section_has_the_documents_default_and_a_seconds_override() {
        let defaults = RetentionSettings::default();
        assert_eq!(defaults.validate(), Ok(()));
        assert_eq!(defaults.period(), chrono::Duration::days(730));
        assert_eq!(defaults.check_interval(), Duration::from_secs(86_400));
        let file = service::config::ConfigFile::from_toml_str(
            "[retention]\narchived_seconds = 2\ncheck_interval_secs = 1\n",
            None,
        )
        .expect("valid file");
        let settings: RetentionSettings = file.section("retention").expect("section");
        assert_eq!(settings.period(), chrono::Duration::seconds(2));
        let zero = RetentionSettings {
            archived_days: 0,
            ..RetentionSettings::default()
        };
        assert!(zero
            .validate()
            .expect_err("zero days")
            .contains("archived_days"));
        let unknown = service::config::ConfigFile::from_toml_str("[retention]\ndays = 3\n", None)
            .expect("valid toml");
        assert!(unknown.section::<RetentionSettings>("retention").is_err());
    }

    #[test]
    fn only_archived_tickets_past_the_cutoff_expire_and_only_once() {
        let archived_at = Utc.with_ymd_and_hms(2024, 1, 10, 8, 0, 0).unwrap();
        let archived = Ticket {
            version: 9,
            step: domain::types::Step::Archive,
            archived_at: Some(archived_at),
            ..Ticket::default()
        };
        assert_eq!(plan(&archived, archived_at), vec![Command::ExpireRetention]);
        assert!(plan(&archived, archived_at - chrono::Duration::seconds(1)).is_empty());
        let expired = Ticket {
            retention_expired: true,
            ..archived.clone()
        };
        assert!(plan(&expired, archived_at).is_empty());
        let open = Ticket {
            step: domain::types::Step::Handle,
            archived_at: None,
            ..archived
        };
        assert!(plan(&open, archived_at).is_empty());
    }
}
