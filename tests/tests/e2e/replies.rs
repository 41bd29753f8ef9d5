//! End-to-end tests of the customers' replies on their tickets: a submission naming
//! `reply_to_ticket_id` (gRPC here, the webhook's JSON form in `webhook.rs`) or an e-mail whose
//! subject names the ticket becomes `customer_replied` on that ticket, never a new ticket, and
//! resumes a paused SLA; a reply naming someone else's ticket (or an unknown one) is NOT_FOUND
//! and records nothing; the status page's reply records the same event.

use e2e::{principal, principals_file, ServiceSpec, TestCluster};
use proto::v1;
use proto::v1::self_service_client::SelfServiceClient;
use proto::v1::tickets_client::TicketsClient;
use std::time::Duration;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(30);

fn start_cluster() -> TestCluster {
    TestCluster::builder()
        .prefix("cloop-replies-e2e-")
        .tokens(principals_file(&[
            principal("r-adapter", "web-form", "adapter").with("rate_per_sec = 0"),
            principal("r-service", "zhang.san", "service").with("rate_per_sec = 0"),
            principal("r-agent", "wang.wu", "agent")
                .of("technical")
                .with("rate_per_sec = 0"),
            principal("r-admin", "root", "admin").with("rate_per_sec = 0"),
        ]))
        .config(
            "[intake_service]\nnode_id = 5\nmaintenance_interval_ms = 200\n\n\
             [workflow_service]\ntimer_tick_ms = 100\nack_wait_secs = 5\n\n\
             [nats]\nrequest_timeout_ms = 3000\n",
        )
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start()
}

fn request(
    channel: &str,
    external_id: &str,
    content: &str,
    customer: v1::Customer,
) -> v1::SubmitRequest {
    v1::SubmitRequest {
        channel: channel.into(),
        external_id: external_id.into(),
        customer: Some(customer),
        content: content.into(),
        ..Default::default()
    }
}

fn phone(number: &str) -> v1::Customer {
    v1::Customer {
        phone: number.into(),
        ..Default::default()
    }
}

fn types(history: &[v1::LogEvent]) -> Vec<&str> {
    history
        .iter()
        .map(|event| event.event_type.as_str())
        .collect()
}

async fn submit(
    cluster: &TestCluster,
    request: v1::SubmitRequest,
) -> Result<v1::SubmitResponse, tonic::Status> {
    cluster
        .intake_connected()
        .await
        .submit(e2e::authorized(request, "r-adapter"))
        .await
        .map(tonic::Response::into_inner)
}

async fn all_tickets(cluster: &TestCluster) -> Vec<v1::Ticket> {
    cluster
        .staff("r-admin")
        .await
        .list(v1::TicketFilter::default())
        .await
        .expect("list")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_threads_onto_its_ticket_resumes_its_sla_and_a_stranger_is_refused() {
    let cluster = start_cluster();
    let first = submit(
        &cluster,
        request("web", "form-1", "APP卡顿，打开很慢", phone("13800138000")),
    )
    .await
    .expect("accepted");
    assert!(!first.reply);
    let ticket_id = first.ticket_id.clone();
    cluster
        .wait_ticket(&ticket_id, "r-admin", WAIT, |ticket| {
            ticket.step == v1::Step::Handle as i32
        })
        .await;
    // Waiting for the customer: the clock stops.
    let mut tickets = TicketsClient::new(cluster.connect("workflow").await);
    let paused = tickets
        .pause_sla(e2e::authorized(
            v1::PauseSlaRequest {
                ticket_id: ticket_id.clone(),
                command_id: "pause-1".into(),
                expected_version: None,
                reason: "waiting for the customer's screenshot".into(),
            },
            "r-agent",
        ))
        .await
        .expect("pause")
        .into_inner()
        .ticket
        .expect("ticket");
    assert!(paused.sla_paused);

    // The customer answers through the same channel, naming the ticket.
    let mut answer = request(
        "web",
        "form-2",
        "重启以后还是很卡，截图已发",
        phone("138 0013 8000"),
    );
    answer.reply_to_ticket_id = ticket_id.clone();
    let replied = submit(&cluster, answer.clone())
        .await
        .expect("reply accepted");
    assert!(replied.reply, "{replied:?}");
    assert_eq!(replied.ticket_id, ticket_id);
    assert!(replied.respond_by.is_none());
    assert!(replied.notice.contains(&ticket_id), "{}", replied.notice);
    let again = submit(&cluster, answer).await.expect("a repeat");
    assert!(again.duplicate && again.reply);

    let ticket = cluster
        .wait_ticket(&ticket_id, "r-admin", WAIT, |ticket| {
            ticket.customer_replies == 1
        })
        .await;
    assert!(!ticket.sla_paused, "the reply resumes the clock");
    assert!(ticket.new_reply);
    assert!(ticket.customer_replied_at.is_some());
    let history = cluster.events(&ticket_id, "r-admin").await;
    let kinds = types(&history);
    let replied_at = kinds
        .iter()
        .position(|kind| *kind == "customer_replied")
        .expect("customer_replied in the history");
    assert_eq!(kinds.get(replied_at + 1), Some(&"sla_resumed"), "{kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|kind| **kind == "customer_replied")
            .count(),
        1
    );
    assert!(history[replied_at].payload.contains("重启以后还是很卡"));
    assert_eq!(
        all_tickets(&cluster).await.len(),
        1,
        "a reply is never a new ticket"
    );
    // In the queue: the marker, until the department answers.
    let listed = all_tickets(&cluster).await;
    assert!(listed[0].new_reply);

    // Someone else naming that ticket, and anybody naming a ticket that does not exist, get
    // the same NOT_FOUND, and nothing is recorded.
    let mut stranger = request("web", "form-3", "我也来说两句", phone("13900139000"));
    stranger.reply_to_ticket_id = ticket_id.clone();
    let refused = submit(&cluster, stranger).await.expect_err("refused");
    assert_eq!(refused.code(), Code::NotFound, "{refused:?}");
    assert!(!refused.message().contains("13900139000"));
    let unknown_id = {
        let mut generator = domain::ids::TicketIdGenerator::new(9);
        generator.next(chrono::Utc::now()).as_str().to_owned()
    };
    let mut unknown = request("web", "form-4", "hello", phone("13800138000"));
    unknown.reply_to_ticket_id = unknown_id.clone();
    let missing = submit(&cluster, unknown).await.expect_err("refused");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(
        refused.message().replace(&ticket_id, "ID"),
        missing.message().replace(&unknown_id, "ID"),
        "a stranger cannot tell a foreign ticket from a missing one"
    );
    let mut malformed = request("web", "form-5", "hello", phone("13800138000"));
    malformed.reply_to_ticket_id = "not a ticket".into();
    let invalid = submit(&cluster, malformed).await.expect_err("refused");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert_eq!(
        service::status::field_of(&invalid).as_deref(),
        Some("reply_to_ticket_id")
    );

    // An e-mail threads by the ticket number in its subject when the sender is the ticket's.
    let mail = v1::Customer {
        email: "li.si@example.com".into(),
        ..Default::default()
    };
    let by_mail = submit(
        &cluster,
        request("email", "mail-1", "发票开错了", mail.clone()),
    )
    .await
    .expect("accepted");
    let mut threaded = request("email", "mail-2", "补充：抬头应为某某公司", mail);
    threaded.attributes.insert(
        "subject".into(),
        format!("Re: 您的工单 {} 已受理", by_mail.ticket_id),
    );
    let threaded = submit(&cluster, threaded).await.expect("accepted");
    assert!(threaded.reply);
    assert_eq!(threaded.ticket_id, by_mail.ticket_id);
    let mut other_sender = request(
        "email",
        "mail-3",
        "我不是这个工单的客户",
        v1::Customer {
            email: "someone.else@example.com".into(),
            ..Default::default()
        },
    );
    other_sender.attributes.insert(
        "subject".into(),
        format!("Re: 您的工单 {} 已受理", by_mail.ticket_id),
    );
    let new_ticket = submit(&cluster, other_sender).await.expect("a new ticket");
    assert!(!new_ticket.reply);
    assert_ne!(new_ticket.ticket_id, by_mail.ticket_id);
    cluster
        .wait_ticket(&by_mail.ticket_id, "r-admin", WAIT, |ticket| {
            ticket.customer_replies == 1
        })
        .await;
    cluster
        .wait_ticket(&new_ticket.ticket_id, "r-admin", WAIT, |ticket| {
            ticket.step != v1::Step::Unspecified as i32
        })
        .await;
    assert_eq!(all_tickets(&cluster).await.len(), 3);
    let first_ticket = cluster
        .wait_ticket(&ticket_id, "r-admin", WAIT, |_| true)
        .await;
    assert_eq!(
        first_ticket.customer_replies, 1,
        "the refused replies left nothing"
    );

    // The status page's reply is the same event; the department's answer clears the marker.
    let mut self_service = SelfServiceClient::new(cluster.connect("workflow").await);
    self_service
        .reply(v1::ReplyRequest {
            ticket_id: ticket_id.clone(),
            digits: "8000".into(),
            text: "还有，夜里更慢".into(),
            command_id: "page-1".into(),
        })
        .await
        .expect("reply through the status page");
    let ticket = cluster
        .wait_ticket(&ticket_id, "r-admin", WAIT, |ticket| {
            ticket.customer_replies == 2
        })
        .await;
    assert!(ticket.new_reply);
    let history = cluster.events(&ticket_id, "r-admin").await;
    let last = history
        .iter()
        .rev()
        .find(|event| event.event_type == "customer_replied")
        .expect("customer_replied");
    assert!(last.payload.contains("status_page"), "{}", last.payload);
    let answered = cluster
        .staff("r-agent")
        .await
        .acknowledge(&ticket_id, "我们正在排查")
        .await
        .expect("acknowledge");
    assert!(!answered.new_reply);
}
