//! The customers' pages, without sign-in: `GET/POST /status`, `GET/POST /rate/{ticket_id}`
//! (the signed rating link of a review request) and `GET /adopted`, over the workflow's
//! `feedback.v1.SelfService` (no token: the console holds no credential for them).
//!
//! The forms carry an anti-forgery token that must match a cookie set with the page (a
//! customer has no session to keep it in). The digits travel only in the posted forms, never
//! in a URL or a log line; the pages answer `Cache-Control: no-store` and send no referrer, so
//! a rating link's token leaves the page only in its own forms. An unknown ticket, wrong
//! digits, a bad or expired link and a locked ticket show the same page. The rating page
//! speaks the ticket's language unless the visitor chose one (`?lang=`, the switch's cookie).

use crate::answer::PageError;
use crate::error::ConsoleError;
use crate::i18n::{Lang, LANG_COOKIE};
use crate::routes::{context, cookie_header, html, with_cookie, Shared};
use crate::session::{cookie, random_hex, same_secret, set_cookie};
use crate::views::status::{self as view, Notice, Proof, StatusForm};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use proto::v1;
use serde::Deserialize;
use std::time::Duration;

/// The cookie that holds the anti-forgery token of the customer pages' forms.
pub const STATUS_CSRF_COOKIE: &str = "cloop_status_csrf";

/// The token of this browser's customer forms: the cookie's, or a fresh one.
fn form_token(headers: &HeaderMap) -> (String, bool) {
    let cookies = cookie_header(headers);
    match cookie(cookies, STATUS_CSRF_COOKIE).filter(|token| token.len() >= 32) {
        Some(token) => (token.to_owned(), false),
        None => (random_hex(32), true),
    }
}

/// `markup` with the status code, setting the token's cookie when it is new.
fn answer(
    state: &Shared,
    status: StatusCode,
    markup: maud::Markup,
    token: &str,
    new: bool,
) -> Response {
    let response = html(status, markup);
    if new {
        let cookie = set_cookie(
            STATUS_CSRF_COOKIE,
            token,
            Duration::from_secs(3600),
            state.settings.secure_cookies,
        );
        with_cookie(response, &cookie)
    } else {
        response
    }
}

#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    /// A ticket number to fill in (from a notice's link); never the digits.
    ticket: Option<String>,
}

pub async fn status_page(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<StatusQuery>,
) -> Response {
    let lang = context(&state, &headers, &uri).lang;
    let (token, new) = form_token(&headers);
    let ticket = query.ticket.unwrap_or_default();
    let form = StatusForm {
        lang,
        csrf: &token,
        ticket: ticket.trim(),
    };
    answer(
        &state,
        StatusCode::OK,
        view::status_lookup(form, &Notice::None),
        &token,
        new,
    )
}

/// The fields of every form of the status page.
#[derive(Debug, Default, Deserialize)]
pub struct StatusPost {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    digits: String,
    /// `show` (default), `reply` or `rate`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    satisfaction: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    command_id: String,
}

/// What the workflow's answer means for the page: a status, or what to say instead.
fn outcome_of(result: Result<v1::TicketStatus, tonic::Status>) -> Result<v1::TicketStatus, Notice> {
    result.map_err(|status| match status.code() {
        tonic::Code::NotFound => Notice::NothingFound,
        tonic::Code::InvalidArgument
            if matches!(
                service::status::field_of(&status).as_deref(),
                Some("ticket_id" | "digits")
            ) =>
        {
            Notice::Malformed
        }
        tonic::Code::ResourceExhausted => Notice::Busy,
        _ => Notice::Refused(status.message().to_owned()),
    })
}

pub async fn status_post(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Form(post): Form<StatusPost>,
) -> Result<Response, PageError> {
    let lang = context(&state, &headers, &uri).lang;
    let cookies = cookie_header(&headers);
    let expected = cookie(cookies, STATUS_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(expected, &post.csrf_token) {
        return Err(PageError::new(lang, ConsoleError::Forged));
    }
    let token = expected.to_owned();
    let ticket_id = post.ticket.trim().to_owned();
    let digits = post.digits.trim().to_owned();
    let mut client = state.backend.self_service();
    let (result, done) = match post.action.as_str() {
        "reply" => {
            let request = v1::ReplyRequest {
                ticket_id: ticket_id.clone(),
                digits: digits.clone(),
                text: post.text.clone(),
                command_id: post.command_id.clone(),
            };
            let answer = client.reply(request).await.map(|r| r.into_inner().status);
            (answer, Notice::Replied)
        }
        "rate" => {
            let satisfaction = post.satisfaction.trim().parse::<u32>().unwrap_or(0);
            let request = v1::RateRequest {
                ticket_id: ticket_id.clone(),
                digits: digits.clone(),
                satisfaction,
                comment: post.comment.clone(),
                command_id: post.command_id.clone(),
                link_token: String::new(),
            };
            let answer = client.rate(request).await.map(|r| r.into_inner().status);
            (answer, Notice::Rated)
        }
        _ => {
            let request = v1::GetStatusRequest {
                ticket_id: ticket_id.clone(),
                digits: digits.clone(),
                link_token: String::new(),
            };
            let answer = client
                .get_status(request)
                .await
                .map(|r| r.into_inner().status);
            (answer, Notice::None)
        }
    };
    let result = result.and_then(|status| {
        status.ok_or_else(|| tonic::Status::internal("the workflow answered no status"))
    });
    let form = StatusForm {
        lang,
        csrf: &token,
        ticket: &ticket_id,
    };
    match outcome_of(result) {
        Ok(status) => {
            let proof = Proof::Digits(&digits);
            let markup =
                view::status_shown(form, &status, proof, &done, state.offset, &random_hex(16));
            Ok(answer(&state, StatusCode::OK, markup, &token, false))
        }
        Err(Notice::Refused(reason)) if post.action == "reply" || post.action == "rate" => {
            // The ticket was shown a moment ago: show it again with the refusal.
            let again = client
                .get_status(v1::GetStatusRequest {
                    ticket_id: ticket_id.clone(),
                    digits: digits.clone(),
                    link_token: String::new(),
                })
                .await
                .map_err(|_| PageError::new(lang, ConsoleError::NotFound))?
                .into_inner()
                .status
                .unwrap_or_default();
            let markup = view::status_shown(
                form,
                &again,
                Proof::Digits(&digits),
                &Notice::Refused(reason),
                state.offset,
                &random_hex(16),
            );
            Ok(answer(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                markup,
                &token,
                false,
            ))
        }
        Err(said) => {
            let code = match said {
                Notice::NothingFound => StatusCode::NOT_FOUND,
                Notice::Malformed => StatusCode::BAD_REQUEST,
                Notice::Busy => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::BAD_GATEWAY,
            };
            if matches!(said, Notice::Refused(_)) {
                tracing::warn!("status page: the workflow refused");
            }
            Ok(answer(
                &state,
                code,
                view::status_lookup(form, &said),
                &token,
                false,
            ))
        }
    }
}

/// The language the visitor chose (`?lang=`, or the language switch's cookie), if any.
fn chosen_lang(headers: &HeaderMap, uri: &Uri) -> Option<Lang> {
    let query = uri.query().unwrap_or_default().split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "lang").then_some(value)
    });
    query
        .and_then(Lang::parse)
        .or_else(|| cookie(cookie_header(headers), LANG_COOKIE).and_then(Lang::parse))
}

/// The language of the ticket's customer; `None` when the workflow names none.
fn ticket_lang(status: &v1::TicketStatus) -> Option<Lang> {
    match v1::Language::try_from(status.language) {
        Ok(v1::Language::En) => Some(Lang::En),
        Ok(v1::Language::Zh) => Some(Lang::Zh),
        _ => None,
    }
}

#[derive(Debug, Deserialize)]
pub struct RateQuery {
    /// The rating link's token.
    #[serde(default)]
    t: String,
}

/// The fields of the rating link's form.
#[derive(Debug, Default, Deserialize)]
pub struct RatePost {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    t: String,
    #[serde(default)]
    satisfaction: String,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    command_id: String,
}

/// The ticket's status proved by the link's `token`.
async fn status_by_link(
    state: &Shared,
    ticket_id: &str,
    token: &str,
) -> Result<v1::TicketStatus, Notice> {
    if token.trim().is_empty() {
        return Err(Notice::NothingFound);
    }
    let request = v1::GetStatusRequest {
        ticket_id: ticket_id.to_owned(),
        link_token: token.trim().to_owned(),
        ..Default::default()
    };
    let answer = state.backend.self_service().get_status(request).await;
    outcome_of(answer.and_then(|response| {
        response
            .into_inner()
            .status
            .ok_or_else(|| tonic::Status::internal("the workflow answered no status"))
    }))
}

/// The answer of a rating link's page: the ticket with `said`, or the status page's lookup
/// form with what went wrong (the same page as wrong digits).
fn rate_answer(
    state: &Shared,
    code: StatusCode,
    result: Result<v1::TicketStatus, Notice>,
    said: &Notice,
    (ticket_id, token): (&str, &str),
    (csrf, new): (&str, bool),
    (chosen, fallback): (Option<Lang>, Lang),
) -> Response {
    match result {
        Ok(status) => {
            let lang = chosen.or_else(|| ticket_lang(&status)).unwrap_or(fallback);
            let form = StatusForm {
                lang,
                csrf,
                ticket: ticket_id,
            };
            let markup = view::status_shown(
                form,
                &status,
                Proof::Link(token),
                said,
                state.offset,
                &random_hex(16),
            );
            answer(state, code, markup, csrf, new)
        }
        Err(said) => {
            let code = match said {
                Notice::NothingFound => StatusCode::NOT_FOUND,
                Notice::Malformed => StatusCode::BAD_REQUEST,
                Notice::Busy => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::BAD_GATEWAY,
            };
            let form = StatusForm {
                lang: fallback,
                csrf,
                ticket: ticket_id,
            };
            answer(state, code, view::status_lookup(form, &said), csrf, new)
        }
    }
}

/// `GET /rate/{ticket_id}?t=TOKEN`: the ticket opened by its rating link.
pub async fn rate_page(
    State(state): State<Shared>,
    Path(ticket_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<RateQuery>,
) -> Response {
    let languages = (
        chosen_lang(&headers, &uri),
        context(&state, &headers, &uri).lang,
    );
    let (csrf, new) = form_token(&headers);
    let ticket_id = ticket_id.trim();
    let result = status_by_link(&state, ticket_id, &query.t).await;
    rate_answer(
        &state,
        StatusCode::OK,
        result,
        &Notice::None,
        (ticket_id, query.t.trim()),
        (&csrf, new),
        languages,
    )
}

/// `POST /rate/{ticket_id}`: the rating of the link's form, recorded through
/// `SelfService.Rate` with the link's token.
pub async fn rate_post(
    State(state): State<Shared>,
    Path(ticket_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    Form(post): Form<RatePost>,
) -> Result<Response, PageError> {
    let languages = (
        chosen_lang(&headers, &uri),
        context(&state, &headers, &uri).lang,
    );
    let expected = cookie(cookie_header(&headers), STATUS_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_secret(expected, &post.csrf_token) {
        return Err(PageError::new(languages.1, ConsoleError::Forged));
    }
    let csrf = expected.to_owned();
    let ticket_id = ticket_id.trim();
    let token = post.t.trim();
    let request = v1::RateRequest {
        ticket_id: ticket_id.to_owned(),
        satisfaction: post.satisfaction.trim().parse::<u32>().unwrap_or(0),
        comment: post.comment.clone(),
        command_id: post.command_id.clone(),
        link_token: token.to_owned(),
        ..Default::default()
    };
    let rated = if token.is_empty() {
        Err(Notice::NothingFound)
    } else {
        let answer = state.backend.self_service().rate(request).await;
        outcome_of(answer.and_then(|response| {
            response
                .into_inner()
                .status
                .ok_or_else(|| tonic::Status::internal("the workflow answered no status"))
        }))
    };
    let link = (ticket_id, token);
    Ok(match rated {
        Ok(status) => rate_answer(
            &state,
            StatusCode::OK,
            Ok(status),
            &Notice::Rated,
            link,
            (&csrf, false),
            languages,
        ),
        Err(Notice::Refused(reason)) => {
            // The ticket was shown a moment ago: show it again with the refusal.
            let again = status_by_link(&state, ticket_id, token).await;
            rate_answer(
                &state,
                StatusCode::UNPROCESSABLE_ENTITY,
                again,
                &Notice::Refused(reason),
                link,
                (&csrf, false),
                languages,
            )
        }
        Err(said) => rate_answer(
            &state,
            StatusCode::OK,
            Err(said),
            &Notice::None,
            link,
            (&csrf, false),
            languages,
        ),
    })
}

#[derive(Debug, Deserialize)]
pub struct AdoptedQuery {
    page: Option<String>,
}

pub async fn adopted(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<AdoptedQuery>,
) -> Result<Response, PageError> {
    let lang = context(&state, &headers, &uri).lang;
    let request = v1::ListAdoptedRequest {
        page_size: 50,
        page_token: query.page.unwrap_or_default(),
    };
    let answer = state
        .backend
        .self_service()
        .list_adopted(request)
        .await
        .map_err(|status| PageError::new(lang, ConsoleError::Rpc(status)))?
        .into_inner();
    let next = Some(answer.next_page_token.as_str()).filter(|token| !token.is_empty());
    Ok(html(
        StatusCode::OK,
        view::adopted(lang, &answer.suggestions, next, state.offset),
    ))
}

#[cfg(test)]
#[path = "customer_tests.rs"]
mod tests;
