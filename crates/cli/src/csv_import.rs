//! Reading submissions from a CSV file for `cloop submit --csv`: RFC 4180 fields (quotes,
//! doubled quotes, line breaks inside quotes), a header row naming the columns, and one
//! `SubmitRequest` per row.
//!
//! Columns (any order, unknown ones refused): `channel`, `content`, `external_id`,
//! `customer_id`, `name`, `phone`, `email`, `wechat_openid`, `occurred_at` (RFC 3339),
//! `product`, `order_id`, `language` (zh, en), and `attr.<key>` for attributes.

use crate::error::CliError;
use crate::names::parse_language;
use proto::v1;

/// Splits CSV text into rows of fields.
pub fn parse_rows(text: &str) -> Result<Vec<Vec<String>>, CliError> {
    domain::csv::records(text)
        .map(|records| records.into_iter().map(|(_, fields)| fields).collect())
        .map_err(|error| CliError::Usage(format!("csv line {}: {}", error.line, error.reason)))
}

const COLUMNS: &[&str] = &[
    "channel",
    "content",
    "external_id",
    "customer_id",
    "name",
    "phone",
    "email",
    "wechat_openid",
    "occurred_at",
    "product",
    "order_id",
    "language",
];

/// Parses an RFC 3339 instant into a protobuf timestamp.
pub fn parse_timestamp(field: &str, text: &str) -> Result<prost_types::Timestamp, CliError> {
    let instant = chrono::DateTime::parse_from_rfc3339(text.trim()).map_err(|error| {
        CliError::Usage(format!(
            "invalid {field} {text:?}: {error} (expected RFC 3339, e.g. 2026-11-02T10:00:00+08:00)"
        ))
    })?;
    Ok(proto::time::timestamp(instant.to_utc()))
}

/// The submissions of a CSV file's text, one per data row, in order.
pub fn submissions(text: &str) -> Result<Vec<v1::SubmitRequest>, CliError> {
    let mut rows = parse_rows(text)?.into_iter();
    let header = rows
        .next()
        .ok_or_else(|| CliError::Usage("the csv file is empty: a header row is needed".into()))?;
    let header: Vec<String> = header
        .iter()
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    for name in &header {
        if !COLUMNS.contains(&name.as_str()) && !name.starts_with("attr.") {
            return Err(CliError::Usage(format!(
                "unknown csv column {name:?}; columns are {} and attr.<key>",
                COLUMNS.join(", ")
            )));
        }
    }
    for required in ["channel", "content"] {
        if !header.iter().any(|name| name == required) {
            return Err(CliError::Usage(format!(
                "the csv file has no {required} column"
            )));
        }
    }
    let mut requests = Vec::new();
    for (index, row) in rows.enumerate() {
        let row_number = index + 2;
        if row.len() != header.len() {
            return Err(CliError::Usage(format!(
                "csv row {row_number}: {} fields, the header has {}",
                row.len(),
                header.len()
            )));
        }
        let mut request = v1::SubmitRequest::default();
        let mut customer = v1::Customer::default();
        for (name, value) in header.iter().zip(row) {
            let value = value.trim().to_owned();
            match name.as_str() {
                "channel" => request.channel = value,
                "content" => request.content = value,
                "external_id" => request.external_id = value,
                "customer_id" => customer.customer_id = value,
                "name" => customer.name = value,
                "phone" => customer.phone = value,
                "email" => customer.email = value,
                "wechat_openid" => customer.wechat_openid = value,
                "occurred_at" if value.is_empty() => {}
                "occurred_at" => {
                    request.occurred_at =
                        Some(parse_timestamp("occurred_at", &value).map_err(|error| {
                            CliError::Usage(format!("csv row {row_number}: {error}"))
                        })?)
                }
                "product" => request.product = value,
                "order_id" => request.order_id = value,
                "language" if value.is_empty() => {}
                "language" => {
                    request.language = parse_language(&value).map_err(|error| {
                        CliError::Usage(format!("csv row {row_number}: {error}"))
                    })? as i32
                }
                attribute => {
                    let key = attribute.trim_start_matches("attr.").to_owned();
                    if !value.is_empty() {
                        request.attributes.insert(key, value);
                    }
                }
            }
        }
        request.customer = Some(customer);
        requests.push(request);
    }
    Ok(requests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_with_commas_quotes_and_line_breaks() {
        let rows = parse_rows("a,b\n\"x, y\",\"say \"\"hi\"\"\nagain\"\r\nplain,\n").unwrap();
        assert_eq!(
            rows,
            vec![
                vec!["a".to_owned(), "b".to_owned()],
                vec!["x, y".to_owned(), "say \"hi\"\nagain".to_owned()],
                vec!["plain".to_owned(), String::new()],
            ]
        );
    }

    #[test]
    fn rows_become_submissions() {
        let text = "\u{feff}channel,content,phone,attr.store,occurred_at\n\
                    hotline,\"APP卡顿, 无法下单\",13800138000,上海一店,2026-11-02T10:00:00+08:00\n\
                    web,退款慢,,,\n";
        let requests = submissions(text).unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].channel, "hotline");
        assert_eq!(requests[0].content, "APP卡顿, 无法下单");
        assert_eq!(requests[0].customer.as_ref().unwrap().phone, "13800138000");
        assert_eq!(
            requests[0].attributes.get("store").map(String::as_str),
            Some("上海一店")
        );
        assert_eq!(
            requests[0].occurred_at.as_ref().unwrap().seconds,
            1_793_584_800
        );
        assert!(requests[1].attributes.is_empty());
        assert!(requests[1].occurred_at.is_none());
    }

    #[test]
    fn bad_files_are_refused_with_the_row() {
        assert!(submissions("").is_err());
        let unknown = submissions("channel,content,colour\nweb,x,red\n").unwrap_err();
        assert!(unknown
            .to_string()
            .starts_with("unknown csv column \"colour\""));
        let short = submissions("channel,content\nweb\n").unwrap_err();
        assert_eq!(short.to_string(), "csv row 2: 1 fields, the header has 2");
        assert!(parse_rows("a,\"open\n").is_err());
    }
}
