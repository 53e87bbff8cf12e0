//! QR login (`wechat-ilink.md` §4): fetch a QR, show it, follow the status long-poll
//! (`wait` → `scaned` → `confirmed`, with `scaned_but_redirect`, `need_verifycode`,
//! `verify_code_blocked`, `expired` and `binded_redirect`) and store the credentials.
//! At most three QR codes and eight minutes per login, like Tencent's own client.

use super::Account;
use super::api::{self, Client};
use crate::store::{Store, now_ms};
use futures::future::BoxFuture;
use serde::Serialize;
use std::time::{Duration, Instant};

/// QR codes per login (the first and two refreshes).
pub const MAX_QR: u32 = 3;
/// The whole login gives up after this long.
pub const DEADLINE: Duration = Duration::from_secs(480);
/// Pause between status polls that came back without news.
const POLL_PAUSE: Duration = Duration::from_secs(1);

/// What happens during a login, for the terminal or the console.
#[derive(Debug, Clone)]
pub enum Event {
    /// A QR to show (the URL to encode), numbered from 1.
    Qr { url: String, number: u32 },
    /// A status without a QR of its own: `scaned`, `need_verifycode`, `expired`, ….
    Status(String),
    /// Polling moved to another host.
    Redirect(String),
}

/// How a login ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// New credentials, stored.
    Bound(Account),
    /// The server recognised a bot already bound here; the stored token stays.
    AlreadyBound(Account),
}

/// Asks for the number the phone shows (`need_verifycode`); `None` gives up.
pub type VerifyFn = Box<dyn FnMut() -> BoxFuture<'static, Option<String>> + Send>;

/// The console's view of a login in progress (no secrets: the QR URL is for the user to
/// scan and is only served to signed-in console users).
#[derive(Debug, Clone, Serialize, Default)]
pub struct LoginView {
    pub name: String,
    pub status: String,
    pub qr_url: Option<String>,
    pub qr_svg: Option<String>,
    pub qr_number: u32,
    pub detail: String,
    pub done: bool,
    pub updated_at: i64,
}

impl LoginView {
    pub fn apply(&mut self, e: &Event) {
        match e {
            Event::Qr { url, number } => {
                self.status = "wait".into();
                self.qr_svg = qr_svg(url);
                self.qr_url = Some(url.clone());
                self.qr_number = *number;
            }
            Event::Status(s) => s.clone_into(&mut self.status),
            Event::Redirect(h) => {
                self.status = "scaned_but_redirect".into();
                self.detail = format!("continuing on {h}");
            }
        }
        self.updated_at = now_ms();
    }
}

/// `redirect_host` is a bare host: keep the scheme of the current base.
fn redirect_base(current: &str, host: &str) -> String {
    if host.contains("://") {
        return host.to_string();
    }
    let scheme = current.split_once("://").map_or("https", |(s, _)| s);
    format!("{scheme}://{host}")
}

/// Runs one login against `base` (`api.ilink_base`) and stores the result as `name`.
pub async fn login(
    base: &str,
    store: &dyn Store,
    name: &str,
    on_event: &mut (dyn FnMut(&Event) + Send),
    mut verify: Option<VerifyFn>,
) -> anyhow::Result<Outcome> {
    let http = api::http_client();
    let start = Client::new(base, None, http.clone());
    // Tokens this client holds, newest first: the server answers `binded_redirect` instead of
    // minting a duplicate bot.
    let mut accounts = super::list_accounts(store).await?;
    accounts.sort_by_key(|a| std::cmp::Reverse(a.saved_at));
    let tokens: Vec<String> = accounts
        .iter()
        .filter(|a| a.expired_at.is_none())
        .take(10)
        .map(|a| a.bot_token.clone())
        .collect();
    let started = Instant::now();
    let mut number = 0;
    'qr: loop {
        if number >= MAX_QR {
            anyhow::bail!("the QR code expired {MAX_QR} times; run the login again");
        }
        let qr = start
            .get_qrcode(&tokens)
            .await
            .map_err(|e| anyhow::anyhow!("cannot get a login QR code: {e}"))?;
        number += 1;
        on_event(&Event::Qr {
            url: qr.qrcode_img_content.clone(),
            number,
        });
        let mut poll = start.clone();
        let mut code: Option<String> = None;
        loop {
            if started.elapsed() > DEADLINE {
                anyhow::bail!("login not confirmed within {} s", DEADLINE.as_secs());
            }
            let st = poll.qrcode_status(&qr.qrcode, code.as_deref()).await;
            match st.status.as_str() {
                "scaned" => {
                    // A code just sent was accepted; do not send it again.
                    code = None;
                    on_event(&Event::Status("scaned".into()));
                }
                "scaned_but_redirect" => {
                    if let Some(h) = st.redirect_host.filter(|h| !h.is_empty()) {
                        poll = Client::new(&redirect_base(poll.base(), &h), None, http.clone());
                        on_event(&Event::Redirect(h));
                    }
                }
                "need_verifycode" => {
                    on_event(&Event::Status("need_verifycode".into()));
                    let Some(ask) = verify.as_mut() else {
                        anyhow::bail!(
                            "WeChat asks for the number shown on the phone: run `wedock weixin login` in a terminal"
                        );
                    };
                    match ask().await.map(|c| c.trim().to_string()) {
                        Some(c) if !c.is_empty() => code = Some(c),
                        _ => anyhow::bail!("no verification code given"),
                    }
                    continue;
                }
                "verify_code_blocked" | "expired" => {
                    on_event(&Event::Status(st.status.clone()));
                    continue 'qr;
                }
                "binded_redirect" => {
                    on_event(&Event::Status("binded_redirect".into()));
                    return match super::load_account(store, name).await? {
                        Some(a) => Ok(Outcome::AlreadyBound(a)),
                        None => anyhow::bail!(
                            "this WeChat account is already bound here under another name (see `wedock weixin status`)"
                        ),
                    };
                }
                "confirmed" => {
                    let (Some(token), Some(bot_id)) = (
                        st.bot_token.filter(|t| !t.is_empty()),
                        st.ilink_bot_id.filter(|b| !b.is_empty()),
                    ) else {
                        anyhow::bail!("login confirmed without a bot token or bot id");
                    };
                    let acct = Account {
                        name: name.to_string(),
                        bot_token: token,
                        bot_id,
                        base_url: st
                            .baseurl
                            .filter(|b| b.starts_with("http://") || b.starts_with("https://"))
                            .unwrap_or_else(|| start.base().to_string()),
                        user_id: st.ilink_user_id.unwrap_or_default(),
                        saved_at: now_ms(),
                        expired_at: None,
                    };
                    super::save_account(store, &acct).await?;
                    on_event(&Event::Status("confirmed".into()));
                    metrics::counter!("wedock_weixin_logins_total").increment(1);
                    return Ok(Outcome::Bound(acct));
                }
                // `wait` and anything unknown: wait.
                _ => {}
            }
            tokio::time::sleep(POLL_PAUSE).await;
        }
    }
}

/// The QR for a terminal: two rows per character, light on dark so it scans from a dark
/// terminal as well.
pub fn qr_terminal(url: &str) -> Option<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
    )
}

/// The QR as a small SVG for the console.
pub fn qr_svg(url: &str) -> Option<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    let w = code.width();
    let colors = code.to_colors();
    let size = w + 8;
    let mut path = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            path.push_str(&format!("M{} {}h1v1h-1z", i % w + 4, i / w + 4));
        }
    }
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="240" height="240" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_keeps_the_scheme() {
        assert_eq!(
            redirect_base("https://ilinkai.weixin.qq.com", "sz.ilinkai.weixin.qq.com"),
            "https://sz.ilinkai.weixin.qq.com"
        );
        assert_eq!(
            redirect_base("http://127.0.0.1:5", "127.0.0.1:6"),
            "http://127.0.0.1:6"
        );
    }

    #[test]
    fn qr_renders_for_terminal_and_svg() {
        let url = "https://liteapp.weixin.qq.com/q/7GiQu1?qrcode=3f9a1c7e5b2d48a6b0c1d2e3f4a5b6c7&bot_type=3";
        let t = qr_terminal(url).unwrap();
        assert!(t.lines().count() > 10 && t.contains('▀'));
        let s = qr_svg(url).unwrap();
        assert!(s.starts_with("<svg") && s.contains("h1v1h-1z"));
    }
}
