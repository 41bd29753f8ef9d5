//! The checks serde cannot make: cross-references, ranges, calendar dates and templates.

use super::types::{Allowance, Clock, DomainConfig, TimeUnit};
use crate::error::DomainError;
use crate::types::{ContentType, Kind, Priority, Role};

impl DomainConfig {
    /// Checks the cross-references and ranges that serde cannot: departments, channels,
    /// thresholds, calendar dates and notice templates.
    pub fn validate(&self) -> Result<(), DomainError> {
        self.rewards.validate()?;
        self.problems.validate()?;
        let fail = |key: String, reason: String| Err(DomainError::Config { key, reason });
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
            crate::rules::assignment::validate_department(id, department)?;
        }
        self.validate_classification()?;
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
        self.validate_sla()?;
        crate::rules::calendar::BusinessCalendar::from_config(&self.calendar)?;
        if !(1..=5).contains(&self.review.satisfied_threshold) {
            return fail(
                "review.satisfied_threshold".into(),
                "must be between 1 and 5".into(),
            );
        }
        let limits = &self.limits;
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
        crate::notice::Notices::from_config(&self.notices, &self.calendar)?;
        Ok(())
    }

    fn validate_classification(&self) -> Result<(), DomainError> {
        let classification = &self.classification;
        let fail = |key: String, reason: &str| {
            Err(DomainError::Config {
                key,
                reason: reason.to_owned(),
            })
        };
        let threshold = classification.confidence_threshold;
        if !(0.0..=1.0).contains(&threshold) {
            return fail(
                "classification.confidence_threshold".into(),
                "must be between 0.0 and 1.0",
            );
        }
        let mut lists: Vec<(String, &Vec<String>)> = vec![
            ("classification.products".into(), &classification.products),
            (
                "classification.priorities.urgent".into(),
                &classification.priorities.urgent,
            ),
            (
                "classification.priorities.high".into(),
                &classification.priorities.high,
            ),
            (
                "classification.global_keywords".into(),
                &classification.global_keywords,
            ),
            (
                "classification.complex_keywords".into(),
                &classification.complex_keywords,
            ),
        ];
        for kind in Kind::ALL {
            lists.push((
                format!("classification.kinds.{kind}"),
                match kind {
                    Kind::Suggestion => &classification.kinds.suggestion,
                    Kind::Complaint => &classification.kinds.complaint,
                    Kind::Problem => &classification.kinds.problem,
                    Kind::Inquiry => &classification.kinds.inquiry,
                    Kind::Praise => &classification.kinds.praise,
                },
            ));
        }
        for content_type in ContentType::ALL {
            lists.push((
                format!("classification.content_types.{content_type}"),
                match content_type {
                    ContentType::Product => &classification.content_types.product,
                    ContentType::Service => &classification.content_types.service,
                    ContentType::Process => &classification.content_types.process,
                    ContentType::Experience => &classification.content_types.experience,
                },
            ));
        }
        for (key, list) in lists {
            if let Some(position) = list
                .iter()
                .position(|word| word.trim().trim_end_matches('*').trim().is_empty())
            {
                return fail(format!("{key}[{position}]"), "a keyword must not be empty");
            }
        }
        for kind in Kind::ALL {
            if !classification.kind_precedence.contains(kind) {
                return Err(DomainError::Config {
                    key: "classification.kind_precedence".into(),
                    reason: format!("must list every kind, {kind} is missing"),
                });
            }
        }
        for content_type in ContentType::ALL {
            if !classification.content_precedence.contains(content_type) {
                return Err(DomainError::Config {
                    key: "classification.content_precedence".into(),
                    reason: format!("must list every content type, {content_type} is missing"),
                });
            }
        }
        if classification.global_min_departments < 2 {
            return fail(
                "classification.global_min_departments".into(),
                "must be at least 2",
            );
        }
        Ok(())
    }

    fn validate_sla(&self) -> Result<(), DomainError> {
        let sla = &self.sla;
        let check = |key: String, allowance: &Allowance| -> Result<(), DomainError> {
            if let (TimeUnit::WorkingHours | TimeUnit::WorkingDays, Some(Clock::AroundTheClock)) =
                (allowance.unit, allowance.clock)
            {
                return Err(DomainError::Config {
                    key: format!("{key}.clock"),
                    reason: "working units run on the working clock, not 24x7".into(),
                });
            }
            let limit = match allowance.unit {
                TimeUnit::Seconds => 60 * 60 * 24 * 366,
                TimeUnit::Minutes => 60 * 24 * 366,
                TimeUnit::Hours | TimeUnit::WorkingHours => 24 * 366,
                TimeUnit::Days | TimeUnit::WorkingDays => 366,
            };
            if allowance.amount > limit {
                return Err(DomainError::Config {
                    key: format!("{key}.amount"),
                    reason: format!("must be at most {limit} (one year)"),
                });
            }
            Ok(())
        };
        for priority in Priority::ALL {
            let row = sla.row(*priority);
            for (name, allowance) in [("respond", &row.respond), ("resolve", &row.resolve)] {
                let key = format!("sla.{priority}.{name}");
                check(key.clone(), allowance)?;
                if allowance.amount == 0 {
                    return Err(DomainError::Config {
                        key: format!("{key}.amount"),
                        reason: "must be at least 1".into(),
                    });
                }
            }
        }
        for (name, allowance) in [
            ("respond", &sla.complaint.respond),
            ("resolve", &sla.complaint.resolve),
        ] {
            let key = format!("sla.complaint.{name}");
            check(key.clone(), allowance)?;
            if allowance.amount == 0 {
                return Err(DomainError::Config {
                    key: format!("{key}.amount"),
                    reason: "must be at least 1".into(),
                });
            }
        }
        if !(sla.warning_threshold > 0.0 && sla.warning_threshold < 1.0) {
            return Err(DomainError::Config {
                key: "sla.warning_threshold".into(),
                reason: "must be greater than 0.0 and less than 1.0".into(),
            });
        }
        for (index, level) in sla.escalation.iter().enumerate() {
            check(
                format!("sla.escalation[{index}].after_breach"),
                &level.after_breach,
            )?;
        }
        Ok(())
    }
}
