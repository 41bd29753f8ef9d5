//! The `cloop-intake` binary: parses flags and configuration, then runs the intake service
//! until SIGTERM or SIGINT.

use clap::Parser;
use intake::{IntakeConfig, IntakeSettings};
use service::config::ConfigFile;
use service::CommonArgs;
use std::process::ExitCode;

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
    Ok(IntakeConfig {
        base: cli.common.base(&file, intake::settings::default_listen())?,
        settings,
    })
}

fn main() -> ExitCode {
    // With the `failpoints` feature (end-to-end fault tests only), `FAILPOINTS` configures the
    // crash points for the life of the process.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    service::binary::main("cloop-intake", || load(&cli), intake::run)
}
