//! `/reports/people`: each person's figures over a period, from `Reports.PeopleReport`
//! called with the signed-in person's own token, so the workflow decides whose rows they see.

use crate::answer::{page, PageError};
use crate::backend::as_person;
use crate::error::ConsoleError;
use crate::routes::{context, html, Shared};
use crate::views::layout::{page as frame_page, Frame};
use crate::views::people::{body, PeriodForm};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use domain::types::Role;
use proto::v1;
use reports::proto_period::{people_from_proto, period_to_proto};
use reports::Period;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct PeopleQuery {
    #[serde(default)]
    month: String,
    #[serde(default)]
    quarter: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

pub async fn people(
    State(state): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<PeopleQuery>,
) -> Result<Response, PageError> {
    let context = context(&state, &headers, &uri);
    let lang = context.lang;
    let session = context.with_role(&[Role::Manager, Role::Head, Role::Agent])?;
    let mut form = PeriodForm {
        month: query.month.trim().to_owned(),
        quarter: query.quarter.trim().to_owned(),
        from: query.from.trim().to_owned(),
        to: query.to.trim().to_owned(),
    };
    if [&form.month, &form.quarter, &form.from, &form.to]
        .iter()
        .all(|text| text.is_empty())
    {
        form.month = chrono::Utc::now()
            .with_timezone(&state.offset)
            .format("%Y-%m")
            .to_string();
    }
    let (report, refusal) = match Period::from_parts(
        Some(&form.month),
        Some(&form.quarter),
        Some(&form.from),
        Some(&form.to),
    ) {
        Err(error) => (None, Some(error.to_string())),
        Ok(period) => {
            let answer = state
                .backend
                .reports()
                .people_report(
                    as_person(
                        &session.token,
                        v1::PeopleReportRequest {
                            period: Some(period_to_proto(period)),
                            ..Default::default()
                        },
                    )
                    .map_err(page(lang))?,
                )
                .await;
            match answer {
                Ok(answer) => (
                    answer
                        .into_inner()
                        .report
                        .and_then(|message| people_from_proto(&message).ok()),
                    None,
                ),
                Err(status) if status.code() == tonic::Code::InvalidArgument => {
                    (None, Some(status.message().to_owned()))
                }
                Err(status) => return Err(PageError::new(lang, ConsoleError::Rpc(status))),
            }
        }
    };
    let path = uri.to_string();
    let markup = frame_page(
        Frame {
            lang,
            title: crate::i18n::tr(lang, "people.title"),
            session: Some(session),
            path: &path,
            live: false,
        },
        body(lang, &form, report.as_ref(), refusal.as_deref()),
    );
    Ok(html(StatusCode::OK, markup))
}
