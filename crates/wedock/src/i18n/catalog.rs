//! The sentence catalog: every user-facing sentence, once per language, in `zh.toml` and
//! `en.toml` beside this file, looked up by a dotted key (`docker.no_container`) with named
//! `{placeholders}`. The files are compiled in; `catalog_tests` fails when a key lacks a
//! language, when the placeholders of a key differ between languages, or when the code names a
//! key the catalog lacks.
//!
//! Use the [`t!`](crate::t) macro: `t!(lang, "docker.no_container", host = eng.name, query = q)`.

use super::Lang;
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::LazyLock;

const ZH_SOURCE: &str = include_str!("zh.toml");
const EN_SOURCE: &str = include_str!("en.toml");

/// One language's sentences by dotted key.
pub(crate) type Sentences = HashMap<String, String>;

static ZH: LazyLock<Sentences> = LazyLock::new(|| parse("zh.toml", ZH_SOURCE));
static EN: LazyLock<Sentences> = LazyLock::new(|| parse("en.toml", EN_SOURCE));

/// Flattens `[section] key = "…"` into `section.key`. The files are ours and checked by the
/// tests; a broken one still must not take the bot down, so it logs and yields no sentences
/// (lookups then answer with the key itself).
pub(crate) fn parse(file: &str, source: &str) -> Sentences {
    let mut out = HashMap::new();
    match source.parse::<toml::Table>() {
        Ok(table) => flatten("", &table, &mut out),
        Err(e) => tracing::error!(file, error = %e, "sentence catalog does not parse"),
    }
    out
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Sentences) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(t) => flatten(&key, t, out),
            other => tracing::error!(key, kind = other.type_str(), "catalog entry is not text"),
        }
    }
}

pub(crate) fn sentences(lang: Lang) -> &'static Sentences {
    match lang {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    }
}

/// The sentence for `key` in `lang`, placeholders unfilled. A missing key answers with the
/// key itself, so a mistake shows up as `docker.xyz` in a reply instead of an empty one.
pub fn get(lang: Lang, key: &'static str) -> &'static str {
    match sentences(lang).get(key) {
        Some(s) => s.as_str(),
        None => {
            tracing::warn!(key, lang = lang.code(), "sentence missing from the catalog");
            key
        }
    }
}

/// The sentence with each `{name}` replaced by its value; unknown placeholders stay as typed.
pub fn fill(lang: Lang, key: &'static str, vars: &[(&str, &dyn Display)]) -> String {
    fill_str(get(lang, key), vars)
}

/// Fills `{name}` placeholders of an already looked-up sentence in one pass.
pub fn fill_str(template: &str, vars: &[(&str, &dyn Display)]) -> String {
    use std::fmt::Write;
    fill_braces(template, |name, out| {
        let Some((_, v)) = vars.iter().find(|(n, _)| *n == name) else {
            return false;
        };
        let _ = write!(out, "{v}");
        true
    })
}

/// [`fill_str`] for the typed sentence tables ([`super::Text`], `diagnose::text::Say`),
/// whose values are all text.
pub fn fill_text(template: &str, vars: &[(&str, &str)]) -> String {
    let vars: Vec<(&str, &dyn Display)> =
        vars.iter().map(|(k, v)| (*k, v as &dyn Display)).collect();
    fill_str(template, &vars)
}

/// The one scanner for `{name}` placeholders, so every template fills alike: `var` writes
/// the value of `name` to the output and answers whether it did; when it did not, the `{`
/// stays as typed and the scan goes on after it. Values are never scanned again, so a value
/// holding braces is shown as it is.
pub fn fill_braces(template: &str, mut var: impl FnMut(&str, &mut String) -> bool) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(c) if var(&after[..c], &mut out) => rest = &after[c + 1..],
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A catalog sentence in the user's language: `t!(lang, "key")` gives `&'static str`,
/// `t!(lang, "key", name = value, …)` a `String` with the placeholders filled.
#[macro_export]
macro_rules! t {
    ($lang:expr, $key:literal) => {
        $crate::i18n::catalog::get($lang, $key)
    };
    ($lang:expr, $key:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::i18n::catalog::fill(
            $lang,
            $key,
            &[$((stringify!($name), &$value as &dyn ::std::fmt::Display)),+],
        )
    };
}

/// Table column headers kept as one `|`-separated sentence, so a table's columns are
/// translated together.
pub fn columns(lang: Lang, key: &'static str) -> Vec<&'static str> {
    get(lang, key).split('|').collect()
}
