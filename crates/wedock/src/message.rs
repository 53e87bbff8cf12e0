//! The two values every channel speaks: an [`Incoming`] message and the [`Reply`] to it.

use crate::i18n::Lang;
use crate::identity::Role;
use crate::render::Target;
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::watch;

/// A message from any channel, already decrypted and parsed.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Channel name: `console`, `cli`, `wecom`, `wechat_mp`, `aibot`, `wechatbot`, `weixin`.
    pub channel: String,
    /// The sender's id on that platform (without the channel prefix).
    pub user: String,
    /// Group chat id, when the message came from a group.
    pub chat: Option<String>,
    pub text: String,
    /// The platform's message id, for dedup of retries.
    pub msg_id: Option<String>,
    /// A role granted by the channel itself (the local console and CLI act as the configured
    /// local user); `None` means "look the sender up in `[identity]`".
    pub granted_role: Option<Role>,
    /// The highest role this message may act with, whatever `[identity]` says: set by channels
    /// that cannot authenticate the sender (plain-mode Official Account, bridge users without
    /// an owner-set alias, bridge groups). `None` means no cap.
    pub role_cap: Option<Role>,
}

impl Incoming {
    /// A message typed locally (CLI or console) by the configured local user.
    pub fn local(channel: &str, user_identity: &str, role: Role, text: impl Into<String>) -> Self {
        let user = user_identity
            .split_once(':')
            .map_or(user_identity, |(_, user)| user);
        Self {
            channel: channel.to_string(),
            user: user.to_string(),
            chat: None,
            text: text.into(),
            msg_id: None,
            granted_role: Some(role),
            role_cap: None,
        }
    }

    /// `channel:userid`.
    pub fn identity(&self) -> String {
        format!("{}:{}", self.channel, self.user)
    }

    /// `channel:chatid` of the group, if any.
    pub fn chat_identity(&self) -> Option<String> {
        self.chat
            .as_ref()
            .map(|c| format!("{}:{}", self.channel, c))
    }
}

/// The text of a reply still being written (an LLM answer arriving token by token), for
/// channels that can show it before the reply is final — the AI bot's stream replies. Each
/// update is the whole text so far, not a delta, because a stream frame replaces the bubble.
#[derive(Clone)]
pub struct Progress(Arc<watch::Sender<String>>);

impl Progress {
    /// A progress sender and the receiver a channel watches.
    pub fn channel() -> (Self, watch::Receiver<String>) {
        let (tx, rx) = watch::channel(String::new());
        (Self(Arc::new(tx)), rx)
    }

    /// Publishes the text so far. Receivers that are gone are not an error: the final reply
    /// still arrives the normal way.
    pub fn update(&self, text_so_far: &str) {
        self.0.send_replace(text_so_far.to_string());
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReplyKind {
    /// The result of a `/command`.
    Command,
    /// A knowledge answer (or greeting, or quiz turn).
    Answer,
    /// Not understood / not known: "I don't know" with suggestions.
    Unknown,
    /// Refused or failed: bad arguments, missing role, engine down.
    Error,
}

/// A knowledge source an answer was drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Source {
    pub id: String,
    pub title: String,
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Reply {
    pub reply: String,
    pub kind: ReplyKind,
    pub matched: bool,
    pub sources: Vec<Source>,
    #[serde(skip)]
    pub lang: Lang,
    /// `reply` is a Markdown document (knowledge and LLM answers) to be rendered per channel;
    /// otherwise it is preformatted text (command output, tables) shown line for line.
    #[serde(skip)]
    pub markdown: bool,
}

impl Reply {
    /// The text of the reply for a channel that renders full Markdown (the AI bot):
    /// Markdown answers are rendered (soft breaks joined, fences sized); command output,
    /// which carries container and cluster text, is defused; other fixed text goes as it is.
    pub fn markdown_text(&self) -> String {
        use crate::render::escape::{clean, defuse};
        if self.markdown {
            return crate::render::markdown::render(&self.reply, Target::MarkdownV2);
        }
        match self.kind {
            ReplyKind::Command | ReplyKind::Error => defuse(&clean(&self.reply)),
            ReplyKind::Answer | ReplyKind::Unknown => self.reply.clone(),
        }
    }

    pub fn command(text: impl Into<String>, lang: Lang) -> Self {
        Self {
            reply: text.into(),
            kind: ReplyKind::Command,
            matched: true,
            sources: Vec::new(),
            lang,
            markdown: false,
        }
    }
    pub fn error(text: impl Into<String>, lang: Lang) -> Self {
        Self {
            reply: text.into(),
            kind: ReplyKind::Error,
            matched: false,
            sources: Vec::new(),
            lang,
            markdown: false,
        }
    }
    pub fn answer(
        text: impl Into<String>,
        lang: Lang,
        matched: bool,
        sources: Vec<Source>,
    ) -> Self {
        Self {
            reply: text.into(),
            kind: if matched {
                ReplyKind::Answer
            } else {
                ReplyKind::Unknown
            },
            matched,
            sources,
            lang,
            markdown: false,
        }
    }

    /// Marks the text as a Markdown document.
    pub fn markdown(mut self) -> Self {
        self.markdown = true;
        self
    }

    /// The reply as `target` shows it, in parts of at most `budget` bytes. Markdown is
    /// rendered (see [`crate::render::markdown`]); preformatted text keeps its lines.
    pub fn parts(&self, target: Target, budget: usize) -> Vec<String> {
        if self.markdown {
            return crate::render::markdown::render_parts(&self.reply, target, budget);
        }
        use crate::render::escape;
        // Preformatted text is mostly container and cluster output: on formats that would
        // read it as markup it is escaped, so it can only be shown.
        match target {
            Target::Html => vec![format!(
                "<pre>{}</pre>",
                crate::render::markdown::escape_html(&self.reply)
            )],
            Target::WecomMarkdown => {
                crate::render::split_by_bytes(&escape::inline(target, &self.reply), budget)
            }
            Target::MarkdownV2 => {
                crate::render::split_by_bytes(&escape::defuse(&escape::clean(&self.reply)), budget)
            }
            Target::Plain => crate::render::split_by_bytes(&self.reply, budget),
        }
    }

    /// The whole reply as `target` shows it, unsplit.
    pub fn rendered(&self, target: Target) -> String {
        self.parts(target, usize::MAX).concat()
    }
}
