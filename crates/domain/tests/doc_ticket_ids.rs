//! Every ticket number the documentation shows (README.md and docs/*.md) is one a reader can
//! type back: it passes its own check symbol. A sample id with a wrong check symbol teaches
//! people that the check does not matter.

use domain::ids::TicketId;
use std::path::{Path, PathBuf};

/// The documents a new user reads: the README and every page under docs/.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut paths = vec![root.join("README.md")];
    let docs = std::fs::read_dir(root.join("docs")).expect("docs/ is readable");
    for entry in docs {
        let path = entry.expect("a docs/ entry").path();
        if path.extension().is_some_and(|extension| extension == "md") {
            paths.push(path);
        }
    }
    paths.sort();
    paths
}

/// The words of `text` shaped like a ticket id: `YYMMDD-XXXXX-XXXXXX` in canonical form.
fn id_shaped_words(text: &str) -> Vec<&str> {
    text.split(|character: char| !(character.is_ascii_alphanumeric() || character == '-'))
        .filter(|word| {
            let groups: Vec<&str> = word.split('-').collect();
            groups.len() == 3
                && groups[0].len() == 6
                && groups[0].bytes().all(|byte| byte.is_ascii_digit())
                && groups[1].len() == 5
                && groups[2].len() == 6
                && groups[1..].iter().all(|group| {
                    group
                        .bytes()
                        .all(|byte| byte.is_ascii_digit() || byte.is_ascii_uppercase())
                })
        })
        .collect()
}

#[test]
fn every_sample_ticket_id_in_the_docs_passes_its_check_symbol() {
    let mut checked = 0;
    let mut bad = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).expect("a readable document");
        for (number, line) in text.lines().enumerate() {
            for word in id_shaped_words(line) {
                checked += 1;
                if let Err(error) = TicketId::parse(word) {
                    bad.push(format!(
                        "{}:{}: {word}: {error}",
                        path.display(),
                        number + 1
                    ));
                }
            }
        }
    }
    assert!(
        checked >= 5,
        "only {checked} sample ids found: is the scan broken?"
    );
    assert!(
        bad.is_empty(),
        "sample ids that fail their check:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_scan_finds_ids_in_prose_and_code() {
    assert_eq!(
        id_shaped_words("工单号 261123-8SV3V-G0000F，`cloop ack 261102-8A0JR-00000J`"),
        ["261123-8SV3V-G0000F", "261102-8A0JR-00000J"]
    );
    assert!(id_shaped_words("2026-11-23 and feedback-v1-stream").is_empty());
}
