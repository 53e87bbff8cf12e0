//! The chat platforms' sections: WeCom (app, AI bot, group robots), the Official Account,
//! the personal-WeChat bridge, ilink accounts, and the web API.

use super::*;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WecomConfig {
    pub app: Option<WecomAppConfig>,
    pub aibot: Option<AibotConfig>,
    pub robots: Vec<RobotConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WecomAppConfig {
    pub corp_id: String,
    pub agent_id: i64,
    pub secret: ConfigSecret,
    pub token: ConfigSecret,
    pub encoding_aes_key: ConfigSecret,
    /// Passive-reply window: answers ready sooner go in the HTTP response.
    #[serde(default = "default_passive_ms")]
    pub passive_reply_ms: u64,
    /// Key rollover: the previous EncodingAESKey, still accepted (replies use whichever key
    /// opened the message). Remove it once the console shows only the new key.
    pub encoding_aes_key_previous: Option<ConfigSecret>,
    /// How replies are sent: `text` (every client, passive replies) or `markdown` (rendered
    /// by the WeCom client only; always through `message/send`, since a passive reply cannot
    /// be markdown).
    #[serde(default)]
    pub format: AppFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AppFormat {
    #[default]
    Text,
    Markdown,
}

fn default_passive_ms() -> u64 {
    3000
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AibotMode {
    #[default]
    Websocket,
    Callback,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AibotConfig {
    #[serde(default)]
    pub mode: AibotMode,
    /// Long-connection mode: bot id and secret.
    pub bot_id: Option<String>,
    pub secret: Option<ConfigSecret>,
    /// Callback mode: token and EncodingAESKey.
    pub token: Option<ConfigSecret>,
    pub encoding_aes_key: Option<ConfigSecret>,
    /// Long-connection mode: application heartbeat interval (Tencent recommends 30 s).
    #[serde(default = "default_aibot_heartbeat")]
    pub heartbeat_secs: u64,
    /// Long-connection mode: first reconnect delay; doubles up to 30 s.
    #[serde(default = "default_aibot_reconnect")]
    pub reconnect_min_ms: u64,
    /// Callback mode: answers ready sooner finish the stream in the first response; later
    /// ones are delivered on WeCom's stream refresh callbacks.
    #[serde(default = "default_aibot_passive")]
    pub passive_reply_ms: u64,
    /// Long-connection mode: while a slow answer is prepared, the open reply stream is
    /// refreshed this often (the platform closes streams idle for about 6 minutes).
    #[serde(default = "default_aibot_keepalive")]
    pub stream_keepalive_ms: u64,
    /// Long-connection mode: an answer not ready this long after the stream opened finishes
    /// the stream with a note and follows as a proactive message (`aibot_send_msg`). Kept
    /// under the platform's window (6 minutes in older documents, 10 in newer ones).
    #[serde(default = "default_aibot_stream_window")]
    pub stream_window_ms: u64,
    /// Callback mode: key rollover — the previous EncodingAESKey, still accepted.
    pub encoding_aes_key_previous: Option<ConfigSecret>,
}

fn default_aibot_passive() -> u64 {
    1000
}
fn default_aibot_keepalive() -> u64 {
    240_000
}
fn default_aibot_stream_window() -> u64 {
    330_000
}

fn default_aibot_heartbeat() -> u64 {
    30
}
fn default_aibot_reconnect() -> u64 {
    1000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotConfig {
    pub name: String,
    /// The robot key, or the full webhook URL in `url`.
    pub key: Option<ConfigSecret>,
    pub url: Option<ConfigSecret>,
    /// `text`, `markdown` or `markdown_v2`.
    #[serde(default = "default_robot_format")]
    pub format: String,
    /// Messages per minute (WeCom allows 20).
    #[serde(default = "default_robot_rate")]
    pub per_minute: u32,
}

fn default_robot_format() -> String {
    "markdown".to_string()
}
fn default_robot_rate() -> u32 {
    20
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WechatConfig {
    pub mp: Option<WechatMpConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatMpConfig {
    pub app_id: String,
    pub app_secret: ConfigSecret,
    pub token: ConfigSecret,
    /// Absent: plain mode. Present: compatible/safe mode.
    pub encoding_aes_key: Option<ConfigSecret>,
    /// `plain`, `compatible` or `safe`, as chosen in the account's console; unset: `safe` when
    /// `encoding_aes_key` is set, else `plain`. See [`WechatMpConfig::mode`].
    pub mode: Option<MpMode>,
    #[serde(default = "default_mp_passive_ms")]
    pub passive_reply_ms: u64,
    /// Key rollover: the previous EncodingAESKey, still accepted (WeChat's FAQ: keep the
    /// current and the previous key; reply with whichever opened the message).
    pub encoding_aes_key_previous: Option<ConfigSecret>,
}

fn default_mp_passive_ms() -> u64 {
    4000
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    pub wechatbot: Option<WechatbotGatewayConfig>,
}

/// The `wechatbot-webhook` personal-WeChat gateway (at the user's own risk).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatbotGatewayConfig {
    /// Base URL of the gateway, e.g. `http://wxbot:3001`.
    pub base_url: url::Url,
    /// The gateway's token for `/webhook/msg/v2?token=`.
    pub token: ConfigSecret,
    /// Shared secret expected as `?token=` on our callback: required, at least
    /// [`channels::MIN_CALLBACK_TOKEN`] characters (an `Option` only so that its absence is
    /// reported by name).
    pub callback_token: Option<ConfigSecret>,
}

/// Base URLs of every Tencent API, so tests and private gateways can point elsewhere.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub wecom_base: url::Url,
    pub wechat_base: url::Url,
    pub robot_base: url::Url,
    pub aibot_ws_url: url::Url,
    pub ilink_base: url::Url,
    /// Accepted clock skew for callback timestamps; 0 disables the check.
    pub timestamp_window_secs: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        let u = |s: &str| url::Url::parse(s).unwrap_or_else(|_| unreachable!("static URL"));
        Self {
            wecom_base: u("https://qyapi.weixin.qq.com"),
            wechat_base: u("https://api.weixin.qq.com"),
            robot_base: u("https://qyapi.weixin.qq.com"),
            aibot_ws_url: u("wss://openws.work.weixin.qq.com"),
            ilink_base: u("https://ilinkai.weixin.qq.com"),
            timestamp_window_secs: 600,
        }
    }
}

/// Personal WeChat via Tencent's official bot API (iLink), see docs/channels.md. The login
/// host is `api.ilink_base`; after a login each account uses the base URL the login returned.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeixinConfig {
    /// Poll every bound account and answer its direct messages.
    pub enabled: bool,
    /// Accounts expected to be bound (`wedock weixin login --name NAME`); accounts bound with
    /// other names at login time are served too.
    pub accounts: Vec<WeixinAccountConfig>,
    /// Bot messages allowed per user message (the server refuses the 11th with ret -2).
    pub per_inbound: u32,
    /// Replies are sent only this long after the user's last message (the server allows 24 h).
    pub window_hours: u64,
    /// Show "typing…" when an answer takes longer than this (0 = always).
    pub typing_after_ms: u64,
    /// How long the server may hold a long-poll before answering empty.
    pub long_poll_ms: u64,
    /// How often a stopped account (never bound, or session expired) looks for a new login.
    pub relogin_check_secs: u64,
    /// Where an expired session is reported (alert targets such as `robot:ops`,
    /// `wecom_app:zhangsan`).
    pub notify: Vec<String>,
}

impl Default for WeixinConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            accounts: Vec::new(),
            per_inbound: 10,
            window_hours: 23,
            typing_after_ms: 1500,
            long_poll_ms: 35_000,
            relogin_check_secs: 10,
            notify: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeixinAccountConfig {
    /// Local name of the account (`wedock weixin login --name NAME`).
    pub name: String,
}
