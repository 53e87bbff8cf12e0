//! What personal WeChat (iLink) costs per message, minus HTTP and the pipeline: reading a
//! full `getupdates` batch (20 messages with 64-bit ids, each parsed on its own, dedup key and
//! text taken), and cutting a 40 KB answer into sendable chunks within a 10-message budget.
//!
//! `cargo bench -p wedock --bench weixin`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use std::hint::black_box;
use wedock::channel::ilink::api::{Content, UpdatesResponse, WeixinMessage};
use wedock::channel::ilink::quota;
use wedock::i18n::Lang;

fn bench(c: &mut Criterion) {
    let msgs: Vec<_> = (0..20u64)
        .map(|i| {
            json!({
                "seq": i, "message_id": 7_497_484_083_968_569_736u64 + i,
                "from_user_id": "o9cq80AbCdEfGhIjKlMnOpQrStUv@im.wechat",
                "to_user_id": "1a2b3c4d5e6f@im.bot", "create_time_ms": 1_764_060_000_000u64 + i,
                "message_type": 1, "message_state": 2,
                "item_list": [{"type": 1, "text_item": {"text": "kubectl get pods 有问题吗？"}}],
                "context_token": format!("AARz{}", "x".repeat(132)),
            })
        })
        .collect();
    let body = json!({"ret": 0, "msgs": msgs, "get_updates_buf": "CgIIAg==", "longpolling_timeout_ms": 35000})
        .to_string();
    let answer: String = (0..40)
        .map(|i| {
            format!(
                "{i:02} 查看容器日志：docker logs -f --tail 100 <容器名> {}\n",
                "x".repeat(960)
            )
        })
        .collect();

    let mut g = c.benchmark_group("weixin");
    g.throughput(Throughput::Elements(20));
    g.bench_function("getupdates: parse 20 messages", |b| {
        b.iter(|| {
            let r: UpdatesResponse = serde_json::from_str(black_box(&body)).expect("json");
            let mut n = 0;
            for m in &r.msgs {
                let m: WeixinMessage = serde_json::from_value(m.clone()).expect("msg");
                if let Content::Text(t) = m.content() {
                    n += t.len() + m.dedup_id().len();
                }
            }
            black_box(n)
        })
    });
    g.throughput(Throughput::Bytes(answer.len() as u64));
    g.bench_function("reply: pack 40 KB into 10 messages", |b| {
        b.iter(|| black_box(quota::pack(black_box(&answer), 10, Lang::Zh)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
