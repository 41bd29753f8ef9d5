//! A full data disk: the words every service answers with ("data disk full: ..." as
//! UNAVAILABLE, see [`full_message`]) and the alarm that counts each refused write and says so
//! in the log at most once every [`ALARM_EVERY`], without any customer data.

use prometheus::IntCounter;
use std::fmt::Display;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What every message about a full data disk starts with.
pub const DISK_FULL: &str = "data disk full";

/// How often the alarm logs at most.
pub const ALARM_EVERY: Duration = Duration::from_secs(10);

/// `data disk full: <detail>; retry later`: the message of the UNAVAILABLE status a caller
/// gets while the disk is full.
pub fn full_message(detail: impl Display) -> String {
    format!("{DISK_FULL}: {detail}; retry later")
}

/// Whether an I/O error means the file system has no room (ENOSPC, or EDQUOT for a quota).
pub fn is_storage_full(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Whether an error's text says the disk is full: SQLite's "database or disk is full", or a
/// message made by [`full_message`] (for errors that reach a caller only as text).
pub fn mentions_full_disk(text: &str) -> bool {
    text.contains("database or disk is full") || text.contains(DISK_FULL)
}

/// When the alarm last logged, and how many writes it counted since.
struct AlarmState {
    last_logged: Option<Instant>,
    since: u64,
}

static ALARM: Mutex<AlarmState> = Mutex::new(AlarmState {
    last_logged: None,
    since: 0,
});

/// Counts one write refused because the data disk is full on `counter` and logs it, at most
/// once every [`ALARM_EVERY`] for the whole process. `what` says what could not be written
/// ("outbox", "event log"); `error` must carry no customer data (SQLite's and the file
/// system's messages do not).
pub fn alarm(counter: &IntCounter, what: &str, error: &dyn Display) {
    counter.inc();
    let mut state = ALARM
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    state.since += 1;
    let now = Instant::now();
    if state
        .last_logged
        .is_some_and(|last| now.duration_since(last) < ALARM_EVERY)
    {
        return;
    }
    tracing::error!(
        what,
        %error,
        refused_writes = state.since,
        "{DISK_FULL}: writes are refused (callers get UNAVAILABLE, nothing is acknowledged) \
         until space is freed; recovery is automatic"
    );
    state.last_logged = Some(now);
    state.since = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_full_disk() {
        let message = full_message("the outbox could not be written");
        assert!(message.starts_with("data disk full: the outbox"));
    }

    #[test]
    fn full_disks_are_recognised_in_text() {
        assert!(mentions_full_disk(
            "seal personal data: database or disk is full"
        ));
        assert!(mentions_full_disk(&full_message("x")));
        assert!(!mentions_full_disk("database is locked"));
    }

    #[test]
    fn storage_full_is_recognised() {
        assert!(is_storage_full(&std::io::Error::from_raw_os_error(28)));
        assert!(!is_storage_full(&std::io::Error::from_raw_os_error(2)));
    }

    #[test]
    fn every_alarm_is_counted() {
        let counter = IntCounter::new("test_disk_full_total", "test").expect("counter");
        for _ in 0..3 {
            alarm(&counter, "test", &"database or disk is full");
        }
        assert_eq!(counter.get(), 3);
    }
}
