//! `cloop token new`: a fresh random token and the tokens-file entry that admits it. Only the
//! SHA-256 goes into the file; the token itself is shown once.
//!
//! `cloop token init`: the first start of a deployment. Creates the tokens file with a fresh
//! admin token (and service tokens) and writes each token to a file of mode 0600 next to it;
//! prints where, never the token. An existing tokens file is left alone.

use super::Context;
use crate::args::TokenCommand;
use crate::error::CliError;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The roles a tokens file may name (`system` is the services' own).
const ROLES: &[&str] = &[
    "adapter", "agent", "head", "service", "manager", "auditor", "admin",
];

/// Quotes a TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// The entry for the tokens file.
pub fn tokens_file_entry(
    name: &str,
    role: &str,
    department: Option<&str>,
    channels: &[String],
    token: &str,
) -> String {
    let mut entry = format!(
        "[[principal]]\nname = {}\nrole = {}\n",
        toml_string(name),
        toml_string(role)
    );
    if let Some(department) = department {
        entry.push_str(&format!("department = {}\n", toml_string(department)));
    }
    if !channels.is_empty() {
        let quoted: Vec<String> = channels
            .iter()
            .map(|channel| toml_string(channel))
            .collect();
        entry.push_str(&format!("channels = [{}]\n", quoted.join(", ")));
    }
    entry.push_str(&format!(
        "token_sha256 = \"{}\"\n",
        hex::encode(Sha256::digest(token.as_bytes()))
    ));
    entry
}

/// A fresh random token: `cloop_` and 64 hex digits (256 bits from the OS).
fn fresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("cloop_{}", hex::encode(bytes))
}

/// Runs `cloop token ...`.
pub fn run(context: &Context, command: TokenCommand) -> Result<(), CliError> {
    match command {
        TokenCommand::New {
            name,
            role,
            department,
            channels,
        } => new(context, name, role, department, channels),
        TokenCommand::Init { tokens, services } => {
            let outcome = init(&tokens, &services)?;
            let human = match &outcome {
                InitOutcome::Created {
                    admin_token,
                    service_tokens,
                } => {
                    let mut line = format!(
                        "created {}; the admin token is in {} (mode 0600)",
                        tokens.display(),
                        admin_token.display()
                    );
                    for (name, path) in service_tokens {
                        line.push_str(&format!("; {name}'s token is in {}", path.display()));
                    }
                    line.push('\n');
                    line
                }
                InitOutcome::Exists => {
                    format!("{} exists: left alone\n", tokens.display())
                }
            };
            let json = match &outcome {
                InitOutcome::Created {
                    admin_token,
                    service_tokens,
                } => json!({
                    "created": true,
                    "tokens": tokens,
                    "admin_token_file": admin_token,
                    "service_token_files": service_tokens
                        .iter()
                        .map(|(name, path)| (name.clone(), json!(path)))
                        .collect::<serde_json::Map<_, _>>(),
                }),
                InitOutcome::Exists => json!({"created": false, "tokens": tokens}),
            };
            context.print(&human, &json)
        }
    }
}

/// What `token init` did.
#[derive(Debug, PartialEq, Eq)]
pub enum InitOutcome {
    /// The tokens file was created; the token files, by principal name.
    Created {
        admin_token: PathBuf,
        service_tokens: Vec<(String, PathBuf)>,
    },
    /// The tokens file was there already: nothing was written.
    Exists,
}

/// A principal name given to `--service`: lower-case letters, digits, `.`, `_` and `-`, so
/// that `NAME.token` is a plain file name; not `admin`, which `init` creates itself.
fn check_service_name(name: &str) -> Result<(), CliError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(CliError::Usage(format!(
            "invalid --service {name:?}: use 1 to 64 lower-case letters, digits, '.', '_' or '-', \
             not starting with '.'"
        )));
    }
    if name == "admin" {
        return Err(CliError::Usage(
            "invalid --service \"admin\": init creates the admin principal itself".into(),
        ));
    }
    Ok(())
}

/// Creates `path` with `contents`, readable and writable by its owner only, failing when it
/// exists.
fn write_private(path: &Path, contents: &str) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(CliError::io(format!("create {}", path.display())))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(CliError::io(format!("write {}", path.display())))
}

/// `cloop token init --tokens FILE [--service NAME]...`.
///
/// The tokens file is the commit point: every file is first written under a temporary name in
/// the same folder, then the tokens file is linked into place (which fails if another start
/// created it meanwhile: then this one removes its files and leaves the other's alone), and
/// only then do the token files get their names. A crash before the link leaves temporary
/// files only; a crash after it leaves the tokens in their `.tmp-` files.
pub fn init(tokens: &Path, services: &[String]) -> Result<InitOutcome, CliError> {
    for name in services {
        check_service_name(name)?;
    }
    let mut seen = std::collections::BTreeSet::new();
    for name in services {
        if !seen.insert(name.as_str()) {
            return Err(CliError::Usage(format!(
                "invalid --service {name:?}: given twice"
            )));
        }
    }
    if tokens.exists() {
        return Ok(InitOutcome::Exists);
    }
    let file_name = tokens
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "invalid --tokens {}: not a file name",
                tokens.display()
            ))
        })?;
    let folder = match tokens.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !folder.is_dir() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&folder)
            .map_err(CliError::io(format!("create {}", folder.display())))?;
    }
    let mut suffix = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let suffix = format!("tmp-{}-{}", std::process::id(), hex::encode(suffix));

    let mut principals = vec![("admin".to_owned(), "admin")];
    principals.extend(services.iter().map(|name| (name.clone(), "service")));
    let mut contents = String::from(
        "# Created by `cloop token init`: the SHA-256 of each principal's token; the tokens\n\
         # are in the NAME.token files next to this one. Add principals with `cloop token new`.\n",
    );
    // (temporary path, final path) of each token file.
    let mut token_files = Vec::new();
    let mut written = Vec::new();
    let result = (|| {
        for (name, role) in &principals {
            let token = fresh_token();
            contents.push('\n');
            contents.push_str(&tokens_file_entry(name, role, None, &[], &token));
            let temporary = folder.join(format!(".{name}.token.{suffix}"));
            write_private(&temporary, &format!("{token}\n"))?;
            written.push(temporary.clone());
            token_files.push((
                name.clone(),
                temporary,
                folder.join(format!("{name}.token")),
            ));
        }
        let temporary = folder.join(format!(".{file_name}.{suffix}"));
        write_private(&temporary, &contents)?;
        written.push(temporary.clone());
        Ok::<PathBuf, CliError>(temporary)
    })();
    let remove_written = |written: &[PathBuf]| {
        for path in written {
            let _ = std::fs::remove_file(path);
        }
    };
    let temporary_tokens = match result {
        Ok(path) => path,
        Err(error) => {
            remove_written(&written);
            return Err(error);
        }
    };
    match std::fs::hard_link(&temporary_tokens, tokens) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            remove_written(&written);
            return Ok(InitOutcome::Exists);
        }
        Err(error) => {
            remove_written(&written);
            return Err(CliError::io(format!("create {}", tokens.display()))(error));
        }
    }
    let _ = std::fs::remove_file(&temporary_tokens);
    let mut service_tokens = Vec::new();
    let mut admin_token = PathBuf::new();
    for (name, temporary, path) in token_files {
        std::fs::rename(&temporary, &path).map_err(CliError::io(format!(
            "move {} to {}",
            temporary.display(),
            path.display()
        )))?;
        if name == "admin" {
            admin_token = path;
        } else {
            service_tokens.push((name, path));
        }
    }
    Ok(InitOutcome::Created {
        admin_token,
        service_tokens,
    })
}

/// `cloop token new`.
fn new(
    context: &Context,
    name: String,
    role: String,
    department: Option<String>,
    channels: Vec<String>,
) -> Result<(), CliError> {
    let name = name.trim().to_owned();
    let role = role.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(CliError::Usage("invalid --name: must not be empty".into()));
    }
    if !ROLES.contains(&role.as_str()) {
        return Err(CliError::Usage(format!(
            "invalid --role {role:?}: expected one of {}",
            ROLES.join(", ")
        )));
    }
    let department = department
        .map(|department| department.trim().to_owned())
        .filter(|department| !department.is_empty());
    let needs_department = matches!(role.as_str(), "agent" | "head");
    match (needs_department, &department) {
        (true, None) => return Err(CliError::Usage(format!("role {role} needs --department"))),
        (false, Some(_)) => {
            return Err(CliError::Usage(format!(
                "role {role} has no department: only agents and heads do"
            )))
        }
        _ => {}
    }
    let channels: Vec<String> = channels
        .iter()
        .map(|channel| channel.trim().to_owned())
        .collect();
    if channels.iter().any(String::is_empty) {
        return Err(CliError::Usage(
            "invalid --channel: must not be empty".into(),
        ));
    }
    if !channels.is_empty() && role != "adapter" {
        return Err(CliError::Usage(format!(
            "role {role} has no channels: only adapters are bound to channels"
        )));
    }
    let token = fresh_token();
    let entry = tokens_file_entry(&name, &role, department.as_deref(), &channels, &token);
    let human = format!(
        "token (shown once, give it to {name}):\n  {token}\n\nadd to the tokens file:\n\n{entry}"
    );
    let json = json!({
        "name": name,
        "role": role,
        "department": department,
        "channels": channels,
        "token": token,
        "token_sha256": hex::encode(Sha256::digest(token.as_bytes())),
        "tokens_file_entry": entry,
    });
    context.print(&human, &json)
}

#[cfg(test)]
mod tests {
    use super::tokens_file_entry;
    use expect_test::expect;

    #[test]
    fn the_entry_parses_as_the_tokens_file_expects() {
        let entry = tokens_file_entry("li.si", "agent", Some("logistics"), &[], "test");
        expect![[r#"
            [[principal]]
            name = "li.si"
            role = "agent"
            department = "logistics"
            token_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        "#]]
        .assert_eq(&entry);
        let parsed: toml::Table = toml::from_str(&entry).unwrap();
        assert!(parsed.contains_key("principal"));
    }

    #[test]
    fn an_adapter_bound_to_channels_is_read_back_by_the_services() {
        let channels = ["app".to_owned(), "wechat".to_owned()];
        let entry = tokens_file_entry("app-sdk", "adapter", None, &channels, "test");
        assert!(
            entry.contains("channels = [\"app\", \"wechat\"]\n"),
            "{entry}"
        );
        let registry = service::tokens::TokenRegistry::from_toml_str(&entry).unwrap();
        let adapter = registry.authenticate("test").unwrap();
        assert!(adapter.may_submit_on("wechat").is_ok());
        assert!(adapter.may_submit_on("web").is_err());
    }
}
