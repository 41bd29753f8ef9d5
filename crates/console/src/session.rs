//! Server-side sessions: a random id in an HttpOnly, SameSite=Strict cookie points at the
//! person's token, who they are (for display) and the anti-forgery token of their forms. A
//! session ends at sign-out or when its time is up; sessions live in memory only, so a
//! restart signs everybody out.

use domain::types::Role;
use rand::RngCore;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cloop_session";
/// The cookie of the sign-in form's anti-forgery token (before there is a session).
pub const LOGIN_CSRF_COOKIE: &str = "cloop_login_csrf";

/// Who signed in, as the tokens file names them: for display and for which forms to show.
/// The workflow decides what they may do, from their own token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub role: Role,
    pub department: Option<String>,
}

/// One signed-in person.
#[derive(Clone)]
pub struct Session {
    /// The person's own bearer token, sent with every call to the workflow.
    pub token: String,
    pub person: Person,
    /// The anti-forgery token every form of this session carries.
    pub csrf: String,
    pub expires_at: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("person", &self.person)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Every live session, by id.
#[derive(Debug)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
    ttl: Duration,
}

/// `bytes` random bytes from the operating system's generator, as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0_u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(expected: &str, given: &str) -> bool {
    let (expected, given) = (expected.as_bytes(), given.as_bytes());
    if expected.is_empty() || expected.len() != given.len() {
        return false;
    }
    expected
        .iter()
        .zip(given)
        .fold(0_u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}

impl Sessions {
    pub fn new(ttl: Duration) -> Self {
        Self {
            by_id: Mutex::new(HashMap::new()),
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves the map usable: take it back.
        self.by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a session for `person` with their `token`; returns its id. Expired sessions
    /// are dropped on the way.
    pub fn create(&self, token: String, person: Person, now: Instant) -> String {
        let id = random_hex(32);
        let session = Session {
            token,
            person,
            csrf: random_hex(32),
            expires_at: now + self.ttl,
        };
        let mut sessions = self.lock();
        sessions.retain(|_, session| session.expires_at > now);
        sessions.insert(id.clone(), session);
        id
    }

    /// The live session `id`, if there is one; an expired one is removed.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        let mut sessions = self.lock();
        match sessions.get(id) {
            Some(session) if session.expires_at > now => Some(session.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends session `id` (sign-out).
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// How many sessions are held (live or not yet swept).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/`, `Secure` when asked;
/// `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person() -> Person {
        Person {
            name: "li.si".into(),
            role: Role::Agent,
            department: Some("logistics".into()),
        }
    }

    #[test]
    fn a_session_lasts_until_its_time_is_up() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let start = Instant::now();
        let id = sessions.create("t".into(), person(), start);
        assert_eq!(id.len(), 64);
        let live = sessions.get(&id, start + Duration::from_secs(59));
        assert_eq!(live.map(|session| session.person), Some(person()));
        assert!(sessions.get(&id, start + Duration::from_secs(60)).is_none());
        assert!(sessions.is_empty(), "the expired session was removed");
    }

    #[test]
    fn sign_out_ends_the_session_and_ids_differ() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let now = Instant::now();
        let first = sessions.create("a".into(), person(), now);
        let second = sessions.create("b".into(), person(), now);
        assert_ne!(first, second);
        let csrf = |id: &str| sessions.get(id, now).map(|session| session.csrf);
        assert_ne!(csrf(&first), csrf(&second));
        sessions.remove(&first);
        assert!(sessions.get(&first, now).is_none());
        assert!(sessions.get(&second, now).is_some());
    }

    #[test]
    fn anti_forgery_tokens_must_match_exactly() {
        let token = random_hex(32);
        assert!(same_secret(&token, &token.clone()));
        assert!(!same_secret(&token, ""));
        assert!(
            !same_secret("", ""),
            "an empty expected token matches nothing"
        );
        assert!(!same_secret(&token, &token[1..]));
        let mut other = token.clone().into_bytes();
        other[10] = if other[10] == b'0' { b'1' } else { b'0' };
        assert!(!same_secret(
            &token,
            &String::from_utf8(other).expect("hex")
        ));
    }

    #[test]
    fn cookies_are_read_and_written_strictly() {
        let header = "lang=zh; cloop_session=abc; other=1";
        assert_eq!(cookie(header, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(header, "lang"), Some("zh"));
        assert_eq!(cookie(header, "missing"), None);
        let set = set_cookie(SESSION_COOKIE, "abc", Duration::from_secs(5), true);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        assert!(set.ends_with("; Secure"));
    }
}
