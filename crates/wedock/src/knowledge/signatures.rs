//! The failure-signature catalogue (`knowledge/signatures/*.toml`, compiled in): loading with
//! every rule checked, and matching — against the facts a collector gathered (`/diagnose`) or
//! against a pasted error (chat). Data, not match arms: adding a signature is editing a file.

use super::pattern::{Candidates, Pattern, Prefilter};
use crate::i18n::Lang;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;

/// Facts a collector may fill that a cause or fix step may quote as `{name}`; a pattern's
/// named groups add to these.
pub const FACT_VARS: &[&str] = &[
    "name",
    "status",
    "exit_code",
    "restarts",
    "limit",
    "usage",
    "holder",
    "port",
    "image",
    "image_platform",
    "engine_arch",
    "health",
    "last_error",
    "message",
    "node",
    "disk",
    "reason",
];

/// Derived facts a collector sets when it has seen them (`flags = [...]` in a signature).
pub const FLAGS: &[&str] = &[
    "arch_mismatch",
    "port_conflict",
    "restart_loop",
    "read_only_rootfs",
    "insufficient_resources",
    "unbound_pvc",
    "node_not_ready",
    "node_pressure",
    "rollout_stalled",
    "init_stuck",
    "stuck_terminating",
];

/// Longest quoted evidence line.
const QUOTE_CHARS: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    signature: Vec<RawSignature>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    id: String,
    topic: String,
    #[serde(default = "default_priority")]
    priority: i32,
    title: Pair,
    cause: Pair,
    fix: Steps,
    #[serde(default)]
    when: Vec<RawWhen>,
}

fn default_priority() -> i32 {
    50
}

/// A sentence in both languages; both are required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    pub zh: String,
    pub en: String,
}

impl Pair {
    pub fn get(&self, lang: Lang) -> &str {
        lang.pick(&self.zh, &self.en)
    }
}

/// Fix steps in both languages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Steps {
    pub zh: Vec<String>,
    pub en: Vec<String>,
}

impl Steps {
    pub fn get(&self, lang: Lang) -> &[String] {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    #[serde(default)]
    exit_code: Vec<i64>,
    oom_killed: Option<bool>,
    #[serde(default)]
    reason: Vec<String>,
    #[serde(default)]
    waiting_reason: Vec<String>,
    #[serde(default)]
    event_reason: Vec<String>,
    #[serde(default)]
    status: Vec<String>,
    #[serde(default)]
    health: Vec<String>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    text: Vec<String>,
    min_restarts: Option<i64>,
    max_run_secs: Option<i64>,
}

/// One way of recognising a signature: every condition given must hold (and at least one
/// of `text` must match when patterns are given).
#[derive(Debug)]
pub struct When {
    exit_code: Vec<i64>,
    oom_killed: Option<bool>,
    reason: Vec<String>,
    waiting_reason: Vec<String>,
    event_reason: Vec<String>,
    status: Vec<String>,
    health: Vec<String>,
    flags: Vec<String>,
    text: Vec<Pattern>,
    min_restarts: Option<i64>,
    max_run_secs: Option<i64>,
}

impl When {
    /// Patterns alone: such a block also recognises a pasted error in chat.
    fn text_only(&self) -> bool {
        !self.text.is_empty()
            && self.exit_code.is_empty()
            && self.oom_killed.is_none()
            && self.reason.is_empty()
            && self.waiting_reason.is_empty()
            && self.event_reason.is_empty()
            && self.status.is_empty()
            && self.health.is_empty()
            && self.flags.is_empty()
            && self.min_restarts.is_none()
            && self.max_run_secs.is_none()
    }
}

#[derive(Debug)]
pub struct Signature {
    pub id: String,
    /// The knowledge topic behind it (checked to exist at load).
    pub topic: String,
    /// Higher wins when several match (a specific cause over "exit code 1").
    pub priority: i32,
    pub title: Pair,
    pub cause: Pair,
    pub fix: Steps,
    pub when: Vec<When>,
}

/// Everything a collector found out about a target, in the terms signatures match on.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// Docker state (`running`, `exited`, `restarting`, …) or the pod phase.
    pub status: Option<String>,
    pub exit_code: Option<i64>,
    pub oom_killed: Option<bool>,
    /// Termination reasons (`OOMKilled`, `Error`, `Evicted`, …).
    pub reasons: Vec<String>,
    pub waiting_reasons: Vec<String>,
    pub event_reasons: Vec<String>,
    pub health: Option<String>,
    pub restarts: Option<i64>,
    /// How long the last run lasted, in seconds.
    pub ran_secs: Option<i64>,
    pub flags: BTreeSet<String>,
    /// Error strings to look for patterns in: State.Error, last log lines, health output,
    /// event messages. Most telling first (the first match is the one quoted).
    pub texts: Vec<String>,
    /// Values a cause may quote (`FACT_VARS`).
    pub vars: BTreeMap<String, String>,
}

impl Facts {
    pub fn flag(&mut self, f: &str) {
        self.flags.insert(f.to_string());
    }

    pub fn var(&mut self, k: &str, v: impl Into<String>) {
        let v = v.into();
        if !v.trim().is_empty() {
            self.vars.insert(k.to_string(), v);
        }
    }
}

/// A signature that matched, with the values to fill its sentences and the evidence line.
#[derive(Debug, Clone)]
pub struct Match<'a> {
    pub signature: &'a Signature,
    pub vars: BTreeMap<String, String>,
    /// The text line a pattern matched, shortened.
    pub quote: Option<String>,
}

impl Match<'_> {
    pub fn title(&self, lang: Lang) -> String {
        fill(self.signature.title.get(lang), &self.vars)
    }

    pub fn cause(&self, lang: Lang) -> String {
        fill(self.signature.cause.get(lang), &self.vars)
    }

    pub fn fix(&self, lang: Lang) -> Vec<String> {
        self.signature
            .fix
            .get(lang)
            .iter()
            .map(|s| fill(s, &self.vars))
            .collect()
    }
}

#[derive(Debug)]
pub struct Catalog {
    pub signatures: Vec<Signature>,
    /// Which patterns a text may match: only those are compiled and run.
    prefilter: Prefilter,
}

impl Catalog {
    /// Parses and checks catalogue files (`(path, text)`) against the known topic ids.
    /// Any problem fails the whole load with the file, the signature and the reason.
    pub fn parse(files: &[(&str, &str)], topics: &HashSet<String>) -> Result<Catalog, String> {
        let mut signatures = Vec::new();
        let mut seen = HashSet::new();
        let mut patterns = 0;
        for (path, text) in files {
            let raw: RawFile = toml::from_str(text).map_err(|e| format!("{path}: {e}"))?;
            for r in raw.signature {
                let id = r.id.clone();
                let s = check(r, topics, &mut patterns)
                    .map_err(|e| format!("{path}: signature {id:?}: {e}"))?;
                if !seen.insert(s.id.clone()) {
                    return Err(format!("{path}: signature {:?} is defined twice", s.id));
                }
                signatures.push(s);
            }
        }
        Ok(Catalog::new(signatures))
    }

    fn new(signatures: Vec<Signature>) -> Catalog {
        let prefilter = Prefilter::new(patterns_of(&signatures));
        Catalog {
            signatures,
            prefilter,
        }
    }

    #[cfg(test)]
    pub(super) fn prefilter(&self) -> &Prefilter {
        &self.prefilter
    }

    /// How many of the catalogue's patterns have been compiled so far.
    #[cfg(test)]
    pub fn compiled_patterns(&self) -> usize {
        self.all_patterns().filter(|p| p.is_compiled()).count()
    }

    #[cfg(test)]
    pub(super) fn all_patterns(&self) -> impl Iterator<Item = &Pattern> {
        patterns_of(&self.signatures)
    }

    /// The built-in catalogue, checked against the built-in topics.
    pub fn builtin() -> Result<Catalog, String> {
        Catalog::parse(
            crate::knowledge::builtin_signature_files(),
            &crate::knowledge::builtin_topic_ids(),
        )
    }

    /// Every signature the facts satisfy, best first (one match per signature).
    pub fn match_facts(&self, facts: &Facts) -> Vec<Match<'_>> {
        let mut out: Vec<Match<'_>> = Vec::new();
        let candidates = self.prefilter.candidates(&facts.texts);
        for s in &self.signatures {
            // Every block that holds adds what it captured (the first capture of a name and
            // the first quoted line win), so a waiting reason and a pattern on the same
            // message give both the verdict and the detail.
            let mut held = s
                .when
                .iter()
                .filter_map(|w| holds(w, facts, &candidates))
                .peekable();
            if held.peek().is_none() {
                continue;
            }
            let mut vars = facts.vars.clone();
            let mut quote = None;
            let mut captured = BTreeMap::new();
            for (caps, q) in held {
                for (k, v) in caps {
                    captured.entry(k).or_insert(v);
                }
                quote = quote.or(q);
            }
            vars.extend(captured);
            out.push(Match {
                signature: s,
                vars,
                quote,
            });
        }
        // Stable: equal priorities keep catalogue order.
        out.sort_by_key(|m| std::cmp::Reverse(m.signature.priority));
        out
    }

    /// The signature a pasted error names, if any: only pattern-only blocks take part (a
    /// pattern that needs a fact beside it says too little on its own).
    pub fn match_text(&self, text: &str) -> Option<Match<'_>> {
        let mut best: Option<Match<'_>> = None;
        let candidates = self.prefilter.candidates(&[text]);
        for s in &self.signatures {
            if best
                .as_ref()
                .is_some_and(|b| b.signature.priority >= s.priority)
            {
                continue;
            }
            let found = s
                .when
                .iter()
                .filter(|w| w.text_only())
                .find_map(|w| first_capture(&w.text, &[text], &candidates));
            if let Some((vars, quote)) = found {
                best = Some(Match {
                    signature: s,
                    vars,
                    quote,
                });
            }
        }
        best
    }

    pub fn get(&self, id: &str) -> Option<&Signature> {
        self.signatures.iter().find(|s| s.id == id)
    }
}

/// Every text pattern of `signatures`, in catalogue order (their ids' order).
fn patterns_of(signatures: &[Signature]) -> impl Iterator<Item = &Pattern> {
    signatures
        .iter()
        .flat_map(|s| s.when.iter().flat_map(|w| w.text.iter()))
}

/// The built-in catalogue, loaded once. A broken built-in file is a build bug (the test
/// suite loads it); in a running bot it leaves the catalogue empty with the error logged.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| match Catalog::builtin() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "failure signatures failed to load");
            metrics::counter!("wedock_errors_total", "reason" => "signatures_load").increment(1);
            Catalog::new(Vec::new())
        }
    })
}

/// Checks one signature; its patterns take ids from `patterns` onwards.
fn check(
    r: RawSignature,
    topics: &HashSet<String>,
    patterns: &mut usize,
) -> Result<Signature, String> {
    if r.id.is_empty()
        || !r
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("`id` must be lowercase letters, digits and dashes".into());
    }
    if !topics.contains(&r.topic) {
        return Err(format!("unknown knowledge topic {:?}", r.topic));
    }
    for (what, p) in [("title", &r.title), ("cause", &r.cause)] {
        if p.zh.trim().is_empty() || p.en.trim().is_empty() {
            return Err(format!("`{what}` needs both zh and en text"));
        }
    }
    if r.fix.zh.is_empty() || r.fix.en.is_empty() {
        return Err("`fix` needs steps in both zh and en".into());
    }
    if r.when.is_empty() {
        return Err("no `[[signature.when]]`: it could never match".into());
    }
    let mut when = Vec::new();
    let mut names: HashSet<String> = FACT_VARS.iter().map(|s| s.to_string()).collect();
    for w in r.when {
        let mut text = Vec::new();
        for p in &w.text {
            let pattern =
                Pattern::new(*patterns, p).map_err(|e| format!("bad pattern {p:?}: {e}"))?;
            *patterns += 1;
            names.extend(pattern.capture_names().iter().cloned());
            text.push(pattern);
        }
        if let Some(f) = w.flags.iter().find(|f| !FLAGS.contains(&f.as_str())) {
            return Err(format!("unknown flag {f:?} (known: {})", FLAGS.join(", ")));
        }
        let w = When {
            exit_code: w.exit_code,
            oom_killed: w.oom_killed,
            reason: w.reason,
            waiting_reason: w.waiting_reason,
            event_reason: w.event_reason,
            status: w.status,
            health: w.health,
            flags: w.flags,
            text,
            min_restarts: w.min_restarts,
            max_run_secs: w.max_run_secs,
        };
        let empty = w.text.is_empty()
            && w.exit_code.is_empty()
            && w.oom_killed.is_none()
            && w.reason.is_empty()
            && w.waiting_reason.is_empty()
            && w.event_reason.is_empty()
            && w.status.is_empty()
            && w.health.is_empty()
            && w.flags.is_empty()
            && w.min_restarts.is_none()
            && w.max_run_secs.is_none();
        if empty {
            return Err("a `when` block without conditions would match everything".into());
        }
        when.push(w);
    }
    let sentences = [&r.cause.zh, &r.cause.en]
        .into_iter()
        .chain(r.fix.zh.iter())
        .chain(r.fix.en.iter());
    for s in sentences {
        if let Some(v) = placeholders(s).into_iter().find(|v| !names.contains(v)) {
            return Err(format!(
                "`{{{v}}}` is neither a fact nor a pattern's named group"
            ));
        }
    }
    Ok(Signature {
        id: r.id,
        topic: r.topic,
        priority: r.priority,
        title: r.title,
        cause: r.cause,
        fix: r.fix,
        when,
    })
}

fn eq_any(list: &[String], v: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(v))
}

/// Whether a block holds for the facts: `Some((captures, quoted line))`.
type Found = (BTreeMap<String, String>, Option<String>);

fn holds(w: &When, f: &Facts, candidates: &Candidates) -> Option<Found> {
    if !w.exit_code.is_empty() && !f.exit_code.is_some_and(|c| w.exit_code.contains(&c)) {
        return None;
    }
    if let Some(want) = w.oom_killed
        && f.oom_killed.unwrap_or(false) != want
    {
        return None;
    }
    if !w.reason.is_empty() && !f.reasons.iter().any(|r| eq_any(&w.reason, r)) {
        return None;
    }
    if !w.waiting_reason.is_empty()
        && !f
            .waiting_reasons
            .iter()
            .any(|r| eq_any(&w.waiting_reason, r))
    {
        return None;
    }
    if !w.event_reason.is_empty() && !f.event_reasons.iter().any(|r| eq_any(&w.event_reason, r)) {
        return None;
    }
    if !w.status.is_empty() && !f.status.as_deref().is_some_and(|s| eq_any(&w.status, s)) {
        return None;
    }
    if !w.health.is_empty() && !f.health.as_deref().is_some_and(|s| eq_any(&w.health, s)) {
        return None;
    }
    if !w.flags.iter().all(|x| f.flags.contains(x)) {
        return None;
    }
    if let Some(min) = w.min_restarts
        && f.restarts.unwrap_or(0) < min
    {
        return None;
    }
    if let Some(max) = w.max_run_secs
        && f.ran_secs.is_none_or(|s| s > max)
    {
        return None;
    }
    if w.text.is_empty() {
        return Some((BTreeMap::new(), None));
    }
    first_capture(&w.text, &f.texts, candidates)
}

/// The first pattern (in catalogue order) that matches any text, with its named groups and
/// the line it matched in.
fn first_capture<T: AsRef<str>>(
    patterns: &[Pattern],
    texts: &[T],
    candidates: &Candidates,
) -> Option<Found> {
    for p in patterns.iter().filter(|p| candidates.has(p)) {
        let Some(re) = p.regex() else { continue };
        for t in texts {
            let t = t.as_ref();
            if let Some(c) = re.captures(t) {
                let mut vars = BTreeMap::new();
                for name in re.capture_names().flatten() {
                    if let Some(m) = c.name(name) {
                        let v = m.as_str().trim_matches(|ch: char| "'\"`,;".contains(ch));
                        if !v.is_empty() {
                            vars.insert(name.to_string(), v.to_string());
                        }
                    }
                }
                let whole = c.get(0).map(|m| m.start()).unwrap_or(0);
                return Some((vars, Some(line_around(t, whole))));
            }
        }
    }
    None
}

/// The line of `text` holding byte `at`, trimmed and shortened.
fn line_around(text: &str, at: usize) -> String {
    let start = text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let end = text[at..].find('\n').map(|i| at + i).unwrap_or(text.len());
    shorten(text[start..end].trim(), QUOTE_CHARS)
}

/// At most `n` characters, with an ellipsis when cut.
pub fn shorten(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n).collect();
    out.push('…');
    out
}

/// `{name}` placeholders (lowercase identifiers only, so `{{.Os}}` and `{.metadata}` in
/// commands stay literal).
fn placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        rest = &rest[i + 1..];
        if let Some(j) = rest.find('}') {
            let name = &rest[..j];
            if is_ident(name) {
                out.push(name.to_string());
            }
        }
    }
    out
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// Fills `{name}` from `vars`. A `[…]` segment holding placeholders is left out when one of
/// them has no value (and shown without its brackets otherwise); a placeholder outside such
/// a segment without a value becomes its name in capitals, like a command's argument
/// (`publish=PORT`).
pub fn fill(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        let seg = &rest[open + 1..close];
        let names = placeholders(seg);
        out.push_str(&fill_plain(&rest[..open], vars));
        if names.is_empty() {
            out.push_str(&rest[open..=close]);
        } else if names
            .iter()
            .all(|n| vars.get(n).is_some_and(|v| !v.is_empty()))
        {
            out.push_str(&fill_plain(seg, vars));
        }
        rest = &rest[close + 1..];
    }
    out.push_str(&fill_plain(rest, vars));
    out
}

/// A placeholder without a value becomes its name in capitals (`PORT`); braces around
/// anything but a lowercase name stay as typed.
fn fill_plain(s: &str, vars: &BTreeMap<String, String>) -> String {
    crate::i18n::catalog::fill_braces(s, |name, out| {
        if !is_ident(name) {
            return false;
        }
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => out.push_str(&name.to_ascii_uppercase()),
        }
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> HashSet<String> {
        ["ts-oomkilled".to_string()].into_iter().collect()
    }

    const GOOD: &str = r#"
[[signature]]
id = "oom"
topic = "ts-oomkilled"
title = { zh = "内存", en = "Memory" }
cause = { zh = "超过[ {limit}]", en = "over[ {limit}] at {addr}" }
fix.zh = ["调大"]
fix.en = ["raise"]
[[signature.when]]
oom_killed = true
[[signature.when]]
text = ['killed at (?P<addr>\S+)']
"#;

    #[test]
    fn the_builtin_catalogue_loads_and_is_big_enough() {
        let c = Catalog::builtin().expect("built-in signatures load");
        assert!(c.signatures.len() >= 40, "{}", c.signatures.len());
    }

    #[test]
    fn a_good_entry_loads() {
        let c = Catalog::parse(&[("t.toml", GOOD)], &topics()).unwrap();
        assert_eq!(c.signatures.len(), 1);
    }

    #[test]
    fn malformed_entries_are_rejected_with_the_reason() {
        let missing_en = GOOD.replace(r#", en = "Memory" "#, " ");
        let e = Catalog::parse(&[("t.toml", &missing_en)], &topics()).unwrap_err();
        assert!(e.contains("en") && e.contains("t.toml"), "{e}");

        let no_en_fix = GOOD.replace("fix.en = [\"raise\"]\n", "");
        let e = Catalog::parse(&[("t.toml", &no_en_fix)], &topics()).unwrap_err();
        assert!(e.contains("en"), "{e}");

        let empty_zh = GOOD.replace("zh = \"内存\"", "zh = \" \"");
        let e = Catalog::parse(&[("t.toml", &empty_zh)], &topics()).unwrap_err();
        assert!(e.contains("both zh and en"), "{e}");

        let unknown_topic = GOOD.replace("topic = \"ts-oomkilled\"", "topic = \"ts-nope\"");
        let e = Catalog::parse(&[("t.toml", &unknown_topic)], &topics()).unwrap_err();
        assert!(e.contains("unknown knowledge topic"), "{e}");

        let bad_regex = GOOD.replace(r"killed at (?P<addr>\S+)", "killed at (unclosed");
        let e = Catalog::parse(&[("t.toml", &bad_regex)], &topics()).unwrap_err();
        assert!(e.contains("bad pattern"), "{e}");

        let unknown_fact = GOOD.replace("oom_killed = true", "oom_kiled = true");
        let e = Catalog::parse(&[("t.toml", &unknown_fact)], &topics()).unwrap_err();
        assert!(e.contains("oom_kiled"), "{e}");

        let unknown_flag = GOOD.replace("oom_killed = true", "flags = [\"bogus\"]");
        let e = Catalog::parse(&[("t.toml", &unknown_flag)], &topics()).unwrap_err();
        assert!(e.contains("unknown flag"), "{e}");

        let unknown_var = GOOD.replace("{limit}", "{limmit}");
        let e = Catalog::parse(&[("t.toml", &unknown_var)], &topics()).unwrap_err();
        assert!(e.contains("limmit"), "{e}");

        let twice = format!("{GOOD}\n{}", &GOOD[GOOD.find("[[signature]]").unwrap()..]);
        let e = Catalog::parse(&[("t.toml", &twice)], &topics()).unwrap_err();
        assert!(e.contains("twice"), "{e}");

        let no_when = &GOOD[..GOOD.find("[[signature.when]]").unwrap()];
        let e = Catalog::parse(&[("t.toml", no_when)], &topics()).unwrap_err();
        assert!(e.contains("never match"), "{e}");
    }

    #[test]
    fn facts_and_text_match_with_captures() {
        let c = Catalog::parse(&[("t.toml", GOOD)], &topics()).unwrap();
        let mut f = Facts {
            oom_killed: Some(true),
            ..Facts::default()
        };
        f.var("limit", "64 MiB");
        let m = c.match_facts(&f);
        assert_eq!(m[0].cause(Lang::Zh), "超过 64 MiB");
        // No address known: the optional part stays, the bare placeholder is capitalised.
        assert_eq!(m[0].cause(Lang::En), "over 64 MiB at ADDR");
        let m = c.match_text("2026-01-01 x killed at db:5432 now").unwrap();
        assert_eq!(m.vars["addr"], "db:5432");
        assert_eq!(m.cause(Lang::Zh), "超过");
        assert!(c.match_text("nothing here").is_none());
    }

    #[test]
    fn fill_keeps_literal_braces_and_brackets() {
        let v = BTreeMap::from([("port".to_string(), "80".to_string())]);
        assert_eq!(fill("{{.Os}} [x] {port}", &v), "{{.Os}} [x] 80");
        assert_eq!(fill("a[ b {cmd}]c", &v), "ac");
        assert_eq!(fill("{.metadata.finalizers}", &v), "{.metadata.finalizers}");
    }

    #[test]
    fn builtin_text_matches_pick_the_specific_signature() {
        let c = Catalog::builtin().unwrap();
        let id = |t: &str| c.match_text(t).map(|m| m.signature.id.clone());
        assert_eq!(
            id("standard_init_linux.go:228: exec user process caused: exec format error")
                .as_deref(),
            Some("exec-format-error")
        );
        assert_eq!(
            id("The connection to the server localhost:8080 was refused - did you specify the right host or port?").as_deref(),
            Some("kubeconfig-localhost-8080")
        );
        let m = c
            .match_text("Error response from daemon: driver failed programming external connectivity on endpoint web: Bind for 0.0.0.0:8080 failed: port is already allocated")
            .unwrap();
        assert_eq!(m.signature.id, "port-already-allocated");
        assert_eq!(m.vars["port"], "8080");
        let m = c
            .match_text("panic: dial tcp 10.0.0.5:5432: connect: connection refused")
            .unwrap();
        assert_eq!(m.signature.id, "dependency-refused");
        assert_eq!(m.vars["addr"], "10.0.0.5:5432");
        // Chinese right against the English word still counts as a boundary.
        assert_eq!(id("容器状态OOMKilled了").as_deref(), Some("oom-killed"));
        assert_eq!(
            id("pod一直CrashLoopBackOff").as_deref(),
            Some("crashloopbackoff")
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_safe_to_match(text in "\\PC{0,200}") {
            let c = catalog();
            let _ = c.match_text(&text);
            let f = Facts { texts: vec![text.clone()], ..Facts::default() };
            for m in c.match_facts(&f) {
                let _ = m.cause(Lang::Zh);
                let _ = m.fix(Lang::En);
            }
        }
    }
}
