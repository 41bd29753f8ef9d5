//! NATS request/reply intake: `SubmitRequest` on `feedback.inbound.<channel>` in a queue group
//! (so replicas share the load), answered through the same [`Intake::submit`] as gRPC.
//!
//! The reply carries a header `Cloop-Status` with the numeric gRPC code: 0 with a
//! `SubmitResponse` body, anything else with an `ErrorStatus` body.

use crate::accept::Intake;
use crate::grpc::error_status;
use futures::StreamExt;
use prost::Message as _;
use proto::v1;
use service::shutdown::Shutdown;
use service::status_from;
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

/// Answers one request message; returns the reply status code and body.
pub async fn answer(core: &Intake, subject: &str, payload: &[u8]) -> (tonic::Code, Vec<u8>) {
    let refused = |status: tonic::Status| (status.code(), error_status(&status).encode_to_vec());
    let mut request = match v1::SubmitRequest::decode(payload) {
        Ok(request) => request,
        Err(error) => {
            return refused(tonic::Status::invalid_argument(format!(
                "the message is not a feedback.v1.SubmitRequest: {error}"
            )))
        }
    };
    let subject_channel = subject
        .strip_prefix(proto::INBOUND_SUBJECT_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or_default();
    if request.channel.trim().is_empty() {
        request.channel = subject_channel.to_owned();
    } else if !request.channel.trim().eq_ignore_ascii_case(subject_channel) {
        return refused(status_from(domain::DomainError::invalid(
            "channel",
            format!(
                "{:?} does not match the subject's channel {subject_channel:?}",
                request.channel
            ),
        )));
    }
    match core.submit(request).await {
        Ok(response) => (tonic::Code::Ok, response.encode_to_vec()),
        Err(failure) => refused(status_from(failure)),
    }
}

/// Serves the queue subscription until `shutdown`, then finishes the requests in flight.
pub async fn serve(
    core: Arc<Intake>,
    client: async_nats::Client,
    queue_group: String,
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
            tokio::spawn(async move {
                let (code, body) = answer(&core, message.subject.as_str(), &message.payload).await;
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
