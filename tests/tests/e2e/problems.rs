//! End-to-end tests of problems, duplicates and rewards with a real nats-server and both real
//! service binaries: five customers report the same fault, `ListSimilar` offers the other
//! four, three are linked and one merged into the first, and solving and reviewing the
//! problem moves every child to review with `ParentResolved` in its history; the monthly
//! report counts one problem with five reporters. An adopted and approved suggestion records
//! `RewardGranted`, which `GetHistory`, `TICKET_EVENTS` and the public list of adopted
//! suggestions (name masked, no contact data) all show. The CLI's `tickets similar` and
//! `tickets link` go through the same RPCs.

use crate::support::{assert_names, month_of, monthly, only_adopted};
use e2e::{authorized, principal, principals_file, Principal, ServiceSpec, TestCluster};
use futures::StreamExt;
use prost::Message as _;
use proto::v1;
use std::collections::BTreeSet;
use std::time::Duration;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(60);

const PRINCIPALS: &[Principal] = &[
    principal("p-adapter", "web-form", "adapter"),
    principal("p-service", "zhang.san", "service"),
    principal("p-agent-logistics", "li.si", "agent").of("logistics"),
    principal("p-manager", "boss", "manager"),
    principal("p-admin", "root", "admin"),
];

async fn submit(
    cluster: &TestCluster,
    external_id: &str,
    content: &str,
    name: &str,
    phone: &str,
) -> String {
    let request = v1::SubmitRequest {
        channel: "app".into(),
        external_id: external_id.into(),
        content: content.into(),
        product: "app".into(),
        customer: Some(v1::Customer {
            customer_id: format!("c-{external_id}"),
            name: name.into(),
            phone: phone.into(),
            email: format!("{external_id}@example.com"),
            ..Default::default()
        }),
        ..Default::default()
    };
    cluster.submit_as("p-adapter", request).await
}

async fn events_of(cluster: &TestCluster, ticket_id: &str) -> Vec<v1::LogEvent> {
    cluster.events(ticket_id, "p-admin").await
}

async fn link(
    cluster: &TestCluster,
    child: &str,
    parent: &str,
    merge: bool,
    command_id: &str,
) -> Result<v1::Ticket, tonic::Status> {
    cluster
        .tickets_connected()
        .await
        .link_to_problem(authorized(
            v1::LinkToProblemRequest {
                ticket_id: child.to_owned(),
                command_id: command_id.to_owned(),
                expected_version: None,
                parent_ticket_id: parent.to_owned(),
                merge,
            },
            "p-service",
        ))
        .await
        .map(|response| response.into_inner().ticket.expect("ticket"))
}

/// Proposes `outcome` (as the admin, who may act for any department) and approves it
/// when the policy asks for approval.
async fn solve(
    cluster: &TestCluster,
    ticket_id: &str,
    outcome: v1::Outcome,
    text: &str,
) -> v1::Ticket {
    let mut admin = cluster.staff("p-admin").await;
    if matches!(outcome, v1::Outcome::Adopted | v1::Outcome::Planned) {
        // A suggestion is evaluated before it is adopted or planned.
        let evaluated = admin.evaluate(ticket_id, (4, 2, 4), "").await;
        evaluated.expect("evaluate");
    }
    let ticket = admin
        .propose(ticket_id, outcome, text)
        .await
        .expect("propose");
    if !ticket.awaiting_approval {
        return ticket;
    }
    admin.approve(ticket_id, "同意").await.expect("approve")
}

async fn review(cluster: &TestCluster, ticket_id: &str, satisfaction: u32) -> v1::Ticket {
    let mut service = cluster.staff("p-service").await;
    let reviewed = service.review(ticket_id, satisfaction, "").await;
    reviewed.expect("review")
}

/// Intake and workflow with quick timers, and rewards of 100 points for 30 days.
fn start_cluster() -> TestCluster {
    TestCluster::builder()
        .prefix("cloop-problems-e2e-")
        .tokens(principals_file(PRINCIPALS))
        .config(
            "[intake_service]\nnode_id = 6\nmaintenance_interval_ms = 200\n\n\
             [workflow_service]\ntimer_tick_ms = 200\nack_wait_secs = 5\nbackoff_ms = [100, 500]\n\n\
             [nats]\nrequest_timeout_ms = 3000\n\n\
             [rewards]\nkind = \"points\"\namount = 100\nvalidity_days = 30\n",
        )
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start()
}

/// The first page (10 at most) of `ListSimilar` of `ticket_id` as `token`.
async fn similar_to(
    cluster: &TestCluster,
    ticket_id: &str,
    token: &str,
) -> Result<v1::ListSimilarResponse, tonic::Status> {
    let request = v1::ListSimilarRequest {
        ticket_id: ticket_id.to_owned(),
        page_size: 10,
    };
    let mut tickets = cluster.tickets_connected().await;
    let answer = tickets.list_similar(authorized(request, token)).await;
    answer.map(tonic::Response::into_inner)
}

fn step(ticket: &v1::Ticket) -> v1::Step {
    v1::Step::try_from(ticket.step).unwrap_or(v1::Step::Unspecified)
}

fn types(events: &[v1::LogEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| event.event_type.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_reports_of_one_fault_become_one_problem_solved_for_everyone() {
    let cluster = start_cluster();
    let mut ids = Vec::new();
    for index in 1..=5 {
        let id = submit(
            &cluster,
            &format!("fault-{index}"),
            &format!("APP卡顿，打开很慢，第{index}次了"),
            &format!("顾客{index}"),
            &format!("1380013800{index}"),
        )
        .await;
        ids.push(id);
    }
    let mut tickets = Vec::new();
    for id in &ids {
        tickets.push(
            cluster
                .wait_ticket(id, "p-admin", WAIT, |ticket| {
                    step(ticket) == v1::Step::Handle
                })
                .await,
        );
    }
    let parent = ids[0].clone();
    assert!(!tickets[0].keywords.is_empty(), "{:?}", tickets[0]);

    // Similar: the other four, each with its score.
    let similar = &similar_to(&cluster, &parent, "p-service")
        .await
        .expect("similar");
    let found: BTreeSet<String> = similar
        .tickets
        .iter()
        .map(|ticket| ticket.ticket_id.clone())
        .collect();
    let others: BTreeSet<String> = ids[1..].iter().cloned().collect();
    assert_eq!(found, others);
    assert_eq!(similar.scores.len(), 4);
    assert!(similar.scores.iter().all(|score| *score >= 0.3));
    // An agent of a department that does not handle the ticket may not ask.
    let denied = &similar_to(&cluster, &parent, "p-agent-logistics")
        .await
        .expect_err("another department");
    // Out of sight: answered like a ticket that does not exist.
    assert_eq!(denied.code(), Code::NotFound);
    // The CLI lists the same tickets.
    let output = cluster.cloop("p-service", &["--json", "tickets", "similar", &parent]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let cli_found: BTreeSet<String> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|ticket| ticket["ticket_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(cli_found, others);

    // Refusals name why.
    let itself = link(&cluster, &parent, &parent, false, "link-self")
        .await
        .expect_err("itself");
    assert_names(&itself, Code::FailedPrecondition, &["itself"]);

    // Link three, merge one (the last through the CLI).
    for (index, child) in ids[1..3].iter().enumerate() {
        let linked = link(&cluster, child, &parent, false, &format!("link-{index}"))
            .await
            .expect("link");
        assert_eq!(linked.parent_ticket_id, parent);
        assert!(!linked.merged_duplicate);
    }
    // A repeated command id returns the first result and appends nothing.
    let again = link(&cluster, &ids[1], &parent, false, "link-0")
        .await
        .expect("repeat");
    assert_eq!(again.parent_ticket_id, parent);
    let output = cluster.cloop(
        "p-service",
        &["--json", "tickets", "link", &ids[3], "--to", &parent],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let merged = link(&cluster, &ids[4], &parent, true, "merge-4")
        .await
        .expect("merge");
    assert!(merged.merged_duplicate);
    // One level only, no cycles.
    let cycle = link(&cluster, &parent, &ids[1], false, "link-cycle")
        .await
        .expect_err("a parent may not become a child");
    assert_eq!(cycle.code(), Code::FailedPrecondition);
    // A merged duplicate is handled at its parent.
    let mut admin = cluster.staff("p-admin").await;
    let refused = &admin
        .propose(&ids[4], v1::Outcome::Fixed, "x")
        .await
        .expect_err("merged");
    assert_names(refused, Code::FailedPrecondition, &["merged"]);

    let problem = cluster
        .wait_ticket(&parent, "p-admin", WAIT, |ticket| {
            ticket.children_count == 4
        })
        .await;
    let parent_history = types(&events_of(&cluster, &parent).await);
    assert_eq!(
        parent_history
            .iter()
            .filter(|name| *name == "child_linked")
            .count(),
        4,
        "{parent_history:?}"
    );

    // Solve, approve and review the problem: every child moves on to review.
    solve(&cluster, &parent, v1::Outcome::Fixed, "新版本修复了卡顿").await;
    let reviewed = review(&cluster, &parent, 5).await;
    assert_eq!(step(&reviewed), v1::Step::Review);
    for child in &ids[1..] {
        let ticket = cluster
            .wait_ticket(child, "p-admin", WAIT, |ticket| {
                step(ticket) == v1::Step::Review
            })
            .await;
        assert_eq!(ticket.outcome, v1::Outcome::Fixed as i32);
        assert_eq!(ticket.solution, "新版本修复了卡顿");
        let history = types(&events_of(&cluster, child).await);
        assert_eq!(history.first().map(String::as_str), Some("received"));
        assert!(
            history.contains(&"linked_to_problem".to_owned())
                && history.last().map(String::as_str) == Some("parent_resolved"),
            "{history:?}"
        );
        // Each child's own customer is reviewed, then it is archived.
        let child_reviewed = review(&cluster, child, 4).await;
        assert_eq!(child_reviewed.satisfaction, 4);
    }

    // The monthly report counts one problem with five reporters.
    let month = month_of(&problem);
    let report = &monthly(&cluster, "p-manager", &month, None)
        .await
        .expect("monthly report")
        .report
        .expect("report");
    assert_eq!(report.tickets, 5);
    assert_eq!(report.distinct_problems, 1);
    assert_eq!(report.reporters, 5);
    let keyword = &problem.keywords[0];
    let top = report
        .top_keywords
        .iter()
        .find(|entry| &entry.key == keyword)
        .unwrap_or_else(|| panic!("{keyword} in {:?}", report.top_keywords));
    assert_eq!(top.count, 1);
    assert_eq!(top.reporters, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_suggestion_earns_its_reward_on_record_on_nats_and_in_public() {
    let cluster = start_cluster();
    let mut rewards = cluster.subscribe("ticket.events.reward_granted").await;
    let id = submit(
        &cluster,
        "idea-1",
        "建议增加夜间模式，有事请打 13912345678 或发 jo@example.com",
        "John",
        "13912345678",
    )
    .await;
    cluster
        .wait_ticket(&id, "p-admin", WAIT, |ticket| {
            step(ticket) != v1::Step::Unspecified
        })
        .await;
    // Customer service classifies it as a suggestion for the product department.
    let mut service = cluster.staff("p-service").await;
    let classified = service
        .classify(&id, v1::Kind::Suggestion, "a suggestion")
        .await;
    let ticket = classified.expect("classify");
    if step(&ticket) != v1::Step::Handle {
        let reason = "the product department owns this";
        let dispatched = service.dispatch(&id, "product", reason).await;
        dispatched.expect("dispatch");
    }
    let solved = solve(&cluster, &id, v1::Outcome::Adopted, "下个版本加入夜间模式").await;
    assert_eq!(step(&solved), v1::Step::Review);

    // On record.
    let history = events_of(&cluster, &id).await;
    let granted = history
        .iter()
        .find(|event| event.event_type == "reward_granted")
        .unwrap_or_else(|| panic!("{:?}", types(&history)));
    let payload: serde_json::Value = serde_json::from_str(&granted.payload).expect("payload");
    assert_eq!(payload["kind"], "points");
    assert_eq!(payload["amount"], 100);
    let at =
        chrono::DateTime::parse_from_rfc3339(payload["at"].as_str().expect("at")).expect("instant");
    let valid_until =
        chrono::DateTime::parse_from_rfc3339(payload["valid_until"].as_str().expect("until"))
            .expect("instant");
    assert_eq!(valid_until - at, chrono::Duration::days(30));

    // On TICKET_EVENTS, for the loyalty system.
    let message = tokio::time::timeout(WAIT, rewards.next())
        .await
        .expect("the reward is published in time")
        .expect("a message");
    let published = v1::LogEvent::decode(message.payload.as_ref()).expect("a log event");
    assert_eq!(published.event_type, "reward_granted");
    assert_eq!(published.ticket_id, id);
    assert_eq!(published.event_id, granted.event_id);

    // In the public list: the name masked, no contact data, the reward shown.
    let now = chrono::Utc::now();
    let listed = &only_adopted(&cluster, "p-manager", 86_400, &id).await;
    assert_eq!(listed.customer_display_name, "J**");
    let public = format!("{listed:?}");
    for secret in [
        "13912345678",
        "jo@example.com",
        "idea-1@example.com",
        "John",
    ] {
        assert!(!public.contains(secret), "{secret} in {public}");
    }
    assert!(listed.content.contains("夜间模式"));
    assert_eq!(listed.reward_kind, "points");
    assert_eq!(listed.reward_amount, 100);
    assert!(listed.reward_valid_until.is_some());
    let day = |offset: i64| {
        (now + chrono::Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    };
    let output = cluster.cloop(
        "p-manager",
        &["report", "adopted", "--from", &day(-2), "--to", &day(2)],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("100 points"), "{text}");
    assert!(
        !text.contains("13912345678") && !text.contains("John"),
        "{text}"
    );
}
