//! The domain configuration: its types, the built-in values and the reading of a file. Plain
//! data that depends on nothing in `rules`; `Rules::new` (`rules::compile`) is the one place
//! a configuration is checked and compiled.
//!
//! The built-in values are written once, in the shipped example file
//! `deploy/config/closedloop.example.toml`, which is compiled into the crate and read by
//! `Default` (see `defaults`).
//!
//! Reading works in three passes. The text is parsed into a TOML table; the service-owned
//! sections (`nats`, `intake_service`, ...) are set aside unread; the rest is merged over the
//! defaults (tables merge key by key, arrays and values replace), so a partial file overrides
//! only what it names. The merged table is then deserialised with `deny_unknown_fields`; when
//! that fails, the offending key is found by trying the user's keys one at a time, so every
//! error names the dotted key (`sla.urgent.respond.unit`) and the reason. The cross-references
//! (departments, channels, dates, templates) are checked when the configuration is compiled.

mod defaults;
mod load;
mod types;

pub use defaults::SHIPPED_TOML;
pub use load::short_hash;
pub use types::*;
