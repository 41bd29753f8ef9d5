//! What a list of tickets asks for and what it answers, the same for every backend's read
//! models: the filter, a page, and the helpers both backends' list queries share.

use crate::error::ProjectionError;
use crate::order::{token_after, ListOrder, UrgencyKey};
use chrono::{DateTime, Utc};
use domain::ticket::Ticket;
use domain::types::{ContentType, Kind, Priority, Scope, SlaState, Step};

/// Which tickets a list or a watch is about. `None` matches everything; every field that is
/// set must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketFilter {
    pub step: Option<Step>,
    pub department: Option<String>,
    pub priority: Option<Priority>,
    pub kind: Option<Kind>,
    pub content_type: Option<ContentType>,
    pub channel: Option<String>,
    pub sla_state: Option<SlaState>,
    pub scope: Option<Scope>,
    pub customer_id: Option<String>,
    pub ticket_id: Option<String>,
    /// Created at or after this instant.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before this instant.
    pub created_to: Option<DateTime<Utc>>,
    /// Words that must all occur in the content, product, order id or keywords.
    pub text: Option<String>,
    /// Only tickets this department leads or helps with (agents and heads see no others).
    pub involving_department: Option<String>,
    /// Only tickets assigned to this person.
    pub assignee: Option<String>,
    /// Leaves archived tickets out.
    pub open_only: bool,
}

fn contains_folded(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

impl TicketFilter {
    /// The words of the text filter.
    pub fn terms(&self) -> Vec<String> {
        self.text
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// Whether `ticket` matches, by the same rules as the SQL of the lists (the SQLite list of
    /// the workflow's queries and [`crate::shared::SharedReads::list_blocking`]).
    pub fn matches(&self, ticket: &Ticket) -> bool {
        let text_matches = self.terms().iter().all(|term| {
            contains_folded(&ticket.content, term)
                || ticket
                    .product
                    .as_deref()
                    .is_some_and(|product| contains_folded(product, term))
                || ticket
                    .order_id
                    .as_deref()
                    .is_some_and(|order| contains_folded(order, term))
                || contains_folded(&ticket.keywords.join(" "), term)
        });
        let created = ticket.created_at;
        self.step.is_none_or(|step| ticket.step == step)
            && self
                .department
                .as_deref()
                .is_none_or(|department| ticket.department.as_deref() == Some(department))
            && self
                .priority
                .is_none_or(|value| ticket.priority == Some(value))
            && self.kind.is_none_or(|value| ticket.kind == Some(value))
            && self
                .content_type
                .is_none_or(|value| ticket.content_type == Some(value))
            && self
                .channel
                .as_deref()
                .is_none_or(|channel| ticket.channel == channel)
            && self.sla_state.is_none_or(|value| ticket.sla_state == value)
            && self.scope.is_none_or(|value| ticket.scope == Some(value))
            && self
                .customer_id
                .as_deref()
                .is_none_or(|id| ticket.customer.customer_id.as_deref() == Some(id))
            && self
                .ticket_id
                .as_deref()
                .is_none_or(|id| ticket.id_text() == id)
            && self
                .created_from
                .is_none_or(|from| created.is_some_and(|created| created >= from))
            && self
                .created_to
                .is_none_or(|to| created.is_some_and(|created| created < to))
            && self
                .involving_department
                .as_deref()
                .is_none_or(|department| ticket.involves_department(department))
            && self
                .assignee
                .as_deref()
                .is_none_or(|person| ticket.assignee.as_deref() == Some(person))
            && !(self.open_only && ticket.is_archived())
            // Expired tickets have left every list (see `retention`).
            && !ticket.retention_expired
            && text_matches
    }
}

/// One page of tickets and where the next page starts.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketPage {
    pub tickets: Vec<Ticket>,
    /// The token of the next page; `None` when this was the last.
    pub next_page_token: Option<String>,
}

/// `%term%` for `LIKE ... ESCAPE '\\'`, with the wildcards of `term` escaped.
pub fn like_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for symbol in term.chars() {
        if matches!(symbol, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(symbol);
    }
    pattern.push('%');
    pattern
}

/// The columns every list reads, in this order: the key of the urgency order, then the
/// ticket.
pub const LIST_COLUMNS: &str = "seq, urgency_rank, next_deadline_ms, state_json";

/// A page of the `(key, state_json)` rows a list in `order` read (at most one more than
/// `page_size`, which tells that another page follows).
pub fn page_of(
    mut found: Vec<(UrgencyKey, String)>,
    page_size: u32,
    order: ListOrder,
) -> Result<TicketPage, ProjectionError> {
    let more = found.len() > usize::try_from(page_size).unwrap_or(usize::MAX);
    found.truncate(usize::try_from(page_size).unwrap_or(usize::MAX));
    let next_page_token = if more {
        found.last().map(|(key, _)| token_after(order, *key))
    } else {
        None
    };
    let mut tickets = Vec::with_capacity(found.len());
    for (_, json) in found {
        tickets.push(
            serde_json::from_str(&json)
                .map_err(|error| ProjectionError::Corrupt(format!("stored ticket: {error}")))?,
        );
    }
    Ok(TicketPage {
        tickets,
        next_page_token,
    })
}
