//! A fake Tencent platform for tests: the WeCom API (`gettoken`, `message/send`) and the
//! Official Account API (`token`, `message/custom/send`), faithful to the documented request
//! and response shapes (wechat-protocol.md §2.7, §3, §4.5, §4.6). It records every request
//! and can inject errors: expired tokens (42001), invalid tokens (40014) and arbitrary
//! errcodes on the next sends.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::routing::{get, post};
use axum::{Json, body::Bytes};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub query: HashMap<String, String>,
    pub body: String,
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    issued: u32,
    valid: HashSet<String>,
    expired: HashSet<String>,
    send_errors: VecDeque<i64>,
}

#[derive(Clone)]
struct Fake {
    inner: Arc<Mutex<Inner>>,
    corp_id: String,
    corp_secret: String,
    app_id: String,
    app_secret: String,
}

pub struct FakeTencent {
    pub addr: SocketAddr,
    fake: Fake,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTencent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn query_map(q: Option<String>) -> HashMap<String, String> {
    url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

impl FakeTencent {
    /// Starts the fake; `corp_id`/`corp_secret` and `app_id`/`app_secret` are the
    /// credentials it accepts.
    pub async fn start(corp_id: &str, corp_secret: &str, app_id: &str, app_secret: &str) -> Self {
        // reqwest is built without a default TLS provider; tests' clients need one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let fake = Fake {
            inner: Arc::default(),
            corp_id: corp_id.into(),
            corp_secret: corp_secret.into(),
            app_id: app_id.into(),
            app_secret: app_secret.into(),
        };
        let app = Router::new()
            .route("/cgi-bin/gettoken", get(wecom_token))
            .route("/cgi-bin/token", get(wechat_token))
            .route("/cgi-bin/message/send", post(send))
            .route("/cgi-bin/message/custom/send", post(send))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeTencent { addr, fake, task }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request to `path`, in arrival order.
    pub fn requests(&self, path: &str) -> Vec<Recorded> {
        let g = self.fake.inner.lock().unwrap();
        g.requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Messages accepted (errcode 0) by `path`, as JSON.
    pub fn delivered(&self, path: &str) -> Vec<Value> {
        let g = self.fake.inner.lock().unwrap();
        g.requests
            .iter()
            .filter(|r| r.path == path && r.query.contains_key("accepted"))
            .filter_map(|r| serde_json::from_str(&r.body).ok())
            .collect()
    }

    /// Waits until `path` has accepted `n` messages (or 10 s pass) and returns them.
    pub async fn wait_delivered(&self, path: &str, n: usize) -> Vec<Value> {
        for _ in 0..400 {
            let d = self.delivered(path);
            if d.len() >= n {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.delivered(path)
    }

    /// Token fetches so far (both APIs).
    pub fn token_fetches(&self) -> usize {
        self.requests("/cgi-bin/gettoken").len() + self.requests("/cgi-bin/token").len()
    }

    /// Expires every issued token: the next call with one gets 42001.
    pub fn expire_tokens(&self) {
        let mut g = self.fake.inner.lock().unwrap();
        let all: Vec<String> = g.valid.drain().collect();
        g.expired.extend(all);
    }

    /// The next sends answer with these errcodes, in order.
    pub fn inject_send_errors(&self, codes: &[i64]) {
        self.fake
            .inner
            .lock()
            .unwrap()
            .send_errors
            .extend(codes.iter().copied());
    }
}

fn issue(f: &Fake, path: &str, q: HashMap<String, String>) -> Value {
    let mut g = f.inner.lock().unwrap();
    g.requests.push(Recorded {
        path: path.into(),
        query: q,
        body: String::new(),
    });
    g.issued += 1;
    let token = format!("TOKEN{}-{}", g.issued, "x".repeat(64));
    g.valid.insert(token.clone());
    json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})
}

async fn wecom_token(State(f): State<Fake>, RawQuery(q): RawQuery) -> Json<Value> {
    let q = query_map(q);
    if q.get("corpid") != Some(&f.corp_id) {
        return Json(json!({"errcode": 40013, "errmsg": "invalid corpid"}));
    }
    if q.get("corpsecret") != Some(&f.corp_secret) {
        return Json(json!({"errcode": 40001, "errmsg": "invalid credential"}));
    }
    Json(issue(&f, "/cgi-bin/gettoken", q))
}

async fn wechat_token(State(f): State<Fake>, RawQuery(q): RawQuery) -> Json<Value> {
    let q = query_map(q);
    if q.get("grant_type").map(String::as_str) != Some("client_credential")
        || q.get("appid") != Some(&f.app_id)
    {
        return Json(json!({"errcode": 40013, "errmsg": "invalid appid"}));
    }
    if q.get("secret") != Some(&f.app_secret) {
        return Json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}));
    }
    Json(issue(&f, "/cgi-bin/token", q))
}

async fn send(
    State(f): State<Fake>,
    uri: axum::http::Uri,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Json<Value> {
    let mut q = query_map(q);
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut g = f.inner.lock().unwrap();
    let token = q.get("access_token").cloned().unwrap_or_default();
    let answer = if g.expired.contains(&token) {
        json!({"errcode": 42001, "errmsg": "access_token expired"})
    } else if !g.valid.contains(&token) {
        json!({"errcode": 40014, "errmsg": "invalid access_token"})
    } else if let Some(code) = g.send_errors.pop_front() {
        json!({"errcode": code, "errmsg": "injected"})
    } else if serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("touser").and_then(Value::as_str).map(str::to_string))
        .is_none()
    {
        json!({"errcode": 40003, "errmsg": "invalid touser"})
    } else {
        q.insert("accepted".into(), "1".into());
        json!({"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": format!("m{}", g.requests.len())})
    };
    g.requests.push(Recorded {
        path: uri.path().to_string(),
        query: q,
        body,
    });
    Json(answer)
}
