//! The flags every service shares, each also read from its environment variable (`api.md`).

use crate::config::{ConfigFile, NatsConfig};
use crate::error::ServiceError;
use crate::ratelimit::RateLimitConfig;
use crate::tls::ServerTls;
use crate::tokens::TokenRegistry;
use clap::Args;
use domain::Rules;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// `--listen`, `--nats-url`, `--stream-replicas`, `--data-dir`, `--tokens`, `--config`,
/// `--metrics-listen`.
/// Flatten into a service's own clap parser with `#[command(flatten)]`.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// The gRPC address to listen on (each service has its own default).
    #[arg(long, env = "CLOOP_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// The NATS server to use, or several servers of one cluster separated by commas.
    #[arg(long, env = "CLOOP_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// The replica count of the JetStream streams (3 in a three-node cluster); overrides
    /// `[nats] stream_replicas` and each stream's `replicas`.
    #[arg(long, env = "CLOOP_STREAM_REPLICAS")]
    pub stream_replicas: Option<usize>,
    /// The folder for the service's SQLite files.
    #[arg(long, env = "CLOOP_DATA_DIR", default_value = ".data")]
    pub data_dir: PathBuf,
    /// The tokens file (TOML of principals with SHA-256 of their tokens). Without it every
    /// call is refused as UNAUTHENTICATED.
    #[arg(long, env = "CLOOP_TOKENS")]
    pub tokens: Option<PathBuf>,
    /// The configuration file; built-in defaults when absent.
    #[arg(long, env = "CLOOP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where to serve Prometheus metrics (`/metrics`); no metrics endpoint when absent.
    #[arg(long, env = "CLOOP_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// The NATS identity and TLS: `--nats-creds`, `--nats-nkey`, `--nats-user`, ...
    #[command(flatten)]
    pub nats_auth: crate::nats_auth::NatsAuthArgs,
    /// `--tls-cert`, `--tls-key`, `--tls-client-ca`: TLS of the gRPC server (`crate::tls`).
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
}

/// What every gRPC service starts with, read alike from the common flags and the
/// configuration file: its addresses and data folder, the principals allowed to call, the
/// domain's rules, NATS and TLS.
#[derive(Debug, Clone)]
pub struct ServiceBase {
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub nats_url: String,
    pub data_dir: PathBuf,
    /// The principals allowed to call; empty lets nobody in.
    pub tokens: Arc<TokenRegistry>,
    pub rules: Arc<Rules>,
    pub nats: NatsConfig,
    /// TLS of the gRPC server (`--tls-cert`, `--tls-key`, `--tls-client-ca`); plain text
    /// when `None`.
    pub tls: Option<ServerTls>,
}

impl CommonArgs {
    /// The base of a service with these flags and `file`, listening on `default_listen`
    /// without `--listen`: the NATS settings, then the tokens, then TLS are checked, and the
    /// first that does not hold stops the start.
    pub fn base(
        &self,
        file: &ConfigFile,
        default_listen: SocketAddr,
    ) -> Result<ServiceBase, ServiceError> {
        let nats = self.nats(file)?;
        let tokens = self.tokens(file)?;
        let tls = self.tls.server_tls(file)?;
        Ok(ServiceBase {
            listen: self.listen_or(default_listen),
            metrics_listen: self.metrics_listen,
            nats_url: self.nats_url.clone(),
            data_dir: self.data_dir.clone(),
            tokens: Arc::new(tokens),
            rules: file.rules(),
            nats,
            tls,
        })
    }

    /// The listen address, or the service's default.
    pub fn listen_or(&self, default: SocketAddr) -> SocketAddr {
        self.listen.unwrap_or(default)
    }

    /// The `[nats]` table of `file` with the `--nats-*` flags and `--stream-replicas` applied;
    /// settings that do not fit, or files that cannot be read, stop the start here.
    pub fn nats(&self, file: &ConfigFile) -> Result<NatsConfig, ServiceError> {
        let nats = self
            .nats_auth
            .apply(file.section::<NatsConfig>("nats")?)
            .with_stream_replicas(self.stream_replicas)?;
        nats.client_auth()?;
        Ok(nats)
    }

    /// The tokens of `--tokens` (none, with a warning, without it) with the rate limits of
    /// `file`.
    pub fn tokens(&self, file: &ConfigFile) -> Result<TokenRegistry, ServiceError> {
        let tokens = match &self.tokens {
            Some(path) => TokenRegistry::load(path)?,
            None => {
                tracing::warn!("no tokens file given: every gRPC call will be refused");
                TokenRegistry::empty()
            }
        };
        Ok(tokens.with_rate_limits(RateLimitConfig::from_config(file)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        common: CommonArgs,
    }

    #[test]
    fn flags_parse_and_defaults_apply() {
        let cli = Cli::try_parse_from([
            "cloop-test",
            "--listen",
            "127.0.0.1:7000",
            "--metrics-listen",
            "127.0.0.1:7001",
        ])
        .expect("valid flags");
        assert_eq!(
            cli.common.listen,
            Some("127.0.0.1:7000".parse().expect("address"))
        );
        assert_eq!(
            cli.common.metrics_listen,
            Some("127.0.0.1:7001".parse().expect("address"))
        );
        let default: SocketAddr = "127.0.0.1:50051".parse().expect("address");
        assert_eq!(cli.common.listen_or(default).port(), 7000);
    }

    #[test]
    fn a_bad_address_is_refused() {
        assert!(Cli::try_parse_from(["cloop-test", "--listen", "nowhere"]).is_err());
    }
}
