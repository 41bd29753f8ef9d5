//! Labels from the event log: what the people who handle tickets decided about a ticket's
//! kind, content type, priority and department, as training examples for the classifier.
//!
//! A ticket's recorded events are folded into one [`LabelledTicket`]: the text the customer
//! wrote (from `received`), the last classification and the last lead department, and per
//! field how strong the evidence is:
//! - a manual `classified` (a person classified or corrected it) counts most
//!   ([`LabelWeights::classified`]) for kind, content type and priority;
//! - a person's `dispatched` (a transfer to another department, or a first dispatch by hand
//!   when the rules could not place the ticket) counts next ([`LabelWeights::dispatched`])
//!   for the department;
//! - an automatic value that nobody changed until the customer's review
//!   ([`LabelWeights::reviewed`]) counts least: the ticket went the whole way with it;
//! - an automatic value not yet through review teaches nothing (weight 0).
//!
//! A ticket whose text was erased (retention expired, or its customer erased) or that has
//! no evidence at all gives no label. Pure: the caller reads the log and passes the events.

use chrono::{DateTime, Utc};

use super::train::Example;
use super::Field;
use crate::event::Event;
use crate::types::{ContentType, Kind, Priority};

/// How much each kind of evidence counts, relative to a corpus row (1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelWeights {
    /// A person's classification.
    pub classified: f32,
    /// A person's dispatch (a transfer, or a first dispatch by hand).
    pub dispatched: f32,
    /// An automatic value left unchanged until the review.
    pub reviewed: f32,
}

impl Default for LabelWeights {
    fn default() -> Self {
        Self {
            classified: 3.0,
            dispatched: 2.0,
            reviewed: 1.0,
        }
    }
}

/// One ticket's labels, ready to train on.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledTicket {
    /// The example; its `field_weights` say how strongly each field is evidenced (0: not).
    pub example: Example,
    /// When a person last corrected the classification or the department, if ever.
    pub corrected_at: Option<DateTime<Utc>>,
}

impl LabelledTicket {
    /// Whether a person corrected (or set by hand) any field.
    pub fn corrected(&self) -> bool {
        self.corrected_at.is_some()
    }
}

/// Who set a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Automatic,
    Person,
}

/// Folds one ticket's events (in stream order) into its labels, or `None` when they teach
/// nothing: no text, no classification or department, or only automatic values that have
/// not been through a review.
pub fn ticket_label<'a>(
    events: impl IntoIterator<Item = &'a Event>,
    weights: &LabelWeights,
) -> Option<LabelledTicket> {
    let mut text = String::new();
    let mut classification: Option<(Kind, ContentType, Priority, Source)> = None;
    let mut department: Option<(String, Source)> = None;
    let mut reviewed = false;
    let mut corrected_at = None;
    for event in events {
        match event {
            Event::Received(received) => text.clone_from(&received.content),
            Event::RetentionExpired(_) | Event::CustomerErased(_) => text.clear(),
            Event::Classified(classified) => {
                let source = if classified.automatic {
                    Source::Automatic
                } else {
                    corrected_at = Some(classified.at);
                    Source::Person
                };
                classification = Some((
                    classified.kind,
                    classified.content_type,
                    classified.priority,
                    source,
                ));
            }
            Event::Dispatched(dispatched) => {
                let source = if dispatched.automatic {
                    Source::Automatic
                } else {
                    corrected_at = Some(dispatched.at);
                    Source::Person
                };
                department = Some((dispatched.department.clone(), source));
            }
            Event::ReviewRecorded(_) => reviewed = true,
            _ => {}
        }
    }
    let (kind, content_type, priority, class_source) = classification?;
    let (department, department_source) = department?;
    if text.trim().is_empty() {
        return None;
    }
    let weight_of = |source: Source, person: f32| match source {
        Source::Person => person,
        Source::Automatic if reviewed => weights.reviewed,
        Source::Automatic => 0.0,
    };
    let class_weight = weight_of(class_source, weights.classified);
    let mut field_weights = [class_weight; 4];
    field_weights[Field::Department.index()] = weight_of(department_source, weights.dispatched);
    if field_weights.iter().all(|weight| *weight <= 0.0) {
        return None;
    }
    Some(LabelledTicket {
        example: Example {
            text,
            kind,
            content_type,
            priority,
            department,
            weight: 1.0,
            field_weights,
        },
        corrected_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Dispatched, RetentionExpired, ReviewRecorded};
    use crate::types::Scope;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 9, minute, 0)
            .single()
            .expect("valid instant")
    }

    fn deadlines() -> serde_json::Value {
        serde_json::json!({
            "respond_by": at(30),
            "resolve_by": at(59),
            "warn_respond_at": at(20),
            "warn_resolve_at": at(50),
            "policy_version": "test",
            "calendar_version": "test",
        })
    }

    fn received(content: &str) -> Event {
        let json = serde_json::json!({
            "ticket_id": "260316-7Q650-008009",
            "feedback_id": "019cf5df-a280-7101-8101-010101010101",
            "channel": "app",
            "customer": {"name": "王女士", "phone": "13800001234"},
            "content": content,
            "occurred_at": at(0),
            "received_at": at(0),
            "deadlines": deadlines(),
            "at": at(0),
        });
        Event::from_parts("received", 1, &json).expect("a valid received event")
    }

    fn classified(kind: Kind, priority: Priority, automatic: bool, minute: u32) -> Event {
        let json = serde_json::json!({
            "kind": kind,
            "content_type": ContentType::Service,
            "priority": priority,
            "scope": Scope::Local,
            "keywords": [],
            "confidence": 0.9,
            "complex": false,
            "automatic": automatic,
            "policy_version": "test",
            "deadlines": deadlines(),
            "at": at(minute),
        });
        Event::from_parts("classified", 1, &json).expect("a valid classified event")
    }

    fn dispatched(from: Option<&str>, department: &str, automatic: bool, minute: u32) -> Event {
        Event::Dispatched(Dispatched {
            from: from.map(str::to_owned),
            department: department.to_owned(),
            helpers: Vec::new(),
            reason: "test".to_owned(),
            automatic,
            solution_withdrawn: false,
            at: at(minute),
        })
    }

    fn review() -> Event {
        Event::ReviewRecorded(ReviewRecorded {
            satisfaction: 5,
            comment: String::new(),
            satisfied_threshold: 4,
            satisfied: true,
            policy_version: "test".to_owned(),
            at: at(50),
        })
    }

    fn label(events: &[Event]) -> Option<LabelledTicket> {
        ticket_label(events, &LabelWeights::default())
    }

    #[test]
    fn a_manual_classification_weighs_most_and_a_transfer_next() {
        let events = [
            received("快递柜取件码一直收不到"),
            classified(Kind::Inquiry, Priority::Low, true, 1),
            dispatched(None, "technical", true, 1),
            classified(Kind::Complaint, Priority::Medium, false, 10),
            dispatched(Some("technical"), "logistics", false, 12),
        ];
        let labelled = label(&events).expect("corrected tickets teach");
        assert_eq!(labelled.example.kind, Kind::Complaint);
        assert_eq!(labelled.example.priority, Priority::Medium);
        assert_eq!(labelled.example.department, "logistics");
        assert_eq!(labelled.example.field_weights, [3.0, 3.0, 3.0, 2.0]);
        assert_eq!(labelled.corrected_at, Some(at(12)));
    }

    #[test]
    fn automatic_values_count_only_once_reviewed_unchanged() {
        let automatic = [
            received("包裹三天没动了"),
            classified(Kind::Problem, Priority::Medium, true, 1),
            dispatched(None, "logistics", true, 1),
        ];
        assert_eq!(label(&automatic), None);
        let mut reviewed = automatic.to_vec();
        reviewed.push(review());
        let labelled = label(&reviewed).expect("reviewed tickets teach");
        assert_eq!(labelled.example.field_weights, [1.0; 4]);
        assert!(!labelled.corrected());
        // A department changed by hand but a classification left automatic and unreviewed:
        // only the department teaches.
        let mut transferred = automatic.to_vec();
        transferred.push(dispatched(Some("logistics"), "after_sales", false, 20));
        let labelled = label(&transferred).expect("a transfer teaches");
        assert_eq!(labelled.example.field_weights, [0.0, 0.0, 0.0, 2.0]);
        assert_eq!(labelled.example.department, "after_sales");
    }

    #[test]
    fn erased_or_unplaced_tickets_teach_nothing() {
        let unplaced = [
            received("你好"),
            classified(Kind::Inquiry, Priority::Low, false, 1),
        ];
        assert_eq!(label(&unplaced), None);
        let mut expired = unplaced.to_vec();
        expired.push(dispatched(None, "customer_service", false, 2));
        assert!(label(&expired).is_some());
        expired.push(Event::RetentionExpired(RetentionExpired { at: at(59) }));
        assert_eq!(label(&expired), None);
    }
}
