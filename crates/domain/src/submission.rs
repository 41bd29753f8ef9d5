//! Submission validation for intake: newtypes whose constructor is the validation (content,
//! phone, e-mail, channel, attributes), the whole submission parsed at once, and the
//! content-derived idempotency key for submissions without an external id.
//!
//! Every error is `DomainError::Invalid` with the field path as `api.md` spells it
//! (`channel`, `content`, `customer`, `customer.phone`, `customer.email`, `occurred_at`,
//! `attributes`, `attributes.<key>`, ...).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::config::LimitsConfig;
use crate::error::DomainError;

/// Trims and NFC-normalises `text`.
fn normalise(text: &str) -> String {
    text.trim().nfc().collect::<String>().trim().to_owned()
}

/// The customer's own words: trimmed, NFC-normalised, not empty, at most the configured
/// number of characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Content(String);

impl Content {
    /// Parses content of at most `max_chars` characters (after normalisation).
    pub fn parse(text: &str, max_chars: usize) -> Result<Self, DomainError> {
        let normalised = normalise(text);
        if normalised.is_empty() {
            return Err(DomainError::invalid("content", "must not be empty"));
        }
        let length = normalised.chars().count();
        if length > max_chars {
            return Err(DomainError::invalid(
                "content",
                format!("is {length} characters long, at most {max_chars} are allowed"),
            ));
        }
        Ok(Self(normalised))
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form (`+8613812345678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

/// Whether `digits` is a Chinese mobile number without country code: 11 digits, 1[3-9]...
fn is_chinese_mobile(digits: &str) -> bool {
    digits.len() == 11
        && digits.starts_with('1')
        && digits
            .as_bytes()
            .get(1)
            .is_some_and(|second| (b'3'..=b'9').contains(second))
        && digits.bytes().all(|byte| byte.is_ascii_digit())
}

impl Phone {
    /// Parses a Chinese mobile number in any common form (13812345678, +86 138 1234 5678,
    /// 0086-138-1234-5678, 86 13812345678) into `+86...`, and any other number written with
    /// a leading `+` (or `00`) and 8 to 15 digits into E.164. Spaces, hyphens, dots and
    /// parentheses are ignored. Parsing the result again gives the same number.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let field = "customer.phone";
        let trimmed: String = text.trim().nfkc().collect();
        let mut international = false;
        let mut digits = String::new();
        for (index, character) in trimmed.chars().enumerate() {
            match character {
                '+' if index == 0 => international = true,
                '0'..='9' => digits.push(character),
                ' ' | '-' | '.' | '(' | ')' => {}
                other => {
                    return Err(DomainError::invalid(
                        field,
                        format!("unexpected character {other:?} in a phone number"),
                    ))
                }
            }
        }
        if !international {
            if let Some(rest) = digits.strip_prefix("00") {
                digits = rest.to_owned();
                international = true;
            }
        }
        if !international {
            if is_chinese_mobile(&digits) {
                return Ok(Self(format!("+86{digits}")));
            }
            if let Some(rest) = digits.strip_prefix("86") {
                if is_chinese_mobile(rest) {
                    return Ok(Self(format!("+86{rest}")));
                }
            }
            return Err(DomainError::invalid(
                field,
                "not a Chinese mobile number; write other numbers with a leading + and the \
                 country code",
            ));
        }
        if digits.starts_with('0') {
            return Err(DomainError::invalid(
                field,
                "a country code never starts with 0",
            ));
        }
        if !(8..=15).contains(&digits.len()) {
            return Err(DomainError::invalid(
                field,
                format!(
                    "an international number has 8 to 15 digits, this one has {}",
                    digits.len()
                ),
            ));
        }
        if let Some(rest) = digits.strip_prefix("86") {
            if rest.starts_with('1') && !is_chinese_mobile(rest) {
                return Err(DomainError::invalid(
                    field,
                    "a Chinese mobile number has 11 digits starting 13 to 19",
                ));
            }
        }
        Ok(Self(format!("+{digits}")))
    }

    /// The E.164 form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address: one `@`, a plausible local part, a lower-cased domain, at most 254
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Parses an address; the domain is lower-cased, the local part kept as written.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let field = "customer.email";
        let address = normalise(text);
        let length = address.chars().count();
        if length > 254 {
            return Err(DomainError::invalid(
                field,
                format!("is {length} characters long, at most 254 are allowed"),
            ));
        }
        let mut parts = address.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(DomainError::invalid(field, "must contain exactly one @"));
        };
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|character| {
                character.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(character)
            });
        if !local_ok {
            return Err(DomainError::invalid(
                field,
                format!("{local:?} is not a plausible mailbox name"),
            ));
        }
        let domain = domain.to_lowercase();
        let labels: Vec<&str> = domain.split('.').collect();
        let labels_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.chars().count() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|character| character.is_alphanumeric() || character == '-')
            })
            && labels.last().is_some_and(|top| {
                top.chars().count() >= 2 && !top.chars().all(|c| c.is_ascii_digit())
            });
        if !labels_ok {
            return Err(DomainError::invalid(
                field,
                format!("{domain:?} is not a plausible mail domain"),
            ));
        }
        Ok(Self(format!("{local}@{domain}")))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A configured channel name, lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Channel(String);

impl Channel {
    /// Parses a channel name that must be one of `configured`.
    pub fn parse(text: &str, configured: &[String]) -> Result<Self, DomainError> {
        let name = text.trim().to_lowercase();
        if name.is_empty() {
            return Err(DomainError::invalid("channel", "must not be empty"));
        }
        if configured.iter().any(|channel| channel == &name) {
            Ok(Self(name))
        } else {
            Err(DomainError::invalid(
                "channel",
                format!(
                    "unknown channel {name:?}, expected one of: {}",
                    configured.join(", ")
                ),
            ))
        }
    }

    /// The channel name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free-form attributes from the adapter, within the configured limits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attributes(BTreeMap<String, String>);

/// Shortens `text` for use in a field path.
fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max_chars).collect();
        short.push('…');
        short
    }
}

impl Attributes {
    /// Checks the count, key and value lengths; keys are trimmed and NFC-normalised, values
    /// NFC-normalised. Control characters are refused in keys.
    pub fn parse(
        attributes: &BTreeMap<String, String>,
        limits: &LimitsConfig,
    ) -> Result<Self, DomainError> {
        if attributes.len() > limits.attributes_max_count {
            return Err(DomainError::invalid(
                "attributes",
                format!(
                    "has {} entries, at most {} are allowed",
                    attributes.len(),
                    limits.attributes_max_count
                ),
            ));
        }
        let mut parsed = BTreeMap::new();
        for (key, value) in attributes {
            let normalised_key = normalise(key);
            let field = format!(
                "attributes.{}",
                shorten(&normalised_key, limits.attribute_key_max_chars)
            );
            if normalised_key.is_empty() {
                return Err(DomainError::invalid(
                    "attributes",
                    "a key must not be empty",
                ));
            }
            check_length(
                &field,
                "key",
                &normalised_key,
                limits.attribute_key_max_chars,
            )?;
            if normalised_key.chars().any(char::is_control) {
                return Err(DomainError::invalid(
                    field,
                    "the key contains control characters",
                ));
            }
            let normalised_value: String = value.nfc().collect();
            let max_value = limits.attribute_value_max_chars;
            check_length(&field, "value", &normalised_value, max_value)?;
            if parsed.insert(normalised_key, normalised_value).is_some() {
                return Err(DomainError::invalid(field, "the key appears twice"));
            }
        }
        Ok(Self(parsed))
    }

    /// The attributes.
    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }
}

/// An attribute's key or value (`what`) of at most `max_chars` characters.
fn check_length(field: &str, what: &str, text: &str, max_chars: usize) -> Result<(), DomainError> {
    let length = text.chars().count();
    if length > max_chars {
        return Err(DomainError::invalid(
            field,
            format!("the {what} is {length} characters long, at most {max_chars} are allowed"),
        ));
    }
    Ok(())
}

/// Checks `occurred_at` against the injected `now`: absent means now; more than the allowed
/// skew in the future is an error.
pub fn parse_occurred_at(
    occurred_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    future_skew: TimeDelta,
) -> Result<DateTime<Utc>, DomainError> {
    match occurred_at {
        None => Ok(now),
        Some(instant) if instant > now + future_skew => Err(DomainError::invalid(
            "occurred_at",
            format!(
                "{} is in the future (now is {}, at most {} s of clock skew are allowed)",
                instant.to_rfc3339(),
                now.to_rfc3339(),
                future_skew.num_seconds()
            ),
        )),
        Some(instant) => Ok(instant),
    }
}

/// A submission as it arrives from an adapter, before validation. Empty strings count as
/// absent, as protobuf delivers them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmissionInput {
    pub channel: String,
    pub external_id: Option<String>,
    pub customer: CustomerInput,
    pub content: String,
    pub occurred_at: Option<DateTime<Utc>>,
    pub product: Option<String>,
    pub order_id: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// The customer part of a [`SubmissionInput`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerInput {
    pub customer_id: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub wechat_openid: Option<String>,
}

/// A validated customer. Every field may be absent: anonymous feedback gives no contact and
/// is accepted, marked cannot be told ([`Customer::can_be_told`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechat_openid: Option<String>,
}

/// A trimmed, NFC-normalised optional text field of at most `max_chars` characters; empty
/// means absent.
fn optional_text(
    field: &str,
    value: Option<&str>,
    max_chars: usize,
) -> Result<Option<String>, DomainError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let normalised = normalise(value);
    if normalised.is_empty() {
        return Ok(None);
    }
    let length = normalised.chars().count();
    if length > max_chars {
        return Err(DomainError::invalid(
            field,
            format!("is {length} characters long, at most {max_chars} are allowed"),
        ));
    }
    if normalised.chars().any(char::is_control) {
        return Err(DomainError::invalid(field, "contains control characters"));
    }
    Ok(Some(normalised))
}

impl Customer {
    /// Validates the customer. No field is required: a customer without a phone, an e-mail
    /// address or a WeChat id cannot be told anything, and one without a `customer_id` either
    /// is anonymous, whose name, if given, is not kept (nothing could seal it: personal data
    /// is sealed per customer).
    pub fn parse(input: &CustomerInput, limits: &LimitsConfig) -> Result<Self, DomainError> {
        let max = limits.field_max_chars;
        let present = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        let phone = present(&input.phone)
            .map(|phone| Phone::parse(&phone))
            .transpose()?;
        let email = present(&input.email)
            .map(|email| Email::parse(&email))
            .transpose()?;
        let wechat_openid = optional_text(
            "customer.wechat_openid",
            input.wechat_openid.as_deref(),
            max,
        )?;
        if let Some(openid) = &wechat_openid {
            if !openid
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || "-_".contains(character))
            {
                return Err(DomainError::invalid(
                    "customer.wechat_openid",
                    "may contain only ASCII letters, digits, - and _",
                ));
            }
        }
        let mut customer = Self {
            customer_id: optional_text("customer.customer_id", input.customer_id.as_deref(), max)?,
            name: optional_text("customer.name", input.name.as_deref(), max)?,
            phone,
            email,
            wechat_openid,
        };
        if !customer.can_be_told() && customer.customer_id.is_none() {
            customer.name = None;
        }
        Ok(customer)
    }

    /// Whether a phone, an e-mail address or a WeChat id is given.
    pub fn can_be_told(&self) -> bool {
        self.phone.is_some() || self.email.is_some() || self.wechat_openid.is_some()
    }

    /// The contact that identifies the customer in a content key: phone, else e-mail, else
    /// WeChat id, else customer id, each with its kind as a prefix.
    pub fn primary_contact(&self) -> String {
        if let Some(phone) = &self.phone {
            format!("phone:{}", phone.as_str())
        } else if let Some(email) = &self.email {
            format!("email:{}", email.as_str().to_lowercase())
        } else if let Some(openid) = &self.wechat_openid {
            format!("wechat:{openid}")
        } else if let Some(id) = &self.customer_id {
            format!("customer:{id}")
        } else {
            String::new()
        }
    }
}

/// The sentence the receipt of anonymous feedback ends with: nobody will be told anything.
pub fn cannot_be_told_notice(language: crate::rules::config::Language) -> &'static str {
    match language {
        crate::rules::config::Language::Zh => {
            "您没有留下联系方式，我们无法告知处理进展，请记下工单号。"
        }
        crate::rules::config::Language::En => {
            "You left no contact, so we cannot tell you how it goes: please keep the ticket number."
        }
    }
}

/// A validated submission, ready to become a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    pub channel: Channel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub customer: Customer,
    pub content: Content,
    pub occurred_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default)]
    pub attributes: Attributes,
}

impl Submission {
    /// Validates everything, field by field in the order of `api.md`; the first error wins.
    pub fn parse(
        input: &SubmissionInput,
        limits: &LimitsConfig,
        channels: &[String],
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let max = limits.field_max_chars;
        let channel = Channel::parse(&input.channel, channels)?;
        let external_id = optional_text("external_id", input.external_id.as_deref(), max)?;
        let customer = Customer::parse(&input.customer, limits)?;
        let content = Content::parse(&input.content, limits.content_max_chars)?;
        let skew = TimeDelta::seconds(
            i64::try_from(limits.future_skew_seconds).unwrap_or(i64::MAX / 1000),
        );
        let occurred_at = parse_occurred_at(input.occurred_at, now, skew)?;
        let product = optional_text("product", input.product.as_deref(), max)?;
        let order_id = optional_text("order_id", input.order_id.as_deref(), max)?;
        let attributes = Attributes::parse(&input.attributes, limits)?;
        Ok(Self {
            channel,
            external_id,
            customer,
            content,
            occurred_at,
            product,
            order_id,
            attributes,
        })
    }

    /// The idempotency key: `channel:external_id` when the adapter gave an external id,
    /// otherwise `content:` and the [`content_key`] of the submission.
    pub fn idempotency_key(&self) -> String {
        match &self.external_id {
            Some(external_id) => format!("{}:{external_id}", self.channel.as_str()),
            None => format!(
                "content:{}",
                content_key(
                    self.channel.as_str(),
                    &self.customer.primary_contact(),
                    self.content.as_str(),
                    self.product.as_deref(),
                    self.order_id.as_deref(),
                )
            ),
        }
    }
}

/// The SHA-256 (hex) of a submission's identifying parts, for submissions without an external
/// id: the same message delivered twice gives the same key. The content is NFC-normalised,
/// trimmed, lower-cased and its white space collapsed first, so a call-back typed in again
/// with different spacing still matches. Fields are length-prefixed so that no two
/// different inputs share an encoding.
pub fn content_key(
    channel: &str,
    contact: &str,
    content: &str,
    product: Option<&str>,
    order_id: Option<&str>,
) -> String {
    let normalised_content = normalise(content)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let mut hasher = Sha256::new();
    for part in [
        channel.trim().to_lowercase(),
        contact.trim().to_owned(),
        normalised_content,
        product.map(normalise).unwrap_or_default(),
        order_id.map(normalise).unwrap_or_default(),
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}
