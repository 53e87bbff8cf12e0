//! Chat commands: one clap definition gives parsing, help and error messages, in the style
//! people know from `docker` and `kubectl`. Each area keeps its handlers in its own file.

/// The value of a handler step, or its reply (an engine, a resolved container, …) returned
/// from the handler at once.
macro_rules! or_return {
    ($step:expr) => {
        match $step {
            Ok(v) => v,
            Err(reply) => return reply,
        }
    };
}

pub mod admin;
pub mod alerts;
pub mod diagnose;
pub mod docker;
pub mod incident;
pub mod kubectl;
pub mod oncall;
pub mod quiz;
pub mod runtime;
pub mod usage_error;

use crate::app::App;
use crate::i18n::{Lang, Text};
use crate::identity::Role;
use crate::message::Reply;
use crate::scope::{Access, Scopes};
use crate::store::AuditEntry;
use clap::{CommandFactory, Parser, Subcommand};
use runtime::{Decl, Family};
use serde::{Deserialize, Serialize};

/// The whole chat command language.
#[derive(Debug, Parser)]
#[command(
    name = "/",
    no_binary_name = true,
    disable_version_flag = true,
    disable_help_subcommand = true,
    color = clap::ColorChoice::Never,
    term_width = 60,
    help_template = "{subcommands}"
)]
pub struct ChatCli {
    #[command(subcommand)]
    pub command: ChatCommand,
}

#[derive(Debug, Subcommand)]
pub enum ChatCommand {
    /// Show commands, or the help of one command / 显示命令帮助
    Help {
        /// A command, e.g. `docker`
        topic: Vec<String>,
    },
    /// Check that wedock is alive / 检查机器人是否在线
    Ping,
    /// Show your identity and role / 查看你的身份和角色
    Whoami,
    /// Confirm a destructive command with its code / 确认危险操作
    Confirm {
        /// The code from the confirmation request
        code: String,
    },
    /// Latest audit log entries (admin) / 最近的审计日志
    Audit {
        /// How many entries
        #[arg(default_value_t = 10)]
        n: usize,
    },
    /// Pending and dead-lettered outgoing messages (admin) / 待发送和失败的消息
    Outbox {
        /// Only dead-lettered messages
        #[arg(long)]
        dead: bool,
        /// How many entries
        #[arg(default_value_t = 10)]
        n: usize,
    },
    /// Docker: ps, logs, inspect, restart, … / Docker 容器查看与操作
    #[command(subcommand)]
    Docker(docker::DockerCommand),
    /// Alias of `docker ps` / 查看容器列表
    Ps(docker::PsArgs),
    /// Alias of `docker logs` / 查看容器日志
    Logs(docker::LogsArgs),
    /// Alias of `docker restart` / 重启容器
    Restart(docker::StopArgs),
    /// Kubernetes: get, describe, logs, rollout, scale, … / Kubernetes 查看与操作
    #[command(visible_alias = "k")]
    Kubectl(kubectl::KubectlArgs),
    /// Why is it broken: evidence, likely cause, fix / 诊断故障原因
    #[command(visible_alias = "why")]
    Diagnose(crate::command::diagnose::DiagnoseArgs),
    /// Interview practice: a question, then your answer / 面试练习
    Quiz(quiz::QuizArgs),
    /// Recent alerts and their delivery / 最近的告警
    Alerts {
        /// How many
        #[arg(default_value_t = 10)]
        n: usize,
    },
    /// Mute alerts for a while (operator) / 静音告警
    Mute(alerts::MuteArgs),
    /// List active mutes / 查看静音
    Mutes,
    /// Remove a mute (operator) / 取消静音
    Unmute {
        /// The mute id from /mutes
        id: String,
    },
    /// Acknowledge an alert: you are on it (operator) / 认领告警
    Ack {
        /// The alert id shown in the alert message or /alerts, e.g. 12
        id: String,
    },
    /// Silence an alert, or alerts with these labels, for a while (operator) / 静默告警
    #[command(override_usage = "/silence ID|LABEL=VALUE… DURATION [REASON…]")]
    Silence {
        /// `12 1h`, `12 4h deploying`, `alertname=HighLatency service=api 2h`
        #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
    /// Lift a silence (operator) / 取消静默
    Unsilence {
        /// An alert id, or a silence id from /silences
        id: String,
    },
    /// Active silences, wedock's and Alertmanager's, with who made them / 查看静默
    Silences,
    /// Mark an alert resolved, for webhook alerts nothing else resolves (operator) / 标记告警已解决
    Resolve {
        /// The alert id
        id: String,
    },
    /// Who is on duty now and next; `swap USER [UNTIL]` hands the duty over (operator) / 值班
    #[command(override_usage = "/oncall [SCHEDULE] [swap USER [UNTIL]]")]
    Oncall {
        /// `primary`, `swap lisi 18:00`, `primary swap lisi 4h`
        #[arg(num_args = 0.., trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
}

impl ChatCommand {
    /// What the command is: role, read or write, destructive, target. `words` are the
    /// command words as typed (for a leading `@host`).
    pub fn decl(&self, words: &[String]) -> Decl {
        use ChatCommand as C;
        let core = |verb, role| Decl::read(Family::Core, verb).role(role);
        match self {
            C::Help { .. } => core("help", Role::Guest),
            C::Ping => core("ping", Role::Guest),
            C::Whoami => core("whoami", Role::Guest),
            C::Confirm { .. } => core("confirm", Role::Guest),
            C::Quiz(_) => core("quiz", Role::Guest),
            C::Audit { .. } => core("audit", Role::Admin),
            C::Outbox { .. } => core("outbox", Role::Admin),
            C::Alerts { .. } => core("alerts", Role::Viewer),
            C::Mutes => core("mutes", Role::Viewer),
            C::Mute(_) => core("mute", Role::Operator),
            C::Unmute { .. } => core("unmute", Role::Operator),
            C::Ack { .. } => Decl::write(Family::Core, "ack"),
            C::Silence { .. } => Decl::write(Family::Core, "silence"),
            C::Unsilence { .. } => Decl::write(Family::Core, "unsilence"),
            C::Silences => core("silences", Role::Viewer),
            C::Resolve { .. } => Decl::write(Family::Core, "resolve"),
            C::Oncall { words } if crate::command::oncall::is_swap(words) => {
                Decl::write(Family::Core, "oncall_swap")
            }
            C::Oncall { .. } => core("oncall", Role::Viewer),
            C::Docker(d) => d.decl(words),
            C::Ps(a) => docker::DockerCommand::Ps(a.clone()).decl(words),
            C::Logs(a) => docker::DockerCommand::Logs(a.clone()).decl(words),
            C::Restart(a) => docker::DockerCommand::Restart(a.clone()).decl(words),
            C::Kubectl(k) => k.decl(words),
            C::Diagnose(a) => a.decl(words),
        }
    }

    /// The lowest role that may run this command.
    pub fn required_role(&self) -> Role {
        self.decl(&[]).role
    }
}

/// Who runs a command, where, and in which language.
pub struct Ctx<'a> {
    pub app: &'a App,
    /// `channel:userid`.
    pub identity: String,
    pub channel: String,
    pub chat: Option<String>,
    pub role: Role,
    pub lang: Lang,
    /// The command words as typed (after the slash), for audit and confirmation.
    pub words: Vec<String>,
    /// Set when re-run after `/confirm`.
    pub confirmed: bool,
    /// The `[[identity.scopes]]` entries that apply to the sender.
    pub scopes: Scopes,
    /// Whether the command reads or changes (from its declaration), for scope checks.
    pub access: Access,
}

/// A command's normal reply, in the user's language.
pub(crate) fn reply(ctx: &Ctx<'_>, text: impl Into<String>) -> Outcome {
    Outcome::Reply(Reply::command(text, ctx.lang))
}

/// A command's refusal or failure, in the user's language.
pub(crate) fn error(ctx: &Ctx<'_>, text: impl Into<String>) -> Outcome {
    Outcome::Reply(Reply::error(text, ctx.lang))
}

/// Refuses invalid arguments: counted under `reason` (`docker_input`, `kubectl_input`),
/// logged with the sender, and answered with the reason.
pub(crate) fn bad_input(ctx: &Ctx<'_>, reason: &'static str, why: &str) -> Outcome {
    metrics::counter!("wedock_rejected_total", "reason" => reason).increment(1);
    tracing::info!(user = %ctx.identity, reason, "rejected command input: {why}");
    error(ctx, t!(ctx.lang, "cmd.invalid_argument", why = why))
}

impl Ctx<'_> {
    /// An audit entry for this command with the given target and result.
    pub fn audit(&self, host: Option<&str>, target: Option<&str>, result: &str) -> AuditEntry {
        AuditEntry {
            at: crate::store::now_ms(),
            user: self.identity.clone(),
            channel: self.channel.clone(),
            role: self.role.to_string(),
            command: self.words.join(" "),
            host: host.map(str::to_string),
            target: target.map(str::to_string),
            result: result.to_string(),
        }
    }
}

/// What a handler produced.
pub enum Outcome {
    Reply(Reply),
    /// A reply plus the audit entry to append (writes and destructive commands).
    Audited(Reply, AuditEntry),
    /// The command is destructive: ask the user to confirm `summary` first.
    NeedsConfirmation {
        summary: String,
    },
}

/// A destructive command waiting for `/confirm CODE` from the same user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingConfirmation {
    pub code: String,
    pub words: Vec<String>,
    pub chat: Option<String>,
    pub expires_at: i64,
}

/// Splits command text into words like a shell would for quoting, without ever running one.
/// A leading `/` or full-width `／` is removed, and `@host` as the first word is kept as is.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    let t = text.trim_start();
    let t = t
        .strip_prefix('/')
        .or_else(|| t.strip_prefix('／'))
        .unwrap_or(t);
    // Full-width spaces from Chinese input methods separate words too.
    let t = t.replace('\u{3000}', " ");
    shlex::split(&t).ok_or_else(|| "unbalanced quotes".to_string())
}

/// Parses command words. `Err` carries clap's message (usage, suggestions).
/// A leading `@host` word (`/@prod ps` or `/docker @prod ps`) is left out here; the Docker
/// handlers read it from the words (see [`docker::host_word`]).
pub fn parse(words: &[String]) -> Result<ChatCommand, clap::Error> {
    let at = docker::host_word_index(words);
    let words = words
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != at)
        .map(|(_, w)| w);
    ChatCli::try_parse_from(words).map(|c| c.command)
}

/// The `/help` text: every command with one line each, or one command's full help.
pub fn help_text(topic: &[String], lang: Lang) -> String {
    let mut cmd = ChatCli::command();
    if !topic.is_empty() {
        let mut sub = Some(&mut cmd);
        for word in topic {
            let name = word.trim_start_matches(['/', '／']);
            sub = sub.and_then(|c| c.find_subcommand_mut(name));
        }
        if let Some(c) = sub {
            let c = c.clone().bin_name(format!("/{}", topic.join(" ")));
            return c
                .clone()
                .render_long_help()
                .to_string()
                .trim_end()
                .to_string();
        }
        return Text::UnknownCommand.fill(lang, &[("cmd", &topic.join(" "))]);
    }
    let mut out = String::from(t!(lang, "cmd.commands"));
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        let about = match about.split_once(" / ") {
            // Command descriptions live in the clap declarations as "English / 中文".
            Some((en, zh)) => lang.pick(zh, en).to_string(), // not catalog: clap about
            None => about,
        };
        out.push_str(&format!("\n/{} — {}", sub.get_name(), about));
    }
    out.push_str(t!(lang, "cmd.help_footer"));
    out
}

/// Runs a parsed command whose role, read-only mode and scope have been checked (see
/// [`runtime::execute`]).
pub(crate) async fn run(cmd: ChatCommand, ctx: &Ctx<'_>) -> Outcome {
    match cmd {
        ChatCommand::Help { topic } => {
            Outcome::Reply(Reply::command(help_text(&topic, ctx.lang), ctx.lang))
        }
        ChatCommand::Ping => Outcome::Reply(Reply::command(Text::Pong.get(ctx.lang), ctx.lang)),
        ChatCommand::Whoami => admin::whoami(ctx),
        ChatCommand::Confirm { .. } => {
            // Handled by the pipeline, which owns pending confirmations.
            Outcome::Reply(Reply::error(Text::NothingToConfirm.get(ctx.lang), ctx.lang))
        }
        ChatCommand::Audit { n } => admin::audit(ctx, n).await,
        ChatCommand::Outbox { dead, n } => admin::outbox(ctx, dead, n).await,
        ChatCommand::Docker(d) => docker::run(d, ctx).await,
        ChatCommand::Ps(a) => docker::run(docker::DockerCommand::Ps(a), ctx).await,
        ChatCommand::Logs(a) => docker::run(docker::DockerCommand::Logs(a), ctx).await,
        ChatCommand::Restart(a) => docker::run(docker::DockerCommand::Restart(a), ctx).await,
        ChatCommand::Kubectl(a) => kubectl::run(a, ctx).await,
        // Boxed: the collectors' futures are large and would grow every command's future.
        ChatCommand::Diagnose(a) => {
            let target = a.target.clone();
            let out = Box::pin(crate::command::diagnose::run(a, ctx)).await;
            Box::pin(crate::command::diagnose::llm::with_explanation(
                out, &target, ctx,
            ))
            .await
        }
        ChatCommand::Quiz(a) => quiz::run(a, ctx).await,
        ChatCommand::Alerts { n } => alerts::recent(n, ctx).await,
        ChatCommand::Mute(a) => alerts::mute(a, ctx).await,
        ChatCommand::Mutes => alerts::mutes(ctx).await,
        ChatCommand::Unmute { id } => alerts::unmute(id, ctx).await,
        ChatCommand::Ack { id } => crate::command::incident::ack(id, ctx).await,
        ChatCommand::Silence { words } => crate::command::incident::silence(words, ctx).await,
        ChatCommand::Unsilence { id } => crate::command::incident::unsilence(id, ctx).await,
        ChatCommand::Silences => crate::command::incident::silences(ctx).await,
        ChatCommand::Resolve { id } => crate::command::incident::resolve(id, ctx).await,
        ChatCommand::Oncall { words } => crate::command::oncall::run(words, ctx).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_definition_is_consistent() {
        ChatCli::command().debug_assert();
    }

    #[test]
    fn split_handles_fullwidth_slash_and_quotes() {
        assert_eq!(split_words("／ping").unwrap(), vec!["ping"]);
        assert_eq!(
            split_words("/logs api --tail 5").unwrap(),
            vec!["logs", "api", "--tail", "5"]
        );
        assert_eq!(split_words("/x 'a b'").unwrap(), vec!["x", "a b"]);
        assert!(split_words("/x 'a b").is_err());
    }

    #[test]
    fn parses_and_reports_unknown_commands() {
        assert!(matches!(parse(&["ping".into()]), Ok(ChatCommand::Ping)));
        let e = parse(&["pnig".into()]).unwrap_err();
        assert!(e.to_string().contains("ping"), "{e}");
    }

    #[test]
    fn help_lists_commands_in_both_languages() {
        let zh = help_text(&[], Lang::Zh);
        assert!(zh.contains("/ping") && zh.contains("检查机器人是否在线"));
        let en = help_text(&[], Lang::En);
        assert!(en.contains("Check that wedock is alive"));
        let d = help_text(&["docker".into()], Lang::En);
        assert!(d.contains("ps"), "{d}");
    }
}
