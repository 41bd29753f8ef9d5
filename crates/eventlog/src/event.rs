//! The values that go into and come out of the log: `NewEvent`, `ExpectedVersion`,
//! `AppendRequest`, `AppendOutcome` and `RecordedEvent`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::canonical::format_timestamp;
use crate::error::LogError;
pub use crate::expected::ExpectedVersion;

/// One event to append. The log knows nothing of its meaning: `event_type` names it and
/// `payload` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// The event's id; unique in the whole log. Use time-ordered ids (UUIDv7) where the id
    /// is not derived from something else: random ids make appends about three times slower.
    pub event_id: Uuid,
    /// The event's type, e.g. `ticket.received`.
    pub event_type: String,
    /// The version of the payload's schema, for upcasting.
    pub schema_version: u32,
    /// When the event happened. Stored with microsecond precision (truncated).
    pub occurred_at: DateTime<Utc>,
    /// Who caused it, in what role (any JSON value).
    pub actor: serde_json::Value,
    /// The id that ties together everything caused by one outside request.
    pub correlation_id: Option<String>,
    /// The id of the message or command that caused this event.
    pub causation_id: Option<String>,
    /// The event's data.
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// An event with a fresh UUIDv7 id, schema version 1, occurring now, a `null` actor and
    /// no correlation or causation id.
    pub fn new(event_type: impl Into<String>, payload: serde_json::Value) -> Self {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version: 1,
            occurred_at: Utc::now(),
            actor: serde_json::Value::Null,
            correlation_id: None,
            causation_id: None,
            payload,
        }
    }

    /// The same event with the given id.
    pub fn with_event_id(mut self, event_id: Uuid) -> Self {
        self.event_id = event_id;
        self
    }

    /// The same event with the given actor.
    pub fn with_actor(mut self, actor: serde_json::Value) -> Self {
        self.actor = actor;
        self
    }

    /// The same event with the given time of occurrence.
    pub fn with_occurred_at(mut self, occurred_at: DateTime<Utc>) -> Self {
        self.occurred_at = occurred_at;
        self
    }

    /// The same event with the given correlation and causation ids.
    pub fn with_ids(
        mut self,
        correlation_id: Option<String>,
        causation_id: Option<String>,
    ) -> Self {
        self.correlation_id = correlation_id;
        self.causation_id = causation_id;
        self
    }
}

/// One append: events for one stream, with the version the caller expects.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendRequest {
    /// The stream, e.g. `ticket-<id>`.
    pub stream_id: String,
    /// The version the stream must be at.
    pub expected: ExpectedVersion,
    /// The events, in order; at least one.
    pub events: Vec<NewEvent>,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOutcome {
    /// Global position of the request's first event.
    pub first_position: u64,
    /// Global position of the request's last event.
    pub last_position: u64,
    /// The stream's version after the request's last event.
    pub stream_version: u64,
    /// True when the request's first event id was already stored: nothing was appended and
    /// the positions are those of the original append.
    pub duplicate: bool,
}

/// One stored row of the log, with every field of the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Global position: 1, 2, 3, ... in commit order, without gaps.
    pub position: u64,
    /// The stream the event belongs to.
    pub stream_id: String,
    /// The event's version in its stream: 1, 2, 3, ...
    pub stream_version: u64,
    /// The event's id.
    pub event_id: Uuid,
    /// The event's type.
    pub event_type: String,
    /// The version of the payload's schema.
    pub schema_version: u32,
    /// When the event happened (microsecond precision).
    pub occurred_at: DateTime<Utc>,
    /// When the log recorded it (microsecond precision).
    pub recorded_at: DateTime<Utc>,
    /// The actor as the exact JSON text that was stored and hashed.
    pub actor_json: String,
    /// The correlation id, if any.
    pub correlation_id: Option<String>,
    /// The causation id, if any.
    pub causation_id: Option<String>,
    /// The payload as the exact JSON text that was stored and hashed.
    pub payload_json: String,
    /// The hash of the previous row (32 zero bytes for position 1).
    pub prev_hash: [u8; 32],
    /// `SHA-256(prev_hash || SHA-256(canonical bytes))`, see `docs/audit.md`.
    pub hash: [u8; 32],
}

impl RecordedEvent {
    /// The payload parsed as JSON.
    pub fn payload_value(&self) -> Result<serde_json::Value, LogError> {
        serde_json::from_str(&self.payload_json).map_err(|error| LogError::Corrupt {
            reason: format!("payload at position {} is not JSON: {error}", self.position),
        })
    }

    /// The actor parsed as JSON.
    pub fn actor_value(&self) -> Result<serde_json::Value, LogError> {
        serde_json::from_str(&self.actor_json).map_err(|error| LogError::Corrupt {
            reason: format!("actor at position {} is not JSON: {error}", self.position),
        })
    }

    /// The row as one line of the JSON Lines export that `docs/audit.md` describes: every
    /// field as the text that was hashed (`actor` and `payload` as JSON strings), hashes in
    /// lowercase hex. No trailing newline.
    pub fn to_export_line(&self) -> String {
        let line = serde_json::json!({
            "position": self.position,
            "stream_id": self.stream_id,
            "stream_version": self.stream_version,
            "event_id": self.event_id.hyphenated().to_string(),
            "event_type": self.event_type,
            "schema_version": self.schema_version,
            "occurred_at": format_timestamp(&self.occurred_at),
            "recorded_at": format_timestamp(&self.recorded_at),
            "actor": self.actor_json,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "payload": self.payload_json,
            "prev_hash": hex::encode(self.prev_hash),
            "hash": hex::encode(self.hash),
        });
        line.to_string()
    }
}
