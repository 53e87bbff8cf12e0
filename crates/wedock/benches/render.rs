//! Rendering replies per channel: every built-in answer (zh and en) through every renderer, in
//! one piece and split to the tightest channel budget (2,048 bytes). Besides criterion's means,
//! prints p50/p99/max of single renders timed one by one (the budget is p99 < 100 µs).
//!
//! cargo bench -p wedock --bench render

use criterion::Criterion;
use std::hint::black_box;
use std::time::Instant;
use wedock::i18n::Lang;
use wedock::render::markdown::{Target, render, render_parts};

fn answers() -> Vec<String> {
    let topics = wedock::knowledge::load_builtin().expect("built-in knowledge");
    let mut out = Vec::new();
    for t in &topics {
        for lang in [Lang::Zh, Lang::En] {
            out.push(wedock::knowledge::format_answer(t, lang));
        }
    }
    out
}

fn percentiles(answers: &[String], rounds: usize) {
    for target in Target::ALL {
        let mut times = Vec::with_capacity(answers.len() * rounds);
        for _ in 0..rounds {
            for md in answers {
                let t = Instant::now();
                black_box(render_parts(md, target, 2048));
                times.push(t.elapsed());
            }
        }
        times.sort();
        let at = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize];
        println!(
            "render {target:?}: {} renders  p50 {:?}  p99 {:?}  max {:?}",
            times.len(),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}

fn main() {
    let answers = answers();
    let mut c = Criterion::default().configure_from_args();
    for target in Target::ALL {
        c.bench_function(&format!("render all answers {target:?}"), |b| {
            b.iter(|| {
                for md in &answers {
                    black_box(render(md, target));
                }
            })
        });
    }
    c.final_summary();
    percentiles(&answers, 50);
}
