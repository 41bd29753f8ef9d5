//! End-to-end tests of `cloop-webhook` in front of real `cloop-intake` and `cloop-workflow`
//! processes and a real nats-server: a signed web-form post becomes a ticket; repeats,
//! forgeries, stale and oversize requests, bad JSON and unknown channels get their precise
//! answers; with NATS or intake down the webhook answers 503 with `Retry-After` and recovers
//! by itself.
//!
//! The HMAC here is written out by hand on purpose, and the HTTP client is the harness's own
//! plain one (`e2e::http`): they check the webhook against the recipe in `docs/adapters.md`,
//! not against its own code.

use crate::support::{authorized, lazy_channel, start_pair, PairOptions, Service};
use e2e::http::Answer as HttpReply;
use e2e::{wait_until, ServiceSpec, TestCluster};
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const WEB_SECRET: &str = "web-form-secret-for-tests";
const APP_SECRET: &str = "app-secret-from-the-environment";

/// HMAC-SHA256 (RFC 2104), written out from SHA-256.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| {
        block
            .iter()
            .map(|key_byte| key_byte ^ byte)
            .collect::<Vec<u8>>()
    };
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// The headers of a body signed at `timestamp` with `secret`.
fn signed(secret: &str, timestamp: i64, body: &[u8]) -> Vec<(String, String)> {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    vec![
        ("X-Cloop-Timestamp".into(), timestamp.to_string()),
        (
            "X-Cloop-Signature".into(),
            format!(
                "sha256={}",
                hex::encode(hmac_sha256(secret.as_bytes(), &message))
            ),
        ),
    ]
}

/// One HTTP/1.1 request of JSON on a connection of its own (see [`e2e::http::exchange`]).
/// Status 0 means the connection failed; the body says why.
fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> HttpReply {
    let mut headers = headers.to_vec();
    headers.push(("Content-Type".into(), "application/json".into()));
    e2e::http::exchange(address, method, path, &headers, body).unwrap_or_else(|why| HttpReply {
        status: 0,
        headers: Vec::new(),
        body: why,
    })
}

/// The webhook in front of a [`TestCluster`], with channels `web` (inline secret) and `app`
/// (secret from the environment); its process is the cluster's instance `name`.
struct Webhook {
    name: String,
    address: String,
    metrics: String,
}

impl Webhook {
    /// A pair with a webhook named `webhook` (`extra` added to its settings), once its health
    /// check says ok.
    fn start_healthy(extra: &str) -> (TestCluster, Self) {
        let mut pair = start_pair(PairOptions::default());
        let webhook = Self::start(&mut pair, "webhook", extra);
        assert!(webhook.wait_health(200), "healthz never said ok");
        (pair, webhook)
    }

    fn start(pair: &mut TestCluster, name: &str, extra: &str) -> Self {
        let spec = ServiceSpec::new()
            .name(name)
            .metrics()
            .env("CLOOP_TEST_APP_SECRET", APP_SECRET)
            .config(format!(
                "[webhook]\nrequest_timeout_ms = 3000\nretry_after_secs = 2\n{extra}\n\n\
                 [webhook.channels.web]\nsecret = \"{WEB_SECRET}\"\n\n\
                 [webhook.channels.app]\nsecret_env = \"CLOOP_TEST_APP_SECRET\"\n"
            ));
        let webhook = pair.spawn(e2e::Service::Webhook, spec);
        Self {
            name: name.to_owned(),
            address: webhook.address().to_owned(),
            metrics: webhook.metrics_address().to_owned(),
        }
    }

    fn post(&self, channel: &str, headers: &[(String, String)], body: &[u8]) -> HttpReply {
        http(
            &self.address,
            "POST",
            &format!("/v1/feedback/{channel}"),
            headers,
            body,
        )
    }

    /// A body for `channel` signed now with `secret`.
    fn post_signed(&self, channel: &str, secret: &str, body: &Value) -> HttpReply {
        let bytes = serde_json::to_vec(body).expect("json");
        self.post(channel, &signed(secret, unix_now(), &bytes), &bytes)
    }

    /// Waits until `/healthz` answers `status`.
    fn wait_health(&self, status: u16) -> bool {
        wait_until(Duration::from_secs(60), || {
            http(&self.address, "GET", "/healthz", &[], b"").status == status
        })
    }
}

fn form(external_id: &str) -> Value {
    json!({
        "external_id": external_id,
        "customer": {"name": "王女士", "phone": "13800138000", "email": "wang.nvshi@example.com"},
        "content": "APP卡顿，打开很慢",
        "occurred_at": "2026-01-05T09:30:00+08:00",
        "product": "app",
        "attributes": {"page": "/help"}
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The ticket as the workflow has it, once it has it (None after a minute).
fn wait_for_ticket(pair: &TestCluster, ticket_id: &str) -> Option<v1::Ticket> {
    let runtime = runtime();
    let _context = runtime.enter();
    let channel = lazy_channel(pair.workflow().address());
    let mut found = None;
    wait_until(Duration::from_secs(60), || {
        let mut client = TicketsClient::new(channel.clone());
        found = runtime
            .block_on(client.get_ticket(authorized(
                v1::GetTicketRequest {
                    ticket_id: ticket_id.to_owned(),
                },
                "t-admin",
            )))
            .ok()
            .and_then(|response| response.into_inner().ticket);
        found.is_some()
    });
    found
}

fn assert_refused(reply: &HttpReply, status: u16, field: Option<&str>) {
    assert_eq!(reply.status, status, "{reply:?}");
    let body = reply.json();
    assert!(
        body["error"]["reason"]
            .as_str()
            .is_some_and(|reason| !reason.is_empty()),
        "{reply:?}"
    );
    assert_eq!(body["error"]["field"].as_str(), field, "{reply:?}");
}

fn log_has_no_contact_data(path: &Path) {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    for secret in [
        "13800138000",
        "8613800138000",
        "wang.nvshi",
        "王女士",
        WEB_SECRET,
        APP_SECRET,
    ] {
        assert!(!log.contains(secret), "{secret} in the webhook log:\n{log}");
    }
}

#[test]
fn signed_posts_become_tickets_and_every_refusal_is_precise() {
    let (pair, webhook) = Webhook::start_healthy("max_body_bytes = 65536");

    // A signed web-form post becomes a ticket the workflow serves.
    let first = webhook.post_signed("web", WEB_SECRET, &form("form-1"));
    assert_eq!(first.status, 201, "{first:?}");
    let answer = first.json();
    let ticket_id = answer["ticket_id"].as_str().expect("ticket_id").to_owned();
    assert!(!ticket_id.is_empty());
    assert_eq!(answer["duplicate"], false);
    assert!(answer["feedback_id"]
        .as_str()
        .is_some_and(|id| !id.is_empty()));
    for instant in ["received_at", "respond_by", "resolve_by"] {
        let text = answer[instant].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(text).is_ok(),
            "{instant}: {answer}"
        );
    }
    assert!(
        answer["notice"]
            .as_str()
            .is_some_and(|notice| notice.contains(&ticket_id)),
        "{answer}"
    );
    let ticket = wait_for_ticket(&pair, &ticket_id).expect("the ticket reaches the workflow");
    assert_eq!(ticket.channel, "web");
    assert_eq!(ticket.external_id, "form-1");
    assert_eq!(ticket.content, "APP卡顿，打开很慢");
    let customer = ticket.customer.expect("customer");
    assert_eq!(customer.phone, "+8613800138000");

    // The same external id again: the same ticket, marked as a duplicate.
    let again = webhook.post_signed("web", WEB_SECRET, &form("form-1"));
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(again.json()["duplicate"], true);
    assert_eq!(again.json()["ticket_id"], ticket_id.as_str());

    // The secret of `app` comes from the environment; its path may be in any case.
    let app = webhook.post_signed("APP", APP_SECRET, &form("app-1"));
    assert_eq!(app.status, 201, "{app:?}");
    assert_ne!(app.json()["ticket_id"], ticket_id.as_str());

    // Wrong secret, a changed body, a stale or a missing timestamp: 401.
    let bytes = serde_json::to_vec(&form("form-2")).expect("json");
    let wrong = webhook.post("web", &signed(APP_SECRET, unix_now(), &bytes), &bytes);
    assert_refused(&wrong, 401, None);
    let mut tampered = bytes.clone();
    tampered.extend_from_slice(b" ");
    let changed = webhook.post("web", &signed(WEB_SECRET, unix_now(), &bytes), &tampered);
    assert_refused(&changed, 401, None);
    let stale = webhook.post("web", &signed(WEB_SECRET, unix_now() - 301, &bytes), &bytes);
    assert_refused(&stale, 401, None);
    assert!(stale.json()["error"]["reason"]
        .as_str()
        .is_some_and(|reason| reason.contains("300 seconds")));
    let unsigned = webhook.post("web", &[], &bytes);
    assert_refused(&unsigned, 401, None);
    // None of them went through.
    let signed_late = webhook.post_signed("web", WEB_SECRET, &form("form-2"));
    assert_eq!(signed_late.status, 201, "{signed_late:?}");

    // An unknown channel: 404, whatever the body.
    let unknown = webhook.post_signed("fax", WEB_SECRET, &form("fax-1"));
    assert_refused(&unknown, 404, None);
    // `store` is a channel of the domain, but not one this webhook accepts.
    assert_refused(
        &webhook.post_signed("store", WEB_SECRET, &form("store-1")),
        404,
        None,
    );

    // Bad JSON: 400 naming the field (a wrong type, a bad phone, a misspelt key, a bad time).
    for (field, value) in [
        ("content", json!(42)),
        ("customer.phone", json!("12345")),
        ("contnet", json!("typo")),
        ("occurred_at", json!("last tuesday")),
    ] {
        let mut body = form("form-3");
        *field
            .split('.')
            .fold(&mut body, |place, key| &mut place[key]) = value;
        assert_refused(
            &webhook.post_signed("web", WEB_SECRET, &body),
            400,
            Some(field),
        );
    }
    let broken = b"{\"content\": ";
    assert_refused(
        &webhook.post("web", &signed(WEB_SECRET, unix_now(), broken), broken),
        400,
        None,
    );

    // Over 64 KiB: 413, signed or not.
    let mut oversize = form("form-4");
    oversize["content"] = json!("很".repeat(30_000));
    let bytes = serde_json::to_vec(&oversize).expect("json");
    assert!(bytes.len() > 65_536);
    assert_refused(
        &webhook.post("web", &signed(WEB_SECRET, unix_now(), &bytes), &bytes),
        413,
        None,
    );

    // Requests are counted by channel and status.
    let counted = crate::support::metric(
        &webhook.metrics,
        "cloop_webhook_requests_total{channel=\"web\",status=\"201\"}",
    );
    assert_eq!(counted, Some(2.0));
    assert_eq!(
        crate::support::metric(
            &webhook.metrics,
            "cloop_webhook_requests_total{channel=\"web\",status=\"401\"}"
        ),
        Some(4.0)
    );

    // The log names channels, external ids and statuses, never contact data or secrets.
    let log = pair.get(&webhook.name).log();
    assert!(
        log.contains("form-1") && log.contains("\"status\":401"),
        "{log}"
    );
    log_has_no_contact_data(&pair.dir.path().join("webhook.log"));
}

/// Whether a status says the submission was taken (201 new, 200 a duplicate).
fn accepted(status: u16) -> bool {
    status == 201 || status == 200
}

/// Posts the signed form `external_id` every 200 ms, for at most `within`, until `wanted`
/// says yes to the status: whether it did, and the last answer.
fn post_until(
    webhook: &Webhook,
    external_id: &str,
    within: Duration,
    wanted: impl Fn(u16) -> bool,
) -> (bool, Option<HttpReply>) {
    let mut answer = None;
    let done = wait_until(within, || {
        let reply = webhook.post_signed("web", WEB_SECRET, &form(external_id));
        let done = wanted(reply.status);
        answer = Some(reply);
        if !done {
            std::thread::sleep(Duration::from_millis(200));
        }
        done
    });
    (done, answer)
}

#[test]
fn with_nats_or_intake_down_the_webhook_answers_503_and_recovers() {
    let (mut pair, webhook) = Webhook::start_healthy("");
    let ok = webhook.post_signed("web", WEB_SECRET, &form("down-0"));
    assert_eq!(ok.status, 201, "{ok:?}");

    // NATS down: 503 with Retry-After, at once rather than after the request timeout.
    pair.nats_mut().stop();
    assert!(webhook.wait_health(503), "healthz stayed ok without NATS");
    let started = std::time::Instant::now();
    let refused = webhook.post_signed("web", WEB_SECRET, &form("down-1"));
    assert_refused(&refused, 503, None);
    assert_eq!(refused.header("retry-after"), Some("2"), "{refused:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "{refused:?}");

    // NATS back: the same submission goes through without anyone restarting the webhook.
    pair.nats_mut().start_again();
    let (recovered, answer) = post_until(&webhook, "down-1", Duration::from_secs(90), accepted);
    assert!(
        recovered,
        "no recovery after NATS came back: {answer:?}\n{}",
        pair.get(&webhook.name).log()
    );
    let ticket_id = answer.expect("answer").json()["ticket_id"]
        .as_str()
        .expect("ticket id")
        .to_owned();
    assert!(wait_for_ticket(&pair, &ticket_id).is_some());

    // Intake down: nobody answers on feedback.inbound.web, so 503 with Retry-After.
    pair.intake_mut().kill();
    let (unavailable, refused) =
        post_until(&webhook, "down-2", Duration::from_secs(30), |status| {
            status == 503
        });
    assert!(unavailable, "no 503 with intake down: {refused:?}");
    let refused = refused.expect("answer");
    assert_eq!(refused.header("retry-after"), Some("2"), "{refused:?}");

    // Intake back: accepted again.
    pair.service_mut(Service::Intake).restart();
    let (recovered, answer) = post_until(&webhook, "down-2", Duration::from_secs(90), accepted);
    assert!(recovered, "no recovery after intake came back: {answer:?}");
    log_has_no_contact_data(&pair.dir.path().join("webhook.log"));
}

#[test]
fn each_channel_and_each_source_address_has_a_rate_limit_answered_429_naming_it() {
    // Per channel: signed submissions only, 1 per second after a burst of 3.
    let (mut pair, webhook) =
        Webhook::start_healthy("rate_per_sec_per_channel = 1\nburst_per_channel = 3");
    let mut statuses = Vec::new();
    let mut refusal = None;
    for index in 0..6 {
        let reply = webhook.post_signed("web", WEB_SECRET, &form(&format!("rate-{index}")));
        statuses.push(reply.status);
        if reply.status == 429 {
            refusal = Some(reply);
        }
    }
    println!("webhook channel limit 1/s burst 3, 6 posts at once: {statuses:?}");
    assert_eq!(&statuses[..3], &[201, 201, 201], "the burst passes");
    assert!(
        statuses[3..]
            .iter()
            .filter(|status| **status == 429)
            .count()
            >= 2,
        "{statuses:?}"
    );
    let refusal = refusal.expect("a 429");
    let reason = refusal.json()["error"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains("webhook channel web") && reason.contains("1 requests per second, burst 3"),
        "{reason}"
    );
    assert!(
        refusal
            .header("Retry-After")
            .and_then(|value| value.parse::<u64>().ok())
            .is_some_and(|seconds| seconds >= 1),
        "{refusal:?}"
    );
    // A forgery is still 401 and spends nothing; another channel has its own bucket.
    let forged = webhook.post("web", &[], b"{}");
    assert_eq!(forged.status, 401, "{forged:?}");
    let app = webhook.post_signed("app", APP_SECRET, &form("rate-app"));
    assert_eq!(app.status, 201, "{app:?}");
    let counted = crate::support::metric(
        &webhook.metrics,
        "cloop_webhook_rate_limited_total{caller=\"webhook channel web\"}",
    );
    assert!(counted.is_some_and(|count| count >= 2.0), "{counted:?}");

    // Per source address (off by default): checked before the body is read, so even an
    // unsigned request counts.
    let strict = Webhook::start(
        &mut pair,
        "webhook-strict",
        "rate_per_sec_per_source = 1\nburst_per_source = 2\nrate_per_sec_per_channel = 0",
    );
    assert!(strict.wait_health(200), "healthz never said ok");
    let first = strict.post("web", &[], b"{}");
    let second = strict.post("web", &[], b"{}");
    assert_eq!((first.status, second.status), (401, 401));
    let third = strict.post_signed("web", WEB_SECRET, &form("rate-source"));
    assert_eq!(third.status, 429, "{third:?}");
    assert!(
        third.json()["error"]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("webhook source 127.0.0.1")),
        "{third:?}"
    );
}

#[test]
fn the_json_form_carries_a_reply_onto_the_customers_own_ticket() {
    let (pair, webhook) = Webhook::start_healthy("");
    let first = webhook.post_signed("web", WEB_SECRET, &form("form-r1"));
    assert_eq!(first.status, 201, "{first:?}");
    let ticket_id = first.json()["ticket_id"]
        .as_str()
        .expect("ticket_id")
        .to_owned();
    wait_for_ticket(&pair, &ticket_id).expect("the ticket reaches the workflow");

    let mut answer = form("form-r2");
    answer["content"] = json!("补充：升级到最新版本后还是卡");
    answer["reply_to_ticket_id"] = json!(ticket_id);
    let replied = webhook.post_signed("web", WEB_SECRET, &answer);
    assert_eq!(replied.status, 201, "{replied:?}");
    let body = replied.json();
    assert_eq!(body["reply"], true, "{body}");
    assert_eq!(body["ticket_id"].as_str(), Some(ticket_id.as_str()));
    let mut threaded = None;
    assert!(wait_until(Duration::from_secs(60), || {
        threaded = wait_for_ticket(&pair, &ticket_id).filter(|ticket| ticket.customer_replies == 1);
        threaded.is_some()
    }));
    assert!(threaded.is_some_and(|ticket| ticket.new_reply));

    // Another customer naming that ticket: 404, and nothing is recorded.
    let mut stranger = form("form-r3");
    stranger["customer"] = json!({"phone": "13900139000"});
    stranger["reply_to_ticket_id"] = json!(ticket_id);
    let refused = webhook.post_signed("web", WEB_SECRET, &stranger);
    assert_refused(&refused, 404, None);
    let ticket = wait_for_ticket(&pair, &ticket_id).expect("ticket");
    assert_eq!(ticket.customer_replies, 1);
}
