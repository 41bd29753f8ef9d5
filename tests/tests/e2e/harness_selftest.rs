//! Checks the harness itself: a nats-server starts, stops, and starts again on the same port
//! with the same store; on a PostgreSQL run (`CLOOP_E2E_STORE=postgres`) every workflow gets a
//! store, one per data folder, and its database goes with the last process that uses it; and
//! a process whose port another process took before it could bind it (provoked here by
//! holding a listener on the port the harness hands out next) starts on a fresh one, while a
//! restart keeps its address and a port the scenario fixed stays fixed.

use e2e::ports::{free_port, hand_out_next};
use e2e::tls_postgres::TlsPostgres;
use e2e::{web_submission, NatsCluster, NatsServer, ServiceProcess, ServiceSpec, TestCluster};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A listener on a port of the kernel's choosing, held for the test: the port the harness is
/// made to collide with.
fn taken_port() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a port to hold");
    let port = listener.local_addr().expect("its address").port();
    (listener, port)
}

/// The port of a `host:port`.
fn port_of(address: &str) -> u16 {
    address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {address}"))
}

#[test]
fn free_ports_are_never_handed_out_twice_and_lie_outside_the_ephemeral_range() {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .expect("the kernel's ephemeral range");
    let bounds: Vec<u16> = range
        .split_whitespace()
        .map(|bound| bound.parse().expect("a port"))
        .collect();
    let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
    let mut distinct = ports.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), ports.len(), "a port handed out twice");
    for port in ports {
        assert!(
            !(bounds[0]..=bounds[1]).contains(&port),
            "{port} is in the ephemeral range {range}"
        );
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "{port} is not free"
        );
    }
}

#[test]
fn a_nats_server_whose_port_is_taken_starts_on_a_fresh_one_and_restarts_there() {
    let (_held, taken) = taken_port();
    hand_out_next(&[taken]);
    let mut nats = NatsServer::start();
    assert_ne!(nats.port(), taken, "started on the port that was taken");
    let log = std::fs::read_to_string(nats.store_dir().join("nats-server.log"))
        .expect("the nats-server log");
    assert!(
        e2e::ports::address_in_use(&log),
        "the first start did not collide:\n{log}"
    );
    let address = nats.address();
    nats.kill();
    nats.start_again();
    assert_eq!(nats.address(), address, "a restart moved");
    assert!(
        TcpStream::connect(&address).is_ok(),
        "restarted on {address}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_whose_ports_are_taken_start_on_fresh_ones_and_restart_on_them() {
    let nats = NatsServer::start();
    let (_held_listen, taken_listen) = taken_port();
    let (_held_metrics, taken_metrics) = taken_port();
    let (intake_metrics, workflow_listen) = (free_port(), free_port());
    let fixed = format!("127.0.0.1:{workflow_listen}");
    // intake's --listen is taken; workflow's --listen is the scenario's own, its metrics
    // port is taken.
    hand_out_next(&[taken_listen, intake_metrics, taken_metrics]);
    let mut cluster = tokio::task::block_in_place(|| {
        TestCluster::builder()
            .nats_server(nats)
            .intake(ServiceSpec::new().metrics())
            .workflow(ServiceSpec::new().listen(fixed.clone()).metrics())
            .start()
    });
    for service in ["intake", "workflow"] {
        let log = cluster.get(service).log();
        assert!(
            e2e::ports::address_in_use(&log),
            "the first start of {service} did not collide:\n{log}"
        );
    }
    assert_ne!(port_of(cluster.intake().address()), taken_listen);
    assert_eq!(cluster.workflow().address(), fixed, "a fixed address moved");
    assert_ne!(port_of(cluster.workflow().metrics_address()), taken_metrics);
    for address in [
        cluster.intake().metrics_address(),
        cluster.workflow().metrics_address(),
    ] {
        assert!(
            TcpStream::connect(address).is_ok(),
            "no metrics at {address}"
        );
    }
    // A ticket goes through both, before and after intake is killed and started again.
    let address = cluster.intake().address().to_owned();
    for (round, external_id) in ["before", "after"].into_iter().enumerate() {
        if round == 1 {
            tokio::task::block_in_place(|| {
                cluster.intake_mut().kill();
                cluster.intake_mut().restart();
            });
            assert_eq!(cluster.intake().address(), address, "a restart moved");
        }
        let ticket = cluster
            .submit_as("t-adapter", web_submission(external_id, "APP卡顿"))
            .await;
        cluster
            .wait_ticket(&ticket, "t-admin", Duration::from_secs(30), |_| true)
            .await;
    }
}

#[test]
fn a_nats_cluster_whose_port_is_taken_starts_on_fresh_ones() {
    let (_held, taken) = taken_port();
    // The first port the cluster asks for is node 1's client port.
    hand_out_next(&[taken]);
    let cluster = NatsCluster::start(3);
    assert!(
        !cluster.url(0).ends_with(&format!(":{taken}")),
        "started on the port that was taken: {}",
        cluster.url(0)
    );
}

#[test]
fn a_tls_postgres_whose_port_is_taken_starts_on_a_fresh_one() {
    let (_held, taken) = taken_port();
    hand_out_next(&[taken]);
    let postgres = TlsPostgres::start();
    assert_ne!(postgres.port, taken, "started on the port that was taken");
    assert!(
        TcpStream::connect(("127.0.0.1", postgres.port)).is_ok(),
        "postgres listens on {}",
        postgres.port
    );
}

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
