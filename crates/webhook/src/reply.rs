//! HTTP answers: the JSON bodies of success and refusal, and the one mapping from intake's
//! NATS reply (header `Cloop-Status` with the numeric gRPC code, then a `SubmitResponse` or an
//! `ErrorStatus`) to an HTTP status.
//!
//! | intake's answer | HTTP |
//! | --- | --- |
//! | OK, new ticket | 201 |
//! | OK, `duplicate` (the idempotency key was seen before) | 200 |
//! | INVALID_ARGUMENT | 400, naming the field |
//! | OUT_OF_RANGE (message too large) | 413 |
//! | RESOURCE_EXHAUSTED (rate limit) | 429 with `Retry-After` |
//! | UNAVAILABLE, DEADLINE_EXCEEDED; no answer in time; no intake listening | 503 with `Retry-After` |
//! | anything else | 502 |

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::SecondsFormat;
use prost::Message as _;
use proto::v1;
use serde_json::{json, Value};

/// The header of intake's NATS reply with the numeric gRPC status code.
pub const STATUS_HEADER: &str = "Cloop-Status";

/// One HTTP answer: status, JSON body and, for 429 and 503, a `Retry-After` in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub retry_after: Option<u64>,
}

impl Reply {
    /// `{"error": {"field": ..., "reason": ...}}`; `field` is left out when there is none.
    pub fn error(status: StatusCode, field: Option<&str>, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let error = match field.filter(|field| !field.is_empty()) {
            Some(field) => json!({ "field": field, "reason": reason }),
            None => json!({ "reason": reason }),
        };
        Self {
            status,
            body: json!({ "error": error }),
            retry_after: None,
        }
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(reason: impl Into<String>, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::error(StatusCode::SERVICE_UNAVAILABLE, None, reason)
        }
    }

    /// 201 for a new ticket, 200 for a duplicate, with the ticket's numbers and notice.
    pub fn accepted(response: &v1::SubmitResponse) -> Self {
        Self {
            status: if response.duplicate {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            },
            body: json!({
                "ticket_id": response.ticket_id,
                "feedback_id": response.feedback_id,
                "duplicate": response.duplicate,
                "received_at": instant(response.received_at.as_ref()),
                "respond_by": instant(response.respond_by.as_ref()),
                "resolve_by": instant(response.resolve_by.as_ref()),
                "notice": response.notice,
                "cannot_be_told": response.cannot_be_told,
                "reply": response.reply,
            }),
            retry_after: None,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// A protobuf timestamp as RFC 3339 in UTC; `null` when absent or bad
/// ([`proto::time::instant`]).
fn instant(timestamp: Option<&prost_types::Timestamp>) -> Value {
    timestamp
        .and_then(|timestamp| proto::time::instant(timestamp).ok())
        .map_or(Value::Null, |instant| {
            Value::String(instant.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        })
}

/// The HTTP answer to intake's reply: `code` from the `Cloop-Status` header (absent means a
/// reply without the header, taken as OK), `payload` the reply's body.
pub fn from_intake(code: Option<i32>, payload: &[u8], retry_after_secs: u64) -> Reply {
    let code = code.unwrap_or(0);
    if code == tonic_code::OK {
        return match v1::SubmitResponse::decode(payload) {
            Ok(response) if !response.ticket_id.is_empty() => Reply::accepted(&response),
            _ => Reply::error(
                StatusCode::BAD_GATEWAY,
                None,
                "intake's answer is not a feedback.v1.SubmitResponse",
            ),
        };
    }
    let refusal = v1::ErrorStatus::decode(payload).unwrap_or_default();
    let reason = if refusal.message.is_empty() {
        format!("intake refused the submission (status {code})")
    } else {
        refusal.message
    };
    match code {
        tonic_code::INVALID_ARGUMENT => {
            Reply::error(StatusCode::BAD_REQUEST, Some(&refusal.field), reason)
        }
        tonic_code::OUT_OF_RANGE => Reply::error(StatusCode::PAYLOAD_TOO_LARGE, None, reason),
        // A reply naming a ticket that is not this customer's (or not known): the sender
        // learns nothing more than intake said.
        tonic_code::NOT_FOUND => Reply::error(StatusCode::NOT_FOUND, None, reason),
        tonic_code::RESOURCE_EXHAUSTED => Reply {
            retry_after: Some(retry_after_secs),
            ..Reply::error(StatusCode::TOO_MANY_REQUESTS, None, reason)
        },
        tonic_code::UNAVAILABLE | tonic_code::DEADLINE_EXCEEDED => {
            Reply::unavailable(reason, retry_after_secs)
        }
        _ => Reply::error(StatusCode::BAD_GATEWAY, None, reason),
    }
}

/// The numeric gRPC codes intake's replies carry.
mod tonic_code {
    pub const OK: i32 = 0;
    pub const NOT_FOUND: i32 = 5;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const OUT_OF_RANGE: i32 = 11;
    pub const UNAVAILABLE: i32 = 14;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(duplicate: bool) -> v1::SubmitResponse {
        v1::SubmitResponse {
            ticket_id: "FB-20261123-05-000001".into(),
            feedback_id: "0193-feedback".into(),
            duplicate,
            received_at: Some(prost_types::Timestamp {
                seconds: 1_763_892_000,
                nanos: 0,
            }),
            notice: "您的反馈编号 FB-20261123-05-000001".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_ticket_is_201_and_a_repeat_200() {
        let reply = from_intake(Some(0), &response(false).encode_to_vec(), 5);
        assert_eq!(reply.status, StatusCode::CREATED);
        assert_eq!(reply.body["ticket_id"], "FB-20261123-05-000001");
        assert_eq!(reply.body["duplicate"], false);
        assert_eq!(reply.body["received_at"], "2025-11-23T10:00:00Z");
        assert_eq!(reply.body["respond_by"], Value::Null);
        assert_eq!(reply.body["cannot_be_told"], false);
        let repeat = from_intake(None, &response(true).encode_to_vec(), 5);
        assert_eq!(repeat.status, StatusCode::OK);
        assert_eq!(repeat.body["duplicate"], true);
        let anonymous = v1::SubmitResponse {
            cannot_be_told: true,
            ..response(false)
        };
        let reply = from_intake(Some(0), &anonymous.encode_to_vec(), 5);
        assert_eq!(reply.body["cannot_be_told"], true);
    }

    #[test]
    fn refusals_map_to_their_http_status() {
        let refusal = |code: i32, field: &str| {
            v1::ErrorStatus {
                code,
                message: "why".into(),
                field: field.into(),
            }
            .encode_to_vec()
        };
        let invalid = from_intake(Some(3), &refusal(3, "customer.phone"), 5);
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
        assert_eq!(invalid.body["error"]["field"], "customer.phone");
        assert_eq!(invalid.body["error"]["reason"], "why");
        for (code, status, retry) in [
            (8, StatusCode::TOO_MANY_REQUESTS, true),
            (14, StatusCode::SERVICE_UNAVAILABLE, true),
            (4, StatusCode::SERVICE_UNAVAILABLE, true),
            (11, StatusCode::PAYLOAD_TOO_LARGE, false),
            (13, StatusCode::BAD_GATEWAY, false),
        ] {
            let reply = from_intake(Some(code), &refusal(code, ""), 7);
            assert_eq!(reply.status, status, "code {code}");
            assert_eq!(reply.retry_after, retry.then_some(7), "code {code}");
            assert!(reply.body["error"].get("field").is_none(), "code {code}");
        }
        let garbage = from_intake(Some(0), b"\xff\xff", 5);
        assert_eq!(garbage.status, StatusCode::BAD_GATEWAY);
    }
}
