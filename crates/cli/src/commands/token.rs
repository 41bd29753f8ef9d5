//! `cloop token new`: a fresh random token and the tokens-file entry that admits it. Only the
//! SHA-256 goes into the file; the token itself is shown once.

use super::Context;
use crate::args::TokenCommand;
use crate::error::CliError;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The roles a tokens file may name (`system` is the services' own).
const ROLES: &[&str] = &[
    "adapter", "agent", "head", "service", "manager", "auditor", "admin",
];

/// Quotes a TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// The entry for the tokens file.
pub fn tokens_file_entry(name: &str, role: &str, department: Option<&str>, token: &str) -> String {
    let mut entry = format!(
        "[[principal]]\nname = {}\nrole = {}\n",
        toml_string(name),
        toml_string(role)
    );
    if let Some(department) = department {
        entry.push_str(&format!("department = {}\n", toml_string(department)));
    }
    entry.push_str(&format!(
        "token_sha256 = \"{}\"\n",
        hex::encode(Sha256::digest(token.as_bytes()))
    ));
    entry
}

/// Runs `cloop token ...`.
pub fn run(context: &Context, command: TokenCommand) -> Result<(), CliError> {
    let TokenCommand::New {
        name,
        role,
        department,
    } = command;
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
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("cloop_{}", hex::encode(bytes));
    let entry = tokens_file_entry(&name, &role, department.as_deref(), &token);
    let human = format!(
        "token (shown once, give it to {name}):\n  {token}\n\nadd to the tokens file:\n\n{entry}"
    );
    let json = json!({
        "name": name,
        "role": role,
        "department": department,
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
        let entry = tokens_file_entry("li.si", "agent", Some("logistics"), "test");
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
}
