//! Interop with wechatpy (PyPI), an implementation nobody here wrote: it plays the WeChat /
//! WeCom server, encrypting callbacks the way Tencent does and verifying wedock's encrypted
//! replies. Skipped with a notice when python3 lacks wechatpy, unless `CI=true`.

use crate::support::TestServer;
use crate::support::fake_tencent::FakeTencent;
use std::process::Command;

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/wechat_peer.py")
}

fn wechatpy_available(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import wechatpy, requests, xmltodict, cryptography"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{test}: CI=true but python3 cannot import wechatpy (pip install -r tests/interop/requirements.txt)"
            );
        }
        eprintln!(
            "SKIPPED {test}: python3 lacks wechatpy (pip install -r tests/interop/requirements.txt)"
        );
    }
    ok
}

async fn run_peer(args: Vec<String>) -> serde_json::Value {
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script())
            .args(&args)
            .output()
            .expect("run python3")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "peer failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("peer JSON")
}

/// The peer's arguments for an Official Account `mode` against `server`, then `extra`.
fn mp_peer_args(mode: &str, server: &TestServer, extra: &[&str]) -> Vec<String> {
    use crate::channel_mp::{APP_ID, KEY, TOKEN};
    let url = server.url("/wechat/mp");
    let base = [
        mode, "--url", &url, "--token", TOKEN, "--key", KEY, "--id", APP_ID,
    ];
    base.iter().chain(extra).map(|a| a.to_string()).collect()
}

#[tokio::test]
async fn wechatpy_as_wecom_verifies_url_and_decrypts_the_reply() {
    if !wechatpy_available("wechatpy_as_wecom") {
        return;
    }
    use crate::channel_wecom::{CORP, KEY, SECRET, TOKEN, config};
    let fake = FakeTencent::start(CORP, SECRET, "wx", "s").await;
    let server = TestServer::start(&config(&fake, 3000)).await;
    let v = run_peer(
        [
            "wecom",
            "--url",
            &server.url("/wecom/app"),
            "--token",
            TOKEN,
            "--key",
            KEY,
            "--id",
            CORP,
            "--user",
            "py_user",
            "--text",
            "/whoami",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert_eq!(v["verify_status"], 200);
    assert_eq!(v["verify_ok"], true);
    assert_eq!(v["reply"]["ToUserName"], "py_user");
    assert_eq!(v["reply"]["FromUserName"], CORP);
    assert_eq!(v["reply"]["MsgType"], "text");
    assert!(
        v["reply"]["Content"]
            .as_str()
            .unwrap()
            .contains("wecom:py_user"),
        "{v}"
    );
    assert_eq!(v["tampered_status"], 403);
}

#[tokio::test]
async fn wechatpy_as_official_account_in_safe_and_plain_modes() {
    if !wechatpy_available("wechatpy_as_official_account") {
        return;
    }
    use crate::channel_mp::{APP_ID, APP_SECRET, config};
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    // One server per mode: with its EncodingAESKey the account is in safe mode, which
    // refuses plaintext; without one it is in plain mode.
    for (mode, with_key) in [("mp-safe", true), ("mp-plain", false)] {
        let server = TestServer::start(&config(&fake, 4000, with_key)).await;
        let v = run_peer(mp_peer_args(
            mode,
            &server,
            &["--user", "oPyUser", "--text", "/ping"],
        ))
        .await;
        assert_eq!(v["verify_ok"], true, "{mode}: {v}");
        assert_eq!(v["reply"]["ToUserName"], "oPyUser", "{mode}: {v}");
        assert_eq!(v["reply"]["FromUserName"], "gh_test", "{mode}: {v}");
        assert!(
            v["reply"]["Content"].as_str().unwrap().contains("pong"),
            "{mode}: {v}"
        );
    }
}

#[tokio::test]
async fn wechatpy_as_wecom_intelligent_robot_callback() {
    if !wechatpy_available("wechatpy_as_wecom_intelligent_robot") {
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (token, key) = ("aibotToken1", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR");
    let server = TestServer::start(&format!(
        "[wecom.aibot]\nmode = \"callback\"\ntoken = \"{token}\"\nencoding_aes_key = \"{key}\"\npassive_reply_ms = 3000\n"
    ))
    .await;
    let v = run_peer(
        [
            "aibot",
            "--url",
            &server.url("/wecom/aibot"),
            "--token",
            token,
            "--key",
            key,
            "--id",
            "",
            "--user",
            "py_robot_user",
            "--text",
            "/whoami",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert_eq!(v["reply"]["msgtype"], "stream", "{v}");
    assert_eq!(v["reply"]["stream"]["finish"], true, "{v}");
    assert!(
        v["reply"]["stream"]["content"]
            .as_str()
            .unwrap()
            .contains("aibot:py_robot_user"),
        "{v}"
    );
}

#[tokio::test]
async fn wechatpy_forged_official_account_requests_act_as_nobody_but_the_encrypted_sender() {
    if !wechatpy_available("wechatpy_forged_official_account_requests") {
        return;
    }
    use crate::channel_mp::{APP_ID, APP_SECRET, config};
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    for mode in ["safe", "compatible"] {
        let cfg = config(&fake, 4000, true).replace(
            "passive_reply_ms",
            &format!("mode = \"{mode}\"\npassive_reply_ms"),
        ) + "\n[identity.users]\n\"wechat:oAdmin\" = \"admin\"\n";
        let server = TestServer::start(&cfg).await;
        let args = ["--user", "oPyGuest", "--forge-user", "oAdmin"];
        let v = run_peer(mp_peer_args("mp-forge", &server, &args)).await;
        assert_eq!(v["downgrade_status"], 403, "{mode}: {v}");
        let reply = &v["forged_fields_reply"];
        match mode {
            // Safe mode wants encrypt_type=aes: the stripped request is refused.
            "safe" => assert_eq!(v["forged_fields_status"], 403, "{mode}: {v}"),
            // Compatible mode reads the Encrypt element and answers its sender, encrypted.
            _ => {
                assert_eq!(v["forged_fields_status"], 200, "{mode}: {v}");
                assert_eq!(reply["ToUserName"], "oPyGuest", "{mode}: {v}");
                let text = reply["Content"].as_str().unwrap_or_default();
                assert!(
                    text.contains("wechat:oPyGuest") && text.contains("guest"),
                    "{v}"
                );
            }
        }
    }
}
