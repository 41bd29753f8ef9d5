//! Personal data in the workflow without NATS: the consumer's sealing puts only ciphertext
//! in the log, the projector opens it, and erasing a customer destroys their keys, records
//! `customer_erased` on each of their tickets (found through every identifier they gave),
//! empties the projections, leaves no contact data in the database file, keeps the chain
//! verifying, and survives a rebuild of the projections.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use domain::ids::{CommandId, FeedbackId, TicketId};
use domain::types::{Actor, Role};
use domain::Rules;
use prost::Message;
use proto::v1;
use service::Failure;
use workflow::clock::Clock;
use workflow::erasure::{Erasure, ErasureTarget};
use workflow::projections;

const NAME: &str = "Canary Zhao";
const PHONE: &str = "+8613912345678";
const EMAIL: &str = "canary.zhao@example.cn";

/// The harness, with erasure's own steps below.
type Core = support::Harness;

impl support::Harness {
    fn erasure(&self) -> Erasure {
        Erasure {
            commands: self.commands.clone(),
            vault: self.vault.clone(),
        }
    }

    /// Erases `target` as an admin, which must succeed.
    async fn erase(
        &self,
        target: ErasureTarget,
        command: &CommandId,
        reason: &str,
    ) -> workflow::erasure::ErasureOutcome {
        self.erasure()
            .erase(&admin(), target, command, reason)
            .await
            .unwrap()
    }

    /// Records a submission as the consumer does (sealed); returns the ticket id.
    async fn submit(&mut self, customer: v1::Customer, content: &str) -> TicketId {
        let (payload, ticket_id) = self.web_message(customer, content);
        assert_eq!(self.record(&[payload]).await, vec![false]);
        ticket_id
    }

    async fn ticket(&self, ticket_id: &TicketId) -> domain::Ticket {
        self.commands.load(ticket_id).await.unwrap().unwrap()
    }

    fn database_bytes(&self) -> Vec<u8> {
        let mut bytes = std::fs::read(self.directory.path().join(workflow::DATABASE_FILE)).unwrap();
        let wal = self
            .directory
            .path()
            .join(format!("{}-wal", workflow::DATABASE_FILE));
        if let Ok(more) = std::fs::read(wal) {
            bytes.extend(more);
        }
        bytes
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn admin() -> Actor {
    Actor {
        principal: "root".into(),
        role: Role::Admin,
        department: None,
    }
}

fn full_customer() -> v1::Customer {
    v1::Customer {
        customer_id: "C-canary".into(),
        name: NAME.into(),
        phone: PHONE.into(),
        email: EMAIL.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn erasing_a_customer_leaves_their_contact_data_nowhere_but_sealed() {
    let mut core = Core::new(Rules::defaults());
    let first = core.submit(full_customer(), "APP卡顿，打开很慢").await;
    // The same person writes again with only their e-mail: another key, same customer.
    let second = core
        .submit(
            v1::Customer {
                name: NAME.into(),
                email: EMAIL.into(),
                ..Default::default()
            },
            "退款一直没有到账",
        )
        .await;
    let stranger = core
        .submit(
            v1::Customer {
                name: "Someone Else".into(),
                phone: "+8613700000000".into(),
                ..Default::default()
            },
            "售后响应慢",
        )
        .await;

    // The log holds only ciphertext; the projections hold the opened customer.
    let rows = core.log.read_all(1, 1_000).await.unwrap();
    for row in &rows {
        for canary in [NAME, PHONE, EMAIL, "C-canary"] {
            assert!(!row.payload_json.contains(canary), "{canary} in the log");
        }
    }
    assert_eq!(
        core.ticket(&first).await.customer.phone.as_deref(),
        Some(PHONE)
    );
    assert_eq!(
        core.ticket(&second).await.customer.email.as_deref(),
        Some(EMAIL)
    );
    assert!(contains(&core.database_bytes(), PHONE));

    // Only an admin may erase, and a reason is required.
    let auditor = Actor {
        role: Role::Auditor,
        ..admin()
    };
    let command = CommandId::parse("erase-canary-1").unwrap();
    let refused = core
        .erasure()
        .erase(
            &auditor,
            ErasureTarget::Ticket(first.clone()),
            &command,
            "GDPR-17",
        )
        .await;
    assert!(matches!(
        refused,
        Err(Failure::Domain(
            domain::DomainError::PermissionDenied { .. }
        ))
    ));
    let no_reason = core
        .erasure()
        .erase(
            &admin(),
            ErasureTarget::Ticket(first.clone()),
            &command,
            "  ",
        )
        .await;
    assert!(matches!(
        no_reason,
        Err(Failure::Domain(domain::DomainError::Invalid { .. }))
    ));

    let outcome = core
        .erase(ErasureTarget::Ticket(first.clone()), &command, "GDPR-17")
        .await;
    assert_eq!(
        outcome.ticket_ids,
        vec![first.to_string(), second.to_string()]
    );
    assert_eq!(outcome.tickets_affected, 2);
    assert_eq!(outcome.tickets_already_erased, 0);
    assert_eq!(
        outcome.keys, 2,
        "the customer id's key and the e-mail's key"
    );

    for ticket_id in [&first, &second] {
        let ticket = core.ticket(ticket_id).await;
        assert!(ticket.customer_erased);
        assert_eq!(ticket.customer, domain::ticket::Customer::default());
    }
    let untouched = core.ticket(&stranger).await;
    assert_eq!(untouched.customer.phone.as_deref(), Some("+8613700000000"));

    // The erasure event carries the reason for auditors; the chain still verifies.
    let erased_rows: Vec<_> = core
        .log
        .read_all(1, 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.event_type == "customer_erased")
        .collect();
    assert_eq!(erased_rows.len(), 2);
    assert!(erased_rows[0].payload_json.contains("GDPR-17"));
    assert!(core.log.verify(None, |_, _| {}).unwrap().ok);

    // Nothing of the customer is left in the database file (the log's ciphertext aside).
    let bytes = core.database_bytes();
    for canary in [NAME, PHONE, EMAIL, "C-canary", "canary.zhao"] {
        assert!(
            !contains(&bytes, canary),
            "{canary} is still in workflow.db"
        );
    }
    assert!(contains(&bytes, "+8613700000000"), "the stranger is kept");

    // A repeat with the same command id answers the same; a new command id finds the
    // ticket erased before (and only what its own key links it to: the link through the
    // customer's identifiers went with the keys).
    let repeat = core
        .erase(ErasureTarget::Ticket(first.clone()), &command, "GDPR-17")
        .await;
    assert_eq!(repeat.tickets_affected, 2);
    assert_eq!(repeat.ticket_ids, outcome.ticket_ids);
    let again = core
        .erase(
            ErasureTarget::Ticket(second.clone()),
            &CommandId::parse("erase-canary-2").unwrap(),
            "GDPR-17 again",
        )
        .await;
    assert_eq!(again.tickets_affected, 0);
    assert_eq!(again.ticket_ids, vec![second.to_string()]);
    assert_eq!(again.tickets_already_erased, 1);
    assert_eq!(
        core.log.read_all(1, 1_000).await.unwrap().len(),
        rows.len() + 2
    );

    // A rebuild of the projections from the log gives the same state: the customer stays
    // erased (the received events open to the erased marker).
    let incremental = {
        let connection =
            rusqlite::Connection::open(core.directory.path().join(workflow::DATABASE_FILE))
                .unwrap();
        projections::digest(&connection).unwrap()
    };
    let memory = support::rebuilt_in_memory(&core.log, &core.rules, &core.vault);
    assert_eq!(projections::digest(&memory).unwrap(), incremental);
    let rebuilt = projections::load_ticket(&memory, &first.to_string())
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(rebuilt.customer, domain::ticket::Customer::default());
    let _ = &core.readers;
}

#[tokio::test]
async fn erasing_by_customer_id_finds_their_tickets_and_an_unknown_id_finds_nothing() {
    let mut core = Core::new(Rules::defaults());
    let first = core.submit(full_customer(), "APP卡顿").await;
    let outcome = core
        .erase(
            ErasureTarget::Customer("C-canary".into()),
            &CommandId::parse("erase-by-id").unwrap(),
            "ticket 4711 of the privacy desk",
        )
        .await;
    assert_eq!(outcome.ticket_ids, vec![first.to_string()]);
    assert_eq!(outcome.tickets_affected, 1);
    assert!(core.ticket(&first).await.customer_erased);
    let nobody = core
        .erase(
            ErasureTarget::Customer("C-unknown".into()),
            &CommandId::parse("erase-nobody").unwrap(),
            "request 4712",
        )
        .await;
    assert!(nobody.ticket_ids.is_empty());
    assert_eq!(nobody.keys, 0);
}

#[tokio::test]
async fn a_redelivery_after_an_erasure_makes_no_new_key() {
    let mut core = Core::new(Rules::defaults());
    let now = core.clock.now();
    let ticket_id = core.ids.next(now);
    let submission = v1::Submission {
        channel: "web".into(),
        customer: Some(full_customer()),
        content: "APP卡顿".into(),
        ..Default::default()
    };
    let (message, requests) =
        support::sealed_receipt(&core.vault, &core.rules, &ticket_id, now, submission);
    core.log.append_many(requests).await;
    core.erase(
        ErasureTarget::Ticket(ticket_id.clone()),
        &CommandId::parse("erase-1").unwrap(),
        "request 1",
    )
    .await;
    assert_eq!(core.vault.key_count().unwrap(), 0);
    // The consumer looks the first event up before sealing: the redelivery is a duplicate
    // and the erased customer gets no new key.
    let (request, first_id) =
        workflow::consumer::receive_request(&message, core.clock.now(), &core.rules).unwrap();
    let (fresh, duplicates) = workflow::consumer::prepare_requests(
        &core.log,
        &core.vault,
        vec![(request, ("redelivery", first_id))],
    )
    .unwrap();
    assert!(fresh.is_empty());
    assert_eq!(duplicates, vec![("redelivery", first_id)]);
    assert_eq!(core.vault.key_count().unwrap(), 0);
    // A new submission of the same customer does get a key (and is sealed).
    let (request, first_id) = workflow::consumer::receive_request(
        &v1::FeedbackReceived::decode(message.as_slice())
            .map(|mut again| {
                again.feedback_id = FeedbackId::new(now, rand::random()).to_string();
                again.ticket_id = core.ids.next(now).to_string();
                again
            })
            .unwrap()
            .encode_to_vec(),
        core.clock.now(),
        &core.rules,
    )
    .unwrap();
    let (fresh, duplicates) = workflow::consumer::prepare_requests(
        &core.log,
        &core.vault,
        vec![(request, ("new", first_id))],
    )
    .unwrap();
    assert!(duplicates.is_empty());
    assert!(!fresh[0].0.events[0].payload.to_string().contains(PHONE));
    assert_eq!(core.vault.key_count().unwrap(), 1);
}

#[tokio::test]
async fn the_report_rows_follow_an_erasure() {
    let mut core = Core::new(Rules::defaults());
    let first = core
        .submit(full_customer(), "APP卡顿，打开很慢，退款一直没有到账")
        .await;
    core.submit(
        v1::Customer {
            phone: "+8613700000000".into(),
            ..Default::default()
        },
        "售后响应慢",
    )
    .await;
    let connection =
        rusqlite::Connection::open(core.directory.path().join(workflow::DATABASE_FILE)).unwrap();
    support::assert_report_rows_follow_states(&connection);
    let seq: i64 = connection
        .query_row(
            "SELECT seq FROM tickets WHERE ticket_id = ?1",
            [first.to_string()],
            |row| row.get(0),
        )
        .unwrap();
    let row_of = |connection: &rusqlite::Connection| -> reports::ReportRow {
        let facts: String = connection
            .query_row(
                "SELECT facts FROM report_rows WHERE seq = ?1",
                [seq],
                |row| row.get(0),
            )
            .unwrap();
        serde_json::from_str(&facts).unwrap()
    };
    let before = core.ticket(&first).await;
    assert_eq!(row_of(&connection).terms, before.terms);

    core.erase(
        ErasureTarget::Ticket(first.clone()),
        &CommandId::parse("erase-report-rows-1").unwrap(),
        "GDPR-17",
    )
    .await;
    support::assert_report_rows_follow_states(&connection);
    let after = row_of(&connection);
    assert!(after.terms.is_empty(), "the terms are the customer's words");
    assert_eq!(
        after.keywords, before.keywords,
        "the keywords are the rules'"
    );
    assert_eq!(after.version, before.version + 1);
    let memory = support::rebuilt_in_memory(&core.log, &core.rules, &core.vault);
    assert_eq!(
        support::report_rows(&memory),
        support::report_rows(&connection)
    );
}
