//! The queue: which tickets (the filters of the page, as the workflow's `TicketFilter`) and
//! which page. The order (overdue first, then warning, then the nearest deadline) and the
//! paging are the workflow's (`ListTickets` with `TICKET_ORDER_URGENCY`): the console asks
//! for one page and links to the next with the workflow's page token.

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
    /// The page token the page starts after (empty: the first page).
    pub after: String,
    /// The starts of the earlier pages, comma-separated, oldest first (for "previous").
    pub back: String,
    /// The number of the page (for showing; from 1).
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

/// How many earlier pages' starts a queue link remembers (for "previous"); beyond that,
/// "previous" leads to the first page.
pub const TRAIL: usize = 20;

/// One page of the queue, in the workflow's urgency order.
#[derive(Debug, Default)]
pub struct QueuePage {
    pub tickets: Vec<v1::Ticket>,
    /// From 1.
    pub page: usize,
    /// The query of the next page, when there is one.
    pub next: Option<QueueQuery>,
    /// The query of the previous page, when this is not the first.
    pub previous: Option<QueueQuery>,
}

impl QueueQuery {
    /// The starts of the earlier pages, oldest first (`-` is the first page).
    fn trail(&self) -> Vec<&str> {
        self.back
            .split(',')
            .map(str::trim)
            .filter(|start| !start.is_empty())
            .collect()
    }

    /// The query of the page after this one, which starts after `token`.
    pub fn next_page(&self, token: &str) -> QueueQuery {
        let mut trail = self.trail();
        trail.push(if self.after.is_empty() {
            "-"
        } else {
            &self.after
        });
        let skip = trail.len().saturating_sub(TRAIL);
        QueueQuery {
            after: token.to_owned(),
            back: trail[skip..].join(","),
            page: Some(self.page.unwrap_or(1) + 1),
            ..self.clone()
        }
    }

    /// The query of the page before this one; `None` on the first page.
    pub fn previous_page(&self) -> Option<QueueQuery> {
        if self.after.is_empty() {
            return None;
        }
        let mut trail = self.trail();
        let start = trail.pop().filter(|start| *start != "-");
        let page = self.page.unwrap_or(2).saturating_sub(1).max(1);
        Some(QueueQuery {
            after: start.unwrap_or_default().to_owned(),
            back: trail.join(","),
            // A trail cut short leads to the first page.
            page: Some(if start.is_none() { 1 } else { page }),
            ..self.clone()
        })
    }

    /// The query string of these filters and this page's place, for links and live updates.
    pub fn page_query_string(&self) -> String {
        let mut pairs = vec![self.query_string()];
        if !self.after.is_empty() {
            pairs.push(format!("after={}", encode(&self.after)));
        }
        if !self.back.is_empty() {
            pairs.push(format!("back={}", encode(&self.back)));
        }
        if let Some(page) = self.page.filter(|page| *page > 1) {
            pairs.push(format!("page={page}"));
        }
        pairs.retain(|pair| !pair.is_empty());
        pairs.join("&")
    }
}

/// Reads one page of `page_size` matching tickets with the person's token, in the workflow's
/// urgency order (overdue, then warning, then the nearest deadline), starting after the
/// query's `after` token. Archived tickets are left out by the workflow unless the step
/// asked for is `archive`.
pub async fn load(
    backend: &crate::backend::Backend,
    token: &str,
    query: &QueueQuery,
    page_size: usize,
) -> Result<QueuePage, ConsoleError> {
    let mut filter = query.filter()?;
    filter.open_only = !query.shows_archived();
    let response = backend
        .tickets()
        .list_tickets(as_person(
            token,
            v1::ListTicketsRequest {
                filter: Some(filter),
                page_size: u32::try_from(page_size).unwrap_or(u32::MAX),
                page_token: query.after.clone(),
                order: v1::TicketOrder::Urgency as i32,
            },
        )?)
        .await
        .map_err(|status| match status.code() {
            tonic::Code::InvalidArgument if status.message().contains("page_token") => {
                ConsoleError::BadRequest(format!("after: {}", status.message()))
            }
            _ => ConsoleError::Rpc(status),
        })?
        .into_inner();
    let next =
        (!response.next_page_token.is_empty()).then(|| query.next_page(&response.next_page_token));
    Ok(QueuePage {
        tickets: response.tickets,
        page: if query.after.is_empty() {
            1
        } else {
            query.page.unwrap_or(2).max(2)
        },
        next,
        previous: query.previous_page(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_and_previous_pages_keep_the_filters_and_the_trail() {
        let first = QueueQuery {
            step: "handle".into(),
            ..QueueQuery::default()
        };
        assert_eq!(first.previous_page(), None);
        assert_eq!(first.page_query_string(), "step=handle");
        let second = first.next_page("u.0.5.7");
        assert_eq!(
            second.page_query_string(),
            "step=handle&after=u.0.5.7&back=-&page=2"
        );
        let third = second.next_page("u.2.9.11");
        assert_eq!((third.back.as_str(), third.page), ("-,u.0.5.7", Some(3)));
        assert_eq!(third.previous_page(), Some(second.clone()));
        assert_eq!(
            second
                .previous_page()
                .map(|query| query.page_query_string()),
            Some("step=handle".to_owned())
        );
        // A long way down, the trail keeps the last TRAIL starts; "previous" still works
        // for those, and then leads to the first page.
        let mut deep = first.clone();
        for n in 0..TRAIL + 5 {
            deep = deep.next_page(&format!("u.2.{n}.{n}"));
        }
        assert_eq!(deep.trail().len(), TRAIL);
        assert_eq!(deep.page, Some(TRAIL + 6));
        let mut back = deep;
        for _ in 0..TRAIL {
            back = back.previous_page().expect("a previous page");
        }
        assert_eq!(back.trail().len(), 0);
        let first_again = back.previous_page().expect("the first page");
        assert_eq!(
            (first_again.after.as_str(), first_again.page),
            ("", Some(1))
        );
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
            ..QueueQuery::default()
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
