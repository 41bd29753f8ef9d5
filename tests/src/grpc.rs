//! What a scenario needs to talk to the services: the tokens file, bearer-token requests,
//! channels, and polling a ticket until it is in the state a scenario waits for.

use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use std::time::{Duration, Instant};
use tonic::transport::{Channel, Endpoint};

/// How long a service may take to listen after a start.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The departments of the default configuration; each has an agent token `t-agent-<name>`.
pub const DEPARTMENTS: [&str; 8] = [
    "product",
    "technical",
    "quality",
    "logistics",
    "after_sales",
    "customer_service",
    "operations",
    "marketing",
];

/// One principal of a tokens file: its bearer token, name, role, department (empty for
/// none) and more TOML lines of its own (e.g. `rate_per_sec = 0`).
#[derive(Debug, Clone, Copy)]
pub struct Principal {
    pub token: &'static str,
    pub name: &'static str,
    pub role: &'static str,
    pub department: &'static str,
    pub extra: &'static str,
}

/// A principal without a department or extra lines.
pub const fn principal(token: &'static str, name: &'static str, role: &'static str) -> Principal {
    Principal {
        token,
        name,
        role,
        department: "",
        extra: "",
    }
}

impl Principal {
    /// The same principal in `department`.
    pub const fn of(self, department: &'static str) -> Self {
        Self { department, ..self }
    }

    /// The same principal with more TOML lines.
    pub const fn with(self, extra: &'static str) -> Self {
        Self { extra, ..self }
    }
}

/// One `[[principal]]` entry of a tokens file.
fn principal_entry(token: &str, name: &str, role: &str, department: &str, extra: &str) -> String {
    let mut text = format!(
        "[[principal]]\nname = \"{name}\"\nrole = \"{role}\"\ntoken_sha256 = \"{}\"\n",
        service::tokens::token_sha256(token)
    );
    if !department.is_empty() {
        text.push_str(&format!("department = \"{department}\"\n"));
    }
    if !extra.is_empty() {
        text.push_str(extra.trim_end());
        text.push('\n');
    }
    text.push('\n');
    text
}

/// The tokens file of `principals`.
pub fn principals_file(principals: &[Principal]) -> String {
    principals
        .iter()
        .map(|p| principal_entry(p.token, p.name, p.role, p.department, p.extra))
        .collect()
}

/// The default tokens file: an adapter `t-adapter` (without a rate limit), customer service
/// `t-service`, an admin `t-admin` and one agent `t-agent-<department>` per department.
pub fn tokens_file() -> String {
    let mut text = principal_entry("t-adapter", "web-form", "adapter", "", "rate_per_sec = 0");
    text.push_str(&principal_entry(
        "t-service",
        "zhang.san",
        "service",
        "",
        "",
    ));
    text.push_str(&principal_entry("t-admin", "root", "admin", "", ""));
    for department in DEPARTMENTS {
        text.push_str(&principal_entry(
            &format!("t-agent-{department}"),
            &format!("agent.{department}"),
            "agent",
            department,
            "",
        ));
    }
    text
}

/// A submission on channel `web` from a customer with a phone number.
pub fn web_submission(external_id: &str, content: &str) -> v1::SubmitRequest {
    v1::SubmitRequest {
        channel: "web".into(),
        external_id: external_id.into(),
        customer: Some(v1::Customer {
            phone: "13800138000".into(),
            ..Default::default()
        }),
        content: content.into(),
        ..Default::default()
    }
}

/// Sends a NATS request, retrying for 30 s while nobody answers yet (intake subscribes in
/// the background, whether or not NATS is up at its start).
pub async fn nats_request(
    nats: &async_nats::Client,
    subject: &str,
    body: Vec<u8>,
) -> async_nats::Message {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match nats.request(subject.to_owned(), body.clone().into()).await {
            Ok(reply) => return reply,
            Err(error) if Instant::now() < deadline => {
                assert_eq!(
                    error.kind(),
                    async_nats::client::RequestErrorKind::NoResponders,
                    "{error}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("nats request not answered: {error}"),
        }
    }
}

/// The `Cloop-Status` header of a NATS reply (`"0"` for success), when it has one.
pub fn reply_status(reply: &async_nats::Message) -> Option<String> {
    let headers = reply.headers.as_ref()?;
    headers
        .get("Cloop-Status")
        .map(|value| value.as_str().to_owned())
}

/// Every ticket `token` may list with `filter`, paging through `ListTickets` 500 at a time.
pub async fn list_all_tickets(
    client: &mut TicketsClient<Channel>,
    filter: Option<v1::TicketFilter>,
    token: &str,
) -> Result<Vec<v1::Ticket>, tonic::Status> {
    let mut tickets = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = v1::ListTicketsRequest {
            filter: filter.clone(),
            page_size: 500,
            page_token: page_token.clone(),
            ..Default::default()
        };
        let page = client
            .list_tickets(authorized(request, token))
            .await?
            .into_inner();
        tickets.extend(page.tickets);
        if page.next_page_token.is_empty() {
            return Ok(tickets);
        }
        page_token = page.next_page_token;
    }
}

/// A request with `authorization: Bearer <token>`.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// A channel that connects when first used and reconnects after the server restarts; every
/// call gives up after 10 s (a paused server must not hang a test).
pub fn lazy_channel(address: &str) -> Channel {
    Endpoint::from_shared(format!("http://{address}"))
        .expect("valid uri")
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .connect_lazy()
}

/// A channel connected now (tried for up to 10 s), without a deadline on its calls (for
/// streams that outlive 10 s).
pub async fn connect(address: &str) -> Channel {
    let endpoint = format!("http://{address}");
    for _ in 0..100 {
        if let Ok(channel) = Channel::from_shared(endpoint.clone())
            .expect("valid endpoint")
            .connect()
            .await
        {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot connect to {endpoint}");
}

/// Polls an async `condition` every 100 ms until it holds or `timeout` passes; whether it held.
pub async fn eventually<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of `GET /metrics` at `address` (empty when nothing answers).
pub fn metrics_text(address: &str) -> String {
    crate::http::exchange(address, "GET", "/metrics", &[], b"")
        .map(|answer| answer.body)
        .unwrap_or_default()
}

/// The value of the metric line at `address` that starts with `line_start`, e.g.
/// `cloop_workflow_duplicate_messages_total`.
pub fn metric(address: &str, line_start: &str) -> Option<f64> {
    metrics_text(address).lines().find_map(|line| {
        line.strip_prefix(line_start)
            .and_then(|rest| rest.trim().parse::<f64>().ok())
    })
}

/// The last `count` lines of a log.
pub fn tail(log: &str, count: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}
