//! The events of a ticket: what happened, as the log stores it. Each event has a stable
//! snake_case type name and a JSON payload; `from_parts` reads stored events back through
//! an upcaster per schema version.
//!
//! The first event of every ticket has type `received`: the workflow publishes it on
//! `ticket.events.received`, which is how intake learns that a submission is safe in the log.

use crate::config::Language;
use crate::ids::{FeedbackId, TicketId};
pub use crate::ticket::{AwardGranted, Delivery, Evaluation, RewardGranted};
use crate::ticket::{ChildLink, Customer};
pub use crate::types::Suggestion;
use crate::types::{
    ContentType, Deadline, Deadlines, Kind, LinkMode, NoticeKind, Outcome, Priority, Scope,
};
use crate::DomainError;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The schema version every event is written with today. Stored events of older versions
/// are brought up to this one by [`upcast`] when read.
pub const SCHEMA_VERSION: u32 = 1;

/// The child side of a link: this ticket now belongs to `parent`. The envelope's actor is who
/// linked it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedToProblem {
    pub parent: TicketId,
    pub mode: LinkMode,
    pub at: DateTime<Utc>,
}

/// The parent side of a link: `child` reports the same problem. The parent keeps it as one
/// of its children.
pub type ChildLinked = ChildLink;

/// The parent problem was solved and reviewed: this child takes its solution and moves to
/// review so that its own customer is told and asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentResolved {
    pub parent: TicketId,
    pub outcome: Outcome,
    pub solution: String,
    pub at: DateTime<Utc>,
}

/// A submission became a ticket. Always the first event of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    pub ticket_id: TicketId,
    pub feedback_id: FeedbackId,
    pub channel: String,
    #[serde(default)]
    pub external_id: Option<String>,
    pub customer: Customer,
    /// Sealed under the customer's key when the customer is known (`crate::sealed_text`).
    #[serde(deserialize_with = "crate::sealed_text::text")]
    pub content: String,
    /// When it happened (the time of receipt when the customer did not say).
    pub occurred_at: DateTime<Utc>,
    /// When intake accepted it; the deadlines run from here.
    pub received_at: DateTime<Utc>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default, deserialize_with = "crate::sealed_text::optional_text")]
    pub order_id: Option<String>,
    #[serde(default, deserialize_with = "crate::sealed_text::attributes")]
    pub attributes: BTreeMap<String, String>,
    /// The first deadlines, from the rules' classification even where it was not confident
    /// enough to act on, so that no ticket is ever without a clock.
    pub deadlines: Deadlines,
    pub at: DateTime<Utc>,
    /// The submission gave no contact: the customer cannot be told anything (anonymous
    /// feedback). Absent (false) in events written before anonymous feedback was accepted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cannot_be_told: bool,
    /// The customer's language for every notice. Absent in events written before it was
    /// kept (and then not written, so their canonical form and hash stay the same): Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// The terms of the content (word segmentation, beyond the configured keywords), so that
    /// a ticket no rule could place still counts in the reports' top terms. Absent (and not
    /// written) when none were extracted, as in events written before terms were.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::sealed_text::terms"
    )]
    pub terms: Vec<String>,
    /// The customer was a VIP at receipt (the staff tag `vip` on their earlier tickets): the
    /// deadlines took the VIP row. Absent (false) otherwise, as in events written before it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vip: bool,
}

/// The ticket was classified, by the rules or by a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classified {
    pub kind: Kind,
    pub content_type: ContentType,
    pub priority: Priority,
    pub scope: Scope,
    pub keywords: Vec<String>,
    pub confidence: f64,
    pub complex: bool,
    /// Whether the rules did it on their own.
    pub automatic: bool,
    #[serde(default)]
    pub reason: String,
    /// The configuration version the classification was made with.
    pub policy_version: String,
    /// The deadlines recomputed for this classification, from the time of receipt.
    pub deadlines: Deadlines,
    pub at: DateTime<Utc>,
    /// The trained classifier's version, when its values were used: it decided alone
    /// (`by_model`), or a person confirmed its suggestion. Absent (and not written, so older
    /// events keep their bytes and hash) otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// Whether the trained classifier decided on its own (every field above its `auto`
    /// threshold). Absent (false) when the rules or a person did.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_model: bool,
    /// The terms of the ticket's text at the time (see `Received::terms`). Absent (and not
    /// written, so older events keep their bytes and hash) when none were extracted.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::sealed_text::terms"
    )]
    pub terms: Vec<String>,
}

/// The ticket went to a lead department (first dispatch or transfer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dispatched {
    /// The lead department before; `None` for the first dispatch.
    pub from: Option<String>,
    pub department: String,
    pub helpers: Vec<String>,
    /// A person's reason, or the name of the routing rule that matched.
    pub reason: String,
    pub automatic: bool,
    /// Whether a solution that was waiting for approval was withdrawn by this transfer.
    #[serde(default)]
    pub solution_withdrawn: bool,
    pub at: DateTime<Utc>,
}

/// The department's first response of the round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledged {
    pub message: String,
    pub at: DateTime<Utc>,
}

/// A note was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteAdded {
    pub text: String,
    pub to_customer: bool,
    pub at: DateTime<Utc>,
}

pub use crate::ticket::CustomerTagged;

/// The customer wrote again on their ticket: a reply through a channel (a submission naming
/// the ticket, checked by intake against the ticket's customer) or through the status page.
/// Never a new ticket; a paused SLA clock runs again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerReplied {
    /// Sealed under the customer's key when the customer is known (`crate::sealed_text`).
    #[serde(deserialize_with = "crate::sealed_text::text")]
    pub text: String,
    /// The channel it came through (`status_page` for the customers' own page).
    pub channel: String,
    /// The submission that carried it, for a reply through intake (intake confirms its outbox
    /// row by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback_id: Option<String>,
    pub at: DateTime<Utc>,
}

/// The department proposed a solution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolutionProposed {
    pub outcome: Outcome,
    pub text: String,
    #[serde(default)]
    pub reason: String,
    /// Whether the head must approve before the ticket moves to review; when false the
    /// ticket is resolved now and moves to review.
    pub approval_required: bool,
    pub policy_version: String,
    pub at: DateTime<Utc>,
}

/// The head approved the solution; the ticket is resolved and moves to review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolutionApproved {
    #[serde(default)]
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// The head rejected the solution; the department works on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolutionRejected {
    pub comment: String,
    pub at: DateTime<Utc>,
}

/// The customer's rating was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRecorded {
    pub satisfaction: u8,
    /// Sealed under the customer's key when the customer is known (`crate::sealed_text`).
    #[serde(default, deserialize_with = "crate::sealed_text::text")]
    pub comment: String,
    /// The configured threshold at the time, and whether the score reached it.
    pub satisfied_threshold: u8,
    pub satisfied: bool,
    pub policy_version: String,
    pub at: DateTime<Utc>,
}

/// The customer was not satisfied: a new round of handling at the same department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reopened {
    /// The new round number.
    pub round: u32,
    /// Fresh deadlines for the new round, from the instant of reopening.
    pub deadlines: Deadlines,
    pub at: DateTime<Utc>,
}

/// The ticket was closed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archived {
    pub at: DateTime<Utc>,
}

/// Someone escalated the ticket by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalated {
    pub level: u8,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The SLA clock stopped, waiting for the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaPaused {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The SLA clock runs again; the deadlines moved by the time spent paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaResumed {
    pub paused_ms: i64,
    pub deadlines: Deadlines,
    pub at: DateTime<Utc>,
}

/// The ticket's customer became a VIP, or stopped being one (the staff tag `vip` put on or
/// taken off while the ticket runs): the deadlines still open were computed again from the
/// start of the round's clock with (or without) the VIP row, and moved by the time spent
/// paused in the round. A deadline already met keeps its instant. Decided by the aggregate
/// (`RecomputeSla`); folding it gives the same deadlines on every replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaRecomputed {
    /// Whether the customer is a VIP from now on.
    pub vip: bool,
    /// Why, in words ("the customer was tagged vip").
    pub reason: String,
    pub deadlines: Deadlines,
    pub at: DateTime<Utc>,
}

/// An SLA event of the timers: a warning, a breach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaMark {
    pub deadline: Deadline,
    /// When the deadline is (or was) due.
    pub due: DateTime<Utc>,
    pub policy_version: String,
    pub calendar_version: String,
    pub at: DateTime<Utc>,
}

/// A breached deadline was escalated by the timers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaEscalated {
    pub deadline: Deadline,
    pub level: u8,
    #[serde(default)]
    pub to: Option<String>,
    pub policy_version: String,
    pub calendar_version: String,
    pub at: DateTime<Utc>,
}

/// The retention period is over: the ticket's content and personal data are redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionExpired {
    pub at: DateTime<Utc>,
}

/// The customer's personal data was erased on request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerErased {
    pub at: DateTime<Utc>,
}

/// Why a ticket's assignee changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentReason {
    /// An agent took the ticket.
    Claimed,
    /// The head (or customer service, an admin) gave it to someone.
    Assigned,
    /// The department's policy chose the person.
    Auto,
    /// The person went away and the ticket went back to the department.
    HandedBack,
    /// The ticket moved to another department.
    Transferred,
}

impl AssignmentReason {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentReason::Claimed => "claimed",
            AssignmentReason::Assigned => "assigned",
            AssignmentReason::Auto => "auto",
            AssignmentReason::HandedBack => "handed_back",
            AssignmentReason::Transferred => "transferred",
        }
    }
}

/// The ticket was given to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assigned {
    pub assignee: String,
    /// The principal who did it; the service's own name for the policy.
    pub by: String,
    pub reason: AssignmentReason,
    /// Who had it before, if anybody.
    #[serde(default)]
    pub previous: Option<String>,
    pub at: DateTime<Utc>,
}

/// The ticket has nobody any more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unassigned {
    pub previous: String,
    pub reason: AssignmentReason,
    pub at: DateTime<Utc>,
}

/// A notice reached the customer (the sender accepted it). Changes nothing but the version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerNotified {
    pub notice: NoticeKind,
    /// The customer's channel it went to (`sms`, `wechat`, `email`).
    pub channel: String,
    /// The configured sender that delivered it (`webhook`, `smtp`).
    pub sender: String,
    /// The address it went to, masked (`138****5678`, `z***@example.com`).
    pub to_masked: String,
    /// The log event the notice is about.
    pub source_event_id: String,
    /// The delivery attempt that succeeded, from 1.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    /// Who was alerted, for a staff alert: a principal name or `department:<id>` (a
    /// department's group robot). Absent for customer notices, whose stored form it keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
}

/// A notice could not be delivered on this attempt. Changes nothing but the version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationFailed {
    pub notice: NoticeKind,
    pub source_event_id: String,
    pub attempt: u32,
    pub reason: String,
    /// Whether the notifier gave up: no further attempt follows.
    #[serde(rename = "final")]
    pub final_attempt: bool,
    pub at: DateTime<Utc>,
    /// Who was to be alerted, for a staff alert (as in [`CustomerNotified`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
}

/// Everything that can happen to a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all = "snake_case")]
pub enum Event {
    Received(Box<Received>),
    Classified(Classified),
    Dispatched(Dispatched),
    Acknowledged(Acknowledged),
    NoteAdded(NoteAdded),
    SolutionProposed(SolutionProposed),
    SolutionApproved(SolutionApproved),
    SolutionRejected(SolutionRejected),
    ReviewRecorded(ReviewRecorded),
    Reopened(Reopened),
    Archived(Archived),
    Escalated(Escalated),
    SlaPaused(SlaPaused),
    SlaResumed(SlaResumed),
    #[serde(rename = "sla_warning")]
    SlaWarning(SlaMark),
    SlaBreached(SlaMark),
    SlaEscalated(SlaEscalated),
    RetentionExpired(RetentionExpired),
    CustomerErased(CustomerErased),
    LinkedToProblem(LinkedToProblem),
    ChildLinked(ChildLinked),
    ParentResolved(ParentResolved),
    RewardGranted(RewardGranted),
    Assigned(Assigned),
    Unassigned(Unassigned),
    CustomerNotified(CustomerNotified),
    NotificationFailed(NotificationFailed),
    CustomerReplied(CustomerReplied),
    /// The trained classifier suggested a classification the ticket waits on a person for.
    ClassificationSuggested(Suggestion),
    /// The owning department evaluated a suggestion (feasibility, cost, benefit).
    SuggestionEvaluated(Evaluation),
    /// A planned suggestion was delivered.
    SuggestionDelivered(Delivery),
    /// The suggestion is one of its month's best (the monthly award).
    AwardGranted(AwardGranted),
    CustomerTagged(CustomerTagged),
    SlaRecomputed(SlaRecomputed),
}

/// Every event type name, in declaration order.
pub const EVENT_TYPES: &[&str] = &[
    "received",
    "classified",
    "dispatched",
    "acknowledged",
    "note_added",
    "solution_proposed",
    "solution_approved",
    "solution_rejected",
    "review_recorded",
    "reopened",
    "archived",
    "escalated",
    "sla_paused",
    "sla_resumed",
    "sla_warning",
    "sla_breached",
    "sla_escalated",
    "retention_expired",
    "customer_erased",
    "linked_to_problem",
    "child_linked",
    "parent_resolved",
    "reward_granted",
    "assigned",
    "unassigned",
    "customer_notified",
    "notification_failed",
    "customer_replied",
    "classification_suggested",
    "suggestion_evaluated",
    "suggestion_delivered",
    "award_granted",
    "customer_tagged",
    "sla_recomputed",
];

fn to_json<T: Serialize>(payload: &T) -> serde_json::Value {
    // Payloads are structs of strings, numbers, booleans, instants and string-keyed maps:
    // serde_json cannot fail on them.
    serde_json::to_value(payload).expect("event payloads always serialise to json")
}

/// Where a payload is decoded from: a parsed JSON value, or the stored JSON text itself (one
/// pass over the text, without building a value first).
trait PayloadSource {
    fn read<T: DeserializeOwned>(self) -> Result<T, serde_json::Error>;
}

impl PayloadSource for serde_json::Value {
    fn read<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self)
    }
}

impl PayloadSource for &str {
    fn read<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self)
    }
}

fn read_payload<T: DeserializeOwned>(
    event_type: &str,
    payload: impl PayloadSource,
) -> Result<T, DomainError> {
    payload.read().map_err(|error| {
        DomainError::invalid(
            "payload",
            format!("not a valid {event_type} event: {error}"),
        )
    })
}

/// Refuses a schema version this build cannot read.
fn check_schema_version(event_type: &str, schema_version: u32) -> Result<(), DomainError> {
    if schema_version == 0 || schema_version > SCHEMA_VERSION {
        return Err(DomainError::invalid(
            "schema_version",
            format!(
                "{event_type} event has schema version {schema_version}, this build reads 1 to {SCHEMA_VERSION}"
            ),
        ));
    }
    Ok(())
}

/// Brings a stored payload of `schema_version` up to [`SCHEMA_VERSION`]. The hook for
/// future schema changes: add one step per version, e.g. `2 => rename a field`, and keep
/// the old steps forever. Version 1 is the first and current version.
pub fn upcast(
    event_type: &str,
    schema_version: u32,
    payload: &serde_json::Value,
) -> Result<serde_json::Value, DomainError> {
    check_schema_version(event_type, schema_version)?;
    // Only version 1 exists so far: nothing to convert.
    Ok(payload.clone())
}

impl Event {
    /// The stable snake_case type name, part of the NATS subject `ticket.events.<type>`.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::Received(_) => "received",
            Event::Classified(_) => "classified",
            Event::Dispatched(_) => "dispatched",
            Event::Acknowledged(_) => "acknowledged",
            Event::NoteAdded(_) => "note_added",
            Event::SolutionProposed(_) => "solution_proposed",
            Event::SolutionApproved(_) => "solution_approved",
            Event::SolutionRejected(_) => "solution_rejected",
            Event::ReviewRecorded(_) => "review_recorded",
            Event::Reopened(_) => "reopened",
            Event::Archived(_) => "archived",
            Event::Escalated(_) => "escalated",
            Event::SlaPaused(_) => "sla_paused",
            Event::SlaResumed(_) => "sla_resumed",
            Event::SlaWarning(_) => "sla_warning",
            Event::SlaBreached(_) => "sla_breached",
            Event::SlaEscalated(_) => "sla_escalated",
            Event::RetentionExpired(_) => "retention_expired",
            Event::CustomerErased(_) => "customer_erased",
            Event::LinkedToProblem(_) => "linked_to_problem",
            Event::ChildLinked(_) => "child_linked",
            Event::ParentResolved(_) => "parent_resolved",
            Event::RewardGranted(_) => "reward_granted",
            Event::Assigned(_) => "assigned",
            Event::Unassigned(_) => "unassigned",
            Event::CustomerNotified(_) => "customer_notified",
            Event::NotificationFailed(_) => "notification_failed",
            Event::CustomerReplied(_) => "customer_replied",
            Event::ClassificationSuggested(_) => "classification_suggested",
            Event::SuggestionEvaluated(_) => "suggestion_evaluated",
            Event::SuggestionDelivered(_) => "suggestion_delivered",
            Event::AwardGranted(_) => "award_granted",
            Event::CustomerTagged(_) => "customer_tagged",
            Event::SlaRecomputed(_) => "sla_recomputed",
        }
    }

    /// When the event happened (the `now` its command was decided at).
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Event::Received(event) => event.at,
            Event::Classified(event) => event.at,
            Event::Dispatched(event) => event.at,
            Event::Acknowledged(event) => event.at,
            Event::NoteAdded(event) => event.at,
            Event::SolutionProposed(event) => event.at,
            Event::SolutionApproved(event) => event.at,
            Event::SolutionRejected(event) => event.at,
            Event::ReviewRecorded(event) => event.at,
            Event::Reopened(event) => event.at,
            Event::Archived(event) => event.at,
            Event::Escalated(event) => event.at,
            Event::SlaPaused(event) => event.at,
            Event::SlaResumed(event) => event.at,
            Event::SlaWarning(event) | Event::SlaBreached(event) => event.at,
            Event::SlaEscalated(event) => event.at,
            Event::RetentionExpired(event) => event.at,
            Event::CustomerErased(event) => event.at,
            Event::LinkedToProblem(event) => event.at,
            Event::ChildLinked(event) => event.at,
            Event::ParentResolved(event) => event.at,
            Event::RewardGranted(event) => event.at,
            Event::Assigned(event) => event.at,
            Event::Unassigned(event) => event.at,
            Event::CustomerNotified(event) => event.at,
            Event::NotificationFailed(event) => event.at,
            Event::CustomerReplied(event) => event.at,
            Event::ClassificationSuggested(event) => event.at,
            Event::SuggestionEvaluated(event) => event.at,
            Event::SuggestionDelivered(event) => event.at,
            Event::AwardGranted(event) => event.at,
            Event::CustomerTagged(event) => event.at,
            Event::SlaRecomputed(event) => event.at,
        }
    }

    /// The schema version this event is written with.
    pub fn schema_version(&self) -> u32 {
        SCHEMA_VERSION
    }

    /// The payload as the log stores it (the variant's fields, without the type name).
    pub fn to_payload(&self) -> serde_json::Value {
        match self {
            Event::Received(event) => to_json(event),
            Event::Classified(event) => to_json(event),
            Event::Dispatched(event) => to_json(event),
            Event::Acknowledged(event) => to_json(event),
            Event::NoteAdded(event) => to_json(event),
            Event::SolutionProposed(event) => to_json(event),
            Event::SolutionApproved(event) => to_json(event),
            Event::SolutionRejected(event) => to_json(event),
            Event::ReviewRecorded(event) => to_json(event),
            Event::Reopened(event) => to_json(event),
            Event::Archived(event) => to_json(event),
            Event::Escalated(event) => to_json(event),
            Event::SlaPaused(event) => to_json(event),
            Event::SlaResumed(event) => to_json(event),
            Event::SlaWarning(event) | Event::SlaBreached(event) => to_json(event),
            Event::SlaEscalated(event) => to_json(event),
            Event::RetentionExpired(event) => to_json(event),
            Event::CustomerErased(event) => to_json(event),
            Event::LinkedToProblem(event) => to_json(event),
            Event::ChildLinked(event) => to_json(event),
            Event::ParentResolved(event) => to_json(event),
            Event::RewardGranted(event) => to_json(event),
            Event::Assigned(event) => to_json(event),
            Event::Unassigned(event) => to_json(event),
            Event::CustomerNotified(event) => to_json(event),
            Event::NotificationFailed(event) => to_json(event),
            Event::CustomerReplied(event) => to_json(event),
            Event::ClassificationSuggested(event) => to_json(event),
            Event::SuggestionEvaluated(event) => to_json(event),
            Event::SuggestionDelivered(event) => to_json(event),
            Event::AwardGranted(event) => to_json(event),
            Event::CustomerTagged(event) => to_json(event),
            Event::SlaRecomputed(event) => to_json(event),
        }
    }

    /// Reads a stored event back: upcasts the payload to the current schema, then decodes it
    /// as the named type. Unknown types and malformed payloads are `Invalid`.
    pub fn from_parts(
        event_type: &str,
        schema_version: u32,
        payload: &serde_json::Value,
    ) -> Result<Event, DomainError> {
        let payload = upcast(event_type, schema_version, payload)?;
        Event::of_current(event_type, payload)
    }

    /// [`Event::from_parts`] with the payload given as its stored JSON text: a payload of the
    /// current schema version is decoded straight from the text, in one pass; an older one is
    /// parsed and upcast first.
    pub fn from_text(
        event_type: &str,
        schema_version: u32,
        payload_json: &str,
    ) -> Result<Event, DomainError> {
        check_schema_version(event_type, schema_version)?;
        if schema_version == SCHEMA_VERSION {
            return Event::of_current(event_type, payload_json);
        }
        let payload: serde_json::Value = serde_json::from_str(payload_json).map_err(|error| {
            DomainError::invalid(
                "payload",
                format!("{event_type} event is not json: {error}"),
            )
        })?;
        Event::from_parts(event_type, schema_version, &payload)
    }

    /// [`Event::from_parts`] taking the parsed payload by value, so that a payload of the
    /// current schema version is not copied.
    pub fn from_value(
        event_type: &str,
        schema_version: u32,
        payload: serde_json::Value,
    ) -> Result<Event, DomainError> {
        check_schema_version(event_type, schema_version)?;
        if schema_version == SCHEMA_VERSION {
            return Event::of_current(event_type, payload);
        }
        Event::from_parts(event_type, schema_version, &payload)
    }

    /// The event of type `event_type` whose payload, of the current schema version, is in
    /// `payload`.
    fn of_current(event_type: &str, payload: impl PayloadSource) -> Result<Event, DomainError> {
        let event = match event_type {
            "received" => Event::Received(Box::new(read_payload(event_type, payload)?)),
            "classified" => Event::Classified(read_payload(event_type, payload)?),
            "dispatched" => Event::Dispatched(read_payload(event_type, payload)?),
            "acknowledged" => Event::Acknowledged(read_payload(event_type, payload)?),
            "note_added" => Event::NoteAdded(read_payload(event_type, payload)?),
            "solution_proposed" => Event::SolutionProposed(read_payload(event_type, payload)?),
            "solution_approved" => Event::SolutionApproved(read_payload(event_type, payload)?),
            "solution_rejected" => Event::SolutionRejected(read_payload(event_type, payload)?),
            "review_recorded" => Event::ReviewRecorded(read_payload(event_type, payload)?),
            "reopened" => Event::Reopened(read_payload(event_type, payload)?),
            "archived" => Event::Archived(read_payload(event_type, payload)?),
            "escalated" => Event::Escalated(read_payload(event_type, payload)?),
            "sla_paused" => Event::SlaPaused(read_payload(event_type, payload)?),
            "sla_resumed" => Event::SlaResumed(read_payload(event_type, payload)?),
            "sla_warning" => Event::SlaWarning(read_payload(event_type, payload)?),
            "sla_breached" => Event::SlaBreached(read_payload(event_type, payload)?),
            "sla_escalated" => Event::SlaEscalated(read_payload(event_type, payload)?),
            "retention_expired" => Event::RetentionExpired(read_payload(event_type, payload)?),
            "customer_erased" => Event::CustomerErased(read_payload(event_type, payload)?),
            "linked_to_problem" => Event::LinkedToProblem(read_payload(event_type, payload)?),
            "child_linked" => Event::ChildLinked(read_payload(event_type, payload)?),
            "parent_resolved" => Event::ParentResolved(read_payload(event_type, payload)?),
            "reward_granted" => Event::RewardGranted(read_payload(event_type, payload)?),
            "assigned" => Event::Assigned(read_payload(event_type, payload)?),
            "unassigned" => Event::Unassigned(read_payload(event_type, payload)?),
            "customer_notified" => Event::CustomerNotified(read_payload(event_type, payload)?),
            "notification_failed" => Event::NotificationFailed(read_payload(event_type, payload)?),
            "customer_replied" => Event::CustomerReplied(read_payload(event_type, payload)?),
            "customer_tagged" => Event::CustomerTagged(read_payload(event_type, payload)?),
            "sla_recomputed" => Event::SlaRecomputed(read_payload(event_type, payload)?),
            "classification_suggested" => {
                Event::ClassificationSuggested(read_payload(event_type, payload)?)
            }
            "suggestion_evaluated" => {
                Event::SuggestionEvaluated(read_payload(event_type, payload)?)
            }
            "suggestion_delivered" => {
                Event::SuggestionDelivered(read_payload(event_type, payload)?)
            }
            "award_granted" => Event::AwardGranted(read_payload(event_type, payload)?),
            other => {
                return Err(DomainError::invalid(
                    "event_type",
                    format!("unknown event type {other:?}"),
                ))
            }
        };
        Ok(event)
    }
}
