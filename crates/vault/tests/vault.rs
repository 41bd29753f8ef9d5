//! Behaviour of the key store: sealing and opening, erasure, tampering, reopening and
//! backups, on real files.

use serde_json::json;
use vault::{is_sealed, sealed_key_ids, CustomerRef, SealedJson, Vault, VaultError};

fn customer() -> (CustomerRef, serde_json::Value) {
    let value = json!({
        "name": "张三",
        "phone": "+8613812345678",
        "email": "zhang.san@example.cn",
    });
    let reference = CustomerRef::from_customer_json(&value).expect("has contacts");
    (reference, value)
}

#[test]
fn seal_then_open_gives_the_value_back_and_hides_it() {
    let directory = tempfile::tempdir().unwrap();
    let vault = Vault::open_file(directory.path().join("keys.db")).unwrap();
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

#[test]
fn erasing_makes_open_return_none_and_only_for_that_customer() {
    let directory = tempfile::tempdir().unwrap();
    let vault = Vault::open_file(directory.path().join("keys.db")).unwrap();
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
    // The key's bytes are gone from the file and its WAL.
    let mut bytes = std::fs::read(directory.path().join("keys.db")).unwrap();
    if let Ok(wal) = std::fs::read(directory.path().join("keys.db-wal")) {
        bytes.extend(wal);
    }
    assert!(!String::from_utf8_lossy(&bytes).contains(reference.as_str()));

    // A new submission of the same customer gets a fresh key.
    let fresh = vault.seal(&reference, &value).unwrap();
    assert_ne!(fresh.key, sealed.key);
    assert_eq!(vault.open(&fresh).unwrap(), Some(value));
    assert_eq!(vault.open(&sealed).unwrap(), None);
}

#[test]
fn open_in_place_opens_nested_objects_and_marks_erased_ones() {
    let directory = tempfile::tempdir().unwrap();
    let vault = Vault::open_file(directory.path().join("keys.db")).unwrap();
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

#[test]
fn tampered_ciphertext_nonce_or_key_id_is_an_error() {
    let directory = tempfile::tempdir().unwrap();
    let vault = Vault::open_file(directory.path().join("keys.db")).unwrap();
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

#[test]
fn keys_survive_reopening_and_erasures_too() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("keys.db");
    let (reference, value) = customer();
    let second = CustomerRef::from_fields(Some("C-4"), None, None, None).unwrap();
    let (sealed, second_sealed) = {
        let vault = Vault::open_file(&path).unwrap();
        let sealed = vault.seal(&reference, &value).unwrap();
        let second_sealed = vault.seal(&second, &json!({"customer_id": "C-4"})).unwrap();
        vault.erase(&second).unwrap();
        (sealed, second_sealed)
    };
    let reopened = Vault::open_file(&path).unwrap();
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

#[test]
fn seal_customer_replaces_only_the_customer_member() {
    let directory = tempfile::tempdir().unwrap();
    let vault = Vault::open_file(directory.path().join("keys.db")).unwrap();
    let (reference, value) = customer();
    let mut payload = json!({"ticket_id": "T-1", "content": "退款", "customer": value.clone()});
    let key_id = vault.seal_customer(&mut payload).unwrap();
    assert_eq!(key_id, vault.key_id_of(&reference).unwrap());
    assert!(is_sealed(&payload["customer"]));
    assert_eq!(payload["content"], "退款");
    assert!(!payload.to_string().contains("13812345678"));
    // Sealing again changes nothing: the member is already sealed.
    let before = payload.clone();
    assert_eq!(vault.seal_customer(&mut payload).unwrap(), None);
    assert_eq!(payload, before);
    vault.open_in_place(&mut payload).unwrap();
    assert_eq!(payload["customer"], value);
    let mut anonymous = json!({"customer": {"name": "无名"}});
    assert_eq!(vault.seal_customer(&mut anonymous).unwrap(), None);
    let mut none = json!({"at": "2026-11-23T00:00:00Z"});
    assert_eq!(vault.seal_customer(&mut none).unwrap(), None);
}

#[test]
fn ensure_keys_creates_missing_keys_once_in_one_commit() {
    let directory = tempfile::tempdir().unwrap();
    let vault = Vault::open_file(directory.path().join("keys.db")).unwrap();
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
    let reopened = Vault::open_file(directory.path().join("keys.db")).unwrap();
    assert_eq!(
        reopened.open(&sealed).unwrap(),
        Some(json!({"customer_id": "C-7"}))
    );
    assert_eq!(reopened.key_id_of(&batch[7]).unwrap(), Some(sealed.key));
}
