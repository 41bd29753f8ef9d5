//! [`TestCluster`]: the one way a scenario starts closedloop. A nats-server (one, a
//! three-node cluster, or one the scenario started itself), a temporary folder with the
//! tokens file and the configuration, and the services the scenario asks for, each a real
//! process that it may kill, pause and start again.
//!
//! ```ignore
//! let mut cluster = TestCluster::builder()
//!     .config("[workflow_service]\ntimer_tick_ms = 100\n")
//!     .env("CLOOP_LOG", "info")
//!     .intake(ServiceSpec::new())
//!     .workflow(ServiceSpec::new().metrics())
//!     .start();
//! let mut tickets = cluster.tickets_client();
//! ```

use crate::grpc::{authorized, connect, lazy_channel, tokens_file, START_TIMEOUT};
use crate::staff::{history, wait_for_ticket, Staff};
use crate::{bin_path, free_port, ports, NatsCluster, NatsServer, ServiceProcess};
use proto::v1;
use proto::v1::audit_client::AuditClient;
use proto::v1::intake_client::IntakeClient;
use proto::v1::reports_client::ReportsClient;
use proto::v1::tickets_client::TicketsClient;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tonic::transport::Channel;

/// The services a cluster runs. A new service is one more variant here, with its binary in
/// [`Service::binary`] and its flags in [`TestCluster::base_args`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Intake,
    Workflow,
    Webhook,
    Notify,
    /// `cloop-console`, pointed at the cluster's workflow and intake (start them first), with
    /// the cluster's tokens file as its identity source.
    Console,
}

impl Service {
    /// The binary of the service.
    pub fn binary(self) -> &'static str {
        match self {
            Service::Intake => "cloop-intake",
            Service::Workflow => "cloop-workflow",
            Service::Webhook => "cloop-webhook",
            Service::Notify => "cloop-notify",
            Service::Console => "cloop-console",
        }
    }

    /// The default name of an instance: its data folder, its log (`<name>.log`) and how
    /// [`TestCluster::get`] finds it.
    pub fn name(self) -> &'static str {
        match self {
            Service::Intake => "intake",
            Service::Workflow => "workflow",
            Service::Webhook => "webhook",
            Service::Notify => "notify",
            Service::Console => "console",
        }
    }
}

/// How one service instance is started: everything is optional.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    name: Option<String>,
    listen: Option<String>,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    data_dir: Option<PathBuf>,
    config: Option<String>,
    metrics: bool,
    wait: bool,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self::new()
    }
}

impl ServiceSpec {
    pub fn new() -> Self {
        Self {
            name: None,
            listen: None,
            args: Vec::new(),
            envs: Vec::new(),
            data_dir: None,
            config: None,
            metrics: false,
            wait: true,
        }
    }

    /// The instance's name, when there are several of a service (e.g. `workflow-1`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The `--listen` address (default `127.0.0.1:<a free port>`), for a configuration that
    /// must name it before the service starts.
    pub fn listen(mut self, address: impl Into<String>) -> Self {
        self.listen = Some(address.into());
        self
    }

    /// More command-line flags.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// One more environment variable of this instance.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// More environment variables of this instance.
    pub fn envs(mut self, envs: impl IntoIterator<Item = (String, String)>) -> Self {
        self.envs.extend(envs);
        self
    }

    /// `FAILPOINTS` of the first start (when `Some`).
    pub fn failpoints(self, failpoints: Option<&str>) -> Self {
        match failpoints {
            Some(failpoints) => self.env("FAILPOINTS", failpoints),
            None => self,
        }
    }

    /// The data folder (default `<cluster folder>/<name>`), e.g. on a small disk.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// A configuration file of this instance's own (`<cluster folder>/<name>.toml`) instead
    /// of the cluster's.
    pub fn config(mut self, text: impl Into<String>) -> Self {
        self.config = Some(text.into());
        self
    }

    /// A metrics listener on a free port (`--metrics-listen`; the webhook's
    /// `CLOOP_METRICS_LISTEN`).
    pub fn metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    /// Do not wait until the instance listens (a start that is meant to fail).
    pub fn no_wait(mut self) -> Self {
        self.wait = false;
        self
    }
}

/// One running service instance; it derefs to its [`ServiceProcess`] (`kill`, `log`, ...).
pub struct RunningService {
    pub kind: Service,
    pub name: String,
    pub process: ServiceProcess,
    /// `--listen` (none for notify).
    pub address: Option<String>,
    pub metrics: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// Whether the first start is still to be waited for (never, for a start meant to fail).
    wait: bool,
    /// Whether the scenario fixed `--listen` itself ([`ServiceSpec::listen`]): a first start
    /// that collides takes a fresh port for it only when not.
    fixed_listen: bool,
}

impl std::ops::Deref for RunningService {
    type Target = ServiceProcess;
    fn deref(&self) -> &ServiceProcess {
        &self.process
    }
}

impl std::ops::DerefMut for RunningService {
    fn deref_mut(&mut self) -> &mut ServiceProcess {
        &mut self.process
    }
}

impl RunningService {
    /// `127.0.0.1:<port>` of `--listen`.
    pub fn address(&self) -> &str {
        self.address
            .as_deref()
            .unwrap_or_else(|| panic!("{} listens on no address", self.name))
    }

    /// `127.0.0.1:<port>` of the metrics listener.
    pub fn metrics_address(&self) -> &str {
        self.metrics
            .as_deref()
            .unwrap_or_else(|| panic!("{} was started without metrics", self.name))
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no data folder", self.name))
    }

    /// Waits until it listens on its metrics address and its address; panics with its log if
    /// not. A collision on an address starts it again on the same addresses (see
    /// [`ServiceProcess::wait_listening`]).
    pub fn wait_ready(&mut self) {
        for address in self.ready_addresses() {
            self.process.wait_listening(&address, START_TIMEOUT);
        }
    }

    /// What [`RunningService::wait_ready`] waits for: the metrics address first (every
    /// service binds it after its address, so the address listening alone does not show
    /// that the metrics listener could bind), then the address.
    fn ready_addresses(&self) -> Vec<String> {
        self.metrics.iter().chain(&self.address).cloned().collect()
    }

    /// Waits until the first start listens; when an address was in use, starts it again on
    /// fresh ports (those the scenario did not fix), up to [`ports::START_ATTEMPTS`] times.
    fn wait_first_start(&mut self) {
        let name = self.name.clone();
        ports::start_retrying(&name, |attempt| {
            if attempt > 1 {
                self.take_fresh_ports();
                self.process.start_again();
            }
            self.ready_addresses()
                .iter()
                .try_for_each(|address| self.process.try_listening(address, START_TIMEOUT))
        });
    }

    /// New free ports for the addresses the harness chose (`--listen` unless fixed, and the
    /// metrics listener), in the arguments and environment of the next start.
    fn take_fresh_ports(&mut self) {
        let fixed = self.fixed_listen;
        for (address, harness_chose) in [(&mut self.address, !fixed), (&mut self.metrics, true)] {
            if let (Some(old), true) = (address.as_mut(), harness_chose) {
                let new = format!("127.0.0.1:{}", free_port());
                self.process.move_address(old, &new);
                *old = new;
            }
        }
    }

    /// Starts it again (after a kill or stop) and waits until it listens.
    pub fn restart(&mut self) {
        self.process.start_again();
        self.wait_ready();
    }

    /// A lazily connecting channel to `--listen` (see [`lazy_channel`]).
    pub fn channel(&self) -> Channel {
        lazy_channel(self.address())
    }
}

/// A `cloop` command with a clean environment: no token, address, profile or database from
/// the caller's, `home` as its home, no colour.
pub fn cloop_command(home: &Path) -> Command {
    let mut command = Command::new(bin_path("cloop"));
    for variable in [
        "CLOOP_TOKEN",
        "CLOOP_INTAKE",
        "CLOOP_WORKFLOW",
        "CLOOP_PROFILE",
        "CLOOP_DB",
        "XDG_CONFIG_HOME",
    ] {
        command.env_remove(variable);
    }
    command.env("HOME", home).env("NO_COLOR", "1");
    command
}

/// The NATS of a cluster.
pub enum Nats {
    Server(NatsServer),
    Cluster(NatsCluster),
    /// A nats-server the scenario owns itself, at this URL.
    External(String),
}

/// The file of the test clock in the cluster's folder.
const CLOCK_FILE: &str = "now";

/// The builder of a [`TestCluster`]; see the module documentation.
pub struct TestClusterBuilder {
    prefix: String,
    nats: Option<Nats>,
    tokens: String,
    config: Option<String>,
    envs: Vec<(String, String)>,
    clock: Option<String>,
    services: Vec<(Service, ServiceSpec)>,
}

impl TestClusterBuilder {
    /// A test clock: the file [`TestCluster::clock_path`] starts with `now` (RFC 3339) and
    /// every service reads the time from it (`CLOOP_TEST_CLOCK`).
    pub fn test_clock(mut self, now: impl Into<String>) -> Self {
        self.clock = Some(now.into());
        self
    }

    /// The prefix of the temporary folder (default `cloop-e2e-`).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// Runs on a nats-server the scenario started itself (default: a new [`NatsServer`]).
    pub fn nats_server(mut self, server: NatsServer) -> Self {
        self.nats = Some(Nats::Server(server));
        self
    }

    /// Runs on a nats-server the scenario keeps itself (e.g. one with TLS and identities).
    pub fn external_nats(mut self, url: impl Into<String>) -> Self {
        self.nats = Some(Nats::External(url.into()));
        self
    }

    /// Runs on a three-node cluster; the services get every node's URL.
    pub fn nats_cluster(mut self, cluster: NatsCluster) -> Self {
        self.nats = Some(Nats::Cluster(cluster));
        self
    }

    /// The text of the tokens file (default [`tokens_file`]).
    pub fn tokens(mut self, text: impl Into<String>) -> Self {
        self.tokens = text.into();
        self
    }

    /// The configuration file (`--config`) of intake, workflow and notify; without it they
    /// run on their built-in defaults.
    pub fn config(mut self, text: impl Into<String>) -> Self {
        self.config = Some(text.into());
        self
    }

    /// An environment variable of every service.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    pub fn intake(self, spec: ServiceSpec) -> Self {
        self.service(Service::Intake, spec)
    }

    pub fn workflow(self, spec: ServiceSpec) -> Self {
        self.service(Service::Workflow, spec)
    }

    pub fn webhook(self, spec: ServiceSpec) -> Self {
        self.service(Service::Webhook, spec)
    }

    pub fn notify(self, spec: ServiceSpec) -> Self {
        self.service(Service::Notify, spec)
    }

    /// One more service instance, started with the others in this order.
    pub fn service(mut self, kind: Service, spec: ServiceSpec) -> Self {
        self.services.push((kind, spec));
        self
    }

    /// Starts NATS (when the scenario gave none), writes the files, starts every service and
    /// waits until each listens.
    pub fn start(self) -> TestCluster {
        let nats = self
            .nats
            .unwrap_or_else(|| Nats::Server(NatsServer::start()));
        let nats_url = match &nats {
            Nats::Server(server) => server.url(),
            Nats::Cluster(cluster) => cluster.urls(),
            Nats::External(url) => url.clone(),
        };
        let dir = tempfile::Builder::new()
            .prefix(&self.prefix)
            .tempdir()
            .expect("temp dir");
        let tokens = dir.path().join("tokens.toml");
        std::fs::write(&tokens, &self.tokens).expect("write tokens");
        let config = self.config.map(|text| {
            let path = dir.path().join("config.toml");
            std::fs::write(&path, text).expect("write config");
            path
        });
        let mut envs = self.envs;
        if let Some(now) = self.clock {
            let clock = dir.path().join(CLOCK_FILE);
            std::fs::write(&clock, now).expect("write the test clock");
            envs.push((
                "CLOOP_TEST_CLOCK".to_owned(),
                clock.to_string_lossy().into_owned(),
            ));
        }
        let mut cluster = TestCluster {
            nats,
            nats_url,
            dir,
            tokens,
            config,
            envs,
            services: Vec::new(),
        };
        for (kind, spec) in self.services {
            // The console is given the addresses of the others: they are final once they
            // listen (a collision moves a first start to fresh ports).
            if kind == Service::Console {
                cluster.wait_first_starts();
            }
            cluster.launch(kind, spec);
        }
        cluster.wait_first_starts();
        cluster
    }
}

/// NATS and the services of one scenario, all real processes, with their files in one
/// temporary folder (deleted with the cluster; every process is killed with it).
pub struct TestCluster {
    pub nats: Nats,
    /// What the services get as `--nats-url` (comma-separated on a NATS cluster).
    pub nats_url: String,
    pub dir: tempfile::TempDir,
    pub tokens: PathBuf,
    /// The shared `--config`, when the scenario gave one.
    pub config: Option<PathBuf>,
    envs: Vec<(String, String)>,
    services: Vec<RunningService>,
}

impl TestCluster {
    pub fn builder() -> TestClusterBuilder {
        TestClusterBuilder {
            prefix: "cloop-e2e-".to_owned(),
            nats: None,
            tokens: tokens_file(),
            config: None,
            envs: Vec::new(),
            clock: None,
            services: Vec::new(),
        }
    }

    /// The test clock's file (see [`TestClusterBuilder::test_clock`]).
    pub fn clock_path(&self) -> PathBuf {
        self.dir.path().join(CLOCK_FILE)
    }

    /// The workflow's configuration with the trained classifier turned off, unless the
    /// scenario's own configuration has a `[classifier]` table: scenarios see the keyword
    /// rules' decisions, which they were written against, and the classifier's scenarios turn
    /// it on by naming it.
    fn classifier_off_unless_named(&self, name: &str, config: Option<&Path>) -> PathBuf {
        let text = config
            .map(|path| std::fs::read_to_string(path).expect("read the workflow's config"))
            .unwrap_or_default();
        if text.lines().any(|line| line.trim() == "[classifier]") {
            if let Some(path) = config {
                return path.to_path_buf();
            }
        }
        let path = self.dir.path().join(format!("{name}-classifier-off.toml"));
        std::fs::write(&path, format!("{text}\n[classifier]\nenabled = false\n"))
            .expect("write the workflow's config");
        path
    }

    /// The flags every instance of `kind` gets, before the scenario's own.
    fn base_args(
        &self,
        kind: Service,
        address: Option<&str>,
        metrics: Option<&str>,
        data_dir: Option<&Path>,
        config: Option<&Path>,
    ) -> Vec<String> {
        let mut args = Vec::new();
        let mut flag = |name: &str, value: &str| {
            args.push(name.to_owned());
            args.push(value.to_owned());
        };
        if let Some(address) = address {
            flag("--listen", address);
        }
        if kind == Service::Console {
            for (name, of) in [
                ("--workflow", Service::Workflow),
                ("--intake", Service::Intake),
            ] {
                if let Some(service) = self.services.iter().find(|s| s.kind == of) {
                    flag(name, &format!("http://{}", service.address()));
                }
            }
            if let Some(config) = config {
                flag("--config", &config.to_string_lossy());
            }
            return args;
        }
        if let (Some(metrics), false) = (metrics, kind == Service::Webhook) {
            flag("--metrics-listen", metrics);
        }
        flag("--nats-url", &self.nats_url);
        if let Some(data_dir) = data_dir {
            flag("--data-dir", &data_dir.to_string_lossy());
        }
        if matches!(kind, Service::Intake | Service::Workflow | Service::Notify) {
            flag("--tokens", &self.tokens.to_string_lossy());
        }
        if let Some(config) = config {
            flag("--config", &config.to_string_lossy());
        }
        args
    }

    /// Starts an instance without waiting for it.
    fn launch(&mut self, kind: Service, spec: ServiceSpec) -> &mut RunningService {
        let name = spec.name.unwrap_or_else(|| kind.name().to_owned());
        let fixed_listen = spec.listen.is_some();
        let address = (kind != Service::Notify).then(|| {
            spec.listen
                .unwrap_or_else(|| format!("127.0.0.1:{}", free_port()))
        });
        let metrics = spec.metrics.then(|| format!("127.0.0.1:{}", free_port()));
        let data_dir = (!matches!(kind, Service::Webhook | Service::Console))
            .then(|| spec.data_dir.unwrap_or_else(|| self.dir.path().join(&name)));
        let config = match spec.config {
            Some(text) => {
                let path = self.dir.path().join(format!("{name}.toml"));
                std::fs::write(&path, text).expect("write service config");
                Some(path)
            }
            None => self
                .config
                .clone()
                .filter(|_| !matches!(kind, Service::Webhook | Service::Console)),
        };
        let config = if kind == Service::Workflow {
            Some(self.classifier_off_unless_named(&name, config.as_deref()))
        } else {
            config
        };
        let mut args = self.base_args(
            kind,
            address.as_deref(),
            metrics.as_deref(),
            data_dir.as_deref(),
            config.as_deref(),
        );
        args.extend(spec.args);
        let mut envs = self.envs.clone();
        if let (Some(metrics), Service::Webhook) = (&metrics, kind) {
            envs.push(("CLOOP_METRICS_LISTEN".to_owned(), metrics.clone()));
        }
        if kind == Service::Console {
            envs.push((
                "CLOOP_TOKENS".to_owned(),
                self.tokens.to_string_lossy().into_owned(),
            ));
        }
        envs.extend(spec.envs);
        let process = ServiceProcess::spawn(
            kind.binary(),
            &args,
            &envs,
            self.dir.path().join(format!("{name}.log")),
        );
        self.services.push(RunningService {
            kind,
            name,
            process,
            address,
            metrics,
            data_dir,
            wait: spec.wait,
            fixed_listen,
        });
        self.services.last_mut().expect("just pushed")
    }

    /// Starts one more instance after the others and waits until it listens.
    pub fn spawn(&mut self, kind: Service, spec: ServiceSpec) -> &mut RunningService {
        let service = self.launch(kind, spec);
        if service.wait {
            service.wait_first_start();
            service.wait = false;
        }
        service
    }

    /// Waits for the first start of every instance launched to wait and not yet waited for.
    fn wait_first_starts(&mut self) {
        for service in &mut self.services {
            if service.wait {
                service.wait_first_start();
                service.wait = false;
            }
        }
    }

    /// The instance called `name`.
    pub fn get(&self, name: &str) -> &RunningService {
        self.services
            .iter()
            .find(|service| service.name == name)
            .unwrap_or_else(|| panic!("no service {name} in this cluster"))
    }

    pub fn get_mut(&mut self, name: &str) -> &mut RunningService {
        self.services
            .iter_mut()
            .find(|service| service.name == name)
            .unwrap_or_else(|| panic!("no service {name} in this cluster"))
    }

    /// The (first) instance of `kind`.
    pub fn service(&self, kind: Service) -> &RunningService {
        self.get(kind.name())
    }

    pub fn service_mut(&mut self, kind: Service) -> &mut RunningService {
        self.get_mut(kind.name())
    }

    pub fn intake(&self) -> &RunningService {
        self.service(Service::Intake)
    }

    pub fn intake_mut(&mut self) -> &mut RunningService {
        self.service_mut(Service::Intake)
    }

    pub fn workflow(&self) -> &RunningService {
        self.service(Service::Workflow)
    }

    pub fn workflow_mut(&mut self) -> &mut RunningService {
        self.service_mut(Service::Workflow)
    }

    /// Every instance, in the order they were started.
    pub fn services(&self) -> &[RunningService] {
        &self.services
    }

    pub fn services_mut(&mut self) -> &mut [RunningService] {
        &mut self.services
    }

    /// The single nats-server (panics on a NATS cluster).
    pub fn nats(&self) -> &NatsServer {
        match &self.nats {
            Nats::Server(server) => server,
            _ => panic!("this cluster does not run on a nats-server of its own"),
        }
    }

    pub fn nats_mut(&mut self) -> &mut NatsServer {
        match &mut self.nats {
            Nats::Server(server) => server,
            _ => panic!("this cluster does not run on a nats-server of its own"),
        }
    }

    /// The three-node NATS cluster (panics on a single server).
    pub fn nats_cluster(&self) -> &NatsCluster {
        match &self.nats {
            Nats::Cluster(cluster) => cluster,
            _ => panic!("this cluster does not run on a NATS cluster of its own"),
        }
    }

    pub fn nats_cluster_mut(&mut self) -> &mut NatsCluster {
        match &mut self.nats {
            Nats::Cluster(cluster) => cluster,
            _ => panic!("this cluster does not run on a NATS cluster of its own"),
        }
    }

    /// A client of the nats-server(s), as the services reach them.
    pub async fn nats_client(&self) -> async_nats::Client {
        async_nats::connect(self.nats_url.as_str())
            .await
            .expect("connect to nats-server")
    }

    /// The shared configuration file (panics when the scenario gave none).
    pub fn config_path(&self) -> &Path {
        self.config.as_deref().expect("the cluster has a --config")
    }

    /// Lazily connecting clients (10 s per call; they reconnect after a restart).
    pub fn intake_client(&self) -> IntakeClient<Channel> {
        IntakeClient::new(self.intake().channel())
    }

    pub fn tickets_client(&self) -> TicketsClient<Channel> {
        TicketsClient::new(self.workflow().channel())
    }

    pub fn reports_client(&self) -> ReportsClient<Channel> {
        ReportsClient::new(self.workflow().channel())
    }

    pub fn audit_client(&self) -> AuditClient<Channel> {
        AuditClient::new(self.workflow().channel())
    }

    /// A `cloop` command with a clean environment and the cluster's folder as its home (see
    /// [`cloop_command`]).
    pub fn cloop_command(&self) -> Command {
        cloop_command(self.dir.path())
    }

    /// Runs `cloop` against the cluster's intake and workflow (those it runs) as `token` (none
    /// when empty) with `args`.
    pub fn cloop(&self, token: &str, args: &[&str]) -> Output {
        let mut command = self.cloop_command();
        for (flag, name) in [("--intake", "intake"), ("--workflow", "workflow")] {
            if let Some(service) = self.services.iter().find(|service| service.name == name) {
                command.args([flag, service.address()]);
            }
        }
        if !token.is_empty() {
            command.args(["--token", token]);
        }
        command.args(args).output().expect("run cloop")
    }

    /// Where the offline `cloop log` commands find the workflow's log: `--db workflow.db`,
    /// or `--store URL` when it is in PostgreSQL.
    pub fn log_source(&self) -> [String; 2] {
        match self.workflow().store_url() {
            Some(url) => ["--store".to_owned(), url.to_owned()],
            None => [
                "--db".to_owned(),
                self.workflow()
                    .data_dir()
                    .join("workflow.db")
                    .to_string_lossy()
                    .into_owned(),
            ],
        }
    }

    /// Runs `cloop log replay --out` on the (stopped) workflow's log into a fresh folder and
    /// returns the digest of the rebuilt projections: `--db workflow.db --keys keys.db` of its
    /// data folder, or `--store URL --keys-store URL` when the log is in PostgreSQL (the key
    /// store is in the same database).
    pub fn replay_digest(&self) -> String {
        let data = self.workflow().data_dir();
        let out = tempfile::tempdir().expect("temporary folder");
        let mut command = Command::new(bin_path("cloop"));
        command.args(["--json", "log", "replay"]);
        match self.workflow().store_url() {
            Some(url) => command.args(["--store", url, "--keys-store", url]),
            None => command.args([
                "--db",
                &data.join("workflow.db").to_string_lossy(),
                "--keys",
                &data.join("keys.db").to_string_lossy(),
            ]),
        };
        let output = command
            .args([
                "--config",
                &self.config_path().to_string_lossy(),
                "--out",
                &out.path().join("replay").to_string_lossy(),
            ])
            .output()
            .expect("run cloop log replay --out");
        let text = String::from_utf8_lossy(&output.stdout);
        let json: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|error| {
            panic!(
                "replay printed no json ({error}): {text}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        json["digest"].as_str().unwrap_or_default().to_owned()
    }

    /// Runs `cloop-workflow --check` on the (stopped) workflow's data folder (and its `--store`
    /// when the log is in PostgreSQL).
    pub fn workflow_check(&self) -> serde_json::Value {
        let mut command = Command::new(bin_path("cloop-workflow"));
        if let Some(url) = self.workflow().store_url() {
            command.args(["--store", url]);
        }
        let output = command
            .env_remove("FAILPOINTS")
            .args([
                "--check",
                "--data-dir",
                &self.workflow().data_dir().to_string_lossy(),
                "--config",
                &self.config_path().to_string_lossy(),
            ])
            .output()
            .expect("run cloop-workflow --check");
        let text = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(text.trim()).unwrap_or_else(|error| {
            panic!(
                "check printed no json ({error}): {text}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
    }

    /// Clients connected now (tried for 10 s), without a call deadline.
    pub async fn intake_connected(&self) -> IntakeClient<Channel> {
        IntakeClient::new(self.connect("intake").await)
    }

    pub async fn tickets_connected(&self) -> TicketsClient<Channel> {
        TicketsClient::new(self.connect("workflow").await)
    }

    /// A subscription to `subject` on the cluster's NATS (it keeps its client).
    pub async fn subscribe(&self, subject: &str) -> async_nats::Subscriber {
        let client = self.nats_client().await;
        client
            .subscribe(subject.to_owned())
            .await
            .expect("subscribe")
    }

    /// The tickets API as the principal of `token`, connected now.
    pub async fn staff(&self, token: &str) -> Staff {
        Staff::new(self.tickets_connected().await, token)
    }

    pub async fn reports_connected(&self) -> ReportsClient<Channel> {
        ReportsClient::new(self.connect("workflow").await)
    }

    pub async fn audit_connected(&self) -> AuditClient<Channel> {
        AuditClient::new(self.connect("workflow").await)
    }

    /// Submits `request` at intake as `token`; the ticket id it answers.
    pub async fn submit_as(&self, token: &str, request: v1::SubmitRequest) -> String {
        self.intake_connected()
            .await
            .submit(authorized(request, token))
            .await
            .expect("intake accepts the submission")
            .into_inner()
            .ticket_id
    }

    /// Polls `GetTicket` as `token` until `condition` holds; panics after `timeout` with the
    /// last ticket seen and the workflow's log.
    pub async fn wait_ticket(
        &self,
        ticket_id: &str,
        token: &str,
        timeout: Duration,
        condition: impl Fn(&v1::Ticket) -> bool,
    ) -> v1::Ticket {
        let mut client = self.tickets_connected().await;
        wait_for_ticket(&mut client, ticket_id, token, timeout, condition)
            .await
            .unwrap_or_else(|last| {
                panic!(
                    "ticket {ticket_id} never reached the expected state; last seen {last:?}\n{}",
                    self.workflow().log()
                )
            })
    }

    /// The history of a ticket as `token` sees it.
    pub async fn events(&self, ticket_id: &str, token: &str) -> Vec<v1::LogEvent> {
        history(&mut self.tickets_connected().await, ticket_id, token).await
    }

    /// A channel to `name`'s `--listen`, connected now and without a call deadline.
    pub async fn connect(&self, name: &str) -> Channel {
        connect(self.get(name).address()).await
    }
}
