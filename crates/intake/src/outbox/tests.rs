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

#[tokio::test]
async fn rows_move_from_pending_to_published_to_confirmed_and_are_pruned() {
    let (_dir, outbox) = fresh();
    for index in 0..3 {
        outbox
            .accept(
                record(
                    &format!("web:{index}"),
                    &format!("f{index}"),
                    1_000,
                    KeyKind::External,
                ),
                WAIT,
            )
            .await
            .expect("accept");
    }
    let pending = outbox.load_pending(0, 10).await.expect("load");
    assert_eq!(pending.len(), 3);
    assert!(pending.windows(2).all(|pair| pair[0].seq < pair[1].seq));
    outbox
        .mark_published(vec![pending[0].seq, pending[1].seq], 2_000)
        .await
        .expect("mark");
    let counters = outbox.counters();
    assert_eq!(counters.pending.load(Ordering::Relaxed), 1);
    assert_eq!(counters.published.load(Ordering::Relaxed), 2);
    // Published at 2,000 with a timeout of 1,000: due at 3,000, not before.
    assert_eq!(unconfirmed_at(&outbox, 3_000, 1_000).await, 2);
    assert_eq!(unconfirmed_at(&outbox, 2_999, 1_000).await, 0);

    // A confirmation may arrive for a published row or even before the publish ack.
    let confirmed = outbox
        .confirm(vec!["f0".into(), "f2".into(), "unknown".into()], 4_000)
        .await
        .expect("confirm");
    assert_eq!(confirmed, 2);
    assert_eq!(counters.depth(), 1);
    assert_eq!(
        outbox.state_of("f0").await.expect("read"),
        Some("confirmed")
    );
    assert_eq!(
        outbox.state_of("f1").await.expect("read"),
        Some("published")
    );
    // A late publish ack does not bring a confirmed row back.
    outbox
        .mark_published(vec![pending[2].seq], 4_500)
        .await
        .expect("mark");
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
    let repeat = accept(&outbox, "web:0", "f9", 6_000, KeyKind::External).await;
    assert_eq!(repeat, duplicate_of(b"f0"));
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
        .load_unconfirmed(now_ms, timeout_ms, 10)
        .await
        .expect("load unconfirmed")
        .len()
}

#[tokio::test]
async fn an_unconfirmed_row_waits_twice_as_long_after_each_publish_up_to_four_times() {
    let (_dir, outbox) = fresh();
    outbox
        .accept(record("web:backoff", "fb", 1_000, KeyKind::External), WAIT)
        .await
        .expect("accept");
    let seq = outbox.load_pending(0, 10).await.expect("load")[0].seq;
    let timeout = 1_000;
    // (published at, earliest instant it is due again): 1, 2, 4, then 4 times the timeout.
    for (published, due) in [
        (10_000, 11_000),
        (20_000, 22_000),
        (30_000, 34_000),
        (40_000, 44_000),
        (50_000, 54_000),
    ] {
        outbox
            .mark_published(vec![seq], published)
            .await
            .expect("mark");
        assert_eq!(
            unconfirmed_at(&outbox, due - 1, timeout).await,
            0,
            "{published}"
        );
        assert_eq!(
            unconfirmed_at(&outbox, due, timeout).await,
            1,
            "{published}"
        );
    }
    // A timeout too large to double still answers (nothing is due), it does not overflow.
    assert_eq!(unconfirmed_at(&outbox, 60_000, i64::MAX).await, 0);
    outbox
        .confirm(vec!["fb".into()], 60_000)
        .await
        .expect("confirm");
    assert_eq!(unconfirmed_at(&outbox, i64::MAX / 2, timeout).await, 0);
}
