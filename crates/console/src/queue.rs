//! The queue: which tickets (the filters of the page, as the workflow's `TicketFilter`), in
//! which order (overdue first, then warning, then the nearest deadline) and which page.

use crate::backend::as_person;
use crate::error::ConsoleError;
use domain::types::{Priority, SlaState, Step};
use proto::v1;
use serde::Deserialize;

/// The query of `GET /queue` (and of its live updates).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct QueueQuery {
    /// A step name (`handle`), or empty for every open step.
    pub step: String,
    pub priority: String,
    /// `on_time`, `warning` or `breached`.
    pub sla: String,
    /// `1`: only tickets assigned to the person.
    pub mine: String,
    /// Words to find in the content, product, order id or keywords.
    pub q: String,
    /// From 1.
    pub page: Option<usize>,
}

impl QueueQuery {
    /// The workflow's filter; an unknown value is a bad request naming the parameter.
    pub fn filter(&self) -> Result<v1::TicketFilter, ConsoleError> {
        let bad = |name: &str, error: domain::DomainError| {
            ConsoleError::BadRequest(format!("{name}: {error}"))
        };
        let mut filter = v1::TicketFilter::default();
        if !self.step.trim().is_empty() {
            let step = Step::parse("step", &self.step).map_err(|error| bad("step", error))?;
            filter.step = v1::Step::from(step) as i32;
        }
        if !self.priority.trim().is_empty() {
            let priority = Priority::parse("priority", &self.priority)
                .map_err(|error| bad("priority", error))?;
            filter.priority = v1::Priority::from(priority) as i32;
        }
        if !self.sla.trim().is_empty() {
            let state = SlaState::parse("sla", &self.sla).map_err(|error| bad("sla", error))?;
            filter.sla_state = v1::SlaState::from(state) as i32;
        }
        if self.mine == "1" {
            filter.assignee = "@me".to_owned();
        }
        filter.text = self.q.trim().to_owned();
        Ok(filter)
    }

    /// Whether archived tickets belong on the page (only when their step is asked for).
    pub fn shows_archived(&self) -> bool {
        self.step.trim() == Step::Archive.as_str()
    }

    /// The query string of these filters (without the page), for links and live updates.
    pub fn query_string(&self) -> String {
        let mut pairs = Vec::new();
        for (key, value) in [
            ("step", &self.step),
            ("priority", &self.priority),
            ("sla", &self.sla),
            ("mine", &self.mine),
            ("q", &self.q),
        ] {
            if !value.trim().is_empty() {
                pairs.push(format!("{key}={}", encode(value.trim())));
            }
        }
        pairs.join("&")
    }
}

/// Percent-encoding of a query value.
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(char::from(byte));
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// The deadline that comes next: respond-by until the first response, then resolve-by.
pub fn next_deadline(ticket: &v1::Ticket) -> Option<&prost_types::Timestamp> {
    if ticket.responded_at.is_none() {
        ticket.respond_by.as_ref().or(ticket.resolve_by.as_ref())
    } else {
        ticket.resolve_by.as_ref()
    }
}

/// The order of the queue: overdue, then warning, then the rest; within each the nearest
/// deadline first (none last), then the ticket id.
pub fn sort_key(ticket: &v1::Ticket) -> (u8, i64, i32, String) {
    let rank = match v1::SlaState::try_from(ticket.sla_state) {
        Ok(v1::SlaState::Breached) => 0,
        Ok(v1::SlaState::Warning) => 1,
        _ => 2,
    };
    let (seconds, nanos) =
        next_deadline(ticket).map_or((i64::MAX, 0), |deadline| (deadline.seconds, deadline.nanos));
    (rank, seconds, nanos, ticket.ticket_id.clone())
}

/// Orders tickets as the queue shows them.
pub fn order(tickets: &mut [v1::Ticket]) {
    tickets.sort_by_cached_key(sort_key);
}

/// One page of the queue.
#[derive(Debug, Default)]
pub struct QueuePage {
    pub tickets: Vec<v1::Ticket>,
    /// Tickets matching in all (at most the fetch limit).
    pub total: usize,
    /// From 1.
    pub page: usize,
    pub pages: usize,
    /// The workflow had more than the fetch limit: only those were ordered.
    pub truncated: bool,
}

/// Cuts page `page` (from 1) of `size` out of ordered tickets.
pub fn paginate(
    mut tickets: Vec<v1::Ticket>,
    page: usize,
    size: usize,
    truncated: bool,
) -> QueuePage {
    let total = tickets.len();
    let pages = total.div_ceil(size).max(1);
    let page = page.clamp(1, pages);
    let start = (page - 1) * size;
    let end = (start + size).min(total);
    let tickets = if start < total {
        tickets.drain(start..end).collect()
    } else {
        Vec::new()
    };
    QueuePage {
        tickets,
        total,
        page,
        pages,
        truncated,
    }
}

/// Reads the matching tickets (up to `limit`) with the person's token, orders them and
/// returns the asked page.
pub async fn load(
    backend: &crate::backend::Backend,
    token: &str,
    query: &QueueQuery,
    page_size: usize,
    limit: usize,
) -> Result<QueuePage, ConsoleError> {
    let filter = query.filter()?;
    let mut client = backend.tickets();
    let mut tickets = Vec::new();
    let mut page_token = String::new();
    let mut truncated = false;
    loop {
        let response = client
            .list_tickets(as_person(
                token,
                v1::ListTicketsRequest {
                    filter: Some(filter.clone()),
                    page_size: 500,
                    page_token: page_token.clone(),
                },
            )?)
            .await
            .map_err(ConsoleError::Rpc)?
            .into_inner();
        let archived = v1::Step::Archive as i32;
        tickets.extend(
            response
                .tickets
                .into_iter()
                .filter(|ticket| query.shows_archived() || ticket.step != archived),
        );
        if tickets.len() >= limit {
            truncated = tickets.len() > limit || !response.next_page_token.is_empty();
            tickets.truncate(limit);
            break;
        }
        if response.next_page_token.is_empty() {
            break;
        }
        page_token = response.next_page_token;
    }
    order(&mut tickets);
    Ok(paginate(
        tickets,
        query.page.unwrap_or(1),
        page_size,
        truncated,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(
        id: &str,
        state: v1::SlaState,
        respond_by: Option<i64>,
        resolve_by: i64,
    ) -> v1::Ticket {
        v1::Ticket {
            ticket_id: id.to_owned(),
            sla_state: state as i32,
            respond_by: respond_by.map(|seconds| prost_types::Timestamp { seconds, nanos: 0 }),
            resolve_by: Some(prost_types::Timestamp {
                seconds: resolve_by,
                nanos: 0,
            }),
            ..v1::Ticket::default()
        }
    }

    fn ids(tickets: &[v1::Ticket]) -> Vec<&str> {
        tickets
            .iter()
            .map(|ticket| ticket.ticket_id.as_str())
            .collect()
    }

    #[test]
    fn overdue_first_then_warning_then_nearest_deadline() {
        let mut tickets = vec![
            ticket("late-resolve", v1::SlaState::OnTime, Some(500), 9_000),
            ticket("warn-far", v1::SlaState::Warning, Some(800), 9_000),
            ticket("ok-near", v1::SlaState::OnTime, Some(100), 9_000),
            ticket("breached", v1::SlaState::Breached, Some(900), 9_000),
            ticket("warn-near", v1::SlaState::Warning, Some(200), 9_000),
            ticket("no-deadline", v1::SlaState::Unspecified, None, 0),
        ];
        tickets[5].resolve_by = None;
        // After the first response the resolve-by deadline is the one that counts.
        let mut responded = ticket("responded", v1::SlaState::OnTime, Some(50), 300);
        responded.responded_at = Some(prost_types::Timestamp::default());
        tickets.push(responded);
        order(&mut tickets);
        assert_eq!(
            ids(&tickets),
            [
                "breached",
                "warn-near",
                "warn-far",
                "ok-near",
                "responded",
                "late-resolve",
                "no-deadline"
            ]
        );
    }

    #[test]
    fn pages_are_cut_and_clamped() {
        let tickets: Vec<v1::Ticket> = (0..5)
            .map(|n| ticket(&format!("t{n}"), v1::SlaState::OnTime, Some(n), 0))
            .collect();
        let page = paginate(tickets.clone(), 2, 2, false);
        assert_eq!(
            (ids(&page.tickets), page.total, page.pages),
            (vec!["t2", "t3"], 5, 3)
        );
        let last = paginate(tickets.clone(), 99, 2, false);
        assert_eq!((ids(&last.tickets), last.page), (vec!["t4"], 3));
        let empty = paginate(Vec::new(), 1, 2, false);
        assert_eq!((empty.total, empty.pages, empty.page), (0, 1, 1));
    }

    #[test]
    fn filters_become_the_workflows_filter() {
        let query = QueueQuery {
            step: "handle".into(),
            priority: "urgent".into(),
            sla: "breached".into(),
            mine: "1".into(),
            q: " 卡顿 & more ".into(),
            page: Some(2),
        };
        let filter = query.filter().expect("valid");
        assert_eq!(filter.step, v1::Step::Handle as i32);
        assert_eq!(filter.priority, v1::Priority::Urgent as i32);
        assert_eq!(filter.sla_state, v1::SlaState::Breached as i32);
        assert_eq!(filter.assignee, "@me");
        assert_eq!(filter.text, "卡顿 & more");
        assert_eq!(
            query.query_string(),
            "step=handle&priority=urgent&sla=breached&mine=1&q=%E5%8D%A1%E9%A1%BF%20%26%20more"
        );
        let wrong = QueueQuery {
            step: "nowhere".into(),
            ..QueueQuery::default()
        };
        assert!(
            matches!(wrong.filter(), Err(ConsoleError::BadRequest(reason)) if reason.starts_with("step"))
        );
    }
}
