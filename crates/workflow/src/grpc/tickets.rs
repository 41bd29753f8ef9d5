//! The `feedback.v1.Tickets` gRPC service: queries, the commands of `api.md` (each through
//! [`Commands::execute`]), the SLA explanation and the change stream of `WatchTickets`.
//!
//! Every RPC first checks that the caller's role may call it at all (PERMISSION_DENIED before
//! anything about tickets is revealed), then parses its fields (INVALID_ARGUMENT naming the
//! field), then looks at the ticket (NOT_FOUND, then PERMISSION_DENIED for a ticket of another
//! department).

use super::convert::{
    content_type_from, duration_ms, filter_from, kind_from, log_event_message, order_from,
    outcome_from, priority_from, required, scope_from, ticket_message, ticket_summary, timestamp,
};
use super::watch;
use crate::commands::{failure_from_log, failure_from_read, require_role, Commands};
use crate::queries::{parse_page_token, Readers};
use crate::record;
use domain::authorize::{authorize, authorize_on_ticket, department_scope, describe_actor, Action};
use domain::command::{ClassifyCommand, Command, NotificationRecord, NotificationResult};
use domain::event::Event;
use domain::ids::{CommandId, TicketId};
use domain::notification::NoticeKind;
use domain::rules::assignment as assignment_rules;
use domain::rules::sla_explain;
use domain::ticket::Ticket;
use domain::types::{Actor, LinkMode};
use domain::{DomainError, Rules};
use eventlog::EventLog;
use futures::Stream;
use proto::v1;
use service::status_from;
use service::tokens::principal_of;
use std::pin::Pin;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The gRPC face of the workflow.
#[derive(Debug, Clone)]
pub struct TicketsService {
    pub commands: Commands,
    pub readers: Readers,
    pub log: EventLog,
    pub rules: Arc<Rules>,
    /// Opens the sealed customer in the payloads `GetHistory` shows.
    pub vault: Arc<vault::Vault>,
    pub default_page_size: u32,
    pub max_page_size: u32,
    /// Watch slots per principal and the caps of a search (see `super::limits`).
    pub limits: super::limits::QueryLimits,
    /// Hands back the tickets of a person who goes away.
    pub assigner: crate::duties::assignment::Assigner,
}

/// The caller of a request, refused unless their role may run `action`.
pub fn caller<T>(request: &Request<T>, action: Action) -> Result<Actor, Status> {
    let actor = actor_of(request)?;
    check_role(&actor, action)?;
    Ok(actor)
}

/// The caller's actor, from the principal the authenticator put on the request.
pub fn actor_of<T>(request: &Request<T>) -> Result<Actor, Status> {
    Ok(principal_of(request)?.actor())
}

/// Refuses a role that may never call `action`.
pub fn check_role(actor: &Actor, action: Action) -> Result<(), Status> {
    require_role(actor, action).map_err(status_from)
}

pub fn parse_ticket_id(text: &str) -> Result<TicketId, Status> {
    if text.trim().is_empty() {
        return Err(status_from(DomainError::invalid(
            "ticket_id",
            "is required",
        )));
    }
    TicketId::parse(text).map_err(status_from)
}

fn parse_command_id(text: &str) -> Result<CommandId, Status> {
    CommandId::parse(text).map_err(status_from)
}

impl TicketsService {
    /// Loads a ticket the caller may read with `action`. A ticket out of the caller's sight is
    /// refused exactly like a missing one (NOT_FOUND, same words).
    async fn readable_ticket(
        &self,
        actor: &Actor,
        action: Action,
        ticket_id: &TicketId,
    ) -> Result<Ticket, Status> {
        let ticket = self
            .commands
            .load(ticket_id)
            .await
            .map_err(status_from)?
            .ok_or_else(|| {
                status_from(DomainError::NotFound {
                    ticket_id: ticket_id.to_string(),
                })
            })?;
        authorize_on_ticket(actor, action, &ticket, &ticket_id.to_string()).map_err(status_from)?;
        Ok(ticket)
    }

    /// The caller of a request about one ticket, the ticket's id and the ticket, when the
    /// caller's role may run `action` and the ticket is in their sight.
    async fn requested_ticket<T: Sync>(
        &self,
        request: &Request<T>,
        ticket_id: &str,
        action: Action,
    ) -> Result<(Actor, TicketId, Ticket), Status> {
        let actor = caller(request, action)?;
        let ticket_id = parse_ticket_id(ticket_id)?;
        let ticket = self.readable_ticket(&actor, action, &ticket_id).await?;
        Ok((actor, ticket_id, ticket))
    }

    /// Every row of the ticket's stream.
    async fn rows_of(&self, ticket_id: &TicketId) -> Result<Vec<eventlog::RecordedEvent>, Status> {
        self.log
            .read_stream(&ticket_id.stream_id(), 0)
            .await
            .map_err(|error| status_from(failure_from_log(error)))
    }

    /// Checks the role, parses the ids, builds the command and runs it.
    async fn run(
        &self,
        actor: Actor,
        action: Action,
        ticket_id: &str,
        command_id: &str,
        expected_version: Option<u64>,
        command: impl FnOnce() -> Result<Command, DomainError>,
    ) -> Result<Option<v1::Ticket>, Status> {
        check_role(&actor, action)?;
        let ticket_id = parse_ticket_id(ticket_id)?;
        let command_id = parse_command_id(command_id)?;
        let command = command().map_err(status_from)?;
        let ticket = self
            .commands
            .execute(&actor, &ticket_id, &command_id, expected_version, command)
            .await
            .map_err(status_from)?;
        Ok(Some(ticket_message(&ticket)))
    }

    /// Runs the command a command request asks for: the caller, the ticket, the command id and
    /// the expected version come from the request, the command from `command`.
    async fn run_request<R: CommandRequest + Send + Sync>(
        &self,
        request: Request<R>,
        action: Action,
        command: impl FnOnce(&R, &Actor) -> Result<Command, DomainError> + Send,
    ) -> Result<Option<v1::Ticket>, Status> {
        let actor = actor_of(&request)?;
        let request = request.into_inner();
        let (ticket_id, command_id, expected_version) = request.names();
        let command = || command(&request, &actor);
        self.run(
            actor.clone(),
            action,
            ticket_id,
            command_id,
            expected_version,
            command,
        )
        .await
    }

    fn page_size(&self, requested: u32) -> u32 {
        if requested == 0 {
            self.default_page_size
        } else {
            requested.min(self.max_page_size)
        }
    }
}

/// A request for a command on a ticket: the ticket, the command id and the expected version.
trait CommandRequest {
    fn names(&self) -> (&str, &str, Option<u64>);
}

macro_rules! command_requests {
    ($($request:ty),* $(,)?) => {
        $(
            impl CommandRequest for $request {
                fn names(&self) -> (&str, &str, Option<u64>) {
                    (&self.ticket_id, &self.command_id, self.expected_version)
                }
            }
        )*
    };
}

command_requests!(
    v1::ClassifyRequest,
    v1::DispatchRequest,
    v1::AcknowledgeRequest,
    v1::AddNoteRequest,
    v1::ProposeSolutionRequest,
    v1::ApproveSolutionRequest,
    v1::RecordReviewRequest,
    v1::ArchiveRequest,
    v1::EscalateRequest,
    v1::PauseSlaRequest,
    v1::ResumeSlaRequest,
    v1::RecordNotificationRequest,
    v1::ClaimRequest,
    v1::AssignRequest,
    v1::EvaluateSuggestionRequest,
    v1::MarkDeliveredRequest,
);

/// One figure of an evaluation, 1 to 5.
fn figure(field: &str, value: u32) -> Result<u8, DomainError> {
    u8::try_from(value)
        .ok()
        .filter(|value| (1..=5).contains(value))
        .ok_or_else(|| DomainError::invalid(field, format!("must be between 1 and 5, got {value}")))
}

/// The assignee filter that stands for the caller.
pub const ME: &str = "@me";

/// The filter a caller may use: agents and heads see only tickets their department leads or
/// helps with, and may not ask for another department's queue.
pub fn scoped_filter(
    actor: &Actor,
    filter: Option<v1::TicketFilter>,
) -> Result<crate::queries::TicketFilter, Status> {
    let mut filter = filter_from(filter).map_err(status_from)?;
    if let Some(department) = department_scope(actor) {
        if let Some(asked) = &filter.department {
            if asked != department {
                return Err(status_from(DomainError::PermissionDenied {
                    reason: format!(
                        "{} may not read the tickets of department {asked}",
                        describe_actor(actor)
                    ),
                }));
            }
        }
        // A department's own queue holds the tickets it leads and those it helps with: asking
        // for one's own department is the same as asking for nothing.
        filter.department = None;
        filter.involving_department = Some(department.to_owned());
    }
    if filter.assignee.as_deref() == Some(ME) {
        filter.assignee = Some(actor.principal.clone());
    }
    Ok(filter)
}

/// Why a ticket's deadlines are what they are (the domain's SLA explanation, as the message
/// of `ExplainSla`); `now` (the service's clock) stands in for a clock that never started.
pub fn explain(
    ticket: &Ticket,
    rows: &[eventlog::RecordedEvent],
    rules: &Rules,
    now: chrono::DateTime<chrono::Utc>,
) -> v1::ExplainSlaResponse {
    let events: Vec<Event> = rows
        .iter()
        .filter_map(|row| record::decode(row).ok())
        .collect();
    let explained = sla_explain::explain(ticket, &events, rules, now);
    v1::ExplainSlaResponse {
        ticket: Some(ticket_message(ticket)),
        priority: v1::Priority::from(explained.classification.priority) as i32,
        complex: explained.classification.complex,
        sla_row: explained.sla_row,
        respond_within: Some(duration_ms(explained.respond_within_ms)),
        resolve_within: Some(duration_ms(explained.resolve_within_ms)),
        respond_around_the_clock: explained.respond_around_the_clock,
        resolve_around_the_clock: explained.resolve_around_the_clock,
        resolve_working_days: explained.resolve_working_days,
        clock_started_at: explained.clock_started_at.map(timestamp),
        pauses: explained
            .pauses
            .into_iter()
            .map(|pause| v1::SlaPause {
                from: Some(timestamp(pause.from)),
                to: pause.to.map(timestamp),
                reason: pause.reason,
            })
            .collect(),
        respond_by: ticket.respond_by.map(timestamp),
        resolve_by: ticket.resolve_by.map(timestamp),
        warn_respond_at: ticket.warn_respond_at.map(timestamp),
        warn_resolve_at: ticket.warn_resolve_at.map(timestamp),
        sla_state: v1::SlaState::from(ticket.sla_state) as i32,
        policy_version: explained.policy_version,
        calendar_version: explained.calendar_version,
        reasons: explained.reasons,
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<v1::WatchTicketsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl v1::tickets_server::Tickets for TicketsService {
    async fn get_ticket(
        &self,
        request: Request<v1::GetTicketRequest>,
    ) -> Result<Response<v1::GetTicketResponse>, Status> {
        let (_, _, ticket) = self
            .requested_ticket(&request, &request.get_ref().ticket_id, Action::GetTicket)
            .await?;
        Ok(Response::new(v1::GetTicketResponse {
            ticket: Some(ticket_message(&ticket)),
        }))
    }

    async fn list_tickets(
        &self,
        request: Request<v1::ListTicketsRequest>,
    ) -> Result<Response<v1::ListTicketsResponse>, Status> {
        let actor = actor_of(&request)?;
        authorize(&actor, Action::ListTickets, None).map_err(status_from)?;
        self.limits
            .check_filter(request.get_ref().filter.as_ref())?;
        let request = request.into_inner();
        let filter = scoped_filter(&actor, request.filter)?;
        let order = order_from(request.order).map_err(status_from)?;
        let cursor = parse_page_token(order, &request.page_token).map_err(status_from)?;
        let page_size = self.page_size(request.page_size);
        let page = self
            .readers
            .list_from(filter, page_size, cursor)
            .await
            .map_err(|error| status_from(failure_from_read(error)))?;
        Ok(Response::new(v1::ListTicketsResponse {
            tickets: page.tickets.iter().map(ticket_summary).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        }))
    }

    async fn get_history(
        &self,
        request: Request<v1::GetHistoryRequest>,
    ) -> Result<Response<v1::GetHistoryResponse>, Status> {
        let (_, ticket_id, _) = self
            .requested_ticket(&request, &request.get_ref().ticket_id, Action::GetHistory)
            .await?;
        let rows = self.rows_of(&ticket_id).await?;
        let vault = self.vault.clone();
        let events = tokio::task::spawn_blocking(move || opened_history(rows, &vault))
            .await
            .map_err(|error| Status::internal(format!("history task failed: {error}")))??;
        Ok(Response::new(v1::GetHistoryResponse { events }))
    }

    type WatchTicketsStream = WatchStream;

    async fn watch_tickets(
        &self,
        request: Request<v1::WatchTicketsRequest>,
    ) -> Result<Response<Self::WatchTicketsStream>, Status> {
        let actor = actor_of(&request)?;
        authorize(&actor, Action::WatchTickets, None).map_err(status_from)?;
        self.limits
            .check_filter(request.get_ref().filter.as_ref())?;
        let request = request.into_inner();
        let filter = scoped_filter(&actor, request.filter)?;
        let slot = self.limits.watches.take(&actor.principal)?;
        let stream = watch::watch(
            self.log.clone(),
            self.readers.clone(),
            filter,
            request.include_current,
        );
        Ok(Response::new(Box::pin(super::limits::holding(
            stream, slot,
        ))))
    }

    async fn classify(
        &self,
        request: Request<v1::ClassifyRequest>,
    ) -> Result<Response<v1::ClassifyResponse>, Status> {
        let ticket = self
            .run_request(request, Action::Classify, |request, _| {
                Ok(Command::Classify(ClassifyCommand {
                    kind: required("kind", kind_from("kind", request.kind))?,
                    content_type: required(
                        "content_type",
                        content_type_from("content_type", request.content_type),
                    )?,
                    priority: required("priority", priority_from("priority", request.priority))?,
                    scope: required("scope", scope_from("scope", request.scope))?,
                    keywords: request.keywords.clone(),
                    complex: request.complex,
                    reason: request.reason.clone(),
                    department: Some(request.department.trim().to_owned())
                        .filter(|department| !department.is_empty()),
                }))
            })
            .await?;
        Ok(Response::new(v1::ClassifyResponse { ticket }))
    }

    async fn dispatch(
        &self,
        request: Request<v1::DispatchRequest>,
    ) -> Result<Response<v1::DispatchResponse>, Status> {
        let ticket = self
            .run_request(request, Action::Dispatch, |request, _| {
                if request.department.trim().is_empty() {
                    return Err(DomainError::invalid("department", "is required"));
                }
                Ok(Command::Dispatch {
                    department: request.department.trim().to_owned(),
                    helpers: request.helpers.clone(),
                    reason: request.reason.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::DispatchResponse { ticket }))
    }

    async fn acknowledge(
        &self,
        request: Request<v1::AcknowledgeRequest>,
    ) -> Result<Response<v1::AcknowledgeResponse>, Status> {
        let ticket = self
            .run_request(request, Action::Acknowledge, |request, _| {
                Ok(Command::Acknowledge {
                    message: request.message.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::AcknowledgeResponse { ticket }))
    }

    async fn add_note(
        &self,
        request: Request<v1::AddNoteRequest>,
    ) -> Result<Response<v1::AddNoteResponse>, Status> {
        let ticket = self
            .run_request(request, Action::AddNote, |request, _| {
                let to_customer = match v1::NoteVisibility::try_from(request.visibility) {
                    Ok(v1::NoteVisibility::Customer) => true,
                    Ok(v1::NoteVisibility::Internal | v1::NoteVisibility::Unspecified) => false,
                    Err(_) => {
                        return Err(DomainError::invalid(
                            "visibility",
                            format!("unknown value {}", request.visibility),
                        ))
                    }
                };
                Ok(Command::AddNote {
                    text: request.text.clone(),
                    to_customer,
                })
            })
            .await?;
        Ok(Response::new(v1::AddNoteResponse { ticket }))
    }

    async fn propose_solution(
        &self,
        request: Request<v1::ProposeSolutionRequest>,
    ) -> Result<Response<v1::ProposeSolutionResponse>, Status> {
        let ticket = self
            .run_request(request, Action::ProposeSolution, |request, _| {
                Ok(Command::ProposeSolution {
                    outcome: required("outcome", outcome_from("outcome", request.outcome))?,
                    text: request.text.clone(),
                    reason: request.reason.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::ProposeSolutionResponse { ticket }))
    }

    async fn approve_solution(
        &self,
        request: Request<v1::ApproveSolutionRequest>,
    ) -> Result<Response<v1::ApproveSolutionResponse>, Status> {
        let ticket = self
            .run_request(request, Action::ApproveSolution, |request, _| {
                Ok(Command::ApproveSolution {
                    approve: request.approve,
                    comment: request.comment.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::ApproveSolutionResponse { ticket }))
    }

    async fn record_review(
        &self,
        request: Request<v1::RecordReviewRequest>,
    ) -> Result<Response<v1::RecordReviewResponse>, Status> {
        let ticket = self
            .run_request(request, Action::RecordReview, |request, _| {
                let satisfaction = u8::try_from(request.satisfaction)
                    .ok()
                    .filter(|score| (1..=5).contains(score))
                    .ok_or_else(|| {
                        DomainError::invalid(
                            "satisfaction",
                            format!("must be between 1 and 5, got {}", request.satisfaction),
                        )
                    })?;
                Ok(Command::RecordReview {
                    satisfaction,
                    comment: request.comment.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::RecordReviewResponse { ticket }))
    }

    async fn archive(
        &self,
        request: Request<v1::ArchiveRequest>,
    ) -> Result<Response<v1::ArchiveResponse>, Status> {
        let ticket = self
            .run_request(request, Action::Archive, |_, _| Ok(Command::Archive))
            .await?;
        Ok(Response::new(v1::ArchiveResponse { ticket }))
    }

    async fn escalate(
        &self,
        request: Request<v1::EscalateRequest>,
    ) -> Result<Response<v1::EscalateResponse>, Status> {
        let ticket = self
            .run_request(request, Action::Escalate, |request, _| {
                Ok(Command::Escalate {
                    reason: request.reason.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::EscalateResponse { ticket }))
    }

    async fn pause_sla(
        &self,
        request: Request<v1::PauseSlaRequest>,
    ) -> Result<Response<v1::PauseSlaResponse>, Status> {
        let allowed = self.rules.config().sla.allow_customer_pause;
        let ticket = self
            .run_request(request, Action::PauseSla, |request, _| {
                if !allowed {
                    return Err(DomainError::invalid(
                        "reason",
                        "the sla policy does not pause the clock while waiting for the customer",
                    ));
                }
                Ok(Command::PauseSla {
                    reason: request.reason.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::PauseSlaResponse { ticket }))
    }

    async fn resume_sla(
        &self,
        request: Request<v1::ResumeSlaRequest>,
    ) -> Result<Response<v1::ResumeSlaResponse>, Status> {
        let ticket = self
            .run_request(request, Action::ResumeSla, |_, _| Ok(Command::ResumeSla))
            .await?;
        Ok(Response::new(v1::ResumeSlaResponse { ticket }))
    }

    async fn record_notification(
        &self,
        request: Request<v1::RecordNotificationRequest>,
    ) -> Result<Response<v1::RecordNotificationResponse>, Status> {
        let ticket = self
            .run_request(request, Action::RecordNotification, |request, _| {
                notification_command(request)
            })
            .await?;
        Ok(Response::new(v1::RecordNotificationResponse { ticket }))
    }

    async fn evaluate_suggestion(
        &self,
        request: Request<v1::EvaluateSuggestionRequest>,
    ) -> Result<Response<v1::EvaluateSuggestionResponse>, Status> {
        let ticket = self
            .run_request(request, Action::EvaluateSuggestion, |request, _| {
                Ok(Command::EvaluateSuggestion {
                    feasibility: figure("feasibility", request.feasibility)?,
                    cost: figure("cost", request.cost)?,
                    benefit: figure("benefit", request.benefit)?,
                    note: request.note.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::EvaluateSuggestionResponse { ticket }))
    }

    async fn mark_delivered(
        &self,
        request: Request<v1::MarkDeliveredRequest>,
    ) -> Result<Response<v1::MarkDeliveredResponse>, Status> {
        let ticket = self
            .run_request(request, Action::MarkDelivered, |request, _| {
                let text = request.delivered_on.trim();
                let delivered_on =
                    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                        DomainError::invalid(
                            "delivered_on",
                            format!("{text:?} is not a day YYYY-MM-DD"),
                        )
                    })?;
                Ok(Command::MarkDelivered {
                    delivered_on,
                    note: request.note.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::MarkDeliveredResponse { ticket }))
    }

    async fn explain_sla(
        &self,
        request: Request<v1::ExplainSlaRequest>,
    ) -> Result<Response<v1::ExplainSlaResponse>, Status> {
        let (_, ticket_id, ticket) = self
            .requested_ticket(&request, &request.get_ref().ticket_id, Action::GetTicket)
            .await?;
        let rows = self.rows_of(&ticket_id).await?;
        Ok(Response::new(explain(
            &ticket,
            &rows,
            &self.rules,
            self.commands.clock.now(),
        )))
    }

    async fn link_to_problem(
        &self,
        request: Request<v1::LinkToProblemRequest>,
    ) -> Result<Response<v1::LinkToProblemResponse>, Status> {
        let actor = caller(&request, Action::LinkToProblem)?;
        let request = request.into_inner();
        let child_id = parse_ticket_id(&request.ticket_id)?;
        let command_id = parse_command_id(&request.command_id)?;
        if request.parent_ticket_id.trim().is_empty() {
            return Err(status_from(DomainError::invalid(
                "parent_ticket_id",
                "is required",
            )));
        }
        let parent_id = TicketId::parse(&request.parent_ticket_id).map_err(|error| {
            status_from(DomainError::invalid("parent_ticket_id", error.to_string()))
        })?;
        let mode = if request.merge {
            LinkMode::MergeDuplicate
        } else {
            LinkMode::Link
        };
        let ticket = self
            .commands
            .link_to_problem(
                &actor,
                &child_id,
                &command_id,
                request.expected_version,
                &parent_id,
                mode,
            )
            .await
            .map_err(status_from)?;
        Ok(Response::new(v1::LinkToProblemResponse {
            ticket: Some(ticket_message(&ticket)),
        }))
    }

    async fn list_similar(
        &self,
        request: Request<v1::ListSimilarRequest>,
    ) -> Result<Response<v1::ListSimilarResponse>, Status> {
        let (actor, _, target) = self
            .requested_ticket(&request, &request.get_ref().ticket_id, Action::ListSimilar)
            .await?;
        let limit = usize::try_from(self.page_size(request.get_ref().page_size)).unwrap_or(50);
        let config = self.rules.config().problems.clone();
        let found = self
            .readers
            .with(move |connection| {
                crate::problems::list_similar(connection, &target, &config, usize::MAX)
            })
            .await
            .map_err(|error| status_from(failure_from_read(error)))?;
        // Agents and heads see only the tickets of their department among the candidates.
        let visible: Vec<_> = found
            .into_iter()
            .filter(|similar| authorize(&actor, Action::GetTicket, Some(&similar.ticket)).is_ok())
            .take(limit)
            .collect();
        Ok(Response::new(v1::ListSimilarResponse {
            tickets: visible
                .iter()
                .map(|similar| ticket_summary(&similar.ticket))
                .collect(),
            scores: visible.iter().map(|similar| similar.score).collect(),
        }))
    }

    async fn claim(
        &self,
        request: Request<v1::ClaimRequest>,
    ) -> Result<Response<v1::ClaimResponse>, Status> {
        let ticket = self
            .run_request(request, Action::Claim, |_, actor| {
                Ok(Command::Claim {
                    person: actor.principal.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::ClaimResponse { ticket }))
    }

    async fn assign(
        &self,
        request: Request<v1::AssignRequest>,
    ) -> Result<Response<v1::AssignResponse>, Status> {
        let ticket = self
            .run_request(request, Action::Assign, |request, actor| {
                let assignee = request.assignee.trim();
                if assignee.is_empty() {
                    return Err(DomainError::invalid("assignee", "is required"));
                }
                Ok(Command::Assign {
                    assignee: assignee.to_owned(),
                    by: actor.principal.clone(),
                })
            })
            .await?;
        Ok(Response::new(v1::AssignResponse { ticket }))
    }

    async fn set_away(
        &self,
        request: Request<v1::SetAwayRequest>,
    ) -> Result<Response<v1::SetAwayResponse>, Status> {
        let actor = caller(&request, Action::SetAway)?;
        let request = request.into_inner();
        let person = if request.person.trim().is_empty() {
            actor.principal.clone()
        } else {
            request.person.clone()
        };
        assignment_rules::check_person(&person).map_err(status_from)?;
        assignment_rules::authorize_set_away(&actor, &person, &self.rules.config().departments)
            .map_err(status_from)?;
        let _turn = self.assigner.lock.lock().await;
        crate::duties::assignment::set_away(
            &self.log,
            &actor,
            &person,
            request.away,
            self.commands.clock.now(),
        )
        .await
        .map_err(|error| status_from(failure_from_log(error)))?;
        let handed_back = if request.away {
            self.assigner
                .hand_back(Some(person.clone()))
                .await
                .map_err(|error| status_from(failure_from_read(error)))?
        } else {
            Vec::new()
        };
        Ok(Response::new(v1::SetAwayResponse {
            person,
            away: request.away,
            handed_back,
        }))
    }
}

/// The domain command of a `RecordNotification` request.
fn notification_command(request: &v1::RecordNotificationRequest) -> Result<Command, DomainError> {
    let result = if request.delivered {
        NotificationResult::Delivered {
            channel: request.channel.clone(),
            sender: request.sender.clone(),
            to_masked: request.to_masked.clone(),
        }
    } else {
        NotificationResult::Failed {
            reason: request.reason.clone(),
            final_attempt: request.final_attempt,
        }
    };
    Ok(Command::RecordNotification(Box::new(NotificationRecord {
        notice: NoticeKind::parse("notice", &request.notice)?,
        source_event_id: request.source_event_id.clone(),
        attempt: request.attempt,
        result,
        recipient: Some(request.recipient.trim())
            .filter(|recipient| !recipient.is_empty())
            .map(str::to_owned),
    })))
}

/// The rows of a ticket as `GetHistory` shows them: each payload with its sealed personal
/// data opened (the keys of all the rows read at once), or `{"erased": true}` where the
/// customer was erased and the empty value of its type where their text was. (The hashes are those
/// of the stored rows; auditors check them on `Audit.ReadEvents`, which returns the rows as
/// stored.)
fn opened_history(
    mut rows: Vec<eventlog::RecordedEvent>,
    vault: &vault::Vault,
) -> Result<Vec<v1::LogEvent>, Status> {
    record::open_rows(&mut rows, vault).map_err(Status::internal)?;
    // The hashes are the stored rows' (kept in each row beside its payload).
    Ok(rows.iter().map(log_event_message).collect())
}
