//! Optional retrieval-augmented answers from an OpenAI-compatible `/chat/completions`
//! endpoint. The model sees the top passages only and is told to cite them; its text is
//! shown as is and never executed. Any failure (timeout, HTTP error, malformed reply) falls
//! back to the plain knowledge answer.
//!
//! When the channel can show a reply while it is written (the AI bot's stream replies), the
//! completion is requested with `stream: true` and read as server-sent events; the text so
//! far is published to the channel's [`Progress`]. An endpoint that ignores `stream` and
//! answers with one JSON document is accepted as well.

use super::Hit;
use crate::config::LlmConfig;
use crate::i18n::Lang;
use crate::message::{Progress, Reply};
use std::sync::OnceLock;
use std::time::Duration;

/// Longest model answer kept, in characters (a chat message must stay readable).
const MAX_ANSWER_CHARS: usize = 4000;
/// Longest passage sent per topic, in characters.
const MAX_PASSAGE_CHARS: usize = 1800;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("timed out after {0} ms")]
    Timeout(u64),
    #[error("request failed: {0}")]
    Http(String),
    #[error("endpoint answered HTTP {0}")]
    Status(u16),
    #[error("malformed response: {0}")]
    Malformed(String),
}

impl LlmError {
    fn reason(&self) -> &'static str {
        match self {
            LlmError::Timeout(_) => "timeout",
            LlmError::Http(_) => "http",
            LlmError::Status(_) => "status",
            LlmError::Malformed(_) => "malformed",
        }
    }
}

pub(crate) fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        // `wedock` installs ring at start-up; library users (tests) may not have.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default()
    })
}

/// The plain answer rewritten by the model from the top passages, or `plain` on any failure.
pub async fn improve(
    cfg: &LlmConfig,
    question: &str,
    hits: &[Hit],
    lang: Lang,
    plain: Reply,
    progress: Option<&Progress>,
) -> Reply {
    let passages: Vec<&Hit> = hits.iter().take(3).collect();
    if passages.is_empty() {
        return plain;
    }
    match ask(cfg, question, &passages, lang, progress).await {
        Ok(text) => {
            metrics::counter!("wedock_llm_requests_total", "result" => "ok").increment(1);
            let mut out = text;
            out.push_str("\n\n");
            out.push_str(t!(lang, "knowledge.sources_head"));
            for (i, h) in passages.iter().enumerate() {
                let v = h.topic.variant(lang);
                // A list, so each source stays on its own line once rendered.
                out.push_str(&format!("\n- [{}] {}", i + 1, v.title));
                if let Some(d) = &v.docs {
                    out.push_str(&format!(" — {d}"));
                }
            }
            Reply {
                reply: out,
                markdown: true,
                ..plain
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "LLM answer unavailable; using the knowledge answer");
            metrics::counter!("wedock_llm_requests_total", "result" => e.reason()).increment(1);
            plain
        }
    }
}

/// The messages sent to the model: instructions, numbered passages, the question.
pub fn prompt(question: &str, passages: &[&Hit], lang: Lang) -> serde_json::Value {
    let system = match lang {
        Lang::Zh => {
            "你是 wedock，一个 Docker / Kubernetes 运维助手。只根据下面编号的资料回答，\
             用 [1]、[2] 这样的编号标注出处；资料里没有的内容就说不知道，不要编造。\
             先给一句话简答，再给要点，适合手机阅读，不超过 300 字。\
             你不能执行任何命令，也不要声称执行过命令。用中文回答。"
        }
        Lang::En => {
            "You are wedock, a Docker / Kubernetes operations assistant. Answer only from the \
             numbered passages below and cite them as [1], [2]; if they do not contain the \
             answer, say you do not know instead of guessing. Start with a one-sentence answer, \
             then key points, readable on a phone, under 200 words. You cannot run commands \
             and must not claim to have run any. Answer in English."
        }
    };
    let mut context = String::new();
    for (i, h) in passages.iter().enumerate() {
        let v = h.topic.variant(lang);
        let body: String = v.body.chars().take(MAX_PASSAGE_CHARS).collect();
        context.push_str(&format!("[{}] {}\n{}\n\n", i + 1, v.title, body));
    }
    serde_json::json!([
        { "role": "system", "content": system },
        { "role": "user", "content": format!("{context}{}{question}", lang.pick("问题：", "Question: ")) },
    ])
}

/// One completion with a hard deadline (for the whole answer, streamed or not: a chat
/// reply cannot wait forever, and past it the plain answer replaces any partial text).
pub async fn ask(
    cfg: &LlmConfig,
    question: &str,
    passages: &[&Hit],
    lang: Lang,
    progress: Option<&Progress>,
) -> Result<String, LlmError> {
    let url = format!(
        "{}/chat/completions",
        cfg.base_url.as_str().trim_end_matches('/')
    );
    let body = serde_json::json!({
        "model": cfg.model,
        "max_tokens": cfg.max_tokens,
        "temperature": 0.2,
        "stream": progress.is_some(),
        "messages": prompt(question, passages, lang),
    });
    let mut req = client().post(url).json(&body);
    if let Some(key) = &cfg.api_key {
        req = req.bearer_auth(key.expose());
    }
    let call = async {
        let resp = req
            .send()
            .await
            .map_err(|e| LlmError::Http(e.without_url().to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(LlmError::Status(status.as_u16()));
        }
        let event_stream = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.trim_start().starts_with("text/event-stream"));
        if event_stream {
            return read_events(resp, progress).await;
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| LlmError::Http(e.without_url().to_string()))?;
        parse(&bytes)
    };
    match tokio::time::timeout(Duration::from_millis(cfg.timeout_ms.max(1)), call).await {
        Ok(r) => r,
        Err(_) => Err(LlmError::Timeout(cfg.timeout_ms)),
    }
}

/// `choices[0].message.content` of a chat completion, trimmed and bounded.
pub fn parse(bytes: &[u8]) -> Result<String, LlmError> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| LlmError::Malformed(e.to_string()))?;
    let text = v
        .pointer("/choices/0/message/content")
        .and_then(|c| c.as_str())
        .map(str::trim)
        .ok_or_else(|| LlmError::Malformed("no choices[0].message.content".to_string()))?;
    if text.is_empty() {
        return Err(LlmError::Malformed("empty content".to_string()));
    }
    Ok(text.chars().take(MAX_ANSWER_CHARS).collect())
}

/// Reads a streamed completion: `data:` events carrying `choices[0].delta.content`, ended
/// by `data: [DONE]` (or by the end of the body, which some compatible servers do instead).
async fn read_events(
    mut resp: reqwest::Response,
    progress: Option<&Progress>,
) -> Result<String, LlmError> {
    let mut events = EventReader::default();
    let mut text = String::new();
    let mut chars = 0usize;
    let mut done = false;
    while !done {
        let chunk = resp
            .chunk()
            .await
            .map_err(|e| LlmError::Http(e.without_url().to_string()))?;
        let data = match &chunk {
            Some(bytes) => events.feed(bytes)?,
            None => {
                done = true;
                events.finish()
            }
        };
        for event in data {
            match delta(&event)? {
                Delta::Done => {
                    done = true;
                    break;
                }
                Delta::Text(piece) => {
                    chars += piece.chars().count();
                    text.push_str(&piece);
                    if chars >= MAX_ANSWER_CHARS {
                        // Long enough for a chat message: stop reading (dropping the
                        // response closes the connection).
                        done = true;
                        break;
                    }
                    let so_far = text.trim_start();
                    if let Some(p) = progress.filter(|_| !so_far.is_empty()) {
                        p.update(so_far);
                    }
                }
                Delta::Nothing => {}
            }
        }
    }
    let text: String = text.trim().chars().take(MAX_ANSWER_CHARS).collect();
    if text.is_empty() {
        return Err(LlmError::Malformed("empty streamed content".to_string()));
    }
    Ok(text)
}

/// What one streamed event adds.
#[derive(Debug, PartialEq)]
enum Delta {
    Text(String),
    /// `[DONE]`: the stream is complete.
    Done,
    /// Role-only, usage-only or finish events.
    Nothing,
}

fn delta(data: &str) -> Result<Delta, LlmError> {
    if data.trim() == "[DONE]" {
        return Ok(Delta::Done);
    }
    let v: serde_json::Value =
        serde_json::from_str(data).map_err(|e| LlmError::Malformed(format!("event: {e}")))?;
    if let Some(err) = v.get("error") {
        let msg = err["message"].as_str().unwrap_or("error event");
        return Err(LlmError::Malformed(format!("error event: {msg}")));
    }
    match v.pointer("/choices/0/delta/content") {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(Delta::Text(s.clone())),
        Some(serde_json::Value::String(_) | serde_json::Value::Null) | None => Ok(Delta::Nothing),
        Some(_) => Err(LlmError::Malformed(
            "choices[0].delta.content is not a string".to_string(),
        )),
    }
}

/// Longest line an event stream may hold unterminated (a guard against a server that never
/// sends a newline).
const MAX_EVENT_LINE: usize = 256 * 1024;

/// Splits a `text/event-stream` body into the data of its events, chunk by chunk. Lines
/// are cut at `\n` before decoding, so a UTF-8 character split across chunks is never cut.
#[derive(Default)]
struct EventReader {
    pending: Vec<u8>,
    data: Option<String>,
}

impl EventReader {
    fn feed(&mut self, chunk: &[u8]) -> Result<Vec<String>, LlmError> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..end]);
            self.line(line.trim_end_matches('\r'), &mut out);
        }
        if self.pending.len() > MAX_EVENT_LINE {
            return Err(LlmError::Malformed("event line too long".to_string()));
        }
        Ok(out)
    }

    /// The body ended: an event not yet closed by a blank line still counts.
    fn finish(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            let line = String::from_utf8_lossy(&rest).into_owned();
            self.line(line.trim_end_matches('\r'), &mut out);
        }
        out.extend(self.data.take());
        out
    }

    fn line(&mut self, line: &str, out: &mut Vec<String>) {
        if line.is_empty() {
            out.extend(self.data.take());
        } else if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            }
        }
        // Comments (`:`) and the `event:`, `id:`, `retry:` fields carry nothing we use.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_completions_and_rejects_the_rest() {
        let ok = br#"{"choices":[{"message":{"role":"assistant","content":" hi [1] "}}]}"#;
        assert_eq!(parse(ok).unwrap(), "hi [1]");
        assert!(matches!(parse(b"<html>"), Err(LlmError::Malformed(_))));
        assert!(matches!(
            parse(br#"{"choices":[]}"#),
            Err(LlmError::Malformed(_))
        ));
        assert!(matches!(
            parse(br#"{"choices":[{"message":{"content":"  "}}]}"#),
            Err(LlmError::Malformed(_))
        ));
        assert!(matches!(
            parse(br#"{"choices":[{"message":{"content":42}}]}"#),
            Err(LlmError::Malformed(_))
        ));
    }

    #[test]
    fn events_are_split_across_chunks_without_cutting_characters() {
        let body = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n\
                    : keep-alive\n\n\
                    data: {\"choices\":[{\"delta\":{\"content\":\"容器\"}}]}\r\n\r\n\
                    event: message\ndata: {\"choices\":[{\"delta\":{\"content\":\" ok\"}}]}\n\n\
                    data: [DONE]\n\n";
        let bytes = body.as_bytes();
        // Every split point, including inside the three bytes of 容.
        for cut in 0..bytes.len() {
            let mut r = EventReader::default();
            let mut events = r.feed(&bytes[..cut]).unwrap();
            events.extend(r.feed(&bytes[cut..]).unwrap());
            events.extend(r.finish());
            let deltas: Vec<Delta> = events.iter().map(|e| delta(e).unwrap()).collect();
            assert_eq!(
                deltas,
                vec![
                    Delta::Nothing,
                    Delta::Text("容器".into()),
                    Delta::Text(" ok".into()),
                    Delta::Done
                ],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn an_unterminated_last_event_counts_and_bad_events_are_errors() {
        let mut r = EventReader::default();
        assert!(
            r.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}")
                .unwrap()
                .is_empty()
        );
        assert_eq!(delta(&r.finish()[0]).unwrap(), Delta::Text("x".to_string()));
        assert!(matches!(delta("not json"), Err(LlmError::Malformed(_))));
        assert!(matches!(
            delta(r#"{"error":{"message":"quota"}}"#),
            Err(LlmError::Malformed(m)) if m.contains("quota")
        ));
        assert!(matches!(
            delta(r#"{"choices":[{"delta":{"content":7}}]}"#),
            Err(LlmError::Malformed(_))
        ));
        let mut r = EventReader::default();
        assert!(r.feed(&vec![b'a'; MAX_EVENT_LINE + 1]).is_err());
    }
}
