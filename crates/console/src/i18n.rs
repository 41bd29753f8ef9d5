//! Chinese and English: the language of a page comes from `?lang=`, else the `lang` cookie
//! (set by the switch), else `Accept-Language`, else Chinese. Every text of the pages is one
//! key of [`tr`].

/// The languages of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

/// The cookie the language switch sets.
pub const LANG_COOKIE: &str = "lang";

impl Lang {
    /// The code of `?lang=` and of the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of the page.
    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Reads a code (`zh`, `en`, `zh-CN`, `en-GB`, ...).
    pub fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        let primary = code.split(['-', '_']).next().unwrap_or_default();
        match primary {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// The language an `Accept-Language` header prefers among ours (highest `q`, first on a tie).
pub fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(Lang, f32)> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let Some(lang) = parts.next().and_then(Lang::parse) else {
            continue;
        };
        let quality = parts
            .filter_map(|part| part.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality > 0.0 && best.is_none_or(|(_, seen)| quality > seen) {
            best = Some((lang, quality));
        }
    }
    best.map(|(lang, _)| lang)
}

/// The page's language: the query's, the cookie's, the browser's, or Chinese.
pub fn choose(query: Option<&str>, cookie: Option<&str>, accept: Option<&str>) -> Lang {
    query
        .and_then(Lang::parse)
        .or_else(|| cookie.and_then(Lang::parse))
        .or_else(|| accept.and_then(from_accept_language))
        .unwrap_or(Lang::Zh)
}

/// The text of `key` in `lang`; the key itself when there is none (a test checks that every
/// key the pages use has both).
pub fn tr(lang: Lang, key: &str) -> &'static str {
    match texts(key) {
        Some((english, chinese)) => match lang {
            Lang::En => english,
            Lang::Zh => chinese,
        },
        None => "?",
    }
}

/// (English, Chinese) of every key.
// structure: table
fn texts(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        "app" => ("closedloop console", "closedloop 控制台"),
        "nav.queue" => ("Queue", "工单队列"),
        "nav.reports" => ("Reports", "报表"),
        "nav.audit" => ("Audit", "审计"),
        "nav.signout" => ("Sign out", "退出"),
        "nav.skip" => ("Skip to content", "跳到正文"),
        "lang.switch" => ("中文", "English"),
        "login.title" => ("Sign in", "登录"),
        "login.token" => ("Your access token", "您的访问令牌"),
        "login.submit" => ("Sign in", "登录"),
        "login.wrong" => ("This token is not known.", "此令牌无效。"),
        "login.hint" => (
            "The token your administrator gave you (cloop token new). It is kept only for this session.",
            "管理员发给您的令牌（cloop token new）。仅在本次会话中保存。",
        ),
        "queue.title" => ("Queue", "工单队列"),
        "queue.suggested" => ("suggested", "有建议"),
        "field.dispatch_to" => (
            "Dispatch to department (optional)",
            "直接分派到部门（可不填）",
        ),
        "suggestion.title" => ("Suggested classification", "建议分类"),
        "suggestion.by" => ("Suggested by the classifier", "由分类模型建议"),
        "suggestion.confidence" => ("Confidence", "置信度"),
        "suggestion.floor" => (
            "Priority raised by the safety and outage keywords",
            "安全和故障关键词已提高优先级",
        ),
        "suggestion.hint" => (
            "Confirming classifies the ticket with the first value of each field and dispatches it to the suggested department. To choose other values, use Classify.",
            "确认后，工单按每项的第一个值分类，并分派到建议的部门。如需其他值，请使用“分类”。",
        ),
        "suggestion.confirm" => ("Confirm suggestion", "确认建议"),
        "queue.empty" => ("No tickets match.", "没有符合条件的工单。"),
        "queue.filter" => ("Filter", "筛选"),
        "queue.any" => ("any", "全部"),
        "queue.mine" => ("Only mine", "只看我的"),
        "queue.search" => ("Search", "搜索"),
        "queue.live" => ("Updates live.", "实时更新。"),
        "queue.updated" => ("Updated", "已更新"),
        "queue.previous" => ("Previous", "上一页"),
        "queue.next" => ("Next", "下一页"),
        "queue.page" => ("Page", "页码"),
        "field.ticket" => ("Ticket", "工单"),
        "field.step" => ("Step", "环节"),
        "field.priority" => ("Priority", "优先级"),
        "field.sla" => ("SLA", "时限"),
        "field.department" => ("Department", "部门"),
        "field.helpers" => ("Helping departments", "协办部门"),
        "field.assignee" => ("Assignee", "处理人"),
        "field.deadline" => ("Next deadline", "最近期限"),
        "field.content" => ("Content", "内容"),
        "field.channel" => ("Channel", "渠道"),
        "field.product" => ("Product", "产品"),
        "field.order" => ("Order", "订单"),
        "field.customer" => ("Customer", "客户"),
        "queue.new_reply" => ("new reply", "客户新回复"),
        "field.cannot_be_told" => ("cannot be told: no contact given", "无法告知：未留联系方式"),
        "field.created" => ("Received", "受理时间"),
        "field.version" => ("Version", "版本"),
        "field.kind" => ("Kind", "类型"),
        "field.content_type" => ("About", "内容类别"),
        "field.scope" => ("Scope", "范围"),
        "field.confidence" => ("Confidence", "置信度"),
        "field.keywords" => ("Matched words", "匹配词"),
        "field.terms" => ("Terms", "提取词"),
        "field.complex" => ("Complex case", "复杂案件"),
        "field.respond_by" => ("Respond by", "响应期限"),
        "field.resolve_by" => ("Resolve by", "解决期限"),
        "field.responded_at" => ("Responded", "已响应"),
        "field.resolved_at" => ("Resolved", "已解决"),
        "field.paused" => ("Clock paused", "计时暂停"),
        "field.solution" => ("Solution", "解决方案"),
        "field.outcome" => ("Outcome", "结果"),
        "field.satisfaction" => ("Satisfaction", "满意度"),
        "field.parent" => ("Problem ticket", "问题工单"),
        "field.round" => ("Round", "轮次"),
        "field.reason" => ("Reason", "原因"),
        "field.comment" => ("Comment", "备注"),
        "field.message" => ("Message to the customer", "给客户的回复"),
        "field.text" => ("Text", "内容"),
        "field.visibility" => ("For", "可见范围"),
        "field.merge" => ("Merge as a duplicate", "作为重复合并"),
        "field.decision" => ("Decision", "决定"),
        "field.at" => ("At (time)", "时间点"),
        "ticket.classification" => ("Classification", "分类"),
        "ticket.sla" => ("Deadlines", "时限"),
        "ticket.why" => ("Why these deadlines", "时限依据"),
        "ticket.history" => ("History", "处理记录"),
        "ticket.similar" => ("Similar tickets", "相似工单"),
        "customer.title" => ("Customer", "客户画像"),
        "customer.tickets" => ("Tickets", "工单数"),
        "customer.complaints" => ("Complaints in the last {days} days", "近 {days} 天投诉"),
        "customer.satisfaction" => ("Satisfaction", "满意度"),
        "customer.tags" => ("Tags", "标签"),
        "customer.vip" => ("VIP", "VIP 客户"),
        "ticket.vip" => (
            "VIP customer: each deadline is the stricter of the VIP row and the rest",
            "VIP 客户：各期限取 VIP 时限与其余规则中较严者",
        ),
        "customer.none" => ("No profile: the customer left no contact.", "无画像：客户未留联系方式。"),
        "tag.high_participation" => ("high participation", "高参与度客户"),
        "tag.adopted_suggestions" => ("adopted suggestions", "需求贡献客户"),
        "tag.repeated_complaints" => ("repeated complaints", "多次投诉客户"),
        "ticket.actions" => ("Actions", "操作"),
        "ticket.none" => ("None.", "无。"),
        "ticket.no_actions" => ("Your role has no actions on tickets.", "您的角色不能操作工单。"),
        "ticket.refused" => ("Refused", "未执行"),
        "ticket.done" => ("Done.", "已完成。"),
        "ticket.escalated" => ("Escalated", "已升级"),
        "action.acknowledge" => ("Acknowledge", "首次响应"),
        "action.note" => ("Add a note", "添加备注"),
        "action.dispatch" => ("Transfer", "转派"),
        "action.classify" => ("Classify", "分类"),
        "action.propose" => ("Propose a solution", "提交解决方案"),
        "action.approve" => ("Approve or reject", "审批"),
        "action.pause" => ("Pause the clock", "暂停计时"),
        "action.resume" => ("Resume the clock", "恢复计时"),
        "action.review" => ("Record the review", "记录回访"),
        "action.archive" => ("Archive", "归档"),
        "action.escalate" => ("Escalate", "升级"),
        "action.link" => ("Link to a problem", "关联问题工单"),
        "action.claim" => ("Take it", "认领"),
        "action.evaluate" => ("Evaluate the suggestion", "评估建议"),
        "action.deliver" => ("Mark the plan delivered", "标记建议已落地"),
        "field.feasibility" => ("Feasibility (1 hard – 5 easy)", "可行性（1 难 – 5 易）"),
        "field.cost" => ("Cost (1 cheap – 5 expensive)", "成本（1 低 – 5 高）"),
        "field.benefit" => ("Benefit (1 little – 5 much)", "收益（1 小 – 5 大）"),
        "field.note" => ("Note", "说明"),
        "field.delivered_on" => ("Delivered on (YYYY-MM-DD)", "落地日期（YYYY-MM-DD）"),
        "field.evaluation" => ("Evaluation", "建议评估"),
        "field.delivery" => ("Delivered", "落地"),
        "field.award" => ("Award", "月度最佳建议"),
        "band.high" => ("high", "高"),
        "band.medium" => ("medium", "中"),
        "band.low" => ("low", "低"),
        "choice.internal" => ("the team", "团队内部"),
        "choice.customer" => ("the customer", "客户"),
        "choice.approve" => ("Approve", "批准"),
        "choice.reject" => ("Send back", "退回"),
        "reports.title" => ("Reports", "报表"),
        "reports.month" => ("Month", "月份"),
        "reports.show" => ("Show", "查看"),
        "reports.today" => ("Today", "今日"),
        "reports.received" => ("Received", "受理"),
        "reports.on_time" => ("On time", "按时"),
        "reports.warning" => ("Warning", "预警"),
        "reports.breached" => ("Breached", "超时"),
        "reports.monthly" => ("Monthly report", "月度报告"),
        "reports.adopted" => ("Adopted suggestions", "已采纳建议"),
        "reports.people" => ("Figures per person", "人员指标"),
        "people.title" => ("People", "人员指标"),
        "people.quarter" => ("Quarter", "季度"),
        "people.from" => ("From", "起始日"),
        "people.to" => ("To (included)", "截止日（含）"),
        "people.period" => ("Period", "统计期"),
        "people.person" => ("Person", "人员"),
        "people.department" => ("Department", "部门"),
        "people.none" => ("Nobody handled tickets in this period.", "本期没有经手的工单。"),
        "audit.title" => ("Audit", "审计"),
        "audit.verify" => ("The log's verification", "日志校验"),
        "audit.ok" => ("The hash chain verifies.", "哈希链校验通过。"),
        "audit.bad" => ("The hash chain does NOT verify.", "哈希链校验未通过。"),
        "audit.events" => ("Events checked", "已校验事件"),
        "audit.head" => ("Head position", "最新位置"),
        "audit.at" => ("A ticket as it stood at an instant", "工单在某一时刻的状态"),
        "audit.show" => ("Show", "查看"),
        "audit.position" => ("Log position", "日志位置"),
        "error.not_found" => ("Not found", "未找到"),
        "error.forged" => (
            "This form was refused: its anti-forgery token is missing or wrong. Reload the page and try again.",
            "表单被拒绝：防伪令牌缺失或错误。请刷新页面后重试。",
        ),
        "error.forbidden" => ("Your role cannot open this page.", "您的角色不能打开此页面。"),
        "error.bad_request" => ("The request is not valid", "请求无效"),
        "error.workflow" => ("The workflow service answered with an error", "工作流服务返回错误"),
        "error.internal" => ("Something went wrong", "出错了"),
        "error.back" => ("Back to the queue", "返回工单队列"),
        "step.receive" => ("receive", "受理"),
        "step.classify" => ("classify", "分类"),
        "step.dispatch" => ("dispatch", "派单"),
        "step.handle" => ("handle", "处理"),
        "step.review" => ("review", "回访"),
        "step.archive" => ("archive", "归档"),
        "priority.urgent" => ("urgent", "紧急"),
        "priority.high" => ("high", "高"),
        "priority.medium" => ("medium", "中"),
        "priority.low" => ("low", "低"),
        "sla.on_time" => ("on time", "正常"),
        "sla.warning" => ("warning", "预警"),
        "sla.breached" => ("overdue", "超时"),
        "kind.suggestion" => ("suggestion", "建议"),
        "kind.complaint" => ("complaint", "投诉"),
        "kind.problem" => ("problem", "问题"),
        "kind.inquiry" => ("inquiry", "咨询"),
        "kind.praise" => ("praise", "表扬"),
        "content_type.product" => ("product", "产品"),
        "content_type.service" => ("service", "服务"),
        "content_type.process" => ("process", "流程"),
        "content_type.experience" => ("experience", "体验"),
        "scope.global" => ("global", "全局"),
        "scope.local" => ("local", "局部"),
        "outcome.adopted" => ("adopted", "采纳"),
        "outcome.planned" => ("planned", "计划采纳"),
        "outcome.declined" => ("declined", "不采纳"),
        "outcome.fixed" => ("fixed", "已修复"),
        "outcome.explained" => ("explained", "已解释"),
        "role.agent" => ("agent", "处理人员"),
        "role.head" => ("department head", "部门负责人"),
        "role.service" => ("customer service", "客服"),
        "role.manager" => ("manager", "管理者"),
        "role.auditor" => ("auditor", "审计"),
        "role.admin" => ("administrator", "管理员"),
        "role.adapter" => ("adapter", "接入程序"),
        "role.system" => ("system", "系统"),
        _ => return customer_texts(key),
    })
}

/// (English, Chinese) of the customers' pages.
// structure: table
fn customer_texts(key: &str) -> Option<(&'static str, &'static str)> {
    Some(match key {
        "actor.customer" => ("the customer (status page)", "顾客（进度页）"),
        "status.title" => ("Your ticket", "工单进度"),
        "status.ticket" => ("Ticket number", "工单号"),
        "status.digits" => (
            "Last 4 digits of the phone on the ticket",
            "登记手机号的后 4 位",
        ),
        "status.hint" => (
            "The ticket number is in the notice you received. After five wrong tries the ticket is locked for 15 minutes.",
            "工单号见您收到的受理通知。连续输错五次，该工单将锁定 15 分钟。",
        ),
        "status.show" => ("Show", "查询"),
        "status.nothing" => (
            "Nothing was found for this ticket number and these digits.",
            "未找到与该工单号和手机号后 4 位相符的工单。",
        ),
        "status.malformed" => (
            "Enter the ticket number and exactly 4 digits.",
            "请输入工单号和 4 位数字。",
        ),
        "status.busy" => (
            "Too many requests just now; please try again in a moment.",
            "请求过于频繁，请稍后再试。",
        ),
        "status.replied" => ("Your reply was recorded on the ticket.", "您的回复已记录在工单中。"),
        "status.rated" => ("Thank you for your rating.", "感谢您的评价。"),
        "status.refused" => ("Not recorded", "未能记录"),
        "status.step" => ("Step", "当前环节"),
        "status.received" => ("Received", "受理时间"),
        "status.respond_by" => ("First response expected by", "预计首次答复"),
        "status.resolve_by" => ("Expected to be resolved by", "预计办结时间"),
        "status.resolved_at" => ("Resolved", "处理完成"),
        "status.solution" => ("Solution", "处理结果"),
        "status.your_rating" => ("Your rating", "您的评分"),
        "status.notes" => ("Messages", "消息"),
        "status.no_notes" => ("No messages yet.", "暂无消息。"),
        "status.from_you" => ("You", "您"),
        "status.from_us" => ("Customer service", "客服"),
        "status.rate" => ("Rate how we handled it", "评价本次处理"),
        "status.rate_question" => ("How satisfied are you?", "您对处理结果满意吗？"),
        "status.score1" => ("very unsatisfied", "非常不满意"),
        "status.score2" => ("unsatisfied", "不满意"),
        "status.score3" => ("neutral", "一般"),
        "status.score4" => ("satisfied", "满意"),
        "status.score5" => ("very satisfied", "非常满意"),
        "status.comment" => ("Comment (optional)", "意见（选填）"),
        "status.rate_submit" => ("Send the rating", "提交评价"),
        "status.reply" => ("Reply", "回复"),
        "status.reply_text" => ("Your message", "您的留言"),
        "status.reply_submit" => ("Send", "发送"),
        "status.another" => ("Look up another ticket", "查询其他工单"),
        "status.reply_on_status" => (
            "To write to us about this ticket, look it up on the status page with the last 4 digits of your phone.",
            "如需就本工单留言，请在工单进度页用手机号后 4 位查询后回复。",
        ),
        "adopted.title" => ("Adopted suggestions", "已采纳的建议"),
        "adopted.intro" => (
            "Suggestions from our customers that we adopted. Thank you!",
            "感谢以下顾客的建议，我们已采纳。",
        ),
        "adopted.none" => ("None yet.", "暂无。"),
        "adopted.solution" => ("What we did", "我们的改进"),
        "adopted.more" => ("More", "更多"),
        "adopted.award" => (
            "Best suggestion of {month}, rank {rank}",
            "{month} 月度最佳建议 第 {rank} 名",
        ),
        "adopted.delivered" => ("delivered on {day}", "已于 {day} 落地"),
        _ => return None,
    })
}

/// The text of a vocabulary value, e.g. `value(lang, "step", "handle")`; the value itself
/// when it has no text.
pub fn value(lang: Lang, group: &str, name: &str) -> String {
    match texts(&format!("{group}.{name}")) {
        Some((english, chinese)) => match lang {
            Lang::En => english.to_owned(),
            Lang::Zh => chinese.to_owned(),
        },
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_wins_then_the_cookie_then_the_browser() {
        assert_eq!(choose(Some("en"), Some("zh"), Some("zh-CN")), Lang::En);
        assert_eq!(choose(None, Some("en"), Some("zh-CN")), Lang::En);
        assert_eq!(choose(Some("fr"), None, Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(choose(None, None, None), Lang::Zh);
        assert_eq!(choose(None, Some("xx"), Some("de-DE")), Lang::Zh);
    }

    #[test]
    fn accept_language_takes_the_highest_quality_of_ours() {
        assert_eq!(
            from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Lang::Zh)
        );
        assert_eq!(
            from_accept_language("en-GB;q=0.5, zh-TW;q=0.7"),
            Some(Lang::Zh)
        );
        assert_eq!(from_accept_language("fr-FR, en;q=0.3"), Some(Lang::En));
        assert_eq!(from_accept_language("zh;q=0, en;q=0.1"), Some(Lang::En));
        assert_eq!(from_accept_language("de, fr"), None);
        assert_eq!(from_accept_language(""), None);
    }

    #[test]
    fn vocabulary_values_have_both_languages() {
        use domain::types::{Priority, SlaState, Step};
        for step in Step::ALL {
            assert_ne!(value(Lang::Zh, "step", step.as_str()), step.as_str());
        }
        for priority in Priority::ALL {
            assert_ne!(
                value(Lang::Zh, "priority", priority.as_str()),
                priority.as_str()
            );
        }
        for state in SlaState::ALL {
            assert_ne!(value(Lang::Zh, "sla", state.as_str()), state.as_str());
        }
        assert_eq!(value(Lang::En, "step", "nonsense"), "nonsense");
        assert_eq!(tr(Lang::En, "no.such.key"), "?");
    }
}
