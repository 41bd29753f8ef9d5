//! Customer notices: the receipt text in Chinese or English with the ticket number and the
//! expected handling time, rendered from configured templates in the calendar's offset.

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, FixedOffset, Utc};

use crate::config::{Language, NoticesConfig};
use crate::error::DomainError;
use crate::types::Deadlines;

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &["ticket_id", "received_at", "respond_by", "resolve_by"];

/// One piece of a compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Placeholder(&'static str),
}

/// A template split into text and placeholders. `{{` and `}}` stand for literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Compiles a receipt template: the placeholders of [`PLACEHOLDERS`], `{ticket_id}`
    /// required; an unknown or unclosed placeholder is an error naming `key`.
    pub fn parse(key: &str, text: &str) -> Result<Self, DomainError> {
        let template = Self::parse_with(key, text, PLACEHOLDERS)?;
        if !template.pieces.contains(&Piece::Placeholder("ticket_id")) {
            return Err(DomainError::Config {
                key: key.to_owned(),
                reason: "the notice must contain {ticket_id}".to_owned(),
            });
        }
        Ok(template)
    }

    /// Compiles a template that may use the given placeholders; an unknown or unclosed
    /// placeholder is an error naming `key`.
    pub fn parse_with(
        key: &str,
        text: &str,
        placeholders: &'static [&'static str],
    ) -> Result<Self, DomainError> {
        let error = |reason: String| DomainError::Config {
            key: key.to_owned(),
            reason,
        };
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut characters = text.chars().peekable();
        while let Some(character) = characters.next() {
            match character {
                '{' if characters.peek() == Some(&'{') => {
                    characters.next();
                    literal.push('{');
                }
                '}' if characters.peek() == Some(&'}') => {
                    characters.next();
                    literal.push('}');
                }
                '{' => {
                    let mut name = String::new();
                    let mut closed = false;
                    for next in characters.by_ref() {
                        if next == '}' {
                            closed = true;
                            break;
                        }
                        name.push(next);
                    }
                    if !closed {
                        return Err(error(format!("placeholder {{{name} is not closed")));
                    }
                    let Some(known) = placeholders.iter().find(|known| **known == name.trim())
                    else {
                        return Err(error(format!(
                            "unknown placeholder {{{}}}, expected one of: {}",
                            name.trim(),
                            placeholders.join(", ")
                        )));
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Placeholder(known));
                }
                '}' => return Err(error("a lone } must be written }}".to_owned())),
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Self { pieces })
    }

    /// Renders the template; `value` gives each placeholder's text (none renders empty).
    pub fn render(&self, value: impl Fn(&str) -> Option<String>) -> String {
        let mut rendered = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => rendered.push_str(text),
                Piece::Placeholder(name) => {
                    if let Some(text) = value(name) {
                        rendered.push_str(&text);
                    }
                }
            }
        }
        rendered
    }
}

/// The notice templates, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Notices {
    default_language: Language,
    time_format: String,
    offset: FixedOffset,
    receipt_zh: Template,
    receipt_en: Template,
}

impl Language {
    /// Reads a language tag ("zh", "zh-CN", "en-US"); `None` for anything else.
    pub fn from_tag(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "zh" => Some(Language::Zh),
            "en" => Some(Language::En),
            _ => None,
        }
    }
}

impl Notices {
    /// Compiles the templates; the instants are rendered at `offset`, the calendar's.
    pub fn from_config(config: &NoticesConfig, offset: FixedOffset) -> Result<Self, DomainError> {
        if config.time_format.trim().is_empty()
            || StrftimeItems::new(&config.time_format).any(|item| matches!(item, Item::Error))
        {
            return Err(DomainError::Config {
                key: "notices.time_format".to_owned(),
                reason: format!("{:?} is not a valid strftime format", config.time_format),
            });
        }
        Ok(Self {
            default_language: config.default_language,
            time_format: config.time_format.clone(),
            offset,
            receipt_zh: Template::parse("notices.receipt_zh", &config.receipt_zh)?,
            receipt_en: Template::parse("notices.receipt_en", &config.receipt_en)?,
        })
    }

    /// The language used when a submission does not name one.
    pub fn default_language(&self) -> Language {
        self.default_language
    }

    fn render_instant(&self, instant: DateTime<Utc>) -> String {
        instant
            .with_timezone(&self.offset)
            .format(&self.time_format)
            .to_string()
    }

    /// The receipt notice: ticket number and expected handling time.
    pub fn receipt(
        &self,
        language: Option<Language>,
        ticket_id: &str,
        received_at: DateTime<Utc>,
        deadlines: &Deadlines,
    ) -> String {
        let template = match language.unwrap_or(self.default_language) {
            Language::Zh => &self.receipt_zh,
            Language::En => &self.receipt_en,
        };
        template.render(|name| match name {
            "ticket_id" => Some(ticket_id.to_owned()),
            "received_at" => Some(self.render_instant(received_at)),
            "respond_by" => Some(self.render_instant(deadlines.respond_by)),
            "resolve_by" => Some(self.render_instant(deadlines.resolve_by)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_reason(text: &str) -> String {
        match Template::parse("notices.receipt_zh", text) {
            Err(DomainError::Config { key, reason }) => {
                assert_eq!(key, "notices.receipt_zh");
                reason
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }

    #[test]
    fn templates_split_into_text_and_placeholders() {
        let template =
            Template::parse("key", "#{ticket_id} {{x}} by { respond_by }").expect("valid template");
        assert_eq!(
            template.pieces,
            vec![
                Piece::Text("#".into()),
                Piece::Placeholder("ticket_id"),
                Piece::Text(" {x} by ".into()),
                Piece::Placeholder("respond_by"),
            ]
        );
    }

    #[test]
    fn bad_templates_are_configuration_errors() {
        assert!(error_reason("{ticket_id} {deadline}").contains("unknown placeholder {deadline}"));
        assert!(error_reason("{ticket_id} {respond_by").contains("not closed"));
        assert!(error_reason("{ticket_id} }").contains("lone }"));
        assert!(error_reason("no number here").contains("{ticket_id}"));
    }
}
