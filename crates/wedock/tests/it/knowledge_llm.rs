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

async fn ask(base: &str, path: &str, text: &str) -> wedock::message::Reply {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("wedock.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[llm]\nbase_url = \"{base}/{path}\"\nmodel = \"test-model\"\napi_key = \"sk-test-123\"\ntimeout_ms = 400\n"
        ),
    )
    .unwrap();
    let env = vec![(
        "WEDOCK_STORE__DATA_DIR".to_string(),
        format!("\"{}\"", dir.path().join("data").display()),
    )];
    let config = Config::load(Some(&cfg_path), env).expect("config with [llm]");
    let app = wedock::cli::build_app(config).await.unwrap();
    let p = Pipeline::new(app);
    p.handle(Incoming {
        channel: "wecom".into(),
        user: "u".into(),
        chat: None,
        text: text.into(),
        msg_id: None,
        granted_role: Some(Role::Viewer),
    })
    .await
    .expect("reply")
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
