//! Disk full: a service's data folder on a small tmpfs (32 MiB) that a ballast file fills up
//! to a little headroom (2 MiB), while nats-server keeps its store on the ordinary temporary folder.
//! Submissions (and, for the workflow, department commands) go on until the disk is full;
//! every answer must be a success or UNAVAILABLE within the client's deadline, the process
//! must stay up and healthy, and the FEEDBACK consumer must leave what it cannot record for
//! redelivery. Then the ballast is deleted: the service must recover by itself, and every
//! acknowledged submission must end as exactly one ticket, with the log verifying and every
//! SQLite file passing `integrity_check` (the checker of `support.rs`). Figures are printed on
//! a line starting with `FAULTS disk_full_...` (`docs/reliability.md` records them).
//!
//! Mounting needs root. Where it is not permitted the scenarios say so loudly; they fail when
//! `CI` is set or the test runs as root (where the mount should have worked), and are skipped
//! otherwise.

use crate::support::{
    authorized, check_outcome, lazy_channel, metric, metrics_text, start_pair, tail,
    wait_for_tickets, Acknowledged, PairOptions, Service,
};
use e2e::{SmallDisk, TestCluster};
use proto::v1;
use proto::v1::intake_client::IntakeClient;
use proto::v1::tickets_client::TicketsClient;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::Code;

/// The size of intake's small data disk. After the ballast is gone, the burst of retried
/// submissions and relay updates grows the write-ahead log by megabytes before the writer's
/// truncation catches it; on 8 MiB that can take the freed space again.
const INTAKE_DISK_BYTES: u64 = 32 * 1024 * 1024;
/// The size of the workflow's: its data per ticket (log, projections, full-text index) is
/// several times intake's, and what piles up in FEEDBACK while the disk is full must fit
/// once the ballast is gone.
const WORKFLOW_DISK_BYTES: u64 = 32 * 1024 * 1024;
/// What the ballast leaves free for the service once it has started.
const HEADROOM_BYTES: u64 = 2 * 1024 * 1024;
/// The longest a client waits for any answer (the channels of `lazy_channel` give up at 10 s).
const CLIENT_DEADLINE: Duration = Duration::from_secs(12);
/// UNAVAILABLE answers that show the disk is full.
const FULL_ANSWERS: usize = 30;

/// The small disk, or `None` (after a loud message) where mounting is not permitted and the
/// scenario may be skipped.
fn small_disk(scenario: &str, bytes: u64) -> Option<SmallDisk> {
    match SmallDisk::mount(bytes) {
        Ok(disk) => Some(disk),
        Err(reason) => {
            let root = std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0);
            let ci = std::env::var_os("CI").is_some();
            eprintln!(
                "\n!!! {scenario} NOT RUN: cannot mount a small file system: {reason}\n\
                 !!! The disk-full scenarios need root (mount -t tmpfs); CI runs them as root.\n"
            );
            assert!(
                !ci && !root,
                "{scenario}: mounting a small tmpfs failed ({reason}); the disk-full scenarios \
                 must run here"
            );
            None
        }
    }
}

/// Whether the service answers SERVING on `grpc.health.v1.Health/Check`.
async fn healthy(address: &str) -> bool {
    let mut health = tonic_health::pb::health_client::HealthClient::new(lazy_channel(address));
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|answer| {
            answer.into_inner().status
                == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
        })
        .unwrap_or(false)
}

/// One answer of a call: what was asked, how long it took and what came back.
#[derive(Debug, Clone)]
struct Answer {
    key: String,
    latency: Duration,
    /// `Ok(ticket id, feedback id, duplicate)` or the status code and message.
    result: Result<(String, String, bool), (Code, String)>,
}

impl Answer {
    fn unavailable(&self) -> bool {
        matches!(&self.result, Err((Code::Unavailable, _)))
    }

    /// A success, or UNAVAILABLE within the deadline: anything else breaks the contract.
    fn acceptable(&self) -> bool {
        self.latency < CLIENT_DEADLINE && (self.result.is_ok() || self.unavailable())
    }

    fn says_disk_full(&self) -> bool {
        matches!(&self.result, Err((Code::Unavailable, message)) if message.contains("data disk full"))
    }
}

fn submit_request(external_id: &str) -> v1::SubmitRequest {
    // Long enough that the disk fills in seconds, well within the content limit.
    let padding = "物流很慢，包裹破损，希望尽快处理。".repeat(12);
    v1::SubmitRequest {
        channel: "app".into(),
        external_id: external_id.to_owned(),
        content: format!("{padding} (#{external_id})"),
        customer: Some(v1::Customer {
            phone: "13800138000".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One submission with `external_id`, bounded by the client deadline.
async fn submit(client: &mut IntakeClient<Channel>, external_id: &str) -> Answer {
    let started = Instant::now();
    let call = client.submit(authorized(submit_request(external_id), "t-adapter"));
    let result = match tokio::time::timeout(CLIENT_DEADLINE, call).await {
        Ok(Ok(response)) => {
            let response = response.into_inner();
            Ok((response.ticket_id, response.feedback_id, response.duplicate))
        }
        Ok(Err(status)) => Err((status.code(), status.message().to_owned())),
        Err(_) => Err((
            Code::DeadlineExceeded,
            "no answer within the deadline".into(),
        )),
    };
    Answer {
        key: external_id.to_owned(),
        latency: started.elapsed(),
        result,
    }
}

/// Submitters that send `<prefix>-<n>` with increasing n until stopped, recording every answer.
struct Submitters {
    answers: Arc<Mutex<Vec<Answer>>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Submitters {
    fn start(channel: &Channel, prefix: &str, workers: usize, pause: Duration) -> Self {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicU64::new(0));
        let tasks = (0..workers)
            .map(|_| {
                let mut client = IntakeClient::new(channel.clone());
                let (answers, stop, next) = (answers.clone(), stop.clone(), next.clone());
                let prefix = prefix.to_owned();
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let answer = submit(&mut client, &format!("{prefix}-{index}")).await;
                        answers.lock().expect("answers").push(answer);
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        Self {
            answers,
            stop,
            tasks,
        }
    }

    fn count(&self, predicate: impl Fn(&Answer) -> bool) -> usize {
        self.answers
            .lock()
            .expect("answers")
            .iter()
            .filter(|answer| predicate(answer))
            .count()
    }

    async fn finish(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("submitter");
        }
        let answers = self.answers.lock().expect("answers").clone();
        answers
    }
}

fn acknowledged_of(answers: &[Answer]) -> Vec<Acknowledged> {
    answers
        .iter()
        .filter_map(|answer| {
            let (ticket_id, feedback_id, duplicate) = answer.result.as_ref().ok()?;
            Some(Acknowledged {
                ticket_id: ticket_id.clone(),
                feedback_id: feedback_id.clone(),
                external_id: answer.key.clone(),
                duplicate: *duplicate,
            })
        })
        .collect()
}

/// Answers that break the contract (an error other than UNAVAILABLE, or no answer in time).
fn violations(answers: &[Answer]) -> Vec<&Answer> {
    answers
        .iter()
        .filter(|answer| !answer.acceptable())
        .collect()
}

/// Repeats each submission answered UNAVAILABLE, with the same external id, until it is
/// accepted; returns the answers that were accepted, or the last refusal of one that was
/// still refused when `timeout` passed.
async fn resubmit(
    channel: &Channel,
    keys: Vec<String>,
    timeout: Duration,
) -> Result<Vec<Answer>, Answer> {
    let deadline = Instant::now() + timeout;
    let queue = Arc::new(Mutex::new(keys));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (queue, accepted) = (queue.clone(), accepted.clone());
            let mut client = IntakeClient::new(channel.clone());
            tokio::spawn(async move {
                loop {
                    let key = queue.lock().expect("queue").pop()?;
                    loop {
                        let answer = submit(&mut client, &key).await;
                        if answer.result.is_ok() {
                            accepted.lock().expect("accepted").push(answer);
                            break;
                        }
                        if Instant::now() >= deadline {
                            return Some(answer);
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            })
        })
        .collect();
    let mut refused = None;
    for task in tasks {
        refused = refused.or(task.await.expect("resubmitter"));
    }
    match refused {
        Some(answer) => Err(answer),
        None => Ok(accepted.lock().expect("accepted").clone()),
    }
}

/// The files of a folder with their sizes, for failure messages.
fn listing(folder: &std::path::Path) -> String {
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| {
                    let size = entry.metadata().map(|meta| meta.len()).unwrap_or(0);
                    format!("{} {size}", entry.file_name().to_string_lossy())
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Waits until a new submission is accepted; returns it and how long that took.
async fn first_success(
    channel: &Channel,
    prefix: &str,
    timeout: Duration,
) -> Option<(Answer, Duration)> {
    let started = Instant::now();
    let mut client = IntakeClient::new(channel.clone());
    let mut index = 0;
    while started.elapsed() < timeout {
        index += 1;
        let answer = submit(&mut client, &format!("{prefix}-probe-{index}")).await;
        if answer.result.is_ok() {
            return Some((answer, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Polls until `count` answers satisfy `predicate`, or `timeout` passes.
async fn wait_for_answers(
    submitters: &Submitters,
    predicate: impl Fn(&Answer) -> bool,
    count: usize,
    timeout: Duration,
) -> bool {
    let deadline = Instant::now() + timeout;
    while submitters.count(&predicate) < count {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intake_on_a_full_disk_answers_unavailable_loses_nothing_and_recovers() {
    let Some(disk) = small_disk("disk_full_intake", INTAKE_DISK_BYTES) else {
        return;
    };
    let mut pair = start_pair(PairOptions {
        intake: "confirm_timeout_secs = 10".into(),
        workflow: "ack_wait_secs = 5\nbackoff_ms = [200, 1000]".into(),
        intake_data_dir: Some(disk.path().join("intake")),
        ..Default::default()
    });
    let ballast = disk.fill_leaving("ballast", HEADROOM_BYTES);
    let channel = lazy_channel(pair.intake().address());

    // Fill the disk.
    let filling_started = Instant::now();
    let submitters = Submitters::start(&channel, "full", 4, Duration::from_millis(5));
    let filled = wait_for_answers(
        &submitters,
        Answer::unavailable,
        FULL_ANSWERS,
        Duration::from_secs(240),
    )
    .await;
    let filled_after = filling_started.elapsed();
    // Full for a while: every answer must still come, fast, as UNAVAILABLE.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let alive = pair.intake_mut().exit_status().is_none();
    let serving = healthy(pair.intake().address()).await;
    let answers = submitters.finish().await;
    assert!(
        alive,
        "intake exited on a full disk:\n{}",
        tail(&pair.intake().log(), 40)
    );
    assert!(
        filled,
        "the disk never filled: {} answers, {} bytes free:\n{}",
        answers.len(),
        disk.free_bytes(),
        tail(&pair.intake().log(), 20)
    );
    let bad = violations(&answers);
    assert!(
        bad.is_empty(),
        "{} answers were neither a success nor UNAVAILABLE in time, e.g. {:?}",
        bad.len(),
        bad.iter().take(5).collect::<Vec<_>>()
    );
    assert!(serving, "intake is not SERVING on a full disk");
    assert!(
        answers.iter().any(Answer::says_disk_full),
        "no UNAVAILABLE answer says the data disk is full: {:?}",
        answers
            .iter()
            .filter(|answer| answer.unavailable())
            .take(3)
            .collect::<Vec<_>>()
    );
    let log = pair.intake().log();
    assert!(
        log.contains("data disk full"),
        "intake's log does not say the disk is full:\n{}",
        tail(&log, 20)
    );
    assert!(
        !log.contains("13800138000"),
        "intake's log shows a customer's phone number"
    );
    let disk_full_metric = metric(
        pair.intake().metrics_address(),
        "cloop_intake_disk_full_total",
    )
    .unwrap_or(0.0);
    assert!(
        disk_full_metric > 0.0,
        "cloop_intake_disk_full_total is not counting: {}",
        metrics_text(pair.intake().metrics_address())
            .lines()
            .filter(|line| line.contains("disk"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Space returns: intake recovers by itself.
    std::fs::remove_file(&ballast).expect("delete the ballast");
    let (probe, recovery) = first_success(&channel, "after", Duration::from_secs(60))
        .await
        .unwrap_or_else(|| {
            panic!(
                "intake did not accept a submission within 60 s of the disk having room:\n{}",
                tail(&pair.intake().log(), 30)
            )
        });
    // Everything refused is submitted again: each must be accepted as new (UNAVAILABLE meant
    // nothing was stored), and end as exactly one ticket.
    let refused: Vec<String> = answers
        .iter()
        .filter(|answer| answer.unavailable())
        .map(|answer| answer.key.clone())
        .collect();
    let retried = resubmit(&channel, refused.clone(), Duration::from_secs(120))
        .await
        .unwrap_or_else(|answer| {
            panic!(
                "{} still refused after the disk had room again: {answer:?}\n{} bytes free; \
                 {}\n{}",
                answer.key,
                disk.free_bytes(),
                listing(pair.service(Service::Intake).data_dir()),
                tail(&pair.intake().log(), 20)
            )
        });
    let stored_anyway = retried
        .iter()
        .filter(|answer| matches!(answer.result, Ok((_, _, true))))
        .count();
    let after = Submitters::start(&channel, "after", 4, Duration::from_millis(20));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = after.finish().await;
    assert!(
        after.iter().all(|answer| answer.result.is_ok()),
        "submissions still fail after recovery: {:?}",
        after.iter().find(|answer| answer.result.is_err())
    );

    let mut acknowledged = acknowledged_of(&answers);
    acknowledged.extend(acknowledged_of(&retried));
    acknowledged.extend(acknowledged_of(&after));
    acknowledged.extend(acknowledged_of(&[probe]));
    let mut figures = check_outcome(
        &mut pair,
        "disk_full_intake",
        &acknowledged,
        Duration::from_secs(240),
    )
    .await;
    figures.add("disk_mib", INTAKE_DISK_BYTES / (1024 * 1024));
    figures.add(
        "accepted_before_full",
        answers
            .iter()
            .filter(|answer| answer.result.is_ok())
            .count(),
    );
    figures.add("unavailable", refused.len());
    figures.add(
        "unavailable_disk_full",
        answers
            .iter()
            .filter(|answer| answer.says_disk_full())
            .count(),
    );
    figures.add(
        "max_latency_ms",
        answers
            .iter()
            .map(|answer| answer.latency.as_millis())
            .max()
            .unwrap_or(0),
    );
    figures.add("filled_secs", format!("{:.1}", filled_after.as_secs_f64()));
    figures.add("recovery_secs", format!("{:.1}", recovery.as_secs_f64()));
    figures.add("resubmitted", retried.len());
    figures.add("stored_anyway", stored_anyway);
    figures.print();
    figures.assert_clean();
    assert_eq!(
        stored_anyway, 0,
        "submissions answered UNAVAILABLE had been stored after all"
    );
    let distinct: std::collections::HashSet<&str> = acknowledged
        .iter()
        .map(|answer| answer.ticket_id.as_str())
        .collect();
    assert_eq!(figures.tickets, distinct.len());
    drop(pair);
    drop(disk);
}

/// One department command: a note added by customer service with its own command id.
async fn add_note(
    client: &mut TicketsClient<Channel>,
    ticket_id: &str,
    command_id: &str,
) -> Answer {
    let started = Instant::now();
    let call = client.add_note(authorized(
        v1::AddNoteRequest {
            ticket_id: ticket_id.to_owned(),
            command_id: command_id.to_owned(),
            text: "客户来电补充说明".into(),
            ..Default::default()
        },
        "t-service",
    ));
    let result = match tokio::time::timeout(CLIENT_DEADLINE, call).await {
        Ok(Ok(_)) => Ok((ticket_id.to_owned(), String::new(), false)),
        Ok(Err(status)) => Err((status.code(), status.message().to_owned())),
        Err(_) => Err((
            Code::DeadlineExceeded,
            "no answer within the deadline".into(),
        )),
    };
    Answer {
        key: command_id.to_owned(),
        latency: started.elapsed(),
        result,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_on_a_full_disk_leaves_feedback_unacked_answers_unavailable_and_recovers() {
    if e2e::sqlite_only("disk_full_workflow") {
        return;
    }
    let Some(disk) = small_disk("disk_full_workflow", WORKFLOW_DISK_BYTES) else {
        return;
    };
    let mut pair = start_pair(PairOptions {
        intake: "confirm_timeout_secs = 10".into(),
        workflow: "ack_wait_secs = 5\nbackoff_ms = [200, 1000]".into(),
        workflow_data_dir: Some(disk.path().join("workflow")),
        ..Default::default()
    });
    let intake = lazy_channel(pair.intake().address());
    let workflow = lazy_channel(pair.workflow().address());

    // A few tickets recorded before the disk fills, for the commands.
    let warm = Submitters::start(&intake, "warm", 2, Duration::from_millis(50));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let warm = warm.finish().await;
    let warm_acknowledged = acknowledged_of(&warm);
    assert!(
        !warm_acknowledged.is_empty(),
        "no submission accepted: {warm:?}"
    );
    let (listed, _) =
        wait_for_tickets(&workflow, &warm_acknowledged, Duration::from_secs(120)).await;
    assert!(
        listed.len() >= warm_acknowledged.len(),
        "workflow did not record the first tickets"
    );
    let targets: Vec<String> = warm_acknowledged
        .iter()
        .map(|answer| answer.ticket_id.clone())
        .collect();

    let ballast = disk.fill_leaving("ballast", HEADROOM_BYTES);
    let filling_started = Instant::now();
    let submitters = Submitters::start(&intake, "full", 2, Duration::from_millis(20));
    let stop_commands = Arc::new(AtomicBool::new(false));
    let commands = {
        let (stop, workflow, targets) = (stop_commands.clone(), workflow.clone(), targets.clone());
        tokio::spawn(async move {
            let mut client = TicketsClient::new(workflow);
            let mut answers = Vec::new();
            let mut sequence = 0usize;
            while !stop.load(Ordering::Relaxed) {
                sequence += 1;
                let ticket_id = &targets[sequence % targets.len()];
                answers.push((
                    ticket_id.clone(),
                    add_note(&mut client, ticket_id, &format!("disk-note-{sequence}")).await,
                ));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            answers
        })
    };
    // The disk is full once commands are refused for it.
    let received = |pair: &TestCluster| {
        metric(
            pair.workflow().metrics_address(),
            "cloop_workflow_received_total",
        )
    };
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut filled = false;
    while Instant::now() < deadline {
        let log = pair.workflow().log();
        if log.matches("data disk full").count() > 0
            && metric(
                pair.workflow().metrics_address(),
                "cloop_workflow_disk_full_total",
            )
            .unwrap_or(0.0)
                >= FULL_ANSWERS as f64
        {
            filled = true;
            break;
        }
        if pair.workflow_mut().exit_status().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let filled_after = filling_started.elapsed();
    // Full for a while: nothing more is recorded, and the process stays up and healthy.
    let received_when_full = received(&pair);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let received_later = received(&pair);
    let alive = pair.workflow_mut().exit_status().is_none();
    let serving = healthy(pair.workflow().address()).await;
    stop_commands.store(true, Ordering::Relaxed);
    let command_answers = commands.await.expect("commands");
    let answers = submitters.finish().await;
    assert!(
        alive,
        "workflow exited on a full disk:\n{}",
        tail(&pair.workflow().log(), 40)
    );
    assert!(
        filled,
        "the workflow's disk never filled ({} bytes free):\n{}",
        disk.free_bytes(),
        tail(&pair.workflow().log(), 20)
    );
    assert!(serving, "workflow is not SERVING on a full disk");
    assert!(
        answers.iter().all(|answer| answer.result.is_ok()),
        "intake (on an ordinary disk) refused submissions: {:?}",
        answers.iter().find(|answer| answer.result.is_err())
    );
    let bad: Vec<_> = command_answers
        .iter()
        .filter(|(_, answer)| !answer.acceptable())
        .collect();
    assert!(
        bad.is_empty(),
        "{} commands were neither a success nor UNAVAILABLE in time, e.g. {:?}",
        bad.len(),
        bad.iter().take(5).collect::<Vec<_>>()
    );
    let refused_commands: Vec<(String, String)> = command_answers
        .iter()
        .filter(|(_, answer)| answer.unavailable())
        .map(|(ticket_id, answer)| (ticket_id.clone(), answer.key.clone()))
        .collect();
    assert!(
        command_answers
            .iter()
            .any(|(_, answer)| answer.says_disk_full()),
        "no command was refused with UNAVAILABLE \"data disk full\": {:?}",
        command_answers.iter().rev().take(3).collect::<Vec<_>>()
    );
    assert_eq!(
        received_when_full, received_later,
        "the workflow recorded tickets on a full disk"
    );
    let log = pair.workflow().log();
    assert!(
        !log.contains("13800138000"),
        "workflow's log shows a customer's phone number"
    );

    // Space returns: the workflow recovers by itself, records what was left unacked, and the
    // refused commands succeed when repeated with their command ids.
    std::fs::remove_file(&ballast).expect("delete the ballast");
    let freed_at = Instant::now();
    let mut client = TicketsClient::new(workflow.clone());
    let mut commands_back = None;
    for (ticket_id, command_id) in &refused_commands {
        loop {
            let answer = add_note(&mut client, ticket_id, command_id).await;
            if answer.result.is_ok() {
                commands_back.get_or_insert(freed_at.elapsed());
                break;
            }
            assert!(
                freed_at.elapsed() < Duration::from_secs(120),
                "command {command_id} still refused after the disk had room again: {answer:?}\n\
                 {} bytes free: {}\n{}",
                disk.free_bytes(),
                listing(pair.service(Service::Workflow).data_dir()),
                tail(&pair.workflow().log(), 30)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let mut acknowledged = warm_acknowledged.clone();
    acknowledged.extend(acknowledged_of(&answers));
    let (_, caught_up) = wait_for_tickets(&workflow, &acknowledged, Duration::from_secs(300)).await;
    let dead_letters = metric(
        pair.workflow().metrics_address(),
        "cloop_workflow_dead_letters_total",
    );
    let free_after = disk.free_bytes();
    eprintln!(
        "disk_full_workflow: {free_after} bytes free after catching up: {}",
        listing(pair.service(Service::Workflow).data_dir())
    );
    let mut figures = check_outcome(
        &mut pair,
        "disk_full_workflow",
        &acknowledged,
        Duration::from_secs(60),
    )
    .await;
    figures.add("disk_mib", WORKFLOW_DISK_BYTES / (1024 * 1024));
    figures.add("filled_secs", format!("{:.1}", filled_after.as_secs_f64()));
    figures.add("commands", command_answers.len());
    figures.add("commands_unavailable", refused_commands.len());
    figures.add(
        "max_command_latency_ms",
        command_answers
            .iter()
            .map(|(_, answer)| answer.latency.as_millis())
            .max()
            .unwrap_or(0),
    );
    figures.add(
        "commands_back_secs",
        format!("{:.1}", commands_back.unwrap_or_default().as_secs_f64()),
    );
    figures.add("caught_up_secs", format!("{:.1}", caught_up.as_secs_f64()));
    figures.add("dead_letters", dead_letters.unwrap_or(0.0));
    figures.print();
    figures.assert_clean();
    assert_eq!(
        dead_letters,
        Some(0.0),
        "feedback went to the dead-letter subject"
    );
    drop(pair);
    drop(disk);
}
