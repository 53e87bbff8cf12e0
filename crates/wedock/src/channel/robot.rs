//! WeCom group robot (消息推送 / 群机器人): outbound only. An outbox message of channel `robot`
//! has the robot's name as `target` and the exact JSON body to POST as `payload`.
//!
//! Errcodes: 0 sent; 45009 (rate limited) waits and retries; 93000 (invalid webhook) marks the
//! robot broken, dead-letters the message and reports it in `/readyz` components; any other
//! errcode dead-letters with `errcode` and `errmsg`. The webhook URL holds the robot's key and
//! is never logged.

use crate::app::App;
use crate::config::RobotConfig;
use crate::outbox::{Delivery, Sender};
use crate::store::OutboxMessage;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The outbox channel name of group robots.
pub const CHANNEL: &str = "robot";
/// Content limit of `markdown` and `markdown_v2` messages, in UTF-8 bytes.
pub const MARKDOWN_LIMIT: usize = 4096;
/// Content limit of `text` messages, in UTF-8 bytes.
pub const TEXT_LIMIT: usize = 2048;

/// Message format of a robot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    MarkdownV2,
}

impl Format {
    pub fn parse(s: &str) -> Format {
        match s {
            "text" => Format::Text,
            "markdown_v2" => Format::MarkdownV2,
            _ => Format::Markdown,
        }
    }
    pub fn msgtype(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::MarkdownV2 => "markdown_v2",
        }
    }
    /// Content byte limit of this format.
    pub fn limit(self) -> usize {
        match self {
            Format::Text => TEXT_LIMIT,
            Format::Markdown | Format::MarkdownV2 => MARKDOWN_LIMIT,
        }
    }
}

/// The JSON bodies that carry `content`: one per part of at most the format's byte limit,
/// split at line boundaries (see [`crate::render::split_by_bytes`]). Nothing is dropped.
pub fn bodies(format: Format, content: &str) -> Vec<String> {
    crate::render::split_by_bytes(content, format.limit())
        .into_iter()
        .map(|part| body(format, &part))
        .collect()
}

/// One JSON body; `content` must already fit the limit.
pub fn body(format: Format, content: &str) -> String {
    let t = format.msgtype();
    serde_json::json!({ "msgtype": t, t: { "content": content } }).to_string()
}

/// A `text` body with `users` in its `mentioned_list` (other bodies are returned as they
/// are: only text messages have the list).
pub fn with_mentions(payload: &str, users: &[&str]) -> String {
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(payload) else {
        return payload.to_string();
    };
    match v.get_mut("text").and_then(|t| t.as_object_mut()) {
        Some(text) if payload.contains("\"msgtype\":\"text\"") => {
            text.insert("mentioned_list".into(), serde_json::json!(users));
            v.to_string()
        }
        _ => payload.to_string(),
    }
}

/// The `content` of a body built by [`body`], if it has one.
pub fn content_of(payload: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(payload).ok()?;
    let t = v.get("msgtype")?.as_str()?;
    Some(v.get(t)?.get("content")?.as_str()?.to_string())
}

struct Robot {
    url: String,
    format: Format,
    per_minute: u32,
    broken: AtomicBool,
}

/// Delivers `robot` outbox messages by POSTing them to the robot's webhook.
pub struct RobotSender {
    robots: HashMap<String, Robot>,
    client: reqwest::Client,
    /// How long to wait after errcode 45009 before trying again.
    rate_limited_wait: Duration,
    app: Option<Arc<App>>,
}

impl RobotSender {
    /// Robots from `[[wecom.robots]]`; a `key` becomes `{robot_base}/cgi-bin/webhook/send?key=KEY`.
    pub fn new(robots: &[RobotConfig], robot_base: &url::Url, rate_limited_wait: Duration) -> Self {
        let base = robot_base.as_str().trim_end_matches('/');
        let robots = robots
            .iter()
            .map(|r| {
                let url = match (&r.url, &r.key) {
                    (Some(u), _) => u.expose().to_string(),
                    (None, Some(k)) => format!("{base}/cgi-bin/webhook/send?key={}", k.expose()),
                    (None, None) => String::new(),
                };
                let robot = Robot {
                    url,
                    format: Format::parse(&r.format),
                    per_minute: r.per_minute.max(1),
                    broken: AtomicBool::new(false),
                };
                (r.name.clone(), robot)
            })
            .collect();
        // Normally installed by `cli::main`; embedders and tests may not have done it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            robots,
            client,
            rate_limited_wait,
            app: None,
        }
    }

    /// The sender for the app's config, reporting broken robots to the app's health.
    pub fn from_app(app: &Arc<App>) -> Self {
        let wait = Duration::from_millis(app.config.alerts.rate_limited_retry_ms.max(1));
        let mut s = Self::new(&app.config.wecom.robots, &app.config.api.robot_base, wait);
        s.app = Some(app.clone());
        s
    }

    /// The format of a configured robot.
    pub fn format(&self, name: &str) -> Option<Format> {
        self.robots.get(name).map(|r| r.format)
    }

    /// Whether the robot answered 93000 (invalid webhook) since start-up.
    pub fn is_broken(&self, name: &str) -> bool {
        self.robots
            .get(name)
            .is_some_and(|r| r.broken.load(Ordering::Relaxed))
    }
}

#[derive(serde::Deserialize)]
struct RobotResponse {
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

#[async_trait]
impl Sender for RobotSender {
    fn channel(&self) -> &str {
        CHANNEL
    }

    fn per_minute(&self, target: &str) -> Option<u32> {
        Some(self.robots.get(target).map_or(20, |r| r.per_minute))
    }

    async fn deliver(&self, msg: &OutboxMessage) -> Delivery {
        let Some(robot) = self.robots.get(&msg.target) else {
            return Delivery::Dead(format!("no robot named {:?} is configured", msg.target));
        };
        if robot.broken.load(Ordering::Relaxed) {
            return Delivery::Dead(format!(
                "robot {:?} is marked broken (93000 invalid webhook url); fix its key and restart",
                msg.target
            ));
        }
        let who = format!("robot {}", msg.target);
        let resp = match super::post_payload(self.client.post(&robot.url), &msg.payload, &who).await
        {
            Ok(r) => r,
            Err(retry) => return retry,
        };
        let status = resp.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Delivery::Retry {
                reason: format!("robot {}: HTTP {status}", msg.target),
                after: None,
            };
        }
        let text = resp.text().await.unwrap_or_default();
        let Ok(r) = serde_json::from_str::<RobotResponse>(&text) else {
            metrics::counter!("wedock_rejected_total", "reason" => "robot_bad_response")
                .increment(1);
            return Delivery::Retry {
                reason: format!(
                    "robot {}: HTTP {status}, unreadable answer ({} bytes)",
                    msg.target,
                    text.len()
                ),
                after: None,
            };
        };
        match r.errcode {
            0 => Delivery::Sent,
            45009 => {
                metrics::counter!("wedock_robot_rate_limited_total").increment(1);
                Delivery::Retry {
                    reason: format!("45009 {}", r.errmsg),
                    after: Some(self.rate_limited_wait),
                }
            }
            93000 => {
                robot.broken.store(true, Ordering::Relaxed);
                metrics::counter!("wedock_robot_broken_total").increment(1);
                tracing::error!(robot = %msg.target, "group robot webhook is invalid (93000); robot marked broken");
                if let Some(app) = &self.app {
                    app.health.set(
                        &format!("robot:{}", msg.target),
                        false,
                        false,
                        format!("93000 invalid webhook url: {}", r.errmsg),
                    );
                }
                Delivery::Dead(format!("93000 {}", r.errmsg))
            }
            code => Delivery::Dead(format!("errcode {code}: {}", r.errmsg)),
        }
    }
}

/// Registers the robot sender when any robot is configured.
pub fn register(app: &Arc<App>, outbox: &mut crate::outbox::Outbox) {
    if !app.config.wecom.robots.is_empty() {
        outbox.add_sender(Arc::new(RobotSender::from_app(app)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_split_at_the_format_limit_and_keep_everything() {
        let line = "容器 api-1 退出，退出码 137（被 SIGKILL 杀死）";
        let content: String = (0..300).map(|i| format!("{i} {line}\n")).collect();
        for f in [Format::Text, Format::Markdown, Format::MarkdownV2] {
            let parts = bodies(f, &content);
            assert!(parts.len() > 1);
            let mut joined = Vec::new();
            for p in &parts {
                let v: serde_json::Value = serde_json::from_str(p).unwrap();
                assert_eq!(v["msgtype"], f.msgtype());
                let c = content_of(p).unwrap();
                assert!(c.len() <= f.limit(), "{} > {}", c.len(), f.limit());
                joined.push(c);
            }
            assert_eq!(joined.join("\n"), content);
        }
    }
}
