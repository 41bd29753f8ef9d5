//! The set-up the report benchmarks share: the peak memory of a process, one real
//! submission, so that the log and the projections have a position to judge the report at,
//! and the synthetic tickets written straight into the projections.

use chrono::Utc;
use domain::ids::{FeedbackId, TicketIdGenerator};
use prost::Message;
use proto::v1;
use std::path::Path;
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
