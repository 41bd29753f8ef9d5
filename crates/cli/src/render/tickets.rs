//! Tickets: the table, one ticket in detail or as JSON, and suggested duplicates.

use super::{duration_ms, instant, or_dash, stars, timestamp_json, View};
use crate::names::{
    content_type_text, kind_text, language_text, outcome_text, priority_text, scope_text, sla_text,
    step_text,
};
use crate::style::Paint;
use crate::table::{key_values, truncate, Table};
use proto::v1;
use serde_json::{json, Value};

/// The deadline a ticket is working towards now: respond-by until it is acknowledged, then
/// resolve-by until a solution is accepted; `None` after that.
pub fn next_due(ticket: &v1::Ticket) -> Option<&prost_types::Timestamp> {
    if ticket.step == v1::Step::Archive as i32 {
        return None;
    }
    if ticket.responded_at.is_none() {
        ticket.respond_by.as_ref()
    } else if ticket.resolved_at.is_none() {
        ticket.resolve_by.as_ref()
    } else {
        None
    }
}

/// Tickets as a table: one line each.
pub fn ticket_table(tickets: &[v1::Ticket], view: &View) -> String {
    let mut table = Table::new(&[
        "TICKET",
        "STEP",
        "PRIORITY",
        "KIND",
        "DEPARTMENT",
        "ASSIGNEE",
        "SLA",
        "DUE",
        "CONTENT",
    ]);
    for ticket in tickets {
        table.row(vec![
            ticket.ticket_id.clone(),
            step_text(ticket.step),
            or_dash(priority_text(ticket.priority)),
            or_dash(kind_text(ticket.kind)),
            or_dash(ticket.department.clone()),
            or_dash(ticket.assignee.clone()),
            view.style.sla(&sla_text(ticket.sla_state)),
            next_due(ticket).map_or_else(|| "–".to_owned(), |due| view.time(Some(due))),
            truncate(&ticket.content, 40),
        ]);
    }
    if table.is_empty() {
        return "no tickets\n".to_owned();
    }
    table.render()
}

/// One ticket in detail.
pub fn ticket_detail(ticket: &v1::Ticket, view: &View) -> String {
    let mut department = or_dash(ticket.department.clone());
    if !ticket.helpers.is_empty() {
        department.push_str(&format!(" (helped by {})", ticket.helpers.join(", ")));
    }
    let deadline = |due: Option<&prost_types::Timestamp>,
                    done: Option<&prost_types::Timestamp>,
                    verb: &str| {
        match instant(done) {
            Some(_) => format!("{} ({verb} {})", view.time(due), view.time(done)),
            None => view.time(due),
        }
    };
    let mut sla = view.style.sla(&sla_text(ticket.sla_state));
    if ticket.sla_paused {
        sla.push_str(" (paused)");
    }
    let mut pairs: Vec<(&str, String)> = vec![
        ("ticket", view.style.paint(Paint::Bold, &ticket.ticket_id)),
        (
            "step",
            format!(
                "{} (round {}, version {})",
                step_text(ticket.step),
                ticket.round.max(1),
                ticket.version
            ),
        ),
        ("channel", or_dash(ticket.channel.clone())),
        ("customer", customer_text(ticket)),
        ("received", view.time(ticket.created_at.as_ref())),
        ("classification", classification_text(ticket)),
        ("keywords", or_dash(ticket.keywords.join(", "))),
        ("product", or_dash(ticket.product.clone())),
        ("order", or_dash(ticket.order_id.clone())),
        ("department", department),
        ("assignee", or_dash(ticket.assignee.clone())),
        (
            "respond by",
            deadline(
                ticket.respond_by.as_ref(),
                ticket.responded_at.as_ref(),
                "responded",
            ),
        ),
        (
            "resolve by",
            deadline(
                ticket.resolve_by.as_ref(),
                ticket.resolved_at.as_ref(),
                "resolved",
            ),
        ),
        ("sla", sla),
    ];
    if ticket.vip {
        let text = "yes: each deadline is the stricter of [sla.vip] and the rest";
        pairs.push(("vip", text.to_owned()));
    }
    if !ticket.terms.is_empty() {
        pairs.push(("terms", ticket.terms.join(", ")));
    }
    if !ticket.classification_model_version.is_empty() {
        pairs.push(("classifier", ticket.classification_model_version.clone()));
    }
    if let Some(evaluation) = &ticket.evaluation {
        pairs.push((
            "evaluation",
            format!(
                "score {} ({}): feasibility {}, cost {}, benefit {}",
                evaluation.score,
                evaluation.band,
                evaluation.feasibility,
                evaluation.cost,
                evaluation.benefit
            ),
        ));
    }
    if let Some(delivery) = &ticket.delivery {
        pairs.push(("delivered", delivery.delivered_on.clone()));
    }
    if let Some(award) = &ticket.award {
        pairs.push((
            "award",
            format!("{} rank {} ({})", award.month, award.rank, award.reward),
        ));
    }
    push_outcome_pairs(ticket, view, &mut pairs);
    let mut text = key_values(&pairs);
    text.push('\n');
    for line in ticket.content.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    if let Some(suggestion) = &ticket.suggestion {
        text.push_str(&suggestion_text(&ticket.ticket_id, suggestion));
    }
    if !ticket.notes.is_empty() {
        text.push_str("\nnotes\n");
        for note in &ticket.notes {
            let to = if note.to_customer {
                "to customer"
            } else {
                "to team"
            };
            let mut lines = note.text.lines();
            text.push_str(&format!(
                "  {}  {to:<11}  {}\n",
                view.time(note.at.as_ref()),
                lines.next().unwrap_or_default()
            ));
            for line in lines {
                text.push_str(&format!("  {:width$}  {line}\n", "", width = 11 + 2 + 16));
            }
        }
    }
    text
}

/// The trained classifier's suggestion: each field's values with their probabilities, and
/// the command that confirms it.
pub fn suggestion_text(ticket_id: &str, suggestion: &v1::ClassificationSuggestion) -> String {
    let values = |values: &[v1::SuggestedValue]| {
        values
            .iter()
            .map(|value| format!("{} {:.0}%", value.value, value.probability * 100.0))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let mut text = format!(
        "\nsuggested by the classifier {} (confidence {:.0}%)\n",
        suggestion.model_version,
        suggestion.confidence * 100.0
    );
    for (field, suggested) in [
        ("kind", &suggestion.kind),
        ("content type", &suggestion.content_type),
        ("priority", &suggestion.priority),
        ("department", &suggestion.department),
    ] {
        text.push_str(&format!("  {field:<13} {}\n", values(suggested)));
    }
    if suggestion.priority_floor != 0 {
        text.push_str(&format!(
            "  (priority raised to {} by the safety and outage keywords)\n",
            priority_text(suggestion.priority_floor)
        ));
    }
    text.push_str(&format!("  confirm: cloop classify {ticket_id} --accept\n"));
    text
}

/// The suggestion as JSON: per field the values with their probabilities.
fn suggestion_json(suggestion: &v1::ClassificationSuggestion) -> Value {
    let values = |values: &[v1::SuggestedValue]| -> Vec<Value> {
        values
            .iter()
            .map(|value| json!({"value": value.value, "probability": value.probability}))
            .collect()
    };
    json!({
        "model_version": suggestion.model_version,
        "confidence": suggestion.confidence,
        "kind": values(&suggestion.kind),
        "content_type": values(&suggestion.content_type),
        "priority": values(&suggestion.priority),
        "department": values(&suggestion.department),
        "suggested_at": timestamp_json(suggestion.suggested_at.as_ref()),
    })
}

/// Who the customer is and how to reach them; anonymous feedback says it cannot be told.
fn customer_text(ticket: &v1::Ticket) -> String {
    let reach = customer_reach(ticket);
    match (ticket.cannot_be_told, reach.is_empty()) {
        (true, true) => "anonymous: cannot be told (no contact given)".to_owned(),
        (true, false) => format!("{reach} (cannot be told: no contact given)"),
        (false, _) => or_dash(reach),
    }
}

/// How to reach the customer: name, phone, e-mail, WeChat and customer id, as known.
fn customer_reach(ticket: &v1::Ticket) -> String {
    let customer = ticket.customer.clone().unwrap_or_default();
    let reach: Vec<String> = [
        customer.name.clone(),
        customer.phone.clone(),
        customer.email.clone(),
        customer
            .wechat_openid
            .is_empty()
            .then(String::new)
            .unwrap_or_else(|| format!("wechat {}", customer.wechat_openid)),
        customer
            .customer_id
            .is_empty()
            .then(String::new)
            .unwrap_or_else(|| format!("id {}", customer.customer_id)),
    ]
    .into_iter()
    .filter(|part| !part.is_empty())
    .collect();
    reach.join(", ")
}

/// "complaint · product · urgent · individual · complex", or "not classified yet".
fn classification_text(ticket: &v1::Ticket) -> String {
    if ticket.kind == 0 {
        return "not classified yet".to_owned();
    }
    format!(
        "{} · {} · {} · {}{}",
        kind_text(ticket.kind),
        content_type_text(ticket.content_type),
        priority_text(ticket.priority),
        scope_text(ticket.scope),
        if ticket.complex { " · complex" } else { "" }
    )
}

/// The lines of a ticket's later life, each when it applies: outcome and solution, decline,
/// review, escalation, archive, problem links.
fn push_outcome_pairs(ticket: &v1::Ticket, view: &View, pairs: &mut Vec<(&str, String)>) {
    if ticket.outcome != 0 {
        let mut outcome = outcome_text(ticket.outcome);
        if ticket.awaiting_approval {
            outcome.push_str(" (waiting for the head's approval)");
        }
        pairs.push(("outcome", outcome));
        pairs.push(("solution", truncate(&ticket.solution, 100)));
    }
    if !ticket.decline_reason.is_empty() {
        pairs.push(("declined because", truncate(&ticket.decline_reason, 100)));
    }
    if !ticket.rejection_comment.is_empty() {
        pairs.push((
            "rejected because",
            view.style
                .paint(Paint::Red, &truncate(&ticket.rejection_comment, 100)),
        ));
    }
    if ticket.satisfaction > 0 {
        let mut review = format!("{} {}/5", stars(ticket.satisfaction), ticket.satisfaction);
        if !ticket.review_comment.is_empty() {
            review.push_str(&format!(": {}", truncate(&ticket.review_comment, 80)));
        }
        pairs.push(("review", review));
    }
    if ticket.escalated {
        pairs.push((
            "escalated",
            view.style
                .paint(Paint::Red, &or_dash(ticket.escalation_reason.clone())),
        ));
    }
    if ticket.archived_at.is_some() {
        pairs.push(("archived", view.time(ticket.archived_at.as_ref())));
    }
    if !ticket.parent_ticket_id.is_empty() {
        let how = if ticket.merged_duplicate {
            "merged into"
        } else {
            "linked to"
        };
        pairs.push(("problem", format!("{how} {}", ticket.parent_ticket_id)));
    }
    if ticket.children_count > 0 {
        pairs.push((
            "reporters",
            format!(
                "{} ({} linked tickets)",
                ticket.children_count + 1,
                ticket.children_count
            ),
        ));
    }
}

/// One ticket as JSON, every field with its stable name.
pub fn ticket_json(ticket: &v1::Ticket) -> Value {
    let customer = ticket.customer.clone().unwrap_or_default();
    let mut value = json!({
        "ticket_id": ticket.ticket_id,
        "version": ticket.version,
        "step": step_text(ticket.step),
        "channel": ticket.channel,
        "customer": {
            "customer_id": customer.customer_id,
            "name": customer.name,
            "phone": customer.phone,
            "email": customer.email,
            "wechat_openid": customer.wechat_openid,
        },
        "content": ticket.content,
        "kind": kind_text(ticket.kind),
        "content_type": content_type_text(ticket.content_type),
        "priority": priority_text(ticket.priority),
        "scope": scope_text(ticket.scope),
        "department": ticket.department,
        "complex": ticket.complex,
        "classification_confidence": ticket.classification_confidence,
        "department": ticket.department,
        "helpers": ticket.helpers,
        "respond_by": timestamp_json(ticket.respond_by.as_ref()),
        "resolve_by": timestamp_json(ticket.resolve_by.as_ref()),
        "responded_at": timestamp_json(ticket.responded_at.as_ref()),
        "resolved_at": timestamp_json(ticket.resolved_at.as_ref()),
        "sla_state": sla_text(ticket.sla_state),
        "sla_paused": ticket.sla_paused,
        "paused_for_ms": duration_ms(ticket.paused_for.as_ref()),
        "round": ticket.round,
        "outcome": outcome_text(ticket.outcome),
        "solution": ticket.solution,
        "decline_reason": ticket.decline_reason,
        "awaiting_approval": ticket.awaiting_approval,
        "satisfaction": ticket.satisfaction,
        "review_comment": ticket.review_comment,
        "escalated": ticket.escalated,
        "escalation_reason": ticket.escalation_reason,
        "created_at": timestamp_json(ticket.created_at.as_ref()),
        "updated_at": timestamp_json(ticket.updated_at.as_ref()),
        "archived_at": timestamp_json(ticket.archived_at.as_ref()),
        "occurred_at": timestamp_json(ticket.occurred_at.as_ref()),
        "feedback_id": ticket.feedback_id,
        "external_id": ticket.external_id,
        "product": ticket.product,
        "order_id": ticket.order_id,
        "attributes": ticket.attributes,
        "language": language_text(ticket.language),
    });
    value["vip"] = json!(ticket.vip);
    let notes: Vec<Value> = ticket
        .notes
        .iter()
        .map(|note| {
            json!({
                "text": note.text,
                "to_customer": note.to_customer,
                "round": note.round,
                "at": timestamp_json(note.at.as_ref()),
            })
        })
        .collect();
    // Problem links appear only on tickets that have them.
    if let Value::Object(fields) = &mut value {
        if let Some(suggestion) = &ticket.suggestion {
            fields.insert("suggestion".to_owned(), suggestion_json(suggestion));
        }
        if !ticket.terms.is_empty() {
            fields.insert("terms".to_owned(), json!(ticket.terms));
        }
        if !ticket.classification_model_version.is_empty() {
            fields.insert(
                "classification_model_version".to_owned(),
                json!(ticket.classification_model_version),
            );
        }
        pipeline_json(ticket, fields);
        if !ticket.parent_ticket_id.is_empty() {
            fields.insert(
                "parent_ticket_id".to_owned(),
                json!(ticket.parent_ticket_id),
            );
            fields.insert(
                "merged_duplicate".to_owned(),
                json!(ticket.merged_duplicate),
            );
        }
        if ticket.children_count > 0 {
            fields.insert("children_count".to_owned(), json!(ticket.children_count));
        }
    }
    if let Some(fields) = value.as_object_mut() {
        fields.insert("assignee".to_owned(), json!(ticket.assignee));
        fields.insert("notes".to_owned(), Value::Array(notes));
        fields.insert(
            "rejection_comment".to_owned(),
            json!(ticket.rejection_comment),
        );
        fields.insert("cannot_be_told".to_owned(), json!(ticket.cannot_be_told));
    }
    value
}

/// Suggested duplicates: each ticket with its keyword overlap.
pub fn similar_table(tickets: &[v1::Ticket], scores: &[f64], view: &View) -> String {
    let mut table = Table::new(&[
        "TICKET",
        "SIMILARITY",
        "STEP",
        "DEPARTMENT",
        "RECEIVED",
        "CONTENT",
    ]);
    for (ticket, score) in tickets.iter().zip(scores) {
        table.row(vec![
            ticket.ticket_id.clone(),
            format!("{:.0}%", score * 100.0),
            step_text(ticket.step),
            or_dash(ticket.department.clone()),
            view.time(ticket.created_at.as_ref()),
            truncate(&ticket.content, 40),
        ]);
    }
    if table.is_empty() {
        return "no similar open tickets\n".to_owned();
    }
    table.render()
}

/// The suggestion pipeline's fields of a ticket as JSON, where it has them: `evaluation`,
/// `delivery`, `award`.
fn pipeline_json(ticket: &v1::Ticket, fields: &mut serde_json::Map<String, Value>) {
    if let Some(evaluation) = &ticket.evaluation {
        fields.insert(
            "evaluation".to_owned(),
            json!({
                "feasibility": evaluation.feasibility,
                "cost": evaluation.cost,
                "benefit": evaluation.benefit,
                "score": evaluation.score,
                "band": evaluation.band,
                "note": evaluation.note,
                "at": timestamp_json(evaluation.evaluated_at.as_ref()),
            }),
        );
    }
    if let Some(delivery) = &ticket.delivery {
        fields.insert(
            "delivery".to_owned(),
            json!({ "delivered_on": delivery.delivered_on, "note": delivery.note }),
        );
    }
    if let Some(award) = &ticket.award {
        fields.insert(
            "award".to_owned(),
            json!({
                "month": award.month,
                "rank": award.rank,
                "score": award.score,
                "reward": award.reward,
            }),
        );
    }
}
