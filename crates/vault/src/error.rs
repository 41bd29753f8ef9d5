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
