//! Attacks on the web console and `/api/*`, each against the real server: a visitor behind a
//! reverse proxy (every request arrives from 127.0.0.1), DNS rebinding, cross-site POSTs,
//! forged or expired tokens, readiness details, and the modes of the files on disk.

use crate::docker::{SERVICE, Scope, code_of, ensure_image, state};
use crate::support::fake_ilink::FakeIlink;
use crate::support::{TestServer, bearer_client, docker_available, free_port, wedock_bin};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use std::time::Duration;
use wedock::server::console_key::{ConsoleKey, Kind, LOGIN_TTL_SECS, now_secs};

/// A client that does not follow redirects (the login answers 303).
fn raw_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Sends the request; its status.
async fn status(req: reqwest::RequestBuilder) -> StatusCode {
    req.send().await.expect("request").status()
}

/// Logs in with `token` and returns the `Set-Cookie` value and the redirect target.
async fn login(s: &TestServer, query: &str, headers: HeaderMap) -> (String, String) {
    let r = raw_client()
        .get(s.url(&format!("/?{query}")))
        .headers(headers)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{query}");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    let location = r.headers()[LOCATION].to_str().unwrap().to_string();
    (cookie, location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxied_visitor_gets_no_admin_and_the_container_keeps_running() {
    if !docker_available("a_proxied_visitor_gets_no_admin_and_the_container_keeps_running") {
        return;
    }
    ensure_image();
    let scope = Scope::new("proxy");
    let app = scope.run("app", &[], SERVICE);
    let s = TestServer::start(&crate::docker::base_config("")).await;
    // What nginx/Caddy/frp forward: a loopback connection naming the real visitor.
    let proxied = |text: String| {
        reqwest::Client::new()
            .post(s.url("/api/chat"))
            .header("x-forwarded-for", "203.0.113.7")
            .header("x-real-ip", "203.0.113.7")
            .header("forwarded", "for=203.0.113.7;proto=https")
            .json(&json!({ "text": text }))
            .send()
    };
    let r = proxied(format!("/docker kill {app}")).await.unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    // On a server that trusted the loopback peer the reply asks for a confirmation: give it.
    if let Some(text) = body["reply"].as_str()
        && text.contains("/confirm ")
    {
        let _ = proxied(format!("/confirm {}", code_of(text))).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(state(&app), "running", "the attack stopped the container");
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("login")),
        "{body}"
    );
    // The console page itself is the login page.
    let r = reqwest::Client::new()
        .get(s.url("/"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("wedock console-url") && page.contains("docker logs"),
        "{page}"
    );
    assert!(
        page.contains("name=\"token\"") && !page.contains("api/chat"),
        "{page}"
    );
    // A signed-in user still runs commands as the local admin.
    let v = s.chat(&format!("/docker ps {}", scope.id)).await;
    assert!(
        v["reply"].as_str().unwrap_or_default().contains(&app),
        "{v}"
    );
}

#[tokio::test]
async fn dns_rebinding_hosts_are_misdirected() {
    let s = TestServer::start("").await;
    let c = reqwest::Client::new();
    for (method, path) in [("GET", "/"), ("POST", "/api/chat"), ("GET", "/api/weixin")] {
        assert_eq!(
            status(
                c.request(method.parse().unwrap(), s.url(path))
                    .header("host", "attacker.example")
                    .header("origin", "http://attacker.example")
                    .json(&json!({"text": "/whoami"}))
            )
            .await,
            StatusCode::MISDIRECTED_REQUEST,
            "{method} {path}"
        );
    }
    // Even with a valid login the name must be allowed (the token is not the only check).
    assert_eq!(
        status(
            s.client()
                .get(s.url("/"))
                .header("host", "attacker.example:8080")
        )
        .await,
        StatusCode::MISDIRECTED_REQUEST
    );
    // Health and channel callbacks are not host-checked (public domains, own signatures).
    assert_eq!(
        status(c.get(s.url("/healthz")).header("host", "bot.example.com")).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn configured_hosts_are_served_and_their_origin_may_post() {
    let s = TestServer::start("[server]\nallowed_hosts = [\"wedock.example.com\"]\n").await;
    // The configured name, and a proxy that keeps `Host: 127.0.0.1:PORT`: the browser's
    // origin is the configured name in both cases.
    let own = s.addr.to_string();
    for host in ["wedock.example.com", own.as_str()] {
        let req = s
            .client()
            .post(s.url("/api/chat"))
            .header("host", host)
            .header("origin", "https://wedock.example.com")
            .json(&json!({"text": "/ping"}));
        assert_eq!(status(req).await, StatusCode::OK, "{host}");
    }
    let req = s
        .client()
        .get(s.url("/"))
        .header("host", "other.example.com");
    assert_eq!(status(req).await, StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn a_bodyless_cross_site_weixin_login_is_refused() {
    let fake = FakeIlink::start().await;
    let data = tempfile::tempdir().unwrap();
    let s = TestServer::start(&format!(
        "[store]\ndata_dir = \"{}\"\n[api]\nilink_base = \"{}\"\n[weixin]\nenabled = true\n",
        data.path().display(),
        fake.base()
    ))
    .await;
    // What a cross-site <form method=post> or fetch(no-cors) sends: no body, a foreign Origin.
    assert_eq!(
        status(
            reqwest::Client::new()
                .post(s.url("/api/weixin/login"))
                .header("origin", "https://attacker.example")
        )
        .await,
        StatusCode::FORBIDDEN
    );
    // No Origin (an old browser, a script) and no session: refused too.
    assert_eq!(
        status(
            reqwest::Client::new()
                .post(s.url("/api/weixin/login"))
                .header("content-type", "text/plain")
                .body("x")
        )
        .await,
        StatusCode::UNAUTHORIZED
    );
    // Even signed in, a non-JSON POST (the only kind that skips the CORS preflight) is refused.
    assert_eq!(
        status(s.client().post(s.url("/api/weixin/login"))).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.qr_count(), 0, "a QR login was started");
    let v: Value = s
        .client()
        .get(s.url("/api/weixin"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["login"].is_null(), "{v}");
}

#[tokio::test]
async fn a_forged_origin_on_chat_is_forbidden() {
    let s = TestServer::start("").await;
    let (cookie, _) = login(&s, &format!("token={}", s.token()), HeaderMap::new()).await;
    let session = cookie.split(';').next().unwrap().to_string();
    let own = format!("http://{}", s.addr);
    let other_port = format!("http://127.0.0.1:{}", free_port());
    for (origin, want) in [
        ("http://attacker.example", StatusCode::FORBIDDEN),
        ("null", StatusCode::FORBIDDEN),
        (other_port.as_str(), StatusCode::FORBIDDEN),
        (own.as_str(), StatusCode::OK),
    ] {
        assert_eq!(
            status(
                reqwest::Client::new()
                    .post(s.url("/api/chat"))
                    .header("cookie", &session)
                    .header("origin", origin)
                    .json(&json!({"text": "/whoami"}))
            )
            .await,
            want,
            "Origin: {origin}"
        );
    }
}

#[tokio::test]
async fn readyz_details_need_a_login() {
    let s = TestServer::start("").await;
    let r = reqwest::get(s.url("/readyz")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"ready": true}));
    let v = s.readyz().await;
    assert_eq!(v["components"]["store"]["ready"], true, "{v}");
    // The raw secret works for long-lived scripts.
    let secret = std::fs::read_to_string(s.dir.path().join("data/console.secret")).unwrap();
    let v: Value = bearer_client(secret.trim())
        .get(s.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["components"]["store"]["ready"], true, "{v}");
}

#[tokio::test]
async fn the_login_link_sets_a_strict_cookie_and_the_console_works() {
    let s = TestServer::start("").await;
    let token = s.token();
    let (cookie, location) =
        login(&s, &format!("token={token}&q=%2Fwhoami"), HeaderMap::new()).await;
    assert_eq!(location, "/?q=%2Fwhoami");
    for attr in ["wedock_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let page = reqwest::Client::new()
        .get(s.url("/?q=%2Fwhoami"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("api/chat"));
    let v: Value = reqwest::Client::new()
        .post(s.url("/api/chat"))
        .header("cookie", &session)
        .json(&json!({"text": "/whoami"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["reply"].as_str().unwrap_or_default().contains("admin"),
        "{v}"
    );
    // The token is reusable until it expires; behind TLS the cookie is Secure.
    let mut https = HeaderMap::new();
    https.insert("x-forwarded-proto", "https".parse().unwrap());
    let (cookie, location) = login(&s, &format!("token={token}"), https).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert_eq!(location, "/");
    // Scripts: the session value works as a bearer too.
    let value = session.trim_start_matches("wedock_session=");
    assert_eq!(
        status(
            bearer_client(value)
                .post(s.url("/api/chat"))
                .json(&json!({"text": "/ping"}))
        )
        .await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn expired_forged_and_garbled_tokens_are_refused() {
    let s = TestServer::start("").await;
    let expired = s.key.mint(Kind::Login, now_secs() - LOGIN_TTL_SECS - 60);
    let stranger =
        ConsoleKey::new(wedock::secret::Secret::new("x".repeat(64))).mint(Kind::Login, now_secs());
    let good = s.token();
    // One character of the signature changed: its first, so it always carries MAC bits (the
    // last base64 character may hold only padding bits) and is never changed to itself.
    let cut = good.rfind('.').unwrap() + 1;
    let first = good[cut..].chars().next().unwrap();
    let other = if first == 'A' { 'B' } else { 'A' };
    let tampered = format!("{}{other}{}", &good[..cut], &good[cut + 1..]);
    for bad in [
        expired.as_str(),
        &stranger,
        &tampered,
        "garbled",
        "wdt.1.2.3",
    ] {
        let r = raw_client()
            .get(s.url(&format!("/?token={bad}&q=x")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{bad}");
        assert!(r.headers().get(SET_COOKIE).is_none(), "{bad}");
        assert!(r.text().await.unwrap().contains("name=\"token\""));
        assert_eq!(
            status(
                bearer_client(bad)
                    .post(s.url("/api/chat"))
                    .json(&json!({"text": "/whoami"}))
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "{bad}"
        );
        assert_eq!(
            status(
                reqwest::Client::new()
                    .post(s.url("/api/chat"))
                    .header("cookie", format!("wedock_session={bad}"))
                    .json(&json!({"text": "/whoami"}))
            )
            .await,
            StatusCode::UNAUTHORIZED,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn metrics_can_move_to_their_own_listener() {
    let port = free_port();
    let s = TestServer::start(&format!(
        "[server]\nmetrics_listen = \"127.0.0.1:{port}\"\n"
    ))
    .await;
    let r = reqwest::get(s.url("/metrics")).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let m = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("wedock_"), "{m}");
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `wedock serve` under `umask`, until /healthz answers; the log goes to `log`.
#[cfg(unix)]
async fn serve_with_umask(
    umask: &str,
    cfg: &std::path::Path,
    log: &std::path::Path,
    port: u16,
) -> std::process::Child {
    // reqwest needs the TLS provider even for plain HTTP, and this test may be the first of
    // its process to build a client.
    crate::support::init();
    let mut child = std::process::Command::new("sh")
        .args([
            "-c",
            &format!("umask {umask} && exec \"$0\" serve --config \"$1\""),
            &wedock_bin().display().to_string(),
            &cfg.display().to_string(),
        ])
        .env("WEDOCK_DOCKER__ENABLED", "false")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("spawn wedock");
    for _ in 0..400 {
        if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "wedock did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_files_are_private_whatever_the_umask_and_the_login_url_works() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let cfg = dir.path().join("wedock.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n[store]\ndata_dir = \"{}\"\n",
            data.display()
        ),
    )
    .unwrap();
    let log = dir.path().join("log");
    let db = data.join("wedock.sqlite3");
    let files = [
        db.clone(),
        data.join("wedock.sqlite3-wal"),
        data.join("wedock.sqlite3-shm"),
        data.join("console.secret"),
    ];

    let mut child = serve_with_umask("000", &cfg, &log, port).await;
    assert_eq!(mode(&data), 0o700);
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // The log holds a login URL (like Jupyter); it is reusable and `console-url` makes more.
    let text = std::fs::read_to_string(&log).unwrap();
    let prefix = format!("http://127.0.0.1:{port}/?token=");
    let url = text
        .split_whitespace()
        .find(|w| w.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no login URL in the log: {text}"))
        .to_string();
    let out = std::process::Command::new(wedock_bin())
        .args(["console-url", "--config", &cfg.display().to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let fresh = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(fresh.starts_with(&prefix) && fresh != url, "{fresh}");
    for u in [&url, &url, &fresh] {
        let r = raw_client().get(u).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{u}");
    }
    let _ = child.kill();
    let _ = child.wait();

    // Files left loose by an older version (or a copied backup) are tightened at start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    for f in &files {
        if f.exists() {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o666)).unwrap();
        }
    }
    let mut child = serve_with_umask("022", &cfg, &log, port).await;
    assert_eq!(mode(&data), 0o700);
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // The same secret: the URL from the first start still logs in.
    let r = raw_client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn check_names_bad_console_keys() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, key, why) in [
        (
            "[server]\nallowed_hosts = [\"https://x.example/\"]\n",
            "server.allowed_hosts[0]",
            "not a host name",
        ),
        (
            "[server]\nallowed_hosts = [\"::1\"]\n",
            "server.allowed_hosts[0]",
            "brackets",
        ),
        (
            "[server]\nmetrics_listen = \"localhost\"\n",
            "server.metrics_listen",
            "",
        ),
        (
            "[server]\nmetrics_listen = \"127.0.0.1:8080\"\n",
            "server.metrics_listen",
            "differ",
        ),
        (
            "[server]\nconsole_secret = \"short\"\n",
            "server.console_secret",
            "16",
        ),
    ] {
        let p = dir.path().join("c.toml");
        std::fs::write(&p, toml).unwrap();
        let out = std::process::Command::new(wedock_bin())
            .args(["check", "--config", &p.display().to_string()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(key) && err.contains(why), "{toml}: {err}");
    }
}
