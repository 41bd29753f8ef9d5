//! The VIP flag in the workflow's core (`workflow::vip`), on a SQLite data folder without NATS:
//! whether a customer is a VIP at receipt, the recomputation of their tickets when the tag
//! `vip` is put on or taken off (another customer's ticket untouched, a repeat recording
//! nothing), and the projections equal to a rebuild from the log afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use domain::command::Command;
use domain::ids::{CommandId, TicketId};
use domain::ticket::{Customer, Ticket};
use domain::types::{Actor, Role};
use domain::Rules;
use proto::v1;
use workflow::projections;
use workflow::vip;

const PHONE: &str = "+8613900000001";
const OTHER: &str = "+8613700000002";

fn customer(phone: &str) -> Customer {
    Customer {
        phone: Some(phone.to_owned()),
        ..Customer::default()
    }
}

async fn ticket(harness: &support::Harness, ticket_id: &TicketId) -> Ticket {
    harness
        .commands
        .load(ticket_id)
        .await
        .unwrap()
        .expect("the ticket")
}

fn deadlines(
    ticket: &Ticket,
) -> (
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
) {
    (ticket.respond_by, ticket.resolve_by)
}

async fn tag(harness: &support::Harness, newest: &TicketId, remove: bool) {
    let admin = Actor {
        principal: "admin".to_owned(),
        role: Role::Admin,
        department: None,
    };
    let command_id = CommandId::parse(&uuid::Uuid::new_v4().to_string()).unwrap();
    harness
        .commands
        .execute(
            &admin,
            newest,
            &command_id,
            None,
            Command::TagCustomer {
                tag: "vip".to_owned(),
                remove,
            },
        )
        .await
        .expect("tagged");
}

#[tokio::test(flavor = "multi_thread")]
async fn tagging_recomputes_only_the_customers_tickets_once_and_untagging_restores() {
    let mut harness = support::Harness::new(Rules::defaults());
    let mut mine = Vec::new();
    let mut payloads = Vec::new();
    for _ in 0..3 {
        let (payload, ticket_id) = harness.web_message(
            v1::Customer {
                phone: PHONE.into(),
                ..Default::default()
            },
            "APP卡顿，打开很慢",
        );
        payloads.push(payload);
        mine.push(ticket_id);
    }
    let (payload, other) = harness.web_message(
        v1::Customer {
            phone: OTHER.into(),
            ..Default::default()
        },
        "APP卡顿，打开很慢",
    );
    payloads.push(payload);
    harness.record(&payloads).await;
    let mut before = Vec::new();
    for ticket_id in &mine {
        before.push(deadlines(&ticket(&harness, ticket_id).await));
    }
    let other_before = ticket(&harness, &other).await;
    let key = vip::contact_index_key(&harness.vault).await.unwrap();
    let hashes = domain::customer::ticket_contact_hashes(&key, &customer(PHONE));
    let flags = vip::receipt_flags(
        &harness.commands,
        &[Some(customer(PHONE)), None, Some(Customer::default())],
    )
    .await
    .unwrap();
    assert_eq!(flags, vec![false, false, false]);

    // Tagged on the newest ticket: all three of the customer's tickets change, once.
    tag(&harness, mine.last().unwrap(), false).await;
    harness.clock.advance(chrono::Duration::minutes(5));
    let changed = vip::recompute_customer(&harness.commands, hashes.clone())
        .await
        .unwrap();
    assert_eq!(changed, 3);
    for (ticket_id, (respond, resolve)) in mine.iter().zip(&before) {
        let tagged = ticket(&harness, ticket_id).await;
        assert!(tagged.vip, "{ticket_id}");
        assert!(tagged.respond_by <= *respond && tagged.resolve_by <= *resolve);
        assert_ne!(deadlines(&tagged), (*respond, *resolve), "{ticket_id}");
    }
    assert_eq!(ticket(&harness, &other).await, other_before);
    let again = vip::recompute_customer(&harness.commands, hashes.clone())
        .await
        .unwrap();
    assert_eq!(again, 0, "nothing left to change");
    assert!(
        !vip::recompute_ticket(&harness.commands, &mine[0], true, vip::REASON_TAGGED)
            .await
            .unwrap()
    );
    // A new ticket of the customer is a VIP's at receipt; the other customer's is not.
    let flags = vip::receipt_flags(
        &harness.commands,
        &[Some(customer(PHONE)), None, Some(customer(OTHER))],
    )
    .await
    .unwrap();
    assert_eq!(flags, vec![true, false, false]);

    // Untagged: back to the deadlines of their own rows.
    tag(&harness, mine.last().unwrap(), true).await;
    let changed = vip::recompute_customer(&harness.commands, hashes)
        .await
        .unwrap();
    assert_eq!(changed, 3);
    for (ticket_id, original) in mine.iter().zip(&before) {
        let untagged = ticket(&harness, ticket_id).await;
        assert!(!untagged.vip);
        assert_eq!(deadlines(&untagged), *original, "{ticket_id}");
    }
    let flags = vip::receipt_flags(&harness.commands, &[Some(customer(PHONE))])
        .await
        .unwrap();
    assert_eq!(flags, vec![false]);

    // The projections are a fold of the log.
    let connection =
        rusqlite::Connection::open(harness.directory.path().join(workflow::DATABASE_FILE)).unwrap();
    let incremental = projections::digest(&connection).unwrap();
    let rebuilt = support::rebuilt_in_memory(&harness.log, &harness.rules, &harness.vault);
    assert_eq!(projections::digest(&rebuilt).unwrap(), incremental);
}
