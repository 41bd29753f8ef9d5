//! The suggestion pipeline end to end, on real nats-server, intake, workflow and notify
//! processes: a suggestion is evaluated before it may be adopted or planned, a planned one is
//! delivered after its ticket is closed, and the customer is told at adoption, at plan and at
//! delivery, each once. A month of twelve adopted suggestions (on the services' test clock)
//! gives ten award winners at the start of the next month, the same after the workflow starts
//! again and when the log is replayed offline; the public list answers without a token,
//! holds only what the customers agreed to publish, marks the winners and holds no contact
//! data.

use crate::support::{lazy_channel, start_pair, PairOptions};
use chrono::{DateTime, Utc};
use e2e::{Service, ServiceSpec, Staff, TestCluster};
use proto::v1;
use proto::v1::self_service_client::SelfServiceClient;
use proto::v1::tickets_client::TicketsClient;
use std::path::Path;
use std::time::{Duration, Instant};
use tonic::Code;

const ADMIN: &str = "t-admin";
/// The phone every suggestion here comes with: it must never reach the public list.
const PHONE: &str = "+8613812340000";

/// Submits a suggestion and brings it to the product department in step handle: the admin
/// classifies it as a suggestion and dispatches it where the rules did not.
async fn suggestion(cluster: &TestCluster, external_id: &str, content: &str) -> String {
    published(cluster, external_id, content, true).await
}

/// [`suggestion`], with the customer's consent to publish it (`publish=yes`) or without.
async fn published(
    cluster: &TestCluster,
    external_id: &str,
    content: &str,
    publish: bool,
) -> String {
    let attributes = if publish {
        [("publish".to_owned(), "yes".to_owned())].into()
    } else {
        Default::default()
    };
    let request = v1::SubmitRequest {
        channel: "app".into(),
        external_id: external_id.into(),
        content: content.into(),
        customer: Some(v1::Customer {
            name: "王小明".into(),
            phone: PHONE.into(),
            ..Default::default()
        }),
        attributes,
        ..Default::default()
    };
    let ticket_id = cluster.submit_as("t-adapter", request).await;
    let mut admin = Staff::new(
        TicketsClient::new(lazy_channel(cluster.workflow().address())),
        ADMIN,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(found) = admin.get(&ticket_id).await {
            if found.kind != v1::Kind::Suggestion as i32 {
                admin
                    .classify(&ticket_id, v1::Kind::Suggestion, "a suggestion")
                    .await
                    .expect("classified as a suggestion");
                continue;
            }
            let elsewhere = found.step == v1::Step::Handle as i32 && found.department != "product";
            if found.step == v1::Step::Dispatch as i32 || elsewhere {
                admin
                    .dispatch(&ticket_id, "product", "suggestions go to product")
                    .await
                    .expect("dispatched");
                continue;
            }
            if found.step == v1::Step::Handle as i32 {
                return ticket_id;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{ticket_id} never reached handle"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Proposes `outcome` and approves it when the policy asks for the head's approval, so that
/// the ticket is in review.
async fn accept(admin: &mut Staff, ticket_id: &str, outcome: v1::Outcome) -> v1::Ticket {
    let proposed = admin
        .propose(ticket_id, outcome, "下个版本加入夜间模式")
        .await
        .expect("proposed");
    if proposed.awaiting_approval {
        return admin.approve(ticket_id, "同意").await.expect("approved");
    }
    proposed
}

/// The notices file's lines of one ticket.
fn file_notices(path: &Path, ticket_id: &str) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["ticket_id"] == ticket_id)
        .map(|line| line["notice"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The notices recorded on a ticket (`customer_notified`), by notice name.
async fn recorded_notices(admin: &mut Staff, ticket_id: &str) -> Vec<String> {
    admin
        .history(ticket_id)
        .await
        .expect("history")
        .iter()
        .filter(|event| event.event_type == "customer_notified")
        .filter_map(|event| serde_json::from_str::<serde_json::Value>(&event.payload).ok())
        .map(|payload| payload["notice"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn eventually<F: FnMut() -> bool>(what: &str, timeout: Duration, mut done: F) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn count(notices: &[String], name: &str) -> usize {
    notices.iter().filter(|notice| *notice == name).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suggestion_is_evaluated_adopted_or_planned_delivered_and_told_once_each() {
    let mut cluster = start_pair(PairOptions::default());
    let notices = cluster.dir.path().join("notices.jsonl");
    let config = format!(
        "[notify]\nworkflow_url = \"http://{}\"\ntoken = \"t-service\"\n\
         backoff_base_ms = 100\nbackoff_cap_ms = 400\n\n[notify.file]\npath = \"{}\"\n",
        cluster.workflow().address(),
        notices.display()
    );
    cluster.spawn(Service::Notify, ServiceSpec::new().config(config).metrics());
    let adopted = suggestion(&cluster, "suggest-adopted", "建议APP增加夜间模式").await;
    let planned = suggestion(&cluster, "suggest-planned", "建议门店延长营业时间").await;
    let mut admin = Staff::new(cluster.tickets_client(), ADMIN);

    // No adoption, no plan before the evaluation.
    for outcome in [v1::Outcome::Adopted, v1::Outcome::Planned] {
        let refused = admin
            .propose(&adopted, outcome, "采纳")
            .await
            .expect_err("not evaluated yet");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
        assert!(
            refused.message().contains("evaluate the suggestion first"),
            "{}",
            refused.message()
        );
    }
    // The department that leads the ticket may evaluate it; another may not even see it.
    // In the console's form where chromium is installed, else by the RPC.
    let evaluated = match crate::console::Browser::start() {
        Some(mut browser) => {
            let console = cluster.spawn(
                Service::Console,
                ServiceSpec::new().config("[console]\nsession_ttl_secs = 600\n"),
            );
            let console = format!("http://{}", console.address());
            let agent = browser.person();
            crate::console::sign_in(&mut browser, &agent, &console, "t-agent-product");
            browser.open(&agent, &format!("{console}/tickets/{adopted}"));
            browser.submit(
                &agent,
                "#form-evaluate",
                &[
                    ("feasibility", "4"),
                    ("cost", "2"),
                    ("benefit", "5"),
                    ("note", "低成本，用户呼声高"),
                ],
            );
            let shown = browser.eval(&agent, "document.querySelector('#evaluation').innerText");
            assert!(
                shown
                    .as_str()
                    .is_some_and(|text| text.starts_with("13 (high) · 4 / 2 / 5")),
                "{shown}"
            );
            admin.get(&adopted).await.expect("ticket")
        }
        None => admin
            .as_("t-agent-product")
            .evaluate(&adopted, (4, 2, 5), "低成本，用户呼声高")
            .await
            .expect("the product agent evaluates"),
    };
    let evaluation = evaluated
        .evaluation
        .expect("the evaluation is on the ticket");
    assert_eq!((evaluation.score, evaluation.band.as_str()), (13, "high"));
    let stranger = admin
        .as_("t-agent-logistics")
        .evaluate(&adopted, (1, 1, 1), "")
        .await
        .expect_err("another department");
    assert_eq!(stranger.code(), Code::NotFound);
    let bad = admin
        .evaluate(&planned, (0, 3, 3), "")
        .await
        .expect_err("feasibility 0");
    assert_eq!(bad.code(), Code::InvalidArgument);

    let ticket = accept(&mut admin, &adopted, v1::Outcome::Adopted).await;
    assert_eq!(ticket.step, v1::Step::Review as i32);
    // The CLI's `evaluate` and `deliver` are the same commands.
    let evaluated = cluster.cloop(
        "t-agent-product",
        &[
            "evaluate",
            &planned,
            "--feasibility",
            "3",
            "--cost",
            "3",
            "--benefit",
            "4",
            "--note",
            "需要排期",
        ],
    );
    assert!(
        evaluated.status.success(),
        "{}",
        String::from_utf8_lossy(&evaluated.stderr)
    );
    accept(&mut admin, &planned, v1::Outcome::Planned).await;
    // Only a planned suggestion is delivered.
    let today = Utc::now().date_naive().to_string();
    let refused = admin
        .deliver(&adopted, &today, "")
        .await
        .expect_err("an adopted suggestion is not delivered");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    // Delivered after its ticket was closed, once.
    admin.review(&planned, 5, "").await.expect("review");
    admin.archive(&planned).await.expect("archive");
    let output = cluster.cloop(
        ADMIN,
        &[
            "deliver",
            &planned,
            "--on",
            &today,
            "--note",
            "2.4 版本已上线",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let delivered = admin.get(&planned).await.expect("ticket");
    assert_eq!(
        delivered.delivery.expect("the delivery").delivered_on,
        today
    );
    assert_eq!(delivered.step, v1::Step::Archive as i32);
    let again = admin
        .deliver(&planned, &today, "")
        .await
        .expect_err("delivered twice");
    assert_eq!(again.code(), Code::FailedPrecondition);
    // The CLI shows the evaluation and the delivery.
    let shown = cluster.cloop(ADMIN, &["--json", "tickets", "show", &planned]);
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(json["evaluation"]["score"], 10, "{json}");
    assert_eq!(json["delivery"]["delivered_on"], today.as_str(), "{json}");

    // Told at adoption, at plan and at delivery: once each, in the file and on the ticket.
    eventually(
        "the adoption, plan and delivery notices",
        Duration::from_secs(120),
        || {
            let adopted_lines = file_notices(&notices, &adopted);
            let planned_lines = file_notices(&notices, &planned);
            count(&adopted_lines, "suggestion_adopted") == 1
                && count(&planned_lines, "suggestion_planned") == 1
                && count(&planned_lines, "suggestion_delivered") == 1
        },
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let on_planned = recorded_notices(&mut admin, &planned).await;
        let on_adopted = recorded_notices(&mut admin, &adopted).await;
        if count(&on_planned, "suggestion_delivered") == 1
            && count(&on_planned, "suggestion_planned") == 1
            && count(&on_adopted, "suggestion_adopted") == 1
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "recorded: {on_planned:?} {on_adopted:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Nothing more arrives for the same events (the closing notice may still come).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let planned_lines = file_notices(&notices, &planned);
    for notice in ["suggestion_planned", "suggestion_delivered"] {
        assert_eq!(count(&planned_lines, notice), 1, "{planned_lines:?}");
    }
    assert_eq!(
        count(&planned_lines, "solution"),
        0,
        "a plan is not a plain solution"
    );
    assert_eq!(
        count(&file_notices(&notices, &adopted), "suggestion_adopted"),
        1
    );
}

/// Writes the instant the services take for "now" (aside, then renamed).
fn set_clock(path: &Path, at: DateTime<Utc>) {
    let aside = path.with_extension("new");
    std::fs::write(&aside, at.to_rfc3339()).expect("write the clock");
    std::fs::rename(&aside, path).expect("move the clock");
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("instant")
        .with_timezone(&Utc)
}

/// The twelve suggestions' evaluations: scores 3, 4, 5, ... 11, then 12, 13 and 12 again.
const FIGURES: [(u32, u32, u32); 12] = [
    (1, 5, 1),
    (1, 4, 1),
    (2, 4, 1),
    (2, 4, 2),
    (3, 4, 2),
    (3, 3, 2),
    (3, 3, 3),
    (4, 3, 3),
    (4, 2, 3),
    (4, 2, 4),
    (5, 2, 4),
    (4, 2, 4),
];

/// Each ticket's award rank as `cloop log replay --ticket` folds it offline from the log.
fn replayed_rank(cluster: &TestCluster, ticket_id: &str) -> Option<u64> {
    let data = cluster.workflow().data_dir();
    let source = cluster.log_source();
    let keys = data.join("keys.db");
    let keys = keys.to_string_lossy();
    let mut args = vec![
        "--json",
        "log",
        "replay",
        source[0].as_str(),
        source[1].as_str(),
    ];
    if cluster.workflow().store_url().is_none() {
        args.extend(["--keys", &keys]);
    }
    args.extend(["--ticket", ticket_id]);
    let output = cluster.cloop(ADMIN, &args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let json: serde_json::Value = serde_json::from_str(text.trim())
        .unwrap_or_else(|error| panic!("replay printed no json ({error}): {text}"));
    let ticket = if json["ticket"].is_object() {
        &json["ticket"]
    } else {
        &json
    };
    ticket["award"]["rank"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_twelve_adopted_suggestions_gives_ten_winners_also_after_a_replay() {
    assert!(
        crate::support::failpoints_built_in(),
        "the services read the test clock only when built with the failpoints feature"
    );
    let mut cluster = TestCluster::builder()
        .prefix("cloop-awards-")
        .test_clock(at("2026-03-02T02:00:00Z").to_rfc3339())
        .config(
            "[intake_service]\nnode_id = 5\nmaintenance_interval_ms = 200\n\n\
             [workflow_service]\ntimer_tick_ms = 500\n\n[nats]\nrequest_timeout_ms = 3000\n\n\
             [suggestions]\naward_count = 10\naward_reward = \"500 积分\"\n",
        )
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();
    let clock = cluster.clock_path();
    let mut admin = Staff::new(cluster.tickets_client(), ADMIN);
    let mut ids = Vec::new();
    for (index, figures) in FIGURES.iter().enumerate() {
        // One suggestion a day in March, in Beijing's working hours.
        let day = index + 2;
        set_clock(&clock, at(&format!("2026-03-{day:02}T02:00:00Z")));
        // The first customer did not agree to publish: off the public list.
        let content = format!("第{index}条建议：增加夜间模式，电话 13812340000");
        let id = published(&cluster, &format!("award-{index}"), &content, index > 0).await;
        set_clock(&clock, at(&format!("2026-03-{day:02}T03:00:00Z")));
        admin.evaluate(&id, *figures, "").await.expect("evaluated");
        accept(&mut admin, &id, v1::Outcome::Adopted).await;
        ids.push(id);
    }
    // Nothing is awarded during the month.
    assert!(admin.get(&ids[10]).await.expect("ticket").award.is_none());

    // 1 April, 09:00 in Beijing: the workflow (started again, so the award runs at once)
    // grants March's awards.
    set_clock(&clock, at("2026-04-01T01:00:00Z"));
    cluster.workflow_mut().terminate(Duration::from_secs(20));
    cluster.workflow_mut().restart();
    let mut admin = Staff::new(cluster.tickets_client(), ADMIN);
    let deadline = Instant::now() + Duration::from_secs(60);
    let ranks = loop {
        let mut ranks = Vec::new();
        for id in &ids {
            let ticket = admin.get(id).await.expect("ticket");
            ranks.push(ticket.award.map(|award| award.rank));
        }
        if ranks.iter().flatten().count() == 10 {
            break ranks;
        }
        assert!(Instant::now() < deadline, "awards so far: {ranks:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Scores: ticket 10 scores 13; 9 and 11 both 12 (9 was submitted first); the two lowest
    // (3 and 4) win nothing.
    assert_eq!(ranks[10], Some(1));
    assert_eq!(ranks[9], Some(2));
    assert_eq!(ranks[11], Some(3));
    assert_eq!(ranks[8], Some(4));
    assert_eq!((ranks[0], ranks[1]), (None, None));
    let award = admin
        .get(&ids[10])
        .await
        .expect("ticket")
        .award
        .expect("award");
    assert_eq!(
        (award.month.as_str(), award.reward.as_str()),
        ("2026-03", "500 积分")
    );

    // `cloop report awards` lists them by rank.
    let output = cluster.cloop(ADMIN, &["--json", "report", "awards", "--month", "2026-03"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let listed = listed.as_array().expect("an array");
    assert_eq!(listed.len(), 10);
    assert_eq!(listed[0]["ticket_id"], ids[10].as_str());
    assert_eq!(listed[0]["award"]["rank"], 1);
    assert_eq!(listed[9]["award"]["rank"], 10);

    // The public list answers without a token, marks the winners and shows no contact.
    let mut public = SelfServiceClient::new(lazy_channel(cluster.workflow().address()));
    let page = public
        .list_adopted(v1::ListAdoptedRequest::default())
        .await
        .expect("the public list needs no token")
        .into_inner();
    assert_eq!(
        page.suggestions.len(),
        11,
        "only what the customers agreed to publish"
    );
    assert!(page.suggestions.iter().all(|s| s.ticket_id != ids[0]));
    let winners = page.suggestions.iter().filter(|s| s.award_winner).count();
    assert_eq!(winners, 10);
    let first = page
        .suggestions
        .iter()
        .find(|s| s.ticket_id == ids[10])
        .expect("listed");
    assert_eq!((first.award_rank, first.evaluation_score), (1, 13));
    let text = format!("{page:?}");
    assert!(
        !text.contains("13812340000") && !text.contains("王小明"),
        "{text}"
    );

    // Reports.AdoptedSuggestions answers without a token too, with the same public list;
    // a manager's token still gets every adopted suggestion, and the other reports still
    // need a token.
    let mut reports = cluster.reports_connected().await;
    let public_month = reports
        .adopted_suggestions(v1::AdoptedSuggestionsRequest {
            award_month: "2026-03".into(),
            ..Default::default()
        })
        .await
        .expect("the public list of winners needs no token")
        .into_inner();
    assert_eq!(public_month.suggestions.len(), 10, "the winners all agreed");
    let public_all = reports
        .adopted_suggestions(v1::AdoptedSuggestionsRequest::default())
        .await
        .expect("the public list needs no token")
        .into_inner();
    let mut public_ids: Vec<_> = public_all
        .suggestions
        .iter()
        .map(|s| &s.ticket_id)
        .collect();
    let mut page_ids: Vec<_> = page.suggestions.iter().map(|s| &s.ticket_id).collect();
    public_ids.sort();
    page_ids.sort();
    assert_eq!(
        public_ids, page_ids,
        "the same list as SelfService.ListAdopted"
    );
    let text = format!("{public_all:?}");
    assert!(
        !text.contains("13812340000") && !text.contains("王小明"),
        "{text}"
    );
    let refused = reports
        .monthly_report(v1::MonthlyReportRequest {
            month: "2026-03".into(),
            ..Default::default()
        })
        .await
        .expect_err("a report needs a token");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    let mut bad_token = tonic::Request::new(v1::AdoptedSuggestionsRequest::default());
    bad_token.metadata_mut().insert(
        "authorization",
        "Bearer not-a-token".parse().expect("ascii"),
    );
    let refused = reports
        .adopted_suggestions(bad_token)
        .await
        .expect_err("a wrong token is not taken as none");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    // The console's public page shows the winner marks, in Chinese and in English, in a
    // real browser (skipped where chromium is not installed).
    match crate::console::Browser::start() {
        None => eprintln!("skipped the browser: chromium is not installed (make tools)"),
        Some(mut browser) => {
            let console = cluster.spawn(
                Service::Console,
                ServiceSpec::new().config("[console]\nsession_ttl_secs = 600\n"),
            );
            let console = format!("http://{}", console.address());
            let visitor = browser.person();
            for (lang, mark) in [
                ("zh", "2026-03 月度最佳建议 第 1 名"),
                ("en", "Best suggestion of 2026-03, rank 1"),
            ] {
                browser.open(&visitor, &format!("{console}/adopted?lang={lang}"));
                let text = browser.eval(&visitor, "document.body.innerText");
                let text = text.as_str().unwrap_or_default().to_owned();
                assert!(text.contains(mark), "{lang}: {text}");
                assert!(!text.contains("13812340000"), "{lang}: {text}");
                let marks =
                    browser.eval(&visitor, "document.querySelectorAll('.badge.award').length");
                assert_eq!(marks, serde_json::json!(10), "{lang}");
            }
        }
    }

    // Started again, the workflow records nothing more: the month was decided once.
    cluster.workflow_mut().terminate(Duration::from_secs(20));
    cluster.workflow_mut().restart();
    let mut admin = Staff::new(cluster.tickets_client(), ADMIN);
    let mut granted = 0;
    for id in &ids {
        let history = admin.history(id).await.expect("history");
        granted += history
            .iter()
            .filter(|event| event.event_type == "award_granted")
            .count();
    }
    assert_eq!(granted, 10);
    // Replayed offline from the log, every ticket has the same award.
    for (id, rank) in ids.iter().zip(&ranks) {
        assert_eq!(replayed_rank(&cluster, id), rank.map(u64::from), "{id}");
    }
}
