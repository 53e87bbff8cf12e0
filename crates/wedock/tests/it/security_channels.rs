//! Attacks on the WeChat channels, against the real server: an Official Account callback
//! downgraded to plaintext, forged plaintext fields next to a genuine `Encrypt`, a URL
//! signature from an access log reused with a new body, and personal-WeChat bridge senders
//! who picked an operator's nickname or group name. Each must run nothing and gain no role.

use crate::channel_mp::{
    APP_ID, APP_SECRET, KEY, TOKEN, crypt, now, open, plain_query, post, text_xml,
};
use crate::channel_wechatbot::{post as bridge_post, source_with_alias};
use crate::support::TestServer;
use crate::support::fake_tencent::FakeTencent;

const ADMINS: &str = r#"
[identity.users]
"wechat:oAdmin" = "admin"
"#;

fn mp_config(fake: &FakeTencent, key_and_mode: &str) -> String {
    format!(
        r#"
[wechat.mp]
app_id = "{APP_ID}"
app_secret = "{APP_SECRET}"
token = "{TOKEN}"
{key_and_mode}
passive_reply_ms = 4000

[api]
wechat_base = "{base}"
wecom_base = "{base}"
{ADMINS}"#,
        base = fake.base()
    )
}

fn with_key(mode: Option<&str>) -> String {
    let mut s = format!("encoding_aes_key = \"{KEY}\"\n");
    if let Some(m) = mode {
        s.push_str(&format!("mode = \"{m}\"\n"));
    }
    s
}

/// Counted rejections of `reason` so far (the metrics registry is process-wide).
async fn rejected(server: &TestServer, reason: &str) -> u64 {
    let text = reqwest::get(server.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let needle = format!("reason=\"{reason}\"");
    text.lines()
        .filter(|l| l.starts_with("wedock_rejected_total") && l.contains(&needle))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

fn content(body: &str) -> String {
    wedock::channel::xml::parse_flat(body)
        .map(|f| f.get("Content").cloned().unwrap_or_default())
        .unwrap_or_default()
}

async fn nothing_ran(server: &TestServer, identity: &str) {
    use wedock::store::Store;
    let store = wedock::store::SqliteStore::open(&server.dir.path().join("data")).unwrap();
    assert!(store.audit_recent(10).await.unwrap().is_empty());
    assert_eq!(
        store.kv_get(&format!("confirm:{identity}")).await.unwrap(),
        None,
        "no confirmation was opened for {identity}"
    );
}

#[tokio::test]
async fn safe_mode_refuses_a_plaintext_downgrade_with_an_admins_openid() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    // No `mode`: an EncodingAESKey makes it safe mode.
    let server = TestServer::start(&mp_config(&fake, &with_key(None))).await;
    let before = rejected(&server, "downgrade").await;
    // The URL signature of a genuine request (as an access log has it) over forged XML.
    for (id, cmd) in [("101", "/docker restart web"), ("102", "/whoami")] {
        let (s, body) = post(&server, &plain_query("oAdmin"), text_xml("oAdmin", id, cmd)).await;
        assert_eq!((s, body.as_str()), (403, "downgrade"), "{cmd}");
    }
    // Claiming encryption without a msg_signature is the same downgrade.
    let mut q = plain_query("oAdmin");
    q.push(("encrypt_type".into(), "aes".into()));
    let (s, _) = post(&server, &q, text_xml("oAdmin", "103", "/whoami")).await;
    assert_eq!(s, 403);
    assert!(rejected(&server, "downgrade").await >= before + 3);
    nothing_ran(&server, "wechat:oAdmin").await;
}

/// A compatible-mode body: the attacker's plaintext fields next to the `Encrypt` element of
/// a genuine message, under that message's signatures.
fn forged_compatible(
    forged_user: &str,
    genuine: &str,
    with_encrypt_type: bool,
) -> (Vec<(String, String)>, String) {
    let mut q = plain_query(forged_user);
    let (ts, nonce) = (q[1].1.clone(), q[2].1.clone());
    let env = crypt()
        .encrypt_reply_envelope(genuine, &ts, &nonce)
        .unwrap();
    if with_encrypt_type {
        q.push(("encrypt_type".into(), "aes".into()));
    }
    q.push(("msg_signature".into(), env.msg_signature));
    let forged = text_xml(forged_user, "9999", "/whoami");
    let fields = forged
        .trim_start_matches("<xml>")
        .trim_end_matches("</xml>");
    (
        q,
        format!(
            "<xml>{fields}<Encrypt><![CDATA[{}]]></Encrypt></xml>",
            env.encrypt
        ),
    )
}

#[tokio::test]
async fn compatible_mode_acts_as_the_encrypted_sender_not_the_plaintext_one() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let server = TestServer::start(&mp_config(&fake, &with_key(Some("compatible")))).await;
    for (id, with_type) in [("201", true), ("202", false)] {
        let genuine = text_xml("oGuest", id, "/whoami");
        let (q, b) = forged_compatible("oAdmin", &genuine, with_type);
        let (s, body) = post(&server, &q, b).await;
        assert_eq!(s, 200, "encrypt_type={with_type}: {body}");
        // The reply is encrypted (it was an encrypted request) and speaks to the real sender.
        let reply = open(&body);
        assert_eq!(reply["ToUserName"], "oGuest");
        assert!(
            reply["Content"].contains("wechat:oGuest") && reply["Content"].contains("guest"),
            "{reply:?}"
        );
        assert!(!reply["Content"].contains("admin"), "{reply:?}");
    }
    // Without a valid encrypted part, a compatible-mode POST is refused.
    let (s, _) = post(
        &server,
        &plain_query("oAdmin"),
        text_xml("oAdmin", "203", "/whoami"),
    )
    .await;
    assert_eq!(s, 403);
    let (mut q, b) = forged_compatible("oAdmin", &text_xml("oGuest", "204", "/ping"), true);
    q.last_mut().unwrap().1 = "0".repeat(40);
    let (s, _) = post(&server, &q, b).await;
    assert_eq!(s, 403);
    nothing_ran(&server, "wechat:oAdmin").await;
}

#[tokio::test]
async fn plain_mode_url_signature_carries_one_body_only() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let server = TestServer::start(&mp_config(&fake, "")).await;
    let before = rejected(&server, "signature_reuse").await;
    let q = plain_query("oUser");
    let first = text_xml("oUser", "301", "/ping");
    let (s, body) = post(&server, &q, first.clone()).await;
    assert_eq!(s, 200);
    let answer = content(&body);
    assert!(answer.contains("pong"), "{body}");
    // The same (signature, timestamp, nonce) with another body: refused and counted.
    let (s, body) = post(&server, &q, text_xml("oAdmin", "302", "/whoami")).await;
    assert_eq!((s, body.as_str()), (403, "signature_reuse"));
    assert!(rejected(&server, "signature_reuse").await > before);
    // WeChat's identical retry still gets the answer of the first delivery.
    let (s, body) = post(&server, &q, first).await;
    assert_eq!(s, 200);
    assert_eq!(content(&body), answer);

    // A URL-verification signature (GET, also in access logs) cannot carry a message either.
    let ts = now();
    let nonce = "777".to_string();
    let sig = wxcrypt::plain_signature(TOKEN, &ts, &nonce);
    let r = reqwest::Client::new()
        .get(server.url("/wechat/mp"))
        .query(&[
            ("signature", sig.as_str()),
            ("timestamp", &ts),
            ("nonce", &nonce),
            ("echostr", "12345"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let q = vec![
        ("signature".to_string(), sig),
        ("timestamp".to_string(), ts),
        ("nonce".to_string(), nonce),
    ];
    let (s, _) = post(&server, &q, text_xml("oAdmin", "303", "/whoami")).await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn plain_mode_admin_in_config_is_still_a_guest() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let server = TestServer::start(&mp_config(&fake, "")).await;
    let (s, body) = post(
        &server,
        &plain_query("oAdmin"),
        text_xml("oAdmin", "401", "/whoami"),
    )
    .await;
    assert_eq!(s, 200);
    let who = content(&body);
    assert!(
        who.contains("wechat:oAdmin") && who.contains("guest"),
        "{who}"
    );
    assert!(!who.contains("admin\n") && !who.ends_with("admin"), "{who}");
    let (s, body) = post(
        &server,
        &plain_query("oAdmin"),
        text_xml("oAdmin", "402", "/docker ps"),
    )
    .await;
    assert_eq!(s, 200);
    let refused = content(&body);
    assert!(
        (refused.contains("权限不足") || refused.contains("Permission denied"))
            && refused.contains("guest"),
        "{refused}"
    );
    nothing_ran(&server, "wechat:oAdmin").await;
}

const BRIDGE_TOKEN: &str = "bridge-callback-0123456789";

fn bridge_config() -> String {
    format!(
        r#"
[gateway.wechatbot]
base_url = "http://127.0.0.1:9"
token = "gateway-token"
callback_token = "{BRIDGE_TOKEN}"

[identity.users]
"wechatbot:Alice" = "admin"
"wechatbot:alias:boss" = "admin"

[identity.groups]
"wechatbot:Ops" = "operator"
"#
    )
}

/// A text callback from a contact (name, alias) in a room (by topic) or direct.
async fn bridge_says(
    server: &TestServer,
    name: &str,
    alias: &str,
    room: Option<&str>,
    text: &str,
) -> String {
    let text = match room {
        Some(_) => format!("@wedock {text}"),
        None => text.to_string(),
    };
    let fields = vec![
        ("type", "text".to_string()),
        ("content", text),
        ("source", source_with_alias(name, alias, room)),
        ("isMentioned", if room.is_some() { "1" } else { "0" }.into()),
        ("isMsgFromSelf", "0".into()),
    ];
    let (s, v) = bridge_post(server, BRIDGE_TOKEN, &fields).await;
    assert_eq!(s, 200, "{v}");
    v["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn whoami_is(reply: &str, identity: &str, role: &str) {
    let last = reply.lines().last().unwrap_or_default();
    assert!(
        reply.contains(identity) && last.ends_with(role),
        "want {identity} as {role}: {reply}"
    );
}

#[tokio::test]
async fn bridge_nickname_alone_is_a_guest_whatever_the_config_says() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = TestServer::start(&bridge_config()).await;
    let r = bridge_says(&server, "Alice", "", None, "/whoami").await;
    whoami_is(&r, "wechatbot:Alice", "guest");
    let r = bridge_says(&server, "Alice", "", None, "/docker ps").await;
    assert!(
        (r.contains("权限不足") || r.contains("Permission denied")) && r.contains("guest"),
        "{r}"
    );
    // A nickname dressed as an alias identity is neither the alias nor shares its state.
    let r = bridge_says(&server, "alias:boss", "", None, "/whoami").await;
    whoami_is(&r, "wechatbot:nick:alias:boss", "guest");
}

#[tokio::test]
async fn bridge_group_named_like_an_operator_group_is_a_guest() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = TestServer::start(&bridge_config()).await;
    let r = bridge_says(&server, "Mallory", "", Some("Ops"), "/whoami").await;
    whoami_is(&r, "wechatbot:Mallory", "guest");
    // Even the aliased admin acts as guest in a bridge group: its name proves nothing.
    let r = bridge_says(&server, "Boss", "boss", Some("Ops"), "/whoami").await;
    whoami_is(&r, "wechatbot:alias:boss", "guest");
}

#[tokio::test]
async fn bridge_alias_identity_gets_its_configured_role() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = TestServer::start(&bridge_config()).await;
    // Whatever the contact calls themselves, the alias the bot's account set names them.
    let r = bridge_says(&server, "Someone", "boss", None, "/whoami").await;
    whoami_is(&r, "wechatbot:alias:boss", "admin");
    // Without the callback token nothing is read.
    let (s, _) = bridge_post(&server, "", &[("type", "text".into())]).await;
    assert_eq!(s, 401);
}

fn check(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wedock.toml");
    std::fs::write(&path, config).unwrap();
    let out = std::process::Command::new(crate::support::wedock_bin())
        .args(["--config", path.to_str().unwrap(), "check"])
        .env_remove("WEDOCK_CONFIG")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn wedock_check_refuses_roles_these_channels_cannot_authenticate() {
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let (ok, err) = check(&mp_config(&fake, ""));
    assert!(!ok, "plain-mode admin accepted");
    assert!(
        err.contains("identity.users.wechat:oAdmin") && err.contains("plain"),
        "{err}"
    );
    let (ok, err) = check(&bridge_config());
    assert!(!ok, "nickname roles accepted");
    assert!(
        err.contains("identity.users.wechatbot:Alice") && err.contains("nickname"),
        "{err}"
    );
    assert!(
        err.contains("identity.groups.wechatbot:Ops") && err.contains("group"),
        "{err}"
    );
    assert!(!err.contains("wechatbot:alias:boss"), "{err}");
    assert_eq!(err.lines().count(), 2, "one line each: {err}");
    // Safe mode authenticates the sender: the same admin is fine.
    let (ok, err) = check(&mp_config(&fake, &with_key(None)));
    assert!(ok, "{err}");
    // Keys named, one line.
    let (ok, err) = check(&mp_config(&fake, "mode = \"safe\""));
    assert!(
        !ok && err.contains("wechat.mp.mode") && err.lines().count() == 1,
        "{err}"
    );
    let (ok, err) = check(&bridge_config().replace(BRIDGE_TOKEN, "short"));
    assert!(
        !ok && err.contains("gateway.wechatbot.callback_token") && err.contains("16"),
        "{err}"
    );
    let no_token = bridge_config().replace(&format!("callback_token = \"{BRIDGE_TOKEN}\""), "");
    let (ok, err) = check(&no_token);
    assert!(
        !ok && err.contains("gateway.wechatbot.callback_token") && err.contains("required"),
        "{err}"
    );
}

#[tokio::test]
async fn plain_mode_signature_is_single_use_across_replicas_sharing_postgres() {
    let Some(db) = crate::store::PgDatabase::create().await else {
        return;
    };
    let fake = FakeTencent::start("ww", "s", APP_ID, APP_SECRET).await;
    let cfg = format!(
        "{}\n[store]\nbackend = \"postgres\"\npostgres_url = \"{}\"\n",
        mp_config(&fake, ""),
        db.url
    );
    let (a, b) = (TestServer::start(&cfg).await, TestServer::start(&cfg).await);
    // WeChat's delivery reaches replica A; the forged body with its signature, replica B.
    let q = plain_query("oUser");
    let genuine = text_xml("oUser", "501", "/ping");
    let (s, body) = post(&a, &q, genuine.clone()).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(&b, &q, text_xml("oAdmin", "502", "/whoami")).await;
    assert_eq!((s, body.as_str()), (403, "signature_reuse"));
    // The identical retry on B gets A's answer.
    let (s, body) = post(&b, &q, genuine).await;
    assert_eq!(s, 200);
    assert!(content(&body).contains("pong"), "{body}");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    db.drop_db().await;
}
