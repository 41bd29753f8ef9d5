//! The console's people page (`/reports/people`) in headless Chromium, in Chinese and in
//! English: an agent of after-sales takes a ticket, and the page then shows each signed-in
//! person the rows the workflow's `Reports.PeopleReport` lets them see: the admin everyone,
//! the agent themself, an agent of another department nobody; a malformed quarter is shown
//! with the workflow's reason.

use crate::console::{browser_scenario, sign_in, step_is, wait_ticket, Browser, Tab};
use e2e::{authorized, TestCluster};
use proto::v1;
use serde_json::json;

/// Around now (China time): yesterday to tomorrow.
fn around_now() -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive();
    format!(
        "from={}&to={}",
        today - chrono::Days::new(1),
        today + chrono::Days::new(1)
    )
}

/// The rows of the page's people table, as `person|department` texts.
fn rows(browser: &mut Browser, tab: &Tab) -> serde_json::Value {
    browser.eval(
        tab,
        "Array.from(document.querySelectorAll('#people tbody tr[data-person]')).map(r => r.dataset.person)",
    )
}

fn headers(browser: &mut Browser, tab: &Tab) -> String {
    browser
        .eval(
            tab,
            "Array.from(document.querySelectorAll('#people thead th')).map(h => h.innerText).join('|')",
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn claimed_ticket(cluster: &TestCluster) -> String {
    let request = v1::SubmitRequest {
        channel: "app".into(),
        ..e2e::web_submission("people-page-1", "售后响应慢，客服态度差")
    };
    let ticket_id = cluster.submit_as("t-adapter", request).await;
    wait_ticket(cluster, &ticket_id, step_is(v1::Step::Handle)).await;
    cluster
        .tickets_client()
        .claim(authorized(
            v1::ClaimRequest {
                ticket_id: ticket_id.clone(),
                command_id: format!("claim-{ticket_id}"),
                ..Default::default()
            },
            "t-agent-after_sales",
        ))
        .await
        .expect("the agent takes the ticket");
    ticket_id
}

#[tokio::test(flavor = "multi_thread")]
async fn the_people_page_shows_each_person_their_rows_in_both_languages() {
    let Some((mut browser, pair, console, _)) = browser_scenario() else {
        return;
    };
    claimed_ticket(&pair).await;
    let page = format!("{console}/reports/people?{}", around_now());

    // The admin, in Chinese: everyone, with Chinese headings.
    let admin = browser.person();
    sign_in(&mut browser, &admin, &console, "t-admin");
    browser.open(&admin, &format!("{page}&lang=zh"));
    assert_eq!(rows(&mut browser, &admin), json!(["agent.after_sales"]));
    let chinese = headers(&mut browser, &admin);
    assert!(chinese.starts_with("人员|部门|工单|按时响应"), "{chinese}");
    let title = browser.eval(&admin, "document.querySelector('h1').innerText");
    assert_eq!(title, json!("人员指标"));
    let cells = browser.eval(
        &admin,
        "Array.from(document.querySelectorAll('#people tbody tr[data-person] td')).map(c => c.innerText)",
    );
    assert_eq!(cells[1], json!("after_sales"), "the department: {cells}");
    assert_eq!(cells[2], json!("1"), "one ticket held: {cells}");

    // In English.
    browser.open(&admin, &format!("{page}&lang=en"));
    let english = headers(&mut browser, &admin);
    assert!(
        english.starts_with("Person|Department|tickets|responses on time"),
        "{english}"
    );
    assert_eq!(rows(&mut browser, &admin), json!(["agent.after_sales"]));

    // A malformed quarter: the reason, no table.
    browser.open(&admin, &format!("{console}/reports/people?quarter=2026-Q9"));
    let alert = browser.eval(&admin, "document.querySelector('[role=alert]').innerText");
    assert!(
        alert.as_str().is_some_and(|text| text.contains("quarter")),
        "{alert}"
    );
    assert_eq!(
        browser.eval(&admin, "!!document.querySelector('#people')"),
        json!(false)
    );

    // The agent sees themself; an agent of another department sees nobody.
    let agent = browser.person();
    sign_in(&mut browser, &agent, &console, "t-agent-after_sales");
    browser.open(&agent, &page);
    assert_eq!(rows(&mut browser, &agent), json!(["agent.after_sales"]));
    let stranger = browser.person();
    sign_in(&mut browser, &stranger, &console, "t-agent-technical");
    browser.open(&stranger, &format!("{page}&lang=zh"));
    assert_eq!(rows(&mut browser, &stranger), json!([]));
    let empty = browser.eval(
        &stranger,
        "document.querySelector('#people tbody').innerText",
    );
    assert!(
        empty
            .as_str()
            .is_some_and(|text| text.contains("本期没有经手的工单")),
        "{empty}"
    );
}
