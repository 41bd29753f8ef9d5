//! gRPC over TLS, end to end, with certificates the test makes (`e2e::certs::TestPki`):
//! cloop-intake serves TLS (`--tls-cert`, `--tls-key`), cloop-workflow serves mutual TLS
//! (`--tls-client-ca` too). A submission over TLS becomes a ticket that the workflow lists
//! over mutual TLS; a plain-text client, a client that does not trust the CA and (on the
//! workflow) a client without a certificate are refused; the `cloop` CLI with `--ca` submits,
//! and with `--ca --cert --key` lists the ticket; `cloop-notify` reaches the workflow over
//! mutual TLS (`--workflow-ca`, `--workflow-cert`, `--workflow-key`) and records the notice.

use crate::support::{authorized, list_all_tickets, start_pair, PairOptions};
use e2e::certs::TestPki;
use e2e::{bin_path, fetch_history, wait_until, Service, ServiceSpec};
use proto::v1;
use proto::v1::intake_client::IntakeClient;
use proto::v1::tickets_client::TicketsClient;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read a certificate file")
}

/// A TLS channel to `address` that trusts `ca` and, when given, shows `identity`.
async fn tls_channel(
    address: &str,
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Channel, String> {
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca)));
    if let Some((cert, key)) = identity {
        config = config.identity(Identity::from_pem(read(cert), read(key)));
    }
    Endpoint::from_shared(format!("https://{address}"))
        .expect("valid uri")
        .tls_config(config)
        .map_err(|error| error.to_string())?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .map_err(|error| format!("{error:?}"))
}

fn submission(external_id: &str) -> v1::SubmitRequest {
    v1::SubmitRequest {
        channel: "web".into(),
        external_id: external_id.into(),
        content: "APP卡顿，下单后一直转圈".into(),
        customer: Some(v1::Customer {
            customer_id: "c-tls".into(),
            phone: "13800138000".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One submission through `channel`: the ticket id, or the failure.
async fn submit(channel: Channel, external_id: &str) -> Result<String, String> {
    IntakeClient::new(channel)
        .submit(authorized(submission(external_id), "t-adapter"))
        .await
        .map(|answer| answer.into_inner().ticket_id)
        .map_err(|status| format!("{status:?}"))
}

/// Asserts that `cloop` exited with `code`, showing `what` and its stderr when not.
fn assert_exit(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn cloop(home: &Path, args: &[String]) -> Output {
    Command::new(bin_path("cloop"))
        .args(args)
        .env_remove("CLOOP_TOKEN")
        .env_remove("CLOOP_INTAKE")
        .env_remove("CLOOP_WORKFLOW")
        .env_remove("CLOOP_PROFILE")
        .env_remove("CLOOP_CA")
        .env_remove("CLOOP_CERT")
        .env_remove("CLOOP_KEY")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .output()
        .expect("run cloop")
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

/// A webhook receiver that accepts every notice (200) and counts them.
async fn accept_notices(listener: tokio::net::TcpListener, count: std::sync::Arc<AtomicUsize>) {
    while let Ok((stream, _)) = listener.accept().await {
        let count = count.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            let mut length = 0usize;
            loop {
                line.clear();
                if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                let trimmed = line.trim_end().to_ascii_lowercase();
                if trimmed.is_empty() {
                    break;
                }
                if let Some(value) = trimmed.strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).await.is_err() {
                return;
            }
            count.fetch_add(1, Ordering::SeqCst);
            let mut stream = reader.into_inner();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            let _ = stream.shutdown().await;
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_over_tls_and_mutual_tls_end_to_end() {
    let certs = tempfile::tempdir().expect("temp dir");
    let pki = TestPki::new(&certs.path().join("pki"));
    let stranger = TestPki::new(&certs.path().join("stranger"));
    let path = |path: &Path| path.to_string_lossy().into_owned();
    let server_tls = vec![
        "--tls-cert".to_owned(),
        path(&pki.server_cert),
        "--tls-key".to_owned(),
        path(&pki.server_key),
    ];
    let mut workflow_tls = server_tls.clone();
    workflow_tls.extend(["--tls-client-ca".to_owned(), path(&pki.ca_cert)]);
    let mut pair = start_pair(PairOptions {
        intake_args: server_tls,
        workflow_args: workflow_tls,
        ..PairOptions::default()
    });
    let intake = pair.intake().address().to_owned();
    let workflow = pair.workflow().address().to_owned();

    // A submission over TLS is answered with a ticket id.
    let channel = tls_channel(&intake, &pki.ca_cert, None)
        .await
        .expect("TLS to intake");
    let ticket_id = submit(channel, "tls-1").await.expect("submitted over TLS");

    // A plain-text client gets no answer from a TLS server.
    let plain = Endpoint::from_shared(format!("http://{intake}"))
        .expect("valid uri")
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .connect_lazy();
    let refused = submit(plain, "tls-plain").await;
    assert!(refused.is_err(), "plain text was answered: {refused:?}");

    // A client that does not trust the CA refuses the server's certificate.
    let untrusting = tls_channel(&intake, &stranger.ca_cert, None).await;
    let error = untrusting.expect_err("a client that does not trust the CA connected");
    assert!(
        error.contains("InvalidCertificate"),
        "not a certificate error: {error}"
    );

    // Mutual TLS on the workflow: no client certificate, or one of another CA, is refused...
    for (name, identity) in [
        ("no certificate", None),
        (
            "a certificate of another CA",
            Some((
                stranger.client_cert.as_path(),
                stranger.client_key.as_path(),
            )),
        ),
    ] {
        let outcome = match tls_channel(&workflow, &pki.ca_cert, identity).await {
            Ok(channel) => list_all_tickets(&channel)
                .await
                .map(|tickets| tickets.len())
                .map_err(|status| format!("{status:?}")),
            Err(error) => Err(error),
        };
        assert!(
            outcome.is_err(),
            "{name}: the workflow answered {outcome:?}"
        );
    }
    // ...the client certificate is let in, and the ticket is listed over mutual TLS.
    let channel = tls_channel(
        &workflow,
        &pki.ca_cert,
        Some((&pki.client_cert, &pki.client_key)),
    )
    .await
    .expect("mutual TLS to workflow");
    let mut listed = false;
    for _ in 0..120 {
        let tickets = list_all_tickets(&channel)
            .await
            .expect("list over mutual TLS");
        if tickets.iter().any(|ticket| ticket.ticket_id == ticket_id) {
            listed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(listed, "ticket {ticket_id} was not listed by the workflow");

    // The CLI: --ca submits to intake over TLS; --ca --cert --key lists on the workflow;
    // --ca alone is refused by the workflow; an http:// address with --ca is a usage error.
    let home = tempfile::tempdir().expect("home");
    let base = |token: &str| {
        owned(&[
            "--intake",
            &format!("https://{intake}"),
            "--workflow",
            &format!("https://{workflow}"),
            "--token",
            token,
            "--ca",
            &path(&pki.ca_cert),
        ])
    };
    let mut args = base("t-adapter");
    args.extend(owned(&[
        "--json",
        "submit",
        "--channel",
        "web",
        "--external-id",
        "tls-cli-1",
        "--content",
        "APP卡顿，退款也没有到账",
        "--phone",
        "13800138000",
    ]));
    let output = cloop(home.path(), &args);
    assert_exit(&output, 0, "cloop submit over TLS");
    let receipt: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let cli_ticket = receipt["ticket_id"].as_str().expect("ticket id").to_owned();

    let mut args = base("t-admin");
    args.extend(owned(&[
        "--cert",
        &path(&pki.client_cert),
        "--key",
        &path(&pki.client_key),
        "--json",
        "tickets",
        "list",
    ]));
    let mut last = String::new();
    let both_listed = wait_until(Duration::from_secs(30), || {
        let output = cloop(home.path(), &args);
        last = format!(
            "{} {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output.status.code() == Some(0)
            && last.contains(ticket_id.as_str())
            && last.contains(cli_ticket.as_str())
    });
    assert!(both_listed, "cloop tickets list over mutual TLS: {last}");

    let mut args = base("t-admin");
    args.extend(owned(&["tickets", "list"]));
    let output = cloop(home.path(), &args);
    assert_exit(
        &output,
        6,
        "without a client certificate the workflow must refuse",
    );
    // The reason is the server's alert (CertificateRequired) or, when the server closed the
    // connection before the client read it, the broken connection.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error: unavailable: "), "{stderr}");

    let output = cloop(
        home.path(),
        &owned(&[
            "--workflow",
            &format!("http://{workflow}"),
            "--ca",
            &path(&pki.ca_cert),
            "--token",
            "t-admin",
            "tickets",
            "list",
        ]),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("use https://"), "{stderr}");

    // cloop-notify calls the workflow over mutual TLS: it reads the ticket, sends the
    // `received` notice and records it (customer_notified) on the ticket.
    let webhook = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let webhook_port = webhook.local_addr().expect("address").port();
    let delivered = std::sync::Arc::new(AtomicUsize::new(0));
    tokio::spawn(accept_notices(webhook, delivered.clone()));
    let spec = ServiceSpec::new()
        .metrics()
        .config(format!(
            "[notify]\nworkflow_url = \"https://{workflow}\"\ntoken = \"t-service\"\n\
             backoff_base_ms = 100\nbackoff_cap_ms = 400\n\n\
             [notify.webhook]\nurl = \"http://127.0.0.1:{webhook_port}/hooks/notice\"\n\
             secret = \"tls-secret\"\n"
        ))
        .args([
            "--workflow-ca",
            &path(&pki.ca_cert),
            "--workflow-cert",
            &path(&pki.client_cert),
            "--workflow-key",
            &path(&pki.client_key),
        ]);
    pair.spawn(Service::Notify, spec);
    let mut tickets = TicketsClient::new(channel.clone());
    let mut recorded = false;
    for _ in 0..240 {
        let history = fetch_history(&mut tickets, &ticket_id, "t-admin")
            .await
            .expect("history over mutual TLS")
            .into_inner();
        if history
            .events
            .iter()
            .any(|event| event.event_type == "customer_notified")
        {
            recorded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        recorded,
        "notify did not record a notice over mutual TLS: {}",
        pair.get("notify").log()
    );
    assert!(
        delivered.load(Ordering::SeqCst) >= 1,
        "no notice was delivered"
    );
}

/// A service refuses to start with a certificate and no key, naming the flag and the file.
#[test]
fn a_certificate_without_its_key_stops_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = TestPki::new(dir.path());
    for binary in ["cloop-intake", "cloop-workflow"] {
        let output = Command::new(bin_path(binary))
            .args(["--data-dir", &dir.path().join(binary).to_string_lossy()])
            .args(["--tls-cert", &pki.server_cert.to_string_lossy()])
            .env_remove("CLOOP_TLS_KEY")
            .output()
            .expect("run the service");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{binary}: {stderr}");
        assert!(stderr.contains("--tls-cert"), "{binary}: {stderr}");
        assert!(
            stderr.contains(&pki.server_cert.display().to_string()),
            "{binary}: {stderr}"
        );
        assert!(stderr.contains("--tls-key"), "{binary}: {stderr}");
    }
}
