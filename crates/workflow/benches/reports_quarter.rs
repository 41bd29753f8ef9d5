//! `Reports.Report` and `Reports.PeopleReport` inside the workflow process over a quarter of
//! 3,000,000 tickets: the time of one call from a gRPC client, the peak resident memory of
//! the workflow process (`VmHWM`), and in the same run the ceiling: reading the quarter's
//! stored rows alone (the same SELECT, no parsing, no fold) from the same database. Prints a
//! markdown table for `docs/benchmarks.md`.
//!
//! Run with `cargo build --release -p workflow && cargo bench -p workflow --bench
//! reports_quarter`. Set-up, not measured, as `--bench reports`: one real submission so that
//! the log has a position, then `CLOOP_BENCH_TICKETS` (default 3,000,000) synthetic tickets,
//! a third in each month of 2026-Q3 (`reports::synthetic`, each dispatched ticket held by
//! one of 20 people of its department), written straight into the projections while the
//! service is stopped.

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
use reports::{Period, YearMonth};
use std::path::Path;
use std::time::{Duration, Instant};

const QUARTER: &str = "2026-Q3";

/// Writes `count` synthetic tickets, a third in each month of the quarter, with assignees.
fn seed(data_dir: &Path, quarter: Period, count: u64) -> Duration {
    let rules = domain::Rules::defaults();
    let offset = rules.calendar().offset();
    let months: Vec<YearMonth> = quarter.months();
    let mut random = Random(11);
    let mut generator = TicketIdGenerator::new(901);
    let tickets = (0..count).map(|index| {
        let month = months[usize::try_from(index % 3).unwrap()];
        let mut state = ticket(&mut random, &mut generator, month.start(offset));
        if let Some(department) = &state.department {
            state.assignee = Some(format!("{department}-{:02}", index % 20));
        }
        (100_000_000 + i64::try_from(index).unwrap(), state)
    });
    seed_projections(data_dir, tickets)
}

fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn main() {
    let count: u64 = std::env::var("CLOOP_BENCH_TICKETS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(3_000_000);
    let quarter: Period = QUARTER.parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Kept whole until the end: dropping it stops the nats-server and removes the files.
        let mut seeded =
            seeded_workflow("cloop-quarter-bench-", |data_dir| seed(data_dir, quarter, count))
                .await;
        let (workflow, address, data_dir, seeded_in) = (
            &mut seeded.workflow,
            seeded.address.clone(),
            seeded.data_dir.clone(),
            seeded.seeded_in,
        );
        let pid = workflow.pid().unwrap();
        let mut reports = ReportsClient::new(channel(&address).await);
        let period = || {
            Some(v1::ReportPeriod {
                quarter: QUARTER.into(),
                ..Default::default()
            })
        };
        // A cheap call first, so that the connection and the service are warm.
        reports
            .report(authorized(
                v1::ReportRequest {
                    period: Some(v1::ReportPeriod {
                        month: "2026-01".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                MANAGER,
            ))
            .await
            .unwrap();
        let memory_before = peak_memory_kib(pid);
        let load_before = common::load_average(" ");
        let mut report_times = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let answer = reports
                .report(authorized(
                    v1::ReportRequest {
                        period: period(),
                        ..Default::default()
                    },
                    MANAGER,
                ))
                .await
                .unwrap()
                .into_inner();
            report_times.push(started.elapsed());
            assert_eq!(answer.report.unwrap().tickets, count, "every seeded ticket counts");
            assert_eq!(answer.months.len(), 3);
        }
        let memory_report = peak_memory_kib(pid);
        let mut people_times = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let answer = reports
                .people_report(authorized(
                    v1::PeopleReportRequest {
                        period: period(),
                        ..Default::default()
                    },
                    MANAGER,
                ))
                .await
                .unwrap()
                .into_inner();
            people_times.push(started.elapsed());
            let rows = answer.report.unwrap().people;
            assert_eq!(rows.len(), 160, "20 people in each of 8 departments");
        }
        let memory_after = peak_memory_kib(pid);
        let load_after = common::load_average(" ");
        workflow.terminate(Duration::from_secs(30));
        let offset = domain::Rules::defaults().calendar().offset();
        let window = (quarter.start(offset), quarter.end(offset));
        let mut read_times = Vec::new();
        let mut report_bytes = 0;
        for _ in 0..3 {
            let read = read_rows_only(&data_dir, projections::report_rows::PERIOD_QUERY, window);
            assert_eq!(read.rows, count);
            read_times.push(read.time);
            report_bytes = read.bytes;
        }
        let states = read_rows_only(&data_dir, STATES_QUERY, window);
        assert_eq!(states.rows, count);

        let seconds = |duration: &Duration| format!("{:.2} s", duration.as_secs_f64());
        let all = |times: &[Duration]| times.iter().map(seconds).collect::<Vec<_>>().join(", ");
        println!();
        println!(
            "`Report` and `PeopleReport` in the workflow process over {count} tickets of \
             {QUARTER} (load average {load_before} before, {load_after} after)"
        );
        println!();
        println!("| what | figure |");
        println!("| --- | --- |");
        println!(
            "| `Report` (quarter, its 3 months, trend) over gRPC, 3 calls: median (each) | {} ({}) |",
            seconds(&median(&report_times)),
            all(&report_times)
        );
        println!(
            "| `PeopleReport` (quarter, 160 people) over gRPC, 3 calls: median (each) | {} ({}) |",
            seconds(&median(&people_times)),
            all(&people_times)
        );
        println!(
            "| ceiling: reading the quarter's report rows alone (same SELECT, no parsing), 3 runs: median (each) | {} ({}) |",
            seconds(&median(&read_times)),
            all(&read_times)
        );
        println!(
            "| the report rows' size: mean bytes per ticket | {} |",
            report_bytes / count.max(1)
        );
        println!(
            "| for comparison: reading the quarter's whole states (`tickets.state_json`) alone, 1 run; mean bytes per ticket | {}; {} |",
            seconds(&states.time),
            states.bytes / count.max(1)
        );
        println!(
            "| peak resident memory of `cloop-workflow` (`VmHWM`): before, after `Report`, after `PeopleReport` | {:.1} MiB, {:.1} MiB, {:.1} MiB |",
            memory_before as f64 / 1024.0,
            memory_report as f64 / 1024.0,
            memory_after as f64 / 1024.0
        );
        println!(
            "| seeding {count} projection rows (set-up) | {:.1} s |",
            seeded_in.as_secs_f64()
        );
        let slowest = median(&report_times).max(median(&people_times));
        println!();
        println!(
            "aim under 5 s: {}; aim under 300 MiB: {}",
            if slowest < Duration::from_secs(5) { "met" } else { "missed" },
            if memory_after < 300 * 1024 { "met" } else { "missed" }
        );
    });
}
