//! Behaviour of the key store: sealing and opening, erasure, tampering, reopening and
//! backups, each on both backends (a real SQLite file and a real PostgreSQL database), and
//! what replicas sharing one PostgreSQL key store see of each other.

// The behaviours are test bodies that `on_both_backends!` calls from `#[test]` functions,
// which clippy's `allow-unwrap-in-tests` does not see.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Barrier};

use serde_json::json;
use support::TestStore;
use vault::{
    is_sealed, redact_sealed, sealed_key_ids, CopyStats, CustomerRef, SealedJson, Vault, VaultError,
};

/// Runs each named behaviour (a `fn(&TestStore)`) as two tests, `<name>::sqlite` and
/// `<name>::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(&super::TestStore::sqlite());
                }

                #[test]
                fn postgres() {
                    super::$name(&super::TestStore::postgres());
                }
            }
        )*
    };
}

on_both_backends!(
    seal_then_open_gives_the_value_back_and_hides_it,
    erasing_makes_open_return_none_and_only_for_that_customer,
    open_in_place_opens_nested_objects_and_marks_erased_ones,
    tampered_ciphertext_nonce_or_key_id_is_an_error,
    keys_survive_reopening_and_erasures_too,
    seal_personal_seals_the_customers_words_under_one_key,
    ensure_keys_creates_missing_keys_once_in_one_commit,
    describe_names_the_store_without_a_password,
    open_all_in_place_opens_many_payloads_like_one_by_one,
    the_contact_index_key_is_made_once_and_kept,
);

fn the_contact_index_key_is_made_once_and_kept(store: &TestStore) {
    let vault = store.open();
    let key = vault.contact_index_key().unwrap();
    assert_eq!(vault.contact_index_key().unwrap(), key);
    drop(vault);
    let reopened = store.open();
    assert_eq!(reopened.contact_index_key().unwrap(), key);
    // A customer's key is another key.
    let (reference, value) = customer();
    let sealed = reopened.seal(&reference, &value).unwrap();
    assert_eq!(reopened.open(&sealed).unwrap(), Some(value));
    // Only customers' keys are counted.
    assert_eq!(reopened.key_count().unwrap(), 1);
}

fn customer() -> (CustomerRef, serde_json::Value) {
    let value = json!({
        "name": "张三",
        "phone": "+8613812345678",
        "email": "zhang.san@example.cn",
    });
    let reference = CustomerRef::from_customer_json(&value).expect("has contacts");
    (reference, value)
}

fn seal_then_open_gives_the_value_back_and_hides_it(store: &TestStore) {
    let vault = store.open();
    let (reference, value) = customer();
    let sealed = vault.seal(&reference, &value).unwrap();
    let text = sealed.to_value().to_string();
    for secret in ["张三", "13812345678", "zhang.san", reference.as_str()] {
        assert!(!text.contains(secret), "{secret} visible in {text}");
    }
    assert_eq!(vault.open(&sealed).unwrap(), Some(value.clone()));
    // The same customer keeps one key; sealing twice gives different ciphertexts.
    let again = vault.seal(&reference, &value).unwrap();
    assert_eq!(again.key, sealed.key);
    assert_ne!(again.ct, sealed.ct);
    assert_eq!(vault.key_count().unwrap(), 1);
    let other = CustomerRef::from_fields(Some("C-9"), None, None, None).unwrap();
    let other_sealed = vault.seal(&other, &json!({"customer_id": "C-9"})).unwrap();
    assert_ne!(other_sealed.key, sealed.key);
    assert_eq!(vault.key_count().unwrap(), 2);
}

fn erasing_makes_open_return_none_and_only_for_that_customer(store: &TestStore) {
    let vault = store.open();
    let (reference, value) = customer();
    let sealed = vault.seal(&reference, &value).unwrap();
    let other = CustomerRef::from_fields(None, None, Some("li@example.cn"), None).unwrap();
    let other_sealed = vault
        .seal(&other, &json!({"email": "li@example.cn"}))
        .unwrap();

    assert!(vault.erase(&reference).unwrap());
    assert!(
        !vault.erase(&reference).unwrap(),
        "a second erasure finds nothing"
    );
    assert_eq!(vault.open(&sealed).unwrap(), None);
    assert!(vault.is_erased(sealed.key).unwrap());
    assert_eq!(
        vault.open(&other_sealed).unwrap(),
        Some(json!({"email": "li@example.cn"}))
    );
    match (store.file(), &store.database) {
        // The key's bytes are gone from the file and its WAL.
        (Some(file), _) => {
            let mut bytes = std::fs::read(&file).unwrap();
            let mut wal = file.into_os_string();
            wal.push("-wal");
            if let Ok(wal) = std::fs::read(wal) {
                bytes.extend(wal);
            }
            assert!(!String::from_utf8_lossy(&bytes).contains(reference.as_str()));
        }
        // The key's row is gone, and its id is recorded as erased.
        (None, Some(database)) => {
            let mut client = database.client();
            let left: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM customer_keys WHERE customer_ref = $1 OR key_id = $2",
                    &[&reference.as_str(), &sealed.key.to_string()],
                )
                .unwrap()
                .get(0);
            assert_eq!(left, 0);
            let erased: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM erased_keys WHERE key_id = $1",
                    &[&sealed.key.to_string()],
                )
                .unwrap()
                .get(0);
            assert_eq!(erased, 1);
        }
        (None, None) => unreachable!(),
    }

    // A new submission of the same customer gets a fresh key.
    let fresh = vault.seal(&reference, &value).unwrap();
    assert_ne!(fresh.key, sealed.key);
    assert_eq!(vault.open(&fresh).unwrap(), Some(value));
    assert_eq!(vault.open(&sealed).unwrap(), None);
}

fn open_in_place_opens_nested_objects_and_marks_erased_ones(store: &TestStore) {
    let vault = store.open();
    let (reference, value) = customer();
    let other = CustomerRef::from_fields(Some("C-2"), None, None, None).unwrap();
    let mut payload = json!({
        "ticket_id": "T-1",
        "customer": vault.seal(&reference, &value).unwrap().to_value(),
        "helpers": [{"contact": vault.seal(&other, &json!("C-2 phone")).unwrap().to_value()}],
    });
    assert_eq!(sealed_key_ids(&payload).len(), 2);
    let mut opened = payload.clone();
    let stats = vault.open_in_place(&mut opened).unwrap();
    assert_eq!((stats.opened, stats.erased), (2, 0));
    assert_eq!(opened["customer"], value);
    assert_eq!(opened["helpers"][0]["contact"], json!("C-2 phone"));

    vault.erase(&reference).unwrap();
    let stats = vault.open_in_place(&mut payload).unwrap();
    assert_eq!((stats.opened, stats.erased), (1, 1));
    assert_eq!(payload["customer"], json!({"erased": true}));
    assert!(!is_sealed(&payload["customer"]));
    assert_eq!(payload["ticket_id"], "T-1");
}

fn tampered_ciphertext_nonce_or_key_id_is_an_error(store: &TestStore) {
    let vault = store.open();
    let (reference, value) = customer();
    let sealed = vault.seal(&reference, &value).unwrap();

    let mut flipped = sealed.clone();
    let mut ciphertext = hex::decode(&flipped.ct).unwrap();
    ciphertext[3] ^= 0x01;
    flipped.ct = hex::encode(ciphertext);
    assert!(matches!(
        vault.open(&flipped),
        Err(VaultError::Tampered { .. })
    ));

    let mut renonced = sealed.clone();
    renonced.nonce = "11".repeat(24);
    assert!(matches!(
        vault.open(&renonced),
        Err(VaultError::Tampered { .. })
    ));

    // Moved under another customer's key id: the associated data no longer matches.
    let other = CustomerRef::from_fields(Some("C-3"), None, None, None).unwrap();
    let other_sealed = vault.seal(&other, &json!(1)).unwrap();
    let mut moved = sealed.clone();
    moved.key = other_sealed.key;
    assert!(matches!(
        vault.open(&moved),
        Err(VaultError::Tampered { .. })
    ));

    let mut short = sealed.clone();
    short.nonce = "00".to_string();
    assert!(matches!(
        vault.open(&short),
        Err(VaultError::Malformed { .. })
    ));

    let mut unknown = sealed.clone();
    unknown.key = vault::KeyId::from_uuid(uuid::Uuid::from_u128(7));
    assert!(matches!(
        vault.open(&unknown),
        Err(VaultError::UnknownKey { .. })
    ));

    let mut payload = json!({"customer": flipped.to_value()});
    assert!(vault.open_in_place(&mut payload).is_err());
}

fn keys_survive_reopening_and_erasures_too(store: &TestStore) {
    let (reference, value) = customer();
    let second = CustomerRef::from_fields(Some("C-4"), None, None, None).unwrap();
    let (sealed, second_sealed) = {
        let vault = store.open();
        let sealed = vault.seal(&reference, &value).unwrap();
        let second_sealed = vault.seal(&second, &json!({"customer_id": "C-4"})).unwrap();
        vault.erase(&second).unwrap();
        (sealed, second_sealed)
    };
    let reopened = store.open();
    assert_eq!(reopened.open(&sealed).unwrap(), Some(value.clone()));
    assert_eq!(reopened.open(&second_sealed).unwrap(), None);
    // The same customer still has the same key after the reopen.
    assert_eq!(reopened.seal(&reference, &value).unwrap().key, sealed.key);
    // A sealed object written as JSON text and read back opens the same.
    let text = sealed.to_value().to_string();
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    let read_back = SealedJson::from_value(&parsed).unwrap().unwrap();
    assert_eq!(reopened.open(&read_back).unwrap(), Some(value));
}

#[test]
fn a_backup_restores_the_keys_it_held() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("keys.db");
    let backup = directory.path().join("backup").join("keys-2026-11-23.db");
    std::fs::create_dir_all(backup.parent().unwrap()).unwrap();
    let vault = Vault::open_file(&path).unwrap();
    let (reference, value) = customer();
    let sealed = vault.seal(&reference, &value).unwrap();
    vault.backup_to(&backup).unwrap();
    assert!(!directory
        .path()
        .join("backup/keys-2026-11-23.db.partial")
        .exists());

    // The backup is a key store of its own.
    let from_backup = Vault::open_file(&backup).unwrap();
    assert_eq!(from_backup.open(&sealed).unwrap(), Some(value.clone()));
    drop(from_backup);

    // Losing the key file loses every key: the log's objects cannot be opened ...
    drop(vault);
    for name in ["keys.db", "keys.db-wal", "keys.db-shm"] {
        let _ = std::fs::remove_file(directory.path().join(name));
    }
    let empty = Vault::open_file(&path).unwrap();
    assert!(matches!(
        empty.open(&sealed),
        Err(VaultError::UnknownKey { .. })
    ));
    drop(empty);
    // ... until the backup is restored.
    Vault::restore(&backup, &path).unwrap();
    let restored = Vault::open_file(&path).unwrap();
    assert_eq!(restored.open(&sealed).unwrap(), Some(value));
    assert_eq!(restored.key_count().unwrap(), 1);
}

/// The events of one customer's ticket as the log would hold them, before sealing.
fn ticket_events(customer: &serde_json::Value) -> Vec<(&'static str, serde_json::Value)> {
    vec![
        (
            "received",
            json!({
                "ticket_id": "T-1", "customer": customer, "content": "退款 QilinWord",
                "terms": ["退款", "QilinWord"], "order_id": "ORD-7", "product": "app",
                "attributes": {"device": "QilinDevice"}, "channel": "web",
            }),
        ),
        (
            "classified",
            json!({"keywords": ["退款"], "terms": ["QilinWord"], "kind": "complaint"}),
        ),
        (
            "customer_replied",
            json!({"text": "QilinReply", "channel": "web"}),
        ),
        (
            "solution_proposed",
            json!({"text": "staff solution", "outcome": "fixed"}),
        ),
        (
            "review_recorded",
            json!({"satisfaction": 2, "comment": "QilinComment"}),
        ),
        ("review_recorded", json!({"satisfaction": 5, "comment": ""})),
    ]
}

fn seal_personal_seals_the_customers_words_under_one_key(store: &TestStore) {
    let vault = store.open();
    let (reference, value) = customer();
    let plain = ticket_events(&value);
    let mut events = plain.clone();
    let mut targets: Vec<(&str, &mut serde_json::Value)> = events
        .iter_mut()
        .map(|(event_type, payload)| (*event_type, payload))
        .collect();
    // customer, content, terms, order id, attributes; terms; text; comment. Not the empty
    // comment, not the staff's solution.
    assert_eq!(vault.seal_personal(&reference, &mut targets).unwrap(), 8);
    let stored = serde_json::to_string(&events).unwrap();
    for word in ["Qilin", "ORD-7", "13812345678"] {
        assert!(!stored.contains(word), "{word} left in {stored}");
    }
    assert!(stored.contains("staff solution") && stored.contains("\"product\":\"app\""));
    assert_eq!(events[5].1["comment"], "");
    let key_ids: Vec<vault::KeyId> = events
        .iter()
        .flat_map(|(_, payload)| sealed_key_ids(payload))
        .collect();
    assert_eq!(key_ids.len(), 4, "one key id in each sealed payload");
    assert!(key_ids
        .iter()
        .all(|key_id| Some(*key_id) == vault.key_id_of(&reference).unwrap()));
    // Sealing again seals nothing (and reads no key).
    let mut again: Vec<(&str, &mut serde_json::Value)> = events
        .iter_mut()
        .map(|(event_type, payload)| (*event_type, payload))
        .collect();
    assert_eq!(vault.seal_personal(&reference, &mut again).unwrap(), 0);

    // Opened, every payload is the plain one.
    let mut payloads: Vec<serde_json::Value> =
        events.iter().map(|(_, payload)| payload.clone()).collect();
    let stats = vault.open_all_in_place(&mut payloads).unwrap();
    assert_eq!(stats.opened, 8);
    let expected: Vec<serde_json::Value> =
        plain.iter().map(|(_, payload)| payload.clone()).collect();
    assert_eq!(payloads, expected);
    let mut one = events[0].1.clone();
    vault.open_in_place(&mut one).unwrap();
    assert_eq!(one, expected[0]);

    // Redacted (no key store), the text members read as empty values of their type.
    let mut redacted = events[0].1.clone();
    assert_eq!(redact_sealed(&mut redacted), 5);
    assert_eq!(redacted["customer"], json!({"redacted": true}));
    assert_eq!(redacted["content"], "");
    assert_eq!(redacted["terms"], json!([]));
    assert_eq!(redacted["order_id"], json!(null));
    assert_eq!(redacted["attributes"], json!({}));

    // Erased, the customer is the marker and every text the empty value of its type; the
    // staff's text and the rest are untouched.
    assert!(vault.erase(&reference).unwrap());
    let mut payloads: Vec<serde_json::Value> =
        events.iter().map(|(_, payload)| payload.clone()).collect();
    let stats = store.open().open_all_in_place(&mut payloads).unwrap();
    assert_eq!((stats.opened, stats.erased), (0, 8));
    assert_eq!(payloads[0]["customer"], json!({"erased": true}));
    assert_eq!(payloads[0]["content"], "");
    assert_eq!(payloads[0]["terms"], json!([]));
    assert_eq!(payloads[0]["order_id"], json!(null));
    assert_eq!(payloads[0]["attributes"], json!({}));
    assert_eq!(payloads[0]["product"], "app");
    assert_eq!(payloads[1]["terms"], json!([]));
    assert_eq!(payloads[1]["keywords"], json!(["退款"]));
    assert_eq!(payloads[2]["text"], "");
    assert_eq!(payloads[3]["text"], "staff solution");
    assert_eq!(payloads[4]["comment"], "");
    let mut one = events[2].1.clone();
    vault.open_in_place(&mut one).unwrap();
    assert_eq!(one["text"], "");
}

fn ensure_keys_creates_missing_keys_once_in_one_commit(store: &TestStore) {
    let vault = store.open();
    let (reference, value) = customer();
    let existing = vault.seal(&reference, &value).unwrap();
    let batch: Vec<CustomerRef> = (0..50)
        .map(|index| {
            CustomerRef::from_fields(Some(&format!("C-{index}")), None, None, None).unwrap()
        })
        .chain([reference.clone(), reference.clone()])
        .chain((0..10).map(|index| {
            CustomerRef::from_fields(Some(&format!("C-{index}")), None, None, None).unwrap()
        }))
        .collect();
    assert_eq!(vault.ensure_keys(&batch).unwrap(), 50);
    assert_eq!(vault.key_count().unwrap(), 51);
    assert_eq!(vault.ensure_keys(&batch).unwrap(), 0);
    assert_eq!(vault.seal(&reference, &value).unwrap().key, existing.key);
    // Keys created in a batch seal and open like any other, also after a reopen.
    let sealed = vault
        .seal(&batch[7], &json!({"customer_id": "C-7"}))
        .unwrap();
    drop(vault);
    let reopened = store.open();
    assert_eq!(
        reopened.open(&sealed).unwrap(),
        Some(json!({"customer_id": "C-7"}))
    );
    assert_eq!(reopened.key_id_of(&batch[7]).unwrap(), Some(sealed.key));
}

fn open_all_in_place_opens_many_payloads_like_one_by_one(store: &TestStore) {
    let vault = store.open();
    let customers: Vec<(CustomerRef, serde_json::Value)> = (0..5)
        .map(|index| {
            let value = json!({"customer_id": format!("C-{index}"), "phone": "+8613812345678"});
            (CustomerRef::from_customer_json(&value).unwrap(), value)
        })
        .collect();
    let payloads: Vec<serde_json::Value> = (0..40)
        .map(|index| {
            let (reference, value) = &customers[index % 5];
            json!({
                "ticket_id": format!("T-{index}"),
                "customer": vault.seal(reference, value).unwrap().to_value(),
                "helpers": [{"contact": vault.seal(&customers[(index + 1) % 5].0, &json!(index)).unwrap().to_value()}],
            })
        })
        .collect();
    vault.erase(&customers[2].0).unwrap();
    let mut one_by_one = payloads.clone();
    let mut expected = (0, 0);
    for payload in &mut one_by_one {
        let stats = vault.open_in_place(payload).unwrap();
        expected = (expected.0 + stats.opened, expected.1 + stats.erased);
    }
    // A fresh handle, so that no key is in memory (on SQLite either).
    let reader = store.open();
    let mut all = payloads.clone();
    let stats = reader.open_all_in_place(&mut all).unwrap();
    assert_eq!(all, one_by_one);
    assert_eq!((stats.opened, stats.erased), expected);
    assert_eq!((stats.opened, stats.erased), (64, 16));
    assert_eq!(
        reader.open_all_in_place(&mut []).unwrap(),
        vault::OpenStats::default()
    );

    // An unknown key is an error, as for one payload.
    let mut unknown = vault.seal(&customers[0].0, &json!(1)).unwrap();
    unknown.key = vault::KeyId::from_uuid(uuid::Uuid::from_u128(9));
    let mut with_unknown = vec![payloads[0].clone(), json!({"customer": unknown.to_value()})];
    assert!(matches!(
        reader.open_all_in_place(&mut with_unknown),
        Err(VaultError::UnknownKey { .. })
    ));
}

fn describe_names_the_store_without_a_password(store: &TestStore) {
    let vault = store.open();
    match store.file() {
        Some(file) => {
            assert!(!vault.is_postgres());
            assert_eq!(vault.path(), file.as_path());
            assert_eq!(vault.describe(), file.display().to_string());
        }
        None => {
            assert!(vault.is_postgres());
            assert_eq!(vault.path(), std::path::Path::new(""));
            assert_eq!(vault.describe(), store.database().url);
        }
    }
    assert!(format!("{vault:?}").contains(&vault.describe()));
}

/// A key store with `count` customers, each with one sealed value; the first `erased` of
/// them erased. Answers the sealed values with their plaintexts.
fn filled_store(
    vault: &Vault,
    count: usize,
    erased: usize,
) -> Vec<(SealedJson, serde_json::Value)> {
    let customers: Vec<CustomerRef> = (0..count)
        .map(|number| {
            CustomerRef::from_fields(None, Some(&format!("+86139{number:08}")), None, None).unwrap()
        })
        .collect();
    assert_eq!(vault.ensure_keys(&customers).unwrap(), count);
    let sealed: Vec<(SealedJson, serde_json::Value)> = customers
        .iter()
        .enumerate()
        .map(|(number, customer)| {
            let value =
                json!({ "name": format!("客户{number}"), "phone": format!("+86139{number:08}") });
            (vault.seal(customer, &value).unwrap(), value)
        })
        .collect();
    for customer in &customers[..erased] {
        assert!(vault.erase(customer).unwrap());
    }
    sealed
}

/// Every row of `customer_keys` (key id, customer, key, creation time to the microsecond)
/// and of `erased_keys`, as a store file holds them.
type Rows = (Vec<(String, String, Vec<u8>, i64)>, Vec<(String, i64)>);

fn file_rows(path: &std::path::Path) -> Rows {
    let connection = rusqlite::Connection::open(path).unwrap();
    let micros = |text: String| {
        chrono::DateTime::parse_from_rfc3339(&text)
            .unwrap()
            .timestamp_micros()
    };
    let mut statement = connection
        .prepare("SELECT key_id, customer_ref, key, created_at FROM customer_keys ORDER BY key_id")
        .unwrap();
    let keys = statement
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get::<_, String>(3)?,
            ))
        })
        .unwrap()
        .map(|row| {
            let (key_id, customer, key, created) = row.unwrap();
            (key_id, customer, key, micros(created))
        })
        .collect();
    let mut statement = connection
        .prepare("SELECT key_id, erased_at FROM erased_keys ORDER BY key_id")
        .unwrap();
    let erased = statement
        .query_map([], |row| Ok((row.get(0)?, row.get::<_, String>(1)?)))
        .unwrap()
        .map(|row| {
            let (key_id, erased_at) = row.unwrap();
            (key_id, micros(erased_at))
        })
        .collect();
    (keys, erased)
}

fn database_rows(client: &mut postgres::Client) -> Rows {
    let keys = client
        .query(
            "SELECT key_id, customer_ref, key, created_at FROM customer_keys ORDER BY key_id",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|row| {
            let created: chrono::DateTime<chrono::Utc> = row.get(3);
            (
                row.get(0),
                row.get(1),
                row.get(2),
                created.timestamp_micros(),
            )
        })
        .collect();
    let erased = client
        .query(
            "SELECT key_id, erased_at FROM erased_keys ORDER BY key_id",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|row| {
            let erased_at: chrono::DateTime<chrono::Utc> = row.get(1);
            (row.get(0), erased_at.timestamp_micros())
        })
        .collect();
    (keys, erased)
}

#[test]
fn a_key_store_file_copied_into_postgres_opens_what_it_sealed_and_keeps_erasures() {
    let source_store = TestStore::sqlite();
    let source = source_store.open();
    let sealed = filled_store(&source, 300, 25);
    let target_store = TestStore::postgres();
    let target = target_store.open();

    let stats = source.copy_into(&target).unwrap();
    assert_eq!(
        stats,
        CopyStats {
            keys_copied: 275,
            erasures_copied: 25,
            ..CopyStats::default()
        }
    );
    // The rows are the same, to the microsecond of their times.
    let file = source_store.file().unwrap();
    assert_eq!(
        database_rows(&mut target_store.database().client()),
        file_rows(&file)
    );
    for (index, (object, value)) in sealed.iter().enumerate() {
        let opened = target.open(object).unwrap();
        if index < 25 {
            assert_eq!(opened, None, "erased stays erased");
            assert!(target.is_erased(object.key).unwrap());
        } else {
            assert_eq!(opened.as_ref(), Some(value));
        }
    }

    // A second copy finds everything there.
    let again = source.copy_into(&target).unwrap();
    assert_eq!(
        again,
        CopyStats {
            keys_already_there: 275,
            erasures_already_there: 25,
            ..CopyStats::default()
        }
    );

    // An erasure in the source after the first copy is copied by the next one: the key is
    // deleted from the target. One erased in the target is not brought back.
    let (late, late_value) = &sealed[100];
    let (target_erased, _) = &sealed[200];
    assert!(source.erase_key(late.key).unwrap());
    assert_eq!(target.open(late).unwrap().as_ref(), Some(late_value));
    assert!(target.erase_key(target_erased.key).unwrap());
    let third = source.copy_into(&target).unwrap();
    assert_eq!(
        third,
        CopyStats {
            keys_already_there: 273,
            keys_erased_in_target: 1,
            erasures_copied: 1,
            erasures_already_there: 25,
            keys_deleted: 1,
            ..CopyStats::default()
        }
    );
    assert_eq!(target.open(late).unwrap(), None);
    assert_eq!(target.open(target_erased).unwrap(), None);
    assert_eq!(target.key_count().unwrap(), 273);

    // Back into a fresh file: any pair of stores works, and copying a store into itself
    // finds everything there.
    let back_store = TestStore::sqlite();
    let back = back_store.open();
    let stats = target.copy_into(&back).unwrap();
    assert_eq!(stats.keys_copied, 273);
    assert_eq!(stats.erasures_copied, 27);
    assert_eq!(
        file_rows(&back_store.file().unwrap()),
        database_rows(&mut target_store.database().client())
    );
    let itself = back.copy_into(&back).unwrap();
    assert_eq!(itself.keys_already_there, 273);
    assert_eq!(itself.keys_copied + itself.erasures_copied, 0);
    let (kept, kept_value) = &sealed[299];
    assert_eq!(back.open(kept).unwrap().as_ref(), Some(kept_value));
}

#[test]
fn a_key_the_target_holds_otherwise_is_refused_naming_the_key_id() {
    let source_store = TestStore::sqlite();
    let source = source_store.open();
    let sealed = filled_store(&source, 40, 0);
    let (victim, _) = &sealed[17];
    let customer = CustomerRef::from_fields(None, Some("+8613900000017"), None, None).unwrap();

    // The same key id with other bytes.
    let target_store = TestStore::postgres();
    let target = target_store.open();
    target_store
        .database()
        .client()
        .execute(
            "INSERT INTO customer_keys (key_id, customer_ref, key, created_at)              VALUES ($1, $2, $3, now())",
            &[&victim.key.to_string(), &customer.as_str(), &vec![7u8; 32]],
        )
        .unwrap();
    let error = source.copy_into(&target).expect_err("other bytes");
    assert!(
        matches!(&error, VaultError::KeyConflict { key_id, .. } if *key_id == victim.key.to_string()),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&victim.key.to_string()), "{message}");
    assert!(message.contains("never overwritten"), "{message}");
    assert!(!message.contains(customer.as_str()), "{message}");
    assert!(!format!("{error:?}").contains(customer.as_str()));
    // The key stays as it was, and nothing of the chunk was stored.
    let stored: Vec<u8> = target_store
        .database()
        .client()
        .query_one(
            "SELECT key FROM customer_keys WHERE key_id = $1",
            &[&victim.key.to_string()],
        )
        .unwrap()
        .get(0);
    assert_eq!(stored, vec![7u8; 32]);
    assert_eq!(target.key_count().unwrap(), 1);

    // Another key for the same customer.
    let other_store = TestStore::sqlite();
    let other = other_store.open();
    other
        .seal(&customer, &json!({"phone": "+8613900000017"}))
        .unwrap();
    let error = source
        .copy_into(&other)
        .expect_err("another key for the customer");
    assert!(
        matches!(&error, VaultError::KeyConflict { key_id, reason } if *key_id == victim.key.to_string() && reason.contains("customer")),
        "{error:?}"
    );
}

#[test]
fn a_postgres_key_store_is_not_backed_up_to_a_file() {
    let store = TestStore::postgres();
    let vault = store.open();
    let destination = store.directory.path().join("keys-backup.db");
    let error = vault.backup_to(&destination).expect_err("no file backup");
    assert!(matches!(error, VaultError::InDatabase { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("the key store is in PostgreSQL")
            && message.contains("back it up with the database"),
        "{message}"
    );
    assert!(!destination.exists());
}

#[test]
fn an_unreachable_server_is_reported_without_the_password() {
    let error = Vault::open_postgres("postgres://cloop:s3cret@127.0.0.1:1/keys")
        .expect_err("nothing listens on port 1");
    assert!(matches!(error, VaultError::Postgres { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("failed to connect to the key store at postgres://cloop:***@127.0.0.1:1/keys: error connecting to server"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    assert!(!format!("{error:?}").contains("s3cret"));
}

#[test]
fn a_key_store_of_another_format_is_refused() {
    let store = TestStore::postgres();
    drop(store.open());
    store
        .database()
        .client()
        .execute(
            "UPDATE vault_meta SET value = 'closedloop.vault.v0' WHERE name = 'format'",
            &[],
        )
        .unwrap();
    let error = Vault::open_postgres(&store.database().url).expect_err("other format");
    assert!(
        matches!(&error, VaultError::Corrupt { reason } if reason.contains("closedloop.vault.v0")),
        "{error:?}"
    );
}

#[test]
fn replicas_starting_at_once_create_the_tables_once() {
    let store = TestStore::postgres();
    let url = store.database().url.clone();
    let start = Arc::new(Barrier::new(6));
    let replicas: Vec<_> = (0..6)
        .map(|_| {
            let url = url.clone();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                Vault::open_postgres(&url)
            })
        })
        .collect();
    for replica in replicas {
        let vault = replica.join().expect("replica thread").expect("open");
        assert_eq!(vault.key_count().unwrap(), 0);
    }
}

#[test]
fn replicas_sealing_for_a_new_customer_at_once_agree_on_one_key() {
    let store = TestStore::postgres();
    let replicas = [Arc::new(store.open()), Arc::new(store.open())];
    let (_, value) = customer();
    for round in 0..20 {
        let reference =
            CustomerRef::from_fields(Some(&format!("C-race-{round}")), None, None, None).unwrap();
        let start = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let vault = Arc::clone(&replicas[thread % 2]);
                let start = Arc::clone(&start);
                let reference = reference.clone();
                let value = value.clone();
                std::thread::spawn(move || {
                    start.wait();
                    vault.seal(&reference, &value)
                })
            })
            .collect();
        let sealed: Vec<SealedJson> = threads
            .into_iter()
            .map(|thread| thread.join().expect("sealing thread").expect("seal"))
            .collect();
        assert!(
            sealed.iter().all(|one| one.key == sealed[0].key),
            "round {round}: several keys for one customer"
        );
        // Every object opens on either replica.
        for one in &sealed {
            for vault in &replicas {
                assert_eq!(vault.open(one).unwrap(), Some(value.clone()));
            }
        }
    }
    assert_eq!(replicas[0].key_count().unwrap(), 20);
}

#[test]
fn replicas_ensuring_overlapping_batches_at_once_create_each_key_once() {
    let store = TestStore::postgres();
    let replicas = [Arc::new(store.open()), Arc::new(store.open())];
    let customers: Vec<CustomerRef> = (0..200)
        .map(|index| {
            CustomerRef::from_fields(Some(&format!("C-{index}")), None, None, None).unwrap()
        })
        .collect();
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|thread| {
            let vault = Arc::clone(&replicas[thread % 2]);
            let start = Arc::clone(&start);
            // Each thread takes the customers in another order.
            let mut batch = customers.clone();
            if thread % 2 == 1 {
                batch.reverse();
            }
            batch.rotate_left(thread * 37);
            std::thread::spawn(move || {
                start.wait();
                vault.ensure_keys(&batch)
            })
        })
        .collect();
    let created: usize = threads
        .into_iter()
        .map(|thread| {
            thread
                .join()
                .expect("ensuring thread")
                .expect("ensure keys")
        })
        .sum();
    assert_eq!(created, 200);
    assert_eq!(replicas[1].key_count().unwrap(), 200);
    for customer in &customers {
        assert_eq!(
            replicas[0].key_id_of(customer).unwrap(),
            replicas[1].key_id_of(customer).unwrap()
        );
    }
}

#[test]
fn sealed_on_one_replica_opens_on_the_other_until_either_erases_it() {
    let store = TestStore::postgres();
    let (first, second) = (store.open(), store.open());
    let (reference, value) = customer();
    let sealed = first.seal(&reference, &value).unwrap();
    let payload = json!({"customer": sealed.to_value()});
    // The second replica opens it (and would have cached its key on SQLite) ...
    assert_eq!(second.open(&sealed).unwrap(), Some(value.clone()));
    let mut opened = payload.clone();
    second.open_in_place(&mut opened).unwrap();
    assert_eq!(opened["customer"], value);
    assert_eq!(second.seal(&reference, &value).unwrap().key, sealed.key);

    // ... until the first erases the customer: then it reads as erased there too.
    assert!(first.erase(&reference).unwrap());
    assert_eq!(second.open(&sealed).unwrap(), None);
    assert!(second.is_erased(sealed.key).unwrap());
    let mut erased = payload.clone();
    let stats = second.open_in_place(&mut erased).unwrap();
    assert_eq!((stats.opened, stats.erased), (0, 1));
    assert_eq!(erased["customer"], json!({"erased": true}));
    // A new submission sealed on the second replica gets a fresh key, which opens on the
    // first.
    let fresh = second.seal(&reference, &value).unwrap();
    assert_ne!(fresh.key, sealed.key);
    assert_eq!(first.open(&fresh).unwrap(), Some(value));
    assert!(!second.erase_key(sealed.key).unwrap(), "already erased");
}

#[test]
fn a_lost_connection_is_reconnected_on_the_next_call() {
    let store = TestStore::postgres();
    let vault = store.open();
    let (reference, value) = customer();
    let sealed = vault.seal(&reference, &value).unwrap();
    for _ in 0..3 {
        assert!(store.database().terminate_sessions() >= 1);
        assert_eq!(vault.open(&sealed).unwrap(), Some(value.clone()));
    }
    assert!(store.database().terminate_sessions() >= 1);
    assert!(vault.erase(&reference).unwrap());
    assert_eq!(vault.open(&sealed).unwrap(), None);
}

/// Seals and opens `count` objects and prints the rates; run with
/// `CLOOP_VAULT_MEASURE=1 cargo nextest run -p vault --release measure --no-capture`.
#[test]
fn measure_seal_and_open_rates() {
    let Ok(count) = std::env::var("CLOOP_VAULT_MEASURE") else {
        return;
    };
    let count: usize = count
        .parse()
        .ok()
        .filter(|count| *count > 1)
        .unwrap_or(20_000);
    for (name, store) in [
        ("sqlite", TestStore::sqlite()),
        ("postgres", TestStore::postgres()),
    ] {
        let vault = store.open();
        let customers: Vec<CustomerRef> = (0..100)
            .map(|index| {
                CustomerRef::from_fields(Some(&format!("C-{index}")), None, None, None).unwrap()
            })
            .collect();
        vault.ensure_keys(&customers).unwrap();
        let value = json!({"customer_id": "C-1", "phone": "+8613812345678"});
        let started = std::time::Instant::now();
        let sealed: Vec<SealedJson> = (0..count)
            .map(|index| vault.seal(&customers[index % 100], &value).unwrap())
            .collect();
        let seal_rate = count as f64 / started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        for one in &sealed {
            vault.open(one).unwrap();
        }
        let open_rate = count as f64 / started.elapsed().as_secs_f64();
        let mut payloads: Vec<serde_json::Value> = sealed
            .iter()
            .map(|one| json!({"customer": one.to_value()}))
            .collect();
        let reader = store.open();
        let started = std::time::Instant::now();
        for page in payloads.chunks_mut(500) {
            reader.open_all_in_place(page).unwrap();
        }
        let page_rate = count as f64 / started.elapsed().as_secs_f64();
        println!(
            "{name}: {seal_rate:.0} seals/s, {open_rate:.0} opens/s one by one, \
             {page_rate:.0} opens/s by pages of 500 payloads, over {count}"
        );
    }
}
