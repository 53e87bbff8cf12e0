//! What the WeCom app callback costs per message, minus HTTP and the pipeline: verify +
//! decrypt the envelope and parse the message XML (in), and build + encrypt + sign the
//! passive reply (out). The pure crypto halves are in `crates/wxcrypt/benches/crypt.rs`.
//!
//! `cargo bench -p wedock --bench channels`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use wxcrypt::MsgCrypt;

fn bench(c: &mut Criterion) {
    let crypt = MsgCrypt::from_config(
        "QDG6eK",
        "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
        "ww5823bf96d3bd56c7",
    )
    .expect("key");
    let plain = "<xml><ToUserName><![CDATA[ww5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1732500000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[怎么查看容器日志]]></Content><MsgId>7000000000000000001</MsgId><AgentID>1000002</AgentID></xml>";
    let env = crypt
        .encrypt_reply_envelope(plain, "1732500000", "1372623149")
        .expect("encrypt");
    let body = format!(
        "<xml><ToUserName><![CDATA[ww5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[{}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>",
        env.encrypt
    );
    let answer =
        "查看容器日志：`docker logs -f --tail 100 <容器名>`\n加 `--since 10m` 只看最近十分钟。"
            .repeat(4);

    let mut g = c.benchmark_group("wecom_app");
    g.throughput(Throughput::Elements(1));
    g.bench_function("inbound: verify+decrypt+parse", |b| {
        b.iter(|| {
            let p = crypt
                .decrypt_envelope(
                    black_box(&env.msg_signature),
                    "1732500000",
                    "1372623149",
                    black_box(body.as_bytes()),
                )
                .expect("decrypt");
            let f = wedock::channel::xml::parse_flat(&p).expect("xml");
            black_box(f.len())
        })
    });
    g.bench_function("outbound: reply xml+encrypt+sign", |b| {
        b.iter(|| {
            let xml = wedock::channel::xml::text_reply(
                "zhangsan",
                "ww5823bf96d3bd56c7",
                1_732_500_000,
                black_box(&answer),
            );
            black_box(
                crypt
                    .encrypt_reply_xml(&xml, "1732500001", "1372623149")
                    .expect("encrypt"),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
