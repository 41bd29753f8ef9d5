//! End-to-end tests of the `cloop` binary against real services: the error paths scripts
//! rely on (unreachable service, bad token, unknown ticket, wrong step, bad usage), each one
//! clear line on standard error with its documented exit code; a submission followed to its
//! timeline; and the offline commands (`log verify`, `log export`, `report monthly --db
//! --at-position`) on the workflow's own event log, reproducible byte for byte.

use crate::support::text;
use e2e::cluster::cloop_command;
use e2e::{free_port, principal, principals_file, wait_until, Principal, ServiceSpec, TestCluster};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

/// The principals these tests use.
const PRINCIPALS: &[Principal] = &[
    principal("t-adapter", "web-form", "adapter"),
    principal("t-service", "zhang.san", "service"),
    principal("t-manager", "boss", "manager"),
    principal("t-admin", "root", "admin"),
];

/// `cloop token new` for an agent `li.si` (without the department the role needs).
const NEW_AGENT_TOKEN: [&str; 6] = ["token", "new", "--name", "li.si", "--role", "agent"];

/// Runs the `cloop` binary with a clean environment: no token, no profile from the user's
/// home, no colour.
fn cloop(home: &Path, args: &[&str]) -> Output {
    cloop_command(home).args(args).output().expect("run cloop")
}

/// Asserts the documented exit code and exactly one line on standard error, starting with
/// `expected_start`.
fn assert_one_line_error(output: &Output, code: i32, expected_start: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code; stderr: {stderr}; stdout: {}",
        text(&output.stdout)
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line on stderr, got: {stderr:?}"
    );
    assert!(
        stderr.starts_with(expected_start),
        "stderr {stderr:?} should start with {expected_start:?}"
    );
}

/// A well-formed ticket id that intake never gave out (a node id intake does not use).
fn unknown_ticket_id() -> String {
    domain::ids::TicketIdGenerator::new(999)
        .next(chrono::Utc::now())
        .to_string()
}

#[test]
fn an_unreachable_service_is_one_line_and_exit_code_6() {
    let home = tempfile::tempdir().expect("temp dir");
    let address = format!("127.0.0.1:{}", free_port());
    let unknown = unknown_ticket_id();
    for (service, args) in [
        (
            "cloop-workflow",
            vec![
                "--workflow",
                &address,
                "--token",
                "t-service",
                "tickets",
                "show",
                &unknown,
            ],
        ),
        (
            "cloop-intake",
            vec![
                "--intake",
                &address,
                "submit",
                "--channel",
                "web",
                "--content",
                "APP卡顿",
                "--phone",
                "13800138000",
            ],
        ),
    ] {
        assert_one_line_error(
            &cloop(home.path(), &args),
            6,
            &format!("error: cannot reach {service} at http://{address}: "),
        );
    }
}

#[test]
fn usage_errors_are_exit_code_2() {
    let home = tempfile::tempdir().expect("temp dir");
    let missing = cloop(home.path(), &["tickets", "show"]);
    assert_eq!(missing.status.code(), Some(2));
    let with_channel = [
        &NEW_AGENT_TOKEN[..],
        &["--department", "logistics", "--channel", "web"],
    ]
    .concat();
    for (args, expected_start) in [
        (
            &["report", "monthly", "--month", "2026-13"][..],
            "error: invalid month \"2026-13\"",
        ),
        (&NEW_AGENT_TOKEN[..], "error: role agent needs --department"),
        (
            &with_channel[..],
            "error: role agent has no channels: only adapters are bound to channels",
        ),
    ] {
        assert_one_line_error(&cloop(home.path(), args), 2, expected_start);
    }
}

#[test]
fn token_new_prints_a_token_and_its_tokens_file_entry() {
    let home = tempfile::tempdir().expect("temp dir");
    let args = [
        &["--json"][..],
        &NEW_AGENT_TOKEN,
        &["--department", "logistics"],
    ]
    .concat();
    let output = cloop(home.path(), &args);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json output");
    let token = json["token"].as_str().expect("a token");
    assert!(token.starts_with("cloop_") && token.len() == 6 + 64);
    assert_eq!(
        json["token_sha256"].as_str(),
        Some(service::tokens::token_sha256(token).as_str())
    );
    assert!(json["tokens_file_entry"]
        .as_str()
        .expect("an entry")
        .contains("department = \"logistics\""));
}

#[test]
fn error_paths_then_a_ticket_from_submission_to_an_offline_report() {
    let mut services = TestCluster::builder()
        .prefix("cloop-cli-e2e-")
        .tokens(principals_file(PRINCIPALS))
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();

    // A bad token and no token: unauthenticated, exit 3.
    let output = services.cloop("not-a-token", &["tickets", "list"]);
    assert_one_line_error(&output, 3, "error: unauthenticated: ");
    let output = services.cloop("", &["tickets", "list"]);
    assert_one_line_error(&output, 3, "error: unauthenticated: ");
    // An adapter may not read tickets: permission denied, exit 3.
    let output = services.cloop("t-adapter", &["tickets", "list"]);
    assert_one_line_error(&output, 3, "error: permission denied: ");
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("(`cloop tickets list`)") && !stderr.contains("denied: permission denied"),
        "{stderr}"
    );

    // An unknown ticket: not found, exit 4.
    let unknown = unknown_ticket_id();
    let output = services.cloop("t-service", &["tickets", "show", &unknown]);
    assert_one_line_error(&output, 4, "error: not found: ");
    let output = services.cloop("t-service", &["tickets", "history", &unknown]);
    assert_one_line_error(&output, 4, "error: not found: ");

    // Submit through intake, then follow the ticket in the workflow.
    let output = services.cloop(
        "t-adapter",
        &[
            "--json",
            "submit",
            "--channel",
            "web",
            "--external-id",
            "cli-e2e-1",
            "--content",
            "APP卡顿，下单后一直转圈，退款也没有到账",
            "--phone",
            "13800138000",
            "--name",
            "张三",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let receipt: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json receipt");
    let ticket_id = receipt["ticket_id"]
        .as_str()
        .expect("a ticket id")
        .to_owned();
    assert_eq!(receipt["duplicate"], false);

    let mut shown = None;
    let arrived = wait_until(Duration::from_secs(30), || {
        let output = services.cloop("t-service", &["--json", "tickets", "show", &ticket_id]);
        if output.status.code() == Some(0) {
            shown = Some(output);
            true
        } else {
            false
        }
    });
    assert!(arrived, "the ticket reached the workflow");
    let ticket: serde_json::Value =
        serde_json::from_slice(&shown.expect("shown").stdout).expect("json ticket");
    assert_eq!(ticket["ticket_id"], ticket_id.as_str());
    assert_eq!(ticket["channel"], "web");

    let output = services.cloop("t-service", &["tickets", "history", &ticket_id]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let timeline = text(&output.stdout);
    assert!(timeline.starts_with("TIME"), "{timeline}");
    assert!(timeline.contains("received"), "{timeline}");
    assert!(timeline.contains("via web: APP卡顿"), "{timeline}");

    let output = services.cloop("t-service", &["--json", "tickets", "list"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json list");
    assert!(listed
        .as_array()
        .expect("an array")
        .iter()
        .any(|item| item["ticket_id"] == ticket_id.as_str()));

    // Archiving before any review is not allowed in the ticket's step: exit 5.
    let output = services.cloop("t-service", &["archive", &ticket_id]);
    assert_one_line_error(&output, 5, "error: not allowed now: ");

    // Through the remaining steps with real commands: classify and dispatch when the rules
    // left the ticket waiting, then acknowledge, solve, review with 5 stars and archive.
    let step = ticket["step"].as_str().expect("a step").to_owned();
    if step == "classify" {
        let output = services.cloop(
            "t-admin",
            &[
                "classify",
                &ticket_id,
                "--kind",
                "complaint",
                "--content-type",
                "product",
                "--priority",
                "high",
            ],
        );
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    let output = services.cloop("t-admin", &["--json", "tickets", "show", &ticket_id]);
    let ticket: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json ticket");
    if ticket["step"] == "dispatch" {
        let output = services.cloop(
            "t-admin",
            &["dispatch", &ticket_id, "--department", "technical"],
        );
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    for args in [
        vec!["ack", ticket_id.as_str(), "--message", "您好，我们已收到"],
        vec![
            "solve",
            ticket_id.as_str(),
            "--outcome",
            "fixed",
            "--text",
            "已修复",
        ],
        vec![
            "review",
            ticket_id.as_str(),
            "--satisfaction",
            "5",
            "--comment",
            "谢谢",
        ],
        vec!["--json", "archive", ticket_id.as_str()],
    ] {
        if args[0] == "review" {
            // Solved but not reviewed: archiving says so plainly, as a "not yet" (exit 5).
            let output = services.cloop("t-admin", &["archive", &ticket_id]);
            assert_one_line_error(&output, 5, "error: not allowed now: no review yet: ");
            // A role that may not review is told which command it may not use, once.
            let output =
                services.cloop("t-manager", &["review", &ticket_id, "--satisfaction", "5"]);
            assert_one_line_error(
                &output,
                3,
                "error: permission denied: boss (manager) may not record a review (`cloop review`)",
            );
        }
        let output = services.cloop("t-admin", &args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    let output = services.cloop("t-admin", &["--json", "tickets", "show", &ticket_id]);
    let ticket: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json ticket");
    assert_eq!(ticket["step"], "archive");
    // An archived ticket takes no more notes: refused, exit 5.
    let output = services.cloop("t-admin", &["note", &ticket_id, "--text", "late note"]);
    assert_one_line_error(&output, 5, "error: ");

    // Offline, on the workflow's own log once it has stopped.
    services.workflow_mut().terminate(Duration::from_secs(20));
    let [source_flag, source] = services.log_source();
    let output = services.cloop("", &["log", "verify", &source_flag, &source]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("ok: "));

    let output = services.cloop("", &["log", "export", &source_flag, &source]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let exported = text(&output.stdout);
    let head = exported.lines().count();
    assert!(head >= 1);
    let first: serde_json::Value =
        serde_json::from_str(exported.lines().next().expect("a line")).expect("json line");
    assert_eq!(first["position"], 1);

    // Offline, from the log's store: the SQLite file, or the PostgreSQL database.
    let source_flag = source_flag.as_str();
    let month = chrono::Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
        .format("%Y-%m")
        .to_string();
    let head_text = head.to_string();
    let html = services.dir.path().join("report.html");
    let html_text = html.to_string_lossy().into_owned();
    let report_at = |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "report",
            "monthly",
            "--month",
            month.as_str(),
            source_flag,
            source.as_str(),
            "--at-position",
            head_text.as_str(),
        ];
        args.extend_from_slice(extra);
        let output = services.cloop("", &args);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    let first_report = report_at(&["--html", &html_text]);
    let again = report_at(&[]);
    assert_eq!(
        first_report, again,
        "the same position gives the same report"
    );
    let report: serde_json::Value = serde_json::from_str(&first_report).expect("json report");
    assert_eq!(report["log_position"], head as u64);
    // The month holds exactly the one ticket driven through every step above.
    assert_eq!(report["tickets"], 1);
    assert_eq!(report["archived"], 1);
    assert_eq!(report["closed_loop_rate"], 1.0);
    assert_eq!(report["on_time"]["responded"], 1);
    assert_eq!(report["on_time"]["resolved"], 1);
    assert_eq!(report["on_time"]["resolution_rate"], 1.0);
    assert_eq!(report["satisfaction"]["reviews"], 1);
    assert_eq!(report["satisfaction"]["mean"], 5.0);
    assert_eq!(report["reopened"], 0);
    assert_eq!(report["by_channel"][0]["key"], "web");
    assert_eq!(report["by_channel"][0]["share"], 1.0);
    let page = std::fs::read_to_string(&html).expect("the html report");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(&format!("<b id=\"log-position\">{head}</b>")));

    // Past the end of the log: a usage error.
    let past = (head + 10).to_string();
    let output = services.cloop(
        "",
        &[
            "report",
            "monthly",
            "--month",
            &month,
            source_flag,
            &source,
            "--at-position",
            &past,
        ],
    );
    assert_one_line_error(&output, 2, "error: position ");
}
