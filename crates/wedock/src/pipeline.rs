//! The one message path every channel uses: Incoming → dedup → identity and role → router
//! (command or knowledge) → Reply. The console, `wedock ask` and every chat platform go
//! through [`Pipeline::handle`], so they cannot drift apart.

mod answer;
mod dedup;
mod recorder;

use dedup::{Prefetch, Settled, forget, wait_local};

use crate::app::App;
use crate::command::{self, ChatCommand, Ctx, Outcome, PendingConfirmation};
use crate::i18n::{Lang, Text};
use crate::identity::Role;
use crate::message::{Incoming, Progress, Reply, ReplyKind};
use crate::scope::Scopes;
use crate::store::{DedupRecord, DedupState, StoreResult, now_ms};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest message text the router accepts, in UTF-8 bytes.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// How long a claimed message may stay "processing" before a retry may take it over.
const DEDUP_STALE: Duration = Duration::from_secs(120);

type InFlight = Arc<Mutex<HashMap<String, watch::Receiver<Option<Settled>>>>>;

#[derive(Clone)]
pub struct Pipeline {
    /// One reference: every request clones the pipeline (in its route's state), and eight
    /// reference counts per clone showed in the message path's profile.
    inner: Arc<Shared>,
}

/// What the clones of a [`Pipeline`] share.
pub struct Shared {
    app: Arc<App>,
    in_flight: InFlight,
    /// Each user's last language, mirrored from the store so a message costs no extra write
    /// unless the language changed.
    langs: Arc<Mutex<HashMap<String, Lang>>>,
    /// Recent knowledge answers by (question, language): the same question asked again
    /// within [`ANSWER_TTL`] is answered without searching again.
    answers: AnswerCache,
    /// Dedup records of answered questions on their way to the store.
    recorder: recorder::Recorder,
}

type AnswerCache = Arc<Mutex<HashMap<(String, Lang), (Instant, Reply)>>>;

/// Bound on the in-memory language mirror; it is cleared when full (the store keeps all).
const LANG_CACHE_MAX: usize = 10_000;
/// How long a cached knowledge answer is reused. Bounded so that a knowledge-base reload
/// shows within a minute without the cache knowing about reloads.
const ANSWER_TTL: Duration = Duration::from_secs(60);
/// Bound on cached answers; the cache is cleared when full. An answer is about 2 KB, and a
/// search costs tens of microseconds: the cache is for a question asked again and again (and
/// a platform's retry), not for every question of the last minute. At 4,096 a stream of
/// distinct questions kept 8 MB of answers no one asked for again.
const ANSWER_CACHE_MAX: usize = 512;

impl std::ops::Deref for Pipeline {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.inner
    }
}

impl Pipeline {
    pub fn new(app: Arc<App>) -> Self {
        Self {
            inner: Arc::new(Shared {
                app,
                in_flight: Arc::default(),
                langs: Arc::default(),
                answers: Arc::default(),
                recorder: recorder::Recorder::default(),
            }),
        }
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Handles one message. `None` means "send nothing" (ignored sender, or a duplicate whose
    /// first delivery had no reply).
    pub async fn handle(&self, msg: Incoming) -> Option<Reply> {
        self.handle_traced(msg).await.0
    }

    /// [`Pipeline::handle`], also telling whether this call ran the message (`true`) or
    /// answered it as a duplicate of an earlier run (`false`).
    pub async fn handle_traced(&self, msg: Incoming) -> (Option<Reply>, bool) {
        self.run(msg, None).await
    }

    /// [`Pipeline::handle`] for a channel that shows a reply while it is written: a knowledge
    /// answer improved by the LLM publishes its text so far to `progress`. The returned
    /// reply is still the complete, final one (it may differ from the last progress, e.g.
    /// the plain answer when the LLM failed half-way).
    pub async fn handle_streaming(&self, msg: Incoming, progress: &Progress) -> Option<Reply> {
        self.run(msg, Some(progress)).await.0
    }

    async fn run(&self, msg: Incoming, progress: Option<&Progress>) -> (Option<Reply>, bool) {
        let started = Instant::now();
        metrics::counter!("wedock_messages_total", "channel" => msg.channel.clone()).increment(1);
        let Some(msg_id) = msg.msg_id.clone().filter(|id| !id.is_empty()) else {
            let reply = self.process(&msg, &mut Prefetch::default(), progress).await;
            record(&msg, reply.as_ref(), started);
            return (reply, true);
        };

        let key = format!("{}\u{1f}{}", msg.channel, msg_id);
        // A local waiter means another request in this process is working on it: wait for
        // it. Otherwise register ourselves as the one working on it.
        let (tx, rx) = watch::channel(None);
        let already = match self.in_flight.lock() {
            Ok(mut m) => match m.get(&key) {
                Some(existing) => Some(existing.clone()),
                None => {
                    m.insert(key.clone(), rx);
                    None
                }
            },
            Err(_) => None,
        };
        if let Some(existing) = already {
            metrics::counter!("wedock_duplicates_total", "channel" => msg.channel.clone())
                .increment(1);
            let reply = match wait_local(existing).await {
                Some(Settled::Reply(reply)) => reply,
                Some(Settled::AnswerAgain(lang)) => Some(self.knowledge_answer(&msg, lang).await),
                None => None,
            };
            return (reply, false);
        }
        let ran = if is_command_text(&msg.text) {
            self.run_claimed(&msg, &msg_id, progress).await
        } else {
            self.run_unclaimed(&msg, &msg_id, progress).await
        };
        if ran.fresh {
            record(&msg, ran.reply.as_ref(), started);
        }
        let _ = tx.send(Some(match ran.again {
            Some(lang) => Settled::AnswerAgain(lang),
            None => Settled::Reply(ran.reply.clone()),
        }));
        // A message answered without a claim keeps its in-flight entry (now holding the
        // reply, or naming it) until its dedup record is durable: a platform retry meanwhile
        // gets the same reply from memory, one after that finds the record in the store.
        match ran.record {
            Some(rec) => {
                let (in_flight, store) = (self.in_flight.clone(), self.app.store.clone());
                self.recorder
                    .record(store, rec, move || forget(&in_flight, &key))
                    .await;
            }
            None => forget(&self.in_flight, &key),
        }
        (ran.reply, ran.fresh)
    }

    /// Waits until every dedup record written after a reply is durable (shutdown, tests).
    pub async fn settle(&self) {
        self.recorder.settle(Duration::from_secs(10)).await;
    }

    /// Role, confirmation, routing. Never panics on any text.
    async fn process(
        &self,
        msg: &Incoming,
        pre: &mut Prefetch,
        progress: Option<&Progress>,
    ) -> Option<Reply> {
        let identity = msg.identity();
        let lang = self.language_of(&identity, &msg.text, pre).await;
        let role = match msg.granted_role {
            Some(r) => r,
            None => self
                .app
                .policy
                .role_of(&identity, msg.chat_identity().as_deref())?,
        };
        let role = match msg.role_cap {
            Some(cap) if cap < role => cap,
            _ => role,
        };
        let text = msg.text.trim();
        if text.is_empty() {
            return Some(Reply::error(Text::EmptyMessage.get(lang), lang));
        }
        if text.len() > MAX_MESSAGE_BYTES {
            metrics::counter!("wedock_rejected_total", "reason" => "too_long").increment(1);
            return Some(Reply::error(
                Text::MessageTooLong.fill(lang, &[("limit", &MAX_MESSAGE_BYTES.to_string())]),
                lang,
            ));
        }
        let is_command = is_command_text(text);
        if let Some(reply) = self.rate_limited(msg, &identity, is_command, lang) {
            return Some(reply);
        }
        // Anything but `/confirm` cancels a pending confirmation.
        let confirm_key = format!("confirm:{identity}");
        let pending = self
            .take_pending_unless_confirm(&confirm_key, text, pre.confirm.take())
            .await;

        if !is_command
            && role >= Role::Viewer
            // Boxed: the look-up's futures (engine and cluster calls) would otherwise grow
            // every message's future.
            && let Some(words) = Box::pin(self.diagnosis_asked(msg, &identity, role, text)).await
        {
            let mut reply = self
                .run_words(msg, &identity, role, lang, words, false)
                .await;
            if pending {
                reply.reply = format!("{}\n\n{}", cancelled_note(lang), reply.reply);
            }
            return Some(reply);
        }
        if !is_command {
            // Cacheable: no quiz answer pending (known from the claim's read) and no LLM
            // (its answers vary and are worth asking fresh).
            let cacheable = self.app.config.llm.is_none() && matches!(pre.quiz, Some(None));
            let mut reply = if cacheable {
                self.knowledge_answer(msg, lang).await
            } else if matches!(pre.quiz, Some(None)) {
                // The quiz state was read with the dedup state: no need to read it again.
                answer::answer(&self.app, msg, lang, progress).await
            } else {
                answer::respond(&self.app, msg, role, lang, progress).await
            };
            if cacheable && !pending {
                pre.reproducible = Some(lang);
            }
            if pending {
                reply.reply = format!("{}\n\n{}", cancelled_note(lang), reply.reply);
            }
            return Some(reply);
        }
        // Everything from here on may change state: a message that came without a claim
        // (routed as a question) takes its durable claim now, before anything runs.
        if let Err(seen) = self.claim_now(msg, pre, progress).await {
            return seen;
        }
        let words = match command::split_words(text) {
            Ok(w) if !w.is_empty() => w,
            Ok(_) => return Some(Reply::command(command::help_text(&[], lang), lang)),
            Err(e) => return Some(Reply::error(e, lang)),
        };
        let mut reply = self
            .run_words(msg, &identity, role, lang, words, false)
            .await;
        if pending {
            reply.reply = format!("{}\n\n{}", cancelled_note(lang), reply.reply);
        }
        Some(reply)
    }

    /// `/diagnose NAME` words when a plain-words message asks why a target it names is
    /// broken ("api 为什么一直重启"); `None` sends it to the knowledge base.
    async fn diagnosis_asked(
        &self,
        msg: &Incoming,
        identity: &str,
        role: Role,
        text: &str,
    ) -> Option<Vec<String>> {
        if !crate::diagnose::intent::has_failure_word(text) {
            return None;
        }
        let scopes = Scopes::for_sender(
            &self.app.config.identity.scopes,
            identity,
            role,
            msg.chat_identity().as_deref(),
        );
        crate::diagnose::intent::route(&self.app, text, &scopes).await
    }

    /// The polite refusal when `identity` is over its `[limits]`, else `None` (and the
    /// message is counted). Messages typed locally (CLI, console: `granted_role` set) are
    /// exempt: they come from whoever runs wedock.
    fn rate_limited(
        &self,
        msg: &Incoming,
        identity: &str,
        is_command: bool,
        lang: Lang,
    ) -> Option<Reply> {
        if msg.granted_role.is_some() {
            return None;
        }
        let limits = &self.app.limits;
        let cfg = &self.app.config.limits;
        let (limiter, kind, text, limit) = if is_command {
            (
                limits.commands.as_ref()?,
                "commands",
                Text::RateLimitedCommands,
                cfg.commands_per_minute,
            )
        } else {
            (
                limits.answers.as_ref()?,
                "answers",
                Text::RateLimitedAnswers,
                cfg.effective_answers_per_hour(self.app.config.llm.is_some()),
            )
        };
        let wait = limiter.check(identity).err()?;
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        tracing::warn!(
            reason = "rate_limited",
            kind,
            identity,
            retry_secs = secs,
            "message refused"
        );
        metrics::counter!("wedock_rate_limited_total", "kind" => kind).increment(1);
        Some(Reply::error(
            text.fill(
                lang,
                &[
                    ("limit", &limit.to_string()),
                    ("secs", &secs.max(1).to_string()),
                ],
            ),
            lang,
        ))
    }

    /// The reply language: that of the message when it says (plain text), otherwise the
    /// language this user last wrote in (commands are ASCII), Chinese by default.
    async fn language_of(&self, identity: &str, text: &str, pre: &mut Prefetch) -> Lang {
        let key = format!("lang:{identity}");
        let cached = self
            .langs
            .lock()
            .ok()
            .and_then(|m| m.get(identity).copied());
        // What the store said, when it was read with the dedup claim.
        let prefetched = pre
            .lang
            .as_ref()
            .map(|v| v.as_deref().and_then(Lang::parse));
        let t = text.trim_start();
        if t.starts_with('/') || t.starts_with('／') {
            if crate::i18n::has_han(t) {
                return Lang::Zh;
            }
            if let Some(lang) = cached {
                return lang;
            }
            let stored = match prefetched {
                Some(l) => l,
                None => match self.app.store.kv_get(&key).await {
                    Ok(Some(code)) => Lang::parse(&code),
                    _ => None,
                },
            };
            let lang = stored.unwrap_or_default();
            self.remember_lang(identity, lang);
            return lang;
        }
        let lang = Lang::detect(text);
        if cached.or(prefetched.flatten()) != Some(lang) {
            match pre.deferred.as_mut() {
                Some(writes) => writes.push((key, lang.code().to_string())),
                None => {
                    let _ = self.app.store.kv_set(&key, lang.code(), None).await;
                }
            }
        }
        if cached != Some(lang) {
            self.remember_lang(identity, lang);
        }
        lang
    }

    /// The knowledge answer to `msg` in `lang` (cached, or looked up and cached): what a
    /// question without pending state gets when no LLM is configured, and what a retry of
    /// one gets, as its record names it instead of storing it. (Without an LLM no progress
    /// is ever shown, so none is passed.)
    async fn knowledge_answer(&self, msg: &Incoming, lang: Lang) -> Reply {
        let text = msg.text.trim();
        if let Some(r) = self.cached_answer(text, lang) {
            return r;
        }
        let r = answer::answer(&self.app, msg, lang, None).await;
        if self.app.config.llm.is_none() {
            self.cache_answer(text, lang, &r);
        }
        r
    }

    fn cached_answer(&self, text: &str, lang: Lang) -> Option<Reply> {
        let m = self.answers.lock().ok()?;
        let (at, reply) = m.get(&(text.to_string(), lang))?;
        (at.elapsed() < ANSWER_TTL).then(|| reply.clone())
    }

    fn cache_answer(&self, text: &str, lang: Lang, reply: &Reply) {
        if let Ok(mut m) = self.answers.lock() {
            if m.len() >= ANSWER_CACHE_MAX {
                m.clear();
            }
            m.insert((text.to_string(), lang), (Instant::now(), reply.clone()));
        }
    }

    fn remember_lang(&self, identity: &str, lang: Lang) {
        if let Ok(mut m) = self.langs.lock() {
            if m.len() >= LANG_CACHE_MAX {
                m.clear();
            }
            m.insert(identity.to_string(), lang);
        }
    }

    /// Removes a pending confirmation unless `text` is `/confirm …`. Returns whether one was
    /// cancelled.
    /// `prefetched` is the stored value when it was read with the dedup claim.
    async fn take_pending_unless_confirm(
        &self,
        key: &str,
        text: &str,
        prefetched: Option<Option<String>>,
    ) -> bool {
        let is_confirm = command::split_words(text)
            .ok()
            .and_then(|w| w.first().cloned())
            .is_some_and(|w| w == "confirm");
        if is_confirm {
            return false;
        }
        let stored = match prefetched {
            Some(v) => Ok(v),
            None => self.app.store.kv_get(key).await,
        };
        match stored {
            Ok(Some(_)) => {
                let _ = self.app.store.kv_delete(key).await;
                true
            }
            _ => false,
        }
    }

    async fn run_words(
        &self,
        msg: &Incoming,
        identity: &str,
        role: Role,
        lang: Lang,
        words: Vec<String>,
        confirmed: bool,
    ) -> Reply {
        let cmd = match command::parse(&words) {
            Ok(c) => c,
            Err(e) => return command::usage_error::reply(&e, &words, lang),
        };
        let decl = cmd.decl(&words);
        if let Some(refused) = command::runtime::check_role(&decl, role, lang, &words) {
            return refused;
        }
        if let ChatCommand::Confirm { code } = &cmd {
            return Box::pin(self.confirm(msg, identity, role, lang, code)).await;
        }
        let scopes = Scopes::for_sender(
            &self.app.config.identity.scopes,
            identity,
            role,
            msg.chat_identity().as_deref(),
        );
        let ctx = Ctx {
            app: &self.app,
            identity: identity.to_string(),
            channel: msg.channel.clone(),
            chat: msg.chat.clone(),
            role,
            lang,
            words: words.clone(),
            confirmed,
            scopes,
            access: decl.access,
        };
        // Command output (logs, inspect, describe, events, exec) leaves only redacted.
        match command::runtime::execute(cmd, &decl, &ctx).await {
            Outcome::Reply(r) => self.redacted(r),
            Outcome::Audited(r, entry) => {
                if let Err(e) = self.app.store.audit_append(entry).await {
                    tracing::error!(error = %e, "audit log write failed");
                }
                self.redacted(r)
            }
            Outcome::NeedsConfirmation { summary } => {
                let summary = self.app.redactor.redact(&summary).into_owned();
                let code = confirmation_code();
                let timeout = command::runtime::confirm_timeout_secs(&self.app.config, decl.family);
                let pending = PendingConfirmation {
                    code: code.clone(),
                    words,
                    chat: msg.chat.clone(),
                    expires_at: now_ms() + (timeout as i64) * 1000,
                };
                let stored = serde_json::to_string(&pending).unwrap_or_default();
                if let Err(e) = self
                    .app
                    .store
                    .kv_set(
                        &format!("confirm:{identity}"),
                        &stored,
                        Some(Duration::from_secs(timeout)),
                    )
                    .await
                {
                    return Reply::error(e.to_string(), lang);
                }
                let text = Text::ConfirmAsk.fill(
                    lang,
                    &[
                        ("summary", &summary),
                        ("timeout", &timeout.to_string()),
                        ("code", &code),
                    ],
                );
                Reply::command(text, lang)
            }
        }
    }

    fn redacted(&self, mut r: Reply) -> Reply {
        if let std::borrow::Cow::Owned(s) = self.app.redactor.redact(&r.reply) {
            metrics::counter!("wedock_redacted_total", "where" => "reply").increment(1);
            r.reply = s;
        }
        r
    }

    async fn confirm(
        &self,
        msg: &Incoming,
        identity: &str,
        role: Role,
        lang: Lang,
        code: &str,
    ) -> Reply {
        let key = format!("confirm:{identity}");
        let pending = match self.app.store.kv_get(&key).await {
            Ok(Some(s)) => serde_json::from_str::<PendingConfirmation>(&s).ok(),
            _ => None,
        };
        let Some(p) = pending else {
            return Reply::error(t!(lang, "cmd.nothing_is_waiting_for_confirmation"), lang);
        };
        if !p.code.eq_ignore_ascii_case(code.trim()) {
            let _ = self.app.store.kv_delete(&key).await;
            return Reply::error(t!(lang, "cmd.confirm_wrong_code"), lang);
        }
        let _ = self.app.store.kv_delete(&key).await;
        if p.expires_at < now_ms() || p.chat != msg.chat {
            return Reply::error(t!(lang, "cmd.confirm_expired"), lang);
        }
        self.run_words(msg, identity, role, lang, p.words, true)
            .await
    }
}

/// A slash command (ASCII or full-width slash): the messages that may change something.
fn is_command_text(text: &str) -> bool {
    let t = text.trim();
    t.starts_with('/') || t.starts_with('／')
}

fn cancelled_note(lang: Lang) -> &'static str {
    t!(lang, "cmd.confirm_gone")
}

fn confirmation_code() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..4)
        .map(|_| {
            const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
            ALPHABET[rng.random_range(0..ALPHABET.len())] as char
        })
        .collect()
}

fn record(msg: &Incoming, reply: Option<&Reply>, started: Instant) {
    let kind = match reply.map(|r| r.kind) {
        Some(ReplyKind::Command) => "command",
        Some(ReplyKind::Answer) => "answer",
        Some(ReplyKind::Unknown) => "unknown",
        Some(ReplyKind::Error) => "error",
        None => "none",
    };
    metrics::counter!("wedock_replies_total", "channel" => msg.channel.clone(), "kind" => kind)
        .increment(1);
    metrics::histogram!("wedock_reply_seconds", "kind" => kind)
        .record(started.elapsed().as_secs_f64());
}
