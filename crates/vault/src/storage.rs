//! Where the keys live: one SQLite file or one PostgreSQL database, behind the few
//! statements the vault needs (`Storage`), each with its SQL for both backends side by side.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension};

use crate::copy::{plan_keys, CopyStats, ErasedRow, KeyPlan, KeyRow, TargetState};
use crate::customer::CustomerRef;
use crate::error::{postgres as pg_error, sqlite, VaultError};
use crate::sealed::KeyId;

/// The format of the key store this build writes, recorded in `vault_meta`.
const FORMAT: &str = "closedloop.vault.v1";

/// One 256-bit customer key.
pub(crate) type Key = Arc<[u8; 32]>;

/// The key store's tables with the column types of one database (key bytes, instants): the
/// same tables and constraints in SQLite and PostgreSQL.
macro_rules! schema {
    ($bytes:literal, $time:literal) => {
        concat!(
            "
CREATE TABLE IF NOT EXISTS vault_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customer_keys (
    key_id       TEXT PRIMARY KEY,
    customer_ref TEXT NOT NULL UNIQUE,
    key          ",
            $bytes,
            " NOT NULL CHECK (length(key) = 32),
    created_at   ",
            $time,
            " NOT NULL
);
CREATE TABLE IF NOT EXISTS erased_keys (
    key_id    TEXT PRIMARY KEY,
    erased_at ",
            $time,
            " NOT NULL
);
"
        )
    };
}

const SQLITE_SCHEMA: &str = schema!("BLOB", "TEXT");

const POSTGRES_SCHEMA: &str = schema!("BYTEA", "TIMESTAMPTZ");

/// The advisory lock every replica takes while it creates the tables, so that two starting
/// at once do not both create them (`CREATE TABLE IF NOT EXISTS` is not safe against a
/// concurrent creation). The number is `closedloop.vault` read as ASCII, cut to 63 bits.
const SCHEMA_LOCK: i64 = 0x636c_6f73_6564_6c6f;

/// What the store knows of a key id.
pub(crate) enum KeyState {
    /// The key is stored.
    Stored(Key),
    /// The key was erased here.
    Erased,
    /// The key was never stored here.
    Unknown,
}

/// The storage of a vault: a SQLite connection or a PostgreSQL client.
pub(crate) enum Storage {
    /// A key store file of its own.
    Sqlite {
        /// The file.
        path: PathBuf,
        /// The one connection.
        connection: Connection,
    },
    /// A PostgreSQL database, shared by every replica.
    Postgres(Box<PostgresStore>),
}

/// A PostgreSQL key store: its connection settings and the current session, reconnected
/// on demand.
pub(crate) struct PostgresStore {
    /// The configuration parsed from the connection string (which may hold a password).
    config: postgres::Config,
    /// The TLS that the connection string's `sslmode` asks for (`eventlog::pgtls`).
    tls: eventlog::pgtls::PgTls,
    /// The connection string with its password replaced by `***`.
    shown: String,
    /// The session, `None` after a lost connection until the next call reconnects.
    session: Option<Session>,
}

/// One connection to PostgreSQL and the statements prepared on it, so that a query costs
/// one round trip rather than two (prepare, then execute).
struct Session {
    client: postgres::Client,
    statements: HashMap<&'static str, postgres::Statement>,
}

impl Session {
    /// The statement for `sql`, prepared on this connection the first time.
    fn prepared(&mut self, sql: &'static str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql, statement.clone());
        Ok(statement)
    }
}

fn now_text() -> String {
    time_text(&Utc::now())
}

/// A time as the key store file stores it (RFC 3339, microseconds, UTC).
fn time_text(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A time the key store file stored, or `Corrupt` naming the key id and the column.
fn parse_time(text: &str, key_id: &str, column: &str) -> Result<DateTime<Utc>, VaultError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| VaultError::Corrupt {
            reason: format!("{column} of key {key_id} is not an RFC 3339 time: {error}"),
        })
}

fn to_key(bytes: Vec<u8>) -> Result<Key, VaultError> {
    let key: [u8; 32] = bytes.try_into().map_err(|_| VaultError::Corrupt {
        reason: "a stored key is not 32 bytes".to_string(),
    })?;
    Ok(Arc::new(key))
}

/// Checks the recorded format against this build's, recording it when there is none.
fn check_format(found: Option<String>, store: &str) -> Result<bool, VaultError> {
    match found.as_deref() {
        None => Ok(true),
        Some(FORMAT) => Ok(false),
        Some(other) => Err(VaultError::Corrupt {
            reason: format!("{store} has format {other:?}, this build reads {FORMAT:?}"),
        }),
    }
}

/// Opens (creating if needed) a key store file with the settings every connection uses.
pub(crate) fn open_connection(path: &Path) -> Result<Connection, VaultError> {
    let connection = Connection::open(path).map_err(sqlite("open key store"))?;
    connection
        .busy_timeout(Duration::from_secs(5))
        .map_err(sqlite("set busy timeout"))?;
    let journal_mode: String = connection
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sqlite("switch key store to WAL mode"))?;
    if !journal_mode.eq_ignore_ascii_case("wal") {
        return Err(VaultError::Corrupt {
            reason: format!(
                "{} cannot use WAL mode (it is in {journal_mode} mode)",
                path.display()
            ),
        });
    }
    connection
        .pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite("set synchronous"))?;
    // Deleted keys are overwritten with zeros in the file rather than left in free pages.
    connection
        .pragma_update(None, "secure_delete", "ON")
        .map_err(sqlite("set secure delete"))?;
    Ok(connection)
}

/// Whether a PostgreSQL error means the connection is gone (closed, broken, or the server
/// shutting the session down), so that a new connection may succeed where it failed.
fn connection_lost(error: &postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    if let Some(code) = error.code() {
        let code = code.code();
        // Class 08 is "connection exception"; 57P01..57P03 are the server terminating the
        // session (admin shutdown, crash shutdown, cannot connect now).
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03");
    }
    std::error::Error::source(error).is_some_and(|cause| cause.is::<std::io::Error>())
}

/// The blocking client ends its session with a runtime of its own, which panics on a thread
/// that drives async tasks; the last handle of a vault is often dropped on one. The session is
/// therefore closed on a short-lived thread of its own.
impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = std::thread::Builder::new()
                .name("vault-close".to_string())
                .spawn(move || drop(session));
        }
    }
}

impl PostgresStore {
    fn connect(&self, context: &'static str) -> Result<Session, VaultError> {
        let client = self
            .config
            .connect(self.tls.clone())
            .map_err(|error| pg_error(context, &self.shown, error))?;
        Ok(Session {
            client,
            statements: HashMap::new(),
        })
    }

    /// Runs `work` on the client, connecting first when there is none. When the
    /// connection turns out lost, reconnects once and runs `work` again: every `work` here
    /// is one statement or one transaction that can be repeated.
    fn run<T>(
        &mut self,
        context: &'static str,
        mut work: impl FnMut(&mut Session) -> Result<T, postgres::Error>,
    ) -> Result<T, VaultError> {
        let mut retried = false;
        loop {
            let mut session = match self.session.take() {
                Some(session) if !session.client.is_closed() => session,
                _ => self.connect("reconnect to the key store")?,
            };
            match work(&mut session) {
                Ok(value) => {
                    self.session = Some(session);
                    return Ok(value);
                }
                // The session is dropped: the next attempt connects anew.
                Err(error) if connection_lost(&error) && !retried => retried = true,
                Err(error) => {
                    if !connection_lost(&error) {
                        self.session = Some(session);
                    }
                    return Err(pg_error(context, &self.shown, error));
                }
            }
        }
    }
}

impl Storage {
    /// Opens (creating if needed) the key store file at `path` and its tables.
    pub(crate) fn open_sqlite(path: &Path) -> Result<Storage, VaultError> {
        let connection = open_connection(path)?;
        connection
            .execute_batch(SQLITE_SCHEMA)
            .map_err(sqlite("create key store tables"))?;
        let format: Option<String> = connection
            .query_row(
                "SELECT value FROM vault_meta WHERE name = 'format'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(sqlite("read key store format"))?;
        if check_format(format, &path.display().to_string())? {
            connection
                .execute(
                    "INSERT INTO vault_meta (name, value) VALUES ('format', ?1)",
                    [FORMAT],
                )
                .map_err(sqlite("record key store format"))?;
        }
        Ok(Storage::Sqlite {
            path: path.to_path_buf(),
            connection,
        })
    }

    /// Connects to the PostgreSQL database at `url` and creates the tables there (under an
    /// advisory lock, in one transaction) when they are missing.
    pub(crate) fn open_postgres(url: &str) -> Result<Storage, VaultError> {
        let shown = eventlog::redact(url);
        let (mut config, tls) =
            eventlog::pgtls::config(url).map_err(|error| VaultError::Connection {
                store: shown.clone(),
                reason: error.to_string(),
            })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("closedloop vault");
        }
        let mut store = PostgresStore {
            config,
            tls,
            shown,
            session: None,
        };
        store.session = Some(store.connect("connect to the key store")?);
        let format = store.run("create key store tables", |session| {
            let mut transaction = session.client.transaction()?;
            transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
            transaction.batch_execute(POSTGRES_SCHEMA)?;
            let format: Option<String> = transaction
                .query_opt("SELECT value FROM vault_meta WHERE name = 'format'", &[])?
                .map(|row| row.get(0));
            if format.is_none() {
                transaction.execute(
                    "INSERT INTO vault_meta (name, value) VALUES ('format', $1) \
                     ON CONFLICT (name) DO NOTHING",
                    &[&FORMAT],
                )?;
            }
            transaction.commit()?;
            Ok(format)
        })?;
        check_format(format, &store.shown)?;
        Ok(Storage::Postgres(Box::new(store)))
    }

    /// Whether this is a PostgreSQL database.
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self, Storage::Postgres(_))
    }

    /// The key store as messages may show it: the file, or the connection string without
    /// its password.
    pub(crate) fn describe(&self) -> String {
        match self {
            Storage::Sqlite { path, .. } => path.display().to_string(),
            Storage::Postgres(store) => store.shown.clone(),
        }
    }

    /// The stored key of a customer.
    pub(crate) fn customer_key(
        &mut self,
        customer: &CustomerRef,
    ) -> Result<Option<(KeyId, Key)>, VaultError> {
        let stored: Option<(String, Vec<u8>)> = match self {
            Storage::Sqlite { connection, .. } => connection
                .query_row(
                    "SELECT key_id, key FROM customer_keys WHERE customer_ref = ?1",
                    [customer.as_str()],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()
                .map_err(sqlite("read customer key"))?,
            Storage::Postgres(store) => store.run("read customer key", |session| {
                let statement = session
                    .prepared("SELECT key_id, key FROM customer_keys WHERE customer_ref = $1")?;
                Ok(session
                    .client
                    .query_opt(&statement, &[&customer.as_str()])?
                    .map(|row| (row.get(0), row.get(1))))
            })?,
        };
        stored
            .map(|(key_id, key)| Ok((KeyId::parse(&key_id)?, to_key(key)?)))
            .transpose()
    }

    /// Stores new keys in one transaction, each unless its customer already has one (a
    /// concurrent writer's key wins, and this one is dropped). `keys` is sorted by customer
    /// reference, so that two replicas inserting overlapping batches lock the same rows in
    /// the same order. Answers, for each key, whether it was stored.
    pub(crate) fn insert_keys(
        &mut self,
        keys: &[(CustomerRef, KeyId, [u8; 32])],
    ) -> Result<Vec<bool>, VaultError> {
        debug_assert!(keys.windows(2).all(|pair| pair[0].0 < pair[1].0));
        match self {
            Storage::Sqlite { connection, .. } => {
                let transaction = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(sqlite("begin key creation"))?;
                let mut stored = Vec::with_capacity(keys.len());
                {
                    let mut insert = transaction
                        .prepare(
                            "INSERT INTO customer_keys (key_id, customer_ref, key, created_at) \
                             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (customer_ref) DO NOTHING",
                        )
                        .map_err(sqlite("prepare key creation"))?;
                    let created_at = now_text();
                    for (customer, key_id, key) in keys {
                        let inserted = insert
                            .execute(rusqlite::params![
                                key_id.to_string(),
                                customer.as_str(),
                                &key[..],
                                created_at
                            ])
                            .map_err(sqlite("store new customer key"))?;
                        stored.push(inserted > 0);
                    }
                }
                transaction.commit().map_err(sqlite("commit new keys"))?;
                Ok(stored)
            }
            Storage::Postgres(store) => store.run("store new customer keys", |session| {
                let insert = session.prepared(
                    "INSERT INTO customer_keys (key_id, customer_ref, key, created_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (customer_ref) DO NOTHING",
                )?;
                let mut transaction = session.client.transaction()?;
                let created_at = Utc::now();
                let mut stored = Vec::with_capacity(keys.len());
                for (customer, key_id, key) in keys {
                    let inserted = transaction.execute(
                        &insert,
                        &[
                            &key_id.to_string(),
                            &customer.as_str(),
                            &&key[..],
                            &created_at,
                        ],
                    )?;
                    stored.push(inserted > 0);
                }
                transaction.commit()?;
                Ok(stored)
            }),
        }
    }

    /// What the store knows of a key id, in one query.
    pub(crate) fn key_state(&mut self, key_id: KeyId) -> Result<KeyState, VaultError> {
        let id_text = key_id.to_string();
        let (stored, erased): (Option<Vec<u8>>, bool) = match self {
            Storage::Sqlite { connection, .. } => connection
                .query_row(
                    "SELECT (SELECT key FROM customer_keys WHERE key_id = ?1), \
                     EXISTS (SELECT 1 FROM erased_keys WHERE key_id = ?1)",
                    [&id_text],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(sqlite("read key"))?,
            Storage::Postgres(store) => store.run("read key", |session| {
                let statement = session.prepared(
                    "SELECT (SELECT key FROM customer_keys WHERE key_id = $1), \
                     EXISTS (SELECT 1 FROM erased_keys WHERE key_id = $1)",
                )?;
                let row = session.client.query_one(&statement, &[&id_text])?;
                Ok((row.get(0), row.get(1)))
            })?,
        };
        Ok(match (stored, erased) {
            (Some(bytes), _) => KeyState::Stored(to_key(bytes)?),
            (None, true) => KeyState::Erased,
            (None, false) => KeyState::Unknown,
        })
    }

    /// What the store knows of each of `key_ids` (distinct): on PostgreSQL in one query.
    pub(crate) fn key_states(
        &mut self,
        key_ids: &[KeyId],
    ) -> Result<Vec<(KeyId, KeyState)>, VaultError> {
        let Storage::Postgres(store) = self else {
            return key_ids
                .iter()
                .map(|key_id| Ok((*key_id, self.key_state(*key_id)?)))
                .collect();
        };
        let id_texts: Vec<String> = key_ids.iter().map(ToString::to_string).collect();
        let rows: Vec<(String, Option<Vec<u8>>, bool)> = store.run("read keys", |session| {
            let statement = session.prepared(
                "SELECT wanted.key_id, stored.key, \
                 EXISTS (SELECT 1 FROM erased_keys WHERE key_id = wanted.key_id) \
                 FROM unnest($1::text[]) AS wanted (key_id) \
                 LEFT JOIN customer_keys AS stored ON stored.key_id = wanted.key_id",
            )?;
            Ok(session
                .client
                .query(&statement, &[&id_texts])?
                .into_iter()
                .map(|row| (row.get(0), row.get(1), row.get(2)))
                .collect())
        })?;
        rows.into_iter()
            .map(|(key_id, stored, erased)| {
                let state = match (stored, erased) {
                    (Some(bytes), _) => KeyState::Stored(to_key(bytes)?),
                    (None, true) => KeyState::Erased,
                    (None, false) => KeyState::Unknown,
                };
                Ok((KeyId::parse(&key_id)?, state))
            })
            .collect()
    }

    /// Deletes a key and records its id in `erased_keys`, in one transaction. Answers
    /// whether the key was there. On SQLite the WAL is then checkpointed and truncated so
    /// that the key's bytes do not linger in it.
    pub(crate) fn erase(&mut self, key_id: KeyId) -> Result<bool, VaultError> {
        let id_text = key_id.to_string();
        match self {
            Storage::Sqlite { connection, .. } => {
                let transaction = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(sqlite("begin erasure"))?;
                let deleted = transaction
                    .execute("DELETE FROM customer_keys WHERE key_id = ?1", [&id_text])
                    .map_err(sqlite("delete key"))?;
                transaction
                    .execute(
                        "INSERT INTO erased_keys (key_id, erased_at) VALUES (?1, ?2) \
                         ON CONFLICT (key_id) DO NOTHING",
                        rusqlite::params![id_text, now_text()],
                    )
                    .map_err(sqlite("record erasure"))?;
                transaction.commit().map_err(sqlite("commit erasure"))?;
                if deleted > 0 {
                    // A busy reader may keep the checkpoint from finishing; the key is gone
                    // from the database either way and the next checkpoint overwrites the WAL.
                    let _ = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
                }
                Ok(deleted > 0)
            }
            Storage::Postgres(store) => store.run("erase key", |session| {
                let mut transaction = session.client.transaction()?;
                let deleted = transaction
                    .execute("DELETE FROM customer_keys WHERE key_id = $1", &[&id_text])?;
                transaction.execute(
                    "INSERT INTO erased_keys (key_id, erased_at) VALUES ($1, $2) \
                     ON CONFLICT (key_id) DO NOTHING",
                    &[&id_text, &Utc::now()],
                )?;
                transaction.commit()?;
                Ok(deleted > 0)
            }),
        }
    }

    /// Whether a key id was erased here.
    pub(crate) fn is_erased(&mut self, key_id: KeyId) -> Result<bool, VaultError> {
        let id_text = key_id.to_string();
        match self {
            Storage::Sqlite { connection, .. } => connection
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM erased_keys WHERE key_id = ?1)",
                    [&id_text],
                    |row| row.get(0),
                )
                .map_err(sqlite("read erased keys")),
            Storage::Postgres(store) => store.run("read erased keys", |session| {
                Ok(session
                    .client
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM erased_keys WHERE key_id = $1)",
                        &[&id_text],
                    )?
                    .get(0))
            }),
        }
    }

    /// Every row of `customer_keys` and `erased_keys`, read in one snapshot, in key id
    /// order.
    pub(crate) fn read_all_rows(&mut self) -> Result<(Vec<KeyRow>, Vec<ErasedRow>), VaultError> {
        match self {
            Storage::Sqlite { connection, .. } => {
                let transaction = connection
                    .transaction()
                    .map_err(sqlite("begin reading the key store"))?;
                let keys: Vec<(String, String, Vec<u8>, String)> = {
                    let mut statement = transaction
                        .prepare(
                            "SELECT key_id, customer_ref, key, created_at FROM customer_keys \
                             ORDER BY key_id",
                        )
                        .map_err(sqlite("read customer keys"))?;
                    let rows = statement
                        .query_map([], |row| {
                            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                        })
                        .map_err(sqlite("read customer keys"))?;
                    rows.collect::<Result<_, _>>()
                        .map_err(sqlite("read customer keys"))?
                };
                let erased: Vec<(String, String)> = {
                    let mut statement = transaction
                        .prepare("SELECT key_id, erased_at FROM erased_keys ORDER BY key_id")
                        .map_err(sqlite("read erased keys"))?;
                    let rows = statement
                        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                        .map_err(sqlite("read erased keys"))?;
                    rows.collect::<Result<_, _>>()
                        .map_err(sqlite("read erased keys"))?
                };
                transaction
                    .commit()
                    .map_err(sqlite("end reading the key store"))?;
                let keys = keys
                    .into_iter()
                    .map(|(key_id, customer_ref, key, created_at)| {
                        let created_at = parse_time(&created_at, &key_id, "created_at")?;
                        Ok(KeyRow {
                            key_id,
                            customer_ref,
                            key,
                            created_at,
                        })
                    })
                    .collect::<Result<_, VaultError>>()?;
                let erased = erased
                    .into_iter()
                    .map(|(key_id, erased_at)| {
                        let erased_at = parse_time(&erased_at, &key_id, "erased_at")?;
                        Ok(ErasedRow { key_id, erased_at })
                    })
                    .collect::<Result<_, VaultError>>()?;
                Ok((keys, erased))
            }
            Storage::Postgres(store) => store.run("read the whole key store", |session| {
                let mut transaction = session
                    .client
                    .build_transaction()
                    .isolation_level(postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()?;
                let keys = transaction
                    .query(
                        "SELECT key_id, customer_ref, key, created_at FROM customer_keys \
                         ORDER BY key_id",
                        &[],
                    )?
                    .into_iter()
                    .map(|row| KeyRow {
                        key_id: row.get(0),
                        customer_ref: row.get(1),
                        key: row.get(2),
                        created_at: row.get(3),
                    })
                    .collect();
                let erased = transaction
                    .query(
                        "SELECT key_id, erased_at FROM erased_keys ORDER BY key_id",
                        &[],
                    )?
                    .into_iter()
                    .map(|row| ErasedRow {
                        key_id: row.get(0),
                        erased_at: row.get(1),
                    })
                    .collect();
                transaction.commit()?;
                Ok((keys, erased))
            }),
        }
    }

    /// Records the erasures `rows` (their times unchanged) and deletes their keys, in one
    /// transaction, as `erase` does. Answers how many erasures were new here and how many
    /// keys were deleted.
    pub(crate) fn import_erasures(&mut self, rows: &[ErasedRow]) -> Result<(u64, u64), VaultError> {
        match self {
            Storage::Sqlite { connection, .. } => {
                let transaction = connection
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(sqlite("begin copying erasures"))?;
                let (mut recorded, mut deleted) = (0u64, 0u64);
                {
                    let mut delete = transaction
                        .prepare("DELETE FROM customer_keys WHERE key_id = ?1")
                        .map_err(sqlite("prepare key deletion"))?;
                    let mut record = transaction
                        .prepare(
                            "INSERT INTO erased_keys (key_id, erased_at) VALUES (?1, ?2) \
                             ON CONFLICT (key_id) DO NOTHING",
                        )
                        .map_err(sqlite("prepare erasure copy"))?;
                    for row in rows {
                        deleted += delete
                            .execute([&row.key_id])
                            .map_err(sqlite("delete key"))?
                            as u64;
                        recorded += record
                            .execute(rusqlite::params![row.key_id, time_text(&row.erased_at)])
                            .map_err(sqlite("record erasure"))?
                            as u64;
                    }
                }
                transaction
                    .commit()
                    .map_err(sqlite("commit copied erasures"))?;
                if deleted > 0 {
                    // As in `erase`: the deleted keys' bytes do not linger in the WAL.
                    let _ = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
                }
                Ok((recorded, deleted))
            }
            Storage::Postgres(store) => {
                let key_ids: Vec<&str> = rows.iter().map(|row| row.key_id.as_str()).collect();
                let times: Vec<DateTime<Utc>> = rows.iter().map(|row| row.erased_at).collect();
                store.run("copy erasures", |session| {
                    let mut transaction = session.client.transaction()?;
                    let deleted = transaction.execute(
                        "DELETE FROM customer_keys WHERE key_id = ANY($1)",
                        &[&key_ids],
                    )?;
                    let recorded = transaction.execute(
                        "INSERT INTO erased_keys (key_id, erased_at) \
                         SELECT * FROM unnest($1::text[], $2::timestamptz[]) \
                         ON CONFLICT (key_id) DO NOTHING",
                        &[&key_ids, &times],
                    )?;
                    transaction.commit()?;
                    Ok((recorded, deleted))
                })
            }
        }
    }

    /// Stores the keys `rows` (none erased in the source) unchanged, in one transaction,
    /// after reading in it what this store holds of them: a key already here with the same
    /// customer and bytes is skipped, one erased here is left out, and a key id or customer
    /// held here with another key is a `KeyConflict` that stores none of `rows`.
    pub(crate) fn import_keys(&mut self, rows: &[KeyRow]) -> Result<CopyStats, VaultError> {
        match self {
            Storage::Sqlite { connection, .. } => import_keys_sqlite(connection, rows),
            Storage::Postgres(store) => store.import_keys(rows),
        }
    }

    /// How many customer keys are stored (the contact index key, which is no customer's, not
    /// counted).
    pub(crate) fn key_count(&mut self) -> Result<u64, VaultError> {
        let reserved = crate::customer::CONTACT_INDEX_REF;
        let count: i64 = match self {
            Storage::Sqlite { connection, .. } => connection
                .query_row(
                    "SELECT COUNT(*) FROM customer_keys WHERE customer_ref <> ?1",
                    [reserved],
                    |row| row.get(0),
                )
                .map_err(sqlite("count keys"))?,
            Storage::Postgres(store) => store.run("count keys", |session| {
                Ok(session
                    .client
                    .query_one(
                        "SELECT COUNT(*) FROM customer_keys WHERE customer_ref <> $1",
                        &[&reserved],
                    )?
                    .get(0))
            })?,
        };
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

/// The counts of one chunk of keys copied.
fn import_counts(plan: &KeyPlan<'_>) -> CopyStats {
    CopyStats {
        keys_copied: plan.insert.len() as u64,
        keys_already_there: plan.already_there,
        keys_erased_in_target: plan.erased_in_target,
        ..CopyStats::default()
    }
}

/// [`Storage::import_keys`] into a key store file.
fn import_keys_sqlite(
    connection: &mut Connection,
    rows: &[KeyRow],
) -> Result<CopyStats, VaultError> {
    let transaction = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(sqlite("begin copying keys"))?;
    let state = sqlite_target_state(&transaction, rows)?;
    let plan = plan_keys(rows, &state)?;
    {
        let mut insert = transaction
            .prepare(
                "INSERT INTO customer_keys (key_id, customer_ref, key, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(sqlite("prepare key copy"))?;
        for row in &plan.insert {
            insert
                .execute(rusqlite::params![
                    row.key_id,
                    row.customer_ref,
                    row.key,
                    time_text(&row.created_at)
                ])
                .map_err(sqlite("store copied key"))?;
        }
    }
    transaction.commit().map_err(sqlite("commit copied keys"))?;
    Ok(import_counts(&plan))
}

/// What a key store file holds of `rows`, read in `transaction`.
fn sqlite_target_state(
    transaction: &rusqlite::Transaction<'_>,
    rows: &[KeyRow],
) -> Result<TargetState, VaultError> {
    let mut state = TargetState::default();
    for row in rows {
        let stored: Option<(String, Vec<u8>)> = transaction
            .query_row(
                "SELECT customer_ref, key FROM customer_keys WHERE key_id = ?1",
                [&row.key_id],
                |found| Ok((found.get(0)?, found.get(1)?)),
            )
            .optional()
            .map_err(sqlite("read target key"))?;
        if let Some(stored) = stored {
            state.by_key_id.insert(row.key_id.clone(), stored);
        }
        let erased: bool = transaction
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM erased_keys WHERE key_id = ?1)",
                [&row.key_id],
                |found| found.get(0),
            )
            .map_err(sqlite("read target erasures"))?;
        if erased {
            state.erased.insert(row.key_id.clone());
        }
        let held: Option<String> = transaction
            .query_row(
                "SELECT key_id FROM customer_keys WHERE customer_ref = ?1",
                [&row.customer_ref],
                |found| found.get(0),
            )
            .optional()
            .map_err(sqlite("read target customer key"))?;
        if let Some(held) = held {
            state.by_customer.insert(row.customer_ref.clone(), held);
        }
    }
    Ok(state)
}

impl PostgresStore {
    /// [`Storage::import_keys`] into PostgreSQL.
    fn import_keys(&mut self, rows: &[KeyRow]) -> Result<CopyStats, VaultError> {
        let key_ids: Vec<&str> = rows.iter().map(|row| row.key_id.as_str()).collect();
        let customers: Vec<&str> = rows.iter().map(|row| row.customer_ref.as_str()).collect();
        self.run("copy keys", |session| {
            let mut transaction = session.client.transaction()?;
            let state = postgres_target_state(&mut transaction, &key_ids, &customers)?;
            let plan = match plan_keys(rows, &state) {
                Ok(plan) => plan,
                // Dropping the transaction rolls it back.
                Err(conflict) => return Ok(Err(conflict)),
            };
            if !plan.insert.is_empty() {
                let ids: Vec<&str> = plan.insert.iter().map(|row| row.key_id.as_str()).collect();
                let refs: Vec<&str> = plan
                    .insert
                    .iter()
                    .map(|row| row.customer_ref.as_str())
                    .collect();
                let keys: Vec<&[u8]> = plan.insert.iter().map(|row| row.key.as_slice()).collect();
                let times: Vec<DateTime<Utc>> =
                    plan.insert.iter().map(|row| row.created_at).collect();
                transaction.execute(
                    "INSERT INTO customer_keys (key_id, customer_ref, key, created_at) \
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], \
                     $4::timestamptz[])",
                    &[&ids, &refs, &keys, &times],
                )?;
            }
            transaction.commit()?;
            Ok(Ok(import_counts(&plan)))
        })?
    }
}

/// What PostgreSQL holds of the keys `key_ids` and the customers `customers`.
fn postgres_target_state(
    transaction: &mut postgres::Transaction<'_>,
    key_ids: &[&str],
    customers: &[&str],
) -> Result<TargetState, postgres::Error> {
    let mut state = TargetState::default();
    for row in transaction.query(
        "SELECT key_id, customer_ref, key FROM customer_keys \
         WHERE key_id = ANY($1) OR customer_ref = ANY($2)",
        &[&key_ids, &customers],
    )? {
        let (key_id, customer_ref, key): (String, String, Vec<u8>) =
            (row.get(0), row.get(1), row.get(2));
        state
            .by_customer
            .insert(customer_ref.clone(), key_id.clone());
        state.by_key_id.insert(key_id, (customer_ref, key));
    }
    for row in transaction.query(
        "SELECT key_id FROM erased_keys WHERE key_id = ANY($1)",
        &[&key_ids],
    )? {
        state.erased.insert(row.get(0));
    }
    Ok(state)
}
