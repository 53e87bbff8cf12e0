//! Retrieval quality: every case in knowledge/eval/*.toml through the same search and
//! threshold the bot uses (a failure signature first, then ranked search). Prints top-1 /
//! top-3 accuracy for questions and for pasted errors, off-topic declines, and every miss;
//! fails below 95 % on the questions (declined off-topic ones counted), 90 % on pasted
//! errors, or when an off-topic one is answered.

use serde::Deserialize;
use wedock::config::KnowledgeConfig;
use wedock::knowledge::Knowledge;

#[derive(Deserialize)]
struct EvalFile {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    q: String,
    expect: String,
}

fn eval_cases() -> Vec<(String, Case)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../knowledge/eval");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("knowledge/eval exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read eval file");
        let parsed: EvalFile = toml::from_str(&text).expect("valid eval file");
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        out.extend(parsed.case.into_iter().map(|c| (name.clone(), c)));
    }
    out
}

/// The quality targets: the questions (declined off-topic ones count as hits, as they always
/// have here; on-topic alone is reported beside it) and pasted errors, which the failure
/// signatures answer first.
const QUESTIONS_TARGET: f64 = 95.0;
const PASTED_TARGET: f64 = 90.0;
/// The pasted-error cases live in their own files (`pasted-*.toml`, split to keep each file
/// readable) and are reported on their own.
const PASTED_PREFIX: &str = "pasted-";

#[derive(Default)]
struct Tally {
    n: usize,
    top1: usize,
    top3: usize,
}

impl Tally {
    fn pct(&self, k: usize) -> f64 {
        if self.n == 0 {
            100.0
        } else {
            k as f64 / self.n as f64 * 100.0
        }
    }
}

struct Report {
    questions: Tally,
    pasted: Tally,
    off_ok: usize,
    off_total: usize,
}

fn run_eval() -> Report {
    let kb = Knowledge::load(&KnowledgeConfig::default()).expect("built-in base loads");
    // KNOWLEDGE_EVAL_MIN_CONFIDENCE=0.3 tries another threshold when calibrating.
    let min: f32 = std::env::var("KNOWLEDGE_EVAL_MIN_CONFIDENCE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(kb.min_confidence());
    let cases = eval_cases();
    assert!(cases.len() >= 150, "eval set has {} cases", cases.len());
    let (mut questions, mut pasted) = (Tally::default(), Tally::default());
    let (mut off_ok, mut off_total) = (0, 0);
    let mut misses = Vec::new();
    for (file, c) in &cases {
        // The same first steps as a chat answer: a failure signature, then ranked search.
        let (sig, hits) = kb.lookup(&c.q, 3);
        let matched = hits.first().is_some_and(|h| h.confidence >= min);
        let shown: Vec<String> = hits
            .iter()
            .map(|h| format!("{} ({:.2})", h.topic.id, h.confidence))
            .collect();
        let via = sig
            .as_ref()
            .map(|m| format!(" via signature {}", m.signature.id))
            .unwrap_or_default();
        if c.expect.is_empty() {
            off_total += 1;
            if matched {
                misses.push(format!(
                    "[{file}] OFF-TOPIC answered: {:?} -> {shown:?}{via}",
                    c.q
                ));
            } else {
                off_ok += 1;
            }
            continue;
        }
        let t = if file.starts_with(PASTED_PREFIX) {
            &mut pasted
        } else {
            &mut questions
        };
        t.n += 1;
        let first = matched && hits[0].topic.id == c.expect;
        if first {
            t.top1 += 1;
        }
        if hits.iter().any(|h| h.topic.id == c.expect) {
            t.top3 += 1;
        }
        if !first {
            let why = if matched { "wrong" } else { "below threshold" };
            misses.push(format!(
                "[{file}] {why}: {:?} expect {} -> {shown:?}{via}",
                c.q, c.expect
            ));
        }
    }
    println!(
        "knowledge eval: {} cases, min_confidence {min}",
        cases.len()
    );
    println!(
        "questions (on-topic): {} cases, top-1 {:.1} %  top-3 {:.1} %",
        questions.n,
        questions.pct(questions.top1),
        questions.pct(questions.top3)
    );
    println!(
        "questions with off-topic declines counted: top-1 {:.1} %",
        (questions.top1 + off_ok) as f64 / (questions.n + off_total) as f64 * 100.0
    );
    println!(
        "pasted errors: {} cases, top-1 {:.1} %  top-3 {:.1} %",
        pasted.n,
        pasted.pct(pasted.top1),
        pasted.pct(pasted.top3)
    );
    println!("off-topic declined: {off_ok}/{off_total}");
    for m in &misses {
        println!("  miss {m}");
    }
    Report {
        questions,
        pasted,
        off_ok,
        off_total,
    }
}

#[test]
fn eval_set_meets_the_target() {
    let r = run_eval();
    assert_eq!(
        r.off_ok, r.off_total,
        "every off-topic question must come back unmatched"
    );
    // The questions with the declined off-topic ones counted as hits (the measure this test
    // has always held); on-topic alone is printed above and recorded in the README.
    let q = (r.questions.top1 + r.off_ok) as f64 / (r.questions.n + r.off_total) as f64 * 100.0;
    assert!(
        q >= QUESTIONS_TARGET,
        "questions top-1 {q:.1} % (off-topic declines counted) is below {QUESTIONS_TARGET} %"
    );
    assert!(r.pasted.n >= 80, "{} pasted-error cases", r.pasted.n);
    let p = r.pasted.pct(r.pasted.top1);
    assert!(
        p >= PASTED_TARGET,
        "pasted-error top-1 {p:.1} % is below {PASTED_TARGET} %"
    );
}
