//! The notifier's calls to the workflow that the customer notices and the staff alerts share:
//! the bearer token on every request, reading the event of a TICKET_EVENTS row, and
//! `RecordNotification` (a ticket that is gone has nothing to record on).

use domain::event::Event;
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use tonic::transport::Channel;
use tonic::Code;

/// `message` with `authorization: Bearer <token>`.
pub(crate) fn authorized<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// The domain event of a log row; the error says why it cannot be read.
pub(crate) fn read_event(row: &v1::LogEvent) -> Result<Event, String> {
    serde_json::from_str(&row.payload)
        .map_err(|error| error.to_string())
        .and_then(|payload| {
            Event::from_parts(&row.event_type, row.schema_version.max(1), &payload)
                .map_err(|error| error.to_string())
        })
}

/// `Tickets.RecordNotification`; the command id makes a repeat a no-op.
pub(crate) async fn record_notification(
    tickets: &TicketsClient<Channel>,
    token: &str,
    request: v1::RecordNotificationRequest,
) -> Result<(), String> {
    match tickets
        .clone()
        .record_notification(authorized(token, request))
        .await
    {
        Ok(_) => Ok(()),
        // The ticket is gone: nothing to record on.
        Err(status) if status.code() == Code::NotFound => Ok(()),
        Err(status) => Err(format!("{:?}: {}", status.code(), status.message())),
    }
}
