//! Customer profiles, pure: the keyed hash a customer is found by (the one recipe intake's
//! reply check and the workflow's contact index share), the contact a lookup names, who may
//! read a profile, and the automatic tags and satisfaction figures computed from the
//! customer's tickets and an injected `now`.
//!
//! A contact hash is `HMAC-SHA256(key, label || 0x00 || value)`, `label` one of
//! `customer_id`, `phone`, `email`, `wechat_openid` and `value` the contact as a validated
//! submission holds it (a phone in E.164 form, an e-mail with its domain in lower case, ids
//! trimmed). The key is secret and lives outside the log, so a hash leads to nobody without it.

use crate::config::CustomersConfig;
use crate::event::{CustomerTagged, Event};
use crate::submission::{Customer, Email, Phone};
use crate::ticket::{Customer as TicketCustomer, Ticket};
use crate::types::{Actor, Kind, Outcome, Role};
use crate::DomainError;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The keyed hash of one contact, `label` naming its kind.
pub fn contact_digest(key: &[u8], label: &str, value: &str) -> Vec<u8> {
    // HMAC takes keys of any length: `new_from_slice` never fails for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(label.as_bytes());
    mac.update(b"\0");
    mac.update(value.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The keyed hashes of every contact of a validated submission's `customer`; none for
/// anonymous feedback.
pub fn contact_hashes(key: &[u8], customer: &Customer) -> Vec<Vec<u8>> {
    hashes_of(
        key,
        [
            customer.customer_id.as_deref(),
            customer.phone.as_ref().map(|phone| phone.as_str()),
            customer.email.as_ref().map(|email| email.as_str()),
            customer.wechat_openid.as_deref(),
        ],
    )
}

/// The keyed hashes of every contact of a ticket's customer (stored as the submission
/// normalised it, so the hashes equal [`contact_hashes`] of that submission).
pub fn ticket_contact_hashes(key: &[u8], customer: &TicketCustomer) -> Vec<Vec<u8>> {
    hashes_of(
        key,
        [
            customer.customer_id.as_deref(),
            customer.phone.as_deref(),
            customer.email.as_deref(),
            customer.wechat_openid.as_deref(),
        ],
    )
}

/// The hashes of customer id, phone, e-mail and WeChat openid, those given and not blank.
fn hashes_of(key: &[u8], values: [Option<&str>; 4]) -> Vec<Vec<u8>> {
    ["customer_id", "phone", "email", "wechat_openid"]
        .into_iter()
        .zip(values)
        .filter_map(|(label, value)| {
            value
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(|value| contact_digest(key, label, value))
        })
        .collect()
}

/// The contact a profile is looked up by, normalised as a submission's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactQuery {
    CustomerId(String),
    Phone(Phone),
    Email(Email),
    WechatOpenid(String),
}

impl ContactQuery {
    /// The label of the contact's hash.
    pub fn label(&self) -> &'static str {
        match self {
            ContactQuery::CustomerId(_) => "customer_id",
            ContactQuery::Phone(_) => "phone",
            ContactQuery::Email(_) => "email",
            ContactQuery::WechatOpenid(_) => "wechat_openid",
        }
    }

    /// The normalised value that is hashed.
    pub fn value(&self) -> &str {
        match self {
            ContactQuery::CustomerId(value) | ContactQuery::WechatOpenid(value) => value,
            ContactQuery::Phone(phone) => phone.as_str(),
            ContactQuery::Email(email) => email.as_str(),
        }
    }

    /// The keyed hash of the contact.
    pub fn digest(&self, key: &[u8]) -> Vec<u8> {
        contact_digest(key, self.label(), self.value())
    }

    /// A phone number in any form a submission accepts.
    pub fn phone(text: &str) -> Result<Self, DomainError> {
        Phone::parse(text).map(ContactQuery::Phone)
    }

    /// An e-mail address.
    pub fn email(text: &str) -> Result<Self, DomainError> {
        Email::parse(text).map(ContactQuery::Email)
    }

    /// A WeChat openid or a channel's customer id: trimmed, not empty.
    pub fn id(field: &str, text: &str, wechat: bool) -> Result<Self, DomainError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(DomainError::invalid(field, "is empty"));
        }
        Ok(if wechat {
            ContactQuery::WechatOpenid(trimmed.to_owned())
        } else {
            ContactQuery::CustomerId(trimmed.to_owned())
        })
    }
}

/// How much of a profile the caller sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileScope {
    /// Every ticket of the customer (service, manager, admin, system).
    Everything,
    /// Only the tickets this department may see (agents and heads): the figures and the
    /// automatic tags are computed from those tickets alone.
    Department(String),
}

/// Whether `actor` may read customer profiles, and how much of them.
pub fn profile_scope(actor: &Actor) -> Result<ProfileScope, DomainError> {
    match actor.role {
        Role::Service | Role::Manager | Role::Admin | Role::System => Ok(ProfileScope::Everything),
        Role::Agent | Role::Head => match actor.department.as_deref() {
            Some(department) if !department.is_empty() => {
                Ok(ProfileScope::Department(department.to_owned()))
            }
            _ => Err(refused(actor, "read customer profiles")),
        },
        Role::Adapter | Role::Auditor => Err(refused(actor, "read customer profiles")),
    }
}

fn refused(actor: &Actor, what: &str) -> DomainError {
    DomainError::PermissionDenied {
        reason: format!("{} may not {what}", crate::authorize::describe_actor(actor)),
    }
}

/// One of the customer's tickets, as the tags and figures need it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileTicket {
    pub kind: Option<Kind>,
    pub created_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub satisfaction: Option<u8>,
}

impl From<&Ticket> for ProfileTicket {
    fn from(ticket: &Ticket) -> Self {
        Self {
            kind: ticket.kind,
            created_at: ticket.created_at,
            outcome: ticket.outcome,
            satisfaction: ticket.satisfaction,
        }
    }
}

/// The tags a profile earns from its tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AutoTag {
    /// At least `participation_tickets` tickets in the last `participation_days` days.
    HighParticipation,
    /// At least one suggestion adopted or planned.
    AdoptedSuggestions,
    /// At least `complaint_count` complaints in the last `complaint_days` days.
    RepeatedComplaints,
}

impl AutoTag {
    /// The stable name shown and returned.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoTag::HighParticipation => "high_participation",
            AutoTag::AdoptedSuggestions => "adopted_suggestions",
            AutoTag::RepeatedComplaints => "repeated_complaints",
        }
    }
}

/// Whether `created_at` lies within the `days` days up to `now`.
fn within(created_at: Option<DateTime<Utc>>, now: DateTime<Utc>, days: u32) -> bool {
    created_at.is_some_and(|at| at <= now && now - at <= Duration::days(i64::from(days)))
}

/// How many complaints the customer made in the `complaint_days` days up to `now`.
pub fn recent_complaints(
    tickets: &[ProfileTicket],
    now: DateTime<Utc>,
    config: &CustomersConfig,
) -> usize {
    tickets
        .iter()
        .filter(|ticket| ticket.kind == Some(Kind::Complaint))
        .filter(|ticket| within(ticket.created_at, now, config.complaint_days))
        .count()
}

/// The automatic tags of a customer with these tickets at `now`, in a fixed order.
pub fn auto_tags(
    tickets: &[ProfileTicket],
    now: DateTime<Utc>,
    config: &CustomersConfig,
) -> Vec<AutoTag> {
    let mut tags = Vec::new();
    let recent = tickets
        .iter()
        .filter(|ticket| within(ticket.created_at, now, config.participation_days))
        .count();
    if recent >= config.participation_tickets as usize {
        tags.push(AutoTag::HighParticipation);
    }
    if tickets.iter().any(|ticket| {
        ticket.kind == Some(Kind::Suggestion)
            && matches!(ticket.outcome, Some(Outcome::Adopted | Outcome::Planned))
    }) {
        tags.push(AutoTag::AdoptedSuggestions);
    }
    if recent_complaints(tickets, now, config) >= config.complaint_count as usize {
        tags.push(AutoTag::RepeatedComplaints);
    }
    tags
}

/// The tag that marks a VIP customer.
pub const VIP_TAG: &str = "vip";

/// `decide` of `TagCustomer` on one of the customer's tickets: a tag is a name (lowercase
/// letters, digits, `_` and `-`, starting with a letter, at most 256 characters). The mark is
/// recorded even when this ticket already has it as asked: the customer's tags are the latest
/// mark over all their tickets, so a removal on this ticket must outweigh a tag on another.
pub fn decide_tag(
    _state: &Ticket,
    tag: &str,
    remove: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, DomainError> {
    let tag = tag.trim();
    crate::command::check_token("tag", tag)?;
    Ok(vec![Event::CustomerTagged(CustomerTagged {
        tag: tag.to_owned(),
        removed: remove,
        at: now,
    })])
}

/// The staff's tags of a customer with these tickets: of every tag, its latest mark over all
/// the tickets (by instant, a later ticket winning a tie) decides whether it is on. Sorted.
pub fn staff_tags<'a>(tickets: impl IntoIterator<Item = &'a Ticket>) -> Vec<String> {
    let mut latest: std::collections::BTreeMap<&str, (DateTime<Utc>, bool)> =
        std::collections::BTreeMap::new();
    for ticket in tickets {
        for mark in &ticket.customer_tags {
            let entry = latest
                .entry(mark.tag.as_str())
                .or_insert((mark.at, mark.removed));
            if mark.at >= entry.0 {
                *entry = (mark.at, mark.removed);
            }
        }
    }
    latest
        .into_iter()
        .filter(|(_, (_, removed))| !removed)
        .map(|(tag, _)| tag.to_owned())
        .collect()
}

/// Whether a new ticket's customer is a VIP, from the newest earlier ticket of each of their
/// contacts. A mark of the tag `vip` is recorded on the customer's newest ticket at that
/// moment, so the latest mark is on the newest ticket that has one: among these tickets the
/// latest `vip` mark decides; without any, a ticket received after the last mark carries the
/// customer's flag from its own receipt (`Ticket::vip`), so any of them being a VIP's says so.
pub fn vip_at_receipt<'a>(newest: impl IntoIterator<Item = &'a Ticket>) -> bool {
    let mut latest: Option<&CustomerTagged> = None;
    let mut flagged = false;
    for ticket in newest {
        flagged |= ticket.vip;
        if let Some(mark) = ticket.customer_tags.iter().find(|mark| mark.tag == VIP_TAG) {
            if latest.is_none_or(|seen| mark.at >= seen.at) {
                latest = Some(mark);
            }
        }
    }
    match latest {
        Some(mark) => !mark.removed,
        None => flagged,
    }
}

/// The customer's satisfaction history: how many reviews gave a score, and their mean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SatisfactionSummary {
    pub count: u32,
    /// `None` without any score.
    pub mean: Option<f64>,
}

/// The satisfaction scores of the tickets, summed up.
pub fn satisfaction(tickets: &[ProfileTicket]) -> SatisfactionSummary {
    let scores: Vec<u8> = tickets
        .iter()
        .filter_map(|ticket| ticket.satisfaction)
        .collect();
    let count = u32::try_from(scores.len()).unwrap_or(u32::MAX);
    let mean = (!scores.is_empty())
        .then(|| scores.iter().map(|score| f64::from(*score)).sum::<f64>() / f64::from(count));
    SatisfactionSummary { count, mean }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()
    }

    fn ticket(kind: Kind, days_ago: i64) -> ProfileTicket {
        ProfileTicket {
            kind: Some(kind),
            created_at: Some(now() - Duration::days(days_ago)),
            outcome: None,
            satisfaction: None,
        }
    }

    fn config() -> CustomersConfig {
        CustomersConfig::default()
    }

    #[test]
    fn the_defaults_are_the_documented_thresholds() {
        let config = config();
        assert_eq!(
            (
                config.participation_tickets,
                config.participation_days,
                config.complaint_count,
                config.complaint_days
            ),
            (5, 90, 3, 30)
        );
    }

    #[test]
    fn three_complaints_within_thirty_days_are_repeated_complaints() {
        let tickets = vec![
            ticket(Kind::Complaint, 1),
            ticket(Kind::Complaint, 10),
            ticket(Kind::Complaint, 29),
        ];
        assert_eq!(
            auto_tags(&tickets, now(), &config()),
            vec![AutoTag::RepeatedComplaints]
        );
        assert_eq!(recent_complaints(&tickets, now(), &config()), 3);
    }

    #[test]
    fn a_complaint_older_than_the_window_does_not_count() {
        let tickets = vec![
            ticket(Kind::Complaint, 1),
            ticket(Kind::Complaint, 10),
            ticket(Kind::Complaint, 31),
            ticket(Kind::Inquiry, 2),
        ];
        assert!(auto_tags(&tickets, now(), &config()).is_empty());
        assert_eq!(recent_complaints(&tickets, now(), &config()), 2);
    }

    #[test]
    fn a_ticket_after_now_is_not_counted() {
        let tickets = vec![
            ticket(Kind::Complaint, 1),
            ticket(Kind::Complaint, 2),
            ticket(Kind::Complaint, -1),
        ];
        assert!(auto_tags(&tickets, now(), &config()).is_empty());
    }

    #[test]
    fn five_tickets_within_ninety_days_are_high_participation() {
        let mut tickets: Vec<ProfileTicket> = (0..4)
            .map(|index| ticket(Kind::Inquiry, index * 20))
            .collect();
        assert!(auto_tags(&tickets, now(), &config()).is_empty());
        tickets.push(ticket(Kind::Praise, 95));
        assert!(auto_tags(&tickets, now(), &config()).is_empty());
        tickets.push(ticket(Kind::Praise, 89));
        assert_eq!(
            auto_tags(&tickets, now(), &config()),
            vec![AutoTag::HighParticipation]
        );
    }

    #[test]
    fn an_adopted_or_planned_suggestion_is_a_contribution() {
        for (outcome, tagged) in [
            (Outcome::Adopted, true),
            (Outcome::Planned, true),
            (Outcome::Declined, false),
        ] {
            let mut suggestion = ticket(Kind::Suggestion, 400);
            suggestion.outcome = Some(outcome);
            let tags = auto_tags(&[suggestion], now(), &config());
            assert_eq!(
                tags.contains(&AutoTag::AdoptedSuggestions),
                tagged,
                "{outcome}"
            );
        }
    }

    #[test]
    fn thresholds_come_from_the_configuration() {
        let config = CustomersConfig {
            complaint_count: 2,
            complaint_days: 7,
            ..CustomersConfig::default()
        };
        let tickets = vec![ticket(Kind::Complaint, 1), ticket(Kind::Complaint, 6)];
        assert_eq!(
            auto_tags(&tickets, now(), &config),
            vec![AutoTag::RepeatedComplaints]
        );
    }

    #[test]
    fn satisfaction_is_the_mean_of_the_scores_given() {
        let mut first = ticket(Kind::Inquiry, 1);
        first.satisfaction = Some(5);
        let mut second = ticket(Kind::Complaint, 2);
        second.satisfaction = Some(2);
        let summary = satisfaction(&[first, second, ticket(Kind::Praise, 3)]);
        assert_eq!(summary.count, 2);
        assert_eq!(summary.mean, Some(3.5));
        assert_eq!(satisfaction(&[]).mean, None);
    }

    #[test]
    fn a_lookup_hashes_like_the_submission_it_matches() {
        let key = [7u8; 32];
        let customer = Customer {
            customer_id: None,
            name: None,
            phone: Some(Phone::parse("+86 138 1234 5678").unwrap()),
            email: Some(Email::parse("Li@Example.COM").unwrap()),
            wechat_openid: Some("o-abc".into()),
        };
        let hashes = contact_hashes(&key, &customer);
        assert_eq!(hashes.len(), 3);
        let stored = TicketCustomer {
            phone: customer
                .phone
                .as_ref()
                .map(|phone| phone.as_str().to_owned()),
            email: customer
                .email
                .as_ref()
                .map(|email| email.as_str().to_owned()),
            wechat_openid: customer.wechat_openid.clone(),
            ..TicketCustomer::default()
        };
        assert_eq!(ticket_contact_hashes(&key, &stored), hashes);
        for query in [
            ContactQuery::phone("138-1234-5678").unwrap(),
            ContactQuery::email("Li@example.com").unwrap(),
            ContactQuery::id("wechat_openid", " o-abc ", true).unwrap(),
        ] {
            assert!(hashes.contains(&query.digest(&key)), "{query:?}");
            assert!(!hashes.contains(&query.digest(&[8u8; 32])), "{query:?}");
        }
        // The same value under another label is another hash.
        assert!(!hashes.contains(
            &ContactQuery::id("customer_id", "o-abc", false)
                .unwrap()
                .digest(&key)
        ));
    }

    #[test]
    fn a_new_ticket_is_a_vips_by_the_latest_vip_mark_else_by_the_flag() {
        let at = |hours: i64| now() + Duration::hours(hours);
        let mark = |removed: bool, hours: i64| CustomerTagged {
            tag: VIP_TAG.to_owned(),
            removed,
            at: at(hours),
        };
        let ticket = |vip: bool, marks: Vec<CustomerTagged>| Ticket {
            vip,
            customer_tags: marks,
            ..Ticket::default()
        };
        assert!(!vip_at_receipt(std::iter::empty::<&Ticket>()));
        assert!(!vip_at_receipt([&ticket(false, Vec::new())]));
        // Received while the customer was a VIP, no mark since.
        assert!(vip_at_receipt([&ticket(true, Vec::new())]));
        // A mark outweighs the flags; the latest mark wins.
        assert!(!vip_at_receipt([&ticket(true, vec![mark(true, 3)])]));
        assert!(vip_at_receipt([
            &ticket(false, vec![mark(false, 4)]),
            &ticket(false, vec![mark(true, 2)]),
        ]));
        assert!(!vip_at_receipt([
            &ticket(true, vec![mark(false, 1)]),
            &ticket(false, vec![mark(true, 2)]),
        ]));
        // Other tags say nothing about VIP.
        let loyal = CustomerTagged {
            tag: "loyal".to_owned(),
            removed: false,
            at: at(5),
        };
        assert!(!vip_at_receipt([&ticket(false, vec![loyal])]));
    }

    #[test]
    fn staff_tags_are_the_latest_mark_of_each_tag_over_the_tickets() {
        let at = |minutes: i64| now() + Duration::minutes(minutes);
        let mut first = Ticket::default();
        let events = decide_tag(&first, " vip ", false, at(0)).unwrap();
        assert_eq!(events.len(), 1);
        first = crate::apply(first, &events[0]);
        // A bad name is refused.
        assert!(decide_tag(&first, "Not A Tag", false, at(1)).is_err());
        let mut second = Ticket::default();
        for event in decide_tag(&second, "loyal", false, at(2)).unwrap() {
            second = crate::apply(second, &event);
        }
        assert_eq!(staff_tags([&first, &second]), vec!["loyal", "vip"]);
        // Removed later on another ticket: off.
        for event in decide_tag(&second, "vip", true, at(3)).unwrap() {
            second = crate::apply(second, &event);
        }
        assert_eq!(staff_tags([&first, &second]), vec!["loyal"]);
        // Set again on the first: on.
        for event in decide_tag(&first, "vip", true, at(4))
            .unwrap()
            .into_iter()
            .chain(decide_tag(&Ticket::default(), "vip", false, at(5)).unwrap())
        {
            first = crate::apply(first, &event);
        }
        assert_eq!(staff_tags([&first, &second]), vec!["loyal", "vip"]);
        assert_eq!(first.customer_tags.len(), 1, "one mark per tag");
    }

    #[test]
    fn who_reads_profiles() {
        let actor = |role: Role, department: Option<&str>| Actor {
            principal: "p".into(),
            role,
            department: department.map(str::to_owned),
        };
        assert_eq!(
            profile_scope(&actor(Role::Service, None)),
            Ok(ProfileScope::Everything)
        );
        assert_eq!(
            profile_scope(&actor(Role::Manager, None)),
            Ok(ProfileScope::Everything)
        );
        assert_eq!(
            profile_scope(&actor(Role::Agent, Some("technical"))),
            Ok(ProfileScope::Department("technical".into()))
        );
        for role in [Role::Adapter, Role::Auditor] {
            assert!(matches!(
                profile_scope(&actor(role, None)),
                Err(DomainError::PermissionDenied { .. })
            ));
        }
        assert!(profile_scope(&actor(Role::Head, None)).is_err());
    }
}
