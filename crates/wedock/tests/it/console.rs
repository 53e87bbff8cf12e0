//! The web console in a real headless browser (Debian's chromium): the page's own script sends
//! the message, the reply comes back through the same pipeline and is rendered.

use crate::support::TestServer;
use std::path::PathBuf;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn dump_dom(browser: &str, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.path().display()),
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
        ])
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_chats_in_a_real_browser() {
    let Some(browser) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but chromium is not installed");
        }
        eprintln!("SKIPPED console_chats_in_a_real_browser: chromium not installed");
        return;
    };
    let s = TestServer::start("").await;
    // The login link sets the session cookie and redirects to `/?q=...`.
    let url = s.url(&format!("/?token={}&q=%2Fwhoami", s.token()));
    let dom = tokio::task::spawn_blocking(move || dump_dom(browser, &url))
        .await
        .unwrap();
    // The user's message and the bot's reply are both on the page.
    assert!(dom.contains("class=\"msg me\">/whoami"), "{dom}");
    assert!(dom.contains("class=\"msg bot\""), "{dom}");
    assert!(dom.contains("admin"), "{dom}");

    // Multi-line replies keep their line breaks (pre-wrap) and the reply kind is shown.
    let url = s.url(&format!("/?token={}&q=%2Fhelp", s.token()));
    let dom = tokio::task::spawn_blocking(move || dump_dom(browser, &url))
        .await
        .unwrap();
    assert!(dom.contains("/ping"), "{dom}");
    assert!(dom.contains("command"), "{dom}");
    // Replies are inserted as text, never as HTML.
    let url = s.url(&format!("/?token={}&q=%3Cb%3Ex%3C%2Fb%3E", s.token()));
    let dom = tokio::task::spawn_blocking(move || dump_dom(browser, &url))
        .await
        .unwrap();
    assert!(dom.contains("&lt;b&gt;x&lt;/b&gt;"), "{dom}");
}

fn screenshot(browser: &str, url: &str, out: &std::path::Path, width: u32, height: u32) {
    let profile = tempfile::tempdir().unwrap();
    let status = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.path().display()),
            "--virtual-time-budget=10000",
            &format!("--window-size={width},{height}"),
            &format!("--screenshot={}", out.display()),
            url,
        ])
        .output()
        .expect("run chromium");
    assert!(status.status.success(), "{status:?}");
}

/// A knowledge answer is rendered, not shown as Markdown source: bold, code blocks (with a copy
/// button), clickable links that open safely; raw HTML in a question never becomes markup. A
/// phone-width screenshot is kept under target/artifacts/ for review.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_renders_answers_as_html() {
    let Some(browser) = chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but chromium is not installed");
        }
        eprintln!("SKIPPED console_renders_answers_as_html: chromium not installed");
        return;
    };
    let s = TestServer::start("").await;
    let q = "CMD%20%E5%92%8C%20ENTRYPOINT%20%E6%9C%89%E4%BB%80%E4%B9%88%E5%8C%BA%E5%88%AB";
    let url = s.url(&format!("/?token={}&q={q}", s.token()));
    let page = url.clone();
    let dom = tokio::task::spawn_blocking(move || dump_dom(browser, &page))
        .await
        .unwrap();
    assert!(dom.contains("<strong>简答：</strong>"), "{dom}");
    assert!(
        dom.contains("<pre><code class=\"language-dockerfile\">ENTRYPOINT"),
        "{dom}"
    );
    assert!(dom.contains("class=\"copy\""), "{dom}");
    assert!(
        dom.contains("<a href=\"https://docs.docker.com/") && dom.contains("rel=\"noopener"),
        "{dom}"
    );
    assert!(!dom.contains("**简答"), "Markdown source shown: {dom}");
    assert!(!dom.contains("```"), "Markdown source shown: {dom}");

    // Command output stays preformatted text.
    let url2 = s.url(&format!("/?token={}&q=%2Fhelp", s.token()));
    let dom = tokio::task::spawn_blocking(move || dump_dom(browser, &url2))
        .await
        .unwrap();
    assert!(
        dom.contains("<pre>可用命令") || dom.contains("<pre>Commands"),
        "{dom}"
    );

    let dir = PathBuf::from(
        std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").into()),
    )
    .join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("console-phone-360.png");
    let out = shot.clone();
    tokio::task::spawn_blocking(move || screenshot(browser, &url, &out, 360, 780))
        .await
        .unwrap();
    let bytes = std::fs::read(&shot).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    eprintln!("console screenshot at 360 px: {}", shot.display());
}
