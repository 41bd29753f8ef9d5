//! `feedback.v1.SelfService` without NATS: the status a customer may read, replies and ratings
//! recorded on their ticket, the same NOT_FOUND for an unknown ticket and wrong digits, and
//! the lockout after five wrong tries; the signed rating link in place of the digits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::Duration;
use domain::command::Command;
use domain::ids::{CommandId, TicketId, TicketIdGenerator};
use domain::types::{Actor, Outcome, Role, Step};
use domain::Rules;
use proto::v1;
use proto::v1::self_service_server::SelfService;
use service::ratelimit::{RateLimit, RateLimiter};
use std::sync::{Arc, Mutex};
use tonic::{Code, Request};
use workflow::clock::{Clock, TestClock};
use workflow::commands::Commands;
use workflow::grpc::SelfServiceService;
use workflow::metrics::WorkflowMetrics;

/// The rating links' key of these tests.
fn link_key() -> service::ratelink::LinkKey {
    service::ratelink::LinkKey::new(&[9u8; 32]).unwrap()
}

/// The phone on every ticket of these tests; its last 4 digits.
const PHONE: &str = "+86 138-0013-8000";
const DIGITS: &str = "8000";

struct Desk {
    _directory: tempfile::TempDir,
    log: eventlog::EventLog,
    vault: Arc<vault::Vault>,
    commands: Commands,
    rules: Arc<Rules>,
    clock: TestClock,
    ids: TicketIdGenerator,
    service: SelfServiceService,
}

impl Desk {
    fn new() -> Self {
        let directory = tempfile::tempdir().unwrap();
        let rules = Arc::new(Rules::defaults());
        let (path, vault, log) = support::open_sqlite(directory.path(), &rules);
        let clock = TestClock::new(support::start_instant());
        let readers = workflow::queries::Readers::new(&path);
        let commands = support::commands(
            &log,
            &readers,
            &rules,
            Arc::new(clock.clone()),
            &vault,
            WorkflowMetrics::new().unwrap(),
        );
        let service = SelfServiceService {
            commands: commands.clone(),
            readers,
            log: log.clone(),
            lockout: Arc::new(Mutex::new(Default::default())),
            limiter: Arc::new(RateLimiter::new()),
            limit: RateLimit::UNLIMITED,
            links: Some(link_key()),
        };
        Self {
            _directory: directory,
            log,
            vault,
            commands,
            rules,
            clock,
            ids: TicketIdGenerator::new(7),
            service,
        }
    }

    /// A ticket received now, with [`PHONE`] on it.
    async fn submit(&mut self, content: &str) -> TicketId {
        let now = self.clock.now();
        let ticket_id = self.ids.next(now);
        let submission = v1::Submission {
            channel: "web".into(),
            customer: Some(v1::Customer {
                name: "张三".into(),
                phone: PHONE.into(),
                email: "zhang@example.com".into(),
                ..Default::default()
            }),
            content: content.into(),
            ..Default::default()
        };
        let (_, requests) =
            support::sealed_receipt(&self.vault, &self.rules, &ticket_id, now, submission);
        for result in self.log.append_many(requests).await {
            result.unwrap();
        }
        ticket_id
    }

    async fn staff(&self, ticket_id: &TicketId, command: Command) -> domain::Ticket {
        let admin = Actor {
            principal: "admin".into(),
            role: Role::Admin,
            department: None,
        };
        let command_id = CommandId::parse(&uuid::Uuid::new_v4().to_string()).unwrap();
        self.commands
            .execute(&admin, ticket_id, &command_id, None, command)
            .await
            .unwrap()
    }

    /// Handles the ticket through to review.
    async fn to_review(&self, ticket_id: &TicketId) {
        self.staff(
            ticket_id,
            Command::ProposeSolution {
                outcome: Outcome::Fixed,
                text: "已补发".into(),
                reason: String::new(),
            },
        )
        .await;
        let ticket = self.commands.load(ticket_id).await.unwrap().unwrap();
        if ticket.step == Step::Handle {
            self.staff(
                ticket_id,
                Command::ApproveSolution {
                    approve: true,
                    comment: String::new(),
                },
            )
            .await;
        }
        let ticket = self.commands.load(ticket_id).await.unwrap().unwrap();
        assert_eq!(ticket.step, Step::Review);
    }

    async fn status(
        &self,
        ticket_id: &str,
        digits: &str,
    ) -> Result<v1::TicketStatus, tonic::Status> {
        self.service
            .get_status(Request::new(v1::GetStatusRequest {
                ticket_id: ticket_id.into(),
                digits: digits.into(),
                ..Default::default()
            }))
            .await
            .map(|response| response.into_inner().status.unwrap())
    }

    async fn reply(&self, ticket_id: &TicketId, text: &str) -> v1::TicketStatus {
        self.service
            .reply(Request::new(v1::ReplyRequest {
                ticket_id: ticket_id.to_string(),
                digits: DIGITS.into(),
                text: text.into(),
                command_id: String::new(),
            }))
            .await
            .unwrap()
            .into_inner()
            .status
            .unwrap()
    }

    async fn rate(
        &self,
        ticket_id: &TicketId,
        satisfaction: u32,
    ) -> Result<v1::TicketStatus, tonic::Status> {
        self.service
            .rate(Request::new(v1::RateRequest {
                ticket_id: ticket_id.to_string(),
                digits: DIGITS.into(),
                satisfaction,
                comment: "谢谢".into(),
                command_id: String::new(),
                ..Default::default()
            }))
            .await
            .map(|response| response.into_inner().status.unwrap())
    }
}

#[tokio::test]
async fn the_status_shows_the_step_times_and_customer_notes_never_the_phone_or_staff_notes() {
    let mut desk = Desk::new();
    let ticket_id = desk.submit("快递延误三天了，还没收到").await;
    let ticket = desk.commands.load(&ticket_id).await.unwrap().unwrap();
    desk.staff(
        &ticket_id,
        Command::AddNote {
            text: "内部：客户语气激动".into(),
            to_customer: false,
        },
    )
    .await;
    desk.staff(
        &ticket_id,
        Command::AddNote {
            text: "您好，我们正在联系快递公司".into(),
            to_customer: true,
        },
    )
    .await;
    let status = desk.status(&ticket_id.to_string(), DIGITS).await.unwrap();
    assert_eq!(status.ticket_id, ticket_id.to_string());
    assert_eq!(status.step, v1::Step::from(ticket.step) as i32);
    assert!(status.resolve_by.is_some(), "the expected time");
    assert_eq!(status.notes.len(), 1, "{status:?}");
    assert_eq!(status.notes[0].text, "您好，我们正在联系快递公司");
    assert!(!status.notes[0].from_customer);
    let shown = format!("{status:?}");
    for secret in ["138", "8000", "zhang@", "张三", "内部"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(status.may_reply);
    assert!(!status.may_rate);
}

#[tokio::test]
async fn an_unknown_ticket_and_wrong_digits_get_the_same_not_found() {
    let mut desk = Desk::new();
    let ticket_id = desk.submit("屏幕有坏点").await;
    let wrong = desk
        .status(&ticket_id.to_string(), "0000")
        .await
        .unwrap_err();
    let unknown_id = desk.ids.next(desk.clock.now());
    let unknown = desk
        .status(&unknown_id.to_string(), DIGITS)
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::NotFound);
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(
        wrong.message().replace(&ticket_id.to_string(), "T"),
        unknown.message().replace(&unknown_id.to_string(), "T"),
    );
    assert!(!wrong.message().contains("0000"), "{wrong:?}");
    let malformed = desk
        .status(&ticket_id.to_string(), "12a4")
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert_eq!(
        service::status::field_of(&malformed).as_deref(),
        Some("digits")
    );
}

#[tokio::test]
async fn five_wrong_tries_lock_the_ticket_for_fifteen_minutes_even_for_the_right_digits() {
    let mut desk = Desk::new();
    let ticket_id = desk.submit("包装破损").await;
    let other = desk.submit("发票开错").await;
    for wrong in ["0001", "0002", "0003", "0004", "0005"] {
        let refused = desk
            .status(&ticket_id.to_string(), wrong)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::NotFound);
    }
    let locked = desk
        .status(&ticket_id.to_string(), DIGITS)
        .await
        .unwrap_err();
    assert_eq!(locked.code(), Code::NotFound, "the sixth try, right digits");
    assert!(
        desk.status(&other.to_string(), DIGITS).await.is_ok(),
        "another ticket is not locked"
    );
    desk.clock.advance(Duration::minutes(14));
    assert!(desk.status(&ticket_id.to_string(), DIGITS).await.is_err());
    desk.clock.advance(Duration::minutes(2));
    assert!(desk.status(&ticket_id.to_string(), DIGITS).await.is_ok());
}

#[tokio::test]
async fn a_reply_is_the_customers_reply_on_the_same_ticket() {
    let mut desk = Desk::new();
    let ticket_id = desk.submit("快递延误").await;
    let head = desk.log.head().position;
    let status = desk.reply(&ticket_id, "单号是 SF123，请尽快").await;
    assert_eq!(status.notes.len(), 1);
    assert!(status.notes[0].from_customer);
    assert_eq!(status.notes[0].text, "单号是 SF123，请尽快");
    let rows = desk
        .log
        .read_stream(&ticket_id.stream_id(), 0)
        .await
        .unwrap();
    let last = rows.last().unwrap();
    assert_eq!(last.event_type, "customer_replied");
    assert!(
        last.payload_json.contains("status_page"),
        "{}",
        last.payload_json
    );
    assert!(
        last.actor_json.contains("\"customer\""),
        "{}",
        last.actor_json
    );
    assert_eq!(
        desk.log.head().position,
        head + 1,
        "one event, no new ticket"
    );
}

#[tokio::test]
async fn a_low_rating_in_review_reopens_and_a_good_one_is_the_review() {
    let mut desk = Desk::new();
    let unhappy = desk.submit("APP卡顿，打开很慢").await;
    let refused = desk.rate(&unhappy, 5).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Code::FailedPrecondition,
        "not in review yet"
    );
    desk.to_review(&unhappy).await;
    let status = desk.status(&unhappy.to_string(), DIGITS).await.unwrap();
    assert!(status.may_rate);
    assert_eq!(status.solution, "已补发");
    let out_of_range = desk.rate(&unhappy, 6).await.unwrap_err();
    assert_eq!(out_of_range.code(), Code::InvalidArgument);
    let reopened = desk.rate(&unhappy, 1).await.unwrap();
    assert_eq!(reopened.round, 2);
    assert_eq!(reopened.step, v1::Step::Handle as i32);

    let happy = desk.submit("APP卡顿，打开很慢，经常闪退").await;
    desk.to_review(&happy).await;
    let rated = desk.rate(&happy, 5).await.unwrap();
    assert_eq!(rated.satisfaction, 5);
    assert!(!rated.may_rate);
    let ticket = desk.staff(&happy, Command::Archive).await;
    assert_eq!(ticket.step, Step::Archive);
    let archived = desk.status(&happy.to_string(), DIGITS).await.unwrap();
    assert!(!archived.may_reply);
    let refused = desk
        .service
        .reply(Request::new(v1::ReplyRequest {
            ticket_id: happy.to_string(),
            digits: DIGITS.into(),
            text: "thanks".into(),
            command_id: String::new(),
        }))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::FailedPrecondition,
        "no reply form once archived"
    );
}

impl Desk {
    /// The rating link's token of `ticket_id`, asked for now and good for 14 days.
    fn link(&self, ticket_id: &TicketId) -> String {
        let expires = service::ratelink::expiry(self.clock.now(), Duration::days(14));
        link_key().token(
            &ticket_id.to_string(),
            "0195f3a2-7c41-7d2e-9a10-3b5c7d9e1f20",
            expires,
        )
    }

    async fn status_by_link(
        &self,
        ticket_id: &TicketId,
        token: &str,
    ) -> Result<v1::TicketStatus, tonic::Status> {
        self.service
            .get_status(Request::new(v1::GetStatusRequest {
                ticket_id: ticket_id.to_string(),
                link_token: token.into(),
                ..Default::default()
            }))
            .await
            .map(|response| response.into_inner().status.unwrap())
    }

    async fn rate_by_link(
        &self,
        ticket_id: &TicketId,
        token: &str,
        satisfaction: u32,
    ) -> Result<v1::TicketStatus, tonic::Status> {
        self.service
            .rate(Request::new(v1::RateRequest {
                ticket_id: ticket_id.to_string(),
                link_token: token.into(),
                satisfaction,
                ..Default::default()
            }))
            .await
            .map(|response| response.into_inner().status.unwrap())
    }
}

#[tokio::test]
async fn a_rating_links_token_proves_its_ticket_until_it_expires() {
    let mut desk = Desk::new();
    let happy = desk.submit("APP卡顿，打开很慢").await;
    let unhappy = desk.submit("APP卡顿，打开很慢，经常闪退").await;
    desk.to_review(&happy).await;
    desk.to_review(&unhappy).await;
    let token = desk.link(&happy);
    let status = desk.status_by_link(&happy, &token).await.unwrap();
    assert!(status.may_rate);
    assert_eq!(status.language, v1::Language::Zh as i32);
    // The token of one ticket proves no other, and a changed one proves nothing.
    let other = desk.status_by_link(&unhappy, &token).await.unwrap_err();
    assert_eq!(other.code(), Code::NotFound);
    let tampered = token.replacen('.', "9.", 1);
    let refused = desk.rate_by_link(&happy, &tampered, 5).await.unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    let rated = desk.rate_by_link(&happy, &token, 5).await.unwrap();
    assert_eq!(rated.satisfaction, 5);
    let reopened = desk
        .rate_by_link(&unhappy, &desk.link(&unhappy), 1)
        .await
        .unwrap();
    assert_eq!(
        (reopened.round, reopened.step),
        (2, v1::Step::Handle as i32)
    );
    // After the link's 14 days, the same NOT_FOUND as wrong digits.
    desk.clock.advance(Duration::days(15));
    let expired = desk.status_by_link(&happy, &token).await.unwrap_err();
    let wrong = desk.status(&happy.to_string(), "0000").await.unwrap_err();
    assert_eq!(expired.code(), Code::NotFound);
    assert_eq!(expired.message(), wrong.message());
}

#[tokio::test]
async fn bad_link_tokens_count_towards_the_lockout() {
    let mut desk = Desk::new();
    let ticket_id = desk.submit("包装破损").await;
    let token = desk.link(&ticket_id);
    for bad in ["1.2.3", "garbage", "0.x.00", "x", "y"] {
        let refused = desk.status_by_link(&ticket_id, bad).await.unwrap_err();
        assert_eq!(refused.code(), Code::NotFound, "{bad}");
    }
    let locked = desk.status_by_link(&ticket_id, &token).await.unwrap_err();
    assert_eq!(locked.code(), Code::NotFound, "locked: even the good link");
    assert!(desk.status(&ticket_id.to_string(), DIGITS).await.is_err());
    desk.clock.advance(Duration::minutes(16));
    assert!(desk.status_by_link(&ticket_id, &token).await.is_ok());
}
