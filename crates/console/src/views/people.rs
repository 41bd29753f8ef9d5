//! The people page: each person's figures over a month, a quarter or a range of days, as the
//! workflow's `Reports.PeopleReport` answers for the signed-in person (a manager sees
//! everyone, a head their department, an agent themself).

use crate::i18n::{tr, Lang};
use maud::{html, Markup};
use reports::{PeopleReport, PEOPLE_COLUMNS};

/// What the period form shows: the values asked for.
#[derive(Debug, Default, Clone)]
pub struct PeriodForm {
    pub month: String,
    pub quarter: String,
    pub from: String,
    pub to: String,
}

fn report_lang(lang: Lang) -> reports::Lang {
    match lang {
        Lang::Zh => reports::Lang::Zh,
        Lang::En => reports::Lang::En,
    }
}

pub fn body(
    lang: Lang,
    form: &PeriodForm,
    report: Option<&PeopleReport>,
    refusal: Option<&str>,
) -> Markup {
    let labels = report_lang(lang);
    html! {
        h1 { (tr(lang, "people.title")) }
        form method="get" action="/reports/people" class="filters" {
            label { span { (tr(lang, "reports.month")) } input type="month" name="month" value=(form.month); }
            label { span { (tr(lang, "people.quarter")) } input type="text" name="quarter" placeholder="2026-Q1" value=(form.quarter); }
            label { span { (tr(lang, "people.from")) } input type="date" name="from" value=(form.from); }
            label { span { (tr(lang, "people.to")) } input type="date" name="to" value=(form.to); }
            button type="submit" { (tr(lang, "reports.show")) }
        }
        @if let Some(refusal) = refusal {
            p class="error" role="alert" { (refusal) }
        }
        @if let Some(report) = report {
            p class="hint" id="people-period" {
                (tr(lang, "people.period")) " " (report.period.to_string()) " · "
                (labels.tr("log position")) " " (report.log_position)
            }
            table id="people" {
                thead { tr {
                    th { (tr(lang, "people.person")) }
                    th { (tr(lang, "people.department")) }
                    @for (english, chinese, _) in PEOPLE_COLUMNS {
                        th { (labels.pick(*chinese, *english)) }
                    }
                } }
                tbody {
                    @if report.people.is_empty() {
                        tr { td colspan=(PEOPLE_COLUMNS.len() + 2) { (tr(lang, "people.none")) } }
                    }
                    @for row in &report.people {
                        tr data-person=(row.person) {
                            td { (row.person) }
                            td { (labels.tr(&row.department)) }
                            @for (_, _, cell) in PEOPLE_COLUMNS {
                                td { (cell(row)) }
                            }
                        }
                    }
                }
            }
        }
    }
}
