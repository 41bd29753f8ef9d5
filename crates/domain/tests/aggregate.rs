//! Given events, when a command, then events or an error: every transition and every refusal
//! of the ticket aggregate, against a small fixed policy.

mod support;

use chrono::{DateTime, Duration, Utc};
use domain::aggregate::{allowed_next_steps, apply, decide};
use domain::command::{ClassifyCommand, Command, Submission};
use domain::command::{NotificationRecord, NotificationResult};
use domain::event::{Event, EVENT_TYPES, SCHEMA_VERSION};
use domain::notification::{notices_for, NoticeKind};
use domain::ticket::{Approval, Customer, Ticket};
use domain::types::{
    Classification, ContentType, Deadline, Deadlines, Kind, Outcome, Policy, Priority, Route,
    Scope, SlaState, Step,
};
use domain::DomainError;
use std::collections::BTreeMap;
use support::{minutes, t0};

/// A policy with fixed answers, so each test says exactly what the rules decide.
#[derive(Clone)]
struct FakePolicy {
    kind: Kind,
    priority: Priority,
    confident: bool,
    route: Option<&'static str>,
    helpers: Vec<String>,
    approval_required: bool,
    threshold: u8,
    /// The cap on notes per ticket; `None` keeps the trait's default.
    max_notes: Option<usize>,
}

const DEPARTMENTS: &[&str] = &["product", "logistics", "quality", "customer_service"];

impl Default for FakePolicy {
    fn default() -> Self {
        Self {
            kind: Kind::Complaint,
            priority: Priority::High,
            confident: true,
            route: Some("logistics"),
            helpers: Vec::new(),
            approval_required: false,
            threshold: 4,
            max_notes: None,
        }
    }
}

impl FakePolicy {
    /// The default policy, but the rules classify every ticket as `kind`.
    fn of_kind(kind: Kind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }

    /// The default policy, but every solution needs the head's approval.
    fn approving() -> Self {
        Self {
            approval_required: true,
            ..Self::default()
        }
    }
}

/// Respond and resolve hours per priority, as in the documents' table.
fn hours(priority: Priority) -> (i64, i64) {
    match priority {
        Priority::Urgent => (1, 24),
        Priority::High => (2, 72),
        Priority::Medium => (24, 72),
        Priority::Low => (72, 120),
    }
}

impl Policy for FakePolicy {
    fn classify(&self, _content: &str, _product: Option<&str>) -> Classification {
        Classification {
            kind: self.kind,
            content_type: ContentType::Service,
            priority: self.priority,
            scope: Scope::Local,
            keywords: vec!["退款".to_owned(), " 退款 ".to_owned(), String::new()],
            confidence: if self.confident { 0.9 } else { 0.3 },
            confident: self.confident,
            complex: false,
            terms: Vec::new(),
        }
    }

    fn route(&self, _classification: &Classification, _product: Option<&str>) -> Option<Route> {
        self.route.map(|department| Route {
            department: department.to_owned(),
            helpers: self.helpers.clone(),
            rule: "complaints-to-logistics".to_owned(),
        })
    }

    fn deadlines(&self, received_at: DateTime<Utc>, classification: &Classification) -> Deadlines {
        let (respond, resolve) = hours(classification.priority);
        Deadlines {
            respond_by: received_at + Duration::hours(respond),
            resolve_by: received_at + Duration::hours(resolve),
            warn_respond_at: received_at + Duration::minutes(respond * 45),
            warn_resolve_at: received_at + Duration::minutes(resolve * 45),
            policy_version: "sla-test-1".to_owned(),
            calendar_version: "calendar-test-1".to_owned(),
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
        "rules-test-1".to_owned()
    }

    fn max_notes_per_ticket(&self) -> usize {
        self.max_notes
            .unwrap_or(domain::rules::config::DEFAULT_NOTES_MAX_PER_TICKET)
    }
}

fn submission() -> Submission {
    Submission {
        ticket_id: support::ticket_id(0),
        channel: "wechat".to_owned(),
        external_id: Some("msg-1".to_owned()),
        customer: Customer {
            name: Some("王小明".to_owned()),
            phone: Some("+86 138 0000 0000".to_owned()),
            ..Customer::default()
        },
        product: Some("app".to_owned()),
        order_id: Some("O-1".to_owned()),
        attributes: BTreeMap::from([("store".to_owned(), "shanghai-1".to_owned())]),
        language: None,
        ..support::submission(1, t0(), "退款三天了还没到账")
    }
}

/// A ticket's history under a fake policy, from its receipt at `t0`.
type History = support::History<FakePolicy>;

fn history(policy: FakePolicy) -> History {
    History::received(policy, submission(), t0())
}

/// A ticket the rules are not confident about: it waits in classify.
fn unclassified() -> History {
    history(FakePolicy {
        confident: false,
        ..FakePolicy::default()
    })
}

/// A ticket no routing rule sends anywhere: it waits in dispatch.
fn waiting_for_dispatch() -> History {
    history(FakePolicy {
        route: None,
        ..FakePolicy::default()
    })
}

fn approve_solution(approve: bool, comment: &str) -> Command {
    Command::ApproveSolution {
        approve,
        comment: comment.to_owned(),
    }
}

fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::event_type).collect()
}

fn assert_invalid(result: Result<Vec<Event>, DomainError>, expected_field: &str) {
    match result {
        Err(DomainError::Invalid { field, reason }) => {
            assert_eq!(field, expected_field, "reason: {reason}");
            assert!(!reason.is_empty());
        }
        other => panic!("expected invalid {expected_field}, got {other:?}"),
    }
}

fn assert_wrong_step(result: Result<Vec<Event>, DomainError>, expected_step: Step) {
    match result {
        Err(error @ DomainError::WrongStep { step, .. }) => {
            assert_eq!(step, expected_step);
            assert!(
                error.to_string().contains(expected_step.as_str()),
                "{error}"
            );
        }
        other => panic!("expected wrong step {expected_step}, got {other:?}"),
    }
}

fn classify_command(kind: Kind, priority: Priority) -> Command {
    Command::Classify(ClassifyCommand {
        kind,
        content_type: ContentType::Product,
        priority,
        scope: Scope::Global,
        keywords: vec!["卡顿".to_owned(), "卡顿".to_owned()],
        complex: false,
        reason: "read the text".to_owned(),
        department: None,
    })
}

fn dispatch(department: &str, helpers: &[&str], reason: &str) -> Command {
    Command::Dispatch {
        department: department.to_owned(),
        helpers: helpers.iter().map(|helper| (*helper).to_owned()).collect(),
        reason: reason.to_owned(),
    }
}

fn acknowledge() -> Command {
    Command::Acknowledge {
        message: "we are on it".to_owned(),
    }
}

fn propose(outcome: Outcome, reason: &str) -> Command {
    Command::ProposeSolution {
        outcome,
        text: "refund sent again".to_owned(),
        reason: reason.to_owned(),
    }
}

/// The evaluation a suggestion needs before it is adopted or planned.
fn evaluate() -> Command {
    Command::EvaluateSuggestion {
        feasibility: 4,
        cost: 2,
        benefit: 4,
        note: String::new(),
    }
}

fn review(satisfaction: u8) -> Command {
    Command::RecordReview {
        satisfaction,
        comment: "ok".to_owned(),
    }
}

/// A ticket in step review, handled by logistics, resolved at minute 30.
fn in_review() -> History {
    let mut history = history(FakePolicy::default());
    history.run(propose(Outcome::Fixed, ""), minutes(30));
    history
}

// Receive.

#[test]
fn confident_rules_receive_classify_and_dispatch_in_one_command() {
    let history = history(FakePolicy::default());
    assert_eq!(
        types(&history.events),
        ["received", "classified", "dispatched"]
    );
    let ticket = history.state();
    assert!(ticket.exists());
    assert_eq!(ticket.version, 3);
    assert_eq!(ticket.step, Step::Handle);
    assert_eq!(ticket.department.as_deref(), Some("logistics"));
    assert_eq!(ticket.kind, Some(Kind::Complaint));
    assert_eq!(ticket.keywords, ["退款"], "keywords are trimmed and unique");
    assert!(ticket.classified_automatically);
    assert_eq!(ticket.respond_by, Some(minutes(120)));
    assert_eq!(ticket.resolve_by, Some(minutes(72 * 60)));
    assert_eq!(
        ticket.deadlines_policy_version.as_deref(),
        Some("sla-test-1")
    );
    assert_eq!(
        ticket.occurred_at,
        Some(t0()),
        "occurred_at defaults to receipt"
    );
    assert_eq!(ticket.transfers.len(), 1);
    assert!(ticket.transfers[0].automatic);
    assert_eq!(ticket.transfers[0].reason, "complaints-to-logistics");
    assert_eq!(ticket.round, 1);
}

#[test]
fn unconfident_rules_leave_the_ticket_for_customer_service_with_a_clock_running() {
    let history = unclassified();
    assert_eq!(types(&history.events), ["received"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Classify);
    assert_eq!(ticket.kind, None);
    assert_eq!(ticket.respond_by, Some(minutes(120)));
}

#[test]
fn no_route_or_an_unknown_department_waits_in_dispatch() {
    for route in [None, Some("nowhere")] {
        let history = history(FakePolicy {
            route,
            ..FakePolicy::default()
        });
        assert_eq!(types(&history.events), ["received", "classified"]);
        assert_eq!(history.state().step, Step::Dispatch);
    }
}

#[test]
fn automatic_dispatch_keeps_only_configured_distinct_helpers() {
    let history = history(FakePolicy {
        helpers: ["quality", "logistics", "ghost", "quality", "product"]
            .map(str::to_owned)
            .to_vec(),
        ..FakePolicy::default()
    });
    assert_eq!(history.state().helpers, ["quality", "product"]);
}

#[test]
fn receiving_twice_is_already_exists() {
    let history = history(FakePolicy::default());
    let result = history.when(Command::Receive(Box::new(submission())), minutes(1));
    let ticket_id = history.state().id_text();
    assert_eq!(result, Err(DomainError::AlreadyExists { ticket_id }));
}

#[test]
fn anonymous_feedback_becomes_a_ticket_that_cannot_be_told() {
    let policy = FakePolicy::default();
    let receive = |customer: Customer| {
        let mut submitted = submission();
        submitted.customer = customer;
        decide(
            &Ticket::default(),
            &Command::Receive(Box::new(submitted)),
            t0(),
            &policy,
        )
        .expect("accepted")
    };
    let events = receive(Customer::default());
    match &events[0] {
        Event::Received(received) => assert!(received.cannot_be_told),
        other => panic!("expected received, got {other:?}"),
    }
    let folded = events.iter().fold(Ticket::default(), apply);
    assert!(folded.cannot_be_told);
    // A customer id alone reaches nobody either; a WeChat id does.
    let by_id = receive(Customer {
        customer_id: Some("c-1".to_owned()),
        ..Customer::default()
    });
    assert!(by_id.iter().fold(Ticket::default(), apply).cannot_be_told);
    let by_wechat = receive(Customer {
        wechat_openid: Some("oAbC".to_owned()),
        ..Customer::default()
    });
    assert!(
        !by_wechat
            .iter()
            .fold(Ticket::default(), apply)
            .cannot_be_told
    );
}

/// A change to a submission that makes it unusable as a ticket.
type Spoil = fn(&mut Submission);

#[test]
fn receive_refuses_what_no_ticket_can_be_made_of() {
    let policy = FakePolicy::default();
    let cases: [(&str, Spoil); 2] = [
        ("content", |s| s.content = " \n ".to_owned()),
        ("channel", |s| s.channel = String::new()),
    ];
    for (field, spoil) in cases {
        let mut bad = submission();
        bad.customer.phone = None;
        bad.customer.email = Some("a@example.com".to_owned());
        spoil(&mut bad);
        let result = decide(
            &Ticket::default(),
            &Command::Receive(Box::new(bad)),
            t0(),
            &policy,
        );
        assert_invalid(result, field);
    }
}

#[test]
fn receive_is_no_stricter_than_intake() {
    // Intake's limits are configurable; whatever it accepted becomes a ticket.
    let mut large = submission();
    large.content = "很长".repeat(50_000);
    large.occurred_at = Some(t0() + Duration::hours(3));
    large.customer = Customer {
        customer_id: Some("c-1".to_owned()),
        ..Customer::default()
    };
    let events = decide(
        &Ticket::default(),
        &Command::Receive(Box::new(large)),
        t0(),
        &FakePolicy::default(),
    )
    .expect("accepted");
    assert_eq!(events[0].event_type(), "received");
}

#[test]
fn every_command_on_a_missing_ticket_is_not_found() {
    let result = decide(
        &Ticket::default(),
        &acknowledge(),
        t0(),
        &FakePolicy::default(),
    );
    assert!(matches!(result, Err(DomainError::NotFound { .. })));
}

// Classify.

#[test]
fn manual_classification_recomputes_deadlines_and_dispatches_by_rule() {
    let mut history = unclassified();
    let events = history.run(
        classify_command(Kind::Problem, Priority::Urgent),
        minutes(20),
    );
    assert_eq!(types(&events), ["classified", "dispatched"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Handle);
    assert_eq!(ticket.priority, Some(Priority::Urgent));
    assert_eq!(ticket.confidence, Some(1.0));
    assert!(!ticket.classified_automatically);
    assert_eq!(ticket.keywords, ["卡顿"]);
    assert_eq!(
        ticket.respond_by,
        Some(minutes(60)),
        "from receipt, not from now"
    );
}

#[test]
fn reclassifying_in_handle_keeps_the_step_and_department() {
    let mut history = history(FakePolicy::default());
    let events = history.run(classify_command(Kind::Problem, Priority::Low), minutes(5));
    assert_eq!(types(&events), ["classified"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Handle);
    assert_eq!(ticket.transfers.len(), 1);
    assert_eq!(ticket.resolve_by, Some(minutes(120 * 60)));
}

#[test]
fn classify_refuses_bad_keywords_and_the_wrong_step() {
    let history = history(FakePolicy::default());
    let Command::Classify(mut classify) = classify_command(Kind::Problem, Priority::Low) else {
        unreachable!("classify_command builds a classify command")
    };
    classify.keywords = vec![" ".to_owned()];
    assert_invalid(
        history.when(Command::Classify(classify), minutes(1)),
        "keywords",
    );
    let review = in_review();
    assert_wrong_step(
        review.when(classify_command(Kind::Problem, Priority::Low), minutes(40)),
        Step::Review,
    );
}

// Dispatch.

#[test]
fn dispatch_needs_a_classification_first() {
    let history = unclassified();
    assert_wrong_step(
        history.when(dispatch("product", &[], ""), minutes(1)),
        Step::Classify,
    );
}

#[test]
fn first_dispatch_by_hand_with_helpers() {
    let mut history = waiting_for_dispatch();
    let events = history.run(dispatch("product", &["quality"], ""), minutes(3));
    assert_eq!(types(&events), ["dispatched"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Handle);
    assert_eq!(ticket.department.as_deref(), Some("product"));
    assert_eq!(ticket.helpers, ["quality"]);
    assert_eq!(ticket.transfers[0].from, None);
    assert!(!ticket.transfers[0].automatic);
}

#[test]
fn dispatch_refuses_unknown_departments_and_bad_helpers() {
    let history = waiting_for_dispatch();
    let refused: [(&str, &[&str], &str); 5] = [
        ("finance", &[], "department"),
        ("Product!", &[], "department"),
        ("product", &["ghost"], "helpers"),
        ("product", &["product"], "helpers"),
        ("product", &["quality", "quality"], "helpers"),
    ];
    for (department, helpers, field) in refused {
        assert_invalid(
            history.when(dispatch(department, helpers, ""), minutes(1)),
            field,
        );
    }
}

#[test]
fn a_transfer_needs_a_reason_and_keeps_the_history() {
    let mut history = history(FakePolicy::default());
    assert_invalid(
        history.when(dispatch("product", &[], " "), minutes(5)),
        "reason",
    );
    assert_invalid(
        history.when(dispatch("logistics", &[], "again"), minutes(5)),
        "department",
    );
    history.run(
        dispatch("product", &[], "it is the app, not the courier"),
        minutes(5),
    );
    history.run(
        dispatch("quality", &["product"], "a defect after all"),
        minutes(9),
    );
    let ticket = history.state();
    assert_eq!(ticket.department.as_deref(), Some("quality"));
    let path: Vec<(Option<&str>, &str)> = ticket
        .transfers
        .iter()
        .map(|transfer| (transfer.from.as_deref(), transfer.to.as_str()))
        .collect();
    assert_eq!(
        path,
        [
            (None, "logistics"),
            (Some("logistics"), "product"),
            (Some("product"), "quality")
        ]
    );
}

#[test]
fn a_transfer_withdraws_a_solution_waiting_for_approval() {
    let mut history = history(FakePolicy::approving());
    history.run(propose(Outcome::Fixed, ""), minutes(10));
    assert_eq!(history.state().approval, Approval::Pending);
    history.run(dispatch("product", &[], "wrong department"), minutes(11));
    let ticket = history.state();
    assert_eq!(ticket.approval, Approval::NotRequired);
    assert_eq!(ticket.solution, None);
    assert_eq!(ticket.step, Step::Handle);
}

// Handle.

#[test]
fn acknowledge_is_the_first_response_once_per_round() {
    let mut history = history(FakePolicy::default());
    history.run(acknowledge(), minutes(15));
    let ticket = history.state();
    assert_eq!(ticket.responded_at, Some(minutes(15)));
    assert_eq!(ticket.acknowledgement.as_deref(), Some("we are on it"));
    assert_invalid(history.when(acknowledge(), minutes(16)), "message");
    assert_invalid(
        history.when(
            Command::Acknowledge {
                message: String::new(),
            },
            minutes(16),
        ),
        "message",
    );
}

#[test]
fn acknowledge_before_dispatch_names_the_step() {
    let history = waiting_for_dispatch();
    assert_wrong_step(history.when(acknowledge(), minutes(1)), Step::Dispatch);
}

#[test]
fn notes_are_kept_with_their_round_and_audience() {
    let mut history = history(FakePolicy::default());
    history.run(
        Command::AddNote {
            text: "called the courier".to_owned(),
            to_customer: false,
        },
        minutes(4),
    );
    history.run(
        Command::AddNote {
            text: "your refund is on its way".to_owned(),
            to_customer: true,
        },
        minutes(5),
    );
    let ticket = history.state();
    assert_eq!(ticket.notes.len(), 2);
    assert!(ticket.notes[1].to_customer);
    assert_eq!(ticket.notes[1].round, 1);
    assert_invalid(
        history.when(
            Command::AddNote {
                text: "\n".to_owned(),
                to_customer: false,
            },
            minutes(6),
        ),
        "text",
    );
}

fn note(text: &str) -> Command {
    Command::AddNote {
        text: text.to_owned(),
        to_customer: false,
    }
}

#[test]
fn notes_stop_at_the_cap_per_ticket_naming_the_limit() {
    let mut history = history(FakePolicy {
        max_notes: Some(3),
        ..FakePolicy::default()
    });
    for index in 0..3 {
        history.run(note(&format!("note {index}")), minutes(4 + index));
    }
    assert_eq!(history.state().notes.len(), 3);
    let error = history
        .when(note("one too many"), minutes(10))
        .expect_err("the fourth note is over the cap");
    match &error {
        DomainError::LimitReached { limit, reason } => {
            assert_eq!(limit, "limits.notes_max_per_ticket");
            assert!(reason.contains("has 3 notes"), "{reason}");
            assert!(reason.contains("is 3"), "{reason}");
        }
        other => panic!("expected LimitReached, got {other:?}"),
    }
    assert!(
        error.to_string().contains("limits.notes_max_per_ticket"),
        "{error}"
    );
    // A note to the customer counts the same; other commands still work on a full ticket.
    assert!(matches!(
        history.when(
            Command::AddNote {
                text: "to the customer".to_owned(),
                to_customer: true,
            },
            minutes(11),
        ),
        Err(DomainError::LimitReached { .. })
    ));
    history.run(acknowledge(), minutes(12));
    // Bad text is still reported as bad text, not as the cap.
    assert_invalid(history.when(note(" "), minutes(13)), "text");
}

#[test]
fn the_note_cap_comes_from_the_configuration() {
    let rules = domain::rules::Rules::defaults();
    assert_eq!(
        rules.max_notes_per_ticket(),
        domain::rules::config::DEFAULT_NOTES_MAX_PER_TICKET
    );
    let rules = domain::rules::Rules::from_toml_str("[limits]\nnotes_max_per_ticket = 7\n")
        .expect("valid configuration");
    assert_eq!(rules.max_notes_per_ticket(), 7);
    assert_ne!(
        rules.version(),
        domain::rules::Rules::defaults().version(),
        "a changed cap is a changed configuration"
    );
    let error = domain::rules::Rules::from_toml_str("[limits]\nnotes_max_per_ticket = 0\n")
        .expect_err("a cap of 0 would forbid every note");
    assert!(
        error.to_string().contains("limits.notes_max_per_ticket"),
        "{error}"
    );
    // At its default the cap is left out of the canonical form: the configuration version of
    // an existing set-up does not change with this key's introduction.
    let explicit_default = domain::rules::Rules::from_toml_str(&format!(
        "[limits]\nnotes_max_per_ticket = {}\n",
        domain::rules::config::DEFAULT_NOTES_MAX_PER_TICKET
    ))
    .expect("valid configuration");
    assert_eq!(
        explicit_default.version(),
        domain::rules::Rules::defaults().version()
    );
}

#[test]
fn a_solution_without_approval_resolves_and_acknowledges_if_nobody_did() {
    let mut history = history(FakePolicy::default());
    let events = history.run(propose(Outcome::Explained, ""), minutes(30));
    assert_eq!(types(&events), ["acknowledged", "solution_proposed"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Review);
    assert_eq!(ticket.responded_at, Some(minutes(30)));
    assert_eq!(ticket.resolved_at, Some(minutes(30)));
    assert_eq!(ticket.outcome, Some(Outcome::Explained));
}

#[test]
fn outcomes_must_fit_the_kind() {
    let complaint = history(FakePolicy::default());
    assert_invalid(
        complaint.when(propose(Outcome::Adopted, ""), minutes(1)),
        "outcome",
    );
    let mut suggestion = history(FakePolicy::of_kind(Kind::Suggestion));
    assert_invalid(
        suggestion.when(propose(Outcome::Fixed, ""), minutes(1)),
        "outcome",
    );
    suggestion.run(evaluate(), minutes(1));
    assert!(suggestion
        .when(propose(Outcome::Planned, ""), minutes(1))
        .is_ok());
}

#[test]
fn declining_a_suggestion_needs_a_reason() {
    let suggestion = history(FakePolicy::of_kind(Kind::Suggestion));
    assert_invalid(
        suggestion.when(propose(Outcome::Declined, "  "), minutes(1)),
        "reason",
    );
    let events = suggestion
        .when(propose(Outcome::Declined, "too costly for now"), minutes(1))
        .expect("a declined suggestion with a reason is accepted");
    assert_eq!(types(&events), ["acknowledged", "solution_proposed"]);
}

#[test]
fn a_solution_that_needs_approval_waits_for_the_head() {
    let mut history = history(FakePolicy::approving());
    history.run(acknowledge(), minutes(5));
    let events = history.run(propose(Outcome::Fixed, ""), minutes(30));
    assert_eq!(types(&events), ["solution_proposed"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Handle);
    assert_eq!(ticket.approval, Approval::Pending);
    assert_eq!(ticket.resolved_at, None);
    assert_invalid(
        history.when(propose(Outcome::Fixed, ""), minutes(31)),
        "outcome",
    );

    let approve = approve_solution(true, "fine");
    let events = history.run(approve, minutes(40));
    assert_eq!(types(&events), ["solution_approved"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Review);
    assert_eq!(ticket.approval, Approval::Approved);
    assert_eq!(ticket.resolved_at, Some(minutes(40)));
}

#[test]
fn a_rejected_solution_sends_the_department_back_to_work() {
    let mut history = history(FakePolicy::approving());
    history.run(propose(Outcome::Fixed, ""), minutes(30));
    let reject_silently = approve_solution(false, "");
    assert_invalid(history.when(reject_silently, minutes(31)), "comment");
    let reject = approve_solution(false, "refund the shipping too");
    let events = history.run(reject, minutes(32));
    assert_eq!(types(&events), ["solution_rejected"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Handle);
    assert_eq!(ticket.solution, None);
    assert_eq!(
        ticket.approval_comment.as_deref(),
        Some("refund the shipping too")
    );
    // Nothing waits now, so approving is refused and a new proposal is accepted.
    let approve = approve_solution(true, "");
    assert_invalid(history.when(approve, minutes(33)), "approve");
    assert!(history
        .when(propose(Outcome::Fixed, ""), minutes(34))
        .is_ok());
    // The rejection's reason stays on the ticket until the next proposal.
    assert_eq!(
        history.state().rejection_comment.as_deref(),
        Some("refund the shipping too")
    );
    history.run(propose(Outcome::Fixed, ""), minutes(34));
    assert_eq!(history.state().rejection_comment, None);
    history.run(approve_solution(true, "good"), minutes(35));
    assert_eq!(
        history.state().rejection_comment,
        None,
        "an approval is no rejection"
    );
}

#[test]
fn approval_without_a_pending_solution_is_refused() {
    let history = history(FakePolicy::default());
    let approve = approve_solution(true, "");
    assert_invalid(history.when(approve.clone(), minutes(1)), "approve");
    assert_wrong_step(in_review().when(approve, minutes(40)), Step::Review);
}

// Review and archive.

#[test]
fn satisfaction_must_be_one_to_five() {
    let history = in_review();
    for satisfaction in [0, 6, 255] {
        assert_invalid(
            history.when(review(satisfaction), minutes(60)),
            "satisfaction",
        );
    }
}

#[test]
fn review_is_only_taken_in_step_review() {
    let history = history(FakePolicy::default());
    assert_wrong_step(history.when(review(5), minutes(1)), Step::Handle);
}

#[test]
fn a_satisfied_customer_leaves_the_ticket_ready_for_archive() {
    let mut history = in_review();
    let events = history.run(review(4), minutes(60));
    assert_eq!(types(&events), ["review_recorded"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Review);
    assert_eq!(ticket.satisfaction, Some(4));
    assert_invalid(history.when(review(5), minutes(61)), "satisfaction");
    let events = history.run(Command::Archive, minutes(62));
    assert_eq!(types(&events), ["archived"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Archive);
    assert_eq!(ticket.archived_at, Some(minutes(62)));
}

#[test]
fn an_unsatisfied_customer_reopens_the_ticket_for_round_two() {
    let mut history = in_review();
    let events = history.run(review(2), minutes(60));
    assert_eq!(types(&events), ["review_recorded", "reopened"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Handle);
    assert_eq!(ticket.round, 2);
    assert_eq!(ticket.department.as_deref(), Some("logistics"));
    assert_eq!(ticket.responded_at, None);
    assert_eq!(ticket.resolved_at, None);
    assert_eq!(ticket.satisfaction, None);
    assert_eq!(
        ticket.respond_by,
        Some(minutes(60 + 120)),
        "fresh deadlines from the reopen"
    );
    assert_eq!(ticket.previous_rounds.len(), 1);
    assert_eq!(ticket.previous_rounds[0].satisfaction, Some(2));
    assert_eq!(ticket.previous_rounds[0].outcome, Some(Outcome::Fixed));
    assert_eq!(ticket.previous_rounds[0].resolved_at, Some(minutes(30)));
    // Round two runs like round one.
    history.run(acknowledge(), minutes(70));
    history.run(propose(Outcome::Fixed, ""), minutes(80));
    history.run(review(5), minutes(90));
    history.run(Command::Archive, minutes(91));
    assert_eq!(history.state().step, Step::Archive);
}

#[test]
fn archive_needs_a_satisfied_review_in_step_review() {
    assert_wrong_step(
        history(FakePolicy::default()).when(Command::Archive, minutes(1)),
        Step::Handle,
    );
    // Before the review it is a plain "not yet", never an invalid argument.
    match in_review().when(Command::Archive, minutes(40)) {
        Err(DomainError::Precondition { reason }) => {
            assert!(reason.starts_with("no review yet"), "{reason}")
        }
        other => panic!("expected a precondition refusal, got {other:?}"),
    }
}

#[test]
fn an_archived_ticket_accepts_only_retention_and_erasure() {
    let mut history = in_review();
    history.run(review(5), minutes(60));
    history.run(Command::Archive, minutes(61));
    for command in [
        acknowledge(),
        Command::AddNote {
            text: "late".to_owned(),
            to_customer: false,
        },
        Command::Escalate {
            reason: "why".to_owned(),
        },
        Command::Archive,
        review(5),
        dispatch("product", &[], "x"),
    ] {
        assert_wrong_step(history.when(command, minutes(62)), Step::Archive);
    }
    for deadline in [Deadline::Respond, Deadline::Resolve] {
        let timers = [
            Command::RaiseSlaWarning { deadline },
            Command::RecordSlaBreach { deadline },
            Command::EscalateSla {
                deadline,
                level: 1,
                to: None,
            },
        ];
        for command in timers {
            assert_eq!(history.when(command, minutes(100_000)), Ok(Vec::new()));
        }
    }
    assert!(history.state().review_comment.is_some());
    let events = history.run(Command::EraseCustomer, minutes(63));
    assert_eq!(types(&events), ["customer_erased"]);
    assert!(!history.state().customer.is_reachable());
    // The customer's own words leave the ticket with their contact data; the staff's stay.
    let erased = history.state();
    assert!(erased.content.is_empty());
    assert!(erased.terms.is_empty());
    assert_eq!(erased.order_id, None);
    assert!(erased.attributes.is_empty());
    assert_eq!(erased.review_comment, None);
    assert!(erased.solution.is_some());
    assert_eq!(
        history.when(Command::EraseCustomer, minutes(64)),
        Ok(Vec::new())
    );
    let events = history.run(Command::ExpireRetention, minutes(2 * 365 * 24 * 60));
    assert_eq!(types(&events), ["retention_expired"]);
    let ticket = history.state();
    assert!(ticket.retention_expired);
    assert!(ticket.content.is_empty());
    assert_eq!(
        ticket.satisfaction,
        Some(5),
        "statistics survive the redaction"
    );
    assert_eq!(
        history.when(Command::ExpireRetention, minutes(2 * 365 * 24 * 60)),
        Ok(Vec::new())
    );
}

#[test]
fn retention_only_expires_on_archived_tickets() {
    assert_wrong_step(
        history(FakePolicy::default()).when(Command::ExpireRetention, minutes(1)),
        Step::Handle,
    );
}

#[test]
fn erasing_a_customer_of_an_open_ticket_is_allowed() {
    let mut history = history(FakePolicy::default());
    history.run(Command::EraseCustomer, minutes(1));
    let ticket = history.state();
    assert!(ticket.customer_erased);
    assert_eq!(ticket.customer, Customer::default());
    assert!(ticket.content.is_empty());
    assert_eq!(ticket.step, Step::Handle);
}

// Escalation and the SLA clock.

#[test]
fn manual_escalation_raises_the_level() {
    let mut history = history(FakePolicy::default());
    history.run(
        Command::Escalate {
            reason: "vip".to_owned(),
        },
        minutes(1),
    );
    history.run(
        Command::Escalate {
            reason: "press".to_owned(),
        },
        minutes(2),
    );
    assert_eq!(history.state().escalation_level, 2);
    assert_invalid(
        history.when(
            Command::Escalate {
                reason: String::new(),
            },
            minutes(3),
        ),
        "reason",
    );
}

#[test]
fn sla_warnings_and_breaches_fire_once_when_due() {
    let mut history = history(FakePolicy::default());
    let warn = Command::RaiseSlaWarning {
        deadline: Deadline::Respond,
    };
    let breach = Command::RecordSlaBreach {
        deadline: Deadline::Respond,
    };
    // High priority: respond within 2 hours, warned at 90 minutes.
    assert_eq!(history.when(warn.clone(), minutes(89)), Ok(Vec::new()));
    assert_eq!(history.when(breach.clone(), minutes(119)), Ok(Vec::new()));
    let events = history.run(warn.clone(), minutes(90));
    assert_eq!(types(&events), ["sla_warning"]);
    let Event::SlaWarning(mark) = &events[0] else {
        panic!("expected a warning")
    };
    assert_eq!(mark.due, minutes(120));
    assert_eq!(mark.policy_version, "sla-test-1");
    assert_eq!(mark.calendar_version, "calendar-test-1");
    assert_eq!(history.state().sla_state, SlaState::Warning);
    assert_eq!(history.when(warn.clone(), minutes(91)), Ok(Vec::new()));

    let events = history.run(breach.clone(), minutes(120));
    assert_eq!(types(&events), ["sla_breached"]);
    let ticket = history.state();
    assert_eq!(ticket.respond_sla, SlaState::Breached);
    assert_eq!(ticket.resolve_sla, SlaState::OnTime);
    assert_eq!(ticket.sla_state, SlaState::Breached);
    assert_eq!(history.when(breach, minutes(121)), Ok(Vec::new()));
    // A breach after the warning never goes back to a warning.
    assert_eq!(history.when(warn, minutes(122)), Ok(Vec::new()));
}

#[test]
fn sla_timers_for_a_met_deadline_do_nothing() {
    let mut history = history(FakePolicy::default());
    history.run(acknowledge(), minutes(10));
    for command in [
        Command::RaiseSlaWarning {
            deadline: Deadline::Respond,
        },
        Command::RecordSlaBreach {
            deadline: Deadline::Respond,
        },
    ] {
        assert_eq!(history.when(command, minutes(500)), Ok(Vec::new()));
    }
    let mut resolved = in_review();
    assert_eq!(
        resolved.when(
            Command::RecordSlaBreach {
                deadline: Deadline::Resolve
            },
            minutes(100_000)
        ),
        Ok(Vec::new())
    );
    resolved.run(review(5), minutes(60));
}

#[test]
fn sla_escalation_follows_a_breach_once_per_level() {
    let mut history = history(FakePolicy::default());
    let escalate = |level| Command::EscalateSla {
        deadline: Deadline::Respond,
        level,
        to: Some("logistics-head".to_owned()),
    };
    assert_eq!(
        history.when(escalate(1), minutes(130)),
        Ok(Vec::new()),
        "not breached yet"
    );
    history.run(
        Command::RecordSlaBreach {
            deadline: Deadline::Respond,
        },
        minutes(120),
    );
    let events = history.run(escalate(1), minutes(130));
    assert_eq!(types(&events), ["sla_escalated"]);
    let ticket = history.state();
    assert_eq!(ticket.escalation_level, 1);
    assert_eq!(ticket.escalated_to.as_deref(), Some("logistics-head"));
    assert_eq!(history.when(escalate(1), minutes(131)), Ok(Vec::new()));
    assert_eq!(
        types(&history.run(escalate(2), minutes(240))),
        ["sla_escalated"]
    );
    assert_invalid(history.when(escalate(0), minutes(241)), "level");
}

#[test]
fn pausing_stops_the_clock_and_resuming_moves_the_deadlines() {
    let mut history = history(FakePolicy::default());
    let pause = Command::PauseSla {
        reason: "waiting for photos from the customer".to_owned(),
    };
    history.run(pause.clone(), minutes(30));
    assert!(history.state().is_paused());
    assert_invalid(history.when(pause, minutes(31)), "reason");
    let warn = Command::RaiseSlaWarning {
        deadline: Deadline::Respond,
    };
    assert_eq!(
        history.when(warn.clone(), minutes(95)),
        Ok(Vec::new()),
        "paused"
    );
    let events = history.run(Command::ResumeSla, minutes(90));
    assert_eq!(types(&events), ["sla_resumed"]);
    let ticket = history.state();
    assert!(!ticket.is_paused());
    assert_eq!(ticket.paused_total_ms, 60 * 60 * 1000);
    assert_eq!(ticket.respond_by, Some(minutes(180)));
    assert_eq!(ticket.warn_respond_at, Some(minutes(150)));
    assert_eq!(
        history.when(warn, minutes(149)),
        Ok(Vec::new()),
        "not due after the shift"
    );
    assert_invalid(history.when(Command::ResumeSla, minutes(91)), "sla");
    // A later reclassification keeps the time spent paused.
    history.run(
        classify_command(Kind::Complaint, Priority::High),
        minutes(92),
    );
    assert_eq!(history.state().respond_by, Some(minutes(180)));
}

#[test]
fn leaving_handle_resumes_a_paused_clock_first() {
    let mut history = history(FakePolicy::default());
    history.run(acknowledge(), minutes(5));
    history.run(
        Command::PauseSla {
            reason: "waiting".to_owned(),
        },
        minutes(10),
    );
    let events = history.run(propose(Outcome::Fixed, ""), minutes(40));
    assert_eq!(types(&events), ["sla_resumed", "solution_proposed"]);
    let ticket = history.state();
    assert_eq!(ticket.step, Step::Review);
    assert!(!ticket.is_paused());
}

#[test]
fn pausing_outside_handle_names_the_step() {
    let history = in_review();
    let pause = Command::PauseSla {
        reason: "waiting".to_owned(),
    };
    assert_wrong_step(history.when(pause, minutes(40)), Step::Review);
}

// Events on the wire.

#[test]
fn every_event_reads_back_from_its_type_and_payload() {
    let mut history = history(FakePolicy::approving());
    history.run(
        Command::RaiseSlaWarning {
            deadline: Deadline::Respond,
        },
        minutes(90),
    );
    history.run(
        Command::RecordSlaBreach {
            deadline: Deadline::Respond,
        },
        minutes(120),
    );
    history.run(
        Command::EscalateSla {
            deadline: Deadline::Respond,
            level: 1,
            to: None,
        },
        minutes(121),
    );
    history.run(
        Command::Escalate {
            reason: "x".to_owned(),
        },
        minutes(122),
    );
    history.run(
        Command::Claim {
            person: "wang.wu".to_owned(),
        },
        minutes(122),
    );
    history.run(dispatch("product", &["quality"], "app issue"), minutes(123));
    history.run(
        Command::AddNote {
            text: "n".to_owned(),
            to_customer: true,
        },
        minutes(124),
    );
    history.run(
        Command::PauseSla {
            reason: "wait".to_owned(),
        },
        minutes(125),
    );
    history.run(Command::ResumeSla, minutes(126));
    history.run(
        Command::RecomputeSla {
            vip: true,
            reason: "the customer was tagged vip".to_owned(),
        },
        minutes(126),
    );
    history.run(
        Command::RecordReply {
            text: "reply".to_owned(),
            channel: "web".to_owned(),
            feedback_id: None,
        },
        minutes(126),
    );
    history.run(propose(Outcome::Fixed, ""), minutes(127));
    history.run(approve_solution(false, "more"), minutes(128));
    history.run(propose(Outcome::Fixed, ""), minutes(129));
    history.run(approve_solution(true, ""), minutes(130));
    history.run(review(1), minutes(131));
    history.run(propose(Outcome::Explained, ""), minutes(132));
    history.run(approve_solution(true, ""), minutes(133));
    history.run(review(5), minutes(134));
    history.run(Command::Archive, minutes(135));
    history.run(
        Command::TagCustomer {
            tag: "vip".into(),
            remove: false,
        },
        minutes(135),
    );
    history.run(delivered(NoticeKind::Closed, 1), minutes(136));
    history.run(failed(NoticeKind::Closed, 2, true), minutes(136));
    history.run(Command::EraseCustomer, minutes(136));
    history.run(Command::ExpireRetention, minutes(137));
    let mut seen: Vec<&str> = history.events.iter().map(Event::event_type).collect();
    seen.sort_unstable();
    seen.dedup();
    let mut all = EVENT_TYPES.to_vec();
    // The events of problems and rewards need two tickets or a suggestion: tests/problems.rs
    // covers them the same way; a classifier's suggestion needs a model: tests/placement.rs.
    all.retain(|name| {
        ![
            "linked_to_problem",
            "child_linked",
            "parent_resolved",
            "reward_granted",
            "classification_suggested",
            // A suggestion's pipeline: tests/suggestions.rs.
            "suggestion_evaluated",
            "suggestion_delivered",
            "award_granted",
        ]
        .contains(name)
    });
    all.sort_unstable();
    assert_eq!(seen, all, "the history covers every event type");
    for event in &history.events {
        let payload = event.to_payload();
        assert!(
            payload.get("type").is_none(),
            "the type is not repeated in the payload"
        );
        let read = Event::from_parts(event.event_type(), SCHEMA_VERSION, &payload)
            .unwrap_or_else(|error| panic!("{}: {error}", event.event_type()));
        assert_eq!(&read, event);
    }
    let ticket = history.state();
    assert_eq!(ticket.version, history.events.len() as u64);
    let json = serde_json::to_string(&ticket).expect("a ticket serialises");
    let back: Ticket = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(back, ticket);
}

#[test]
fn stored_events_of_unknown_types_versions_or_shapes_are_refused() {
    let history = history(FakePolicy::default());
    let payload = history.events[0].to_payload();
    assert_invalid(
        Event::from_parts("received", SCHEMA_VERSION + 1, &payload).map(|event| vec![event]),
        "schema_version",
    );
    assert_invalid(
        Event::from_parts("received", 0, &payload).map(|event| vec![event]),
        "schema_version",
    );
    assert_invalid(
        Event::from_parts("teleported", SCHEMA_VERSION, &payload).map(|event| vec![event]),
        "event_type",
    );
    assert_invalid(
        Event::from_parts("classified", SCHEMA_VERSION, &payload).map(|event| vec![event]),
        "payload",
    );
}

#[test]
fn the_received_payload_is_stable() {
    let history = history(FakePolicy::default());
    let payload =
        serde_json::to_string_pretty(&history.events[0].to_payload()).expect("payload renders");
    expect_test::expect_file!["snapshots/received.json"].assert_eq(&payload);
}

#[test]
fn folding_and_applying_agree_and_steps_never_skip() {
    let mut history = in_review();
    history.run(review(1), minutes(60));
    let mut state = Ticket::default();
    for event in &history.events {
        let next = apply(state.clone(), event);
        assert_eq!(next.version, state.version + 1);
        assert_eq!(next.updated_at, Some(event.at()));
        assert!(
            next.step == state.step || allowed_next_steps(state.step).contains(&next.step),
            "{} moved {} to {}",
            event.event_type(),
            state.step,
            next.step
        );
        state = next;
    }
    assert_eq!(state, history.state());
}

#[test]
fn reclassifying_may_not_orphan_a_solution_waiting_for_approval() {
    let mut history = history(FakePolicy {
        kind: Kind::Suggestion,
        ..FakePolicy::approving()
    });
    history.run(evaluate(), minutes(9));
    history.run(propose(Outcome::Adopted, ""), minutes(10));
    assert_invalid(
        history.when(
            classify_command(Kind::Complaint, Priority::High),
            minutes(11),
        ),
        "kind",
    );
    // Keeping the kind is fine, and after a rejection any kind is.
    assert!(history
        .when(
            classify_command(Kind::Suggestion, Priority::Low),
            minutes(11)
        )
        .is_ok());
    history.run(approve_solution(false, "not like this"), minutes(12));
    assert!(history
        .when(
            classify_command(Kind::Complaint, Priority::High),
            minutes(13)
        )
        .is_ok());
}

const SOURCE_EVENT: &str = "0195f3a0-0000-7000-8000-000000000001";

fn delivered(notice: NoticeKind, attempt: u32) -> Command {
    Command::RecordNotification(Box::new(NotificationRecord {
        notice,
        source_event_id: SOURCE_EVENT.to_owned(),
        attempt,
        result: NotificationResult::Delivered {
            channel: "sms".to_owned(),
            sender: "webhook".to_owned(),
            to_masked: "138****5678".to_owned(),
        },
        recipient: None,
    }))
}

fn failed(notice: NoticeKind, attempt: u32, final_attempt: bool) -> Command {
    Command::RecordNotification(Box::new(NotificationRecord {
        notice,
        source_event_id: SOURCE_EVENT.to_owned(),
        attempt,
        result: NotificationResult::Failed {
            reason: "receiver answered 500".to_owned(),
            final_attempt,
        },
        recipient: None,
    }))
}

#[test]
fn notification_records_are_history_only_in_every_step() {
    // Given a ticket in review, when the notifier records attempts, then the events say what
    // the customer was told and the ticket itself does not move.
    let mut history = in_review();
    let before = history.state();
    let events = history.run(failed(NoticeKind::Solution, 1, false), minutes(60));
    assert_eq!(types(&events), ["notification_failed"]);
    let events = history.run(delivered(NoticeKind::Solution, 2), minutes(61));
    assert_eq!(types(&events), ["customer_notified"]);
    match &events[0] {
        Event::CustomerNotified(notified) => {
            assert_eq!(notified.notice, NoticeKind::Solution);
            assert_eq!(notified.attempt, 2);
            assert_eq!(notified.to_masked, "138****5678");
            assert_eq!(notified.source_event_id, SOURCE_EVENT);
        }
        other => panic!("expected customer_notified, got {other:?}"),
    }
    let after = history.state();
    assert_eq!(after.step, before.step);
    assert_eq!(after.version, before.version + 2);
    assert_eq!(after.outcome, before.outcome);
    // Given an archived ticket, the closing notice is still recorded.
    history.run(review(5), minutes(62));
    history.run(Command::Archive, minutes(63));
    let events = history.run(failed(NoticeKind::Closed, 5, true), minutes(64));
    assert_eq!(types(&events), ["notification_failed"]);
    let payload = events[0].to_payload();
    assert_eq!(payload["final"], serde_json::json!(true));
    assert_eq!(history.state().step, Step::Archive);
}

#[test]
fn notification_records_are_checked() {
    let history = in_review();
    let mut bad_id = delivered(NoticeKind::Received, 1);
    if let Command::RecordNotification(record) = &mut bad_id {
        record.source_event_id = "not-a-uuid".to_owned();
    }
    assert_invalid(history.when(bad_id, minutes(60)), "source_event_id");
    assert_invalid(
        history.when(delivered(NoticeKind::Received, 0), minutes(60)),
        "attempt",
    );
    let mut no_reason = failed(NoticeKind::Received, 1, false);
    if let Command::RecordNotification(record) = &mut no_reason {
        record.result = NotificationResult::Failed {
            reason: " ".to_owned(),
            final_attempt: false,
        };
    }
    assert_invalid(history.when(no_reason, minutes(60)), "reason");
    // A staff alert names its recipient; a customer notice never does.
    assert_invalid(
        history.when(delivered(NoticeKind::StaffAlert, 1), minutes(60)),
        "recipient",
    );
    let mut customer_with_recipient = delivered(NoticeKind::Received, 1);
    if let Command::RecordNotification(record) = &mut customer_with_recipient {
        record.recipient = Some("zhao.liu".to_owned());
    }
    assert_invalid(
        history.when(customer_with_recipient, minutes(60)),
        "recipient",
    );
    let mut alert = delivered(NoticeKind::StaffAlert, 1);
    if let Command::RecordNotification(record) = &mut alert {
        record.recipient = Some("department:technical".to_owned());
    }
    let events = history
        .when(alert, minutes(60))
        .expect("a staff alert is recorded");
    match &events[0] {
        Event::CustomerNotified(notified) => {
            assert_eq!(notified.notice, NoticeKind::StaffAlert);
            assert_eq!(notified.recipient.as_deref(), Some("department:technical"));
            assert_eq!(events[0].to_payload()["notice"], "staff_alert");
        }
        other => panic!("expected customer_notified, got {other:?}"),
    }
    // A customer notice keeps its stored form: no recipient key at all.
    let events = history
        .when(delivered(NoticeKind::Received, 1), minutes(60))
        .expect("recorded");
    assert!(events[0].to_payload().get("recipient").is_none());
    let unknown = History {
        policy: FakePolicy::default(),
        events: Vec::new(),
    };
    assert!(matches!(
        unknown.when(delivered(NoticeKind::Received, 1), minutes(60)),
        Err(DomainError::NotFound { .. })
    ));
}

#[test]
fn a_ticket_life_yields_each_notice_once() {
    // Given the events of a whole ticket life, the mapping yields the documents' notices in
    // order, each once.
    let mut history = in_review();
    history.run(review(5), minutes(60));
    history.run(Command::Archive, minutes(61));
    let state = history.state();
    let notices: Vec<NoticeKind> = history
        .events
        .iter()
        .flat_map(|event| notices_for(event, state.outcome))
        .collect();
    assert_eq!(
        notices,
        [
            NoticeKind::Received,
            NoticeKind::FirstResponse,
            NoticeKind::Solution,
            NoticeKind::ReviewRequest,
            NoticeKind::Closed,
        ]
    );
}

fn reply(text: &str) -> Command {
    Command::RecordReply {
        text: text.to_owned(),
        channel: "web".to_owned(),
        feedback_id: Some("feedback-1".to_owned()),
    }
}

#[test]
fn a_reply_resumes_a_paused_clock_and_marks_the_ticket_until_the_staff_answer() {
    let mut history = history(FakePolicy::default());
    let before = history.state().respond_by.expect("deadline");
    history.run(
        Command::PauseSla {
            reason: "waiting for the customer".to_owned(),
        },
        minutes(10),
    );
    let events = history
        .when(reply("  the screenshot  "), minutes(40))
        .expect("a reply");
    assert_eq!(types(&events), ["customer_replied", "sla_resumed"]);
    match &events[0] {
        Event::CustomerReplied(replied) => {
            assert_eq!(replied.text, "the screenshot");
            assert_eq!(replied.feedback_id.as_deref(), Some("feedback-1"));
        }
        other => panic!("expected customer_replied, got {other:?}"),
    }
    history.run(reply("the screenshot"), minutes(40));
    let ticket = history.state();
    assert!(!ticket.is_paused());
    assert_eq!(ticket.respond_by, Some(before + Duration::minutes(30)));
    assert_eq!(ticket.customer_replies, 1);
    assert_eq!(ticket.customer_replied_at, Some(minutes(40)));
    assert!(ticket.new_reply);
    // Not paused: only the reply.
    let events = history.when(reply("more"), minutes(41)).expect("a reply");
    assert_eq!(types(&events), ["customer_replied"]);
    assert_invalid(history.when(reply("  "), minutes(41)), "text");
    // The department's answer clears the marker.
    history.run(acknowledge(), minutes(42));
    assert!(!history.state().new_reply);
}

#[test]
fn a_reply_is_history_only_on_an_archived_ticket_and_missing_tickets_refuse_it() {
    let mut history = in_review();
    history.run(review(5), minutes(200));
    history.run(Command::Archive, minutes(201));
    let events = history.when(reply("thanks"), minutes(202)).expect("kept");
    assert_eq!(types(&events), ["customer_replied"]);
    history.run(reply("thanks"), minutes(202));
    assert_eq!(history.state().step, Step::Archive);
    let missing = domain::decide(
        &domain::ticket::Ticket::default(),
        &reply("hello"),
        minutes(1),
        &FakePolicy::default(),
    );
    assert!(matches!(missing, Err(DomainError::NotFound { .. })));
}
