//! The words of staff alerts in Chinese and English, and the bodies their webhooks are posted
//! with: the shapes WeCom and DingTalk group robots accept (text or markdown), or the
//! notifier's own JSON.

use super::routing::Trigger;
use crate::config::AlertFormat;
use domain::rules::config::Language;
use domain::types::{Deadline, Priority};
use serde_json::json;

/// What an alert's text says about the ticket, already written out.
#[derive(Debug, Clone, Default)]
pub struct AlertFacts {
    pub ticket_id: String,
    /// The department's name in the recipient's language (its id when it has none).
    pub department: String,
    pub priority: Option<Priority>,
    /// The respond-by deadline, written in the calendar's offset.
    pub respond_by: String,
    /// The instant of the deadline a warning or breach is about, written out.
    pub due: String,
}

fn priority_word(priority: Option<Priority>, language: Language) -> &'static str {
    match (language, priority) {
        (Language::Zh, Some(Priority::Urgent)) => "紧急",
        (Language::Zh, Some(Priority::High)) => "高",
        (Language::Zh, Some(Priority::Medium)) => "中",
        (Language::Zh, Some(Priority::Low)) => "低",
        (Language::Zh, None) => "未定",
        (Language::En, Some(Priority::Urgent)) => "urgent",
        (Language::En, Some(Priority::High)) => "high",
        (Language::En, Some(Priority::Medium)) => "medium",
        (Language::En, Some(Priority::Low)) => "low",
        (Language::En, None) => "not yet set",
    }
}

fn deadline_word(deadline: Deadline, language: Language) -> &'static str {
    match (language, deadline) {
        (Language::Zh, Deadline::Respond) => "响应",
        (Language::Zh, Deadline::Resolve) => "解决",
        (Language::En, Deadline::Respond) => "response",
        (Language::En, Deadline::Resolve) => "resolution",
    }
}

/// The subject and text of the alert of `trigger` in `language`.
pub fn render(trigger: &Trigger, facts: &AlertFacts, language: Language) -> (String, String) {
    let id = &facts.ticket_id;
    let department = &facts.department;
    let priority = priority_word(facts.priority, language);
    let (respond_by, due) = (&facts.respond_by, &facts.due);
    match (language, trigger) {
        (Language::Zh, Trigger::NewTicket { .. }) => (
            format!("新工单 {id}"),
            format!("【新工单】{department}队列有新工单 {id}（优先级：{priority}），请在 {respond_by} 前响应。"),
        ),
        (Language::En, Trigger::NewTicket { .. }) => (
            format!("New ticket {id}"),
            format!("[New ticket] Ticket {id} ({priority}) is in the {department} queue; please respond by {respond_by}."),
        ),
        (Language::Zh, Trigger::Assigned { .. }) => (
            format!("工单 {id} 已分派给您"),
            format!("【工单分派】工单 {id}（优先级：{priority}）已分派给您，请在 {respond_by} 前响应。"),
        ),
        (Language::En, Trigger::Assigned { .. }) => (
            format!("Ticket {id} is assigned to you"),
            format!("[Assigned] Ticket {id} ({priority}) is assigned to you; please respond by {respond_by}."),
        ),
        (Language::Zh, Trigger::Warning { deadline, .. }) => (
            format!("超时预警：工单 {id}"),
            format!(
                "【超时预警】工单 {id}（优先级：{priority}，{department}）的{}期限 {due} 即将到期。",
                deadline_word(*deadline, language)
            ),
        ),
        (Language::En, Trigger::Warning { deadline, .. }) => (
            format!("SLA warning: ticket {id}"),
            format!(
                "[SLA warning] The {} deadline of ticket {id} ({priority}, {department}) is at {due}.",
                deadline_word(*deadline, language)
            ),
        ),
        (Language::Zh, Trigger::Breached { deadline, .. }) => (
            format!("已超时：工单 {id}"),
            format!(
                "【已超时】工单 {id}（优先级：{priority}，{department}）已超过{}期限 {due}。",
                deadline_word(*deadline, language)
            ),
        ),
        (Language::En, Trigger::Breached { deadline, .. }) => (
            format!("SLA breached: ticket {id}"),
            format!(
                "[SLA breached] Ticket {id} ({priority}, {department}) missed its {} deadline of {due}.",
                deadline_word(*deadline, language)
            ),
        ),
        (Language::Zh, Trigger::Escalated { level, .. }) => (
            format!("工单 {id} 升级（第 {level} 级）"),
            format!("【升级（第 {level} 级）】工单 {id}（优先级：{priority}，{department}）已升级至您，请督办。"),
        ),
        (Language::En, Trigger::Escalated { level, .. }) => (
            format!("Ticket {id} escalated (level {level})"),
            format!("[Escalated, level {level}] Ticket {id} ({priority}, {department}) is escalated to you."),
        ),
    }
}

/// One rendered alert to one recipient, as the JSON format carries it.
#[derive(Debug, Clone)]
pub struct Rendered<'a> {
    pub idempotency_key: &'a str,
    pub ticket_id: &'a str,
    pub alert: &'a str,
    pub recipient: &'a str,
    pub language: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub source_event_id: &'a str,
}

/// The JSON body of `alert` in `format`.
pub fn body(format: AlertFormat, alert: &Rendered<'_>) -> serde_json::Value {
    match format {
        AlertFormat::Wecom | AlertFormat::Dingtalk => {
            json!({"msgtype": "text", "text": {"content": alert.text}})
        }
        AlertFormat::WecomMarkdown => json!({
            "msgtype": "markdown",
            "markdown": {"content": format!("**{}**\n{}", alert.subject, alert.text)},
        }),
        AlertFormat::DingtalkMarkdown => json!({
            "msgtype": "markdown",
            "markdown": {
                "title": alert.subject,
                "text": format!("#### {}\n{}", alert.subject, alert.text),
            },
        }),
        AlertFormat::Json => json!({
            "idempotency_key": alert.idempotency_key,
            "ticket_id": alert.ticket_id,
            "alert": alert.alert,
            "recipient": alert.recipient,
            "language": alert.language,
            "subject": alert.subject,
            "text": alert.text,
            "source_event_id": alert.source_event_id,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn facts() -> AlertFacts {
        AlertFacts {
            ticket_id: "261207-K3F9".to_owned(),
            department: "技术部".to_owned(),
            priority: Some(Priority::High),
            respond_by: "2026-12-07 12:00".to_owned(),
            due: "2026-12-07 12:00".to_owned(),
        }
    }

    #[test]
    fn every_alert_has_words_in_both_languages() {
        let due = Utc
            .with_ymd_and_hms(2026, 12, 7, 4, 0, 0)
            .single()
            .expect("instant");
        let triggers = [
            Trigger::NewTicket {
                department: "technical".to_owned(),
            },
            Trigger::Assigned {
                assignee: "wang.wu".to_owned(),
                by_self: false,
            },
            Trigger::Warning {
                deadline: Deadline::Respond,
                due,
            },
            Trigger::Breached {
                deadline: Deadline::Resolve,
                due,
            },
            Trigger::Escalated {
                deadline: Some(Deadline::Respond),
                level: 2,
            },
        ];
        for trigger in &triggers {
            for language in [Language::Zh, Language::En] {
                let (subject, text) = render(trigger, &facts(), language);
                assert!(subject.contains("261207-K3F9"), "{subject}");
                assert!(text.contains("261207-K3F9"), "{text}");
            }
        }
        let (_, warning) = render(&triggers[2], &facts(), Language::Zh);
        assert_eq!(
            warning,
            "【超时预警】工单 261207-K3F9（优先级：高，技术部）的响应期限 2026-12-07 12:00 即将到期。"
        );
        let (_, breach) = render(&triggers[3], &facts(), Language::En);
        assert_eq!(
            breach,
            "[SLA breached] Ticket 261207-K3F9 (high, 技术部) missed its resolution deadline of 2026-12-07 12:00."
        );
    }

    #[test]
    fn robots_get_the_bodies_their_documentation_names() {
        let alert = Rendered {
            idempotency_key: "e-1:zhao.liu",
            ticket_id: "T1",
            alert: "sla_breached",
            recipient: "zhao.liu",
            language: "zh",
            subject: "已超时：工单 T1",
            text: "【已超时】工单 T1",
            source_event_id: "e-1",
        };
        let wecom = json!({"msgtype": "text", "text": {"content": "【已超时】工单 T1"}});
        assert_eq!(body(AlertFormat::Wecom, &alert), wecom);
        assert_eq!(body(AlertFormat::Dingtalk, &alert), wecom);
        assert_eq!(
            body(AlertFormat::WecomMarkdown, &alert),
            json!({"msgtype": "markdown", "markdown": {"content": "**已超时：工单 T1**\n【已超时】工单 T1"}})
        );
        assert_eq!(
            body(AlertFormat::DingtalkMarkdown, &alert),
            json!({"msgtype": "markdown", "markdown": {
                "title": "已超时：工单 T1", "text": "#### 已超时：工单 T1\n【已超时】工单 T1"}})
        );
        let own = body(AlertFormat::Json, &alert);
        assert_eq!(own["recipient"], "zhao.liu");
        assert_eq!(own["alert"], "sla_breached");
        assert_eq!(own["idempotency_key"], "e-1:zhao.liu");
    }
}
