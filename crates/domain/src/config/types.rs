//! The configuration types: every section of the domain file and its values.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use crate::types::DEFAULT_NOTES_MAX_PER_TICKET;
use crate::types::{ContentType, Kind, Outcome, Priority, RewardKind, RewardRule, Role};

/// The top-level sections owned by the services; `DomainConfig` accepts them without looking
/// inside.
pub const RESERVED_SECTIONS: &[&str] = &[
    "nats",
    "intake_service",
    "workflow_service",
    "notify",
    "webhook",
    "retention",
    "logging",
    "rate_limits",
    // The gRPC servers' TLS files (`service::tls`).
    "tls",
    "console",
    // The trained classifier's model file and thresholds, read by the workflow.
    "classifier",
    // The customer's signed rating links (`service::ratelink`), read by workflow and notify.
    "selfservice",
];

/// The whole domain configuration. `Default` carries every number of `domain.md`, read from
/// the shipped example file (see `defaults`). The sections with built-in values take no
/// serde default of their own: a file is read merged over the defaults, so every key is there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainConfig {
    /// A version label recorded on events; when absent a short SHA-256 of the canonical
    /// configuration is used instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The channels a submission may name.
    pub channels: Vec<String>,
    /// The departments, by their stable id.
    pub departments: BTreeMap<String, DepartmentConfig>,
    pub classification: ClassificationConfig,
    pub routing: RoutingConfig,
    pub sla: SlaConfig,
    pub calendar: CalendarConfig,
    pub review: ReviewConfig,
    pub approval: ApprovalConfig,
    pub limits: LimitsConfig,
    pub notices: NoticesConfig,
    /// What an adopted suggestion earns.
    pub rewards: RewardsConfig,
    /// How similar tickets are suggested as duplicates of a problem.
    pub problems: ProblemsConfig,
    /// The monthly best-suggestion award.
    pub suggestions: SuggestionsConfig,
    /// `[report_delivery]`: the reports sent to managers on the first working day of a month.
    /// Off by default, and then left out of the canonical form (so configurations written
    /// before it keep their version).
    #[serde(default, skip_serializing_if = "ReportDeliveryConfig::is_off")]
    pub report_delivery: ReportDeliveryConfig,
    /// The thresholds of the customer profiles' automatic tags.
    pub customers: CustomersConfig,
    /// Service-owned sections, kept unread for the service that owns them.
    #[serde(skip_serializing)]
    pub nats: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub intake_service: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub workflow_service: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub notify: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub webhook: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub retention: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub logging: Option<toml::Table>,
}

/// One department: display names and who is told, in order, when its tickets escalate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DepartmentConfig {
    pub name_zh: String,
    pub name_en: String,
    /// Escalation contacts, level 1 first: a principal name or `role:<role>`.
    pub escalation: Vec<String>,
    /// The people of the department (principal names of the tokens file), in the order the
    /// round robin follows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// How new tickets find a person: `none` (claimed or assigned by hand), `round_robin` or
    /// `fewest_open`.
    #[serde(skip_serializing_if = "AssignmentPolicy::is_none")]
    pub assignment: AssignmentPolicy,
}

/// How a department's new tickets find a person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentPolicy {
    /// Nobody is chosen automatically: agents claim, the head assigns.
    #[default]
    None,
    /// The members on duty in turn.
    RoundRobin,
    /// The member on duty with the fewest open tickets (the first in the list on a tie).
    FewestOpen,
}

impl AssignmentPolicy {
    /// Whether the policy assigns nothing on its own.
    pub fn is_none(&self) -> bool {
        *self == AssignmentPolicy::None
    }

    /// The configuration's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentPolicy::None => "none",
            AssignmentPolicy::RoundRobin => "round_robin",
            AssignmentPolicy::FewestOpen => "fewest_open",
        }
    }
}

/// Keyword tables per kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KindKeywords {
    pub suggestion: Vec<String>,
    pub complaint: Vec<String>,
    pub problem: Vec<String>,
    pub inquiry: Vec<String>,
    pub praise: Vec<String>,
}

impl KindKeywords {
    /// The table of one kind.
    pub fn of(&self, kind: Kind) -> &[String] {
        match kind {
            Kind::Suggestion => &self.suggestion,
            Kind::Complaint => &self.complaint,
            Kind::Problem => &self.problem,
            Kind::Inquiry => &self.inquiry,
            Kind::Praise => &self.praise,
        }
    }
}

/// Keyword tables per content type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ContentKeywords {
    pub product: Vec<String>,
    pub service: Vec<String>,
    pub process: Vec<String>,
    pub experience: Vec<String>,
}

impl ContentKeywords {
    /// The table of one content type.
    pub fn of(&self, content_type: ContentType) -> &[String] {
        match content_type {
            ContentType::Product => &self.product,
            ContentType::Service => &self.service,
            ContentType::Process => &self.process,
            ContentType::Experience => &self.experience,
        }
    }
}

/// Keyword tables that raise the priority. Medium is the default and low follows from the kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PriorityKeywords {
    pub urgent: Vec<String>,
    pub high: Vec<String>,
}

/// The classification rules. A keyword is matched case-insensitively; an English keyword
/// only at word boundaries, a Chinese one anywhere; a trailing `*` matches any word ending
/// (`crash*` matches "crashes").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassificationConfig {
    /// Below this confidence a ticket waits in the classify step for a person.
    pub confidence_threshold: f64,
    /// Product and module names reported as keywords ("APP", "小程序").
    pub products: Vec<String>,
    pub kinds: KindKeywords,
    /// When several kinds match, the first of this list wins.
    pub kind_precedence: Vec<Kind>,
    /// The kind when no kind keyword matches.
    pub default_kind: Kind,
    pub content_types: ContentKeywords,
    /// When content types match equally often, the first of this list wins.
    pub content_precedence: Vec<ContentType>,
    /// The content type when no content keyword matches.
    pub default_content_type: ContentType,
    pub priorities: PriorityKeywords,
    /// The priority when no priority keyword matches and the kind is not a low one.
    pub default_priority: Priority,
    /// Kinds that are low priority unless a priority keyword matches (praise, general
    /// suggestions).
    pub low_priority_kinds: Vec<Kind>,
    /// Keywords that make the scope global ("所有用户", "all customers").
    pub global_keywords: Vec<String>,
    /// The scope is also global when the routing keywords of this many departments appear.
    pub global_min_departments: usize,
    /// Keywords that mark a complex case (repeated, unresolved): it takes the complaint row
    /// of the SLA table.
    pub complex_keywords: Vec<String>,
    /// How many terms (words found by word segmentation, beyond the configured keywords) to
    /// extract from each submission for the reports' top terms; 0 extracts none.
    #[serde(
        default = "default_max_terms",
        skip_serializing_if = "is_default_max_terms"
    )]
    pub max_terms: usize,
}

/// The terms extracted from one submission unless `[classification] max_terms` says otherwise.
pub const DEFAULT_MAX_TERMS: usize = 5;

fn default_max_terms() -> usize {
    DEFAULT_MAX_TERMS
}

fn is_default_max_terms(value: &usize) -> bool {
    *value == DEFAULT_MAX_TERMS
}

/// The routing table: the first rule that matches wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub rules: Vec<RouteRuleConfig>,
}

/// One routing rule. Every criterion given must match; an empty criterion matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RouteRuleConfig {
    /// A name recorded in the history; defaults to `rule-<n>`.
    pub name: String,
    /// The one accountable department.
    pub department: String,
    /// Departments that help.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub helpers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub content_types: Vec<ContentType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<Kind>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priorities: Vec<Priority>,
    /// Product or module names; matched against the submission's product and the keywords.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    /// At least one of these keywords must have been extracted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords_any: Vec<String>,
    /// All of these keywords must have been extracted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords_all: Vec<String>,
}

/// The unit of an SLA allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Seconds: meant for tests and demonstrations with very short deadlines.
    Seconds,
    Minutes,
    Hours,
    Days,
    /// Hours counted on the working clock only.
    WorkingHours,
    /// Working days of the business calendar.
    WorkingDays,
}

/// Which clock an allowance runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Clock {
    /// Around the clock, every day.
    #[serde(rename = "24x7")]
    AroundTheClock,
    /// Working hours of working days only.
    #[serde(rename = "working")]
    Working,
}

impl Clock {
    /// The name used in configuration and explanations.
    pub fn as_str(self) -> &'static str {
        match self {
            Clock::AroundTheClock => "24x7",
            Clock::Working => "working",
        }
    }
}

/// An amount of time an SLA allows, with its unit and clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowance {
    pub amount: u32,
    pub unit: TimeUnit,
    /// Defaults to `24x7` for minutes, hours and days and to `working` for the working units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

impl Allowance {
    /// An allowance of `amount` `unit`s on `clock`.
    pub const fn new(amount: u32, unit: TimeUnit, clock: Clock) -> Self {
        Self {
            amount,
            unit,
            clock: Some(clock),
        }
    }

    /// The clock this allowance runs on, after defaults.
    pub fn effective_clock(&self) -> Clock {
        match (self.unit, self.clock) {
            (TimeUnit::WorkingHours | TimeUnit::WorkingDays, _) => Clock::Working,
            (_, Some(clock)) => clock,
            (_, None) => Clock::AroundTheClock,
        }
    }

    /// A short human description ("2 hours, 24x7").
    pub fn describe(&self) -> String {
        let unit = match self.unit {
            TimeUnit::Seconds => "seconds",
            TimeUnit::Minutes => "minutes",
            TimeUnit::Hours => "hours",
            TimeUnit::Days => "days",
            TimeUnit::WorkingHours => "working hours",
            TimeUnit::WorkingDays => "working days",
        };
        format!(
            "{} {unit} on the {} clock",
            self.amount,
            self.effective_clock().as_str()
        )
    }
}

/// The two allowances of one SLA row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaRow {
    pub respond: Allowance,
    pub resolve: Allowance,
}

/// One level of the escalation chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    /// The role told at this level (the department head, a manager).
    pub notify: Role,
    /// How long after the breach this level is reached.
    pub after_breach: Allowance,
}

/// The SLA policy: the table of `domain.md`, warnings and escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    pub urgent: SlaRow,
    pub high: SlaRow,
    pub medium: SlaRow,
    pub low: SlaRow,
    /// The row for complaints and complex cases. Where it applies, each deadline is the
    /// stricter (earlier) of this row and the priority's row.
    pub complaint: SlaRow,
    /// The row for the tickets of a VIP customer (the staff tag `vip`). Where it applies,
    /// each deadline is the stricter (earlier) of this row and what applies otherwise.
    pub vip: SlaRow,
    /// The kinds the complaint row applies to (complex cases always take it).
    pub complaint_kinds: Vec<Kind>,
    /// A warning is due when this share of the allowed time has passed.
    pub warning_threshold: f64,
    /// Whether waiting for the customer pauses the clock.
    pub allow_customer_pause: bool,
    /// Level 1 first.
    pub escalation: Vec<EscalationLevel>,
}

impl SlaConfig {
    /// The row of one priority.
    pub fn row(&self, priority: Priority) -> &SlaRow {
        match priority {
            Priority::Urgent => &self.urgent,
            Priority::High => &self.high,
            Priority::Medium => &self.medium,
            Priority::Low => &self.low,
        }
    }
}

/// The business calendar: a fixed UTC offset, working hours, weekends, holidays and make-up
/// working days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// A version label; defaults to a short hash of this section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The fixed offset from UTC of the business, "+08:00" for China.
    pub utc_offset: String,
    /// Working periods of a working day, "HH:MM-HH:MM", in order; the gap between two
    /// periods is the lunch break. One period means no lunch break.
    pub working_hours: Vec<String>,
    /// Days of the week that are not working days: mon, tue, wed, thu, fri, sat, sun.
    pub weekend: Vec<String>,
    /// Public holidays: "YYYY-MM-DD" or a range "YYYY-MM-DD..YYYY-MM-DD" (inclusive).
    pub holidays: Vec<String>,
    /// Make-up working days (调休) that fall on a weekend, same forms as `holidays`.
    pub workdays: Vec<String>,
}

/// The review step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewConfig {
    /// Scores (1 to 5) below this reopen the ticket for a second round.
    pub satisfied_threshold: u8,
}

/// Which solutions need the department head's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalConfig {
    /// Solutions with one of these outcomes need approval.
    pub outcomes: Vec<Outcome>,
    /// Any solution of a ticket with one of these priorities needs approval.
    pub priorities: Vec<Priority>,
}

/// The limits intake applies to a submission, and the caps on what one ticket may hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest content, in characters after normalisation.
    pub content_max_chars: usize,
    pub attributes_max_count: usize,
    pub attribute_key_max_chars: usize,
    pub attribute_value_max_chars: usize,
    /// Longest short text field (name, ids, product, order id), in characters.
    pub field_max_chars: usize,
    /// How far in the future `occurred_at` may be, for clocks that run ahead.
    pub future_skew_seconds: u64,
    /// How long a content-derived idempotency key is remembered.
    pub dedupe_window_hours: u64,
    /// Kept so that existing files load; it no longer changes anything: a submission without
    /// any contact (even without a `customer_id`) is accepted and marked cannot be told.
    pub customer_id_counts_as_contact: bool,
    /// The most notes one ticket may carry; `AddNote` beyond it is refused (RESOURCE_EXHAUSTED
    /// naming `limits.notes_max_per_ticket`). Left out of the canonical form while at its
    /// default, so that the configuration version of existing set-ups does not change.
    #[serde(
        default = "default_notes_max",
        skip_serializing_if = "is_default_notes_max"
    )]
    pub notes_max_per_ticket: usize,
}

fn default_notes_max() -> usize {
    DEFAULT_NOTES_MAX_PER_TICKET
}

fn is_default_notes_max(value: &usize) -> bool {
    *value == DEFAULT_NOTES_MAX_PER_TICKET
}

/// The language of a customer notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Zh,
    En,
}

/// Customer notice templates. Placeholders: `{ticket_id}`, `{received_at}`, `{respond_by}`,
/// `{resolve_by}`; an unknown placeholder is a configuration error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticesConfig {
    pub default_language: Language,
    /// A `strftime` format for instants, rendered in the calendar's offset.
    pub time_format: String,
    pub receipt_zh: String,
    pub receipt_en: String,
}

/// The shortest validity of a reward, in days.
pub const MIN_REWARD_VALIDITY_DAYS: u32 = 30;

/// `[rewards]`: what an adopted and approved suggestion earns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardsConfig {
    /// Whether rewards are granted at all.
    pub enabled: bool,
    pub kind: RewardKind,
    /// Points, or the coupon's value in the currency's smallest unit the loyalty system uses.
    pub amount: u32,
    /// How long the reward stays valid, at least [`MIN_REWARD_VALIDITY_DAYS`].
    pub validity_days: u32,
}

impl RewardsConfig {
    /// The rule the aggregate applies, or `None` when rewards are off.
    pub fn rule(&self) -> Option<RewardRule> {
        self.enabled.then_some(RewardRule {
            kind: self.kind,
            amount: self.amount,
            validity_days: self.validity_days,
        })
    }
}

/// The most winners a month's award may have.
pub const MAX_AWARD_COUNT: u32 = 1_000;

/// `[suggestions]`: the monthly best-suggestion award (`docs/workflow.md`, "Suggestions").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestionsConfig {
    /// How many suggestions win each month (0: no award), at most [`MAX_AWARD_COUNT`].
    pub award_count: u32,
    /// What a winner receives, as the customer is told it and the loyalty system reads it.
    pub award_reward: String,
}

/// `[problems]`: how similar tickets are suggested as duplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProblemsConfig {
    /// Tickets created at most this many days before or after the ticket are candidates.
    pub similar_window_days: u32,
    /// The least keyword overlap (Jaccard index, 0 to 1) of a suggestion.
    pub similar_threshold: f64,
}

/// `[customers]`: the thresholds of a customer profile's automatic tags
/// (`domain::customer::auto_tags`, `docs/customers.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomersConfig {
    /// "High participation": at least this many tickets ...
    pub participation_tickets: u32,
    /// ... within this many days.
    pub participation_days: u32,
    /// "Repeated complaints": at least this many complaints ...
    pub complaint_count: u32,
    /// ... within this many days.
    pub complaint_days: u32,
}

impl ProblemsConfig {
    /// The window of creation instants around `created_at` in which candidates are looked for.
    pub fn window(&self, created_at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let days = Duration::days(i64::from(self.similar_window_days));
        (created_at - days, created_at + days)
    }
}

/// `[report_delivery]`: which reports are delivered on a schedule, to whom and how. The
/// workflow decides when (the first working day of the month after the period, see
/// `rules::report_schedule`); cloop-notify sends them to each recipient's e-mail route.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportDeliveryConfig {
    /// The month's report, on the first working day of the next month.
    pub monthly: bool,
    /// The quarter's report, on the first working day of the next quarter.
    pub quarterly: bool,
    /// Principal names of the tokens file (managers), each with an e-mail route in
    /// `[[notify.staff]]`.
    pub recipients: Vec<String>,
    /// `html`: the report's page attached to the e-mail; `link`: a link to the console.
    pub attach: ReportAttach,
    /// The console's address as managers reach it (`https://console.example.com`), for
    /// `attach = "link"` (and named in the e-mail's text when set).
    pub console_url: String,
}

impl ReportDeliveryConfig {
    /// Whether this is the built-in value (nothing delivered, nothing set).
    pub fn is_off(&self) -> bool {
        *self == Self::default()
    }

    /// Whether any report is delivered.
    pub fn enabled(&self) -> bool {
        self.monthly || self.quarterly
    }
}

/// How a delivered report reaches its reader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportAttach {
    /// The self-contained HTML page attached to the e-mail.
    #[default]
    Html,
    /// A link to the console's report page in the e-mail's text.
    Link,
}
