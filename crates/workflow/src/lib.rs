//! The `workflow` crate.
