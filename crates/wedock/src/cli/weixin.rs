//! `wedock weixin login|status|logout`.

use crate::channel::ilink::login::{self, Event, Outcome};
use crate::channel::ilink::{CONV_PREFIX, list_accounts, remove_account};
use crate::config::Config;
use clap::Subcommand;
use std::io::Write;

#[derive(Debug, Subcommand)]
pub enum WeixinCommand {
    /// Bind a personal WeChat account: shows a QR code to scan with WeChat
    Login {
        /// Local name of the account (several can be bound)
        #[arg(long, default_value = "main")]
        name: String,
    },
    /// List bound accounts and their state
    Status {
        /// Print JSON lines
        #[arg(long)]
        json: bool,
    },
    /// Forget an account (credentials, cursor, conversations)
    Logout {
        #[arg(long, default_value = "main")]
        name: String,
    },
}

pub async fn run(config: Config, cmd: WeixinCommand) -> anyhow::Result<()> {
    if let WeixinCommand::Login { name } | WeixinCommand::Logout { name } = &cmd
        && !crate::config::valid_account_name(name)
    {
        anyhow::bail!("--name must be 1-32 characters of a-z, 0-9, - and _");
    }
    let base = crate::channel::token::base_str(&config.api.ilink_base);
    let app = crate::app::build(config).await?;
    let store = app.store.as_ref();
    match cmd {
        WeixinCommand::Login { name } => {
            let mut out = std::io::stdout();
            let mut on_event = |e: &Event| {
                let _ = match e {
                    Event::Qr { url, number } => {
                        let art = login::qr_terminal(url).unwrap_or_default();
                        writeln!(
                            out,
                            "\n{art}\n请用微信扫描二维码（第 {number}/{} 个）· Scan with WeChat (QR {number} of {}):\n{url}\n",
                            login::MAX_QR,
                            login::MAX_QR
                        )
                    }
                    Event::Status(s) => writeln!(out, "status: {s} · {}", describe(s)),
                    Event::Redirect(h) => {
                        writeln!(out, "status: scaned_but_redirect · continuing on {h}")
                    }
                };
                let _ = out.flush();
            };
            let verify: login::VerifyFn = Box::new(|| {
                Box::pin(async {
                    print!("请输入手机上显示的数字 · Enter the number shown on the phone: ");
                    let _ = std::io::stdout().flush();
                    tokio::task::spawn_blocking(|| {
                        let mut line = String::new();
                        std::io::stdin().read_line(&mut line).ok().map(|_| line)
                    })
                    .await
                    .ok()
                    .flatten()
                })
            });
            match login::login(&base, store, &name, &mut on_event, Some(verify)).await? {
                Outcome::Bound(a) => println!(
                    "已绑定 · bound: account {} = bot {} for WeChat user {}",
                    a.name, a.bot_id, a.user_id
                ),
                Outcome::AlreadyBound(a) => println!(
                    "已绑定过，沿用原凭据 · already bound: account {} = bot {} (stored credentials kept)",
                    a.name, a.bot_id
                ),
            }
        }
        WeixinCommand::Status { json } => {
            let accounts = list_accounts(store).await?;
            if accounts.is_empty() && !json {
                println!(
                    "没有已绑定的个人微信账号 · no personal WeChat account bound (run `wedock weixin login`)"
                );
            }
            for a in accounts {
                let convs = store
                    .kv_scan(&format!("{}{}:", CONV_PREFIX, a.name))
                    .await?
                    .len();
                let state = match a.expired_at {
                    Some(_) => "expired",
                    None => "active",
                };
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "name": a.name, "bot_id": a.bot_id, "user_id": a.user_id,
                            "base_url": a.base_url, "state": state, "saved_at": a.saved_at,
                            "expired_at": a.expired_at, "conversations": convs,
                        })
                    );
                } else {
                    println!(
                        "{}\t{state}\tbot {}\tuser {}\t{convs} conversation(s)",
                        a.name, a.bot_id, a.user_id
                    );
                }
            }
        }
        WeixinCommand::Logout { name } => {
            if remove_account(store, &name).await? {
                println!("已解除 · removed account {name}");
            } else {
                anyhow::bail!("no account named {name:?}");
            }
        }
    }
    store.flush().await?;
    Ok(())
}

fn describe(status: &str) -> &'static str {
    match status {
        "scaned" => "已扫码，请在手机上确认 · scanned, confirm on the phone",
        "need_verifycode" => "需要输入手机上的数字 · enter the number shown on the phone",
        "verify_code_blocked" => "验证码错误次数过多，换新二维码 · too many wrong codes, new QR",
        "expired" => "二维码已过期，换新二维码 · QR expired, fetching a new one",
        "binded_redirect" => "该微信已绑定过 · this WeChat is already bound here",
        "confirmed" => "已确认 · confirmed",
        _ => "",
    }
}
