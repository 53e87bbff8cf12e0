//! `/quiz [docker|k8s|network|troubleshooting]`, `/quiz skip`, `/quiz stats`: interview
//! practice. The answer is the user's next plain message in the same chat (see
//! `knowledge::quiz::take_answer`).

use super::{Ctx, Outcome};
use crate::i18n::Lang;
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
                Reply::error(
                    match lang {
                        Lang::Zh => format!(
                            "不认识的题目范围 {w:?}。用法：/quiz [docker|k8s|network|troubleshooting]、/quiz skip、/quiz stats"
                        ),
                        Lang::En => format!(
                            "Unknown quiz area {w:?}. Usage: /quiz [docker|k8s|network|troubleshooting], /quiz skip, /quiz stats"
                        ),
                    },
                    lang,
                )
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
        return Reply::error(
            lang.pick("没有可用的面试题。", "No quiz questions are available."),
            lang,
        );
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
        return Reply::error(
            lang.pick("没有可用的面试题。", "No quiz questions are available."),
            lang,
        );
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
    let text = match lang {
        Lang::Zh => format!(
            "📝 面试题（{}，还有 {} 题没练过）：\n{}\n\n直接回复你的答案；/quiz skip 跳过。",
            area_name(&topic.category, lang),
            unseen.len().saturating_sub(1),
            v.title
        ),
        Lang::En => format!(
            "📝 Interview question ({}, {} not yet practised):\n{}\n\nReply with your answer; /quiz skip to skip.",
            area_name(&topic.category, lang),
            unseen.len().saturating_sub(1),
            v.title
        ),
    };
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
        return Reply::command(
            lang.pick(
                "当前没有待回答的题目。发送 /quiz 开始练习。",
                "No question is waiting for an answer. Send /quiz to start.",
            ),
            lang,
        );
    };
    let v = topic.variant(lang);
    let mut text = String::from(lang.pick("已跳过。要点：", "Skipped. Key points:"));
    for kp in &v.keypoints {
        text.push_str(&format!("\n• {kp}"));
    }
    text.push_str(lang.pick("\n\n参考答案：\n", "\n\nReference answer:\n"));
    text.push_str(&quiz::short_answer(&v.body));
    text.push_str(lang.pick("\n\n下一题：/quiz", "\n\nNext question: /quiz"));
    Reply::command(text, lang)
}

async fn stats(ctx: &Ctx<'_>) -> Reply {
    let lang = ctx.lang;
    let history = match ctx.app.store.quiz_history(&ctx.identity).await {
        Ok(h) => h,
        Err(e) => return Reply::error(e.to_string(), lang),
    };
    if history.is_empty() {
        return Reply::command(
            lang.pick(
                "还没有答题记录。发送 /quiz 开始练习。",
                "No answers yet. Send /quiz to start practising.",
            ),
            lang,
        );
    }
    let s = quiz::stats(&history);
    let pct = |x: f64| (x * 100.0).round();
    let mut text = match lang {
        Lang::Zh => format!(
            "📊 已答 {} 题，平均覆盖 {}% 要点。",
            s.answered,
            pct(s.average)
        ),
        Lang::En => format!(
            "📊 {} answered, {}% of key points covered on average.",
            s.answered,
            pct(s.average)
        ),
    };
    for (area, (n, avg)) in &s.by_area {
        text.push_str(&format!(
            "\n• {}: {n} · {}%",
            area_name(area, lang),
            pct(*avg)
        ));
    }
    if let Some((area, avg)) = s.weakest() {
        text.push_str(&match lang {
            Lang::Zh => format!(
                "\n最薄弱：{}（{}%），试试 /quiz {area}",
                area_name(area, lang),
                pct(avg)
            ),
            Lang::En => format!(
                "\nWeakest: {} ({}%); try /quiz {area}",
                area_name(area, lang),
                pct(avg)
            ),
        });
    }
    Reply::command(text, lang)
}
