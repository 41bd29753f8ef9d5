//! NATS request/reply intake: `SubmitRequest` on `feedback.inbound.<channel>` in a queue group
//! (so replicas share the load), answered through the same [`Intake::submit`] as gRPC.
//!
//! The reply carries a header `Cloop-Status` with the numeric gRPC code: 0 with a
//! `SubmitResponse` body, anything else with an `ErrorStatus` body.
//!
//! NATS requests carry no bearer token, so their rate limit is one bucket per configured channel
//! at the `[rate_limits.adapter]` default (see [`check_rate`]).

use crate::accept::Intake;
use crate::convert;
use crate::grpc::error_status;
use chrono::{DateTime, Utc};
use domain::rules::Rules;
use domain::submission::Submission;
use domain::types::Role;
use futures::StreamExt;
use prost::Message as _;
use proto::v1;
use service::ratelimit::Refusal;
use service::shutdown::Shutdown;
use service::status_from;
use service::Authenticator;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The reply header with the numeric gRPC status code.
pub const STATUS_HEADER: &str = "Cloop-Status";

/// Requests handled at once at most.
const CONCURRENCY: u32 = 512;

/// The subscription subject: every channel.
pub fn inbound_subject() -> String {
    format!("{}.*", proto::INBOUND_SUBJECT_PREFIX)
}

/// The channel named by an inbound subject (`feedback.inbound.<channel>`); empty when the
/// subject has none.
pub fn subject_channel(subject: &str) -> &str {
    subject
        .strip_prefix(proto::INBOUND_SUBJECT_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or_default()
}

/// Decodes one request payload and reconciles its channel with the subject's: an empty
/// `channel` takes the subject's, a different one is refused. Pure: nothing is written.
pub fn decode_request(subject: &str, payload: &[u8]) -> Result<v1::SubmitRequest, tonic::Status> {
    let mut request = v1::SubmitRequest::decode(payload).map_err(|error| {
        tonic::Status::invalid_argument(format!(
            "the message is not a feedback.v1.SubmitRequest: {error}"
        ))
    })?;
    let subject_channel = subject_channel(subject);
    if request.channel.trim().is_empty() {
        request.channel = subject_channel.to_owned();
    } else if !request.channel.trim().eq_ignore_ascii_case(subject_channel) {
        // The channel a caller sent is echoed only as far as it is short and printable.
        let shown: String = request.channel.chars().take(64).collect();
        return Err(status_from(domain::DomainError::invalid(
            "channel",
            format!("{shown:?} does not match the subject's channel {subject_channel:?}"),
        )));
    }
    Ok(request)
}

/// Decodes and validates one request payload at `now` exactly as [`answer`] does, without
/// writing anything or taking a ticket id: the pure part of the NATS path, used by the fuzz
/// targets.
pub fn check_payload(
    rules: &Rules,
    subject: &str,
    payload: &[u8],
    now: DateTime<Utc>,
) -> Result<Submission, tonic::Status> {
    let request = decode_request(subject, payload)?;
    let input = convert::submission_input(&request).map_err(status_from)?;
    convert::language_from(request.language).map_err(status_from)?;
    let config = rules.config();
    Submission::parse(&input, &config.limits, &config.channels, now).map_err(status_from)
}

/// Takes one request from the rate limit of a NATS request's channel: one bucket per
/// configured channel (unknown channels share one), at the adapter role's default limit.
pub fn check_rate(
    core: &Intake,
    authenticator: &Authenticator,
    subject: &str,
) -> Result<(), Refusal> {
    let channel = subject_channel(subject).trim();
    let known = core
        .rules()
        .channels()
        .iter()
        .find(|configured| configured.eq_ignore_ascii_case(channel))
        .map_or("unknown", String::as_str);
    authenticator.limiter().check(
        &format!("nats channel {known}"),
        authenticator.registry().role_rate_limit(Role::Adapter),
    )
}

/// The reply of a refused request: its code and an `ErrorStatus` body.
fn refused(status: &tonic::Status) -> (tonic::Code, Vec<u8>) {
    (status.code(), error_status(status).encode_to_vec())
}

/// Answers one request message; returns the reply status code and body.
pub async fn answer(core: &Intake, subject: &str, payload: &[u8]) -> (tonic::Code, Vec<u8>) {
    let request = match decode_request(subject, payload) {
        Ok(request) => request,
        Err(status) => return refused(&status),
    };
    match core.submit(request).await {
        Ok(response) => (tonic::Code::Ok, response.encode_to_vec()),
        Err(failure) => refused(&status_from(failure)),
    }
}

/// Serves the queue subscription until `shutdown`, then finishes the requests in flight. Each
/// request is first checked against its channel's rate limit (see [`check_rate`]).
pub async fn serve(
    core: Arc<Intake>,
    client: async_nats::Client,
    queue_group: String,
    authenticator: Authenticator,
    shutdown: Shutdown,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY as usize));
    loop {
        if shutdown.is_triggered() {
            break;
        }
        let mut subscriber = match client
            .queue_subscribe(inbound_subject(), queue_group.clone())
            .await
        {
            Ok(subscriber) => subscriber,
            Err(error) => {
                tracing::warn!(%error, "subscribe to inbound submissions, will retry");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    _ = shutdown.wait() => break,
                }
            }
        };
        loop {
            let message = tokio::select! {
                message = subscriber.next() => message,
                _ = shutdown.wait() => None,
            };
            let Some(message) = message else { break };
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            let core = core.clone();
            let client = client.clone();
            let authenticator = authenticator.clone();
            tokio::spawn(async move {
                let subject = message.subject.as_str();
                let (code, body) = match check_rate(&core, &authenticator, subject) {
                    Ok(()) => answer(&core, subject, &message.payload).await,
                    Err(refusal) => refused(&refusal.to_status()),
                };
                if let Some(reply) = message.reply {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert(STATUS_HEADER, (code as i32).to_string().as_str());
                    if let Err(error) = client
                        .publish_with_headers(reply, headers, body.into())
                        .await
                    {
                        tracing::warn!(%error, "reply to an inbound submission");
                    }
                }
                drop(permit);
            });
        }
        if let Err(error) = subscriber.unsubscribe().await {
            tracing::debug!(%error, "unsubscribe inbound submissions");
        }
        if shutdown.is_triggered() {
            break;
        }
    }
    // Wait for the requests in flight to be answered.
    let _ = permits.acquire_many(CONCURRENCY).await;
}
