//! Assignment of tickets to people, end to end: real nats-server, both services, real
//! sockets. A department with four members and the round-robin policy gets 100 routed
//! submissions and gives each member 25; a member who is away gets none of the next batch;
//! going away hands their open tickets back to the others; the history keeps every
//! assignment; `ListTickets` filters by assignee, and "@me" is the caller.

use e2e::{authorized, principal, principals_file, Principal, ServiceSpec, TestCluster};
use proto::v1;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The members of technical; `wang.wu` also has a token.
const MEMBERS: [&str; 4] = ["wang.wu", "chen.er", "zhou.san", "wu.si"];

const PRINCIPALS: &[Principal] = &[
    principal("t-adapter", "web-form", "adapter"),
    principal("t-agent-technical", "wang.wu", "agent").of("technical"),
    principal("t-agent-technical-2", "chen.er", "agent").of("technical"),
    principal("t-head-technical", "zhao.liu", "head").of("technical"),
    principal("t-admin", "root", "admin"),
];

/// Every day, all day, is working time here, so that the test does not depend on when it
/// runs; round robin over the four members of technical.
const DOMAIN: &str = r#"
[calendar]
working_hours = ["00:00-24:00"]
weekend = []
holidays = []
workdays = []

[departments.technical]
members = ["wang.wu", "chen.er", "zhou.san", "wu.si"]
assignment = "round_robin"
"#;

/// Submits `count` app problems that the rules route to technical.
async fn submit(cluster: &TestCluster, prefix: &str, count: usize) -> Vec<String> {
    let mut intake = cluster.intake_client();
    let mut ids = Vec::with_capacity(count);
    for index in 0..count {
        let external_id = format!("{prefix}-{index}");
        let content = format!("APP卡顿，打开很慢 {prefix} {index}");
        let request = v1::SubmitRequest {
            channel: "app".into(),
            ..e2e::web_submission(&external_id, &content)
        };
        let mut attempt = 0;
        loop {
            match intake
                .submit(authorized(request.clone(), "t-adapter"))
                .await
            {
                Ok(response) => {
                    ids.push(response.into_inner().ticket_id);
                    break;
                }
                Err(status) if attempt < 20 => {
                    attempt += 1;
                    eprintln!("submit retry: {status}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(status) => panic!("intake refused a submission: {status}"),
            }
        }
    }
    ids
}

/// Every ticket of technical, as the admin sees it.
async fn technical(cluster: &TestCluster, assignee: &str, token: &str) -> Vec<v1::Ticket> {
    let filter = v1::TicketFilter {
        department: "technical".into(),
        assignee: assignee.into(),
        ..Default::default()
    };
    e2e::grpc::list_all_tickets(&mut cluster.tickets_client(), Some(filter), token)
        .await
        .expect("list tickets")
}

/// Waits until every ticket of `ids` has an assignee; returns the tickets.
async fn wait_assigned(cluster: &TestCluster, ids: &[String]) -> BTreeMap<String, v1::Ticket> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let listed: BTreeMap<String, v1::Ticket> = technical(cluster, "", "t-admin")
            .await
            .into_iter()
            .filter(|ticket| ids.contains(&ticket.ticket_id))
            .map(|ticket| (ticket.ticket_id.clone(), ticket))
            .collect();
        let done =
            listed.len() == ids.len() && listed.values().all(|ticket| !ticket.assignee.is_empty());
        if done {
            return listed;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {} tickets were assigned in time\n{}",
            listed
                .values()
                .filter(|ticket| !ticket.assignee.is_empty())
                .count(),
            ids.len(),
            cluster.workflow().log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn set_away(
    cluster: &TestCluster,
    person: &str,
    away: bool,
    token: &str,
) -> v1::SetAwayResponse {
    cluster
        .tickets_client()
        .set_away(authorized(
            v1::SetAwayRequest {
                person: person.into(),
                away,
            },
            token,
        ))
        .await
        .expect("set away")
        .into_inner()
}

async fn events_of(cluster: &TestCluster, ticket_id: &str) -> Vec<v1::LogEvent> {
    cluster
        .tickets_client()
        .get_history(authorized(
            v1::GetHistoryRequest {
                ticket_id: ticket_id.into(),
            },
            "t-admin",
        ))
        .await
        .expect("history")
        .into_inner()
        .events
}

fn counts<'a>(tickets: impl Iterator<Item = &'a v1::Ticket>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for ticket in tickets {
        *counts.entry(ticket.assignee.clone()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_spreads_tickets_skips_the_away_and_hands_back_with_history() {
    let cluster = TestCluster::builder()
        .prefix("cloop-assignment-")
        .tokens(principals_file(PRINCIPALS))
        .config(format!(
            "{DOMAIN}\n[intake_service]\nnode_id = 7\nmaintenance_interval_ms = 200\n\n\
             [workflow_service]\ntimer_tick_ms = 100\n\n[nats]\nrequest_timeout_ms = 3000\n"
        ))
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();

    // 100 submissions routed to technical: 25 for each of the four members.
    let first = submit(&cluster, "first", 100).await;
    let assigned = wait_assigned(&cluster, &first).await;
    let spread = counts(assigned.values());
    let expected: BTreeMap<String, usize> = MEMBERS
        .iter()
        .map(|member| ((*member).to_owned(), 25))
        .collect();
    assert_eq!(spread, expected, "round robin over four members");
    // ListTickets by assignee agrees, and "@me" is the caller.
    for member in MEMBERS {
        assert_eq!(
            technical(&cluster, member, "t-admin").await.len(),
            25,
            "{member}"
        );
    }
    let mine = technical(&cluster, "@me", "t-agent-technical").await;
    assert_eq!(mine.len(), 25);
    assert!(mine.iter().all(|ticket| ticket.assignee == "wang.wu"));

    // zhou.san goes away (set by the head): their 25 open tickets are handed back, by the
    // policy, to the three members on duty.
    let answer = set_away(&cluster, "zhou.san", true, "t-head-technical").await;
    assert!(answer.away);
    assert_eq!(
        answer.handed_back.len(),
        25,
        "every open ticket is handed back"
    );
    let now = wait_assigned(&cluster, &first).await;
    assert!(
        now.values().all(|ticket| ticket.assignee != "zhou.san"),
        "nobody away keeps a ticket"
    );
    let after = counts(now.values());
    assert_eq!(after.values().sum::<usize>(), 100);
    for member in ["wang.wu", "chen.er", "wu.si"] {
        let count = after.get(member).copied().unwrap_or(0);
        assert!(
            (33..=34).contains(&count),
            "{member} has {count}: {after:?}"
        );
    }

    // A handed-back ticket keeps its whole history: the automatic assignment, then the
    // hand-back, each with the previous assignee.
    let handed = &answer.handed_back[0];
    let history = events_of(&cluster, handed).await;
    let assignments: Vec<serde_json::Value> = history
        .iter()
        .filter(|event| event.event_type == "assigned")
        .map(|event| serde_json::from_str(&event.payload).expect("json payload"))
        .collect();
    assert_eq!(assignments.len(), 2, "{history:?}");
    assert_eq!(assignments[0]["reason"], "auto");
    assert_eq!(assignments[0]["assignee"], "zhou.san");
    assert_eq!(assignments[1]["reason"], "handed_back");
    assert_eq!(assignments[1]["previous"], "zhou.san");
    assert_ne!(assignments[1]["assignee"], "zhou.san");

    // The next batch: nobody away receives any, the three others share it evenly.
    let second = submit(&cluster, "second", 30).await;
    let batch = wait_assigned(&cluster, &second).await;
    let shares = counts(batch.values());
    assert_eq!(shares.get("zhou.san"), None, "{shares:?}");
    assert_eq!(
        shares.values().copied().collect::<Vec<_>>(),
        vec![10, 10, 10]
    );

    // Back at work, zhou.san takes new tickets again; someone else may not set them away.
    let denied = cluster
        .tickets_client()
        .set_away(authorized(
            v1::SetAwayRequest {
                person: "zhou.san".into(),
                away: false,
            },
            "t-agent-technical",
        ))
        .await
        .expect_err("a colleague may not");
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    assert!(!set_away(&cluster, "zhou.san", false, "t-admin").await.away);
    let third = submit(&cluster, "third", 8).await;
    let shares = counts(wait_assigned(&cluster, &third).await.values());
    assert_eq!(shares.get("zhou.san"), Some(&2), "{shares:?}");

    // The head reassigns by hand; an agent claims only what has nobody.
    let ticket_id = third[0].clone();
    let current = batch_assignee(&cluster, &ticket_id).await;
    let reassigned = cluster
        .tickets_client()
        .assign(authorized(
            v1::AssignRequest {
                ticket_id: ticket_id.clone(),
                command_id: "reassign-1".into(),
                expected_version: None,
                assignee: if current == "chen.er" {
                    "wang.wu".into()
                } else {
                    "chen.er".into()
                },
            },
            "t-head-technical",
        ))
        .await
        .expect("the head reassigns")
        .into_inner()
        .ticket
        .expect("ticket");
    assert_ne!(reassigned.assignee, current);
    let refused = cluster
        .tickets_client()
        .assign(authorized(
            v1::AssignRequest {
                ticket_id: ticket_id.clone(),
                command_id: "reassign-2".into(),
                expected_version: None,
                assignee: "li.si".into(),
            },
            "t-head-technical",
        ))
        .await
        .expect_err("not a member");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let history = events_of(&cluster, &ticket_id).await;
    let reasons: Vec<String> = history
        .iter()
        .filter(|event| event.event_type == "assigned")
        .map(|event| {
            let payload: serde_json::Value =
                serde_json::from_str(&event.payload).expect("json payload");
            payload["reason"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(reasons, ["auto", "assigned"]);
}

async fn batch_assignee(cluster: &TestCluster, ticket_id: &str) -> String {
    cluster
        .tickets_client()
        .get_ticket(authorized(
            v1::GetTicketRequest {
                ticket_id: ticket_id.into(),
            },
            "t-admin",
        ))
        .await
        .expect("ticket")
        .into_inner()
        .ticket
        .expect("ticket")
        .assignee
}
