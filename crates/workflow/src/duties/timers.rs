//! The SLA timers: every tick, the tickets whose next check in the `sla_index` projection is
//! due get their warning, breach and escalation events, decided by the aggregate on the
//! ticket's current state and appended with its expected version.
//!
//! Timers survive restarts because they are derived from the projections, never held only in
//! memory, and they never fire twice: the aggregate returns no event for a mark already
//! recorded, and the append names the version the timer saw.

use crate::error::WorkflowError;
use crate::metrics::WorkflowMetrics;
use crate::queries::due_for_timers;
use chrono::{DateTime, Utc};
use domain::command::Command;
use domain::ids::TicketId;
use domain::ticket::Ticket;
use domain::types::{Deadline, SlaState};
use domain::Rules;
use service::duty::Duty;
use service::shutdown::Shutdown;

/// Who the escalation of `level` for a ticket of `department` goes to: the department's
/// configured contact (a principal, or `role:<role>` shown as "head of logistics"), else the
/// role the SLA policy's chain names.
pub fn escalation_target(rules: &Rules, department: Option<&str>, level: usize) -> Option<String> {
    let index = level.checked_sub(1)?;
    let contact = department
        .and_then(|department| rules.config().departments.get(department))
        .and_then(|config| config.escalation.get(index))
        .cloned()
        .or_else(|| {
            let role = rules.config().sla.escalation.get(index)?.notify;
            Some(format!("role:{role}"))
        })?;
    Some(match (contact.strip_prefix("role:"), department) {
        (Some(role), Some(department)) => format!("{role} of {department}"),
        (Some(role), None) => role.to_owned(),
        (None, _) => contact,
    })
}

/// The system commands the timers run on a ticket at `now`, in order: warnings, breaches,
/// then every escalation level whose instant has come. The aggregate drops what is not due.
pub fn plan(ticket: &Ticket, rules: &Rules, now: DateTime<Utc>) -> Vec<Command> {
    let mut commands = Vec::new();
    let deadlines = [Deadline::Respond, Deadline::Resolve];
    for deadline in deadlines {
        if ticket.deadline_open(deadline) {
            commands.push(Command::RaiseSlaWarning { deadline });
            commands.push(Command::RecordSlaBreach { deadline });
        }
    }
    let levels = rules.config().sla.escalation.len();
    for deadline in deadlines {
        let Some(due) = ticket.due_of(deadline) else {
            continue;
        };
        let breached = ticket.sla_of(deadline) == SlaState::Breached || due <= now;
        if !ticket.deadline_open(deadline) || !breached {
            continue;
        }
        for level in usize::from(ticket.escalation_level) + 1..=levels {
            let Some((_, at)) = rules.escalation(due, level) else {
                break;
            };
            if at > now {
                break;
            }
            commands.push(Command::EscalateSla {
                deadline,
                level: u8::try_from(level).unwrap_or(u8::MAX),
                to: escalation_target(rules, ticket.department.as_deref(), level),
            });
        }
    }
    commands
}

/// The timer loop.
#[derive(Debug, Clone)]
pub struct Timers {
    pub sweep: super::Sweep,
    pub metrics: WorkflowMetrics,
}

impl Timers {
    /// Looks at every ticket that is due now; returns how many events were recorded.
    pub async fn tick_once(&self) -> Result<usize, WorkflowError> {
        let now = self.sweep.now();
        let batch = self.sweep.batch;
        let due = self
            .sweep
            .readers()
            .with(move |connection| due_for_timers(connection, now, batch))
            .await?;
        let mut recorded = 0;
        for ticket_text in due {
            let Ok(ticket_id) = TicketId::parse(&ticket_text) else {
                tracing::warn!(ticket = %ticket_text, "sla index names an invalid ticket id");
                continue;
            };
            let rules = self.sweep.rules().clone();
            let now = self.sweep.now();
            match self
                .sweep
                .commands
                .execute_system(
                    &ticket_id,
                    move |ticket| plan(ticket, &rules, now),
                    "cloop-workflow/sla",
                )
                .await
            {
                Ok(count) => {
                    if count > 0 {
                        tracing::info!(ticket = %ticket_id, events = count, "sla timers fired");
                        self.metrics
                            .timer_events
                            .with_label_values(&["recorded"])
                            .inc_by(count as u64);
                    }
                    recorded += count;
                }
                Err(error) => {
                    tracing::warn!(ticket = %ticket_id, ?error, "sla timers failed, will retry");
                }
            }
        }
        Ok(recorded)
    }

    /// Runs a tick every `tick` until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        Duty::every("sla timer tick", self.sweep.tick)
            .run(shutdown, || self.tick_once())
            .await;
    }
}
