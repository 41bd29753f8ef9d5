//! End-to-end test of extracted terms with a real nats-server and both real service binaries:
//! customers write about a parcel marked delivered that never came, a problem no configured
//! keyword names. The terms found by word segmentation are on the `received` event, on the
//! ticket (`GetTicket`, `cloop tickets show`), on the `classified` event of a person's
//! `Classify`, and the monthly report counts them in `top_terms` (gRPC and `cloop report`),
//! while its `top_keywords` cannot show them.

use crate::support::{month_of, monthly};
use e2e::{principal, principals_file, Principal, ServiceSpec, TestCluster};
use proto::v1;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

const PRINCIPALS: &[Principal] = &[
    principal("p-adapter", "web-form", "adapter"),
    principal("p-service", "zhang.san", "service"),
    principal("p-admin", "root", "admin"),
];

/// The complaints: none of 签收 and 包裹 is a configured keyword.
const TEXTS: [&str; 3] = [
    "包裹显示已签收，可我根本没收到东西",
    "快递显示签收了，包裹根本没到我手上",
    "物流说包裹已经签收，我家里没人签收过",
];

async fn submit(cluster: &TestCluster, index: usize, content: &str) -> String {
    let request = v1::SubmitRequest {
        channel: "app".into(),
        external_id: format!("terms-{index}"),
        content: content.into(),
        customer: Some(v1::Customer {
            customer_id: format!("c-terms-{index}"),
            name: "王先生".into(),
            phone: format!("1380013800{index}"),
            ..Default::default()
        }),
        ..Default::default()
    };
    cluster.submit_as("p-adapter", request).await
}

fn start_cluster() -> TestCluster {
    TestCluster::builder()
        .prefix("cloop-terms-e2e-")
        .tokens(principals_file(PRINCIPALS))
        .config(
            "[intake_service]\nnode_id = 7\nmaintenance_interval_ms = 200\n\n\
             [workflow_service]\ntimer_tick_ms = 200\nack_wait_secs = 5\nbackoff_ms = [100, 500]\n\n\
             [nats]\nrequest_timeout_ms = 3000\n",
        )
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start()
}

/// The `terms` of the first event of `event_type` in the ticket's log.
async fn event_terms(cluster: &TestCluster, ticket_id: &str, event_type: &str) -> Vec<String> {
    let events = cluster.events(ticket_id, "p-admin").await;
    let event = events
        .iter()
        .find(|event| event.event_type == event_type)
        .unwrap_or_else(|| panic!("a {event_type} event in {events:#?}"));
    let payload: serde_json::Value = serde_json::from_str(&event.payload).expect("payload");
    payload["terms"]
        .as_array()
        .map(|terms| {
            terms
                .iter()
                .filter_map(|term| term.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_problem_nobody_configured_shows_in_the_reports_top_terms() {
    let cluster = start_cluster();
    let mut ids = Vec::new();
    for (index, text) in TEXTS.iter().enumerate() {
        ids.push(submit(&cluster, index, text).await);
    }
    let mut tickets = Vec::new();
    for id in &ids {
        tickets.push(
            cluster
                .wait_ticket(id, "p-admin", WAIT, |ticket| !ticket.terms.is_empty())
                .await,
        );
    }
    for ticket in &tickets {
        assert!(
            ticket.terms.iter().any(|term| term == "签收"),
            "{:?}",
            ticket.terms
        );
        assert!(!ticket.keywords.iter().any(|keyword| keyword == "签收"));
        assert!(ticket.terms.len() <= 5, "{:?}", ticket.terms);
        // A customer's name is never a term.
        assert!(!ticket.terms.iter().any(|term| term.contains('王')));
    }
    let received = event_terms(&cluster, &ids[0], "received").await;
    assert_eq!(received, tickets[0].terms);

    // A person classifies the first ticket: its `classified` event carries the same terms.
    let mut service = cluster.staff("p-service").await;
    let classified = service
        .classify(&ids[0], v1::Kind::Complaint, "parcel never came")
        .await
        .expect("classify");
    assert_eq!(classified.terms, tickets[0].terms);
    assert_eq!(
        event_terms(&cluster, &ids[0], "classified").await,
        tickets[0].terms
    );

    // `cloop tickets show` prints them.
    let output = cluster.cloop("p-service", &["tickets", "show", &ids[1]]);
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown
            .lines()
            .any(|line| line.trim_start().starts_with("terms:") && line.contains("签收")),
        "{shown}"
    );

    // The month's report counts the term three times; the keywords cannot show it.
    let month = month_of(&tickets[0]);
    let report = monthly(&cluster, "p-admin", &month, None)
        .await
        .expect("the monthly report")
        .report
        .expect("a report");
    let signed = report
        .top_terms
        .iter()
        .find(|problem| problem.key == "签收")
        .unwrap_or_else(|| panic!("签收 in {:#?}", report.top_terms));
    assert_eq!(signed.count, 3);
    assert_eq!(signed.reporters, 3);
    // The classified complaint is the month's only complaint: the term is a priority topic.
    assert_eq!(signed.complaints, Some(1));
    assert!(signed.priority_flag);
    // Most frequent first, ties by key: 包裹 (also on all three) comes before 签收.
    let first: Vec<(&str, u64)> = report.top_terms[..2]
        .iter()
        .map(|problem| (problem.key.as_str(), problem.count))
        .collect();
    assert_eq!(first, [("包裹", 3), ("签收", 3)], "{:#?}", report.top_terms);
    assert!(!report
        .top_keywords
        .iter()
        .any(|problem| problem.key == "签收"));

    let output = cluster.cloop("p-admin", &["report", "monthly", "--month", &month]);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("签收"), "{printed}");
    let output = cluster.cloop(
        "p-admin",
        &["--json", "report", "monthly", "--month", &month],
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json report");
    assert_eq!(json["top_terms"][1]["key"], "签收", "{json:#}");
    assert_eq!(json["top_terms"][1]["count"], 3);
}
