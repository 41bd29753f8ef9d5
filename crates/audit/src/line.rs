//! One line of the JSON Lines export: every field of a row as the text that was hashed.
//! Its own module, so that row sources and the export both use it without one another.

use eventlog::RecordedEvent;
use serde::{Deserialize, Serialize};

/// One line of the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportLine {
    /// Global position.
    pub position: u64,
    /// The stream, e.g. `ticket-<id>`.
    pub stream_id: String,
    /// The version in the stream.
    pub stream_version: u64,
    /// The event id, lowercase hyphenated.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The payload's schema version.
    pub schema_version: u32,
    /// As stored: RFC 3339, UTC, six fractional digits, `Z`.
    pub occurred_at: String,
    /// As stored, like `occurred_at`.
    pub recorded_at: String,
    /// The exact JSON text of the actor that was hashed.
    pub actor: String,
    /// The correlation id, `null` when absent.
    pub correlation_id: Option<String>,
    /// The causation id, `null` when absent.
    pub causation_id: Option<String>,
    /// The exact JSON text of the payload that was hashed.
    pub payload: String,
    /// The previous row's hash, lowercase hex.
    pub prev_hash: String,
    /// This row's hash, lowercase hex.
    pub hash: String,
}

impl ExportLine {
    /// The line of a recorded row (the same fields `RecordedEvent::to_export_line` writes).
    pub fn from_recorded(row: &RecordedEvent) -> ExportLine {
        ExportLine {
            position: row.position,
            stream_id: row.stream_id.clone(),
            stream_version: row.stream_version,
            event_id: row.event_id.hyphenated().to_string(),
            event_type: row.event_type.clone(),
            schema_version: row.schema_version,
            occurred_at: eventlog::format_timestamp(&row.occurred_at),
            recorded_at: eventlog::format_timestamp(&row.recorded_at),
            actor: row.actor_json.clone(),
            correlation_id: row.correlation_id.clone(),
            causation_id: row.causation_id.clone(),
            payload: row.payload_json.clone(),
            prev_hash: hex::encode(row.prev_hash),
            hash: hex::encode(row.hash),
        }
    }
}
