//! The search index: BM25 finds candidates, a re-ranker picks the answer.
//!
//! One document per topic (both languages together, so mixed questions meet either), with four
//! boosted fields (question phrasings and title over tags over body). BM25 is computed at load
//! time into impact lists — per term, every topic that has it with its field-boosted BM25 score
//! — so a query is a few additions per posting into one score array and a partial sort, with no
//! search engine to start: building the base is tokenizing it, and a query's cost is bounded by
//! the postings of its terms (the rarest 24 at most).
//!
//! The candidates are re-scored from per-topic term-id sets kept beside the index, so
//! re-ranking costs a few thousand integer lookups:
//! - coverage: the share of the question's IDF-weighted terms the topic contains (phrasings
//!   count fully, tags nearly, the body partly) — "how much of what was asked does this topic
//!   talk about", comparable across questions and used for the confidence threshold;
//! - phrasing similarity: the best single title or question phrasing, scored both ways (how
//!   much of the question it covers and how much of it the question covers). Each phrasing is
//!   its own passage, so ten phrasings about one aspect do not outvote the one that matches.

mod asked;

use super::doc::Topic;
use super::text::{self, Kind, QueryTerm};
use asked::{AskedIds, Need};
use std::collections::HashMap;
use std::sync::Arc;

/// BM25 boosts per field: questions, title, tags, body.
const FIELD_BOOSTS: [f32; 4] = [3.0, 2.5, 1.8, 1.0];
/// BM25 term-frequency saturation and length normalisation (the usual values).
const BM25_K1: f32 = 1.2;
const BM25_B: f32 = 0.75;
const QUESTIONS: usize = 0;
const TITLE: usize = 1;
const TAGS: usize = 2;
const BODY: usize = 3;

/// How much a term found only in the tags / only in the body counts, relative to one in a
/// phrasing. Tags are curated subject words and count fully. For ranking a body match counts
/// nearly as much (the body is where the detail lives); for the confidence threshold it counts
/// less, so a question that only brushes past a topic's prose is not answered with it.
const TAG_FACTOR: f32 = 1.0;
const BODY_RANK_FACTOR: f32 = 0.8;
const BODY_FACTOR: f32 = 0.6;
/// Re-ranking: coverage, best phrasing and relative BM25, all 0..1, then scaled by relative
/// BM25 to a small power (a candidate far behind the best BM25 score is less likely meant).
/// Calibrated on knowledge/eval; the ranking is flat around these values.
const RANK_COVERAGE: f32 = 0.4;
const RANK_PHRASING: f32 = 0.2;
const RANK_BM25: f32 = 0.1;
const RANK_BM25_POWER: f32 = 0.2;
/// Ranking factor for a Docker topic when the question names only Kubernetes, and vice versa
/// ("restart policy" means different things on the two).
const OTHER_PLATFORM: f32 = 0.9;
/// Ranking factor for a troubleshooting topic when the question reports a recurring problem
/// ("healthcheck 老是失败"): the runbook, not the concept behind it. Flat from 1.08 to 1.15
/// on knowledge/eval.
const SYMPTOM_RUNBOOK: f32 = 1.1;
/// Confidence factor when the topic shares no subject word with the question.
const UNANCHORED: f32 = 0.5;
/// Weight of a number that appears in the base but names no subject of it: none.
const NUMBER_FACTOR: f32 = 0.0;
/// A synonym counts slightly less than the word that was typed.
const ALT_FACTOR: f32 = 0.9;

/// How many BM25 candidates are re-scored.
const CANDIDATES: usize = 30;
/// Most query terms that become BM25 clauses (four each, one per field), the most
/// discriminating first.
const MAX_BM25_TERMS: usize = 24;

#[derive(Debug, Clone)]
pub struct Hit {
    pub topic: Arc<Topic>,
    /// Raw BM25 score.
    pub score: f32,
    /// 0..1: how much of the question the topic covers.
    pub confidence: f32,
}

/// A topic's terms as sorted, deduplicated ids.
struct TopicTerms {
    /// Titles and question phrasings, one set each, with the sum of their term weights.
    phrasings: Vec<(Box<[u32]>, f32)>,
    /// Every term id of the topic, sorted, with where it is strongest beside it (`STRONG`: a
    /// phrasing, `TAGGED`, `IN_BODY`): one binary search tells a term's field.
    ids: Box<[u32]>,
    fields: Box<[u8]>,
}

/// A term's best field in a topic, for [`TopicTerms::field`].
const STRONG: u8 = 0;
const TAGGED: u8 = 1;
const IN_BODY: u8 = 2;

impl TopicTerms {
    /// A phrasing's ids count as `STRONG`, whatever else holds them.
    fn new(phrasings: Vec<(Box<[u32]>, f32)>, tags: &[u32], body: &[u32]) -> Self {
        let in_phrasings = phrasings.iter().flat_map(|(p, _)| p.iter());
        let mut all: Vec<(u32, u8)> = in_phrasings.map(|&id| (id, STRONG)).collect();
        all.extend(tags.iter().map(|&id| (id, TAGGED)));
        all.extend(body.iter().map(|&id| (id, IN_BODY)));
        // By id, the strongest field first; keep that one.
        all.sort_unstable();
        all.dedup_by_key(|&mut (id, _)| id);
        TopicTerms {
            phrasings,
            ids: all.iter().map(|&(id, _)| id).collect(),
            fields: all.iter().map(|&(_, f)| f).collect(),
        }
    }

    /// Where `id` is strongest in the topic, or None when the topic does not use it.
    fn field(&self, id: u32) -> Option<u8> {
        self.ids.binary_search(&id).ok().map(|i| self.fields[i])
    }
}

pub struct Corpus {
    pub topics: Vec<Arc<Topic>>,
    /// Per term id: (topic, field-boosted BM25 score of the term in it), by topic.
    impacts: Vec<Box<[(u32, f32)]>>,
    dict: HashMap<String, u32>,
    /// Per term id: its weight as a term of a phrasing (kind × IDF).
    term_weight: Vec<f32>,
    /// Per term id: how many topics use it anywhere.
    df: Vec<u32>,
    terms: Vec<TopicTerms>,
    /// Per term id: whether it names a subject of the base (a tag, id or synonym-table word).
    /// An answer must share at least one with the question; generic words such as "原理" or
    /// "python list" alone are not enough.
    subject: Vec<bool>,
}

fn kind_of(term: &str) -> Kind {
    let mut chars = term.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some(a), None, _) if crate::i18n::is_han(a) => Kind::HanUni,
        (Some(a), Some(b), None) if crate::i18n::is_han(a) && crate::i18n::is_han(b) => Kind::HanBi,
        _ => Kind::Word,
    }
}

fn idf(n: f32, df: f32) -> f32 {
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
}

fn sorted(mut ids: Vec<u32>) -> Box<[u32]> {
    ids.sort_unstable();
    ids.dedup();
    ids.into_boxed_slice()
}

impl Corpus {
    /// A corpus without topics; every search finds nothing.
    pub fn empty() -> Corpus {
        Corpus {
            topics: Vec::new(),
            impacts: Vec::new(),
            dict: HashMap::new(),
            term_weight: Vec::new(),
            df: Vec::new(),
            terms: Vec::new(),
            subject: Vec::new(),
        }
    }

    pub fn build(mut topics: Vec<Topic>) -> anyhow::Result<Corpus> {
        topics.retain(|t| t.zh.is_some() || t.en.is_some());
        if topics.is_empty() {
            return Ok(Corpus::empty());
        }
        let mut dict: HashMap<String, u32> = HashMap::new();
        let mut intern = |toks: &[String]| -> Vec<u32> {
            toks.iter()
                .map(|t| match dict.get(t) {
                    Some(&id) => id,
                    None => {
                        let id = dict.len() as u32;
                        dict.insert(t.clone(), id);
                        id
                    }
                })
                .collect()
        };
        let mut subject_words: Vec<String> = text::synonym_terms().cloned().collect();
        let mut all_terms = Vec::with_capacity(topics.len());
        // Per topic and field, the term ids in order (repeats are term frequency).
        let mut field_terms: Vec<[Vec<u32>; 4]> = Vec::with_capacity(topics.len());
        let tokens = tokenize_all(&topics);
        for (t, toks) in topics.iter().zip(tokens) {
            let mut fields: [Vec<u32>; 4] = Default::default();
            let mut phrasings = Vec::new();
            for (field, is_phrasing, terms) in toks {
                let ids = intern(&terms);
                fields[field].extend(&ids);
                if is_phrasing {
                    phrasings.push(ids);
                }
            }
            for v in t.variants() {
                for tag in &v.tags {
                    subject_words.extend(text::subject_terms(tag));
                }
                if t.category == "runbook" {
                    subject_words.extend(text::subject_terms(&v.title));
                }
            }
            subject_words.extend(text::subject_terms(&t.id.replace([':', '/'], " ")));
            let phrasings: Vec<Box<[u32]>> = phrasings
                .into_iter()
                .map(sorted)
                .filter(|p| !p.is_empty())
                .collect();
            all_terms.push((
                phrasings,
                sorted(fields[TAGS].clone()),
                sorted(fields[BODY].clone()),
            ));
            field_terms.push(fields);
        }
        let impacts = bm25_impacts(&field_terms, dict.len());
        drop(field_terms);

        let mut subject = vec![false; dict.len()];
        for w in &subject_words {
            if let Some(&id) = dict.get(w) {
                subject[id as usize] = true;
            }
        }
        // Document frequencies over whole topics, and term weights from them.
        let mut df = vec![0u32; dict.len()];
        let mut kinds = vec![Kind::Word; dict.len()];
        for (word, &id) in &dict {
            kinds[id as usize] = kind_of(word);
        }
        let mut seen = vec![u32::MAX; dict.len()];
        for (i, (phrasings, tags, body)) in all_terms.iter().enumerate() {
            let ids = phrasings
                .iter()
                .flat_map(|p| p.iter())
                .chain(tags.iter())
                .chain(body.iter());
            for &id in ids {
                if seen[id as usize] != i as u32 {
                    seen[id as usize] = i as u32;
                    df[id as usize] += 1;
                }
            }
        }
        let n = all_terms.len().max(1) as f32;
        let term_weight: Vec<f32> = df
            .iter()
            .zip(&kinds)
            .map(|(&d, &k)| text::kind_weight(k) * idf(n, d as f32))
            .collect();
        let terms = all_terms
            .into_iter()
            .map(|(phrasings, tags, body)| {
                let phrasings = phrasings
                    .into_iter()
                    .map(|p| {
                        let w = p.iter().map(|&id| term_weight[id as usize]).sum::<f32>();
                        (p, w.max(1e-6))
                    })
                    .collect();
                TopicTerms::new(phrasings, &tags, &body)
            })
            .collect();
        Ok(Corpus {
            topics: topics.into_iter().map(Arc::new).collect(),
            impacts,
            dict,
            term_weight,
            df,
            terms,
            subject,
        })
    }

    pub fn len(&self) -> usize {
        self.topics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// The best topics for `query`, most confident first.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let terms = text::analyze_query(query);
        if terms.is_empty() || self.topics.is_empty() {
            return Vec::new();
        }
        // Each term's id, looked up once: the re-ranker asks for it again and again.
        let ids: Vec<Option<u32>> = terms
            .iter()
            .map(|t| self.dict.get(&t.text).copied())
            .collect();
        self.search_terms(&terms, &ids, text::reports_symptom(query), limit)
    }

    /// BM25 candidates: (score, topic index), best first.
    /// `ids`: each term's id (None when no topic uses it).
    fn candidates(&self, terms: &[QueryTerm], ids: &[Option<u32>]) -> Vec<(f32, usize)> {
        // Characters of the question's known bigrams: their unigrams add nothing a bigram does
        // not already find, yet each is a posting list that covers much of a large base.
        let in_known_bigram: Vec<char> = terms
            .iter()
            .zip(ids)
            .filter(|(t, id)| t.kind == Kind::HanBi && id.is_some())
            .flat_map(|(t, _)| t.text.chars())
            .collect();
        let n = self.topics.len() as f32;
        let mut picked: Vec<(f32, u32, f32)> = terms
            .iter()
            .zip(ids)
            // A term no topic uses cannot match.
            .filter_map(|(t, id)| Some((t, (*id)?)))
            .filter(|(t, _)| {
                t.kind != Kind::HanUni || !t.text.chars().all(|c| in_known_bigram.contains(&c))
            })
            .map(|(t, id)| (t.weight * idf(n, self.df[id as usize] as f32), id, t.weight))
            .collect();
        if picked.len() > MAX_BM25_TERMS {
            // A pasted log: the rarest terms find the topic; the rest only cost postings reads.
            picked.sort_by(|a, b| b.0.total_cmp(&a.0));
            picked.truncate(MAX_BM25_TERMS);
        }
        let mut scores = vec![0f32; self.topics.len()];
        for (_, id, weight) in picked {
            if let Some(list) = self.impacts.get(id as usize) {
                for &(topic, impact) in list.iter() {
                    if let Some(s) = scores.get_mut(topic as usize) {
                        *s += weight * impact;
                    }
                }
            }
        }
        let mut top: Vec<(f32, usize)> = scores
            .into_iter()
            .enumerate()
            .filter(|(_, s)| *s > 0.0)
            .map(|(i, s)| (s, i))
            .collect();
        // Best first; equal scores in topic order, so results do not depend on the hasher.
        let best_first =
            |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if top.len() > CANDIDATES {
            top.select_nth_unstable_by(CANDIDATES - 1, best_first);
            top.truncate(CANDIDATES);
        }
        top.sort_unstable_by(best_first);
        top
    }

    fn search_terms(
        &self,
        terms: &[QueryTerm],
        ids: &[Option<u32>],
        symptom: bool,
        limit: usize,
    ) -> Vec<Hit> {
        let top = self.candidates(terms, ids);
        if top.is_empty() {
            return Vec::new();
        }
        let n = self.topics.len().max(1) as f32;

        let mut needs = Vec::with_capacity(terms.len());
        // Every id the question names, typed or expanded: what a phrasing can be covered by.
        let mut asked: Vec<u32> = Vec::with_capacity(terms.len() * 2);
        for (t, &id) in terms.iter().zip(ids) {
            asked.extend(id);
            if t.expanded {
                continue;
            }
            let df = id.map(|i| self.df[i as usize]).unwrap_or(0);
            let mut w = text::kind_weight(t.kind) * idf(n, df as f32);
            let numeric = t.kind == Kind::Word && t.text.bytes().any(|b| b.is_ascii_digit());
            if numeric && df == 0 {
                // An unseen number or size ("3306", "1.2g") is just a detail of the question.
                w *= 0.3;
            } else if numeric && id.is_some_and(|i| !self.subject[i as usize]) {
                // A number some topic's prose happens to hold but no tag or id names (the 5 of
                // "explain it like I'm 5") is rarer than the question's real words, so at full
                // weight it would pick the topic; exit code 137 or port 8080 in a topic's tags
                // are subjects and keep their weight.
                w *= NUMBER_FACTOR;
            }
            if t.text.starts_with('~') {
                w *= 0.3;
            }
            if df == 0 && t.kind == Kind::HanBi {
                // Most unknown bigrams straddle two words ("改镜" in "改镜像").
                w *= 0.35;
            }
            let mut any_of: Vec<(u32, f32)> = id.map(|i| (i, 1.0)).into_iter().collect();
            for alt in &t.alts {
                if let Some(&a) = self.dict.get(alt) {
                    asked.push(a);
                    any_of.push((a, ALT_FACTOR));
                }
            }
            needs.push(Need { weight: w, any_of });
        }
        let typed = || terms.iter().filter(|t| !t.expanded);
        let asks_k8s = typed().any(|t| text::is_k8s_word(&t.text));
        let asks_docker = typed().any(|t| text::is_docker_word(&t.text));
        let asked = AskedIds::new(asked, &needs);
        let total: f32 = needs.iter().map(|n| n.weight).sum::<f32>().max(1e-6);

        let max_score = top.first().map(|(s, _)| *s).unwrap_or(1.0).max(1e-6);
        let mut ranked = Vec::with_capacity(top.len());
        // Per need, the best factor at which the phrasing being scored meets it.
        let mut met_by_phrasing = vec![0f32; needs.len()];
        for (score, ord) in top {
            let tt = &self.terms[ord];
            // Coverage over the whole topic.
            let (mut got, mut got_strict) = (0.0, 0.0);
            let mut anchored = false;
            for need in &needs {
                let (mut best, mut strict): (f32, f32) = (0.0, 0.0);
                for &(id, f) in &need.any_of {
                    let (field, sfield) = match tt.field(id) {
                        Some(STRONG) => (1.0, 1.0),
                        Some(TAGGED) => (TAG_FACTOR, TAG_FACTOR),
                        Some(_) => (BODY_RANK_FACTOR, BODY_FACTOR),
                        None => (0.0, 0.0),
                    };
                    best = best.max(field * f);
                    strict = strict.max(sfield * f);
                }
                got += need.weight * best;
                got_strict += need.weight * strict;
                if strict > 0.0 && need.any_of.iter().any(|&(id, _)| self.subject[id as usize]) {
                    anchored = true;
                }
            }
            let coverage = got / total;
            let strict = got_strict / total;
            // The best single phrasing, both ways. One pass over each phrasing's ids, each
            // looked up among the question's (a bit test, rarely a binary search), instead of a
            // binary search of the phrasing for every need and synonym: this loop was most of a
            // search's time.
            let mut phrasing: f32 = 0.0;
            for (p, pw) in &tt.phrasings {
                met_by_phrasing.fill(0.0);
                let mut p_got: f32 = 0.0;
                let mut met = false;
                for &id in p.iter() {
                    if let Some(meets) = asked.get(id) {
                        p_got += self.term_weight[id as usize];
                        for &(need, f) in meets {
                            let b = &mut met_by_phrasing[need as usize];
                            if f > *b {
                                *b = f;
                                met = true;
                            }
                        }
                    }
                }
                if !met {
                    continue;
                }
                let q_got: f32 = needs
                    .iter()
                    .zip(&met_by_phrasing)
                    .map(|(n, b)| n.weight * b)
                    .sum();
                if q_got <= 0.0 {
                    continue;
                }
                let qc = q_got / total;
                let pc = (p_got / pw).min(1.0);
                phrasing = phrasing.max((qc * pc).sqrt());
            }
            let rel = score / max_score;
            // A question that names only one platform is about that platform's topic.
            let platform = match (asks_k8s, asks_docker, self.topics[ord].category.as_str()) {
                (true, false, "docker") | (false, true, "k8s") => OTHER_PLATFORM,
                _ => 1.0,
            };
            // "Keeps failing" reports a problem: the runbook over the concept it breaks.
            let runbook = if symptom && self.topics[ord].category == "troubleshooting" {
                SYMPTOM_RUNBOOK
            } else {
                1.0
            };
            let key = (RANK_COVERAGE * coverage + RANK_PHRASING * phrasing + RANK_BM25 * rel)
                * rel.powf(RANK_BM25_POWER)
                * platform
                * runbook;
            // A candidate far behind the best BM25 score is less likely to be meant.
            let anchor = if anchored { 1.0 } else { UNANCHORED };
            let confidence = (anchor * strict * (0.75 + 0.25 * rel)).clamp(0.0, 1.0);
            ranked.push((
                key,
                Hit {
                    topic: self.topics[ord].clone(),
                    score,
                    confidence,
                },
            ));
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.into_iter().take(limit).map(|(_, h)| h).collect()
    }
}

/// One topic's texts as terms, in index order: (field, whether it is a phrasing, terms).
type TopicTokens = Vec<(usize, bool, Vec<String>)>;

fn tokenize_topic(t: &Topic) -> TopicTokens {
    let mut out = Vec::new();
    for v in t.variants() {
        out.push((TITLE, true, text::terms(&v.title)));
        for q in &v.questions {
            out.push((QUESTIONS, true, text::terms(q)));
        }
        out.push((TAGS, false, text::terms(&v.tags.join(" "))));
        out.push((BODY, false, text::terms(&v.body)));
    }
    // The id words help runbooks named after what they fix.
    out.push((TAGS, false, text::terms(&t.id.replace([':', '/'], " "))));
    out
}

/// Fewest topics worth spreading over threads.
const PARALLEL_MIN_TOPICS: usize = 64;

/// Tokenizes the topics on every core: text analysis is most of the load time once the index
/// is plain arrays. The result is in topic order, so term ids do not depend on the threads.
fn tokenize_all(topics: &[Topic]) -> Vec<TopicTokens> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || topics.len() < PARALLEL_MIN_TOPICS {
        return topics.iter().map(tokenize_topic).collect();
    }
    let chunk = topics.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = topics
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(tokenize_topic).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Per term id, the topics that contain it with the term's BM25 score there: per field
/// `boost × idf × tf·(k1+1) / (tf + k1·(1 − b + b·len/avg_len))`, summed over the fields, with
/// the document frequency and average length taken per field.
fn bm25_impacts(field_terms: &[[Vec<u32>; 4]], terms: usize) -> Vec<Box<[(u32, f32)]>> {
    let n = field_terms.len().max(1) as f32;
    let mut df = vec![[0u32; 4]; terms];
    let mut total_len = [0usize; 4];
    let mut seen = vec![[u32::MAX; 4]; terms];
    for (i, fields) in field_terms.iter().enumerate() {
        for (f, ids) in fields.iter().enumerate() {
            total_len[f] += ids.len();
            for &id in ids {
                let slot = &mut seen[id as usize][f];
                if *slot != i as u32 {
                    *slot = i as u32;
                    df[id as usize][f] += 1;
                }
            }
        }
    }
    drop(seen);
    let avg_len = total_len.map(|l| (l as f32 / n).max(1e-6));
    let mut lists: Vec<Vec<(u32, f32)>> = vec![Vec::new(); terms];
    let mut tf: HashMap<u32, [u32; 4]> = HashMap::new();
    for (i, fields) in field_terms.iter().enumerate() {
        tf.clear();
        for (f, ids) in fields.iter().enumerate() {
            for &id in ids {
                tf.entry(id).or_insert([0; 4])[f] += 1;
            }
        }
        for (&id, counts) in &tf {
            let mut impact = 0.0;
            for f in 0..4 {
                if counts[f] == 0 {
                    continue;
                }
                let tf = counts[f] as f32;
                let norm = BM25_K1 * (1.0 - BM25_B + BM25_B * fields[f].len() as f32 / avg_len[f]);
                let idf = idf(n, df[id as usize][f] as f32);
                impact += FIELD_BOOSTS[f] * idf * (BM25_K1 + 1.0) * tf / (tf + norm);
            }
            lists[id as usize].push((i as u32, impact));
        }
    }
    lists.into_iter().map(Vec::into_boxed_slice).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use crate::knowledge::doc::Variant;

    fn topic(id: &str, title: &str, body: &str) -> Topic {
        Topic {
            id: id.to_string(),
            category: "runbook".into(),
            quiz: false,
            origin: "test".into(),
            zh: None,
            en: Some(Variant {
                lang: Lang::En,
                title: title.to_string(),
                questions: vec![],
                tags: vec![],
                keypoints: vec![],
                body: body.to_string(),
                docs: None,
            }),
        }
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.topic.id.as_str()).collect()
    }

    #[test]
    fn a_title_match_outranks_a_body_match() {
        let corpus = Corpus::build(vec![
            topic(
                "in-body",
                "gateway runbook",
                "restart the zookeeper ensemble first",
            ),
            topic(
                "in-title",
                "zookeeper ensemble",
                "check the quorum and the disk",
            ),
            topic(
                "elsewhere",
                "ledger backup",
                "copy the files to cold storage",
            ),
        ])
        .expect("build");
        let hits = corpus.search("zookeeper", 3);
        assert_eq!(ids(&hits), ["in-title", "in-body"]);
        assert!(hits[0].score > hits[1].score, "{hits:?}");
    }

    #[test]
    fn parallel_tokenizing_keeps_topic_order() {
        let topics: Vec<Topic> = (0..PARALLEL_MIN_TOPICS * 2)
            .map(|i| {
                topic(
                    &format!("t{i}"),
                    &format!("topic {i} 磁盘"),
                    &format!("body {i}"),
                )
            })
            .collect();
        let sequential: Vec<TopicTokens> = topics.iter().map(tokenize_topic).collect();
        assert_eq!(tokenize_all(&topics), sequential);
    }

    #[test]
    fn a_number_that_names_no_subject_does_not_pick_the_topic() {
        // "5" is in one body only, so it is rarer than "container"; it names nothing.
        let corpus = Corpus::build(vec![
            topic("limits", "cpu quota", "a container gets 5 shares"),
            topic("what-is", "what is a container", "an isolated process"),
        ])
        .expect("build");
        let hits = corpus.search("explain containers like im 5", 2);
        assert_eq!(ids(&hits)[0], "what-is", "{hits:?}");
    }

    #[test]
    fn a_pasted_log_keeps_its_rarest_words() {
        // Forty words every topic has, then the one word only the wanted topic has: more known
        // terms than the BM25 cap, and the rare one comes last.
        let common: Vec<String> = (0..40).map(|i| format!("common{i}")).collect();
        let filler_body = common.join(" ");
        let mut topics: Vec<Topic> = (0..50)
            .map(|i| topic(&format!("t{i}"), "disk alert", &filler_body))
            .collect();
        topics.push(topic(
            "raft",
            "leader election",
            &format!("raft {filler_body}"),
        ));
        let corpus = Corpus::build(topics).expect("build");
        let log = format!("{filler_body} raft");
        let hits = corpus.search(&log, 1);
        assert_eq!(hits.first().map(|h| h.topic.id.as_str()), Some("raft"));
    }
}
