//! The auditors' page: the log's verification and a ticket as it stood at an instant.

use super::{priority, sla_badge, step, when};
use crate::i18n::{tr, Lang};
use chrono::FixedOffset;
use maud::{html, Markup};
use proto::v1;

pub fn body(
    lang: Lang,
    verify: &v1::VerifyLogResponse,
    asked: (&str, &str),
    at: Option<&v1::GetTicketAtResponse>,
    offset: FixedOffset,
) -> Markup {
    html! {
        h1 { (tr(lang, "audit.title")) }
        section aria-labelledby="h-verify" {
            h2 id="h-verify" { (tr(lang, "audit.verify")) }
            p class={ "badge " (if verify.ok { "sla-on_time" } else { "sla-breached" }) } {
                (tr(lang, if verify.ok { "audit.ok" } else { "audit.bad" }))
            }
            dl class="facts" {
                dt { (tr(lang, "audit.events")) } dd { (verify.events_checked) }
                dt { (tr(lang, "audit.head")) } dd { (verify.head_position) }
                dt { "SHA-256" } dd class="hash" { (verify.head_hash) }
                @if let Some(position) = verify.first_bad_position { dt { "!" } dd { (position) ": " (verify.problem) } }
            }
        }
        section aria-labelledby="h-at" {
            h2 id="h-at" { (tr(lang, "audit.at")) }
            form method="get" action="/audit" class="filters" {
                label { span { (tr(lang, "field.ticket")) } input type="text" name="ticket" value=(asked.0) required; }
                label { span { (tr(lang, "field.at")) } input type="datetime-local" name="at" value=(asked.1) required; }
                button type="submit" { (tr(lang, "audit.show")) }
            }
            @if let Some(at) = at {
                @let ticket = at.ticket.clone().unwrap_or_default();
                dl class="facts" {
                    dt { (tr(lang, "audit.position")) } dd { (at.position) }
                    dt { (tr(lang, "field.step")) } dd { (step(lang, ticket.step)) }
                    dt { (tr(lang, "field.sla")) } dd { (sla_badge(lang, ticket.sla_state)) }
                    dt { (tr(lang, "field.priority")) } dd { (priority(lang, ticket.priority)) }
                    dt { (tr(lang, "field.department")) } dd { (ticket.department) }
                    dt { (tr(lang, "field.version")) } dd { (ticket.version) }
                    dt { (tr(lang, "field.created")) } dd { (when(ticket.created_at.as_ref(), offset)) }
                    dt { (tr(lang, "field.content")) } dd class="content" { (ticket.content) }
                }
            }
        }
    }
}
