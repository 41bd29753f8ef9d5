//! The labelled corpus: a CSV file (RFC 4180: a header line, fields separated by commas,
//! quoted with `"` when they hold a comma, a quote or a line break, `""` for a quote),
//! read and checked against the configuration. Reading the file is the caller's.
//!
//! Columns: `id` (unique), `split` (`train` or `heldout`: held-out rows are never trained
//! on), `language` (`zh`, `en` or `mixed`), `text`, `kind`, `content_type`, `priority`,
//! `department` (configured values only), `product` (empty or a configured product) and
//! `channel` (a configured channel).

use std::collections::BTreeSet;

use super::train::Example;
use crate::config::DomainConfig;
use crate::types::{ContentType, Kind, Priority};
use crate::DomainError;

/// The corpus's columns, in order.
pub const COLUMNS: [&str; 10] = [
    "id",
    "split",
    "language",
    "text",
    "kind",
    "content_type",
    "priority",
    "department",
    "product",
    "channel",
];

/// Whether a row is trained on or kept for evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Heldout,
}

/// The language a row is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Language {
    Chinese,
    English,
    Mixed,
}

impl Language {
    /// The name used in the corpus.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Chinese => "zh",
            Language::English => "en",
            Language::Mixed => "mixed",
        }
    }
}

/// One row of the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusRow {
    pub id: String,
    pub split: Split,
    pub language: Language,
    pub example: Example,
    pub product: Option<String>,
    pub channel: String,
}

/// Splits CSV text into records of fields, each with the line it starts on.
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, DomainError> {
    crate::csv::records(text)
        .map_err(|error| DomainError::invalid(format!("corpus line {}", error.line), error.reason))
}

/// Reads and checks the corpus: the header, every value against `config`, unique ids and
/// texts. The error names the line and column.
pub fn parse(text: &str, config: &DomainConfig) -> Result<Vec<CorpusRow>, DomainError> {
    let records = parse_csv(text)?;
    let Some((_, header)) = records.first() else {
        return Err(DomainError::invalid("corpus", "the file is empty"));
    };
    if header.iter().map(String::as_str).ne(COLUMNS) {
        return Err(DomainError::invalid(
            "corpus line 1",
            format!("the header must be {}", COLUMNS.join(",")),
        ));
    }
    let mut ids = BTreeSet::new();
    let mut texts = BTreeSet::new();
    let mut rows = Vec::with_capacity(records.len());
    for (line, fields) in &records[1..] {
        let at = |column: &str| format!("corpus line {line} {column}");
        if fields.len() != COLUMNS.len() {
            return Err(DomainError::invalid(
                at("row"),
                format!("{} fields, expected {}", fields.len(), COLUMNS.len()),
            ));
        }
        let [id, split, language, text, kind, content_type, priority, department, product, channel] =
            std::array::from_fn(|index| fields[index].trim());
        if id.is_empty() || !ids.insert(id.to_owned()) {
            return Err(DomainError::invalid(
                at("id"),
                format!("{id:?} is empty or repeated"),
            ));
        }
        if text.is_empty() || !texts.insert(text.to_owned()) {
            return Err(DomainError::invalid(
                at("text"),
                "empty or the same as an earlier row",
            ));
        }
        let split = match split {
            "train" => Split::Train,
            "heldout" => Split::Heldout,
            other => {
                return Err(DomainError::invalid(
                    at("split"),
                    format!("{other:?}, expected train or heldout"),
                ))
            }
        };
        let language = match language {
            "zh" => Language::Chinese,
            "en" => Language::English,
            "mixed" => Language::Mixed,
            other => {
                return Err(DomainError::invalid(
                    at("language"),
                    format!("{other:?}, expected zh, en or mixed"),
                ))
            }
        };
        if !config.departments.contains_key(department) {
            return Err(DomainError::invalid(
                at("department"),
                format!("{department:?} is not a configured department"),
            ));
        }
        if !config.channels.iter().any(|known| known == channel) {
            return Err(DomainError::invalid(
                at("channel"),
                format!("{channel:?} is not a configured channel"),
            ));
        }
        if !product.is_empty() && !config.classification.products.iter().any(|p| p == product) {
            return Err(DomainError::invalid(
                at("product"),
                format!("{product:?} is not a configured product"),
            ));
        }
        rows.push(CorpusRow {
            id: id.to_owned(),
            split,
            language,
            example: Example {
                text: text.to_owned(),
                kind: Kind::parse(&at("kind"), kind)?,
                content_type: ContentType::parse(&at("content_type"), content_type)?,
                priority: Priority::parse(&at("priority"), priority)?,
                department: department.to_owned(),
                weight: 1.0,
                field_weights: [1.0; 4],
            },
            product: (!product.is_empty()).then(|| product.to_owned()),
            channel: channel.to_owned(),
        });
    }
    Ok(rows)
}

/// The examples of one split.
pub fn examples(rows: &[CorpusRow], split: Split) -> Vec<Example> {
    rows.iter()
        .filter(|row| row.split == split)
        .map(|row| row.example.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unconfigured_value_is_refused_with_its_line_and_column() {
        let config = DomainConfig::default();
        let header = COLUMNS.join(",");
        let good = "c1,train,zh,包裹丢了,complaint,service,medium,logistics,,app";
        assert_eq!(
            parse(&format!("{header}\n{good}\n"), &config)
                .expect("valid")
                .len(),
            1
        );
        let bad = "c2,train,zh,另一条,complaint,service,medium,legal,,app";
        let error = parse(&format!("{header}\n{good}\n{bad}\n"), &config).expect_err("legal");
        assert!(
            error.to_string().contains("corpus line 3 department"),
            "{error}"
        );
        let duplicate = "c2,train,zh,包裹丢了,complaint,service,medium,logistics,,app";
        assert!(parse(&format!("{header}\n{good}\n{duplicate}\n"), &config).is_err());
    }
}
