//! The report row of a ticket: the few facts of a ticket state that the reports read, kept
//! apart from the whole state so that a report over a million tickets reads and parses
//! about a tenth of the bytes.
//!
//! The workflow's projector writes [`ReportRow::of`] the folded ticket (JSON, in
//! `report_rows.facts`) wherever it writes the ticket's `state_json`; the report reads it
//! back and folds [`ReportRow::into_ticket`], a ticket holding only those facts, into the
//! same builders. Every fact that depends on the instant a report is judged at stays a raw
//! instant (deadlines, response and resolution times), so one row serves every `as_of`.
//!
//! What the reports read of a ticket, and so what the row keeps: its receipt (or creation)
//! instant, whether it exists and is archived, kind, content type, priority, channel,
//! department, assignee, product, keywords and terms, the current round's deadlines,
//! response, resolution and review, the earlier rounds' deadlines, response and review,
//! the outcome, the evaluation, the parent problem and the linked children, the transfers
//! away. An adopted or planned suggestion keeps, besides, what the monthly report lists of
//! it: its id, content, solution, the customer's name and the notes to the customer (their
//! instants and rounds, not their text). Since the row is made from the ticket state after
//! every event, an erasure or the end of retention takes the customer's words out of the
//! row exactly as it takes them out of the state.

use chrono::{DateTime, Utc};
use domain::ticket::{ChildLink, Evaluation, Note, RoundRecord, Solution, TransferredAway};
use domain::types::{ContentType, Kind, Outcome, Priority, SlaState, Step};
use domain::{Ticket, TicketId};
use serde::{Deserialize, Serialize};

/// The facts of one ticket that the monthly, period and people reports read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// Events folded in (0 for a ticket that does not exist).
    #[serde(rename = "v", default)]
    pub version: u64,
    /// The receipt instant, or the creation instant for a ticket without one.
    #[serde(
        rename = "r",
        default,
        with = "nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub received_at: Option<DateTime<Utc>>,
    #[serde(rename = "x", default, skip_serializing_if = "is_false")]
    pub archived: bool,
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<ContentType>,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(rename = "c", default)]
    pub channel: String,
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    #[serde(rename = "pr", default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(rename = "kw", default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(rename = "te", default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<String>,
    /// The current round's deadlines, response, resolution and review.
    #[serde(
        rename = "rb",
        default,
        with = "nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub respond_by: Option<DateTime<Utc>>,
    #[serde(
        rename = "sb",
        default,
        with = "nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub resolve_by: Option<DateTime<Utc>>,
    #[serde(
        rename = "ra",
        default,
        with = "nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub responded_at: Option<DateTime<Utc>>,
    #[serde(
        rename = "sa",
        default,
        with = "nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<u8>,
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Earlier rounds, oldest first.
    #[serde(rename = "pv", default, skip_serializing_if = "Vec::is_empty")]
    pub previous_rounds: Vec<RoundFacts>,
    #[serde(rename = "ev", default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    #[serde(rename = "pa", default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<TicketId>,
    #[serde(rename = "ch", default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildLink>,
    #[serde(rename = "ta", default, skip_serializing_if = "Vec::is_empty")]
    pub transferred_away: Vec<TransferredAway>,
    /// Only for an adopted or planned suggestion whose solution is accepted.
    #[serde(rename = "ad", default, skip_serializing_if = "Option::is_none")]
    pub adopted: Option<Box<AdoptedFacts>>,
}

/// One earlier round's deadlines, response, resolution and review.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoundFacts {
    #[serde(
        rename = "rb",
        default,
        with = "nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub respond_by: Option<DateTime<Utc>>,
    #[serde(
        rename = "sb",
        default,
        with = "nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub resolve_by: Option<DateTime<Utc>>,
    #[serde(
        rename = "ra",
        default,
        with = "nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub responded_at: Option<DateTime<Utc>>,
    #[serde(
        rename = "sa",
        default,
        with = "nanos",
        skip_serializing_if = "Option::is_none"
    )]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub satisfaction: Option<u8>,
}

/// What the monthly report lists of an adopted suggestion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdoptedFacts {
    pub ticket_id: Option<TicketId>,
    pub round: u32,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub solution: Option<Solution>,
    /// The notes to the customer, their text left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl ReportRow {
    /// The report row of `ticket`.
    pub fn of(ticket: &Ticket) -> ReportRow {
        let adopted = crate::public::Adoption::of(ticket).map(|_| {
            Box::new(AdoptedFacts {
                ticket_id: ticket.ticket_id.clone(),
                round: ticket.round,
                content: ticket.content.clone(),
                customer_name: ticket.customer.name.clone(),
                solution: ticket.solution.clone(),
                notes: ticket
                    .notes
                    .iter()
                    .filter(|note| note.to_customer)
                    .map(|note| Note {
                        text: String::new(),
                        ..note.clone()
                    })
                    .collect(),
            })
        });
        ReportRow {
            version: ticket.version,
            received_at: ticket.received_at.or(ticket.created_at),
            archived: ticket.is_archived(),
            kind: ticket.kind,
            content_type: ticket.content_type,
            priority: ticket.priority,
            channel: ticket.channel.clone(),
            department: ticket.department.clone(),
            assignee: ticket.assignee.clone(),
            product: ticket.product.clone(),
            keywords: ticket.keywords.clone(),
            terms: ticket.terms.clone(),
            respond_by: ticket.respond_by,
            resolve_by: ticket.resolve_by,
            responded_at: ticket.responded_at,
            resolved_at: ticket.resolved_at,
            satisfaction: ticket.satisfaction,
            outcome: ticket.outcome,
            previous_rounds: ticket
                .previous_rounds
                .iter()
                .map(|round| RoundFacts {
                    respond_by: round.respond_by,
                    resolve_by: round.resolve_by,
                    responded_at: round.responded_at,
                    resolved_at: round.resolved_at,
                    satisfaction: round.satisfaction,
                })
                .collect(),
            evaluation: ticket.evaluation.clone().map(|evaluation| Evaluation {
                note: String::new(),
                ..evaluation
            }),
            parent: ticket.parent.clone(),
            children: ticket.children.clone(),
            transferred_away: ticket.transferred_away.clone(),
            adopted,
        }
    }

    /// The JSON of the report row of `ticket`, as `report_rows.facts` holds it.
    pub fn json_of(ticket: &Ticket) -> Result<String, serde_json::Error> {
        serde_json::to_string(&ReportRow::of(ticket))
    }

    /// A ticket holding only the row's facts: every report built from it equals the report
    /// built from the whole ticket the row was made of.
    pub fn into_ticket(self) -> Ticket {
        let mut ticket = Ticket {
            version: self.version,
            step: if self.archived {
                Step::Archive
            } else {
                Step::Handle
            },
            received_at: self.received_at,
            created_at: self.received_at,
            kind: self.kind,
            content_type: self.content_type,
            priority: self.priority,
            channel: self.channel,
            department: self.department,
            assignee: self.assignee,
            product: self.product,
            keywords: self.keywords,
            terms: self.terms,
            respond_by: self.respond_by,
            resolve_by: self.resolve_by,
            responded_at: self.responded_at,
            resolved_at: self.resolved_at,
            satisfaction: self.satisfaction,
            outcome: self.outcome,
            previous_rounds: self
                .previous_rounds
                .into_iter()
                .enumerate()
                .map(|(index, round)| RoundRecord {
                    round: u32::try_from(index + 1).unwrap_or(u32::MAX),
                    department: None,
                    respond_by: round.respond_by,
                    resolve_by: round.resolve_by,
                    responded_at: round.responded_at,
                    resolved_at: round.resolved_at,
                    respond_sla: SlaState::OnTime,
                    resolve_sla: SlaState::OnTime,
                    outcome: None,
                    satisfaction: round.satisfaction,
                    review_comment: None,
                })
                .collect(),
            evaluation: self.evaluation,
            parent: self.parent,
            children: self.children,
            transferred_away: self.transferred_away,
            ..Ticket::default()
        };
        if let Some(adopted) = self.adopted {
            let adopted = *adopted;
            ticket.ticket_id = adopted.ticket_id;
            ticket.round = adopted.round;
            ticket.content = adopted.content;
            ticket.customer.name = adopted.customer_name;
            ticket.solution = adopted.solution;
            ticket.notes = adopted.notes;
        }
        ticket
    }
}

/// Instants as whole nanoseconds since the Unix epoch (exact for every instant a ticket
/// holds); instants outside the years 1677–2262 are held at the nearest end of that range,
/// which no comparison with a real instant can tell apart.
mod nanos {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(
        instant: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match instant {
            Some(instant) => serializer.serialize_some(&instant.timestamp_nanos_opt().unwrap_or(
                if instant.timestamp() < 0 {
                    i64::MIN
                } else {
                    i64::MAX
                },
            )),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Ok(Option::<i64>::deserialize(deserializer)?.map(DateTime::from_timestamp_nanos))
    }
}
