//! A reply is a Markdown document, parsed once and rendered for what each app can show.
//!
//! - [`Target::Plain`]: WeChat text bubbles (Official Account, WeCom app text, personal WeChat,
//!   the bridge) show every character as it is, so no Markdown syntax may remain.
//! - [`Target::WecomMarkdown`]: the WeCom `markdown` subset (headings, bold, links, inline code,
//!   quotes; no lists, no code blocks, no tables).
//! - [`Target::MarkdownV2`]: full Markdown for `markdown_v2` and the AI bot's stream content.
//! - [`Target::Html`]: the web console; every piece of text is escaped, raw HTML never passes.
//!
//! This renders *trusted* documents (knowledge answers, command replies). Untrusted text from
//! containers or webhooks must be escaped before it is put into a document.
//!
//! Soft line breaks follow Markdown: they vanish between CJK characters and become a space
//! between Latin words, so a source file's wrapping never breaks a sentence in a bubble.

pub use super::Target;
pub use super::html::escape_html;
use super::html::{html_link, linkify_bare_urls};
use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

mod memo;

/// Renders `md` for `target` in one piece.
pub fn render(md: &str, target: Target) -> String {
    chunks(&parse(md), target).join("\n\n")
}

/// Renders `md` for `target` in parts of at most `budget` bytes each. Parts are cut between
/// blocks where possible; a code block that must be cut is closed and reopened so every part
/// shows code as code; no part ends inside a character. With more than one part each starts
/// with "(i/n) ".
pub fn render_parts(md: &str, target: Target, budget: usize) -> Vec<String> {
    memo::parts(md, target, budget, render_parts_uncached)
}

fn render_parts_uncached(md: &str, target: Target, budget: usize) -> Vec<String> {
    let budget = budget.max(64);
    let blocks = parse(md);
    let whole = chunks(&blocks, target).join("\n\n");
    if whole.len() <= budget {
        return vec![whole];
    }
    // Room for the "(12/34) " label every part gets.
    let room = budget - LABEL_RESERVE;
    let mut pieces: Vec<String> = Vec::new();
    for b in &blocks {
        match b {
            // Lists are cut between items.
            Block::List { start, items } => {
                for (i, item) in items.iter().enumerate() {
                    let one = Block::List {
                        start: start.map(|s| s + i as u64),
                        items: vec![item.clone()],
                    };
                    pieces.extend(fit(render_block(&one, target, 0), &one, target, room));
                }
            }
            _ => pieces.extend(fit(render_block(b, target, 0), b, target, room)),
        }
    }
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut prev_list = false;
    for p in &pieces {
        // Items of one list stay one line apart, other blocks a blank line apart.
        let is_list_item = piece_is_list_item(p, target);
        let sep = if current.is_empty() {
            ""
        } else if is_list_item && prev_list {
            "\n"
        } else {
            "\n\n"
        };
        if !current.is_empty() && current.len() + sep.len() + p.len() > room {
            parts.push(std::mem::take(&mut current));
            current.push_str(p);
        } else {
            current.push_str(sep);
            current.push_str(p);
        }
        prev_list = is_list_item;
    }
    if !current.is_empty() {
        parts.push(current);
    }
    let n = parts.len();
    if n <= 1 {
        return parts;
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| format!("({}/{n}) {p}", i + 1))
        .collect()
}

/// Bytes kept free in every part for its "(i/n) " label.
const LABEL_RESERVE: usize = 10;

fn piece_is_list_item(p: &str, target: Target) -> bool {
    match target {
        Target::Html => p.starts_with("<ul>") || p.starts_with("<ol"),
        Target::Plain | Target::WecomMarkdown => {
            p.starts_with("• ")
                || p.split_once(". ")
                    .is_some_and(|(n, _)| n.parse::<u64>().is_ok())
        }
        Target::MarkdownV2 => {
            p.starts_with("- ")
                || p.split_once(". ")
                    .is_some_and(|(n, _)| n.parse::<u64>().is_ok())
        }
    }
}

/// One rendered block cut to `room` bytes: code blocks between lines (closed and reopened),
/// anything else at line breaks, and a line longer than `room` at a character boundary.
fn fit(rendered: String, block: &Block, target: Target, room: usize) -> Vec<String> {
    if rendered.len() <= room {
        return vec![rendered];
    }
    if let Block::Code { lang, lines } = block {
        // Greedy by each line's rendered cost, so escaping and per-line code spans count.
        let empty = render_code(target, lang, &[]).len();
        let mut out = Vec::new();
        let mut group: Vec<String> = Vec::new();
        let mut used = empty;
        for line in lines {
            for piece in super::split_by_bytes(line, room.saturating_sub(empty + 16).max(16)) {
                let cost =
                    render_code(target, lang, std::slice::from_ref(&piece)).len() - empty + 1;
                if !group.is_empty() && used + cost > room {
                    out.push(render_code(target, lang, &std::mem::take(&mut group)));
                    used = empty;
                }
                used += cost;
                group.push(piece);
            }
        }
        if !group.is_empty() {
            out.push(render_code(target, lang, &group));
        }
        return out;
    }
    super::split_by_bytes(&rendered, room)
}

// ---- the document model -------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Inline {
    Text(String),
    Strong(Vec<Inline>),
    Emph(Vec<Inline>),
    Code(String),
    Link { text: Vec<Inline>, url: String },
    Soft,
    Hard,
}

#[derive(Debug, Clone, PartialEq)]
enum Block {
    Heading(u8, Vec<Inline>),
    Para(Vec<Inline>),
    Code {
        lang: String,
        lines: Vec<String>,
    },
    List {
        start: Option<u64>,
        items: Vec<Vec<Block>>,
    },
    Quote(Vec<Block>),
    Table {
        head: Vec<Vec<Inline>>,
        rows: Vec<Vec<Vec<Inline>>>,
    },
    Rule,
}

fn parse(md: &str) -> Vec<Block> {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events: Vec<Event> = Parser::new_ext(md, opts).collect();
    let mut pos = 0;
    parse_blocks(&events, &mut pos)
}

/// Blocks until the end of the enclosing container (or of the events).
fn parse_blocks(ev: &[Event], pos: &mut usize) -> Vec<Block> {
    let mut out = Vec::new();
    while let Some(e) = ev.get(*pos) {
        *pos += 1;
        match e {
            Event::Start(Tag::Paragraph) => out.push(Block::Para(parse_inlines(ev, pos))),
            Event::Start(Tag::Heading { level, .. }) => out.push(Block::Heading(
                heading_level(*level),
                parse_inlines(ev, pos),
            )),
            Event::Start(Tag::CodeBlock(kind)) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(l) => l.split_whitespace().next().unwrap_or("").into(),
                    CodeBlockKind::Indented => String::new(),
                };
                let mut text = String::new();
                while let Some(e) = ev.get(*pos) {
                    *pos += 1;
                    match e {
                        Event::Text(t) | Event::Html(t) => text.push_str(t),
                        Event::End(TagEnd::CodeBlock) => break,
                        _ => {}
                    }
                }
                let text = text.strip_suffix('\n').unwrap_or(&text);
                out.push(Block::Code {
                    lang,
                    lines: text.split('\n').map(str::to_string).collect(),
                });
            }
            Event::Start(Tag::List(start)) => {
                let mut items = Vec::new();
                while let Some(e) = ev.get(*pos) {
                    *pos += 1;
                    match e {
                        Event::Start(Tag::Item) => items.push(parse_item(ev, pos)),
                        Event::End(TagEnd::List(_)) => break,
                        _ => {}
                    }
                }
                out.push(Block::List {
                    start: *start,
                    items,
                });
            }
            Event::Start(Tag::BlockQuote(_)) => out.push(Block::Quote(parse_blocks(ev, pos))),
            Event::Start(Tag::Table(_)) => out.push(parse_table(ev, pos)),
            Event::Rule => out.push(Block::Rule),
            // Raw HTML is shown as the text it is, never interpreted.
            Event::Html(t) | Event::Text(t) => {
                let t = t.trim_end_matches('\n');
                if !t.is_empty() {
                    out.push(Block::Para(vec![Inline::Text(t.to_string())]));
                }
            }
            Event::End(_) => return out,
            _ => {}
        }
    }
    out
}

/// A list item: tight items hold bare inlines, loose ones paragraphs and nested blocks.
fn parse_item(ev: &[Event], pos: &mut usize) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut inlines = Vec::new();
    while let Some(e) = ev.get(*pos) {
        match e {
            Event::End(TagEnd::Item) => {
                *pos += 1;
                break;
            }
            Event::Start(
                Tag::Paragraph
                | Tag::Heading { .. }
                | Tag::CodeBlock(_)
                | Tag::List(_)
                | Tag::BlockQuote(_)
                | Tag::Table(_),
            )
            | Event::Rule => {
                if !inlines.is_empty() {
                    blocks.push(Block::Para(std::mem::take(&mut inlines)));
                }
                // Parse exactly one block.
                let mut one = parse_one_block(ev, pos);
                blocks.append(&mut one);
            }
            _ => {
                if let Some(i) = inline_event(ev, pos) {
                    inlines.push(i);
                }
            }
        }
    }
    if !inlines.is_empty() {
        blocks.push(Block::Para(inlines));
    }
    blocks
}

fn parse_one_block(ev: &[Event], pos: &mut usize) -> Vec<Block> {
    // Re-use the block parser on a window that ends right after this block.
    let start = *pos;
    let mut depth = 0usize;
    let mut end = start;
    for (i, e) in ev.iter().enumerate().skip(start) {
        match e {
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 {
            end = i + 1;
            break;
        }
    }
    if end <= start {
        end = ev.len();
    }
    let mut inner = 0;
    let blocks = parse_blocks(&ev[start..end], &mut inner);
    *pos = end;
    blocks
}

fn parse_table(ev: &[Event], pos: &mut usize) -> Block {
    let mut head = Vec::new();
    let mut rows: Vec<Vec<Vec<Inline>>> = Vec::new();
    let mut in_head = false;
    while let Some(e) = ev.get(*pos) {
        *pos += 1;
        match e {
            Event::Start(Tag::TableHead) => in_head = true,
            Event::End(TagEnd::TableHead) => in_head = false,
            Event::Start(Tag::TableRow) => rows.push(Vec::new()),
            Event::Start(Tag::TableCell) => {
                let cell = parse_inlines(ev, pos);
                if in_head {
                    head.push(cell);
                } else if let Some(r) = rows.last_mut() {
                    r.push(cell);
                }
            }
            Event::End(TagEnd::Table) => break,
            _ => {}
        }
    }
    Block::Table { head, rows }
}

/// Inlines until the end of the enclosing paragraph, heading, cell or span.
fn parse_inlines(ev: &[Event], pos: &mut usize) -> Vec<Inline> {
    let mut out = Vec::new();
    while let Some(e) = ev.get(*pos) {
        if let Event::End(_) = e {
            *pos += 1;
            return out;
        }
        if let Some(i) = inline_event(ev, pos) {
            out.push(i);
        }
    }
    out
}

/// One inline starting at `pos` (advancing past it).
fn inline_event(ev: &[Event], pos: &mut usize) -> Option<Inline> {
    let e = ev.get(*pos)?;
    *pos += 1;
    Some(match e {
        Event::Text(t) | Event::InlineHtml(t) | Event::Html(t) => Inline::Text(t.to_string()),
        Event::Code(t) => Inline::Code(t.to_string()),
        Event::SoftBreak => Inline::Soft,
        Event::HardBreak => Inline::Hard,
        Event::Start(Tag::Strong) => Inline::Strong(parse_inlines(ev, pos)),
        Event::Start(Tag::Emphasis | Tag::Strikethrough) => Inline::Emph(parse_inlines(ev, pos)),
        Event::Start(Tag::Link { dest_url, .. }) => Inline::Link {
            url: dest_url.to_string(),
            text: parse_inlines(ev, pos),
        },
        Event::Start(Tag::Image { dest_url, .. }) => Inline::Link {
            url: dest_url.to_string(),
            text: parse_inlines(ev, pos),
        },
        Event::Start(_) => Inline::Text(flatten(&parse_inlines(ev, pos))),
        _ => return None,
    })
}

fn heading_level(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// The words of some inlines without any markup (soft breaks resolved).
fn flatten(inl: &[Inline]) -> String {
    let mut s = String::new();
    for i in inl {
        match i {
            Inline::Text(t) | Inline::Code(t) => s.push_str(t),
            Inline::Strong(x) | Inline::Emph(x) => s.push_str(&flatten(x)),
            Inline::Link { text, .. } => s.push_str(&flatten(text)),
            Inline::Soft => s.push(SOFT),
            Inline::Hard => s.push('\n'),
        }
    }
    join_soft_breaks(&s)
}

// ---- soft breaks ----------------------------------------------------------------------

/// Placeholder for a soft break until both neighbours are known.
const SOFT: char = '\u{E000}';

/// CJK ideographs, kana, hangul and full-width punctuation: no space is written between them.
pub(super) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FFF | 0x3000..=0x303F | 0x3040..=0x30FF | 0x3100..=0x31FF
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFFEF | 0x2018..=0x201D | 0x2026)
}

/// Soft breaks become nothing next to CJK text and a space between other words.
fn join_soft_breaks(s: &str) -> String {
    if !s.contains(SOFT) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != SOFT {
            out.push(c);
            continue;
        }
        let prev = out.chars().next_back();
        let next = chars.peek().copied();
        // Nothing between two CJK characters or next to full-width punctuation; a space between
        // Latin words and between a CJK character and a Latin word ("只能用 --entrypoint").
        let both_cjk = prev.is_some_and(is_cjk) && next.is_some_and(is_cjk);
        let punct = prev.is_some_and(is_cjk_punct) || next.is_some_and(is_cjk_punct);
        if prev.is_some() && next.is_some() && !both_cjk && !punct {
            out.push(' ');
        }
    }
    out
}

fn is_cjk_punct(c: char) -> bool {
    matches!(c as u32, 0x3000..=0x303F | 0xFF00..=0xFF0F | 0xFF1A..=0xFF20 | 0xFF3B..=0xFF40
        | 0xFF5B..=0xFF65 | 0x2018..=0x201D | 0x2026)
}

// ---- rendering --------------------------------------------------------------------------

/// Each top-level block rendered on its own (joined with blank lines by the caller).
fn chunks(blocks: &[Block], target: Target) -> Vec<String> {
    blocks
        .iter()
        .map(|b| render_block(b, target, 0))
        .filter(|s| !s.is_empty())
        .collect()
}

fn render_block(b: &Block, target: Target, depth: usize) -> String {
    match b {
        Block::Heading(level, inl) => match target {
            Target::Plain => format!("【{}】", inline_text(inl, target)),
            Target::WecomMarkdown => format!("**{}**", inline_text(inl, Target::Plain)),
            Target::MarkdownV2 => format!(
                "{} {}",
                "#".repeat(usize::from(*level).clamp(1, 6)),
                inline_text(inl, target)
            ),
            Target::Html => {
                // Answers live inside a chat bubble: keep headings small.
                let h = (usize::from(*level) + 2).min(6);
                format!("<h{h}>{}</h{h}>", inline_text(inl, target))
            }
        },
        Block::Para(inl) => match target {
            Target::Html => format!("<p>{}</p>", inline_text(inl, target)),
            _ => inline_text(inl, target),
        },
        Block::Code { lang, lines } => render_code(target, lang, lines),
        Block::List { start, items } => render_list(*start, items, target, depth),
        Block::Quote(inner) => {
            let body = chunks(inner, target).join("\n\n");
            match target {
                Target::Html => format!("<blockquote>{body}</blockquote>"),
                Target::Plain => prefix_lines(&body, "│ "),
                Target::WecomMarkdown | Target::MarkdownV2 => prefix_lines(&body, "> "),
            }
        }
        Block::Table { head, rows } => render_table(head, rows, target),
        Block::Rule => match target {
            Target::Html => "<hr>".into(),
            Target::MarkdownV2 => "---".into(),
            Target::Plain | Target::WecomMarkdown => "————————".into(),
        },
    }
}

fn prefix_lines(body: &str, prefix: &str) -> String {
    body.lines()
        .map(|l| format!("{prefix}{l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The opening and closing line a code block gets in `target` (empty where it has none).
fn code_rules(target: Target, lang: &str, lines: &[String]) -> (String, String) {
    match target {
        Target::Plain => ("┌──────".into(), "└──────".into()),
        Target::MarkdownV2 => {
            let fence =
                "`".repeat(longest_backtick_run(lines.iter().map(String::as_str)).max(2) + 1);
            (format!("{fence}{lang}"), fence)
        }
        Target::WecomMarkdown | Target::Html => (String::new(), String::new()),
    }
}

fn render_code(target: Target, lang: &str, lines: &[String]) -> String {
    match target {
        // Lines stay exactly as written, so they can be copied; rules mark where code starts.
        Target::Plain | Target::MarkdownV2 => {
            let (open, close) = code_rules(target, lang, lines);
            let mut s = open;
            for l in lines {
                s.push('\n');
                s.push_str(l);
            }
            s.push('\n');
            s.push_str(&close);
            s
        }
        // The WeCom subset has inline code only: one code span per line.
        Target::WecomMarkdown => lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| code_span(l))
            .collect::<Vec<_>>()
            .join("\n"),
        Target::Html => {
            let class = if lang.is_empty() {
                String::new()
            } else {
                format!(" class=\"language-{}\"", escape_html(lang))
            };
            format!(
                "<pre><code{class}>{}</code></pre>",
                escape_html(&lines.join("\n"))
            )
        }
    }
}

fn longest_backtick_run<'a>(texts: impl Iterator<Item = &'a str>) -> usize {
    let mut best = 0;
    for t in texts {
        let mut run = 0;
        for c in t.chars() {
            if c == '`' {
                run += 1;
                best = best.max(run);
            } else {
                run = 0;
            }
        }
    }
    best
}

/// Inline code that survives backticks inside it.
fn code_span(t: &str) -> String {
    let n = longest_backtick_run(std::iter::once(t));
    if n == 0 {
        return format!("`{t}`");
    }
    let fence = "`".repeat(n + 1);
    format!("{fence} {t} {fence}")
}

fn render_list(start: Option<u64>, items: &[Vec<Block>], target: Target, depth: usize) -> String {
    if target == Target::Html {
        let mut s = match start {
            Some(1) => "<ol>".to_string(),
            Some(n) => format!("<ol start=\"{n}\">"),
            None => "<ul>".to_string(),
        };
        for item in items {
            s.push_str("<li>");
            for b in item {
                match b {
                    // Tight items: no paragraph around the text.
                    Block::Para(inl) => s.push_str(&inline_text(inl, target)),
                    other => s.push_str(&render_block(other, target, depth + 1)),
                }
            }
            s.push_str("</li>");
        }
        s.push_str(if start.is_some() { "</ol>" } else { "</ul>" });
        return s;
    }
    let indent = "  ".repeat(depth);
    let mut lines = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let marker = match (start, target) {
            (Some(n), _) => format!("{}. ", n + i as u64),
            (None, Target::MarkdownV2) => "- ".to_string(),
            (None, _) => "• ".to_string(),
        };
        let pad = " ".repeat(marker.chars().count());
        for (j, b) in item.iter().enumerate() {
            let body = match b {
                Block::List { start, items } => {
                    lines.push(render_list(*start, items, target, depth + 1));
                    continue;
                }
                other => render_block(other, target, depth + 1),
            };
            for (k, l) in body.lines().enumerate() {
                if j == 0 && k == 0 {
                    lines.push(format!("{indent}{marker}{l}"));
                } else {
                    lines.push(format!("{indent}{pad}{l}"));
                }
            }
        }
    }
    lines.join("\n")
}

fn render_table(head: &[Vec<Inline>], rows: &[Vec<Vec<Inline>>], target: Target) -> String {
    let cell = |c: &Vec<Inline>| inline_text(c, target);
    match target {
        Target::MarkdownV2 => {
            let line = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
            let mut out = vec![line(head.iter().map(cell).collect())];
            out.push(line(head.iter().map(|_| "---".to_string()).collect()));
            for r in rows {
                out.push(line(r.iter().map(cell).collect()));
            }
            out.join("\n")
        }
        Target::Html => {
            let mut s = "<table><thead><tr>".to_string();
            for h in head {
                s.push_str(&format!("<th>{}</th>", cell(h)));
            }
            s.push_str("</tr></thead><tbody>");
            for r in rows {
                s.push_str("<tr>");
                for c in r {
                    s.push_str(&format!("<td>{}</td>", cell(c)));
                }
                s.push_str("</tr>");
            }
            s.push_str("</tbody></table>");
            s
        }
        // Phones have proportional fonts: aligned columns fall apart, "key：value" does not.
        Target::Plain | Target::WecomMarkdown => {
            let names: Vec<String> = head.iter().map(|h| inline_text(h, Target::Plain)).collect();
            rows.iter()
                .map(|r| {
                    let cells: Vec<String> = r.iter().map(cell).collect();
                    match cells.as_slice() {
                        [] => String::new(),
                        [only] => format!("• {only}"),
                        [first, rest @ ..] if names.len() <= 2 => {
                            format!("• {first}：{}", rest.join(" / "))
                        }
                        [first, rest @ ..] => {
                            let pairs: Vec<String> = rest
                                .iter()
                                .enumerate()
                                .map(|(i, v)| match names.get(i + 1) {
                                    Some(n) if !n.is_empty() => format!("{n}：{v}"),
                                    _ => v.clone(),
                                })
                                .collect();
                            format!("• {first} — {}", pairs.join("；"))
                        }
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// Inline content in `target`'s syntax, soft breaks resolved.
fn inline_text(inl: &[Inline], target: Target) -> String {
    let mut s = String::new();
    push_inlines(&mut s, inl, target);
    let joined = join_soft_breaks(&s);
    if target == Target::Html {
        linkify_bare_urls(&joined)
    } else {
        joined
    }
}

/// Inlines between an opening and a closing mark (`**`…`**`, `<em>`…`</em>`, or nothing).
fn push_wrapped(s: &mut String, (open, close): (&str, &str), inl: &[Inline], target: Target) {
    s.push_str(open);
    push_inlines(s, inl, target);
    s.push_str(close);
}

fn push_inlines(s: &mut String, inl: &[Inline], target: Target) {
    for i in inl {
        match i {
            Inline::Text(t) => match target {
                Target::Html => s.push_str(&escape_html(t)),
                _ => s.push_str(t),
            },
            Inline::Soft => s.push(SOFT),
            Inline::Hard => s.push_str(if target == Target::Html { "<br>" } else { "\n" }),
            Inline::Code(t) => match target {
                Target::Plain => s.push_str(t),
                Target::WecomMarkdown | Target::MarkdownV2 => s.push_str(&code_span(t)),
                Target::Html => {
                    s.push_str("<code>");
                    s.push_str(&escape_html(t));
                    s.push_str("</code>");
                }
            },
            Inline::Strong(x) => {
                let marks = match target {
                    Target::Plain => ("", ""),
                    Target::WecomMarkdown | Target::MarkdownV2 => ("**", "**"),
                    Target::Html => ("<strong>", "</strong>"),
                };
                push_wrapped(s, marks, x, target);
            }
            Inline::Emph(x) => {
                // WeCom's markdown subset has no italics.
                let marks = match target {
                    Target::Plain | Target::WecomMarkdown => ("", ""),
                    Target::MarkdownV2 => ("*", "*"),
                    Target::Html => ("<em>", "</em>"),
                };
                push_wrapped(s, marks, x, target);
            }
            Inline::Link { text, url } => {
                let label = flatten(text);
                match target {
                    Target::Plain => {
                        if label.is_empty() || label == *url {
                            s.push_str(url);
                        } else {
                            let colon = if label.chars().any(is_cjk) {
                                "："
                            } else {
                                ": "
                            };
                            s.push_str(&label);
                            s.push_str(colon);
                            s.push_str(url);
                        }
                    }
                    Target::WecomMarkdown | Target::MarkdownV2 => {
                        s.push('[');
                        s.push_str(if label.is_empty() { url } else { &label });
                        s.push_str("](");
                        s.push_str(url);
                        s.push(')');
                    }
                    Target::Html => s.push_str(&html_link(&label, url)),
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
