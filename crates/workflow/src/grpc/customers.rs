//! The `feedback.v1.Customers` gRPC service: a customer's profile, found by a contact through
//! the keyed hashes of the `customer_contacts` projection (the key from the key store), never
//! by a plaintext index.
//!
//! Authorization first, before anything is looked up: the caller's role decides the scope
//! (`domain::customer::profile_scope`); then each ticket of the customer is shown only if the
//! caller may read it (`may_see`), so an agent's profile is made of their department's tickets
//! alone, and a customer none of whose tickets they may read is NOT_FOUND, the answer for an
//! unknown contact. The contact asked for is never logged nor returned, and the profile holds
//! no contact data.
//!
//! `TagCustomer` (service and admin) records `customer_tagged` on the customer's newest
//! ticket; the profile's staff tags are the latest mark of each tag over the customer's
//! tickets (`domain::customer::staff_tags`), and the tag `vip` is the VIP flag: putting it on
//! or taking it off recomputes the deadlines of the customer's tickets not yet archived
//! (`crate::vip`, `sla_recomputed`) before the answer.

use super::convert::optional_timestamp;
use super::tickets::{actor_of, check_role, parse_ticket_id};
use crate::commands::{failure_from_read, Commands};
use crate::queries::Readers;
use domain::authorize::{may_see, Action};
use domain::command::Command;
use domain::customer::{self, ContactQuery, ProfileTicket};
use domain::ids::{CommandId, TicketId};
use domain::ticket::Ticket;
use domain::types::Actor;
use domain::{DomainError, Rules};
use proto::v1;
use proto::v1::get_customer_request::Key;
use service::{status_from, Failure};
use std::sync::Arc;
use tonic::{Request, Response, Status};
use vault::Vault;

/// The gRPC face of the customer profiles.
#[derive(Debug, Clone)]
pub struct CustomersService {
    pub commands: Commands,
    pub readers: Readers,
    pub rules: Arc<Rules>,
    pub vault: Arc<Vault>,
}

impl CustomersService {
    /// The contact index key, read on the blocking pool (the key store may be PostgreSQL).
    async fn index_key(&self) -> Result<[u8; 32], Status> {
        let vault = Arc::clone(&self.vault);
        tokio::task::spawn_blocking(move || {
            eventlog::postgres::on_blocking_pool(|| vault.contact_index_key())
        })
        .await
        .map_err(|error| Status::internal(format!("key store task failed: {error}")))?
        .map_err(|error| status_from(Failure::Unavailable(format!("key store: {error}"))))
    }

    /// The contact hashes the request names, and the name of its key (for a NOT_FOUND).
    async fn hashes_of(
        &self,
        actor: &Actor,
        key: Option<Key>,
    ) -> Result<(Vec<Vec<u8>>, &'static str), Status> {
        let query = match key {
            None => {
                return Err(status_from(DomainError::invalid(
                    "key",
                    "name one of phone, email, wechat_openid, customer_id or ticket_id",
                )))
            }
            Some(Key::TicketId(ticket_id)) => {
                let ticket_id = parse_ticket_id(&ticket_id)?;
                let ticket = self
                    .commands
                    .load(&ticket_id)
                    .await
                    .map_err(status_from)?
                    .filter(|ticket| may_see(actor, ticket))
                    .ok_or_else(|| {
                        status_from(DomainError::NotFound {
                            ticket_id: ticket_id.to_string(),
                        })
                    })?;
                let key = self.index_key().await?;
                return Ok((
                    customer::ticket_contact_hashes(&key, &ticket.customer),
                    "ticket_id",
                ));
            }
            Some(Key::Phone(phone)) => ContactQuery::phone(&phone),
            Some(Key::Email(email)) => ContactQuery::email(&email),
            Some(Key::WechatOpenid(openid)) => ContactQuery::id("wechat_openid", &openid, true),
            Some(Key::CustomerId(id)) => ContactQuery::id("customer_id", &id, false),
        }
        .map_err(status_from)?;
        let key = self.index_key().await?;
        Ok((vec![query.digest(&key)], query.label()))
    }

    /// The tickets with any of `hashes` that `actor` may read, oldest first.
    async fn visible_tickets(
        &self,
        actor: &Actor,
        hashes: Vec<Vec<u8>>,
    ) -> Result<Vec<(String, Ticket)>, Status> {
        if hashes.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self
            .readers
            .with(move |connection| {
                projections::customers::tickets_with(connection, &hashes)
                    .map_err(crate::WorkflowError::sqlite("read the customer index"))
            })
            .await
            .map_err(|error| status_from(failure_from_read(error)))?;
        let mut tickets = Vec::with_capacity(ids.len());
        for id in ids {
            let loaded = self
                .readers
                .ticket(id.clone())
                .await
                .map_err(|error| status_from(failure_from_read(error)))?;
            if let Some((ticket, _)) = loaded {
                if may_see(actor, &ticket) {
                    tickets.push((id, ticket));
                }
            }
        }
        Ok(tickets)
    }
}

impl CustomersService {
    /// The visible tickets of the customer, NOT_FOUND (naming the kind of key) when none.
    async fn found_tickets(
        &self,
        actor: &Actor,
        hashes: Vec<Vec<u8>>,
        key_name: &str,
    ) -> Result<Vec<(String, Ticket)>, Status> {
        let tickets = self.visible_tickets(actor, hashes).await?;
        if tickets.is_empty() {
            return Err(status_from(DomainError::CustomerNotFound {
                key: key_name.to_owned(),
            }));
        }
        Ok(tickets)
    }

    fn profile(&self, tickets: &[(String, Ticket)]) -> v1::CustomerProfile {
        profile_message(
            tickets,
            self.commands.clock.now(),
            &self.rules.config().customers,
        )
    }
}

/// The key of a `TagCustomerRequest` as the lookup's.
fn lookup_key(key: v1::tag_customer_request::Key) -> Key {
    use v1::tag_customer_request::Key as Tag;
    match key {
        Tag::Phone(value) => Key::Phone(value),
        Tag::Email(value) => Key::Email(value),
        Tag::WechatOpenid(value) => Key::WechatOpenid(value),
        Tag::CustomerId(value) => Key::CustomerId(value),
        Tag::TicketId(value) => Key::TicketId(value),
    }
}

/// The command id a request names, or a fresh one.
fn command_id_of(given: &str) -> Result<CommandId, Status> {
    let given = given.trim();
    if given.is_empty() {
        return CommandId::parse(&uuid::Uuid::new_v4().to_string()).map_err(status_from);
    }
    CommandId::parse(given).map_err(status_from)
}

/// The profile of these tickets at `now`.
pub fn profile_message(
    tickets: &[(String, Ticket)],
    now: chrono::DateTime<chrono::Utc>,
    config: &domain::config::CustomersConfig,
) -> v1::CustomerProfile {
    let folded: Vec<ProfileTicket> = tickets
        .iter()
        .map(|(_, ticket)| ProfileTicket::from(ticket))
        .collect();
    let satisfaction = customer::satisfaction(&folded);
    let staff_tags = customer::staff_tags(tickets.iter().map(|(_, ticket)| ticket));
    v1::CustomerProfile {
        tickets: tickets
            .iter()
            .map(|(id, ticket)| ticket_summary(id, ticket))
            .collect(),
        ticket_count: u32::try_from(tickets.len()).unwrap_or(u32::MAX),
        recent_complaints: u32::try_from(customer::recent_complaints(&folded, now, config))
            .unwrap_or(u32::MAX),
        recent_complaint_days: config.complaint_days,
        satisfaction_count: satisfaction.count,
        satisfaction_mean: satisfaction.mean.unwrap_or(0.0),
        automatic_tags: customer::auto_tags(&folded, now, config)
            .into_iter()
            .map(|tag| tag.as_str().to_owned())
            .collect(),
        vip: staff_tags.iter().any(|tag| tag == customer::VIP_TAG),
        tags: staff_tags,
    }
}

fn ticket_summary(id: &str, ticket: &Ticket) -> v1::CustomerTicket {
    v1::CustomerTicket {
        ticket_id: id.to_owned(),
        channel: ticket.channel.clone(),
        kind: ticket.kind.map_or(0, |kind| v1::Kind::from(kind) as i32),
        step: v1::Step::from(ticket.step) as i32,
        created_at: optional_timestamp(ticket.created_at),
        satisfaction: ticket.satisfaction.map_or(0, u32::from),
        department: ticket.department.clone().unwrap_or_default(),
        outcome: ticket
            .outcome
            .map_or(0, |outcome| v1::Outcome::from(outcome) as i32),
    }
}

#[tonic::async_trait]
impl v1::customers_server::Customers for CustomersService {
    async fn get_customer(
        &self,
        request: Request<v1::GetCustomerRequest>,
    ) -> Result<Response<v1::GetCustomerResponse>, Status> {
        let actor = actor_of(&request)?;
        customer::profile_scope(&actor).map_err(status_from)?;
        let (hashes, key_name) = self.hashes_of(&actor, request.into_inner().key).await?;
        let tickets = self.found_tickets(&actor, hashes, key_name).await?;
        Ok(Response::new(v1::GetCustomerResponse {
            customer: Some(self.profile(&tickets)),
        }))
    }

    async fn tag_customer(
        &self,
        request: Request<v1::TagCustomerRequest>,
    ) -> Result<Response<v1::TagCustomerResponse>, Status> {
        let actor = actor_of(&request)?;
        check_role(&actor, Action::TagCustomer)?;
        let request = request.into_inner();
        let command = Command::TagCustomer {
            tag: request.tag.trim().to_owned(),
            remove: request.remove,
        };
        domain::command::check_token("tag", request.tag.trim()).map_err(status_from)?;
        let command_id = command_id_of(&request.command_id)?;
        let key = request.key.map(lookup_key);
        let (hashes, key_name) = self.hashes_of(&actor, key).await?;
        let tickets = self.found_tickets(&actor, hashes.clone(), key_name).await?;
        // The newest ticket of the customer carries the mark.
        let (newest, _) = tickets
            .last()
            .ok_or_else(|| Status::internal("a found customer without tickets"))?;
        let ticket_id = TicketId::parse(newest).map_err(status_from)?;
        self.commands
            .execute(&actor, &ticket_id, &command_id, None, command)
            .await
            .map_err(status_from)?;
        if request.tag.trim() == customer::VIP_TAG {
            // Every ticket of the customer, whoever may read it: the flag is the customer's.
            crate::vip::recompute_customer(&self.commands, hashes.clone())
                .await
                .map_err(status_from)?;
        }
        let tickets = self.found_tickets(&actor, hashes, key_name).await?;
        Ok(Response::new(v1::TagCustomerResponse {
            customer: Some(self.profile(&tickets)),
        }))
    }
}
