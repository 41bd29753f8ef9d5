//! Scheduled reports end to end: nats-server, intake, workflow and `cloop-notify` as real
//! processes on the test clock, the SMTP sink of `notify.rs`, and `[report_delivery]` with
//! two managers (one reading Chinese, one English). Tickets arrive on Sunday 1 February 2026,
//! before February's first working day, so nothing is due yet; the clock then moves to Monday
//! 2 March 09:30 (+08:00; 1 March is a Sunday), the first working day after February: each
//! manager receives exactly one e-mail with February's report attached, byte for byte the page
//! `cloop report period --month 2026-02 --at-position N --format html` gives at the position
//! recorded in the log, and the log holds one `report_scheduled` and one `report_delivered` per
//! manager. Both services are then restarted (the notifier's durable consumer deleted, so it
//! reads the whole stream again) and the clock moves to Wednesday 1 April: March's and the first
//! quarter's reports arrive, once each, and February's is not sent again.

use crate::notify::{eventually, smtp_sink, Seen, Shared};
use crate::support::read_from_start;
use chrono::{DateTime, Utc};
use e2e::{principal, principals_file, Principal, Service, ServiceSpec, TestCluster};
use futures::StreamExt;
use proto::v1;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

const ADMIN: &str = "t-admin";

const PRINCIPALS: &[Principal] = &[
    principal("t-adapter", "web-form", "adapter").with("rate_per_sec = 0"),
    principal("t-service", "notify", "service"),
    principal("t-admin", "root", "admin"),
    principal("t-manager-qian", "qian.manager", "manager"),
    principal("t-manager-li", "li.director", "manager"),
];

const DELIVERY: &str = "[report_delivery]\nmonthly = true\nquarterly = true\n\
     recipients = [\"qian.manager\", \"li.director\"]\nattach = \"html\"\n\
     console_url = \"https://console.example.com\"\n";

fn notify_config(workflow: &str, smtp: u16) -> String {
    format!(
        "{DELIVERY}\n[notify]\nworkflow_url = \"http://{workflow}\"\ntoken = \"t-service\"\n\
         max_attempts = 3\nbackoff_base_ms = 100\nbackoff_cap_ms = 400\nack_wait_ms = 5000\n\n\
         [notify.smtp]\nhost = \"127.0.0.1\"\nport = {smtp}\nfrom = \"service@example.com\"\n\n\
         [[notify.staff]]\nname = \"qian.manager\"\nemail = \"qian@example.com\"\n\n\
         [[notify.staff]]\nname = \"li.director\"\nemail = \"li@example.com\"\nlanguage = \"en\"\n"
    )
}

/// A local (+08:00) wall-clock instant.
fn local(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    let text = format!("2026-{month:02}-{day:02}T{hour:02}:{minute:02}:00+08:00");
    DateTime::parse_from_rfc3339(&text)
        .expect("valid local time")
        .to_utc()
}

fn set_clock(path: &Path, at: DateTime<Utc>) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, at.to_rfc3339()).expect("write the clock");
    std::fs::rename(&aside, path).expect("move the clock");
}

/// The report e-mails the sink received (their Message-ID names `report-<recipient>`), raw.
fn report_mails(seen: &Seen) -> Vec<String> {
    seen.mail_texts
        .iter()
        .filter(|text| {
            text.lines().any(|line| {
                line.to_ascii_lowercase().starts_with("message-id:") && line.contains(".report-")
            })
        })
        .cloned()
        .collect()
}

/// The value of header `name` of a raw message (first match, unfolded enough for one line).
fn header<'a>(mail: &'a str, name: &str) -> &'a str {
    mail.lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then_some(value.trim())
        })
        .unwrap_or("")
}

/// Decodes standard base64 (with padding, line breaks ignored).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let digits: Vec<u8> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut buffer = 0u32;
        for (index, digit) in chunk.iter().enumerate() {
            buffer |= u32::from(*digit) << (18 - 6 * index);
        }
        let bytes = buffer.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// Decodes quoted-printable text (soft line breaks and `=XX` escapes) as UTF-8.
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'=')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8(out).expect("UTF-8 text")
}

/// The text part of a raw message, decoded.
fn text_part(mail: &str) -> String {
    let start = mail.find("Content-Type: text/plain").expect("a text part");
    let part = &mail[start..];
    let body_start = part
        .find("\r\n\r\n")
        .map(|at| at + 4)
        .or_else(|| part.find("\n\n").map(|at| at + 2))
        .expect("the part's body");
    let headers = &part[..body_start];
    let body = &part[body_start..];
    let body = &body[..body.find("\n--").unwrap_or(body.len())];
    if headers.contains("quoted-printable") {
        quoted_printable(body)
    } else if headers.contains("base64") {
        String::from_utf8(base64_decode(body)).expect("UTF-8 text")
    } else {
        body.to_owned()
    }
}

/// The attached page of a raw message: the base64 body of its `text/html` part.
fn attached_page(mail: &str) -> String {
    let start = mail.find("Content-Type: text/html").expect("an HTML part");
    let part = &mail[start..];
    let body_start = part
        .find("\r\n\r\n")
        .map(|at| at + 4)
        .or_else(|| part.find("\n\n").map(|at| at + 2))
        .expect("the part's body");
    let body = &part[body_start..];
    let end = body.find("\n--").unwrap_or(body.len());
    String::from_utf8(base64_decode(&body[..end])).expect("UTF-8 page")
}

/// Every row of the log whose stream is a report delivery's.
async fn delivery_rows(cluster: &TestCluster) -> Vec<v1::LogEvent> {
    let mut audit = cluster.audit_connected().await;
    let mut stream = read_from_start(&mut audit, ADMIN, false)
        .await
        .expect("read events");
    let mut rows = Vec::new();
    while let Some(item) = stream.next().await {
        let row = item.expect("row").event.expect("event");
        if row.stream_id.starts_with("report-delivery-") {
            rows.push(row);
        }
    }
    rows
}

fn payload(row: &v1::LogEvent) -> serde_json::Value {
    serde_json::from_str(&row.payload).expect("JSON payload")
}

/// The periods of the rows of `event_type`, with the recipient when there is one.
fn recorded(rows: &[v1::LogEvent], event_type: &str) -> Vec<String> {
    let mut names: Vec<String> = rows
        .iter()
        .filter(|row| row.event_type == event_type)
        .map(|row| {
            let payload = payload(row);
            let period = payload["period"].as_str().unwrap_or("").to_owned();
            match payload["recipient"].as_str() {
                Some(recipient) => format!("{period} {recipient}"),
                None => period,
            }
        })
        .collect();
    names.sort();
    names
}

/// Waits until the sink holds `count` report e-mails.
async fn mails_arrive(seen: &Shared, count: usize, what: &str) {
    eventually(what, Duration::from_secs(120), || {
        report_mails(&seen.lock().expect("lock")).len() >= count
    })
    .await;
}

/// The HTML page of the report `cloop` prints for `period` at `position` in `lang`.
fn cli_page(cluster: &TestCluster, lang: &str, flag: &str, period: &str, position: u64) -> String {
    let position = position.to_string();
    let output = cluster.cloop(
        ADMIN,
        &[
            "--lang",
            lang,
            "report",
            "period",
            flag,
            period,
            "--at-position",
            &position,
            "--format",
            "html",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 page")
}

/// Checks February's two e-mails: one per manager, in their language, each with the page the
/// CLI gives at the recorded position attached.
fn check_february(cluster: &TestCluster, mails: &[String], rows: &[v1::LogEvent]) {
    assert_eq!(mails.len(), 2, "one e-mail per manager: {mails:#?}");
    let delivered: Vec<&v1::LogEvent> = rows
        .iter()
        .filter(|row| row.event_type == "report_delivered" && payload(row)["period"] == "2026-02")
        .collect();
    assert_eq!(delivered.len(), 2);
    let position = payload(delivered[0])["report_position"]
        .as_u64()
        .expect("report_position");
    let scheduled = rows
        .iter()
        .find(|row| row.event_type == "report_scheduled" && payload(row)["period"] == "2026-02")
        .expect("February's report_scheduled");
    assert_eq!(
        position, scheduled.position,
        "computed at the claim's position"
    );
    for (address, lang, words) in [
        ("li@example.com", "en", "Tickets 3;"),
        ("qian@example.com", "zh", "工单 3；"),
    ] {
        let mail = mails
            .iter()
            .find(|mail| header(mail, "To").contains(address))
            .unwrap_or_else(|| panic!("no report e-mail to {address}"));
        assert!(
            mail.contains("report-2026-02.html"),
            "the attachment's name: {mail}"
        );
        assert_eq!(
            attached_page(mail),
            cli_page(cluster, lang, "--month", "2026-02", position),
            "the attached page is the report at the recorded position"
        );
        let text = text_part(mail);
        assert!(text.contains(words), "{text}");
        assert!(
            text.contains(&format!("--month 2026-02 --at-position {position}")),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_months_and_the_quarters_reports_reach_each_manager_once_across_restarts() {
    assert!(
        crate::support::failpoints_built_in(),
        "the services read the scenario's clock only when built with the failpoints feature"
    );
    let seen: Shared = Arc::default();
    let smtp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let smtp_port = smtp.local_addr().expect("address").port();
    tokio::spawn(smtp_sink(smtp, seen.clone()));
    let mut cluster = TestCluster::builder()
        .prefix("cloop-report-delivery-")
        .tokens(principals_file(PRINCIPALS))
        .test_clock(local(2, 1, 10, 0).to_rfc3339())
        .config(format!(
            "{DELIVERY}\n[workflow_service]\ntimer_tick_ms = 200\n"
        ))
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();
    let config = notify_config(cluster.workflow().address(), smtp_port);
    cluster.spawn(Service::Notify, ServiceSpec::new().config(config));
    for (index, content) in ["APP闪退，无法登录", "快递三天没有更新", "建议增加夜间模式"]
        .into_iter()
        .enumerate()
    {
        let request = e2e::web_submission(&format!("delivery-{index}"), content);
        let ticket_id = cluster.submit_as("t-adapter", request).await;
        // Recorded by the workflow (and so in the report) before the clock moves on.
        cluster
            .wait_ticket(&ticket_id, ADMIN, Duration::from_secs(60), |_| true)
            .await;
    }
    // Sunday 1 February: January's report is not due before Monday 2 February 09:00.
    assert!(delivery_rows(&cluster).await.is_empty());

    set_clock(&cluster.clock_path(), local(3, 2, 9, 30));
    mails_arrive(&seen, 2, "February's report to both managers").await;
    let rows = {
        let mut rows = delivery_rows(&cluster).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while recorded(&rows, "report_delivered").len() < 2 {
            assert!(
                std::time::Instant::now() < deadline,
                "deliveries not recorded: {rows:#?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
            rows = delivery_rows(&cluster).await;
        }
        rows
    };
    assert_eq!(recorded(&rows, "report_scheduled"), vec!["2026-02"]);
    assert_eq!(
        recorded(&rows, "report_delivered"),
        vec!["2026-02 li.director", "2026-02 qian.manager"]
    );
    let february = report_mails(&seen.lock().expect("lock"));
    check_february(&cluster, &february, &rows);

    // Restart both; the notifier reads the whole stream again.
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
    cluster.workflow_mut().terminate(Duration::from_secs(20));
    cluster.workflow_mut().restart();
    cluster.get_mut("notify").restart();

    // Wednesday 1 April: March's and the first quarter's reports, after February's replay.
    set_clock(&cluster.clock_path(), local(4, 1, 9, 5));
    mails_arrive(&seen, 6, "March's and the quarter's reports").await;
    let rows = delivery_rows(&cluster).await;
    assert_eq!(
        recorded(&rows, "report_scheduled"),
        vec!["2026-02", "2026-03", "2026-Q1"]
    );
    let seen = seen.lock().expect("lock");
    let mails = report_mails(&seen);
    assert_eq!(mails.len(), 6, "nothing twice: {:#?}", seen.mails);
    for mail in &mails {
        assert_eq!(seen.mails.get(header(mail, "Message-ID")), Some(&1));
    }
    let quarter = mails
        .iter()
        .find(|mail| {
            header(mail, "To").contains("li@example.com") && mail.contains("report-2026-Q1.html")
        })
        .expect("the quarter's report to li.director");
    let page = attached_page(quarter);
    assert!(page.contains("2026-Q1"), "the quarter's page");
    assert!(
        page.contains("2026-01") && page.contains("2026-03"),
        "its months side by side"
    );
}
