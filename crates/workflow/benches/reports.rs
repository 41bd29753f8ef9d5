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
use e2e::{free_port, NatsServer, ServiceProcess};
use proto::v1;
use proto::v1::reports_client::ReportsClient;
use proto::v1::tickets_client::TicketsClient;
use report_setup::{peak_memory_kib, publish_one, seed_projections};
use reports::synthetic::{ticket, Random};
use reports::YearMonth;
use std::path::Path;
use std::time::{Duration, Instant};

const MANAGER: &str = "bench-manager";
const ADMIN: &str = "bench-admin";
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
        let nats = NatsServer::start();
        let dir = common::temp_dir("cloop-report-bench-");
        let tokens =
            common::write_tokens(dir.path(), &[(MANAGER, "manager", ""), (ADMIN, "admin", "")]);
        let address = format!("127.0.0.1:{}", free_port());
        let data_dir = dir.path().join("workflow");
        let args = common::service_args(&address, &nats.url(), &data_dir, &tokens);
        let env = [("CLOOP_LOG".to_owned(), "warn".to_owned())];
        let mut workflow =
            ServiceProcess::spawn("cloop-workflow", &args, &env, dir.path().join("workflow.log"));
        workflow.wait_listening(&address, Duration::from_secs(120));

        // 1. One real ticket, so that the log and the projections have a position.
        let ticket_id = publish_one(&nats.url()).await;
        let mut tickets = TicketsClient::new(channel(&address).await);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = tickets
                .get_ticket(authorized(
                    v1::GetTicketRequest {
                        ticket_id: ticket_id.clone(),
                    },
                    ADMIN,
                ))
                .await
                .is_ok();
            if found {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the workflow never recorded the ticket\n{}",
                workflow.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        // 2. The month, written while the service is stopped.
        workflow.terminate(Duration::from_secs(30));
        let month: YearMonth = MONTH.parse().unwrap();
        let seeded_in = seed(&data_dir, month, count);

        // 3. Started again on the seeded database.
        workflow.start_again();
        workflow.wait_listening(&address, Duration::from_secs(300));
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
