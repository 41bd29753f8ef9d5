//! The `eventlog` crate.
