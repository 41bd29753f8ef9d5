//! The test harness of the key store: a store on either backend, a SQLite file in a temp
//! folder or a fresh PostgreSQL database dropped at the end.
//!
//! The PostgreSQL server is named by `CLOOP_TEST_POSTGRES` (a base URL, default
//! `postgres://postgres@127.0.0.1:5432`). When it cannot be reached the tests fail, saying
//! so: they are never skipped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use vault::Vault;

/// The server the PostgreSQL tests use when `CLOOP_TEST_POSTGRES` is not set.
const DEFAULT_BASE: &str = "postgres://postgres@127.0.0.1:5432";

/// `base` (a `postgres://` URL, with or without a database) naming `database` instead.
fn with_database(base: &str, database: &str) -> String {
    let (base, query) = match base.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (base, String::new()),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    format!("{scheme}://{authority}/{database}{query}")
}

/// A database of its own for one test, dropped (with its connections) on `Drop`.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    /// The connection string of the database.
    pub url: String,
}

impl TestDatabase {
    /// Creates `cloop_test_vault_<pid>_<counter>` on the test server.
    pub fn create() -> TestDatabase {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::var("CLOOP_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_BASE.into());
        let name = format!(
            "cloop_test_vault_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin_url = with_database(&base, "postgres");
        let mut admin = admin_client(&admin_url);
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|error| panic!("cannot create test database {name}: {error:?}"));
        let url = with_database(&base, &name);
        TestDatabase {
            admin_url,
            name,
            url,
        }
    }

    /// A connection to the server's `postgres` database, to act on this one from outside.
    pub fn admin(&self) -> postgres::Client {
        admin_client(&self.admin_url)
    }

    /// A plain connection to this database, to look at or change its tables directly.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap_or_else(|error| {
            panic!("cannot connect to test database {}: {error}", self.name)
        })
    }

    /// Ends every session connected to this database (as a server restart would).
    pub fn terminate_sessions(&self) -> usize {
        let rows = self
            .admin()
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .expect("terminate the test database's sessions");
        rows.len()
    }
}

fn admin_client(admin_url: &str) -> postgres::Client {
    postgres::Client::connect(admin_url, postgres::NoTls).unwrap_or_else(|error| {
        panic!(
            "PostgreSQL is not reachable at {admin_url}: {error} ({:?}). These tests need a \
             server: start one, or set CLOOP_TEST_POSTGRES to its base URL \
             (default {DEFAULT_BASE})",
            std::error::Error::source(&error).map(ToString::to_string)
        )
    })
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A key store on one backend, with a temp folder for files either way (backups).
pub struct TestStore {
    /// The temp folder (the SQLite key store is `keys.db` in it).
    pub directory: tempfile::TempDir,
    /// The PostgreSQL database, for a PostgreSQL store.
    pub database: Option<TestDatabase>,
}

impl TestStore {
    /// A SQLite key store file in a temp folder.
    pub fn sqlite() -> TestStore {
        TestStore {
            directory: tempfile::tempdir().expect("temp folder"),
            database: None,
        }
    }

    /// A PostgreSQL key store in a fresh database.
    pub fn postgres() -> TestStore {
        TestStore {
            directory: tempfile::tempdir().expect("temp folder"),
            database: Some(TestDatabase::create()),
        }
    }

    /// The key store file, for a SQLite store.
    pub fn file(&self) -> Option<PathBuf> {
        self.database
            .is_none()
            .then(|| self.directory.path().join("keys.db"))
    }

    /// Opens a `Vault` on the store; call it again for a second process (replica).
    pub fn open(&self) -> Vault {
        match (&self.database, self.file()) {
            (Some(database), _) => {
                Vault::open_postgres(&database.url).expect("open PostgreSQL vault")
            }
            (None, Some(file)) => Vault::open_file(file).expect("open vault file"),
            (None, None) => unreachable!("a store is a file or a database"),
        }
    }

    /// The database, for tests on PostgreSQL only.
    pub fn database(&self) -> &TestDatabase {
        self.database.as_ref().expect("a PostgreSQL store")
    }
}

#[test]
fn with_database_replaces_or_adds_the_database() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@db:5432/cloop?sslmode=disable", "x"),
        "postgres://u:p@db:5432/x?sslmode=disable"
    );
}
