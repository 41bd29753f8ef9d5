//! Who may do what: the role table of `api.md` as one pure function.
//!
//! | role | may |
//! | --- | --- |
//! | adapter | `Submit` (the `Intake` service) |
//! | service | read all tickets; `Classify`, `Dispatch`, `AddNote`, `RecordReview`, `Archive`, `Escalate`, `PauseSla`, `ResumeSla` |
//! | agent | on tickets their department leads: read, `Acknowledge`, `AddNote`, `ProposeSolution`, `PauseSla`, `ResumeSla`; on tickets their department helps with: read and `AddNote` |
//! | head | what an agent may, plus `ApproveSolution` and `Dispatch` (moving a ticket their department leads elsewhere) |
//! | manager | read all tickets; `MonthlyReport`, `AdoptedSuggestions` |
//! | auditor | read all tickets; `ReadEvents`, `VerifyLog`, `GetTicketAt` |
//! | admin, system | everything |
//!
//! A ticket of another department is `PermissionDenied` for reads and writes alike, and so is
//! a ticket not yet dispatched, for agents and heads. `ListTickets` and `WatchTickets` are
//! allowed to agents and heads without a ticket: the caller must then restrict the results
//! to [`department_scope`].

use crate::command::Command;
use crate::ticket::Ticket;
use crate::types::{Actor, Role};
use crate::DomainError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Every RPC of `api.md` that needs a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// `Intake.Submit` and `Intake.SubmitStream`, and the NATS inbound subjects.
    Submit,
    GetTicket,
    ListTickets,
    GetHistory,
    WatchTickets,
    Classify,
    Dispatch,
    Acknowledge,
    AddNote,
    ProposeSolution,
    ApproveSolution,
    RecordReview,
    Archive,
    Escalate,
    PauseSla,
    ResumeSla,
    ReadEvents,
    VerifyLog,
    GetTicketAt,
    MonthlyReport,
    AdoptedSuggestions,
}

impl Action {
    /// Every action, in declaration order.
    pub const ALL: &'static [Action] = &[
        Action::Submit,
        Action::GetTicket,
        Action::ListTickets,
        Action::GetHistory,
        Action::WatchTickets,
        Action::Classify,
        Action::Dispatch,
        Action::Acknowledge,
        Action::AddNote,
        Action::ProposeSolution,
        Action::ApproveSolution,
        Action::RecordReview,
        Action::Archive,
        Action::Escalate,
        Action::PauseSla,
        Action::ResumeSla,
        Action::ReadEvents,
        Action::VerifyLog,
        Action::GetTicketAt,
        Action::MonthlyReport,
        Action::AdoptedSuggestions,
    ];

    /// The RPC's name as `api.md` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Submit => "Submit",
            Action::GetTicket => "GetTicket",
            Action::ListTickets => "ListTickets",
            Action::GetHistory => "GetHistory",
            Action::WatchTickets => "WatchTickets",
            Action::Classify => "Classify",
            Action::Dispatch => "Dispatch",
            Action::Acknowledge => "Acknowledge",
            Action::AddNote => "AddNote",
            Action::ProposeSolution => "ProposeSolution",
            Action::ApproveSolution => "ApproveSolution",
            Action::RecordReview => "RecordReview",
            Action::Archive => "Archive",
            Action::Escalate => "Escalate",
            Action::PauseSla => "PauseSla",
            Action::ResumeSla => "ResumeSla",
            Action::ReadEvents => "ReadEvents",
            Action::VerifyLog => "VerifyLog",
            Action::GetTicketAt => "GetTicketAt",
            Action::MonthlyReport => "MonthlyReport",
            Action::AdoptedSuggestions => "AdoptedSuggestions",
        }
    }

    /// Whether the action only reads tickets of the `Tickets` service.
    pub fn is_ticket_read(self) -> bool {
        matches!(
            self,
            Action::GetTicket | Action::ListTickets | Action::GetHistory | Action::WatchTickets
        )
    }

    /// The action a person's command needs; `None` for commands only the services issue.
    pub fn for_command(command: &Command) -> Option<Action> {
        match command {
            Command::Classify(_) => Some(Action::Classify),
            Command::Dispatch { .. } => Some(Action::Dispatch),
            Command::Acknowledge { .. } => Some(Action::Acknowledge),
            Command::AddNote { .. } => Some(Action::AddNote),
            Command::ProposeSolution { .. } => Some(Action::ProposeSolution),
            Command::ApproveSolution { .. } => Some(Action::ApproveSolution),
            Command::RecordReview { .. } => Some(Action::RecordReview),
            Command::Archive => Some(Action::Archive),
            Command::Escalate { .. } => Some(Action::Escalate),
            Command::PauseSla { .. } => Some(Action::PauseSla),
            Command::ResumeSla => Some(Action::ResumeSla),
            Command::Receive(_)
            | Command::RaiseSlaWarning { .. }
            | Command::RecordSlaBreach { .. }
            | Command::EscalateSla { .. }
            | Command::ExpireRetention
            | Command::EraseCustomer => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of a department's relation to a ticket an action needs.
enum DepartmentNeed {
    /// Leading or helping: reading and adding notes.
    Involved,
    /// Leading: acting on the ticket.
    Leads,
}

/// The department an agent or head is limited to; `None` for roles that see every ticket
/// they may see at all. Lists and watches for a limited actor must be filtered by it.
pub fn department_scope(actor: &Actor) -> Option<&str> {
    match actor.role {
        Role::Agent | Role::Head => Some(actor.department.as_deref().unwrap_or("")),
        _ => None,
    }
}

fn denied(actor: &Actor, action: Action) -> DomainError {
    DomainError::PermissionDenied {
        reason: format!(
            "{} ({}) may not call {}",
            actor.principal,
            actor.role,
            action.as_str()
        ),
    }
}

/// Checks whether `actor` may perform `action`, on `ticket` where the action is about one.
pub fn authorize(
    actor: &Actor,
    action: Action,
    ticket: Option<&Ticket>,
) -> Result<(), DomainError> {
    use Action as A;
    let allowed = match actor.role {
        Role::Admin | Role::System => true,
        Role::Adapter => action == A::Submit,
        Role::Service => {
            action.is_ticket_read()
                || matches!(
                    action,
                    A::Classify
                        | A::Dispatch
                        | A::AddNote
                        | A::RecordReview
                        | A::Archive
                        | A::Escalate
                        | A::PauseSla
                        | A::ResumeSla
                )
        }
        Role::Manager => {
            action.is_ticket_read() || matches!(action, A::MonthlyReport | A::AdoptedSuggestions)
        }
        Role::Auditor => {
            action.is_ticket_read()
                || matches!(action, A::ReadEvents | A::VerifyLog | A::GetTicketAt)
        }
        Role::Agent | Role::Head => {
            let need = match action {
                A::GetTicket | A::GetHistory | A::AddNote => Some(DepartmentNeed::Involved),
                A::ListTickets | A::WatchTickets => {
                    if ticket.is_none() {
                        return department_of(actor, action).map(|_| ());
                    }
                    Some(DepartmentNeed::Involved)
                }
                A::Acknowledge | A::ProposeSolution | A::PauseSla | A::ResumeSla => {
                    Some(DepartmentNeed::Leads)
                }
                A::ApproveSolution | A::Dispatch if actor.role == Role::Head => {
                    Some(DepartmentNeed::Leads)
                }
                _ => None,
            };
            return match need {
                None => Err(denied(actor, action)),
                Some(need) => check_department(actor, action, ticket, need),
            };
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(denied(actor, action))
    }
}

fn department_of(actor: &Actor, action: Action) -> Result<&str, DomainError> {
    match actor.department.as_deref() {
        Some(department) if !department.is_empty() => Ok(department),
        _ => Err(DomainError::PermissionDenied {
            reason: format!(
                "{} ({}) has no department and may not call {}",
                actor.principal,
                actor.role,
                action.as_str()
            ),
        }),
    }
}

fn check_department(
    actor: &Actor,
    action: Action,
    ticket: Option<&Ticket>,
    need: DepartmentNeed,
) -> Result<(), DomainError> {
    let department = department_of(actor, action)?;
    let Some(ticket) = ticket else {
        return Err(DomainError::PermissionDenied {
            reason: format!(
                "{} needs the ticket to check its department",
                action.as_str()
            ),
        });
    };
    let allowed = match need {
        DepartmentNeed::Involved => ticket.involves_department(department),
        DepartmentNeed::Leads => ticket.department.as_deref() == Some(department),
    };
    if allowed {
        Ok(())
    } else {
        Err(DomainError::PermissionDenied {
            reason: format!(
                "ticket {} is not {} by department {department}",
                ticket.id_text(),
                match need {
                    DepartmentNeed::Involved => "led or helped",
                    DepartmentNeed::Leads => "led",
                }
            ),
        })
    }
}
