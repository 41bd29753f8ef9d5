//! The JSON body of `POST /v1/feedback/<channel>`: read into a `feedback.v1.SubmitRequest`
//! with errors that name the field, then checked with the domain's own submission rules
//! (`domain::submission::Submission::parse`, the same function intake runs), so a request
//! that would be refused is refused here, before it travels.
//!
//! ```json
//! {
//!   "external_id": "form-2024-000123",
//!   "customer": {"customer_id": "u-42", "name": "王女士", "phone": "13800138000",
//!                "email": "wang@example.com", "wechat_openid": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"},
//!   "content": "APP卡顿，打开很慢",
//!   "occurred_at": "2026-11-23T09:30:00+08:00",
//!   "product": "app", "order_id": "SO-1001",
//!   "attributes": {"page": "/help"},
//!   "language": "zh",
//!   "reply_to_ticket_id": "261123-0A1B2-C3D4E5"
//! }
//! ```
//!
//! `reply_to_ticket_id` names the ticket the customer answers (recorded there, never a new
//! ticket; intake checks that the customer is that ticket's own).
//!
//! Every member is optional as far as the JSON goes (`null` counts as absent); `channel`, when
//! present, must equal the channel of the path. Unknown members are refused, so a misspelt
//! field is noticed instead of silently dropped.

use chrono::{DateTime, Utc};
use domain::rules::config::LimitsConfig;
use domain::submission::{Submission, SubmissionInput};
use domain::DomainError;
use proto::v1;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A refusal of the body: the field at fault (absent when the body as a whole is wrong) and
/// the reason, both safe to show the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Option<String>,
    pub reason: String,
}

impl FieldError {
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: Some(field.into()),
            reason: reason.into(),
        }
    }

    pub fn body(reason: impl Into<String>) -> Self {
        Self {
            field: None,
            reason: reason.into(),
        }
    }
}

impl From<DomainError> for FieldError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid { field, reason } => Self::field(field, reason),
            other => Self::body(other.to_string()),
        }
    }
}

/// The JSON type of a value, for error texts.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string member; `null` is the empty string (absent, as protobuf has it).
fn string(field: &str, value: &Value) -> Result<String, FieldError> {
    match value {
        Value::Null => Ok(String::new()),
        Value::String(text) => Ok(text.clone()),
        other => Err(FieldError::field(
            field,
            format!("must be a string, not {}", type_name(other)),
        )),
    }
}

fn object<'a>(field: &str, value: &'a Value) -> Result<Option<&'a Map<String, Value>>, FieldError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(members) => Ok(Some(members)),
        other => Err(FieldError::field(
            field,
            format!("must be an object, not {}", type_name(other)),
        )),
    }
}

/// Field names are echoed only as far as they are short.
fn shown(name: &str) -> String {
    let short: String = name.chars().take(64).collect();
    if short.len() < name.len() {
        format!("{short}…")
    } else {
        short
    }
}

fn customer(value: &Value) -> Result<Option<v1::Customer>, FieldError> {
    let Some(members) = object("customer", value)? else {
        return Ok(None);
    };
    let mut customer = v1::Customer::default();
    for (name, value) in members {
        let field = format!("customer.{}", shown(name));
        let slot = match name.as_str() {
            "customer_id" => &mut customer.customer_id,
            "name" => &mut customer.name,
            "phone" => &mut customer.phone,
            "email" => &mut customer.email,
            "wechat_openid" => &mut customer.wechat_openid,
            _ => return Err(FieldError::field(field, "unknown field")),
        };
        *slot = string(&field, value)?;
    }
    Ok(Some(customer))
}

fn occurred_at(value: &Value) -> Result<Option<prost_types::Timestamp>, FieldError> {
    let text = string("occurred_at", value)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let instant = DateTime::parse_from_rfc3339(text.trim()).map_err(|_| {
        FieldError::field(
            "occurred_at",
            "must be an RFC 3339 instant such as 2026-11-23T09:30:00+08:00",
        )
    })?;
    Ok(Some(proto::time::timestamp(instant.with_timezone(&Utc))))
}

fn attributes(value: &Value) -> Result<HashMap<String, String>, FieldError> {
    let Some(members) = object("attributes", value)? else {
        return Ok(HashMap::new());
    };
    members
        .iter()
        .map(|(key, value)| match value {
            Value::String(text) => Ok((key.clone(), text.clone())),
            other => Err(FieldError::field(
                format!("attributes.{}", shown(key)),
                format!("must be a string, not {}", type_name(other)),
            )),
        })
        .collect()
}

fn language(value: &Value) -> Result<v1::Language, FieldError> {
    let text = string("language", value)?;
    match text.trim().to_ascii_lowercase().as_str() {
        "" => Ok(v1::Language::Unspecified),
        "zh" => Ok(v1::Language::Zh),
        "en" => Ok(v1::Language::En),
        _ => Err(FieldError::field("language", "must be \"zh\" or \"en\"")),
    }
}

/// Reads a request body for `channel` (the path's, already known to be configured) into the
/// `SubmitRequest` intake takes. Only the JSON shape is checked here; see [`validate`].
pub fn submit_request(channel: &str, body: &[u8]) -> Result<v1::SubmitRequest, FieldError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|error| FieldError::body(format!("the body is not valid JSON: {error}")))?;
    let Value::Object(members) = value else {
        return Err(FieldError::body(format!(
            "the body must be a JSON object, not {}",
            type_name(&value)
        )));
    };
    let mut request = v1::SubmitRequest {
        channel: channel.to_owned(),
        ..Default::default()
    };
    for (name, value) in &members {
        match name.as_str() {
            "channel" => {
                let named = string("channel", value)?;
                if !named.trim().is_empty() && !named.trim().eq_ignore_ascii_case(channel) {
                    return Err(FieldError::field(
                        "channel",
                        format!("must be the channel of the path, {channel:?}, or left out"),
                    ));
                }
            }
            "external_id" => request.external_id = string(name, value)?,
            "customer" => request.customer = customer(value)?,
            "content" => request.content = string(name, value)?,
            "occurred_at" => request.occurred_at = occurred_at(value)?,
            "product" => request.product = string(name, value)?,
            "order_id" => request.order_id = string(name, value)?,
            "attributes" => request.attributes = attributes(value)?,
            "language" => request.language = language(value)? as i32,
            "reply_to_ticket_id" => request.reply_to_ticket_id = string(name, value)?,
            _ => return Err(FieldError::field(shown(name), "unknown field")),
        }
    }
    Ok(request)
}

/// The domain's view of a request, before validation (empty strings are absent).
pub fn submission_input(request: &v1::SubmitRequest) -> SubmissionInput {
    SubmissionInput {
        occurred_at: request
            .occurred_at
            .as_ref()
            .and_then(|timestamp| proto::time::instant(timestamp).ok()),
        ..service::submission::input(request)
    }
}

/// Checks a request with the domain's submission rules at `now`, as intake will.
pub fn validate(
    request: &v1::SubmitRequest,
    limits: &LimitsConfig,
    channels: &[String],
    now: DateTime<Utc>,
) -> Result<(), FieldError> {
    Submission::parse(&submission_input(request), limits, channels, now)
        .map(|_| ())
        .map_err(FieldError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::rules::DomainConfig;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-23T10:00:00Z")
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn check(body: &str) -> Result<v1::SubmitRequest, FieldError> {
        let config = DomainConfig::default();
        let request = submit_request("web", body.as_bytes())?;
        validate(&request, &config.limits, &config.channels, now())?;
        Ok(request)
    }

    #[test]
    fn a_full_body_becomes_a_submit_request() {
        let request = check(
            r#"{"channel":"WEB","external_id":"form-1","customer":{"customer_id":"u-1",
                "name":"王女士","phone":"138 0013 8000","email":"wang@example.com",
                "wechat_openid":null},"content":"APP卡顿","occurred_at":"2026-11-23T09:30:00+08:00",
                "product":"app","order_id":"SO-1","attributes":{"page":"/help"},"language":"en"}"#,
        )
        .expect("valid");
        assert_eq!(request.channel, "web");
        assert_eq!(request.external_id, "form-1");
        let customer = request.customer.expect("customer");
        assert_eq!(customer.phone, "138 0013 8000");
        assert_eq!(customer.wechat_openid, "");
        assert_eq!(
            request.occurred_at.expect("occurred_at").seconds,
            DateTime::parse_from_rfc3339("2026-11-23T01:30:00Z")
                .expect("valid")
                .timestamp()
        );
        assert_eq!(request.attributes["page"], "/help");
        assert_eq!(request.language, v1::Language::En as i32);
    }

    #[test]
    fn a_body_without_any_contact_is_anonymous_feedback() {
        let request = check(r#"{"content":"门店留言：服务很好"}"#).expect("anonymous is valid");
        assert_eq!(request.customer, None);
    }

    #[test]
    fn every_refusal_names_its_field() {
        let contact = r#""customer":{"phone":"13800138000"}"#;
        let cases = [
            (r#"{"content":"x""#.to_owned(), None),
            ("[1,2]".to_owned(), None),
            (format!(r#"{{{contact},"content":5}}"#), Some("content")),
            (format!(r#"{{{contact},"content":"  "}}"#), Some("content")),
            (format!(r#"{{{contact},"conten":"x"}}"#), Some("conten")),
            (
                r#"{"customer":{"phone":"12345"},"content":"x"}"#.to_owned(),
                Some("customer.phone"),
            ),
            (
                r#"{"customer":{"mobile":"13800138000"},"content":"x"}"#.to_owned(),
                Some("customer.mobile"),
            ),
            (
                r#"{"customer":[],"content":"x"}"#.to_owned(),
                Some("customer"),
            ),
            (
                format!(r#"{{{contact},"content":"x","occurred_at":"yesterday"}}"#),
                Some("occurred_at"),
            ),
            (
                format!(r#"{{{contact},"content":"x","occurred_at":"2030-01-01T00:00:00Z"}}"#),
                Some("occurred_at"),
            ),
            (
                format!(r#"{{{contact},"content":"x","attributes":{{"n":1}}}}"#),
                Some("attributes.n"),
            ),
            (
                format!(r#"{{{contact},"content":"x","channel":"app"}}"#),
                Some("channel"),
            ),
            (
                format!(r#"{{{contact},"content":"x","language":"fr"}}"#),
                Some("language"),
            ),
        ];
        for (body, field) in cases {
            let error = check(&body).expect_err(&body);
            assert_eq!(error.field.as_deref(), field, "{body}: {error:?}");
            assert!(!error.reason.is_empty());
        }
    }
}
