//! An OpenAI-compatible `/v1/chat/completions` that plays a script: each request gets the
//! next scripted answer — tool calls (`choices[0].message.tool_calls`, arguments as a JSON
//! string, as OpenAI sends them) or a final text — and the last answer repeats once the
//! script is used up. Every request body is recorded, so tests can see what the model was
//! shown (tool results included) and whether tools were offered.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// One scripted answer.
pub enum Turn {
    /// Ask for these tools: (function name, arguments).
    Tools(Vec<(&'static str, Value)>),
    /// Answer with this text.
    Say(&'static str),
}

pub struct ToolLlm {
    /// `http://127.0.0.1:port/v1`, for `[llm] base_url`.
    pub base_url: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

fn answer(turn: &Turn, n: usize) -> Value {
    let message = match turn {
        Turn::Tools(calls) => json!({
            "role": "assistant",
            "content": null,
            "tool_calls": calls.iter().enumerate().map(|(i, (name, args))| json!({
                "id": format!("call_{n}_{i}"),
                "type": "function",
                "function": {"name": name, "arguments": args.to_string()},
            })).collect::<Vec<_>>(),
        }),
        Turn::Say(text) => json!({"role": "assistant", "content": text}),
    };
    let reason = if matches!(turn, Turn::Tools(_)) {
        "tool_calls"
    } else {
        "stop"
    };
    json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion",
           "choices": [{"index": 0, "message": message, "finish_reason": reason}]})
}

impl ToolLlm {
    pub async fn start(script: Vec<Turn>) -> ToolLlm {
        let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
        let seen = requests.clone();
        let script = Arc::new(script);
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(move |body: axum::Json<Value>| {
                let (seen, script) = (seen.clone(), script.clone());
                async move {
                    let n = {
                        let mut g = seen.lock().unwrap();
                        g.push(body.0);
                        g.len() - 1
                    };
                    let turn = &script[n.min(script.len() - 1)];
                    axum::Json(answer(turn, n))
                }
            }),
        );
        let addr = super::serve_local(app).await;
        ToolLlm {
            base_url: format!("http://{addr}/v1"),
            requests,
        }
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }

    /// The `role: tool` messages of the last request: what the tools answered.
    pub fn tool_results(&self) -> Vec<String> {
        self.requests()
            .last()
            .and_then(|r| r["messages"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter(|m| m["role"] == "tool")
            .filter_map(|m| m["content"].as_str().map(str::to_string))
            .collect()
    }
}
