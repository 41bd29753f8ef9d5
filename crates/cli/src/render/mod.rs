//! Rendering of what the services answer, for people and for scripts: ticket tables and
//! details, the timeline of a ticket's history, the live queue, SLA explanations, submission
//! receipts and the monthly report. Pure functions from data to text or JSON, so snapshot
//! tests render fixed data without a server.

use crate::style::Style;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;

mod adopted;
mod customer;
mod history;
mod queue;
mod report;
mod sla;
mod submit;
mod tickets;

pub use adopted::{adopted_json, adopted_table, awards_table};
pub use customer::{customer_json, customer_text};
pub use history::{actor_text, domain_event, event_json, history_json, timeline};
pub use queue::{queue, queue_order};
pub use report::report_text;
/// A duration in milliseconds as "2 h 05 min", "14 min" or "35 s".
pub use reports::sections::human_duration;
pub use sla::sla_text_view;
pub use submit::{submit_json, submit_text};
pub use tickets::{next_due, similar_table, ticket_detail, ticket_json, ticket_table};

/// How instants are shown: date, minute and the UTC offset, "2026-11-02 10:00 +08:00".
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M %:z";

/// How to show things: the UTC offset instants are printed in, and colours.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub offset: FixedOffset,
    pub style: Style,
    /// The language of the monthly report's labels.
    pub lang: reports::Lang,
}

/// A protobuf timestamp as an instant; `None` when unset or bad ([`proto::time::instant`]).
pub fn instant(timestamp: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    proto::time::instant(timestamp?).ok()
}

/// A protobuf timestamp as RFC 3339 text in UTC, or JSON null.
pub fn timestamp_json(timestamp: Option<&prost_types::Timestamp>) -> Value {
    instant(timestamp).map_or(Value::Null, |at| {
        Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    })
}

/// A protobuf duration in milliseconds.
pub fn duration_ms(duration: Option<&prost_types::Duration>) -> Option<i64> {
    let duration = duration?;
    Some(
        duration
            .seconds
            .saturating_mul(1000)
            .saturating_add(i64::from(duration.nanos / 1_000_000)),
    )
}

/// `text` when `condition` holds, else nothing: an optional part of a line.
fn when(condition: bool, text: &'static str) -> &'static str {
    if condition {
        text
    } else {
        ""
    }
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "–".to_owned()
    } else {
        text
    }
}

impl View {
    /// An instant as "2026-11-02 10:00 +08:00" in the view's offset, or "–". Every time the
    /// command line shows names its zone, so no reader wonders whether it is UTC.
    pub fn time(&self, timestamp: Option<&prost_types::Timestamp>) -> String {
        self.format_time(timestamp, TIME_FORMAT)
    }

    /// An instant as "2026-11-02 10:00:05 +08:00" in the view's offset, or "–".
    pub fn time_seconds(&self, timestamp: Option<&prost_types::Timestamp>) -> String {
        self.format_time(timestamp, "%Y-%m-%d %H:%M:%S %:z")
    }

    /// An instant in `format` in the view's offset, or "–".
    fn format_time(&self, timestamp: Option<&prost_types::Timestamp>, format: &str) -> String {
        instant(timestamp).map_or_else(
            || "–".to_owned(),
            |at| at.with_timezone(&self.offset).format(format).to_string(),
        )
    }

    fn instant_text(&self, at: DateTime<Utc>) -> String {
        at.with_timezone(&self.offset)
            .format(TIME_FORMAT)
            .to_string()
    }
}

fn stars(score: u32) -> String {
    let score = score.min(5) as usize;
    format!("{}{}", "★".repeat(score), "☆".repeat(5 - score))
}
