//! The monthly best-suggestion award: the leader's duty that, at the start of each month
//! (the business calendar's offset), grants `award_granted` to the `suggestions.award_count`
//! best suggestions adopted or planned in the month before.
//!
//! The choice is the domain's (`domain::award`): candidates are read from the projected
//! tickets, the winners chosen purely, and each recorded on its ticket through the aggregate
//! (`GrantAward`, once per ticket). Winners already recorded for the month keep their place,
//! so a run that stopped half-way is completed by the next, and a month whose winners are all
//! recorded is left alone: the decision is made once and lives in the log, which replay folds
//! back to the same winners. The duty runs at start-up and then hourly, so a leader that was
//! down on the first of the month catches up.

use crate::clock::Clock;
use crate::commands::Commands;
use crate::error::WorkflowError;
use crate::queries::Readers;
use chrono::{DateTime, Utc};
use domain::award::{candidate, choose_winners, month_bounds, previous_month, Candidate};
use domain::command::Command;
use domain::ids::TicketId;
use domain::ticket::Ticket;
use domain::Rules;
use rusqlite::Connection;
use service::duty::Duty;
use service::shutdown::Shutdown;
use std::sync::Arc;
use std::time::Duration;

/// How often the duty looks whether a month's award is due.
pub const AWARD_CHECK: Duration = Duration::from_secs(3_600);

/// The principal the awards are recorded as.
const PRINCIPAL: &str = "cloop-workflow/awards";

/// The candidates of `month` (`[start, end)`): evaluated suggestions accepted in it.
pub fn read_candidates(
    connection: &Connection,
    month: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<Candidate>, WorkflowError> {
    // A suggestion is accepted after it was received: nothing received at or after the end
    // of the month can be a candidate.
    let mut statement = connection
        .prepare_cached(
            "SELECT state_json FROM tickets WHERE kind = 'suggestion' AND created_at_ms < ?1 \
             ORDER BY seq",
        )
        .map_err(WorkflowError::sqlite("prepare the award candidates"))?;
    let mut rows = statement
        .query([end.timestamp_millis()])
        .map_err(WorkflowError::sqlite("read the award candidates"))?;
    let mut candidates = Vec::new();
    while let Some(row) = rows
        .next()
        .map_err(WorkflowError::sqlite("read the award candidates"))?
    {
        let json: String = row
            .get(0)
            .map_err(WorkflowError::sqlite("read the award candidates"))?;
        let ticket: Ticket = serde_json::from_str(&json)
            .map_err(|error| WorkflowError::Corrupt(format!("stored ticket: {error}")))?;
        candidates.extend(candidate(&ticket, month, (start, end)));
    }
    Ok(candidates)
}

/// The award duty.
#[derive(Debug, Clone)]
pub struct Awards {
    pub commands: Commands,
    pub readers: Readers,
    pub clock: Arc<dyn Clock>,
    pub rules: Arc<Rules>,
}

impl Awards {
    /// Grants the awards of the month before now that are not recorded yet; returns how many
    /// were recorded.
    pub async fn run_once(&self) -> Result<usize, WorkflowError> {
        let settings = &self.rules.config().suggestions;
        let count = usize::try_from(settings.award_count).unwrap_or(usize::MAX);
        if count == 0 {
            return Ok(0);
        }
        let offset = self.rules.calendar().offset();
        let month = previous_month(self.clock.now(), offset);
        let bounds = month_bounds(&month, offset)
            .map_err(|error| WorkflowError::Corrupt(format!("award month {month}: {error}")))?;
        let candidates = {
            let month = month.clone();
            self.readers
                .with(move |connection| read_candidates(connection, &month, bounds))
                .await?
        };
        let mut granted = 0;
        for winner in choose_winners(&candidates, count) {
            if winner.recorded {
                continue;
            }
            let Ok(ticket_id) = TicketId::parse(&winner.ticket_id) else {
                tracing::warn!(ticket = %winner.ticket_id, "award candidate with an invalid ticket id");
                continue;
            };
            let command = Command::GrantAward {
                month: month.clone(),
                rank: winner.rank,
                score: winner.score,
                reward: settings.award_reward.trim().to_owned(),
            };
            let plan = move |ticket: &Ticket| {
                if ticket.award.is_some() {
                    Vec::new()
                } else {
                    vec![command.clone()]
                }
            };
            match self
                .commands
                .execute_system_in(&ticket_id, plan, PRINCIPAL, "award")
                .await
            {
                Ok(recorded) => granted += recorded,
                Err(error) => {
                    // The next run completes the month: recorded winners keep their rank.
                    tracing::warn!(ticket = %ticket_id, ?error, "award failed, will retry");
                    return Ok(granted);
                }
            }
        }
        if granted > 0 {
            tracing::info!(month = %month, granted, "best-suggestion awards granted");
        }
        Ok(granted)
    }

    /// Runs at once, then every [`AWARD_CHECK`], until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        Duty::every("award run", AWARD_CHECK)
            .run(shutdown, || self.run_once())
            .await;
    }
}
