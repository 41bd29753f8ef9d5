//! The ticket table in PostgreSQL (`projections::shared`): lists and search read from it give
//! exactly what the replica's own SQLite projections and the filter's own rules give, Chinese
//! search is answered by the `pg_trgm` index, the table follows commands at once, and an
//! emptied table is rebuilt from the log when the log is opened again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{DateTime, TimeZone, Utc};
use domain::ids::{TicketId, TicketIdGenerator};
use domain::Rules;
use e2e::PgDatabase;
use prost::Message;
use proto::v1;
use std::sync::Arc;
use workflow::projections;
use workflow::projections::shared::SharedReads;
use workflow::queries::{list_tickets, parse_page_token, ListOrder, Readers, TicketFilter};

/// What the customers wrote: Chinese without spaces, mixed case, product names, order ids.
const CONTENTS: [(&str, &str, &str); 10] = [
    ("网站登录页面一直报错，无法登录", "会员App", ""),
    ("快递送货太慢了，等了一个星期才到", "", "SO-20260318-001"),
    ("建议增加夜间模式，晚上看屏幕太亮", "会员App", ""),
    ("退款申请三天还没处理，请尽快", "", "SO-20260318-042"),
    ("Great service, thank you for the quick reply", "", ""),
    (
        "The APP crashes when uploading photos",
        "Photo Uploader",
        "",
    ),
    ("客服态度很好，问题当天就解决了", "", ""),
    (
        "收到的商品有破损，包装太简单",
        "茶具套装",
        "SO-20260319-007",
    ),
    ("希望支持微信支付和支付宝", "", ""),
    ("登录后页面空白，刷新也没有用", "会员App", ""),
];

struct Replica {
    directory: tempfile::TempDir,
    log: eventlog::EventLog,
    vault: Arc<vault::Vault>,
    rules: Arc<Rules>,
    local: Readers,
    shared: SharedReads,
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 18, 2, 0, 0).single().unwrap()
}

/// Opens a replica's log, key store and readers (on the blocking pool: the PostgreSQL
/// client blocks).
async fn open(database: &PgDatabase, rules: Arc<Rules>) -> Replica {
    let url = database.url().to_string();
    tokio::task::spawn_blocking(move || open_here(&url, rules))
        .await
        .unwrap()
}

fn open_here(url: &str, rules: Arc<Rules>) -> Replica {
    let directory = tempfile::tempdir().unwrap();
    let (vault, log) = support::open_store(url, directory.path(), &rules);
    let local = Readers::new(&directory.path().join(workflow::PROJECTIONS_FILE));
    Replica {
        directory,
        log,
        vault,
        rules,
        local,
        shared: SharedReads::new(url),
    }
}

impl Replica {
    async fn submit_all(&self, count: usize) -> Vec<TicketId> {
        let (requests, tickets) = self.sealed_requests(count).await;
        for result in self.log.append_many(requests).await {
            result.unwrap();
        }
        tickets
    }

    /// The `received` requests of `count` submissions, their customers sealed.
    async fn sealed_requests(&self, count: usize) -> (Vec<eventlog::AppendRequest>, Vec<TicketId>) {
        let mut ids = TicketIdGenerator::new(3);
        let mut requests = Vec::new();
        let mut tickets = Vec::new();
        for index in 0..count {
            let at = now() + chrono::Duration::minutes(i64::try_from(index).unwrap());
            let ticket_id = ids.next(at);
            let (content, product, order_id) = CONTENTS[index % CONTENTS.len()];
            let message = support::feedback_at(
                &ticket_id,
                at,
                v1::Submission {
                    channel: if index % 3 == 0 { "web" } else { "app" }.into(),
                    customer: Some(v1::Customer {
                        customer_id: format!("c-{}", index % 7),
                        phone: "+8613800138000".into(),
                        ..Default::default()
                    }),
                    content: format!("{content}（第{index}条）"),
                    product: product.into(),
                    order_id: order_id.into(),
                    ..Default::default()
                },
            );
            let (request, _) =
                workflow::consumer::receive_request(&message.encode_to_vec(), at, &self.rules)
                    .unwrap();
            requests.push(request);
            tickets.push(ticket_id);
        }
        let vault = self.vault.clone();
        let requests = tokio::task::spawn_blocking(move || {
            workflow::consumer::seal_requests(&vault, &mut requests).unwrap();
            requests
        })
        .await
        .unwrap();
        (requests, tickets)
    }

    /// Every page of a list, from the shared table.
    async fn shared_list(&self, filter: &TicketFilter, page_size: u32) -> Vec<String> {
        let mut found = Vec::new();
        let mut after = 0;
        loop {
            let shared = self.shared.clone();
            let page_filter = filter.clone();
            let page = tokio::task::spawn_blocking(move || {
                shared.list_blocking(&page_filter, page_size, after)
            })
            .await
            .unwrap()
            .unwrap();
            assert!(page.tickets.len() <= page_size as usize);
            found.extend(page.tickets.iter().map(|ticket| ticket.id_text()));
            match page.next_page_token {
                Some(token) => after = token.parse().unwrap(),
                None => return found,
            }
        }
    }

    /// One list from the replica's own SQLite projections.
    async fn local_list(&self, filter: &TicketFilter) -> Vec<String> {
        let filter = filter.clone();
        self.local
            .with(move |connection| list_tickets(connection, &filter, 1_000, 0))
            .await
            .unwrap()
            .tickets
            .iter()
            .map(|ticket| ticket.id_text())
            .collect()
    }

    /// Every ticket, in receipt order, from the replica's own projections.
    async fn all_local(&self) -> Vec<domain::Ticket> {
        self.local
            .with(|connection| list_tickets(connection, &TicketFilter::default(), 1_000, 0))
            .await
            .unwrap()
            .tickets
    }
}

fn text(words: &str) -> TicketFilter {
    TicketFilter {
        text: Some(words.to_string()),
        ..TicketFilter::default()
    }
}

fn filters() -> Vec<(&'static str, TicketFilter)> {
    vec![
        ("everything", TicketFilter::default()),
        ("two Chinese characters", text("登录")),
        ("four Chinese characters", text("无法登录")),
        ("Chinese across punctuation", text("报错，无法")),
        ("two Chinese words", text("页面 会员")),
        ("a product", text("茶具")),
        ("an order id in lower case", text("so-20260318")),
        ("mixed case", text("app")),
        ("a wildcard is literal", text("%")),
        ("an underscore is literal", text("_")),
        ("nothing matches", text("不存在的词语")),
        (
            "channel and text",
            TicketFilter {
                channel: Some("web".to_string()),
                text: Some("App".to_string()),
                ..TicketFilter::default()
            },
        ),
        (
            "a customer",
            TicketFilter {
                customer_id: Some("c-3".to_string()),
                ..TicketFilter::default()
            },
        ),
        (
            "created in a window",
            TicketFilter {
                created_from: Some(now() + chrono::Duration::minutes(10)),
                created_to: Some(now() + chrono::Duration::minutes(25)),
                ..TicketFilter::default()
            },
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_search_from_postgres_equal_the_local_projections() {
    let database = PgDatabase::create("shared_lists");
    let replica = open(&database, Arc::new(Rules::defaults())).await;
    let tickets = replica.submit_all(60).await;
    replica.log.sync().await.unwrap();
    let all = replica.all_local().await;
    assert_eq!(all.len(), tickets.len());

    for (name, filter) in filters() {
        let expected: Vec<String> = all
            .iter()
            .filter(|ticket| filter.matches(ticket))
            .map(|ticket| ticket.id_text())
            .collect();
        assert_eq!(replica.local_list(&filter).await, expected, "local: {name}");
        for page_size in [1, 7, 100] {
            assert_eq!(
                replica.shared_list(&filter, page_size).await,
                expected,
                "postgres, pages of {page_size}: {name}"
            );
        }
    }
    // The filters are not all trivially empty or full.
    assert_eq!(replica.shared_list(&text("无法登录"), 50).await.len(), 6);
    assert_eq!(
        replica.shared_list(&text("so-20260318"), 50).await.len(),
        12
    );

    // Each stored ticket is the one the local projections folded.
    for ticket in &all {
        let shared = replica.shared.clone();
        let id = ticket.id_text();
        let (stored, _) = tokio::task::spawn_blocking(move || shared.ticket_blocking(&id))
            .await
            .unwrap()
            .unwrap()
            .expect("ticket in the shared table");
        assert_eq!(&stored, ticket);
        assert_eq!(
            stored.customer.phone.as_deref(),
            Some("+8613800138000"),
            "the customer is opened"
        );
    }

    // What the service reads through: with a shared table, tickets and lists never touch the
    // local projections (here a file that does not exist, which a read-only open refuses).
    let readers = Readers::new(&replica.directory.path().join("no-such-projections.db"))
        .with_shared(replica.shared.clone());
    let page = readers.list(text("无法登录"), 50, 0).await.unwrap();
    assert_eq!(page.tickets.len(), 6);
    let (ticket, _) = readers
        .ticket(all[0].id_text())
        .await
        .unwrap()
        .expect("a ticket through the readers");
    assert_eq!(ticket, all[0]);
    assert!(
        Readers::new(&replica.directory.path().join("no-such-projections.db"))
            .list(text("无法登录"), 50, 0)
            .await
            .is_err(),
        "without the shared table the same reads go to the local file"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_search_uses_the_trigram_index() {
    let database = PgDatabase::create("shared_trgm");
    let replica = open(&database, Arc::new(Rules::defaults())).await;
    replica.submit_all(20).await;
    let plans: Vec<String> = database.with_client(|client| {
        // With few rows a scan is cheaper; forbid it to see whether the index can answer.
        client.batch_execute("SET enable_seqscan = off").unwrap();
        ["%无法登录%", "%退款申请%", "%so-20260318%"]
            .iter()
            .map(|pattern| {
                client
                    .query(
                        "EXPLAIN SELECT seq FROM tickets WHERE search_text LIKE $1",
                        &[pattern],
                    )
                    .unwrap()
                    .iter()
                    .map(|row| row.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .collect()
    });
    for plan in plans {
        assert!(plan.contains("tickets_search"), "plan: {plan}");
    }
    // Two-character words (most Chinese words) go to the bigram index.
    let plan: String = database.with_client(|client| {
        client.batch_execute("SET enable_seqscan = off").unwrap();
        client
            .query(
                "EXPLAIN SELECT seq FROM tickets \
                 WHERE search_bigrams @> ARRAY[$1]::text[] AND search_text LIKE $2",
                &[&"茶具", &"%茶具%"],
            )
            .unwrap()
            .iter()
            .map(|row| row.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    });
    assert!(plan.contains("tickets_search_bigrams"), "plan: {plan}");
    let bigrams: String = database.with_client(|client| {
        client
            .query_one(
                "SELECT array_to_string(search_bigrams, ' ') FROM tickets \
                 WHERE search_text LIKE '%茶具套装%' LIMIT 1",
                &[],
            )
            .unwrap()
            .get(0)
    });
    assert!(
        bigrams.split(' ').any(|bigram| bigram == "茶具"),
        "{bigrams}"
    );
    let trigrams: String = database.with_client(|client| {
        client
            .query_one("SELECT show_trgm('无法登录')::text", &[])
            .unwrap()
            .get(0)
    });
    assert_ne!(trigrams, "{}", "Chinese text gives trigrams");
}

/// Every ticket's stored state in the shared table, in receipt order.
fn stored_states(database: &PgDatabase) -> Vec<String> {
    database.with_client(|client| {
        client
            .query("SELECT state_json FROM tickets ORDER BY seq", &[])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_table_is_rebuilt_from_the_log_on_open() {
    let database = PgDatabase::create("shared_rebuild");
    let rules = Arc::new(Rules::defaults());
    let first = open(&database, rules.clone()).await;
    first.submit_all(45).await;
    let before = first.shared_list(&TicketFilter::default(), 100).await;
    let states_before = stored_states(&database);
    assert_eq!(before.len(), 45);
    drop(first);

    database.with_client(|client| {
        client
            .batch_execute(
                "TRUNCATE tickets; UPDATE ticket_projection SET position = 0 WHERE id = 1;",
            )
            .unwrap()
    });
    assert!(stored_states(&database).is_empty());
    let second = open(&database, rules).await;
    let states_after = stored_states(&database);
    assert_eq!(states_after, states_before);
    let head = second.log.head().position;
    let projected: i64 = database.with_client(|client| {
        client
            .query_one("SELECT position FROM ticket_projection", &[])
            .unwrap()
            .get(0)
    });
    assert_eq!(u64::try_from(projected).unwrap(), head);
}

/// An event of `event_type` with an empty payload, as no service would write it.
fn bare_event(event_type: &str) -> eventlog::NewEvent {
    eventlog::NewEvent {
        event_id: uuid::Uuid::now_v7(),
        event_type: event_type.to_string(),
        schema_version: 1,
        occurred_at: now(),
        actor: serde_json::json!({"kind": "system", "name": "test"}),
        correlation_id: None,
        causation_id: None,
        payload: serde_json::json!({}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_folds_a_ticket_twice_and_refuses_only_the_request_it_cannot_decode() {
    let database = PgDatabase::create("shared_batch");
    let replica = open(&database, Arc::new(Rules::defaults())).await;
    let (mut requests, tickets) = replica.sealed_requests(3).await;
    // The first ticket's events in two requests of the same batch.
    let whole = requests.remove(0);
    assert!(
        whole.events.len() >= 2,
        "a submission records several events"
    );
    let mut rest = whole.events;
    let first_event = rest.remove(0);
    let opening = eventlog::AppendRequest {
        stream_id: whole.stream_id.clone(),
        expected: eventlog::ExpectedVersion::NoStream,
        events: vec![first_event],
    };
    let following = eventlog::AppendRequest {
        stream_id: whole.stream_id,
        expected: eventlog::ExpectedVersion::Exact(1),
        events: rest,
    };
    // A row the ticket table cannot fold: an event type the domain does not know.
    let bad_ticket = TicketIdGenerator::new(9).next(now());
    let undecodable = eventlog::AppendRequest {
        stream_id: bad_ticket.stream_id(),
        expected: eventlog::ExpectedVersion::NoStream,
        events: vec![bare_event("no_such_event")],
    };
    // A stream that is no ticket (a person's) is not folded, whatever its events.
    let person = eventlog::AppendRequest {
        stream_id: "person-alice".to_string(),
        expected: eventlog::ExpectedVersion::NoStream,
        events: vec![bare_event("not_a_ticket_event")],
    };
    let mut batch = vec![opening, following, undecodable, person];
    batch.extend(requests);
    let results = replica.log.append_many(batch).await;
    assert_eq!(results.len(), 6);
    for (index, result) in results.iter().enumerate() {
        match index {
            2 => assert!(
                matches!(result, Err(eventlog::LogError::Projector { .. })),
                "refused: {result:?}"
            ),
            _ => assert!(result.is_ok(), "request {index}: {result:?}"),
        }
    }
    assert!(replica
        .log
        .read_stream(&bad_ticket.stream_id(), 0)
        .await
        .unwrap()
        .is_empty());

    // The table holds the three tickets exactly as the local projections fold them.
    replica.log.sync().await.unwrap();
    let listed = replica.shared_list(&TicketFilter::default(), 10).await;
    let expected: Vec<String> = tickets.iter().map(ToString::to_string).collect();
    assert_eq!(listed, expected);
    let url = database.url().to_string();
    let local_path = replica.directory.path().join(workflow::PROJECTIONS_FILE);
    let (shared, local, position) = tokio::task::spawn_blocking(move || {
        let (shared, position) = workflow::projections::shared::digest_postgres(&url)
            .unwrap()
            .expect("the shared table exists");
        let connection = rusqlite::Connection::open(local_path).unwrap();
        let local = workflow::projections::shared::digest_sqlite(&connection).unwrap();
        (shared, local, position)
    })
    .await
    .unwrap();
    assert_eq!(shared, local);
    assert_eq!(position, replica.log.head().position);
}

/// Every ticket matching `filter` in the urgency order, read in pages of `page_size` from
/// the shared table (`shared`) or the local projections.
async fn urgency_pages(
    replica: &Replica,
    filter: &TicketFilter,
    page_size: u32,
    shared: bool,
) -> Vec<String> {
    let readers = if shared {
        replica.local.clone().with_shared(replica.shared.clone())
    } else {
        replica.local.clone()
    };
    let mut found = Vec::new();
    let mut cursor = parse_page_token(ListOrder::Urgency, "").unwrap();
    loop {
        let page = readers
            .list_from(filter.clone(), page_size, cursor)
            .await
            .unwrap();
        assert!(page.tickets.len() <= page_size as usize);
        found.extend(page.tickets.iter().map(|ticket| ticket.id_text()));
        match page.next_page_token {
            Some(token) => cursor = parse_page_token(ListOrder::Urgency, &token).unwrap(),
            None => return found,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_urgency_order_from_postgres_equals_the_local_projections() {
    let database = PgDatabase::create("shared_urgency");
    // Medium tickets answer in 10 minutes (warned at 5); the others keep the defaults.
    let rules = Arc::new(
        Rules::from_toml_str(
            "[sla]\nwarning_threshold = 0.5\n[sla.medium]\n\
             respond = { amount = 10, unit = \"minutes\" }\n\
             resolve = { amount = 60, unit = \"minutes\" }\n",
        )
        .unwrap(),
    );
    let replica = open(&database, rules.clone()).await;
    replica.submit_all(40).await;
    replica.log.sync().await.unwrap();
    // The SLA timers half an hour after the first ticket: some breached, some warned.
    let readers = replica.local.clone().with_shared(replica.shared.clone());
    let clock = Arc::new(workflow::clock::TestClock::new(
        now() + chrono::Duration::minutes(30),
    ));
    let metrics = workflow::metrics::WorkflowMetrics::new().unwrap();
    let commands = support::commands(
        &replica.log,
        &readers,
        &rules,
        clock.clone(),
        &replica.vault,
        metrics.clone(),
    );
    let timers = workflow::timers::Timers {
        sweep: workflow::duties::Sweep {
            commands,
            tick: std::time::Duration::from_millis(10),
            batch: 100,
        },
        metrics,
    };
    loop {
        replica.log.sync().await.unwrap();
        if timers.tick_once().await.unwrap() == 0 {
            break;
        }
    }
    replica.log.sync().await.unwrap();

    let all = replica.all_local().await;
    let mut keyed: Vec<&domain::Ticket> = all.iter().collect();
    keyed.sort_by_key(|ticket| {
        (
            projections::order::urgency_rank(ticket),
            projections::order::next_deadline_ms(ticket),
            ticket.received_at,
        )
    });
    let expected: Vec<String> = keyed.iter().map(|ticket| ticket.id_text()).collect();
    let ranks: std::collections::BTreeSet<i64> =
        all.iter().map(projections::order::urgency_rank).collect();
    assert_eq!(ranks.len(), 3, "breached, warning and on time: {ranks:?}");
    let everything = TicketFilter::default();
    assert_eq!(
        urgency_pages(&replica, &everything, 100, false).await,
        expected
    );
    for page_size in [1, 7, 100] {
        assert_eq!(
            urgency_pages(&replica, &everything, page_size, true).await,
            expected,
            "postgres, pages of {page_size}"
        );
    }
    let web_open = TicketFilter {
        channel: Some("web".to_string()),
        open_only: true,
        ..TicketFilter::default()
    };
    let web: Vec<String> = keyed
        .iter()
        .filter(|ticket| web_open.matches(ticket))
        .map(|ticket| ticket.id_text())
        .collect();
    assert!(!web.is_empty());
    assert_eq!(urgency_pages(&replica, &web_open, 3, false).await, web);
    assert_eq!(urgency_pages(&replica, &web_open, 3, true).await, web);

    // A table made before the order columns gains them, filled, when a replica opens it.
    drop(replica);
    database.with_client(|client| {
        client
            .batch_execute(
                "DROP INDEX tickets_by_department_urgency; DROP INDEX tickets_by_urgency; \
                 ALTER TABLE tickets DROP COLUMN urgency_rank, DROP COLUMN next_deadline_ms, \
                 DROP COLUMN is_open;",
            )
            .unwrap()
    });
    let reopened = open(&database, rules).await;
    for page_size in [7, 100] {
        assert_eq!(
            urgency_pages(&reopened, &everything, page_size, true).await,
            expected,
            "after the upgrade, pages of {page_size}"
        );
    }
}
