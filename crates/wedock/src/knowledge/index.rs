//! The search index: one tantivy document per topic (both languages together, so mixed
//! questions meet either), built in RAM at start-up from pre-tokenized text.
//!
//! Ranking is BM25 over four fields with boosts (question phrasings and title over tags over
//! body). The confidence of a hit is separate and bounded: the share of the question's
//! IDF-weighted terms the topic contains (strong fields count fully, the body partly), so
//! "how much of what was asked does this topic talk about" is comparable across questions.

use super::doc::Topic;
use super::text::{self, Kind, QueryTerm};
use std::sync::Arc;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{DocSet, Index, IndexReader, ReloadPolicy, TantivyDocument, Term};

/// BM25 boosts per field, and how much a match in that field counts for confidence.
const FIELDS: [(&str, f32, f32); 4] = [
    ("questions", 3.0, 1.0),
    ("title", 2.5, 1.0),
    ("tags", 1.8, 0.9),
    ("body", 1.0, 0.6),
];

/// How many BM25 candidates are re-scored.
const CANDIDATES: usize = 12;

#[derive(Debug, Clone)]
pub struct Hit {
    pub topic: Arc<Topic>,
    /// Raw BM25 score.
    pub score: f32,
    /// 0..1: how much of the question the topic covers.
    pub confidence: f32,
}

pub struct Corpus {
    pub topics: Vec<Arc<Topic>>,
    reader: IndexReader,
    fields: [Field; 4],
}

impl Corpus {
    pub fn build(mut topics: Vec<Topic>) -> anyhow::Result<Corpus> {
        topics.retain(|t| t.zh.is_some() || t.en.is_some());
        let mut sb = Schema::builder();
        let opts = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        let fields = FIELDS.map(|(name, _, _)| sb.add_text_field(name, opts.clone()));
        let ord = sb.add_u64_field("ord", FAST);
        let index = Index::create_in_ram(sb.build());
        let budget = if topics.len() > 2_000 {
            200_000_000
        } else {
            20_000_000
        };
        let mut writer = index.writer_with_num_threads::<TantivyDocument>(1, budget)?;
        for (i, t) in topics.iter().enumerate() {
            let mut doc = TantivyDocument::new();
            doc.add_u64(ord, i as u64);
            for v in t.variants() {
                add(&mut doc, fields[1], &v.title);
                for q in &v.questions {
                    add(&mut doc, fields[0], q);
                }
                add(&mut doc, fields[2], &v.tags.join(" "));
                add(&mut doc, fields[3], &v.body);
            }
            // The id words help runbooks named after what they fix.
            add(&mut doc, fields[2], &t.id.replace([':', '/'], " "));
            writer.add_document(doc)?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Corpus {
            topics: topics.into_iter().map(Arc::new).collect(),
            reader,
            fields,
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
        match self.search_terms(&terms, limit) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "knowledge search failed");
                metrics::counter!("wedock_errors_total", "reason" => "knowledge_search")
                    .increment(1);
                Vec::new()
            }
        }
    }

    fn search_terms(&self, terms: &[QueryTerm], limit: usize) -> tantivy::Result<Vec<Hit>> {
        let searcher = self.reader.searcher();
        let n = searcher.num_docs().max(1) as f32;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in terms {
            for (fi, (_, boost, _)) in FIELDS.iter().enumerate() {
                let term = Term::from_field_text(self.fields[fi], &t.text);
                let q = TermQuery::new(term, IndexRecordOption::WithFreqs);
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(q), boost * t.weight)),
                ));
            }
        }
        let query = BooleanQuery::new(clauses);
        let top = searcher.search(&query, &TopDocs::with_limit(CANDIDATES).order_by_score())?;
        if top.is_empty() {
            return Ok(Vec::new());
        }

        // Per typed term: its weight for confidence (kind × IDF, cross-word Han bigrams that
        // occur nowhere discounted) and the terms that satisfy it.
        struct Need {
            weight: f32,
            any_of: Vec<Term>,
        }
        let mut needs = Vec::new();
        for t in terms.iter().filter(|t| !t.expanded) {
            let mut df = 0u64;
            for f in &self.fields {
                df = df.max(searcher.doc_freq(&Term::from_field_text(*f, &t.text))?);
            }
            let idf = (1.0 + (n - df as f32 + 0.5) / (df as f32 + 0.5)).ln();
            let mut w = text::kind_weight(t.kind) * idf;
            if df == 0 && t.kind == Kind::Word {
                // A word the base never uses is a strong sign of another subject; a number
                // or size ("3306", "1.2g") is just a detail of the question.
                w *= if t.text.bytes().any(|b| b.is_ascii_digit()) {
                    0.3
                } else {
                    3.0
                };
            }
            if t.text.starts_with('~') {
                w *= 0.3;
            }
            if df == 0 && t.kind == Kind::HanBi {
                w *= 0.35;
            }
            let mut words = vec![t.text.clone()];
            words.extend(t.alts.iter().cloned());
            needs.push((w, words));
        }
        let needs: Vec<Need> = needs
            .into_iter()
            .map(|(weight, words)| Need {
                weight,
                any_of: words
                    .iter()
                    .flat_map(|w| {
                        self.fields
                            .iter()
                            .map(move |f| Term::from_field_text(*f, w))
                    })
                    .collect(),
            })
            .collect();
        let total: f32 = needs.iter().map(|n| n.weight).sum::<f32>().max(1e-6);

        let mut hits = Vec::with_capacity(top.len());
        let max_score = top.first().map(|(s, _)| *s).unwrap_or(1.0).max(1e-6);
        for (score, addr) in top {
            let seg = searcher.segment_reader(addr.segment_ord);
            let ord = seg
                .fast_fields()
                .u64("ord")?
                .first(addr.doc_id)
                .unwrap_or(u64::MAX) as usize;
            let Some(topic) = self.topics.get(ord) else {
                continue;
            };
            let mut got = 0.0;
            for need in &needs {
                let mut best: f32 = 0.0;
                for (k, term) in need.any_of.iter().enumerate() {
                    let fi = k % FIELDS.len();
                    // Synonyms count slightly less than the typed word.
                    let factor = FIELDS[fi].2 * if k < FIELDS.len() { 1.0 } else { 0.9 };
                    if factor <= best {
                        continue;
                    }
                    let inv = seg.inverted_index(term.field())?;
                    if let Some(mut p) = inv.read_postings(term, IndexRecordOption::Basic)? {
                        // `seek` needs a target at or after the current doc.
                        let d = p.doc();
                        if d == addr.doc_id
                            || (d < addr.doc_id && p.seek(addr.doc_id) == addr.doc_id)
                        {
                            best = factor;
                        }
                    }
                }
                got += need.weight * best;
            }
            let coverage = got / total;
            let rel = score / max_score;
            // A candidate far behind the best BM25 score is less likely to be meant.
            hits.push(Hit {
                topic: topic.clone(),
                score,
                confidence: (coverage * (0.75 + 0.25 * rel)).clamp(0.0, 1.0),
            });
        }
        // Re-rank: mostly coverage, partly BM25 (which knows term frequencies and lengths).
        hits.sort_by(|a, b| {
            let ka = a.confidence * 0.7 + 0.3 * a.score / max_score;
            let kb = b.confidence * 0.7 + 0.3 * b.score / max_score;
            kb.total_cmp(&ka)
        });
        hits.truncate(limit);
        Ok(hits)
    }
}

fn add(doc: &mut TantivyDocument, field: Field, text: &str) {
    let tokens: Vec<Token> = text::terms(text)
        .into_iter()
        .enumerate()
        .map(|(i, t)| Token {
            offset_from: 0,
            offset_to: 0,
            position: i,
            text: t,
            position_length: 1,
        })
        .collect();
    if tokens.is_empty() {
        return;
    }
    doc.add_pre_tokenized_text(
        field,
        PreTokenizedString {
            text: String::new(),
            tokens,
        },
    );
}
