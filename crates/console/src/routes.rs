//! The request's context (language, session) and the pages around the staff pages: sign-in
//! and sign-out, the language switch, health and the static files. Every page that shows
//! tickets needs a session; every form needs the session's anti-forgery token.

use crate::answer::PageError;
use crate::backend::Backend;
use crate::error::ConsoleError;
use crate::i18n::{choose, Lang, LANG_COOKIE};
use crate::session::{
    cookie, random_hex, same_secret, set_cookie, Person, Session, Sessions, LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
};
use crate::settings::ConsoleSettings;
use crate::views::layout;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::FixedOffset;
use domain::types::Role;
use serde::Deserialize;
use service::TokenRegistry;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub backend: Backend,
    pub sessions: Sessions,
    pub registry: TokenRegistry,
    pub settings: ConsoleSettings,
    /// The offset instants are shown in (the business calendar's).
    pub offset: FixedOffset,
    /// Completes when the console shuts down (ends the live-update streams).
    pub shutdown: service::shutdown::Shutdown,
}

pub type Shared = Arc<AppState>;

/// The language and the session of a request.
#[derive(Debug)]
pub struct Context {
    pub lang: Lang,
    pub session: Option<(String, Session)>,
}

impl Context {
    /// The signed-in session, or the sign-in page.
    pub fn signed_in(&self) -> Result<&Session, PageError> {
        self.session
            .as_ref()
            .map(|(_, session)| session)
            .ok_or_else(|| PageError::new(self.lang, ConsoleError::NotSignedIn))
    }

    /// The signed-in session of a person with one of `roles` (or an admin); 403 otherwise.
    pub fn with_role(&self, roles: &[Role]) -> Result<&Session, PageError> {
        let session = self.signed_in()?;
        if session.person.role == Role::Admin || roles.contains(&session.person.role) {
            Ok(session)
        } else {
            Err(PageError::new(self.lang, ConsoleError::Forbidden))
        }
    }

    /// The session, when the form carries its anti-forgery token; 403 otherwise.
    pub fn checked(&self, csrf: Option<&String>) -> Result<&Session, PageError> {
        let session = self.signed_in()?;
        match csrf {
            Some(given) if same_secret(&session.csrf, given) => Ok(session),
            _ => Err(PageError::new(self.lang, ConsoleError::Forged)),
        }
    }
}

fn query_lang(uri: &Uri) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "lang").then(|| value.to_owned())
    })
}

/// The request's `Cookie` header, empty when there is none.
pub fn cookie_header(headers: &HeaderMap) -> &str {
    headers
        .get(header::COOKIE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

/// The request's language and session.
pub fn context(state: &AppState, headers: &HeaderMap, uri: &Uri) -> Context {
    let cookies = cookie_header(headers);
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok());
    let lang = choose(
        query_lang(uri).as_deref(),
        cookie(cookies, LANG_COOKIE),
        accept,
    );
    let session = cookie(cookies, SESSION_COOKIE).and_then(|id| {
        state
            .sessions
            .get(id, Instant::now())
            .map(|session| (id.to_owned(), session))
    });
    Context { lang, session }
}

/// Adds a `Set-Cookie` to an answer.
pub fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A page as the answer, with `Cache-Control: no-store` (pages show tickets).
pub fn html(status: StatusCode, markup: maud::Markup) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::response::Html(markup.into_string()),
    )
        .into_response()
}

/// Headers of every answer: no framing, no sniffing, no referrer, scripts and styles only
/// from the console itself (the embedded report's own `<style>` needs inline styles).
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; frame-src 'self'; frame-ancestors 'none'; \
             form-action 'self'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// `Server-Timing: app;dur=<ms>` on every answer: the time the console took to produce it
/// (its calls to the workflow included), so a browser's or a benchmark's view of a page
/// separates server time from the network.
pub async fn server_timing(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let mut response = next.run(request).await;
    let millis = started.elapsed().as_secs_f64() * 1_000.0;
    if let Ok(value) = HeaderValue::from_str(&format!("app;dur={millis:.1}")) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

pub async fn healthz(State(state): State<Shared>) -> Response {
    if state.backend.workflow_healthy().await {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "workflow does not answer\n",
        )
            .into_response()
    }
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/console.css"),
    )
        .into_response()
}

pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/console.js"),
    )
        .into_response()
}

/// The sign-in form with a fresh anti-forgery token, also set as a cookie that the post must
/// match.
fn login_form(state: &AppState, lang: Lang, status: StatusCode, wrong: bool) -> Response {
    let csrf = random_hex(32);
    let cookie = set_cookie(
        LOGIN_CSRF_COOKIE,
        &csrf,
        Duration::from_secs(3600),
        state.settings.secure_cookies,
    );
    with_cookie(html(status, layout::login(lang, &csrf, wrong)), &cookie)
}

pub async fn login_page(State(state): State<Shared>, headers: HeaderMap, uri: Uri) -> Response {
    let context = context(&state, &headers, &uri);
    if context.session.is_some() {
        return Redirect::to("/queue").into_response();
    }
    login_form(&state, context.lang, StatusCode::OK, false)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf_token: String,
}

pub async fn login(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let context = context(&state, &headers, &uri);
    let cookies = cookie_header(&headers);
    let expected = cookie(cookies, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !same_secret(expected, &form.csrf_token) {
        return Err(PageError::new(context.lang, ConsoleError::Forged));
    }
    let token = form.token.trim();
    let Some(principal) = state.registry.authenticate(token) else {
        tracing::info!("sign-in refused: unknown token");
        return Ok(login_form(
            &state,
            context.lang,
            StatusCode::UNAUTHORIZED,
            true,
        ));
    };
    if principal.role == domain::types::Role::Adapter {
        return Err(PageError::new(context.lang, ConsoleError::Forbidden));
    }
    let person = Person {
        name: principal.name.clone(),
        role: principal.role,
        department: principal.department.clone(),
    };
    tracing::info!(person = %person.name, role = %person.role, "signed in");
    let id = state
        .sessions
        .create(token.to_owned(), person, Instant::now());
    let secure = state.settings.secure_cookies;
    let ttl = Duration::from_secs(state.settings.session_ttl_secs);
    let response = with_cookie(
        Redirect::to("/queue").into_response(),
        &set_cookie(SESSION_COOKIE, &id, ttl, secure),
    );
    Ok(with_cookie(
        response,
        &set_cookie(LOGIN_CSRF_COOKIE, "", Duration::ZERO, secure),
    ))
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf_token: Option<String>,
}

pub async fn logout(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    let context = context(&state, &headers, &uri);
    context.checked(form.csrf_token.as_ref())?;
    if let Some((id, session)) = &context.session {
        tracing::info!(person = %session.person.name, "signed out");
        state.sessions.remove(id);
    }
    let cookie = set_cookie(
        SESSION_COOKIE,
        "",
        Duration::ZERO,
        state.settings.secure_cookies,
    );
    Ok(with_cookie(Redirect::to("/login").into_response(), &cookie))
}

#[derive(Debug, Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// Only a path of this site: `/...`, never `//host` or a full URL.
pub fn safe_back(back: Option<&str>) -> &str {
    match back {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path
        }
        _ => "/queue",
    }
}

pub async fn switch_language(
    State(state): State<Shared>,
    Path(code): Path<String>,
    Query(back): Query<Back>,
) -> Response {
    let lang = Lang::parse(&code).unwrap_or(Lang::Zh);
    let cookie = set_cookie(
        LANG_COOKIE,
        lang.code(),
        Duration::from_secs(365 * 24 * 3600),
        state.settings.secure_cookies,
    );
    with_cookie(
        Redirect::to(safe_back(back.back.as_deref())).into_response(),
        &cookie,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use axum::Router;
    use tower::ServiceExt;

    const TOKEN: &str = "agent-token";

    fn app() -> (Router, Shared) {
        let tokens = format!(
            "[[principal]]\nname = \"li.si\"\nrole = \"agent\"\ndepartment = \"logistics\"\ntoken_sha256 = \"{}\"\n",
            service::tokens::token_sha256(TOKEN)
        );
        let state = Arc::new(AppState {
            backend: Backend::new("127.0.0.1:1", "127.0.0.1:1", Duration::from_millis(200))
                .expect("backend"),
            sessions: Sessions::new(Duration::from_secs(60)),
            registry: TokenRegistry::from_toml_str(&tokens).expect("tokens"),
            settings: ConsoleSettings::default(),
            offset: FixedOffset::east_opt(0).expect("offset"),
            shutdown: service::shutdown::Shutdown::new(),
        });
        (crate::app::router(state.clone()), state)
    }

    async fn send(app: &Router, request: Request<Body>) -> Response {
        app.clone().oneshot(request).await.expect("answer")
    }

    /// The answer to a plain `GET path`, without cookies.
    async fn fetch(app: &Router, path: &str) -> Response {
        send(
            app,
            Request::get(path).body(Body::empty()).expect("request"),
        )
        .await
    }

    fn form(path: &str, cookie: &str, body: &str) -> Request<Body> {
        Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, cookie)
            .body(Body::from(body.to_owned()))
            .expect("request")
    }

    fn set_cookies(response: &Response) -> Vec<String> {
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// Signs in through the form; returns the session cookie.
    async fn signed_in(app: &Router) -> String {
        let page = fetch(app, "/login").await;
        assert_eq!(page.status(), StatusCode::OK);
        let login_cookie = set_cookies(&page)
            .into_iter()
            .find(|cookie| cookie.starts_with(LOGIN_CSRF_COOKIE))
            .expect("login csrf cookie");
        let csrf = crate::session::cookie(&login_cookie, LOGIN_CSRF_COOKIE)
            .expect("csrf value")
            .to_owned();
        let answer = send(
            app,
            form(
                "/login",
                &format!("{LOGIN_CSRF_COOKIE}={csrf}"),
                &format!("token={TOKEN}&csrf_token={csrf}"),
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        let session = set_cookies(&answer)
            .into_iter()
            .find(|cookie| cookie.starts_with(SESSION_COOKIE))
            .expect("session cookie");
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Strict"),
            "{session}"
        );
        session.split(';').next().expect("pair").to_owned()
    }

    #[tokio::test]
    async fn pages_need_a_session_and_forms_their_token() {
        let (app, state) = app();
        let queue = fetch(&app, "/queue").await;
        assert_eq!(queue.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            queue.headers().get(header::LOCATION).expect("location"),
            "/login"
        );

        // A sign-in form without its own anti-forgery token is refused.
        let forged_login = send(&app, form("/login", "", &format!("token={TOKEN}"))).await;
        assert_eq!(forged_login.status(), StatusCode::FORBIDDEN);
        assert!(state.sessions.is_empty());

        let cookie = signed_in(&app).await;
        let csrf = state
            .sessions
            .get(cookie.split_once('=').expect("pair").1, Instant::now())
            .expect("session")
            .csrf;
        for body in [
            "message=x",
            "message=x&csrf_token=",
            "message=x&csrf_token=00ff",
        ] {
            let answer = send(&app, form("/tickets/T-1/acknowledge", &cookie, body)).await;
            assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{body}");
        }
        // Sign-out needs the token too, then ends the session.
        let forged = send(&app, form("/logout", &cookie, "")).await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let out = send(
            &app,
            form("/logout", &cookie, &format!("csrf_token={csrf}")),
        )
        .await;
        assert_eq!(out.status(), StatusCode::SEE_OTHER);
        assert!(state.sessions.is_empty());
    }

    #[tokio::test]
    async fn a_wrong_token_gets_the_form_again_and_answers_carry_safe_headers() {
        let (app, state) = app();
        let page = fetch(&app, "/login").await;
        let headers = page.headers();
        assert!(headers
            .get(header::CONTENT_SECURITY_POLICY)
            .is_some_and(|policy| policy
                .to_str()
                .unwrap_or_default()
                .contains("script-src 'self'")));
        assert_eq!(headers.get(header::X_FRAME_OPTIONS).expect("frame"), "DENY");
        // The server's time, for browsers and benchmarks: `app;dur=<milliseconds>`.
        let timing = headers
            .get("server-timing")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("app;dur="))
            .and_then(|millis| millis.parse::<f64>().ok());
        assert!(timing.is_some_and(|millis| millis >= 0.0), "{headers:?}");
        let answer = send(
            &app,
            form(
                "/login",
                &format!("{LOGIN_CSRF_COOKIE}=abc"),
                "token=nope&csrf_token=abc",
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
        assert!(state.sessions.is_empty());
        let health = fetch(&app, "/healthz").await;
        assert_eq!(
            health.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "no workflow"
        );
    }

    #[test]
    fn the_language_switch_only_goes_back_to_this_site() {
        for (back, to) in [
            (Some("/tickets/T-1"), "/tickets/T-1"),
            (Some("//evil.example"), "/queue"),
            (Some("https://evil.example"), "/queue"),
            (Some("/\\evil.example"), "/queue"),
            (None, "/queue"),
        ] {
            assert_eq!(safe_back(back), to, "{back:?}");
        }
    }
}
