//! The crash point of the projector for the end-to-end fault tests: with the `failpoints`
//! feature, [`MID_PROJECTION_UPDATE`] configured to `return` in the `FAILPOINTS` environment
//! variable aborts the process there, as a power cut would stop it. Without the feature (every
//! release build) it is nothing. `docs/reliability.md` says what the scenario proves.

/// Inside the projector's apply, in the middle of a projection update (between the ticket row
/// and the projection position): the transaction rolls back.
pub const MID_PROJECTION_UPDATE: &str = "workflow::mid_projection_update";

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
