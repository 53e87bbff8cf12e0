//! `/docker …` commands: read (viewer), write (operator), destructive (admin, confirmed),
//! over one or several engines. Replies are compact, aligned by display width and kept
//! within a channel's byte budget.

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
    Stop(TargetsArgs),
    /// Restart containers (operator) / 重启容器
    Restart(TargetsArgs),
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
            D::Compose(ComposeCommand::Ls(_) | ComposeCommand::Ps(_)) => {
                Decl::read(F, "compose")
            }
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
            D::Images(h) | D::Networks(h) | D::Volumes(h) | D::Df(h) | D::Info(h) | D::Version(h) => h,
            D::Events(a) => &a.h,
            D::Compose(ComposeCommand::Ls(h)) => h,
            D::Compose(
                ComposeCommand::Ps(a)
                | ComposeCommand::Restart(a)
                | ComposeCommand::Stop(a)
                | ComposeCommand::Start(a),
            ) => &a.h,
            D::Start(a) | D::Stop(a) | D::Restart(a) | D::Pause(a) | D::Unpause(a) => &a.h,
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
        "docker" | "ps" | "logs" | "restart" | "kubectl" | "k"
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
        D::Stop(a) => write(ctx, a.names, a.h, WriteOp::Stop).await,
        D::Restart(a) => write(ctx, a.names, a.h, WriteOp::Restart).await,
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

// ---- plumbing ----------------------------------------------------------------------------

fn bad_input(ctx: &Ctx<'_>, why: &str) -> Outcome {
    super::bad_input(ctx, "docker_input", why)
}

fn host_choice(ctx: &Ctx<'_>, h: &HostOpt) -> Option<String> {
    h.host.clone().or_else(|| host_word(&ctx.words))
}

fn engine_error_text(lang: Lang, e: &EngineError) -> String {
    match e {
        EngineError::Disabled => lang
            .pick(
                "Docker 功能已关闭（docker.enabled = false）。",
                "Docker support is disabled (docker.enabled = false).",
            )
            .to_string(),
        EngineError::UnknownHost { name, known } => match lang {
            Lang::Zh => format!("没有名为 {name} 的 Docker 主机。可用：{}", known.join("、")),
            Lang::En => format!(
                "No Docker host named {name}. Configured: {}",
                known.join(", ")
            ),
        },
        EngineError::Unreachable { host, reason } => {
            let mut s =
                Text::DockerUnavailable.fill(lang, &[("reason", &format!("{host}: {reason}"))]);
            if lang == Lang::Zh {
                if reason.contains("permission denied") {
                    s.push_str("\n（Socket 权限不足：把运行 wedock 的用户加入 docker 组，或挂载 docker.sock。）");
                } else if reason.contains("no Docker engine") {
                    s.push_str("\n（引擎未运行或地址错误，请检查 docker.hosts 配置。）");
                } else if reason.contains("too old") {
                    s.push_str("\n（引擎版本过旧。）");
                }
            }
            s
        }
    }
}

async fn engine(ctx: &Ctx<'_>, h: &HostOpt) -> Result<Engine, Outcome> {
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
async fn call_error_text(ctx: &Ctx<'_>, eng: &Engine, e: &bollard::errors::Error) -> String {
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
        CallError::Version(m) => match ctx.lang {
            Lang::Zh => format!("Docker 引擎 {} 的 API 版本不兼容：{m}", eng.name),
            Lang::En => format!(
                "Docker engine {} speaks an incompatible API version: {m}",
                eng.name
            ),
        },
        CallError::NotFound(m) => match ctx.lang {
            Lang::Zh => format!("找不到：{m}"),
            Lang::En => format!("Not found: {m}"),
        },
        CallError::Refused(m) => match ctx.lang {
            Lang::Zh => format!("Docker 拒绝了操作：{m}"),
            Lang::En => format!("Docker refused: {m}"),
        },
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

/// `c` when the command may touch it (read or write, as declared), else the scope refusal.
fn in_scope(
    ctx: &Ctx<'_>,
    eng: &Engine,
    c: ContainerSummary,
) -> Result<ContainerSummary, Outcome> {
    let name = summary_name(&c);
    if ctx.scopes.container(&eng.name, &name, ctx.access) {
        Ok(c)
    } else {
        Err(runtime::refuse_scope(ctx, Some(&eng.name), &name))
    }
}

/// Resolves a typed reference to one container, or the reply explaining why not.
async fn find(ctx: &Ctx<'_>, eng: &Engine, raw: &str) -> Result<ContainerSummary, Outcome> {
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
        return in_scope(ctx, eng, c);
    }
    let mut all = match all_containers(eng).await {
        Ok(a) => a,
        Err(e) => return Err(error(ctx, call_error_text(ctx, eng, &e).await)),
    };
    // Prefixes, suggestions and ambiguity only ever name containers the sender may see.
    all.retain(|c| visible(ctx, eng, c));
    match ops::resolve_in(query, &all) {
        Resolved::One(c) => in_scope(ctx, eng, *c),
        Resolved::Ambiguous(names) => {
            metrics::counter!("wedock_docker_errors_total", "kind" => "ambiguous").increment(1);
            let list = names.join(", ");
            Err(error(
                ctx,
                match ctx.lang {
                    Lang::Zh => format!("「{query}」匹配到多个容器：{list}。请写得更完整。"),
                    Lang::En => {
                        format!("\"{query}\" matches several containers: {list}. Be more specific.")
                    }
                },
            ))
        }
        Resolved::NotFound(close) => {
            metrics::counter!("wedock_docker_errors_total", "kind" => "not_found").increment(1);
            let mut s = match ctx.lang {
                Lang::Zh => format!("在 {} 上找不到容器「{query}」。", eng.name),
                Lang::En => format!("No container \"{query}\" on {}.", eng.name),
            };
            if !close.is_empty() {
                s.push_str(&match ctx.lang {
                    Lang::Zh => format!("你是不是想找：{}？", close.join("、")),
                    Lang::En => format!(" Did you mean: {}?", close.join(", ")),
                });
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

// ---- read --------------------------------------------------------------------------------

const FILTER_KEYS: &[&str] = &[
    "name", "label", "status", "health", "ancestor", "exited", "network", "volume", "publish",
    "expose", "id", "before", "since", "is-task",
];

fn parse_filters(raw: &[String], allowed: &[&str]) -> Result<HashMap<String, Vec<String>>, String> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for f in raw {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("filter {f:?} must look like KEY=VALUE"))?;
        let (k, v) = if let Some(k2) = k.strip_suffix('!') {
            (format!("{k2}!"), v)
        } else {
            (k.to_string(), v)
        };
        if !allowed.contains(&k.as_str()) {
            return Err(format!(
                "unknown filter {k:?} (use one of: {})",
                allowed.join(", ")
            ));
        }
        if v.is_empty() || v.len() > 256 || v.chars().any(char::is_control) {
            return Err(format!(
                "filter value of {k:?} is empty, too long or has control characters"
            ));
        }
        map.entry(k).or_default().push(v.to_string());
    }
    Ok(map)
}

fn matches_pattern(c: &ContainerSummary, pattern: &str) -> bool {
    summary_name(c).contains(pattern)
        || c.labels
            .as_ref()
            .is_some_and(|l| l.values().any(|v| v == pattern))
}

async fn ps_rows(
    eng: &Engine,
    a: &PsArgs,
    filters: &HashMap<String, Vec<String>>,
) -> Result<(Vec<ContainerSummary>, usize), bollard::errors::Error> {
    let opts = qp::ListContainersOptionsBuilder::default()
        .all(a.all)
        .filters(filters)
        .build();
    let mut list = eng.client.list_containers(Some(opts)).await?;
    let total = list.len();
    if let Some(p) = &a.pattern {
        list.retain(|c| matches_pattern(c, p));
    }
    list.sort_by_key(summary_name);
    Ok((list, total))
}

fn ps_row(c: &ContainerSummary, now: i64, lang: Lang) -> Vec<String> {
    vec![
        render::truncate_to_width(&summary_name(c), 28),
        marker_of(c),
        render::truncate_to_width(c.image.as_deref().unwrap_or(""), 24),
        c.created
            .map(|t| render::human_ago(t, now, lang))
            .unwrap_or_default(),
    ]
}

async fn ps(ctx: &Ctx<'_>, a: PsArgs) -> Outcome {
    let filters = match parse_filters(&a.filter, FILTER_KEYS) {
        Ok(f) => f,
        Err(e) => return bad_input(ctx, &e),
    };
    if let Some(p) = &a.pattern
        && (p.len() > 128 || p.chars().any(char::is_control))
    {
        return bad_input(ctx, "pattern");
    }
    let now = now();
    let header_zh = ["名称", "状态", "镜像", "创建"];
    let header_en = ["NAME", "STATE", "IMAGE", "CREATED"];
    let header = match ctx.lang {
        Lang::Zh => header_zh,
        Lang::En => header_en,
    };
    if a.all_hosts {
        let mut names = ctx.app.docker.names();
        names.retain(|n| ctx.scopes.docker_host(n, Access::Read));
        let futs = names.iter().map(|n| async {
            let r = match ctx.app.docker.get(Some(n)).await {
                Ok(eng) => match ps_rows(&eng, &a, &filters).await {
                    Ok((mut rows, _)) => {
                        rows.retain(|c| visible(ctx, &eng, c));
                        Ok(rows)
                    }
                    Err(e) => Err(call_error_text(ctx, &eng, &e).await),
                },
                Err(e) => Err(engine_error_text(ctx.lang, &e)),
            };
            (n.clone(), r)
        });
        let results = futures::future::join_all(futs).await;
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        for (host, r) in results {
            match r {
                Ok(list) => rows.extend(list.iter().map(|c| {
                    let mut row = vec![host.clone()];
                    row.extend(ps_row(c, now, ctx.lang));
                    row
                })),
                Err(e) => problems.push(format!("⚠️ {host}: {e}")),
            }
        }
        let mut h = vec![ctx.lang.pick("主机", "HOST")];
        h.extend(header);
        let mut lines = if rows.is_empty() {
            vec![ctx.lang.pick("（没有容器）", "(no containers)").to_string()]
        } else {
            table::render(&h, &rows)
        };
        lines.extend(problems);
        let head = match ctx.lang {
            Lang::Zh => format!("🐳 全部主机 · {} 个容器", rows.len()),
            Lang::En => format!("🐳 all hosts · {} containers", rows.len()),
        };
        return reply(ctx, fit(ctx, &head, &lines));
    }
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let (mut list, _) = try_call!(ctx, &eng, ps_rows(&eng, &a, &filters));
    list.retain(|c| visible(ctx, &eng, c));
    let running = list.iter().filter(|c| state_of(c) == "running").count();
    let head = match ctx.lang {
        Lang::Zh => format!(
            "🐳 {} · {} 个容器，{running} 个运行中",
            eng.name,
            list.len()
        ),
        Lang::En => format!(
            "🐳 {} · {} containers, {running} running",
            eng.name,
            list.len()
        ),
    };
    if list.is_empty() {
        let hint = if a.all {
            ctx.lang.pick("（没有容器）", "(no containers)")
        } else {
            ctx.lang.pick(
                "（没有运行中的容器；/docker ps -a 查看全部）",
                "(no running containers; /docker ps -a shows all)",
            )
        };
        return reply(ctx, format!("{head}\n{hint}"));
    }
    let rows: Vec<Vec<String>> = list.iter().map(|c| ps_row(c, now, ctx.lang)).collect();
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

async fn inspect(ctx: &Ctx<'_>, a: NameArgs) -> Outcome {
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let c = match find(ctx, &eng, &a.name).await {
        Ok(c) => c,
        Err(o) => return o,
    };
    let id = c.id.clone().unwrap_or_default();
    let d = try_call!(
        ctx,
        &eng,
        eng.client
            .inspect_container(&id, None::<qp::InspectContainerOptions>)
    );
    let lang = ctx.lang;
    let now = now();
    let l = |zh: &str, en: &str| lang.pick(zh, en).to_string();
    let ago = |s: Option<&String>| {
        s.and_then(|s| ops::parse_time(s))
            .map(|t| render::human_ago(t, now, lang))
    };
    let st = d.state.clone().unwrap_or_default();
    let mut out = vec![format!(
        "📦 {} ({}) @{}",
        summary_name(&c),
        ops::short_id(&id),
        eng.name
    )];
    let image = d
        .config
        .as_ref()
        .and_then(|c| c.image.clone())
        .or(c.image.clone())
        .unwrap_or_default();
    out.push(format!("{}: {image}", l("镜像", "Image")));
    let status = st.status.map(|s| s.to_string()).unwrap_or_default();
    let health = st
        .health
        .as_ref()
        .and_then(|h| h.status)
        .map(|s| s.to_string());
    let marker = {
        let fake_status = match (status.as_str(), health.as_deref()) {
            ("running", Some("unhealthy")) => "(unhealthy)".to_string(),
            ("running", Some("starting")) => "health: starting".to_string(),
            ("exited", _) => format!("({})", st.exit_code.unwrap_or(0)),
            _ => String::new(),
        };
        status_marker(&status, &fake_status)
    };
    let since = if status == "running" || status == "paused" {
        ago(st.started_at.as_ref())
    } else {
        ago(st.finished_at.as_ref())
    };
    out.push(format!(
        "{}: {marker}{}",
        l("状态", "State"),
        since.map(|s| format!(" · {s}")).unwrap_or_default()
    ));
    if let Some(h) = &st.health {
        let last = h
            .log
            .as_ref()
            .and_then(|l| l.last())
            .and_then(|r| r.output.clone())
            .map(|o| render::truncate_to_width(o.trim(), 80))
            .unwrap_or_default();
        out.push(format!(
            "{}: {} ({} {}){}",
            l("健康", "Health"),
            health.clone().unwrap_or_default(),
            l("连续失败", "failing streak"),
            h.failing_streak.unwrap_or(0),
            if last.is_empty() {
                String::new()
            } else {
                format!(" · {last}")
            }
        ));
    }
    out.push(format!(
        "{}: {} · {}: {} · OOMKilled: {}",
        l("重启次数", "Restarts"),
        d.restart_count.unwrap_or(0),
        l("退出码", "Exit code"),
        st.exit_code.unwrap_or(0),
        if st.oom_killed.unwrap_or(false) {
            l("是 ⚠️", "yes ⚠️")
        } else {
            l("否", "no")
        }
    ));
    if let Some(err) = st.error.as_ref().filter(|e| !e.is_empty()) {
        out.push(format!(
            "{}: {}",
            l("错误", "Error"),
            render::truncate_to_width(err, 120)
        ));
    }
    let mut ports: Vec<String> = Vec::new();
    if let Some(map) = d.network_settings.as_ref().and_then(|n| n.ports.as_ref()) {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        for k in keys {
            let binds = map.get(k).cloned().flatten().unwrap_or_default();
            if binds.is_empty() {
                ports.push(k.clone());
            }
            for b in binds {
                ports.push(format!(
                    "{}:{}→{k}",
                    b.host_ip.unwrap_or_default(),
                    b.host_port.unwrap_or_default()
                ));
            }
        }
    }
    if !ports.is_empty() {
        out.push(format!("{}: {}", l("端口", "Ports"), ports.join(", ")));
    }
    let mounts: Vec<String> = d
        .mounts
        .iter()
        .flatten()
        .map(|m| {
            format!(
                "{}→{}{}",
                m.name.clone().or(m.source.clone()).unwrap_or_default(),
                m.destination.clone().unwrap_or_default(),
                if m.rw == Some(false) { " (ro)" } else { "" }
            )
        })
        .collect();
    if !mounts.is_empty() {
        out.push(format!("{}: {}", l("挂载", "Mounts"), mounts.join(", ")));
    }
    let mut nets: Vec<String> = d
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| {
            n.iter()
                .map(
                    |(name, ep)| match ep.ip_address.as_deref().filter(|s| !s.is_empty()) {
                        Some(ip) => format!("{name} ({ip})"),
                        None => name.clone(),
                    },
                )
                .collect()
        })
        .unwrap_or_default();
    nets.sort();
    if !nets.is_empty() {
        out.push(format!("{}: {}", l("网络", "Networks"), nets.join(", ")));
    }
    if let Some(p) = c.labels.as_ref().and_then(|l| l.get(COMPOSE_PROJECT)) {
        let svc = c
            .labels
            .as_ref()
            .and_then(|l| l.get(COMPOSE_SERVICE))
            .cloned()
            .unwrap_or_default();
        out.push(format!("Compose: {p}/{svc}"));
    }
    if let Some(t) = ago(d.created.as_ref()) {
        out.push(format!("{}: {t}", l("创建", "Created")));
    }
    if let Some(t) = ago(st.started_at.as_ref()) {
        out.push(format!("{}: {t}", l("启动", "Started")));
    }
    if status != "running"
        && let Some(t) = ago(st.finished_at.as_ref())
    {
        out.push(format!("{}: {t}", l("结束", "Finished")));
    }
    reply(ctx, fit(ctx, "", &out))
}

async fn logs(ctx: &Ctx<'_>, a: LogsArgs) -> Outcome {
    let tail = a
        .tail
        .unwrap_or(ctx.app.config.docker.logs_tail)
        .clamp(1, 10_000);
    let since = match a.since.as_deref().map(parse_since).transpose() {
        Ok(s) => s,
        Err(e) => return bad_input(ctx, &e),
    };
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let c = match find(ctx, &eng, &a.name).await {
        Ok(c) => c,
        Err(o) => return o,
    };
    let name = summary_name(&c);
    let text = match fetch_logs(&eng, c.id.as_deref().unwrap_or(&name), tail, since).await {
        Ok(t) => t,
        Err(e) => return error(ctx, call_error_text(ctx, &eng, &e).await),
    };
    let head = match ctx.lang {
        Lang::Zh => format!("📜 {name} 最近 {tail} 行 · {}", marker_of(&c)),
        Lang::En => format!("📜 {name} last {tail} lines · {}", marker_of(&c)),
    };
    if text.trim().is_empty() {
        return reply(
            ctx,
            format!(
                "{head}\n{}",
                ctx.lang.pick("（没有日志输出）", "(no log output)")
            ),
        );
    }
    let body = render::tail_fit(
        text.trim_end(),
        TEXT_BUDGET.saturating_sub(head.len() + 1),
        ctx.lang,
    );
    reply(ctx, format!("{head}\n{body}"))
}

/// The last `tail` lines of a container's stdout and stderr, interleaved as written.
pub async fn fetch_logs(
    eng: &Engine,
    id: &str,
    tail: usize,
    since_secs: Option<i64>,
) -> Result<String, bollard::errors::Error> {
    let mut b = qp::LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&tail.to_string());
    if let Some(s) = since_secs {
        b = b.since(i32::try_from(now() - s).unwrap_or(0));
    }
    let mut stream = eng.client.logs(id, Some(b.build()));
    let mut out = String::new();
    let collect = async {
        while let Some(item) = stream.next().await {
            let chunk = item?;
            out.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        Ok::<(), bollard::errors::Error>(())
    };
    match tokio::time::timeout(STREAM_TIMEOUT, collect).await {
        Ok(r) => r?,
        Err(_) => out.push_str("\n…"),
    }
    Ok(out)
}

async fn one_stats(eng: &Engine, id: &str) -> Result<StatsView, bollard::errors::Error> {
    let opts = qp::StatsOptionsBuilder::default().stream(false).build();
    let mut s = eng.client.stats(id, Some(opts));
    match s.next().await {
        Some(r) => Ok(StatsView::from_stats(&r?)),
        None => Ok(StatsView::default()),
    }
}

async fn stats(ctx: &Ctx<'_>, a: StatsArgs) -> Outcome {
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let targets: Vec<ContainerSummary> = match &a.name {
        Some(n) => match find(ctx, &eng, n).await {
            Ok(c) => vec![c],
            Err(o) => return o,
        },
        None => {
            let mut l = try_call!(
                ctx,
                &eng,
                eng.client
                    .list_containers(None::<qp::ListContainersOptions>)
            );
            l.retain(|c| visible(ctx, &eng, c));
            l.sort_by_key(summary_name);
            l.truncate(40);
            l
        }
    };
    if targets.is_empty() {
        return reply(
            ctx,
            ctx.lang
                .pick("（没有运行中的容器）", "(no running containers)"),
        );
    }
    let futs = targets
        .iter()
        .map(|c| one_stats(&eng, c.id.as_deref().unwrap_or("")));
    let results = futures::future::join_all(futs).await;
    let mut rows = Vec::new();
    for (c, r) in targets.iter().zip(results) {
        let name = render::truncate_to_width(&summary_name(c), 24);
        match r {
            Ok(s) => rows.push(vec![
                name,
                format!("{:.1}%", s.cpu_percent),
                format!(
                    "{}/{}",
                    render::human_bytes(s.mem_used),
                    render::human_bytes(s.mem_limit)
                ),
                format!(
                    "{}/{}",
                    render::human_bytes(s.net_rx),
                    render::human_bytes(s.net_tx)
                ),
                format!(
                    "{}/{}",
                    render::human_bytes(s.block_read),
                    render::human_bytes(s.block_write)
                ),
            ]),
            Err(e) => rows.push(vec![
                name,
                format!("⚠️ {}", CallError::from_bollard(&eng.name, &e).message()),
            ]),
        }
    }
    let header = match ctx.lang {
        Lang::Zh => ["名称", "CPU", "内存 已用/上限", "网络 收/发", "磁盘 读/写"],
        Lang::En => ["NAME", "CPU", "MEM USED/LIMIT", "NET RX/TX", "BLOCK R/W"],
    };
    let head = format!("📊 {}", eng.name);
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

async fn top(ctx: &Ctx<'_>, a: NameArgs) -> Outcome {
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let c = match find(ctx, &eng, &a.name).await {
        Ok(c) => c,
        Err(o) => return o,
    };
    let t = try_call!(
        ctx,
        &eng,
        eng.client
            .top_processes(c.id.as_deref().unwrap_or(""), None::<qp::TopOptions>)
    );
    let titles = t.titles.unwrap_or_default();
    let wanted = ["PID", "USER", "UID", "TIME", "CMD", "COMMAND"];
    let cols: Vec<usize> = titles
        .iter()
        .enumerate()
        .filter(|(_, t)| wanted.contains(&t.as_str()))
        .map(|(i, _)| i)
        .collect();
    let header: Vec<&str> = cols.iter().map(|&i| titles[i].as_str()).collect();
    let rows: Vec<Vec<String>> = t
        .processes
        .unwrap_or_default()
        .iter()
        .map(|p| {
            cols.iter()
                .map(|&i| render::truncate_to_width(p.get(i).map(String::as_str).unwrap_or(""), 60))
                .collect()
        })
        .collect();
    let head = match ctx.lang {
        Lang::Zh => format!("⚙️ {} 的进程（{} 个）", summary_name(&c), rows.len()),
        Lang::En => format!("⚙️ processes in {} ({})", summary_name(&c), rows.len()),
    };
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

fn image_name(tags: &[String]) -> String {
    tags.iter()
        .find(|t| t.as_str() != "<none>:<none>")
        .cloned()
        .unwrap_or_else(|| "<none>".into())
}

fn image_id(id: &str) -> String {
    ops::short_id(id.strip_prefix("sha256:").unwrap_or(id))
}

async fn images(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = match engine(ctx, &h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let mut list = try_call!(
        ctx,
        &eng,
        eng.client.list_images(None::<qp::ListImagesOptions>)
    );
    list.sort_by_key(|i| std::cmp::Reverse(i.created));
    let now = now();
    let total: i64 = list.iter().map(|i| i.size.max(0)).sum();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|i| {
            vec![
                render::truncate_to_width(&image_name(&i.repo_tags), 36),
                image_id(&i.id),
                render::human_bytes(i.size.max(0) as u64),
                render::human_ago(i.created, now, ctx.lang),
            ]
        })
        .collect();
    let header = match ctx.lang {
        Lang::Zh => ["镜像", "ID", "大小", "创建"],
        Lang::En => ["IMAGE", "ID", "SIZE", "CREATED"],
    };
    let head = match ctx.lang {
        Lang::Zh => format!(
            "🖼 {} · {} 个镜像，共 {}",
            eng.name,
            list.len(),
            render::human_bytes(total as u64)
        ),
        Lang::En => format!(
            "🖼 {} · {} images, {}",
            eng.name,
            list.len(),
            render::human_bytes(total as u64)
        ),
    };
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

async fn networks(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = match engine(ctx, &h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let mut list = try_call!(
        ctx,
        &eng,
        eng.client.list_networks(None::<qp::ListNetworksOptions>)
    );
    list.sort_by(|a, b| a.name.cmp(&b.name));
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| {
            vec![
                render::truncate_to_width(n.name.as_deref().unwrap_or(""), 32),
                n.driver.clone().unwrap_or_default(),
                n.scope.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let header = match ctx.lang {
        Lang::Zh => ["网络", "驱动", "范围"],
        Lang::En => ["NETWORK", "DRIVER", "SCOPE"],
    };
    let head = format!("🔌 {} · {}", eng.name, list.len());
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

async fn volumes(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = match engine(ctx, &h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let resp = try_call!(
        ctx,
        &eng,
        eng.client.list_volumes(None::<qp::ListVolumesOptions>)
    );
    let mut list = resp.volumes.unwrap_or_default();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|v| vec![render::truncate_to_width(&v.name, 40), v.driver.clone()])
        .collect();
    let header = match ctx.lang {
        Lang::Zh => ["数据卷", "驱动"],
        Lang::En => ["VOLUME", "DRIVER"],
    };
    let head = format!("💾 {} · {}", eng.name, list.len());
    if rows.is_empty() {
        return reply(
            ctx,
            format!(
                "{head}\n{}",
                ctx.lang.pick("（没有数据卷）", "(no volumes)")
            ),
        );
    }
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

async fn df(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = match engine(ctx, &h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let imgs = try_call!(
        ctx,
        &eng,
        eng.client.list_images(None::<qp::ListImagesOptions>)
    );
    let opts = qp::ListContainersOptionsBuilder::default()
        .all(true)
        .size(true)
        .build();
    let cons = try_call!(ctx, &eng, eng.client.list_containers(Some(opts)));
    let vols = try_call!(
        ctx,
        &eng,
        eng.client.list_volumes(None::<qp::ListVolumesOptions>)
    );
    let used_images: std::collections::HashSet<&str> =
        cons.iter().filter_map(|c| c.image_id.as_deref()).collect();
    let img_size: u64 = imgs.iter().map(|i| i.size.max(0) as u64).sum();
    let img_free: u64 = imgs
        .iter()
        .filter(|i| !used_images.contains(i.id.as_str()))
        .map(|i| i.size.max(0) as u64)
        .sum();
    let con_size: u64 = cons
        .iter()
        .map(|c| c.size_rw.unwrap_or(0).max(0) as u64)
        .sum();
    let con_free: u64 = cons
        .iter()
        .filter(|c| state_of(c) != "running" && state_of(c) != "paused")
        .map(|c| c.size_rw.unwrap_or(0).max(0) as u64)
        .sum();
    let nvol = vols.volumes.map_or(0, |v| v.len());
    let header = match ctx.lang {
        Lang::Zh => ["类型", "数量", "大小", "可回收"],
        Lang::En => ["TYPE", "TOTAL", "SIZE", "RECLAIMABLE"],
    };
    let rows = vec![
        vec![
            ctx.lang.pick("镜像", "Images").to_string(),
            imgs.len().to_string(),
            render::human_bytes(img_size),
            render::human_bytes(img_free),
        ],
        vec![
            ctx.lang.pick("容器", "Containers").to_string(),
            cons.len().to_string(),
            render::human_bytes(con_size),
            render::human_bytes(con_free),
        ],
        vec![
            ctx.lang.pick("数据卷", "Volumes").to_string(),
            nvol.to_string(),
            "-".into(),
            "-".into(),
        ],
    ];
    let head = format!("💽 {}", eng.name);
    reply(ctx, fit(ctx, &head, &table::render(&header, &rows)))
}

async fn info(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = match engine(ctx, &h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let i = try_call!(ctx, &eng, eng.client.info());
    let l = |zh: &'static str, en: &'static str| ctx.lang.pick(zh, en);
    let s = |o: Option<String>| o.unwrap_or_else(|| "-".into());
    let lines = vec![
        format!("🐳 {} ({})", eng.name, s(i.name)),
        format!("{}: {}", l("引擎版本", "Engine"), s(i.server_version)),
        format!(
            "{}: {} · {}",
            l("系统", "OS"),
            s(i.operating_system),
            s(i.kernel_version)
        ),
        format!(
            "CPU: {} · {}: {}",
            i.ncpu.unwrap_or(0),
            l("内存", "Memory"),
            render::human_bytes(i.mem_total.unwrap_or(0).max(0) as u64)
        ),
        format!(
            "{}: {} ({} {}, {} {}, {} {})",
            l("容器", "Containers"),
            i.containers.unwrap_or(0),
            i.containers_running.unwrap_or(0),
            l("运行", "running"),
            i.containers_paused.unwrap_or(0),
            l("暂停", "paused"),
            i.containers_stopped.unwrap_or(0),
            l("停止", "stopped")
        ),
        format!("{}: {}", l("镜像", "Images"), i.images.unwrap_or(0)),
        format!(
            "{}: {} · cgroup {}",
            l("存储驱动", "Storage driver"),
            s(i.driver),
            i.cgroup_version.map(|v| v.to_string()).unwrap_or_default()
        ),
        format!("{}: {}", l("数据目录", "Root dir"), s(i.docker_root_dir)),
    ];
    reply(ctx, fit(ctx, "", &lines))
}

async fn version(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = match engine(ctx, &h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let v = try_call!(ctx, &eng, eng.client.version());
    let neg = eng.client.client_version();
    let s = |o: Option<String>| o.unwrap_or_else(|| "-".into());
    let l = |zh: &'static str, en: &'static str| ctx.lang.pick(zh, en);
    let lines = [
        format!("🐳 {}", eng.name),
        format!("{}: {}", l("引擎版本", "Engine"), s(v.version)),
        format!(
            "API: {} ({} {})",
            s(v.api_version),
            l("最低", "min"),
            s(v.min_api_version)
        ),
        format!(
            "{}: {}.{}",
            l("协商使用的 API", "Negotiated API"),
            neg.major_version,
            neg.minor_version
        ),
        format!("Go: {} · {}/{}", s(v.go_version), s(v.os), s(v.arch)),
    ];
    reply(ctx, lines.join("\n"))
}

async fn events(ctx: &Ctx<'_>, a: EventsArgs) -> Outcome {
    let back = match parse_since(&a.since) {
        Ok(s) => s,
        Err(e) => return bad_input(ctx, &e),
    };
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let now = now();
    let opts = qp::EventsOptionsBuilder::default()
        .since(&(now - back).to_string())
        .until(&now.to_string())
        .build();
    let mut stream = eng.client.events(Some(opts));
    let mut lines: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let mut count = 0usize;
    let collect = async {
        while let Some(item) = stream.next().await {
            let ev = item?;
            let attrs = ev
                .actor
                .as_ref()
                .and_then(|a| a.attributes.clone())
                .unwrap_or_default();
            let who = attrs
                .get("name")
                .cloned()
                .or_else(|| {
                    ev.actor
                        .as_ref()
                        .and_then(|a| a.id.as_deref())
                        .map(ops::short_id)
                })
                .unwrap_or_default();
            let shown = match ev.typ.map(|t| t.to_string()).as_deref() {
                Some("container") => ctx.scopes.container(&eng.name, &who, Access::Read),
                _ => ctx.scopes.docker_host_wide(&eng.name, Access::Read),
            };
            if !shown {
                continue;
            }
            count += 1;
            let extra = attrs
                .get("exitCode")
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default();
            lines.push_back(format!(
                "{} {} {} {who}{extra}",
                render::human_ago(ev.time.unwrap_or(now), now, ctx.lang),
                ev.typ.map(|t| t.to_string()).unwrap_or_default(),
                ev.action.unwrap_or_default(),
            ));
            if lines.len() > 300 {
                lines.pop_front();
            }
        }
        Ok::<(), bollard::errors::Error>(())
    };
    match tokio::time::timeout(STREAM_TIMEOUT, collect).await {
        Ok(Ok(())) | Err(_) => {}
        Ok(Err(e)) => return error(ctx, call_error_text(ctx, &eng, &e).await),
    }
    let head = match ctx.lang {
        Lang::Zh => format!("🗓 {} · 最近 {} 的 {count} 个事件", eng.name, a.since),
        Lang::En => format!("🗓 {} · {count} events in the last {}", eng.name, a.since),
    };
    if lines.is_empty() {
        return reply(
            ctx,
            format!("{head}\n{}", ctx.lang.pick("（没有事件）", "(no events)")),
        );
    }
    let body: Vec<String> = lines.into_iter().collect();
    let body = render::tail_fit(
        &body.join("\n"),
        TEXT_BUDGET.saturating_sub(head.len() + 1),
        ctx.lang,
    );
    reply(ctx, format!("{head}\n{body}"))
}

// ---- compose -----------------------------------------------------------------------------

async fn project_containers(
    eng: &Engine,
    project: Option<&str>,
) -> Result<Vec<ContainerSummary>, bollard::errors::Error> {
    let f = match project {
        Some(p) => format!("{COMPOSE_PROJECT}={p}"),
        None => COMPOSE_PROJECT.to_string(),
    };
    let mut filters = HashMap::new();
    filters.insert("label".to_string(), vec![f]);
    eng.client
        .list_containers(Some(
            qp::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
}

async fn compose_ls(ctx: &Ctx<'_>, h: HostOpt) -> Outcome {
    let eng = match engine(ctx, &h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let mut list = try_call!(ctx, &eng, project_containers(&eng, None));
    list.retain(|c| visible(ctx, &eng, c));
    let mut projects: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for c in &list {
        if let Some(p) = ops::label(c, COMPOSE_PROJECT) {
            let e = projects.entry(p.to_string()).or_default();
            e.1 += 1;
            if state_of(c) == "running" {
                e.0 += 1;
            }
        }
    }
    if projects.is_empty() {
        return reply(
            ctx,
            ctx.lang
                .pick("（没有 Compose 项目）", "(no compose projects)"),
        );
    }
    let rows: Vec<Vec<String>> = projects
        .iter()
        .map(|(p, (run, all))| {
            let mark = if run == all {
                "🟢"
            } else if *run == 0 {
                "🔴"
            } else {
                "🟡"
            };
            vec![
                render::truncate_to_width(p, 32),
                format!("{mark} {run}/{all}"),
            ]
        })
        .collect();
    let header = match ctx.lang {
        Lang::Zh => ["项目", "运行/总数"],
        Lang::En => ["PROJECT", "RUNNING/TOTAL"],
    };
    reply(
        ctx,
        fit(
            ctx,
            &format!("🧩 {}", eng.name),
            &table::render(&header, &rows),
        ),
    )
}

async fn load_project(
    ctx: &Ctx<'_>,
    eng: &Engine,
    project: &str,
) -> Result<Vec<ContainerSummary>, Outcome> {
    let mut list = match project_containers(eng, Some(project)).await {
        Ok(l) => l,
        Err(e) => return Err(error(ctx, call_error_text(ctx, eng, &e).await)),
    };
    // A project is changed whole or not at all: one container out of scope refuses it.
    if ctx.access == Access::Write
        && let Some(out) = list
            .iter()
            .find(|c| !ctx.scopes.container(&eng.name, &summary_name(c), Access::Write))
    {
        return Err(runtime::refuse_scope(ctx, Some(&eng.name), &summary_name(out)));
    }
    list.retain(|c| visible(ctx, eng, c));
    if list.is_empty() {
        let known: Vec<String> = match project_containers(eng, None).await {
            Ok(all) => {
                let mut k: Vec<String> = all
                    .iter()
                    .filter(|c| visible(ctx, eng, c))
                    .filter_map(|c| ops::label(c, COMPOSE_PROJECT).map(str::to_string))
                    .collect();
                k.sort();
                k.dedup();
                k
            }
            Err(_) => Vec::new(),
        };
        let list = if known.is_empty() {
            "-".to_string()
        } else {
            known.join(", ")
        };
        return Err(error(
            ctx,
            match ctx.lang {
                Lang::Zh => format!(
                    "在 {} 上找不到 Compose 项目「{project}」。已有项目：{list}",
                    eng.name
                ),
                Lang::En => format!(
                    "No compose project \"{project}\" on {}. Projects: {list}",
                    eng.name
                ),
            },
        ));
    }
    Ok(ops::compose_start_order(list))
}

async fn compose_ps(ctx: &Ctx<'_>, a: ProjectArgs) -> Outcome {
    if let Err(e) = ops::validate_ref(&a.project) {
        return bad_input(ctx, &e);
    }
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let list = match load_project(ctx, &eng, &a.project).await {
        Ok(l) => l,
        Err(o) => return o,
    };
    let now = now();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            vec![
                ops::label(c, COMPOSE_SERVICE).unwrap_or("-").to_string(),
                render::truncate_to_width(&summary_name(c), 28),
                marker_of(c),
                c.created
                    .map(|t| render::human_ago(t, now, ctx.lang))
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let header = match ctx.lang {
        Lang::Zh => ["服务", "容器", "状态", "创建"],
        Lang::En => ["SERVICE", "CONTAINER", "STATE", "CREATED"],
    };
    reply(
        ctx,
        fit(
            ctx,
            &format!("🧩 {} @{}", a.project, eng.name),
            &table::render(&header, &rows),
        ),
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ComposeOp {
    Restart,
    Stop,
    Start,
}

async fn compose_write(ctx: &Ctx<'_>, a: ProjectArgs, op: ComposeOp) -> Outcome {
    if let Err(e) = ops::validate_ref(&a.project) {
        return bad_input(ctx, &e);
    }
    let target = format!("compose:{}", a.project);
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let order = match load_project(ctx, &eng, &a.project).await {
        Ok(l) => l,
        Err(o) => return o,
    };
    let mut lines = Vec::new();
    let mut failed = 0;
    if matches!(op, ComposeOp::Stop | ComposeOp::Restart) {
        for c in order.iter().rev() {
            let r = apply(&eng, c, &WriteOp::Stop).await;
            failed += usize::from(r.is_err());
            lines.push(op_line(ctx, &eng, c, "stop", r).await);
        }
    }
    if matches!(op, ComposeOp::Start | ComposeOp::Restart) {
        for c in &order {
            let r = apply(&eng, c, &WriteOp::Start).await;
            failed += usize::from(r.is_err());
            lines.push(op_line(ctx, &eng, c, "start", r).await);
        }
    }
    let result = if failed == 0 {
        "ok".to_string()
    } else {
        format!("{failed} failed")
    };
    tracing::info!(user = %ctx.identity, host = %eng.name, %target, %result, "docker compose write");
    let head = format!("🧩 {} @{}", a.project, eng.name);
    let text = fit(ctx, &head, &lines);
    let r = if failed == 0 {
        Reply::command(text, ctx.lang)
    } else {
        Reply::error(text, ctx.lang)
    };
    Outcome::Audited(r, ctx.audit(Some(&eng.name), Some(&target), &result))
}

// ---- write -------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum WriteOp {
    Start,
    Stop,
    Restart,
    Kill(String),
    Pause,
    Unpause,
}

impl WriteOp {
    fn verb(&self) -> &'static str {
        match self {
            WriteOp::Start => "start",
            WriteOp::Stop => "stop",
            WriteOp::Restart => "restart",
            WriteOp::Kill(_) => "kill",
            WriteOp::Pause => "pause",
            WriteOp::Unpause => "unpause",
        }
    }
}

const SIGNALS: &[&str] = &[
    "HUP", "INT", "QUIT", "KILL", "USR1", "USR2", "TERM", "STOP", "CONT", "WINCH", "ALRM",
];

fn validate_signal(s: &str) -> Result<String, String> {
    let up = s.trim().to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    if SIGNALS.contains(&bare) {
        return Ok(format!("SIG{bare}"));
    }
    match bare.parse::<u8>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n.to_string()),
        _ => Err(format!(
            "unknown signal {s:?} (use one of {} or 1-64)",
            SIGNALS.join(", ")
        )),
    }
}

async fn apply(
    eng: &Engine,
    c: &ContainerSummary,
    op: &WriteOp,
) -> Result<(), bollard::errors::Error> {
    let id = c.id.as_deref().unwrap_or("");
    let d = &eng.client;
    match op {
        WriteOp::Start => {
            d.start_container(id, None::<qp::StartContainerOptions>)
                .await
        }
        WriteOp::Stop => d.stop_container(id, None::<qp::StopContainerOptions>).await,
        WriteOp::Restart => {
            d.restart_container(id, None::<qp::RestartContainerOptions>)
                .await
        }
        WriteOp::Kill(sig) => {
            d.kill_container(
                id,
                Some(
                    qp::KillContainerOptionsBuilder::default()
                        .signal(sig)
                        .build(),
                ),
            )
            .await
        }
        WriteOp::Pause => d.pause_container(id).await,
        WriteOp::Unpause => d.unpause_container(id).await,
    }
}

async fn op_line(
    ctx: &Ctx<'_>,
    eng: &Engine,
    c: &ContainerSummary,
    verb: &str,
    r: Result<(), bollard::errors::Error>,
) -> String {
    let name = summary_name(c);
    match r {
        Ok(()) => format!("✅ {verb} {name}"),
        Err(e) => format!("❌ {verb} {name}: {}", call_error_text(ctx, eng, &e).await),
    }
}

async fn write(ctx: &Ctx<'_>, names: Vec<String>, h: HostOpt, op: WriteOp) -> Outcome {
    for n in &names {
        if let Err(e) = ops::validate_ref(n) {
            return bad_input(ctx, &e);
        }
    }
    if names.len() > 50 {
        return bad_input(ctx, "more than 50 containers at once");
    }
    let eng = match engine(ctx, &h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    // Every name is resolved (and scope-checked) before anything changes.
    let mut found = Vec::new();
    for n in &names {
        match find(ctx, &eng, n).await {
            Ok(c) => found.push(Ok(c)),
            Err(Outcome::Reply(r)) => found.push(Err((n.clone(), r))),
            Err(o) => return o,
        }
    }
    let mut lines = Vec::new();
    let mut failed = 0;
    let mut resolved = Vec::new();
    for f in found {
        match f {
            Ok(c) => {
                let r = apply(&eng, &c, &op).await;
                failed += usize::from(r.is_err());
                resolved.push(summary_name(&c));
                lines.push(op_line(ctx, &eng, &c, op.verb(), r).await);
            }
            Err((n, r)) => {
                failed += 1;
                resolved.push(n);
                lines.push(format!("❌ {}", r.reply));
            }
        }
    }
    let target = resolved.join(",");
    let result = if failed == 0 {
        "ok".to_string()
    } else {
        format!("{failed}/{} failed", names.len())
    };
    tracing::info!(user = %ctx.identity, host = %eng.name, %target, op = op.verb(), %result, "docker write");
    let text = fit(ctx, &format!("🐳 {}", eng.name), &lines);
    let r = if failed == 0 {
        Reply::command(text, ctx.lang)
    } else {
        Reply::error(text, ctx.lang)
    };
    Outcome::Audited(r, ctx.audit(Some(&eng.name), Some(&target), &result))
}

// ---- destructive -------------------------------------------------------------------------

async fn rm(ctx: &Ctx<'_>, a: RmArgs) -> Outcome {
    for n in &a.names {
        if let Err(e) = ops::validate_ref(n) {
            return bad_input(ctx, &e);
        }
    }
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let mut targets = Vec::new();
    for n in &a.names {
        match find(ctx, &eng, n).await {
            Ok(c) => targets.push(c),
            Err(o) => return o,
        }
    }
    let running: Vec<String> = targets
        .iter()
        .filter(|c| matches!(state_of(c).as_str(), "running" | "paused" | "restarting"))
        .map(summary_name)
        .collect();
    if !running.is_empty() && !a.force {
        return error(
            ctx,
            match ctx.lang {
                Lang::Zh => format!(
                    "{} 仍在运行：先 /docker stop，或用 rm -f。",
                    running.join("、")
                ),
                Lang::En => format!(
                    "{} still running: /docker stop first, or use rm -f.",
                    running.join(", ")
                ),
            },
        );
    }
    let listed: Vec<String> = targets
        .iter()
        .map(|c| format!("{} ({})", summary_name(c), marker_of(c)))
        .collect();
    if !ctx.confirmed {
        let summary = match ctx.lang {
            Lang::Zh => format!("在 {} 上删除容器 {}", eng.name, listed.join("、")),
            Lang::En => format!("remove containers {} on {}", listed.join(", "), eng.name),
        };
        return Outcome::NeedsConfirmation { summary };
    }
    let mut lines = Vec::new();
    let mut failed = 0;
    for c in &targets {
        let opts = qp::RemoveContainerOptionsBuilder::default()
            .force(a.force)
            .build();
        let r = eng
            .client
            .remove_container(c.id.as_deref().unwrap_or(""), Some(opts))
            .await;
        failed += usize::from(r.is_err());
        lines.push(op_line(ctx, &eng, c, "rm", r).await);
    }
    let target: Vec<String> = targets.iter().map(summary_name).collect();
    let result = if failed == 0 {
        "ok".to_string()
    } else {
        format!("{failed}/{} failed", targets.len())
    };
    tracing::info!(user = %ctx.identity, host = %eng.name, target = %target.join(","), %result, "docker rm");
    let text = fit(ctx, &format!("🗑 {}", eng.name), &lines);
    let r = if failed == 0 {
        Reply::command(text, ctx.lang)
    } else {
        Reply::error(text, ctx.lang)
    };
    Outcome::Audited(
        r,
        ctx.audit(Some(&eng.name), Some(&target.join(",")), &result),
    )
}

const PRUNE_KEYS: &[&str] = &["label", "label!", "until"];

async fn prune(ctx: &Ctx<'_>, a: PruneArgs) -> Outcome {
    let mut filters = match parse_filters(&a.filter, PRUNE_KEYS) {
        Ok(f) => f,
        Err(e) => return bad_input(ctx, &e),
    };
    let what = match a.what {
        PruneWhat::Containers => "containers",
        PruneWhat::Images => "images",
    };
    let target = format!("prune:{what}");
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    if !ctx.scopes.docker_host_wide(&eng.name, Access::Write) {
        return runtime::refuse_scope(ctx, Some(&eng.name), &target);
    }
    // What would go: the same selection the engine's prune makes.
    let (names, bytes) = match a.what {
        PruneWhat::Containers => {
            let mut f = filters.clone();
            f.remove("until");
            f.insert(
                "status".into(),
                vec!["exited".into(), "created".into(), "dead".into()],
            );
            let opts = qp::ListContainersOptionsBuilder::default()
                .all(true)
                .size(true)
                .filters(&f)
                .build();
            let list = try_call!(ctx, &eng, eng.client.list_containers(Some(opts)));
            let bytes: u64 = list
                .iter()
                .map(|c| c.size_rw.unwrap_or(0).max(0) as u64)
                .sum();
            (list.iter().map(summary_name).collect::<Vec<_>>(), bytes)
        }
        PruneWhat::Images => {
            let mut f = filters.clone();
            f.remove("until");
            f.insert("dangling".into(), vec!["true".into()]);
            let opts = qp::ListImagesOptionsBuilder::default().filters(&f).build();
            let list = try_call!(ctx, &eng, eng.client.list_images(Some(opts)));
            let bytes: u64 = list.iter().map(|i| i.size.max(0) as u64).sum();
            (
                list.iter().map(|i| image_id(&i.id)).collect::<Vec<_>>(),
                bytes,
            )
        }
    };
    if names.is_empty() {
        return reply(
            ctx,
            match ctx.lang {
                Lang::Zh => format!(
                    "{} 上没有可清理的{}。",
                    eng.name,
                    if what == "images" {
                        "悬空镜像"
                    } else {
                        "已停止容器"
                    }
                ),
                Lang::En => format!(
                    "Nothing to prune on {}: no {}.",
                    eng.name,
                    if what == "images" {
                        "dangling images"
                    } else {
                        "stopped containers"
                    }
                ),
            },
        );
    }
    if !ctx.confirmed {
        let shown: Vec<String> = names.iter().take(10).cloned().collect();
        let more = names.len().saturating_sub(shown.len());
        let more = if more > 0 {
            match ctx.lang {
                Lang::Zh => format!(" 等（还有 {more} 个）"),
                Lang::En => format!(" and {more} more"),
            }
        } else {
            String::new()
        };
        let summary = match ctx.lang {
            Lang::Zh => format!(
                "在 {} 上清理 {} 个{}：{}{more}，预计释放 {}",
                eng.name,
                names.len(),
                if what == "images" {
                    "悬空镜像"
                } else {
                    "已停止容器"
                },
                shown.join("、"),
                render::human_bytes(bytes)
            ),
            Lang::En => format!(
                "prune {} {} on {}: {}{more}, freeing about {}",
                names.len(),
                if what == "images" {
                    "dangling images"
                } else {
                    "stopped containers"
                },
                eng.name,
                shown.join(", "),
                render::human_bytes(bytes)
            ),
        };
        return Outcome::NeedsConfirmation { summary };
    }
    let (deleted, reclaimed) = match a.what {
        PruneWhat::Containers => {
            let opts = qp::PruneContainersOptionsBuilder::default()
                .filters(&filters)
                .build();
            let r = try_call!(ctx, &eng, eng.client.prune_containers(Some(opts)));
            (
                r.containers_deleted.map_or(0, |d| d.len()),
                r.space_reclaimed.unwrap_or(0),
            )
        }
        PruneWhat::Images => {
            filters.insert("dangling".into(), vec!["true".into()]);
            let opts = qp::PruneImagesOptionsBuilder::default()
                .filters(&filters)
                .build();
            let r = try_call!(ctx, &eng, eng.client.prune_images(Some(opts)));
            (
                r.images_deleted.map_or(0, |d| d.len()),
                r.space_reclaimed.unwrap_or(0),
            )
        }
    };
    let freed = render::human_bytes(reclaimed.max(0) as u64);
    let result = format!("ok: {deleted} removed, {freed} freed");
    tracing::info!(user = %ctx.identity, host = %eng.name, %target, %result, "docker prune");
    let text = match ctx.lang {
        Lang::Zh => format!("🧹 {} · 已删除 {deleted} 个，释放 {freed}", eng.name),
        Lang::En => format!("🧹 {} · removed {deleted}, freed {freed}", eng.name),
    };
    Outcome::Audited(
        Reply::command(text, ctx.lang),
        ctx.audit(Some(&eng.name), Some(&target), &result),
    )
}

// ---- exec --------------------------------------------------------------------------------

/// Whether `argv` equals one allowlist entry (each entry split like a shell would, never run
/// through one).
pub fn exec_allowed(allowlist: &[String], argv: &[String]) -> bool {
    allowlist
        .iter()
        .filter_map(|entry| shlex::split(entry))
        .any(|allowed| allowed == argv)
}

async fn exec(ctx: &Ctx<'_>, a: ExecArgs) -> Outcome {
    let cfg = &ctx.app.config.docker;
    if !cfg.exec_enabled {
        return error(
            ctx,
            ctx.lang.pick(
                "exec 未启用（docker.exec_enabled = false）。",
                "exec is disabled (docker.exec_enabled = false).",
            ),
        );
    }
    if let Err(e) = ops::validate_ref(&a.name) {
        return bad_input(ctx, &e);
    }
    if a.argv
        .iter()
        .any(|w| w.len() > 512 || w.chars().any(char::is_control))
    {
        return bad_input(
            ctx,
            "command words must be short and without control characters",
        );
    }
    let target = a.name.clone();
    if !exec_allowed(&cfg.exec_allowlist, &a.argv) {
        metrics::counter!("wedock_refused_total", "reason" => "exec_allowlist").increment(1);
        let shown = shlex::try_join(a.argv.iter().map(String::as_str)).unwrap_or_default();
        let text = match ctx.lang {
            Lang::Zh => format!("命令不在 docker.exec_allowlist 中，已拒绝：{shown}"),
            Lang::En => format!("Command not in docker.exec_allowlist, refused: {shown}"),
        };
        return Outcome::Audited(
            Reply::error(text, ctx.lang),
            ctx.audit(
                host_choice(ctx, &a.h).as_deref(),
                Some(&target),
                "refused: not allowlisted",
            ),
        );
    }
    let eng = match engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(o) => return o,
    };
    let c = match find(ctx, &eng, &a.name).await {
        Ok(c) => c,
        Err(o) => return o,
    };
    let name = summary_name(&c);
    let (out, code) = match run_exec(&eng, c.id.as_deref().unwrap_or(""), &a.argv).await {
        Ok(x) => x,
        Err(e) => {
            let text = call_error_text(ctx, &eng, &e).await;
            return Outcome::Audited(
                Reply::error(text.clone(), ctx.lang),
                ctx.audit(Some(&eng.name), Some(&name), &format!("error: {text}")),
            );
        }
    };
    let result = format!("exit {}", code.map_or("?".into(), |c| c.to_string()));
    tracing::info!(user = %ctx.identity, host = %eng.name, target = %name, %result, "docker exec");
    let head = format!(
        "▶️ {name}: {} → {result}",
        shlex::try_join(a.argv.iter().map(String::as_str)).unwrap_or_default()
    );
    let body = render::tail_fit(
        out.trim_end(),
        TEXT_BUDGET.saturating_sub(head.len() + 1),
        ctx.lang,
    );
    let text = if body.is_empty() {
        head
    } else {
        format!("{head}\n{body}")
    };
    let r = if code == Some(0) {
        Reply::command(text, ctx.lang)
    } else {
        Reply::error(text, ctx.lang)
    };
    Outcome::Audited(r, ctx.audit(Some(&eng.name), Some(&name), &result))
}

async fn run_exec(
    eng: &Engine,
    id: &str,
    argv: &[String],
) -> Result<(String, Option<i64>), bollard::errors::Error> {
    use bollard::exec::{CreateExecOptions, StartExecResults};
    let created = eng
        .client
        .create_exec(
            id,
            CreateExecOptions {
                cmd: Some(argv.to_vec()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await?;
    let mut out = String::new();
    if let StartExecResults::Attached { mut output, .. } =
        eng.client.start_exec(&created.id, None).await?
    {
        let collect = async {
            while let Some(chunk) = output.next().await {
                out.push_str(&String::from_utf8_lossy(&chunk?.into_bytes()));
            }
            Ok::<(), bollard::errors::Error>(())
        };
        match tokio::time::timeout(STREAM_TIMEOUT, collect).await {
            Ok(r) => r?,
            Err(_) => out.push_str("\n…"),
        }
    }
    let code = eng.client.inspect_exec(&created.id).await?.exit_code;
    Ok((out, code))
}

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
