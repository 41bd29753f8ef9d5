//! The arguments of `cloop report ...`: the month, any period and each person's figures.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `cloop report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The monthly report (Reports.MonthlyReport), or computed offline from an event log.
    Monthly(MonthlyArgs),
    /// The report over a quarter (its months side by side, with their trend) or any range of
    /// days (Reports.Report).
    Period(PeriodArgs),
    /// Each person's figures over a month, a quarter or a range of days
    /// (Reports.PeopleReport): managers see everyone, a head their department, an agent
    /// themself.
    People(PeopleArgs),
    /// Adopted suggestions for public display (Reports.AdoptedSuggestions).
    Adopted {
        /// Adopted at or after (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Adopted before (RFC 3339 or YYYY-MM-DD).
        #[arg(long)]
        to: String,
        #[arg(long, default_value_t = 100)]
        page_size: u32,
    },
    /// The winners of a month's best-suggestion award, by rank
    /// (Reports.AdoptedSuggestions with award_month).
    Awards {
        /// The month the suggestions were adopted in, YYYY-MM.
        #[arg(long)]
        month: String,
    },
}

#[derive(Debug, Args)]
pub struct MonthlyArgs {
    /// The month, YYYY-MM.
    #[arg(long)]
    pub month: String,
    /// Only this department's tickets.
    #[arg(long)]
    pub department: Option<String>,
    /// Also write the report as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write the report as CSV.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Recompute the report at this log position (by the service, or offline with --db).
    #[arg(long)]
    pub at_position: Option<u64>,
    /// Compute offline from the workflow's event log file instead of asking the service.
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Compute offline from the log's store instead: sqlite:PATH or postgres://... (wins over
    /// --db; never printed with its password).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// With --db or --store: the key store (keys.db) that opens the customers' sealed text,
    /// so that the top terms count it as the service's report does; without it a known
    /// customer's terms read as none.
    #[arg(long, value_name = "FILE", conflicts_with = "keys_store")]
    pub keys: Option<PathBuf>,
    /// The key store as a URL instead of --keys: postgres://... or sqlite:PATH.
    #[arg(long, value_name = "URL")]
    pub keys_store: Option<String>,
    /// Domain configuration for an offline report (the services' --config); built-in
    /// defaults when left out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The period of `cloop report period|people`: one of --month, --quarter, or --from and --to.
#[derive(Debug, Args)]
pub struct PeriodChoice {
    /// A month, YYYY-MM.
    #[arg(long, conflicts_with_all = ["quarter", "from", "to"])]
    pub month: Option<String>,
    /// A quarter, YYYY-Qn (n from 1 to 4).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub quarter: Option<String>,
    /// The first day of a range, YYYY-MM-DD (with --to).
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    /// The last day of a range, YYYY-MM-DD, included (with --from).
    #[arg(long, requires = "from")]
    pub to: Option<String>,
}

/// How `cloop report period|people` prints the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Aligned tables in the terminal.
    Text,
    Json,
    Csv,
    /// One self-contained HTML page with charts.
    Html,
}

/// `cloop report period`.
#[derive(Debug, Args)]
pub struct PeriodArgs {
    #[command(flatten)]
    pub period: PeriodChoice,
    /// Only this department's tickets.
    #[arg(long)]
    pub department: Option<String>,
    /// Recompute the report at this log position.
    #[arg(long)]
    pub at_position: Option<u64>,
    /// text (default), json, csv or html, printed to standard output.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// `cloop report people`.
#[derive(Debug, Args)]
pub struct PeopleArgs {
    #[command(flatten)]
    pub period: PeriodChoice,
    /// Only this department's people.
    #[arg(long)]
    pub department: Option<String>,
    /// Only this person.
    #[arg(long)]
    pub person: Option<String>,
    /// Recompute the report at this log position.
    #[arg(long)]
    pub at_position: Option<u64>,
    /// text (default), json, csv or html, printed to standard output.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}
