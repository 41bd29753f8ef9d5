//! The people report as CSV (one tidy table, `section,key,metric,value`, like the monthly
//! report's) and as one self-contained HTML page with its charts, in Chinese or English.

use crate::lang::Lang;
use crate::people::{PeopleReport, PersonFigures};
use crate::sections::{human_duration, percent};
use crate::svg::{bar_chart, escape, paired_bar_chart, Bar, PALETTE};
use std::fmt::Write;

const STYLE: &str = "\
body{font-family:-apple-system,'Segoe UI','Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}\
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.meta{color:#555;font-size:13px}.muted{fill:#888;color:#888}\
table{border-collapse:collapse;font-size:13px;margin:6px 0}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f4f4f4}\
td.text,th.text{text-align:left}\
.grid{display:flex;flex-wrap:wrap;gap:24px}.grid>div{flex:1 1 460px}\
svg.chart text{font-size:12px;fill:#222}\
";

/// Quotes a CSV field when it holds a comma, a quote or a line break (RFC 4180).
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// A rate for a table: "–" when nothing was due.
fn rate(value: f64, denominator: u64) -> String {
    if denominator == 0 {
        "–".to_owned()
    } else {
        percent(value)
    }
}

fn duration(milliseconds: Option<i64>) -> String {
    milliseconds.map_or_else(|| "–".to_owned(), human_duration)
}

/// The columns of the people table: the English and Chinese heading, and the cell.
type Column = (&'static str, &'static str, fn(&PersonFigures) -> String);

/// The people table's columns, in order (the person and department come first).
pub const PEOPLE_COLUMNS: &[Column] = &[
    ("tickets", "工单", |row| row.tickets_assigned.to_string()),
    ("responses on time", "按时响应", |row| {
        format!("{} / {}", row.responded_on_time, row.response_due)
    }),
    ("response on time", "响应及时率", |row| {
        rate(row.response_on_time_rate, row.response_due)
    }),
    (
        "median first response (working)",
        "首次响应中位数（工作时间）",
        |row| duration(row.median_first_response_working_ms),
    ),
    (
        "p90 first response (working)",
        "首次响应 P90（工作时间）",
        |row| duration(row.p90_first_response_working_ms),
    ),
    ("resolution rate", "解决率", |row| {
        rate(row.resolution_rate, row.tickets_assigned)
    }),
    ("resolved on time", "按时解决", |row| {
        format!("{} / {}", row.resolved_on_time, row.resolution_due)
    }),
    ("satisfaction", "满意度", |row| {
        if row.reviews == 0 {
            "–".to_owned()
        } else {
            format!("{:.2}", row.satisfaction_mean)
        }
    }),
    ("satisfied", "满意占比", |row| {
        rate(row.share_satisfied, row.reviews)
    }),
    ("reopened", "重开", |row| row.reopened.to_string()),
    ("transfers away", "转出", |row| {
        row.transfers_away.to_string()
    }),
];

impl PeopleReport {
    /// The report as CSV: `section,key,metric,value`, one row per figure, the key
    /// `department/person`.
    pub fn to_csv(&self) -> String {
        let mut text = String::from("section,key,metric,value\n");
        let mut push = |section: &str, key: &str, metric: &str, value: String| {
            let _ = writeln!(
                text,
                "{},{},{},{}",
                field(section),
                field(key),
                field(metric),
                field(&value)
            );
        };
        push("report", "period", "value", self.period.to_string());
        push(
            "report",
            "period_start",
            "value",
            self.period_start.to_rfc3339(),
        );
        push(
            "report",
            "period_end",
            "value",
            self.period_end.to_rfc3339(),
        );
        push(
            "report",
            "log_position",
            "value",
            self.log_position.to_string(),
        );
        push(
            "report",
            "config_version",
            "value",
            self.config_version.clone(),
        );
        push("report", "as_of", "value", self.as_of.to_rfc3339());
        for row in &self.people {
            let key = format!("{}/{}", row.department, row.person);
            let optional = |value: Option<i64>| value.map(|ms| ms.to_string()).unwrap_or_default();
            let figures: [(&str, String); 19] = [
                ("tickets_assigned", row.tickets_assigned.to_string()),
                ("response_due", row.response_due.to_string()),
                ("responded", row.responded.to_string()),
                ("responded_on_time", row.responded_on_time.to_string()),
                (
                    "response_on_time_rate",
                    row.response_on_time_rate.to_string(),
                ),
                (
                    "median_first_response_working_ms",
                    optional(row.median_first_response_working_ms),
                ),
                (
                    "p90_first_response_working_ms",
                    optional(row.p90_first_response_working_ms),
                ),
                ("resolved", row.resolved.to_string()),
                ("resolution_rate", row.resolution_rate.to_string()),
                ("resolution_due", row.resolution_due.to_string()),
                ("resolved_on_time", row.resolved_on_time.to_string()),
                (
                    "resolution_on_time_rate",
                    row.resolution_on_time_rate.to_string(),
                ),
                ("reviews", row.reviews.to_string()),
                ("satisfaction_mean", row.satisfaction_mean.to_string()),
                ("satisfied", row.satisfied.to_string()),
                ("share_satisfied", row.share_satisfied.to_string()),
                ("reopened", row.reopened.to_string()),
                ("transfers_away", row.transfers_away.to_string()),
                ("department", row.department.clone()),
            ];
            for (metric, value) in figures {
                push("person", &key, metric, value);
            }
        }
        text
    }

    /// An instant of the report in the business calendar's zone: "2026-04-01 00:00 +08:00".
    pub fn local_time(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        let local_midnight = self.period.first_day().and_hms_opt(0, 0, 0);
        let seconds = local_midnight.map_or(0, |midnight| {
            (midnight - self.period_start.naive_utc()).num_seconds()
        });
        let offset = i32::try_from(seconds)
            .ok()
            .and_then(chrono::FixedOffset::east_opt)
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC is an offset"));
        at.with_timezone(&offset)
            .format("%Y-%m-%d %H:%M %:z")
            .to_string()
    }

    /// The people table alone (an HTML `<table>`), for the console's pages and the report.
    pub fn table_html(&self, lang: Lang) -> String {
        let mut html = String::from(r#"<table id="people"><thead><tr>"#);
        let _ = write!(
            html,
            r#"<th class="text">{}</th><th class="text">{}</th>"#,
            lang.pick("人员", "person"),
            lang.pick("部门", "department")
        );
        for (english, chinese, _) in PEOPLE_COLUMNS {
            let _ = write!(html, "<th>{}</th>", lang.pick(*chinese, *english));
        }
        html.push_str("</tr></thead><tbody>");
        if self.people.is_empty() {
            let _ = write!(
                html,
                r#"<tr><td class="text" colspan="{}">{}</td></tr>"#,
                PEOPLE_COLUMNS.len() + 2,
                lang.pick(
                    "本期没有经手的工单。",
                    "Nobody handled tickets in this period."
                )
            );
        }
        for row in &self.people {
            let _ = write!(
                html,
                r#"<tr data-person="{person}"><td class="text">{person}</td><td class="text">{department}</td>"#,
                person = escape(&row.person),
                department = escape(lang.tr(&row.department)),
            );
            for (_, _, cell) in PEOPLE_COLUMNS {
                let _ = write!(html, "<td>{}</td>", escape(&cell(row)));
            }
            html.push_str("</tr>");
        }
        html.push_str("</tbody></table>");
        html
    }

    /// The charts of the page: on-time rates and satisfaction per person.
    pub fn charts_html(&self, lang: Lang) -> String {
        let label = |row: &PersonFigures| format!("{} ({})", row.person, lang.tr(&row.department));
        let bar = |value: f64, due: u64| Bar {
            label: String::new(),
            fraction: value,
            text: rate(value, due),
        };
        let rows: Vec<(String, Bar, Bar)> = self
            .people
            .iter()
            .map(|row| {
                (
                    label(row),
                    bar(row.response_on_time_rate, row.response_due),
                    bar(row.resolution_on_time_rate, row.resolution_due),
                )
            })
            .collect();
        let rates = paired_bar_chart(
            lang.pick("按时率", "On-time rates"),
            [
                lang.pick("响应", "response"),
                lang.pick("解决", "resolution"),
            ],
            &rows,
        );
        let satisfaction: Vec<Bar> = self
            .people
            .iter()
            .map(|row| Bar {
                label: label(row),
                fraction: row.satisfaction_mean / 5.0,
                text: if row.reviews == 0 {
                    "–".to_owned()
                } else {
                    format!("{:.2} ({})", row.satisfaction_mean, row.reviews)
                },
            })
            .collect();
        format!(
            r#"<div class="grid"><div>{rates}</div><div>{}</div></div>"#,
            bar_chart(
                lang.pick("满意度均分", "Satisfaction mean"),
                &satisfaction,
                PALETTE[1]
            )
        )
    }

    /// The report as one self-contained HTML page (inline CSS and SVG, no scripts).
    pub fn to_html_in(&self, lang: Lang) -> String {
        let title = format!("{} {}", lang.pick("人员报告", "People report"), self.period);
        let scope = match (&self.department, &self.person) {
            (_, Some(person)) => person.clone(),
            (Some(department), None) => lang.tr(department).to_owned(),
            (None, None) => lang.tr("all departments").to_owned(),
        };
        let mut html = String::with_capacity(16 * 1024);
        let _ = write!(
            html,
            r#"<!DOCTYPE html><html lang="{tag}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title><style>{STYLE}</style></head><body><header><h1>{title}</h1><p class="meta">{scope} · {received} {start} {to} {end} · {computed} <b id="log-position">{position}</b>, {configuration} <b id="config-version">{config}</b>, {judged} {as_of}</p></header>"#,
            tag = lang.html_tag(),
            title = escape(&title),
            scope = escape(&scope),
            received = lang.tr("tickets received from"),
            start = self.local_time(self.period_start),
            to = lang.tr("to"),
            end = self.local_time(self.period_end),
            computed = lang.tr("computed at log position"),
            position = self.log_position,
            configuration = lang.tr("configuration"),
            config = escape(&self.config_version),
            judged = lang.tr("deadlines judged as of"),
            as_of = self.local_time(self.as_of),
        );
        let _ = write!(
            html,
            r#"<section id="people-table"><h2>{}</h2>{}</section><section id="people-charts"><h2>{}</h2>{}</section>"#,
            lang.pick("人员指标", "Figures per person"),
            self.table_html(lang),
            lang.pick("图表", "Charts"),
            self.charts_html(lang),
        );
        let _ = write!(
            html,
            r#"<footer class="meta"><p>{}</p></footer></body></html>"#,
            lang.tr("Definitions of every figure: docs/reports.md."),
        );
        html.push('\n');
        html
    }
}
