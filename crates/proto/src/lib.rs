//! The `proto` crate.
