//! The fault suite: random SIGKILLs of both services under a mixed load, a NATS outage under
//! a steady 100 submissions a second with a short duplicate window, SIGSTOP of the workflow past
//! its ack wait and of nats-server, and crashes at four failpoints. Every scenario ends with the
//! one checker of `support.rs` (nothing lost, nothing duplicated, nothing invented, the log
//! verifies, the projections equal a rebuild, every SQLite file passes `integrity_check`) and
//! prints its figures on a line starting with `FAULTS` (`docs/reliability.md` records them).
//!
//! Each scenario has a short form for `make test` and the full form when
//! `CLOOP_SOAK=1` (`make soak`).

use crate::support::{
    check_outcome, failpoints_built_in, lazy_channel, metric, settle_time, soak, start_pair, tail,
    targets, transports_line, wait_for_tickets, Acknowledged, Load, LoadPlan, PairOptions, Random,
    Service, START_TIMEOUT,
};
use futures::StreamExt;
use prost::Message;
use proto::v1;
use proto::v1::intake_client::IntakeClient;
use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs blocking harness work (process starts and stops poll with short sleeps) without
/// holding up the load's tasks on the other runtime thread.
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sigkills_of_both_services_lose_nothing_and_duplicate_nothing() {
    let (total, workflow_kills, intake_kills, per_second) = if soak() {
        (10_000u64, 10, 5, 300)
    } else {
        (1_000u64, 3, 2, 150)
    };
    let mut random = Random::from_env_or_clock();
    let seed = random.seed();
    let mut pair = start_pair(PairOptions {
        intake: "confirm_timeout_secs = 20".into(),
        workflow: "ack_wait_secs = 5\nbackoff_ms = [200, 1000]".into(),
        ..Default::default()
    });
    let load = Load::start(
        targets(&pair),
        LoadPlan {
            prefix: "soak".into(),
            total,
            workers: 8,
            per_second,
            mixed_transports: true,
            commands: true,
        },
    )
    .await;
    // Random moments, as points of progress between 5% and 90% of the submissions.
    let mut kills: Vec<(u64, Service)> = (0..workflow_kills)
        .map(|_| Service::Workflow)
        .chain((0..intake_kills).map(|_| Service::Intake))
        .map(|service| (random.between(total * 5 / 100, total * 90 / 100), service))
        .collect();
    kills.sort_by_key(|(at, _)| *at);
    let mut downtime = Duration::ZERO;
    for (at, service) in &kills {
        assert!(
            load.wait_answered(*at as usize, Duration::from_secs(300))
                .await,
            "the load stalled before {at} answers:\n{}",
            tail(&pair.intake().log(), 30)
        );
        blocking(|| pair.service_mut(*service).kill());
        let down = Duration::from_millis(random.between(100, 1_500));
        // The process stays dead for a random while: this is the fault, not a synchronisation.
        tokio::time::sleep(down).await;
        downtime += down;
        blocking(|| pair.service_mut(*service).restart());
    }
    let counters = load.counters.clone();
    let (acknowledged, elapsed) = load.run_to_end().await;
    let mut figures = check_outcome(&mut pair, "soak", &acknowledged, settle_time()).await;
    figures.add("submitted", total);
    figures.add("workflow_kills", workflow_kills);
    figures.add("intake_kills", intake_kills);
    figures.add(
        "kill_points",
        format!("{:?}", kills.iter().map(|(at, _)| at).collect::<Vec<_>>()),
    );
    figures.add("downtime_secs", format!("{:.1}", downtime.as_secs_f64()));
    figures.add("load_secs", format!("{:.1}", elapsed.as_secs_f64()));
    figures.add("transports", transports_line(&acknowledged));
    figures.extra.push(("load".into(), counters.line()));
    figures.add("seed", seed);
    figures.print();
    assert_eq!(acknowledged.len() as u64, total);
    figures.assert_clean();
    assert_eq!(figures.tickets as u64, total);
}

/// One paced gRPC submission of the outage scenario: its index, when it was sent, how long
/// the answer took, and the answer (or the error).
struct Paced {
    sent_at: Instant,
    latency: Duration,
    result: Result<v1::SubmitResponse, String>,
    index: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_stopped_under_load_every_submission_answered_and_a_ticket_after_it_returns() {
    let outage = Duration::from_secs(if soak() { 30 } else { 5 });
    let around = Duration::from_secs(3);
    // The duplicate window is shorter than the outage, and unconfirmed rows are published
    // again after 5 s: the broker alone cannot dedupe what arrives twice.
    let mut pair = start_pair(PairOptions {
        intake: "confirm_timeout_secs = 5".into(),
        workflow: "ack_wait_secs = 5\nbackoff_ms = [200, 1000]".into(),
        duplicate_window_secs: Some(2),
        ..Default::default()
    });
    let client = IntakeClient::new(lazy_channel(pair.intake().address()));
    let stop = Arc::new(AtomicBool::new(false));
    let driver = {
        let stop = stop.clone();
        tokio::spawn(async move {
            // 100 a second, each in its own task, whatever the answers take.
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut sent = Vec::new();
            let mut index = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let mut client = client.clone();
                index += 1;
                let external_id = format!("outage-{index}");
                let content = format!("电话投诉：快递破损 (#{external_id})");
                let request = v1::SubmitRequest {
                    channel: "hotline".into(),
                    ..e2e::web_submission(&external_id, &content)
                };
                sent.push(tokio::spawn(async move {
                    let sent_at = Instant::now();
                    let result = client
                        .submit(crate::support::authorized(request, "t-adapter"))
                        .await
                        .map(tonic::Response::into_inner)
                        .map_err(|status| format!("{status:?}"));
                    Paced {
                        sent_at,
                        latency: sent_at.elapsed(),
                        result,
                        index,
                    }
                }));
            }
            let mut results = Vec::with_capacity(sent.len());
            for task in sent {
                results.push(task.await.expect("submission task"));
            }
            results
        })
    };
    tokio::time::sleep(around).await;
    let stopped_at = Instant::now();
    blocking(|| pair.nats_mut().stop());
    tokio::time::sleep(outage).await;
    blocking(|| pair.nats_mut().start_again());
    let back_at = Instant::now();
    tokio::time::sleep(around).await;
    stop.store(true, Ordering::Relaxed);
    let results = driver.await.expect("driver");

    let failed: Vec<&Paced> = results
        .iter()
        .filter(|paced| paced.result.is_err())
        .collect();
    let during: Vec<&Paced> = results
        .iter()
        .filter(|paced| paced.sent_at >= stopped_at && paced.sent_at < back_at)
        .collect();
    let slowest_during = during
        .iter()
        .map(|paced| paced.latency)
        .max()
        .unwrap_or_default();
    let acknowledged: Vec<Acknowledged> = results
        .iter()
        .filter_map(|paced| {
            paced.result.as_ref().ok().map(|response| Acknowledged {
                ticket_id: response.ticket_id.clone(),
                feedback_id: response.feedback_id.clone(),
                external_id: format!("outage-{}", paced.index),
                duplicate: response.duplicate,
            })
        })
        .collect();
    // All tickets within 30 s of NATS returning.
    let channel = lazy_channel(pair.workflow().address());
    let remaining = Duration::from_secs(30).saturating_sub(back_at.elapsed());
    let (_, _) = wait_for_tickets(&channel, &acknowledged, remaining).await;
    let all_tickets_after = back_at.elapsed();
    let (stored, unique) = feedback_stream_counts(&pair.nats().url()).await;
    let republished = metric(
        pair.intake().metrics_address(),
        "cloop_intake_republished_total",
    )
    .unwrap_or(0.0);
    let duplicates_absorbed = metric(
        pair.workflow().metrics_address(),
        "cloop_workflow_duplicate_messages_total",
    )
    .unwrap_or(0.0);
    let mut figures = check_outcome(
        &mut pair,
        "nats_outage",
        &acknowledged,
        Duration::from_secs(30),
    )
    .await;
    figures.add("outage_secs", outage.as_secs());
    figures.add("duplicate_window_secs", 2);
    figures.add("sent", results.len());
    figures.add("sent_during_outage", during.len());
    figures.add("unanswered", failed.len());
    figures.add(
        "slowest_answer_during_outage_ms",
        slowest_during.as_millis(),
    );
    figures.add(
        "all_tickets_secs_after_nats_returned",
        format!("{:.1}", all_tickets_after.as_secs_f64()),
    );
    figures.add("feedback_stream_messages", stored);
    figures.add("feedback_stream_unique_ids", unique);
    figures.add("intake_republished", republished);
    figures.add("workflow_duplicate_messages", duplicates_absorbed);
    figures.print();
    assert!(
        failed.is_empty(),
        "{} submissions not answered, e.g. {:?}",
        failed.len(),
        failed.first().map(|paced| &paced.result)
    );
    assert!(
        during.len() as u64 >= outage.as_secs() * 80,
        "the load kept going during the outage"
    );
    assert!(
        slowest_during < Duration::from_secs(2),
        "answers during the outage took up to {slowest_during:?}"
    );
    assert!(
        all_tickets_after <= Duration::from_secs(30),
        "every submission a ticket only {all_tickets_after:?} after NATS returned"
    );
    figures.assert_clean();
}

/// Messages stored on FEEDBACK and distinct `Nats-Msg-Id`s among them.
async fn feedback_stream_counts(url: &str) -> (usize, usize) {
    let Ok(client) = async_nats::connect(url).await else {
        return (0, 0);
    };
    let context = async_nats::jetstream::new(client);
    let Ok(mut stream) = context.get_stream("FEEDBACK").await else {
        return (0, 0);
    };
    let Ok(info) = stream.info().await.cloned() else {
        return (0, 0);
    };
    let Ok(consumer) = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
    else {
        return (0, 0);
    };
    let total = info.state.messages as usize;
    let mut ids: HashMap<String, usize> = HashMap::new();
    let Ok(mut messages) = consumer.messages().await else {
        return (0, 0);
    };
    let mut read = 0usize;
    while read < total {
        let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(5), messages.next()).await
        else {
            break;
        };
        read += 1;
        let id = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nats-Msg-Id"))
            .map(|value| value.as_str().to_owned())
            .unwrap_or_else(|| {
                v1::FeedbackReceived::decode(message.payload.as_ref())
                    .map(|received| received.feedback_id)
                    .unwrap_or_default()
            });
        *ids.entry(id).or_insert(0) += 1;
    }
    (read, ids.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstop_of_workflow_past_its_ack_wait_and_of_nats_loses_and_duplicates_nothing() {
    let (workflow_pause, nats_pause) = if soak() {
        (Duration::from_secs(15), Duration::from_secs(10))
    } else {
        (Duration::from_secs(5), Duration::from_secs(3))
    };
    let ack_wait = Duration::from_secs(2);
    let mut pair = start_pair(PairOptions {
        intake: "confirm_timeout_secs = 20".into(),
        workflow: format!("ack_wait_secs = {}\nbackoff_ms = []", ack_wait.as_secs()),
        ..Default::default()
    });
    let load = Load::start(
        targets(&pair),
        LoadPlan {
            prefix: "pause".into(),
            total: u64::MAX,
            workers: 8,
            per_second: 100,
            mixed_transports: true,
            commands: true,
        },
    )
    .await;
    let step = Duration::from_secs(60);
    assert!(
        load.wait_answered(200, step).await,
        "the load did not start"
    );
    pair.workflow().pause();
    tokio::time::sleep(workflow_pause).await;
    pair.workflow().resume();
    let answered = load.answered();
    assert!(load.wait_answered(answered + 200, step).await);
    pair.nats().pause();
    tokio::time::sleep(nats_pause).await;
    pair.nats().resume();
    let answered = load.answered();
    assert!(load.wait_answered(answered + 200, step).await);
    let counters = load.counters.clone();
    let (acknowledged, elapsed) = load.finish().await;
    // Give redeliveries of the paused consumer time to be counted before reading the metric.
    let channel = lazy_channel(pair.workflow().address());
    wait_for_tickets(&channel, &acknowledged, Duration::from_secs(60)).await;
    let redelivered = metric(
        pair.workflow().metrics_address(),
        "cloop_workflow_duplicate_messages_total",
    )
    .unwrap_or(0.0);
    let mut figures =
        check_outcome(&mut pair, "sigstop", &acknowledged, Duration::from_secs(60)).await;
    figures.add("workflow_paused_secs", workflow_pause.as_secs());
    figures.add("ack_wait_secs", ack_wait.as_secs());
    figures.add("nats_paused_secs", nats_pause.as_secs());
    figures.add("workflow_duplicate_messages", redelivered);
    figures.add("load_secs", format!("{:.1}", elapsed.as_secs_f64()));
    figures.add("transports", transports_line(&acknowledged));
    figures.extra.push(("load".into(), counters.line()));
    figures.print();
    figures.assert_clean();
}

/// Crashes `service` at `point` again and again under a mixed load: the point fires after a
/// random number of passes in `passes` (`FAILPOINTS=<point>=N*off->1*return`), the process
/// aborts, and it is started again with a new number, 5 times (20 with `CLOOP_SOAK=1`); then
/// it runs without the failpoint and the checker runs.
async fn crash_at_failpoint(service: Service, point: &str, passes: (u64, u64)) {
    if !failpoints_built_in() {
        eprintln!(
            "FAULTS {point}: skipped: the service binaries lack the `failpoints` feature \
             (build them with `make build`)"
        );
        return;
    }
    let wanted = if soak() { 20 } else { 5 };
    let mut random = Random::from_env_or_clock();
    let seed = random.seed();
    let configuration = |random: &mut Random| {
        format!(
            "{point}={}*off->1*return",
            random.between(passes.0, passes.1)
        )
    };
    let first = Some(configuration(&mut random));
    let mut options = PairOptions {
        intake: "confirm_timeout_secs = 10".into(),
        workflow: "ack_wait_secs = 2\nbackoff_ms = []".into(),
        duplicate_window_secs: Some(5),
        ..Default::default()
    };
    match service {
        Service::Intake => options.intake_failpoints = first,
        Service::Workflow => options.workflow_failpoints = first,
        other => panic!("no failpoints in {other:?}"),
    }
    let mut pair = start_pair(options);
    let load = Load::start(
        targets(&pair),
        LoadPlan {
            prefix: "fp".into(),
            total: u64::MAX,
            workers: 8,
            per_second: 200,
            mixed_transports: true,
            commands: service == Service::Workflow,
        },
    )
    .await;
    let mut crashes = 0;
    let mut aborted = 0;
    let started = Instant::now();
    while crashes < wanted {
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(status) = pair.service_mut(service).exit_status() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{point} did not fire within 90 s (crash {crashes}):\n{}",
                tail(&pair.service_mut(service).log(), 30)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        crashes += 1;
        if status.signal() == Some(libc::SIGABRT) {
            aborted += 1;
        }
        let next = (crashes < wanted).then(|| configuration(&mut random));
        let process = pair.service_mut(service);
        process.set_env("FAILPOINTS", next.as_deref());
        blocking(|| process.start_again());
    }
    let address = pair.service(service).address().to_owned();
    blocking(|| {
        pair.service_mut(service)
            .wait_listening(&address, START_TIMEOUT)
    });
    let crashing_secs = started.elapsed();
    let counters = load.counters.clone();
    let (acknowledged, _) = load.finish().await;
    let fired = pair
        .service_mut(service)
        .log()
        .matches("failpoint fired")
        .count();
    let scenario = format!("failpoint {point}");
    let mut figures = check_outcome(
        &mut pair,
        &scenario,
        &acknowledged,
        Duration::from_secs(120),
    )
    .await;
    figures.add("crashes", crashes);
    figures.add("aborted", aborted);
    figures.add("fired_in_log", fired);
    figures.add(
        "crashing_secs",
        format!("{:.1}", crashing_secs.as_secs_f64()),
    );
    figures.add("transports", transports_line(&acknowledged));
    figures.extra.push(("load".into(), counters.line()));
    figures.add("seed", seed);
    figures.print();
    assert_eq!(
        aborted, crashes,
        "every exit was the failpoint's abort, not another failure"
    );
    figures.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_after_the_outbox_commit_before_the_answer() {
    crash_at_failpoint(Service::Intake, "intake::after_outbox_commit", (10, 60)).await;
}

/// Intake dies right after JetStream acknowledged a publish, before any bookkeeping of it: the
/// outbox never recorded the publish, so after the restart the row is unconfirmed like every
/// other and published again with the rest; the broker's duplicate window or workflow's
/// feedback-derived event ids make the copy harmless.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_after_a_publish_ack_before_any_bookkeeping() {
    crash_at_failpoint(
        Service::Intake,
        "intake::after_publish_before_mark",
        (20, 200),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_after_the_workflow_commit_before_the_ack() {
    crash_at_failpoint(
        Service::Workflow,
        "workflow::after_commit_before_ack",
        (2, 20),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_in_the_middle_of_a_projection_update() {
    crash_at_failpoint(
        Service::Workflow,
        "workflow::mid_projection_update",
        (20, 300),
    )
    .await;
}

/// A vital worker that panics (the consumer, made to panic by its failpoint after its first
/// batch commits) stops the workflow with a non-zero exit and one line naming the task, rather
/// than leaving it serving without a consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_worker_stops_the_workflow_with_one_clear_line() {
    if !failpoints_built_in() {
        eprintln!("skipped: the service binaries lack the `failpoints` feature (`make build`)");
        return;
    }
    let mut pair = start_pair(PairOptions {
        workflow_failpoints: Some("workflow::after_commit_before_ack=panic".into()),
        ..Default::default()
    });
    let load = Load::start(
        targets(&pair),
        LoadPlan {
            prefix: "panic".into(),
            total: 5,
            workers: 1,
            per_second: 50,
            mixed_transports: false,
            commands: false,
        },
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = pair.service_mut(Service::Workflow).exit_status() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the workflow did not stop after its consumer panicked:\n{}",
            tail(&pair.service_mut(Service::Workflow).log(), 30)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = load.finish().await;
    let log = pair.service_mut(Service::Workflow).log();
    assert_eq!(status.code(), Some(1), "{}", tail(&log, 30));
    let last = log.lines().rev().find(|line| !line.trim().is_empty());
    assert_eq!(
        last,
        Some(
            "cloop-workflow: the consumer task panicked: \
             failpoint workflow::after_commit_before_ack panic: the service stopped"
        ),
        "{}",
        tail(&log, 30)
    );
    assert!(
        log.contains("\"task\":\"consumer\""),
        "the panic is logged naming the task:\n{}",
        tail(&log, 30)
    );
    assert!(log.contains("workflow stopped"), "drained as on SIGTERM");
}
