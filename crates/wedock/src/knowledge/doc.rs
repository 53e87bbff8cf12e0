//! Topic files: YAML front matter (`---`) plus a Markdown body, or plain Markdown titled by
//! its first heading. One file is one language variant of a topic; variants share an `id`.

use crate::i18n::Lang;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One language variant of a topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub lang: Lang,
    pub title: String,
    pub questions: Vec<String>,
    pub tags: Vec<String>,
    pub keypoints: Vec<String>,
    pub body: String,
    pub docs: Option<String>,
}

/// A topic with its Chinese and English variants (at least one is present).
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    pub id: String,
    /// `docker`, `k8s`, `network`, `troubleshooting`, or `runbook` for user files.
    pub category: String,
    pub quiz: bool,
    /// `builtin` or the file path it came from.
    pub origin: String,
    pub zh: Option<Variant>,
    pub en: Option<Variant>,
}

impl Topic {
    /// The variant in `lang`, else the other one.
    pub fn variant(&self, lang: Lang) -> &Variant {
        let (first, second) = match lang {
            Lang::Zh => (&self.zh, &self.en),
            Lang::En => (&self.en, &self.zh),
        };
        // A topic is only built with at least one variant.
        match (first, second) {
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => unreachable!("topic without variants"),
        }
    }

    pub fn variants(&self) -> impl Iterator<Item = &Variant> {
        self.zh.iter().chain(self.en.iter())
    }

    pub fn title(&self, lang: Lang) -> &str {
        &self.variant(lang).title
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    id: String,
    lang: Option<String>,
    title: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    questions: Vec<String>,
    #[serde(default)]
    keypoints: Vec<String>,
    #[serde(default)]
    quiz: Option<bool>,
    #[serde(default)]
    docs: Option<String>,
}

/// A parsed file before variants are merged into topics.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub id: String,
    pub category: Option<String>,
    pub quiz: Option<bool>,
    pub variant: Variant,
}

/// Longest topic file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 256 * 1024;

/// Parses one file. `fallback_id` names files without front matter (e.g. from their path);
/// `path_lang` is the language from a `name.<lang>.md` file name, if any.
pub fn parse_file(
    text: &str,
    fallback_id: &str,
    path_lang: Option<Lang>,
) -> Result<ParsedFile, String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!("file is larger than {MAX_FILE_BYTES} bytes"));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some((yaml, body)) = split_front_matter(text) {
        let fm: FrontMatter =
            serde_yaml_ng::from_str(yaml).map_err(|e| format!("front matter: {e}"))?;
        let id = fm.id.trim().to_string();
        if id.is_empty() || id.len() > 200 {
            return Err("front matter: `id` must be 1–200 characters".to_string());
        }
        let title = fm.title.trim().to_string();
        if title.is_empty() {
            return Err("front matter: `title` must not be empty".to_string());
        }
        let lang = match fm.lang.as_deref() {
            Some(code) => Lang::parse(code)
                .ok_or_else(|| format!("front matter: unknown lang {code:?} (zh or en)"))?,
            None => path_lang.unwrap_or_else(|| Lang::detect(&format!("{title} {body}"))),
        };
        let docs = fm
            .docs
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        if let Some(d) = &docs
            && url::Url::parse(d).is_err()
        {
            return Err(format!("front matter: `docs` is not a URL: {d:?}"));
        }
        return Ok(ParsedFile {
            id,
            category: fm.category.map(|c| c.trim().to_lowercase()),
            quiz: fm.quiz,
            variant: Variant {
                lang,
                title,
                questions: clean_list(fm.questions),
                tags: clean_list(fm.tags),
                keypoints: clean_list(fm.keypoints),
                body: body.trim().to_string(),
                docs,
            },
        });
    }
    // Plain Markdown: titled by its first heading.
    let mut title = None;
    let mut rest = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if title.is_none() && t.starts_with('#') {
            let h = t.trim_start_matches('#').trim();
            if !h.is_empty() {
                title = Some(h.to_string());
                continue;
            }
        }
        rest.push(line);
    }
    let Some(title) = title else {
        return Err("no front matter and no `# heading` to title it".to_string());
    };
    let body = rest.join("\n").trim().to_string();
    let lang = path_lang.unwrap_or_else(|| Lang::detect(&format!("{title} {body}")));
    Ok(ParsedFile {
        id: fallback_id.to_string(),
        category: None,
        quiz: Some(false),
        variant: Variant {
            lang,
            title,
            questions: Vec::new(),
            tags: Vec::new(),
            keypoints: Vec::new(),
            body,
            docs: None,
        },
    })
}

fn clean_list(v: Vec<String>) -> Vec<String> {
    v.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `(yaml, body)` when the text starts with a `---` line and has a closing `---` line.
fn split_front_matter(text: &str) -> Option<(&str, &str)> {
    let first_end = text.find('\n')?;
    if text[..first_end].trim_end() != "---" {
        return None;
    }
    let after = &text[first_end + 1..];
    let mut offset = 0;
    for line in after.split_inclusive('\n') {
        if line.trim_end() == "---" {
            let yaml = &after[..offset];
            let body = &after[offset + line.len()..];
            return Some((yaml, body));
        }
        offset += line.len();
    }
    None
}

/// The language in a `name.<lang>.md` file name.
pub fn lang_from_name(name: &str) -> Option<Lang> {
    let stem = name
        .strip_suffix(".md")
        .or_else(|| name.strip_suffix(".markdown"))?;
    let (_, code) = stem.rsplit_once('.')?;
    match code {
        "zh" => Some(Lang::Zh),
        "en" => Some(Lang::En),
        _ => None,
    }
}

/// Merges parsed files into topics (first file of an id/lang pair wins; later duplicates are
/// reported). `origin` names where they came from.
pub fn merge(
    files: Vec<(String, ParsedFile)>,
    default_category: &str,
) -> (Vec<Topic>, Vec<String>) {
    let mut by_id: BTreeMap<String, Topic> = BTreeMap::new();
    let mut problems = Vec::new();
    for (origin, f) in files {
        let topic = by_id.entry(f.id.clone()).or_insert_with(|| Topic {
            id: f.id.clone(),
            category: f
                .category
                .clone()
                .unwrap_or_else(|| default_category.to_string()),
            quiz: false,
            origin: origin.clone(),
            zh: None,
            en: None,
        });
        if let Some(c) = &f.category {
            topic.category = c.clone();
        }
        topic.quiz |= f.quiz.unwrap_or(default_category != "runbook");
        let slot = match f.variant.lang {
            Lang::Zh => &mut topic.zh,
            Lang::En => &mut topic.en,
        };
        if slot.is_some() {
            problems.push(format!(
                "{origin}: duplicate {} variant of topic {:?}; skipped",
                f.variant.lang.code(),
                f.id
            ));
            continue;
        }
        *slot = Some(f.variant);
    }
    (by_id.into_values().collect(), problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_parsed() {
        let f = parse_file(
            "---\nid: a\nlang: en\ntitle: T\ntags: [x, y]\nquestions:\n  - q1\ndocs: https://e.com/\n---\n**Short answer:** b\n",
            "fallback",
            None,
        )
        .unwrap();
        assert_eq!(f.id, "a");
        assert_eq!(f.variant.lang, Lang::En);
        assert_eq!(f.variant.tags, vec!["x", "y"]);
        assert_eq!(f.variant.questions, vec!["q1"]);
        assert_eq!(f.variant.body, "**Short answer:** b");
        assert_eq!(f.variant.docs.as_deref(), Some("https://e.com/"));
    }

    #[test]
    fn plain_markdown_is_titled_by_its_first_heading() {
        let f = parse_file(
            "intro\n\n## 重启 nginx\n\n先看日志。\n",
            "runbook:nginx",
            None,
        )
        .unwrap();
        assert_eq!(f.id, "runbook:nginx");
        assert_eq!(f.variant.title, "重启 nginx");
        assert_eq!(f.variant.lang, Lang::Zh);
        assert!(f.variant.body.contains("先看日志"));
    }

    #[test]
    fn bad_files_are_rejected_with_a_reason() {
        let e = parse_file("---\nid: [\n---\nx", "f", None).unwrap_err();
        assert!(e.starts_with("front matter"), "{e}");
        let e = parse_file("---\nid: a\ntitle: t\nbogus: 1\n---\nx", "f", None).unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        let e = parse_file("just text", "f", None).unwrap_err();
        assert!(e.contains("heading"), "{e}");
        let e = parse_file("---\nid: a\ntitle: t\nlang: fr\n---\nx", "f", None).unwrap_err();
        assert!(e.contains("lang"), "{e}");
    }

    #[test]
    fn file_name_language() {
        assert_eq!(lang_from_name("a.zh.md"), Some(Lang::Zh));
        assert_eq!(lang_from_name("a.en.md"), Some(Lang::En));
        assert_eq!(lang_from_name("a.md"), None);
    }
}
