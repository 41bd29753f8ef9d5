//! The actions of the ticket page: which roles see which form, and each form's fields turned
//! into the workflow command, sent with the person's own token and the form's command id. A
//! refusal (the console's own reading of a field, or the workflow's answer) names the field
//! at fault when there is one.

use crate::backend::{as_person, Backend};
use crate::error::ConsoleError;
use domain::types::{ContentType, Kind, Outcome, Priority, Role, Scope};
use proto::v1;
use std::collections::HashMap;
use tonic::Code;

/// The actions of the ticket page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Acknowledge,
    Note,
    Dispatch,
    Classify,
    Propose,
    Approve,
    Pause,
    Resume,
    Review,
    Archive,
    Escalate,
    Link,
    Claim,
    Evaluate,
    Deliver,
}

impl Action {
    /// In the order of the page.
    pub const ALL: [Action; 15] = [
        Action::Claim,
        Action::Acknowledge,
        Action::Note,
        Action::Classify,
        Action::Dispatch,
        Action::Evaluate,
        Action::Propose,
        Action::Deliver,
        Action::Approve,
        Action::Pause,
        Action::Resume,
        Action::Review,
        Action::Archive,
        Action::Escalate,
        Action::Link,
    ];

    /// The last part of the form's address, `/tickets/{id}/{slug}`.
    pub fn slug(self) -> &'static str {
        match self {
            Action::Acknowledge => "acknowledge",
            Action::Note => "note",
            Action::Dispatch => "dispatch",
            Action::Classify => "classify",
            Action::Propose => "propose",
            Action::Approve => "approve",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Review => "review",
            Action::Archive => "archive",
            Action::Escalate => "escalate",
            Action::Link => "link",
            Action::Claim => "claim",
            Action::Evaluate => "evaluate",
            Action::Deliver => "deliver",
        }
    }

    pub fn parse(slug: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.slug() == slug)
    }

    pub fn title_key(self) -> &'static str {
        match self {
            Action::Acknowledge => "action.acknowledge",
            Action::Note => "action.note",
            Action::Dispatch => "action.dispatch",
            Action::Classify => "action.classify",
            Action::Propose => "action.propose",
            Action::Approve => "action.approve",
            Action::Pause => "action.pause",
            Action::Resume => "action.resume",
            Action::Review => "action.review",
            Action::Archive => "action.archive",
            Action::Escalate => "action.escalate",
            Action::Link => "action.link",
            Action::Claim => "action.claim",
            Action::Evaluate => "action.evaluate",
            Action::Deliver => "action.deliver",
        }
    }

    /// Whether a role's forms include this action (`api.md`, "Identity"). Only which forms
    /// to show: the workflow decides, from the person's token, what is done.
    pub fn offered_to(self, role: Role) -> bool {
        use Action::*;
        match role {
            Role::Admin => true,
            Role::Service => matches!(
                self,
                Classify
                    | Dispatch
                    | Note
                    | Review
                    | Archive
                    | Escalate
                    | Pause
                    | Resume
                    | Link
                    | Evaluate
                    | Deliver
            ),
            Role::Head => matches!(
                self,
                Acknowledge
                    | Note
                    | Propose
                    | Pause
                    | Resume
                    | Claim
                    | Approve
                    | Dispatch
                    | Evaluate
                    | Deliver
            ),
            Role::Agent => matches!(
                self,
                Acknowledge | Note | Propose | Pause | Resume | Claim | Evaluate | Deliver
            ),
            Role::Manager | Role::Auditor | Role::Adapter | Role::System => false,
        }
    }
}

/// Why an action was not done, for its form.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub action: Action,
    /// The form field at fault, when the refusal names one.
    pub field: Option<String>,
    pub message: String,
    /// What was typed, to fill the form again (never the anti-forgery token).
    pub values: HashMap<String, String>,
}

/// The outcome of a submitted form that is not a success.
#[derive(Debug)]
pub enum Failed {
    /// Shown on the form; the page answers 422 (409 for a stale version or wrong step).
    Refused(Refusal, axum::http::StatusCode),
    /// Shown as an error page (e.g. the ticket is not the person's: 404).
    Page(ConsoleError),
}

/// The request with the person's token; a token that cannot be a header is a refusal.
fn signed<T>(token: &str, message: T) -> Result<tonic::Request<T>, (String, String)> {
    as_person(token, message).map_err(|error| (String::new(), error.to_string()))
}

/// A form field's text, trimmed.
fn text(form: &HashMap<String, String>, name: &str) -> String {
    form.get(name)
        .map(|value| value.trim().to_owned())
        .unwrap_or_default()
}

/// A list typed with commas (or the Chinese comma, or spaces).
pub fn list(form: &HashMap<String, String>, name: &str) -> Vec<String> {
    text(form, name)
        .split([',', '，', ' ', '、'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A whole number of an evaluation (the workflow checks that it is 1 to 5).
fn figure(form: &HashMap<String, String>, name: &str) -> Result<u32, (String, String)> {
    let typed = text(form, name);
    typed.parse::<u32>().map_err(|_| {
        (
            name.to_owned(),
            format!("{name}: {typed:?} is not a whole number from 1 to 5"),
        )
    })
}

/// A vocabulary value of the form; empty is `UNSPECIFIED` (0).
fn choice<D, P>(
    form: &HashMap<String, String>,
    name: &str,
    parse: fn(&str, &str) -> Result<D, domain::DomainError>,
) -> Result<i32, (String, String)>
where
    P: From<D> + Into<i32>,
{
    let typed = text(form, name);
    if typed.is_empty() {
        return Ok(0);
    }
    parse(name, &typed)
        .map(|value| P::from(value).into())
        .map_err(|error| (name.to_owned(), error.to_string()))
}

/// One call of the workflow, built from a form.
// structure: table
async fn call(
    backend: &Backend,
    token: &str,
    ticket_id: &str,
    action: Action,
    form: &HashMap<String, String>,
) -> Result<Result<(), tonic::Status>, (String, String)> {
    let ticket_id = ticket_id.to_owned();
    let command_id = text(form, "command_id");
    let expected_version = text(form, "expected_version").parse::<u64>().ok();
    let mut client = backend.tickets();
    let answer = match action {
        Action::Acknowledge => client
            .acknowledge(signed(
                token,
                v1::AcknowledgeRequest {
                    ticket_id,
                    command_id,
                    expected_version,
                    message: text(form, "message"),
                },
            )?)
            .await
            .map(drop),
        Action::Note => {
            let visibility = match text(form, "visibility").as_str() {
                "customer" => v1::NoteVisibility::Customer,
                _ => v1::NoteVisibility::Internal,
            };
            client
                .add_note(signed(
                    token,
                    v1::AddNoteRequest {
                        ticket_id,
                        command_id,
                        expected_version,
                        text: text(form, "text"),
                        visibility: visibility as i32,
                    },
                )?)
                .await
                .map(drop)
        }
        Action::Dispatch => client
            .dispatch(signed(
                token,
                v1::DispatchRequest {
                    ticket_id,
                    command_id,
                    expected_version,
                    department: text(form, "department"),
                    helpers: list(form, "helpers"),
                    reason: text(form, "reason"),
                },
            )?)
            .await
            .map(drop),
        Action::Classify => {
            let request = v1::ClassifyRequest {
                ticket_id,
                command_id,
                expected_version,
                kind: choice::<Kind, v1::Kind>(form, "kind", Kind::parse)?,
                content_type: choice::<ContentType, v1::ContentType>(
                    form,
                    "content_type",
                    ContentType::parse,
                )?,
                priority: choice::<Priority, v1::Priority>(form, "priority", Priority::parse)?,
                scope: choice::<Scope, v1::Scope>(form, "scope", Scope::parse)?,
                keywords: list(form, "keywords"),
                complex: text(form, "complex") == "1",
                reason: text(form, "reason"),
                department: text(form, "department"),
            };
            client.classify(signed(token, request)?).await.map(drop)
        }
        Action::Propose => {
            let request = v1::ProposeSolutionRequest {
                ticket_id,
                command_id,
                expected_version,
                outcome: choice::<Outcome, v1::Outcome>(form, "outcome", Outcome::parse)?,
                text: text(form, "text"),
                reason: text(form, "reason"),
            };
            client
                .propose_solution(signed(token, request)?)
                .await
                .map(drop)
        }
        Action::Approve => client
            .approve_solution(signed(
                token,
                v1::ApproveSolutionRequest {
                    ticket_id,
                    command_id,
                    expected_version,
                    approve: text(form, "decision") == "approve",
                    comment: text(form, "comment"),
                },
            )?)
            .await
            .map(drop),
        Action::Pause => client
            .pause_sla(signed(
                token,
                v1::PauseSlaRequest {
                    ticket_id,
                    command_id,
                    expected_version,
                    reason: text(form, "reason"),
                },
            )?)
            .await
            .map(drop),
        Action::Resume => client
            .resume_sla(signed(
                token,
                v1::ResumeSlaRequest {
                    ticket_id,
                    command_id,
                    expected_version,
                    reason: text(form, "reason"),
                },
            )?)
            .await
            .map(drop),
        Action::Evaluate => {
            let request = v1::EvaluateSuggestionRequest {
                ticket_id,
                command_id,
                expected_version,
                feasibility: figure(form, "feasibility")?,
                cost: figure(form, "cost")?,
                benefit: figure(form, "benefit")?,
                note: text(form, "note"),
            };
            client
                .evaluate_suggestion(signed(token, request)?)
                .await
                .map(drop)
        }
        Action::Deliver => {
            let request = v1::MarkDeliveredRequest {
                ticket_id,
                command_id,
                expected_version,
                delivered_on: text(form, "delivered_on"),
                note: text(form, "note"),
            };
            client
                .mark_delivered(signed(token, request)?)
                .await
                .map(drop)
        }
        Action::Review => {
            let typed = text(form, "satisfaction");
            let satisfaction = typed.parse::<u32>().map_err(|_| {
                (
                    "satisfaction".to_owned(),
                    format!("satisfaction: {typed:?} is not a whole number from 1 to 5"),
                )
            })?;
            client
                .record_review(signed(
                    token,
                    v1::RecordReviewRequest {
                        ticket_id,
                        command_id,
                        expected_version,
                        satisfaction,
                        comment: text(form, "comment"),
                    },
                )?)
                .await
                .map(drop)
        }
        Action::Archive => client
            .archive(signed(
                token,
                v1::ArchiveRequest {
                    ticket_id,
                    command_id,
                    expected_version,
                },
            )?)
            .await
            .map(drop),
        Action::Escalate => client
            .escalate(signed(
                token,
                v1::EscalateRequest {
                    ticket_id,
                    command_id,
                    expected_version,
                    reason: text(form, "reason"),
                },
            )?)
            .await
            .map(drop),
        Action::Link => client
            .link_to_problem(signed(
                token,
                v1::LinkToProblemRequest {
                    ticket_id,
                    command_id,
                    expected_version,
                    parent_ticket_id: text(form, "parent_ticket_id"),
                    merge: text(form, "merge") == "1",
                },
            )?)
            .await
            .map(drop),
        Action::Claim => client
            .claim(signed(
                token,
                v1::ClaimRequest {
                    ticket_id,
                    command_id,
                    expected_version,
                },
            )?)
            .await
            .map(drop),
    };
    Ok(answer)
}

/// Sends one form's command. `Ok` when the workflow recorded it.
pub async fn perform(
    backend: &Backend,
    token: &str,
    ticket_id: &str,
    action: Action,
    form: &HashMap<String, String>,
) -> Result<(), Failed> {
    let mut values = form.clone();
    values.remove("csrf_token");
    let refused = |field: Option<String>, message: String, status| {
        Failed::Refused(
            Refusal {
                action,
                field: field.filter(|name| !name.is_empty()),
                message,
                values: values.clone(),
            },
            status,
        )
    };
    use axum::http::StatusCode;
    match call(backend, token, ticket_id, action, form).await {
        Err((field, message)) => Err(refused(
            Some(field),
            message,
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Ok(Ok(())) => Ok(()),
        Ok(Err(status)) => match status.code() {
            Code::NotFound => Err(Failed::Page(ConsoleError::NotFound)),
            Code::Unauthenticated
            | Code::Unavailable
            | Code::Unknown
            | Code::Internal
            | Code::DeadlineExceeded => Err(Failed::Page(ConsoleError::Rpc(status))),
            Code::FailedPrecondition | Code::Aborted => Err(refused(
                None,
                status.message().to_owned(),
                StatusCode::CONFLICT,
            )),
            _ => Err(refused(
                field_name(&status),
                status.message().to_owned(),
                StatusCode::UNPROCESSABLE_ENTITY,
            )),
        },
    }
}

/// The form field an INVALID_ARGUMENT status names (its last path part: `customer.phone` is
/// `phone`).
fn field_name(status: &tonic::Status) -> Option<String> {
    service::status::field_of(status)
        .map(|field| field.rsplit('.').next().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_a_unique_slug_and_forms_follow_roles() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.slug()), Some(action));
            assert!(action.offered_to(Role::Admin));
            assert!(!action.offered_to(Role::Manager));
            assert!(!action.offered_to(Role::Auditor));
        }
        assert!(Action::Archive.offered_to(Role::Service));
        assert!(!Action::Archive.offered_to(Role::Agent));
        assert!(Action::Approve.offered_to(Role::Head));
        assert!(!Action::Approve.offered_to(Role::Agent));
        assert_eq!(Action::parse("drop-table"), None);
    }

    #[test]
    fn lists_accept_commas_of_both_languages() {
        let form = HashMap::from([(
            "helpers".to_owned(),
            " quality，logistics, ,technical ".to_owned(),
        )]);
        assert_eq!(
            list(&form, "helpers"),
            ["quality", "logistics", "technical"]
        );
    }
}
