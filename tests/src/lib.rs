//! The end-to-end test harness: a real `nats-server` on a free port with its own store, real
//! service binaries from the same build, and helpers to wait for conditions without sleeping
//! blindly.
//!
//! Everything here panics on failure: it is test support, and a panic with a clear message is
//! the right way for a test to stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod certs;
pub mod cluster;
pub mod grpc;
pub mod http;
mod nats_cluster;
pub mod ports;
mod staff;
pub mod tls_postgres;

pub use cluster::{Nats, RunningService, Service, ServiceSpec, TestCluster, TestClusterBuilder};
pub use grpc::{
    authorized, lazy_channel, metric, principal, principals_file, tail, tokens_file,
    web_submission, Principal, START_TIMEOUT,
};
pub use nats_cluster::{identity_passwords, NatsCluster};
pub use ports::free_port;
pub use staff::{fetch_history, fetch_ticket, get_ticket, history, wait_for_ticket, Staff};

use ports::{log_length, start_retrying, wait_child_listening, StartFailure};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The directory that holds the binaries of the current build profile
/// (`target/debug` or `target/release`), found from the running test executable.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CLOOP_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/e2e-<hash>: the binaries are in target/<profile>.
    let mut dir = exe.parent().expect("deps folder").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

/// The path of a workspace binary such as `cloop-intake`, built by the same `cargo` run.
/// Panics with the command to build it when it is missing.
pub fn bin_path(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// The nats-server to use: `CLOOP_NATS_SERVER`, else `.tools/bin/nats-server` (installed by
/// `make tools`), else the one on PATH.
pub fn nats_server_binary() -> PathBuf {
    if let Ok(path) = std::env::var("CLOOP_NATS_SERVER") {
        return PathBuf::from(path);
    }
    let tools = workspace_root().join(".tools/bin/nats-server");
    if tools.exists() {
        return tools;
    }
    PathBuf::from("nats-server")
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until something accepts TCP connections at `address`.
pub fn wait_for_port(address: &str, timeout: Duration) -> bool {
    wait_until(timeout, || TcpStream::connect(address).is_ok())
}

fn send_signal(child: &Child, signal: libc::c_int) {
    let pid = child.id() as libc::pid_t;
    // SAFETY: `kill` only sends a signal to a child process this harness spawned.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(pid, signal);
    }
}

fn signal_if_running(child: &Option<Child>, signal: libc::c_int) {
    if let Some(child) = child {
        send_signal(child, signal);
    }
}

/// A real nats-server with JetStream, on a free port, with a store in a temporary folder. It
/// can be stopped, killed, paused and started again on the same port with the same store; it
/// is killed when dropped.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
    extra_args: Vec<String>,
    /// The server's own environment (e.g. the passwords its configuration reads).
    envs: Vec<(String, String)>,
    version: String,
}

impl NatsServer {
    /// Starts a server with JetStream and default settings.
    pub fn start() -> Self {
        Self::start_with_args(&[])
    }

    /// Starts a server with extra command-line arguments (for example `--config FILE`).
    pub fn start_with_args(extra_args: &[&str]) -> Self {
        Self::start_inner(extra_args, &[], None)
    }

    /// Starts a server with the configuration `text` (written into its store folder; the
    /// harness's port and store folder override its `listen` and `store_dir`) and `envs` in
    /// its environment, e.g. the passwords a `deploy/nats` file reads (see
    /// [`identity_passwords`]).
    pub fn start_with_config(text: &str, envs: &[(String, String)]) -> Self {
        Self::start_inner(&[], envs, Some(text))
    }

    fn start_inner(extra_args: &[&str], envs: &[(String, String)], config: Option<&str>) -> Self {
        let store = tempfile::Builder::new()
            .prefix("cloop-nats-")
            .tempdir()
            .expect("temp dir");
        let version = Command::new(nats_server_binary())
            .arg("--version")
            .output()
            .map(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .replace("nats-server: v", "")
            })
            .unwrap_or_default();
        let mut extra_args: Vec<String> = extra_args.iter().map(|arg| arg.to_string()).collect();
        if let Some(text) = config {
            // The store folder is the configuration's own `store_dir` (nats-server refuses it
            // twice), pointed at the temporary folder.
            let store_dir = store.path().join("js");
            let text: String = text
                .lines()
                .map(|line| {
                    if line.trim_start().starts_with("store_dir:") {
                        format!("  store_dir: \"{}\"\n", store_dir.display())
                    } else {
                        format!("{line}\n")
                    }
                })
                .collect();
            let path = store.path().join("nats-server.conf");
            std::fs::write(&path, text).expect("write the nats-server configuration");
            extra_args.extend(["-c".to_owned(), path.to_string_lossy().into_owned()]);
        }
        let mut server = Self {
            child: None,
            port: free_port(),
            store,
            extra_args,
            envs: envs.to_vec(),
            version,
        };
        start_retrying("nats-server", |attempt| {
            if attempt > 1 {
                server.port = free_port();
            }
            server.try_start()
        });
        server
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's version, e.g. `2.15.1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The JetStream store folder.
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// Starts the server (again) on the same port with the same store, and waits until it
    /// accepts connections (trying again a few times while the port is in use).
    pub fn start_again(&mut self) {
        start_retrying("nats-server", |attempt| {
            if attempt > 1 {
                std::thread::sleep(ports::SAME_ADDRESS_PAUSE);
            }
            self.try_start()
        });
    }

    /// Starts the server on its port and waits until it accepts connections.
    fn try_start(&mut self) -> Result<(), StartFailure> {
        assert!(self.child.is_none(), "nats-server is already running");
        let log = self.store.path().join("nats-server.log");
        let log_from = log_length(&log);
        let mut command = Command::new(nats_server_binary());
        command.envs(self.envs.iter().cloned()).args([
            "-a",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-js",
        ]);
        if !self.extra_args.iter().any(|arg| arg == "-c") {
            command.args(["-sd", &self.store.path().join("js").to_string_lossy()]);
        }
        // Standard error goes to the same log (appended), where a start's failure is read.
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the nats-server log");
        command
            .args(["-l", &log.to_string_lossy()])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = command.spawn().unwrap_or_else(|error| {
            panic!(
                "start {}: {error} (run `make tools`)",
                nats_server_binary().display()
            )
        });
        let address = self.address();
        let started = wait_child_listening(
            "nats-server",
            &mut child,
            &address,
            Duration::from_secs(20),
            (&log, log_from),
        );
        match started {
            Ok(()) => self.child = Some(child),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        started
    }

    /// Stops the server gracefully (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            send_signal(&child, libc::SIGTERM);
            let exited = wait_until(Duration::from_secs(10), || {
                matches!(child.try_wait(), Ok(Some(_)))
            });
            if !exited {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    /// Kills the server with SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered.
    pub fn pause(&self) {
        signal_if_running(&self.child, libc::SIGSTOP);
    }

    /// Resumes a paused server (SIGCONT).
    pub fn resume(&self) {
        signal_if_running(&self.child, libc::SIGCONT);
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            send_signal(child, libc::SIGCONT);
        }
        self.kill();
    }
}

/// Where the `cloop-workflow` processes the harness starts keep their event log, chosen for the
/// whole run by `CLOOP_E2E_STORE`: unset, empty or `sqlite` for `workflow.db` in the data
/// folder (the default), `postgres` for a database of each workflow's own on
/// [`postgres_base_url`]. CI runs the suite once with each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum E2eStore {
    Sqlite,
    Postgres,
}

/// The store of this run, from `CLOOP_E2E_STORE`; panics on a value it does not know, so a
/// typo cannot quietly run the SQLite suite twice.
pub fn e2e_store() -> E2eStore {
    match std::env::var("CLOOP_E2E_STORE")
        .unwrap_or_default()
        .as_str()
    {
        "" | "sqlite" => E2eStore::Sqlite,
        "postgres" | "postgresql" => E2eStore::Postgres,
        other => panic!("CLOOP_E2E_STORE={other}: expected sqlite or postgres"),
    }
}

/// Whether this run keeps the workflows' logs in PostgreSQL (`CLOOP_E2E_STORE=postgres`).
pub fn on_postgres() -> bool {
    e2e_store() == E2eStore::Postgres
}

/// The scenarios that run on SQLite only, with the reason: the one list of what the
/// PostgreSQL pass leaves out. Keep it short and true; a scenario not named here that calls
/// [`sqlite_only`] fails, so the list cannot go stale silently.
pub const SQLITE_ONLY: &[(&str, &str)] = &[(
    "disk_full_workflow",
    "the scenario fills the disk that holds workflow.db (the log); on PostgreSQL the log \
         is not on it, only projections.db is, so the log keeps recording while the disk is \
         full, and a command whose projection cannot be written is answered UNAVAILABLE only \
         after the projection retry (5 s; seen with 10 s: 3 notes answered `Cancelled: Timeout \
         expired` at the client's 10 s deadline): the scenario's promises are SQLite's",
)];

/// Returns true (and says why on standard error) when the scenario `name` must not run in this
/// pass: on PostgreSQL, for a scenario of [`SQLITE_ONLY`]. A scenario starts with
/// `if e2e::sqlite_only("name") { return; }`.
pub fn sqlite_only(name: &str) -> bool {
    let reason = SQLITE_ONLY
        .iter()
        .find(|(listed, _)| *listed == name)
        .map(|(_, reason)| *reason)
        .unwrap_or_else(|| panic!("{name} calls sqlite_only but is not in e2e::SQLITE_ONLY"));
    if on_postgres() {
        eprintln!("SKIPPED on PostgreSQL: {name}: {reason}");
        return true;
    }
    false
}

/// The PostgreSQL database of the workflow whose data folder is `data_dir`: the one a living
/// [`ServiceProcess`] already uses for that folder (so a second process on the same folder
/// sees the same log, as the folder's own `workflow.db` would be), else a new one. It is
/// dropped with the last process that holds it.
fn database_for(data_dir: Option<&str>) -> Arc<PgDatabase> {
    static DATABASES: Mutex<Vec<(PathBuf, Weak<PgDatabase>)>> = Mutex::new(Vec::new());
    let mut databases = DATABASES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    databases.retain(|(_, database)| database.strong_count() > 0);
    let key = data_dir.map(|dir| {
        let dir = PathBuf::from(dir);
        std::fs::canonicalize(&dir).unwrap_or(dir)
    });
    if let Some(key) = &key {
        if let Some(database) = databases
            .iter()
            .find(|(dir, _)| dir == key)
            .and_then(|(_, database)| database.upgrade())
        {
            return database;
        }
    }
    let database = Arc::new(PgDatabase::create("e2e"));
    if let Some(key) = key {
        databases.push((key, Arc::downgrade(&database)));
    }
    database
}

/// The value that follows `flag` in `args` (`--flag VALUE` or `--flag=VALUE`).
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(index, arg)| {
        if arg == flag {
            args.get(index + 1).map(String::as_str)
        } else {
            arg.strip_prefix(flag)?.strip_prefix('=')
        }
    })
}

/// A service binary running as a real process, with its own data folder. Killed on drop.
///
/// On a PostgreSQL run ([`on_postgres`]) a `cloop-workflow` started without `--store` (and
/// without `--check`) gets `--store` with a database of its own, which lives as long as this
/// value (across [`ServiceProcess::start_again`]).
pub struct ServiceProcess {
    name: String,
    binary: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    child: Option<Child>,
    log_path: PathBuf,
    /// Where the output of the latest start begins in the log.
    log_from: u64,
    /// The database of a workflow on a PostgreSQL run; dropped after the process is killed.
    database: Option<Arc<PgDatabase>>,
}

impl ServiceProcess {
    /// Starts `binary` (a name for [`bin_path`]) with `args` and `envs`. Standard output and
    /// error go to `log_path` (appended, so restarts keep earlier output).
    pub fn spawn(
        binary: &str,
        args: &[String],
        envs: &[(String, String)],
        log_path: impl Into<PathBuf>,
    ) -> Self {
        let mut args = args.to_vec();
        let database = (binary == "cloop-workflow"
            && on_postgres()
            && !args.iter().any(|arg| arg == "--check")
            && flag_value(&args, "--store").is_none())
        .then(|| {
            let database = database_for(flag_value(&args, "--data-dir"));
            args.extend(["--store".to_owned(), database.url().to_owned()]);
            database
        });
        let mut process = Self {
            name: binary.to_owned(),
            binary: bin_path(binary),
            args,
            envs: envs.to_vec(),
            child: None,
            log_path: log_path.into(),
            log_from: 0,
            database,
        };
        process.start_again();
        process
    }

    /// The `--store` the process runs with (a PostgreSQL URL on a PostgreSQL run, or what the
    /// scenario passed itself), for checkers that read the log offline; `None` when the
    /// process keeps its log in its data folder.
    pub fn store_url(&self) -> Option<&str> {
        match &self.database {
            Some(database) => Some(database.url()),
            None => flag_value(&self.args, "--store"),
        }
    }

    /// Runs `work` with a client on the process's PostgreSQL database (on a thread of its own);
    /// `None` when the harness gave it none.
    pub fn with_store_client<T: Send>(
        &self,
        work: impl FnOnce(&mut postgres::Client) -> T + Send,
    ) -> Option<T> {
        self.database
            .as_ref()
            .map(|database| database.with_client(work))
    }

    /// Starts the process again with the same arguments (after a kill or stop).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open service log");
        self.log_from = log_length(&self.log_path);
        let child = Command::new(&self.binary)
            .args(&self.args)
            .envs(
                self.envs
                    .iter()
                    .map(|(key, value)| (key.as_str(), value.as_str())),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("start {}: {error}", self.binary.display()));
        self.child = Some(child);
    }

    /// Waits until the process accepts TCP connections at `address`; panics with its log
    /// when it exits or does not get there within `timeout`. When it could not bind because an
    /// address was in use, it is started again with the same arguments (a few times, after a
    /// pause): a restart keeps its addresses.
    pub fn wait_listening(&mut self, address: &str, timeout: Duration) {
        start_retrying(&self.name.clone(), |attempt| {
            if attempt > 1 {
                std::thread::sleep(ports::SAME_ADDRESS_PAUSE);
                self.start_again();
            }
            self.try_listening(address, timeout)
        });
    }

    /// Waits until the process accepts TCP connections at `address`; on failure the process
    /// is gone (reaped, or killed when it stayed up without listening) and the failure
    /// carries what it wrote since it was started.
    pub fn try_listening(&mut self, address: &str, timeout: Duration) -> Result<(), StartFailure> {
        let child = self.child.as_mut().expect("process is running");
        let started = wait_child_listening(
            &self.name,
            child,
            address,
            timeout,
            (&self.log_path, self.log_from),
        );
        if started.is_err() {
            self.kill();
        }
        started
    }

    /// Replaces the address `from` by `to` wherever an argument or an environment value is
    /// exactly `from`, for the next start (the harness's fresh ports after a collision).
    pub fn move_address(&mut self, from: &str, to: &str) {
        let values = self
            .args
            .iter_mut()
            .chain(self.envs.iter_mut().map(|(_, value)| value));
        for value in values.filter(|value| value.as_str() == from) {
            *value = to.to_owned();
        }
    }

    /// Sets an environment variable for the next start, or removes it with `None` (for example
    /// `FAILPOINTS`, which the fault tests change between restarts).
    pub fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.envs.retain(|(existing, _)| existing != key);
        if let Some(value) = value {
            self.envs.push((key.to_owned(), value.to_owned()));
        }
    }

    /// The exit status when the process has exited on its own since it was started; the child
    /// is reaped and forgotten (so [`ServiceProcess::start_again`] works), and the status is
    /// returned once.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            _ => None,
        }
    }

    /// Everything the process wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and waits up to `timeout` for a clean exit; returns the exit code (None when it
    /// had to be killed).
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        send_signal(&child, libc::SIGTERM);
        let mut code = None;
        let exited = wait_until(timeout, || match child.try_wait() {
            Ok(Some(status)) => {
                code = status.code();
                true
            }
            _ => false,
        });
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
        }
        code
    }

    /// SIGSTOP / SIGCONT.
    pub fn pause(&self) {
        signal_if_running(&self.child, libc::SIGSTOP);
    }

    pub fn resume(&self) {
        signal_if_running(&self.child, libc::SIGCONT);
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            send_signal(child, libc::SIGCONT);
        }
        self.kill();
    }
}

/// A size-limited file system (a tmpfs of a given size) mounted on a fresh temporary folder,
/// for scenarios where a service's data disk fills. Unmounted when dropped.
///
/// Mounting needs root (or `CAP_SYS_ADMIN`); [`SmallDisk::mount`] says why it failed so that
/// a scenario can refuse to pass silently where it cannot run.
pub struct SmallDisk {
    folder: Option<tempfile::TempDir>,
}

impl SmallDisk {
    /// Mounts a tmpfs of `bytes` bytes on a new temporary folder.
    pub fn mount(bytes: u64) -> Result<Self, String> {
        let folder = tempfile::Builder::new()
            .prefix("cloop-small-disk-")
            .tempdir()
            .map_err(|error| format!("create a mount point: {error}"))?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(folder.path())
            .output()
            .map_err(|error| format!("run mount: {error}"))?;
        if !output.status.success() {
            return Err(format!(
                "mount -t tmpfs -o size={bytes} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Self {
            folder: Some(folder),
        })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.folder
            .as_ref()
            .map(tempfile::TempDir::path)
            .expect("mounted")
    }

    /// Bytes still free for files on the file system.
    #[allow(clippy::unnecessary_cast)]
    pub fn free_bytes(&self) -> u64 {
        let path = std::ffi::CString::new(self.path().as_os_str().as_encoded_bytes())
            .expect("path without NUL");
        // SAFETY: `statvfs` only writes into the zeroed struct it is given, and `path` is a
        // NUL-terminated string that outlives the call.
        #[allow(unsafe_code)]
        let (result, stat) = unsafe {
            let mut stat: libc::statvfs = std::mem::zeroed();
            let result = libc::statvfs(path.as_ptr(), &mut stat);
            (result, stat)
        };
        assert_eq!(result, 0, "statvfs {}", self.path().display());
        stat.f_bavail as u64 * stat.f_frsize as u64
    }

    /// Writes a file of zeros at `name` that leaves about `leave_free` bytes free (the file is
    /// as large as it can be when less is free); returns its path. Deleting it gives the space
    /// back.
    pub fn fill_leaving(&self, name: &str, leave_free: u64) -> PathBuf {
        use std::io::Write;
        let path = self.path().join(name);
        let mut file = std::fs::File::create(&path).expect("create ballast");
        let chunk = vec![0u8; 64 * 1024];
        let mut left = self.free_bytes().saturating_sub(leave_free);
        while left > 0 {
            let size = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
            if file.write_all(&chunk[..size]).is_err() {
                break;
            }
            left -= size as u64;
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if let Some(folder) = self.folder.take() {
            // Lazily: a process that still has a file open there must not keep it mounted.
            let _ = Command::new("umount").arg("-l").arg(folder.path()).status();
            drop(folder);
        }
    }
}

/// The PostgreSQL server tests use: `CLOOP_TEST_POSTGRES`, or the machine's own server at
/// 127.0.0.1:5432 (trust authentication, user `postgres`).
pub fn postgres_base_url() -> String {
    std::env::var("CLOOP_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
        .trim_end_matches('/')
        .to_string()
}

/// Runs blocking PostgreSQL work on a thread of its own: the blocking client refuses to run on
/// a tokio worker thread, and tests call these helpers from async tests too.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// A database of its own for one test, created at start and dropped (with its connections)
/// when this goes out of scope.
pub struct PgDatabase {
    name: String,
    url: String,
}

impl PgDatabase {
    /// Creates `cloop_<label>_<pid>_<n>`. Panics with the reason when PostgreSQL is not
    /// reachable: the PostgreSQL tests are part of the suite, not optional.
    pub fn create(label: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "cloop_{label}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let base = postgres_base_url();
        off_runtime(|| {
            let mut admin = postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)
                .unwrap_or_else(|error| {
                    panic!(
                        "PostgreSQL at {base} is needed by this test and is not reachable: {error}"
                    )
                });
            // Two statements: CREATE DATABASE cannot run inside a (multi-statement) transaction.
            for statement in [
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                format!("CREATE DATABASE {name}"),
            ] {
                admin
                    .batch_execute(&statement)
                    .unwrap_or_else(|error| panic!("{statement}: {error:?}"));
            }
        });
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// The connection string of the database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `work` with a client on the database (on a thread of its own, so async tests may
    /// call it too).
    pub fn with_client<T: Send>(&self, work: impl FnOnce(&mut postgres::Client) -> T + Send) -> T {
        off_runtime(|| {
            let mut client = postgres::Client::connect(&self.url, postgres::NoTls)
                .unwrap_or_else(|error| panic!("connect to {}: {error}", self.name));
            work(&mut client)
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if std::env::var_os("CLOOP_KEEP_TEST_DATABASES").is_some() {
            eprintln!("kept test database {}", self.url);
            return;
        }
        let base = postgres_base_url();
        let name = self.name.clone();
        off_runtime(move || {
            if let Ok(mut admin) =
                postgres::Client::connect(&format!("{base}/postgres"), postgres::NoTls)
            {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        });
    }
}
