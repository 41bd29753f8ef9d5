//! Reading the customer's own words where the log may hold them sealed.
//!
//! The key store (`crates/vault`) seals the customer's text in an event payload under the
//! customer's key: a `received` event's `content`, `terms`, `order_id` and `attributes`, a
//! `classified` event's `terms`, a `customer_replied` event's `text` and a `review_recorded`
//! event's `comment`. A reader that opens the payload first sees the plaintext; one that
//! cannot (the key was erased: `{"erased": true}`; no key store: `{"redacted": true}`; or
//! a reader that never opens: the sealed object itself) sees an object where a string, list
//! or map is expected. Like the customer, whose unknown members are ignored so an erased
//! customer reads as an empty `Customer`, such a member reads as empty: `""`, no terms, no
//! order id, no attributes. Anything else that is not of the member's type is still refused.

use serde::de::DeserializeOwned;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// Whether `value` stands for text the reader cannot see: a sealed object
/// (`{"sealed": "v1", "key", "nonce", "ct"}`), the erased marker or the redacted marker.
pub fn is_unreadable(value: &Value) -> bool {
    let Some(object) = value.as_object() else {
        return false;
    };
    let sealed = object.get("sealed").is_some_and(Value::is_string);
    let marker = object.len() == 1
        && (object.get("erased") == Some(&Value::Bool(true))
            || object.get("redacted") == Some(&Value::Bool(true)));
    sealed || marker
}

/// A member that may be sealed: unreadable text reads as the empty value of its type.
fn or_empty<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(
    deserializer: D,
) -> Result<T, D::Error> {
    let value = Value::deserialize(deserializer)?;
    if is_unreadable(&value) {
        return Ok(T::default());
    }
    serde_json::from_value(value).map_err(D::Error::custom)
}

/// A string member that may be sealed: unreadable text reads as `""`.
pub fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    or_empty(deserializer)
}

/// An optional string member that may be sealed: unreadable text reads as absent.
pub fn optional_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    or_empty(deserializer)
}

/// A list of terms that may be sealed: unreadable terms read as none.
pub fn terms<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    or_empty(deserializer)
}

/// A map of attributes that may be sealed: unreadable attributes read as none.
pub fn attributes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    or_empty(deserializer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    struct Sample {
        #[serde(deserialize_with = "text")]
        content: String,
        #[serde(default, deserialize_with = "optional_text")]
        order_id: Option<String>,
        #[serde(default, deserialize_with = "terms")]
        terms: Vec<String>,
        #[serde(default, deserialize_with = "attributes")]
        attributes: BTreeMap<String, String>,
    }

    fn read(value: Value) -> Result<Sample, serde_json::Error> {
        serde_json::from_value(value)
    }

    #[test]
    fn plain_members_read_as_they_are() {
        let sample = read(json!({
            "content": "APP卡顿", "order_id": "O-1", "terms": ["卡顿"], "attributes": {"os": "ios"}
        }))
        .expect("plain");
        assert_eq!(sample.content, "APP卡顿");
        assert_eq!(sample.order_id.as_deref(), Some("O-1"));
        assert_eq!(sample.terms, vec!["卡顿".to_string()]);
        assert_eq!(sample.attributes.get("os").map(String::as_str), Some("ios"));
    }

    #[test]
    fn sealed_erased_and_redacted_members_read_as_empty() {
        let sealed = json!({"sealed": "v1", "key": "k", "nonce": "00", "ct": "ab"});
        for unreadable in [sealed, json!({"erased": true}), json!({"redacted": true})] {
            let sample = read(json!({
                "content": unreadable, "order_id": unreadable,
                "terms": unreadable, "attributes": unreadable,
            }))
            .expect("unreadable members read as empty");
            assert_eq!(sample.content, "");
            assert_eq!(sample.order_id, None);
            assert!(sample.terms.is_empty());
            assert!(sample.attributes.is_empty());
        }
    }

    #[test]
    fn other_values_of_the_wrong_type_are_still_refused() {
        assert!(read(json!({"content": 7})).is_err());
        assert!(read(json!({"content": {"erased": false}})).is_err());
        assert!(read(json!({"content": "x", "terms": "x"})).is_err());
        assert!(read(json!({"content": "x", "attributes": {"erased": true, "x": "y"}})).is_err());
    }
}
