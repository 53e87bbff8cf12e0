//! The web console in a real headless browser (Debian's chromium): the page's own script sends
//! the message, the reply comes back through the same pipeline and is rendered.

use crate::support::TestServer;
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
