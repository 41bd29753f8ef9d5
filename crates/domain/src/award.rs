//! The monthly best-suggestion award, decided purely: which suggestions of a month are its
//! candidates, and which of them win.
//!
//! A candidate is a suggestion whose adopted or planned solution was accepted in the month
//! (in the business calendar's offset) and that carries an evaluation. The winners are the
//! `count` best by evaluation score, ties going to the earlier submission (then to the lower
//! ticket id, so the order is total). Winners already recorded for the month keep their rank
//! and their place, so that a duty interrupted half-way completes the same list and a replay
//! of the log gives the same winners: the log holds the decision (`award_granted`), never
//! recomputed.

use crate::ticket::Ticket;
use crate::types::{Kind, Outcome};
use crate::DomainError;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};

/// Whether `outcome` accepts a suggestion: `adopted` or `planned`. Such an outcome needs an
/// evaluation first, and makes the suggestion a candidate of the award.
pub fn accepts(outcome: Outcome) -> bool {
    matches!(outcome, Outcome::Adopted | Outcome::Planned)
}

/// One suggestion that may win the award of a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub ticket_id: String,
    /// The evaluation score (3 to 15).
    pub score: u8,
    /// When the customer submitted it: the earlier wins a tie.
    pub received_at: DateTime<Utc>,
    /// The rank already recorded for this month, if the ticket won already.
    pub awarded_rank: Option<u32>,
}

/// A winner of the month and its rank (1 is the best).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Winner {
    pub ticket_id: String,
    pub rank: u32,
    pub score: u8,
    /// Whether the award is recorded already (nothing to grant).
    pub recorded: bool,
}

/// Reads a month written `YYYY-MM` (years 1970 to 9999).
pub fn parse_month(text: &str) -> Result<(i32, u32), DomainError> {
    let invalid = || DomainError::invalid("month", format!("{text:?} is not a month YYYY-MM"));
    let (year, month) = text.trim().split_once('-').ok_or_else(invalid)?;
    if year.len() != 4 || month.len() != 2 {
        return Err(invalid());
    }
    let year: i32 = year.parse().map_err(|_| invalid())?;
    let month: u32 = month.parse().map_err(|_| invalid())?;
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
        return Err(invalid());
    }
    Ok((year, month))
}

/// The first instant of `month` and of the month after it, at the calendar's `offset`.
pub fn month_bounds(
    month: &str,
    offset: FixedOffset,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DomainError> {
    let (year, number) = parse_month(month)?;
    let (next_year, next_number) = if number == 12 {
        (year + 1, 1)
    } else {
        (year, number + 1)
    };
    let start = |year: i32, number: u32| {
        NaiveDate::from_ymd_opt(year, number, 1)
            .and_then(|day| day.and_hms_opt(0, 0, 0))
            .and_then(|midnight| offset.from_local_datetime(&midnight).single())
            .map(|local| local.with_timezone(&Utc))
            .ok_or_else(|| DomainError::invalid("month", format!("{month:?} has no start")))
    };
    Ok((start(year, number)?, start(next_year, next_number)?))
}

/// The month before the one `now` falls in, at the calendar's `offset`: the month whose
/// award is due.
pub fn previous_month(now: DateTime<Utc>, offset: FixedOffset) -> String {
    let local = now.with_timezone(&offset);
    let (year, month) = if local.month() == 1 {
        (local.year() - 1, 12)
    } else {
        (local.year(), local.month() - 1)
    };
    format!("{year:04}-{month:02}")
}

/// `ticket` as a candidate of the month `[start, end)`: an evaluated suggestion whose
/// adopted or planned solution was accepted in it, not awarded in another month.
pub fn candidate(
    ticket: &Ticket,
    month: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
) -> Option<Candidate> {
    if ticket.kind != Some(Kind::Suggestion) || !ticket.outcome.is_some_and(accepts) {
        return None;
    }
    let accepted = ticket.resolved_at?;
    if accepted < start || accepted >= end {
        return None;
    }
    let evaluation = ticket.evaluation.as_ref()?;
    let awarded_rank = match &ticket.award {
        Some(award) if award.month == month => Some(award.rank),
        Some(_) => return None,
        None => None,
    };
    Some(Candidate {
        ticket_id: ticket.id_text(),
        score: evaluation.score,
        received_at: ticket.received_at?,
        awarded_rank,
    })
}

/// The winners of a month among `candidates`: those already recorded first (at their
/// rank), then the best of the rest until there are `count`, ranked after them. Ordered by
/// rank.
pub fn choose_winners(candidates: &[Candidate], count: usize) -> Vec<Winner> {
    let mut recorded: Vec<Winner> = candidates
        .iter()
        .filter_map(|candidate| {
            candidate.awarded_rank.map(|rank| Winner {
                ticket_id: candidate.ticket_id.clone(),
                rank,
                score: candidate.score,
                recorded: true,
            })
        })
        .collect();
    recorded
        .sort_by(|left, right| (left.rank, &left.ticket_id).cmp(&(right.rank, &right.ticket_id)));
    let mut rest: Vec<&Candidate> = candidates
        .iter()
        .filter(|candidate| candidate.awarded_rank.is_none())
        .collect();
    rest.sort_by(|left, right| {
        right
            .score
            .cmp(&left.score)
            .then(left.received_at.cmp(&right.received_at))
            .then(left.ticket_id.cmp(&right.ticket_id))
    });
    rest.dedup_by(|left, right| left.ticket_id == right.ticket_id);
    let mut next_rank = recorded.iter().map(|winner| winner.rank).max().unwrap_or(0);
    let open = count.saturating_sub(recorded.len());
    let mut winners = recorded;
    for candidate in rest.into_iter().take(open) {
        next_rank = next_rank.saturating_add(1);
        winners.push(Winner {
            ticket_id: candidate.ticket_id.clone(),
            rank: next_rank,
            score: candidate.score,
            recorded: false,
        });
    }
    winners
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0)
            .single()
            .expect("valid instant")
    }

    fn candidate(id: &str, score: u8, received_at: DateTime<Utc>) -> Candidate {
        Candidate {
            ticket_id: id.to_owned(),
            score,
            received_at,
            awarded_rank: None,
        }
    }

    fn ids(winners: &[Winner]) -> Vec<&str> {
        winners
            .iter()
            .map(|winner| winner.ticket_id.as_str())
            .collect()
    }

    #[test]
    fn the_best_scores_win_and_ties_go_to_the_earlier_submission() {
        let candidates = vec![
            candidate("a", 9, at(3, 9)),
            candidate("b", 14, at(5, 9)),
            candidate("c", 9, at(2, 9)),
            candidate("d", 12, at(1, 9)),
        ];
        let winners = choose_winners(&candidates, 3);
        assert_eq!(ids(&winners), vec!["b", "d", "c"]);
        assert_eq!(
            winners.iter().map(|winner| winner.rank).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert!(winners.iter().all(|winner| !winner.recorded));
    }

    #[test]
    fn at_most_count_win_and_an_empty_month_has_no_winner() {
        let candidates: Vec<Candidate> = (0..12u8)
            .map(|index| candidate(&format!("t{index:02}"), 3 + index, at(1, 9)))
            .collect();
        let winners = choose_winners(&candidates, 10);
        assert_eq!(winners.len(), 10);
        assert_eq!(winners[0].ticket_id, "t11");
        assert!(!ids(&winners).contains(&"t00") && !ids(&winners).contains(&"t01"));
        assert_eq!(choose_winners(&candidates[..4], 10).len(), 4);
        assert!(choose_winners(&[], 10).is_empty());
        assert!(choose_winners(&candidates, 0).is_empty());
    }

    #[test]
    fn recorded_winners_keep_their_rank_and_the_rest_complete_the_list() {
        let mut candidates = vec![
            candidate("a", 15, at(1, 9)),
            candidate("b", 14, at(1, 9)),
            candidate("c", 13, at(1, 9)),
            candidate("d", 12, at(1, 9)),
        ];
        let first = choose_winners(&candidates, 3);
        // The duty stopped after recording the first two.
        candidates[0].awarded_rank = Some(1);
        candidates[1].awarded_rank = Some(2);
        let again = choose_winners(&candidates, 3);
        assert_eq!(ids(&again), ids(&first));
        assert_eq!(again[2].rank, 3);
        assert!(again[0].recorded && again[1].recorded && !again[2].recorded);
        candidates[2].awarded_rank = Some(3);
        assert!(choose_winners(&candidates, 3)
            .iter()
            .all(|winner| winner.recorded));
    }

    #[test]
    fn months_are_read_bounded_and_stepped_back_in_the_calendar_offset() {
        assert_eq!(parse_month("2026-03"), Ok((2026, 3)));
        for bad in ["2026-13", "2026-3", "26-03", "march", "2026-00"] {
            assert!(parse_month(bad).is_err(), "{bad}");
        }
        let beijing = FixedOffset::east_opt(8 * 3600).expect("offset");
        let (start, end) = month_bounds("2026-12", beijing).expect("bounds");
        assert_eq!(start.to_rfc3339(), "2026-11-30T16:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-12-31T16:00:00+00:00");
        // 1 April 01:00 in Beijing is still 31 March in UTC: the award due is March's.
        let early = Utc
            .with_ymd_and_hms(2026, 3, 31, 17, 0, 0)
            .single()
            .expect("instant");
        assert_eq!(previous_month(early, beijing), "2026-03");
        let january = Utc
            .with_ymd_and_hms(2027, 1, 5, 0, 0, 0)
            .single()
            .expect("instant");
        assert_eq!(previous_month(january, beijing), "2026-12");
    }

    proptest! {
        #[test]
        fn winners_are_the_best_distinct_candidates_in_order(
            scores in proptest::collection::vec((3u8..=15, 0u32..48), 0..30),
            count in 0usize..15,
        ) {
            let candidates: Vec<Candidate> = scores
                .iter()
                .enumerate()
                .map(|(index, (score, hours))| candidate(
                    &format!("t{index:02}"),
                    *score,
                    at(1, 0) + chrono::Duration::hours(i64::from(*hours)),
                ))
                .collect();
            let winners = choose_winners(&candidates, count);
            prop_assert_eq!(winners.len(), count.min(candidates.len()));
            for (index, winner) in winners.iter().enumerate() {
                prop_assert_eq!(winner.rank as usize, index + 1);
            }
            // No loser beats a winner.
            let lowest = winners.last().map(|winner| winner.score);
            for loser in candidates.iter().filter(|c| !ids(&winners).contains(&c.ticket_id.as_str())) {
                if let Some(lowest) = lowest {
                    prop_assert!(loser.score <= lowest);
                }
            }
            // The same input gives the same winners, whatever the order it comes in.
            let mut reversed = candidates.clone();
            reversed.reverse();
            prop_assert_eq!(choose_winners(&reversed, count), winners);
        }
    }
}
