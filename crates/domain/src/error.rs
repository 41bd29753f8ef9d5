//! The one error type of the domain crate.

use crate::types::Step;

/// Everything a domain rule can refuse. Services map these to gRPC status codes in one place.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// Malformed input: names the field and says why.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The command is not allowed in the ticket's current step.
    #[error("{command} is not allowed while the ticket is in step {step}")]
    WrongStep { command: String, step: Step },
    /// The command needs a ticket that has not been received yet.
    #[error("ticket {ticket_id} does not exist")]
    NotFound { ticket_id: String },
    /// No customer profile visible to the caller is known by the contact (or ticket) asked
    /// for: `key` names the kind of contact, never its value.
    #[error("no customer is known by that {key}")]
    CustomerNotFound { key: String },
    /// The ticket already exists and cannot be received again.
    #[error("ticket {ticket_id} already exists")]
    AlreadyExists { ticket_id: String },
    /// The actor's role or department does not allow this.
    #[error("permission denied: {reason}")]
    PermissionDenied { reason: String },
    /// The configuration (rules, SLA policy, calendar) is not usable.
    #[error("invalid configuration at {key}: {reason}")]
    Config { key: String, reason: String },
    /// The command cannot be done in the ticket's present situation (other than its step):
    /// says why.
    #[error("failed precondition: {reason}")]
    Precondition { reason: String },
    /// A cap on what one ticket (or one caller) may hold was reached: names the limit's
    /// configuration key and its value. Services answer RESOURCE_EXHAUSTED.
    #[error("limit {limit} reached: {reason}")]
    LimitReached { limit: String, reason: String },
}

impl DomainError {
    /// Builds an [`DomainError::Invalid`] for `field` with `reason`.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// `Ok` when the actor is `allowed`; otherwise a [`DomainError::PermissionDenied`] saying
    /// why with `reason()`.
    pub fn unless_allowed(allowed: bool, reason: impl FnOnce() -> String) -> Result<(), Self> {
        if allowed {
            Ok(())
        } else {
            Err(Self::PermissionDenied { reason: reason() })
        }
    }
}
