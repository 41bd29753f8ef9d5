//! The `cloop-notify` service: a durable pull consumer on TICKET_EVENTS that tells customers
//! what happens to their ticket (received, first response, solution, review request,
//! suggestion adopted, closed), by signed HTTP webhook (SMS gateway, WeChat bridge) or SMTP
//! e-mail, and records each attempt's result on the ticket (`RecordNotification`).
//!
//! Delivery is at least once and never twice for the same (event, notice): `notify.db`
//! remembers every notice as sent before the JetStream ack; the only window for a duplicate is
//! a crash between the receiver's answer and that commit, which the receiver closes with the
//! `Idempotency-Key` header (webhook) or the `Message-ID` (e-mail). The notifier holds no
//! ticket state and reads no keys: the customer's contact comes from `Tickets.GetTicket`.

pub mod config;
pub mod error;
pub mod sender;
pub mod store;
pub mod template;

use crate::config::{command_id, NotifySettings};
use crate::error::NotifyError;
use crate::sender::{Outgoing, Smtp, Webhook};
use crate::store::{DeliveryState, Store, STORE_FILE};
use crate::template::Templates;
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, AckKind};
use chrono::{DateTime, FixedOffset, Utc};
use domain::event::Event;
use domain::notification::{mask_contact, notices_for, NoticeKind, NOTIFYING_EVENT_TYPES};
use domain::rules::config::Language;
use domain::types::Outcome;
use futures::StreamExt;
use prometheus::{IntCounterVec, Opts, Registry};
use prost::Message as _;
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use service::config::NatsConfig;
use service::shutdown::Shutdown;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tonic::transport::Channel;
use tonic::Code;

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
}

/// The counters on `/metrics`.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub registry: Registry,
    /// Notices the sender accepted, by channel.
    pub sent: IntCounterVec,
    /// Failed attempts, by channel (`none` when the customer could not be reached at all).
    pub failed: IntCounterVec,
    /// Redelivered (event, notice) pairs that were already sent and were not sent again.
    pub skipped: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, NotifyError> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, label: &str| {
            IntCounterVec::new(Opts::new(name, help), &[label])
                .map_err(|error| NotifyError::Workflow(format!("metric {name}: {error}")))
        };
        let sent = counter(
            "cloop_notify_sent_total",
            "Notices accepted by a sender",
            "channel",
        )?;
        let failed = counter(
            "cloop_notify_failed_attempts_total",
            "Failed delivery attempts",
            "channel",
        )?;
        let skipped = counter(
            "cloop_notify_duplicates_skipped_total",
            "Redelivered notices already sent",
            "notice",
        )?;
        for metric in [&sent, &failed, &skipped] {
            registry
                .register(Box::new(metric.clone()))
                .map_err(|error| NotifyError::Workflow(format!("register metric: {error}")))?;
        }
        Ok(Self {
            registry,
            sent,
            failed,
            skipped,
        })
    }
}

/// Where the customer is reached for one notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `sms`, `wechat` or `email`.
    pub channel: &'static str,
    /// `webhook` or `smtp`.
    pub sender: &'static str,
    pub to: String,
}

/// The way to reach a customer: the ticket's own channel first where it is one of the
/// customer's contacts, then phone, WeChat, e-mail; only channels with a configured sender.
pub fn route_for(
    customer: &v1::Customer,
    ticket_channel: &str,
    webhook: bool,
    smtp: bool,
) -> Option<Route> {
    let present = |text: &str| !text.trim().is_empty();
    let mut candidates: Vec<Route> = Vec::new();
    if webhook && present(&customer.phone) {
        candidates.push(Route {
            channel: "sms",
            sender: "webhook",
            to: customer.phone.trim().to_owned(),
        });
    }
    if webhook && present(&customer.wechat_openid) {
        candidates.push(Route {
            channel: "wechat",
            sender: "webhook",
            to: customer.wechat_openid.trim().to_owned(),
        });
    }
    if smtp && present(&customer.email) {
        candidates.push(Route {
            channel: "email",
            sender: "smtp",
            to: customer.email.trim().to_owned(),
        });
    }
    let preferred = candidates
        .iter()
        .position(|route| route.channel == ticket_channel);
    match preferred {
        Some(index) => Some(candidates.swap_remove(index)),
        None => candidates.into_iter().next(),
    }
}

/// What became of one log event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handled {
    /// Everything it yields is sent (or given up) and recorded: ack.
    Done,
    /// Try the event again later (workflow unreachable, shutting down): nak with a delay.
    Later,
}

/// The notifier: the senders, the store and the workflow client.
#[derive(Debug, Clone)]
pub struct Notifier {
    settings: NotifySettings,
    templates: Templates,
    time_format: String,
    offset: FixedOffset,
    store: Store,
    tickets: TicketsClient<Channel>,
    token: String,
    webhook: Option<Webhook>,
    smtp: Option<Smtp>,
    metrics: Metrics,
    shutdown: Shutdown,
}

/// A ticket's instant for display; `None` when absent or bad ([`proto::time::instant`]).
fn instant(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    proto::time::instant(timestamp?).ok()
}

impl Notifier {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = format!("Bearer {}", self.token).parse() {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    fn render_instant(&self, value: Option<DateTime<Utc>>) -> String {
        value
            .map(|value| {
                value
                    .with_timezone(&self.offset)
                    .format(&self.time_format)
                    .to_string()
            })
            .unwrap_or_default()
    }

    /// Handles one log row from TICKET_EVENTS.
    async fn handle(&self, row: &v1::LogEvent) -> Handled {
        if !NOTIFYING_EVENT_TYPES.contains(&row.event_type.as_str()) || row.ticket_id.is_empty() {
            return Handled::Done;
        }
        let event = match serde_json::from_str(&row.payload)
            .map_err(|error| error.to_string())
            .and_then(|payload| {
                Event::from_parts(&row.event_type, row.schema_version.max(1), &payload)
                    .map_err(|error| error.to_string())
            }) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(event_id = %row.event_id, %error, "unreadable event, no notice");
                return Handled::Done;
            }
        };
        let ticket = match self
            .tickets
            .clone()
            .get_ticket(self.request(v1::GetTicketRequest {
                ticket_id: row.ticket_id.clone(),
            }))
            .await
        {
            Ok(response) => match response.into_inner().ticket {
                Some(ticket) => ticket,
                None => return Handled::Done,
            },
            Err(status) if status.code() == Code::NotFound => {
                tracing::warn!(ticket_id = %row.ticket_id, "ticket not found, no notice");
                return Handled::Done;
            }
            Err(status) => {
                tracing::warn!(ticket_id = %row.ticket_id, code = ?status.code(), message = status.message(), "get ticket failed, will retry");
                return Handled::Later;
            }
        };
        let outcome = (ticket.outcome == v1::Outcome::Adopted as i32).then_some(Outcome::Adopted);
        for notice in notices_for(&event, outcome) {
            if self.deliver(row, &event, &ticket, notice).await == Handled::Later {
                return Handled::Later;
            }
        }
        Handled::Done
    }

    fn render(
        &self,
        event: &Event,
        ticket: &v1::Ticket,
        notice: NoticeKind,
        language: Language,
    ) -> (String, String) {
        let mut values: HashMap<&str, String> = HashMap::new();
        values.insert("ticket_id", ticket.ticket_id.clone());
        values.insert(
            "received_at",
            self.render_instant(instant(ticket.created_at.as_ref())),
        );
        values.insert(
            "respond_by",
            self.render_instant(instant(ticket.respond_by.as_ref())),
        );
        values.insert(
            "resolve_by",
            self.render_instant(instant(ticket.resolve_by.as_ref())),
        );
        let (message, solution, outcome) = match event {
            Event::Acknowledged(acknowledged) => {
                (acknowledged.message.clone(), String::new(), String::new())
            }
            Event::SolutionProposed(proposed) => (
                String::new(),
                proposed.text.clone(),
                proposed.outcome.to_string(),
            ),
            Event::ParentResolved(resolved) => (
                String::new(),
                resolved.solution.clone(),
                resolved.outcome.to_string(),
            ),
            _ => (String::new(), ticket.solution.clone(), String::new()),
        };
        values.insert("message", message);
        values.insert("solution", solution);
        values.insert("outcome", outcome);
        match self.templates.get(language, notice) {
            Some(template) => (
                crate::template::render(&template.subject, &values),
                crate::template::render(&template.text, &values),
            ),
            None => (String::new(), ticket.ticket_id.clone()),
        }
    }

    /// Sends one notice (unless it was sent before) and records the result on the ticket.
    async fn deliver(
        &self,
        row: &v1::LogEvent,
        event: &Event,
        ticket: &v1::Ticket,
        notice: NoticeKind,
    ) -> Handled {
        let source = row.event_id.as_str();
        let ticket_id = ticket.ticket_id.as_str();
        let previous = match self.store.get(source, notice).await {
            Ok(previous) => previous,
            Err(error) => {
                tracing::error!(%error, "notify store");
                return Handled::Later;
            }
        };
        let route = route_for(
            ticket.customer.as_ref().unwrap_or(&v1::Customer::default()),
            &ticket.channel,
            self.webhook.is_some(),
            self.smtp.is_some(),
        );
        let mut attempts = 0;
        if let Some(previous) = &previous {
            attempts = previous.attempts;
            if previous.recorded {
                self.metrics
                    .skipped
                    .with_label_values(&[notice.as_str()])
                    .inc();
                tracing::info!(%ticket_id, %notice, "already delivered, not sent again");
                return Handled::Done;
            }
            match previous.state {
                DeliveryState::Sent => {
                    self.metrics
                        .skipped
                        .with_label_values(&[notice.as_str()])
                        .inc();
                    let Some(route) = route else {
                        return self
                            .record_final(
                                source,
                                ticket_id,
                                notice,
                                attempts.max(1),
                                "sent, but the customer's contact is gone since".to_owned(),
                            )
                            .await;
                    };
                    return self
                        .record_delivered(source, ticket_id, notice, attempts.max(1), &route)
                        .await;
                }
                DeliveryState::GivenUp => {
                    return self
                        .record_final(
                            source,
                            ticket_id,
                            notice,
                            attempts.max(1),
                            format!("gave up after {attempts} attempts"),
                        )
                        .await;
                }
                DeliveryState::Pending => {}
            }
        }
        let Some(route) = route else {
            let reason = if ticket
                .customer
                .as_ref()
                .is_none_or(|customer| *customer == v1::Customer::default())
            {
                "the customer's contact data is erased or absent"
            } else {
                "no configured sender reaches any of the customer's contacts"
            };
            self.metrics.failed.with_label_values(&["none"]).inc();
            if let Err(error) = self
                .store
                .finish(source, notice, ticket_id, DeliveryState::GivenUp)
                .await
            {
                tracing::error!(%error, "notify store");
                return Handled::Later;
            }
            return self
                .record_final(source, ticket_id, notice, attempts + 1, reason.to_owned())
                .await;
        };
        let language = match v1::Language::try_from(ticket.language) {
            Ok(v1::Language::En) => Language::En,
            Ok(v1::Language::Zh) => Language::Zh,
            _ => Language::from_tag(&self.settings.default_language).unwrap_or(Language::Zh),
        };
        let (subject, text) = self.render(event, ticket, notice, language);
        let outgoing = Outgoing {
            idempotency_key: format!("{source}:{notice}"),
            ticket_id: ticket_id.to_owned(),
            notice: notice.as_str().to_owned(),
            channel: route.channel.to_owned(),
            to: route.to.clone(),
            language: if language == Language::En { "en" } else { "zh" }.to_owned(),
            subject,
            text,
            source_event_id: source.to_owned(),
        };
        let masked = mask_contact(&route.to);
        let mut attempt = attempts;
        loop {
            attempt += 1;
            if attempt > self.settings.max_attempts {
                if let Err(error) = self
                    .store
                    .finish(source, notice, ticket_id, DeliveryState::GivenUp)
                    .await
                {
                    tracing::error!(%error, "notify store");
                    return Handled::Later;
                }
                return self
                    .record_final(
                        source,
                        ticket_id,
                        notice,
                        attempt - 1,
                        format!("gave up after {} attempts", attempt - 1),
                    )
                    .await;
            }
            if let Err(error) = self
                .store
                .begin_attempt(source, notice, ticket_id, attempt)
                .await
            {
                tracing::error!(%error, "notify store");
                return Handled::Later;
            }
            let result = match route.sender {
                "smtp" => match &self.smtp {
                    Some(smtp) => smtp.send(&outgoing).await,
                    None => Err("no smtp sender".to_owned()),
                },
                _ => match &self.webhook {
                    Some(webhook) => webhook.send(&outgoing, Utc::now().timestamp()).await,
                    None => Err("no webhook sender".to_owned()),
                },
            };
            match result {
                Ok(()) => {
                    // The window for a duplicate: a crash right here sends this notice again
                    // with the same Idempotency-Key / Message-ID.
                    if let Err(error) = self
                        .store
                        .finish(source, notice, ticket_id, DeliveryState::Sent)
                        .await
                    {
                        tracing::error!(%error, "notify store");
                        return Handled::Later;
                    }
                    self.metrics.sent.with_label_values(&[route.channel]).inc();
                    tracing::info!(%ticket_id, %notice, channel = route.channel, to = %masked, attempt, "notice sent");
                    return self
                        .record_delivered(source, ticket_id, notice, attempt, &route)
                        .await;
                }
                Err(reason) => {
                    self.metrics
                        .failed
                        .with_label_values(&[route.channel])
                        .inc();
                    let final_attempt = attempt >= self.settings.max_attempts;
                    tracing::warn!(%ticket_id, %notice, channel = route.channel, to = %masked, attempt, final_attempt, %reason, "notice not delivered");
                    if final_attempt {
                        if let Err(error) = self
                            .store
                            .finish(source, notice, ticket_id, DeliveryState::GivenUp)
                            .await
                        {
                            tracing::error!(%error, "notify store");
                            return Handled::Later;
                        }
                        return self
                            .record_final(source, ticket_id, notice, attempt, reason)
                            .await;
                    }
                    // A failed attempt that cannot be recorded now is still retried: the
                    // history then lacks that one attempt, never a delivery.
                    if let Err(error) = self
                        .record(
                            ticket_id,
                            source,
                            notice,
                            attempt,
                            RecordOf::Failed {
                                reason,
                                final_attempt: false,
                            },
                        )
                        .await
                    {
                        tracing::warn!(%ticket_id, %notice, %error, "record a failed attempt");
                    }
                    let pause = self.settings.backoff(attempt, rand::random::<f64>());
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = self.shutdown.wait() => return Handled::Later,
                    }
                }
            }
        }
    }

    async fn record_delivered(
        &self,
        source: &str,
        ticket_id: &str,
        notice: NoticeKind,
        attempt: u32,
        route: &Route,
    ) -> Handled {
        let record = RecordOf::Delivered {
            channel: route.channel,
            sender: route.sender,
            to_masked: mask_contact(&route.to),
        };
        self.record_and_mark(source, ticket_id, notice, attempt, record)
            .await
    }

    async fn record_final(
        &self,
        source: &str,
        ticket_id: &str,
        notice: NoticeKind,
        attempt: u32,
        reason: String,
    ) -> Handled {
        let record = RecordOf::Failed {
            reason,
            final_attempt: true,
        };
        self.record_and_mark(source, ticket_id, notice, attempt.max(1), record)
            .await
    }

    async fn record_and_mark(
        &self,
        source: &str,
        ticket_id: &str,
        notice: NoticeKind,
        attempt: u32,
        record: RecordOf,
    ) -> Handled {
        if let Err(error) = self
            .record(ticket_id, source, notice, attempt, record)
            .await
        {
            tracing::warn!(%ticket_id, %notice, %error, "record the notice result, will retry");
            return Handled::Later;
        }
        match self.store.mark_recorded(source, notice).await {
            Ok(()) => Handled::Done,
            Err(error) => {
                tracing::error!(%error, "notify store");
                Handled::Later
            }
        }
    }

    /// `Tickets.RecordNotification`; the command id makes a repeat a no-op.
    async fn record(
        &self,
        ticket_id: &str,
        source: &str,
        notice: NoticeKind,
        attempt: u32,
        record: RecordOf,
    ) -> Result<(), String> {
        let mut request = v1::RecordNotificationRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: command_id(source, notice, attempt),
            expected_version: None,
            notice: notice.as_str().to_owned(),
            source_event_id: source.to_owned(),
            attempt,
            ..Default::default()
        };
        match record {
            RecordOf::Delivered {
                channel,
                sender,
                to_masked,
            } => {
                request.delivered = true;
                request.channel = channel.to_owned();
                request.sender = sender.to_owned();
                request.to_masked = to_masked;
            }
            RecordOf::Failed {
                reason,
                final_attempt,
            } => {
                request.reason = reason;
                request.final_attempt = final_attempt;
            }
        }
        match self
            .tickets
            .clone()
            .record_notification(self.request(request))
            .await
        {
            Ok(_) => Ok(()),
            // The ticket is gone: nothing to record on.
            Err(status) if status.code() == Code::NotFound => Ok(()),
            Err(status) => Err(format!("{:?}: {}", status.code(), status.message())),
        }
    }
}

/// What one `RecordNotification` says.
#[derive(Debug, Clone)]
enum RecordOf {
    Delivered {
        channel: &'static str,
        sender: &'static str,
        to_masked: String,
    },
    Failed {
        reason: String,
        final_attempt: bool,
    },
}

/// Runs the notifier until `shutdown` completes.
pub async fn run(
    config: NotifyConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NotifyError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| NotifyError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let store = Store::open(&config.data_dir.join(STORE_FILE))?;
    let stop = Shutdown::new();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            stop.trigger();
        });
    }
    let metrics = Metrics::new()?;
    let metrics_task = match config.metrics_listen {
        Some(address) => {
            let (bound, task) =
                service::metrics::serve(address, metrics.registry.clone(), stop.wait()).await?;
            tracing::info!(%bound, "metrics listening");
            Some(task)
        }
        None => None,
    };
    let channel = service::tls::endpoint(
        "[notify] workflow_url",
        &config.settings.workflow_url,
        config.workflow_tls.as_ref(),
    )?
    .connect_timeout(Duration::from_secs(2))
    .timeout(config.settings.request_timeout())
    .connect_lazy();
    let webhook = match &config.settings.webhook {
        Some(settings) => Some(
            Webhook::new(settings, config.settings.webhook_secret()).map_err(|reason| {
                NotifyError::Config {
                    key: "notify.webhook.url".to_owned(),
                    reason,
                }
            })?,
        ),
        None => None,
    };
    let smtp = match &config.settings.smtp {
        Some(settings) => Some(Smtp::new(settings).map_err(|reason| NotifyError::Config {
            key: "notify.smtp".to_owned(),
            reason,
        })?),
        None => None,
    };
    let notifier = Notifier {
        token: config.settings.workflow_token(),
        settings: config.settings.clone(),
        templates: config.templates.clone(),
        time_format: config.time_format.clone(),
        offset: config.offset,
        store,
        tickets: TicketsClient::new(channel),
        webhook,
        smtp,
        metrics,
        shutdown: stop.clone(),
    };
    let (client, _connected) = service::nats::connect(
        &config.nats_url,
        "cloop-notify",
        &config.nats.client_auth()?,
    )
    .await?;
    let context = service::nats::jetstream_context(client, config.nats.request_timeout());
    tracing::info!(consumer = %config.settings.consumer_name, "cloop-notify started");
    while !stop.is_triggered() {
        if let Err(error) = consume(&notifier, &context, &config.nats, &stop).await {
            tracing::warn!(%error, "ticket events consumer stopped, will retry");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.wait() => {}
            }
        }
    }
    if let Some(task) = metrics_task {
        task.join().await;
    }
    tracing::info!("cloop-notify stopped");
    Ok(())
}

async fn consume(
    notifier: &Notifier,
    context: &jetstream::Context,
    nats: &NatsConfig,
    stop: &Shutdown,
) -> Result<(), String> {
    let settings = &nats.ticket_events_stream;
    let stream = match context.get_stream(&settings.name).await {
        Ok(stream) => stream,
        Err(_) => {
            // The workflow owns TICKET_EVENTS; whichever service starts first creates it.
            service::nats::ensure_stream(context, settings)
                .await
                .map_err(|error| error.to_string())?;
            context
                .get_stream(&settings.name)
                .await
                .map_err(|error| format!("get stream {}: {error}", settings.name))?
        }
    };
    let name = notifier.settings.consumer_name.clone();
    let config = pull::Config {
        durable_name: Some(name.clone()),
        description: Some("notify: customer notices".into()),
        filter_subject: format!("{}.>", proto::TICKET_EVENTS_SUBJECT_PREFIX),
        ack_policy: AckPolicy::Explicit,
        ack_wait: notifier.settings.ack_wait(),
        // Few messages in flight: each may wait through retries of its notices.
        max_ack_pending: 64,
        ..Default::default()
    };
    let consumer: jetstream::consumer::PullConsumer = match stream
        .create_consumer(config.clone())
        .await
    {
        Ok(consumer) => consumer,
        Err(error) => {
            tracing::warn!(%error, consumer = %name, "create or update consumer, using the existing one");
            stream
                .get_consumer(&name)
                .await
                .map_err(|error| format!("get consumer {name}: {error}"))?
        }
    };
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(16)
        .messages()
        .await
        .map_err(|error| format!("consume: {error}"))?;
    loop {
        let next = tokio::select! {
            next = messages.next() => next,
            _ = stop.wait() => return Ok(()),
        };
        let message = match next {
            None => return Err("consumer stream ended".into()),
            Some(Err(error)) => {
                tracing::debug!(%error, "ticket events consumer");
                continue;
            }
            Some(Ok(message)) => message,
        };
        let row = match v1::LogEvent::decode(message.payload.clone()) {
            Ok(row) => row,
            Err(error) => {
                tracing::warn!(%error, subject = %message.subject, "not a LogEvent, skipped");
                let _ = message.ack().await;
                continue;
            }
        };
        // Keep JetStream from redelivering while the notices of this event are retried.
        let keepalive = {
            let message_ack = message.clone();
            let every = notifier.settings.ack_wait() / 3;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if message_ack.ack_with(AckKind::Progress).await.is_err() {
                        return;
                    }
                }
            })
        };
        let handled = notifier.handle(&row).await;
        keepalive.abort();
        let _ = keepalive.await;
        let result = match handled {
            Handled::Done => message.double_ack().await,
            Handled::Later => {
                message
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                    .await
            }
        };
        if let Err(error) = result {
            tracing::debug!(%error, "ack; the event will be redelivered and skipped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(phone: &str, email: &str, wechat: &str) -> v1::Customer {
        v1::Customer {
            phone: phone.to_owned(),
            email: email.to_owned(),
            wechat_openid: wechat.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn routes_prefer_the_ticket_channel_then_phone_wechat_email() {
        let all = customer("+8613812345678", "z@example.com", "oWx");
        let route = route_for(&all, "web", true, true).expect("reachable");
        assert_eq!((route.channel, route.sender), ("sms", "webhook"));
        let route = route_for(&all, "email", true, true).expect("reachable");
        assert_eq!(
            (route.channel, route.to.as_str()),
            ("email", "z@example.com")
        );
        let route = route_for(&all, "wechat", true, true).expect("reachable");
        assert_eq!(route.channel, "wechat");
        let route = route_for(&all, "web", false, true).expect("reachable by e-mail");
        assert_eq!(route.sender, "smtp");
        assert_eq!(
            route_for(&customer("+8613812345678", "", ""), "web", false, true),
            None
        );
        assert_eq!(route_for(&v1::Customer::default(), "web", true, true), None);
    }
}
