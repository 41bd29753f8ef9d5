//! Who a service is to NATS, and how its connection is protected: one identity (a `.creds`
//! file, an nkey seed file, or a user and password) and TLS (a CA to trust, a client
//! certificate for mutual TLS). Each setting comes from a flag, its environment variable, or
//! the `[nats]` table of the configuration file; flags and environment win over the file.
//!
//! Secrets (passwords, seeds, the `.creds` text) are kept in [`Secret`], whose `Debug` shows
//! nothing, and are never logged.

use crate::config::NatsConfig;
use crate::error::ServiceError;
use clap::Args;
use std::fmt;
use std::path::{Path, PathBuf};

pub use crate::secret::Secret;

/// The NATS identity and TLS flags every service takes (flatten into its clap parser).
/// Exactly one identity may be given: `--nats-creds`, `--nats-nkey` or `--nats-user`.
#[derive(Clone, Default, Args)]
pub struct NatsAuthArgs {
    /// A NATS `.creds` file (user JWT and nkey seed); overrides `[nats] creds`.
    #[arg(long, env = "CLOOP_NATS_CREDS", value_name = "FILE")]
    pub nats_creds: Option<PathBuf>,
    /// A file holding a NATS user nkey seed (`SU...`); overrides `[nats] nkey`.
    #[arg(long, env = "CLOOP_NATS_NKEY", value_name = "FILE")]
    pub nats_nkey: Option<PathBuf>,
    /// The NATS user name (with `--nats-password` or `--nats-password-file`); overrides
    /// `[nats] user`.
    #[arg(long, env = "CLOOP_NATS_USER")]
    pub nats_user: Option<String>,
    /// The NATS password of `--nats-user` (prefer `--nats-password-file`).
    #[arg(long, env = "CLOOP_NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<String>,
    /// A file whose first line is the NATS password of `--nats-user`.
    #[arg(long, env = "CLOOP_NATS_PASSWORD_FILE", value_name = "FILE")]
    pub nats_password_file: Option<PathBuf>,
    /// The CA certificate (PEM) that signed the NATS server's certificate; turns TLS on.
    #[arg(long, env = "CLOOP_NATS_CA", value_name = "FILE")]
    pub nats_ca: Option<PathBuf>,
    /// The client certificate (PEM) for NATS mutual TLS, with `--nats-key`.
    #[arg(long, env = "CLOOP_NATS_CERT", value_name = "FILE")]
    pub nats_cert: Option<PathBuf>,
    /// The private key (PEM) of `--nats-cert`.
    #[arg(long, env = "CLOOP_NATS_KEY", value_name = "FILE")]
    pub nats_key: Option<PathBuf>,
    /// The prefix of the service's reply subjects; default `_INBOX.<service>` (e.g.
    /// `_INBOX.intake`), which the identities of `deploy/nats` may subscribe to.
    #[arg(long, env = "CLOOP_NATS_INBOX_PREFIX")]
    pub nats_inbox_prefix: Option<String>,
}

impl fmt::Debug for NatsAuthArgs {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("NatsAuthArgs")
            .field("nats_creds", &self.nats_creds)
            .field("nats_nkey", &self.nats_nkey)
            .field("nats_user", &self.nats_user)
            .field("nats_password", &self.nats_password.as_ref().map(|_| ".."))
            .field("nats_password_file", &self.nats_password_file)
            .field("nats_ca", &self.nats_ca)
            .field("nats_cert", &self.nats_cert)
            .field("nats_key", &self.nats_key)
            .field("nats_inbox_prefix", &self.nats_inbox_prefix)
            .finish()
    }
}

impl NatsAuthArgs {
    /// The `[nats]` settings with these flags applied: a flag (or its environment variable)
    /// wins over the file. An identity given by flags replaces the file's identity as a whole
    /// and its password (so `--nats-creds` with `[nats] user` in the file is not a
    /// conflict); a password flag
    /// replaces the file's password, so the user can be in the file and the password in the
    /// environment.
    pub fn apply(&self, mut nats: NatsConfig) -> NatsConfig {
        if self.nats_creds.is_some() || self.nats_nkey.is_some() || self.nats_user.is_some() {
            nats.creds = self.nats_creds.clone();
            nats.nkey = self.nats_nkey.clone();
            nats.user = self.nats_user.clone();
            nats.password = None;
            nats.password_file = None;
        }
        if self.nats_password.is_some() || self.nats_password_file.is_some() {
            nats.password = self.nats_password.clone().map(Secret::new);
            nats.password_file = self.nats_password_file.clone();
        }
        if self.nats_ca.is_some() {
            nats.ca = self.nats_ca.clone();
        }
        if self.nats_cert.is_some() || self.nats_key.is_some() {
            nats.cert = self.nats_cert.clone();
            nats.key = self.nats_key.clone();
        }
        if self.nats_inbox_prefix.is_some() {
            nats.inbox_prefix = self.nats_inbox_prefix.clone();
        }
        nats
    }
}

/// How a setting is named in errors: the flag, its environment variable and its key.
fn named(flag: &str) -> String {
    let key = flag.trim_start_matches("--nats-").replace('-', "_");
    let env = format!("CLOOP_NATS_{}", key.to_uppercase());
    format!("{flag} ({env}, [nats] {key})")
}

/// The identity a client presents.
#[derive(Debug, Clone, Default, PartialEq)]
enum Identity {
    /// None: only for a server that requires no authentication.
    #[default]
    Anonymous,
    /// A `.creds` file: its path and its text (JWT and seed).
    Creds { path: PathBuf, text: Secret },
    /// An nkey seed read from a file.
    Nkey { path: PathBuf, seed: Secret },
    /// A user and password.
    User { user: String, password: Secret },
}

/// A service's checked NATS client settings: the identity (with its secret read from its
/// file), TLS and the reply-subject prefix. Made by [`NatsConfig::client_auth`].
#[derive(Clone, Default, PartialEq)]
pub struct NatsClientAuth {
    identity: Identity,
    ca: Option<PathBuf>,
    client_cert: Option<(PathBuf, PathBuf)>,
    inbox_prefix: Option<String>,
}

impl fmt::Debug for NatsClientAuth {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("NatsClientAuth")
            .field("identity", &self.describe())
            .field("ca", &self.ca)
            .field("client_cert", &self.client_cert)
            .field("inbox_prefix", &self.inbox_prefix)
            .finish()
    }
}

/// Reads a file a setting names, or says which setting and which path could not be read.
fn read_named(flag: &str, path: &Path) -> Result<String, ServiceError> {
    std::fs::read_to_string(path).map_err(|error| ServiceError::NatsFile {
        setting: named(flag),
        path: path.to_path_buf(),
        reason: error.to_string(),
    })
}

fn file_error(flag: &str, path: &Path, reason: impl Into<String>) -> ServiceError {
    ServiceError::NatsFile {
        setting: named(flag),
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The nkey seed in `text`: the first line that is a user seed (`SU` and 56 more characters
/// of base32), alone on its line (a seed file) or inside a `.creds`-style block.
fn seed_in(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|line| {
        line.len() == 58
            && line.starts_with("SU")
            && line
                .bytes()
                .all(|byte| byte.is_ascii_uppercase() || (b'2'..=b'7').contains(&byte))
    })
}

/// Whether `prefix` is a valid subject prefix for replies: tokens of letters, digits, `_`
/// and `-`, separated by dots, no wildcard.
fn valid_inbox_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.split('.').all(|token| {
            !token.is_empty()
                && token
                    .chars()
                    .all(|symbol| symbol.is_ascii_alphanumeric() || matches!(symbol, '_' | '-'))
        })
}

impl NatsConfig {
    /// Checks the identity and TLS settings and reads the secrets they name: at most one of
    /// `creds`, `nkey` and `user`; a password (inline or from `password_file`, not both)
    /// exactly when there is a user; a client certificate only with its key; every file
    /// readable. Each error names the flag, its environment variable and its `[nats]` key,
    /// and the path.
    pub fn client_auth(&self) -> Result<NatsClientAuth, ServiceError> {
        self.check_identity_settings()?;
        let identity = self.identity()?;
        if let Some(path) = &self.ca {
            read_named("--nats-ca", path)?;
        }
        let client_cert = self.client_cert()?;
        if let Some(prefix) = &self.inbox_prefix {
            if !valid_inbox_prefix(prefix) {
                return Err(ServiceError::NatsSettings(format!(
                    "{} {prefix:?}: must be dot-separated tokens of letters, digits, _ and -",
                    named("--nats-inbox-prefix")
                )));
            }
        }
        Ok(NatsClientAuth {
            identity,
            ca: self.ca.clone(),
            client_cert,
            inbox_prefix: self.inbox_prefix.clone(),
        })
    }

    /// At most one identity; a password once, and only with a user.
    fn check_identity_settings(&self) -> Result<(), ServiceError> {
        let given: Vec<&str> = [
            (self.creds.is_some(), "--nats-creds"),
            (self.nkey.is_some(), "--nats-nkey"),
            (self.user.is_some(), "--nats-user"),
        ]
        .into_iter()
        .filter_map(|(set, flag)| set.then_some(flag))
        .collect();
        if given.len() > 1 {
            return Err(ServiceError::NatsSettings(format!(
                "give one NATS identity, not {}: {}",
                given.len(),
                given
                    .iter()
                    .map(|flag| named(flag))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )));
        }
        if self.password.is_some() && self.password_file.is_some() {
            return Err(ServiceError::NatsSettings(format!(
                "give the NATS password once: {} or {}, not both",
                named("--nats-password"),
                named("--nats-password-file")
            )));
        }
        let has_password = self.password.is_some() || self.password_file.is_some();
        if has_password && self.user.is_none() {
            return Err(ServiceError::NatsSettings(format!(
                "a NATS password needs {}",
                named("--nats-user")
            )));
        }
        Ok(())
    }

    /// The identity the settings name, its files read and checked.
    fn identity(&self) -> Result<Identity, ServiceError> {
        if let Some(path) = &self.creds {
            let text = read_named("--nats-creds", path)?;
            if let Err(error) = async_nats::ConnectOptions::new().credentials(&text) {
                return Err(file_error(
                    "--nats-creds",
                    path,
                    format!("not a NATS .creds file (a user JWT and nkey seed): {error}"),
                ));
            }
            Ok(Identity::Creds {
                path: path.clone(),
                text: Secret::new(text),
            })
        } else if let Some(path) = &self.nkey {
            let text = read_named("--nats-nkey", path)?;
            let Some(seed) = seed_in(&text) else {
                return Err(file_error(
                    "--nats-nkey",
                    path,
                    "no user nkey seed in it (a line of 58 characters starting with SU)",
                ));
            };
            Ok(Identity::Nkey {
                path: path.clone(),
                seed: Secret::new(seed),
            })
        } else if let Some(user) = &self.user {
            self.user_identity(user)
        } else {
            Ok(Identity::Anonymous)
        }
    }

    /// A user and its password (inline or the first line of the password file), neither empty.
    fn user_identity(&self, user: &str) -> Result<Identity, ServiceError> {
        let user = user.trim();
        if user.is_empty() {
            return Err(ServiceError::NatsSettings(format!(
                "{} is empty",
                named("--nats-user")
            )));
        }
        let password = match (&self.password, &self.password_file) {
            (Some(password), _) => password.clone(),
            (None, Some(path)) => {
                let text = read_named("--nats-password-file", path)?;
                let line = text.lines().next().unwrap_or_default().trim_end();
                Secret::new(line)
            }
            (None, None) => {
                return Err(ServiceError::NatsSettings(format!(
                    "NATS user {user:?} needs {} or {}",
                    named("--nats-password"),
                    named("--nats-password-file")
                )))
            }
        };
        if password.expose().is_empty() {
            let setting = match &self.password_file {
                Some(path) => format!("{} {}", named("--nats-password-file"), path.display()),
                None => named("--nats-password"),
            };
            return Err(ServiceError::NatsSettings(format!(
                "the NATS password of user {user:?} is empty ({setting})"
            )));
        }
        Ok(Identity::User {
            user: user.to_owned(),
            password,
        })
    }

    /// The client certificate and its key, both readable, or neither.
    fn client_cert(&self) -> Result<Option<(PathBuf, PathBuf)>, ServiceError> {
        let needs = |flag: &str, other: &str| {
            Err(ServiceError::NatsSettings(format!(
                "{} needs {}",
                named(flag),
                named(other)
            )))
        };
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                read_named("--nats-cert", cert)?;
                read_named("--nats-key", key)?;
                Ok(Some((cert.clone(), key.clone())))
            }
            (None, None) => Ok(None),
            (Some(_), None) => needs("--nats-cert", "--nats-key"),
            (None, Some(_)) => needs("--nats-key", "--nats-cert"),
        }
    }
}

impl NatsClientAuth {
    /// What identity this is, for logs: the kind and the user or file, never a secret.
    pub fn describe(&self) -> String {
        match &self.identity {
            Identity::Anonymous => "anonymous".to_owned(),
            Identity::Creds { path, .. } => format!("creds file {}", path.display()),
            Identity::Nkey { path, .. } => format!("nkey seed file {}", path.display()),
            Identity::User { user, .. } => format!("user {user}"),
        }
    }

    /// Whether TLS is required (a CA or a client certificate was given).
    pub fn tls(&self) -> bool {
        self.ca.is_some() || self.client_cert.is_some()
    }

    /// The reply-subject prefix: the configured one, or `_INBOX.<service>` where `<service>`
    /// is `name` without its `cloop-` prefix (`cloop-intake` → `_INBOX.intake`).
    pub fn inbox_prefix(&self, name: &str) -> String {
        self.inbox_prefix.clone().unwrap_or_else(|| {
            let service: String = name
                .trim_start_matches("cloop-")
                .chars()
                .map(|symbol| {
                    if symbol.is_ascii_alphanumeric() || matches!(symbol, '_' | '-') {
                        symbol
                    } else {
                        '_'
                    }
                })
                .collect();
            if service.is_empty() {
                "_INBOX".to_owned()
            } else {
                format!("_INBOX.{service}")
            }
        })
    }

    /// `options` with this identity, TLS and the inbox prefix of service `name`.
    pub fn apply(
        &self,
        options: async_nats::ConnectOptions,
        name: &str,
    ) -> Result<async_nats::ConnectOptions, ServiceError> {
        let mut options = match &self.identity {
            Identity::Anonymous => options,
            Identity::Creds { path, text } => {
                options.credentials(text.expose()).map_err(|error| {
                    file_error("--nats-creds", path, format!("not a .creds file: {error}"))
                })?
            }
            Identity::Nkey { seed, .. } => options.nkey(seed.expose().to_owned()),
            Identity::User { user, password } => {
                options.user_and_password(user.clone(), password.expose().to_owned())
            }
        };
        if let Some(ca) = &self.ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.client_cert {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if self.tls() {
            options = options.require_tls(true);
        }
        Ok(options.custom_inbox_prefix(self.inbox_prefix(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        nats: NatsAuthArgs,
    }

    fn parse(args: &[&str]) -> NatsAuthArgs {
        let mut all = vec!["cloop-test"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("valid flags").nats
    }

    fn file_config(text: &str) -> NatsConfig {
        crate::config::ConfigFile::from_toml_str(text, None)
            .expect("valid configuration")
            .section("nats")
            .expect("valid [nats]")
    }

    // A user seed as `nk -gen user` prints it (a fixed example, not a real identity).
    const SEED: &str = "SUAIO3FHUX5PNV2LQIIP7TZ3N4L7TX3W53MQGEIVYFIGA635OZCKEYHFLM";

    #[test]
    fn no_settings_mean_an_anonymous_client_without_tls() {
        let auth = parse(&[])
            .apply(NatsConfig::default())
            .client_auth()
            .expect("nothing given is valid");
        assert_eq!(auth.describe(), "anonymous");
        assert!(!auth.tls());
        assert_eq!(auth.inbox_prefix("cloop-intake"), "_INBOX.intake");
        assert_eq!(auth.inbox_prefix("cloop-workflow"), "_INBOX.workflow");
    }

    #[test]
    fn a_user_with_a_password_file_and_tls_from_flags() {
        let dir = tempfile::tempdir().expect("temp dir");
        let password = dir.path().join("password");
        std::fs::write(&password, "s3cret-pass\n").expect("write");
        let ca = dir.path().join("ca.pem");
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        for path in [&ca, &cert, &key] {
            std::fs::write(path, "PEM").expect("write");
        }
        let args = parse(&[
            "--nats-user",
            "intake",
            "--nats-password-file",
            &password.to_string_lossy(),
            "--nats-ca",
            &ca.to_string_lossy(),
            "--nats-cert",
            &cert.to_string_lossy(),
            "--nats-key",
            &key.to_string_lossy(),
            "--nats-inbox-prefix",
            "_INBOX.site-a.intake",
        ]);
        let auth = args
            .apply(NatsConfig::default())
            .client_auth()
            .expect("valid");
        assert_eq!(auth.describe(), "user intake");
        assert_eq!(
            auth.identity,
            Identity::User {
                user: "intake".into(),
                password: Secret::new("s3cret-pass")
            },
            "the password file's line, without its newline"
        );
        assert!(auth.tls());
        assert_eq!(auth.inbox_prefix("cloop-intake"), "_INBOX.site-a.intake");
        // Neither Debug shows the password.
        let shown = format!("{auth:?} {args:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        let inline = parse(&["--nats-user", "u", "--nats-password", "hunter22"]);
        assert!(!format!("{inline:?}").contains("hunter22"));
    }

    #[test]
    fn the_file_gives_what_flags_do_not_and_flags_win() {
        let dir = tempfile::tempdir().expect("temp dir");
        let seed = dir.path().join("notify.nk");
        std::fs::write(&seed, format!("{SEED}\n")).expect("write");
        let text = format!(
            "[nats]\nuser = \"from-file\"\npassword = \"file-pass\"\nca = \"{}\"\n",
            seed.display()
        );
        let from_file = file_config(&text);
        let auth = parse(&[])
            .apply(from_file.clone())
            .client_auth()
            .expect("valid");
        assert_eq!(auth.describe(), "user from-file");
        assert_eq!(auth.ca.as_deref(), Some(seed.as_path()));
        // A password from the environment or a flag replaces the file's, the user stays.
        let auth = parse(&["--nats-password", "flag-pass"])
            .apply(from_file.clone())
            .client_auth()
            .expect("valid");
        assert_eq!(
            auth.identity,
            Identity::User {
                user: "from-file".into(),
                password: Secret::new("flag-pass")
            }
        );
        // An identity flag replaces the file's identity as a whole.
        let auth = parse(&["--nats-nkey", &seed.to_string_lossy()])
            .apply(from_file)
            .client_auth()
            .expect("valid");
        assert_eq!(
            auth.identity,
            Identity::Nkey {
                path: seed.clone(),
                seed: Secret::new(SEED)
            }
        );
        // Unknown keys in [nats] are still refused.
        let error = crate::config::ConfigFile::from_toml_str("[nats]\nusr = \"x\"\n", None)
            .expect("domain ok")
            .section::<NatsConfig>("nats")
            .expect_err("unknown key");
        assert!(error.to_string().contains("usr"), "{error}");
    }

    #[test]
    fn two_identities_are_refused_naming_both() {
        let dir = tempfile::tempdir().expect("temp dir");
        let seed = dir.path().join("seed");
        std::fs::write(&seed, SEED).expect("write");
        let error = parse(&[
            "--nats-nkey",
            &seed.to_string_lossy(),
            "--nats-user",
            "u",
            "--nats-password",
            "p",
        ])
        .apply(NatsConfig::default())
        .client_auth()
        .expect_err("two identities");
        let text = error.to_string();
        assert!(text.contains("--nats-nkey"), "{text}");
        assert!(text.contains("--nats-user"), "{text}");
        assert!(text.contains("CLOOP_NATS_NKEY"), "{text}");
    }

    #[test]
    fn passwords_need_a_user_and_a_user_needs_one_password() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("password");
        std::fs::write(&file, "p").expect("write");
        let cases: [(&[&str], &str); 4] = [
            (&["--nats-password", "p"], "needs --nats-user"),
            (&["--nats-user", "u"], "needs --nats-password"),
            (
                &[
                    "--nats-user",
                    "u",
                    "--nats-password",
                    "p",
                    "--nats-password-file",
                    &file.to_string_lossy(),
                ],
                "not both",
            ),
            (&["--nats-user", "u", "--nats-password", ""], "is empty"),
        ];
        for (args, wanted) in cases {
            let error = parse(args)
                .apply(NatsConfig::default())
                .client_auth()
                .expect_err("invalid");
            assert!(error.to_string().contains(wanted), "{args:?}: {error}");
        }
    }

    #[test]
    fn missing_or_wrong_files_name_the_flag_and_the_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing.creds");
        let missing_text = missing.to_string_lossy().to_string();
        for (args, flag) in [
            (vec!["--nats-creds", missing_text.as_str()], "--nats-creds"),
            (vec!["--nats-nkey", missing_text.as_str()], "--nats-nkey"),
            (
                vec!["--nats-user", "u", "--nats-password-file", &missing_text],
                "--nats-password-file",
            ),
            (vec!["--nats-ca", missing_text.as_str()], "--nats-ca"),
        ] {
            let error = parse(&args)
                .apply(NatsConfig::default())
                .client_auth()
                .expect_err("missing file");
            let text = error.to_string();
            assert!(text.contains(flag), "{text}");
            assert!(text.contains("missing.creds"), "{text}");
        }
        let garbage = dir.path().join("garbage");
        std::fs::write(&garbage, "not a key\n").expect("write");
        let garbage_text = garbage.to_string_lossy().to_string();
        for (flag, wanted) in [
            ("--nats-creds", "not a NATS .creds file"),
            ("--nats-nkey", "no user nkey seed"),
        ] {
            let error = parse(&[flag, &garbage_text])
                .apply(NatsConfig::default())
                .client_auth()
                .expect_err("not a key");
            let text = error.to_string();
            assert!(text.contains(flag) && text.contains(wanted), "{text}");
            assert!(text.contains("garbage"), "{text}");
        }
        let cert_only = parse(&["--nats-cert", &garbage_text])
            .apply(NatsConfig::default())
            .client_auth()
            .expect_err("a certificate without its key");
        assert!(
            cert_only.to_string().contains("needs --nats-key"),
            "{cert_only}"
        );
        let bad_prefix = parse(&["--nats-inbox-prefix", "_INBOX.>"])
            .apply(NatsConfig::default())
            .client_auth()
            .expect_err("a wildcard prefix");
        assert!(
            bad_prefix.to_string().contains("--nats-inbox-prefix"),
            "{bad_prefix}"
        );
    }

    #[test]
    fn a_creds_file_is_read_and_checked() {
        let dir = tempfile::tempdir().expect("temp dir");
        let creds = dir.path().join("intake.creds");
        // The layout `nsc generate creds` writes; the JWT is not checked here, the server
        // checks it.
        std::fs::write(
            &creds,
            format!(
                "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.sig\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n{SEED}\n------END USER NKEY SEED------\n"
            ),
        )
        .expect("write");
        let auth = parse(&["--nats-creds", &creds.to_string_lossy()])
            .apply(NatsConfig::default())
            .client_auth()
            .expect("a .creds file");
        assert!(auth.describe().contains("intake.creds"));
        assert!(!format!("{auth:?}").contains(SEED));
        assert!(auth
            .apply(async_nats::ConnectOptions::new(), "cloop-intake")
            .is_ok());
    }
}
