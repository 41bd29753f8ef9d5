//! The monthly report checked against a hand-computed fixture month: 36 tickets of March 2026
//! with known channels, classifications, departments, response and resolution times,
//! outcomes, reviews (some below the satisfied threshold, so they reopen) and archives, driven
//! through real nats-server, `cloop-intake` and `cloop-workflow` processes over gRPC. Both
//! services read "now" from a file the test moves forward (`CLOOP_TEST_CLOCK`, honoured by
//! builds with the `failpoints` feature), so every instant is the one the fixture names.
//!
//! Every figure of `Reports.MonthlyReport`, of `cloop report monthly --json` and of its
//! `--csv` file is compared with a literal written by hand from the fixture table below, with
//! the arithmetic in a comment (docs/reports.md defines each figure). Nothing is recomputed by
//! the code under test.
//!
//! The SLA policy is the default one (`domain.md`): urgent 1 h / 24 h, high 2 h / 72 h, medium
//! 24 h / 72 h, low 72 h / 5 working days; complaints take the stricter of their priority row
//! and 48 h / 5 working days. Every ticket is received on a weekday of March 2026 (no holidays)
//! inside working hours, so 5 working days are exactly 7 days (10,080 minutes) later. The
//! report is asked for in November 2026 (the log's recorded time), so every deadline of the
//! month has passed: every ticket is due for both its response and its resolution.

use crate::support::authorized;
use chrono::{DateTime, Duration as TimeDelta, FixedOffset, TimeZone, Utc};
use e2e::{ServiceSpec, Staff, TestCluster};
use proto::v1;
use proto::v1::{ContentType, Kind, Outcome, Priority};
use std::path::Path;
use std::time::Duration;

/// The fixture month, in the business calendar's offset (+08:00).
const MONTH: &str = "2026-03";
const ADMIN: &str = "t-admin";

mod expected;
mod fixture;

use expected::*;
use fixture::*;

/// Polls until the workflow has the ticket.
async fn wait_ticket(cluster: &TestCluster, ticket_id: &str) -> v1::Ticket {
    let timeout = Duration::from_secs(60);
    cluster
        .wait_ticket(ticket_id, ADMIN, timeout, |_| true)
        .await
}

async fn monthly(cluster: &TestCluster, department: Option<&str>) -> v1::MonthlyReport {
    cluster
        .reports_client()
        .monthly_report(authorized(
            v1::MonthlyReportRequest {
                month: MONTH.to_owned(),
                department: department.map(str::to_owned),
                at_position: None,
            },
            ADMIN,
        ))
        .await
        .expect("the monthly report")
        .into_inner()
        .report
        .expect("a report")
}

/// Writes the instant both services take for "now" (written aside and renamed, so that a
/// service never reads half a line).
fn set_clock(path: &Path, at: DateTime<Utc>) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, at.to_rfc3339()).expect("write the clock");
    std::fs::rename(&aside, path).expect("move the clock");
}

fn instant(timestamp: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    timestamp.and_then(|timestamp| {
        DateTime::from_timestamp(timestamp.seconds, u32::try_from(timestamp.nanos).ok()?)
    })
}

fn millis(duration: Option<prost_types::Duration>) -> Option<i64> {
    duration.map(|duration| duration.seconds * 1000 + i64::from(duration.nanos) / 1_000_000)
}

/// Sends one command as the admin; every one must succeed. Returns the ticket after it.
struct Commands {
    admin: Staff,
}

impl Commands {
    async fn run(&mut self, case: &Case, ticket_id: &str, action: Action) -> v1::Ticket {
        let admin = &mut self.admin;
        let response = match action {
            Action::Receive => unreachable!("receipts go through intake"),
            Action::Classify => {
                let request = v1::ClassifyRequest {
                    kind: case.kind.map_or(0, |kind| kind as i32),
                    content_type: case.content_type as i32,
                    priority: case.priority as i32,
                    scope: v1::Scope::Local as i32,
                    keywords: case.keywords.iter().map(|&k| k.to_owned()).collect(),
                    reason: "read the text".into(),
                    ..Default::default()
                };
                admin.classify_with(ticket_id, request).await
            }
            Action::Acknowledge => admin.acknowledge(ticket_id, "我们已收到，正在处理").await,
            Action::Propose(outcome) => {
                if case.kind == Some(Kind::Suggestion) {
                    // Every suggestion is evaluated before its solution (4, 2, 4: score 12).
                    admin
                        .evaluate(ticket_id, (4, 2, 4), "评估")
                        .await
                        .unwrap_or_else(|status| panic!("ticket {} evaluate: {status}", case.n));
                }
                let text = format!("第{}号的处理方案", case.n);
                let reason = if outcome == Outcome::Declined {
                    "成本过高"
                } else {
                    ""
                };
                admin
                    .propose_because(ticket_id, outcome, &text, reason)
                    .await
            }
            Action::Approve => admin.approve(ticket_id, "同意").await,
            Action::Review(satisfaction) => admin.review(ticket_id, satisfaction, "客户回访").await,
            Action::Note => {
                let note = v1::AddNoteRequest {
                    text: "您的建议已列入计划".into(),
                    visibility: v1::NoteVisibility::Customer as i32,
                    ..Default::default()
                };
                admin.add_note_with(ticket_id, note).await
            }
            Action::Archive => admin.archive(ticket_id).await,
        };
        response.unwrap_or_else(|status| panic!("ticket {} {action:?}: {status}", case.n))
    }

    async fn dispatch(&mut self, ticket_id: &str, department: &str) -> v1::Ticket {
        let reason = "this department owns it";
        let dispatched = self.admin.dispatch(ticket_id, department, reason).await;
        dispatched.expect("dispatch")
    }
}

/// Drives the whole fixture month; returns the ticket ids in the order of `CASES`.
async fn drive(cluster: &TestCluster) -> Vec<String> {
    let mut ids = vec![String::new(); CASES.len()];
    let mut commands = Commands {
        admin: Staff::new(cluster.tickets_client(), ADMIN),
    };
    for (at, index, action) in timeline() {
        let case = &CASES[index];
        set_clock(&cluster.clock_path(), at);
        match action {
            Action::Receive => {
                let response = cluster
                    .intake_client()
                    .submit(authorized(
                        v1::SubmitRequest {
                            channel: case.channel.into(),
                            external_id: format!("month-{}", case.n),
                            content: if case.keywords.is_empty() {
                                format!("第{}号反馈记录", case.n)
                            } else {
                                format!("第{}号反馈记录：{}", case.n, case.keywords.join("，"))
                            },
                            product: case.product.into(),
                            customer: Some(v1::Customer {
                                customer_id: format!("c-{}", case.n),
                                name: case.name.into(),
                                phone: "13800138000".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                        "t-adapter",
                    ))
                    .await
                    .unwrap_or_else(|status| panic!("submit ticket {}: {status}", case.n))
                    .into_inner();
                let ticket = wait_ticket(cluster, &response.ticket_id).await;
                assert_eq!(
                    instant(ticket.created_at),
                    Some(case.received_at()),
                    "ticket {} is received at the fixture's instant",
                    case.n
                );
                ids[index] = response.ticket_id;
            }
            Action::Classify => {
                let mut ticket = commands.run(case, &ids[index], action).await;
                if ticket.department != case.department || ticket.step != v1::Step::Handle as i32 {
                    ticket = commands.dispatch(&ids[index], case.department).await;
                }
                assert_eq!(ticket.department, case.department, "ticket {}", case.n);
                // The deadlines, by hand from the SLA table (see `Case::allowances`).
                let (respond, resolve) = case.allowances();
                assert_eq!(
                    instant(ticket.respond_by),
                    Some(case.at(respond)),
                    "ticket {}",
                    case.n
                );
                assert_eq!(
                    instant(ticket.resolve_by),
                    Some(case.at(resolve)),
                    "ticket {}",
                    case.n
                );
            }
            Action::Propose(outcome) => {
                let ticket = commands.run(case, &ids[index], action).await;
                assert_eq!(
                    ticket.awaiting_approval,
                    needs_approval(case, outcome),
                    "ticket {}",
                    case.n
                );
            }
            _ => {
                commands.run(case, &ids[index], action).await;
            }
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_computed_month_gives_every_figure_of_the_report() {
    assert!(
        crate::support::failpoints_built_in(),
        "the services read the fixture's clock only when built with the failpoints feature \
         (make build)"
    );
    let cluster = TestCluster::builder()
        .prefix("cloop-report-month-")
        .test_clock(march(1, 9, 0).to_rfc3339())
        .config(
            "[intake_service]\nnode_id = 5\nmaintenance_interval_ms = 200\n\n\
             [workflow_service]\ntimer_tick_ms = 500\n\n[nats]\nrequest_timeout_ms = 3000\n",
        )
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();
    let ids = drive(&cluster).await;
    let month = monthly(&cluster, None).await;
    assert_report(&month, expected_month(&ids));
    let technical = monthly(&cluster, Some("technical")).await;
    assert_report(&technical, expected_technical());

    // The CLI shows the same figures as JSON and as a CSV file.
    let output = cluster.cloop(ADMIN, &["--json", "report", "monthly", "--month", MONTH]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json report");
    assert_json(&json, &expected_month(&ids));
    let output = cluster.cloop(
        ADMIN,
        &[
            "--json",
            "report",
            "monthly",
            "--month",
            MONTH,
            "--department",
            "technical",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json report");
    assert_json(&json, &expected_technical());
    let csv_path = cluster.dir.path().join("march.csv");
    let output = cluster.cloop(
        ADMIN,
        &[
            "report",
            "monthly",
            "--month",
            MONTH,
            "--csv",
            &csv_path.to_string_lossy(),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let csv = std::fs::read_to_string(&csv_path).expect("the csv file");
    assert_csv(&csv, &expected_month(&ids));
}
