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

use crate::ids::TicketId;
use crate::ticket::Ticket;
use crate::types::{LinkMode, Outcome, RewardKind, Step};
use crate::DomainError;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The child side of a link: this ticket now belongs to `parent`. The envelope's actor is who
/// linked it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedToProblem {
    pub parent: TicketId,
    pub mode: LinkMode,
    pub at: DateTime<Utc>,
}

/// The parent side of a link: `child` reports the same problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildLinked {
    pub child: TicketId,
    pub mode: LinkMode,
    pub at: DateTime<Utc>,
}

/// The parent problem was solved and reviewed: this child takes its solution and moves to
/// review so that its own customer is told and asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentResolved {
    pub parent: TicketId,
    pub outcome: Outcome,
    pub solution: String,
    pub at: DateTime<Utc>,
}

/// A reward for an adopted suggestion, for the loyalty system to pick up from
/// `TICKET_EVENTS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardGranted {
    pub kind: RewardKind,
    pub amount: u32,
    pub valid_until: DateTime<Utc>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// One child of a problem, as the parent's state keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildLink {
    pub child: TicketId,
    pub mode: LinkMode,
    pub at: DateTime<Utc>,
}

/// The reward the configuration grants for an adopted suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRule {
    pub kind: RewardKind,
    pub amount: u32,
    pub validity_days: u32,
}

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

/// The shortest validity of a reward, in days.
pub const MIN_REWARD_VALIDITY_DAYS: u32 = 30;

/// `[rewards]`: what an adopted and approved suggestion earns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardsConfig {
    /// Whether rewards are granted at all.
    pub enabled: bool,
    pub kind: RewardKind,
    /// Points, or the coupon's value in the currency's smallest unit the loyalty system uses.
    pub amount: u32,
    /// How long the reward stays valid, at least [`MIN_REWARD_VALIDITY_DAYS`].
    pub validity_days: u32,
}

impl Default for RewardsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            kind: RewardKind::Points,
            amount: 100,
            validity_days: MIN_REWARD_VALIDITY_DAYS,
        }
    }
}

impl RewardsConfig {
    /// Checks the ranges; errors name the dotted key.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.validity_days < MIN_REWARD_VALIDITY_DAYS {
            return Err(DomainError::Config {
                key: "rewards.validity_days".to_owned(),
                reason: format!(
                    "a reward stays valid at least {MIN_REWARD_VALIDITY_DAYS} days, got {}",
                    self.validity_days
                ),
            });
        }
        if self.enabled && self.amount == 0 {
            return Err(DomainError::Config {
                key: "rewards.amount".to_owned(),
                reason: "must be at least 1 while rewards are enabled".to_owned(),
            });
        }
        Ok(())
    }

    /// The rule the aggregate applies, or `None` when rewards are off.
    pub fn rule(&self) -> Option<RewardRule> {
        self.enabled.then_some(RewardRule {
            kind: self.kind,
            amount: self.amount,
            validity_days: self.validity_days,
        })
    }
}

/// `[problems]`: how similar tickets are suggested as duplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProblemsConfig {
    /// Tickets created at most this many days before or after the ticket are candidates.
    pub similar_window_days: u32,
    /// The least keyword overlap (Jaccard index, 0 to 1) of a suggestion.
    pub similar_threshold: f64,
}

impl Default for ProblemsConfig {
    fn default() -> Self {
        Self {
            similar_window_days: 7,
            similar_threshold: 0.3,
        }
    }
}

impl ProblemsConfig {
    /// Checks the ranges; errors name the dotted key.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.similar_window_days == 0 {
            return Err(DomainError::Config {
                key: "problems.similar_window_days".to_owned(),
                reason: "must be at least 1".to_owned(),
            });
        }
        if !(self.similar_threshold > 0.0 && self.similar_threshold <= 1.0) {
            return Err(DomainError::Config {
                key: "problems.similar_threshold".to_owned(),
                reason: format!(
                    "must be above 0 and at most 1, got {}",
                    self.similar_threshold
                ),
            });
        }
        Ok(())
    }

    /// The window of creation instants around `created_at` in which candidates are looked for.
    pub fn window(&self, created_at: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let days = Duration::days(i64::from(self.similar_window_days));
        (created_at - days, created_at + days)
    }
}

fn precondition(reason: String) -> DomainError {
    DomainError::Precondition { reason }
}

/// What a link appends: events for the child's stream and for the parent's.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkDecision {
    pub child_events: Vec<crate::Event>,
    pub parent_events: Vec<crate::Event>,
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
    let parent_id = parent
        .ticket_id
        .clone()
        .ok_or_else(|| DomainError::NotFound {
            ticket_id: String::new(),
        })?;
    let child_id = child
        .ticket_id
        .clone()
        .ok_or_else(|| DomainError::NotFound {
            ticket_id: String::new(),
        })?;
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
        child_events: vec![crate::Event::LinkedToProblem(LinkedToProblem {
            parent: parent_id,
            mode,
            at: now,
        })],
        parent_events: vec![crate::Event::ChildLinked(ChildLinked {
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
