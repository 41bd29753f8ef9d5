//! The ticket page: content (escaped like every value), classification, deadlines and why,
//! the history with its actors, similar tickets and the forms of the person's actions.

use super::forms::{confirm_suggestion, form, FormContext};
use super::{
    content_type, kind, mask_email, mask_phone, outcome, priority, role, scope, sla_badge, step,
    when,
};
use crate::actions::{Action, Refusal};
use crate::i18n::{tr, value, Lang};
use crate::session::Session;
use chrono::FixedOffset;
use maud::{html, Markup};
use proto::v1;

/// Everything the page shows, as the workflow answered it for the person.
#[derive(Debug, Default)]
pub struct TicketView {
    pub ticket: v1::Ticket,
    /// `ExplainSla`'s answer (absent when the workflow would not explain).
    pub explain: Option<v1::ExplainSlaResponse>,
    pub history: Vec<v1::LogEvent>,
    /// Similar tickets and their keyword overlap.
    pub similar: Vec<(v1::Ticket, f64)>,
    /// The customer's profile as the person may see it (`Customers.GetCustomer` by this
    /// ticket); absent for anonymous feedback or when the workflow would not answer.
    pub customer: Option<v1::CustomerProfile>,
}

/// Who did it: `name (role, department)`, or the customer on their status page.
fn actor_text(lang: Lang, actor: &v1::Actor) -> String {
    let customer = actor.principal == domain::selfservice::CUSTOMER_PRINCIPAL
        && actor.role == v1::Role::System as i32;
    if customer {
        return tr(lang, "actor.customer").to_owned();
    }
    let mut text = format!("{} ({}", actor.principal, role(lang, actor.role));
    if !actor.department.is_empty() {
        text.push_str(", ");
        text.push_str(&actor.department);
    }
    text.push(')');
    text
}

/// The texts of an event's payload worth showing in the timeline (a note, a reason, ...).
pub fn event_texts(payload: &str) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(payload)
    else {
        return Vec::new();
    };
    let shown = [
        "message",
        "text",
        "reason",
        "comment",
        "department",
        "outcome",
        "satisfaction",
        "visibility",
        "assignee",
        "parent_ticket_id",
    ];
    shown
        .iter()
        .filter_map(|key| {
            let value = fields.get(*key)?;
            let text = match value {
                serde_json::Value::String(text) if !text.is_empty() => text.clone(),
                serde_json::Value::Number(number) => number.to_string(),
                serde_json::Value::Bool(flag) => flag.to_string(),
                _ => return None,
            };
            Some(((*key).to_owned(), text))
        })
        .collect()
}

fn facts(lang: Lang, ticket: &v1::Ticket, offset: FixedOffset) -> Markup {
    let customer = ticket.customer.clone().unwrap_or_default();
    let reach: Vec<String> = [
        (!customer.phone.is_empty()).then(|| mask_phone(&customer.phone)),
        (!customer.email.is_empty()).then(|| mask_email(&customer.email)),
    ]
    .into_iter()
    .flatten()
    .collect();
    html! {
        dl class="facts" {
            dt { (tr(lang, "field.step")) } dd { (step(lang, ticket.step)) }
            dt { (tr(lang, "field.sla")) } dd { (sla_badge(lang, ticket.sla_state)) @if ticket.sla_paused { " " span class="badge" { (tr(lang, "field.paused")) } } @if ticket.new_reply { " " span class="badge new-reply" { (tr(lang, "queue.new_reply")) } } }
            dt { (tr(lang, "field.priority")) } dd { (priority(lang, ticket.priority)) }
            dt { (tr(lang, "field.department")) } dd { (ticket.department) }
            @if !ticket.helpers.is_empty() { dt { (tr(lang, "field.helpers")) } dd { (ticket.helpers.join(", ")) } }
            dt { (tr(lang, "field.assignee")) } dd { (ticket.assignee) }
            dt { (tr(lang, "field.channel")) } dd { (ticket.channel) }
            @if !ticket.product.is_empty() { dt { (tr(lang, "field.product")) } dd { (ticket.product) } }
            @if !ticket.order_id.is_empty() { dt { (tr(lang, "field.order")) } dd { (ticket.order_id) } }
            dt { (tr(lang, "field.customer")) }
            dd {
                (customer.name) " " (reach.join(" · "))
                @if ticket.cannot_be_told { " " span class="badge" { (tr(lang, "field.cannot_be_told")) } }
            }
            dt { (tr(lang, "field.created")) } dd { (when(ticket.created_at.as_ref(), offset)) }
            dt { (tr(lang, "field.round")) } dd { (ticket.round) }
            dt { (tr(lang, "field.version")) } dd { (ticket.version) }
            @if !ticket.parent_ticket_id.is_empty() {
                dt { (tr(lang, "field.parent")) }
                dd { a href={ "/tickets/" (crate::queue::encode(&ticket.parent_ticket_id)) } { (ticket.parent_ticket_id) } }
            }
            @if ticket.escalated { dt { (tr(lang, "ticket.escalated")) } dd { (ticket.escalation_reason) } }
        }
    }
}

fn classification(lang: Lang, ticket: &v1::Ticket) -> Markup {
    html! {
        section aria-labelledby="h-class" {
            h2 id="h-class" { (tr(lang, "ticket.classification")) }
            dl class="facts" {
                dt { (tr(lang, "field.kind")) } dd { (kind(lang, ticket.kind)) }
                dt { (tr(lang, "field.content_type")) } dd { (content_type(lang, ticket.content_type)) }
                dt { (tr(lang, "field.scope")) } dd { (scope(lang, ticket.scope)) }
                dt { (tr(lang, "field.confidence")) } dd { (format!("{:.0} %", ticket.classification_confidence * 100.0)) }
                dt { (tr(lang, "field.keywords")) }
                dd { @for word in &ticket.keywords { span class="word" { (word) } " " } }
                @if !ticket.terms.is_empty() {
                    dt { (tr(lang, "field.terms")) }
                    dd class="terms" { @for word in &ticket.terms { span class="word" { (word) } " " } }
                }
                dt { (tr(lang, "field.complex")) } dd { (if ticket.complex { "✓" } else { "—" }) }
                @if let Some(evaluation) = &ticket.evaluation {
                    dt { (tr(lang, "field.evaluation")) }
                    dd id="evaluation" {
                        (evaluation.score) " (" (value(lang, "band", &evaluation.band)) ") · "
                        (evaluation.feasibility) " / " (evaluation.cost) " / " (evaluation.benefit)
                        @if !evaluation.note.is_empty() { " · " (evaluation.note) }
                    }
                }
                @if let Some(delivery) = &ticket.delivery {
                    dt { (tr(lang, "field.delivery")) } dd { (delivery.delivered_on) }
                }
                @if let Some(award) = &ticket.award {
                    dt { (tr(lang, "field.award")) }
                    dd { "🏆 " (award.month) " #" (award.rank) " · " (award.reward) }
                }
            }
        }
    }
}

/// The trained classifier's suggestion, for those who may classify: each field's values with
/// their probabilities, and the one-click confirmation.
fn suggestion(context: FormContext<'_>, ticket: &v1::Ticket) -> Markup {
    let lang = context.lang;
    let Some(suggestion) = &ticket.suggestion else {
        return html! {};
    };
    let rows = [
        ("field.kind", "kind", &suggestion.kind),
        (
            "field.content_type",
            "content_type",
            &suggestion.content_type,
        ),
        ("field.priority", "priority", &suggestion.priority),
        ("field.department", "department", &suggestion.department),
    ];
    html! {
        section aria-labelledby="h-suggestion" id="suggestion" {
            h2 id="h-suggestion" { (tr(lang, "suggestion.title")) }
            p class="hint" {
                (tr(lang, "suggestion.by")) " " code { (suggestion.model_version) } " · "
                (tr(lang, "suggestion.confidence")) " " (format!("{:.0} %", suggestion.confidence * 100.0))
            }
            dl class="facts" {
                @for (label, group, values) in rows {
                    dt { (tr(lang, label)) }
                    dd {
                        @for (index, suggested) in values.iter().enumerate() {
                            @if index > 0 { " · " }
                            @let shown = value(lang, group, &suggested.value);
                            @if index == 0 { strong { (shown) } } @else { span { (shown) } }
                            " " span class="probability" { (format!("{:.0} %", suggested.probability * 100.0)) }
                        }
                    }
                }
            }
            @if suggestion.priority_floor != 0 { p class="hint" { (tr(lang, "suggestion.floor")) } }
            p class="hint" { (tr(lang, "suggestion.hint")) }
            (confirm_suggestion(context, ticket, suggestion))
        }
    }
}

fn deadlines(lang: Lang, view: &TicketView, offset: FixedOffset) -> Markup {
    let ticket = &view.ticket;
    html! {
        section aria-labelledby="h-sla" {
            h2 id="h-sla" { (tr(lang, "ticket.sla")) }
            @if ticket.vip { p class="badge vip" id="ticket-vip" { (tr(lang, "ticket.vip")) } }
            dl class="facts" {
                dt { (tr(lang, "field.respond_by")) } dd { (when(ticket.respond_by.as_ref(), offset)) }
                dt { (tr(lang, "field.responded_at")) } dd { (when(ticket.responded_at.as_ref(), offset)) }
                dt { (tr(lang, "field.resolve_by")) } dd { (when(ticket.resolve_by.as_ref(), offset)) }
                dt { (tr(lang, "field.resolved_at")) } dd { (when(ticket.resolved_at.as_ref(), offset)) }
            }
            @if let Some(explain) = &view.explain {
                h3 { (tr(lang, "ticket.why")) }
                ul class="why" { @for reason in &explain.reasons { li { (reason) } } }
            }
        }
    }
}

fn history(lang: Lang, events: &[v1::LogEvent], offset: FixedOffset) -> Markup {
    html! {
        section aria-labelledby="h-history" {
            h2 id="h-history" { (tr(lang, "ticket.history")) }
            ol class="timeline" {
                @for event in events {
                    @let actor = event.actor.clone().unwrap_or_default();
                    li {
                        time { (when(event.occurred_at.as_ref(), offset)) }
                        " "
                        strong class="event" { (event.event_type) }
                        " · " (actor_text(lang, &actor))
                        @let texts = event_texts(&event.payload);
                        @if !texts.is_empty() {
                            dl class="payload" { @for (key, text) in &texts { dt { (key) } dd { (text) } } }
                        }
                    }
                }
            }
        }
    }
}

fn similar(lang: Lang, similar: &[(v1::Ticket, f64)]) -> Markup {
    html! {
        section aria-labelledby="h-similar" {
            h2 id="h-similar" { (tr(lang, "ticket.similar")) }
            @if similar.is_empty() { p { (tr(lang, "ticket.none")) } }
            ul {
                @for (ticket, score) in similar {
                    li {
                        a href={ "/tickets/" (crate::queue::encode(&ticket.ticket_id)) } { (ticket.ticket_id) }
                        " (" (format!("{:.0} %", score * 100.0)) ") "
                        (super::queue::excerpt(&ticket.content, 60))
                    }
                }
            }
        }
    }
}

/// The customer's profile in short: tickets, recent complaints, satisfaction, tags and VIP.
fn customer(lang: Lang, profile: Option<&v1::CustomerProfile>) -> Markup {
    html! {
        section id="customer-profile" aria-labelledby="h-customer" {
            h2 id="h-customer" { (tr(lang, "customer.title")) }
            @match profile {
                None => p { (tr(lang, "customer.none")) },
                Some(profile) => {
                    @if profile.vip { p class="badge vip" id="customer-vip" { (tr(lang, "customer.vip")) } }
                    dl {
                        dt { (tr(lang, "customer.tickets")) }
                        dd id="customer-tickets" { (profile.ticket_count) }
                        dt { (tr(lang, "customer.complaints").replace("{days}", &profile.recent_complaint_days.to_string())) }
                        dd id="customer-complaints" { (profile.recent_complaints) }
                        @if profile.satisfaction_count > 0 {
                            dt { (tr(lang, "customer.satisfaction")) }
                            dd { (format!("{:.1} / 5 ({})", profile.satisfaction_mean, profile.satisfaction_count)) }
                        }
                        dt { (tr(lang, "customer.tags")) }
                        dd id="customer-tags" {
                            @for tag in &profile.automatic_tags {
                                span class="tag" { (tr(lang, &format!("tag.{tag}"))) } " "
                            }
                            @for tag in profile.tags.iter().filter(|tag| tag.as_str() != domain::customer::VIP_TAG) {
                                span class="tag" { (tag) } " "
                            }
                            @if profile.automatic_tags.is_empty() && profile.tags.iter().all(|tag| tag == domain::customer::VIP_TAG) { "–" }
                        }
                    }
                }
            }
        }
    }
}

/// The page's body.
pub fn body(
    lang: Lang,
    session: &Session,
    view: &TicketView,
    refusal: Option<&Refusal>,
    offset: FixedOffset,
) -> Markup {
    let ticket = &view.ticket;
    let context = FormContext {
        lang,
        ticket_id: &ticket.ticket_id,
        version: ticket.version,
        csrf: &session.csrf,
        refusal,
    };
    let actions: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|action| action.offered_to(session.person.role))
        .collect();
    html! {
        h1 { (tr(lang, "field.ticket")) " " (ticket.ticket_id) }
        div class="columns" {
            div class="main-column" {
                section aria-labelledby="h-content" {
                    h2 id="h-content" { (tr(lang, "field.content")) }
                    p class="content" id="ticket-content" { (ticket.content) }
                    @if !ticket.solution.is_empty() {
                        h3 { (tr(lang, "field.solution")) " · " (outcome(lang, ticket.outcome)) }
                        p class="content" { (ticket.solution) }
                    }
                    @if ticket.satisfaction > 0 {
                        p { (tr(lang, "field.satisfaction")) ": " (ticket.satisfaction) " / 5 " (ticket.review_comment) }
                    }
                }
                (classification(lang, ticket))
                @if actions.contains(&Action::Classify) { (suggestion(context, ticket)) }
                (deadlines(lang, view, offset))
                (history(lang, &view.history, offset))
                (similar(lang, &view.similar))
            }
            aside class="side-column" aria-labelledby="h-actions" {
                (facts(lang, ticket, offset))
                (customer(lang, view.customer.as_ref()))
                h2 id="h-actions" { (tr(lang, "ticket.actions")) }
                @if actions.is_empty() { p { (tr(lang, "ticket.no_actions")) } }
                @for action in actions { (form(context, action)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Person;
    use domain::types::Role;

    const HOSTILE: &str = "<script>alert(1)</script> \"><img src=x onerror='x'> & it's";

    fn session(role: Role) -> Session {
        Session {
            token: "t".into(),
            person: Person {
                name: "li.si".into(),
                role,
                department: Some("logistics".into()),
            },
            csrf: "c".repeat(64),
            expires_at: std::time::Instant::now(),
        }
    }

    fn hostile_view() -> TicketView {
        TicketView {
            ticket: v1::Ticket {
                ticket_id: "T-\"1".into(),
                content: HOSTILE.into(),
                product: HOSTILE.into(),
                keywords: vec![HOSTILE.into()],
                solution: HOSTILE.into(),
                ..v1::Ticket::default()
            },
            history: vec![v1::LogEvent {
                event_type: "note_added".into(),
                payload: serde_json::json!({ "text": HOSTILE }).to_string(),
                actor: Some(v1::Actor {
                    principal: HOSTILE.into(),
                    ..v1::Actor::default()
                }),
                ..v1::LogEvent::default()
            }],
            ..TicketView::default()
        }
    }

    /// The page of [`hostile_view`] as a person of `role` sees it in `lang`, with `refusal`
    /// shown, its times at `offset_hours` from UTC.
    fn hostile_page(
        lang: Lang,
        role: Role,
        refusal: Option<&Refusal>,
        offset_hours: i32,
    ) -> String {
        let offset = FixedOffset::east_opt(offset_hours * 3600).expect("offset");
        body(lang, &session(role), &hostile_view(), refusal, offset).into_string()
    }

    #[test]
    fn the_customer_is_named_as_such_in_the_history() {
        let customer = v1::Actor {
            principal: "customer".into(),
            role: v1::Role::System as i32,
            ..v1::Actor::default()
        };
        assert_eq!(
            actor_text(Lang::En, &customer),
            tr(Lang::En, "actor.customer")
        );
        let person = v1::Actor {
            principal: "customer".into(),
            role: v1::Role::Agent as i32,
            department: "logistics".into(),
        };
        assert_eq!(actor_text(Lang::En, &person), "customer (agent, logistics)");
    }

    #[test]
    fn the_customer_summary_shows_counts_tags_and_vip_in_both_languages() {
        let offset = FixedOffset::east_opt(8 * 3600).expect("offset");
        let view = TicketView {
            ticket: v1::Ticket {
                ticket_id: "T-1".into(),
                ..v1::Ticket::default()
            },
            customer: Some(v1::CustomerProfile {
                ticket_count: 4,
                recent_complaints: 3,
                recent_complaint_days: 30,
                automatic_tags: vec!["repeated_complaints".into()],
                tags: vec!["vip".into(), HOSTILE.into()],
                vip: true,
                ..v1::CustomerProfile::default()
            }),
            ..TicketView::default()
        };
        for (lang, complaints, tag) in [
            (
                Lang::En,
                "Complaints in the last 30 days",
                "repeated complaints",
            ),
            (Lang::Zh, "近 30 天投诉", "多次投诉客户"),
        ] {
            let page = body(lang, &session(Role::Agent), &view, None, offset).into_string();
            assert!(page.contains(complaints), "{page}");
            assert!(page.contains(tag), "{page}");
            assert!(page.contains(tr(lang, "customer.vip")), "{page}");
            assert!(page.contains(r#"id="customer-tickets">4<"#), "{page}");
            assert!(!page.contains("<script>alert"), "a staff tag is escaped");
        }
        let anonymous = TicketView::default();
        let page = body(Lang::En, &session(Role::Admin), &anonymous, None, offset).into_string();
        assert!(page.contains(tr(Lang::En, "customer.none")), "{page}");
    }

    #[test]
    fn a_vip_tickets_deadlines_say_so_in_both_languages() {
        let offset = FixedOffset::east_opt(8 * 3600).expect("offset");
        let mut view = TicketView {
            ticket: v1::Ticket {
                ticket_id: "T-1".into(),
                ..v1::Ticket::default()
            },
            ..TicketView::default()
        };
        let plain = body(Lang::En, &session(Role::Agent), &view, None, offset).into_string();
        assert!(!plain.contains("ticket-vip"), "{plain}");
        view.ticket.vip = true;
        for (lang, text) in [
            (Lang::En, "VIP customer: each deadline"),
            (Lang::Zh, "VIP 客户：各期限"),
        ] {
            let page = body(lang, &session(Role::Agent), &view, None, offset).into_string();
            assert!(page.contains(r#"id="ticket-vip""#), "{page}");
            assert!(page.contains(text), "{page}");
        }
    }

    #[test]
    fn anonymous_feedback_is_marked_cannot_be_told() {
        let offset = FixedOffset::east_opt(8 * 3600).expect("offset");
        let mut view = TicketView {
            ticket: v1::Ticket {
                ticket_id: "T-1".into(),
                cannot_be_told: true,
                ..v1::Ticket::default()
            },
            ..TicketView::default()
        };
        for lang in [Lang::En, Lang::Zh] {
            let page = body(lang, &session(Role::Admin), &view, None, offset).into_string();
            assert!(page.contains(tr(lang, "field.cannot_be_told")), "{page}");
        }
        view.ticket.cannot_be_told = false;
        let page = body(Lang::En, &session(Role::Admin), &view, None, offset).into_string();
        assert!(!page.contains(tr(Lang::En, "field.cannot_be_told")));
    }

    #[test]
    fn content_is_escaped_everywhere_on_the_ticket_page() {
        let refusal = Refusal {
            action: Action::Note,
            field: Some("text".into()),
            message: HOSTILE.into(),
            values: [("text".to_owned(), HOSTILE.to_owned())].into(),
        };
        let page = hostile_page(Lang::En, Role::Admin, Some(&refusal), 8);
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&quot;&gt;&lt;img"));
        // The id in links and form addresses is percent-encoded, in attributes quoted.
        assert!(page.contains("/tickets/T-%221/note"));
    }

    #[test]
    fn typed_values_cannot_break_out_of_their_attribute() {
        let refusal = Refusal {
            action: Action::Dispatch,
            field: Some("department".into()),
            message: "unknown department".into(),
            values: [("department".to_owned(), HOSTILE.to_owned())].into(),
        };
        let page = hostile_page(Lang::En, Role::Service, Some(&refusal), 0);
        assert!(
            page.contains(
                "value=\"&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;img src=x onerror='x'&gt; &amp; it's\""
            ),
            "{page}"
        );
        assert!(page.contains("<details class=\"action action-dispatch\" open>"));
    }

    #[test]
    fn forms_carry_the_anti_forgery_token_and_fresh_command_ids() {
        let page = hostile_page(Lang::Zh, Role::Admin, None, 0);
        let forms = page.matches("<form").count();
        assert_eq!(forms, Action::ALL.len(), "an admin sees every form");
        assert_eq!(
            page.matches(&format!("value=\"{}\"", "c".repeat(64)))
                .count(),
            forms
        );
        let ids: std::collections::HashSet<&str> = page
            .match_indices("name=\"command_id\" value=\"")
            .map(|(at, found)| &page[at + found.len()..at + found.len() + 32])
            .collect();
        assert_eq!(ids.len(), forms, "each form its own command id");
    }

    #[test]
    fn a_refusal_is_shown_next_to_its_field_with_what_was_typed() {
        let refusal = Refusal {
            action: Action::Review,
            field: Some("satisfaction".into()),
            message: "satisfaction must be from 1 to 5".into(),
            values: [("satisfaction".to_owned(), "9".to_owned())].into(),
        };
        let page = hostile_page(Lang::En, Role::Service, Some(&refusal), 0);
        assert!(page.contains("id=\"review-satisfaction-error\""), "{page}");
        assert!(page.contains("satisfaction must be from 1 to 5"));
        assert!(page.contains("value=\"9\""));
        assert!(
            !page.contains("form-acknowledge"),
            "service does not acknowledge"
        );
        let agent = hostile_page(Lang::En, Role::Agent, None, 0);
        assert!(!agent.contains("form-archive"));
    }
}
