//! End-to-end test of learning from corrections: tickets in wording the shipped model has
//! never seen are submitted through intake, customer service moves them to the right
//! department by hand (`cloop classify` / `cloop dispatch`), and `cloop classifier train`
//! on the workflow's own event log (with its key store, which opens the customers' sealed
//! text) gives a model that puts new, similar text there, as
//! `cloop classifier evaluate` on a labelled CSV shows.

use crate::support::text;
use e2e::{principal, principals_file, wait_until, Principal, ServiceSpec, TestCluster};
use std::process::Output;
use std::time::Duration;

const PRINCIPALS: &[Principal] = &[
    principal("t-adapter", "web-form", "adapter"),
    principal("t-admin", "root", "admin"),
];

/// Submissions about a made-up membership card: the corpus never mentions it.
const SUBMISSIONS: &[&str] = &[
    "蓝鲸星卡的积分兑换怎么又改规则了，上个月还能换，这个月就不行",
    "Bluewhale star card points disappeared after the renewal, where did they go",
    "蓝鲸星卡续费以后积分清零了，没有任何通知",
    "my bluewhale star card renewal price went up and nobody told me",
    "蓝鲸星卡会员等级降了，客服说看不到原因",
    "蓝鲸星卡 bluewhale star 积分规则能不能说清楚一点",
];

/// New text about the same card, labelled with the department people chose.
const PROBES: &str = "id,split,language,text,kind,content_type,priority,department,product,channel
p1,heldout,zh,蓝鲸星卡积分又少了一半，规则到底是什么,complaint,process,medium,operations,,app
p2,heldout,en,why did my bluewhale star card points expire,complaint,process,medium,operations,,app
p3,heldout,mixed,蓝鲸星卡 renewal 之后等级不对,complaint,process,medium,operations,,app
";

const TARGET: &str = "operations";

fn json_of(output: &Output) -> serde_json::Value {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}\nstdout: {}",
        text(&output.stderr),
        text(&output.stdout)
    );
    serde_json::from_slice(&output.stdout).expect("json output")
}

fn department_accuracy(evaluation: &serde_json::Value) -> f64 {
    evaluation["fields"]["department"]["accuracy"]
        .as_f64()
        .expect("a department accuracy")
}

/// Submits one text and waits until the workflow has it; its ticket id.
fn submit(services: &TestCluster, index: usize, content: &str) -> String {
    let external_id = format!("learn-{index}");
    let receipt = json_of(&services.cloop(
        "t-adapter",
        &[
            "--json",
            "submit",
            "--channel",
            "app",
            "--external-id",
            &external_id,
            "--content",
            content,
            "--phone",
            "13800138000",
        ],
    ));
    let ticket_id = receipt["ticket_id"]
        .as_str()
        .expect("a ticket id")
        .to_owned();
    let arrived = wait_until(Duration::from_secs(30), || {
        let output = services.cloop("t-admin", &["--json", "tickets", "show", &ticket_id]);
        output.status.code() == Some(0)
            && serde_json::from_slice::<serde_json::Value>(&output.stdout)
                .is_ok_and(|ticket| ticket["step"] != "receive")
    });
    assert!(arrived, "ticket {ticket_id} reached the workflow");
    ticket_id
}

/// Customer service classifies the ticket by hand (as a product matter, which the routing
/// rules send elsewhere) and then transfers it to the target department by hand.
fn correct(services: &TestCluster, ticket_id: &str) {
    let output = services.cloop(
        "t-admin",
        &[
            "classify",
            ticket_id,
            "--kind",
            "complaint",
            "--content-type",
            "product",
            "--priority",
            "medium",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let ticket = json_of(&services.cloop("t-admin", &["--json", "tickets", "show", ticket_id]));
    if ticket["department"] != TARGET {
        let output = services.cloop(
            "t-admin",
            &[
                "dispatch",
                ticket_id,
                "--department",
                TARGET,
                "--reason",
                "membership cards are operations'",
            ],
        );
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    }
    let ticket = json_of(&services.cloop("t-admin", &["--json", "tickets", "show", ticket_id]));
    assert_eq!(ticket["department"], TARGET, "{ticket}");
}

#[test]
fn a_correction_through_the_api_changes_the_next_models_answer() {
    let services = TestCluster::builder()
        .prefix("cloop-classifier-e2e-")
        .tokens(principals_file(PRINCIPALS))
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();
    let folder = tempfile::tempdir().expect("temporary folder");
    let probes = folder.path().join("probes.csv");
    std::fs::write(&probes, PROBES).expect("write the probes");
    let probes = probes.to_string_lossy().into_owned();

    // The shipped model does not know where these belong.
    let before = json_of(&services.cloop("", &["--json", "classifier", "evaluate", &probes]));
    assert!(department_accuracy(&before) < 0.5, "{before}");

    for (index, content) in SUBMISSIONS.iter().enumerate() {
        let ticket_id = submit(&services, index, content);
        correct(&services, &ticket_id);
    }

    // Train on the workflow's own log, read while the service runs.
    let out = folder.path().join("model.bin");
    let out = out.to_string_lossy().into_owned();
    let [flag, log] = services.log_source();
    // The customers' text is sealed in the log: the key store opens it.
    let keys_file = services
        .workflow()
        .data_dir()
        .join("keys.db")
        .to_string_lossy()
        .into_owned();
    let [keys_flag, keys] = match services.workflow().store_url() {
        Some(url) => ["--keys-store".to_owned(), url.to_owned()],
        None => ["--keys".to_owned(), keys_file],
    };
    let train = [
        "--json",
        "classifier",
        "train",
        &flag,
        &log,
        &keys_flag,
        &keys,
        "--out",
        &out,
    ];
    let trained = json_of(&services.cloop("", &train));
    assert!(
        trained["from_log"].as_u64().unwrap_or(0) >= SUBMISSIONS.len() as u64,
        "{trained}"
    );
    let recent = &trained["recent_corrections"];
    assert_eq!(
        recent["new"]["fields"]["department"]["scored"],
        SUBMISSIONS.len(),
        "{trained}"
    );
    // Better on what people corrected, so it is written without --force.
    assert_eq!(trained["written"], true, "{trained}");

    let after = json_of(&services.cloop(
        "",
        &["--json", "classifier", "evaluate", &probes, "--model", &out],
    ));
    assert_eq!(department_accuracy(&after), 1.0, "{after}");
    assert_ne!(after["model"], before["model"]);

    // Trained again on the same log, the new model is no better than the one written.
    let again = json_of(&services.cloop("", &train));
    assert_eq!(again["written"], false, "{again}");
    assert_eq!(again["model"], again["current"], "{again}");
}
