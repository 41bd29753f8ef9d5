//! `cloop tickets list|show|history|watch|sla|claim|assign`, `cloop people away` and the
//! ticket commands (`classify`, `dispatch`, `ack`, `note`, `evaluate`, `solve`, `deliver`,
//! `approve`, `review`,
//! `archive`, `escalate`, `pause`, `resume`) against `feedback.v1.Tickets`.

use super::{new_command_id, parse_instant, write_stdout, Context};
use crate::args::{
    AckArgs, ApproveArgs, AssignArgs, ClassifyArgs, CommandArgs, DeliverArgs, DispatchArgs,
    EvaluateArgs, FilterArgs, NoteArgs, OptionalReasonArgs, PeopleCommand, ReasonArgs, ReviewArgs,
    SolveArgs, TicketsCommand,
};
use crate::error::CliError;
use crate::names::{
    parse_content_type, parse_kind, parse_outcome, parse_priority, parse_scope, parse_sla_state,
    parse_step,
};
use crate::render::{
    history_json, queue, sla_text_view, ticket_detail, ticket_json, ticket_table, timeline,
    timestamp_json,
};
use crate::rpc::{call_error, connect, next_until_interrupted, Connection, Service};
use proto::v1;
use proto::v1::tickets_client::TicketsClient;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::IsTerminal;

async fn client(
    context: &Context,
) -> Result<(TicketsClient<tonic::transport::Channel>, Connection), CliError> {
    let connection = connect(&context.settings, Service::Workflow).await?;
    Ok((TicketsClient::new(connection.channel.clone()), connection))
}

/// An optional enum argument as its protobuf number: 0 (unspecified) when absent.
fn enum_number<T: Into<i32>>(
    text: Option<&str>,
    parse: impl Fn(&str) -> Result<T, CliError>,
) -> Result<i32, CliError> {
    Ok(text.map(parse).transpose()?.map_or(0, Into::into))
}

fn filter(context: &Context, arguments: &FilterArgs) -> Result<v1::TicketFilter, CliError> {
    let offset = context.settings.offset;
    Ok(v1::TicketFilter {
        step: enum_number(arguments.step.as_deref(), parse_step)?,
        department: arguments.department.clone().unwrap_or_default(),
        priority: enum_number(arguments.priority.as_deref(), parse_priority)?,
        kind: enum_number(arguments.kind.as_deref(), parse_kind)?,
        content_type: enum_number(arguments.content_type.as_deref(), parse_content_type)?,
        channel: arguments.channel.clone().unwrap_or_default(),
        sla_state: enum_number(arguments.sla.as_deref(), parse_sla_state)?,
        created_from: arguments
            .from
            .as_deref()
            .map(|text| parse_instant("from", text, offset))
            .transpose()?,
        created_to: arguments
            .to
            .as_deref()
            .map(|text| parse_instant("to", text, offset))
            .transpose()?,
        text: arguments.text.clone().unwrap_or_default(),
        customer_id: arguments.customer_id.clone().unwrap_or_default(),
        assignee: if arguments.mine {
            "@me".to_owned()
        } else {
            arguments.assignee.clone().unwrap_or_default()
        },
        ..v1::TicketFilter::default()
    })
}

/// Runs `cloop tickets ...`.
pub async fn run_query(context: &Context, command: TicketsCommand) -> Result<(), CliError> {
    match command {
        TicketsCommand::List {
            filter: arguments,
            page_size,
            limit,
        } => list(context, &arguments, page_size, limit).await,
        TicketsCommand::Show { ticket_id } => {
            let (mut client, connection) = client(context).await?;
            let response = client
                .get_ticket(connection.request(v1::GetTicketRequest { ticket_id })?)
                .await
                .map_err(call_error)?
                .into_inner();
            let ticket = response.ticket.unwrap_or_default();
            context.print(
                &ticket_detail(&ticket, &context.view),
                &ticket_json(&ticket),
            )
        }
        TicketsCommand::History { ticket_id } => {
            let (mut client, connection) = client(context).await?;
            let response = client
                .get_history(connection.request(v1::GetHistoryRequest { ticket_id })?)
                .await
                .map_err(call_error)?
                .into_inner();
            context.print(
                &timeline(&response.events, &context.view),
                &history_json(&response.events),
            )
        }
        TicketsCommand::Watch { filter: arguments } => watch(context, &arguments).await,
        TicketsCommand::Sla { ticket_id } => {
            let (mut client, connection) = client(context).await?;
            let response = client
                .explain_sla(connection.request(v1::ExplainSlaRequest { ticket_id })?)
                .await
                .map_err(call_error)?
                .into_inner();
            let json = json!({
                "ticket_id": response.ticket.as_ref().map(|ticket| ticket.ticket_id.clone()),
                "sla_row": response.sla_row,
                "respond_by": timestamp_json(response.respond_by.as_ref()),
                "resolve_by": timestamp_json(response.resolve_by.as_ref()),
                "warn_respond_at": timestamp_json(response.warn_respond_at.as_ref()),
                "warn_resolve_at": timestamp_json(response.warn_resolve_at.as_ref()),
                "clock_started_at": timestamp_json(response.clock_started_at.as_ref()),
                "sla_state": crate::names::sla_text(response.sla_state),
                "policy_version": response.policy_version,
                "calendar_version": response.calendar_version,
                "reasons": response.reasons,
            });
            context.print(&sla_text_view(&response, &context.view), &json)
        }
        TicketsCommand::Similar { ticket_id, limit } => {
            let (mut client, connection) = client(context).await?;
            let response = client
                .list_similar(connection.request(v1::ListSimilarRequest {
                    ticket_id,
                    page_size: limit,
                })?)
                .await
                .map_err(call_error)?
                .into_inner();
            let json = Value::Array(
                response
                    .tickets
                    .iter()
                    .zip(&response.scores)
                    .map(|(ticket, score)| {
                        let mut value = ticket_json(ticket);
                        if let Value::Object(fields) = &mut value {
                            fields.insert("similarity".to_owned(), json!(score));
                        }
                        value
                    })
                    .collect(),
            );
            context.print(
                &crate::render::similar_table(&response.tickets, &response.scores, &context.view),
                &json,
            )
        }
        TicketsCommand::Link {
            common: arguments,
            to,
            merge,
        } => {
            let (mut client, connection) = client(context).await?;
            let (ticket_id, command_id, expected_version) = common(&arguments);
            let response = client
                .link_to_problem(connection.request(v1::LinkToProblemRequest {
                    ticket_id,
                    command_id,
                    expected_version,
                    parent_ticket_id: to,
                    merge,
                })?)
                .await
                .map_err(call_error)?
                .into_inner();
            print_ticket(context, response.ticket)
        }
        TicketsCommand::Claim(arguments) => claim(context, arguments).await,
        TicketsCommand::Assign(arguments) => assign(context, arguments).await,
    }
}

async fn list(
    context: &Context,
    arguments: &FilterArgs,
    page_size: u32,
    limit: usize,
) -> Result<(), CliError> {
    let filter = filter(context, arguments)?;
    let (client, connection) = client(context).await?;
    let mut tickets = super::all_pages(limit, |page_token| {
        let mut client = client.clone();
        let request = connection.request(v1::ListTicketsRequest {
            filter: Some(filter.clone()),
            page_size: page_size.max(1),
            page_token,
            ..Default::default()
        });
        async move {
            let response = client
                .list_tickets(request?)
                .await
                .map_err(call_error)?
                .into_inner();
            Ok((response.tickets, response.next_page_token))
        }
    })
    .await?;
    tickets.truncate(limit);
    let json = Value::Array(tickets.iter().map(ticket_json).collect());
    context.print(&ticket_table(&tickets, &context.view), &json)
}

/// `tickets watch`: keeps the queue on screen (redrawn on every change) on a terminal; one
/// line (or one JSON object) per change when piped.
async fn watch(context: &Context, arguments: &FilterArgs) -> Result<(), CliError> {
    let filter = filter(context, arguments)?;
    let (mut client, connection) = client(context).await?;
    let mut stream = client
        .watch_tickets(connection.request(v1::WatchTicketsRequest {
            filter: Some(filter),
            include_current: true,
        })?)
        .await
        .map_err(call_error)?
        .into_inner();
    let on_terminal = !context.json && std::io::stdout().is_terminal();
    let heading = match &arguments.department {
        Some(department) => format!("queue of {department}"),
        None => "queue".to_owned(),
    };
    let mut queue_state: BTreeMap<String, v1::Ticket> = BTreeMap::new();
    while let Some(change) = next_until_interrupted(&mut stream).await {
        let change = change?;
        let Some(ticket) = change.ticket else {
            continue;
        };
        if context.json {
            let line = json!({
                "position": change.position,
                "event_type": change.event_type,
                "ticket": ticket_json(&ticket),
            });
            write_stdout(&format!("{line}\n"))?;
            continue;
        }
        if on_terminal {
            queue_state.insert(ticket.ticket_id.clone(), ticket);
            let tickets: Vec<v1::Ticket> = queue_state.values().cloned().collect();
            let now = chrono::Utc::now().with_timezone(&context.view.offset);
            let screen = queue(
                &tickets,
                &format!("{heading} · {}", now.format("%H:%M:%S %:z")),
                &context.view,
            );
            // Clear the screen and move home, then draw the queue.
            write_stdout(&format!("\u{1b}[2J\u{1b}[H{screen}"))?;
        } else {
            write_stdout(&format!(
                "{} {} {} {} {}\n",
                change.position,
                if change.event_type.is_empty() {
                    "current"
                } else {
                    change.event_type.as_str()
                },
                ticket.ticket_id,
                crate::names::step_text(ticket.step),
                crate::names::sla_text(ticket.sla_state)
            ))?;
        }
    }
    Ok(())
}

/// The fields every command request carries.
fn common(arguments: &CommandArgs) -> (String, String, Option<u64>) {
    (
        arguments.ticket_id.clone(),
        arguments.command_id.clone().unwrap_or_else(new_command_id),
        arguments.expected_version,
    )
}

/// Prints the ticket a command returned.
fn print_ticket(context: &Context, ticket: Option<v1::Ticket>) -> Result<(), CliError> {
    let ticket = ticket.unwrap_or_default();
    context.print(
        &ticket_detail(&ticket, &context.view),
        &ticket_json(&ticket),
    )
}

/// Defines `pub async fn NAME(context, arguments: ARGS)`: sends one ticket command (the
/// ticket, command id and expected version of `arguments`, and the fields listed) with the
/// client's METHOD, and prints the ticket as it is after it. `common` names where the
/// arguments keep the ticket: `arguments.common`, or `arguments` itself.
macro_rules! ticket_command {
    ($vis:vis $name:ident($args:ident: $arguments:ty) via $method:ident, $common:expr,
     v1::$request:ident { $($field:ident: $value:expr),* $(,)? }) => {
        /// Runs one ticket command and prints the ticket as it is after it.
        $vis async fn $name(context: &Context, $args: $arguments) -> Result<(), CliError> {
            let (mut client, connection) = client(context).await?;
            let (ticket_id, command_id, expected_version) = common($common);
            let request = v1::$request {
                ticket_id,
                command_id,
                expected_version,
                $($field: $value,)*
            };
            let response = client
                .$method(connection.request(request)?)
                .await
                .map_err(call_error)?
                .into_inner();
            print_ticket(context, response.ticket)
        }
    };
}

/// `cloop classify`: by hand, or `--accept` the trained classifier's suggestion.
pub async fn classify(context: &Context, arguments: ClassifyArgs) -> Result<(), CliError> {
    let (mut client, connection) = client(context).await?;
    let (ticket_id, command_id, expected_version) = common(&arguments.common);
    let request = if arguments.accept {
        let ticket = client
            .get_ticket(connection.request(v1::GetTicketRequest {
                ticket_id: ticket_id.clone(),
            })?)
            .await
            .map_err(call_error)?
            .into_inner()
            .ticket
            .unwrap_or_default();
        accept_request(&ticket, &arguments, command_id, expected_version)?
    } else {
        let required = |value: &Option<String>, flag: &str| {
            value
                .clone()
                .ok_or_else(|| CliError::Usage(format!("{flag} is required without --accept")))
        };
        v1::ClassifyRequest {
            ticket_id,
            command_id,
            expected_version,
            kind: parse_kind(&required(&arguments.kind, "--kind")?)? as i32,
            content_type: parse_content_type(&required(&arguments.content_type, "--content-type")?)?
                as i32,
            priority: parse_priority(&required(&arguments.priority, "--priority")?)? as i32,
            scope: parse_scope(arguments.scope.as_deref().unwrap_or("local"))? as i32,
            keywords: arguments.keywords.clone(),
            complex: arguments.complex,
            reason: arguments.reason.clone(),
            department: arguments.department.clone().unwrap_or_default(),
        }
    };
    let response = client
        .classify(connection.request(request)?)
        .await
        .map_err(call_error)?
        .into_inner();
    print_ticket(context, response.ticket)
}

/// The Classify request that confirms `ticket`'s suggestion: its chosen kind, content type,
/// priority and department, the ticket's own scope and keywords (unless given), at the
/// version read (unless `--expected-version` says otherwise).
pub fn accept_request(
    ticket: &v1::Ticket,
    arguments: &ClassifyArgs,
    command_id: String,
    expected_version: Option<u64>,
) -> Result<v1::ClassifyRequest, CliError> {
    let Some(suggestion) = ticket.suggestion.as_ref() else {
        return Err(CliError::Refused(format!(
            "ticket {} has no suggestion to accept (it is classified, or the classifier was not sure enough to suggest)",
            ticket.ticket_id
        )));
    };
    let top = |values: &[v1::SuggestedValue], field: &str| {
        values
            .first()
            .map(|value| value.value.clone())
            .ok_or_else(|| CliError::Other(format!("the suggestion has no {field}")))
    };
    let scope = match arguments.scope.as_deref() {
        Some(scope) => parse_scope(scope)? as i32,
        None if ticket.scope != 0 => ticket.scope,
        None => v1::Scope::Local as i32,
    };
    let keywords = if arguments.keywords.is_empty() {
        ticket.keywords.clone()
    } else {
        arguments.keywords.clone()
    };
    let reason = if arguments.reason.trim().is_empty() {
        format!(
            "confirmed the classifier's suggestion ({})",
            suggestion.model_version
        )
    } else {
        arguments.reason.clone()
    };
    Ok(v1::ClassifyRequest {
        ticket_id: ticket.ticket_id.clone(),
        command_id,
        expected_version: expected_version.or(Some(ticket.version)),
        kind: parse_kind(&top(&suggestion.kind, "kind")?)? as i32,
        content_type: parse_content_type(&top(&suggestion.content_type, "content type")?)? as i32,
        priority: parse_priority(&top(&suggestion.priority, "priority")?)? as i32,
        scope,
        keywords,
        complex: arguments.complex || ticket.complex,
        reason,
        department: top(&suggestion.department, "department")?,
    })
}

ticket_command!(
    pub dispatch(arguments: DispatchArgs) via dispatch,
    &arguments.common,
    v1::DispatchRequest {
        department: arguments.department.clone(),
        helpers: arguments.helpers.clone(),
        reason: arguments.reason.clone(),
    }
);

ticket_command!(pub acknowledge(arguments: AckArgs) via acknowledge, &arguments.common,
    v1::AcknowledgeRequest { message: arguments.message.clone() });

ticket_command!(
    pub note(arguments: NoteArgs) via add_note,
    &arguments.common,
    v1::AddNoteRequest {
        text: arguments.text.clone(),
        visibility: if arguments.to_customer {
            v1::NoteVisibility::Customer as i32
        } else {
            v1::NoteVisibility::Internal as i32
        },
    }
);

ticket_command!(
    pub solve(arguments: SolveArgs) via propose_solution,
    &arguments.common,
    v1::ProposeSolutionRequest {
        outcome: parse_outcome(&arguments.outcome)? as i32,
        text: arguments.text.clone(),
        reason: arguments.reason.clone(),
    }
);

ticket_command!(
    pub evaluate(arguments: EvaluateArgs) via evaluate_suggestion,
    &arguments.common,
    v1::EvaluateSuggestionRequest {
        feasibility: arguments.feasibility,
        cost: arguments.cost,
        benefit: arguments.benefit,
        note: arguments.note.clone(),
    }
);

ticket_command!(
    pub deliver(arguments: DeliverArgs) via mark_delivered,
    &arguments.common,
    v1::MarkDeliveredRequest {
        delivered_on: arguments.on.trim().to_owned(),
        note: arguments.note.clone(),
    }
);

ticket_command!(
    pub approve(arguments: ApproveArgs) via approve_solution,
    &arguments.common,
    v1::ApproveSolutionRequest {
        approve: !arguments.reject,
        comment: arguments.comment.clone(),
    }
);

ticket_command!(
    pub review(arguments: ReviewArgs) via record_review,
    &arguments.common,
    v1::RecordReviewRequest {
        satisfaction: arguments.satisfaction,
        comment: arguments.comment.clone(),
    }
);

ticket_command!(pub escalate(arguments: ReasonArgs) via escalate, &arguments.common,
    v1::EscalateRequest { reason: arguments.reason.clone() });

ticket_command!(pub pause(arguments: ReasonArgs) via pause_sla, &arguments.common,
    v1::PauseSlaRequest { reason: arguments.reason.clone() });

ticket_command!(pub resume(arguments: OptionalReasonArgs) via resume_sla, &arguments.common,
    v1::ResumeSlaRequest { reason: arguments.reason.clone() });

ticket_command!(pub assign(arguments: AssignArgs) via assign, &arguments.common,
    v1::AssignRequest { assignee: arguments.assignee.clone() });

ticket_command!(pub archive(arguments: CommandArgs) via archive, &arguments, v1::ArchiveRequest {});

ticket_command!(claim(arguments: CommandArgs) via claim, &arguments, v1::ClaimRequest {});

/// Runs `cloop people ...`.
pub async fn people(context: &Context, command: PeopleCommand) -> Result<(), CliError> {
    match command {
        PeopleCommand::Away { person, on: _, off } => {
            let (mut client, connection) = client(context).await?;
            let response = client
                .set_away(connection.request(v1::SetAwayRequest {
                    person: person.unwrap_or_default(),
                    away: !off,
                })?)
                .await
                .map_err(call_error)?
                .into_inner();
            let mut human = format!(
                "{} is {}\n",
                response.person,
                if response.away { "away" } else { "back" }
            );
            if !response.handed_back.is_empty() {
                human.push_str(&format!(
                    "handed back: {}\n",
                    response.handed_back.join(", ")
                ));
            }
            let json = json!({
                "person": response.person,
                "away": response.away,
                "handed_back": response.handed_back,
            });
            context.print(&human, &json)
        }
    }
}
