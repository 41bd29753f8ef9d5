//! Scheduled reports (`docs/reports.md`, "Delivery to managers on a schedule"): a
//! `report_scheduled` row of TICKET_EVENTS, recorded by the workflow's report schedule on the
//! first working day, is sent to each recipient it names. The period's report is computed at
//! the event's own log position (`Reports.Report` with `at_position`, so the e-mail holds
//! exactly what `cloop report period ... --at-position` gives later), e-mailed with its HTML
//! page attached (or a link to the console) to the recipient's `[[notify.staff]]` e-mail,
//! at most once per recipient (`store`: marked sent before the event is acknowledged), and
//! the outcome recorded in the log with `Reports.RecordReportDelivery`.

mod mail;
mod store;

use crate::notifier::{Handled, Notifier};
use crate::sender::{message_id, Mail};
use crate::store::DeliveryState;
use domain::notification::mask_contact;
use proto::v1;
use reports::{Lang, PeriodReport};
use serde::Deserialize;
use tonic::Code;

/// The event type the workflow records when a report is due.
pub(crate) const REPORT_SCHEDULED: &str = "report_scheduled";

/// What the notifier reads of a `report_scheduled` event.
#[derive(Debug, Clone, Deserialize)]
struct Scheduled {
    period: String,
    #[serde(default)]
    recipients: Vec<String>,
    #[serde(default)]
    attach: String,
    #[serde(default)]
    console_url: String,
}

/// How one recipient's delivery ended.
#[derive(Debug, Clone)]
struct Outcome {
    delivered: bool,
    attempts: u32,
    error: String,
}

/// Why the report could not be had.
enum Unavailable {
    /// Try the event again later (the workflow unreachable, shutting down).
    Later,
    /// The workflow refused: nothing will change by asking again.
    Refused(String),
}

/// The request of `period`'s report at `position`.
fn report_request(period: &str, position: u64) -> v1::ReportRequest {
    let period = if period.contains('Q') {
        v1::ReportPeriod {
            quarter: period.to_owned(),
            ..v1::ReportPeriod::default()
        }
    } else {
        v1::ReportPeriod {
            month: period.to_owned(),
            ..v1::ReportPeriod::default()
        }
    };
    v1::ReportRequest {
        period: Some(period),
        department: None,
        at_position: Some(position),
    }
}

/// The `Message-ID` notice part of `recipient`'s report: letters and digits kept, others `-`.
fn notice_of(recipient: &str) -> String {
    let name: String = recipient
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("report-{name}")
}

impl Notifier {
    /// Handles one `report_scheduled` row: every recipient sent to (or given up) and recorded.
    pub(crate) async fn handle_report(&self, row: &v1::LogEvent) -> Handled {
        let scheduled: Scheduled = match serde_json::from_str(&row.payload) {
            Ok(scheduled) => scheduled,
            Err(error) => {
                tracing::warn!(event_id = %row.event_id, %error, "unreadable report_scheduled event");
                return Handled::Done;
            }
        };
        let mut report: Option<Result<PeriodReport, String>> = None;
        for name in &scheduled.recipients {
            let previous = match self.store.report_delivery(&row.event_id, name).await {
                Ok(previous) => previous,
                Err(error) => {
                    tracing::error!(%error, "notify store");
                    return Handled::Later;
                }
            };
            let attempts = previous.map_or(0, |previous| previous.attempts);
            let outcome = match previous.map(|previous| (previous.state, previous.recorded)) {
                Some((_, true)) => {
                    tracing::info!(period = %scheduled.period, recipient = %name, "report already delivered, not sent again");
                    continue;
                }
                Some((DeliveryState::Sent, false)) => Outcome {
                    delivered: true,
                    attempts,
                    error: String::new(),
                },
                Some((DeliveryState::GivenUp, false)) => Outcome {
                    delivered: false,
                    attempts,
                    error: format!("gave up after {attempts} attempts"),
                },
                _ => {
                    if report.is_none() {
                        report = match self.fetch_report(row, &scheduled.period).await {
                            Ok(fetched) => Some(Ok(fetched)),
                            Err(Unavailable::Later) => return Handled::Later,
                            Err(Unavailable::Refused(reason)) => Some(Err(reason)),
                        };
                    }
                    let fetched = report.as_ref().map(Result::as_ref);
                    match self
                        .send_report(row, &scheduled, name, fetched, attempts)
                        .await
                    {
                        Ok(outcome) => outcome,
                        Err(later) => return later,
                    }
                }
            };
            if let Err(later) = self.record_report(row, &scheduled, name, outcome).await {
                return later;
            }
        }
        Handled::Done
    }

    /// The period's report at the event's position, read back from the answer.
    async fn fetch_report(
        &self,
        row: &v1::LogEvent,
        period: &str,
    ) -> Result<PeriodReport, Unavailable> {
        let request = crate::calls::authorized(&self.token, report_request(period, row.position));
        match self.reports.clone().report(request).await {
            Ok(response) => {
                reports::proto_period::report_from_proto(&response.into_inner(), self.offset)
                    .map_err(|error| {
                        Unavailable::Refused(format!("the report cannot be read: {error}"))
                    })
            }
            Err(status)
                if matches!(
                    status.code(),
                    Code::InvalidArgument | Code::PermissionDenied | Code::Unauthenticated
                ) =>
            {
                tracing::warn!(%period, code = ?status.code(), message = status.message(), "the workflow refused the scheduled report");
                Err(Unavailable::Refused(format!(
                    "{:?}: {}",
                    status.code(),
                    status.message()
                )))
            }
            Err(status) => {
                tracing::warn!(%period, code = ?status.code(), message = status.message(), "scheduled report not read, will retry");
                Err(Unavailable::Later)
            }
        }
    }

    /// The recipient's e-mail address and language, from `[[notify.staff]]`.
    fn report_route(&self, name: &str) -> Option<(String, Lang)> {
        self.settings
            .staff
            .iter()
            .find(|route| route.name.trim() == name.trim() && !route.email.trim().is_empty())
            .map(|route| {
                (
                    route.email.trim().to_owned(),
                    Lang::parse(&route.language).unwrap_or_default(),
                )
            })
    }

    /// Sends the report to `name` until the sender accepts it or the attempts run out;
    /// `Err(Later)` when the service stops or the store fails.
    async fn send_report(
        &self,
        row: &v1::LogEvent,
        scheduled: &Scheduled,
        name: &str,
        report: Option<Result<&PeriodReport, &String>>,
        attempts: u32,
    ) -> Result<Outcome, Handled> {
        let key = (row.event_id.as_str(), name, scheduled.period.as_str());
        let store_failed = |error: crate::error::NotifyError| {
            tracing::error!(%error, "notify store");
            Handled::Later
        };
        let route = self.report_route(name);
        let ready = match (report, &route, &self.smtp) {
            (Some(Ok(report)), Some(route), Some(smtp)) => Ok((report, route, smtp)),
            (Some(Err(reason)), _, _) => Err(reason.clone()),
            (_, None, _) => Err("no e-mail route in [[notify.staff]] for this recipient".into()),
            (_, _, None) => Err("no [notify.smtp] sender".into()),
            (None, _, _) => Err("no report".into()),
        };
        let (report, (address, lang), smtp) = match ready {
            Ok(ready) => ready,
            Err(error) => {
                tracing::warn!(period = %scheduled.period, recipient = %name, %error, "scheduled report not sent");
                self.metrics.failed.with_label_values(&["email"]).inc();
                self.store
                    .set_report_delivery(key, attempts, DeliveryState::GivenUp)
                    .await
                    .map_err(store_failed)?;
                return Ok(Outcome {
                    delivered: false,
                    attempts,
                    error,
                });
            }
        };
        let attached = scheduled.attach != "link";
        let context = mail::Context {
            period: &scheduled.period,
            position: row.position,
            attached,
            console_url: &scheduled.console_url,
        };
        let letter = mail::letter(report, context, *lang);
        let page = attached.then(|| report.to_html_in(*lang));
        let masked = mask_contact(address);
        let mut attempt = attempts;
        loop {
            attempt += 1;
            self.store
                .set_report_delivery(key, attempt, DeliveryState::Pending)
                .await
                .map_err(store_failed)?;
            let mail = Mail {
                to: address,
                subject: &letter.subject,
                text: &letter.text,
                message_id: message_id(&row.event_id, &notice_of(name)),
            };
            let attachment = page.as_deref().map(|page| (letter.filename.as_str(), page));
            match smtp.send_with_attachment(mail, attachment).await {
                Ok(()) => {
                    // The window for a duplicate: a crash right here sends it again with the
                    // same Message-ID.
                    self.store
                        .set_report_delivery(key, attempt, DeliveryState::Sent)
                        .await
                        .map_err(store_failed)?;
                    self.metrics.sent.with_label_values(&["email"]).inc();
                    tracing::info!(period = %scheduled.period, recipient = %name, to = %masked, attempt, "scheduled report sent");
                    return Ok(Outcome {
                        delivered: true,
                        attempts: attempt,
                        error: String::new(),
                    });
                }
                Err(reason) => {
                    self.metrics.failed.with_label_values(&["email"]).inc();
                    let final_attempt = attempt >= self.settings.max_attempts;
                    tracing::warn!(period = %scheduled.period, recipient = %name, to = %masked, attempt, final_attempt, %reason, "scheduled report not delivered");
                    if final_attempt {
                        self.store
                            .set_report_delivery(key, attempt, DeliveryState::GivenUp)
                            .await
                            .map_err(store_failed)?;
                        return Ok(Outcome {
                            delivered: false,
                            attempts: attempt,
                            error: reason,
                        });
                    }
                    let pause = self.settings.backoff(attempt, rand::random::<f64>());
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = self.shutdown.wait() => return Err(Handled::Later),
                    }
                }
            }
        }
    }

    /// Records the outcome in the log (`RecordReportDelivery`), then marks it recorded.
    async fn record_report(
        &self,
        row: &v1::LogEvent,
        scheduled: &Scheduled,
        name: &str,
        outcome: Outcome,
    ) -> Result<(), Handled> {
        let to_masked = self
            .report_route(name)
            .map(|(address, _)| mask_contact(&address))
            .unwrap_or_default();
        let request = v1::RecordReportDeliveryRequest {
            scheduled_event_id: row.event_id.clone(),
            period: scheduled.period.clone(),
            recipient: name.to_owned(),
            channel: "email".to_owned(),
            to_masked,
            attach: if scheduled.attach == "link" {
                "link"
            } else {
                "html"
            }
            .to_owned(),
            report_position: row.position,
            delivered: outcome.delivered,
            attempts: outcome.attempts,
            error: outcome.error,
        };
        let request = crate::calls::authorized(&self.token, request);
        if let Err(status) = self.reports.clone().record_report_delivery(request).await {
            tracing::warn!(period = %scheduled.period, recipient = %name, code = ?status.code(), message = status.message(), "record the report's delivery, will retry");
            return Err(Handled::Later);
        }
        self.store
            .mark_report_recorded(&row.event_id, name)
            .await
            .map_err(|error| {
                tracing::error!(%error, "notify store");
                Handled::Later
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_names_its_request_and_a_recipient_its_message_id() {
        let month = report_request("2026-02", 41);
        assert_eq!(month.at_position, Some(41));
        let period = month.period.expect("period");
        assert_eq!(
            (period.month.as_str(), period.quarter.as_str()),
            ("2026-02", "")
        );
        let quarter = report_request("2026-Q1", 7).period.expect("period");
        assert_eq!(quarter.quarter, "2026-Q1");
        assert!(quarter.month.is_empty());
        assert_eq!(notice_of("qian.manager"), "report-qian-manager");
    }
}
