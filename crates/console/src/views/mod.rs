//! The pages, as maud templates: every value is escaped by the template engine; nothing is
//! written into a page as raw HTML except the monthly report, which is embedded escaped in
//! a sandboxed frame.

pub mod audit;
pub mod forms;
pub mod layout;
pub mod people;
pub mod queue;
pub mod reports;
pub mod status;
pub mod ticket;

use crate::i18n::{value, Lang};
use chrono::{DateTime, FixedOffset};
use maud::{html, Markup};
use proto::v1;

/// An instant in the business calendar's offset, e.g. `2026-12-06 10:30 +08:00`.
pub fn when(at: Option<&prost_types::Timestamp>, offset: FixedOffset) -> String {
    at.and_then(|at| proto::time::instant(at).ok())
        .map(|instant: DateTime<chrono::Utc>| {
            instant
                .with_timezone(&offset)
                .format("%Y-%m-%d %H:%M %:z")
                .to_string()
        })
        .unwrap_or_else(|| "—".to_owned())
}

/// The text of a step number.
pub fn step(lang: Lang, number: i32) -> String {
    match v1::Step::try_from(number)
        .ok()
        .and_then(v1::Step::to_domain)
    {
        Some(step) => value(lang, "step", step.as_str()),
        None => "—".to_owned(),
    }
}

pub fn priority(lang: Lang, number: i32) -> String {
    match v1::Priority::try_from(number)
        .ok()
        .and_then(v1::Priority::to_domain)
    {
        Some(priority) => value(lang, "priority", priority.as_str()),
        None => "—".to_owned(),
    }
}

/// The SLA state as a badge (with a class for its colour and a word, never colour alone).
pub fn sla_badge(lang: Lang, number: i32) -> Markup {
    match v1::SlaState::try_from(number)
        .ok()
        .and_then(v1::SlaState::to_domain)
    {
        Some(state) => html! {
            span class={ "badge sla-" (state.as_str()) } { (value(lang, "sla", state.as_str())) }
        },
        None => html! { span class="badge" { "—" } },
    }
}

pub fn kind(lang: Lang, number: i32) -> String {
    match v1::Kind::try_from(number)
        .ok()
        .and_then(v1::Kind::to_domain)
    {
        Some(kind) => value(lang, "kind", kind.as_str()),
        None => "—".to_owned(),
    }
}

pub fn content_type(lang: Lang, number: i32) -> String {
    match v1::ContentType::try_from(number)
        .ok()
        .and_then(v1::ContentType::to_domain)
    {
        Some(content_type) => value(lang, "content_type", content_type.as_str()),
        None => "—".to_owned(),
    }
}

pub fn scope(lang: Lang, number: i32) -> String {
    match v1::Scope::try_from(number)
        .ok()
        .and_then(v1::Scope::to_domain)
    {
        Some(scope) => value(lang, "scope", scope.as_str()),
        None => "—".to_owned(),
    }
}

pub fn outcome(lang: Lang, number: i32) -> String {
    match v1::Outcome::try_from(number)
        .ok()
        .and_then(v1::Outcome::to_domain)
    {
        Some(outcome) => value(lang, "outcome", outcome.as_str()),
        None => "—".to_owned(),
    }
}

pub fn role(lang: Lang, number: i32) -> String {
    match v1::Role::try_from(number)
        .ok()
        .and_then(v1::Role::to_domain)
    {
        Some(role) => value(lang, "role", role.as_str()),
        None => "—".to_owned(),
    }
}

/// A phone number with its middle hidden (`138****5678`); contact data is shown masked.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().collect();
    if digits.len() <= 7 {
        return "*".repeat(digits.len());
    }
    let tail: String = digits[digits.len() - 4..].iter().collect();
    let head: String = digits[..3].iter().collect();
    format!("{head}****{tail}")
}

/// An e-mail address with its local part hidden but the first letter (`z***@example.com`).
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}
