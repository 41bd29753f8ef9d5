//! The e-mail of a scheduled report, in Chinese or English: the subject, a text with the
//! headline figures, the flagged problems and the command that regenerates the report, the
//! console link when configured, and the attached page's file name. Pure.

use reports::{Lang, PeriodReport};

/// One report's e-mail to one reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Letter {
    pub subject: String,
    pub text: String,
    /// The attached page's name: `report-<period>.html`.
    pub filename: String,
}

/// What the e-mail says about where the report comes from and how it is reached.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    /// `YYYY-MM` or `YYYY-Qn`.
    pub period: &'a str,
    /// The log position the report was computed at.
    pub position: u64,
    /// The page is attached (`html`), or only linked (`link`).
    pub attached: bool,
    /// The console's address, empty for none.
    pub console_url: &'a str,
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// The console page of `period`: the month's report, or the quarter's people figures.
pub(crate) fn console_link(console_url: &str, period: &str) -> String {
    let base = console_url.trim().trim_end_matches('/');
    if period.contains('Q') {
        format!("{base}/reports/people?quarter={period}")
    } else {
        format!("{base}/reports?month={period}")
    }
}

/// The sentences of the e-mail in one language, for a month's or a quarter's report.
#[derive(Debug, Clone, Copy)]
struct Kind {
    lang: Lang,
    quarter: bool,
}

impl Kind {
    fn intro(self, period: &str, position: u64, config_version: &str) -> String {
        match (self.lang, self.quarter) {
            (Lang::Zh, quarter) => {
                let name = if quarter { "季度" } else { "月度" };
                format!("{period}客户反馈{name}报告（日志位置 {position}，配置版本 {config_version}）。")
            }
            (Lang::En, quarter) => {
                let name = if quarter { "quarterly" } else { "monthly" };
                format!("The {name} customer feedback report of {period} (log position {position}, configuration {config_version}).")
            }
        }
    }

    /// Tickets, response and resolution on time, resolution rate, satisfaction, closed loop.
    fn figures(
        self,
        [tickets, responded, resolved, resolution, satisfaction, closed]: &[String; 6],
    ) -> String {
        match self.lang {
            Lang::Zh => format!("工单 {tickets}；首次响应及时率 {responded}；解决及时率 {resolved}；解决率 {resolution}；满意度 {satisfaction}；闭环率 {closed}。"),
            Lang::En => format!("Tickets {tickets}; responded on time {responded}; resolved on time {resolved}; resolution rate {resolution}; satisfaction {satisfaction}; closed loop {closed}."),
        }
    }

    fn flagged(self, flagged: &[String]) -> String {
        match self.lang {
            Lang::Zh => format!("需优先改进（超过 30% 的投诉）：{}。", flagged.join("、")),
            Lang::En => format!(
                "Priority for improvement (over 30% of complaints): {}.",
                flagged.join(", ")
            ),
        }
    }

    fn attached(self, filename: &str) -> String {
        match self.lang {
            Lang::Zh => format!("完整报告见附件 {filename}。"),
            Lang::En => format!("The whole report is attached: {filename}."),
        }
    }

    fn console(self, link: &str) -> String {
        match self.lang {
            Lang::Zh => format!("在控制台查看：{link}"),
            Lang::En => format!("In the console: {link}"),
        }
    }

    fn command(self, command: &str) -> String {
        match self.lang {
            Lang::Zh => format!("重新生成同一份报告：{command}"),
            Lang::En => format!("The same report again: {command}"),
        }
    }

    fn subject(self, period: &str) -> String {
        match (self.lang, self.quarter) {
            (Lang::Zh, true) => format!("客户反馈季度报告 {period}"),
            (Lang::Zh, false) => format!("客户反馈月度报告 {period}"),
            (Lang::En, _) => format!("Customer feedback report {period}"),
        }
    }
}

/// The e-mail of `report` in `lang`.
pub(crate) fn letter(report: &PeriodReport, context: Context<'_>, lang: Lang) -> Letter {
    let whole = &report.report;
    let quarter = context.period.contains('Q');
    let flag = if quarter { "--quarter" } else { "--month" };
    let command = format!(
        "cloop report period {flag} {} --at-position {} --format html",
        context.period, context.position
    );
    let flagged: Vec<String> = whole
        .top_keywords
        .iter()
        .chain(&whole.top_products)
        .filter(|problem| problem.priority_flag)
        .map(|problem| format!("{} ({})", problem.key, percent(problem.complaint_share)))
        .collect();
    let filename = format!("report-{}.html", context.period);
    let kind = Kind { lang, quarter };
    let mut lines = vec![
        kind.intro(context.period, whole.log_position, &whole.config_version),
        kind.figures(&[
            whole.tickets.to_string(),
            percent(whole.on_time.response_on_time_rate),
            percent(whole.on_time.resolution_on_time_rate),
            percent(whole.on_time.resolution_rate),
            format!("{:.2}", whole.satisfaction.mean),
            percent(whole.closed_loop_rate),
        ]),
    ];
    if !flagged.is_empty() {
        lines.push(kind.flagged(&flagged));
    }
    if context.attached {
        lines.push(kind.attached(&filename));
    }
    if !context.console_url.trim().is_empty() {
        lines.push(kind.console(&console_link(context.console_url, context.period)));
    }
    lines.push(kind.command(&command));
    let subject = kind.subject(context.period);
    Letter {
        subject,
        text: lines.join("\n") + "\n",
        filename,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_report(period: &str) -> PeriodReport {
        let rules = domain::Rules::defaults();
        let period: reports::Period = period.parse().expect("a period");
        let as_of = chrono::DateTime::parse_from_rfc3339("2026-04-01T09:00:00+08:00")
            .expect("an instant")
            .to_utc();
        reports::PeriodBuilder::new(
            &rules,
            period,
            None,
            17,
            as_of,
            reports::ReportOptions::default(),
        )
        .finish()
    }

    #[test]
    fn a_link_instead_of_the_page_and_the_command_that_makes_it_again() {
        let report = empty_report("2026-Q1");
        let context = Context {
            period: "2026-Q1",
            position: 17,
            attached: false,
            console_url: "https://console.example.com",
        };
        let letter = letter(&report, context, Lang::En);
        assert_eq!(letter.subject, "Customer feedback report 2026-Q1");
        assert!(!letter.text.contains("attached"), "{}", letter.text);
        assert!(letter
            .text
            .contains("https://console.example.com/reports/people?quarter=2026-Q1"));
        assert!(letter
            .text
            .contains("cloop report period --quarter 2026-Q1 --at-position 17 --format html"));
        let chinese = letter_zh(&report);
        assert_eq!(chinese.subject, "客户反馈季度报告 2026-Q1");
        assert!(chinese.text.contains("工单 0；"), "{}", chinese.text);
        assert!(chinese.text.contains("report-2026-Q1.html"));
    }

    fn letter_zh(report: &PeriodReport) -> Letter {
        let context = Context {
            period: "2026-Q1",
            position: 17,
            attached: true,
            console_url: "",
        };
        letter(report, context, Lang::Zh)
    }

    #[test]
    fn console_links_name_the_month_or_the_quarter() {
        assert_eq!(
            console_link("https://console.example.com/", "2026-02"),
            "https://console.example.com/reports?month=2026-02"
        );
        assert_eq!(
            console_link("https://console.example.com", "2026-Q1"),
            "https://console.example.com/reports/people?quarter=2026-Q1"
        );
    }
}
