//! The catalog's own guarantees: both languages have every key with the same placeholders,
//! and every key the code names exists.

use super::catalog::{self, Sentences};
use super::{Lang, Text};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The `{name}` placeholders of a sentence, sorted and without repeats.
fn placeholders(sentence: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = sentence;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(c)
                if c > 0
                    && after[..c]
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ch == '_') =>
            {
                names.push(after[..c].to_string());
                rest = &after[c + 1..];
            }
            _ => rest = after,
        }
    }
    names.sort();
    names.dedup();
    names
}

fn keys(s: &Sentences) -> BTreeSet<&str> {
    s.keys().map(String::as_str).collect()
}

#[test]
fn both_files_parse_and_hold_the_same_keys() {
    let zh = catalog::sentences(Lang::Zh);
    let en = catalog::sentences(Lang::En);
    assert!(zh.len() > 20, "zh.toml holds {} sentences", zh.len());
    let only_zh: Vec<_> = keys(zh).difference(&keys(en)).copied().collect();
    let only_en: Vec<_> = keys(en).difference(&keys(zh)).copied().collect();
    assert!(only_zh.is_empty(), "keys missing from en.toml: {only_zh:?}");
    assert!(only_en.is_empty(), "keys missing from zh.toml: {only_en:?}");
    for (k, v) in zh.iter().chain(en.iter()) {
        assert!(!v.trim().is_empty(), "{k} is empty");
    }
}

#[test]
fn placeholders_match_between_languages() {
    let zh = catalog::sentences(Lang::Zh);
    let en = catalog::sentences(Lang::En);
    let mut wrong = Vec::new();
    for (k, z) in zh {
        if let Some(e) = en.get(k)
            && placeholders(z) != placeholders(e)
        {
            wrong.push(format!(
                "{k}: zh {:?} en {:?}",
                placeholders(z),
                placeholders(e)
            ));
        }
    }
    assert!(wrong.is_empty(), "placeholders differ: {wrong:#?}");
}

#[test]
fn a_broken_file_or_a_missing_key_degrades_without_panicking() {
    assert!(catalog::parse("bad.toml", "[x\nkey = ").is_empty());
    let s = catalog::parse("t.toml", "[a]\nb = \"B {n}\"\nc = 3\n");
    assert_eq!(s.get("a.b").map(String::as_str), Some("B {n}"));
    assert!(!s.contains_key("a.c"));
    assert_eq!(catalog::get(Lang::En, "no.such_key"), "no.such_key");
}

#[test]
fn fill_replaces_named_placeholders_once_and_keeps_unknown_braces() {
    let out = catalog::fill_str("{a} and {b}, {a}; {json} {", &[("a", &1), ("b", &"x{a}")]);
    assert_eq!(out, "1 and x{a}, 1; {json} {");
    let s = crate::t!(
        Lang::Zh,
        "core.need_role",
        what = "/restart",
        need = "operator",
        have = "viewer"
    );
    assert_eq!(
        s,
        "权限不足：/restart 需要 operator 角色，你当前是 viewer。"
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Every key named in the code — `t!(lang, "key"…)`, `columns(lang, "key")`, `Text::key` —
/// exists, and every catalog entry is named somewhere (no dead sentences).
#[test]
fn every_key_the_code_names_exists_and_every_entry_is_used() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let named = regex::Regex::new(
        r#"(?:t!|columns|catalog::get|catalog::fill)\(\s*[\w.()&]+,\s*"([a-z0-9_.]+)""#,
    )
    .unwrap();
    let mut used = BTreeSet::new();
    for f in &files {
        // Comments may show the macro with a made-up key.
        let text: String = std::fs::read_to_string(f)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for c in named.captures_iter(&text) {
            used.insert(c[1].to_string());
        }
    }
    for t in ALL_TEXT {
        used.insert(t.key().to_string());
    }
    let zh = catalog::sentences(Lang::Zh);
    let missing: Vec<_> = used.iter().filter(|k| !zh.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "keys used in code but not in the catalog: {missing:?}"
    );
    let unused: Vec<_> = keys(zh)
        .into_iter()
        .filter(|k| !used.contains(*k))
        .collect();
    assert!(
        unused.is_empty(),
        "catalog entries no code uses: {unused:?}"
    );
}

/// Handlers hold no prose: the areas moved to the catalog contain no inline language pairs.
#[test]
fn migrated_areas_hold_no_inline_sentence_pairs() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for area in [
        "command",
        "pipeline.rs",
        "alert",
        "channel",
        "render",
        "knowledge/quiz.rs",
        "knowledge/mod.rs",
        "knowledge/say.rs",
        "knowledge/paste.rs",
        "diagnose/reply.rs",
        "diagnose/docker.rs",
    ] {
        let p = src.join(area);
        if p.is_dir() {
            rust_files(&p, &mut files);
        } else {
            files.push(p);
        }
    }
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let l = line.trim_start();
            if l.contains("// not catalog:") {
                continue;
            }
            if l.contains(".pick(") || l.starts_with("Lang::Zh =>") || l.starts_with("(Lang::Zh") {
                found.push(format!(
                    "{}:{}",
                    f.strip_prefix(&src).unwrap().display(),
                    n + 1
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "inline zh/en pairs outside the catalog: {found:#?}"
    );
}

const ALL_TEXT: &[Text] = &[
    Text::Pong,
    Text::Greeting,
    Text::EmptyMessage,
    Text::MessageTooLong,
    Text::NeedRole,
    Text::UnknownCommand,
    Text::UnknownCommandSuggest,
    Text::BadArguments,
    Text::InternalError,
    Text::StillWorking,
    Text::NotSupportedType,
    Text::DontKnow,
    Text::ClosestTopics,
    Text::ReadOnly,
    Text::DockerUnavailable,
    Text::QuizStillPending,
    Text::RateLimitedCommands,
    Text::RateLimitedAnswers,
    Text::OutOfScope,
    Text::ConfirmAsk,
    Text::NothingToConfirm,
];
