//! Customer notices end to end: nats-server, intake, workflow and `cloop-notify` as real
//! processes, a local HTTP receiver written here that checks the HMAC signature and fails the
//! first two attempts of every notice with 500, and a local SMTP sink written here. Tickets go
//! through receive → acknowledge → solution → review → archive; every notice must arrive
//! once per (event, notice), the history must show what the customer was told, and a SIGKILL
//! of the notifier mid-stream must change neither.
//! An English submission is told in English, a note to the customer arrives once in the
//! ticket's language, and a team note sends nothing.

use crate::support::{lazy_channel, start_pair, PairOptions};
use e2e::{fetch_history, fetch_ticket, Service, ServiceSpec, Staff, TestCluster};
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tonic::transport::Channel;

pub(crate) const SECRET: &str = "webhook-signing-secret";
/// Attempts of each notice the receiver answers with 500 before it accepts one.
const FAILURES_PER_NOTICE: u32 = 2;
/// The notices of one ticket that goes the whole way without an approval step.
const NOTICES_PER_TICKET: usize = 5;

/// HMAC-SHA256 written out from its definition (RFC 2104), independent of the notifier's.
fn hmac_sha256(key: &[u8], message: &[u8]) -> String {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_key: Vec<u8> = block.iter().map(|byte| byte ^ 0x36).collect();
    let outer_key: Vec<u8> = block.iter().map(|byte| byte ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_key)
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(&outer_key)
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
}

/// What the receivers saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Webhook requests per Idempotency-Key, every attempt.
    pub(crate) webhook_attempts: HashMap<String, u32>,
    /// Webhook requests answered 200, per key.
    pub(crate) webhook_accepted: HashMap<String, u32>,
    /// The accepted webhook bodies.
    pub(crate) webhook_bodies: Vec<serde_json::Value>,
    /// Requests whose signature did not verify.
    pub(crate) bad_signatures: u32,
    /// E-mails per Message-ID.
    pub(crate) mails: HashMap<String, u32>,
    /// Every e-mail, raw.
    pub(crate) mail_texts: Vec<String>,
}

pub(crate) type Shared = Arc<Mutex<Seen>>;

/// Accepts connections on `listener` until it fails, each handled by `serve` in a task of
/// its own.
async fn serve_each<F, Fut>(listener: TcpListener, seen: Shared, serve: F)
where
    F: Fn(TcpStream, Shared) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve(stream, seen.clone()));
    }
}

/// A tiny HTTP/1.1 server: reads one request per connection, checks the signature, answers
/// 500 to the first attempts of each key and 200 after.
pub(crate) async fn http_receiver(listener: TcpListener, seen: Shared) {
    serve_each(listener, seen, http_exchange).await;
}

/// Reads the next line into `line` (emptied first); `false` at the end of the stream or on
/// an error.
async fn next_line(reader: &mut (impl AsyncBufRead + Unpin), line: &mut String) -> bool {
    line.clear();
    reader.read_line(line).await.unwrap_or(0) > 0
}

/// One connection of [`http_receiver`] (or of the https receiver of `alerts_https.rs`, over
/// TLS).
pub(crate) async fn http_exchange<S>(stream: S, seen: Shared)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(stream);
    let mut headers: HashMap<String, String> = HashMap::new();
    let mut line = String::new();
    if !next_line(&mut reader, &mut line).await {
        return;
    }
    loop {
        if !next_line(&mut reader, &mut line).await {
            return;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).await.is_err() {
        return;
    }
    let key = headers.get("idempotency-key").cloned().unwrap_or_default();
    let timestamp = headers
        .get("x-cloop-timestamp")
        .cloned()
        .unwrap_or_default();
    let mut signed = timestamp.clone().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(&body);
    let expected = format!("sha256={}", hmac_sha256(SECRET.as_bytes(), &signed));
    let valid = headers.get("x-cloop-signature") == Some(&expected);
    let status = {
        let mut seen = seen.lock().expect("lock");
        if !valid {
            seen.bad_signatures += 1;
            401
        } else {
            let attempts = seen.webhook_attempts.entry(key.clone()).or_default();
            *attempts += 1;
            if *attempts <= FAILURES_PER_NOTICE {
                500
            } else {
                *seen.webhook_accepted.entry(key).or_default() += 1;
                if let Ok(json) = serde_json::from_slice(&body) {
                    seen.webhook_bodies.push(json);
                }
                200
            }
        }
    };
    let answer = format!(
        "HTTP/1.1 {status} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        if status == 200 { "OK" } else { "No" }
    );
    let mut stream = reader.into_inner();
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A tiny SMTP server: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
pub(crate) async fn smtp_sink(listener: TcpListener, seen: Shared) {
    serve_each(listener, seen, smtp_session).await;
}

/// One connection of [`smtp_sink`].
async fn smtp_session(stream: TcpStream, seen: Shared) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        if !next_line(&mut reader, &mut line).await {
            return;
        }
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
            "HELO" | "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 ok\r\n",
            "DATA" => {
                if write
                    .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                    .await
                    .is_err()
                {
                    return;
                }
                let mut text = String::new();
                loop {
                    if !next_line(&mut reader, &mut line).await {
                        return;
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    text.push_str(&line);
                }
                let message_id = text
                    .lines()
                    .find_map(|header| {
                        let (name, value) = header.split_once(':')?;
                        name.eq_ignore_ascii_case("message-id")
                            .then(|| value.trim().to_owned())
                    })
                    .unwrap_or_default();
                {
                    let mut seen = seen.lock().expect("lock");
                    *seen.mails.entry(message_id).or_default() += 1;
                    seen.mail_texts.push(text);
                }
                b"250 queued\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"502 not implemented\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

pub(crate) async fn eventually(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ticket(client: &mut TicketsClient<Channel>, ticket_id: &str) -> Option<v1::Ticket> {
    fetch_ticket(client, ticket_id, "t-admin")
        .await
        .ok()
        .and_then(|response| response.into_inner().ticket)
}

pub(crate) async fn history(
    client: &mut TicketsClient<Channel>,
    ticket_id: &str,
) -> Vec<v1::LogEvent> {
    fetch_history(client, ticket_id, "t-admin")
        .await
        .map(|response| response.into_inner().events)
        .unwrap_or_default()
}

/// A customer known only by a phone number.
fn with_phone(phone: &str) -> v1::Customer {
    v1::Customer {
        phone: phone.into(),
        ..Default::default()
    }
}

/// Submits one ticket and waits until the workflow has it in step handle.
async fn submit(pair: &TestCluster, external_id: &str, customer: v1::Customer) -> String {
    let request = v1::SubmitRequest {
        channel: "app".into(),
        external_id: external_id.into(),
        content: "APP卡顿，打开很慢".into(),
        customer: Some(customer),
        ..Default::default()
    };
    submit_request(pair, request).await
}

/// Submits `request` and waits until the workflow has its ticket in step handle.
pub(crate) async fn submit_request(pair: &TestCluster, request: v1::SubmitRequest) -> String {
    let ticket_id = pair.submit_as("t-adapter", request).await;
    let mut tickets = TicketsClient::new(lazy_channel(pair.workflow().address()));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = ticket(&mut tickets, &ticket_id).await {
            if found.step == v1::Step::Handle as i32 {
                return ticket_id;
            }
            let mut admin = Staff::new(tickets.clone(), "t-admin");
            if found.step == v1::Step::Classify as i32 {
                // Rules that cannot place it (English text): customer service classifies.
                let _ = admin.classify(&ticket_id, v1::Kind::Problem, "e2e").await;
            }
            if found.step == v1::Step::Dispatch as i32 {
                let _ = admin.dispatch(&ticket_id, "technical", "").await;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{ticket_id} never reached handle"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Acknowledge, solve, review and archive one ticket (the admin may do each).
async fn drive(pair: &TestCluster, ticket_id: &str) {
    let channel = lazy_channel(pair.workflow().address());
    let mut admin = Staff::new(TicketsClient::new(channel), "t-admin");
    let acknowledged = admin.acknowledge(ticket_id, "我们正在排查").await;
    acknowledged.expect("acknowledge");
    let solution = "新版本已修复卡顿";
    let proposed = admin.propose(ticket_id, v1::Outcome::Fixed, solution).await;
    let proposed = proposed.expect("propose");
    assert_eq!(
        proposed.step,
        v1::Step::Review as i32,
        "a fixed problem needs no approval by default"
    );
    admin.review(ticket_id, 5, "").await.expect("review");
    admin.archive(ticket_id).await.expect("archive");
}

fn notify_config(pair: &TestCluster, webhook: u16, smtp: u16) -> String {
    format!(
        "[notify]\nworkflow_url = \"http://{}\"\ntoken = \"t-service\"\n\
         max_attempts = 6\nbackoff_base_ms = 100\nbackoff_cap_ms = 400\nack_wait_ms = 5000\n\n\
         [notify.webhook]\nurl = \"http://127.0.0.1:{webhook}/hooks/notice\"\nsecret = \"{SECRET}\"\n\n\
         [notify.smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nfrom = \"service@example.com\"\n\n\
         [notify.templates.en]\nclosed = \"Closed: {{ticket_id}}\"\n",
        pair.workflow().address()
    )
}

/// Counts the customer_notified and notification_failed events of a ticket.
fn notification_events(events: &[v1::LogEvent]) -> (usize, usize) {
    let notified = events
        .iter()
        .filter(|event| event.event_type == "customer_notified")
        .count();
    let failed = events
        .iter()
        .filter(|event| event.event_type == "notification_failed")
        .count();
    (notified, failed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notice_arrives_once_through_failures_and_a_killed_notifier() {
    let mut pair = start_pair(PairOptions::default());
    let seen: Shared = Arc::default();
    let webhook = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let webhook_port = webhook.local_addr().expect("address").port();
    let smtp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let smtp_port = smtp.local_addr().expect("address").port();
    tokio::spawn(http_receiver(webhook, seen.clone()));
    tokio::spawn(smtp_sink(smtp, seen.clone()));
    let config = notify_config(&pair, webhook_port, smtp_port);
    pair.spawn(Service::Notify, ServiceSpec::new().config(config).metrics());

    // Phase 1: one customer reached by phone (webhook), one by e-mail only (SMTP).
    let by_phone = submit(&pair, "notify-phone", with_phone("+8613812345678")).await;
    let mail = v1::Customer {
        email: "zhang@example.com".into(),
        ..Default::default()
    };
    let by_mail = submit(&pair, "notify-mail", mail).await;
    drive(&pair, &by_phone).await;
    drive(&pair, &by_mail).await;
    eventually(
        "the five notices of each ticket",
        Duration::from_secs(120),
        || {
            let seen = seen.lock().expect("lock");
            seen.webhook_accepted.len() >= NOTICES_PER_TICKET
                && seen.mails.len() >= NOTICES_PER_TICKET
        },
    )
    .await;
    let mut tickets = TicketsClient::new(lazy_channel(pair.workflow().address()));
    for (ticket_id, failures) in [
        (&by_phone, NOTICES_PER_TICKET * FAILURES_PER_NOTICE as usize),
        (&by_mail, 0),
    ] {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let events = history(&mut tickets, ticket_id).await;
            let (notified, failed) = notification_events(&events);
            if notified == NOTICES_PER_TICKET && failed == failures {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{ticket_id}: history shows {notified} customer_notified and {failed} notification_failed"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let last = ticket(&mut tickets, ticket_id).await.expect("ticket");
        assert_eq!(last.step, v1::Step::Archive as i32, "notices move nothing");
    }
    {
        let seen = seen.lock().expect("lock");
        assert_eq!(seen.bad_signatures, 0);
        let mut notices: Vec<&str> = seen
            .webhook_accepted
            .keys()
            .filter_map(|key| key.split_once(':').map(|(_, notice)| notice))
            .collect();
        notices.sort_unstable();
        assert_eq!(
            notices,
            [
                "closed",
                "first_response",
                "received",
                "review_request",
                "solution"
            ]
        );
        assert!(
            seen.webhook_accepted.values().all(|count| *count == 1),
            "each notice accepted once: {:?}",
            seen.webhook_accepted
        );
        assert!(
            seen.webhook_attempts
                .values()
                .all(|count| *count == FAILURES_PER_NOTICE + 1),
            "two failures, then one success: {:?}",
            seen.webhook_attempts
        );
        assert!(seen.mails.values().all(|count| *count == 1));
        assert_eq!(seen.mail_texts.len(), NOTICES_PER_TICKET, "raw e-mails");
        let body = seen
            .webhook_bodies
            .iter()
            .find(|body| body["notice"] == "received")
            .expect("the received notice");
        assert_eq!(body["ticket_id"], by_phone.as_str());
        assert_eq!(body["to"], "+8613812345678");
        assert_eq!(body["channel"], "sms");
        let text = body["text"].as_str().expect("text");
        assert!(
            text.contains(&by_phone) && text.contains("前回复"),
            "{text}"
        );
        assert!(seen
            .mail_texts
            .iter()
            .all(|mail| mail.contains("zhang@example.com")));
    }
    let log = std::fs::read_to_string(pair.dir.path().join("notify.log")).unwrap_or_default();
    assert!(
        !log.contains("13812345678") && !log.contains("zhang@example.com"),
        "no contact data in the notifier's log"
    );

    // Phase 2: more tickets, the notifier killed mid-stream and started again.
    let mut more = Vec::new();
    for index in 0..3 {
        more.push(
            submit(
                &pair,
                &format!("notify-kill-{index}"),
                with_phone(&format!("+861390000000{index}")),
            )
            .await,
        );
    }
    for ticket_id in &more {
        drive(&pair, ticket_id).await;
    }
    let accepted_for = |seen: &Seen, tickets: &[String]| {
        seen.webhook_bodies
            .iter()
            .filter(|body| {
                tickets
                    .iter()
                    .any(|ticket| body["ticket_id"] == ticket.as_str())
            })
            .count()
    };
    eventually(
        "the first notices of phase 2",
        Duration::from_secs(120),
        || accepted_for(&seen.lock().expect("lock"), &more) >= 2,
    )
    .await;
    pair.get_mut("notify").kill();
    let at_kill = accepted_for(&seen.lock().expect("lock"), &more);
    pair.get_mut("notify").restart();
    let expected = more.len() * NOTICES_PER_TICKET;
    eventually("every notice of phase 2", Duration::from_secs(180), || {
        let seen = seen.lock().expect("lock");
        seen.webhook_accepted
            .keys()
            .filter(|key| key.contains(':'))
            .count()
            >= NOTICES_PER_TICKET + expected
    })
    .await;
    for ticket_id in &more {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (notified, _) = notification_events(&history(&mut tickets, ticket_id).await);
            if notified == NOTICES_PER_TICKET {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{ticket_id}: {notified} customer_notified after the restart"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.bad_signatures, 0);
    let raw = accepted_for(&seen, &more);
    // The one window the notifier cannot close is a kill between the receiver's 200 and the
    // local commit: at most the one notice in flight at the kill arrives twice, and with the
    // same Idempotency-Key, so the receiver can tell.
    assert!(
        raw == expected || raw == expected + 1,
        "{raw} accepted for {expected} notices ({at_kill} before the kill)"
    );
    assert_eq!(
        seen.webhook_accepted.len(),
        NOTICES_PER_TICKET + expected,
        "one key per (event, notice)"
    );
    // Phase 1's notices were not sent again by the restarted notifier.
    for (key, count) in &seen.webhook_accepted {
        let phase_two = seen.webhook_bodies.iter().any(|body| {
            body["idempotency_key"] == key.as_str()
                && more
                    .iter()
                    .any(|ticket| body["ticket_id"] == ticket.as_str())
        });
        if !phase_two {
            assert_eq!(*count, 1, "{key} sent again after the restart");
        }
    }
    assert_eq!(seen.mail_texts.len(), NOTICES_PER_TICKET);
}

/// A cluster with `cloop-notify` sending by the file sender only; the notices file's path.
fn start_with_file_notices() -> (TestCluster, std::path::PathBuf) {
    let mut pair = start_pair(PairOptions::default());
    let notices = pair.dir.path().join("notices.jsonl");
    let config = format!(
        "[notify]\nworkflow_url = \"http://{}\"\ntoken = \"t-service\"\n\
         backoff_base_ms = 100\nbackoff_cap_ms = 400\n\n[notify.file]\npath = \"{}\"\n",
        pair.workflow().address(),
        notices.display()
    );
    pair.spawn(Service::Notify, ServiceSpec::new().config(config).metrics());
    (pair, notices)
}

/// Anonymous feedback end to end: a submission without any contact is accepted with
/// `cannot_be_told`, reaches the technical queue and goes the whole way to archive, while the
/// notifier (here with the file sender only) tells the customer who left a phone everything
/// and attempts nothing, records nothing, for the anonymous one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_feedback_reaches_a_queue_and_nobody_is_told() {
    let (pair, notices) = start_with_file_notices();

    let receipt = pair
        .intake_connected()
        .await
        .submit(e2e::authorized(
            v1::SubmitRequest {
                channel: "app".into(),
                external_id: "comment-book-7".into(),
                content: "APP卡顿，打开很慢".into(),
                ..Default::default()
            },
            "t-adapter",
        ))
        .await
        .expect("anonymous feedback is accepted")
        .into_inner();
    assert!(receipt.cannot_be_told, "{receipt:?}");
    assert!(
        receipt.notice.contains("没有留下联系方式"),
        "{}",
        receipt.notice
    );
    // The same submission again (it is a repeat): the helper waits for step handle.
    let anonymous = submit(&pair, "comment-book-7", v1::Customer::default()).await;
    assert_eq!(anonymous, receipt.ticket_id);
    let told = submit(
        &pair,
        "notify-told",
        v1::Customer {
            phone: "+8613812345678".into(),
            ..Default::default()
        },
    )
    .await;
    let mut tickets = TicketsClient::new(lazy_channel(pair.workflow().address()));
    let shown = ticket(&mut tickets, &anonymous).await.expect("the ticket");
    assert!(shown.cannot_be_told);
    assert!(
        !ticket(&mut tickets, &told)
            .await
            .expect("ticket")
            .cannot_be_told
    );
    let mut agent = Staff::new(tickets.clone(), "t-admin");
    let queue = agent
        .list(v1::TicketFilter {
            department: "technical".into(),
            step: v1::Step::Handle as i32,
            ..Default::default()
        })
        .await
        .expect("the technical queue");
    assert!(
        queue
            .iter()
            .any(|item| item.ticket_id == anonymous && item.cannot_be_told),
        "the anonymous ticket is in the queue, marked"
    );
    drive(&pair, &anonymous).await;
    drive(&pair, &told).await;

    let lines_of = |ticket_id: &str| file_notices(&notices, ticket_id).len();
    eventually(
        "the five notices of the told ticket",
        Duration::from_secs(120),
        || lines_of(&told) >= NOTICES_PER_TICKET,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while notification_events(&history(&mut tickets, &told).await).0 < NOTICES_PER_TICKET {
        assert!(
            Instant::now() < deadline,
            "the told ticket's notices recorded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The anonymous ticket's events came before the told ticket's in the stream, so the
    // notifier has handled them all by now: nothing sent, nothing recorded.
    assert_eq!(
        lines_of(&anonymous),
        0,
        "nothing sent for anonymous feedback"
    );
    assert_eq!(
        notification_events(&history(&mut tickets, &anonymous).await),
        (0, 0),
        "nothing attempted for anonymous feedback"
    );
    let body = std::fs::read_to_string(&notices).expect("the notices file");
    assert!(
        body.contains("+8613812345678"),
        "the file holds the address it sends to"
    );
}

/// The notices file's lines of one ticket, as JSON.
pub(crate) fn file_notices(path: &std::path::Path, ticket_id: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["ticket_id"] == ticket_id)
        .collect()
}

/// Adds a note to `ticket_id`, for the customer or for the team only.
async fn add_note(pair: &TestCluster, ticket_id: &str, text: &str, to_customer: bool) {
    let visibility = if to_customer {
        v1::NoteVisibility::Customer
    } else {
        v1::NoteVisibility::Internal
    };
    let mut tickets = TicketsClient::new(lazy_channel(pair.workflow().address()));
    tickets
        .add_note(e2e::authorized(
            v1::AddNoteRequest {
                ticket_id: ticket_id.into(),
                command_id: format!("{ticket_id}-note-{}", visibility.as_str_name()),
                text: text.into(),
                visibility: visibility as i32,
                ..Default::default()
            },
            "t-admin",
        ))
        .await
        .expect("the note is added");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_english_customer_is_told_in_english_and_a_note_to_them_arrives_once() {
    let (pair, notices) = start_with_file_notices();

    let english = submit_request(
        &pair,
        v1::SubmitRequest {
            channel: "app".into(),
            external_id: "notify-english".into(),
            content: "The app is very slow to open".into(),
            customer: Some(with_phone("+8613812345601")),
            language: v1::Language::En as i32,
            ..Default::default()
        },
    )
    .await;
    let chinese = submit(&pair, "notify-chinese", with_phone("+8613812345602")).await;
    let mut tickets = TicketsClient::new(lazy_channel(pair.workflow().address()));
    let language_of = |ticket: Option<v1::Ticket>| ticket.expect("the ticket").language;
    assert_eq!(
        language_of(ticket(&mut tickets, &english).await),
        v1::Language::En as i32,
        "the ticket keeps the submission's language"
    );
    assert_eq!(
        language_of(ticket(&mut tickets, &chinese).await),
        v1::Language::Zh as i32,
        "no language given: the configured default, Chinese"
    );

    // The team note comes first: once the customer's note has arrived, the notifier has
    // handled the team note too (one ticket's events are handled in order).
    add_note(&pair, &english, "internal: check the CDN logs", false).await;
    add_note(
        &pair,
        &english,
        "We found the cause and are fixing it.",
        true,
    )
    .await;
    add_note(&pair, &chinese, "我们已找到原因，正在修复。", true).await;
    let notes = |ticket_id: &str| {
        file_notices(&notices, ticket_id)
            .into_iter()
            .filter(|line| line["notice"] == "note")
            .collect::<Vec<_>>()
    };
    eventually(
        "the notes to the customers",
        Duration::from_secs(60),
        || !notes(&english).is_empty() && !notes(&chinese).is_empty(),
    )
    .await;
    let recorded_notes = |events: &[v1::LogEvent]| {
        events
            .iter()
            .filter(|event| event.event_type == "customer_notified")
            .filter(|event| event.payload.contains("\"notice\":\"note\""))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while recorded_notes(&history(&mut tickets, &english).await) < 1 {
        assert!(Instant::now() < deadline, "the note's notice recorded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Give a second delivery, if there were one, the time to show.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let sent = file_notices(&notices, &english);
    let received: Vec<_> = sent
        .iter()
        .filter(|line| line["notice"] == "received")
        .collect();
    assert_eq!(received.len(), 1, "{sent:?}");
    assert_eq!(received[0]["language"], "en");
    let text = received[0]["text"].as_str().expect("a text");
    assert!(text.starts_with("We received your feedback"), "{text}");
    let english_notes = notes(&english);
    assert_eq!(english_notes.len(), 1, "the note arrives once: {sent:?}");
    assert_eq!(english_notes[0]["language"], "en");
    assert_eq!(
        english_notes[0]["text"],
        format!("A message on ticket {english}: We found the cause and are fixing it.")
    );
    assert!(
        !sent.iter().any(|line| line["text"]
            .as_str()
            .is_some_and(|text| text.contains("CDN"))),
        "a team note is never sent: {sent:?}"
    );
    assert_eq!(sent.len(), 2, "received and the one note: {sent:?}");
    let history = history(&mut tickets, &english).await;
    assert_eq!(recorded_notes(&history), 1, "recorded once on the ticket");
    assert_eq!(notification_events(&history), (2, 0));

    let chinese_notes = notes(&chinese);
    assert_eq!(chinese_notes.len(), 1, "{chinese_notes:?}");
    assert_eq!(chinese_notes[0]["language"], "zh");
    assert_eq!(
        chinese_notes[0]["text"],
        format!("工单 {chinese} 有新的留言：我们已找到原因，正在修复。")
    );
}
