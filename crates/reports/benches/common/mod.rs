//! What the report benchmarks share: the ticket count, the chunk size, the instant the
//! report is judged at and the peak memory of the process.

use chrono::{DateTime, TimeZone, Utc};

/// Tickets generated at a time.
pub const CHUNK: u64 = 10_000;

/// The number of tickets: `CLOOP_BENCH_TICKETS`, else `default`.
pub fn ticket_count(default: u64) -> u64 {
    std::env::var("CLOOP_BENCH_TICKETS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

/// `hour`:00 on the day `year`-`month`-`day` at UTC+08:00, the business calendar's offset.
pub fn as_of(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(8 * 3600)
        .expect("a valid offset")
        .with_ymd_and_hms(year, month, day, hour, 0, 0)
        .single()
        .expect("a valid instant")
        .with_timezone(&Utc)
}

/// The peak resident memory of this process so far, in KiB (Linux `VmHWM`).
pub fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
