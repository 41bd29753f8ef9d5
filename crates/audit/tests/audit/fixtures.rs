//! Hand-built tickets and real log files for the tests.

use std::sync::atomic::{AtomicU16, Ordering};

use audit::TicketEvent;
use chrono::{DateTime, TimeDelta, Utc};
use domain::event::{
    Acknowledged, Archived, Classified, Dispatched, Received, Reopened, ReviewRecorded, SlaMark,
    SlaPaused, SlaResumed, SolutionApproved, SolutionProposed,
};
use domain::ids::{FeedbackId, TicketIdGenerator};
use domain::types::{ContentType, Deadline, Deadlines, Kind, Outcome, Priority, Scope};
use domain::{Customer, Event};
use eventlog::{EventLog, ExpectedVersion, LogOptions, NewEvent, Synchronous};
use uuid::Uuid;

/// 2026-11-02 09:00 in Beijing (01:00 UTC), a Monday.
pub fn base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-02T01:00:00Z")
        .expect("a valid instant")
        .with_timezone(&Utc)
}

/// `base()` plus some minutes.
pub fn minutes(count: i64) -> DateTime<Utc> {
    base() + TimeDelta::minutes(count)
}

/// Deadlines from an instant: respond within `respond` minutes, resolve within `resolve`.
pub fn deadlines(from: DateTime<Utc>, respond: i64, resolve: i64) -> Deadlines {
    Deadlines {
        respond_by: from + TimeDelta::minutes(respond),
        resolve_by: from + TimeDelta::minutes(resolve),
        warn_respond_at: from + TimeDelta::minutes(respond * 3 / 4),
        warn_resolve_at: from + TimeDelta::minutes(resolve * 3 / 4),
        policy_version: "test".to_string(),
        calendar_version: "test".to_string(),
    }
}

/// The customer of the erasure tests.
pub fn customer() -> Customer {
    Customer {
        customer_id: None,
        name: Some("张三丰".to_string()),
        phone: Some("+8613812345678".to_string()),
        email: Some("zhang.sanfeng@example.cn".to_string()),
        wechat_openid: None,
    }
}

/// A ticket's events built by hand, numbered as a log would number them.
pub struct TicketBuilder {
    pub events: Vec<TicketEvent>,
    pub stream_id: String,
    pub ticket_id: String,
    pub received_at: DateTime<Utc>,
}

impl TicketBuilder {
    /// A ticket received at `received_at` with 2 h to respond and 72 h to resolve.
    pub fn received(received_at: DateTime<Utc>) -> TicketBuilder {
        // A node number of its own per ticket, so that tickets received at the same instant
        // get different ids.
        static NEXT_NODE: AtomicU16 = AtomicU16::new(1);
        let node = NEXT_NODE.fetch_add(1, Ordering::Relaxed);
        let ticket_id = TicketIdGenerator::new(node).next(received_at);
        let mut builder = TicketBuilder {
            events: Vec::new(),
            stream_id: ticket_id.stream_id(),
            ticket_id: ticket_id.to_string(),
            received_at,
        };
        builder.push(Event::Received(Box::new(Received {
            ticket_id,
            feedback_id: FeedbackId::new(received_at, [7; 10]),
            channel: "web".to_string(),
            external_id: None,
            customer: customer(),
            content: "APP卡顿".to_string(),
            occurred_at: received_at,
            received_at,
            product: None,
            order_id: None,
            attributes: Default::default(),
            deadlines: deadlines(received_at, 120, 72 * 60),
            at: received_at,
            cannot_be_told: false,
            language: None,
            terms: Vec::new(),
            vip: false,
        })));
        builder
    }

    /// Appends an event; its recorded time is its own time.
    pub fn push(&mut self, event: Event) -> &mut TicketBuilder {
        let position = self.events.len() as u64 + 1;
        self.events.push(TicketEvent {
            position,
            stream_id: self.stream_id.clone(),
            stream_version: position,
            event_id: Uuid::from_u128(u128::from(position)),
            recorded_at: event.at(),
            event,
        });
        self
    }

    pub fn classify(&mut self, at: DateTime<Utc>, kind: Kind, priority: Priority) -> &mut Self {
        let received_at = self.received_at;
        self.push(Event::Classified(Classified {
            kind,
            content_type: ContentType::Product,
            priority,
            scope: Scope::Local,
            keywords: vec!["卡顿".to_string()],
            confidence: 1.0,
            complex: false,
            automatic: false,
            reason: String::new(),
            policy_version: "test".to_string(),
            deadlines: deadlines(received_at, 120, 72 * 60),
            at,
            model_version: None,
            by_model: false,
            terms: Vec::new(),
        }))
    }

    pub fn dispatch(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.push(Event::Dispatched(Dispatched {
            from: None,
            department: "technical".to_string(),
            helpers: Vec::new(),
            reason: "rule".to_string(),
            automatic: true,
            solution_withdrawn: false,
            at,
        }))
    }

    pub fn acknowledge(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.push(Event::Acknowledged(Acknowledged {
            message: "we are on it".to_string(),
            at,
        }))
    }

    pub fn propose(&mut self, at: DateTime<Utc>, outcome: Outcome, approval: bool) -> &mut Self {
        self.push(Event::SolutionProposed(SolutionProposed {
            outcome,
            text: "fixed in 2.3.1".to_string(),
            reason: String::new(),
            approval_required: approval,
            policy_version: "test".to_string(),
            at,
        }))
    }

    pub fn approve(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.push(Event::SolutionApproved(SolutionApproved {
            comment: String::new(),
            at,
        }))
    }

    pub fn review(&mut self, at: DateTime<Utc>, satisfaction: u8) -> &mut Self {
        self.push(Event::ReviewRecorded(ReviewRecorded {
            satisfaction,
            comment: String::new(),
            satisfied_threshold: 4,
            satisfied: satisfaction >= 4,
            policy_version: "test".to_string(),
            at,
        }))
    }

    pub fn reopen(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.push(Event::Reopened(Reopened {
            round: 2,
            deadlines: deadlines(at, 120, 72 * 60),
            at,
        }))
    }

    pub fn archive(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.push(Event::Archived(Archived { at }))
    }

    pub fn breach(
        &mut self,
        at: DateTime<Utc>,
        deadline: Deadline,
        due: DateTime<Utc>,
    ) -> &mut Self {
        self.push(Event::SlaBreached(SlaMark {
            deadline,
            due,
            policy_version: "test".to_string(),
            calendar_version: "test".to_string(),
            at,
        }))
    }

    pub fn pause(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.push(Event::SlaPaused(SlaPaused {
            reason: "waiting for the customer".to_string(),
            at,
        }))
    }

    pub fn resume(&mut self, at: DateTime<Utc>, paused: TimeDelta) -> &mut Self {
        let mut moved = deadlines(self.received_at, 120, 72 * 60);
        moved.respond_by += paused;
        moved.resolve_by += paused;
        self.push(Event::SlaResumed(SlaResumed {
            paused_ms: paused.num_milliseconds(),
            deadlines: moved,
            at,
        }))
    }
}

/// Opens a fresh log with fast commits for tests.
pub fn open_log(path: &std::path::Path) -> EventLog {
    EventLog::open(
        path,
        LogOptions {
            synchronous: Synchronous::Normal,
            ..LogOptions::default()
        },
    )
    .expect("open a fresh event log")
}

/// Appends `count` small events spread over three streams; returns the log.
pub fn small_log(path: &std::path::Path, count: u64) -> EventLog {
    let log = open_log(path);
    for index in 0..count {
        let stream = format!("ticket-{}", index % 3);
        let event = NewEvent::new(
            "note_added",
            serde_json::json!({"text": format!("note {index}"), "to_customer": false}),
        )
        .with_actor(serde_json::json!({"principal": "li.si", "role": "agent"}))
        .with_ids(Some(format!("c-{index}")), None);
        log.append_blocking(&stream, ExpectedVersion::Any, vec![event])
            .expect("append");
    }
    log
}

/// Appends domain events to a ticket's stream as the workflow would.
pub fn append_events(log: &EventLog, stream_id: &str, events: &[Event]) -> Vec<u64> {
    let new_events: Vec<NewEvent> = events
        .iter()
        .map(|event| {
            NewEvent::new(event.event_type(), event.to_payload())
                .with_occurred_at(event.at())
                .with_actor(serde_json::json!({"principal": "test", "role": "system"}))
        })
        .collect();
    let outcome = log
        .append_blocking(stream_id, ExpectedVersion::Any, new_events)
        .expect("append ticket events");
    (outcome.first_position..=outcome.last_position).collect()
}
