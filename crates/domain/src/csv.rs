//! CSV text split into records (RFC 4180): fields separated by commas, quoted with `"` when
//! they hold a comma, a quote or a line break, `""` for a quote inside quotes, `\r\n` or `\n`
//! between records. A byte order mark (as spreadsheets write) is not part of the first field;
//! blank lines are skipped. Both the command line's `submit --csv` and the classifier's
//! corpus read their files through this one reader.

/// Why CSV text could not be read, and on which line (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    pub line: usize,
    pub reason: &'static str,
}

/// The records of `text`, each with the line it starts on (from 1).
pub fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, CsvError> {
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut record_line = 1;
    let mut record_has_content = false;
    let mut characters = text.trim_start_matches('\u{feff}').chars().peekable();
    while let Some(character) = characters.next() {
        if quoted {
            match character {
                '"' if characters.peek() == Some(&'"') => {
                    characters.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                other => field.push(other),
            }
            continue;
        }
        match character {
            '"' if field.is_empty() => {
                quoted = true;
                record_has_content = true;
            }
            '"' => {
                return Err(CsvError {
                    line,
                    reason: "a quote inside an unquoted field",
                })
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                record_has_content = true;
            }
            '\r' if characters.peek() == Some(&'\n') => {}
            '\n' => {
                if record_has_content || !field.is_empty() {
                    record.push(std::mem::take(&mut field));
                    records.push((record_line, std::mem::take(&mut record)));
                }
                line += 1;
                record_line = line;
                record_has_content = false;
            }
            other => {
                field.push(other);
                record_has_content = true;
            }
        }
    }
    if quoted {
        return Err(CsvError {
            line,
            reason: "a quoted field is not closed",
        });
    }
    if record_has_content || !field.is_empty() {
        record.push(field);
        records.push((record_line, record));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_hold_commas_quotes_and_line_breaks() {
        let read = records("a,b\n\"x, \"\"y\"\"\",\"two\nlines\"\r\n\nlast,\n").expect("valid");
        assert_eq!(
            read,
            vec![
                (1, vec!["a".to_owned(), "b".to_owned()]),
                (2, vec!["x, \"y\"".to_owned(), "two\nlines".to_owned()]),
                (5, vec!["last".to_owned(), String::new()]),
            ]
        );
        assert_eq!(records("\u{feff}id,text").expect("valid")[0].1[0], "id");
    }

    #[test]
    fn stray_and_unclosed_quotes_are_refused_with_their_line() {
        assert_eq!(
            records("a,b\nx,\"open\n"),
            Err(CsvError {
                line: 3,
                reason: "a quoted field is not closed"
            })
        );
        assert_eq!(
            records("a,b\nsay \"hi\",x"),
            Err(CsvError {
                line: 2,
                reason: "a quote inside an unquoted field"
            })
        );
    }
}
