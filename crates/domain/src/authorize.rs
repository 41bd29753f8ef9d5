//! Who may do what: the role table of `api.md` as one pure function.
//!
//! | role | may |
//! | --- | --- |
//! | adapter | `Submit` (the `Intake` service) |
//! | service | read all tickets; `Classify`, `Dispatch`, `AddNote`, `RecordReview`, `Archive`, `Escalate`, `PauseSla`, `ResumeSla`, `LinkToProblem`, `ListSimilar`, `Assign`, `RecordNotification`, `EvaluateSuggestion`, `MarkDelivered`, `TagCustomer`; `Report` and `RecordReportDelivery` (the scheduled reports cloop-notify delivers) |
//! | agent | on tickets their department leads: read, `Acknowledge`, `AddNote`, `ProposeSolution`, `EvaluateSuggestion`, `MarkDelivered`, `PauseSla`, `ResumeSla`, `Claim`; on tickets their department leads or helps with: read, `AddNote`, `ListSimilar`; `SetAway` for themself |
//! | head | what an agent may, plus `ApproveSolution`, `Dispatch` (moving a ticket their department leads elsewhere) and `Assign` (to a member of the department); `SetAway` for the department's members |
//! | manager | read all tickets; `MonthlyReport`, `Report`, `PeopleReport`, `AdoptedSuggestions` |
//! | auditor | read all tickets; `ReadEvents`, `VerifyLog`, `GetTicketAt` |
//! | admin, system | everything |
//!
//! A ticket an agent or head may not see at all (another department's, or one not yet
//! dispatched) is answered exactly like a missing one by [`authorize_on_ticket`]: `NotFound`,
//! with the same words, for reads and writes alike, so that a department learns nothing of
//! another's tickets, not even that they exist. A ticket they see but may not act on (one their
//! department only helps with) is `PermissionDenied`. `ListTickets` and `WatchTickets` are
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
    /// `Reports.Report`: the report over a quarter or any range of days.
    Report,
    /// `Reports.PeopleReport`: each person's figures. Agents and heads too, the workflow
    /// restricting them to themself and to their department's people.
    PeopleReport,
    AdoptedSuggestions,
    /// `Tickets.LinkToProblem`: link a ticket to a parent problem or merge a duplicate.
    LinkToProblem,
    /// `Tickets.ListSimilar`: open tickets that look like the same report.
    ListSimilar,
    Claim,
    Assign,
    SetAway,
    RecordNotification,
    /// The customer's own reply (`SelfService.Reply`, or a submission naming the ticket): only
    /// the services record it, for the customer.
    Reply,
    /// `Tickets.EvaluateSuggestion`: the owning department's evaluation of a suggestion.
    EvaluateSuggestion,
    /// `Tickets.MarkDelivered`: a planned suggestion was delivered.
    MarkDelivered,
    /// `Reports.RecordReportDelivery`: the record of a scheduled report sent to a manager.
    RecordReportDelivery,
    /// `Customers.TagCustomer`: staff tags on a customer, VIP included.
    TagCustomer,
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
        Action::Report,
        Action::PeopleReport,
        Action::AdoptedSuggestions,
        Action::LinkToProblem,
        Action::ListSimilar,
        Action::Claim,
        Action::Assign,
        Action::SetAway,
        Action::RecordNotification,
        Action::Reply,
        Action::EvaluateSuggestion,
        Action::MarkDelivered,
        Action::RecordReportDelivery,
        Action::TagCustomer,
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
            Action::Report => "Report",
            Action::PeopleReport => "PeopleReport",
            Action::AdoptedSuggestions => "AdoptedSuggestions",
            Action::LinkToProblem => "LinkToProblem",
            Action::ListSimilar => "ListSimilar",
            Action::Claim => "Claim",
            Action::Assign => "Assign",
            Action::SetAway => "SetAway",
            Action::RecordNotification => "RecordNotification",
            Action::Reply => "Reply",
            Action::EvaluateSuggestion => "EvaluateSuggestion",
            Action::MarkDelivered => "MarkDelivered",
            Action::RecordReportDelivery => "RecordReportDelivery",
            Action::TagCustomer => "TagCustomer",
        }
    }

    /// What the action does, as a person says it ("record a review"): the words of a refusal.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Submit => "submit feedback",
            Action::GetTicket => "read this ticket",
            Action::ListTickets => "list tickets",
            Action::GetHistory => "read a ticket's history",
            Action::WatchTickets => "watch tickets",
            Action::Classify => "classify a ticket",
            Action::Dispatch => "dispatch a ticket",
            Action::Acknowledge => "acknowledge a ticket",
            Action::AddNote => "add a note",
            Action::ProposeSolution => "propose a solution",
            Action::ApproveSolution => "approve or reject a solution",
            Action::RecordReview => "record a review",
            Action::Archive => "archive a ticket",
            Action::Escalate => "escalate a ticket",
            Action::PauseSla => "pause the SLA clock",
            Action::ResumeSla => "resume the SLA clock",
            Action::ReadEvents => "read the event log",
            Action::VerifyLog => "verify the event log",
            Action::GetTicketAt => "read a ticket as it was",
            Action::MonthlyReport => "read the monthly report",
            Action::Report => "read the report of a period",
            Action::PeopleReport => "read the people report",
            Action::AdoptedSuggestions => "read the adopted suggestions",
            Action::LinkToProblem => "link a ticket to a problem",
            Action::ListSimilar => "list similar tickets",
            Action::Claim => "claim a ticket",
            Action::Assign => "assign a ticket",
            Action::SetAway => "set people away",
            Action::RecordNotification => "record a notification",
            Action::Reply => "record a customer's reply",
            Action::EvaluateSuggestion => "evaluate a suggestion",
            Action::MarkDelivered => "mark a suggestion delivered",
            Action::RecordReportDelivery => "record a report's delivery",
            Action::TagCustomer => "tag a customer",
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
            _ if command.is_system() => None,
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
            Command::LinkToProblem { .. } => Some(Action::LinkToProblem),
            Command::Claim { .. } => Some(Action::Claim),
            Command::Assign { .. } => Some(Action::Assign),
            Command::RecordNotification(_) => Some(Action::RecordNotification),
            Command::RecordReply { .. } => Some(Action::Reply),
            Command::EvaluateSuggestion { .. } => Some(Action::EvaluateSuggestion),
            Command::MarkDelivered { .. } => Some(Action::MarkDelivered),
            Command::TagCustomer { .. } => Some(Action::TagCustomer),
            // The services' own commands, caught above.
            _ => None,
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

/// Who the actor is, for a refusal: `wang.wu (agent of technical)`, `li.si (manager)`.
pub fn describe_actor(actor: &Actor) -> String {
    match actor.department.as_deref() {
        Some(department) if !department.is_empty() => {
            format!("{} ({} of {department})", actor.principal, actor.role)
        }
        _ => format!("{} ({})", actor.principal, actor.role),
    }
}

fn denied(actor: &Actor, action: Action) -> DomainError {
    DomainError::PermissionDenied {
        reason: format!("{} may not {}", describe_actor(actor), action.describe()),
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
                        | A::LinkToProblem
                        | A::ListSimilar
                        | A::Assign
                        | A::RecordNotification
                        | A::EvaluateSuggestion
                        | A::MarkDelivered
                        | A::Report
                        | A::RecordReportDelivery
                        | A::TagCustomer
                )
        }
        Role::Manager => {
            action.is_ticket_read()
                || matches!(
                    action,
                    A::MonthlyReport | A::Report | A::PeopleReport | A::AdoptedSuggestions
                )
        }
        Role::Auditor => {
            action.is_ticket_read()
                || matches!(action, A::ReadEvents | A::VerifyLog | A::GetTicketAt)
        }
        Role::Agent | Role::Head => {
            let need = match action {
                A::GetTicket | A::GetHistory | A::AddNote | A::ListSimilar => {
                    Some(DepartmentNeed::Involved)
                }
                // Their own figures, or their department's people's: the workflow restricts
                // the rows (`Reports.PeopleReport`).
                A::PeopleReport => return department_of(actor, action).map(|_| ()),
                A::ListTickets | A::WatchTickets => {
                    if ticket.is_none() {
                        return department_of(actor, action).map(|_| ());
                    }
                    Some(DepartmentNeed::Involved)
                }
                A::Acknowledge
                | A::ProposeSolution
                | A::PauseSla
                | A::ResumeSla
                | A::EvaluateSuggestion
                | A::MarkDelivered => Some(DepartmentNeed::Leads),
                A::ApproveSolution | A::Dispatch if actor.role == Role::Head => {
                    Some(DepartmentNeed::Leads)
                }
                // Claiming and setting oneself away; who may be set away by whom is checked
                // by `rules::assignment::authorize_set_away`.
                A::Claim | A::SetAway => Some(DepartmentNeed::Leads),
                A::Assign if actor.role == Role::Head => Some(DepartmentNeed::Leads),
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

/// Checks `action` on an existing `ticket` as [`authorize`] does, except that a ticket the
/// actor may not see at all is refused exactly as a missing one is (`NotFound` for
/// `ticket_id`, the id the caller asked for): the answer tells a stranger nothing. Every
/// request about one ticket runs this before anything else about the ticket is revealed or
/// replayed.
pub fn authorize_on_ticket(
    actor: &Actor,
    action: Action,
    ticket: &Ticket,
    ticket_id: &str,
) -> Result<(), DomainError> {
    if !may_see(actor, ticket) {
        return Err(DomainError::NotFound {
            ticket_id: ticket_id.to_owned(),
        });
    }
    authorize(actor, action, Some(ticket))
}

/// Whether `actor` may read `ticket` at all.
pub fn may_see(actor: &Actor, ticket: &Ticket) -> bool {
    authorize(actor, Action::GetTicket, Some(ticket)).is_ok()
}

fn department_of(actor: &Actor, action: Action) -> Result<&str, DomainError> {
    match actor.department.as_deref() {
        Some(department) if !department.is_empty() => Ok(department),
        _ => Err(DomainError::PermissionDenied {
            reason: format!(
                "{} has no department and may not {}",
                describe_actor(actor),
                action.describe()
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
    DomainError::unless_allowed(allowed, || {
        format!(
            "ticket {} is not {} by department {department}",
            ticket.id_text(),
            match need {
                DepartmentNeed::Involved => "led or helped",
                DepartmentNeed::Leads => "led",
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TicketIdGenerator;
    use chrono::{TimeZone, Utc};

    /// How the ticket in question relates to the actor's department.
    #[derive(Debug, Clone, Copy)]
    enum Relation {
        /// The actor's department leads the ticket.
        Leads,
        /// The actor's department helps with it.
        Helps,
        /// Another department's ticket.
        Other,
        /// Not dispatched to anyone yet.
        Undispatched,
        /// No ticket given (lists, watches, reports).
        NoTicket,
    }

    const RELATIONS: [Relation; 5] = [
        Relation::Leads,
        Relation::Helps,
        Relation::Other,
        Relation::Undispatched,
        Relation::NoTicket,
    ];

    const READS: [Action; 4] = [
        Action::GetTicket,
        Action::ListTickets,
        Action::GetHistory,
        Action::WatchTickets,
    ];

    fn ticket(relation: Relation) -> Option<Ticket> {
        let now = Utc
            .with_ymd_and_hms(2026, 3, 16, 9, 0, 0)
            .single()
            .expect("valid instant");
        let mut ticket = Ticket {
            ticket_id: Some(TicketIdGenerator::new(1).next(now)),
            version: 3,
            ..Ticket::default()
        };
        match relation {
            Relation::Leads => ticket.department = Some("logistics".to_owned()),
            Relation::Helps => {
                ticket.department = Some("product".to_owned());
                ticket.helpers = vec!["quality".to_owned(), "logistics".to_owned()];
            }
            Relation::Other => {
                ticket.department = Some("product".to_owned());
                ticket.helpers = vec!["quality".to_owned()];
            }
            Relation::Undispatched => {}
            Relation::NoTicket => return None,
        }
        Some(ticket)
    }

    fn actor(role: Role) -> Actor {
        Actor {
            principal: "li.si".to_owned(),
            role,
            department: matches!(role, Role::Agent | Role::Head).then(|| "logistics".to_owned()),
        }
    }

    /// The role table of `api.md`, written out: what each role may do for each relation.
    fn expected(role: Role, relation: Relation) -> Vec<Action> {
        use Action as A;
        let agent_on_lead = [
            A::GetTicket,
            A::ListTickets,
            A::GetHistory,
            A::WatchTickets,
            A::Acknowledge,
            A::AddNote,
            A::ProposeSolution,
            A::PauseSla,
            A::ResumeSla,
            A::ListSimilar,
            A::Claim,
            A::SetAway,
            A::EvaluateSuggestion,
            A::MarkDelivered,
        ];
        let on_helped = [
            A::GetTicket,
            A::ListTickets,
            A::GetHistory,
            A::WatchTickets,
            A::AddNote,
            A::ListSimilar,
        ];
        match role {
            Role::Admin | Role::System => Action::ALL.to_vec(),
            Role::Adapter => vec![A::Submit],
            Role::Service => {
                let mut allowed = READS.to_vec();
                allowed.extend([
                    A::Classify,
                    A::Dispatch,
                    A::AddNote,
                    A::RecordReview,
                    A::Archive,
                    A::Escalate,
                    A::PauseSla,
                    A::ResumeSla,
                    A::LinkToProblem,
                    A::ListSimilar,
                    A::Assign,
                    A::RecordNotification,
                    A::EvaluateSuggestion,
                    A::MarkDelivered,
                    A::Report,
                    A::RecordReportDelivery,
                    A::TagCustomer,
                ]);
                allowed
            }
            Role::Manager => {
                let mut allowed = READS.to_vec();
                allowed.extend([
                    A::MonthlyReport,
                    A::Report,
                    A::PeopleReport,
                    A::AdoptedSuggestions,
                ]);
                allowed
            }
            Role::Auditor => {
                let mut allowed = READS.to_vec();
                allowed.extend([A::ReadEvents, A::VerifyLog, A::GetTicketAt]);
                allowed
            }
            Role::Agent | Role::Head => {
                let mut allowed = match relation {
                    Relation::Leads if role == Role::Head => {
                        let mut allowed = agent_on_lead.to_vec();
                        allowed.extend([A::ApproveSolution, A::Dispatch, A::Assign]);
                        allowed
                    }
                    Relation::Leads => agent_on_lead.to_vec(),
                    Relation::Helps => on_helped.to_vec(),
                    Relation::Other | Relation::Undispatched => Vec::new(),
                    Relation::NoTicket => vec![A::ListTickets, A::WatchTickets],
                };
                allowed.push(A::PeopleReport);
                allowed
            }
        }
    }

    #[test]
    fn the_whole_role_table() {
        let mut checked = 0;
        for &role in Role::ALL {
            for relation in RELATIONS {
                let allowed = expected(role, relation);
                let ticket = ticket(relation);
                for &action in Action::ALL {
                    let result = authorize(&actor(role), action, ticket.as_ref());
                    if allowed.contains(&action) {
                        assert_eq!(result, Ok(()), "{role} {relation:?} {action}");
                    } else {
                        assert!(
                            matches!(result, Err(DomainError::PermissionDenied { .. })),
                            "{role} {relation:?} {action}: {result:?}"
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(
            checked,
            Role::ALL.len() * RELATIONS.len() * Action::ALL.len()
        );
    }

    #[test]
    fn agents_without_a_department_may_do_nothing() {
        for role in [Role::Agent, Role::Head] {
            let actor = Actor {
                principal: "nobody".to_owned(),
                role,
                department: None,
            };
            for &action in Action::ALL {
                let result = authorize(&actor, action, ticket(Relation::Undispatched).as_ref());
                assert!(result.is_err(), "{role} {action}");
                assert!(authorize(&actor, action, None).is_err(), "{role} {action}");
            }
        }
    }

    #[test]
    fn denials_explain_themselves_in_lowercase() {
        let error = authorize(
            &actor(Role::Agent),
            Action::GetTicket,
            ticket(Relation::Other).as_ref(),
        )
        .expect_err("another department's ticket");
        let text = error.to_string();
        assert!(text.starts_with("permission denied: ticket "), "{text}");
        assert!(text.contains("logistics"), "{text}");
        assert!(!text.ends_with('.'));
        let error = authorize(&actor(Role::Manager), Action::Archive, None).expect_err("manager");
        assert_eq!(
            error.to_string(),
            "permission denied: li.si (manager) may not archive a ticket"
        );
        // The refusal names what the person tried in words, never the RPC.
        let error = authorize(
            &actor(Role::Agent),
            Action::RecordReview,
            ticket(Relation::Leads).as_ref(),
        )
        .expect_err("agents record no reviews");
        assert_eq!(
            error.to_string(),
            "permission denied: li.si (agent of logistics) may not record a review"
        );
    }

    #[test]
    fn a_ticket_out_of_sight_is_answered_like_a_missing_one() {
        let missing = DomainError::NotFound {
            ticket_id: "asked-for".to_owned(),
        };
        for &role in Role::ALL {
            for relation in [
                Relation::Leads,
                Relation::Helps,
                Relation::Other,
                Relation::Undispatched,
            ] {
                let ticket = ticket(relation).expect("a ticket");
                let allowed = expected(role, relation);
                for &action in Action::ALL {
                    let result = authorize_on_ticket(&actor(role), action, &ticket, "asked-for");
                    if !allowed.contains(&Action::GetTicket) {
                        // Out of sight: the very answer a missing ticket gets.
                        assert_eq!(
                            result.as_ref().map_err(ToString::to_string),
                            Err(missing.to_string()),
                            "{role} {relation:?} {action}"
                        );
                    } else if allowed.contains(&action) {
                        assert_eq!(result, Ok(()), "{role} {relation:?} {action}");
                    } else {
                        // Seen but not to be acted on: the refusal may say why.
                        assert!(
                            matches!(result, Err(DomainError::PermissionDenied { .. })),
                            "{role} {relation:?} {action}: {result:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn scope_and_command_mapping() {
        assert_eq!(department_scope(&actor(Role::Agent)), Some("logistics"));
        assert_eq!(department_scope(&actor(Role::Service)), None);
        assert_eq!(
            Action::for_command(&Command::Archive),
            Some(Action::Archive)
        );
        assert_eq!(Action::for_command(&Command::ExpireRetention), None);
    }
}
