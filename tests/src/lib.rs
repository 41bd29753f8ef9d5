//! The end-to-end test harness: a real `nats-server` on a free port with its own store, real
//! service binaries from the same build, and helpers to wait for conditions without sleeping
//! blindly.
//!
//! Everything here panics on failure: it is test support, and a panic with a clear message is
//! the right way for a test to stop.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (the parent of this crate's folder).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .unwrap()
        .port()
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

/// A real nats-server with JetStream, on a free port, with a store in a temporary folder. It
/// can be stopped, killed, paused and started again on the same port with the same store; it
/// is killed when dropped.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
    extra_args: Vec<String>,
    version: String,
}

impl NatsServer {
    /// Starts a server with JetStream and default settings.
    pub fn start() -> Self {
        Self::start_with_args(&[])
    }

    /// Starts a server with extra command-line arguments (for example `--config FILE`).
    pub fn start_with_args(extra_args: &[&str]) -> Self {
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
        let mut server = Self {
            child: None,
            port: free_port(),
            store,
            extra_args: extra_args.iter().map(|arg| arg.to_string()).collect(),
            version,
        };
        server.start_again();
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
    /// accepts connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "nats-server is already running");
        let log = self.store.path().join("nats-server.log");
        let mut command = Command::new(nats_server_binary());
        command
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js"])
            .args(["-sd", &self.store.path().join("js").to_string_lossy()])
            .args(["-l", &log.to_string_lossy()])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|error| {
            panic!(
                "start {}: {error} (run `make tools`)",
                nats_server_binary().display()
            )
        });
        let address = self.address();
        let ready = wait_until(Duration::from_secs(20), || {
            if let Ok(Some(status)) = child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                let log_text = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("nats-server exited with {status}: {stderr}\n{log_text}");
            }
            TcpStream::connect(&address).is_ok()
        });
        assert!(ready, "nats-server did not listen on {address} within 20 s");
        self.child = Some(child);
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
        if let Some(child) = &self.child {
            send_signal(child, libc::SIGSTOP);
        }
    }

    /// Resumes a paused server (SIGCONT).
    pub fn resume(&self) {
        if let Some(child) = &self.child {
            send_signal(child, libc::SIGCONT);
        }
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

/// A service binary running as a real process, with its own data folder. Killed on drop.
pub struct ServiceProcess {
    name: String,
    binary: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    child: Option<Child>,
    log_path: PathBuf,
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
        let mut process = Self {
            name: binary.to_owned(),
            binary: bin_path(binary),
            args: args.to_vec(),
            envs: envs.to_vec(),
            child: None,
            log_path: log_path.into(),
        };
        process.start_again();
        process
    }

    /// Starts the process again with the same arguments (after a kill or stop).
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open service log");
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
    /// when it exits or does not get there within `timeout`.
    pub fn wait_listening(&mut self, address: &str, timeout: Duration) {
        let mut exited = None;
        let child = self.child.as_mut().expect("process is running");
        let ready = wait_until(timeout, || {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some(status);
                return true;
            }
            TcpStream::connect(address).is_ok()
        });
        if let Some(status) = exited {
            panic!("{} exited with {status}:\n{}", self.name, self.log());
        }
        assert!(
            ready,
            "{} did not listen on {address} in {timeout:?}:\n{}",
            self.name,
            self.log()
        );
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
        if let Some(child) = &self.child {
            send_signal(child, libc::SIGSTOP);
        }
    }

    pub fn resume(&self) {
        if let Some(child) = &self.child {
            send_signal(child, libc::SIGCONT);
        }
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
