//! The pure core of closedloop: ids, the ticket aggregate and its six steps, classification,
//! routing, SLA policy and the business calendar.
//!
//! Architecture invariant: nothing in this crate performs I/O or reads a clock. Every instant
//! is passed in by the caller, so every rule is unit and property tested in milliseconds.

pub mod aggregate;
pub mod authorize;
pub mod award;
pub mod classifier;
pub mod command;
pub mod config;
pub mod csv;
pub mod customer;
pub mod error;
pub mod event;
pub mod ids;
pub mod notice;
pub mod notification;
pub mod problems;
pub mod rules;
pub mod sealed_text;
pub mod selfservice;
pub mod submission;
pub mod ticket;
pub mod types;

pub use aggregate::{apply, decide, decide_receipt, fold};
pub use authorize::{authorize, Action};
pub use command::{ClassifyCommand, Command, Submission};
pub use error::DomainError;
pub use event::Event;
pub use ids::{CommandId, EventId, FeedbackId, TicketId, TicketIdGenerator};
pub use rules::{DomainConfig, Rules};
pub use ticket::{Customer, Ticket};
