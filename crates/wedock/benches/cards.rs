//! Card clicks: an operator clicks a button on an alert card (an encrypted
//! `template_card_event` posted to `/wecom/app`) → the card update
//! (`message/update_template_card` with that click's response code) arrives at a local fake
//! WeCom API. The whole path: decrypt, dedup, role, command (silence / unsilence, so every
//! click changes state: mute, record, audit), outbox, token, HTTP. p50/p95 printed.
//!
//! Run: `cargo bench -p wedock --bench cards`.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const CORP: &str = "ww5823bf96d3bd56c7";
const TOKEN: &str = "QDG6eK";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
/// Clickers: each may receive 30 app messages a minute, so the clicks are spread.
const USERS: u64 = 200;

#[derive(Clone, Default)]
struct Fake {
    /// Response codes of the card updates received, with their arrival.
    updates: Arc<Mutex<HashMap<String, Instant>>>,
    cards: Arc<Mutex<Vec<serde_json::Value>>>,
    notify: Arc<Notify>,
}

async fn token() -> &'static str {
    r#"{"errcode":0,"errmsg":"ok","access_token":"T","expires_in":7200}"#
}

async fn send(State(f): State<Fake>, body: String) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&body)
        && v["msgtype"] == "template_card"
    {
        f.cards.lock().unwrap().push(v);
        f.notify.notify_waiters();
    }
    r#"{"errcode":0,"errmsg":"ok","invaliduser":"","msgid":"m","response_code":"rc0"}"#.into()
}

async fn update(State(f): State<Fake>, body: String) -> &'static str {
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    if let Some(code) = v["response_code"].as_str() {
        f.updates
            .lock()
            .unwrap()
            .insert(code.to_string(), Instant::now());
    }
    f.notify.notify_waiters();
    r#"{"errcode":0,"errmsg":"ok","invaliduser":[]}"#
}

async fn fake() -> (Fake, String) {
    let f = Fake::default();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let app = Router::new()
        .route("/cgi-bin/gettoken", get(token))
        .route("/cgi-bin/message/send", post(send))
        .route("/cgi-bin/message/update_template_card", post(update))
        .with_state(f.clone());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (f, format!("http://{addr}"))
}

async fn wait_for(f: &Fake, done: impl Fn(&Fake) -> bool) {
    loop {
        let n = f.notify.notified();
        tokio::pin!(n);
        n.as_mut().enable();
        if done(f) {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), n).await;
    }
}

struct Server {
    url: String,
    http: reqwest::Client,
    crypt: wxcrypt::MsgCrypt,
}

impl Server {
    async fn post(&self, plain: &str) {
        let ts = chrono::Utc::now().timestamp().to_string();
        let nonce = "1372623149";
        let env = self
            .crypt
            .encrypt_reply_envelope(plain, &ts, nonce)
            .unwrap();
        let body = format!(
            "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><Encrypt><![CDATA[{}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>",
            env.encrypt
        );
        let r = self
            .http
            .post(&self.url)
            .query(&[
                ("msg_signature", env.msg_signature.as_str()),
                ("timestamp", ts.as_str()),
                ("nonce", nonce),
            ])
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
}

fn click_xml(user: &str, key: &str, code: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[t]]></TaskId><CardType><![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>1000002</AgentID></xml>",
        chrono::Utc::now().timestamp()
    )
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn click_to_update(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (f, server, id) = rt.block_on(async {
        let (f, base) = fake().await;
        let mut users = String::new();
        for i in 0..USERS {
            users.push_str(&format!("\"wecom:op{i}\" = \"operator\"\n"));
        }
        let p = dir.path().join("wedock.toml");
        std::fs::write(
            &p,
            format!(
                "[docker]\nenabled = false\n[api]\nwecom_base = \"{base}\"\n[wecom.app]\ncorp_id = \"{CORP}\"\nagent_id = 1000002\nsecret = \"s\"\ntoken = \"{TOKEN}\"\nencoding_aes_key = \"{KEY}\"\n[limits]\ncommands_per_minute = 0\n[identity.users]\n{users}[alerts]\nlang = \"en\"\n[alerts.hooks.ci]\ntoken = \"hooktoken\"\ntargets = [\"wecom_app:op0\"]\n"
            ),
        )
        .unwrap();
        let env = vec![(
            "WEDOCK_STORE__DATA_DIR".to_string(),
            format!("\"{}\"", dir.path().join("data").display()),
        )];
        let cfg = wedock::config::Config::load(Some(&p), env).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(wedock::serve::run_with(cfg, listener, std::future::pending::<()>()));
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http
                .get(format!("http://{addr}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        http.post(format!("http://{addr}/hooks/ci"))
            .bearer_auth("hooktoken")
            .json(&serde_json::json!({"text": "backup failed", "severity": "critical"}))
            .send()
            .await
            .unwrap();
        wait_for(&f, |f| !f.cards.lock().unwrap().is_empty()).await;
        let card = f.cards.lock().unwrap()[0].clone();
        let key = card["template_card"]["button_list"][0]["key"]
            .as_str()
            .unwrap()
            .to_string();
        let id = key.trim_start_matches("/ack ").to_string();
        let server = Server {
            url: format!("http://{addr}/wecom/app"),
            http,
            crypt: wxcrypt::MsgCrypt::from_config(TOKEN, KEY, CORP).unwrap(),
        };
        (f, server, id)
    });
    let seq = AtomicU64::new(0);
    let one = || {
        let n = seq.fetch_add(1, Ordering::Relaxed);
        let user = format!("op{}", n % USERS);
        let key = if n.is_multiple_of(2) {
            format!("/silence {id} 1h")
        } else {
            format!("/unsilence {id}")
        };
        let code = format!("bench{n}");
        let (f, server) = (&f, &server);
        async move {
            let t = Instant::now();
            server.post(&click_xml(&user, &key, &code)).await;
            wait_for(f, |f| f.updates.lock().unwrap().contains_key(&code)).await;
            let arrived = f.updates.lock().unwrap()[&code];
            arrived - t
        }
    };
    let mut samples: Vec<Duration> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..200 {
            v.push(one().await);
        }
        v
    });
    println!(
        "click_to_update (template_card_event → update_template_card), 200 samples: p50 {:?}, p95 {:?}, p99 {:?}",
        pct(&mut samples, 0.5),
        pct(&mut samples, 0.95),
        pct(&mut samples, 0.99)
    );
    c.bench_function("click_to_update", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let one = &one;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += one().await;
                }
                total
            }
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = click_to_update
}
criterion_main!(benches);
