//! `/docker …` commands: read (viewer), write (operator), destructive (admin, confirmed),
//! over one or several engines. Replies are compact, aligned by display width and kept
//! within a channel's byte budget.
//!
//! Layout: this file holds the clap definitions, each command's declaration and the shared
//! resolvers (`engine`, `find`, `visible`); one file per verb group holds the handlers. Files
//! here may use `ops::docker`, `render`, `i18n` and the command runtime, nothing channel-side.

use super::runtime::{self, Decl, Family, Target, now};
use super::{Ctx, Outcome, error, reply};
use crate::i18n::{Lang, Text};
use crate::message::Reply;
use crate::ops::docker::{
    self as ops, COMPOSE_PROJECT, COMPOSE_SERVICE, CallError, Engine, EngineError, Resolved,
    StatsView, summary_name,
};
use crate::render::{self, table};
use crate::scope::Access;
use bollard::models::ContainerSummary;
use bollard::query_parameters as qp;
use clap::{Args, Subcommand, ValueEnum};
use futures::StreamExt;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

pub use super::runtime::TEXT_BUDGET;

/// Longest wait for a streamed answer (logs, events, exec output).
const STREAM_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Subcommand)]
pub enum DockerCommand {
    /// List containers (running by default) / 列出容器
    Ps(PsArgs),
    /// A container's state, health, ports, mounts / 容器详情
    Inspect(NameArgs),
    /// A container's latest log lines, stdout and stderr / 容器日志
    Logs(LogsArgs),
    /// One-shot CPU, memory, network and disk use / 资源使用
    Stats(StatsArgs),
    /// Processes running in a container / 容器内进程
    Top(NameArgs),
    /// List images / 镜像列表
    Images(HostOpt),
    /// List networks / 网络列表
    Networks(HostOpt),
    /// List volumes / 数据卷列表
    Volumes(HostOpt),
    /// Disk usage of images, containers and volumes / 磁盘占用
    Df(HostOpt),
    /// Engine summary / 引擎信息
    Info(HostOpt),
    /// Engine and API versions / 引擎版本
    Version(HostOpt),
    /// Recent engine events / 最近事件
    Events(EventsArgs),
    /// Compose projects (from container labels) / Compose 项目
    #[command(subcommand)]
    Compose(ComposeCommand),
    /// Start containers (operator) / 启动容器
    Start(TargetsArgs),
    /// Stop containers (operator) / 停止容器
    Stop(StopArgs),
    /// Restart containers (operator) / 重启容器
    Restart(StopArgs),
    /// Send a signal to containers (operator) / 向容器发信号
    Kill(KillArgs),
    /// Pause containers (operator) / 暂停容器
    Pause(TargetsArgs),
    /// Unpause containers (operator) / 恢复容器
    Unpause(TargetsArgs),
    /// Remove containers (admin, confirmed) / 删除容器
    Rm(RmArgs),
    /// Remove stopped containers or dangling images (admin, confirmed) / 清理
    Prune(PruneArgs),
    /// Run an allowlisted command in a container (operator; off by default) / 执行白名单命令
    Exec(ExecArgs),
}

#[derive(Debug, Subcommand)]
pub enum ComposeCommand {
    /// List compose projects / 项目列表
    Ls(HostOpt),
    /// Containers of a project / 项目的容器
    Ps(ProjectArgs),
    /// Restart every container of a project in dependency order (operator) / 重启项目
    Restart(ProjectArgs),
    /// Stop every container of a project, dependents first (operator) / 停止项目
    Stop(ProjectArgs),
    /// Start every container of a project, dependencies first (operator) / 启动项目
    Start(ProjectArgs),
}

impl DockerCommand {
    /// The declaration the command runtime applies: role, read/write, confirmation, host.
    pub fn decl(&self, words: &[String]) -> Decl {
        use DockerCommand as D;
        const F: Family = Family::Docker;
        let d = match self {
            D::Ps(_) => Decl::read(F, "ps"),
            D::Inspect(_) => Decl::read(F, "inspect"),
            D::Logs(_) => Decl::read(F, "logs"),
            D::Stats(_) => Decl::read(F, "stats"),
            D::Top(_) => Decl::read(F, "top"),
            D::Images(_) => Decl::read(F, "images"),
            D::Networks(_) => Decl::read(F, "networks"),
            D::Volumes(_) => Decl::read(F, "volumes"),
            D::Df(_) => Decl::read(F, "df"),
            D::Info(_) => Decl::read(F, "info"),
            D::Version(_) => Decl::read(F, "version"),
            D::Events(_) => Decl::read(F, "events"),
            D::Compose(ComposeCommand::Ls(_) | ComposeCommand::Ps(_)) => Decl::read(F, "compose"),
            D::Compose(_) => Decl::write(F, "compose"),
            D::Start(_) => Decl::write(F, "start"),
            D::Stop(_) => Decl::write(F, "stop"),
            D::Restart(_) => Decl::write(F, "restart"),
            D::Kill(_) => Decl::write(F, "kill"),
            D::Pause(_) => Decl::write(F, "pause"),
            D::Unpause(_) => Decl::write(F, "unpause"),
            D::Exec(_) => Decl::write(F, "exec"),
            D::Rm(_) => Decl::destructive(F, "rm"),
            D::Prune(_) => Decl::destructive(F, "prune"),
        };
        d.on(Target::Docker {
            host: self.host_opt().host.clone().or_else(|| host_word(words)),
            all_hosts: matches!(self, D::Ps(a) if a.all_hosts),
        })
    }

    fn host_opt(&self) -> &HostOpt {
        use DockerCommand as D;
        match self {
            D::Ps(a) => &a.h,
            D::Inspect(a) | D::Top(a) => &a.h,
            D::Logs(a) => &a.h,
            D::Stats(a) => &a.h,
            D::Images(h)
            | D::Networks(h)
            | D::Volumes(h)
            | D::Df(h)
            | D::Info(h)
            | D::Version(h) => h,
            D::Events(a) => &a.h,
            D::Compose(ComposeCommand::Ls(h)) => h,
            D::Compose(
                ComposeCommand::Ps(a)
                | ComposeCommand::Restart(a)
                | ComposeCommand::Stop(a)
                | ComposeCommand::Start(a),
            ) => &a.h,
            D::Start(a) | D::Pause(a) | D::Unpause(a) => &a.h,
            D::Stop(a) | D::Restart(a) => &a.targets.h,
            D::Kill(a) => &a.h,
            D::Rm(a) => &a.h,
            D::Prune(a) => &a.h,
            D::Exec(a) => &a.h,
        }
    }
}

/// `--host NAME`: which engine (`[[docker.hosts]]`); a leading `@NAME` word works too.
#[derive(Debug, Clone, Default, Args)]
pub struct HostOpt {
    /// Engine to use (a name from [[docker.hosts]]); `@NAME` as first word works too
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Engine filter KEY=VALUE (name, label, status, health, ancestor, exited, network, …)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Only the N most recently created containers (any state, like docker ps -n)
    #[arg(short = 'n', long = "last", value_name = "N")]
    pub last: Option<usize>,
    /// Every configured engine
    #[arg(long)]
    pub all_hosts: bool,
    /// Only containers whose name contains this, or with this compose project or label value
    pub pattern: Option<String>,
    #[command(flatten)]
    pub h: HostOpt,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// Container name, id or unique prefix
    pub name: String,
    #[command(flatten)]
    pub h: HostOpt,
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Container name, id or unique prefix
    pub name: String,
    /// Number of lines from the end (default: docker.logs_tail)
    #[arg(long, short = 'n')]
    pub tail: Option<usize>,
    /// Only lines newer than this, e.g. 10m, 2h
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Only lines older than this, e.g. 5m (how long ago)
    #[arg(long, value_name = "DURATION")]
    pub until: Option<String>,
    /// Show the engine's timestamp on every line
    #[arg(short = 't', long)]
    pub timestamps: bool,
    #[command(flatten)]
    pub h: HostOpt,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Container (default: every running container)
    pub name: Option<String>,
    #[command(flatten)]
    pub h: HostOpt,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// How far back, e.g. 10m, 1h, 1d
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    pub since: String,
    #[command(flatten)]
    pub h: HostOpt,
}

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// Compose project name
    pub project: String,
    #[command(flatten)]
    pub h: HostOpt,
}

#[derive(Debug, Clone, Args)]
pub struct TargetsArgs {
    /// Container names or ids
    #[arg(required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub h: HostOpt,
}

/// `stop` and `restart`, which take Docker's grace period before SIGKILL.
#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    /// Seconds to wait for the container to stop before it is killed (Docker's default: 10)
    #[arg(
        short = 't',
        long = "time",
        visible_alias = "timeout",
        value_name = "SECONDS"
    )]
    pub time: Option<u32>,
    #[command(flatten)]
    pub targets: TargetsArgs,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal name or number
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// Container names or ids
    #[arg(required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub h: HostOpt,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Remove running containers too (stops them first)
    #[arg(short, long)]
    pub force: bool,
    /// Container names or ids
    #[arg(required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub h: HostOpt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PruneWhat {
    /// Stopped containers
    Containers,
    /// Dangling images
    Images,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// What to remove
    pub what: PruneWhat,
    /// Only matching: label=KEY[=VALUE], label!=…, until=DURATION
    #[arg(long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    #[command(flatten)]
    pub h: HostOpt,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Container name, id or unique prefix
    pub name: String,
    /// The command; must equal an entry of docker.exec_allowlist
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub argv: Vec<String>,
    #[command(flatten)]
    pub h: HostOpt,
}

/// Where a leading `@host` word sits in command words, if any: first (`/@prod ps`) or right
/// after `docker`, `ps`, `logs` or `restart` (`/docker @prod ps`).
pub fn host_word_index(words: &[String]) -> Option<usize> {
    let is_at = |w: &String| w.starts_with('@') && w.len() > 1;
    if words.first().is_some_and(is_at) {
        return Some(0);
    }
    let first = words.first()?.as_str();
    // `/k @prod get pods` names a cluster context the same way.
    if matches!(
        first,
        "docker" | "ps" | "logs" | "restart" | "kubectl" | "k" | "diagnose" | "why"
    ) && words.get(1).is_some_and(is_at)
    {
        return Some(1);
    }
    None
}

/// The host named by a leading `@host` word.
pub fn host_word(words: &[String]) -> Option<String> {
    host_word_index(words).map(|i| words[i].trim_start_matches('@').to_string())
}

/// Runs a Docker command admitted by the command runtime.
pub async fn run(cmd: DockerCommand, ctx: &Ctx<'_>) -> Outcome {
    use DockerCommand as D;
    match cmd {
        D::Ps(a) => ps(ctx, a).await,
        D::Inspect(a) => inspect(ctx, a).await,
        D::Logs(a) => logs(ctx, a).await,
        D::Stats(a) => stats(ctx, a).await,
        D::Top(a) => top(ctx, a).await,
        D::Images(h) => images(ctx, h).await,
        D::Networks(h) => networks(ctx, h).await,
        D::Volumes(h) => volumes(ctx, h).await,
        D::Df(h) => df(ctx, h).await,
        D::Info(h) => info(ctx, h).await,
        D::Version(h) => version(ctx, h).await,
        D::Events(a) => events(ctx, a).await,
        D::Compose(ComposeCommand::Ls(h)) => compose_ls(ctx, h).await,
        D::Compose(ComposeCommand::Ps(a)) => compose_ps(ctx, a).await,
        D::Compose(ComposeCommand::Restart(a)) => compose_write(ctx, a, ComposeOp::Restart).await,
        D::Compose(ComposeCommand::Stop(a)) => compose_write(ctx, a, ComposeOp::Stop).await,
        D::Compose(ComposeCommand::Start(a)) => compose_write(ctx, a, ComposeOp::Start).await,
        D::Start(a) => write(ctx, a.names, a.h, WriteOp::Start).await,
        D::Stop(a) => write(ctx, a.targets.names, a.targets.h, WriteOp::Stop(a.time)).await,
        D::Restart(a) => {
            let op = WriteOp::Restart(a.time);
            write(ctx, a.targets.names, a.targets.h, op).await
        }
        D::Pause(a) => write(ctx, a.names, a.h, WriteOp::Pause).await,
        D::Unpause(a) => write(ctx, a.names, a.h, WriteOp::Unpause).await,
        D::Kill(a) => match validate_signal(&a.signal) {
            Ok(sig) => write(ctx, a.names, a.h, WriteOp::Kill(sig)).await,
            Err(e) => bad_input(ctx, &e),
        },
        D::Rm(a) => rm(ctx, a).await,
        D::Prune(a) => prune(ctx, a).await,
        D::Exec(a) => exec(ctx, a).await,
    }
}

fn bad_input(ctx: &Ctx<'_>, why: &str) -> Outcome {
    super::bad_input(ctx, "docker_input", why)
}

fn host_choice(ctx: &Ctx<'_>, h: &HostOpt) -> Option<String> {
    h.host.clone().or_else(|| host_word(&ctx.words))
}

fn engine_error_text(lang: Lang, e: &EngineError) -> String {
    match e {
        EngineError::Disabled => t!(lang, "docker.disabled").to_string(),
        EngineError::UnknownHost { name, known } => {
            let known = known.join(t!(lang, "core.list_sep"));
            t!(lang, "docker.unknown_host", name = name, known = known)
        }
        EngineError::Unreachable { host, reason } => {
            let mut s =
                Text::DockerUnavailable.fill(lang, &[("reason", &format!("{host}: {reason}"))]);
            let hint = if reason.contains("permission denied") {
                Some(t!(lang, "docker.hint_socket_permission"))
            } else if reason.contains("no Docker engine") {
                Some(t!(lang, "docker.hint_engine_down"))
            } else if reason.contains("too old") {
                Some(t!(lang, "docker.hint_engine_old"))
            } else {
                None
            };
            if let Some(hint) = hint {
                s.push('\n');
                s.push_str(hint);
            }
            s
        }
    }
}

pub(crate) async fn engine(ctx: &Ctx<'_>, h: &HostOpt) -> Result<Engine, Outcome> {
    let choice = host_choice(ctx, h);
    if let Some(name) = &choice
        && (name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()))
    {
        return Err(bad_input(ctx, "host name"));
    }
    ctx.app.docker.get(choice.as_deref()).await.map_err(|e| {
        tracing::warn!(error = ?e, "docker engine unavailable");
        error(ctx, engine_error_text(ctx.lang, &e))
    })
}

/// A failed engine call as a user-facing sentence; transport errors drop the cached
/// connection so the next command reconnects.
pub(crate) async fn call_error_text(
    ctx: &Ctx<'_>,
    eng: &Engine,
    e: &bollard::errors::Error,
) -> String {
    let ce = CallError::from_bollard(&eng.name, e);
    let kind = match &ce {
        CallError::NotFound(_) => "not_found",
        CallError::Refused(_) => "refused",
        CallError::Version(_) => "version",
        CallError::Transport(_) => "transport",
    };
    metrics::counter!("wedock_docker_errors_total", "kind" => kind).increment(1);
    tracing::warn!(host = %eng.name, kind, "docker call failed: {}", ce.message());
    match ce {
        CallError::Transport(m) => {
            ctx.app.docker.forget(&eng.name).await;
            engine_error_text(
                ctx.lang,
                &EngineError::Unreachable {
                    host: eng.name.clone(),
                    reason: m,
                },
            )
        }
        CallError::Version(m) => t!(ctx.lang, "docker.api_version", host = eng.name, reason = m),
        CallError::NotFound(m) => t!(ctx.lang, "docker.not_found", what = m),
        CallError::Refused(m) => t!(ctx.lang, "docker.refused", reason = m),
    }
}

macro_rules! try_call {
    ($ctx:expr, $eng:expr, $fut:expr) => {
        match $fut.await {
            Ok(v) => v,
            Err(e) => return error($ctx, call_error_text($ctx, $eng, &e).await),
        }
    };
}

/// Every container of the engine (running or not).
async fn all_containers(eng: &Engine) -> Result<Vec<ContainerSummary>, bollard::errors::Error> {
    eng.client
        .list_containers(Some(
            qp::ListContainersOptionsBuilder::default()
                .all(true)
                .build(),
        ))
        .await
}

/// Whether the sender's scopes let them read container `c` (listings show only these).
fn visible(ctx: &Ctx<'_>, eng: &Engine, c: &ContainerSummary) -> bool {
    ctx.scopes
        .container(&eng.name, &summary_name(c), Access::Read)
}

/// The scope refusal when the command may not touch `c` (read or write, as declared).
fn out_of_scope(ctx: &Ctx<'_>, eng: &Engine, c: &ContainerSummary) -> Option<Outcome> {
    let name = summary_name(c);
    (!ctx.scopes.container(&eng.name, &name, ctx.access))
        .then(|| runtime::refuse_scope(ctx, Some(&eng.name), &name))
}

/// Resolves a typed reference to one container, or the reply explaining why not.
pub(crate) async fn find(
    ctx: &Ctx<'_>,
    eng: &Engine,
    raw: &str,
) -> Result<ContainerSummary, Outcome> {
    let query = match ops::validate_ref(raw) {
        Ok(q) => q,
        Err(e) => return Err(bad_input(ctx, &e)),
    };
    // Fast path: one inspect answers exact names and ids (the engine resolves those the
    // same way we do); prefixes, typos and ambiguity need the full list.
    if let Ok(d) = eng
        .client
        .inspect_container(query, None::<qp::InspectContainerOptions>)
        .await
        && let Some(c) = ops::summary_from_inspect(&d)
        && (summary_name(&c) == query || c.id.as_deref().is_some_and(|id| id == query))
    {
        return match out_of_scope(ctx, eng, &c) {
            Some(refused) => Err(refused),
            None => Ok(c),
        };
    }
    let mut all = match all_containers(eng).await {
        Ok(a) => a,
        Err(e) => return Err(error(ctx, call_error_text(ctx, eng, &e).await)),
    };
    // Prefixes, suggestions and ambiguity only ever name containers the sender may see.
    all.retain(|c| visible(ctx, eng, c));
    match ops::resolve_in(query, &all) {
        Resolved::One(c) => match out_of_scope(ctx, eng, &c) {
            Some(refused) => Err(refused),
            None => Ok(*c),
        },
        Resolved::Ambiguous(names) => {
            metrics::counter!("wedock_docker_errors_total", "kind" => "ambiguous").increment(1);
            let list = names.join(", ");
            Err(error(
                ctx,
                t!(ctx.lang, "docker.ambiguous", query = query, list = list),
            ))
        }
        Resolved::NotFound(close) => {
            metrics::counter!("wedock_docker_errors_total", "kind" => "not_found").increment(1);
            let mut s = t!(
                ctx.lang,
                "docker.no_container",
                host = eng.name,
                query = query
            );
            if !close.is_empty() {
                let close = close.join(t!(ctx.lang, "core.list_sep"));
                s.push_str(&t!(ctx.lang, "docker.did_you_mean", names = close));
            }
            Err(error(ctx, s))
        }
    }
}

/// Seconds in a chat duration like `10m`, `2h`, `1d`.
fn parse_since(s: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|_| format!("{s:?} is not a duration like 10m, 2h or 1d"))?;
    let secs = d.as_secs();
    if secs > 10 * 365 * 86_400 {
        return Err(format!("{s:?} is too far back"));
    }
    Ok(secs as i64)
}

/// 🟢 running, 🔴 exited(1), 🟡 unhealthy / restarting, ⏸ paused, ⚪ created.
pub fn status_marker(state: &str, status: &str) -> String {
    match state {
        "running" if status.contains("(unhealthy)") => "🟡 unhealthy".into(),
        "running" if status.contains("health: starting") => "🟡 starting".into(),
        "running" => "🟢 running".into(),
        "restarting" => "🟡 restarting".into(),
        "paused" => "⏸ paused".into(),
        "exited" => {
            let code = status
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(c, _)| c.trim().to_string());
            match code {
                Some(c) => format!("🔴 exited({c})"),
                None => "🔴 exited".into(),
            }
        }
        "created" => "⚪ created".into(),
        "dead" => "🔴 dead".into(),
        other => format!("⚪ {other}"),
    }
}

fn state_of(c: &ContainerSummary) -> String {
    c.state.map(|s| s.to_string()).unwrap_or_default()
}

fn marker_of(c: &ContainerSummary) -> String {
    status_marker(&state_of(c), c.status.as_deref().unwrap_or(""))
}

fn fit(ctx: &Ctx<'_>, head: &str, lines: &[String]) -> String {
    runtime::fit(ctx.lang, head, lines)
}

mod compose;
mod exec;
mod inspect;
mod lifecycle;
mod list;
mod logs;
mod prune;
pub use crate::ops::docker::{LogWindow, fetch_logs};
use compose::*;
pub use exec::exec_allowed;
use exec::*;
use inspect::*;
use lifecycle::*;
use list::*;
use logs::*;
use prune::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert_eq!(status_marker("running", "Up 3 minutes"), "🟢 running");
        assert_eq!(
            status_marker("running", "Up 3 minutes (unhealthy)"),
            "🟡 unhealthy"
        );
        assert_eq!(
            status_marker("exited", "Exited (137) 2 minutes ago"),
            "🔴 exited(137)"
        );
        assert_eq!(status_marker("paused", "Up 1 hour (Paused)"), "⏸ paused");
        assert_eq!(
            status_marker("restarting", "Restarting (1) 1 second ago"),
            "🟡 restarting"
        );
    }

    #[test]
    fn host_words() {
        let w = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(host_word(&w("@prod ps")), Some("prod".into()));
        assert_eq!(host_word(&w("docker @prod ps -a")), Some("prod".into()));
        assert_eq!(host_word(&w("logs @b api")), Some("b".into()));
        assert_eq!(host_word(&w("docker ps")), None);
        assert_eq!(host_word(&w("exec api @x")), None);
    }

    #[test]
    fn signals_and_allowlist() {
        assert_eq!(validate_signal("term").unwrap(), "SIGTERM");
        assert_eq!(validate_signal("SIGHUP").unwrap(), "SIGHUP");
        assert_eq!(validate_signal("9").unwrap(), "9");
        assert!(validate_signal("0").is_err());
        assert!(validate_signal("rm -rf").is_err());
        let allow = vec![
            "cat /etc/hostname".to_string(),
            "sh -c 'echo hi'".to_string(),
        ];
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(exec_allowed(&allow, &v(&["cat", "/etc/hostname"])));
        assert!(exec_allowed(&allow, &v(&["sh", "-c", "echo hi"])));
        assert!(!exec_allowed(
            &allow,
            &v(&["cat", "/etc/hostname", "/etc/shadow"])
        ));
        assert!(!exec_allowed(&allow, &v(&["cat"])));
    }

    #[test]
    fn filters_are_checked() {
        let ok = parse_filters(&["label=a=b".into(), "status=exited".into()], FILTER_KEYS).unwrap();
        assert_eq!(ok["label"], vec!["a=b"]);
        assert!(parse_filters(&["bogus=1".into()], FILTER_KEYS).is_err());
        assert!(parse_filters(&["name".into()], FILTER_KEYS).is_err());
        assert!(parse_filters(&["label!=x".into()], PRUNE_KEYS).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn chat_input_never_panics(text in "\\PC{0,60}", width in 1usize..40) {
            let t = render::truncate_to_width(&text, width);
            proptest::prop_assert!(unicode_width::UnicodeWidthStr::width(t.as_str()) <= width.max(1) + 1);
            let _ = validate_signal(&text);
            let _ = parse_filters(std::slice::from_ref(&text), FILTER_KEYS);
            let _ = parse_since(&text);
            let _ = ops::validate_ref(&text);
        }
    }
}
