//! The one error type of the reports crate.

/// What can go wrong when asking for a report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The month is not of the form `YYYY-MM` or lies outside the supported range.
    #[error("invalid month {text:?}: expected YYYY-MM, e.g. 2026-11")]
    InvalidMonth { text: String },
    /// A report period (quarter, range of days) that is malformed or out of range.
    #[error("invalid {field}: {reason}")]
    InvalidPeriod { field: String, reason: String },
    /// A protobuf message lacks a field the report needs or carries a value out of range.
    #[error("invalid report message: {reason}")]
    InvalidMessage { reason: String },
    /// A stored ticket state could not be read back.
    #[error("{reason}")]
    CorruptState { reason: String },
}
