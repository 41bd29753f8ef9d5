//! The relay against a real nats-server and a real outbox file: new rows come from the
//! writer's hand-off without a read of the outbox; a hand-off that overflows while the relay
//! is behind sends it back to reading, and still every row is published once; rows workflow
//! does not confirm are published again by age, and every unconfirmed row again after a
//! restart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use intake::metrics::IntakeMetrics;
use intake::outbox::{KeyKind, Outbox, OutboxOptions, OutboxRecord};
use intake::relay::Relay;
use intake::IntakeSettings;
use service::config::NatsConfig;
use service::shutdown::Shutdown;
use std::path::Path;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// A relay running on `outbox`, stopped with [`Running::stop`].
struct Running {
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
    metrics: IntakeMetrics,
}

impl Running {
    async fn start(nats_url: &str, outbox: &Outbox, settings: IntakeSettings) -> Self {
        let nats = NatsConfig::default();
        let (client, connected) =
            service::nats::connect(nats_url, "relay-test", &nats.client_auth().expect("auth"))
                .await
                .expect("connect");
        assert!(connected.wait_connected(WAIT).await, "nats connected");
        let metrics = IntakeMetrics::new().expect("metrics");
        let relay = Relay {
            outbox: outbox.clone(),
            context: service::nats::jetstream_context(client, nats.request_timeout()),
            connected,
            settings: IntakeSettings {
                maintenance_interval_ms: 100,
                retry_backoff_initial_ms: 20,
                ..settings
            },
            nats,
            metrics: metrics.clone(),
            content_window_hours: 24,
        };
        let shutdown = Shutdown::new();
        let task = tokio::spawn(relay.run(shutdown.clone()));
        Self {
            shutdown,
            task,
            metrics,
        }
    }

    fn publishes(&self, result: &str) -> u64 {
        self.metrics.publishes.with_label_values(&[result]).get()
    }

    async fn stop(self) {
        self.shutdown.trigger();
        self.task.await.expect("relay stopped");
    }
}

fn open(path: &Path, options: OutboxOptions) -> Outbox {
    Outbox::open(
        path,
        OutboxOptions {
            synchronous_full: false,
            ..options
        },
    )
    .expect("open outbox")
}

fn record(id: &str) -> OutboxRecord {
    OutboxRecord {
        feedback_id: id.to_owned(),
        ticket_id: format!("T-{id}"),
        subject: "feedback.received.web".into(),
        payload: id.as_bytes().to_vec(),
        received_at_ms: 1_000,
        idempotency_key: format!("web:{id}"),
        key_kind: KeyKind::External,
        response: Vec::new(),
        contact_hashes: Vec::new(),
    }
}

/// Accepts `count` records `<prefix><index>`, all at once (the writer batches them).
async fn accept_all(outbox: &Outbox, prefix: &str, count: usize) {
    let accepts = (0..count).map(|index| {
        let outbox = outbox.clone();
        async move {
            outbox
                .accept(record(&format!("{prefix}{index}")), WAIT)
                .await
                .expect("accept")
        }
    });
    futures::future::join_all(accepts).await;
}

/// Waits until `condition` holds, or fails with `what`.
async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The number of messages in stream FEEDBACK.
async fn stream_messages(nats_url: &str) -> u64 {
    let client = async_nats::connect(nats_url).await.expect("connect");
    let context = async_nats::jetstream::new(client);
    let mut stream = context.get_stream("FEEDBACK").await.expect("stream");
    stream.info().await.expect("info").state.messages
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_rows_are_published_from_the_handoff_without_a_read() {
    let nats = e2e::NatsServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = open(&dir.path().join("outbox.db"), OutboxOptions::default());
    let relay = Running::start(&nats.url(), &outbox, IntakeSettings::default()).await;
    // The first read (at start) finds the outbox empty.
    wait_for("the start-up read", || outbox.handoff_stats().reads >= 1).await;
    let reads = outbox.handoff_stats().reads;
    let counters = outbox.counters();
    for round in 0..5 {
        accept_all(&outbox, &format!("r{round}-"), 100).await;
    }
    wait_for("500 publishes", || relay.publishes("ok") == 500).await;
    assert_eq!(stream_messages(&nats.url()).await, 500);
    assert_eq!(relay.publishes("duplicate"), 0, "each row published once");
    assert_eq!(
        outbox.handoff_stats().reads,
        reads,
        "no row was read back from the outbox"
    );
    assert_eq!(outbox.handoff_stats().dropped_batches, 0);
    // Nothing confirms them: all published, none pending.
    wait_for("the gauges", || counters.pending() == 0).await;
    assert_eq!((counters.depth(), counters.published()), (500, 500));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_behind_an_overflowing_handoff_reads_the_outbox_and_publishes_each_row_once() {
    let nats = e2e::NatsServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = open(
        &dir.path().join("outbox.db"),
        OutboxOptions {
            max_batch: 16,
            handoff_rows: 16,
            ..OutboxOptions::default()
        },
    );
    // Two publishes in flight and two queued at most: the relay falls behind the writer.
    let settings = IntakeSettings {
        max_in_flight: 2,
        ..IntakeSettings::default()
    };
    let relay = Running::start(&nats.url(), &outbox, settings).await;
    wait_for("the start-up read", || outbox.handoff_stats().reads >= 1).await;
    let reads = outbox.handoff_stats().reads;
    accept_all(&outbox, "o", 1_000).await;
    wait_for("1,000 publishes", || relay.publishes("ok") == 1_000).await;
    let stats = outbox.handoff_stats();
    assert!(
        stats.dropped_batches > 0,
        "the hand-off overflowed: {stats:?}"
    );
    assert!(
        stats.reads > reads,
        "the relay read the dropped rows: {stats:?}"
    );
    assert_eq!(stream_messages(&nats.url()).await, 1_000);
    assert_eq!(relay.publishes("duplicate"), 0, "each row published once");
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfirmed_rows_are_published_again_by_age_and_all_again_after_a_restart() {
    let nats = e2e::NatsServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("outbox.db");
    let outbox = open(&path, OutboxOptions::default());
    let settings = IntakeSettings {
        confirm_timeout_secs: 1,
        ..IntakeSettings::default()
    };
    let relay = Running::start(&nats.url(), &outbox, settings.clone()).await;
    let committed = Instant::now();
    accept_all(&outbox, "a", 3).await;
    wait_for("3 publishes", || relay.publishes("ok") == 3).await;
    // Workflow confirms one at once; the other two are not confirmed.
    let confirmed = outbox
        .confirm(vec!["a0".into()], intake::relay::now_ms())
        .await
        .expect("confirm");
    assert_eq!(confirmed, 1);
    if committed.elapsed() < Duration::from_millis(800) {
        assert_eq!(relay.metrics.republished.get(), 0, "not before the timeout");
    }
    wait_for("2 rows published again", || {
        relay.metrics.republished.get() == 2
    })
    .await;
    assert!(committed.elapsed() >= Duration::from_secs(1));
    // The broker still holds them, within its duplicate window.
    wait_for("2 duplicate acks", || relay.publishes("duplicate") == 2).await;
    // Their waits started again, doubled; the confirmed row is left alone.
    let mut attempts = Vec::new();
    let deadline = Instant::now() + WAIT;
    while attempts != [1, 1] {
        assert!(
            Instant::now() < deadline,
            "republishes recorded: {attempts:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        attempts = outbox
            .load_pending(0, 10)
            .await
            .expect("load")
            .iter()
            .map(|row| row.attempts)
            .collect();
    }
    assert_eq!(relay.metrics.republished.get(), 2, "not again before 2 s");
    relay.stop().await;
    outbox.close().await;

    // After a restart every unconfirmed row is published again at once.
    let outbox = open(&path, OutboxOptions::default());
    let relay = Running::start(&nats.url(), &outbox, settings).await;
    wait_for("2 publishes after the restart", || {
        relay.publishes("duplicate") == 2
    })
    .await;
    assert_eq!(relay.publishes("ok"), 0);
    assert_eq!(stream_messages(&nats.url()).await, 3);
    relay.stop().await;
}
