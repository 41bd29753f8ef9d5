//! Time travel on a real log: a ticket's state at several instants matches what was
//! answered at those instants while the test ran.

use audit::{ticket_at, ticket_at_in, LogFile, RowSource};
use chrono::{DateTime, Utc};
use domain::types::{Kind, Outcome, Priority, Step};
use domain::Ticket;

use super::fixtures::{append_events, base, minutes, open_log, TicketBuilder};

/// The current instant at the log's precision, once the clock has moved past `after`: the
/// next row is then recorded strictly after `after`.
fn instant_after(after: DateTime<Utc>) -> DateTime<Utc> {
    loop {
        let now = eventlog::truncate_to_micros(Utc::now());
        if now > after {
            return now;
        }
        std::hint::spin_loop();
    }
}

#[test]
fn a_ticket_at_each_instant_is_what_was_answered_then() {
    let directory = tempfile::tempdir().expect("create a temp dir");
    let log = open_log(&directory.path().join("events.db"));
    let mut ticket = TicketBuilder::received(base());
    ticket
        .classify(minutes(5), Kind::Problem, Priority::High)
        .dispatch(minutes(5))
        .acknowledge(minutes(30))
        .propose(minutes(90), Outcome::Fixed, false)
        .review(minutes(120), 2)
        .reopen(minutes(120))
        .acknowledge(minutes(130));
    let events: Vec<_> = ticket
        .events
        .iter()
        .map(|event| event.event.clone())
        .collect();

    let before_anything = instant_after(eventlog::truncate_to_micros(Utc::now()));
    let mut answered: Vec<(DateTime<Utc>, Ticket)> = Vec::new();
    let mut last = before_anything;
    // Appended in the groups a service would append them: receipt with its automatic
    // classification and dispatch, then one command at a time.
    for group in [
        &events[0..3],
        &events[3..4],
        &events[4..5],
        &events[5..7],
        &events[7..8],
    ] {
        instant_after(last);
        append_events(&log, &ticket.stream_id, group);
        let so_far: Vec<_> = events
            [..answered.last().map_or(0, |(_, t)| t.version as usize) + group.len()]
            .iter()
            .collect();
        let answer = domain::fold(so_far);
        last = eventlog::truncate_to_micros(Utc::now());
        answered.push((last, answer));
    }

    let rows = log
        .read_stream_blocking(&ticket.stream_id, 0)
        .expect("read the stream");
    assert_eq!(ticket_at(&rows, before_anything, None).expect("fold"), None);
    for (instant, answer) in &answered {
        let at = ticket_at(&rows, *instant, None)
            .expect("fold")
            .expect("the ticket exists by then");
        assert_eq!(&at.ticket, answer, "at {instant}");
        let last_row = rows
            .iter()
            .rfind(|row| row.stream_version <= answer.version)
            .expect("a row");
        assert_eq!(at.position, last_row.position);
    }
    // The instants are the recorded times, not the times the events name (which are in
    // 2026 here): a state between two appends is the earlier one.
    let (second_instant, second_answer) = &answered[1];
    assert_eq!(second_answer.step, Step::Handle);
    assert!(second_answer.responded_at.is_some());
    let (_, last_answer) = answered.last().expect("answers");
    assert_eq!(last_answer.round, 2);

    // The same through the row sources of a running service and of an offline file.
    let through_log = ticket_at_in(&log, &ticket.ticket_id, *second_instant, None)
        .expect("fold")
        .expect("exists");
    assert_eq!(through_log.ticket.version, second_answer.version);
    let file = LogFile::open(log.path()).expect("open the file");
    assert_eq!(
        file.read_stream_rows(&ticket.stream_id).expect("read"),
        rows
    );
    let through_file = ticket_at_in(&file, &ticket.ticket_id, *second_instant, None)
        .expect("fold")
        .expect("exists");
    assert_eq!(through_file, through_log);
    assert_eq!(
        ticket_at_in(&file, "NO-SUCH-TICKET", Utc::now(), None).expect("fold"),
        None
    );
}
