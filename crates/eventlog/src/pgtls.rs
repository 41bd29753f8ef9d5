//! TLS of every PostgreSQL connection (the log, the key store, the shared ticket table, the
//! workflow's leader election and publisher): one place reads the connection string, takes
//! out the TLS parameters the `postgres` crate does not understand, and builds a rustls
//! connector (ring provider) for what `sslmode` asks, with libpq's meaning:
//!
//! | `sslmode` | encrypted | server certificate checked |
//! | --- | --- | --- |
//! | absent, `disable`, `allow` | no | - |
//! | `prefer` | when the server offers TLS, else plain | as `require` |
//! | `require` | yes (refused when the server has no TLS) | not at all; with `sslrootcert`, the chain (as `verify-ca`) |
//! | `verify-ca` | yes | chain to `sslrootcert` |
//! | `verify-full` | yes | chain to `sslrootcert` and the host name |
//!
//! Parameters: `sslrootcert=FILE` (PEM CA certificates; `verify-ca` and `verify-full` need
//! it), `sslcert=FILE` and `sslkey=FILE` (a client certificate, for servers that require
//! one). Both URL (`postgres://...?sslmode=verify-full&sslrootcert=/etc/ca.pem`) and
//! key=value (`host=db sslmode=require`) strings are read.
//!
//! `require` without a CA file encrypts against an eavesdropper but does not stop a machine in
//! the middle from posing as the server; use `verify-full` where that matters. Channel
//! binding (SCRAM-SHA-256-PLUS) is not offered; SCRAM-SHA-256 works as usual.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use postgres::config::SslMode;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::{pg, LogError};

/// The `sslmode` values, as libpq names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgSslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl PgSslMode {
    fn parse(text: &str) -> Result<Self, LogError> {
        Ok(match text {
            "disable" => PgSslMode::Disable,
            "allow" => PgSslMode::Allow,
            "prefer" => PgSslMode::Prefer,
            "require" => PgSslMode::Require,
            "verify-ca" => PgSslMode::VerifyCa,
            "verify-full" => PgSslMode::VerifyFull,
            other => {
                return Err(LogError::invalid(
                    "store",
                    format!(
                        "sslmode={other:?} is not one of disable, allow, prefer, require, \
                         verify-ca, verify-full"
                    ),
                ))
            }
        })
    }
}

/// The TLS parameters of a connection string, taken out of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsParams {
    pub sslmode: Option<PgSslMode>,
    pub sslrootcert: Option<PathBuf>,
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
}

/// Splits `url` into the connection string the `postgres` crate reads (without `sslmode`,
/// `sslrootcert`, `sslcert`, `sslkey`) and those parameters.
pub fn split_tls_params(url: &str) -> Result<(String, TlsParams), LogError> {
    let mut params = TlsParams::default();
    let mut take = |key: &str, value: String| -> Result<bool, LogError> {
        match key {
            "sslmode" => params.sslmode = Some(PgSslMode::parse(&value)?),
            "sslrootcert" => params.sslrootcert = Some(PathBuf::from(value)),
            "sslcert" => params.sslcert = Some(PathBuf::from(value)),
            "sslkey" => params.sslkey = Some(PathBuf::from(value)),
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        match url.split_once('?') {
            None => url.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|pair| !pair.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(key, percent_decode(value))? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for part in url.split_whitespace() {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            let value = value.trim_matches('\'').to_owned();
            if !take(key.trim(), value)? {
                kept.push(part);
            }
        }
        kept.join(" ")
    };
    Ok((rest, params))
}

/// Decodes `%XX` escapes (a path in a URL query may have them).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' && index + 2 < bytes.len() {
            let hex = |byte: u8| (byte as char).to_digit(16);
            if let (Some(high), Some(low)) = (hex(bytes[index + 1]), hex(bytes[index + 2])) {
                out.push((high * 16 + low) as u8);
                index += 3;
                continue;
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Adds `sslrootcert=ca` to `url` unless it names one already (`--store-ca`).
pub fn with_root_cert(url: &str, ca: &Path) -> Result<String, LogError> {
    let (_, params) = split_tls_params(url)?;
    if params.sslrootcert.is_some() {
        return Ok(url.to_owned());
    }
    let path = ca.to_str().ok_or_else(|| {
        LogError::invalid("store-ca", format!("{} is not valid UTF-8", ca.display()))
    })?;
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let encoded: String = path
            .chars()
            .map(|c| match c {
                '%' | '&' | '#' | '?' | '=' | '+' | ' ' => format!("%{:02X}", c as u32),
                c => c.to_string(),
            })
            .collect();
        let separator = if url.contains('?') { '&' } else { '?' };
        Ok(format!("{url}{separator}sslrootcert={encoded}"))
    } else {
        if path.chars().any(char::is_whitespace) {
            return Err(LogError::invalid(
                "store-ca",
                "a path with spaces cannot go into a key=value connection string: use a URL",
            ));
        }
        Ok(format!("{url} sslrootcert={path}"))
    }
}

/// A connection string read for connecting: the `postgres` configuration and its TLS.
pub fn config(url: &str) -> Result<(postgres::Config, PgTls), LogError> {
    let (rest, params) = split_tls_params(url)?;
    let mut config: postgres::Config = rest.parse().map_err(|error| {
        LogError::invalid(
            "store",
            format!("not a PostgreSQL connection string: {error}"),
        )
    })?;
    let mode = params.sslmode.unwrap_or(PgSslMode::Disable);
    config.ssl_mode(match mode {
        PgSslMode::Disable | PgSslMode::Allow => SslMode::Disable,
        PgSslMode::Prefer => SslMode::Prefer,
        PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull => SslMode::Require,
    });
    let tls = match mode {
        PgSslMode::Disable | PgSslMode::Allow => PgTls { config: None },
        _ => PgTls {
            config: Some(Arc::new(client_config(mode, &params)?)),
        },
    };
    Ok((config, tls))
}

/// Connects with the blocking client, TLS as `url` asks.
pub fn connect(url: &str) -> Result<postgres::Client, LogError> {
    let (config, tls) = config(url)?;
    config.connect(tls).map_err(|error| {
        // postgres::Error shows only its first line ("error performing TLS handshake"); the
        // reason (rustls's "invalid peer certificate: UnknownIssuer") is in its sources.
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        let mut detail = causes.join(": ");
        if detail.contains("UnknownIssuer") || detail.contains("BadSignature") {
            detail.push_str(" (sslrootcert is not the CA that signed the server's certificate)");
        }
        match pg("connect to PostgreSQL")(error) {
            LogError::Unavailable { reason } if !detail.is_empty() && !reason.contains(&detail) => {
                LogError::Unavailable {
                    reason: format!("{reason}: {detail}"),
                }
            }
            other => other,
        }
    })
}

fn invalid_file(key: &str, path: &Path, reason: impl std::fmt::Display) -> LogError {
    LogError::invalid("store", format!("{key}={}: {reason}", path.display()))
}

fn read_file(key: &str, path: &Path) -> Result<Vec<u8>, LogError> {
    std::fs::read(path).map_err(|error| invalid_file(key, path, format!("cannot read: {error}")))
}

fn certificates(key: &str, path: &Path) -> Result<Vec<CertificateDer<'static>>, LogError> {
    let pem = read_file(key, path)?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid_file(key, path, format!("not a PEM certificate file: {error}")))?;
    if certificates.is_empty() {
        return Err(invalid_file(key, path, "no PEM certificate in the file"));
    }
    Ok(certificates)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls configuration for `mode`.
fn client_config(mode: PgSslMode, params: &TlsParams) -> Result<ClientConfig, LogError> {
    let provider = provider();
    let roots = match &params.sslrootcert {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for certificate in certificates("sslrootcert", path)? {
                roots.add(certificate).map_err(|error| {
                    invalid_file(
                        "sslrootcert",
                        path,
                        format!("not a CA certificate: {error}"),
                    )
                })?;
            }
            Some(Arc::new(roots))
        }
        None if matches!(mode, PgSslMode::VerifyCa | PgSslMode::VerifyFull) => {
            return Err(LogError::invalid(
                "store",
                "sslmode=verify-ca and verify-full need the CA that signed the server's \
                 certificate: add sslrootcert=FILE (or --store-ca FILE)",
            ))
        }
        None => None,
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| LogError::invalid("store", format!("TLS set-up: {error}")))?;
    let chain = match roots {
        None => None,
        Some(roots) => Some(ChainCheck {
            webpki: rustls::client::WebPkiServerVerifier::builder_with_provider(
                roots,
                provider.clone(),
            )
            .build()
            .map_err(|error| LogError::invalid("store", format!("sslrootcert: {error}")))?,
            check_name: mode == PgSslMode::VerifyFull,
        }),
    };
    let verifier = Arc::new(CertificateCheck { provider, chain });
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match (&params.sslcert, &params.sslkey) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = certificates("sslcert", cert)?;
            let key_pem = read_file("sslkey", key)?;
            let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|error| {
                invalid_file("sslkey", key, format!("not a PEM private key: {error}"))
            })?;
            builder
                .with_client_auth_cert(chain, private_key)
                .map_err(|error| invalid_file("sslcert", cert, error))
        }
        (Some(cert), None) => Err(invalid_file("sslcert", cert, "needs sslkey=FILE too")),
        (None, Some(key)) => Err(invalid_file("sslkey", key, "needs sslcert=FILE too")),
    }
}

/// The server certificate check of `sslmode`: `require` without a CA file checks no
/// certificate (the connection is encrypted, the handshake's signatures still checked);
/// `verify-ca` checks the chain, `verify-full` the chain and the host name.
#[derive(Debug)]
struct CertificateCheck {
    provider: Arc<CryptoProvider>,
    /// `None`: no certificate check.
    chain: Option<ChainCheck>,
}

/// The chain check of `verify-ca` and `verify-full`.
#[derive(Debug)]
struct ChainCheck {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for CertificateCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !chain.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The TLS connector of [`config`]: rustls when the connection string asks for TLS; never
/// used (the mode is `disable`) otherwise.
#[derive(Clone)]
pub struct PgTls {
    config: Option<Arc<ClientConfig>>,
}

impl std::fmt::Debug for PgTls {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PgTls")
            .field("tls", &self.config.is_some())
            .finish()
    }
}

impl PgTls {
    /// True when the connection string asks for TLS.
    pub fn is_enabled(&self) -> bool {
        self.config.is_some()
    }
}

impl<S> MakeTlsConnect<S> for PgTls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type TlsConnect = PgTlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<PgTlsConnect, io::Error> {
        Ok(PgTlsConnect {
            config: self.config.clone(),
            domain: domain.to_owned(),
        })
    }
}

/// One connection's TLS handshake.
pub struct PgTlsConnect {
    config: Option<Arc<ClientConfig>>,
    domain: String,
}

impl<S> TlsConnect<S> for PgTlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<PgTlsStream<S>, io::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let config = self.config.ok_or_else(|| {
                io::Error::other("TLS was not asked for (sslmode) but the server wants it")
            })?;
            let name = ServerName::try_from(self.domain.clone()).map_err(|error| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("host {:?} cannot be checked by TLS: {error}", self.domain),
                )
            })?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await?;
            Ok(PgTlsStream(stream))
        })
    }
}

/// A TLS stream to PostgreSQL.
pub struct PgTlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(context, buffer)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(context, buffer)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(context)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for PgTlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_urls_and_key_value_strings() {
        let (rest, params) = split_tls_params(
            "postgres://cloop@db:5432/cloop?sslmode=verify-full&application_name=x&sslrootcert=/etc/a%20b.pem",
        )
        .expect("valid");
        assert_eq!(rest, "postgres://cloop@db:5432/cloop?application_name=x");
        assert_eq!(params.sslmode, Some(PgSslMode::VerifyFull));
        assert_eq!(params.sslrootcert, Some(PathBuf::from("/etc/a b.pem")));
        let (rest, params) =
            split_tls_params("host=db user=cloop sslmode=require sslcert=/c.pem sslkey=/k.pem")
                .expect("valid");
        assert_eq!(rest, "host=db user=cloop");
        assert_eq!(params.sslmode, Some(PgSslMode::Require));
        assert_eq!(params.sslkey, Some(PathBuf::from("/k.pem")));
        let error = split_tls_params("postgres://db/x?sslmode=sometimes")
            .expect_err("bad mode")
            .to_string();
        assert!(error.contains("sslmode"), "{error}");
    }

    #[test]
    fn no_sslmode_is_plain_text_and_verify_needs_a_ca() {
        let (_, tls) = config("postgres://cloop@127.0.0.1:5432/cloop").expect("plain");
        assert!(!tls.is_enabled());
        let (_, tls) = config("postgres://cloop@127.0.0.1:5432/cloop?sslmode=require")
            .expect("require without a CA");
        assert!(tls.is_enabled());
        let error = config("postgres://cloop@127.0.0.1/cloop?sslmode=verify-full")
            .expect_err("no CA")
            .to_string();
        assert!(error.contains("sslrootcert"), "{error}");
        let error =
            config("postgres://cloop@127.0.0.1/cloop?sslmode=verify-ca&sslrootcert=/none.pem")
                .expect_err("missing CA file")
                .to_string();
        assert!(error.contains("/none.pem"), "{error}");
    }

    #[test]
    fn the_store_ca_is_added_once() {
        let ca = Path::new("/etc/cloop/db ca.pem");
        assert_eq!(
            with_root_cert("postgres://db/x?sslmode=verify-full", ca).expect("added"),
            "postgres://db/x?sslmode=verify-full&sslrootcert=/etc/cloop/db%20ca.pem"
        );
        let (_, params) = split_tls_params(
            &with_root_cert("postgres://db/x", Path::new("/ca.pem")).expect("added"),
        )
        .expect("valid");
        assert_eq!(params.sslrootcert, Some(PathBuf::from("/ca.pem")));
        let given = "postgres://db/x?sslrootcert=/mine.pem";
        assert_eq!(with_root_cert(given, ca).expect("kept"), given);
    }
}
