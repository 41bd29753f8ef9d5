//! Checks the harness itself: a nats-server starts, stops, and starts again on the same port
//! with the same store; on a PostgreSQL run (`CLOOP_E2E_STORE=postgres`) every workflow gets a
//! store, one per data folder, and its database goes with the last process that uses it.

use e2e::{NatsServer, ServiceProcess};
use std::net::TcpStream;

#[test]
fn nats_server_starts_stops_and_restarts_on_the_same_port() {
    let mut nats = NatsServer::start();
    let address = nats.address();
    assert!(
        TcpStream::connect(&address).is_ok(),
        "server listens on {address}"
    );
    nats.stop();
    assert!(
        TcpStream::connect(&address).is_err(),
        "stopped server still listens"
    );
    nats.start_again();
    assert!(
        TcpStream::connect(&address).is_ok(),
        "restarted server listens on {address}"
    );
    assert!(
        nats.version().starts_with("2."),
        "version is {}",
        nats.version()
    );
}

/// Whether a database of that URL exists on the test server.
fn database_exists(url: &str) -> bool {
    let name = url.rsplit('/').next().expect("a database name").to_owned();
    let admin = format!("{}/postgres", e2e::postgres_base_url());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin, postgres::NoTls).expect("connect");
        client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .expect("look the database up")
            .is_some()
    })
    .join()
    .expect("lookup thread")
}

#[test]
fn on_postgresql_each_workflow_data_folder_has_one_store_dropped_with_its_last_process() {
    let dir = tempfile::tempdir().expect("temp dir");
    // `--version` exits at once: only the arguments the harness adds matter here.
    let start = |data: &str, log: &str| {
        ServiceProcess::spawn(
            "cloop-workflow",
            &[
                "--version".to_owned(),
                "--data-dir".to_owned(),
                dir.path().join(data).to_string_lossy().into_owned(),
            ],
            &[],
            dir.path().join(log),
        )
    };
    let first = start("a", "a1.log");
    let again = start("a", "a2.log");
    let other = start("b", "b.log");
    if !e2e::on_postgres() {
        assert_eq!(first.store_url(), None);
        assert_eq!(other.store_url(), None);
        return;
    }
    let url = first.store_url().expect("a store on PostgreSQL").to_owned();
    assert!(url.starts_with("postgres://"), "{url}");
    assert_eq!(
        again.store_url(),
        Some(url.as_str()),
        "one store per folder"
    );
    assert_ne!(
        other.store_url(),
        Some(url.as_str()),
        "another folder, another store"
    );
    drop(first);
    assert!(
        database_exists(&url),
        "dropped while a process still uses it"
    );
    drop(again);
    assert!(!database_exists(&url), "left behind after its last process");
    drop(other);
}
