//! The state of one ticket, as folding its events builds it. Plain data: every decision is
//! in `aggregate::decide`, every change in `aggregate::apply`.

use crate::config::Language;
use crate::ids::{FeedbackId, TicketId};
use crate::types::{
    ContentType, Deadline, Kind, LinkMode, Outcome, Priority, RewardKind, Scope, SlaState, Step,
    Suggestion,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A reward for an adopted suggestion, for the loyalty system to pick up from
/// `TICKET_EVENTS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardGranted {
    pub kind: RewardKind,
    pub amount: u32,
    pub valid_until: DateTime<Utc>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The owning department's evaluation of a suggestion (event `suggestion_evaluated`): each
/// figure from 1 to 5, and the score they give ([`Evaluation::score_of`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// How feasible the suggestion is: 5 is easy to do.
    pub feasibility: u8,
    /// What it costs: 5 is expensive.
    pub cost: u8,
    /// What it brings: 5 is a large benefit.
    pub benefit: u8,
    /// `feasibility + benefit + (6 - cost)`, from 3 to 15: higher is better.
    pub score: u8,
    #[serde(default)]
    pub note: String,
    pub at: DateTime<Utc>,
}

/// The score bands of the report's adoption rates: `high` from 12, `medium` from 8, `low`
/// below.
pub const SCORE_BANDS: &[&str] = &["high", "medium", "low"];

impl Evaluation {
    /// The score of three figures, each 1 to 5: feasibility and benefit count up, cost counts
    /// down, so that the best suggestion (5, 1, 5) scores 15 and the worst (1, 5, 1) scores 3.
    pub fn score_of(feasibility: u8, cost: u8, benefit: u8) -> u8 {
        feasibility
            .saturating_add(benefit)
            .saturating_add(6u8.saturating_sub(cost))
    }

    /// The band of the score, one of [`SCORE_BANDS`].
    pub fn band(&self) -> &'static str {
        match self.score {
            12.. => "high",
            8..=11 => "medium",
            _ => "low",
        }
    }
}

/// A planned suggestion was delivered (event `suggestion_delivered`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The day it was delivered, as the department says it (in the business calendar).
    pub delivered_on: chrono::NaiveDate,
    #[serde(default)]
    pub note: String,
    pub at: DateTime<Utc>,
}

/// The month's best-suggestion award (event `award_granted`), decided once by the leader
/// over the suggestions adopted or planned in `month` (see `award`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwardGranted {
    /// The month the suggestion was adopted in, `YYYY-MM` in the business calendar.
    pub month: String,
    /// 1 for the best suggestion of the month.
    pub rank: u32,
    /// The evaluation score it was chosen by.
    pub score: u8,
    /// The configured reward (`suggestions.award_reward`).
    pub reward: String,
    pub at: DateTime<Utc>,
}

/// One child of a problem, as the parent's state keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildLink {
    pub child: TicketId,
    pub mode: LinkMode,
    pub at: DateTime<Utc>,
}

/// Staff tagged (or untagged) the customer of this ticket (`Customers.TagCustomer`). Recorded
/// on one ticket of the customer, their newest the caller may read: a customer has no stream
/// of their own, since nothing identifying a customer may enter the log outside the sealed
/// customer, and so a customer's tags are the latest mark of each tag over their tickets
/// (`domain::customer::staff_tags`). The tag `vip` is the VIP flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerTagged {
    pub tag: String,
    /// The tag was taken off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    pub at: DateTime<Utc>,
}

/// How to reach the customer. Every field may be absent: anonymous feedback (a comment book,
/// a public form) gives none, and its ticket is marked [`Ticket::cannot_be_told`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechat_openid: Option<String>,
}

impl Customer {
    /// Whether the customer can be told anything: a phone, an e-mail address or a WeChat id
    /// (the contacts notices go to) is given.
    pub fn can_be_told(&self) -> bool {
        [&self.phone, &self.email, &self.wechat_openid]
            .iter()
            .any(|field| field.as_deref().is_some_and(|text| !text.trim().is_empty()))
    }

    /// Whether any way to reach the customer is given.
    pub fn is_reachable(&self) -> bool {
        [
            &self.customer_id,
            &self.phone,
            &self.email,
            &self.wechat_openid,
        ]
        .iter()
        .any(|field| field.as_deref().is_some_and(|text| !text.trim().is_empty()))
    }
}

/// One dispatch of the ticket: the first one, or a transfer. The history is never rewritten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// The lead department before, `None` for the first dispatch.
    pub from: Option<String>,
    pub to: String,
    pub helpers: Vec<String>,
    pub reason: String,
    /// Whether the routing rules did it on their own.
    pub automatic: bool,
    pub at: DateTime<Utc>,
}

/// A solution a department proposed in the current round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    pub outcome: Outcome,
    pub text: String,
    /// Why; required when the outcome is `declined`.
    pub reason: String,
    pub proposed_at: DateTime<Utc>,
}

/// Where a proposed solution stands with the department head.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// No solution needs approval (none proposed, or the policy does not ask for one).
    #[default]
    NotRequired,
    /// The head has not decided yet; the ticket stays in handle.
    Pending,
    /// The head approved; the ticket moved to review.
    Approved,
}

/// A note on the ticket: internal, or a message to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub text: String,
    pub to_customer: bool,
    pub round: u32,
    pub at: DateTime<Utc>,
}

/// What one finished round of handling looked like; kept when a ticket is reopened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    pub round: u32,
    pub department: Option<String>,
    pub respond_by: Option<DateTime<Utc>>,
    pub resolve_by: Option<DateTime<Utc>>,
    pub responded_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub respond_sla: SlaState,
    pub resolve_sla: SlaState,
    pub outcome: Option<Outcome>,
    pub satisfaction: Option<u8>,
    pub review_comment: Option<String>,
}

/// One ticket. `Ticket::default()` is the state of a stream with no events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// `None` until the ticket is received.
    pub ticket_id: Option<TicketId>,
    /// The number of events folded in; 0 for a ticket that does not exist.
    pub version: u64,
    pub step: Step,
    pub feedback_id: Option<FeedbackId>,

    // What the customer told us.
    pub channel: String,
    pub external_id: Option<String>,
    pub customer: Customer,
    pub content: String,
    pub product: Option<String>,
    pub order_id: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub received_at: Option<DateTime<Utc>>,

    // Classification.
    pub kind: Option<Kind>,
    pub content_type: Option<ContentType>,
    pub priority: Option<Priority>,
    pub scope: Option<Scope>,
    pub keywords: Vec<String>,
    /// Words the text is about beyond the configured keywords (word segmentation), as the
    /// latest `received` or `classified` event that carried some recorded them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<String>,
    /// The rules' confidence, or 1.0 for a person's classification.
    pub confidence: Option<f64>,
    pub complex: bool,
    /// Whether the current classification was made by the rules rather than a person.
    pub classified_automatically: bool,
    /// The configuration version the classification was made with.
    pub classification_policy_version: Option<String>,

    // Dispatch.
    pub department: Option<String>,
    pub helpers: Vec<String>,
    pub transfers: Vec<Transfer>,

    // Deadlines and SLA of the current round.
    pub respond_by: Option<DateTime<Utc>>,
    pub resolve_by: Option<DateTime<Utc>>,
    pub warn_respond_at: Option<DateTime<Utc>>,
    pub warn_resolve_at: Option<DateTime<Utc>>,
    /// The SLA policy and calendar versions that produced the deadlines.
    pub deadlines_policy_version: Option<String>,
    pub deadlines_calendar_version: Option<String>,
    pub respond_sla: SlaState,
    pub resolve_sla: SlaState,
    /// The worse of the two.
    pub sla_state: SlaState,
    /// 0 until escalated; each escalation (manual or by the SLA timers) raises it.
    pub escalation_level: u8,
    /// Where the last escalation went, if anywhere in particular.
    pub escalated_to: Option<String>,
    /// Set while the clock is stopped waiting for the customer.
    pub paused_since: Option<DateTime<Utc>>,
    /// Milliseconds spent paused so far, over all pauses.
    pub paused_total_ms: i64,

    // Handling.
    /// 1, then 2 after a reopen, and so on.
    pub round: u32,
    pub acknowledgement: Option<String>,
    pub responded_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub solution: Option<Solution>,
    pub approval: Approval,
    /// The head's comment on the last approval or rejection.
    pub approval_comment: Option<String>,
    /// Why the head rejected the last solution: set by a rejection, cleared by the next
    /// proposal (and a reopening).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_comment: Option<String>,
    pub outcome: Option<Outcome>,
    pub notes: Vec<Note>,

    // Review.
    pub satisfaction: Option<u8>,
    pub review_comment: Option<String>,
    /// Earlier rounds, oldest first.
    pub previous_rounds: Vec<RoundRecord>,

    // Lifecycle.
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub archived_at: Option<DateTime<Utc>>,
    /// The retention period is over: personal data and content are redacted.
    pub retention_expired: bool,
    /// The customer's personal data was erased on request.
    pub customer_erased: bool,
    /// The submission gave no contact (no phone, e-mail or WeChat id): anonymous feedback,
    /// accepted, and no notice is ever attempted for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cannot_be_told: bool,
    /// The language the customer wrote in and is told in, from the submission; `None` for
    /// tickets received before the language was kept, which read as Chinese
    /// ([`Ticket::language`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,

    // Problems and rewards.
    /// The problem this ticket is linked to, and how.
    #[serde(default)]
    pub parent: Option<TicketId>,
    #[serde(default)]
    pub link_mode: Option<LinkMode>,
    /// The tickets linked to this one as the same problem.
    #[serde(default)]
    pub children: Vec<ChildLink>,
    /// The reward granted for this ticket's adopted suggestion.
    #[serde(default)]
    pub reward: Option<RewardGranted>,
    /// The evaluation of a suggestion (the latest one). Absent (and not written) otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// The delivery of a planned suggestion. Absent (and not written) until delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// The month's best-suggestion award. Absent (and not written) unless granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub award: Option<AwardGranted>,

    // Assignment.
    /// The person working on the ticket, if anybody.
    #[serde(default)]
    pub assignee: Option<String>,
    /// The people a transfer to another department took the ticket from, oldest first (the
    /// reports' "transfers away"). Absent from the stored state while empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transferred_away: Vec<TransferredAway>,

    // The customer's replies.
    /// When the customer last wrote again on the ticket (`customer_replied`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_replied_at: Option<DateTime<Utc>>,
    /// How many replies the customer left.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub customer_replies: u32,
    /// A reply of the customer that the staff have not answered yet (by a first response, a
    /// note to the customer or a solution): the queue's "new reply" marker.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_reply: bool,

    /// The trained classifier's suggestion while the ticket waits in classify for a person to
    /// confirm or correct it; cleared by the classification. Absent (and not written) for
    /// tickets that never had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<Suggestion>,
    /// The trained classifier whose values the current classification took (decided alone
    /// or confirmed by a person); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification_model_version: Option<String>,
    /// The staff's tags on the customer recorded on this ticket (`customer_tagged`), the last
    /// mark of each tag, in the order first tagged. Absent while empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_tags: Vec<CustomerTagged>,
    /// The customer is a VIP (the staff tag `vip`, `received` or the latest
    /// `sla_recomputed`): the deadlines take the VIP row where it is stricter. Absent (false)
    /// otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub vip: bool,
    /// When the clock of the current round started, for a round after a reopening (the
    /// first round's clock starts at `received_at`). Absent in round 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_started_at: Option<DateTime<Utc>>,
    /// The time the clock spent paused in the current round, in milliseconds.
    #[serde(default, skip_serializing_if = "is_zero_ms")]
    pub round_paused_ms: i64,
}

fn is_zero_ms(milliseconds: &i64) -> bool {
    *milliseconds == 0
}

fn is_zero(count: &u32) -> bool {
    *count == 0
}

/// A person the ticket was taken from when it moved to another department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferredAway {
    pub person: String,
    /// The department the person handled the ticket in.
    pub department: Option<String>,
    pub at: DateTime<Utc>,
}

impl Default for Ticket {
    fn default() -> Self {
        Self {
            ticket_id: None,
            version: 0,
            step: Step::Receive,
            feedback_id: None,
            channel: String::new(),
            external_id: None,
            customer: Customer::default(),
            content: String::new(),
            product: None,
            order_id: None,
            attributes: BTreeMap::new(),
            occurred_at: None,
            received_at: None,
            kind: None,
            content_type: None,
            priority: None,
            scope: None,
            keywords: Vec::new(),
            terms: Vec::new(),
            confidence: None,
            complex: false,
            classified_automatically: false,
            classification_policy_version: None,
            department: None,
            helpers: Vec::new(),
            transfers: Vec::new(),
            respond_by: None,
            resolve_by: None,
            warn_respond_at: None,
            warn_resolve_at: None,
            deadlines_policy_version: None,
            deadlines_calendar_version: None,
            respond_sla: SlaState::OnTime,
            resolve_sla: SlaState::OnTime,
            sla_state: SlaState::OnTime,
            escalation_level: 0,
            escalated_to: None,
            paused_since: None,
            paused_total_ms: 0,
            round: 1,
            acknowledgement: None,
            responded_at: None,
            resolved_at: None,
            solution: None,
            approval: Approval::NotRequired,
            approval_comment: None,
            rejection_comment: None,
            outcome: None,
            notes: Vec::new(),
            satisfaction: None,
            review_comment: None,
            previous_rounds: Vec::new(),
            created_at: None,
            updated_at: None,
            archived_at: None,
            retention_expired: false,
            customer_erased: false,
            cannot_be_told: false,
            language: None,
            parent: None,
            link_mode: None,
            children: Vec::new(),
            reward: None,
            evaluation: None,
            delivery: None,
            award: None,
            assignee: None,
            transferred_away: Vec::new(),
            customer_replied_at: None,
            customer_replies: 0,
            new_reply: false,
            suggestion: None,
            classification_model_version: None,
            customer_tags: Vec::new(),
            vip: false,
            round_started_at: None,
            round_paused_ms: 0,
        }
    }
}

impl Ticket {
    /// The customer's language: the submission's, Chinese for tickets received before the
    /// language was kept.
    pub fn language(&self) -> Language {
        self.language.unwrap_or(Language::Zh)
    }

    /// Whether the ticket has been received (its stream has events).
    pub fn exists(&self) -> bool {
        self.version > 0
    }

    /// The ticket id as text, or an empty string before the ticket is received.
    pub fn id_text(&self) -> String {
        self.ticket_id
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// Whether the ticket has been archived.
    pub fn is_archived(&self) -> bool {
        self.step == Step::Archive
    }

    /// Whether the ticket was merged into a problem as a duplicate: it is handled there.
    pub fn is_merged(&self) -> bool {
        self.link_mode == Some(LinkMode::MergeDuplicate)
    }

    /// Whether the SLA clock is stopped waiting for the customer.
    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// The SLA state of one deadline.
    pub fn sla_of(&self, deadline: Deadline) -> SlaState {
        match deadline {
            Deadline::Respond => self.respond_sla,
            Deadline::Resolve => self.resolve_sla,
        }
    }

    /// The instant one deadline is due.
    pub fn due_of(&self, deadline: Deadline) -> Option<DateTime<Utc>> {
        match deadline {
            Deadline::Respond => self.respond_by,
            Deadline::Resolve => self.resolve_by,
        }
    }

    /// The instant the warning for one deadline is due.
    pub fn warn_of(&self, deadline: Deadline) -> Option<DateTime<Utc>> {
        match deadline {
            Deadline::Respond => self.warn_respond_at,
            Deadline::Resolve => self.warn_resolve_at,
        }
    }

    /// Whether a deadline still matters: the response or resolution it asks for has not
    /// happened in this round and the ticket is not archived.
    pub fn deadline_open(&self, deadline: Deadline) -> bool {
        if !self.exists() || self.is_archived() || self.is_merged() {
            return false;
        }
        match deadline {
            Deadline::Respond => self.responded_at.is_none(),
            Deadline::Resolve => self.resolved_at.is_none(),
        }
    }

    /// Whether `department` may read the ticket: it leads it or helps with it.
    pub fn involves_department(&self, department: &str) -> bool {
        self.department.as_deref() == Some(department)
            || self.helpers.iter().any(|helper| helper == department)
    }
}
