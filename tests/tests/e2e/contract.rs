//! `docs/api.md`, the public contract as this repository serves it, is kept true: every
//! service and RPC of the `.proto` files, and every flag and environment variable that a
//! program's `--help` lists, is named there. A new flag or RPC without a line in the contract
//! fails here.

use std::collections::BTreeSet;
use std::process::Command;

fn contract() -> String {
    std::fs::read_to_string(e2e::workspace_root().join("docs/api.md")).expect("read docs/api.md")
}

/// Whether `name` stands in `text` as a whole word (not as part of a longer name).
fn names(text: &str, name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

#[test]
fn every_service_and_rpc_of_the_protos_is_in_the_contract() {
    let contract = contract();
    let dir = e2e::workspace_root().join("proto/feedback/v1");
    let mut missing = BTreeSet::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("read the proto folder") {
        let path = entry.expect("proto entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("proto") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read a proto file");
        for line in text.lines().map(str::trim) {
            let name = if let Some(rest) = line.strip_prefix("service ") {
                rest.split_whitespace().next()
            } else if let Some(rest) = line.strip_prefix("rpc ") {
                rest.split('(').next()
            } else {
                None
            };
            if let Some(name) = name {
                seen += 1;
                if !names(&contract, name.trim()) {
                    missing.insert(format!("{}: {name}", path.display()));
                }
            }
        }
    }
    assert!(
        seen >= 30,
        "only {seen} services and RPCs found in {}",
        dir.display()
    );
    assert!(missing.is_empty(), "not in docs/api.md:\n{missing:#?}");
}

#[test]
fn every_flag_and_variable_of_every_program_is_in_the_contract() {
    let contract = contract();
    let mut missing = BTreeSet::new();
    for program in [
        "cloop-intake",
        "cloop-workflow",
        "cloop-notify",
        "cloop-webhook",
        "cloop",
    ] {
        let output = Command::new(e2e::bin_path(program))
            .arg("--help")
            .output()
            .expect("run --help");
        assert!(output.status.success(), "{program} --help failed");
        let help = String::from_utf8_lossy(&output.stdout);
        let mut flags = 0;
        for word in help.split(|c: char| c.is_whitespace() || c == '[' || c == ']') {
            let word = word.trim_end_matches([',', '=', '.']);
            let flag = word.starts_with("--")
                && word.len() > 3
                && word[2..]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '-');
            let variable = word.starts_with("CLOOP_")
                && word.chars().all(|c| c.is_ascii_uppercase() || c == '_');
            if flag || variable {
                flags += 1;
                if !names(&contract, word) {
                    missing.insert(format!("{program}: {word}"));
                }
            }
        }
        assert!(
            flags > 4,
            "{program} --help lists only {flags} flags:\n{help}"
        );
    }
    assert!(missing.is_empty(), "not in docs/api.md:\n{missing:#?}");
}
