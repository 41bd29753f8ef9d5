//! Erasure seen from the log: which keys a ticket's events are sealed with, and replaying
//! the log's erasure events against a key store restored from an older backup.

use std::collections::{BTreeMap, BTreeSet};

use eventlog::RecordedEvent;
use vault::{KeyId, Vault};

use crate::decode::is_ticket_stream;
use crate::error::AuditError;
use crate::source::{for_each_row, RowSource};

/// The event type that records an erasure.
pub const CUSTOMER_ERASED: &str = "customer_erased";

/// The key ids of every sealed object in `rows`, in order of first appearance. Reading them
/// needs no key: the key id is outside the ciphertext.
pub fn sealed_keys_of(rows: &[RecordedEvent]) -> Result<Vec<KeyId>, AuditError> {
    let mut keys = Vec::new();
    for row in rows {
        for key in vault::sealed_key_ids(&row.payload_value()?) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    Ok(keys)
}

/// What `reapply_erasures` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErasureReplay {
    /// Ticket streams with an erasure event.
    pub erased_streams: u64,
    /// Keys that were still in the key store and are now erased.
    pub keys_erased: Vec<KeyId>,
}

/// Erases again, in `vault`, every key that a ticket's events before its `customer_erased`
/// event were sealed with. Run it after restoring the key store from a backup older than
/// the last erasure, before the service seals anything new; on an up-to-date key store it
/// erases nothing.
pub fn reapply_erasures(
    source: &dyn RowSource,
    vault: &Vault,
) -> Result<ErasureReplay, AuditError> {
    // First pass: the streams with an erasure, and the position of their last one.
    let mut erased_streams: BTreeMap<String, u64> = BTreeMap::new();
    for_each_row(source, 1, |row| {
        if row.event_type == CUSTOMER_ERASED && is_ticket_stream(&row.stream_id) {
            erased_streams.insert(row.stream_id.clone(), row.position);
        }
        Ok(())
    })?;
    let mut replay = ErasureReplay {
        erased_streams: erased_streams.len() as u64,
        keys_erased: Vec::new(),
    };
    let mut done = BTreeSet::new();
    for (stream_id, erased_at) in &erased_streams {
        let rows: Vec<RecordedEvent> = source
            .read_stream_rows(stream_id)?
            .into_iter()
            .filter(|row| row.position < *erased_at)
            .collect();
        for key in sealed_keys_of(&rows)? {
            if done.insert(key) && vault.erase_key(key)? {
                replay.keys_erased.push(key);
            }
        }
    }
    Ok(replay)
}
