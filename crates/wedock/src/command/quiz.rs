//! `/quiz [docker|k8s|network|troubleshooting]`, `/quiz skip`, `/quiz stats`: interview
//! practice. The answer is the user's next plain message in the same chat (see
//! `knowledge::quiz::take_answer`).

use super::{Ctx, Outcome};
use crate::knowledge::quiz::{self, PENDING_TTL, Pending, area_name, parse_area, pending_key};
use crate::message::{Reply, Source};
use clap::Args;
use rand::seq::IndexedRandom;
use std::collections::HashSet;

#[derive(Debug, Args)]
pub struct QuizArgs {
    /// `docker`, `k8s`, `network`, `troubleshooting`, `skip` or `stats`
    pub what: Option<String>,
}

pub async fn run(args: QuizArgs, ctx: &Ctx<'_>) -> Outcome {
    let lang = ctx.lang;
    let reply = match args.what.as_deref().map(str::trim) {
        None | Some("") => ask(ctx, None).await,
        Some(w) if w.eq_ignore_ascii_case("skip") => skip(ctx).await,
        Some(w) if w.eq_ignore_ascii_case("stats") => stats(ctx).await,
        Some(w) => match parse_area(w) {
            Some(area) => ask(ctx, Some(area)).await,
            None => {
                metrics::counter!("wedock_rejected_total", "reason" => "quiz_area").increment(1);
                Reply::error(t!(lang, "quiz.unknown_area", area = format!("{w:?}")), lang)
            }
        },
    };
    Outcome::Reply(reply)
}

async fn ask(ctx: &Ctx<'_>, area: Option<&str>) -> Reply {
    let lang = ctx.lang;
    let corpus = ctx.app.knowledge.corpus();
    let pool: Vec<_> = corpus
        .topics
        .iter()
        .filter(|t| t.quiz && t.variants().any(|v| !v.keypoints.is_empty()))
        .filter(|t| area.is_none_or(|a| t.category == a))
        .collect();
    if pool.is_empty() {
        return Reply::error(t!(lang, "quiz.no_quiz_questions_are_available"), lang);
    }
    let seen: HashSet<String> = match ctx.app.store.quiz_history(&ctx.identity).await {
        Ok(h) => h.into_iter().map(|r| r.topic).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "quiz history unavailable");
            HashSet::new()
        }
    };
    // Questions not yet seen come first; when all were seen, any of them.
    let unseen: Vec<_> = pool.iter().filter(|t| !seen.contains(&t.id)).collect();
    let picked = if unseen.is_empty() {
        pool.choose(&mut rand::rng())
    } else {
        unseen.choose(&mut rand::rng()).copied()
    };
    let Some(topic) = picked else {
        return Reply::error(t!(lang, "quiz.no_quiz_questions_are_available"), lang);
    };
    let pending = Pending {
        topic: topic.id.clone(),
        area: topic.category.clone(),
    };
    let key = pending_key(&ctx.identity, ctx.chat.as_deref());
    let value = serde_json::to_string(&pending).unwrap_or_default();
    if let Err(e) = ctx.app.store.kv_set(&key, &value, Some(PENDING_TTL)).await {
        return Reply::error(e.to_string(), lang);
    }
    let v = topic.variant(lang);
    let text = t!(
        lang,
        "quiz.question",
        area = area_name(&topic.category, lang),
        unseen = unseen.len().saturating_sub(1),
        question = v.title
    );
    Reply::answer(
        text,
        lang,
        true,
        vec![Source {
            id: topic.id.clone(),
            title: v.title.clone(),
            score: 1.0,
        }],
    )
}

async fn skip(ctx: &Ctx<'_>) -> Reply {
    let lang = ctx.lang;
    let key = pending_key(&ctx.identity, ctx.chat.as_deref());
    let pending = match ctx.app.store.kv_get(&key).await {
        Ok(Some(s)) => serde_json::from_str::<Pending>(&s).ok(),
        _ => None,
    };
    let _ = ctx.app.store.kv_delete(&key).await;
    let Some(topic) = pending.and_then(|p| ctx.app.knowledge.topic(&p.topic)) else {
        return Reply::command(t!(lang, "quiz.no_question_is_waiting_for"), lang);
    };
    let v = topic.variant(lang);
    let mut text = String::from(t!(lang, "quiz.skipped_key_points"));
    for kp in &v.keypoints {
        text.push_str(&format!("\n• {kp}"));
    }
    text.push_str(t!(lang, "quiz.reference_answer_head"));
    text.push_str(&quiz::short_answer(&v.body));
    text.push_str(t!(lang, "quiz.next_question_hint"));
    Reply::command(text, lang)
}

async fn stats(ctx: &Ctx<'_>) -> Reply {
    let lang = ctx.lang;
    let history = match ctx.app.store.quiz_history(&ctx.identity).await {
        Ok(h) => h,
        Err(e) => return Reply::error(e.to_string(), lang),
    };
    if history.is_empty() {
        return Reply::command(t!(lang, "quiz.no_answers_yet_send_quiz"), lang);
    }
    let s = quiz::stats(&history);
    let pct = |x: f64| (x * 100.0).round();
    let mut text = t!(
        lang,
        "quiz.stats",
        answered = s.answered,
        percent = pct(s.average)
    );
    for (area, (n, avg)) in &s.by_area {
        text.push_str(&format!(
            "\n• {}: {n} · {}%",
            area_name(area, lang),
            pct(*avg)
        ));
    }
    if let Some((area, avg)) = s.weakest() {
        text.push('\n');
        text.push_str(&t!(
            lang,
            "quiz.weakest",
            name = area_name(area, lang),
            percent = pct(avg),
            area = area
        ));
    }
    Reply::command(text, lang)
}
