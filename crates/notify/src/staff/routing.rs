//! Who is alerted of what, pure: the event that triggers an alert ([`Trigger`]), the people of
//! the tokens file with their role and department ([`Person`]), who has a contact route, which
//! departments have a group robot, and the escalation chains ([`Roster`]). No I/O, no clock.
//!
//! | trigger | recipients |
//! | --- | --- |
//! | `dispatched` (first dispatch or transfer) | the department's group robot, else its agents |
//! | `assigned` (by someone else) | the assignee |
//! | `sla_warning` | the assignee, else the department (robot or agents) |
//! | `sla_breached` | the assignee, else the department; and the department's heads |
//! | `sla_escalated`, `escalated` (level n) | the chain's contact of level n |
//!
//! Only people with a route (`[[notify.staff]]`) and departments with a robot
//! (`[notify.departments.<id>]`) are ever named; each recipient at most once per event.

use chrono::{DateTime, Utc};
use domain::event::{AssignmentReason, Event};
use domain::types::{Deadline, Role};
use std::collections::{BTreeMap, BTreeSet};

/// The log event types that may trigger a staff alert.
pub const ALERT_EVENT_TYPES: &[&str] = &[
    "dispatched",
    "assigned",
    "sla_warning",
    "sla_breached",
    "sla_escalated",
    "escalated",
];

/// What happened that staff should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A ticket arrived in `department`'s queue (dispatched or transferred there).
    NewTicket { department: String },
    /// The ticket was given to `assignee`; `by_self` when they took it themselves.
    Assigned { assignee: String, by_self: bool },
    /// A deadline is near (超时预警).
    Warning {
        deadline: Deadline,
        due: DateTime<Utc>,
    },
    /// A deadline passed.
    Breached {
        deadline: Deadline,
        due: DateTime<Utc>,
    },
    /// Escalation level `level` was reached (by the SLA timers, or by hand without a deadline).
    Escalated {
        deadline: Option<Deadline>,
        level: u8,
    },
}

impl Trigger {
    /// The trigger of a log event, if it is one.
    pub fn of(event: &Event) -> Option<Trigger> {
        Some(match event {
            Event::Dispatched(dispatched) => Trigger::NewTicket {
                department: dispatched.department.clone(),
            },
            Event::Assigned(assigned) => Trigger::Assigned {
                assignee: assigned.assignee.clone(),
                by_self: assigned.reason == AssignmentReason::Claimed
                    || assigned.by == assigned.assignee,
            },
            Event::SlaWarning(mark) => Trigger::Warning {
                deadline: mark.deadline,
                due: mark.due,
            },
            Event::SlaBreached(mark) => Trigger::Breached {
                deadline: mark.deadline,
                due: mark.due,
            },
            Event::SlaEscalated(escalated) => Trigger::Escalated {
                deadline: Some(escalated.deadline),
                level: escalated.level,
            },
            Event::Escalated(escalated) => Trigger::Escalated {
                deadline: None,
                level: escalated.level,
            },
            _ => return None,
        })
    }

    /// The alert's stable name (in `notify.db`, the JSON body and the logs).
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::NewTicket { .. } => "new_ticket",
            Trigger::Assigned { .. } => "assigned",
            Trigger::Warning { .. } => "sla_warning",
            Trigger::Breached { .. } => "sla_breached",
            Trigger::Escalated { .. } => "escalated",
        }
    }
}

/// One principal of the tokens file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
}

/// Who is alerted: a person (by principal name) or a department's group robot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Recipient {
    Person(String),
    Department(String),
}

/// The prefix of a department robot's recipient key.
const DEPARTMENT_PREFIX: &str = "department:";

impl Recipient {
    /// The key in `notify.db` and on the ticket: the principal name, or `department:<id>`.
    pub fn key(&self) -> String {
        match self {
            Recipient::Person(name) => name.clone(),
            Recipient::Department(department) => format!("{DEPARTMENT_PREFIX}{department}"),
        }
    }

    /// The recipient of a key made by [`Recipient::key`].
    pub fn from_key(key: &str) -> Recipient {
        match key.strip_prefix(DEPARTMENT_PREFIX) {
            Some(department) => Recipient::Department(department.to_owned()),
            None => Recipient::Person(key.to_owned()),
        }
    }
}

/// What the routing needs to know of the ticket, as it is now.
#[derive(Debug, Clone, Copy, Default)]
pub struct TicketFacts<'a> {
    /// The lead department.
    pub department: Option<&'a str>,
    /// The person working on it.
    pub assignee: Option<&'a str>,
}

/// The people, their routes, the robots and the escalation chains.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    /// The principals of the tokens file (empty without one).
    pub people: Vec<Person>,
    /// The principal names with a route.
    pub routed: BTreeSet<String>,
    /// The departments with a group robot.
    pub robots: BTreeSet<String>,
    /// `[departments.<id>] escalation`: a principal name or `role:<role>` per level.
    pub escalation: BTreeMap<String, Vec<String>>,
    /// `[[sla.escalation]] notify`: the role of each level where a department names none.
    pub chain: Vec<Role>,
}

impl Roster {
    /// Who is alerted of `trigger` on a ticket in the state `ticket`, in a stable order, each
    /// once.
    pub fn recipients(&self, trigger: &Trigger, ticket: &TicketFacts<'_>) -> Vec<Recipient> {
        let mut out = Vec::new();
        match trigger {
            Trigger::NewTicket { department } => self.team(department, &mut out),
            Trigger::Assigned { assignee, by_self } => {
                if !by_self {
                    self.person(assignee, &mut out);
                }
            }
            Trigger::Warning { .. } => self.workers(ticket, &mut out),
            Trigger::Breached { .. } => {
                self.workers(ticket, &mut out);
                if let Some(department) = ticket.department {
                    self.with_role(Role::Head, Some(department), &mut out);
                }
            }
            Trigger::Escalated { level, .. } => {
                if let Some(contact) = self.escalation_contact(ticket.department, *level) {
                    self.contact(&contact, ticket.department, &mut out);
                }
            }
        }
        let mut seen = BTreeSet::new();
        out.retain(|recipient| seen.insert(recipient.clone()));
        out
    }

    /// The contact of escalation `level` (1 = first): the department's own list, else the
    /// role of the SLA policy's chain, as `role:<role>`.
    pub fn escalation_contact(&self, department: Option<&str>, level: u8) -> Option<String> {
        let index = usize::from(level).checked_sub(1)?;
        department
            .and_then(|department| self.escalation.get(department))
            .and_then(|contacts| contacts.get(index))
            .cloned()
            .or_else(|| Some(format!("role:{}", self.chain.get(index)?)))
    }

    /// Whoever works on the ticket: the assignee when reachable, else its department.
    fn workers(&self, ticket: &TicketFacts<'_>, out: &mut Vec<Recipient>) {
        if let Some(assignee) = ticket.assignee.filter(|name| self.routed.contains(*name)) {
            out.push(Recipient::Person(assignee.to_owned()));
        } else if let Some(department) = ticket.department {
            self.team(department, out);
        }
    }

    /// A department: its group robot, else each of its agents with a route.
    fn team(&self, department: &str, out: &mut Vec<Recipient>) {
        if self.robots.contains(department) {
            out.push(Recipient::Department(department.to_owned()));
        } else {
            self.with_role(Role::Agent, Some(department), out);
        }
    }

    fn person(&self, name: &str, out: &mut Vec<Recipient>) {
        if self.routed.contains(name) {
            out.push(Recipient::Person(name.to_owned()));
        }
    }

    /// The people of `role` with a route; of `department` for agents and heads.
    fn with_role(&self, role: Role, department: Option<&str>, out: &mut Vec<Recipient>) {
        let mut names: Vec<&str> = self
            .people
            .iter()
            .filter(|person| person.role == role)
            .filter(|person| {
                !matches!(role, Role::Agent | Role::Head)
                    || person.department.as_deref() == department
            })
            .map(|person| person.name.as_str())
            .filter(|name| self.routed.contains(*name))
            .collect();
        names.sort_unstable();
        out.extend(
            names
                .into_iter()
                .map(|name| Recipient::Person(name.to_owned())),
        );
    }

    /// A chain contact: `role:<role>` (of the ticket's department for agents and heads) or a
    /// principal name.
    fn contact(&self, contact: &str, department: Option<&str>, out: &mut Vec<Recipient>) {
        match contact.strip_prefix("role:") {
            Some(role) => {
                if let Ok(role) = Role::parse("role", role) {
                    if matches!(role, Role::Agent | Role::Head) && department.is_none() {
                        return;
                    }
                    self.with_role(role, department, out);
                }
            }
            None => self.person(contact, out),
        }
    }
}

/// The instant an alert may go out: at once for urgent tickets or without quiet hours,
/// else the next working instant of the calendar (now, inside working time).
pub fn release_at(
    calendar: &domain::rules::calendar::BusinessCalendar,
    now: DateTime<Utc>,
    urgent: bool,
    quiet_hours: bool,
) -> DateTime<Utc> {
    if urgent || !quiet_hours {
        now
    } else {
        calendar.next_working_instant(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use domain::rules::config::CalendarConfig;

    fn person(name: &str, role: Role, department: Option<&str>) -> Person {
        Person {
            name: name.to_owned(),
            role,
            department: department.map(str::to_owned),
        }
    }

    /// Technical has two agents and a head, logistics an agent and a group robot, plus a
    /// manager; everybody but `no.route` has a route.
    fn roster() -> Roster {
        let people = vec![
            person("wang.wu", Role::Agent, Some("technical")),
            person("li.ming", Role::Agent, Some("technical")),
            person("no.route", Role::Agent, Some("technical")),
            person("zhao.liu", Role::Head, Some("technical")),
            person("li.si", Role::Agent, Some("logistics")),
            person("qian.qi", Role::Head, Some("logistics")),
            person("boss", Role::Manager, None),
        ];
        let routed = [
            "wang.wu",
            "li.ming",
            "zhao.liu",
            "li.si",
            "qian.qi",
            "boss",
            "duty.officer",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        Roster {
            people,
            routed,
            robots: ["logistics".to_owned()].into_iter().collect(),
            escalation: [(
                "logistics".to_owned(),
                vec!["duty.officer".to_owned(), "role:manager".to_owned()],
            )]
            .into_iter()
            .collect(),
            chain: vec![Role::Head, Role::Manager],
        }
    }

    fn names(recipients: &[Recipient]) -> Vec<String> {
        recipients.iter().map(Recipient::key).collect()
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 2, 0, 0)
            .single()
            .expect("instant")
    }

    const TECHNICAL: TicketFacts<'static> = TicketFacts {
        department: Some("technical"),
        assignee: None,
    };

    #[test]
    fn a_new_ticket_goes_to_the_robot_else_to_each_agent_with_a_route() {
        let roster = roster();
        let new_ticket = |department: &str| Trigger::NewTicket {
            department: department.to_owned(),
        };
        assert_eq!(
            names(&roster.recipients(&new_ticket("technical"), &TECHNICAL)),
            ["li.ming", "wang.wu"],
            "agents only: not the head, not an agent without a route"
        );
        assert_eq!(
            names(&roster.recipients(&new_ticket("logistics"), &TicketFacts::default())),
            ["department:logistics"]
        );
        assert!(roster
            .recipients(&new_ticket("marketing"), &TicketFacts::default())
            .is_empty());
    }

    #[test]
    fn an_assignment_reaches_the_assignee_unless_they_took_it_themselves() {
        let roster = roster();
        let assigned = |assignee: &str, by_self| Trigger::Assigned {
            assignee: assignee.to_owned(),
            by_self,
        };
        assert_eq!(
            names(&roster.recipients(&assigned("wang.wu", false), &TECHNICAL)),
            ["wang.wu"]
        );
        assert!(roster
            .recipients(&assigned("wang.wu", true), &TECHNICAL)
            .is_empty());
        assert!(roster
            .recipients(&assigned("no.route", false), &TECHNICAL)
            .is_empty());
    }

    #[test]
    fn a_warning_reaches_the_assignee_else_the_department() {
        let roster = roster();
        let warning = Trigger::Warning {
            deadline: Deadline::Respond,
            due: at(),
        };
        let assigned = TicketFacts {
            assignee: Some("li.ming"),
            ..TECHNICAL
        };
        assert_eq!(names(&roster.recipients(&warning, &assigned)), ["li.ming"]);
        assert_eq!(
            names(&roster.recipients(&warning, &TECHNICAL)),
            ["li.ming", "wang.wu"]
        );
        let unreachable_assignee = TicketFacts {
            assignee: Some("no.route"),
            ..TECHNICAL
        };
        assert_eq!(
            names(&roster.recipients(&warning, &unreachable_assignee)),
            ["li.ming", "wang.wu"],
            "an assignee nobody can reach does not swallow the warning"
        );
    }

    #[test]
    fn a_breach_reaches_the_workers_and_the_heads_of_the_department_only() {
        let roster = roster();
        let breach = Trigger::Breached {
            deadline: Deadline::Respond,
            due: at(),
        };
        let assigned = TicketFacts {
            assignee: Some("wang.wu"),
            ..TECHNICAL
        };
        assert_eq!(
            names(&roster.recipients(&breach, &assigned)),
            ["wang.wu", "zhao.liu"]
        );
        let logistics = TicketFacts {
            department: Some("logistics"),
            assignee: None,
        };
        assert_eq!(
            names(&roster.recipients(&breach, &logistics)),
            ["department:logistics", "qian.qi"]
        );
    }

    #[test]
    fn each_escalation_step_reaches_its_chain_contact() {
        let roster = roster();
        let level = |level| Trigger::Escalated {
            deadline: Some(Deadline::Resolve),
            level,
        };
        // The SLA policy's chain: the department's head, then the managers.
        assert_eq!(
            names(&roster.recipients(&level(1), &TECHNICAL)),
            ["zhao.liu"]
        );
        assert_eq!(names(&roster.recipients(&level(2), &TECHNICAL)), ["boss"]);
        assert!(roster.recipients(&level(3), &TECHNICAL).is_empty());
        // A department's own list: a person, then a role.
        let logistics = TicketFacts {
            department: Some("logistics"),
            assignee: None,
        };
        assert_eq!(
            names(&roster.recipients(&level(1), &logistics)),
            ["duty.officer"]
        );
        assert_eq!(names(&roster.recipients(&level(2), &logistics)), ["boss"]);
        // A head is of a department: a ticket without one reaches no head.
        assert!(roster
            .recipients(&level(1), &TicketFacts::default())
            .is_empty());
    }

    #[test]
    fn recipient_keys_round_trip() {
        for recipient in [
            Recipient::Person("zhao.liu".to_owned()),
            Recipient::Department("technical".to_owned()),
        ] {
            assert_eq!(Recipient::from_key(&recipient.key()), recipient);
        }
    }

    fn calendar() -> domain::rules::calendar::BusinessCalendar {
        let config = CalendarConfig {
            utc_offset: "+08:00".to_owned(),
            working_hours: vec!["09:00-12:00".to_owned(), "13:00-18:00".to_owned()],
            weekend: vec!["sat".to_owned(), "sun".to_owned()],
            holidays: vec!["2026-12-25".to_owned()],
            workdays: Vec::new(),
            version: None,
        };
        domain::rules::calendar::BusinessCalendar::from_config(&config).expect("calendar")
    }

    fn beijing(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        chrono::FixedOffset::east_opt(8 * 3600)
            .expect("offset")
            .with_ymd_and_hms(2026, 12, day, hour, minute, 0)
            .single()
            .expect("instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn outside_working_time_an_alert_waits_for_the_next_working_minute_unless_urgent() {
        let calendar = calendar();
        // Monday 7 December 2026, 10:00 in Beijing: working time, at once.
        let working = beijing(7, 10, 0);
        assert_eq!(release_at(&calendar, working, false, true), working);
        // Lunch break: 13:00 the same day.
        assert_eq!(
            release_at(&calendar, beijing(7, 12, 30), false, true),
            beijing(7, 13, 0)
        );
        // Friday evening: Monday 09:00.
        assert_eq!(
            release_at(&calendar, beijing(11, 20, 15), false, true),
            beijing(14, 9, 0)
        );
        // Thursday 24th evening, Friday 25th a holiday: Monday 28th.
        assert_eq!(
            release_at(&calendar, beijing(24, 18, 0), false, true),
            beijing(28, 9, 0)
        );
        // Urgent tickets, and quiet hours switched off, go at once.
        let night = beijing(11, 23, 59);
        assert_eq!(release_at(&calendar, night, true, true), night);
        assert_eq!(release_at(&calendar, night, false, false), night);
    }
}
