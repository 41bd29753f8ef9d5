//! The notifier: for one log event of TICKET_EVENTS, the notices it yields, each rendered in
//! the customer's language, sent (`deliver`) and recorded on the ticket (`record`).

mod deliver;
mod record;

use crate::config::NotifySettings;
use crate::metrics::Metrics;
use crate::sender::{FileSink, Smtp, Webhook};
use crate::store::Store;
use crate::template::Templates;
use chrono::{DateTime, FixedOffset, Utc};
use domain::event::Event;
use domain::notification::{notices_for, NoticeKind, NOTIFYING_EVENT_TYPES};
use domain::rules::config::Language;
use domain::types::Outcome;
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use service::shutdown::Shutdown;
use std::collections::HashMap;
use tonic::transport::Channel;
use tonic::Code;

/// What became of one log event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handled {
    /// Everything it yields is sent (or given up) and recorded: ack.
    Done,
    /// Try the event again later (workflow unreachable, shutting down): nak with a delay.
    Later,
}

/// The notifier: the senders, the store and the workflow client.
#[derive(Debug, Clone)]
pub struct Notifier {
    pub(crate) settings: NotifySettings,
    pub(crate) templates: Templates,
    pub(crate) time_format: String,
    pub(crate) offset: FixedOffset,
    pub(crate) store: Store,
    pub(crate) tickets: TicketsClient<Channel>,
    pub(crate) token: String,
    pub(crate) webhook: Option<Webhook>,
    pub(crate) smtp: Option<Smtp>,
    pub(crate) file: Option<FileSink>,
    pub(crate) metrics: Metrics,
    pub(crate) shutdown: Shutdown,
}

/// A ticket's instant for display; `None` when absent or bad ([`proto::time::instant`]).
fn instant(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    proto::time::instant(timestamp?).ok()
}

/// One notice of one event to one ticket: the key of its record in `notify.db`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Notice<'a> {
    pub source: &'a str,
    pub ticket_id: &'a str,
    pub kind: NoticeKind,
}

impl Notifier {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = format!("Bearer {}", self.token).parse() {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    fn render_instant(&self, value: Option<DateTime<Utc>>) -> String {
        value
            .map(|value| {
                value
                    .with_timezone(&self.offset)
                    .format(&self.time_format)
                    .to_string()
            })
            .unwrap_or_default()
    }

    /// Handles one log row from TICKET_EVENTS.
    pub(crate) async fn handle(&self, row: &v1::LogEvent) -> Handled {
        if !NOTIFYING_EVENT_TYPES.contains(&row.event_type.as_str()) || row.ticket_id.is_empty() {
            return Handled::Done;
        }
        let event = match serde_json::from_str(&row.payload)
            .map_err(|error| error.to_string())
            .and_then(|payload| {
                Event::from_parts(&row.event_type, row.schema_version.max(1), &payload)
                    .map_err(|error| error.to_string())
            }) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(event_id = %row.event_id, %error, "unreadable event, no notice");
                return Handled::Done;
            }
        };
        let ticket = match self
            .tickets
            .clone()
            .get_ticket(self.request(v1::GetTicketRequest {
                ticket_id: row.ticket_id.clone(),
            }))
            .await
        {
            Ok(response) => match response.into_inner().ticket {
                Some(ticket) => ticket,
                None => return Handled::Done,
            },
            Err(status) if status.code() == Code::NotFound => {
                tracing::warn!(ticket_id = %row.ticket_id, "ticket not found, no notice");
                return Handled::Done;
            }
            Err(status) => {
                tracing::warn!(ticket_id = %row.ticket_id, code = ?status.code(), message = status.message(), "get ticket failed, will retry");
                return Handled::Later;
            }
        };
        if ticket.cannot_be_told {
            // Anonymous feedback: nobody to tell, nothing attempted, nothing recorded.
            tracing::debug!(ticket_id = %row.ticket_id, event = %row.event_type, "cannot be told, no notice");
            return Handled::Done;
        }
        let outcome = (ticket.outcome == v1::Outcome::Adopted as i32).then_some(Outcome::Adopted);
        for notice in notices_for(&event, outcome) {
            if self.deliver(row, &event, &ticket, notice).await == Handled::Later {
                return Handled::Later;
            }
        }
        Handled::Done
    }

    fn render(
        &self,
        event: &Event,
        ticket: &v1::Ticket,
        notice: NoticeKind,
        language: Language,
    ) -> (String, String) {
        let mut values: HashMap<&str, String> = HashMap::new();
        values.insert("ticket_id", ticket.ticket_id.clone());
        values.insert(
            "received_at",
            self.render_instant(instant(ticket.created_at.as_ref())),
        );
        values.insert(
            "respond_by",
            self.render_instant(instant(ticket.respond_by.as_ref())),
        );
        values.insert(
            "resolve_by",
            self.render_instant(instant(ticket.resolve_by.as_ref())),
        );
        let (message, solution, outcome) = match event {
            Event::Acknowledged(acknowledged) => {
                (acknowledged.message.clone(), String::new(), String::new())
            }
            Event::NoteAdded(note) => (note.text.clone(), String::new(), String::new()),
            Event::SolutionProposed(proposed) => (
                String::new(),
                proposed.text.clone(),
                proposed.outcome.to_string(),
            ),
            Event::ParentResolved(resolved) => (
                String::new(),
                resolved.solution.clone(),
                resolved.outcome.to_string(),
            ),
            _ => (String::new(), ticket.solution.clone(), String::new()),
        };
        values.insert("message", message);
        values.insert("solution", solution);
        values.insert("outcome", outcome);
        match self.templates.get(language, notice) {
            Some(template) => (
                crate::template::render(&template.subject, &values),
                crate::template::render(&template.text, &values),
            ),
            None => (String::new(), ticket.ticket_id.clone()),
        }
    }
}
