//! The orders of a ticket list and their keyset pages, the same for every backend's read
//! models.
//!
//! - **Receipt order**: by `seq` (the position of the ticket's first event); a page token is
//!   the `seq` of the last ticket of the previous page.
//! - **Urgency order** (the queue): breached first, then warning, then the rest
//!   (`urgency_rank` 0, 1, 2); within each the nearest next deadline first
//!   (`next_deadline_ms`: respond-by until the first response, then resolve-by; none is
//!   `i64::MAX`, so last), then `seq`. A page token is `u.<rank>.<deadline>.<seq>` of the
//!   last ticket of the previous page, and the next page starts strictly after that key.
//!
//! Both columns, with `is_open` (not archived), are written with every row of the ticket
//! ([`crate::TicketRow`]), so the SLA timers' `sla_state` changes move a ticket in the order
//! as they are folded. Databases made before the columns existed gain them at open
//! ([`migrate`]), filled from each row's `state_json`.

use domain::ticket::Ticket;
use domain::types::SlaState;
use eventlog::LogError;
use rusqlite::{params, Connection, OptionalExtension};

/// `next_deadline_ms` of a ticket without a deadline (sorts last).
pub const NO_DEADLINE: i64 = i64::MAX;

/// The order of a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// Receipt order (`seq`).
    #[default]
    Receipt,
    /// Breached, warning, the rest; nearest next deadline; `seq`.
    Urgency,
}

/// Where a ticket stands in the urgency order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UrgencyKey {
    pub rank: i64,
    pub deadline_ms: i64,
    pub seq: i64,
}

/// Where a page starts: after a key of its order (none for the first page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// After this `seq` (0: from the start).
    Receipt(i64),
    /// After this key (`None`: from the start).
    Urgency(Option<UrgencyKey>),
}

impl Cursor {
    /// The cursor of `token` in `order`; `None` when the token is not one this order gives
    /// out (the caller names the field).
    pub fn parse(order: ListOrder, token: &str) -> Option<Cursor> {
        match order {
            ListOrder::Receipt if token.is_empty() => Some(Cursor::Receipt(0)),
            ListOrder::Receipt => token
                .parse::<i64>()
                .ok()
                .filter(|seq| *seq >= 0)
                .map(Cursor::Receipt),
            ListOrder::Urgency if token.is_empty() => Some(Cursor::Urgency(None)),
            ListOrder::Urgency => {
                let mut parts = token.strip_prefix("u.")?.split('.');
                let mut next = || parts.next()?.parse::<i64>().ok();
                let key = UrgencyKey {
                    rank: next()?,
                    deadline_ms: next()?,
                    seq: next()?,
                };
                let valid = (0..=2).contains(&key.rank) && key.seq >= 0 && parts.next().is_none();
                valid.then_some(Cursor::Urgency(Some(key)))
            }
        }
    }

    /// The order this cursor pages through.
    pub fn order(&self) -> ListOrder {
        match self {
            Cursor::Receipt(_) => ListOrder::Receipt,
            Cursor::Urgency(_) => ListOrder::Urgency,
        }
    }
}

/// The page token that continues after `key` in `order`.
pub fn token_after(order: ListOrder, key: UrgencyKey) -> String {
    match order {
        ListOrder::Receipt => key.seq.to_string(),
        ListOrder::Urgency => format!("u.{}.{}.{}", key.rank, key.deadline_ms, key.seq),
    }
}

/// 0 breached, 1 warning, 2 the rest.
pub fn urgency_rank(ticket: &Ticket) -> i64 {
    match ticket.sla_state {
        SlaState::Breached => 0,
        SlaState::Warning => 1,
        SlaState::OnTime => 2,
    }
}

/// The deadline that comes next, in milliseconds: respond-by until the first response, then
/// resolve-by; [`NO_DEADLINE`] when there is none.
pub fn next_deadline_ms(ticket: &Ticket) -> i64 {
    let next = if ticket.responded_at.is_none() {
        ticket.respond_by.or(ticket.resolve_by)
    } else {
        ticket.resolve_by
    };
    next.map_or(NO_DEADLINE, |instant| instant.timestamp_millis())
}

/// The urgency key of a ticket stored at `seq`.
pub fn urgency_key(ticket: &Ticket, seq: i64) -> UrgencyKey {
    UrgencyKey {
        rank: urgency_rank(ticket),
        deadline_ms: next_deadline_ms(ticket),
        seq,
    }
}

/// The ORDER BY of a list in `order` (the same in SQLite and PostgreSQL).
pub fn order_by(order: ListOrder) -> &'static str {
    match order {
        ListOrder::Receipt => "seq",
        ListOrder::Urgency => "urgency_rank, next_deadline_ms, seq",
    }
}

/// The indexes of the urgency order: a department's queue, and every department's (for the
/// roles that see all).
pub const INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS tickets_by_department_urgency
        ON tickets (department, is_open, urgency_rank, next_deadline_ms, seq);
    CREATE INDEX IF NOT EXISTS tickets_by_urgency
        ON tickets (is_open, urgency_rank, next_deadline_ms, seq);";

/// The order columns of every row, for the projections' digest.
pub const DIGEST_QUERY: &str = "SELECT seq || '|' || urgency_rank || '|' || next_deadline_ms \
     || '|' || is_open FROM tickets ORDER BY seq";

/// Adds the order columns and their indexes to a SQLite `tickets` table made before they
/// existed, filled from each row's `state_json` (what a rebuild from the log would write).
pub fn migrate(connection: &Connection) -> Result<(), rusqlite::Error> {
    let has_columns: Option<String> = connection
        .query_row(
            "SELECT name FROM pragma_table_info('tickets') WHERE name = 'urgency_rank'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if has_columns.is_none() {
        connection.execute_batch(
            "ALTER TABLE tickets ADD COLUMN urgency_rank INTEGER NOT NULL DEFAULT 2;
             ALTER TABLE tickets ADD COLUMN next_deadline_ms INTEGER NOT NULL \
             DEFAULT 9223372036854775807;
             ALTER TABLE tickets ADD COLUMN is_open INTEGER NOT NULL DEFAULT 1;",
        )?;
        fill(connection)?;
    }
    connection.execute_batch(INDEXES)
}

/// Computes the order columns of every existing row from its `state_json`.
fn fill(connection: &Connection) -> Result<(), rusqlite::Error> {
    let mut read = connection.prepare("SELECT seq, state_json FROM tickets")?;
    let mut update = connection.prepare(
        "UPDATE tickets SET urgency_rank = ?1, next_deadline_ms = ?2, is_open = ?3 \
         WHERE seq = ?4",
    )?;
    let mut rows = read.query([])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let json: String = row.get(1)?;
        let ticket: Ticket = serde_json::from_str(&json)
            .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
        let key = urgency_key(&ticket, seq);
        update.execute(params![
            key.rank,
            key.deadline_ms,
            !ticket.is_archived(),
            seq
        ])?;
    }
    Ok(())
}

/// The same for the PostgreSQL `tickets` table, inside the migration's transaction (which
/// holds the migration lock): adds the columns, fills them from `state_json` in batches,
/// creates the indexes.
pub fn migrate_postgres(transaction: &mut postgres::Transaction<'_>) -> Result<(), LogError> {
    let has_columns: bool = transaction
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = 'tickets' \
             AND column_name = 'urgency_rank')",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(LogError::postgres("look for the order columns"))?;
    if !has_columns {
        transaction
            .batch_execute(
                "ALTER TABLE tickets ADD COLUMN urgency_rank BIGINT NOT NULL DEFAULT 2, \
                 ADD COLUMN next_deadline_ms BIGINT NOT NULL DEFAULT 9223372036854775807, \
                 ADD COLUMN is_open BOOLEAN NOT NULL DEFAULT true",
            )
            .map_err(LogError::postgres("add the order columns"))?;
        fill_postgres(transaction)?;
    }
    transaction
        .batch_execute(INDEXES)
        .map_err(LogError::postgres("create the order indexes"))
}

/// Computes the order columns of every existing PostgreSQL row, a thousand rows at a time.
fn fill_postgres(transaction: &mut postgres::Transaction<'_>) -> Result<(), LogError> {
    let mut after = i64::MIN;
    loop {
        let rows = transaction
            .query(
                "SELECT seq, state_json FROM tickets WHERE seq > $1 ORDER BY seq LIMIT 1000",
                &[&after],
            )
            .map_err(LogError::postgres("read the tickets to order"))?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last
            .try_get(0)
            .map_err(LogError::postgres("read the tickets to order"))?;
        let (mut seqs, mut ranks, mut deadlines, mut open) = (vec![], vec![], vec![], vec![]);
        for row in &rows {
            let seq: i64 = row
                .try_get(0)
                .map_err(LogError::postgres("read the tickets to order"))?;
            let json: &str = row
                .try_get(1)
                .map_err(LogError::postgres("read the tickets to order"))?;
            let ticket: Ticket = serde_json::from_str(json).map_err(|error| LogError::Corrupt {
                reason: format!("stored ticket at seq {seq}: {error}"),
            })?;
            let key = urgency_key(&ticket, seq);
            seqs.push(seq);
            ranks.push(key.rank);
            deadlines.push(key.deadline_ms);
            open.push(!ticket.is_archived());
        }
        transaction
            .execute(
                "UPDATE tickets SET urgency_rank = u.rank, next_deadline_ms = u.deadline, \
                 is_open = u.is_open FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], \
                 $4::boolean[]) AS u(seq, rank, deadline, is_open) WHERE tickets.seq = u.seq",
                &[&seqs, &ranks, &deadlines, &open],
            )
            .map_err(LogError::postgres("write the order columns"))?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn tokens_round_trip_and_refuse_other_orders() {
        let key = UrgencyKey {
            rank: 1,
            deadline_ms: -5,
            seq: 42,
        };
        let token = token_after(ListOrder::Urgency, key);
        assert_eq!(
            Cursor::parse(ListOrder::Urgency, &token),
            Some(Cursor::Urgency(Some(key)))
        );
        assert_eq!(
            Cursor::parse(ListOrder::Receipt, &token_after(ListOrder::Receipt, key)),
            Some(Cursor::Receipt(42))
        );
        assert_eq!(
            Cursor::parse(ListOrder::Urgency, ""),
            Some(Cursor::Urgency(None))
        );
        for bad in [
            "42",
            "u.3.1.1",
            "u.1.1",
            "u.1.1.1.1",
            "u.1.x.1",
            "u.1.1.-1",
            "v.1.1.1",
        ] {
            assert_eq!(Cursor::parse(ListOrder::Urgency, bad), None, "{bad}");
        }
        assert_eq!(Cursor::parse(ListOrder::Receipt, &token), None);
        assert_eq!(Cursor::parse(ListOrder::Receipt, "-1"), None);
    }

    #[test]
    fn the_next_deadline_is_respond_by_until_the_first_response() {
        let at = |seconds| Some(Utc.timestamp_opt(seconds, 0).single().expect("instant"));
        let mut ticket = Ticket {
            respond_by: at(100),
            resolve_by: at(900),
            sla_state: SlaState::Warning,
            ..Ticket::default()
        };
        assert_eq!(
            urgency_key(&ticket, 7),
            UrgencyKey {
                rank: 1,
                deadline_ms: 100_000,
                seq: 7
            }
        );
        ticket.responded_at = at(50);
        assert_eq!(next_deadline_ms(&ticket), 900_000);
        ticket.resolve_by = None;
        assert_eq!(next_deadline_ms(&ticket), NO_DEADLINE);
        ticket.responded_at = None;
        ticket.respond_by = None;
        ticket.resolve_by = at(300);
        assert_eq!(next_deadline_ms(&ticket), 300_000);
    }
}
