//! `/kubectl …` (alias `/k`): read (viewer), write (operator), destructive (admin, confirmed)
//! commands on one of several clusters, in kubectl's words. Replies are compact tables and
//! readable summaries within a channel's byte budget. Writes send what kubectl sends (a
//! strategic `restartedAt` patch, a merge patch on `/scale`, a JSON patch for undo), so the
//! cluster's audit log reads the same as for a person at a terminal.

use super::runtime::{self, Decl, Family, TEXT_BUDGET, Target, fit, now};
use super::{Ctx, Outcome, error, reply};
use crate::i18n::Lang;
use crate::message::Reply;
use crate::scope::Access;
use crate::ops::kube::{CallError, Cluster, ClusterError, validate_name, validate_selector};
use crate::render::{self, table};
use clap::{Args, Subcommand, ValueEnum};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Container, ContainerStatus, Event, Namespace, Node, Pod, Probe, Service,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

mod pod_rows;
pub use pod_rows::{PodRow, PodRowList};

#[derive(Debug, Args)]
pub struct KubectlArgs {
    /// Context from the kubeconfig; `@NAME` right after /k works too
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Namespace (default: the context's)
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,
    #[command(subcommand)]
    pub cmd: KubectlCommand,
}

#[derive(Debug, Subcommand)]
pub enum KubectlCommand {
    /// List pods, deploy, sts, ds, svc, nodes, ns, events, ingress, jobs / 列出资源
    Get(GetArgs),
    /// Readable summary of a pod, deploy, node or svc / 资源详情
    Describe(DescribeArgs),
    /// A pod's latest log lines / Pod 日志
    Logs(LogsArgs),
    /// CPU and memory of pods or nodes (needs metrics-server) / 资源用量
    Top(TopArgs),
    /// Rollout status, restart (operator), undo (operator) / 发布状态与操作
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Set the replicas of a deploy or sts (operator) / 扩缩容
    Scale(ScaleArgs),
    /// Delete a pod (admin, confirmed) / 删除 Pod
    Delete(DeleteArgs),
    /// Mark a node unschedulable (admin, confirmed) / 禁止调度
    Cordon(NodeArgs),
    /// Mark a node schedulable again (admin, confirmed) / 恢复调度
    Uncordon(NodeArgs),
    /// Cordon a node and evict its pods (admin, confirmed) / 驱逐节点上的 Pod
    Drain(DrainArgs),
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Whether a deployment finished rolling out / 发布进度
    Status(TargetArgs),
    /// Restart the pods of a deploy, sts or ds (operator) / 滚动重启
    Restart(TargetArgs),
    /// Go back to the previous revision of a deployment (operator) / 回滚
    Undo(TargetArgs),
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// pods, deploy, sts, ds, svc, nodes, ns, events, ingress, jobs
    pub kind: String,
    /// Only this object
    pub name: Option<String>,
    /// Label selector, e.g. app=api,tier!=batch
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// `wide` adds IP and node columns
    #[arg(short = 'o', long, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Wide,
}

#[derive(Debug, Args)]
pub struct DescribeArgs {
    /// pod, deploy, node or svc (or KIND/NAME)
    pub kind: String,
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Pod name
    pub pod: String,
    /// Container (needed when the pod has several)
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Lines from the end (default: kubernetes.logs_tail)
    #[arg(long)]
    pub tail: Option<i64>,
    /// The previous, crashed instance of the container
    #[arg(short = 'p', long)]
    pub previous: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TopWhat {
    Pods,
    Pod,
    Po,
    Nodes,
    Node,
    No,
}

#[derive(Debug, Args)]
pub struct TopArgs {
    /// pods or nodes
    pub what: TopWhat,
    /// Every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// KIND/NAME, e.g. deploy/api (or KIND NAME)
    pub target: String,
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// KIND/NAME, e.g. deploy/api
    pub target: String,
    pub name: Option<String>,
    /// New number of replicas
    #[arg(long, value_parser = clap::value_parser!(i32).range(0..=1000))]
    pub replicas: i32,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Only `pod`
    pub kind: String,
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct NodeArgs {
    pub node: String,
}

#[derive(Debug, Args)]
pub struct DrainArgs {
    pub node: String,
    /// Also evict pods that no controller will recreate
    #[arg(long)]
    pub force: bool,
    /// Evict pods with emptyDir volumes (their data is lost)
    #[arg(long)]
    pub delete_emptydir_data: bool,
    /// How long to keep retrying evictions a PodDisruptionBudget refuses, e.g. 90s or 1m
    /// (default: kubernetes.drain_timeout_secs; at most 110s)
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
}

impl KubectlArgs {
    /// The declaration the command runtime applies: role, read/write, confirmation, context.
    pub fn decl(&self, words: &[String]) -> Decl {
        use KubectlCommand as K;
        const F: Family = Family::Kube;
        let d = match &self.cmd {
            K::Get(_) => Decl::read(F, "get"),
            K::Describe(_) => Decl::read(F, "describe"),
            K::Logs(_) => Decl::read(F, "logs"),
            K::Top(_) => Decl::read(F, "top"),
            K::Rollout(RolloutCommand::Status(_)) => Decl::read(F, "rollout_status"),
            K::Rollout(RolloutCommand::Restart(_)) => Decl::write(F, "rollout_restart"),
            K::Rollout(RolloutCommand::Undo(_)) => Decl::write(F, "rollout_undo"),
            K::Scale(_) => Decl::write(F, "scale"),
            K::Delete(_) => Decl::destructive(F, "delete"),
            K::Cordon(_) => Decl::destructive(F, "cordon"),
            K::Uncordon(_) => Decl::destructive(F, "uncordon"),
            K::Drain(_) => Decl::destructive(F, "drain"),
        };
        d.on(Target::Kube {
            context: self
                .context
                .clone()
                .or_else(|| super::docker::host_word(words)),
        })
    }

    /// What the command works on, for the scope check: cluster-wide objects, or a namespace
    /// (`all`: every namespace, listed rows are filtered instead).
    fn reach(&self) -> Reach {
        use KubectlCommand as K;
        let cluster_kind = |w: &str| {
            let kw = w.split_once('/').map_or(w, |(k, _)| k);
            Kind::parse(kw).is_some_and(Kind::cluster_scoped)
        };
        match &self.cmd {
            K::Get(a) if Kind::parse(&a.kind) == Some(Kind::Namespace) => Reach::Listing,
            K::Get(a) if cluster_kind(&a.kind) => Reach::Cluster,
            K::Get(a) if a.all_namespaces => Reach::Listing,
            K::Describe(a) if cluster_kind(&a.kind) => Reach::Cluster,
            K::Top(a) if matches!(a.what, TopWhat::Nodes | TopWhat::Node | TopWhat::No) => {
                Reach::Cluster
            }
            K::Top(a) if a.all_namespaces => Reach::Listing,
            K::Cordon(_) | K::Uncordon(_) | K::Drain(_) => Reach::Cluster,
            _ => Reach::Namespace,
        }
    }
}

/// What a command reaches, for scope checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Objects in the command's namespace.
    Namespace,
    /// Nodes, or every namespace at once.
    Cluster,
    /// A list over namespaces: rows outside the sender's scope are left out.
    Listing,
}

/// The kinds `/k get` knows, by every name kubectl accepts for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    Service,
    Node,
    Namespace,
    Event,
    Ingress,
    Job,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "po" | "pod" | "pods" => Kind::Pod,
            "deploy" | "deployment" | "deployments" => Kind::Deployment,
            "sts" | "statefulset" | "statefulsets" => Kind::StatefulSet,
            "ds" | "daemonset" | "daemonsets" => Kind::DaemonSet,
            "svc" | "service" | "services" => Kind::Service,
            "no" | "node" | "nodes" => Kind::Node,
            "ns" | "namespace" | "namespaces" => Kind::Namespace,
            "ev" | "event" | "events" => Kind::Event,
            "ing" | "ingress" | "ingresses" => Kind::Ingress,
            "job" | "jobs" => Kind::Job,
            _ => return None,
        })
    }

    fn word(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::Deployment => "deployment",
            Kind::StatefulSet => "statefulset",
            Kind::DaemonSet => "daemonset",
            Kind::Service => "service",
            Kind::Node => "node",
            Kind::Namespace => "namespace",
            Kind::Event => "event",
            Kind::Ingress => "ingress",
            Kind::Job => "job",
        }
    }

    fn cluster_scoped(self) -> bool {
        matches!(self, Kind::Node | Kind::Namespace)
    }
}

const KINDS_HELP: &str = "pods, deploy, sts, ds, svc, nodes, ns, events, ingress, jobs";

/// What every handler needs: the cluster, the namespace, the language.
struct K<'a, 'b> {
    ctx: &'a Ctx<'b>,
    cluster: Cluster,
    ns: String,
    timeout: Duration,
}

/// Runs a `/kubectl` command admitted by the command runtime.
pub async fn run(args: KubectlArgs, ctx: &Ctx<'_>) -> Outcome {
    let reach = args.reach();
    let KubectlArgs {
        context,
        namespace,
        cmd,
    } = args;
    let context = context.or_else(|| super::docker::host_word(&ctx.words));
    if let Some(c) = &context
        && (c.is_empty() || c.len() > 128 || c.chars().any(char::is_control))
    {
        return bad_input(ctx, "context name");
    }
    if let Some(n) = &namespace
        && let Err(e) = validate_name(n)
    {
        return bad_input(ctx, &e);
    }
    let who = ctx.app.kube.impersonation(&ctx.identity, ctx.role.as_str());
    let cluster = match ctx.app.kube.get(context.as_deref(), who).await {
        Ok(c) => c,
        Err(e) => {
            metrics::counter!("wedock_kube_errors_total", "kind" => e.kind()).increment(1);
            tracing::warn!(error = ?e, "no Kubernetes client");
            return error(ctx, cluster_error_text(ctx.lang, &e));
        }
    };
    let ns = namespace.unwrap_or_else(|| cluster.namespace.clone());
    let k = K {
        ctx,
        cluster,
        ns,
        timeout: Duration::from_secs(ctx.app.config.kubernetes.request_timeout_secs),
    };
    let scopes = &ctx.scopes;
    let context = k.cluster.context.as_str();
    let (allowed, what) = match reach {
        Reach::Namespace => (
            scopes.namespace(context, &k.ns, ctx.access),
            format!("ns/{}", k.ns),
        ),
        Reach::Cluster => (
            scopes.cluster_wide(context, ctx.access),
            "cluster".to_string(),
        ),
        Reach::Listing => (true, String::new()),
    };
    if !allowed {
        return runtime::refuse_scope(ctx, Some(context), &what);
    }
    use KubectlCommand as C;
    match cmd {
        C::Get(a) => get(&k, a).await,
        C::Describe(a) => match target(&a.kind, a.name.as_deref()) {
            Ok((kind, name)) => describe(&k, kind, &name).await,
            Err(e) => bad_input(ctx, &e),
        },
        C::Logs(a) => logs(&k, a).await,
        C::Top(a) => top(&k, a).await,
        C::Rollout(RolloutCommand::Status(a)) => match target(&a.target, a.name.as_deref()) {
            Ok((kind, name)) => rollout_status(&k, kind, &name).await,
            Err(e) => bad_input(ctx, &e),
        },
        C::Rollout(RolloutCommand::Restart(a)) => match target(&a.target, a.name.as_deref()) {
            Ok((kind, name)) => rollout_restart(&k, kind, &name).await,
            Err(e) => bad_input(ctx, &e),
        },
        C::Rollout(RolloutCommand::Undo(a)) => match target(&a.target, a.name.as_deref()) {
            Ok((kind, name)) => rollout_undo(&k, kind, &name).await,
            Err(e) => bad_input(ctx, &e),
        },
        C::Scale(a) => match target(&a.target, a.name.as_deref()) {
            Ok((kind, name)) => scale(&k, kind, &name, a.replicas).await,
            Err(e) => bad_input(ctx, &e),
        },
        C::Delete(a) => match target(&a.kind, a.name.as_deref()) {
            Ok((Kind::Pod, name)) => delete_pod(&k, &name).await,
            Ok(_) => bad_input(ctx, "only `delete pod NAME` is supported"),
            Err(e) => bad_input(ctx, &e),
        },
        C::Cordon(a) => cordon(&k, &a.node, true).await,
        C::Uncordon(a) => cordon(&k, &a.node, false).await,
        C::Drain(a) => drain(&k, a).await,
    }
}

impl K<'_, '_> {
    /// Whether rows of `ns` may be shown to the sender.
    fn visible_ns(&self, ns: &str) -> bool {
        self.ctx
            .scopes
            .namespace(&self.cluster.context, ns, Access::Read)
    }
}

/// `deploy/api`, or `deploy api`, into a kind and a checked name.
fn target(kind_word: &str, name: Option<&str>) -> Result<(Kind, String), String> {
    let (kw, n) = match (kind_word.split_once('/'), name) {
        (Some((k, n)), None) => (k, n.to_string()),
        (None, Some(n)) => (kind_word, n.to_string()),
        (Some(_), Some(_)) => return Err("give KIND/NAME or KIND NAME, not both".into()),
        (None, None) => return Err(format!("{kind_word}: a name is needed (KIND/NAME)")),
    };
    let kind =
        Kind::parse(kw).ok_or_else(|| format!("unknown kind {kw:?} (use one of: {KINDS_HELP})"))?;
    validate_name(&n)?;
    Ok((kind, n))
}

// ---- plumbing ----------------------------------------------------------------------------

fn bad_input(ctx: &Ctx<'_>, why: &str) -> Outcome {
    super::bad_input(ctx, "kubectl_input", why)
}

pub fn cluster_error_text(lang: Lang, e: &ClusterError) -> String {
    match e {
        ClusterError::Disabled => lang
            .pick(
                "Kubernetes 功能未开启（kubernetes.enabled = false）。",
                "Kubernetes support is off (kubernetes.enabled = false).",
            )
            .to_string(),
        ClusterError::UnknownContext { name, known } => match lang {
            Lang::Zh => format!("没有名为 {name} 的集群上下文。可用：{}", known.join("、")),
            Lang::En => format!(
                "No cluster context {name}. Configured: {}",
                known.join(", ")
            ),
        },
        ClusterError::Config(m) => match lang {
            Lang::Zh => format!("无法加载 Kubernetes 配置：{m}"),
            Lang::En => format!("Cannot load the Kubernetes config: {m}"),
        },
    }
}

/// A failed API call as a sentence the user can act on.
fn call_error_text(k: &K<'_, '_>, e: &CallError) -> String {
    metrics::counter!("wedock_kube_errors_total", "kind" => e.kind()).increment(1);
    tracing::warn!(context = %k.cluster.context, kind = e.kind(), "Kubernetes call failed: {e:?}");
    let lang = k.ctx.lang;
    match e {
        CallError::Api { code: 403, message, .. } => match lang {
            Lang::Zh => format!(
                "⛔ 集群拒绝了操作（RBAC 权限不足）：{message}\n请让集群管理员为 wedock 的账号授予相应权限。"
            ),
            Lang::En => format!(
                "⛔ The cluster refused (RBAC): {message}\nAsk a cluster admin to grant wedock's account this permission."
            ),
        },
        CallError::Api { code: 404, message, reason } if reason == "NotFound" => match lang {
            Lang::Zh => format!("找不到：{message}"),
            Lang::En => format!("Not found: {message}"),
        },
        CallError::Api { code: 401, .. } => lang
            .pick(
                "集群不认可 wedock 的凭据（401），请检查 kubeconfig 里的令牌或证书。",
                "The cluster did not accept wedock's credentials (401); check the token or certificate in the kubeconfig.",
            )
            .to_string(),
        CallError::Api {
            code,
            reason,
            message,
        } => match lang {
            Lang::Zh => format!("Kubernetes API 错误 {code} {reason}：{message}"),
            Lang::En => format!("Kubernetes API error {code} {reason}: {message}"),
        },
        CallError::Transport(m) => match lang {
            Lang::Zh => format!("连不上集群 {}：{m}", k.cluster.context),
            Lang::En => format!("Cannot reach cluster {}: {m}", k.cluster.context),
        },
    }
}

/// Runs one API call under the command timeout.
async fn call<T>(
    k: &K<'_, '_>,
    fut: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, CallError> {
    match tokio::time::timeout(k.timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(CallError::from_kube(&e)),
        Err(_) => Err(CallError::Transport(format!(
            "no answer within {} s",
            k.timeout.as_secs()
        ))),
    }
}

macro_rules! try_call {
    ($k:expr, $fut:expr) => {
        match call($k, $fut).await {
            Ok(v) => v,
            Err(e) => return error($k.ctx, call_error_text($k, &e)),
        }
    };
}

fn secs(t: &Time) -> i64 {
    t.0.as_second()
}

/// kubectl's AGE column: 5s, 7m, 3h, 12d.
pub fn age(created: Option<&Time>, now: i64) -> String {
    let Some(t) = created else {
        return "<unknown>".into();
    };
    let d = (now - secs(t)).max(0);
    match d {
        d if d < 120 => format!("{d}s"),
        d if d < 7200 => format!("{}m", d / 60),
        d if d < 172_800 => format!("{}h", d / 3600),
        d => format!("{}d", d / 86_400),
    }
}

fn name_of(m: &ObjectMeta) -> &str {
    m.name.as_deref().unwrap_or("")
}

fn ns_of(m: &ObjectMeta) -> &str {
    m.namespace.as_deref().unwrap_or("")
}

fn list_params(selector: Option<&str>) -> ListParams {
    match selector {
        Some(s) => ListParams::default().labels(s),
        None => ListParams::default(),
    }
}

fn api_ns<T>(k: &K<'_, '_>, all: bool) -> Api<T>
where
    T: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    <T as kube::Resource>::DynamicType: Default,
{
    if all {
        Api::all(k.cluster.client.clone())
    } else {
        Api::namespaced(k.cluster.client.clone(), &k.ns)
    }
}

// ---- get ---------------------------------------------------------------------------------

/// kubectl's STATUS for a pod: a container's waiting/terminated reason beats the phase.
pub fn pod_status(p: &Pod) -> String {
    if p.metadata.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    let st = p.status.as_ref();
    let statuses = st
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    let init = st
        .and_then(|s| s.init_container_statuses.as_deref())
        .unwrap_or(&[]);
    for (i, c) in init.iter().enumerate() {
        let state = c.state.as_ref();
        if let Some(t) = state.and_then(|s| s.terminated.as_ref())
            && t.exit_code != 0
        {
            return format!(
                "Init:{}",
                t.reason.clone().unwrap_or_else(|| "Error".into())
            );
        }
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            return match w.reason.as_deref() {
                Some(r) if r != "PodInitializing" => format!("Init:{r}"),
                _ => format!("Init:{i}/{}", init.len()),
            };
        }
    }
    for c in statuses {
        let state = c.state.as_ref();
        if let Some(r) = state
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone())
        {
            return r;
        }
        if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            return t
                .reason
                .clone()
                .unwrap_or_else(|| format!("ExitCode:{}", t.exit_code));
        }
    }
    if let Some(r) = st.and_then(|s| s.reason.clone()) {
        return r;
    }
    st.and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Unknown".into())
}

fn pod_ready(p: &Pod) -> (usize, usize) {
    let total = p.spec.as_ref().map_or(0, |s| s.containers.len());
    let ready = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |v| v.iter().filter(|c| c.ready).count());
    (ready, total)
}

fn pod_restarts(p: &Pod) -> i32 {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |v| v.iter().map(|c| c.restart_count).sum())
}

/// Whether a pod looks fine at a glance (running and ready, or completed).
fn pod_healthy(p: &Pod) -> bool {
    healthy_with(p, &pod_status(p))
}

fn healthy_with(p: &Pod, status: &str) -> bool {
    let (r, t) = pod_ready(p);
    status == "Completed" || status == "Succeeded" || (status == "Running" && r == t)
}

/// One pod of the `get pods` table with its status word worked out once: the word decides
/// the order, the marker, the summary's count and the STATUS cell.
struct PodLine<'a> {
    pod: &'a Pod,
    status: String,
    healthy: bool,
}

fn pod_lines(pods: &[Pod]) -> Vec<PodLine<'_>> {
    pods.iter()
        .map(|pod| {
            let status = pod_status(pod);
            let healthy = healthy_with(pod, &status);
            PodLine {
                pod,
                status,
                healthy,
            }
        })
        .collect()
}

fn marker(ok: bool) -> &'static str {
    if ok { "🟢" } else { "🔴" }
}

/// The `get pods` table. Unhealthy pods come first so a cut-off reply still shows them.
pub fn pods_table(pods: &[Pod], all_ns: bool, wide: bool, now: i64, lang: Lang) -> Vec<String> {
    lines_table(pod_lines(pods), all_ns, wide, now, lang)
}

fn lines_table(
    mut order: Vec<PodLine<'_>>,
    all_ns: bool,
    wide: bool,
    now: i64,
    lang: Lang,
) -> Vec<String> {
    order.sort_by(|a, b| {
        a.healthy
            .cmp(&b.healthy)
            .then_with(|| ns_of(&a.pod.metadata).cmp(ns_of(&b.pod.metadata)))
            .then_with(|| name_of(&a.pod.metadata).cmp(name_of(&b.pod.metadata)))
    });
    let mut header = Vec::new();
    if all_ns {
        header.push(lang.pick("命名空间", "NAMESPACE"));
    }
    header.extend([
        lang.pick("名称", "NAME"),
        lang.pick("就绪", "READY"),
        lang.pick("状态", "STATUS"),
        lang.pick("重启", "RESTARTS"),
        lang.pick("存活", "AGE"),
    ]);
    if wide {
        header.extend(["IP", lang.pick("节点", "NODE")]);
    }
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|line| {
            let p = line.pod;
            let mut row = Vec::with_capacity(8);
            if all_ns {
                row.push(ns_of(&p.metadata).to_string());
            }
            let (r, t) = pod_ready(p);
            row.push(name_of(&p.metadata).to_string());
            row.push(format!("{r}/{t}"));
            row.push(format!("{} {}", marker(line.healthy), line.status));
            row.push(pod_restarts(p).to_string());
            row.push(age(p.metadata.creation_timestamp.as_ref(), now));
            if wide {
                let st = p.status.as_ref();
                row.push(st.and_then(|s| s.pod_ip.clone()).unwrap_or_default());
                row.push(
                    p.spec
                        .as_ref()
                        .and_then(|s| s.node_name.clone())
                        .unwrap_or_default(),
                );
            }
            row
        })
        .collect();
    table::render(&header, &rows)
}

/// The whole `get pods` reply text: a summary line and the table, within the budget.
pub fn pods_reply(
    context: &str,
    scope: &str,
    pods: &[Pod],
    all_ns: bool,
    wide: bool,
    now: i64,
    lang: Lang,
) -> String {
    let lines = pod_lines(pods);
    let bad = lines.iter().filter(|l| !l.healthy).count();
    let head = match lang {
        Lang::Zh => format!(
            "☸️ {context} · {scope} · {} 个 Pod，{bad} 个异常",
            pods.len()
        ),
        Lang::En => format!(
            "☸️ {context} · {scope} · {} pods, {bad} not ready",
            pods.len()
        ),
    };
    if pods.is_empty() {
        return format!("{head}\n{}", lang.pick("（没有 Pod）", "(no pods)"));
    }
    fit(lang, &head, &lines_table(lines, all_ns, wide, now, lang))
}

async fn get(k: &K<'_, '_>, a: GetArgs) -> Outcome {
    let ctx = k.ctx;
    let Some(kind) = Kind::parse(&a.kind) else {
        return bad_input(
            ctx,
            &format!("unknown kind {:?} (use one of: {KINDS_HELP})", a.kind),
        );
    };
    if let Some(s) = &a.selector
        && let Err(e) = validate_selector(s)
    {
        return bad_input(ctx, &e);
    }
    if let Some(n) = &a.name
        && let Err(e) = validate_name(n)
    {
        return bad_input(ctx, &e);
    }
    let mut lp = list_params(a.selector.as_deref());
    if let Some(n) = &a.name {
        lp = lp.fields(&format!("metadata.name={n}"));
    }
    let all = a.all_namespaces && !kind.cluster_scoped();
    let wide = a.output == Some(OutputFormat::Wide);
    let lang = ctx.lang;
    let now = now();
    let scope = if kind.cluster_scoped() {
        lang.pick("集群", "cluster").to_string()
    } else if all {
        lang.pick("全部命名空间", "all namespaces").to_string()
    } else {
        format!("ns/{}", k.ns)
    };
    let context = k.cluster.context.clone();
    let head = |n: usize| match lang {
        Lang::Zh => format!("☸️ {context} · {scope} · {n} 个 {}", kind.word()),
        Lang::En => format!("☸️ {context} · {scope} · {n} {}(s)", kind.word()),
    };
    let none = || {
        reply(
            ctx,
            format!(
                "{}\n{}",
                head(0),
                lang.pick("（没有找到资源）", "(no resources found)")
            ),
        )
    };
    let (header, rows): (Vec<&str>, Vec<Vec<String>>) = match kind {
        Kind::Pod => {
            // Only the columns' fields are decoded (see pod_rows.rs); same request.
            let list = try_call!(k, api_ns::<PodRow>(k, all).list(&lp));
            let pods: Vec<Pod> = list
                .items
                .into_iter()
                .map(|r| r.0)
                .filter(|p| !all || k.visible_ns(ns_of(&p.metadata)))
                .collect();
            return reply(
                ctx,
                pods_reply(&context, &scope, &pods, all, wide, now, lang),
            );
        }
        Kind::Deployment => {
            let list = try_call!(k, api_ns::<Deployment>(k, all).list(&lp));
            let rows = list
                .items
                .iter()
                .map(|d| {
                    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    let st = d.status.as_ref();
                    let ready = st.and_then(|s| s.ready_replicas).unwrap_or(0);
                    let upd = st.and_then(|s| s.updated_replicas).unwrap_or(0);
                    let avail = st.and_then(|s| s.available_replicas).unwrap_or(0);
                    let mut row = ns_col(all, &d.metadata);
                    row.extend([
                        format!("{} {}", marker(ready >= want), name_of(&d.metadata)),
                        format!("{ready}/{want}"),
                        upd.to_string(),
                        avail.to_string(),
                        age(d.metadata.creation_timestamp.as_ref(), now),
                    ]);
                    row
                })
                .collect();
            (
                with_ns(all, &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]),
                rows,
            )
        }
        Kind::StatefulSet => {
            let list = try_call!(k, api_ns::<StatefulSet>(k, all).list(&lp));
            let rows = list
                .items
                .iter()
                .map(|d| {
                    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    let ready = d
                        .status
                        .as_ref()
                        .and_then(|s| s.ready_replicas)
                        .unwrap_or(0);
                    let mut row = ns_col(all, &d.metadata);
                    row.extend([
                        format!("{} {}", marker(ready >= want), name_of(&d.metadata)),
                        format!("{ready}/{want}"),
                        age(d.metadata.creation_timestamp.as_ref(), now),
                    ]);
                    row
                })
                .collect();
            (with_ns(all, &["NAME", "READY", "AGE"]), rows)
        }
        Kind::DaemonSet => {
            let list = try_call!(k, api_ns::<DaemonSet>(k, all).list(&lp));
            let rows = list
                .items
                .iter()
                .map(|d| {
                    let st = d.status.as_ref();
                    let want = st.map_or(0, |s| s.desired_number_scheduled);
                    let ready = st.map_or(0, |s| s.number_ready);
                    let avail = st.and_then(|s| s.number_available).unwrap_or(0);
                    let mut row = ns_col(all, &d.metadata);
                    row.extend([
                        format!("{} {}", marker(ready >= want), name_of(&d.metadata)),
                        want.to_string(),
                        ready.to_string(),
                        avail.to_string(),
                        age(d.metadata.creation_timestamp.as_ref(), now),
                    ]);
                    row
                })
                .collect();
            (
                with_ns(all, &["NAME", "DESIRED", "READY", "AVAILABLE", "AGE"]),
                rows,
            )
        }
        Kind::Service => {
            let list = try_call!(k, api_ns::<Service>(k, all).list(&lp));
            let rows = list
                .items
                .iter()
                .map(|s| {
                    let spec = s.spec.as_ref();
                    let ports = spec
                        .and_then(|s| s.ports.as_ref())
                        .map(|ps| {
                            ps.iter()
                                .map(|p| {
                                    let proto = p.protocol.as_deref().unwrap_or("TCP");
                                    match p.node_port {
                                        Some(np) => format!("{}:{np}/{proto}", p.port),
                                        None => format!("{}/{proto}", p.port),
                                    }
                                })
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    let mut row = ns_col(all, &s.metadata);
                    row.extend([
                        name_of(&s.metadata).to_string(),
                        spec.and_then(|s| s.type_.clone())
                            .unwrap_or_else(|| "ClusterIP".into()),
                        spec.and_then(|s| s.cluster_ip.clone())
                            .unwrap_or_else(|| "<none>".into()),
                        if ports.is_empty() {
                            "<none>".into()
                        } else {
                            ports
                        },
                        age(s.metadata.creation_timestamp.as_ref(), now),
                    ]);
                    row
                })
                .collect();
            (
                with_ns(all, &["NAME", "TYPE", "CLUSTER-IP", "PORTS", "AGE"]),
                rows,
            )
        }
        Kind::Node => {
            let api: Api<Node> = Api::all(k.cluster.client.clone());
            let list = try_call!(k, api.list(&lp));
            let rows = list
                .items
                .iter()
                .map(|n| {
                    let (ok, status) = node_status(n);
                    let roles = node_roles(n);
                    let version = n
                        .status
                        .as_ref()
                        .and_then(|s| s.node_info.as_ref())
                        .map(|i| i.kubelet_version.clone())
                        .unwrap_or_default();
                    vec![
                        name_of(&n.metadata).to_string(),
                        format!("{} {status}", marker(ok)),
                        roles,
                        age(n.metadata.creation_timestamp.as_ref(), now),
                        version,
                    ]
                })
                .collect();
            (vec!["NAME", "STATUS", "ROLES", "AGE", "VERSION"], rows)
        }
        Kind::Namespace => {
            let api: Api<Namespace> = Api::all(k.cluster.client.clone());
            let list = try_call!(k, api.list(&lp));
            let rows = list
                .items
                .iter()
                .map(|n| {
                    vec![
                        name_of(&n.metadata).to_string(),
                        n.status
                            .as_ref()
                            .and_then(|s| s.phase.clone())
                            .unwrap_or_default(),
                        age(n.metadata.creation_timestamp.as_ref(), now),
                    ]
                })
                .collect();
            (vec!["NAME", "STATUS", "AGE"], rows)
        }
        Kind::Event => {
            let list = try_call!(k, api_ns::<Event>(k, all).list(&lp));
            let mut evs = list.items;
            evs.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
            let rows = evs
                .iter()
                .map(|e| {
                    let mut row = ns_col(all, &e.metadata);
                    let obj = &e.involved_object;
                    row.extend([
                        event_time(e)
                            .map(|t| {
                                age(
                                    Some(&Time(
                                        k8s_openapi::jiff::Timestamp::from_second(t)
                                            .unwrap_or_default(),
                                    )),
                                    now,
                                )
                            })
                            .unwrap_or_default(),
                        e.type_.clone().unwrap_or_default(),
                        e.reason.clone().unwrap_or_default(),
                        format!(
                            "{}/{}",
                            obj.kind.as_deref().unwrap_or("").to_ascii_lowercase(),
                            obj.name.as_deref().unwrap_or("")
                        ),
                        render::truncate_to_width(e.message.as_deref().unwrap_or("").trim(), 80),
                    ]);
                    row
                })
                .collect();
            (
                with_ns(all, &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]),
                rows,
            )
        }
        Kind::Ingress => {
            let list = try_call!(k, api_ns::<Ingress>(k, all).list(&lp));
            let rows = list
                .items
                .iter()
                .map(|i| {
                    let spec = i.spec.as_ref();
                    let hosts = spec
                        .and_then(|s| s.rules.as_ref())
                        .map(|r| {
                            r.iter()
                                .filter_map(|r| r.host.clone())
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .filter(|h| !h.is_empty())
                        .unwrap_or_else(|| "*".into());
                    let addr = i
                        .status
                        .as_ref()
                        .and_then(|s| s.load_balancer.as_ref())
                        .and_then(|l| l.ingress.as_ref())
                        .map(|v| {
                            v.iter()
                                .filter_map(|x| x.ip.clone().or(x.hostname.clone()))
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    let mut row = ns_col(all, &i.metadata);
                    row.extend([
                        name_of(&i.metadata).to_string(),
                        spec.and_then(|s| s.ingress_class_name.clone())
                            .unwrap_or_else(|| "<none>".into()),
                        hosts,
                        addr,
                        age(i.metadata.creation_timestamp.as_ref(), now),
                    ]);
                    row
                })
                .collect();
            (
                with_ns(all, &["NAME", "CLASS", "HOSTS", "ADDRESS", "AGE"]),
                rows,
            )
        }
        Kind::Job => {
            let list = try_call!(k, api_ns::<Job>(k, all).list(&lp));
            let rows = list
                .items
                .iter()
                .map(|j| {
                    let st = j.status.as_ref();
                    let want = j.spec.as_ref().and_then(|s| s.completions).unwrap_or(1);
                    let done = st.and_then(|s| s.succeeded).unwrap_or(0);
                    let status = job_status(j);
                    let mut row = ns_col(all, &j.metadata);
                    row.extend([
                        name_of(&j.metadata).to_string(),
                        format!("{} {status}", if status == "Failed" { "🔴" } else { "🟢" }),
                        format!("{done}/{want}"),
                        age(j.metadata.creation_timestamp.as_ref(), now),
                    ]);
                    row
                })
                .collect();
            (
                with_ns(all, &["NAME", "STATUS", "COMPLETIONS", "AGE"]),
                rows,
            )
        }
    };
    // Every namespace: only rows of namespaces the sender may read.
    let rows: Vec<Vec<String>> = if all || kind == Kind::Namespace {
        rows.into_iter()
            .filter(|r| r.first().is_some_and(|ns| k.visible_ns(ns)))
            .collect()
    } else {
        rows
    };
    if rows.is_empty() {
        return none();
    }
    reply(
        ctx,
        fit(lang, &head(rows.len()), &table::render(&header, &rows)),
    )
}

fn ns_col(all: bool, m: &ObjectMeta) -> Vec<String> {
    if all {
        vec![ns_of(m).to_string()]
    } else {
        Vec::new()
    }
}

fn with_ns<'a>(all: bool, cols: &[&'a str]) -> Vec<&'a str> {
    let mut v = Vec::with_capacity(cols.len() + 1);
    if all {
        v.push("NAMESPACE");
    }
    v.extend_from_slice(cols);
    v
}

fn job_status(j: &Job) -> String {
    let conds = j
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or(&[]);
    for want in ["Failed", "Complete", "Suspended"] {
        if conds.iter().any(|c| c.type_ == want && c.status == "True") {
            return want.into();
        }
    }
    "Running".into()
}

/// `Ready`, `NotReady`, `Unknown`, plus `SchedulingDisabled` when cordoned.
fn node_status(n: &Node) -> (bool, String) {
    let ready = n
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status.clone());
    let (ok, mut s) = match ready.as_deref() {
        Some("True") => (true, "Ready".to_string()),
        Some("False") => (false, "NotReady".to_string()),
        _ => (false, "Unknown".to_string()),
    };
    if n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        s.push_str(",SchedulingDisabled");
    }
    (ok, s)
}

fn node_roles(n: &Node) -> String {
    let roles: Vec<&str> = n
        .metadata
        .labels
        .as_ref()
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .collect()
        })
        .unwrap_or_default();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

/// When an event last happened: lastTimestamp, else eventTime, else series, else creation.
fn event_time(e: &Event) -> Option<i64> {
    e.last_timestamp
        .as_ref()
        .map(secs)
        .or_else(|| e.event_time.as_ref().map(|t| t.0.as_second()))
        .or_else(|| {
            e.series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0.as_second())
        })
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(secs))
}

// ---- describe ----------------------------------------------------------------------------

async fn events_of(k: &K<'_, '_>, kind: &str, ns: Option<&str>, name: &str) -> Vec<Event> {
    let lp = ListParams::default().fields(&format!(
        "involvedObject.name={name},involvedObject.kind={kind}"
    ));
    let api: Api<Event> = match ns {
        Some(ns) => Api::namespaced(k.cluster.client.clone(), ns),
        None => Api::all(k.cluster.client.clone()),
    };
    // Events are a nice-to-have in a summary: a failure (RBAC, timeout) leaves them out.
    let mut evs = call(k, api.list(&lp))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    evs.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
    evs.truncate(8);
    evs
}

fn event_lines(evs: &[Event], now: i64, lang: Lang) -> Vec<String> {
    if evs.is_empty() {
        return Vec::new();
    }
    let mut out = vec![lang.pick("最近事件：", "Events:").to_string()];
    for e in evs {
        let when = event_time(e)
            .map(|t| render::human_ago(t, now, lang))
            .unwrap_or_default();
        let count = e
            .count
            .filter(|c| *c > 1)
            .map(|c| format!(" ×{c}"))
            .unwrap_or_default();
        let mark = if e.type_.as_deref() == Some("Warning") {
            "⚠️"
        } else {
            "·"
        };
        out.push(format!(
            "  {mark} {}{count} ({when}): {}",
            e.reason.as_deref().unwrap_or(""),
            render::truncate_to_width(e.message.as_deref().unwrap_or("").trim(), 120)
        ));
    }
    out
}

fn probe_text(p: &Probe) -> String {
    let what = if let Some(h) = &p.http_get {
        let port = match &h.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        };
        format!("http GET :{port}{}", h.path.as_deref().unwrap_or("/"))
    } else if let Some(t) = &p.tcp_socket {
        let port = match &t.port {
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
            k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
        };
        format!("tcp :{port}")
    } else if let Some(e) = &p.exec {
        format!("exec {}", e.command.as_deref().unwrap_or(&[]).join(" "))
    } else if p.grpc.is_some() {
        "grpc".to_string()
    } else {
        "?".to_string()
    };
    format!(
        "{what} (delay {}s, every {}s, fail after {})",
        p.initial_delay_seconds.unwrap_or(0),
        p.period_seconds.unwrap_or(10),
        p.failure_threshold.unwrap_or(3)
    )
}

fn resources_text(c: &Container) -> Option<String> {
    let r = c.resources.as_ref()?;
    let fmt =
        |m: &Option<BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>| {
            m.as_ref().map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k} {}", v.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        };
    let req = fmt(&r.requests).filter(|s| !s.is_empty());
    let lim = fmt(&r.limits).filter(|s| !s.is_empty());
    if req.is_none() && lim.is_none() {
        return None;
    }
    Some(format!(
        "requests {} · limits {}",
        req.unwrap_or_else(|| "-".into()),
        lim.unwrap_or_else(|| "-".into())
    ))
}

fn container_lines(
    c: &Container,
    s: Option<&ContainerStatus>,
    now: i64,
    lang: Lang,
) -> Vec<String> {
    let l = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let mut out = vec![format!(
        "{} {}: {}",
        l("容器", "Container"),
        c.name,
        c.image.as_deref().unwrap_or("")
    )];
    if let Some(s) = s {
        let state = s.state.as_ref();
        let line = if let Some(w) = state.and_then(|x| x.waiting.as_ref()) {
            format!(
                "Waiting {}{}",
                w.reason.as_deref().unwrap_or(""),
                w.message
                    .as_deref()
                    .map(|m| format!(" — {}", render::truncate_to_width(m, 100)))
                    .unwrap_or_default()
            )
        } else if let Some(r) = state.and_then(|x| x.running.as_ref()) {
            format!(
                "Running{}",
                r.started_at
                    .as_ref()
                    .map(|t| format!(" · {}", render::human_ago(secs(t), now, lang)))
                    .unwrap_or_default()
            )
        } else if let Some(t) = state.and_then(|x| x.terminated.as_ref()) {
            format!(
                "Terminated {} (exit {})",
                t.reason.as_deref().unwrap_or(""),
                t.exit_code
            )
        } else {
            "?".into()
        };
        out.push(format!("  {}: {line}", l("状态", "State")));
        out.push(format!(
            "  {}: {} · {}: {}",
            l("就绪", "Ready"),
            if s.ready {
                l("是", "yes")
            } else {
                l("否", "no")
            },
            l("重启次数", "Restarts"),
            s.restart_count
        ));
        if let Some(t) = s.last_state.as_ref().and_then(|x| x.terminated.as_ref()) {
            let when = t
                .finished_at
                .as_ref()
                .map(|f| format!(" · {}", render::human_ago(secs(f), now, lang)))
                .unwrap_or_default();
            out.push(format!(
                "  {}: {}, exit {} ({}){when}",
                l("上次终止", "Last termination"),
                t.reason.as_deref().unwrap_or("Error"),
                t.exit_code,
                crate::alert::render::exit_meaning(i64::from(t.exit_code), lang)
            ));
        }
    }
    if let Some(r) = resources_text(c) {
        out.push(format!("  {}: {r}", l("资源", "Resources")));
    }
    if let Some(p) = &c.liveness_probe {
        out.push(format!("  Liveness: {}", probe_text(p)));
    }
    if let Some(p) = &c.readiness_probe {
        out.push(format!("  Readiness: {}", probe_text(p)));
    }
    out
}

/// The readable `describe pod` summary.
pub fn describe_pod_lines(
    p: &Pod,
    events: &[Event],
    context: &str,
    now: i64,
    lang: Lang,
) -> Vec<String> {
    let l = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let m = &p.metadata;
    let mut out = vec![format!("📦 pod {}/{} @{context}", ns_of(m), name_of(m))];
    let (r, t) = pod_ready(p);
    let st = p.status.as_ref();
    let node = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_else(|| l("（未调度）", "(not scheduled)").into());
    out.push(format!(
        "{}: {} {} · {}: {r}/{t} · {}: {node}",
        l("状态", "Status"),
        marker(pod_healthy(p)),
        pod_status(p),
        l("就绪", "Ready"),
        l("节点", "Node"),
    ));
    if let Some(ip) = st.and_then(|s| s.pod_ip.as_ref()) {
        out.push(format!("IP: {ip}"));
    }
    if let Some(c) = &m.creation_timestamp {
        out.push(format!(
            "{}: {}",
            l("创建", "Created"),
            render::human_ago(secs(c), now, lang)
        ));
    }
    let conds: Vec<String> = st
        .and_then(|s| s.conditions.as_ref())
        .map(|v| {
            v.iter()
                .map(|c| match &c.reason {
                    Some(r) => format!("{}={} ({r})", c.type_, c.status),
                    None => format!("{}={}", c.type_, c.status),
                })
                .collect()
        })
        .unwrap_or_default();
    if !conds.is_empty() {
        out.push(format!("{}: {}", l("条件", "Conditions"), conds.join(", ")));
    }
    if let Some(msg) = st
        .and_then(|s| s.conditions.as_ref())
        .and_then(|v| {
            v.iter()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False")
        })
        .and_then(|c| c.message.clone())
    {
        out.push(format!("  {}", render::truncate_to_width(&msg, 200)));
    }
    let statuses = st
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[]);
    for c in p
        .spec
        .as_ref()
        .map(|s| s.containers.as_slice())
        .unwrap_or(&[])
    {
        let s = statuses.iter().find(|s| s.name == c.name);
        out.extend(container_lines(c, s, now, lang));
    }
    out.extend(event_lines(events, now, lang));
    out
}

async fn describe(k: &K<'_, '_>, kind: Kind, name: &str) -> Outcome {
    let ctx = k.ctx;
    let lang = ctx.lang;
    let now = now();
    let l = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let context = &k.cluster.context;
    let lines = match kind {
        Kind::Pod => {
            let api: Api<Pod> = Api::namespaced(k.cluster.client.clone(), &k.ns);
            let p = try_call!(k, api.get(name));
            let evs = events_of(k, "Pod", Some(&k.ns), name).await;
            describe_pod_lines(&p, &evs, context, now, lang)
        }
        Kind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(k.cluster.client.clone(), &k.ns);
            let d = try_call!(k, api.get(name));
            let spec = d.spec.as_ref();
            let st = d.status.as_ref();
            let want = spec.and_then(|s| s.replicas).unwrap_or(1);
            let mut out = vec![format!("🚀 deployment {}/{name} @{context}", k.ns)];
            out.push(format!(
                "{}: {want} · {}: {} · {}: {} · {}: {} · {}: {}",
                l("期望", "Desired"),
                l("已更新", "Updated"),
                st.and_then(|s| s.updated_replicas).unwrap_or(0),
                l("就绪", "Ready"),
                st.and_then(|s| s.ready_replicas).unwrap_or(0),
                l("可用", "Available"),
                st.and_then(|s| s.available_replicas).unwrap_or(0),
                l("不可用", "Unavailable"),
                st.and_then(|s| s.unavailable_replicas).unwrap_or(0),
            ));
            if let Some(s) = spec
                .and_then(|s| s.strategy.as_ref())
                .and_then(|s| s.type_.clone())
            {
                out.push(format!("{}: {s}", l("策略", "Strategy")));
            }
            if spec.and_then(|s| s.paused) == Some(true) {
                out.push(l("⏸ 已暂停", "⏸ Paused").into());
            }
            if let Some(sel) = spec.and_then(|s| s.selector.match_labels.as_ref()) {
                let s: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push(format!("{}: {}", l("选择器", "Selector"), s.join(",")));
            }
            for c in spec
                .and_then(|s| s.template.spec.as_ref())
                .map(|s| s.containers.as_slice())
                .unwrap_or(&[])
            {
                out.extend(container_lines(c, None, now, lang));
            }
            for c in st.and_then(|s| s.conditions.as_ref()).into_iter().flatten() {
                out.push(format!(
                    "{}: {} {} — {}",
                    c.type_,
                    c.status,
                    c.reason.as_deref().unwrap_or(""),
                    render::truncate_to_width(c.message.as_deref().unwrap_or(""), 120)
                ));
            }
            let evs = events_of(k, "Deployment", Some(&k.ns), name).await;
            out.extend(event_lines(&evs, now, lang));
            out
        }
        Kind::Node => {
            let api: Api<Node> = Api::all(k.cluster.client.clone());
            let n = try_call!(k, api.get(name));
            let (ok, status) = node_status(&n);
            let mut out = vec![format!("🖥 node {name} @{context}")];
            out.push(format!("{}: {} {status}", l("状态", "Status"), marker(ok)));
            out.push(format!("{}: {}", l("角色", "Roles"), node_roles(&n)));
            let st = n.status.as_ref();
            for c in st.and_then(|s| s.conditions.as_ref()).into_iter().flatten() {
                let bad = (c.type_ == "Ready") != (c.status == "True");
                out.push(format!(
                    "  {} {}={} {} {}",
                    if bad { "⚠️" } else { "·" },
                    c.type_,
                    c.status,
                    c.reason.as_deref().unwrap_or(""),
                    render::truncate_to_width(c.message.as_deref().unwrap_or(""), 100)
                ));
            }
            let taints: Vec<String> = n
                .spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .map(|t| {
                    t.iter()
                        .map(|t| format!("{}:{}", t.key, t.effect))
                        .collect()
                })
                .unwrap_or_default();
            if !taints.is_empty() {
                out.push(format!("Taints: {}", taints.join(", ")));
            }
            let q = |m: Option<
                &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
            >| {
                m.map(|m| {
                    ["cpu", "memory", "pods"]
                        .iter()
                        .filter_map(|k| m.get(*k).map(|v| format!("{k} {}", v.0)))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
            };
            out.push(format!(
                "{}: {}",
                l("可分配", "Allocatable"),
                q(st.and_then(|s| s.allocatable.as_ref()))
            ));
            if let Some(i) = st.and_then(|s| s.node_info.as_ref()) {
                out.push(format!(
                    "kubelet {} · {} · {}",
                    i.kubelet_version, i.container_runtime_version, i.os_image
                ));
            }
            let evs = events_of(k, "Node", None, name).await;
            out.extend(event_lines(&evs, now, lang));
            out
        }
        Kind::Service => {
            let api: Api<Service> = Api::namespaced(k.cluster.client.clone(), &k.ns);
            let s = try_call!(k, api.get(name));
            let spec = s.spec.as_ref();
            let mut out = vec![format!("🔌 service {}/{name} @{context}", k.ns)];
            out.push(format!(
                "{}: {} · ClusterIP: {}",
                l("类型", "Type"),
                spec.and_then(|s| s.type_.clone())
                    .unwrap_or_else(|| "ClusterIP".into()),
                spec.and_then(|s| s.cluster_ip.clone()).unwrap_or_default()
            ));
            if let Some(sel) = spec.and_then(|s| s.selector.as_ref()) {
                let v: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
                out.push(format!("{}: {}", l("选择器", "Selector"), v.join(",")));
            }
            for p in spec.and_then(|s| s.ports.as_ref()).into_iter().flatten() {
                let tp = p
                    .target_port
                    .as_ref()
                    .map(|t| match t {
                        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => {
                            i.to_string()
                        }
                        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => {
                            s.clone()
                        }
                    })
                    .unwrap_or_default();
                out.push(format!(
                    "  {} {}/{} → {tp}",
                    p.name.as_deref().unwrap_or("-"),
                    p.port,
                    p.protocol.as_deref().unwrap_or("TCP")
                ));
            }
            out
        }
        _ => {
            return bad_input(ctx, "describe supports pod, deploy, node and svc");
        }
    };
    reply(ctx, fit(lang, "", &lines))
}

// ---- logs --------------------------------------------------------------------------------

async fn logs(k: &K<'_, '_>, a: LogsArgs) -> Outcome {
    let ctx = k.ctx;
    if let Err(e) = validate_name(&a.pod) {
        return bad_input(ctx, &e);
    }
    if let Some(c) = &a.container
        && let Err(e) = validate_name(c)
    {
        return bad_input(ctx, &e);
    }
    let tail = a
        .tail
        .unwrap_or(ctx.app.config.kubernetes.logs_tail as i64)
        .clamp(1, 10_000);
    let api: Api<Pod> = Api::namespaced(k.cluster.client.clone(), &k.ns);
    let lp = LogParams {
        container: a.container.clone(),
        previous: a.previous,
        tail_lines: Some(tail),
        ..LogParams::default()
    };
    let text = try_call!(k, api.logs(&a.pod, &lp));
    let which = match (&a.container, a.previous) {
        (Some(c), true) => format!("{}/{c} (previous)", a.pod),
        (Some(c), false) => format!("{}/{c}", a.pod),
        (None, true) => format!("{} (previous)", a.pod),
        (None, false) => a.pod.clone(),
    };
    let head = match ctx.lang {
        Lang::Zh => format!("📜 {which} 最近 {tail} 行 @{}/{}", k.cluster.context, k.ns),
        Lang::En => format!(
            "📜 {which} last {tail} lines @{}/{}",
            k.cluster.context, k.ns
        ),
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

// ---- top ---------------------------------------------------------------------------------

/// metrics.k8s.io/v1beta1 PodMetrics; not in k8s-openapi, so described here by hand.
#[derive(Debug, Clone, Deserialize)]
pub struct PodMetrics {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContainerMetrics {
    pub name: String,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

/// metrics.k8s.io/v1beta1 NodeMetrics.
#[derive(Debug, Clone, Deserialize)]
pub struct NodeMetrics {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

macro_rules! metrics_resource {
    ($t:ty, $kind:literal, $scope:ty) => {
        impl kube::Resource for $t {
            type DynamicType = ();
            type Scope = $scope;
            fn kind(_: &()) -> std::borrow::Cow<'_, str> {
                $kind.into()
            }
            fn group(_: &()) -> std::borrow::Cow<'_, str> {
                "metrics.k8s.io".into()
            }
            fn version(_: &()) -> std::borrow::Cow<'_, str> {
                "v1beta1".into()
            }
            fn plural(_: &()) -> std::borrow::Cow<'_, str> {
                if $kind == "PodMetrics" {
                    "pods"
                } else {
                    "nodes"
                }
                .into()
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}
metrics_resource!(
    PodMetrics,
    "PodMetrics",
    k8s_openapi::NamespaceResourceScope
);
metrics_resource!(
    NodeMetrics,
    "NodeMetrics",
    k8s_openapi::ClusterResourceScope
);

/// CPU quantity in millicores: `250m`, `2`, `487558164n`, `1500u`.
pub fn cpu_millis(q: &str) -> Option<f64> {
    let q = q.trim();
    let (num, scale) = if let Some(n) = q.strip_suffix('n') {
        (n, 1e-6)
    } else if let Some(n) = q.strip_suffix('u') {
        (n, 1e-3)
    } else if let Some(n) = q.strip_suffix('m') {
        (n, 1.0)
    } else {
        (q, 1000.0)
    };
    num.parse::<f64>().ok().map(|v| v * scale)
}

/// Memory quantity in bytes: `732212Ki`, `1Gi`, `128M`, `1e3`, `123`.
pub fn mem_bytes(q: &str) -> Option<f64> {
    let q = q.trim();
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (s, f) in SUFFIXES {
        if let Some(n) = q.strip_suffix(s) {
            return n.parse::<f64>().ok().map(|v| v * f);
        }
    }
    q.parse::<f64>().ok()
}

fn metrics_absent(e: &CallError) -> bool {
    // No APIService: a plain-text 404 (no Status reason); registered but down: a plain-text
    // 503 from the aggregator. A JSON NotFound is a real answer about one object.
    match e {
        CallError::Api { code: 503, .. } => true,
        CallError::Api {
            code: 404, reason, ..
        } => reason != "NotFound",
        _ => false,
    }
}

async fn top(k: &K<'_, '_>, a: TopArgs) -> Outcome {
    let ctx = k.ctx;
    let lang = ctx.lang;
    let nodes = matches!(a.what, TopWhat::Nodes | TopWhat::Node | TopWhat::No);
    let absent = |e: &CallError| {
        metrics::counter!("wedock_kube_errors_total", "kind" => "metrics_unavailable").increment(1);
        tracing::info!(context = %k.cluster.context, "metrics API not available: {e:?}");
        error(
            ctx,
            match lang {
                Lang::Zh => format!(
                    "集群 {} 没有可用的 Metrics API（metrics-server 未安装或未就绪），无法查看 CPU/内存用量。",
                    k.cluster.context
                ),
                Lang::En => format!(
                    "Cluster {} has no Metrics API available (metrics-server is not installed or not ready), so CPU/memory use cannot be shown.",
                    k.cluster.context
                ),
            },
        )
    };
    let (header, mut rows): (Vec<&str>, Vec<(f64, Vec<String>)>) = if nodes {
        let api: Api<NodeMetrics> = Api::all(k.cluster.client.clone());
        let list = match call(k, api.list(&ListParams::default())).await {
            Ok(l) => l,
            Err(e) if metrics_absent(&e) => return absent(&e),
            Err(e) => return error(ctx, call_error_text(k, &e)),
        };
        let rows = list
            .items
            .iter()
            .map(|n| {
                let cpu = n
                    .usage
                    .get("cpu")
                    .and_then(|q| cpu_millis(q))
                    .unwrap_or(0.0);
                let mem = n
                    .usage
                    .get("memory")
                    .and_then(|q| mem_bytes(q))
                    .unwrap_or(0.0);
                (
                    cpu,
                    vec![
                        name_of(&n.metadata).to_string(),
                        format!("{cpu:.0}m"),
                        render::human_bytes(mem as u64),
                    ],
                )
            })
            .collect();
        (vec!["NAME", "CPU", "MEMORY"], rows)
    } else {
        let api: Api<PodMetrics> = api_ns(k, a.all_namespaces);
        let list = match call(k, api.list(&ListParams::default())).await {
            Ok(l) => l,
            Err(e) if metrics_absent(&e) => return absent(&e),
            Err(e) => return error(ctx, call_error_text(k, &e)),
        };
        let rows = list
            .items
            .iter()
            .map(|p| {
                let cpu: f64 = p
                    .containers
                    .iter()
                    .filter_map(|c| c.usage.get("cpu").and_then(|q| cpu_millis(q)))
                    .sum();
                let mem: f64 = p
                    .containers
                    .iter()
                    .filter_map(|c| c.usage.get("memory").and_then(|q| mem_bytes(q)))
                    .sum();
                let mut row = ns_col(a.all_namespaces, &p.metadata);
                row.extend([
                    name_of(&p.metadata).to_string(),
                    format!("{cpu:.0}m"),
                    render::human_bytes(mem as u64),
                ]);
                (cpu, row)
            })
            .collect();
        (with_ns(a.all_namespaces, &["NAME", "CPU", "MEMORY"]), rows)
    };
    if !nodes && a.all_namespaces {
        rows.retain(|(_, r)| r.first().is_some_and(|ns| k.visible_ns(ns)));
    }
    // Busiest first, like `kubectl top --sort-by=cpu`.
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, r)| r).collect();
    let head = format!(
        "📊 {} · {}",
        k.cluster.context,
        if nodes {
            "nodes".to_string()
        } else {
            format!("ns/{}", k.ns)
        }
    );
    if rows.is_empty() {
        return reply(
            ctx,
            format!("{head}\n{}", lang.pick("（没有数据）", "(no data)")),
        );
    }
    reply(ctx, fit(lang, &head, &table::render(&header, &rows)))
}

// ---- rollout -----------------------------------------------------------------------------

/// kubectl's rollout status sentence for a Deployment, and whether it is done.
pub fn deployment_rollout(d: &Deployment) -> (bool, String) {
    let name = name_of(&d.metadata);
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let st = d.status.clone().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    if st.observed_generation.unwrap_or(0) < generation {
        return (
            false,
            "Waiting for deployment spec update to be observed...".into(),
        );
    }
    if let Some(c) = st
        .conditions
        .as_ref()
        .and_then(|c| c.iter().find(|c| c.type_ == "Progressing"))
        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    {
        return (
            false,
            format!("deployment \"{name}\" exceeded its progress deadline"),
        );
    }
    let updated = st.updated_replicas.unwrap_or(0);
    let replicas = st.replicas.unwrap_or(0);
    let available = st.available_replicas.unwrap_or(0);
    if updated < want {
        return (
            false,
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {want} new replicas have been updated..."
            ),
        );
    }
    if replicas > updated {
        return (
            false,
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...",
                replicas - updated
            ),
        );
    }
    if available < updated {
        return (
            false,
            format!(
                "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."
            ),
        );
    }
    (
        true,
        format!("deployment \"{name}\" successfully rolled out"),
    )
}

async fn rollout_status(k: &K<'_, '_>, kind: Kind, name: &str) -> Outcome {
    if kind != Kind::Deployment {
        return bad_input(k.ctx, "rollout status supports deploy/NAME");
    }
    let api: Api<Deployment> = Api::namespaced(k.cluster.client.clone(), &k.ns);
    let d = try_call!(k, api.get(name));
    let (done, text) = deployment_rollout(&d);
    reply(
        k.ctx,
        format!(
            "{} {text} @{}/{}",
            if done { "✅" } else { "⏳" },
            k.cluster.context,
            k.ns
        ),
    )
}

fn restart_patch(at: &str) -> serde_json::Value {
    serde_json::json!({"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": at
    }}}}})
}

/// Audits a write and answers with its outcome.
fn audited(k: &K<'_, '_>, target: &str, r: Result<String, CallError>) -> Outcome {
    match r {
        Ok(text) => {
            tracing::info!(user = %k.ctx.identity, context = %k.cluster.context, %target, "kubernetes write");
            Outcome::Audited(
                Reply::command(text, k.ctx.lang),
                k.ctx.audit(Some(&k.cluster.context), Some(target), "ok"),
            )
        }
        Err(e) => {
            let text = call_error_text(k, &e);
            Outcome::Audited(
                Reply::error(text, k.ctx.lang),
                k.ctx.audit(
                    Some(&k.cluster.context),
                    Some(target),
                    &format!("failed: {}", e.kind()),
                ),
            )
        }
    }
}

async fn rollout_restart(k: &K<'_, '_>, kind: Kind, name: &str) -> Outcome {
    let target = format!("{}/{}/{name}", k.ns, kind.word());
    if !matches!(kind, Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet) {
        return bad_input(k.ctx, "rollout restart supports deploy, sts and ds");
    }
    let at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // kubectl's own field manager and patch type, so the cluster records it like kubectl.
    let pp = PatchParams {
        field_manager: Some("kubectl-rollout".into()),
        ..PatchParams::default()
    };
    let patch = Patch::Strategic(restart_patch(&at));
    let c = k.cluster.client.clone();
    let r = match kind {
        Kind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(c, &k.ns);
            match call(k, api.get(name)).await {
                Ok(d) if d.spec.as_ref().and_then(|s| s.paused) == Some(true) => {
                    return error(
                        k.ctx,
                        k.ctx.lang.pick(
                            "该 Deployment 已暂停，无法重启（先执行 rollout resume）。",
                            "can't restart paused deployment (run rollout resume first)",
                        ),
                    );
                }
                Ok(_) => call(k, api.patch(name, &pp, &patch)).await.map(|_| ()),
                Err(e) => Err(e),
            }
        }
        Kind::StatefulSet => {
            let api: Api<StatefulSet> = Api::namespaced(c, &k.ns);
            call(k, api.patch(name, &pp, &patch)).await.map(|_| ())
        }
        _ => {
            let api: Api<DaemonSet> = Api::namespaced(c, &k.ns);
            call(k, api.patch(name, &pp, &patch)).await.map(|_| ())
        }
    };
    let text = match k.ctx.lang {
        Lang::Zh => format!(
            "🔄 {}/{name} 已触发滚动重启 @{}/{}",
            kind.word(),
            k.cluster.context,
            k.ns
        ),
        Lang::En => format!(
            "🔄 {}/{name} restarted @{}/{}",
            kind.word(),
            k.cluster.context,
            k.ns
        ),
    };
    audited(k, &target, r.map(|()| text))
}

async fn scale(k: &K<'_, '_>, kind: Kind, name: &str, replicas: i32) -> Outcome {
    let target = format!("{}/{}/{name}", k.ns, kind.word());
    if !matches!(kind, Kind::Deployment | Kind::StatefulSet) {
        return bad_input(k.ctx, "scale supports deploy and sts");
    }
    // kubectl scale: a merge patch on the scale subresource.
    let patch = Patch::Merge(serde_json::json!({"spec": {"replicas": replicas}}));
    let pp = PatchParams::default();
    let c = k.cluster.client.clone();
    let r = match kind {
        Kind::Deployment => {
            let api: Api<Deployment> = Api::namespaced(c, &k.ns);
            call(k, api.patch_scale(name, &pp, &patch)).await
        }
        _ => {
            let api: Api<StatefulSet> = Api::namespaced(c, &k.ns);
            call(k, api.patch_scale(name, &pp, &patch)).await
        }
    };
    let r = r.map(|s| {
        let before = s.status.as_ref().map(|s| s.replicas).unwrap_or(0);
        match k.ctx.lang {
            Lang::Zh => format!(
                "📐 {}/{name} 副本数 {before} → {replicas} @{}/{}",
                kind.word(),
                k.cluster.context,
                k.ns
            ),
            Lang::En => format!(
                "📐 {}/{name} scaled {before} → {replicas} replicas @{}/{}",
                kind.word(),
                k.cluster.context,
                k.ns
            ),
        }
    });
    audited(k, &target, r)
}

const REVISION: &str = "deployment.kubernetes.io/revision";

/// Annotations a rollback keeps from the Deployment instead of copying from the ReplicaSet
/// (kubectl's list).
const KEEP_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

fn revision_of(m: &ObjectMeta) -> i64 {
    m.annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// A pod template without the `pod-template-hash` label, as JSON for comparing and patching.
fn template_value(t: &k8s_openapi::api::core::v1::PodTemplateSpec) -> serde_json::Value {
    let mut t = t.clone();
    if let Some(m) = t.metadata.as_mut()
        && let Some(l) = m.labels.as_mut()
    {
        l.remove("pod-template-hash");
    }
    serde_json::to_value(&t).unwrap_or(serde_json::Value::Null)
}

async fn rollout_undo(k: &K<'_, '_>, kind: Kind, name: &str) -> Outcome {
    let target = format!("{}/{}/{name}", k.ns, kind.word());
    if kind != Kind::Deployment {
        return bad_input(k.ctx, "rollout undo supports deploy/NAME");
    }
    let lang = k.ctx.lang;
    let c = k.cluster.client.clone();
    let deploys: Api<Deployment> = Api::namespaced(c.clone(), &k.ns);
    let d = try_call!(k, deploys.get(name));
    let Some(spec) = d.spec.as_ref() else {
        return error(k.ctx, "deployment has no spec");
    };
    if spec.paused == Some(true) {
        return error(
            k.ctx,
            lang.pick(
                "该 Deployment 已暂停，无法回滚（先执行 rollout resume）。",
                "you cannot rollback a paused deployment; resume it first",
            ),
        );
    }
    let selector = spec
        .selector
        .match_labels
        .as_ref()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let rs_api: Api<ReplicaSet> = Api::namespaced(c, &k.ns);
    let list = try_call!(
        k,
        rs_api.list(&list_params(
            Some(&selector)
                .filter(|s| !s.is_empty())
                .map(String::as_str)
        ))
    );
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let mut owned: Vec<&ReplicaSet> = list
        .items
        .iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .as_ref()
                .is_some_and(|o| o.iter().any(|o| o.controller == Some(true) && o.uid == uid))
        })
        .collect();
    owned.sort_by_key(|rs| std::cmp::Reverse(revision_of(&rs.metadata)));
    let Some(prev) = owned.get(1) else {
        return error(
            k.ctx,
            match lang {
                Lang::Zh => format!("deployment \"{name}\" 没有可回滚的历史版本。"),
                Lang::En => format!("no rollout history found for deployment \"{name}\""),
            },
        );
    };
    let rev = revision_of(&prev.metadata);
    let Some(tpl) = prev.spec.as_ref().and_then(|s| s.template.as_ref()) else {
        return error(k.ctx, "the previous ReplicaSet has no pod template");
    };
    let prev_tpl = template_value(tpl);
    if prev_tpl == template_value(&spec.template) {
        return reply(
            k.ctx,
            match lang {
                Lang::Zh => format!("已跳过回滚（当前模板已与版本 {rev} 相同）"),
                Lang::En => {
                    format!("skipped rollback (current template already matches revision {rev})")
                }
            },
        );
    }
    let mut annotations: BTreeMap<String, String> = BTreeMap::new();
    let current = d.metadata.annotations.clone().unwrap_or_default();
    for key in KEEP_ANNOTATIONS {
        if let Some(v) = current.get(*key) {
            annotations.insert((*key).to_string(), v.clone());
        }
    }
    for (key, v) in prev.metadata.annotations.clone().unwrap_or_default() {
        if !KEEP_ANNOTATIONS.contains(&key.as_str()) {
            annotations.insert(key, v);
        }
    }
    let ops = serde_json::json!([
        {"op": "replace", "path": "/spec/template", "value": prev_tpl},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]);
    let patch: json_patch::Patch = match serde_json::from_value(ops) {
        Ok(p) => p,
        Err(e) => return error(k.ctx, format!("cannot build the rollback patch: {e}")),
    };
    let r = call(
        k,
        deploys.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch)),
    )
    .await;
    let text = match lang {
        Lang::Zh => format!(
            "⏪ deployment/{name} 已回滚到版本 {rev} @{}/{}",
            k.cluster.context, k.ns
        ),
        Lang::En => format!(
            "⏪ deployment/{name} rolled back to revision {rev} @{}/{}",
            k.cluster.context, k.ns
        ),
    };
    audited(k, &target, r.map(|_| text))
}

// ---- destructive -------------------------------------------------------------------------

async fn delete_pod(k: &K<'_, '_>, name: &str) -> Outcome {
    let target = format!("{}/pod/{name}", k.ns);
    let api: Api<Pod> = Api::namespaced(k.cluster.client.clone(), &k.ns);
    // Look first: a typo should be "not found" now, not after the confirmation.
    let p = try_call!(k, api.get(name));
    if !k.ctx.confirmed {
        let owner = p
            .metadata
            .owner_references
            .as_ref()
            .and_then(|o| o.iter().find(|o| o.controller == Some(true)))
            .map(|o| format!("{}/{}", o.kind, o.name));
        let summary = match (k.ctx.lang, owner) {
            (Lang::Zh, Some(o)) => format!(
                "在 {} 上删除 pod {}/{name}（{}，由 {o} 管理，会被重建）",
                k.cluster.context,
                k.ns,
                pod_status(&p)
            ),
            (Lang::Zh, None) => format!(
                "在 {} 上删除 pod {}/{name}（{}，没有控制器，不会重建）",
                k.cluster.context,
                k.ns,
                pod_status(&p)
            ),
            (Lang::En, Some(o)) => format!(
                "delete pod {}/{name} on {} ({}, owned by {o}, which recreates it)",
                k.ns,
                k.cluster.context,
                pod_status(&p)
            ),
            (Lang::En, None) => format!(
                "delete pod {}/{name} on {} ({}, no controller: it will not come back)",
                k.ns,
                k.cluster.context,
                pod_status(&p)
            ),
        };
        return Outcome::NeedsConfirmation { summary };
    }
    let r = call(k, api.delete(name, &DeleteParams::default())).await;
    let text = match k.ctx.lang {
        Lang::Zh => format!("🗑 pod {}/{name} 已删除 @{}", k.ns, k.cluster.context),
        Lang::En => format!("🗑 pod {}/{name} deleted @{}", k.ns, k.cluster.context),
    };
    audited(k, &target, r.map(|_| text))
}

async fn cordon(k: &K<'_, '_>, node: &str, on: bool) -> Outcome {
    if let Err(e) = validate_name(node) {
        return bad_input(k.ctx, &e);
    }
    let target = format!("node/{node}");
    let api: Api<Node> = Api::all(k.cluster.client.clone());
    let n = try_call!(k, api.get(node));
    let verb = if on { "cordon" } else { "uncordon" };
    if !k.ctx.confirmed {
        let (_, status) = node_status(&n);
        let summary = match k.ctx.lang {
            Lang::Zh => format!(
                "{} 节点 {node}（{status}）@{}",
                if on {
                    "禁止调度（cordon）"
                } else {
                    "恢复调度（uncordon）"
                },
                k.cluster.context
            ),
            Lang::En => format!("{verb} node {node} ({status}) on {}", k.cluster.context),
        };
        return Outcome::NeedsConfirmation { summary };
    }
    let r = if on {
        call(k, api.cordon(node)).await
    } else {
        call(k, api.uncordon(node)).await
    };
    let text = match (k.ctx.lang, on) {
        (Lang::Zh, true) => format!("🚧 节点 {node} 已禁止调度 @{}", k.cluster.context),
        (Lang::Zh, false) => format!("✅ 节点 {node} 已恢复调度 @{}", k.cluster.context),
        (Lang::En, true) => format!("🚧 node/{node} cordoned @{}", k.cluster.context),
        (Lang::En, false) => format!("✅ node/{node} uncordoned @{}", k.cluster.context),
    };
    audited(k, &target, r.map(|_| text))
}

/// Why drain leaves a pod alone, if it does.
fn drain_skip(p: &Pod, a: &DrainArgs) -> Option<&'static str> {
    let m = &p.metadata;
    if m.annotations
        .as_ref()
        .is_some_and(|x| x.contains_key("kubernetes.io/config.mirror"))
    {
        return Some("mirror pod");
    }
    let controller = m
        .owner_references
        .as_ref()
        .and_then(|o| o.iter().find(|o| o.controller == Some(true)));
    if controller.is_some_and(|o| o.kind == "DaemonSet") {
        return Some("DaemonSet");
    }
    if controller.is_none() && !a.force {
        return Some("no controller (use --force)");
    }
    let empty_dir = p
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .is_some_and(|v| v.iter().any(|v| v.empty_dir.is_some()));
    if empty_dir && !a.delete_emptydir_data {
        return Some("emptyDir data (use --delete-emptydir-data)");
    }
    None
}

/// Longest `drain --timeout`: below the chat pipeline's two-minute "still processing" window,
/// so a channel's redelivery of the same message never starts a second drain.
const MAX_DRAIN_TIMEOUT: Duration = Duration::from_secs(110);

/// `--timeout 90s` / `1m` / `45` (seconds), within 1 s ..= [`MAX_DRAIN_TIMEOUT`].
fn drain_timeout(arg: Option<&str>, default_secs: u64) -> Result<Duration, String> {
    let Some(s) = arg else {
        return Ok(Duration::from_secs(default_secs).min(MAX_DRAIN_TIMEOUT));
    };
    let s = s.trim();
    let d = match s.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(s)
            .map_err(|_| format!("--timeout {s:?}: use a duration such as 90s or 1m"))?,
    };
    if d < Duration::from_secs(1) || d > MAX_DRAIN_TIMEOUT {
        return Err(format!(
            "--timeout must be between 1s and {}s",
            MAX_DRAIN_TIMEOUT.as_secs()
        ));
    }
    Ok(d)
}

/// What one eviction request came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvictionAnswer {
    /// 201: the API server accepted the eviction and is deleting the pod.
    Evicted,
    /// 404: the pod is gone already.
    Gone,
    /// 429: a PodDisruptionBudget forbids it right now. The message is the budget's own
    /// (`The disruption budget web-pdb needs 2 healthy pods …`) when the server gave one;
    /// `retry_after` is the server's `retryAfterSeconds` (a budget not processed yet).
    Blocked {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Anything else (RBAC refusal, several budgets, transport): retrying will not help.
    Failed(CallError),
}

impl EvictionAnswer {
    pub fn from_result(r: Result<(), kube::Error>) -> EvictionAnswer {
        let e = match r {
            Ok(()) => return EvictionAnswer::Evicted,
            Err(e) => e,
        };
        if let kube::Error::Api(s) = &e {
            match s.code {
                404 => return EvictionAnswer::Gone,
                429 => {
                    let details = s.details.as_ref();
                    let cause = details
                        .and_then(|d| d.causes.iter().find(|c| !c.message.is_empty()))
                        .map(|c| c.message.clone());
                    let retry_after = details
                        .map(|d| d.retry_after_seconds)
                        .filter(|s| *s > 0)
                        .map(|s| Duration::from_secs(u64::from(s)));
                    return EvictionAnswer::Blocked {
                        message: cause.unwrap_or_else(|| s.message.clone()),
                        retry_after,
                    };
                }
                _ => {}
            }
        }
        EvictionAnswer::Failed(CallError::from_kube(&e))
    }
}

/// One pod drain tries to evict, and where it stands.
struct Evictee {
    ns: String,
    name: String,
    attempts: u32,
    answer: EvictionAnswer,
    next_try: tokio::time::Instant,
}

/// POSTs a real policy/v1 Eviction (kube's `evict()` sends snake_case delete options a real
/// server ignores) under the command's per-call timeout.
async fn evict_once(k: &K<'_, '_>, ns: &str, name: &str) -> EvictionAnswer {
    let api: Api<Pod> = Api::namespaced(k.cluster.client.clone(), ns);
    let ev = Eviction {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            ..ObjectMeta::default()
        },
        delete_options: None,
    };
    let pp = PostParams::default();
    let post = api.create_subresource::<_, kube::core::Status>("eviction", name, &pp, &ev);
    match tokio::time::timeout(k.timeout, post).await {
        Ok(r) => EvictionAnswer::from_result(r.map(|_| ())),
        Err(_) => EvictionAnswer::Failed(CallError::Transport(format!(
            "no answer within {} s",
            k.timeout.as_secs()
        ))),
    }
}

/// Evicts every pod, retrying those a PodDisruptionBudget refuses (429) every `retry` (or
/// the server's `retryAfterSeconds`, if longer) until `deadline`, as `kubectl drain` does.
/// A retry is only started before the deadline, so the command ends within the deadline
/// plus one request timeout.
async fn evict_all(
    k: &K<'_, '_>,
    pods: Vec<(String, String)>,
    retry: Duration,
    deadline: tokio::time::Instant,
) -> Vec<Evictee> {
    let mut out: Vec<Evictee> = pods
        .into_iter()
        .map(|(ns, name)| Evictee {
            ns,
            name,
            attempts: 0,
            answer: EvictionAnswer::Blocked {
                message: String::new(),
                retry_after: None,
            },
            next_try: tokio::time::Instant::now(),
        })
        .collect();
    loop {
        let now = tokio::time::Instant::now();
        for e in out.iter_mut() {
            if !matches!(e.answer, EvictionAnswer::Blocked { .. }) || e.next_try > now {
                continue;
            }
            e.attempts += 1;
            e.answer = evict_once(k, &e.ns, &e.name).await;
            if let EvictionAnswer::Blocked { retry_after, .. } = &e.answer {
                e.next_try =
                    tokio::time::Instant::now() + retry.max(retry_after.unwrap_or_default());
            }
        }
        let next = out
            .iter()
            .filter(|e| matches!(e.answer, EvictionAnswer::Blocked { .. }))
            .map(|e| e.next_try)
            .min();
        match next {
            Some(t) if t < deadline => tokio::time::sleep_until(t).await,
            _ => return out,
        }
    }
}

/// The drain report: problems first, so a reply cut to the channel's budget still shows them.
fn drain_lines(
    k: &K<'_, '_>,
    evictees: &[Evictee],
    skipped: &[(String, &'static str)],
    waited: Duration,
) -> Vec<String> {
    let lang = k.ctx.lang;
    let mut failed = Vec::new();
    let mut blocked = Vec::new();
    let mut evicted = Vec::new();
    for e in evictees {
        let who = format!("{}/{}", e.ns, e.name);
        match &e.answer {
            EvictionAnswer::Failed(err) => {
                failed.push(format!("❌ {who}: {}", call_error_text(k, err)))
            }
            EvictionAnswer::Blocked { message, .. } => blocked.push(match lang {
                Lang::Zh => format!(
                    "⏸ {who}：{} 秒内尝试 {} 次，仍被 PodDisruptionBudget 阻止：{message}",
                    waited.as_secs(),
                    e.attempts
                ),
                Lang::En => format!(
                    "⏸ {who}: still blocked by a PodDisruptionBudget after {} attempts in {} s: {message}",
                    e.attempts,
                    waited.as_secs()
                ),
            }),
            EvictionAnswer::Evicted | EvictionAnswer::Gone => {
                let gone = e.answer == EvictionAnswer::Gone;
                evicted.push(match (lang, gone, e.attempts) {
                    (Lang::Zh, true, _) => format!("✅ {who} 已不存在"),
                    (Lang::Zh, false, 1) => format!("✅ {who} 已驱逐"),
                    (Lang::Zh, false, n) => format!("✅ {who} 已驱逐（第 {n} 次尝试）"),
                    (Lang::En, true, _) => format!("✅ {who} already gone"),
                    (Lang::En, false, 1) => format!("✅ {who} evicted"),
                    (Lang::En, false, n) => format!("✅ {who} evicted (attempt {n})"),
                });
            }
        }
    }
    let skipped = skipped.iter().map(|(who, why)| format!("⏭ {who}: {why}"));
    failed
        .into_iter()
        .chain(blocked)
        .chain(evicted)
        .chain(skipped)
        .collect()
}

async fn drain(k: &K<'_, '_>, a: DrainArgs) -> Outcome {
    if let Err(e) = validate_name(&a.node) {
        return bad_input(k.ctx, &e);
    }
    let cfg = &k.ctx.app.config.kubernetes;
    let timeout = match drain_timeout(a.timeout.as_deref(), cfg.drain_timeout_secs) {
        Ok(t) => t,
        Err(e) => return bad_input(k.ctx, &e),
    };
    let retry = Duration::from_millis(cfg.eviction_retry_ms);
    let target = format!("node/{}", a.node);
    let lang = k.ctx.lang;
    let nodes: Api<Node> = Api::all(k.cluster.client.clone());
    try_call!(k, nodes.get(&a.node));
    let pods_api: Api<Pod> = Api::all(k.cluster.client.clone());
    let lp = ListParams::default().fields(&format!("spec.nodeName={}", a.node));
    let pods = try_call!(k, pods_api.list(&lp)).items;
    if !k.ctx.confirmed {
        let evict = pods.iter().filter(|p| drain_skip(p, &a).is_none()).count();
        let summary = match lang {
            Lang::Zh => format!(
                "排空节点 {}：禁止调度并驱逐 {evict} 个 Pod（共 {} 个），被 PDB 阻止的最多重试 {} 秒 @{}",
                a.node,
                pods.len(),
                timeout.as_secs(),
                k.cluster.context
            ),
            Lang::En => format!(
                "drain node {}: cordon it and evict {evict} of its {} pods, retrying PDB-blocked ones for up to {} s on {}",
                a.node,
                pods.len(),
                timeout.as_secs(),
                k.cluster.context
            ),
        };
        return Outcome::NeedsConfirmation { summary };
    }
    let started = tokio::time::Instant::now();
    if let Err(e) = call(k, nodes.cordon(&a.node)).await {
        return audited(k, &target, Err(e));
    }
    let mut skipped = Vec::new();
    let mut to_evict = Vec::new();
    for p in &pods {
        let (ns, name) = (ns_of(&p.metadata), name_of(&p.metadata));
        match drain_skip(p, &a) {
            Some(why) => skipped.push((format!("{ns}/{name}"), why)),
            None => to_evict.push((ns.to_string(), name.to_string())),
        }
    }
    let evictees = evict_all(k, to_evict, retry, started + timeout).await;
    let count = |f: fn(&EvictionAnswer) -> bool| evictees.iter().filter(|e| f(&e.answer)).count();
    let evicted = count(|a| matches!(a, EvictionAnswer::Evicted | EvictionAnswer::Gone));
    let blocked = count(|a| matches!(a, EvictionAnswer::Blocked { .. }));
    let failed = count(|a| matches!(a, EvictionAnswer::Failed(_)));
    let head = match lang {
        Lang::Zh => format!(
            "🚧 节点 {} 已禁止调度 @{}\n驱逐 {evicted} 个，被 PDB 阻止 {blocked} 个，失败 {failed} 个，跳过 {} 个",
            a.node,
            k.cluster.context,
            skipped.len()
        ),
        Lang::En => format!(
            "🚧 node/{} cordoned @{}\nevicted {evicted}, blocked by a PDB {blocked}, failed {failed}, skipped {}",
            a.node,
            k.cluster.context,
            skipped.len()
        ),
    };
    let mut lines = drain_lines(k, &evictees, &skipped, timeout);
    if blocked > 0 {
        lines.push(match lang {
            Lang::Zh => "被 PodDisruptionBudget 阻止的 Pod 要等其他副本就绪后再 drain 一次（可加 --timeout 等更久）。".to_string(),
            Lang::En => "Run drain again once the budget allows it (or give it longer with --timeout).".to_string(),
        });
    }
    let result = if blocked + failed == 0 {
        format!("ok: evicted {evicted}")
    } else {
        format!("evicted {evicted}, blocked {blocked}, failed {failed}")
    };
    let text = fit(lang, &head, &lines);
    let r = if blocked + failed == 0 {
        Reply::command(text, lang)
    } else {
        Reply::error(text, lang)
    };
    Outcome::Audited(
        r,
        k.ctx
            .audit(Some(&k.cluster.context), Some(&target), &result),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn pod_status_prefers_container_reasons() {
        let p = pod(serde_json::json!({
            "metadata": {"name": "a", "namespace": "prod"},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 7, "image": "x", "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
        }));
        assert_eq!(pod_status(&p), "CrashLoopBackOff");
        assert_eq!(pod_restarts(&p), 7);
        assert!(!pod_healthy(&p));
        let ok = pod(serde_json::json!({
            "metadata": {"name": "b"},
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "x", "imageID": "",
                "state": {"running": {}}}]}
        }));
        assert_eq!(pod_status(&ok), "Running");
        assert!(pod_healthy(&ok));
        let lines = pods_table(&[ok.clone(), p.clone()], false, false, 0, Lang::En);
        assert!(lines[1].contains("CrashLoopBackOff"), "{lines:?}");
    }

    #[test]
    fn drain_timeouts_parse_within_bounds() {
        assert_eq!(drain_timeout(None, 60), Ok(Duration::from_secs(60)));
        assert_eq!(drain_timeout(None, 500), Ok(MAX_DRAIN_TIMEOUT));
        assert_eq!(drain_timeout(Some("90s"), 60), Ok(Duration::from_secs(90)));
        assert_eq!(drain_timeout(Some("1m"), 60), Ok(Duration::from_secs(60)));
        assert_eq!(drain_timeout(Some("45"), 60), Ok(Duration::from_secs(45)));
        assert!(drain_timeout(Some("1h"), 60).is_err());
        assert!(drain_timeout(Some("0"), 60).is_err());
        assert!(drain_timeout(Some("soon"), 60).is_err());
    }

    #[test]
    fn eviction_answers_read_the_status() {
        let api = |v: serde_json::Value| {
            let s: kube::core::Status = serde_json::from_value(v).unwrap();
            EvictionAnswer::from_result(Err(kube::Error::Api(Box::new(s))))
        };
        // The PDB's own message wins over the generic one.
        let pdb = api(
            serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": "Cannot evict pod as it would violate the pod's disruption budget.",
            "reason": "TooManyRequests", "code": 429,
            "details": {"causes": [{"reason": "DisruptionBudget",
                "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"}]}}),
        );
        assert_eq!(
            pdb,
            EvictionAnswer::Blocked {
                message: "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"
                    .into(),
                retry_after: None
            }
        );
        let unprocessed = api(
            serde_json::json!({"status": "Failure", "reason": "TooManyRequests",
            "message": "Cannot evict pod as it would violate the pod's disruption budget.", "code": 429,
            "details": {"retryAfterSeconds": 10, "causes": [{"reason": "DisruptionBudget",
                "message": "The disruption budget web-pdb is still being processed by the server."}]}}),
        );
        assert!(matches!(
            unprocessed,
            EvictionAnswer::Blocked { retry_after: Some(d), .. } if d == Duration::from_secs(10)
        ));
        let gone = api(
            serde_json::json!({"status": "Failure", "reason": "NotFound",
            "message": "pods \"web-9\" not found", "code": 404}),
        );
        assert_eq!(gone, EvictionAnswer::Gone);
        let rbac = api(
            serde_json::json!({"status": "Failure", "reason": "Forbidden",
            "message": "pods \"web-1\" is forbidden", "code": 403}),
        );
        assert!(matches!(
            rbac,
            EvictionAnswer::Failed(CallError::Api { code: 403, .. })
        ));
        assert_eq!(EvictionAnswer::from_result(Ok(())), EvictionAnswer::Evicted);
    }

    #[test]
    fn quantities_parse() {
        assert_eq!(cpu_millis("250m"), Some(250.0));
        assert_eq!(cpu_millis("2"), Some(2000.0));
        assert!((cpu_millis("487558164n").unwrap() - 487.558164).abs() < 1e-6);
        assert_eq!(mem_bytes("1Ki"), Some(1024.0));
        assert_eq!(mem_bytes("128M"), Some(128e6));
        assert_eq!(mem_bytes("x"), None);
    }

    #[test]
    fn targets_parse() {
        assert_eq!(
            target("deploy/api", None).unwrap(),
            (Kind::Deployment, "api".into())
        );
        assert_eq!(
            target("sts", Some("db")).unwrap(),
            (Kind::StatefulSet, "db".into())
        );
        assert!(target("deploy/api", Some("x")).is_err());
        assert!(target("widget/x", None).is_err());
        assert!(target("deploy/A_B", None).is_err());
    }

    #[test]
    fn rollout_sentences() {
        let d: Deployment = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "generation": 3},
            "spec": {"replicas": 3, "selector": {}, "template": {}},
            "status": {"observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 1}
        }))
        .unwrap();
        let (done, s) = deployment_rollout(&d);
        assert!(!done);
        assert!(s.contains("1 of 3 updated replicas are available"), "{s}");
    }
}
