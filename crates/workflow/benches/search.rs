//! Search and lists on a PostgreSQL log: the first page (50 tickets) of a list read from the
//! shared ticket table in PostgreSQL (`SharedReads::list_blocking`, search by `LIKE '%word%'`
//! under the `pg_trgm` GIN index) and from a replica's own SQLite projections
//! (`queries::list_tickets`, search by the FTS5 trigram table), on the same tickets.
//!
//! Run with `cargo bench -p workflow --bench search`. Needs PostgreSQL (`CLOOP_TEST_POSTGRES`,
//! default `postgres://postgres@127.0.0.1:5432`, a database of the benchmark's own).
//!
//! The tickets are loaded through the real path: `consumer::receive_request` on a
//! `FeedbackReceived` message, `consumer::seal_requests`, `EventLog::append_many` on a log
//! opened by `workflow::open_store_log`, so the log writer folds them into the PostgreSQL
//! `tickets` table in its append transaction and the follower into `projections.db`. Their
//! content is Chinese with some English, product names and order ids, varied so that the
//! search terms hit about 0.1 % (a four-character term, a two-character term, an order-id
//! fragment), 1 % (a three-character term) and 10 % (a two-character term) of the tickets;
//! the hits are counted and printed. After the load the table is analysed (as autovacuum would after so many
//! inserts), then each list is read 20 times to warm up and 200 times measured, taking turns
//! between PostgreSQL and SQLite. The plans PostgreSQL chooses for the rare term (`EXPLAIN
//! ANALYZE`: whether the trigram index answers it) and for the two-character terms (the
//! bigram index, or the walk in `seq` order for a frequent one) are printed.
//!
//! Environment: `CLOOP_BENCH_SEARCH_TICKETS` (tickets, default 100,000), `CLOOP_BENCH_RUNS`
//! (measured reads per list, default 200).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use domain::ids::TicketIdGenerator;
use domain::Rules;
use e2e::PgDatabase;
use prost::Message;
use proto::v1;
use std::sync::Arc;
use std::time::{Duration, Instant};
use workflow::projections::shared::SharedReads;
use workflow::queries::{list_tickets, Readers, TicketFilter};

const PAGE_SIZE: u32 = 50;
const WARM_UP: usize = 20;
/// Requests per `append_many`.
const BATCH: usize = 1_000;

/// About 0.1 % of the tickets (every 1,000th).
const RARE_4: &str = "发票抬头";
/// About 1 % of the tickets (every 100th).
const COMMON_3: &str = "优惠券";
/// About 10 % of the tickets (every 10th).
const FREQUENT_2: &str = "物流";
/// About 0.1 % of the tickets (every 1,000th): a two-character word the trigram index cannot
/// answer, found through the bigram index.
const RARE_2: &str = "发霉";
/// In no ticket, two characters.
const NOTHING_2: &str = "彗星";
/// About 0.1 %: one day of the order ids (a third of the tickets have one, over 300 days).
const ORDER_FRAGMENT: &str = "so-20260318";
/// In no ticket.
const NOTHING: &str = "量子纠缠";

/// Openings, bodies and closings that never hold a search term; combined by index they give
/// 12 × 17 × 9 different texts before the terms and numbers are added.
const OPENINGS: [&str; 12] = [
    "您好，",
    "你好，",
    "客服你好，",
    "",
    "Hi，",
    "麻烦看一下，",
    "紧急！",
    "反馈一个问题：",
    "老用户了，",
    "请帮忙处理，",
    "第二次反馈了，",
    "投诉：",
];
const BODIES: [&str; 17] = [
    "网站登录页面一直报错，无法登录",
    "快递送货太慢了，等了一个星期才到",
    "建议增加夜间模式，晚上看屏幕太亮",
    "退款申请三天还没处理，请尽快",
    "客服态度很好，问题当天就解决了",
    "收到的商品有破损，包装太简单",
    "希望支持微信支付和支付宝",
    "登录后页面空白，刷新也没有用",
    "APP卡顿，打开很慢，iOS 17.2 上更明显",
    "The app crashes when uploading photos",
    "会员积分不见了，上个月还有两千多分",
    "商品和图片描述不一致，颜色差很多",
    "电话一直打不通，在线客服也不回复",
    "下单后价格降了，能不能补差价",
    "Great service, thank you for the quick reply",
    "安装师傅迟到了两个小时，也没有提前打电话",
    "账号被冻结了，不知道是什么原因",
];
const CLOSINGS: [&str; 9] = [
    "。",
    "，谢谢！",
    "，希望尽快回复。",
    "！！",
    "，已经等了很久了。",
    " please help",
    "，否则我要投诉。",
    "，辛苦了。",
    "",
];
const PRODUCTS: [&str; 7] = [
    "",
    "会员App",
    "茶具套装",
    "Photo Uploader",
    "智能音箱 Pro",
    "",
    "空气净化器X3",
];

/// Ticket `index`'s content, product and order id.
fn ticket_text(index: usize) -> (String, String, String) {
    let mut content = format!(
        "{}{}",
        OPENINGS[index % OPENINGS.len()],
        BODIES[(index / 3) % BODIES.len()]
    );
    if index % 10 == 1 {
        content.push_str("，物流信息一直不更新");
    }
    if index % 100 == 3 {
        content.push_str("，下单时优惠券用不了");
    }
    if index % 1_000 == 9 {
        content.push_str("，收到时已经发霉了");
    }
    if index % 1_000 == 7 {
        content.push_str("，发票抬头开错了，需要重开");
    }
    content.push_str(CLOSINGS[(index / 7) % CLOSINGS.len()]);
    content.push_str(&format!("（编号{index}）"));
    let product = PRODUCTS[(index / 11) % PRODUCTS.len()].to_owned();
    let order_id = if index % 3 == 0 {
        let day = support::start_instant().date_naive()
            + chrono::Duration::days(((index / 3) % 300) as i64);
        format!("SO-{}-{:05}", day.format("%Y%m%d"), index % 100_000)
    } else {
        String::new()
    };
    (content, product, order_id)
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.replace([',', '_'], "").parse().ok())
        .unwrap_or(default)
}

/// Loads `count` tickets through the consumer's path; returns the events appended.
async fn load(
    log: &eventlog::EventLog,
    vault: &Arc<vault::Vault>,
    rules: &Rules,
    count: usize,
) -> u64 {
    let mut ids = TicketIdGenerator::new(3);
    let started = Instant::now();
    let mut events = 0u64;
    let mut last_report = Instant::now();
    let mut index = 0;
    while index < count {
        let end = (index + BATCH).min(count);
        let mut requests = Vec::with_capacity(end - index);
        for ticket in index..end {
            let at = support::start_instant() + chrono::Duration::seconds(ticket as i64 * 30);
            let ticket_id = ids.next(at);
            let (content, product, order_id) = ticket_text(ticket);
            let message = support::feedback_at(
                &ticket_id,
                at,
                v1::Submission {
                    channel: ["app", "web", "email", "phone"][ticket % 4].into(),
                    external_id: format!("search-bench-{ticket}"),
                    customer: Some(v1::Customer {
                        customer_id: format!("c-{}", ticket % 5_000),
                        phone: format!("+86138{:08}", ticket % 100_000_000),
                        ..Default::default()
                    }),
                    content,
                    product,
                    order_id,
                    ..Default::default()
                },
            );
            let (request, _) =
                workflow::consumer::receive_request(&message.encode_to_vec(), at, rules)
                    .expect("a valid submission");
            events += request.events.len() as u64;
            requests.push(request);
        }
        let vault = vault.clone();
        let requests = tokio::task::spawn_blocking(move || {
            workflow::consumer::seal_requests(&vault, &mut requests).expect("seal customers");
            requests
        })
        .await
        .unwrap();
        for result in log.append_many(requests).await {
            result.expect("append");
        }
        index = end;
        if last_report.elapsed() >= Duration::from_secs(5) || index == count {
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "  loaded {index}/{count} tickets, {events} events in {seconds:.1} s \
                 ({:.0} events/s, {:.0} tickets/s)",
                events as f64 / seconds,
                index as f64 / seconds
            );
            last_report = Instant::now();
        }
    }
    events
}

fn text(words: &str) -> TicketFilter {
    TicketFilter {
        text: Some(words.to_owned()),
        ..TicketFilter::default()
    }
}

/// (median, p95) in milliseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |quantile: f64| {
        let index = ((samples.len() as f64 * quantile).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index].as_secs_f64() * 1_000.0
    };
    (at(0.5), at(0.95))
}

fn main() {
    let count = env_usize("CLOOP_BENCH_SEARCH_TICKETS", 100_000);
    let runs = env_usize("CLOOP_BENCH_RUNS", 200).max(1);
    let database = PgDatabase::create("search_bench");
    let url = database.url().to_owned();
    let directory = tempfile::tempdir().unwrap();
    let rules = Arc::new(Rules::defaults());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    eprintln!("search bench: {count} tickets into {url}");
    let (log, events, load_seconds) = {
        let (vault, log) = support::open_store(&url, directory.path(), &rules);
        let started = Instant::now();
        let events = runtime.block_on(async {
            let events = load(&log, &vault, &rules, count).await;
            log.sync().await.expect("the local projections catch up");
            events
        });
        (log, events, started.elapsed().as_secs_f64())
    };
    eprintln!(
        "  loaded and projected locally: {events} events in {load_seconds:.1} s \
         ({:.0} events/s)",
        events as f64 / load_seconds
    );

    let (pg_version, department_step, hits) = database.with_client(|client| {
        client.batch_execute("ANALYZE tickets").unwrap();
        let version: String = client.query_one("SHOW server_version", &[]).unwrap().get(0);
        let top = client
            .query_opt(
                "SELECT department, step, count(*) FROM tickets WHERE department IS NOT NULL \
                 GROUP BY department, step ORDER BY count(*) DESC LIMIT 1",
                &[],
            )
            .unwrap()
            .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)));
        let hits: Vec<i64> = [
            RARE_4,
            COMMON_3,
            FREQUENT_2,
            ORDER_FRAGMENT,
            NOTHING,
            RARE_2,
            NOTHING_2,
        ]
        .iter()
        .map(|term| {
            client
                .query_one(
                    "SELECT count(*) FROM tickets WHERE search_text LIKE $1",
                    &[&format!("%{term}%")],
                )
                .unwrap()
                .get(0)
        })
        .collect();
        (version, top, hits)
    });
    let total = count as f64;
    let share = |hits: i64| format!("{hits} ({:.2} %)", hits as f64 * 100.0 / total);

    let mut cases: Vec<(String, TicketFilter, String)> = [
        (format!("4 Chinese chars `{RARE_4}` (rare)"), RARE_4, 0),
        (
            format!("3 Chinese chars `{COMMON_3}` (common)"),
            COMMON_3,
            1,
        ),
        (format!("2 Chinese chars `{FREQUENT_2}`"), FREQUENT_2, 2),
        (format!("2 Chinese chars `{RARE_2}` (rare)"), RARE_2, 5),
        (
            format!("order-id fragment `{ORDER_FRAGMENT}`"),
            ORDER_FRAGMENT,
            3,
        ),
    ]
    .into_iter()
    .map(|(what, term, hit)| (what, text(term), share(hits[hit])))
    .collect();
    match &department_step {
        Some((department, step)) => {
            let step_value = domain::types::Step::parse("step", step).expect("a stored step");
            let filter = TicketFilter {
                department: Some(department.clone()),
                step: Some(step_value),
                ..TicketFilter::default()
            };
            let matching = database.with_client(|client| {
                client
                    .query_one(
                        "SELECT count(*) FROM tickets WHERE department = $1 AND step = $2",
                        &[department, step],
                    )
                    .unwrap()
                    .get::<_, i64>(0)
            });
            cases.push((
                format!("department `{department}` + step `{step}`, no text"),
                filter,
                share(matching),
            ));
        }
        None => eprintln!("  no ticket was dispatched: the department/step list is left out"),
    }
    cases.push((
        format!("no hits `{NOTHING}`"),
        text(NOTHING),
        share(hits[4]),
    ));
    cases.push((
        format!("no hits, 2 chars `{NOTHING_2}`"),
        text(NOTHING_2),
        share(hits[6]),
    ));

    // The plan of the rare term's list, with the parameters a first page binds.
    let plan = database.with_client(|client| {
        client
            .query(
                "EXPLAIN (ANALYZE, BUFFERS) SELECT seq, state_json FROM tickets \
                 WHERE NOT retention_expired AND seq > $1 AND search_text LIKE $2 \
                 ORDER BY seq LIMIT $3",
                &[&0i64, &format!("%{RARE_4}%"), &(i64::from(PAGE_SIZE) + 1)],
            )
            .unwrap()
            .iter()
            .map(|row| row.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    });

    // The two-character terms' plans, with the bigram condition the list adds for them.
    let plan_of_two = |term: &str| {
        database.with_client(|client| {
            client
                .query(
                    "EXPLAIN SELECT seq, state_json FROM tickets WHERE NOT retention_expired \
                     AND seq > $1 AND search_bigrams @> ARRAY[$2]::text[] \
                     AND search_text LIKE $3 ORDER BY seq LIMIT $4",
                    &[
                        &0i64,
                        &term.to_owned(),
                        &format!("%{term}%"),
                        &(i64::from(PAGE_SIZE) + 1),
                    ],
                )
                .map(|rows| {
                    rows.iter()
                        .map(|row| row.get::<_, String>(0))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_else(|error| format!("(no plan: {error})"))
        })
    };
    let plans_two = [
        (FREQUENT_2, plan_of_two(FREQUENT_2)),
        (RARE_2, plan_of_two(RARE_2)),
    ];

    let shared = SharedReads::new(&url);
    let local = Readers::new(&directory.path().join(workflow::PROJECTIONS_FILE));
    let mut rows = Vec::new();
    for (name, filter, matching) in &cases {
        let postgres_read = || {
            let started = Instant::now();
            let page = shared.list_blocking(filter, PAGE_SIZE, 0).expect("list");
            (started.elapsed(), page.tickets.len())
        };
        let sqlite_read = || {
            let started = Instant::now();
            let page = local
                .with_blocking(|connection| list_tickets(connection, filter, PAGE_SIZE, 0))
                .expect("list");
            (started.elapsed(), page.tickets.len())
        };
        let (_, postgres_found) = postgres_read();
        let (_, sqlite_found) = sqlite_read();
        assert_eq!(
            postgres_found, sqlite_found,
            "{name}: both stores list the same page"
        );
        for _ in 0..WARM_UP {
            postgres_read();
            sqlite_read();
        }
        let mut postgres_samples = Vec::with_capacity(runs);
        let mut sqlite_samples = Vec::with_capacity(runs);
        for _ in 0..runs {
            postgres_samples.push(postgres_read().0);
            sqlite_samples.push(sqlite_read().0);
        }
        let (pg_median, pg_p95) = percentiles(postgres_samples);
        let (sqlite_median, sqlite_p95) = percentiles(sqlite_samples);
        eprintln!("  {name}: PostgreSQL {pg_median:.2} ms, SQLite {sqlite_median:.2} ms");
        rows.push(format!(
            "| {name} | {matching} | {postgres_found} | {pg_median:.2} | {pg_p95:.2} | \
             {sqlite_median:.2} | {sqlite_p95:.2} |"
        ));
    }
    drop(log);
    runtime.shutdown_timeout(Duration::from_secs(10));

    println!();
    println!(
        "First page ({PAGE_SIZE} tickets) of a list over {count} tickets; {runs} reads each \
         after {WARM_UP} to warm up; milliseconds."
    );
    println!();
    println!(
        "| List | Matching tickets | On the page | PostgreSQL median | PostgreSQL p95 | \
         SQLite median | SQLite p95 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!("{row}");
    }
    println!();
    println!(
        "Load: {count} tickets, {events} events in {load_seconds:.1} s ({:.0} events/s, \
         PostgreSQL log with the shared ticket table, local projections caught up).",
        events as f64 / load_seconds
    );
    println!(
        "Machine: {} CPUs, load average {} (at the end), PostgreSQL {pg_version}.",
        std::thread::available_parallelism()
            .map(|cpus| cpus.get())
            .unwrap_or(0),
        common::load_average(" ")
    );
    println!();
    println!("EXPLAIN (ANALYZE, BUFFERS) of the PostgreSQL list for `{RARE_4}`:");
    println!();
    for line in plan.lines() {
        println!("    {line}");
    }
    println!();
    if plan.contains("tickets_search") {
        println!("The trigram index `tickets_search` answers the rare term.");
    } else {
        println!("NOTE: the plan does not use the trigram index `tickets_search`.");
    }
    println!();
    for (term, plan) in &plans_two {
        println!("EXPLAIN of the PostgreSQL list for `{term}`:");
        println!();
        for line in plan.lines() {
            println!("    {line}");
        }
        println!();
    }
}
