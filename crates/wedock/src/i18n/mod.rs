//! The user's language, and the catalog of every user-facing sentence in both languages
//! (`catalog.rs`, `zh.toml`, `en.toml`). Replies follow the language of the message they answer.

#[macro_use]
pub mod catalog;
#[cfg(test)]
mod catalog_tests;

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

/// The core sentences as typed keys into the catalog (`[core]` in zh.toml / en.toml).
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
    /// The catalog key of this sentence.
    pub fn key(self) -> &'static str {
        match self {
            Text::Pong => "core.pong",
            Text::Greeting => "core.greeting",
            Text::EmptyMessage => "core.empty_message",
            Text::MessageTooLong => "core.message_too_long",
            Text::NeedRole => "core.need_role",
            Text::UnknownCommand => "core.unknown_command",
            Text::UnknownCommandSuggest => "core.unknown_command_suggest",
            Text::BadArguments => "core.bad_arguments",
            Text::InternalError => "core.internal_error",
            Text::StillWorking => "core.still_working",
            Text::NotSupportedType => "core.not_supported_type",
            Text::DontKnow => "core.dont_know",
            Text::ClosestTopics => "core.closest_topics",
            Text::ReadOnly => "core.read_only",
            Text::RateLimitedCommands => "core.rate_limited_commands",
            Text::RateLimitedAnswers => "core.rate_limited_answers",
            Text::OutOfScope => "core.out_of_scope",
            Text::ConfirmAsk => "core.confirm_ask",
            Text::NothingToConfirm => "core.nothing_to_confirm",
            Text::DockerUnavailable => "core.docker_unavailable",
            Text::QuizStillPending => "core.quiz_still_pending",
        }
    }

    pub fn get(self, lang: Lang) -> &'static str {
        catalog::get(lang, self.key())
    }
    /// The sentence with `{name}` placeholders filled in.
    pub fn fill(self, lang: Lang, vars: &[(&str, &str)]) -> String {
        catalog::fill_text(self.get(lang), vars)
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
