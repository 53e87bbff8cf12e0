//! Optional retrieval-augmented answers from an OpenAI-compatible `/chat/completions`
//! endpoint. The model sees the top passages only and is told to cite them; its text is
//! shown as is and never executed. Any failure (timeout, HTTP error, malformed reply) falls
//! back to the plain knowledge answer.

use super::Hit;
use crate::config::LlmConfig;
use crate::i18n::Lang;
use crate::message::Reply;
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

fn client() -> &'static reqwest::Client {
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
) -> Reply {
    let passages: Vec<&Hit> = hits.iter().take(3).collect();
    if passages.is_empty() {
        return plain;
    }
    match ask(cfg, question, &passages, lang).await {
        Ok(text) => {
            metrics::counter!("wedock_llm_requests_total", "result" => "ok").increment(1);
            let mut out = text;
            out.push_str(lang.pick("\n\n📚 来源：", "\n\n📚 Sources:"));
            for (i, h) in passages.iter().enumerate() {
                let v = h.topic.variant(lang);
                out.push_str(&format!("\n[{}] {}", i + 1, v.title));
                if let Some(d) = &v.docs {
                    out.push_str(&format!(" — {d}"));
                }
            }
            Reply {
                reply: out,
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

/// One completion with a hard deadline.
pub async fn ask(
    cfg: &LlmConfig,
    question: &str,
    passages: &[&Hit],
    lang: Lang,
) -> Result<String, LlmError> {
    let url = format!(
        "{}/chat/completions",
        cfg.base_url.as_str().trim_end_matches('/')
    );
    let body = serde_json::json!({
        "model": cfg.model,
        "max_tokens": cfg.max_tokens,
        "temperature": 0.2,
        "stream": false,
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
}
