//! The one place where errors become `tonic::Status`, with the codes of `api.md`.

use domain::DomainError;
use tonic::{Code, Status};

/// The metadata key that carries the field at fault of an INVALID_ARGUMENT status, so clients
/// need not parse the message.
pub const FIELD_METADATA_KEY: &str = "cloop-field";

/// Every kind of failure a service reports to a caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// A rule of the domain refused.
    Domain(DomainError),
    /// A stale `expected_version` or a concurrent write to the same stream.
    Conflict { expected: u64, actual: u64 },
    /// The caller went over its rate limit.
    RateLimited(String),
    /// Overload, or the store is busy, full or unreachable: try again later.
    Unavailable(String),
    /// A bug or an unexpected state; the message is safe to show.
    Internal(String),
}

impl From<DomainError> for Failure {
    fn from(error: DomainError) -> Self {
        Failure::Domain(error)
    }
}

/// Maps a failure to its status: invalid input → INVALID_ARGUMENT naming the field and the
/// reason; wrong step → FAILED_PRECONDITION naming the step; unknown ticket → NOT_FOUND;
/// refused role or department → PERMISSION_DENIED; conflicts → ABORTED; store full or busy →
/// UNAVAILABLE.
pub fn status_from(failure: impl Into<Failure>) -> Status {
    match failure.into() {
        Failure::Domain(error) => match &error {
            DomainError::Invalid { field, .. } => {
                let mut status = Status::invalid_argument(error.to_string());
                // Metadata values are visible ASCII: anything else in a field path (a long
                // attribute key shortened with an ellipsis, say) becomes an underscore.
                let ascii: String = field
                    .chars()
                    .map(|character| {
                        if character.is_ascii_graphic() {
                            character
                        } else {
                            '_'
                        }
                    })
                    .collect();
                if let Ok(value) = ascii.parse() {
                    status.metadata_mut().insert(FIELD_METADATA_KEY, value);
                }
                status
            }
            DomainError::WrongStep { .. } => Status::failed_precondition(error.to_string()),
            DomainError::NotFound { .. } | DomainError::CustomerNotFound { .. } => {
                Status::not_found(error.to_string())
            }
            DomainError::AlreadyExists { .. } => Status::already_exists(error.to_string()),
            // The code says "permission denied" and "failed precondition": the message is the
            // reason alone, so that a client showing both does not say it twice.
            DomainError::PermissionDenied { reason } => Status::permission_denied(reason.clone()),
            DomainError::Precondition { reason } => Status::failed_precondition(reason.clone()),
            DomainError::Config { .. } => Status::failed_precondition(error.to_string()),
            DomainError::LimitReached { .. } => Status::resource_exhausted(error.to_string()),
        },
        Failure::Conflict { expected, actual } => Status::aborted(format!(
            "expected version {expected} but the ticket is at version {actual}"
        )),
        Failure::RateLimited(reason) => Status::resource_exhausted(reason),
        Failure::Unavailable(reason) => Status::unavailable(reason),
        Failure::Internal(reason) => Status::new(Code::Internal, reason),
    }
}

/// The field an INVALID_ARGUMENT status names, from its metadata.
pub fn field_of(status: &Status) -> Option<String> {
    status
        .metadata()
        .get(FIELD_METADATA_KEY)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::types::Step;

    #[test]
    fn invalid_input_names_the_field_in_message_and_metadata() {
        let status = status_from(DomainError::invalid("customer.phone", "not a phone number"));
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(status.message().contains("customer.phone"));
        assert!(status.message().contains("not a phone number"));
        assert_eq!(field_of(&status).as_deref(), Some("customer.phone"));
    }

    #[test]
    fn refusals_do_not_repeat_their_code_in_the_message() {
        let status = status_from(DomainError::PermissionDenied {
            reason: "li.si (manager) may not archive a ticket".into(),
        });
        assert_eq!(status.message(), "li.si (manager) may not archive a ticket");
        let status = status_from(DomainError::Precondition {
            reason: "no review recorded yet".into(),
        });
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(status.message(), "no review recorded yet");
    }

    #[test]
    fn fields_with_non_ascii_characters_still_reach_the_metadata() {
        let status = status_from(DomainError::invalid("attributes.颜色…", "too long"));
        assert_eq!(field_of(&status).as_deref(), Some("attributes.___"));
    }

    #[test]
    fn each_failure_has_the_code_of_the_contract() {
        let cases = [
            (
                Failure::Domain(DomainError::WrongStep {
                    command: "Archive".into(),
                    step: Step::Handle,
                }),
                Code::FailedPrecondition,
            ),
            (
                Failure::Domain(DomainError::NotFound {
                    ticket_id: "x".into(),
                }),
                Code::NotFound,
            ),
            (
                Failure::Domain(DomainError::PermissionDenied {
                    reason: "other department".into(),
                }),
                Code::PermissionDenied,
            ),
            (
                Failure::Conflict {
                    expected: 3,
                    actual: 4,
                },
                Code::Aborted,
            ),
            (
                Failure::Unavailable("outbox busy".into()),
                Code::Unavailable,
            ),
            (
                Failure::RateLimited("slow down".into()),
                Code::ResourceExhausted,
            ),
        ];
        for (failure, code) in cases {
            assert_eq!(status_from(failure.clone()).code(), code, "{failure:?}");
        }
        let wrong_step = status_from(DomainError::WrongStep {
            command: "Archive".into(),
            step: Step::Handle,
        });
        assert!(wrong_step.message().contains("handle"));
    }
}
