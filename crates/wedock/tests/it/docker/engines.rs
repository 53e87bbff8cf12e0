//! Several engines: unreachable and missing ones, the console's chat, and a `tcp://` endpoint.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_engines_and_unreachable_ones() {
    if !docker_available("several_engines_and_unreachable_ones") {
        return;
    }
    ensure_image();
    let s = Scope::new("hosts");
    let app = s.run("app", &[], SERVICE);
    let bot = Bot::new(&base_config("")).await;
    let r = bot
        .say("viewer1", &format!("/docker @second ps {}", s.id))
        .await;
    let t = ok(&r);
    assert!(t.starts_with("🐳 second") && t.contains(&app), "{t}");
    let r = bot.say("viewer1", &format!("/@second ps {}", s.id)).await;
    assert!(ok(&r).starts_with("🐳 second"));
    let r = bot
        .say("viewer1", &format!("/docker logs --host second {app}"))
        .await;
    ok(&r);
    let r = bot
        .say("viewer1", &format!("/docker ps --all-hosts {}", s.id))
        .await;
    let t = ok(&r);
    assert!(
        t.contains("local") && t.contains("second") && t.contains("⚠️ down"),
        "{t}"
    );
    assert_eq!(t.matches(&app).count(), 2, "{t}");

    let r = bot
        .say("op1", &format!("/docker @second restart {app}"))
        .await;
    ok(&r);
    let r = bot.say("admin1", "/audit 1").await;
    assert!(ok(&r).contains("@second"));

    let r = bot.say("viewer1", "/docker @down ps").await;
    let t = failed(&r);
    assert!(
        t.contains("未连接 Docker 引擎") && t.contains("no Docker engine"),
        "{t}"
    );
    let r = bot.say("viewer1", "/docker @nowhere ps").await;
    assert!(failed(&r).contains("没有名为 nowhere"));
    let r = bot.say("viewer1", "/ping").await;
    assert!(ok(&r).contains("pong"), "the bot keeps running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_missing_entirely_is_reported_not_fatal() {
    let bot = Bot::new(&format!(
        "[[docker.hosts]]\nname = \"local\"\nendpoint = \"unix:///nonexistent/docker.sock\"\n{USERS}"
    ))
    .await;
    bot.say("viewer1", "hello").await;
    let r = bot.say("viewer1", "/docker ps").await;
    assert!(failed(&r).contains("No Docker engine available"));
    let r = bot.say("viewer1", "/logs api").await;
    assert!(failed(&r).contains("No Docker engine available"));
    let bot = Bot::new("[docker]\nenabled = false\n").await;
    let r = bot.admin("/docker ps").await;
    assert!(failed(&r).contains("docker.enabled = false"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_chat_runs_docker_commands() {
    if !docker_available("console_chat_runs_docker_commands") {
        return;
    }
    ensure_image();
    let s = Scope::new("console");
    let app = s.run("app", &[], SERVICE);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = crate::support::TestServer::start(&base_config("")).await;
    let v = server.chat(&format!("/docker ps {}", s.id)).await;
    assert_eq!(v["kind"], "command", "{v}");
    let text = v["reply"].as_str().unwrap_or_default();
    assert!(text.contains(&app) && text.contains("🟢 running"), "{text}");
    // The console acts as the local admin: a destructive command asks for confirmation.
    let v = server.chat(&format!("/docker rm -f {app}")).await;
    let text = v["reply"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("/confirm"), "{text}");
    let v = server.chat(&format!("/confirm {}", code_of(&text))).await;
    assert!(
        v["reply"].as_str().unwrap_or_default().contains("✅ rm"),
        "{v}"
    );
    assert!(!exists(&app));
    server.stop().await.expect("clean stop");
}

/// A plain TCP endpoint for the local engine: each connection is piped to the socket, so the
/// `tcp://` client path talks to a real engine.
async fn tcp_proxy_to_socket() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut unix) = tokio::net::UnixStream::connect("/var/run/docker.sock").await
                {
                    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_endpoint_is_a_second_engine() {
    if !docker_available("tcp_endpoint_is_a_second_engine") {
        return;
    }
    ensure_image();
    let s = Scope::new("tcp");
    let app = s.run("app", &[], SERVICE);
    let addr = tcp_proxy_to_socket().await;
    let cfg = format!(
        "[[docker.hosts]]\nname = \"sock\"\nendpoint = \"unix:///var/run/docker.sock\"\n\n\
         [[docker.hosts]]\nname = \"remote\"\nendpoint = \"tcp://{addr}\"\n{USERS}"
    );
    let bot = Bot::new(&cfg).await;
    let r = bot.say("viewer1", "/docker @remote version").await;
    let t = ok(&r);
    assert!(
        t.starts_with("🐳 remote") && t.contains("协商使用的 API: 1."),
        "{t}"
    );
    let r = bot
        .say("viewer1", &format!("/docker ps --host remote {}", s.id))
        .await;
    assert!(ok(&r).contains(&app));
    let before = docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", &app]);
    let r = bot.say("op1", &format!("/restart @remote {app}")).await;
    ok(&r);
    let after = docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", &app]);
    assert_ne!(before, after);
    let r = bot
        .say("viewer1", &format!("/ps --all-hosts {}", s.id))
        .await;
    let t = ok(&r);
    assert!(t.contains("sock") && t.contains("remote"), "{t}");
    let r = bot.say("admin1", "/audit 1").await;
    assert!(ok(&r).contains("@remote"));
}
