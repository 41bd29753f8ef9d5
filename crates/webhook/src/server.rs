//! The HTTP side: `POST /v1/feedback/{channel}` and `GET /healthz`.
//!
//! A submission is checked in this order, and the first refusal answers: the channel is
//! configured (404), the source address is within its rate limit (429, off unless
//! configured), the service is not over its in-flight limit (503), the body fits the size
//! limit (413) and arrives in time (408), the signature and timestamp are right (401), the
//! channel is within its rate limit (429), the JSON has the right shape and passes the
//! domain's submission rules (400), NATS is connected (503). Then the `SubmitRequest` goes to intake as a NATS request on
//! `feedback.inbound.<channel>` and intake's reply becomes the answer (see [`crate::reply`]).
//!
//! Each submission is logged with its channel, external id, HTTP status and latency, nothing
//! else: bodies carry customer contact data, which never goes into logs.

use crate::body;
use crate::metrics::WebhookMetrics;
use crate::reply::{self, Reply};
use crate::settings::{Resolved, Secret};
use crate::signature::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use chrono::Utc;
use domain::rules::config::LimitsConfig;
use futures::StreamExt;
use prost::Message as _;
use serde_json::json;
use service::nats::ConnectionFlag;
use service::RateLimiter;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// External ids are logged at most this long (in characters).
const LOGGED_ID_CHARS: usize = 64;

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    pub settings: Resolved,
    /// The domain's limits and channels, for the same checks intake makes.
    pub limits: LimitsConfig,
    pub channels: Vec<String>,
    pub client: async_nats::Client,
    pub connected: ConnectionFlag,
    pub metrics: WebhookMetrics,
    pub in_flight: Arc<Semaphore>,
    /// The buckets of the per-channel and per-source rate limits.
    pub limiter: RateLimiter,
}

/// The routes of the service.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/feedback/{channel}", post(submit))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> Response {
    Reply::error(StatusCode::NOT_FOUND, None, "no such resource").into_response()
}

/// 200 while NATS is connected, 503 otherwise.
async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    if state.connected.is_connected() {
        (
            StatusCode::OK,
            axum::Json(json!({ "status": "ok", "nats": "connected" })),
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "unavailable", "nats": "disconnected" })),
        )
            .into_response()
    }
}

async fn submit(
    State(state): State<Arc<AppState>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    request_body: Body,
) -> Response {
    let started = Instant::now();
    let outcome = handle(&state, &channel, source, &headers, request_body).await;
    let status = outcome.reply.status.as_u16();
    state
        .metrics
        .requests
        .with_label_values(&[outcome.channel, &status.to_string()])
        .inc();
    let elapsed = started.elapsed();
    if outcome.channel != "unknown" {
        state.metrics.duration.observe(elapsed.as_secs_f64());
    }
    let external_id: String = outcome
        .external_id
        .as_deref()
        .unwrap_or_default()
        .chars()
        .take(LOGGED_ID_CHARS)
        .collect();
    tracing::info!(
        channel = outcome.channel,
        external_id = %external_id,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "submission"
    );
    outcome.reply.into_response()
}

/// The answer to one submission, with what is logged about it.
struct Outcome<'a> {
    /// The configured channel, or `unknown`.
    channel: &'a str,
    external_id: Option<String>,
    reply: Reply,
}

/// Why a body could not be read.
enum ReadError {
    TooLarge,
    Broken,
}

/// Reads a body of at most `limit` bytes.
async fn read_body(request_body: Body, limit: usize) -> Result<Vec<u8>, ReadError> {
    let mut stream = request_body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ReadError::Broken)?;
        if bytes.len().saturating_add(chunk.len()) > limit {
            return Err(ReadError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn too_large(limit: usize) -> Reply {
    Reply::error(
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
        format!("the body is larger than {limit} bytes"),
    )
}

/// 429 with `Retry-After` (whole seconds, at least 1), naming the limit.
fn rate_limited(refusal: &service::ratelimit::Refusal) -> Reply {
    Reply {
        retry_after: Some(refusal.retry_after_ms().div_ceil(1_000).max(1)),
        ..Reply::error(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            refusal.to_status().message(),
        )
    }
}

async fn handle<'a>(
    state: &'a AppState,
    channel: &str,
    source: SocketAddr,
    headers: &HeaderMap,
    request_body: Body,
) -> Outcome<'a> {
    let settings = &state.settings;
    let Some((name, secret)) = settings.secrets.get_key_value(&channel.to_lowercase()) else {
        return Outcome {
            channel: "unknown",
            external_id: None,
            reply: Reply::error(
                StatusCode::NOT_FOUND,
                None,
                "this channel is not accepted here",
            ),
        };
    };
    let refuse = |reply: Reply| Outcome {
        channel: name.as_str(),
        external_id: None,
        reply,
    };
    // A flooding address is turned away before its body is read.
    if let Err(refusal) = state.limiter.check(
        &format!("webhook source {}", source.ip()),
        settings.source_limit,
    ) {
        return refuse(rate_limited(&refusal));
    }
    let Ok(_permit) = state.in_flight.clone().try_acquire_owned() else {
        return refuse(Reply::unavailable(
            "too many submissions at once",
            settings.retry_after_secs,
        ));
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > settings.max_body_bytes as u64) {
        return refuse(too_large(settings.max_body_bytes));
    }
    let bytes = match tokio::time::timeout(
        settings.read_timeout,
        read_body(request_body, settings.max_body_bytes),
    )
    .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(ReadError::TooLarge)) => return refuse(too_large(settings.max_body_bytes)),
        Ok(Err(ReadError::Broken)) => {
            return refuse(Reply::error(
                StatusCode::BAD_REQUEST,
                None,
                "the body could not be read",
            ))
        }
        Err(_) => {
            return refuse(Reply::error(
                StatusCode::REQUEST_TIMEOUT,
                None,
                "the body did not arrive in time",
            ))
        }
    };
    if let Err(error) = check_signature(secret, headers, &bytes, settings.max_clock_skew_secs) {
        return refuse(Reply::error(
            StatusCode::UNAUTHORIZED,
            None,
            error.to_string(),
        ));
    }
    // Only signed submissions take from the channel's budget: a forger cannot spend it.
    if let Err(refusal) = state
        .limiter
        .check(&format!("webhook channel {name}"), settings.channel_limit)
    {
        return refuse(rate_limited(&refusal));
    }
    let request = match body::submit_request(name, &bytes).and_then(|request| {
        body::validate(&request, &state.limits, &state.channels, Utc::now()).map(|()| request)
    }) {
        Ok(request) => request,
        Err(error) => {
            return refuse(Reply::error(
                StatusCode::BAD_REQUEST,
                error.field.as_deref(),
                error.reason,
            ))
        }
    };
    let external_id = Some(request.external_id.clone()).filter(|id| !id.is_empty());
    let reply = forward(state, name, &request).await;
    Outcome {
        channel: name.as_str(),
        external_id,
        reply,
    }
}

fn check_signature(
    secret: &Secret,
    headers: &HeaderMap,
    bytes: &[u8],
    max_skew_secs: u64,
) -> Result<(), signature::SignatureError> {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    signature::verify(
        secret.as_bytes(),
        text(TIMESTAMP_HEADER),
        text(SIGNATURE_HEADER),
        bytes,
        Utc::now().timestamp(),
        max_skew_secs,
    )
}

/// Sends the request to intake on `feedback.inbound.<channel>` and turns its reply (or its
/// absence) into the answer.
async fn forward(state: &AppState, channel: &str, request: &proto::v1::SubmitRequest) -> Reply {
    let retry_after = state.settings.retry_after_secs;
    if !state.connected.is_connected() {
        return Reply::unavailable("the message broker is unreachable", retry_after);
    }
    let subject = format!("{}.{channel}", proto::INBOUND_SUBJECT_PREFIX);
    let message = async_nats::Request::new()
        .payload(request.encode_to_vec().into())
        .timeout(Some(state.settings.request_timeout));
    match state.client.send_request(subject, message).await {
        Ok(answer) => {
            let code = answer
                .headers
                .as_ref()
                .and_then(|headers| headers.get(reply::STATUS_HEADER))
                .and_then(|value| value.as_str().trim().parse::<i32>().ok());
            reply::from_intake(code, &answer.payload, retry_after)
        }
        Err(error) => {
            use async_nats::RequestErrorKind;
            match error.kind() {
                RequestErrorKind::NoResponders => {
                    Reply::unavailable("intake is not running", retry_after)
                }
                RequestErrorKind::TimedOut => {
                    Reply::unavailable("intake did not answer in time", retry_after)
                }
                RequestErrorKind::MaxPayloadExceeded => Reply::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    None,
                    "the submission is larger than the message broker accepts",
                ),
                _ => {
                    tracing::warn!(%error, "nats request to intake");
                    Reply::unavailable("the message broker is unreachable", retry_after)
                }
            }
        }
    }
}
