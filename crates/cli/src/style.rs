//! Colours for a terminal, and nothing for pipes: colour only when standard output is a
//! terminal, `--json` is off and `NO_COLOR` is unset or empty (https://no-color.org).

use std::io::IsTerminal;

/// Whether and how to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
}

/// The ANSI colours `cloop` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    Green,
    Yellow,
    Red,
    Bold,
    Dim,
    Cyan,
}

impl Paint {
    fn code(self) -> &'static str {
        match self {
            Paint::Green => "32",
            Paint::Yellow => "33",
            Paint::Red => "1;31",
            Paint::Bold => "1",
            Paint::Dim => "2",
            Paint::Cyan => "36",
        }
    }
}

impl Style {
    /// No colour at all (pipes, JSON, snapshot tests).
    pub const PLAIN: Style = Style { colour: false };

    /// Colour when standard output is a terminal and `NO_COLOR` is not set.
    pub fn detect(json: bool) -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        Style {
            colour: !json && !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// `text` in `paint`, or unchanged without colour.
    pub fn paint(&self, paint: Paint, text: &str) -> String {
        if self.colour && !text.is_empty() {
            format!("\u{1b}[{}m{text}\u{1b}[0m", paint.code())
        } else {
            text.to_owned()
        }
    }

    /// The colour of an SLA state name: on time green, warning yellow, breached red.
    pub fn sla(&self, state: &str) -> String {
        let paint = match state {
            "on_time" => Paint::Green,
            "warning" => Paint::Yellow,
            "breached" => Paint::Red,
            _ => return state.to_owned(),
        };
        self.paint(paint, state)
    }
}

/// Removes ANSI colour sequences, to measure or compare the visible text.
pub fn strip_ansi(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        if character == '\u{1b}' && characters.peek() == Some(&'[') {
            for next in characters.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(character);
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_when_asked() {
        let colour = Style { colour: true };
        assert_eq!(colour.sla("breached"), "\u{1b}[1;31mbreached\u{1b}[0m");
        assert_eq!(Style::PLAIN.sla("breached"), "breached");
        assert_eq!(strip_ansi(&colour.sla("warning")), "warning");
    }
}
