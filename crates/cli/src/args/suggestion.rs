//! The arguments of the suggestion pipeline's commands: `cloop evaluate` and `cloop deliver`.

use super::CommandArgs;
use clap::Args;

/// `cloop evaluate ID`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    /// How feasible, 1 (hard) to 5 (easy).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=5))]
    pub feasibility: u32,
    /// What it costs, 1 (cheap) to 5 (expensive).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=5))]
    pub cost: u32,
    /// What it brings, 1 (little) to 5 (much).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=5))]
    pub benefit: u32,
    #[arg(long, default_value = "")]
    pub note: String,
}

/// `cloop deliver ID`.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    /// The day it was delivered, YYYY-MM-DD.
    #[arg(long)]
    pub on: String,
    #[arg(long, default_value = "")]
    pub note: String,
}
