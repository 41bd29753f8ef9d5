//! The workflow's limits on what one request or one principal may hold (OWASP API4), beside
//! the per-principal rate limit that the authenticator applies to every call:
//!
//! - open watches per principal (`WatchTickets`, `ReadEvents` with `follow`): a watch holds a
//!   slot for as long as its response stream lives, so the slot comes back when the stream
//!   ends, fails or the client goes away (tonic drops the stream). Over the cap: RESOURCE_
//!   EXHAUSTED naming `workflow_service.max_watches_per_principal`;
//! - the text search of a ticket filter (`ListTickets`, `WatchTickets`): at most
//!   `max_search_chars` characters and `max_search_terms` words (each word is one index
//!   lookup, a word under three characters a scan), and the other text fields of the filter
//!   at most [`MAX_FILTER_FIELD_CHARS`]: INVALID_ARGUMENT naming the field and the maximum.
//!
//! Page sizes are clamped, not refused (see `TicketsService::page_size`).

use domain::command::MAX_SHORT_CHARS;
use domain::DomainError;
use futures::{Stream, StreamExt};
use prometheus::{IntCounter, IntGauge, Registry};
use proto::v1;
use service::status_from;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tonic::Status;

/// The longest value of the filter's exact-match text fields (department, channel,
/// customer_id, ticket_id, assignee), in characters.
pub const MAX_FILTER_FIELD_CHARS: usize = MAX_SHORT_CHARS;

/// The limits of the query side, shared by every clone of the services.
#[derive(Debug, Clone)]
pub struct QueryLimits {
    pub watches: WatchSlots,
    /// The longest `filter.text`, in characters.
    pub max_search_chars: usize,
    /// The most words in `filter.text`.
    pub max_search_terms: usize,
}

impl QueryLimits {
    pub fn new(max_watches: usize, max_search_chars: usize, max_search_terms: usize) -> Self {
        Self {
            watches: WatchSlots::new(max_watches),
            max_search_chars,
            max_search_terms,
        }
    }

    /// Exports `open_watches` (a gauge) and `watches_refused_total` in `registry`.
    pub fn with_metrics(mut self, registry: &Registry) -> Result<Self, prometheus::Error> {
        let open = IntGauge::new("open_watches", "watch streams open now")?;
        let refused = IntCounter::new(
            "watches_refused_total",
            "watches refused because their principal had max_watches_per_principal open",
        )?;
        registry.register(Box::new(open.clone()))?;
        registry.register(Box::new(refused.clone()))?;
        self.watches.metrics = Some((open, refused));
        Ok(self)
    }

    /// From the `[workflow_service]` settings.
    pub fn from_settings(settings: &crate::config::WorkflowSettings) -> Self {
        Self::new(
            settings.max_watches_per_principal,
            settings.max_search_chars,
            settings.max_search_terms,
        )
    }

    /// Refuses a filter whose text search or exact-match fields are over their limits.
    pub fn check_filter(&self, filter: Option<&v1::TicketFilter>) -> Result<(), Status> {
        let Some(filter) = filter else {
            return Ok(());
        };
        let chars = filter.text.chars().count();
        if chars > self.max_search_chars {
            return Err(status_from(DomainError::invalid(
                "filter.text",
                format!(
                    "is {chars} characters long; the most a search may have is {} \
                     (workflow_service.max_search_chars)",
                    self.max_search_chars
                ),
            )));
        }
        let terms = filter.text.split_whitespace().count();
        if terms > self.max_search_terms {
            return Err(status_from(DomainError::invalid(
                "filter.text",
                format!(
                    "has {terms} words; the most a search may have is {} \
                     (workflow_service.max_search_terms)",
                    self.max_search_terms
                ),
            )));
        }
        for (field, value) in [
            ("filter.department", &filter.department),
            ("filter.channel", &filter.channel),
            ("filter.customer_id", &filter.customer_id),
            ("filter.ticket_id", &filter.ticket_id),
            ("filter.assignee", &filter.assignee),
        ] {
            let chars = value.chars().count();
            if chars > MAX_FILTER_FIELD_CHARS {
                return Err(status_from(DomainError::invalid(
                    field,
                    format!("is {chars} characters long; the most is {MAX_FILTER_FIELD_CHARS}"),
                )));
            }
        }
        Ok(())
    }
}

/// How many watches each principal has open, and the cap.
#[derive(Debug, Clone)]
pub struct WatchSlots {
    max: usize,
    held: Arc<Mutex<HashMap<String, usize>>>,
    /// The gauge of open watches and the counter of refused ones, when exported.
    metrics: Option<(IntGauge, IntCounter)>,
}

impl WatchSlots {
    /// At most `max` open watches per principal; 0 means none at all.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            held: Arc::new(Mutex::new(HashMap::new())),
            metrics: None,
        }
    }

    /// Takes one of `principal`'s slots, or refuses with RESOURCE_EXHAUSTED naming the cap.
    pub fn take(&self, principal: &str) -> Result<WatchSlot, Status> {
        // A panic while the lock is held cannot leave a count half-written.
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let open = held.get(principal).copied().unwrap_or(0);
        if open >= self.max {
            if let Some((_, refused)) = &self.metrics {
                refused.inc();
            }
            return Err(Status::resource_exhausted(format!(
                "watch limit reached: principal {principal} has {open} open watches \
                 (WatchTickets, ReadEvents with follow), the most allowed is {} \
                 (workflow_service.max_watches_per_principal); close one first",
                self.max
            )));
        }
        held.insert(principal.to_owned(), open + 1);
        let gauge = self.metrics.as_ref().map(|(open, _)| open.clone());
        if let Some(gauge) = &gauge {
            gauge.inc();
        }
        Ok(WatchSlot {
            principal: principal.to_owned(),
            held: self.held.clone(),
            gauge,
        })
    }

    /// How many watches `principal` has open now.
    pub fn open(&self, principal: &str) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(principal)
            .copied()
            .unwrap_or(0)
    }

    /// How many watches are open in all.
    pub fn total(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .sum()
    }
}

/// One open watch; the slot is given back when this is dropped.
#[derive(Debug)]
pub struct WatchSlot {
    principal: String,
    held: Arc<Mutex<HashMap<String, usize>>>,
    gauge: Option<IntGauge>,
}

impl Drop for WatchSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(open) = held.get_mut(&self.principal) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                held.remove(&self.principal);
            }
        }
        if let Some(gauge) = &self.gauge {
            gauge.dec();
        }
    }
}

/// `stream`, holding `slot` until the stream is dropped: when it ends, or when tonic drops it
/// because the client went away.
pub fn holding<S>(stream: S, slot: WatchSlot) -> impl Stream<Item = S::Item> + Send
where
    S: Stream + Send,
{
    stream.map(move |item| {
        let _held = &slot;
        item
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_per_principal_and_come_back_when_dropped() {
        let slots = WatchSlots::new(2);
        let first = slots.take("a").expect("first");
        let second = slots.take("a").expect("second");
        let status = slots.take("a").expect_err("third is over the cap");
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert!(
            status
                .message()
                .contains("workflow_service.max_watches_per_principal"),
            "{status:?}"
        );
        assert!(
            status.message().contains("the most allowed is 2"),
            "{status:?}"
        );
        let other = slots.take("b").expect("b has its own slots");
        assert_eq!(slots.total(), 3);
        drop(first);
        assert_eq!(slots.open("a"), 1);
        let _again = slots.take("a").expect("a slot came back");
        drop(second);
        drop(other);
        assert_eq!(slots.open("b"), 0);
        assert_eq!(slots.total(), 1);
    }

    #[test]
    fn open_and_refused_watches_are_exported() {
        let registry = Registry::new();
        let limits = QueryLimits::new(1, 10, 2)
            .with_metrics(&registry)
            .expect("register");
        let slot = limits.watches.take("a").expect("first");
        assert!(limits.watches.take("a").is_err());
        let text = service::metrics::render(&registry);
        assert!(text.contains("open_watches 1"), "{text}");
        assert!(text.contains("watches_refused_total 1"), "{text}");
        drop(slot);
        let text = service::metrics::render(&registry);
        assert!(text.contains("open_watches 0"), "{text}");
    }

    #[tokio::test]
    async fn a_stream_holds_its_slot_until_it_is_dropped() {
        let slots = WatchSlots::new(1);
        let slot = slots.take("a").expect("slot");
        let mut stream = Box::pin(holding(futures::stream::iter([1, 2]), slot));
        assert_eq!(stream.next().await, Some(1));
        assert!(slots.take("a").is_err(), "held while the stream lives");
        drop(stream);
        assert!(slots.take("a").is_ok(), "given back with the stream");
    }

    #[test]
    fn long_or_wordy_searches_name_the_field_and_the_maximum() {
        let limits = QueryLimits::new(8, 20, 3);
        let ok = v1::TicketFilter {
            text: "快递 延误 破损".into(),
            ..Default::default()
        };
        assert!(limits.check_filter(Some(&ok)).is_ok());
        assert!(limits.check_filter(None).is_ok());
        let long = v1::TicketFilter {
            text: "长".repeat(21),
            ..Default::default()
        };
        let status = limits.check_filter(Some(&long)).expect_err("too long");
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("filter.text"), "{status:?}");
        assert!(status.message().contains("20"), "{status:?}");
        assert_eq!(
            service::status::field_of(&status).as_deref(),
            Some("filter.text")
        );
        let wordy = v1::TicketFilter {
            text: "a b c d".into(),
            ..Default::default()
        };
        let status = limits
            .check_filter(Some(&wordy))
            .expect_err("too many words");
        assert!(status.message().contains("max_search_terms"), "{status:?}");
        let customer = v1::TicketFilter {
            customer_id: "c".repeat(MAX_FILTER_FIELD_CHARS + 1),
            ..Default::default()
        };
        let status = limits.check_filter(Some(&customer)).expect_err("long id");
        assert_eq!(
            service::status::field_of(&status).as_deref(),
            Some("filter.customer_id")
        );
    }
}
