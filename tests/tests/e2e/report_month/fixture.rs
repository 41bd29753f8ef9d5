//! The fixture month: every ticket of March 2026 with what happens to it and when.

use super::*;

/// One round of handling, in minutes after the ticket's receipt: the acknowledgement, the
/// solution and the customer's score (reviewed 60 minutes after the solution was accepted).
#[derive(Debug, Clone, Copy)]
pub(super) struct Round {
    pub(super) ack: Option<i64>,
    pub(super) solve: Option<Solve>,
    pub(super) review: Option<u32>,
}

/// A proposed solution and, when the policy wants the head's approval (adopted, declined or
/// urgent), the minute it was approved; without that minute it stays waiting.
#[derive(Debug, Clone, Copy)]
pub(super) struct Solve {
    pub(super) outcome: Outcome,
    pub(super) proposed: i64,
    pub(super) approved: Option<i64>,
}

pub(super) const fn round(ack: Option<i64>, solve: Option<Solve>, review: Option<u32>) -> Round {
    Round { ack, solve, review }
}

pub(super) const fn solve(outcome: Outcome, proposed: i64, approved: Option<i64>) -> Solve {
    Solve {
        outcome,
        proposed,
        approved,
    }
}

/// One ticket of the fixture. `received` is (day of March 2026, hour, minute) at +08:00.
/// A review below 4 reopens the ticket: the next round follows it. `archive` archives the
/// ticket 30 minutes after its last (satisfied) review; `note` adds a note to the customer.
#[derive(Debug)]
pub(super) struct Case {
    pub(super) n: u32,
    pub(super) received: (u32, u32, u32),
    pub(super) channel: &'static str,
    pub(super) kind: Option<Kind>,
    pub(super) content_type: ContentType,
    pub(super) priority: Priority,
    pub(super) department: &'static str,
    pub(super) keywords: &'static [&'static str],
    pub(super) product: &'static str,
    pub(super) name: &'static str,
    pub(super) rounds: &'static [Round],
    pub(super) note: Option<i64>,
    pub(super) archive: bool,
}

/// The fixture month. Ticket 35 has no recognisable words and is never classified.
///
/// | dept | n | prio | respond by | resolve by | first response | accepted solution (min) | scores |
/// | --- | --- | --- | --- | --- | --- | --- | --- |
/// | product | 1 | low | 4320 | 10080 | 120 ok | adopted 3000 ok | 5, archived |
/// | product | 2 | low | 4320 | 10080 | 300 ok | planned 1500 ok | 4 |
/// | product | 3 | low | 4320 | 10080 | 5000 late | declined 6100, reopened, adopted 9100 ok | 2, 5, archived |
/// | product | 4 | low | 4320 | 10080 | 2000 ok (by the solution) | planned 2000 ok | – (note to customer) |
/// | product | 5 | high | 120 | 4320 | 60 ok | fixed 4000 ok | 4, archived |
/// | product | 6 | medium complaint | 1440 | 4320 | 1500 late | explained 5000 late, reopened, open | 3 |
/// | product | 7 | low | 4320 | 10080 | 600 ok | adopted, approval pending: unresolved | – |
/// | product | 8 | low | 4320 | 10080 | 30 ok | explained 90 ok | 5, archived |
/// | product | 9 | low | 4320 | 10080 | 200 ok | explained 240 ok | 5, archived |
/// | product | 10 | medium | 1440 | 4320 | 1000 ok | adopted 2100 ok | 4 |
/// | product | 36 | low | 4320 | 10080 | 100 ok | declined 400 ok | 4, archived |
/// | technical | 11 | high | 120 | 4320 | 60 ok | fixed 1200 ok | 4, archived |
/// | technical | 12 | urgent | 60 | 1440 | 30 ok | fixed 1500 late (approved after 1440), reopened, fixed 2010 late | 3, 4, archived |
/// | technical | 13 | medium | 1440 | 4320 | 1440 ok (at the deadline) | fixed 4320 ok (at the deadline) | 5, archived |
/// | technical | 14 | high | 120 | 4320 | 180 late | fixed 3000 ok | 5, archived |
/// | technical | 15 | high complaint | 120 | 4320 | 100 ok | fixed 5000 late | 4 |
/// | technical | 16 | low | 4320 | 10080 | – late | – late | – |
/// | technical | 17 | urgent | 60 | 1440 | 20 ok | fixed 700 ok | 5, archived |
/// | technical | 18 | low | 4320 | 10080 | 4000 ok | explained 4100 ok | – |
/// | technical | 19 | medium | 1440 | 4320 | 2000 late | – late | – |
/// | customer_service | 20 | medium complaint | 1440 | 4320 | 30 ok | fixed 600 ok | 5, archived |
/// | customer_service | 21 | high complaint | 120 | 4320 | 180 late | fixed 1800, reopened, fixed 4800 late | 2, 4, archived |
/// | customer_service | 22 | low complaint | 2880 | 10080 | 2000 ok | explained 3000 ok | 4, archived |
/// | customer_service | 23 | medium complaint | 1440 | 4320 | 1500 late | – late | – |
/// | customer_service | 24 | low | 4320 | 10080 | 60 ok | explained 120 ok | 5, archived |
/// | customer_service | 25 | low | 4320 | 10080 | 30 ok | explained 60 ok | 5, archived |
/// | customer_service | 26 | urgent complaint | 60 | 1440 | 45 ok | fixed 1100, reopened, fixed 1320, reopened again, open | 1, 3 |
/// | customer_service | 27 | medium complaint | 1440 | 4320 | 120 ok | fixed 300 ok | 4, archived |
/// | customer_service | 28 | low | 4320 | 10080 | 500 ok (by the solution) | explained 500 ok | 4 |
/// | logistics | 29 | high complaint | 120 | 4320 | 90 ok | fixed 2000 ok | 4, archived |
/// | logistics | 30 | medium | 1440 | 4320 | 2000 late | fixed 6000 late | 5, archived |
/// | logistics | 31 | medium complaint | 1440 | 4320 | 600 ok | fixed 4000, reopened, fixed 7000 late | 2, 5, archived |
/// | logistics | 32 | low | 4320 | 10080 | 100 ok | – late | – |
/// | logistics | 33 | low | 4320 | 10080 | 10 ok | explained 20 ok | 5, archived |
/// | logistics | 34 | low | 4320 | 10080 | 500 ok | planned 600 ok | – (customer not told) |
/// | – | 35 | unclassified | | | – late | – late | – |
pub(super) const CASES: &[Case] = &[
    Case {
        n: 1,
        received: (2, 10, 0),
        channel: "wechat",
        kind: Some(Kind::Suggestion),
        content_type: ContentType::Experience,
        priority: Priority::Low,
        department: "product",
        keywords: &["夜间模式"],
        product: "APP",
        name: "张伟",
        rounds: &[round(
            Some(120),
            Some(solve(Outcome::Adopted, 2880, Some(3000))),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 2,
        received: (2, 11, 0),
        channel: "web",
        kind: Some(Kind::Suggestion),
        content_type: ContentType::Product,
        priority: Priority::Low,
        department: "product",
        keywords: &["夜间模式"],
        product: "APP",
        name: "王芳",
        rounds: &[round(
            Some(300),
            Some(solve(Outcome::Planned, 1500, None)),
            Some(4),
        )],
        note: None,
        archive: false,
    },
    Case {
        n: 3,
        received: (3, 9, 30),
        channel: "app",
        kind: Some(Kind::Suggestion),
        content_type: ContentType::Experience,
        priority: Priority::Low,
        department: "product",
        keywords: &["会员积分"],
        product: "会员中心",
        name: "李娜",
        rounds: &[
            round(
                Some(5000),
                Some(solve(Outcome::Declined, 6000, Some(6100))),
                Some(2),
            ),
            round(
                None,
                Some(solve(Outcome::Adopted, 9000, Some(9100))),
                Some(5),
            ),
        ],
        note: None,
        archive: true,
    },
    Case {
        n: 4,
        received: (4, 15, 0),
        channel: "email",
        kind: Some(Kind::Suggestion),
        content_type: ContentType::Process,
        priority: Priority::Low,
        department: "product",
        keywords: &["发票"],
        product: "官网",
        name: "",
        rounds: &[round(None, Some(solve(Outcome::Planned, 2000, None)), None)],
        note: Some(2100),
        archive: false,
    },
    Case {
        n: 5,
        received: (5, 10, 0),
        channel: "app",
        kind: Some(Kind::Problem),
        content_type: ContentType::Product,
        priority: Priority::High,
        department: "product",
        keywords: &["APP卡顿"],
        product: "APP",
        name: "客户5",
        rounds: &[round(
            Some(60),
            Some(solve(Outcome::Fixed, 4000, None)),
            Some(4),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 6,
        received: (6, 16, 0),
        channel: "weibo",
        kind: Some(Kind::Complaint),
        content_type: ContentType::Experience,
        priority: Priority::Medium,
        department: "product",
        keywords: &["太贵"],
        product: "APP",
        name: "客户6",
        rounds: &[
            round(
                Some(1500),
                Some(solve(Outcome::Explained, 5000, None)),
                Some(3),
            ),
            round(None, None, None),
        ],
        note: None,
        archive: false,
    },
    Case {
        n: 7,
        received: (9, 10, 0),
        channel: "hotline",
        kind: Some(Kind::Suggestion),
        content_type: ContentType::Experience,
        priority: Priority::Low,
        department: "product",
        keywords: &["夜间模式"],
        product: "小程序",
        name: "客户7",
        rounds: &[round(
            Some(600),
            Some(solve(Outcome::Adopted, 1000, None)),
            None,
        )],
        note: None,
        archive: false,
    },
    Case {
        n: 8,
        received: (10, 11, 0),
        channel: "web",
        kind: Some(Kind::Inquiry),
        content_type: ContentType::Process,
        priority: Priority::Low,
        department: "product",
        keywords: &["退款"],
        product: "官网",
        name: "客户8",
        rounds: &[round(
            Some(30),
            Some(solve(Outcome::Explained, 90, None)),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 9,
        received: (11, 14, 0),
        channel: "app",
        kind: Some(Kind::Praise),
        content_type: ContentType::Experience,
        priority: Priority::Low,
        department: "product",
        keywords: &[],
        product: "APP",
        name: "客户9",
        rounds: &[round(
            Some(200),
            Some(solve(Outcome::Explained, 240, None)),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 10,
        received: (12, 9, 0),
        channel: "wechat",
        kind: Some(Kind::Suggestion),
        content_type: ContentType::Product,
        priority: Priority::Medium,
        department: "product",
        keywords: &["夜间模式", "会员积分"],
        product: "APP",
        name: "刘洋",
        rounds: &[round(
            Some(1000),
            Some(solve(Outcome::Adopted, 2000, Some(2100))),
            Some(4),
        )],
        note: None,
        archive: false,
    },
    Case {
        n: 11,
        received: (2, 10, 30),
        channel: "app",
        kind: Some(Kind::Problem),
        content_type: ContentType::Product,
        priority: Priority::High,
        department: "technical",
        keywords: &["APP卡顿"],
        product: "APP",
        name: "客户11",
        rounds: &[round(
            Some(60),
            Some(solve(Outcome::Fixed, 1200, None)),
            Some(4),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 12,
        received: (3, 9, 0),
        channel: "app",
        kind: Some(Kind::Problem),
        content_type: ContentType::Product,
        priority: Priority::Urgent,
        department: "technical",
        keywords: &["闪退"],
        product: "APP",
        name: "客户12",
        rounds: &[
            round(
                Some(30),
                Some(solve(Outcome::Fixed, 1200, Some(1500))),
                Some(3),
            ),
            round(
                Some(1600),
                Some(solve(Outcome::Fixed, 2000, Some(2010))),
                Some(4),
            ),
        ],
        note: None,
        archive: true,
    },
    Case {
        n: 13,
        received: (4, 10, 0),
        channel: "web",
        kind: Some(Kind::Problem),
        content_type: ContentType::Product,
        priority: Priority::Medium,
        department: "technical",
        keywords: &["无法登录"],
        product: "官网",
        name: "客户13",
        rounds: &[round(
            Some(1440),
            Some(solve(Outcome::Fixed, 4320, None)),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 14,
        received: (5, 13, 30),
        channel: "app",
        kind: Some(Kind::Problem),
        content_type: ContentType::Product,
        priority: Priority::High,
        department: "technical",
        keywords: &["APP卡顿", "闪退"],
        product: "APP",
        name: "客户14",
        rounds: &[round(
            Some(180),
            Some(solve(Outcome::Fixed, 3000, None)),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 15,
        received: (9, 10, 0),
        channel: "app",
        kind: Some(Kind::Complaint),
        content_type: ContentType::Product,
        priority: Priority::High,
        department: "technical",
        keywords: &["APP卡顿"],
        product: "APP",
        name: "客户15",
        rounds: &[round(
            Some(100),
            Some(solve(Outcome::Fixed, 5000, None)),
            Some(4),
        )],
        note: None,
        archive: false,
    },
    Case {
        n: 16,
        received: (10, 10, 0),
        channel: "email",
        kind: Some(Kind::Problem),
        content_type: ContentType::Product,
        priority: Priority::Low,
        department: "technical",
        keywords: &["无法登录"],
        product: "官网",
        name: "客户16",
        rounds: &[round(None, None, None)],
        note: None,
        archive: false,
    },
    Case {
        n: 17,
        received: (11, 10, 0),
        channel: "hotline",
        kind: Some(Kind::Problem),
        content_type: ContentType::Product,
        priority: Priority::Urgent,
        department: "technical",
        keywords: &["宕机"],
        product: "官网",
        name: "客户17",
        rounds: &[round(
            Some(20),
            Some(solve(Outcome::Fixed, 600, Some(700))),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 18,
        received: (16, 10, 0),
        channel: "app",
        kind: Some(Kind::Inquiry),
        content_type: ContentType::Product,
        priority: Priority::Low,
        department: "technical",
        keywords: &["APP卡顿"],
        product: "APP",
        name: "客户18",
        rounds: &[round(
            Some(4000),
            Some(solve(Outcome::Explained, 4100, None)),
            None,
        )],
        note: None,
        archive: false,
    },
    Case {
        n: 19,
        received: (17, 10, 0),
        channel: "app",
        kind: Some(Kind::Problem),
        content_type: ContentType::Product,
        priority: Priority::Medium,
        department: "technical",
        keywords: &["闪退"],
        product: "APP",
        name: "客户19",
        rounds: &[round(Some(2000), None, None)],
        note: None,
        archive: false,
    },
    Case {
        n: 20,
        received: (2, 10, 0),
        channel: "web",
        kind: Some(Kind::Complaint),
        content_type: ContentType::Service,
        priority: Priority::Medium,
        department: "customer_service",
        keywords: &["售后响应慢"],
        product: "",
        name: "客户20",
        rounds: &[round(
            Some(30),
            Some(solve(Outcome::Fixed, 600, None)),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 21,
        received: (2, 14, 0),
        channel: "hotline",
        kind: Some(Kind::Complaint),
        content_type: ContentType::Service,
        priority: Priority::High,
        department: "customer_service",
        keywords: &["态度差", "售后响应慢"],
        product: "",
        name: "客户21",
        rounds: &[
            round(Some(180), Some(solve(Outcome::Fixed, 1800, None)), Some(2)),
            round(None, Some(solve(Outcome::Fixed, 4800, None)), Some(4)),
        ],
        note: None,
        archive: true,
    },
    Case {
        n: 22,
        received: (3, 11, 0),
        channel: "wechat",
        kind: Some(Kind::Complaint),
        content_type: ContentType::Service,
        priority: Priority::Low,
        department: "customer_service",
        keywords: &["售后响应慢"],
        product: "",
        name: "客户22",
        rounds: &[round(
            Some(2000),
            Some(solve(Outcome::Explained, 3000, None)),
            Some(4),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 23,
        received: (4, 10, 0),
        channel: "hotline",
        kind: Some(Kind::Complaint),
        content_type: ContentType::Service,
        priority: Priority::Medium,
        department: "customer_service",
        keywords: &["态度差", "售后响应慢"],
        product: "",
        name: "客户23",
        rounds: &[round(Some(1500), None, None)],
        note: None,
        archive: false,
    },
    Case {
        n: 24,
        received: (5, 10, 0),
        channel: "wechat",
        kind: Some(Kind::Inquiry),
        content_type: ContentType::Service,
        priority: Priority::Low,
        department: "customer_service",
        keywords: &["退款"],
        product: "",
        name: "客户24",
        rounds: &[round(
            Some(60),
            Some(solve(Outcome::Explained, 120, None)),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 25,
        received: (6, 10, 0),
        channel: "web",
        kind: Some(Kind::Praise),
        content_type: ContentType::Service,
        priority: Priority::Low,
        department: "customer_service",
        keywords: &[],
        product: "",
        name: "客户25",
        rounds: &[round(
            Some(30),
            Some(solve(Outcome::Explained, 60, None)),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 26,
        received: (9, 15, 0),
        channel: "weibo",
        kind: Some(Kind::Complaint),
        content_type: ContentType::Service,
        priority: Priority::Urgent,
        department: "customer_service",
        keywords: &["退款"],
        product: "",
        name: "客户26",
        rounds: &[
            round(
                Some(45),
                Some(solve(Outcome::Fixed, 1000, Some(1100))),
                Some(1),
            ),
            round(
                Some(1200),
                Some(solve(Outcome::Fixed, 1300, Some(1320))),
                Some(3),
            ),
            round(None, None, None),
        ],
        note: None,
        archive: false,
    },
    Case {
        n: 27,
        received: (10, 9, 30),
        channel: "web",
        kind: Some(Kind::Complaint),
        content_type: ContentType::Process,
        priority: Priority::Medium,
        department: "customer_service",
        keywords: &["退款"],
        product: "",
        name: "客户27",
        rounds: &[round(
            Some(120),
            Some(solve(Outcome::Fixed, 300, None)),
            Some(4),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 28,
        received: (11, 10, 0),
        channel: "hotline",
        kind: Some(Kind::Inquiry),
        content_type: ContentType::Service,
        priority: Priority::Low,
        department: "customer_service",
        keywords: &[],
        product: "",
        name: "客户28",
        rounds: &[round(
            None,
            Some(solve(Outcome::Explained, 500, None)),
            Some(4),
        )],
        note: None,
        archive: false,
    },
    Case {
        n: 29,
        received: (3, 10, 0),
        channel: "app",
        kind: Some(Kind::Complaint),
        content_type: ContentType::Service,
        priority: Priority::High,
        department: "logistics",
        keywords: &["配送慢"],
        product: "",
        name: "客户29",
        rounds: &[round(
            Some(90),
            Some(solve(Outcome::Fixed, 2000, None)),
            Some(4),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 30,
        received: (5, 10, 0),
        channel: "web",
        kind: Some(Kind::Problem),
        content_type: ContentType::Process,
        priority: Priority::Medium,
        department: "logistics",
        keywords: &["配送慢"],
        product: "",
        name: "客户30",
        rounds: &[round(
            Some(2000),
            Some(solve(Outcome::Fixed, 6000, None)),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 31,
        received: (9, 11, 0),
        channel: "hotline",
        kind: Some(Kind::Complaint),
        content_type: ContentType::Service,
        priority: Priority::Medium,
        department: "logistics",
        keywords: &["配送慢", "退款"],
        product: "",
        name: "客户31",
        rounds: &[
            round(Some(600), Some(solve(Outcome::Fixed, 4000, None)), Some(2)),
            round(None, Some(solve(Outcome::Fixed, 7000, None)), Some(5)),
        ],
        note: None,
        archive: true,
    },
    Case {
        n: 32,
        received: (12, 10, 0),
        channel: "email",
        kind: Some(Kind::Inquiry),
        content_type: ContentType::Process,
        priority: Priority::Low,
        department: "logistics",
        keywords: &["配送慢"],
        product: "",
        name: "客户32",
        rounds: &[round(Some(100), None, None)],
        note: None,
        archive: false,
    },
    Case {
        n: 33,
        received: (13, 10, 0),
        channel: "wechat",
        kind: Some(Kind::Praise),
        content_type: ContentType::Service,
        priority: Priority::Low,
        department: "logistics",
        keywords: &[],
        product: "",
        name: "客户33",
        rounds: &[round(
            Some(10),
            Some(solve(Outcome::Explained, 20, None)),
            Some(5),
        )],
        note: None,
        archive: true,
    },
    Case {
        n: 34,
        received: (16, 10, 0),
        channel: "app",
        kind: Some(Kind::Suggestion),
        content_type: ContentType::Process,
        priority: Priority::Low,
        department: "logistics",
        keywords: &["配送慢"],
        product: "小程序",
        name: "陈静",
        rounds: &[round(
            Some(500),
            Some(solve(Outcome::Planned, 600, None)),
            None,
        )],
        note: None,
        archive: false,
    },
    Case {
        n: 35,
        received: (18, 10, 0),
        channel: "web",
        kind: None,
        content_type: ContentType::Unspecified,
        priority: Priority::Unspecified,
        department: "",
        keywords: &[],
        product: "",
        name: "客户35",
        rounds: &[round(None, None, None)],
        note: None,
        archive: false,
    },
    Case {
        n: 36,
        received: (19, 10, 0),
        channel: "app",
        kind: Some(Kind::Suggestion),
        content_type: ContentType::Process,
        priority: Priority::Low,
        department: "product",
        keywords: &["会员积分"],
        product: "会员中心",
        name: "客户36",
        rounds: &[round(
            Some(100),
            Some(solve(Outcome::Declined, 300, Some(400))),
            Some(4),
        )],
        note: None,
        archive: true,
    },
];

/// The fixture's instants: day `day` of March 2026 at `hour:minute`, +08:00.
pub(super) fn march(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    FixedOffset::east_opt(8 * 3600)
        .expect("offset")
        .with_ymd_and_hms(2026, 3, day, hour, minute, 0)
        .single()
        .expect("a valid instant")
        .with_timezone(&Utc)
}

impl Case {
    pub(super) fn received_at(&self) -> DateTime<Utc> {
        let (day, hour, minute) = self.received;
        march(day, hour, minute)
    }

    pub(super) fn at(&self, minutes: i64) -> DateTime<Utc> {
        self.received_at() + TimeDelta::minutes(minutes)
    }

    /// The respond and resolve allowances in minutes, by hand from the SLA table (see the
    /// module comment): a complaint takes the stricter of its priority row and 48 h / 7 days.
    pub(super) fn allowances(&self) -> (i64, i64) {
        let (respond, resolve) = match self.priority {
            Priority::Urgent => (60, 24 * 60),
            Priority::High => (2 * 60, 72 * 60),
            Priority::Medium => (24 * 60, 72 * 60),
            _ => (72 * 60, 7 * 24 * 60),
        };
        if self.kind == Some(Kind::Complaint) {
            (respond.min(48 * 60), resolve.min(7 * 24 * 60))
        } else {
            (respond, resolve)
        }
    }
}

/// What the test does at one instant.
#[derive(Debug, Clone, Copy)]
pub(super) enum Action {
    Receive,
    Classify,
    Acknowledge,
    Propose(Outcome),
    Approve,
    Review(u32),
    Note,
    Archive,
}

/// Every action of the fixture in time order (receipts first at equal instants).
pub(super) fn timeline() -> Vec<(DateTime<Utc>, usize, Action)> {
    let mut steps = Vec::new();
    for (index, case) in CASES.iter().enumerate() {
        steps.push((case.at(0), index, Action::Receive));
        if case.kind.is_some() {
            steps.push((case.at(1), index, Action::Classify));
        }
        let mut last = 0;
        for round in case.rounds {
            if let Some(ack) = round.ack {
                steps.push((case.at(ack), index, Action::Acknowledge));
            }
            let Some(solve) = round.solve else { continue };
            steps.push((
                case.at(solve.proposed),
                index,
                Action::Propose(solve.outcome),
            ));
            let accepted = match (needs_approval(case, solve.outcome), solve.approved) {
                (true, Some(approved)) => {
                    steps.push((case.at(approved), index, Action::Approve));
                    approved
                }
                (true, None) => continue,
                (false, _) => solve.proposed,
            };
            if let Some(score) = round.review {
                last = accepted + 60;
                steps.push((case.at(last), index, Action::Review(score)));
            }
        }
        if let Some(note) = case.note {
            steps.push((case.at(note), index, Action::Note));
        }
        if case.archive {
            steps.push((case.at(last + 30), index, Action::Archive));
        }
    }
    steps.sort_by_key(|(at, index, action)| (*at, !matches!(action, Action::Receive), *index));
    steps
}

/// The default approval policy: adopted and declined solutions, and every solution of an
/// urgent ticket, need the head's approval.
pub(super) fn needs_approval(case: &Case, outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Adopted | Outcome::Declined) || case.priority == Priority::Urgent
}
