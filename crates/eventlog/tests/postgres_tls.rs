//! The log on a PostgreSQL server that accepts TLS connections only (a server of the test's
//! own, `e2e::tls_postgres`): `sslmode=verify-full` with the CA that signed the server's
//! certificate appends and reads an event over an encrypted connection; a wrong CA, a host
//! name the certificate does not name, and no `sslmode` are refused with a clear error;
//! `sslmode=require` encrypts without a CA file.

use e2e::tls_postgres::TlsPostgres;
use eventlog::{EventLog, ExpectedVersion, LogOptions, NewEvent, StoreUrl};
use serde_json::json;

/// Opens the log at `url`, appends one event to a fresh stream and reads it back.
fn append_and_read(url: &str, stream: &str) -> Result<(), String> {
    let store = StoreUrl::parse(url).map_err(|error| error.to_string())?;
    let log = EventLog::open_store(
        &store,
        LogOptions::default(),
        None,
        std::path::Path::new(""),
    )
    .map_err(|error| error.to_string())?;
    log.append_blocking(
        stream,
        ExpectedVersion::NoStream,
        vec![NewEvent::new("thing.happened", json!({ "over": "tls" }))],
    )
    .map_err(|error| error.to_string())?;
    let events = log
        .read_stream_blocking(stream, 0)
        .map_err(|error| error.to_string())?;
    assert_eq!(events.len(), 1, "one event in {stream}");
    assert_eq!(events[0].payload_json, json!({ "over": "tls" }).to_string());
    Ok(())
}

/// True when this connection to `url` is encrypted, as the server sees it.
fn encrypted(url: &str) -> bool {
    let mut client = eventlog::pgtls::connect(url).expect("connect");
    client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .expect("pg_stat_ssl")
        .get::<_, bool>(0)
}

#[test]
fn the_log_works_over_tls_and_a_wrong_ca_or_name_is_refused() {
    let postgres = TlsPostgres::start();
    let ca = postgres.pki.ca_cert.display().to_string();

    // verify-full with the right CA, by name and by address (both are in the certificate).
    for host in ["localhost", "127.0.0.1"] {
        let url = postgres.url(host, &format!("sslmode=verify-full&sslrootcert={ca}"));
        append_and_read(&url, &format!("verify-full-{host}")).expect("verify-full works");
        assert!(encrypted(&url), "{url} is encrypted");
    }

    // A CA that did not sign the server's certificate.
    let other = e2e::certs::TestPki::new(&postgres.dir().join("other"));
    let url = postgres.url(
        "127.0.0.1",
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            other.ca_cert.display()
        ),
    );
    let error = append_and_read(&url, "wrong-ca").expect_err("a wrong CA is refused");
    // The other CA has the same name as the right one: rustls finds it and refuses its
    // signature (BadSignature; UnknownIssuer for a CA of another name).
    assert!(error.contains("invalid peer certificate"), "{error}");
    assert!(
        error.contains("sslrootcert is not the CA that signed the server's certificate"),
        "{error}"
    );

    // A host name the certificate does not name: verify-full refuses, verify-ca accepts.
    let pki_alias = "127.0.0.2";
    let wrong_name = postgres.url(
        pki_alias,
        &format!("sslmode=verify-full&sslrootcert={ca}&hostaddr=127.0.0.1"),
    );
    let error = append_and_read(&wrong_name, "wrong-name").expect_err("a wrong name");
    assert!(
        error.contains("certificate not valid for name \"127.0.0.2\""),
        "{error}"
    );
    let chain_only = postgres.url(
        pki_alias,
        &format!("sslmode=verify-ca&sslrootcert={ca}&hostaddr=127.0.0.1"),
    );
    append_and_read(&chain_only, "verify-ca").expect("verify-ca checks the chain only");

    // require: encrypted, nothing checked.
    let url = postgres.url("127.0.0.1", "sslmode=require");
    append_and_read(&url, "require").expect("require works without a CA");
    assert!(encrypted(&url), "require is encrypted");

    // No sslmode is plain text, which this server refuses (hostssl only).
    let error = append_and_read(&postgres.url("127.0.0.1", ""), "plain")
        .expect_err("plain text is refused");
    assert!(
        error.contains("pg_hba.conf") && error.contains("no encryption"),
        "{error}"
    );
}
