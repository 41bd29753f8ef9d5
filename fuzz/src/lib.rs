//! The fuzz targets of closedloop as plain functions of bytes: `intake_validator` (the fields of
//! a submission through `domain::submission::Submission::parse`) and `nats_payload` (a
//! `feedback.inbound.<channel>` request through intake's decode and validation path). cargo-fuzz
//! drives them from `fuzz_targets/`; `crates/intake/tests/fuzz_smoke.rs` includes this file and
//! drives them with a seeded generator on stable Rust, so `make test` runs them too.
//!
//! Each target panics only when the code under test breaks a promise: a refusal that is not
//! INVALID_ARGUMENT naming a field, or an accepted submission that is not normalised.

use chrono::{DateTime, Utc};
use domain::rules::Rules;
use domain::submission::{CustomerInput, Submission, SubmissionInput};
use domain::DomainError;
use prost::Message;
use proto::v1;
use std::sync::OnceLock;

/// The built-in rules: the channels and limits of the defaults.
pub fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(Rules::defaults)
}

/// A fixed "now", so that a failing input fails again.
pub fn fixed_now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_795_000_000, 0).expect("a timestamp in range")
}

/// The subjects a NATS payload is tried on, chosen by the input's first byte: configured
/// channels, an unknown one, none, and odd ones.
pub const SUBJECTS: &[&str] = &[
    "feedback.inbound.web",
    "feedback.inbound.app",
    "feedback.inbound.email",
    "feedback.inbound.hotline",
    "feedback.inbound.fax",
    "feedback.inbound.",
    "feedback.inbound.WEB",
    "feedback.inbound.网页",
];

/// Reads the fields of a submission from bytes: fields are separated by the byte 0xFF (never
/// part of UTF-8), each field is read as lossy UTF-8, and an empty field is absent. Order:
/// channel, external id, customer id, name, phone, e-mail, WeChat id, content, occurred at
/// (up to 8 bytes, little-endian seconds), product, order id, then attribute keys and values.
pub fn submission_input(data: &[u8]) -> SubmissionInput {
    let mut fields = data.split(|byte| *byte == 0xFF);
    let mut text = || {
        fields
            .next()
            .map(|field| String::from_utf8_lossy(field).into_owned())
    };
    let channel = text().unwrap_or_default();
    let external_id = text().filter(|value| !value.is_empty());
    let customer = CustomerInput {
        customer_id: text().filter(|value| !value.is_empty()),
        name: text().filter(|value| !value.is_empty()),
        phone: text().filter(|value| !value.is_empty()),
        email: text().filter(|value| !value.is_empty()),
        wechat_openid: text().filter(|value| !value.is_empty()),
    };
    let content = text().unwrap_or_default();
    let occurred_at = text().and_then(|field| {
        let bytes = field.as_bytes();
        if bytes.is_empty() {
            return None;
        }
        let mut seconds = [0u8; 8];
        for (slot, byte) in seconds.iter_mut().zip(bytes) {
            *slot = *byte;
        }
        DateTime::<Utc>::from_timestamp(i64::from_le_bytes(seconds), 0)
    });
    let product = text().filter(|value| !value.is_empty());
    let order_id = text().filter(|value| !value.is_empty());
    let mut attributes = std::collections::BTreeMap::new();
    while let (Some(key), Some(value)) = (text(), text()) {
        attributes.insert(key, value);
    }
    SubmissionInput {
        channel,
        external_id,
        customer,
        content,
        occurred_at,
        product,
        order_id,
        attributes,
    }
}

/// The input a validated submission would be if it were sent again.
fn input_of(submission: &Submission) -> SubmissionInput {
    let customer = &submission.customer;
    SubmissionInput {
        channel: submission.channel.as_str().to_owned(),
        external_id: submission.external_id.clone(),
        customer: CustomerInput {
            customer_id: customer.customer_id.clone(),
            name: customer.name.clone(),
            phone: customer
                .phone
                .as_ref()
                .map(|phone| phone.as_str().to_owned()),
            email: customer
                .email
                .as_ref()
                .map(|email| email.as_str().to_owned()),
            wechat_openid: customer.wechat_openid.clone(),
        },
        content: submission.content.as_str().to_owned(),
        occurred_at: Some(submission.occurred_at),
        product: submission.product.clone(),
        order_id: submission.order_id.clone(),
        attributes: submission.attributes.as_map().clone(),
    }
}

/// What every accepted submission must satisfy: within the limits, normalised, and stable
/// (validating the normalised form again gives the same submission and the same key).
fn check_accepted(submission: &Submission, now: DateTime<Utc>) {
    let config = rules().config();
    let content = submission.content.as_str();
    assert!(!content.trim().is_empty(), "accepted empty content");
    assert!(
        content.chars().count() <= config.limits.content_max_chars,
        "accepted content over the limit"
    );
    assert!(
        config
            .channels
            .iter()
            .any(|channel| channel == submission.channel.as_str()),
        "accepted an unconfigured channel {:?}",
        submission.channel.as_str()
    );
    if let Some(phone) = &submission.customer.phone {
        let digits = phone.as_str().strip_prefix('+').unwrap_or_default();
        assert!(
            !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()),
            "phone not in E.164: {:?}",
            phone.as_str()
        );
    }
    if let Some(email) = &submission.customer.email {
        assert_eq!(
            email.as_str().matches('@').count(),
            1,
            "{:?}",
            email.as_str()
        );
    }
    let key = submission.idempotency_key();
    assert!(!key.is_empty());
    let again = Submission::parse(&input_of(submission), &config.limits, &config.channels, now)
        .unwrap_or_else(|error| panic!("the normalised submission is refused: {error}"));
    assert_eq!(&again, submission, "normalisation is not stable");
    assert_eq!(again.idempotency_key(), key);
}

/// Bytes → submission fields → the intake validator.
pub fn intake_validator(data: &[u8]) {
    let input = submission_input(data);
    let config = rules().config();
    let now = fixed_now();
    match Submission::parse(&input, &config.limits, &config.channels, now) {
        Ok(submission) => check_accepted(&submission, now),
        Err(DomainError::Invalid { field, reason }) => {
            assert!(!field.is_empty(), "a refusal names no field");
            assert!(!reason.is_empty(), "a refusal gives no reason");
        }
        Err(other) => panic!("the validator refused with a non-input error: {other:?}"),
    }
}

/// Bytes → (subject chosen by the first byte, payload) → intake's NATS decode and validation.
pub fn nats_payload(data: &[u8]) {
    let (subject, payload) = match data.split_first() {
        Some((first, rest)) => (SUBJECTS[usize::from(*first) % SUBJECTS.len()], rest),
        None => (SUBJECTS[0], data),
    };
    let now = fixed_now();
    match intake::inbound::check_payload(rules(), subject, payload, now) {
        Ok(submission) => check_accepted(&submission, now),
        Err(status) => {
            assert_eq!(
                status.code(),
                tonic::Code::InvalidArgument,
                "a bad payload must be INVALID_ARGUMENT: {status:?}"
            );
            assert!(!status.message().is_empty(), "a refusal without a message");
            // The reply body of a refusal must encode whatever the message holds.
            let body = intake::grpc::error_status(&status).encode_to_vec();
            let decoded = v1::ErrorStatus::decode(body.as_slice()).expect("the reply decodes");
            assert_eq!(decoded.code, tonic::Code::InvalidArgument as i32);
        }
    }
}

/// Valid requests to start mutating from (encoded, they are also the seed corpus).
pub fn seed_requests() -> Vec<v1::SubmitRequest> {
    let customer = |phone: &str, email: &str| {
        Some(v1::Customer {
            phone: phone.to_owned(),
            email: email.to_owned(),
            ..Default::default()
        })
    };
    vec![
        v1::SubmitRequest {
            channel: "web".into(),
            external_id: "form-1".into(),
            customer: customer("138 0013 8000", "Li@Example.COM"),
            content: "APP卡顿，打开很慢".into(),
            ..Default::default()
        },
        v1::SubmitRequest {
            channel: String::new(),
            customer: customer("+44 20 7946 0958", ""),
            content: "The invoice was wrong, please refund".into(),
            product: "billing".into(),
            order_id: "SO-2026-0001".into(),
            attributes: [("source".to_owned(), "mail".to_owned())].into(),
            occurred_at: Some(prost_types::Timestamp {
                seconds: 1_794_990_000,
                nanos: 0,
            }),
            language: v1::Language::En as i32,
            ..Default::default()
        },
        v1::SubmitRequest {
            channel: "app".into(),
            customer: Some(v1::Customer {
                wechat_openid: "o6_bmjrPTlm6_2sgVt7hMZOPfL2M".into(),
                name: "张三".into(),
                customer_id: "c-42".into(),
                ..Default::default()
            }),
            content: "售后响应慢，安全隐患".into(),
            ..Default::default()
        },
    ]
}
