//! The user's language, and every fixed user-facing sentence in both languages.
//! Replies follow the language of the message they answer.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Chinese when the text has any Han character, English when it has Latin letters and no
    /// Han, Chinese otherwise (the default audience).
    pub fn detect(text: &str) -> Lang {
        let mut latin = false;
        for c in text.chars() {
            if is_han(c) {
                return Lang::Zh;
            }
            latin |= c.is_ascii_alphabetic();
        }
        if latin { Lang::En } else { Lang::Zh }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.to_ascii_lowercase().as_str() {
            "zh" | "zh-cn" | "cn" | "chinese" => Some(Lang::Zh),
            "en" | "en-us" | "english" => Some(Lang::En),
            _ => None,
        }
    }

    /// Picks the variant for this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// Whether the text contains any Han character.
pub fn has_han(text: &str) -> bool {
    text.chars().any(is_han)
}

/// CJK Unified Ideographs (with extension A and compatibility ideographs).
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Fixed sentences. One place, both languages, so wording stays consistent.
#[derive(Debug, Clone, Copy)]
pub enum Text {
    Pong,
    Greeting,
    EmptyMessage,
    MessageTooLong,
    NeedRole,
    UnknownCommand,
    UnknownCommandSuggest,
    BadArguments,
    InternalError,
    StillWorking,
    NotSupportedType,
    DontKnow,
    ClosestTopics,
    ReadOnly,
    DockerUnavailable,
    QuizStillPending,
    RateLimitedCommands,
    RateLimitedAnswers,
    OutOfScope,
    ConfirmAsk,
    NothingToConfirm,
}

impl Text {
    pub fn get(self, lang: Lang) -> &'static str {
        let (zh, en) = match self {
            Text::Pong => ("pong 🏓 wedock 在线。", "pong 🏓 wedock is up."),
            Text::Greeting => (
                "你好！我是 wedock，Docker / Kubernetes 运维助手。我可以：\n\
                 • 回答 Docker、Kubernetes 面试题和排障问题（直接问，如「CMD 和 ENTRYPOINT 的区别」「退出码 137」）\n\
                 • 查看和操作容器：/docker ps、/logs 名称、/restart 名称\n\
                 • 面试练习：/quiz\n\
                 • 把容器异常和告警推送到群里\n\
                 发送 /help 查看全部命令。",
                "Hi! I'm wedock, a Docker / Kubernetes ops assistant. I can:\n\
                 • answer Docker and Kubernetes interview and troubleshooting questions (just ask, e.g. \"CMD vs ENTRYPOINT\", \"exit code 137\")\n\
                 • show and operate containers: /docker ps, /logs NAME, /restart NAME\n\
                 • drill interview questions: /quiz\n\
                 • push container failures and alerts to your group\n\
                 Send /help for every command.",
            ),
            Text::EmptyMessage => (
                "消息是空的。发送 /help 查看我能做什么。",
                "The message is empty. Send /help to see what I can do.",
            ),
            Text::MessageTooLong => (
                "消息太长了（上限 {limit} 字节），请缩短后再发。",
                "The message is too long (limit {limit} bytes); please shorten it.",
            ),
            Text::NeedRole => (
                "权限不足：{what} 需要 {need} 角色，你当前是 {have}。",
                "Permission denied: {what} needs the {need} role; you are {have}.",
            ),
            Text::UnknownCommand => (
                "未知命令 {cmd}。发送 /help 查看全部命令。",
                "Unknown command {cmd}. Send /help for every command.",
            ),
            Text::UnknownCommandSuggest => (
                "未知命令 {cmd}。你是不是想用 {suggest}？发送 /help 查看全部命令。",
                "Unknown command {cmd}. Did you mean {suggest}? Send /help for every command.",
            ),
            Text::BadArguments => (
                "参数有误：{what}。用法：{usage}（/help {cmd} 查看详细说明）",
                "Wrong arguments: {what}. Usage: {usage} (/help {cmd} for details)",
            ),
            Text::InternalError => (
                "出错了：{reason}。请稍后再试。",
                "Something went wrong: {reason}. Please try again later.",
            ),
            Text::StillWorking => ("正在处理，请稍候…", "Working on it…"),
            Text::NotSupportedType => (
                "暂不支持这种消息类型，请发送文字。",
                "This message type is not supported yet; please send text.",
            ),
            Text::DontKnow => (
                "抱歉，我不确定这个问题的答案。",
                "Sorry, I'm not sure about that one.",
            ),
            Text::ClosestTopics => ("你可能想问：", "Did you mean:"),
            Text::ReadOnly => (
                "wedock 处于只读模式（{key} = true），写操作已禁用。",
                "wedock is in read-only mode ({key} = true); write commands are disabled.",
            ),
            Text::RateLimitedCommands => (
                "操作太频繁（每分钟最多 {limit} 条命令），请 {secs} 秒后再试。",
                "Too many commands (at most {limit} a minute); please try again in {secs} s.",
            ),
            Text::RateLimitedAnswers => (
                "提问太频繁（每小时最多 {limit} 个问题），请 {secs} 秒后再试。",
                "Too many questions (at most {limit} an hour); please try again in {secs} s.",
            ),
            Text::OutOfScope => (
                "权限不足：{what} 不能{access} {target}，它不在你（{have}）的范围内。",
                "Permission denied: {what} may not {access} {target}; it is outside your scope ({have}).",
            ),
            Text::ConfirmAsk => (
                "⚠️ 即将执行：{summary}\n请在 {timeout} 秒内回复 /confirm {code} 确认，发送其他任何内容即取消。",
                "⚠️ About to run: {summary}\nReply /confirm {code} within {timeout} s to proceed; anything else cancels.",
            ),
            Text::NothingToConfirm => {
                ("没有待确认的操作。", "Nothing is waiting for confirmation.")
            }
            Text::DockerUnavailable => (
                "未连接 Docker 引擎：{reason}",
                "No Docker engine available: {reason}",
            ),
            Text::QuizStillPending => (
                "（面试题还在等你作答：直接发送答案，或发送 /quiz skip 跳过。）",
                "(Your quiz question is still waiting: send your answer, or /quiz skip to skip it.)",
            ),
        };
        lang.pick(zh, en)
    }

    /// The sentence with `{name}` placeholders filled in.
    pub fn fill(self, lang: Lang, vars: &[(&str, &str)]) -> String {
        let mut s = self.get(lang).to_string();
        for (k, v) in vars {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_language() {
        assert_eq!(Lang::detect("容器退出码 137 是什么"), Lang::Zh);
        assert_eq!(Lang::detect("what is exit code 137"), Lang::En);
        assert_eq!(Lang::detect("k8s 的 service"), Lang::Zh);
        assert_eq!(Lang::detect("137"), Lang::Zh);
    }

    #[test]
    fn fill_replaces_placeholders() {
        let s = Text::NeedRole.fill(
            Lang::En,
            &[
                ("what", "/restart"),
                ("need", "operator"),
                ("have", "viewer"),
            ],
        );
        assert_eq!(
            s,
            "Permission denied: /restart needs the operator role; you are viewer."
        );
    }
}
