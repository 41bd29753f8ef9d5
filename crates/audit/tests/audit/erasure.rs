//! Erasure end to end on a real log and key store: after a customer is erased, their
//! phone, e-mail and name appear nowhere in what the audit tools read or write, and the log
//! still verifies; a key store restored from an older backup is brought back in line by
//! replaying the log's erasure events.

use audit::{
    audit_month, decode_rows, export_jsonl, reapply_erasures, sealed_keys_of, ticket_at_in,
    verify_jsonl, Month, PositionRange, RuleOptions,
};
use chrono::Utc;
use domain::event::CustomerErased;
use domain::types::{Kind, Outcome, Priority};
use domain::{Event, Rules};
use eventlog::{EventLog, ExpectedVersion, NewEvent};
use vault::{CustomerRef, Vault};

use super::fixtures::{base, customer, minutes, open_log, TicketBuilder};

const SECRETS: [&str; 3] = ["13812345678", "zhang.sanfeng@example.cn", "张三丰"];

/// Appends a ticket's events with the customer and their words sealed under the customer's
/// key, as the workflow does (`Vault::seal_personal`).
fn append_sealed(log: &EventLog, vault: &Vault, ticket: &TicketBuilder) {
    let mut payloads: Vec<(&str, serde_json::Value)> = ticket
        .events
        .iter()
        .map(|event| (event.event.event_type(), event.event.to_payload()))
        .collect();
    let reference = payloads
        .iter()
        .filter_map(|(_, payload)| payload.get("customer"))
        .find_map(CustomerRef::from_customer_json)
        .expect("the ticket's customer");
    let mut targets: Vec<(&str, &mut serde_json::Value)> = payloads
        .iter_mut()
        .map(|(event_type, payload)| (*event_type, payload))
        .collect();
    vault
        .seal_personal(&reference, &mut targets)
        .expect("seal the customer and their words");
    let new_events: Vec<NewEvent> = ticket
        .events
        .iter()
        .zip(payloads)
        .map(|(event, (event_type, payload))| {
            NewEvent::new(event_type, payload).with_occurred_at(event.event.at())
        })
        .collect();
    log.append_blocking(&ticket.stream_id, ExpectedVersion::Any, new_events)
        .expect("append");
}

fn export_text(log: &EventLog) -> String {
    let mut export = Vec::new();
    export_jsonl(log, PositionRange::all(), &mut export, |_, _| {}).expect("export");
    String::from_utf8(export).expect("utf-8")
}

fn assert_hidden(text: &str, what: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} visible in {what}");
    }
}

#[test]
fn an_erased_customer_is_gone_from_every_reading_and_the_log_still_verifies() {
    let directory = tempfile::tempdir().expect("create a temp dir");
    let log = open_log(&directory.path().join("events.db"));
    let keys = directory.path().join("keys.db");
    let backup = directory.path().join("keys-backup.db");
    let vault = Vault::open_file(&keys).expect("open the key store");

    let mut erased_ticket = TicketBuilder::received(base());
    erased_ticket
        .classify(minutes(5), Kind::Problem, Priority::Medium)
        .dispatch(minutes(5))
        .acknowledge(minutes(30))
        .propose(minutes(60), Outcome::Fixed, false)
        .review(minutes(70), 5)
        .archive(minutes(80));
    append_sealed(&log, &vault, &erased_ticket);
    let mut kept_ticket = TicketBuilder::received(base());
    if let Event::Received(received) = &mut kept_ticket.events[0].event {
        received.customer.phone = Some("+8613900000000".to_string());
        received.customer.email = None;
        received.customer.name = Some("李四".to_string());
    }
    append_sealed(&log, &vault, &kept_ticket);

    // Before the erasure: sealed in the log and its export, readable with the keys.
    assert_hidden(&export_text(&log), "the export before erasure");
    let before = ticket_at_in(&log, &erased_ticket.ticket_id, Utc::now(), Some(&vault))
        .expect("fold")
        .expect("exists");
    assert_eq!(before.ticket.customer, customer());
    vault.backup_to(&backup).expect("back up the keys");

    // The erasure: destroy the key, record the event.
    let rows = log
        .read_stream_blocking(&erased_ticket.stream_id, 0)
        .expect("read the ticket");
    let sealed_with = sealed_keys_of(&rows).expect("find the keys");
    assert_eq!(sealed_with.len(), 1);
    let reference = CustomerRef::from_customer_json(
        &serde_json::to_value(customer()).expect("customer as json"),
    )
    .expect("a reference");
    assert_eq!(
        vault.key_id_of(&reference).expect("look up"),
        Some(sealed_with[0])
    );
    assert!(vault.erase(&reference).expect("erase"));
    let erased = Event::CustomerErased(CustomerErased { at: minutes(90) });
    log.append_blocking(
        &erased_ticket.stream_id,
        ExpectedVersion::Any,
        vec![NewEvent::new(erased.event_type(), erased.to_payload())],
    )
    .expect("record the erasure");

    // After: no reading shows the customer, at any instant.
    let now = ticket_at_in(&log, &erased_ticket.ticket_id, Utc::now(), Some(&vault))
        .expect("fold")
        .expect("exists");
    assert!(now.ticket.customer_erased);
    assert_eq!(now.ticket.customer, Default::default());
    assert_hidden(&format!("{:?}", now.ticket), "the ticket now");
    let earlier = ticket_at_in(
        &log,
        &erased_ticket.ticket_id,
        before_instant(&log),
        Some(&vault),
    )
    .expect("fold")
    .expect("exists");
    assert_eq!(earlier.ticket.customer, Default::default());
    let rows = log
        .read_stream_blocking(&erased_ticket.stream_id, 0)
        .expect("read the ticket");
    let decoded = decode_rows(&rows, Some(&vault)).expect("decode");
    assert_hidden(&format!("{decoded:?}"), "the decoded events");
    let export = export_text(&log);
    assert_hidden(&export, "the export after erasure");
    for row in log.read_all_blocking(1, 1_000).expect("read the log") {
        let mut payload = row.payload_value().expect("json");
        vault.open_in_place(&mut payload).expect("open");
        assert_hidden(&payload.to_string(), "an opened payload");
    }
    // The other customer is untouched.
    let kept = ticket_at_in(&log, &kept_ticket.ticket_id, Utc::now(), Some(&vault))
        .expect("fold")
        .expect("exists");
    assert_eq!(kept.ticket.customer.name.as_deref(), Some("李四"));

    // The chain is intact, in the database and in the export.
    let chain = log.verify(None, |_, _| {}).expect("verify");
    assert!(chain.ok, "{chain:?}");
    let report = verify_jsonl(export.as_bytes(), &[]).expect("verify the export");
    assert!(report.chain.ok);
    assert_eq!(report.chain.head_hash, chain.head_hash);
    // The rule audit needs no keys.
    let audit = audit_month(
        &log,
        &Rules::defaults(),
        Month::parse("2026-11").expect("a month"),
        &RuleOptions::new(minutes(100)),
    )
    .expect("audit");
    assert_eq!(audit.tickets_checked, 2);

    // A key store restored from the backup has the key again, until the log's erasure
    // events are replayed against it.
    drop(vault);
    let restored_path = directory.path().join("restored-keys.db");
    Vault::restore(&backup, &restored_path).expect("restore");
    let restored = Vault::open_file(&restored_path).expect("open the restored keys");
    let again = ticket_at_in(&log, &erased_ticket.ticket_id, Utc::now(), Some(&restored))
        .expect("fold")
        .expect("exists");
    // The fold clears the customer after the erasure event even with the key back ...
    assert_eq!(again.ticket.customer, Default::default());
    // ... but the sealed object itself would open: replay the erasures.
    let replay = reapply_erasures(&log, &restored).expect("replay erasures");
    assert_eq!(replay.erased_streams, 1);
    assert_eq!(replay.keys_erased, sealed_with);
    let mut received = rows[0].payload_value().expect("json");
    let stats = restored.open_in_place(&mut received).expect("open");
    // Nothing of it opens: the customer and the content are both erased.
    assert_eq!((stats.opened, stats.erased), (0, 2));
    assert_eq!(
        reapply_erasures(&log, &restored)
            .expect("replay again")
            .keys_erased,
        Vec::new()
    );
}

/// An instant just after the ticket's first row was recorded.
fn before_instant(log: &EventLog) -> chrono::DateTime<Utc> {
    log.read_all_blocking(1, 1).expect("read")[0].recorded_at
}
