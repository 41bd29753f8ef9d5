//! End-to-end confirmation: durable JetStream consumers on TICKET_EVENTS, filtered to
//! `ticket.events.received` (a new ticket) and `ticket.events.customer_replied` (a reply on a
//! ticket, consumer `<name>-replies`), that mark outbox rows confirmed once workflow has
//! recorded them. Only then may a row be pruned.
//!
//! The feedback id is read from the `Cloop-Feedback-Id` header when the publisher sets it, and
//! otherwise from the `LogEvent` payload's JSON (`"feedback_id"`).

use crate::metrics::IntakeMetrics;
use crate::outbox::Outbox;
use crate::relay::{now_ms, FEEDBACK_ID_HEADER};
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, consumer::DeliverPolicy};
use prost::Message as _;
use proto::v1;
use service::config::NatsConfig;
use service::nats::ConnectionFlag;
use service::shutdown::Shutdown;
use std::time::Duration;

/// The subject of workflow's `received` events.
pub fn received_subject() -> String {
    format!("{}.received", proto::TICKET_EVENTS_SUBJECT_PREFIX)
}

/// The subject of workflow's `customer_replied` events.
pub fn replied_subject() -> String {
    format!("{}.customer_replied", proto::TICKET_EVENTS_SUBJECT_PREFIX)
}

/// The feedback id a `received` event confirms: from the header, else from the payload.
pub fn feedback_id_of(message: &async_nats::Message) -> Option<String> {
    if let Some(value) = message
        .headers
        .as_ref()
        .and_then(|headers| headers.get(FEEDBACK_ID_HEADER))
    {
        let text = value.as_str().trim();
        if !text.is_empty() {
            return Some(text.to_owned());
        }
    }
    let event = v1::LogEvent::decode(message.payload.as_ref()).ok()?;
    let payload: serde_json::Value = serde_json::from_str(&event.payload).ok()?;
    payload
        .get("feedback_id")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

/// The confirmation listener.
#[derive(Debug, Clone)]
pub struct Confirmer {
    pub outbox: Outbox,
    pub context: jetstream::Context,
    pub connected: ConnectionFlag,
    pub nats: NatsConfig,
    pub consumer_name: String,
    /// The events this consumer reads: [`received_subject`] or [`replied_subject`].
    pub subject: String,
    pub metrics: IntakeMetrics,
}

impl Confirmer {
    /// Runs until `shutdown`, re-creating the consumer whenever the connection or the stream
    /// goes away.
    pub async fn run(self, shutdown: Shutdown) {
        service::nats::keep_consuming("confirmation consumer", &self.connected, &shutdown, || {
            self.consume(&shutdown)
        })
        .await;
    }

    async fn consume(&self, shutdown: &Shutdown) -> Result<(), String> {
        let settings = &self.nats.ticket_events_stream;
        service::nats::create_stream_if_missing(&self.context, settings)
            .await
            .map_err(|error| error.to_string())?;
        let stream = self
            .context
            .get_stream(&settings.name)
            .await
            .map_err(|error| format!("get stream {}: {error}", settings.name))?;
        let consumer: jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(
                &self.consumer_name,
                pull::Config {
                    durable_name: Some(self.consumer_name.clone()),
                    description: Some("intake: confirms outbox rows".into()),
                    filter_subject: self.subject.clone(),
                    deliver_policy: DeliverPolicy::All,
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(30),
                    max_ack_pending: 20_000,
                    ..Default::default()
                },
            )
            .await
            .map_err(|error| format!("create consumer {}: {error}", self.consumer_name))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|error| format!("consume: {error}"))?;
        service::nats::consume_batches(messages, 512, "confirmation consumer", shutdown, |batch| {
            self.confirm(batch)
        })
        .await
    }

    /// Confirms the outbox rows of `received` (workflow's events name their feedback ids),
    /// then acks them.
    async fn confirm(&self, received: Vec<jetstream::Message>) -> Result<(), String> {
        let ids: Vec<String> = received
            .iter()
            .filter_map(|message| feedback_id_of(&message.message))
            .collect();
        // A reply from the status page has no feedback id: only intake's own need confirming.
        if ids.len() < received.len() && self.subject == received_subject() {
            tracing::warn!(
                without_id = received.len() - ids.len(),
                "received events without a feedback id"
            );
        }
        let confirmed = self
            .outbox
            .confirm(ids, now_ms())
            .await
            .map_err(|error| format!("confirm outbox rows: {error}"))?;
        self.metrics.confirmed.inc_by(confirmed as u64);
        for message in received {
            if let Err(error) = message.ack().await {
                tracing::debug!(%error, "ack confirmation");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(headers: Option<async_nats::HeaderMap>, payload: Vec<u8>) -> async_nats::Message {
        async_nats::Message {
            subject: "ticket.events.received".into(),
            reply: None,
            payload: payload.into(),
            headers,
            status: None,
            description: None,
            length: 0,
        }
    }

    #[test]
    fn the_feedback_id_comes_from_the_header_or_the_payload() {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(FEEDBACK_ID_HEADER, "from-header");
        assert_eq!(
            feedback_id_of(&message(Some(headers), Vec::new())).as_deref(),
            Some("from-header")
        );
        let event = v1::LogEvent {
            event_type: "received".into(),
            payload: r#"{"feedback_id":"from-payload","ticket_id":"x"}"#.into(),
            ..Default::default()
        };
        assert_eq!(
            feedback_id_of(&message(None, event.encode_to_vec())).as_deref(),
            Some("from-payload")
        );
        assert_eq!(feedback_id_of(&message(None, b"garbage".to_vec())), None);
    }
}
