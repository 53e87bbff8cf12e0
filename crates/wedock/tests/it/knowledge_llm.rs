//! The optional LLM against a fake OpenAI-compatible endpoint (axum): a good answer is shown
//! with its sources; slow, failing (500) and malformed responses fall back to the plain
//! knowledge answer.

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wedock::config::Config;
use wedock::identity::Role;
use wedock::message::Incoming;
use wedock::pipeline::Pipeline;

type Seen = Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>;

async fn fake_llm() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let ok = post(
        move |headers: HeaderMap, body: axum::Json<serde_json::Value>| {
            let s = s.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                s.lock().unwrap().push((auth, body.0));
                axum::Json(serde_json::json!({
                    "id": "x", "object": "chat.completion",
                    "choices": [{"index": 0, "message": {"role": "assistant",
                      "content": "ENTRYPOINT 固定程序，CMD 给默认参数 [1]。"}, "finish_reason": "stop"}]
                }))
            }
        },
    );
    let app = Router::new()
        .route("/ok/chat/completions", ok)
        .route(
            "/slow/chat/completions",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "{}"
            }),
        )
        .route(
            "/fail/chat/completions",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/bad/chat/completions",
            post(|| async { axum::Json(serde_json::json!({"choices": "nope"})) }),
        )
        .route(
            "/html/chat/completions",
            post(|| async { "<html>oops</html>" }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

/// A pipeline whose `[llm]` points at `base_url`; the temp dir holds its store.
async fn pipeline(base_url: &str, timeout_ms: u64) -> (Pipeline, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("wedock.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[llm]\nbase_url = \"{base_url}\"\nmodel = \"test-model\"\napi_key = \"sk-test-123\"\ntimeout_ms = {timeout_ms}\n"
        ),
    )
    .unwrap();
    let env = vec![(
        "WEDOCK_STORE__DATA_DIR".to_string(),
        format!("\"{}\"", dir.path().join("data").display()),
    )];
    let config = Config::load(Some(&cfg_path), env).expect("config with [llm]");
    let app = wedock::cli::build_app(config).await.unwrap();
    (Pipeline::new(app), dir)
}

fn question(text: &str) -> Incoming {
    Incoming {
        channel: "wecom".into(),
        user: "u".into(),
        chat: None,
        text: text.into(),
        msg_id: None,
        granted_role: Some(Role::Viewer),
        role_cap: None,
    }
}

async fn ask(base: &str, path: &str, text: &str) -> wedock::message::Reply {
    let (p, _dir) = pipeline(&format!("{base}/{path}"), 400).await;
    p.handle(question(text)).await.expect("reply")
}

const Q: &str = "CMD 和 ENTRYPOINT 有什么区别";

#[tokio::test]
async fn llm_answer_is_grounded_and_cites_sources() {
    let (base, seen) = fake_llm().await;
    let r = ask(&base, "ok", Q).await;
    assert!(r.matched);
    assert!(r.reply.starts_with("ENTRYPOINT 固定程序"), "{}", r.reply);
    assert!(r.reply.contains("📚 来源："), "{}", r.reply);
    assert!(
        r.reply.contains("[1] CMD 和 ENTRYPOINT 有什么区别？"),
        "{}",
        r.reply
    );
    assert_eq!(r.sources[0].id, "docker-cmd-vs-entrypoint");
    let seen = seen.lock().unwrap();
    let (auth, body) = &seen[0];
    assert_eq!(auth.as_deref(), Some("Bearer sk-test-123"));
    assert_eq!(body["model"], "test-model");
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains("[1] CMD 和 ENTRYPOINT"),
        "passages are in the prompt: {user}"
    );
    assert!(user.ends_with(Q), "{user}");
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("不能执行任何命令"), "{system}");
}

#[tokio::test]
async fn slow_failing_and_malformed_endpoints_fall_back_to_the_plain_answer() {
    let (base, _) = fake_llm().await;
    for path in ["slow", "fail", "bad", "html", "missing"] {
        let r = ask(&base, path, Q).await;
        assert!(r.matched, "{path}");
        assert!(r.reply.starts_with("**简答：**"), "{path}: {}", r.reply);
        assert!(!r.reply.contains("📚"), "{path}");
        assert_eq!(r.sources[0].id, "docker-cmd-vs-entrypoint");
    }
}

#[tokio::test]
async fn unknown_questions_do_not_call_the_llm() {
    let (base, seen) = fake_llm().await;
    let r = ask(&base, "ok", "讲个笑话吧").await;
    assert!(!r.matched);
    assert!(seen.lock().unwrap().is_empty());
}

mod streaming {
    //! `stream: true` completions read as server-sent events, with the text so far published
    //! while it arrives; a stream that breaks or hangs falls back to the plain answer.
    use super::{Q, pipeline, question};
    use crate::support::fake_llm::{Ending, StreamingLlm};
    use std::time::Duration;
    use wedock::message::Progress;

    const PIECES: [&str; 4] = [
        "ENTRYPOINT 固定",
        "要运行的程序，",
        "CMD 给它默认参数",
        " [1]。",
    ];

    /// Runs `Q` with progress, returning the final reply and every distinct text so far.
    async fn streamed(
        llm: &StreamingLlm,
        timeout_ms: u64,
    ) -> (wedock::message::Reply, Vec<String>) {
        let (p, _dir) = pipeline(&llm.base_url, timeout_ms).await;
        let (progress, mut rx) = Progress::channel();
        let watcher = tokio::spawn(async move {
            let mut seen: Vec<String> = Vec::new();
            while rx.changed().await.is_ok() {
                seen.push(rx.borrow_and_update().clone());
            }
            seen
        });
        let reply = p
            .handle_streaming(question(Q), &progress)
            .await
            .expect("reply");
        drop(progress);
        (reply, watcher.await.unwrap())
    }

    #[tokio::test]
    async fn a_streamed_answer_is_published_as_it_arrives_and_completed_with_sources() {
        let llm = StreamingLlm::start(&PIECES, Duration::from_millis(60), Ending::Done).await;
        let (reply, seen) = streamed(&llm, 5_000).await;
        let full = PIECES.concat();
        assert!(reply.reply.starts_with(&full), "{}", reply.reply);
        assert!(reply.reply.contains("📚 来源："), "{}", reply.reply);
        // Every piece showed up, each update extending the previous one.
        assert!(seen.len() >= 3, "{seen:?}");
        for pair in seen.windows(2) {
            assert!(pair[1].starts_with(&pair[0]), "{seen:?}");
        }
        assert_eq!(seen.last().unwrap(), &full);
        let body = &llm.requests()[0];
        assert_eq!(body["stream"], true);
        assert_eq!(body["model"], "test-model");
    }

    #[tokio::test]
    async fn a_broken_or_hanging_stream_falls_back_to_the_plain_answer() {
        for ending in [Ending::Garbage, Ending::Hang] {
            let llm = StreamingLlm::start(&PIECES, Duration::from_millis(30), ending).await;
            let (reply, seen) = streamed(&llm, 800).await;
            assert!(
                reply.reply.starts_with("**简答：**"),
                "{ending:?}: {}",
                reply.reply
            );
            assert!(!reply.reply.contains("📚"), "{ending:?}");
            // The partial text was shown before the stream failed; the final reply replaces it.
            assert_eq!(
                seen.last().map(String::as_str),
                Some(PIECES.concat().as_str())
            );
        }
    }

    #[tokio::test]
    async fn without_a_progress_watcher_the_answer_is_asked_in_one_piece() {
        let llm = StreamingLlm::start(&PIECES, Duration::from_millis(10), Ending::Done).await;
        let (p, _dir) = pipeline(&llm.base_url, 5_000).await;
        let reply = p.handle(question(Q)).await.expect("reply");
        assert!(reply.reply.starts_with(&PIECES.concat()), "{}", reply.reply);
        assert_eq!(llm.requests()[0]["stream"], false);
    }
}
