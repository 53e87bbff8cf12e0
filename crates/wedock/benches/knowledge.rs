//! Knowledge search speed: loading the built-in base (parse + index, until the first search
//! can run), query latency over it,
//! and over 10,000 generated user documents. Besides criterion's means, prints p50/p99 of
//! single queries measured one by one (the numbers the budget is about).
//!
//! cargo bench -p wedock --bench knowledge

use criterion::Criterion;
use std::hint::black_box;
use std::time::{Duration, Instant};
use wedock::config::KnowledgeConfig;
use wedock::i18n::Lang;
use wedock::knowledge::Knowledge;
use wedock::knowledge::doc::{Topic, Variant};

const QUERIES: &[&str] = &[
    "CMD 和 ENTRYPOINT 有什么区别",
    "what does exit code 137 mean",
    "pod 一直 pending 怎么办",
    "k8s svc 有哪几种类型",
    "镜像太大了怎么缩小",
    "how do containers talk to each other on the same host",
    "CrashLoopBackOff 怎么排查",
    "liveness 和 readiness 探针的区别",
    "docker0 网段和公司内网冲突",
    "今天北京天气怎么样",
];

const WORDS_EN: &[&str] = &[
    "gateway",
    "payment",
    "ledger",
    "kafka",
    "consumer",
    "lag",
    "restart",
    "deploy",
    "redis",
    "cache",
    "timeout",
    "latency",
    "nginx",
    "upstream",
    "certificate",
    "renew",
    "backup",
    "restore",
    "postgres",
    "replica",
    "failover",
    "disk",
    "alert",
    "grafana",
    "dashboard",
    "queue",
    "worker",
    "batch",
    "cron",
    "rollout",
    "canary",
    "traffic",
    "quota",
    "limit",
];
const WORDS_ZH: &[&str] = &[
    "支付",
    "网关",
    "账本",
    "消费",
    "延迟",
    "重启",
    "发布",
    "缓存",
    "超时",
    "证书",
    "续期",
    "备份",
    "恢复",
    "主从",
    "切换",
    "磁盘",
    "告警",
    "面板",
    "队列",
    "批处理",
    "定时",
    "灰度",
    "流量",
    "配额",
    "限流",
    "回滚",
    "扩容",
    "数据库",
    "日志",
    "巡检",
];

/// A deterministic pseudo-random runbook.
fn runbook(i: usize) -> Topic {
    let mut x = (i as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut pick = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let en: Vec<&str> = (0..6).map(|_| WORDS_EN[pick(WORDS_EN.len())]).collect();
    let zh: Vec<&str> = (0..6).map(|_| WORDS_ZH[pick(WORDS_ZH.len())]).collect();
    let body: String = (0..60)
        .map(|k| {
            if k % 2 == 0 {
                WORDS_EN[pick(WORDS_EN.len())]
            } else {
                WORDS_ZH[pick(WORDS_ZH.len())]
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    Topic {
        id: format!("runbook:gen/{i}"),
        category: "runbook".into(),
        quiz: false,
        origin: "bench".into(),
        zh: Some(Variant {
            lang: Lang::Zh,
            title: format!("{} {} {} 处理手册 {i}", zh[0], zh[1], zh[2]),
            questions: vec![format!("{}{}怎么办", zh[3], zh[4])],
            tags: vec![zh[5].to_string(), en[0].to_string()],
            keypoints: vec![],
            body: body.clone(),
            docs: None,
        }),
        en: Some(Variant {
            lang: Lang::En,
            title: format!("{} {} {} runbook {i}", en[1], en[2], en[3]),
            questions: vec![format!("{} {} is broken", en[4], en[5])],
            tags: vec![],
            keypoints: vec![],
            body,
            docs: None,
        }),
    }
}

/// p50/p99 of single queries timed one by one, and the queries with the slowest median (what
/// makes the tail).
fn percentiles(name: &str, kb: &Knowledge, queries: &[&str], rounds: usize) {
    let mut times = Vec::with_capacity(queries.len() * rounds);
    let mut per_query = vec![Vec::with_capacity(rounds); queries.len()];
    for _ in 0..rounds {
        for (qi, q) in queries.iter().enumerate() {
            let t = Instant::now();
            black_box(kb.search(q, 3));
            let took = t.elapsed();
            times.push(took);
            per_query[qi].push(took);
        }
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize];
    println!(
        "{name}: {} queries  p50 {:?}  p99 {:?}  max {:?}",
        times.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    let mut medians: Vec<(Duration, &str)> = per_query
        .iter_mut()
        .zip(queries)
        .map(|(t, q)| {
            t.sort();
            (t[t.len() / 2], *q)
        })
        .collect();
    medians.sort_by_key(|m| std::cmp::Reverse(m.0));
    for (median, q) in medians.iter().take(3) {
        println!("  slowest median {median:?}: {q}");
    }
}

fn main() {
    // Defaults first, so `-- --warm-up-time … --measurement-time …` on the command line wins.
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let cfg = KnowledgeConfig::default();

    let t = Instant::now();
    let builtin = Knowledge::load(&cfg).expect("load");
    let returned = t.elapsed();
    // The first search waits for the loader thread: this is when the base is usable.
    black_box(builtin.search(QUERIES[0], 3));
    println!(
        "load built-in base ({} topics), first call: returns after {returned:?}, searchable after {:?}",
        builtin.topic_count(),
        t.elapsed()
    );
    c.bench_function("knowledge/load_builtin", |b| {
        b.iter(|| {
            let kb = Knowledge::load(&cfg).expect("load");
            black_box(kb.search(QUERIES[0], 3))
        })
    });
    c.bench_function("knowledge/query_builtin", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % QUERIES.len();
            black_box(builtin.search(QUERIES[i], 3))
        })
    });

    let docs: Vec<Topic> = (0..10_000).map(runbook).collect();
    let t = Instant::now();
    let big = Knowledge::from_topics(&cfg, docs.clone()).expect("build");
    println!("build index of 10,000 user documents: {:?}", t.elapsed());
    let mut user_queries: Vec<&str> = QUERIES.to_vec();
    user_queries.extend([
        "支付网关超时怎么办",
        "kafka consumer lag restart",
        "证书续期 nginx",
    ]);
    c.bench_function("knowledge/query_10k_user_docs", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % user_queries.len();
            black_box(big.search(user_queries[i], 3))
        })
    });

    c.final_summary();
    percentiles("built-in base", &builtin, QUERIES, 500);
    percentiles("10,000 user documents", &big, &user_queries, 100);
}
