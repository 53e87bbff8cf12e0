//! A fake Tencent platform for tests: the WeCom API (`gettoken`, `message/send`, the
//! intelligent robot's one-shot `aibot/response`) and the Official Account API (`token`,
//! `stable_token`, `message/custom/send`), faithful to the documented request and response
//! shapes (wechat-protocol.md §2.7, §3, §4.5, §4.6, §6). It records every request and can
//! inject errors: expired tokens (42001), invalid tokens (40014), tokens refused with 40001
//! that normal-mode `stable_token` still returns, a closed customer-service window (45015)
//! and arbitrary errcodes on the next sends.

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
    /// The Official Account's current stable token (§2.7: normal mode returns it again).
    stable: Option<String>,
    /// Tokens the send API refuses with 40001 although stable_token still hands them out.
    refused: HashSet<String>,
    /// Customer-service messages answer 45015 (48-hour window closed) when set.
    window_closed: bool,
    /// Template cards sent through the app, their views, response codes and updates.
    cards: super::fake_cards::Cards,
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
            .route("/cgi-bin/stable_token", post(stable_token))
            .route("/cgi-bin/aibot/response", post(aibot_response))
            .route("/cgi-bin/message/send", post(send))
            .route(
                "/cgi-bin/message/update_template_card",
                post(update_template_card),
            )
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

    /// Token fetches so far (every token API).
    pub fn token_fetches(&self) -> usize {
        self.requests("/cgi-bin/gettoken").len()
            + self.requests("/cgi-bin/token").len()
            + self.requests("/cgi-bin/stable_token").len()
    }

    /// The send APIs refuse every token issued so far with 40001, while the stable-token
    /// endpoint keeps handing the current one out in normal mode (only `force_refresh`
    /// replaces it).
    pub fn refuse_tokens(&self) {
        let mut g = self.fake.inner.lock().unwrap();
        let all: Vec<String> = g.valid.iter().cloned().collect();
        g.refused.extend(all);
    }

    /// Customer-service sends answer 45015 from now on (the user's 48-hour window closed).
    pub fn close_service_window(&self) {
        self.fake.inner.lock().unwrap().window_closed = true;
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

/// The intelligent robot's one-shot `response_url` (wechat-protocol.md §6): plain JSON,
/// usable once per response_code (the reuse errcode is invented: none is documented).
async fn aibot_response(State(f): State<Fake>, RawQuery(q): RawQuery, body: Bytes) -> Json<Value> {
    let mut q = query_map(q);
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut g = f.inner.lock().unwrap();
    let code = q.get("response_code").cloned().unwrap_or_default();
    let used = g.requests.iter().any(|r| {
        r.path == "/cgi-bin/aibot/response"
            && r.query.get("response_code") == Some(&code)
            && r.query.contains_key("accepted")
    });
    let answer = if used || code.is_empty() {
        json!({"errcode": -1, "errmsg": "response_code used or missing"})
    } else {
        q.insert("accepted".into(), "1".into());
        json!({"errcode": 0, "errmsg": "ok"})
    };
    g.requests.push(Recorded {
        path: "/cgi-bin/aibot/response".into(),
        query: q,
        body,
    });
    Json(answer)
}

async fn stable_token(State(f): State<Fake>, body: Bytes) -> Json<Value> {
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    let force = v["force_refresh"] == true;
    {
        let mut g = f.inner.lock().unwrap();
        let current = g.stable.clone().filter(|t| g.valid.contains(t));
        if v["grant_type"] != "client_credential" || v["appid"] != f.app_id.as_str() {
            return Json(json!({"errcode": 40013, "errmsg": "invalid appid"}));
        }
        if v["secret"] != f.app_secret.as_str() {
            return Json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}));
        }
        if let (Some(t), false) = (current, force) {
            g.requests.push(Recorded {
                path: "/cgi-bin/stable_token".into(),
                query: HashMap::new(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            return Json(json!({"access_token": t, "expires_in": 7000}));
        }
    }
    let mut issued = issue(&f, "/cgi-bin/stable_token", HashMap::new());
    let mut g = f.inner.lock().unwrap();
    if let Some(last) = g.requests.last_mut() {
        last.body = String::from_utf8_lossy(&body).into_owned();
    }
    g.stable = issued["access_token"].as_str().map(str::to_string);
    // The stable-token answer has no errcode on success.
    if let Some(o) = issued.as_object_mut() {
        o.remove("errcode");
        o.remove("errmsg");
    }
    Json(issued)
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
    } else if g.refused.contains(&token) {
        json!({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
    } else if g.window_closed && uri.path() == "/cgi-bin/message/custom/send" {
        json!({"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"})
    } else if let Some(code) = g.send_errors.pop_front() {
        json!({"errcode": code, "errmsg": "injected"})
    } else if serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.get("touser").and_then(Value::as_str).map(str::to_string))
        .is_none()
    {
        json!({"errcode": 40003, "errmsg": "invalid touser"})
    } else if let Some(card) = serde_json::from_str::<Value>(&body)
        .ok()
        .filter(|v| v["msgtype"] == "template_card")
    {
        let a = g.cards.send(&card);
        if a["errcode"] == 0 {
            q.insert("accepted".into(), "1".into());
        }
        a
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

async fn update_template_card(
    State(f): State<Fake>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Json<Value> {
    let q = query_map(q);
    let body = String::from_utf8_lossy(&body).into_owned();
    let mut g = f.inner.lock().unwrap();
    let token = q.get("access_token").cloned().unwrap_or_default();
    let answer = if g.expired.contains(&token) {
        json!({"errcode": 42001, "errmsg": "access_token expired"})
    } else if !g.valid.contains(&token) {
        json!({"errcode": 40014, "errmsg": "invalid access_token"})
    } else {
        match serde_json::from_str::<Value>(&body) {
            Ok(v) => g.cards.update(&v),
            Err(_) => json!({"errcode": 40058, "errmsg": "invalid parameter: body is not JSON"}),
        }
    };
    g.requests.push(Recorded {
        path: "/cgi-bin/message/update_template_card".into(),
        query: q,
        body,
    });
    Json(answer)
}

/// The card hooks: what a recipient sees, clicks, the clock.
impl FakeTencent {
    /// Cards sent so far: (msgid, recipients).
    pub fn cards(&self) -> Vec<(String, Vec<String>)> {
        let g = self.fake.inner.lock().unwrap();
        g.cards
            .cards
            .iter()
            .map(|c| (c.msgid.clone(), c.recipients.clone()))
            .collect()
    }

    /// What `user` sees of card `msgid` now.
    pub fn card_view(&self, msgid: &str, user: &str) -> Option<Value> {
        let g = self.fake.inner.lock().unwrap();
        g.cards
            .cards
            .iter()
            .find(|c| c.msgid == msgid)
            .and_then(|c| c.views.get(user).cloned())
    }

    /// `user` clicks button `key` on card `msgid`: the decrypted `template_card_event` the
    /// platform would post (with a fresh single-use ResponseCode), or why the client could
    /// not click.
    pub fn click(
        &self,
        corp_id: &str,
        msgid: &str,
        user: &str,
        key: &str,
    ) -> Result<String, String> {
        let mut g = self.fake.inner.lock().unwrap();
        let (code, task) = g.cards.click(msgid, user, key)?;
        Ok(format!(
            "<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]></EventKey><TaskId><![CDATA[{task}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[{code}]]></ResponseCode><AgentID>1000002</AgentID></xml>",
            chrono::Utc::now().timestamp()
        ))
    }

    /// Moves the fake's clock forward (response codes expire against it).
    pub fn advance_clock(&self, by: Duration) {
        self.fake.inner.lock().unwrap().cards.skew += by;
    }

    /// Every `update_template_card` call with the errcode it got.
    pub fn card_updates(&self) -> Vec<(Value, i64)> {
        self.fake.inner.lock().unwrap().cards.updates.clone()
    }
}

/// The intelligent-robot long-connection server (`fake_aibot.rs`).
#[path = "fake_aibot.rs"]
pub mod aibot;
