//! The customers' pages, without sign-in: the status page (the ticket number and the last 4
//! digits of the phone, then the step, the expected time, the notes meant for the customer, a
//! reply form and, in step review, the rating form), the same status opened by the signed
//! rating link of a review request (`/rate/<ticket id>?t=...`: the rating form, no reply
//! form) and the public list of adopted suggestions. Nothing of a ticket is shown unless the
//! workflow answered with it.

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

/// How the forms of a shown ticket prove it: the digits typed on the status page, or the
/// token of the rating link the page was opened with.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    Digits(&'a str),
    Link(&'a str),
}

/// The hidden fields that name and prove the ticket on the forms of a shown status.
fn proof(form: StatusForm<'_>, ticket_id: &str, proof: Proof<'_>, command_id: &str) -> Markup {
    html! {
        input type="hidden" name="csrf_token" value=(form.csrf);
        @match proof {
            Proof::Digits(digits) => {
                input type="hidden" name="ticket" value=(ticket_id);
                input type="hidden" name="digits" value=(digits);
            }
            Proof::Link(token) => {
                input type="hidden" name="t" value=(token);
            }
        }
        input type="hidden" name="command_id" value=(command_id);
    }
}

/// Where the rating form of a shown status posts to, with the field that says what it is.
fn rate_action(ticket_id: &str, given: Proof<'_>) -> (String, Option<&'static str>) {
    match given {
        Proof::Digits(_) => ("/status".to_owned(), Some("rate")),
        Proof::Link(_) => (format!("/rate/{}", crate::queue::encode(ticket_id)), None),
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

/// The status of one ticket, with the rating form when a rating is asked for and, on the
/// status page, the reply form.
pub fn status_shown(
    form: StatusForm<'_>,
    status: &v1::TicketStatus,
    given: Proof<'_>,
    said: &Notice,
    offset: FixedOffset,
    command_id: &str,
) -> Markup {
    let lang = form.lang;
    let ticket_id = status.ticket_id.as_str();
    let (rate_to, rate_field) = rate_action(ticket_id, given);
    let may_reply = status.may_reply && matches!(given, Proof::Digits(_));
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
            form method="post" action=(rate_to) class="card narrow" id="form-rate" {
                (proof(form, ticket_id, given, command_id))
                @if let Some(action) = rate_field {
                    input type="hidden" name="action" value=(action);
                }
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
        @if may_reply {
            h2 { (tr(lang, "status.reply")) }
            form method="post" action="/status" class="card narrow" id="form-reply" {
                (proof(form, ticket_id, given, command_id))
                input type="hidden" name="action" value="reply";
                label for="text" { (tr(lang, "status.reply_text")) }
                textarea id="text" name="text" rows="4" maxlength="2000" required {}
                button type="submit" { (tr(lang, "status.reply_submit")) }
            }
        }
        @if matches!(given, Proof::Link(_)) && status.may_reply {
            p class="hint" { (tr(lang, "status.reply_on_status")) }
        }
        p { a href="/status" { (tr(lang, "status.another")) } }
    };
    // The language switch comes back to the same page: the rating link's with its token.
    let path = match given {
        Proof::Digits(_) => "/status".to_owned(),
        Proof::Link(token) => format!(
            "/rate/{}?t={}",
            crate::queue::encode(ticket_id),
            crate::queue::encode(token)
        ),
    };
    let frame = Frame {
        path: &path,
        ..frame(lang, tr(lang, "status.title"), "/status")
    };
    page(frame, body)
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
                        @if suggestion.award_winner {
                            span class="badge award" data-award-month=(suggestion.award_month) {
                                "🏆 " (tr(lang, "adopted.award")
                                    .replace("{month}", &suggestion.award_month)
                                    .replace("{rank}", &suggestion.award_rank.to_string()))
                            }
                            " "
                        }
                        strong { (suggestion.customer_display_name) }
                        " · " span class="nowrap" { (when(suggestion.adopted_at.as_ref(), offset)) }
                        " · " (outcome(lang, suggestion.outcome))
                        @if !suggestion.delivered_on.is_empty() {
                            " · " span class="badge delivered" {
                                (tr(lang, "adopted.delivered").replace("{day}", &suggestion.delivered_on))
                            }
                        }
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
