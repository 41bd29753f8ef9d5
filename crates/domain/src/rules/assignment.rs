//! Assignment of tickets to people: the department policies of the configuration
//! (`round_robin`, `fewest_open`, `none`), who is on duty, the choice of a person, and the
//! away flag kept in a person's own stream of the log.
//!
//! Everything here is a function of its inputs: the workflow reads the members' open tickets,
//! the away flags and the round-robin cursor from its projections and asks [`choose_assignee`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::config::AssignmentPolicy;
use crate::config::DepartmentConfig;
use crate::error::DomainError;
use crate::rules::calendar::BusinessCalendar;
use crate::types::{Actor, Role};

/// Checks a department's `members` and `assignment`: names not blank and listed once, and a
/// policy other than `none` only with members to choose from.
pub fn validate_department(id: &str, department: &DepartmentConfig) -> Result<(), DomainError> {
    let fail = |key: String, reason: String| Err(DomainError::Config { key, reason });
    for (index, member) in department.members.iter().enumerate() {
        let key = format!("departments.{id}.members[{index}]");
        if member.trim().is_empty() || member.trim() != member {
            return fail(
                key,
                "a member must be a principal name without spaces around it".into(),
            );
        }
        if member.chars().any(char::is_control) || member.chars().count() > 256 {
            return fail(
                key,
                "a member must be a principal name of at most 256 characters".into(),
            );
        }
        if department.members[..index].contains(member) {
            return fail(key, format!("member {member:?} is listed twice"));
        }
    }
    if !department.assignment.is_none() && department.members.is_empty() {
        return fail(
            format!("departments.{id}.assignment"),
            format!(
                "{} needs members to choose from: set departments.{id}.members",
                department.assignment.as_str()
            ),
        );
    }
    Ok(())
}

/// Whether a person takes new tickets at `now`: inside the business hours of the calendar
/// and not away.
pub fn is_on_duty(calendar: &BusinessCalendar, now: DateTime<Utc>, away: bool) -> bool {
    !away && calendar.is_working_instant(now)
}

/// The members on duty at `now`, in the configured order.
pub fn members_on_duty(
    members: &[String],
    away: &BTreeSet<String>,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
) -> BTreeSet<String> {
    members
        .iter()
        .filter(|member| is_on_duty(calendar, now, away.contains(member.as_str())))
        .cloned()
        .collect()
}

/// Who gets the next ticket of a department, or `None` when the policy is `none` or nobody is
/// on duty.
///
/// - `round_robin`: the members on duty, in the configured order, take turns; `cursor` is the
///   number of tickets the policy has given out in the department so far, so the same log
///   gives the same choices.
/// - `fewest_open`: the member on duty with the fewest open tickets (`open_counts`, absent
///   means none); on a tie the first in the configured order.
pub fn choose_assignee<'a>(
    policy: AssignmentPolicy,
    members: &'a [String],
    on_duty: &BTreeSet<String>,
    open_counts: &BTreeMap<String, u64>,
    cursor: u64,
) -> Option<&'a str> {
    let eligible: Vec<&'a String> = members
        .iter()
        .filter(|member| on_duty.contains(member.as_str()))
        .collect();
    if eligible.is_empty() {
        return None;
    }
    match policy {
        AssignmentPolicy::None => None,
        AssignmentPolicy::RoundRobin => {
            let length = eligible.len() as u64;
            let index = usize::try_from(cursor % length).unwrap_or(0);
            eligible.get(index).map(|member| member.as_str())
        }
        AssignmentPolicy::FewestOpen => eligible
            .iter()
            .enumerate()
            .min_by_key(|(index, member)| {
                (
                    open_counts.get(member.as_str()).copied().unwrap_or(0),
                    *index,
                )
            })
            .map(|(_, member)| member.as_str()),
    }
}

/// The stream id prefix of a person's stream (`person-<name>`): their away flag.
pub const PERSON_STREAM_PREFIX: &str = "person-";

/// The event type of a change of the away flag.
pub const AWAY_SET: &str = "away_set";

/// The stream of a person.
pub fn person_stream(person: &str) -> String {
    format!("{PERSON_STREAM_PREFIX}{person}")
}

/// The person of a person stream, or `None` for other streams.
pub fn person_of_stream(stream_id: &str) -> Option<&str> {
    stream_id.strip_prefix(PERSON_STREAM_PREFIX)
}

/// A person went away (`away = true`) or is back: the payload of an `away_set` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaySet {
    pub away: bool,
    /// The principal who set it: the person, their head, or an admin.
    pub by: String,
    pub at: DateTime<Utc>,
}

/// Checks a person name given to `SetAway`.
pub fn check_person(person: &str) -> Result<(), DomainError> {
    if person.trim().is_empty() {
        return Err(DomainError::invalid("person", "is required"));
    }
    if person.trim() != person
        || person.chars().any(char::is_control)
        || person.chars().count() > 256
    {
        return Err(DomainError::invalid(
            "person",
            "must be a principal name of at most 256 characters, without spaces around it",
        ));
    }
    Ok(())
}

/// Who may set a person away or back: the person themself, the head of a department the
/// person is a member of, and an admin (or the services).
pub fn authorize_set_away(
    actor: &Actor,
    person: &str,
    departments: &BTreeMap<String, DepartmentConfig>,
) -> Result<(), DomainError> {
    let allowed = match actor.role {
        Role::Admin | Role::System => true,
        Role::Agent => actor.principal == person,
        Role::Head => {
            actor.principal == person
                || actor
                    .department
                    .as_deref()
                    .and_then(|department| departments.get(department))
                    .is_some_and(|config| config.members.iter().any(|member| member == person))
        }
        _ => false,
    };
    DomainError::unless_allowed(allowed, || {
        format!(
            "{} ({}) may not set {person} away: only the person, their head or an admin may",
            actor.principal, actor.role
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CalendarConfig;
    use chrono::TimeZone;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    fn all_on_duty(members: &[String]) -> BTreeSet<String> {
        members.iter().cloned().collect()
    }

    fn calendar() -> BusinessCalendar {
        BusinessCalendar::from_config(&CalendarConfig::default()).expect("default calendar")
    }

    /// Tuesday 2025-03-04 10:00 in China (02:00 UTC): a working instant of the default
    /// calendar.
    fn working() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 4, 2, 0, 0)
            .single()
            .expect("instant")
    }

    #[test]
    fn round_robin_spreads_a_hundred_tickets_evenly() {
        let members = names(&["a", "b", "c", "d"]);
        let on_duty = all_on_duty(&members);
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for cursor in 0..100 {
            let chosen = choose_assignee(
                AssignmentPolicy::RoundRobin,
                &members,
                &on_duty,
                &counts,
                cursor,
            )
            .expect("someone is on duty");
            *counts.entry(chosen.to_owned()).or_default() += 1;
        }
        assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![25; 4]);
    }

    #[test]
    fn fewest_open_picks_the_least_loaded_and_evens_out() {
        let members = names(&["a", "b", "c", "d"]);
        let on_duty = all_on_duty(&members);
        let mut counts: BTreeMap<String, u64> = [
            ("a".to_owned(), 7),
            ("b".to_owned(), 2),
            ("c".to_owned(), 5),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            choose_assignee(AssignmentPolicy::FewestOpen, &members, &on_duty, &counts, 0),
            Some("d")
        );
        for _ in 0..100 {
            let chosen =
                choose_assignee(AssignmentPolicy::FewestOpen, &members, &on_duty, &counts, 0)
                    .expect("someone is on duty")
                    .to_owned();
            *counts.entry(chosen).or_default() += 1;
        }
        // 114 open tickets over four people: nobody more than one above anybody else.
        let loads: Vec<u64> = members.iter().map(|member| counts[member]).collect();
        assert_eq!(loads.iter().sum::<u64>(), 114);
        let spread = loads.iter().max().unwrap_or(&0) - loads.iter().min().unwrap_or(&0);
        assert!(spread <= 1, "loads {loads:?}");
    }

    #[test]
    fn fewest_open_breaks_ties_by_the_configured_order() {
        let members = names(&["c", "a", "b"]);
        let on_duty = all_on_duty(&members);
        assert_eq!(
            choose_assignee(
                AssignmentPolicy::FewestOpen,
                &members,
                &on_duty,
                &BTreeMap::new(),
                9
            ),
            Some("c")
        );
    }

    #[test]
    fn nobody_away_or_off_duty_receives_a_ticket() {
        let members = names(&["a", "b", "c", "d"]);
        let away: BTreeSet<String> = ["b".to_owned()].into_iter().collect();
        let calendar = calendar();
        let on_duty = members_on_duty(&members, &away, &calendar, working());
        for policy in [AssignmentPolicy::RoundRobin, AssignmentPolicy::FewestOpen] {
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            for cursor in 0..99 {
                let chosen = choose_assignee(policy, &members, &on_duty, &counts, cursor)
                    .expect("three are on duty")
                    .to_owned();
                *counts.entry(chosen).or_default() += 1;
            }
            assert_eq!(counts.get("b"), None, "{policy:?}");
            assert_eq!(counts.values().copied().collect::<Vec<_>>(), vec![33; 3]);
        }
        // Saturday: nobody is on duty, so nobody is chosen.
        let saturday = Utc
            .with_ymd_and_hms(2025, 3, 8, 2, 0, 0)
            .single()
            .expect("instant");
        let on_duty = members_on_duty(&members, &BTreeSet::new(), &calendar, saturday);
        assert!(on_duty.is_empty());
        assert_eq!(
            choose_assignee(
                AssignmentPolicy::RoundRobin,
                &members,
                &on_duty,
                &BTreeMap::new(),
                0
            ),
            None
        );
        // 22:00 on a working day: off duty too.
        let night = Utc
            .with_ymd_and_hms(2025, 3, 4, 14, 0, 0)
            .single()
            .expect("instant");
        assert!(members_on_duty(&members, &BTreeSet::new(), &calendar, night).is_empty());
    }

    #[test]
    fn the_none_policy_never_chooses() {
        let members = names(&["a"]);
        assert_eq!(
            choose_assignee(
                AssignmentPolicy::None,
                &members,
                &all_on_duty(&members),
                &BTreeMap::new(),
                0
            ),
            None
        );
    }

    fn assert_names(error: &DomainError, key: &str) {
        assert!(error.to_string().contains(key), "{error}");
    }

    #[test]
    fn configuration_errors_name_the_key() {
        let mut department = DepartmentConfig {
            name_zh: "技术部".into(),
            name_en: "Technical".into(),
            assignment: AssignmentPolicy::RoundRobin,
            ..DepartmentConfig::default()
        };
        let error = validate_department("technical", &department).expect_err("no members");
        assert_names(&error, "departments.technical.assignment");
        department.members = names(&["a", "a"]);
        let error = validate_department("technical", &department).expect_err("twice");
        assert_names(&error, "departments.technical.members[1]");
        let error = crate::config::DomainConfig::from_toml_str(
            "[departments.technical]\nassignment = \"random\"\n",
        )
        .expect_err("unknown policy");
        assert_names(&error, "departments.technical.assignment");
        let config = crate::config::DomainConfig::from_toml_str(
            "[departments.technical]\nmembers = [\"a\", \"b\"]\nassignment = \"fewest_open\"\n",
        )
        .expect("valid");
        assert_eq!(
            config.departments["technical"].assignment,
            AssignmentPolicy::FewestOpen
        );
        assert_eq!(config.departments["technical"].name_en, "Technical");
    }

    #[test]
    fn set_away_is_for_the_person_their_head_and_admins() {
        let config = crate::config::DomainConfig::from_toml_str(
            "[departments.technical]\nmembers = [\"wang.wu\"]\n",
        )
        .expect("valid");
        let actor = |principal: &str, role: Role, department: Option<&str>| Actor {
            principal: principal.into(),
            role,
            department: department.map(str::to_owned),
        };
        let departments = &config.departments;
        let agent = actor("wang.wu", Role::Agent, Some("technical"));
        assert!(authorize_set_away(&agent, "wang.wu", departments).is_ok());
        let colleague = actor("li.si", Role::Agent, Some("technical"));
        assert!(authorize_set_away(&colleague, "wang.wu", departments).is_err());
        let head = actor("zhao.liu", Role::Head, Some("technical"));
        assert!(authorize_set_away(&head, "wang.wu", departments).is_ok());
        let other_head = actor("qian.qi", Role::Head, Some("logistics"));
        assert!(authorize_set_away(&other_head, "wang.wu", departments).is_err());
        let admin = actor("admin", Role::Admin, None);
        assert!(authorize_set_away(&admin, "wang.wu", departments).is_ok());
        let manager = actor("manager", Role::Manager, None);
        assert!(authorize_set_away(&manager, "wang.wu", departments).is_err());
    }
}
