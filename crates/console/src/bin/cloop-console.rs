//! The `cloop-console` binary: parses flags and configuration, then serves the web console
//! until SIGTERM or SIGINT.

use clap::Parser;
use console::{ConsoleConfig, ConsoleSettings};
use service::config::ConfigFile;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// The web console of closedloop: the queue, the ticket page and the actions of each role,
/// reports for managers and checks for auditors, signed in with one's own token.
#[derive(Debug, Parser)]
#[command(name = "cloop-console", version)]
struct Cli {
    /// The HTTP address to listen on.
    #[arg(long, env = "CLOOP_CONSOLE_LISTEN", default_value_t = console::default_listen())]
    listen: SocketAddr,
    /// The address of cloop-workflow (`http://host:port` or `https://...`).
    #[arg(long, env = "CLOOP_WORKFLOW", default_value = "http://127.0.0.1:50052")]
    workflow: String,
    /// The address of cloop-intake.
    #[arg(long, env = "CLOOP_INTAKE", default_value = "http://127.0.0.1:50051")]
    intake: String,
    /// The configuration file: `[console]` (its tokens file, session length, cookies) and
    /// the business calendar whose offset times are shown in.
    #[arg(long, env = "CLOOP_CONFIG")]
    config: Option<PathBuf>,
}

fn load(cli: &Cli) -> Result<ConsoleConfig, String> {
    let (file, settings) = match cli.config.as_deref() {
        None => (ConfigFile::defaults(), ConsoleSettings::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("read {}: {error}", path.display()))?;
            let (rest, settings) = console::settings::split_console_section(&text)
                .map_err(|reason| format!("invalid configuration {}: {reason}", path.display()))?;
            let file =
                ConfigFile::from_toml_str(&rest, Some(path)).map_err(|error| error.to_string())?;
            (file, settings)
        }
    };
    settings.check()?;
    let tokens = settings
        .tokens
        .clone()
        .or_else(|| std::env::var_os("CLOOP_TOKENS").map(PathBuf::from))
        .ok_or("no tokens file: set [console] tokens in the configuration or CLOOP_TOKENS")?;
    let registry = service::TokenRegistry::load(&tokens).map_err(|error| error.to_string())?;
    let offset_text = &file.domain.calendar.utc_offset;
    let offset = domain::rules::calendar::parse_utc_offset(offset_text)
        .ok_or_else(|| format!("calendar.utc_offset {offset_text:?} is not an offset"))?;
    Ok(ConsoleConfig {
        listen: cli.listen,
        workflow: cli.workflow.clone(),
        intake: cli.intake.clone(),
        settings,
        registry,
        offset,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(error) = service::telemetry::init_logging() {
        eprintln!("cloop-console: {error}");
        return ExitCode::from(2);
    }
    let config = match load(&cli) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("cloop-console: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cloop-console: start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(console::run(config, service::shutdown::terminate_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cloop-console: {error}");
            ExitCode::FAILURE
        }
    }
}
