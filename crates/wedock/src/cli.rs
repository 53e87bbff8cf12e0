//! The command line: `serve`, `ask`, `chat`, `check`, `version`, `healthcheck`, `kb`, `weixin`,
//! `console-url`.

mod kb;
mod weixin;

use crate::config::Config;
use crate::message::Incoming;
use crate::pipeline::Pipeline;
use clap::{Parser, Subcommand};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "wedock",
    about = "Self-hosted WeChat / WeCom bot for Docker and Kubernetes teams\n自托管的微信 / 企业微信 Docker 与 Kubernetes 运维机器人",
    version = env!("CARGO_PKG_VERSION"),
    long_version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("WEDOCK_GIT_COMMIT"), ")"),
    propagate_version = true
)]
pub struct Cli {
    /// Config file (TOML). Without one, built-in defaults apply.
    #[arg(long, short, global = true, env = "WEDOCK_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. `info`, `debug`, `wedock=trace`
    #[arg(long, global = true, env = "WEDOCK_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: CliCommand,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Run the bot: HTTP server, channels, alert sources and outbox delivery
    Serve,
    /// Answer one message (question or /command) and exit
    Ask {
        /// Print one JSON object: {"reply","kind","matched","sources"}
        #[arg(long)]
        json: bool,
        /// The message; several words are joined with spaces
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true, trailing_var_arg = true)]
        text: Vec<String>,
    },
    /// Interactive chat session in the terminal
    Chat,
    /// Validate a config file and exit non-zero naming the offending key
    Check,
    /// Print version and git commit
    Version,
    /// Exit 0 when the server answers /healthz (for container HEALTHCHECK)
    Healthcheck {
        /// Address of the server; defaults to server.listen from the config
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<String>,
    },
    /// Print a fresh login URL for the web console (valid 24 h; no running server needed)
    ConsoleUrl,
    /// Maintain the knowledge base
    #[command(subcommand)]
    Kb(KbCommand),
    /// Personal WeChat through Tencent's bot API: login (QR), status, logout
    #[command(subcommand)]
    Weixin(weixin::WeixinCommand),
}

#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// List every topic (built-in and from knowledge.dirs)
    List {
        /// Print JSON lines
        #[arg(long)]
        json: bool,
    },
    /// Search the knowledge base and show scores
    Search {
        /// Print JSON
        #[arg(long)]
        json: bool,
        #[arg(required = true, num_args = 1..)]
        query: Vec<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log.as_deref(), matches!(cli.command, CliCommand::Serve));
    let _ = rustls::crypto::ring::default_provider().install_default();
    match cli.command {
        CliCommand::Version => {
            println!("{}", crate::version_string());
            ExitCode::SUCCESS
        }
        CliCommand::ConsoleUrl => match load_config(cli.config.as_deref()) {
            Ok(config) => match crate::server::console_key::ConsoleKey::load(&config) {
                Ok(key) => {
                    println!("{}", key.login_url(config.server.listen));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            },
            Err(code) => code,
        },
        CliCommand::Check => match load_config(cli.config.as_deref()) {
            Ok(cfg) if !cfg.unenforceable_roles().is_empty() => {
                for e in cfg.unenforceable_roles() {
                    eprintln!("error: {e}");
                }
                ExitCode::from(2)
            }
            Ok(_) => {
                match &cli.config {
                    Some(p) => println!("config OK: {}", p.display()),
                    None => println!("config OK (no file: built-in defaults)"),
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        command => {
            let config = match load_config(cli.config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let result = rt.block_on(async move {
                match command {
                    CliCommand::Serve => crate::serve::run(config).await,
                    CliCommand::Ask { json, text } => ask(config, &text.join(" "), json).await,
                    CliCommand::Chat => chat(config).await,
                    CliCommand::Healthcheck { addr } => healthcheck(config, addr).await,
                    CliCommand::Kb(kb) => kb::run(&config, kb),
                    CliCommand::Weixin(w) => weixin::run(config, w).await,
                    CliCommand::Version | CliCommand::Check | CliCommand::ConsoleUrl => Ok(()),
                }
            });
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn load_config(path: Option<&std::path::Path>) -> Result<Config, ExitCode> {
    Config::load(path, std::env::vars()).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn init_tracing(filter: Option<&str>, serving: bool) {
    let default = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_new(filter.unwrap_or(default))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Opens the store and knowledge base: the same brain for serve, ask and chat.
pub use crate::app::build as build_app;

async fn ask(config: Config, text: &str, json: bool) -> anyhow::Result<()> {
    let app = build_app(config).await?;
    let pipeline = Pipeline::new(app.clone());
    let msg = Incoming::local(
        "cli",
        app.policy.local_user(),
        app.policy.local_role(),
        text,
    );
    let reply = pipeline.handle(msg).await;
    let mut out = std::io::stdout().lock();
    match (reply, json) {
        (Some(r), true) => writeln!(out, "{}", serde_json::to_string(&r)?)?,
        (Some(r), false) => writeln!(out, "{}", r.reply)?,
        (None, true) => writeln!(
            out,
            "{}",
            serde_json::json!({"reply": "", "kind": "unknown", "matched": false, "sources": []})
        )?,
        (None, false) => {}
    }
    app.store.flush().await?;
    Ok(())
}

async fn chat(config: Config) -> anyhow::Result<()> {
    let app = build_app(config).await?;
    let pipeline = Pipeline::new(app.clone());
    let stdin = std::io::stdin();
    let interactive = std::io::IsTerminal::is_terminal(&stdin);
    if interactive {
        println!(
            "wedock {} — 输入问题或 /help，Ctrl-D 退出 · type a question or /help, Ctrl-D to quit",
            env!("CARGO_PKG_VERSION")
        );
    }
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            print!("> ");
            std::io::stdout().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: input is not valid UTF-8 text ({e}); skipped");
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        if matches!(line.trim(), "exit" | "quit" | "/exit" | "/quit") {
            break;
        }
        let msg = Incoming::local(
            "cli",
            app.policy.local_user(),
            app.policy.local_role(),
            line,
        );
        if let Some(r) = pipeline.handle(msg).await {
            println!("{}\n", r.reply);
        }
    }
    app.store.flush().await?;
    Ok(())
}

/// A minimal HTTP GET of /healthz over plain TCP: a scratch image has no curl.
async fn healthcheck(config: Config, addr: Option<String>) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = addr.unwrap_or_else(|| {
        let l = config.server.listen;
        if l.ip().is_unspecified() {
            format!("127.0.0.1:{}", l.port())
        } else {
            l.to_string()
        }
    });
    let fut = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await?;
        s.write_all(format!("GET /healthz HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    };
    let buf = tokio::time::timeout(std::time::Duration::from_secs(3), fut)
        .await
        .map_err(|_| anyhow::anyhow!("{addr}: no answer within 3 s"))?
        .map_err(|e| anyhow::anyhow!("{addr}: {e}"))?;
    let head = String::from_utf8_lossy(&buf[..buf.len().min(32)]).to_string();
    if head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200") {
        println!("healthy");
        Ok(())
    } else {
        anyhow::bail!("{addr}: unhealthy: {}", head.lines().next().unwrap_or(""))
    }
}
