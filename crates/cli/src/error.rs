//! The one error type of the CLI and the exit code of each error: the table scripts rely on
//! (documented in `docs/cli.md`).

use tonic::Code;

/// Exit codes of `cloop`.
pub mod exit_code {
    /// Success.
    pub const OK: i32 = 0;
    /// Any other error: a local file, an unexpected answer.
    pub const ERROR: i32 = 1;
    /// The command line was wrong (unknown flag, missing argument, malformed value).
    pub const USAGE: i32 = 2;
    /// UNAUTHENTICATED or PERMISSION_DENIED: the token is missing, unknown or not allowed.
    pub const DENIED: i32 = 3;
    /// NOT_FOUND: no such ticket.
    pub const NOT_FOUND: i32 = 4;
    /// INVALID_ARGUMENT, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, ALREADY_EXISTS: the
    /// service refused the request as it stands.
    pub const REFUSED: i32 = 5;
    /// UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED: unreachable, overloaded or too
    /// slow; trying again later may work.
    pub const UNAVAILABLE: i32 = 6;
    /// INTERNAL, UNKNOWN, UNIMPLEMENTED, DATA_LOSS, CANCELLED: the service failed.
    pub const SERVICE_FAILED: i32 = 7;
    /// Verification found a bad row in the event log.
    pub const VERIFY_FAILED: i32 = 8;
}

/// Everything that can make a `cloop` command fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line or a value in it is wrong.
    #[error("{0}")]
    Usage(String),
    /// The service could not be reached at all.
    #[error("cannot reach {service} at {address}: {reason}")]
    Unreachable {
        service: &'static str,
        address: String,
        reason: String,
    },
    /// The service answered with an error status.
    #[error("{}: {}", code_text(.status.code()), status_message(.status))]
    Status { status: tonic::Status },
    /// A local file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The event log could not be read.
    #[error("{context}: {source}")]
    Log {
        context: String,
        #[source]
        source: eventlog::LogError,
    },
    /// The log's hash chain is broken.
    #[error("verification failed at position {position}: {detail}")]
    VerifyFailed { position: u64, detail: String },
    /// A local command refused to go on as things stand (e.g. `log migrate` into a database
    /// that holds a different log).
    #[error("{0}")]
    Refused(String),
    /// Some rows of a bulk submission were refused.
    #[error("{refused} of {total} submissions were refused")]
    PartlyRefused { refused: u64, total: u64 },
    /// Anything else, with a sentence saying what.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// The exit code of this error (see [`exit_code`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => exit_code::USAGE,
            CliError::Unreachable { .. } => exit_code::UNAVAILABLE,
            CliError::Status { status } => code_of_status(status.code()),
            CliError::Io { .. } | CliError::Log { .. } | CliError::Other(_) => exit_code::ERROR,
            CliError::VerifyFailed { .. } => exit_code::VERIFY_FAILED,
            CliError::PartlyRefused { .. } | CliError::Refused(_) => exit_code::REFUSED,
        }
    }

    /// A PERMISSION_DENIED answer with the command the person typed appended
    /// (`… may not record a review (`cloop review`)`); every other error unchanged.
    pub fn naming_command(self, typed: &str) -> CliError {
        match self {
            CliError::Status { status } if status.code() == Code::PermissionDenied => {
                let message = format!("{} (`{typed}`)", status_message(&status));
                CliError::Status {
                    status: tonic::Status::permission_denied(message),
                }
            }
            other => other,
        }
    }

    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }

    /// An event-log error with what was being done.
    pub fn log(context: impl Into<String>) -> impl FnOnce(eventlog::LogError) -> CliError {
        let context = context.into();
        move |source| CliError::Log { context, source }
    }
}

impl From<tonic::Status> for CliError {
    fn from(status: tonic::Status) -> Self {
        CliError::Status { status }
    }
}

/// The exit code for a gRPC status code.
pub fn code_of_status(code: Code) -> i32 {
    match code {
        Code::Ok => exit_code::OK,
        Code::Unauthenticated | Code::PermissionDenied => exit_code::DENIED,
        Code::NotFound => exit_code::NOT_FOUND,
        Code::InvalidArgument
        | Code::FailedPrecondition
        | Code::Aborted
        | Code::OutOfRange
        | Code::AlreadyExists => exit_code::REFUSED,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => {
            exit_code::UNAVAILABLE
        }
        Code::Internal | Code::Unknown | Code::Unimplemented | Code::DataLoss | Code::Cancelled => {
            exit_code::SERVICE_FAILED
        }
    }
}

/// A gRPC code as people say it: "not found", "permission denied".
pub fn code_text(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown error",
        Code::InvalidArgument => "invalid argument",
        Code::DeadlineExceeded => "timed out",
        Code::NotFound => "not found",
        Code::AlreadyExists => "already exists",
        Code::PermissionDenied => "permission denied",
        Code::ResourceExhausted => "rate limited",
        Code::FailedPrecondition => "not allowed now",
        Code::Aborted => "conflict",
        Code::OutOfRange => "too large",
        Code::Unimplemented => "not implemented by the service",
        Code::Internal => "service error",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The status message on one line (transport errors can span several).
fn status_message(status: &tonic::Status) -> String {
    let message = status.message().trim();
    let message = if message.is_empty() && status.code() == tonic::Code::Unimplemented {
        "the service at this address does not offer this call".to_owned()
    } else if message.is_empty() {
        "no details".to_owned()
    } else {
        message.to_owned()
    };
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_family_has_its_code() {
        let cases = [
            (Code::Unauthenticated, 3),
            (Code::PermissionDenied, 3),
            (Code::NotFound, 4),
            (Code::InvalidArgument, 5),
            (Code::FailedPrecondition, 5),
            (Code::Aborted, 5),
            (Code::OutOfRange, 5),
            (Code::Unavailable, 6),
            (Code::DeadlineExceeded, 6),
            (Code::ResourceExhausted, 6),
            (Code::Internal, 7),
            (Code::Unimplemented, 7),
        ];
        for (code, expected) in cases {
            assert_eq!(code_of_status(code), expected, "{code:?}");
        }
    }

    #[test]
    fn permission_errors_name_the_typed_command_once() {
        let error = CliError::from(tonic::Status::permission_denied(
            "wang.wu (agent of technical) may not record a review",
        ))
        .naming_command("cloop review");
        assert_eq!(
            error.to_string(),
            "permission denied: wang.wu (agent of technical) may not record a review \
             (`cloop review`)"
        );
        assert_eq!(error.exit_code(), 3);
        let other = CliError::from(tonic::Status::not_found("ticket x does not exist"))
            .naming_command("cloop review");
        assert_eq!(other.to_string(), "not found: ticket x does not exist");
    }

    #[test]
    fn status_errors_are_one_line() {
        let error = CliError::from(tonic::Status::not_found(
            "ticket 261102-00000-00000X\ndoes not exist",
        ));
        assert_eq!(
            error.to_string(),
            "not found: ticket 261102-00000-00000X does not exist"
        );
        assert_eq!(error.exit_code(), 4);
    }
}
