//! The receipt of one submission, as text and as JSON.

use super::{timestamp_json, View};
use crate::names::priority_text;
use crate::style::Paint;
use crate::table::key_values;
use proto::v1;
use serde_json::{json, Value};

/// The receipt of one submission.
pub fn submit_text(response: &v1::SubmitResponse, view: &View) -> String {
    let mut pairs = vec![
        ("ticket", view.style.paint(Paint::Bold, &response.ticket_id)),
        ("received", view.time(response.received_at.as_ref())),
        ("respond by", view.time(response.respond_by.as_ref())),
        ("resolve by", view.time(response.resolve_by.as_ref())),
    ];
    if response.cannot_be_told {
        pairs.push((
            "cannot be told",
            "yes: no contact given, no notice will be sent".to_owned(),
        ));
    }
    if response.duplicate {
        pairs.push((
            "duplicate",
            "yes: this submission was received before".to_owned(),
        ));
    }
    let mut text = key_values(&pairs);
    if !response.notice.is_empty() {
        text.push('\n');
        text.push_str(&response.notice);
        text.push('\n');
    }
    text
}

/// The receipt of one submission as JSON.
pub fn submit_json(response: &v1::SubmitResponse) -> Value {
    json!({
        "ticket_id": response.ticket_id,
        "feedback_id": response.feedback_id,
        "duplicate": response.duplicate,
        "received_at": timestamp_json(response.received_at.as_ref()),
        "respond_by": timestamp_json(response.respond_by.as_ref()),
        "resolve_by": timestamp_json(response.resolve_by.as_ref()),
        "priority": priority_text(response.priority),
        "notice": response.notice,
        "cannot_be_told": response.cannot_be_told,
    })
}
