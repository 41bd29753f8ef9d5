//! What the end-to-end benchmarks of the workflow share: authorized requests, a channel that
//! waits for the service, and a realistic submission.

#![allow(dead_code)]

use proto::v1;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tonic::transport::Channel;

/// `message` with the bearer token of `token`.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// A channel to `address`, retried for up to 30 seconds while the service starts.
pub async fn channel(address: &str) -> Channel {
    for _ in 0..300 {
        if let Ok(channel) = Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
        {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot connect to {address}");
}

/// Submission `index`: an app complaint with a phone number, external id `<prefix>-<index>`.
pub fn submission(prefix: &str, index: usize) -> v1::SubmitRequest {
    v1::SubmitRequest {
        channel: "app".into(),
        external_id: format!("{prefix}-{index}"),
        content: format!("APP卡顿，打开很慢，第{index}次"),
        customer: Some(v1::Customer {
            phone: "13800138000".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The load averages of the last 1, 5 and 15 minutes, joined by `separator` ("?" when
/// `/proc/loadavg` cannot be read).
pub fn load_average(separator: &str) -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(separator)
        })
        .unwrap_or_else(|_| "?".to_owned())
}

/// The flags of a service listening on `address` with its data in `data_dir`, on the
/// nats-server at `nats_url`, reading `tokens`.
pub fn service_args(address: &str, nats_url: &str, data_dir: &Path, tokens: &Path) -> Vec<String> {
    vec![
        "--listen".to_owned(),
        address.to_owned(),
        "--nats-url".to_owned(),
        nats_url.to_owned(),
        "--data-dir".to_owned(),
        data_dir.to_string_lossy().into_owned(),
        "--tokens".to_owned(),
        tokens.to_string_lossy().into_owned(),
    ]
}

/// A temporary folder whose name starts with `prefix`.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().unwrap()
}

/// Writes `tokens.toml` into `dir`: a principal for each `(token, role, department)` (an empty
/// department for none), named by its token, without a rate limit. Returns its path.
pub fn write_tokens(dir: &Path, principals: &[(&str, &str, &str)]) -> PathBuf {
    let mut text = String::new();
    for (token, role, department) in principals {
        text.push_str(&format!(
            "[[principal]]\nname = \"{token}\"\nrole = \"{role}\"\nrate_per_sec = 0\ntoken_sha256 = \"{}\"\n{}\n",
            service::tokens::token_sha256(token),
            if department.is_empty() {
                String::new()
            } else {
                format!("department = \"{department}\"\n")
            }
        ));
    }
    let path = dir.join("tokens.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Writes tickets straight into the projection tables of a stopped service's database: for
/// each `(seq, ticket)` its `tickets` row and its `tickets_fts` row, with the projector's own
/// writes (`projections::write_ticket_row`, `projections::write_ticket_text`). Seeding a
/// million tickets this way takes seconds; replaying their events through the log would take
/// the benchmark far longer than the queries it measures.
pub fn seed_ticket_rows(
    transaction: &rusqlite::Transaction<'_>,
    tickets: impl Iterator<Item = (i64, domain::ticket::Ticket)>,
) {
    for (seq, ticket) in tickets {
        projections::write_ticket_row(transaction, seq, &ticket, 0).unwrap();
        projections::write_ticket_text(transaction, seq, &ticket, true).unwrap();
    }
}
