//! Limits on by default (OWASP API4), over real gRPC against real `cloop-intake` and
//! `cloop-workflow` processes: each refusal has its status code and names its limit.
//!
//! - a principal without any rate-limit configuration is limited at its role's built-in limit;
//! - watches per principal (`WatchTickets`, `ReadEvents` with `follow`): RESOURCE_EXHAUSTED
//!   naming `workflow_service.max_watches_per_principal`, and the slot comes back when the
//!   client goes away;
//! - the text search of `ListTickets`: INVALID_ARGUMENT naming `filter.text` and the maximum;
//! - `page_size` over the maximum is clamped to it;
//! - notes per ticket: RESOURCE_EXHAUSTED naming `limits.notes_max_per_ticket`.

use crate::support::assert_names;
use crate::support::{authorized, lazy_channel, metric, start_pair, PairOptions};
use e2e::grpc::eventually;
use e2e::{fetch_ticket, Staff, TestCluster};
use proto::v1;
use proto::v1::audit_client::AuditClient;
use proto::v1::intake_client::IntakeClient;
use proto::v1::tickets_client::TicketsClient;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::Code;

const MAX_WATCHES: usize = 2;
const MAX_PAGE: usize = 3;
const MAX_NOTES: usize = 3;

/// A pair with small caps, so that a test reaches each of them quickly. The `[limits]` table
/// is the domain's: it follows the workflow's lines in the shared configuration file.
fn pair() -> TestCluster {
    start_pair(PairOptions {
        workflow: format!(
            "max_watches_per_principal = {MAX_WATCHES}\nmax_page_size = {MAX_PAGE}\n\
             default_page_size = 2\n\n[limits]\nnotes_max_per_ticket = {MAX_NOTES}\n"
        ),
        ..PairOptions::default()
    })
}

fn submission(external_id: &str) -> v1::SubmitRequest {
    e2e::web_submission(external_id, "快递一直没有送到，包裹延误了一周")
}

/// Submits `count` tickets and waits until the workflow has each of them.
async fn tickets(pair: &TestCluster, count: usize) -> Vec<String> {
    let mut intake = IntakeClient::new(lazy_channel(pair.intake().address()));
    let mut workflow = TicketsClient::new(lazy_channel(pair.workflow().address()));
    let mut ids = Vec::new();
    for index in 0..count {
        let answer = intake
            .submit(authorized(
                submission(&format!("limits-{index}")),
                "t-adapter",
            ))
            .await
            .expect("submit")
            .into_inner();
        ids.push(answer.ticket_id);
    }
    for ticket_id in &ids {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found = fetch_ticket(&mut workflow, ticket_id, "t-admin").await;
            if found.is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ticket {ticket_id} never arrived"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    ids
}

async fn watch(
    channel: &Channel,
    token: &str,
) -> Result<tonic::Streaming<v1::WatchTicketsResponse>, tonic::Status> {
    TicketsClient::new(channel.clone())
        .watch_tickets(authorized(v1::WatchTicketsRequest::default(), token))
        .await
        .map(tonic::Response::into_inner)
}

/// What `open` gives once the service no longer refuses it for want of a slot (tried every
/// 50 ms); the slot of `what` must come back within 10 s.
async fn once_a_slot_is_back<T, Fut>(what: &str, mut open: impl FnMut() -> Fut) -> T
where
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match open().await {
            Ok(stream) => return stream,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                assert!(
                    Instant::now() < deadline,
                    "the slot of {what} never came back"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// `ReadEvents` following the log, as the admin: it takes a watch slot.
async fn follow_log(
    audit: &mut AuditClient<Channel>,
) -> Result<tonic::Streaming<v1::ReadEventsResponse>, tonic::Status> {
    let request = v1::ReadEventsRequest {
        follow: true,
        ..Default::default()
    };
    let answer = audit.read_events(authorized(request, "t-admin")).await;
    answer.map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cap_refuses_with_its_code_and_names_the_limit() {
    let pair = pair();
    let ids = tickets(&pair, MAX_PAGE + 1).await;
    let channel = lazy_channel(pair.workflow().address());
    let mut tickets_client = TicketsClient::new(channel.clone());

    // page_size over the maximum is clamped, and the rest is on the next page.
    let mut admin = Staff::new(tickets_client.clone(), "t-admin");
    let page = admin.page(100_000).await;
    let page = page.expect("a large page_size is not an error");
    assert_eq!(page.tickets.len(), MAX_PAGE, "clamped to max_page_size");
    assert!(
        !page.next_page_token.is_empty(),
        "the rest is on a next page"
    );
    let default_page = tickets_client
        .list_tickets(authorized(v1::ListTicketsRequest::default(), "t-admin"))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(default_page.tickets.len(), 2, "page_size 0 is the default");

    // The text search: too long, too many words.
    for (text, parts) in [
        ("长".repeat(201), ["filter.text", "200", "max_search_chars"]),
        (
            "a b c d e f g h i".to_owned(),
            ["filter.text", "8", "max_search_terms"],
        ),
    ] {
        for token in ["t-admin", "t-agent-logistics"] {
            let mut staff = admin.as_(token);
            let status = staff
                .search(&text)
                .await
                .expect_err("over the search limit");
            assert_names(&status, Code::InvalidArgument, &parts);
            assert_eq!(
                status
                    .metadata()
                    .get("cloop-field")
                    .and_then(|value| value.to_str().ok()),
                Some("filter.text")
            );
        }
        let status = TicketsClient::new(channel.clone())
            .watch_tickets(authorized(
                v1::WatchTicketsRequest {
                    filter: Some(v1::TicketFilter {
                        text: text.clone(),
                        ..Default::default()
                    }),
                    include_current: false,
                },
                "t-admin",
            ))
            .await
            .expect_err("the same limit on a watch");
        assert_names(&status, Code::InvalidArgument, &parts);
    }
    let found = admin.search("包裹 延误").await;
    let found = found.expect("a search within the limits");
    assert!(!found.is_empty(), "the search still finds tickets");

    // Notes per ticket.
    let note = |ticket_id: &str, command_id: String, text: String| {
        authorized(
            v1::AddNoteRequest {
                ticket_id: ticket_id.to_owned(),
                command_id,
                text,
                ..Default::default()
            },
            "t-service",
        )
    };
    let ticket_id = &ids[0];
    for index in 0..MAX_NOTES {
        tickets_client
            .add_note(note(
                ticket_id,
                format!("note-{index}"),
                format!("note {index}"),
            ))
            .await
            .expect("within the cap");
    }
    let status = tickets_client
        .add_note(note(ticket_id, "note-over".into(), "one too many".into()))
        .await
        .expect_err("over the cap");
    assert_names(
        &status,
        Code::ResourceExhausted,
        &["limits.notes_max_per_ticket", &format!("is {MAX_NOTES}")],
    );
    // A repeat of a note that was recorded still answers with its first result.
    tickets_client
        .add_note(note(ticket_id, "note-0".into(), "note 0".into()))
        .await
        .expect("a replay is not a new note");
    // Another ticket has its own count.
    tickets_client
        .add_note(note(&ids[1], "other-note".into(), "another ticket".into()))
        .await
        .expect("another ticket");

    // A principal with no rate limit configured is limited at its role's built-in limit
    // (agents: 50 per second, burst 100): 300 calls at once get refusals naming it.
    let started = Instant::now();
    let calls: Vec<_> = (0..300)
        .map(|_| {
            let mut client = TicketsClient::new(channel.clone());
            let ticket_id = ids[0].clone();
            tokio::spawn(async move {
                fetch_ticket(&mut client, &ticket_id, "t-agent-product")
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    let mut rate_limited = 0usize;
    let mut passed = 0usize;
    for call in calls {
        match call.await.expect("call task") {
            Err(status) if status.code() == Code::ResourceExhausted => {
                assert_names(
                    &status,
                    Code::ResourceExhausted,
                    &[
                        "principal agent.product",
                        "50 requests per second, burst 100",
                    ],
                );
                assert!(status.metadata().get("cloop-retry-after-ms").is_some());
                rate_limited += 1;
            }
            // Past the limiter: found, or refused as another department's ticket.
            _ => passed += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "limits: 300 calls by one agent in {elapsed:.2} s, {passed} passed the limiter, \
         {rate_limited} refused"
    );
    assert!(rate_limited > 0, "the built-in agent limit refuses a flood");
    assert!(
        passed as f64 <= 100.0 + 50.0 * elapsed + 5.0,
        "{passed} passed in {elapsed:.2} s, more than the burst and the rate allow"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_per_principal_are_capped_and_a_slot_comes_back_when_the_client_goes_away() {
    let pair = pair();
    let shared = lazy_channel(pair.workflow().address());
    // Each watch on its own connection, so that dropping one is a client going away.
    let first_channel = lazy_channel(pair.workflow().address());
    let first = watch(&first_channel, "t-admin").await.expect("first watch");
    let second = watch(&shared, "t-admin").await.expect("second watch");

    let status = watch(&shared, "t-admin")
        .await
        .expect_err("a third watch is over the cap");
    assert_names(
        &status,
        Code::ResourceExhausted,
        &[
            "workflow_service.max_watches_per_principal",
            &format!("the most allowed is {MAX_WATCHES}"),
            "principal root",
        ],
    );
    // ReadEvents with follow takes from the same slots; without follow it takes none.
    let mut audit = AuditClient::new(shared.clone());
    let status = follow_log(&mut audit)
        .await
        .expect_err("a following read is a watch");
    assert_names(
        &status,
        Code::ResourceExhausted,
        &["workflow_service.max_watches_per_principal"],
    );
    audit
        .read_events(authorized(
            v1::ReadEventsRequest {
                follow: false,
                limit: 10,
                ..Default::default()
            },
            "t-admin",
        ))
        .await
        .expect("a read that ends is not a watch");
    // Another principal has its own slots.
    let other = watch(&shared, "t-service")
        .await
        .expect("another principal's watch");

    // The client of the first watch goes away: its connection closes, the server drops the
    // stream, and the slot comes back.
    drop(first);
    drop(first_channel);
    let third = once_a_slot_is_back("a client that went away", || watch(&shared, "t-admin")).await;
    // A cancelled stream on a connection that stays open also gives its slot back.
    drop(second);
    let mut follow = once_a_slot_is_back("a cancelled stream", || {
        let mut audit = audit.clone();
        async move { follow_log(&mut audit).await }
    })
    .await;
    // The following read works: it streams the log.
    let _ = tickets(&pair, 1).await;
    let row = tokio::time::timeout(Duration::from_secs(30), follow.message())
        .await
        .expect("a row in time")
        .expect("no error")
        .expect("a row");
    assert!(row.event.is_some_and(|event| event.position > 0));
    // Both slots are in use again.
    let status = watch(&shared, "t-admin")
        .await
        .expect_err("over the cap again");
    assert_eq!(status.code(), Code::ResourceExhausted);
    let open = || {
        metric(
            pair.workflow().metrics_address(),
            "cloop_workflow_open_watches",
        )
    };
    assert_eq!(open(), Some(3.0), "two of root's and one of zhang.san's");
    // Every client goes away: the server lets go of every stream.
    drop((third, other, follow, audit, shared));
    let closed = eventually(Duration::from_secs(10), || async { open() == Some(0.0) }).await;
    assert!(closed, "open watches after every client left: {:?}", open());
    assert!(
        metric(
            pair.workflow().metrics_address(),
            "cloop_workflow_watches_refused_total"
        )
        .is_some_and(|refused| refused >= 3.0),
        "refusals are counted"
    );
}
