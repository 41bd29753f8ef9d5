//! The commands a ticket accepts: what people ask through the API and what the services
//! (consumer, SLA timers, retention) ask on their own, with the validation of their fields.

use crate::config::Language;
use crate::ids::{FeedbackId, TicketId};
use crate::ticket::Customer;
use crate::types::NoticeKind;
use crate::types::{ContentType, Deadline, Kind, LinkMode, Outcome, Priority, Scope};
use crate::DomainError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The longest note, message, solution, reason or comment, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// The longest short field (names, ids, product, channel, department), in characters.
pub const MAX_SHORT_CHARS: usize = 256;
/// The most keywords a classification may carry.
pub const MAX_KEYWORDS: usize = 32;
/// The most helper departments of one ticket.
pub const MAX_HELPERS: usize = 16;

/// One piece of feedback, as intake accepted it (validated and normalised there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub feedback_id: FeedbackId,
    pub ticket_id: TicketId,
    pub channel: String,
    /// The adapter's own id; `(channel, external_id)` is intake's idempotency key.
    #[serde(default)]
    pub external_id: Option<String>,
    pub customer: Customer,
    pub content: String,
    /// When it happened; `None` means at receipt.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    /// When intake accepted it. Deadlines run from here.
    pub received_at: DateTime<Utc>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The customer's language as intake took it (the request's, or the configured
    /// default); `None` when the message names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
}

/// Checks a required free text: not blank, at most `max` characters, no control characters
/// other than line breaks and tabs.
pub fn check_text(field: &str, text: &str, max: usize) -> Result<(), DomainError> {
    if text.trim().is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    check_optional_text(field, text, max)
}

/// Checks a free text that may be empty: at most `max` characters, no control characters
/// other than line breaks and tabs.
pub fn check_optional_text(field: &str, text: &str, max: usize) -> Result<(), DomainError> {
    let count = text.chars().count();
    if count > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters, got {count}"),
        ));
    }
    if text
        .chars()
        .any(|symbol| symbol.is_control() && !matches!(symbol, '\n' | '\r' | '\t'))
    {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Checks a name-like token (channel, department): lowercase ASCII letters, digits, `_`
/// and `-`, starting with a letter, at most [`MAX_SHORT_CHARS`].
pub fn check_token(field: &str, text: &str) -> Result<(), DomainError> {
    let mut symbols = text.chars();
    let starts_with_letter = symbols
        .next()
        .is_some_and(|first| first.is_ascii_lowercase());
    let rest_ok = text.chars().all(|symbol| {
        symbol.is_ascii_lowercase() || symbol.is_ascii_digit() || "_-".contains(symbol)
    });
    if !starts_with_letter || !rest_ok || text.len() > MAX_SHORT_CHARS {
        return Err(DomainError::invalid(
            field,
            format!(
                "{text:?} is not a name: use lowercase letters, digits, '_' and '-', starting with a letter"
            ),
        ));
    }
    Ok(())
}

impl Submission {
    /// Checks what the aggregate relies on: a channel and some content (a customer without any
    /// contact is anonymous feedback, accepted and marked cannot be told). Intake's `submission::Submission::parse` is the full validation, with the
    /// configured limits; this check is deliberately no stricter, so that a submission intake
    /// accepted (and confirmed to the customer) is never refused when it becomes a ticket.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.channel.trim().is_empty() {
            return Err(DomainError::invalid("channel", "must not be empty"));
        }
        if self.content.trim().is_empty() {
            return Err(DomainError::invalid("content", "must not be empty"));
        }
        Ok(())
    }
}

/// A person's classification of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassifyCommand {
    pub kind: Kind,
    pub content_type: ContentType,
    pub priority: Priority,
    pub scope: Scope,
    #[serde(default)]
    pub keywords: Vec<String>,
    /// A complex case: takes the complaint/complex SLA row regardless of kind.
    #[serde(default)]
    pub complex: bool,
    #[serde(default)]
    pub reason: String,
    /// When the ticket waits in classify: dispatch it to this department at once, instead of
    /// by the routing rules (confirming the trained classifier's suggestion names its
    /// department here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// How one delivery attempt of a customer notice ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum NotificationResult {
    /// The sender accepted the notice.
    Delivered {
        channel: String,
        sender: String,
        to_masked: String,
    },
    /// The attempt failed; `final_attempt` when no further attempt follows.
    Failed { reason: String, final_attempt: bool },
}

/// The notifier's record of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub notice: NoticeKind,
    /// The log event the notice is about (a UUID).
    pub source_event_id: String,
    /// The attempt, from 1.
    pub attempt: u32,
    pub result: NotificationResult,
    /// For a staff alert: the principal name, or `department:<id>` for a group robot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient: Option<String>,
}

/// Everything a ticket can be asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Record a submission as a new ticket; classifies and dispatches automatically where
    /// the rules are confident.
    Receive(Box<Submission>),
    /// Classify by hand (or correct a classification); recomputes the deadlines.
    Classify(ClassifyCommand),
    /// The first dispatch, or a transfer to another lead department.
    Dispatch {
        department: String,
        #[serde(default)]
        helpers: Vec<String>,
        #[serde(default)]
        reason: String,
    },
    /// The department's first response.
    Acknowledge { message: String },
    /// An internal note, or a message to the customer.
    AddNote { text: String, to_customer: bool },
    /// The department's solution.
    ProposeSolution {
        outcome: Outcome,
        text: String,
        #[serde(default)]
        reason: String,
    },
    /// The department head approves or rejects the proposed solution.
    ApproveSolution {
        approve: bool,
        #[serde(default)]
        comment: String,
    },
    /// The customer's satisfaction, 1 to 5.
    RecordReview {
        satisfaction: u8,
        #[serde(default)]
        comment: String,
    },
    /// Close the ticket for good.
    Archive,
    /// Escalate by hand.
    Escalate { reason: String },
    /// Stop the SLA clock while waiting for the customer.
    PauseSla { reason: String },
    /// Restart the SLA clock; the deadlines move by the time spent paused.
    ResumeSla,
    /// System: a warning instant of the SLA timers has come.
    RaiseSlaWarning { deadline: Deadline },
    /// System: a deadline has passed.
    RecordSlaBreach { deadline: Deadline },
    /// System: escalate a breached deadline to `level`, optionally to someone in particular.
    EscalateSla {
        deadline: Deadline,
        level: u8,
        #[serde(default)]
        to: Option<String>,
    },
    /// System: the retention period of an archived ticket is over.
    ExpireRetention,
    /// System: erase the customer's personal data on request.
    EraseCustomer,
    /// Link this ticket to a parent problem, or merge it into the parent as a duplicate. The
    /// parent's side is decided with both states by `problems::decide_link`.
    LinkToProblem {
        parent_ticket_id: TicketId,
        mode: LinkMode,
    },
    /// System: the parent problem was solved and reviewed; this child takes its solution.
    ResolveFromParent {
        parent: TicketId,
        outcome: Outcome,
        solution: String,
    },
    /// An agent takes a ticket of their department (`person` is the caller).
    Claim { person: String },
    /// The head gives the ticket to a member of the department.
    Assign { assignee: String, by: String },
    /// System: the department's policy chose `assignee` for a ticket that has nobody.
    AutoAssign {
        department: String,
        assignee: String,
        by: String,
    },
    /// System: `person` went away; the ticket goes to `assignee` (chosen by the policy) or
    /// back to the department when nobody was chosen.
    HandBack {
        person: String,
        #[serde(default)]
        assignee: Option<String>,
        by: String,
    },
    /// Record a delivery attempt of a customer notice (the notifier); allowed in every step.
    RecordNotification(Box<NotificationRecord>),
    /// The customer's own words on their ticket (a reply through a channel or the status
    /// page): allowed in every step once the ticket exists, archived included (it is kept in
    /// the history); resumes a paused SLA clock.
    RecordReply {
        text: String,
        channel: String,
        #[serde(default)]
        feedback_id: Option<String>,
    },
    /// The owning department evaluates a suggestion in handle: feasibility, cost and
    /// benefit, each 1 to 5. An adopted or planned outcome needs one.
    EvaluateSuggestion {
        feasibility: u8,
        cost: u8,
        benefit: u8,
        #[serde(default)]
        note: String,
    },
    /// A planned suggestion was delivered on `delivered_on` (review or archive).
    MarkDelivered {
        delivered_on: chrono::NaiveDate,
        #[serde(default)]
        note: String,
    },
    /// System: the monthly award for one of the month's best suggestions, as the leader's
    /// duty decided it (`award::choose_winners`).
    GrantAward {
        month: String,
        rank: u32,
        score: u8,
        reward: String,
    },
    /// Tag (or untag) the customer of the ticket (`Customers.TagCustomer`); allowed in every
    /// step, archived included.
    TagCustomer { tag: String, remove: bool },
    /// System: the ticket's customer became a VIP (`vip`) or stopped being one: the deadlines
    /// still open are computed again with (or without) the VIP row (`sla_recomputed`).
    /// Nothing when the ticket already knows it; nothing on an archived ticket.
    RecomputeSla { vip: bool, reason: String },
}

impl Command {
    /// The stable snake_case name, used in errors and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Receive(_) => "receive",
            Command::Classify(_) => "classify",
            Command::Dispatch { .. } => "dispatch",
            Command::Acknowledge { .. } => "acknowledge",
            Command::AddNote { .. } => "add_note",
            Command::ProposeSolution { .. } => "propose_solution",
            Command::ApproveSolution { .. } => "approve_solution",
            Command::RecordReview { .. } => "record_review",
            Command::Archive => "archive",
            Command::Escalate { .. } => "escalate",
            Command::PauseSla { .. } => "pause_sla",
            Command::ResumeSla => "resume_sla",
            Command::RaiseSlaWarning { .. } => "raise_sla_warning",
            Command::RecordSlaBreach { .. } => "record_sla_breach",
            Command::EscalateSla { .. } => "escalate_sla",
            Command::ExpireRetention => "expire_retention",
            Command::EraseCustomer => "erase_customer",
            Command::LinkToProblem { .. } => "link_to_problem",
            Command::ResolveFromParent { .. } => "resolve_from_parent",
            Command::Claim { .. } => "claim",
            Command::Assign { .. } => "assign",
            Command::AutoAssign { .. } => "auto_assign",
            Command::HandBack { .. } => "hand_back",
            Command::RecordNotification(_) => "record_notification",
            Command::RecordReply { .. } => "record_reply",
            Command::EvaluateSuggestion { .. } => "evaluate_suggestion",
            Command::MarkDelivered { .. } => "mark_delivered",
            Command::GrantAward { .. } => "grant_award",
            Command::TagCustomer { .. } => "tag_customer",
            Command::RecomputeSla { .. } => "recompute_sla",
        }
    }

    /// Whether only the services themselves issue this command.
    pub fn is_system(&self) -> bool {
        matches!(
            self,
            Command::Receive(_)
                | Command::RaiseSlaWarning { .. }
                | Command::RecordSlaBreach { .. }
                | Command::EscalateSla { .. }
                | Command::ExpireRetention
                | Command::EraseCustomer
                | Command::ResolveFromParent { .. }
                | Command::AutoAssign { .. }
                | Command::HandBack { .. }
                | Command::GrantAward { .. }
                | Command::RecomputeSla { .. }
        )
    }
}
