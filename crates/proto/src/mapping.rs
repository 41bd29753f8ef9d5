//! The one mapping between the `feedback.v1` enums and the domain's vocabularies.
//!
//! Each pair gets `From<domain value> for v1::X` and `v1::X::to_domain`, which reads
//! `UNSPECIFIED` as `None`. Both are exhaustive matches, so a variant added on either side
//! without the other fails to compile. Reading a raw `i32` (an unknown number, a required
//! field) stays with the caller, which knows the field's name and its error type.

use crate::v1;
use domain::rules::config::Language;
use domain::types::{ContentType, Kind, Outcome, Priority, Role, Scope, SlaState, Step};

macro_rules! mapping {
    ($($proto:ident <=> $domain:ident { $($variant:ident),+ $(,)? })+) => {
        $(
            impl From<$domain> for v1::$proto {
                fn from(value: $domain) -> Self {
                    match value {
                        $($domain::$variant => Self::$variant),+
                    }
                }
            }

            impl v1::$proto {
                #[doc = concat!("The domain's `", stringify!($domain), "`; `None` when unspecified.")]
                pub fn to_domain(self) -> Option<$domain> {
                    match self {
                        Self::Unspecified => None,
                        $(Self::$variant => Some($domain::$variant)),+
                    }
                }
            }
        )+
    };
}

mapping! {
    Step <=> Step { Receive, Classify, Dispatch, Handle, Review, Archive }
    Kind <=> Kind { Suggestion, Complaint, Problem, Inquiry, Praise }
    ContentType <=> ContentType { Product, Service, Process, Experience }
    Priority <=> Priority { Urgent, High, Medium, Low }
    Scope <=> Scope { Global, Local }
    Outcome <=> Outcome { Adopted, Planned, Declined, Fixed, Explained }
    SlaState <=> SlaState { OnTime, Warning, Breached }
    Role <=> Role { Adapter, Agent, Head, Service, Manager, Auditor, Admin, System }
    Language <=> Language { Zh, En }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every protobuf value maps to the domain and back to itself, and only `UNSPECIFIED`
    /// (0) has no domain value.
    fn round_trips<P, D>(parse: impl Fn(i32) -> Option<P>, to_domain: impl Fn(P) -> Option<D>)
    where
        P: From<D> + Into<i32> + Copy,
    {
        let mut mapped = 0;
        for number in 0..64 {
            let Some(value) = parse(number) else {
                continue;
            };
            match to_domain(value) {
                None => assert_eq!(number, 0, "only UNSPECIFIED lacks a domain value"),
                Some(domain) => {
                    assert_eq!(P::from(domain).into(), number);
                    mapped += 1;
                }
            }
        }
        assert!(mapped > 1, "the enum has values");
    }

    #[test]
    fn every_value_round_trips() {
        round_trips(|n| v1::Step::try_from(n).ok(), v1::Step::to_domain);
        round_trips(|n| v1::Kind::try_from(n).ok(), v1::Kind::to_domain);
        round_trips(
            |n| v1::ContentType::try_from(n).ok(),
            v1::ContentType::to_domain,
        );
        round_trips(|n| v1::Priority::try_from(n).ok(), v1::Priority::to_domain);
        round_trips(|n| v1::Scope::try_from(n).ok(), v1::Scope::to_domain);
        round_trips(|n| v1::Outcome::try_from(n).ok(), v1::Outcome::to_domain);
        round_trips(|n| v1::SlaState::try_from(n).ok(), v1::SlaState::to_domain);
        round_trips(|n| v1::Role::try_from(n).ok(), v1::Role::to_domain);
        round_trips(|n| v1::Language::try_from(n).ok(), v1::Language::to_domain);
    }

    #[test]
    fn names_match_on_both_sides() {
        assert_eq!(v1::Kind::from(Kind::Complaint), v1::Kind::Complaint);
        assert_eq!(v1::SlaState::OnTime.to_domain(), Some(SlaState::OnTime));
        assert_eq!(v1::Priority::Unspecified.to_domain(), None);
        assert_eq!(v1::Language::from(Language::En) as i32, 2);
    }
}
