//! The stable lowercase names of the protobuf enums (`complaint`, `on_time`, `handle`), as the
//! CLI prints and parses them: the same names as the domain vocabulary and the JSON output.

use crate::error::CliError;
use proto::v1;

/// The lowercase name of a protobuf enum value: its `STR_NAME` without the type prefix; empty
/// for the unspecified value or an unknown number.
fn strip(str_name: &str, prefix: &str) -> String {
    let name = str_name.strip_prefix(prefix).unwrap_or(str_name);
    if name == "UNSPECIFIED" {
        String::new()
    } else {
        name.to_ascii_lowercase()
    }
}

macro_rules! enum_names {
    ($text:ident, $parse:ident, $type:ty, $prefix:literal, $field:literal) => {
        /// The lowercase name of a value of this enum, empty when unspecified.
        pub fn $text(value: i32) -> String {
            <$type>::try_from(value)
                .map(|known| strip(known.as_str_name(), $prefix))
                .unwrap_or_default()
        }

        /// Parses the lowercase name (or the full `STR_NAME`) of this enum.
        pub fn $parse(text: &str) -> Result<$type, CliError> {
            let upper = text.trim().to_ascii_uppercase().replace('-', "_");
            let full = if upper.starts_with($prefix) {
                upper
            } else {
                format!("{}{upper}", $prefix)
            };
            match <$type>::from_str_name(&full) {
                Some(value) if value as i32 != 0 => Ok(value),
                _ => Err(CliError::Usage(format!(
                    "invalid {}: {text:?} is not one of {}",
                    $field,
                    (1..=12)
                        .filter_map(|number| <$type>::try_from(number).ok())
                        .map(|value| strip(value.as_str_name(), $prefix))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
    };
}

enum_names!(step_text, parse_step, v1::Step, "STEP_", "step");
enum_names!(kind_text, parse_kind, v1::Kind, "KIND_", "kind");
enum_names!(
    content_type_text,
    parse_content_type,
    v1::ContentType,
    "CONTENT_TYPE_",
    "content type"
);
enum_names!(
    priority_text,
    parse_priority,
    v1::Priority,
    "PRIORITY_",
    "priority"
);
enum_names!(scope_text, parse_scope, v1::Scope, "SCOPE_", "scope");
enum_names!(
    outcome_text,
    parse_outcome,
    v1::Outcome,
    "OUTCOME_",
    "outcome"
);
enum_names!(
    sla_text,
    parse_sla_state,
    v1::SlaState,
    "SLA_STATE_",
    "sla state"
);
enum_names!(role_text, parse_role, v1::Role, "ROLE_", "role");
enum_names!(
    language_text,
    parse_language,
    v1::Language,
    "LANGUAGE_",
    "language"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(kind_text(v1::Kind::Complaint as i32), "complaint");
        assert_eq!(sla_text(v1::SlaState::OnTime as i32), "on_time");
        assert_eq!(content_type_text(0), "");
        assert_eq!(parse_sla_state("on-time").unwrap(), v1::SlaState::OnTime);
        assert_eq!(parse_priority("URGENT").unwrap(), v1::Priority::Urgent);
        let error = parse_kind("rant").unwrap_err().to_string();
        assert_eq!(
            error,
            "invalid kind: \"rant\" is not one of suggestion, complaint, problem, inquiry, praise"
        );
        assert!(parse_kind("unspecified").is_err());
    }
}
