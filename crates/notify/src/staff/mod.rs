//! Staff alerts: a new ticket in a department's queue, an assignment, an SLA warning, a breach
//! and each escalation step reach the people concerned (or the department's group robot) by
//! e-mail or a webhook in the shape WeCom and DingTalk robots accept (`docs/notify.md`,
//! "Staff alerts").
//!
//! An event from TICKET_EVENTS that triggers alerts is turned into one row per recipient in
//! `notify.db` (`store`), rendered in the recipient's language and due at once, or at the next
//! working minute outside working time unless the ticket is urgent; the event is acknowledged
//! then. A loop of its own (`deliver`) sends what is due with retries and backoff, commits
//! `sent` right after the receiver's answer, and records each attempt on the ticket with
//! `RecordNotification` (notice `staff_alert`, the recipient named). So an alert goes out once
//! per (event, recipient), across restarts too, and a receiver that is down delays neither the
//! customer notices nor other alerts. Who gets what is the pure `routing`.

mod deliver;
pub mod routing;
pub mod store;
pub mod text;

use crate::config::{AlertFormat, NotifySettings};
use crate::error::NotifyError;
use crate::metrics::Metrics;
use crate::sender::{Smtp, Webhook};
use crate::store::Store;
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use domain::rules::calendar::BusinessCalendar;
use domain::rules::config::{DomainConfig, Language};
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use routing::{release_at, Person, Recipient, Roster, TicketFacts, Trigger};
use std::collections::{BTreeMap, HashMap};
use store::NewAlert;
use text::AlertFacts;
use tonic::transport::Channel;
use tonic::Code;

pub use routing::ALERT_EVENT_TYPES;

/// What start-up reads and checks for staff alerts: who is who, the calendar of quiet hours
/// and the departments' names.
#[derive(Debug, Clone)]
pub struct AlertSetup {
    pub roster: Roster,
    pub calendar: BusinessCalendar,
    /// `(name_zh, name_en)` by department id.
    pub department_names: BTreeMap<String, (String, String)>,
}

impl AlertSetup {
    /// The setup of `settings`, with the principals of the tokens file (`None` without one)
    /// and the domain's departments, escalation chain and calendar; `None` when no person and
    /// no department has a route. Errors name the key.
    pub fn new(
        settings: &NotifySettings,
        people: Option<Vec<Person>>,
        domain: &DomainConfig,
    ) -> Result<Option<Self>, NotifyError> {
        if settings.staff.is_empty() && settings.departments.is_empty() {
            return Ok(None);
        }
        let error = |key: String, reason: String| NotifyError::Config { key, reason };
        if let Some(people) = &people {
            for (index, route) in settings.staff.iter().enumerate() {
                if !people.iter().any(|person| person.name == route.name.trim()) {
                    return Err(error(
                        format!("notify.staff[{index}].name"),
                        format!("{:?} is not a principal of the tokens file", route.name),
                    ));
                }
            }
        } else {
            tracing::warn!("no tokens file (--tokens): staff alerts reach only people named by the assignment or an escalation contact, not roles");
        }
        for department in settings.departments.keys() {
            if !domain.departments.contains_key(department) {
                return Err(error(
                    format!("notify.departments.{department}"),
                    "is not a configured department ([departments.<id>])".to_owned(),
                ));
            }
        }
        let calendar = BusinessCalendar::from_config(&domain.calendar)
            .map_err(|reason| error("calendar".to_owned(), reason.to_string()))?;
        let roster = Roster {
            people: people.unwrap_or_default(),
            routed: settings
                .staff
                .iter()
                .map(|route| route.name.trim().to_owned())
                .collect(),
            robots: settings.departments.keys().cloned().collect(),
            escalation: (domain.departments.iter())
                .map(|(id, department)| (id.clone(), department.escalation.clone()))
                .collect(),
            chain: domain
                .sla
                .escalation
                .iter()
                .map(|level| level.notify)
                .collect(),
        };
        let department_names = (domain.departments.iter())
            .map(|(id, department)| {
                let names = (department.name_zh.clone(), department.name_en.clone());
                (id.clone(), names)
            })
            .collect();
        Ok(Some(Self {
            roster,
            calendar,
            department_names,
        }))
    }
}

/// How one recipient is reached.
#[derive(Debug, Clone)]
enum Via {
    Webhook(Webhook, AlertFormat),
    Email(String),
}

#[derive(Debug, Clone)]
struct Destination {
    via: Via,
    language: Language,
}

/// The staff alerts at run time: the setup, the destinations, the store and the workflow.
#[derive(Debug)]
pub struct Alerts {
    setup: AlertSetup,
    settings: NotifySettings,
    destinations: HashMap<Recipient, Destination>,
    smtp: Option<Smtp>,
    store: Store,
    tickets: TicketsClient<Channel>,
    token: String,
    time_format: String,
    offset: FixedOffset,
    metrics: Metrics,
}

/// What [`Alerts::new`] connects to.
#[derive(Debug)]
pub struct AlertParts {
    pub store: Store,
    pub tickets: TicketsClient<Channel>,
    pub smtp: Option<Smtp>,
    pub metrics: Metrics,
    pub time_format: String,
    pub offset: FixedOffset,
    /// The TLS of `https://` robots.
    pub webhook_tls: Option<crate::https::WebhookTls>,
}

impl Alerts {
    pub fn new(
        setup: AlertSetup,
        settings: &NotifySettings,
        parts: AlertParts,
    ) -> Result<Self, NotifyError> {
        let secret = settings.alert_secret();
        let timeout = settings.alerts.timeout_ms;
        let destination =
            |key: String, webhook: &str, email: &str, format: &str, language: &str| {
                let language = Language::from_tag(language).unwrap_or(Language::Zh);
                let via = if webhook.trim().is_empty() {
                    Via::Email(email.trim().to_owned())
                } else {
                    let tls = parts.webhook_tls.as_ref();
                    let sender = Webhook::to_url(webhook.trim(), secret.clone(), timeout, tls)
                        .map_err(|reason| NotifyError::Config { key, reason })?;
                    Via::Webhook(
                        sender,
                        AlertFormat::parse(format).unwrap_or(AlertFormat::Json),
                    )
                };
                Ok::<_, NotifyError>(Destination { via, language })
            };
        let mut destinations = HashMap::new();
        for (index, route) in settings.staff.iter().enumerate() {
            let key = format!("notify.staff[{index}].webhook");
            let found = destination(
                key,
                &route.webhook,
                &route.email,
                &route.format,
                &route.language,
            )?;
            destinations.insert(Recipient::Person(route.name.trim().to_owned()), found);
        }
        for (department, route) in &settings.departments {
            let key = format!("notify.departments.{department}.webhook");
            let found = destination(key, &route.webhook, "", &route.format, &route.language)?;
            destinations.insert(Recipient::Department(department.clone()), found);
        }
        Ok(Self {
            setup,
            settings: settings.clone(),
            destinations,
            smtp: parts.smtp,
            store: parts.store,
            tickets: parts.tickets,
            token: settings.workflow_token(),
            time_format: parts.time_format,
            offset: parts.offset,
            metrics: parts.metrics,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        crate::calls::authorized(&self.token, message)
    }

    /// Queues the alerts one log row triggers (none for most). `Err` (with the reason): the
    /// workflow or the store is unavailable, try the event again later.
    pub async fn enqueue(&self, row: &v1::LogEvent, now: DateTime<Utc>) -> Result<usize, String> {
        let event = match crate::calls::read_event(row) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(event_id = %row.event_id, %error, "unreadable event, no alert");
                return Ok(0);
            }
        };
        let Some(trigger) = Trigger::of(&event) else {
            return Ok(0);
        };
        let hours = i64::try_from(self.settings.alerts.skip_older_than_hours).unwrap_or(i64::MAX);
        let too_old = TimeDelta::try_hours(hours)
            .and_then(|age| event.at().checked_add_signed(age))
            .is_some_and(|limit| limit < now);
        if too_old {
            tracing::info!(ticket_id = %row.ticket_id, alert = trigger.kind(), "event too old for an alert, skipped");
            return Ok(0);
        }
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
                None => return Ok(0),
            },
            Err(status) if status.code() == Code::NotFound => return Ok(0),
            Err(status) => {
                return Err(format!(
                    "get ticket: {:?}: {}",
                    status.code(),
                    status.message()
                ))
            }
        };
        let alerts = self.alerts_for(row, &trigger, &ticket, now);
        if alerts.is_empty() {
            return Ok(0);
        }
        self.store
            .enqueue_alerts(alerts)
            .await
            .map_err(|error| error.to_string())
    }

    /// The rows of `trigger` on `ticket`: one per recipient, rendered in their language.
    fn alerts_for(
        &self,
        row: &v1::LogEvent,
        trigger: &Trigger,
        ticket: &v1::Ticket,
        now: DateTime<Utc>,
    ) -> Vec<NewAlert> {
        let present = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
        let (department, assignee) = (present(&ticket.department), present(&ticket.assignee));
        let facts = TicketFacts {
            department: department.as_deref(),
            assignee: assignee.as_deref(),
        };
        let recipients = self.setup.roster.recipients(trigger, &facts);
        let priority = v1::Priority::try_from(ticket.priority)
            .ok()
            .and_then(v1::Priority::to_domain);
        let urgent = priority == Some(domain::types::Priority::Urgent);
        let due_at = release_at(
            &self.setup.calendar,
            now,
            urgent,
            self.settings.alerts.quiet_hours,
        );
        let shown_department = match trigger {
            Trigger::NewTicket { department } => Some(department.clone()),
            _ => department.clone(),
        }
        .unwrap_or_default();
        let due = match trigger {
            Trigger::Warning { due, .. } | Trigger::Breached { due, .. } => Some(*due),
            _ => None,
        };
        recipients
            .into_iter()
            .filter_map(|recipient| {
                let language = self.destinations.get(&recipient)?.language;
                let facts = AlertFacts {
                    ticket_id: ticket.ticket_id.clone(),
                    department: self.department_name(&shown_department, language),
                    priority,
                    respond_by: self.written(
                        ticket
                            .respond_by
                            .as_ref()
                            .and_then(|at| proto::time::instant(at).ok()),
                    ),
                    due: self.written(due),
                };
                let (subject, text) = text::render(trigger, &facts, language);
                Some(NewAlert {
                    source_event_id: row.event_id.clone(),
                    recipient: recipient.key(),
                    ticket_id: ticket.ticket_id.clone(),
                    alert: trigger.kind().to_owned(),
                    language: if language == Language::En { "en" } else { "zh" }.to_owned(),
                    subject,
                    text,
                    due_at_ms: due_at.timestamp_millis(),
                })
            })
            .collect()
    }

    fn department_name(&self, id: &str, language: Language) -> String {
        let names = self.setup.department_names.get(id);
        let name = match (names, language) {
            (Some((zh, _)), Language::Zh) => zh.as_str(),
            (Some((_, en)), Language::En) => en.as_str(),
            (None, _) => "",
        };
        if name.trim().is_empty() { id } else { name }.to_owned()
    }

    fn written(&self, instant: Option<DateTime<Utc>>) -> String {
        instant
            .map(|instant| {
                instant
                    .with_timezone(&self.offset)
                    .format(&self.time_format)
                    .to_string()
            })
            .unwrap_or_else(|| "-".to_owned())
    }
}
