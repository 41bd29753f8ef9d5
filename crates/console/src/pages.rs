//! The staff pages: the queue (and its live updates), the ticket page and its action forms,
//! the managers' reports and the auditors' page. Each calls the workflow with the signed-in
//! person's own token.

use crate::actions::{perform, Action, Failed, Refusal};
use crate::answer::{page, PageError};
use crate::backend::as_person;
use crate::error::ConsoleError;
use crate::i18n::Lang;
use crate::queue::{load, QueueQuery};
use crate::routes::{context, html, Shared};
use crate::views::layout::{page as frame_page, Frame};
use crate::views::ticket::TicketView;
use crate::views::{self, reports::Today};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use domain::types::Role;
use futures::StreamExt;
use proto::v1;
use serde::Deserialize;
use std::collections::HashMap;
use std::convert::Infallible;

/// A staff page: the frame around `body`, with `status`.
fn staff_page(frame: Frame<'_>, status: StatusCode, body: maud::Markup) -> Response {
    html(status, frame_page(frame, body))
}

#[derive(Debug, Default, Deserialize)]
pub struct Fragment {
    #[serde(default)]
    fragment: String,
}

pub async fn queue(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<QueueQuery>,
    Query(fragment): Query<Fragment>,
) -> Result<Response, PageError> {
    let context = context(&state, &headers, &uri);
    let lang = context.lang;
    let session = context.signed_in()?;
    let page_of = load(
        &state.backend,
        &session.token,
        &query,
        state.settings.queue_page_size,
    )
    .await
    .map_err(page(lang))?;
    if fragment.fragment == "1" {
        return Ok(html(
            StatusCode::OK,
            views::queue::fragment(lang, &page_of, state.offset),
        ));
    }
    let path = uri.to_string();
    let body = views::queue::body(lang, &query, &page_of, state.offset);
    Ok(staff_page(
        Frame {
            lang,
            title: crate::i18n::tr(lang, "queue.title"),
            session: Some(session),
            path: &path,
            live: true,
        },
        StatusCode::OK,
        body,
    ))
}

/// Server-sent events: one `change` event (data: the ticket id) for every change the
/// workflow's `WatchTickets` reports for the person's filter. The page's script then fetches
/// the queue fragment again, so the order and the filters stay the server's.
pub async fn queue_events(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<QueueQuery>,
) -> Result<Response, PageError> {
    let context = context(&state, &headers, &uri);
    let lang = context.lang;
    let session = context.signed_in()?;
    let filter = query.filter().map_err(page(lang))?;
    let request = as_person(
        &session.token,
        v1::WatchTicketsRequest {
            filter: Some(filter),
            include_current: false,
        },
    )
    .map_err(page(lang))?;
    let changes = state
        .backend
        .tickets_streaming()
        .watch_tickets(request)
        .await
        .map_err(|status| PageError::new(lang, ConsoleError::Rpc(status)))?
        .into_inner();
    let events = changes
        .map(|change| {
            Ok::<Event, Infallible>(match change {
                Ok(change) => Event::default().event("change").data(
                    change
                        .ticket
                        .map(|ticket| ticket.ticket_id)
                        .unwrap_or_default(),
                ),
                Err(status) => Event::default()
                    .event("failed")
                    .data(format!("{:?}", status.code())),
            })
        })
        .take_until(state.shutdown.wait());
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Reads what the ticket page shows; NOT_FOUND and PERMISSION_DENIED are one 404.
async fn ticket_view(
    state: &Shared,
    token: &str,
    ticket_id: &str,
) -> Result<TicketView, ConsoleError> {
    let mut client = state.backend.tickets();
    let ticket = client
        .get_ticket(as_person(
            token,
            v1::GetTicketRequest {
                ticket_id: ticket_id.to_owned(),
            },
        )?)
        .await
        .map_err(ConsoleError::from_ticket_call)?
        .into_inner()
        .ticket
        .ok_or(ConsoleError::NotFound)?;
    let (mut explain_client, mut history_client, mut similar_client) =
        (client.clone(), client.clone(), client);
    let mut customers = state.backend.customers();
    let id = ticket_id.to_owned();
    let (explain, history, similar, customer) = tokio::join!(
        explain_client.explain_sla(as_person(
            token,
            v1::ExplainSlaRequest {
                ticket_id: id.clone()
            }
        )?),
        history_client.get_history(as_person(
            token,
            v1::GetHistoryRequest {
                ticket_id: id.clone()
            }
        )?),
        similar_client.list_similar(as_person(
            token,
            v1::ListSimilarRequest {
                ticket_id: id.clone(),
                page_size: 5
            }
        )?),
        customers.get_customer(as_person(
            token,
            v1::GetCustomerRequest {
                key: Some(v1::get_customer_request::Key::TicketId(id)),
            }
        )?),
    );
    let history = history
        .map_err(ConsoleError::from_ticket_call)?
        .into_inner()
        .events;
    let similar = similar
        .map(|answer| {
            let answer = answer.into_inner();
            answer.tickets.into_iter().zip(answer.scores).collect()
        })
        .unwrap_or_default();
    Ok(TicketView {
        ticket,
        explain: explain.ok().map(tonic::Response::into_inner),
        history,
        similar,
        customer: customer
            .ok()
            .and_then(|answer| answer.into_inner().customer),
    })
}

fn ticket_page(
    state: &Shared,
    lang: crate::i18n::Lang,
    session: &crate::session::Session,
    path: &str,
    view: &TicketView,
    refusal: Option<&Refusal>,
    status: StatusCode,
) -> Response {
    let title = format!(
        "{} {}",
        crate::i18n::tr(lang, "field.ticket"),
        view.ticket.ticket_id
    );
    let body = views::ticket::body(lang, session, view, refusal, state.offset);
    staff_page(
        Frame {
            lang,
            title: &title,
            session: Some(session),
            path,
            live: false,
        },
        status,
        body,
    )
}

pub async fn ticket(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(ticket_id): Path<String>,
) -> Result<Response, PageError> {
    let context = context(&state, &headers, &uri);
    let lang = context.lang;
    let session = context.signed_in()?;
    let view = ticket_view(&state, &session.token, &ticket_id)
        .await
        .map_err(page(lang))?;
    Ok(ticket_page(
        &state,
        lang,
        session,
        uri.path(),
        &view,
        None,
        StatusCode::OK,
    ))
}

/// A submitted action form: checked, sent, then back to the ticket (303), or the ticket page
/// again with the refusal on the form.
pub async fn act(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path((ticket_id, slug)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let context = context(&state, &headers, &uri);
    let lang = context.lang;
    let session = context.checked(form.get("csrf_token"))?;
    let action =
        Action::parse(&slug).ok_or_else(|| PageError::new(lang, ConsoleError::NotFound))?;
    let path = format!("/tickets/{}", crate::queue::encode(&ticket_id));
    match perform(&state.backend, &session.token, &ticket_id, action, &form).await {
        Ok(()) => Ok(Redirect::to(&path).into_response()),
        Err(Failed::Page(error)) => Err(PageError::new(lang, error)),
        Err(Failed::Refused(refusal, status)) => {
            let view = ticket_view(&state, &session.token, &ticket_id)
                .await
                .map_err(page(lang))?;
            Ok(ticket_page(
                &state,
                lang,
                session,
                &path,
                &view,
                Some(&refusal),
                status,
            ))
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    month: String,
}

pub async fn reports(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<ReportQuery>,
) -> Result<Response, PageError> {
    let context = context(&state, &headers, &uri);
    let lang = context.lang;
    let session = context.with_role(&[Role::Manager])?;
    let now = chrono::Utc::now().with_timezone(&state.offset);
    let month = if query.month.trim().is_empty() {
        now.format("%Y-%m").to_string()
    } else {
        query.month.trim().to_owned()
    };
    let today = today(&state, &session.token, now)
        .await
        .map_err(page(lang))?;
    let mut reports = state.backend.reports();
    let report = reports
        .monthly_report(
            as_person(
                &session.token,
                v1::MonthlyReportRequest {
                    month: month.clone(),
                    department: None,
                    at_position: None,
                },
            )
            .map_err(page(lang))?,
        )
        .await
        .map_err(|status| PageError::new(lang, ConsoleError::Rpc(status)))?
        .into_inner()
        .report
        .and_then(|message| reports::proto_conv::from_proto(&message, state.offset).ok())
        .map(|report| {
            report.to_html_in(match lang {
                Lang::Zh => reports::Lang::Zh,
                Lang::En => reports::Lang::En,
            })
        });
    let adopted = reports
        .adopted_suggestions(
            as_person(
                &session.token,
                v1::AdoptedSuggestionsRequest {
                    page_size: 20,
                    ..Default::default()
                },
            )
            .map_err(page(lang))?,
        )
        .await
        .map(|answer| answer.into_inner().suggestions)
        .unwrap_or_default();
    let body = views::reports::body(
        lang,
        &month,
        today,
        report.as_deref(),
        &adopted,
        state.offset,
    );
    let path = uri.to_string();
    Ok(staff_page(
        Frame {
            lang,
            title: crate::i18n::tr(lang, "reports.title"),
            session: Some(session),
            path: &path,
            live: false,
        },
        StatusCode::OK,
        body,
    ))
}

/// The most of today's tickets the managers' page reads to count them.
const TODAY_READ_LIMIT: usize = 2_000;

/// Today's tickets (since midnight in the business calendar's offset) by SLA state.
async fn today(
    state: &Shared,
    token: &str,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Today, ConsoleError> {
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|start| start.and_local_timezone(state.offset).single())
        .map(|start| start.with_timezone(&chrono::Utc))
        .ok_or_else(|| ConsoleError::BadRequest("today's start".to_owned()))?;
    let mut client = state.backend.tickets();
    let mut tickets = Vec::new();
    let mut page_token = String::new();
    loop {
        let filter = v1::TicketFilter {
            created_from: Some(proto::time::timestamp(midnight)),
            ..Default::default()
        };
        let answer = client
            .list_tickets(as_person(
                token,
                v1::ListTicketsRequest {
                    filter: Some(filter),
                    page_size: 500,
                    page_token,
                    ..Default::default()
                },
            )?)
            .await
            .map_err(ConsoleError::Rpc)?
            .into_inner();
        tickets.extend(answer.tickets);
        if answer.next_page_token.is_empty() || tickets.len() >= TODAY_READ_LIMIT {
            break;
        }
        page_token = answer.next_page_token;
    }
    Ok(Today::count(&tickets))
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    at: String,
}

/// `2026-12-06T10:30` (in the business calendar's offset) or RFC 3339.
pub fn parse_instant(
    text: &str,
    offset: chrono::FixedOffset,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = text.trim();
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&chrono::Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
        .and_then(|local| local.and_local_timezone(offset).single())
        .map(|instant| instant.with_timezone(&chrono::Utc))
}

pub async fn audit(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let context = context(&state, &headers, &uri);
    let lang = context.lang;
    let session = context.with_role(&[Role::Auditor])?;
    let mut client = state.backend.audit();
    let verify = client
        .verify_log(
            as_person(
                &session.token,
                v1::VerifyLogRequest {
                    check_checkpoints: false,
                },
            )
            .map_err(page(lang))?,
        )
        .await
        .map_err(|status| PageError::new(lang, ConsoleError::Rpc(status)))?
        .into_inner();
    let at = if query.ticket.trim().is_empty() {
        None
    } else {
        let instant = parse_instant(&query.at, state.offset).ok_or_else(|| {
            PageError::new(
                lang,
                ConsoleError::BadRequest(format!("at: {:?} is not a time", query.at)),
            )
        })?;
        let answer = client
            .get_ticket_at(
                as_person(
                    &session.token,
                    v1::GetTicketAtRequest {
                        ticket_id: query.ticket.trim().to_owned(),
                        at: Some(proto::time::timestamp(instant)),
                    },
                )
                .map_err(page(lang))?,
            )
            .await
            .map_err(|status| PageError::new(lang, ConsoleError::from_ticket_call(status)))?
            .into_inner();
        Some(answer)
    };
    let body = views::audit::body(
        lang,
        &verify,
        (&query.ticket, &query.at),
        at.as_ref(),
        state.offset,
    );
    let path = uri.to_string();
    Ok(staff_page(
        Frame {
            lang,
            title: crate::i18n::tr(lang, "audit.title"),
            session: Some(session),
            path: &path,
            live: false,
        },
        StatusCode::OK,
        body,
    ))
}
