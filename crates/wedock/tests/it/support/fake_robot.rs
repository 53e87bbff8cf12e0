//! A fake WeCom group-robot webhook (specs/wechat-protocol.md §5): `POST
//! /cgi-bin/webhook/send?key=KEY` with a JSON body. It checks what the real one checks
//! (msgtype, non-empty content, 2048/4096-byte limits, N messages per minute per key → 45009,
//! unknown key → 93000), records every accepted post, and can be told to answer the next posts
//! of a key with a given errcode.

use axum::extract::{Query, State};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Post {
    pub key: String,
    pub msgtype: String,
    pub content: String,
    /// `text.mentioned_list`: user ids the message notifies.
    pub mentioned: Vec<String>,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    posts: Vec<Post>,
    /// Every answer given, as (key, errcode).
    answers: Vec<(String, i64)>,
    script: HashMap<String, VecDeque<(i64, String)>>,
    invalid: HashSet<String>,
    window: HashMap<String, VecDeque<Instant>>,
}

#[derive(Clone)]
pub struct FakeRobot {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    per_minute: usize,
}

impl FakeRobot {
    /// A fake that, like the real robot, allows 20 messages per minute per key.
    pub async fn start() -> FakeRobot {
        Self::start_with_limit(20).await
    }

    pub async fn start_with_limit(per_minute: usize) -> FakeRobot {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake robot");
        let addr = listener.local_addr().expect("addr");
        let fake = FakeRobot {
            addr,
            inner: Arc::default(),
            per_minute,
        };
        let app = Router::new()
            .route("/cgi-bin/webhook/send", post(send))
            .with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        fake
    }

    /// For `[api] robot_base`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next posts of `key` get `errcode` (in order), before normal handling resumes.
    pub fn inject(&self, key: &str, errcode: i64, errmsg: &str) {
        self.inner
            .lock()
            .unwrap()
            .script
            .entry(key.into())
            .or_default()
            .push_back((errcode, errmsg.into()));
    }

    /// Every post with this key is answered 93000, like a removed robot.
    pub fn invalidate(&self, key: &str) {
        self.inner.lock().unwrap().invalid.insert(key.into());
    }

    pub fn posts(&self, key: &str) -> Vec<Post> {
        let i = self.inner.lock().unwrap();
        i.posts.iter().filter(|p| p.key == key).cloned().collect()
    }

    pub fn answers(&self, key: &str) -> Vec<i64> {
        let i = self.inner.lock().unwrap();
        i.answers
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, c)| *c)
            .collect()
    }

    /// The most accepted posts of `key` inside any 60 s window (the robot's rate window).
    pub fn worst_minute(&self, key: &str) -> usize {
        let posts = self.posts(key);
        posts
            .iter()
            .map(|p| {
                posts
                    .iter()
                    .filter(|q| q.at >= p.at && q.at.duration_since(p.at) < Duration::from_secs(60))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// All accepted content of a key, joined.
    pub fn text(&self, key: &str) -> String {
        self.posts(key)
            .iter()
            .map(|p| p.content.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until `pred` holds for the accepted posts of `key`; false after `timeout`.
    pub async fn wait_for(
        &self,
        key: &str,
        timeout: Duration,
        pred: impl Fn(&[Post]) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if pred(&self.posts(key)) {
                return true;
            }
            if Instant::now() > end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn answer(inner: &mut Inner, key: &str, code: i64, msg: &str) -> Json<Value> {
    inner.answers.push((key.to_string(), code));
    Json(json!({ "errcode": code, "errmsg": msg }))
}

async fn send(
    State(f): State<FakeRobot>,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Json<Value> {
    let mut inner = f.inner.lock().unwrap();
    let Some(key) = q.get("key").cloned() else {
        return answer(&mut inner, "", 93000, "invalid webhook url, hint: [no key]");
    };
    if inner.invalid.contains(&key) {
        return answer(
            &mut inner,
            &key,
            93000,
            "invalid webhook url, more info at https://open.work.weixin.qq.com/devtool/query?e=93000",
        );
    }
    if let Some((code, msg)) = inner.script.get_mut(&key).and_then(|q| q.pop_front()) {
        return answer(&mut inner, &key, code, &msg);
    }
    let now = Instant::now();
    let w = inner.window.entry(key.clone()).or_default();
    while w
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
    {
        w.pop_front();
    }
    if w.len() >= f.per_minute {
        return answer(&mut inner, &key, 45009, "api freq out of limit");
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return answer(&mut inner, &key, 40001, "invalid json");
    };
    let msgtype = v["msgtype"].as_str().unwrap_or("").to_string();
    let limit = match msgtype.as_str() {
        "text" => 2048,
        "markdown" | "markdown_v2" => 4096,
        _ => return answer(&mut inner, &key, 40008, "invalid message type"),
    };
    let content = v[&msgtype]["content"].as_str().unwrap_or("").to_string();
    if content.is_empty() {
        return answer(&mut inner, &key, 44004, "empty content");
    }
    if content.len() > limit {
        return answer(&mut inner, &key, 45002, "content size out of limit");
    }
    let mentioned = v[&msgtype]["mentioned_list"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    inner.window.entry(key.clone()).or_default().push_back(now);
    inner.posts.push(Post {
        key: key.clone(),
        msgtype,
        content,
        mentioned,
        at: now,
    });
    answer(&mut inner, &key, 0, "ok")
}
