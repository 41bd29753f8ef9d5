//! The domain configuration: every number and keyword of `domain.md` as a default, read from
//! the one TOML file of the services, merged over the defaults and checked before use.
//!
//! Loading works in three passes. The text is parsed into a TOML table; the service-owned
//! sections (`nats`, `intake_service`, ...) are set aside unread; the rest is merged over the
//! defaults (tables merge key by key, arrays and values replace), so a partial file overrides
//! only what it names. The merged table is then deserialised with `deny_unknown_fields`; when
//! that fails, the offending key is found by trying the user's keys one at a time, so every
//! error names the dotted key (`sla.urgent.respond.unit`) and the reason. Finally the
//! cross-references are validated (departments, channels, dates, templates).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::rules::assignment::AssignmentPolicy;
use crate::types::{ContentType, Kind, Outcome, Priority, Role};

/// The top-level sections owned by the services; `DomainConfig` accepts them without looking
/// inside.
pub const RESERVED_SECTIONS: &[&str] = &[
    "nats",
    "intake_service",
    "workflow_service",
    "notify",
    "webhook",
    "retention",
    "logging",
    "rate_limits",
    // The gRPC servers' TLS files (`service::tls`).
    "tls",
];

/// The whole domain configuration. `Default` carries every number of `domain.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DomainConfig {
    /// A version label recorded on events; when absent a short SHA-256 of the canonical
    /// configuration is used instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The channels a submission may name.
    pub channels: Vec<String>,
    /// The departments, by their stable id.
    pub departments: BTreeMap<String, DepartmentConfig>,
    pub classification: ClassificationConfig,
    pub routing: RoutingConfig,
    pub sla: SlaConfig,
    pub calendar: CalendarConfig,
    pub review: ReviewConfig,
    pub approval: ApprovalConfig,
    pub limits: LimitsConfig,
    pub notices: NoticesConfig,
    /// What an adopted suggestion earns.
    pub rewards: crate::problems::RewardsConfig,
    /// How similar tickets are suggested as duplicates of a problem.
    pub problems: crate::problems::ProblemsConfig,
    /// Service-owned sections, kept unread for the service that owns them.
    #[serde(skip_serializing)]
    pub nats: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub intake_service: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub workflow_service: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub notify: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub webhook: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub retention: Option<toml::Table>,
    #[serde(skip_serializing)]
    pub logging: Option<toml::Table>,
}

/// One department: display names and who is told, in order, when its tickets escalate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DepartmentConfig {
    pub name_zh: String,
    pub name_en: String,
    /// Escalation contacts, level 1 first: a principal name or `role:<role>`.
    pub escalation: Vec<String>,
    /// The people of the department (principal names of the tokens file), in the order the
    /// round robin follows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// How new tickets find a person: `none` (claimed or assigned by hand), `round_robin` or
    /// `fewest_open`.
    #[serde(skip_serializing_if = "AssignmentPolicy::is_none")]
    pub assignment: AssignmentPolicy,
}

/// Keyword tables per kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct KindKeywords {
    pub suggestion: Vec<String>,
    pub complaint: Vec<String>,
    pub problem: Vec<String>,
    pub inquiry: Vec<String>,
    pub praise: Vec<String>,
}

impl KindKeywords {
    /// The table of one kind.
    pub fn of(&self, kind: Kind) -> &[String] {
        match kind {
            Kind::Suggestion => &self.suggestion,
            Kind::Complaint => &self.complaint,
            Kind::Problem => &self.problem,
            Kind::Inquiry => &self.inquiry,
            Kind::Praise => &self.praise,
        }
    }
}

/// Keyword tables per content type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ContentKeywords {
    pub product: Vec<String>,
    pub service: Vec<String>,
    pub process: Vec<String>,
    pub experience: Vec<String>,
}

impl ContentKeywords {
    /// The table of one content type.
    pub fn of(&self, content_type: ContentType) -> &[String] {
        match content_type {
            ContentType::Product => &self.product,
            ContentType::Service => &self.service,
            ContentType::Process => &self.process,
            ContentType::Experience => &self.experience,
        }
    }
}

/// Keyword tables that raise the priority. Medium is the default and low follows from the kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct PriorityKeywords {
    pub urgent: Vec<String>,
    pub high: Vec<String>,
}

/// The classification rules. A keyword is matched case-insensitively; an English keyword
/// only at word boundaries, a Chinese one anywhere; a trailing `*` matches any word ending
/// (`crash*` matches "crashes").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassificationConfig {
    /// Below this confidence a ticket waits in the classify step for a person.
    pub confidence_threshold: f64,
    /// Product and module names reported as keywords ("APP", "小程序").
    pub products: Vec<String>,
    pub kinds: KindKeywords,
    /// When several kinds match, the first of this list wins.
    pub kind_precedence: Vec<Kind>,
    /// The kind when no kind keyword matches.
    pub default_kind: Kind,
    pub content_types: ContentKeywords,
    /// When content types match equally often, the first of this list wins.
    pub content_precedence: Vec<ContentType>,
    /// The content type when no content keyword matches.
    pub default_content_type: ContentType,
    pub priorities: PriorityKeywords,
    /// The priority when no priority keyword matches and the kind is not a low one.
    pub default_priority: Priority,
    /// Kinds that are low priority unless a priority keyword matches (praise, general
    /// suggestions).
    pub low_priority_kinds: Vec<Kind>,
    /// Keywords that make the scope global ("所有用户", "all customers").
    pub global_keywords: Vec<String>,
    /// The scope is also global when the routing keywords of this many departments appear.
    pub global_min_departments: usize,
    /// Keywords that mark a complex case (repeated, unresolved): it takes the complaint row
    /// of the SLA table.
    pub complex_keywords: Vec<String>,
}

/// The routing table: the first rule that matches wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    pub rules: Vec<RouteRuleConfig>,
}

/// One routing rule. Every criterion given must match; an empty criterion matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RouteRuleConfig {
    /// A name recorded in the history; defaults to `rule-<n>`.
    pub name: String,
    /// The one accountable department.
    pub department: String,
    /// Departments that help.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub helpers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub content_types: Vec<ContentType>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<Kind>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub priorities: Vec<Priority>,
    /// Product or module names; matched against the submission's product and the keywords.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    /// At least one of these keywords must have been extracted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords_any: Vec<String>,
    /// All of these keywords must have been extracted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keywords_all: Vec<String>,
}

/// The unit of an SLA allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Seconds: meant for tests and demonstrations with very short deadlines.
    Seconds,
    Minutes,
    Hours,
    Days,
    /// Hours counted on the working clock only.
    WorkingHours,
    /// Working days of the business calendar.
    WorkingDays,
}

/// Which clock an allowance runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Clock {
    /// Around the clock, every day.
    #[serde(rename = "24x7")]
    AroundTheClock,
    /// Working hours of working days only.
    #[serde(rename = "working")]
    Working,
}

impl Clock {
    /// The name used in configuration and explanations.
    pub fn as_str(self) -> &'static str {
        match self {
            Clock::AroundTheClock => "24x7",
            Clock::Working => "working",
        }
    }
}

/// An amount of time an SLA allows, with its unit and clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowance {
    pub amount: u32,
    pub unit: TimeUnit,
    /// Defaults to `24x7` for minutes, hours and days and to `working` for the working units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
}

impl Allowance {
    /// An allowance of `amount` `unit`s on `clock`.
    pub const fn new(amount: u32, unit: TimeUnit, clock: Clock) -> Self {
        Self {
            amount,
            unit,
            clock: Some(clock),
        }
    }

    /// The clock this allowance runs on, after defaults.
    pub fn effective_clock(&self) -> Clock {
        match (self.unit, self.clock) {
            (TimeUnit::WorkingHours | TimeUnit::WorkingDays, _) => Clock::Working,
            (_, Some(clock)) => clock,
            (_, None) => Clock::AroundTheClock,
        }
    }

    /// A short human description ("2 hours, 24x7").
    pub fn describe(&self) -> String {
        let unit = match self.unit {
            TimeUnit::Seconds => "seconds",
            TimeUnit::Minutes => "minutes",
            TimeUnit::Hours => "hours",
            TimeUnit::Days => "days",
            TimeUnit::WorkingHours => "working hours",
            TimeUnit::WorkingDays => "working days",
        };
        format!(
            "{} {unit} on the {} clock",
            self.amount,
            self.effective_clock().as_str()
        )
    }
}

/// The two allowances of one SLA row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaRow {
    pub respond: Allowance,
    pub resolve: Allowance,
}

/// One level of the escalation chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationLevel {
    /// The role told at this level (the department head, a manager).
    pub notify: Role,
    /// How long after the breach this level is reached.
    pub after_breach: Allowance,
}

/// The SLA policy: the table of `domain.md`, warnings and escalation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaConfig {
    pub urgent: SlaRow,
    pub high: SlaRow,
    pub medium: SlaRow,
    pub low: SlaRow,
    /// The row for complaints and complex cases. Where it applies, each deadline is the
    /// stricter (earlier) of this row and the priority's row.
    pub complaint: SlaRow,
    /// The kinds the complaint row applies to (complex cases always take it).
    pub complaint_kinds: Vec<Kind>,
    /// A warning is due when this share of the allowed time has passed.
    pub warning_threshold: f64,
    /// Whether waiting for the customer pauses the clock.
    pub allow_customer_pause: bool,
    /// Level 1 first.
    pub escalation: Vec<EscalationLevel>,
}

impl SlaConfig {
    /// The row of one priority.
    pub fn row(&self, priority: Priority) -> &SlaRow {
        match priority {
            Priority::Urgent => &self.urgent,
            Priority::High => &self.high,
            Priority::Medium => &self.medium,
            Priority::Low => &self.low,
        }
    }
}

/// The business calendar: a fixed UTC offset, working hours, weekends, holidays and make-up
/// working days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalendarConfig {
    /// A version label; defaults to a short hash of this section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The fixed offset from UTC of the business, "+08:00" for China.
    pub utc_offset: String,
    /// Working periods of a working day, "HH:MM-HH:MM", in order; the gap between two
    /// periods is the lunch break. One period means no lunch break.
    pub working_hours: Vec<String>,
    /// Days of the week that are not working days: mon, tue, wed, thu, fri, sat, sun.
    pub weekend: Vec<String>,
    /// Public holidays: "YYYY-MM-DD" or a range "YYYY-MM-DD..YYYY-MM-DD" (inclusive).
    pub holidays: Vec<String>,
    /// Make-up working days (调休) that fall on a weekend, same forms as `holidays`.
    pub workdays: Vec<String>,
}

/// The review step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// Scores (1 to 5) below this reopen the ticket for a second round.
    pub satisfied_threshold: u8,
}

/// Which solutions need the department head's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalConfig {
    /// Solutions with one of these outcomes need approval.
    pub outcomes: Vec<Outcome>,
    /// Any solution of a ticket with one of these priorities needs approval.
    pub priorities: Vec<Priority>,
}

/// The default of [`LimitsConfig::notes_max_per_ticket`].
pub const DEFAULT_NOTES_MAX_PER_TICKET: usize = 500;

/// The limits intake applies to a submission, and the caps on what one ticket may hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest content, in characters after normalisation.
    pub content_max_chars: usize,
    pub attributes_max_count: usize,
    pub attribute_key_max_chars: usize,
    pub attribute_value_max_chars: usize,
    /// Longest short text field (name, ids, product, order id), in characters.
    pub field_max_chars: usize,
    /// How far in the future `occurred_at` may be, for clocks that run ahead.
    pub future_skew_seconds: u64,
    /// How long a content-derived idempotency key is remembered.
    pub dedupe_window_hours: u64,
    /// Whether a `customer_id` alone counts as a way to reach the customer.
    pub customer_id_counts_as_contact: bool,
    /// The most notes one ticket may carry; `AddNote` beyond it is refused (RESOURCE_EXHAUSTED
    /// naming `limits.notes_max_per_ticket`). Left out of the canonical form while at its
    /// default, so that the configuration version of existing set-ups does not change.
    #[serde(skip_serializing_if = "is_default_notes_max")]
    pub notes_max_per_ticket: usize,
}

fn is_default_notes_max(value: &usize) -> bool {
    *value == DEFAULT_NOTES_MAX_PER_TICKET
}

/// The language of a customer notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Zh,
    En,
}

/// Customer notice templates. Placeholders: `{ticket_id}`, `{received_at}`, `{respond_by}`,
/// `{resolve_by}`; an unknown placeholder is a configuration error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoticesConfig {
    pub default_language: Language,
    /// A `strftime` format for instants, rendered in the calendar's offset.
    pub time_format: String,
    pub receipt_zh: String,
    pub receipt_en: String,
}

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

/// One step of a path into the configuration: a key or an array index.
#[derive(Debug, Clone)]
enum Segment {
    Key(String),
    Index(usize),
}

fn render_path(path: &[Segment]) -> String {
    let mut rendered = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !rendered.is_empty() {
                    rendered.push('.');
                }
                rendered.push_str(key);
            }
            Segment::Index(index) => rendered.push_str(&format!("[{index}]")),
        }
    }
    rendered
}

/// Merges `overlay` into `base`: tables merge key by key, everything else replaces.
fn merge_tables(base: &mut toml::Table, overlay: &toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(overlay_table)) => {
                merge_tables(base_table, overlay_table);
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Wraps `leaf` in the tables and arrays that `path` describes.
fn wrap(path: &[Segment], leaf: toml::Value) -> toml::Value {
    path.iter()
        .rev()
        .fold(leaf, |inner, segment| match segment {
            Segment::Key(key) => {
                let mut table = toml::Table::new();
                table.insert(key.clone(), inner);
                toml::Value::Table(table)
            }
            Segment::Index(_) => toml::Value::Array(vec![inner]),
        })
}

impl DomainConfig {
    /// Reads a configuration file's text: a partial file overrides only what it names, the
    /// service-owned sections are kept unread, and every error names the key and the reason.
    pub fn from_toml_str(text: &str) -> Result<Self, DomainError> {
        let mut user: toml::Table = toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .and_then(|span| text.get(..span.start))
                .map_or(1, |before| before.matches('\n').count() + 1);
            DomainError::Config {
                key: format!("line {line}"),
                reason: error.message().trim().to_owned(),
            }
        })?;
        let mut reserved = BTreeMap::new();
        for section in RESERVED_SECTIONS {
            if let Some(value) = user.remove(*section) {
                match value {
                    toml::Value::Table(table) => {
                        reserved.insert(*section, table);
                    }
                    other => {
                        return Err(DomainError::Config {
                            key: (*section).to_owned(),
                            reason: format!("expected a table, found {}", other.type_str()),
                        })
                    }
                }
            }
        }
        let defaults = Self::default().to_toml_table()?;
        let probe = |path: &[Segment], value: &toml::Value| -> Result<Self, String> {
            let mut merged = defaults.clone();
            if let toml::Value::Table(overlay) = wrap(path, value.clone()) {
                merge_tables(&mut merged, &overlay);
            }
            toml::Value::Table(merged)
                .try_into::<Self>()
                .map_err(|error| error.message().trim().to_owned())
        };
        let mut config = match probe(&[], &toml::Value::Table(user.clone())) {
            Ok(config) => config,
            Err(message) => {
                let (key, reason) =
                    locate_error(&mut Vec::new(), &toml::Value::Table(user), message, &probe);
                return Err(DomainError::Config {
                    key: if key.is_empty() {
                        "(root)".to_owned()
                    } else {
                        key
                    },
                    reason,
                });
            }
        };
        config.nats = reserved.remove("nats");
        config.intake_service = reserved.remove("intake_service");
        config.workflow_service = reserved.remove("workflow_service");
        config.notify = reserved.remove("notify");
        config.webhook = reserved.remove("webhook");
        config.retention = reserved.remove("retention");
        config.logging = reserved.remove("logging");
        config.validate()?;
        Ok(config)
    }

    /// The configuration as a TOML table (service-owned sections left out).
    pub fn to_toml_table(&self) -> Result<toml::Table, DomainError> {
        toml::Table::try_from(self).map_err(|error| DomainError::Config {
            key: "(root)".to_owned(),
            reason: format!("cannot render the configuration: {error}"),
        })
    }

    /// The configuration rendered as TOML (service-owned sections left out).
    pub fn to_toml_string(&self) -> Result<String, DomainError> {
        toml::to_string_pretty(self).map_err(|error| DomainError::Config {
            key: "(root)".to_owned(),
            reason: format!("cannot render the configuration: {error}"),
        })
    }

    /// The canonical JSON of the domain sections, the input of the derived version.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The configured version, or `sha256:` and the first 12 hex digits of the SHA-256 of the
    /// canonical JSON.
    pub fn effective_version(&self) -> String {
        match &self.version {
            Some(version) if !version.trim().is_empty() => version.trim().to_owned(),
            _ => format!("sha256:{}", short_hash(&self.canonical_json())),
        }
    }

    /// Whether `department` is configured.
    pub fn is_department(&self, department: &str) -> bool {
        self.departments.contains_key(department)
    }

    /// Checks the cross-references and ranges that serde cannot: departments, channels,
    /// thresholds, calendar dates and notice templates.
    pub fn validate(&self) -> Result<(), DomainError> {
        self.rewards.validate()?;
        self.problems.validate()?;
        let fail = |key: String, reason: String| Err(DomainError::Config { key, reason });
        if self.channels.is_empty() {
            return fail("channels".into(), "at least one channel is needed".into());
        }
        for (index, channel) in self.channels.iter().enumerate() {
            let valid = !channel.is_empty()
                && channel
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
            if !valid {
                return fail(
                    format!("channels[{index}]"),
                    format!("channel {channel:?} must be lowercase letters, digits, _ or -"),
                );
            }
            if self.channels[..index].contains(channel) {
                return fail(
                    format!("channels[{index}]"),
                    format!("channel {channel:?} is listed twice"),
                );
            }
        }
        if self.departments.is_empty() {
            return fail(
                "departments".into(),
                "at least one department is needed".into(),
            );
        }
        for (id, department) in &self.departments {
            let valid = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return fail(
                    format!("departments.{id}"),
                    "a department id must be lowercase letters, digits or _".into(),
                );
            }
            if department.name_zh.trim().is_empty() {
                return fail(
                    format!("departments.{id}.name_zh"),
                    "must not be empty".into(),
                );
            }
            if department.name_en.trim().is_empty() {
                return fail(
                    format!("departments.{id}.name_en"),
                    "must not be empty".into(),
                );
            }
            for (index, contact) in department.escalation.iter().enumerate() {
                if let Some(role) = contact.strip_prefix("role:") {
                    if Role::parse("role", role).is_err() {
                        return fail(
                            format!("departments.{id}.escalation[{index}]"),
                            format!("unknown role {role:?}"),
                        );
                    }
                } else if contact.trim().is_empty() {
                    return fail(
                        format!("departments.{id}.escalation[{index}]"),
                        "must not be empty".into(),
                    );
                }
            }
        }
        for (id, department) in &self.departments {
            crate::rules::assignment::validate_department(id, department)?;
        }
        self.validate_classification()?;
        for (index, rule) in self.routing.rules.iter().enumerate() {
            let key = format!("routing.rules[{index}]");
            if !self.is_department(&rule.department) {
                return fail(
                    format!("{key}.department"),
                    format!("unknown department {:?}", rule.department),
                );
            }
            for (helper_index, helper) in rule.helpers.iter().enumerate() {
                if !self.is_department(helper) {
                    return fail(
                        format!("{key}.helpers[{helper_index}]"),
                        format!("unknown department {helper:?}"),
                    );
                }
                if helper == &rule.department {
                    return fail(
                        format!("{key}.helpers[{helper_index}]"),
                        "the accountable department cannot also be a helper".into(),
                    );
                }
            }
            for (list, name) in [
                (&rule.keywords_any, "keywords_any"),
                (&rule.keywords_all, "keywords_all"),
                (&rule.products, "products"),
            ] {
                if let Some(position) = list
                    .iter()
                    .position(|word| word.trim().trim_end_matches('*').is_empty())
                {
                    return fail(
                        format!("{key}.{name}[{position}]"),
                        "a keyword must not be empty".into(),
                    );
                }
            }
        }
        self.validate_sla()?;
        super::calendar::BusinessCalendar::from_config(&self.calendar)?;
        if !(1..=5).contains(&self.review.satisfied_threshold) {
            return fail(
                "review.satisfied_threshold".into(),
                "must be between 1 and 5".into(),
            );
        }
        let limits = &self.limits;
        for (value, key) in [
            (limits.content_max_chars, "limits.content_max_chars"),
            (
                limits.attribute_key_max_chars,
                "limits.attribute_key_max_chars",
            ),
            (
                limits.attribute_value_max_chars,
                "limits.attribute_value_max_chars",
            ),
            (limits.field_max_chars, "limits.field_max_chars"),
            (limits.notes_max_per_ticket, "limits.notes_max_per_ticket"),
        ] {
            if value == 0 {
                return fail(key.into(), "must be at least 1".into());
            }
        }
        if limits.future_skew_seconds > 86_400 {
            return fail(
                "limits.future_skew_seconds".into(),
                "must be at most 86400 (one day)".into(),
            );
        }
        if limits.dedupe_window_hours > 24 * 366 {
            return fail(
                "limits.dedupe_window_hours".into(),
                "must be at most 8784 (one year)".into(),
            );
        }
        crate::notice::Notices::from_config(&self.notices, &self.calendar)?;
        Ok(())
    }

    fn validate_classification(&self) -> Result<(), DomainError> {
        let classification = &self.classification;
        let fail = |key: String, reason: &str| {
            Err(DomainError::Config {
                key,
                reason: reason.to_owned(),
            })
        };
        let threshold = classification.confidence_threshold;
        if !(0.0..=1.0).contains(&threshold) {
            return fail(
                "classification.confidence_threshold".into(),
                "must be between 0.0 and 1.0",
            );
        }
        let mut lists: Vec<(String, &Vec<String>)> = vec![
            ("classification.products".into(), &classification.products),
            (
                "classification.priorities.urgent".into(),
                &classification.priorities.urgent,
            ),
            (
                "classification.priorities.high".into(),
                &classification.priorities.high,
            ),
            (
                "classification.global_keywords".into(),
                &classification.global_keywords,
            ),
            (
                "classification.complex_keywords".into(),
                &classification.complex_keywords,
            ),
        ];
        for kind in Kind::ALL {
            lists.push((
                format!("classification.kinds.{kind}"),
                match kind {
                    Kind::Suggestion => &classification.kinds.suggestion,
                    Kind::Complaint => &classification.kinds.complaint,
                    Kind::Problem => &classification.kinds.problem,
                    Kind::Inquiry => &classification.kinds.inquiry,
                    Kind::Praise => &classification.kinds.praise,
                },
            ));
        }
        for content_type in ContentType::ALL {
            lists.push((
                format!("classification.content_types.{content_type}"),
                match content_type {
                    ContentType::Product => &classification.content_types.product,
                    ContentType::Service => &classification.content_types.service,
                    ContentType::Process => &classification.content_types.process,
                    ContentType::Experience => &classification.content_types.experience,
                },
            ));
        }
        for (key, list) in lists {
            if let Some(position) = list
                .iter()
                .position(|word| word.trim().trim_end_matches('*').trim().is_empty())
            {
                return fail(format!("{key}[{position}]"), "a keyword must not be empty");
            }
        }
        for kind in Kind::ALL {
            if !classification.kind_precedence.contains(kind) {
                return Err(DomainError::Config {
                    key: "classification.kind_precedence".into(),
                    reason: format!("must list every kind, {kind} is missing"),
                });
            }
        }
        for content_type in ContentType::ALL {
            if !classification.content_precedence.contains(content_type) {
                return Err(DomainError::Config {
                    key: "classification.content_precedence".into(),
                    reason: format!("must list every content type, {content_type} is missing"),
                });
            }
        }
        if classification.global_min_departments < 2 {
            return fail(
                "classification.global_min_departments".into(),
                "must be at least 2",
            );
        }
        Ok(())
    }

    fn validate_sla(&self) -> Result<(), DomainError> {
        let sla = &self.sla;
        let check = |key: String, allowance: &Allowance| -> Result<(), DomainError> {
            if let (TimeUnit::WorkingHours | TimeUnit::WorkingDays, Some(Clock::AroundTheClock)) =
                (allowance.unit, allowance.clock)
            {
                return Err(DomainError::Config {
                    key: format!("{key}.clock"),
                    reason: "working units run on the working clock, not 24x7".into(),
                });
            }
            let limit = match allowance.unit {
                TimeUnit::Seconds => 60 * 60 * 24 * 366,
                TimeUnit::Minutes => 60 * 24 * 366,
                TimeUnit::Hours | TimeUnit::WorkingHours => 24 * 366,
                TimeUnit::Days | TimeUnit::WorkingDays => 366,
            };
            if allowance.amount > limit {
                return Err(DomainError::Config {
                    key: format!("{key}.amount"),
                    reason: format!("must be at most {limit} (one year)"),
                });
            }
            Ok(())
        };
        for priority in Priority::ALL {
            let row = sla.row(*priority);
            for (name, allowance) in [("respond", &row.respond), ("resolve", &row.resolve)] {
                let key = format!("sla.{priority}.{name}");
                check(key.clone(), allowance)?;
                if allowance.amount == 0 {
                    return Err(DomainError::Config {
                        key: format!("{key}.amount"),
                        reason: "must be at least 1".into(),
                    });
                }
            }
        }
        for (name, allowance) in [
            ("respond", &sla.complaint.respond),
            ("resolve", &sla.complaint.resolve),
        ] {
            let key = format!("sla.complaint.{name}");
            check(key.clone(), allowance)?;
            if allowance.amount == 0 {
                return Err(DomainError::Config {
                    key: format!("{key}.amount"),
                    reason: "must be at least 1".into(),
                });
            }
        }
        if !(sla.warning_threshold > 0.0 && sla.warning_threshold < 1.0) {
            return Err(DomainError::Config {
                key: "sla.warning_threshold".into(),
                reason: "must be greater than 0.0 and less than 1.0".into(),
            });
        }
        for (index, level) in sla.escalation.iter().enumerate() {
            check(
                format!("sla.escalation[{index}].after_breach"),
                &level.after_breach,
            )?;
        }
        Ok(())
    }
}

/// Finds the innermost key of `value` (the user's text at `path`) that makes the probe fail.
fn locate_error<P>(
    path: &mut Vec<Segment>,
    value: &toml::Value,
    message: String,
    probe: &P,
) -> (String, String)
where
    P: Fn(&[Segment], &toml::Value) -> Result<DomainConfig, String>,
{
    match value {
        toml::Value::Table(table) => {
            if !path.is_empty() {
                if let Err(own_message) = probe(path, &toml::Value::Table(toml::Table::new())) {
                    return (render_path(path), own_message);
                }
            }
            for (key, child) in table {
                path.push(Segment::Key(key.clone()));
                if let Err(child_message) = probe(path, child) {
                    return locate_error(path, child, child_message, probe);
                }
                path.pop();
            }
            (render_path(path), message)
        }
        toml::Value::Array(items) => {
            if let Err(own_message) = probe(path, &toml::Value::Array(Vec::new())) {
                return (render_path(path), own_message);
            }
            for (index, item) in items.iter().enumerate() {
                path.push(Segment::Index(index));
                if let Err(item_message) = probe(path, item) {
                    return locate_error(path, item, item_message, probe);
                }
                path.pop();
            }
            (render_path(path), message)
        }
        _ => (render_path(path), message),
    }
}

/// The first 12 hex digits of the SHA-256 of `text`.
pub fn short_hash(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    hex::encode(digest)[..12].to_owned()
}
