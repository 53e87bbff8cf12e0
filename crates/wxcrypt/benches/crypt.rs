//! Throughput of the hot paths: inbound decrypt+parse and outbound reply encryption.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wxcrypt::MsgCrypt;

const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const CORP_ID: &str = "ww1436e0e65a779aee";
const TIMESTAMP: &str = "1476422779";
const NONCE: &str = "1597212914";

/// A typical WeCom text message (≈300 bytes of plaintext XML).
const MESSAGE: &str = "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\
<FromUserName><![CDATA[ChenJiaShun]]></FromUserName><CreateTime>1476422779</CreateTime>\
<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[please restart the staging deployment \
and tell me when it is healthy]]></Content><MsgId>7390561237491002368</MsgId>\
<AgentID>1000002</AgentID></xml>";

const REPLY: &str = "<xml><ToUserName><![CDATA[ChenJiaShun]]></ToUserName>\
<FromUserName><![CDATA[ww1436e0e65a779aee]]></FromUserName><CreateTime>1476422780</CreateTime>\
<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[deployment staging/api restarted, \
3/3 pods ready]]></Content></xml>";

fn bench(c: &mut Criterion) {
    let crypt = match MsgCrypt::from_config(TOKEN, KEY, CORP_ID) {
        Ok(c) => c,
        Err(e) => panic!("bad bench key: {e}"),
    };
    let (encrypt, sig) = crypt.encrypt_reply(MESSAGE, TIMESTAMP, NONCE).unwrap();
    let body = format!(
        "<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>\
<AgentID><![CDATA[1000002]]></AgentID></xml>"
    );
    assert_eq!(
        crypt
            .decrypt_envelope(&sig, TIMESTAMP, NONCE, body.as_bytes())
            .unwrap(),
        MESSAGE
    );

    let mut g = c.benchmark_group("wecom_text");
    g.throughput(Throughput::Elements(1));
    g.bench_function("decrypt_envelope (parse+verify+decrypt)", |b| {
        b.iter(|| {
            crypt
                .decrypt_envelope(
                    black_box(&sig),
                    black_box(TIMESTAMP),
                    black_box(NONCE),
                    black_box(body.as_bytes()),
                )
                .unwrap()
        })
    });
    g.bench_function("encrypt_reply_xml (encrypt+sign+envelope)", |b| {
        b.iter(|| {
            crypt
                .encrypt_reply_xml(black_box(REPLY), black_box(TIMESTAMP), black_box(NONCE))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
