//! The anonymisation rules of what managers and the public see of adopted suggestions: the
//! customer's name cut to its first character, and contact data (e-mail addresses, phone,
//! account or order numbers) taken out of the texts.
//!
//! Names are masked one way everywhere ([`masked_name`]): the first character and two stars
//! ("张**", "J**"), whatever the length of the name, so the mask tells nothing of it. The
//! public list (`Reports.AdoptedSuggestions`) also takes contact data out of the suggestion and
//! its solution.

use crate::model::AdoptedSuggestion;
use chrono::{DateTime, NaiveDate, Utc};
use domain::event::AwardGranted;
use domain::problems::RewardGranted;
use domain::types::Outcome;
use domain::Ticket;

/// When and how a ticket's suggestion was adopted, and whether the customer was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adoption {
    /// When the solution was accepted.
    pub at: DateTime<Utc>,
    /// `adopted`, or `planned` for an accepted suggestion not delivered yet.
    pub outcome: Outcome,
    /// The customer rated the ticket, or was sent a note in the current round after the
    /// solution was proposed.
    pub customer_told: bool,
}

impl Adoption {
    /// The adoption of `ticket`: `None` unless its outcome is adopted or planned and its
    /// solution is accepted.
    pub fn of(ticket: &Ticket) -> Option<Adoption> {
        let outcome = match ticket.outcome {
            Some(outcome @ (Outcome::Adopted | Outcome::Planned)) => outcome,
            _ => return None,
        };
        let at = ticket.resolved_at?;
        let proposed_at = ticket
            .solution
            .as_ref()
            .map_or(at, |solution| solution.proposed_at);
        let customer_told = ticket.satisfaction.is_some()
            || ticket.notes.iter().any(|note| {
                note.to_customer && note.round == ticket.round && note.at >= proposed_at
            });
        Some(Adoption {
            at,
            outcome,
            customer_told,
        })
    }

    /// The suggestion as the monthly report lists it: the texts as written, the name masked
    /// ([`masked_name`]).
    pub fn listed(&self, ticket: &Ticket) -> AdoptedSuggestion {
        self.suggestion(ticket, str::to_owned, masked_name)
    }

    fn suggestion(
        &self,
        ticket: &Ticket,
        text: impl Fn(&str) -> String,
        name: impl Fn(Option<&str>) -> String,
    ) -> AdoptedSuggestion {
        AdoptedSuggestion {
            ticket_id: ticket.id_text(),
            department: ticket.department.clone().unwrap_or_default(),
            content: text(&ticket.content),
            product: ticket.product.clone().unwrap_or_default(),
            solution: ticket
                .solution
                .as_ref()
                .map(|solution| text(&solution.text))
                .unwrap_or_default(),
            adopted_at: self.at,
            customer_told: self.customer_told,
            customer_display_name: name(ticket.customer.name.as_deref()),
            outcome: self.outcome,
        }
    }
}

/// An adopted suggestion as the public list shows it: no contact data, the name masked, and
/// the reward granted for it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicSuggestion {
    pub suggestion: AdoptedSuggestion,
    pub reward: Option<RewardGranted>,
    /// The month's best-suggestion award, when it won one.
    pub award: Option<AwardGranted>,
    /// The day a planned suggestion was delivered.
    pub delivered_on: Option<NaiveDate>,
    /// The evaluation score, when it was evaluated.
    pub evaluation_score: Option<u8>,
}

impl PublicSuggestion {
    /// The public form of `ticket`'s suggestion adopted as `adoption` says.
    pub fn of(ticket: &Ticket, adoption: &Adoption) -> PublicSuggestion {
        PublicSuggestion {
            suggestion: adoption.suggestion(ticket, without_contact_data, masked_name),
            reward: ticket.reward.clone(),
            award: ticket.award.clone(),
            delivered_on: ticket
                .delivery
                .as_ref()
                .map(|delivery| delivery.delivered_on),
            evaluation_score: ticket
                .evaluation
                .as_ref()
                .map(|evaluation| evaluation.score),
        }
    }
}

/// The submission attribute by which the customer agrees to see their suggestion on the
/// public list, and the values that mean yes.
pub const PUBLISH_ATTRIBUTE: &str = "publish";
const PUBLISH_YES: &[&str] = &["yes", "true", "1", "是"];

/// Whether the customer agreed to publish the suggestion: its submission carried the
/// attribute `publish` with `yes` (or `true`, `1`, `是`; any case). Without it a suggestion
/// stays off the public list (`SelfService.ListAdopted`), whatever its outcome.
pub fn consented(ticket: &Ticket) -> bool {
    ticket
        .attributes
        .get(PUBLISH_ATTRIBUTE)
        .map(|value| value.trim().to_lowercase())
        .is_some_and(|value| PUBLISH_YES.contains(&value.as_str()))
}

/// The customer's name wherever it is shown outside customer service (the monthly report,
/// the public list of adopted suggestions, the console): the first character and two stars
/// ("张三" → "张**", "欧阳娜娜" → "欧**", "John" → "J**"), or "***" without a name.
pub fn masked_name(name: Option<&str>) -> String {
    match name.map(str::trim).and_then(|name| name.chars().next()) {
        Some(first) => format!("{first}**"),
        None => "***".to_owned(),
    }
}

/// A text for public display: e-mail addresses and runs of seven or more digits (phone,
/// account or order numbers, possibly with spaces or dashes inside) become "***".
pub fn without_contact_data(text: &str) -> String {
    mask_digit_runs(&mask_emails(text))
}

/// Replaces every `local@domain.tld` with "***".
fn mask_emails(text: &str) -> String {
    let characters: Vec<char> = text.chars().collect();
    let local = |character: char| character.is_ascii_alphanumeric() || "._%+-".contains(character);
    let domain = |character: char| character.is_ascii_alphanumeric() || ".-".contains(character);
    let mut output = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, character) in characters.iter().enumerate() {
        if *character != '@' || at < copied {
            continue;
        }
        let mut start = at;
        while start > copied && local(characters[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < characters.len() && domain(characters[end]) {
            end += 1;
        }
        let domain_part: String = characters[at + 1..end].iter().collect();
        let domain_part = domain_part.trim_end_matches(['.', '-']);
        if start == at || !domain_part.contains('.') {
            continue;
        }
        let end = at + 1 + domain_part.chars().count();
        output.extend(&characters[copied..start]);
        output.push_str("***");
        copied = end;
    }
    output.extend(&characters[copied..]);
    output
}

/// Replaces every run of at least seven digits (spaces, dashes, dots and a leading plus
/// allowed inside) with "***".
fn mask_digit_runs(text: &str) -> String {
    let characters: Vec<char> = text.chars().collect();
    let mut output = String::with_capacity(text.len());
    let mut index = 0;
    while index < characters.len() {
        let starts_number = characters[index].is_ascii_digit()
            || (characters[index] == '+'
                && characters.get(index + 1).is_some_and(char::is_ascii_digit));
        if !starts_number {
            output.push(characters[index]);
            index += 1;
            continue;
        }
        let mut end = index;
        let mut digits = 0;
        let mut last_digit = index;
        while end < characters.len() {
            let character = characters[end];
            if character.is_ascii_digit() {
                digits += 1;
                last_digit = end;
            } else if !(matches!(character, ' ' | '-' | '.') || (character == '+' && end == index))
            {
                break;
            }
            end += 1;
        }
        if digits >= 7 {
            output.push_str("***");
        } else {
            output.extend(&characters[index..=last_digit]);
        }
        index = last_digit + 1;
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_submission_that_says_publish_yes_is_consented() {
        let with = |value: &str| Ticket {
            attributes: [(PUBLISH_ATTRIBUTE.to_owned(), value.to_owned())].into(),
            ..Ticket::default()
        };
        for yes in ["yes", " YES ", "true", "1", "是"] {
            assert!(consented(&with(yes)), "{yes}");
        }
        for no in ["no", "", "0", "maybe"] {
            assert!(!consented(&with(no)), "{no}");
        }
        assert!(!consented(&Ticket::default()));
    }

    #[test]
    fn names_are_masked_one_way_to_their_first_character_and_two_stars() {
        assert_eq!(masked_name(Some("张三")), "张**");
        assert_eq!(masked_name(Some("John")), "J**");
        assert_eq!(masked_name(Some(" 欧阳娜娜 ")), "欧**");
        assert_eq!(masked_name(Some("李")), "李**");
        assert_eq!(masked_name(Some("  Alice ")), "A**");
        assert_eq!(masked_name(Some("  ")), "***");
        assert_eq!(masked_name(None), "***");
    }

    #[test]
    fn contact_data_leaves_public_text() {
        assert_eq!(
            without_contact_data("请联系我 13800138000 或 li.si@example.com 谢谢"),
            "请联系我 *** 或 *** 谢谢"
        );
        assert_eq!(
            without_contact_data("电话+86 138-0013-8000，建议增加夜间模式"),
            "电话***，建议增加夜间模式"
        );
        assert_eq!(
            without_contact_data("版本 2.3.1 的第 12 页"),
            "版本 2.3.1 的第 12 页",
            "short numbers stay"
        );
    }
}
