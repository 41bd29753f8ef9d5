//! The customer's language on the ticket: kept from the submission through the `received`
//! event into the ticket state, and read as Chinese from events written before it was kept,
//! whose stored form stays exactly as it was.

mod support;

use domain::aggregate::{apply, decide};
use domain::command::Command;
use domain::config::Language;
use domain::event::{Event, SCHEMA_VERSION};
use domain::rules::Rules;
use domain::ticket::Ticket;
use support::t0;

fn received(language: Option<Language>) -> Event {
    let mut submission = support::submission(1, t0(), "The app crashes at login");
    submission.language = language;
    let events = decide(
        &Ticket::default(),
        &Command::Receive(Box::new(submission)),
        t0(),
        &Rules::defaults(),
    )
    .expect("accepted");
    events.into_iter().next().expect("a received event")
}

#[test]
fn the_submissions_language_is_kept_on_the_ticket() {
    let event = received(Some(Language::En));
    let payload = event.to_payload();
    assert_eq!(payload["language"], "en");
    let read = Event::from_parts("received", SCHEMA_VERSION, &payload).expect("reads back");
    let ticket = apply(Ticket::default(), &read);
    assert_eq!(ticket.language, Some(Language::En));
    assert_eq!(ticket.language(), Language::En);
}

#[test]
fn an_event_without_a_language_reads_as_chinese_and_keeps_its_stored_form() {
    let event = received(None);
    let payload = event.to_payload();
    // Nothing is written for an absent language: the stored JSON (and so the hash chain)
    // of events from before the field existed is unchanged when they are written again.
    assert!(payload.get("language").is_none(), "{payload}");
    let read = Event::from_parts("received", SCHEMA_VERSION, &payload).expect("reads back");
    assert_eq!(read.to_payload(), payload);
    let ticket = apply(Ticket::default(), &read);
    assert_eq!(ticket.language, None);
    assert_eq!(ticket.language(), Language::Zh);
}
