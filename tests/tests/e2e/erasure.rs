//! End-to-end erasure of a customer's personal data: two tickets of one customer submitted
//! at a real `cloop-intake`, recorded by a real `cloop-workflow` (customer sealed in the log,
//! opened in the projections), then `cloop customer erase` as an admin. Afterwards the
//! customer's name, phone, e-mail and customer id appear nowhere: not in GetTicket,
//! ListTickets, GetHistory, ReadEvents, `cloop log export`, the projection tables, the raw
//! bytes of `workflow.db`, nor a `cloop log replay` with the key store; and the log still
//! verifies. Before the erasure the same checks find the canaries where they belong, so the
//! test shows the erasure did it.

use crate::support::{assert_ok, read_from_start, text};
use e2e::{
    fetch_history, fetch_ticket, principal, principals_file, Principal, ServiceSpec, Staff,
    TestCluster,
};
use futures::StreamExt;
use proto::v1;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const NAME: &str = "CanaryNameZhao";
const PHONE: &str = "+8613912345678";
const EMAIL: &str = "canary.zhao@example.cn";
const CUSTOMER_ID: &str = "cust-canary-7";
const CANARIES: [&str; 4] = [NAME, PHONE, EMAIL, CUSTOMER_ID];

/// The principals of this test.
const PRINCIPALS: &[Principal] = &[
    principal("t-adapter", "web-form", "adapter"),
    principal("t-auditor", "checker", "auditor"),
    principal("t-admin", "root", "admin"),
];

fn data(services: &TestCluster, file: &str) -> PathBuf {
    services.workflow().data_dir().join(file)
}

/// The SQLite file of the projections: `workflow.db`, or `projections.db` when the log is
/// in PostgreSQL.
fn projections_file(services: &TestCluster) -> PathBuf {
    match services.workflow().store_url() {
        Some(_) => data(services, "projections.db"),
        None => data(services, "workflow.db"),
    }
}

/// Everything the workflow stores, as bytes to search: its SQLite file (with the WAL); on
/// PostgreSQL also every row of every table of its database as text (`bytea` shows as
/// hex there, so [`canaries_in_stored`] looks for the hex form too).
fn stored_bytes(services: &TestCluster) -> Vec<u8> {
    let mut bytes = database_bytes(&projections_file(services));
    let rows = services.workflow().with_store_client(|client| {
        let tables = client
            .query(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .expect("list the tables");
        let mut text = String::new();
        for table in tables {
            let table: String = table.get(0);
            for row in client
                .query(
                    &format!("SELECT row_to_json(t)::text FROM \"{table}\" t"),
                    &[],
                )
                .expect("read a table")
            {
                text.push_str(&row.get::<_, String>(0));
                text.push('\n');
            }
        }
        text
    });
    if let Some(rows) = rows {
        bytes.extend(rows.into_bytes());
    }
    bytes
}

async fn get_ticket(services: &TestCluster, ticket_id: &str) -> v1::Ticket {
    fetch_ticket(
        &mut services.tickets_connected().await,
        ticket_id,
        "t-admin",
    )
    .await
    .expect("get ticket")
    .into_inner()
    .ticket
    .expect("ticket")
}

/// Polls until the workflow has the ticket.
async fn wait_recorded(services: &TestCluster, ticket_id: &str) -> v1::Ticket {
    let timeout = Duration::from_secs(30);
    services
        .wait_ticket(ticket_id, "t-admin", timeout, |_| true)
        .await
}

/// Everything the services show about the customer, as one text: GetTicket and
/// GetHistory of both tickets, ListTickets, ReadEvents of the whole log.
async fn everything_shown(services: &TestCluster, ticket_ids: &[String]) -> String {
    let mut shown = String::new();
    let mut tickets = services.tickets_connected().await;
    for ticket_id in ticket_ids {
        shown.push_str(&format!("{:?}\n", get_ticket(services, ticket_id).await));
        let history = fetch_history(&mut tickets, ticket_id, "t-admin")
            .await
            .expect("history")
            .into_inner();
        shown.push_str(&format!("{history:?}\n"));
    }
    let mut admin = Staff::new(tickets, "t-admin");
    let list = admin.page(100).await.expect("list");
    assert_eq!(list.tickets.len(), ticket_ids.len());
    shown.push_str(&format!("{list:?}\n"));
    shown.push_str(&read_events(services).await);
    shown
}

async fn read_events(services: &TestCluster) -> String {
    let mut audit = services.audit_connected().await;
    let mut stream = read_from_start(&mut audit, "t-auditor", false)
        .await
        .expect("read events");
    let mut text = String::new();
    while let Some(item) = stream.next().await {
        text.push_str(&format!("{:?}\n", item.expect("row")));
    }
    text
}

/// The text of every projection table, read with SQL on the service's database file.
fn projection_text(services: &TestCluster) -> String {
    let connection = rusqlite::Connection::open_with_flags(
        projections_file(services),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the projections");
    let mut text = String::new();
    for query in [
        "SELECT ticket_id || '|' || ifnull(customer_id, '') || '|' || state_json FROM tickets",
        "SELECT content || '|' || product || '|' || order_id || '|' || keywords FROM tickets_fts",
        "SELECT key_id || '|' || ticket_id FROM ticket_keys",
    ] {
        let mut statement = connection.prepare(query).expect("prepare");
        let rows = statement
            .query_map([], |row| row.get::<_, String>(0))
            .expect("query");
        for row in rows {
            text.push_str(&row.expect("row"));
            text.push('\n');
        }
    }
    text
}

/// The canaries found in `haystack`.
fn canaries_in(haystack: &[u8]) -> Vec<&'static str> {
    CANARIES
        .iter()
        .copied()
        .filter(|canary| {
            haystack
                .windows(canary.len())
                .any(|window| window == canary.as_bytes())
        })
        .collect()
}

/// The canaries found in what a workflow stores, in clear or hex-encoded (how PostgreSQL
/// shows `bytea`).
fn canaries_in_stored(stored: &[u8]) -> Vec<&'static str> {
    let lower = String::from_utf8_lossy(stored).to_lowercase();
    let in_clear = canaries_in(stored);
    CANARIES
        .iter()
        .copied()
        .filter(|canary| {
            in_clear.contains(canary) || lower.contains(&hex::encode(canary.as_bytes()))
        })
        .collect()
}

/// The bytes of a SQLite database file and its WAL.
fn database_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).expect("read the database file");
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(more) = std::fs::read(PathBuf::from(wal)) {
        bytes.extend(more);
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customer_appears_nowhere_and_the_log_still_verifies() {
    let services = TestCluster::builder()
        .prefix("cloop-erasure-e2e-")
        .tokens(principals_file(PRINCIPALS))
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();
    let mut ticket_ids = Vec::new();
    // Once with every identifier, once with only the e-mail address (another key).
    for (external_id, customer) in [
        (
            "erasure-1",
            v1::Customer {
                customer_id: CUSTOMER_ID.into(),
                name: NAME.into(),
                phone: PHONE.into(),
                email: EMAIL.into(),
                ..Default::default()
            },
        ),
        (
            "erasure-2",
            v1::Customer {
                name: NAME.into(),
                email: EMAIL.into(),
                ..Default::default()
            },
        ),
    ] {
        let request = v1::SubmitRequest {
            customer: Some(customer),
            ..e2e::web_submission(external_id, "APP卡顿，下单后一直转圈")
        };
        ticket_ids.push(services.submit_as("t-adapter", request).await);
    }
    for ticket_id in &ticket_ids {
        wait_recorded(&services, ticket_id).await;
    }
    let first = &ticket_ids[0];
    let keys = data(&services, "keys.db");
    let [source_flag, source] = services.log_source();
    let keys_text = keys.to_string_lossy().into_owned();

    // Before: the services show the customer, the projections hold it in clear, the log
    // and its export hold it only sealed, and a replay with the key store opens it.
    let before = everything_shown(&services, &ticket_ids).await;
    assert_eq!(canaries_in(before.as_bytes()), CANARIES.to_vec());
    assert!(canaries_in(read_events(&services).await.as_bytes()).is_empty());
    assert_eq!(
        canaries_in(projection_text(&services).as_bytes()),
        CANARIES.to_vec()
    );
    let export = services.cloop("t-admin", &["log", "export", &source_flag, &source]);
    assert_ok(&export, "log export before the erasure");
    assert!(
        canaries_in(&export.stdout).is_empty(),
        "the export is sealed"
    );
    // The key store: keys.db, or on PostgreSQL the log's own database.
    let mut replay_args = vec!["log", "replay", source_flag.as_str(), source.as_str()];
    match services.workflow().store_url() {
        Some(url) => replay_args.extend(["--keys-store", url]),
        None => replay_args.extend(["--keys", keys_text.as_str()]),
    }
    replay_args.extend(["--ticket", first.as_str()]);
    let replay = services.cloop("t-admin", &replay_args);
    assert_ok(&replay, "log replay before the erasure");
    assert!(canaries_in(&replay.stdout).contains(&PHONE));

    // An auditor may not erase (the same command without --json); an admin may.
    let erase = [
        "--json",
        "customer",
        "erase",
        "--ticket",
        first,
        "--reason",
        "privacy request 17",
    ];
    let refused = services.cloop("t-auditor", &erase[1..]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused.stderr));
    let erased = services.cloop("t-admin", &erase);
    assert_ok(&erased, "customer erase");
    let answer: serde_json::Value = serde_json::from_slice(&erased.stdout).expect("json");
    assert_eq!(answer["tickets_affected"], 2, "{answer}");
    assert_eq!(answer["ticket_ids"], serde_json::json!(ticket_ids));

    // After: nowhere.
    let after = everything_shown(&services, &ticket_ids).await;
    assert_eq!(canaries_in(after.as_bytes()), Vec::<&str>::new());
    assert!(
        after.contains(r#"\"erased\":true"#),
        "GetHistory marks the erasure"
    );
    for ticket_id in &ticket_ids {
        let ticket = get_ticket(&services, ticket_id).await;
        assert_eq!(ticket.customer.unwrap_or_default(), v1::Customer::default());
    }
    assert_eq!(
        canaries_in(projection_text(&services).as_bytes()),
        Vec::<&str>::new()
    );
    // The erasure truncates the log's WAL; give a busy reader a moment to let it finish.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut left = canaries_in_stored(&stored_bytes(&services));
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = canaries_in_stored(&stored_bytes(&services));
    }
    assert_eq!(
        left,
        Vec::<&str>::new(),
        "plaintext left in what the workflow stores"
    );
    let export = services.cloop("t-admin", &["log", "export", &source_flag, &source]);
    assert_ok(&export, "log export after the erasure");
    assert!(canaries_in(&export.stdout).is_empty());
    assert!(text(&export.stdout).contains("customer_erased"));
    let verify = services.cloop("t-admin", &["log", "verify", &source_flag, &source]);
    assert_ok(&verify, "log verify after the erasure");
    assert!(
        text(&verify.stdout).starts_with("ok:"),
        "{}",
        text(&verify.stdout)
    );
    let export_file = services.dir.path().join("export.jsonl");
    let export_path = export_file.to_string_lossy().into_owned();
    assert_ok(
        &services.cloop(
            "t-admin",
            &[
                "log",
                "export",
                &source_flag,
                &source,
                "--output",
                &export_path,
            ],
        ),
        "log export to a file",
    );
    assert_ok(
        &services.cloop("t-admin", &["log", "verify-export", &export_path]),
        "the export verifies after the erasure",
    );
    let replay = services.cloop("t-admin", &replay_args);
    assert_ok(&replay, "log replay after the erasure");
    assert_eq!(canaries_in(&replay.stdout), Vec::<&str>::new());
    assert!(text(&replay.stdout).contains("\"customer_erased\": true"));
}
