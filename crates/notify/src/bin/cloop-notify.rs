//! The `cloop-notify` binary: parses flags and configuration, then delivers customer notices
//! and staff alerts until SIGTERM or SIGINT.

use clap::Parser;
use service::config::{ConfigFile, NatsConfig};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Delivers customer notices from TICKET_EVENTS by webhook, e-mail or a local file.
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
    /// The tokens file: the roles and departments of the people staff alerts go to (its
    /// token hashes are not used). Without it alerts reach only people named directly.
    #[arg(long, env = "CLOOP_TOKENS")]
    tokens: Option<PathBuf>,
    /// Where to serve Prometheus metrics (`/metrics`); none when absent.
    #[arg(long, env = "CLOOP_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    #[command(flatten)]
    nats_auth: service::nats_auth::NatsAuthArgs,
    /// The workflow to call (`http://` or `https://` URL); overrides `[notify] workflow_url`.
    #[arg(long, env = "CLOOP_WORKFLOW")]
    workflow: Option<String>,
    /// The CA file (PEM) to trust for an `https://` `[notify] workflow_url`; overrides
    /// `[notify] workflow_ca`. Without one the system's root certificates are trusted.
    #[arg(long, env = "CLOOP_WORKFLOW_CA")]
    workflow_ca: Option<PathBuf>,
    /// The client certificate (PEM) shown to a workflow that requires mutual TLS; overrides
    /// `[notify] workflow_cert`.
    #[arg(long, env = "CLOOP_WORKFLOW_CERT")]
    workflow_cert: Option<PathBuf>,
    /// The key of --workflow-cert (PEM); overrides `[notify] workflow_key`.
    #[arg(long, env = "CLOOP_WORKFLOW_KEY")]
    workflow_key: Option<PathBuf>,
}

fn load(cli: &Cli) -> anyhow::Result<notify::NotifyConfig> {
    let file = ConfigFile::load(cli.config.as_deref())?;
    let mut settings: notify::config::NotifySettings = file.section("notify")?;
    if let Some(url) = &cli.workflow {
        settings.workflow_url.clone_from(url);
    }
    let mut templates = settings.validate()?;
    settings.check_report_delivery(&file.domain.report_delivery)?;
    let selfservice: service::ratelink::SelfServiceSettings = file.section("selfservice")?;
    let rating_links = service::ratelink::RatingLinks::from_settings(
        &selfservice,
        file.path.as_deref().and_then(Path::parent),
    )?;
    if rating_links.is_some() {
        templates = notify::template::Templates::with_rating_links(&settings.templates)?;
    }
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
    let pick = |flag: &Option<PathBuf>,
                flag_name: &'static str,
                key: &Option<PathBuf>,
                key_name: &'static str| {
        match (flag, key) {
            (Some(path), _) => Some((flag_name, path.clone())),
            (None, Some(path)) => Some((key_name, path.clone())),
            (None, None) => None,
        }
    };
    let ca = pick(
        &cli.workflow_ca,
        "--workflow-ca",
        &settings.workflow_ca,
        "[notify] workflow_ca",
    );
    let cert = pick(
        &cli.workflow_cert,
        "--workflow-cert",
        &settings.workflow_cert,
        "[notify] workflow_cert",
    );
    let key = pick(
        &cli.workflow_key,
        "--workflow-key",
        &settings.workflow_key,
        "[notify] workflow_key",
    );
    fn named<'a>(file: &'a Option<(&'static str, PathBuf)>) -> Option<(&'static str, &'a Path)> {
        file.as_ref().map(|(name, path)| (*name, path.as_path()))
    }
    let workflow_tls = service::tls::ClientTls::load(named(&ca), named(&cert), named(&key))?;
    let people = match &cli.tokens {
        Some(path) => Some(
            service::tokens::TokenRegistry::load(path)?
                .principals()
                .map(|principal| notify::staff::routing::Person {
                    name: principal.name.clone(),
                    role: principal.role,
                    department: principal.department.clone(),
                })
                .collect(),
        ),
        None => None,
    };
    let alerts = notify::staff::AlertSetup::new(&settings, people, &file.domain)?;
    let webhook_tls = settings.webhook_tls()?;
    Ok(notify::NotifyConfig {
        alerts,
        workflow_tls,
        nats_url: cli.nats_url.clone(),
        data_dir: cli.data_dir.clone(),
        metrics_listen: cli.metrics_listen,
        nats,
        settings,
        templates,
        time_format: file.domain.notices.time_format.clone(),
        offset,
        rating_links,
        webhook_tls,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    service::binary::main("cloop-notify", || load(&cli), notify::run)
}
