use super::*;

fn record(key: &str, feedback_id: &str, at_ms: i64, kind: KeyKind) -> OutboxRecord {
    OutboxRecord {
        feedback_id: feedback_id.into(),
        ticket_id: format!("T-{feedback_id}"),
        subject: "feedback.received.web".into(),
        payload: vec![1, 2, 3],
        received_at_ms: at_ms,
        idempotency_key: key.into(),
        key_kind: kind,
        response: feedback_id.as_bytes().to_vec(),
        contact_hashes: vec![format!("hash-{feedback_id}").into_bytes()],
    }
}

/// Accepts the record of `key` as [`record`] makes it.
async fn accept(
    outbox: &Outbox,
    key: &str,
    feedback_id: &str,
    at_ms: i64,
    kind: KeyKind,
) -> AcceptOutcome {
    outbox
        .accept(record(key, feedback_id, at_ms, kind), WAIT)
        .await
        .expect("accept")
}

/// The answer to a repeat of the key first answered with `response`.
fn duplicate_of(response: &[u8]) -> AcceptOutcome {
    AcceptOutcome::Duplicate {
        response: response.to_vec(),
    }
}

/// An outbox in a new temporary folder (kept while the folder lives).
fn fresh() -> (tempfile::TempDir, Outbox) {
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = open(&dir);
    (dir, outbox)
}

fn open(dir: &tempfile::TempDir) -> Outbox {
    Outbox::open(
        &dir.path().join("outbox.db"),
        OutboxOptions {
            content_window: Duration::from_millis(1_000),
            ..OutboxOptions::default()
        },
    )
    .expect("open outbox")
}

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_key_seen_before_returns_the_first_answer() {
    let (_dir, outbox) = fresh();
    let first = accept(&outbox, "web:1", "f1", 1_000, KeyKind::External).await;
    assert!(matches!(first, AcceptOutcome::Accepted { .. }));
    let second = accept(&outbox, "web:1", "f2", 900_000, KeyKind::External).await;
    assert_eq!(second, duplicate_of(b"f1"));
    assert_eq!(outbox.counters().depth(), 1);
    assert_eq!(outbox.state_of("f2").await.expect("read"), None);
}

#[tokio::test]
async fn concurrent_repeats_of_one_key_write_one_row() {
    let (_dir, outbox) = fresh();
    let attempts = (0..32).map(|index| {
        let outbox = outbox.clone();
        async move {
            outbox
                .accept(
                    record("app:x", &format!("f{index}"), 1_000, KeyKind::External),
                    WAIT,
                )
                .await
                .expect("accept")
        }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let accepted = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, AcceptOutcome::Accepted { .. }))
        .count();
    assert_eq!(accepted, 1);
    assert_eq!(outbox.load_pending(0, 100).await.expect("load").len(), 1);
}

#[tokio::test]
async fn content_keys_expire_after_the_window_external_keys_do_not() {
    let (_dir, outbox) = fresh();
    accept(&outbox, "content:abc", "f1", 1_000, KeyKind::Content).await;
    let within = accept(&outbox, "content:abc", "f2", 1_500, KeyKind::Content).await;
    assert!(matches!(within, AcceptOutcome::Duplicate { .. }));
    let after = accept(&outbox, "content:abc", "f3", 5_000, KeyKind::Content).await;
    assert!(matches!(after, AcceptOutcome::Accepted { .. }));
    let again = accept(&outbox, "content:abc", "f4", 5_100, KeyKind::Content).await;
    assert_eq!(again, duplicate_of(b"f3"));
}

/// Accepts `count` records `web:<prefix><index>` / `<prefix><index>`, one at a time.
async fn accept_each(outbox: &Outbox, prefix: &str, count: usize) {
    for index in 0..count {
        accept(
            outbox,
            &format!("web:{prefix}{index}"),
            &format!("{prefix}{index}"),
            1_000,
            KeyKind::External,
        )
        .await;
    }
}

#[tokio::test]
async fn rows_stay_unconfirmed_until_workflow_confirms_them_and_are_then_pruned() {
    let (_dir, outbox) = fresh();
    accept_each(&outbox, "f", 3).await;
    let unconfirmed = outbox.load_pending(0, 10).await.expect("load");
    assert_eq!(unconfirmed.len(), 3);
    assert!(unconfirmed.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    let counters = outbox.counters();
    assert_eq!(counters.depth(), 3);
    // The relay says how many are pending; the rest of the depth is published.
    counters.pending.store(1, Ordering::Relaxed);
    assert_eq!((counters.pending(), counters.published()), (1, 2));

    let confirmed = outbox
        .confirm(vec!["f0".into(), "f2".into(), "unknown".into()], 4_000)
        .await
        .expect("confirm");
    assert_eq!(confirmed, 2);
    assert_eq!(counters.depth(), 1);
    assert_eq!((counters.pending(), counters.published()), (1, 0));
    assert_eq!(
        outbox.state_of("f0").await.expect("read"),
        Some("confirmed")
    );
    assert_eq!(
        outbox.state_of("f1").await.expect("read"),
        Some("unconfirmed")
    );
    assert_eq!(outbox.load_pending(0, 10).await.expect("load").len(), 1);
    // A late record of a publish does not bring a confirmed row back.
    let changed = outbox
        .record_republished(vec![(unconfirmed[2].seq, true)], 4_500)
        .await
        .expect("record");
    assert_eq!(changed, 0);
    assert_eq!(
        outbox.state_of("f2").await.expect("read"),
        Some("confirmed")
    );

    let pruned = outbox
        .prune(PruneBefore {
            confirmed_before_ms: 5_000,
            external_keys_before_ms: 0,
            content_keys_before_ms: 0,
        })
        .await
        .expect("prune");
    assert_eq!(pruned, Pruned { rows: 2, keys: 0 });
    assert_eq!(outbox.state_of("f0").await.expect("read"), None);
    // The idempotency key outlives the pruned row.
    let repeat = accept(&outbox, "web:f0", "f9", 6_000, KeyKind::External).await;
    assert_eq!(repeat, duplicate_of(b"f0"));
}

#[tokio::test]
async fn committed_rows_are_handed_to_the_relay_in_order_without_a_read() {
    let (_dir, outbox) = fresh();
    let mut feed = outbox.take_feed().expect("the first taker gets the feed");
    assert!(outbox.take_feed().is_none(), "and only the first");
    let before = chrono::Utc::now().timestamp_millis();
    accept_each(&outbox, "h", 3).await;
    // A repeat adds no row and hands nothing over.
    accept(&outbox, "web:h1", "h-again", 1_000, KeyKind::External).await;
    let mut after = 0;
    let mut handed = Vec::new();
    while let handoff::Next::Batch(batch) = feed.try_next() {
        assert_eq!(batch.after, after, "each batch follows the one before");
        after = batch.rows.last().expect("a batch has rows").seq;
        handed.extend(batch.rows);
    }
    assert_eq!(feed.last_committed(), after);
    assert_eq!(outbox.last_committed(), after);
    let ids: Vec<&str> = handed.iter().map(|row| row.feedback_id.as_str()).collect();
    assert_eq!(ids, ["h0", "h1", "h2"]);
    let row = &handed[1];
    assert_eq!(
        (
            row.ticket_id.as_str(),
            row.subject.as_str(),
            &row.payload[..]
        ),
        ("T-h1", "feedback.received.web", &[1u8, 2, 3][..])
    );
    assert_eq!(row.attempts, 0);
    assert!(row.wait_from_ms >= before, "its wait starts at the commit");
    // The same rows as a read gives, and no read was made to get them.
    assert_eq!(outbox.load_pending(0, 10).await.expect("load"), handed);
    assert_eq!(
        outbox.handoff_stats(),
        handoff::HandoffStats {
            dropped_batches: 0,
            reads: 1
        }
    );
}

#[tokio::test]
async fn a_full_handoff_drops_batches_and_the_receiver_sees_the_gap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = Outbox::open(
        &dir.path().join("outbox.db"),
        OutboxOptions {
            max_batch: 1,
            handoff_rows: 1,
            ..OutboxOptions::default()
        },
    )
    .expect("open outbox");
    let mut feed = outbox.take_feed().expect("feed");
    accept_each(&outbox, "g", 3).await;
    assert_eq!(outbox.handoff_stats().dropped_batches, 2);
    let handoff::Next::Batch(first) = feed.try_next() else {
        panic!("the first batch was handed over");
    };
    assert_eq!(first.after, 0);
    let cursor = first.rows[0].seq;
    assert!(matches!(feed.try_next(), handoff::Next::Empty));
    // Drained, and still behind the last row committed: two batches were dropped.
    assert!(feed.last_committed() > cursor);
    // The next batch fits again, and says what came before it.
    accept(&outbox, "web:g3", "g3", 1_000, KeyKind::External).await;
    let handoff::Next::Batch(next) = feed.try_next() else {
        panic!("the next batch was handed over");
    };
    assert!(next.after > cursor);
    // The read after the cursor finds the dropped rows.
    let read: Vec<String> = outbox
        .load_pending(cursor, 10)
        .await
        .expect("load")
        .into_iter()
        .map(|row| row.feedback_id)
        .collect();
    assert_eq!(read, ["g1", "g2", "g3"]);
}

#[tokio::test]
async fn rows_survive_a_reopen_with_their_counters() {
    let (dir, outbox) = fresh();
    // A clone still held elsewhere must not keep the writer alive after close.
    let clone = outbox.clone();
    accept(&outbox, "web:1", "f1", 1_000, KeyKind::External).await;
    outbox.close().await;
    let refused = clone
        .accept(record("web:2", "f2", 1_000, KeyKind::External), WAIT)
        .await;
    assert!(
        matches!(refused, Err(IntakeError::WriterStopped)),
        "{refused:?}"
    );
    let reopened = open(&dir);
    assert_eq!(reopened.counters().depth(), 1);
    // After a restart every unconfirmed row is published again: all are pending.
    assert_eq!(reopened.counters().pending(), 1);
    assert_eq!(reopened.load_pending(0, 10).await.expect("load").len(), 1);
}

#[tokio::test]
async fn a_ticket_keeps_the_hashes_of_its_contacts_for_replies() {
    let (_dir, outbox) = fresh();
    accept(&outbox, "web:c1", "c1", 1_000, KeyKind::External).await;
    let own = vec![b"other".to_vec(), b"hash-c1".to_vec()];
    assert!(outbox
        .ticket_has_contact("T-c1".into(), own)
        .await
        .expect("read"));
    for (ticket, hashes) in [
        ("T-c1", vec![b"hash-c2".to_vec()]),
        ("T-c2", vec![b"hash-c1".to_vec()]),
        ("T-c1", Vec::new()),
    ] {
        assert!(!outbox
            .ticket_has_contact(ticket.into(), hashes)
            .await
            .expect("read"));
    }
}

/// How many unconfirmed rows are due to be published again at `now_ms`.
async fn unconfirmed_at(outbox: &Outbox, now_ms: i64, timeout_ms: i64) -> usize {
    outbox
        .load_unconfirmed(now_ms, timeout_ms, i64::MAX, 10)
        .await
        .expect("load unconfirmed")
        .len()
}

#[tokio::test]
async fn an_unconfirmed_row_is_due_a_timeout_after_its_commit_then_twice_and_four_times_that() {
    let (_dir, outbox) = fresh();
    let timeout = 1_000;
    let before = chrono::Utc::now().timestamp_millis();
    accept(&outbox, "web:backoff", "fb", 1_000, KeyKind::External).await;
    let after = chrono::Utc::now().timestamp_millis();
    let row = outbox.load_pending(0, 10).await.expect("load").remove(0);
    // Never published again yet: due the timeout after the commit (the wall clock, not the
    // instant the submission says it was received at).
    assert_eq!(
        unconfirmed_at(&outbox, before + timeout - 1, timeout).await,
        0
    );
    assert_eq!(unconfirmed_at(&outbox, after + timeout, timeout).await, 1);
    assert!((before + timeout..=after + timeout).contains(&due_at_ms(&row, timeout)));
    // Only rows the relay has taken (up to its cursor) are published again.
    let taken = |up_to| outbox.load_unconfirmed(after + timeout, timeout, up_to, 10);
    assert!(taken(row.seq - 1).await.expect("load").is_empty());
    // (published again at, published again or only late, earliest instant it is due again):
    // 2, 4, then 4 times the timeout; a late first publish only starts the wait again.
    for (published, again, due) in [
        (10_000, true, 12_000),
        (20_000, true, 24_000),
        (30_000, true, 34_000),
        (40_000, false, 44_000),
    ] {
        let changed = outbox
            .record_republished(vec![(row.seq, again)], published)
            .await
            .expect("record");
        assert_eq!(changed, 1);
        assert_eq!(
            unconfirmed_at(&outbox, due - 1, timeout).await,
            0,
            "{published}"
        );
        let due_rows = outbox
            .load_unconfirmed(due, timeout, i64::MAX, 10)
            .await
            .expect("load");
        assert_eq!(due_rows.len(), 1, "{published}");
        assert_eq!(due_at_ms(&due_rows[0], timeout), due, "{published}");
    }
    // A timeout too large to double still answers (nothing is due), it does not overflow.
    assert_eq!(unconfirmed_at(&outbox, 60_000, i64::MAX).await, 0);
    outbox
        .confirm(vec!["fb".into()], 60_000)
        .await
        .expect("confirm");
    assert_eq!(unconfirmed_at(&outbox, i64::MAX / 2, timeout).await, 0);
}

#[tokio::test]
async fn rows_an_earlier_version_marked_published_are_unconfirmed_after_opening() {
    let (dir, outbox) = fresh();
    accept_each(&outbox, "old", 2).await;
    outbox.close().await;
    let connection = Connection::open(dir.path().join("outbox.db")).expect("open");
    // As the earlier version left them: one published twice, one never published.
    connection
        .execute_batch(
            "UPDATE outbox SET state = 1, attempts = 2, published_at_ms = 5000
               WHERE feedback_id = 'old0';
             UPDATE outbox SET published_at_ms = NULL WHERE feedback_id = 'old1';",
        )
        .expect("update");
    drop(connection);
    let before = chrono::Utc::now().timestamp_millis();
    let reopened = open(&dir);
    assert_eq!(reopened.counters().depth(), 2);
    assert_eq!(
        reopened.state_of("old0").await.expect("read"),
        Some("unconfirmed")
    );
    let rows = reopened.load_pending(0, 10).await.expect("load");
    // Published twice: published again once, so its wait doubled once.
    assert_eq!((rows[0].attempts, rows[0].wait_from_ms), (1, 5_000));
    assert_eq!(due_at_ms(&rows[0], 1_000), 7_000);
    assert!(rows[1].wait_from_ms >= before);
}
