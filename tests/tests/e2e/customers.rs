//! End-to-end customer profiles: one customer writes three complaints on two channels (web
//! and WeChat, the same phone written two ways), another customer writes one. A real
//! `cloop-workflow` finds the first customer by phone, by WeChat openid and by one of their
//! tickets through the keyed-hash index, with both channels, the complaint count and the
//! automatic tag "repeated_complaints"; an agent sees only their department's tickets of the
//! profile and NOT_FOUND where their department has none; the other customer's ticket is never
//! part of it; `cloop customer show` prints the profile without the phone; and the profile is
//! the same after the workflow restarts, and equal to a rebuild from the log. Staff tags
//! (`TagCustomer`, "vip" the VIP flag) are refused to agents, recorded as `customer_tagged` on
//! the customer's newest ticket and kept across the restart. Once the customer is erased,
//! nobody finds them any more.

use e2e::{authorized, ServiceSpec, TestCluster};
use proto::v1;
use proto::v1::customers_client::CustomersClient;
use proto::v1::get_customer_request::Key;
use std::collections::BTreeSet;
use std::time::Duration;
use tonic::Code;

const WAIT: Duration = Duration::from_secs(30);
const PHONE: &str = "13912340001";

fn submission(
    channel: &str,
    external_id: &str,
    phone: &str,
    openid: &str,
    content: &str,
) -> v1::SubmitRequest {
    v1::SubmitRequest {
        channel: channel.into(),
        external_id: external_id.into(),
        customer: Some(v1::Customer {
            phone: phone.into(),
            wechat_openid: openid.into(),
            ..Default::default()
        }),
        content: content.into(),
        ..Default::default()
    }
}

async fn tag(
    cluster: &TestCluster,
    token: &str,
    key: v1::tag_customer_request::Key,
    tag: &str,
    remove: bool,
) -> Result<v1::CustomerProfile, tonic::Status> {
    let mut client = CustomersClient::new(cluster.connect("workflow").await);
    let request = v1::TagCustomerRequest {
        key: Some(key),
        tag: tag.into(),
        remove,
        command_id: String::new(),
    };
    client
        .tag_customer(authorized(request, token))
        .await
        .map(|response| response.into_inner().customer.expect("a profile"))
}

async fn profile(
    cluster: &TestCluster,
    token: &str,
    key: Key,
) -> Result<v1::CustomerProfile, tonic::Status> {
    let mut client = CustomersClient::new(cluster.connect("workflow").await);
    client
        .get_customer(authorized(v1::GetCustomerRequest { key: Some(key) }, token))
        .await
        .map(|response| response.into_inner().customer.expect("a profile"))
}

fn ids(profile: &v1::CustomerProfile) -> BTreeSet<String> {
    profile
        .tickets
        .iter()
        .map(|ticket| ticket.ticket_id.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_is_found_across_channels_with_tags_and_department_limits() {
    let mut cluster = TestCluster::builder()
        .prefix("cloop-customers-e2e-")
        .config("[customers]\ncomplaint_count = 3\ncomplaint_days = 30\n")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();
    let submissions = [
        submission(
            "web",
            "c-1",
            PHONE,
            "",
            "投诉：快递配送太慢，物流一直不更新",
        ),
        submission(
            "wechat",
            "c-2",
            "+86 139 1234 0001",
            "o-customer-1",
            "投诉：APP闪退，打不开",
        ),
        submission("web", "c-3", PHONE, "", "投诉：客服态度差，没人理"),
    ];
    let mut mine = Vec::new();
    for request in submissions {
        mine.push(cluster.submit_as("t-adapter", request).await);
    }
    let other = cluster
        .submit_as(
            "t-adapter",
            submission("web", "c-4", "13700000002", "", "投诉：快递太慢"),
        )
        .await;
    let mut departments = Vec::new();
    // The departments that may read each ticket: the one leading it and its helpers.
    let mut involved = Vec::new();
    for id in mine.iter().chain([&other]) {
        let ticket = cluster
            .wait_ticket(id, "t-admin", WAIT, |ticket| {
                ticket.kind != 0 && !ticket.department.is_empty()
            })
            .await;
        assert_eq!(ticket.kind, v1::Kind::Complaint as i32, "{ticket:?}");
        departments.push(ticket.department.clone());
        involved.push(
            std::iter::once(ticket.department)
                .chain(ticket.helpers)
                .collect::<BTreeSet<String>>(),
        );
    }
    let mine_set: BTreeSet<String> = mine.iter().cloned().collect();

    // Found by phone, in another notation than either submission's: all three, both
    // channels, three complaints in 30 days, and the tag.
    let by_phone = profile(
        &cluster,
        "t-service",
        Key::Phone("0086-139-1234-0001".into()),
    )
    .await
    .expect("found by phone");
    assert_eq!(ids(&by_phone), mine_set);
    assert!(!ids(&by_phone).contains(&other));
    assert_eq!(by_phone.ticket_count, 3);
    let channels: BTreeSet<&str> = by_phone
        .tickets
        .iter()
        .map(|ticket| ticket.channel.as_str())
        .collect();
    assert_eq!(channels, BTreeSet::from(["web", "wechat"]));
    assert_eq!(
        (by_phone.recent_complaints, by_phone.recent_complaint_days),
        (3, 30)
    );
    assert_eq!(
        by_phone.automatic_tags,
        vec!["repeated_complaints".to_owned()]
    );
    assert!(
        !format!("{by_phone:?}").contains("1234"),
        "no contact data in a profile"
    );

    // Found by the WeChat account alone: only the WeChat ticket, so no tag.
    let by_openid = profile(
        &cluster,
        "t-service",
        Key::WechatOpenid("o-customer-1".into()),
    )
    .await
    .expect("found by openid");
    assert_eq!(ids(&by_openid), BTreeSet::from([mine[1].clone()]));
    assert!(by_openid.automatic_tags.is_empty());
    // Found by a ticket: every contact on it, so the phone's tickets too.
    let by_ticket = profile(&cluster, "t-admin", Key::TicketId(mine[1].clone()))
        .await
        .expect("found by ticket");
    assert_eq!(ids(&by_ticket), mine_set);

    // An unknown contact and a malformed one.
    let unknown = profile(
        &cluster,
        "t-service",
        Key::Email("nobody@example.cn".into()),
    )
    .await
    .expect_err("nobody");
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(
        !unknown.message().contains("nobody"),
        "{}",
        unknown.message()
    );
    let malformed = profile(&cluster, "t-service", Key::Phone("12".into()))
        .await
        .expect_err("not a phone");
    assert_eq!(malformed.code(), Code::InvalidArgument);

    // An agent sees only the tickets of the profile their department leads or helps with,
    // and the figures of those.
    let department = departments[0].clone();
    let agent = format!("t-agent-{department}");
    let scoped = profile(&cluster, &agent, Key::Phone(PHONE.into()))
        .await
        .expect("the agent's part");
    let expected: BTreeSet<String> = mine
        .iter()
        .zip(&involved)
        .filter(|(_, readers)| readers.contains(&department))
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(ids(&scoped), expected);
    assert!(expected.len() < 3, "every ticket went to {department}");
    assert!(scoped.automatic_tags.is_empty(), "{scoped:?}");
    let outsider = e2e::grpc::DEPARTMENTS
        .iter()
        .find(|name| !involved[..3].iter().any(|readers| readers.contains(**name)))
        .expect("a department without these tickets");
    let refused = profile(
        &cluster,
        &format!("t-agent-{outsider}"),
        Key::Phone(PHONE.into()),
    )
    .await
    .expect_err("none of theirs");
    assert_eq!(refused.code(), Code::NotFound);
    // Nor may they reach a ticket of another department through GetCustomer.
    let hidden = mine
        .iter()
        .zip(&involved)
        .find(|(_, readers)| !readers.contains(&department))
        .map(|(id, _)| id.clone());
    if let Some(hidden) = hidden {
        let refused = profile(&cluster, &agent, Key::TicketId(hidden))
            .await
            .expect_err("another department's ticket");
        assert_eq!(refused.code(), Code::NotFound);
    }

    // The command line, as people and as JSON; never the phone.
    let output = cluster.cloop("t-service", &["customer", "show", "--phone", PHONE]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.contains("repeated_complaints") && text.contains("wechat"),
        "{text}"
    );
    for id in &mine {
        assert!(text.contains(id.as_str()), "{text}");
    }
    assert!(!text.contains("1234"), "{text}");
    let output = cluster.cloop(
        "t-service",
        &["--json", "customer", "show", "--ticket", &mine[0]],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["ticket_count"], 3);
    assert_eq!(json["recent_complaints"], 3);

    // Staff tags: service and admin only; "vip" is the VIP flag; the latest mark wins.
    use v1::tag_customer_request::Key as TagKey;
    let refused = tag(&cluster, &agent, TagKey::Phone(PHONE.into()), "vip", false)
        .await
        .expect_err("agents may not tag");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let malformed = tag(
        &cluster,
        "t-service",
        TagKey::Phone(PHONE.into()),
        "Not A Tag",
        false,
    )
    .await
    .expect_err("not a tag");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    let tagged = tag(
        &cluster,
        "t-service",
        TagKey::Phone(PHONE.into()),
        "vip",
        false,
    )
    .await
    .expect("tagged");
    assert!(tagged.vip);
    assert_eq!(tagged.tags, vec!["vip".to_owned()]);
    let tagged = tag(
        &cluster,
        "t-admin",
        TagKey::TicketId(mine[0].clone()),
        "loyal",
        false,
    )
    .await
    .expect("tagged by ticket");
    assert_eq!(tagged.tags, vec!["loyal".to_owned(), "vip".to_owned()]);
    let output = cluster.cloop(
        "t-service",
        &["customer", "tag", "loyal", "--remove", "--phone", PHONE],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let newest = &by_phone.tickets.last().expect("tickets").ticket_id;
    let history = cluster.events(newest, "t-admin").await;
    assert!(
        history
            .iter()
            .any(|event| event.event_type == "customer_tagged"),
        "recorded on the newest ticket"
    );

    // The index is a projection of the log: a rebuild from the log gives the same rows
    // (`cloop-workflow --check` compares the digests, the index included), and the profile
    // is the same after a restart.
    assert_eq!(
        cluster.workflow_mut().terminate(Duration::from_secs(20)),
        Some(0)
    );
    let check = cluster.workflow_check();
    assert_eq!(check["projections_equal"], true, "{check}");
    cluster.workflow_mut().restart();
    let again = profile(&cluster, "t-service", Key::Phone(PHONE.into()))
        .await
        .expect("found after the restart");
    assert_eq!(ids(&again), mine_set);
    assert_eq!(again.automatic_tags, by_phone.automatic_tags);
    assert_eq!(
        again.tags,
        vec!["vip".to_owned()],
        "staff tags kept across the restart"
    );
    assert!(again.vip);

    // An erased customer is found by nobody: the index rows go with the contact data.
    let output = cluster.cloop(
        "t-admin",
        &[
            "customer",
            "erase",
            "--ticket",
            &mine[0],
            "--reason",
            "privacy request 7",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let gone = profile(&cluster, "t-service", Key::Phone(PHONE.into()))
        .await
        .expect_err("erased");
    assert_eq!(gone.code(), Code::NotFound);
    let other_left = profile(&cluster, "t-service", Key::Phone("13700000002".into()))
        .await
        .expect("another customer is still found");
    assert_eq!(ids(&other_left), BTreeSet::from([other.clone()]));
}

/// The console's ticket page, in headless Chromium: the customer's summary (tickets,
/// complaints in 30 days, the automatic tag, VIP) in English and in Chinese.
#[tokio::test(flavor = "multi_thread")]
async fn the_ticket_page_shows_the_customer_summary_in_english_and_chinese() {
    let Some((mut browser, pair, console, _)) = crate::console::browser_scenario() else {
        return;
    };
    let phone = "13912340077";
    let mut ids = Vec::new();
    for (index, content) in ["投诉：快递配送太慢", "投诉：客服态度差", "投诉：APP闪退"]
        .into_iter()
        .enumerate()
    {
        let request = submission("web", &format!("page-{index}"), phone, "", content);
        ids.push(pair.submit_as("t-adapter", request).await);
    }
    for id in &ids {
        crate::console::wait_ticket(&pair, id, |ticket| ticket.kind != 0).await;
    }
    tag(
        &pair,
        "t-service",
        v1::tag_customer_request::Key::Phone(phone.into()),
        "vip",
        false,
    )
    .await
    .expect("tagged vip");
    let service = browser.person();
    crate::console::sign_in(&mut browser, &service, &console, "t-service");
    for (lang, complaints, tag, vip, vip_deadlines) in [
        (
            "en",
            "Complaints in the last 30 days",
            "repeated complaints",
            "VIP",
            "VIP customer: each deadline is the stricter",
        ),
        (
            "zh",
            "近 30 天投诉",
            "多次投诉客户",
            "VIP 客户",
            "VIP 客户：各期限取 VIP 时限",
        ),
    ] {
        browser.open(
            &service,
            &format!("{console}/lang/{lang}?back=/tickets/{}", ids[0]),
        );
        browser.open(&service, &format!("{console}/tickets/{}", ids[0]));
        let summary = browser.eval(
            &service,
            "document.getElementById('customer-profile').innerText",
        );
        let summary = summary.as_str().unwrap_or_default().to_owned();
        assert!(summary.contains(complaints), "{lang}: {summary}");
        assert!(summary.contains(tag), "{lang}: {summary}");
        assert!(summary.contains(vip), "{lang}: {summary}");
        let count = browser.eval(
            &service,
            "document.getElementById('customer-tickets').textContent.trim()",
        );
        assert_eq!(count, serde_json::json!("3"), "{lang}");
        assert!(!summary.contains("1234"), "no contact data: {summary}");
        // The tag recomputed the open ticket's deadlines: its SLA section says the VIP row.
        let badge = browser.eval(
            &service,
            "(document.getElementById('ticket-vip') || {}).innerText || ''",
        );
        let badge = badge.as_str().unwrap_or_default();
        assert!(badge.contains(vip_deadlines), "{lang}: {badge:?}");
    }
}
