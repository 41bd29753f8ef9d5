//! The `cloop-webhook` binary: parses flags and configuration, then serves signed JSON
//! submissions over HTTP until SIGTERM or SIGINT.

use clap::Parser;
use service::config::ConfigFile;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use webhook::{WebhookConfig, WebhookSettings};

/// The HTTP/JSON channel adapter of closedloop: web forms and platform callbacks submit
/// feedback here, and it hands them to cloop-intake over NATS.
#[derive(Debug, Parser)]
#[command(name = "cloop-webhook", version)]
struct Cli {
    /// The HTTP address to listen on.
    #[arg(long, env = "CLOOP_LISTEN", default_value_t = webhook::settings::default_listen())]
    listen: SocketAddr,
    /// The NATS server intake listens on.
    #[arg(long, env = "CLOOP_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// The configuration file: `[webhook]` with a table per channel and its shared secret,
    /// and the domain's channels and limits (the same file intake reads).
    #[arg(long, env = "CLOOP_CONFIG")]
    config: Option<PathBuf>,
    /// Where to serve Prometheus metrics (`/metrics`); no metrics endpoint when absent.
    #[arg(long, env = "CLOOP_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    nats_auth: service::nats_auth::NatsAuthArgs,
}

fn load(cli: &Cli) -> anyhow::Result<WebhookConfig> {
    let file = ConfigFile::load(cli.config.as_deref())?;
    let rules = file.rules();
    let settings: WebhookSettings = file.section("webhook")?;
    let resolved = settings
        .resolve(&rules.config().channels, |name| std::env::var(name).ok())
        .map_err(webhook::WebhookError::Config)?;
    Ok(WebhookConfig {
        listen: cli.listen,
        metrics_listen: cli.metrics_listen,
        nats_url: cli.nats_url.clone(),
        nats_auth: cli
            .nats_auth
            .apply(file.section::<service::config::NatsConfig>("nats")?)
            .client_auth()?,
        settings: resolved,
        rules,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    service::binary::main("cloop-webhook", || load(&cli), webhook::run)
}
