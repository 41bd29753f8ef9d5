//! Recording a notice's result on the ticket (`Tickets.RecordNotification`) and marking it
//! recorded in `notify.db`.

use super::{Handled, Notice, Notifier};
use crate::config::command_id;
use crate::route::Route;
use domain::notification::mask_contact;
use proto::v1;

impl Notifier {
    /// Records the notice delivered by `route` and marks it recorded.
    pub(super) async fn record_delivered(
        &self,
        notice: Notice<'_>,
        attempt: u32,
        route: &Route,
    ) -> Handled {
        let record = RecordOf::Delivered {
            channel: route.channel,
            sender: route.sender,
            to_masked: mask_contact(&route.to),
        };
        self.record_and_mark(notice, attempt, record).await
    }

    /// Records the notice given up for `reason` and marks it recorded.
    pub(super) async fn record_final(
        &self,
        notice: Notice<'_>,
        attempt: u32,
        reason: String,
    ) -> Handled {
        let record = RecordOf::Failed {
            reason,
            final_attempt: true,
        };
        self.record_and_mark(notice, attempt.max(1), record).await
    }

    async fn record_and_mark(&self, notice: Notice<'_>, attempt: u32, record: RecordOf) -> Handled {
        let (ticket_id, kind) = (notice.ticket_id, notice.kind);
        if let Err(error) = self.record(notice, attempt, record).await {
            tracing::warn!(%ticket_id, notice = %kind, %error, "record the notice result, will retry");
            return Handled::Later;
        }
        match self.store.mark_recorded(notice.source, kind).await {
            Ok(()) => Handled::Done,
            Err(error) => {
                tracing::error!(%error, "notify store");
                Handled::Later
            }
        }
    }

    /// `Tickets.RecordNotification`; the command id makes a repeat a no-op.
    pub(super) async fn record(
        &self,
        notice: Notice<'_>,
        attempt: u32,
        record: RecordOf,
    ) -> Result<(), String> {
        let Notice {
            source,
            ticket_id,
            kind: notice,
        } = notice;
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
        crate::calls::record_notification(&self.tickets, &self.token, request).await
    }
}

/// What one `RecordNotification` says.
#[derive(Debug, Clone)]
pub(super) enum RecordOf {
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
