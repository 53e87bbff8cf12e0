//! An OpenAI-compatible `/v1/chat/completions` that streams its answer the way OpenAI-style
//! servers do when asked with `"stream": true`: `text/event-stream`, a role-only event first,
//! then one `choices[0].delta.content` piece every `gap`, then `data: [DONE]`. Asked without
//! `stream`, it answers the whole text as one completion. Every request body is recorded.

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the stream ends after its pieces.
#[derive(Clone, Copy, Debug)]
pub enum Ending {
    /// `data: [DONE]`, as it should.
    Done,
    /// An event that is not JSON: a broken proxy or server.
    Garbage,
    /// Nothing more, connection left open: a server that hangs.
    Hang,
}

pub struct StreamingLlm {
    /// `http://127.0.0.1:port/v1`, for `[llm] base_url`.
    pub base_url: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl StreamingLlm {
    pub async fn start(pieces: &[&str], gap: Duration, ending: Ending) -> StreamingLlm {
        let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
        let seen = requests.clone();
        let pieces: Arc<Vec<String>> = Arc::new(pieces.iter().map(|p| p.to_string()).collect());
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(move |body: axum::Json<Value>| {
                let seen = seen.clone();
                let pieces = pieces.clone();
                async move {
                    let wants_stream = body.0["stream"] == true;
                    seen.lock().unwrap().push(body.0);
                    if wants_stream {
                        event_stream(pieces, gap, ending)
                    } else {
                        axum::Json(json!({"choices": [{"index": 0, "message":
                            {"role": "assistant", "content": pieces.concat()},
                            "finish_reason": "stop"}]}))
                        .into_response()
                    }
                }
            }),
        );
        let addr = super::serve_local(app).await;
        StreamingLlm {
            base_url: format!("http://{addr}/v1"),
            requests,
        }
    }

    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

fn event_stream(pieces: Arc<Vec<String>>, gap: Duration, ending: Ending) -> Response {
    let event = |delta: Value| {
        let chunk = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                           "choices": [{"index": 0, "delta": delta, "finish_reason": null}]});
        format!("data: {chunk}\n\n")
    };
    let mut events = vec![(Duration::ZERO, event(json!({"role": "assistant"})))];
    events.extend(pieces.iter().map(|p| (gap, event(json!({"content": p})))));
    match ending {
        Ending::Done => events.push((gap, "data: [DONE]\n\n".to_string())),
        Ending::Garbage => events.push((gap, "data: <html>502</html>\n\n".to_string())),
        Ending::Hang => events.push((Duration::from_secs(3600), String::new())),
    }
    let stream = futures::stream::unfold(events.into_iter(), |mut it| async move {
        let (wait, text) = it.next()?;
        tokio::time::sleep(wait).await;
        Some((Ok::<_, std::io::Error>(text), it))
    });
    (
        [(CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}
