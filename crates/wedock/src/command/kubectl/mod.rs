//! `/kubectl …` (alias `/k`): read (viewer), write (operator), destructive (admin, confirmed)
//! commands on one of several clusters, in kubectl's words. Replies are compact tables and
//! readable summaries within a channel's byte budget. Writes send what kubectl sends (a
//! strategic `restartedAt` patch, a merge patch on `/scale`, a JSON patch for undo), so the
//! cluster's audit log reads the same as for a person at a terminal.
//!
//! Layout: this file holds the clap definitions, each command's declaration, the namespace
//! and scope resolution (`run`) and the API-call plumbing; one file per verb group holds the
//! handlers. Files here may use `ops::kube`, `render`, `i18n` and the command runtime.

use super::runtime::{self, Decl, Family, Target, fit, now};
use super::{Ctx, Outcome, error, reply};
use crate::i18n::Lang;
use crate::message::Reply;
use crate::ops::kube::{CallError, Cluster, ClusterError, validate_name, validate_selector};
use crate::render::{self, table};
use crate::scope::Access;
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
    let k = match open(ctx, context, namespace).await {
        Ok(k) => k,
        Err(refused) => return refused,
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

/// The cluster client and namespace for a command: the typed context (or `@ctx` word), else
/// the default one; the typed namespace, else the context's.
async fn open<'a, 'b>(
    ctx: &'a Ctx<'b>,
    context: Option<String>,
    namespace: Option<String>,
) -> Result<K<'a, 'b>, Outcome> {
    let context = context.or_else(|| super::docker::host_word(&ctx.words));
    if let Some(c) = &context
        && (c.is_empty() || c.len() > 128 || c.chars().any(char::is_control))
    {
        return Err(bad_input(ctx, "context name"));
    }
    if let Some(n) = &namespace
        && let Err(e) = validate_name(n)
    {
        return Err(bad_input(ctx, &e));
    }
    let who = ctx.app.kube.impersonation(&ctx.identity, ctx.role.as_str());
    let cluster = match ctx.app.kube.get(context.as_deref(), who).await {
        Ok(c) => c,
        Err(e) => {
            metrics::counter!("wedock_kube_errors_total", "kind" => e.kind()).increment(1);
            tracing::warn!(error = ?e, "no Kubernetes client");
            return Err(error(ctx, cluster_error_text(ctx.lang, &e)));
        }
    };
    let ns = namespace.unwrap_or_else(|| cluster.namespace.clone());
    Ok(K {
        ctx,
        cluster,
        ns,
        timeout: Duration::from_secs(ctx.app.config.kubernetes.request_timeout_secs),
    })
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

fn bad_input(ctx: &Ctx<'_>, why: &str) -> Outcome {
    super::bad_input(ctx, "kubectl_input", why)
}

pub fn cluster_error_text(lang: Lang, e: &ClusterError) -> String {
    match e {
        ClusterError::Disabled => t!(lang, "kubectl.disabled").to_string(),
        ClusterError::UnknownContext { name, known } => {
            let known = known.join(t!(lang, "core.list_sep"));
            t!(lang, "kubectl.unknown_context", name = name, known = known)
        }
        ClusterError::Config(m) => t!(lang, "kubectl.config_error", reason = m),
    }
}

/// A failed API call as a sentence the user can act on.
fn call_error_text(k: &K<'_, '_>, e: &CallError) -> String {
    metrics::counter!("wedock_kube_errors_total", "kind" => e.kind()).increment(1);
    tracing::warn!(context = %k.cluster.context, kind = e.kind(), "Kubernetes call failed: {e:?}");
    let lang = k.ctx.lang;
    match e {
        CallError::Api {
            code: 403, message, ..
        } => {
            t!(lang, "kubectl.rbac_refused", message = message)
        }
        CallError::Api {
            code: 404,
            message,
            reason,
        } if reason == "NotFound" => {
            t!(lang, "kubectl.not_found", what = message)
        }
        CallError::Api { code: 401, .. } => t!(lang, "kubectl.unauthorized").to_string(),
        CallError::Api {
            code,
            reason,
            message,
        } => t!(
            lang,
            "kubectl.api_error",
            code = code,
            reason = reason,
            message = message
        ),
        CallError::Transport(m) => t!(
            lang,
            "kubectl.unreachable",
            context = k.cluster.context,
            reason = m
        ),
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

mod describe;
mod diagnose;
pub use diagnose::diagnose;
mod drain;
mod get;
mod logs;
mod rollout;
mod rows;
mod top;
pub use crate::ops::kube_status::{deployment_rollout, pod_status};
pub use describe::describe_pod_lines;
use describe::*;
pub use drain::EvictionAnswer;
use drain::*;
use get::*;
pub use get::{pods_reply, pods_table};
use logs::*;
use rollout::*;
use top::*;
pub use top::{ContainerMetrics, NodeMetrics, PodMetrics, cpu_millis, mem_bytes};

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
