//! The `feedback.v1.Audit` gRPC service: the log rows as they are stored (optionally
//! following new ones), the verification of the hash chain, a ticket as it stood at an
//! instant, and the erasure of a customer's personal data (admin only; see `erasure`).
//!
//! `ReadEvents` returns the rows exactly as stored and hashed, so personal data stays sealed
//! there; `GetTicketAt` opens it with the key store (an erased customer reads as empty).

use super::convert::{instant_from, log_event_message, ticket_message};
use super::tickets::{actor_of, check_role, parse_ticket_id};
use crate::commands::failure_from_log;
use crate::record;
use domain::authorize::Action;
use domain::ticket::Ticket;
use domain::DomainError;
use eventlog::EventLog;
use futures::Stream;
use proto::v1;
use service::status_from;
use std::pin::Pin;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

/// The gRPC face of the log for auditors.
#[derive(Debug, Clone)]
pub struct AuditService {
    pub log: EventLog,
    /// Opens sealed personal data for `GetTicketAt`.
    pub vault: std::sync::Arc<vault::Vault>,
    /// Serves `EraseCustomer`.
    pub erasure: crate::erasure::Erasure,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::ReadEventsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl v1::audit_server::Audit for AuditService {
    type ReadEventsStream = EventStream;

    async fn read_events(
        &self,
        request: Request<v1::ReadEventsRequest>,
    ) -> Result<Response<Self::ReadEventsStream>, Status> {
        let actor = actor_of(&request)?;
        check_role(&actor, Action::ReadEvents)?;
        let request = request.into_inner();
        let log = self.log.clone();
        let (sender, receiver) = mpsc::channel(512);
        let limit = if request.limit == 0 {
            u64::MAX
        } else {
            request.limit
        };
        let stream_id = request.stream_id.filter(|id| !id.trim().is_empty());
        tokio::spawn(async move {
            let mut next = request.from_position.max(1);
            let mut sent = 0u64;
            loop {
                let rows = match &stream_id {
                    Some(stream_id) => log.read_stream(stream_id, 0).await.map(|rows| {
                        rows.into_iter()
                            .filter(|row| row.position >= next)
                            .collect::<Vec<_>>()
                    }),
                    None => log.read_all(next, 1_000).await,
                };
                let rows = match rows {
                    Ok(rows) => rows,
                    Err(error) => {
                        let _ = sender.send(Err(status_from(failure_from_log(error)))).await;
                        return;
                    }
                };
                for row in &rows {
                    if sent >= limit {
                        return;
                    }
                    let item = v1::ReadEventsResponse {
                        event: Some(log_event_message(row)),
                    };
                    if sender.send(Ok(item)).await.is_err() {
                        return;
                    }
                    sent += 1;
                    next = row.position + 1;
                }
                if rows.is_empty() || stream_id.is_some() {
                    if !request.follow {
                        return;
                    }
                    tokio::select! {
                        _ = log.wait_for(next.saturating_sub(1).max(log.head().position)) => {}
                        _ = sender.closed() => return,
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(receiver),
        )))
    }

    async fn verify_log(
        &self,
        request: Request<v1::VerifyLogRequest>,
    ) -> Result<Response<v1::VerifyLogResponse>, Status> {
        let actor = actor_of(&request)?;
        check_role(&actor, Action::VerifyLog)?;
        let report = self
            .log
            .verify_in_background(None)
            .await
            .map_err(|error| status_from(failure_from_log(error)))?;
        Ok(Response::new(v1::VerifyLogResponse {
            events_checked: report.checked,
            head_position: report.head_position,
            head_hash: hex::encode(report.head_hash),
            ok: report.ok,
            first_bad_position: report.first_bad.as_ref().map(|bad| bad.position),
            problem: report.first_bad.map(|bad| bad.detail).unwrap_or_default(),
        }))
    }

    async fn get_ticket_at(
        &self,
        request: Request<v1::GetTicketAtRequest>,
    ) -> Result<Response<v1::GetTicketAtResponse>, Status> {
        let actor = actor_of(&request)?;
        check_role(&actor, Action::GetTicketAt)?;
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
        let rows = self
            .log
            .read_stream(&ticket_id.stream_id(), 0)
            .await
            .map_err(|error| status_from(failure_from_log(error)))?;
        let vault = self.vault.clone();
        let (ticket, position) = tokio::task::spawn_blocking(move || {
            let mut ticket = Ticket::default();
            let mut position = 0;
            for row in rows.iter().take_while(|row| row.occurred_at <= at) {
                let event = record::decode_opened(row, &vault).map_err(Status::internal)?;
                ticket = domain::apply(ticket, &event);
                position = row.position;
            }
            Ok::<_, Status>((ticket, position))
        })
        .await
        .map_err(|error| Status::internal(format!("fold task failed: {error}")))??;
        if !ticket.exists() {
            return Err(status_from(DomainError::NotFound {
                ticket_id: ticket_id.to_string(),
            }));
        }
        Ok(Response::new(v1::GetTicketAtResponse {
            ticket: Some(ticket_message(&ticket)),
            position,
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
