//! Every RPC of `Tickets` called as every role, and what `api.md` lets each role do.

use super::*;

/// What `api.md` lets each role do, as (role token, allowed RPCs) on a ticket that department
/// `technical` leads.
pub(super) fn allowed(token: &str) -> &'static [&'static str] {
    const READS: [&str; 5] = [
        "GetTicket",
        "ListTickets",
        "GetHistory",
        "WatchTickets",
        "ExplainSla",
    ];
    match token {
        "t-adapter" => &[],
        "t-service" => &[
            "GetTicket",
            "ListTickets",
            "GetHistory",
            "WatchTickets",
            "ExplainSla",
            "Classify",
            "Dispatch",
            "AddNote",
            "RecordReview",
            "Archive",
            "Escalate",
            "PauseSla",
            "ResumeSla",
            "LinkToProblem",
            "ListSimilar",
            "Assign",
            "RecordNotification",
            "EvaluateSuggestion",
            "MarkDelivered",
        ],
        "t-agent-technical" => &[
            "GetTicket",
            "ListTickets",
            "GetHistory",
            "WatchTickets",
            "ExplainSla",
            "Acknowledge",
            "AddNote",
            "ProposeSolution",
            "PauseSla",
            "ResumeSla",
            "ListSimilar",
            "Claim",
            "EvaluateSuggestion",
            "MarkDelivered",
        ],
        "t-head-technical" => &[
            "GetTicket",
            "ListTickets",
            "GetHistory",
            "WatchTickets",
            "ExplainSla",
            "Acknowledge",
            "AddNote",
            "ProposeSolution",
            "PauseSla",
            "ResumeSla",
            "ApproveSolution",
            "Dispatch",
            "ListSimilar",
            "Claim",
            "Assign",
            "EvaluateSuggestion",
            "MarkDelivered",
        ],
        "t-manager" | "t-auditor" => &READS,
        // The admin may call every RPC of the matrix.
        "t-admin" => RPCS,
        _ => &[],
    }
}

pub(super) const RPCS: &[&str] = &[
    "GetTicket",
    "ListTickets",
    "GetHistory",
    "WatchTickets",
    "ExplainSla",
    "Classify",
    "Dispatch",
    "Acknowledge",
    "AddNote",
    "ProposeSolution",
    "ApproveSolution",
    "RecordReview",
    "Archive",
    "Escalate",
    "PauseSla",
    "ResumeSla",
    "LinkToProblem",
    "ListSimilar",
    "Claim",
    "Assign",
    "RecordNotification",
    "EvaluateSuggestion",
    "MarkDelivered",
];

/// Calls one RPC. Commands carry an empty command id, so a role that may call them gets
/// INVALID_ARGUMENT and nothing changes; a role that may not gets PERMISSION_DENIED first.
/// With `valid`, commands are well-formed (used against another department's ticket).
pub(super) async fn call(
    client: &mut TicketsClient<Channel>,
    rpc: &str,
    ticket_id: &str,
    token: &str,
    valid: bool,
) -> Code {
    let command_id = if valid {
        format!("{rpc}-{token}")
    } else {
        String::new()
    };
    match call_with(client, rpc, ticket_id, token, &command_id).await {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// Calls one RPC of [`RPCS`] with `command_id` on the commands; returns the answer's debug
/// text (every field of the message), or the status.
pub(super) async fn call_with(
    client: &mut TicketsClient<Channel>,
    rpc: &str,
    ticket_id: &str,
    token: &str,
    command_id: &str,
) -> Result<String, tonic::Status> {
    let ticket_id = ticket_id.to_owned();
    let command_id = command_id.to_owned();
    let answer = |response: &dyn std::fmt::Debug| format!("{response:?}");
    match rpc {
        "GetTicket" => fetch_ticket(client, &ticket_id, token)
            .await
            .map(|response| answer(response.get_ref())),
        "ListTickets" => client
            .list_tickets(authorized(v1::ListTicketsRequest::default(), token))
            .await
            .map(|response| answer(response.get_ref())),
        "GetHistory" => fetch_history(client, &ticket_id, token)
            .await
            .map(|response| answer(response.get_ref())),
        "WatchTickets" => client
            .watch_tickets(authorized(v1::WatchTicketsRequest::default(), token))
            .await
            .map(|_| "a watch".to_owned()),
        "ExplainSla" => client
            .explain_sla(authorized(v1::ExplainSlaRequest { ticket_id }, token))
            .await
            .map(|response| answer(response.get_ref())),
        "Classify" => client
            .classify(authorized(
                v1::ClassifyRequest {
                    ticket_id,
                    command_id,
                    kind: v1::Kind::Problem as i32,
                    content_type: v1::ContentType::Product as i32,
                    priority: v1::Priority::Medium as i32,
                    scope: v1::Scope::Local as i32,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "Dispatch" => client
            .dispatch(authorized(
                v1::DispatchRequest {
                    ticket_id,
                    command_id,
                    department: "marketing".into(),
                    reason: "test".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "Acknowledge" => client
            .acknowledge(authorized(
                v1::AcknowledgeRequest {
                    ticket_id,
                    command_id,
                    message: "hello".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "AddNote" => client
            .add_note(authorized(
                v1::AddNoteRequest {
                    ticket_id,
                    command_id,
                    text: "note".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "ProposeSolution" => client
            .propose_solution(authorized(
                v1::ProposeSolutionRequest {
                    ticket_id,
                    command_id,
                    outcome: v1::Outcome::Fixed as i32,
                    text: "fixed".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "ApproveSolution" => client
            .approve_solution(authorized(
                v1::ApproveSolutionRequest {
                    ticket_id,
                    command_id,
                    approve: true,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "RecordReview" => client
            .record_review(authorized(
                v1::RecordReviewRequest {
                    ticket_id,
                    command_id,
                    satisfaction: 5,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "Archive" => client
            .archive(authorized(
                v1::ArchiveRequest {
                    ticket_id,
                    command_id,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "Escalate" => client
            .escalate(authorized(
                v1::EscalateRequest {
                    ticket_id,
                    command_id,
                    reason: "slow".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "PauseSla" => client
            .pause_sla(authorized(
                v1::PauseSlaRequest {
                    ticket_id,
                    command_id,
                    reason: "waiting".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "ResumeSla" => client
            .resume_sla(authorized(
                v1::ResumeSlaRequest {
                    ticket_id,
                    command_id,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "LinkToProblem" => client
            .link_to_problem(authorized(
                v1::LinkToProblemRequest {
                    parent_ticket_id: ticket_id.clone(),
                    ticket_id,
                    command_id,
                    merge: false,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "ListSimilar" => client
            .list_similar(authorized(
                v1::ListSimilarRequest {
                    ticket_id,
                    page_size: 10,
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "Claim" => client
            .claim(authorized(
                v1::ClaimRequest {
                    ticket_id,
                    command_id,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "Assign" => client
            .assign(authorized(
                v1::AssignRequest {
                    ticket_id,
                    command_id,
                    assignee: "wang.wu".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "RecordNotification" => client
            .record_notification(authorized(
                v1::RecordNotificationRequest {
                    ticket_id,
                    command_id,
                    notice: "received".into(),
                    source_event_id: "0195f3a0-0000-7000-8000-000000000001".into(),
                    attempt: 1,
                    reason: "receiver answered 500".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "EvaluateSuggestion" => client
            .evaluate_suggestion(authorized(
                v1::EvaluateSuggestionRequest {
                    ticket_id,
                    command_id,
                    feasibility: 4,
                    cost: 2,
                    benefit: 4,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        "MarkDelivered" => client
            .mark_delivered(authorized(
                v1::MarkDeliveredRequest {
                    ticket_id,
                    command_id,
                    delivered_on: "2026-03-20".into(),
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(|response| answer(response.get_ref())),
        other => panic!("unknown rpc {other}"),
    }
}
