//! The `cloop-notify` service: a durable pull consumer on TICKET_EVENTS that tells customers
//! what happens to their ticket (received, first response, solution, review request,
//! suggestion adopted, closed), by signed HTTP webhook (SMS gateway, WeChat bridge), SMTP
//! e-mail or a local file (one JSON line per notice), and records each attempt's result on the ticket (`RecordNotification`).
//! It also alerts staff (`staff`): new tickets in a queue, assignments, SLA warnings, breaches
//! and escalations, by e-mail or WeCom/DingTalk-shaped webhooks, once per (event, recipient),
//! and e-mails the scheduled reports to managers (`reports`), once per (period, recipient).
//!
//! Delivery is at least once and never twice for the same (event, notice): `notify.db`
//! remembers every notice as sent before the JetStream ack; the only window for a duplicate is
//! a crash between the receiver's answer and that commit, which the receiver closes with the
//! `Idempotency-Key` header (webhook) or the `Message-ID` (e-mail). The notifier holds no
//! ticket state and reads no keys: the customer's contact comes from `Tickets.GetTicket`.

mod calls;
pub mod config;
mod consume;
pub mod error;
pub mod https;
pub mod metrics;
mod notifier;
mod reports;
pub mod route;
pub mod sender;
pub mod staff;
pub mod store;
pub mod template;

pub use consume::run;
pub use metrics::Metrics;
pub use notifier::Notifier;
pub use route::{route_for, Route, Senders};

use crate::config::NotifySettings;
use crate::template::Templates;
use chrono::FixedOffset;
use service::config::NatsConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything the service needs to run.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub nats_url: String,
    pub data_dir: PathBuf,
    pub metrics_listen: Option<SocketAddr>,
    pub nats: NatsConfig,
    pub settings: NotifySettings,
    pub templates: Templates,
    /// How instants are written in notices (the domain's `notices.time_format`) and in which
    /// offset (the calendar's).
    pub time_format: String,
    pub offset: FixedOffset,
    /// TLS towards the workflow (`--workflow-ca`, `--workflow-cert`, `--workflow-key`);
    /// `None` for an `http://` workflow, or the system's roots for an `https://` one.
    pub workflow_tls: Option<service::tls::ClientTls>,
    /// Staff alerts (`staff`): `None` when no person and no department has a route.
    pub alerts: Option<staff::AlertSetup>,
    /// The rating links of the review requests (`[selfservice]`); `None` when off.
    pub rating_links: Option<service::ratelink::RatingLinks>,
    /// The TLS of `https://` webhooks; `None` when every webhook is `http://`.
    pub webhook_tls: Option<https::WebhookTls>,
}
