//! The report schedule (`[report_delivery]`): on the leading replica, at every tick, the
//! reports the domain says are due now (`domain::rules::report_schedule`) are claimed by
//! appending a `report_scheduled` event as the first event of the period's own stream,
//! `report-delivery-<period>` (`report-delivery-2026-02`, `report-delivery-2026-Q1`).
//!
//! The claim is exactly once across restarts and replicas: the append expects no stream, so a
//! second leader, or this one after a restart, is refused (or finds its own event, whose id is
//! derived from the period) and claims nothing. The report is computed at the log position of
//! that event, and cloop-notify, reading it from TICKET_EVENTS, sends it to the recipients.

use crate::clock::Clock;
use crate::error::WorkflowError;
use chrono::{DateTime, Utc};
use domain::ids::EventId;
use domain::rules::report_schedule::{due_reports, DueReport};
use domain::Rules;
use eventlog::{EventLog, ExpectedVersion, LogError};
use service::duty::Duty;
use service::shutdown::Shutdown;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The prefix of a scheduled report's stream; the period follows.
pub const REPORT_STREAM_PREFIX: &str = "report-delivery-";

/// The event type of a claimed delivery.
pub const REPORT_SCHEDULED: &str = "report_scheduled";

/// The stream of `period`'s delivery.
pub fn report_stream(period: &str) -> String {
    format!("{REPORT_STREAM_PREFIX}{period}")
}

/// What a `report_scheduled` event records: the period, when it was due, and to whom and
/// how it goes (the configuration as it was when the claim was made).
pub fn scheduled_payload(rules: &Rules, due: &DueReport, now: DateTime<Utc>) -> serde_json::Value {
    let delivery = &rules.config().report_delivery;
    serde_json::json!({
        "period": due.period.to_string(),
        "kind": due.period.kind(),
        "due_at": due.due_at,
        "scheduled_at": now,
        "recipients": delivery.recipients,
        "attach": delivery.attach,
        "console_url": delivery.console_url,
        "config_version": domain::types::Policy::version(rules),
        "calendar_version": rules.calendar().version(),
    })
}

/// The report schedule's duty.
#[derive(Debug, Clone)]
pub struct ReportSchedule {
    pub log: EventLog,
    pub rules: Arc<Rules>,
    pub clock: Arc<dyn Clock>,
    pub tick: Duration,
    /// The streams known to be claimed already, so a claimed period is read once.
    pub claimed: Arc<Mutex<BTreeSet<String>>>,
}

impl ReportSchedule {
    /// Claims every report due now that nobody has claimed; returns how many it claimed.
    pub async fn run_once(&self) -> Result<usize, WorkflowError> {
        let now = self.clock.now();
        let due = due_reports(
            self.rules.calendar(),
            &self.rules.config().report_delivery,
            now,
        );
        let mut claimed = 0;
        for report in due {
            if self.claim(&report, now).await? {
                claimed += 1;
            }
        }
        Ok(claimed)
    }

    fn known(&self, stream: &str) -> bool {
        self.claimed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(stream)
    }

    fn remember(&self, stream: String) {
        self.claimed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(stream);
    }

    /// Appends `report_scheduled` for `due` unless its stream exists; true when this call
    /// recorded it.
    async fn claim(&self, due: &DueReport, now: DateTime<Utc>) -> Result<bool, WorkflowError> {
        let period = due.period.to_string();
        let stream = report_stream(&period);
        if self.known(&stream) {
            return Ok(false);
        }
        if !self.log.read_stream(&stream, 0).await?.is_empty() {
            self.remember(stream);
            return Ok(false);
        }
        let event = crate::record::service_event(
            EventId::derived(&format!("report-delivery/{period}")),
            REPORT_SCHEDULED,
            scheduled_payload(&self.rules, due, now),
            now,
        );
        match self
            .log
            .append(&stream, ExpectedVersion::NoStream, vec![event])
            .await
        {
            Ok(outcome) => {
                self.remember(stream);
                if outcome.duplicate {
                    return Ok(false);
                }
                tracing::info!(%period, position = outcome.last_position, "report delivery scheduled");
                Ok(true)
            }
            Err(LogError::Conflict { .. }) | Err(LogError::DuplicateEventId { .. }) => {
                // Another leader (or this one before a restart) claimed it first.
                self.remember(stream);
                Ok(false)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Runs at once, then at every tick, until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        Duty::every("report schedule", self.tick)
            .run(shutdown, || self.run_once())
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;
    use eventlog::LogOptions;

    fn rules() -> Arc<Rules> {
        let text = "[report_delivery]\nmonthly = true\nquarterly = true\n\
                    recipients = [\"qian.manager\"]\n";
        Arc::new(Rules::from_toml_str(text).expect("valid configuration"))
    }

    fn schedule(log: &EventLog, clock: &TestClock) -> ReportSchedule {
        ReportSchedule {
            log: log.clone(),
            rules: rules(),
            clock: Arc::new(clock.clone()),
            tick: Duration::from_millis(10),
            claimed: Arc::default(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid instant")
            .to_utc()
    }

    #[tokio::test]
    async fn each_due_report_is_claimed_once_by_two_leaders_and_after_a_restart() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let log = EventLog::open(folder.path().join("log.db"), LogOptions::default())
            .expect("open the log");
        // Sunday 1 March 2026: nothing due before Monday 2 March 09:00 (+08:00).
        let clock = TestClock::new(at("2026-03-01T10:00:00+08:00"));
        let (first, second) = (schedule(&log, &clock), schedule(&log, &clock));
        assert_eq!(first.run_once().await.expect("run"), 0);
        clock.set(at("2026-03-02T09:00:00+08:00"));
        assert_eq!(first.run_once().await.expect("run"), 1, "February's report");
        assert_eq!(second.run_once().await.expect("run"), 0, "already claimed");
        assert_eq!(first.run_once().await.expect("run"), 0);
        // A restarted leader (nothing in memory) claims nothing either.
        assert_eq!(schedule(&log, &clock).run_once().await.expect("run"), 0);
        let rows = log
            .read_stream("report-delivery-2026-02", 0)
            .await
            .expect("read");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].event_type, REPORT_SCHEDULED);
        let payload: serde_json::Value = serde_json::from_str(&rows[0].payload_json).expect("JSON");
        assert_eq!(payload["period"], "2026-02");
        assert_eq!(payload["kind"], "month");
        assert_eq!(payload["recipients"], serde_json::json!(["qian.manager"]));
        assert_eq!(payload["attach"], "html");
        // The first working day of April: March's and the first quarter's reports.
        clock.set(at("2026-04-01T09:30:00+08:00"));
        assert_eq!(second.run_once().await.expect("run"), 2);
        assert_eq!(first.run_once().await.expect("run"), 0);
        for stream in ["report-delivery-2026-03", "report-delivery-2026-Q1"] {
            assert_eq!(log.read_stream(stream, 0).await.expect("read").len(), 1);
        }
    }
}
