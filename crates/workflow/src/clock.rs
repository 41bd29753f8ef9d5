//! The clock the service reads time from: the system clock in production, a clock that tests
//! set and move by hand.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

/// Where the service gets "now" from. Every decision about time (deadlines, timers, event
/// instants) goes through it.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl TestClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock forward by `step`.
    pub fn advance(&self, step: chrono::Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += step;
    }

    /// Sets the clock to `instant`.
    pub fn set(&self, instant: DateTime<Utc>) {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = instant;
    }
}

/// The environment variable naming a file that holds the instant "now" is (RFC 3339), read
/// at every use. The end-to-end tests drive the service processes through a month on a chosen
/// calendar with it. Honoured only in builds with the `failpoints` feature (never in a
/// release build).
pub const TEST_CLOCK_ENV: &str = "CLOOP_TEST_CLOCK";

/// A clock read from a file at every use (see [`TEST_CLOCK_ENV`]); the system clock while the
/// file is missing or does not hold an instant.
#[derive(Debug, Clone)]
pub struct FileClock {
    path: std::path::PathBuf,
}

impl FileClock {
    /// A clock reading `path`.
    pub fn new(path: impl Into<std::path::PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl Clock for FileClock {
    fn now(&self) -> DateTime<Utc> {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|text| DateTime::parse_from_rfc3339(text.trim()).ok())
            .map_or_else(Utc::now, |instant| instant.with_timezone(&Utc))
    }
}

/// The clock of the service binary: the system clock, or with the `failpoints` feature and
/// [`TEST_CLOCK_ENV`] set, the [`FileClock`] of that file.
pub fn from_env() -> Arc<dyn Clock> {
    if cfg!(feature = "failpoints") {
        if let Some(path) = std::env::var_os(TEST_CLOCK_ENV) {
            return Arc::new(FileClock::new(path));
        }
    }
    Arc::new(SystemClock)
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_clock_moves_only_when_told() {
        let start = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("valid instant");
        let clock = TestClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(chrono::Duration::seconds(90));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(90));
        clock.set(start);
        assert_eq!(clock.now(), start);
    }

    #[test]
    fn a_file_clock_reads_its_file_at_every_use() {
        let dir = std::env::temp_dir().join(format!("cloop-file-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("now");
        let clock = FileClock::new(&path);
        let before = Utc::now();
        assert!(clock.now() >= before, "no file: the system clock");
        std::fs::write(&path, "2026-03-02T10:00:00+08:00\n").expect("write");
        let instant = DateTime::parse_from_rfc3339("2026-03-02T02:00:00Z")
            .expect("instant")
            .with_timezone(&Utc);
        assert_eq!(clock.now(), instant);
        std::fs::write(&path, "2026-03-02T03:30:00.250Z").expect("write");
        assert_eq!(
            clock.now(),
            instant + chrono::Duration::milliseconds(90 * 60 * 1000 + 250)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
