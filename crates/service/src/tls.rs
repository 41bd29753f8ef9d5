//! TLS of the gRPC servers and clients (rustls with the ring provider, through tonic).
//!
//! Servers: [`TlsArgs`] (`--tls-cert`, `--tls-key`, `--tls-client-ca`, each also from its
//! environment variable and from the `[tls]` table of the configuration file, flags and
//! environment winning) is flattened into [`crate::CommonArgs`]; [`TlsArgs::server_tls`] reads
//! and checks the files once at start-up and gives a [`ServerTls`] that a service applies to
//! its `tonic::transport::Server` with [`ServerTls::apply`]. With `--tls-client-ca` every
//! client must show a certificate signed by that CA (mutual TLS).
//!
//! Clients: [`ClientTls::load`] reads a CA file to trust and, for mutual TLS, a client
//! certificate and key; [`endpoint`] makes a tonic `Endpoint` for an `http://` (plain) or
//! `https://` (TLS) address. An `https://` address without a CA file trusts the system's
//! root certificates.
//!
//! Every error names the flag (or configuration key) and the file.

use crate::config::ConfigFile;
use crate::error::ServiceError;
use clap::Args;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, ServerTlsConfig};

/// `--tls-cert`, `--tls-key`, `--tls-client-ca`: the TLS of a gRPC server. Flatten into a
/// service's parser (it is part of [`crate::CommonArgs`]).
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// The server's certificate chain (PEM); with --tls-key, gRPC is served over TLS.
    /// Overrides `[tls] cert`.
    #[arg(long, env = "CLOOP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1). Overrides `[tls] key`.
    #[arg(long, env = "CLOOP_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// A CA certificate file (PEM): clients must show a certificate it signed (mutual TLS).
    /// Overrides `[tls] client_ca`.
    #[arg(long, env = "CLOOP_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
}

/// The `[tls]` table of the configuration file (paths; the flags win key by key).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
}

/// A file to read and where its name came from (a flag or a configuration key), for errors.
#[derive(Debug, Clone)]
struct Named {
    name: String,
    path: PathBuf,
}

impl Named {
    fn pick(
        flag: &Option<PathBuf>,
        flag_name: &str,
        key: &Option<PathBuf>,
        key_name: &str,
    ) -> Option<Self> {
        match (flag, key) {
            (Some(path), _) => Some(Self {
                name: flag_name.to_owned(),
                path: path.clone(),
            }),
            (None, Some(path)) => Some(Self {
                name: key_name.to_owned(),
                path: path.clone(),
            }),
            (None, None) => None,
        }
    }

    fn error(&self, reason: impl Into<String>) -> ServiceError {
        tls_file_error(&self.name, &self.path, reason)
    }

    /// The file's bytes; a missing or unreadable file names the flag.
    fn read(&self) -> Result<Vec<u8>, ServiceError> {
        std::fs::read(&self.path).map_err(|error| self.error(format!("cannot read: {error}")))
    }

    /// Reads a PEM file of one or more certificates.
    fn certificates(&self) -> Result<Vec<u8>, ServiceError> {
        let pem = self.read()?;
        check_certificates(&pem).map_err(|reason| self.error(reason))?;
        Ok(pem)
    }

    /// Reads a PEM private key.
    fn private_key(&self) -> Result<Vec<u8>, ServiceError> {
        let pem = self.read()?;
        PrivateKeyDer::from_pem_slice(&pem)
            .map_err(|error| self.error(format!("not a PEM private key: {error}")))?;
        Ok(pem)
    }
}

fn tls_file_error(name: &str, path: &Path, reason: impl Into<String>) -> ServiceError {
    ServiceError::Tls {
        what: format!("{name} {}", path.display()),
        reason: reason.into(),
    }
}

/// Checks that `pem` holds at least one certificate and nothing unreadable.
fn check_certificates(pem: &[u8]) -> Result<(), String> {
    let mut count = 0;
    for certificate in CertificateDer::pem_slice_iter(pem) {
        certificate.map_err(|error| format!("not a PEM certificate file: {error}"))?;
        count += 1;
    }
    if count == 0 {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".to_owned());
    }
    Ok(())
}

impl TlsArgs {
    /// The server TLS that the flags and the `[tls]` table ask for, read and checked; `None`
    /// when neither names a certificate nor a key (gRPC in plain text).
    pub fn server_tls(&self, file: &ConfigFile) -> Result<Option<ServerTls>, ServiceError> {
        let table: TlsConfig = file.section("tls")?;
        let cert = Named::pick(&self.tls_cert, "--tls-cert", &table.cert, "[tls] cert");
        let key = Named::pick(&self.tls_key, "--tls-key", &table.key, "[tls] key");
        let client_ca = Named::pick(
            &self.tls_client_ca,
            "--tls-client-ca",
            &table.client_ca,
            "[tls] client_ca",
        );
        match (cert, key) {
            (None, None) => match client_ca {
                Some(client_ca) => Err(client_ca.error(
                    "mutual TLS needs a server certificate too: give --tls-cert and --tls-key",
                )),
                None => Ok(None),
            },
            (Some(cert), None) => Err(cert.error("a certificate needs its key: give --tls-key")),
            (None, Some(key)) => Err(key.error("a key needs its certificate: give --tls-cert")),
            (Some(cert), Some(key)) => ServerTls::load(cert, key, client_ca).map(Some),
        }
    }
}

/// A server's TLS set-up, checked at start-up.
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: ServerTlsConfig,
    mutual: bool,
    shown: String,
}

impl ServerTls {
    /// Reads the certificate chain, its key and, for mutual TLS, the CA of the clients.
    pub fn from_files(
        cert: &Path,
        key: &Path,
        client_ca: Option<&Path>,
    ) -> Result<Self, ServiceError> {
        let named = |name: &str, path: &Path| Named {
            name: name.to_owned(),
            path: path.to_path_buf(),
        };
        ServerTls::load(
            named("--tls-cert", cert),
            named("--tls-key", key),
            client_ca.map(|path| named("--tls-client-ca", path)),
        )
    }

    fn load(cert: Named, key: Named, client_ca: Option<Named>) -> Result<Self, ServiceError> {
        let cert_pem = cert.certificates()?;
        let key_pem = key.private_key()?;
        let mut config = ServerTlsConfig::new().identity(Identity::from_pem(cert_pem, key_pem));
        if let Some(client_ca) = &client_ca {
            config = config.client_ca_root(Certificate::from_pem(client_ca.certificates()?));
        }
        let shown = format!(
            "{} {}, {} {}",
            cert.name,
            cert.path.display(),
            key.name,
            key.path.display()
        );
        let tls = Self {
            config,
            mutual: client_ca.is_some(),
            shown,
        };
        // Builds rustls's configuration once now, so that a key that does not fit its
        // certificate stops the start instead of every handshake.
        tls.apply(tonic::transport::Server::builder())?;
        Ok(tls)
    }

    /// True when clients must show a certificate (`--tls-client-ca`).
    pub fn is_mutual(&self) -> bool {
        self.mutual
    }

    /// The tonic TLS configuration.
    pub fn config(&self) -> ServerTlsConfig {
        self.config.clone()
    }

    /// Turns TLS on in `server`.
    pub fn apply<L>(
        &self,
        server: tonic::transport::Server<L>,
    ) -> Result<tonic::transport::Server<L>, ServiceError> {
        server
            .tls_config(self.config.clone())
            .map_err(|error| ServiceError::Tls {
                what: self.shown.clone(),
                reason: error_chain(&error),
            })
    }
}

/// Turns TLS on in `server` when `tls` is set; the server as it was otherwise.
pub fn apply_server<L>(
    tls: Option<&ServerTls>,
    server: tonic::transport::Server<L>,
) -> Result<tonic::transport::Server<L>, ServiceError> {
    match tls {
        Some(tls) => tls.apply(server),
        None => Ok(server),
    }
}

/// The first line of an error and its causes, joined: rustls's reason and tonic's transport
/// errors ("Connection refused") are often only in the source chain.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// What a gRPC client trusts and, for mutual TLS, which certificate it shows.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    config: Option<ClientTlsConfig>,
    shows_certificate: bool,
}

/// A client TLS file and the flag (or key) that named it, e.g. `("--ca", path)`.
pub type NamedFile<'a> = (&'a str, &'a Path);

impl ClientTls {
    /// Reads the CA file to trust (`None`: the system's root certificates) and the client
    /// certificate and key (both or neither). `None` when no file is named at all.
    pub fn load(
        ca: Option<NamedFile<'_>>,
        cert: Option<NamedFile<'_>>,
        key: Option<NamedFile<'_>>,
    ) -> Result<Option<Self>, ServiceError> {
        let named = |(name, path): NamedFile<'_>| Named {
            name: name.to_owned(),
            path: path.to_path_buf(),
        };
        let (ca, cert, key) = (ca.map(named), cert.map(named), key.map(named));
        if ca.is_none() && cert.is_none() && key.is_none() {
            return Ok(None);
        }
        let mut config = ClientTlsConfig::new();
        match &ca {
            Some(ca) => config = config.ca_certificate(Certificate::from_pem(ca.certificates()?)),
            None => config = config.with_native_roots(),
        }
        let shows_certificate = match (cert, key) {
            (None, None) => false,
            (Some(cert), None) => {
                return Err(cert.error("a client certificate needs its key"));
            }
            (None, Some(key)) => {
                return Err(key.error("a client key needs its certificate"));
            }
            (Some(cert), Some(key)) => {
                config =
                    config.identity(Identity::from_pem(cert.certificates()?, key.private_key()?));
                true
            }
        };
        Ok(Some(Self {
            config: Some(config),
            shows_certificate,
        }))
    }

    /// True when a client certificate is configured.
    pub fn shows_certificate(&self) -> bool {
        self.shows_certificate
    }
}

/// An endpoint for `address`: `http://` is plain text (refused when `tls` names files, so a
/// CA is never silently unused), `https://` is TLS with `tls` (or the system's roots).
/// `name` is the flag or key of the address in errors (e.g. `--workflow`).
pub fn endpoint(
    name: &str,
    address: &str,
    tls: Option<&ClientTls>,
) -> Result<Endpoint, ServiceError> {
    let invalid = |reason: String| ServiceError::Tls {
        what: format!("{name} {address}"),
        reason,
    };
    let endpoint = Endpoint::from_shared(address.to_owned())
        .map_err(|error| invalid(format!("not a valid address: {error}")))?;
    let secure = address.starts_with("https://");
    match (secure, tls.and_then(|tls| tls.config.clone())) {
        (true, Some(config)) => endpoint
            .tls_config(config)
            .map_err(|error| invalid(error_chain(&error))),
        (true, None) => endpoint
            .tls_config(ClientTlsConfig::new().with_native_roots())
            .map_err(|error| invalid(error_chain(&error))),
        (false, Some(_)) => Err(invalid(
            "TLS files are given but the address is plain text: use https://".to_owned(),
        )),
        (false, None) => Ok(endpoint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOT_PEM: &str = "hello\n";

    fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// The error of `--tls-cert` and `--tls-key` as given.
    fn server_tls_error(tls_cert: Option<PathBuf>, tls_key: Option<PathBuf>) -> String {
        let args = TlsArgs {
            tls_cert,
            tls_key,
            tls_client_ca: None,
        };
        args.server_tls(&ConfigFile::defaults())
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn nothing_given_is_plain_text() {
        let file = ConfigFile::defaults();
        assert!(TlsArgs::default()
            .server_tls(&file)
            .expect("no tls")
            .is_none());
        assert!(ClientTls::load(None, None, None).expect("none").is_none());
    }

    #[test]
    fn a_certificate_without_its_key_is_refused_naming_the_flag() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = server_tls_error(Some(dir.path().join("server.pem")), None);
        assert!(error.contains("--tls-cert"), "{error}");
        assert!(error.contains("--tls-key"), "{error}");
    }

    #[test]
    fn missing_and_invalid_files_name_the_flag_and_the_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing.pem");
        let junk = file(dir.path(), "junk.pem", NOT_PEM);
        let error = server_tls_error(Some(missing.clone()), Some(junk.clone()));
        assert!(error.contains("--tls-cert"), "{error}");
        assert!(error.contains(&missing.display().to_string()), "{error}");
        assert!(error.contains("cannot read"), "{error}");

        let error = server_tls_error(Some(junk.clone()), Some(junk.clone()));
        assert!(error.contains("--tls-cert"), "{error}");
        assert!(error.contains("no PEM certificate"), "{error}");

        let error = ClientTls::load(Some(("--ca", &junk)), None, None)
            .expect_err("not a CA")
            .to_string();
        assert!(error.starts_with("TLS --ca "), "{error}");
    }

    #[test]
    fn the_config_table_is_read_and_flags_win() {
        let dir = tempfile::tempdir().expect("temp dir");
        let junk = file(dir.path(), "junk.pem", NOT_PEM);
        let text = format!(
            "[tls]\ncert = {:?}\nkey = {:?}\n",
            junk.display().to_string(),
            dir.path().join("key-from-file.pem").display().to_string()
        );
        let config = ConfigFile::from_toml_str(&text, None).expect("valid");
        // The key of the table is used when no flag names one: it is missing, and named so.
        let error = TlsArgs::default()
            .server_tls(&config)
            .expect_err("bad files")
            .to_string();
        assert!(error.contains("[tls] cert"), "{error}");
        let args = TlsArgs {
            tls_cert: Some(dir.path().join("from-flag.pem")),
            ..TlsArgs::default()
        };
        let error = args.server_tls(&config).expect_err("missing").to_string();
        assert!(error.contains("--tls-cert"), "{error}");
        assert!(error.contains("from-flag.pem"), "{error}");

        let unknown = ConfigFile::from_toml_str("[tls]\ncertificate = \"x\"\n", None)
            .expect("domain part is valid");
        let error = TlsArgs::default()
            .server_tls(&unknown)
            .expect_err("unknown key")
            .to_string();
        assert!(error.contains("[tls]"), "{error}");
    }

    #[test]
    fn a_plain_address_with_tls_files_is_refused() {
        let tls = ClientTls {
            config: Some(ClientTlsConfig::new()),
            shows_certificate: false,
        };
        let error = endpoint("--workflow", "http://127.0.0.1:1", Some(&tls))
            .expect_err("plain with a CA")
            .to_string();
        assert!(error.contains("--workflow"), "{error}");
        assert!(error.contains("https://"), "{error}");
        assert!(endpoint("--workflow", "http://127.0.0.1:1", None).is_ok());
        assert!(endpoint("--workflow", "https://127.0.0.1:1", Some(&tls)).is_ok());
    }

    #[test]
    fn a_real_pair_loads_and_a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = e2e::certs::TestPki::new(dir.path());
        let tls = ServerTls::from_files(&pki.server_cert, &pki.server_key, Some(&pki.ca_cert))
            .expect("a valid pair");
        assert!(tls.is_mutual());
        let error = ServerTls::from_files(&pki.server_cert, &pki.client_key, None)
            .expect_err("the client's key does not fit the server's certificate")
            .to_string();
        assert!(error.contains("--tls-cert"), "{error}");
        let client = ClientTls::load(
            Some(("--ca", &pki.ca_cert)),
            Some(("--cert", &pki.client_cert)),
            Some(("--key", &pki.client_key)),
        )
        .expect("valid client files")
        .expect("configured");
        assert!(client.shows_certificate());
        let error = ClientTls::load(None, Some(("--cert", &pki.client_cert)), None)
            .expect_err("no key")
            .to_string();
        assert!(error.contains("--cert"), "{error}");
    }
}
