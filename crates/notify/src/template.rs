//! Notice templates in Chinese and English: built-in texts, overridden per notice from
//! `[notify.templates.zh]` / `[notify.templates.en]`, checked at start-up (an unknown
//! placeholder or notice is a configuration error), rendered with `{name}` placeholders.

use crate::error::NotifyError;
use domain::notification::NoticeKind;
use domain::rules::config::Language;
use std::collections::{BTreeMap, HashMap};

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "ticket_id",
    "received_at",
    "respond_by",
    "resolve_by",
    "message",
    "solution",
    "outcome",
    "rating_link",
    "delivered_on",
    "month",
    "rank",
    "reward",
];

/// The built-in review request when rating links are on (`[selfservice]`): the link to the
/// console's rating page in the text.
fn review_request_with_link(language: Language) -> &'static str {
    match language {
        Language::Zh => "工单 {ticket_id} 已处理，请为本次处理打分（1-5 分）：{rating_link} 感谢您的反馈。",
        Language::En => "Ticket {ticket_id} is resolved. Please rate how we handled it (1 to 5): {rating_link} Thank you.",
    }
}

fn built_in(language: Language, notice: NoticeKind) -> (&'static str, &'static str) {
    use NoticeKind as N;
    match (language, notice) {
        (Language::Zh, N::Received) => (
            "您的反馈已受理，工单号 {ticket_id}，我们将在 {respond_by} 前回复，{resolve_by} 前处理完毕。",
            "反馈已受理（工单 {ticket_id}）",
        ),
        (Language::Zh, N::FirstResponse) => (
            "工单 {ticket_id}：{message}",
            "工单 {ticket_id} 已有回复",
        ),
        (Language::Zh, N::Solution) => (
            "工单 {ticket_id} 的处理结果：{solution}",
            "工单 {ticket_id} 处理结果",
        ),
        (Language::Zh, N::ReviewRequest) => (
            "工单 {ticket_id} 已处理，请为本次处理打分（1-5 分），感谢您的反馈。",
            "请评价工单 {ticket_id} 的处理",
        ),
        (Language::Zh, N::SuggestionAdopted) => (
            "感谢您的建议！工单 {ticket_id} 中的建议已被采纳：{solution}",
            "您的建议已被采纳（工单 {ticket_id}）",
        ),
        (Language::Zh, N::Closed) => (
            "工单 {ticket_id} 已办结，感谢您的支持。",
            "工单 {ticket_id} 已办结",
        ),
        (Language::Zh, N::Note) => (
            "工单 {ticket_id} 有新的留言：{message}",
            "工单 {ticket_id} 有新的留言",
        ),
        (Language::Zh, N::SuggestionPlanned) => (
            "感谢您的建议！工单 {ticket_id} 中的建议已列入计划：{solution}，实施后我们会再通知您。",
            "您的建议已列入计划（工单 {ticket_id}）",
        ),
        (Language::Zh, N::SuggestionDelivered) => (
            "您在工单 {ticket_id} 中的建议已于 {delivered_on} 落地实施。{message}",
            "您的建议已落地（工单 {ticket_id}）",
        ),
        (Language::Zh, N::SuggestionAwarded) => (
            "恭喜！您在工单 {ticket_id} 中的建议获评 {month} 月度最佳建议奖（第 {rank} 名），奖励：{reward}。",
            "您获得了 {month} 月度最佳建议奖",
        ),
        (Language::En, N::Received) => (
            "We received your feedback, ticket {ticket_id}. We will respond by {respond_by} and resolve it by {resolve_by}.",
            "Feedback received (ticket {ticket_id})",
        ),
        (Language::En, N::FirstResponse) => (
            "Ticket {ticket_id}: {message}",
            "A reply on ticket {ticket_id}",
        ),
        (Language::En, N::Solution) => (
            "Ticket {ticket_id} is resolved: {solution}",
            "Ticket {ticket_id} resolved",
        ),
        (Language::En, N::ReviewRequest) => (
            "Ticket {ticket_id} is resolved. Please rate how we handled it (1 to 5). Thank you.",
            "Please rate ticket {ticket_id}",
        ),
        (Language::En, N::SuggestionAdopted) => (
            "Thank you! The suggestion of ticket {ticket_id} was adopted: {solution}",
            "Your suggestion was adopted (ticket {ticket_id})",
        ),
        (Language::En, N::Closed) => (
            "Ticket {ticket_id} is closed. Thank you for your feedback.",
            "Ticket {ticket_id} closed",
        ),
        (Language::En, N::Note) => (
            "A message on ticket {ticket_id}: {message}",
            "A message on ticket {ticket_id}",
        ),
        (Language::En, N::SuggestionPlanned) => (
            "Thank you! The suggestion of ticket {ticket_id} is planned: {solution}. We will tell you when it is delivered.",
            "Your suggestion is planned (ticket {ticket_id})",
        ),
        (Language::En, N::SuggestionDelivered) => (
            "The suggestion of ticket {ticket_id} was delivered on {delivered_on}. {message}",
            "Your suggestion was delivered (ticket {ticket_id})",
        ),
        (Language::En, N::SuggestionAwarded) => (
            "Congratulations! The suggestion of ticket {ticket_id} won the best suggestion award of {month} (rank {rank}). Your reward: {reward}.",
            "Best suggestion award of {month}",
        ),
        // Not a customer notice (not in `NoticeKind::ALL`): staff alerts have their own
        // texts (`staff::text`).
        (_, N::StaffAlert) => ("{ticket_id}", "{ticket_id}"),
    }
}

pub use domain::notice::Template;

/// Compiles one notice template with the notifier's placeholders; errors name `key`.
fn parse(key: &str, text: &str) -> Result<Template, NotifyError> {
    Template::parse_with(key, text, PLACEHOLDERS).map_err(|error| match error {
        domain::DomainError::Config { key, reason } => NotifyError::Config { key, reason },
        other => NotifyError::Config {
            key: key.to_owned(),
            reason: other.to_string(),
        },
    })
}

/// Renders `template` with `values` (a placeholder without a value renders empty).
pub fn render(template: &Template, values: &HashMap<&str, String>) -> String {
    template.render(|name| values.get(name).cloned())
}

/// The body and e-mail subject of one notice in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeTemplate {
    pub text: Template,
    pub subject: Template,
}

/// Every notice in both languages, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates {
    by_key: HashMap<(u8, NoticeKind), NoticeTemplate>,
}

fn language_key(language: Language) -> u8 {
    match language {
        Language::Zh => 0,
        Language::En => 1,
    }
}

impl Templates {
    /// The built-in texts with the configured overrides.
    pub fn new(
        overrides: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Self, NotifyError> {
        Self::build(overrides, false)
    }

    /// The same, with the built-in review request carrying `{rating_link}`.
    pub fn with_rating_links(
        overrides: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Self, NotifyError> {
        Self::build(overrides, true)
    }

    fn build(
        overrides: &BTreeMap<String, BTreeMap<String, String>>,
        rating_links: bool,
    ) -> Result<Self, NotifyError> {
        for (language, entries) in overrides {
            let Some(parsed) = Language::from_tag(language) else {
                return Err(NotifyError::Config {
                    key: format!("notify.templates.{language}"),
                    reason: "languages are zh and en".to_owned(),
                });
            };
            let tag = if parsed == Language::Zh { "zh" } else { "en" };
            if tag != language {
                return Err(NotifyError::Config {
                    key: format!("notify.templates.{language}"),
                    reason: format!("write the language as {tag}"),
                });
            }
            for key in entries.keys() {
                let notice = key.strip_suffix("_subject").unwrap_or(key);
                if NoticeKind::parse("notice", notice).is_err() {
                    return Err(NotifyError::Config {
                        key: format!("notify.templates.{language}.{key}"),
                        reason: format!(
                            "unknown notice, expected one of: {} (optionally with _subject)",
                            NoticeKind::ALL
                                .iter()
                                .map(|kind| kind.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
        }
        let mut by_key = HashMap::new();
        for (language, tag) in [(Language::Zh, "zh"), (Language::En, "en")] {
            let configured = overrides.get(tag);
            for &notice in NoticeKind::ALL {
                let (mut text, subject) = built_in(language, notice);
                if rating_links && notice == NoticeKind::ReviewRequest {
                    text = review_request_with_link(language);
                }
                let subject_key = format!("{notice}_subject");
                let text = configured
                    .and_then(|entries| entries.get(notice.as_str()))
                    .map_or(text, String::as_str);
                let subject = configured
                    .and_then(|entries| entries.get(&subject_key))
                    .map_or(subject, String::as_str);
                by_key.insert(
                    (language_key(language), notice),
                    NoticeTemplate {
                        text: parse(&format!("notify.templates.{tag}.{notice}"), text)?,
                        subject: parse(&format!("notify.templates.{tag}.{subject_key}"), subject)?,
                    },
                );
            }
        }
        Ok(Self { by_key })
    }

    /// The template of `notice` in `language`.
    pub fn get(&self, language: Language, notice: NoticeKind) -> Option<&NoticeTemplate> {
        self.by_key.get(&(language_key(language), notice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_templates_compile_and_render_in_both_languages() {
        let templates = Templates::new(&BTreeMap::new()).expect("built-in templates compile");
        let mut values = HashMap::new();
        values.insert("ticket_id", "T-1".to_owned());
        values.insert("respond_by", "2026-11-24 10:00".to_owned());
        values.insert("resolve_by", "2026-11-26 10:00".to_owned());
        let zh = templates
            .get(Language::Zh, NoticeKind::Received)
            .expect("zh received");
        assert_eq!(
            render(&zh.text, &values),
            "您的反馈已受理，工单号 T-1，我们将在 2026-11-24 10:00 前回复，2026-11-26 10:00 前处理完毕。"
        );
        let en = templates
            .get(Language::En, NoticeKind::Closed)
            .expect("en closed");
        assert_eq!(render(&en.subject, &values), "Ticket T-1 closed");
    }

    #[test]
    fn every_notice_has_a_text_in_each_language_and_a_note_carries_its_message() {
        let templates = Templates::new(&BTreeMap::new()).expect("built-in templates compile");
        let values = HashMap::from([
            ("ticket_id", "T-3".to_owned()),
            ("message", "We have found the cause.".to_owned()),
        ]);
        for &notice in NoticeKind::ALL {
            let zh = templates.get(Language::Zh, notice).expect("zh template");
            let en = templates.get(Language::En, notice).expect("en template");
            let (zh_text, en_text) = (render(&zh.text, &values), render(&en.text, &values));
            assert!(
                zh_text.contains("T-3") && en_text.contains("T-3"),
                "{notice:?}"
            );
            // The Chinese text is written in Chinese, the English one has no Chinese in it.
            assert!(zh_text
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
            assert!(!en_text
                .chars()
                .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)));
            assert!(!render(&en.subject, &values).is_empty(), "{notice:?}");
        }
        let note = |language| {
            let template = templates.get(language, NoticeKind::Note).expect("note");
            render(&template.text, &values)
        };
        assert_eq!(
            note(Language::En),
            "A message on ticket T-3: We have found the cause."
        );
        assert_eq!(
            note(Language::Zh),
            "工单 T-3 有新的留言：We have found the cause."
        );
    }

    #[test]
    fn with_rating_links_the_review_request_carries_the_link_in_both_languages() {
        let values = HashMap::from([
            ("ticket_id", "T-4".to_owned()),
            (
                "rating_link",
                "https://x.example/rate/T-4?t=1.e.ab".to_owned(),
            ),
        ]);
        let plain = Templates::new(&BTreeMap::new()).expect("compile");
        let linked = Templates::with_rating_links(&BTreeMap::new()).expect("compile");
        for language in [Language::Zh, Language::En] {
            let text = |templates: &Templates| {
                let template = templates
                    .get(language, NoticeKind::ReviewRequest)
                    .expect("review request");
                render(&template.text, &values)
            };
            assert!(text(&linked).contains("https://x.example/rate/T-4?t=1.e.ab"));
            assert!(!text(&plain).contains("https://"), "{}", text(&plain));
        }
    }

    #[test]
    fn overrides_replace_one_notice_and_bad_ones_name_their_key() {
        let mut overrides = BTreeMap::new();
        overrides.insert(
            "en".to_owned(),
            BTreeMap::from([("closed".to_owned(), "Done: {ticket_id} {{ok}}".to_owned())]),
        );
        let templates = Templates::new(&overrides).expect("valid override");
        let values = HashMap::from([("ticket_id", "T-2".to_owned())]);
        assert_eq!(
            render(
                &templates
                    .get(Language::En, NoticeKind::Closed)
                    .expect("en closed")
                    .text,
                &values
            ),
            "Done: T-2 {ok}"
        );
        overrides.insert(
            "zh".to_owned(),
            BTreeMap::from([("closed".to_owned(), "{ticket_id} {birthday}".to_owned())]),
        );
        match Templates::new(&overrides) {
            Err(NotifyError::Config { key, reason }) => {
                assert_eq!(key, "notify.templates.zh.closed");
                assert!(
                    reason.contains("unknown placeholder {birthday}"),
                    "{reason}"
                );
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
        let unknown = BTreeMap::from([(
            "en".to_owned(),
            BTreeMap::from([("birthday".to_owned(), "x".to_owned())]),
        )]);
        assert!(matches!(
            Templates::new(&unknown),
            Err(NotifyError::Config { key, .. }) if key == "notify.templates.en.birthday"
        ));
    }
}
