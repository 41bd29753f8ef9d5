//! `Reports.RecordReportDelivery`: cloop-notify's record of a scheduled report sent (or given
//! up) to one recipient, appended as `report_delivered` or `report_delivery_failed` to the
//! period's delivery stream, after its `report_scheduled` event (see
//! `duties::report_delivery`). The event id is derived from the scheduled event, the recipient
//! and the outcome, so a repeat records nothing new.

use crate::duties::report_delivery::{report_stream, REPORT_SCHEDULED};
use chrono::{DateTime, Utc};
use domain::ids::EventId;
use domain::types::Actor;
use domain::DomainError;
use eventlog::{EventLog, ExpectedVersion, NewEvent};
use proto::v1;
use service::status_from;
use tonic::Status;

/// The event type of a report sent to a recipient.
pub const REPORT_DELIVERED: &str = "report_delivered";
/// The event type of a report whose every attempt to a recipient failed.
pub const REPORT_DELIVERY_FAILED: &str = "report_delivery_failed";

fn invalid(field: &str, reason: &str) -> Status {
    status_from(DomainError::invalid(field, reason.to_owned()))
}

/// Checks `request`, finds its `report_scheduled` event and appends the record; answers the
/// record's position.
pub(crate) async fn record(
    log: &EventLog,
    actor: &Actor,
    request: v1::RecordReportDeliveryRequest,
    now: DateTime<Utc>,
) -> Result<v1::RecordReportDeliveryResponse, Status> {
    let period = request.period.trim().to_owned();
    if period.is_empty() {
        return Err(invalid("period", "must name the scheduled period"));
    }
    if request.recipient.trim().is_empty() {
        return Err(invalid("recipient", "must be a principal name"));
    }
    if request.to_masked.contains('@') && !request.to_masked.contains('*') {
        return Err(invalid(
            "to_masked",
            "must be masked, never the whole address",
        ));
    }
    let stream = report_stream(&period);
    let rows = log
        .read_stream(&stream, 0)
        .await
        .map_err(|error| status_from(crate::commands::failure_from_log(error)))?;
    let scheduled = rows
        .first()
        .filter(|row| row.event_type == REPORT_SCHEDULED)
        .filter(|row| row.event_id.hyphenated().to_string() == request.scheduled_event_id.trim());
    if scheduled.is_none() {
        return Err(Status::not_found(format!(
            "no report_scheduled event {} for period {period}",
            request.scheduled_event_id.trim()
        )));
    }
    let event_type = if request.delivered {
        REPORT_DELIVERED
    } else {
        REPORT_DELIVERY_FAILED
    };
    let payload = serde_json::json!({
        "period": period,
        "scheduled_event_id": request.scheduled_event_id.trim(),
        "recipient": request.recipient.trim(),
        "channel": request.channel,
        "to_masked": request.to_masked,
        "attach": request.attach,
        "report_position": request.report_position,
        "attempts": request.attempts,
        "error": request.error,
    });
    let event = NewEvent {
        event_id: EventId::derived(&format!(
            "{event_type}/{}/{}",
            request.scheduled_event_id.trim(),
            request.recipient.trim()
        ))
        .as_uuid(),
        event_type: event_type.to_owned(),
        schema_version: 1,
        occurred_at: now,
        actor: serde_json::to_value(actor).unwrap_or(serde_json::Value::Null),
        correlation_id: Some(request.scheduled_event_id.trim().to_owned()),
        causation_id: Some(request.scheduled_event_id.trim().to_owned()),
        payload,
    };
    let outcome = log
        .append(&stream, ExpectedVersion::Any, vec![event])
        .await
        .map_err(|error| status_from(crate::commands::failure_from_log(error)))?;
    Ok(v1::RecordReportDeliveryResponse {
        position: outcome.last_position,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::duties::report_delivery::REPORT_SCHEDULED;
    use eventlog::LogOptions;

    fn request(scheduled_event_id: &str) -> v1::RecordReportDeliveryRequest {
        v1::RecordReportDeliveryRequest {
            scheduled_event_id: scheduled_event_id.to_owned(),
            period: "2026-02".into(),
            recipient: "qian.manager".into(),
            channel: "email".into(),
            to_masked: "q***@example.com".into(),
            attach: "html".into(),
            report_position: 1,
            delivered: true,
            attempts: 1,
            error: String::new(),
        }
    }

    #[tokio::test]
    async fn a_delivery_is_recorded_once_after_its_scheduled_event_only() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let log = EventLog::open(folder.path().join("log.db"), LogOptions::default())
            .expect("open the log");
        let actor = Actor::system("cloop-notify");
        let now = Utc::now();
        let scheduled = EventId::derived("report-delivery/2026-02");
        let id = scheduled.as_uuid().hyphenated().to_string();
        let missing = record(&log, &actor, request(&id), now)
            .await
            .expect_err("nothing scheduled yet");
        assert_eq!(missing.code(), tonic::Code::NotFound);
        let event = crate::record::service_event(
            scheduled,
            REPORT_SCHEDULED,
            serde_json::json!({ "period": "2026-02" }),
            now,
        );
        log.append(
            &report_stream("2026-02"),
            ExpectedVersion::NoStream,
            vec![event],
        )
        .await
        .expect("schedule");
        let first = record(&log, &actor, request(&id), now)
            .await
            .expect("record");
        let again = record(&log, &actor, request(&id), now)
            .await
            .expect("repeat");
        assert_eq!(
            first.position, again.position,
            "a repeat records nothing new"
        );
        let rows = log
            .read_stream(&report_stream("2026-02"), 0)
            .await
            .expect("read");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].event_type, REPORT_DELIVERED);
        let unmasked = v1::RecordReportDeliveryRequest {
            to_masked: "qian@example.com".into(),
            ..request(&id)
        };
        let refused = record(&log, &actor, unmasked, now)
            .await
            .expect_err("unmasked");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        let other = record(
            &log,
            &actor,
            request("0195f3a0-0000-7000-8000-000000000001"),
            now,
        )
        .await
        .expect_err("another event id");
        assert_eq!(other.code(), tonic::Code::NotFound);
    }
}
