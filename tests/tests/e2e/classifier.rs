//! The trained classifier in the workflow, with real binaries: a naturally worded submission
//! that no keyword rule places gets the model's suggestion, `GetTicket` (`cloop tickets show`)
//! carries it, `cloop classify --accept` confirms it in one command and the ticket is
//! dispatched to the suggested department; a model file that is not a model stops the
//! workflow at start (exit 2) with a line naming it and the reason.

use crate::support::text;
use e2e::{principal, principals_file, wait_until, Principal, ServiceSpec, TestCluster};
use std::process::Command;
use std::time::Duration;

const PRINCIPALS: &[Principal] = &[
    principal("t-adapter", "web-form", "adapter"),
    principal("t-service", "zhang.san", "service"),
    principal("t-agent", "li.si", "agent").of("marketing"),
];

/// No keyword rule places it (`crates/domain/tests/placement.rs` checks that).
pub(crate) const UNPLACED: &str =
    "上周买的那个保温杯，盖子拧不紧，一倒过来水就顺着流，包里的书都湿了";

/// Every field between the thresholds: whatever the model says, it suggests.
pub(crate) const SUGGEST_ALWAYS: &str = "[classifier]\n\
    kind = { auto = 1.0, suggest = 0.0 }\n\
    content_type = { auto = 1.0, suggest = 0.0 }\n\
    priority = { auto = 1.0, suggest = 0.0 }\n\
    department = { auto = 1.0, suggest = 0.0 }\n";

fn json(output: &std::process::Output) -> serde_json::Value {
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("json")
}

#[test]
fn a_suggestion_is_shown_and_confirmed_in_one_command() {
    let services = TestCluster::builder()
        .prefix("cloop-classifier-e2e-")
        .tokens(principals_file(PRINCIPALS))
        .config(SUGGEST_ALWAYS)
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();
    let receipt = json(&services.cloop(
        "t-adapter",
        &[
            "--json",
            "submit",
            "--channel",
            "web",
            "--external-id",
            "model-1",
            "--content",
            UNPLACED,
            "--phone",
            "13800138000",
        ],
    ));
    let ticket_id = receipt["ticket_id"].as_str().expect("ticket id").to_owned();

    let mut shown = serde_json::Value::Null;
    let suggested = wait_until(Duration::from_secs(30), || {
        let output = services.cloop("t-service", &["--json", "tickets", "show", &ticket_id]);
        if output.status.code() != Some(0) {
            return false;
        }
        shown = serde_json::from_slice(&output.stdout).expect("json ticket");
        shown.get("suggestion").is_some()
    });
    assert!(suggested, "the ticket got a suggestion: {shown}");
    assert_eq!(shown["step"], "classify", "{shown}");
    let suggestion = &shown["suggestion"];
    assert!(
        suggestion["model_version"]
            .as_str()
            .is_some_and(|version| version.starts_with("sha256:")),
        "{suggestion}"
    );
    for field in ["kind", "content_type", "priority", "department"] {
        let values = suggestion[field].as_array().expect("values");
        assert!((1..=3).contains(&values.len()), "{field}: {suggestion}");
        let first = values[0]["probability"].as_f64().expect("probability");
        assert!((0.0..=1.0).contains(&first), "{suggestion}");
    }
    let department = suggestion["department"][0]["value"]
        .as_str()
        .expect("a department")
        .to_owned();

    // The text view shows it with the command that confirms it.
    let output = services.cloop("t-service", &["tickets", "show", &ticket_id]);
    let shown_text = text(&output.stdout);
    assert!(
        shown_text.contains("suggested by the classifier sha256:")
            && shown_text.contains(&format!("cloop classify {ticket_id} --accept")),
        "{shown_text}"
    );

    // An agent may not classify: the suggestion is not theirs to confirm.
    let output = services.cloop("t-agent", &["classify", &ticket_id, "--accept"]);
    assert_ne!(output.status.code(), Some(0), "{}", text(&output.stdout));

    let confirmed =
        json(&services.cloop("t-service", &["--json", "classify", &ticket_id, "--accept"]));
    assert_eq!(confirmed["step"], "handle", "{confirmed}");
    assert_eq!(confirmed["department"], department.as_str(), "{confirmed}");
    assert_eq!(
        confirmed["kind"], suggestion["kind"][0]["value"],
        "{confirmed}"
    );
    assert_eq!(
        confirmed["classification_model_version"], suggestion["model_version"],
        "{confirmed}"
    );
    assert!(confirmed.get("suggestion").is_none(), "{confirmed}");

    // Nothing is left to accept: refused, exit 5, one line.
    let output = services.cloop("t-service", &["classify", &ticket_id, "--accept"]);
    assert_eq!(output.status.code(), Some(5), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("has no suggestion"),
        "{}",
        text(&output.stderr)
    );

    let output = services.cloop("t-service", &["tickets", "history", &ticket_id]);
    let timeline = text(&output.stdout);
    assert!(
        timeline.contains("classification_suggested")
            && timeline.contains("confirmed the classifier's suggestion"),
        "{timeline}"
    );
}

#[test]
fn a_model_file_that_is_not_a_model_stops_the_start() {
    let folder = tempfile::tempdir().expect("temp dir");
    std::fs::write(folder.path().join("model.bin"), b"not a model").expect("write");
    let config = folder.path().join("closedloop.toml");
    std::fs::write(&config, "[classifier]\nmodel = \"model.bin\"\n").expect("write config");
    let output = Command::new(e2e::bin_path("cloop-workflow"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(folder.path().join("data"))
        .arg("--nats-url")
        .arg("nats://127.0.0.1:1")
        .output()
        .expect("run cloop-workflow");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.contains("CLOOPCLS"))
        .unwrap_or_else(|| panic!("no line names the reason: {stderr}"));
    assert!(line.contains("model.bin"), "{stderr}");
}
