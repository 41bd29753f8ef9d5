//! Crypto-shredding of closedloop's personal data: customer contact data and the customer's
//! own words (`personal_members`) sit in event payloads only as ciphertext under a
//! per-customer key, and erasing the customer destroys that key.
//!
//! - `CustomerRef` is the stable reference of a customer in the key store: their
//!   `customer_id` when given, otherwise a SHA-256 of their normalised phone, e-mail or
//!   WeChat openid. It lives only in the key store, never in the log.
//! - `Vault` is the key store: a SQLite file of its own (`keys.db`, WAL, `synchronous=FULL`)
//!   or a PostgreSQL database shared by several replicas, with one random 256-bit key per
//!   customer, known in sealed objects by a random key id.
//!   `seal` encrypts a JSON value with XChaCha20-Poly1305 into a `SealedJson` object that can
//!   sit inside an event payload; `open` decrypts it, or answers `None` once the key is
//!   erased; `erase` deletes the key; `open_in_place` opens every sealed object of a payload
//!   and puts the `{"erased": true}` marker where the key is gone; `backup_to` copies a
//!   key store file with SQLite's online backup (a PostgreSQL key store is backed up with
//!   its database); `copy_into` copies every key and erasure of one key store into another
//!   (a key store file into PostgreSQL), never overwriting a key, erasures winning.
//!
//! # Invariants
//!
//! - **Nothing personal in the log.** A sealed object holds a random key id, a random nonce
//!   and the ciphertext: neither the customer reference nor a hash of a contact leaves the
//!   key store, so once the key is erased nothing in the log leads back to the customer.
//! - **Durable before use.** A new key is committed (and fsynced) before `seal` returns, so
//!   an event sealed with it never refers to a key that a crash lost.
//! - **Erased is not unknown.** Erasing a key records its key id (random, not personal) in
//!   `erased_keys`; `open` of a key id that was never stored is an error (`UnknownKey`),
//!   so a wrong or lost key file is never mistaken for erasure.
//! - **One key per customer, erasure seen everywhere.** Replicas sharing a PostgreSQL key
//!   store agree on one key per customer (insert if absent, then read the stored one), and
//!   keep no key in memory, so a key erased by one is erased for all (see `Vault`).
//! - **Randomness comes from the operating system** (`rand::rngs::OsRng`), for keys and
//!   nonces alike, and only in this crate.

mod copy;
mod customer;
mod error;
mod sealed;
mod storage;
mod store;

pub use copy::CopyStats;
pub use customer::{CustomerRef, CONTACT_INDEX_REF};
pub use error::VaultError;
pub use sealed::{
    erased_marker, is_erased_marker, is_sealed, personal_members, redact_sealed, sealed_key_ids,
    KeyId, SealedJson, SEALED_VERSION,
};
pub use store::{OpenStats, Vault};
