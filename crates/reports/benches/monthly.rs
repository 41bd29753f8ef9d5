//! The monthly report over a month of 1,000,000 synthetic tickets: time and peak memory.
//!
//! Tickets are generated one at a time from a fixed seed and folded straight into a
//! `ReportBuilder` in chunks of 10,000, so the measured memory is the builder's plus one
//! chunk, never a copy of the month; only the fold is timed.
//! Run with `cargo bench -p reports`; `CLOOP_BENCH_TICKETS` changes the count.

use chrono::{DateTime, Duration, TimeZone, Utc};
use domain::ticket::{RoundRecord, Solution};
use domain::types::{ContentType, Kind, Outcome, Priority, Scope, SlaState, Step};
use domain::{Customer, Rules, Ticket, TicketIdGenerator};
use reports::{ReportBuilder, ReportOptions, YearMonth};
use std::time::Instant;

/// A small deterministic generator (SplitMix64), so every run folds the same month.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        value ^ (value >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const CHANNELS: &[&str] = &[
    "web", "app", "wechat", "weibo", "email", "hotline", "sms", "store", "visit", "callback",
    "review", "survey",
];
const DEPARTMENTS: &[&str] = &[
    "product",
    "technical",
    "quality",
    "logistics",
    "after_sales",
    "customer_service",
    "operations",
    "marketing",
];
const KEYWORDS: &[&str] = &[
    "APP卡顿",
    "售后响应慢",
    "退款",
    "安全隐患",
    "闪退",
    "发票",
    "物流慢",
    "包装破损",
    "价格",
    "客服态度",
    "无法登录",
    "支付失败",
    "少发",
    "质量问题",
    "建议",
    "界面",
    "会员",
    "优惠券",
    "配送",
    "安装",
];

fn ticket(
    random: &mut Random,
    generator: &mut TicketIdGenerator,
    month_start: DateTime<Utc>,
) -> Ticket {
    let received = month_start + Duration::seconds(random.below(30 * 86_400) as i64);
    let kind = *random.pick(Kind::ALL);
    let priority = *random.pick(Priority::ALL);
    let respond_within = match priority {
        Priority::Urgent => 1,
        Priority::High => 2,
        Priority::Medium => 24,
        Priority::Low => 72,
    };
    let mut keywords = Vec::new();
    for _ in 0..random.below(3) {
        let keyword = (*random.pick(KEYWORDS)).to_owned();
        if !keywords.contains(&keyword) {
            keywords.push(keyword);
        }
    }
    let mut ticket = Ticket {
        ticket_id: Some(generator.next(received)),
        version: 6,
        step: Step::Handle,
        channel: (*random.pick(CHANNELS)).to_owned(),
        customer: Customer {
            name: Some("张三".to_owned()),
            phone: Some("+8613800138000".to_owned()),
            ..Customer::default()
        },
        content: "APP卡顿，下单后一直转圈，退款也没有到账".to_owned(),
        product: Some(format!("product-{}", random.below(50))),
        received_at: Some(received),
        created_at: Some(received),
        kind: Some(kind),
        content_type: Some(*random.pick(ContentType::ALL)),
        priority: Some(priority),
        scope: Some(Scope::Local),
        keywords,
        department: Some((*random.pick(DEPARTMENTS)).to_owned()),
        respond_by: Some(received + Duration::hours(respond_within)),
        resolve_by: Some(received + Duration::hours(72)),
        ..Ticket::default()
    };
    if random.below(100) < 92 {
        ticket.responded_at =
            Some(received + Duration::minutes(random.below(respond_within as u64 * 80) as i64));
    }
    if ticket.responded_at.is_some() && random.below(100) < 85 {
        let at = received + Duration::minutes(random.below(90 * 60) as i64);
        let outcome = if kind == Kind::Suggestion {
            *random.pick(&[Outcome::Adopted, Outcome::Planned, Outcome::Declined])
        } else {
            *random.pick(&[Outcome::Fixed, Outcome::Explained])
        };
        ticket.resolved_at = Some(at);
        ticket.outcome = Some(outcome);
        ticket.solution = Some(Solution {
            outcome,
            text: "solution".to_owned(),
            reason: String::new(),
            proposed_at: at,
        });
        ticket.step = Step::Review;
        if random.below(100) < 70 {
            let score = 1 + random.below(5) as u8;
            ticket.satisfaction = Some(score.max(3));
            if score < 3 {
                ticket.previous_rounds.push(RoundRecord {
                    round: 1,
                    department: ticket.department.clone(),
                    respond_by: ticket.respond_by,
                    resolve_by: ticket.resolve_by,
                    responded_at: ticket.responded_at,
                    resolved_at: ticket.resolved_at,
                    respond_sla: SlaState::OnTime,
                    resolve_sla: SlaState::OnTime,
                    outcome: ticket.outcome,
                    satisfaction: Some(score),
                    review_comment: None,
                });
                ticket.round = 2;
            }
            if random.below(100) < 80 {
                ticket.step = Step::Archive;
            }
        }
    }
    ticket
}

/// The peak resident memory of this process so far, in KiB (Linux `VmHWM`).
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Tickets generated at a time.
const CHUNK: u64 = 10_000;

fn main() {
    let count: u64 = std::env::var("CLOOP_BENCH_TICKETS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let rules = Rules::defaults();
    let month: YearMonth = "2026-11".parse().expect("a valid month");
    let month_start = month.start(rules.calendar().offset());
    let as_of = chrono::FixedOffset::east_opt(8 * 3600)
        .expect("a valid offset")
        .with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
        .single()
        .expect("a valid instant")
        .with_timezone(&Utc);
    let memory_before = peak_memory_kib().unwrap_or(0);

    // Tickets are generated in chunks outside the timed section, and each chunk is folded
    // inside it, so the time is the fold's alone and at most one chunk is in memory.
    let mut random = Random(7);
    let mut generator = TicketIdGenerator::new(1);
    let mut builder =
        ReportBuilder::new(&rules, month, None, count, as_of, ReportOptions::default());
    let mut generate = std::time::Duration::ZERO;
    let mut fold = std::time::Duration::ZERO;
    let mut remaining = count;
    while remaining > 0 {
        let size = remaining.min(CHUNK);
        let started = Instant::now();
        let chunk: Vec<Ticket> = (0..size)
            .map(|_| ticket(&mut random, &mut generator, month_start))
            .collect();
        generate += started.elapsed();
        let started = Instant::now();
        for generated in &chunk {
            builder.add(generated);
        }
        fold += started.elapsed();
        remaining -= size;
    }
    let started = Instant::now();
    let report = builder.finish();
    let finish = started.elapsed();
    let memory_after = peak_memory_kib().unwrap_or(0);

    let render_started = Instant::now();
    let html = report.to_html();
    let csv = report.to_csv();
    let render = render_started.elapsed();

    println!(
        "monthly report over {count} tickets (report tickets {})",
        report.tickets
    );
    println!("  generate (untimed):   {:>8.3} s", generate.as_secs_f64());
    println!(
        "  fold:                 {:>8.3} s  ({:.0} tickets/s)",
        fold.as_secs_f64(),
        count as f64 / fold.as_secs_f64().max(1e-9)
    );
    println!("  finish (medians):     {:>8.3} s", finish.as_secs_f64());
    println!(
        "  render html and csv:  {:>8.3} s  ({} + {} bytes)",
        render.as_secs_f64(),
        html.len(),
        csv.len()
    );
    println!(
        "  peak memory (VmHWM):  {:>8.1} MiB before, {:.1} MiB after (one chunk of {CHUNK} tickets included)",
        memory_before as f64 / 1024.0,
        memory_after as f64 / 1024.0
    );
}
