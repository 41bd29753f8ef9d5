//! End-to-end erasure of a customer's own words: a customer's ticket (its content, order id
//! and attributes), their reply and their review comment are sealed in the log under the
//! customer's key like the contact data, opened for the staff while the key lives, and gone
//! from `GetTicket`, `ListTickets` with a search, `GetHistory`, the export and a replay once
//! the customer is erased, while `cloop log verify` stays green and another customer's ticket
//! is untouched. An anonymous submission (no customer, so no key) is stored in plain text.

use crate::support::{assert_ok, read_from_start, text};
use e2e::{principal, principals_file, Principal, ServiceSpec, Staff, TestCluster};
use futures::StreamExt;
use proto::v1;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The erased customer's words: in the content, the order id, an attribute, the reply and
/// the review comment.
const CONTENT_WORD: &str = "QilinCanaryWord";
const ORDER_ID: &str = "ORD-QILIN-8841";
const ATTRIBUTE: &str = "QilinDeviceCanary";
const REPLY_WORD: &str = "QilinReplyCanary";
const COMMENT_WORD: &str = "QilinReviewCanary";
const WORDS: [&str; 5] = [CONTENT_WORD, ORDER_ID, ATTRIBUTE, REPLY_WORD, COMMENT_WORD];

/// Another customer's word, which the erasure must leave alone.
const OTHER_WORD: &str = "PhoenixKeepWord";
/// An anonymous submission's word, stored in plain text.
const ANONYMOUS_WORD: &str = "AnonymousPlainWord";

const PHONE: &str = "13912348841";

const PRINCIPALS: &[Principal] = &[
    principal("x-adapter", "web-form", "adapter").with("rate_per_sec = 0"),
    principal("x-service", "zhang.san", "service").with("rate_per_sec = 0"),
    principal("x-auditor", "checker", "auditor").with("rate_per_sec = 0"),
    principal("x-admin", "root", "admin").with("rate_per_sec = 0"),
];

fn start_cluster() -> TestCluster {
    TestCluster::builder()
        .prefix("cloop-erasure-text-e2e-")
        .tokens(principals_file(PRINCIPALS))
        .config(
            "[intake_service]\nnode_id = 9\nmaintenance_interval_ms = 200\n\n\
             [workflow_service]\ntimer_tick_ms = 200\nack_wait_secs = 5\n\n\
             [nats]\nrequest_timeout_ms = 3000\n",
        )
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start()
}

/// The erased customer's words found in `haystack`.
fn words_in(haystack: &str) -> Vec<&'static str> {
    WORDS
        .iter()
        .copied()
        .filter(|word| haystack.contains(word))
        .collect()
}

/// Every row of the log as stored (`Audit.ReadEvents`), as one text.
async fn stored_rows(cluster: &TestCluster) -> String {
    let mut audit = cluster.audit_connected().await;
    let mut stream = read_from_start(&mut audit, "x-auditor", false)
        .await
        .expect("read events");
    let mut rows = String::new();
    while let Some(item) = stream.next().await {
        rows.push_str(&format!("{:?}\n", item.expect("row")));
    }
    rows
}

/// What the staff are shown of a ticket: `GetTicket`, `GetHistory`, and `ListTickets`
/// searching for each word.
async fn shown(cluster: &TestCluster, ticket_id: &str) -> String {
    let mut admin = cluster.staff("x-admin").await;
    let mut shown = format!("{:?}\n", admin.get(ticket_id).await.expect("get ticket"));
    shown.push_str(&format!(
        "{:?}\n",
        admin.history(ticket_id).await.expect("history")
    ));
    for word in WORDS {
        let found = admin.search(word).await.expect("search");
        shown.push_str(&format!("{found:?}\n"));
    }
    shown
}

/// `cloop log export` of the whole log, checked to succeed.
fn export(cluster: &TestCluster) -> String {
    let [source_flag, source] = cluster.log_source();
    let output = cluster.cloop("x-admin", &["log", "export", &source_flag, &source]);
    assert_ok(&output, "log export");
    text(&output.stdout)
}

/// Submits a ticket of the customer with `PHONE` and takes it through to the customer's
/// review: their reply on the way, then a review with a comment.
async fn ticket_with_reply_and_review(cluster: &TestCluster) -> String {
    let submission = v1::SubmitRequest {
        channel: "web".into(),
        external_id: "erasure-text-1".into(),
        customer: Some(v1::Customer {
            name: "钱先生".into(),
            phone: PHONE.into(),
            ..Default::default()
        }),
        content: format!("APP下单后一直转圈 {CONTENT_WORD} 请尽快处理"),
        order_id: ORDER_ID.into(),
        attributes: [("device".to_owned(), ATTRIBUTE.to_owned())].into(),
        ..Default::default()
    };
    let ticket_id = cluster.submit_as("x-adapter", submission).await;
    cluster
        .wait_ticket(&ticket_id, "x-admin", WAIT, |ticket| ticket.version > 0)
        .await;
    let reply = v1::SubmitRequest {
        channel: "web".into(),
        external_id: "erasure-text-reply".into(),
        customer: Some(v1::Customer {
            phone: PHONE.into(),
            ..Default::default()
        }),
        content: format!("补充说明 {REPLY_WORD} 截图已发"),
        reply_to_ticket_id: ticket_id.clone(),
        ..Default::default()
    };
    cluster.submit_as("x-adapter", reply).await;
    cluster
        .wait_ticket(&ticket_id, "x-admin", WAIT, |ticket| {
            ticket.customer_replies == 1
        })
        .await;
    let mut admin = cluster.staff("x-admin").await;
    let ticket = admin.get(&ticket_id).await.expect("get");
    if ticket.step == v1::Step::Classify as i32 {
        admin
            .classify(&ticket_id, v1::Kind::Complaint, "read the text")
            .await
            .expect("classify");
    }
    let ticket = admin.get(&ticket_id).await.expect("get");
    if ticket.step == v1::Step::Dispatch as i32 {
        admin
            .dispatch(&ticket_id, "technical", "the app team")
            .await
            .expect("dispatch");
    }
    let proposed = admin
        .propose(&ticket_id, v1::Outcome::Fixed, "已修复转圈问题")
        .await
        .expect("propose");
    if proposed.awaiting_approval {
        admin.approve(&ticket_id, "同意").await.expect("approve");
    }
    let mut service = cluster.staff("x-service").await;
    service
        .review(&ticket_id, 2, &format!("还是不满意 {COMMENT_WORD}"))
        .await
        .expect("review");
    ticket_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customers_words_are_gone_everywhere_and_the_log_verifies() {
    let cluster = start_cluster();
    let ticket_id = ticket_with_reply_and_review(&cluster).await;
    let other = cluster
        .submit_as("x-adapter", {
            let mut request =
                e2e::web_submission("erasure-text-2", &format!("物流太慢 {OTHER_WORD}"));
            request.customer = Some(v1::Customer {
                phone: "13700001111".into(),
                ..Default::default()
            });
            request
        })
        .await;
    cluster
        .wait_ticket(&other, "x-admin", WAIT, |ticket| ticket.version > 0)
        .await;

    // Before: the staff see every word; the log holds them only sealed.
    let before = shown(&cluster, &ticket_id).await;
    assert_eq!(words_in(&before), WORDS.to_vec(), "{before}");
    let rows = stored_rows(&cluster).await;
    assert_eq!(words_in(&rows), Vec::<&str>::new(), "sealed in the log");
    let exported = export(&cluster);
    assert_eq!(
        words_in(&exported),
        Vec::<&str>::new(),
        "sealed in the export"
    );
    assert!(
        !exported.contains(OTHER_WORD),
        "the other customer's text is sealed too"
    );

    let erased = cluster.cloop(
        "x-admin",
        &[
            "--json",
            "customer",
            "erase",
            "--ticket",
            &ticket_id,
            "--reason",
            "privacy request 23",
        ],
    );
    assert_ok(&erased, "customer erase");

    // After: gone from every answer, the export still holds the sealed rows, and the log
    // verifies.
    let after = shown(&cluster, &ticket_id).await;
    assert_eq!(words_in(&after), Vec::<&str>::new(), "{after}");
    let mut admin = cluster.staff("x-admin").await;
    let ticket = admin.get(&ticket_id).await.expect("get");
    assert_eq!(ticket.content, "");
    assert_eq!(ticket.customer.unwrap_or_default(), v1::Customer::default());
    assert_eq!(ticket.order_id, "");
    let history = admin.history(&ticket_id).await.expect("history");
    for event in &history {
        let payload: serde_json::Value = serde_json::from_str(&event.payload).expect("json");
        for member in ["content", "text", "comment"] {
            if let Some(value) = payload.get(member) {
                assert!(value.is_string(), "{member} reads as a string: {payload}");
            }
        }
        if event.event_type == "received" || event.event_type == "customer_replied" {
            assert_eq!(
                payload.get("content").or(payload.get("text")),
                Some(&"".into())
            );
        }
    }
    assert!(admin.search(CONTENT_WORD).await.expect("search").is_empty());
    let exported = export(&cluster);
    assert_eq!(words_in(&exported), Vec::<&str>::new());
    // The payload is JSON text inside each exported line.
    assert!(
        exported.contains("sealed") && exported.contains("nonce"),
        "the sealed objects remain"
    );
    assert!(exported.contains("customer_erased"));
    let [source_flag, source] = cluster.log_source();
    let verify = cluster.cloop("x-admin", &["log", "verify", &source_flag, &source]);
    assert_ok(&verify, "log verify after the erasure");
    assert!(
        text(&verify.stdout).starts_with("ok:"),
        "{}",
        text(&verify.stdout)
    );

    // The other customer's ticket is untouched.
    let kept = admin.get(&other).await.expect("get the other");
    assert!(kept.content.contains(OTHER_WORD), "{kept:?}");
    let found = admin.search(OTHER_WORD).await.expect("search the other");
    assert_eq!(
        found
            .iter()
            .map(|ticket| ticket.ticket_id.as_str())
            .collect::<Vec<_>>(),
        vec![other.as_str()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_submission_is_stored_in_plain_text() {
    let cluster = start_cluster();
    let mut request = e2e::web_submission(
        "erasure-text-anonymous",
        &format!("门店留言 {ANONYMOUS_WORD}"),
    );
    request.customer = None;
    let ticket_id = cluster.submit_as("x-adapter", request).await;
    let ticket = cluster
        .wait_ticket(&ticket_id, "x-admin", WAIT, |ticket| ticket.version > 0)
        .await;
    assert!(ticket.content.contains(ANONYMOUS_WORD));
    let rows = stored_rows(&cluster).await;
    assert!(
        rows.contains(ANONYMOUS_WORD),
        "stored in plain text: {rows}"
    );
    assert!(!rows.contains("\\\"sealed\\\""), "nothing sealed: {rows}");
    let mut admin: Staff = cluster.staff("x-admin").await;
    let found = admin.search(ANONYMOUS_WORD).await.expect("search");
    assert_eq!(found.len(), 1);
}
