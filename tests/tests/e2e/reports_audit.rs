//! End-to-end tests of the workflow's reports and the auditors' live features, with a real
//! nats-server and both real service binaries: the monthly report over gRPC (exact figures
//! for a small set of driven tickets, the same bytes at a position, the CLI against the
//! service), the public list of adopted suggestions, `ReadEvents` following the log live,
//! kept and published checkpoints, `GetTicketAt` against what `GetTicket` answered, and the
//! retention expiry of archived tickets.

use crate::support::{month_of, monthly, only_adopted, read_from_start};
use e2e::{
    authorized, bin_path, principal, principals_file, wait_until, Principal, ServiceSpec, Staff,
    TestCluster,
};
use futures::StreamExt;
use prost::Message as _;
use proto::v1;
use proto::v1::audit_client::AuditClient;
use proto::v1::intake_client::IntakeClient;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::Code;

/// How long a ticket may take to reach the state a scenario waits for.
const WAIT: Duration = Duration::from_secs(30);

const PRINCIPALS: &[Principal] = &[
    principal("r-adapter", "web-form", "adapter"),
    principal("r-service", "zhang.san", "service"),
    principal("r-agent-product", "zhou.ba", "agent").of("product"),
    principal("r-head-product", "wu.jiu", "head").of("product"),
    principal("r-manager", "boss", "manager"),
    principal("r-auditor", "checker", "auditor"),
    principal("r-admin", "root", "admin"),
];

/// nats-server, cloop-intake and cloop-workflow; `workflow_settings` go into
/// `[workflow_service]`, `extra` after it.
fn start_cluster(workflow_settings: &str, extra: &str) -> TestCluster {
    TestCluster::builder()
        .prefix("cloop-reports-e2e-")
        .tokens(principals_file(PRINCIPALS))
        .config(format!(
            "[intake_service]\nnode_id = 5\nmaintenance_interval_ms = 200\n\n\
             [workflow_service]\ntimer_tick_ms = 100\nack_wait_secs = 5\nbackoff_ms = [100, 500]\n\
             {workflow_settings}\n\n[nats]\nrequest_timeout_ms = 3000\n\n{extra}\n"
        ))
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start()
}

/// Submits at intake; returns the ticket id.
async fn submit(cluster: &TestCluster, external_id: &str, content: &str, name: &str) -> String {
    let request = v1::SubmitRequest {
        channel: "web".into(),
        external_id: external_id.into(),
        content: content.into(),
        customer: Some(v1::Customer {
            customer_id: format!("c-{external_id}"),
            name: name.into(),
            phone: "13800138000".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    cluster.submit_as("r-adapter", request).await
}

async fn get_ticket(cluster: &TestCluster, ticket_id: &str) -> Option<v1::Ticket> {
    e2e::get_ticket(&mut cluster.tickets_connected().await, ticket_id, "r-admin").await
}

async fn events_of(cluster: &TestCluster, ticket_id: &str) -> Vec<String> {
    let events = cluster.events(ticket_id, "r-admin").await;
    events.into_iter().map(|event| event.event_type).collect()
}

async fn listed(cluster: &TestCluster, filter: v1::TicketFilter) -> Vec<String> {
    cluster
        .tickets_connected()
        .await
        .list_tickets(authorized(
            v1::ListTicketsRequest {
                filter: Some(filter),
                page_size: 500,
                page_token: String::new(),
                ..Default::default()
            },
            "r-admin",
        ))
        .await
        .expect("list")
        .into_inner()
        .tickets
        .into_iter()
        .map(|ticket| ticket.ticket_id)
        .collect()
}

async fn verify(cluster: &TestCluster, check_checkpoints: bool) -> v1::VerifyLogResponse {
    cluster
        .audit_connected()
        .await
        .verify_log(authorized(
            v1::VerifyLogRequest { check_checkpoints },
            "r-auditor",
        ))
        .await
        .expect("verify log")
        .into_inner()
}

fn step(ticket: &v1::Ticket) -> v1::Step {
    v1::Step::try_from(ticket.step).unwrap_or(v1::Step::Unspecified)
}

/// Commands on one ticket, each with a fresh command id; every one must succeed.
struct Driver {
    staff: Staff,
    ticket_id: String,
}

impl Driver {
    async fn new(cluster: &TestCluster, ticket_id: &str) -> Self {
        Self {
            staff: Staff::new(cluster.tickets_connected().await, "r-service"),
            ticket_id: ticket_id.to_owned(),
        }
    }

    /// The staff of the product department: its agent, or its head.
    fn product(&self, role: &str) -> Staff {
        self.staff.as_(&format!("r-{role}-product"))
    }

    /// Classifies as `kind` (product, low, local) and makes sure the product department
    /// handles it.
    async fn place(&mut self, kind: v1::Kind) -> v1::Ticket {
        let id = &self.ticket_id;
        let classified = self.staff.classify(id, kind, "read the text").await;
        let mut ticket = classified.expect("classify");
        if ticket.department != "product" || step(&ticket) != v1::Step::Handle {
            let reason = "the product department owns this";
            let dispatched = self.staff.dispatch(id, "product", reason).await;
            ticket = dispatched.expect("dispatch");
        }
        assert_eq!(step(&ticket), v1::Step::Handle);
        ticket
    }

    async fn acknowledge(&mut self) -> v1::Ticket {
        let mut agent = self.product("agent");
        let message = "我们已收到，正在处理";
        let answer = agent.acknowledge(&self.ticket_id, message).await;
        answer.expect("acknowledge")
    }

    /// Proposes `outcome`; an adoption is approved by the head.
    async fn solve(&mut self, outcome: v1::Outcome, text: &str) -> v1::Ticket {
        let mut agent = self.product("agent");
        if matches!(outcome, v1::Outcome::Adopted | v1::Outcome::Planned) {
            // A suggestion is evaluated before it is adopted or planned.
            let evaluated = agent.evaluate(&self.ticket_id, (4, 2, 4), "").await;
            evaluated.expect("evaluate");
        }
        let proposed = agent.propose(&self.ticket_id, outcome, text).await;
        let ticket = proposed.expect("propose");
        if !ticket.awaiting_approval {
            return ticket;
        }
        let mut head = self.product("head");
        head.approve(&self.ticket_id, "同意")
            .await
            .expect("approve")
    }

    async fn review(&mut self, satisfaction: u32) -> v1::Ticket {
        let comment = "客户回访";
        let reviewed = self
            .staff
            .review(&self.ticket_id, satisfaction, comment)
            .await;
        reviewed.expect("review")
    }

    async fn archive(&mut self) -> v1::Ticket {
        self.staff.archive(&self.ticket_id).await.expect("archive")
    }

    async fn note(&mut self, text: &str) -> v1::Ticket {
        self.staff
            .add_note(&self.ticket_id, text)
            .await
            .expect("note")
    }
}

/// Submits a ticket and waits until the workflow has it.
async fn received(cluster: &TestCluster, external_id: &str, content: &str, name: &str) -> String {
    let ticket_id = submit(cluster, external_id, content, name).await;
    cluster
        .wait_ticket(&ticket_id, "r-admin", WAIT, |_| true)
        .await;
    ticket_id
}

/// `GetTicketAt` of `ticket_id` at `at`, as the auditor.
async fn ticket_at(
    audit: &mut AuditClient<Channel>,
    ticket_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<v1::GetTicketAtResponse, tonic::Status> {
    let request = v1::GetTicketAtRequest {
        ticket_id: ticket_id.to_owned(),
        at: Some(proto::time::timestamp(at)),
    };
    audit
        .get_ticket_at(authorized(request, "r-auditor"))
        .await
        .map(tonic::Response::into_inner)
}

/// The next row of a followed `ReadEvents` stream, which must come within 20 s (`what` names
/// it when it does not).
async fn next_row(
    stream: &mut tonic::Streaming<v1::ReadEventsResponse>,
    what: &str,
) -> v1::LogEvent {
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .unwrap_or_else(|_| panic!("no {what} within 20 s"))
        .expect("stream open")
        .expect("a row")
        .event
        .expect("event")
}

fn share_of<'a>(shares: &'a [v1::CategoryShare], key: &str) -> Option<&'a v1::CategoryShare> {
    shares.iter().find(|share| share.key == key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_report_over_grpc_matches_the_driven_tickets_exactly() {
    let cluster = start_cluster("", "");
    // Four tickets: two complaints and a problem fixed and reviewed 5, 4 and (the problem)
    // not yet acknowledged; a suggestion adopted and reviewed 5.
    let complaint_one = received(&cluster, "m-1", "门店服务第一次的体验记录", "张三").await;
    let complaint_two = received(&cluster, "m-2", "门店服务第二次的体验记录", "李四").await;
    let suggestion = received(
        &cluster,
        "m-3",
        "希望增加夜间模式，联系我 13912345678 或 jo@example.com",
        "John",
    )
    .await;
    let problem = received(&cluster, "m-4", "第四条反馈记录", "王五").await;

    let mut driver = Driver::new(&cluster, &complaint_one).await;
    driver.place(v1::Kind::Complaint).await;
    driver.acknowledge().await;
    driver.solve(v1::Outcome::Fixed, "已处理").await;
    driver.review(5).await;
    let mut driver = Driver::new(&cluster, &complaint_two).await;
    driver.place(v1::Kind::Complaint).await;
    driver.acknowledge().await;
    driver.solve(v1::Outcome::Fixed, "已处理").await;
    driver.review(4).await;
    let mut driver = Driver::new(&cluster, &suggestion).await;
    driver.place(v1::Kind::Suggestion).await;
    driver.acknowledge().await;
    let adopted = driver
        .solve(v1::Outcome::Adopted, "下个版本上线夜间模式")
        .await;
    assert!(adopted.resolved_at.is_some(), "approved, so resolved");
    driver.review(5).await;
    let problem_ticket = Driver::new(&cluster, &problem)
        .await
        .place(v1::Kind::Problem)
        .await;
    let month = month_of(&problem_ticket);

    // Managers and admins only.
    for token in ["r-agent-product", "r-service", "r-auditor"] {
        let denied = monthly(&cluster, token, &month, None)
            .await
            .expect_err("only managers and admins");
        assert_eq!(denied.code(), Code::PermissionDenied, "{token}");
    }
    let bad = monthly(&cluster, "r-manager", "2026-13", None)
        .await
        .expect_err("no such month");
    assert_eq!(bad.code(), Code::InvalidArgument);

    let response = monthly(&cluster, "r-manager", &month, None)
        .await
        .expect("report");
    let report = response.report.clone().expect("report");
    assert_eq!(report.month, month);
    assert_eq!(report.tickets, 4);
    for (shares, key, count) in [
        (&report.by_kind, "complaint", 2),
        (&report.by_kind, "suggestion", 1),
        (&report.by_kind, "problem", 1),
        (&report.by_kind, "inquiry", 0),
        (&report.by_channel, "web", 4),
    ] {
        assert_eq!(share_of(shares, key).map(|s| s.count), Some(count), "{key}");
    }
    assert_eq!(
        share_of(&report.by_kind, "complaint").map(|s| s.share),
        Some(0.5)
    );
    let on_time = report.on_time.expect("on-time figures");
    assert_eq!(on_time.received, 4);
    assert_eq!(on_time.responded, 3);
    assert_eq!(on_time.responded_on_time, 3);
    assert_eq!(
        on_time.response_due,
        Some(3),
        "the problem's deadline is ahead"
    );
    assert_eq!(on_time.response_on_time_rate, 1.0);
    assert_eq!(on_time.resolved, 3);
    assert_eq!(on_time.resolved_on_time, 3);
    assert_eq!(on_time.resolution_due, Some(3));
    assert_eq!(on_time.resolution_rate, 0.75);
    let satisfaction = report.satisfaction.clone().expect("satisfaction");
    assert_eq!(satisfaction.reviews, 3);
    assert_eq!(satisfaction.mean, 14.0 / 3.0);
    assert_eq!(satisfaction.share_satisfied, 1.0);
    assert_eq!(report.satisfied_threshold, Some(4));
    assert!(!report.calendar_version.is_empty());
    assert_eq!(report.adopted_count, 1);
    assert_eq!(report.adopted_customers_told, 1, "reviewed after adoption");
    let product = report
        .departments
        .iter()
        .find(|kpi| kpi.department == "product")
        .expect("product department");
    assert_eq!(product.volume, 4);
    assert_eq!(product.response_due, Some(3));
    assert_eq!(
        report.log_position,
        verify(&cluster, false).await.head_position
    );

    // The report at its own position is the same report, byte for byte, every time.
    let bytes = response.encode_to_vec();
    let position = report.log_position;
    for _ in 0..2 {
        let again = monthly(&cluster, "r-admin", &month, Some(position))
            .await
            .expect("report at a position");
        assert_eq!(again.encode_to_vec(), bytes);
    }
    // Later, once the problem is acknowledged, the figures change; the past does not.
    Driver::new(&cluster, &problem).await.acknowledge().await;
    let later = monthly(&cluster, "r-manager", &month, None)
        .await
        .expect("later report");
    let later_report = later.report.clone().expect("report");
    assert!(later_report.log_position > position);
    assert_eq!(later_report.on_time.expect("on time").responded, 4);
    assert_ne!(later.encode_to_vec(), bytes);
    let still = monthly(&cluster, "r-manager", &month, Some(position))
        .await
        .expect("report at the earlier position");
    assert_eq!(still.encode_to_vec(), bytes, "the past does not change");
    let beyond = monthly(
        &cluster,
        "r-manager",
        &month,
        Some(later_report.log_position + 1_000),
    )
    .await
    .expect_err("past the head");
    assert_eq!(beyond.code(), Code::InvalidArgument);

    // The public list: anonymised, no contact data.
    let listed = &only_adopted(&cluster, "r-manager", 3_600, &suggestion).await;
    assert_eq!(listed.customer_display_name, "J**");
    assert!(listed.customer_told);
    assert!(
        !listed.content.contains("13912345678") && !listed.content.contains("jo@example.com"),
        "{}",
        listed.content
    );
    assert!(listed.content.contains("夜间模式"));

    // The CLI asks the service.
    let output = cluster.cloop(
        "r-manager",
        &["--json", "report", "monthly", "--month", &month],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the report as json");
    assert_eq!(json["tickets"], 4);
    assert_eq!(json["satisfaction"]["reviews"], 3);
    assert_eq!(json["on_time"]["response_due"], 4);
    assert_eq!(json["satisfied_threshold"], 4);
    let output = cluster.cloop(
        "r-manager",
        &[
            "--json",
            "report",
            "monthly",
            "--month",
            &month,
            "--at-position",
            &position.to_string(),
        ],
    );
    assert!(output.status.success());
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the report as json");
    assert_eq!(json["log_position"], position);
    assert_eq!(json["on_time"]["responded"], 3);
    let denied = cluster.cloop("r-agent-product", &["report", "monthly", "--month", &month]);
    assert!(!denied.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_events_follows_live_and_checkpoints_are_kept_published_and_verified() {
    let cluster = start_cluster("checkpoint_interval_secs = 1", "");
    let mut published = cluster.subscribe("ticket.events.checkpoint").await;
    let first = received(&cluster, "f-1", "第一条跟随记录", "赵六").await;

    // Agents may not read the log.
    let mut audit = cluster.audit_connected().await;
    let denied = read_from_start(&mut audit, "r-agent-product", false)
        .await
        .expect_err("auditors only");
    assert_eq!(denied.code(), Code::PermissionDenied);

    // Follow everything from the start, and one ticket's stream.
    let mut everything = read_from_start(&mut audit, "r-auditor", true)
        .await
        .expect("read events");
    let mut one_stream = audit
        .read_events(authorized(
            v1::ReadEventsRequest {
                from_position: 1,
                stream_id: Some(format!("ticket-{first}")),
                follow: true,
                ..Default::default()
            },
            "r-auditor",
        ))
        .await
        .expect("read one stream")
        .into_inner();

    // Rows appended after the call, while the followers read: notes on the first ticket and
    // new tickets, from a task of their own.
    let writer = {
        let mut driver = Driver::new(&cluster, &first).await;
        let intake_address = cluster.intake().address().to_owned();
        tokio::spawn(async move {
            driver.place(v1::Kind::Inquiry).await;
            for index in 0..20 {
                driver.note(&format!("跟进 {index}")).await;
            }
            let mut intake = IntakeClient::new(e2e::grpc::connect(&intake_address).await);
            for index in 0..5 {
                let mut request = e2e::web_submission(
                    &format!("f-more-{index}"),
                    &format!("跟随期间的新反馈 {index}"),
                );
                if let Some(customer) = request.customer.as_mut() {
                    customer.phone = "13800138001".into();
                }
                intake
                    .submit(authorized(request, "r-adapter"))
                    .await
                    .expect("submit");
            }
        })
    };
    writer.await.expect("writer task");
    let notes_done = get_ticket(&cluster, &first).await.expect("ticket");
    // Wait until the five new tickets are in the log too.
    let target = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let listed = listed(&cluster, v1::TicketFilter::default()).await;
            if listed.len() == 6 {
                break verify(&cluster, false).await.head_position;
            }
            assert!(Instant::now() < deadline, "the new tickets never arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let mut expected = 1;
    while expected <= target {
        let event = next_row(&mut everything, &format!("row {expected}")).await;
        assert_eq!(event.position, expected, "no gap and no repeat");
        expected += 1;
    }
    let mut version = 1;
    while version <= notes_done.version {
        let event = next_row(&mut one_stream, &format!("version {version}")).await;
        assert_eq!(event.stream_id, format!("ticket-{first}"));
        assert_eq!(event.version, version, "no gap and no repeat");
        version += 1;
    }
    // And one more row, appended after the followers caught up, arrives live.
    Driver::new(&cluster, &first).await.note("最后一条").await;
    let live = next_row(&mut one_stream, "the live row").await;
    assert_eq!(live.version, notes_done.version + 1);
    let live_all = next_row(&mut everything, "the live row").await;
    assert_eq!(live_all.position, live.position);
    assert_eq!(live_all.position, target + 1);
    drop(everything);
    drop(one_stream);

    // Checkpoints: kept in the file, published with their message id, verified.
    let head = verify(&cluster, false).await.head_position;
    let file = cluster.workflow().data_dir().join("checkpoints.jsonl");
    let kept_head = || {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|line| line["position"].as_u64())
            .max()
            .unwrap_or(0)
    };
    assert!(
        wait_until(Duration::from_secs(20), || kept_head() >= head),
        "no checkpoint of position {head} kept\n{}",
        cluster.workflow().log()
    );
    let message = tokio::time::timeout(Duration::from_secs(20), published.next())
        .await
        .expect("a checkpoint published")
        .expect("subscription open");
    let payload: serde_json::Value =
        serde_json::from_slice(&message.payload).expect("json payload");
    let position = payload["position"].as_u64().expect("position");
    assert_eq!(payload["hash"].as_str().map(str::len), Some(64));
    let headers = message.headers.expect("headers");
    assert_eq!(
        headers
            .get("Nats-Msg-Id")
            .map(|value| value.as_str().to_owned()),
        Some(format!("checkpoint-{position}"))
    );
    let verified = verify(&cluster, true).await;
    assert!(verified.ok, "{}", verified.problem);
    assert!(verified.checkpoints_checked >= 1);
    assert!(verified
        .last_matching_checkpoint
        .is_some_and(|kept| kept >= head));

    // A copy of the stopped service's database verifies with the offline tool (on
    // PostgreSQL: the database itself, with the kept checkpoints).
    let mut cluster = cluster;
    assert_eq!(
        cluster.workflow_mut().terminate(Duration::from_secs(20)),
        Some(0)
    );
    let mut verify = Process::new(bin_path("cloop"));
    verify.args(["log", "verify"]);
    match cluster.workflow().store_url() {
        Some(url) => {
            verify.args(["--store", url, "--checkpoints"]).arg(&file);
        }
        None => {
            let copy = cluster.dir.path().join("copy");
            std::fs::create_dir_all(&copy).expect("copy folder");
            copy_database(
                &cluster.workflow().data_dir().join("workflow.db"),
                &copy.join("workflow.db"),
            );
            verify.arg("--db").arg(copy.join("workflow.db"));
        }
    }
    let output = verify
        .env("HOME", cluster.dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run cloop log verify");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(kept_head(), head, "the last checkpoint is the final head");

    // A start with no new event keeps no new checkpoint (several intervals pass), and the
    // start does not complain about a NATS connection it is still making.
    let lines = || {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let before = lines();
    let workflow = cluster.workflow_mut();
    workflow.start_again();
    let address = workflow.address().to_owned();
    workflow.wait_listening(&address, Duration::from_secs(30));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(workflow.terminate(Duration::from_secs(20)), Some(0));
    assert_eq!(
        lines(),
        before,
        "a restart with no new events kept a checkpoint again"
    );
    assert!(
        !workflow.log().contains("nats is not connected"),
        "{}",
        workflow.log()
    );
}

/// Copies a SQLite database with its write-ahead log, if one is left.
fn copy_database(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copy the database");
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", from.display()));
        if side.exists() {
            std::fs::copy(&side, format!("{}{suffix}", to.display())).expect("copy side file");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_ticket_at_and_retention_expiry() {
    let cluster = start_cluster(
        "",
        "[retention]\narchived_seconds = 2\ncheck_interval_secs = 1\n",
    );
    let mut audit = cluster.audit_connected().await;
    let ticket_id = received(&cluster, "t-1", "时间旅行的记录", "钱七").await;
    let other = received(&cluster, "t-2", "保留中的另一条记录", "孙八").await;
    let before = chrono::Utc::now() - chrono::Duration::hours(1);

    // What GetTicket answered at several instants, then GetTicketAt at each.
    let mut seen = Vec::new();
    let mut driver = Driver::new(&cluster, &ticket_id).await;
    let mut remember = |ticket: Option<v1::Ticket>| {
        let at = chrono::Utc::now();
        seen.push((at, ticket.expect("ticket")));
    };
    remember(get_ticket(&cluster, &ticket_id).await);
    driver.place(v1::Kind::Problem).await;
    remember(get_ticket(&cluster, &ticket_id).await);
    driver.acknowledge().await;
    remember(get_ticket(&cluster, &ticket_id).await);
    driver.solve(v1::Outcome::Fixed, "已修复").await;
    remember(get_ticket(&cluster, &ticket_id).await);
    driver.review(5).await;
    let archived = driver.archive().await;
    remember(get_ticket(&cluster, &ticket_id).await);
    for (at, expected) in &seen {
        let answer = ticket_at(&mut audit, &ticket_id, *at)
            .await
            .expect("ticket at");
        assert_eq!(answer.ticket.as_ref(), Some(expected), "at {at}");
    }
    let not_yet = ticket_at(&mut audit, &ticket_id, before)
        .await
        .expect_err("the ticket did not exist an hour ago");
    assert_eq!(not_yet.code(), Code::NotFound);

    // Two seconds after archiving, the retention timer expires the archived ticket: it
    // leaves the lists and search; its history keeps every event, plus the expiry.
    assert_eq!(step(&archived), v1::Step::Archive);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = listed(&cluster, v1::TicketFilter::default()).await;
        if !listed.contains(&ticket_id) {
            assert!(listed.contains(&other), "open tickets stay listed");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the archived ticket never expired\n{}",
            cluster.workflow().log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let found = listed(
        &cluster,
        v1::TicketFilter {
            text: "时间旅行".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(found.is_empty(), "not found by search: {found:?}");
    let history = events_of(&cluster, &ticket_id).await;
    assert_eq!(history.first().map(String::as_str), Some("received"));
    for kind in ["classified", "acknowledged", "solution_proposed"] {
        assert!(
            history.iter().any(|seen| seen == kind),
            "{kind} in {history:?}"
        );
    }
    assert_eq!(
        history[history.len().saturating_sub(3)..],
        ["review_recorded", "archived", "retention_expired"],
        "every event kept, the expiry last: {history:?}"
    );
    assert_eq!(
        history.last().map(String::as_str),
        Some("retention_expired")
    );
    assert_eq!(
        history
            .iter()
            .filter(|kind| *kind == "retention_expired")
            .count(),
        1,
        "fired once"
    );
    let expired = get_ticket(&cluster, &ticket_id)
        .await
        .expect("still readable");
    assert!(
        expired.content.is_empty(),
        "content redacted in the projection"
    );
    let verified = verify(&cluster, false).await;
    assert!(verified.ok, "the log was not rewritten");
}
