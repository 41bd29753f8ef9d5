//! The set-up the report benchmarks share: the peak memory of a process, one real
//! submission, so that the log and the projections have a position to judge the report at,
//! the synthetic tickets written straight into the projections, and the workflow started on
//! them.

use chrono::Utc;
use domain::ids::{FeedbackId, TicketIdGenerator};
use e2e::{free_port, NatsServer, ServiceProcess};
use prost::Message;
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The peak resident memory of process `pid` so far, in KiB (Linux `VmHWM`).
pub fn peak_memory_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Publishes one submission to FEEDBACK as intake's relay does; returns its ticket id.
pub async fn publish_one(nats_url: &str) -> String {
    let client = async_nats::connect(nats_url).await.unwrap();
    let context = async_nats::jetstream::new(client);
    let now = Utc::now();
    let ticket_id = TicketIdGenerator::new(77).next(now);
    let feedback_id = FeedbackId::new(now, [7; 10]);
    let message = v1::FeedbackReceived {
        node_id: 77,
        ..super::support::feedback(
            feedback_id,
            &ticket_id,
            now,
            v1::Submission {
                channel: "app".into(),
                external_id: "bench-report-1".into(),
                content: "APP卡顿，打开很慢".into(),
                customer: Some(v1::Customer {
                    phone: "13800138000".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
    };
    // The workflow creates stream FEEDBACK when its consumer starts, soon after it listens.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let publish = async_nats::jetstream::message::PublishMessage::build()
            .payload(message.encode_to_vec().into())
            .message_id(feedback_id.to_string());
        let acked = match context.send_publish("feedback.received.app", publish).await {
            Ok(ack) => ack.await.is_ok(),
            Err(_) => false,
        };
        if acked {
            break;
        }
        assert!(Instant::now() < deadline, "stream FEEDBACK never appeared");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ticket_id.to_string()
}

/// Writes `tickets` (their `seq` and state) into the projections of the stopped service whose
/// data directory is `data_dir`, as the projector writes them, in one transaction; returns
/// the time it took.
pub fn seed_projections(
    data_dir: &Path,
    tickets: impl Iterator<Item = (i64, domain::ticket::Ticket)>,
) -> Duration {
    let started = Instant::now();
    let mut connection =
        rusqlite::Connection::open(data_dir.join(workflow::DATABASE_FILE)).unwrap();
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        .unwrap();
    let transaction = connection.transaction().unwrap();
    super::common::seed_ticket_rows(&transaction, tickets);
    transaction.commit().unwrap();
    started.elapsed()
}

/// The principals the report benchmarks call as.
pub const MANAGER: &str = "bench-manager";
pub const ADMIN: &str = "bench-admin";

/// A workflow, on its own nats-server, whose projections hold one real ticket and the
/// tickets a seed wrote into them while it was stopped. Dropping it stops the service, then
/// removes its files, then stops the nats-server.
pub struct SeededWorkflow {
    pub workflow: ServiceProcess,
    /// Its gRPC address, `127.0.0.1:PORT`.
    pub address: String,
    /// The data directory (the ceilings read it).
    #[allow(dead_code)]
    pub data_dir: PathBuf,
    /// How long `seed` took.
    pub seeded_in: Duration,
    _dir: tempfile::TempDir,
    _nats: NatsServer,
}

/// Starts a workflow (its files in a temporary directory named `prefix`...), records one
/// real submission so that the log and the projections have a position, stops it, lets
/// `seed` write into its data directory, and starts it again on that database.
pub async fn seeded_workflow(prefix: &str, seed: impl FnOnce(&Path) -> Duration) -> SeededWorkflow {
    let nats = NatsServer::start();
    let dir = super::common::temp_dir(prefix);
    let tokens = super::common::write_tokens(
        dir.path(),
        &[(MANAGER, "manager", ""), (ADMIN, "admin", "")],
    );
    let address = format!("127.0.0.1:{}", free_port());
    let data_dir = dir.path().join("workflow");
    let args = super::common::service_args(&address, &nats.url(), &data_dir, &tokens);
    let env = [("CLOOP_LOG".to_owned(), "warn".to_owned())];
    let mut workflow = ServiceProcess::spawn(
        "cloop-workflow",
        &args,
        &env,
        dir.path().join("workflow.log"),
    );
    workflow.wait_listening(&address, Duration::from_secs(120));

    // 1. One real ticket, so that the log and the projections have a position.
    let ticket_id = publish_one(&nats.url()).await;
    let mut tickets = TicketsClient::new(super::common::channel(&address).await);
    let deadline = Instant::now() + Duration::from_secs(60);
    while tickets
        .get_ticket(super::common::authorized(
            v1::GetTicketRequest {
                ticket_id: ticket_id.clone(),
            },
            ADMIN,
        ))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the workflow never recorded the ticket\n{}",
            workflow.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 2. The seeded tickets, written while the service is stopped.
    workflow.terminate(Duration::from_secs(30));
    let seeded_in = seed(&data_dir);

    // 3. Started again on the seeded database.
    workflow.start_again();
    workflow.wait_listening(&address, Duration::from_secs(300));
    SeededWorkflow {
        workflow,
        address,
        data_dir,
        seeded_in,
        _dir: dir,
        _nats: nats,
    }
}

/// What a ceiling read takes: the time, the rows and their bytes.
pub struct RowsRead {
    pub time: Duration,
    pub rows: u64,
    pub bytes: u64,
}

/// Reads the text column of `query` (a SELECT of one text column over `[?1, ?2)` in
/// milliseconds) for the instants of `window` and nothing else, from the stopped or running
/// service's database in `data_dir`: the ceiling of a report that reads those rows.
pub fn read_rows_only(
    data_dir: &Path,
    query: &str,
    window: (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
) -> RowsRead {
    let connection = rusqlite::Connection::open(data_dir.join(workflow::DATABASE_FILE)).unwrap();
    let started = Instant::now();
    let mut statement = connection.prepare(query).unwrap();
    let mut rows = statement
        .query([window.0.timestamp_millis(), window.1.timestamp_millis() + 1])
        .unwrap();
    let (mut count, mut bytes) = (0u64, 0u64);
    while let Some(row) = rows.next().unwrap() {
        let text = row.get_ref(0).unwrap().as_str().unwrap();
        bytes += text.len() as u64;
        count += 1;
    }
    RowsRead {
        time: started.elapsed(),
        rows: count,
        bytes,
    }
}

/// The SELECT the reports read before the report rows existed: whole ticket states.
pub const STATES_QUERY: &str =
    "SELECT state_json FROM tickets WHERE created_at_ms >= ?1 AND created_at_ms < ?2";
