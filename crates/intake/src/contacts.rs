//! Who may reply on a ticket: intake keeps, for every ticket it numbers, a keyed hash
//! (HMAC-SHA256) of each of the customer's contacts (customer id, phone, e-mail, WeChat
//! openid) in the outbox database, written in the transaction of the ticket's row. A reply
//! (`SubmitRequest.reply_to_ticket_id`, or an e-mail whose subject names a ticket number) is
//! accepted only when one of its own contacts hashes to one kept for that ticket; otherwise it
//! is NOT_FOUND, the same answer as for a ticket intake does not know. No contact is stored or
//! logged in plaintext for this: the key lives in the data folder (`contact-index.key`, mode
//! 0600), made at the first start, and never leaves this replica.

use crate::error::IntakeError;
use domain::ids::TicketId;
use domain::submission::Customer;
use std::io::Write as _;
use std::path::Path;

/// The key file in the data folder.
pub const KEY_FILE: &str = "contact-index.key";

/// The attribute of an e-mail submission that holds its subject.
pub const SUBJECT_ATTRIBUTE: &str = "subject";

/// The channel whose subjects thread replies.
pub const EMAIL_CHANNEL: &str = "email";

const KEY_BYTES: usize = 32;

/// The secret of the contact hashes.
#[derive(Clone)]
pub struct ContactKey([u8; KEY_BYTES]);

impl std::fmt::Debug for ContactKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ContactKey(..)")
    }
}

impl ContactKey {
    /// A fresh random key (tests, and the first start).
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// The key of `data_dir`, made (mode 0600) when there is none yet.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, IntakeError> {
        let path = data_dir.join(KEY_FILE);
        let io = |action: &str, source: std::io::Error| IntakeError::Io {
            action: format!("{action} {}", path.display()),
            source,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; KEY_BYTES] = bytes.as_slice().try_into().map_err(|_| {
                    IntakeError::Config(format!(
                        "{} holds {} bytes, not the {KEY_BYTES} of a contact key",
                        path.display(),
                        bytes.len()
                    ))
                })?;
                Ok(Self(key))
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::random();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(|source| io("create", source))?;
                file.write_all(&key.0)
                    .and_then(|()| file.sync_all())
                    .map_err(|source| io("write", source))?;
                Ok(key)
            }
            Err(error) => Err(io("read", error)),
        }
    }

    /// The hashes of the customer's contacts (normalised as intake keeps them); none for
    /// anonymous feedback. The recipe is the domain's (`domain::customer::contact_hashes`),
    /// the one the workflow's customer lookup uses too, with this replica's own key.
    pub fn hashes(&self, customer: &Customer) -> Vec<Vec<u8>> {
        domain::customer::contact_hashes(&self.0, customer)
    }
}

/// The first ticket number in an e-mail subject ("Re: 工单 260315-F0MWE-R1R00M 的进度"), if
/// any.
pub fn ticket_in_subject(subject: &str) -> Option<TicketId> {
    subject
        .split(|symbol: char| !(symbol.is_ascii_alphanumeric() || symbol == '-'))
        .map(|word| word.trim_matches('-'))
        .filter(|word| word.len() >= 16 && word.contains('-'))
        .find_map(|word| TicketId::parse(word).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_number_is_found_in_a_subject() {
        let parsed = domain::ids::TicketIdGenerator::new(3).next(chrono::Utc::now());
        let id = parsed.as_str().to_owned();
        assert_eq!(
            ticket_in_subject(&format!("Re: 工单 {id} 的进度")),
            Some(parsed.clone())
        );
        assert_eq!(
            ticket_in_subject(&format!("RE:[{id}] still broken")),
            Some(parsed)
        );
        assert_eq!(ticket_in_subject("Re: my order 12345"), None);
    }

    #[test]
    fn the_key_is_kept_and_the_same_contact_hashes_the_same() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = ContactKey::load_or_create(dir.path()).expect("made");
        let again = ContactKey::load_or_create(dir.path()).expect("read");
        let customer = Customer {
            customer_id: None,
            name: None,
            phone: None,
            email: None,
            wechat_openid: Some("o-abc".into()),
        };
        assert_eq!(first.hashes(&customer), again.hashes(&customer));
        assert_eq!(first.hashes(&customer).len(), 1);
        assert_ne!(
            ContactKey::random().hashes(&customer),
            first.hashes(&customer)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .expect("key file")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
