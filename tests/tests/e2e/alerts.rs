//! Staff alerts end to end: nats-server, intake, workflow and `cloop-notify` as real
//! processes, the recording HTTP receiver and SMTP sink of `notify.rs` (the receiver checks
//! the HMAC signature and fails the first two attempts of every key). An urgent ticket with a
//! respond deadline of a few seconds reaches technical's group robot (DingTalk markdown), is
//! assigned to its agent by the round robin (an e-mail in English), breaches, and the breach
//! and the first escalation step reach the head's WeCom-shaped webhook. The notifier is then
//! killed, its durable consumer deleted, so that the restarted notifier reads every event
//! of the stream again: nothing is sent twice, and every attempt is on the ticket.

use crate::notify::{eventually, history, http_receiver, smtp_sink, Seen, Shared, SECRET};
use e2e::{principal, principals_file, Principal, Service, ServiceSpec, TestCluster};
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

pub(crate) const PRINCIPALS: &[Principal] = &[
    principal("t-adapter", "web-form", "adapter").with("rate_per_sec = 0"),
    principal("t-service", "notify", "service"),
    principal("t-admin", "root", "admin"),
    principal("t-agent-technical", "wang.wu", "agent").of("technical"),
    principal("t-head-technical", "zhao.liu", "head").of("technical"),
];

/// All day every day is working time (the test does not depend on when it runs), the round
/// robin gives technical's tickets to wang.wu, and an urgent ticket must be answered within
/// 6 seconds (warning at 80 %, breach, then escalation level 1 to the head at once).
pub(crate) const DOMAIN: &str = r#"
[calendar]
working_hours = ["00:00-24:00"]
weekend = []
holidays = []
workdays = []

[departments.technical]
members = ["wang.wu"]
assignment = "round_robin"

[sla.urgent]
respond = { amount = 6, unit = "seconds", clock = "24x7" }
resolve = { amount = 1, unit = "hours", clock = "24x7" }
"#;

fn notify_config(workflow: &str, webhook: u16, smtp: u16) -> String {
    format!(
        "{DOMAIN}\n[notify]\nworkflow_url = \"http://{workflow}\"\ntoken = \"t-service\"\n\
         max_attempts = 6\nbackoff_base_ms = 100\nbackoff_cap_ms = 400\nack_wait_ms = 5000\n\n\
         [notify.alerts]\nsecret = \"{SECRET}\"\npoll_ms = 100\n\n\
         [notify.smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nfrom = \"service@example.com\"\n\n\
         [[notify.staff]]\nname = \"zhao.liu\"\nwebhook = \"http://127.0.0.1:{webhook}/robot/head\"\nformat = \"wecom\"\n\n\
         [[notify.staff]]\nname = \"wang.wu\"\nemail = \"wang.wu@example.com\"\nlanguage = \"en\"\n\n\
         [notify.departments.technical]\nwebhook = \"http://127.0.0.1:{webhook}/robot/technical\"\nformat = \"dingtalk_markdown\"\n"
    )
}

/// Submits an urgent app outage; the rules route it to technical.
pub(crate) async fn submit(cluster: &TestCluster, external_id: &str) -> String {
    let request = v1::SubmitRequest {
        channel: "app".into(),
        ..e2e::web_submission(external_id, "APP宕机了，打开很慢，无法使用")
    };
    cluster.submit_as("t-adapter", request).await
}

/// The staff alerts recorded on a ticket: (event type, source event id, recipient) of each
/// `customer_notified` / `notification_failed` with notice `staff_alert`.
pub(crate) fn alert_records(events: &[v1::LogEvent]) -> Vec<(String, String, String)> {
    events
        .iter()
        .filter_map(|event| {
            let payload: serde_json::Value = serde_json::from_str(&event.payload).ok()?;
            (payload["notice"] == "staff_alert").then(|| {
                (
                    event.event_type.clone(),
                    payload["source_event_id"].as_str().unwrap_or("").to_owned(),
                    payload["recipient"].as_str().unwrap_or("").to_owned(),
                )
            })
        })
        .collect()
}

pub(crate) fn event_id(events: &[v1::LogEvent], event_type: &str) -> Option<String> {
    events
        .iter()
        .find(|event| event.event_type == event_type)
        .map(|event| event.event_id.clone())
}

/// Waits until the history of `ticket_id` satisfies `done`; returns it.
pub(crate) async fn history_until(
    tickets: &mut TicketsClient<tonic::transport::Channel>,
    ticket_id: &str,
    what: &str,
    done: impl Fn(&[v1::LogEvent]) -> bool,
) -> Vec<v1::LogEvent> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let events = history(tickets, ticket_id).await;
        if done(&events) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "{ticket_id}: timed out waiting for {what}: {events:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(crate) fn delivered_to(events: &[v1::LogEvent], source: &str, recipient: &str) -> usize {
    alert_records(events)
        .iter()
        .filter(|(kind, from, to)| kind == "customer_notified" && from == source && to == recipient)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_reaches_the_head_once_across_a_killed_notifier_and_an_assignment_the_assignee_by_mail(
) {
    let seen: Shared = Arc::default();
    let webhook = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let webhook_port = webhook.local_addr().expect("address").port();
    let smtp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let smtp_port = smtp.local_addr().expect("address").port();
    tokio::spawn(http_receiver(webhook, seen.clone()));
    tokio::spawn(smtp_sink(smtp, seen.clone()));
    let workflow_config = "[workflow_service]\ntimer_tick_ms = 200\n";
    let mut cluster = TestCluster::builder()
        .prefix("cloop-alerts-")
        .tokens(principals_file(PRINCIPALS))
        .config(format!("{DOMAIN}\n{workflow_config}"))
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();
    let config = notify_config(cluster.workflow().address(), webhook_port, smtp_port);
    cluster.spawn(Service::Notify, ServiceSpec::new().config(config).metrics());

    let ticket_id = submit(&cluster, "alert-1").await;
    let mut tickets = TicketsClient::new(cluster.workflow().channel());
    // The breach reaches the head and is recorded on the ticket, i.e. marked sent before.
    let events = history_until(
        &mut tickets,
        &ticket_id,
        "the head's breach alert",
        |events| {
            event_id(events, "sla_breached")
                .is_some_and(|breach| delivered_to(events, &breach, "zhao.liu") == 1)
        },
    )
    .await;
    let breach = event_id(&events, "sla_breached").expect("breached");
    let breach_key = format!("{breach}:zhao.liu");

    // Kill the notifier and make its restart read the whole stream again.
    cluster.get_mut("notify").kill();
    {
        let client = cluster.nats_client().await;
        let stream = async_nats::jetstream::new(client)
            .get_stream("TICKET_EVENTS")
            .await
            .expect("the stream");
        stream
            .delete_consumer("notify")
            .await
            .expect("delete the consumer");
    }
    cluster.get_mut("notify").restart();

    // A second ticket after the restart: its new-ticket alert proves the notifier is past
    // the replay of the first ticket's events.
    let second = submit(&cluster, "alert-2").await;
    eventually(
        "the second ticket's robot alert",
        Duration::from_secs(120),
        || {
            let seen = seen.lock().expect("lock");
            seen.webhook_bodies.iter().any(|body| {
                body["markdown"]["text"]
                    .as_str()
                    .is_some_and(|text| text.contains(&second))
            })
        },
    )
    .await;
    let events = history_until(&mut tickets, &ticket_id, "every alert recorded", |events| {
        let assigned = event_id(events, "assigned").unwrap_or_default();
        let escalated = event_id(events, "sla_escalated").unwrap_or_default();
        delivered_to(events, &assigned, "wang.wu") == 1
            && delivered_to(events, &escalated, "zhao.liu") == 1
    })
    .await;

    let seen = seen.lock().expect("lock");
    check_webhooks(&seen, &ticket_id, &breach_key);
    check_mail(&seen, &ticket_id);
    // The ticket's history: each alert delivered once, to whom the routing says.
    let dispatched = event_id(&events, "dispatched").expect("dispatched");
    assert_eq!(
        delivered_to(&events, &dispatched, "department:technical"),
        1
    );
    assert_eq!(delivered_to(&events, &breach, "zhao.liu"), 1);
    assert_eq!(
        delivered_to(&events, &breach, "wang.wu"),
        1,
        "the assignee hears of the breach too"
    );
    let failed = alert_records(&events)
        .iter()
        .filter(|(kind, _, _)| kind == "notification_failed")
        .count();
    assert!(
        failed >= 2,
        "the receiver's refusals are on the ticket: {failed}"
    );
    let log = std::fs::read_to_string(cluster.dir.path().join("notify.log")).unwrap_or_default();
    assert!(
        !log.contains("wang.wu@example.com"),
        "no staff contact data in the notifier's log"
    );
}

/// The head's breach alert arrived once, in WeCom's text shape; nothing arrived twice but
/// (at most) the one alert in flight at the kill.
fn check_webhooks(seen: &Seen, ticket_id: &str, breach_key: &str) {
    assert_eq!(seen.bad_signatures, 0, "every alert is signed");
    assert_eq!(
        seen.webhook_accepted.get(breach_key),
        Some(&1),
        "the breach reaches the head exactly once: {:?}",
        seen.webhook_accepted
    );
    // The one window the notifier cannot close is a kill between the receiver's answer and
    // the commit of `sent`: at most the one alert in flight at the kill arrives twice (with
    // the same Idempotency-Key or Message-ID, so a receiver can tell).
    let twice: Vec<_> = (seen.webhook_accepted.iter())
        .chain(seen.mails.iter())
        .filter(|(_, count)| **count > 1)
        .collect();
    assert!(twice.len() <= 1, "sent again after the restart: {twice:?}");
    let breach_body = seen
        .webhook_bodies
        .iter()
        .find(|body| {
            body["text"]["content"]
                .as_str()
                .is_some_and(|text| text.contains(ticket_id) && text.contains("已超时"))
        })
        .expect("the head's breach alert");
    let content = breach_body["text"]["content"].as_str().unwrap_or_default();
    assert_eq!(
        breach_body,
        &serde_json::json!({"msgtype": "text", "text": {"content": content}}),
        "the body a WeCom group robot accepts"
    );
    assert!(
        content.contains("技术部") && content.contains("紧急"),
        "{content}"
    );
    let robot = seen
        .webhook_bodies
        .iter()
        .find(|body| body["msgtype"] == "markdown")
        .expect("the department robot's new-ticket alert");
    assert!(robot["markdown"]["title"]
        .as_str()
        .is_some_and(|title| title.starts_with("新工单")));
}

/// The assignee got the assignment by e-mail, in English.
fn check_mail(seen: &Seen, ticket_id: &str) {
    let assigned = format!("[Assigned] Ticket {ticket_id} (urgent) is assigned to you");
    let mail = seen
        .mail_texts
        .iter()
        .find(|mail| mail.contains(&assigned))
        .unwrap_or_else(|| panic!("no assignment e-mail: {:?}", seen.mail_texts));
    assert!(mail.contains("wang.wu@example.com"));
}
