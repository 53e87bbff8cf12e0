//! Untrusted text (container names, log lines, pod events, Alertmanager labels and
//! annotations, webhook text) escaped for the format a message goes out in, so that it can
//! only ever be shown, never format the message: no `<@…>` mentions, no `[text](url)` links
//! or images, no `<font>` colours, no headings or quotes, no code fence it could close.
//!
//! Characters that would be markup are replaced by their full-width look-alikes (`［`, `］`,
//! `＜`, `＞`, `＃`) or, for backticks, by `ˋ`: WeCom's markdown has no documented escape
//! character, and look-alikes keep the text readable. Terminal colour codes and other control
//! characters are removed in every format.

use super::Format;
use regex::Regex;
use std::sync::LazyLock;

pub use super::Target;

impl From<Format> for Target {
    fn from(f: Format) -> Target {
        match f {
            Format::Text => Target::Plain,
            Format::Markdown => Target::WecomMarkdown,
            Format::MarkdownV2 => Target::MarkdownV2,
        }
    }
}

static ANSI: LazyLock<Regex> = LazyLock::new(|| {
    // CSI sequences (colours, cursor moves), OSC sequences (titles, hyperlinks), and
    // two-character escapes.
    Regex::new(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
        .expect("valid regex")
});
static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([^\]\n]*)\]\(").expect("valid regex"));
static FONT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)<\s*/?\s*font\b[^>]*>").expect("valid regex"));

/// Without terminal escapes and control characters (line breaks and tabs stay; `\r\n`
/// becomes `\n`).
pub fn clean(s: &str) -> String {
    let s = ANSI.replace_all(s, "");
    let s = s.replace("\r\n", "\n");
    s.chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .filter(|c| !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect()
}

/// A value written inside a line of a message in `target`.
pub fn inline(target: Target, s: &str) -> String {
    let s = clean(s);
    match target {
        Target::Html => html(&s),
        Target::Plain => FONT.replace_all(&s, "").replace("<@", "＜@"),
        Target::WecomMarkdown | Target::MarkdownV2 => markdown(&FONT.replace_all(&s, "")),
    }
}

/// A multi-line block (log lines) in `target`: a fenced code block in `markdown_v2` (the
/// fence longer than any backtick run inside; mentions and links defused even there), `<pre>` in HTML, escaped lines in WeCom
/// markdown (which has no code blocks), cleaned lines in plain text.
pub fn block(target: Target, s: &str) -> String {
    match target {
        Target::MarkdownV2 => fence(&defuse(&clean(s))),
        Target::Html => format!("<pre>{}</pre>", html(&clean(s))),
        Target::WecomMarkdown | Target::Plain => inline(target, s),
    }
}

/// Text that keeps its layout but cannot act: mentions and `[text](url)` links are
/// neutralised and colours removed. Used inside code blocks (in case a client renders
/// them) and for command replies on markdown channels, whose text is mostly container
/// output.
pub fn defuse(s: &str) -> String {
    let s = FONT.replace_all(s, "");
    let s = LINK.replace_all(&s, "［$1］(");
    s.replace("<@", "＜@")
}

/// `s` in a fenced code block whose fence is longer than any run of backticks in `s`, so
/// nothing inside can close it.
pub fn fence(s: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let f = "`".repeat((longest + 1).max(3));
    format!("{f}\n{s}\n{f}")
}

/// Everything HTML could read as markup, escaped (one escaper for the whole crate).
pub use super::html::escape_html as html;

/// WeCom markdown (either version): brackets, angle brackets and backticks become
/// look-alikes; a line that would start a heading gets a full-width `＃`.
fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let indent = line.len() - line.trim_start().len();
        out.push_str(&line[..indent]);
        let mut rest = &line[indent..];
        if let Some(r) = rest.strip_prefix('#') {
            out.push('＃');
            rest = r;
        }
        for c in rest.chars() {
            match c {
                '[' => out.push('［'),
                ']' => out.push('］'),
                '<' => out.push('＜'),
                '>' => out.push('＞'),
                '`' => out.push('ˋ'),
                c => out.push(c),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hostile log line of the issue, with a terminal colour code and a second line that
    /// tries a heading and a quote.
    const HOSTILE: &str = "\x1b[31m``` <@all> [点此处理](http://phish.example) <font color=\"warning\">x</font>\x1b[0m\n# 紧急\n> 请立即处理 ![img](http://t.example/p.png)";

    #[test]
    fn golden_markdown() {
        assert_eq!(
            inline(Target::WecomMarkdown, HOSTILE),
            "ˋˋˋ ＜@all＞ ［点此处理］(http://phish.example) x\n＃ 紧急\n＞ 请立即处理 !［img］(http://t.example/p.png)"
        );
        assert_eq!(
            block(Target::WecomMarkdown, HOSTILE),
            inline(Target::WecomMarkdown, HOSTILE)
        );
    }

    #[test]
    fn golden_markdown_v2() {
        assert_eq!(
            inline(Target::MarkdownV2, HOSTILE),
            "ˋˋˋ ＜@all＞ ［点此处理］(http://phish.example) x\n＃ 紧急\n＞ 请立即处理 !［img］(http://t.example/p.png)"
        );
        assert_eq!(
            block(Target::MarkdownV2, HOSTILE),
            "````\n``` ＜@all> ［点此处理］(http://phish.example) x\n# 紧急\n> 请立即处理 !［img］(http://t.example/p.png)\n````"
        );
    }

    #[test]
    fn golden_text() {
        assert_eq!(
            inline(Target::Plain, HOSTILE),
            "``` ＜@all> [点此处理](http://phish.example) x\n# 紧急\n> 请立即处理 ![img](http://t.example/p.png)"
        );
    }

    #[test]
    fn golden_html() {
        assert_eq!(
            inline(Target::Html, "<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(
            block(Target::Html, HOSTILE),
            "<pre>``` &lt;@all&gt; [点此处理](http://phish.example) &lt;font color=&quot;warning&quot;&gt;x&lt;/font&gt;\n# 紧急\n&gt; 请立即处理 ![img](http://t.example/p.png)</pre>"
        );
    }

    #[test]
    fn command_replies_keep_their_layout_but_cannot_act() {
        use crate::i18n::Lang;
        use crate::message::Reply;
        let r = Reply::command(format!("NAME  [--tail N]\n{HOSTILE}"), Lang::Zh);
        assert_eq!(
            r.markdown_text(),
            "NAME  [--tail N]\n``` ＜@all> ［点此处理］(http://phish.example) x\n# 紧急\n> 请立即处理 !［img］(http://t.example/p.png)"
        );
        let a = Reply::answer(
            "**要点** [文档](https://docs.docker.com)",
            Lang::Zh,
            true,
            vec![],
        );
        assert_eq!(a.markdown_text(), a.reply);
    }

    #[test]
    fn fences_outgrow_any_backtick_run_inside() {
        assert_eq!(fence("plain"), "```\nplain\n```");
        assert_eq!(fence("a ``` b"), "````\na ``` b\n````");
        let long = format!("x {} y\n``", "`".repeat(9));
        let f = fence(&long);
        assert!(f.starts_with(&format!("{}\n", "`".repeat(10))), "{f}");
        assert!(f.ends_with(&format!("\n{}", "`".repeat(10))), "{f}");
    }

    #[test]
    fn font_tags_go_whatever_their_spelling() {
        for tag in [
            "<font color=\"info\">",
            "< FONT color=warning >",
            "</font >",
            "<Font>",
        ] {
            let s = inline(Target::WecomMarkdown, &format!("a{tag}b"));
            assert_eq!(s, "ab", "{tag}");
        }
    }

    #[test]
    fn control_characters_and_bidi_overrides_are_removed() {
        assert_eq!(
            clean("ok\x07\x1b]0;title\x07 \u{202e}evil\r\nnext\tx"),
            "ok evil\nnext\tx"
        );
    }

    proptest::proptest! {
        #[test]
        fn no_markup_survives(s in "\\PC{0,200}") {
            for t in [Target::WecomMarkdown, Target::MarkdownV2] {
                let out = inline(t, &s);
                proptest::prop_assert!(!out.contains("<@") && !out.contains("](") && !out.contains('`'));
                proptest::prop_assert!(!out.to_ascii_lowercase().contains("<font"));
            }
            let f = block(Target::MarkdownV2, &s);
            let fence_len = f.find('\n').unwrap_or(0);
            let body = &f[fence_len + 1..f.len() - fence_len - 1];
            proptest::prop_assert!(!body.contains(&"`".repeat(fence_len)));
            let h = inline(Target::Html, &s);
            proptest::prop_assert!(!h.contains('<') && !h.contains('>'));
        }
    }
}
