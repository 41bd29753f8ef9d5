//! `cloop`, the command line of closedloop: one binary with a subcommand for every RPC of
//! the public API (`docs/cli.md`), offline commands on the event log, and token creation.
//!
//! The crate keeps rendering (`table`, `style`, `render`) apart from talking to services
//! (`rpc`, `commands`), so that tables, timelines and JSON are snapshot-tested on fixed data
//! without a server. Errors carry the exit code scripts rely on (`error::exit_code`).

pub mod args;
pub mod commands;
pub mod config;
pub mod csv_import;
pub mod error;
pub mod names;
pub mod progress;
pub mod render;
pub mod render_audit;
pub mod rpc;
pub mod style;
pub mod table;

pub use error::{exit_code, CliError};
