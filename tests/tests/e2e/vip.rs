//! End-to-end VIP row: a customer writes a ticket, service tags them `vip` through
//! `Customers.TagCustomer` on a real `cloop-workflow`, and the open ticket's deadlines become
//! the stricter of the `[sla.vip]` row (12 h / 36 h) and its own (`GetTicket` shows `vip` and
//! the earlier deadlines, `ExplainSla` names the row `vip`, the history has `sla_recomputed`);
//! a new ticket of the same customer takes the VIP deadlines at receipt; another customer's
//! ticket is untouched; taking the tag off restores the deadlines.

use chrono::{DateTime, Duration as Span, Utc};
use e2e::{authorized, ServiceSpec, TestCluster};
use proto::v1;
use proto::v1::customers_client::CustomersClient;
use proto::v1::tag_customer_request::Key;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const PHONE: &str = "13912340077";
const CONTENT: &str = "APP卡顿，打开很慢";

fn submission(external_id: &str, phone: &str) -> v1::SubmitRequest {
    v1::SubmitRequest {
        channel: "web".into(),
        external_id: external_id.into(),
        customer: Some(v1::Customer {
            phone: phone.into(),
            ..Default::default()
        }),
        content: CONTENT.into(),
        ..Default::default()
    }
}

fn instant(timestamp: Option<&prost_types::Timestamp>) -> DateTime<Utc> {
    proto::time::instant(timestamp.expect("a timestamp")).expect("a valid timestamp")
}

/// `(created_at, respond_by, resolve_by)` of a ticket.
fn clock(ticket: &v1::Ticket) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    (
        instant(ticket.created_at.as_ref()),
        instant(ticket.respond_by.as_ref()),
        instant(ticket.resolve_by.as_ref()),
    )
}

/// The deadlines a VIP gets for a ticket whose deadlines are `plain`: each the earlier of
/// its own and the VIP row's from receipt.
fn vip_of(
    (created, respond, resolve): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
) -> (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>) {
    (
        created,
        respond.min(created + Span::hours(12)),
        resolve.min(created + Span::hours(36)),
    )
}

async fn tag(cluster: &TestCluster, remove: bool) -> v1::CustomerProfile {
    let mut client = CustomersClient::new(cluster.connect("workflow").await);
    let request = v1::TagCustomerRequest {
        key: Some(Key::Phone(PHONE.into())),
        tag: "vip".into(),
        remove,
        command_id: String::new(),
    };
    client
        .tag_customer(authorized(request, "t-service"))
        .await
        .expect("service may tag")
        .into_inner()
        .customer
        .expect("a profile")
}

async fn explained_row(cluster: &TestCluster, ticket_id: &str) -> String {
    cluster
        .tickets_connected()
        .await
        .explain_sla(authorized(
            v1::ExplainSlaRequest {
                ticket_id: ticket_id.into(),
            },
            "t-admin",
        ))
        .await
        .expect("explained")
        .into_inner()
        .sla_row
}

#[tokio::test(flavor = "multi_thread")]
async fn tagging_a_customer_vip_moves_their_open_deadlines_and_untagging_restores_them() {
    let mut cluster = TestCluster::builder()
        .prefix("cloop-vip-e2e-")
        // The shipped row, written out: the configuration file is what operators change.
        .config(
            "[sla.vip]\nrespond = { amount = 12, unit = \"hours\", clock = \"24x7\" }\n\
             resolve = { amount = 36, unit = \"hours\", clock = \"24x7\" }\n",
        )
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();
    let first = cluster
        .submit_as("t-adapter", submission("vip-1", PHONE))
        .await;
    let other = cluster
        .submit_as("t-adapter", submission("vip-2", "13700000078"))
        .await;
    let classified = |ticket: &v1::Ticket| ticket.kind != 0 && !ticket.department.is_empty();
    let before = cluster
        .wait_ticket(&first, "t-admin", WAIT, classified)
        .await;
    let other_before = cluster
        .wait_ticket(&other, "t-admin", WAIT, classified)
        .await;
    assert!(!before.vip);
    let plain = clock(&before);
    let expected = vip_of(plain);
    assert_ne!(
        expected, plain,
        "the VIP row must be stricter than this ticket's own: {before:?}"
    );
    let plain_row = explained_row(&cluster, &first).await;
    assert_ne!(plain_row, "vip");

    // Tagged: the open ticket's deadlines are recomputed before the answer.
    let profile = tag(&cluster, false).await;
    assert!(profile.vip);
    let tagged = cluster
        .wait_ticket(&first, "t-admin", WAIT, |ticket| ticket.vip)
        .await;
    assert_eq!(clock(&tagged), expected, "{tagged:?}");
    let (_, respond, resolve) = clock(&tagged);
    assert!(respond <= plain.1 && resolve <= plain.2);
    assert_eq!(explained_row(&cluster, &first).await, "vip");
    let history = cluster.events(&first, "t-admin").await;
    let recomputed: Vec<&v1::LogEvent> = history
        .iter()
        .filter(|event| event.event_type == "sla_recomputed")
        .collect();
    assert_eq!(recomputed.len(), 1, "{history:?}");
    assert!(
        recomputed[0]
            .payload
            .contains("the customer was tagged vip"),
        "{}",
        recomputed[0].payload
    );
    // Another customer's ticket is untouched.
    let other_now = cluster.wait_ticket(&other, "t-admin", WAIT, |_| true).await;
    assert!(!other_now.vip);
    assert_eq!(clock(&other_now), clock(&other_before));

    // A new ticket of the VIP: the VIP deadlines from its receipt, at once.
    let second = cluster
        .submit_as("t-adapter", submission("vip-3", PHONE))
        .await;
    let fresh = cluster
        .wait_ticket(&second, "t-admin", WAIT, classified)
        .await;
    assert!(fresh.vip, "{fresh:?}");
    let (created, _, _) = clock(&fresh);
    let own = (
        created,
        created + (plain.1 - plain.0),
        created + (plain.2 - plain.0),
    );
    assert_eq!(clock(&fresh), vip_of(own), "{fresh:?}");
    let received = cluster.events(&second, "t-admin").await;
    assert!(
        received
            .iter()
            .all(|event| event.event_type != "sla_recomputed"),
        "decided at receipt: {received:?}"
    );
    let payload: serde_json::Value =
        serde_json::from_str(&received[0].payload).expect("a JSON payload");
    assert_eq!(received[0].event_type, "received");
    assert_eq!(payload["vip"], serde_json::Value::Bool(true), "{payload}");

    // Untagged: both tickets are back to the deadlines of their own rows.
    let profile = tag(&cluster, true).await;
    assert!(!profile.vip);
    let restored = cluster
        .wait_ticket(&first, "t-admin", WAIT, |ticket| !ticket.vip)
        .await;
    assert_eq!(clock(&restored), plain);
    assert_eq!(explained_row(&cluster, &first).await, plain_row);
    let restored_second = cluster
        .wait_ticket(&second, "t-admin", WAIT, |ticket| !ticket.vip)
        .await;
    assert_eq!(clock(&restored_second), own);

    // The deadlines are a fold of the log: a rebuild from the log gives the same projections,
    // and the ticket is the same after a restart.
    assert_eq!(
        cluster.workflow_mut().terminate(Duration::from_secs(20)),
        Some(0)
    );
    let check = cluster.workflow_check();
    assert_eq!(check["projections_equal"], true, "{check}");
    cluster.workflow_mut().restart();
    let replayed = cluster.wait_ticket(&first, "t-admin", WAIT, |_| true).await;
    assert_eq!(clock(&replayed), plain);
    assert!(!replayed.vip);
}
