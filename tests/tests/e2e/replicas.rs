//! Three `cloop-workflow` replicas on one PostgreSQL log (`--store postgres://...`, a database
//! of the test's own), one intake and one nats-server, all real processes:
//! - under a steady submission load (with department commands sent to every replica), the
//!   replica that leads (it runs the publisher and the timers) is killed with SIGKILL and
//!   another is restarted with SIGTERM; afterwards every replica lists every acknowledged
//!   submission exactly once, nothing invented, and the log verifies;
//! - the clock is then moved forward so that every open ticket's deadlines pass: the timers
//!   fire, and each warning and breach is recorded once, however many replicas there are;
//! - the publisher's work is taken over: TICKET_EVENTS carries every `received` event.
//!
//! Figures are printed on a line starting with `REPLICAS`.

use crate::support::{tail, wait_for_tickets, Acknowledged, Load, LoadPlan, LoadTargets};
use e2e::{wait_until, PgDatabase, RunningService, ServiceSpec, Staff, TestCluster};
use proto::v1::tickets_client::TicketsClient;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

/// The replica that says last in its log that it leads (and has not died since).
fn leader_of(replicas: &[RunningService]) -> Option<usize> {
    replicas
        .iter()
        .enumerate()
        .filter(|(_, replica)| replica.process.pid().is_some())
        .filter_map(|(index, replica)| {
            let log = replica.process.log();
            let leads = log.rfind("this replica leads")?;
            let lost = log.rfind("lost the connection that holds the lead");
            (lost.is_none_or(|lost| lost < leads)).then_some(index)
        })
        .next()
}

fn write_clock(path: &Path, instant: chrono::DateTime<chrono::Utc>) {
    std::fs::write(path, instant.to_rfc3339()).expect("write the test clock");
}

/// nats-server, one intake and three workflow replicas on one PostgreSQL log (and a key
/// database of their own), all real processes with a test clock.
struct Deployment {
    database: PgDatabase,
    keys_database: PgDatabase,
    cluster: TestCluster,
    started_at: chrono::DateTime<chrono::Utc>,
}

impl Deployment {
    /// A steady load of `total` submissions with department commands (150 a second, over
    /// gRPC and NATS), its commands sent to the replica at `workflow`.
    async fn load(&self, prefix: &str, total: u64, workflow: usize) -> Load {
        let targets = LoadTargets {
            intake: self.cluster.intake().channel(),
            workflow: self.replicas()[workflow].channel(),
            nats_url: self.cluster.nats_url.clone(),
        };
        let plan = LoadPlan {
            prefix: prefix.into(),
            total,
            workers: 8,
            per_second: 150,
            mixed_transports: true,
            commands: true,
        };
        Load::start(targets, plan).await
    }

    fn start() -> Self {
        let database = PgDatabase::create("replicas");
        // The customer keys in a database of their own (`--keys-store`), out of the log's
        // backups.
        let keys_database = PgDatabase::create("replica_keys");
        let started_at = chrono::Utc::now();
        let mut builder = TestCluster::builder()
            .prefix("cloop-replicas-")
            .config(
                "[intake_service]\nnode_id = 7\nmaintenance_interval_ms = 200\n\n\
                 [workflow_service]\ntimer_tick_ms = 200\n\n[nats]\nrequest_timeout_ms = 3000\n",
            )
            .env("CLOOP_LOG", "info")
            .test_clock(started_at.to_rfc3339())
            .intake(ServiceSpec::new());
        for index in 0..3 {
            builder =
                builder.workflow(ServiceSpec::new().name(format!("workflow-{index}")).args([
                    "--store",
                    database.url(),
                    "--keys-store",
                    keys_database.url(),
                ]));
        }
        let cluster = builder.start();
        let deployment = Deployment {
            database,
            keys_database,
            cluster,
            started_at,
        };
        assert!(
            wait_until(Duration::from_secs(20), || leader_of(deployment.replicas())
                .is_some()),
            "no replica took the lead"
        );
        deployment
    }

    /// The three workflow replicas (every service but intake, the first).
    fn replicas(&self) -> &[RunningService] {
        &self.cluster.services()[1..]
    }

    fn replicas_mut(&mut self) -> &mut [RunningService] {
        &mut self.cluster.services_mut()[1..]
    }

    /// All `total` submissions were answered, and every replica lists every acknowledged
    /// ticket exactly once (the logs of all on failure).
    async fn assert_all_listed(&self, acknowledged: &[Acknowledged], total: u64) -> Vec<usize> {
        assert_eq!(
            acknowledged.len(),
            total as usize,
            "every submission answered"
        );
        let mut counts = Vec::new();
        for replica in self.replicas() {
            let channel = replica.channel();
            let (listed, _) =
                wait_for_tickets(&channel, acknowledged, Duration::from_secs(90)).await;
            let (missing, duplicated, unknown) = tally(acknowledged, &listed);
            if (missing, duplicated, unknown) != (0, 0, 0) {
                for (index, replica) in self.replicas().iter().enumerate() {
                    eprintln!(
                        "--- replica {index} at {}:\n{}",
                        replica.address(),
                        tail(&replica.process.log(), 40)
                    );
                }
                panic!(
                    "replica at {} lists {missing} missing, {duplicated} duplicated, {unknown} unknown",
                    replica.address()
                );
            }
            counts.push(listed.len());
        }
        counts
    }

    /// `cloop-workflow --check` on the log in PostgreSQL and replica `index`'s projections.
    fn check(&self, index: usize) -> serde_json::Value {
        let verify = std::process::Command::new(e2e::bin_path("cloop-workflow"))
            .env_remove("FAILPOINTS")
            .args([
                "--check",
                "--store",
                self.database.url(),
                "--keys-store",
                self.keys_database.url(),
                "--data-dir",
                &self.replicas()[index].data_dir().to_string_lossy(),
                "--config",
                &self.cluster.config_path().to_string_lossy(),
            ])
            .output()
            .expect("run cloop-workflow --check");
        let text = String::from_utf8_lossy(&verify.stdout).into_owned();
        serde_json::from_str(text.trim()).unwrap_or_else(|error| {
            panic!(
                "check printed no json ({error}): {text}\n{}",
                String::from_utf8_lossy(&verify.stderr)
            )
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_one_postgresql_log_through_a_kill_and_a_restart() {
    let mut deployment = blocking(Deployment::start);
    let first_leader = leader_of(deployment.replicas()).expect("a leader");

    // A steady load with department commands, sent to a replica that stays up.
    let total = 1_200;
    let survivor = (first_leader + 1) % 3;
    let load = deployment.load("replicas", total, survivor).await;
    assert!(
        load.wait_answered(total as usize / 3, Duration::from_secs(60))
            .await,
        "the load did not get going"
    );
    // SIGKILL the leader a third of the way in.
    blocking(|| deployment.replicas_mut()[first_leader].kill());
    let killed_at = Instant::now();
    assert!(
        blocking(|| wait_until(Duration::from_secs(30), || {
            leader_of(deployment.replicas()).is_some_and(|leader| leader != first_leader)
        })),
        "no replica took over the lead"
    );
    let takeover = killed_at.elapsed();
    let second_leader = leader_of(deployment.replicas()).expect("a new leader");
    // Restart the third replica (neither the dead one nor the new leader) with SIGTERM.
    let restarted = (0..3)
        .find(|index| *index != first_leader && *index != second_leader)
        .expect("a third replica");
    assert!(
        load.wait_answered(total as usize * 2 / 3, Duration::from_secs(60))
            .await
    );
    blocking(|| {
        let replica = &mut deployment.replicas_mut()[restarted];
        replica.terminate(Duration::from_secs(30));
        replica.restart();
    });
    // The killed one comes back too, as a follower now.
    blocking(|| {
        deployment.replicas_mut()[first_leader].restart();
    });
    let (acknowledged, elapsed) = load.run_to_end().await;
    let counts = deployment.assert_all_listed(&acknowledged, total).await;

    // Move the clock a month on: every open ticket's deadlines pass; the leader's timers
    // record each warning and breach, once.
    write_clock(
        &deployment.cluster.clock_path(),
        deployment.started_at + chrono::Duration::days(30),
    );
    let database = &deployment.database;
    let count = |sql: &'static str| -> i64 {
        database.with_client(|client| {
            client
                .query_one(sql, &[])
                .and_then(|row| row.try_get(0))
                .unwrap_or_else(|error| panic!("{sql}: {error}"))
        })
    };
    let breached = "SELECT count(*) FROM events WHERE event_type = 'sla_breached'";
    // Hundreds of tickets fire at once; on a loaded machine that takes more than a minute.
    let settled = blocking(|| {
        wait_until(Duration::from_secs(240), || {
            let before = count(breached);
            std::thread::sleep(Duration::from_secs(2));
            before > 0 && count(breached) == before
        })
    });
    if !settled {
        for (index, replica) in deployment.replicas().iter().enumerate() {
            let log = replica.process.log();
            let lines: Vec<&str> = log
                .lines()
                .filter(|line| {
                    line.contains("lead")
                        || line.contains("timer")
                        || line.contains("\"WARN\"")
                        || line.contains("\"ERROR\"")
                })
                .collect();
            eprintln!(
                "--- replica {index}:\n{}",
                lines[lines.len().saturating_sub(15)..].join("\n")
            );
        }
        panic!("the timers recorded no breach");
    }
    let repeated = count(
        "SELECT count(*) FROM (SELECT stream_id, event_type, payload::jsonb -> 'deadline' \
             FROM events WHERE event_type IN ('sla_warning', 'sla_breached') \
             GROUP BY 1, 2, 3 HAVING count(*) > 1) AS repeats",
    );
    let timer_events =
        count("SELECT count(*) FROM events WHERE event_type IN ('sla_warning', 'sla_breached')");
    assert_eq!(
        repeated, 0,
        "a deadline's warning or breach was recorded twice"
    );

    // The log verifies, on PostgreSQL, after all of it.
    let check = blocking(|| deployment.check(second_leader));
    assert_eq!(check["log_ok"], true, "{check}");
    // The shared ticket table holds what a rebuild from the log holds, up to the head.
    assert_eq!(check["shared_equal"], true, "{check}");
    let events = check["events"].as_u64().unwrap_or(0);

    // The keys are in their own database, none in the log's.
    let keys = deployment.keys_database.with_client(|client| {
        client
            .query_one("SELECT count(*) FROM customer_keys", &[])
            .and_then(|row| row.try_get::<_, i64>(0))
            .expect("count keys")
    });
    assert!(keys > 0, "no customer key in the key database");
    let keys_in_log = count("SELECT count(*) FROM pg_tables WHERE tablename = 'customer_keys'");
    assert_eq!(keys_in_log, 0, "the log's database holds a key table");

    // A command on one replica is seen at once by a read on another.
    let ticket = &acknowledged[0].ticket_id;
    let replica = |index: usize| {
        let channel = deployment.replicas()[index].channel();
        Staff::new(TicketsClient::new(channel), "t-admin")
    };
    let first = replica(survivor).add_note(ticket, "first").await;
    let first = first.expect("note on one replica");
    let other = (survivor + 1) % 3;
    let history = replica(other).history(ticket).await;
    let history = history.expect("history on another replica");
    let first_version = first.version;
    assert!(
        history.iter().any(|event| event.version == first_version),
        "the other replica's history lacks the note just added (version {first_version})"
    );
    // Tickets and lists come from the shared table, which every replica's appends update in
    // their own transaction: a change made on one replica is in another's GetTicket and
    // ListTickets at once, without waiting for that replica's own projections.
    for round in 0..12 {
        let writer = (survivor + round) % 3;
        let reader = (writer + 1 + round % 2) % 3;
        let mut on_reader = replica(reader);
        let text = format!("round {round}");
        let written = replica(writer).add_note(ticket, &text).await;
        let written = written.expect("note on one replica").version;
        let read = on_reader.get(ticket).await;
        let read = read.expect("ticket on another replica").version;
        assert_eq!(
            read, written,
            "round {round}: replica {reader} reads version {read} right after replica \
             {writer} wrote {written}"
        );
        let only = proto::v1::TicketFilter {
            ticket_id: ticket.clone(),
            ..Default::default()
        };
        let listed = on_reader.list(only).await.expect("list on another replica");
        assert_eq!(
            listed
                .iter()
                .map(|ticket| ticket.version)
                .collect::<Vec<_>>(),
            vec![written],
            "round {round}: replica {reader}'s list"
        );
    }

    println!(
        "REPLICAS submissions={total} seconds={:.1} listed={counts:?} missing=0 duplicated=0 \
         unknown=0 leader_takeover_secs={:.1} timer_events={timer_events} repeated_timer_events=0 \
         events={events} log_ok=true",
        elapsed.as_secs_f64(),
        takeover.as_secs_f64(),
    );
    let _ = blocking(|| {
        deployment
            .cluster
            .intake_mut()
            .terminate(Duration::from_secs(10))
    });
}

/// Every session of the replicas to PostgreSQL is cut (`pg_terminate_backend`: the log's
/// writer, follower and readers, the key store, the leader's lock, the publisher), twice,
/// under load: every replica reconnects, a leader leads again, nothing acknowledged is lost
/// or doubled, and the log verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_ride_out_their_postgresql_sessions_being_cut_under_load() {
    let deployment = blocking(Deployment::start);
    let total = 900;
    let load = deployment.load("pgcut", total, 0).await;
    let cut = |label: &str| -> i64 {
        let name = deployment
            .database
            .url()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let keys = deployment
            .keys_database
            .url()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let cut = deployment.database.with_client(move |client| {
            client
                .query_one(
                    "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM \
                     pg_stat_activity WHERE datname IN ($1, $2) AND pid <> pg_backend_pid()) \
                     AS cut",
                    &[&name, &keys],
                )
                .and_then(|row| row.try_get::<_, i64>(0))
                .expect("terminate the replicas' sessions")
        });
        eprintln!("{label}: {cut} sessions cut");
        cut
    };
    let mut sessions_cut = 0;
    for (round, share) in [(1, 3), (2, 3)] {
        assert!(
            load.wait_answered(total as usize * round / share, Duration::from_secs(60))
                .await,
            "the load stalled before cut {round}"
        );
        sessions_cut += blocking(|| cut(&format!("cut {round}")));
    }
    let (acknowledged, elapsed) = load.run_to_end().await;
    let counts = deployment.assert_all_listed(&acknowledged, total).await;
    assert!(
        blocking(
            || wait_until(Duration::from_secs(20), || leader_of(deployment.replicas())
                .is_some())
        ),
        "no replica leads after the cuts"
    );
    let check = blocking(|| deployment.check(0));
    assert_eq!(check["log_ok"], true, "{check}");
    // The shared ticket table holds what a rebuild from the log holds, up to the head.
    assert_eq!(check["shared_equal"], true, "{check}");
    assert!(sessions_cut >= 6, "only {sessions_cut} sessions were cut");
    println!(
        "REPLICAS_PG_CUT submissions={total} seconds={:.1} sessions_cut={sessions_cut} \
         listed={counts:?} missing=0 duplicated=0 unknown=0 events={} log_ok=true",
        elapsed.as_secs_f64(),
        check["events"],
    );
}

/// Missing, duplicated and unknown tickets of a listing.
fn tally(acknowledged: &[Acknowledged], listed: &[proto::v1::Ticket]) -> (usize, usize, usize) {
    let answered: HashMap<&str, &Acknowledged> = acknowledged
        .iter()
        .map(|answer| (answer.ticket_id.as_str(), answer))
        .collect();
    let mut seen = HashSet::new();
    let mut duplicated = 0;
    let mut unknown = 0;
    let mut per_submission: HashMap<&str, HashSet<&str>> = HashMap::new();
    for ticket in listed {
        if !seen.insert(ticket.ticket_id.as_str()) {
            duplicated += 1;
        }
        per_submission
            .entry(ticket.external_id.as_str())
            .or_default()
            .insert(ticket.ticket_id.as_str());
        if !answered.contains_key(ticket.ticket_id.as_str()) {
            unknown += 1;
        }
    }
    duplicated += per_submission
        .values()
        .map(|tickets| tickets.len().saturating_sub(1))
        .sum::<usize>();
    let missing = answered
        .keys()
        .filter(|ticket_id| !seen.contains(*ticket_id))
        .count();
    (missing, duplicated, unknown)
}
