//! Interview practice: the pending question per (user, chat) in the store's kv, grading an
//! answer by key-point coverage (language-aware, normalised), and progress statistics.

use super::doc::Topic;
use super::text;
use crate::i18n::Lang;
use crate::message::{Incoming, Reply, Source};
use crate::store::Store;
use crate::store::{QuizRecord, now_ms};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// How long a question waits for its answer: long enough to think, short enough that a
/// forgotten quiz does not grade tomorrow's real question.
pub const PENDING_TTL: Duration = Duration::from_secs(600);

/// The areas `/quiz AREA` accepts, as topic categories.
pub const AREAS: &[&str] = &["docker", "k8s", "network", "troubleshooting"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub topic: String,
    pub area: String,
}

/// The kv key of the question waiting for `identity` (`channel:user`) in `chat`.
pub fn pending_key(identity: &str, chat: Option<&str>) -> String {
    format!("quiz:{identity}:{}", chat.unwrap_or("-"))
}

/// `docker`, `k8s`/`kubernetes`, `network`, `troubleshooting`/`ts` → the category name.
pub fn parse_area(s: &str) -> Option<&'static str> {
    match s.to_lowercase().as_str() {
        "docker" => Some("docker"),
        "k8s" | "kubernetes" | "kube" => Some("k8s"),
        "network" | "net" | "networking" | "网络" => Some("network"),
        "troubleshooting" | "ts" | "排障" | "故障" => Some("troubleshooting"),
        _ => None,
    }
}

pub fn area_name(area: &str, lang: Lang) -> &str {
    match (area, lang) {
        ("docker", _) => "Docker",
        ("k8s", _) => "Kubernetes",
        ("network", Lang::Zh) => "网络",
        ("network", Lang::En) => "networking",
        ("troubleshooting", Lang::Zh) => "排障",
        ("troubleshooting", Lang::En) => "troubleshooting",
        (other, _) => other,
    }
}

/// Which key points an answer covers, in the order of the topic's key points (in `lang`).
pub fn grade(topic: &Topic, answer: &str, lang: Lang) -> Vec<(String, bool)> {
    let v = topic.variant(lang);
    let other = topic.variants().find(|o| o.lang != v.lang);
    let answer_norm = squash(answer);
    let answer_terms: HashSet<String> = key_terms(answer).into_iter().collect();
    v.keypoints
        .iter()
        .enumerate()
        .map(|(i, kp)| {
            // The other language's key point at the same position is the same idea.
            let parallel = other
                .filter(|o| o.keypoints.len() == v.keypoints.len())
                .and_then(|o| o.keypoints.get(i));
            let covered = std::iter::once(kp)
                .chain(parallel)
                .any(|k| covers(&answer_norm, &answer_terms, k));
            (kp.clone(), covered)
        })
        .collect()
}

fn covers(answer_norm: &str, answer_terms: &HashSet<String>, keypoint: &str) -> bool {
    let k = squash(keypoint);
    if !k.is_empty() && answer_norm.contains(&k) {
        return true;
    }
    let terms = key_terms(keypoint);
    if terms.is_empty() {
        return false;
    }
    let hit = terms.iter().filter(|t| answer_terms.contains(*t)).count();
    hit as f32 / terms.len() as f32 >= 0.6
}

/// Normalised text without spaces and punctuation, for substring matching.
fn squash(s: &str) -> String {
    text::normalize(s)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Words and Han bigrams (unigrams only when a key point is a single character).
fn key_terms(s: &str) -> Vec<String> {
    let toks = text::tokenize(s);
    let has_multi = toks.iter().any(|t| t.kind != text::Kind::HanUni);
    toks.into_iter()
        .filter(|t| !t.text.starts_with('~'))
        .filter(|t| !has_multi || t.kind != text::Kind::HanUni)
        .map(|t| t.text)
        .collect()
}

/// The first paragraph of a body, the short answer, as plain text: quiz replies mix it with
/// fixed lines (✅/❌ per key point) and go to every channel as they are, so no Markdown
/// syntax may remain in it.
pub fn short_answer(body: &str) -> String {
    let first = body.split("\n\n").next().unwrap_or(body).trim();
    crate::render::markdown::render(first, crate::render::Target::Plain)
}

/// What a plain message means to this user's pending question in this chat.
pub enum Turn {
    /// The message answered the question: here is its grade.
    Graded(Reply),
    /// The message is a question of its own: answer it normally, the quiz keeps waiting.
    StillPending,
    /// No question is waiting.
    NoQuiz,
}

/// Words a question starts with (checked on the lowercased, trimmed text).
const QUESTION_STARTS: &[&str] = &[
    "什么",
    "怎么",
    "怎样",
    "为什么",
    "为啥",
    "如何",
    "咋",
    "请问",
    "哪些",
    "哪个",
    "哪里",
    "是否",
    "能不能",
    "可不可以",
    "有没有",
    "how ",
    "what",
    "why ",
    "when ",
    "where ",
    "which ",
    "who ",
    "can ",
    "could ",
    "does ",
    "do ",
    "is ",
    "are ",
    "should ",
    "explain ",
];

/// Question words anywhere in a message (with a strong match on another topic).
const QUESTION_WORDS_ZH: &[&str] = &[
    "什么",
    "怎么",
    "为什么",
    "如何",
    "哪",
    "区别",
    "多少",
    "几种",
    "是不是",
    "能否",
    "怎样",
];
const QUESTION_WORDS_EN: &[&str] = &["how", "what", "why", "which", "difference", "vs", "versus"];

/// Whether a message reads as a question rather than an answer to the pending `topic`: it
/// ends with a question mark or particle, starts with a question word, or strongly matches a
/// different topic while covering none of this one's key points.
pub fn reads_as_question(kb: &super::Knowledge, topic: &Topic, text: &str, lang: Lang) -> bool {
    let t = text.trim();
    let lower = t.to_lowercase();
    if t.ends_with('?') || t.ends_with('？') || t.ends_with('吗') || t.ends_with('呢') {
        return true;
    }
    if QUESTION_STARTS.iter().any(|w| lower.starts_with(w)) {
        return true;
    }
    // A strong match on another topic alone is not enough: "network namespace veth bridge"
    // is a (poor) answer, "liveness 和 readiness 探针的区别" a question. It also needs a
    // question word somewhere in it.
    let asks = QUESTION_WORDS_ZH.iter().any(|w| t.contains(w))
        || lower
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| QUESTION_WORDS_EN.contains(&w));
    if !asks {
        return false;
    }
    let strong = (kb.min_confidence() * 2.0).max(0.6);
    let other_topic = kb
        .search(t, 1)
        .first()
        .is_some_and(|h| h.topic.id != topic.id && h.confidence >= strong);
    other_topic && grade(topic, t, lang).iter().all(|(_, covered)| !covered)
}

/// Takes a message as the answer to a pending question of this user in this chat, unless it
/// reads as a question of its own.
pub async fn take_answer(
    kb: &super::Knowledge,
    store: &dyn Store,
    msg: &Incoming,
    lang: Lang,
) -> Turn {
    let identity = msg.identity();
    let key = pending_key(&identity, msg.chat.as_deref());
    let Some(stored) = store.kv_get(&key).await.ok().flatten() else {
        return Turn::NoQuiz;
    };
    let Some(pending) = serde_json::from_str::<Pending>(&stored).ok() else {
        let _ = store.kv_delete(&key).await;
        return Turn::NoQuiz;
    };
    let Some(topic) = kb.topic(&pending.topic) else {
        let _ = store.kv_delete(&key).await;
        return Turn::NoQuiz;
    };
    if reads_as_question(kb, &topic, &msg.text, lang) {
        metrics::counter!("wedock_quiz_deferred_total").increment(1);
        return Turn::StillPending;
    }
    let _ = store.kv_delete(&key).await;
    let graded = grade(&topic, &msg.text, lang);
    let covered = graded.iter().filter(|(_, c)| *c).count();
    let coverage = if graded.is_empty() {
        0.0
    } else {
        covered as f64 / graded.len() as f64
    };
    if let Err(e) = store
        .quiz_record(QuizRecord {
            user: identity,
            topic: topic.id.clone(),
            area: pending.area.clone(),
            coverage,
            at: now_ms(),
        })
        .await
    {
        tracing::warn!(error = %e, "quiz progress not saved");
    }
    metrics::counter!("wedock_quiz_answers_total").increment(1);
    let pct = (coverage * 100.0).round();
    let mut out = t!(
        lang,
        "quiz.graded",
        covered = covered,
        total = graded.len(),
        percent = pct
    );
    for (kp, ok) in &graded {
        out.push_str(&format!("\n{} {kp}", if *ok { "✅" } else { "❌" }));
    }
    let v = topic.variant(lang);
    out.push_str(t!(lang, "quiz.reference_answer_head"));
    out.push_str(&short_answer(&v.body));
    if let Some(d) = &v.docs {
        out.push_str(t!(lang, "knowledge.docs_head"));
        out.push_str(d);
    }
    out.push_str(t!(lang, "quiz.graded_next"));
    Turn::Graded(Reply::answer(
        out,
        lang,
        true,
        vec![Source {
            id: topic.id.clone(),
            title: v.title.clone(),
            score: coverage as f32,
        }],
    ))
}

/// Answered count, average coverage and per-area averages of a history.
pub struct Stats {
    pub answered: usize,
    pub average: f64,
    pub by_area: BTreeMap<String, (usize, f64)>,
}

pub fn stats(history: &[QuizRecord]) -> Stats {
    let mut by_area: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for r in history {
        let e = by_area.entry(r.area.clone()).or_default();
        e.0 += 1;
        e.1 += r.coverage;
    }
    for (n, sum) in by_area.values_mut() {
        *sum /= *n as f64;
    }
    let answered = history.len();
    let average = if answered == 0 {
        0.0
    } else {
        history.iter().map(|r| r.coverage).sum::<f64>() / answered as f64
    };
    Stats {
        answered,
        average,
        by_area,
    }
}

impl Stats {
    /// The area with the lowest average coverage.
    pub fn weakest(&self) -> Option<(&str, f64)> {
        self.by_area
            .iter()
            .min_by(|a, b| a.1.1.total_cmp(&b.1.1))
            .map(|(k, v)| (k.as_str(), v.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::doc::Variant;

    fn topic() -> Topic {
        let v = |lang, kps: &[&str]| Variant {
            lang,
            title: "t".into(),
            questions: vec![],
            tags: vec![],
            keypoints: kps.iter().map(|s| s.to_string()).collect(),
            body: "short\n\nlong".into(),
            docs: None,
        };
        Topic {
            id: "x".into(),
            category: "docker".into(),
            quiz: true,
            origin: "builtin".into(),
            zh: Some(v(
                Lang::Zh,
                &["覆盖规则", "--entrypoint", "exec 形式", "只有最后一条生效"],
            )),
            en: Some(v(
                Lang::En,
                &[
                    "override rules",
                    "--entrypoint",
                    "exec form",
                    "only the last one counts",
                ],
            )),
        }
    }

    #[test]
    fn coverage_is_language_aware_and_normalised() {
        let t = topic();
        let g = grade(
            &t,
            "docker run 的参数会覆盖 CMD，用 ＥＸＥＣ形式；ENTRYPOINT 要 --entrypoint 才能改",
            Lang::Zh,
        );
        let covered: Vec<bool> = g.iter().map(|(_, c)| *c).collect();
        assert_eq!(covered, vec![false, true, true, false], "{g:?}");
        // An English answer to a Chinese question still counts via the parallel key point.
        let g = grade(&t, "Override rules: only the last one counts", Lang::Zh);
        assert!(g[0].1 && g[3].1, "{g:?}");
        assert!(!g[1].1);
    }

    #[test]
    fn stats_find_the_weakest_area() {
        let r = |area: &str, c| QuizRecord {
            user: "u".into(),
            topic: "t".into(),
            area: area.into(),
            coverage: c,
            at: 0,
        };
        let s = stats(&[r("docker", 1.0), r("k8s", 0.2), r("k8s", 0.4)]);
        assert_eq!(s.answered, 3);
        assert!((s.average - 0.5333).abs() < 0.01);
        let (area, avg) = s.weakest().unwrap();
        assert_eq!(area, "k8s");
        assert!((avg - 0.3).abs() < 1e-9);
    }
}
