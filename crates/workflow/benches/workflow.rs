//! End-to-end benchmarks of the workflow: nats-server, `cloop-intake` and `cloop-workflow` as
//! real processes on this machine, measured from a gRPC client. Prints a markdown table for
//! `docs/benchmarks.md`.
//!
//! Run with `cargo build --release --bins -p intake -p workflow && cargo bench -p workflow`:
//! the benchmark spawns the binaries of its own profile (`target/release` under `cargo bench`),
//! found by the e2e harness. Scenarios:
//!
//! 1. sustained submissions/s from `Submit` at intake to the ticket being in its department
//!    queue (the projection row commits with the events, so recorded means listed);
//! 2. the delay from `Submit` to the ticket arriving on a `WatchTickets` stream of its
//!    department queue, at a steady 1,000 submissions/s (p50, p99);
//! 3. the latency of a department command (`AddNote`), p50 and p99;
//! 4. `ListTickets` p50/p99 over 1,000,000 tickets. The million rows are seeded straight into
//!    the projection tables with SQL while the service is stopped (replaying a million
//!    submissions through NATS would take the benchmark far longer than the query it
//!    measures); the service is then started on that database and queried over gRPC.
//!
//! `CLOOP_BENCH_QUICK=1` shrinks every scenario for a smoke run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::Utc;
use common::{authorized, channel, submission};
use domain::ids::TicketIdGenerator;
use domain::ticket::Ticket;
use domain::types::{ContentType, Kind, Priority, Scope, SlaState, Step};
use e2e::{free_port, NatsServer, ServiceProcess};
use futures::StreamExt;
use hdrhistogram::Histogram;
use proto::v1;
use proto::v1::intake_client::IntakeClient;
use proto::v1::tickets_client::TicketsClient;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tonic::transport::Channel;

const ADAPTER: &str = "bench-adapter";
const ADMIN: &str = "bench-admin";
const AGENT: &str = "bench-agent";

struct Services {
    nats: NatsServer,
    _intake: ServiceProcess,
    workflow: ServiceProcess,
    intake_address: String,
    workflow_address: String,
    metrics_address: String,
    data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

fn start() -> Services {
    let nats = NatsServer::start();
    let dir = common::temp_dir("cloop-workflow-bench-");
    let tokens = common::write_tokens(
        dir.path(),
        &[
            (ADAPTER, "adapter", ""),
            (ADMIN, "admin", ""),
            (AGENT, "agent", "technical"),
        ],
    );
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[intake_service]\nnode_id = 5\n").unwrap();
    let intake_address = format!("127.0.0.1:{}", free_port());
    let workflow_address = format!("127.0.0.1:{}", free_port());
    let metrics_address = format!("127.0.0.1:{}", free_port());
    let args = |address: &str, data: &str| {
        vec![
            "--listen".to_owned(),
            address.to_owned(),
            "--nats-url".to_owned(),
            nats.url(),
            "--data-dir".to_owned(),
            dir.path().join(data).to_string_lossy().into_owned(),
            "--tokens".to_owned(),
            tokens.to_string_lossy().into_owned(),
            "--config".to_owned(),
            config.to_string_lossy().into_owned(),
        ]
    };
    let env = [("CLOOP_LOG".to_owned(), "warn".to_owned())];
    let mut intake = ServiceProcess::spawn(
        "cloop-intake",
        &args(&intake_address, "intake"),
        &env,
        dir.path().join("intake.log"),
    );
    let mut workflow_args = args(&workflow_address, "workflow");
    workflow_args.extend(["--metrics-listen".to_owned(), metrics_address.clone()]);
    let mut workflow = ServiceProcess::spawn(
        "cloop-workflow",
        &workflow_args,
        &env,
        dir.path().join("workflow.log"),
    );
    intake.wait_listening(&intake_address, Duration::from_secs(60));
    workflow.wait_listening(&workflow_address, Duration::from_secs(60));
    Services {
        nats,
        _intake: intake,
        workflow,
        intake_address,
        workflow_address,
        metrics_address,
        data_dir: dir.path().join("workflow"),
        _dir: dir,
    }
}

/// The value of `cloop_workflow_received_total` on the metrics endpoint.
fn received_total(metrics_address: &str) -> u64 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(metrics_address) else {
        return 0;
    };
    let _ = stream.write_all(b"GET /metrics HTTP/1.0\r\n\r\n");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.lines()
        .find(|line| line.starts_with("cloop_workflow_received_total "))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

/// Submits `count` tickets with `clients` concurrent callers; returns the submitted ids.
async fn submit_many(
    services: &Services,
    first: usize,
    count: usize,
    clients: usize,
) -> Vec<String> {
    let channel = channel(&services.intake_address).await;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(first));
    let ids = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut client = IntakeClient::new(channel.clone());
        let next = next.clone();
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= first + count {
                    return;
                }
                let response = client
                    .submit(authorized(submission("bench", index), ADAPTER))
                    .await
                    .expect("submit");
                ids.lock().await.push(response.into_inner().ticket_id);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    Arc::try_unwrap(ids).unwrap().into_inner()
}

async fn sustained(services: &Services, count: usize) -> (f64, f64) {
    let before = received_total(&services.metrics_address);
    let started = Instant::now();
    submit_many(services, 0, count, 64).await;
    let submitted = started.elapsed();
    let target = before + count as u64;
    while received_total(&services.metrics_address) < target {
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "tickets never recorded"
        );
    }
    let recorded = started.elapsed();
    (
        count as f64 / submitted.as_secs_f64(),
        count as f64 / recorded.as_secs_f64(),
    )
}

async fn steady_delay(services: &Services, rate: u64, seconds: u64) -> Histogram<u64> {
    let channel = channel(&services.workflow_address).await;
    let mut watch = TicketsClient::new(channel)
        .watch_tickets(authorized(
            v1::WatchTicketsRequest {
                filter: Some(v1::TicketFilter {
                    department: "technical".into(),
                    step: v1::Step::Handle as i32,
                    ..Default::default()
                }),
                include_current: false,
            },
            ADMIN,
        ))
        .await
        .expect("watch")
        .into_inner();
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let total = usize::try_from(rate * seconds).unwrap();
    let intake = channel_intake(services).await;
    let pacing = Duration::from_nanos(1_000_000_000 / rate);
    let producer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let mut tasks = Vec::with_capacity(total);
            for index in 0..total {
                let due = start + pacing * u32::try_from(index).unwrap();
                tokio::time::sleep_until(due.into()).await;
                let mut client = IntakeClient::new(intake.clone());
                let sent = sent.clone();
                tasks.push(tokio::spawn(async move {
                    let at = Instant::now();
                    let response = client
                        .submit(authorized(submission("bench", 1_000_000 + index), ADAPTER))
                        .await
                        .expect("submit");
                    sent.lock()
                        .await
                        .insert(response.into_inner().ticket_id, at);
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
        })
    };
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    let mut arrived: HashMap<String, Instant> = HashMap::new();
    while arrived.len() < total {
        let change = tokio::time::timeout(Duration::from_secs(60), watch.next())
            .await
            .expect("changes keep coming")
            .expect("stream open")
            .expect("no error");
        let ticket_id = change
            .ticket
            .map(|ticket| ticket.ticket_id)
            .unwrap_or_default();
        arrived.entry(ticket_id).or_insert_with(Instant::now);
    }
    producer.await.unwrap();
    let sent = sent.lock().await;
    for (ticket_id, at) in arrived {
        if let Some(start) = sent.get(&ticket_id) {
            histogram
                .record(u64::try_from(at.duration_since(*start).as_micros()).unwrap())
                .unwrap();
        }
    }
    histogram
}

async fn channel_intake(services: &Services) -> Channel {
    channel(&services.intake_address).await
}

async fn command_latency(services: &Services, tickets: &[String], count: usize) -> Histogram<u64> {
    let mut client = TicketsClient::new(channel(&services.workflow_address).await);
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    for index in 0..count {
        let ticket_id = tickets[index % tickets.len()].clone();
        let started = Instant::now();
        client
            .add_note(authorized(
                v1::AddNoteRequest {
                    ticket_id,
                    command_id: format!("bench-note-{index}"),
                    text: "回访记录".into(),
                    ..Default::default()
                },
                AGENT,
            ))
            .await
            .expect("add note");
        histogram
            .record(u64::try_from(started.elapsed().as_micros()).unwrap())
            .unwrap();
    }
    histogram
}

/// Writes `count` tickets straight into the projection tables (the service is stopped).
fn seed(data_dir: &std::path::Path, count: usize) {
    let path = data_dir.join(workflow::DATABASE_FILE);
    let mut connection = rusqlite::Connection::open(path).unwrap();
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .unwrap();
    // The departments of the default configuration, as the synthetic report data uses them.
    let departments = reports::synthetic::DEPARTMENTS;
    let steps = [Step::Handle, Step::Review, Step::Archive, Step::Handle];
    let priorities = [
        Priority::Medium,
        Priority::Low,
        Priority::High,
        Priority::Urgent,
    ];
    let mut ids = TicketIdGenerator::new(900);
    let now = Utc::now() - chrono::Duration::days(60);
    let transaction = connection.transaction().unwrap();
    let tickets = (0..count).map(|index| {
        let created = now + chrono::Duration::milliseconds(i64::try_from(index).unwrap() * 5);
        let ticket_id = ids.next(created);
        let department = departments[index % departments.len()];
        let step = steps[(index / 8) % steps.len()];
        let priority = priorities[(index / 3) % priorities.len()];
        let sla_state = if index % 97 == 0 {
            SlaState::Breached
        } else {
            SlaState::OnTime
        };
        let ticket = Ticket {
            ticket_id: Some(ticket_id),
            version: 3,
            step,
            channel: "app".into(),
            content: format!("APP卡顿，打开很慢，第{index}次"),
            kind: Some(Kind::Problem),
            content_type: Some(ContentType::Product),
            scope: Some(Scope::Local),
            priority: Some(priority),
            department: Some(department.into()),
            sla_state,
            created_at: Some(created),
            updated_at: Some(created),
            received_at: Some(created),
            ..Ticket::default()
        };
        (100_000_000 + i64::try_from(index).unwrap(), ticket)
    });
    common::seed_ticket_rows(&transaction, tickets);
    transaction.commit().unwrap();
}

async fn list_latency(
    services: &Services,
    filter: v1::TicketFilter,
    count: usize,
) -> (Histogram<u64>, usize) {
    let mut client = TicketsClient::new(channel(&services.workflow_address).await);
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    let mut token = String::new();
    let mut returned = 0;
    for _ in 0..count {
        let started = Instant::now();
        let page = client
            .list_tickets(authorized(
                v1::ListTicketsRequest {
                    filter: Some(filter.clone()),
                    page_size: 50,
                    page_token: token.clone(),
                    ..Default::default()
                },
                ADMIN,
            ))
            .await
            .expect("list")
            .into_inner();
        histogram
            .record(u64::try_from(started.elapsed().as_micros()).unwrap())
            .unwrap();
        returned = page.tickets.len();
        // Walk forward through the pages, starting over at the end.
        token = page.next_page_token;
    }
    (histogram, returned)
}

fn ms(histogram: &Histogram<u64>, quantile: f64) -> String {
    format!(
        "{:.2} ms",
        histogram.value_at_quantile(quantile) as f64 / 1_000.0
    )
}

fn main() {
    let quick = std::env::var("CLOOP_BENCH_QUICK").is_ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut services = start();
        let sustained_count = if quick { 2_000 } else { 30_000 };
        let (submit_rate, recorded_rate) = sustained(&services, sustained_count).await;
        let steady_seconds = if quick { 3 } else { 10 };
        let delays = steady_delay(&services, 1_000, steady_seconds).await;
        let tickets = submit_many(&services, 2_000_000, 200, 8).await;
        // Let the queue drain before measuring commands alone.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let commands = command_latency(&services, &tickets, if quick { 300 } else { 3_000 }).await;

        let million = if quick { 50_000 } else { 1_000_000 };
        services.workflow.terminate(Duration::from_secs(30));
        let seeding = Instant::now();
        seed(&services.data_dir, million);
        let seeded_in = seeding.elapsed();
        services.workflow.start_again();
        services
            .workflow
            .wait_listening(&services.workflow_address, Duration::from_secs(120));
        let queries = if quick { 200 } else { 2_000 };
        let queue_filter = v1::TicketFilter {
            department: "technical".into(),
            step: v1::Step::Handle as i32,
            ..Default::default()
        };
        let (queue, _) = list_latency(&services, queue_filter, queries).await;
        let (all, _) = list_latency(&services, v1::TicketFilter::default(), queries).await;
        let overdue_filter = v1::TicketFilter {
            sla_state: v1::SlaState::Breached as i32,
            priority: v1::Priority::Urgent as i32,
            ..Default::default()
        };
        let (overdue, _) = list_latency(&services, overdue_filter, queries).await;
        let text_filter = v1::TicketFilter {
            text: "第12345次".into(),
            ..Default::default()
        };
        let (text, found) = list_latency(&services, text_filter, queries / 10).await;

        println!();
        println!("| what | figure |");
        println!("| --- | --- |");
        println!(
            "| sustained `Submit` → recorded in the department queue, {sustained_count} submissions, 64 clients | {recorded_rate:.0}/s (intake answered {submit_rate:.0}/s) |"
        );
        println!(
            "| `Submit` → on the department's `WatchTickets` stream at a steady 1,000/s for {steady_seconds} s | p50 {}, p99 {}, max {} |",
            ms(&delays, 0.5),
            ms(&delays, 0.99),
            ms(&delays, 1.0)
        );
        let latencies = [
            (
                format!("department command (`AddNote`), one client, {} calls", commands.len()),
                &commands,
            ),
            (
                format!(
                    "`ListTickets` over {million} tickets: department queue (technical, handle), 50 per page, walking pages"
                ),
                &queue,
            ),
            (
                format!("`ListTickets` over {million} tickets: no filter, 50 per page"),
                &all,
            ),
            (
                format!("`ListTickets` over {million} tickets: overdue and urgent"),
                &overdue,
            ),
            (
                format!(
                    "`ListTickets` over {million} tickets: full-text \"第12345次\" ({found} found)"
                ),
                &text,
            ),
        ];
        for (what, values) in latencies {
            println!(
                "| {what} | p50 {}, p99 {} |",
                ms(values, 0.5),
                ms(values, 0.99)
            );
        }
        println!(
            "| seeding {million} projection rows with SQL (setup, not a figure of the service) | {:.1} s |",
            seeded_in.as_secs_f64()
        );
        let _ = &services.nats;
    });
}
