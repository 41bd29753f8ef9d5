//! The senders: an HTTP webhook (JSON, HMAC-SHA256 signed, `Idempotency-Key` header; plain
//! `http://` or `https://` through [`WebhookTls`]) for phone and WeChat contacts, SMTP e-mail (`lettre`) with a `Message-ID` derived from the
//! same key, so that a receiver can drop the duplicate of the one window the notifier cannot
//! close (a crash between the receiver's answer and the local commit), and a local file that
//! each notice is appended to as one JSON line (for the contacts the others do not reach).
//! E-mail may carry one HTML page attached (the scheduled reports, `reports`).

use crate::config::{SmtpSettings, WebhookSettings};
use crate::https::WebhookTls;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Attachment, Body, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The header with `sha256=<hex>` of `HMAC-SHA256(secret, "<timestamp>." + body)`.
pub const SIGNATURE_HEADER: &str = "X-Cloop-Signature";
/// The header with the Unix time in seconds the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Cloop-Timestamp";
/// The header with `<source_event_id>:<notice>`.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// One notice, rendered, to one address.
#[derive(Debug, Clone, Serialize)]
pub struct Outgoing {
    pub idempotency_key: String,
    pub ticket_id: String,
    pub notice: String,
    /// `sms`, `wechat` or `email`.
    pub channel: String,
    /// The full address: the receiver needs it. Never logged.
    pub to: String,
    pub language: String,
    pub subject: String,
    pub text: String,
    pub source_event_id: String,
}

/// `sha256=<hex>` of `HMAC-SHA256(secret, "<timestamp>." + body)`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    service::signature::sign(secret, &timestamp.to_string(), body)
}

/// The HTTP sender.
#[derive(Debug, Clone)]
pub struct Webhook {
    host: String,
    port: u16,
    path: String,
    secret: Vec<u8>,
    timeout: Duration,
    /// TLS for an `https://` URL; `None` for `http://`.
    tls: Option<WebhookTls>,
}

impl Webhook {
    /// From validated settings (`http(s)://host[:port][/path]`).
    pub fn new(
        settings: &WebhookSettings,
        secret: String,
        tls: Option<&WebhookTls>,
    ) -> Result<Self, String> {
        Self::to_url(&settings.url, secret, settings.timeout_ms, tls)
    }

    /// A sender to `url` (`http://` or `https://host[:port][/path]`), signing with `secret`;
    /// an `https://` URL needs `tls`.
    pub fn to_url(
        url: &str,
        secret: String,
        timeout_ms: u64,
        tls: Option<&WebhookTls>,
    ) -> Result<Self, String> {
        let (rest, https) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(rest), _) => (rest, true),
            (None, Some(rest)) => (rest, false),
            (None, None) => {
                return Err("the webhook url must start with http:// or https://".to_owned())
            }
        };
        let tls = match (https, tls) {
            (false, _) => None,
            (true, Some(tls)) => Some(tls.clone()),
            (true, None) => return Err("an https:// webhook needs the TLS settings".to_owned()),
        };
        let (authority, path) = match rest.find('/') {
            Some(index) => (&rest[..index], rest[index..].to_owned()),
            None => (rest, "/".to_owned()),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host.to_owned(),
                port.parse::<u16>()
                    .map_err(|_| format!("{port:?} is not a port"))?,
            ),
            None => (authority.to_owned(), if https { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err("the webhook url has no host".to_owned());
        }
        Ok(Self {
            host,
            port,
            path,
            secret: secret.into_bytes(),
            timeout: Duration::from_millis(timeout_ms.max(100)),
            tls,
        })
    }

    /// Posts the notice; `Ok` only for a 2xx answer.
    pub async fn send(&self, outgoing: &Outgoing, now_unix: i64) -> Result<(), String> {
        let body =
            serde_json::to_vec(outgoing).map_err(|error| format!("encode the body: {error}"))?;
        self.post_body(body, &outgoing.idempotency_key, now_unix)
            .await
    }

    /// Posts `body` (JSON), signed, with `idempotency_key`; `Ok` only for a 2xx answer.
    pub async fn post_body(
        &self,
        body: Vec<u8>,
        idempotency_key: &str,
        now_unix: i64,
    ) -> Result<(), String> {
        let post = self.post(body, idempotency_key, now_unix);
        match tokio::time::timeout(self.timeout, post).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }

    /// `host:port`, for the record (a robot's key is in its path or query, never here).
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    async fn post(
        &self,
        body: Vec<u8>,
        idempotency_key: &str,
        now_unix: i64,
    ) -> Result<(), String> {
        let signed = signature(&self.secret, now_unix, &body);
        let default_port = if self.tls.is_some() { 443 } else { 80 };
        let host = if self.port == default_port {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let request = hyper::Request::post(self.path.as_str())
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, idempotency_key)
            .header(TIMESTAMP_HEADER, now_unix.to_string())
            .header(SIGNATURE_HEADER, signed)
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| format!("build the request: {error}"))?;
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|error| format!("connect: {error}"))?;
        match &self.tls {
            None => exchange(stream, request).await,
            Some(tls) => exchange(tls.connect(&self.host, stream).await?, request).await,
        }
    }
}

/// Sends `request` over `stream` (HTTP/1.1); `Ok` only for a 2xx answer.
async fn exchange<S>(stream: S, request: hyper::Request<Full<Bytes>>) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("handshake: {error}"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| format!("send: {error}"))?;
        let status = response.status();
        // Read the answer to the end so the receiver sees a clean close.
        let _ = response.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {}", status.as_u16()))
        }
    }
    .await;
    driver.abort();
    result
}

/// The file sender: one JSON line per notice (the webhook's body), appended and synced.
#[derive(Debug, Clone)]
pub struct FileSink {
    path: PathBuf,
}

impl FileSink {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    /// Where the notices go.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends the notice; `Ok` once it is on disk.
    pub async fn send(&self, outgoing: &Outgoing) -> Result<(), String> {
        let mut line =
            serde_json::to_vec(outgoing).map_err(|error| format!("encode the notice: {error}"))?;
        line.push(b'\n');
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || append_line(&path, &line))
            .await
            .map_err(|error| format!("file task: {error}"))?
            .map_err(|error| format!("append to {}: {error}", self.path.display()))
    }
}

fn append_line(path: &Path, line: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(line)?;
    file.sync_data()
}

/// The e-mail sender.
#[derive(Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp").finish_non_exhaustive()
    }
}

/// One plain-text e-mail.
#[derive(Debug, Clone)]
pub struct Mail<'a> {
    /// The address; never logged.
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    /// The same for every attempt of the same message, so a receiver can drop a duplicate.
    pub message_id: String,
}

/// The `Message-ID` of a notice: the idempotency key in a form RFC 5322 allows.
pub fn message_id(source_event_id: &str, notice: &str) -> String {
    format!("<{source_event_id}.{notice}@cloop-notify>")
}

impl Smtp {
    pub fn new(settings: &SmtpSettings) -> Result<Self, String> {
        let from = settings
            .from
            .parse()
            .map_err(|error| format!("notify.smtp.from: {error}"))?;
        // Plain SMTP to a relay on the local network; TLS belongs to that relay.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .timeout(Some(Duration::from_millis(settings.timeout_ms.max(100))))
            .build();
        Ok(Self { transport, from })
    }

    pub async fn send(&self, outgoing: &Outgoing) -> Result<(), String> {
        let id = message_id(&outgoing.source_event_id, &outgoing.notice);
        let mail = Mail {
            to: &outgoing.to,
            subject: &outgoing.subject,
            text: &outgoing.text,
            message_id: id,
        };
        self.send_mail(mail).await
    }

    /// Sends one message: the text, and an HTML page attached as `filename` when given
    /// (`multipart/mixed`, the page base64-encoded so that any relay passes it unchanged).
    pub async fn send_with_attachment(
        &self,
        mail: Mail<'_>,
        attachment: Option<(&str, &str)>,
    ) -> Result<(), String> {
        let Some((filename, html)) = attachment else {
            return self.send_mail(mail).await;
        };
        let to = mail
            .to
            .parse()
            .map_err(|_| "the e-mail address is not valid".to_owned())?;
        let html_type = ContentType::parse("text/html; charset=utf-8")
            .map_err(|error| format!("content type: {error}"))?;
        // Bytes, not a string: the page goes out exactly as rendered (no line-end rewriting).
        let page =
            Body::new_with_encoding(html.as_bytes().to_vec(), ContentTransferEncoding::Base64)
                .map_err(|_| "the page cannot be encoded".to_owned())?;
        let body = MultiPart::mixed()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.text.to_owned()),
            )
            .singlepart(Attachment::new(filename.to_owned()).body(page, html_type));
        let message = Message::builder()
            .message_id(Some(mail.message_id))
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.to_owned())
            .multipart(body)
            .map_err(|error| format!("build the message: {error}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| format!("smtp: {error}"))
    }

    /// Sends one plain-text message.
    pub async fn send_mail(&self, mail: Mail<'_>) -> Result<(), String> {
        let to = mail
            .to
            .parse()
            .map_err(|_| "the e-mail address is not valid".to_owned())?;
        let message = Message::builder()
            .message_id(Some(mail.message_id))
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.to_owned())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.to_owned())
            .map_err(|error| format!("build the message: {error}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|error| format!("smtp: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // RFC 4231 test case 2 shape: key "Jefe"; message "what do ya want for nothing?"
        // split as "<timestamp>." + body would not match it, so check against a direct HMAC.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"secret").expect("any key length");
        mac.update(b"1700000000.{\"a\":1}");
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(signature(b"secret", 1_700_000_000, b"{\"a\":1}"), expected);
        assert_ne!(signature(b"other", 1_700_000_000, b"{\"a\":1}"), expected);
        // The primitive itself is pinned by `service::signature`'s RFC 4231 test.
    }

    #[test]
    fn webhook_urls_split_into_host_port_and_path() {
        let settings = WebhookSettings {
            url: "http://127.0.0.1:8080/hooks/sms".to_owned(),
            secret: "s".to_owned(),
            secret_env: String::new(),
            timeout_ms: 1_000,
        };
        let webhook = Webhook::new(&settings, "s".to_owned(), None).expect("valid url");
        assert_eq!(
            (webhook.host.as_str(), webhook.port, webhook.path.as_str()),
            ("127.0.0.1", 8080, "/hooks/sms")
        );
        let settings = WebhookSettings {
            url: "http://gateway".to_owned(),
            ..settings
        };
        let webhook = Webhook::new(&settings, "s".to_owned(), None).expect("valid url");
        assert_eq!((webhook.port, webhook.path.as_str()), (80, "/"));
        let robot = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k";
        let refused = Webhook::to_url(robot, "s".to_owned(), 1_000, None).expect_err("no TLS");
        assert!(refused.contains("TLS"), "{refused}");
    }

    #[tokio::test]
    async fn the_file_sender_appends_one_json_line_per_notice_readable_by_the_owner_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sink = FileSink::new(dir.path().join("notices.jsonl"));
        let outgoing = |notice: &str| Outgoing {
            idempotency_key: format!("e-1:{notice}"),
            ticket_id: "261123-X".to_owned(),
            notice: notice.to_owned(),
            channel: "sms".to_owned(),
            to: "+8613800138000".to_owned(),
            language: "zh".to_owned(),
            subject: String::new(),
            text: "您的反馈已受理".to_owned(),
            source_event_id: "e-1".to_owned(),
        };
        sink.send(&outgoing("received")).await.expect("appended");
        sink.send(&outgoing("first_response"))
            .await
            .expect("appended");
        let text = std::fs::read_to_string(sink.path()).expect("the file");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["notice"], "received");
        assert_eq!(lines[1]["idempotency_key"], "e-1:first_response");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(sink.path())
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn message_ids_are_valid_and_per_notice() {
        let id = message_id("0195f3a0-0000-7000-8000-000000000001", "first_response");
        assert_eq!(
            id,
            "<0195f3a0-0000-7000-8000-000000000001.first_response@cloop-notify>"
        );
    }
}
