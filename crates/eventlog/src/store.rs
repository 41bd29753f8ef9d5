//! Where a log lives: a SQLite file or a PostgreSQL database, as the `--store` flag names it.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::LogError;

/// The store of a log, parsed from `sqlite:PATH` (or a bare path) or `postgres://...`
/// (also `postgresql://...` and key=value connection strings starting with `host=`).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// One SQLite file holding the log (and, in the workflow, its projections).
    Sqlite(PathBuf),
    /// A PostgreSQL database holding the log; the connection string as given.
    Postgres(String),
}

impl StoreUrl {
    /// Parses a `--store` value, naming what is wrong with a bad one.
    pub fn parse(text: &str) -> Result<StoreUrl, LogError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(LogError::invalid(
                "store",
                "is empty (use sqlite:PATH or postgres://...)",
            ));
        }
        if text.starts_with("postgres://")
            || text.starts_with("postgresql://")
            || text.starts_with("host=")
        {
            // sslmode=verify-full and the certificate files are read by `pgtls`, not by the
            // `postgres` crate.
            let (rest, _) = crate::pgtls::split_tls_params(text)?;
            return rest
                .parse::<postgres::Config>()
                .map(|_| StoreUrl::Postgres(text.to_string()))
                .map_err(|error| {
                    LogError::invalid(
                        "store",
                        format!("not a PostgreSQL connection string: {error}"),
                    )
                });
        }
        let path = text.strip_prefix("sqlite:").unwrap_or(text);
        let path = path.strip_prefix("//").unwrap_or(path);
        if path.is_empty() {
            return Err(LogError::invalid("store", "sqlite: needs a file path"));
        }
        if text.contains("://") && !text.starts_with("sqlite:") {
            return Err(LogError::invalid(
                "store",
                format!(
                    "unknown scheme in {:?} (use sqlite:PATH or postgres://...)",
                    redact(text)
                ),
            ));
        }
        Ok(StoreUrl::Sqlite(PathBuf::from(path)))
    }

    /// The same store with `sslrootcert=ca` added to a PostgreSQL connection string that names
    /// no CA file yet (`--store-ca`); a SQLite store as it is.
    pub fn with_root_cert(self, ca: &std::path::Path) -> Result<StoreUrl, LogError> {
        match self {
            StoreUrl::Postgres(url) => {
                crate::pgtls::with_root_cert(&url, ca).map(StoreUrl::Postgres)
            }
            sqlite => Ok(sqlite),
        }
    }

    /// True for a PostgreSQL store.
    pub fn is_postgres(&self) -> bool {
        matches!(self, StoreUrl::Postgres(_))
    }
}

impl FromStr for StoreUrl {
    type Err = LogError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        StoreUrl::parse(text)
    }
}

/// Shows the store without a password, fit for logs and error messages.
impl fmt::Display for StoreUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(formatter, "sqlite:{}", path.display()),
            StoreUrl::Postgres(url) => formatter.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

/// A connection string with its password replaced by `***`, fit for messages: the
/// `user:password@` of a URL (a password may itself hold `@`), or the `password=` of a
/// key=value string.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((credentials, host)) = rest.rsplit_once('@') {
            if let Some((user, _password)) = credentials.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
        return url.to_string();
    }
    url.split_whitespace()
        .map(|part| {
            if part.starts_with("password=") {
                "password=***".to_string()
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds_and_names_the_field_of_a_bad_one() {
        assert_eq!(
            StoreUrl::parse("sqlite:/data/workflow.db").ok(),
            Some(StoreUrl::Sqlite(PathBuf::from("/data/workflow.db")))
        );
        assert_eq!(
            StoreUrl::parse("data/workflow.db").ok(),
            Some(StoreUrl::Sqlite(PathBuf::from("data/workflow.db")))
        );
        assert!(StoreUrl::parse("postgres://postgres@127.0.0.1:5432/cloop")
            .is_ok_and(|store| store.is_postgres()));
        for bad in ["", "sqlite:", "mysql://x/y", "postgres://host:notaport/db"] {
            let error = StoreUrl::parse(bad).expect_err(bad).to_string();
            assert!(error.starts_with("invalid store:"), "{bad}: {error}");
        }
    }

    #[test]
    fn never_shows_a_password() {
        let store = StoreUrl::parse("postgres://cloop:s3cret@db:5432/cloop").expect("parse");
        assert_eq!(store.to_string(), "postgres://cloop:***@db:5432/cloop");
        assert_eq!(
            redact("host=db user=cloop password=s3cret"),
            "host=db user=cloop password=***"
        );
        assert_eq!(
            redact("postgres://cloop:s3cret@db:5432/keys"),
            "postgres://cloop:***@db:5432/keys"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1:5432/keys"),
            "postgres://postgres@127.0.0.1:5432/keys"
        );
        assert_eq!(
            redact("host=db user=cloop password=s3cret dbname=keys"),
            "host=db user=cloop password=*** dbname=keys"
        );
    }
}
