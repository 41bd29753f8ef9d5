//! `Vault`: the key store (its own SQLite file or a PostgreSQL database), and sealing,
//! opening and erasing with it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use rusqlite::Connection;
use serde_json::Value;

use crate::copy::{CopyStats, ErasedRow, KeyRow, COPY_CHUNK};
use crate::customer::{CustomerRef, CONTACT_INDEX_REF};
use crate::error::{sqlite, VaultError};
use crate::sealed::{
    empty_unreadable_text, erased_marker, for_each_sealed_mut, is_sealed, personal_members,
    sealed_key_ids, KeyId, SealedJson, SEALED_VERSION,
};
use crate::storage::{open_connection, Key, KeyState, Storage};

/// The prefix of the associated data of every sealed object; the key id follows.
const ASSOCIATED_DATA_PREFIX: &str = "closedloop.vault.v1:";

/// Keys kept in memory before the cache is dropped and refilled from the file.
const MAX_CACHED_KEYS: usize = 65_536;

/// How many sealed objects `open_in_place` opened, and how many it found erased.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenStats {
    /// Sealed objects replaced by their plaintext.
    pub opened: usize,
    /// Sealed objects replaced by the erased marker.
    pub erased: usize,
}

struct Inner {
    storage: Storage,
    /// Keys by key id (SQLite only: see `Vault`).
    keys: HashMap<KeyId, Key>,
    /// Key ids by customer reference (SQLite only).
    key_ids: HashMap<CustomerRef, KeyId>,
}

impl Inner {
    /// Whether keys are kept in memory: only when this process is the key store's one
    /// writer (SQLite). A PostgreSQL key store is shared with other processes that may
    /// erase a key at any time.
    fn caches(&self) -> bool {
        !self.storage.is_postgres()
    }

    fn remember(&mut self, customer: Option<&CustomerRef>, key_id: KeyId, key: Key) {
        if !self.caches() {
            return;
        }
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

/// The key store: a SQLite file of its own (`open_file`) or a PostgreSQL database shared by
/// every replica (`open_postgres`), with the same tables, behaviour and errors. Every method
/// blocks for a short while (microseconds for a cached key, one round trip to PostgreSQL,
/// one fsynced commit for a new key or an erasure): async callers use `spawn_blocking` or a
/// thread of their own (the PostgreSQL client cannot be used on an async runtime's thread
/// at all).
///
/// # Keys in memory
///
/// - **SQLite**: one `Vault` per file and process (share it with `Arc`). It caches keys in
///   memory, which is correct because nothing else writes the file: only its own `erase`
///   destroys keys, and that drops them from the cache.
/// - **PostgreSQL**: other processes (replicas) create and erase keys in the same database,
///   so this vault caches **no key at all**: `open` reads the key and its erasure in one
///   query for every sealed object, `open_in_place` in one query for every payload (however
///   many members it seals), so an erasure committed by any replica makes every later
///   `open` anywhere answer "erased"; `seal` and `seal_personal` read the customer's key for
///   every call, so data is never sealed under a key another replica erased earlier. The
///   cost is one round trip per `seal` or `seal_personal` call and per payload opened (0.1
///   to 0.2 ms to a server on the same machine). A key is created with
///   `INSERT ... ON CONFLICT (customer_ref) DO NOTHING` and then read back, so replicas
///   sealing for the same new customer at once all end up using the one stored key.
///   Sealing at the same instant as another replica erases that customer may seal under
///   the key being erased: that object then reads as erased, like the rest. Readers that
///   go through many events use `open_all_in_place`, which reads the keys of a whole page
///   in one query.
///
/// A lost PostgreSQL connection is reconnected and the statement retried once; when that
/// fails too the error is `VaultError::Postgres`, and the next call tries to connect again.
pub struct Vault {
    path: PathBuf,
    inner: Mutex<Inner>,
    /// The contact index key once read: no erasure ever reaches it (see
    /// [`Vault::contact_index_key`]), so even a PostgreSQL vault may keep it.
    contact_index: std::sync::OnceLock<[u8; 32]>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Vault")
            .field("store", &self.describe())
            .finish_non_exhaustive()
    }
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

impl Vault {
    fn new(path: PathBuf, storage: Storage) -> Vault {
        Vault {
            path,
            inner: Mutex::new(Inner {
                storage,
                keys: HashMap::new(),
                key_ids: HashMap::new(),
            }),
            contact_index: std::sync::OnceLock::new(),
        }
    }

    /// Opens (creating if needed) the key store at `path`, e.g. `<data dir>/keys.db`.
    pub fn open_file(path: impl AsRef<Path>) -> Result<Vault, VaultError> {
        let path = path.as_ref().to_path_buf();
        let storage = Storage::open_sqlite(&path)?;
        Ok(Vault::new(path, storage))
    }

    /// Connects to the key store in the PostgreSQL database at `url` (`postgres://...` or
    /// `host=... dbname=...`), creating its tables when they are missing. Replicas starting
    /// at once are safe: the tables are created under an advisory lock in one transaction.
    /// Keep the keys in a database of their own, apart from the event log's, so that whoever
    /// holds a backup of the log does not hold the keys too.
    pub fn open_postgres(url: &str) -> Result<Vault, VaultError> {
        let storage = Storage::open_postgres(url)?;
        Ok(Vault::new(PathBuf::new(), storage))
    }

    /// The key store file; empty for a PostgreSQL key store (see `is_postgres`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the key store is a PostgreSQL database rather than a file.
    pub fn is_postgres(&self) -> bool {
        self.lock().storage.is_postgres()
    }

    /// The key store as logs and messages may show it: the file's path, or the connection
    /// string with its password replaced by `***`.
    pub fn describe(&self) -> String {
        self.lock().storage.describe()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state behind the lock is a connection and a cache that every method leaves
        // consistent at each step, so a panic elsewhere does not make it unusable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The secret of the customer lookup's contact hashes (`domain::customer`), created
    /// (and committed) on first use. It is kept as the key of the reserved reference
    /// [`CONTACT_INDEX_REF`], which no customer can have (customers are `customer:...` or
    /// `contact:...`), so it is backed up, copied to PostgreSQL and shared by replicas like
    /// every key; nothing is ever sealed with it, so no erasure reaches it. Since no
    /// erasure reaches it, it is read once and kept in memory, a PostgreSQL key store
    /// included (which keeps no customer's key): the projector asks for it for every ticket.
    pub fn contact_index_key(&self) -> Result<[u8; 32], VaultError> {
        if let Some(key) = self.contact_index.get() {
            return Ok(*key);
        }
        let (_, key) = self.key_for(&CustomerRef::from_stored(CONTACT_INDEX_REF))?;
        Ok(*self.contact_index.get_or_init(|| *key))
    }

    /// The key of a customer, created (and committed) when they have none.
    fn key_for(&self, customer: &CustomerRef) -> Result<(KeyId, Key), VaultError> {
        let mut inner = self.lock();
        if let Some(key_id) = inner.key_ids.get(customer).copied() {
            if let Some(key) = inner.keys.get(&key_id) {
                return Ok((key_id, Arc::clone(key)));
            }
        }
        let (key_id, key) = match inner.storage.customer_key(customer)? {
            Some(stored) => stored,
            None => {
                let (key_id, key) = new_key()?;
                let stored = inner
                    .storage
                    .insert_keys(&[(customer.clone(), key_id, key)])?;
                if stored.first().copied().unwrap_or(false) {
                    (key_id, Arc::new(key))
                } else {
                    // Another process stored a key for this customer meanwhile: use that one.
                    inner
                        .storage
                        .customer_key(customer)?
                        .ok_or_else(|| VaultError::Corrupt {
                            reason: "a customer key vanished right after it was stored".to_string(),
                        })?
                }
            }
        };
        inner.remember(Some(customer), key_id, Arc::clone(&key));
        Ok((key_id, key))
    }

    /// Makes sure every customer in `customers` has a key, creating the missing ones in one
    /// fsynced transaction. A new key costs one commit when `seal` creates it alone (about a
    /// millisecond with `synchronous = FULL`); a consumer that seals a batch of submissions
    /// calls this first so the batch pays for one commit. Returns how many keys it created
    /// (a key another replica created meanwhile is not counted).
    pub fn ensure_keys(&self, customers: &[CustomerRef]) -> Result<usize, VaultError> {
        let mut inner = self.lock();
        // Sorted and without duplicates, so that replicas lock rows in the same order.
        let mut missing: BTreeMap<&CustomerRef, ()> = BTreeMap::new();
        for customer in customers {
            if !inner.key_ids.contains_key(customer) {
                missing.insert(customer, ());
            }
        }
        if missing.is_empty() {
            return Ok(0);
        }
        // A candidate key for each; the store keeps the key a customer already has.
        let mut new_keys = Vec::with_capacity(missing.len());
        for customer in missing.into_keys() {
            let (key_id, key) = new_key()?;
            new_keys.push((customer.clone(), key_id, key));
        }
        let stored = inner.storage.insert_keys(&new_keys)?;
        let mut count = 0;
        for ((customer, key_id, key), stored) in new_keys.into_iter().zip(stored) {
            if stored {
                count += 1;
                inner.remember(Some(&customer), key_id, Arc::new(key));
            }
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
        match inner.storage.key_state(key_id)? {
            KeyState::Stored(key) => {
                inner.remember(None, key_id, Arc::clone(&key));
                Ok(Some(key))
            }
            KeyState::Erased => Ok(None),
            KeyState::Unknown => Err(VaultError::UnknownKey {
                key_id: key_id.to_string(),
            }),
        }
    }

    /// Encrypts `value` under the customer's key (created on first use) into a sealed object
    /// to store in an event payload in place of the value.
    pub fn seal(&self, customer: &CustomerRef, value: &Value) -> Result<SealedJson, VaultError> {
        let (key_id, key) = self.key_for(customer)?;
        seal_with(key_id, &key, value)
    }

    /// Seals, in place and under the one key of `customer` (read once: one round trip on
    /// PostgreSQL for the lot), the personal members (`personal_members`) of each
    /// `(event type, payload)` of `events`: the contact data and the customer's own words.
    /// A member that is absent, null, empty (`""`, `[]`, `{}`) or already sealed is left as
    /// it is; when nothing is left to seal the key store is not read at all. Returns how
    /// many members it sealed.
    pub fn seal_personal(
        &self,
        customer: &CustomerRef,
        events: &mut [(&str, &mut Value)],
    ) -> Result<usize, VaultError> {
        let mut key: Option<(KeyId, Key)> = None;
        let mut count = 0;
        for (event_type, payload) in events.iter_mut() {
            let Some(members) = payload.as_object_mut() else {
                continue;
            };
            for name in personal_members(event_type) {
                let Some(member) = members.get_mut(*name) else {
                    continue;
                };
                if is_empty_or_sealed(member) {
                    continue;
                }
                if key.is_none() {
                    key = Some(self.key_for(customer)?);
                }
                if let Some((key_id, key)) = &key {
                    *member = seal_with(*key_id, key, member)?.to_value();
                    count += 1;
                }
            }
        }
        Ok(count)
    }
}

/// Whether a member needs no sealing: null, empty, or sealed already.
fn is_empty_or_sealed(member: &Value) -> bool {
    match member {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.is_empty() || is_sealed(member),
        _ => false,
    }
}

/// Encrypts `value` under `key` (of id `key_id`) into a sealed object.
fn seal_with(key_id: KeyId, key: &Key, value: &Value) -> Result<SealedJson, VaultError> {
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

impl Vault {
    /// Decrypts a sealed object: `Ok(None)` once its key was erased; `Tampered` when the
    /// ciphertext, nonce or key id was changed; `UnknownKey` when this store never had the
    /// key.
    pub fn open(&self, sealed: &SealedJson) -> Result<Option<Value>, VaultError> {
        let parts = parse(sealed)?;
        let Some(key) = self.key_of(sealed.key)? else {
            return Ok(None);
        };
        decrypt(sealed, &parts, &key).map(Some)
    }

    /// Opens every sealed object inside `value` in place: each becomes its plaintext, or the
    /// erased marker `{"erased": true}` when its key was erased, except that an erased text
    /// member of the payload (`content`, `terms`, `order_id`, `attributes`, `text`,
    /// `comment`) becomes the empty value of its type (`""`, `[]`, `null`, `{}`). The keys
    /// of all its sealed objects are read at once (one query on PostgreSQL however many
    /// objects the payload seals). Stops at the first sealed object that is malformed,
    /// tampered with or under an unknown key.
    pub fn open_in_place(&self, value: &mut Value) -> Result<OpenStats, VaultError> {
        self.open_all_in_place(std::slice::from_mut(value))
    }

    /// Opens every sealed object inside each of `values` in place, like `open_in_place` on
    /// each (erased text members read as empty), but reading the keys of all of them at
    /// once: on PostgreSQL one query for the whole slice instead of one per sealed object,
    /// for readers that go through many
    /// events (replay, audit). The keys are read during the call, so an erasure committed
    /// before it is seen. Stops at the first sealed object that is malformed, tampered with
    /// or under an unknown key, leaving the ones before it opened.
    pub fn open_all_in_place(&self, values: &mut [Value]) -> Result<OpenStats, VaultError> {
        let mut key_ids: Vec<KeyId> = values.iter().flat_map(sealed_key_ids).collect();
        key_ids.sort_unstable_by_key(|key_id| key_id.as_uuid());
        key_ids.dedup();
        if key_ids.is_empty() {
            return Ok(OpenStats::default());
        }
        let keys: HashMap<KeyId, Option<Key>> = {
            let mut inner = self.lock();
            let mut found = HashMap::with_capacity(key_ids.len());
            let mut wanted = Vec::new();
            for key_id in key_ids {
                match inner.keys.get(&key_id) {
                    Some(key) => {
                        found.insert(key_id, Some(Arc::clone(key)));
                    }
                    None => wanted.push(key_id),
                }
            }
            if !wanted.is_empty() {
                for (key_id, state) in inner.storage.key_states(&wanted)? {
                    match state {
                        KeyState::Stored(key) => {
                            inner.remember(None, key_id, Arc::clone(&key));
                            found.insert(key_id, Some(key));
                        }
                        KeyState::Erased => {
                            found.insert(key_id, None);
                        }
                        KeyState::Unknown => {
                            return Err(VaultError::UnknownKey {
                                key_id: key_id.to_string(),
                            })
                        }
                    }
                }
            }
            found
        };
        let mut stats = OpenStats::default();
        for value in values.iter_mut() {
            let erased_before = stats.erased;
            for_each_sealed_mut(value, &mut |sealed_value| {
                let sealed =
                    SealedJson::from_value(sealed_value)?.ok_or_else(|| VaultError::Malformed {
                        reason: "not a sealed object".to_string(),
                    })?;
                let parts = parse(&sealed)?;
                match keys.get(&sealed.key) {
                    Some(Some(key)) => {
                        *sealed_value = decrypt(&sealed, &parts, key)?;
                        stats.opened += 1;
                    }
                    Some(None) => {
                        *sealed_value = erased_marker();
                        stats.erased += 1;
                    }
                    None => {
                        return Err(VaultError::UnknownKey {
                            key_id: sealed.key.to_string(),
                        })
                    }
                }
                Ok(())
            })?;
            if stats.erased > erased_before {
                empty_unreadable_text(value);
            }
        }
        Ok(stats)
    }

    /// The key id of a customer's key, if they have one.
    pub fn key_id_of(&self, customer: &CustomerRef) -> Result<Option<KeyId>, VaultError> {
        let mut inner = self.lock();
        if let Some(key_id) = inner.key_ids.get(customer) {
            return Ok(Some(*key_id));
        }
        Ok(inner
            .storage
            .customer_key(customer)?
            .map(|(key_id, _)| key_id))
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
    /// rather than "unknown key"; on SQLite the WAL is then checkpointed and truncated so
    /// that the key's bytes do not linger in it. On PostgreSQL the erasure is visible to
    /// every replica once this returns. (When the connection is lost after the commit and
    /// the erasure is retried, it answers `false`: the key is gone either way.)
    pub fn erase_key(&self, key_id: KeyId) -> Result<bool, VaultError> {
        let mut inner = self.lock();
        inner.forget(key_id);
        inner.storage.erase(key_id)
    }

    /// Whether a key id was erased in this store.
    pub fn is_erased(&self, key_id: KeyId) -> Result<bool, VaultError> {
        self.lock().storage.is_erased(key_id)
    }

    /// Every key and erasure row of the store, read in one snapshot (for `copy_into`).
    pub(crate) fn read_all_rows(&self) -> Result<(Vec<KeyRow>, Vec<ErasedRow>), VaultError> {
        self.lock().storage.read_all_rows()
    }

    /// Records copied erasures and deletes their keys (for `copy_into`); answers how many
    /// erasures were new and how many keys were deleted.
    pub(crate) fn import_erasures(&self, rows: &[ErasedRow]) -> Result<(u64, u64), VaultError> {
        let mut inner = self.lock();
        for row in rows {
            if let Ok(key_id) = KeyId::parse(&row.key_id) {
                inner.forget(key_id);
            }
        }
        inner.storage.import_erasures(rows)
    }

    /// Stores copied keys (for `copy_into`).
    pub(crate) fn import_keys(&self, rows: &[KeyRow]) -> Result<CopyStats, VaultError> {
        self.lock().storage.import_keys(rows)
    }

    /// How many customer keys the store holds.
    pub fn key_count(&self) -> Result<u64, VaultError> {
        self.lock().storage.key_count()
    }

    /// Copies the key store to `destination` with SQLite's online backup, on a connection
    /// of its own so that sealing goes on meanwhile. The copy is written beside the
    /// destination and renamed into place, so `destination` is always a whole backup.
    /// A PostgreSQL key store answers `VaultError::InDatabase`: it is backed up with the
    /// database.
    pub fn backup_to(&self, destination: impl AsRef<Path>) -> Result<(), VaultError> {
        if self.is_postgres() {
            return Err(VaultError::InDatabase {
                action: "back up the key store to a file",
                store: self.describe(),
                advice: "back it up with the database",
            });
        }
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

/// The nonce and ciphertext of a sealed object.
struct Parts {
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
}

/// Reads the nonce and ciphertext of a sealed object, refusing another version or text
/// that is not hex of the right length (`Malformed`).
fn parse(sealed: &SealedJson) -> Result<Parts, VaultError> {
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
    Ok(Parts { nonce, ciphertext })
}

/// Decrypts a sealed object under `key` (`Tampered` when it does not decrypt).
fn decrypt(sealed: &SealedJson, parts: &Parts, key: &Key) -> Result<Value, VaultError> {
    let cipher = XChaCha20Poly1305::new(key.as_ref().into());
    let aad = associated_data(sealed.key);
    let plaintext = cipher
        .decrypt(
            XNonce::from_slice(&parts.nonce),
            Payload {
                msg: &parts.ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| VaultError::Tampered {
            key_id: sealed.key.to_string(),
        })?;
    serde_json::from_slice(&plaintext).map_err(|error| VaultError::Json {
        context: "read an opened value",
        reason: error.to_string(),
    })
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
impl Vault {
    /// Copies every key and every erasure of this key store into `target`, unchanged (the
    /// same key ids, customers, key bytes, creation and erasure times), so that everything
    /// sealed with this store opens with the target. Works between any two stores, a key
    /// store file into PostgreSQL being the case it is for.
    ///
    /// - **Idempotent.** A key the target already holds with the same id, customer and bytes
    ///   is left as it is; running the copy again copies only what is new.
    /// - **Never overwrites a key.** A key id the target holds with other bytes or for
    ///   another customer, or a customer the target holds another key for, is a
    ///   `VaultError::KeyConflict` naming the key id; the keys of the chunk (up to 1,000)
    ///   holding it are not stored, those of earlier chunks are.
    /// - **Erasures win.** A key the source erased is deleted from the target as `erase`
    ///   deletes it, and its erasure recorded; a key the target erased is not stored again.
    ///
    /// The source is read in one snapshot; the target is written in transactions of up to
    /// 1,000 rows, erasures first. Neither key bytes nor customers are logged or put in an
    /// error.
    pub fn copy_into(&self, target: &Vault) -> Result<CopyStats, VaultError> {
        // The source's lock is released before the target's is taken, so copying a store
        // into itself does not deadlock (it finds everything there).
        let (keys, erased) = self.read_all_rows()?;
        let mut stats = CopyStats::default();
        let erased_ids: HashSet<&str> = erased.iter().map(|row| row.key_id.as_str()).collect();
        for chunk in erased.chunks(COPY_CHUNK) {
            let (recorded, deleted) = target.import_erasures(chunk)?;
            stats.erasures_copied += recorded;
            stats.erasures_already_there += chunk.len() as u64 - recorded;
            stats.keys_deleted += deleted;
        }
        // A key both stored and recorded erased in the source (which `erase` never leaves)
        // counts as erased.
        let live: Vec<KeyRow> = keys
            .into_iter()
            .filter(|row| !erased_ids.contains(row.key_id.as_str()))
            .collect();
        for chunk in live.chunks(COPY_CHUNK) {
            let counts = target.import_keys(chunk)?;
            stats.keys_copied += counts.keys_copied;
            stats.keys_already_there += counts.keys_already_there;
            stats.keys_erased_in_target += counts.keys_erased_in_target;
        }
        Ok(stats)
    }
}
