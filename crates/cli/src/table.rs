//! Aligned text tables measured in display width, so that Chinese text (two columns per
//! character) lines up with Latin text, and long cells are cut with an ellipsis.

use crate::style::strip_ansi;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A table: headers, then rows of cells. Cells may carry ANSI colour; widths are measured
/// on the visible text.
#[derive(Debug, Clone, Default)]
pub struct Table {
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

/// The visible width of `text` in terminal columns (colour codes take none).
pub fn display_width(text: &str) -> usize {
    UnicodeWidthStr::width(strip_ansi(text).as_str())
}

/// Cuts `text` to at most `max` display columns, ending with "…" when cut. Line breaks
/// become spaces.
pub fn truncate(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect();
    if UnicodeWidthStr::width(flat.as_str()) <= max {
        return flat;
    }
    let mut cut = String::new();
    let mut width = 0;
    for character in flat.chars() {
        let character_width = character.width().unwrap_or(0);
        if width + character_width + 1 > max {
            break;
        }
        width += character_width;
        cut.push(character);
    }
    cut.push('…');
    cut
}

impl Table {
    /// A table with these column headers, all left-aligned.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|header| (*header).to_owned()).collect(),
            align: vec![Align::Left; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Right-aligns the columns at these indexes (numbers).
    pub fn right(mut self, columns: &[usize]) -> Self {
        for column in columns {
            if let Some(align) = self.align.get_mut(*column) {
                *align = Align::Right;
            }
        }
        self
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.headers.len(), String::new());
        self.rows.push(cells);
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text: a header line, a rule, the rows; two spaces between columns, no
    /// trailing spaces.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self
            .headers
            .iter()
            .map(|header| display_width(header))
            .collect();
        for row in &self.rows {
            for (index, cell) in row.iter().enumerate() {
                widths[index] = widths[index].max(display_width(cell));
            }
        }
        let mut text = String::new();
        let render_line = |cells: &[String], text: &mut String| {
            let mut line = String::new();
            for (index, cell) in cells.iter().enumerate() {
                if index > 0 {
                    line.push_str("  ");
                }
                let padding = widths[index].saturating_sub(display_width(cell));
                match self.align[index] {
                    Align::Left => {
                        line.push_str(cell);
                        line.push_str(&" ".repeat(padding));
                    }
                    Align::Right => {
                        line.push_str(&" ".repeat(padding));
                        line.push_str(cell);
                    }
                }
            }
            text.push_str(line.trim_end());
            text.push('\n');
        };
        render_line(&self.headers, &mut text);
        let rule: Vec<String> = widths.iter().map(|width| "─".repeat(*width)).collect();
        render_line(&rule, &mut text);
        for row in &self.rows {
            render_line(row, &mut text);
        }
        text
    }
}

/// Key-value lines with the keys padded to one width.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(key, _)| display_width(key))
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for (key, value) in pairs {
        let padding = width - display_width(key);
        text.push_str(key);
        text.push(':');
        text.push_str(&" ".repeat(padding + 1));
        text.push_str(value);
        text.truncate(text.trim_end().len());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn chinese_text_is_aligned_by_display_width() {
        let mut table = Table::new(&["内容", "n"]).right(&[1]);
        table.row(vec!["APP卡顿".into(), "5".into()]);
        table.row(vec!["app is slow".into(), "12".into()]);
        table.row(vec!["售后响应慢".into(), "3".into()]);
        expect![[r#"
            内容          n
            ───────────  ──
            APP卡顿       5
            app is slow  12
            售后响应慢    3
        "#]]
        .assert_eq(&table.render());
    }

    #[test]
    fn long_cells_are_cut_by_width() {
        assert_eq!(truncate("退款一直没有到账", 9), "退款一直…");
        assert_eq!(truncate("short", 9), "short");
        assert_eq!(truncate("line\nbreak", 20), "line break");
        assert_eq!(display_width(&truncate("退款一直没有到账", 9)), 9);
    }
}
