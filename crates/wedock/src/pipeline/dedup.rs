//! The dedup side of the message path. A command (and any message that may change state)
//! is claimed durably before it runs and its result recorded after; a question is answered
//! after one read and recorded in the store's next group commit (see `recorder.rs`).

use super::*;

impl Pipeline {
    /// The path of a message that may change something (a command, a quiz answer, one that
    /// cancels a pending confirmation): a durable claim before it runs, its result after, so
    /// that a platform retry never runs it twice, even across a crash or on another replica.
    pub(super) async fn run_claimed(
        &self,
        msg: &Incoming,
        msg_id: &str,
        progress: Option<&Progress>,
    ) -> Ran {
        let ttl = Duration::from_secs(self.app.config.store.dedup_ttl_secs);
        // The claim also reads what routing needs (one store round trip instead of three);
        // the language write, if any, rides on the dedup result's write.
        match self
            .app
            .store
            .dedup_begin_with(&msg.channel, msg_id, ttl, DEDUP_STALE, user_keys(msg))
            .await
        {
            Ok((DedupState::New, values)) => {
                let mut pre = Prefetch::read(values);
                let reply = self.process(msg, &mut pre, progress).await;
                self.finish_claimed(msg, msg_id, reply, &mut pre).await
            }
            other => {
                self.seen_before(msg, msg_id, other.map(|(s, _)| s), progress)
                    .await
            }
        }
    }

    /// The path of a message without side effects (a knowledge answer): one read (its dedup
    /// record and the user's pending state), the answer from memory, and its dedup record
    /// written afterwards in the store's next group commit. A crash before that commit at
    /// worst answers a retry's question again; no command runs here (see
    /// [`Pipeline::process`], which claims before anything that changes state).
    pub(super) async fn run_unclaimed(
        &self,
        msg: &Incoming,
        msg_id: &str,
        progress: Option<&Progress>,
    ) -> Ran {
        let peeked = self
            .app
            .store
            .dedup_peek_with(&msg.channel, msg_id, user_keys(msg))
            .await;
        match peeked {
            Ok((DedupState::New, values)) => {
                let mut pre = Prefetch::read(values);
                if pre.has_pending_state() {
                    // Grading a quiz answer or cancelling a confirmation changes state.
                    return self.run_claimed(msg, msg_id, progress).await;
                }
                pre.unclaimed = Some(msg_id.to_string());
                let reply = self.process(msg, &mut pre, progress).await;
                if pre.unclaimed.is_none() {
                    // Routing ended in something that claimed on the way: finish as a claim.
                    return self.finish_claimed(msg, msg_id, reply, &mut pre).await;
                }
                let again = pre.reproducible;
                let record = DedupRecord {
                    channel: msg.channel.clone(),
                    msg_id: msg_id.to_string(),
                    ttl: Duration::from_secs(self.app.config.store.dedup_ttl_secs),
                    // The knowledge answer is the same for a retry: name it instead of storing
                    // it (a 2 KB answer per message was most of what the writer wrote).
                    reply: match pre.reproducible {
                        Some(lang) => Some(answer_again(lang)),
                        None => reply.as_ref().and_then(|r| serde_json::to_string(r).ok()),
                    },
                    kv: pre.deferred.take().unwrap_or_default(),
                };
                Ran {
                    reply,
                    fresh: true,
                    record: Some(record),
                    again,
                }
            }
            other => {
                self.seen_before(msg, msg_id, other.map(|(s, _)| s), progress)
                    .await
            }
        }
    }

    /// Records the result of a claimed message (and its deferred key-value writes), so a
    /// retry gets the same reply; waits for the write, as the claim did.
    async fn finish_claimed(
        &self,
        msg: &Incoming,
        msg_id: &str,
        reply: Option<Reply>,
        pre: &mut Prefetch,
    ) -> Ran {
        let stored = reply.as_ref().and_then(|r| serde_json::to_string(r).ok());
        let deferred = pre.deferred.take().unwrap_or_default();
        if let Err(e) = self
            .app
            .store
            .dedup_finish_with(&msg.channel, msg_id, stored.as_deref(), deferred)
            .await
        {
            tracing::warn!(error = %e, "could not record dedup result");
        }
        Ran::fresh(reply)
    }

    /// A message the store has seen (done, or being processed elsewhere), or a store error.
    pub(super) async fn seen_before(
        &self,
        msg: &Incoming,
        msg_id: &str,
        state: StoreResult<DedupState>,
        progress: Option<&Progress>,
    ) -> Ran {
        match state {
            Ok(DedupState::Done(stored)) => {
                metrics::counter!("wedock_duplicates_total", "channel" => msg.channel.clone())
                    .increment(1);
                Ran::seen(self.stored_reply(stored, msg).await)
            }
            Ok(DedupState::InProgress) | Ok(DedupState::New) => {
                // Processing elsewhere (another replica): poll the store for its result.
                metrics::counter!("wedock_duplicates_total", "channel" => msg.channel.clone())
                    .increment(1);
                let (reply, fresh) = self.wait_store(msg, msg_id, progress).await;
                Ran {
                    reply,
                    fresh,
                    record: None,
                    again: None,
                }
            }
            Err(e) => {
                // Without dedup we would risk running a command twice: refuse instead.
                tracing::error!(error = %e, "dedup store unavailable");
                metrics::counter!("wedock_errors_total", "reason" => "store").increment(1);
                let reply = Reply::error(
                    Text::InternalError
                        .fill(Lang::detect(&msg.text), &[("reason", "store unavailable")]),
                    Lang::detect(&msg.text),
                );
                Ran::seen(Some(reply))
            }
        }
    }

    /// Polls the store for the result of a message another replica is processing. Returns
    /// the reply and whether this call ended up running it (a stale claim taken over).
    pub(super) async fn wait_store(
        &self,
        msg: &Incoming,
        msg_id: &str,
        progress: Option<&Progress>,
    ) -> (Option<Reply>, bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let ttl = Duration::from_secs(self.app.config.store.dedup_ttl_secs);
            match self
                .app
                .store
                .dedup_begin(&msg.channel, msg_id, ttl, DEDUP_STALE)
                .await
            {
                Ok(DedupState::Done(stored)) => {
                    return (self.stored_reply(stored, msg).await, false);
                }
                Ok(DedupState::InProgress) => continue,
                // Claimed by us after the other processor was declared stale: process it.
                Ok(DedupState::New) => {
                    let reply = self.process(msg, &mut Prefetch::default(), progress).await;
                    let stored = reply.as_ref().and_then(|r| serde_json::to_string(r).ok());
                    let _ = self
                        .app
                        .store
                        .dedup_finish(&msg.channel, msg_id, stored.as_deref())
                        .await;
                    return (reply, true);
                }
                Err(_) => break,
            }
        }
        (None, false)
    }

    /// Takes the durable claim of a message that started on the unclaimed path and turned
    /// out to need one. `Err` carries the answer when the store says another delivery owns
    /// it (or has answered it): this one must not run it.
    pub(super) async fn claim_now(
        &self,
        msg: &Incoming,
        pre: &mut Prefetch,
        progress: Option<&Progress>,
    ) -> Result<(), Option<Reply>> {
        let Some(msg_id) = pre.unclaimed.take() else {
            return Ok(());
        };
        let ttl = Duration::from_secs(self.app.config.store.dedup_ttl_secs);
        let state = self
            .app
            .store
            .dedup_begin(&msg.channel, &msg_id, ttl, DEDUP_STALE)
            .await;
        match state {
            Ok(DedupState::New) => Ok(()),
            other => Err(Box::pin(self.seen_before(msg, &msg_id, other, progress))
                .await
                .reply),
        }
    }
}

/// Per-user state read together with the dedup claim, and writes that wait for the dedup
/// result (so a message costs two store writes, not four). Empty for messages without an id.
#[derive(Default)]
pub(super) struct Prefetch {
    /// `Some(msg_id)`: the message runs without a dedup claim so far (a question); anything
    /// that changes state must claim it first ([`Pipeline::claim_now`]).
    pub(super) unclaimed: Option<String>,
    /// The stored language code (`Some(None)`: read, none stored; `None`: not read).
    pub(super) lang: Option<Option<String>>,
    /// The stored pending confirmation, same convention.
    pub(super) confirm: Option<Option<String>>,
    /// The stored pending quiz question, same convention.
    pub(super) quiz: Option<Option<String>>,
    /// `Some(lang)`: the reply is the knowledge answer to the text in `lang` (no pending
    /// state, no LLM), so a retry can be answered again instead of from a stored copy.
    pub(super) reproducible: Option<Lang>,
    /// `Some`: key-value writes to make together with the dedup result.
    pub(super) deferred: Option<Vec<(String, String)>>,
}

impl Prefetch {
    /// The values of [`user_keys`], as the store returned them.
    fn read(mut values: Vec<Option<String>>) -> Self {
        let quiz = values.pop();
        let confirm = values.pop();
        let lang = values.pop();
        Prefetch {
            unclaimed: None,
            lang,
            confirm,
            quiz,
            reproducible: None,
            deferred: Some(Vec::new()),
        }
    }

    /// A pending confirmation (any message but `/confirm` cancels it) or quiz question (the
    /// message may be its answer): the message changes state whatever it says.
    fn has_pending_state(&self) -> bool {
        matches!(self.confirm, Some(Some(_))) || matches!(self.quiz, Some(Some(_)))
    }
}

/// The per-user keys read with a message's dedup state: language, pending confirmation,
/// pending quiz question (the order [`Prefetch::read`] expects).
fn user_keys(msg: &Incoming) -> Vec<String> {
    let identity = msg.identity();
    vec![
        format!("lang:{identity}"),
        format!("confirm:{identity}"),
        crate::knowledge::quiz::pending_key(&identity, msg.chat.as_deref()),
    ]
}

/// What running one message gave.
pub(super) struct Ran {
    pub(super) reply: Option<Reply>,
    /// Whether this call ran it (not a duplicate of an earlier run).
    pub(super) fresh: bool,
    /// The dedup record to write after the reply (messages answered without a claim).
    pub(super) record: Option<DedupRecord>,
    /// `Some(lang)`: the reply is the knowledge answer in `lang` ([`Prefetch::reproducible`]).
    pub(super) again: Option<Lang>,
}

impl Ran {
    fn fresh(reply: Option<Reply>) -> Self {
        Ran {
            reply,
            fresh: true,
            record: None,
            again: None,
        }
    }
    fn seen(reply: Option<Reply>) -> Self {
        Ran {
            reply,
            fresh: false,
            record: None,
            again: None,
        }
    }
}

/// Drops a message's in-flight entry.
pub(super) fn forget(in_flight: &InFlight, key: &str) {
    if let Ok(mut m) = in_flight.lock() {
        m.remove(key);
    }
}

/// What a message's in-flight entry gives a duplicate of it: one that arrives while the message
/// runs, or after, until its dedup record is durable.
#[derive(Clone)]
pub(super) enum Settled {
    /// The reply itself (a command's, an LLM's answer: not the same when given again).
    Reply(Option<Reply>),
    /// The knowledge answer in this language, given again like a record that names it
    /// ([`answer_again`]). Entries stay until their record commits (up to the recorder's
    /// 4,096 waiting records, and more messages in flight), and a copy of a 2 KB answer in
    /// each was memory held for a retry that rarely comes (docs/performance.md).
    AnswerAgain(Lang),
}

pub(super) async fn wait_local(mut rx: watch::Receiver<Option<Settled>>) -> Option<Settled> {
    let waited = tokio::time::timeout(Duration::from_secs(30), rx.wait_for(|v| v.is_some())).await;
    match waited {
        Ok(Ok(v)) => v.clone(),
        _ => None,
    }
}

/// What a question's dedup record holds instead of its reply: "answer it again, in this
/// language". Not a [`Reply`]'s JSON (that always has `reply`).
fn answer_again(lang: Lang) -> String {
    format!("{{\"again\":\"{}\"}}", lang.code())
}

fn is_answer_again(stored: &str) -> Option<Lang> {
    let code = stored.strip_prefix("{\"again\":\"")?.strip_suffix("\"}")?;
    Lang::parse(code)
}

impl Pipeline {
    /// The reply a retry gets from a dedup record: the stored one, or a question's knowledge
    /// answer given again.
    async fn stored_reply(&self, stored: Option<String>, msg: &Incoming) -> Option<Reply> {
        let stored = stored?;
        match is_answer_again(&stored) {
            Some(lang) => Some(self.knowledge_answer(msg, lang).await),
            None => decode_stored(&stored, msg),
        }
    }
}

fn decode_stored(s: &str, msg: &Incoming) -> Option<Reply> {
    let mut r: Reply = serde_json::from_str(s).ok()?;
    r.lang = Lang::detect(&msg.text);
    Some(r)
}
