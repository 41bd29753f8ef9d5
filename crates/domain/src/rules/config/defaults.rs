//! The built-in configuration: every number and keyword of `domain.md`.

use super::types::{
    Allowance, ApprovalConfig, CalendarConfig, ClassificationConfig, Clock, ContentKeywords,
    DepartmentConfig, DomainConfig, EscalationLevel, KindKeywords, Language, LimitsConfig,
    NoticesConfig, PriorityKeywords, ReviewConfig, RouteRuleConfig, RoutingConfig, SlaConfig,
    SlaRow, TimeUnit, DEFAULT_NOTES_MAX_PER_TICKET,
};
use crate::types::{ContentType, Kind, Outcome, Priority, Role};

fn words(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

impl Default for DomainConfig {
    fn default() -> Self {
        let department = |zh: &str, en: &str| DepartmentConfig {
            name_zh: zh.to_owned(),
            name_en: en.to_owned(),
            escalation: words(&["role:head", "role:manager"]),
            ..DepartmentConfig::default()
        };
        let departments = [
            ("product", department("产品部", "Product")),
            ("technical", department("技术部", "Technical")),
            ("quality", department("质量部", "Quality")),
            ("logistics", department("物流部", "Logistics")),
            ("after_sales", department("售后服务部", "After-sales")),
            (
                "customer_service",
                department("客户服务部", "Customer service"),
            ),
            ("operations", department("运营部", "Operations")),
            ("marketing", department("市场部", "Marketing")),
        ]
        .into_iter()
        .map(|(id, config)| (id.to_owned(), config))
        .collect();
        Self {
            version: None,
            channels: words(&[
                "web", "app", "wechat", "weibo", "email", "hotline", "sms", "store", "visit",
                "callback", "review", "survey",
            ]),
            departments,
            classification: ClassificationConfig::default(),
            routing: RoutingConfig::defaults(),
            sla: SlaConfig::default(),
            calendar: CalendarConfig::default(),
            review: ReviewConfig::default(),
            approval: ApprovalConfig::default(),
            limits: LimitsConfig::default(),
            notices: NoticesConfig::default(),
            rewards: crate::problems::RewardsConfig::default(),
            problems: crate::problems::ProblemsConfig::default(),
            nats: None,
            intake_service: None,
            workflow_service: None,
            notify: None,
            webhook: None,
            retention: None,
            logging: None,
        }
    }
}

impl Default for ClassificationConfig {
    fn default() -> Self {
        Self {
            confidence_threshold: 0.5,
            products: words(&[
                "APP",
                "小程序",
                "官网",
                "公众号",
                "客户端",
                "网站",
                "购物车",
                "会员中心",
                "website",
                "mini program",
            ]),
            kinds: KindKeywords {
                suggestion: words(&[
                    "建议",
                    "希望",
                    "能不能",
                    "能否",
                    "可否",
                    "改进",
                    "suggest*",
                    "would be nice",
                    "feature request",
                    "please add",
                    "could you add",
                    "wish",
                ]),
                complaint: words(&[
                    "投诉",
                    "不满",
                    "不满意",
                    "态度差",
                    "态度恶劣",
                    "差评",
                    "响应慢",
                    "太慢",
                    "没人理",
                    "无人处理",
                    "欺骗",
                    "维权",
                    "complain*",
                    "terrible",
                    "unacceptable",
                    "rude",
                    "awful",
                    "disappointed",
                    "太贵",
                    "too expensive",
                    "no response",
                ]),
                problem: words(&[
                    "故障",
                    "卡顿",
                    "闪退",
                    "崩溃",
                    "报错",
                    "打不开",
                    "无法登录",
                    "登录不了",
                    "can't log in",
                    "cannot log in",
                    "无法使用",
                    "宕机",
                    "安全隐患",
                    "起火",
                    "着火",
                    "漏电",
                    "爆炸",
                    "冒烟",
                    "扣款未生成订单",
                    "重复扣款",
                    "破损",
                    "质量问题",
                    "bug",
                    "bugs",
                    "crash*",
                    "error",
                    "errors",
                    "doesn't work",
                    "does not work",
                    "not working",
                    "broken",
                    "defective",
                    "outage",
                    "safety hazard",
                    "charged twice",
                    "money taken but no order",
                ]),
                inquiry: words(&[
                    "请问",
                    "咨询",
                    "怎么",
                    "如何",
                    "多久",
                    "how do i",
                    "how can i",
                    "how to",
                    "question",
                    "when will",
                ]),
                praise: words(&[
                    "表扬",
                    "感谢",
                    "谢谢",
                    "点赞",
                    "好评",
                    "满意",
                    "great job",
                    "thank you",
                    "thanks",
                    "well done",
                    "excellent",
                ]),
            },
            kind_precedence: vec![
                Kind::Complaint,
                Kind::Problem,
                Kind::Suggestion,
                Kind::Inquiry,
                Kind::Praise,
            ],
            default_kind: Kind::Inquiry,
            content_types: ContentKeywords {
                product: words(&[
                    "产品",
                    "功能",
                    "缺陷",
                    "故障",
                    "卡顿",
                    "闪退",
                    "崩溃",
                    "报错",
                    "打不开",
                    "无法登录",
                    "登录不了",
                    "性能",
                    "耗电",
                    "发热",
                    "质量",
                    "质量问题",
                    "破损",
                    "安全隐患",
                    "起火",
                    "着火",
                    "漏电",
                    "爆炸",
                    "冒烟",
                    "宕机",
                    "bug",
                    "bugs",
                    "crash*",
                    "defect*",
                    "defective",
                    "broken",
                    "feature",
                    "performance",
                    "slow",
                    "lag*",
                    "outage",
                    "safety hazard",
                ]),
                service: words(&[
                    "服务",
                    "客服",
                    "态度",
                    "态度差",
                    "态度恶劣",
                    "响应慢",
                    "效率",
                    "售后",
                    "维修",
                    "保修",
                    "物流",
                    "快递",
                    "配送",
                    "发货",
                    "service",
                    "staff",
                    "support",
                    "attitude",
                    "after-sales",
                    "after sales",
                    "repair",
                    "warranty",
                    "delivery",
                    "shipping",
                    "courier",
                ]),
                process: words(&[
                    "流程",
                    "审批",
                    "发票",
                    "退货",
                    "退款",
                    "换货",
                    "扣款",
                    "扣款未生成订单",
                    "重复扣款",
                    "支付",
                    "订单",
                    "手续",
                    "approval",
                    "invoice*",
                    "refund*",
                    "return",
                    "returns",
                    "exchange",
                    "payment",
                    "billing",
                    "charged twice",
                    "money taken but no order",
                ]),
                experience: words(&[
                    "界面",
                    "体验",
                    "不好用",
                    "难用",
                    "操作复杂",
                    "太贵",
                    "价格",
                    "优惠",
                    "促销",
                    "UI",
                    "interface",
                    "layout",
                    "usability",
                    "hard to use",
                    "confusing",
                    "expensive",
                    "too expensive",
                    "price*",
                    "promotion",
                    "discount",
                    "coupon*",
                ]),
            },
            content_precedence: vec![
                ContentType::Product,
                ContentType::Service,
                ContentType::Process,
                ContentType::Experience,
            ],
            default_content_type: ContentType::Product,
            priorities: PriorityKeywords {
                urgent: words(&[
                    "安全隐患",
                    "起火",
                    "着火",
                    "漏电",
                    "爆炸",
                    "冒烟",
                    "人身伤害",
                    "宕机",
                    "扣款未生成订单",
                    "重复扣款",
                    "safety hazard",
                    "fire",
                    "explosion",
                    "electric shock",
                    "injury",
                    "outage",
                    "money taken but no order",
                    "charged twice",
                ]),
                high: words(&[
                    "维权",
                    "纠纷",
                    "律师",
                    "起诉",
                    "曝光",
                    "消协",
                    "无法使用",
                    "所有用户",
                    "lawyer",
                    "legal action",
                    "dispute",
                    "sue",
                    "all users",
                    "cannot use",
                    "can't use",
                    "unusable",
                ]),
            },
            default_priority: Priority::Medium,
            low_priority_kinds: vec![Kind::Praise, Kind::Suggestion],
            global_keywords: words(&[
                "所有用户",
                "全部用户",
                "全部",
                "大量用户",
                "普遍",
                "all customers",
                "all users",
                "every user",
                "everyone",
            ]),
            global_min_departments: 2,
            complex_keywords: words(&[
                "多次",
                "反复",
                "仍未解决",
                "一直没有解决",
                "再次投诉",
                "repeatedly",
                "multiple times",
                "still not resolved",
                "still not fixed",
            ]),
        }
    }
}

impl RoutingConfig {
    /// The default routing table built from `domain.md`, most specific rules first.
    pub fn defaults() -> Self {
        let rule = |name: &str, department: &str, helpers: &[&str]| RouteRuleConfig {
            name: name.to_owned(),
            department: department.to_owned(),
            helpers: words(helpers),
            ..RouteRuleConfig::default()
        };
        let rules = vec![
            RouteRuleConfig {
                keywords_any: words(&[
                    "安全隐患",
                    "起火",
                    "着火",
                    "漏电",
                    "爆炸",
                    "冒烟",
                    "人身伤害",
                    "safety hazard",
                    "fire",
                    "explosion",
                    "electric shock",
                    "injury",
                ]),
                ..rule("safety", "quality", &["technical"])
            },
            RouteRuleConfig {
                keywords_any: words(&[
                    "质量",
                    "质量问题",
                    "破损",
                    "次品",
                    "defective",
                    "broken",
                    "damaged",
                ]),
                ..rule("quality", "quality", &[])
            },
            RouteRuleConfig {
                keywords_any: words(&[
                    "物流", "快递", "配送", "发货", "delivery", "shipping", "courier",
                ]),
                ..rule("logistics", "logistics", &[])
            },
            RouteRuleConfig {
                keywords_any: words(&[
                    "售后",
                    "维修",
                    "保修",
                    "after-sales",
                    "after sales",
                    "repair",
                    "warranty",
                ]),
                ..rule("after_sales", "after_sales", &[])
            },
            RouteRuleConfig {
                keywords_any: words(&[
                    "故障",
                    "卡顿",
                    "闪退",
                    "崩溃",
                    "报错",
                    "打不开",
                    "无法登录",
                    "登录不了",
                    "can't log in",
                    "cannot log in",
                    "宕机",
                    "bug",
                    "bugs",
                    "crash*",
                    "error",
                    "errors",
                    "outage",
                    "doesn't work",
                    "does not work",
                    "not working",
                ]),
                ..rule("defects", "technical", &["product"])
            },
            RouteRuleConfig {
                keywords_any: words(&[
                    "客服",
                    "态度",
                    "态度差",
                    "态度恶劣",
                    "attitude",
                    "rude",
                    "staff",
                ]),
                ..rule("service_attitude", "customer_service", &[])
            },
            RouteRuleConfig {
                keywords_any: words(&[
                    "价格",
                    "太贵",
                    "优惠",
                    "促销",
                    "price*",
                    "expensive",
                    "promotion",
                    "discount",
                    "coupon*",
                ]),
                ..rule("price_and_promotion", "marketing", &[])
            },
            RouteRuleConfig {
                content_types: vec![ContentType::Process],
                ..rule("process", "operations", &[])
            },
            RouteRuleConfig {
                content_types: vec![ContentType::Service],
                ..rule("service", "customer_service", &[])
            },
            RouteRuleConfig {
                content_types: vec![ContentType::Product, ContentType::Experience],
                ..rule("product", "product", &[])
            },
        ];
        Self { rules }
    }
}

impl Default for SlaConfig {
    fn default() -> Self {
        use Clock::AroundTheClock as Always;
        let hours = |amount| Allowance::new(amount, TimeUnit::Hours, Always);
        let working_days = |amount| Allowance::new(amount, TimeUnit::WorkingDays, Clock::Working);
        Self {
            urgent: SlaRow {
                respond: hours(1),
                resolve: hours(24),
            },
            high: SlaRow {
                respond: hours(2),
                resolve: hours(72),
            },
            medium: SlaRow {
                respond: hours(24),
                resolve: hours(72),
            },
            low: SlaRow {
                respond: hours(72),
                resolve: working_days(5),
            },
            complaint: SlaRow {
                respond: hours(48),
                resolve: working_days(5),
            },
            complaint_kinds: vec![Kind::Complaint],
            warning_threshold: 0.8,
            allow_customer_pause: true,
            escalation: vec![
                EscalationLevel {
                    notify: Role::Head,
                    after_breach: hours(0),
                },
                EscalationLevel {
                    notify: Role::Manager,
                    after_breach: hours(24),
                },
            ],
        }
    }
}

impl Default for CalendarConfig {
    /// China's 2026 calendar: public holidays and make-up working days as published in the
    /// State Council notice on the 2026 holiday arrangements. Users replace these lists in
    /// configuration each year.
    fn default() -> Self {
        Self {
            version: None,
            utc_offset: "+08:00".to_owned(),
            working_hours: words(&["09:00-12:00", "13:00-18:00"]),
            weekend: words(&["sat", "sun"]),
            holidays: words(&[
                "2026-01-01..2026-01-03",
                "2026-02-15..2026-02-23",
                "2026-04-04..2026-04-06",
                "2026-05-01..2026-05-05",
                "2026-06-19..2026-06-21",
                "2026-09-25..2026-09-27",
                "2026-10-01..2026-10-07",
            ]),
            workdays: words(&[
                "2026-02-14",
                "2026-02-28",
                "2026-04-26",
                "2026-05-09",
                "2026-09-20",
                "2026-10-10",
            ]),
        }
    }
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            satisfied_threshold: 4,
        }
    }
}

impl Default for ApprovalConfig {
    fn default() -> Self {
        Self {
            outcomes: vec![Outcome::Adopted, Outcome::Declined],
            priorities: vec![Priority::Urgent],
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            content_max_chars: 10_000,
            attributes_max_count: 32,
            attribute_key_max_chars: 64,
            attribute_value_max_chars: 1_024,
            field_max_chars: 256,
            future_skew_seconds: 300,
            dedupe_window_hours: 24,
            customer_id_counts_as_contact: false,
            notes_max_per_ticket: DEFAULT_NOTES_MAX_PER_TICKET,
        }
    }
}

impl Default for NoticesConfig {
    fn default() -> Self {
        Self {
            default_language: Language::Zh,
            time_format: "%Y-%m-%d %H:%M".to_owned(),
            receipt_zh: "您的反馈已受理，工单号 {ticket_id}，我们将于 {respond_by} 前回复，预计 \
                         {resolve_by} 前处理完毕。"
                .to_owned(),
            receipt_en: "Your feedback has been received. Ticket number {ticket_id}: we will \
                         reply by {respond_by} and expect to resolve it by {resolve_by}."
                .to_owned(),
        }
    }
}
