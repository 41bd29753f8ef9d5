//! The configurable rules: configuration, classification, routing, the business calendar and
//! the SLA policy, compiled once into [`Rules`], which answers the aggregate's [`Policy`].
//! The configuration types live in `crate::config` (re-exported here as `rules::config`).

pub mod assignment;
pub mod calendar;
pub mod classify;
pub mod config;
pub mod report_schedule;
pub mod routing;
pub mod sla;
pub mod sla_explain;
pub mod terms;

mod compile;

use chrono::{DateTime, Utc};

use crate::error::DomainError;
use crate::notice::Notices;
use crate::types::{Classification, Deadline, Deadlines, Outcome, Policy, RewardRule, Role, Route};

pub use calendar::BusinessCalendar;
pub use classify::Classifier;
pub use config::{Clock, DomainConfig, Language};
pub use routing::Router;
pub use sla::SlaPolicy;

/// Every rule compiled from one [`DomainConfig`].
#[derive(Debug, Clone)]
pub struct Rules {
    config: DomainConfig,
    version: String,
    classifier: Classifier,
    router: Router,
    sla: SlaPolicy,
    calendar: BusinessCalendar,
    notices: Notices,
}

impl Rules {
    /// Checks and compiles a configuration: the one place a configuration is compiled (see
    /// `compile`); the first error names the dotted key and the reason.
    pub fn new(config: DomainConfig) -> Result<Self, DomainError> {
        compile::compile(config)
    }

    /// The rules of the built-in configuration (`DomainConfig::default()`).
    pub fn defaults() -> Self {
        Self::new(DomainConfig::default()).expect("the built-in configuration is valid")
    }

    /// Reads a configuration file's text over the defaults and compiles it.
    pub fn from_toml_str(text: &str) -> Result<Self, DomainError> {
        Self::new(DomainConfig::read_toml(text)?)
    }

    /// The configuration the rules were built from.
    pub fn config(&self) -> &DomainConfig {
        &self.config
    }

    /// The business calendar.
    pub fn calendar(&self) -> &BusinessCalendar {
        &self.calendar
    }

    /// The SLA policy.
    pub fn sla(&self) -> &SlaPolicy {
        &self.sla
    }

    /// The classifier.
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// The customer notice templates.
    pub fn notices(&self) -> &Notices {
        &self.notices
    }

    /// The configured channels.
    pub fn channels(&self) -> &[String] {
        &self.config.channels
    }

    /// Human-readable reasons for a ticket's deadlines (`cloop tickets sla ID`).
    /// `vip` when the ticket's customer is a VIP (`Ticket::vip`).
    pub fn explain_deadlines(
        &self,
        received_at: DateTime<Utc>,
        classification: &Classification,
        vip: bool,
    ) -> Vec<String> {
        self.sla.explain(
            &self.calendar,
            received_at,
            classification,
            vip,
            &self.version,
        )
    }

    /// The clock a ticket's deadline runs on, to shift it correctly for a pause.
    pub fn deadline_clock(
        &self,
        received_at: DateTime<Utc>,
        classification: &Classification,
        vip: bool,
        which: Deadline,
    ) -> Clock {
        self.sla
            .clock_for(&self.calendar, received_at, classification, vip, which)
    }

    /// Moves a deadline for a customer pause, on the given clock.
    pub fn shift_for_pause(
        &self,
        deadline: DateTime<Utc>,
        paused_from: DateTime<Utc>,
        paused_to: DateTime<Utc>,
        clock: Clock,
    ) -> DateTime<Utc> {
        match clock {
            Clock::AroundTheClock => sla::shift_for_pause(deadline, paused_from, paused_to),
            Clock::Working => self
                .calendar
                .shift_for_pause(deadline, paused_from, paused_to),
        }
    }

    /// Escalation `level` (1 = first) of a deadline breached at `breached_at`: whom to tell
    /// and when; `None` past the last level.
    pub fn escalation(
        &self,
        breached_at: DateTime<Utc>,
        level: usize,
    ) -> Option<(Role, DateTime<Utc>)> {
        self.sla.escalation(&self.calendar, breached_at, level)
    }

    /// The receipt notice for a customer, in `language` (the configured default when `None`).
    pub fn receipt_notice(
        &self,
        language: Option<Language>,
        ticket_id: &str,
        received_at: DateTime<Utc>,
        deadlines: &Deadlines,
    ) -> String {
        self.notices
            .receipt(language, ticket_id, received_at, deadlines)
    }
}

impl Policy for Rules {
    fn classify(&self, content: &str, product: Option<&str>) -> Classification {
        self.classifier.classify(content, product)
    }

    fn route(&self, classification: &Classification, product: Option<&str>) -> Option<Route> {
        self.router.route(classification, product)
    }

    fn deadlines(&self, received_at: DateTime<Utc>, classification: &Classification) -> Deadlines {
        self.deadlines_for(received_at, classification, false)
    }

    fn deadlines_for(
        &self,
        start: DateTime<Utc>,
        classification: &Classification,
        vip: bool,
    ) -> Deadlines {
        self.sla
            .deadlines(&self.calendar, start, classification, vip, &self.version)
    }

    fn requires_approval(&self, classification: &Classification, outcome: Outcome) -> bool {
        self.config.approval.outcomes.contains(&outcome)
            || self
                .config
                .approval
                .priorities
                .contains(&classification.priority)
    }

    fn satisfied_threshold(&self) -> u8 {
        self.config.review.satisfied_threshold
    }

    fn is_department(&self, department: &str) -> bool {
        self.config.is_department(department)
    }

    fn reward(&self) -> Option<RewardRule> {
        self.config.rewards.rule()
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn terms(&self, content: &str) -> Vec<String> {
        self.classifier.terms(content)
    }

    fn max_notes_per_ticket(&self) -> usize {
        self.config.limits.notes_max_per_ticket
    }

    fn is_member(&self, department: &str, person: &str) -> bool {
        self.config
            .departments
            .get(department)
            .is_some_and(|config| config.members.iter().any(|member| member == person))
    }
}
