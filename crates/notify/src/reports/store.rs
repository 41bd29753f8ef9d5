//! The `report_deliveries` table of `notify.db` (created with the others, `store`): one row per (scheduled report event,
//! recipient), marked sent before the event is acknowledged and recorded after, so that a
//! restarted notifier never sends a scheduled report to the same person twice.

use crate::error::NotifyError;
use crate::store::{DeliveryState, Store};
use rusqlite::{params, OptionalExtension};

/// What `notify.db` knows of one report to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReportDelivery {
    pub attempts: u32,
    pub state: DeliveryState,
    pub recorded: bool,
}

impl Store {
    /// The row of (scheduled event, recipient), if any.
    pub(crate) async fn report_delivery(
        &self,
        source_event_id: &str,
        recipient: &str,
    ) -> Result<Option<ReportDelivery>, NotifyError> {
        let key = (source_event_id.to_owned(), recipient.to_owned());
        self.with("read a report delivery", move |connection| {
            connection
                .query_row(
                    "SELECT attempts, state, recorded FROM report_deliveries
                     WHERE source_event_id = ?1 AND recipient = ?2",
                    params![key.0, key.1],
                    |row| {
                        let attempts: i64 = row.get(0)?;
                        let state: String = row.get(1)?;
                        let recorded: i64 = row.get(2)?;
                        Ok(ReportDelivery {
                            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                            state: DeliveryState::parse(&state),
                            recorded: recorded != 0,
                        })
                    },
                )
                .optional()
        })
        .await
    }

    /// Sets the attempts made and the state of (scheduled event, recipient).
    pub(crate) async fn set_report_delivery(
        &self,
        (source_event_id, recipient, period): (&str, &str, &str),
        attempts: u32,
        state: DeliveryState,
    ) -> Result<(), NotifyError> {
        let key = (
            source_event_id.to_owned(),
            recipient.to_owned(),
            period.to_owned(),
        );
        self.with("write a report delivery", move |connection| {
            connection
                .execute(
                    "INSERT INTO report_deliveries (source_event_id, recipient, period, attempts, state)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (source_event_id, recipient) DO UPDATE SET
                         attempts = excluded.attempts, state = excluded.state,
                         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                    params![key.0, key.1, key.2, i64::from(attempts), state.as_str()],
                )
                .map(drop)
        })
        .await
    }

    /// The delivery is recorded in the log: nothing is left to do for it.
    pub(crate) async fn mark_report_recorded(
        &self,
        source_event_id: &str,
        recipient: &str,
    ) -> Result<(), NotifyError> {
        let key = (source_event_id.to_owned(), recipient.to_owned());
        self.with("mark a report delivery recorded", move |connection| {
            connection
                .execute(
                    "UPDATE report_deliveries SET recorded = 1,
                         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                     WHERE source_event_id = ?1 AND recipient = ?2",
                    params![key.0, key.1],
                )
                .map(drop)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::STORE_FILE;

    #[tokio::test]
    async fn a_report_delivery_is_remembered_per_recipient_across_a_reopen() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join(STORE_FILE);
        let store = Store::open(&path).expect("open");
        let source = "0195f3a0-0000-7000-8000-000000000009";
        assert_eq!(
            store.report_delivery(source, "qian").await.expect("read"),
            None
        );
        store
            .set_report_delivery((source, "qian", "2026-02"), 1, DeliveryState::Sent)
            .await
            .expect("write");
        drop(store);
        let store = Store::open(&path).expect("reopen");
        assert_eq!(
            store.report_delivery(source, "qian").await.expect("read"),
            Some(ReportDelivery {
                attempts: 1,
                state: DeliveryState::Sent,
                recorded: false,
            })
        );
        store
            .mark_report_recorded(source, "qian")
            .await
            .expect("mark");
        let row = store.report_delivery(source, "qian").await.expect("read");
        assert!(row.is_some_and(|row| row.recorded));
        assert_eq!(
            store.report_delivery(source, "sun").await.expect("read"),
            None,
            "rows are per recipient"
        );
    }
}
