//! Table tests of the configurable rules: configuration loading, classification, routing,
//! SLA deadlines, approval, notices and submission validation.

mod support;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use domain::error::DomainError;
use domain::rules::config::{Allowance, Clock, DomainConfig, Language, TimeUnit};
use domain::rules::Rules;
use domain::submission::{
    content_key, parse_occurred_at, Attributes, Channel, Content, CustomerInput, Email, Phone,
    Submission, SubmissionInput,
};
use domain::types::{
    Classification, ContentType, Deadline, Deadlines, Kind, Outcome, Policy, Priority, Role, Scope,
};
use proptest::prelude::*;
use support::beijing;

fn config_error_key(result: Result<DomainConfig, DomainError>) -> (String, String) {
    match result {
        Err(DomainError::Config { key, reason }) => (key, reason),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

/// The default rules' deadlines of a ticket received at `received`.
fn deadlines(
    received: DateTime<Utc>,
    kind: Kind,
    content_type: ContentType,
    priority: Priority,
) -> Deadlines {
    Rules::defaults().deadlines(received, &classification(kind, content_type, priority))
}

fn classification(kind: Kind, content_type: ContentType, priority: Priority) -> Classification {
    Classification {
        kind,
        content_type,
        priority,
        scope: Scope::Local,
        keywords: Vec::new(),
        confidence: 1.0,
        confident: true,
        complex: false,
        terms: Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

#[test]
fn the_built_in_configuration_compiles_with_a_derived_version() {
    let rules = Rules::defaults();
    let version = rules.version();
    assert!(version.starts_with("sha256:"), "{version}");
    assert_eq!(version.len(), "sha256:".len() + 12);
    assert!(rules.is_department("after_sales"));
    assert!(!rules.is_department("legal"));
    assert_eq!(rules.satisfied_threshold(), 4);
    assert_eq!(rules.channels().len(), 12);
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let config = DomainConfig::from_toml_str("").expect("empty file");
    assert_eq!(config, DomainConfig::default());
}

#[test]
fn the_default_configuration_round_trips_through_toml() {
    let text = DomainConfig::default().to_toml_string().expect("render");
    let parsed = DomainConfig::from_toml_str(&text).expect("parse rendered defaults");
    assert_eq!(parsed, DomainConfig::default());
}

#[test]
fn the_default_configuration_renders_as_this_toml() {
    let text = DomainConfig::default().to_toml_string().expect("render");
    expect_test::expect_file!["snapshots/default_config.toml"].assert_eq(&text);
}

#[test]
fn the_example_configuration_file_loads_and_equals_the_defaults() {
    let text = include_str!("../../../deploy/config/closedloop.example.toml");
    let config = DomainConfig::from_toml_str(text).expect("example file loads");
    let mut without_services = config.clone();
    without_services.nats = None;
    without_services.intake_service = None;
    without_services.workflow_service = None;
    without_services.notify = None;
    without_services.webhook = None;
    without_services.retention = None;
    without_services.logging = None;
    assert_eq!(without_services, DomainConfig::default());
}

#[test]
fn a_partial_file_overrides_only_what_it_names() {
    let config = DomainConfig::from_toml_str(
        r#"
        version = "2026-11"
        [sla.urgent.respond]
        amount = 30
        unit = "minutes"
        [departments.legal]
        name_zh = "法务部"
        name_en = "Legal"
        [departments.product]
        name_en = "Product management"
        "#,
    )
    .expect("partial file");
    let defaults = DomainConfig::default();
    assert_eq!(
        config.sla.urgent.respond,
        Allowance::new(30, TimeUnit::Minutes, Clock::AroundTheClock)
    );
    assert_eq!(config.sla.urgent.resolve, defaults.sla.urgent.resolve);
    assert_eq!(config.sla.high, defaults.sla.high);
    assert_eq!(config.departments.len(), 9, "legal is added to the eight");
    assert_eq!(config.departments["product"].name_en, "Product management");
    assert_eq!(config.departments["product"].name_zh, "产品部");
    assert_eq!(config.channels, defaults.channels);
    assert_eq!(config.calendar, defaults.calendar);
    let rules = Rules::new(config).expect("compiles");
    assert_eq!(rules.version(), "2026-11");
    assert!(rules.is_department("legal"));
}

#[test]
fn different_configurations_get_different_derived_versions() {
    let defaults = Rules::defaults().version();
    let changed = Rules::from_toml_str("[review]\nsatisfied_threshold = 3\n")
        .expect("valid")
        .version();
    assert_ne!(defaults, changed);
    assert_eq!(defaults, Rules::defaults().version(), "the hash is stable");
}

#[test]
fn configuration_errors_name_the_key_and_the_reason() {
    let cases: &[(&str, &str, &str)] = &[
        ("chanels = [\"web\"]", "chanels", "unknown field"),
        (
            "[sla.urgent]\nrespnd = { amount = 1, unit = \"hours\" }",
            "sla.urgent.respnd",
            "unknown field",
        ),
        (
            "[sla.urgent.respond]\nunit = \"weeks\"",
            "sla.urgent.respond.unit",
            "weeks",
        ),
        (
            "[sla.urgent.respond]\namount = -1",
            "sla.urgent.respond.amount",
            "",
        ),
        (
            "[sla]\nwarning_threshold = \"high\"",
            "sla.warning_threshold",
            "invalid type",
        ),
        (
            "[sla]\nwarning_threshold = 1.5",
            "sla.warning_threshold",
            "less than 1.0",
        ),
        (
            "[sla.low.resolve]\nclock = \"24x7\"",
            "sla.low.resolve.clock",
            "working clock",
        ),
        (
            "[sla.urgent.respond]\namount = 0",
            "sla.urgent.respond.amount",
            "at least 1",
        ),
        (
            "[sla.vip.respond]\namount = 0",
            "sla.vip.respond.amount",
            "at least 1",
        ),
        (
            "[sla.vip.resolve]\nunit = \"working_days\"\nclock = \"24x7\"",
            "sla.vip.resolve.clock",
            "working clock",
        ),
        (
            "[sla.vip]\nrespond = { amount = 1, unit = \"fortnights\" }",
            "sla.vip.respond.unit",
            "fortnights",
        ),
        (
            "[[routing.rules]]\ndepartment = \"legal\"",
            "routing.rules[0].department",
            "unknown department",
        ),
        (
            "[[routing.rules]]\ndepartment = \"quality\"\nhelpers = [\"quality\"]",
            "routing.rules[0].helpers[0]",
            "helper",
        ),
        (
            "[[routing.rules]]\ndepartment = \"quality\"\nkinds = [\"rant\"]",
            "routing.rules[0].kinds[0]",
            "rant",
        ),
        (
            "[[routing.rules]]\ndepartment = \"quality\"\ncolour = \"red\"",
            "routing.rules[0].colour",
            "unknown field",
        ),
        (
            "[calendar]\nholidays = [\"2026-02-30\"]",
            "calendar.holidays[0]",
            "not a date",
        ),
        (
            "[calendar]\nworkdays = [\"2026-10-01\"]",
            "calendar.workdays[0]",
            "holiday",
        ),
        (
            "[calendar]\nutc_offset = \"Asia/Shanghai\"",
            "calendar.utc_offset",
            "not a UTC offset",
        ),
        (
            "[calendar]\nworking_hours = [\"09:00-12:00\", \"11:00-18:00\"]",
            "calendar.working_hours[1]",
            "overlaps",
        ),
        (
            "[calendar]\nweekend = [\"caturday\"]",
            "calendar.weekend[0]",
            "day of the week",
        ),
        (
            "channels = [\"web\", \"Web Form\"]",
            "channels[1]",
            "lowercase",
        ),
        (
            "[departments.legal]\nname_en = \"Legal\"",
            "departments.legal.name_zh",
            "empty",
        ),
        (
            "[departments.product]\nescalation = [\"role:boss\"]",
            "departments.product.escalation[0]",
            "unknown role",
        ),
        (
            "[review]\nsatisfied_threshold = 6",
            "review.satisfied_threshold",
            "between 1 and 5",
        ),
        (
            "[classification]\nconfidence_threshold = 2.0",
            "classification.confidence_threshold",
            "between",
        ),
        (
            "[classification.kinds]\nrant = [\"argh\"]",
            "classification.kinds.rant",
            "unknown field",
        ),
        (
            "[notices]\nreceipt_zh = \"工单 {ticket_id}，{deadline}\"",
            "notices.receipt_zh",
            "unknown placeholder {deadline}",
        ),
        (
            "[notices]\nreceipt_en = \"Thanks\"",
            "notices.receipt_en",
            "{ticket_id}",
        ),
        (
            "[notices]\ntime_format = \"%Q\"",
            "notices.time_format",
            "strftime",
        ),
        (
            "[limits]\ncontent_max_chars = 0",
            "limits.content_max_chars",
            "at least 1",
        ),
        ("nats = 3", "nats", "expected a table"),
        ("[sla\nurgent = 1", "line 1", ""),
    ];
    for (text, expected_key, expected_reason) in cases {
        let (key, reason) = config_error_key(DomainConfig::from_toml_str(text));
        assert_eq!(&key, expected_key, "for {text:?}: {reason}");
        assert!(
            reason.contains(expected_reason),
            "for {text:?}: reason {reason:?} should mention {expected_reason:?}"
        );
        assert!(
            reason.chars().next().is_some_and(|c| !c.is_uppercase()) && !reason.ends_with('.'),
            "error messages are lowercase without a final period: {reason:?}"
        );
    }
}

#[test]
fn service_sections_are_accepted_unread() {
    let config = DomainConfig::from_toml_str(
        r#"
        [nats]
        url = "nats://127.0.0.1:4222"
        [intake_service]
        listen = "127.0.0.1:50051"
        [workflow_service.sla_timer]
        tick_ms = 500
        [notify]
        [webhook]
        [retention]
        keep_days = 730
        [logging]
        level = "debug"
        "#,
    )
    .expect("service sections are reserved");
    let nats = config.nats.as_ref().expect("nats kept");
    assert_eq!(
        nats.get("url").and_then(toml::Value::as_str),
        Some("nats://127.0.0.1:4222")
    );
    assert!(config.logging.is_some() && config.retention.is_some());
    let rendered = config.to_toml_string().expect("render");
    assert!(
        !rendered.contains("nats"),
        "service sections are not part of the domain rendering"
    );
    assert_eq!(
        Rules::new(config).expect("compiles").version(),
        Rules::defaults().version(),
        "service sections do not change the domain version"
    );
}

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

struct ClassifyCase {
    text: &'static str,
    kind: Kind,
    content_type: ContentType,
    priority: Priority,
    scope: Scope,
    keywords: &'static [&'static str],
    confident: bool,
}

#[test]
fn classification_table() {
    use ContentType::*;
    use Kind::*;
    use Priority::*;
    let cases = [
        ClassifyCase {
            text: "安全隐患",
            kind: Problem,
            content_type: Product,
            priority: Urgent,
            scope: Scope::Local,
            keywords: &["安全隐患"],
            confident: true,
        },
        ClassifyCase {
            text: "扣款未生成订单",
            kind: Problem,
            content_type: Process,
            priority: Urgent,
            scope: Scope::Local,
            keywords: &["扣款未生成订单"],
            confident: true,
        },
        ClassifyCase {
            text: "APP卡顿",
            kind: Problem,
            content_type: Product,
            priority: Medium,
            scope: Scope::Local,
            keywords: &["APP", "卡顿"],
            confident: true,
        },
        ClassifyCase {
            text: "售后响应慢",
            kind: Complaint,
            content_type: Service,
            priority: Medium,
            scope: Scope::Local,
            keywords: &["售后", "响应慢"],
            confident: true,
        },
        ClassifyCase {
            // A process word alone: the kind is unknown, so a person decides.
            text: "refund",
            kind: Inquiry,
            content_type: Process,
            priority: Medium,
            scope: Scope::Local,
            keywords: &["refund"],
            confident: false,
        },
        ClassifyCase {
            text: "crash",
            kind: Problem,
            content_type: Product,
            priority: Medium,
            scope: Scope::Local,
            keywords: &["crash"],
            confident: true,
        },
        ClassifyCase {
            text: "The App CRASHES every time I open it",
            kind: Problem,
            content_type: Product,
            priority: Medium,
            scope: Scope::Local,
            keywords: &["APP", "crash"],
            confident: true,
        },
        ClassifyCase {
            // Mixed languages and kinds: the complaint outranks the problem report, and the
            // technical and customer service keywords make the matter cross departments.
            text: "The app keeps crashing and 客服态度差, terrible!",
            kind: Complaint,
            content_type: Service,
            priority: Medium,
            scope: Scope::Global,
            keywords: &["APP", "crash", "客服", "态度差", "terrible"],
            confident: true,
        },
        ClassifyCase {
            text: "快递破损，而且APP闪退",
            kind: Problem,
            content_type: Product,
            priority: Medium,
            scope: Scope::Global,
            keywords: &["快递", "破损", "APP", "闪退"],
            confident: true,
        },
        ClassifyCase {
            text: "我对你们的服务很不满意",
            kind: Complaint,
            content_type: Service,
            priority: Medium,
            scope: Scope::Local,
            keywords: &["服务", "不满意"],
            confident: true,
        },
        ClassifyCase {
            text: "投诉：多次维权无果，我要找律师",
            kind: Complaint,
            content_type: Product,
            // A threat to go to a lawyer is urgent (docs/classification.md, "The corpus").
            priority: Urgent,
            scope: Scope::Local,
            keywords: &["投诉", "多次", "维权", "律师"],
            confident: false,
        },
        ClassifyCase {
            text: "建议增加夜间模式功能",
            kind: Suggestion,
            content_type: Product,
            priority: Low,
            scope: Scope::Local,
            keywords: &["建议", "功能"],
            confident: true,
        },
        ClassifyCase {
            text: "感谢客服小王，点赞",
            kind: Praise,
            content_type: Service,
            priority: Low,
            scope: Scope::Local,
            keywords: &["感谢", "客服", "点赞"],
            confident: true,
        },
        ClassifyCase {
            text: "I was charged twice for one order",
            kind: Problem,
            content_type: Process,
            priority: Urgent,
            scope: Scope::Local,
            keywords: &["charged twice"],
            confident: true,
        },
        ClassifyCase {
            text: "所有用户都无法登录",
            kind: Problem,
            content_type: Product,
            priority: High,
            scope: Scope::Global,
            keywords: &["所有用户", "无法登录"],
            confident: true,
        },
        ClassifyCase {
            text: "价格太贵了",
            kind: Complaint,
            content_type: Experience,
            priority: Medium,
            scope: Scope::Local,
            keywords: &["价格", "太贵"],
            confident: true,
        },
        ClassifyCase {
            // English keywords match whole words only: "terrorism" does not contain "error".
            text: "terrorism prevention",
            kind: Inquiry,
            content_type: Product,
            priority: Medium,
            scope: Scope::Local,
            keywords: &[],
            confident: false,
        },
        ClassifyCase {
            // Text no rule places waits for a person.
            text: "今天天气不错",
            kind: Inquiry,
            content_type: Product,
            priority: Medium,
            scope: Scope::Local,
            keywords: &[],
            confident: false,
        },
    ];
    let rules = Rules::defaults();
    for case in cases {
        let got = rules.classify(case.text, None);
        assert_eq!(got.kind, case.kind, "kind of {:?}", case.text);
        assert_eq!(
            got.content_type, case.content_type,
            "content type of {:?}",
            case.text
        );
        assert_eq!(got.priority, case.priority, "priority of {:?}", case.text);
        assert_eq!(got.scope, case.scope, "scope of {:?}", case.text);
        assert_eq!(got.keywords, case.keywords, "keywords of {:?}", case.text);
        assert_eq!(
            got.confident, case.confident,
            "confidence of {:?} is {}",
            case.text, got.confidence
        );
        assert_eq!(got.confident, got.confidence >= 0.5);
    }
}

#[test]
fn complex_cases_are_marked() {
    let rules = Rules::defaults();
    assert!(rules.classify("多次投诉仍未解决", None).complex);
    assert!(!rules.classify("APP卡顿", None).complex);
}

#[test]
fn nothing_matched_means_zero_confidence() {
    let got = Rules::defaults().classify("今天天气不错", None);
    assert_eq!(got.confidence, 0.0);
    assert!(got.keywords.is_empty());
}

#[test]
fn negated_praise_is_not_praise() {
    // "不满意" contains "满意" (satisfied): the longer match wins.
    let got = Rules::defaults().classify("不满意", None);
    assert_eq!(got.kind, Kind::Complaint);
    assert_eq!(got.keywords, ["不满意"]);
}

#[test]
fn full_width_and_typographic_forms_match() {
    let rules = Rules::defaults();
    assert_eq!(rules.classify("ＡＰＰ卡顿", None).keywords, ["APP", "卡顿"]);
    assert_eq!(
        rules.classify("It doesn\u{2019}t work", None).kind,
        Kind::Problem
    );
}

#[test]
fn the_confidence_threshold_is_configurable() {
    let strict =
        Rules::from_toml_str("[classification]\nconfidence_threshold = 0.95\n").expect("valid");
    assert!(!strict.classify("APP卡顿", None).confident);
    let lenient =
        Rules::from_toml_str("[classification]\nconfidence_threshold = 0.3\n").expect("valid");
    assert!(lenient.classify("refund", None).confident);
}

#[test]
fn configured_keywords_replace_the_defaults() {
    let rules = Rules::from_toml_str(
        r#"
        [classification]
        products = ["会员卡"]
        [classification.kinds]
        praise = ["好评如潮"]
        "#,
    )
    .expect("valid");
    let got = rules.classify("会员卡好评如潮", None);
    assert_eq!(got.kind, Kind::Praise);
    assert_eq!(got.keywords, ["会员卡", "好评如潮"]);
    assert_ne!(rules.classify("点赞", None).kind, Kind::Praise);
}

// ---------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------

#[test]
fn routing_table() {
    // (text, department, helpers, rule)
    type RouteCase = (
        &'static str,
        &'static str,
        &'static [&'static str],
        &'static str,
    );
    let cases: &[RouteCase] = &[
        ("安全隐患", "quality", &["technical"], "safety"),
        ("扣款未生成订单", "operations", &[], "process"),
        ("APP卡顿", "technical", &["product"], "defects"),
        ("售后响应慢", "after_sales", &[], "after_sales"),
        ("refund", "operations", &[], "process"),
        ("crash", "technical", &["product"], "defects"),
        ("收到的杯子破损了", "quality", &[], "quality"),
        ("快递三天还没到", "logistics", &[], "logistics"),
        ("shipping takes forever", "logistics", &[], "logistics"),
        ("发票开错了", "operations", &[], "process"),
        ("价格太贵了", "marketing", &[], "price_and_promotion"),
        ("客服态度差", "customer_service", &[], "service_attitude"),
        ("我对你们的服务很不满意", "customer_service", &[], "service"),
        ("建议增加夜间模式功能", "product", &[], "product"),
        ("界面不好用", "product", &[], "product"),
    ];
    let rules = Rules::defaults();
    for (text, department, helpers, rule) in cases {
        let classification = rules.classify(text, None);
        let route = rules
            .route(&classification, None)
            .unwrap_or_else(|| panic!("{text:?} should be routed"));
        assert_eq!(route.department, *department, "department of {text:?}");
        assert_eq!(route.helpers, *helpers, "helpers of {text:?}");
        assert_eq!(route.rule, *rule, "rule for {text:?}");
    }
}

#[test]
fn the_first_matching_rule_wins_and_no_match_waits_for_dispatch() {
    let rules = Rules::from_toml_str(
        r#"
        [[routing.rules]]
        name = "urgent app"
        department = "technical"
        helpers = ["product"]
        priorities = ["urgent"]
        products = ["APP"]
        [[routing.rules]]
        name = "app"
        department = "product"
        products = ["APP"]
        [[routing.rules]]
        name = "invoices of complaints"
        department = "operations"
        kinds = ["complaint"]
        keywords_all = ["发票", "投诉"]
        "#,
    )
    .expect("valid");
    let mut ticket = classification(Kind::Problem, ContentType::Product, Priority::Urgent);
    ticket.keywords = vec!["APP".into()];
    assert_eq!(
        rules.route(&ticket, None).map(|r| r.rule),
        Some("urgent app".into())
    );
    ticket.priority = Priority::Low;
    assert_eq!(
        rules.route(&ticket, None).map(|r| r.rule),
        Some("app".into())
    );
    ticket.keywords.clear();
    assert_eq!(
        rules.route(&ticket, Some("官方APP 3.2")).map(|r| r.rule),
        Some("app".into()),
        "the submission's product field matches too"
    );
    assert_eq!(rules.route(&ticket, None), None, "no rule matches");
    let mut complaint = classification(Kind::Complaint, ContentType::Process, Priority::Medium);
    complaint.keywords = vec!["发票".into()];
    assert_eq!(
        rules.route(&complaint, None),
        None,
        "keywords_all needs both"
    );
    complaint.keywords.push("投诉".into());
    assert_eq!(
        rules.route(&complaint, None).map(|r| r.department),
        Some("operations".into())
    );
}

// ---------------------------------------------------------------------------------------
// SLA
// ---------------------------------------------------------------------------------------

#[test]
fn deadlines_follow_the_documents_table() {
    let rules = Rules::defaults();
    // Monday 23 November 2026, 10:00 in Beijing.
    let received = beijing(2026, 11, 23, 10, 0);
    let cases = [
        (Priority::Urgent, TimeDelta::hours(1), TimeDelta::hours(24)),
        (Priority::High, TimeDelta::hours(2), TimeDelta::hours(72)),
        (Priority::Medium, TimeDelta::hours(24), TimeDelta::hours(72)),
    ];
    for (priority, respond, resolve) in cases {
        let deadlines = deadlines(received, Kind::Problem, ContentType::Product, priority);
        assert_eq!(deadlines.respond_by, received + respond, "{priority}");
        assert_eq!(deadlines.resolve_by, received + resolve, "{priority}");
        assert_eq!(
            deadlines.warn_respond_at,
            received + respond * 4 / 5,
            "warn at 80% for {priority}"
        );
        assert_eq!(deadlines.policy_version, rules.version());
        assert!(deadlines.calendar_version.starts_with("calendar-"));
    }
    // Low: 72 hours to respond, 5 working days to resolve (next Monday, same time).
    let low = deadlines(
        received,
        Kind::Suggestion,
        ContentType::Product,
        Priority::Low,
    );
    assert_eq!(low.respond_by, received + TimeDelta::hours(72));
    assert_eq!(low.resolve_by, beijing(2026, 11, 30, 10, 0));
    // 80% of 40 working hours = 32 working hours, counted in working time: Friday 10:00.
    assert_eq!(low.warn_resolve_at, beijing(2026, 11, 27, 10, 0));
}

#[test]
fn a_complaint_takes_the_stricter_of_its_two_rows() {
    let rules = Rules::defaults();
    let received = beijing(2026, 11, 23, 10, 0);
    // A low complaint: the complaint row (48 h) is stricter than low (72 h) for responding.
    let low_complaint = deadlines(
        received,
        Kind::Complaint,
        ContentType::Service,
        Priority::Low,
    );
    assert_eq!(low_complaint.respond_by, received + TimeDelta::hours(48));
    assert_eq!(low_complaint.resolve_by, beijing(2026, 11, 30, 10, 0));
    // An urgent complaint keeps its urgent deadlines.
    let urgent_complaint = deadlines(
        received,
        Kind::Complaint,
        ContentType::Service,
        Priority::Urgent,
    );
    assert_eq!(urgent_complaint.respond_by, received + TimeDelta::hours(1));
    assert_eq!(urgent_complaint.resolve_by, received + TimeDelta::hours(24));
    // A complex case takes the complaint row whatever its kind.
    let mut complex = classification(Kind::Suggestion, ContentType::Product, Priority::Low);
    complex.complex = true;
    assert_eq!(
        rules.deadlines(received, &complex).respond_by,
        received + TimeDelta::hours(48)
    );
}

#[test]
fn working_day_deadlines_skip_the_national_day_holiday() {
    let rules = Rules::defaults();
    // Wednesday 30 September 2026, 16:00: the holiday runs 1 to 7 October, Saturday 10
    // October is a make-up working day.
    let received = beijing(2026, 9, 30, 16, 0);
    let low = deadlines(
        received,
        Kind::Suggestion,
        ContentType::Product,
        Priority::Low,
    );
    // Working days after 30 Sep: 8 (Thu), 9 (Fri), 10 (Sat, make-up), 12 (Mon), 13 (Tue).
    assert_eq!(low.resolve_by, beijing(2026, 10, 13, 16, 0));
    assert!(rules.calendar().is_working_instant(low.warn_resolve_at));
}

#[test]
fn explanations_name_the_priority_row_version_and_working_time() {
    let rules = Rules::defaults();
    let received = beijing(2026, 11, 23, 10, 0);
    let lines = rules.explain_deadlines(
        received,
        &classification(Kind::Complaint, ContentType::Service, Priority::Low),
        false,
    );
    let text = lines.join("\n");
    for expected in [
        "priority low, kind complaint",
        "stricter of the two rows",
        "respond by 2026-11-25 10:00:00 +08:00: 48 hours on the 24x7 clock from the complaint",
        "resolve by 2026-11-30 10:00:00 +08:00: 5 working days on the working clock",
        "40 h of working time counted",
        "warning at",
        &format!("policy version {}", rules.version()),
        "calendar version calendar-",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

#[test]
fn pauses_shift_deadlines_on_their_own_clock() {
    let rules = Rules::defaults();
    let received = beijing(2026, 11, 23, 10, 0);
    let low = classification(Kind::Suggestion, ContentType::Product, Priority::Low);
    assert_eq!(
        rules.deadline_clock(received, &low, false, Deadline::Respond),
        Clock::AroundTheClock
    );
    assert_eq!(
        rules.deadline_clock(received, &low, false, Deadline::Resolve),
        Clock::Working
    );
    let deadline = received + TimeDelta::hours(72);
    let paused_from = received + TimeDelta::hours(1);
    let paused_to = received + TimeDelta::hours(6);
    assert_eq!(
        rules.shift_for_pause(deadline, paused_from, paused_to, Clock::AroundTheClock),
        deadline + TimeDelta::hours(5)
    );
    // On the working clock only the working time of the pause counts: Monday 11:00 to 16:00
    // holds 4 working hours (lunch excluded).
    let working_deadline = beijing(2026, 11, 30, 10, 0);
    assert_eq!(
        rules.shift_for_pause(
            working_deadline,
            beijing(2026, 11, 23, 11, 0),
            beijing(2026, 11, 23, 16, 0),
            Clock::Working
        ),
        beijing(2026, 11, 30, 15, 0)
    );
    assert_eq!(
        domain::rules::sla::shift_for_pause(deadline, deadline, deadline + TimeDelta::hours(1)),
        deadline,
        "a pause after the deadline changes nothing"
    );
}

#[test]
fn escalation_levels_follow_the_breach() {
    let rules = Rules::defaults();
    let breached = beijing(2026, 11, 23, 10, 0);
    assert_eq!(rules.escalation(breached, 1), Some((Role::Head, breached)));
    assert_eq!(
        rules.escalation(breached, 2),
        Some((Role::Manager, breached + TimeDelta::hours(24)))
    );
    assert_eq!(rules.escalation(breached, 3), None);
    assert_eq!(rules.escalation(breached, 0), None);
}

// ---------------------------------------------------------------------------------------
// Approval
// ---------------------------------------------------------------------------------------

#[test]
fn approval_is_needed_for_adopted_and_declined_and_for_urgent_tickets() {
    let rules = Rules::defaults();
    let medium = classification(Kind::Suggestion, ContentType::Product, Priority::Medium);
    assert!(rules.requires_approval(&medium, Outcome::Adopted));
    assert!(rules.requires_approval(&medium, Outcome::Declined));
    assert!(!rules.requires_approval(&medium, Outcome::Planned));
    assert!(!rules.requires_approval(&medium, Outcome::Fixed));
    let urgent = classification(Kind::Problem, ContentType::Product, Priority::Urgent);
    assert!(rules.requires_approval(&urgent, Outcome::Fixed));
    assert!(rules.requires_approval(&urgent, Outcome::Explained));
    let none = Rules::from_toml_str("[approval]\noutcomes = []\npriorities = []\n").expect("valid");
    assert!(!none.requires_approval(&urgent, Outcome::Adopted));
}

// ---------------------------------------------------------------------------------------
// Notices
// ---------------------------------------------------------------------------------------

#[test]
fn receipt_notices_render_in_both_languages_in_the_calendar_offset() {
    let rules = Rules::defaults();
    let received = beijing(2026, 11, 23, 10, 0);
    let deadlines = deadlines(
        received,
        Kind::Problem,
        ContentType::Product,
        Priority::High,
    );
    assert_eq!(
        rules.receipt_notice(None, "261123-00001-00001A", received, &deadlines),
        "您的反馈已受理，工单号 261123-00001-00001A，我们将于 2026-11-23 12:00 前回复，预计 \
         2026-11-26 10:00 前处理完毕。"
    );
    assert_eq!(
        rules.receipt_notice(Some(Language::En), "T-1", received, &deadlines),
        "Your feedback has been received. Ticket number T-1: we will reply by 2026-11-23 12:00 \
         and expect to resolve it by 2026-11-26 10:00."
    );
    assert_eq!(Language::from_tag("en-US"), Some(Language::En));
    assert_eq!(Language::from_tag("zh_CN"), Some(Language::Zh));
    assert_eq!(Language::from_tag("fr"), None);
}

#[test]
fn notice_templates_come_from_configuration() {
    let rules = Rules::from_toml_str(
        r##"
        [notices]
        default_language = "en"
        time_format = "%d/%m %H:%M"
        receipt_en = "#{ticket_id} {{ok}} received {received_at}, answer by {respond_by}"
        "##,
    )
    .expect("valid");
    let received = beijing(2026, 11, 23, 10, 0);
    let deadlines = deadlines(
        received,
        Kind::Problem,
        ContentType::Product,
        Priority::Urgent,
    );
    assert_eq!(
        rules.receipt_notice(None, "T-9", received, &deadlines),
        "#T-9 {ok} received 23/11 10:00, answer by 23/11 11:00"
    );
}

// ---------------------------------------------------------------------------------------
// Submission validation
// ---------------------------------------------------------------------------------------

fn invalid_field<T: std::fmt::Debug>(result: Result<T, DomainError>) -> String {
    match result {
        Err(DomainError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid-input error, got {other:?}"),
    }
}

#[test]
fn content_is_trimmed_normalised_and_limited_in_characters() {
    let content = Content::parse("  Cafe\u{0301} 卡顿  ", 100).expect("valid");
    assert_eq!(content.as_str(), "Café 卡顿", "NFC composes the accent");
    assert_eq!(
        Content::parse("卡".repeat(10).as_str(), 10)
            .expect("ten chars")
            .as_str()
            .chars()
            .count(),
        10
    );
    assert_eq!(
        invalid_field(Content::parse(&"卡".repeat(11), 10)),
        "content"
    );
    assert_eq!(invalid_field(Content::parse(" \n\t ", 10)), "content");
    assert_eq!(invalid_field(Content::parse("", 10)), "content");
}

#[test]
fn phone_numbers_normalise_to_e164() {
    let valid = [
        ("13812345678", "+8613812345678"),
        ("+86 138 1234 5678", "+8613812345678"),
        ("0086-138-1234-5678", "+8613812345678"),
        ("86 13812345678", "+8613812345678"),
        ("+86 (138) 1234-5678", "+8613812345678"),
        ("１３８１２３４５６７８", "+8613812345678"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("0044 20 7946 0958", "+442079460958"),
    ];
    for (input, expected) in valid {
        assert_eq!(
            Phone::parse(input).map(|phone| phone.as_str().to_owned()),
            Ok(expected.to_owned()),
            "{input}"
        );
    }
    for input in [
        "12345",
        "010-12345678",
        "1381234567",
        "23812345678",
        "+86 138 1234 567",
        "+1234567",
        "+1234567890123456",
        "phone: 13812345678",
        "",
        "+0 123 4567 890",
    ] {
        assert_eq!(
            invalid_field(Phone::parse(input)),
            "customer.phone",
            "{input:?}"
        );
    }
}

#[test]
fn email_addresses_are_checked_and_domains_lower_cased() {
    assert_eq!(
        Email::parse(" Li.Si+feedback@Example.COM ").map(|e| e.as_str().to_owned()),
        Ok("Li.Si+feedback@example.com".to_owned())
    );
    assert_eq!(
        Email::parse("王@例子.中国").map(|e| e.as_str().to_owned()),
        Ok("王@例子.中国".to_owned())
    );
    let long_local = format!("{}@example.com", "a".repeat(65));
    let too_long = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
    for input in [
        "no-at-sign",
        "two@@example.com",
        "a@b@example.com",
        "@example.com",
        "li.si@",
        "li.si@localhost",
        ".li@example.com",
        "li..si@example.com",
        "li si@example.com",
        "li@-example.com",
        "li@example.c",
        "li@1.2.3.4",
        long_local.as_str(),
        too_long.as_str(),
    ] {
        assert_eq!(
            invalid_field(Email::parse(input)),
            "customer.email",
            "{input:?}"
        );
    }
}

#[test]
fn channels_must_be_configured() {
    let channels = DomainConfig::default().channels;
    assert_eq!(
        Channel::parse(" WeChat ", &channels).map(|c| c.as_str().to_owned()),
        Ok("wechat".to_owned())
    );
    assert_eq!(invalid_field(Channel::parse("fax", &channels)), "channel");
    assert_eq!(invalid_field(Channel::parse("", &channels)), "channel");
}

#[test]
fn attributes_are_limited_in_count_and_length() {
    let limits = DomainConfig::default().limits;
    let mut attributes = BTreeMap::new();
    attributes.insert("store".to_owned(), "上海徐汇店".to_owned());
    assert!(Attributes::parse(&attributes, &limits).is_ok());
    attributes.insert("note".to_owned(), "x".repeat(1_025));
    assert_eq!(
        invalid_field(Attributes::parse(&attributes, &limits)),
        "attributes.note"
    );
    attributes.remove("note");
    attributes.insert("k".repeat(65), "v".to_owned());
    assert!(invalid_field(Attributes::parse(&attributes, &limits)).starts_with("attributes.kkkk"));
    let many: BTreeMap<String, String> = (0..33)
        .map(|i| (format!("key{i}"), "v".to_owned()))
        .collect();
    assert_eq!(
        invalid_field(Attributes::parse(&many, &limits)),
        "attributes"
    );
    let mut control = BTreeMap::new();
    control.insert("bad\u{7}key".to_owned(), "v".to_owned());
    assert_eq!(
        invalid_field(Attributes::parse(&control, &limits)),
        "attributes.bad\u{7}key"
    );
}

#[test]
fn occurred_at_may_not_lie_in_the_future_beyond_the_skew() {
    let now = beijing(2026, 11, 23, 10, 0);
    let skew = TimeDelta::minutes(5);
    assert_eq!(parse_occurred_at(None, now, skew), Ok(now));
    let earlier = now - TimeDelta::days(3);
    assert_eq!(parse_occurred_at(Some(earlier), now, skew), Ok(earlier));
    let slightly_ahead = now + TimeDelta::minutes(4);
    assert_eq!(
        parse_occurred_at(Some(slightly_ahead), now, skew),
        Ok(slightly_ahead)
    );
    assert_eq!(
        invalid_field(parse_occurred_at(
            Some(now + TimeDelta::minutes(6)),
            now,
            skew
        )),
        "occurred_at"
    );
}

fn input() -> SubmissionInput {
    SubmissionInput {
        channel: "app".into(),
        external_id: None,
        customer: CustomerInput {
            phone: Some("138 1234 5678".into()),
            ..CustomerInput::default()
        },
        content: "APP卡顿".into(),
        occurred_at: None,
        product: Some("官方APP".into()),
        order_id: None,
        attributes: BTreeMap::new(),
    }
}

#[test]
fn a_submission_is_parsed_field_by_field_with_api_field_names() {
    let config = DomainConfig::default();
    let now = beijing(2026, 11, 23, 10, 0);
    let parse =
        |input: &SubmissionInput| Submission::parse(input, &config.limits, &config.channels, now);
    let submission = parse(&input()).expect("valid");
    assert_eq!(
        submission.customer.phone.as_ref().map(Phone::as_str),
        Some("+8613812345678")
    );
    assert_eq!(submission.occurred_at, now);

    let mut no_contact = input();
    no_contact.customer = CustomerInput {
        customer_id: Some("C-1".into()),
        name: Some("李四".into()),
        phone: Some("  ".into()),
        ..CustomerInput::default()
    };
    // A customer id alone is accepted, and cannot be told anything; its name is kept (sealed
    // under the customer id like the rest).
    let with_id = parse(&no_contact).expect("accepted without contact");
    assert!(!with_id.customer.can_be_told());
    assert_eq!(with_id.customer.name.as_deref(), Some("李四"));
    // Anonymous feedback: no field at all, or a name alone (which is not kept).
    let mut anonymous = input();
    anonymous.customer = CustomerInput {
        name: Some("路过的顾客".into()),
        ..CustomerInput::default()
    };
    let anonymous = parse(&anonymous).expect("anonymous feedback is accepted");
    assert!(!anonymous.customer.can_be_told());
    assert_eq!(anonymous.customer.name, None);

    let mut wechat_only = input();
    wechat_only.customer = CustomerInput {
        wechat_openid: Some("oAbC_123-x".into()),
        ..CustomerInput::default()
    };
    assert!(parse(&wechat_only).is_ok());

    type Change = Box<dyn Fn(&mut SubmissionInput)>;
    let cases: Vec<(Change, &str)> = vec![
        (Box::new(|i| i.channel = "telegram".into()), "channel"),
        (Box::new(|i| i.content = "   ".into()), "content"),
        (
            Box::new(|i| i.customer.phone = Some("12345".into())),
            "customer.phone",
        ),
        (
            Box::new(|i| i.customer.email = Some("nobody".into())),
            "customer.email",
        ),
        (
            Box::new(|i| i.customer.wechat_openid = Some("not valid!".into())),
            "customer.wechat_openid",
        ),
        (
            Box::new(|i| i.customer.name = Some("名".repeat(300))),
            "customer.name",
        ),
        (
            Box::new(move |i| i.occurred_at = Some(now + TimeDelta::hours(1))),
            "occurred_at",
        ),
        (Box::new(|i| i.product = Some("p".repeat(300))), "product"),
        (Box::new(|i| i.order_id = Some("o".repeat(300))), "order_id"),
        (
            Box::new(|i| i.external_id = Some("e".repeat(300))),
            "external_id",
        ),
        (
            Box::new(|i| {
                i.attributes.insert("big".into(), "v".repeat(2_000));
            }),
            "attributes.big",
        ),
    ];
    for (change, field) in cases {
        let mut broken = input();
        change(&mut broken);
        assert_eq!(invalid_field(parse(&broken)), field);
    }
}

#[test]
fn idempotency_keys_use_the_external_id_or_the_content() {
    let config = DomainConfig::default();
    let now = beijing(2026, 11, 23, 10, 0);
    let parse = |input: &SubmissionInput| {
        Submission::parse(input, &config.limits, &config.channels, now).expect("valid")
    };
    let mut with_id = input();
    with_id.external_id = Some(" msg-42 ".into());
    assert_eq!(parse(&with_id).idempotency_key(), "app:msg-42");

    let first = parse(&input()).idempotency_key();
    let mut retyped = input();
    retyped.content = "  app卡顿 ".into();
    retyped.customer.phone = Some("+86 138-1234-5678".into());
    assert_eq!(
        parse(&retyped).idempotency_key(),
        first,
        "same message, same key"
    );
    let mut other = input();
    other.order_id = Some("O-1".into());
    assert_ne!(parse(&other).idempotency_key(), first);
    assert!(first.starts_with("content:"));
    assert_eq!(first.len(), "content:".len() + 64);

    // Fields are length-prefixed: moving text between fields changes the key.
    assert_ne!(
        content_key("app", "phone:+86138", "ab", Some("c"), None),
        content_key("app", "phone:+86138", "a", Some("bc"), None)
    );
}

proptest! {
    #[test]
    fn phone_normalisation_is_idempotent(
        digits in "1[3-9][0-9]{9}",
        prefix in prop::sample::select(vec!["", "+86 ", "0086-", "86 ", "+86"]),
        separator in prop::sample::select(vec!["", " ", "-"]),
    ) {
        let spaced = format!("{prefix}{}{separator}{}{separator}{}", &digits[..3], &digits[3..7], &digits[7..]);
        let once = Phone::parse(&spaced).expect("a Chinese mobile number");
        prop_assert_eq!(once.as_str(), format!("+86{digits}"));
        let twice = Phone::parse(once.as_str()).expect("E.164 parses again");
        prop_assert_eq!(twice, once);
    }

    #[test]
    fn international_normalisation_is_idempotent(number in "\\+[1-9][0-9]{7,14}") {
        if let Ok(once) = Phone::parse(&number) {
            let twice = Phone::parse(once.as_str()).expect("E.164 parses again");
            prop_assert_eq!(twice, once);
        }
    }

    #[test]
    fn classification_never_panics_and_keeps_confidence_in_range(text in "\\PC{0,200}") {
        let got = Rules::defaults().classify(&text, None);
        prop_assert!((0.0..=1.0).contains(&got.confidence));
    }
}

#[test]
fn product_names_in_the_product_field_become_keywords() {
    let rules = Rules::defaults();
    let got = rules.classify("一直卡顿", Some("官方APP 3.2"));
    assert_eq!(got.keywords, ["卡顿", "APP"]);
    assert_eq!(got.kind, Kind::Problem);
    let unchanged = rules.classify("一直卡顿", Some("电饭煲"));
    assert_eq!(unchanged.keywords, ["卡顿"]);
}
