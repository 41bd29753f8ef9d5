//! Problems and duplicates on the command side: linking a ticket to a parent problem (two
//! streams in one writer transaction), passing a solved problem on to its children, and the
//! similar-tickets query.
//!
//! A link appends `LinkedToProblem` to the child with the child's expected version and
//! `ChildLinked` to the parent, both in one `append_many` (one transaction). The parent's
//! request expects any version: its event id is derived from the command id, so a repeat is a
//! no-op, and a concurrent change of the parent cannot leave the child linked alone.
//!
//! When a command leaves a parent solved and reviewed, every open child receives
//! `ParentResolved` through the system command `ResolveFromParent`, with event ids derived
//! from the child's version: repeating the cascade (a repeated command id, a second review
//! path) appends nothing twice.

use crate::commands::{failure_from_log, failure_from_read, require_role, Commands};
use crate::record::{self, Provenance};
use crate::WorkflowError;
use domain::authorize::{authorize_on_ticket, Action};
use domain::command::Command;
use domain::ids::{CommandId, EventId, TicketId};
use domain::problems::{decide_link, parent_resolution, similar_tickets, SimilarTicket};
use domain::ticket::Ticket;
use domain::types::{Actor, LinkMode, Step};
use eventlog::{AppendRequest, ExpectedVersion, LogError};
use rusqlite::Connection;
use service::Failure;

/// The most candidates one similar-tickets query scores: the window is a few days, so this
/// only bounds a flood of tickets in one week.
pub const MAX_SIMILAR_CANDIDATES: i64 = 20_000;

/// The principal the cascade of a solved problem records as its actor.
pub const CASCADE_PRINCIPAL: &str = "problems";

impl Commands {
    /// Links `child_id` to the problem `parent_id` (or merges it as a duplicate). Returns the
    /// child after the link; a repeated command id returns the first result.
    pub async fn link_to_problem(
        &self,
        actor: &Actor,
        child_id: &TicketId,
        command_id: &CommandId,
        expected_version: Option<u64>,
        parent_id: &TicketId,
        mode: LinkMode,
    ) -> Result<Ticket, Failure> {
        let result: Result<Ticket, Failure> = async {
            require_role(actor, Action::LinkToProblem)?;
            let provenance = Provenance::command(actor, command_id);
            let mut attempt = 0u32;
            loop {
                let child = self.load_existing(child_id).await?;
                if let Some(earlier) = self
                    .authorize_then_replay(
                        actor,
                        Action::LinkToProblem,
                        &child,
                        child_id,
                        command_id,
                    )
                    .await?
                {
                    return Ok(earlier);
                }
                if let Some(expected) = expected_version {
                    if expected != child.version {
                        return Err(Failure::Conflict {
                            expected,
                            actual: child.version,
                        });
                    }
                }
                let parent = self.load_existing(parent_id).await?;
                authorize_on_ticket(actor, Action::GetTicket, &parent, &parent_id.to_string())?;
                let now = self.clock.now();
                let decision = decide_link(&child, &parent, mode, now)?;
                let child_rows = record::new_events(&decision.child_events, &provenance, |index| {
                    EventId::for_command(command_id, child_id, index)
                });
                let parent_rows =
                    record::new_events(&decision.parent_events, &provenance, |index| {
                        EventId::for_command(command_id, parent_id, index)
                    });
                let mut answers = self
                    .log
                    .append_many(vec![
                        AppendRequest {
                            stream_id: child_id.stream_id(),
                            expected: ExpectedVersion::Exact(child.version),
                            events: child_rows,
                        },
                        AppendRequest {
                            stream_id: parent_id.stream_id(),
                            expected: ExpectedVersion::Any,
                            events: parent_rows,
                        },
                    ])
                    .await
                    .into_iter();
                let child_answer = answers
                    .next()
                    .unwrap_or(Err(LogError::Closed))
                    .map_err(|error| (error, child.version));
                let parent_answer = answers.next().unwrap_or(Err(LogError::Closed));
                match child_answer {
                    Ok(outcome) if outcome.duplicate => {
                        return self.recorded_result(child_id, command_id).await;
                    }
                    Ok(_) => {
                        if let Err(error) = parent_answer {
                            // The child's side committed without the parent's: say so loudly; a
                            // repeat of the command adds the parent's side (same event id).
                            tracing::error!(
                                child = %child_id,
                                parent = %parent_id,
                                %error,
                                "the parent's side of a link was not recorded"
                            );
                            return Err(failure_from_log(error));
                        }
                        return Ok(decision.child_events.iter().fold(child, domain::apply));
                    }
                    Err((LogError::Conflict { actual, .. }, version)) => {
                        if let Some(expected) = expected_version {
                            return Err(Failure::Conflict { expected, actual });
                        }
                        attempt += 1;
                        if attempt > self.retries {
                            return Err(Failure::Conflict {
                                expected: version,
                                actual,
                            });
                        }
                        self.metrics.command_retries.inc();
                    }
                    Err((error, _)) => return Err(failure_from_log(error)),
                }
            }
        }
        .await;
        self.count("link_to_problem", &result);
        result
    }

    /// When `parent` is a solved and reviewed problem, moves each of its open children to
    /// review with the parent's solution. Returns how many children moved. Safe to repeat.
    pub async fn resolve_children(&self, parent: &Ticket) -> Result<usize, Failure> {
        let Some((outcome, solution)) = parent_resolution(parent) else {
            return Ok(0);
        };
        let Some(parent_id) = parent.ticket_id.clone() else {
            return Ok(0);
        };
        let mut moved = 0;
        for link in &parent.children {
            let command = Command::ResolveFromParent {
                parent: parent_id.clone(),
                outcome,
                solution: solution.clone(),
            };
            let recorded = self
                .execute_system(
                    &link.child,
                    move |_| vec![command.clone()],
                    CASCADE_PRINCIPAL,
                )
                .await?;
            if recorded > 0 {
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// Runs [`Commands::resolve_children`] after a command, logging instead of failing: the
    /// command itself is recorded, and a repeat of it runs the cascade again.
    pub async fn after_command(&self, ticket: &Ticket) {
        if parent_resolution(ticket).is_none() {
            return;
        }
        match self.resolve_children(ticket).await {
            Ok(moved) => tracing::info!(
                ticket = %ticket.id_text(),
                moved,
                "a solved problem was passed on to its children"
            ),
            Err(error) => tracing::warn!(
                ticket = %ticket.id_text(),
                error = ?error,
                "passing a solved problem on to its children failed; repeat the review command"
            ),
        }
    }
}

/// Open tickets that look like `target`: candidates from the creation window (by the
/// `created_at_ms` index, open steps only), scored by keyword overlap in Rust.
pub fn list_similar(
    connection: &Connection,
    target: &Ticket,
    config: &domain::problems::ProblemsConfig,
    limit: usize,
) -> Result<Vec<SimilarTicket>, WorkflowError> {
    let Some(created_at) = target.created_at else {
        return Ok(Vec::new());
    };
    let (from, to) = config.window(created_at);
    let mut statement = connection
        .prepare_cached(
            "SELECT state_json FROM tickets WHERE created_at_ms >= ?1 AND created_at_ms <= ?2 \
             AND step IN (?3, ?4, ?5) ORDER BY created_at_ms LIMIT ?6",
        )
        .map_err(WorkflowError::sqlite("prepare the similar tickets"))?;
    let rows = statement
        .query_map(
            rusqlite::params![
                from.timestamp_millis(),
                to.timestamp_millis(),
                Step::Classify.as_str(),
                Step::Dispatch.as_str(),
                Step::Handle.as_str(),
                MAX_SIMILAR_CANDIDATES,
            ],
            |row| row.get::<_, String>(0),
        )
        .map_err(WorkflowError::sqlite("read the similar tickets"))?;
    let mut candidates = Vec::new();
    for row in rows {
        let json = row.map_err(WorkflowError::sqlite("read the similar tickets"))?;
        let ticket: Ticket = serde_json::from_str(&json)
            .map_err(|error| WorkflowError::Corrupt(format!("stored ticket: {error}")))?;
        candidates.push(ticket);
    }
    Ok(similar_tickets(target, candidates, config, limit))
}

/// Turns a projection read error into the failure a caller sees (re-exported for the RPC).
pub fn read_failure(error: WorkflowError) -> Failure {
    failure_from_read(error)
}
