//! The domain configuration: every number and keyword of `domain.md` as a default, read from
//! the one TOML file of the services, merged over the defaults and checked before use.
//!
//! Loading works in three passes. The text is parsed into a TOML table; the service-owned
//! sections (`nats`, `intake_service`, ...) are set aside unread; the rest is merged over the
//! defaults (tables merge key by key, arrays and values replace), so a partial file overrides
//! only what it names. The merged table is then deserialised with `deny_unknown_fields`; when
//! that fails, the offending key is found by trying the user's keys one at a time, so every
//! error names the dotted key (`sla.urgent.respond.unit`) and the reason. Finally the
//! cross-references are validated (departments, channels, dates, templates).

mod defaults;
mod load;
mod types;
mod validate;

pub use load::short_hash;
pub use types::*;
