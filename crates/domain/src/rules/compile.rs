//! Compiling a configuration into [`Rules`]: every check serde cannot make (cross-references,
//! ranges, calendar dates, notice templates) is made while the parts are built, each part once.
//! This is the only place a configuration is checked.

use super::{BusinessCalendar, Classifier, Router, Rules, SlaPolicy};
use crate::config::{
    Allowance, Clock, DomainConfig, LimitsConfig, ProblemsConfig, ReportAttach,
    ReportDeliveryConfig, RewardsConfig, SuggestionsConfig, TimeUnit, MAX_AWARD_COUNT,
    MIN_REWARD_VALIDITY_DAYS,
};
use crate::error::DomainError;
use crate::notice::Notices;
use crate::types::{ContentType, Kind, Priority, Role};

/// Checks and compiles a configuration; the first error names the dotted key and the reason.
/// The checks run section by section in the order of the file's documentation.
pub(super) fn compile(config: DomainConfig) -> Result<Rules, DomainError> {
    check_rewards(&config.rewards)?;
    check_suggestions(&config.suggestions)?;
    check_problems(&config.problems)?;
    check_customers(&config.customers)?;
    config.check_channels()?;
    config.check_departments()?;
    config.check_classification()?;
    config.check_routing()?;
    config.check_sla()?;
    let calendar = BusinessCalendar::from_config(&config.calendar)?;
    if !(1..=5).contains(&config.review.satisfied_threshold) {
        return fail(
            "review.satisfied_threshold".into(),
            "must be between 1 and 5".into(),
        );
    }
    check_limits(&config.limits)?;
    check_report_delivery(&config.report_delivery)?;
    let notices = Notices::from_config(&config.notices, calendar.offset())?;
    Ok(Rules {
        version: config.effective_version(),
        classifier: Classifier::new(&config.classification, &Router::keywords(&config.routing)),
        router: Router::new(&config.routing),
        sla: SlaPolicy::new(&config.sla),
        calendar,
        notices,
        config,
    })
}

/// `[report_delivery]`: a schedule needs recipients, and a link needs the console's address.
fn check_report_delivery(delivery: &ReportDeliveryConfig) -> Result<(), DomainError> {
    for (index, name) in delivery.recipients.iter().enumerate() {
        if name.trim().is_empty() {
            return fail(
                format!("report_delivery.recipients[{index}]"),
                "must be a principal name".into(),
            );
        }
    }
    if delivery.enabled() && delivery.recipients.is_empty() {
        return fail(
            "report_delivery.recipients".into(),
            "monthly or quarterly delivery needs at least one recipient".into(),
        );
    }
    let url = delivery.console_url.trim();
    if !url.is_empty() && !url.starts_with("http://") && !url.starts_with("https://") {
        return fail(
            "report_delivery.console_url".into(),
            "must start with http:// or https://".into(),
        );
    }
    if delivery.attach == ReportAttach::Link && url.is_empty() {
        return fail(
            "report_delivery.console_url".into(),
            "attach = \"link\" needs the console's address".into(),
        );
    }
    Ok(())
}

/// The configuration error naming `key`.
fn fail<T>(key: String, reason: String) -> Result<T, DomainError> {
    Err(DomainError::Config { key, reason })
}

impl DomainConfig {
    /// Reads a configuration file's text over the defaults and checks it: a partial file
    /// overrides only what it names, the service-owned sections are kept unread, and every
    /// error names the key and the reason.
    pub fn from_toml_str(text: &str) -> Result<Self, DomainError> {
        let config = Self::read_toml(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the cross-references and ranges that serde cannot (departments, channels,
    /// thresholds, calendar dates and notice templates) by compiling the configuration.
    pub fn validate(&self) -> Result<(), DomainError> {
        compile(self.clone()).map(drop)
    }

    fn check_channels(&self) -> Result<(), DomainError> {
        if self.channels.is_empty() {
            return fail("channels".into(), "at least one channel is needed".into());
        }
        for (index, channel) in self.channels.iter().enumerate() {
            let valid = !channel.is_empty()
                && channel
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !valid {
                return fail(
                    format!("channels[{index}]"),
                    format!("channel {channel:?} must be lowercase letters, digits, _ or -"),
                );
            }
            if self.channels[..index].contains(channel) {
                return fail(
                    format!("channels[{index}]"),
                    format!("channel {channel:?} is listed twice"),
                );
            }
        }
        Ok(())
    }

    fn check_departments(&self) -> Result<(), DomainError> {
        if self.departments.is_empty() {
            return fail(
                "departments".into(),
                "at least one department is needed".into(),
            );
        }
        for (id, department) in &self.departments {
            let valid = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return fail(
                    format!("departments.{id}"),
                    "a department id must be lowercase letters, digits or _".into(),
                );
            }
            if department.name_zh.trim().is_empty() {
                return fail(
                    format!("departments.{id}.name_zh"),
                    "must not be empty".into(),
                );
            }
            if department.name_en.trim().is_empty() {
                return fail(
                    format!("departments.{id}.name_en"),
                    "must not be empty".into(),
                );
            }
            for (index, contact) in department.escalation.iter().enumerate() {
                if let Some(role) = contact.strip_prefix("role:") {
                    if Role::parse("role", role).is_err() {
                        return fail(
                            format!("departments.{id}.escalation[{index}]"),
                            format!("unknown role {role:?}"),
                        );
                    }
                } else if contact.trim().is_empty() {
                    return fail(
                        format!("departments.{id}.escalation[{index}]"),
                        "must not be empty".into(),
                    );
                }
            }
        }
        for (id, department) in &self.departments {
            super::assignment::validate_department(id, department)?;
        }
        Ok(())
    }

    fn check_routing(&self) -> Result<(), DomainError> {
        for (index, rule) in self.routing.rules.iter().enumerate() {
            let key = format!("routing.rules[{index}]");
            if !self.is_department(&rule.department) {
                return fail(
                    format!("{key}.department"),
                    format!("unknown department {:?}", rule.department),
                );
            }
            for (helper_index, helper) in rule.helpers.iter().enumerate() {
                if !self.is_department(helper) {
                    return fail(
                        format!("{key}.helpers[{helper_index}]"),
                        format!("unknown department {helper:?}"),
                    );
                }
                if helper == &rule.department {
                    return fail(
                        format!("{key}.helpers[{helper_index}]"),
                        "the accountable department cannot also be a helper".into(),
                    );
                }
            }
            for (list, name) in [
                (&rule.keywords_any, "keywords_any"),
                (&rule.keywords_all, "keywords_all"),
                (&rule.products, "products"),
            ] {
                if let Some(position) = list
                    .iter()
                    .position(|word| word.trim().trim_end_matches('*').is_empty())
                {
                    return fail(
                        format!("{key}.{name}[{position}]"),
                        "a keyword must not be empty".into(),
                    );
                }
            }
        }
        Ok(())
    }

    fn check_classification(&self) -> Result<(), DomainError> {
        let classification = &self.classification;
        let threshold = classification.confidence_threshold;
        if !(0.0..=1.0).contains(&threshold) {
            return fail(
                "classification.confidence_threshold".into(),
                "must be between 0.0 and 1.0".into(),
            );
        }
        let mut lists: Vec<(String, &[String])> = vec![
            ("products".into(), &classification.products),
            (
                "priorities.urgent".into(),
                &classification.priorities.urgent,
            ),
            ("priorities.high".into(), &classification.priorities.high),
            ("global_keywords".into(), &classification.global_keywords),
            ("complex_keywords".into(), &classification.complex_keywords),
        ];
        for kind in Kind::ALL {
            lists.push((format!("kinds.{kind}"), classification.kinds.of(*kind)));
        }
        for content_type in ContentType::ALL {
            let list = classification.content_types.of(*content_type);
            lists.push((format!("content_types.{content_type}"), list));
        }
        for (key, list) in lists {
            if let Some(position) = list
                .iter()
                .position(|word| word.trim().trim_end_matches('*').trim().is_empty())
            {
                return fail(
                    format!("classification.{key}[{position}]"),
                    "a keyword must not be empty".into(),
                );
            }
        }
        if let Some(kind) =
            (Kind::ALL.iter()).find(|kind| !classification.kind_precedence.contains(kind))
        {
            return fail(
                "classification.kind_precedence".into(),
                format!("must list every kind, {kind} is missing"),
            );
        }
        if let Some(content_type) = (ContentType::ALL.iter())
            .find(|content_type| !classification.content_precedence.contains(content_type))
        {
            return fail(
                "classification.content_precedence".into(),
                format!("must list every content type, {content_type} is missing"),
            );
        }
        if classification.global_min_departments < 2 {
            return fail(
                "classification.global_min_departments".into(),
                "must be at least 2".into(),
            );
        }
        Ok(())
    }

    fn check_sla(&self) -> Result<(), DomainError> {
        let sla = &self.sla;
        let rows = (Priority::ALL.iter())
            .map(|priority| (priority.as_str(), sla.row(*priority)))
            .chain([("complaint", &sla.complaint), ("vip", &sla.vip)]);
        for (row_name, row) in rows {
            for (name, allowance) in [("respond", &row.respond), ("resolve", &row.resolve)] {
                let key = format!("sla.{row_name}.{name}");
                check_allowance(&key, allowance)?;
                if allowance.amount == 0 {
                    return fail(format!("{key}.amount"), "must be at least 1".into());
                }
            }
        }
        if !(sla.warning_threshold > 0.0 && sla.warning_threshold < 1.0) {
            return fail(
                "sla.warning_threshold".into(),
                "must be greater than 0.0 and less than 1.0".into(),
            );
        }
        for (index, level) in sla.escalation.iter().enumerate() {
            let key = format!("sla.escalation[{index}].after_breach");
            check_allowance(&key, &level.after_breach)?;
        }
        Ok(())
    }
}

/// An allowance's clock fits its unit and its amount is at most a year.
fn check_allowance(key: &str, allowance: &Allowance) -> Result<(), DomainError> {
    if let (TimeUnit::WorkingHours | TimeUnit::WorkingDays, Some(Clock::AroundTheClock)) =
        (allowance.unit, allowance.clock)
    {
        return fail(
            format!("{key}.clock"),
            "working units run on the working clock, not 24x7".into(),
        );
    }
    let limit = match allowance.unit {
        TimeUnit::Seconds => 60 * 60 * 24 * 366,
        TimeUnit::Minutes => 60 * 24 * 366,
        TimeUnit::Hours | TimeUnit::WorkingHours => 24 * 366,
        TimeUnit::Days | TimeUnit::WorkingDays => 366,
    };
    if allowance.amount > limit {
        return fail(
            format!("{key}.amount"),
            format!("must be at most {limit} (one year)"),
        );
    }
    Ok(())
}

fn check_limits(limits: &LimitsConfig) -> Result<(), DomainError> {
    for (value, key) in [
        (limits.content_max_chars, "limits.content_max_chars"),
        (
            limits.attribute_key_max_chars,
            "limits.attribute_key_max_chars",
        ),
        (
            limits.attribute_value_max_chars,
            "limits.attribute_value_max_chars",
        ),
        (limits.field_max_chars, "limits.field_max_chars"),
        (limits.notes_max_per_ticket, "limits.notes_max_per_ticket"),
    ] {
        if value == 0 {
            return fail(key.into(), "must be at least 1".into());
        }
    }
    if limits.future_skew_seconds > 86_400 {
        return fail(
            "limits.future_skew_seconds".into(),
            "must be at most 86400 (one day)".into(),
        );
    }
    if limits.dedupe_window_hours > 24 * 366 {
        return fail(
            "limits.dedupe_window_hours".into(),
            "must be at most 8784 (one year)".into(),
        );
    }
    Ok(())
}

/// Checks `[suggestions]`; errors name the dotted key.
fn check_suggestions(suggestions: &SuggestionsConfig) -> Result<(), DomainError> {
    if suggestions.award_count > MAX_AWARD_COUNT {
        return Err(DomainError::Config {
            key: "suggestions.award_count".into(),
            reason: format!(
                "at most {MAX_AWARD_COUNT} winners a month, got {}",
                suggestions.award_count
            ),
        });
    }
    let reward = suggestions.award_reward.trim();
    if suggestions.award_count > 0 && reward.is_empty() {
        return Err(DomainError::Config {
            key: "suggestions.award_reward".into(),
            reason: "must name the reward while award_count is above 0".into(),
        });
    }
    if reward.chars().count() > crate::command::MAX_SHORT_CHARS {
        return Err(DomainError::Config {
            key: "suggestions.award_reward".into(),
            reason: format!(
                "must be at most {} characters",
                crate::command::MAX_SHORT_CHARS
            ),
        });
    }
    Ok(())
}

/// Checks `[rewards]`; errors name the dotted key.
fn check_rewards(rewards: &RewardsConfig) -> Result<(), DomainError> {
    if rewards.validity_days < MIN_REWARD_VALIDITY_DAYS {
        return fail(
            "rewards.validity_days".into(),
            format!(
                "a reward stays valid at least {MIN_REWARD_VALIDITY_DAYS} days, got {}",
                rewards.validity_days
            ),
        );
    }
    if rewards.enabled && rewards.amount == 0 {
        return fail(
            "rewards.amount".into(),
            "must be at least 1 while rewards are enabled".into(),
        );
    }
    Ok(())
}

/// Checks `[customers]`: every threshold and window is at least 1; errors name the dotted key.
fn check_customers(customers: &crate::config::CustomersConfig) -> Result<(), DomainError> {
    for (key, value) in [
        (
            "customers.participation_tickets",
            customers.participation_tickets,
        ),
        ("customers.participation_days", customers.participation_days),
        ("customers.complaint_count", customers.complaint_count),
        ("customers.complaint_days", customers.complaint_days),
    ] {
        if value == 0 {
            return fail(key.into(), "must be at least 1".into());
        }
    }
    Ok(())
}

/// Checks `[problems]`; errors name the dotted key.
fn check_problems(problems: &ProblemsConfig) -> Result<(), DomainError> {
    if problems.similar_window_days == 0 {
        return fail(
            "problems.similar_window_days".into(),
            "must be at least 1".into(),
        );
    }
    if !(problems.similar_threshold > 0.0 && problems.similar_threshold <= 1.0) {
        return fail(
            "problems.similar_threshold".into(),
            format!(
                "must be above 0 and at most 1, got {}",
                problems.similar_threshold
            ),
        );
    }
    Ok(())
}
