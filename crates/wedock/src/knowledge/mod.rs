//! Answers to questions in plain words: the built-in Docker / Kubernetes base compiled into
//! the binary plus the team's own runbooks (`[knowledge] dirs`), searched together; the
//! failure signatures that answer a pasted error first; quiz grading; the optional LLM.
//! Uses only config, store, i18n, render and message; `pipeline/answer.rs` puts it together
//! for a message that is not a command.

pub mod doc;
pub mod index;
pub mod llm;
pub mod paste;
pub mod pattern;
pub mod quiz;
pub mod say;
pub mod signatures;
pub mod text;

use crate::config::KnowledgeConfig;
use crate::i18n::{Lang, Text};
use crate::message::{Reply, Source};
use doc::{Topic, lang_from_name, merge, parse_file};
pub use index::{Corpus, Hit};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

mod builtin {
    include!(concat!(env!("OUT_DIR"), "/knowledge_files.rs"));
}

/// Most files read from the user directories (a runaway directory must not eat the host).
const MAX_USER_FILES: usize = 50_000;

pub struct Knowledge {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: KnowledgeConfig,
    /// Whether the built-in topics are part of the index. A reload parses them again from
    /// the binary rather than keeping a parsed copy beside the index's own for the process's
    /// life (half a megabyte that only a reload of the user directories would read).
    builtin: bool,
    /// `None` until the first load finishes.
    corpus: RwLock<Option<Arc<Corpus>>>,
    /// The first load, running on its own thread so start-up does not wait for it; the first
    /// caller that needs the index joins it (and holds the lock meanwhile, so others wait).
    pending: Mutex<Option<std::thread::JoinHandle<anyhow::Result<Corpus>>>>,
    /// Files skipped on the last (re)load, with the reason.
    problems: Mutex<Vec<String>>,
    fingerprint: Mutex<Vec<(PathBuf, Option<SystemTime>, u64)>>,
}

impl Knowledge {
    /// Starts loading: the built-in base and the user directories are parsed and indexed on a
    /// background thread, so the server can bind and open its store meanwhile; the first
    /// search waits for it. User files that cannot be read are skipped with a logged reason; a
    /// broken built-in file is a build bug (the test suite loads the base) and leaves the base
    /// empty with an error logged and counted.
    pub fn load(cfg: &KnowledgeConfig) -> anyhow::Result<Knowledge> {
        let inner = Arc::new(Inner {
            cfg: cfg.clone(),
            builtin: cfg.builtin,
            corpus: RwLock::new(None),
            pending: Mutex::new(None),
            problems: Mutex::new(Vec::new()),
            fingerprint: Mutex::new(Vec::new()),
        });
        let worker = inner.clone();
        let handle = std::thread::Builder::new()
            .name("wedock-kb-load".to_string())
            .spawn(move || worker.first_load())?;
        if let Ok(mut p) = inner.pending.lock() {
            *p = Some(handle);
        }
        if !cfg.dirs.is_empty() && cfg.reload_secs > 0 {
            spawn_watcher(Arc::downgrade(&inner), Duration::from_secs(cfg.reload_secs));
        }
        Ok(Knowledge { inner })
    }

    /// A knowledge base over exactly these topics (benchmarks, tests).
    pub fn from_topics(cfg: &KnowledgeConfig, topics: Vec<Topic>) -> anyhow::Result<Knowledge> {
        let corpus = Corpus::build(topics)?;
        Ok(Knowledge {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                builtin: false,
                corpus: RwLock::new(Some(Arc::new(corpus))),
                pending: Mutex::new(None),
                problems: Mutex::new(Vec::new()),
                fingerprint: Mutex::new(Vec::new()),
            }),
        })
    }

    /// Number of topics loaded, for the start-up log.
    pub fn topic_count(&self) -> usize {
        self.corpus().len()
    }

    /// The current index (swapped atomically on reload); waits for the first load.
    pub fn corpus(&self) -> Arc<Corpus> {
        self.inner.corpus()
    }

    pub fn min_confidence(&self) -> f32 {
        self.inner.cfg.min_confidence
    }

    /// Files skipped on the last load, with reasons.
    pub fn problems(&self) -> Vec<String> {
        self.inner.corpus();
        self.inner
            .problems
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        self.corpus().search(query, limit)
    }

    /// What answers a message: a failure signature when the text holds one of the
    /// catalogue's error strings (its topic then leads the hits, fully confident), and the
    /// ranked search results.
    pub fn lookup(
        &self,
        query: &str,
        limit: usize,
    ) -> (Option<signatures::Match<'static>>, Vec<Hit>) {
        let sig = signatures::catalog().match_text(query);
        let mut hits = self.search(query, limit);
        if let Some(m) = &sig
            && let Some(topic) = self.topic(&m.signature.topic)
        {
            hits.retain(|h| h.topic.id != topic.id);
            let score = hits.first().map(|h| h.score).unwrap_or(1.0);
            hits.insert(
                0,
                Hit {
                    topic,
                    score,
                    confidence: 1.0,
                },
            );
            hits.truncate(limit.max(1));
        }
        (sig, hits)
    }

    pub fn topic(&self, id: &str) -> Option<Arc<Topic>> {
        self.corpus().topics.iter().find(|t| t.id == id).cloned()
    }

    /// Re-reads the user directories when a file was added, changed or removed. Returns
    /// whether the index was rebuilt.
    pub fn reload_if_changed(&self) -> bool {
        reload(&self.inner)
    }

    /// The plain knowledge answer (no LLM): greeting, answer or "don't know" with suggestions.
    pub fn answer(&self, text: &str, lang: Lang) -> Reply {
        if is_greeting(text) {
            return Reply::answer(Text::Greeting.get(lang), lang, true, Vec::new());
        }
        let (sig, hits) = self.lookup(text, 3);
        match &sig {
            Some(m) => self.signature_reply(m, &hits, lang),
            None => self.reply_for(&hits, lang),
        }
    }

    /// The answer to a pasted error: the signature first, then the topic behind it.
    pub fn signature_reply(&self, m: &signatures::Match<'_>, hits: &[Hit], lang: Lang) -> Reply {
        metrics::counter!("wedock_knowledge_answers_total", "matched" => "signature").increment(1);
        let topic = hits.first().filter(|h| h.topic.id == m.signature.topic);
        let text = paste::answer(m, topic.map(|h| h.topic.as_ref()), lang);
        let sources = topic.map(|h| vec![source(h, lang)]).unwrap_or_default();
        Reply::answer(text, lang, true, sources).markdown()
    }

    /// The reply for search hits: the best topic when confident enough, else suggestions.
    pub fn reply_for(&self, hits: &[Hit], lang: Lang) -> Reply {
        let min = self.inner.cfg.min_confidence;
        match hits.first() {
            Some(best) if best.confidence >= min => {
                metrics::counter!("wedock_knowledge_answers_total", "matched" => "true")
                    .increment(1);
                let text = format_answer(&best.topic, lang);
                Reply::answer(text, lang, true, vec![source(best, lang)]).markdown()
            }
            _ => {
                metrics::counter!("wedock_knowledge_answers_total", "matched" => "false")
                    .increment(1);
                let close: Vec<&Hit> = hits
                    .iter()
                    .filter(|h| h.confidence >= min / 3.0)
                    .take(3)
                    .collect();
                let mut text = Text::DontKnow.get(lang).to_string();
                if close.is_empty() {
                    text.push('\n');
                    text.push_str(t!(lang, "knowledge.what_i_know"));
                } else {
                    text.push('\n');
                    text.push_str(Text::ClosestTopics.get(lang));
                    for h in &close {
                        text.push_str(&format!("\n• {}", h.topic.title(lang)));
                    }
                }
                Reply::answer(
                    text,
                    lang,
                    false,
                    close.iter().map(|h| source(h, lang)).collect(),
                )
            }
        }
    }
}

fn source(h: &Hit, lang: Lang) -> Source {
    Source {
        id: h.topic.id.clone(),
        title: h.topic.title(lang).to_string(),
        score: (h.confidence * 1000.0).round() / 1000.0,
    }
}

/// The answer text: the body (short answer first), then the documentation link.
pub fn format_answer(topic: &Topic, lang: Lang) -> String {
    let v = topic.variant(lang);
    let mut out = String::new();
    // A runbook without front matter has only a heading: show it so the body has context.
    if v.questions.is_empty() && topic.category == "runbook" {
        out.push_str(&format!("**{}**\n\n", v.title));
    }
    out.push_str(&v.body);
    let docs = v
        .docs
        .as_ref()
        .or_else(|| topic.variants().find_map(|o| o.docs.as_ref()));
    if let Some(url) = docs {
        out.push_str(t!(lang, "knowledge.docs_head"));
        out.push_str(url);
    }
    out
}

impl Inner {
    fn current(&self) -> Option<Arc<Corpus>> {
        match self.corpus.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set(&self, corpus: Corpus) {
        match self.corpus.write() {
            Ok(mut slot) => *slot = Some(Arc::new(corpus)),
            Err(p) => *p.into_inner() = Some(Arc::new(corpus)),
        }
    }

    fn corpus(&self) -> Arc<Corpus> {
        if let Some(c) = self.current() {
            return c;
        }
        {
            let mut pending = match self.pending.lock() {
                Ok(p) => p,
                Err(p) => p.into_inner(),
            };
            if let Some(handle) = pending.take() {
                let built = match handle.join() {
                    Ok(Ok(c)) => Some(c),
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "knowledge base failed to load");
                        None
                    }
                    Err(_) => {
                        tracing::error!("knowledge loader thread panicked");
                        None
                    }
                };
                match built {
                    Some(c) => self.set(c),
                    None => {
                        metrics::counter!("wedock_errors_total", "reason" => "knowledge_load")
                            .increment(1);
                        self.set(Corpus::empty());
                    }
                }
            }
        }
        self.current().unwrap_or_else(|| Arc::new(Corpus::empty()))
    }

    /// The first load, on the loader thread.
    fn first_load(&self) -> anyhow::Result<Corpus> {
        let started = std::time::Instant::now();
        let builtin = if self.builtin {
            load_builtin()?
        } else {
            Vec::new()
        };
        let (user, problems, fp) = load_user(&self.cfg.dirs);
        let corpus = build_corpus(builtin, user, problems.clone())?;
        if let Ok(mut p) = self.problems.lock() {
            *p = problems;
        }
        if let Ok(mut f) = self.fingerprint.lock() {
            *f = fp;
        }
        tracing::info!(
            topics = corpus.len(),
            ms = started.elapsed().as_millis() as u64,
            "knowledge loaded"
        );
        // The parse and the index build left megabytes freed on this thread.
        crate::memory::release_freed();
        Ok(corpus)
    }
}

/// The failure-signature files compiled in (`knowledge/signatures/*.toml`), by path.
pub fn builtin_signature_files() -> &'static [(&'static str, &'static str)] {
    builtin::SIGNATURE_FILES
}

/// The ids of the built-in topics, read from the front matter without building the index
/// (the signature catalogue checks its topic links against these).
pub fn builtin_topic_ids() -> std::collections::HashSet<String> {
    builtin::BUILTIN_FILES
        .iter()
        .filter_map(|(_, text)| {
            let yaml = text.strip_prefix("---")?.split("\n---").next()?;
            yaml.lines()
                .find_map(|l| l.strip_prefix("id:"))
                .map(|id| id.trim().trim_matches('"').to_string())
        })
        .collect()
}

/// The built-in topics, parsed from the files compiled into the binary.
pub fn load_builtin() -> anyhow::Result<Vec<Topic>> {
    let mut files = Vec::new();
    for (rel, text) in builtin::BUILTIN_FILES {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let area = rel.split('/').next().unwrap_or("docker");
        let f = parse_file(text, rel, lang_from_name(name))
            .map_err(|e| anyhow::anyhow!("built-in knowledge file {rel}: {e}"))?;
        let mut f = f;
        if f.category.is_none() {
            f.category = Some(if area == "kubernetes" { "k8s" } else { area }.to_string());
        }
        files.push(("builtin".to_string(), f));
    }
    let (topics, problems) = merge(files, "docker");
    if let Some(p) = problems.first() {
        anyhow::bail!("built-in knowledge: {p}");
    }
    Ok(topics)
}

type Fingerprint = Vec<(PathBuf, Option<SystemTime>, u64)>;

/// Markdown files under the user directories, with their mtime and size.
fn scan(dirs: &[PathBuf], problems: &mut Vec<String>) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            problems.push(format!("{}: not a directory (skipped)", dir.display()));
            continue;
        }
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            let entries = match std::fs::read_dir(&d) {
                Ok(e) => e,
                Err(e) => {
                    problems.push(format!("{}: {e}", d.display()));
                    continue;
                }
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with('.') {
                    continue;
                }
                // Symlinked directories are not followed (no loops); symlinked files are.
                let Ok(ft) = entry.file_type() else { continue };
                if ft.is_dir() {
                    stack.push(path);
                } else if name.ends_with(".md") || name.ends_with(".markdown") {
                    if out.len() >= MAX_USER_FILES {
                        problems.push(format!(
                            "{}: more than {MAX_USER_FILES} files; the rest are skipped",
                            dir.display()
                        ));
                        return out;
                    }
                    out.push((dir.clone(), path));
                }
            }
        }
    }
    out.sort();
    out
}

fn fingerprint(files: &[(PathBuf, PathBuf)]) -> Fingerprint {
    files
        .iter()
        .map(|(_, p)| {
            let meta = std::fs::metadata(p).ok();
            (
                p.clone(),
                meta.as_ref().and_then(|m| m.modified().ok()),
                meta.map(|m| m.len()).unwrap_or(0),
            )
        })
        .collect()
}

fn user_id(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut s = rel.to_string_lossy().replace('\\', "/");
    for suffix in [".markdown", ".md"] {
        if let Some(x) = s.strip_suffix(suffix) {
            s = x.to_string();
        }
    }
    for suffix in [".zh", ".en"] {
        if let Some(x) = s.strip_suffix(suffix) {
            s = x.to_string();
        }
    }
    format!("runbook:{s}")
}

fn load_user(dirs: &[PathBuf]) -> (Vec<Topic>, Vec<String>, Fingerprint) {
    let mut problems = Vec::new();
    let files = scan(dirs, &mut problems);
    let fp = fingerprint(&files);
    let mut parsed = Vec::new();
    for (root, path) in &files {
        let shown = path.display().to_string();
        let bytes = match std::fs::metadata(path) {
            Ok(m) if m.len() as usize > doc::MAX_FILE_BYTES => {
                problems.push(format!(
                    "{shown}: larger than {} bytes",
                    doc::MAX_FILE_BYTES
                ));
                continue;
            }
            Ok(_) => std::fs::read(path),
            Err(e) => Err(e),
        };
        let text = match bytes.map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                problems.push(format!("{shown}: not UTF-8 text"));
                continue;
            }
            Err(e) => {
                problems.push(format!("{shown}: {e}"));
                continue;
            }
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        match parse_file(&text, &user_id(root, path), lang_from_name(&name)) {
            Ok(f) => parsed.push((shown, f)),
            Err(e) => problems.push(format!("{shown}: {e}")),
        }
    }
    let (topics, merge_problems) = merge(parsed, "runbook");
    problems.extend(merge_problems);
    for p in &problems {
        tracing::warn!(problem = %p, "knowledge file skipped");
        metrics::counter!("wedock_knowledge_skipped_total").increment(1);
    }
    (topics, problems, fp)
}

fn build_corpus(
    builtin: Vec<Topic>,
    user: Vec<Topic>,
    mut problems: Vec<String>,
) -> anyhow::Result<Corpus> {
    let mut all = builtin;
    let known: std::collections::HashSet<String> = all.iter().map(|t| t.id.clone()).collect();
    for t in user {
        if known.contains(&t.id) {
            let p = format!(
                "{}: id {:?} is already a built-in topic; skipped",
                t.origin, t.id
            );
            tracing::warn!(problem = %p, "knowledge file skipped");
            problems.push(p);
            continue;
        }
        all.push(t);
    }
    Corpus::build(all)
}

fn reload(inner: &Inner) -> bool {
    // The fingerprint to compare with is set by the first load.
    inner.corpus();
    let mut probe = Vec::new();
    let files = scan(&inner.cfg.dirs, &mut probe);
    let fp = fingerprint(&files);
    {
        let Ok(old) = inner.fingerprint.lock() else {
            return false;
        };
        if *old == fp {
            return false;
        }
    }
    let (user, problems, fp) = load_user(&inner.cfg.dirs);
    let builtin = if inner.builtin {
        // The first load parsed these already, so this cannot fail short of a broken build;
        // the error is reported as a failed reload all the same.
        load_builtin()
    } else {
        Ok(Vec::new())
    };
    match builtin.and_then(|b| build_corpus(b, user, problems.clone())) {
        Ok(c) => {
            let n = c.len();
            inner.set(c);
            if let Ok(mut f) = inner.fingerprint.lock() {
                *f = fp;
            }
            if let Ok(mut p) = inner.problems.lock() {
                *p = problems;
            }
            tracing::info!(topics = n, "knowledge reloaded");
            crate::memory::release_freed();
            metrics::counter!("wedock_knowledge_reloads_total").increment(1);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "knowledge reload failed; keeping the previous index");
            metrics::counter!("wedock_errors_total", "reason" => "knowledge_reload").increment(1);
            false
        }
    }
}

/// Polls the user directories' mtimes; ends when the knowledge base is dropped.
fn spawn_watcher(weak: Weak<Inner>, every: Duration) {
    let spawned = std::thread::Builder::new()
        .name("wedock-kb-watch".to_string())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                let Some(inner) = weak.upgrade() else { return };
                reload(&inner);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the knowledge reload thread");
    }
}

/// "你好", "hi", "help", "帮助", "在吗" and the like.
pub fn is_greeting(text: &str) -> bool {
    let t = text
        .trim()
        .trim_end_matches(['!', '！', '?', '？', '.', '。', '~', ' ', ','])
        .to_lowercase();
    const WORDS: &[&str] = &[
        "hi",
        "hello",
        "hey",
        "help",
        "你好",
        "您好",
        "嗨",
        "哈喽",
        "在吗",
        "在么",
        "在不在",
        "帮助",
        "菜单",
        "你能做什么",
        "你会什么",
        "你会干什么",
        "你能干啥",
        "what can you do",
        "who are you",
        "你是谁",
        "hello wedock",
        "hi wedock",
        "你好 wedock",
        "早",
        "早上好",
        "good morning",
    ];
    WORDS.contains(&t.as_str())
}
