//! Staff alerts to `https://` group robots: `cloop-notify` reaches a recording endpoint of
//! this test's own over TLS (rustls, the server name from the URL), trusting the test's CA
//! through `[notify] ca_file`. An urgent ticket breaches and the breach reaches the head's
//! WeCom-shaped robot once (after the receiver's two refusals, retried). The agent's robot
//! shows a certificate of another CA: every attempt is a failed delivery with rustls's reason,
//! recorded on the ticket and retried, and the notifier keeps running.

use crate::alerts::{
    alert_records, delivered_to, event_id, history_until, submit, DOMAIN, PRINCIPALS,
};
use crate::notify::{http_exchange, Shared, SECRET};
use e2e::certs::TestPki;
use e2e::{principals_file, Service, ServiceSpec, TestCluster};
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// An https endpoint on a free port with the server certificate of `pki`: each connection's
/// TLS handshake, then the recording HTTP exchange of `notify.rs`. Returns the port and the
/// count of handshakes that failed.
async fn https_receiver(pki: &TestPki, seen: Shared) -> (u16, Arc<AtomicU32>) {
    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(&pki.server_cert)
            .expect("the server certificate")
            .collect::<Result<_, _>>()
            .expect("PEM certificates");
    let key = PrivateKeyDer::from_pem_file(&pki.server_key).expect("the server key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .expect("the server's TLS");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let failed = Arc::new(AtomicU32::new(0));
    let failures = failed.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, seen, failures) = (acceptor.clone(), seen.clone(), failures.clone());
            tokio::spawn(async move {
                match acceptor.accept(stream).await {
                    Ok(tls) => http_exchange(tls, seen).await,
                    Err(_) => {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    (port, failed)
}

fn notify_config(workflow: &str, ca_file: &Path, head: u16, agent: u16) -> String {
    format!(
        "{DOMAIN}\n[notify]\nworkflow_url = \"http://{workflow}\"\ntoken = \"t-service\"\n\
         ca_file = \"{}\"\n\
         max_attempts = 6\nbackoff_base_ms = 100\nbackoff_cap_ms = 400\nack_wait_ms = 5000\n\n\
         [notify.alerts]\nsecret = \"{SECRET}\"\npoll_ms = 100\n\n\
         [[notify.staff]]\nname = \"zhao.liu\"\nwebhook = \"https://localhost:{head}/robot/head\"\nformat = \"wecom\"\n\n\
         [[notify.staff]]\nname = \"wang.wu\"\nwebhook = \"https://localhost:{agent}/robot/agent\"\nformat = \"json\"\nlanguage = \"en\"\n",
        ca_file.display()
    )
}

/// The reasons of the failed alert attempts to `recipient`.
fn failures_to(events: &[v1::LogEvent], recipient: &str) -> Vec<String> {
    events
        .iter()
        .filter(|event| event.event_type == "notification_failed")
        .filter_map(|event| serde_json::from_str::<serde_json::Value>(&event.payload).ok())
        .filter(|payload| payload["notice"] == "staff_alert" && payload["recipient"] == recipient)
        .map(|payload| payload["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breach_reaches_an_https_robot_once_and_an_unknown_ca_is_a_retried_failure() {
    let certificates = tempfile::tempdir().expect("temp dir");
    let trusted = TestPki::new(&certificates.path().join("trusted"));
    let stranger = TestPki::new(&certificates.path().join("stranger"));
    let head_seen: Shared = Arc::default();
    let agent_seen: Shared = Arc::default();
    let (head_port, head_handshakes_failed) = https_receiver(&trusted, head_seen.clone()).await;
    let (agent_port, agent_handshakes_failed) = https_receiver(&stranger, agent_seen.clone()).await;
    let mut cluster = TestCluster::builder()
        .prefix("cloop-alerts-https-")
        .tokens(principals_file(PRINCIPALS))
        .config(format!(
            "{DOMAIN}\n[workflow_service]\ntimer_tick_ms = 200\n"
        ))
        .env("CLOOP_LOG", "info")
        .intake(ServiceSpec::new())
        .workflow(ServiceSpec::new())
        .start();
    let config = notify_config(
        cluster.workflow().address(),
        &trusted.ca_cert,
        head_port,
        agent_port,
    );
    cluster.spawn(Service::Notify, ServiceSpec::new().config(config));

    let ticket_id = submit(&cluster, "alert-https-1").await;
    let mut tickets = TicketsClient::new(cluster.workflow().channel());
    let events = history_until(
        &mut tickets,
        &ticket_id,
        "the head's breach alert over https and the agent's failures",
        |events| {
            event_id(events, "sla_breached")
                .is_some_and(|breach| delivered_to(events, &breach, "zhao.liu") == 1)
                && failures_to(events, "wang.wu").len() >= 2
        },
    )
    .await;
    let breach = event_id(&events, "sla_breached").expect("breached");

    // The head's robot: the breach arrived once over TLS, signed, after two refusals.
    {
        let seen = head_seen.lock().expect("lock");
        let key = format!("{breach}:zhao.liu");
        assert_eq!(seen.webhook_accepted.get(&key), Some(&1), "{seen:?}");
        assert_eq!(
            seen.webhook_attempts.get(&key),
            Some(&3),
            "retried after refusals"
        );
        assert_eq!(seen.bad_signatures, 0);
        assert!(
            seen.webhook_bodies
                .iter()
                .any(|body| body["text"]["content"]
                    .as_str()
                    .is_some_and(|text| text.contains(&ticket_id) && text.contains("已超时"))),
            "the WeCom-shaped breach alert: {:?}",
            seen.webhook_bodies
        );
    }
    assert_eq!(head_handshakes_failed.load(Ordering::SeqCst), 0);

    // The agent's robot of an unknown CA: no request ever reached it, each attempt is a
    // recorded failure naming the certificate, and attempts go on.
    let reasons = failures_to(&events, "wang.wu");
    let attempts: Vec<&String> = reasons
        .iter()
        .filter(|reason| !reason.starts_with("gave up"))
        .collect();
    assert!(attempts.len() >= 2, "{reasons:?}");
    assert!(
        attempts
            .iter()
            .all(|reason| reason.contains("invalid peer certificate")),
        "{reasons:?}"
    );
    assert!(agent_handshakes_failed.load(Ordering::SeqCst) >= 2);
    assert!(agent_seen.lock().expect("lock").webhook_attempts.is_empty());
    assert!(
        !alert_records(&events)
            .iter()
            .any(|(kind, _, to)| kind == "customer_notified" && to == "wang.wu"),
        "nothing counts as delivered to the agent"
    );
    let notify = cluster.get_mut("notify");
    assert!(notify.exit_status().is_none(), "the notifier keeps running");
}
