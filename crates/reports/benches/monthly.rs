//! The monthly report over a month of 1,000,000 synthetic tickets: time and peak memory.
//!
//! Tickets are generated one at a time from a fixed seed and folded straight into a
//! `ReportBuilder` in chunks of 10,000, so the measured memory is the builder's plus one
//! chunk, never a copy of the month; only the fold is timed.
//! Run with `cargo bench -p reports`; `CLOOP_BENCH_TICKETS` changes the count.

mod common;

use common::{as_of, peak_memory_kib, ticket_count, CHUNK};
use domain::{Rules, Ticket, TicketIdGenerator};
use reports::synthetic::{ticket, Random};
use reports::{ReportBuilder, ReportOptions, YearMonth};
use std::time::Instant;

fn main() {
    let count = ticket_count(1_000_000);
    let rules = Rules::defaults();
    let month: YearMonth = "2026-11".parse().expect("a valid month");
    let month_start = month.start(rules.calendar().offset());
    let as_of = as_of(2026, 12, 1, 10);
    let memory_before = peak_memory_kib().unwrap_or(0);

    // Tickets are generated in chunks outside the timed section, and each chunk is folded
    // inside it, so the time is the fold's alone and at most one chunk is in memory.
    let mut random = Random(7);
    let mut generator = TicketIdGenerator::new(1);
    let mut builder =
        ReportBuilder::new(&rules, month, None, count, as_of, ReportOptions::default());
    let mut generate = std::time::Duration::ZERO;
    let mut fold = std::time::Duration::ZERO;
    let mut remaining = count;
    while remaining > 0 {
        let size = remaining.min(CHUNK);
        let started = Instant::now();
        let chunk: Vec<Ticket> = (0..size)
            .map(|_| ticket(&mut random, &mut generator, month_start))
            .collect();
        generate += started.elapsed();
        let started = Instant::now();
        for generated in &chunk {
            builder.add(generated);
        }
        fold += started.elapsed();
        remaining -= size;
    }
    let started = Instant::now();
    let report = builder.finish();
    let finish = started.elapsed();
    let memory_after = peak_memory_kib().unwrap_or(0);

    let render_started = Instant::now();
    let html = report.to_html();
    let csv = report.to_csv();
    let render = render_started.elapsed();

    println!(
        "monthly report over {count} tickets (report tickets {})",
        report.tickets
    );
    println!("  generate (untimed):   {:>8.3} s", generate.as_secs_f64());
    println!(
        "  fold:                 {:>8.3} s  ({:.0} tickets/s)",
        fold.as_secs_f64(),
        count as f64 / fold.as_secs_f64().max(1e-9)
    );
    println!("  finish (medians):     {:>8.3} s", finish.as_secs_f64());
    println!(
        "  render html and csv:  {:>8.3} s  ({} + {} bytes)",
        render.as_secs_f64(),
        html.len(),
        csv.len()
    );
    println!(
        "  peak memory (VmHWM):  {:>8.1} MiB before, {:.1} MiB after (one chunk of {CHUNK} tickets included)",
        memory_before as f64 / 1024.0,
        memory_after as f64 / 1024.0
    );
}
