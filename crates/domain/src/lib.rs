//! The pure core of closedloop: ids, the ticket aggregate and its six steps, classification,
//! routing, SLA policy and the business calendar.
//!
//! Architecture invariant: nothing in this crate performs I/O or reads a clock. Every instant
//! is passed in by the caller, so every rule is unit and property tested in milliseconds.

pub mod error;
pub mod types;

pub use error::DomainError;
