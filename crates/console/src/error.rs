//! The one error type of the console and the HTTP status of each error; `answer.rs` turns
//! them into pages.

use axum::http::StatusCode;

/// Everything that can go wrong in the console.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The configuration or a file it names is wrong (at start-up).
    #[error("configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Service(#[from] service::ServiceError),
    #[error("listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("serve: {0}")]
    Serve(String),
    /// No session, or an expired one: the sign-in page.
    #[error("not signed in")]
    NotSignedIn,
    /// A form without the session's anti-forgery token, or with another one.
    #[error("the anti-forgery token is missing or wrong")]
    Forged,
    /// The page does not exist, or the person may not see it (the same answer for both).
    #[error("not found")]
    NotFound,
    /// The person's role has no page here.
    #[error("not allowed for this role")]
    Forbidden,
    /// A query parameter the console cannot read.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The workflow refused or failed a call that is not an action form's (those show the
    /// refusal on the form instead).
    #[error("workflow answered {}: {}", .0.code(), .0.message())]
    Rpc(tonic::Status),
}

impl ConsoleError {
    /// The HTTP status of the page that shows this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::NotSignedIn => StatusCode::UNAUTHORIZED,
            ConsoleError::Forged | ConsoleError::Forbidden => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Rpc(status) => match status.code() {
                tonic::Code::NotFound | tonic::Code::PermissionDenied => StatusCode::NOT_FOUND,
                tonic::Code::Unauthenticated => StatusCode::UNAUTHORIZED,
                tonic::Code::InvalidArgument | tonic::Code::OutOfRange => StatusCode::BAD_REQUEST,
                tonic::Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::BAD_GATEWAY,
            },
            ConsoleError::Config(_)
            | ConsoleError::Service(_)
            | ConsoleError::Listen { .. }
            | ConsoleError::Serve(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The workflow's answer about one ticket: NOT_FOUND and PERMISSION_DENIED are the same
    /// "not found" page, so a stranger learns nothing of a ticket they may not see.
    pub fn from_ticket_call(status: tonic::Status) -> Self {
        match status.code() {
            tonic::Code::NotFound | tonic::Code::PermissionDenied => ConsoleError::NotFound,
            _ => ConsoleError::Rpc(status),
        }
    }
}
