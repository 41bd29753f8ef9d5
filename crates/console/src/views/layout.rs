//! The frame of every page: language, navigation by role, the sign-out form, the stylesheet.

use crate::i18n::{tr, Lang};
use crate::session::Session;
use domain::types::Role;
use maud::{html, Markup, DOCTYPE};

/// What the frame needs to know about the page.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub lang: Lang,
    pub title: &'a str,
    /// The signed-in person's session (navigation and sign-out), if any.
    pub session: Option<&'a Session>,
    /// The path of this page, for the language switch.
    pub path: &'a str,
    /// Whether the page loads the live-update script.
    pub live: bool,
}

/// The whole page around `body`.
pub fn page(frame: Frame<'_>, body: Markup) -> Markup {
    let lang = frame.lang;
    let other = lang.other();
    html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (frame.title) " · " (tr(lang, "app")) }
                link rel="stylesheet" href="/static/console.css";
                @if frame.live {
                    script src="/static/console.js" defer {}
                }
            }
            body {
                a class="skip" href="#main" { (tr(lang, "nav.skip")) }
                header class="top" {
                    nav aria-label="main" {
                        span class="brand" { (tr(lang, "app")) }
                        @if let Some(session) = frame.session {
                            a href="/queue" { (tr(lang, "nav.queue")) }
                            @if matches!(session.person.role, Role::Manager | Role::Admin) {
                                a href="/reports" { (tr(lang, "nav.reports")) }
                            }
                            @if matches!(session.person.role, Role::Manager | Role::Admin | Role::Head | Role::Agent) {
                                a href="/reports/people" { (tr(lang, "people.title")) }
                            }
                            @if matches!(session.person.role, Role::Auditor | Role::Admin) {
                                a href="/audit" { (tr(lang, "nav.audit")) }
                            }
                        }
                    }
                    div class="who" {
                        a href={ "/lang/" (other.code()) "?back=" (crate::queue::encode(frame.path)) }
                            hreflang=(other.html_lang()) lang=(other.html_lang()) { (tr(lang, "lang.switch")) }
                        @if let Some(session) = frame.session {
                            span class="person" {
                                (session.person.name) " · " (crate::i18n::value(lang, "role", session.person.role.as_str()))
                                @if let Some(department) = &session.person.department { " · " (department) }
                            }
                            form method="post" action="/logout" class="inline" {
                                input type="hidden" name="csrf_token" value=(session.csrf);
                                button type="submit" class="link" { (tr(lang, "nav.signout")) }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
            }
        }
    }
}

/// The page of an error (also used when nobody is signed in: no navigation).
pub fn error_page(lang: Lang, status: u16, title: &str, detail: &str) -> Markup {
    let body = html! {
        h1 { (title) }
        @if !detail.is_empty() { p class="detail" { (detail) } }
        p { a href="/queue" { (tr(lang, "error.back")) } }
    };
    let heading = format!("{status} {title}");
    page(
        Frame {
            lang,
            title: &heading,
            session: None,
            path: "/queue",
            live: false,
        },
        body,
    )
}

/// The sign-in page.
pub fn login(lang: Lang, csrf: &str, wrong: bool) -> Markup {
    let body = html! {
        h1 { (tr(lang, "login.title")) }
        form method="post" action="/login" class="card narrow" {
            input type="hidden" name="csrf_token" value=(csrf);
            @if wrong { p class="refusal" role="alert" { (tr(lang, "login.wrong")) } }
            label for="token" { (tr(lang, "login.token")) }
            input id="token" name="token" type="password" autocomplete="current-password" required autofocus;
            p class="hint" { (tr(lang, "login.hint")) }
            button type="submit" { (tr(lang, "login.submit")) }
        }
    };
    page(
        Frame {
            lang,
            title: tr(lang, "login.title"),
            session: None,
            path: "/login",
            live: false,
        },
        body,
    )
}
