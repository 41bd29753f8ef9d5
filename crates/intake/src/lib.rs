//! The `intake` crate.
