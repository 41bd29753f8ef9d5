//! The customer pages against a stand-in `SelfService`: one ticket `T1` whose phone ends in
//! `1234` and whose rating link's token is `good`, in step review, in English.

use super::*;
use crate::backend::Backend;
use crate::i18n::Lang;
use crate::routes::AppState;
use crate::session::Sessions;
use crate::settings::ConsoleSettings;
use axum::body::Body;
use axum::http::{header, Request};
use axum::Router;
use chrono::FixedOffset;
use proto::v1::self_service_server::{SelfService, SelfServiceServer};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

const CSRF: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[derive(Debug, Default, Clone)]
struct Stand {
    replies: Arc<Mutex<Vec<String>>>,
    ratings: Arc<Mutex<Vec<u32>>>,
}

fn status() -> v1::TicketStatus {
    v1::TicketStatus {
        ticket_id: "T1".into(),
        step: v1::Step::Review as i32,
        notes: vec![v1::CustomerNote {
            text: "<script>alert(1)</script> \"quoted\"".into(),
            at: None,
            from_customer: false,
        }],
        solution: "已补发".into(),
        outcome: v1::Outcome::Fixed as i32,
        may_rate: true,
        may_reply: true,
        round: 1,
        language: v1::Language::En as i32,
        ..Default::default()
    }
}

/// The stand-in's check of a request with a link token.
fn check_proof(ticket_id: &str, digits: &str, token: &str) -> Result<(), tonic::Status> {
    match token {
        "" => check(ticket_id, digits),
        "good" if ticket_id == "T1" => Ok(()),
        _ => Err(tonic::Status::not_found(format!(
            "ticket {ticket_id} not found"
        ))),
    }
}

fn check(ticket_id: &str, digits: &str) -> Result<(), tonic::Status> {
    if ticket_id == "T1" && digits == "1234" {
        Ok(())
    } else if digits.len() != 4 {
        Err(service::status_from(domain::DomainError::invalid(
            "digits",
            "must be 4 digits",
        )))
    } else {
        Err(tonic::Status::not_found(format!(
            "ticket {ticket_id} not found"
        )))
    }
}

#[tonic::async_trait]
impl SelfService for Stand {
    async fn get_status(
        &self,
        request: tonic::Request<v1::GetStatusRequest>,
    ) -> Result<tonic::Response<v1::GetStatusResponse>, tonic::Status> {
        let request = request.into_inner();
        check_proof(&request.ticket_id, &request.digits, &request.link_token)?;
        Ok(tonic::Response::new(v1::GetStatusResponse {
            status: Some(status()),
        }))
    }

    async fn reply(
        &self,
        request: tonic::Request<v1::ReplyRequest>,
    ) -> Result<tonic::Response<v1::ReplyResponse>, tonic::Status> {
        let request = request.into_inner();
        check(&request.ticket_id, &request.digits)?;
        self.replies.lock().expect("replies").push(request.text);
        Ok(tonic::Response::new(v1::ReplyResponse {
            status: Some(status()),
        }))
    }

    async fn rate(
        &self,
        request: tonic::Request<v1::RateRequest>,
    ) -> Result<tonic::Response<v1::RateResponse>, tonic::Status> {
        let request = request.into_inner();
        check_proof(&request.ticket_id, &request.digits, &request.link_token)?;
        if request.satisfaction == 0 {
            return Err(tonic::Status::invalid_argument(
                "satisfaction: must be 1 to 5",
            ));
        }
        self.ratings
            .lock()
            .expect("ratings")
            .push(request.satisfaction);
        let mut rated = status();
        rated.may_rate = false;
        rated.satisfaction = request.satisfaction;
        Ok(tonic::Response::new(v1::RateResponse {
            status: Some(rated),
        }))
    }

    async fn list_adopted(
        &self,
        _request: tonic::Request<v1::ListAdoptedRequest>,
    ) -> Result<tonic::Response<v1::ListAdoptedResponse>, tonic::Status> {
        Ok(tonic::Response::new(v1::ListAdoptedResponse {
            suggestions: vec![
                v1::AdoptedSuggestion {
                    ticket_id: "T9".into(),
                    customer_display_name: "张**".into(),
                    content: "希望增加夜间配送".into(),
                    solution: "已开通".into(),
                    outcome: v1::Outcome::Adopted as i32,
                    award_winner: true,
                    award_month: "2026-03".into(),
                    award_rank: 1,
                    ..Default::default()
                },
                v1::AdoptedSuggestion {
                    ticket_id: "T10".into(),
                    customer_display_name: "李**".into(),
                    content: "门店延长营业时间".into(),
                    outcome: v1::Outcome::Planned as i32,
                    delivered_on: "2026-04-02".into(),
                    ..Default::default()
                },
            ],
            next_page_token: String::new(),
        }))
    }
}

async fn app() -> (Router, Stand) {
    let stand = Stand::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = SelfServiceServer::new(stand.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(server)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });
    let address = address.to_string();
    let state = Arc::new(AppState {
        backend: Backend::new(&address, &address, Duration::from_secs(5)).expect("backend"),
        sessions: Sessions::new(Duration::from_secs(60)),
        registry: service::TokenRegistry::empty(),
        settings: ConsoleSettings::default(),
        offset: FixedOffset::east_opt(8 * 3600).expect("offset"),
        shutdown: service::shutdown::Shutdown::new(),
    });
    (crate::app::router(state), stand)
}

async fn post(app: &Router, cookie: &str, body: &str) -> (StatusCode, String) {
    post_to(app, "/status", cookie, body).await
}

async fn post_to(app: &Router, path: &str, cookie: &str, body: &str) -> (StatusCode, String) {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookie)
        .header(header::ACCEPT_LANGUAGE, "en")
        .body(Body::from(body.to_owned()))
        .expect("request");
    read(app.clone().oneshot(request).await.expect("answer")).await
}

/// The status and text of an answer.
async fn read(response: axum::response::Response) -> (StatusCode, String) {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// Posts `fields` to `path` with the page's anti-forgery cookie and token.
async fn post_with_token(app: &Router, path: &str, fields: &str) -> (StatusCode, String) {
    post_to(app, path, &cookie(), &format!("{fields}&csrf_token={CSRF}")).await
}

fn cookie() -> String {
    format!("{STATUS_CSRF_COOKIE}={CSRF}")
}

#[tokio::test]
async fn the_page_sets_its_token_and_forms_without_it_are_refused() {
    let (app, stand) = app().await;
    let page = app
        .clone()
        .oneshot(
            Request::get("/status?ticket=T1")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(page.status(), StatusCode::OK);
    let set = page
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .expect("token cookie")
        .to_owned();
    assert!(set.starts_with(STATUS_CSRF_COOKIE), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let token = crate::session::cookie(&set, STATUS_CSRF_COOKIE)
        .expect("token")
        .to_owned();
    let (_, body) = read(page).await;
    assert!(body.contains(&format!("name=\"csrf_token\" value=\"{token}\"")));
    assert!(body.contains("value=\"T1\""), "the number is filled in");

    for (cookie, body) in [
        (String::new(), "ticket=T1&digits=1234".to_owned()),
        (cookie(), "ticket=T1&digits=1234&csrf_token=00ff".to_owned()),
        (
            String::new(),
            format!("ticket=T1&digits=1234&csrf_token={CSRF}"),
        ),
    ] {
        let (status, _) = post(&app, &cookie, &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, _) = post(
        &app,
        &cookie(),
        &format!("ticket=T1&digits=1234&action=reply&text=hi&csrf_token=00{CSRF}"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(stand.replies.lock().expect("replies").is_empty());
}

#[tokio::test]
async fn the_right_digits_show_the_status_escaped_and_wrong_ones_nothing() {
    let (app, _) = app().await;
    let (status, page) = post_with_token(&app, "/status", "ticket=T1&digits=1234").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"status-step\">review<"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(page.contains("id=\"form-rate\""));
    assert!(page.contains("id=\"form-reply\""));
    assert!(page.contains("已补发"));

    let (wrong, wrong_page) = post_with_token(&app, "/status", "ticket=T1&digits=9999").await;
    let (unknown, unknown_page) = post_with_token(&app, "/status", "ticket=T2&digits=1234").await;
    assert_eq!(wrong, StatusCode::NOT_FOUND);
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    assert_eq!(
        wrong_page.replace("T1", "T"),
        unknown_page.replace("T2", "T"),
        "the same page for wrong digits and an unknown ticket"
    );
    for shown in [
        "status-step",
        "已补发",
        "form-rate",
        "form-reply",
        "alert(1)",
    ] {
        assert!(!wrong_page.contains(shown), "{shown} in {wrong_page}");
    }
    assert!(wrong_page.contains(tr_en("status.nothing")));
    let (malformed, page) = post_with_token(&app, "/status", "ticket=T1&digits=12").await;
    assert_eq!(malformed, StatusCode::BAD_REQUEST);
    assert!(page.contains(tr_en("status.malformed")));
}

fn tr_en(key: &str) -> &'static str {
    crate::i18n::tr(Lang::En, key)
}

#[tokio::test]
async fn replies_and_ratings_reach_the_workflow() {
    let (app, stand) = app().await;
    let (status, page) = post_with_token(
        &app,
        "/status",
        "ticket=T1&digits=1234&action=reply&text=%E5%BF%AB%E7%82%B9",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(tr_en("status.replied")));
    assert_eq!(
        *stand.replies.lock().expect("replies"),
        vec!["快点".to_owned()]
    );

    let (status, page) = post_with_token(
        &app,
        "/status",
        "ticket=T1&digits=1234&action=rate&satisfaction=4",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(tr_en("status.rated")));
    assert!(page.contains("id=\"status-rating\">4 / 5<"), "{page}");
    assert!(!page.contains("id=\"form-rate\""));
    assert_eq!(*stand.ratings.lock().expect("ratings"), vec![4]);

    let (status, page) =
        post_with_token(&app, "/status", "ticket=T1&digits=1234&action=rate").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no score chosen");
    assert!(page.contains(tr_en("status.refused")), "{page}");
    assert!(
        page.contains("id=\"status-step\""),
        "the ticket is shown again"
    );
}

#[tokio::test]
async fn the_adopted_list_is_public() {
    let (app, _) = app().await;
    let page = app
        .clone()
        .oneshot(
            Request::get("/adopted?lang=zh")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(page.status(), StatusCode::OK);
    let (_, body) = read(page).await;
    assert!(
        body.contains("张**") && body.contains("希望增加夜间配送"),
        "{body}"
    );
    assert!(body.contains("已采纳的建议"));
    // The award winner and the delivered plan are marked, in Chinese and in English.
    assert!(body.contains("2026-03 月度最佳建议 第 1 名"), "{body}");
    assert!(body.contains("已于 2026-04-02 落地"), "{body}");
    assert_eq!(body.matches("class=\"badge award\"").count(), 1, "{body}");
    let page = app
        .oneshot(
            Request::get("/adopted?lang=en")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("answer");
    let (_, body) = read(page).await;
    assert!(
        body.contains("Best suggestion of 2026-03, rank 1"),
        "{body}"
    );
    assert!(body.contains("delivered on 2026-04-02"), "{body}");
}

async fn get(app: &Router, path: &str, accept: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header(header::ACCEPT_LANGUAGE, accept)
        .body(Body::empty())
        .expect("request");
    read(app.clone().oneshot(request).await.expect("answer")).await
}

#[tokio::test]
async fn the_rating_link_shows_the_ticket_in_its_language_with_the_rating_form_only() {
    let (app, _) = app().await;
    let (status, page) = get(&app, "/rate/T1?t=good", "zh-CN").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<html lang=\"en\""),
        "the ticket's language: {page}"
    );
    assert!(page.contains("id=\"status-step\""));
    assert!(
        page.contains(
            "<form method=\"post\" action=\"/rate/T1\" class=\"card narrow\" id=\"form-rate\">"
        ),
        "{page}"
    );
    assert!(page.contains("name=\"t\" value=\"good\""));
    assert!(
        !page.contains("id=\"form-reply\""),
        "no reply without the digits"
    );
    assert!(!page.contains("name=\"digits\""));
    assert!(
        page.contains("/lang/zh?back=%2Frate%2FT1%3Ft%3Dgood"),
        "{page}"
    );
    let (_, chosen) = get(&app, "/rate/T1?t=good&lang=zh", "en").await;
    assert!(
        chosen.contains("<html lang=\"zh-CN\""),
        "the visitor's choice wins"
    );

    let (bad, bad_page) = get(&app, "/rate/T1?t=forged", "en").await;
    let (none, none_page) = get(&app, "/rate/T1", "en").await;
    let (wrong, wrong_page) = post_with_token(&app, "/status", "ticket=T1&digits=9999").await;
    assert_eq!(
        (bad, none, wrong),
        (
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND
        )
    );
    // The same page as wrong digits (apart from the fresh anti-forgery token).
    let token = |page: &str| {
        page.split("name=\"csrf_token\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        bad_page.replace(&token(&bad_page), "X"),
        wrong_page.replace(CSRF, "X")
    );
    assert_eq!(
        none_page.replace(&token(&none_page), "X"),
        wrong_page.replace(CSRF, "X")
    );
    assert!(!bad_page.contains("status-step") && !bad_page.contains("已补发"));
}

#[tokio::test]
async fn a_rating_by_link_needs_the_pages_token_and_reaches_the_workflow() {
    let (app, stand) = app().await;
    let (forged, _) = post_to(
        &app,
        "/rate/T1",
        &cookie(),
        "t=good&satisfaction=5&csrf_token=00ff",
    )
    .await;
    assert_eq!(forged, StatusCode::FORBIDDEN);
    let (bad, page) = post_with_token(&app, "/rate/T1", "t=forged&satisfaction=5").await;
    assert_eq!(bad, StatusCode::NOT_FOUND);
    assert!(page.contains(tr_en("status.nothing")));
    assert!(stand.ratings.lock().expect("ratings").is_empty());
    let (status, page) =
        post_with_token(&app, "/rate/T1", "t=good&satisfaction=5&comment=great").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(tr_en("status.rated")), "{page}");
    assert!(page.contains("id=\"status-rating\">5 / 5<"), "{page}");
    assert_eq!(*stand.ratings.lock().expect("ratings"), vec![5]);
    let (refused, page) = post_with_token(&app, "/rate/T1", "t=good").await;
    assert_eq!(refused, StatusCode::UNPROCESSABLE_ENTITY, "no score chosen");
    assert!(
        page.contains("id=\"status-step\""),
        "the ticket is shown again"
    );
}
