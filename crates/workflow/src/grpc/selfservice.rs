//! The `feedback.v1.SelfService` gRPC service: what customers may do without a token.
//!
//! A request about a ticket proves itself with the last 4 digits of the phone on the ticket
//! (compared with the customer the projections hold opened from the sealed log; the digits
//! are never logged nor named in an answer) or, for `GetStatus` and `Rate`, with the token of
//! the ticket's signed rating link (`service::ratelink`, the `[selfservice]` key). An unknown
//! ticket, wrong digits and a bad or expired token get the same NOT_FOUND; [`domain::selfservice::MAX_WRONG_TRIES`] wrong tries lock a ticket for
//! [`domain::selfservice::LOCK_MINUTES`] minutes, during which the right digits get the same
//! NOT_FOUND too. The lockout lives in this process's memory: each replica counts the tries
//! it answers, and a restart forgets them. Every call takes one request from the bucket of
//! its client address (the limit of `[rate_limits.agent]`: people at a page).
//!
//! A reply is recorded as `customer_replied` (channel `status_page`, actor the customer,
//! [`customer_actor`]), exactly as a reply through a channel adapter is: it resumes a paused
//! SLA clock and marks the ticket in the queue. A rating is the review of the current round (below the threshold the ticket is reopened, as `RecordReview`
//! does); command ids are kept apart from the staff's by a `customer/` prefix.

use super::convert::timestamp;
use crate::commands::{failure_from_log, failure_from_read, Commands};
use crate::queries::Readers;
use crate::record;
use domain::command::Command;
use domain::event::Event;
use domain::ids::{CommandId, TicketId};
use domain::selfservice::{
    customer_actor, is_customer, phone_ends_with, well_formed_digits, Lockout,
    MAX_REPLIES_PER_TICKET,
};
use domain::ticket::Ticket;
use domain::types::{Actor, Step};
use domain::DomainError;
use eventlog::EventLog;
use proto::v1;
use service::ratelimit::{RateLimit, RateLimiter};
use service::ratelink::LinkKey;
use service::status_from;
use std::sync::{Arc, Mutex, PoisonError};
use tonic::{Request, Response, Status};

/// The customers' face of the workflow.
#[derive(Debug, Clone)]
pub struct SelfServiceService {
    pub commands: Commands,
    pub readers: Readers,
    pub log: EventLog,
    /// Wrong tries per ticket, in this process's memory.
    pub lockout: Arc<Mutex<Lockout>>,
    /// The service's rate-limit buckets (shared with the authenticated services).
    pub limiter: Arc<RateLimiter>,
    /// The limit of one client address.
    pub limit: RateLimit,
    /// The key of the rating links; `None` when `[selfservice]` names none (every token is
    /// then wrong).
    pub links: Option<LinkKey>,
}

/// What proves a ticket: the phone's last 4 digits, or a rating link's token.
#[derive(Debug, Clone, Copy)]
enum Proof<'a> {
    Digits(&'a str),
    Link(&'a str),
}

impl<'a> Proof<'a> {
    /// The link token when one is given, else the digits.
    fn of(digits: &'a str, link_token: &'a str) -> Self {
        match link_token.trim() {
            "" => Self::Digits(digits),
            token => Self::Link(token),
        }
    }
}

/// The channel recorded on a reply through the status page.
pub const STATUS_PAGE_CHANNEL: &str = "status_page";

/// The one answer to an unknown ticket, wrong digits and a locked ticket.
fn not_found(ticket_id: &str) -> Status {
    status_from(DomainError::NotFound {
        ticket_id: ticket_id.to_owned(),
    })
}

impl SelfServiceService {
    /// Takes one request from the bucket of the request's client address.
    fn check_rate<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let caller = match request.remote_addr() {
            Some(address) => format!("self-service client {}", address.ip()),
            None => "self-service client".to_owned(),
        };
        self.limiter
            .check(&caller, self.limit)
            .map_err(|refusal| refusal.to_status())
    }

    /// The ticket when `proof` proves it (the last 4 digits of its phone, or a good link
    /// token) and it is not locked.
    async fn open(&self, ticket_id: &str, proof: Proof<'_>) -> Result<(TicketId, Ticket), Status> {
        if ticket_id.trim().is_empty() {
            return Err(status_from(DomainError::invalid(
                "ticket_id",
                "is required",
            )));
        }
        let parsed = TicketId::parse(ticket_id.trim()).map_err(status_from)?;
        if matches!(proof, Proof::Digits(digits) if !well_formed_digits(digits)) {
            return Err(status_from(DomainError::invalid(
                "digits",
                "must be the last 4 digits of the phone on the ticket",
            )));
        }
        let key = parsed.to_string();
        let now = self.commands.clock.now();
        if self.locked(|lockout| lockout.is_locked(&key, now)) {
            return Err(not_found(&key));
        }
        let ticket = self
            .commands
            .load(&parsed)
            .await
            .map_err(status_from)?
            .ok_or_else(|| not_found(&key))?;
        let right = match proof {
            Proof::Digits(digits) => ticket
                .customer
                .phone
                .as_deref()
                .is_some_and(|phone| phone_ends_with(phone, digits)),
            Proof::Link(token) => self
                .links
                .as_ref()
                .is_some_and(|links| links.check(&key, token, now)),
        };
        if !right {
            self.locked(|lockout| lockout.wrong_try(&key, now));
            return Err(not_found(&key));
        }
        // A lock that began while this request was loading the ticket holds too.
        if self.locked(|lockout| lockout.is_locked(&key, now)) {
            return Err(not_found(&key));
        }
        self.locked(|lockout| lockout.right_try(&key));
        Ok((parsed, ticket))
    }

    fn locked<R>(&self, work: impl FnOnce(&mut Lockout) -> R) -> R {
        // A panic while the lock is held cannot leave a count half-written.
        let mut lockout = self.lockout.lock().unwrap_or_else(PoisonError::into_inner);
        work(&mut lockout)
    }

    /// The ticket as its customer may see it, with the notes from its stream.
    async fn status(
        &self,
        ticket_id: &TicketId,
        ticket: &Ticket,
    ) -> Result<v1::TicketStatus, Status> {
        let mut rows = self
            .log
            .read_stream(&ticket_id.stream_id(), 0)
            .await
            .map_err(|error| status_from(failure_from_log(error)))?;
        // The customer's replies are sealed: open them (one read of the ticket's keys).
        let vault = self.commands.vault.clone();
        let rows = tokio::task::spawn_blocking(move || {
            eventlog::postgres::on_blocking_pool(|| record::open_rows(&mut rows, &vault))
                .map(|()| rows)
        })
        .await
        .map_err(|error| Status::internal(format!("status task failed: {error}")))?
        .map_err(|reason| status_from(service::Failure::Unavailable(reason)))?;
        Ok(ticket_status(ticket, &rows))
    }

    /// Runs the customer's `command` on the ticket and answers its status after it.
    async fn run(
        &self,
        ticket_id: &TicketId,
        command_id: &str,
        command: Command,
    ) -> Result<v1::TicketStatus, Status> {
        let command_id = customer_command_id(command_id)?;
        let ticket = self
            .commands
            .execute(&customer_actor(), ticket_id, &command_id, None, command)
            .await
            .map_err(status_from)?;
        self.status(ticket_id, &ticket).await
    }
}

/// The customer's command id: theirs under `customer/`, or a fresh one.
fn customer_command_id(given: &str) -> Result<CommandId, Status> {
    let given = given.trim();
    let id = if given.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        given.to_owned()
    };
    CommandId::parse(&format!("customer/{id}")).map_err(status_from)
}

/// What the customer may read of `ticket`: never the contact data or the internal notes.
pub fn ticket_status(ticket: &Ticket, rows: &[eventlog::RecordedEvent]) -> v1::TicketStatus {
    let resolved = matches!(ticket.step, Step::Review | Step::Archive);
    let solution = ticket.solution.as_ref().filter(|_| resolved);
    v1::TicketStatus {
        ticket_id: ticket.id_text(),
        step: v1::Step::from(ticket.step) as i32,
        received_at: ticket.received_at.map(timestamp),
        respond_by: ticket.respond_by.map(timestamp),
        resolve_by: ticket.resolve_by.map(timestamp),
        responded_at: ticket.responded_at.map(timestamp),
        resolved_at: ticket.resolved_at.map(timestamp),
        notes: customer_notes(rows),
        solution: solution
            .map(|solution| solution.text.clone())
            .unwrap_or_default(),
        outcome: solution.map_or(0, |solution| v1::Outcome::from(solution.outcome) as i32),
        may_rate: ticket.step == Step::Review && ticket.satisfaction.is_none(),
        may_reply: matches!(
            ticket.step,
            Step::Classify | Step::Dispatch | Step::Handle | Step::Review
        ),
        satisfaction: ticket.satisfaction.map_or(0, u32::from),
        round: ticket.round,
        language: v1::Language::from(ticket.language()) as i32,
    }
}

/// The department's first responses, the notes to the customer and the customer's replies
/// (`customer_replied`, and the notes the status page recorded before that event existed), in
/// the order of the log. Internal notes of the staff are left out.
fn customer_notes(rows: &[eventlog::RecordedEvent]) -> Vec<v1::CustomerNote> {
    rows.iter()
        .filter_map(|row| {
            let event = record::decode(row).ok()?;
            let by_customer = || {
                serde_json::from_str::<Actor>(&row.actor_json)
                    .is_ok_and(|actor| is_customer(&actor))
            };
            let (text, at, from_customer) = match event {
                Event::Acknowledged(acknowledged) => (acknowledged.message, acknowledged.at, false),
                Event::NoteAdded(note) if note.to_customer => (note.text, note.at, false),
                Event::NoteAdded(note) if by_customer() => (note.text, note.at, true),
                Event::CustomerReplied(replied) => (replied.text, replied.at, true),
                _ => return None,
            };
            Some(v1::CustomerNote {
                text,
                at: Some(timestamp(at)),
                from_customer,
            })
        })
        .collect()
}

#[tonic::async_trait]
impl v1::self_service_server::SelfService for SelfServiceService {
    async fn get_status(
        &self,
        request: Request<v1::GetStatusRequest>,
    ) -> Result<Response<v1::GetStatusResponse>, Status> {
        self.check_rate(&request)?;
        let request = request.into_inner();
        let proof = Proof::of(&request.digits, &request.link_token);
        let (ticket_id, ticket) = self.open(&request.ticket_id, proof).await?;
        let status = self.status(&ticket_id, &ticket).await?;
        Ok(Response::new(v1::GetStatusResponse {
            status: Some(status),
        }))
    }

    async fn reply(
        &self,
        request: Request<v1::ReplyRequest>,
    ) -> Result<Response<v1::ReplyResponse>, Status> {
        self.check_rate(&request)?;
        let request = request.into_inner();
        let proof = Proof::Digits(&request.digits);
        let (ticket_id, ticket) = self.open(&request.ticket_id, proof).await?;
        if request.text.trim().is_empty() {
            return Err(status_from(DomainError::invalid("text", "is required")));
        }
        // An archived ticket takes a channel's reply into its history, but the status page
        // offers none (`may_reply`).
        if ticket.step == Step::Archive {
            return Err(status_from(DomainError::WrongStep {
                command: "reply".to_owned(),
                step: ticket.step,
            }));
        }
        let replies = self
            .status(&ticket_id, &ticket)
            .await?
            .notes
            .iter()
            .filter(|note| note.from_customer)
            .count();
        if replies >= MAX_REPLIES_PER_TICKET {
            return Err(status_from(DomainError::Precondition {
                reason: format!(
                    "ticket {ticket_id} has {replies} replies of the customer, the most it may \
                     have; customer service will be in touch"
                ),
            }));
        }
        let command = Command::RecordReply {
            text: request.text.trim().to_owned(),
            channel: STATUS_PAGE_CHANNEL.to_owned(),
            feedback_id: None,
        };
        let status = self.run(&ticket_id, &request.command_id, command).await?;
        Ok(Response::new(v1::ReplyResponse {
            status: Some(status),
        }))
    }

    async fn rate(
        &self,
        request: Request<v1::RateRequest>,
    ) -> Result<Response<v1::RateResponse>, Status> {
        self.check_rate(&request)?;
        let request = request.into_inner();
        let proof = Proof::of(&request.digits, &request.link_token);
        let (ticket_id, _) = self.open(&request.ticket_id, proof).await?;
        let satisfaction = u8::try_from(request.satisfaction)
            .ok()
            .filter(|score| (1..=5).contains(score))
            .ok_or_else(|| {
                status_from(DomainError::invalid(
                    "satisfaction",
                    format!("must be between 1 and 5, got {}", request.satisfaction),
                ))
            })?;
        let command = Command::RecordReview {
            satisfaction,
            comment: request.comment.trim().to_owned(),
        };
        let status = self.run(&ticket_id, &request.command_id, command).await?;
        Ok(Response::new(v1::RateResponse {
            status: Some(status),
        }))
    }

    async fn list_adopted(
        &self,
        request: Request<v1::ListAdoptedRequest>,
    ) -> Result<Response<v1::ListAdoptedResponse>, Status> {
        self.check_rate(&request)?;
        let request = request.into_inner();
        let after = super::reports::parse_adopted_page_token(&request.page_token)?;
        let page_size = super::reports::adopted_page_size(request.page_size);
        let (suggestions, next) = self
            .readers
            .with(move |connection| {
                super::reports::adopted_page(
                    connection,
                    (None, None),
                    after,
                    page_size,
                    super::reports::Audience::Public,
                )
            })
            .await
            .map_err(|error| status_from(failure_from_read(error)))?;
        Ok(Response::new(v1::ListAdoptedResponse {
            suggestions,
            next_page_token: next.map(|seq| seq.to_string()).unwrap_or_default(),
        }))
    }
}
