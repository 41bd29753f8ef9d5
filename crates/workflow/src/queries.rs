//! Reads of the projections: one ticket, lists with every filter of `ListTickets` (keyset
//! pagination in receipt or urgency order, `projections::order`), and the tickets the SLA
//! timers must look at. Reads run on read-only connections of their own (WAL lets them read
//! while the writer writes), on tokio's blocking pool.

use crate::error::WorkflowError;
use projections::shared::SharedReads;

use chrono::{DateTime, Utc};
use domain::ticket::Ticket;
use domain::types::Step;
use domain::DomainError;
use projections::list::{like_pattern, page_of, LIST_COLUMNS};
pub use projections::list::{TicketFilter, TicketPage};
use projections::order::{order_by, UrgencyKey};
pub use projections::order::{Cursor, ListOrder};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Parses a page token of a list in `order` (the key of the last ticket of the previous
/// page in that order).
pub fn parse_page_token(order: ListOrder, token: &str) -> Result<Cursor, DomainError> {
    Cursor::parse(order, token).ok_or_else(|| {
        DomainError::invalid(
            "page_token",
            "is not a token this service gave out for this order",
        )
    })
}

/// Parses a page token of a list in receipt order (the `seq` of the last ticket of the
/// previous page; 0 for the first page).
pub fn parse_receipt_token(token: &str) -> Result<i64, DomainError> {
    match parse_page_token(ListOrder::Receipt, token)? {
        Cursor::Receipt(seq) => Ok(seq),
        Cursor::Urgency(_) => Err(DomainError::invalid(
            "page_token",
            "is not a token this service gave out for this order",
        )),
    }
}

/// Lists tickets matching `filter` in receipt order, after `after_seq`, at most `page_size`.
pub fn list_tickets(
    connection: &Connection,
    filter: &TicketFilter,
    page_size: u32,
    after_seq: i64,
) -> Result<TicketPage, WorkflowError> {
    list_ordered(connection, filter, page_size, Cursor::Receipt(after_seq))
}

/// Lists tickets matching `filter` in the order of `cursor`, after it, at most `page_size`.
pub fn list_ordered(
    connection: &Connection,
    filter: &TicketFilter,
    page_size: u32,
    cursor: Cursor,
) -> Result<TicketPage, WorkflowError> {
    let mut conditions: Vec<String> = vec![projections::retention::LIST_CONDITION.to_owned()];
    let mut values: Vec<Value> = Vec::new();
    match cursor {
        Cursor::Receipt(after_seq) => {
            conditions.push("seq > ?".to_owned());
            values.push(Value::Integer(after_seq));
        }
        Cursor::Urgency(None) => {}
        Cursor::Urgency(Some(key)) => {
            conditions.push("(urgency_rank, next_deadline_ms, seq) > (?, ?, ?)".to_owned());
            values.extend([key.rank, key.deadline_ms, key.seq].map(Value::Integer));
        }
    }
    let urgency = cursor.order() == ListOrder::Urgency;
    // A step says whether the tickets are open, which the urgency indexes begin with.
    if filter.open_only || (urgency && filter.step.is_some_and(|step| step != Step::Archive)) {
        conditions.push("is_open = 1".to_owned());
    } else if urgency && filter.step == Some(Step::Archive) {
        conditions.push("is_open = 0".to_owned());
    }
    let mut equal = |column: &str, value: Option<String>| {
        if let Some(value) = value {
            // In the urgency order the broad filters are checked on the rows an urgency index
            // gives in order (`+column` keeps SQLite, which has no statistics here, from
            // choosing the column's own index and sorting everything it matches).
            let broad = urgency && !matches!(column, "department" | "customer_id" | "ticket_id");
            conditions.push(format!("{}{column} = ?", if broad { "+" } else { "" }));
            values.push(Value::Text(value));
        }
    };
    equal("step", filter.step.map(|value| value.as_str().to_owned()));
    equal("department", filter.department.clone());
    equal(
        "priority",
        filter.priority.map(|value| value.as_str().to_owned()),
    );
    equal("kind", filter.kind.map(|value| value.as_str().to_owned()));
    equal(
        "content_type",
        filter.content_type.map(|value| value.as_str().to_owned()),
    );
    equal("channel", filter.channel.clone());
    equal(
        "sla_state",
        filter.sla_state.map(|value| value.as_str().to_owned()),
    );
    equal("scope", filter.scope.map(|value| value.as_str().to_owned()));
    equal("customer_id", filter.customer_id.clone());
    equal("ticket_id", filter.ticket_id.clone());
    equal("assignee", filter.assignee.clone());
    if let Some(from) = filter.created_from {
        conditions.push("created_at_ms >= ?".to_owned());
        values.push(Value::Integer(from.timestamp_millis()));
    }
    if let Some(to) = filter.created_to {
        conditions.push("created_at_ms < ?".to_owned());
        values.push(Value::Integer(to.timestamp_millis()));
    }
    if let Some(department) = &filter.involving_department {
        conditions.push("(department = ? OR helpers LIKE ? ESCAPE '\\')".to_owned());
        values.push(Value::Text(department.clone()));
        values.push(Value::Text(like_pattern(&format!(",{department},"))));
    }
    for term in filter.terms() {
        if term.chars().count() >= 3 {
            conditions.push(
                "seq IN (SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?)".to_owned(),
            );
            values.push(Value::Text(format!("\"{}\"", term.replace('"', "\"\""))));
        } else {
            // The trigram index needs three characters; shorter words scan the text table.
            conditions.push(
                "seq IN (SELECT rowid FROM tickets_fts WHERE content LIKE ? ESCAPE '\\' \
                 OR product LIKE ? ESCAPE '\\' OR order_id LIKE ? ESCAPE '\\' \
                 OR keywords LIKE ? ESCAPE '\\')"
                    .to_owned(),
            );
            let pattern = like_pattern(&term);
            for _ in 0..4 {
                values.push(Value::Text(pattern.clone()));
            }
        }
    }
    let limit = i64::from(page_size) + 1;
    values.push(Value::Integer(limit));
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM tickets WHERE {} ORDER BY {} LIMIT ?",
        conditions.join(" AND "),
        order_by(cursor.order())
    );
    let mut statement = connection
        .prepare_cached(&sql)
        .map_err(WorkflowError::sqlite("prepare ticket list"))?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(values), |row| {
            let key = UrgencyKey {
                seq: row.get(0)?,
                rank: row.get(1)?,
                deadline_ms: row.get(2)?,
            };
            Ok((key, row.get::<_, String>(3)?))
        })
        .map_err(WorkflowError::sqlite("list tickets"))?;
    let mut found: Vec<(UrgencyKey, String)> = Vec::new();
    for row in rows {
        found.push(row.map_err(WorkflowError::sqlite("read ticket row"))?);
    }
    page_of(found, page_size, cursor.order()).map_err(WorkflowError::from)
}

/// Every row of a read with `params`, each mapped by `map`; `prepare` and `read` say what
/// was being done when SQLite fails.
pub fn read_all<T>(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    (prepare, read): (&'static str, &'static str),
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, WorkflowError> {
    let mut statement = connection
        .prepare_cached(sql)
        .map_err(WorkflowError::sqlite(prepare))?;
    let rows = statement
        .query_map(params, map)
        .map_err(WorkflowError::sqlite(read))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(WorkflowError::sqlite(read))
}

/// The first column of the one row a read with `params` finds, if it finds one.
pub fn read_optional<T: rusqlite::types::FromSql>(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    context: &'static str,
) -> Result<Option<T>, WorkflowError> {
    connection
        .prepare_cached(sql)
        .and_then(|mut statement| statement.query_row(params, |row| row.get(0)).optional())
        .map_err(WorkflowError::sqlite(context))
}

/// The ids of the tickets an index says are due at `instant`, oldest first, at most `limit`
/// (`sql` takes the instant in milliseconds and the limit).
pub fn due_ticket_ids(
    connection: &Connection,
    sql: &str,
    instant: DateTime<Utc>,
    limit: usize,
    contexts: (&'static str, &'static str),
) -> Result<Vec<String>, WorkflowError> {
    read_all(
        connection,
        sql,
        rusqlite::params![
            instant.timestamp_millis(),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        contexts,
        |row| row.get::<_, String>(0),
    )
}

/// The tickets whose next SLA check is due at `now`, oldest first, at most `limit`.
pub fn due_for_timers(
    connection: &Connection,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<String>, WorkflowError> {
    due_ticket_ids(
        connection,
        "SELECT ticket_id FROM sla_index WHERE next_check_ms <= ?1 \
         ORDER BY next_check_ms LIMIT ?2",
        now,
        limit,
        ("prepare due timers", "read due timers"),
    )
}

/// A small pool of read-only connections to the workflow database, and, next to a
/// PostgreSQL log, the shared ticket table that tickets and lists are read from.
#[derive(Debug, Clone)]
pub struct Readers {
    path: PathBuf,
    idle: Arc<Mutex<Vec<Connection>>>,
    shared: Option<SharedReads>,
}

impl Readers {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            idle: Arc::new(Mutex::new(Vec::new())),
            shared: None,
        }
    }

    /// Reads tickets and lists from the shared ticket table in PostgreSQL.
    pub fn with_shared(mut self, shared: SharedReads) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Lists tickets matching `filter` in receipt order (see [`list_tickets`]), from the
    /// shared ticket table when there is one.
    pub async fn list(
        &self,
        filter: TicketFilter,
        page_size: u32,
        after_seq: i64,
    ) -> Result<TicketPage, WorkflowError> {
        self.list_from(filter, page_size, Cursor::Receipt(after_seq))
            .await
    }

    /// Lists tickets matching `filter` in the order of `cursor`, after it (see
    /// [`list_ordered`]), from the shared ticket table when there is one.
    pub async fn list_from(
        &self,
        filter: TicketFilter,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<TicketPage, WorkflowError> {
        match self.shared.clone() {
            Some(shared) => {
                spawn_read(move || {
                    eventlog::postgres::on_blocking_pool(|| {
                        shared
                            .list_ordered_blocking(&filter, page_size, cursor)
                            .map_err(WorkflowError::from)
                    })
                })
                .await
            }
            None => {
                self.with(move |connection| list_ordered(connection, &filter, page_size, cursor))
                    .await
            }
        }
    }

    fn open(&self) -> Result<Connection, WorkflowError> {
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(WorkflowError::sqlite("open a projection reader"))?;
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(WorkflowError::sqlite("set busy timeout"))?;
        Ok(connection)
    }

    /// Runs `read` on a pooled connection, on the calling thread.
    pub fn with_blocking<T>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, WorkflowError>,
    ) -> Result<T, WorkflowError> {
        let pooled = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let connection = match pooled {
            Some(connection) => connection,
            None => self.open()?,
        };
        let result = read(&connection);
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < 16 {
            idle.push(connection);
        }
        result
    }

    /// Runs `read` on a pooled connection on tokio's blocking pool.
    pub async fn with<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, WorkflowError> + Send + 'static,
    ) -> Result<T, WorkflowError> {
        let readers = self.clone();
        spawn_read(move || readers.with_blocking(read)).await
    }

    /// One ticket's folded state and the position of its last event, from the shared ticket
    /// table when there is one.
    pub async fn ticket(&self, ticket_id: String) -> Result<Option<(Ticket, u64)>, WorkflowError> {
        if let Some(shared) = self.shared.clone() {
            return spawn_read(move || {
                eventlog::postgres::on_blocking_pool(|| {
                    shared
                        .ticket_blocking(&ticket_id)
                        .map_err(WorkflowError::from)
                })
            })
            .await;
        }
        self.with(move |connection| {
            projections::load_ticket(connection, &ticket_id).map_err(WorkflowError::Corrupt)
        })
        .await
    }
}

/// Runs a blocking read on tokio's blocking pool.
async fn spawn_read<T: Send + 'static>(
    read: impl FnOnce() -> Result<T, WorkflowError> + Send + 'static,
) -> Result<T, WorkflowError> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|error| WorkflowError::Corrupt(format!("reader task failed: {error}")))?
}
