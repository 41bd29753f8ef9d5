//! The services on the three-node JetStream cluster of `deploy/nats/` (started from the
//! committed files, see [`e2e::NatsCluster`]), with both streams at `replicas: 3`:
//! - a steady submission load over gRPC and NATS request/reply while the leader of stream
//!   FEEDBACK is killed with SIGKILL and later started again; the fault suite's checker then
//!   finds every acknowledged submission exactly once as a ticket, nothing invented, and the
//!   log and projections sound. The figures are printed on a line starting with `FAULTS`
//!   (`docs/reliability.md` records them).
//! - streams that exist with another replica count are updated to the configured one, and a
//!   count the cluster cannot hold gives a clear error.

use crate::support::{
    check_outcome, metric, settle_time, soak, start_pair_on, tail, targets, transports_line,
    Acknowledged, Load, LoadPlan, PairOptions, START_TIMEOUT,
};
use async_nats::jetstream;
use e2e::{wait_until, NatsCluster};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs blocking harness work (process starts poll with short sleeps) without holding up the
/// load's tasks on the other runtime thread.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

/// The replica count of `stream` as JetStream reports it (0 when it cannot be read).
async fn stream_replicas(urls: &str, stream: &str) -> usize {
    let Ok(servers) = service::nats::server_addresses(urls) else {
        return 0;
    };
    let Ok(client) = async_nats::connect(servers).await else {
        return 0;
    };
    let context = jetstream::new(client);
    let Ok(mut stream) = context.get_stream(stream).await else {
        return 0;
    };
    stream
        .info()
        .await
        .map(|info| info.config.num_replicas)
        .unwrap_or(0)
}

/// Waits until `stream` exists with `replicas` replicas.
async fn wait_stream_replicas(
    urls: &str,
    stream: &str,
    replicas: usize,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if stream_replicas(urls, stream).await == replicas {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// The pair's options on the cluster: both streams at three replicas (from
/// `CLOOP_STREAM_REPLICAS`, as a deployment sets it).
fn cluster_options(replicas: usize) -> PairOptions {
    PairOptions {
        intake: "confirm_timeout_secs = 20".into(),
        workflow: "ack_wait_secs = 5\nbackoff_ms = [200, 1000]".into(),
        envs: vec![("CLOOP_STREAM_REPLICAS".into(), replicas.to_string())],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feedback_stream_leader_killed_under_load_loses_nothing_and_duplicates_nothing() {
    let (total, per_second) = if soak() {
        (10_000u64, 200)
    } else {
        (2_000u64, 100)
    };
    let cluster = blocking(|| NatsCluster::start(3));
    let urls = cluster.urls();
    let mut pair = blocking(|| start_pair_on(cluster, cluster_options(3)));
    for stream in [proto::FEEDBACK_STREAM, proto::TICKET_EVENTS_STREAM] {
        assert!(
            wait_stream_replicas(&urls, stream, 3, START_TIMEOUT).await,
            "stream {stream} not at 3 replicas:\n{}",
            tail(&pair.intake().log(), 30)
        );
    }
    let load = Load::start(
        targets(&pair),
        LoadPlan {
            prefix: "cluster".into(),
            total,
            workers: 6,
            per_second,
            mixed_transports: true,
            commands: false,
        },
    )
    .await;

    // A third of the way in, SIGKILL the node that leads FEEDBACK (where every publish is
    // stored first): the others must elect a new leader and go on without losing an ack.
    assert!(
        load.wait_answered(total as usize / 3, Duration::from_secs(300))
            .await,
        "the load stalled before the kill:\n{}",
        tail(&pair.intake().log(), 30)
    );
    let leader = blocking(|| {
        let mut leader = None;
        wait_until(Duration::from_secs(30), || {
            leader = pair.nats_cluster().stream_leader(proto::FEEDBACK_STREAM);
            leader.is_some()
        });
        leader
    })
    .expect("FEEDBACK has a leader");
    let killed_name = pair.nats_cluster().name(leader).to_owned();
    let sampler = Sampler::start(
        load.acknowledged.clone(),
        pair.intake().metrics_address().to_owned(),
    );
    let answered_at_kill = load.answered();
    let killed_at = Instant::now();
    blocking(|| pair.nats_cluster_mut().kill(leader));

    // Recovery: a new FEEDBACK leader, and the load acknowledged again.
    let new_leader = blocking(|| {
        let mut new_leader = None;
        wait_until(Duration::from_secs(120), || {
            new_leader = pair
                .nats_cluster()
                .stream_leader(proto::FEEDBACK_STREAM)
                .filter(|index| *index != leader);
            new_leader.is_some()
        });
        new_leader
    });
    let new_leader_after = killed_at.elapsed();
    let new_leader = new_leader.unwrap_or_else(|| {
        panic!(
            "no new FEEDBACK leader within 120 s of killing {killed_name}:\n{}",
            pair.nats_cluster().logs()
        )
    });
    // The two remaining nodes carry the whole path: intake publishes again and the workflow
    // confirms 200 more submissions before the killed node returns.
    let confirmed = || {
        metric(
            pair.intake().metrics_address(),
            "cloop_intake_confirmed_total",
        )
        .unwrap_or(0.0)
    };
    let confirmed_at_new_leader = confirmed();
    let deadline = Instant::now() + Duration::from_secs(120);
    while confirmed() < confirmed_at_new_leader + 200.0 {
        assert!(
            Instant::now() < deadline,
            "nothing confirmed on two nodes within 120 s of killing {killed_name}:\n{}",
            tail(&pair.intake().log(), 30)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let confirming_again_after = killed_at.elapsed();

    // Two thirds of the way in (or later), the killed node comes back and catches up (as the stream
    // leader reports its replicas) while the load goes on.
    assert!(
        load.wait_answered(total as usize * 2 / 3, Duration::from_secs(300))
            .await,
        "the load stalled on two nodes:\n{}",
        tail(&pair.intake().log(), 30)
    );
    let down = killed_at.elapsed();
    blocking(|| pair.nats_cluster_mut().restart(leader));
    let restarted_at = Instant::now();
    // Caught up: the restarted node's copy reaches the last sequence the leader had when it
    // came back.
    let caught_up = blocking(|| {
        let mut target = None;
        wait_until(Duration::from_secs(120), || {
            if target.is_none() {
                target = pair
                    .nats_cluster()
                    .stream_leader(proto::FEEDBACK_STREAM)
                    .and_then(|index| feedback_state(pair.nats_cluster(), index))
                    .map(|(_, last_seq)| last_seq);
            }
            target.is_some_and(|target| {
                feedback_state(pair.nats_cluster(), leader)
                    .is_some_and(|(_, last_seq)| last_seq >= target)
            })
        })
    });
    let caught_up_after = restarted_at.elapsed();
    let samples = sampler.stop().await;
    let (acknowledged, elapsed) = load.run_to_end().await;

    let mut figures = check_outcome(&mut pair, "nats_cluster", &acknowledged, settle_time()).await;
    // With the services stopped, every node holds the same copy of FEEDBACK.
    let mut copies = Vec::new();
    let same_copies = blocking(|| {
        wait_until(Duration::from_secs(60), || {
            copies = (0..pair.nats_cluster().size())
                .map(|index| feedback_state(pair.nats_cluster(), index))
                .collect();
            copies
                .iter()
                .all(|copy| copy.is_some() && *copy == copies[0])
        })
    });
    figures.add(
        "feedback_copies",
        copies
            .iter()
            .map(|copy| copy.map_or("?".to_owned(), |(messages, _)| messages.to_string()))
            .collect::<Vec<_>>()
            .join("/"),
    );
    figures.add("submitted", total);
    figures.add("nodes", 3);
    figures.add("replicas", 3);
    figures.add("killed", format!("{killed_name}(FEEDBACK leader)"));
    figures.add("killed_at_answer", answered_at_kill);
    figures.add("new_leader", pair.nats_cluster().name(new_leader));
    figures.add(
        "new_leader_secs",
        format!("{:.1}", new_leader_after.as_secs_f64()),
    );
    figures.add(
        "confirming_on_two_secs",
        format!("{:.1}", confirming_again_after.as_secs_f64()),
    );
    figures.add("node_down_secs", format!("{:.1}", down.as_secs_f64()));
    for (name, series) in [
        ("answer_stall_secs", 0),
        ("publish_stall_secs", 1),
        ("confirm_stall_secs", 2),
    ] {
        let stall = longest_stall(&samples, series, killed_at, restarted_at);
        figures.add(name, format!("{:.1}", stall.as_secs_f64()));
    }
    figures.add(
        "caught_up_secs",
        if caught_up {
            format!("{:.1}", caught_up_after.as_secs_f64())
        } else {
            "no".into()
        },
    );
    figures.add("load_secs", format!("{:.1}", elapsed.as_secs_f64()));
    figures
        .extra
        .push(("load".into(), transports_line(&acknowledged)));
    figures.print();
    assert_eq!(acknowledged.len() as u64, total);
    figures.assert_clean();
    assert_eq!(figures.tickets as u64, total);
    assert!(
        same_copies,
        "the nodes hold different copies of FEEDBACK: {copies:?}"
    );
    assert!(
        caught_up,
        "the restarted {killed_name} did not catch up on FEEDBACK within 120 s:\n{}",
        pair.nats_cluster().logs()
    );
}

/// `(messages, last_seq)` of node `index`'s copy of FEEDBACK.
fn feedback_state(cluster: &NatsCluster, index: usize) -> Option<(u64, u64)> {
    let detail = cluster.stream_detail(index, proto::FEEDBACK_STREAM)?;
    Some((
        detail["state"]["messages"].as_u64()?,
        detail["state"]["last_seq"].as_u64()?,
    ))
}

/// Samples, every 50 ms while a node is down, three counters: submissions answered,
/// intake's JetStream publishes acknowledged, and rows confirmed by the workflow.
struct Sampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<(Instant, [u64; 3])>>,
}

impl Sampler {
    fn start(answered: Arc<Mutex<Vec<Acknowledged>>>, intake_metrics: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut samples = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let answered = answered.lock().expect("acknowledged").len() as u64;
                    let published = ["ok", "duplicate"]
                        .iter()
                        .filter_map(|result| {
                            metric(
                                &intake_metrics,
                                &format!("cloop_intake_publishes_total{{result=\"{result}\"}}"),
                            )
                        })
                        .sum::<f64>() as u64;
                    let confirmed = metric(&intake_metrics, "cloop_intake_confirmed_total")
                        .unwrap_or(0.0) as u64;
                    samples.push((Instant::now(), [answered, published, confirmed]));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                samples
            }
        });
        Self { stop, task }
    }

    async fn stop(self) -> Vec<(Instant, [u64; 3])> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("sampler")
    }
}

/// The longest time in `from..until` during which counter `series` did not grow.
fn longest_stall(
    samples: &[(Instant, [u64; 3])],
    series: usize,
    from: Instant,
    until: Instant,
) -> Duration {
    let mut longest = Duration::ZERO;
    let mut last_growth = from;
    let mut last_value = None;
    for (at, values) in samples.iter().filter(|(at, _)| *at <= until) {
        let value = values[series];
        if *at >= from && last_value.is_some_and(|last| value > last) {
            longest = longest.max(at.saturating_duration_since(last_growth));
            last_growth = *at;
        }
        last_value = Some(value);
    }
    longest.max(until.saturating_duration_since(last_growth))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_streams_are_raised_to_the_configured_replicas_and_too_many_is_a_clear_error() {
    let cluster = blocking(|| NatsCluster::start(3));
    let urls = cluster.urls();
    // The streams exist with one replica, as a single-server deployment made them.
    {
        let client =
            async_nats::connect(service::nats::server_addresses(&urls).expect("server list"))
                .await
                .expect("connect to the cluster");
        let context = jetstream::new(client);
        for settings in [
            service::config::StreamSettings::feedback(),
            service::config::StreamSettings::ticket_events(),
        ] {
            // A cluster that just elected its meta leader may still time out a first request
            // on a loaded machine: repeat (creating the same stream twice is no error).
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                match context.create_stream(settings.to_stream_config()).await {
                    Ok(_) => break,
                    Err(error) => {
                        assert!(
                            Instant::now() < deadline,
                            "create a one-replica stream {}: {error}",
                            settings.name
                        );
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        }
    }
    // Its first info request may time out too while the new cluster settles: wait for it.
    assert!(
        wait_stream_replicas(&urls, proto::FEEDBACK_STREAM, 1, START_TIMEOUT).await,
        "stream FEEDBACK not readable with one replica"
    );

    let mut pair = blocking(|| start_pair_on(cluster, cluster_options(3)));
    for stream in [proto::FEEDBACK_STREAM, proto::TICKET_EVENTS_STREAM] {
        assert!(
            wait_stream_replicas(&urls, stream, 3, START_TIMEOUT).await,
            "stream {stream} not raised to 3 replicas:\n{}\n{}",
            tail(&pair.intake().log(), 30),
            tail(&pair.workflow().log(), 30)
        );
    }

    // Five replicas on three servers: intake keeps serving and says why the stream is not set
    // up; the stream keeps its three replicas.
    pair.intake_mut().terminate(Duration::from_secs(30));
    pair.intake_mut()
        .set_env("CLOOP_STREAM_REPLICAS", Some("5"));
    let address = pair.intake().address().to_owned();
    blocking(|| {
        pair.intake_mut().start_again();
        pair.intake_mut().wait_listening(&address, START_TIMEOUT);
    });
    let explained = blocking(|| {
        wait_until(Duration::from_secs(60), || {
            pair.intake()
                .log()
                .contains("update stream FEEDBACK (replicas 3 to 5)")
        })
    });
    assert!(
        explained,
        "no clear error for 5 replicas on 3 servers:\n{}",
        tail(&pair.intake().log(), 30)
    );
    assert!(
        wait_stream_replicas(&urls, proto::FEEDBACK_STREAM, 3, START_TIMEOUT).await,
        "stream FEEDBACK no longer has its three replicas"
    );
}
