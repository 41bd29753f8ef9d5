//! Property tests of the ticket aggregate: random command sequences against random fixed
//! policies. Whatever the commands, the events `decide` returns fold into a valid ticket,
//! one version per event, steps only move along the allowed edges, archived tickets accept
//! only retention and erasure events, and `apply` is deterministic.

mod support;

use chrono::{DateTime, Duration, Utc};
use domain::aggregate::{allowed_next_steps, apply, decide, fold};
use domain::command::{ClassifyCommand, Command, Submission};
use domain::event::{Event, SCHEMA_VERSION};
use domain::ids::{FeedbackId, TicketIdGenerator};
use domain::ticket::{Approval, Customer, Ticket};
use domain::types::{
    Classification, ContentType, Deadline, Deadlines, Kind, Outcome, Policy, Priority, Route,
    Scope, Step,
};
use domain::DomainError;
use proptest::prelude::*;
use proptest::sample::select;
use support::t0;

const DEPARTMENTS: &[&str] = &["product", "logistics", "quality"];

/// A policy with fixed answers chosen by the test case.
#[derive(Debug, Clone)]
struct FixedPolicy {
    kind: Kind,
    priority: Priority,
    confident: bool,
    route: Option<&'static str>,
    approval_required: bool,
    threshold: u8,
}

impl Policy for FixedPolicy {
    fn classify(&self, _content: &str, _product: Option<&str>) -> Classification {
        Classification {
            kind: self.kind,
            content_type: ContentType::Product,
            priority: self.priority,
            scope: Scope::Local,
            keywords: vec!["slow".to_owned()],
            confidence: if self.confident { 0.95 } else { f64::NAN },
            confident: self.confident,
            complex: false,
            terms: Vec::new(),
        }
    }

    fn route(&self, _classification: &Classification, _product: Option<&str>) -> Option<Route> {
        self.route.map(|department| Route {
            department: department.to_owned(),
            helpers: vec!["quality".to_owned(), department.to_owned()],
            rule: String::new(),
        })
    }

    fn deadlines(&self, received_at: DateTime<Utc>, classification: &Classification) -> Deadlines {
        let hours = match classification.priority {
            Priority::Urgent => 1,
            Priority::High => 2,
            Priority::Medium => 24,
            Priority::Low => 72,
        };
        Deadlines {
            respond_by: received_at + Duration::hours(hours),
            resolve_by: received_at + Duration::hours(hours * 4),
            warn_respond_at: received_at + Duration::minutes(hours * 45),
            warn_resolve_at: received_at + Duration::minutes(hours * 180),
            policy_version: "sla-1".to_owned(),
            calendar_version: "calendar-1".to_owned(),
        }
    }

    fn requires_approval(&self, _classification: &Classification, _outcome: Outcome) -> bool {
        self.approval_required
    }

    fn satisfied_threshold(&self) -> u8 {
        self.threshold
    }

    fn is_department(&self, department: &str) -> bool {
        DEPARTMENTS.contains(&department)
    }

    fn version(&self) -> String {
        "rules-1".to_owned()
    }
}

fn submission() -> Submission {
    Submission {
        feedback_id: FeedbackId::new(t0(), [9; 10]),
        ticket_id: TicketIdGenerator::new(4).next(t0()),
        channel: "web".to_owned(),
        customer: Customer {
            email: Some("a@example.com".to_owned()),
            ..Customer::default()
        },
        ..support::submission(9, t0(), "the app is slow")
    }
}

fn policies() -> impl Strategy<Value = FixedPolicy> {
    (
        select(Kind::ALL.to_vec()),
        select(Priority::ALL.to_vec()),
        any::<bool>(),
        select(vec![
            None,
            Some("logistics"),
            Some("product"),
            Some("ghost"),
        ]),
        any::<bool>(),
        1u8..=5,
    )
        .prop_map(
            |(kind, priority, confident, route, approval_required, threshold)| FixedPolicy {
                kind,
                priority,
                confident,
                route,
                approval_required,
                threshold,
            },
        )
}

fn texts() -> impl Strategy<Value = String> {
    select(vec!["", " ", "looked into it", "too costly"]).prop_map(str::to_owned)
}

fn deadlines() -> impl Strategy<Value = Deadline> {
    select(Deadline::ALL.to_vec())
}

fn commands() -> impl Strategy<Value = Command> {
    let department =
        select(vec!["product", "logistics", "quality", "ghost"]).prop_map(str::to_owned);
    let helpers = proptest::collection::vec(
        select(vec!["product", "logistics", "quality"]).prop_map(str::to_owned),
        0..3,
    );
    prop_oneof![
        2 => (select(Kind::ALL.to_vec()), select(Priority::ALL.to_vec()), any::<bool>())
            .prop_map(|(kind, priority, complex)| Command::Classify(ClassifyCommand {
                kind,
                content_type: ContentType::Service,
                priority,
                scope: Scope::Global,
                keywords: vec!["refund".to_owned()],
                complex,
                reason: String::new(),
                department: None,
            })),
        3 => (department, helpers, texts())
            .prop_map(|(department, helpers, reason)| Command::Dispatch { department, helpers, reason }),
        3 => texts().prop_map(|message| Command::Acknowledge { message }),
        2 => (texts(), any::<bool>()).prop_map(|(text, to_customer)| Command::AddNote { text, to_customer }),
        6 => (select(Outcome::ALL.to_vec()), texts())
            .prop_map(|(outcome, reason)| Command::ProposeSolution {
                outcome,
                text: "done".to_owned(),
                reason,
            }),
        3 => (any::<bool>(), texts()).prop_map(|(approve, comment)| Command::ApproveSolution { approve, comment }),
        5 => (0u8..=6).prop_map(|satisfaction| Command::RecordReview { satisfaction, comment: String::new() }),
        3 => Just(Command::Archive),
        1 => texts().prop_map(|reason| Command::Escalate { reason }),
        2 => texts().prop_map(|reason| Command::PauseSla { reason }),
        2 => Just(Command::ResumeSla),
        2 => deadlines().prop_map(|deadline| Command::RaiseSlaWarning { deadline }),
        2 => deadlines().prop_map(|deadline| Command::RecordSlaBreach { deadline }),
        1 => (deadlines(), 0u8..4).prop_map(|(deadline, level)| Command::EscalateSla { deadline, level, to: None }),
        1 => Just(Command::ExpireRetention),
        1 => Just(Command::EraseCustomer),
        1 => Just(Command::Receive(Box::new(submission()))),
        3 => (0u8..=6, 1u8..=5, 1u8..=5).prop_map(|(feasibility, cost, benefit)| Command::EvaluateSuggestion {
            feasibility,
            cost,
            benefit,
            note: String::new(),
        }),
        1 => (1u32..=28).prop_map(|day| Command::MarkDelivered {
            delivered_on: chrono::NaiveDate::from_ymd_opt(2026, 3, day).unwrap_or_default(),
            note: String::new(),
        }),
    ]
}

/// What every ticket folded from decided events must satisfy.
fn check_valid(ticket: &Ticket, policy: &FixedPolicy) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{what}: {ticket:#?}"));
    if !ticket.exists() {
        return fail("a received ticket exists");
    }
    if ticket.ticket_id.is_none() || ticket.received_at.is_none() || ticket.respond_by.is_none() {
        return fail("a received ticket has an id, a receipt time and deadlines");
    }
    if ticket.step == Step::Receive {
        return fail("a received ticket left step receive");
    }
    let past = |step: Step| ticket.step >= step;
    if past(Step::Dispatch) && (ticket.kind.is_none() || ticket.priority.is_none()) {
        return fail("a ticket past classify is classified");
    }
    if past(Step::Handle) {
        let Some(department) = ticket.department.as_deref() else {
            return fail("a ticket past dispatch has a department");
        };
        if !policy.is_department(department) || ticket.helpers.iter().any(|h| h == department) {
            return fail("the department is configured and does not help itself");
        }
        if ticket.transfers.is_empty() {
            return fail("a dispatched ticket has a dispatch history");
        }
    }
    if past(Step::Review) {
        if ticket.resolved_at.is_none() || ticket.outcome.is_none() || ticket.responded_at.is_none()
        {
            return fail("a resolved ticket has an outcome, a response and a resolution time");
        }
        if let (Some(kind), Some(outcome)) = (ticket.kind, ticket.outcome) {
            if !domain::aggregate::allowed_outcomes(kind).contains(&outcome) {
                return fail("the outcome fits the kind");
            }
        }
    }
    if ticket.step == Step::Archive
        && (ticket.archived_at.is_none()
            || ticket
                .satisfaction
                .is_none_or(|score| score < policy.threshold))
    {
        return fail("an archived ticket was archived after a satisfied review");
    }
    let accepted = ticket.outcome.is_some_and(domain::award::accepts);
    if ticket.kind == Some(Kind::Suggestion) && accepted && ticket.evaluation.is_none() {
        return fail("an adopted or planned suggestion was evaluated");
    }
    if ticket.delivery.is_some() && ticket.kind != Some(Kind::Suggestion) {
        return fail("only a suggestion is delivered");
    }
    if ticket
        .satisfaction
        .is_some_and(|score| !(1..=5).contains(&score))
    {
        return fail("satisfaction is 1 to 5");
    }
    if ticket.approval == Approval::Pending
        && (ticket.step != Step::Handle || ticket.solution.is_none())
    {
        return fail("a pending approval is a solution in handle");
    }
    if ticket.paused_since.is_some() && ticket.step != Step::Handle {
        return fail("the clock is only paused in handle");
    }
    if ticket.round < 1 || ticket.previous_rounds.len() != (ticket.round - 1) as usize {
        return fail("one previous round record per reopen");
    }
    if ticket.sla_state != ticket.respond_sla.max(ticket.resolve_sla) {
        return fail("the overall sla state is the worse of the two");
    }
    if ticket
        .confidence
        .is_some_and(|confidence| !(0.0..=1.0).contains(&confidence))
    {
        return fail("confidence is within 0 to 1");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_command_sequences_keep_the_ticket_valid(
        policy in policies(),
        steps in proptest::collection::vec((0i64..600, commands()), 1..60),
    ) {
        let mut now = t0();
        let mut events = decide(&Ticket::default(), &Command::Receive(Box::new(submission())), now, &policy)
            .map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(events[0].event_type(), "received");
        let mut state = Ticket::default();
        for event in &events {
            state = apply(state, event);
        }
        check_valid(&state, &policy).map_err(TestCaseError::fail)?;

        for (advance, command) in steps {
            now += Duration::minutes(advance);
            let was_archived = state.is_archived();
            match decide(&state, &command, now, &policy) {
                Ok(new_events) => {
                    if was_archived {
                        for event in &new_events {
                            prop_assert!(
                                matches!(event.event_type(), "retention_expired" | "customer_erased" | "suggestion_delivered"),
                                "an archived ticket accepted {}", event.event_type()
                            );
                        }
                    }
                    for event in &new_events {
                        let next = apply(state.clone(), event);
                        prop_assert_eq!(&next, &apply(state.clone(), event), "apply is deterministic");
                        prop_assert_eq!(next.version, state.version + 1);
                        prop_assert_eq!(next.updated_at, Some(now));
                        prop_assert!(
                            next.step == state.step || allowed_next_steps(state.step).contains(&next.step),
                            "{} moved {} to {}", event.event_type(), state.step, next.step
                        );
                        let read = Event::from_parts(event.event_type(), SCHEMA_VERSION, &event.to_payload())
                            .map_err(|error| TestCaseError::fail(error.to_string()))?;
                        prop_assert_eq!(&read, event);
                        state = next;
                    }
                    events.extend(new_events);
                    check_valid(&state, &policy).map_err(TestCaseError::fail)?;
                }
                Err(DomainError::WrongStep { step, .. }) => {
                    prop_assert_eq!(step, state.step, "a wrong step names the current step");
                }
                Err(DomainError::AlreadyExists { ticket_id }) => {
                    prop_assert!(matches!(command, Command::Receive(_)));
                    prop_assert_eq!(ticket_id, state.id_text());
                }
                Err(DomainError::Invalid { field, reason }) => {
                    prop_assert!(!field.is_empty() && !reason.is_empty());
                }
                Err(DomainError::Precondition { reason }) => match &command {
                    // Archiving before the review: a "not yet", in step review only.
                    Command::Archive => {
                        prop_assert_eq!(state.step, Step::Review);
                        prop_assert!(state.satisfaction.is_none());
                    }
                    // Adopting or planning a suggestion before its evaluation.
                    Command::ProposeSolution { outcome, .. } => {
                        prop_assert!(domain::award::accepts(*outcome), "{reason}");
                        prop_assert!(state.evaluation.is_none());
                    }
                    // Evaluating anything but a suggestion, or under a pending solution;
                    // delivering anything but an accepted plan, or twice.
                    Command::EvaluateSuggestion { .. } | Command::MarkDelivered { .. } => {}
                    other => prop_assert!(false, "{other:?}: {reason}"),
                },
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }
        prop_assert_eq!(state.version, events.len() as u64);
        prop_assert_eq!(fold(&events), state);
    }

    #[test]
    fn sla_timers_never_mark_twice(
        policy in policies(),
        ticks in proptest::collection::vec((0i64..300, deadlines(), 0u8..3), 1..40),
    ) {
        let mut now = t0();
        let mut state = fold(&decide(&Ticket::default(), &Command::Receive(Box::new(submission())), now, &policy)
            .map_err(|error| TestCaseError::fail(error.to_string()))?);
        let mut marks = Vec::new();
        for (advance, deadline, kind) in ticks {
            now += Duration::minutes(advance);
            let command = match kind {
                0 => Command::RaiseSlaWarning { deadline },
                1 => Command::RecordSlaBreach { deadline },
                _ => Command::EscalateSla { deadline, level: 1, to: None },
            };
            let events = decide(&state, &command, now, &policy)
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
            for event in &events {
                marks.push(event.event_type());
                state = apply(state, event);
            }
        }
        for mark in ["sla_breached", "sla_escalated"] {
            prop_assert!(marks.iter().filter(|seen| **seen == mark).count() <= 2, "{:?}", marks);
        }
        prop_assert!(marks.iter().filter(|seen| **seen == "sla_escalated").count() <= 1);
        prop_assert!(marks.iter().filter(|seen| **seen == "sla_warning").count() <= 2);
    }
}
