//! What the workflow's tests and benchmarks set up alike: the log, key store and readers of a
//! data folder, the command side over them, and `FeedbackReceived` messages as intake
//! publishes them. Benchmarks include it with `#[path = "../tests/support/mod.rs"]`.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use domain::ids::{FeedbackId, TicketId, TicketIdGenerator};
use domain::Rules;
use prost::Message as _;
use proto::v1;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use workflow::clock::{Clock, TestClock};
use workflow::commands::Commands;
use workflow::metrics::WorkflowMetrics;
use workflow::queries::Readers;

/// A Wednesday morning in Beijing, inside working hours: where the tests' clocks start.
pub fn start_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 18, 2, 0, 0)
        .single()
        .expect("a valid instant")
}

/// The `FeedbackReceived` message of `submission`, received at `at`.
pub fn feedback(
    feedback_id: FeedbackId,
    ticket_id: &TicketId,
    at: DateTime<Utc>,
    submission: v1::Submission,
) -> v1::FeedbackReceived {
    v1::FeedbackReceived {
        feedback_id: feedback_id.to_string(),
        ticket_id: ticket_id.to_string(),
        received_at: Some(prost_types::Timestamp {
            seconds: at.timestamp(),
            nanos: 0,
        }),
        submission: Some(submission),
        ..Default::default()
    }
}

/// The same with a fresh random feedback id.
pub fn feedback_at(
    ticket_id: &TicketId,
    at: DateTime<Utc>,
    submission: v1::Submission,
) -> v1::FeedbackReceived {
    feedback(
        FeedbackId::new(at, rand::random()),
        ticket_id,
        at,
        submission,
    )
}

/// The `FeedbackReceived` message (encoded) of `submission` as ticket `ticket_id` received
/// at `at`, and the sealed append requests that record it, as the consumer makes them.
pub fn sealed_receipt(
    vault: &vault::Vault,
    rules: &Rules,
    ticket_id: &TicketId,
    at: DateTime<Utc>,
    submission: v1::Submission,
) -> (Vec<u8>, Vec<eventlog::AppendRequest>) {
    let message = feedback_at(ticket_id, at, submission).encode_to_vec();
    let (request, _) = workflow::consumer::receive_request(&message, at, rules)
        .expect("a message that can be recorded");
    let mut requests = vec![request];
    workflow::consumer::seal_requests(vault, &mut requests).expect("sealed");
    (message, requests)
}

/// A SQLite log with its projections in `directory` (`workflow.db`) and the key store next
/// to it; returns the log file's path too.
pub fn open_sqlite(
    directory: &Path,
    rules: &Arc<Rules>,
) -> (PathBuf, Arc<vault::Vault>, eventlog::EventLog) {
    let path = directory.join(workflow::DATABASE_FILE);
    let vault = workflow::open_vault(directory).expect("open the key store");
    let log = workflow::open_log(
        &path,
        rules.clone(),
        eventlog::Synchronous::Normal,
        vault.clone(),
    )
    .expect("open the log");
    (path, vault, log)
}

/// The log and key store `url` names (SQLite or PostgreSQL), with this replica's projections
/// in `directory`.
pub fn open_store(
    url: &str,
    directory: &Path,
    rules: &Arc<Rules>,
) -> (Arc<vault::Vault>, eventlog::EventLog) {
    let store = eventlog::StoreUrl::parse(url).expect("a store url");
    let vault = workflow::open_store_vault(&store, None, directory).expect("open the key store");
    let log = workflow::open_store_log(
        &store,
        directory,
        rules.clone(),
        eventlog::Synchronous::Normal,
        vault.clone(),
    )
    .expect("open the log");
    (vault, log)
}

/// The command side over `log` and `readers`, on `clock`.
pub fn commands(
    log: &eventlog::EventLog,
    readers: &Readers,
    rules: &Arc<Rules>,
    clock: Arc<dyn Clock>,
    vault: &Arc<vault::Vault>,
    metrics: WorkflowMetrics,
) -> Commands {
    Commands {
        log: log.clone(),
        readers: readers.clone(),
        rules: rules.clone(),
        clock,
        metrics,
        retries: 16,
        vault: vault.clone(),
    }
}

/// The projections rebuilt from the whole log in memory.
pub fn rebuilt_in_memory(
    log: &eventlog::EventLog,
    rules: &Arc<Rules>,
    vault: &Arc<vault::Vault>,
) -> rusqlite::Connection {
    let mut memory = rusqlite::Connection::open_in_memory().expect("an in-memory database");
    workflow::projections::rebuild(&mut memory, log, rules.clone(), vault.clone())
        .expect("rebuild the projections");
    memory
}

/// A workflow core without NATS on a SQLite data folder: the log, key store, readers and
/// commands on a test clock starting at [`start_instant`], and the ticket ids of the messages
/// it makes.
pub struct Harness {
    pub directory: tempfile::TempDir,
    pub log: eventlog::EventLog,
    pub vault: Arc<vault::Vault>,
    pub commands: Commands,
    pub readers: Readers,
    pub rules: Arc<Rules>,
    pub clock: TestClock,
    pub ids: TicketIdGenerator,
    pub metrics: WorkflowMetrics,
}

impl Harness {
    pub fn new(rules: Rules) -> Self {
        let directory = tempfile::tempdir().expect("a temporary folder");
        let rules = Arc::new(rules);
        let (path, vault, log) = open_sqlite(directory.path(), &rules);
        let clock = TestClock::new(start_instant());
        let readers = Readers::new(&path);
        let metrics = WorkflowMetrics::new().expect("metrics");
        let commands = commands(
            &log,
            &readers,
            &rules,
            Arc::new(clock.clone()),
            &vault,
            metrics.clone(),
        );
        Self {
            directory,
            log,
            vault,
            commands,
            readers,
            rules,
            clock,
            ids: TicketIdGenerator::new(7),
            metrics,
        }
    }

    /// A `FeedbackReceived` message from `customer` on the web channel, as intake publishes
    /// it now; returns its ticket id too.
    pub fn web_message(&mut self, customer: v1::Customer, content: &str) -> (Vec<u8>, TicketId) {
        let now = self.clock.now();
        let ticket_id = self.ids.next(now);
        let message = feedback_at(
            &ticket_id,
            now,
            v1::Submission {
                channel: "web".into(),
                customer: Some(customer),
                content: content.into(),
                ..Default::default()
            },
        );
        (message.encode_to_vec(), ticket_id)
    }

    /// Records `payloads` as the consumer does (sealed); whether each was a duplicate.
    pub async fn record(&self, payloads: &[Vec<u8>]) -> Vec<bool> {
        let mut requests: Vec<_> = payloads
            .iter()
            .map(|payload| {
                workflow::consumer::receive_request(payload, self.clock.now(), &self.rules)
                    .expect("a message that can be recorded")
                    .0
            })
            .collect();
        workflow::consumer::seal_requests(&self.vault, &mut requests).expect("sealed");
        self.log
            .append_many(requests)
            .await
            .into_iter()
            .map(|result| result.expect("appended").duplicate)
            .collect()
    }
}

/// The report rows of `connection`'s projections, `(seq, created_at_ms, facts)` in `seq`
/// order.
pub fn report_rows(connection: &rusqlite::Connection) -> Vec<(i64, i64, String)> {
    connection
        .prepare("SELECT seq, created_at_ms, facts FROM report_rows ORDER BY seq")
        .expect("read the report rows")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("read the report rows")
        .collect::<Result<_, _>>()
        .expect("read the report rows")
}

/// Every ticket of `connection`'s projections has the report row its `state_json` makes,
/// and there is no other report row.
pub fn assert_report_rows_follow_states(connection: &rusqlite::Connection) {
    let expected: Vec<(i64, i64, String)> = connection
        .prepare("SELECT seq, created_at_ms, state_json FROM tickets ORDER BY seq")
        .expect("read the tickets")
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get::<_, String>(2)?))
        })
        .expect("read the tickets")
        .map(|row| {
            let (seq, created_at_ms, json) = row.expect("a ticket row");
            let ticket: domain::Ticket = serde_json::from_str(&json).expect("a stored ticket");
            let facts = reports::ReportRow::json_of(&ticket).expect("a report row");
            (seq, created_at_ms, facts)
        })
        .collect();
    assert!(!expected.is_empty(), "no tickets to compare");
    assert_eq!(report_rows(connection), expected);
}
