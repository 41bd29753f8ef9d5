//! The console's queue over 1,000,000 tickets: the server time of `GET /queue` (the console's
//! `Server-Timing`, its `ListTickets` call to the workflow included), next to the ceiling
//! measured in the same run, the bare SQL of the same page on the same database.
//!
//! Run with `cargo build --release --bins -p workflow && cargo bench -p console --bench
//! queue`: a real `cloop-workflow` (the binary of the bench profile, found by the e2e
//! harness) on a nats-server of its own serves gRPC on a socket; the console runs in this
//! process on a socket of its own and is asked over HTTP, signed in as an agent of
//! `logistics` (their department's tickets) and as a manager (every department).
//!
//! The tickets are written straight into the workflow's projection tables while it is
//! stopped (`common::seed_ticket_rows`, the rows the projector writes): 1,000,000 of them
//! over the eight default departments, 96 % archived and 40,000 open in dispatch, handle and
//! review, of which 5 % breached, 10 % in warning and the rest on time, with deadlines spread
//! over two weeks around now. Each case is asked 20 times to warm up, then 200 times
//! measured: the first page, a deep page (the 40th, reached by following "next" links), and
//! a filter (urgent priority). p50 and p99 of the server time are printed, with the wall time
//! the client saw and the bare query's.
//!
//! Environment: `CLOOP_BENCH_QUEUE_TICKETS` (default 1,000,000), `CLOOP_BENCH_QUEUE_OPEN`
//! (default 40,000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../workflow/benches/common/mod.rs"]
mod common;

use chrono::{DateTime, Duration as Span, Utc};
use domain::ids::TicketIdGenerator;
use domain::ticket::Ticket;
use domain::types::{ContentType, Kind, Priority, Scope, SlaState, Step};
use e2e::http::{request, sign_in};
use e2e::{free_port, NatsServer, ServiceProcess};
use std::path::Path;
use std::time::{Duration, Instant};

const AGENT: &str = "bench-agent";
const MANAGER: &str = "bench-manager";
const DEPARTMENT: &str = "logistics";
const WARM_UP: usize = 20;
const RUNS: usize = 200;
const DEEP_PAGE: usize = 40;
const PAGE_SIZE: i64 = 50;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.replace([',', '_'], "").parse().ok())
        .unwrap_or(default)
}

/// Ticket `index` of `count`, `open` of them open (spread evenly), received before `now`.
fn ticket(
    index: usize,
    count: usize,
    open: usize,
    now: DateTime<Utc>,
    ids: &mut TicketIdGenerator,
) -> Ticket {
    let departments = reports::synthetic::DEPARTMENTS;
    let created = now - Span::seconds(i64::try_from(count - index).unwrap() * 30);
    let is_open = index % (count / open.max(1)).max(1) == 0;
    // Independent pseudo-random picks per ticket (no pattern shared between attributes).
    let mut hash = (index as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    hash ^= hash >> 31;
    let pick = |shift: u32, modulo: u64| usize::try_from((hash >> shift) % modulo).unwrap();
    let step = if is_open {
        [Step::Dispatch, Step::Handle, Step::Handle, Step::Review][pick(8, 4)]
    } else {
        Step::Archive
    };
    // 5 % breached, 10 % warning; deadlines from a week ago to a week ahead.
    let sla_state = match pick(16, 20) {
        0 => SlaState::Breached,
        1 | 2 => SlaState::Warning,
        _ => SlaState::OnTime,
    };
    let offset_minutes = i64::try_from(pick(24, 20_160)).unwrap() - 10_080;
    let respond_by = now + Span::minutes(offset_minutes);
    let responded = pick(40, 3) != 0;
    Ticket {
        ticket_id: Some(ids.next(created)),
        version: if is_open { 4 } else { 9 },
        step,
        channel: ["app", "web", "email", "phone"][index % 4].into(),
        content: format!("APP卡顿，打开很慢，订单 SO-{index:07} 第{index}次反馈"),
        kind: Some(Kind::Problem),
        content_type: Some(ContentType::Product),
        scope: Some(Scope::Local),
        priority: Some(
            [
                Priority::Medium,
                Priority::Low,
                Priority::High,
                Priority::Urgent,
            ][pick(44, 4)],
        ),
        department: Some(departments[pick(48, departments.len() as u64)].into()),
        sla_state,
        respond_sla: sla_state,
        resolve_sla: sla_state,
        respond_by: Some(respond_by),
        resolve_by: Some(respond_by + Span::days(2)),
        responded_at: responded.then_some(created + Span::minutes(30)),
        created_at: Some(created),
        updated_at: Some(created),
        received_at: Some(created),
        ..Ticket::default()
    }
}

/// Writes the tickets into the stopped workflow's database.
fn seed(data_dir: &Path, count: usize, open: usize, now: DateTime<Utc>) {
    let mut connection = rusqlite::Connection::open(data_dir.join("workflow.db")).unwrap();
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .unwrap();
    let mut ids = TicketIdGenerator::new(900);
    let transaction = connection.transaction().unwrap();
    common::seed_ticket_rows(
        &transaction,
        (0..count).map(|index| {
            let seq = 100_000_000 + i64::try_from(index).unwrap();
            (seq, ticket(index, count, open, now, &mut ids))
        }),
    );
    transaction.commit().unwrap();
}

/// The path of page `page` (from 1) of `path`, following "next" links.
fn deep_path(address: &str, session: &str, path: &str, page: usize) -> String {
    let mut path = path.to_owned();
    for _ in 1..page {
        let answer = request(address, "GET", &path, session, "");
        path = answer.link("next").expect("a next page");
    }
    path
}

/// (p50, p99) of `samples` in milliseconds.
fn percentiles(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |quantile: f64| {
        let index = ((samples.len() as f64 * quantile).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index]
    };
    (at(0.5), at(0.99))
}

/// Server times and wall times of `GET path`, after the warm-up.
fn measure(address: &str, session: &str, path: &str) -> (Vec<f64>, Vec<f64>, usize) {
    let mut server = Vec::with_capacity(RUNS);
    let mut wall = Vec::with_capacity(RUNS);
    let mut rows = 0;
    for run in 0..WARM_UP + RUNS {
        let started = Instant::now();
        let answer = request(address, "GET", path, session, "");
        let elapsed = started.elapsed().as_secs_f64() * 1_000.0;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        if run >= WARM_UP {
            server.push(answer.server_ms());
            wall.push(elapsed);
        }
        rows = answer.ticket_rows().len();
    }
    (server, wall, rows)
}

/// The bare SQL of a queue page on the same database: the workflow's query with the same
/// conditions, the same order and the key the page starts after.
fn ceiling(
    database: &Path,
    department: Option<&str>,
    extra: &str,
    after: Option<(i64, i64, i64)>,
) -> Vec<f64> {
    let connection =
        rusqlite::Connection::open_with_flags(database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut conditions = vec![
        "seq NOT IN (SELECT seq FROM retention_expired)".to_owned(),
        "is_open = 1".to_owned(),
    ];
    if let Some((rank, deadline, seq)) = after {
        conditions.push(format!(
            "(urgency_rank, next_deadline_ms, seq) > ({rank}, {deadline}, {seq})"
        ));
    }
    if let Some(department) = department {
        conditions.push(format!(
            "(department = '{department}' OR helpers LIKE '%,{department},%' ESCAPE '\\')"
        ));
    }
    if !extra.is_empty() {
        conditions.push(extra.to_owned());
    }
    let sql = format!(
        "SELECT seq, urgency_rank, next_deadline_ms, state_json FROM tickets WHERE {} \
         ORDER BY urgency_rank, next_deadline_ms, seq LIMIT {}",
        conditions.join(" AND "),
        PAGE_SIZE + 1
    );
    let mut statement = connection.prepare(&sql).unwrap();
    let mut samples = Vec::with_capacity(RUNS);
    for run in 0..WARM_UP + RUNS {
        let started = Instant::now();
        let rows: Vec<(i64, String)> = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        // The page is parsed as the workflow does.
        for (_, json) in &rows {
            let _: Ticket = serde_json::from_str(json).unwrap();
        }
        if run >= WARM_UP {
            samples.push(started.elapsed().as_secs_f64() * 1_000.0);
        }
    }
    samples
}

/// The urgency key after which `path` (a deep page) starts.
fn key_of(path: &str) -> (i64, i64, i64) {
    let token = path
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("after="))
        .expect("an after token");
    let parts: Vec<i64> = token
        .trim_start_matches("u.")
        .split('.')
        .map(|part| part.parse().unwrap())
        .collect();
    (parts[0], parts[1], parts[2])
}

/// What a case measures: its name, the session, the path, and the bare query's department,
/// extra condition and start.
type Case<'a> = (
    String,
    &'a str,
    String,
    Option<&'a str>,
    &'a str,
    Option<(i64, i64, i64)>,
);

fn main() {
    let count = env_usize("CLOOP_BENCH_QUEUE_TICKETS", 1_000_000);
    let open = env_usize("CLOOP_BENCH_QUEUE_OPEN", 40_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let nats = NatsServer::start();
    let dir = common::temp_dir("cloop-queue-bench-");
    let tokens = common::write_tokens(
        dir.path(),
        &[(AGENT, "agent", DEPARTMENT), (MANAGER, "manager", "")],
    );
    let workflow_address = format!("127.0.0.1:{}", free_port());
    let data_dir = dir.path().join("workflow");
    let args = common::service_args(&workflow_address, &nats.url(), &data_dir, &tokens);
    let env = [("CLOOP_LOG".to_owned(), "warn".to_owned())];
    let mut workflow = ServiceProcess::spawn(
        "cloop-workflow",
        &args,
        &env,
        dir.path().join("workflow.log"),
    );
    workflow.wait_listening(&workflow_address, Duration::from_secs(60));
    workflow.terminate(Duration::from_secs(30));
    let now = Utc::now();
    let seeding = Instant::now();
    seed(&data_dir, count, open, now);
    let seeded_in = seeding.elapsed();
    workflow.start_again();
    workflow.wait_listening(&workflow_address, Duration::from_secs(120));

    let registry = service::TokenRegistry::load(&tokens).unwrap();
    let console = runtime
        .block_on(console::start(console::ConsoleConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            workflow: workflow_address.clone(),
            intake: format!("127.0.0.1:{}", free_port()),
            settings: console::ConsoleSettings::default(),
            registry,
            offset: chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
        }))
        .unwrap();
    let address = console.address.to_string();
    let agent = sign_in(&address, AGENT);
    let manager = sign_in(&address, MANAGER);
    let database = data_dir.join("workflow.db");

    let agent_deep = deep_path(&address, &agent, "/queue", DEEP_PAGE);
    let manager_deep = deep_path(&address, &manager, "/queue", DEEP_PAGE);
    let cases: Vec<Case<'_>> = vec![
        (
            format!("agent ({DEPARTMENT}), first page"),
            &agent,
            "/queue".to_owned(),
            Some(DEPARTMENT),
            "",
            None,
        ),
        (
            format!("agent ({DEPARTMENT}), page {DEEP_PAGE}"),
            &agent,
            agent_deep.clone(),
            Some(DEPARTMENT),
            "",
            Some(key_of(&agent_deep)),
        ),
        (
            format!("agent ({DEPARTMENT}), urgent only"),
            &agent,
            "/queue?priority=urgent".to_owned(),
            Some(DEPARTMENT),
            "+priority = 'urgent'",
            None,
        ),
        (
            "manager (all departments), first page".to_owned(),
            &manager,
            "/queue".to_owned(),
            None,
            "",
            None,
        ),
        (
            format!("manager (all departments), page {DEEP_PAGE}"),
            &manager,
            manager_deep.clone(),
            None,
            "",
            Some(key_of(&manager_deep)),
        ),
        (
            "manager (all departments), step handle".to_owned(),
            &manager,
            "/queue?step=handle".to_owned(),
            None,
            "+step = 'handle'",
            None,
        ),
    ];
    println!();
    println!(
        "{count} tickets ({open} open), seeded in {:.1} s; {WARM_UP} warm-up + {RUNS} measured requests per case; load {}",
        seeded_in.as_secs_f64(),
        common::load_average(" ")
    );
    println!();
    println!("| `GET /queue` | rows | server p50 | server p99 | wall p50 | wall p99 | bare SQL p50 | bare SQL p99 |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (what, session, path, department, extra, after) in cases {
        let (server, wall, rows) = measure(&address, session, &path);
        let bare = ceiling(&database, department, extra, after);
        let (server_50, server_99) = percentiles(server);
        let (wall_50, wall_99) = percentiles(wall);
        let (bare_50, bare_99) = percentiles(bare);
        println!(
            "| {what} | {rows} | {server_50:.1} ms | {server_99:.1} ms | {wall_50:.1} ms | {wall_99:.1} ms | {bare_50:.2} ms | {bare_99:.2} ms |"
        );
    }
    runtime.block_on(console.stop()).unwrap();
    workflow.terminate(Duration::from_secs(30));
    drop(nats);
}
