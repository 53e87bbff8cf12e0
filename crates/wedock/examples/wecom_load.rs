//! Load generator for `POST /wecom/app`: distinct encrypted text messages (each its own
//! MsgId), sent by concurrent keep-alive clients; reports requests per second, latency
//! percentiles and errors. Every reply is checked to be a passive encrypted reply; one in
//! `--verify-every` (default 50) is signature-checked, decrypted and checked to be a text
//! reply to the user who sent that message, and the count of those is printed.
//!
//! ```text
//! cargo run --release -p wedock --example wecom_load -- \
//!     --url http://127.0.0.1:8080/wecom/app --token T --key KEY --corp CORPID \
//!     [--requests 20000] [--concurrency 32] [--label wedock]
//! ```
//! `scripts/load-wecom.sh` runs it against wedock and a Flask + wechatpy reference server.
//!
//! For wrk (`scripts/wrk-replay.lua`) it also prepares the messages and checks the replies:
//! `--emit FILE` writes the requests (`path?query TAB body`, one a line) and exits;
//! `--verify-file FILE` checks the replies wrk kept (one a line) and prints the count.

#[path = "common/load.rs"]
mod load;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wxcrypt::MsgCrypt;

struct Args {
    url: String,
    token: String,
    key: String,
    corp: String,
    requests: usize,
    concurrency: usize,
    label: String,
    verify_every: usize,
    emit: Option<String>,
    verify_file: Option<String>,
    distinct_text: bool,
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
        verify_every: 50,
        emit: None,
        verify_file: None,
        distinct_text: false,
    };
    for (k, v) in load::arg_pairs() {
        match k.as_str() {
            "--url" => a.url = v,
            "--token" => a.token = v,
            "--key" => a.key = v,
            "--corp" => a.corp = v,
            "--requests" => a.requests = v.parse().unwrap_or(a.requests),
            "--concurrency" => a.concurrency = v.parse().unwrap_or(a.concurrency),
            "--label" => a.label = v,
            "--verify-every" => a.verify_every = v.parse().unwrap_or(a.verify_every).max(1),
            "--emit" => a.emit = Some(v),
            "--verify-file" => a.verify_file = Some(v),
            // Every message its own text too (no two alike, so no answer comes from a cache).
            "--distinct-text" => a.distinct_text = v == "1" || v == "true",
            "--bench" => {}
            other => eprintln!("ignoring unknown argument {other}"),
        }
    }
    a
}

/// Distinct senders the messages cycle through.
const USERS: usize = 500;

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
    if let Some(path) = &a.verify_file {
        verify_file(&crypt, path);
        return;
    }
    // Prepare every request before timing: encryption is the platform's cost, not ours.
    let ts = chrono::Utc::now().timestamp().to_string();
    let reqs: Vec<(String, String)> = (0..a.requests)
        .map(|i| {
            let plain = format!(
                "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[load{u}]]></FromUserName><CreateTime>{ts}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{q}]]></Content><MsgId>{id}</MsgId><AgentID>1000002</AgentID></xml>",
                corp = a.corp,
                u = i % USERS,
                q = if a.distinct_text {
                    format!("{} #{i}", QUESTIONS[i % QUESTIONS.len()])
                } else {
                    QUESTIONS[i % QUESTIONS.len()].to_string()
                },
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
    if let Some(path) = &a.emit {
        emit(path, &a.url, &reqs);
        return;
    }
    let reqs = Arc::new(reqs);
    let verified = Arc::new(AtomicUsize::new(0));
    let checked = a.requests.div_ceil(a.verify_every);
    let every = a.verify_every;
    let client = load::client(a.concurrency);
    let send = {
        let (reqs, verified) = (reqs.clone(), verified.clone());
        move |i: usize| {
            let (reqs, verified, client, crypt) = (
                reqs.clone(),
                verified.clone(),
                client.clone(),
                crypt.clone(),
            );
            async move {
                let Some((url, body)) = reqs.get(i) else {
                    return false;
                };
                match client.post(url).body(body.clone()).send().await {
                    Ok(r) if r.status().is_success() => match r.text().await {
                        Ok(text) if text.contains("<Encrypt>") => {
                            if !i.is_multiple_of(every) {
                                true
                            } else if verify(&crypt, &text, &format!("load{}", i % USERS)) {
                                verified.fetch_add(1, Ordering::Relaxed);
                                true
                            } else {
                                false
                            }
                        }
                        _ => false,
                    },
                    _ => false,
                }
            }
        }
    };
    let r = load::run(a.concurrency, reqs.len(), send).await;
    // One line, `key=value` fields after the label, for scripts/load-wecom.sh to read.
    println!(
        "{}: requests={} concurrency={} rps={:.0} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2} errors={} verified={} checked={}",
        a.label,
        r.lat.len(),
        a.concurrency,
        r.per_sec(false),
        r.pct(0.50),
        r.pct(0.90),
        r.pct(0.99),
        r.pct(1.0),
        r.errors,
        verified.load(Ordering::Relaxed),
        checked,
    );
}

/// The reply verifies (signature) and decrypts to a non-empty text reply to `user`.
fn verify(crypt: &MsgCrypt, body: &str, user: &str) -> bool {
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
        .ok()
        .and_then(|p| wedock::channel::xml::parse_flat(&p).ok())
        .is_some_and(|m| {
            let get = |k: &str| m.get(k).map(String::as_str).unwrap_or("");
            get("MsgType") == "text" && get("ToUserName") == user && !get("Content").is_empty()
        })
}

/// Writes the prepared requests for wrk: the URL's path and query, a tab, the body.
fn emit(path: &str, base: &str, reqs: &[(String, String)]) {
    use std::io::Write;
    let origin_len = base.find("/wecom").unwrap_or(0);
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("emit file"));
    for (url, body) in reqs {
        writeln!(out, "{}\t{}", &url[origin_len..], body).expect("write emit file");
    }
    out.flush().expect("write emit file");
}

/// Checks replies kept by wrk (one a line): each must verify and decrypt to a non-empty text
/// reply to one of the load's users.
fn verify_file(crypt: &MsgCrypt, path: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let (mut checked, mut good) = (0, 0);
    for line in text.lines().filter(|l| !l.is_empty()) {
        checked += 1;
        let user = wedock::channel::xml::parse_flat(line)
            .ok()
            .and_then(|env| {
                let get = |k: &str| env.get(k).cloned().unwrap_or_default();
                crypt
                    .decrypt_message(
                        &get("MsgSignature"),
                        &get("TimeStamp"),
                        &get("Nonce"),
                        &get("Encrypt"),
                    )
                    .ok()
            })
            .and_then(|p| wedock::channel::xml::parse_flat(&p).ok())
            .and_then(|m| m.get("ToUserName").cloned());
        if let Some(u) = user
            && u.starts_with("load")
            && verify(crypt, line, &u)
        {
            good += 1;
        }
    }
    println!("verified={good} checked={checked}");
}
