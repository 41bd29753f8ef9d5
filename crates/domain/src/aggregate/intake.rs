//! Receiving, classifying and dispatching a ticket, and the automatic dispatch.

use super::{
    allowed_outcomes, already_exists, require_step, sanitize_classification, shift_deadlines,
    unique_keywords, usable_helpers,
};
use crate::command::{
    check_optional_text, check_text, check_token, ClassifyCommand, Command, Submission,
    MAX_HELPERS, MAX_KEYWORDS, MAX_SHORT_CHARS, MAX_TEXT_CHARS,
};
use crate::event::{Classified, Dispatched, Event, Received, Suggestion};
use crate::ticket::{Approval, Ticket};
use crate::types::{
    Classification, ContentType, Deadlines, Kind, ModelVerdict, Placement, Policy, Priority, Step,
};
use crate::DomainError;
use chrono::{DateTime, Utc};

/// The automatic dispatch event, when a routing rule names a configured department.
pub(super) fn automatic_dispatch(
    classification: &Classification,
    product: Option<&str>,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Option<Event> {
    let route = policy.route(classification, product)?;
    if !policy.is_department(&route.department) {
        return None;
    }
    let reason = if route.rule.trim().is_empty() {
        "routing rules".to_owned()
    } else {
        route.rule.clone()
    };
    Some(Event::Dispatched(Dispatched {
        from: None,
        helpers: usable_helpers(&route.department, &route.helpers, policy),
        department: route.department,
        reason,
        automatic: true,
        solution_withdrawn: false,
        at: now,
    }))
}

pub(super) fn decide_receive(
    state: &Ticket,
    submission: &Submission,
    vip: bool,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    if state.exists() {
        return Err(already_exists(state));
    }
    submission.validate()?;
    let classification = sanitize_classification(
        policy.classify(&submission.content, submission.product.as_deref()),
    );
    let deadlines = policy.deadlines_for(submission.received_at, &classification, vip);
    let mut events = vec![Event::Received(Box::new(Received {
        ticket_id: submission.ticket_id.clone(),
        feedback_id: submission.feedback_id,
        channel: submission.channel.clone(),
        external_id: submission.external_id.clone(),
        customer: submission.customer.clone(),
        content: submission.content.clone(),
        occurred_at: submission.occurred_at.unwrap_or(submission.received_at),
        received_at: submission.received_at,
        product: submission.product.clone(),
        order_id: submission.order_id.clone(),
        attributes: submission.attributes.clone(),
        deadlines: deadlines.clone(),
        at: now,
        cannot_be_told: !submission.customer.can_be_told(),
        language: submission.language,
        terms: classification.terms.clone(),
        vip,
    }))];
    if classification.confident {
        let reason = "classification rules".to_owned();
        events.push(classified(
            &classification,
            true,
            reason,
            deadlines,
            now,
            policy,
        ));
        events.extend(automatic_dispatch(
            &classification,
            submission.product.as_deref(),
            now,
            policy,
        ));
    } else if let Some(verdict) = policy.model_verdict(&submission.content) {
        events.extend(model_events(
            verdict,
            &classification,
            (submission.received_at, vip),
            now,
            policy,
        ));
    }
    Ok(events)
}

/// What the trained classifier's verdict adds to a ticket the rules could not place: above
/// every `auto` threshold its classification and a dispatch to its department; between the
/// thresholds its suggestion; below, nothing. The rules' scope, keywords and complexity stay.
fn model_events(
    verdict: ModelVerdict,
    rules: &Classification,
    (received_at, vip): (DateTime<Utc>, bool),
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Vec<Event> {
    let mut suggestion = verdict.suggestion;
    suggestion.at = now;
    match verdict.placement {
        Placement::Unsure => Vec::new(),
        Placement::Suggest => vec![Event::ClassificationSuggested(suggestion)],
        Placement::Auto => {
            let top = |field: &str| suggestion.top(field).unwrap_or_default().to_owned();
            let (Ok(kind), Ok(content_type), Ok(priority)) = (
                Kind::parse("kind", &top("kind")),
                ContentType::parse("content_type", &top("content_type")),
                Priority::parse("priority", &top("priority")),
            ) else {
                // A model answers only valid values (checked when it is read): never here.
                return vec![Event::ClassificationSuggested(suggestion)];
            };
            let department = top("department");
            if !policy.is_department(&department) {
                return vec![Event::ClassificationSuggested(suggestion)];
            }
            let classification = Classification {
                kind,
                content_type,
                priority,
                confidence: suggestion.confidence,
                confident: true,
                ..rules.clone()
            };
            let deadlines = policy.deadlines_for(received_at, &classification, vip);
            let reason = format!("classifier model {}", suggestion.model_version);
            let Event::Classified(mut event) = classified(
                &classification,
                true,
                reason.clone(),
                deadlines,
                now,
                policy,
            ) else {
                return Vec::new();
            };
            event.model_version = Some(suggestion.model_version.clone());
            event.by_model = true;
            vec![
                Event::Classified(event),
                Event::Dispatched(Dispatched {
                    from: None,
                    helpers: Vec::new(),
                    department,
                    reason,
                    automatic: true,
                    solution_withdrawn: false,
                    at: now,
                }),
            ]
        }
    }
}

/// The `classified` event of a classification, by the rules (`automatic`) or by a person.
fn classified(
    classification: &Classification,
    automatic: bool,
    reason: String,
    deadlines: Deadlines,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Event {
    Event::Classified(Classified {
        kind: classification.kind,
        content_type: classification.content_type,
        priority: classification.priority,
        scope: classification.scope,
        keywords: classification.keywords.clone(),
        confidence: classification.confidence,
        complex: classification.complex,
        automatic,
        reason,
        policy_version: policy.version(),
        deadlines,
        at: now,
        model_version: None,
        by_model: false,
        terms: classification.terms.clone(),
    })
}

pub(super) fn decide_classify(
    state: &Ticket,
    classify: &ClassifyCommand,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    let command = Command::Classify(classify.clone());
    require_step(
        state,
        &command,
        &[Step::Classify, Step::Dispatch, Step::Handle],
    )?;
    if classify.keywords.len() > MAX_KEYWORDS {
        return Err(DomainError::invalid(
            "keywords",
            format!(
                "at most {MAX_KEYWORDS} keywords, got {}",
                classify.keywords.len()
            ),
        ));
    }
    for keyword in &classify.keywords {
        check_text("keywords", keyword, MAX_SHORT_CHARS)?;
    }
    check_optional_text("reason", &classify.reason, MAX_TEXT_CHARS)?;
    check_classify_department(state, classify, policy)?;
    if let (Approval::Pending, Some(solution)) = (state.approval, &state.solution) {
        if !allowed_outcomes(classify.kind).contains(&solution.outcome) {
            return Err(DomainError::invalid(
                "kind",
                format!(
                    "a solution with outcome {} waits for approval and does not fit a {} ticket; reject it first",
                    solution.outcome, classify.kind
                ),
            ));
        }
    }
    let classification = Classification {
        kind: classify.kind,
        content_type: classify.content_type,
        priority: classify.priority,
        scope: classify.scope,
        keywords: unique_keywords(&classify.keywords),
        confidence: 1.0,
        confident: true,
        complex: classify.complex,
        terms: policy.terms(&state.content),
    };
    let received_at = state.received_at.unwrap_or(now);
    let deadlines = shift_deadlines(
        policy.deadlines_for(received_at, &classification, state.vip),
        state.paused_total_ms,
    );
    let reason = classify.reason.clone();
    let mut event = classified(&classification, false, reason, deadlines, now, policy);
    if let (Event::Classified(classified), Some(suggestion)) = (&mut event, &state.suggestion) {
        if confirms(classify, suggestion) {
            classified.model_version = Some(suggestion.model_version.clone());
        }
    }
    let mut events = vec![event];
    match classify.department.as_deref() {
        Some(department) => {
            events.push(Event::Dispatched(Dispatched {
                from: None,
                department: department.to_owned(),
                helpers: Vec::new(),
                reason: if classify.reason.trim().is_empty() {
                    "classified".to_owned()
                } else {
                    classify.reason.clone()
                },
                automatic: false,
                solution_withdrawn: false,
                at: now,
            }));
        }
        None if state.step == Step::Classify => {
            events.extend(automatic_dispatch(
                &classification,
                state.product.as_deref(),
                now,
                policy,
            ));
        }
        None => {}
    }
    Ok(events)
}

/// Whether a person's classification takes the suggestion's chosen values (and its department,
/// when the command names one).
fn confirms(classify: &ClassifyCommand, suggestion: &Suggestion) -> bool {
    suggestion.top("kind") == Some(classify.kind.as_str())
        && suggestion.top("content_type") == Some(classify.content_type.as_str())
        && suggestion.top("priority") == Some(classify.priority.as_str())
        && classify
            .department
            .as_deref()
            .is_none_or(|department| suggestion.top("department") == Some(department))
}

/// Checks the department a classification dispatches to: only while the ticket waits in
/// classify, and only a configured one.
fn check_classify_department(
    state: &Ticket,
    classify: &ClassifyCommand,
    policy: &dyn Policy,
) -> Result<(), DomainError> {
    let Some(department) = classify.department.as_deref() else {
        return Ok(());
    };
    check_token("department", department)?;
    if !policy.is_department(department) {
        return Err(DomainError::invalid(
            "department",
            format!("{department:?} is not a configured department"),
        ));
    }
    if state.step != Step::Classify {
        return Err(DomainError::invalid(
            "department",
            format!(
                "a classification dispatches only a ticket that waits in classify (this one is in {}); use Dispatch to transfer",
                state.step
            ),
        ));
    }
    Ok(())
}

pub(super) fn decide_dispatch(
    state: &Ticket,
    command: &Command,
    department: &str,
    helpers: &[String],
    reason: &str,
    now: DateTime<Utc>,
    policy: &dyn Policy,
) -> Result<Vec<Event>, DomainError> {
    require_step(state, command, &[Step::Dispatch, Step::Handle])?;
    check_token("department", department)?;
    if !policy.is_department(department) {
        return Err(DomainError::invalid(
            "department",
            format!("{department:?} is not a configured department"),
        ));
    }
    if helpers.len() > MAX_HELPERS {
        return Err(DomainError::invalid(
            "helpers",
            format!(
                "at most {MAX_HELPERS} helper departments, got {}",
                helpers.len()
            ),
        ));
    }
    for (index, helper) in helpers.iter().enumerate() {
        check_token("helpers", helper)?;
        if !policy.is_department(helper) {
            return Err(DomainError::invalid(
                "helpers",
                format!("{helper:?} is not a configured department"),
            ));
        }
        if helper == department {
            return Err(DomainError::invalid(
                "helpers",
                format!("{helper:?} is the lead department and cannot also help"),
            ));
        }
        if helpers[..index].contains(helper) {
            return Err(DomainError::invalid(
                "helpers",
                format!("{helper:?} is named twice"),
            ));
        }
    }
    check_optional_text("reason", reason, MAX_TEXT_CHARS)?;
    let transfer = state.step == Step::Handle;
    if transfer {
        if state.department.as_deref() == Some(department) && state.helpers == helpers {
            return Err(DomainError::invalid(
                "department",
                format!("the ticket is already with {department}"),
            ));
        }
        if reason.trim().is_empty() {
            return Err(DomainError::invalid(
                "reason",
                "a transfer needs a reason for the history",
            ));
        }
    }
    Ok(vec![Event::Dispatched(Dispatched {
        from: state.department.clone(),
        department: department.to_owned(),
        helpers: helpers.to_vec(),
        reason: reason.to_owned(),
        automatic: false,
        solution_withdrawn: transfer && state.approval == Approval::Pending,
        at: now,
    })])
}
