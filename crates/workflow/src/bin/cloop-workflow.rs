//! The `cloop-workflow` binary: parses flags and configuration, then runs the workflow service
//! until SIGTERM or SIGINT. With `--check` it instead checks a stopped service's data folder:
//! verifies the log's hash chain, rebuilds the projections from the log in memory and compares
//! their digest with the stored ones, prints one JSON line and exits non-zero on a mismatch.

use clap::Parser;
use service::config::ConfigFile;
use service::CommonArgs;
use std::process::ExitCode;
use workflow::{WorkflowConfig, WorkflowSettings};

/// The workflow service of closedloop: tickets move through their six steps here.
#[derive(Debug, Parser)]
#[command(name = "cloop-workflow", version = workflow::failpoints::VERSION_TEXT)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
    /// Where the event log lives: `sqlite:PATH` or `postgres://user@host:port/db` (several
    /// replicas may share one PostgreSQL database). Default: workflow.db in the data folder.
    #[arg(long, env = "CLOOP_STORE")]
    store: Option<String>,
    /// Where the customer keys live: `sqlite:PATH` or `postgres://...`. Default: keys.db in
    /// the data folder next to a SQLite log, the log's database next to a PostgreSQL one.
    #[arg(long, env = "CLOOP_KEYS_STORE")]
    keys_store: Option<String>,
    /// The CA file (PEM) that signed the PostgreSQL server's certificate, for
    /// `sslmode=verify-full` (or `verify-ca`, `require`): added as `sslrootcert` to --store and
    /// --keys-store when they name none.
    #[arg(long, env = "CLOOP_STORE_CA")]
    store_ca: Option<std::path::PathBuf>,
    /// Check the data folder of a stopped service (log chain and projections) and exit.
    #[arg(long)]
    check: bool,
}

fn load(cli: &Cli) -> anyhow::Result<WorkflowConfig> {
    let file = ConfigFile::load(cli.common.config.as_deref())?;
    let settings: WorkflowSettings = file.section("workflow_service")?;
    settings.validate().map_err(anyhow::Error::msg)?;
    let base = cli.common.base(&file, workflow::config::default_listen())?;
    let retention: workflow::retention::RetentionSettings = file.section("retention")?;
    retention.validate().map_err(anyhow::Error::msg)?;
    // A store flag's URL, with `--store-ca` as its root certificate when it names none.
    let store_flag = |flag: &str, text: Option<&str>| {
        text.map(|text| {
            let store = eventlog::StoreUrl::parse(text)?;
            match &cli.store_ca {
                Some(ca) => store.with_root_cert(ca),
                None => Ok(store),
            }
        })
        .transpose()
        .map_err(|error| anyhow::anyhow!("{flag}: {error}"))
    };
    let store = store_flag("--store", cli.store.as_deref())?;
    let keys_store = store_flag("--keys-store", cli.keys_store.as_deref())?;
    // The TLS of a PostgreSQL store (sslmode, sslrootcert, sslcert, sslkey) is checked now, so
    // that a missing CA file stops the start with the flag's name.
    for (flag, store) in [("--store", &store), ("--keys-store", &keys_store)] {
        if let Some(eventlog::StoreUrl::Postgres(url)) = store {
            eventlog::pgtls::config(url).map_err(|error| anyhow::anyhow!("{flag}: {error}"))?;
        }
    }
    let classifier = workflow::classifier::load(
        file.section("classifier")?,
        &base.rules,
        file.path.as_deref().and_then(std::path::Path::parent),
    )?;
    let selfservice: service::ratelink::SelfServiceSettings = file.section("selfservice")?;
    let rating_links =
        selfservice.load_key(file.path.as_deref().and_then(std::path::Path::parent))?;
    Ok(WorkflowConfig {
        base,
        store,
        keys_store,
        settings,
        retention,
        clock: workflow::clock::from_env(),
        classifier,
        rating_links,
    })
}

/// Verifies the log and compares the stored projections (and, next to a PostgreSQL log, the
/// shared ticket table) with a rebuild from the log.
fn check(config: &WorkflowConfig) -> anyhow::Result<bool> {
    let store = config.store.clone().unwrap_or_else(|| {
        eventlog::StoreUrl::Sqlite(config.base.data_dir.join(workflow::DATABASE_FILE))
    });
    let projections = match &store {
        eventlog::StoreUrl::Sqlite(path) => path.clone(),
        eventlog::StoreUrl::Postgres(_) => config.base.data_dir.join(workflow::PROJECTIONS_FILE),
    };
    anyhow::ensure!(
        projections.exists(),
        "{} does not exist",
        projections.display()
    );
    let stored = {
        let connection = rusqlite::Connection::open(&projections)?;
        workflow::projections::digest(&connection)?
    };
    let log = eventlog::EventLog::open_store(
        &store,
        eventlog::LogOptions::default(),
        None,
        std::path::Path::new(""),
    )?;
    let report = log.verify(None, |_, _| {})?;
    let vault =
        workflow::open_store_vault(&store, config.keys_store.as_ref(), &config.base.data_dir)?;
    let mut memory = rusqlite::Connection::open_in_memory()?;
    let replayed =
        workflow::projections::rebuild(&mut memory, &log, config.base.rules.clone(), vault)
            .map_err(anyhow::Error::msg)?;
    let rebuilt = workflow::projections::digest(&memory)?;
    let tickets: i64 = memory.query_row("SELECT count(*) FROM tickets", [], |row| row.get(0))?;
    let equal = stored == rebuilt;
    let mut summary = serde_json::json!({
        "log_ok": report.ok,
        "events": report.checked,
        "head_position": report.head_position,
        "replayed": replayed,
        "tickets": tickets,
        "stored_digest": stored,
        "rebuilt_digest": rebuilt,
        "projections_equal": equal,
    });
    // Next to a PostgreSQL log, the shared ticket table must hold the rebuild's tickets too.
    let mut shared_equal = true;
    if let eventlog::StoreUrl::Postgres(url) = &store {
        let expected = workflow::projections::shared::digest_sqlite(&memory)?;
        summary["shared_rebuilt_digest"] = expected.clone().into();
        match workflow::projections::shared::digest_postgres(url)? {
            Some((shared, position)) => {
                shared_equal = shared == expected && position == report.head_position;
                summary["shared_digest"] = shared.into();
                summary["shared_position"] = position.into();
            }
            None => {
                shared_equal = false;
                summary["shared_missing"] =
                    "no shared ticket table: a workflow creates it at its first start".into();
            }
        }
        summary["shared_equal"] = shared_equal.into();
    }
    println!("{summary}");
    Ok(report.ok && equal && shared_equal)
}

fn main() -> ExitCode {
    // With the `failpoints` feature (end-to-end fault tests only), `FAILPOINTS` configures the
    // crash points for the life of the process.
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    let cli = Cli::parse();
    let config = match service::binary::load("cloop-workflow", || load(&cli)) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if cli.check {
        return match check(&config) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(error) => {
                eprintln!("cloop-workflow: check: {error}");
                ExitCode::from(2)
            }
        };
    }
    service::binary::serve("cloop-workflow", |signal| workflow::run(config, signal))
}
