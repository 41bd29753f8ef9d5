//! Sending one notice: never twice once sent (`notify.db` remembers), attempts with backoff up
//! to `max_attempts`, each result recorded on the ticket.

use super::record::RecordOf;
use super::{Handled, Notice, Notifier};
use crate::route::{route_for, Route, Senders};
use crate::sender::Outgoing;
use crate::store::{Delivery, DeliveryState};
use chrono::Utc;
use domain::event::Event;
use domain::notification::{mask_contact, NoticeKind};
use domain::rules::config::Language;
use proto::v1;

impl Notifier {
    /// Sends one notice (unless it was sent before) and records the result on the ticket.
    pub(super) async fn deliver(
        &self,
        row: &v1::LogEvent,
        event: &Event,
        ticket: &v1::Ticket,
        kind: NoticeKind,
    ) -> Handled {
        let notice = Notice {
            source: row.event_id.as_str(),
            ticket_id: ticket.ticket_id.as_str(),
            kind,
        };
        let previous = match self.store.get(notice.source, kind).await {
            Ok(previous) => previous,
            Err(error) => {
                tracing::error!(%error, "notify store");
                return Handled::Later;
            }
        };
        let senders = Senders {
            webhook: self.webhook.is_some(),
            smtp: self.smtp.is_some(),
            file: self.file.is_some(),
        };
        let route = route_for(
            ticket.customer.as_ref().unwrap_or(&v1::Customer::default()),
            &ticket.channel,
            senders,
        );
        let attempts = previous.as_ref().map_or(0, |previous| previous.attempts);
        if let Some(previous) = &previous {
            if let Some(handled) = self.settle_earlier(notice, previous, route.as_ref()).await {
                return handled;
            }
        }
        let Some(route) = route else {
            return self.unreachable(notice, ticket, attempts).await;
        };
        let outgoing = self.outgoing(notice, event, ticket, &route);
        self.attempt(notice, &route, &outgoing, attempts).await
    }

    /// What an earlier delivery of the notice settles: recorded, sent or given up already
    /// (`None`: pending, go on sending).
    async fn settle_earlier(
        &self,
        notice: Notice<'_>,
        previous: &Delivery,
        route: Option<&Route>,
    ) -> Option<Handled> {
        let attempts = previous.attempts;
        let skipped = || {
            self.metrics
                .skipped
                .with_label_values(&[notice.kind.as_str()])
                .inc()
        };
        if previous.recorded {
            skipped();
            let (ticket_id, kind) = (notice.ticket_id, notice.kind);
            tracing::info!(%ticket_id, notice = %kind, "already delivered, not sent again");
            return Some(Handled::Done);
        }
        let handled = match (previous.state, route) {
            (DeliveryState::Pending, _) => return None,
            (DeliveryState::Sent, None) => {
                skipped();
                let reason = "sent, but the customer's contact is gone since";
                self.record_final(notice, attempts.max(1), reason.to_owned())
                    .await
            }
            (DeliveryState::Sent, Some(route)) => {
                skipped();
                self.record_delivered(notice, attempts.max(1), route).await
            }
            (DeliveryState::GivenUp, _) => {
                let reason = format!("gave up after {attempts} attempts");
                self.record_final(notice, attempts.max(1), reason).await
            }
        };
        Some(handled)
    }

    /// No configured sender reaches the customer: given up at once.
    async fn unreachable(&self, notice: Notice<'_>, ticket: &v1::Ticket, attempts: u32) -> Handled {
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
        if let Err(later) = self.finish(notice, DeliveryState::GivenUp).await {
            return later;
        }
        self.record_final(notice, attempts + 1, reason.to_owned())
            .await
    }

    /// The notice rendered in the ticket's language for `route`.
    fn outgoing(
        &self,
        notice: Notice<'_>,
        event: &Event,
        ticket: &v1::Ticket,
        route: &Route,
    ) -> Outgoing {
        let language = match v1::Language::try_from(ticket.language) {
            Ok(v1::Language::En) => Language::En,
            Ok(v1::Language::Zh) => Language::Zh,
            _ => Language::from_tag(&self.settings.default_language).unwrap_or(Language::Zh),
        };
        let (subject, text) = self.render(notice.source, event, ticket, notice.kind, language);
        Outgoing {
            idempotency_key: format!("{}:{}", notice.source, notice.kind),
            ticket_id: notice.ticket_id.to_owned(),
            notice: notice.kind.as_str().to_owned(),
            channel: route.channel.to_owned(),
            to: route.to.clone(),
            language: if language == Language::En { "en" } else { "zh" }.to_owned(),
            subject,
            text,
            source_event_id: notice.source.to_owned(),
        }
    }

    /// Sends until the sender accepts, the attempts run out or the service stops.
    async fn attempt(
        &self,
        notice: Notice<'_>,
        route: &Route,
        outgoing: &Outgoing,
        attempts: u32,
    ) -> Handled {
        let mut attempt = attempts;
        loop {
            attempt += 1;
            if attempt > self.settings.max_attempts {
                if let Err(later) = self.finish(notice, DeliveryState::GivenUp).await {
                    return later;
                }
                let reason = format!("gave up after {} attempts", attempt - 1);
                return self.record_final(notice, attempt - 1, reason).await;
            }
            if let Err(error) = self
                .store
                .begin_attempt(notice.source, notice.kind, notice.ticket_id, attempt)
                .await
            {
                tracing::error!(%error, "notify store");
                return Handled::Later;
            }
            match self.send(route, outgoing).await {
                Ok(()) => return self.sent(notice, route, attempt).await,
                Err(reason) => {
                    if let Some(handled) = self.failed(notice, route, attempt, reason).await {
                        return handled;
                    }
                }
            }
        }
    }

    async fn send(&self, route: &Route, outgoing: &Outgoing) -> Result<(), String> {
        match route.sender {
            "smtp" => match &self.smtp {
                Some(smtp) => smtp.send(outgoing).await,
                None => Err("no smtp sender".to_owned()),
            },
            "file" => match &self.file {
                Some(file) => file.send(outgoing).await,
                None => Err("no file sender".to_owned()),
            },
            _ => match &self.webhook {
                Some(webhook) => webhook.send(outgoing, Utc::now().timestamp()).await,
                None => Err("no webhook sender".to_owned()),
            },
        }
    }

    /// The sender accepted the notice: remember it as sent, then record it on the ticket.
    async fn sent(&self, notice: Notice<'_>, route: &Route, attempt: u32) -> Handled {
        // The window for a duplicate: a crash right here sends this notice again with the
        // same Idempotency-Key / Message-ID.
        if let Err(later) = self.finish(notice, DeliveryState::Sent).await {
            return later;
        }
        self.metrics.sent.with_label_values(&[route.channel]).inc();
        let (ticket_id, kind, masked) = (notice.ticket_id, notice.kind, mask_contact(&route.to));
        tracing::info!(%ticket_id, notice = %kind, channel = route.channel, to = %masked, attempt, "notice sent");
        self.record_delivered(notice, attempt, route).await
    }

    /// A failed attempt: given up after the last one, else recorded and waited out with
    /// backoff (`None`: try again; `Some`: done with this notice for now).
    async fn failed(
        &self,
        notice: Notice<'_>,
        route: &Route,
        attempt: u32,
        reason: String,
    ) -> Option<Handled> {
        self.metrics
            .failed
            .with_label_values(&[route.channel])
            .inc();
        let final_attempt = attempt >= self.settings.max_attempts;
        let (ticket_id, kind, masked) = (notice.ticket_id, notice.kind, mask_contact(&route.to));
        tracing::warn!(%ticket_id, notice = %kind, channel = route.channel, to = %masked, attempt, final_attempt, %reason, "notice not delivered");
        if final_attempt {
            if let Err(later) = self.finish(notice, DeliveryState::GivenUp).await {
                return Some(later);
            }
            return Some(self.record_final(notice, attempt, reason).await);
        }
        // A failed attempt that cannot be recorded now is still retried: the history then
        // lacks that one attempt, never a delivery.
        let record = RecordOf::Failed {
            reason,
            final_attempt: false,
        };
        if let Err(error) = self.record(notice, attempt, record).await {
            tracing::warn!(%ticket_id, notice = %kind, %error, "record a failed attempt");
        }
        let pause = self.settings.backoff(attempt, rand::random::<f64>());
        tokio::select! {
            _ = tokio::time::sleep(pause) => None,
            _ = self.shutdown.wait() => Some(Handled::Later),
        }
    }

    /// Marks the notice `state` in `notify.db`; `Err(Later)` when the store fails.
    async fn finish(&self, notice: Notice<'_>, state: DeliveryState) -> Result<(), Handled> {
        self.store
            .finish(notice.source, notice.kind, notice.ticket_id, state)
            .await
            .map_err(|error| {
                tracing::error!(%error, "notify store");
                Handled::Later
            })
    }
}
