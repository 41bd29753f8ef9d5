//! The durable JetStream pull consumer on FEEDBACK: each `FeedbackReceived` becomes the first
//! events of its ticket (received, and classified and dispatched where the rules are
//! confident), many messages per transaction. A message is acked only after its transaction
//! committed. The first event's id derives from the feedback id, so a redelivered or
//! duplicated message changes nothing, however late it comes. A message that can never be
//! recorded goes to the dead-letter subject with the reason, is acked and counted.
//!
//! Personal data is sealed before it reaches the log: the `customer` of every `received`
//! event, and the customer's own words (its content, terms, order id and attributes, the
//! terms of the `classified` event beside it), are encrypted under the customer's key from
//! the key store (`crates/vault`), the
//! batch's new keys committed in one transaction first. A message whose ticket is already in
//! the log is answered as a duplicate before any sealing, so a redelivery after an erasure
//! never makes a new key for the erased customer.

use crate::clock::Clock;
use crate::config::WorkflowSettings;
use crate::metrics::WorkflowMetrics;
use crate::publisher;
pub use crate::record::feedback_event_id;
use crate::record::{self, Provenance};
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, AckKind};
use chrono::{DateTime, Utc};
use domain::classifier::placement::{Placer, WithModel};
use domain::command::Submission;
use domain::ids::{EventId, FeedbackId, TicketId};
use domain::ticket::{Customer, Ticket};
use domain::types::Actor;
use domain::Rules;
use eventlog::{AppendRequest, EventLog, ExpectedVersion, LogError};
use prost::Message as _;
use proto::v1;
use service::config::NatsConfig;
use service::nats::ConnectionFlag;
use service::shutdown::Shutdown;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use vault::{CustomerRef, Vault, VaultError};

/// The header of a dead letter that says why it could not be recorded.
pub const DEAD_LETTER_REASON_HEADER: &str = "Cloop-Dead-Letter-Reason";
/// The header of a dead letter that names the subject it came from.
pub const DEAD_LETTER_SUBJECT_HEADER: &str = "Cloop-Original-Subject";
/// The header of a dead letter with its FEEDBACK stream sequence.
pub const DEAD_LETTER_SEQUENCE_HEADER: &str = "Cloop-Stream-Sequence";

fn present(text: &str) -> Option<String> {
    crate::grpc::convert::unless_blank(text).map(str::to_owned)
}

fn instant(field: &str, timestamp: &prost_types::Timestamp) -> Result<DateTime<Utc>, String> {
    proto::time::instant(timestamp)
        .map_err(|error| format!("{field} is not a valid timestamp: {error}"))
}

/// Reads a `FeedbackReceived` message as the submission the aggregate records.
pub fn submission_from_message(payload: &[u8]) -> Result<Submission, String> {
    let message = v1::FeedbackReceived::decode(payload)
        .map_err(|error| format!("not a FeedbackReceived message: {error}"))?;
    let feedback_id = FeedbackId::parse(&message.feedback_id).map_err(|error| error.to_string())?;
    let ticket_id = TicketId::parse(&message.ticket_id).map_err(|error| error.to_string())?;
    let received_at = instant(
        "received_at",
        message
            .received_at
            .as_ref()
            .ok_or("received_at is missing")?,
    )?;
    let submission = message.submission.ok_or("submission is missing")?;
    let customer = submission.customer.unwrap_or_default();
    let occurred_at = submission
        .occurred_at
        .as_ref()
        .map(|timestamp| instant("occurred_at", timestamp))
        .transpose()?;
    Ok(Submission {
        feedback_id,
        ticket_id,
        channel: submission.channel,
        external_id: present(&submission.external_id),
        customer: Customer {
            customer_id: present(&customer.customer_id),
            name: present(&customer.name),
            phone: present(&customer.phone),
            email: present(&customer.email),
            wechat_openid: present(&customer.wechat_openid),
        },
        content: submission.content,
        occurred_at,
        received_at,
        product: present(&submission.product),
        order_id: present(&submission.order_id),
        attributes: submission
            .attributes
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        language: v1::Language::try_from(submission.language)
            .ok()
            .and_then(v1::Language::to_domain),
    })
}

/// The append request that records one message, or why it can never be recorded.
pub fn receive_request(
    payload: &[u8],
    now: DateTime<Utc>,
    rules: &Rules,
) -> Result<(AppendRequest, EventId), String> {
    receive_submission(submission_from_message(payload)?, now, rules, None, false)
}

/// The append request that records a submission as a new ticket, classified by the rules and
/// the trained classifier (`placer`, which classifies or suggests a classification for what
/// the rules cannot place); for a customer known to be a VIP when `vip` (`crate::vip`), the
/// first deadlines take the `[sla.vip]` row.
pub fn receive_submission(
    submission: Submission,
    now: DateTime<Utc>,
    rules: &Rules,
    placer: Option<&Placer>,
    vip: bool,
) -> Result<(AppendRequest, EventId), String> {
    let events = domain::decide_receipt(
        &Ticket::default(),
        &submission,
        vip,
        now,
        &WithModel { rules, placer },
    )
    .map_err(|error| error.to_string())?;
    let feedback_id = submission.feedback_id;
    let provenance = Provenance {
        actor: Actor::system("cloop-workflow/consumer"),
        correlation_id: Some(feedback_id.to_string()),
        causation_id: Some(feedback_id.to_string()),
    };
    let rows = record::new_events(&events, &provenance, |index| {
        feedback_event_id(&feedback_id, index)
    });
    Ok((
        AppendRequest {
            stream_id: submission.ticket_id.stream_id(),
            expected: ExpectedVersion::NoStream,
            events: rows,
        },
        feedback_event_id(&feedback_id, 0),
    ))
}

/// The customer a request's events are sealed for: the one its `received` event names, or
/// `None` for an anonymous submission (nothing of it is sealed).
fn request_customer(request: &AppendRequest) -> Option<CustomerRef> {
    request
        .events
        .iter()
        .filter_map(|event| event.payload.get("customer"))
        .find_map(CustomerRef::from_customer_json)
}

/// Seals the personal data of `requests` in place: creates the keys of every customer of a
/// `received` event in one commit, then replaces, in each request, the personal members of
/// its events (`vault::personal_members`: the `customer`, the content, its terms, the order
/// id and the attributes of `received`, the terms of `classified`) by sealed objects under
/// that customer's key, read once per request. An anonymous submission stays as it is.
/// Blocking (the key store is SQLite): call it on the blocking pool.
pub fn seal_requests(vault: &Vault, requests: &mut [AppendRequest]) -> Result<(), VaultError> {
    let references: Vec<Option<CustomerRef>> = requests.iter().map(request_customer).collect();
    let known: Vec<CustomerRef> = references.iter().flatten().cloned().collect();
    vault.ensure_keys(&known)?;
    for (request, reference) in requests.iter_mut().zip(references) {
        let Some(reference) = reference else {
            continue;
        };
        let mut events: Vec<(&str, &mut serde_json::Value)> = request
            .events
            .iter_mut()
            .map(|event| (event.event_type.as_str(), &mut event.payload))
            .collect();
        vault.seal_personal(&reference, &mut events)?;
    }
    Ok(())
}

/// Splits `requests` (each with a tag and the id of its first event) into those whose ticket
/// is not in the log yet, sealed with `seal_requests`, and the tags of those already
/// recorded, which are left unsealed so that a redelivery after an erasure never makes a
/// new key for the erased customer. Blocking: call it on the blocking pool.
#[allow(clippy::type_complexity)]
pub fn prepare_requests<Tag>(
    log: &EventLog,
    vault: &Vault,
    requests: Vec<(AppendRequest, (Tag, EventId))>,
) -> Result<(Vec<(AppendRequest, (Tag, EventId))>, Vec<(Tag, EventId)>), String> {
    let mut fresh = Vec::new();
    let mut duplicates = Vec::new();
    for (request, (tag, first_id)) in requests {
        let known = log
            .read_event_blocking(&first_id.as_uuid())
            .map_err(|error| format!("look up an earlier delivery: {error}"))?;
        if known.is_some() {
            duplicates.push((tag, first_id));
        } else {
            fresh.push((request, (tag, first_id)));
        }
    }
    let (mut sealed, tags): (Vec<AppendRequest>, Vec<(Tag, EventId)>) = fresh.into_iter().unzip();
    seal_requests(vault, &mut sealed).map_err(|error| format!("seal personal data: {error}"))?;
    Ok((sealed.into_iter().zip(tags).collect(), duplicates))
}

/// Everything the consumer needs.
#[derive(Debug, Clone)]
pub struct Consumer {
    pub log: EventLog,
    pub rules: Arc<Rules>,
    pub clock: Arc<dyn Clock>,
    pub client: async_nats::Client,
    pub context: jetstream::Context,
    pub connected: ConnectionFlag,
    pub nats: NatsConfig,
    pub settings: WorkflowSettings,
    pub metrics: WorkflowMetrics,
    /// The key store that seals the customers of new tickets.
    pub vault: Arc<Vault>,
    /// Records the customers' replies on their tickets (`crate::replies`).
    pub commands: crate::commands::Commands,
    /// The trained classifier with its thresholds; `None` when `[classifier]` turns it off.
    pub placer: Option<Arc<Placer>>,
}

/// A message of a batch, decoded: a reply on an existing ticket, a submission for a new
/// ticket, or why it can be neither.
enum Parsed {
    Reply(crate::replies::ReplyMessage),
    Submission(Box<Submission>),
    Bad(String),
}

impl Parsed {
    fn of(payload: &[u8]) -> Parsed {
        match crate::replies::reply_from_message(payload) {
            Ok(Some(reply)) => Parsed::Reply(reply),
            Ok(None) => match submission_from_message(payload) {
                Ok(submission) => Parsed::Submission(Box::new(submission)),
                Err(reason) => Parsed::Bad(reason),
            },
            Err(reason) => Parsed::Bad(reason),
        }
    }
}

/// What a message of a batch asks for: a reply on an existing ticket, or a new ticket (its
/// first events, or why it cannot be one).
enum Decided {
    Reply(crate::replies::ReplyMessage),
    Ticket(Result<(AppendRequest, EventId), String>),
}

/// What became of one message of a batch.
enum Disposition {
    Recorded,
    Duplicate(EventId),
    Dead(String),
    Retry(String),
}

impl Consumer {
    /// Runs until `shutdown`, re-creating the consumer whenever the connection or the stream
    /// goes away.
    pub async fn run(self, shutdown: Shutdown) {
        let mut failures = 0u32;
        loop {
            if shutdown.is_triggered() {
                return;
            }
            if self.connected.is_connected() {
                match self.consume(&shutdown).await {
                    Ok(()) => return,
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        tracing::warn!(%error, "feedback consumer stopped, will retry");
                    }
                }
            }
            let delay =
                Duration::from_millis(100u64.saturating_mul(1 << failures.min(5)).min(2_000));
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    async fn consume(&self, shutdown: &Shutdown) -> Result<(), String> {
        let settings = &self.nats.feedback_stream;
        if self.context.get_stream(&settings.name).await.is_err() {
            // Intake owns FEEDBACK; whichever service starts first creates it.
            if let Err(error) = self
                .context
                .create_stream(settings.to_stream_config())
                .await
            {
                tracing::debug!(%error, "create stream FEEDBACK (another service may have)");
            }
        }
        let stream = self
            .context
            .get_stream(&settings.name)
            .await
            .map_err(|error| format!("get stream {}: {error}", settings.name))?;
        let name = self.settings.consumer_name.clone();
        let config = pull::Config {
            durable_name: Some(name.clone()),
            description: Some("workflow: records feedback as tickets".into()),
            filter_subject: format!("{}.>", proto::RECEIVED_SUBJECT_PREFIX),
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.settings.ack_wait(),
            max_deliver: self.settings.max_deliver,
            backoff: self.settings.backoff(),
            max_ack_pending: self.settings.max_ack_pending,
            ..Default::default()
        };
        let consumer: jetstream::consumer::PullConsumer = match stream
            .create_consumer(config.clone())
            .await
        {
            Ok(consumer) => consumer,
            Err(error) => {
                tracing::warn!(%error, consumer = %name, "create or update consumer, using the existing one");
                stream
                    .get_consumer(&name)
                    .await
                    .map_err(|error| format!("get consumer {name}: {error}"))?
            }
        };
        let messages = consumer
            .stream()
            .max_messages_per_batch(self.settings.consume_batch)
            .messages()
            .await
            .map_err(|error| format!("consume: {error}"))?;
        service::nats::consume_batches(
            messages,
            self.settings.consume_batch,
            "feedback consumer",
            shutdown,
            |messages| async move {
                self.record_batch(messages).await;
                Ok(())
            },
        )
        .await
    }

    /// What each message of a batch asks for, decided off the async threads (the model takes
    /// about 0.1 ms a text); `None` when the VIP lookup or the blocking task failed and the
    /// batch is left for redelivery. Each message is decoded once.
    async fn decide_batch(
        &self,
        messages: &[jetstream::Message],
        now: DateTime<Utc>,
    ) -> Option<Vec<Decided>> {
        let parsed: Vec<Parsed> = messages
            .iter()
            .map(|message| Parsed::of(&message.payload))
            .collect();
        // Whether each new ticket's customer is a VIP, from their earlier tickets.
        let customers: Vec<Option<Customer>> = parsed
            .iter()
            .map(|parsed| match parsed {
                Parsed::Submission(submission) => Some(submission.customer.clone()),
                Parsed::Reply(_) | Parsed::Bad(_) => None,
            })
            .collect();
        let vips = match crate::vip::receipt_flags(&self.commands, &customers).await {
            Ok(vips) => vips,
            Err(error) => {
                tracing::warn!(?error, "vip lookup failed, the batch will be redelivered");
                return None;
            }
        };
        let (rules, placer) = (self.rules.clone(), self.placer.clone());
        let decided = tokio::task::spawn_blocking(move || {
            parsed
                .into_iter()
                .zip(vips)
                .map(|(parsed, vip)| match parsed {
                    Parsed::Reply(reply) => Decided::Reply(reply),
                    Parsed::Submission(submission) => Decided::Ticket(receive_submission(
                        *submission,
                        now,
                        &rules,
                        placer.as_deref(),
                        vip,
                    )),
                    Parsed::Bad(reason) => Decided::Ticket(Err(reason)),
                })
                .collect::<Vec<_>>()
        })
        .await;
        match decided {
            Ok(decided) => Some(decided),
            Err(error) => {
                tracing::error!(%error, "deciding a feedback batch failed, it will be redelivered");
                None
            }
        }
    }

    /// Records one batch in one transaction, then acks, dead-letters or leaves for
    /// redelivery each message according to its own result.
    async fn record_batch(&self, messages: Vec<jetstream::Message>) {
        let now = self.clock.now();
        let mut dispositions: Vec<Option<Disposition>> = Vec::with_capacity(messages.len());
        let mut requests = Vec::new();
        let mut slots = Vec::new();
        let mut first_ids = Vec::new();
        let mut replies = Vec::new();
        let Some(decided) = self.decide_batch(&messages, now).await else {
            return;
        };
        for (index, decision) in decided.into_iter().enumerate() {
            let decision = match decision {
                Decided::Reply(reply) => {
                    replies.push((index, reply));
                    dispositions.push(None);
                    continue;
                }
                Decided::Ticket(decision) => decision,
            };
            match decision {
                Ok((request, first_id)) => {
                    requests.push(request);
                    slots.push(index);
                    first_ids.push(first_id);
                    dispositions.push(None);
                }
                Err(reason) => dispositions.push(Some(Disposition::Dead(reason))),
            }
        }
        if !requests.is_empty() {
            self.metrics.consume_batch.observe(requests.len() as f64);
            let (requests, slots, first_ids) = match self
                .prepare(requests, slots, first_ids, &mut dispositions)
                .await
            {
                Ok(prepared) => prepared,
                Err(reason) => {
                    if service::disk::mentions_full_disk(&reason) {
                        service::disk::alarm(&self.metrics.disk_full, "key store", &reason);
                    } else {
                        tracing::warn!(%reason, "feedback batch not sealed, will be redelivered");
                    }
                    (Vec::new(), Vec::new(), Vec::new())
                }
            };
            let results = if requests.is_empty() {
                Vec::new()
            } else {
                self.log.append_many(requests).await
            };
            for ((slot, first_id), result) in slots.into_iter().zip(first_ids).zip(results) {
                dispositions[slot] = Some(match result {
                    Ok(outcome) if outcome.duplicate => Disposition::Duplicate(first_id),
                    Ok(_) => Disposition::Recorded,
                    Err(error) if retryable(&error) => Disposition::Retry(error.to_string()),
                    Err(error) => Disposition::Dead(error.to_string()),
                });
            }
        }
        // Replies after the new tickets: a reply may answer a ticket of this very batch.
        for (slot, reply) in replies {
            dispositions[slot] = Some(self.record_reply(&reply).await);
        }
        // The batch's transaction has committed (or failed); no message is acked yet.
        crate::failpoints::crash_point(crate::failpoints::AFTER_COMMIT_BEFORE_ACK);
        let mut retried: Option<(usize, String)> = None;
        for (message, disposition) in messages.iter().zip(dispositions) {
            match disposition {
                Some(Disposition::Recorded) => {
                    self.metrics.received.inc();
                    ack(message).await;
                }
                Some(Disposition::Duplicate(first_id)) => {
                    self.metrics.duplicates.inc();
                    self.announce_again(first_id).await;
                    ack(message).await;
                }
                Some(Disposition::Dead(reason)) => {
                    self.dead_letter(message, &reason).await;
                    ack(message).await;
                }
                Some(Disposition::Retry(reason)) => {
                    let (count, _) = retried.get_or_insert((0, reason));
                    *count += 1;
                    nak(message).await;
                }
                None => nak(message).await,
            }
        }
        // One line per batch, however many of its messages are left for redelivery.
        if let Some((count, reason)) = retried {
            if service::disk::mentions_full_disk(&reason) {
                self.metrics
                    .disk_full
                    .inc_by(count.saturating_sub(1) as u64);
                service::disk::alarm(&self.metrics.disk_full, "event log", &reason);
            } else {
                tracing::warn!(%reason, messages = count, "feedback messages not recorded, will be redelivered");
            }
        }
    }

    /// Records one reply on its ticket (`crate::replies`).
    async fn record_reply(&self, reply: &crate::replies::ReplyMessage) -> Disposition {
        use crate::replies::ReplyOutcome;
        match self.commands.record_reply(reply).await {
            Ok(ReplyOutcome::Recorded) => Disposition::Recorded,
            Ok(ReplyOutcome::Duplicate(first_id)) => Disposition::Duplicate(first_id),
            Ok(ReplyOutcome::NotYet(reason)) => Disposition::Retry(reason),
            Ok(ReplyOutcome::Refused(reason)) => Disposition::Dead(reason),
            Err(failure) => Disposition::Retry(format!("{failure:?}")),
        }
    }

    /// Answers the messages whose ticket is already in the log as duplicates (without
    /// sealing anything), and seals the personal data of the rest. Returns the requests left
    /// to append with their slots and first event ids. Fails (the whole batch is left for
    /// redelivery) when the log or the key store cannot be read or written.
    async fn prepare(
        &self,
        requests: Vec<AppendRequest>,
        slots: Vec<usize>,
        first_ids: Vec<EventId>,
        dispositions: &mut [Option<Disposition>],
    ) -> Result<(Vec<AppendRequest>, Vec<usize>, Vec<EventId>), String> {
        let log = self.log.clone();
        let vault = self.vault.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let tagged = requests
                .into_iter()
                .zip(slots.into_iter().zip(first_ids))
                .collect();
            prepare_requests(&log, &vault, tagged)
        })
        .await
        .map_err(|error| format!("sealing task failed: {error}"))??;
        let (fresh, duplicates) = prepared;
        for (slot, first_id) in duplicates {
            dispositions[slot] = Some(Disposition::Duplicate(first_id));
        }
        let mut requests = Vec::with_capacity(fresh.len());
        let mut slots = Vec::with_capacity(fresh.len());
        let mut first_ids = Vec::with_capacity(fresh.len());
        for (request, (slot, first_id)) in fresh {
            requests.push(request);
            slots.push(slot);
            first_ids.push(first_id);
        }
        Ok((requests, slots, first_ids))
    }

    /// Publishes the stored `received` event again, so that intake confirms a submission it
    /// sent twice (its confirmation may have been lost).
    async fn announce_again(&self, first_id: EventId) {
        match self.log.read_event(first_id.as_uuid()).await {
            Ok(Some(row)) => {
                if let Err(error) = publisher::publish_rows(&self.context, &[row]).await {
                    tracing::debug!(%error, "publish received event again");
                }
            }
            Ok(None) => {}
            Err(error) => tracing::debug!(%error, "read received event"),
        }
    }

    async fn dead_letter(&self, message: &jetstream::Message, reason: &str) {
        self.metrics.dead_letters.inc();
        let sequence = message
            .info()
            .map(|info| info.stream_sequence.to_string())
            .unwrap_or_default();
        tracing::warn!(
            subject = %message.subject,
            %sequence,
            %reason,
            "feedback message sent to the dead-letter subject"
        );
        let mut headers = async_nats::HeaderMap::new();
        let shown: String = reason
            .chars()
            .filter(|symbol| !symbol.is_control())
            .take(1_000)
            .collect();
        headers.insert(DEAD_LETTER_REASON_HEADER, shown.as_str());
        headers.insert(DEAD_LETTER_SUBJECT_HEADER, message.subject.as_str());
        headers.insert(DEAD_LETTER_SEQUENCE_HEADER, sequence.as_str());
        if let Err(error) = self
            .client
            .publish_with_headers(
                self.settings.dead_letter_subject.clone(),
                headers,
                message.payload.clone(),
            )
            .await
        {
            tracing::warn!(%error, "publish dead letter");
        }
    }
}

/// Whether an append may succeed later without any change to the message.
fn retryable(error: &LogError) -> bool {
    error.is_unavailable() || matches!(error, LogError::Sqlite { .. } | LogError::Io { .. })
}

async fn ack(message: &jetstream::Message) {
    if let Err(error) = message.ack().await {
        tracing::debug!(%error, "ack feedback message");
    }
}

/// Leaves a message for redelivery: after 0.5 s at its first delivery, twice as long at each
/// further one, 30 s at most, so that an outage that lasts (a full disk) does not use up the
/// consumer's `max_deliver` in seconds.
async fn nak(message: &jetstream::Message) {
    let delivered = message
        .info()
        .map(|info| info.delivered.clamp(1, 7))
        .unwrap_or(1);
    let delay = Duration::from_millis((500u64 << (delivered - 1)).min(30_000));
    if let Err(error) = message.ack_with(AckKind::Nak(Some(delay))).await {
        tracing::debug!(%error, "nak feedback message");
    }
}
