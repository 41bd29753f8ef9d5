//! Customer self-service without a token: who the customer is on the log, how the last 4
//! digits of the phone on a ticket are checked, and when wrong tries lock a ticket.
//!
//! Pure like the rest of the crate: every instant is passed in. The workflow keeps one
//! [`Lockout`] in memory behind a mutex.

use crate::types::{Actor, Role};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;

/// The principal recorded on the events a customer causes through self-service (with the
/// role `system`, which no tokens file may hold: nobody with a token can pass for them).
pub const CUSTOMER_PRINCIPAL: &str = "customer";

/// How many digits of the phone a customer gives.
pub const DIGITS: usize = 4;

/// Wrong tries on one ticket before it is locked.
pub const MAX_WRONG_TRIES: u32 = 5;

/// How long a ticket stays locked, and how long wrong tries are remembered.
pub const LOCK_MINUTES: i64 = 15;

/// The most replies a customer may leave on one ticket through self-service: a ticket's notes
/// are capped (`max_notes_per_ticket`), and the customer must not be able to use up the
/// staff's.
pub const MAX_REPLIES_PER_TICKET: usize = 20;

/// The actor of a customer's own reply or rating.
pub fn customer_actor() -> Actor {
    Actor::system(CUSTOMER_PRINCIPAL)
}

/// Whether `actor` is the customer acting through self-service.
pub fn is_customer(actor: &Actor) -> bool {
    actor.role == Role::System && actor.principal == CUSTOMER_PRINCIPAL
}

/// Whether `digits` is of the form a customer must give: exactly 4 ASCII digits.
pub fn well_formed_digits(digits: &str) -> bool {
    digits.len() == DIGITS && digits.bytes().all(|byte| byte.is_ascii_digit())
}

/// Whether `digits` are the last 4 digits of `phone` (separators such as spaces, dashes and
/// a leading `+` are ignored). A phone with fewer than 4 digits matches nothing. Every byte
/// is compared, whatever the first difference.
pub fn phone_ends_with(phone: &str, digits: &str) -> bool {
    let phone_digits: Vec<u8> = phone.bytes().filter(u8::is_ascii_digit).collect();
    if !well_formed_digits(digits) || phone_digits.len() < DIGITS {
        return false;
    }
    let tail = &phone_digits[phone_digits.len() - DIGITS..];
    tail.iter()
        .zip(digits.bytes())
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

/// One ticket's wrong tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tries {
    wrong: u32,
    /// The first wrong try still remembered.
    since: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

/// Wrong tries per ticket: [`MAX_WRONG_TRIES`] within [`LOCK_MINUTES`] lock the ticket for
/// [`LOCK_MINUTES`]; while locked even the right digits are refused.
#[derive(Debug, Clone, Default)]
pub struct Lockout {
    tickets: HashMap<String, Tries>,
}

impl Lockout {
    fn window() -> Duration {
        Duration::minutes(LOCK_MINUTES)
    }

    /// Whether `ticket` is locked at `now`.
    pub fn is_locked(&self, ticket: &str, now: DateTime<Utc>) -> bool {
        self.tickets
            .get(ticket)
            .and_then(|tries| tries.locked_until)
            .is_some_and(|until| now < until)
    }

    /// Counts a wrong try on `ticket`; returns whether the ticket is locked now.
    pub fn wrong_try(&mut self, ticket: &str, now: DateTime<Utc>) -> bool {
        self.forget_expired(now);
        let tries = self.tickets.entry(ticket.to_owned()).or_insert(Tries {
            wrong: 0,
            since: now,
            locked_until: None,
        });
        if tries.locked_until.is_some_and(|until| now < until) {
            return true;
        }
        tries.wrong += 1;
        if tries.wrong >= MAX_WRONG_TRIES {
            tries.locked_until = Some(now + Self::window());
            true
        } else {
            false
        }
    }

    /// The right digits on an unlocked ticket: its wrong tries are forgotten.
    pub fn right_try(&mut self, ticket: &str) {
        self.tickets.remove(ticket);
    }

    /// How many tickets have wrong tries remembered.
    pub fn len(&self) -> usize {
        self.tickets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    /// Forgets the tries older than the window and the locks that ran out.
    fn forget_expired(&mut self, now: DateTime<Utc>) {
        let window = Self::window();
        self.tickets.retain(|_, tries| match tries.locked_until {
            Some(until) => now < until,
            None => now - tries.since < window,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 16, 9, minute, 0)
            .single()
            .expect("valid instant")
    }

    #[test]
    fn the_last_four_digits_of_the_phone_match() {
        assert!(phone_ends_with("13812345678", "5678"));
        assert!(phone_ends_with("+86 138-1234-5678", "5678"));
        assert!(!phone_ends_with("13812345678", "5679"));
        assert!(!phone_ends_with("13812345678", "678"));
        assert!(!phone_ends_with("13812345678", "56789"));
        assert!(!phone_ends_with("13812345678", "５６７８"));
        assert!(!phone_ends_with("123", "0123"));
        assert!(!phone_ends_with("", "0000"));
        assert!(well_formed_digits("0000"));
        assert!(!well_formed_digits("12a4"));
    }

    #[test]
    fn the_customer_is_a_system_actor_no_token_can_be() {
        let actor = customer_actor();
        assert!(is_customer(&actor));
        let mut staff = actor.clone();
        staff.role = Role::Service;
        assert!(
            !is_customer(&staff),
            "a person named customer is not the customer"
        );
    }

    #[test]
    fn five_wrong_tries_lock_the_ticket_for_fifteen_minutes() {
        let mut lockout = Lockout::default();
        for _ in 0..4 {
            assert!(!lockout.wrong_try("T1", at(0)));
        }
        assert!(!lockout.is_locked("T1", at(1)));
        assert!(lockout.wrong_try("T1", at(1)), "the fifth locks");
        assert!(lockout.is_locked("T1", at(15)));
        assert!(
            !lockout.is_locked("T2", at(15)),
            "other tickets are not locked"
        );
        assert!(
            lockout.wrong_try("T1", at(10)),
            "still locked; not extended"
        );
        assert!(!lockout.is_locked("T1", at(16)), "the lock runs out");
        assert!(!lockout.wrong_try("T1", at(17)), "counting starts again");
    }

    #[test]
    fn old_wrong_tries_are_forgotten_and_a_right_try_clears_them() {
        let mut lockout = Lockout::default();
        for _ in 0..4 {
            lockout.wrong_try("T1", at(0));
        }
        assert!(
            !lockout.wrong_try("T1", at(20)),
            "the first four are too old"
        );
        assert_eq!(lockout.len(), 1);
        for _ in 0..3 {
            lockout.wrong_try("T1", at(21));
        }
        lockout.right_try("T1");
        assert!(!lockout.wrong_try("T1", at(22)));
        assert!(!lockout.is_locked("T1", at(22)));
    }
}
