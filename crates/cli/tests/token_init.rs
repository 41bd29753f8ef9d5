//! `cloop token init`: the first start of a deployment, run as the real binary on a temporary
//! folder. The tokens file it writes must admit exactly the tokens in the files next to it,
//! those files must be private, nothing secret may reach standard output, and a second run
//! must change nothing.

use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};

fn cloop(arguments: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cloop"))
        .args(arguments)
        .env_remove("CLOOP_TOKEN")
        .output()
        .expect("run cloop")
}

/// `cloop token init --tokens TOKENS` with a `--service` for each of `services`.
fn token_init(tokens: &str, services: &[&str]) -> Output {
    let mut arguments = vec!["token", "init", "--tokens", tokens];
    for service in services {
        arguments.extend(["--service", service]);
    }
    cloop(&arguments)
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The principals of a tokens file: (name, role, token_sha256).
fn principals(path: &Path) -> Vec<(String, String, String)> {
    let table: toml::Table =
        toml::from_str(&std::fs::read_to_string(path).expect("read tokens")).expect("toml");
    table["principal"]
        .as_array()
        .expect("principal array")
        .iter()
        .map(|p| {
            let field = |key: &str| p[key].as_str().expect("string field").to_owned();
            (field("name"), field("role"), field("token_sha256"))
        })
        .collect()
}

fn read_token(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("read token file")
        .trim_end()
        .to_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn init_creates_the_admin_and_service_tokens_and_prints_only_where_they_are() {
    let folder = tempfile::tempdir().expect("tempdir");
    let secrets = folder.path().join("secrets");
    let tokens = secrets.join("tokens.toml");
    let tokens_arg = tokens.to_str().expect("utf-8 path");
    let output = token_init(tokens_arg, &["notify"]);
    assert!(output.status.success(), "{}", text(&output));

    let admin_file = secrets.join("admin.token");
    let notify_file = secrets.join("notify.token");
    let admin = read_token(&admin_file);
    let notify = read_token(&notify_file);
    assert!(
        admin.starts_with("cloop_") && admin.len() == 6 + 64,
        "{admin}"
    );
    assert!(notify.starts_with("cloop_") && notify.len() == 6 + 64);
    assert_ne!(admin, notify);

    // One line saying where the admin token is; the tokens themselves never printed.
    let printed = text(&output);
    assert_eq!(printed.lines().count(), 1, "{printed}");
    assert!(
        printed.contains(admin_file.to_str().expect("utf-8")),
        "{printed}"
    );
    assert!(!printed.contains(&admin) && !printed.contains(&notify));

    // The tokens file admits exactly these two tokens, with these roles.
    let sha = |token: &str| hex::encode(Sha256::digest(token.as_bytes()));
    let mut found = principals(&tokens);
    found.sort();
    assert_eq!(
        found,
        vec![
            ("admin".to_owned(), "admin".to_owned(), sha(&admin)),
            ("notify".to_owned(), "service".to_owned(), sha(&notify)),
        ]
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&admin_file), 0o600);
        assert_eq!(mode(&notify_file), 0o600);
        assert_eq!(mode(&tokens), 0o600);
    }
    // Nothing but the three files is left in the folder (no temporary files).
    let mut names: Vec<String> = std::fs::read_dir(&secrets)
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, ["admin.token", "notify.token", "tokens.toml"]);

    // A second start leaves everything alone, and says so.
    let before = std::fs::read_to_string(&tokens).expect("read");
    let again = token_init(tokens_arg, &["notify"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(text(&again).contains("left alone"), "{}", text(&again));
    assert_eq!(std::fs::read_to_string(&tokens).expect("read"), before);
    assert_eq!(read_token(&admin_file), admin);
    assert_eq!(read_token(&notify_file), notify);
}

#[test]
fn an_existing_tokens_file_is_never_overwritten() {
    let folder = tempfile::tempdir().expect("tempdir");
    let tokens = folder.path().join("tokens.toml");
    std::fs::write(&tokens, "# the operator's own\n").expect("write");
    let output = cloop(&[
        "--json",
        "token",
        "init",
        "--tokens",
        tokens.to_str().expect("utf-8"),
    ]);
    assert!(output.status.success(), "{}", text(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(json["created"], false);
    assert_eq!(
        std::fs::read_to_string(&tokens).expect("read"),
        "# the operator's own\n"
    );
    assert!(!folder.path().join("admin.token").exists());
}

#[test]
fn bad_service_names_are_refused_naming_the_flag() {
    let folder = tempfile::tempdir().expect("tempdir");
    let tokens = folder.path().join("tokens.toml");
    let tokens_arg = tokens.to_str().expect("utf-8");
    for (name, reason) in [
        ("../etc", "lower-case letters"),
        ("Notify", "lower-case letters"),
        ("", "lower-case letters"),
        ("admin", "creates the admin principal itself"),
    ] {
        let output = token_init(tokens_arg, &[name]);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", text(&output));
        let message = text(&output);
        assert!(message.contains("--service"), "{message}");
        assert!(message.contains(reason), "{name}: {message}");
    }
    let twice = token_init(tokens_arg, &["notify", "notify"]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(text(&twice).contains("given twice"));
    // Nothing was written by any refused run.
    assert_eq!(
        std::fs::read_dir(folder.path()).expect("read_dir").count(),
        0
    );
}
