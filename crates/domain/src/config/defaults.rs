//! The built-in configuration: every number and keyword of `domain.md`, written once, in the
//! shipped example file `deploy/config/closedloop.example.toml`, and read from it here.
//!
//! The file is compiled into the crate (`include_str!`), so reading it is no I/O: it is parsed
//! once, on first use, and every `Default` of a section is that section of it.

use std::sync::OnceLock;

use super::types::{
    ApprovalConfig, CalendarConfig, ClassificationConfig, CustomersConfig, DomainConfig,
    LimitsConfig, NoticesConfig, ProblemsConfig, ReviewConfig, RewardsConfig, RoutingConfig,
    SlaConfig, SuggestionsConfig,
};

/// The shipped example configuration: every domain key with its built-in value.
pub const SHIPPED_TOML: &str = include_str!("../../../../deploy/config/closedloop.example.toml");

/// The shipped configuration, parsed once. The sections with built-in values take no serde
/// default (see [`DomainConfig`]), so this parse needs nothing but the file.
fn shipped() -> &'static DomainConfig {
    static SHIPPED: OnceLock<DomainConfig> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        toml::from_str(SHIPPED_TOML).unwrap_or_else(|error| {
            panic!("deploy/config/closedloop.example.toml is not a domain file: {error}")
        })
    })
}

impl Default for DomainConfig {
    fn default() -> Self {
        shipped().clone()
    }
}

/// `Default` of a section: that section of the shipped configuration.
macro_rules! section_default {
    ($($section:ident: $type:ty),+ $(,)?) => {$(
        impl Default for $type {
            fn default() -> Self {
                shipped().$section.clone()
            }
        }
    )+};
}

section_default!(
    classification: ClassificationConfig,
    sla: SlaConfig,
    calendar: CalendarConfig,
    review: ReviewConfig,
    approval: ApprovalConfig,
    limits: LimitsConfig,
    notices: NoticesConfig,
    rewards: RewardsConfig,
    problems: ProblemsConfig,
    suggestions: SuggestionsConfig,
    customers: CustomersConfig,
);

impl RoutingConfig {
    /// The default routing table of `domain.md`, most specific rules first.
    pub fn defaults() -> Self {
        shipped().routing.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Allowance, Clock, Language, TimeUnit, DEFAULT_NOTES_MAX_PER_TICKET};
    use crate::types::{Kind, Outcome, Priority, RewardKind, Role};

    #[test]
    fn the_shipped_file_parses_without_any_service_section() {
        let config: DomainConfig = toml::from_str(SHIPPED_TOML).expect("shipped file parses");
        assert_eq!(config, DomainConfig::default());
        assert!(config.version.is_none() && config.calendar.version.is_none());
        assert!(config.nats.is_none() && config.logging.is_none());
    }

    /// The numbers of `domain.md` and `docs/operations.md`, as the shipped file says them.
    #[test]
    fn the_defaults_are_the_numbers_of_the_documents() {
        let config = DomainConfig::default();
        let hours = |amount| Allowance::new(amount, TimeUnit::Hours, Clock::AroundTheClock);
        let working_days = |amount| Allowance::new(amount, TimeUnit::WorkingDays, Clock::Working);
        let sla = &config.sla;
        let rows = [
            (&sla.urgent, hours(1), hours(24)),
            (&sla.high, hours(2), hours(72)),
            (&sla.medium, hours(24), hours(72)),
            (&sla.low, hours(72), working_days(5)),
            (&sla.complaint, hours(48), working_days(5)),
            (&sla.vip, hours(12), hours(36)),
        ];
        for (row, respond, resolve) in rows {
            assert_eq!((row.respond, row.resolve), (respond, resolve));
        }
        assert_eq!(sla.complaint_kinds, vec![Kind::Complaint]);
        assert_eq!(sla.warning_threshold, 0.8);
        assert!(sla.allow_customer_pause);
        let chain: Vec<_> = (sla.escalation.iter())
            .map(|level| (level.notify, level.after_breach))
            .collect();
        assert_eq!(
            chain,
            vec![(Role::Head, hours(0)), (Role::Manager, hours(24))]
        );

        assert_eq!(config.channels.len(), 12);
        assert_eq!(config.departments.len(), 8);
        assert_eq!(config.departments["after_sales"].name_zh, "售后服务部");
        assert_eq!(config.routing.rules.len(), 10);
        assert_eq!(config.classification.confidence_threshold, 0.5);
        assert_eq!(config.classification.default_kind, Kind::Inquiry);
        assert_eq!(config.classification.default_priority, Priority::Medium);
        assert_eq!(config.classification.global_min_departments, 2);
        assert_eq!(config.calendar.utc_offset, "+08:00");
        assert_eq!(
            config.calendar.working_hours,
            ["09:00-12:00", "13:00-18:00"]
        );
        assert_eq!(config.calendar.holidays.len(), 7);
        assert_eq!(config.calendar.workdays.len(), 6);
        assert_eq!(config.review.satisfied_threshold, 4);
        assert_eq!(
            config.approval.outcomes,
            [Outcome::Adopted, Outcome::Declined]
        );
        assert_eq!(config.approval.priorities, [Priority::Urgent]);

        let limits = &config.limits;
        assert_eq!(
            (limits.content_max_chars, limits.attributes_max_count),
            (10_000, 32)
        );
        assert_eq!(
            (
                limits.attribute_key_max_chars,
                limits.attribute_value_max_chars
            ),
            (64, 1_024)
        );
        assert_eq!(
            (limits.field_max_chars, limits.future_skew_seconds),
            (256, 300)
        );
        assert_eq!(limits.dedupe_window_hours, 24);
        assert!(!limits.customer_id_counts_as_contact);
        assert_eq!(limits.notes_max_per_ticket, DEFAULT_NOTES_MAX_PER_TICKET);
        assert_eq!(DEFAULT_NOTES_MAX_PER_TICKET, 500);

        assert_eq!(config.notices.default_language, Language::Zh);
        assert_eq!(config.notices.time_format, "%Y-%m-%d %H:%M");
        let rewards = &config.rewards;
        assert!(rewards.enabled);
        assert_eq!(
            (rewards.kind, rewards.amount, rewards.validity_days),
            (
                RewardKind::Points,
                100,
                crate::config::MIN_REWARD_VALIDITY_DAYS
            )
        );
        assert_eq!(config.problems.similar_window_days, 7);
        assert_eq!(config.problems.similar_threshold, 0.3);
    }

    #[test]
    fn every_section_default_is_that_section_of_the_shipped_file() {
        let config = DomainConfig::default();
        assert_eq!(ClassificationConfig::default(), config.classification);
        assert_eq!(RoutingConfig::defaults(), config.routing);
        assert_eq!(SlaConfig::default(), config.sla);
        assert_eq!(CalendarConfig::default(), config.calendar);
        assert_eq!(ReviewConfig::default(), config.review);
        assert_eq!(ApprovalConfig::default(), config.approval);
        assert_eq!(LimitsConfig::default(), config.limits);
        assert_eq!(NoticesConfig::default(), config.notices);
        assert_eq!(RewardsConfig::default(), config.rewards);
        assert_eq!(config.suggestions.award_count, 10);
        assert!(!config.suggestions.award_reward.trim().is_empty());
        assert_eq!(ProblemsConfig::default(), config.problems);
        assert_eq!(CustomersConfig::default(), config.customers);
    }
}
