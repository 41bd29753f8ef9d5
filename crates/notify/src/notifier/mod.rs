//! The notifier: for one log event of TICKET_EVENTS, the notices it yields, each rendered in
//! the customer's language, sent (`deliver`) and recorded on the ticket (`record`).

mod deliver;
mod record;

use crate::config::NotifySettings;
use crate::metrics::Metrics;
use crate::sender::{FileSink, Smtp, Webhook};
use crate::staff::{Alerts, ALERT_EVENT_TYPES};
use crate::store::Store;
use crate::template::Templates;
use chrono::{DateTime, FixedOffset, Utc};
use domain::event::Event;
use domain::notification::{notices_for, NoticeKind, NOTIFYING_EVENT_TYPES};
use domain::rules::config::Language;
use domain::types::Outcome;
use proto::v1;
use proto::v1::reports_client::ReportsClient;
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
    /// The reports of scheduled deliveries (`crate::reports`).
    pub(crate) reports: ReportsClient<Channel>,
    pub(crate) token: String,
    pub(crate) webhook: Option<Webhook>,
    pub(crate) smtp: Option<Smtp>,
    pub(crate) file: Option<FileSink>,
    pub(crate) metrics: Metrics,
    pub(crate) shutdown: Shutdown,
    /// Staff alerts; `None` when none are configured.
    pub(crate) alerts: Option<std::sync::Arc<Alerts>>,
    /// The customers' rating links of the review requests; `None` when `[selfservice]`
    /// names no key.
    pub(crate) rating_links: Option<service::ratelink::RatingLinks>,
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
        crate::calls::authorized(&self.token, message)
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
        if ALERT_EVENT_TYPES.contains(&row.event_type.as_str()) && !row.ticket_id.is_empty() {
            let Some(alerts) = &self.alerts else {
                return Handled::Done;
            };
            return match alerts.enqueue(row, Utc::now()).await {
                Ok(_) => Handled::Done,
                Err(error) => {
                    tracing::warn!(ticket_id = %row.ticket_id, %error, "queue staff alerts, will retry");
                    Handled::Later
                }
            };
        }
        if !NOTIFYING_EVENT_TYPES.contains(&row.event_type.as_str()) || row.ticket_id.is_empty() {
            return Handled::Done;
        }
        let event = match crate::calls::read_event(row) {
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
        let outcome = v1::Outcome::try_from(ticket.outcome)
            .ok()
            .and_then(v1::Outcome::to_domain)
            .filter(|outcome| matches!(outcome, Outcome::Adopted | Outcome::Planned));
        for notice in notices_for(&event, outcome) {
            if self.deliver(row, &event, &ticket, notice).await == Handled::Later {
                return Handled::Later;
            }
        }
        Handled::Done
    }

    /// The notice's subject and text; `source` is the id of the event it follows.
    fn render(
        &self,
        source: &str,
        event: &Event,
        ticket: &v1::Ticket,
        notice: NoticeKind,
        language: Language,
    ) -> (String, String) {
        let mut values: HashMap<&str, String> = HashMap::new();
        if let (NoticeKind::ReviewRequest, Some(links)) = (notice, &self.rating_links) {
            // Made from the event alone, so a retry or a redelivery sends the same link.
            values.insert(
                "rating_link",
                links.url(&ticket.ticket_id, source, event.at()),
            );
        }
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
            Event::SuggestionDelivered(delivery) => {
                values.insert("delivered_on", delivery.delivered_on.to_string());
                (
                    delivery.note.clone(),
                    ticket.solution.clone(),
                    String::new(),
                )
            }
            Event::AwardGranted(award) => {
                values.insert("month", award.month.clone());
                values.insert("reward", award.reward.clone());
                values.insert("rank", award.rank.to_string());
                (String::new(), ticket.solution.clone(), String::new())
            }
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
