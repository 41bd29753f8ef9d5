//! The sealed object that stands in an event payload for encrypted personal data, the key id
//! it names, and helpers that find sealed objects inside a payload.
//!
//! A sealed object is a JSON object with exactly these four members:
//!
//! ```json
//! {"sealed": "v1", "key": "<key id: a random UUID>", "nonce": "<24 bytes, hex>", "ct": "<ciphertext and 16-byte tag, hex>"}
//! ```
//!
//! `ct` is XChaCha20-Poly1305 over the JSON text of the sealed value, with the key of `key`,
//! the nonce `nonce`, and the associated data `closedloop.vault.v1:<key id>` (so a sealed
//! object moved under another key id does not decrypt).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::error::VaultError;

/// The value of the `sealed` member of every object this version writes.
pub const SEALED_VERSION: &str = "v1";

/// The id of one customer key: a random UUID, so it says nothing about the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(Uuid);

impl KeyId {
    /// Wraps a UUID.
    pub fn from_uuid(uuid: Uuid) -> KeyId {
        KeyId(uuid)
    }

    /// Parses the hyphenated text form.
    pub fn parse(text: &str) -> Result<KeyId, VaultError> {
        Uuid::parse_str(text)
            .map(KeyId)
            .map_err(|error| VaultError::Malformed {
                reason: format!("key id {text:?} is not a uuid: {error}"),
            })
    }

    /// The UUID.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.0.hyphenated())
    }
}

/// Encrypted JSON, as it sits inside an event payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedJson {
    /// Always `SEALED_VERSION`.
    pub sealed: String,
    /// The key it was sealed with.
    pub key: KeyId,
    /// The 24-byte nonce, lowercase hex.
    pub nonce: String,
    /// The ciphertext followed by the 16-byte authentication tag, lowercase hex.
    pub ct: String,
}

impl SealedJson {
    /// The object as a JSON value, to put into a payload.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "sealed": self.sealed,
            "key": self.key,
            "nonce": self.nonce,
            "ct": self.ct,
        })
    }

    /// Reads a sealed object: `Ok(None)` when `value` is not one (not an object with a
    /// string member `sealed`), an error when it claims to be one but is malformed.
    pub fn from_value(value: &Value) -> Result<Option<SealedJson>, VaultError> {
        if !is_sealed(value) {
            return Ok(None);
        }
        let sealed: SealedJson =
            serde_json::from_value(value.clone()).map_err(|error| VaultError::Malformed {
                reason: error.to_string(),
            })?;
        if sealed.sealed != SEALED_VERSION {
            return Err(VaultError::Malformed {
                reason: format!(
                    "sealed version {:?} is not {SEALED_VERSION:?}",
                    sealed.sealed
                ),
            });
        }
        Ok(Some(sealed))
    }
}

/// Whether `value` is (or claims to be) a sealed object: an object whose `sealed` member is
/// a string.
pub fn is_sealed(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|object| object.get("sealed").is_some_and(Value::is_string))
}

/// What stands in a payload for a sealed object whose key was erased: `{"erased": true}`.
pub fn erased_marker() -> Value {
    serde_json::json!({ "erased": true })
}

/// Whether `value` is the erased marker.
pub fn is_erased_marker(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|object| object.len() == 1 && object.get("erased") == Some(&Value::Bool(true)))
}

/// The members of an event payload of `event_type` that hold the customer's personal data
/// and are sealed under the customer's key when the customer is known: the contact data
/// (`customer`) and the customer's own words and what is derived from them.
pub fn personal_members(event_type: &str) -> &'static [&'static str] {
    match event_type {
        "received" => &["customer", "content", "terms", "order_id", "attributes"],
        "classified" => &["terms"],
        "customer_replied" => &["text"],
        "review_recorded" => &["comment"],
        _ => &[],
    }
}

/// What a text member of `personal_members` reads as once it cannot be opened: the empty
/// value of its type. `None` for the `customer` (it keeps the marker, which reads as an
/// empty customer) and for every other member.
fn empty_value_of(member: &str) -> Option<Value> {
    match member {
        "content" | "text" | "comment" => Some(Value::String(String::new())),
        "terms" => Some(Value::Array(Vec::new())),
        "order_id" => Some(Value::Null),
        "attributes" => Some(Value::Object(serde_json::Map::new())),
        _ => None,
    }
}

/// Replaces, among the top-level members of an event payload, the erased or redacted marker
/// of a personal text member by the empty value of its type, so that an erased text reads
/// as `""` (no terms, no order id, no attributes) where a string is expected. Other members
/// are left alone: staff text is never sealed, so never a marker.
pub(crate) fn empty_unreadable_text(value: &mut Value) {
    let Some(members) = value.as_object_mut() else {
        return;
    };
    for (name, member) in members.iter_mut() {
        let unreadable = is_erased_marker(member)
            || member.as_object().is_some_and(|object| {
                object.len() == 1 && object.get("redacted") == Some(&Value::Bool(true))
            });
        if unreadable {
            if let Some(empty) = empty_value_of(name) {
                *member = empty;
            }
        }
    }
}

/// Calls `visit` on every sealed object inside `value` (not descending into them), depth
/// first, in document order.
pub(crate) fn for_each_sealed_mut(
    value: &mut Value,
    visit: &mut dyn FnMut(&mut Value) -> Result<(), VaultError>,
) -> Result<(), VaultError> {
    if is_sealed(value) {
        return visit(value);
    }
    match value {
        Value::Array(items) => {
            for item in items {
                for_each_sealed_mut(item, visit)?;
            }
        }
        Value::Object(members) => {
            for (_, member) in members.iter_mut() {
                for_each_sealed_mut(member, visit)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The key ids of every sealed object inside `value`, in document order, without repeats.
/// Malformed sealed objects are skipped.
pub fn sealed_key_ids(value: &Value) -> Vec<KeyId> {
    let mut found = Vec::new();
    collect_key_ids(value, &mut found);
    found
}

fn collect_key_ids(value: &Value, found: &mut Vec<KeyId>) {
    if is_sealed(value) {
        if let Ok(Some(sealed)) = SealedJson::from_value(value) {
            if !found.contains(&sealed.key) {
                found.push(sealed.key);
            }
        }
        return;
    }
    match value {
        Value::Array(items) => items.iter().for_each(|item| collect_key_ids(item, found)),
        Value::Object(members) => members
            .values()
            .for_each(|member| collect_key_ids(member, found)),
        _ => {}
    }
}

/// Replaces every sealed object inside `value` with `{"redacted": true}`, for readers that
/// have no key store (the rule audit needs no personal data); a redacted text member reads
/// as the empty value of its type (see `empty_unreadable_text`). Returns how many it
/// replaced.
pub fn redact_sealed(value: &mut Value) -> usize {
    let mut count = 0;
    // The visitor never fails.
    let _ = for_each_sealed_mut(value, &mut |sealed| {
        *sealed = serde_json::json!({ "redacted": true });
        count += 1;
        Ok(())
    });
    empty_unreadable_text(value);
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: u128) -> Value {
        SealedJson {
            sealed: SEALED_VERSION.to_string(),
            key: KeyId(Uuid::from_u128(key)),
            nonce: "00".repeat(24),
            ct: "ab".repeat(20),
        }
        .to_value()
    }

    #[test]
    fn sealed_objects_round_trip_and_are_found_anywhere() {
        let payload = serde_json::json!({
            "customer": sample(1),
            "notes": [{"text": "x", "who": sample(2)}, sample(1)],
            "content": "APP卡顿",
        });
        let parsed = SealedJson::from_value(&payload["customer"]).expect("well formed");
        assert_eq!(parsed.map(|sealed| sealed.to_value()), Some(sample(1)));
        assert_eq!(
            sealed_key_ids(&payload),
            vec![KeyId(Uuid::from_u128(1)), KeyId(Uuid::from_u128(2))]
        );
        let mut redacted = payload.clone();
        assert_eq!(redact_sealed(&mut redacted), 3);
        assert_eq!(redacted["customer"], serde_json::json!({"redacted": true}));
        assert_eq!(redacted["content"], "APP卡顿");
    }

    #[test]
    fn malformed_sealed_objects_are_errors_and_plain_objects_are_not_sealed() {
        assert!(matches!(
            SealedJson::from_value(&serde_json::json!({"sealed": "v1", "key": "nope"})),
            Err(VaultError::Malformed { .. })
        ));
        let mut wrong_version = sample(1);
        wrong_version["sealed"] = Value::from("v9");
        assert!(SealedJson::from_value(&wrong_version).is_err());
        let mut extra = sample(1);
        extra["phone"] = Value::from("+8613812345678");
        assert!(SealedJson::from_value(&extra).is_err());
        assert!(matches!(
            SealedJson::from_value(&serde_json::json!({"name": "li"})),
            Ok(None)
        ));
        assert!(is_erased_marker(&erased_marker()));
        assert!(!is_erased_marker(
            &serde_json::json!({"erased": true, "x": 1})
        ));
    }
}
