//! End-to-end tests of `cloop-workflow` with `cloop-intake` in front of it: a real
//! nats-server, both real binaries, real sockets. Tickets go from `Submit` at intake through
//! every step to archive; the permission matrix and every error status of the contract come
//! from real requests; SLA timers fire once each across a restart; and a SIGKILL under load
//! loses nothing and duplicates nothing.

use crate::support::assert_names;
use e2e::{
    authorized, fetch_history, fetch_ticket, principal, principals_file, Principal, ServiceSpec,
    Staff, TestCluster,
};
use futures::StreamExt;
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::Code;

mod caller;
mod helpers;
mod rpcs;

use caller::*;
use rpcs::*;

/// These scenarios test roles and departments with hundreds of calls per principal in a few
/// seconds, not the rate limits (`limits.rs`): no principal is limited.
const UNLIMITED: &str = "rate_per_sec = 0";

/// Every principal of the tests.
/// How long a ticket may take to reach the state a scenario waits for.
const WAIT: Duration = Duration::from_secs(30);

const PRINCIPALS: &[Principal] = &[
    principal("t-adapter", "web-form", "adapter").with(UNLIMITED),
    principal("t-service", "zhang.san", "service").with(UNLIMITED),
    principal("t-agent-technical", "wang.wu", "agent")
        .of("technical")
        .with(UNLIMITED),
    principal("t-head-technical", "zhao.liu", "head")
        .of("technical")
        .with(UNLIMITED),
    principal("t-agent-logistics", "li.si", "agent")
        .of("logistics")
        .with(UNLIMITED),
    principal("t-head-logistics", "qian.yi", "head")
        .of("logistics")
        .with(UNLIMITED),
    principal("t-head-quality", "sun.qi", "head")
        .of("quality")
        .with(UNLIMITED),
    principal("t-agent-product", "zhou.ba", "agent")
        .of("product")
        .with(UNLIMITED),
    principal("t-head-product", "wu.jiu", "head")
        .of("product")
        .with(UNLIMITED),
    principal("t-agent-after-sales", "zheng.shi", "agent")
        .of("after_sales")
        .with(UNLIMITED),
    principal("t-manager", "boss", "manager").with(UNLIMITED),
    principal("t-auditor", "checker", "auditor").with(UNLIMITED),
    principal("t-admin", "root", "admin").with(UNLIMITED),
];

/// nats-server, cloop-intake and cloop-workflow sharing one configuration (`extra_config`
/// before the test defaults) and tokens file.
fn start_cluster(extra_config: &str) -> TestCluster {
    TestCluster::builder()
        .prefix("cloop-workflow-e2e-")
        .tokens(principals_file(PRINCIPALS))
        .config(format!(
            "{extra_config}\n\n[intake_service]\nnode_id = 3\nmaintenance_interval_ms = 200\n\n\
             [workflow_service]\ntimer_tick_ms = 100\nack_wait_secs = 5\nbackoff_ms = [5000, 5000]\n\
             max_message_bytes = 200000\n\n[nats]\nrequest_timeout_ms = 3000\n"
        ))
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start()
}

/// Submits at intake as the adapter; returns the ticket id.
async fn submit(cluster: &TestCluster, external_id: &str, content: &str) -> String {
    let request = submission(external_id, content);
    cluster.submit_as("t-adapter", request).await
}

async fn events_of(cluster: &TestCluster, ticket_id: &str) -> Vec<v1::LogEvent> {
    cluster.events(ticket_id, "t-admin").await
}

fn submission(external_id: &str, content: &str) -> v1::SubmitRequest {
    v1::SubmitRequest {
        channel: "web".into(),
        external_id: external_id.into(),
        content: content.into(),
        customer: Some(v1::Customer {
            customer_id: "c-42".into(),
            phone: "13800138000".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn event_types(history: &[v1::LogEvent]) -> Vec<String> {
    history
        .iter()
        .map(|event| event.event_type.clone())
        .collect()
}

fn step(ticket: &v1::Ticket) -> v1::Step {
    v1::Step::try_from(ticket.step).unwrap_or(v1::Step::Unspecified)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_live_from_submission_to_archive() {
    let cluster = start_cluster("");
    // The received event comes back on TICKET_EVENTS with the feedback id: intake's
    // confirmation.
    let mut received_events = cluster.subscribe("ticket.events.received").await;

    // A suggestion adopted, with the head's approval.
    let suggestion = submit(&cluster, "s-1", "建议增加夜间模式").await;
    let ticket = cluster
        .wait_ticket(&suggestion, "t-admin", WAIT, |ticket| {
            step(ticket) == v1::Step::Classify
        })
        .await;
    assert_eq!(
        ticket.department, "",
        "the rules were not confident enough to dispatch"
    );
    let message = tokio::time::timeout(Duration::from_secs(30), received_events.next())
        .await
        .expect("received event published")
        .expect("subscription open");
    let headers = message.headers.expect("headers");
    assert!(headers.get("Cloop-Feedback-Id").is_some());
    assert!(headers.get("Nats-Msg-Id").is_some());

    let mut calls = caller(&cluster, &suggestion).await;
    let ticket = calls
        .classify("t-service", v1::Kind::Suggestion)
        .await
        .expect("customer service classifies");
    assert_eq!(step(&ticket), v1::Step::Handle);
    assert_eq!(
        ticket.department, "product",
        "dispatched by the routing rules"
    );
    calls
        .acknowledge("t-agent-product")
        .await
        .expect("acknowledge");
    let ticket = calls
        .propose("t-agent-product", v1::Outcome::Adopted)
        .await
        .expect("propose");
    assert!(
        ticket.awaiting_approval,
        "adoption needs the head's approval"
    );
    assert_eq!(step(&ticket), v1::Step::Handle);
    let denied = calls
        .approve("t-agent-product")
        .await
        .expect_err("agents may not approve");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let ticket = calls
        .approve("t-head-product")
        .await
        .expect("head approves");
    assert_eq!(step(&ticket), v1::Step::Review);
    calls.review("t-service", 5).await.expect("review");
    let ticket = calls.archive("t-service").await.expect("archive");
    assert_eq!(step(&ticket), v1::Step::Archive);
    assert_eq!(ticket.outcome, v1::Outcome::Adopted as i32);
    let history = events_of(&cluster, &suggestion).await;
    assert_eq!(
        event_types(&history),
        [
            "received",
            "classified",
            "dispatched",
            "acknowledged",
            // Evaluated before it may be adopted.
            "suggestion_evaluated",
            "solution_proposed",
            "solution_approved",
            // The adopted suggestion earns the configured reward when it is approved.
            "reward_granted",
            "review_recorded",
            "archived"
        ]
    );
    let approver = history[6].actor.clone().expect("actor");
    assert_eq!(approver.principal, "wu.jiu");
    assert_eq!(approver.department, "product");
    assert!(history.iter().all(|event| event.occurred_at.is_some()));

    // A complaint fixed, reopened by an unsatisfied customer, fixed again.
    let complaint = submit(&cluster, "c-1", "售后响应慢，客服态度差").await;
    let ticket = cluster
        .wait_ticket(&complaint, "t-admin", WAIT, |ticket| {
            step(ticket) == v1::Step::Handle
        })
        .await;
    assert_eq!(ticket.department, "after_sales");
    let mut calls = caller(&cluster, &complaint).await;
    let ticket = calls
        .propose("t-agent-after-sales", v1::Outcome::Fixed)
        .await
        .expect("propose");
    assert_eq!(step(&ticket), v1::Step::Review);
    let ticket = calls
        .review("t-service", 2)
        .await
        .expect("unsatisfied review");
    assert_eq!(step(&ticket), v1::Step::Handle, "reopened");
    assert_eq!(ticket.round, 2);
    let refused = calls.archive("t-service").await.expect_err("not in review");
    assert_names(&refused, Code::FailedPrecondition, &["handle"]);
    calls
        .propose("t-agent-after-sales", v1::Outcome::Fixed)
        .await
        .expect("second solution");
    calls.review("t-service", 5).await.expect("satisfied");
    let ticket = calls.archive("t-service").await.expect("archive");
    assert_eq!(step(&ticket), v1::Step::Archive);
    assert_eq!(ticket.satisfaction, 5);

    // A transfer between departments keeps the history.
    let parcel = submit(&cluster, "p-1", "快递太慢了，包裹破损").await;
    cluster
        .wait_ticket(&parcel, "t-admin", WAIT, |ticket| {
            ticket.department == "quality"
        })
        .await;
    let mut calls = caller(&cluster, &parcel).await;
    let ticket = calls
        .dispatch("t-head-quality", "logistics", "包裹破损属于物流问题")
        .await
        .expect("the head transfers");
    assert_eq!(ticket.department, "logistics");
    calls
        .acknowledge("t-agent-logistics")
        .await
        .expect("the new department acts");
    let history = events_of(&cluster, &parcel).await;
    let dispatches: Vec<&v1::LogEvent> = history
        .iter()
        .filter(|event| event.event_type == "dispatched")
        .collect();
    assert_eq!(dispatches.len(), 2, "the first dispatch and the transfer");
    assert!(dispatches[1].payload.contains("\"from\":\"quality\""));
    let mut quality = cluster.tickets_connected().await;
    let status = fetch_ticket(&mut quality, &parcel, "t-head-quality")
        .await
        .expect_err("no longer quality's ticket");
    // Out of sight now: answered like a ticket that does not exist.
    assert_eq!(status.code(), Code::NotFound);

    // The logistics queue lists it, and only it.
    let queue = quality
        .list_tickets(authorized(
            v1::ListTicketsRequest {
                filter: Some(v1::TicketFilter {
                    department: "logistics".into(),
                    step: v1::Step::Handle as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            "t-agent-logistics",
        ))
        .await
        .expect("own queue")
        .into_inner()
        .tickets;
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].ticket_id, parcel);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_rpc_and_every_error_status() {
    let cluster = start_cluster("");
    let ticket_id = submit(&cluster, "m-1", "APP卡顿，打开很慢").await;
    cluster
        .wait_ticket(&ticket_id, "t-admin", WAIT, |ticket| {
            ticket.department == "technical"
        })
        .await;
    let mut client = cluster.tickets_connected().await;
    let roles = [
        "t-adapter",
        "t-service",
        "t-agent-technical",
        "t-head-technical",
        "t-manager",
        "t-auditor",
        "t-admin",
    ];
    let mut wrong = Vec::new();
    for token in roles {
        for rpc in RPCS {
            let code = call(&mut client, rpc, &ticket_id, token, false).await;
            let may = allowed(token).contains(rpc);
            if may == (code == Code::PermissionDenied) {
                wrong.push(format!("{token} {rpc}: {code:?}"));
            }
        }
    }
    // An agent of another department: refused for reads and writes alike, even well-formed,
    // by the role table (PERMISSION_DENIED) or as if there were no such ticket (NOT_FOUND).
    for rpc in RPCS {
        if *rpc == "ListTickets" || *rpc == "WatchTickets" {
            continue;
        }
        let code = call(&mut client, rpc, &ticket_id, "t-agent-logistics", true).await;
        if code != Code::PermissionDenied && code != Code::NotFound {
            wrong.push(format!("t-agent-logistics {rpc}: {code:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "permission matrix differs:\n{}",
        wrong.join("\n")
    );
    let untouched = events_of(&cluster, &ticket_id).await;
    assert_eq!(untouched.len(), 3, "no refused call changed the ticket");

    // Another department's queue is refused; its own queue is empty.
    let refused = client
        .list_tickets(authorized(
            v1::ListTicketsRequest {
                filter: Some(v1::TicketFilter {
                    department: "technical".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "t-agent-logistics",
        ))
        .await
        .expect_err("another queue");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let own = client
        .list_tickets(authorized(
            v1::ListTicketsRequest::default(),
            "t-agent-logistics",
        ))
        .await
        .expect("own scope")
        .into_inner();
    assert!(own.tickets.is_empty());

    // UNAUTHENTICATED: no token, and an unknown one.
    let status = client
        .get_ticket(tonic::Request::new(v1::GetTicketRequest {
            ticket_id: ticket_id.clone(),
        }))
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = fetch_ticket(&mut client, &ticket_id, "not-a-token")
        .await
        .expect_err("unknown token");
    assert_eq!(status.code(), Code::Unauthenticated);

    // INVALID_ARGUMENT naming the field.
    let status = fetch_ticket(&mut client, "nonsense", "t-admin")
        .await
        .expect_err("bad id");
    assert_names(&status, Code::InvalidArgument, &["ticket_id"]);
    let mut service = Staff::new(client.clone(), "t-service");
    let status = service.review(&ticket_id, 9, "").await;
    let status = status.expect_err("satisfaction out of range");
    assert_names(&status, Code::InvalidArgument, &["satisfaction"]);

    // NOT_FOUND: a well-formed id nobody submitted.
    let unknown = unknown_ticket_id();
    let status = fetch_ticket(&mut client, &unknown, "t-admin")
        .await
        .expect_err("unknown ticket");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // FAILED_PRECONDITION naming the current step.
    let status = service
        .archive(&ticket_id)
        .await
        .expect_err("not in review");
    assert_names(&status, Code::FailedPrecondition, &["handle"]);

    // ABORTED: a stale expected version.
    let stale = v1::AddNoteRequest {
        expected_version: Some(1),
        text: "late".into(),
        ..Default::default()
    };
    let status = service.add_note_with(&ticket_id, stale).await;
    let status = status.expect_err("stale version");
    assert_eq!(status.code(), Code::Aborted);

    // OUT_OF_RANGE: a message over the size limit.
    let huge = "长".repeat(100_000);
    let status = service.add_note(&ticket_id, &huge).await;
    let status = status.expect_err("too large");
    assert_eq!(status.code(), Code::OutOfRange);

    // A repeated command id returns the first result.
    let note = |command_id: &str| v1::AddNoteRequest {
        ticket_id: ticket_id.clone(),
        command_id: command_id.into(),
        text: "called back".into(),
        ..Default::default()
    };
    let first = client
        .add_note(authorized(note("same"), "t-service"))
        .await
        .expect("note")
        .into_inner()
        .ticket
        .expect("ticket");
    let again = client
        .add_note(authorized(note("same"), "t-service"))
        .await
        .expect("repeat")
        .into_inner()
        .ticket
        .expect("ticket");
    assert_eq!(first.version, again.version);
    assert_eq!(events_of(&cluster, &ticket_id).await.len(), 4);
}

/// A well-formed ticket id that intake never gave out (a node id intake does not use).
fn unknown_ticket_id() -> String {
    domain::ids::TicketIdGenerator::new(999)
        .next(chrono::Utc::now())
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_warning_breach_and_escalation_fire_once_each_across_a_restart() {
    let mut cluster = start_cluster(
        "[sla]\nwarning_threshold = 0.5\n\
         [sla.medium]\nrespond = { amount = 3, unit = \"seconds\" }\nresolve = { amount = 120, unit = \"seconds\" }\n\
         [[sla.escalation]]\nnotify = \"head\"\nafter_breach = { amount = 0, unit = \"seconds\" }\n\
         [[sla.escalation]]\nnotify = \"manager\"\nafter_breach = { amount = 5, unit = \"seconds\" }\n",
    );
    let ticket_id = submit(&cluster, "sla-1", "APP卡顿，打开很慢").await;
    let ticket = cluster
        .wait_ticket(&ticket_id, "t-admin", WAIT, |ticket| {
            ticket.sla_state == v1::SlaState::Warning as i32
        })
        .await;
    let respond_by = ticket.respond_by.expect("respond_by");
    // Kill the service between the warning and the breach; restart it after the second
    // escalation level is due.
    cluster.workflow_mut().kill();
    tokio::time::sleep(Duration::from_secs(9)).await;
    cluster.workflow_mut().restart();
    cluster
        .wait_ticket(&ticket_id, "t-admin", WAIT, |ticket| {
            ticket.escalated && ticket.escalation_reason.contains("manager")
        })
        .await;
    // One more tick at least: nothing fires again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let history = events_of(&cluster, &ticket_id).await;
    let respond: Vec<&v1::LogEvent> = history
        .iter()
        .filter(|event| event.event_type.starts_with("sla_"))
        .filter(|event| event.payload.contains("\"deadline\":\"respond\""))
        .collect();
    let kinds: Vec<&str> = respond
        .iter()
        .map(|event| event.event_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "sla_warning",
            "sla_breached",
            "sla_escalated",
            "sla_escalated"
        ]
    );
    let seconds = |event: &v1::LogEvent| event.occurred_at.as_ref().map_or(0, |at| at.seconds);
    assert!(
        seconds(respond[0]) < respond_by.seconds,
        "the warning came before the deadline"
    );
    assert!(
        seconds(respond[1]) >= respond_by.seconds,
        "the breach came at the deadline"
    );
    assert!(
        seconds(respond[3]) >= respond_by.seconds + 5,
        "the manager 5 s after the breach"
    );
    assert!(respond[1].payload.contains("policy_version"));
    assert!(respond[1].payload.contains("calendar_version"));
    let explained = &cluster
        .tickets_connected()
        .await
        .explain_sla(authorized(
            v1::ExplainSlaRequest {
                ticket_id: ticket_id.clone(),
            },
            "t-service",
        ))
        .await
        .expect("explain")
        .into_inner();
    assert_eq!(explained.sla_row, "medium");
    assert_eq!(explained.respond_within.expect("respond_within").seconds, 3);
    assert!(!explained.policy_version.is_empty());
    assert!(explained
        .reasons
        .iter()
        .any(|line| line.contains("policy version")));
    let overdue = &cluster
        .tickets_connected()
        .await
        .list_tickets(authorized(
            v1::ListTicketsRequest {
                filter: Some(v1::TicketFilter {
                    sla_state: v1::SlaState::Breached as i32,
                    ..Default::default()
                }),
                ..Default::default()
            },
            "t-manager",
        ))
        .await
        .expect("overdue list")
        .into_inner();
    assert_eq!(overdue.tickets.len(), 1);
}

async fn next_change(
    stream: &mut tonic::Streaming<v1::WatchTicketsResponse>,
) -> v1::WatchTicketsResponse {
    tokio::time::timeout(Duration::from_secs(30), stream.next())
        .await
        .expect("a change in time")
        .expect("stream open")
        .expect("no error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_watch_sees_its_queue_then_every_change() {
    let cluster = start_cluster("");
    let first = submit(&cluster, "w-1", "APP卡顿，打开很慢").await;
    cluster
        .wait_ticket(&first, "t-admin", WAIT, |ticket| {
            ticket.department == "technical"
        })
        .await;
    let mut client = cluster.tickets_connected().await;
    let mut stream = client
        .watch_tickets(authorized(
            v1::WatchTicketsRequest {
                filter: Some(v1::TicketFilter {
                    department: "technical".into(),
                    ..Default::default()
                }),
                include_current: true,
            },
            "t-agent-technical",
        ))
        .await
        .expect("watch")
        .into_inner();
    let current = next_change(&mut stream).await;
    assert_eq!(current.ticket.expect("ticket").ticket_id, first);
    let second = submit(&cluster, "w-2", "The app crashes when I open it").await;
    let change = next_change(&mut stream).await;
    assert_eq!(change.ticket.as_ref().expect("ticket").ticket_id, second);
    assert!(change.position > 0);
    let mut calls = caller(&cluster, &first).await;
    calls.acknowledge("t-agent-technical").await.expect("ack");
    let change = next_change(&mut stream).await;
    assert_eq!(change.ticket.expect("ticket").ticket_id, first);
    assert_eq!(change.event_type, "acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_under_load_loses_nothing_and_duplicates_nothing() {
    const SUBMISSIONS: usize = 1_200;
    let mut cluster = start_cluster("");
    let texts = [
        "APP卡顿，打开很慢",
        "售后响应慢，客服态度差",
        "快递太慢了，包裹破损",
        "The app crashes when I open it",
    ];
    let mut submitted: Vec<String> = Vec::with_capacity(SUBMISSIONS);
    let mut intake = cluster.intake_connected().await;
    let mut killed = false;
    for chunk in 0..SUBMISSIONS / 100 {
        let requests: Vec<v1::SubmitStreamRequest> = (0..100)
            .map(|index| v1::SubmitStreamRequest {
                submission: Some(submission(
                    &format!("load-{chunk}-{index}"),
                    &format!("{} #{chunk}-{index}", texts[index % texts.len()]),
                )),
            })
            .collect();
        let mut responses = intake
            .submit_stream(authorized(futures::stream::iter(requests), "t-adapter"))
            .await
            .expect("bulk submit")
            .into_inner();
        while let Some(response) = responses.next().await {
            let response = response.expect("stream item");
            match response.outcome.expect("an outcome") {
                v1::submit_stream_response::Outcome::Result(result) => {
                    submitted.push(result.ticket_id);
                }
                v1::submit_stream_response::Outcome::Error(error) => {
                    panic!("submission refused: {error:?}")
                }
            }
        }
        // Commands on tickets recorded so far, while submissions keep coming.
        if chunk % 3 == 1 && !killed {
            let mut tickets = cluster.tickets_connected().await;
            for ticket_id in submitted.iter().rev().take(20) {
                let _ = tickets
                    .add_note(authorized(
                        v1::AddNoteRequest {
                            ticket_id: ticket_id.clone(),
                            command_id: format!("load-note-{ticket_id}"),
                            text: "load note".into(),
                            ..Default::default()
                        },
                        "t-service",
                    ))
                    .await;
            }
        }
        if chunk == SUBMISSIONS / 200 {
            cluster.workflow_mut().kill();
            killed = true;
        }
        if chunk == SUBMISSIONS / 200 + 2 {
            cluster.workflow_mut().restart();
            killed = false;
        }
    }
    let expected: HashSet<String> = submitted.iter().cloned().collect();
    assert_eq!(expected.len(), SUBMISSIONS);
    // Every submission becomes a ticket, once.
    let mut client = cluster.tickets_connected().await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let listed = loop {
        let listed: Vec<String> = e2e::grpc::list_all_tickets(&mut client, None, "t-admin")
            .await
            .expect("list")
            .into_iter()
            .map(|ticket| ticket.ticket_id)
            .collect();
        if listed.len() >= SUBMISSIONS || Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let unique: HashSet<String> = listed.iter().cloned().collect();
    assert_eq!(listed.len(), unique.len(), "no ticket listed twice");
    assert_eq!(unique, expected, "every submission is a ticket");
    // The log verifies and the projections equal a rebuild from the log.
    assert_eq!(
        cluster.workflow_mut().terminate(Duration::from_secs(20)),
        Some(0)
    );
    let check = cluster.workflow_check();
    assert_eq!(check["log_ok"], true, "{check}");
    assert_eq!(check["projections_equal"], true, "{check}");
    if let Some(shared) = check.get("shared_equal") {
        assert_eq!(*shared, true, "{check}");
    }
    assert_eq!(check["tickets"], SUBMISSIONS as u64, "{check}");
    let _ = &cluster.dir;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrecordable_message_goes_to_the_dead_letter_subject_and_blocks_nothing() {
    let cluster = start_cluster("");
    let nats = cluster.nats_client().await;
    let mut dead_letters = nats
        .subscribe("feedback.deadletter")
        .await
        .expect("subscribe");
    // Make sure the stream exists (intake creates it) before publishing to it directly.
    let first = submit(&cluster, "d-0", "APP卡顿，打开很慢").await;
    cluster
        .wait_ticket(&first, "t-admin", WAIT, |ticket| {
            ticket.department == "technical"
        })
        .await;
    let jetstream = async_nats::jetstream::new(nats.clone());
    jetstream
        .publish("feedback.received.web", "not a protobuf message".into())
        .await
        .expect("publish")
        .await
        .expect("stored on FEEDBACK");
    let letter = tokio::time::timeout(Duration::from_secs(30), dead_letters.next())
        .await
        .expect("a dead letter in time")
        .expect("subscription open");
    assert_eq!(letter.payload.as_ref(), b"not a protobuf message");
    let headers = letter.headers.expect("headers");
    let reason = headers
        .get("Cloop-Dead-Letter-Reason")
        .expect("reason header")
        .as_str()
        .to_owned();
    assert!(reason.contains("FeedbackReceived"), "{reason}");
    // The consumer goes on with the next message.
    let second = submit(&cluster, "d-1", "售后响应慢，客服态度差").await;
    cluster
        .wait_ticket(&second, "t-admin", WAIT, |ticket| {
            ticket.department == "after_sales"
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_outage_delays_publishing_and_loses_nothing() {
    let mut cluster = start_cluster("");
    let ticket_id = submit(&cluster, "o-1", "APP卡顿，打开很慢").await;
    cluster
        .wait_ticket(&ticket_id, "t-admin", WAIT, |ticket| {
            ticket.department == "technical"
        })
        .await;
    cluster.nats_mut().stop();
    // The workflow keeps serving commands while NATS is down.
    let mut calls = caller(&cluster, &ticket_id).await;
    calls
        .acknowledge("t-agent-technical")
        .await
        .expect("commands work without nats");
    cluster.nats_mut().start_again();
    let nats = cluster.nats_client().await;
    let jetstream = async_nats::jetstream::new(nats);
    let stream = jetstream
        .get_stream("TICKET_EVENTS")
        .await
        .expect("stream exists");
    let deadline = Instant::now() + Duration::from_secs(30);
    let found = loop {
        if let Ok(message) = stream
            .get_last_raw_message_by_subject("ticket.events.acknowledged")
            .await
        {
            break Some(message);
        }
        if Instant::now() > deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let message = found.expect("the acknowledged event was published after the outage");
    use prost::Message as _;
    let event = v1::LogEvent::decode(message.payload.as_ref()).expect("a LogEvent");
    assert_eq!(event.ticket_id, ticket_id);
    assert_eq!(event.event_type, "acknowledged");
}

/// The principals that may not see a ticket department `technical` leads with `product`
/// helping: the agents and heads of the other departments, and the adapter (which sees no
/// ticket at all).
const STRANGERS: &[&str] = &[
    "t-agent-logistics",
    "t-head-logistics",
    "t-head-quality",
    "t-agent-after-sales",
    "t-adapter",
];

/// Every command and read RPC on a ticket of department `technical`, as every stranger, both
/// with a fresh command id and as a replay of each command id `technical` already used on it:
/// each is refused, with exactly the answer the same call gets for a ticket that does not
/// exist (the ids swapped), so nothing of the ticket, not even that it exists, comes back.
/// Watches, lists, searches, the audit reads and the reports hold nothing of it either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_department_learns_nothing_fresh_or_replayed() {
    let cluster = start_cluster("");
    let ticket_id = submit(&cluster, "x-1", "APP卡顿，打开很慢").await;
    let placed = cluster
        .wait_ticket(&ticket_id, "t-admin", WAIT, |ticket| {
            ticket.department == "technical"
        })
        .await;
    assert_eq!(
        placed.helpers,
        ["product"],
        "the strangers below assume these helpers"
    );
    let mut client = cluster.tickets_connected().await;
    // Department technical works on it: the command ids below are now recorded with results.
    let used = [
        "used-ack",
        "used-note",
        "used-pause",
        "used-resume",
        "used-claim",
    ];
    for (rpc, command_id, token) in [
        ("Acknowledge", used[0], "t-agent-technical"),
        ("AddNote", used[1], "t-agent-technical"),
        ("PauseSla", used[2], "t-agent-technical"),
        ("ResumeSla", used[3], "t-agent-technical"),
        ("Claim", used[4], "t-agent-technical"),
    ] {
        call_with(&mut client, rpc, &ticket_id, token, command_id)
            .await
            .unwrap_or_else(|status| panic!("{rpc} by technical: {status:?}"));
    }
    let before = events_of(&cluster, &ticket_id).await;
    let ticket = cluster
        .wait_ticket(&ticket_id, "t-admin", WAIT, |_| true)
        .await;
    // What must never come back to a stranger.
    let secrets = [
        "APP卡顿".to_owned(),
        "13800138000".to_owned(),
        "c-42".to_owned(),
        "technical".to_owned(),
        "wang.wu".to_owned(),
    ];
    let missing = unknown_ticket_id();

    let mut checked = 0;
    let mut wrong = Vec::new();
    for token in STRANGERS {
        for rpc in RPCS {
            if *rpc == "ListTickets" || *rpc == "WatchTickets" {
                continue; // no ticket id: checked below.
            }
            let fresh = format!("fresh-{rpc}-{token}");
            let mut command_ids: Vec<&str> = vec![&fresh];
            command_ids.extend(used);
            for command_id in command_ids {
                let foreign = call_with(&mut client, rpc, &ticket_id, token, command_id).await;
                let absent = call_with(&mut client, rpc, &missing, token, command_id).await;
                checked += 1;
                let (foreign, absent) = match (foreign, absent) {
                    (Err(foreign), Err(absent)) => (foreign, absent),
                    (foreign, _) => {
                        let answer: String = format!("{foreign:?}").chars().take(160).collect();
                        wrong.push(format!("{token} {rpc} {command_id}: answered {answer}"));
                        continue;
                    }
                };
                if !matches!(foreign.code(), Code::NotFound | Code::PermissionDenied) {
                    wrong.push(format!("{token} {rpc} {command_id}: {foreign:?}"));
                }
                let said = foreign.message().replace(&ticket_id, "<ticket>");
                let would_say = absent.message().replace(&missing, "<ticket>");
                if foreign.code() != absent.code() || said != would_say {
                    wrong.push(format!(
                        "{token} {rpc} {command_id}: {:?} {said:?} differs from a missing \
                         ticket's {:?} {would_say:?}",
                        foreign.code(),
                        absent.code()
                    ));
                }
                let text = format!("{foreign:?}");
                for secret in &secrets {
                    if text.contains(secret.as_str()) {
                        wrong.push(format!("{token} {rpc} {command_id}: reveals {secret}"));
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "strangers learnt something ({} of {checked} calls):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(
        checked,
        STRANGERS.len() * (RPCS.len() - 2) * (used.len() + 1)
    );

    // Lists, text search and watches of the strangers hold nothing of it.
    for token in STRANGERS {
        let searches = [
            v1::TicketFilter::default(),
            v1::TicketFilter {
                text: "卡顿".into(),
                ..Default::default()
            },
        ];
        for filter in searches {
            match client
                .list_tickets(authorized(
                    v1::ListTicketsRequest {
                        filter: Some(filter.clone()),
                        ..Default::default()
                    },
                    token,
                ))
                .await
            {
                Ok(page) => assert!(
                    page.get_ref().tickets.is_empty(),
                    "{token} lists {:?}",
                    page.get_ref().tickets
                ),
                Err(status) => assert_eq!(status.code(), Code::PermissionDenied, "{token}"),
            }
        }
        let asked = client
            .list_tickets(authorized(
                v1::ListTicketsRequest {
                    filter: Some(v1::TicketFilter {
                        department: "technical".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                token,
            ))
            .await
            .expect_err("another department's queue");
        assert_eq!(asked.code(), Code::PermissionDenied, "{token}");
        match client
            .watch_tickets(authorized(
                v1::WatchTicketsRequest {
                    filter: None,
                    include_current: true,
                },
                token,
            ))
            .await
        {
            Ok(stream) => {
                let mut stream = stream.into_inner();
                // Whatever the watch sends within a second is not this ticket.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
                while let Ok(Some(item)) = tokio::time::timeout_at(deadline, stream.next()).await {
                    let item = item.expect("watch item");
                    assert_ne!(
                        item.ticket.map(|ticket| ticket.ticket_id),
                        Some(ticket_id.clone()),
                        "{token} watches the ticket"
                    );
                }
            }
            Err(status) => assert_eq!(status.code(), Code::PermissionDenied, "{token}"),
        }
        // The audit reads and the reports are not theirs at all.
        let mut audit = proto::v1::audit_client::AuditClient::connect(format!(
            "http://{}",
            cluster.workflow().address()
        ))
        .await
        .expect("audit client");
        let at = audit
            .get_ticket_at(authorized(
                v1::GetTicketAtRequest {
                    ticket_id: ticket_id.clone(),
                    at: ticket.updated_at,
                },
                token,
            ))
            .await
            .expect_err("GetTicketAt");
        assert_eq!(at.code(), Code::PermissionDenied, "{token}");
        let events = audit
            .read_events(authorized(
                v1::ReadEventsRequest {
                    stream_id: Some(format!("ticket-{ticket_id}")),
                    ..Default::default()
                },
                token,
            ))
            .await
            .expect_err("ReadEvents");
        assert_eq!(events.code(), Code::PermissionDenied, "{token}");
        let mut reports = proto::v1::reports_client::ReportsClient::connect(format!(
            "http://{}",
            cluster.workflow().address()
        ))
        .await
        .expect("reports client");
        let report = reports
            .monthly_report(authorized(v1::MonthlyReportRequest::default(), token))
            .await
            .expect_err("MonthlyReport");
        assert_eq!(report.code(), Code::PermissionDenied, "{token}");
    }

    // Nothing any stranger sent changed the ticket.
    assert_eq!(events_of(&cluster, &ticket_id).await.len(), before.len());

    // The department's own principals still get their first answers back on a replay.
    let replay = call_with(
        &mut client,
        "Acknowledge",
        &ticket_id,
        "t-agent-technical",
        used[0],
    )
    .await
    .expect("a replay by its sender");
    assert!(replay.contains(&ticket_id), "{replay}");
    let replay = call_with(
        &mut client,
        "AddNote",
        &ticket_id,
        "t-head-technical",
        used[1],
    )
    .await
    .expect("a replay by the department's head");
    assert!(replay.contains(&ticket_id), "{replay}");
    assert_eq!(events_of(&cluster, &ticket_id).await.len(), before.len());
}
