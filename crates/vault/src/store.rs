//! `Vault`: the key store in its own SQLite file, and sealing, opening and erasing with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{SecondsFormat, Utc};
use rand::rngs::OsRng;
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use crate::customer::CustomerRef;
use crate::error::{sqlite, VaultError};
use crate::sealed::{erased_marker, for_each_sealed_mut, KeyId, SealedJson, SEALED_VERSION};

/// The format of the key store file this build writes, recorded in `vault_meta`.
const FORMAT: &str = "closedloop.vault.v1";

/// The prefix of the associated data of every sealed object; the key id follows.
const ASSOCIATED_DATA_PREFIX: &str = "closedloop.vault.v1:";

/// Keys kept in memory before the cache is dropped and refilled from the file.
const MAX_CACHED_KEYS: usize = 65_536;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS vault_meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS customer_keys (
    key_id       TEXT PRIMARY KEY,
    customer_ref TEXT NOT NULL UNIQUE,
    key          BLOB NOT NULL CHECK (length(key) = 32),
    created_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS erased_keys (
    key_id    TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL
);
";

/// One 256-bit customer key.
type Key = Arc<[u8; 32]>;

/// How many sealed objects `open_in_place` opened, and how many it found erased.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenStats {
    /// Sealed objects replaced by their plaintext.
    pub opened: usize,
    /// Sealed objects replaced by the erased marker.
    pub erased: usize,
}

struct Inner {
    connection: Connection,
    /// Keys by key id.
    keys: HashMap<KeyId, Key>,
    /// Key ids by customer reference.
    key_ids: HashMap<CustomerRef, KeyId>,
}

impl Inner {
    fn remember(&mut self, customer: Option<&CustomerRef>, key_id: KeyId, key: Key) {
        if self.keys.len() >= MAX_CACHED_KEYS {
            self.keys.clear();
            self.key_ids.clear();
        }
        self.keys.insert(key_id, key);
        if let Some(customer) = customer {
            self.key_ids.insert(customer.clone(), key_id);
        }
    }

    fn forget(&mut self, key_id: KeyId) {
        self.keys.remove(&key_id);
        self.key_ids.retain(|_, cached| *cached != key_id);
    }
}

/// The key store. One per process (share it with `Arc`): it caches keys in memory, and only
/// its own `erase` drops them from that cache. Every method blocks on SQLite for a short
/// while (microseconds for a cached key, one fsynced commit for a new key or an erasure):
/// async callers use `spawn_blocking` or a thread of their own.
pub struct Vault {
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Vault")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn now_text() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Fills `buffer` from the operating system's random number generator.
fn random_bytes(buffer: &mut [u8]) -> Result<(), VaultError> {
    OsRng
        .try_fill_bytes(buffer)
        .map_err(|error| VaultError::Random {
            reason: error.to_string(),
        })
}

/// A fresh random key and its random id.
fn new_key() -> Result<(KeyId, [u8; 32]), VaultError> {
    let mut id_bytes = [0u8; 16];
    random_bytes(&mut id_bytes)?;
    let key_id = KeyId::from_uuid(uuid::Builder::from_random_bytes(id_bytes).into_uuid());
    let mut key = [0u8; 32];
    random_bytes(&mut key)?;
    Ok((key_id, key))
}

fn associated_data(key_id: KeyId) -> String {
    format!("{ASSOCIATED_DATA_PREFIX}{key_id}")
}

fn to_key(bytes: Vec<u8>) -> Result<Key, VaultError> {
    let key: [u8; 32] = bytes.try_into().map_err(|_| VaultError::Corrupt {
        reason: "a stored key is not 32 bytes".to_string(),
    })?;
    Ok(Arc::new(key))
}

/// Opens (creating if needed) a key store file with the settings every connection uses.
fn open_connection(path: &Path) -> Result<Connection, VaultError> {
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

impl Vault {
    /// Opens (creating if needed) the key store at `path`, e.g. `<data dir>/keys.db`.
    pub fn open_file(path: impl AsRef<Path>) -> Result<Vault, VaultError> {
        let path = path.as_ref().to_path_buf();
        let connection = open_connection(&path)?;
        connection
            .execute_batch(SCHEMA)
            .map_err(sqlite("create key store tables"))?;
        let format: Option<String> = connection
            .query_row(
                "SELECT value FROM vault_meta WHERE name = 'format'",
                [],
                |row| row.get(0),
            )
            .optional()
            .map_err(sqlite("read key store format"))?;
        match format.as_deref() {
            None => {
                connection
                    .execute(
                        "INSERT INTO vault_meta (name, value) VALUES ('format', ?1)",
                        [FORMAT],
                    )
                    .map_err(sqlite("record key store format"))?;
            }
            Some(FORMAT) => {}
            Some(other) => {
                return Err(VaultError::Corrupt {
                    reason: format!(
                        "{} has format {other:?}, this build reads {FORMAT:?}",
                        path.display()
                    ),
                })
            }
        }
        Ok(Vault {
            path,
            inner: Mutex::new(Inner {
                connection,
                keys: HashMap::new(),
                key_ids: HashMap::new(),
            }),
        })
    }

    /// The key store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state behind the lock is a connection and a cache that every method leaves
        // consistent at each step, so a panic elsewhere does not make it unusable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The key of a customer, created (and committed) when they have none.
    fn key_for(&self, customer: &CustomerRef) -> Result<(KeyId, Key), VaultError> {
        let mut inner = self.lock();
        if let Some(key_id) = inner.key_ids.get(customer).copied() {
            if let Some(key) = inner.keys.get(&key_id) {
                return Ok((key_id, Arc::clone(key)));
            }
        }
        let stored: Option<(String, Vec<u8>)> = inner
            .connection
            .query_row(
                "SELECT key_id, key FROM customer_keys WHERE customer_ref = ?1",
                [customer.as_str()],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(sqlite("read customer key"))?;
        let (key_id, key) = match stored {
            Some((key_id, key)) => (KeyId::parse(&key_id)?, to_key(key)?),
            None => {
                let (key_id, key) = new_key()?;
                inner
                    .connection
                    .execute(
                        "INSERT INTO customer_keys (key_id, customer_ref, key, created_at) \
                         VALUES (?1, ?2, ?3, ?4)",
                        rusqlite::params![
                            key_id.to_string(),
                            customer.as_str(),
                            &key[..],
                            now_text()
                        ],
                    )
                    .map_err(sqlite("store new customer key"))?;
                (key_id, Arc::new(key))
            }
        };
        inner.remember(Some(customer), key_id, Arc::clone(&key));
        Ok((key_id, key))
    }

    /// Makes sure every customer in `customers` has a key, creating the missing ones in one
    /// fsynced transaction. A new key costs one commit when `seal` creates it alone (about a
    /// millisecond with `synchronous = FULL`); a consumer that seals a batch of submissions
    /// calls this first so the batch pays for one commit. Returns how many keys it created.
    pub fn ensure_keys(&self, customers: &[CustomerRef]) -> Result<usize, VaultError> {
        let mut inner = self.lock();
        let missing: Vec<&CustomerRef> = customers
            .iter()
            .filter(|customer| !inner.key_ids.contains_key(*customer))
            .collect();
        if missing.is_empty() {
            return Ok(0);
        }
        let transaction = inner
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite("begin key creation"))?;
        let mut created = Vec::new();
        {
            let mut find = transaction
                .prepare("SELECT EXISTS (SELECT 1 FROM customer_keys WHERE customer_ref = ?1)")
                .map_err(sqlite("prepare key lookup"))?;
            let mut insert = transaction
                .prepare(
                    "INSERT INTO customer_keys (key_id, customer_ref, key, created_at) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(sqlite("prepare key creation"))?;
            let created_at = now_text();
            for customer in missing {
                let exists: bool = find
                    .query_row([customer.as_str()], |row| row.get(0))
                    .map_err(sqlite("look up customer key"))?;
                if exists || created.iter().any(|(known, _, _)| known == customer) {
                    continue;
                }
                let (key_id, key) = new_key()?;
                insert
                    .execute(rusqlite::params![
                        key_id.to_string(),
                        customer.as_str(),
                        &key[..],
                        created_at
                    ])
                    .map_err(sqlite("store new customer key"))?;
                created.push((customer.clone(), key_id, key));
            }
        }
        transaction.commit().map_err(sqlite("commit new keys"))?;
        let count = created.len();
        for (customer, key_id, key) in created {
            inner.remember(Some(&customer), key_id, Arc::new(key));
        }
        Ok(count)
    }

    /// The key of a key id: `Ok(None)` when it was erased, `UnknownKey` when this store
    /// never had it.
    fn key_of(&self, key_id: KeyId) -> Result<Option<Key>, VaultError> {
        let mut inner = self.lock();
        if let Some(key) = inner.keys.get(&key_id) {
            return Ok(Some(Arc::clone(key)));
        }
        let id_text = key_id.to_string();
        let stored: Option<Vec<u8>> = inner
            .connection
            .query_row(
                "SELECT key FROM customer_keys WHERE key_id = ?1",
                [&id_text],
                |row| row.get(0),
            )
            .optional()
            .map_err(sqlite("read key"))?;
        if let Some(bytes) = stored {
            let key = to_key(bytes)?;
            inner.remember(None, key_id, Arc::clone(&key));
            return Ok(Some(key));
        }
        let erased: bool = inner
            .connection
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM erased_keys WHERE key_id = ?1)",
                [&id_text],
                |row| row.get(0),
            )
            .map_err(sqlite("read erased keys"))?;
        if erased {
            Ok(None)
        } else {
            Err(VaultError::UnknownKey { key_id: id_text })
        }
    }

    /// Encrypts `value` under the customer's key (created on first use) into a sealed object
    /// to store in an event payload in place of the value.
    pub fn seal(&self, customer: &CustomerRef, value: &Value) -> Result<SealedJson, VaultError> {
        let (key_id, key) = self.key_for(customer)?;
        let plaintext = serde_json::to_vec(value).map_err(|error| VaultError::Json {
            context: "write the value to seal",
            reason: error.to_string(),
        })?;
        let mut nonce = [0u8; 24];
        random_bytes(&mut nonce)?;
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let aad = associated_data(key_id);
        let ciphertext = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Corrupt {
                reason: "encryption failed".to_string(),
            })?;
        Ok(SealedJson {
            sealed: SEALED_VERSION.to_string(),
            key: key_id,
            nonce: hex::encode(nonce),
            ct: hex::encode(ciphertext),
        })
    }

    /// Seals the `customer` member of an event payload in place (the `received` event
    /// carries the customer's name, phone, e-mail, WeChat openid and id there), under the
    /// key of the customer's reference. Returns the key id used, or `None` when there is
    /// nothing to seal: no `customer` object, one already sealed, or one with no identifying
    /// field (then it holds no contact data either and stays as it is).
    pub fn seal_customer(&self, payload: &mut Value) -> Result<Option<KeyId>, VaultError> {
        let Some(customer) = payload.get_mut("customer") else {
            return Ok(None);
        };
        if !customer.is_object() || crate::sealed::is_sealed(customer) {
            return Ok(None);
        }
        let Some(reference) = CustomerRef::from_customer_json(customer) else {
            return Ok(None);
        };
        let sealed = self.seal(&reference, customer)?;
        *customer = sealed.to_value();
        Ok(Some(sealed.key))
    }

    /// Decrypts a sealed object: `Ok(None)` once its key was erased; `Tampered` when the
    /// ciphertext, nonce or key id was changed; `UnknownKey` when this store never had the
    /// key.
    pub fn open(&self, sealed: &SealedJson) -> Result<Option<Value>, VaultError> {
        if sealed.sealed != SEALED_VERSION {
            return Err(VaultError::Malformed {
                reason: format!(
                    "sealed version {:?} is not {SEALED_VERSION:?}",
                    sealed.sealed
                ),
            });
        }
        let nonce: [u8; 24] = hex::decode(&sealed.nonce)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| VaultError::Malformed {
                reason: "nonce is not 24 bytes of hex".to_string(),
            })?;
        let ciphertext = hex::decode(&sealed.ct).map_err(|_| VaultError::Malformed {
            reason: "ct is not hex".to_string(),
        })?;
        let Some(key) = self.key_of(sealed.key)? else {
            return Ok(None);
        };
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        let aad = associated_data(sealed.key);
        let plaintext = cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Tampered {
                key_id: sealed.key.to_string(),
            })?;
        let value = serde_json::from_slice(&plaintext).map_err(|error| VaultError::Json {
            context: "read an opened value",
            reason: error.to_string(),
        })?;
        Ok(Some(value))
    }

    /// Opens every sealed object inside `value` in place: each becomes its plaintext, or the
    /// erased marker `{"erased": true}` when its key was erased. Stops at the first sealed
    /// object that is malformed, tampered with or under an unknown key, leaving the ones
    /// before it opened.
    pub fn open_in_place(&self, value: &mut Value) -> Result<OpenStats, VaultError> {
        let mut stats = OpenStats::default();
        for_each_sealed_mut(value, &mut |sealed_value| {
            let sealed =
                SealedJson::from_value(sealed_value)?.ok_or_else(|| VaultError::Malformed {
                    reason: "not a sealed object".to_string(),
                })?;
            match self.open(&sealed)? {
                Some(plain) => {
                    *sealed_value = plain;
                    stats.opened += 1;
                }
                None => {
                    *sealed_value = erased_marker();
                    stats.erased += 1;
                }
            }
            Ok(())
        })?;
        Ok(stats)
    }

    /// The key id of a customer's key, if they have one.
    pub fn key_id_of(&self, customer: &CustomerRef) -> Result<Option<KeyId>, VaultError> {
        let inner = self.lock();
        if let Some(key_id) = inner.key_ids.get(customer) {
            return Ok(Some(*key_id));
        }
        let stored: Option<String> = inner
            .connection
            .query_row(
                "SELECT key_id FROM customer_keys WHERE customer_ref = ?1",
                [customer.as_str()],
                |row| row.get(0),
            )
            .optional()
            .map_err(sqlite("read customer key id"))?;
        stored.map(|text| KeyId::parse(&text)).transpose()
    }

    /// Destroys the customer's key: every object sealed with it can never be opened again.
    /// Returns whether the customer had a key. A later `seal` for the same customer makes a
    /// new key.
    pub fn erase(&self, customer: &CustomerRef) -> Result<bool, VaultError> {
        match self.key_id_of(customer)? {
            Some(key_id) => self.erase_key(key_id),
            None => Ok(false),
        }
    }

    /// Destroys one key by its id (as named in sealed objects). Returns whether it existed.
    /// The key id is recorded in `erased_keys` so that opening its objects answers "erased"
    /// rather than "unknown key"; the WAL is then checkpointed and truncated so that the
    /// key's bytes do not linger in it.
    pub fn erase_key(&self, key_id: KeyId) -> Result<bool, VaultError> {
        let mut inner = self.lock();
        inner.forget(key_id);
        let id_text = key_id.to_string();
        let transaction = inner
            .connection
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite("begin erasure"))?;
        let deleted = transaction
            .execute("DELETE FROM customer_keys WHERE key_id = ?1", [&id_text])
            .map_err(sqlite("delete key"))?;
        transaction
            .execute(
                "INSERT OR IGNORE INTO erased_keys (key_id, erased_at) VALUES (?1, ?2)",
                rusqlite::params![id_text, now_text()],
            )
            .map_err(sqlite("record erasure"))?;
        transaction.commit().map_err(sqlite("commit erasure"))?;
        if deleted > 0 {
            // A busy reader may keep the checkpoint from finishing; the key is gone from the
            // database either way and the next checkpoint overwrites the WAL.
            let _ = inner
                .connection
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        Ok(deleted > 0)
    }

    /// Whether a key id was erased in this store.
    pub fn is_erased(&self, key_id: KeyId) -> Result<bool, VaultError> {
        let inner = self.lock();
        inner
            .connection
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM erased_keys WHERE key_id = ?1)",
                [key_id.to_string()],
                |row| row.get(0),
            )
            .map_err(sqlite("read erased keys"))
    }

    /// How many customer keys the store holds.
    pub fn key_count(&self) -> Result<u64, VaultError> {
        let inner = self.lock();
        let count: i64 = inner
            .connection
            .query_row("SELECT COUNT(*) FROM customer_keys", [], |row| row.get(0))
            .map_err(sqlite("count keys"))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Copies the key store to `destination` with SQLite's online backup, on a connection
    /// of its own so that sealing goes on meanwhile. The copy is written beside the
    /// destination and renamed into place, so `destination` is always a whole backup.
    pub fn backup_to(&self, destination: impl AsRef<Path>) -> Result<(), VaultError> {
        let destination = destination.as_ref();
        let source = open_connection(&self.path)?;
        let partial = partial_path(destination);
        let _ = std::fs::remove_file(&partial);
        copy_database(&source, &partial)?;
        std::fs::rename(&partial, destination).map_err(|error| VaultError::Corrupt {
            reason: format!("cannot move backup into {}: {error}", destination.display()),
        })?;
        Ok(())
    }

    /// Replaces the key store at `target` with the backup at `backup` (stop the service
    /// first). Keys erased after the backup was taken come back with it: erase them again
    /// from the log's erasure events (`audit::reapply_erasures`) before sealing resumes.
    pub fn restore(backup: impl AsRef<Path>, target: impl AsRef<Path>) -> Result<(), VaultError> {
        let source = Connection::open_with_flags(
            backup.as_ref(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(sqlite("open key store backup"))?;
        let target = target.as_ref();
        let partial = partial_path(target);
        let _ = std::fs::remove_file(&partial);
        copy_database(&source, &partial)?;
        for suffix in ["-wal", "-shm"] {
            let mut side_file = target.as_os_str().to_owned();
            side_file.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(side_file));
        }
        std::fs::rename(&partial, target).map_err(|error| VaultError::Corrupt {
            reason: format!(
                "cannot move restored key store into {}: {error}",
                target.display()
            ),
        })?;
        Ok(())
    }
}

/// The temporary file a backup or restore writes before it is renamed into place.
fn partial_path(destination: &Path) -> PathBuf {
    let mut name = destination.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Copies every page of `source` into a new database file at `destination`, fsynced.
fn copy_database(source: &Connection, destination: &Path) -> Result<(), VaultError> {
    let mut target = Connection::open(destination).map_err(sqlite("create backup file"))?;
    target
        .pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite("set backup synchronous"))?;
    {
        let backup = rusqlite::backup::Backup::new(source, &mut target)
            .map_err(sqlite("start key store backup"))?;
        // Copying every page in one step reads one consistent snapshot of the source.
        let mut attempts = 0;
        loop {
            match backup.step(-1).map_err(sqlite("copy key store pages"))? {
                rusqlite::backup::StepResult::Done => break,
                _ if attempts < 50 => {
                    attempts += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    return Err(VaultError::Corrupt {
                        reason: "the key store stayed locked during the backup".to_string(),
                    })
                }
            }
        }
    }
    target
        .pragma_update(None, "journal_mode", "DELETE")
        .map_err(sqlite("finish backup file"))?;
    drop(target);
    Ok(())
}
