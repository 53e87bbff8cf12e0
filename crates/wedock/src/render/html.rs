//! HTML for the web console: escaping, safe links, and bare URLs made clickable.

/// Only web and mail links become clickable; anything else (`javascript:` …) stays text.
fn safe_href(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
}

pub(super) fn html_link(label: &str, url: &str) -> String {
    let text = escape_html(if label.is_empty() { url } else { label });
    if safe_href(url) {
        format!(
            "<a href=\"{}\" rel=\"noopener noreferrer\" target=\"_blank\">{text}</a>",
            escape_html(url)
        )
    } else {
        text
    }
}

/// Bare `https://…` in already-escaped HTML text becomes a link ("📖 文档：https://…").
pub(super) fn linkify_bare_urls(html: &str) -> String {
    if !html.contains("http") {
        return html.to_string();
    }
    let mut out = String::with_capacity(html.len() + 64);
    let mut rest = html;
    let mut in_tag = false;
    while !rest.is_empty() {
        let next = ["https://", "http://"]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let Some(at) = next else {
            out.push_str(rest);
            break;
        };
        let before = &rest[..at];
        // Track whether we are inside an existing tag or link text: skip those.
        for c in before.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                _ => {}
            }
        }
        out.push_str(before);
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || c == '<' || c == '"' || super::markdown::is_cjk(c))
            .unwrap_or(tail.len());
        let url = tail[..end].trim_end_matches(['.', ',', ')', ';']);
        let open =
            |tag: &str, close: &str| out.rfind(tag).is_some_and(|a| !out[a..].contains(close));
        // Inside a link already, or inside code (a URL in a command stays part of the command).
        let inside = open("<a ", "</a>") || open("<code", "</code>");
        if in_tag || inside || url.len() <= "https://".len() {
            out.push_str(&tail[..end]);
            rest = &tail[end..];
            continue;
        }
        let unescaped = url.replace("&amp;", "&");
        out.push_str(&html_link(&unescaped, &unescaped));
        rest = &tail[url.len()..];
    }
    out
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
