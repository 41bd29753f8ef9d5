//! The customers' pages, without sign-in: the status page (the ticket number and the last 4
//! digits of the phone, then the step, the expected time, the notes meant for the customer, a
//! reply form and, in step review, the rating form) and the public list of adopted
//! suggestions. Nothing of a ticket is shown unless the workflow answered with it.

use super::layout::{page, Frame};
use super::{outcome, step, when};
use crate::i18n::{tr, Lang};
use chrono::FixedOffset;
use maud::{html, Markup};
use proto::v1;

/// What the customer typed and what the page must carry on its forms.
#[derive(Debug, Clone, Copy)]
pub struct StatusForm<'a> {
    pub lang: Lang,
    /// The anti-forgery token of the page's forms (matches its cookie).
    pub csrf: &'a str,
    /// The ticket number as typed (shown again in the field).
    pub ticket: &'a str,
}

/// What the status page says above the form or the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    None,
    /// Nothing for this number and these digits (unknown, wrong or locked: one text).
    NothingFound,
    /// The fields are not a ticket number and 4 digits.
    Malformed,
    /// Too many requests: wait a moment.
    Busy,
    /// The reply was recorded.
    Replied,
    /// The rating was recorded.
    Rated,
    /// The workflow refused the reply or the rating, with its words.
    Refused(String),
}

fn notice(lang: Lang, notice: &Notice) -> Markup {
    let (class, text) = match notice {
        Notice::None => return html! {},
        Notice::NothingFound => ("refusal", tr(lang, "status.nothing").to_owned()),
        Notice::Malformed => ("refusal", tr(lang, "status.malformed").to_owned()),
        Notice::Busy => ("refusal", tr(lang, "status.busy").to_owned()),
        Notice::Replied => ("done", tr(lang, "status.replied").to_owned()),
        Notice::Rated => ("done", tr(lang, "status.rated").to_owned()),
        Notice::Refused(reason) => (
            "refusal",
            format!("{}: {reason}", tr(lang, "status.refused")),
        ),
    };
    html! { p class=(class) role="alert" id="status-notice" { (text) } }
}

fn frame<'a>(lang: Lang, title: &'a str, path: &'static str) -> Frame<'a> {
    Frame {
        lang,
        title,
        session: None,
        path,
        live: false,
    }
}

/// The hidden fields that name the ticket on the forms of a shown status.
fn proof(form: StatusForm<'_>, ticket_id: &str, digits: &str, command_id: &str) -> Markup {
    html! {
        input type="hidden" name="csrf_token" value=(form.csrf);
        input type="hidden" name="ticket" value=(ticket_id);
        input type="hidden" name="digits" value=(digits);
        input type="hidden" name="command_id" value=(command_id);
    }
}

/// The form that asks for the ticket number and the digits.
fn lookup(form: StatusForm<'_>) -> Markup {
    let lang = form.lang;
    html! {
        form method="post" action="/status" class="card narrow" id="form-status" {
            input type="hidden" name="csrf_token" value=(form.csrf);
            input type="hidden" name="action" value="show";
            label for="ticket" { (tr(lang, "status.ticket")) }
            input id="ticket" name="ticket" value=(form.ticket) required autocomplete="off";
            label for="digits" { (tr(lang, "status.digits")) }
            input id="digits" name="digits" type="password" inputmode="numeric"
                pattern="[0-9]{4}" maxlength="4" required autocomplete="off";
            p class="hint" { (tr(lang, "status.hint")) }
            button type="submit" { (tr(lang, "status.show")) }
        }
    }
}

/// The status page before a ticket is shown (or when nothing was found).
pub fn status_lookup(form: StatusForm<'_>, said: &Notice) -> Markup {
    let lang = form.lang;
    let body = html! {
        h1 { (tr(lang, "status.title")) }
        (notice(lang, said))
        (lookup(form))
    };
    page(frame(lang, tr(lang, "status.title"), "/status"), body)
}

/// The status of one ticket, with the reply form and, when asked for, the rating form.
pub fn status_shown(
    form: StatusForm<'_>,
    status: &v1::TicketStatus,
    digits: &str,
    said: &Notice,
    offset: FixedOffset,
    command_id: &str,
) -> Markup {
    let lang = form.lang;
    let ticket_id = status.ticket_id.as_str();
    let body = html! {
        h1 { (tr(lang, "status.title")) " " (ticket_id) }
        (notice(lang, said))
        section class="card" id="status" {
            dl class="facts" {
                dt { (tr(lang, "status.step")) } dd id="status-step" { (step(lang, status.step)) }
                dt { (tr(lang, "status.received")) } dd { (when(status.received_at.as_ref(), offset)) }
                @if status.responded_at.is_none() {
                    dt { (tr(lang, "status.respond_by")) } dd { (when(status.respond_by.as_ref(), offset)) }
                }
                @if status.resolved_at.is_some() {
                    dt { (tr(lang, "status.resolved_at")) } dd { (when(status.resolved_at.as_ref(), offset)) }
                } @else {
                    dt { (tr(lang, "status.resolve_by")) } dd id="status-expected" { (when(status.resolve_by.as_ref(), offset)) }
                }
                @if !status.solution.is_empty() {
                    dt { (tr(lang, "status.solution")) }
                    dd class="content" { (outcome(lang, status.outcome)) " — " (status.solution) }
                }
                @if status.satisfaction > 0 {
                    dt { (tr(lang, "status.your_rating")) } dd id="status-rating" { (status.satisfaction) " / 5" }
                }
            }
        }
        h2 { (tr(lang, "status.notes")) }
        @if status.notes.is_empty() {
            p class="hint" { (tr(lang, "status.no_notes")) }
        } @else {
            ol class="timeline" id="status-notes" {
                @for note in &status.notes {
                    li {
                        span class="nowrap" { (when(note.at.as_ref(), offset)) } " · "
                        strong { (tr(lang, if note.from_customer { "status.from_you" } else { "status.from_us" })) }
                        div class="content" { (note.text) }
                    }
                }
            }
        }
        @if status.may_rate {
            h2 { (tr(lang, "status.rate")) }
            form method="post" action="/status" class="card narrow" id="form-rate" {
                (proof(form, ticket_id, digits, command_id))
                input type="hidden" name="action" value="rate";
                fieldset {
                    legend { (tr(lang, "status.rate_question")) }
                    @for score in 1..=5u32 {
                        label class="check" {
                            input type="radio" name="satisfaction" value=(score) required;
                            (score) " · " (tr(lang, &format!("status.score{score}")))
                        }
                    }
                }
                label for="comment" { (tr(lang, "status.comment")) }
                textarea id="comment" name="comment" rows="2" maxlength="2000" {}
                button type="submit" { (tr(lang, "status.rate_submit")) }
            }
        }
        @if status.may_reply {
            h2 { (tr(lang, "status.reply")) }
            form method="post" action="/status" class="card narrow" id="form-reply" {
                (proof(form, ticket_id, digits, command_id))
                input type="hidden" name="action" value="reply";
                label for="text" { (tr(lang, "status.reply_text")) }
                textarea id="text" name="text" rows="4" maxlength="2000" required {}
                button type="submit" { (tr(lang, "status.reply_submit")) }
            }
        }
        p { a href="/status" { (tr(lang, "status.another")) } }
    };
    page(frame(lang, tr(lang, "status.title"), "/status"), body)
}

/// The public list of adopted suggestions: display names masked by the workflow, no contact
/// data.
pub fn adopted(
    lang: Lang,
    suggestions: &[v1::AdoptedSuggestion],
    next_page: Option<&str>,
    offset: FixedOffset,
) -> Markup {
    let body = html! {
        h1 { (tr(lang, "adopted.title")) }
        p class="hint" { (tr(lang, "adopted.intro")) }
        @if suggestions.is_empty() {
            p { (tr(lang, "adopted.none")) }
        } @else {
            ol class="timeline" id="adopted" {
                @for suggestion in suggestions {
                    li {
                        strong { (suggestion.customer_display_name) }
                        " · " span class="nowrap" { (when(suggestion.adopted_at.as_ref(), offset)) }
                        " · " (outcome(lang, suggestion.outcome))
                        @if !suggestion.department.is_empty() { " · " (suggestion.department) }
                        div class="content" { (suggestion.content) }
                        @if !suggestion.solution.is_empty() {
                            div class="content hint" { (tr(lang, "adopted.solution")) ": " (suggestion.solution) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = next_page {
            p class="pager" { a href={ "/adopted?page=" (crate::queue::encode(next)) } { (tr(lang, "adopted.more")) } }
        }
    };
    page(frame(lang, tr(lang, "adopted.title"), "/adopted"), body)
}
