//! A small HTTP/1.1 client for tests and benchmarks that ask an HTTP service (the console's
//! pages, the webhook) without a browser: one request per connection, the answer's status,
//! headers and body (chunked bodies joined), signing in through the console's own form, and
//! the links and rows of a queue page.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The console's cookie of the sign-in form's anti-forgery token.
const LOGIN_CSRF_COOKIE: &str = "cloop_login_csrf";
/// The console's session cookie.
const SESSION_COOKIE: &str = "cloop_session";

/// One answer: status, headers (names in lower case) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The first value of header `name` (in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body parsed as JSON; panics with the answer when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {self:?}"))
    }

    /// The `app;dur=` of `Server-Timing`, in milliseconds.
    pub fn server_ms(&self) -> f64 {
        self.header("server-timing")
            .and_then(|value| value.strip_prefix("app;dur="))
            .and_then(|value| value.parse().ok())
            .expect("a Server-Timing header")
    }

    /// The `name=value` of the cookie this answer sets whose name is `name`.
    pub fn cookie(&self, name: &str) -> String {
        self.headers
            .iter()
            .filter(|(key, _)| key == "set-cookie")
            .find_map(|(_, value)| {
                value
                    .split(';')
                    .next()
                    .filter(|pair| pair.starts_with(&format!("{name}=")))
            })
            .unwrap_or_else(|| panic!("no cookie {name} in {:?}", self.headers))
            .to_owned()
    }

    /// The target of the link with `rel` (`next`, `prev`), unescaped.
    pub fn link(&self, rel: &str) -> Option<String> {
        let at = self.body.find(&format!("rel=\"{rel}\""))?;
        let start = self.body[..at].rfind("href=\"")? + "href=\"".len();
        let end = start + self.body[start..].find('"')?;
        Some(self.body[start..end].replace("&amp;", "&"))
    }

    /// The tickets of a queue page, in their order (`data-ticket` of each row).
    pub fn ticket_rows(&self) -> Vec<String> {
        self.body
            .split("data-ticket=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_owned)
            .collect()
    }
}

/// Sends one request to `address` (`host:port`) on a connection of its own; `cookie` and a
/// form `body` (for POST) when not empty. Panics when the service does not answer.
pub fn request(address: &str, method: &str, path: &str, cookie: &str, body: &str) -> Answer {
    let mut headers = Vec::new();
    if !cookie.is_empty() {
        headers.push(("Cookie".to_owned(), cookie.to_owned()));
    }
    if method == "POST" {
        headers.push((
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ));
    }
    exchange(address, method, path, &headers, body.as_bytes())
        .unwrap_or_else(|error| panic!("{method} {path} at {address}: {error}"))
}

/// Sends one request to `address` with `headers` and `body` (with its `Content-Length`, but
/// for a GET without a body) on a connection of its own (`Connection: close`, 30 s to write and to read);
/// why not, when the connection fails or no complete answer head comes back. A server that
/// answers before it has read the whole body (413) is read all the same.
pub fn exchange(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(address).map_err(|error| format!("connect: {error}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if method != "GET" || !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    let _ = stream.write_all(&bytes);
    let mut raw = Vec::new();
    if let Err(error) = stream.read_to_end(&mut raw) {
        if raw.is_empty() {
            return Err(format!("read: {error}"));
        }
    }
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let Some((head, rest)) = raw.split_once("\r\n\r\n") else {
        return Err(format!("no complete answer: {raw:?}"));
    };
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_lowercase(), value.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(key, value)| key == "transfer-encoding" && value.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// The body of a chunked answer, its chunks joined.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// Signs in on the console at `address` with `token` through its form; returns the session
/// cookie (`name=value`).
pub fn sign_in(address: &str, token: &str) -> String {
    let form = request(address, "GET", "/login", "", "");
    let login = form.cookie(LOGIN_CSRF_COOKIE);
    let csrf = login.split_once('=').expect("name=value").1.to_owned();
    let answer = request(
        address,
        "POST",
        "/login",
        &login,
        &format!("token={token}&csrf_token={csrf}"),
    );
    assert_eq!(answer.status, 303, "sign-in as {token}: {}", answer.body);
    answer.cookie(SESSION_COOKIE)
}
