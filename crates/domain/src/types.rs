//! The small vocabulary every other module speaks: steps, kinds, priorities, roles, actors,
//! and the `Policy` seam between the ticket aggregate and the configurable rules.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Declares a closed vocabulary enum with its stable snake_case name, used in JSON, TOML,
/// the CLI and log payloads alike.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable name used in JSON, configuration and the command line.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stable name; the error names the accepted values.
            pub fn parse(field: &str, text: &str) -> Result<Self, crate::DomainError> {
                match text.trim().to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$variant),)+
                    other => Err(crate::DomainError::invalid(
                        field,
                        format!("unknown value {other:?}, expected one of: {}",
                            [$($text),+].join(", ")),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// The six steps every ticket moves through, in order.
    Step {
        Receive => "receive",
        Classify => "classify",
        Dispatch => "dispatch",
        Handle => "handle",
        Review => "review",
        Archive => "archive",
    }
);

vocabulary!(
    /// What the customer meant to tell us.
    Kind {
        Suggestion => "suggestion",
        Complaint => "complaint",
        Problem => "problem",
        Inquiry => "inquiry",
        Praise => "praise",
    }
);

vocabulary!(
    /// What the feedback is about.
    ContentType {
        Product => "product",
        Service => "service",
        Process => "process",
        Experience => "experience",
    }
);

vocabulary!(
    /// How fast it must be handled. Declared from most to least urgent.
    Priority {
        Urgent => "urgent",
        High => "high",
        Medium => "medium",
        Low => "low",
    }
);

vocabulary!(
    /// Whether the matter crosses departments (goes to the monthly business meeting).
    Scope {
        Global => "global",
        Local => "local",
    }
);

vocabulary!(
    /// How a department resolved a ticket. The first three are for suggestions.
    Outcome {
        Adopted => "adopted",
        Planned => "planned",
        Declined => "declined",
        Fixed => "fixed",
        Explained => "explained",
    }
);

vocabulary!(
    /// Where a ticket stands against its deadlines.
    SlaState {
        OnTime => "on_time",
        Warning => "warning",
        Breached => "breached",
    }
);

vocabulary!(
    /// Which of a ticket's two deadlines an SLA event is about.
    Deadline {
        Respond => "respond",
        Resolve => "resolve",
    }
);

vocabulary!(
    /// The roles of the tokens file, as `api.md` names them.
    Role {
        Adapter => "adapter",
        Agent => "agent",
        Head => "head",
        Service => "service",
        Manager => "manager",
        Auditor => "auditor",
        Admin => "admin",
        /// The services themselves (consumer, SLA timers); never in a tokens file.
        System => "system",
    }
);

/// Who did something: recorded on every event of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The principal's name from the tokens file, or the service's own name.
    pub principal: String,
    pub role: Role,
    /// The department of an agent or head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

impl Actor {
    /// The actor for work the services do on their own (intake, consumer, timers).
    pub fn system(name: &str) -> Self {
        Self {
            principal: name.to_owned(),
            role: Role::System,
            department: None,
        }
    }
}

/// The result of classifying a text, automatic or by a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub kind: Kind,
    pub content_type: ContentType,
    pub priority: Priority,
    pub scope: Scope,
    /// Keywords found in the text, in order of first appearance, without repeats.
    pub keywords: Vec<String>,
    /// How sure the rules are, from 0.0 to 1.0; a person's classification is 1.0.
    pub confidence: f64,
    /// Whether the confidence reaches the configured threshold for acting automatically.
    pub confident: bool,
    /// A complex case: takes the complaint/complex SLA row regardless of kind.
    #[serde(default)]
    pub complex: bool,
    /// Words the text is about beyond the configured keywords, found by word segmentation
    /// (`rules::terms`), heaviest first; empty when term extraction is off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<String>,
}

/// Where a ticket goes: one accountable department, optional helpers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub department: String,
    #[serde(default)]
    pub helpers: Vec<String>,
    /// Which rule matched, for the history.
    #[serde(default)]
    pub rule: String,
}

/// The deadlines a ticket is given, and the instants at which a warning is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    pub respond_by: DateTime<Utc>,
    pub resolve_by: DateTime<Utc>,
    pub warn_respond_at: DateTime<Utc>,
    pub warn_resolve_at: DateTime<Utc>,
    /// The versions of the SLA policy and calendar that produced these deadlines.
    pub policy_version: String,
    pub calendar_version: String,
}

/// The seam between the ticket aggregate and the configurable rules. The aggregate asks; the
/// rules (built from configuration, see `rules`) answer. Tests may plug in fixed answers.
pub trait Policy {
    /// Classifies a submission's text (and product, where given).
    fn classify(&self, content: &str, product: Option<&str>) -> Classification;
    /// Routes a classified ticket to a department, or `None` when no rule matches.
    fn route(&self, classification: &Classification, product: Option<&str>) -> Option<Route>;
    /// The deadlines for a ticket received at `received_at` with this classification.
    fn deadlines(&self, received_at: DateTime<Utc>, classification: &Classification) -> Deadlines;
    /// The deadlines for a clock started at `start` with this classification, for a ticket of
    /// a VIP customer when `vip` (each deadline the stricter of the VIP row and the rest).
    /// Policies without a VIP row answer [`Policy::deadlines`].
    fn deadlines_for(
        &self,
        start: DateTime<Utc>,
        classification: &Classification,
        vip: bool,
    ) -> Deadlines {
        let _ = vip;
        self.deadlines(start, classification)
    }
    /// Whether a solution with this outcome needs the department head's approval.
    fn requires_approval(&self, classification: &Classification, outcome: Outcome) -> bool;
    /// Satisfaction scores below this reopen the ticket for a second round.
    fn satisfied_threshold(&self) -> u8;
    /// Whether `department` is a configured department.
    fn is_department(&self, department: &str) -> bool;
    /// The configuration version, recorded on events that depend on it.
    fn version(&self) -> String;
    /// The reward for an adopted suggestion, or `None` when none is granted.
    fn reward(&self) -> Option<RewardRule> {
        None
    }

    /// The most notes (`AddNote`, internal or to the customer) one ticket may carry.
    fn max_notes_per_ticket(&self) -> usize {
        DEFAULT_NOTES_MAX_PER_TICKET
    }

    /// Whether `person` is a member of `department`, so that the head may assign them its
    /// tickets. Policies without a member list let anyone be assigned.
    fn is_member(&self, department: &str, person: &str) -> bool {
        let _ = (department, person);
        true
    }

    /// What the trained classifier makes of a submission's text, when one is configured:
    /// asked only for submissions the rules are not confident about.
    fn model_verdict(&self, content: &str) -> Option<ModelVerdict> {
        let _ = content;
        None
    }

    /// The terms of a submission's text (see [`Classification::terms`]), for a
    /// classification made by a person. Policies without term extraction give none.
    fn terms(&self, content: &str) -> Vec<String> {
        let _ = content;
        Vec::new()
    }
}

vocabulary!(
    /// How a ticket is tied to its parent problem: a linked report of the same problem keeps
    /// its own handling; a merged duplicate stops its own handling and follows the parent.
    LinkMode {
        Link => "link",
        MergeDuplicate => "merge_duplicate",
    }
);

vocabulary!(
    /// What the loyalty system grants for an adopted suggestion.
    RewardKind {
        Points => "points",
        Coupon => "coupon",
    }
);

/// The reward the configuration grants for an adopted suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRule {
    pub kind: RewardKind,
    pub amount: u32,
    pub validity_days: u32,
}

/// The default of `limits.notes_max_per_ticket`: what a [`Policy`] that does not say allows.
pub const DEFAULT_NOTES_MAX_PER_TICKET: usize = 500;

/// What a customer is told, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The ticket number and the expected handling time (event `received`).
    Received,
    /// The department's first response (event `acknowledged`).
    FirstResponse,
    /// The solution, once the ticket is resolved (`solution_proposed` without approval, or
    /// `solution_approved`), for every outcome except an adopted suggestion.
    Solution,
    /// The request to rate the handling, sent together with the solution.
    ReviewRequest,
    /// The customer's suggestion was adopted (instead of the plain solution notice).
    SuggestionAdopted,
    /// The customer's suggestion was accepted and planned (instead of the plain solution
    /// notice).
    SuggestionPlanned,
    /// The planned suggestion was delivered (event `suggestion_delivered`).
    SuggestionDelivered,
    /// The suggestion won the month's best-suggestion award (event `award_granted`).
    SuggestionAwarded,
    /// The ticket was closed (event `archived`).
    Closed,
    /// A note written for the customer (event `note_added` with `to_customer`); team notes
    /// yield nothing.
    Note,
    /// An alert to a member of staff or a department's group robot (a new ticket in the
    /// queue, an assignment, an SLA warning, breach or escalation), recorded with the
    /// recipient. Not a customer notice: absent from [`NoticeKind::ALL`].
    StaffAlert,
}

impl NoticeKind {
    /// Every customer notice kind, in declaration order ([`NoticeKind::StaffAlert`] is not
    /// one).
    pub const ALL: &'static [NoticeKind] = &[
        NoticeKind::Received,
        NoticeKind::FirstResponse,
        NoticeKind::Solution,
        NoticeKind::ReviewRequest,
        NoticeKind::SuggestionAdopted,
        NoticeKind::Closed,
        NoticeKind::Note,
        NoticeKind::SuggestionPlanned,
        NoticeKind::SuggestionDelivered,
        NoticeKind::SuggestionAwarded,
    ];

    /// The stable snake_case name, used in events, configuration keys and idempotency keys.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Received => "received",
            NoticeKind::FirstResponse => "first_response",
            NoticeKind::Solution => "solution",
            NoticeKind::ReviewRequest => "review_request",
            NoticeKind::SuggestionAdopted => "suggestion_adopted",
            NoticeKind::SuggestionPlanned => "suggestion_planned",
            NoticeKind::SuggestionDelivered => "suggestion_delivered",
            NoticeKind::SuggestionAwarded => "suggestion_awarded",
            NoticeKind::Closed => "closed",
            NoticeKind::Note => "note",
            NoticeKind::StaffAlert => "staff_alert",
        }
    }

    /// Parses the stable name; the error names the accepted values.
    pub fn parse(field: &str, text: &str) -> Result<Self, crate::DomainError> {
        NoticeKind::ALL
            .iter()
            .copied()
            .chain([NoticeKind::StaffAlert])
            .find(|kind| kind.as_str() == text.trim())
            .ok_or_else(|| {
                crate::DomainError::invalid(
                    field,
                    format!(
                        "unknown notice {text:?}, expected one of: {}",
                        NoticeKind::ALL
                            .iter()
                            .map(|kind| kind.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    }
}

impl fmt::Display for NoticeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value the trained classifier proposes for a field, with its probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestedValue {
    /// The stable snake_case name (`complaint`, `service`, `urgent`, `logistics`).
    pub value: String,
    /// From 0 to 1, rounded to 4 decimals.
    pub probability: f64,
}

/// The classifier's top values for one field: the value it chose first, then the next most
/// probable ones (three at most).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuggestedField {
    /// `kind`, `content_type`, `priority` or `department`.
    pub field: String,
    pub values: Vec<SuggestedValue>,
}

/// The trained classifier's suggestion for a ticket the rules could not place: the event
/// `classification_suggested`, and the ticket's `suggestion` until it is classified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The model that made it (`sha256:` and 12 hex digits of the model file).
    pub model_version: String,
    /// Kind, content type, priority and department, in this order.
    pub fields: Vec<SuggestedField>,
    /// The least probability of the chosen values over the four fields.
    pub confidence: f64,
    /// The priority the keyword floor imposed, when it raised the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_applied: Option<Priority>,
    pub at: DateTime<Utc>,
}

impl Suggestion {
    /// The chosen (first) value of `field`.
    pub fn top(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|suggested| suggested.field == field)
            .and_then(|suggested| suggested.values.first())
            .map(|value| value.value.as_str())
    }
}

/// Where the trained classifier's two thresholds per field put a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Every field reaches its `auto` threshold: the model classifies and the ticket is
    /// dispatched at once.
    Auto,
    /// Every field reaches its `suggest` threshold, not all `auto`: the suggestion is recorded
    /// and the ticket waits in classify for a person to confirm or correct it.
    Suggest,
    /// Some field is below its `suggest` threshold: the ticket waits with no suggestion.
    Unsure,
}

/// What the trained classifier makes of a submission: its placement and its suggestion
/// (`at` is left for the aggregate to set).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVerdict {
    pub placement: Placement,
    pub suggestion: Suggestion,
}
