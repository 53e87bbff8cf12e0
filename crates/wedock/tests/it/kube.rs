//! Kubernetes ChatOps and cluster alerts against the fake API server (support/fake_kube/),
//! reached by the real kube client through a kubeconfig file: commands go through the chat
//! pipeline (roles, confirmations, audit), alerts through a running `wedock serve` to the fake
//! group robot.

use crate::docker::Bot;
use crate::support::TestServer;
use crate::support::fake_kube::{FakeKube, Metrics, objects};
use crate::support::fake_robot::FakeRobot;
use serde_json::json;
use std::time::Duration;
use wedock::message::{Reply, ReplyKind};

// Many commands a minute from one user: the rate limit has its own tests.
const USERS: &str = r#"
[limits]
commands_per_minute = 0

[identity.users]
"wecom:viewer1" = "viewer"
"wecom:op1" = "operator"
"wecom:admin1" = "admin"
"#;

/// A fake cluster with two contexts pointing at it, and the config that uses it.
pub struct Cluster {
    pub fake: FakeKube,
    _dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
}

impl Cluster {
    pub async fn start() -> Cluster {
        crate::support::init();
        let fake = FakeKube::start().await;
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, fake.kubeconfig(&["prod", "staging"])).unwrap();
        Cluster {
            fake,
            _dir: dir,
            kubeconfig,
        }
    }

    /// A bot whose test users have written English before, so replies are in English.
    pub async fn bot(&self, extra: &str) -> Bot {
        let bot = Bot::new(&self.config(extra)).await;
        for u in ["viewer1", "op1", "admin1"] {
            bot.say(u, "hello").await;
        }
        bot
    }

    pub fn config(&self, extra: &str) -> String {
        format!(
            "[docker]\nenabled = false\n\n[kubernetes]\nenabled = true\nkubeconfig = \"{}\"\n{extra}\n{USERS}",
            self.kubeconfig.display()
        )
    }

    /// The pods, nodes and workloads most tests look at.
    pub fn seed(&self) {
        let f = &self.fake;
        f.put(
            "pods",
            objects::running_pod("default", "web-1", "web", "node-1"),
        );
        f.put(
            "pods",
            objects::running_pod("default", "web-2", "web", "node-1"),
        );
        f.put("pods", objects::running_pod("prod", "db-0", "db", "node-2"));
        f.put(
            "pods",
            objects::crashloop_pod("default", "api-7d4b8c9f6-x2j9k", "api", 7, "Error", 1),
        );
        f.put("nodes", objects::node("node-1", true));
        f.put("nodes", objects::node("node-2", true));
        f.put("deployments", objects::deployment("default", "web", 2, 2));
        f.put(
            "events",
            objects::warning_event(
                "default",
                "api.1",
                "api-7d4b8c9f6-x2j9k",
                "BackOff",
                "Back-off restarting failed container app in pod api-7d4b8c9f6-x2j9k_default(0d3a9a52)",
                12,
            ),
        );
    }
}

fn ok(r: &Reply) -> &str {
    assert_eq!(r.kind, ReplyKind::Command, "expected success: {}", r.reply);
    assert!(r.reply.len() <= 2048, "over budget: {}", r.reply.len());
    &r.reply
}

fn failed(r: &Reply) -> &str {
    assert_eq!(r.kind, ReplyKind::Error, "expected an error: {}", r.reply);
    &r.reply
}

fn code_of(confirmation: &str) -> String {
    confirmation
        .split("/confirm ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("a confirmation code")
        .to_string()
}

#[tokio::test]
async fn get_describe_and_logs_read_the_cluster() {
    let c = Cluster::start().await;
    c.seed();
    c.fake.set_logs(
        "default",
        "api-7d4b8c9f6-x2j9k",
        "app",
        "starting\n",
        Some("boot 1\nboot 2\npanic: cannot connect to db\n"),
    );
    let bot = c.bot("").await;

    // get pods: the context's namespace only, problems first, kubectl's status words.
    let r = bot.say("viewer1", "/k get pods").await;
    let t = ok(&r);
    assert!(t.contains("prod · ns/default · 3 pods, 1 not ready"), "{t}");
    assert!(
        t.contains("web-1") && t.contains("web-2") && !t.contains("db-0"),
        "{t}"
    );
    let crash_line = t
        .lines()
        .position(|l| l.contains("CrashLoopBackOff"))
        .unwrap();
    let web_line = t.lines().position(|l| l.contains("web-1")).unwrap();
    assert!(crash_line < web_line, "{t}");
    assert!(t.contains("1/1") && t.contains("0/1"), "{t}");

    // -A: every namespace with a NAMESPACE column; -l goes to the server.
    c.fake.clear_requests();
    let r = bot.say("viewer1", "/kubectl get pods -A -l app=web").await;
    let t = ok(&r);
    assert!(
        t.contains("NAMESPACE") && t.contains("web-1") && !t.contains("db-0"),
        "{t}"
    );
    let reqs = c.fake.requests();
    let list = reqs
        .iter()
        .find(|r| r.path == "/api/v1/pods")
        .expect("a cluster-wide list");
    assert_eq!(list.param("labelSelector"), Some("app=web"));
    assert_eq!(list.header("authorization"), Some("Bearer test-token"));
    let r = bot.say("viewer1", "/k get pods -n prod -o wide").await;
    let t = ok(&r);
    assert!(
        t.contains("db-0") && t.contains("node-2") && t.contains("10.244.1.7"),
        "{t}"
    );

    // Other kinds.
    let t = ok(&bot.say("viewer1", "/k get nodes").await).to_string();
    assert!(
        t.contains("node-1")
            && t.contains("Ready")
            && t.contains("v1.33.1")
            && t.contains("worker"),
        "{t}"
    );
    let t = ok(&bot.say("viewer1", "/k get deploy").await).to_string();
    assert!(t.contains("web") && t.contains("2/2"), "{t}");
    let t = ok(&bot.say("viewer1", "/k get events").await).to_string();
    assert!(
        t.contains("BackOff") && t.contains("pod/api-7d4b8c9f6-x2j9k"),
        "{t}"
    );
    let t = ok(&bot.say("viewer1", "/k get jobs").await).to_string();
    assert!(t.contains("no resources found"), "{t}");

    // describe pod: status, restarts, last termination with exit meaning, probes, events.
    let r = bot
        .say("viewer1", "/k describe pod api-7d4b8c9f6-x2j9k")
        .await;
    let t = ok(&r);
    for want in [
        "CrashLoopBackOff",
        "Restarts: 7",
        "Last termination: Error, exit 1 (application error)",
        "Liveness: http GET :8080/healthz",
        "requests cpu 100m, memory 128Mi",
        "limits memory 256Mi",
        "node-2",
        "Ready=False (ContainersNotReady)",
        "BackOff ×12",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    let ev = c
        .fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/api/v1/namespaces/default/events")
        .expect("events listed");
    assert_eq!(
        ev.param("fieldSelector"),
        Some("involvedObject.name=api-7d4b8c9f6-x2j9k,involvedObject.kind=Pod")
    );

    // logs --previous: the crashed instance, the tail asked for.
    c.fake.clear_requests();
    let r = bot
        .say("viewer1", "/k logs api-7d4b8c9f6-x2j9k --previous --tail 2")
        .await;
    let t = ok(&r);
    assert!(t.contains("boot 2\npanic: cannot connect to db"), "{t}");
    assert!(!t.contains("boot 1"), "{t}");
    let req = &c.fake.requests()[0];
    assert_eq!(
        req.path,
        "/api/v1/namespaces/default/pods/api-7d4b8c9f6-x2j9k/log"
    );
    assert_eq!(req.param("previous"), Some("true"));
    assert_eq!(req.param("tailLines"), Some("2"));
    // No earlier instance: the kubelet's 400, said plainly.
    let r = bot.say("viewer1", "/k logs web-1 -p").await;
    let t = failed(&r);
    assert!(
        t.contains("previous terminated container \"app\" in pod \"web-1\" not found"),
        "{t}"
    );
    let r = bot.say("viewer1", "/k describe pod nope").await;
    assert!(
        failed(&r).contains("pods \"nope\" not found"),
        "{}",
        r.reply
    );

    // Contexts: `@NAME` and --context choose; an unknown one lists the configured.
    let t = ok(&bot.say("viewer1", "/k @staging get pods").await).to_string();
    assert!(t.contains("staging · ns/default"), "{t}");
    let t = ok(&bot.say("viewer1", "/k get pods --context staging").await).to_string();
    assert!(t.contains("staging ·"), "{t}");
    let r = bot.say("viewer1", "/k @qa get pods").await;
    assert!(failed(&r).contains("prod, staging"), "{}", r.reply);
    // Bad input never reaches the cluster.
    c.fake.clear_requests();
    let r = bot.say("viewer1", "/k get pods -l 'app=web,'").await;
    assert!(failed(&r).contains("label selector"), "{}", r.reply);
    let r = bot.say("viewer1", "/k get widgets").await;
    assert!(failed(&r).contains("unknown kind"), "{}", r.reply);
    assert!(c.fake.requests().is_empty());
}

#[tokio::test]
async fn scale_and_rollout_restart_send_kubectl_patches() {
    let c = Cluster::start().await;
    c.seed();
    let bot = c.bot("").await;

    let r = bot.say("viewer1", "/k scale deploy/web --replicas 5").await;
    assert!(failed(&r).contains("operator"), "{}", r.reply);

    c.fake.clear_requests();
    let r = bot.say("op1", "/k scale deploy/web --replicas 5").await;
    let t = ok(&r);
    assert!(t.contains("2 → 5"), "{t}");
    let reqs = c.fake.requests();
    let p = reqs.iter().find(|r| r.method == "PATCH").expect("a patch");
    assert_eq!(
        p.path,
        "/apis/apps/v1/namespaces/default/deployments/web/scale"
    );
    assert_eq!(
        p.header("content-type"),
        Some("application/merge-patch+json")
    );
    assert_eq!(p.json(), json!({"spec": {"replicas": 5}}));
    let d = c.fake.get("deployments", "default", "web").unwrap();
    assert_eq!(d["spec"]["replicas"], 5);

    c.fake.clear_requests();
    let r = bot.say("op1", "/k rollout restart deploy/web").await;
    ok(&r);
    let reqs = c.fake.requests();
    let p = reqs.iter().find(|r| r.method == "PATCH").expect("a patch");
    assert_eq!(p.path, "/apis/apps/v1/namespaces/default/deployments/web");
    assert_eq!(p.param("fieldManager"), Some("kubectl-rollout"));
    assert_eq!(
        p.header("content-type"),
        Some("application/strategic-merge-patch+json")
    );
    let at = p.json()["spec"]["template"]["metadata"]["annotations"]
        ["kubectl.kubernetes.io/restartedAt"]
        .as_str()
        .expect("restartedAt")
        .to_string();
    assert!(chrono::DateTime::parse_from_rfc3339(&at).is_ok(), "{at}");
    let d = c.fake.get("deployments", "default", "web").unwrap();
    assert_eq!(
        d["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        json!(at)
    );
    // Still the same template otherwise (a merge, not a replace).
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["name"],
        "app"
    );

    // rollout status reads kubectl's sentence.
    let t = ok(&bot.say("viewer1", "/k rollout status deploy/web").await).to_string();
    // The restart bumped the generation; the (absent) controller has not observed it yet.
    assert!(
        t.contains("Waiting for deployment spec update to be observed"),
        "{t}"
    );

    // Writes are audited.
    let audit = bot.admin("/audit 5").await;
    assert!(
        audit.reply.contains("k scale deploy/web --replicas 5"),
        "{}",
        audit.reply
    );

    // Read-only mode refuses before calling the cluster.
    let ro = c.bot("read_only = true").await;
    c.fake.clear_requests();
    let r = ro.say("op1", "/k rollout restart deploy/web").await;
    assert!(failed(&r).contains("read-only"), "{}", r.reply);
    assert!(c.fake.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn rollout_undo_patches_the_previous_template() {
    let c = Cluster::start().await;
    c.seed();
    let d = c.fake.get("deployments", "default", "web").unwrap();
    let uid = d["metadata"]["uid"].as_str().unwrap().to_string();
    let rs = |rev: &str, image: &str| {
        json!({
            "metadata": {"name": format!("web-{rev}"), "namespace": "default", "labels": {"app": "web"},
                "annotations": {"deployment.kubernetes.io/revision": rev, "note": format!("rev {rev}")},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": uid, "controller": true}]},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": format!("h{rev}")}},
                    "spec": {"containers": [{"name": "app", "image": image}]}}}
        })
    };
    c.fake.put("replicasets", rs("1", "registry.local/web:1.0"));
    c.fake.put("replicasets", rs("2", "registry.local/web:2.0"));
    let bot = c.bot("").await;
    c.fake.clear_requests();
    let r = bot.say("op1", "/k rollout undo deploy/web").await;
    assert!(ok(&r).contains("revision 1"), "{}", r.reply);
    let reqs = c.fake.requests();
    let p = reqs.iter().find(|r| r.method == "PATCH").expect("a patch");
    assert_eq!(
        p.header("content-type"),
        Some("application/json-patch+json")
    );
    let ops = p.json();
    assert_eq!(ops[0]["op"], "replace");
    assert_eq!(ops[0]["path"], "/spec/template");
    assert!(
        ops[0]["value"]["metadata"]["labels"]
            .get("pod-template-hash")
            .is_none()
    );
    let d = c.fake.get("deployments", "default", "web").unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/web:1.0"
    );
    assert_eq!(d["metadata"]["annotations"]["note"], "rev 1");
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "2"
    );
}

#[tokio::test]
async fn delete_pod_needs_admin_and_confirmation() {
    let c = Cluster::start().await;
    c.seed();
    let bot = c.bot("").await;
    let r = bot.say("op1", "/k delete pod web-1").await;
    assert!(failed(&r).contains("admin"), "{}", r.reply);

    let r = bot.say("admin1", "/k delete pod web-1").await;
    let t = ok(&r).to_string();
    assert!(
        t.contains("delete pod default/web-1") && t.contains("ReplicaSet/web-7d4b8c9f6"),
        "{t}"
    );
    assert!(
        c.fake.get("pods", "default", "web-1").is_some(),
        "nothing deleted before /confirm"
    );
    assert!(!c.fake.requests().iter().any(|r| r.method == "DELETE"));

    // Anything else cancels.
    bot.say("admin1", "/k get pods").await;
    let r = bot
        .say("admin1", &format!("/confirm {}", code_of(&t)))
        .await;
    failed(&r);
    assert!(c.fake.get("pods", "default", "web-1").is_some());

    let r = bot.say("admin1", "/k delete pod web-1").await;
    let code = code_of(&r.reply);
    let r = bot.say("admin1", &format!("/confirm {code}")).await;
    assert!(ok(&r).contains("web-1 deleted"), "{}", r.reply);
    assert!(c.fake.get("pods", "default", "web-1").is_none());
    let del = c
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .expect("a DELETE");
    assert_eq!(del.path, "/api/v1/namespaces/default/pods/web-1");

    // cordon is destructive too.
    let r = bot.say("admin1", "/k cordon node-1").await;
    let code = code_of(&r.reply);
    ok(&bot.say("admin1", &format!("/confirm {code}")).await);
    let n = c.fake.get("nodes", "", "node-1").unwrap();
    assert_eq!(n["spec"]["unschedulable"], true);
}

#[tokio::test]
async fn rbac_denials_and_missing_metrics_are_explained() {
    let c = Cluster::start().await;
    c.seed();
    c.fake.forbid(None, "list", "pods");
    c.fake.forbid(Some("chat-viewer"), "get", "pods/log");
    let extra = "[kubernetes.impersonate]\n\"role:viewer\" = { user = \"chat-viewer\", groups = [\"wedock-viewers\"] }\n";
    let bot = c.bot(extra).await;

    let r = bot.say("op1", "/k get pods").await;
    let t = failed(&r);
    assert!(t.contains("RBAC"), "{t}");
    assert!(
        t.contains("User \"system:serviceaccount:ops:wedock\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""),
        "{t}"
    );
    // The viewer acts as the configured identity, so the cluster's RBAC decides.
    c.fake.clear_requests();
    let r = bot.say("viewer1", "/k logs web-1").await;
    let t = failed(&r);
    assert!(
        t.contains("User \"chat-viewer\" cannot get resource \"pods/log\""),
        "{t}"
    );
    let req = &c.fake.requests()[0];
    assert_eq!(req.header("impersonate-user"), Some("chat-viewer"));
    assert_eq!(req.header("impersonate-group"), Some("wedock-viewers"));
    // The operator has no mapping: wedock's own account, allowed.
    assert_eq!(
        bot.say("op1", "/k logs web-1").await.kind,
        ReplyKind::Command
    );

    // metrics-server: not installed (plain 404), then down (plain 503, answered at once).
    let r = bot.say("op1", "/k top pods").await;
    assert!(failed(&r).contains("metrics-server"), "{}", r.reply);
    c.fake.set_metrics(Metrics::Down, vec![]);
    c.fake.clear_requests();
    let started = std::time::Instant::now();
    let r = bot.say("op1", "/k top nodes").await;
    assert!(failed(&r).contains("metrics-server"), "{}", r.reply);
    assert!(started.elapsed() < Duration::from_secs(3), "retried a 503");
    assert_eq!(
        c.fake
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/apis/metrics.k8s.io"))
            .count(),
        1
    );
    c.fake.set_metrics(
        Metrics::Up,
        vec![json!({"metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": "2025-03-01T10:00:05Z"},
            "timestamp": "2025-03-01T09:59:47Z", "window": "18.21s",
            "containers": [{"name": "app", "usage": {"cpu": "2082398n", "memory": "3795872Ki"}}]})],
    );
    let t = ok(&bot.say("op1", "/k top pods").await).to_string();
    assert!(
        t.contains("web-1") && t.contains("2m") && t.contains("3.6 GiB"),
        "{t}"
    );
}

/// Eviction POSTs the fake received for one pod.
fn evictions_of(fake: &FakeKube, ns: &str, pod: &str) -> usize {
    let path = format!("/api/v1/namespaces/{ns}/pods/{pod}/eviction");
    fake.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == path)
        .count()
}

/// Asks for a drain of node-1 as admin1 and confirms it; returns the final reply.
async fn confirmed_drain(bot: &Bot, command: &str) -> Reply {
    let r = bot.say("admin1", command).await;
    let code = code_of(ok(&r));
    bot.say("admin1", &format!("/confirm {code}")).await
}

#[tokio::test]
async fn drain_retries_pdb_refusals_until_the_budget_allows() {
    let c = Cluster::start().await;
    c.seed();
    // The budget refuses web-1 three times (another replica becoming ready meanwhile).
    c.fake.block_eviction_times("default", "web-1", 3);
    let bot = c.bot("eviction_retry_ms = 200\n").await;

    let r = bot.say("admin1", "/k drain node-1").await;
    let t = ok(&r).to_string();
    assert!(
        t.contains("evict 2 of its 2 pods") && t.contains("for up to 60 s"),
        "{t}"
    );
    assert_eq!(
        evictions_of(&c.fake, "default", "web-1"),
        0,
        "nothing before /confirm"
    );

    let r = bot
        .say("admin1", &format!("/confirm {}", code_of(&t)))
        .await;
    let t = ok(&r);
    assert!(t.contains("evicted 2, blocked by a PDB 0, failed 0"), "{t}");
    assert!(t.contains("default/web-1 evicted (attempt 4)"), "{t}");
    assert!(t.contains("default/web-2 evicted"), "{t}");
    assert!(c.fake.get("pods", "default", "web-1").is_none());
    assert!(c.fake.get("pods", "default", "web-2").is_none());
    assert_eq!(evictions_of(&c.fake, "default", "web-1"), 4);
    assert_eq!(evictions_of(&c.fake, "default", "web-2"), 1);
    // The node stays cordoned, and each retry is a real policy/v1 Eviction.
    assert_eq!(
        c.fake.get("nodes", "", "node-1").unwrap()["spec"]["unschedulable"],
        true
    );
    let last = c
        .fake
        .requests()
        .into_iter()
        .rfind(|r| r.path.ends_with("/web-1/eviction"))
        .unwrap();
    let body = last.json();
    assert_eq!(body["apiVersion"], "policy/v1");
    assert_eq!(body["kind"], "Eviction");
    assert_eq!(body["metadata"]["name"], "web-1");
}

#[tokio::test]
async fn drain_gives_up_at_the_deadline_and_names_the_budget() {
    let c = Cluster::start().await;
    c.seed();
    c.fake.block_eviction("default", "web-1");
    let bot = c.bot("eviction_retry_ms = 300\n").await;

    let r = bot.say("admin1", "/k drain node-1 --timeout 1h").await;
    assert!(failed(&r).contains("--timeout"), "{}", r.reply);

    let r = confirmed_drain(&bot, "/k drain node-1 --timeout 2s").await;
    let t = failed(&r);
    assert!(t.contains("evicted 1, blocked by a PDB 1, failed 0"), "{t}");
    assert!(
        t.contains("default/web-1: still blocked by a PodDisruptionBudget after")
            && t.contains(
                "in 2 s: The disruption budget web-pdb needs 2 healthy pods and has 2 currently"
            ),
        "{t}"
    );
    assert!(t.contains("default/web-2 evicted"), "{t}");
    assert!(t.contains("Run drain again"), "{t}");
    // Retried every 300 ms until the 2 s deadline, then stopped: the pod is still there.
    let tries = evictions_of(&c.fake, "default", "web-1");
    assert!((3..=8).contains(&tries), "{tries} eviction attempts");
    assert!(c.fake.get("pods", "default", "web-1").is_some());
    let audit = bot.say("admin1", "/audit").await;
    assert!(
        audit.reply.contains("evicted 1, blocked 1, failed 0"),
        "{}",
        audit.reply
    );
}

#[tokio::test]
async fn drain_reports_an_rbac_refusal_without_retrying() {
    let c = Cluster::start().await;
    c.seed();
    c.fake.forbid(None, "create", "pods/eviction");
    let bot = c.bot("eviction_retry_ms = 200\n").await;

    let r = confirmed_drain(&bot, "/k drain node-1").await;
    let t = failed(&r);
    assert!(t.contains("evicted 0, blocked by a PDB 0, failed 2"), "{t}");
    assert!(
        t.contains("❌ default/web-1: ⛔ The cluster refused (RBAC)")
            && t.contains(
                "User \"system:serviceaccount:ops:wedock\" cannot create resource \"pods/eviction\""
            ),
        "{t}"
    );
    assert_eq!(
        evictions_of(&c.fake, "default", "web-1"),
        1,
        "a 403 is final"
    );
    assert!(c.fake.get("pods", "default", "web-1").is_some());
}

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn crashloop_and_oom_are_alerted_once_even_after_410_relist() {
    let c = Cluster::start().await;
    let robot = FakeRobot::start().await;
    c.fake.put("nodes", objects::node("node-1", true));
    c.fake.put(
        "pods",
        objects::running_pod("default", "web-1", "web", "node-1"),
    );
    c.fake.set_logs(
        "shop",
        "api-1",
        "app",
        "",
        Some("connecting\npanic: cannot connect to db\n"),
    );
    c.fake
        .set_logs("shop", "worker-1", "app", "", Some("allocating\nkilled\n"));
    let toml = c.config(&format!(
        r#"
[api]
robot_base = "{}"

[[wecom.robots]]
name = "ops"
key = "K-kube"
format = "markdown_v2"

[alerts]
lang = "en"
log_lines = 5
"#,
        robot.base()
    ));
    let server = TestServer::start(&toml).await;
    // The watchers listed everything once before problems appear.
    assert!(
        c.fake
            .wait_request(WAIT, |r| r.path == "/api/v1/pods"
                && r.param("watch") == Some("true"))
            .await
    );
    c.fake.put(
        "pods",
        objects::crashloop_pod("shop", "api-1", "api", 7, "Error", 1),
    );
    c.fake.put(
        "pods",
        objects::crashloop_pod("shop", "worker-1", "worker", 3, "OOMKilled", 137),
    );
    let both = |p: &[crate::support::fake_robot::Post]| {
        p.iter()
            .any(|p| p.content.contains("CrashLoopBackOff") && p.content.contains("api-1/app"))
            && p.iter()
                .any(|p| p.content.contains("out of memory") && p.content.contains("worker-1/app"))
    };
    assert!(
        robot.wait_for("K-kube", WAIT, both).await,
        "{}",
        robot.text("K-kube")
    );
    let text = robot.text("K-kube");
    assert!(
        text.contains("panic: cannot connect to db"),
        "logs attached: {text}"
    );
    assert!(text.contains("exit 137"), "{text}");
    assert!(text.contains("@prod/shop"), "{text}");
    assert_eq!(robot.posts("K-kube").len(), 2, "{text}");

    // More restarts of the same problems, then the history expires: every watch gets the
    // in-stream 410 and the watchers list again. Nothing is alerted twice.
    let lists = |f: &FakeKube| {
        f.requests()
            .iter()
            .filter(|r| r.path == "/api/v1/pods" && r.param("watch").is_none())
            .count()
    };
    let lists_before = lists(&c.fake);
    c.fake.put(
        "pods",
        objects::crashloop_pod("shop", "api-1", "api", 8, "Error", 1),
    );
    c.fake.expire_history();
    let end = std::time::Instant::now() + WAIT;
    while lists(&c.fake) <= lists_before {
        assert!(std::time::Instant::now() < end, "no re-list after 410");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The watcher is live again: a new problem gets through…
    let mut pull = objects::running_pod("shop", "img-1", "img", "node-1");
    pull["status"]["phase"] = json!("Pending");
    pull["status"]["containerStatuses"][0]["ready"] = json!(false);
    pull["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "ImagePullBackOff",
        "message": "Back-off pulling image \"registry.local/img:9.9.9\""}});
    c.fake.put("pods", pull);
    assert!(
        robot
            .wait_for("K-kube", WAIT, |p| p
                .iter()
                .any(|p| p.content.contains("Image pull failing")))
            .await,
        "{}",
        robot.text("K-kube")
    );
    // …and the old ones were not sent again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let posts = robot.posts("K-kube");
    assert_eq!(posts.len(), 3, "{}", robot.text("K-kube"));
    assert_eq!(
        posts
            .iter()
            .filter(|p| p.content.contains("api-1/app"))
            .count(),
        1
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn cluster_logs_and_events_reach_chat_without_secrets() {
    let c = Cluster::start().await;
    c.seed();
    c.fake.set_logs(
        "default",
        "web-1",
        "app",
        "config loaded\nSPRING_DATASOURCE_PASSWORD=hunter2\nAuthorization: Bearer abcdef0123456789xyz\nready\n",
        None,
    );
    c.fake.put(
        "events",
        objects::warning_event(
            "default",
            "web.2",
            "web-1",
            "Failed",
            "Failed to pull image from https://bot:s3cr3tpw@registry.example.com/web",
            1,
        ),
    );
    let bot = c.bot("").await;
    let t = ok(&bot.say("viewer1", "/k logs web-1").await).to_string();
    assert!(
        !t.contains("hunter2") && !t.contains("abcdef0123456789xyz"),
        "{t}"
    );
    assert!(
        t.contains("SPRING_DATASOURCE_PASSWORD=***") && t.contains("ready"),
        "{t}"
    );
    let t = ok(&bot.say("viewer1", "/k get events").await).to_string();
    assert!(!t.contains("s3cr3tpw"), "{t}");
}
