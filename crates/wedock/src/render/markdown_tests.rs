use super::*;
use crate::i18n::Lang;

const ANSWER: &str = "**简答：** ENTRYPOINT 定义容器“固定要执行的程序”，
CMD 提供“默认命令或默认参数”。`docker run 镜像 xxx`
后面的参数会替换 CMD；ENTRYPOINT 只能用
`--entrypoint` 覆盖。

## 组合示例

```dockerfile
ENTRYPOINT [\"curl\", \"-s\"]
CMD [\"https://example.com\"]
```

- `docker run img` → `curl -s https://example.com`
- exec：`[\"prog\",\"arg\"]`，直接执行，程序是 PID 1，
  能收到 SIGTERM。推荐。

| 退出码 | 含义 |
|---|---|
| 137 | SIGKILL |
| 143 | SIGTERM |

详见 [官方文档](https://docs.docker.com/reference/dockerfile/)

📖 文档：https://docs.docker.com/engine/";

#[test]
fn plain_text_has_no_markdown_left_and_keeps_code_lines() {
    let t = render(ANSWER, Target::Plain);
    for syntax in ["**", "```", "`", "](", "## ", "|---"] {
        assert!(!t.contains(syntax), "{syntax:?} left in:\n{t}");
    }
    assert!(t.contains("\nENTRYPOINT [\"curl\", \"-s\"]\n"), "{t}");
    assert!(t.contains("\nCMD [\"https://example.com\"]\n"), "{t}");
    assert!(t.contains("【组合示例】"), "{t}");
    assert!(
        t.contains("• docker run img → curl -s https://example.com"),
        "{t}"
    );
    assert!(t.contains("• 137：SIGKILL"), "{t}");
    assert!(
        t.contains("详见 官方文档：https://docs.docker.com/reference/dockerfile/"),
        "{t}"
    );
    assert!(
        t.contains("📖 文档：https://docs.docker.com/engine/"),
        "{t}"
    );
}

#[test]
fn soft_breaks_join_cjk_without_space_and_latin_with_one() {
    let t = render(ANSWER, Target::Plain);
    // The source wraps after "程序”，" and after "只能用": neither may break the bubble.
    assert!(
        t.contains("简答： ENTRYPOINT 定义容器“固定要执行的程序”，CMD 提供“默认命令或默认参数”。docker run 镜像 xxx 后面的参数会替换 CMD；ENTRYPOINT 只能用 --entrypoint 覆盖。"),
        "{t}"
    );
    assert!(t.contains("程序是 PID 1，能收到 SIGTERM。推荐。"), "{t}");
    assert_eq!(render("one\ntwo", Target::Plain), "one two");
    assert_eq!(
        render(
            "选更小的基础镜像\n（slim）；用多阶段构建\n只拷运行产物",
            Target::Plain
        ),
        "选更小的基础镜像（slim）；用多阶段构建只拷运行产物"
    );
    // A hard break (two spaces) stays a line break.
    assert_eq!(render("a  \nb", Target::Plain), "a\nb");
}

#[test]
fn wecom_markdown_stays_in_its_subset() {
    let t = render(ANSWER, Target::WecomMarkdown);
    assert!(!t.contains("```"), "no code blocks in the subset:\n{t}");
    assert!(!t.contains("\n- "), "no list syntax in the subset:\n{t}");
    assert!(!t.contains("|---"), "no tables in the subset:\n{t}");
    assert!(t.contains("**简答：**"), "{t}");
    assert!(t.contains("`ENTRYPOINT [\"curl\", \"-s\"]`"), "{t}");
    assert!(
        t.contains("[官方文档](https://docs.docker.com/reference/dockerfile/)"),
        "{t}"
    );
}

#[test]
fn full_markdown_keeps_blocks_and_fences_longer_than_any_backtick_run() {
    let t = render(ANSWER, Target::MarkdownV2);
    assert!(t.contains("```dockerfile\nENTRYPOINT"), "{t}");
    assert!(t.contains("| 137 | SIGKILL |"), "{t}");
    assert!(t.contains("- `docker run img`"), "{t}");
    let tricky = render("```\na ``` b\n```", Target::MarkdownV2);
    assert!(tricky.starts_with("````\na ``` b\n````"), "{tricky}");
    assert_eq!(render("x `a`b` y", Target::MarkdownV2), "x `a`b` y");
    assert_eq!(render("x ``a`b`` y", Target::MarkdownV2), "x `` a`b `` y");
}

#[test]
fn html_is_escaped_and_links_are_safe() {
    let t = render(ANSWER, Target::Html);
    assert!(t.contains("<strong>简答：</strong>"), "{t}");
    assert!(
        t.contains("<pre><code class=\"language-dockerfile\">ENTRYPOINT [&quot;curl&quot;"),
        "{t}"
    );
    assert!(t.contains("<a href=\"https://docs.docker.com/reference/dockerfile/\" rel=\"noopener noreferrer\" target=\"_blank\">官方文档</a>"), "{t}");
    assert!(
        t.contains("文档：<a href=\"https://docs.docker.com/engine/\""),
        "{t}"
    );
    assert!(t.contains("<table><thead><tr><th>退出码</th>"), "{t}");
    let hostile = render(
        "x <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) `<b>`\n\n<div onclick=\"x()\">block</div>",
        Target::Html,
    );
    assert!(!hostile.contains("<script"), "{hostile}");
    assert!(!hostile.contains("<img"), "{hostile}");
    assert!(!hostile.contains("href=\"javascript"), "{hostile}");
    assert!(hostile.contains("&lt;script&gt;"), "{hostile}");
    assert!(hostile.contains("<code>&lt;b&gt;</code>"), "{hostile}");
    assert!(!hostile.contains("<div"), "{hostile}");
    let code = render("run `curl https://a.example/x` now", Target::Html);
    assert_eq!(code, "<p>run <code>curl https://a.example/x</code> now</p>");
    let quoted = render("see https://a.example/x?a=1&b=\"2\"", Target::Html);
    assert!(!quoted.contains("\"2\"\""), "{quoted}");
}

#[test]
fn parts_never_cut_a_code_block_or_a_character_and_are_numbered() {
    let code: Vec<String> = (0..80).map(|i| format!("echo 第{i}行 && true")).collect();
    let md = format!(
        "介绍文字。\n\n```bash\n{}\n```\n\n结尾文字。",
        code.join("\n")
    );
    for target in [
        Target::Plain,
        Target::MarkdownV2,
        Target::WecomMarkdown,
        Target::Html,
    ] {
        let parts = render_parts(&md, target, 600);
        assert!(parts.len() > 2, "{target:?}: {parts:?}");
        let n = parts.len();
        for (i, p) in parts.iter().enumerate() {
            assert!(p.len() <= 600, "{target:?} part {i} is {} bytes", p.len());
            assert!(p.starts_with(&format!("({}/{n}) ", i + 1)), "{p}");
            match target {
                Target::Plain => assert_eq!(p.matches('┌').count(), p.matches('└').count(), "{p}"),
                Target::MarkdownV2 => assert_eq!(p.matches("```").count() % 2, 0, "{p}"),
                Target::Html => assert_eq!(
                    p.matches("<pre>").count(),
                    p.matches("</pre>").count(),
                    "{p}"
                ),
                Target::WecomMarkdown => {}
            }
        }
        let all = parts.join("\n");
        for line in &code {
            let line = match target {
                Target::Html => escape_html(line),
                _ => line.clone(),
            };
            assert!(all.contains(line.as_str()), "{target:?} lost {line}");
        }
    }
    // Short replies are one unnumbered part.
    assert_eq!(
        render_parts("hi", Target::Plain, 600),
        vec!["hi".to_string()]
    );
}

/// Every built-in answer, zh and en, through every renderer: no Markdown syntax in plain text,
/// every code line kept, no sentence broken by the source file's wrapping, and the channel
/// budgets respected when split.
#[test]
fn every_builtin_answer_renders_cleanly_for_every_target() {
    let topics = crate::knowledge::load_builtin().expect("built-in knowledge");
    assert!(topics.len() > 50);
    let mut checked = 0;
    for topic in &topics {
        for lang in [Lang::Zh, Lang::En] {
            let md = crate::knowledge::format_answer(topic, lang);
            let code_lines = code_lines_of(&md);
            let spans = code_spans_of(&md);
            let plain = render(&md, Target::Plain);
            let in_code = code_line_mask(&plain);
            for (i, line) in plain.lines().enumerate() {
                if in_code[i] {
                    continue;
                }
                // What was inside `code spans` is content, not syntax (e.g. the glob `**`).
                let mut line = line.to_string();
                for sp in &spans {
                    line = line.replace(sp.as_str(), "");
                }
                for syntax in ["**", "```", "`", "](", "__"] {
                    assert!(
                        !line.contains(syntax),
                        "{} {lang:?}: {syntax:?} in {line:?}",
                        topic.id
                    );
                }
                assert!(
                    !line.starts_with('#'),
                    "{} {lang:?}: heading {line:?}",
                    topic.id
                );
            }
            // A line that ends on a CJK ideograph followed by one that starts with another is a
            // sentence broken mid-way (paragraph text only; lists and rules start with markers).
            let lines: Vec<&str> = plain.lines().collect();
            for w in 0..lines.len().saturating_sub(1) {
                if in_code[w] || in_code[w + 1] {
                    continue;
                }
                let (a, b) = (lines[w], lines[w + 1]);
                let ends = a
                    .chars()
                    .next_back()
                    .is_some_and(|c| is_cjk(c) && !is_cjk_punct(c));
                let starts = b
                    .chars()
                    .next()
                    .is_some_and(|c| is_cjk(c) && !is_cjk_punct(c));
                assert!(
                    !(ends && starts),
                    "{} {lang:?}: broken sentence {a:?} / {b:?}",
                    topic.id
                );
            }
            for target in Target::ALL {
                let whole = render(&md, target);
                for parts_budget in [2048usize, 600] {
                    let parts = render_parts(&md, target, parts_budget);
                    for p in &parts {
                        assert!(
                            p.len() <= parts_budget,
                            "{} {target:?}: {} bytes",
                            topic.id,
                            p.len()
                        );
                    }
                }
                if target != Target::Html {
                    for l in &code_lines {
                        assert!(
                            whole.contains(l.as_str()),
                            "{} {lang:?} {target:?}: lost code line {l:?}",
                            topic.id
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 100, "{checked}");
}

/// The lines inside fenced code blocks of a Markdown source (non-empty ones).
fn code_lines_of(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in md.lines() {
        if l.trim_start().starts_with("```") {
            inside = !inside;
            continue;
        }
        if inside && !l.trim().is_empty() {
            out.push(l.to_string());
        }
    }
    out
}

/// The contents of single-backtick code spans of a Markdown source.
fn code_spans_of(md: &str) -> Vec<String> {
    let mut out: Vec<String> = md
        .split('`')
        .enumerate()
        .filter(|(i, s)| i % 2 == 1 && !s.is_empty())
        .map(|(_, s)| s.to_string())
        .collect();
    // Longest first, so a span is removed before any span it contains.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// Which lines of a plain rendering lie inside ┌/└ code rules.
fn code_line_mask(plain: &str) -> Vec<bool> {
    let mut inside = false;
    plain
        .lines()
        .map(|l| {
            if l.starts_with('┌') {
                inside = true;
                return true;
            }
            if l.starts_with('└') {
                inside = false;
                return true;
            }
            inside
        })
        .collect()
}

/// Snapshots of a few answers as each app shows them, reviewed like code: a change in the
/// renderer shows up as a diff of these files. `WEDOCK_BLESS=1 cargo test` rewrites them.
#[test]
fn golden_answers_match_their_snapshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/render");
    let bless = std::env::var("WEDOCK_BLESS").is_ok_and(|v| v == "1");
    let topics = crate::knowledge::load_builtin().expect("built-in knowledge");
    let mut mismatches = Vec::new();
    for id in [
        "docker-cmd-vs-entrypoint",
        "k8s-service-types",
        "ts-container-exits-immediately",
    ] {
        let topic = topics.iter().find(|t| t.id == id).expect("topic exists");
        for lang in [Lang::Zh, Lang::En] {
            let md = crate::knowledge::format_answer(topic, lang);
            for (target, ext) in [
                (Target::Plain, "txt"),
                (Target::WecomMarkdown, "wecom.md"),
                (Target::MarkdownV2, "md"),
                (Target::Html, "html"),
            ] {
                let name = format!("{id}.{}.{ext}", lang.code());
                let path = dir.join(&name);
                let got = render(&md, target) + "\n";
                if bless {
                    std::fs::create_dir_all(&dir).expect("golden dir");
                    std::fs::write(&path, &got).expect("write golden");
                    continue;
                }
                match std::fs::read_to_string(&path) {
                    Ok(want) if want == got => {}
                    Ok(_) => mismatches.push(format!("{name} differs")),
                    Err(e) => mismatches.push(format!("{name}: {e}")),
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden files differ (review, then WEDOCK_BLESS=1 to accept): {mismatches:?}"
    );
}
