//! A pasted error in chat: when the message holds one of the catalogue's error strings, the
//! signature's answer comes first — what it means, in this case's words (the captured
//! address, port or command), and how to fix it — then the knowledge topic behind it.

use super::signatures::Match;
use super::text::Say;
use crate::i18n::Lang;
use crate::knowledge::doc::Topic;

/// The signature part of the answer (Markdown).
pub fn signature_answer(m: &Match<'_>, lang: Lang) -> String {
    let mut out = format!(
        "{}**{}**\n\n{}",
        Say::Recognised.get(lang),
        m.title(lang),
        m.cause(lang)
    );
    out.push_str("\n\n");
    out.push_str(&format!("**{}**", Say::FixSteps.get(lang)));
    for (i, step) in m.fix(lang).iter().enumerate() {
        out.push_str(&format!("\n{}. {step}", i + 1));
    }
    out
}

/// The whole answer: the signature, then the topic's own answer under a heading.
pub fn answer(m: &Match<'_>, topic: Option<&Topic>, lang: Lang) -> String {
    let mut out = signature_answer(m, lang);
    if let Some(t) = topic {
        out.push_str("\n\n");
        out.push_str(&format!("**{}**", Say::Background.get(lang)));
        out.push('\n');
        out.push_str(&crate::knowledge::format_answer(t, lang));
    }
    out
}
