//! What the domain's integration tests share: instants, a plain submission, and a ticket's
//! history built by running commands through `decide`, as the workflow does.

// Each test crate uses only the part it needs.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use domain::aggregate::{decide, fold};
use domain::command::{Command, Submission};
use domain::event::Event;
use domain::ids::{FeedbackId, TicketId, TicketIdGenerator};
use domain::ticket::{Customer, Ticket};
use domain::types::Policy;
use domain::DomainError;
use std::collections::BTreeMap;

/// An instant written in RFC 3339.
pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("valid instant")
        .with_timezone(&Utc)
}

/// Monday 2026-03-16 09:00 UTC, where most histories start.
pub fn t0() -> DateTime<Utc> {
    at("2026-03-16T09:00:00Z")
}

/// `count` minutes after [`t0`].
pub fn minutes(count: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(count)
}

/// A wall-clock instant in China (+08:00).
pub fn beijing(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    at(&format!(
        "{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:00+08:00"
    ))
}

/// The id of the `sequence`th ticket (0 first) a generator makes at [`t0`].
pub fn ticket_id(sequence: u8) -> TicketId {
    let mut generator = TicketIdGenerator::new(1);
    let mut id = generator.next(t0());
    for _ in 0..sequence {
        id = generator.next(t0());
    }
    id
}

/// A submission over the app, received at `received_at`, from a customer with a phone: ticket
/// [`ticket_id`]`(sequence)`.
pub fn submission(sequence: u8, received_at: DateTime<Utc>, content: &str) -> Submission {
    Submission {
        feedback_id: FeedbackId::new(received_at, [sequence; 10]),
        ticket_id: ticket_id(sequence),
        channel: "app".to_owned(),
        external_id: None,
        customer: Customer {
            phone: Some("13800138000".to_owned()),
            ..Customer::default()
        },
        content: content.to_owned(),
        occurred_at: None,
        received_at,
        product: None,
        order_id: None,
        attributes: BTreeMap::new(),
        language: None,
    }
}

/// A ticket's history: the events of the commands run so far, under one policy.
pub struct History<P> {
    pub policy: P,
    pub events: Vec<Event>,
}

impl<P: Policy> History<P> {
    /// A history that starts with `submission` received at `now`.
    pub fn received(policy: P, submission: Submission, now: DateTime<Utc>) -> Self {
        let mut history = Self {
            policy,
            events: Vec::new(),
        };
        history.run(Command::Receive(Box::new(submission)), now);
        history
    }

    pub fn state(&self) -> Ticket {
        fold(&self.events)
    }

    pub fn when(&self, command: Command, now: DateTime<Utc>) -> Result<Vec<Event>, DomainError> {
        decide(&self.state(), &command, now, &self.policy)
    }

    /// Runs a command that must succeed and keeps its events.
    pub fn run(&mut self, command: Command, now: DateTime<Utc>) -> Vec<Event> {
        let name = command.name();
        let events = self
            .when(command, now)
            .unwrap_or_else(|error| panic!("{name} failed: {error}"));
        self.events.extend(events.iter().cloned());
        events
    }
}
