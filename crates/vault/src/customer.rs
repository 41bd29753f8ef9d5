//! `CustomerRef`: the stable reference under which the key store finds a customer's key.
//!
//! The reference is
//!
//! - `customer:<customer_id>` when the submission carries a `customer_id` (trimmed), since
//!   that is the one identity that stays the same across channels;
//! - otherwise `contact:<hex SHA-256>` of the first of phone, e-mail and WeChat openid that
//!   is given, normalised and prefixed with its kind before hashing:
//!   `phone:<+ and digits only>`, `email:<lower-cased, trimmed>`, `wechat:<trimmed>`.
//!
//! Intake already writes phone numbers in E.164 form (`+8613812345678`) and e-mail domains
//! in lower case, so the normalisation here only guards against stray spaces, hyphens and
//! upper-case local parts. The reference is stored only in the key store (deleted with the
//! key on erasure), never in the log.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The key store reference under which the customer lookup's contact index key is kept
/// (`Vault::contact_index_key`): no customer's reference can take this form.
pub const CONTACT_INDEX_REF: &str = "index:contacts";

/// The stable reference of one customer in the key store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerRef(String);

/// A trimmed field, or `None` when absent or blank.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|text| !text.is_empty())
}

impl CustomerRef {
    /// The reference of a customer from their identifying fields; `None` when every field is
    /// absent or blank (such a customer has nothing to seal).
    pub fn from_fields(
        customer_id: Option<&str>,
        phone: Option<&str>,
        email: Option<&str>,
        wechat_openid: Option<&str>,
    ) -> Option<CustomerRef> {
        if let Some(id) = present(customer_id) {
            return Some(CustomerRef(format!("customer:{id}")));
        }
        let contact = if let Some(phone) = present(phone) {
            let digits: String = phone
                .chars()
                .enumerate()
                .filter(|(index, character)| {
                    character.is_ascii_digit() || (*index == 0 && *character == '+')
                })
                .map(|(_, character)| character)
                .collect();
            format!("phone:{digits}")
        } else if let Some(email) = present(email) {
            format!("email:{}", email.to_lowercase())
        } else if let Some(openid) = present(wechat_openid) {
            format!("wechat:{openid}")
        } else {
            return None;
        };
        let digest = Sha256::digest(contact.as_bytes());
        Some(CustomerRef(format!("contact:{}", hex::encode(digest))))
    }

    /// The reference of a customer given as JSON in the shape of the domain's `Customer`
    /// (`customer_id`, `phone`, `email`, `wechat_openid`; other fields are ignored).
    pub fn from_customer_json(customer: &serde_json::Value) -> Option<CustomerRef> {
        let field = |name: &str| customer.get(name).and_then(serde_json::Value::as_str);
        Self::from_fields(
            field("customer_id"),
            field("phone"),
            field("email"),
            field("wechat_openid"),
        )
    }

    /// A reference read back from its text form (as `as_str` wrote it).
    pub fn from_stored(text: impl Into<String>) -> CustomerRef {
        CustomerRef(text.into())
    }

    /// The text form stored in the key store.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for CustomerRef {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_id_wins_over_contacts() {
        let reference =
            CustomerRef::from_fields(Some(" C-42 "), Some("+8613812345678"), Some("a@b.cn"), None);
        assert_eq!(reference.map(|r| r.0), Some("customer:C-42".to_string()));
    }

    #[test]
    fn contacts_are_hashed_after_normalisation() {
        let spaced = CustomerRef::from_fields(None, Some("+86 138-1234-5678"), None, None);
        let compact = CustomerRef::from_fields(None, Some("+8613812345678"), None, None);
        assert_eq!(spaced, compact);
        let reference = compact.expect("a phone is a contact");
        assert!(reference.as_str().starts_with("contact:"));
        assert!(!reference.as_str().contains("13812345678"));
        let expected = hex::encode(Sha256::digest(b"phone:+8613812345678"));
        assert_eq!(reference.as_str(), format!("contact:{expected}"));
        let upper = CustomerRef::from_fields(None, None, Some(" Li.Si@Example.CN "), None);
        let lower = CustomerRef::from_fields(None, None, Some("li.si@example.cn"), None);
        assert_eq!(upper, lower);
        assert_ne!(upper, compact_phone());
    }

    fn compact_phone() -> Option<CustomerRef> {
        CustomerRef::from_fields(None, Some("+8613812345678"), None, None)
    }

    #[test]
    fn phone_comes_before_email_and_openid() {
        let both = CustomerRef::from_fields(None, Some("+8613812345678"), Some("a@b.cn"), None);
        assert_eq!(both, compact_phone());
        let openid = CustomerRef::from_fields(None, None, None, Some("oABC"));
        let expected = hex::encode(Sha256::digest(b"wechat:oABC"));
        assert_eq!(openid.map(|r| r.0), Some(format!("contact:{expected}")));
    }

    #[test]
    fn nobody_has_no_reference() {
        assert_eq!(CustomerRef::from_fields(None, Some("  "), None, None), None);
        let json = serde_json::json!({"name": "张三"});
        assert_eq!(CustomerRef::from_customer_json(&json), None);
        let json = serde_json::json!({"name": "张三", "email": "z@s.cn"});
        assert!(CustomerRef::from_customer_json(&json).is_some());
    }
}
