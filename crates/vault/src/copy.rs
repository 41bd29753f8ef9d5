//! The rows `Vault::copy_into` moves and how it decides what to store: every key and every
//! erasure of one key store go into another (a key store file into PostgreSQL when an
//! installation moves its log there), unchanged, idempotent, never overwriting a key, and
//! with erasures winning on either side. The copy itself is in `store.rs`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::error::VaultError;

/// How many rows of the source go into one transaction of the target.
pub(crate) const COPY_CHUNK: usize = 1_000;

/// What `Vault::copy_into` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Keys of the source stored in the target (they were not there).
    pub keys_copied: u64,
    /// Keys of the source the target already held, with the same key id, customer and bytes.
    pub keys_already_there: u64,
    /// Keys of the source the target had erased: left out, since an erasure wins.
    pub keys_erased_in_target: u64,
    /// Erasures of the source recorded in the target (they were not recorded there).
    pub erasures_copied: u64,
    /// Erasures of the source the target had recorded already.
    pub erasures_already_there: u64,
    /// Keys the target held that the source had erased: deleted from the target, as
    /// `erase` deletes them.
    pub keys_deleted: u64,
}

/// One row of `customer_keys`, as a copy moves it. Its `Debug` shows the key id only.
pub(crate) struct KeyRow {
    /// The key id, as stored.
    pub(crate) key_id: String,
    /// The customer reference (personal: never shown).
    pub(crate) customer_ref: String,
    /// The key bytes (never shown).
    pub(crate) key: Vec<u8>,
    /// When the key was created.
    pub(crate) created_at: DateTime<Utc>,
}

impl std::fmt::Debug for KeyRow {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("KeyRow")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// One row of `erased_keys`.
#[derive(Debug, Clone)]
pub(crate) struct ErasedRow {
    /// The erased key id.
    pub(crate) key_id: String,
    /// When it was erased.
    pub(crate) erased_at: DateTime<Utc>,
}

/// What the target holds of a chunk of keys, read in the transaction that stores them.
#[derive(Default)]
pub(crate) struct TargetState {
    /// Stored keys by key id: the customer reference and the key bytes.
    pub(crate) by_key_id: HashMap<String, (String, Vec<u8>)>,
    /// Key ids by customer reference, for the chunk's customers.
    pub(crate) by_customer: HashMap<String, String>,
    /// The chunk's key ids that the target records as erased.
    pub(crate) erased: HashSet<String>,
}

/// What to do with a chunk of keys.
pub(crate) struct KeyPlan<'rows> {
    /// The rows to insert.
    pub(crate) insert: Vec<&'rows KeyRow>,
    /// How many the target holds already.
    pub(crate) already_there: u64,
    /// How many the target erased.
    pub(crate) erased_in_target: u64,
}

/// Decides, for each of `rows` (none of them erased in the source), whether the target
/// already holds it, erased it, or lacks it; a key id or a customer the target holds with
/// other bytes is a `KeyConflict` naming the key id, and nothing of the chunk is stored.
pub(crate) fn plan_keys<'rows>(
    rows: &'rows [KeyRow],
    target: &TargetState,
) -> Result<KeyPlan<'rows>, VaultError> {
    let mut plan = KeyPlan {
        insert: Vec::new(),
        already_there: 0,
        erased_in_target: 0,
    };
    let conflict = |row: &KeyRow, reason: &'static str| VaultError::KeyConflict {
        key_id: row.key_id.clone(),
        reason,
    };
    for row in rows {
        if let Some((customer_ref, key)) = target.by_key_id.get(&row.key_id) {
            if key != &row.key {
                return Err(conflict(
                    row,
                    "the target holds other key bytes under this id",
                ));
            }
            if customer_ref != &row.customer_ref {
                return Err(conflict(
                    row,
                    "the target holds this key id for another customer",
                ));
            }
            plan.already_there += 1;
            continue;
        }
        if target.erased.contains(&row.key_id) {
            plan.erased_in_target += 1;
            continue;
        }
        if target.by_customer.contains_key(&row.customer_ref) {
            return Err(conflict(
                row,
                "the target holds another key for this key's customer",
            ));
        }
        plan.insert.push(row);
    }
    Ok(plan)
}
