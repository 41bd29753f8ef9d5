//! A small HTTP/1.1 client for the console's pages, for tests and benchmarks that ask the
//! console without a browser: one request per connection, the answer's status, headers and
//! body, signing in through the console's own form, and the links and rows of a queue page.

use std::io::{Read, Write};
use std::net::TcpStream;

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
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
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
/// form `body` (for POST) when not empty.
pub fn request(address: &str, method: &str, path: &str, cookie: &str, body: &str) -> Answer {
    let mut stream =
        TcpStream::connect(address).unwrap_or_else(|error| panic!("connect {address}: {error}"));
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        text.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if method == "POST" {
        text.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    text.push_str("\r\n");
    text.push_str(body);
    stream.write_all(text.as_bytes()).expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_lowercase(), value.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
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
