//! The ticket read model in PostgreSQL, next to a PostgreSQL log: one `tickets` table that
//! every replica reads, with a `pg_trgm` index for search.
//!
//! - **Written with the log.** [`SharedTicketProjector`] is the log writer's
//!   [`SharedProjector`]: whichever replica appends a ticket's events folds them into its row
//!   inside the same transaction, under the append lock, so the table is exactly the log up to
//!   `ticket_projection.position`, for every replica at once. A request it cannot fold is
//!   refused and not recorded, as on SQLite.
//! - **Read by every replica.** `GetTicket`, `ListTickets` and the commands' "load the
//!   ticket" read it ([`SharedReads`]), so a replica answers with what any replica wrote a
//!   moment ago, without waiting for its own follower.
//! - **Search that works for Chinese.** `search_text` holds the content, product, order id
//!   and keywords (lower case, one per line) under a GIN `gin_trgm_ops` index. Each word of a
//!   text filter is a `LIKE '%word%'`, which the index answers for words of three characters
//!   or more, in any script (trigrams need no word boundaries, which Chinese text has none
//!   of). Two-character words (most Chinese words) are answered by a second GIN index over
//!   `search_bigrams`, every pair of neighbouring characters; one character is checked on the
//!   rows the other conditions leave.
//! - **The queue's order.** `urgency_rank`, `next_deadline_ms` and `is_open` (see
//!   [`crate::order`]) are written with every row, indexed for a department's queue and for
//!   every department's; a table made before them gains them, filled, at migration.
//! - **The rest stays local.** The SLA timers' index, retention, assignment cursors, watch
//!   snapshots and reports read each replica's own projections (`projections.db`), fed by the
//!   log's follower: they serve the leader's duties and long reads that need not queue behind
//!   the append lock.
//!
//! Personal data: like the SQLite projections, `state_json` holds the customer opened (the
//! projector opens the sealed customer with the key store) until a `customer_erased` event
//! empties it; after a commit that erased a customer, the table is vacuumed so that the old
//! row versions are given up (`docs/operations.md`, "Several workflow replicas on
//! PostgreSQL", says what PostgreSQL may keep beyond that).

use std::collections::HashMap;
use std::sync::Arc;

use domain::event::Event;
use domain::ticket::Ticket;
use eventlog::postgres::PgPool;
use eventlog::{LogError, RecordedEvent, SharedProjector};
use postgres::types::ToSql;
use postgres::Transaction;
use vault::Vault;

use crate::error::ProjectionError;
use crate::fold::TicketRow;
use crate::list::{like_pattern, page_of, TicketFilter, TicketPage, LIST_COLUMNS};
use crate::order::{order_by, Cursor, UrgencyKey};
use crate::record::ticket_of_stream;

/// The advisory lock the projection's migration holds (ASCII "cloopprj").
const MIGRATION_LOCK: i64 = 0x636c_6f6f_7070_726a;

const SCHEMA: &str = "
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE TABLE IF NOT EXISTS tickets (
    seq               BIGINT  PRIMARY KEY,
    ticket_id         TEXT    NOT NULL UNIQUE,
    version           BIGINT  NOT NULL,
    last_position     BIGINT  NOT NULL,
    step              TEXT    NOT NULL,
    department        TEXT,
    helpers           TEXT    NOT NULL,
    priority          TEXT,
    kind              TEXT,
    content_type      TEXT,
    scope             TEXT,
    channel           TEXT    NOT NULL,
    sla_state         TEXT    NOT NULL,
    customer_id       TEXT,
    assignee          TEXT,
    retention_expired BOOLEAN NOT NULL,
    created_at_ms     BIGINT  NOT NULL,
    updated_at_ms     BIGINT  NOT NULL,
    search_text       TEXT    NOT NULL,
    search_bigrams    TEXT[]  NOT NULL,
    state_json        TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_by_department ON tickets (department, step, seq);
CREATE INDEX IF NOT EXISTS tickets_by_step ON tickets (step, seq);
CREATE INDEX IF NOT EXISTS tickets_by_sla ON tickets (sla_state, seq);
CREATE INDEX IF NOT EXISTS tickets_by_priority ON tickets (priority, seq);
CREATE INDEX IF NOT EXISTS tickets_by_customer ON tickets (customer_id, seq);
CREATE INDEX IF NOT EXISTS tickets_by_assignee ON tickets (assignee, step, seq);
CREATE INDEX IF NOT EXISTS tickets_by_created ON tickets (created_at_ms);
CREATE INDEX IF NOT EXISTS tickets_search ON tickets USING gin (search_text gin_trgm_ops);
CREATE INDEX IF NOT EXISTS tickets_search_bigrams ON tickets USING gin (search_bigrams);
CREATE TABLE IF NOT EXISTS ticket_projection (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    position BIGINT  NOT NULL
);
INSERT INTO ticket_projection (id, position) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
";

/// Inserts or replaces the tickets of a batch, one array per column (the bigrams of each
/// ticket as one space-separated text: arrays of arrays do not unnest).
const UPSERT: &str = "INSERT INTO tickets (seq, ticket_id, version, last_position, step, \
     department, helpers, priority, kind, content_type, scope, channel, sla_state, customer_id, \
     assignee, retention_expired, created_at_ms, updated_at_ms, search_text, search_bigrams, \
     state_json, urgency_rank, next_deadline_ms, is_open) \
     SELECT seq, ticket_id, version, last_position, step, department, helpers, priority, kind, \
     content_type, scope, channel, sla_state, customer_id, assignee, retention_expired, \
     created_at_ms, updated_at_ms, search_text, string_to_array(bigrams, ' '), state_json, \
     urgency_rank, next_deadline_ms, is_open \
     FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], \
     $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
     $13::text[], $14::text[], $15::text[], $16::boolean[], $17::bigint[], $18::bigint[], \
     $19::text[], $20::text[], $21::text[], $22::bigint[], $23::bigint[], $24::boolean[]) \
     AS u(seq, ticket_id, version, last_position, step, department, helpers, priority, kind, \
     content_type, scope, channel, sla_state, customer_id, assignee, retention_expired, \
     created_at_ms, updated_at_ms, search_text, bigrams, state_json, urgency_rank, \
     next_deadline_ms, is_open) \
     ON CONFLICT (seq) DO UPDATE SET version = excluded.version, \
     last_position = excluded.last_position, step = excluded.step, \
     department = excluded.department, helpers = excluded.helpers, \
     priority = excluded.priority, kind = excluded.kind, content_type = excluded.content_type, \
     scope = excluded.scope, channel = excluded.channel, sla_state = excluded.sla_state, \
     customer_id = excluded.customer_id, assignee = excluded.assignee, \
     retention_expired = excluded.retention_expired, created_at_ms = excluded.created_at_ms, \
     updated_at_ms = excluded.updated_at_ms, search_text = excluded.search_text, \
     search_bigrams = excluded.search_bigrams, state_json = excluded.state_json, \
     urgency_rank = excluded.urgency_rank, next_deadline_ms = excluded.next_deadline_ms, \
     is_open = excluded.is_open";

/// The text the search index covers: content, product, order id and keywords, lower case,
/// one per line (a search word never holds a line break, so it cannot match across two).
/// Empty once the ticket's retention expired.
pub fn search_text(ticket: &Ticket) -> String {
    if ticket.retention_expired {
        return String::new();
    }
    [
        ticket.content.as_str(),
        ticket.product.as_deref().unwrap_or(""),
        ticket.order_id.as_deref().unwrap_or(""),
        &ticket.keywords.join(" "),
    ]
    .join("\n")
    .to_lowercase()
}

/// Every pair of neighbouring characters of `search_text` without white space, once each,
/// space-separated: the bigram index answers two-character words (most Chinese words), which
/// trigrams cannot.
pub fn search_bigrams(search_text: &str) -> String {
    let mut bigrams: Vec<String> = Vec::new();
    let mut previous: Option<char> = None;
    for symbol in search_text.chars() {
        if symbol.is_whitespace() {
            previous = None;
            continue;
        }
        if let Some(before) = previous {
            bigrams.push([before, symbol].iter().collect());
        }
        previous = Some(symbol);
    }
    bigrams.sort_unstable();
    bigrams.dedup();
    bigrams.join(" ")
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Decodes a row with its customer opened. A key store that cannot answer now is
/// `Unavailable` (the batch is repeated); a row that cannot be decoded is refused.
fn decode_for_projection(row: &RecordedEvent, vault: &Vault) -> Result<Event, LogError> {
    audit::decode_event(row, Some(vault)).map_err(|error| match error {
        audit::AuditError::Vault(
            vault::VaultError::Postgres { .. } | vault::VaultError::Sqlite { .. },
        ) => LogError::Unavailable {
            reason: format!("open the customer at position {}: {error}", row.position),
        },
        other => LogError::projector(format!("event at position {}: {other}", row.position)),
    })
}

/// Folds ticket streams into `tickets` inside the log writer's transaction.
pub struct SharedTicketProjector {
    vault: Arc<Vault>,
    /// Where to connect for the vacuum after an erasure.
    url: String,
    /// A `customer_erased` row was folded since the last commit.
    erased_since_commit: bool,
}

impl SharedTicketProjector {
    /// A projector that opens sealed customers with `vault`; `url` is the log's database.
    pub fn new(vault: Arc<Vault>, url: &str) -> Self {
        SharedTicketProjector {
            vault,
            url: url.to_string(),
            erased_since_commit: false,
        }
    }
}

impl SharedProjector for SharedTicketProjector {
    fn migrate(&mut self, client: &mut postgres::Client) -> Result<(), LogError> {
        let mut transaction = client.transaction().map_err(LogError::postgres(
            "begin the ticket projection's migration",
        ))?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(LogError::postgres(
                "lock for the ticket projection's migration",
            ))?;
        transaction
            .batch_execute(SCHEMA)
            .map_err(LogError::postgres("create the ticket projection"))?;
        crate::order::migrate_postgres(&mut transaction)?;
        transaction.commit().map_err(LogError::postgres(
            "commit the ticket projection's migration",
        ))
    }

    fn position(&mut self, transaction: &mut Transaction<'_>) -> Result<u64, LogError> {
        let position: i64 = transaction
            .query_one("SELECT position FROM ticket_projection WHERE id = 1", &[])
            .and_then(|row| row.try_get(0))
            .map_err(LogError::postgres("read the ticket projection's position"))?;
        Ok(u64::try_from(position).unwrap_or(0))
    }

    /// One run of one stream's rows (the catch-up): as a batch of one request.
    fn apply(
        &mut self,
        transaction: &mut Transaction<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), LogError> {
        self.apply_all(transaction, &[events.to_vec()])
            .map_err(|(_, error)| error)
    }

    /// Reads every ticket the batch touches in one query, opens every sealed customer with one
    /// key lookup, folds in memory, and writes the changed tickets in one statement.
    fn apply_all(
        &mut self,
        transaction: &mut Transaction<'_>,
        requests: &[Vec<RecordedEvent>],
    ) -> Result<(), (usize, LogError)> {
        let Some(last) = requests.iter().rev().find_map(|rows| rows.last()) else {
            return Ok(());
        };
        let last_position = to_i64(last.position);
        let decoded = decode_all(requests, &self.vault)?;
        let mut ticket_ids: Vec<&str> = requests
            .iter()
            .filter_map(|rows| rows.first())
            .filter_map(|row| ticket_of_stream(&row.stream_id))
            .collect();
        ticket_ids.sort_unstable();
        ticket_ids.dedup();
        let mut folded = load_tickets(transaction, &ticket_ids).map_err(|error| (0, error))?;
        for (index, (rows, events)) in requests.iter().zip(decoded).enumerate() {
            let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
                continue;
            };
            let Some(ticket_id) = ticket_of_stream(&first.stream_id) else {
                continue;
            };
            self.erased_since_commit |= rows.iter().any(|row| row.event_type == "customer_erased");
            let entry = folded
                .entry(ticket_id.to_owned())
                .or_insert_with(|| Folded {
                    seq: to_i64(first.position),
                    ticket: Ticket::default(),
                    last_position: 0,
                    changed: false,
                    unreadable: None,
                });
            if let Some(reason) = &entry.unreadable {
                return Err((index, LogError::projector(reason.clone())));
            }
            for event in &events {
                entry.ticket = domain::apply(std::mem::take(&mut entry.ticket), event);
            }
            entry.last_position = to_i64(last.position);
            entry.changed = true;
        }
        write_tickets(transaction, folded.values().filter(|entry| entry.changed))
            .map_err(|error| (0, error))?;
        transaction
            .execute(
                "UPDATE ticket_projection SET position = $1 WHERE id = 1",
                &[&last_position],
            )
            .map_err(|error| {
                (
                    0,
                    LogError::postgres("record the ticket projection's position")(error),
                )
            })?;
        Ok(())
    }

    /// After an erasure, gives up the old row versions that held the customer (on a thread
    /// of its own, so appends never wait for it).
    fn after_commit(&mut self) {
        if !std::mem::take(&mut self.erased_since_commit) {
            return;
        }
        let url = self.url.clone();
        let spawned = std::thread::Builder::new()
            .name("tickets-vacuum".to_string())
            .spawn(move || {
                let vacuumed = eventlog::pgtls::connect(&url).and_then(|mut client| {
                    client
                        .batch_execute("VACUUM tickets")
                        .map_err(eventlog::LogError::postgres("vacuum the ticket table"))
                });
                if let Err(error) = vacuumed {
                    tracing::warn!(%error, "vacuum the ticket projection after an erasure");
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "start the ticket projection's vacuum");
        }
    }
}

/// A ticket of the batch being folded.
struct Folded {
    seq: i64,
    ticket: Ticket,
    last_position: i64,
    /// Rows of this batch were folded into it.
    changed: bool,
    /// Why its stored state could not be read: a request on it is refused.
    unreadable: Option<String>,
}

/// The stored state of `ticket_ids`, by ticket id.
fn load_tickets(
    transaction: &mut Transaction<'_>,
    ticket_ids: &[&str],
) -> Result<HashMap<String, Folded>, LogError> {
    let mut folded = HashMap::with_capacity(ticket_ids.len());
    if ticket_ids.is_empty() {
        return Ok(folded);
    }
    for row in transaction
        .query(
            "SELECT ticket_id, seq, last_position, state_json FROM tickets \
             WHERE ticket_id = ANY($1)",
            &[&ticket_ids],
        )
        .map_err(LogError::postgres("read the tickets"))?
    {
        let ticket_id: String = row
            .try_get(0)
            .map_err(LogError::postgres("read the tickets"))?;
        let json: &str = row
            .try_get(3)
            .map_err(LogError::postgres("read the tickets"))?;
        let (ticket, unreadable) = match serde_json::from_str(json) {
            Ok(ticket) => (ticket, None),
            Err(error) => (
                Ticket::default(),
                Some(format!("stored ticket {ticket_id} is not valid: {error}")),
            ),
        };
        folded.insert(
            ticket_id,
            Folded {
                seq: row
                    .try_get(1)
                    .map_err(LogError::postgres("read the tickets"))?,
                ticket,
                last_position: row
                    .try_get(2)
                    .map_err(LogError::postgres("read the tickets"))?,
                changed: false,
                unreadable,
            },
        );
    }
    Ok(folded)
}

/// Every request's rows as domain events, with the customers opened: one key lookup for the
/// whole batch. A row that does not decode refuses its request (its index); a key store
/// that cannot answer fails the batch.
fn decode_all(
    requests: &[Vec<RecordedEvent>],
    vault: &Vault,
) -> Result<Vec<Vec<Event>>, (usize, LogError)> {
    // Only ticket streams are folded; the others (configuration, people) are not decoded.
    let folded = |rows: &[RecordedEvent]| {
        rows.first()
            .is_some_and(|row| ticket_of_stream(&row.stream_id).is_some())
    };
    let mut payloads = Vec::new();
    for (index, rows) in requests.iter().enumerate() {
        if !folded(rows) {
            continue;
        }
        for row in rows {
            payloads.push(row.payload_value().map_err(|error| {
                (
                    index,
                    LogError::projector(format!("payload at position {}: {error}", row.position)),
                )
            })?);
        }
    }
    match vault.open_all_in_place(&mut payloads) {
        Ok(_) => {}
        Err(error @ (vault::VaultError::Postgres { .. } | vault::VaultError::Sqlite { .. })) => {
            return Err((
                0,
                LogError::Unavailable {
                    reason: format!("open the customers: {error}"),
                },
            ))
        }
        // One sealed object is malformed or under an unknown key: find its request.
        Err(error) => {
            for (index, rows) in requests.iter().enumerate() {
                if !folded(rows) {
                    continue;
                }
                for row in rows {
                    decode_for_projection(row, vault).map_err(|error| (index, error))?;
                }
            }
            return Err((
                0,
                LogError::projector(format!("open the customers: {error}")),
            ));
        }
    }
    let mut payloads = payloads.into_iter();
    let mut decoded = Vec::with_capacity(requests.len());
    for (index, rows) in requests.iter().enumerate() {
        let mut events = Vec::with_capacity(rows.len());
        if !folded(rows) {
            decoded.push(events);
            continue;
        }
        for (row, payload) in rows.iter().zip(payloads.by_ref()) {
            events.push(
                Event::from_parts(&row.event_type, row.schema_version, &payload).map_err(
                    |error| {
                        (
                            index,
                            LogError::projector(format!(
                                "event at position {}: {error}",
                                row.position
                            )),
                        )
                    },
                )?,
            );
        }
        decoded.push(events);
    }
    Ok(decoded)
}

/// Writes the rows of `tickets` in one statement.
fn write_tickets<'a>(
    transaction: &mut Transaction<'_>,
    tickets: impl Iterator<Item = &'a Folded>,
) -> Result<(), LogError> {
    let mut columns = UpsertColumns::default();
    for entry in tickets {
        // Not a refusal: a folded ticket always serialises, and no one request is to blame.
        let row = TicketRow::of(&entry.ticket).map_err(|error| LogError::Corrupt {
            reason: format!("write ticket {}: {error}", entry.ticket.id_text()),
        })?;
        columns.push(entry, row);
    }
    if columns.seq.is_empty() {
        return Ok(());
    }
    transaction
        .execute(
            UPSERT,
            &[
                &columns.seq,
                &columns.ticket_id,
                &columns.version,
                &columns.last_position,
                &columns.step,
                &columns.department,
                &columns.helpers,
                &columns.priority,
                &columns.kind,
                &columns.content_type,
                &columns.scope,
                &columns.channel,
                &columns.sla_state,
                &columns.customer_id,
                &columns.assignee,
                &columns.retention_expired,
                &columns.created_at_ms,
                &columns.updated_at_ms,
                &columns.search_text,
                &columns.search_bigrams,
                &columns.state_json,
                &columns.urgency_rank,
                &columns.next_deadline_ms,
                &columns.is_open,
            ],
        )
        .map_err(LogError::postgres("write the tickets"))?;
    Ok(())
}

/// The columns of the tickets one statement writes, one vector per column.
#[derive(Default)]
struct UpsertColumns {
    seq: Vec<i64>,
    ticket_id: Vec<String>,
    version: Vec<i64>,
    last_position: Vec<i64>,
    step: Vec<&'static str>,
    department: Vec<Option<String>>,
    helpers: Vec<String>,
    priority: Vec<Option<&'static str>>,
    kind: Vec<Option<&'static str>>,
    content_type: Vec<Option<&'static str>>,
    scope: Vec<Option<&'static str>>,
    channel: Vec<String>,
    sla_state: Vec<&'static str>,
    customer_id: Vec<Option<String>>,
    assignee: Vec<Option<String>>,
    retention_expired: Vec<bool>,
    created_at_ms: Vec<i64>,
    updated_at_ms: Vec<i64>,
    search_text: Vec<String>,
    search_bigrams: Vec<String>,
    state_json: Vec<String>,
    urgency_rank: Vec<i64>,
    next_deadline_ms: Vec<i64>,
    is_open: Vec<bool>,
}

impl UpsertColumns {
    fn push(&mut self, entry: &Folded, row: TicketRow) {
        self.seq.push(entry.seq);
        self.ticket_id.push(row.ticket_id);
        self.version.push(row.version);
        self.last_position.push(entry.last_position);
        self.step.push(row.step);
        self.department.push(row.department);
        self.helpers.push(row.helpers);
        self.priority.push(row.priority);
        self.kind.push(row.kind);
        self.content_type.push(row.content_type);
        self.scope.push(row.scope);
        self.channel.push(row.channel);
        self.sla_state.push(row.sla_state);
        self.customer_id.push(row.customer_id);
        self.assignee.push(row.assignee);
        self.retention_expired.push(entry.ticket.retention_expired);
        self.created_at_ms.push(row.created_at_ms);
        self.updated_at_ms.push(row.updated_at_ms);
        let text = search_text(&entry.ticket);
        self.search_bigrams.push(search_bigrams(&text));
        self.search_text.push(text);
        self.state_json.push(row.state_json);
        self.urgency_rank.push(row.urgency_rank);
        self.next_deadline_ms.push(row.next_deadline_ms);
        self.is_open.push(row.is_open);
    }
}

/// Reads of the shared ticket table, on a few pooled connections.
#[derive(Clone)]
pub struct SharedReads {
    pool: Arc<PgPool>,
}

impl std::fmt::Debug for SharedReads {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("SharedReads")
    }
}

fn read_failed(error: LogError) -> ProjectionError {
    ProjectionError::Log(error)
}

fn pg_read(what: &'static str) -> impl Fn(postgres::Error) -> LogError {
    move |error| LogError::Unavailable {
        reason: format!("{what}: {error}"),
    }
}

impl SharedReads {
    /// Reads of the tickets table in the database at `url`.
    pub fn new(url: &str) -> Self {
        SharedReads {
            pool: Arc::new(PgPool::new(url.to_string(), 8)),
        }
    }

    /// One ticket's folded state and the position of its last event.
    pub fn ticket_blocking(
        &self,
        ticket_id: &str,
    ) -> Result<Option<(Ticket, u64)>, ProjectionError> {
        let found = self
            .pool
            .with_client(|client| {
                client
                    .query_opt(
                        "SELECT state_json, last_position FROM tickets WHERE ticket_id = $1",
                        &[&ticket_id],
                    )
                    .map_err(pg_read("read a ticket"))?
                    .map(|row| {
                        let json: String = row.try_get(0).map_err(pg_read("read a ticket"))?;
                        let position: i64 = row.try_get(1).map_err(pg_read("read a ticket"))?;
                        Ok((json, position))
                    })
                    .transpose()
            })
            .map_err(read_failed)?;
        match found {
            None => Ok(None),
            Some((json, position)) => {
                let ticket: Ticket = serde_json::from_str(&json).map_err(|error| {
                    ProjectionError::Corrupt(format!("stored ticket {ticket_id}: {error}"))
                })?;
                Ok(Some((ticket, u64::try_from(position).unwrap_or(0))))
            }
        }
    }

    /// Lists tickets matching `filter` in receipt order, after `after_seq`, at most
    /// `page_size`: the same rules as the SQLite `workflow::queries::list_tickets`.
    pub fn list_blocking(
        &self,
        filter: &TicketFilter,
        page_size: u32,
        after_seq: i64,
    ) -> Result<TicketPage, ProjectionError> {
        self.list_ordered_blocking(filter, page_size, Cursor::Receipt(after_seq))
    }

    /// Lists tickets matching `filter` in the order of `cursor`, after it, at most
    /// `page_size`: the same rules as the SQLite `workflow::queries::list_ordered`.
    pub fn list_ordered_blocking(
        &self,
        filter: &TicketFilter,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<TicketPage, ProjectionError> {
        let (sql, values) = list_query(filter, page_size, cursor);
        let found: Vec<(UrgencyKey, String)> = self
            .pool
            .with_client(|client| {
                let parameters: Vec<&(dyn ToSql + Sync)> = values
                    .iter()
                    .map(|value| value.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                client
                    .query(sql.as_str(), &parameters)
                    .map_err(pg_read("list tickets"))?
                    .iter()
                    .map(|row| {
                        let read = pg_read("list tickets");
                        let key = UrgencyKey {
                            seq: row.try_get(0).map_err(&read)?,
                            rank: row.try_get(1).map_err(&read)?,
                            deadline_ms: row.try_get(2).map_err(&read)?,
                        };
                        Ok((key, row.try_get(3).map_err(&read)?))
                    })
                    .collect()
            })
            .map_err(read_failed)?;
        page_of(found, page_size, cursor.order())
    }
}

type Parameter = Box<dyn ToSql + Sync + Send>;

/// The parameters of a query, numbered as they are bound.
#[derive(Default)]
struct Bound {
    values: Vec<Parameter>,
}

impl Bound {
    /// Binds `value` and returns its placeholder (`$1`, `$2`, ...).
    fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.values.push(Box::new(value));
        format!("${}", self.values.len())
    }
}

/// The SQL and parameters of a list.
fn list_query(filter: &TicketFilter, page_size: u32, cursor: Cursor) -> (String, Vec<Parameter>) {
    let mut bound = Bound::default();
    let mut conditions = vec!["NOT retention_expired".to_owned()];
    match cursor {
        Cursor::Receipt(after_seq) => conditions.push(format!("seq > {}", bound.bind(after_seq))),
        Cursor::Urgency(None) => {}
        Cursor::Urgency(Some(key)) => conditions.push(format!(
            "(urgency_rank, next_deadline_ms, seq) > ({}, {}, {})",
            bound.bind(key.rank),
            bound.bind(key.deadline_ms),
            bound.bind(key.seq)
        )),
    }
    if filter.open_only {
        conditions.push("is_open".to_owned());
    }
    let equal = [
        ("step", filter.step.map(|value| value.as_str().to_owned())),
        ("department", filter.department.clone()),
        (
            "priority",
            filter.priority.map(|value| value.as_str().to_owned()),
        ),
        ("kind", filter.kind.map(|value| value.as_str().to_owned())),
        (
            "content_type",
            filter.content_type.map(|value| value.as_str().to_owned()),
        ),
        ("channel", filter.channel.clone()),
        (
            "sla_state",
            filter.sla_state.map(|value| value.as_str().to_owned()),
        ),
        ("scope", filter.scope.map(|value| value.as_str().to_owned())),
        ("customer_id", filter.customer_id.clone()),
        ("ticket_id", filter.ticket_id.clone()),
        ("assignee", filter.assignee.clone()),
    ];
    for (column, value) in equal {
        if let Some(value) = value {
            conditions.push(format!("{column} = {}", bound.bind(value)));
        }
    }
    if let Some(from) = filter.created_from {
        conditions.push(format!(
            "created_at_ms >= {}",
            bound.bind(from.timestamp_millis())
        ));
    }
    if let Some(to) = filter.created_to {
        conditions.push(format!(
            "created_at_ms < {}",
            bound.bind(to.timestamp_millis())
        ));
    }
    if let Some(department) = &filter.involving_department {
        conditions.push(format!(
            "(department = {} OR helpers LIKE {})",
            bound.bind(department.clone()),
            bound.bind(like_pattern(&format!(",{department},")))
        ));
    }
    for term in filter.terms() {
        let term = term.to_lowercase();
        // Three characters or more: the trigram index. Two: the bigram index finds the
        // candidates, LIKE confirms. One: LIKE on the rows the other conditions leave.
        if term.chars().count() == 2 {
            conditions.push(format!(
                "search_bigrams @> ARRAY[{}]::text[]",
                bound.bind(term.clone())
            ));
        }
        conditions.push(format!(
            "search_text LIKE {}",
            bound.bind(like_pattern(&term))
        ));
    }
    let limit = bound.bind(i64::from(page_size) + 1);
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM tickets WHERE {} ORDER BY {} LIMIT {limit}",
        conditions.join(" AND "),
        order_by(cursor.order())
    );
    (sql, bound.values)
}

/// The digest both backends can compute: SHA-256 over `seq|ticket_id|version|last_position|
/// state_json` of every ticket, in `seq` order.
fn digest_rows(rows: impl Iterator<Item = (i64, String, i64, i64, String)>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for (seq, ticket_id, version, last_position, state_json) in rows {
        hasher.update(format!(
            "{seq}|{ticket_id}|{version}|{last_position}|{state_json}\n"
        ));
    }
    hex::encode(hasher.finalize())
}

const DIGEST_QUERY: &str =
    "SELECT seq, ticket_id, version, last_position, state_json FROM tickets ORDER BY seq";

/// The digest of the shared ticket table at `url` and the position it includes; `None` when
/// the database has no such table (no workflow has started on it yet).
pub fn digest_postgres(url: &str) -> Result<Option<(String, u64)>, ProjectionError> {
    let mut client = eventlog::pgtls::connect(url)?;
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('ticket_projection') IS NOT NULL \
             AND to_regclass('tickets') IS NOT NULL",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(ProjectionError::postgres("look for the ticket table"))?;
    if !exists {
        return Ok(None);
    }
    let position: i64 = client
        .query_one("SELECT position FROM ticket_projection WHERE id = 1", &[])
        .and_then(|row| row.try_get(0))
        .map_err(ProjectionError::postgres(
            "read the ticket table's position",
        ))?;
    let rows = client
        .query(DIGEST_QUERY, &[])
        .map_err(ProjectionError::postgres("read the ticket table"))?;
    let mut values = Vec::with_capacity(rows.len());
    for row in &rows {
        let read = |error| ProjectionError::Postgres {
            context: "read the ticket table",
            source: error,
        };
        values.push((
            row.try_get(0).map_err(read)?,
            row.try_get(1).map_err(read)?,
            row.try_get(2).map_err(read)?,
            row.try_get(3).map_err(read)?,
            row.try_get(4).map_err(read)?,
        ));
    }
    Ok(Some((
        digest_rows(values.into_iter()),
        u64::try_from(position).unwrap_or(0),
    )))
}

/// The same digest over the `tickets` table of SQLite projections (a rebuild's, to compare).
pub fn digest_sqlite(connection: &rusqlite::Connection) -> Result<String, rusqlite::Error> {
    let mut statement = connection.prepare(DIGEST_QUERY)?;
    let rows = statement
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(digest_rows(rows.into_iter()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bigrams_are_neighbouring_characters_without_white_space_once_each() {
        assert_eq!(search_bigrams("登录失败\n登录"), "失败 录失 登录");
        assert_eq!(search_bigrams("ab c\nxy"), "ab xy");
        assert_eq!(search_bigrams(""), "");
        assert_eq!(search_bigrams("一"), "");
    }
}
