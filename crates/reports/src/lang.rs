//! The languages the report is read in: every label of the HTML page and of the terminal text
//! in Chinese and in English. The CSV keeps its stable English keys (`section,key,metric`), so
//! a spreadsheet built on it works whatever the reader's language.
//!
//! Which language: an explicit choice (`cloop --lang zh|en`, the console's language switch),
//! else the configured default (`lang` in the CLI's profile), else the `LANG` of the
//! environment when it names a language (`zh_CN.UTF-8` → Chinese, `en_US.UTF-8` → English),
//! else Chinese, the language of the people the demo is for ([`Lang::from_locale`]).

/// A language of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Chinese (simplified): the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Parses an explicit choice: "zh", "zh-CN", "en", "en-US" and the like (case ignored);
    /// `None` for anything else.
    pub fn parse(text: &str) -> Option<Lang> {
        let lower = text.trim().to_ascii_lowercase();
        let language = lower.split(['-', '_', '.', '@']).next().unwrap_or_default();
        match language {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language a locale such as the `LANG` variable names: Chinese for `zh_*`, English
    /// for any other language; Chinese when it says nothing (unset, empty, `C` or `POSIX`).
    pub fn from_locale(locale: Option<&str>) -> Lang {
        let locale = locale.map(str::trim).unwrap_or_default();
        let language = locale
            .split(['-', '_', '.', '@'])
            .next()
            .unwrap_or_default();
        if language.is_empty() || language == "C" || language == "POSIX" {
            return Lang::Zh;
        }
        Lang::parse(language).unwrap_or(Lang::En)
    }

    /// The HTML `lang` attribute: "zh-CN" or "en".
    pub fn html_tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// `english` in this language: the label itself in English, its Chinese from [`LABELS`]
    /// in Chinese; a text with no entry (a channel or department name as configured) is
    /// shown as it is.
    pub fn tr(self, english: &str) -> &str {
        match self {
            Lang::En => english,
            Lang::Zh => LABELS
                .iter()
                .find(|(label, _)| *label == english)
                .map_or(english, |(_, chinese)| chinese),
        }
    }

    /// One of two texts: the Chinese or the English.
    pub fn pick<T>(self, chinese: T, english: T) -> T {
        match self {
            Lang::Zh => chinese,
            Lang::En => english,
        }
    }
}

/// Every fixed label of the report, English then Chinese: headings, column names, the names
/// of the figures and targets, and the vocabulary of kinds, content types, priorities,
/// outcomes and the usual channels.
pub const LABELS: &[(&str, &str)] = &[
    // Title and header.
    ("Monthly report", "月度报告"),
    ("all departments", "全部部门"),
    ("department", "部门"),
    ("tickets received from", "受理时间"),
    ("to", "至"),
    ("computed at log position", "计算自日志位置"),
    ("configuration", "配置"),
    ("calendar", "日历"),
    ("deadlines judged as of", "时限判定时间"),
    ("log position", "日志位置"),
    (
        "Regenerate exactly from the workflow's event log:",
        "可由工单事件日志精确重算：",
    ),
    (
        "Definitions of every figure: docs/reports.md.",
        "各项指标的定义见 docs/reports.md。",
    ),
    // Sections.
    ("Headline figures", "核心指标"),
    ("Targets", "目标"),
    ("Shares", "构成"),
    ("On-time rates per priority", "各优先级及时率"),
    ("Satisfaction", "满意度"),
    ("Most frequent problems", "高频问题"),
    ("Departments", "部门"),
    ("Adopted suggestions", "采纳的建议"),
    ("By kind", "按类型"),
    ("By channel", "按渠道"),
    ("By content type", "按内容"),
    ("By priority", "按优先级"),
    ("Keywords", "关键词"),
    ("Terms", "提取词"),
    ("Products", "产品"),
    // Headline figures (by their stable names).
    ("figure", "指标"),
    ("this month", "本月"),
    ("last month", "上月"),
    ("change", "变化"),
    ("vs", "上月"),
    ("no data", "无数据"),
    ("tickets", "工单数"),
    ("complaints", "投诉"),
    ("response_on_time_rate", "响应及时率"),
    ("resolution_on_time_rate", "解决及时率"),
    ("resolution_rate", "解决率"),
    ("satisfaction_mean", "平均满意度"),
    ("share_satisfied", "满意占比"),
    ("reopen_rate", "重开率"),
    ("closed_loop_rate", "闭环率"),
    // Targets.
    ("target", "目标"),
    ("goal", "要求"),
    ("actual", "实际"),
    ("status", "状态"),
    ("what was measured", "测算依据"),
    ("met", "达成"),
    ("missed", "未达成"),
    ("high_priority_resolution_rate", "高优先级解决率"),
    ("satisfaction", "满意度"),
    ("closed_loop", "闭环"),
    ("satisfied", "满意"),
    // Shares and on time.
    ("kind", "类型"),
    ("content type", "内容"),
    ("channel", "渠道"),
    ("priority", "优先级"),
    ("share", "占比"),
    ("all", "全部"),
    ("received", "受理"),
    ("responded", "已响应"),
    ("response on time", "按时响应"),
    ("resolved", "已解决"),
    ("resolution rate", "解决率"),
    ("resolution on time", "按时解决"),
    ("response", "响应"),
    ("resolution", "解决"),
    // Satisfaction.
    ("reviewed tickets", "条评价"),
    ("reviews", "评价"),
    ("mean", "平均"),
    ("of 5", "分（满分 5）"),
    ("reopened", "重开"),
    // Problems.
    ("keyword", "关键词"),
    ("term", "提取词"),
    ("product", "产品"),
    ("key", "名称"),
    ("reporters", "反馈人数"),
    ("share of complaints", "投诉占比"),
    ("of complaints", "投诉占比"),
    ("priority topic", "重点问题"),
    ("none", "无"),
    // Departments.
    ("volume", "工单量"),
    ("median first response", "首次响应中位数"),
    ("p90 first response", "首次响应 P90"),
    ("median (working time)", "中位数（工作时间）"),
    ("on-time rate", "及时率"),
    ("on time", "及时率"),
    ("Tickets without a department yet:", "尚未分派部门的工单："),
    // Adopted suggestions.
    ("ticket", "工单"),
    ("customer", "客户"),
    ("suggestion", "建议"),
    ("solution", "方案"),
    ("outcome", "结果"),
    ("customer told", "已告知客户"),
    ("told", "已告知"),
    ("yes", "是"),
    ("no", "否"),
    ("adopted", "已采纳"),
    ("planned", "计划实施"),
    ("declined", "未采纳"),
    ("fixed", "已修复"),
    ("explained", "已解释"),
    ("archived", "已归档"),
    ("closed loop", "闭环"),
    // Vocabulary.
    ("complaint", "投诉"),
    ("problem", "问题"),
    ("inquiry", "咨询"),
    ("praise", "表扬"),
    ("service", "服务"),
    ("process", "流程"),
    ("experience", "体验"),
    ("urgent", "紧急"),
    ("high", "高"),
    ("medium", "中"),
    ("low", "低"),
    ("unclassified", "未分类"),
    ("app", "APP"),
    ("web", "网页"),
    ("wechat", "微信"),
    ("hotline", "热线"),
    ("email", "邮件"),
    ("weibo", "微博"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_follows_the_choice_then_the_locale_then_chinese() {
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("ZH-cn"), Some(Lang::Zh));
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(Lang::from_locale(Some("zh_CN.UTF-8")), Lang::Zh);
        assert_eq!(Lang::from_locale(Some("en_US.UTF-8")), Lang::En);
        assert_eq!(Lang::from_locale(Some("de_DE.UTF-8")), Lang::En);
        for silent in [None, Some(""), Some("C"), Some("C.UTF-8"), Some("POSIX")] {
            assert_eq!(Lang::from_locale(silent), Lang::Zh, "{silent:?}");
        }
    }

    #[test]
    fn every_label_has_one_chinese_text() {
        for (index, (english, chinese)) in LABELS.iter().enumerate() {
            assert!(!chinese.is_empty() && chinese != english, "{english}");
            assert!(
                LABELS[..index].iter().all(|(other, _)| other != english),
                "{english} twice"
            );
        }
        assert_eq!(Lang::Zh.tr("Targets"), "目标");
        assert_eq!(Lang::En.tr("Targets"), "Targets");
        assert_eq!(Lang::Zh.tr("customer_service"), "customer_service");
    }
}
