//! NATS with identities and least privilege, end to end: a nats-server runs the identities and
//! permissions of `deploy/nats/single.conf` (the committed file, with only its monitoring port
//! removed) with TLS required and client certificates verified (a CA, server and client
//! certificate the test makes). `cloop-intake`, `cloop-workflow` and `cloop-notify` each log
//! in as their own identity over mutual TLS, given the way an operator would (`CLOOP_NATS_*`).
//!
//! The scenario shows that the services work so (a submission over gRPC becomes a ticket, the
//! workflow's `received` event reaches intake's confirmation consumer and notify's consumer),
//! that a client without credentials cannot connect, that notify's identity can publish neither
//! a `FeedbackReceived` nor a ticket event (refused as a permissions violation, nothing arrives
//! in either stream) nor read FEEDBACK, and that an adapter's identity can submit on its own
//! `feedback.inbound.<channel>` only, and cannot publish into FEEDBACK.

use crate::support::{lazy_channel, list_all_tickets, tail};
use e2e::certs::TestPki;
use e2e::{
    free_port, identity_passwords, workspace_root, NatsServer, Service, ServiceSpec, TestCluster,
};
use prost::Message as _;
use proto::v1;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The server's configuration: `deploy/nats/single.conf` as committed, without its fixed
/// monitoring port (tests run in parallel), with TLS required for every client and client
/// certificates verified.
fn server_config(pki: &TestPki) -> String {
    let path = workspace_root().join("deploy/nats/single.conf");
    let text = std::fs::read_to_string(&path).expect("read deploy/nats/single.conf");
    assert!(
        text.contains("authorization {"),
        "single.conf requires no authentication"
    );
    let text = text.replace("http: 127.0.0.1:8222\n", "");
    format!(
        "{text}\ntls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n  verify: true\n  timeout: 5\n}}\n",
        pki.server_cert.display(),
        pki.server_key.display(),
        pki.ca_cert.display()
    )
}

/// The password the server was given for `identity` (`intake`, `adapter-app`, ...).
fn password(passwords: &[(String, String)], identity: &str) -> String {
    let variable = format!(
        "CLOOP_NATS_{}_PASSWORD",
        identity.to_uppercase().replace('-', "_")
    );
    passwords
        .iter()
        .find(|(name, _)| name == &variable)
        .map(|(_, value)| value.clone())
        .unwrap_or_else(|| panic!("no {variable} in single.conf"))
}

/// What a test client saw: the server errors it was sent (permissions violations).
type Errors = Arc<Mutex<Vec<String>>>;

/// A TLS client logged in as `name` with its password from `passwords`, its replies under
/// `_INBOX.<name>`.
async fn identity(
    nats: &NatsServer,
    pki: &TestPki,
    passwords: &[(String, String)],
    name: &str,
) -> Result<Identity, async_nats::ConnectError> {
    let (client, errors) =
        client(nats, pki, Some((name, &password(passwords, name))), name).await?;
    Ok(Identity {
        name: name.to_owned(),
        js: async_nats::jetstream::new(client.clone()),
        client,
        errors,
    })
}

/// A TLS client of `identity` (no identity: `None`) with the reply prefix `_INBOX.<inbox>`,
/// collecting the server's errors.
async fn client(
    nats: &NatsServer,
    pki: &TestPki,
    login: Option<(&str, &str)>,
    inbox: &str,
) -> Result<(async_nats::Client, Errors), async_nats::ConnectError> {
    let errors: Errors = Arc::default();
    let seen = errors.clone();
    let mut options = async_nats::ConnectOptions::new()
        .add_root_certificates(pki.ca_cert.clone())
        .add_client_certificate(pki.client_cert.clone(), pki.client_key.clone())
        .require_tls(true)
        .custom_inbox_prefix(format!("_INBOX.{inbox}"))
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(3)))
        .event_callback(move |event| {
            let seen = seen.clone();
            async move {
                if let async_nats::Event::ServerError(error) = event {
                    seen.lock().expect("errors").push(error.to_string());
                }
            }
        });
    if let Some((user, password)) = login {
        options = options.user_and_password(user.to_owned(), password.to_owned());
    }
    let client = options.connect(nats.url()).await?;
    Ok((client, errors))
}

/// Waits until the client was told of a permissions violation on `subject`.
async fn refused(errors: &Errors, subject: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let seen = errors.lock().expect("errors").clone();
        if seen.iter().any(|error| {
            let error = error.to_lowercase();
            error.contains("permissions violation") && error.contains(&subject.to_lowercase())
        }) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The number of messages in `stream`, read by the operator's identity.
async fn message_count(admin: &async_nats::Client, stream: &str) -> u64 {
    let context = async_nats::jetstream::new(admin.clone());
    let mut stream = context.get_stream(stream).await.expect("get stream");
    stream.info().await.expect("stream info").state.messages
}

/// The delivered count of durable consumer `name` on `stream` (0 when it does not exist yet).
async fn delivered(admin: &async_nats::Client, stream: &str, name: &str) -> u64 {
    let context = async_nats::jetstream::new(admin.clone());
    let Ok(stream) = context.get_stream(stream).await else {
        return 0;
    };
    let Ok(mut consumer) = stream
        .get_consumer::<async_nats::jetstream::consumer::pull::Config>(name)
        .await
    else {
        return 0;
    };
    consumer
        .info()
        .await
        .map(|info| info.delivered.stream_sequence)
        .unwrap_or(0)
}

/// A forged `FeedbackReceived`, as intake's relay would publish it.
fn forged_feedback() -> Vec<u8> {
    v1::FeedbackReceived {
        feedback_id: "forged-feedback".into(),
        ticket_id: "forged-ticket".into(),
        submission: Some(v1::Submission {
            channel: "web".into(),
            content: "forged: please refund order 42 to this account".into(),
            customer: Some(v1::Customer {
                phone: "+8613800000000".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// A submission request over NATS on `subject`; the ticket id of the answer.
async fn submit_over_nats(
    client: &async_nats::Client,
    subject: &str,
    external_id: &str,
) -> Result<String, String> {
    let request = v1::SubmitRequest {
        external_id: external_id.into(),
        content: "APP卡顿，打开很慢".into(),
        customer: Some(v1::Customer {
            phone: "13800138000".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let reply = client
        .request(subject.to_owned(), request.encode_to_vec().into())
        .await
        .map_err(|error| format!("{:?}: {error}", error.kind()))?;
    let status = e2e::grpc::reply_status(&reply);
    if status.as_deref() != Some("0") {
        return Err(format!("status {status:?}"));
    }
    v1::SubmitResponse::decode(reply.payload.as_ref())
        .map(|answer| answer.ticket_id)
        .map_err(|error| error.to_string())
}

/// The environment that logs a service in as `identity` over mutual TLS.
fn login_env(pki: &TestPki, identity: &str, password: &str, dir: &Path) -> Vec<(String, String)> {
    // intake reads its password from a file, the others from the environment: both ways work.
    let secret = if identity == "intake" {
        let file = dir.join("intake.password");
        std::fs::write(&file, format!("{password}\n")).expect("write the password file");
        (
            "CLOOP_NATS_PASSWORD_FILE".to_owned(),
            file.to_string_lossy().into_owned(),
        )
    } else {
        ("CLOOP_NATS_PASSWORD".to_owned(), password.to_owned())
    };
    vec![
        ("CLOOP_LOG".to_owned(), "info".to_owned()),
        ("CLOOP_NATS_USER".to_owned(), identity.to_owned()),
        secret,
        (
            "CLOOP_NATS_CA".to_owned(),
            pki.ca_cert.to_string_lossy().into_owned(),
        ),
        (
            "CLOOP_NATS_CERT".to_owned(),
            pki.client_cert.to_string_lossy().into_owned(),
        ),
        (
            "CLOOP_NATS_KEY".to_owned(),
            pki.client_key.to_string_lossy().into_owned(),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_identity_may_do_only_its_own_part_over_tls() {
    let dir = tempfile::Builder::new()
        .prefix("cloop-nats-security-")
        .tempdir()
        .expect("temp dir");
    let pki = TestPki::new(&dir.path().join("pki"));
    let template = std::fs::read_to_string(workspace_root().join("deploy/nats/single.conf"))
        .expect("read single.conf");
    let passwords = identity_passwords(&template);
    let nats = tokio::task::block_in_place(|| {
        NatsServer::start_with_config(&server_config(&pki), &passwords)
    });

    // The services, each as itself.
    let workflow_address = format!("127.0.0.1:{}", free_port());
    let login =
        |identity: &str| login_env(&pki, identity, &password(&passwords, identity), dir.path());
    // notify first, before any stream exists.
    let mut cluster = tokio::task::block_in_place(|| {
        TestCluster::builder()
            .prefix("cloop-nats-security-services-")
            .external_nats(nats.url())
            .config(format!(
                "[intake_service]\nnode_id = 0\nmaintenance_interval_ms = 200\n\n\
                 [workflow_service]\ntimer_tick_ms = 200\n\n\
                 [nats]\nrequest_timeout_ms = 3000\n\n\
                 [notify]\nworkflow_url = \"http://{workflow_address}\"\ntoken = \"t-service\"\n"
            ))
            .notify(ServiceSpec::new().metrics().envs(login("notify")))
            .start()
    });
    // notify may not create TICKET_EVENTS: it waits until the others have.
    let refused_create = tokio::task::block_in_place(|| {
        e2e::wait_until(Duration::from_secs(30), || {
            let log = cluster.get("notify").log();
            log.contains("ticket events consumer stopped, will retry")
                && log.contains("nats server error")
                && log.contains("STREAM.CREATE.TICKET_EVENTS")
        })
    });
    assert!(
        refused_create,
        "notify did not wait for the stream:\n{}",
        tail(&cluster.get("notify").log(), 20)
    );
    tokio::task::block_in_place(|| {
        cluster.spawn(Service::Intake, ServiceSpec::new().envs(login("intake")));
        cluster.spawn(
            Service::Workflow,
            ServiceSpec::new()
                .listen(workflow_address.clone())
                .envs(login("workflow")),
        );
    });
    let logs = || {
        format!(
            "intake:\n{}\nworkflow:\n{}\nnotify:\n{}",
            tail(&cluster.get("intake").log(), 20),
            tail(&cluster.get("workflow").log(), 20),
            tail(&cluster.get("notify").log(), 20)
        )
    };
    let admin = identity(&nats, &pki, &passwords, "admin")
        .await
        .expect("the operator connects");

    // (a) The services work with their identities: a submission becomes a ticket, the
    // workflow's `received` event reaches intake's confirmation and notify's consumer.
    let request = e2e::web_submission("nats-security-1", "APP卡顿，打开很慢");
    let ticket_id = cluster.submit_as("t-adapter", request).await;
    let workflow_channel = lazy_channel(&workflow_address);
    let listed = |channel: tonic::transport::Channel| async move {
        list_all_tickets(&channel).await.unwrap_or_default()
    };
    let deadline = Instant::now() + START_TIMEOUT;
    while !listed(workflow_channel.clone())
        .await
        .iter()
        .any(|ticket| ticket.ticket_id == ticket_id)
    {
        assert!(
            Instant::now() < deadline,
            "ticket {ticket_id} never reached the workflow\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + START_TIMEOUT;
    while delivered(
        &admin.client,
        proto::TICKET_EVENTS_STREAM,
        "intake-confirm-0",
    )
    .await
        == 0
        || delivered(&admin.client, proto::TICKET_EVENTS_STREAM, "notify").await == 0
    {
        assert!(
            Instant::now() < deadline,
            "intake's confirmation or notify's consumer got nothing\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tickets_before = listed(workflow_channel.clone()).await.len();
    let feedback_before = message_count(&admin.client, proto::FEEDBACK_STREAM).await;
    let events_before = message_count(&admin.client, proto::TICKET_EVENTS_STREAM).await;

    // (b) Without credentials, or without TLS, no client gets in.
    let anonymous = client(&nats, &pki, None, "anonymous").await;
    assert!(anonymous.is_err(), "a client without credentials connected");
    let wrong = client(&nats, &pki, Some(("notify", "not-the-password")), "notify").await;
    assert!(wrong.is_err(), "a wrong password was accepted");
    let plain = async_nats::ConnectOptions::new()
        .user_and_password("admin".into(), password(&passwords, "admin"))
        .connection_timeout(Duration::from_secs(5))
        .connect(nats.url())
        .await;
    assert!(plain.is_err(), "a client without TLS connected");

    // (c) notify's identity can publish neither a FeedbackReceived nor a ticket event, and
    // cannot read FEEDBACK.
    let notify = identity(&nats, &pki, &passwords, "notify")
        .await
        .expect("notify's identity connects");
    notify
        .assert_refused("feedback.received.web", forged_feedback().into())
        .await;
    let event = v1::LogEvent {
        event_type: "solution_proposed".into(),
        stream_id: ticket_id.clone(),
        payload: r#"{"message":"forged: your refund is ready, call +86 400 000 0000"}"#.into(),
        ..Default::default()
    };
    notify
        .assert_refused(
            "ticket.events.solution_proposed",
            event.encode_to_vec().into(),
        )
        .await;
    assert!(
        notify.js.get_stream(proto::FEEDBACK_STREAM).await.is_err(),
        "notify's identity read stream FEEDBACK"
    );
    assert!(
        refused(&notify.errors, "$JS.API.STREAM.INFO.FEEDBACK").await,
        "no permissions violation for notify on FEEDBACK's info"
    );

    // (d) An adapter submits on its own channel only, and cannot publish into FEEDBACK.
    let adapter = identity(&nats, &pki, &passwords, "adapter-app")
        .await
        .expect("the adapter's identity connects");
    let own = submit_over_nats(&adapter.client, "feedback.inbound.app", "nats-security-app").await;
    let app_ticket = own.unwrap_or_else(|error| {
        panic!("the adapter's own channel was refused: {error}\n{}", logs())
    });
    let other =
        submit_over_nats(&adapter.client, "feedback.inbound.web", "nats-security-web").await;
    assert!(
        other.is_err(),
        "the adapter submitted on another channel: {other:?}"
    );
    assert!(
        refused(&adapter.errors, "feedback.inbound.web").await,
        "no permissions violation for the adapter on feedback.inbound.web"
    );
    adapter
        .assert_refused("feedback.received.app", forged_feedback().into())
        .await;

    // Nothing forged arrived: FEEDBACK holds exactly the one submission of the adapter's own
    // channel more, and the workflow lists exactly that one ticket more.
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let tickets = listed(workflow_channel.clone()).await;
        if tickets.iter().any(|ticket| ticket.ticket_id == app_ticket) {
            assert_eq!(
                tickets.len(),
                tickets_before + 1,
                "a ticket other than the adapter's appeared"
            );
            assert!(!tickets
                .iter()
                .any(|ticket| ticket.ticket_id == "forged-ticket"));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the adapter's ticket {app_ticket} never reached the workflow\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        message_count(&admin.client, proto::FEEDBACK_STREAM).await,
        feedback_before + 1,
        "FEEDBACK holds a message that is not the adapter's submission"
    );
    // TICKET_EVENTS grew by the app ticket's own events only, each published by the workflow:
    // none is the forged `solution_proposed`.
    let context = async_nats::jetstream::new(admin.client.clone());
    let stream = context
        .get_stream(proto::TICKET_EVENTS_STREAM)
        .await
        .expect("TICKET_EVENTS");
    let events_after = message_count(&admin.client, proto::TICKET_EVENTS_STREAM).await;
    assert!(events_after > events_before, "the app ticket made no event");
    for sequence in events_before + 1..=events_after {
        let message = stream
            .get_raw_message(sequence)
            .await
            .expect("read an event");
        let event = v1::LogEvent::decode(message.payload.as_ref()).unwrap_or_default();
        assert_ne!(
            (event.stream_id.as_str(), message.subject.as_str()),
            (ticket_id.as_str(), "ticket.events.solution_proposed"),
            "the forged event is in TICKET_EVENTS"
        );
        assert!(!event.payload.contains("forged"), "a forged event arrived");
    }

    // The control: what notify was refused, the operator may do, so the refusals above are
    // the permissions and not a broken publish.
    async_nats::jetstream::new(admin.client.clone())
        .publish("feedback.received.web", forged_feedback().into())
        .await
        .expect("publish as the operator")
        .await
        .expect("JetStream acknowledges the operator's publish");
    assert_eq!(
        message_count(&admin.client, proto::FEEDBACK_STREAM).await,
        feedback_before + 2
    );
    // No secret is in any service's log.
    for (name, log) in [
        ("intake", cluster.get("intake").log()),
        ("workflow", cluster.get("workflow").log()),
        ("notify", cluster.get("notify").log()),
    ] {
        for (_, secret) in &passwords {
            assert!(
                !log.contains(secret.as_str()),
                "{name} logged a NATS password"
            );
        }
    }
}

/// Settings that cannot work stop a service at once, exit code 2, with one line naming the
/// flag (and the path of a file).
#[test]
fn nats_settings_that_cannot_work_stop_the_start_naming_the_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let written = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    };
    let seed = written(
        "workflow.nk",
        "SUAIO3FHUX5PNV2LQIIP7TZ3N4L7TX3W53MQGEIVYFIGA635OZCKEYHFLM\n",
    );
    let webhook_config = written(
        "webhook.toml",
        "[webhook.channels.web]\nsecret = \"a-test-secret-of-some-length\"\n",
    );
    let cases: [(&str, Vec<&str>, Vec<&str>); 4] = [
        (
            "cloop-intake",
            vec!["--nats-creds", "/nonexistent/intake.creds"],
            vec![
                "--nats-creds",
                "CLOOP_NATS_CREDS",
                "/nonexistent/intake.creds",
            ],
        ),
        (
            "cloop-workflow",
            vec!["--nats-nkey", &seed, "--nats-user", "workflow"],
            vec!["one NATS identity", "--nats-nkey", "--nats-user"],
        ),
        (
            "cloop-notify",
            vec!["--nats-ca", "/nonexistent/ca.pem"],
            vec!["--nats-ca", "/nonexistent/ca.pem"],
        ),
        (
            "cloop-webhook",
            vec!["--config", &webhook_config, "--nats-user", "webhook"],
            vec!["--nats-password", "--nats-password-file"],
        ),
    ];
    for (binary, args, wanted) in cases {
        let output = std::process::Command::new(e2e::bin_path(binary))
            .args(&args)
            .current_dir(dir.path())
            .env_remove("CLOOP_CONFIG")
            // notify checks its own settings first.
            .env("CLOOP_NOTIFY_TOKEN", "t-service")
            .output()
            .expect("run the binary");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{binary} {args:?}: {stderr}");
        for word in wanted {
            assert!(
                stderr.contains(word),
                "{binary} {args:?}: {word:?} not in {stderr}"
            );
        }
    }
}

/// A client logged in as one of the identities: its connection, JetStream context and the
/// server's errors on the connection.
struct Identity {
    name: String,
    client: async_nats::Client,
    js: async_nats::jetstream::Context,
    errors: Errors,
}

impl Identity {
    /// Asserts that a publish of `payload` on `subject` is neither stored by JetStream nor let
    /// through without a permissions violation.
    async fn assert_refused(&self, subject: &'static str, payload: bytes::Bytes) {
        let who = &self.name;
        assert!(
            !acknowledged(&self.js, subject, payload).await,
            "JetStream acknowledged {who}'s publish on {subject}"
        );
        assert!(
            refused(&self.errors, subject).await,
            "no permissions violation for {who} on {subject}: {:?}",
            self.errors.lock().expect("errors")
        );
    }
}

/// Whether JetStream acknowledged a publish of `payload` on `subject` (stored it in a stream).
async fn acknowledged(
    js: &async_nats::jetstream::Context,
    subject: &'static str,
    payload: bytes::Bytes,
) -> bool {
    match js.publish(subject, payload).await {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    }
}
