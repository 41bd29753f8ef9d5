//! The one error type of the vault, `VaultError`.

use std::sync::Arc;

/// Everything that can go wrong in the key store or with a sealed object.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VaultError {
    /// SQLite failed while doing what `context` says.
    #[error("failed to {context}: {source}")]
    Sqlite {
        /// What was being done, as a verb phrase ("open key store").
        context: &'static str,
        /// The SQLite error.
        #[source]
        source: Arc<rusqlite::Error>,
    },
    /// PostgreSQL failed while doing what `context` says. A lost connection is reported
    /// here too (after one reconnect and retry failed); the next call connects again.
    #[error("failed to {context} at {store}: {reason}")]
    Postgres {
        /// What was being done, as a verb phrase ("read customer key").
        context: &'static str,
        /// The key store's connection string with its password replaced by `***`.
        store: String,
        /// The error with its causes, or a database error's severity, SQLSTATE and message.
        reason: String,
        /// The PostgreSQL error.
        #[source]
        source: Arc<postgres::Error>,
    },
    /// The operation works on a key store file only, and this key store is a PostgreSQL
    /// database.
    #[error("cannot {action}: the key store is in PostgreSQL ({store}): {advice}")]
    InDatabase {
        /// What was asked, as a verb phrase ("back up the key store").
        action: &'static str,
        /// The key store's connection string with its password replaced by `***`.
        store: String,
        /// What to do instead.
        advice: &'static str,
    },
    /// The key store's connection string (or a TLS file it names) is not usable.
    #[error("invalid key store {store}: {reason}")]
    Connection {
        /// The key store's connection string with its password replaced by `***`.
        store: String,
        /// What is wrong.
        reason: String,
    },
    /// A sealed object is not in the form `SealedJson` writes.
    #[error("malformed sealed object: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// The ciphertext does not decrypt under its key: it was changed, or sealed under
    /// another key.
    #[error("sealed object under key {key_id} does not decrypt: it was altered")]
    Tampered {
        /// The key id named by the sealed object.
        key_id: String,
    },
    /// The key id was never stored in this key store and was not erased here either: the
    /// key file is the wrong one, or was lost.
    #[error("key {key_id} is not in this key store and was never erased here")]
    UnknownKey {
        /// The key id named by the sealed object.
        key_id: String,
    },
    /// Copying key stores met a key the target holds otherwise (other bytes under the same
    /// key id, the key id for another customer, or another key for the customer): a key is
    /// never overwritten. Only the key id is named, never the customer or the key.
    #[error("key {key_id} cannot be copied: {reason}; a key is never overwritten")]
    KeyConflict {
        /// The key id of the source's row.
        key_id: String,
        /// How the target differs.
        reason: &'static str,
    },
    /// A value could not be turned into JSON text or back.
    #[error("failed to {context}: {reason}")]
    Json {
        /// What was being done.
        context: &'static str,
        /// The serde_json error.
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("failed to draw random bytes: {reason}")]
    Random {
        /// The error.
        reason: String,
    },
    /// The key store file holds something this build does not understand.
    #[error("key store corrupt: {reason}")]
    Corrupt {
        /// What is wrong.
        reason: String,
    },
}

/// Wraps a SQLite error with what was being done.
pub(crate) fn sqlite(context: &'static str) -> impl FnOnce(rusqlite::Error) -> VaultError {
    move |source| VaultError::Sqlite {
        context,
        source: Arc::new(source),
    }
}

/// Wraps a PostgreSQL error with what was being done and where (`store`, already
/// redacted).
pub(crate) fn postgres(context: &'static str, store: &str, source: postgres::Error) -> VaultError {
    let mut reason = match source.as_db_error() {
        // The detail is left out: it can quote a row's values (a customer reference).
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => source.to_string(),
    };
    if source.as_db_error().is_none() {
        let mut cause = std::error::Error::source(&source);
        while let Some(error) = cause {
            reason.push_str(&format!(": {error}"));
            cause = error.source();
        }
    }
    VaultError::Postgres {
        context,
        store: store.to_string(),
        reason,
        source: Arc::new(source),
    }
}
