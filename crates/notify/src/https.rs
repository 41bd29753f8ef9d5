//! TLS of the webhooks (customer notices and staff alerts): an `https://` URL is reached over
//! rustls (ring provider), trusting the system's root certificates and, for a private CA, the
//! certificates of `[notify] ca_file`; the server name sent (SNI) and checked against the
//! certificate is the URL's host. A certificate that does not check is a failed attempt with
//! rustls's reason, retried like any other.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The client side of the webhooks' TLS, loaded once at start.
#[derive(Clone)]
pub struct WebhookTls {
    connector: TlsConnector,
}

impl std::fmt::Debug for WebhookTls {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WebhookTls(..)")
    }
}

impl WebhookTls {
    /// The system's roots and the certificates of `ca_file` (PEM); an error names the file,
    /// or says that there is no root to trust at all.
    pub fn load(ca_file: Option<&Path>) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        // A system without a certificate bundle (a slim container) has no roots: `ca_file`
        // must then name the CA.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = ca_file {
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|certificates| certificates.collect())
                .map_err(|error| format!("read {}: {error}", path.display()))?;
            if certificates.is_empty() {
                return Err(format!("{} holds no PEM certificate", path.display()));
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|error| format!("{}: {error}", path.display()))?;
            }
        }
        if roots.is_empty() {
            return Err(
                "no root certificate to trust: the system has none; name the CA in ca_file"
                    .to_owned(),
            );
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("TLS versions: {error}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// TLS over `stream` with `host` (a name or an IP address) as the server's name.
    pub(crate) async fn connect(
        &self,
        host: &str,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>, String> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| format!("{host:?} is not a server name"))?;
        self.connector
            .connect(name, stream)
            .await
            .map_err(|error| format!("TLS with {host}: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_ca_file_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing.pem");
        let error = WebhookTls::load(Some(&missing)).expect_err("missing");
        assert!(error.contains("missing.pem"), "{error}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let error = WebhookTls::load(Some(&empty)).expect_err("empty");
        assert!(error.contains("no PEM certificate"), "{error}");
    }
}
