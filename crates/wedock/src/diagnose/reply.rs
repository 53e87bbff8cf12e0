//! The diagnosis as the user reads it: the verdict in one line, the evidence that proves it,
//! the fix steps, then the knowledge topic and the next commands. A healthy target gets its
//! key facts instead.

use super::Evidence;
use super::signatures::Match;
use super::text::Say;
use crate::i18n::Lang;
use crate::knowledge::doc::Topic;

/// Most evidence lines shown (the reply must stay readable on a phone).
const MAX_LINES: usize = 10;
/// Other signatures named after the verdict.
const MAX_ALSO: usize = 2;

/// The reply text (Markdown). `topic` is the verdict's knowledge topic when it exists.
pub fn render(ev: &Evidence, matches: &[Match<'_>], topic: Option<&Topic>, lang: Lang) -> String {
    let mut out = String::new();
    let best = matches.first();
    match best {
        _ if ev.healthy => {
            out.push_str(&Say::Healthy.fill(lang, &[("target", &ev.target)]));
            out.push('\n');
            out.push_str(Say::HealthyNote.get(lang));
        }
        Some(m) => {
            out.push_str(&t!(
                lang,
                "diagnose.verdict_head",
                target = ev.target,
                title = m.title(lang)
            ));
            out.push('\n');
            out.push_str(&m.cause(lang));
        }
        None => out.push_str(&Say::NoVerdict.fill(lang, &[("target", &ev.target)])),
    }
    out.push_str("\n\n");
    out.push_str(Say::Evidence.get(lang));
    let mut shown = 0;
    for l in ev.lines.iter().take(MAX_LINES) {
        out.push_str(&format!("\n• {l}"));
        shown += 1;
    }
    // The line that proves it: what a pattern matched, else the last error-looking line.
    let quoted = best
        .filter(|_| !ev.healthy)
        .and_then(|m| m.quote.as_ref().or_else(|| ev.facts.vars.get("last_error")));
    if let Some(q) = quoted
        && !ev.lines.iter().any(|l| l.contains(q.as_str()))
    {
        out.push_str(&format!("\n• {}", Say::LogLine.fill(lang, &[("line", q)])));
        shown += 1;
    }
    if shown == 0 {
        out.push('\n');
        out.push_str(t!(lang, "diagnose.none"));
    }
    if let Some(m) = best.filter(|_| !ev.healthy) {
        out.push_str("\n\n");
        out.push_str(Say::FixSteps.get(lang));
        for (i, step) in m.fix(lang).iter().enumerate() {
            out.push_str(&format!("\n{}. {step}", i + 1));
        }
        let also: Vec<String> = matches
            .iter()
            .skip(1)
            .take(MAX_ALSO)
            .map(|m| m.title(lang))
            .collect();
        if !also.is_empty() {
            out.push_str("\n\n");
            out.push_str(Say::AlsoPossible.get(lang));
            out.push_str(&also.join(t!(lang, "diagnose.also_separator")));
        }
        if let Some(t) = topic {
            let v = t.variant(lang);
            out.push_str(&format!("\n\n📖 {}", v.title));
            if let Some(url) = v
                .docs
                .as_ref()
                .or_else(|| t.variants().find_map(|o| o.docs.as_ref()))
            {
                out.push_str(&format!("\n{url}"));
            }
        }
    }
    if !ev.next.is_empty() {
        out.push_str("\n\n");
        out.push_str(Say::NextCommands.get(lang));
        out.push(' ');
        out.push_str(&ev.next.join(" · "));
    }
    out
}
