//! The one place where an error becomes a page ([`PageError`]): the status code, the message
//! shown and what is logged (never a token, never contact data: only the kind of failure and
//! the gRPC code).

use crate::error::ConsoleError;
use crate::i18n::{tr, Lang};
use axum::response::{IntoResponse, Redirect, Response};

/// An error on its way to the browser, with the language to say it in.
#[derive(Debug)]
pub struct PageError {
    pub lang: Lang,
    pub error: ConsoleError,
}

impl PageError {
    pub fn new(lang: Lang, error: impl Into<ConsoleError>) -> Self {
        Self {
            lang,
            error: error.into(),
        }
    }
}

/// Shorthand: `result.map_err(page(lang))`.
pub fn page<E: Into<ConsoleError>>(lang: Lang) -> impl Fn(E) -> PageError {
    move |error| PageError::new(lang, error)
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let status = self.error.status_code();
        match &self.error {
            ConsoleError::NotSignedIn => return Redirect::to("/login").into_response(),
            ConsoleError::Rpc(rpc) if rpc.code() == tonic::Code::Unauthenticated => {
                return Redirect::to("/login").into_response();
            }
            ConsoleError::Rpc(rpc) => {
                tracing::warn!(code = ?rpc.code(), "workflow call failed");
            }
            ConsoleError::Forged => tracing::warn!("form refused: anti-forgery token"),
            _ => {}
        }
        let (title, detail) = match &self.error {
            ConsoleError::NotFound => (tr(lang, "error.not_found"), String::new()),
            ConsoleError::Forged => (tr(lang, "error.forged"), String::new()),
            ConsoleError::Forbidden => (tr(lang, "error.forbidden"), String::new()),
            ConsoleError::BadRequest(reason) => (tr(lang, "error.bad_request"), reason.clone()),
            ConsoleError::Rpc(rpc) => (tr(lang, "error.workflow"), rpc.message().to_owned()),
            other => (tr(lang, "error.internal"), other.to_string()),
        };
        let body = crate::views::layout::error_page(lang, status.as_u16(), title, &detail);
        (status, axum::response::Html(body.into_string())).into_response()
    }
}
