//! The evaluation figures of the monthly report: how many of the month's suggestions were
//! evaluated, and how often each score band was adopted or planned.

use crate::model::ScoreBandRate;
use domain::award::accepts;
use domain::ticket::SCORE_BANDS;
use domain::types::Kind;
use domain::Ticket;

/// Counts the month's evaluated suggestions per score band.
#[derive(Debug, Clone, Default)]
pub(crate) struct EvaluationAccumulator {
    pub evaluated: u64,
    /// Per band of [`SCORE_BANDS`]: decided (a solution accepted), accepted (adopted or
    /// planned).
    bands: [(u64, u64); 3],
}

impl EvaluationAccumulator {
    /// Counts `ticket` when it is an evaluated suggestion.
    pub fn add(&mut self, ticket: &Ticket) {
        let Some(evaluation) = ticket.evaluation.as_ref() else {
            return;
        };
        if ticket.kind != Some(Kind::Suggestion) {
            return;
        }
        self.evaluated += 1;
        // Decided: a solution accepted (resolved), not one waiting for the head's approval.
        let Some(outcome) = ticket.outcome.filter(|_| ticket.resolved_at.is_some()) else {
            return;
        };
        let index = SCORE_BANDS
            .iter()
            .position(|band| *band == evaluation.band())
            .unwrap_or(SCORE_BANDS.len() - 1);
        self.bands[index].0 += 1;
        self.bands[index].1 += u64::from(accepts(outcome));
    }

    /// The rates, high band first.
    pub fn rates(&self) -> Vec<ScoreBandRate> {
        SCORE_BANDS
            .iter()
            .zip(self.bands)
            .map(|(band, (decided, accepted))| ScoreBandRate {
                band: (*band).to_owned(),
                decided,
                accepted,
                rate: if decided == 0 {
                    0.0
                } else {
                    accepted as f64 / decided as f64
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use domain::ticket::Evaluation;
    use domain::types::Outcome;

    fn suggestion(score: (u8, u8, u8), outcome: Option<Outcome>) -> Ticket {
        let (feasibility, cost, benefit) = score;
        Ticket {
            kind: Some(Kind::Suggestion),
            outcome,
            resolved_at: outcome.map(|_| {
                Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0)
                    .single()
                    .expect("instant")
            }),
            evaluation: Some(Evaluation {
                feasibility,
                cost,
                benefit,
                score: Evaluation::score_of(feasibility, cost, benefit),
                note: String::new(),
                at: Utc
                    .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
                    .single()
                    .expect("instant"),
            }),
            ..Ticket::default()
        }
    }

    #[test]
    fn evaluated_suggestions_count_per_band_and_only_decided_ones_make_the_rate() {
        let mut accumulator = EvaluationAccumulator::default();
        accumulator.add(&suggestion((5, 1, 5), Some(Outcome::Adopted)));
        accumulator.add(&suggestion((5, 2, 5), Some(Outcome::Declined)));
        accumulator.add(&suggestion((3, 3, 3), Some(Outcome::Planned)));
        accumulator.add(&suggestion((1, 5, 1), None));
        accumulator.add(&Ticket::default());
        assert_eq!(accumulator.evaluated, 4);
        let rates = accumulator.rates();
        assert_eq!(rates[0].band, "high");
        assert_eq!((rates[0].decided, rates[0].accepted), (2, 1));
        assert!((rates[0].rate - 0.5).abs() < 1e-9);
        assert_eq!((rates[1].decided, rates[1].accepted), (1, 1));
        assert_eq!((rates[2].decided, rates[2].rate), (0, 0.0));
    }
}
