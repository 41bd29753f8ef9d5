//! Sending the staff alerts that are due: each attempt numbered in `notify.db` before it is
//! made, `sent` committed right after the receiver's answer, failures retried with the
//! notifier's backoff up to `max_attempts`, and every attempt recorded on the ticket
//! (`RecordNotification`, notice `staff_alert`, with the recipient).

use super::store::{AlertRow, NewAlert};
use super::text::{self, Rendered};
use super::{Alerts, Destination, Via};
use crate::sender::Mail;
use crate::store::DeliveryState;
use chrono::{DateTime, TimeDelta, Utc};
use domain::notification::{mask_contact, NoticeKind};
use proto::v1;
use service::shutdown::Shutdown;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Alerts read per round.
const ROUND: u32 = 100;

/// What one `RecordNotification` of an alert says.
enum Outcome<'a> {
    Delivered(Option<&'a Destination>),
    Failed { reason: String, final_attempt: bool },
}

impl Alerts {
    /// Sends what is due every `poll_ms` until `stop`.
    pub async fn run(self: Arc<Self>, stop: Shutdown) {
        let pause = Duration::from_millis(self.settings.alerts.poll_ms.max(1));
        while !stop.is_triggered() {
            if let Err(error) = self.deliver_due(Utc::now(), &stop).await {
                tracing::error!(%error, "staff alerts");
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.wait() => {}
            }
        }
    }

    /// One round: every alert with something left to do at `now`; returns how many were
    /// looked at.
    pub async fn deliver_due(
        &self,
        now: DateTime<Utc>,
        stop: &Shutdown,
    ) -> Result<usize, crate::error::NotifyError> {
        let rows = self.store.due_alerts(now.timestamp_millis(), ROUND).await?;
        let count = rows.len();
        for row in rows {
            if stop.is_triggered() {
                break;
            }
            self.deliver_one(row).await;
        }
        Ok(count)
    }

    async fn deliver_one(&self, row: AlertRow) {
        let alert = &row.alert;
        let destination = self
            .destinations
            .get(&super::routing::Recipient::from_key(&alert.recipient));
        let earlier = row.attempts.max(1);
        match (row.state, destination) {
            (DeliveryState::Sent, found) => {
                return self
                    .record_final(alert, earlier, Outcome::Delivered(found))
                    .await;
            }
            (DeliveryState::GivenUp, _) => {
                let reason = format!("gave up after {} attempts", row.attempts);
                let outcome = Outcome::Failed {
                    reason,
                    final_attempt: true,
                };
                return self.record_final(alert, earlier, outcome).await;
            }
            (DeliveryState::Pending, None) => {
                if self.finish(alert, DeliveryState::GivenUp).await {
                    let outcome = Outcome::Failed {
                        reason: "the recipient has no route configured any more".to_owned(),
                        final_attempt: true,
                    };
                    self.record_final(alert, row.attempts + 1, outcome).await;
                }
                return;
            }
            (DeliveryState::Pending, Some(_)) => {}
        }
        let Some(destination) = destination else {
            return;
        };
        let attempt = row.attempts + 1;
        if let Err(error) = self.store.begin_alert_attempt(alert, attempt).await {
            tracing::error!(%error, "notify store");
            return;
        }
        let channel = channel_of(destination);
        let (ticket_id, recipient, kind) = (&alert.ticket_id, &alert.recipient, &alert.alert);
        match self.send(alert, destination).await {
            Ok(()) => {
                // The window for a duplicate: a crash right here sends this alert again with
                // the same Idempotency-Key / Message-ID.
                if !self.finish(alert, DeliveryState::Sent).await {
                    return;
                }
                self.metrics
                    .alerts
                    .with_label_values(&[channel, "sent"])
                    .inc();
                tracing::info!(%ticket_id, %recipient, alert = %kind, channel, attempt, "staff alert sent");
                self.record_final(alert, attempt, Outcome::Delivered(Some(destination)))
                    .await;
            }
            Err(reason) => {
                self.metrics
                    .alerts
                    .with_label_values(&[channel, "failed"])
                    .inc();
                let final_attempt = attempt >= self.settings.max_attempts;
                tracing::warn!(%ticket_id, %recipient, alert = %kind, channel, attempt, final_attempt, %reason, "staff alert not delivered");
                if final_attempt {
                    if self.finish(alert, DeliveryState::GivenUp).await {
                        let outcome = Outcome::Failed {
                            reason,
                            final_attempt,
                        };
                        self.record_final(alert, attempt, outcome).await;
                    }
                    return;
                }
                let outcome = Outcome::Failed {
                    reason,
                    final_attempt,
                };
                if let Err(error) = self.record(alert, attempt, outcome).await {
                    tracing::warn!(%ticket_id, %recipient, %error, "record a failed alert attempt");
                }
                let pause = self.settings.backoff(attempt, rand::random::<f64>());
                let pause = TimeDelta::from_std(pause).unwrap_or(TimeDelta::seconds(1));
                let next = (Utc::now() + pause).timestamp_millis();
                if let Err(error) = self.store.retry_alert_at(alert, next).await {
                    tracing::error!(%error, "notify store");
                }
            }
        }
    }

    /// Marks the alert `state`; `false` when the store fails (the next round tries again).
    async fn finish(&self, alert: &NewAlert, state: DeliveryState) -> bool {
        match self.store.finish_alert(alert, state).await {
            Ok(()) => true,
            Err(error) => {
                tracing::error!(%error, "notify store");
                false
            }
        }
    }

    /// Records the final result and marks it recorded; on failure the next round repeats it
    /// (the command id makes the repeat a no-op), never the sending.
    async fn record_final(&self, alert: &NewAlert, attempt: u32, outcome: Outcome<'_>) {
        if let Err(error) = self.record(alert, attempt, outcome).await {
            let (ticket_id, recipient) = (&alert.ticket_id, &alert.recipient);
            tracing::warn!(%ticket_id, %recipient, %error, "record the alert result, will retry");
            return;
        }
        if let Err(error) = self.store.alert_recorded(alert).await {
            tracing::error!(%error, "notify store");
        }
    }

    /// Posts or mails the alert.
    async fn send(&self, alert: &NewAlert, destination: &Destination) -> Result<(), String> {
        let key = format!("{}:{}", alert.source_event_id, alert.recipient);
        match &destination.via {
            Via::Webhook(webhook, format) => {
                let rendered = Rendered {
                    idempotency_key: &key,
                    ticket_id: &alert.ticket_id,
                    alert: &alert.alert,
                    recipient: &alert.recipient,
                    language: &alert.language,
                    subject: &alert.subject,
                    text: &alert.text,
                    source_event_id: &alert.source_event_id,
                };
                let body = serde_json::to_vec(&text::body(*format, &rendered))
                    .map_err(|error| format!("encode the body: {error}"))?;
                webhook.post_body(body, &key, Utc::now().timestamp()).await
            }
            Via::Email(address) => {
                let Some(smtp) = &self.smtp else {
                    return Err("no smtp sender".to_owned());
                };
                let mail = Mail {
                    to: address,
                    subject: &alert.subject,
                    text: &alert.text,
                    message_id: message_id(&alert.source_event_id, &alert.recipient),
                };
                smtp.send_mail(mail).await
            }
        }
    }

    /// `Tickets.RecordNotification` of one attempt; a missing ticket records nothing.
    async fn record(
        &self,
        alert: &NewAlert,
        attempt: u32,
        outcome: Outcome<'_>,
    ) -> Result<(), String> {
        let mut request = v1::RecordNotificationRequest {
            ticket_id: alert.ticket_id.clone(),
            command_id: command_id(&alert.source_event_id, &alert.recipient, attempt),
            notice: NoticeKind::StaffAlert.as_str().to_owned(),
            source_event_id: alert.source_event_id.clone(),
            attempt,
            recipient: alert.recipient.clone(),
            ..Default::default()
        };
        match outcome {
            Outcome::Delivered(destination) => {
                request.delivered = true;
                let (channel, sender, to_masked) = match destination.map(|found| &found.via) {
                    Some(Via::Webhook(webhook, format)) => {
                        (format.channel(), "webhook", webhook.authority())
                    }
                    Some(Via::Email(address)) => ("email", "smtp", mask_contact(address)),
                    None => ("unknown", "unknown", "-".to_owned()),
                };
                request.channel = channel.to_owned();
                request.sender = sender.to_owned();
                request.to_masked = to_masked;
            }
            Outcome::Failed {
                reason,
                final_attempt,
            } => {
                request.reason = reason;
                request.final_attempt = final_attempt;
            }
        }
        crate::calls::record_notification(&self.tickets, &self.token, request).await
    }
}

fn channel_of(destination: &Destination) -> &'static str {
    match &destination.via {
        Via::Webhook(_, format) => format.channel(),
        Via::Email(_) => "email",
    }
}

/// A short, stable stand-in for a recipient in ids: 16 hex digits of its SHA-256.
fn recipient_digest(recipient: &str) -> String {
    hex::encode(&Sha256::digest(recipient.as_bytes())[..8])
}

/// The command id of one recorded alert attempt: a repeat records nothing new.
pub fn command_id(source_event_id: &str, recipient: &str, attempt: u32) -> String {
    format!(
        "alert:{source_event_id}:{}:{attempt}",
        recipient_digest(recipient)
    )
}

/// The `Message-ID` of an alert e-mail: the same for every attempt.
pub fn message_id(source_event_id: &str, recipient: &str) -> String {
    format!(
        "<{source_event_id}.alert.{}@cloop-notify>",
        recipient_digest(recipient)
    )
}
