//! Conversions between the generated `feedback.v1` types and the domain's types, at intake's
//! edge.

use domain::rules::Language;
use domain::submission::{Submission, SubmissionInput};
use domain::types::{Classification, Deadlines};
use domain::DomainError;
use proto::v1;

pub use proto::time::{instant_from, timestamp};

/// The language a request asks for; `None` means the configured default.
pub fn language_from(language: i32) -> Result<Option<Language>, DomainError> {
    v1::Language::try_from(language)
        .map(v1::Language::to_domain)
        .map_err(|_| DomainError::invalid("language", format!("unknown language {language}")))
}

/// The raw submission of a request, before validation.
pub fn submission_input(request: &v1::SubmitRequest) -> Result<SubmissionInput, DomainError> {
    let occurred_at = request
        .occurred_at
        .as_ref()
        .map(|timestamp| instant_from("occurred_at", timestamp))
        .transpose()?;
    Ok(SubmissionInput {
        occurred_at,
        ..service::submission::input(request)
    })
}

/// The normalised submission as it travels in `FeedbackReceived`.
pub fn submission_message(
    submission: &Submission,
    dedupe_key: &str,
    language: Language,
) -> v1::Submission {
    let customer = &submission.customer;
    v1::Submission {
        channel: submission.channel.as_str().to_owned(),
        external_id: submission.external_id.clone().unwrap_or_default(),
        dedupe_key: dedupe_key.to_owned(),
        customer: Some(v1::Customer {
            customer_id: customer.customer_id.clone().unwrap_or_default(),
            name: customer.name.clone().unwrap_or_default(),
            phone: customer
                .phone
                .as_ref()
                .map(|phone| phone.as_str().to_owned())
                .unwrap_or_default(),
            email: customer
                .email
                .as_ref()
                .map(|email| email.as_str().to_owned())
                .unwrap_or_default(),
            wechat_openid: customer.wechat_openid.clone().unwrap_or_default(),
        }),
        content: submission.content.as_str().to_owned(),
        occurred_at: Some(timestamp(submission.occurred_at)),
        product: submission.product.clone().unwrap_or_default(),
        order_id: submission.order_id.clone().unwrap_or_default(),
        attributes: submission
            .attributes
            .as_map()
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect(),
        language: v1::Language::from(language) as i32,
        reply_to_ticket_id: String::new(),
    }
}

pub fn classification_message(classification: &Classification) -> v1::Classification {
    v1::Classification {
        kind: v1::Kind::from(classification.kind) as i32,
        content_type: v1::ContentType::from(classification.content_type) as i32,
        priority: v1::Priority::from(classification.priority) as i32,
        scope: v1::Scope::from(classification.scope) as i32,
        keywords: classification.keywords.clone(),
        confidence: classification.confidence,
        confident: classification.confident,
        complex: classification.complex,
    }
}

pub fn deadlines_message(deadlines: &Deadlines) -> v1::Deadlines {
    v1::Deadlines {
        respond_by: Some(timestamp(deadlines.respond_by)),
        resolve_by: Some(timestamp(deadlines.resolve_by)),
        warn_respond_at: Some(timestamp(deadlines.warn_respond_at)),
        warn_resolve_at: Some(timestamp(deadlines.warn_resolve_at)),
        policy_version: deadlines.policy_version.clone(),
        calendar_version: deadlines.calendar_version.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn timestamps_round_trip_and_bad_ones_name_the_field() {
        let instant = DateTime::<Utc>::from_timestamp(1_700_000_000, 123_000_000).expect("valid");
        assert_eq!(
            instant_from("occurred_at", &timestamp(instant)).expect("valid"),
            instant
        );
        let bad = prost_types::Timestamp {
            seconds: 0,
            nanos: -5,
        };
        let error = instant_from("occurred_at", &bad).expect_err("negative nanos");
        assert!(
            matches!(error, DomainError::Invalid { ref field, ref reason }
            if field == "occurred_at" && reason.contains("nanos -5"))
        );
    }

    #[test]
    fn empty_strings_are_absent() {
        let request = v1::SubmitRequest {
            channel: "web".into(),
            external_id: "  ".into(),
            customer: Some(v1::Customer {
                phone: "13800138000".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let input = submission_input(&request).expect("converts");
        assert_eq!(input.external_id, None);
        assert_eq!(input.customer.email, None);
        assert_eq!(input.customer.phone.as_deref(), Some("13800138000"));
    }
}
