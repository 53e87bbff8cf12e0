//! The iLink HTTP client: request headers, the `ret`/`errcode` envelope, wire types with
//! 64-bit ids, and typed send results (`wechat-ilink.md` §3, §5, §8).

use crate::secret::Secret;
use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use std::time::Duration;

/// `iLink-App-ClientVersion`: 2.4.9 packed as `major<<16 | minor<<8 | patch` (the protocol
/// version this client follows).
const CLIENT_VERSION: u32 = (2 << 16) | (4 << 8) | 9;
/// `base_info.channel_version`.
const CHANNEL_VERSION: &str = "2.4.9";
/// Tencent's own send timeout.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// The QR status poll is a long-poll of its own; the client gives up after 35 s.
pub const QR_POLL_TIMEOUT: Duration = Duration::from_secs(35);

/// The session-expiry code, seen in `ret` or in `errcode`.
pub const SESSION_EXPIRED: i64 = -14;

/// A u64 id that arrives as a JSON number (possibly above 2^53) or as a string of digits.
/// Deserialized without ever passing through `f64`.
pub fn de_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Num(u64),
        Str(String),
        Other(Value),
    }
    // serde_json hands a u64-sized integer over as u64 even through an untagged enum; a
    // float or negative number falls to `Other` and is refused rather than rounded.
    match Option::<Id>::deserialize(d)? {
        None => Ok(None),
        Some(Id::Num(n)) => Ok(Some(n)),
        Some(Id::Str(s)) if s.trim().is_empty() => Ok(None),
        Some(Id::Str(s)) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("id is not a 64-bit unsigned integer")),
        Some(Id::Other(Value::Null)) => Ok(None),
        Some(Id::Other(_)) => Err(serde::de::Error::custom(
            "id is not a 64-bit unsigned integer",
        )),
    }
}

/// The envelope every business answer carries; a missing field counts as 0.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Envelope {
    #[serde(default)]
    pub ret: Option<i64>,
    #[serde(default)]
    pub errcode: Option<i64>,
    #[serde(default)]
    pub errmsg: Option<String>,
}

impl Envelope {
    pub fn is_ok(&self) -> bool {
        self.ret.unwrap_or(0) == 0 && self.errcode.unwrap_or(0) == 0
    }
    /// -14 in either field: the token is dead.
    pub fn session_expired(&self) -> bool {
        self.ret == Some(SESSION_EXPIRED) || self.errcode == Some(SESSION_EXPIRED)
    }
    /// The non-zero code (ret first).
    pub fn code(&self) -> i64 {
        match self.ret.unwrap_or(0) {
            0 => self.errcode.unwrap_or(0),
            r => r,
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct TextItem {
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct VoiceItem {
    /// The server's speech-to-text result.
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct MessageItem {
    #[serde(default, rename = "type")]
    pub kind: Option<i64>,
    #[serde(default)]
    pub text_item: Option<TextItem>,
    #[serde(default)]
    pub voice_item: Option<VoiceItem>,
}

/// One inbound message (`WeixinMessage`); every field is optional on the wire.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct WeixinMessage {
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub message_id: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub seq: Option<u64>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub from_user_id: Option<String>,
    #[serde(default)]
    pub to_user_id: Option<String>,
    #[serde(default)]
    pub create_time_ms: Option<i64>,
    #[serde(default)]
    pub message_type: Option<i64>,
    #[serde(default)]
    pub item_list: Vec<MessageItem>,
    #[serde(default)]
    pub context_token: Option<String>,
}

/// What a message says, in words.
pub enum Content {
    Text(String),
    /// A kind wedock does not handle yet (image, file, video): its name.
    Unsupported(&'static str),
}

impl WeixinMessage {
    /// The dedup key: `message_id`, else `client_id`, else `seq`, else a hash of sender, text
    /// and time (`wechat-ilink.md` §5.3).
    pub fn dedup_id(&self) -> String {
        if let Some(id) = self.message_id {
            return id.to_string();
        }
        if let Some(c) = self.client_id.as_deref().filter(|c| !c.is_empty()) {
            return format!("c:{c}");
        }
        if let Some(s) = self.seq {
            return format!("s:{s}");
        }
        use sha1::Digest;
        let mut h = sha1::Sha1::new();
        h.update(self.from_user_id.as_deref().unwrap_or("").as_bytes());
        h.update([0]);
        if let Content::Text(t) = self.content() {
            h.update(t.as_bytes());
        }
        h.update([0]);
        h.update(self.create_time_ms.unwrap_or(0).to_le_bytes());
        format!("h:{}", hex::encode(&h.finalize()[..12]))
    }

    /// Text items joined; a voice message's transcript counts as text.
    pub fn content(&self) -> Content {
        let mut text = Vec::new();
        let mut other = None;
        for item in &self.item_list {
            match item.kind.unwrap_or(0) {
                1 => {
                    if let Some(t) = item.text_item.as_ref().and_then(|t| t.text.as_deref()) {
                        text.push(t.to_string());
                    }
                }
                3 => match item.voice_item.as_ref().and_then(|v| v.text.as_deref()) {
                    Some(t) if !t.trim().is_empty() => text.push(t.to_string()),
                    _ => other = other.or(Some("voice")),
                },
                2 => other = other.or(Some("image")),
                4 => other = other.or(Some("file")),
                5 => other = other.or(Some("video")),
                _ => other = other.or(Some("unknown")),
            }
        }
        match (text.is_empty(), other) {
            (false, _) => Content::Text(text.join("\n")),
            (true, Some(kind)) => Content::Unsupported(kind),
            (true, None) => Content::Text(String::new()),
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct UpdatesResponse {
    #[serde(flatten)]
    pub envelope: Envelope,
    /// Raw messages: each is parsed on its own so one malformed message cannot hide the
    /// others (the server hands a message out once only).
    #[serde(default)]
    pub msgs: Vec<Value>,
    #[serde(default)]
    pub get_updates_buf: Option<String>,
    #[serde(default)]
    pub longpolling_timeout_ms: Option<i64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
struct SendResponse {
    #[serde(flatten)]
    envelope: Envelope,
    #[serde(default, deserialize_with = "de_opt_u64")]
    message_id: Option<u64>,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct QrCode {
    #[serde(default)]
    pub qrcode: String,
    /// A URL (despite the name): what the user scans.
    #[serde(default)]
    pub qrcode_img_content: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
pub struct QrStatus {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub redirect_host: Option<String>,
    #[serde(default)]
    pub bot_token: Option<String>,
    #[serde(default)]
    pub ilink_bot_id: Option<String>,
    #[serde(default)]
    pub baseurl: Option<String>,
    #[serde(default)]
    pub ilink_user_id: Option<String>,
}

/// What one `sendmessage` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendResult {
    /// A `message_id` came back: the message entered delivery.
    Delivered(u64),
    /// `ret` 0 without a `message_id` (or an empty body): accepted, not delivered.
    AcceptedUnconfirmed,
    /// `ret` -2 (window, quota or context problem).
    Rejected {
        code: i64,
        errmsg: String,
    },
    SessionExpired,
    /// The request never reached the server; safe to try again.
    Unreachable(String),
    /// Sent, but no answer was read: the outcome is unknown.
    Unknown(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("session expired (-14)")]
    SessionExpired,
    #[error("ret {code}: {errmsg}")]
    Business { code: i64, errmsg: String },
    #[error("HTTP {0}")]
    Http(u16),
    #[error("{0}")]
    Transport(String),
    #[error("timed out")]
    Timeout,
    #[error("unreadable answer: {0}")]
    Parse(String),
}

/// One account's (or the login's) view of the API.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<Secret>,
    http: reqwest::Client,
}

/// A fresh random u32 as decimal text, base64-encoded (`X-WECHAT-UIN`).
fn wechat_uin() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<u32>().to_string())
}

pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

impl Client {
    pub fn new(base: &str, token: Option<Secret>, http: reqwest::Client) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .post(self.url(path))
            .header("Content-Type", "application/json")
            .header("AuthorizationType", "ilink_bot_token")
            .header("X-WECHAT-UIN", wechat_uin())
            .header("iLink-App-Id", "bot")
            .header("iLink-App-ClientVersion", CLIENT_VERSION.to_string());
        if let Some(t) = &self.token {
            r = r.header("Authorization", format!("Bearer {}", t.expose()));
        }
        r
    }

    fn base_info() -> Value {
        json!({
            "channel_version": CHANNEL_VERSION,
            "bot_agent": concat!("wedock/", env!("CARGO_PKG_VERSION")),
        })
    }

    /// POSTs `body` (plus `base_info`) and reads a JSON answer, mapping the envelope.
    async fn call(
        &self,
        path: &str,
        mut body: Value,
        timeout: Duration,
    ) -> Result<Value, ApiError> {
        body["base_info"] = Self::base_info();
        let resp = self
            .post(path)
            .timeout(timeout)
            .body(body.to_string())
            .send()
            .await
            .map_err(map_transport)?;
        read_json(resp).await
    }

    /// One long-poll. A client-side timeout is a normal empty answer.
    pub async fn get_updates(
        &self,
        cursor: &str,
        hold: Duration,
    ) -> Result<UpdatesResponse, ApiError> {
        let body = json!({"get_updates_buf": cursor});
        match self
            .call("ilink/bot/getupdates", body, hold + Duration::from_secs(5))
            .await
        {
            Ok(v) => serde_json::from_value(v).map_err(|e| ApiError::Parse(e.to_string())),
            Err(ApiError::Timeout) => Ok(UpdatesResponse::default()),
            Err(e) => Err(e),
        }
    }

    /// Sends one text item to `to` with its latest context token.
    pub async fn send_text(
        &self,
        to: &str,
        context_token: &str,
        client_id: &str,
        text: &str,
    ) -> SendResult {
        let mut body = json!({
            "msg": {
                "from_user_id": "",
                "to_user_id": to,
                "client_id": client_id,
                "message_type": 2,
                "message_state": 2,
                "item_list": [{"type": 1, "text_item": {"text": text}}],
                "context_token": context_token,
            }
        });
        body["base_info"] = Self::base_info();
        let resp = match self
            .post("ilink/bot/sendmessage")
            .timeout(SEND_TIMEOUT)
            .body(body.to_string())
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return SendResult::Unreachable(e.without_url().to_string());
            }
            Err(e) => return SendResult::Unknown(e.without_url().to_string()),
        };
        let status = resp.status();
        if !status.is_success() {
            // A gateway error after the request left: the server may or may not have it.
            return SendResult::Unknown(format!("HTTP {}", status.as_u16()));
        }
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return SendResult::Unknown(e.without_url().to_string()),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return SendResult::AcceptedUnconfirmed;
        }
        let parsed: SendResponse = match serde_json::from_slice(&bytes) {
            Ok(p) => p,
            Err(e) => return SendResult::Unknown(format!("unreadable answer: {e}")),
        };
        classify_send(parsed)
    }

    /// A typing ticket for `user`.
    pub async fn get_config(&self, user: &str, context_token: &str) -> Result<String, ApiError> {
        let v = self
            .call(
                "ilink/bot/getconfig",
                json!({"ilink_user_id": user, "context_token": context_token}),
                Duration::from_secs(10),
            )
            .await?;
        v.get("typing_ticket")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ApiError::Parse("no typing_ticket".into()))
    }

    /// `status` 1 shows "typing…", 2 cancels it.
    pub async fn send_typing(&self, user: &str, ticket: &str, status: u8) -> Result<(), ApiError> {
        self.call(
            "ilink/bot/sendtyping",
            json!({"ilink_user_id": user, "typing_ticket": ticket, "status": status}),
            Duration::from_secs(10),
        )
        .await
        .map(|_| ())
    }

    /// `msg/notifystart` / `msg/notifystop`; failures only matter to the log.
    pub async fn notify(&self, start: bool) -> Result<(), ApiError> {
        let path = if start {
            "ilink/bot/msg/notifystart"
        } else {
            "ilink/bot/msg/notifystop"
        };
        self.call(path, json!({}), Duration::from_secs(10))
            .await
            .map(|_| ())
    }

    /// A new login QR; `local_tokens` lets the server recognise a bot already bound here.
    pub async fn get_qrcode(&self, local_tokens: &[String]) -> Result<QrCode, ApiError> {
        let resp = self
            .post("ilink/bot/get_bot_qrcode?bot_type=3")
            .timeout(Duration::from_secs(30))
            .body(json!({"local_token_list": local_tokens}).to_string())
            .send()
            .await
            .map_err(map_transport)?;
        let v = read_json(resp).await?;
        let qr: QrCode = serde_json::from_value(v).map_err(|e| ApiError::Parse(e.to_string()))?;
        if qr.qrcode.is_empty() || qr.qrcode_img_content.is_empty() {
            return Err(ApiError::Parse("no qrcode in the answer".into()));
        }
        Ok(qr)
    }

    /// One status long-poll. Transport trouble and timeouts read as `wait` (§4.3).
    pub async fn qrcode_status(&self, qrcode: &str, verify_code: Option<&str>) -> QrStatus {
        let mut q = vec![("qrcode", qrcode)];
        if let Some(c) = verify_code {
            q.push(("verify_code", c));
        }
        let resp = self
            .http
            .get(self.url("ilink/bot/get_qrcode_status"))
            .query(&q)
            .header("iLink-App-Id", "bot")
            .header("iLink-App-ClientVersion", CLIENT_VERSION.to_string())
            .timeout(QR_POLL_TIMEOUT)
            .send()
            .await;
        let wait = QrStatus {
            status: "wait".into(),
            ..QrStatus::default()
        };
        let Ok(resp) = resp else { return wait };
        if !resp.status().is_success() {
            return wait;
        }
        match resp.json::<QrStatus>().await {
            Ok(s) if !s.status.is_empty() => s,
            _ => wait,
        }
    }
}

fn map_transport(e: reqwest::Error) -> ApiError {
    if e.is_timeout() {
        ApiError::Timeout
    } else {
        ApiError::Transport(e.without_url().to_string())
    }
}

async fn read_json(resp: reqwest::Response) -> Result<Value, ApiError> {
    let status = resp.status();
    if !status.is_success() {
        return Err(ApiError::Http(status.as_u16()));
    }
    let bytes = resp.bytes().await.map_err(map_transport)?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::Parse(e.to_string()))?;
    let env: Envelope = serde_json::from_value(v.clone()).unwrap_or_default();
    if env.session_expired() {
        return Err(ApiError::SessionExpired);
    }
    if !env.is_ok() {
        return Err(ApiError::Business {
            code: env.code(),
            errmsg: env.errmsg.unwrap_or_default(),
        });
    }
    Ok(v)
}

fn classify_send(r: SendResponse) -> SendResult {
    if r.envelope.session_expired() {
        return SendResult::SessionExpired;
    }
    if !r.envelope.is_ok() {
        return SendResult::Rejected {
            code: r.envelope.code(),
            errmsg: r.envelope.errmsg.unwrap_or_default(),
        };
    }
    match r.message_id {
        Some(id) => SendResult::Delivered(id),
        None => SendResult::AcceptedUnconfirmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(json: &str) -> SendResult {
        classify_send(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn ids_above_2_pow_53_survive_as_numbers_and_strings() {
        let m: WeixinMessage =
            serde_json::from_str(r#"{"message_id":7497484083968569737,"seq":"42"}"#).unwrap();
        assert_eq!(m.message_id, Some(7_497_484_083_968_569_737));
        assert_eq!(m.seq, Some(42));
        let m: WeixinMessage =
            serde_json::from_str(r#"{"message_id":"18446744073709551615"}"#).unwrap();
        assert_eq!(m.message_id, Some(u64::MAX));
        assert_eq!(m.dedup_id(), "18446744073709551615");
        // Floats and negative numbers are refused, never rounded.
        assert!(serde_json::from_str::<WeixinMessage>(r#"{"message_id":1.5e18}"#).is_err());
        assert!(serde_json::from_str::<WeixinMessage>(r#"{"message_id":-1}"#).is_err());
        assert!(serde_json::from_str::<WeixinMessage>(r#"{"message_id":"12x"}"#).is_err());
        let m: WeixinMessage = serde_json::from_str(r#"{"message_id":null}"#).unwrap();
        assert_eq!(m.message_id, None);
    }

    #[test]
    fn send_answers_are_classified_by_delivery_truth() {
        assert_eq!(
            send(r#"{"ret":0,"message_id":7497484083968569737}"#),
            SendResult::Delivered(7_497_484_083_968_569_737)
        );
        assert_eq!(send(r#"{"ret":0}"#), SendResult::AcceptedUnconfirmed);
        assert_eq!(send("{}"), SendResult::AcceptedUnconfirmed);
        assert_eq!(
            send(r#"{"ret":-2,"errmsg":"prepare failed"}"#),
            SendResult::Rejected {
                code: -2,
                errmsg: "prepare failed".into()
            }
        );
        assert_eq!(
            send(r#"{"errcode":-14,"errmsg":"session timeout"}"#),
            SendResult::SessionExpired
        );
        assert_eq!(send(r#"{"ret":-14}"#), SendResult::SessionExpired);
    }

    #[test]
    fn content_prefers_text_and_names_other_kinds() {
        let m: WeixinMessage = serde_json::from_str(
            r#"{"item_list":[{"type":3,"voice_item":{"text":"重启 nginx"}}]}"#,
        )
        .unwrap();
        assert!(matches!(m.content(), Content::Text(t) if t == "重启 nginx"));
        let m: WeixinMessage =
            serde_json::from_str(r#"{"item_list":[{"type":2,"image_item":{}}]}"#).unwrap();
        assert!(matches!(m.content(), Content::Unsupported("image")));
        // Without any id the dedup key is still stable.
        let m: WeixinMessage = serde_json::from_str(
            r#"{"from_user_id":"u","create_time_ms":5,"item_list":[{"type":1,"text_item":{"text":"hi"}}]}"#,
        )
        .unwrap();
        assert_eq!(m.dedup_id(), m.clone().dedup_id());
        assert!(m.dedup_id().starts_with("h:"));
    }

    #[test]
    fn uin_is_base64_of_decimal_digits() {
        let u = wechat_uin();
        let raw = base64::engine::general_purpose::STANDARD.decode(u).unwrap();
        assert!(String::from_utf8(raw).unwrap().parse::<u32>().is_ok());
    }
}
