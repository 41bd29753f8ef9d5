//! Adopted suggestions for public display.

use super::{timestamp_json, View};
use crate::names::outcome_text;
use crate::table::{truncate, Table};
use proto::v1;
use serde_json::{json, Value};

/// Adopted suggestions for public display.
pub fn adopted_table(suggestions: &[v1::AdoptedSuggestion], view: &View) -> String {
    let mut table = Table::new(&[
        "ADOPTED",
        "TICKET",
        "DEPARTMENT",
        "CUSTOMER",
        "OUTCOME",
        "REWARD",
        "SUGGESTION",
    ]);
    for suggestion in suggestions {
        table.row(vec![
            view.time(suggestion.adopted_at.as_ref()),
            suggestion.ticket_id.clone(),
            suggestion.department.clone(),
            suggestion.customer_display_name.clone(),
            outcome_text(suggestion.outcome),
            reward_text(suggestion, view),
            truncate(&suggestion.content, 40),
        ]);
    }
    if table.is_empty() {
        return "no adopted suggestions\n".to_owned();
    }
    table.render()
}

/// One adopted suggestion as JSON.
pub fn adopted_json(suggestion: &v1::AdoptedSuggestion) -> Value {
    json!({
        "ticket_id": suggestion.ticket_id,
        "department": suggestion.department,
        "content": suggestion.content,
        "product": suggestion.product,
        "solution": suggestion.solution,
        "adopted_at": timestamp_json(suggestion.adopted_at.as_ref()),
        "customer_told": suggestion.customer_told,
        "customer_display_name": suggestion.customer_display_name,
        "outcome": outcome_text(suggestion.outcome),
        "reward": if suggestion.reward_kind.is_empty() {
            Value::Null
        } else {
            json!({
                "kind": suggestion.reward_kind,
                "amount": suggestion.reward_amount,
                "valid_until": timestamp_json(suggestion.reward_valid_until.as_ref()),
            })
        },
    })
}

/// The reward of an adopted suggestion as "100 points until 2026-04-15", or "–".
fn reward_text(suggestion: &v1::AdoptedSuggestion, view: &View) -> String {
    if suggestion.reward_kind.is_empty() {
        return "–".to_owned();
    }
    format!(
        "{} {} until {}",
        suggestion.reward_amount,
        suggestion.reward_kind,
        view.time(suggestion.reward_valid_until.as_ref())
    )
}
