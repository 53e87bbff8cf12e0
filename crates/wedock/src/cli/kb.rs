//! `wedock kb list|search`: for people maintaining the knowledge base.

use super::KbCommand;
use crate::config::Config;
use crate::i18n::Lang;
use crate::knowledge::Knowledge;
use std::io::Write;

pub fn run(config: &Config, cmd: KbCommand) -> anyhow::Result<()> {
    let mut cfg = config.knowledge.clone();
    cfg.reload_secs = 0; // one-shot: no reload thread
    let kb = Knowledge::load(&cfg)?;
    for p in kb.problems() {
        eprintln!("skipped: {p}");
    }
    let mut out = std::io::stdout().lock();
    match cmd {
        KbCommand::List { json } => {
            let corpus = kb.corpus();
            for t in &corpus.topics {
                let langs: Vec<&str> = t.variants().map(|v| v.lang.code()).collect();
                if json {
                    let line = serde_json::json!({
                        "id": t.id,
                        "category": t.category,
                        "langs": langs,
                        "title_zh": t.zh.as_ref().map(|v| v.title.as_str()),
                        "title_en": t.en.as_ref().map(|v| v.title.as_str()),
                        "quiz": t.quiz,
                        "origin": t.origin,
                    });
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(
                        out,
                        "{:<40} {:<15} {:<6} {}",
                        t.id,
                        t.category,
                        langs.join(","),
                        t.title(Lang::Zh)
                    )?;
                }
            }
            if !json {
                writeln!(out, "{} topics", corpus.len())?;
            }
        }
        KbCommand::Search { json, query } => {
            let q = query.join(" ");
            let hits = kb.search(&q, 5);
            let min = kb.min_confidence();
            let matched = hits.first().is_some_and(|h| h.confidence >= min);
            let lang = Lang::detect(&q);
            if json {
                let v = serde_json::json!({
                    "query": q,
                    "matched": matched,
                    "min_confidence": min,
                    "hits": hits.iter().map(|h| serde_json::json!({
                        "id": h.topic.id,
                        "title": h.topic.title(lang),
                        "confidence": h.confidence,
                        "score": h.score,
                    })).collect::<Vec<_>>(),
                });
                writeln!(out, "{v}")?;
            } else {
                if hits.is_empty() {
                    writeln!(out, "no hits")?;
                }
                for h in &hits {
                    writeln!(
                        out,
                        "{:.3}  {:>7.2}  {:<40} {}",
                        h.confidence,
                        h.score,
                        h.topic.id,
                        h.topic.title(lang)
                    )?;
                }
                writeln!(
                    out,
                    "{} (min_confidence {min})",
                    if matched { "matched" } else { "not matched" }
                )?;
            }
        }
    }
    Ok(())
}
