//! `cloop audit events|verify|ticket-at` against `feedback.v1.Audit`.

use super::{parse_instant, write_stdout, Context};
use crate::args::AuditCommand;
use crate::error::CliError;
use crate::render::{actor_text, event_json, ticket_detail, ticket_json};
use crate::rpc::{call_error, connect, next_until_interrupted, Service};
use crate::table::truncate;
use proto::v1;
use proto::v1::audit_client::AuditClient;
use serde_json::json;

/// Runs `cloop audit ...`.
pub async fn run(context: &Context, command: AuditCommand) -> Result<(), CliError> {
    let connection = connect(&context.settings, Service::Workflow).await?;
    let mut client = AuditClient::new(connection.channel.clone());
    match command {
        AuditCommand::Events {
            from_position,
            ticket,
            stream,
            follow,
            limit,
        } => {
            let mut stream = client
                .read_events(
                    connection.request(v1::ReadEventsRequest {
                        from_position,
                        stream_id: ticket
                            .map(|ticket_id| format!("ticket-{ticket_id}"))
                            .or(stream),
                        follow,
                        limit,
                    })?,
                )
                .await
                .map_err(call_error)?
                .into_inner();
            while let Some(response) = next_until_interrupted(&mut stream).await {
                let Some(event) = response?.event else {
                    continue;
                };
                // One line per row, so that the output streams and pipes well.
                let line = if context.json {
                    event_json(&event).to_string()
                } else {
                    format!(
                        "{:>8}  {}  {:<24} {:<18} {:<28} {}",
                        event.position,
                        context.view.time_seconds(event.occurred_at.as_ref()),
                        event.stream_id,
                        event.event_type,
                        actor_text(event.actor.as_ref()),
                        truncate(&event.hash, 16)
                    )
                };
                write_stdout(&format!("{}\n", line.trim_end()))?;
            }
            Ok(())
        }
        AuditCommand::Verify => {
            let response = client
                .verify_log(connection.request(v1::VerifyLogRequest::default())?)
                .await
                .map_err(call_error)?
                .into_inner();
            let json = json!({
                "ok": response.ok,
                "events_checked": response.events_checked,
                "head_position": response.head_position,
                "head_hash": response.head_hash,
                "first_bad_position": response.first_bad_position,
                "problem": response.problem,
            });
            let human = if response.ok {
                format!(
                    "ok: {} events checked, head {} ({})\n",
                    response.events_checked, response.head_position, response.head_hash
                )
            } else {
                format!(
                    "FAILED at position {}: {}\n",
                    response.first_bad_position.unwrap_or_default(),
                    response.problem
                )
            };
            context.print(&human, &json)?;
            if response.ok {
                Ok(())
            } else {
                Err(CliError::VerifyFailed {
                    position: response.first_bad_position.unwrap_or_default(),
                    detail: response.problem,
                })
            }
        }
        // Offline: `commands::run` sends it to `audit_rules` before any connection is made.
        AuditCommand::Rules(arguments) => super::audit_rules::run(context, arguments).await,
        AuditCommand::TicketAt { ticket_id, at } => {
            let at = parse_instant("at", &at, context.settings.offset)?;
            let response = client
                .get_ticket_at(connection.request(v1::GetTicketAtRequest {
                    ticket_id,
                    at: Some(at),
                })?)
                .await
                .map_err(call_error)?
                .into_inner();
            let ticket = response.ticket.unwrap_or_default();
            let mut json = ticket_json(&ticket);
            json["position"] = json!(response.position);
            let human = format!(
                "as of log position {}\n\n{}",
                response.position,
                ticket_detail(&ticket, &context.view)
            );
            context.print(&human, &json)
        }
    }
}
