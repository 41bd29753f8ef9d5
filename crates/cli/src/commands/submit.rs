//! `cloop submit`: one submission from flags (Intake.Submit), or a CSV file of them through
//! Intake.SubmitStream with a progress bar on a terminal.

use super::{write_stdout, Context};
use crate::args::SubmitArgs;
use crate::csv_import::{parse_timestamp, submissions};
use crate::error::{code_text, CliError};
use crate::names::parse_language;
use crate::progress::bar;
use crate::render::{submit_json, submit_text};
use crate::rpc::{call_error, connect, Service};
use futures::StreamExt;
use proto::v1;
use proto::v1::intake_client::IntakeClient;
use serde_json::json;
use std::path::Path;

/// Runs `cloop submit`.
pub async fn run(context: &Context, arguments: SubmitArgs) -> Result<(), CliError> {
    if let Some(path) = arguments.csv.as_deref() {
        return bulk(context, path).await;
    }
    let request = single_request(arguments)?;
    let connection = connect(&context.settings, Service::Intake).await?;
    let mut client = IntakeClient::new(connection.channel.clone());
    let response = client
        .submit(connection.request(request)?)
        .await
        .map_err(call_error)?
        .into_inner();
    context.print(
        &submit_text(&response, &context.view),
        &submit_json(&response),
    )
}

fn single_request(arguments: SubmitArgs) -> Result<v1::SubmitRequest, CliError> {
    let mut attributes = std::collections::HashMap::new();
    for pair in &arguments.attributes {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("invalid --attr {pair:?}: expected KEY=VALUE"))
        })?;
        attributes.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(v1::SubmitRequest {
        channel: arguments.channel.unwrap_or_default(),
        external_id: arguments.external_id.unwrap_or_default(),
        customer: Some(v1::Customer {
            customer_id: arguments.customer_id.unwrap_or_default(),
            name: arguments.name.unwrap_or_default(),
            phone: arguments.phone.unwrap_or_default(),
            email: arguments.email.unwrap_or_default(),
            wechat_openid: arguments.wechat_openid.unwrap_or_default(),
        }),
        content: arguments.content.unwrap_or_default(),
        occurred_at: arguments
            .occurred_at
            .as_deref()
            .map(|text| parse_timestamp("occurred_at", text))
            .transpose()?,
        product: arguments.product.unwrap_or_default(),
        order_id: arguments.order_id.unwrap_or_default(),
        attributes,
        language: arguments
            .language
            .as_deref()
            .map(parse_language)
            .transpose()?
            .map_or(0, |language| language as i32),
        reply_to_ticket_id: arguments.reply_to.unwrap_or_default(),
    })
}

/// Sends every row of a CSV file through one SubmitStream call; prints a summary and each
/// refused row (row number, status, message). Exit code 5 when any row was refused.
async fn bulk(context: &Context, path: &Path) -> Result<(), CliError> {
    let text =
        std::fs::read_to_string(path).map_err(CliError::io(format!("read {}", path.display())))?;
    let requests = submissions(&text)?;
    let total = requests.len() as u64;
    let connection = connect(&context.settings, Service::Intake).await?;
    let mut client = IntakeClient::new(connection.channel.clone());
    let outgoing =
        futures::stream::iter(
            requests
                .into_iter()
                .map(|submission| v1::SubmitStreamRequest {
                    submission: Some(submission),
                }),
        );
    let progress = bar(total, "submitted", context.json);
    let mut responses = client
        .submit_stream(connection.request(outgoing)?)
        .await
        .map_err(call_error)?
        .into_inner();
    let (mut accepted, mut duplicates) = (0u64, 0u64);
    let mut refused = Vec::new();
    let mut tickets = Vec::new();
    while let Some(response) = responses.next().await {
        let response = response.map_err(call_error)?;
        progress.inc(1);
        // Row numbers count the header as row 1, like a spreadsheet.
        let row = response.index + 2;
        match response.outcome {
            Some(v1::submit_stream_response::Outcome::Result(result)) => {
                if result.duplicate {
                    duplicates += 1;
                } else {
                    accepted += 1;
                }
                tickets.push(json!({ "row": row, "ticket_id": result.ticket_id, "duplicate": result.duplicate }));
            }
            Some(v1::submit_stream_response::Outcome::Error(error)) => {
                refused.push((row, error));
            }
            None => {}
        }
    }
    progress.finish_and_clear();
    let refused_json: Vec<_> = refused
        .iter()
        .map(|(row, error)| {
            json!({
                "row": row,
                "code": code_text(tonic::Code::from_i32(error.code)),
                "field": error.field,
                "message": error.message,
            })
        })
        .collect();
    if context.json {
        let summary = json!({
            "submitted": total,
            "accepted": accepted,
            "duplicates": duplicates,
            "refused": refused_json,
            "tickets": tickets,
        });
        context.print("", &summary)?;
    } else {
        let mut text = format!(
            "{total} submitted: {accepted} new tickets, {duplicates} duplicates, {} refused\n",
            refused.len()
        );
        for (row, error) in &refused {
            let field = if error.field.is_empty() {
                String::new()
            } else {
                format!(" ({})", error.field)
            };
            text.push_str(&format!(
                "row {row}: {}{field}: {}\n",
                code_text(tonic::Code::from_i32(error.code)),
                error.message
            ));
        }
        write_stdout(&text)?;
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(CliError::PartlyRefused {
            refused: refused.len() as u64,
            total,
        })
    }
}
