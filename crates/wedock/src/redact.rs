//! Secrets never leave in a reply: command output (logs, inspect, describe, events, exec),
//! alert attachments and anything sent to the LLM pass through [`Redactor::redact`] before
//! they reach a channel.
//!
//! The value of a secret becomes `***` while the key name stays, so the line is still
//! readable: `DB_PASSWORD=***`, `Authorization: Bearer ***`, `postgres://app:***@db/app`.
//! What is recognised is listed in docs/security.md; `[security] redact_patterns` adds
//! site-specific regexes (a pattern with a capture group redacts the first group only).

pub use crate::config::SecurityConfig;
use regex::{Captures, Regex};
use std::borrow::Cow;
use std::sync::LazyLock;

/// What replaces a secret.
pub const MASK: &str = "***";

/// The built-in rules plus the configured patterns.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    extra: Vec<Regex>,
}

/// A private-key block; a BEGIN without an END runs to the end of the text.
static PEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)(-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----)(.*?)(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\z)")
        .expect("valid regex")
});
static PEM_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----").expect("valid regex")
});
/// `scheme://user:password@host`.
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/@:]+:)([^\s/@]+)(@)").expect("valid regex")
});
/// An `Authorization` header in any notation (HTTP, JSON, curl).
static AUTH_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b((?:proxy-)?authorization["']?[ \t]*[:=][ \t]*["']?(?:(?:bearer|basic|token|digest|negotiate|apikey)[ \t]+)?)([^\s"',;]+)"#,
    )
    .expect("valid regex")
});
/// `Bearer <token>` anywhere.
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(bearer[ \t]+)([A-Za-z0-9\-._~+/]+=*)").expect("valid regex")
});
/// Cookies carry sessions.
static COOKIE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b((?:set-)?cookie[ \t]*:[ \t]*)([^\r\n]+)").expect("valid regex")
});
/// JSON Web Tokens (header and payload are base64url JSON, so both start with `eyJ`).
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\beyJ[A-Za-z0-9_\-]{6,}\.eyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]*")
        .expect("valid regex")
});
/// Tokens recognisable by their prefix: AWS access key ids, GitHub, GitLab, Slack, OpenAI.
static PREFIXED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?:(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|glpat-[A-Za-z0-9_\-]{20,}|xox[abprs]-[A-Za-z0-9\-]{10,}|sk-[A-Za-z0-9_\-]{20,})\b",
    )
    .expect("valid regex")
});
/// `key=value`, `key: value`, `"key": "value"` where the key names a secret.
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(\b[\w.\-]*?(?:password|passwd|passphrase|pwd|[_\-]pass|secret|token|api[_\-]?key|apikey|access[_\-]?key|private[_\-]?key|credentials?)(?:[_.\-]?(?:access[_\-]?key|key|value|string))?)(["']?[ \t]*[:=][ \t]*)("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s,;&"'}\])]+)"#,
    )
    .expect("valid regex")
});
/// SQL: `WITH PASSWORD 'x'`, `IDENTIFIED BY 'x'`.
static SQL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b((?:password|identified[ \t]+by)[ \t]+)('(?:[^'\n]|'')*')")
        .expect("valid regex")
});
/// `--password value`, `--db-password=value` on command lines.
static FLAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)(--(?:[\w\-]*-)?(?:password|passwd|passphrase|pass|secret|token|api-?key)[ \t=]+)("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s"']+)"#,
    )
    .expect("valid regex")
});

impl Redactor {
    /// The built-in rules plus `[security] redact_patterns` (patterns that do not compile are
    /// skipped here; `wedock check` refuses them).
    pub fn new(config: &SecurityConfig) -> Self {
        let extra = config
            .redact_patterns
            .iter()
            .filter_map(|p| crate::config::compile_redact_pattern(p).ok())
            .collect();
        Self { extra }
    }

    /// `text` with every recognised secret value replaced by [`MASK`]. Borrowed when nothing
    /// was found.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        if text.contains("PRIVATE KEY") {
            apply(&mut out, &PEM, |c| {
                let end = c.get(4).map_or("", |m| m.as_str());
                // Keep the block on one line when it was one (a JSON string with `\n`s).
                let sep = if c[3].contains('\n') || end.is_empty() {
                    "\n"
                } else {
                    " "
                };
                format!("{}{sep}{MASK}{sep}{end}", &c[1])
                    .trim_end()
                    .to_string()
            });
            if let Some(s) = redact_orphan_pem_tail(&out) {
                out = Cow::Owned(s);
            }
        }
        apply(&mut out, &URL_USERINFO, |c| {
            format!("{}{MASK}{}", &c[1], &c[3])
        });
        apply(&mut out, &AUTH_HEADER, |c| keep_or_mask(c, 1, 2));
        apply(&mut out, &BEARER, |c| {
            let token = &c[2];
            // "bearer token", "Bearer of" are words, not credentials.
            if token.len() < 16 && !token.bytes().any(|b| b.is_ascii_digit()) {
                return c[0].to_string();
            }
            keep_or_mask(c, 1, 2)
        });
        apply(&mut out, &COOKIE, |c| keep_or_mask(c, 1, 2));
        apply(&mut out, &JWT, |_| MASK.to_string());
        apply(&mut out, &PREFIXED, |_| MASK.to_string());
        apply(&mut out, &KEY_VALUE, |c| {
            let key = c[1].to_ascii_lowercase();
            if !is_secret_key(&key) || !is_secret_value(&c[3]) {
                return c[0].to_string();
            }
            format!("{}{}{}", &c[1], &c[2], mask_value(&c[3]))
        });
        apply(&mut out, &SQL, |c| {
            format!("{}{}", &c[1], mask_value(&c[2]))
        });
        apply(&mut out, &FLAG, |c| {
            if !is_secret_value(&c[2]) {
                return c[0].to_string();
            }
            format!("{}{}", &c[1], mask_value(&c[2]))
        });
        for re in &self.extra {
            apply(&mut out, re, |c| match c.get(1) {
                Some(g) => {
                    let whole = c.get(0).map_or(0..0, |m| m.range());
                    let s = &c[0];
                    let (a, b) = (g.start() - whole.start, g.end() - whole.start);
                    format!("{}{MASK}{}", &s[..a], &s[b..])
                }
                None => MASK.to_string(),
            });
        }
        out
    }

    /// [`Redactor::redact`] for a text that continues an earlier one (log lines arriving
    /// in pieces): a private key opened in an earlier piece stays redacted until its END.
    pub fn stream(&self) -> RedactStream<'_> {
        RedactStream {
            redactor: self,
            in_key: false,
        }
    }
}

/// A redactor that remembers an unfinished private-key block between pieces of text.
pub struct RedactStream<'r> {
    redactor: &'r Redactor,
    in_key: bool,
}

impl RedactStream<'_> {
    pub fn push(&mut self, piece: &str) -> String {
        let mut piece = Cow::Borrowed(piece);
        if self.in_key {
            match PEM_END.find(&piece) {
                Some(end) => {
                    let before = &piece[..end.start()];
                    if !before.trim().is_empty() {
                        piece = Cow::Owned(format!("{MASK}\n{}", &piece[end.start()..]));
                    }
                    self.in_key = false;
                }
                None => return MASK.to_string(),
            }
        }
        let out = self.redactor.redact(&piece).into_owned();
        // Did this piece open a block it did not close?
        if let Some(last_begin) = out.rfind("-----BEGIN ") {
            let rest = &out[last_begin..];
            self.in_key = rest.contains("PRIVATE KEY") && !PEM_END.is_match(rest);
        }
        out
    }
}

/// A private key whose BEGIN was cut off (a log tail that starts inside the block): the
/// base64 lines right before an END that has no BEGIN are redacted.
fn redact_orphan_pem_tail(text: &str) -> Option<String> {
    let mut out = String::new();
    let mut copied = 0;
    for m in PEM_END.find_iter(text) {
        let before = &text[copied..m.start()];
        if before.trim_end().ends_with(MASK) {
            continue; // Its BEGIN was seen: already redacted.
        }
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let mut start = line_start;
        while start > 0 {
            let prev_start = before[..start - 1].rfind('\n').map_or(0, |i| i + 1);
            if !is_base64_line(&before[prev_start..start - 1]) {
                break;
            }
            start = prev_start;
        }
        // The END line's own start: key material (`…==-----END`) or a log prefix to keep.
        let prefix_is_key = is_base64_line(&before[line_start..]);
        if start == line_start && !prefix_is_key {
            continue;
        }
        out.push_str(&before[..start]);
        out.push_str(MASK);
        out.push('\n');
        copied = if prefix_is_key {
            m.start()
        } else {
            copied + line_start
        };
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// A line whose last word looks like a piece of base64 (a private key's body, maybe after a
/// log prefix such as `app-1  | `).
fn is_base64_line(line: &str) -> bool {
    line.split_whitespace().last().is_some_and(|w| {
        w.len() >= 16
            && w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    })
}

/// Replaces the matches of `re` in `out` by what `f` makes of them.
fn apply(out: &mut Cow<'_, str>, re: &Regex, f: impl Fn(&Captures) -> String) {
    let replaced = match re.replace_all(out.as_ref(), |c: &Captures| f(c)) {
        Cow::Owned(s) => Some(s),
        Cow::Borrowed(_) => None,
    };
    if let Some(s) = replaced {
        *out = Cow::Owned(s);
    }
}

fn keep_or_mask(c: &Captures, keep: usize, value: usize) -> String {
    if c[value].starts_with(MASK) {
        return c[0].to_string();
    }
    format!("{}{MASK}", &c[keep])
}

/// Key names that match the rule but are not secrets: `PWD`/`OLDPWD` in an environment
/// dump are directories. (`*_FILE`, `*_PATH`, `max_tokens` never match: the key has to end
/// with the secret word.)
fn is_secret_key(key: &str) -> bool {
    !matches!(key.trim_start_matches('-'), "pwd" | "oldpwd")
}

/// Values that are not secrets: empty, already masked, references, placeholders.
fn is_secret_value(v: &str) -> bool {
    let inner = v.trim_matches(|c| c == '"' || c == '\'');
    !(inner.is_empty()
        || inner.starts_with(MASK)
        || inner.chars().all(|c| c == '*' || c == 'x' || c == 'X')
        || inner.starts_with("${")
        || inner.starts_with('<')
        || inner.starts_with("$(")
        || matches!(
            inner.to_ascii_lowercase().as_str(),
            "null"
                | "none"
                | "nil"
                | "true"
                | "false"
                | "yes"
                | "no"
                | "[redacted]"
                | "redacted"
                | "(none)"
        ))
}

/// `***` keeping the quotes around the value.
fn mask_value(v: &str) -> String {
    let q = v.chars().next().filter(|c| *c == '"' || *c == '\'');
    match q {
        Some(q) if v.len() >= 2 && v.ends_with(q) => format!("{q}{MASK}{q}"),
        _ => MASK.to_string(),
    }
}

#[cfg(test)]
mod tests;
