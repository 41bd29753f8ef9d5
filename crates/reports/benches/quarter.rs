//! Where the time of a quarter's report goes, without SQLite: 3,000,000 synthetic tickets of
//! 2026-Q3 (a third in each month, each dispatched ticket held by one of 20 people, as the
//! workflow's `reports_quarter` benchmark seeds them), each stored as the JSON the
//! projections keep; then, timed apart, parsing that JSON into tickets (one thread) and
//! folding the tickets into the quarter's `PeriodBuilder` (the whole quarter and its three
//! months) and its `PeopleBuilder`, with the peak memory.
//!
//! Tickets are generated and serialised in chunks of 10,000 outside the timed sections, so
//! at most one chunk is in memory. Run with `cargo bench -p reports --bench quarter`;
//! `CLOOP_BENCH_TICKETS` changes the count.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{as_of, peak_memory_kib, ticket_count, CHUNK};
use domain::{Rules, Ticket, TicketIdGenerator};
use reports::synthetic::{ticket, Random};
use reports::{PeopleBuilder, PeopleScope, Period, PeriodBuilder, ReportOptions, YearMonth};
use std::time::{Duration, Instant};

fn main() {
    let count = ticket_count(3_000_000);
    let rules = Rules::defaults();
    let offset = rules.calendar().offset();
    let quarter: Period = "2026-Q3".parse().expect("a valid quarter");
    let months: Vec<YearMonth> = quarter.months();
    let as_of = as_of(2026, 10, 9, 10);
    let memory_before = peak_memory_kib().unwrap_or(0);
    let mut random = Random(11);
    let mut generator = TicketIdGenerator::new(901);
    let mut period = PeriodBuilder::new(
        &rules,
        quarter,
        None,
        count,
        as_of,
        ReportOptions::default(),
    );
    let mut people = PeopleBuilder::new(&rules, quarter, PeopleScope::default(), count, as_of);
    let (mut generate, mut parse, mut fold_period, mut fold_people) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut json_bytes = 0u64;
    let mut index = 0u64;
    while index < count {
        let size = (count - index).min(CHUNK);
        let started = Instant::now();
        let stored: Vec<String> = (index..index + size)
            .map(|at| {
                let month = months[usize::try_from(at % 3).expect("a small index")];
                let mut state = ticket(&mut random, &mut generator, month.start(offset));
                if let Some(department) = &state.department {
                    state.assignee = Some(format!("{department}-{:02}", at % 20));
                }
                serde_json::to_string(&state).expect("a ticket serialises")
            })
            .collect();
        generate += started.elapsed();
        json_bytes += stored.iter().map(|text| text.len() as u64).sum::<u64>();
        let started = Instant::now();
        let tickets: Vec<Ticket> = stored
            .iter()
            .map(|text| serde_json::from_str(text).expect("a stored ticket parses"))
            .collect();
        parse += started.elapsed();
        let started = Instant::now();
        tickets.iter().for_each(|ticket| period.add(ticket));
        fold_period += started.elapsed();
        let started = Instant::now();
        tickets.iter().for_each(|ticket| people.add(ticket));
        fold_people += started.elapsed();
        index += size;
    }
    let started = Instant::now();
    let report = period.finish();
    let people = people.finish();
    let finish = started.elapsed();
    let memory_after = peak_memory_kib().unwrap_or(0);
    assert_eq!(report.report.tickets, count, "every ticket counts");
    assert_eq!(report.months.len(), 3);

    let per_ticket = |duration: Duration| duration.as_secs_f64() * 1e6 / count as f64;
    println!();
    println!(
        "quarter 2026-Q3 over {count} tickets, without SQLite ({} people rows, {:.0} bytes of JSON per ticket)",
        people.people.len(),
        json_bytes as f64 / count as f64
    );
    println!();
    println!("| what | figure |");
    println!("| --- | --- |");
    println!(
        "| generating and serialising the tickets (set-up, untimed) | {:.2} s |",
        generate.as_secs_f64()
    );
    println!(
        "| parsing the stored JSON into tickets, one thread | {:.2} s ({:.2} µs a ticket) |",
        parse.as_secs_f64(),
        per_ticket(parse)
    );
    println!(
        "| folding into `PeriodBuilder` (the quarter and its 3 months) | {:.2} s ({:.2} µs a ticket) |",
        fold_period.as_secs_f64(),
        per_ticket(fold_period)
    );
    println!(
        "| folding into `PeopleBuilder` | {:.2} s ({:.2} µs a ticket) |",
        fold_people.as_secs_f64(),
        per_ticket(fold_people)
    );
    println!("| `finish` of both | {:.3} s |", finish.as_secs_f64());
    println!(
        "| peak resident memory (`VmHWM`), one chunk of {CHUNK} tickets included | {:.1} MiB ({:.1} MiB at start) |",
        memory_after as f64 / 1024.0,
        memory_before as f64 / 1024.0
    );
}
