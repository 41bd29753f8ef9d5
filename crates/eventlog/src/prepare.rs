//! Checking and preparing an append request on the caller's thread: validation, JSON
//! serialisation and the caller's part of the row digest, so the writer does as little as
//! possible.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Utc};
use rayon::prelude::*;
use sha2::Sha256;
use uuid::Uuid;

use crate::canonical::{
    caller_prefix, chain_hash, finish_digest, format_timestamp, truncate_to_micros, CallerFields,
    WriterFields, MAX_FIELD_BYTES,
};
use crate::error::LogError;
use crate::event::{AppendRequest, ExpectedVersion, NewEvent};

/// The longest stream id the log accepts, in bytes.
pub const MAX_STREAM_ID_BYTES: usize = 512;
/// The longest event type, correlation id or causation id the log accepts, in bytes.
pub const MAX_NAME_BYTES: usize = 512;

/// Requests with at least this many events are prepared on several threads.
pub(crate) const PARALLEL_PREPARE_EVENTS: usize = 128;

/// One event, checked and serialised, with the digest of its caller fields started.
pub(crate) struct PreparedEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    pub occurred_at: DateTime<Utc>,
    pub occurred_at_text: String,
    pub actor_json: String,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub payload_json: String,
    pub digest_prefix: Sha256,
}

impl PreparedEvent {
    /// The hash of this event stored at `position` after the row hashed `prev_hash`, as
    /// version `stream_version` of its stream, recorded at `recorded_at`.
    pub fn hash_at(
        &self,
        prev_hash: &[u8; 32],
        position: u64,
        stream_version: u64,
        recorded_at: &str,
    ) -> [u8; 32] {
        let digest = finish_digest(
            self.digest_prefix.clone(),
            &WriterFields {
                stream_version,
                position,
                recorded_at,
            },
        );
        chain_hash(prev_hash, &digest)
    }
}

/// One request, checked and serialised.
pub(crate) struct PreparedRequest {
    pub stream_id: String,
    pub expected: ExpectedVersion,
    pub events: Vec<PreparedEvent>,
}

impl PreparedRequest {
    /// The number of events in the request.
    pub fn len(&self) -> usize {
        self.events.len()
    }
}

/// Checks a request and prepares it for the writer.
pub(crate) fn prepare(request: AppendRequest) -> Result<PreparedRequest, LogError> {
    let AppendRequest {
        stream_id,
        expected,
        events,
    } = request;
    check_name("stream_id", &stream_id, MAX_STREAM_ID_BYTES)?;
    if events.is_empty() {
        return Err(LogError::invalid(
            "events",
            "at least one event is required",
        ));
    }
    let mut seen_ids = HashSet::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        if !seen_ids.insert(event.event_id) {
            return Err(LogError::invalid(
                format!("events[{index}].event_id"),
                format!("event id {} appears twice in one request", event.event_id),
            ));
        }
    }
    // Serialising and hashing is most of an append's CPU work outside SQLite: large requests
    // spread it over rayon's threads.
    let prepared = if events.len() >= PARALLEL_PREPARE_EVENTS {
        events
            .into_par_iter()
            .enumerate()
            .map(|(index, event)| prepare_event(&stream_id, index, event))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        events
            .into_iter()
            .enumerate()
            .map(|(index, event)| prepare_event(&stream_id, index, event))
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(PreparedRequest {
        stream_id,
        expected,
        events: prepared,
    })
}

fn prepare_event(
    stream_id: &str,
    index: usize,
    event: NewEvent,
) -> Result<PreparedEvent, LogError> {
    let field = |name: &str| format!("events[{index}].{name}");
    if event.event_id.is_nil() {
        return Err(LogError::invalid(
            field("event_id"),
            "the nil uuid is not an event id",
        ));
    }
    check_name(&field("event_type"), &event.event_type, MAX_NAME_BYTES)?;
    if let Some(correlation_id) = &event.correlation_id {
        check_name(&field("correlation_id"), correlation_id, MAX_NAME_BYTES)?;
    }
    if let Some(causation_id) = &event.causation_id {
        check_name(&field("causation_id"), causation_id, MAX_NAME_BYTES)?;
    }
    let year = event.occurred_at.year();
    if !(0..=9999).contains(&year) {
        return Err(LogError::invalid(
            field("occurred_at"),
            format!("year {year} is out of range"),
        ));
    }
    let occurred_at = truncate_to_micros(event.occurred_at);
    let occurred_at_text = format_timestamp(&occurred_at);
    let actor_json = to_json(&field("actor"), &event.actor)?;
    let payload_json = to_json(&field("payload"), &event.payload)?;
    let event_id_text = event.event_id.hyphenated().to_string();
    let digest_prefix = caller_prefix(&CallerFields {
        stream_id,
        event_id: &event_id_text,
        event_type: &event.event_type,
        schema_version: event.schema_version,
        occurred_at: &occurred_at_text,
        actor_json: &actor_json,
        correlation_id: event.correlation_id.as_deref().unwrap_or(""),
        causation_id: event.causation_id.as_deref().unwrap_or(""),
        payload_json: &payload_json,
    });
    Ok(PreparedEvent {
        event_id: event.event_id,
        event_type: event.event_type,
        schema_version: event.schema_version,
        occurred_at,
        occurred_at_text,
        actor_json,
        correlation_id: event.correlation_id,
        causation_id: event.causation_id,
        payload_json,
        digest_prefix,
    })
}

/// Serialises a JSON value compactly (object keys sorted) and checks its size.
fn to_json(field: &str, value: &serde_json::Value) -> Result<String, LogError> {
    let text = serde_json::to_string(value)
        .map_err(|error| LogError::invalid(field, format!("cannot be serialised: {error}")))?;
    check_size(field, &text, MAX_FIELD_BYTES)?;
    Ok(text)
}

/// Checks that `text` takes at most `max_bytes` bytes.
fn check_size(field: &str, text: &str, max_bytes: usize) -> Result<(), LogError> {
    if text.len() > max_bytes {
        return Err(LogError::invalid(
            field,
            format!("{} bytes is more than the limit of {max_bytes}", text.len()),
        ));
    }
    Ok(())
}

/// Checks a short text field: not empty, not too long, no control characters.
fn check_name(field: &str, value: &str, max_bytes: usize) -> Result<(), LogError> {
    if value.is_empty() {
        return Err(LogError::invalid(field, "must not be empty"));
    }
    check_size(field, value, max_bytes)?;
    if value.chars().any(char::is_control) {
        return Err(LogError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}
