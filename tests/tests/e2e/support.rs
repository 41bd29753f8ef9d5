//! Shared support of the end-to-end scenarios that run both services as real processes: the
//! standard fault-scenario cluster ([`pair`]: a [`TestCluster`] of intake and workflow with
//! metrics), a retrying submission load over gRPC and NATS request/reply with department
//! commands mixed in, and the one checker of what a fault may never do ([`check_outcome`]):
//! lose an acknowledged submission, make two tickets of one, invent a ticket, break the log's
//! hash chain, let the projections drift from the log or leave a SQLite file corrupt.

pub use e2e::grpc::metrics_text;
pub use e2e::{authorized, fetch_ticket, lazy_channel, metric, tail, Service, START_TIMEOUT};
use e2e::{NatsCluster, ServiceSpec, TestCluster, TestClusterBuilder};
use prost::Message;
use proto::v1;
use proto::v1::audit_client::AuditClient;
use proto::v1::intake_client::IntakeClient;
use proto::v1::tickets_client::TicketsClient;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::Code;

/// What a scenario changes in the configuration and environment of the standard cluster.
#[derive(Debug, Default, Clone)]
pub struct PairOptions {
    /// TOML lines appended to `[intake_service]`.
    pub intake: String,
    /// TOML lines appended to `[workflow_service]`.
    pub workflow: String,
    /// The duplicate window of stream FEEDBACK in seconds (default 120).
    pub duplicate_window_secs: Option<u64>,
    /// `FAILPOINTS` of the intake process at its first start.
    pub intake_failpoints: Option<String>,
    /// `FAILPOINTS` of the workflow process at its first start.
    pub workflow_failpoints: Option<String>,
    /// More environment variables of both processes (e.g. `CLOOP_STREAM_REPLICAS`).
    pub envs: Vec<(String, String)>,
    /// The intake's data folder (default `<temp dir>/intake`), e.g. on a small disk.
    pub intake_data_dir: Option<PathBuf>,
    /// The workflow's data folder (default `<temp dir>/workflow`).
    pub workflow_data_dir: Option<PathBuf>,
    /// More flags of the intake process (e.g. `--tls-cert FILE --tls-key FILE`).
    pub intake_args: Vec<String>,
    /// More flags of the workflow process.
    pub workflow_args: Vec<String>,
}

/// The builder of the standard cluster: intake and workflow (each with metrics) on one
/// configuration, with `CLOOP_LOG=info`.
fn pair_builder(options: PairOptions) -> TestClusterBuilder {
    let config = format!(
        "[intake_service]\nnode_id = 5\nmaintenance_interval_ms = 200\n\
         retry_backoff_initial_ms = 50\nretry_backoff_max_ms = 1000\n{}\n\n\
         [workflow_service]\ntimer_tick_ms = 200\n{}\n\n\
         [nats]\nrequest_timeout_ms = 3000\n\n\
         [nats.feedback_stream]\nname = \"FEEDBACK\"\nsubjects = [\"feedback.received.>\"]\n\
         duplicate_window_secs = {}\n",
        options.intake,
        options.workflow,
        options.duplicate_window_secs.unwrap_or(120),
    );
    let spec = |data_dir: Option<PathBuf>, failpoints: Option<String>, args: Vec<String>| {
        let spec = ServiceSpec::new()
            .metrics()
            .envs(options.envs.iter().cloned())
            .failpoints(failpoints.as_deref())
            .args(args);
        match data_dir {
            Some(dir) => spec.data_dir(dir),
            None => spec,
        }
    };
    TestCluster::builder()
        .prefix("cloop-faults-")
        .config(config)
        .env("CLOOP_LOG", "info")
        .intake(spec(
            options.intake_data_dir.clone(),
            options.intake_failpoints.clone(),
            options.intake_args.clone(),
        ))
        .workflow(spec(
            options.workflow_data_dir.clone(),
            options.workflow_failpoints.clone(),
            options.workflow_args.clone(),
        ))
}

/// The standard cluster on its own nats-server.
pub fn start_pair(options: PairOptions) -> TestCluster {
    pair_builder(options).start()
}

/// The standard cluster on a three-node NATS cluster.
pub fn start_pair_on(nats: NatsCluster, options: PairOptions) -> TestCluster {
    pair_builder(options).nats_cluster(nats).start()
}

/// Where a load sends its requests.
pub fn targets(pair: &TestCluster) -> LoadTargets {
    LoadTargets {
        intake: pair.intake().channel(),
        workflow: pair.workflow().channel(),
        nats_url: pair.nats_url.clone(),
    }
}

/// Whether both service binaries were built with the `failpoints` feature (`make build` builds
/// them so); their `--version` says so.
pub fn failpoints_built_in() -> bool {
    ["cloop-intake", "cloop-workflow"].iter().all(|name| {
        std::process::Command::new(e2e::bin_path(name))
            .arg("--version")
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).contains("(failpoints)"))
            .unwrap_or(false)
    })
}

/// A small deterministic pseudo-random generator (xorshift64*), seeded and printed by each
/// scenario so that a failing run can be repeated.
#[derive(Debug, Clone)]
pub struct Random(u64);

impl Random {
    /// Seeded from `CLOOP_FAULT_SEED` when set, else from the clock.
    pub fn from_env_or_clock() -> Self {
        let seed = std::env::var("CLOOP_FAULT_SEED")
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|elapsed| elapsed.as_nanos() as u64)
                    .unwrap_or(0x9e37_79b9)
            });
        Self(seed.max(1))
    }

    pub fn seed(&self) -> u64 {
        self.0
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut state = self.0;
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        self.0 = state;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }
}

/// One submission that intake answered: what the client was told.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    pub ticket_id: String,
    pub feedback_id: String,
    pub external_id: String,
    /// The answer was a repeat of an earlier one (the first answer was lost to a fault).
    pub duplicate: bool,
}

/// The addresses a load talks to; the gRPC channels reconnect after restarts.
#[derive(Debug, Clone)]
pub struct LoadTargets {
    pub intake: Channel,
    pub workflow: Channel,
    pub nats_url: String,
}

/// How a submission load runs.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// External ids are `<prefix>-<index>`.
    pub prefix: String,
    /// Submissions at most (`u64::MAX`: until stopped).
    pub total: u64,
    /// Concurrent submitters.
    pub workers: usize,
    /// Submissions per second for all workers together, roughly.
    pub per_second: u64,
    /// Odd indexes go over NATS request/reply, even ones over gRPC; false: all gRPC.
    pub mixed_transports: bool,
    /// Department commands mixed in by one more task.
    pub commands: bool,
}

/// Counters of a running load.
#[derive(Debug, Default)]
pub struct LoadCounters {
    pub attempts_failed: AtomicU64,
    pub commands_ok: AtomicU64,
    pub commands_refused: AtomicU64,
    pub commands_retried: AtomicU64,
}

impl LoadCounters {
    /// `failed_attempts=N commands_ok=N commands_refused=N commands_retried=N` for the figures.
    pub fn line(&self) -> String {
        format!(
            "failed_attempts={} commands_ok={} commands_refused={} commands_retried={}",
            self.attempts_failed.load(Ordering::Relaxed),
            self.commands_ok.load(Ordering::Relaxed),
            self.commands_refused.load(Ordering::Relaxed),
            self.commands_retried.load(Ordering::Relaxed),
        )
    }
}

/// A running load: submitters that retry each submission (same external id) until it is
/// answered, so every submission that reached intake's outbox ends acknowledged.
pub struct Load {
    pub acknowledged: Arc<Mutex<Vec<Acknowledged>>>,
    pub counters: Arc<LoadCounters>,
    stop: Arc<AtomicBool>,
    submitters: Vec<tokio::task::JoinHandle<()>>,
    commands: Option<tokio::task::JoinHandle<()>>,
    started: Instant,
}

const TEXTS: [&str; 6] = [
    "APP卡顿，打开很慢",
    "售后响应慢，客服态度差",
    "快递太慢了，包裹破损",
    "The app crashes when I open it",
    "建议增加夜间模式",
    "退款一直没有到账",
];

fn submission(channel: &str, external_id: &str, index: u64) -> v1::SubmitRequest {
    v1::SubmitRequest {
        channel: channel.to_owned(),
        external_id: external_id.to_owned(),
        content: format!(
            "{} (#{external_id})",
            TEXTS[(index % TEXTS.len() as u64) as usize]
        ),
        customer: Some(v1::Customer {
            customer_id: format!("c-{}", index % 97),
            phone: "13800138000".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn submit_over_grpc(
    client: &mut IntakeClient<Channel>,
    request: v1::SubmitRequest,
) -> Result<v1::SubmitResponse, String> {
    client
        .submit(authorized(request, "t-adapter"))
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| {
            assert_ne!(
                status.code(),
                Code::InvalidArgument,
                "a valid submission was refused: {status:?}"
            );
            format!("{:?}", status.code())
        })
}

async fn submit_over_nats(
    client: &async_nats::Client,
    request: &v1::SubmitRequest,
) -> Result<v1::SubmitResponse, String> {
    let reply = client
        .request("feedback.inbound.wechat", request.encode_to_vec().into())
        .await
        .map_err(|error| format!("{:?}", error.kind()))?;
    let status = e2e::grpc::reply_status(&reply);
    if status.as_deref() != Some("0") {
        let error = v1::ErrorStatus::decode(reply.payload.as_ref()).unwrap_or_default();
        assert_ne!(
            error.code,
            Code::InvalidArgument as i32,
            "a valid submission was refused: {error:?}"
        );
        return Err(format!("status {status:?}: {}", error.message));
    }
    v1::SubmitResponse::decode(reply.payload.as_ref()).map_err(|error| error.to_string())
}

impl Load {
    /// Starts the submitters (and the command task when the plan asks for it).
    pub async fn start(targets: LoadTargets, plan: LoadPlan) -> Self {
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let counters = Arc::new(LoadCounters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicU64::new(0));
        let nats = async_nats::ConnectOptions::new()
            .request_timeout(Some(Duration::from_secs(3)))
            .retry_on_initial_connect()
            .connect(service::nats::server_addresses(&targets.nats_url).expect("nats server list"))
            .await
            .expect("connect to nats-server");
        let started = Instant::now();
        let mut submitters = Vec::new();
        let per_worker_interval =
            Duration::from_secs_f64(plan.workers.max(1) as f64 / plan.per_second.max(1) as f64);
        for _ in 0..plan.workers.max(1) {
            let mut client = IntakeClient::new(targets.intake.clone());
            let nats = nats.clone();
            let (acknowledged, counters, stop, next, plan) = (
                acknowledged.clone(),
                counters.clone(),
                stop.clone(),
                next.clone(),
                plan.clone(),
            );
            submitters.push(tokio::spawn(async move {
                let mut pace = tokio::time::interval(per_worker_interval);
                pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                while !stop.load(Ordering::Relaxed) {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= plan.total {
                        break;
                    }
                    pace.tick().await;
                    let external_id = format!("{}-{index}", plan.prefix);
                    let over_nats = plan.mixed_transports && index % 2 == 1;
                    // Retry until answered: the same external id returns the first answer.
                    let deadline = Instant::now() + Duration::from_secs(300);
                    let response = loop {
                        let result = if over_nats {
                            submit_over_nats(&nats, &submission("", &external_id, index)).await
                        } else {
                            submit_over_grpc(&mut client, submission("web", &external_id, index))
                                .await
                        };
                        match result {
                            Ok(response) => break response,
                            Err(reason) => {
                                counters.attempts_failed.fetch_add(1, Ordering::Relaxed);
                                assert!(
                                    Instant::now() < deadline,
                                    "{external_id} not answered in 300 s: {reason}"
                                );
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                        }
                    };
                    acknowledged
                        .lock()
                        .expect("acknowledged")
                        .push(Acknowledged {
                            ticket_id: response.ticket_id,
                            feedback_id: response.feedback_id,
                            external_id,
                            duplicate: response.duplicate,
                        });
                }
            }));
        }
        let commands = plan.commands.then(|| {
            tokio::spawn(command_task(
                TicketsClient::new(targets.workflow.clone()),
                acknowledged.clone(),
                counters.clone(),
                stop.clone(),
            ))
        });
        Self {
            acknowledged,
            counters,
            stop,
            submitters,
            commands,
            started,
        }
    }

    /// Submissions answered so far.
    pub fn answered(&self) -> usize {
        self.acknowledged.lock().expect("acknowledged").len()
    }

    /// Waits until at least `count` submissions are answered (or `timeout` passes).
    pub async fn wait_answered(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.answered() < count {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Stops taking new submissions, waits until every started one is answered, and returns
    /// what was acknowledged and how long the load ran.
    pub async fn finish(self) -> (Vec<Acknowledged>, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.run_to_end().await
    }

    /// Waits until a load with a bounded total has sent everything (and every submission is
    /// answered), then stops the commands.
    pub async fn run_to_end(self) -> (Vec<Acknowledged>, Duration) {
        for task in self.submitters {
            task.await.expect("load task");
        }
        let elapsed = self.started.elapsed();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(commands) = self.commands {
            commands.await.expect("command task");
        }
        let acknowledged = self.acknowledged.lock().expect("acknowledged").clone();
        (acknowledged, elapsed)
    }
}

/// Whether a failed call may succeed when repeated unchanged (a service restarting or paused).
fn transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
    )
}

/// Department commands on tickets already answered: the owning department's agent
/// acknowledges a ticket in `handle`, customer service adds a note otherwise. A command that
/// fails transiently is repeated with the same command id (so a repeat must change nothing).
async fn command_task(
    mut client: TicketsClient<Channel>,
    acknowledged: Arc<Mutex<Vec<Acknowledged>>>,
    counters: Arc<LoadCounters>,
    stop: Arc<AtomicBool>,
) {
    let mut random = Random::from_env_or_clock();
    let mut sequence = 0u64;
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let ticket_id = {
            let answered = acknowledged.lock().expect("acknowledged");
            if answered.is_empty() {
                continue;
            }
            let index = random.between(0, answered.len() as u64 - 1) as usize;
            answered[index].ticket_id.clone()
        };
        let Ok(ticket) = fetch_ticket(&mut client, &ticket_id, "t-admin").await else {
            continue;
        };
        let Some(ticket) = ticket.into_inner().ticket else {
            continue;
        };
        sequence += 1;
        let command_id = format!("fault-cmd-{ticket_id}-{sequence}");
        let handle = ticket.step == v1::Step::Handle as i32;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let result = if handle && ticket.responded_at.is_none() {
                client
                    .acknowledge(authorized(
                        v1::AcknowledgeRequest {
                            ticket_id: ticket_id.clone(),
                            command_id: command_id.clone(),
                            message: "我们已收到，正在处理".into(),
                            ..Default::default()
                        },
                        &format!("t-agent-{}", ticket.department),
                    ))
                    .await
                    .map(|_| ())
            } else {
                client
                    .add_note(authorized(
                        v1::AddNoteRequest {
                            ticket_id: ticket_id.clone(),
                            command_id: command_id.clone(),
                            text: "fault test note".into(),
                            ..Default::default()
                        },
                        "t-service",
                    ))
                    .await
                    .map(|_| ())
            };
            match result {
                Ok(()) => {
                    counters.commands_ok.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(status) if transient(status.code()) && Instant::now() < deadline => {
                    counters.commands_retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(_) => {
                    counters.commands_refused.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

/// Every ticket the workflow lists, paging through `ListTickets` as the admin.
pub async fn list_all_tickets(channel: &Channel) -> Result<Vec<v1::Ticket>, tonic::Status> {
    let mut client = TicketsClient::new(channel.clone());
    e2e::grpc::list_all_tickets(&mut client, None, "t-admin").await
}

/// Waits until every acknowledged ticket is listed by the workflow; returns the listing and
/// how long that took.
pub async fn wait_for_tickets(
    channel: &Channel,
    acknowledged: &[Acknowledged],
    timeout: Duration,
) -> (Vec<v1::Ticket>, Duration) {
    let started = Instant::now();
    let expected: HashSet<&str> = acknowledged
        .iter()
        .map(|answer| answer.ticket_id.as_str())
        .collect();
    loop {
        let listed = list_all_tickets(channel).await.unwrap_or_default();
        let present = listed
            .iter()
            .filter(|ticket| expected.contains(ticket.ticket_id.as_str()))
            .count();
        if present >= expected.len() || started.elapsed() >= timeout {
            return (listed, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `PRAGMA integrity_check` of one SQLite file.
pub fn integrity_check(path: &Path) -> String {
    let connection = match rusqlite::Connection::open(path) {
        Ok(connection) => connection,
        Err(error) => return format!("open failed: {error}"),
    };
    connection
        .query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
        .unwrap_or_else(|error| format!("check failed: {error}"))
}

/// The figures of one scenario, printed with the prefix `FAULTS` for `docs/reliability.md`.
#[derive(Debug, Default)]
pub struct Figures {
    pub scenario: String,
    pub acknowledged: usize,
    /// Answers that repeated an earlier one (the first answer was lost to a fault).
    pub repeated_answers: usize,
    pub tickets: usize,
    /// Acknowledged submissions that are not tickets.
    pub missing: usize,
    /// Tickets listed twice, or more than one ticket for one submission.
    pub duplicates: usize,
    /// Tickets that no acknowledged submission accounts for.
    pub unknown: usize,
    pub log_ok: bool,
    pub events: u64,
    pub projections_equal: bool,
    /// Two `cloop log replay --out` rebuilds into fresh databases gave the live digest.
    pub replays_equal: bool,
    pub digest: String,
    /// `(file, integrity_check result)` of every SQLite file of both services.
    pub integrity: Vec<(String, String)>,
    /// Scenario-specific figures, printed after the common ones.
    pub extra: Vec<(String, String)>,
}

impl Figures {
    pub fn integrity_ok(&self) -> bool {
        !self.integrity.is_empty() && self.integrity.iter().all(|(_, result)| result == "ok")
    }

    pub fn add(&mut self, name: &str, value: impl std::fmt::Display) {
        self.extra.push((name.to_owned(), value.to_string()));
    }

    /// One line on stderr, e.g. `FAULTS soak: acknowledged=1000 tickets=1000 missing=0 ...`.
    pub fn print(&self) {
        let mut line = format!(
            "FAULTS {}: acknowledged={} repeated_answers={} tickets={} missing={} duplicates={} \
             unknown={} log_ok={} events={} projections_equal={} replays_equal={} digest={} integrity={}",
            self.scenario,
            self.acknowledged,
            self.repeated_answers,
            self.tickets,
            self.missing,
            self.duplicates,
            self.unknown,
            self.log_ok,
            self.events,
            self.projections_equal,
            self.replays_equal,
            self.digest.get(..16).unwrap_or(&self.digest),
            if self.integrity_ok() {
                format!("ok({} files)", self.integrity.len())
            } else {
                format!("{:?}", self.integrity)
            },
        );
        for (name, value) in &self.extra {
            line.push_str(&format!(" {name}={value}"));
        }
        eprintln!("{line}");
    }

    /// Fails the test unless nothing was lost, duplicated or invented and every file checks.
    pub fn assert_clean(&self) {
        assert_eq!(self.missing, 0, "acknowledged submissions lost: {self:?}");
        assert_eq!(self.duplicates, 0, "duplicate tickets: {self:?}");
        assert_eq!(self.unknown, 0, "tickets nobody submitted: {self:?}");
        assert!(self.log_ok, "the log does not verify: {self:?}");
        assert!(
            self.projections_equal,
            "the projections differ from a rebuild: {self:?}"
        );
        assert!(
            self.replays_equal,
            "cloop log replay --out gave another digest: {self:?}"
        );
        assert!(self.integrity_ok(), "integrity_check: {self:?}");
    }
}

/// The checker of every fault scenario. Waits until every acknowledged submission is listed
/// (or `timeout` passes), counts lost, duplicated and unknown tickets, stops both services
/// (SIGTERM), verifies the log and compares the projections with a rebuild
/// (`cloop-workflow --check`), and runs `PRAGMA integrity_check` on every SQLite file of both
/// data folders. Returns the figures; the caller adds its own, prints them and asserts.
pub async fn check_outcome(
    pair: &mut TestCluster,
    scenario: &str,
    acknowledged: &[Acknowledged],
    timeout: Duration,
) -> Figures {
    let channel = pair.workflow().channel();
    let (listed, waited) = wait_for_tickets(&channel, acknowledged, timeout).await;
    let mut figures = Figures {
        scenario: scenario.to_owned(),
        acknowledged: acknowledged.len(),
        repeated_answers: acknowledged
            .iter()
            .filter(|answer| answer.duplicate)
            .count(),
        tickets: listed.len(),
        ..Default::default()
    };
    let answered: HashMap<&str, &Acknowledged> = acknowledged
        .iter()
        .map(|answer| (answer.ticket_id.as_str(), answer))
        .collect();
    let mut seen_tickets: HashSet<&str> = HashSet::new();
    let mut tickets_of_submission: HashMap<&str, HashSet<&str>> = HashMap::new();
    for ticket in &listed {
        if !seen_tickets.insert(ticket.ticket_id.as_str()) {
            figures.duplicates += 1;
        }
        tickets_of_submission
            .entry(ticket.external_id.as_str())
            .or_default()
            .insert(ticket.ticket_id.as_str());
        match answered.get(ticket.ticket_id.as_str()) {
            Some(answer) => assert_eq!(
                answer.feedback_id, ticket.feedback_id,
                "ticket {} carries another feedback id than intake answered",
                ticket.ticket_id
            ),
            None => figures.unknown += 1,
        }
    }
    figures.duplicates += tickets_of_submission
        .values()
        .map(|tickets| tickets.len().saturating_sub(1))
        .sum::<usize>();
    figures.missing = answered
        .keys()
        .filter(|ticket_id| !seen_tickets.contains(*ticket_id))
        .count();
    figures.add("settle_secs", format!("{:.1}", waited.as_secs_f64()));

    // Offline checks need the services stopped.
    pair.workflow().resume();
    pair.intake().resume();
    pair.workflow_mut().terminate(Duration::from_secs(30));
    pair.intake_mut().terminate(Duration::from_secs(30));
    let check = pair.workflow_check();
    figures.log_ok = check["log_ok"] == true;
    figures.events = check["events"].as_u64().unwrap_or(0);
    // Next to a PostgreSQL log, the shared ticket table must equal a rebuild too.
    figures.projections_equal = check["projections_equal"] == true
        && check
            .get("shared_equal")
            .is_none_or(|shared| *shared == true);
    figures.digest = check["stored_digest"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let replays: Vec<String> = (0..2).map(|_| pair.replay_digest()).collect();
    figures.replays_equal = replays.iter().all(|digest| *digest == figures.digest);
    for service in [Service::Intake, Service::Workflow] {
        let folder = pair.service(service).data_dir().to_path_buf();
        let Ok(entries) = std::fs::read_dir(&folder) else {
            figures
                .integrity
                .push((folder.display().to_string(), "missing folder".into()));
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|extension| extension == "db"))
            .collect();
        files.sort();
        for file in files {
            let name = file
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            figures.integrity.push((name, integrity_check(&file)));
        }
    }
    if figures.missing > 0 {
        eprintln!(
            "workflow log tail:\n{}\nintake log tail:\n{}",
            tail(&pair.workflow().log(), 40),
            tail(&pair.intake().log(), 40)
        );
    }
    figures
}

/// `grpc:N,nats:M` of a load's answers (it sends odd indexes over NATS request/reply).
pub fn transports_line(acknowledged: &[Acknowledged]) -> String {
    let over_nats = acknowledged
        .iter()
        .filter(|answer| {
            answer
                .external_id
                .rsplit('-')
                .next()
                .and_then(|index| index.parse::<u64>().ok())
                .is_some_and(|index| index % 2 == 1)
        })
        .count();
    format!("grpc:{},nats:{}", acknowledged.len() - over_nats, over_nats)
}

/// Whether the long (`CLOOP_SOAK=1`) form of the scenarios runs.
pub fn soak() -> bool {
    std::env::var("CLOOP_SOAK").is_ok_and(|value| value == "1")
}

/// How long a long load's tickets get to be listed after it ends: 10 minutes in the soak
/// form, else 3.
pub fn settle_time() -> Duration {
    Duration::from_secs(if soak() { 600 } else { 180 })
}

/// The first page (10 at most) of the public list of adopted suggestions as `token`: those
/// adopted within `window_secs` either side of now.
pub async fn adopted_around_now(
    cluster: &TestCluster,
    token: &str,
    window_secs: i64,
) -> Result<v1::AdoptedSuggestionsResponse, tonic::Status> {
    let now = chrono::Utc::now().timestamp();
    let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
    let request = v1::AdoptedSuggestionsRequest {
        from: at(now - window_secs),
        to: at(now + window_secs),
        page_size: 10,
        page_token: String::new(),
        award_month: String::new(),
    };
    let mut reports = cluster.reports_connected().await;
    let answer = reports
        .adopted_suggestions(authorized(request, token))
        .await;
    answer.map(tonic::Response::into_inner)
}

/// A refusal with `code` whose message names every one of `parts`.
pub fn assert_names(status: &tonic::Status, code: Code, parts: &[&str]) {
    assert_eq!(status.code(), code, "{status:?}");
    for part in parts {
        assert!(
            status.message().contains(part),
            "the refusal should name {part:?}: {}",
            status.message()
        );
    }
}

/// The month (`YYYY-MM`, business time +08:00) a ticket was received in.
pub fn month_of(ticket: &v1::Ticket) -> String {
    let created = ticket.created_at.expect("created_at");
    let instant = chrono::DateTime::from_timestamp(created.seconds, 0).expect("instant");
    instant
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"))
        .format("%Y-%m")
        .to_string()
}

/// `MonthlyReport` of `month` (`YYYY-MM`) for every department as `token`, at a log
/// position when one is given.
pub async fn monthly(
    cluster: &TestCluster,
    token: &str,
    month: &str,
    at_position: Option<u64>,
) -> Result<v1::MonthlyReportResponse, tonic::Status> {
    cluster
        .reports_connected()
        .await
        .monthly_report(authorized(
            v1::MonthlyReportRequest {
                month: month.to_owned(),
                department: None,
                at_position,
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The public list of adopted suggestions within `window_secs` either side of now, as `token`,
/// when it holds one suggestion only: that of `ticket_id`.
pub async fn only_adopted(
    cluster: &TestCluster,
    token: &str,
    window_secs: i64,
    ticket_id: &str,
) -> v1::AdoptedSuggestion {
    let adopted = adopted_around_now(cluster, token, window_secs).await;
    let mut adopted = adopted.expect("adopted suggestions").suggestions;
    assert_eq!(adopted.len(), 1);
    let listed = adopted.remove(0);
    assert_eq!(listed.ticket_id, ticket_id);
    listed
}

/// `ReadEvents` of the whole log from position 1 as `token`: to its end, or following it.
pub async fn read_from_start(
    audit: &mut AuditClient<Channel>,
    token: &str,
    follow: bool,
) -> Result<tonic::Streaming<v1::ReadEventsResponse>, tonic::Status> {
    let request = v1::ReadEventsRequest {
        from_position: 1,
        follow,
        ..Default::default()
    };
    let answer = audit.read_events(authorized(request, token)).await;
    answer.map(tonic::Response::into_inner)
}

/// A program's output as text (invalid UTF-8 replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails, showing the exit code, standard output and standard error, unless the program
/// succeeded.
pub fn assert_ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed with {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
}
