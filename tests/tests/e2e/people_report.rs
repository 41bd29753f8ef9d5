//! Each person's figures end to end, with real nats-server and both real services: tickets
//! routed to technical are given out by round robin to wang.wu and chen.er, wang.wu answers
//! one, the head of technical transfers one of wang.wu's to logistics (where li.si gets it),
//! and `Reports.PeopleReport` then shows each caller exactly the rows their role allows: the
//! manager everyone, a head their department's people (another department refused), an agent
//! only themself (anybody else refused), and nobody else anything. `Reports.Report` gives a
//! quarter its three months.

use e2e::{authorized, principal, principals_file, Principal, ServiceSpec, Staff, TestCluster};
use proto::v1;
use std::time::{Duration, Instant};
use tonic::Code;

const PRINCIPALS: &[Principal] = &[
    principal("p-adapter", "web-form", "adapter"),
    principal("p-agent-wang", "wang.wu", "agent").of("technical"),
    principal("p-agent-chen", "chen.er", "agent").of("technical"),
    principal("p-head-technical", "zhao.liu", "head").of("technical"),
    principal("p-head-logistics", "sun.qi", "head").of("logistics"),
    principal("p-manager", "boss", "manager"),
    principal("p-auditor", "checker", "auditor"),
    principal("p-admin", "root", "admin"),
];

/// All day is working time (the test does not depend on when it runs); round robin.
const DOMAIN: &str = r#"
[calendar]
working_hours = ["00:00-24:00"]
weekend = []
holidays = []
workdays = []

[departments.technical]
members = ["wang.wu", "chen.er"]
assignment = "round_robin"

[departments.logistics]
members = ["li.si"]
assignment = "round_robin"
"#;

/// A range of days around now (China time) that holds every ticket of the test.
fn around_now() -> v1::ReportPeriod {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    v1::ReportPeriod {
        from: (today - chrono::Days::new(1)).to_string(),
        to: (today + chrono::Days::new(1)).to_string(),
        ..Default::default()
    }
}

async fn people(
    cluster: &TestCluster,
    token: &str,
    department: Option<&str>,
    person: Option<&str>,
) -> Result<Vec<v1::PersonFigures>, tonic::Status> {
    let answer = cluster
        .reports_client()
        .people_report(authorized(
            v1::PeopleReportRequest {
                period: Some(around_now()),
                department: department.map(str::to_owned),
                person: person.map(str::to_owned),
                at_position: None,
            },
            token,
        ))
        .await?;
    Ok(answer.into_inner().report.expect("a report").people)
}

fn names(rows: &[v1::PersonFigures]) -> Vec<String> {
    rows.iter()
        .map(|row| format!("{}/{}", row.department, row.person))
        .collect()
}

async fn wait_assigned(staff: &mut Staff, ids: &[String]) -> Vec<v1::Ticket> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut tickets = Vec::new();
        for id in ids {
            if let Ok(ticket) = staff.get(id).await {
                tickets.push(ticket);
            }
        }
        if tickets.len() == ids.len() && tickets.iter().all(|t| !t.assignee.is_empty()) {
            return tickets;
        }
        assert!(
            Instant::now() < deadline,
            "tickets were not assigned in time"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_figures_follow_the_callers_role() {
    let cluster = TestCluster::builder()
        .prefix("cloop-people-")
        .tokens(principals_file(PRINCIPALS))
        .config(format!(
            "{DOMAIN}\n[intake_service]\nnode_id = 9\nmaintenance_interval_ms = 200\n\n\
             [workflow_service]\ntimer_tick_ms = 100\n\n[nats]\nrequest_timeout_ms = 3000\n"
        ))
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();

    let mut ids = Vec::new();
    for index in 0..4 {
        let request = v1::SubmitRequest {
            channel: "app".into(),
            ..e2e::web_submission(
                &format!("people-{index}"),
                &format!("APP卡顿，打开很慢 {index}"),
            )
        };
        ids.push(cluster.submit_as("p-adapter", request).await);
    }
    let mut admin = Staff::new(cluster.tickets_client(), "p-admin");
    let tickets = wait_assigned(&mut admin, &ids).await;
    let of = |person: &str| -> Vec<String> {
        tickets
            .iter()
            .filter(|ticket| ticket.assignee == person)
            .map(|ticket| ticket.ticket_id.clone())
            .collect()
    };
    let (wang, chen) = (of("wang.wu"), of("chen.er"));
    assert_eq!(
        (wang.len(), chen.len()),
        (2, 2),
        "round robin over two members"
    );

    // wang.wu answers his first ticket; the head moves his second to logistics.
    Staff::new(cluster.tickets_client(), "p-agent-wang")
        .acknowledge(&wang[0], "我们正在处理")
        .await
        .expect("acknowledge");
    Staff::new(cluster.tickets_client(), "p-head-technical")
        .dispatch(&wang[1], "logistics", "物流问题")
        .await
        .expect("transfer to logistics");
    wait_assigned(&mut admin, &wang[1..2]).await;

    // The manager sees everyone: wang.wu holds 1 now (1 answered, 1 taken away by the
    // transfer), chen.er 2, li.si the transferred one.
    let deadline = Instant::now() + Duration::from_secs(30);
    let everyone = loop {
        let rows = people(&cluster, "p-manager", None, None)
            .await
            .expect("manager");
        let wang_row = rows.iter().find(|row| row.person == "wang.wu");
        if rows.len() == 3 && wang_row.is_some_and(|row| row.responded == 1) {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "the figures did not settle: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        names(&everyone),
        ["logistics/li.si", "technical/chen.er", "technical/wang.wu"]
    );
    let wang_row = &everyone[2];
    assert_eq!(wang_row.tickets_assigned, 1);
    assert_eq!((wang_row.responded, wang_row.transfers_away), (1, 1));
    assert!(wang_row.median_first_response_working.is_some());
    assert_eq!(everyone[1].tickets_assigned, 2);
    assert_eq!((everyone[1].responded, everyone[1].transfers_away), (0, 0));
    assert_eq!(everyone[0].tickets_assigned, 1);
    // The admin too.
    assert_eq!(
        people(&cluster, "p-admin", None, None)
            .await
            .expect("admin")
            .len(),
        3
    );

    // The head of technical sees technical's people only, whatever they ask.
    let head = people(&cluster, "p-head-technical", None, None)
        .await
        .expect("head");
    assert_eq!(names(&head), ["technical/chen.er", "technical/wang.wu"]);
    let refused = people(&cluster, "p-head-technical", Some("logistics"), None).await;
    assert_eq!(
        refused.expect_err("another department").code(),
        Code::PermissionDenied
    );
    // The head of logistics sees li.si, never technical's people.
    let other = people(&cluster, "p-head-logistics", None, None)
        .await
        .expect("head");
    assert_eq!(names(&other), ["logistics/li.si"]);
    let other = people(&cluster, "p-head-logistics", None, Some("wang.wu")).await;
    assert!(other.expect("filtered").is_empty());
    let refused = people(&cluster, "p-head-logistics", Some("technical"), None).await;
    assert_eq!(
        refused.expect_err("technical").code(),
        Code::PermissionDenied
    );

    // An agent sees only themself; asking for a colleague is refused.
    let own = people(&cluster, "p-agent-chen", None, None)
        .await
        .expect("agent");
    assert_eq!(names(&own), ["technical/chen.er"]);
    let refused = people(&cluster, "p-agent-chen", None, Some("wang.wu")).await;
    assert_eq!(
        refused.expect_err("a colleague").code(),
        Code::PermissionDenied
    );

    // Other roles see nothing.
    for token in ["p-auditor", "p-adapter"] {
        let refused = people(&cluster, token, None, None).await;
        assert_eq!(
            refused.expect_err(token).code(),
            Code::PermissionDenied,
            "{token}"
        );
    }

    // A bad period names its field.
    let bad = cluster
        .reports_client()
        .people_report(authorized(
            v1::PeopleReportRequest {
                period: Some(v1::ReportPeriod {
                    quarter: "2026-Q5".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "p-manager",
        ))
        .await
        .expect_err("quarter 5");
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("quarter"), "{}", bad.message());

    // Reports.Report: a quarter has its three months; agents and heads may not call it.
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    let quarter = format!(
        "{}-Q{}",
        chrono::Datelike::year(&today),
        (chrono::Datelike::month(&today) - 1) / 3 + 1
    );
    let request = |token: &str| {
        authorized(
            v1::ReportRequest {
                period: Some(v1::ReportPeriod {
                    quarter: quarter.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            token,
        )
    };
    let report = cluster
        .reports_client()
        .report(request("p-manager"))
        .await
        .expect("quarter")
        .into_inner();
    assert_eq!(report.months.len(), 3);
    let whole = report.report.expect("the whole quarter");
    assert_eq!(whole.period, quarter);
    assert_eq!(whole.tickets, 4);
    assert_eq!(
        report.months.iter().map(|month| month.tickets).sum::<u64>(),
        4
    );
    assert_eq!(report.trend.len(), whole.month_on_month.len());
    for token in ["p-agent-wang", "p-head-technical"] {
        let refused = cluster.reports_client().report(request(token)).await;
        assert_eq!(refused.expect_err(token).code(), Code::PermissionDenied);
    }
}
