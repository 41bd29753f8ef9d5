//! The workflow's core without NATS: recording feedback messages, the projections and their
//! rebuild, commands with idempotency, conflicts and permissions, and the SLA timers on a
//! clock the tests move.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::start_instant;

use chrono::Duration;
use domain::command::Command;
use domain::ids::{CommandId, FeedbackId, TicketId, TicketIdGenerator};
use domain::types::{Actor, Role, SlaState, Step};
use domain::Rules;
use prost::Message;
use proto::v1;
use service::Failure;
use workflow::clock::Clock;
use workflow::projections;
use workflow::queries::{list_ordered, list_tickets, parse_page_token, ListOrder, TicketFilter};
use workflow::timers::Timers;

/// The harness with the SLA timers.
struct Core {
    base: support::Harness,
    timers: Timers,
}

impl std::ops::Deref for Core {
    type Target = support::Harness;

    fn deref(&self) -> &support::Harness {
        &self.base
    }
}

impl std::ops::DerefMut for Core {
    fn deref_mut(&mut self) -> &mut support::Harness {
        &mut self.base
    }
}

impl Core {
    fn new(rules: Rules) -> Self {
        let base = support::Harness::new(rules);
        let timers = Timers {
            sweep: workflow::duties::Sweep {
                commands: base.commands.clone(),
                tick: std::time::Duration::from_millis(10),
                batch: 100,
            },
            metrics: base.metrics.clone(),
        };
        Self { base, timers }
    }

    /// Runs `command` as `actor` (command id `id`), which must be refused (`why`).
    async fn refused(
        &self,
        actor: &Actor,
        ticket_id: &TicketId,
        id: &str,
        version: Option<u64>,
        command: Command,
        why: &str,
    ) -> Failure {
        self.commands
            .execute(actor, ticket_id, &command_id(id), version, command)
            .await
            .expect_err(why)
    }

    /// Runs `command` on `ticket_id` as `actor` (command id `id`, no expected version), which
    /// must succeed: the ticket after it.
    async fn run(
        &self,
        actor: &Actor,
        ticket_id: &TicketId,
        id: &str,
        command: Command,
    ) -> domain::Ticket {
        self.commands
            .execute(actor, ticket_id, &command_id(id), None, command)
            .await
            .unwrap()
    }

    /// A `FeedbackReceived` message as intake publishes it.
    fn message(&mut self, content: &str) -> (Vec<u8>, TicketId) {
        let customer = v1::Customer {
            customer_id: "c-1".into(),
            phone: "+8613800138000".into(),
            ..Default::default()
        };
        self.web_message(customer, content)
    }

    async fn submit(&mut self, content: &str) -> TicketId {
        let (payload, ticket_id) = self.message(content);
        assert_eq!(self.record(&[payload]).await, vec![false]);
        ticket_id
    }

    async fn list(&self, filter: TicketFilter) -> Vec<domain::Ticket> {
        self.readers
            .with(move |connection| list_tickets(connection, &filter, 100, 0))
            .await
            .unwrap()
            .tickets
    }

    fn digest(&self) -> String {
        let connection =
            rusqlite::Connection::open(self.directory.path().join(workflow::DATABASE_FILE))
                .unwrap();
        projections::digest(&connection).unwrap()
    }
}

fn actor(name: &str, role: Role, department: Option<&str>) -> Actor {
    Actor {
        principal: name.into(),
        role,
        department: department.map(str::to_owned),
    }
}

fn command_id(text: &str) -> CommandId {
    CommandId::parse(text).unwrap()
}

#[tokio::test]
async fn a_message_becomes_a_ticket_in_its_department_queue_exactly_once() {
    let mut core = Core::new(Rules::defaults());
    let (payload, ticket_id) = core.message("APP卡顿，打开很慢");
    assert_eq!(
        core.record(std::slice::from_ref(&payload)).await,
        vec![false]
    );
    let head = core.log.head().position;
    assert_eq!(head, 3, "received, classified and dispatched");
    let queue = core
        .list(TicketFilter {
            department: Some("technical".into()),
            step: Some(Step::Handle),
            ..TicketFilter::default()
        })
        .await;
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].ticket_id, Some(ticket_id));
    // A redelivery, long after any broker's duplicate window: nothing changes.
    core.clock.advance(Duration::days(3));
    assert_eq!(core.record(&[payload]).await, vec![true]);
    assert_eq!(core.log.head().position, head);
    assert_eq!(core.list(TicketFilter::default()).await.len(), 1);
}

#[tokio::test]
async fn a_message_that_can_never_be_recorded_says_why() {
    let core = Core::new(Rules::defaults());
    let error = workflow::consumer::receive_request(
        b"\xff\xff not protobuf",
        core.clock.now(),
        &core.rules,
    )
    .expect_err("garbage");
    assert!(error.contains("FeedbackReceived"), "{error}");
    let empty_content = v1::FeedbackReceived {
        feedback_id: FeedbackId::new(core.clock.now(), [1; 10]).to_string(),
        ticket_id: TicketIdGenerator::new(1).next(core.clock.now()).to_string(),
        received_at: Some(prost_types::Timestamp::default()),
        submission: Some(v1::Submission {
            channel: "web".into(),
            customer: Some(v1::Customer {
                phone: "+8613800138000".into(),
                ..Default::default()
            }),
            content: "   ".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let error = workflow::consumer::receive_request(
        &empty_content.encode_to_vec(),
        core.clock.now(),
        &core.rules,
    )
    .expect_err("empty content");
    assert!(error.contains("content"), "{error}");
}

#[tokio::test]
async fn chinese_text_is_found_by_words_of_any_length() {
    let mut core = Core::new(Rules::defaults());
    let slow = core.submit("APP卡顿，打开很慢").await;
    core.submit("快递太慢了，包裹破损").await;
    let find = |text: &str| TicketFilter {
        text: Some(text.into()),
        ..TicketFilter::default()
    };
    let found = core.list(find("打开很慢")).await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].ticket_id, Some(slow.clone()));
    let found = core.list(find("卡顿")).await;
    assert_eq!(found.len(), 1, "two characters fall back to LIKE");
    assert_eq!(core.list(find("慢")).await.len(), 2);
    assert!(core.list(find("退款")).await.is_empty());
    assert_eq!(
        core.list(find("app 很慢")).await.len(),
        1,
        "every word must match"
    );
}

#[tokio::test]
async fn lists_page_through_every_ticket_once() {
    let mut core = Core::new(Rules::defaults());
    for index in 0..7 {
        core.submit(&format!("APP卡顿 第{index}次")).await;
    }
    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = core
            .readers
            .with(move |connection| list_tickets(connection, &TicketFilter::default(), 3, after))
            .await
            .unwrap();
        seen.extend(page.tickets.iter().map(|ticket| ticket.id_text()));
        match page.next_page_token {
            Some(token) => after = token.parse().unwrap(),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(seen.len(), 7);
    assert_eq!(unique.len(), 7);
}

#[tokio::test]
async fn a_repeated_command_id_returns_the_first_result_and_appends_nothing() {
    let mut core = Core::new(Rules::defaults());
    let ticket_id = core.submit("APP卡顿，打开很慢").await;
    let agent = actor("wang.wu", Role::Agent, Some("technical"));
    let acknowledge = Command::Acknowledge {
        message: "we are looking into it".into(),
    };
    let first = core
        .run(&agent, &ticket_id, "ack-1", acknowledge.clone())
        .await;
    assert!(first.responded_at.is_some());
    let head = core.log.head().position;
    core.run(
        &agent,
        &ticket_id,
        "note-1",
        Command::AddNote {
            text: "called the customer".into(),
            to_customer: false,
        },
    )
    .await;
    let repeated = core.run(&agent, &ticket_id, "ack-1", acknowledge).await;
    assert_eq!(
        repeated, first,
        "the first result, not the state after the note"
    );
    assert_eq!(
        core.log.head().position,
        head + 1,
        "only the note was appended"
    );
}

#[tokio::test]
async fn a_stale_expected_version_is_aborted_and_no_version_is_retried() {
    let mut core = Core::new(Rules::defaults());
    let ticket_id = core.submit("APP卡顿，打开很慢").await;
    let agent = actor("wang.wu", Role::Agent, Some("technical"));
    let note = |text: &str| Command::AddNote {
        text: text.into(),
        to_customer: false,
    };
    let version = core
        .commands
        .load(&ticket_id)
        .await
        .unwrap()
        .unwrap()
        .version;
    core.commands
        .execute(
            &agent,
            &ticket_id,
            &command_id("n1"),
            Some(version),
            note("one"),
        )
        .await
        .unwrap();
    let stale = core
        .refused(
            &agent,
            &ticket_id,
            "n2",
            Some(version),
            note("two"),
            "stale version",
        )
        .await;
    assert_eq!(
        stale,
        Failure::Conflict {
            expected: version,
            actual: version + 1
        }
    );
    // Many concurrent commands without an expected version all land.
    let mut tasks = Vec::new();
    for index in 0..8 {
        let commands = core.commands.clone();
        let agent = agent.clone();
        let ticket_id = ticket_id.clone();
        tasks.push(tokio::spawn(async move {
            commands
                .execute(
                    &agent,
                    &ticket_id,
                    &command_id(&format!("c{index}")),
                    None,
                    note(&format!("note {index}")),
                )
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let ticket = core.commands.load(&ticket_id).await.unwrap().unwrap();
    assert_eq!(ticket.notes.len(), 9);
}

#[tokio::test]
async fn another_departments_ticket_is_denied_for_reads_and_writes() {
    let mut core = Core::new(Rules::defaults());
    let ticket_id = core.submit("APP卡顿，打开很慢").await;
    // Another department's person: out of sight, answered like a ticket that does not exist.
    // A manager only reads.
    for (who, id, command, why, code) in [
        (
            actor("li.si", Role::Agent, Some("logistics")),
            "x",
            Command::Acknowledge {
                message: "mine".into(),
            },
            "other department",
            tonic::Code::NotFound,
        ),
        (
            actor("boss", Role::Manager, None),
            "y",
            Command::Escalate {
                reason: "why".into(),
            },
            "managers only read",
            tonic::Code::PermissionDenied,
        ),
    ] {
        let denied = core.refused(&who, &ticket_id, id, None, command, why).await;
        assert!(
            matches!(denied, Failure::Domain(_)),
            "{why}: a domain refusal, not {denied:?}"
        );
        assert_eq!(service::status_from(denied).code(), code, "{why}");
    }
    let scoped = core
        .list(TicketFilter {
            involving_department: Some("logistics".into()),
            ..TicketFilter::default()
        })
        .await;
    assert!(scoped.is_empty(), "a department sees only its own queue");
}

fn seconds_rules() -> Rules {
    Rules::from_toml_str(
        r#"
        [sla]
        warning_threshold = 0.5
        [sla.medium]
        respond = { amount = 10, unit = "seconds" }
        resolve = { amount = 60, unit = "seconds" }
        [[sla.escalation]]
        notify = "head"
        after_breach = { amount = 0, unit = "seconds" }
        [[sla.escalation]]
        notify = "manager"
        after_breach = { amount = 20, unit = "seconds" }
        "#,
    )
    .unwrap()
}

async fn sla_events(core: &Core, ticket_id: &TicketId) -> Vec<String> {
    core.log
        .read_stream(&ticket_id.stream_id(), 0)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.event_type)
        .filter(|event_type| event_type.starts_with("sla_"))
        .collect()
}

#[tokio::test]
async fn sla_timers_warn_breach_and_escalate_at_their_moments_once_each() {
    let mut core = Core::new(seconds_rules());
    let ticket_id = core.submit("APP卡顿，打开很慢").await;
    let ticket = core.commands.load(&ticket_id).await.unwrap().unwrap();
    assert_eq!(ticket.priority, Some(domain::types::Priority::Medium));
    assert_eq!(
        ticket.respond_by,
        Some(start_instant() + Duration::seconds(10))
    );

    core.clock.advance(Duration::seconds(4));
    assert_eq!(
        core.timers.tick_once().await.unwrap(),
        0,
        "nothing due at 4 s"
    );
    core.clock.advance(Duration::seconds(1));
    assert_eq!(core.timers.tick_once().await.unwrap(), 1);
    assert_eq!(sla_events(&core, &ticket_id).await, ["sla_warning"]);
    assert_eq!(core.timers.tick_once().await.unwrap(), 0, "never twice");

    core.clock.advance(Duration::seconds(5));
    core.timers.tick_once().await.unwrap();
    assert_eq!(
        sla_events(&core, &ticket_id).await,
        ["sla_warning", "sla_breached", "sla_escalated"],
        "breach at 10 s, first escalation at once"
    );
    let ticket = core.commands.load(&ticket_id).await.unwrap().unwrap();
    assert_eq!(ticket.sla_state, SlaState::Breached);
    assert_eq!(ticket.escalation_level, 1);
    assert_eq!(ticket.escalated_to.as_deref(), Some("head of technical"));
    let overdue = core
        .list(TicketFilter {
            sla_state: Some(SlaState::Breached),
            ..TicketFilter::default()
        })
        .await;
    assert_eq!(overdue.len(), 1);

    core.clock.advance(Duration::seconds(19));
    core.timers.tick_once().await.unwrap();
    assert_eq!(
        sla_events(&core, &ticket_id).await.len(),
        3,
        "manager after 20 s"
    );
    core.clock.advance(Duration::seconds(1));
    core.timers.tick_once().await.unwrap();
    let ticket = core.commands.load(&ticket_id).await.unwrap().unwrap();
    assert_eq!(ticket.escalation_level, 2);
    core.timers.tick_once().await.unwrap();
    // The resolve deadline is at 60 s; at 30 s it warned (50 % of 60 s).
    assert_eq!(
        sla_events(&core, &ticket_id).await,
        [
            "sla_warning",
            "sla_breached",
            "sla_escalated",
            "sla_warning",
            "sla_escalated"
        ]
    );
}

#[tokio::test]
async fn acknowledging_stops_the_respond_clock_and_pauses_stop_every_clock() {
    let mut core = Core::new(seconds_rules());
    let ticket_id = core.submit("APP卡顿，打开很慢").await;
    let agent = actor("wang.wu", Role::Agent, Some("technical"));
    core.run(
        &agent,
        &ticket_id,
        "ack",
        Command::Acknowledge {
            message: "on it".into(),
        },
    )
    .await;
    core.run(
        &agent,
        &ticket_id,
        "pause",
        Command::PauseSla {
            reason: "waiting for the customer's screenshots".into(),
        },
    )
    .await;
    core.clock.advance(Duration::seconds(120));
    assert_eq!(
        core.timers.tick_once().await.unwrap(),
        0,
        "paused: nothing fires"
    );
    let resumed = core
        .run(&agent, &ticket_id, "resume", Command::ResumeSla)
        .await;
    assert_eq!(
        resumed.resolve_by,
        Some(start_instant() + Duration::seconds(180)),
        "the resolve deadline moved by the two minutes paused"
    );
    assert!(sla_events(&core, &ticket_id)
        .await
        .iter()
        .all(|kind| kind != "sla_breached"));
}

#[tokio::test]
async fn rebuilt_projections_have_the_same_digest() {
    let mut core = Core::new(seconds_rules());
    let mut tickets = Vec::new();
    for text in [
        "APP卡顿，打开很慢",
        "售后响应慢，客服态度差",
        "建议增加夜间模式",
        "快递太慢了，包裹破损",
    ] {
        tickets.push(core.submit(text).await);
    }
    let agent = actor("wang.wu", Role::Agent, Some("technical"));
    core.run(
        &agent,
        &tickets[0],
        "ack",
        Command::Acknowledge {
            message: "on it".into(),
        },
    )
    .await;
    core.clock.advance(Duration::seconds(15));
    core.timers.tick_once().await.unwrap();
    let incremental = core.digest();
    let path = core.directory.path().join(workflow::DATABASE_FILE);
    let mut connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch("DROP TABLE tickets; DROP TABLE tickets_fts; DROP TABLE sla_index;")
        .unwrap();
    let replayed = projections::rebuild(
        &mut connection,
        &core.log,
        core.rules.clone(),
        core.vault.clone(),
    )
    .unwrap();
    assert_eq!(replayed, core.log.head().position);
    assert_eq!(core.digest(), incremental);
    let memory = support::rebuilt_in_memory(&core.log, &core.rules, &core.vault);
    assert_eq!(projections::digest(&memory).unwrap(), incremental);
}

#[test]
fn feedback_event_ids_are_derived_and_time_ordered() {
    let earlier = FeedbackId::new(start_instant(), [7; 10]);
    let later = FeedbackId::new(start_instant() + Duration::milliseconds(5), [1; 10]);
    let first = workflow::consumer::feedback_event_id(&earlier, 0);
    assert_eq!(first, workflow::consumer::feedback_event_id(&earlier, 0));
    assert_ne!(first, workflow::consumer::feedback_event_id(&earlier, 1));
    assert!(first < workflow::consumer::feedback_event_id(&later, 0));
    assert_eq!(
        first.as_uuid().get_timestamp().map(|stamp| stamp.to_unix()),
        earlier
            .as_uuid()
            .get_timestamp()
            .map(|stamp| stamp.to_unix())
    );
}

/// Every ticket matching `filter` in the urgency order, read in pages of `page_size` with
/// the page tokens.
async fn urgency_pages(core: &Core, filter: &TicketFilter, page_size: u32) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor = parse_page_token(ListOrder::Urgency, "").unwrap();
    loop {
        let filter = filter.clone();
        let page = core
            .readers
            .with(move |connection| list_ordered(connection, &filter, page_size, cursor))
            .await
            .unwrap();
        assert!(page.tickets.len() <= page_size as usize);
        seen.extend(page.tickets.iter().map(|ticket| ticket.id_text()));
        match page.next_page_token {
            Some(token) => cursor = parse_page_token(ListOrder::Urgency, &token).unwrap(),
            None => return seen,
        }
    }
}

/// Takes `ticket_id` through to archive as an admin.
async fn archive(core: &Core, ticket_id: &TicketId) {
    let admin = actor("admin", Role::Admin, None);
    let run = |id: &'static str, command: Command| {
        let admin = admin.clone();
        async move {
            core.commands
                .execute(&admin, ticket_id, &command_id(id), None, command)
                .await
                .unwrap()
        }
    };
    let proposed = run(
        "0b0e6c1e-0000-4000-8000-000000000001",
        Command::ProposeSolution {
            outcome: domain::types::Outcome::Fixed,
            text: "fixed".into(),
            reason: String::new(),
        },
    )
    .await;
    if proposed.step == Step::Handle {
        run(
            "0b0e6c1e-0000-4000-8000-000000000002",
            Command::ApproveSolution {
                approve: true,
                comment: String::new(),
            },
        )
        .await;
    }
    run(
        "0b0e6c1e-0000-4000-8000-000000000003",
        Command::RecordReview {
            satisfaction: 5,
            comment: String::new(),
        },
    )
    .await;
    let archived = run("0b0e6c1e-0000-4000-8000-000000000004", Command::Archive).await;
    assert_eq!(archived.step, Step::Archive);
}

#[tokio::test]
async fn the_urgency_order_is_breached_then_warning_then_the_nearest_deadline() {
    let mut core = Core::new(seconds_rules());
    // Six tickets 3 s apart: respond-by 10 s after each, the warning 5 s after each.
    let mut tickets = Vec::new();
    for index in 0..6 {
        tickets.push(
            core.submit(&format!("APP卡顿，打开很慢，第{index}次"))
                .await,
        );
        core.clock.advance(Duration::seconds(3));
    }
    // Ticket 4 has answered: its next deadline is its resolve-by (60 s after it came).
    core.commands
        .execute(
            &actor("wang.wu", Role::Agent, Some("technical")),
            &tickets[4],
            &command_id("3c1f0a52-0000-4000-8000-000000000001"),
            None,
            Command::Acknowledge {
                message: "on it".into(),
            },
        )
        .await
        .unwrap();
    archive(&core, &tickets[1]).await;
    // At 18 s: 0 and 2 breached (10 s, 16 s), 3 in warning (due 19 s), 5 on time (due 25 s),
    // 4 on time (due 72 s).
    while core.timers.tick_once().await.unwrap() > 0 {}
    let id = |index: usize| tickets[index].to_string();
    let open = TicketFilter {
        open_only: true,
        ..TicketFilter::default()
    };
    let expected = vec![id(0), id(2), id(3), id(5), id(4)];
    for page_size in [1, 2, 100] {
        assert_eq!(
            urgency_pages(&core, &open, page_size).await,
            expected,
            "pages of {page_size}"
        );
    }
    // Without `open_only` the archived ticket is in its place by its own key.
    let all = core.list(TicketFilter::default()).await;
    let mut by_key: Vec<(projections::order::UrgencyKey, String)> = Vec::new();
    for ticket in &all {
        let seq = core
            .readers
            .with({
                let id = ticket.id_text();
                move |connection| {
                    Ok(connection
                        .query_row(
                            "SELECT seq FROM tickets WHERE ticket_id = ?1",
                            [id],
                            |row| row.get::<_, i64>(0),
                        )
                        .unwrap())
                }
            })
            .await
            .unwrap();
        by_key.push((
            projections::order::urgency_key(ticket, seq),
            ticket.id_text(),
        ));
    }
    by_key.sort();
    let sorted: Vec<String> = by_key.into_iter().map(|(_, id)| id).collect();
    assert_eq!(
        urgency_pages(&core, &TicketFilter::default(), 2).await,
        sorted
    );
    assert!(sorted.contains(&id(1)));
    // The department filter takes the same order.
    let technical = TicketFilter {
        involving_department: Some("technical".into()),
        open_only: true,
        ..TicketFilter::default()
    };
    assert_eq!(urgency_pages(&core, &technical, 2).await, expected);

    // A token of the other order, or none this service gave out, names the field.
    for bad in ["7", "u.9.1.1", "u.1.1", "x"] {
        let refused = parse_page_token(ListOrder::Urgency, bad).unwrap_err();
        assert!(
            refused.to_string().contains("page_token"),
            "{bad}: {refused}"
        );
    }
    assert!(parse_page_token(ListOrder::Receipt, "u.0.1.1").is_err());
}

#[tokio::test]
async fn projections_made_before_the_order_columns_gain_them_filled() {
    let mut core = Core::new(seconds_rules());
    for index in 0..4 {
        core.submit(&format!("APP卡顿，打开很慢，第{index}次"))
            .await;
        core.clock.advance(Duration::seconds(4));
    }
    while core.timers.tick_once().await.unwrap() > 0 {}
    let before = core.digest();
    let path = core.directory.path().join(workflow::DATABASE_FILE);
    let connection = rusqlite::Connection::open(&path).unwrap();
    // A database as it was before the order existed.
    connection
        .execute_batch(
            "DROP INDEX tickets_by_department_urgency; DROP INDEX tickets_by_urgency;
             ALTER TABLE tickets DROP COLUMN urgency_rank;
             ALTER TABLE tickets DROP COLUMN next_deadline_ms;
             ALTER TABLE tickets DROP COLUMN is_open;",
        )
        .unwrap();
    projections::schema::migrate(&connection).unwrap();
    assert_eq!(core.digest(), before, "filled as the projector writes them");
    let ranks: Vec<i64> = connection
        .prepare("SELECT urgency_rank FROM tickets ORDER BY seq")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(ranks.contains(&0) && ranks.contains(&2), "{ranks:?}");
}

#[tokio::test]
async fn projections_made_before_the_report_rows_gain_them_filled() {
    let mut core = Core::new(seconds_rules());
    for index in 0..5 {
        core.submit(&format!("APP卡顿，打开很慢，第{index}次"))
            .await;
        core.clock.advance(Duration::seconds(4));
    }
    while core.timers.tick_once().await.unwrap() > 0 {}
    let path = core.directory.path().join(workflow::DATABASE_FILE);
    let connection = rusqlite::Connection::open(&path).unwrap();
    support::assert_report_rows_follow_states(&connection);
    let written = support::report_rows(&connection);
    assert_eq!(written.len(), 5);
    let before = core.digest();
    // A database as it was before the report rows existed.
    connection.execute_batch("DROP TABLE report_rows;").unwrap();
    projections::schema::migrate(&connection).unwrap();
    assert_eq!(
        support::report_rows(&connection),
        written,
        "filled as the projector writes them: the reports read the same rows"
    );
    assert_eq!(core.digest(), before);
    // A second start finds the table and leaves it as it is.
    projections::schema::migrate(&connection).unwrap();
    assert_eq!(support::report_rows(&connection), written);
    // A rebuild writes them too.
    let memory = support::rebuilt_in_memory(&core.log, &core.rules, &core.vault);
    assert_eq!(support::report_rows(&memory), written);
}
