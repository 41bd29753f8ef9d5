//! The action forms of the ticket page: one form per action the person's role allows, each
//! with the session's anti-forgery token, a fresh command id and the ticket's version; a
//! refused form comes back with the workflow's reason next to the field it names and the
//! values that were typed.

use crate::actions::{Action, Refusal};
use crate::i18n::{tr, value, Lang};
use maud::{html, Markup};

/// How one input of a form is shown.
#[derive(Debug, Clone, Copy)]
pub enum Input {
    Line,
    Area,
    /// A choice among vocabulary values: (group of their texts, values).
    Choice(&'static str, &'static [&'static str]),
    Check,
    /// A whole number from .0 to .1.
    Number(u32, u32),
}

/// One input: its form name (the workflow's field name), its label key and kind, whether
/// it is required.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub input: Input,
    pub required: bool,
}

const fn field(name: &'static str, label: &'static str, input: Input, required: bool) -> Field {
    Field {
        name,
        label,
        input,
        required,
    }
}

const KINDS: &[&str] = &["suggestion", "complaint", "problem", "inquiry", "praise"];
const CONTENT_TYPES: &[&str] = &["product", "service", "process", "experience"];
const PRIORITIES: &[&str] = &["urgent", "high", "medium", "low"];
const SCOPES: &[&str] = &["global", "local"];
const OUTCOMES: &[&str] = &["adopted", "planned", "declined", "fixed", "explained"];
const VISIBILITIES: &[&str] = &["internal", "customer"];
const DECISIONS: &[&str] = &["approve", "reject"];

/// The inputs of each action's form.
// structure: table
pub fn fields(action: Action) -> &'static [Field] {
    match action {
        Action::Acknowledge => {
            const FIELDS: &[Field] = &[field("message", "field.message", Input::Area, true)];
            FIELDS
        }
        Action::Note => {
            const FIELDS: &[Field] = &[
                field("text", "field.text", Input::Area, true),
                field(
                    "visibility",
                    "field.visibility",
                    Input::Choice("choice", VISIBILITIES),
                    true,
                ),
            ];
            FIELDS
        }
        Action::Dispatch => {
            const FIELDS: &[Field] = &[
                field("department", "field.department", Input::Line, true),
                field("helpers", "field.helpers", Input::Line, false),
                field("reason", "field.reason", Input::Line, true),
            ];
            FIELDS
        }
        Action::Classify => {
            const FIELDS: &[Field] = &[
                field("kind", "field.kind", Input::Choice("kind", KINDS), true),
                field(
                    "content_type",
                    "field.content_type",
                    Input::Choice("content_type", CONTENT_TYPES),
                    true,
                ),
                field(
                    "priority",
                    "field.priority",
                    Input::Choice("priority", PRIORITIES),
                    true,
                ),
                field(
                    "scope",
                    "field.scope",
                    Input::Choice("scope", SCOPES),
                    false,
                ),
                field("keywords", "field.keywords", Input::Line, false),
                field("complex", "field.complex", Input::Check, false),
                field("department", "field.dispatch_to", Input::Line, false),
                field("reason", "field.reason", Input::Line, false),
            ];
            FIELDS
        }
        Action::Propose => {
            const FIELDS: &[Field] = &[
                field(
                    "outcome",
                    "field.outcome",
                    Input::Choice("outcome", OUTCOMES),
                    true,
                ),
                field("text", "field.solution", Input::Area, true),
                field("reason", "field.reason", Input::Line, false),
            ];
            FIELDS
        }
        Action::Approve => {
            const FIELDS: &[Field] = &[
                field(
                    "decision",
                    "field.decision",
                    Input::Choice("choice", DECISIONS),
                    true,
                ),
                field("comment", "field.comment", Input::Line, false),
            ];
            FIELDS
        }
        Action::Pause | Action::Resume | Action::Escalate => {
            const FIELDS: &[Field] = &[field("reason", "field.reason", Input::Line, true)];
            FIELDS
        }
        Action::Review => {
            const FIELDS: &[Field] = &[
                field(
                    "satisfaction",
                    "field.satisfaction",
                    Input::Number(1, 5),
                    true,
                ),
                field("comment", "field.comment", Input::Line, false),
            ];
            FIELDS
        }
        Action::Link => {
            const FIELDS: &[Field] = &[
                field("parent_ticket_id", "field.parent", Input::Line, true),
                field("merge", "field.merge", Input::Check, false),
            ];
            FIELDS
        }
        Action::Evaluate => {
            const FIELDS: &[Field] = &[
                field(
                    "feasibility",
                    "field.feasibility",
                    Input::Number(1, 5),
                    true,
                ),
                field("cost", "field.cost", Input::Number(1, 5), true),
                field("benefit", "field.benefit", Input::Number(1, 5), true),
                field("note", "field.note", Input::Line, false),
            ];
            FIELDS
        }
        Action::Deliver => {
            const FIELDS: &[Field] = &[
                field("delivered_on", "field.delivered_on", Input::Line, true),
                field("note", "field.note", Input::Line, false),
            ];
            FIELDS
        }
        Action::Archive | Action::Claim => {
            const FIELDS: &[Field] = &[];
            FIELDS
        }
    }
}

/// What every form of one rendering of the ticket page shares.
#[derive(Debug, Clone, Copy)]
pub struct FormContext<'a> {
    pub lang: Lang,
    pub ticket_id: &'a str,
    pub version: u64,
    pub csrf: &'a str,
    /// The refusal of the last submitted form, shown on that form.
    pub refusal: Option<&'a Refusal>,
}

fn input(context: FormContext<'_>, action: Action, field: &Field) -> Markup {
    let lang = context.lang;
    let id = format!("{}-{}", action.slug(), field.name);
    let refusal = context.refusal.filter(|refusal| refusal.action == action);
    let typed = refusal
        .and_then(|refusal| refusal.values.get(field.name))
        .map(String::as_str);
    let error = refusal
        .filter(|refusal| refusal.field.as_deref() == Some(field.name))
        .map(|refusal| refusal.message.as_str());
    let error_id = format!("{id}-error");
    let described = error.map(|_| error_id.clone());
    html! {
        div class={ "field" @if error.is_some() { " invalid" } } {
            @match field.input {
                Input::Check => {
                    label class="check" for=(id) {
                        input id=(id) type="checkbox" name=(field.name) value="1" checked[typed == Some("1")]
                            aria-describedby=[described.as_deref()];
                        span { (tr(lang, field.label)) }
                    }
                }
                _ => {
                    label for=(id) { (tr(lang, field.label)) }
                    @match field.input {
                        Input::Area => {
                            textarea id=(id) name=(field.name) rows="3" required[field.required]
                                aria-invalid=[error.map(|_| "true")] aria-describedby=[described.as_deref()] { (typed.unwrap_or_default()) }
                        }
                        Input::Choice(group, values) => {
                            select id=(id) name=(field.name) required[field.required]
                                aria-invalid=[error.map(|_| "true")] aria-describedby=[described.as_deref()] {
                                @if !field.required { option value="" { "—" } }
                                @for item in values {
                                    option value=(item) selected[typed == Some(*item)] { (value(lang, group, item)) }
                                }
                            }
                        }
                        Input::Number(low, high) => {
                            input id=(id) name=(field.name) type="number" min=(low) max=(high) required[field.required]
                                value=[typed] aria-invalid=[error.map(|_| "true")] aria-describedby=[described.as_deref()];
                        }
                        _ => {
                            input id=(id) name=(field.name) type="text" required[field.required]
                                value=[typed] aria-invalid=[error.map(|_| "true")] aria-describedby=[described.as_deref()];
                        }
                    }
                }
            }
            @if let Some(error) = error {
                p class="refusal" id=(error_id) role="alert" { (error) }
            }
        }
    }
}

/// The one-click confirmation of the trained classifier's suggestion: a Classify form whose
/// values are the suggestion's chosen ones (and the ticket's scope and keywords), sent at the
/// ticket's version so that a ticket changed meanwhile is refused, not overwritten.
pub fn confirm_suggestion(
    context: FormContext<'_>,
    ticket: &proto::v1::Ticket,
    suggestion: &proto::v1::ClassificationSuggestion,
) -> Markup {
    let lang = context.lang;
    let top = |values: &[proto::v1::SuggestedValue]| {
        values
            .first()
            .map(|value| value.value.clone())
            .unwrap_or_default()
    };
    let scope = proto::v1::Scope::try_from(ticket.scope)
        .ok()
        .and_then(proto::v1::Scope::to_domain)
        .map_or("local", |scope| scope.as_str());
    html! {
        form method="post"
            action={ "/tickets/" (crate::queue::encode(context.ticket_id)) "/" (Action::Classify.slug()) }
            id="form-confirm-suggestion" {
            input type="hidden" name="csrf_token" value=(context.csrf);
            input type="hidden" name="command_id" value=(crate::session::random_hex(16));
            input type="hidden" name="expected_version" value=(context.version);
            input type="hidden" name="kind" value=(top(&suggestion.kind));
            input type="hidden" name="content_type" value=(top(&suggestion.content_type));
            input type="hidden" name="priority" value=(top(&suggestion.priority));
            input type="hidden" name="department" value=(top(&suggestion.department));
            input type="hidden" name="scope" value=(scope);
            input type="hidden" name="keywords" value=(ticket.keywords.join(","));
            @if ticket.complex { input type="hidden" name="complex" value="1"; }
            input type="hidden" name="reason"
                value=(format!("confirmed the classifier's suggestion ({})", suggestion.model_version));
            button type="submit" id="confirm-suggestion" { (tr(lang, "suggestion.confirm")) }
        }
    }
}

/// The form of one action.
pub fn form(context: FormContext<'_>, action: Action) -> Markup {
    let lang = context.lang;
    let refusal = context.refusal.filter(|refusal| refusal.action == action);
    // A refusal that names no field of this form is shown above its fields.
    let general = refusal.filter(|refusal| {
        refusal
            .field
            .as_deref()
            .is_none_or(|name| !fields(action).iter().any(|field| field.name == name))
    });
    html! {
        details class={ "action action-" (action.slug()) } open[refusal.is_some()] {
            summary { (tr(lang, action.title_key())) }
            form method="post"
                action={ "/tickets/" (crate::queue::encode(context.ticket_id)) "/" (action.slug()) }
                id={ "form-" (action.slug()) } {
                input type="hidden" name="csrf_token" value=(context.csrf);
                input type="hidden" name="command_id" value=(crate::session::random_hex(16));
                input type="hidden" name="expected_version" value=(context.version);
                @if let Some(refusal) = general {
                    p class="refusal" role="alert" { (tr(lang, "ticket.refused")) ": " (refusal.message) }
                }
                @for field in fields(action) { (input(context, action, field)) }
                button type="submit" { (tr(lang, action.title_key())) }
            }
        }
    }
}
