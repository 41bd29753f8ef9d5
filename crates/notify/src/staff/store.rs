//! The staff alerts in `notify.db` (table `staff_alerts`, created with the store): one row per
//! (source event, recipient), inserted once (a redelivered event inserts nothing), with the
//! rendered text, when it may go out, the attempts made, `sent` or `given_up`, and whether
//! the result is recorded on the ticket. `sent` is committed right after the receiver's answer.

use crate::error::NotifyError;
use crate::store::{DeliveryState, Store};
use rusqlite::params;
use rusqlite::types::Value;

/// An alert to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub source_event_id: String,
    /// [`super::routing::Recipient::key`].
    pub recipient: String,
    pub ticket_id: String,
    /// [`super::routing::Trigger::kind`].
    pub alert: String,
    pub language: String,
    pub subject: String,
    pub text: String,
    /// Not before this instant (Unix milliseconds): quiet hours.
    pub due_at_ms: i64,
}

/// A queued alert and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub alert: NewAlert,
    pub attempts: u32,
    pub state: DeliveryState,
}

impl Store {
    /// Queues `alerts`, in one transaction; rows already there (same event and recipient)
    /// are kept as they are. Returns how many were new.
    pub async fn enqueue_alerts(&self, alerts: Vec<NewAlert>) -> Result<usize, NotifyError> {
        self.with("queue staff alerts", move |connection| {
            let transaction = connection.unchecked_transaction()?;
            let mut added = 0;
            for alert in &alerts {
                added += transaction.execute(
                    "INSERT OR IGNORE INTO staff_alerts (source_event_id, recipient, ticket_id,
                         alert, language, subject, text, due_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    params![
                        alert.source_event_id,
                        alert.recipient,
                        alert.ticket_id,
                        alert.alert,
                        alert.language,
                        alert.subject,
                        alert.text,
                        alert.due_at_ms
                    ],
                )?;
            }
            transaction.commit()?;
            Ok(added)
        })
        .await
    }

    /// The alerts with something left to do at `now_ms`: pending ones that are due, and sent
    /// or given-up ones whose result is not recorded yet; earliest first.
    pub async fn due_alerts(&self, now_ms: i64, limit: u32) -> Result<Vec<AlertRow>, NotifyError> {
        self.with("read due staff alerts", move |connection| {
            let mut statement = connection.prepare(
                "SELECT source_event_id, recipient, ticket_id, alert, language, subject, text,
                        due_at_ms, attempts, state
                 FROM staff_alerts
                 WHERE recorded = 0 AND (state <> 'pending' OR due_at_ms <= ?1)
                 ORDER BY due_at_ms, source_event_id, recipient
                 LIMIT ?2",
            )?;
            let rows = statement.query_map(params![now_ms, limit], |row| {
                let attempts: i64 = row.get(8)?;
                let state: String = row.get(9)?;
                Ok(AlertRow {
                    alert: NewAlert {
                        source_event_id: row.get(0)?,
                        recipient: row.get(1)?,
                        ticket_id: row.get(2)?,
                        alert: row.get(3)?,
                        language: row.get(4)?,
                        subject: row.get(5)?,
                        text: row.get(6)?,
                        due_at_ms: row.get(7)?,
                    },
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    state: DeliveryState::parse(&state),
                })
            })?;
            let collected: rusqlite::Result<Vec<AlertRow>> = rows.collect();
            collected
        })
        .await
    }

    /// Notes that attempt `attempt` starts, before anything is sent.
    pub async fn begin_alert_attempt(
        &self,
        alert: &NewAlert,
        attempt: u32,
    ) -> Result<(), NotifyError> {
        let sql = "UPDATE staff_alerts SET attempts = max(attempts, ?3)";
        let value = Value::Integer(i64::from(attempt));
        self.update_alert("begin a staff alert attempt", sql, alert, value)
            .await
    }

    /// Sets the state: sent or given up.
    pub async fn finish_alert(
        &self,
        alert: &NewAlert,
        state: DeliveryState,
    ) -> Result<(), NotifyError> {
        let sql = "UPDATE staff_alerts SET state = ?3";
        let value = Value::Text(state.as_str().to_owned());
        self.update_alert("finish a staff alert", sql, alert, value)
            .await
    }

    /// Puts the next attempt off until `due_at_ms` (backoff).
    pub async fn retry_alert_at(
        &self,
        alert: &NewAlert,
        due_at_ms: i64,
    ) -> Result<(), NotifyError> {
        let sql = "UPDATE staff_alerts SET due_at_ms = ?3";
        self.update_alert(
            "put a staff alert off",
            sql,
            alert,
            Value::Integer(due_at_ms),
        )
        .await
    }

    /// The result is on the ticket: nothing is left to do for this alert.
    pub async fn alert_recorded(&self, alert: &NewAlert) -> Result<(), NotifyError> {
        let sql = "UPDATE staff_alerts SET recorded = ?3";
        self.update_alert("mark a staff alert recorded", sql, alert, Value::Integer(1))
            .await
    }

    /// Runs `set` (`UPDATE staff_alerts SET ...` with `?3` the value) on the row of `alert`.
    async fn update_alert(
        &self,
        action: &'static str,
        set: &'static str,
        alert: &NewAlert,
        value: Value,
    ) -> Result<(), NotifyError> {
        let (source, recipient) = (alert.source_event_id.clone(), alert.recipient.clone());
        self.with(action, move |connection| {
            let sql = format!(
                "{set}, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
                 WHERE source_event_id = ?1 AND recipient = ?2"
            );
            connection
                .execute(&sql, params![source, recipient, value])
                .map(|_| ())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::STORE_FILE;

    fn alert(recipient: &str, due_at_ms: i64) -> NewAlert {
        NewAlert {
            source_event_id: "0195f3a0-0000-7000-8000-000000000001".to_owned(),
            recipient: recipient.to_owned(),
            ticket_id: "T1".to_owned(),
            alert: "sla_breached".to_owned(),
            language: "zh".to_owned(),
            subject: "s".to_owned(),
            text: "t".to_owned(),
            due_at_ms,
        }
    }

    #[tokio::test]
    async fn an_alert_is_queued_once_waits_until_due_and_survives_a_reopen() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join(STORE_FILE);
        let store = Store::open(&path).expect("open");
        let head = alert("zhao.liu", 1_000);
        let robot = alert("department:technical", 5_000);
        let added = store
            .enqueue_alerts(vec![head.clone(), robot.clone()])
            .await;
        assert_eq!(added.expect("queued"), 2);
        // The same event delivered again queues nothing, even with other words or times.
        let again = NewAlert {
            text: "other".to_owned(),
            due_at_ms: 0,
            ..head.clone()
        };
        assert_eq!(store.enqueue_alerts(vec![again]).await.expect("queued"), 0);
        let due = store.due_alerts(1_000, 10).await.expect("due");
        assert_eq!(due.len(), 1, "the robot's alert waits until 5 000");
        assert_eq!(due[0].alert, head);
        assert_eq!((due[0].attempts, due[0].state), (0, DeliveryState::Pending));
        store.begin_alert_attempt(&head, 1).await.expect("attempt");
        store.retry_alert_at(&head, 9_000).await.expect("put off");
        assert!(store
            .due_alerts(8_999, 10)
            .await
            .expect("due")
            .iter()
            .all(|row| row.alert.recipient != "zhao.liu"));
        store.begin_alert_attempt(&head, 2).await.expect("attempt");
        store
            .finish_alert(&head, DeliveryState::Sent)
            .await
            .expect("sent");
        drop(store);
        let store = Store::open(&path).expect("reopen");
        // Sent but not recorded: still there to record, whatever its due time.
        let due = store.due_alerts(0, 10).await.expect("due");
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].attempts, due[0].state), (2, DeliveryState::Sent));
        store.alert_recorded(&head).await.expect("recorded");
        let due = store.due_alerts(10_000, 10).await.expect("due");
        assert_eq!(names(&due), ["department:technical"]);
    }

    fn names(rows: &[AlertRow]) -> Vec<&str> {
        rows.iter()
            .map(|row| row.alert.recipient.as_str())
            .collect()
    }
}
