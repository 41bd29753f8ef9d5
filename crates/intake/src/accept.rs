//! The one code path every submission takes, whatever its transport (gRPC unary, gRPC stream,
//! NATS request): validate and normalise, give ids, classify provisionally, compute deadlines
//! and the notice, write to the outbox, answer.

use crate::contacts::{self, ContactKey};
use crate::convert;
use crate::error::IntakeError;
use crate::metrics::IntakeMetrics;
use crate::outbox::{AcceptOutcome, KeyKind, Outbox, OutboxRecord};
use chrono::{DateTime, Utc};
use domain::ids::{FeedbackId, TicketId, TicketIdGenerator};
use domain::rules::config::Language;
use domain::rules::Rules;
use domain::submission::{cannot_be_told_notice, Submission, SubmissionInput};
use domain::types::Policy;
use domain::DomainError;
use prost::Message;
use proto::v1;
use service::Failure;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The intake core: shared by the gRPC service and the NATS listener.
#[derive(Debug)]
pub struct Intake {
    rules: Arc<Rules>,
    outbox: Outbox,
    ticket_ids: Mutex<TicketIdGenerator>,
    node_id: u16,
    accept_timeout: Duration,
    metrics: IntakeMetrics,
    /// The key of the contact hashes that check replies (`crate::contacts`).
    contact_key: ContactKey,
}

impl Intake {
    pub fn new(
        rules: Arc<Rules>,
        outbox: Outbox,
        node_id: u16,
        accept_timeout: Duration,
        metrics: IntakeMetrics,
    ) -> Self {
        Self::with_contact_key(
            rules,
            outbox,
            node_id,
            (accept_timeout, metrics),
            ContactKey::random(),
        )
    }

    /// [`Intake::new`] with the contact key of the data folder, which replies are checked
    /// with across restarts.
    pub fn with_contact_key(
        rules: Arc<Rules>,
        outbox: Outbox,
        node_id: u16,
        (accept_timeout, metrics): (Duration, IntakeMetrics),
        contact_key: ContactKey,
    ) -> Self {
        // Ticket numbers carry the date of the business calendar's zone (docs/intake.md).
        let ticket_ids = TicketIdGenerator::new(node_id).dated_in(rules.calendar().offset());
        Self {
            rules,
            outbox,
            ticket_ids: Mutex::new(ticket_ids),
            node_id,
            accept_timeout,
            metrics,
            contact_key,
        }
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn metrics(&self) -> &IntakeMetrics {
        &self.metrics
    }

    /// Handles one submission received now.
    pub async fn submit(&self, request: v1::SubmitRequest) -> Result<v1::SubmitResponse, Failure> {
        self.submit_at(request, crate::failpoints::now()).await
    }

    /// Handles one submission received at `now` (the clock is an argument for tests).
    pub async fn submit_at(
        &self,
        request: v1::SubmitRequest,
        now: DateTime<Utc>,
    ) -> Result<v1::SubmitResponse, Failure> {
        let result = self.submit_inner(&request, now).await;
        let channel = self.channel_label(&request.channel);
        let label = match &result {
            Ok(response) if response.duplicate => "duplicate",
            Ok(_) => "accepted",
            Err(Failure::Domain(DomainError::Invalid { .. })) => "invalid",
            Err(_) => "unavailable",
        };
        self.metrics.count_submission(channel, label);
        match &result {
            Ok(response) => tracing::debug!(
                ticket_id = %response.ticket_id,
                feedback_id = %response.feedback_id,
                channel,
                duplicate = response.duplicate,
                "submission answered"
            ),
            Err(Failure::Domain(DomainError::Invalid { field, .. })) => {
                tracing::debug!(channel, field = %field, "submission refused")
            }
            Err(failure) => tracing::warn!(channel, ?failure, "submission failed"),
        }
        result
    }

    /// A bounded label for metrics: the configured channel, or "unknown".
    fn channel_label<'a>(&'a self, channel: &str) -> &'a str {
        let trimmed = channel.trim();
        self.rules
            .channels()
            .iter()
            .find(|configured| configured.eq_ignore_ascii_case(trimmed))
            .map_or("unknown", String::as_str)
    }

    async fn submit_inner(
        &self,
        request: &v1::SubmitRequest,
        now: DateTime<Utc>,
    ) -> Result<v1::SubmitResponse, Failure> {
        let (submission, language) = self.parse(request, now)?;
        let reply_to = self.reply_target(request, &submission).await?;
        let prepared = self.prepare(submission, language, reply_to, now)?;
        let outcome = self
            .outbox
            .accept(prepared.record, self.accept_timeout)
            .await
            .map_err(IntakeError::into_failure)?;
        match outcome {
            AcceptOutcome::Accepted { .. } => Ok(prepared.response),
            AcceptOutcome::Duplicate { response } => {
                let mut first =
                    v1::SubmitResponse::decode(response.as_slice()).map_err(|error| {
                        Failure::Internal(format!("stored answer does not decode: {error}"))
                    })?;
                first.duplicate = true;
                Ok(first)
            }
        }
    }

    /// Validates and normalises the request.
    fn parse(
        &self,
        request: &v1::SubmitRequest,
        now: DateTime<Utc>,
    ) -> Result<(Submission, Language), Failure> {
        let config = self.rules.config();
        let input: SubmissionInput = convert::submission_input(request)?;
        let language = convert::language_from(request.language)?
            .unwrap_or_else(|| self.rules.notices().default_language());
        let submission = Submission::parse(&input, &config.limits, &config.channels, now)?;
        Ok((submission, language))
    }

    /// The ticket a reply is for: `reply_to_ticket_id`, checked against the contacts kept for
    /// that ticket (NOT_FOUND for a stranger and for a ticket this intake does not know, in
    /// the same words), or the ticket number in an e-mail's subject when its sender is that
    /// ticket's customer (a new ticket otherwise). `None` for a new ticket.
    async fn reply_target(
        &self,
        request: &v1::SubmitRequest,
        submission: &Submission,
    ) -> Result<Option<TicketId>, Failure> {
        let named = request.reply_to_ticket_id.trim();
        let hashes = self.contact_key.hashes(&submission.customer);
        if !named.is_empty() {
            let ticket_id = TicketId::parse(named).map_err(|error| match error {
                DomainError::Invalid { reason, .. } => {
                    DomainError::invalid("reply_to_ticket_id", reason)
                }
                other => other,
            })?;
            return if self.owns(&ticket_id, hashes).await? {
                Ok(Some(ticket_id))
            } else {
                Err(DomainError::NotFound {
                    ticket_id: ticket_id.as_str().to_owned(),
                }
                .into())
            };
        }
        if submission.channel.as_str() != contacts::EMAIL_CHANNEL {
            return Ok(None);
        }
        let Some(ticket_id) = submission
            .attributes
            .as_map()
            .get(contacts::SUBJECT_ATTRIBUTE)
            .and_then(|subject| contacts::ticket_in_subject(subject))
        else {
            return Ok(None);
        };
        Ok(self.owns(&ticket_id, hashes).await?.then_some(ticket_id))
    }

    async fn owns(&self, ticket_id: &TicketId, hashes: Vec<Vec<u8>>) -> Result<bool, Failure> {
        self.outbox
            .ticket_has_contact(ticket_id.as_str().to_owned(), hashes)
            .await
            .map_err(IntakeError::into_failure)
    }

    /// Everything up to the outbox write: pure apart from the id generator.
    fn prepare(
        &self,
        submission: Submission,
        language: Language,
        reply_to: Option<TicketId>,
        now: DateTime<Utc>,
    ) -> Result<Prepared, Failure> {
        let dedupe_key = submission.idempotency_key();
        let key_kind = if submission.external_id.is_some() {
            KeyKind::External
        } else {
            KeyKind::Content
        };
        // Only the values matter here (for the first deadlines): the workflow records the
        // terms when it receives the ticket.
        let classification = self
            .rules
            .classifier()
            .classify_keywords(submission.content.as_str(), submission.product.as_deref());
        let deadlines = self.rules.deadlines(now, &classification);
        let ticket_id = match &reply_to {
            Some(ticket_id) => ticket_id.clone(),
            None => {
                let mut generator = self
                    .ticket_ids
                    .lock()
                    .map_err(|_| Failure::Internal("ticket id generator poisoned".into()))?;
                generator.next(now)
            }
        };
        let feedback_id = FeedbackId::new(now, rand::random::<[u8; 10]>());
        let ticket_text = ticket_id.as_str().to_owned();
        let feedback_text = feedback_id.to_string();
        let cannot_be_told = !submission.customer.can_be_told();
        let reply = reply_to.is_some();
        let mut notice = if reply_to.is_some() {
            reply_notice(language, &ticket_text)
        } else {
            self.rules
                .receipt_notice(Some(language), &ticket_text, now, &deadlines)
        };
        if cannot_be_told {
            notice.push(if language == Language::En { ' ' } else { '\n' });
            notice.push_str(cannot_be_told_notice(language));
        }
        let received = v1::FeedbackReceived {
            feedback_id: feedback_text.clone(),
            ticket_id: ticket_text.clone(),
            received_at: Some(convert::timestamp(now)),
            submission: Some(v1::Submission {
                reply_to_ticket_id: reply_to
                    .as_ref()
                    .map(|ticket_id| ticket_id.as_str().to_owned())
                    .unwrap_or_default(),
                ..convert::submission_message(&submission, &dedupe_key, language)
            }),
            classification: Some(convert::classification_message(&classification)),
            deadlines: Some(convert::deadlines_message(&deadlines)),
            config_version: self.rules.version(),
            node_id: u32::from(self.node_id),
        };
        let response = v1::SubmitResponse {
            ticket_id: ticket_text.clone(),
            feedback_id: feedback_text.clone(),
            duplicate: false,
            received_at: Some(convert::timestamp(now)),
            respond_by: Some(convert::timestamp(deadlines.respond_by)).filter(|_| !reply),
            resolve_by: Some(convert::timestamp(deadlines.resolve_by)).filter(|_| !reply),
            notice,
            priority: if reply {
                0
            } else {
                v1::Priority::from(classification.priority) as i32
            },
            cannot_be_told,
            reply,
        };
        let record = OutboxRecord {
            feedback_id: feedback_text,
            ticket_id: ticket_text,
            subject: format!(
                "{}.{}",
                proto::RECEIVED_SUBJECT_PREFIX,
                submission.channel.as_str()
            ),
            payload: received.encode_to_vec(),
            received_at_ms: now.timestamp_millis(),
            idempotency_key: dedupe_key,
            key_kind,
            response: response.encode_to_vec(),
            contact_hashes: if reply {
                Vec::new()
            } else {
                self.contact_key.hashes(&submission.customer)
            },
        };
        Ok(Prepared { record, response })
    }
}

/// What a customer is told when their submission was added to their ticket as a reply.
fn reply_notice(language: Language, ticket_id: &str) -> String {
    match language {
        Language::En => {
            format!("Your reply was added to ticket {ticket_id}; we will get back to you.")
        }
        _ => format!("您的回复已记入工单 {ticket_id}，我们会尽快处理。"),
    }
}

struct Prepared {
    record: OutboxRecord,
    response: v1::SubmitResponse,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::OutboxOptions;
    use service::status_from;

    fn intake(dir: &tempfile::TempDir) -> Intake {
        let outbox = Outbox::open(&dir.path().join("outbox.db"), OutboxOptions::default())
            .expect("open outbox");
        Intake::new(
            Arc::new(Rules::defaults()),
            outbox,
            3,
            Duration::from_secs(5),
            IntakeMetrics::new().expect("metrics"),
        )
    }

    fn request() -> v1::SubmitRequest {
        v1::SubmitRequest {
            channel: "web".into(),
            external_id: "form-1".into(),
            customer: Some(v1::Customer {
                phone: "138 0013 8000".into(),
                email: "Li@Example.COM".into(),
                ..Default::default()
            }),
            content: "  APP卡顿，打开很慢  ".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_submission_gets_a_ticket_deadlines_and_a_notice() {
        let dir = tempfile::tempdir().expect("temp dir");
        let intake = intake(&dir);
        let now = Utc::now();
        let response = intake.submit_at(request(), now).await.expect("accepted");
        assert!(!response.duplicate);
        let ticket = domain::ids::TicketId::parse(&response.ticket_id).expect("valid ticket id");
        assert_eq!(ticket.node(), 3);
        assert!(
            response.notice.contains(&response.ticket_id),
            "{}",
            response.notice
        );
        let respond_by = response.respond_by.expect("respond_by");
        let resolve_by = response.resolve_by.expect("resolve_by");
        assert!(respond_by.seconds > now.timestamp());
        assert!(resolve_by.seconds >= respond_by.seconds);

        let rows = intake.outbox().load_pending(0, 10).await.expect("rows");
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].subject, "feedback.received.web");
        let received = v1::FeedbackReceived::decode(&rows[0].payload[..]).expect("decodes");
        assert_eq!(received.feedback_id, response.feedback_id);
        let submission = received.submission.expect("submission");
        assert_eq!(submission.content, "APP卡顿，打开很慢");
        let customer = submission.customer.expect("customer");
        assert_eq!(customer.phone, "+8613800138000");
        assert_eq!(customer.email, "Li@example.com");
        assert_eq!(submission.dedupe_key, "web:form-1");
    }

    #[tokio::test]
    async fn anonymous_feedback_is_accepted_and_the_receipt_says_nobody_will_be_told() {
        let dir = tempfile::tempdir().expect("temp dir");
        let intake = intake(&dir);
        let told = intake.submit(request()).await.expect("accepted");
        assert!(!told.cannot_be_told);
        let mut anonymous = request();
        anonymous.external_id = "comment-book-1".into();
        anonymous.customer = None;
        let response = intake
            .submit(anonymous)
            .await
            .expect("anonymous is accepted");
        assert!(response.cannot_be_told);
        assert!(response.notice.contains(&response.ticket_id));
        assert!(
            response.notice.contains("没有留下联系方式"),
            "{}",
            response.notice
        );
        // A name alone is no contact either, and is not kept.
        let mut named = request();
        named.external_id = "comment-book-2".into();
        named.customer = Some(v1::Customer {
            name: "张三".into(),
            ..Default::default()
        });
        let response = intake.submit(named).await.expect("accepted");
        assert!(response.cannot_be_told);
        let rows = intake.outbox().load_pending(0, 10).await.expect("rows");
        let last = rows.last().expect("a row");
        let received = v1::FeedbackReceived::decode(&last.payload[..]).expect("decodes");
        let customer = received
            .submission
            .expect("submission")
            .customer
            .unwrap_or_default();
        assert_eq!(customer, v1::Customer::default());
    }

    #[tokio::test]
    async fn english_notices_on_request() {
        let dir = tempfile::tempdir().expect("temp dir");
        let intake = intake(&dir);
        let mut english = request();
        english.language = v1::Language::En as i32;
        english.external_id = "form-en".into();
        let response = intake.submit(english).await.expect("accepted");
        let chinese = intake.submit(request()).await.expect("accepted");
        assert_ne!(response.notice, chinese.notice);
        assert!(response.notice.is_ascii() || response.notice.contains(&response.ticket_id));
    }

    #[tokio::test]
    async fn a_repeat_returns_the_first_answer_marked_duplicate() {
        let dir = tempfile::tempdir().expect("temp dir");
        let intake = intake(&dir);
        let first = intake.submit(request()).await.expect("accepted");
        let mut changed = request();
        changed.content = "something else entirely".into();
        let second = intake.submit(changed).await.expect("duplicate");
        assert!(second.duplicate);
        assert_eq!(second.ticket_id, first.ticket_id);
        assert_eq!(second.feedback_id, first.feedback_id);
        assert_eq!(second.notice, first.notice);
        assert_eq!(
            intake
                .outbox()
                .load_pending(0, 10)
                .await
                .expect("rows")
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn without_external_id_a_retry_within_the_window_is_one_ticket() {
        let dir = tempfile::tempdir().expect("temp dir");
        let intake = intake(&dir);
        let mut anonymous = request();
        anonymous.external_id = String::new();
        let now = Utc::now();
        let first = intake
            .submit_at(anonymous.clone(), now)
            .await
            .expect("accepted");
        let retry = intake
            .submit_at(anonymous.clone(), now + chrono::TimeDelta::minutes(5))
            .await
            .expect("duplicate");
        assert!(retry.duplicate);
        assert_eq!(retry.ticket_id, first.ticket_id);
        let window = intake.rules().config().limits.dedupe_window_hours;
        let later = intake
            .submit_at(
                anonymous,
                now + chrono::TimeDelta::hours(i64::try_from(window).expect("small") + 1),
            )
            .await
            .expect("accepted");
        assert!(!later.duplicate);
        assert_ne!(later.ticket_id, first.ticket_id);
    }

    #[tokio::test]
    async fn bad_input_is_refused_naming_the_field_and_writes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let intake = intake(&dir);
        let mut cases: Vec<(v1::SubmitRequest, &str)> = Vec::new();
        let mut unknown_channel = request();
        unknown_channel.channel = "fax".into();
        cases.push((unknown_channel, "channel"));
        let mut blank = request();
        blank.content = " \n\t ".into();
        cases.push((blank, "content"));
        let mut long = request();
        long.content = "长".repeat(10_001);
        cases.push((long, "content"));
        let mut bad_phone = request();
        bad_phone.customer = Some(v1::Customer {
            phone: "12345".into(),
            ..Default::default()
        });
        cases.push((bad_phone, "customer.phone"));
        let mut future = request();
        future.occurred_at = Some(convert::timestamp(Utc::now() + chrono::TimeDelta::days(1)));
        cases.push((future, "occurred_at"));
        let mut language = request();
        language.language = 99;
        cases.push((language, "language"));
        for (case, field) in cases {
            let failure = intake.submit(case).await.expect_err("refused");
            let status = status_from(failure);
            assert_eq!(status.code(), tonic::Code::InvalidArgument);
            assert_eq!(
                service::status::field_of(&status).as_deref(),
                Some(field),
                "{status:?}"
            );
        }
        assert!(intake
            .outbox()
            .load_pending(0, 10)
            .await
            .expect("rows")
            .is_empty());
    }
}
