//! Crash points for the end-to-end fault tests: with the `failpoints` feature, a named point
//! configured to `return` in the `FAILPOINTS` environment variable aborts the process there,
//! as a power cut would stop it. Without the feature (every release build) they are nothing.
//!
//! The points of this service: [`AFTER_COMMIT_BEFORE_ACK`] (a consumed batch committed to the
//! log, its messages not yet acked) and [`MID_PROJECTION_UPDATE`] (inside the projector, between
//! the ticket row and the projection position, so the whole transaction rolls back; the
//! projections crate holds it). `docs/reliability.md` says what each scenario proves.

pub use projections::failpoints::{crash_point, MID_PROJECTION_UPDATE};

/// A consumed batch is committed to the log; its messages are not acked yet.
pub const AFTER_COMMIT_BEFORE_ACK: &str = "workflow::after_commit_before_ack";

/// Whether this build carries the failpoints (the binary also says so in `--version`).
pub const BUILT_IN: bool = cfg!(feature = "failpoints");

/// The version text of the binary: the package version, marked when failpoints are built in.
pub const VERSION_TEXT: &str = if BUILT_IN {
    concat!(env!("CARGO_PKG_VERSION"), " (failpoints)")
} else {
    env!("CARGO_PKG_VERSION")
};
