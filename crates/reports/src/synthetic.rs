//! Synthetic ticket states for the benchmarks of the monthly report: a deterministic month of
//! any size, the same for the same seed. Not used by the report itself.

use chrono::{DateTime, Duration, Utc};
use domain::ticket::{RoundRecord, Solution};
use domain::types::{ContentType, Kind, Outcome, Priority, Scope, SlaState, Step};
use domain::{Customer, Ticket, TicketIdGenerator};

/// A small deterministic generator (SplitMix64), so every run folds the same month.
pub struct Random(pub u64);

impl Random {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        value ^ (value >> 31)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The channels the synthetic tickets come from.
pub const CHANNELS: &[&str] = &[
    "web", "app", "wechat", "weibo", "email", "hotline", "sms", "store", "visit", "callback",
    "review", "survey",
];
/// The departments the synthetic tickets are dispatched to.
pub const DEPARTMENTS: &[&str] = &[
    "product",
    "technical",
    "quality",
    "logistics",
    "after_sales",
    "customer_service",
    "operations",
    "marketing",
];
/// The keywords the synthetic tickets carry (0 to 2 each).
pub const KEYWORDS: &[&str] = &[
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

/// One synthetic ticket received in the 30 days from `month_start`: any kind and priority,
/// 92% responded, most of those resolved, reviews (scores below 3 make a second round) and
/// archives, one of 50 products.
pub fn ticket(
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
