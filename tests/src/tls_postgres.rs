//! A PostgreSQL server of a test's own with TLS on (`ssl=on`, the [`TestPki`] server
//! certificate for localhost and 127.0.0.1), on a free port in a temporary folder (a fresh
//! one when the port is taken before it binds it), stopped when dropped. `hostssl` only: a
//! connection without TLS is refused, so a test that connects shows that TLS was used. Run as
//! the `postgres` user when the test runs as root (initdb refuses root). The binaries are
//! found in `CLOOP_PG_BIN` or `/usr/lib/postgresql/*/bin`.

use crate::certs::TestPki;
use crate::free_port;
use crate::ports::{address_in_use, log_length, log_since, start_retrying, StartFailure};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A running TLS-only PostgreSQL.
pub struct TlsPostgres {
    /// The certificates: the server's is PostgreSQL's, the CA signed it.
    pub pki: TestPki,
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    dir: tempfile::TempDir,
}

/// The folder of `initdb` and `pg_ctl`.
pub fn postgres_bin() -> PathBuf {
    if let Some(dir) = std::env::var_os("CLOOP_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path().join("bin"))
                .filter(|bin| bin.join("initdb").exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("no PostgreSQL server binaries: install postgresql or set CLOOP_PG_BIN")
    })
}

fn is_root() -> bool {
    // `id -u` rather than geteuid: the workspace denies unsafe code.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
        .unwrap_or(false)
}

impl TlsPostgres {
    /// Creates the cluster, installs the certificate and starts the server.
    pub fn start() -> Self {
        let bin = postgres_bin();
        let dir = tempfile::Builder::new()
            .prefix("cloop-pgtls-")
            .tempdir()
            .expect("temp dir");
        let pki = TestPki::new(&dir.path().join("certs"));
        let data = dir.path().join("data");
        let as_postgres = is_root();
        if as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("run chown");
            assert!(status.success(), "chown the temp dir to postgres");
        }
        let mut postgres = Self {
            pki,
            port: free_port(),
            bin,
            data,
            as_postgres,
            dir,
        };
        postgres.run(
            "initdb",
            &[
                "-D",
                &postgres.data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        for (from, to) in [
            (&postgres.pki.server_cert, "server.pem"),
            (&postgres.pki.server_key, "server-key.pem"),
        ] {
            let target = postgres.data.join(to);
            std::fs::copy(from, &target).expect("copy the server certificate");
            postgres.own(&target);
        }
        let hba = postgres.data.join("pg_hba.conf");
        std::fs::write(
            &hba,
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .expect("write pg_hba.conf");
        postgres.own(&hba);
        start_retrying("postgres", |attempt| {
            if attempt > 1 {
                postgres.port = free_port();
            }
            postgres.try_start()
        });
        postgres
    }

    /// Starts the server on its port (`pg_ctl start`, waiting until it takes connections).
    fn try_start(&self) -> Result<(), StartFailure> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=server.pem \
             -c ssl_key_file=server-key.pem -c fsync=off",
            self.port,
            self.data.display()
        );
        let log = self.log();
        let log_from = log_length(&log);
        self.try_run(
            "pg_ctl",
            &[
                "-D",
                &self.data.to_string_lossy(),
                "-o",
                &options,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .map_err(|message| {
            let output = log_since(&log, log_from);
            StartFailure {
                address_in_use: address_in_use(&output),
                message: format!("{message}\n{output}"),
            }
        })
    }

    /// The server's log.
    fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn own(&self, path: &Path) {
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(path, mode).expect("chmod 600");
        if self.as_postgres {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(path)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown {}", path.display());
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        if let Err(message) = self.try_run(program, args) {
            panic!(
                "{message}\n{}",
                std::fs::read_to_string(self.log()).unwrap_or_default()
            );
        }
    }

    /// Runs a PostgreSQL tool (as `postgres` when the test runs as root); what it printed
    /// when it fails.
    fn try_run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let binary = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&binary);
            command
        } else {
            Command::new(&binary)
        };
        let output = command.args(args).output().expect("run a PostgreSQL tool");
        if output.status.success() {
            return Ok(());
        }
        Err(format!(
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        ))
    }

    /// A connection URL to database `postgres` on `host` (`localhost` or `127.0.0.1`) with the
    /// query `params` (e.g. `sslmode=verify-full&sslrootcert=...`).
    pub fn url(&self, host: &str, params: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{params}", self.port)
    }

    /// The temporary folder (certificates are under `certs/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let binary = self.bin.join("pg_ctl");
        let data = self.data.to_string_lossy().into_owned();
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&binary)
                .args(args)
                .output()
        } else {
            Command::new(&binary).args(args).output()
        };
    }
}
