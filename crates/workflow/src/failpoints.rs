//! Crash points for the end-to-end fault tests: with the `failpoints` feature, a named point
//! configured to `return` in the `FAILPOINTS` environment variable aborts the process there,
//! as a power cut would stop it. Without the feature (every release build) they are nothing.
//!
//! The points of this crate: [`AFTER_COMMIT_BEFORE_ACK`] (a consumed batch committed to the
//! log, its messages not yet acked) and [`MID_PROJECTION_UPDATE`] (inside the projector, between
//! the ticket row and the projection position, so the whole transaction rolls back).
//! `docs/reliability.md` says what each scenario proves.

/// A consumed batch is committed to the log; its messages are not acked yet.
pub const AFTER_COMMIT_BEFORE_ACK: &str = "workflow::after_commit_before_ack";
/// Inside the projector's apply, in the middle of a projection update: the transaction rolls
/// back.
pub const MID_PROJECTION_UPDATE: &str = "workflow::mid_projection_update";

/// Whether this build carries the failpoints (the binary also says so in `--version`).
pub const BUILT_IN: bool = cfg!(feature = "failpoints");

/// The version text of the binary: the package version, marked when failpoints are built in.
pub const VERSION_TEXT: &str = if BUILT_IN {
    concat!(env!("CARGO_PKG_VERSION"), " (failpoints)")
} else {
    env!("CARGO_PKG_VERSION")
};

/// Aborts the process when the failpoint `name` fires (its action is `return`); does nothing
/// otherwise, and nothing at all without the `failpoints` feature.
#[inline]
pub fn crash_point(name: &str) {
    #[cfg(feature = "failpoints")]
    {
        fail::fail_point!(name, |_| {
            tracing::error!(failpoint = name, "failpoint fired: aborting the process");
            std::process::abort()
        });
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = name;
    }
}
