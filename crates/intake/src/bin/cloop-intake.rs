//! The `cloop-intake` binary: parses flags and configuration, then runs the intake service
//! until SIGTERM or SIGINT.

use clap::Parser;
use intake::{IntakeConfig, IntakeSettings};
use service::config::{ConfigFile, NatsConfig};
use service::{CommonArgs, TokenRegistry};
use std::process::ExitCode;
use std::sync::Arc;

/// The intake service of closedloop: channel adapters submit feedback here.
#[derive(Debug, Parser)]
#[command(name = "cloop-intake", version = intake::failpoints::VERSION_TEXT)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// This replica's node id (0 to 1023), part of every ticket id; overrides
    /// `[intake_service] node_id`.
    #[arg(long, env = "CLOOP_NODE_ID")]
    node_id: Option<u16>,
}

fn load(cli: &Cli) -> anyhow::Result<IntakeConfig> {
    let file = ConfigFile::load(cli.common.config.as_deref())?;
    let mut settings: IntakeSettings = file.section("intake_service")?;
    if let Some(node_id) = cli.node_id {
        settings.node_id = node_id;
    }
    settings.validate().map_err(anyhow::Error::msg)?;
    let nats = file
        .section::<NatsConfig>("nats")
        .map(|nats| cli.common.nats_auth.apply(nats))?
        .with_stream_replicas(cli.common.stream_replicas)?;
    // Settings that do not fit, or files that cannot be read, stop the start here.
    nats.client_auth()?;
    let rules = domain::rules::Rules::new(file.domain.clone())
        .map_err(|error| anyhow::anyhow!("invalid configuration: {error}"))?;
    let tokens = match &cli.common.tokens {
        Some(path) => TokenRegistry::load(path)?,
        None => {
            tracing::warn!("no tokens file given: every gRPC call will be refused");
            TokenRegistry::empty()
        }
    };
    let tokens = tokens.with_rate_limits(service::RateLimitConfig::from_config(&file)?);
    let tls = cli.common.tls.server_tls(&file)?;
    Ok(IntakeConfig {
        listen: cli.common.listen_or(intake::settings::default_listen()),
        metrics_listen: cli.common.metrics_listen,
        nats_url: cli.common.nats_url.clone(),
        data_dir: cli.common.data_dir.clone(),
        tokens: Arc::new(tokens),
        rules: Arc::new(rules),
        nats,
        settings,
        tls,
    })
}

fn main() -> ExitCode {
    // With the `failpoints` feature (end-to-end fault tests only), `FAILPOINTS` configures the
    // crash points for the life of the process.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    if let Err(error) = service::telemetry::init_logging() {
        eprintln!("cloop-intake: {error}");
        return ExitCode::from(2);
    }
    let config = match load(&cli) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cloop-intake: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cloop-intake: start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(intake::run(config, service::shutdown::terminate_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cloop-intake: {error}");
            ExitCode::FAILURE
        }
    }
}
