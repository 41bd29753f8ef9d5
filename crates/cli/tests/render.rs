//! Snapshot tests of what `cloop` prints, rendered from fixed data without a server: the
//! ticket table (Chinese content aligned by display width), a ticket's detail, the timeline
//! of its history (steps folded from real domain events), the live queue's order, JSON, and
//! colour only when asked for.

// Test helpers outside `#[test]` functions build fixed, valid data.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, FixedOffset, Utc};
use cli::render::{
    history_json, queue, submit_text, ticket_detail, ticket_json, ticket_table, timeline, View,
};
use cli::style::{strip_ansi, Style};
use domain::event::{
    Acknowledged, Archived, Classified, CustomerNotified, Dispatched, NotificationFailed, Received,
    ReviewRecorded, SlaMark, SolutionProposed,
};
use domain::notification::NoticeKind;
use domain::types::{ContentType, Deadline, Deadlines, Kind, Outcome, Priority, Scope};
use domain::{Customer, Event, FeedbackId, TicketIdGenerator};
use expect_test::expect;
use proto::v1;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn timestamp(text: &str) -> Option<prost_types::Timestamp> {
    let instant = at(text);
    Some(prost_types::Timestamp {
        seconds: instant.timestamp(),
        nanos: 0,
    })
}

fn view() -> View {
    View {
        offset: FixedOffset::east_opt(8 * 3600).unwrap(),
        style: Style::PLAIN,
        lang: reports::Lang::En,
    }
}

fn tickets() -> Vec<v1::Ticket> {
    vec![
        v1::Ticket {
            ticket_id: "261102-0Q8ZK-N1W4TF".into(),
            version: 4,
            step: v1::Step::Handle as i32,
            channel: "wechat".into(),
            content: "APP卡顿，下单后一直转圈".into(),
            kind: v1::Kind::Complaint as i32,
            content_type: v1::ContentType::Product as i32,
            priority: v1::Priority::High as i32,
            department: "technical".into(),
            respond_by: timestamp("2026-11-02T04:00:00Z"),
            resolve_by: timestamp("2026-11-05T02:00:00Z"),
            sla_state: v1::SlaState::Breached as i32,
            round: 1,
            created_at: timestamp("2026-11-02T02:00:00Z"),
            ..Default::default()
        },
        v1::Ticket {
            ticket_id: "261102-0Q9AA-00001X".into(),
            version: 6,
            step: v1::Step::Review as i32,
            channel: "hotline".into(),
            content: "售后响应慢，退款一直没有到账，客服电话打不通，已经等了三天".into(),
            kind: v1::Kind::Complaint as i32,
            content_type: v1::ContentType::Service as i32,
            priority: v1::Priority::Medium as i32,
            department: "after_sales".into(),
            respond_by: timestamp("2026-11-03T02:00:00Z"),
            resolve_by: timestamp("2026-11-05T02:00:00Z"),
            responded_at: timestamp("2026-11-02T03:00:00Z"),
            resolved_at: timestamp("2026-11-03T09:30:00Z"),
            sla_state: v1::SlaState::OnTime as i32,
            outcome: v1::Outcome::Fixed as i32,
            solution: "refund sent again".into(),
            round: 1,
            created_at: timestamp("2026-11-02T02:00:00Z"),
            ..Default::default()
        },
        v1::Ticket {
            ticket_id: "261103-0QAAB-00002Y".into(),
            version: 2,
            step: v1::Step::Handle as i32,
            channel: "web".into(),
            content: "Please add dark mode to the app".into(),
            kind: v1::Kind::Suggestion as i32,
            content_type: v1::ContentType::Experience as i32,
            priority: v1::Priority::Low as i32,
            department: "product".into(),
            respond_by: timestamp("2026-11-06T02:00:00Z"),
            resolve_by: timestamp("2026-11-10T02:00:00Z"),
            sla_state: v1::SlaState::Warning as i32,
            round: 1,
            created_at: timestamp("2026-11-03T02:00:00Z"),
            ..Default::default()
        },
        v1::Ticket {
            ticket_id: "261103-0QAAC-00003Z".into(),
            version: 1,
            step: v1::Step::Classify as i32,
            channel: "email".into(),
            content: "订单号 8812 的发票怎么开？".into(),
            respond_by: timestamp("2026-11-04T02:00:00Z"),
            resolve_by: timestamp("2026-11-06T02:00:00Z"),
            sla_state: v1::SlaState::OnTime as i32,
            round: 1,
            created_at: timestamp("2026-11-03T02:00:00Z"),
            ..Default::default()
        },
    ]
}

#[test]
fn ticket_table_aligns_chinese_and_latin_text() {
    expect![[r#"
        TICKET               STEP      PRIORITY  KIND        DEPARTMENT   ASSIGNEE  SLA       DUE                      CONTENT
        ───────────────────  ────────  ────────  ──────────  ───────────  ────────  ────────  ───────────────────────  ───────────────────────────────────────
        261102-0Q8ZK-N1W4TF  handle    high      complaint   technical    –         breached  2026-11-02 12:00 +08:00  APP卡顿，下单后一直转圈
        261102-0Q9AA-00001X  review    medium    complaint   after_sales  –         on_time   –                        售后响应慢，退款一直没有到账，客服电话…
        261103-0QAAB-00002Y  handle    low       suggestion  product      –         warning   2026-11-06 10:00 +08:00  Please add dark mode to the app
        261103-0QAAC-00003Z  classify  –         –           –            –         on_time   2026-11-04 10:00 +08:00  订单号 8812 的发票怎么开？
    "#]]
    .assert_eq(&ticket_table(&tickets(), &view()));
}

#[test]
fn colours_appear_only_when_the_style_asks() {
    let coloured = View {
        style: Style { colour: true },
        ..view()
    };
    let text = ticket_table(&tickets(), &coloured);
    assert!(text.contains("\u{1b}[1;31mbreached\u{1b}[0m"));
    assert!(text.contains("\u{1b}[33mwarning\u{1b}[0m"));
    assert_eq!(strip_ansi(&text), ticket_table(&tickets(), &view()));
    assert!(!ticket_table(&tickets(), &view()).contains('\u{1b}'));
}

#[test]
fn ticket_detail_lists_every_field() {
    let mut ticket = tickets()[1].clone();
    ticket.customer = Some(v1::Customer {
        name: "张三".into(),
        phone: "+8613800138000".into(),
        ..Default::default()
    });
    ticket.keywords = vec!["售后响应慢".into(), "退款".into()];
    ticket.scope = v1::Scope::Local as i32;
    ticket.satisfaction = 4;
    ticket.review_comment = "快了很多".into();
    expect![[r#"
        ticket:         261102-0Q9AA-00001X
        step:           review (round 1, version 6)
        channel:        hotline
        customer:       张三, +8613800138000
        received:       2026-11-02 10:00 +08:00
        classification: complaint · service · medium · local
        keywords:       售后响应慢, 退款
        product:        –
        order:          –
        department:     after_sales
        assignee:       –
        respond by:     2026-11-03 10:00 +08:00 (responded 2026-11-02 11:00 +08:00)
        resolve by:     2026-11-05 10:00 +08:00 (resolved 2026-11-03 17:30 +08:00)
        sla:            on_time
        outcome:        fixed
        solution:       refund sent again
        review:         ★★★★☆ 4/5: 快了很多

          售后响应慢，退款一直没有到账，客服电话打不通，已经等了三天
    "#]]
    .assert_eq(&ticket_detail(&ticket, &view()));
}

#[test]
fn ticket_detail_says_when_the_vip_row_applies_and_only_then() {
    let mut ticket = tickets()[1].clone();
    let line = "vip:            yes: each deadline is the stricter of [sla.vip] and the rest\n";
    let sla = "sla:            on_time\n";
    assert!(!ticket_detail(&ticket, &view()).contains("vip:"));
    ticket.vip = true;
    let text = ticket_detail(&ticket, &view());
    assert!(
        text.contains(&format!("{sla}{line}")),
        "the vip line follows the sla line:\n{text}"
    );
    assert_eq!(ticket_json(&ticket)["vip"], true);
}

#[test]
fn ticket_detail_shows_notes_the_rejection_and_anonymous_feedback() {
    let mut ticket = tickets()[0].clone();
    ticket.customer = Some(v1::Customer::default());
    ticket.cannot_be_told = true;
    ticket.rejection_comment = "请同时退运费".into();
    let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
    ticket.notes = vec![
        v1::TicketNote {
            text: "已联系物流".into(),
            to_customer: false,
            round: 1,
            at: at(1_762_050_000),
        },
        v1::TicketNote {
            text: "我们正在处理\n请稍候".into(),
            to_customer: true,
            round: 1,
            at: at(1_762_053_600),
        },
    ];
    let text = ticket_detail(&ticket, &view());
    for expected in [
        "customer:         anonymous: cannot be told (no contact given)",
        "rejected because: 请同时退运费",
        "\nnotes\n",
        "to team      已联系物流",
        "to customer  我们正在处理",
        "请稍候",
    ] {
        assert!(text.contains(expected), "{expected:?} missing in:\n{text}");
    }
    let json = ticket_json(&ticket);
    assert_eq!(json["cannot_be_told"], true);
    assert_eq!(json["rejection_comment"], "请同时退运费");
    assert_eq!(json["notes"][0]["text"], "已联系物流");
    assert_eq!(json["notes"][0]["to_customer"], false);
    assert_eq!(json["notes"][1]["to_customer"], true);
    assert_eq!(json["notes"][1]["round"], 1);
    assert!(json["notes"][1]["at"].is_string());
}

#[test]
fn ticket_json_uses_stable_names() {
    let json = ticket_json(&tickets()[0]);
    assert_eq!(json["step"], "handle");
    assert_eq!(json["kind"], "complaint");
    assert_eq!(json["priority"], "high");
    assert_eq!(json["sla_state"], "breached");
    assert_eq!(json["respond_by"], "2026-11-02T04:00:00Z");
    assert_eq!(json["responded_at"], serde_json::Value::Null);
    assert_eq!(json["content"], "APP卡顿，下单后一直转圈");
}

#[test]
fn the_queue_puts_overdue_tickets_first() {
    expect![[r#"
        queue of all · 4 open · 1 breached · 1 warning

        TICKET               STEP      PRIORITY  KIND        DEPARTMENT   ASSIGNEE  SLA       DUE                      CONTENT
        ───────────────────  ────────  ────────  ──────────  ───────────  ────────  ────────  ───────────────────────  ───────────────────────────────────────
        261102-0Q8ZK-N1W4TF  handle    high      complaint   technical    –         breached  2026-11-02 12:00 +08:00  APP卡顿，下单后一直转圈
        261103-0QAAB-00002Y  handle    low       suggestion  product      –         warning   2026-11-06 10:00 +08:00  Please add dark mode to the app
        261103-0QAAC-00003Z  classify  –         –           –            –         on_time   2026-11-04 10:00 +08:00  订单号 8812 的发票怎么开？
        261102-0Q9AA-00001X  review    medium    complaint   after_sales  –         on_time   –                        售后响应慢，退款一直没有到账，客服电话…
    "#]]
    .assert_eq(&queue(&tickets(), "queue of all", &view()));
}

/// The log rows of one ticket's life, with payloads written by the domain's own events.
fn history() -> Vec<v1::LogEvent> {
    let received_at = at("2026-11-02T02:00:00Z");
    let ticket_id = TicketIdGenerator::new(3).next(received_at);
    let deadlines = Deadlines {
        respond_by: received_at + Duration::hours(2),
        resolve_by: received_at + Duration::hours(72),
        warn_respond_at: received_at + Duration::minutes(96),
        warn_resolve_at: received_at + Duration::hours(57),
        policy_version: "v1".into(),
        calendar_version: "cal-2026".into(),
    };
    let system = v1::Actor {
        principal: "cloop-workflow".into(),
        role: v1::Role::System as i32,
        department: String::new(),
    };
    let agent = v1::Actor {
        principal: "li.si".into(),
        role: v1::Role::Agent as i32,
        department: "after_sales".into(),
    };
    let service = v1::Actor {
        principal: "wang.wu".into(),
        role: v1::Role::Service as i32,
        department: String::new(),
    };
    let notifier = v1::Actor {
        principal: "cloop-notify".into(),
        role: v1::Role::Service as i32,
        department: String::new(),
    };
    let events: Vec<(Event, v1::Actor)> = vec![
        (
            Event::Received(Box::new(Received {
                ticket_id: ticket_id.clone(),
                feedback_id: FeedbackId::new(received_at, [7; 10]),
                channel: "hotline".into(),
                external_id: None,
                customer: Customer {
                    phone: Some("+8613800138000".into()),
                    ..Customer::default()
                },
                content: "售后响应慢，退款一直没有到账".into(),
                occurred_at: received_at,
                received_at,
                product: None,
                order_id: None,
                attributes: Default::default(),
                deadlines: deadlines.clone(),
                at: received_at,
                cannot_be_told: false,
                language: None,
                terms: Vec::new(),
                vip: false,
            })),
            system.clone(),
        ),
        (
            Event::Classified(Classified {
                kind: Kind::Complaint,
                content_type: ContentType::Service,
                priority: Priority::High,
                scope: Scope::Local,
                keywords: vec!["售后响应慢".into(), "退款".into()],
                confidence: 0.9,
                complex: false,
                automatic: true,
                reason: String::new(),
                policy_version: "v1".into(),
                deadlines: deadlines.clone(),
                at: received_at,
                model_version: None,
                by_model: false,
                terms: Vec::new(),
            }),
            system.clone(),
        ),
        (
            Event::Dispatched(Dispatched {
                from: None,
                department: "after_sales".into(),
                helpers: vec![],
                reason: "service complaints".into(),
                automatic: true,
                solution_withdrawn: false,
                at: received_at,
            }),
            system.clone(),
        ),
        (
            Event::SlaWarning(SlaMark {
                deadline: Deadline::Respond,
                due: deadlines.respond_by,
                policy_version: "v1".into(),
                calendar_version: "cal-2026".into(),
                at: deadlines.warn_respond_at,
            }),
            system.clone(),
        ),
        (
            Event::Acknowledged(Acknowledged {
                message: "您好，我们已收到，正在核实退款".into(),
                at: received_at + Duration::minutes(100),
            }),
            agent.clone(),
        ),
        (
            Event::SolutionProposed(SolutionProposed {
                outcome: Outcome::Fixed,
                text: "refund sent again".into(),
                reason: String::new(),
                approval_required: false,
                policy_version: "v1".into(),
                at: received_at + Duration::hours(30),
            }),
            agent,
        ),
        (
            Event::ReviewRecorded(ReviewRecorded {
                satisfaction: 5,
                comment: "谢谢".into(),
                satisfied_threshold: 4,
                satisfied: true,
                policy_version: "v1".into(),
                at: received_at + Duration::hours(50),
            }),
            service.clone(),
        ),
        (
            Event::Archived(Archived {
                at: received_at + Duration::hours(50),
            }),
            service,
        ),
        (
            Event::NotificationFailed(NotificationFailed {
                notice: NoticeKind::Closed,
                source_event_id: "0195f3a0-0000-7000-8000-000000000008".into(),
                attempt: 1,
                reason: "webhook answered 500".into(),
                final_attempt: false,
                at: received_at + Duration::hours(50) + Duration::seconds(1),
                recipient: None,
            }),
            notifier.clone(),
        ),
        (
            Event::CustomerNotified(CustomerNotified {
                notice: NoticeKind::Closed,
                channel: "sms".into(),
                sender: "webhook".into(),
                to_masked: "+86****8000".into(),
                source_event_id: "0195f3a0-0000-7000-8000-000000000008".into(),
                attempt: 2,
                at: received_at + Duration::hours(50) + Duration::seconds(3),
                recipient: None,
            }),
            notifier,
        ),
    ];
    events
        .into_iter()
        .enumerate()
        .map(|(index, (event, actor))| {
            let occurred = event.at();
            v1::LogEvent {
                position: 100 + index as u64,
                stream_id: ticket_id.stream_id(),
                version: index as u64 + 1,
                event_id: format!("event-{index}"),
                event_type: event.event_type().into(),
                schema_version: event.schema_version(),
                occurred_at: Some(prost_types::Timestamp {
                    seconds: occurred.timestamp(),
                    nanos: 0,
                }),
                recorded_at: Some(prost_types::Timestamp {
                    seconds: occurred.timestamp(),
                    nanos: 0,
                }),
                actor: Some(actor),
                payload: event.to_payload().to_string(),
                ticket_id: ticket_id.to_string(),
                ..Default::default()
            }
        })
        .collect()
}

#[test]
fn timeline_of_a_ticket() {
    expect![[r#"
        TIME                         #  STEP      EVENT                ACTOR                       WHAT
        ──────────────────────────  ──  ────────  ───────────────────  ──────────────────────────  ─────────────────────────────────────────────────────────
        2026-11-02 10:00:00 +08:00   1  classify  received             cloop-workflow (system)     via hotline: 售后响应慢，退款一直没有到账
        2026-11-02 10:00:00 +08:00   2  dispatch  classified           cloop-workflow (system)     complaint · service · high (by the rules)
        2026-11-02 10:00:00 +08:00   3  handle    dispatched           cloop-workflow (system)     → after_sales: service complaints
        2026-11-02 11:36:00 +08:00   4  handle    sla_warning          cloop-workflow (system)     respond due 2026-11-02 12:00 +08:00
        2026-11-02 11:40:00 +08:00   5  handle    acknowledged         li.si (agent, after_sales)  您好，我们已收到，正在核实退款
        2026-11-03 16:00:00 +08:00   6  review    solution_proposed    li.si (agent, after_sales)  fixed: refund sent again
        2026-11-04 12:00:00 +08:00   7  review    review_recorded      wang.wu (service)           ★★★★★ 5/5: 谢谢
        2026-11-04 12:00:00 +08:00   8  archive   archived             wang.wu (service)           closed
        2026-11-04 12:00:01 +08:00   9  archive   notification_failed  cloop-notify (service)      closed notice, attempt 1: webhook answered 500
        2026-11-04 12:00:03 +08:00  10  archive   customer_notified    cloop-notify (service)      closed notice to +86****8000 via sms (webhook), attempt 2
    "#]].assert_eq(&timeline(&history(), &view()));
}

#[test]
fn history_json_carries_the_step_after_each_event() {
    let json = history_json(&history());
    let steps: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["step_after"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        vec![
            "classify", "dispatch", "handle", "handle", "handle", "review", "review", "archive",
            "archive", "archive"
        ],
        "notices change no step"
    );
    assert_eq!(json[4]["actor"]["role"], "agent");
    assert_eq!(
        json[4]["payload"]["message"],
        "您好，我们已收到，正在核实退款"
    );
}

#[test]
fn submit_receipt() {
    let response = v1::SubmitResponse {
        ticket_id: "261102-0Q8ZK-N1W4TF".into(),
        feedback_id: "0190f1a2-0000-7000-8000-000000000000".into(),
        duplicate: true,
        received_at: timestamp("2026-11-02T02:00:00Z"),
        respond_by: timestamp("2026-11-02T04:00:00Z"),
        resolve_by: timestamp("2026-11-05T02:00:00Z"),
        notice: "您的反馈已受理，编号 261102-0Q8ZK-N1W4TF。".into(),
        priority: v1::Priority::High as i32,
        cannot_be_told: false,
        reply: false,
    };
    expect![[r#"
        ticket:     261102-0Q8ZK-N1W4TF
        received:   2026-11-02 10:00 +08:00
        respond by: 2026-11-02 12:00 +08:00
        resolve by: 2026-11-05 10:00 +08:00
        duplicate:  yes: this submission was received before

        您的反馈已受理，编号 261102-0Q8ZK-N1W4TF。
    "#]]
    .assert_eq(&submit_text(&response, &view()));
}

#[test]
fn ticket_json_snapshot() {
    let json = serde_json::to_string_pretty(&ticket_json(&tickets()[3])).unwrap();
    expect![[r#"
        {
          "archived_at": null,
          "assignee": "",
          "attributes": {},
          "awaiting_approval": false,
          "cannot_be_told": false,
          "channel": "email",
          "classification_confidence": 0.0,
          "complex": false,
          "content": "订单号 8812 的发票怎么开？",
          "content_type": "",
          "created_at": "2026-11-03T02:00:00Z",
          "customer": {
            "customer_id": "",
            "email": "",
            "name": "",
            "phone": "",
            "wechat_openid": ""
          },
          "decline_reason": "",
          "department": "",
          "escalated": false,
          "escalation_reason": "",
          "external_id": "",
          "feedback_id": "",
          "helpers": [],
          "kind": "",
          "language": "",
          "notes": [],
          "occurred_at": null,
          "order_id": "",
          "outcome": "",
          "paused_for_ms": null,
          "priority": "",
          "product": "",
          "rejection_comment": "",
          "resolve_by": "2026-11-06T02:00:00Z",
          "resolved_at": null,
          "respond_by": "2026-11-04T02:00:00Z",
          "responded_at": null,
          "review_comment": "",
          "round": 1,
          "satisfaction": 0,
          "scope": "",
          "sla_paused": false,
          "sla_state": "on_time",
          "solution": "",
          "step": "classify",
          "ticket_id": "261103-0QAAC-00003Z",
          "updated_at": null,
          "version": 1,
          "vip": false
        }"#]]
    .assert_eq(&json);
}

/// A small month: two tickets folded into a real report.
fn small_month_report() -> reports::MonthlyReport {
    let rules = domain::Rules::defaults();
    let received = at("2026-11-02T02:00:00Z");
    let mut first = domain::Ticket {
        ticket_id: Some(TicketIdGenerator::new(1).next(received)),
        version: 5,
        step: domain::types::Step::Archive,
        channel: "wechat".into(),
        content: "APP卡顿".into(),
        product: Some("APP".into()),
        received_at: Some(received),
        created_at: Some(received),
        kind: Some(Kind::Complaint),
        content_type: Some(ContentType::Product),
        priority: Some(Priority::High),
        scope: Some(Scope::Local),
        keywords: vec!["APP卡顿".into()],
        department: Some("technical".into()),
        respond_by: Some(received + Duration::hours(2)),
        resolve_by: Some(received + Duration::hours(72)),
        responded_at: Some(received + Duration::minutes(45)),
        resolved_at: Some(received + Duration::hours(20)),
        outcome: Some(Outcome::Fixed),
        satisfaction: Some(5),
        ..domain::Ticket::default()
    };
    first.archived_at = first.resolved_at;
    let second = domain::Ticket {
        ticket_id: Some(TicketIdGenerator::new(2).next(received)),
        version: 3,
        step: domain::types::Step::Handle,
        channel: "hotline".into(),
        content: "售后响应慢".into(),
        received_at: Some(received),
        created_at: Some(received),
        kind: Some(Kind::Complaint),
        content_type: Some(ContentType::Service),
        priority: Some(Priority::Medium),
        scope: Some(Scope::Local),
        keywords: vec!["售后响应慢".into()],
        department: Some("after_sales".into()),
        respond_by: Some(received + Duration::hours(24)),
        resolve_by: Some(received + Duration::hours(72)),
        ..domain::Ticket::default()
    };
    reports::monthly_report(reports::ReportInput {
        tickets: [first, second],
        rules: &rules,
        month: "2026-11".parse().unwrap(),
        department: None,
        log_position: 12,
        as_of: at("2026-11-03T02:00:00Z"),
        options: reports::ReportOptions::default(),
    })
}

/// The small month rendered for a terminal, in English.
#[test]
fn monthly_report_text() {
    let report = small_month_report();
    let text =
        cli::render::report_text(&report, &view()).replace(&report.config_version, "<config>");
    expect![[r#"
        Monthly report 2026-11
        2 tickets, 2 complaints · log position 12 · configuration <config> · deadlines judged as of 2026-11-03 10:00 +08:00

        FIGURE                   THIS MONTH  LAST MONTH  CHANGE
        ───────────────────────  ──────────  ──────────  ──────
        tickets                           2           0      +2
        response on time rate        100.0%           –       –
        resolution on time rate      100.0%           –       –
        resolution rate               50.0%           –       –
        satisfaction mean              5.00           –       –
        share satisfied              100.0%           –       –
        reopen rate                    0.0%           –       –
        closed loop rate             100.0%           –       –

        TARGET                         GOAL                      ACTUAL  STATUS  WHAT WAS MEASURED
        ─────────────────────────────  ────────────────────────  ──────  ──────  ─────────────────────────────────────────────────────────────────────────────────────────────────────
        high priority resolution rate  ≥ 95.0%                   100.0%  met     1 of 1 urgent and high priority tickets due resolved by their deadline; 0 not due yet
        satisfaction                   ≥ 4.5 or ≥ 90% satisfied  5.00    met     mean 5.00 of 5 over 1 reviews, 100.0% satisfied (target: mean at least 4.5 or at least 90% satisfied)
        closed loop                    ≥ 100.0%                  100.0%  met     2 of 2 tickets archived or still within their deadlines

        KIND        TICKETS   SHARE
        ──────────  ───────  ──────
        suggestion        0    0.0%
        complaint         2  100.0%
        problem           0    0.0%
        inquiry           0    0.0%
        praise            0    0.0%

        CONTENT TYPE  TICKETS  SHARE
        ────────────  ───────  ─────
        product             1  50.0%
        service             1  50.0%
        process             0   0.0%
        experience          0   0.0%

        CHANNEL  TICKETS  SHARE
        ───────  ───────  ─────
        hotline        1  50.0%
        wechat         1  50.0%

        PRIORITY  TICKETS  SHARE
        ────────  ───────  ─────
        urgent          0   0.0%
        high            1  50.0%
        medium          1  50.0%
        low             0   0.0%

        PRIORITY  RECEIVED  RESPONSE ON TIME  RESOLVED  RESOLUTION RATE  RESOLUTION ON TIME
        ────────  ────────  ────────────────  ────────  ───────────────  ──────────────────
        all              2      100.0% (1/1)         1            50.0%        100.0% (1/1)
        urgent           0                 –         0                –                   –
        high             1      100.0% (1/1)         1           100.0%        100.0% (1/1)
        medium           1                 –         0             0.0%                   –
        low              0                 –         0                –                   –

        satisfaction: mean 5.00 over 1 reviews (every round's), 100.0% satisfied · reopened 0 (0.0% of reviewed tickets)
          1     0
          2     0
          3     0
          4     0
          5     1  ██████████████████████████████

        KEYWORD     TICKETS  SHARE  OF COMPLAINTS  PRIORITY
        ──────────  ───────  ─────  ─────────────  ──────────────
        APP卡顿           1  50.0%          50.0%  priority topic
        售后响应慢        1  50.0%          50.0%  priority topic

        PRODUCT  TICKETS  SHARE  OF COMPLAINTS  PRIORITY
        ───────  ───────  ─────  ─────────────  ──────────────
        APP            1  50.0%          50.0%  priority topic

        DEPARTMENT        VOLUME  MEDIAN FIRST RESPONSE  P90 FIRST RESPONSE  RESOLUTION RATE  ON TIME  SATISFACTION
        ────────────────  ──────  ─────────────────────  ──────────────────  ───────────────  ───────  ────────────
        after_sales            1                      –                   –             0.0%        –             –
        customer_service       0                      –                   –                –        –             –
        logistics              0                      –                   –                –        –             –
        marketing              0                      –                   –                –        –             –
        operations             0                      –                   –                –        –             –
        product                0                      –                   –                –        –             –
        quality                0                      –                   –                –        –             –
        technical              1                 45 min              45 min           100.0%   100.0%          5.00

        adopted suggestions: 0 (0 customers told) · archived 1 · closed loop 100.0%
        0 evaluated; adopted or planned by score band: high 0/0, medium 0/0, low 0/0
    "#]].assert_eq(&text);
}

/// The same month in Chinese: every heading and label, the figures unchanged.
#[test]
fn monthly_report_text_in_chinese() {
    let report = small_month_report();
    let chinese = View {
        lang: reports::Lang::Zh,
        ..view()
    };
    let text = cli::render::report_text(&report, &chinese);
    for label in [
        "月度报告 2026-11",
        "工单 2 件，投诉 2 件",
        "时限判定时间 2026-11-03 10:00 +08:00",
        "指标",
        "本月",
        "上月",
        "高优先级解决率",
        "达成",
        "满意度：1 条评价",
        "按时解决",
        "首次响应中位数",
        "投诉",
        "紧急",
    ] {
        assert!(text.contains(label), "{label} missing from:\n{text}");
    }
    for english in [
        "Monthly report",
        "FIGURE",
        "THIS MONTH",
        "TARGET",
        "met ",
        "PRIORITY",
    ] {
        assert!(!text.contains(english), "{english} in:\n{text}");
    }
}
