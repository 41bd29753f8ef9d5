//! Verify and replay over one event log of real ticket lifecycles (issue #6, auditors).
//!
//! Builds ONE log (default 1,000,000 events, `CLOOP_BENCH_EVENTS` to change it) the way the
//! workflow records it: the real envelope (actor, correlation and causation ids, UUIDv7 event
//! ids) and the real domain events of ticket lifecycles (received with the customer sealed,
//! classified, dispatched, acknowledged, notes, solution, approval where required, review,
//! archive; some tickets paused and resumed), decided by the domain aggregate with the default
//! rules and appended with the workflow's projector, so the file also holds live projections.
//! Lifecycles of many tickets are interleaved in the log, as in production.
//!
//! Then, on that same file, medians of 3 runs:
//! 1. raw read: `SELECT` every column of every row with one prepared statement, no hashing;
//! 2. naive verify: the same read, the hash recipe of docs/audit.md recomputed on one thread;
//! 3. `eventlog::verify_path`, the crate's verification;
//! 4. `workflow::projections::rebuild` into a fresh projection database (a new file), whose
//!    digest must equal the live projections' digest every run;
//! 5. when `target/release/cloop` exists (`cargo build --release -p cli`), the whole commands
//!    `cloop log verify --db FILE` and `cloop log replay --db FILE --keys keys.db`.
//!
//! Run with `cargo build --release -p cli && cargo bench -p workflow --bench replay`.
//! `CLOOP_BENCH_KEEP=DIR` builds the log in DIR and keeps it (and reuses it when it is there).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use chrono::{DateTime, Duration as TimeDelta, Utc};
use domain::command::{ClassifyCommand, Command, Submission};
use domain::ids::{EventId, FeedbackId, TicketIdGenerator};
use domain::ticket::{Approval, Customer, Ticket};
use domain::types::{Actor, Outcome, Role, Step};
use domain::{DomainConfig, Rules};
use eventlog::{
    chain_hash, row_digest, AppendRequest, CallerFields, ExpectedVersion, Synchronous,
    WriterFields, GENESIS_HASH,
};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workflow::record::{new_events, Provenance};

/// Tickets decided and appended together: their lifecycles interleave in the log.
const WAVE: usize = 2_000;

const CONTENTS: [&str; 8] = [
    "APP卡顿，打开很慢，每次启动都要等十几秒，希望尽快修复",
    "售后响应慢，客服态度差，退货申请提交三天了还没人处理",
    "建议增加夜间模式，晚上看屏幕太刺眼了",
    "快递太慢了，包裹破损，里面的杯子碎了一个",
    "支付失败但是扣款了，订单显示未支付，请核实退款",
    "产品质量有问题，充电器用了两天就不能充电了",
    "门店服务很好，店员耐心讲解，点赞",
    "会员积分没有到账，活动规则写的不清楚",
];

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One ticket being built: its folded state and the next instant it acts at.
struct Building {
    ticket: Ticket,
    stream_id: String,
    now: DateTime<Utc>,
    /// Commands done in the handle step of the ticket's current round.
    stage: usize,
    round: u32,
    /// A command was refused: the ticket stops where it is.
    done: bool,
}

fn agent(department: &str, role: Role) -> Actor {
    Actor {
        principal: format!("{}.{department}", role.as_str()),
        role,
        department: Some(department.to_owned()),
    }
}

/// The next command of a lifecycle, who gives it and the handle stage after it, or `None`
/// when the ticket is done.
fn next_command(building: &Building, index: usize) -> Option<(Command, Actor, usize)> {
    if building.done {
        return None;
    }
    let ticket = &building.ticket;
    let department = ticket
        .department
        .clone()
        .unwrap_or_else(|| "customer_service".into());
    let worker = agent(&department, Role::Agent);
    let stage = building.stage;
    let (command, actor) = match ticket.step {
        Step::Receive | Step::Classify => (
            Command::Classify(ClassifyCommand {
                kind: domain::types::Kind::Problem,
                content_type: domain::types::ContentType::Product,
                priority: domain::types::Priority::Medium,
                scope: domain::types::Scope::Local,
                keywords: vec!["卡顿".into()],
                complex: false,
                reason: "read by hand".into(),
                department: None,
            }),
            agent("customer_service", Role::Agent),
        ),
        Step::Dispatch => (
            Command::Dispatch {
                department: "technical".into(),
                helpers: Vec::new(),
                reason: "routing by hand".into(),
            },
            agent("customer_service", Role::Agent),
        ),
        Step::Handle => {
            if ticket.approval == Approval::Pending {
                return Some((
                    Command::ApproveSolution {
                        approve: true,
                        comment: "同意".into(),
                    },
                    agent(&department, Role::Head),
                    stage,
                ));
            }
            let script = [
                Command::Acknowledge {
                    message: "您好，已收到您的反馈，我们正在处理".into(),
                },
                Command::AddNote {
                    text: "复现了问题，原因在缓存".into(),
                    to_customer: false,
                },
                Command::PauseSla {
                    reason: "等待客户提供截图".into(),
                },
                Command::ResumeSla,
                Command::AddNote {
                    text: "已经定位原因，预计明天发布修复".into(),
                    to_customer: true,
                },
                Command::ProposeSolution {
                    outcome: [Outcome::Fixed, Outcome::Explained, Outcome::Adopted][index % 3],
                    text: "新版本已修复该问题，请升级后再试".into(),
                    reason: String::new(),
                },
            ];
            // Pausing and resuming only for every fourth ticket.
            let mut stage = stage;
            while stage < script.len() {
                let pause = matches!(script[stage], Command::PauseSla { .. } | Command::ResumeSla);
                if !pause || index % 4 == 0 {
                    break;
                }
                stage += 1;
            }
            return script
                .get(stage)
                .cloned()
                .map(|command| (command, worker, stage + 1));
        }
        Step::Review if ticket.satisfaction.is_none() => (
            Command::RecordReview {
                // Some first rounds end unsatisfied and reopen; second rounds are satisfied.
                satisfaction: if ticket.round > 1 {
                    5
                } else {
                    u8::try_from(index % 5).unwrap() + 1
                },
                comment: "处理及时".into(),
            },
            agent("customer_service", Role::Agent),
        ),
        Step::Review => (Command::Archive, agent("customer_service", Role::Agent)),
        Step::Archive => return None,
    };
    Some((command, actor, stage))
}

/// Builds the log at `directory/workflow.db` with the projector; returns the number of
/// events.
fn build_log(directory: &Path, events: u64, rules: &Arc<Rules>) -> u64 {
    let path = directory.join(workflow::DATABASE_FILE);
    let vault = workflow::open_vault(directory).unwrap();
    let log = workflow::open_log(&path, rules.clone(), Synchronous::Normal, vault.clone()).unwrap();
    if log.head().position >= events {
        return log.head().position;
    }
    let started = Instant::now();
    let mut ids = TicketIdGenerator::new(3);
    let mut base = support::start_instant();
    let mut appended = log.head().position;
    let mut number = 0usize;
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    'waves: while appended < events {
        // Receive a wave of tickets.
        let mut wave: Vec<Building> = Vec::with_capacity(WAVE);
        let mut requests = Vec::with_capacity(WAVE);
        for _ in 0..WAVE {
            number += 1;
            let now = base + TimeDelta::milliseconds(i64::try_from(number % 1000).unwrap() * 40);
            let ticket_id = ids.next(now);
            let stream_id = ticket_id.stream_id();
            let feedback_id = FeedbackId::new(now, rand::random());
            let submission = Submission {
                feedback_id,
                ticket_id,
                channel: ["web", "app", "wechat", "hotline"][number % 4].into(),
                external_id: Some(format!("ext-{number}")),
                customer: Customer {
                    customer_id: Some(format!("c-{}", number % 50_000)),
                    name: Some("张三".into()),
                    phone: Some(format!("+86138{:08}", number % 100_000_000)),
                    email: None,
                    wechat_openid: None,
                },
                content: format!("{} (第{number}次)", CONTENTS[number % CONTENTS.len()]),
                occurred_at: None,
                received_at: now,
                product: Some(["手机APP", "充电器", "会员服务"][number % 3].into()),
                order_id: Some(format!("SO{number:010}")),
                attributes: BTreeMap::new(),
                language: None,
            };
            let decided = domain::decide(
                &Ticket::default(),
                &Command::Receive(Box::new(submission)),
                now,
                rules.as_ref(),
            )
            .unwrap();
            let provenance = Provenance {
                actor: Actor::system("cloop-workflow/consumer"),
                correlation_id: Some(feedback_id.to_string()),
                causation_id: Some(feedback_id.to_string()),
            };
            let rows = new_events(&decided, &provenance, |index| {
                workflow::consumer::feedback_event_id(&feedback_id, index)
            });
            let ticket = decided.iter().fold(Ticket::default(), domain::apply);
            let round = ticket.round;
            requests.push(AppendRequest {
                stream_id: stream_id.clone(),
                expected: ExpectedVersion::NoStream,
                events: rows,
            });
            wave.push(Building {
                ticket,
                stream_id,
                now,
                stage: 0,
                round,
                done: false,
            });
        }
        workflow::consumer::seal_requests(&vault, &mut requests).unwrap();
        for result in log.append_many_blocking(requests) {
            result.unwrap();
        }
        appended = log.head().position;
        // Then move every ticket of the wave one command at a time.
        let mut open: Vec<usize> = (0..wave.len()).collect();
        while !open.is_empty() {
            let mut requests = Vec::new();
            let mut moved = Vec::new();
            let mut decided_all = Vec::new();
            for &slot in &open {
                let building = &mut wave[slot];
                let Some((command, actor, stage)) = next_command(building, number + slot) else {
                    continue;
                };
                building.now += TimeDelta::seconds(97);
                let now = building.now;
                match domain::decide(&building.ticket, &command, now, rules.as_ref()) {
                    Ok(decided) if !decided.is_empty() => {
                        let command_id = EventId::new(now, rand::random()).to_string();
                        let provenance = Provenance {
                            actor,
                            correlation_id: Some(command_id.clone()),
                            causation_id: Some(command_id),
                        };
                        let rows = new_events(&decided, &provenance, |_| {
                            EventId::new(now, rand::random())
                        });
                        requests.push(AppendRequest {
                            stream_id: building.stream_id.clone(),
                            expected: ExpectedVersion::Exact(building.ticket.version),
                            events: rows,
                        });
                        decided_all.push((slot, decided, stage));
                        moved.push(slot);
                    }
                    Ok(_) if stage != building.stage => {
                        building.stage = stage;
                        moved.push(slot);
                    }
                    Ok(_) => building.done = true,
                    Err(error) => {
                        *failures.entry(error.to_string()).or_default() += 1;
                        building.done = true;
                    }
                }
            }
            if requests.is_empty() {
                break;
            }
            let remaining = events.saturating_sub(appended);
            let mut total = 0u64;
            let mut keep = 0;
            for request in &requests {
                if total >= remaining {
                    break;
                }
                total += request.events.len() as u64;
                keep += 1;
            }
            requests.truncate(keep);
            for result in log.append_many_blocking(requests) {
                result.unwrap();
            }
            for (slot, decided, stage) in decided_all.into_iter().take(keep) {
                let building = &mut wave[slot];
                building.ticket = decided
                    .iter()
                    .fold(std::mem::take(&mut building.ticket), domain::apply);
                building.stage = stage;
                if building.ticket.round != building.round {
                    building.round = building.ticket.round;
                    building.stage = 0;
                }
            }
            appended = log.head().position;
            if appended >= events {
                break 'waves;
            }
            open = moved;
        }
        base += TimeDelta::minutes(10);
    }
    let head = log.head().position;
    eprintln!(
        "built {head} events ({number} tickets) in {:.1} s; commands refused: {failures:?}",
        started.elapsed().as_secs_f64()
    );
    drop(log);
    head
}

/// Every column of every row of the log, in log order.
const EVERY_COLUMN: &str = "SELECT position, stream_id, stream_version, event_id, event_type, \
     schema_version, occurred_at, recorded_at, actor, correlation_id, causation_id, payload, \
     prev_hash, hash FROM events ORDER BY position";

/// Reads every column of every row, no hashing: the bare read rate of the file.
fn raw_read(path: &Path) -> (u64, Duration) {
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut statement = connection.prepare(EVERY_COLUMN).unwrap();
    let started = Instant::now();
    let mut rows = statement.query([]).unwrap();
    let mut count = 0u64;
    let mut bytes = 0usize;
    while let Some(row) = rows.next().unwrap() {
        for index in 0..14 {
            bytes += match row.get_ref(index).unwrap() {
                ValueRef::Text(text) | ValueRef::Blob(text) => text.len(),
                ValueRef::Integer(value) => usize::from(value > 0),
                _ => 0,
            };
        }
        count += 1;
    }
    black_box(bytes);
    (count, started.elapsed())
}

/// The recipe of docs/audit.md on one thread, straight from the columns.
fn naive_verify(path: &Path) -> (u64, Duration, bool) {
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut statement = connection.prepare(EVERY_COLUMN).unwrap();
    let started = Instant::now();
    let mut rows = statement.query([]).unwrap();
    let mut chain = GENESIS_HASH;
    let mut count = 0u64;
    let mut ok = true;
    while let Some(row) = rows.next().unwrap() {
        let event_id = uuid::Uuid::from_slice(row.get_ref(3).unwrap().as_blob().unwrap()).unwrap();
        let text = |index: usize| row.get_ref(index).unwrap().as_str().unwrap();
        let optional = |index: usize| {
            row.get_ref(index)
                .unwrap()
                .as_str_or_null()
                .unwrap()
                .unwrap_or("")
        };
        let mut buffer = uuid::Uuid::encode_buffer();
        let event_id_text = event_id.hyphenated().encode_lower(&mut buffer);
        let digest = row_digest(
            &CallerFields {
                stream_id: text(1),
                event_id: event_id_text,
                event_type: text(4),
                schema_version: row.get(5).unwrap(),
                occurred_at: text(6),
                actor_json: text(8),
                correlation_id: optional(9),
                causation_id: optional(10),
                payload_json: text(11),
            },
            &WriterFields {
                stream_version: row.get(2).unwrap(),
                position: row.get(0).unwrap(),
                recorded_at: text(7),
            },
        );
        ok &= row.get_ref(12).unwrap().as_blob().unwrap() == chain;
        chain = chain_hash(&chain, &digest);
        ok &= row.get_ref(13).unwrap().as_blob().unwrap() == chain;
        count += 1;
    }
    (count, started.elapsed(), ok)
}

/// Replays the log into a fresh projection database; returns the time and the digest.
fn replay(directory: &Path, run: usize, rules: &Arc<Rules>) -> (u64, Duration, String) {
    let path = directory.join(workflow::DATABASE_FILE);
    let scratch = directory.join(format!("replay-{run}.db"));
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
    }
    let vault = workflow::open_vault(directory).unwrap();
    let log = eventlog::EventLog::open(&path, eventlog::LogOptions::default()).unwrap();
    let started = Instant::now();
    let mut connection = Connection::open(&scratch).unwrap();
    let replayed = workflow::projections::rebuild(&mut connection, &log, rules.clone(), vault)
        .expect("replay");
    drop(connection);
    let elapsed = started.elapsed();
    let connection = Connection::open(&scratch).unwrap();
    let digest = workflow::projections::digest(&connection).unwrap();
    drop(connection);
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
    }
    (replayed, elapsed, digest)
}

/// `target/release/cloop`, when it was built.
fn cloop_binary() -> Option<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../target"));
    let binary = target.join("release/cloop");
    binary.is_file().then_some(binary)
}

fn time_command(binary: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let output = Process::new(binary).args(args).output().unwrap();
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}",
        binary.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn main() {
    let events: u64 = std::env::var("CLOOP_BENCH_EVENTS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1_000_000);
    let runs = 3;
    let kept = std::env::var_os("CLOOP_BENCH_KEEP").map(PathBuf::from);
    let temporary = tempfile::Builder::new()
        .prefix("cloop-replay-bench-")
        .tempdir_in(std::env::var_os("CLOOP_BENCH_DIR").unwrap_or_else(|| ".".into()))
        .unwrap();
    let directory = kept.unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(&directory).unwrap();
    let rules = Arc::new(Rules::new(DomainConfig::default()).unwrap());
    let mut loads = vec![common::load_average(" ")];
    let stored = build_log(&directory, events, &rules);
    let path = directory.join(workflow::DATABASE_FILE);
    let live = {
        let connection = Connection::open(&path).unwrap();
        workflow::projections::digest(&connection).unwrap()
    };
    let file_bytes = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
    loads.push(common::load_average(" "));

    let rate = |count: u64, elapsed: Duration| count as f64 / elapsed.as_secs_f64();
    let mut raw = Vec::new();
    let mut naive = Vec::new();
    let mut verify = Vec::new();
    let mut replays = Vec::new();
    for run in 0..runs {
        let (count, elapsed) = raw_read(&path);
        assert_eq!(count, stored);
        raw.push(elapsed.as_secs_f64());

        let (count, elapsed, ok) = naive_verify(&path);
        assert!(ok && count == stored, "naive verify failed");
        naive.push(elapsed.as_secs_f64());

        let started = Instant::now();
        let report = eventlog::verify_path(&path, None, |_, _| {}).unwrap();
        let elapsed = started.elapsed();
        assert!(report.ok && report.checked == stored, "verify failed");
        verify.push(elapsed.as_secs_f64());

        let (count, elapsed, digest) = replay(&directory, run, &rules);
        assert_eq!(count, stored);
        assert_eq!(
            digest, live,
            "replayed projections differ from the live ones"
        );
        replays.push(elapsed.as_secs_f64());
        loads.push(common::load_average(" "));
        eprintln!(
            "run {run}: raw {:.2} s, naive {:.2} s, verify {:.2} s, replay {:.2} s",
            raw[run], naive[run], verify[run], replays[run]
        );
    }
    let mut commands = Vec::new();
    if let Some(binary) = cloop_binary() {
        let db = path.display().to_string();
        let keys = directory.join(workflow::KEYS_FILE).display().to_string();
        let verify_args = ["log", "verify", "--db", db.as_str()];
        let replay_args = [
            "log",
            "replay",
            "--db",
            db.as_str(),
            "--keys",
            keys.as_str(),
        ];
        for (label, args) in [
            ("`cloop log verify --db FILE`", &verify_args[..]),
            (
                "`cloop log replay --db FILE --keys keys.db`",
                &replay_args[..],
            ),
        ] {
            let times: Vec<f64> = (0..runs)
                .map(|_| time_command(&binary, args).as_secs_f64())
                .collect();
            commands.push((label, median(times)));
        }
        loads.push(common::load_average(" "));
    } else {
        eprintln!("no target/release/cloop: build it with `cargo build --release -p cli`");
    }

    let raw_rate = stored as f64 / median(raw.clone());
    println!(
        "\n{stored} events, {} MB file, medians of {runs} runs; load average (1, 5, 15 min) \
         during the run: {}\n",
        file_bytes / 1_000_000,
        loads.join(" → ")
    );
    println!("| what | seconds | events/s | share of raw read |");
    println!("| --- | ---: | ---: | ---: |");
    let line = |label: &str, seconds: f64| {
        let per_second = stored as f64 / seconds;
        println!(
            "| {label} | {seconds:.2} | {} | {:.0}% |",
            thousands(per_second),
            per_second / raw_rate * 100.0
        );
    };
    line(
        "raw read, every column of every row, no hashing",
        median(raw),
    );
    line("naive verify, one thread", median(naive));
    line("`eventlog::verify_path`", median(verify));
    line(
        "replay into a fresh projection database (`projections::rebuild`)",
        median(replays),
    );
    for (label, seconds) in commands {
        line(label, seconds);
    }
    let _ = rate;
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
