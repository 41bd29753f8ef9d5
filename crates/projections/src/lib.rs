//! The read models of the ticket log, kept in the log's own SQLite file (or, next to a
//! PostgreSQL log, in each replica's `projections.db`) and updated by the [`TicketProjector`]
//! inside the writer's transaction, so they commit with the rows they are built from:
//!
//! - `tickets`: one row per ticket with the filter columns of `ListTickets` and the whole
//!   folded [`domain::ticket::Ticket`] as JSON; `seq` (the position of the ticket's first
//!   event) orders lists in receipt order; `urgency_rank`, `next_deadline_ms` and `is_open`
//!   order the queue ([`order`]).
//! - `tickets_fts`: FTS5 with the `trigram` tokenizer over content, product, order id and
//!   keywords, so that Chinese text without spaces is found by any three characters (shorter
//!   terms fall back to `LIKE` on the same table).
//! - `sla_index`: for every ticket with a running SLA clock, the next instant a timer must
//!   look at it (a warning, a deadline or an escalation level).
//! - `ticket_keys`: the key ids (random, not personal) that a ticket's personal data is
//!   sealed with, so that erasing a customer finds every ticket sealed under their keys;
//!   `ticket_erasures`: the tickets each erasure command id erased, so that a repeated
//!   command answers with the same tickets once the keys that linked them are gone.
//! - `customer_contacts`: the keyed hashes of each ticket's contacts, the customer lookup's
//!   index ([`customers`]).
//! - the assignment tables ([`assignment`]) and the retention tables ([`retention`]).
//! - `projection_state`: the log position the projections have folded in.
//!
//! [`shared`] is the ticket table in PostgreSQL that every replica of a PostgreSQL log reads.
//!
//! Personal data: the log holds the customer only sealed (`crates/vault`); the projector
//! opens it with the key store, so `tickets.state_json` holds it in clear until the customer
//! is erased, when the `customer_erased` event empties it. The writer's connection runs with
//! `secure_delete` on, so the overwritten bytes are zeroed rather than left in free space.
//!
//! Architecture invariant: every projection is a pure fold of the log and the configuration.
//! [`rebuild`] replays the log into empty tables and [`digest`] hashes them; the two must agree
//! with the incrementally built tables (tests compare the digests). This crate writes the read
//! models and nothing else: the services read them and run their duties on them.

pub mod assignment;
pub mod customers;
mod digest;
mod error;
pub mod failpoints;
mod fold;
pub mod list;
pub mod order;
mod rebuild;
pub mod record;
pub mod report_rows;
pub mod retention;
pub mod schema;
pub mod shared;
mod upgrade;

pub use digest::digest;
pub use error::ProjectionError;
pub use fold::{
    helpers_column, load_ticket, next_timer_instant, projected_position, write_ticket_row,
    write_ticket_text, TicketProjector, TicketRow,
};
pub use rebuild::rebuild;
