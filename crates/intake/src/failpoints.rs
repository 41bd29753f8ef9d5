//! Crash points for the end-to-end fault tests: with the `failpoints` feature, a named point
//! configured to `return` in the `FAILPOINTS` environment variable aborts the process there,
//! as a power cut would stop it. Without the feature (every release build) they are nothing.
//!
//! The points of this crate: [`AFTER_OUTBOX_COMMIT`] (the outbox transaction committed, the
//! callers not yet answered) and [`AFTER_PUBLISH_BEFORE_MARK`] (JetStream acknowledged a publish,
//! the relay has done no bookkeeping for it yet). `docs/reliability.md` says what each scenario
//! proves.

/// The outbox transaction committed; the callers are not answered yet.
pub const AFTER_OUTBOX_COMMIT: &str = "intake::after_outbox_commit";
/// JetStream acknowledged a publish; the relay has done no bookkeeping for it yet: the row is
/// still held as unacknowledged in memory, and for a row published again (or published late),
/// the new start of its wait for a confirmation is not stored. The outbox records no
/// first publish, so after the crash the row is simply unconfirmed and published again.
pub const AFTER_PUBLISH_BEFORE_MARK: &str = "intake::after_publish_before_mark";

/// Whether this build carries the failpoints (the binary also says so in `--version`).
pub const BUILT_IN: bool = cfg!(feature = "failpoints");

/// The version text of the binary: the package version, marked when failpoints are built in.
pub const VERSION_TEXT: &str = if BUILT_IN {
    concat!(env!("CARGO_PKG_VERSION"), " (failpoints)")
} else {
    env!("CARGO_PKG_VERSION")
};

/// The environment variable naming a file that holds the instant "now" is (RFC 3339), read
/// at every submission. The end-to-end tests drive a month of tickets on a chosen calendar
/// with it. Honoured only with the `failpoints` feature (never in a release build).
pub const TEST_CLOCK_ENV: &str = "CLOOP_TEST_CLOCK";

/// The time of receipt of a submission: the system clock, or with the `failpoints` feature
/// the instant in the file [`TEST_CLOCK_ENV`] names, while it holds one.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    #[cfg(feature = "failpoints")]
    {
        let instant = std::env::var_os(TEST_CLOCK_ENV)
            .and_then(|path| std::fs::read_to_string(path).ok())
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text.trim()).ok());
        if let Some(instant) = instant {
            return instant.with_timezone(&chrono::Utc);
        }
    }
    chrono::Utc::now()
}

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
