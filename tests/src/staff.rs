//! One member of staff at the tickets API: a client and the bearer token every call carries,
//! with one-line calls for the queries and commands the scenarios send most. Each call
//! returns what the service answered, so that a scenario may expect a refusal as well.

use crate::grpc::authorized;
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::{Response, Status};

/// The ticket a command answered with (a command that succeeds always has one).
trait TicketReply {
    fn into_ticket(self) -> Option<v1::Ticket>;
}

macro_rules! ticket_replies {
    ($($response:ident),* $(,)?) => {
        $(impl TicketReply for v1::$response {
            fn into_ticket(self) -> Option<v1::Ticket> {
                self.ticket
            }
        })*
    };
}

ticket_replies!(
    ClassifyResponse,
    DispatchResponse,
    AcknowledgeResponse,
    AddNoteResponse
);
ticket_replies!(
    ProposeSolutionResponse,
    ApproveSolutionResponse,
    RecordReviewResponse
);
ticket_replies!(ArchiveResponse, GetTicketResponse);
ticket_replies!(EvaluateSuggestionResponse, MarkDeliveredResponse);

fn ticket<R: TicketReply>(answer: Result<Response<R>, Status>) -> Result<v1::Ticket, Status> {
    answer.map(|response| response.into_inner().into_ticket().expect("ticket"))
}

/// `GetTicket` of `ticket_id` as `token`, as the service answered it.
pub async fn fetch_ticket(
    client: &mut TicketsClient<Channel>,
    ticket_id: &str,
    token: &str,
) -> Result<tonic::Response<v1::GetTicketResponse>, tonic::Status> {
    let request = v1::GetTicketRequest {
        ticket_id: ticket_id.to_owned(),
    };
    client.get_ticket(authorized(request, token)).await
}

/// `GetHistory` of `ticket_id` as `token`, as the service answered it.
pub async fn fetch_history(
    client: &mut TicketsClient<Channel>,
    ticket_id: &str,
    token: &str,
) -> Result<tonic::Response<v1::GetHistoryResponse>, tonic::Status> {
    let request = v1::GetHistoryRequest {
        ticket_id: ticket_id.to_owned(),
    };
    client.get_history(authorized(request, token)).await
}

/// The ticket as `token` sees it; `None` when the call fails or has no ticket.
pub async fn get_ticket(
    client: &mut TicketsClient<Channel>,
    ticket_id: &str,
    token: &str,
) -> Option<v1::Ticket> {
    fetch_ticket(client, ticket_id, token)
        .await
        .ok()
        .and_then(|response| response.into_inner().ticket)
}

/// Polls `GetTicket` as `token` every 50 ms until `condition` holds; the ticket, or after
/// `timeout` the last one seen (`None` when it never was).
pub async fn wait_for_ticket(
    client: &mut TicketsClient<Channel>,
    ticket_id: &str,
    token: &str,
    timeout: Duration,
    condition: impl Fn(&v1::Ticket) -> bool,
) -> Result<v1::Ticket, Option<v1::Ticket>> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    while Instant::now() < deadline {
        if let Some(ticket) = get_ticket(client, ticket_id, token).await {
            if condition(&ticket) {
                return Ok(ticket);
            }
            last = Some(ticket);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(last)
}

/// The history of a ticket as `token` sees it.
pub async fn history(
    client: &mut TicketsClient<Channel>,
    ticket_id: &str,
    token: &str,
) -> Vec<v1::LogEvent> {
    fetch_history(client, ticket_id, token)
        .await
        .expect("history")
        .into_inner()
        .events
}

/// A client of the tickets API that calls as one principal.
#[derive(Clone)]
pub struct Staff {
    client: TicketsClient<Channel>,
    token: String,
}

impl Staff {
    /// Calls through `client` with `token`.
    pub fn new(client: TicketsClient<Channel>, token: &str) -> Self {
        Self {
            client,
            token: token.to_owned(),
        }
    }

    /// The same client calling with another token.
    pub fn as_(&self, token: &str) -> Self {
        Self::new(self.client.clone(), token)
    }

    /// A request with this principal's token.
    pub fn authorized<T>(&self, message: T) -> tonic::Request<T> {
        authorized(message, &self.token)
    }

    /// A command id never used before in this test binary (a repeated id would return the
    /// first result).
    pub fn command_id(ticket_id: &str) -> String {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        format!("cmd-{ticket_id}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// `GetTicket`: the ticket as this principal sees it.
    pub async fn get(&mut self, ticket_id: &str) -> Result<v1::Ticket, Status> {
        ticket(fetch_ticket(&mut self.client, ticket_id, &self.token).await)
    }

    /// `GetHistory`: the events of the ticket.
    pub async fn history(&mut self, ticket_id: &str) -> Result<Vec<v1::LogEvent>, Status> {
        let answer = fetch_history(&mut self.client, ticket_id, &self.token).await?;
        Ok(answer.into_inner().events)
    }

    /// `ListTickets` with `request` as it is (one page).
    pub async fn list_page(
        &mut self,
        request: v1::ListTicketsRequest,
    ) -> Result<v1::ListTicketsResponse, Status> {
        let request = self.authorized(request);
        Ok(self.client.list_tickets(request).await?.into_inner())
    }

    /// The first page of every ticket, `page_size` at most.
    pub async fn page(&mut self, page_size: u32) -> Result<v1::ListTicketsResponse, Status> {
        let request = v1::ListTicketsRequest {
            page_size,
            ..Default::default()
        };
        self.list_page(request).await
    }

    /// The first page of the tickets whose text matches `text`.
    pub async fn search(&mut self, text: &str) -> Result<Vec<v1::Ticket>, Status> {
        let filter = v1::TicketFilter {
            text: text.into(),
            ..Default::default()
        };
        self.list(filter).await
    }

    /// The first page of `ListTickets` with `filter`.
    pub async fn list(&mut self, filter: v1::TicketFilter) -> Result<Vec<v1::Ticket>, Status> {
        let request = v1::ListTicketsRequest {
            filter: Some(filter),
            ..Default::default()
        };
        Ok(self.list_page(request).await?.tickets)
    }

    /// `Classify` with everything of `request` but the ids.
    pub async fn classify_with(
        &mut self,
        ticket_id: &str,
        request: v1::ClassifyRequest,
    ) -> Result<v1::Ticket, Status> {
        let request = self.authorized(v1::ClassifyRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: Self::command_id(ticket_id),
            ..request
        });
        ticket(self.client.classify(request).await)
    }

    /// `Classify` as `kind` of a product, priority low, scope local.
    pub async fn classify(
        &mut self,
        ticket_id: &str,
        kind: v1::Kind,
        reason: &str,
    ) -> Result<v1::Ticket, Status> {
        let request = v1::ClassifyRequest {
            kind: kind as i32,
            content_type: v1::ContentType::Product as i32,
            priority: v1::Priority::Low as i32,
            scope: v1::Scope::Local as i32,
            reason: reason.into(),
            ..Default::default()
        };
        self.classify_with(ticket_id, request).await
    }

    /// `Dispatch` to `department`.
    pub async fn dispatch(
        &mut self,
        ticket_id: &str,
        department: &str,
        reason: &str,
    ) -> Result<v1::Ticket, Status> {
        let request = self.authorized(v1::DispatchRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: Self::command_id(ticket_id),
            department: department.into(),
            reason: reason.into(),
            ..Default::default()
        });
        ticket(self.client.dispatch(request).await)
    }

    /// `Acknowledge` with `message` to the customer.
    pub async fn acknowledge(
        &mut self,
        ticket_id: &str,
        message: &str,
    ) -> Result<v1::Ticket, Status> {
        let request = self.authorized(v1::AcknowledgeRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: Self::command_id(ticket_id),
            message: message.into(),
            ..Default::default()
        });
        ticket(self.client.acknowledge(request).await)
    }

    /// `AddNote` with everything of `request` but the ids.
    pub async fn add_note_with(
        &mut self,
        ticket_id: &str,
        request: v1::AddNoteRequest,
    ) -> Result<v1::Ticket, Status> {
        let request = self.authorized(v1::AddNoteRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: Self::command_id(ticket_id),
            ..request
        });
        ticket(self.client.add_note(request).await)
    }

    /// `AddNote` of `text` (internal).
    pub async fn add_note(&mut self, ticket_id: &str, text: &str) -> Result<v1::Ticket, Status> {
        let note = v1::AddNoteRequest {
            text: text.into(),
            ..Default::default()
        };
        self.add_note_with(ticket_id, note).await
    }

    /// `ProposeSolution` of `outcome`, with `reason` (empty for none).
    pub async fn propose_because(
        &mut self,
        ticket_id: &str,
        outcome: v1::Outcome,
        text: &str,
        reason: &str,
    ) -> Result<v1::Ticket, Status> {
        let request = self.authorized(v1::ProposeSolutionRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: Self::command_id(ticket_id),
            outcome: outcome as i32,
            text: text.into(),
            reason: reason.into(),
            ..Default::default()
        });
        ticket(self.client.propose_solution(request).await)
    }

    /// `EvaluateSuggestion` with the three figures (each 1 to 5) and a note.
    pub async fn evaluate(
        &mut self,
        ticket_id: &str,
        (feasibility, cost, benefit): (u32, u32, u32),
        note: &str,
    ) -> Result<v1::Ticket, Status> {
        let request = self.authorized(v1::EvaluateSuggestionRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: Self::command_id(ticket_id),
            feasibility,
            cost,
            benefit,
            note: note.into(),
            ..Default::default()
        });
        ticket(self.client.evaluate_suggestion(request).await)
    }

    /// `MarkDelivered` on `delivered_on` ("YYYY-MM-DD") with a note.
    pub async fn deliver(
        &mut self,
        ticket_id: &str,
        delivered_on: &str,
        note: &str,
    ) -> Result<v1::Ticket, Status> {
        let request = self.authorized(v1::MarkDeliveredRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: Self::command_id(ticket_id),
            delivered_on: delivered_on.into(),
            note: note.into(),
            ..Default::default()
        });
        ticket(self.client.mark_delivered(request).await)
    }

    /// `ProposeSolution` of `outcome` without a reason.
    pub async fn propose(
        &mut self,
        ticket_id: &str,
        outcome: v1::Outcome,
        text: &str,
    ) -> Result<v1::Ticket, Status> {
        self.propose_because(ticket_id, outcome, text, "").await
    }

    /// `ApproveSolution`: approves with `comment`.
    pub async fn approve(&mut self, ticket_id: &str, comment: &str) -> Result<v1::Ticket, Status> {
        let request = self.authorized(v1::ApproveSolutionRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: Self::command_id(ticket_id),
            approve: true,
            comment: comment.into(),
            ..Default::default()
        });
        ticket(self.client.approve_solution(request).await)
    }

    /// `RecordReview` of the customer's `satisfaction`.
    pub async fn review(
        &mut self,
        ticket_id: &str,
        satisfaction: u32,
        comment: &str,
    ) -> Result<v1::Ticket, Status> {
        let request = self.authorized(v1::RecordReviewRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: Self::command_id(ticket_id),
            satisfaction,
            comment: comment.into(),
            ..Default::default()
        });
        ticket(self.client.record_review(request).await)
    }

    /// `Archive`.
    pub async fn archive(&mut self, ticket_id: &str) -> Result<v1::Ticket, Status> {
        let request = self.authorized(v1::ArchiveRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: Self::command_id(ticket_id),
            ..Default::default()
        });
        ticket(self.client.archive(request).await)
    }
}
