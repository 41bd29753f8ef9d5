//! The test fixture shared by the integration tests: a log on either backend, in a temporary
//! directory or a fresh PostgreSQL database that is dropped again at the end.

#![allow(dead_code)]

mod postgres_server;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventlog::rusqlite::Connection;
use eventlog::{
    verify_store, EventLog, LocalProjections, LogOptions, NewEvent, Projector, StoreUrl,
    VerifyReport,
};
use eventlog::{LogError, RecordedEvent};
use serde_json::json;
use tempfile::TempDir;

/// Where a test's log lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub use postgres_server::postgres_base_url;
use postgres_server::recreate_database;

/// A projector's failure from a failed statement.
pub fn projector_error(error: eventlog::rusqlite::Error) -> LogError {
    LogError::Projector {
        reason: error.to_string(),
    }
}

/// Records every position it is given, in the order given, in the table `seen`.
pub struct PositionProjector;

impl Projector for PositionProjector {
    fn migrate(&mut self, connection: &Connection) -> Result<(), LogError> {
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS seen (seq INTEGER PRIMARY KEY AUTOINCREMENT, position INTEGER NOT NULL UNIQUE)",
            )
            .map_err(projector_error)
    }

    fn apply(
        &mut self,
        transaction: &eventlog::rusqlite::Transaction<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), LogError> {
        for event in events {
            transaction
                .execute("INSERT INTO seen (position) VALUES (?1)", [event.position])
                .map_err(projector_error)?;
        }
        Ok(())
    }
}

static DATABASES: AtomicU64 = AtomicU64::new(0);

/// A fresh PostgreSQL database `cloop_evt_<pid>_<n>`, dropped (with its connections) on drop.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub fn create() -> TestDatabase {
        let name = format!(
            "cloop_evt_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        let base = postgres_base_url();
        off_runtime(|| recreate_database(&mut admin_client(), &name));
        TestDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// A plain connection to the database (as the superuser of the test server).
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test database")
    }

    /// Runs `work` on a plain connection to the database, off any async runtime.
    pub fn with_client<T: Send>(&self, work: impl FnOnce(&mut postgres::Client) -> T + Send) -> T {
        off_runtime(|| work(&mut self.client()))
    }
}

fn admin_client() -> postgres::Client {
    postgres::Client::connect(
        &format!("{}/postgres", postgres_base_url()),
        postgres::NoTls,
    )
    .expect("connect to PostgreSQL (set CLOOP_TEST_POSTGRES)")
}

/// Runs blocking PostgreSQL work off the async runtime (the `postgres` client panics inside
/// one).
pub fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        off_runtime(move || drop_database(&name));
    }
}

fn drop_database(name: &str) {
    {
        if let Ok(mut admin) = postgres::Client::connect(
            &format!("{}/postgres", postgres_base_url()),
            postgres::NoTls,
        ) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// A place for one log: a temporary directory (the SQLite file, or the local projections of
/// a PostgreSQL log) and, for PostgreSQL, its own database.
pub struct TestLog {
    pub backend: Backend,
    pub directory: TempDir,
    pub database: Option<TestDatabase>,
}

impl TestLog {
    pub fn new(backend: Backend) -> TestLog {
        TestLog {
            backend,
            directory: tempfile::tempdir().expect("create temp dir"),
            database: (backend == Backend::Postgres).then(TestDatabase::create),
        }
    }

    /// The SQLite file of a SQLite log.
    pub fn path(&self) -> PathBuf {
        self.directory.path().join("log.db")
    }

    /// The local projection file of a PostgreSQL log.
    pub fn projection_path(&self) -> PathBuf {
        self.directory.path().join("projections.db")
    }

    pub fn url(&self) -> &str {
        &self.database.as_ref().expect("a PostgreSQL test log").url
    }

    pub fn store(&self) -> StoreUrl {
        match self.backend {
            Backend::Sqlite => StoreUrl::Sqlite(self.path()),
            Backend::Postgres => StoreUrl::Postgres(self.url().to_string()),
        }
    }

    pub fn open(&self) -> EventLog {
        self.open_with(LogOptions::default())
    }

    pub fn open_with(&self, options: LogOptions) -> EventLog {
        self.try_open(options, None).expect("open log")
    }

    pub fn open_with_projector(&self, projector: Box<dyn Projector>) -> EventLog {
        self.try_open(LogOptions::default(), Some(projector))
            .expect("open log with projector")
    }

    pub fn try_open(
        &self,
        options: LogOptions,
        projector: Option<Box<dyn Projector>>,
    ) -> Result<EventLog, eventlog::LogError> {
        match self.backend {
            Backend::Sqlite => match projector {
                Some(projector) => EventLog::open_with_projector(self.path(), options, projector),
                None => EventLog::open(self.path(), options),
            },
            Backend::Postgres => EventLog::open_postgres(
                self.url(),
                options,
                projector.map(|projector| LocalProjections {
                    path: self.projection_path(),
                    projector,
                }),
            ),
        }
    }

    /// Verifies the whole log behind the crate's back (no handle needed).
    pub fn verify(&self) -> VerifyReport {
        verify_store(&self.store(), None, |_, _| {}).expect("verify")
    }

    /// Runs `work` on a plain connection to the PostgreSQL database.
    pub fn pg_with<T: Send>(&self, work: impl FnOnce(&mut postgres::Client) -> T + Send) -> T {
        self.database
            .as_ref()
            .expect("a PostgreSQL test log")
            .with_client(work)
    }

    /// Runs SQL behind the crate's back, with the append-only triggers still in force.
    pub fn execute(&self, sql: &str) -> Result<(), String> {
        match self.backend {
            Backend::Sqlite => raw_connection(&self.path())
                .execute_batch(sql)
                .map_err(|error| error.to_string()),
            Backend::Postgres => self.pg_with(|client| {
                client.batch_execute(sql).map_err(|error| {
                    error
                        .as_db_error()
                        .map_or_else(|| error.to_string(), |db| db.message().to_string())
                })
            }),
        }
    }

    /// Switches the append-only triggers off, as someone with full access to the database
    /// could.
    pub fn disable_triggers(&self) {
        match self.backend {
            Backend::Sqlite => self
                .execute(
                    "DROP TRIGGER events_are_never_updated; DROP TRIGGER events_are_never_deleted;",
                )
                .expect("drop triggers"),
            Backend::Postgres => self
                .execute("ALTER TABLE events DISABLE TRIGGER USER")
                .expect("disable triggers"),
        }
    }

    /// The highest stored position, read behind the crate's back (0 when nothing is there).
    pub fn stored_head(&self) -> u64 {
        match self.backend {
            Backend::Sqlite => Connection::open_with_flags(
                self.path(),
                eventlog::rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .and_then(|connection| {
                connection.query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |row| {
                    row.get(0)
                })
            })
            .unwrap_or(0),
            Backend::Postgres => stored_head_postgres(self.url()),
        }
    }
}

/// The highest stored position of a PostgreSQL log (0 when nothing is there yet).
pub fn stored_head_postgres(url: &str) -> u64 {
    off_runtime(|| stored_head_here(url))
}

fn stored_head_here(url: &str) -> u64 {
    postgres::Client::connect(url, postgres::NoTls)
        .ok()
        .and_then(|mut client| {
            client
                .query_one("SELECT COALESCE(MAX(position), 0) FROM events", &[])
                .ok()
        })
        .and_then(|row| row.try_get::<_, i64>(0).ok())
        .map_or(0, |head| head as u64)
}

pub fn event(number: u64) -> NewEvent {
    NewEvent::new(
        "thing.happened",
        json!({ "number": number, "text": "反馈 APP卡顿" }),
    )
    .with_actor(json!({ "name": "li.si", "role": "agent" }))
    .with_ids(Some("corr-1".to_string()), None)
}

pub fn events(count: u64) -> Vec<NewEvent> {
    (0..count).map(event).collect()
}

/// Polls `condition` until it holds or the deadline passes.
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn raw_connection(path: &Path) -> Connection {
    Connection::open(path).expect("open raw connection")
}
