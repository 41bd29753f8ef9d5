//! The report's sections: one model of what a reader meets, in order, that every rendering
//! walks — the HTML page ([`MonthlyReport::to_html`]), the CSV ([`MonthlyReport::to_csv`])
//! and the terminal text of `cloop report monthly`. Each section names its rows and shows
//! each figure the one way the renderings share ("78.9%", "2 h 05 min", "–" where nothing
//! was due); a rendering only lays them out. Every label comes in the reader's language
//! ([`Lang`]); figures are the same in both.

use crate::lang::Lang;
use crate::model::{
    AdoptedSuggestion, CategoryShare, DepartmentKpi, HeadlineChange, MonthlyReport, OnTimeRates,
    SatisfactionSummary, ScoreBandRate, TargetCheck, TopProblem,
};

/// Shown where a figure has nothing to be computed from.
pub const NONE: &str = "–";

/// A fraction as a percentage with one decimal: "78.9%".
pub fn percent(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// A duration in milliseconds as "2 h 05 min", "14 min" or "35 s".
pub fn human_duration(milliseconds: i64) -> String {
    let seconds = milliseconds.max(0) / 1000;
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    if days > 0 {
        format!("{days} d {hours:02} h")
    } else if hours > 0 {
        format!("{hours} h {minutes:02} min")
    } else if minutes > 0 {
        format!("{minutes} min")
    } else {
        format!("{seconds} s")
    }
}

/// A duration that may be unknown: [`human_duration`], or "–".
pub fn optional_duration(milliseconds: Option<i64>) -> String {
    milliseconds.map_or_else(|| NONE.to_owned(), human_duration)
}

/// "78.9% (15/19)", or "–" when nothing was due.
pub fn rate_with_counts(rate: f64, numerator: u64, denominator: u64) -> String {
    if denominator == 0 {
        NONE.to_owned()
    } else {
        format!("{} ({numerator}/{denominator})", percent(rate))
    }
}

/// `shown()` when the figure has something to be computed from, else "–".
fn unless_empty(empty: bool, shown: impl FnOnce() -> String) -> String {
    if empty {
        NONE.to_owned()
    } else {
        shown()
    }
}

/// A stable name as people read it: "satisfaction_mean" → "satisfaction mean".
fn spaced(name: &str) -> String {
    name.replace('_', " ")
}

/// The high-priority target's sentence: how many urgent and high tickets were due and
/// resolved by their deadline, and how many are not due yet.
pub fn high_priority_detail(lang: Lang, on_time: u64, due: u64, received: u64) -> String {
    let not_due = received.saturating_sub(due);
    match (lang, received) {
        (Lang::En, 0) => "no urgent or high priority tickets were received in the month".to_owned(),
        (Lang::Zh, 0) => "本月没有紧急或高优先级工单".to_owned(),
        (Lang::En, _) => format!(
            "{on_time} of {due} urgent and high priority tickets due resolved by their deadline; {not_due} not due yet"
        ),
        (Lang::Zh, _) => format!(
            "已到期的 {due} 件紧急和高优先级工单中 {on_time} 件按时解决；{not_due} 件尚未到期"
        ),
    }
}

/// The satisfaction target's sentence.
pub fn satisfaction_detail(lang: Lang, satisfaction: &SatisfactionSummary) -> String {
    let share = satisfaction.share_satisfied * 100.0;
    match (lang, satisfaction.reviews) {
        (Lang::En, 0) => "no reviews were recorded for the month's tickets".to_owned(),
        (Lang::Zh, 0) => "本月工单没有评价".to_owned(),
        (Lang::En, reviews) => format!(
            "mean {:.2} of 5 over {reviews} reviews, {share:.1}% satisfied (target: mean at least 4.5 or at least 90% satisfied)",
            satisfaction.mean
        ),
        (Lang::Zh, reviews) => format!(
            "{reviews} 条评价平均 {:.2} 分（满分 5），满意占比 {share:.1}%（目标：平均至少 4.5 分或满意占比至少 90%）",
            satisfaction.mean
        ),
    }
}

/// The closed-loop target's sentence.
pub fn closed_loop_detail(lang: Lang, closed_loop: u64, tickets: u64) -> String {
    match lang {
        Lang::En => {
            format!("{closed_loop} of {tickets} tickets archived or still within their deadlines")
        }
        Lang::Zh => format!("{tickets} 件工单中 {closed_loop} 件已归档或仍在时限内"),
    }
}

/// The sections of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionKind {
    Headline,
    Targets,
    Shares,
    OnTime,
    Satisfaction,
    Problems,
    Departments,
    Adopted,
}

impl SectionKind {
    /// The order a reader meets the sections in, on the page and in the terminal.
    pub const READING_ORDER: [SectionKind; 8] = [
        SectionKind::Headline,
        SectionKind::Targets,
        SectionKind::Shares,
        SectionKind::OnTime,
        SectionKind::Satisfaction,
        SectionKind::Problems,
        SectionKind::Departments,
        SectionKind::Adopted,
    ];
}

/// One section of a report, borrowing the report's figures.
#[derive(Debug, Clone)]
pub enum Section<'a> {
    /// The month-on-month change of each headline figure.
    Headline(Vec<HeadlineFigure<'a>>),
    /// The process targets, met or missed.
    Targets(Vec<TargetRow<'a>>),
    /// The month's tickets by kind, content type, channel and priority.
    Shares(Shares<'a>),
    /// Response and resolution on time: all tickets, then each priority.
    OnTime(Vec<OnTimeRow<'a>>),
    /// The customers' ratings and the reopened tickets.
    Satisfaction(Satisfaction<'a>),
    /// The most frequent keywords, products and extracted terms.
    Problems([ProblemTable<'a>; 3]),
    /// Each department's figures.
    Departments(Departments<'a>),
    /// The adopted suggestions and the closed loop.
    Adopted(Adopted<'a>),
}

impl MonthlyReport {
    /// One section of the report.
    pub fn section(&self, kind: SectionKind) -> Section<'_> {
        match kind {
            SectionKind::Headline => {
                let current_known = self.month_has_data(|change| change.current);
                let previous_known = self.month_has_data(|change| change.previous);
                Section::Headline(
                    self.month_on_month
                        .iter()
                        .map(|change| HeadlineFigure {
                            change,
                            current_known: current_known(change),
                            previous_known: previous_known(change),
                        })
                        .collect(),
                )
            }
            SectionKind::Targets => Section::Targets(
                self.targets
                    .iter()
                    .map(|check| TargetRow(check, self))
                    .collect(),
            ),
            SectionKind::Shares => Section::Shares(Shares {
                tickets: self.tickets,
                complaints: self.complaints,
                kind: ShareTable::new("kind", &self.by_kind),
                content_type: ShareTable::new("content type", &self.by_content_type),
                channel: ShareTable::new("channel", &self.by_channel),
                priority: ShareTable::new("priority", &self.by_priority),
            }),
            SectionKind::OnTime => Section::OnTime(
                std::iter::once(&self.on_time)
                    .chain(self.on_time_by_priority.iter())
                    .map(OnTimeRow)
                    .collect(),
            ),
            SectionKind::Satisfaction => Section::Satisfaction(Satisfaction {
                summary: &self.satisfaction,
                satisfied_threshold: self.satisfied_threshold,
                reopened: self.reopened,
                reopen_rate: self.reopen_rate,
            }),
            SectionKind::Problems => Section::Problems([
                ProblemTable {
                    name: "keyword",
                    problems: &self.top_keywords,
                },
                ProblemTable {
                    name: "product",
                    problems: &self.top_products,
                },
                ProblemTable {
                    name: "term",
                    problems: &self.top_terms,
                },
            ]),
            SectionKind::Departments => Section::Departments(Departments {
                rows: self.departments.iter().map(DepartmentRow).collect(),
                unassigned: self.unassigned,
            }),
            SectionKind::Adopted => Section::Adopted(Adopted {
                count: self.adopted_count,
                customers_told: self.adopted_customers_told,
                evaluated: self.suggestions_evaluated,
                by_score: &self.adoption_by_score,
                suggestions: &self.adopted_suggestions,
                archived: self.archived,
                closed_loop_rate: self.closed_loop_rate,
            }),
        }
    }

    /// Whether a month's value of a headline figure (`month` picks this month's or the
    /// previous one's) was computed from anything: not when the month had no tickets, nor a
    /// score figure when it had no reviews (a mean score of 0 cannot come from reviews, which
    /// are 1 to 5).
    fn month_has_data(
        &self,
        month: fn(&HeadlineChange) -> f64,
    ) -> impl Fn(&HeadlineChange) -> bool + '_ {
        let value = move |name: &str| {
            self.month_on_month
                .iter()
                .find(|change| change.name == name)
                .map(month)
        };
        let had_tickets = value("tickets").is_none_or(|tickets| tickets > 0.0);
        let had_reviews = value("satisfaction_mean").is_none_or(|mean| mean > 0.0);
        move |change: &HeadlineChange| match change.name.as_str() {
            "satisfaction_mean" | "share_satisfied" | "reopen_rate" => had_tickets && had_reviews,
            "tickets" => true,
            _ => had_tickets,
        }
    }

    /// The first instant of the month is local midnight: the offset the report was computed
    /// in (the business calendar's), read back from the month's bounds.
    pub fn utc_offset(&self) -> chrono::FixedOffset {
        let first_day = self
            .period
            .map_or_else(|| self.month.first_day(), crate::Period::first_day);
        let local_midnight = first_day.and_hms_opt(0, 0, 0);
        let seconds = local_midnight.map_or(0, |midnight| {
            (midnight - self.month_start.naive_utc()).num_seconds()
        });
        i32::try_from(seconds)
            .ok()
            .and_then(chrono::FixedOffset::east_opt)
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC is an offset"))
    }

    /// An instant of the report in its business zone: "2026-12-01 00:00 +08:00".
    pub fn local_time(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        at.with_timezone(&self.utc_offset())
            .format("%Y-%m-%d %H:%M %:z")
            .to_string()
    }

    /// The sections in reading order.
    pub fn sections(&self) -> impl Iterator<Item = Section<'_>> {
        SectionKind::READING_ORDER
            .into_iter()
            .map(|kind| self.section(kind))
    }
}

/// Whether a change of a headline figure is for the better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trend {
    Better,
    Worse,
    Neither,
}

/// One headline figure: this month, last month and the change.
#[derive(Debug, Clone, Copy)]
pub struct HeadlineFigure<'a> {
    pub change: &'a HeadlineChange,
    /// False when the previous month had nothing to compute the figure from: its value and
    /// the change show as "–", not as a 0 and a jump from it.
    pub previous_known: bool,
    /// The same for this month: a month without tickets has no rates.
    pub current_known: bool,
}

impl HeadlineFigure<'_> {
    /// "satisfaction mean", or "平均满意度".
    pub fn label(&self, lang: Lang) -> String {
        match lang {
            Lang::En => spaced(&self.change.name),
            Lang::Zh => lang.tr(&self.change.name).to_owned(),
        }
    }

    fn show(&self, value: f64) -> String {
        match self.change.name.as_str() {
            "tickets" => format!("{value:.0}"),
            "satisfaction_mean" => format!("{value:.2}"),
            _ => percent(value),
        }
    }

    /// This month's value: a count, a mean score or a percentage.
    pub fn current(&self) -> String {
        unless_empty(!self.current_known, || self.show(self.change.current))
    }

    /// Last month's value, or "–" when last month had nothing to compute it from.
    pub fn previous(&self) -> String {
        unless_empty(!self.previous_known, || self.show(self.change.previous))
    }

    /// The change: "+12", "+0.25" or "+3.4 pt" ("+3.4 个百分点"); "–" when last month had
    /// nothing to compare with.
    pub fn delta(&self, lang: Lang) -> String {
        if !(self.previous_known && self.current_known) {
            return NONE.to_owned();
        }
        let change = self.change.change;
        match self.change.name.as_str() {
            "tickets" => format!("{change:+.0}"),
            "satisfaction_mean" => format!("{change:+.2}"),
            _ => format!("{:+.1} {}", change * 100.0, lang.pick("个百分点", "pt")),
        }
    }

    /// A lower reopen rate is better, and the number of tickets is neither.
    pub fn trend(&self) -> Trend {
        if !(self.previous_known && self.current_known) {
            return Trend::Neither;
        }
        let better = match self.change.name.as_str() {
            "tickets" => 0.0,
            "reopen_rate" => -self.change.change,
            _ => self.change.change,
        };
        if better > 0.0 {
            Trend::Better
        } else if better < 0.0 {
            Trend::Worse
        } else {
            Trend::Neither
        }
    }
}

/// One process target, with the report it belongs to (for its sentence).
#[derive(Debug, Clone, Copy)]
pub struct TargetRow<'a>(pub &'a TargetCheck, pub &'a MonthlyReport);

impl TargetRow<'_> {
    /// "high priority resolution rate", or "高优先级解决率".
    pub fn label(&self, lang: Lang) -> String {
        match lang {
            Lang::En => spaced(&self.0.name),
            Lang::Zh => lang.tr(&self.0.name).to_owned(),
        }
    }

    /// What was measured, in `lang`, from the report's figures ("5 of 9 urgent and high
    /// priority tickets due resolved by their deadline; 0 not due yet").
    pub fn detail(&self, lang: Lang) -> String {
        let report = self.1;
        match self.0.name.as_str() {
            "high_priority_resolution_rate" => {
                let high = report.on_time_by_priority.iter().filter(|rates| {
                    matches!(
                        rates.priority,
                        Some(domain::types::Priority::Urgent | domain::types::Priority::High)
                    )
                });
                let (on_time, due, received) =
                    high.fold((0, 0, 0), |(on_time, due, received), rates| {
                        (
                            on_time + rates.resolved_on_time,
                            due + rates.resolution_due,
                            received + rates.received,
                        )
                    });
                high_priority_detail(lang, on_time, due, received)
            }
            "satisfaction" => satisfaction_detail(lang, &report.satisfaction),
            "closed_loop" => closed_loop_detail(lang, report.closed_loop, report.tickets),
            _ => self.0.detail.clone(),
        }
    }

    /// The satisfaction target is a mean score (or a share satisfied), the others rates.
    pub fn is_score(&self) -> bool {
        self.0.name == "satisfaction"
    }

    /// "≥ 4.5 or ≥ 90% satisfied" or "≥ 90.0%".
    pub fn goal(&self, lang: Lang) -> String {
        if self.is_score() {
            match lang {
                Lang::En => format!("≥ {:.1} or ≥ 90% satisfied", self.0.target),
                Lang::Zh => format!("≥ {:.1} 分或满意占比 ≥ 90%", self.0.target),
            }
        } else {
            format!("≥ {}", percent(self.0.target))
        }
    }

    /// "4.52" or "93.1%".
    pub fn actual(&self) -> String {
        if self.is_score() {
            format!("{:.2}", self.0.actual)
        } else {
            percent(self.0.actual)
        }
    }

    /// "met" or "missed": the stable name (the page's style class).
    pub fn status(&self) -> &'static str {
        if self.0.met {
            "met"
        } else {
            "missed"
        }
    }

    /// "met" or "missed" in `lang`: "达成", "未达成".
    pub fn status_text(&self, lang: Lang) -> &'static str {
        lang.tr(self.status())
    }
}

/// The month's tickets counted by one dimension.
#[derive(Debug, Clone, Copy)]
pub struct ShareTable<'a> {
    /// "kind", "content type", "channel" or "priority".
    pub name: &'static str,
    pub shares: &'a [CategoryShare],
}

impl<'a> ShareTable<'a> {
    fn new(name: &'static str, shares: &'a [CategoryShare]) -> Self {
        ShareTable { name, shares }
    }

    /// The CSV section: "by_content_type".
    pub fn csv_section(&self) -> String {
        format!("by_{}", self.name.replace(' ', "_"))
    }
}

/// The shares section.
#[derive(Debug, Clone, Copy)]
pub struct Shares<'a> {
    pub tickets: u64,
    pub complaints: u64,
    pub kind: ShareTable<'a>,
    pub content_type: ShareTable<'a>,
    pub channel: ShareTable<'a>,
    pub priority: ShareTable<'a>,
}

impl<'a> Shares<'a> {
    /// The tables in the order of the model: kind, content type, channel, priority.
    pub fn tables(&self) -> [ShareTable<'a>; 4] {
        [self.kind, self.content_type, self.channel, self.priority]
    }
}

/// The on-time figures of all tickets or of one priority.
#[derive(Debug, Clone, Copy)]
pub struct OnTimeRow<'a>(pub &'a OnTimeRates);

impl OnTimeRow<'_> {
    /// "all", or the priority.
    pub fn label(&self) -> &'static str {
        self.0.priority.map_or("all", |priority| priority.as_str())
    }

    /// "78.9%", or "–" when no response was due.
    pub fn response_on_time(&self) -> String {
        unless_empty(self.0.response_due == 0, || {
            percent(self.0.response_on_time_rate)
        })
    }

    /// "78.9% (15/19)", or "–".
    pub fn response_with_counts(&self) -> String {
        rate_with_counts(
            self.0.response_on_time_rate,
            self.0.responded_on_time,
            self.0.response_due,
        )
    }

    /// Resolved over received, or "–" without tickets.
    pub fn resolution_rate(&self) -> String {
        unless_empty(self.0.received == 0, || percent(self.0.resolution_rate))
    }

    /// "78.9%", or "–" when no resolution was due.
    pub fn resolution_on_time(&self) -> String {
        unless_empty(self.0.resolution_due == 0, || {
            percent(self.0.resolution_on_time_rate)
        })
    }

    /// "78.9% (15/19)", or "–".
    pub fn resolution_with_counts(&self) -> String {
        rate_with_counts(
            self.0.resolution_on_time_rate,
            self.0.resolved_on_time,
            self.0.resolution_due,
        )
    }
}

/// The satisfaction section.
#[derive(Debug, Clone, Copy)]
pub struct Satisfaction<'a> {
    pub summary: &'a SatisfactionSummary,
    pub satisfied_threshold: u8,
    pub reopened: u64,
    pub reopen_rate: f64,
}

impl Satisfaction<'_> {
    /// The largest count of one score (0 without reviews): the longest bar.
    pub fn largest_count(&self) -> u64 {
        self.summary
            .distribution
            .iter()
            .map(|score| score.count)
            .max()
            .unwrap_or(0)
    }
}

/// The most frequent keywords, products or extracted terms.
#[derive(Debug, Clone, Copy)]
pub struct ProblemTable<'a> {
    /// "keyword", "product" or "term".
    pub name: &'static str,
    pub problems: &'a [TopProblem],
}

impl ProblemTable<'_> {
    /// The CSV section: "top_keywords", "top_products", "top_terms".
    pub fn csv_section(&self) -> String {
        format!("top_{}s", self.name)
    }

    /// The heading on the page: "Keywords", "关键词".
    pub fn heading(&self, lang: Lang) -> String {
        let mut characters = self.name.chars();
        let english = characters
            .next()
            .map(|first| format!("{}{}s", first.to_uppercase(), characters.as_str()))
            .unwrap_or_default();
        lang.tr(&english).to_owned()
    }
}

/// One department's figures.
#[derive(Debug, Clone, Copy)]
pub struct DepartmentRow<'a>(pub &'a DepartmentKpi);

impl DepartmentRow<'_> {
    pub fn median_first_response(&self) -> String {
        optional_duration(self.0.median_first_response_ms)
    }

    pub fn p90_first_response(&self) -> String {
        optional_duration(self.0.p90_first_response_ms)
    }

    pub fn median_first_response_working(&self) -> String {
        optional_duration(self.0.median_first_response_working_ms)
    }

    /// "–" without tickets.
    pub fn resolution_rate(&self) -> String {
        unless_empty(self.0.volume == 0, || percent(self.0.resolution_rate))
    }

    /// "–" when no deadline was decided.
    pub fn on_time_rate(&self) -> String {
        unless_empty(self.0.response_due + self.0.resolution_due == 0, || {
            percent(self.0.on_time_rate)
        })
    }

    /// "4.52", or "–" without reviews.
    pub fn satisfaction_mean(&self) -> String {
        unless_empty(self.0.reviews == 0, || {
            format!("{:.2}", self.0.satisfaction_mean)
        })
    }

    /// "–" without reviews.
    pub fn share_satisfied(&self) -> String {
        unless_empty(self.0.reviews == 0, || percent(self.0.share_satisfied))
    }
}

/// The departments section.
#[derive(Debug, Clone)]
pub struct Departments<'a> {
    pub rows: Vec<DepartmentRow<'a>>,
    /// Tickets without a department yet.
    pub unassigned: u64,
}

/// The adopted suggestions section.
#[derive(Debug, Clone, Copy)]
pub struct Adopted<'a> {
    pub count: u64,
    pub customers_told: u64,
    /// The month's suggestions with an evaluation, and their adoption rates by score band.
    pub evaluated: u64,
    pub by_score: &'a [ScoreBandRate],
    pub suggestions: &'a [AdoptedSuggestion],
    pub archived: u64,
    pub closed_loop_rate: f64,
}

impl Adopted<'_> {
    /// The evaluation line in `lang`: "8 evaluated; adopted or planned by score band: high
    /// 6/7 (85.7%), medium 0/0, low 0/0".
    pub fn evaluation_line(&self, lang: Lang) -> String {
        let bands: Vec<String> = self
            .by_score
            .iter()
            .map(|band| {
                let name = lang.tr(&band.band);
                if band.decided == 0 {
                    format!("{name} 0/0")
                } else {
                    format!(
                        "{name} {}/{} ({})",
                        band.accepted,
                        band.decided,
                        percent(band.rate)
                    )
                }
            })
            .collect();
        match lang {
            Lang::En => format!(
                "{} evaluated; adopted or planned by score band: {}",
                self.evaluated,
                bands.join(", ")
            ),
            Lang::Zh => format!(
                "已评估 {} 条；按评分区间的采纳率：{}",
                self.evaluated,
                bands.join("、")
            ),
        }
    }
}

/// "yes" or "no".
pub fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(35_000), "35 s");
        assert_eq!(human_duration(14 * 60_000), "14 min");
        assert_eq!(human_duration(2 * 3_600_000 + 5 * 60_000), "2 h 05 min");
        assert_eq!(human_duration(26 * 3_600_000), "1 d 02 h");
        assert_eq!(human_duration(-5), "0 s");
    }

    #[test]
    fn tables_are_named_for_each_rendering() {
        let shares = ShareTable::new("content type", &[]);
        assert_eq!(shares.csv_section(), "by_content_type");
        let problems = ProblemTable {
            name: "keyword",
            problems: &[],
        };
        assert_eq!(problems.csv_section(), "top_keywords");
        assert_eq!(problems.heading(Lang::En), "Keywords");
        assert_eq!(problems.heading(Lang::Zh), "关键词");
    }
}
