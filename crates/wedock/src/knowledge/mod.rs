//! Answers to questions in plain words. Placeholder until the knowledge base lands:
//! greetings get the capability list, everything else "I don't know".

use crate::config::KnowledgeConfig;
use crate::i18n::{Lang, Text};
use crate::message::Reply;

pub mod cli;

pub struct Knowledge {
    _cfg: KnowledgeConfig,
}

impl Knowledge {
    pub fn load(cfg: &KnowledgeConfig) -> anyhow::Result<Self> {
        Ok(Self { _cfg: cfg.clone() })
    }

    /// Number of topics loaded, for the start-up log.
    pub fn topic_count(&self) -> usize {
        0
    }

    pub fn answer(&self, text: &str, lang: Lang) -> Reply {
        if is_greeting(text) {
            return Reply::answer(Text::Greeting.get(lang), lang, true, Vec::new());
        }
        Reply::answer(Text::DontKnow.get(lang), lang, false, Vec::new())
    }
}

/// "你好", "hi", "help", "帮助", "在吗" and the like.
pub fn is_greeting(text: &str) -> bool {
    let t = text
        .trim()
        .trim_end_matches(['!', '！', '?', '？', '.', '。', '~', ' '])
        .to_lowercase();
    const WORDS: &[&str] = &[
        "hi",
        "hello",
        "hey",
        "help",
        "你好",
        "您好",
        "嗨",
        "哈喽",
        "在吗",
        "在么",
        "帮助",
        "菜单",
        "你能做什么",
        "你会什么",
        "what can you do",
        "who are you",
        "你是谁",
    ];
    WORDS.contains(&t.as_str())
}

/// The reply to a message that is not a command.
pub async fn respond(
    app: &crate::app::App,
    msg: &crate::message::Incoming,
    _role: crate::identity::Role,
    lang: Lang,
) -> Reply {
    app.knowledge.answer(msg.text.trim(), lang)
}
