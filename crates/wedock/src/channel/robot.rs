//! WeCom group robot (消息推送 / 群机器人): outbound only. An outbox message of channel `robot`
//! has the robot's name as `target` and the exact JSON body to POST as `payload`.
//!
//! Errcodes: 0 sent; 45009 (rate limited) waits and retries; 93000 (invalid webhook) marks the
//! robot broken, dead-letters the message and reports it in `/readyz` components; any other
//! errcode dead-letters with `errcode` and `errmsg`. The webhook URL holds the robot's key and
//! is never logged.

use crate::app::App;
use crate::config::RobotConfig;
use crate::outbox::payload::{bodies, with_mentions};
use crate::outbox::{Delivery, Sender};
use crate::render::Format;
use crate::store::OutboxMessage;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The outbox channel name of group robots.
pub const CHANNEL: &str = crate::outbox::payload::GROUP_ROBOT;
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

    fn alert_format(&self, target: &str) -> Format {
        self.format(target).unwrap_or(Format::Markdown)
    }

    /// 20 messages a minute and no way to change a sent one: a burst becomes a digest.
    fn folds_bursts(&self) -> bool {
        true
    }

    fn mention_in_text(&self, format: Format, user: &str) -> Option<String> {
        (format != Format::Text).then(|| format!("<@{user}>"))
    }

    /// A text message notifies only the people in its `mentioned_list`.
    fn mention_list_format(&self) -> Option<Format> {
        Some(Format::Text)
    }

    fn text_payloads(
        &self,
        _target: &str,
        format: Format,
        content: &str,
        mentions: &[&str],
    ) -> Vec<String> {
        let parts = bodies(format, content);
        if mentions.is_empty() {
            return parts;
        }
        parts.iter().map(|b| with_mentions(b, mentions)).collect()
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
