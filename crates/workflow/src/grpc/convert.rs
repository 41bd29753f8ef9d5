//! Conversions between the generated `feedback.v1` types and the domain's types, at the
//! workflow's gRPC edge (and for the `LogEvent` rows the publisher puts on NATS).

use crate::queries::TicketFilter;
use chrono::{DateTime, Utc};
use domain::ticket::{Approval, Ticket};
use domain::types::{Actor, ContentType, Kind, Outcome, Priority, Role, Scope, SlaState, Step};
use domain::DomainError;
use eventlog::RecordedEvent;
use proto::v1;

pub use proto::time::timestamp;

fn optional_timestamp(instant: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    instant.map(timestamp)
}

/// A protobuf timestamp as a UTC instant; a bad one ([`proto::time::instant`]) is an invalid
/// `field`.
pub fn instant_from(
    field: &str,
    timestamp: &prost_types::Timestamp,
) -> Result<DateTime<Utc>, DomainError> {
    proto::time::instant(timestamp)
        .map_err(|error| DomainError::invalid(field, format!("is not a valid timestamp: {error}")))
}

/// A duration in milliseconds as a protobuf duration.
pub fn duration_ms(milliseconds: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: milliseconds.div_euclid(1_000),
        nanos: i32::try_from(milliseconds.rem_euclid(1_000) * 1_000_000).unwrap_or(0),
    }
}

pub fn step_to(step: Step) -> v1::Step {
    match step {
        Step::Receive => v1::Step::Receive,
        Step::Classify => v1::Step::Classify,
        Step::Dispatch => v1::Step::Dispatch,
        Step::Handle => v1::Step::Handle,
        Step::Review => v1::Step::Review,
        Step::Archive => v1::Step::Archive,
    }
}

pub fn kind_to(kind: Kind) -> v1::Kind {
    match kind {
        Kind::Suggestion => v1::Kind::Suggestion,
        Kind::Complaint => v1::Kind::Complaint,
        Kind::Problem => v1::Kind::Problem,
        Kind::Inquiry => v1::Kind::Inquiry,
        Kind::Praise => v1::Kind::Praise,
    }
}

pub fn content_type_to(content_type: ContentType) -> v1::ContentType {
    match content_type {
        ContentType::Product => v1::ContentType::Product,
        ContentType::Service => v1::ContentType::Service,
        ContentType::Process => v1::ContentType::Process,
        ContentType::Experience => v1::ContentType::Experience,
    }
}

pub fn priority_to(priority: Priority) -> v1::Priority {
    match priority {
        Priority::Urgent => v1::Priority::Urgent,
        Priority::High => v1::Priority::High,
        Priority::Medium => v1::Priority::Medium,
        Priority::Low => v1::Priority::Low,
    }
}

pub fn scope_to(scope: Scope) -> v1::Scope {
    match scope {
        Scope::Global => v1::Scope::Global,
        Scope::Local => v1::Scope::Local,
    }
}

pub fn outcome_to(outcome: Outcome) -> v1::Outcome {
    match outcome {
        Outcome::Adopted => v1::Outcome::Adopted,
        Outcome::Planned => v1::Outcome::Planned,
        Outcome::Declined => v1::Outcome::Declined,
        Outcome::Fixed => v1::Outcome::Fixed,
        Outcome::Explained => v1::Outcome::Explained,
    }
}

pub fn sla_state_to(sla_state: SlaState) -> v1::SlaState {
    match sla_state {
        SlaState::OnTime => v1::SlaState::OnTime,
        SlaState::Warning => v1::SlaState::Warning,
        SlaState::Breached => v1::SlaState::Breached,
    }
}

pub fn role_to(role: Role) -> v1::Role {
    match role {
        Role::Adapter => v1::Role::Adapter,
        Role::Agent => v1::Role::Agent,
        Role::Head => v1::Role::Head,
        Role::Service => v1::Role::Service,
        Role::Manager => v1::Role::Manager,
        Role::Auditor => v1::Role::Auditor,
        Role::Admin => v1::Role::Admin,
        Role::System => v1::Role::System,
    }
}

/// Reads an enum field: 0 (unspecified) is `None`, an unknown number is invalid.
fn enum_from<P, D>(
    field: &str,
    value: i32,
    parse: impl Fn(i32) -> Option<P>,
    map: impl Fn(P) -> Option<D>,
) -> Result<Option<D>, DomainError> {
    if value == 0 {
        return Ok(None);
    }
    parse(value)
        .and_then(map)
        .map(Some)
        .ok_or_else(|| DomainError::invalid(field, format!("unknown value {value}")))
}

pub fn step_from(field: &str, value: i32) -> Result<Option<Step>, DomainError> {
    enum_from(
        field,
        value,
        |value| v1::Step::try_from(value).ok(),
        |step| match step {
            v1::Step::Unspecified => None,
            v1::Step::Receive => Some(Step::Receive),
            v1::Step::Classify => Some(Step::Classify),
            v1::Step::Dispatch => Some(Step::Dispatch),
            v1::Step::Handle => Some(Step::Handle),
            v1::Step::Review => Some(Step::Review),
            v1::Step::Archive => Some(Step::Archive),
        },
    )
}

pub fn kind_from(field: &str, value: i32) -> Result<Option<Kind>, DomainError> {
    enum_from(
        field,
        value,
        |value| v1::Kind::try_from(value).ok(),
        |kind| match kind {
            v1::Kind::Unspecified => None,
            v1::Kind::Suggestion => Some(Kind::Suggestion),
            v1::Kind::Complaint => Some(Kind::Complaint),
            v1::Kind::Problem => Some(Kind::Problem),
            v1::Kind::Inquiry => Some(Kind::Inquiry),
            v1::Kind::Praise => Some(Kind::Praise),
        },
    )
}

pub fn content_type_from(field: &str, value: i32) -> Result<Option<ContentType>, DomainError> {
    enum_from(
        field,
        value,
        |value| v1::ContentType::try_from(value).ok(),
        |content_type| match content_type {
            v1::ContentType::Unspecified => None,
            v1::ContentType::Product => Some(ContentType::Product),
            v1::ContentType::Service => Some(ContentType::Service),
            v1::ContentType::Process => Some(ContentType::Process),
            v1::ContentType::Experience => Some(ContentType::Experience),
        },
    )
}

pub fn priority_from(field: &str, value: i32) -> Result<Option<Priority>, DomainError> {
    enum_from(
        field,
        value,
        |value| v1::Priority::try_from(value).ok(),
        |priority| match priority {
            v1::Priority::Unspecified => None,
            v1::Priority::Urgent => Some(Priority::Urgent),
            v1::Priority::High => Some(Priority::High),
            v1::Priority::Medium => Some(Priority::Medium),
            v1::Priority::Low => Some(Priority::Low),
        },
    )
}

pub fn scope_from(field: &str, value: i32) -> Result<Option<Scope>, DomainError> {
    enum_from(
        field,
        value,
        |value| v1::Scope::try_from(value).ok(),
        |scope| match scope {
            v1::Scope::Unspecified => None,
            v1::Scope::Global => Some(Scope::Global),
            v1::Scope::Local => Some(Scope::Local),
        },
    )
}

pub fn outcome_from(field: &str, value: i32) -> Result<Option<Outcome>, DomainError> {
    enum_from(
        field,
        value,
        |value| v1::Outcome::try_from(value).ok(),
        |outcome| match outcome {
            v1::Outcome::Unspecified => None,
            v1::Outcome::Adopted => Some(Outcome::Adopted),
            v1::Outcome::Planned => Some(Outcome::Planned),
            v1::Outcome::Declined => Some(Outcome::Declined),
            v1::Outcome::Fixed => Some(Outcome::Fixed),
            v1::Outcome::Explained => Some(Outcome::Explained),
        },
    )
}

pub fn sla_state_from(field: &str, value: i32) -> Result<Option<SlaState>, DomainError> {
    enum_from(
        field,
        value,
        |value| v1::SlaState::try_from(value).ok(),
        |sla_state| match sla_state {
            v1::SlaState::Unspecified => None,
            v1::SlaState::OnTime => Some(SlaState::OnTime),
            v1::SlaState::Warning => Some(SlaState::Warning),
            v1::SlaState::Breached => Some(SlaState::Breached),
        },
    )
}

/// A required enum: unspecified is invalid.
pub fn required<T>(field: &str, value: Result<Option<T>, DomainError>) -> Result<T, DomainError> {
    value?.ok_or_else(|| DomainError::invalid(field, "is required"))
}

fn non_empty(text: &str) -> Option<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        None
    } else {
        Some(trimmed.to_owned())
    }
}

/// The filter of a list or watch request.
pub fn filter_from(filter: Option<v1::TicketFilter>) -> Result<TicketFilter, DomainError> {
    let filter = filter.unwrap_or_default();
    Ok(TicketFilter {
        step: step_from("filter.step", filter.step)?,
        department: non_empty(&filter.department),
        priority: priority_from("filter.priority", filter.priority)?,
        kind: kind_from("filter.kind", filter.kind)?,
        content_type: content_type_from("filter.content_type", filter.content_type)?,
        channel: non_empty(&filter.channel),
        sla_state: sla_state_from("filter.sla_state", filter.sla_state)?,
        scope: scope_from("filter.scope", filter.scope)?,
        customer_id: non_empty(&filter.customer_id),
        ticket_id: non_empty(&filter.ticket_id),
        created_from: filter
            .created_from
            .as_ref()
            .map(|value| instant_from("filter.created_from", value))
            .transpose()?,
        created_to: filter
            .created_to
            .as_ref()
            .map(|value| instant_from("filter.created_to", value))
            .transpose()?,
        text: non_empty(&filter.text),
        involving_department: None,
        assignee: non_empty(&filter.assignee),
    })
}

/// A ticket as the API shows it.
pub fn ticket_message(ticket: &Ticket) -> v1::Ticket {
    let customer = &ticket.customer;
    let solution = ticket.solution.as_ref();
    v1::Ticket {
        ticket_id: ticket.id_text(),
        version: ticket.version,
        step: step_to(ticket.step) as i32,
        channel: ticket.channel.clone(),
        customer: Some(v1::Customer {
            customer_id: customer.customer_id.clone().unwrap_or_default(),
            name: customer.name.clone().unwrap_or_default(),
            phone: customer.phone.clone().unwrap_or_default(),
            email: customer.email.clone().unwrap_or_default(),
            wechat_openid: customer.wechat_openid.clone().unwrap_or_default(),
        }),
        content: ticket.content.clone(),
        kind: ticket.kind.map_or(0, |kind| kind_to(kind) as i32),
        content_type: ticket
            .content_type
            .map_or(0, |content_type| content_type_to(content_type) as i32),
        priority: ticket
            .priority
            .map_or(0, |priority| priority_to(priority) as i32),
        scope: ticket.scope.map_or(0, |scope| scope_to(scope) as i32),
        keywords: ticket.keywords.clone(),
        department: ticket.department.clone().unwrap_or_default(),
        helpers: ticket.helpers.clone(),
        respond_by: optional_timestamp(ticket.respond_by),
        resolve_by: optional_timestamp(ticket.resolve_by),
        responded_at: optional_timestamp(ticket.responded_at),
        resolved_at: optional_timestamp(ticket.resolved_at),
        sla_state: sla_state_to(ticket.sla_state) as i32,
        round: ticket.round,
        outcome: ticket
            .outcome
            .map_or(0, |outcome| outcome_to(outcome) as i32),
        satisfaction: ticket.satisfaction.map_or(0, u32::from),
        created_at: optional_timestamp(ticket.created_at),
        updated_at: optional_timestamp(ticket.updated_at),
        feedback_id: ticket
            .feedback_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        external_id: ticket.external_id.clone().unwrap_or_default(),
        occurred_at: optional_timestamp(ticket.occurred_at),
        product: ticket.product.clone().unwrap_or_default(),
        order_id: ticket.order_id.clone().unwrap_or_default(),
        attributes: ticket
            .attributes
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        classification_confidence: ticket.confidence.unwrap_or(0.0),
        complex: ticket.complex,
        solution: solution
            .map(|solution| solution.text.clone())
            .unwrap_or_default(),
        decline_reason: solution
            .filter(|solution| solution.outcome == Outcome::Declined)
            .map(|solution| solution.reason.clone())
            .unwrap_or_default(),
        awaiting_approval: ticket.approval == Approval::Pending,
        review_comment: ticket.review_comment.clone().unwrap_or_default(),
        escalated: ticket.escalation_level > 0,
        escalation_reason: ticket.escalated_to.clone().unwrap_or_default(),
        sla_paused: ticket.is_paused(),
        archived_at: optional_timestamp(ticket.archived_at),
        language: v1::Language::Unspecified as i32,
        paused_for: Some(duration_ms(ticket.paused_total_ms)),
        parent_ticket_id: ticket
            .parent
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        children_count: u32::try_from(ticket.children.len()).unwrap_or(u32::MAX),
        merged_duplicate: ticket.is_merged(),
        assignee: ticket.assignee.clone().unwrap_or_default(),
    }
}

/// One log row as the API and NATS carry it.
pub fn log_event_message(row: &RecordedEvent) -> v1::LogEvent {
    let actor: Option<Actor> = serde_json::from_str(&row.actor_json).ok();
    v1::LogEvent {
        position: row.position,
        stream_id: row.stream_id.clone(),
        version: row.stream_version,
        event_id: row.event_id.hyphenated().to_string(),
        event_type: row.event_type.clone(),
        schema_version: row.schema_version,
        occurred_at: Some(timestamp(row.occurred_at)),
        recorded_at: Some(timestamp(row.recorded_at)),
        actor: actor.map(|actor| v1::Actor {
            principal: actor.principal,
            role: role_to(actor.role) as i32,
            department: actor.department.unwrap_or_default(),
        }),
        correlation_id: row.correlation_id.clone().unwrap_or_default(),
        causation_id: row.causation_id.clone().unwrap_or_default(),
        payload: row.payload_json.clone(),
        previous_hash: if row.position <= 1 {
            String::new()
        } else {
            hex::encode(row.prev_hash)
        },
        hash: hex::encode(row.hash),
        ticket_id: crate::record::ticket_of_stream(&row.stream_id)
            .unwrap_or_default()
            .to_owned(),
    }
}
