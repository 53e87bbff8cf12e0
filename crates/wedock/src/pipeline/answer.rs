//! The answer to a message that is not a command: a pending `/quiz` answer, a greeting, or
//! the knowledge base's answer, improved by the LLM when one is configured.

use crate::app::App;
use crate::i18n::{Lang, Text};
use crate::knowledge::{is_greeting, quiz};
use crate::message::{Incoming, Progress, Reply};

/// The reply to a message that is not a command: a pending `/quiz` answer, a greeting, or a
/// knowledge answer (improved by the LLM when one is configured; its text so far goes to
/// `progress` while it streams in).
pub async fn respond(
    app: &App,
    msg: &Incoming,
    _role: crate::identity::Role,
    lang: Lang,
    progress: Option<&Progress>,
) -> Reply {
    let quiz_waits = match quiz::take_answer(&app.knowledge, &*app.store, msg, lang).await {
        quiz::Turn::Graded(reply) => return reply,
        quiz::Turn::StillPending => true,
        quiz::Turn::NoQuiz => false,
    };
    let mut reply = answer(app, msg, lang, progress).await;
    if quiz_waits {
        reply.reply.push_str("\n\n");
        reply.reply.push_str(Text::QuizStillPending.get(lang));
    }
    reply
}

/// [`respond`] for a message known to have no quiz question pending (the message path read
/// that with its dedup state): the answer alone, without reading the quiz state again.
pub async fn answer(app: &App, msg: &Incoming, lang: Lang, progress: Option<&Progress>) -> Reply {
    let text = msg.text.trim();
    if is_greeting(text) {
        return Reply::answer(Text::Greeting.get(lang), lang, true, Vec::new());
    }
    // A pasted error that a failure signature knows is answered by that signature first.
    let (sig, hits) = app.knowledge.lookup(text, 3);
    let plain = match &sig {
        Some(m) => app.knowledge.signature_reply(m, &hits, lang),
        None => app.knowledge.reply_for(&hits, lang),
    };
    match &app.config.llm {
        Some(cfg) if plain.matched => {
            // The model is a third party: a secret pasted into a question stays here.
            let question = app.redactor.redact(text);
            crate::knowledge::llm::improve(cfg, &question, &hits, lang, plain, progress).await
        }
        _ => plain,
    }
}
