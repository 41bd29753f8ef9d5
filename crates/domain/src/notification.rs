//! Customer notifications: the kinds of notice a customer is sent over a ticket's life, and
//! the pure mapping from a log event to the notices it yields. The notifier (`cloop-notify`)
//! delivers them; the results come back as `customer_notified` / `notification_failed`
//! events.

use crate::event::Event;
pub use crate::types::NoticeKind;
use crate::types::Outcome;

/// The notices one log event yields, in the order they are sent.
///
/// `outcome` is the solution's outcome where the event itself does not carry it (a
/// `solution_approved` event approves the solution proposed before it); the notifier reads
/// it from the ticket. An unknown outcome gives the plain solution notice. A suggestion's
/// customer is told at adoption (`suggestion_adopted`) or plan (`suggestion_planned`), at
/// delivery and at the award, each once: the events are recorded once per ticket.
pub fn notices_for(event: &Event, outcome: Option<Outcome>) -> Vec<NoticeKind> {
    let resolved = |outcome: Option<Outcome>| {
        let first = match outcome {
            Some(Outcome::Adopted) => NoticeKind::SuggestionAdopted,
            Some(Outcome::Planned) => NoticeKind::SuggestionPlanned,
            _ => NoticeKind::Solution,
        };
        vec![first, NoticeKind::ReviewRequest]
    };
    match event {
        Event::Received(_) => vec![NoticeKind::Received],
        Event::Acknowledged(_) => vec![NoticeKind::FirstResponse],
        Event::SolutionProposed(proposed) if !proposed.approval_required => {
            resolved(Some(proposed.outcome))
        }
        Event::SolutionApproved(_) => resolved(outcome),
        // A ticket linked to a problem is solved by its parent's solution: its own customer is
        // told the outcome and asked for a review like any other.
        Event::ParentResolved(resolved_by_parent) => resolved(Some(resolved_by_parent.outcome)),
        Event::Archived(_) => vec![NoticeKind::Closed],
        // A note for the customer reaches them; a team note stays inside.
        Event::NoteAdded(note) if note.to_customer => vec![NoticeKind::Note],
        Event::SuggestionDelivered(_) => vec![NoticeKind::SuggestionDelivered],
        Event::AwardGranted(_) => vec![NoticeKind::SuggestionAwarded],
        _ => Vec::new(),
    }
}

/// The event types that may yield a notice: the notifier subscribes to these subjects only.
pub const NOTIFYING_EVENT_TYPES: &[&str] = &[
    "received",
    "acknowledged",
    "solution_proposed",
    "solution_approved",
    "parent_resolved",
    "archived",
    "note_added",
    "suggestion_delivered",
    "award_granted",
];

/// Masks a phone number, an e-mail address or another contact for the record: enough to
/// tell which of the customer's contacts was used, never the whole value.
/// `13812345678` → `138****5678`, `zhang@example.com` → `z***@example.com`.
pub fn mask_contact(contact: &str) -> String {
    let contact = contact.trim();
    if let Some((local, domain)) = contact.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let characters: Vec<char> = contact.chars().collect();
    if characters.len() >= 8 {
        let head: String = characters[..3].iter().collect();
        let tail: String = characters[characters.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    } else {
        let head: String = characters.iter().take(1).collect();
        format!("{head}***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Acknowledged, Archived, NoteAdded, SolutionApproved, SolutionProposed};
    use chrono::{TimeZone, Utc};

    fn at() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 16, 9, 0, 0)
            .single()
            .expect("valid instant")
    }

    fn proposed(outcome: Outcome, approval_required: bool) -> Event {
        Event::SolutionProposed(SolutionProposed {
            outcome,
            text: "fixed".to_owned(),
            reason: String::new(),
            approval_required,
            policy_version: "v1".to_owned(),
            at: at(),
        })
    }

    #[test]
    fn each_notifying_event_yields_its_notices() {
        use NoticeKind as N;
        let acknowledged = Event::Acknowledged(Acknowledged {
            message: "on it".to_owned(),
            at: at(),
        });
        assert_eq!(notices_for(&acknowledged, None), vec![N::FirstResponse]);
        assert_eq!(
            notices_for(&proposed(Outcome::Fixed, false), None),
            vec![N::Solution, N::ReviewRequest]
        );
        assert_eq!(
            notices_for(&proposed(Outcome::Adopted, false), None),
            vec![N::SuggestionAdopted, N::ReviewRequest]
        );
        assert!(notices_for(&proposed(Outcome::Adopted, true), None).is_empty());
        let approved = Event::SolutionApproved(SolutionApproved {
            comment: String::new(),
            at: at(),
        });
        assert_eq!(
            notices_for(&approved, Some(Outcome::Adopted)),
            vec![N::SuggestionAdopted, N::ReviewRequest]
        );
        assert_eq!(
            notices_for(&approved, None),
            vec![N::Solution, N::ReviewRequest]
        );
        assert_eq!(
            notices_for(&Event::Archived(Archived { at: at() }), None),
            vec![N::Closed]
        );
        let by_parent = |outcome| {
            Event::ParentResolved(crate::event::ParentResolved {
                parent: crate::ids::TicketIdGenerator::new(1).next(at()),
                outcome,
                solution: "replaced the part".to_owned(),
                at: at(),
            })
        };
        assert_eq!(
            notices_for(&by_parent(Outcome::Fixed), None),
            vec![N::Solution, N::ReviewRequest]
        );
        assert_eq!(
            notices_for(&by_parent(Outcome::Adopted), None),
            vec![N::SuggestionAdopted, N::ReviewRequest]
        );
        let note = Event::NoteAdded(NoteAdded {
            text: "internal".to_owned(),
            to_customer: false,
            at: at(),
        });
        assert!(notices_for(&note, None).is_empty());
        let to_customer = Event::NoteAdded(NoteAdded {
            text: "we are on it".to_owned(),
            to_customer: true,
            at: at(),
        });
        assert_eq!(notices_for(&to_customer, None), vec![N::Note]);
        assert_eq!(
            notices_for(&proposed(Outcome::Planned, false), None),
            vec![N::SuggestionPlanned, N::ReviewRequest]
        );
        assert_eq!(
            notices_for(&approved, Some(Outcome::Planned)),
            vec![N::SuggestionPlanned, N::ReviewRequest]
        );
        let delivered = Event::SuggestionDelivered(crate::event::Delivery {
            delivered_on: chrono::NaiveDate::from_ymd_opt(2026, 3, 20).expect("date"),
            note: String::new(),
            at: at(),
        });
        assert_eq!(notices_for(&delivered, None), vec![N::SuggestionDelivered]);
        let award = Event::AwardGranted(crate::event::AwardGranted {
            month: "2026-02".to_owned(),
            rank: 1,
            score: 15,
            reward: "500 points".to_owned(),
            at: at(),
        });
        assert_eq!(notices_for(&award, None), vec![N::SuggestionAwarded]);
        for event in [delivered, award] {
            assert!(NOTIFYING_EVENT_TYPES.contains(&event.event_type()));
        }
    }

    #[test]
    fn the_subscribed_types_cover_every_notifying_event() {
        for event in [
            proposed(Outcome::Fixed, false),
            Event::Archived(Archived { at: at() }),
            Event::NoteAdded(NoteAdded {
                text: "we are on it".to_owned(),
                to_customer: true,
                at: at(),
            }),
        ] {
            assert!(NOTIFYING_EVENT_TYPES.contains(&event.event_type()));
        }
    }

    #[test]
    fn notice_names_round_trip() {
        for &kind in NoticeKind::ALL {
            assert_eq!(NoticeKind::parse("notice", kind.as_str()), Ok(kind));
            let json = serde_json::to_string(&kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        assert!(NoticeKind::parse("notice", "birthday").is_err());
    }

    #[test]
    fn contacts_are_masked() {
        for (contact, masked) in [
            ("13812345678", "138****5678"),
            ("zhang@example.com", "z***@example.com"),
            ("oWx1", "o***"),
            ("o_wechat_open_id_42", "o_w****d_42"),
        ] {
            assert_eq!(mask_contact(contact), masked, "{contact}");
        }
    }
}
