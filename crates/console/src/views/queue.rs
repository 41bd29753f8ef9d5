//! The queue page: filters (a plain GET form), the table of tickets and the pager. The table
//! and pager are one fragment that the live-update script fetches again on every change.

use super::{priority, sla_badge, step, when};
use crate::i18n::{tr, value, Lang};
use crate::queue::{next_deadline, QueuePage, QueueQuery};
use chrono::FixedOffset;
use domain::types::{Priority, SlaState, Step};
use maud::{html, Markup};

/// The filter form.
pub fn filters(lang: Lang, query: &QueueQuery) -> Markup {
    let select = |name: &str, label: &str, group: &str, values: &[&str], chosen: &str| {
        html! {
            label {
                span { (label) }
                select name=(name) {
                    option value="" { (tr(lang, "queue.any")) }
                    @for item in values {
                        option value=(item) selected[*item == chosen] { (value(lang, group, item)) }
                    }
                }
            }
        }
    };
    let steps: Vec<&str> = Step::ALL.iter().map(|step| step.as_str()).collect();
    let priorities: Vec<&str> = Priority::ALL.iter().map(|p| p.as_str()).collect();
    let states: Vec<&str> = SlaState::ALL.iter().map(|s| s.as_str()).collect();
    html! {
        form method="get" action="/queue" class="filters" role="search" {
            (select("step", tr(lang, "field.step"), "step", &steps, query.step.trim()))
            (select("priority", tr(lang, "field.priority"), "priority", &priorities, query.priority.trim()))
            (select("sla", tr(lang, "field.sla"), "sla", &states, query.sla.trim()))
            label class="check" {
                input type="checkbox" name="mine" value="1" checked[query.mine == "1"];
                span { (tr(lang, "queue.mine")) }
            }
            label {
                span { (tr(lang, "queue.search")) }
                input type="search" name="q" value=(query.q);
            }
            button type="submit" { (tr(lang, "queue.filter")) }
        }
    }
}

/// The link to the queue with `query`.
fn link(query: &QueueQuery) -> String {
    let query = query.page_query_string();
    if query.is_empty() {
        "/queue".to_owned()
    } else {
        format!("/queue?{query}")
    }
}

/// The table and the pager: the part that live updates replace.
pub fn fragment(lang: Lang, page: &QueuePage, offset: FixedOffset) -> Markup {
    html! {
        @if page.tickets.is_empty() {
            p class="empty" { (tr(lang, "queue.empty")) }
        } @else {
            table class="queue" {
                thead { tr {
                    th scope="col" { (tr(lang, "field.ticket")) }
                    th scope="col" { (tr(lang, "field.sla")) }
                    th scope="col" { (tr(lang, "field.deadline")) }
                    th scope="col" { (tr(lang, "field.step")) }
                    th scope="col" { (tr(lang, "field.priority")) }
                    th scope="col" { (tr(lang, "field.department")) }
                    th scope="col" { (tr(lang, "field.content")) }
                } }
                tbody {
                    @for ticket in &page.tickets {
                        tr data-ticket=(ticket.ticket_id) {
                            td {
                                a href={ "/tickets/" (crate::queue::encode(&ticket.ticket_id)) } { (ticket.ticket_id) }
                                @if ticket.new_reply { " " span class="badge new-reply" { (tr(lang, "queue.new_reply")) } }
                            }
                            td { (sla_badge(lang, ticket.sla_state)) }
                            td class="nowrap" { (when(next_deadline(ticket), offset)) }
                            td class="nowrap" {
                                (step(lang, ticket.step))
                                @if ticket.suggestion.is_some() {
                                    " " span class="badge suggested" title=(tr(lang, "suggestion.title")) { (tr(lang, "queue.suggested")) }
                                }
                            }
                            td class="nowrap" { (priority(lang, ticket.priority)) }
                            td { (ticket.department) }
                            td class="content" { (excerpt(&ticket.content, 80)) }
                        }
                    }
                }
            }
        }
        @if page.previous.is_some() || page.next.is_some() {
            nav class="pager" aria-label=(tr(lang, "queue.page")) {
                @if let Some(previous) = &page.previous { a href=(link(previous)) rel="prev" { (tr(lang, "queue.previous")) } }
                span { (tr(lang, "queue.page")) " " (page.page) }
                @if let Some(next) = &page.next { a href=(link(next)) rel="next" { (tr(lang, "queue.next")) } }
            }
        }
    }
}

/// The first `chars` characters of a text, with an ellipsis when cut.
pub fn excerpt(text: &str, chars: usize) -> String {
    let mut cut: String = text.chars().take(chars).collect();
    if text.chars().nth(chars).is_some() {
        cut.push('…');
    }
    cut
}

/// The whole queue page's body.
pub fn body(lang: Lang, query: &QueueQuery, page: &QueuePage, offset: FixedOffset) -> Markup {
    let filters_query = query.query_string();
    let page_query = query.page_query_string();
    let separator = if page_query.is_empty() { "" } else { "&" };
    html! {
        h1 { (tr(lang, "queue.title")) }
        (filters(lang, query))
        p id="live-status" class="hint" data-updated=(tr(lang, "queue.updated")) { (tr(lang, "queue.live")) }
        div id="queue-body"
            data-events={ "/queue/events?" (filters_query) }
            data-fragment={ "/queue?" (page_query) (separator) "fragment=1" }
            aria-live="polite" {
            (fragment(lang, page, offset))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::v1;

    #[test]
    fn the_queue_escapes_content_and_keeps_filters_in_links() {
        let tickets: Vec<v1::Ticket> = (0..3)
            .map(|n| v1::Ticket {
                ticket_id: format!("T{n}"),
                content: "<script>x</script>\"'".into(),
                ..v1::Ticket::default()
            })
            .collect();
        let query = QueueQuery {
            q: "\"><b>".into(),
            ..QueueQuery::default()
        }
        .next_page("u.1.5.9");
        let page = QueuePage {
            tickets,
            page: 2,
            next: Some(query.next_page("u.2.7.12")),
            previous: query.previous_page(),
        };
        let offset = FixedOffset::east_opt(0).expect("offset");
        let html = body(Lang::En, &query, &page, offset).into_string();
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;&quot;'"));
        // The previous page (the first), the next one, and this one for the live updates.
        assert!(html.contains("href=\"/queue?q=%22%3E%3Cb%3E\""), "{html}");
        assert!(
            html.contains(
                "/queue?q=%22%3E%3Cb%3E&amp;after=u.2.7.12&amp;back=-%2Cu.1.5.9&amp;page=3"
            ),
            "{html}"
        );
        assert!(
            html.contains(
                "/queue?q=%22%3E%3Cb%3E&amp;after=u.1.5.9&amp;back=-&amp;page=2&amp;fragment=1"
            ),
            "{html}"
        );
        assert!(html.contains("data-ticket=\"T1\""));
    }
}
