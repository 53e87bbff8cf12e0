//! Load generator for `POST /wecom/app`: distinct encrypted text messages (each its own
//! MsgId), sent by concurrent keep-alive clients; reports requests per second, latency
//! percentiles and errors. Every reply is checked to be a passive encrypted reply; one in
//! fifty is verified and decrypted.
//!
//! ```text
//! cargo run --release -p wedock --example wecom_load -- \
//!     --url http://127.0.0.1:8080/wecom/app --token T --key KEY --corp CORPID \
//!     [--requests 20000] [--concurrency 32] [--label wedock]
//! ```
//! `scripts/load-wecom.sh` runs it against wedock and a Flask + wechatpy reference server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wxcrypt::MsgCrypt;

struct Args {
    url: String,
    token: String,
    key: String,
    corp: String,
    requests: usize,
    concurrency: usize,
    label: String,
}

fn args() -> Args {
    let mut a = Args {
        url: "http://127.0.0.1:8080/wecom/app".into(),
        token: String::new(),
        key: String::new(),
        corp: String::new(),
        requests: 20_000,
        concurrency: 32,
        label: "target".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--url" => a.url = v,
            "--token" => a.token = v,
            "--key" => a.key = v,
            "--corp" => a.corp = v,
            "--requests" => a.requests = v.parse().unwrap_or(a.requests),
            "--concurrency" => a.concurrency = v.parse().unwrap_or(a.concurrency),
            "--label" => a.label = v,
            "--bench" => {}
            other => eprintln!("ignoring unknown argument {other}"),
        }
    }
    a
}

const QUESTIONS: &[&str] = &[
    "how do I see container logs",
    "怎么查看容器日志",
    "what is a docker volume",
    "容器一直重启怎么办",
    "how to limit container memory",
    "what is a kubernetes pod",
    "docker compose 怎么用",
    "how do I expose a port",
];

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let a = args();
    let crypt = MsgCrypt::from_config(&a.token, &a.key, &a.corp).expect("token/key/corp");
    // Prepare every request before timing: encryption is the platform's cost, not ours.
    let ts = chrono::Utc::now().timestamp().to_string();
    let reqs: Vec<(String, String)> = (0..a.requests)
        .map(|i| {
            let plain = format!(
                "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[load{u}]]></FromUserName><CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{q}]]></Content><MsgId>{id}</MsgId><AgentID>1000002</AgentID></xml>",
                corp = a.corp,
                u = i % 500,
                q = QUESTIONS[i % QUESTIONS.len()],
                id = 7_000_000_000_000_000u64 + i as u64 + (std::process::id() as u64) * 1_000_000,
            );
            let nonce = format!("{}", 100_000_000 + i);
            let env = crypt.encrypt_reply_envelope(&plain, &ts, &nonce).expect("encrypt");
            let url = format!(
                "{}?msg_signature={}&timestamp={ts}&nonce={nonce}",
                a.url, env.msg_signature
            );
            let body = format!(
                "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>",
                a.corp, env.encrypt
            );
            (url, body)
        })
        .collect();
    let reqs = Arc::new(reqs);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..a.concurrency {
        let (reqs, next, errors, client, crypt) = (
            reqs.clone(),
            next.clone(),
            errors.clone(),
            client.clone(),
            crypt.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((url, body)) = reqs.get(i) else {
                    break;
                };
                let t = Instant::now();
                let ok = match client.post(url).body(body.clone()).send().await {
                    Ok(r) if r.status().is_success() => match r.text().await {
                        Ok(text) if text.contains("<Encrypt>") => {
                            i % 50 != 0 || verify(&crypt, &text)
                        }
                        _ => false,
                    },
                    _ => false,
                };
                lat.push(t.elapsed());
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let mut lat: Vec<Duration> = Vec::new();
    for w in workers {
        lat.extend(w.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let rps = lat.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{}: {} requests, concurrency {}, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {}",
        a.label,
        lat.len(),
        a.concurrency,
        rps,
        pct(0.50),
        pct(0.99),
        pct(1.0),
        errors.load(Ordering::Relaxed)
    );
}

/// The reply verifies (signature) and decrypts to a text reply.
fn verify(crypt: &MsgCrypt, body: &str) -> bool {
    let Ok(env) = wedock::channel::xml::parse_flat(body) else {
        return false;
    };
    let get = |k: &str| env.get(k).map(String::as_str).unwrap_or("");
    crypt
        .decrypt_message(
            get("MsgSignature"),
            get("TimeStamp"),
            get("Nonce"),
            get("Encrypt"),
        )
        .is_ok_and(|p| p.contains("<MsgType><![CDATA[text]]></MsgType>"))
}
