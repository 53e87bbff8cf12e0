//! Turning answers into text that fits a channel: byte budgets, human sizes and durations.

pub mod card;
pub mod escape;
pub mod html;
pub mod markdown;
pub mod table;

use crate::i18n::Lang;

/// The formats a message goes out in; both the Markdown renderer ([`markdown`]) and the
/// escaping of untrusted text ([`escape`]) speak this one list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Plain text: WeChat bubbles (Official Account, WeCom app text, personal WeChat, the
    /// bridge) and robot `text` show every character as it is.
    Plain,
    /// WeCom's `markdown` subset (robot and app `markdown`): headings, bold, links, inline
    /// code, quotes, `<font>` colours and `<@userid>` mentions; no lists, code blocks, tables.
    WecomMarkdown,
    /// Full Markdown: robot `markdown_v2` and the AI bot's stream content (lists, code blocks,
    /// tables).
    MarkdownV2,
    /// The web console.
    Html,
}

impl Target {
    pub const ALL: [Target; 4] = [
        Target::Plain,
        Target::WecomMarkdown,
        Target::MarkdownV2,
        Target::Html,
    ];
}

/// The markup of a message in the platforms' shared JSON shape (`{"msgtype": …, …:
/// {"content": …}}`, see `outbox/payload.rs`): group robots take all three, the
/// other senders read the content of any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    MarkdownV2,
}

impl Format {
    pub fn parse(s: &str) -> Format {
        match s {
            "text" => Format::Text,
            "markdown_v2" => Format::MarkdownV2,
            _ => Format::Markdown,
        }
    }
    pub fn msgtype(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::MarkdownV2 => "markdown_v2",
        }
    }
    /// Content byte limit of this format (WeCom: 2,048 for text, 4,096 for markdown).
    pub fn limit(self) -> usize {
        match self {
            Format::Text => TEXT_LIMIT,
            Format::Markdown | Format::MarkdownV2 => MARKDOWN_LIMIT,
        }
    }
}

/// Content limit of `markdown` and `markdown_v2` messages, in UTF-8 bytes.
pub const MARKDOWN_LIMIT: usize = 4096;
/// Content limit of `text` messages, in UTF-8 bytes.
pub const TEXT_LIMIT: usize = 2048;

/// Splits `text` into parts of at most `budget` UTF-8 bytes, at line boundaries where
/// possible and never inside a character. Nothing is dropped: concatenating the parts with
/// `\n` gives back the text (except for the line breaks used as split points).
pub fn split_by_bytes(text: &str, budget: usize) -> Vec<String> {
    let budget = budget.max(4);
    if text.len() <= budget {
        return vec![text.to_string()];
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    for line in text.split('\n') {
        let sep = usize::from(!current.is_empty());
        if current.len() + sep + line.len() <= budget {
            if sep == 1 {
                current.push('\n');
            }
            current.push_str(line);
            continue;
        }
        if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        // A single line longer than the budget is cut at character boundaries.
        let mut rest = line;
        while rest.len() > budget {
            let cut = floor_char_boundary(rest, budget);
            parts.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        current.push_str(rest);
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

/// The largest index `<= at` that is a character boundary of `s` (and > 0 when possible).
pub fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    let mut i = at;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    if i == 0 {
        // The first character alone is wider than `at`: take it whole rather than loop.
        s.char_indices().nth(1).map(|(j, _)| j).unwrap_or(s.len())
    } else {
        i
    }
}

/// Keeps the last lines of `text` that fit in `budget` bytes, with a first line saying how
/// many earlier lines were left out. Logs are cut at the head, never at the tail.
pub fn tail_fit(text: &str, budget: usize, lang: Lang) -> String {
    if text.len() <= budget {
        return text.to_string();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    let mut used = 0usize;
    let header_room = 48;
    for line in lines.iter().rev() {
        let add = line.len() + 1;
        if used + add + header_room > budget {
            break;
        }
        used += add;
        kept.push(line);
    }
    kept.reverse();
    let omitted = lines.len() - kept.len();
    let head = t!(lang, "render.lines_omitted", n = omitted);
    if kept.is_empty() {
        let last = lines.last().copied().unwrap_or("");
        let start = last
            .len()
            .saturating_sub(budget.saturating_sub(header_room));
        let mut start = start;
        while start < last.len() && !last.is_char_boundary(start) {
            start += 1;
        }
        return format!("{head}\n{}", &last[start..]);
    }
    format!("{head}\n{}", kept.join("\n"))
}

/// Keeps the first lines of a list that fit in `budget` bytes, ending with "… N more".
pub fn head_fit(lines: &[String], budget: usize, lang: Lang) -> String {
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let remaining = lines.len() - i;
        let more = t!(lang, "render.more_items", n = remaining);
        let need = out.len() + line.len() + 1;
        let room_for_more = if remaining > 1 { more.len() + 1 } else { 0 };
        if need + room_for_more > budget {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&more);
            return out;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// Cuts `s` to at most `width` display columns (CJK characters count two), ending with an
/// ellipsis when anything was cut.
pub fn truncate_to_width(s: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    if unicode_width::UnicodeWidthStr::width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > width {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.push('…');
    out
}

/// 1536 → "1.5 KiB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A duration in the largest sensible unit: "3 分钟" / "3 minutes".
pub fn human_duration(secs: u64, lang: Lang) -> String {
    // One sentence for one of a unit and one for more, as languages mark plurals
    // differently (English adds an s, Chinese nothing).
    let (n, one, many) = if secs < 60 {
        (secs, t!(lang, "render.second"), t!(lang, "render.seconds"))
    } else if secs < 3600 {
        (
            secs / 60,
            t!(lang, "render.minute"),
            t!(lang, "render.minutes"),
        )
    } else if secs < 86_400 {
        (
            secs / 3600,
            t!(lang, "render.hour"),
            t!(lang, "render.hours"),
        )
    } else if secs < 86_400 * 30 {
        (
            secs / 86_400,
            t!(lang, "render.day"),
            t!(lang, "render.days"),
        )
    } else if secs < 86_400 * 365 {
        (
            secs / (86_400 * 30),
            t!(lang, "render.month"),
            t!(lang, "render.months"),
        )
    } else {
        (
            secs / (86_400 * 365),
            t!(lang, "render.year"),
            t!(lang, "render.years"),
        )
    };
    let template = if n == 1 { one } else { many };
    crate::i18n::catalog::fill_str(template, &[("n", &n)])
}

/// "3 分钟前" / "3 minutes ago" for a Unix timestamp in seconds.
pub fn human_ago(unix_secs: i64, now_secs: i64, lang: Lang) -> String {
    let d = now_secs.saturating_sub(unix_secs);
    if d < 5 {
        return t!(lang, "render.just_now").to_string();
    }
    t!(
        lang,
        "render.ago",
        duration = human_duration(d as u64, lang)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_uses_display_width() {
        assert_eq!(truncate_to_width("abc", 5), "abc");
        let t = truncate_to_width("数据库服务器", 7);
        assert!(
            unicode_width::UnicodeWidthStr::width(t.as_str()) <= 7,
            "{t}"
        );
        assert!(t.ends_with('…'));
    }
    use proptest::prelude::*;

    #[test]
    fn splits_at_lines_within_budget() {
        let text = "第一行内容\nsecond line\n第三行";
        let parts = split_by_bytes(text, 20);
        assert!(parts.iter().all(|p| p.len() <= 20), "{parts:?}");
        assert_eq!(parts.join("\n"), text);
    }

    #[test]
    fn long_line_cut_at_char_boundary() {
        let text = "容".repeat(100);
        let parts = split_by_bytes(&text, 10);
        assert!(parts.iter().all(|p| p.len() <= 10 && !p.is_empty()));
        assert_eq!(parts.concat(), text);
    }

    #[test]
    fn tail_fit_keeps_last_lines() {
        let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let out = tail_fit(&text, 200, Lang::En);
        assert!(out.len() <= 200);
        assert!(out.ends_with("line 100"));
        assert!(out.starts_with("… ("));
    }

    #[test]
    fn head_fit_says_how_many_more() {
        let lines: Vec<String> = (0..50).map(|i| format!("container-{i:02}")).collect();
        let out = head_fit(&lines, 100, Lang::Zh);
        assert!(out.len() <= 100, "{}", out.len());
        assert!(out.contains("还有"));
        assert!(out.starts_with("container-00"));
    }

    #[test]
    fn humans() {
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_ago(0, 180, Lang::Zh), "3 分钟前");
        assert_eq!(human_ago(0, 180, Lang::En), "3 minutes ago");
        assert_eq!(human_ago(0, 3600, Lang::En), "1 hour ago");
    }

    proptest! {
        #[test]
        fn split_never_loses_or_overflows(text in "\\PC{0,400}(\n\\PC{0,80}){0,20}", budget in 4usize..300) {
            let parts = split_by_bytes(&text, budget);
            for p in &parts {
                // A single character may exceed a tiny budget; otherwise parts fit.
                prop_assert!(p.len() <= budget || p.chars().count() == 1);
            }
            let joined: String = parts.concat();
            let original: String = text.split('\n').collect();
            prop_assert_eq!(joined.replace('\n', ""), original);
        }
    }
}
