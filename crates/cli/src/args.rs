//! The command line: global flags and one subcommand per RPC of `api.md`, plus the offline
//! `log` commands and `token new`. Parsed with clap; `docs/cli.md` documents every flag.

use clap::builder::{PossibleValue, PossibleValuesParser};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

mod report;
mod suggestion;
pub use report::*;
pub use suggestion::*;

/// cloop: the command line of closedloop.
#[derive(Debug, Parser)]
#[command(
    name = "cloop",
    version,
    next_help_heading = "Global options (all optional)",
    about = "Customer feedback, suggestions and complaints from the command line",
    after_help = "Exit codes: 0 ok, 1 error, 2 usage, 3 unauthenticated or permission denied, \
4 not found, 5 refused (invalid argument, wrong step, conflict), 6 unavailable or timed out, \
7 service failed, 8 log verification failed. See docs/cli.md."
)]
pub struct Cli {
    /// Address of cloop-intake (default http://127.0.0.1:50051, or the profile's `intake`).
    #[arg(
        long,
        global = true,
        env = "CLOOP_INTAKE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub intake: Option<String>,
    /// Address of cloop-workflow (default http://127.0.0.1:50052, or the profile's
    /// `workflow`).
    #[arg(
        long,
        global = true,
        env = "CLOOP_WORKFLOW",
        value_name = "URL",
        hide_env_values = true
    )]
    pub workflow: Option<String>,
    /// Bearer token sent with every call.
    #[arg(
        long,
        global = true,
        env = "CLOOP_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// CA certificate file (PEM) to trust for https:// addresses (default: the system's
    /// root certificates).
    #[arg(
        long,
        global = true,
        env = "CLOOP_CA",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for services that require mutual TLS (with --key).
    #[arg(
        long,
        global = true,
        env = "CLOOP_CERT",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of --cert.
    #[arg(
        long,
        global = true,
        env = "CLOOP_KEY",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub key: Option<PathBuf>,
    /// Profile file (TOML: intake, workflow, token, utc_offset, ca, cert, key).
    #[arg(
        long,
        global = true,
        env = "CLOOP_PROFILE",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub profile: Option<PathBuf>,
    /// UTC offset instants are shown in (default +08:00).
    #[arg(
        long,
        global = true,
        env = "CLOOP_UTC_OFFSET",
        hide_env_values = true,
        value_name = "OFFSET",
        allow_hyphen_values = true
    )]
    pub utc_offset: Option<String>,
    /// Language of the monthly report's labels: zh or en (default: the profile's `lang`,
    /// else LANG when it names a language, else zh).
    #[arg(long, global = true, env = "CLOOP_LANG", value_name = "zh|en")]
    pub lang: Option<String>,
    /// Seconds one call may take.
    #[arg(
        long,
        global = true,
        env = "CLOOP_TIMEOUT",
        hide_env_values = true,
        default_value_t = 30,
        value_name = "SECONDS"
    )]
    pub timeout: u64,
    /// Machine-readable JSON on standard output instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The names of the enums a flag takes, exactly as `api.md` and the JSON output spell them
/// (checked against the protobuf enums in the tests); `--help` lists them and a value outside
/// them is a usage error (exit 2). Case does not matter.
pub mod choices {
    pub const KINDS: &[&str] = &["suggestion", "complaint", "problem", "inquiry", "praise"];
    pub const CONTENT_TYPES: &[&str] = &["product", "service", "process", "experience"];
    pub const PRIORITIES: &[&str] = &["urgent", "high", "medium", "low"];
    pub const SCOPES: &[&str] = &["global", "local"];
    pub const OUTCOMES: &[&str] = &["adopted", "planned", "declined", "fixed", "explained"];
    pub const STEPS: &[&str] = &[
        "receive", "classify", "dispatch", "handle", "review", "archive",
    ];
    pub const SLA_STATES: &[&str] = &["on_time", "warning", "breached"];
    pub const LANGUAGES: &[&str] = &["zh", "en"];
}

/// A parser that takes one of `names` (any case; `on-time` for `on_time`).
fn one_of(names: &'static [&'static str]) -> PossibleValuesParser {
    PossibleValuesParser::new(names.iter().map(|name| match *name {
        "on_time" => PossibleValue::new(*name).alias("on-time"),
        _ => PossibleValue::new(*name),
    }))
}

/// The command as typed, without its arguments: `cloop review`, `cloop tickets show`.
pub fn typed_command(matches: &clap::ArgMatches) -> String {
    let mut typed = "cloop".to_owned();
    let mut current = matches;
    while let Some((name, next)) = current.subcommand() {
        typed.push(' ');
        typed.push_str(name);
        current = next;
    }
    typed
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit feedback (Intake.Submit), or many from a CSV file (Intake.SubmitStream).
    Submit(SubmitArgs),
    /// Read tickets: list, show, history, watch, sla.
    #[command(subcommand)]
    Tickets(TicketsCommand),
    /// Classify a ticket by hand (Tickets.Classify).
    ///
    /// Sets the ticket's kind, content type, priority and scope (and keywords): with the
    /// routing rules they decide the department, and kind and priority pick the SLA row.
    /// Needed when the rules left the ticket in step classify; also corrects a classification.
    /// `--accept` confirms the trained classifier's suggestion instead (`cloop tickets show`
    /// prints it): its kind, content type, priority and department, in one command.
    Classify(ClassifyArgs),
    /// Dispatch or transfer a ticket to a department (Tickets.Dispatch).
    Dispatch(DispatchArgs),
    /// The department's first response (Tickets.Acknowledge).
    Ack(AckArgs),
    /// Add a note, internal or to the customer (Tickets.AddNote).
    Note(NoteArgs),
    /// Evaluate a suggestion: feasibility, cost and benefit, each 1 to 5
    /// (Tickets.EvaluateSuggestion). Needed before a suggestion is adopted or planned.
    Evaluate(EvaluateArgs),
    /// Propose a solution (Tickets.ProposeSolution).
    Solve(SolveArgs),
    /// Mark a planned suggestion delivered (Tickets.MarkDelivered).
    Deliver(DeliverArgs),
    /// Approve or reject a proposed solution (Tickets.ApproveSolution).
    Approve(ApproveArgs),
    /// Record the customer's satisfaction, 1 to 5 (Tickets.RecordReview).
    Review(ReviewArgs),
    /// Archive a reviewed ticket (Tickets.Archive).
    Archive(CommandArgs),
    /// Escalate a ticket (Tickets.Escalate).
    Escalate(ReasonArgs),
    /// Stop the SLA clock while waiting for the customer (Tickets.PauseSla).
    Pause(ReasonArgs),
    /// Restart the SLA clock (Tickets.ResumeSla).
    Resume(OptionalReasonArgs),
    /// Managers' reports (Reports.*).
    #[command(subcommand)]
    Report(ReportCommand),
    /// The audit trail over gRPC (Audit.*).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Offline work on an event log file: verify, replay, export, verify-export.
    #[command(subcommand)]
    Log(LogCommand),
    /// The trained classifier, offline: retrain from the corpus and the people's
    /// corrections in the event log, or score a model on a labelled CSV file.
    #[command(subcommand)]
    Classifier(ClassifierCommand),
    /// A customer: their profile across tickets (Customers.GetCustomer), or erase their
    /// personal data (Audit.EraseCustomer, admin only).
    #[command(subcommand)]
    Customer(CustomerCommand),
    /// Tokens for the tokens file.
    #[command(subcommand)]
    Token(TokenCommand),
    /// People of the departments: away and back (Tickets.SetAway).
    #[command(subcommand)]
    People(PeopleCommand),
}

/// `cloop submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Bulk import: one submission per CSV row (see docs/cli.md for the columns).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["content", "channel"])]
    pub csv: Option<PathBuf>,
    /// Channel the feedback came through (web, app, wechat, hotline, ...).
    #[arg(long, required_unless_present = "csv")]
    pub channel: Option<String>,
    /// What happened, in the customer's words.
    #[arg(long, required_unless_present = "csv")]
    pub content: Option<String>,
    /// The adapter's own id; with the channel, the idempotency key.
    #[arg(long)]
    pub external_id: Option<String>,
    #[arg(long)]
    pub customer_id: Option<String>,
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long)]
    pub phone: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub wechat_openid: Option<String>,
    /// When it happened (RFC 3339); the time of receipt when left out.
    #[arg(long)]
    pub occurred_at: Option<String>,
    #[arg(long)]
    pub product: Option<String>,
    #[arg(long)]
    pub order_id: Option<String>,
    /// Language of customer notices.
    #[arg(long, ignore_case = true, value_parser = one_of(choices::LANGUAGES))]
    pub language: Option<String>,
    /// The ticket this message answers: recorded there as the customer's reply (the customer
    /// must be that ticket's own), never a new ticket.
    #[arg(long = "reply-to", value_name = "TICKET_ID")]
    pub reply_to: Option<String>,
    /// An extra attribute, KEY=VALUE; repeat for more.
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub attributes: Vec<String>,
}

/// The filters of `tickets list` and `tickets watch`.
#[derive(Debug, Args, Default, Clone)]
pub struct FilterArgs {
    /// Only tickets in this step.
    #[arg(long, ignore_case = true, value_parser = one_of(choices::STEPS))]
    pub step: Option<String>,
    /// Only this department's tickets (for an agent or head: its own queue, the tickets it
    /// leads and those it helps with).
    #[arg(long)]
    pub department: Option<String>,
    /// Only tickets of this priority.
    #[arg(long, ignore_case = true, value_parser = one_of(choices::PRIORITIES))]
    pub priority: Option<String>,
    /// Only tickets of this kind.
    #[arg(long, ignore_case = true, value_parser = one_of(choices::KINDS))]
    pub kind: Option<String>,
    /// Only tickets about this.
    #[arg(long, ignore_case = true, value_parser = one_of(choices::CONTENT_TYPES))]
    pub content_type: Option<String>,
    /// Only tickets that came through this channel (web, app, wechat, hotline, ...).
    #[arg(long)]
    pub channel: Option<String>,
    /// Only tickets in this SLA state.
    #[arg(long, ignore_case = true, value_parser = one_of(choices::SLA_STATES))]
    pub sla: Option<String>,
    /// Created at or after (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Created before (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub to: Option<String>,
    /// Words to search for in the content.
    #[arg(long)]
    pub text: Option<String>,
    #[arg(long)]
    pub customer_id: Option<String>,
    /// Only tickets assigned to this person (a principal name).
    #[arg(long, conflicts_with = "mine")]
    pub assignee: Option<String>,
    /// Only tickets assigned to the caller.
    #[arg(long)]
    pub mine: bool,
}

/// `cloop tickets ...`.
#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// List tickets matching filters (Tickets.ListTickets).
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// Tickets per page asked of the service.
        #[arg(long, default_value_t = 100)]
        page_size: u32,
        /// Stop after this many tickets.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Show one ticket (Tickets.GetTicket).
    Show { ticket_id: String },
    /// The ticket's timeline: every event with step, actor and time (Tickets.GetHistory).
    History { ticket_id: String },
    /// A live queue, overdue first (Tickets.WatchTickets).
    Watch {
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Why a ticket has its deadlines (Tickets.ExplainSla).
    Sla { ticket_id: String },
    /// Open tickets of the same product with overlapping keywords: candidate duplicates
    /// (Tickets.ListSimilar).
    Similar {
        ticket_id: String,
        /// At most this many tickets.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Link a ticket to a parent problem, or merge it into the parent as a duplicate
    /// (Tickets.LinkToProblem).
    Link {
        #[command(flatten)]
        common: CommandArgs,
        /// The parent problem's ticket id.
        #[arg(long)]
        to: String,
        /// Merge as a duplicate: its own handling stops and it follows the parent.
        #[arg(long)]
        merge: bool,
    },
    /// Take a ticket of your department (Tickets.Claim).
    Claim(CommandArgs),
    /// Give a ticket to a member of its department (Tickets.Assign, heads).
    Assign(AssignArgs),
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    /// The member to give the ticket to (a principal name).
    #[arg(long = "to")]
    pub assignee: String,
}

/// `cloop people ...`.
#[derive(Debug, Subcommand)]
pub enum PeopleCommand {
    /// Set a person away (their open tickets are handed back) or back (Tickets.SetAway).
    Away {
        /// The principal name; yourself when left out.
        person: Option<String>,
        /// Away from now on (the default).
        #[arg(long, conflicts_with = "off")]
        on: bool,
        /// Back at work: takes new tickets again.
        #[arg(long)]
        off: bool,
    },
}

/// What every ticket command takes.
#[derive(Debug, Args)]
pub struct CommandArgs {
    pub ticket_id: String,
    /// Idempotency key; a fresh one is generated when left out. Repeating a command with the
    /// same id returns the first result.
    #[arg(long)]
    pub command_id: Option<String>,
    /// Refuse (ABORTED) unless the ticket is at this version.
    #[arg(long)]
    pub expected_version: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    /// Confirm the trained classifier's suggestion: classify with its kind, content type and
    /// priority and dispatch to its department at once (the ticket must be unchanged since it
    /// was read, unless --expected-version says otherwise).
    #[arg(long, conflicts_with_all = ["kind", "content_type", "priority", "department"])]
    pub accept: bool,
    /// What the customer gave: a suggestion, a complaint, a problem report, an inquiry or
    /// praise.
    #[arg(long, ignore_case = true, value_parser = one_of(choices::KINDS), required_unless_present = "accept")]
    pub kind: Option<String>,
    /// What it is about.
    #[arg(long, ignore_case = true, value_parser = one_of(choices::CONTENT_TYPES), required_unless_present = "accept")]
    pub content_type: Option<String>,
    /// How soon it must be handled; with the kind it picks the SLA row (docs/workflow.md).
    #[arg(long, ignore_case = true, value_parser = one_of(choices::PRIORITIES), required_unless_present = "accept")]
    pub priority: Option<String>,
    /// Whether it concerns every customer (global) or this one (local); with --accept, the
    /// ticket's own scope when left out.
    #[arg(long, ignore_case = true, value_parser = one_of(choices::SCOPES))]
    pub scope: Option<String>,
    /// Dispatch the ticket to this department at once (only while it waits in classify),
    /// instead of by the routing rules.
    #[arg(long)]
    pub department: Option<String>,
    /// A keyword; repeat for more.
    #[arg(long = "keyword")]
    pub keywords: Vec<String>,
    /// A complex case (takes the complaint/complex SLA row).
    #[arg(long)]
    pub complex: bool,
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct DispatchArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    /// The accountable department.
    #[arg(long)]
    pub department: String,
    /// A helping department; repeat for more.
    #[arg(long = "helper")]
    pub helpers: Vec<String>,
    /// Why (required for a transfer).
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct AckArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    /// The first response to the customer.
    #[arg(long)]
    pub message: String,
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    #[arg(long)]
    pub text: String,
    /// Send the note to the customer (otherwise it is internal).
    #[arg(long)]
    pub to_customer: bool,
}

#[derive(Debug, Args)]
pub struct SolveArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    /// adopted, planned, declined (suggestions); fixed, explained (the rest).
    #[arg(long, ignore_case = true, value_parser = one_of(choices::OUTCOMES))]
    pub outcome: String,
    #[arg(long)]
    pub text: String,
    /// Required when declined.
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    /// Reject instead of approving (needs --comment).
    #[arg(long)]
    pub reject: bool,
    #[arg(long, default_value = "")]
    pub comment: String,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    /// The customer's score, 1 to 5.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=5))]
    pub satisfaction: u32,
    #[arg(long, default_value = "")]
    pub comment: String,
}

#[derive(Debug, Args)]
pub struct ReasonArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct OptionalReasonArgs {
    #[command(flatten)]
    pub common: CommandArgs,
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// `cloop audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Read log rows (Audit.ReadEvents).
    Events {
        #[arg(long, default_value_t = 1)]
        from_position: u64,
        /// Only this ticket's events.
        #[arg(long)]
        ticket: Option<String>,
        /// Only the events of this stream, e.g. `report-delivery-2026-02` (a scheduled
        /// report and its deliveries).
        #[arg(long, value_name = "STREAM_ID", conflicts_with = "ticket")]
        stream: Option<String>,
        /// Keep reading new rows as they are recorded.
        #[arg(long)]
        follow: bool,
        /// At most this many rows (0: no limit).
        #[arg(long, default_value_t = 0)]
        limit: u64,
    },
    /// Verify the hash chain in the service (Audit.VerifyLog).
    Verify,
    /// The ticket as it stood at an instant (Audit.GetTicketAt).
    TicketAt {
        ticket_id: String,
        /// RFC 3339 instant.
        #[arg(long)]
        at: String,
    },
    /// Which tickets received in a month broke the handling rules (offline, on the event
    /// log file).
    Rules(RulesArgs),
}

/// `cloop audit rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// The month, YYYY-MM (in the business calendar's offset).
    #[arg(long)]
    pub month: String,
    /// The workflow's event log file.
    #[arg(
        long,
        value_name = "FILE",
        env = "CLOOP_DB",
        required_unless_present = "store"
    )]
    pub db: Option<PathBuf>,
    /// The log's store instead of --db: sqlite:PATH or postgres://... (wins over --db and
    /// CLOOP_DB).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Domain configuration the approval rule is checked with (the services' --config);
    /// built-in defaults when left out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The audit instant (RFC 3339 or YYYY-MM-DD): deadlines passed by then with nothing
    /// done count as missed. Now when left out.
    #[arg(long)]
    pub as_of: Option<String>,
}

/// `cloop classifier ...` (offline, on files).
#[derive(Debug, Subcommand)]
pub enum ClassifierCommand {
    /// Train a model on the corpus plus the labels people gave tickets in the event log
    /// (a manual classification counts most, then a transfer, then automatic values left
    /// unchanged until the review); evaluate it beside the current model and write it only
    /// when it is better (or with --force).
    Train(ClassifierTrainArgs),
    /// Score a model on a labelled CSV file with the corpus's columns.
    Evaluate(ClassifierEvaluateArgs),
}

/// `cloop classifier train`.
#[derive(Debug, Args)]
pub struct ClassifierTrainArgs {
    /// The workflow's event log file to take the people's labels from; the corpus alone
    /// when neither this nor --store is given.
    #[arg(long, value_name = "FILE", conflicts_with = "store")]
    pub db: Option<PathBuf>,
    /// The log's store instead of --db: sqlite:PATH or postgres://...
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// The key store (keys.db) to open the customers' sealed text with; without it a known
    /// customer's ticket has no readable text and teaches nothing (anonymous tickets still do).
    #[arg(long, value_name = "FILE", conflicts_with = "keys_store")]
    pub keys: Option<PathBuf>,
    /// The key store as a URL instead of --keys: postgres://... or sqlite:PATH.
    #[arg(long, value_name = "URL")]
    pub keys_store: Option<String>,
    /// The model file: read as the current model when it exists, written when the new one
    /// is better.
    #[arg(long, value_name = "FILE", default_value = "classifier.bin")]
    pub out: PathBuf,
    /// Write the new model even when it is not better than the current one.
    #[arg(long)]
    pub force: bool,
    /// The labelled corpus (CSV, docs/classification.md); the built-in corpus when left out.
    #[arg(long, value_name = "FILE")]
    pub corpus: Option<PathBuf>,
    /// Domain configuration (the services' --config): its departments and keywords; the
    /// built-in defaults when left out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The seed of the training's shuffles (the same corpus, log and seed give the same
    /// model byte for byte); the shipped model's seed when left out.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// `cloop classifier evaluate`.
#[derive(Debug, Args)]
pub struct ClassifierEvaluateArgs {
    /// The labelled CSV file (id, split, language, text, kind, content_type, priority,
    /// department, product, channel); every row is scored, whatever its split.
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// The model file; the built-in model when left out.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Domain configuration (the services' --config); the built-in defaults when left out.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `cloop customer ...`.
#[derive(Debug, Subcommand)]
pub enum CustomerCommand {
    /// A customer's profile: every ticket of theirs you may see, across channels, their
    /// satisfaction and automatic tags (Customers.GetCustomer). Name exactly one contact.
    Show {
        #[command(flatten)]
        contact: ContactArgs,
    },
    /// Put a staff tag on a customer, or take it off with --remove; the tag "vip" marks a
    /// VIP (Customers.TagCustomer, service and admin). Name exactly one contact.
    Tag {
        /// The tag: lowercase letters, digits, '_' and '-', starting with a letter.
        tag: String,
        /// Take the tag off.
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        contact: ContactArgs,
        /// Idempotency key; a fresh one is generated when left out.
        #[arg(long)]
        command_id: Option<String>,
    },
    /// Erase a customer's personal data: their keys are destroyed and every ticket of
    /// theirs records `customer_erased` (Audit.EraseCustomer, admin only).
    Erase {
        /// The customer of this ticket (with every other ticket of theirs).
        #[arg(
            long,
            value_name = "ID",
            required_unless_present = "customer_id",
            conflicts_with = "customer_id"
        )]
        ticket: Option<String>,
        /// The customer with this customer id.
        #[arg(long, value_name = "ID")]
        customer_id: Option<String>,
        /// Why, e.g. the request's reference. Stored in the log in clear text: no personal
        /// data here.
        #[arg(long)]
        reason: String,
        /// Idempotency key; a fresh one is generated when left out.
        #[arg(long)]
        command_id: Option<String>,
    },
}

/// The one contact that names a customer in `customer show` and `customer tag`: exactly one
/// of these is required.
#[derive(Debug, Args)]
#[group(id = "contact", required = true, multiple = false)]
pub struct ContactArgs {
    /// Their phone number, in any form a submission takes.
    #[arg(long)]
    pub phone: Option<String>,
    /// Their e-mail address.
    #[arg(long)]
    pub email: Option<String>,
    /// Their WeChat openid.
    #[arg(long, value_name = "OPENID")]
    pub wechat_openid: Option<String>,
    /// The channel's customer id.
    #[arg(long, value_name = "ID")]
    pub customer_id: Option<String>,
    /// The customer of this ticket (found by every contact on it).
    #[arg(long, value_name = "ID")]
    pub ticket: Option<String>,
}

/// Where an offline log command reads the log: a SQLite file or any store.
#[derive(Debug, Args)]
pub struct LogSource {
    /// The event log file (SQLite).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "store",
        conflicts_with = "store"
    )]
    pub db: Option<PathBuf>,
    /// The log's store instead of --db: sqlite:PATH or postgres://... (never printed with its
    /// password).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
}

/// `cloop log ...` (offline, on a database file or a PostgreSQL store).
#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Recompute the hash chain of an event log file, and compare it with kept
    /// checkpoints.
    Verify {
        #[command(flatten)]
        source: LogSource,
        /// A kept checkpoint file (JSON Lines, docs/audit.md): every checkpoint must still
        /// match the log.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
    },
    /// Fold every ticket from the log and summarise (checks every event decodes).
    Replay {
        #[command(flatten)]
        source: LogSource,
        /// Stop at this position.
        #[arg(long)]
        to_position: Option<u64>,
        /// The key store (keys.db) to open sealed personal data with; without it customers
        /// stay sealed (and read as empty).
        #[arg(long, value_name = "FILE", conflicts_with = "keys_store")]
        keys: Option<PathBuf>,
        /// The key store as a URL instead of --keys: postgres://... (a key store in
        /// PostgreSQL, e.g. after `log migrate`) or sqlite:PATH (never printed with its
        /// password).
        #[arg(long, value_name = "URL")]
        keys_store: Option<String>,
        /// Also print this ticket as the replay folded it (JSON).
        #[arg(long, value_name = "ID")]
        ticket: Option<String>,
        /// Also rebuild every projection from the whole log into a fresh database
        /// DIR/workflow.db (the folder is created; the file must not exist yet) and print its
        /// digest: the same log gives the same digest, equal to the live projections'.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// The configuration file the workflow ran with (rules used by the rebuild); the
        /// built-in defaults when left out.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Export rows as JSON Lines (the audit format of docs/audit.md).
    Export {
        #[command(flatten)]
        source: LogSource,
        /// Write here instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(long, default_value_t = 1)]
        from_position: u64,
        /// The last position to export (the head when left out).
        #[arg(long)]
        to_position: Option<u64>,
    },
    /// Copy a SQLite log into PostgreSQL, verified at both ends; run again, it copies only
    /// what is new since the last run.
    Migrate {
        /// The source log: sqlite:PATH (or a bare path), read-only; may be a running
        /// service's file.
        #[arg(long, value_name = "URL")]
        from: String,
        /// The target: postgres://... (empty, or holding an earlier copy of the same log).
        #[arg(long, value_name = "URL")]
        to: String,
        /// Rows copied per transaction.
        #[arg(long, value_name = "N", default_value_t = 5_000)]
        batch: usize,
        /// The source key store (the service's keys.db), copied after the log; default:
        /// keys.db next to the --from file, when there is one.
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
        /// Where the key store goes: postgres://... (or sqlite:PATH); default: the --to
        /// database.
        #[arg(long, value_name = "URL")]
        keys_to: Option<String>,
    },
    /// Check an export (JSON Lines) with the hash recipe, and kept checkpoints inside it.
    VerifyExport {
        /// The export file.
        file: PathBuf,
        /// A kept checkpoint file: anchors the chain of a range export, and every checkpoint
        /// inside the export must match.
        #[arg(long, value_name = "FILE")]
        checkpoints: Option<PathBuf>,
    },
}

/// `cloop token ...`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a fresh random token and the tokens-file entry with its SHA-256.
    New {
        #[arg(long)]
        name: String,
        /// adapter, agent, head, service, manager, auditor or admin.
        #[arg(long)]
        role: String,
        /// Department of an agent or head.
        #[arg(long)]
        department: Option<String>,
        /// A channel an adapter may submit on (repeatable); without it, every channel.
        #[arg(long = "channel", value_name = "CHANNEL")]
        channels: Vec<String>,
    },
    /// First start: create the tokens file with a fresh admin token (and a token of role
    /// service for each --service), each token in a file of mode 0600 next to it. An
    /// existing tokens file is left alone.
    Init {
        /// The tokens file to create.
        #[arg(long, value_name = "FILE")]
        tokens: PathBuf,
        /// A principal of role service to create too (e.g. notify); its token goes to
        /// NAME.token next to the tokens file. Repeatable.
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_typed_command_is_the_path_of_subcommands() {
        let matches = Cli::command()
            .try_get_matches_from(["cloop", "--token", "t", "tickets", "show", "261123-X"])
            .expect("a valid command line");
        assert_eq!(typed_command(&matches), "cloop tickets show");
        let matches = Cli::command()
            .try_get_matches_from(["cloop", "review", "261123-X", "--satisfaction", "5"])
            .expect("a valid command line");
        assert_eq!(typed_command(&matches), "cloop review");
    }

    #[test]
    fn the_service_addresses_do_not_look_required() {
        let help = Cli::command()
            .try_get_matches_from(["cloop", "tickets", "list", "--help"])
            .expect_err("help is shown")
            .to_string();
        let usage = help
            .lines()
            .find(|line| line.starts_with("Usage:"))
            .expect("a usage line");
        assert!(
            !usage.contains("--intake") && !usage.contains("--workflow"),
            "{usage}"
        );
        let global = help
            .split("Global options (all optional):")
            .nth(1)
            .unwrap_or_else(|| panic!("a heading of their own:\n{help}"));
        assert!(
            global.contains("--intake <URL>") && global.contains("default http://127.0.0.1:50051")
        );
        assert!(global.contains("default http://127.0.0.1:50052"));
        assert!(!help.contains("CLOOP_INTAKE=]"), "{help}");
    }

    #[test]
    fn the_choices_are_the_protobuf_enums_names() {
        use crate::names;
        type Case = (&'static [&'static str], fn(&str) -> bool, usize);
        let cases: [Case; 8] = [
            (choices::KINDS, |n| names::parse_kind(n).is_ok(), 5),
            (
                choices::CONTENT_TYPES,
                |n| names::parse_content_type(n).is_ok(),
                4,
            ),
            (choices::PRIORITIES, |n| names::parse_priority(n).is_ok(), 4),
            (choices::SCOPES, |n| names::parse_scope(n).is_ok(), 2),
            (choices::OUTCOMES, |n| names::parse_outcome(n).is_ok(), 5),
            (choices::STEPS, |n| names::parse_step(n).is_ok(), 6),
            (
                choices::SLA_STATES,
                |n| names::parse_sla_state(n).is_ok(),
                3,
            ),
            (choices::LANGUAGES, |n| names::parse_language(n).is_ok(), 2),
        ];
        for (choices, parses, count) in cases {
            assert_eq!(choices.len(), count, "{choices:?}");
            assert!(choices.iter().all(|name| parses(name)), "{choices:?}");
        }
    }

    #[test]
    fn classify_help_describes_each_flag_and_lists_the_values() {
        let help = Cli::command()
            .try_get_matches_from(["cloop", "classify", "--help"])
            .expect_err("help is shown")
            .to_string();
        for expected in [
            "suggestion, complaint, problem, inquiry, praise",
            "product, service, process, experience",
            "urgent, high, medium, low",
            "global, local",
            "What the customer gave",
        ] {
            assert!(help.contains(expected), "{expected:?} missing in:\n{help}");
        }
        let refused = Cli::command().try_get_matches_from([
            "cloop",
            "classify",
            "X",
            "--kind",
            "rant",
            "--content-type",
            "product",
            "--priority",
            "high",
        ]);
        assert!(refused.is_err_and(|error| error.kind() == clap::error::ErrorKind::InvalidValue));
        let accepted = Cli::command().try_get_matches_from([
            "cloop",
            "classify",
            "X",
            "--kind",
            "COMPLAINT",
            "--content-type",
            "product",
            "--priority",
            "high",
        ]);
        assert!(accepted.is_ok());
    }
}
