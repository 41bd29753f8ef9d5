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
        "evaluation_score": suggestion.evaluation_score,
        "delivered_on": if suggestion.delivered_on.is_empty() {
            Value::Null
        } else {
            json!(suggestion.delivered_on)
        },
        "award": if suggestion.award_winner {
            json!({ "month": suggestion.award_month, "rank": suggestion.award_rank })
        } else {
            Value::Null
        },
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

/// The winners of a month's award, by rank.
pub fn awards_table(winners: &[v1::AdoptedSuggestion], view: &View) -> String {
    let mut table = Table::new(&[
        "RANK",
        "TICKET",
        "SCORE",
        "DEPARTMENT",
        "CUSTOMER",
        "ADOPTED",
        "DELIVERED",
        "SUGGESTION",
    ]);
    for winner in winners {
        table.row(vec![
            winner.award_rank.to_string(),
            winner.ticket_id.clone(),
            winner.evaluation_score.to_string(),
            winner.department.clone(),
            winner.customer_display_name.clone(),
            view.time(winner.adopted_at.as_ref()),
            if winner.delivered_on.is_empty() {
                "–".to_owned()
            } else {
                winner.delivered_on.clone()
            },
            truncate(&winner.content, 40),
        ]);
    }
    if table.is_empty() {
        return "no award winners\n".to_owned();
    }
    table.render()
}
