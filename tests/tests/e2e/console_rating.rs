//! The customer's own rating by the signed link of the review-request notice, against the
//! real binaries and headless Chromium: `cloop-notify` (file sender, `[selfservice]` key and
//! the console's address) writes the link into the English and the Chinese review requests;
//! the link opens the console's `/rate` page in the ticket's language; a 5 is the review of
//! the round and the ticket is archived as usual, a 1 reopens its ticket (round 2, step
//! handle); a tampered token shows the page of wrong digits and records nothing.

use crate::console::{step_is, to_review, wait_ticket, Browser};
use crate::notify::{file_notices, submit_request};
use crate::support::{start_pair, PairOptions};
use e2e::{Service, ServiceSpec, TestCluster};
use proto::v1;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The links' key file, next to the configuration files of the cluster's folder.
const KEY_FILE: &str = "rating-link.key";

/// The cluster (workflow with the links' key), the console, and notify writing notices to a
/// file with rating links to that console; the console's URL and the notices file.
fn start() -> Option<(Browser, TestCluster, String, PathBuf)> {
    let Some(browser) = Browser::start() else {
        eprintln!("skipped: chromium is not installed (make tools installs it)");
        return None;
    };
    let mut pair = start_pair(PairOptions {
        // A table of its own after `[workflow_service]`'s lines.
        workflow: format!("\n[selfservice]\nlink_secret_file = \"{KEY_FILE}\"\n"),
        ..Default::default()
    });
    let console = pair.spawn(
        Service::Console,
        ServiceSpec::new().config("[console]\nsession_ttl_secs = 600\n"),
    );
    let console = format!("http://{}", console.address());
    let notices = pair.dir.path().join("notices.jsonl");
    let config = format!(
        "[notify]\nworkflow_url = \"http://{}\"\ntoken = \"t-service\"\n\
         backoff_base_ms = 100\nbackoff_cap_ms = 400\n\n[notify.file]\npath = \"{}\"\n\n\
         [selfservice]\nlink_secret_file = \"{KEY_FILE}\"\npublic_url = \"{console}\"\n",
        pair.workflow().address(),
        notices.display()
    );
    pair.spawn(Service::Notify, ServiceSpec::new().config(config));
    Some((browser, pair, console, notices))
}

/// A submission with an e-mail address only, in `language`, that reaches step handle.
async fn submitted(pair: &TestCluster, external_id: &str, language: v1::Language) -> String {
    let (content, email) = match language {
        v1::Language::En => ("The app crashes every time I open it", "alice@example.com"),
        _ => ("APP卡顿，打开很慢，经常闪退", "li.lei@example.com"),
    };
    let request = v1::SubmitRequest {
        channel: "web".into(),
        external_id: external_id.into(),
        content: content.into(),
        customer: Some(v1::Customer {
            email: email.into(),
            ..Default::default()
        }),
        language: language as i32,
        ..Default::default()
    };
    submit_request(pair, request).await
}

/// The review request sent for `ticket_id` (waited for), and the rating link in its text.
fn review_request(notices: &Path, ticket_id: &str, console: &str) -> (String, String) {
    let mut text = String::new();
    let arrived = e2e::wait_until(Duration::from_secs(60), || {
        text = file_notices(notices, ticket_id)
            .into_iter()
            .find(|line| line["notice"] == "review_request")
            .and_then(|line| line["text"].as_str().map(str::to_owned))
            .unwrap_or_default();
        !text.is_empty()
    });
    assert!(arrived, "no review request for {ticket_id}");
    let link = text
        .find(console)
        .and_then(|start| text[start..].split_whitespace().next())
        .unwrap_or_else(|| panic!("no link to {console} in {text:?}"))
        .to_owned();
    assert!(
        link.starts_with(&format!("{console}/rate/{ticket_id}?t=")),
        "{link}"
    );
    (text, link)
}

/// Rates the shown ticket with `score` on the rating page.
fn rate(browser: &mut Browser, tab: &crate::console::Tab, score: u32) {
    browser.eval(
        tab,
        &format!(
            "document.querySelector('#form-rate input[name=\"satisfaction\"][value=\"{score}\"]').checked = true"
        ),
    );
    browser.submit(tab, "#form-rate", &[("comment", "thanks")]);
}

fn text_of(browser: &mut Browser, tab: &crate::console::Tab, selector: &str) -> String {
    browser
        .eval(
            tab,
            &format!("document.querySelector('{selector}').innerText"),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customers_signed_rating_link_records_the_review_or_reopens_the_ticket() {
    let Some((mut browser, pair, console, notices)) = start() else {
        return;
    };
    let happy = submitted(&pair, "rating-happy", v1::Language::En).await;
    let unhappy = submitted(&pair, "rating-unhappy", v1::Language::En).await;
    let chinese = submitted(&pair, "rating-chinese", v1::Language::Zh).await;
    for ticket_id in [&happy, &unhappy, &chinese] {
        to_review(&pair, ticket_id).await;
    }
    let (text, happy_link) = review_request(&notices, &happy, &console);
    assert!(
        text.starts_with(&format!(
            "Ticket {happy} is resolved. Please rate how we handled it (1 to 5): {console}/rate/"
        )),
        "{text}"
    );
    let customer = browser.person();

    // The link opens the ticket in English with the rating form; a 5 is the review.
    browser.open(&customer, &happy_link);
    assert_eq!(
        browser.eval(&customer, "document.documentElement.lang"),
        json!("en")
    );
    assert!(text_of(&mut browser, &customer, "main").contains("Rate how we handled it"));
    assert_eq!(
        browser.eval(&customer, "!!document.getElementById('form-reply')"),
        json!(false),
        "a reply needs the digits"
    );
    rate(&mut browser, &customer, 5);
    assert!(
        text_of(&mut browser, &customer, "#status-notice").contains("Thank you for your rating")
    );
    let rated = wait_ticket(&pair, &happy, |ticket| ticket.satisfaction == 5).await;
    assert_eq!((rated.step, rated.round), (v1::Step::Review as i32, 1));
    let history = e2e::history(&mut pair.tickets_client(), &happy, "t-service").await;
    let review = history
        .iter()
        .find(|event| event.event_type == "review_recorded")
        .expect("the review");
    assert_eq!(
        review.actor.as_ref().map(|actor| actor.principal.as_str()),
        Some("customer")
    );
    pair.tickets_client()
        .archive(e2e::authorized(
            v1::ArchiveRequest {
                ticket_id: happy.clone(),
                command_id: format!("{happy}-archive"),
                ..Default::default()
            },
            "t-service",
        ))
        .await
        .expect("archive");
    wait_ticket(&pair, &happy, step_is(v1::Step::Archive)).await;

    // A 1 through the other ticket's link reopens it: round 2, back in handle.
    let (_, unhappy_link) = review_request(&notices, &unhappy, &console);
    browser.open(&customer, &unhappy_link);
    rate(&mut browser, &customer, 1);
    let reopened = wait_ticket(&pair, &unhappy, |ticket| ticket.round == 2).await;
    assert_eq!(reopened.step, v1::Step::Handle as i32, "reopened");

    // A tampered token: the page of wrong digits, nothing of the ticket, nothing recorded.
    let (_, chinese_link) = review_request(&notices, &chinese, &console);
    let last = chinese_link.chars().last().unwrap_or('0');
    let tampered = format!(
        "{}{}",
        &chinese_link[..chinese_link.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    browser.open(&customer, &tampered);
    assert_eq!(
        browser.eval(&customer, "!!document.getElementById('status-step')"),
        json!(false)
    );
    let forged = text_of(&mut browser, &customer, "main");
    browser.open(&customer, &format!("{console}/status"));
    browser.submit(
        &customer,
        "#form-status",
        &[("ticket", chinese.as_str()), ("digits", "0000")],
    );
    assert_eq!(forged, text_of(&mut browser, &customer, "main"));

    // The Chinese ticket's link speaks Chinese to the same (English) browser.
    let (text, _) = review_request(&notices, &chinese, &console);
    assert!(text.contains("请为本次处理打分"), "{text}");
    browser.open(&customer, &chinese_link);
    assert_eq!(
        browser.eval(&customer, "document.documentElement.lang"),
        json!("zh-CN")
    );
    assert!(text_of(&mut browser, &customer, "main").contains("评价本次处理"));
    let still = wait_ticket(&pair, &chinese, step_is(v1::Step::Review)).await;
    assert_eq!(
        still.satisfaction, 0,
        "nothing recorded by the tampered link"
    );
}
