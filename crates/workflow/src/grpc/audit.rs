//! The `feedback.v1.Audit` gRPC service: the log rows as they are stored (optionally
//! following new ones), the verification of the hash chain, a ticket as it stood at an
//! instant, and the erasure of a customer's personal data (admin only; see `erasure`).
//!
//! `ReadEvents` returns the rows exactly as stored and hashed, so personal data stays sealed
//! there; `GetTicketAt` opens it with the key store (an erased customer reads as empty).

use super::convert::{instant_from, ticket_message};
use super::tickets::{actor_of, caller, parse_ticket_id};
use domain::authorize::Action;
use domain::DomainError;
use eventlog::EventLog;
use futures::Stream;
use proto::v1;
use service::status_from;
use std::pin::Pin;
use tonic::{Request, Response, Status};

/// The gRPC face of the log for auditors.
#[derive(Debug, Clone)]
pub struct AuditService {
    pub log: EventLog,
    /// Opens sealed personal data for `GetTicketAt`.
    pub vault: std::sync::Arc<vault::Vault>,
    /// Serves `EraseCustomer`.
    pub erasure: crate::erasure::Erasure,
    /// The kept checkpoints `VerifyLog` compares the log with, when asked.
    pub checkpoint_file: std::path::PathBuf,
    /// The watch slots `ReadEvents` with `follow` takes, shared with `WatchTickets`.
    pub watches: super::limits::WatchSlots,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::ReadEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl v1::audit_server::Audit for AuditService {
    type ReadEventsStream = EventStream;

    async fn read_events(
        &self,
        request: Request<v1::ReadEventsRequest>,
    ) -> Result<Response<Self::ReadEventsStream>, Status> {
        let actor = caller(&request, Action::ReadEvents)?;
        let slot = if request.get_ref().follow {
            Some(self.watches.take(&actor.principal)?)
        } else {
            None
        };
        let query = super::audit_log::ReadEventsQuery::from_request(request.get_ref());
        let receiver = super::audit_log::read_events(self.log.clone(), query);
        let rows = tokio_stream::wrappers::ReceiverStream::new(receiver);
        Ok(Response::new(match slot {
            Some(slot) => Box::pin(super::limits::holding(rows, slot)),
            None => Box::pin(rows),
        }))
    }

    async fn verify_log(
        &self,
        request: Request<v1::VerifyLogRequest>,
    ) -> Result<Response<v1::VerifyLogResponse>, Status> {
        caller(&request, Action::VerifyLog)?;
        let checkpoints = request
            .get_ref()
            .check_checkpoints
            .then(|| self.checkpoint_file.clone());
        super::audit_log::verify_log(&self.log, checkpoints)
            .await
            .map(Response::new)
    }

    async fn get_ticket_at(
        &self,
        request: Request<v1::GetTicketAtRequest>,
    ) -> Result<Response<v1::GetTicketAtResponse>, Status> {
        caller(&request, Action::GetTicketAt)?;
        let request = request.into_inner();
        let ticket_id = parse_ticket_id(&request.ticket_id)?;
        let at = instant_from(
            "at",
            request
                .at
                .as_ref()
                .ok_or_else(|| status_from(DomainError::invalid("at", "is required")))?,
        )
        .map_err(status_from)?;
        // By the time each event was recorded: what the service showed at that instant.
        let found = super::audit_log::ticket_at(
            &self.log,
            Some(self.vault.clone()),
            ticket_id.to_string(),
            at,
        )
        .await?;
        let Some(found) = found else {
            return Err(status_from(DomainError::NotFound {
                ticket_id: ticket_id.to_string(),
            }));
        };
        Ok(Response::new(v1::GetTicketAtResponse {
            ticket: Some(ticket_message(&found.ticket)),
            position: found.position,
        }))
    }

    async fn erase_customer(
        &self,
        request: Request<v1::EraseCustomerRequest>,
    ) -> Result<Response<v1::EraseCustomerResponse>, Status> {
        let actor = actor_of(&request)?;
        let request = request.into_inner();
        let target = erasure_target(&request)?;
        let command_id = domain::ids::CommandId::parse(&request.command_id).map_err(status_from)?;
        let outcome = self
            .erasure
            .erase(&actor, target, &command_id, &request.reason)
            .await
            .map_err(status_from)?;
        Ok(Response::new(v1::EraseCustomerResponse {
            tickets_affected: outcome.tickets_affected,
            ticket_ids: outcome.ticket_ids,
            tickets_already_erased: outcome.tickets_already_erased,
            keys: outcome.keys,
        }))
    }
}

/// The customer an `EraseCustomerRequest` names: exactly one of a ticket and a customer id.
fn erasure_target(
    request: &v1::EraseCustomerRequest,
) -> Result<crate::erasure::ErasureTarget, Status> {
    let ticket_id = request.ticket_id.trim();
    let customer_id = request.customer_id.trim();
    match (ticket_id.is_empty(), customer_id.is_empty()) {
        (false, true) => Ok(crate::erasure::ErasureTarget::Ticket(parse_ticket_id(
            ticket_id,
        )?)),
        (true, false) => Ok(crate::erasure::ErasureTarget::Customer(
            customer_id.to_owned(),
        )),
        (true, true) => Err(status_from(DomainError::invalid(
            "ticket_id",
            "set ticket_id or customer_id",
        ))),
        (false, false) => Err(status_from(DomainError::invalid(
            "customer_id",
            "set only one of ticket_id and customer_id",
        ))),
    }
}
