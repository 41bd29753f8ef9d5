//! The `domain` crate.
