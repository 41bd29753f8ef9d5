//! The `cloop-notify` binary: parses flags and configuration, then delivers customer notices
//! until SIGTERM or SIGINT.

use clap::Parser;
use service::config::{ConfigFile, NatsConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Delivers customer notices from TICKET_EVENTS by webhook or e-mail.
#[derive(Debug, Parser)]
#[command(name = "cloop-notify", version)]
struct Cli {
    /// The NATS server to use.
    #[arg(long, env = "CLOOP_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// The folder for `notify.db`, the record of what was sent.
    #[arg(long, env = "CLOOP_DATA_DIR", default_value = ".data")]
    data_dir: PathBuf,
    /// The configuration file (section `[notify]`); built-in defaults when absent.
    #[arg(long, env = "CLOOP_CONFIG")]
    config: Option<PathBuf>,
    /// Where to serve Prometheus metrics (`/metrics`); none when absent.
    #[arg(long, env = "CLOOP_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    nats_auth: service::nats_auth::NatsAuthArgs,
}

fn load(cli: &Cli) -> anyhow::Result<notify::NotifyConfig> {
    let file = ConfigFile::load(cli.config.as_deref())?;
    let settings: notify::config::NotifySettings = file.section("notify")?;
    let templates = settings.validate()?;
    let nats = cli.nats_auth.apply(file.section::<NatsConfig>("nats")?);
    // Settings that do not fit, or files that cannot be read, stop the start here.
    nats.client_auth()?;
    let offset = domain::rules::calendar::parse_utc_offset(&file.domain.calendar.utc_offset)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "invalid configuration calendar.utc_offset: {:?} is not a UTC offset",
                file.domain.calendar.utc_offset
            )
        })?;
    Ok(notify::NotifyConfig {
        nats_url: cli.nats_url.clone(),
        data_dir: cli.data_dir.clone(),
        metrics_listen: cli.metrics_listen,
        nats,
        settings,
        templates,
        time_format: file.domain.notices.time_format.clone(),
        offset,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = service::telemetry::init_logging() {
        eprintln!("cloop-notify: {error}");
        return ExitCode::from(2);
    }
    let config = match load(&cli) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cloop-notify: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cloop-notify: start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(notify::run(config, service::shutdown::terminate_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cloop-notify: {error}");
            ExitCode::FAILURE
        }
    }
}
