//! Problems and duplicates, similar tickets and rewards: the rules of linking a ticket to a
//! parent "problem" ticket (or merging a duplicate into it), of finding open tickets that look
//! like the same report, and of the reward an adopted suggestion earns.
//!
//! Linking touches two streams: the child records `LinkedToProblem`, the parent
//! `ChildLinked`. [`decide_link`] decides both from both states; `decide` on the child alone
//! checks only the child's side. Rules:
//! * a ticket is never linked to itself, nor to an archived parent;
//! * one level only: a parent may not itself be linked, and a ticket that already has
//!   children may not become a child (which also rules out every cycle);
//! * a ticket is linked at most once, while it is open (classify, dispatch, handle), and its
//!   parent must not yet have been solved and reviewed;
//! * a merged duplicate stops its own handling: its SLA timers stop and the commands of
//!   handling are refused; its step follows the parent's.
//!
//! When the parent's solution is accepted and its customer's review is satisfied, every child
//! still open receives `ParentResolved` (through the system command `ResolveFromParent`) and
//! moves to review, so that its own customer is told and asked too.

pub use crate::config::{ProblemsConfig, RewardsConfig, MIN_REWARD_VALIDITY_DAYS};
use crate::error::DomainError;
use crate::event::Event;
pub use crate::event::{ChildLinked, LinkedToProblem, ParentResolved};
use crate::ids::TicketId;
use crate::ticket::Ticket;
pub use crate::ticket::{ChildLink, RewardGranted};
pub use crate::types::RewardRule;
use crate::types::{LinkMode, Outcome, Step};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeSet;

impl RewardRule {
    /// The event granting this reward at `now`.
    pub fn grant(&self, now: DateTime<Utc>) -> RewardGranted {
        RewardGranted {
            kind: self.kind,
            amount: self.amount,
            valid_until: now + Duration::days(i64::from(self.validity_days)),
            reason: "suggestion adopted".to_owned(),
            at: now,
        }
    }
}

fn precondition(reason: String) -> DomainError {
    DomainError::Precondition { reason }
}

/// What a link appends: events for the child's stream and for the parent's.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkDecision {
    pub child_events: Vec<Event>,
    pub parent_events: Vec<Event>,
}

/// The child's side of a link: everything that can be checked without the parent's state.
pub(crate) fn check_child(child: &Ticket, parent_id: &TicketId) -> Result<(), DomainError> {
    if child.ticket_id.as_ref() == Some(parent_id) {
        return Err(precondition(format!(
            "ticket {parent_id} cannot be linked to itself"
        )));
    }
    if let Some(current) = &child.parent {
        return Err(precondition(format!(
            "ticket {} is already linked to problem {current}",
            child.id_text()
        )));
    }
    if !child.children.is_empty() {
        return Err(precondition(format!(
            "ticket {} is itself a problem with {} linked tickets; problems are one level deep",
            child.id_text(),
            child.children.len()
        )));
    }
    if !matches!(child.step, Step::Classify | Step::Dispatch | Step::Handle) {
        return Err(DomainError::WrongStep {
            command: "link_to_problem".to_owned(),
            step: child.step,
        });
    }
    Ok(())
}

/// Decides a link from both states: the child's events and the parent's, or why not.
pub fn decide_link(
    child: &Ticket,
    parent: &Ticket,
    mode: LinkMode,
    now: DateTime<Utc>,
) -> Result<LinkDecision, DomainError> {
    let id_of = |ticket: &Ticket| {
        (ticket.ticket_id.clone()).ok_or_else(|| DomainError::NotFound {
            ticket_id: String::new(),
        })
    };
    let parent_id = id_of(parent)?;
    let child_id = id_of(child)?;
    if child.is_archived() {
        return Err(DomainError::WrongStep {
            command: "link_to_problem".to_owned(),
            step: child.step,
        });
    }
    check_child(child, &parent_id)?;
    if parent.is_archived() {
        return Err(precondition(format!(
            "problem {parent_id} is archived; link to an open ticket"
        )));
    }
    if let Some(grandparent) = &parent.parent {
        return Err(precondition(format!(
            "ticket {parent_id} is itself linked to problem {grandparent}; link to {grandparent} instead"
        )));
    }
    if parent.step == Step::Review && parent.satisfaction.is_some() {
        return Err(precondition(format!(
            "problem {parent_id} was already solved and reviewed; handle ticket {child_id} on its own"
        )));
    }
    Ok(LinkDecision {
        child_events: vec![Event::LinkedToProblem(LinkedToProblem {
            parent: parent_id,
            mode,
            at: now,
        })],
        parent_events: vec![Event::ChildLinked(ChildLinked {
            child: child_id,
            mode,
            at: now,
        })],
    })
}

/// Whether a parent's latest events make its children resolved: its solution is accepted
/// and the customer's review of this round was satisfied. Returns the solution to pass on.
pub fn parent_resolution(parent: &Ticket) -> Option<(Outcome, String)> {
    let solution = parent.solution.as_ref()?;
    if parent.step != Step::Review || parent.resolved_at.is_none() {
        return None;
    }
    parent.satisfaction?;
    if parent.children.is_empty() {
        return None;
    }
    Some((solution.outcome, solution.text.clone()))
}

/// The keywords of a ticket as a set, lowercased, for comparing.
fn keyword_set(keywords: &[String]) -> BTreeSet<String> {
    keywords
        .iter()
        .map(|keyword| keyword.trim().to_lowercase())
        .filter(|keyword| !keyword.is_empty())
        .collect()
}

/// The Jaccard index of two keyword lists: shared keywords over all keywords; 0 when both
/// are empty.
pub fn keyword_similarity(left: &[String], right: &[String]) -> f64 {
    let left = keyword_set(left);
    let right = keyword_set(right);
    let union = left.union(&right).count();
    if union == 0 {
        return 0.0;
    }
    let shared = left.intersection(&right).count();
    shared as f64 / union as f64
}

/// Whether a ticket is still open for linking: received and not yet resolved.
pub fn is_open(ticket: &Ticket) -> bool {
    matches!(ticket.step, Step::Classify | Step::Dispatch | Step::Handle)
}

/// One suggested duplicate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarTicket {
    pub ticket: Ticket,
    /// The keyword overlap, 0 to 1.
    pub score: f64,
}

/// The open tickets among `candidates` that look like `target`: the same product, created
/// within the configured window, not linked to a problem yet, with a keyword overlap at least
/// the threshold. Best first (ties: earlier tickets first), at most `limit`.
pub fn similar_tickets(
    target: &Ticket,
    candidates: impl IntoIterator<Item = Ticket>,
    config: &ProblemsConfig,
    limit: usize,
) -> Vec<SimilarTicket> {
    let Some(created_at) = target.created_at else {
        return Vec::new();
    };
    let (from, to) = config.window(created_at);
    let product = target
        .product
        .as_deref()
        .map(|product| product.trim().to_lowercase());
    let mut found: Vec<SimilarTicket> = candidates
        .into_iter()
        .filter(|candidate| candidate.ticket_id != target.ticket_id)
        .filter(|candidate| is_open(candidate) && candidate.parent.is_none())
        .filter(|candidate| {
            candidate
                .created_at
                .is_some_and(|created| created >= from && created <= to)
        })
        .filter(|candidate| {
            candidate
                .product
                .as_deref()
                .map(|other| other.trim().to_lowercase())
                == product
        })
        .filter_map(|candidate| {
            let score = keyword_similarity(&target.keywords, &candidate.keywords);
            (score >= config.similar_threshold).then_some(SimilarTicket {
                ticket: candidate,
                score,
            })
        })
        .collect();
    found.sort_by(|left, right| {
        right
            .score
            .total_cmp(&left.score)
            .then(left.ticket.created_at.cmp(&right.ticket.created_at))
    });
    found.truncate(limit);
    found
}

/// How many customers reported a problem: the ticket itself and every linked child.
pub fn reporters(ticket: &Ticket) -> u32 {
    u32::try_from(ticket.children.len())
        .unwrap_or(u32::MAX)
        .saturating_add(1)
}
