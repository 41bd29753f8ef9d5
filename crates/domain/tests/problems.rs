//! Given events, when a command, then events or an error: linking tickets to a problem,
//! merging duplicates, the cascade of a solved problem to its children, similar tickets, and
//! the reward of an adopted suggestion.

mod support;

use chrono::{DateTime, Duration, Utc};
use domain::command::{Command, Submission};
use domain::event::{Event, SCHEMA_VERSION};
use domain::ids::TicketId;
use domain::problems::{
    decide_link, keyword_similarity, parent_resolution, reporters, similar_tickets, ProblemsConfig,
    RewardRule, RewardsConfig,
};
use domain::ticket::{Customer, Ticket};
use domain::types::{
    Classification, ContentType, Deadline, Deadlines, Kind, LinkMode, Outcome, Policy, Priority,
    RewardKind, Route, Scope, Step,
};
use domain::{apply, decide, DomainConfig, DomainError};
use support::{minutes, t0, ticket_id};

struct FakePolicy {
    kind: Kind,
    keywords: Vec<String>,
    approval_required: bool,
    reward: Option<RewardRule>,
}

impl FakePolicy {
    fn problem() -> Self {
        Self {
            kind: Kind::Problem,
            keywords: vec!["闪退".to_owned(), "登录".to_owned()],
            approval_required: true,
            reward: None,
        }
    }

    fn suggestion(approval_required: bool) -> Self {
        Self {
            kind: Kind::Suggestion,
            keywords: vec!["夜间模式".to_owned()],
            approval_required,
            reward: Some(RewardRule {
                kind: RewardKind::Coupon,
                amount: 20,
                validity_days: 45,
            }),
        }
    }
}

impl Policy for FakePolicy {
    fn classify(&self, _content: &str, _product: Option<&str>) -> Classification {
        Classification {
            kind: self.kind,
            content_type: ContentType::Product,
            priority: Priority::Medium,
            scope: Scope::Local,
            keywords: self.keywords.clone(),
            confidence: 0.9,
            confident: true,
            complex: false,
            terms: Vec::new(),
        }
    }

    fn route(&self, _classification: &Classification, _product: Option<&str>) -> Option<Route> {
        Some(Route {
            department: "technical".to_owned(),
            helpers: Vec::new(),
            rule: "problems-to-technical".to_owned(),
        })
    }

    fn deadlines(&self, received_at: DateTime<Utc>, _classification: &Classification) -> Deadlines {
        Deadlines {
            respond_by: received_at + Duration::hours(24),
            resolve_by: received_at + Duration::hours(72),
            warn_respond_at: received_at + Duration::hours(18),
            warn_resolve_at: received_at + Duration::hours(54),
            policy_version: "sla-test-1".to_owned(),
            calendar_version: "calendar-test-1".to_owned(),
        }
    }

    fn requires_approval(&self, _classification: &Classification, _outcome: Outcome) -> bool {
        self.approval_required
    }

    fn satisfied_threshold(&self) -> u8 {
        4
    }

    fn is_department(&self, department: &str) -> bool {
        department == "technical"
    }

    fn version(&self) -> String {
        "rules-test-1".to_owned()
    }

    fn reward(&self) -> Option<RewardRule> {
        self.reward.clone()
    }
}

/// A ticket received (and routed to technical, step handle) at `at`.
/// `N` tickets received a minute apart from `t0`, numbered from 0.
fn received_a_minute_apart<const N: usize>(policy: &FakePolicy) -> [Ticket; N] {
    std::array::from_fn(|index| {
        let sequence = u8::try_from(index).expect("a small test");
        received(policy, sequence, minutes(i64::from(sequence)))
    })
}

fn received(policy: &FakePolicy, sequence: u8, at: DateTime<Utc>) -> Ticket {
    let submission = Submission {
        customer: Customer {
            name: Some("王小明".to_owned()),
            phone: Some("13800138000".to_owned()),
            ..Customer::default()
        },
        product: Some("app".to_owned()),
        ..support::submission(sequence, at, "登录就闪退")
    };
    let events = decide(
        &Ticket::default(),
        &Command::Receive(Box::new(submission)),
        at,
        policy,
    )
    .expect("received");
    let ticket = given(Ticket::default(), &events);
    if ticket.kind != Some(Kind::Suggestion) || ticket.step != Step::Handle {
        return ticket;
    }
    // A suggestion is evaluated at once, so that it may be adopted.
    let evaluate = Command::EvaluateSuggestion {
        feasibility: 4,
        cost: 2,
        benefit: 4,
        note: String::new(),
    };
    run(ticket, evaluate, at, policy)
}

fn approve() -> Command {
    Command::ApproveSolution {
        approve: true,
        comment: String::new(),
    }
}

fn propose(outcome: Outcome, text: &str) -> Command {
    Command::ProposeSolution {
        outcome,
        text: text.to_owned(),
        reason: String::new(),
    }
}

fn given(state: Ticket, events: &[Event]) -> Ticket {
    events.iter().fold(state, apply)
}

fn run(state: Ticket, command: Command, now: DateTime<Utc>, policy: &FakePolicy) -> Ticket {
    let name = command.name();
    let events = decide(&state, &command, now, policy)
        .unwrap_or_else(|error| panic!("{name} failed: {error}"));
    given(state, &events)
}

fn link(child: Ticket, parent: Ticket, mode: LinkMode, now: DateTime<Utc>) -> (Ticket, Ticket) {
    let decision = decide_link(&child, &parent, mode, now).expect("linked");
    (
        given(child, &decision.child_events),
        given(parent, &decision.parent_events),
    )
}

fn assert_precondition(result: Result<impl std::fmt::Debug, DomainError>, words: &str) {
    match result {
        Err(DomainError::Precondition { reason }) => {
            assert!(reason.contains(words), "{reason:?} should say {words:?}")
        }
        other => panic!("expected a failed precondition about {words:?}, got {other:?}"),
    }
}

/// Solves, approves and reviews a ticket in handle.
fn solve_and_review(
    state: Ticket,
    satisfaction: u8,
    now: DateTime<Utc>,
    policy: &FakePolicy,
) -> Ticket {
    let state = run(
        state,
        propose(Outcome::Fixed, "修复了登录闪退"),
        now,
        policy,
    );
    let state = run(state, approve(), now + Duration::minutes(1), policy);
    run(
        state,
        Command::RecordReview {
            satisfaction,
            comment: String::new(),
        },
        now + Duration::minutes(2),
        policy,
    )
}

#[test]
fn linking_records_the_link_on_both_streams() {
    let policy = FakePolicy::problem();
    let parent = received(&policy, 0, t0());
    let child = received(&policy, 1, minutes(5));
    let decision = decide_link(&child, &parent, LinkMode::Link, minutes(10)).expect("linked");
    assert_eq!(
        decision.child_events,
        vec![Event::LinkedToProblem(domain::event::LinkedToProblem {
            parent: ticket_id(0),
            mode: LinkMode::Link,
            at: minutes(10),
        })]
    );
    assert_eq!(
        decision.parent_events,
        vec![Event::ChildLinked(domain::event::ChildLinked {
            child: ticket_id(1),
            mode: LinkMode::Link,
            at: minutes(10),
        })]
    );
    let (child, parent) = link(child, parent, LinkMode::Link, minutes(10));
    assert_eq!(child.parent, Some(ticket_id(0)));
    assert_eq!(parent.children.len(), 1);
    assert_eq!(reporters(&parent), 2);
    assert_eq!(reporters(&child), 1);
}

#[test]
fn a_ticket_is_never_linked_to_itself() {
    let policy = FakePolicy::problem();
    let ticket = received(&policy, 0, t0());
    assert_precondition(
        decide_link(&ticket, &ticket, LinkMode::Link, minutes(1)),
        "itself",
    );
    assert_precondition(
        decide(
            &ticket,
            &Command::LinkToProblem {
                parent_ticket_id: ticket_id(0),
                mode: LinkMode::Link,
            },
            minutes(1),
            &policy,
        ),
        "itself",
    );
}

#[test]
fn an_archived_parent_is_refused() {
    let policy = FakePolicy::problem();
    let parent = solve_and_review(received(&policy, 0, t0()), 5, minutes(1), &policy);
    let parent = run(parent, Command::Archive, minutes(5), &policy);
    let child = received(&policy, 1, minutes(6));
    assert_precondition(
        decide_link(&child, &parent, LinkMode::Link, minutes(7)),
        "archived",
    );
}

#[test]
fn problems_are_one_level_deep_and_cycles_are_refused() {
    let policy = FakePolicy::problem();
    let [a, b, c] = received_a_minute_apart(&policy);
    let (b, a) = link(b, a, LinkMode::Link, minutes(3));
    // Linking to a child: refused, naming the real problem.
    assert_precondition(
        decide_link(&c, &b, LinkMode::Link, minutes(4)),
        &format!("link to {}", ticket_id(0)),
    );
    // A parent may not become a child (this is also the cycle a → b → a).
    assert_precondition(decide_link(&a, &b, LinkMode::Link, minutes(4)), "one level");
    assert_precondition(decide_link(&a, &c, LinkMode::Link, minutes(4)), "one level");
    // Linked once only.
    assert_precondition(
        decide_link(&b, &c, LinkMode::Link, minutes(4)),
        "already linked",
    );
}

#[test]
fn the_refusals_are_failed_preconditions_for_the_api() {
    let error = DomainError::Precondition {
        reason: "ticket x cannot be linked to itself".to_owned(),
    };
    assert_eq!(
        error.to_string(),
        "failed precondition: ticket x cannot be linked to itself"
    );
}

#[test]
fn a_merged_duplicate_stops_its_own_handling_and_its_timers() {
    let policy = FakePolicy::problem();
    let [parent, child] = received_a_minute_apart(&policy);
    assert_eq!(child.step, Step::Handle);
    let (child, _parent) = link(child, parent, LinkMode::MergeDuplicate, minutes(2));
    assert!(child.is_merged());
    for command in [
        Command::Acknowledge {
            message: "在查".to_owned(),
        },
        propose(Outcome::Fixed, "x"),
        Command::PauseSla {
            reason: "wait".to_owned(),
        },
    ] {
        assert_precondition(decide(&child, &command, minutes(3), &policy), "merged");
    }
    // Notes are still welcome.
    run(
        child.clone(),
        Command::AddNote {
            text: "same as the parent".to_owned(),
            to_customer: false,
        },
        minutes(3),
        &policy,
    );
    // The timers find nothing due, even long past the deadlines.
    for deadline in [Deadline::Respond, Deadline::Resolve] {
        let events = decide(
            &child,
            &Command::RecordSlaBreach { deadline },
            minutes(60 * 24 * 30),
            &policy,
        )
        .expect("timer");
        assert!(events.is_empty(), "{events:?}");
    }
}

#[test]
fn a_linked_child_keeps_its_own_handling() {
    let policy = FakePolicy::problem();
    let [parent, child] = received_a_minute_apart(&policy);
    let (child, _parent) = link(child, parent, LinkMode::Link, minutes(2));
    let child = run(
        child,
        Command::Acknowledge {
            message: "在查".to_owned(),
        },
        minutes(3),
        &policy,
    );
    assert!(child.responded_at.is_some());
}

#[test]
fn a_solved_and_reviewed_parent_moves_each_child_to_review() {
    let policy = FakePolicy::problem();
    let [parent, linked, merged] = received_a_minute_apart(&policy);
    let (linked, parent) = link(linked, parent, LinkMode::Link, minutes(3));
    let (merged, parent) = link(merged, parent, LinkMode::MergeDuplicate, minutes(4));
    assert_eq!(reporters(&parent), 3);

    // Approved but not yet reviewed: nothing to pass on.
    let approved = run(
        run(
            parent.clone(),
            propose(Outcome::Fixed, "修复了登录闪退"),
            minutes(10),
            &policy,
        ),
        approve(),
        minutes(11),
        &policy,
    );
    assert_eq!(parent_resolution(&approved), None);
    // Reviewed unsatisfied: reopened, still nothing.
    let reopened = run(
        approved.clone(),
        Command::RecordReview {
            satisfaction: 2,
            comment: String::new(),
        },
        minutes(12),
        &policy,
    );
    assert_eq!(parent_resolution(&reopened), None);

    let parent = solve_and_review(parent, 5, minutes(10), &policy);
    let (outcome, solution) = parent_resolution(&parent).expect("resolved");
    assert_eq!(outcome, Outcome::Fixed);
    for child in [linked, merged] {
        let command = Command::ResolveFromParent {
            parent: ticket_id(0),
            outcome,
            solution: solution.clone(),
        };
        let events = decide(&child, &command, minutes(20), &policy).expect("resolve");
        assert_eq!(
            events,
            vec![Event::ParentResolved(domain::event::ParentResolved {
                parent: ticket_id(0),
                outcome: Outcome::Fixed,
                solution: "修复了登录闪退".to_owned(),
                at: minutes(20),
            })]
        );
        let child = given(child, &events);
        assert_eq!(child.step, Step::Review);
        assert_eq!(child.outcome, Some(Outcome::Fixed));
        assert!(child.resolved_at.is_some());
        // Twice changes nothing.
        assert_eq!(decide(&child, &command, minutes(21), &policy), Ok(vec![]));
        // The child's own customer is reviewed, then it can be archived.
        let child = run(
            child,
            Command::RecordReview {
                satisfaction: 4,
                comment: String::new(),
            },
            minutes(22),
            &policy,
        );
        run(child, Command::Archive, minutes(23), &policy);
    }
}

#[test]
fn only_children_of_that_parent_take_its_solution() {
    let policy = FakePolicy::problem();
    let stranger = received(&policy, 3, t0());
    let events = decide(
        &stranger,
        &Command::ResolveFromParent {
            parent: ticket_id(0),
            outcome: Outcome::Fixed,
            solution: "x".to_owned(),
        },
        minutes(1),
        &policy,
    )
    .expect("no-op");
    assert!(events.is_empty());
}

#[test]
fn an_adopted_suggestion_earns_the_configured_reward_when_approved() {
    let policy = FakePolicy::suggestion(true);
    let ticket = received(&policy, 0, t0());
    let ticket = run(
        ticket,
        propose(Outcome::Adopted, "下个版本加入夜间模式"),
        minutes(1),
        &policy,
    );
    assert_eq!(ticket.reward, None, "not before approval");
    let events = decide(&ticket, &approve(), minutes(2), &policy).expect("approved");
    let reward = events
        .iter()
        .find_map(|event| match event {
            Event::RewardGranted(reward) => Some(reward.clone()),
            _ => None,
        })
        .expect("a reward");
    assert_eq!(reward.kind, RewardKind::Coupon);
    assert_eq!(reward.amount, 20);
    assert_eq!(reward.valid_until, minutes(2) + Duration::days(45));
    assert_eq!(reward.at, minutes(2));
    let ticket = given(ticket, &events);
    assert_eq!(ticket.reward, Some(reward));
}

#[test]
fn other_outcomes_and_kinds_earn_nothing() {
    let policy = FakePolicy::suggestion(true);
    let ticket = run(
        received(&policy, 0, t0()),
        propose(Outcome::Planned, "已列入计划"),
        minutes(1),
        &policy,
    );
    let events = decide(&ticket, &approve(), minutes(2), &policy).expect("approved");
    assert!(events
        .iter()
        .all(|event| !matches!(event, Event::RewardGranted(_))));
    let problem = FakePolicy::problem();
    let solved = solve_and_review(received(&problem, 1, t0()), 5, minutes(1), &problem);
    assert_eq!(solved.reward, None);
}

/// What proposing to adopt the suggestion at `at` records.
fn adopt(
    ticket: &Ticket,
    at: DateTime<Utc>,
    policy: &FakePolicy,
) -> Result<Vec<Event>, DomainError> {
    decide(ticket, &propose(Outcome::Adopted, "采纳"), at, policy)
}

#[test]
fn without_approval_the_reward_comes_with_the_solution_and_only_once() {
    let policy = FakePolicy::suggestion(false);
    let ticket = received(&policy, 0, t0());
    let events = adopt(&ticket, minutes(1), &policy).expect("proposed");
    assert_eq!(
        events.last().map(Event::event_type),
        Some("reward_granted"),
        "{events:?}"
    );
    // Reopened and adopted again: no second reward.
    let ticket = given(ticket, &events);
    let ticket = run(
        ticket,
        Command::RecordReview {
            satisfaction: 1,
            comment: String::new(),
        },
        minutes(2),
        &policy,
    );
    let again = adopt(&ticket, minutes(3), &policy).expect("proposed again");
    assert!(again
        .iter()
        .all(|event| !matches!(event, Event::RewardGranted(_))));
}

#[test]
fn reward_validity_below_thirty_days_is_a_configuration_error_naming_the_key() {
    let mut config = DomainConfig::default();
    assert_eq!(config.rewards, RewardsConfig::default());
    assert_eq!(config.rewards.validity_days, 30);
    assert_eq!(config.rewards.amount, 100);
    assert_eq!(config.rewards.kind, RewardKind::Points);
    config.rewards.validity_days = 29;
    match config.validate() {
        Err(DomainError::Config { key, reason }) => {
            assert_eq!(key, "rewards.validity_days");
            assert!(reason.contains("30"), "{reason}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    let mut config = DomainConfig::default();
    config.problems.similar_threshold = 0.0;
    assert!(matches!(
        config.validate(),
        Err(DomainError::Config { key, .. }) if key == "problems.similar_threshold"
    ));
}

#[test]
fn keyword_similarity_is_the_jaccard_index() {
    let words = |items: &[&str]| {
        items
            .iter()
            .map(|item| (*item).to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keyword_similarity(&words(&["a", "b"]), &words(&["A", "b"])),
        1.0
    );
    assert_eq!(
        keyword_similarity(&words(&["a", "b"]), &words(&["b", "c"])),
        1.0 / 3.0
    );
    assert_eq!(keyword_similarity(&words(&[]), &words(&[])), 0.0);
    assert_eq!(keyword_similarity(&words(&["a"]), &words(&["c"])), 0.0);
}

#[test]
fn similar_tickets_share_the_product_and_keywords_within_the_window_and_are_open() {
    let policy = FakePolicy::problem();
    let config = ProblemsConfig::default();
    let target = received(&policy, 0, t0());
    let same = received(&policy, 1, minutes(60));
    let mut other_product = received(&policy, 2, minutes(60));
    other_product.product = Some("web".to_owned());
    let too_old = received(&policy, 3, t0() - Duration::days(8));
    let mut other_words = received(&policy, 4, minutes(60));
    other_words.keywords = vec!["发票".to_owned()];
    let mut partly = received(&policy, 5, minutes(30));
    partly.keywords = vec!["闪退".to_owned(), "卡顿".to_owned()];
    let closed = solve_and_review(received(&policy, 6, minutes(10)), 5, minutes(11), &policy);
    let candidates = vec![
        target.clone(),
        same.clone(),
        other_product,
        too_old,
        other_words,
        partly.clone(),
        closed,
    ];
    let found = similar_tickets(&target, candidates, &config, 10);
    let ids: Vec<TicketId> = found
        .iter()
        .filter_map(|similar| similar.ticket.ticket_id.clone())
        .collect();
    assert_eq!(ids, vec![ticket_id(1), ticket_id(5)]);
    assert_eq!(found[0].score, 1.0);
    assert!((found[1].score - 1.0 / 3.0).abs() < 1e-9);
    // A higher threshold keeps only the exact match; a limit cuts the list.
    let strict = ProblemsConfig {
        similar_threshold: 0.5,
        ..config.clone()
    };
    assert_eq!(
        similar_tickets(&target, vec![same.clone(), partly.clone()], &strict, 10).len(),
        1
    );
    assert_eq!(
        similar_tickets(&target, vec![same, partly], &config, 1).len(),
        1
    );
}

#[test]
fn the_new_events_round_trip_through_their_stored_form() {
    let policy = FakePolicy::suggestion(false);
    let mut events = Vec::new();
    let ticket = received(&policy, 0, t0());
    events.extend(
        decide(
            &ticket,
            &propose(Outcome::Adopted, "采纳"),
            minutes(1),
            &policy,
        )
        .expect("proposed"),
    );
    let problem = FakePolicy::problem();
    let decision = decide_link(
        &received(&problem, 1, t0()),
        &received(&problem, 2, t0()),
        LinkMode::MergeDuplicate,
        minutes(2),
    )
    .expect("linked");
    events.extend(decision.child_events);
    events.extend(decision.parent_events);
    events.push(Event::ParentResolved(domain::event::ParentResolved {
        parent: ticket_id(2),
        outcome: Outcome::Fixed,
        solution: "修复".to_owned(),
        at: minutes(3),
    }));
    let mut seen = Vec::new();
    for event in &events {
        let payload = event.to_payload();
        let read = Event::from_parts(event.event_type(), SCHEMA_VERSION, &payload)
            .unwrap_or_else(|error| panic!("{}: {error}", event.event_type()));
        assert_eq!(&read, event);
        seen.push(event.event_type());
    }
    for name in [
        "linked_to_problem",
        "child_linked",
        "parent_resolved",
        "reward_granted",
    ] {
        assert!(seen.contains(&name), "{name} missing from {seen:?}");
    }
}
