//! `Reports.MonthlyReport` inside the workflow process over a month of 1,000,000 tickets:
//! the time of one call from a gRPC client and the peak resident memory of the workflow
//! process (`VmHWM`). Prints a markdown table for `docs/benchmarks.md`.
//!
//! Run with `cargo build --release -p workflow && cargo bench -p workflow --bench reports`
//! (part of `make bench`): the benchmark spawns the release `cloop-workflow` and a
//! nats-server. Set-up, not measured:
//!
//! 1. one `FeedbackReceived` is published to FEEDBACK, so that the log holds a row and the
//!    projections a position: the report is judged at that row's recorded time, as in
//!    production;
//! 2. the service is stopped and `CLOOP_BENCH_TICKETS` (default 1,000,000) synthetic tickets
//!    of October 2026 (`reports::synthetic`: every kind, priority and channel, 8 departments,
//!    92% responded, reviews, reopens, archives) are written straight into the projections
//!    as the projector writes them (replaying a million submissions through
//!    NATS would take far longer than the query measured);
//! 3. the service is started again on that database.
//!
//! Then `MonthlyReport` for 2026-10 is called three times; the report must count every seeded
//! ticket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/report_setup.rs"]
mod report_setup;
#[path = "../tests/support/mod.rs"]
mod support;

use common::{authorized, channel};
use domain::ids::TicketIdGenerator;
use proto::v1;
use proto::v1::reports_client::ReportsClient;
use report_setup::{
    peak_memory_kib, read_rows_only, seed_projections, seeded_workflow, MANAGER, STATES_QUERY,
};
use reports::synthetic::{ticket, Random};
use reports::YearMonth;
use std::path::Path;
use std::time::{Duration, Instant};

const MONTH: &str = "2026-10";

/// Writes `count` synthetic tickets of `month` into the projections (the service is
/// stopped), in one transaction.
fn seed(data_dir: &Path, month: YearMonth, count: u64) -> Duration {
    let rules = domain::Rules::defaults();
    let month_start = month.start(rules.calendar().offset());
    let mut random = Random(7);
    let mut generator = TicketIdGenerator::new(900);
    let tickets = (0..count).map(|index| {
        let state = ticket(&mut random, &mut generator, month_start);
        (100_000_000 + i64::try_from(index).unwrap(), state)
    });
    seed_projections(data_dir, tickets)
}

fn main() {
    let count: u64 = std::env::var("CLOOP_BENCH_TICKETS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let month: YearMonth = MONTH.parse().unwrap();
        // Kept whole until the end: dropping it stops the nats-server and removes the files.
        let mut seeded =
            seeded_workflow("cloop-report-bench-", |data_dir| seed(data_dir, month, count)).await;
        let (workflow, address, data_dir, seeded_in) = (
            &mut seeded.workflow,
            seeded.address.clone(),
            seeded.data_dir.clone(),
            seeded.seeded_in,
        );
        let pid = workflow.pid().unwrap();
        let mut reports = ReportsClient::new(channel(&address).await);
        // A cheap call first, so that the connection and the service are warm.
        reports
            .monthly_report(authorized(
                v1::MonthlyReportRequest {
                    month: "2026-01".into(),
                    ..Default::default()
                },
                MANAGER,
            ))
            .await
            .unwrap();
        let memory_before = peak_memory_kib(pid);
        let load_before = common::load_average(" ");
        let mut times = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let report = reports
                .monthly_report(authorized(
                    v1::MonthlyReportRequest {
                        month: MONTH.into(),
                        ..Default::default()
                    },
                    MANAGER,
                ))
                .await
                .unwrap()
                .into_inner()
                .report
                .unwrap();
            times.push(started.elapsed());
            assert_eq!(report.tickets, count, "the report counts every seeded ticket");
        }
        let memory_after = peak_memory_kib(pid);
        let mut sorted = times.clone();
        sorted.sort();
        let median = sorted[1];
        let load_after = common::load_average(" ");
        workflow.terminate(Duration::from_secs(30));
        // The ceiling: the same SELECT as the report's, over the month and the month before.
        let offset = domain::Rules::defaults().calendar().offset();
        let window = (month.previous().start(offset), month.end(offset));
        let mut reads = Vec::new();
        for _ in 0..3 {
            let read = read_rows_only(&data_dir, projections::report_rows::PERIOD_QUERY, window);
            assert_eq!(read.rows, count);
            reads.push(read);
        }
        let mut read_times: Vec<Duration> = reads.iter().map(|read| read.time).collect();
        read_times.sort();
        let report_bytes = reads[0].bytes;
        let states = read_rows_only(&data_dir, STATES_QUERY, window);
        assert_eq!(states.rows, count);

        let seconds = |duration: &Duration| format!("{:.2} s", duration.as_secs_f64());
        println!();
        println!(
            "`MonthlyReport` in the workflow process over {count} tickets of {MONTH} \
             (load average {load_before} before, {load_after} after)"
        );
        println!();
        println!("| what | figure |");
        println!("| --- | --- |");
        println!(
            "| `MonthlyReport` over gRPC, 3 calls: median (each) | {} ({}) |",
            seconds(&median),
            times.iter().map(seconds).collect::<Vec<_>>().join(", ")
        );
        println!(
            "| ceiling: reading the report rows alone (same SELECT, no parsing), 3 runs: median (each) | {} ({}) |",
            seconds(&read_times[1]),
            reads
                .iter()
                .map(|read| seconds(&read.time))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "| the report rows' size: mean bytes per ticket | {} |",
            report_bytes / count.max(1)
        );
        println!(
            "| for comparison: reading the whole states (`tickets.state_json`) alone, 1 run; mean bytes per ticket | {}; {} |",
            seconds(&states.time),
            states.bytes / count.max(1)
        );
        println!(
            "| peak resident memory of `cloop-workflow` (`VmHWM`): before the calls, after | {:.1} MiB, {:.1} MiB |",
            memory_before as f64 / 1024.0,
            memory_after as f64 / 1024.0
        );
        println!(
            "| seeding {count} projection rows (set-up, not a figure of the service) | {:.1} s |",
            seeded_in.as_secs_f64()
        );
        let aim_time = median < Duration::from_secs(2);
        let aim_memory = memory_after < 200 * 1024;
        println!();
        println!(
            "aim under 2 s: {}; aim under 200 MiB: {}",
            if aim_time { "met" } else { "missed" },
            if aim_memory { "met" } else { "missed" }
        );
    });
}
