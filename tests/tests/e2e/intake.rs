//! End-to-end tests of `cloop-intake`: a real nats-server, the real binary, real sockets.
//! Every submission that got an answer must be on stream FEEDBACK exactly once, whatever
//! happens to NATS or to the intake process in between.

use e2e::grpc::{eventually, metrics_text};
use e2e::{
    authorized, metric, principal, principals_file, tail, wait_until, ServiceSpec, TestCluster,
};
use futures::StreamExt;
use prost::Message;
use proto::v1;
use proto::v1::intake_client::IntakeClient;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tonic::transport::Channel;
use tonic::Code;

const ADAPTER_TOKEN: &str = "adapter-token-for-tests";
const AGENT_TOKEN: &str = "agent-token-for-tests";
/// An adapter bound to channel `app` in the tokens file.
const APP_TOKEN: &str = "app-adapter-token-for-tests";

/// One intake with its own nats-server, data folder, tokens and metrics; `extra_intake_config`
/// is appended to `[intake_service]`, the stream keeps duplicates `duplicate_window_secs`.
fn start_intake(extra_intake_config: &str, duplicate_window_secs: u64) -> TestCluster {
    TestCluster::builder()
        .prefix("cloop-intake-e2e-")
        .tokens(principals_file(&[
            principal(ADAPTER_TOKEN, "web-form", "adapter"),
            principal(AGENT_TOKEN, "li.si", "agent").of("logistics"),
            principal(APP_TOKEN, "app-sdk", "adapter").with("channels = [\"app\"]"),
        ]))
        .config(format!(
            "[intake_service]\nnode_id = 7\nmaintenance_interval_ms = 200\n\
             retry_backoff_initial_ms = 50\nretry_backoff_max_ms = 500\n\
             max_message_bytes = 200000\n{extra_intake_config}\n\n\
             [nats]\nrequest_timeout_ms = 2000\n\n\
             [nats.feedback_stream]\nname = \"FEEDBACK\"\nsubjects = [\"feedback.received.>\"]\n\
             duplicate_window_secs = {duplicate_window_secs}\n"
        ))
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new().metrics())
        .start()
}

/// A client of intake, connected now.
async fn client(intake: &TestCluster) -> IntakeClient<Channel> {
    IntakeClient::new(intake.connect("intake").await)
}

fn submission(channel: &str, external_id: &str, content: &str) -> v1::SubmitRequest {
    v1::SubmitRequest {
        channel: channel.to_owned(),
        ..e2e::web_submission(external_id, content)
    }
}

/// Every message on stream FEEDBACK: (Nats-Msg-Id, decoded payload), in stream order.
async fn feedback_messages(nats: &async_nats::Client) -> Vec<(String, v1::FeedbackReceived)> {
    let context = async_nats::jetstream::new(nats.clone());
    let Ok(mut stream) = context.get_stream("FEEDBACK").await else {
        return Vec::new();
    };
    let Ok(info) = stream.info().await else {
        return Vec::new();
    };
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    let mut messages = Vec::new();
    if info.state.messages == 0 {
        return messages;
    }
    for sequence in first..=last {
        let Ok(message) = stream.get_raw_message(sequence).await else {
            continue;
        };
        let id = message
            .headers
            .get("Nats-Msg-Id")
            .map(|value| value.as_str().to_owned())
            .unwrap_or_default();
        let payload =
            v1::FeedbackReceived::decode(message.payload.as_ref()).expect("payload decodes");
        messages.push((id, payload));
    }
    messages
}

/// The message ids on FEEDBACK, counted.
async fn message_id_counts(nats: &async_nats::Client) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for (id, _) in feedback_messages(nats).await {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// Waits until every id in `expected` is on the stream; then checks that nothing else and
/// nothing twice is there.
async fn assert_stream_holds_exactly(
    intake: &TestCluster,
    nats: &async_nats::Client,
    expected: &HashSet<String>,
    timeout: Duration,
) {
    assert_stream_holds(intake, nats, expected, 0, timeout).await;
}

/// Like [`assert_stream_holds_exactly`], but allows up to `allowed_extra` other messages:
/// submissions that were committed when the process died, whose answers never left it.
async fn assert_stream_holds(
    intake: &TestCluster,
    nats: &async_nats::Client,
    expected: &HashSet<String>,
    allowed_extra: usize,
    timeout: Duration,
) {
    let arrived = eventually(timeout, || async {
        let counts = message_id_counts(nats).await;
        expected.iter().all(|id| counts.contains_key(id))
    })
    .await;
    let counts = message_id_counts(nats).await;
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(
        arrived,
        "{} of {} answered submissions missing from FEEDBACK, e.g. {:?}\n{}",
        missing.len(),
        expected.len(),
        missing.iter().take(3).collect::<Vec<_>>(),
        tail(&intake.intake().log(), 30)
    );
    let twice: Vec<_> = counts.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "messages on FEEDBACK twice: {twice:?}");
    let unexpected: Vec<_> = counts.keys().filter(|id| !expected.contains(*id)).collect();
    assert!(
        unexpected.len() <= allowed_extra,
        "unexpected messages on FEEDBACK: {unexpected:?}"
    );
}

/// Sends a submission over NATS; retries while intake's subscription is not in place yet
/// (it subscribes in the background, whether or not NATS is up at start).
async fn nats_request(
    nats: &async_nats::Client,
    subject: &str,
    request: &v1::SubmitRequest,
) -> async_nats::Message {
    e2e::grpc::nats_request(nats, subject, request.encode_to_vec()).await
}

/// Publishes workflow's `received` event for `feedback_id` on TICKET_EVENTS, as workflow does.
async fn confirm(nats: &async_nats::Client, feedback_id: &str, ticket_id: &str) {
    let context = async_nats::jetstream::new(nats.clone());
    let event = v1::LogEvent {
        position: 1,
        stream_id: format!("ticket-{ticket_id}"),
        version: 1,
        event_id: format!("event-{feedback_id}"),
        event_type: "received".to_owned(),
        payload: serde_json::json!({ "feedback_id": feedback_id, "ticket_id": ticket_id })
            .to_string(),
        ticket_id: ticket_id.to_owned(),
        ..Default::default()
    };
    context
        .publish("ticket.events.received", event.encode_to_vec().into())
        .await
        .expect("publish confirmation")
        .await
        .expect("confirmation acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_over_grpc_and_nats_land_on_the_stream_once_each() {
    let mut intake = start_intake("", 120);
    let mut client = client(&intake).await;
    let nats = intake.nats_client().await;
    let mut expected = HashMap::new();
    for index in 0..5 {
        let response = client
            .submit(authorized(
                submission("web", &format!("grpc-{index}"), "APP卡顿，打开很慢"),
                ADAPTER_TOKEN,
            ))
            .await
            .expect("grpc submit")
            .into_inner();
        assert!(!response.duplicate);
        assert!(
            response.notice.contains(&response.ticket_id),
            "{}",
            response.notice
        );
        assert!(response.respond_by.is_some() && response.resolve_by.is_some());
        expected.insert(response.feedback_id.clone(), response.ticket_id.clone());
    }
    for index in 0..5 {
        let request = submission("", &format!("nats-{index}"), "售后响应慢，希望改进");
        let reply = nats_request(&nats, "feedback.inbound.wechat", &request).await;
        let status = e2e::grpc::reply_status(&reply);
        assert_eq!(status.as_deref(), Some("0"));
        let response = v1::SubmitResponse::decode(reply.payload.as_ref()).expect("reply decodes");
        expected.insert(response.feedback_id.clone(), response.ticket_id.clone());
    }
    // A bad NATS request gets an error reply naming the field.
    let mut bad = submission("wechat", "nats-bad", "   ");
    bad.channel = String::new();
    let reply = nats_request(&nats, "feedback.inbound.wechat", &bad).await;
    let error = v1::ErrorStatus::decode(reply.payload.as_ref()).expect("error decodes");
    assert_eq!(error.code, Code::InvalidArgument as i32);
    assert_eq!(error.field, "content");

    let ids: HashSet<String> = expected.keys().cloned().collect();
    assert_stream_holds_exactly(&intake, &nats, &ids, Duration::from_secs(30)).await;
    for (id, received) in feedback_messages(&nats).await {
        assert_eq!(received.feedback_id, id);
        assert_eq!(expected.get(&id), Some(&received.ticket_id));
        let submission = received.submission.expect("submission");
        assert_eq!(
            submission.customer.expect("customer").phone,
            "+8613800138000"
        );
        assert!(received.classification.is_some() && received.deadlines.is_some());
    }
    assert!(
        wait_until(Duration::from_secs(10), || metric(
            intake.intake().metrics_address(),
            "cloop_intake_submissions_total{channel=\"web\",result=\"accepted\"}"
        ) == Some(5.0)),
        "metrics:\n{}",
        metrics_text(intake.intake().metrics_address())
    );
    let log = intake.intake().log();
    assert!(!log.contains("13800138000"), "the log shows a phone number");

    // SIGTERM: a clean exit.
    let code = intake.intake_mut().terminate(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{}", tail(&intake.intake().log(), 30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_external_id_five_times_even_concurrently_is_one_ticket() {
    let intake = start_intake("", 120);
    let client = client(&intake).await;
    let nats = intake.nats_client().await;
    let mut sequential = Vec::new();
    for _ in 0..5 {
        let response = client
            .clone()
            .submit(authorized(
                submission("email", "mail-42", "退款三天了还没到账"),
                ADAPTER_TOKEN,
            ))
            .await
            .expect("submit")
            .into_inner();
        sequential.push(response);
    }
    assert_eq!(
        sequential
            .iter()
            .filter(|response| !response.duplicate)
            .count(),
        1
    );
    assert!(sequential
        .iter()
        .all(|response| response.ticket_id == sequential[0].ticket_id));

    let concurrent = futures::future::join_all((0..5).map(|_| {
        let mut client = client.clone();
        async move {
            client
                .submit(authorized(
                    submission("app", "app-7", "闪退了"),
                    ADAPTER_TOKEN,
                ))
                .await
                .expect("submit")
                .into_inner()
        }
    }))
    .await;
    assert_eq!(
        concurrent
            .iter()
            .filter(|response| !response.duplicate)
            .count(),
        1
    );
    assert!(concurrent
        .iter()
        .all(|response| response.ticket_id == concurrent[0].ticket_id));
    assert!(concurrent
        .iter()
        .all(|response| response.feedback_id == concurrent[0].feedback_id));

    let expected: HashSet<String> = [
        sequential[0].feedback_id.clone(),
        concurrent[0].feedback_id.clone(),
    ]
    .into();
    assert_stream_holds_exactly(&intake, &nats, &expected, Duration::from_secs(30)).await;
    // Once the relay is idle, still exactly two.
    assert!(wait_until(Duration::from_secs(10), || metric(
        intake.intake().metrics_address(),
        "cloop_intake_outbox_rows{state=\"pending\"}"
    ) == Some(0.0)));
    assert_eq!(feedback_messages(&nats).await.len(), 2);
}

/// The malformed requests of the contract, each with the field its error must name.
fn malformed_requests() -> Vec<(&'static str, v1::SubmitRequest, &'static str)> {
    let base = || submission("web", "", "APP卡顿");
    let with = |change: &dyn Fn(&mut v1::SubmitRequest)| {
        let mut request = base();
        change(&mut request);
        request
    };
    let customer = |customer: v1::Customer| {
        with(&|request: &mut v1::SubmitRequest| request.customer = Some(customer.clone()))
    };
    let phone = |text: &str| {
        customer(v1::Customer {
            phone: text.to_owned(),
            ..Default::default()
        })
    };
    let email = |text: &str| {
        customer(v1::Customer {
            email: text.to_owned(),
            ..Default::default()
        })
    };
    let now = chrono::Utc::now();
    let at = |instant: chrono::DateTime<chrono::Utc>| prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: 0,
    };
    let many_attributes: HashMap<String, String> = (0..200)
        .map(|index| (format!("key{index}"), "value".to_owned()))
        .collect();
    vec![
        (
            "unknown channel",
            with(&|r| r.channel = "fax".into()),
            "channel",
        ),
        (
            "empty channel",
            with(&|r| r.channel = String::new()),
            "channel",
        ),
        (
            "blank channel",
            with(&|r| r.channel = "   ".into()),
            "channel",
        ),
        (
            "channel with a dot",
            with(&|r| r.channel = "web.x".into()),
            "channel",
        ),
        (
            "empty content",
            with(&|r| r.content = String::new()),
            "content",
        ),
        (
            "spaces only",
            with(&|r| r.content = "     ".into()),
            "content",
        ),
        (
            "whitespace only",
            with(&|r| r.content = " \n\t\r ".into()),
            "content",
        ),
        (
            "ideographic spaces",
            with(&|r| r.content = "\u{3000}\u{3000}".into()),
            "content",
        ),
        (
            "content over the limit",
            with(&|r| r.content = "x".repeat(10_001)),
            "content",
        ),
        (
            "cjk content over the limit",
            with(&|r| r.content = "长".repeat(10_001)),
            "content",
        ),
        ("short phone", phone("12345"), "customer.phone"),
        ("letters in phone", phone("1380013800a"), "customer.phone"),
        (
            "landline without country code",
            phone("010-1234567"),
            "customer.phone",
        ),
        (
            "too long international",
            phone("+1234567890123456"),
            "customer.phone",
        ),
        (
            "bad chinese mobile",
            phone("+86 123 4567 8901"),
            "customer.phone",
        ),
        ("country code zero", phone("+0123456789"), "customer.phone"),
        (
            "email without at",
            email("li.example.com"),
            "customer.email",
        ),
        (
            "email with two ats",
            email("li@@example.com"),
            "customer.email",
        ),
        (
            "email without domain dot",
            email("li@localhost"),
            "customer.email",
        ),
        (
            "email with empty local part",
            email("@example.com"),
            "customer.email",
        ),
        (
            "email with spaces",
            email("li si@example.com"),
            "customer.email",
        ),
        (
            "wechat id with spaces",
            customer(v1::Customer {
                wechat_openid: "o 123".into(),
                ..Default::default()
            }),
            "customer.wechat_openid",
        ),
        (
            "occurred a day ahead",
            with(&|r| r.occurred_at = Some(at(now + chrono::TimeDelta::days(1)))),
            "occurred_at",
        ),
        (
            "occurred an hour ahead",
            with(&|r| r.occurred_at = Some(at(now + chrono::TimeDelta::hours(1)))),
            "occurred_at",
        ),
        (
            "invalid timestamp",
            with(&|r| {
                r.occurred_at = Some(prost_types::Timestamp {
                    seconds: 0,
                    nanos: -1,
                })
            }),
            "occurred_at",
        ),
        (
            "too many attributes",
            with(&|r| r.attributes = many_attributes.clone()),
            "attributes",
        ),
        (
            "attribute value too large",
            with(&|r| {
                r.attributes = [("note".to_owned(), "v".repeat(5_000))].into();
            }),
            "attributes.note",
        ),
        (
            "attribute key too long",
            with(&|r| {
                r.attributes = [("k".repeat(300), "v".to_owned())].into();
            }),
            "attributes.",
        ),
        (
            "empty attribute key",
            with(&|r| r.attributes = [(" ".to_owned(), "v".to_owned())].into()),
            "attributes",
        ),
        (
            "product too long",
            with(&|r| r.product = "p".repeat(2_000)),
            "product",
        ),
        (
            "order id too long",
            with(&|r| r.order_id = "o".repeat(2_000)),
            "order_id",
        ),
        ("unknown language", with(&|r| r.language = 42), "language"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_naming_their_field() {
    let intake = start_intake("", 120);
    let mut client = client(&intake).await;
    let nats = intake.nats_client().await;
    let cases = malformed_requests();
    assert!(cases.len() >= 30);
    for (name, request, field) in cases {
        let status = client
            .submit(authorized(request, ADAPTER_TOKEN))
            .await
            .expect_err(name);
        assert_eq!(status.code(), Code::InvalidArgument, "{name}: {status:?}");
        let named = status
            .metadata()
            .get("cloop-field")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            named.starts_with(field) && status.message().contains(field),
            "{name}: expected field {field}, got {named:?} / {}",
            status.message()
        );
    }
    // A message over the transport's limit.
    let mut huge = submission("web", "huge", "x");
    huge.attributes = [("blob".to_owned(), "x".repeat(300_000))].into();
    let status = client
        .submit(authorized(huge, ADAPTER_TOKEN))
        .await
        .expect_err("too large");
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");

    // Still healthy, and a good submission still works.
    let mut health = tonic_health::pb::health_client::HealthClient::new(
        Channel::from_shared(format!("http://{}", intake.intake().address()))
            .expect("uri")
            .connect()
            .await
            .expect("connect"),
    );
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "feedback.v1.Intake".into(),
        })
        .await
        .expect("health")
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let good = client
        .submit(authorized(
            submission("web", "good", "APP卡顿"),
            ADAPTER_TOKEN,
        ))
        .await
        .expect("good submission")
        .into_inner();
    let expected: HashSet<String> = [good.feedback_id].into();
    assert_stream_holds_exactly(&intake, &nats, &expected, Duration::from_secs(30)).await;
}

/// Anonymous feedback (a comment book, a public form): without a phone, e-mail or WeChat id the
/// submission is accepted, the receipt says `cannot_be_told` and its notice says so too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_without_contact_are_accepted_as_cannot_be_told() {
    let intake = start_intake("", 120);
    let mut client = client(&intake).await;
    let customers = [
        ("no customer", None),
        ("empty customer", Some(v1::Customer::default())),
        (
            "name only",
            Some(v1::Customer {
                name: "张三".into(),
                ..Default::default()
            }),
        ),
        (
            "customer id only",
            Some(v1::Customer {
                customer_id: "C-1".into(),
                ..Default::default()
            }),
        ),
        (
            "blank phone only",
            Some(v1::Customer {
                phone: "   ".into(),
                ..Default::default()
            }),
        ),
    ];
    for (index, (name, customer)) in customers.into_iter().enumerate() {
        let mut request = submission("store", &format!("comment-book-{index}"), "店员很热情");
        request.customer = customer;
        let receipt = client
            .submit(authorized(request, ADAPTER_TOKEN))
            .await
            .unwrap_or_else(|status| panic!("{name}: refused {status:?}"))
            .into_inner();
        assert!(receipt.cannot_be_told, "{name}: {receipt:?}");
        assert!(
            receipt.notice.contains(&receipt.ticket_id) && receipt.notice.contains("联系方式"),
            "{name}: {}",
            receipt.notice
        );
    }
    let told = client
        .submit(authorized(
            submission("web", "told", "APP卡顿"),
            ADAPTER_TOKEN,
        ))
        .await
        .expect("accepted")
        .into_inner();
    assert!(!told.cannot_be_told);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_down_during_submissions_everything_is_delivered_once() {
    let mut intake = start_intake("shutdown_flush_secs = 2", 120);
    let mut client = client(&intake).await;
    let mut answered = HashSet::new();
    for index in 0..50 {
        let response = client
            .submit(authorized(
                submission("hotline", &format!("before-{index}"), "电话投诉：快递破损"),
                ADAPTER_TOKEN,
            ))
            .await
            .expect("submit while nats is up")
            .into_inner();
        answered.insert(response.feedback_id);
    }
    intake.nats_mut().stop();
    for index in 0..150 {
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            client.submit(authorized(
                submission("hotline", &format!("during-{index}"), "电话投诉：快递破损"),
                ADAPTER_TOKEN,
            )),
        )
        .await
        .expect("answered promptly while nats is down")
        .expect("accepted while nats is down")
        .into_inner();
        answered.insert(response.feedback_id);
    }
    // A graceful stop while NATS is still down exits cleanly and keeps the rows for later.
    let code = intake.intake_mut().terminate(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{}", tail(&intake.intake().log(), 30));
    intake.nats_mut().start_again();
    intake.intake_mut().restart();
    let nats = intake.nats_client().await;
    assert_stream_holds_exactly(&intake, &nats, &answered, Duration::from_secs(60)).await;
    assert_eq!(answered.len(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_then_restart_loses_nothing_answered() {
    let mut intake = start_intake("", 120);
    let client = client(&intake).await;
    let answered = std::sync::Arc::new(std::sync::Mutex::new(HashSet::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..16)
        .map(|worker| {
            let mut client = client.clone();
            let answered = answered.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                for index in 0..1_000 {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let request = submission(
                        "app",
                        &format!("load-{worker}-{index}"),
                        "购物车结算时报错，无法下单",
                    );
                    match client.submit(authorized(request, ADAPTER_TOKEN)).await {
                        Ok(response) => {
                            answered
                                .lock()
                                .expect("answers")
                                .insert(response.into_inner().feedback_id);
                        }
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    let reached = eventually(Duration::from_secs(60), || async {
        answered.lock().expect("answers").len() >= 1_500
    })
    .await;
    assert!(
        reached,
        "load did not get going:\n{}",
        tail(&intake.intake().log(), 30)
    );
    intake.intake_mut().kill();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("worker");
    }
    let answered: HashSet<String> = answered.lock().expect("answers").clone();
    intake.intake_mut().restart();
    let nats = intake.nats_client().await;
    // At most one request per worker was committed but not answered when the process died.
    assert_stream_holds(&intake, &nats, &answered, 16, Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_messages_are_published_again_confirmed_ones_are_not() {
    // The duplicate window is shorter than the confirm timeout, as after a broker that lost
    // its state.
    let intake = start_intake("confirm_timeout_secs = 2", 1);
    let mut client = client(&intake).await;
    let nats = intake.nats_client().await;
    let confirmed = client
        .submit(authorized(
            submission("store", "book-1", "店员态度差"),
            ADAPTER_TOKEN,
        ))
        .await
        .expect("submit")
        .into_inner();
    let unconfirmed = client
        .submit(authorized(
            submission("store", "book-2", "希望增加会员积分"),
            ADAPTER_TOKEN,
        ))
        .await
        .expect("submit")
        .into_inner();
    let both: HashSet<String> = [
        confirmed.feedback_id.clone(),
        unconfirmed.feedback_id.clone(),
    ]
    .into();
    assert_stream_holds_exactly(&intake, &nats, &both, Duration::from_secs(30)).await;

    confirm(&nats, &confirmed.feedback_id, &confirmed.ticket_id).await;
    assert!(
        wait_until(Duration::from_secs(30), || metric(
            intake.intake().metrics_address(),
            "cloop_intake_confirmed_total"
        ) == Some(1.0)),
        "confirmation not seen:\n{}",
        tail(&intake.intake().log(), 30)
    );

    // The broker loses everything.
    let context = async_nats::jetstream::new(nats.clone());
    context
        .get_stream("FEEDBACK")
        .await
        .expect("stream")
        .purge()
        .await
        .expect("purge");
    assert!(feedback_messages(&nats).await.is_empty());

    let only_unconfirmed: HashSet<String> = [unconfirmed.feedback_id.clone()].into();
    assert_stream_holds_exactly(&intake, &nats, &only_unconfirmed, Duration::from_secs(30)).await;
    assert!(
        metric(
            intake.intake().metrics_address(),
            "cloop_intake_republished_total"
        )
        .unwrap_or(0.0)
            >= 1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_wrong_and_non_adapter_tokens_are_refused() {
    let intake = start_intake("", 120);
    let mut client = client(&intake).await;
    let request = || submission("web", "auth", "APP卡顿");
    let missing = client
        .submit(tonic::Request::new(request()))
        .await
        .expect_err("no token");
    assert_eq!(missing.code(), Code::Unauthenticated);
    let wrong = client
        .submit(authorized(request(), "not-a-token"))
        .await
        .expect_err("wrong token");
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let agent = client
        .submit(authorized(request(), AGENT_TOKEN))
        .await
        .expect_err("agent token");
    assert_eq!(agent.code(), Code::PermissionDenied);
    let stream_refused = client
        .submit_stream(authorized(
            futures::stream::iter(vec![v1::SubmitStreamRequest {
                submission: Some(request()),
            }]),
            AGENT_TOKEN,
        ))
        .await
        .expect_err("agent token on the stream");
    assert_eq!(stream_refused.code(), Code::PermissionDenied);

    // The adapter may, on both RPCs; the stream answers each item in order.
    let mut answers = client
        .submit_stream(authorized(
            futures::stream::iter(vec![
                v1::SubmitStreamRequest {
                    submission: Some(request()),
                },
                v1::SubmitStreamRequest {
                    submission: Some(submission("web", "bulk-bad", "")),
                },
                v1::SubmitStreamRequest {
                    submission: Some(request()),
                },
            ]),
            ADAPTER_TOKEN,
        ))
        .await
        .expect("adapter may stream")
        .into_inner();
    let mut outcomes = Vec::new();
    while let Some(answer) = answers.next().await {
        outcomes.push(answer.expect("stream item"));
    }
    assert_eq!(outcomes.len(), 3);
    assert_eq!(
        outcomes
            .iter()
            .map(|answer| answer.index)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    match (
        &outcomes[0].outcome,
        &outcomes[1].outcome,
        &outcomes[2].outcome,
    ) {
        (
            Some(v1::submit_stream_response::Outcome::Result(first)),
            Some(v1::submit_stream_response::Outcome::Error(error)),
            Some(v1::submit_stream_response::Outcome::Result(third)),
        ) => {
            assert_eq!(error.field, "content");
            assert_eq!(error.code, Code::InvalidArgument as i32);
            assert!(third.duplicate);
            assert_eq!(first.ticket_id, third.ticket_id);
        }
        other => panic!("unexpected outcomes {other:?}"),
    }
    let ok = client
        .submit(authorized(request(), ADAPTER_TOKEN))
        .await
        .expect("adapter token")
        .into_inner();
    assert!(ok.duplicate);
}

/// An adapter bound to its channels in the tokens file submits on those only, and learns
/// nothing from another channel's idempotency key: the channel check runs before the lookup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_bound_to_a_channel_cannot_submit_or_replay_on_another() {
    let intake = start_intake("", 120);
    let mut client = client(&intake).await;
    let web = client
        .submit(authorized(
            submission("web", "w-1", "APP卡顿"),
            ADAPTER_TOKEN,
        ))
        .await
        .expect("the unbound adapter submits on web")
        .into_inner();
    // The bound adapter replays web's idempotency key: refused, nothing of the ticket told.
    for content in ["APP卡顿", "something else"] {
        let refused = client
            .submit(authorized(submission("web", "w-1", content), APP_TOKEN))
            .await
            .expect_err("another channel");
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert_eq!(
            refused.message(),
            "app-sdk may not submit on channel \"web\" (its channels: app)"
        );
        assert!(!format!("{refused:?}").contains(&web.ticket_id));
    }
    let own = client
        .submit(authorized(submission("app", "a-1", "APP卡顿"), APP_TOKEN))
        .await
        .expect("its own channel")
        .into_inner();
    assert!(!own.duplicate);
    // The bulk import refuses the item on another channel and takes the rest.
    let mut answers = client
        .submit_stream(authorized(
            futures::stream::iter(vec![
                v1::SubmitStreamRequest {
                    submission: Some(submission("web", "w-1", "APP卡顿")),
                },
                v1::SubmitStreamRequest {
                    submission: Some(submission("app", "a-2", "APP卡顿")),
                },
            ]),
            APP_TOKEN,
        ))
        .await
        .expect("the stream opens")
        .into_inner();
    let mut outcomes = Vec::new();
    while let Some(answer) = answers.next().await {
        outcomes.push(answer.expect("stream item").outcome);
    }
    match outcomes.as_slice() {
        [Some(v1::submit_stream_response::Outcome::Error(error)), Some(v1::submit_stream_response::Outcome::Result(taken))] =>
        {
            assert_eq!(error.code, Code::PermissionDenied as i32);
            assert!(!format!("{error:?}").contains(&web.ticket_id));
            assert!(!taken.duplicate);
        }
        other => panic!("unexpected outcomes {other:?}"),
    }
}
