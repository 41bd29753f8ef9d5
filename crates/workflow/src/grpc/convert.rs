//! Conversions between the generated `feedback.v1` types and the domain's types, at the
//! workflow's gRPC edge (and for the `LogEvent` rows the publisher puts on NATS).

use crate::queries::{ListOrder, TicketFilter};
use chrono::{DateTime, Utc};
use domain::ticket::{Approval, AwardGranted, Delivery, Evaluation, Ticket};
use domain::types::{
    Actor, ContentType, Kind, Outcome, Priority, Scope, SlaState, Step, Suggestion,
};
use domain::DomainError;
use eventlog::RecordedEvent;
use proto::v1;

pub use proto::time::{instant_from, timestamp};

pub(crate) fn optional_timestamp(instant: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    instant.map(timestamp)
}

/// A duration in milliseconds as a protobuf duration.
pub fn duration_ms(milliseconds: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: milliseconds.div_euclid(1_000),
        nanos: i32::try_from(milliseconds.rem_euclid(1_000) * 1_000_000).unwrap_or(0),
    }
}

/// Reads an enum field with [`proto::mapping`]: 0 (unspecified) is `None`, an unknown number
/// is an invalid `field`.
fn enum_from<P: TryFrom<i32>, D>(
    field: &str,
    value: i32,
    to_domain: fn(P) -> Option<D>,
) -> Result<Option<D>, DomainError> {
    if value == 0 {
        return Ok(None);
    }
    P::try_from(value)
        .ok()
        .and_then(to_domain)
        .map(Some)
        .ok_or_else(|| DomainError::invalid(field, format!("unknown value {value}")))
}

/// The readers of the optional enums of the requests: `<name>(field, value)`.
macro_rules! enum_readers {
    ($($name:ident: $domain:ty = $proto:ty;)*) => {
        $(
            pub fn $name(field: &str, value: i32) -> Result<Option<$domain>, DomainError> {
                enum_from(field, value, <$proto>::to_domain)
            }
        )*
    };
}

enum_readers! {
    step_from: Step = v1::Step;
    kind_from: Kind = v1::Kind;
    content_type_from: ContentType = v1::ContentType;
    priority_from: Priority = v1::Priority;
    scope_from: Scope = v1::Scope;
    outcome_from: Outcome = v1::Outcome;
    sla_state_from: SlaState = v1::SlaState;
}

/// A required enum: unspecified is invalid.
pub fn required<T>(field: &str, value: Result<Option<T>, DomainError>) -> Result<T, DomainError> {
    value?.ok_or_else(|| DomainError::invalid(field, "is required"))
}

/// `text` unless it is blank (empty or only white space).
pub fn unless_blank(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}

fn non_empty(text: &str) -> Option<String> {
    unless_blank(text.trim()).map(str::to_owned)
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
        open_only: filter.open_only,
    })
}

/// The order of a list request.
pub fn order_from(order: i32) -> Result<ListOrder, DomainError> {
    match v1::TicketOrder::try_from(order) {
        Ok(v1::TicketOrder::Unspecified) => Ok(ListOrder::Receipt),
        Ok(v1::TicketOrder::Urgency) => Ok(ListOrder::Urgency),
        Err(_) => Err(DomainError::invalid("order", "is not a known order")),
    }
}

/// A ticket as the API shows it.
pub fn ticket_message(ticket: &Ticket) -> v1::Ticket {
    let customer = &ticket.customer;
    let solution = ticket.solution.as_ref();
    v1::Ticket {
        ticket_id: ticket.id_text(),
        version: ticket.version,
        step: v1::Step::from(ticket.step) as i32,
        channel: ticket.channel.clone(),
        customer: Some(v1::Customer {
            customer_id: customer.customer_id.clone().unwrap_or_default(),
            name: customer.name.clone().unwrap_or_default(),
            phone: customer.phone.clone().unwrap_or_default(),
            email: customer.email.clone().unwrap_or_default(),
            wechat_openid: customer.wechat_openid.clone().unwrap_or_default(),
        }),
        content: ticket.content.clone(),
        kind: ticket.kind.map_or(0, |kind| v1::Kind::from(kind) as i32),
        content_type: ticket
            .content_type
            .map_or(0, |content_type| v1::ContentType::from(content_type) as i32),
        priority: ticket
            .priority
            .map_or(0, |priority| v1::Priority::from(priority) as i32),
        scope: ticket
            .scope
            .map_or(0, |scope| v1::Scope::from(scope) as i32),
        keywords: ticket.keywords.clone(),
        terms: ticket.terms.clone(),
        vip: ticket.vip,
        department: ticket.department.clone().unwrap_or_default(),
        helpers: ticket.helpers.clone(),
        respond_by: optional_timestamp(ticket.respond_by),
        resolve_by: optional_timestamp(ticket.resolve_by),
        responded_at: optional_timestamp(ticket.responded_at),
        resolved_at: optional_timestamp(ticket.resolved_at),
        sla_state: v1::SlaState::from(ticket.sla_state) as i32,
        round: ticket.round,
        outcome: ticket
            .outcome
            .map_or(0, |outcome| v1::Outcome::from(outcome) as i32),
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
        language: v1::Language::from(ticket.language()) as i32,
        paused_for: Some(duration_ms(ticket.paused_total_ms)),
        parent_ticket_id: ticket
            .parent
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        children_count: u32::try_from(ticket.children.len()).unwrap_or(u32::MAX),
        merged_duplicate: ticket.is_merged(),
        assignee: ticket.assignee.clone().unwrap_or_default(),
        notes: ticket
            .notes
            .iter()
            .map(|note| v1::TicketNote {
                text: note.text.clone(),
                to_customer: note.to_customer,
                round: note.round,
                at: Some(timestamp(note.at)),
            })
            .collect(),
        rejection_comment: ticket.rejection_comment.clone().unwrap_or_default(),
        cannot_be_told: ticket.cannot_be_told,
        customer_replied_at: optional_timestamp(ticket.customer_replied_at),
        new_reply: ticket.new_reply,
        customer_replies: ticket.customer_replies,
        suggestion: ticket.suggestion.as_ref().map(suggestion_message),
        classification_model_version: ticket
            .classification_model_version
            .clone()
            .unwrap_or_default(),
        evaluation: ticket.evaluation.as_ref().map(evaluation_message),
        delivery: ticket.delivery.as_ref().map(delivery_message),
        award: ticket.award.as_ref().map(award_message),
    }
}

/// A suggestion's evaluation as the API carries it, with its score band.
fn evaluation_message(evaluation: &Evaluation) -> v1::SuggestionEvaluation {
    v1::SuggestionEvaluation {
        feasibility: u32::from(evaluation.feasibility),
        cost: u32::from(evaluation.cost),
        benefit: u32::from(evaluation.benefit),
        score: u32::from(evaluation.score),
        band: evaluation.band().to_owned(),
        note: evaluation.note.clone(),
        evaluated_at: Some(timestamp(evaluation.at)),
    }
}

/// A planned suggestion's delivery as the API carries it.
fn delivery_message(delivery: &Delivery) -> v1::SuggestionDelivery {
    v1::SuggestionDelivery {
        delivered_on: delivery.delivered_on.to_string(),
        note: delivery.note.clone(),
        recorded_at: Some(timestamp(delivery.at)),
    }
}

/// The monthly award as the API carries it.
fn award_message(award: &AwardGranted) -> v1::SuggestionAward {
    v1::SuggestionAward {
        month: award.month.clone(),
        rank: award.rank,
        score: u32::from(award.score),
        reward: award.reward.clone(),
        granted_at: Some(timestamp(award.at)),
    }
}

/// The trained classifier's suggestion as the API carries it.
pub fn suggestion_message(suggestion: &Suggestion) -> v1::ClassificationSuggestion {
    let values = |field: &str| {
        suggestion
            .fields
            .iter()
            .filter(|suggested| suggested.field == field)
            .flat_map(|suggested| &suggested.values)
            .map(|value| v1::SuggestedValue {
                value: value.value.clone(),
                probability: value.probability,
            })
            .collect()
    };
    v1::ClassificationSuggestion {
        model_version: suggestion.model_version.clone(),
        kind: values("kind"),
        content_type: values("content_type"),
        priority: values("priority"),
        department: values("department"),
        confidence: suggestion.confidence,
        priority_floor: suggestion
            .floor_applied
            .map_or(0, |priority| v1::Priority::from(priority) as i32),
        suggested_at: Some(timestamp(suggestion.at)),
    }
}

/// A ticket as lists and watches show it: without its notes (`GetTicket` has them), so that a
/// page of tickets stays small.
pub fn ticket_summary(ticket: &Ticket) -> v1::Ticket {
    v1::Ticket {
        notes: Vec::new(),
        ..ticket_message(ticket)
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
            role: v1::Role::from(actor.role) as i32,
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
