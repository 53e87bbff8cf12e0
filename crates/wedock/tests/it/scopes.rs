//! `[[identity.scopes]]`: out-of-scope namespaces and containers are refused like a missing
//! role and nothing changes (fake Kubernetes API, real Docker engine); listings show only what
//! is in scope; Kubernetes confirmations use `[kubernetes] confirm_timeout_secs`.

use crate::docker::{
    Bot, SERVICE, Scope, base_config, code_of, docker_ok, ensure_image, failed, ok, state,
};
use crate::kube::Cluster;
use crate::support::docker_available;
use crate::support::fake_kube::objects;
use std::time::Duration;

/// An operator who may change team-a only; an admin (by user) who may change team-a only;
/// the viewer is not scoped.
const KUBE_SCOPES: &str = r#"
[[identity.scopes]]
role = "operator"
namespaces = ["team-a*"]
access = "write"

[[identity.scopes]]
users = ["wecom:admin1"]
kube_contexts = ["prod"]
namespaces = ["team-a"]
access = "write"
"#;

async fn scoped_cluster() -> (Cluster, Bot) {
    let c = Cluster::start().await;
    c.seed();
    let f = &c.fake;
    f.put("pods", objects::running_pod("team-a", "a-1", "a", "node-1"));
    f.put("pods", objects::running_pod("team-b", "x", "b", "node-1"));
    f.put("deployments", objects::deployment("team-a", "a", 2, 2));
    f.put("deployments", objects::deployment("team-b", "b", 2, 2));
    let bot = Bot::new(&format!("{}\n{KUBE_SCOPES}", c.config(""))).await;
    for u in ["viewer1", "op1", "admin1"] {
        bot.say(u, "hello").await;
    }
    (c, bot)
}

fn writes(c: &Cluster) -> usize {
    c.fake
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count()
}

#[tokio::test]
async fn out_of_scope_namespace_is_refused_and_nothing_changes() {
    let (c, bot) = scoped_cluster().await;
    c.fake.clear_requests();
    for cmd in [
        "/k scale deploy/b --replicas 7 -n team-b",
        "/k rollout restart deploy/b -n team-b",
        "/k -n team-b rollout undo deploy/b",
        // No -n: the context's namespace (default) is out of scope too.
        "/k scale deploy/web --replicas 7",
    ] {
        let r = bot.say("op1", cmd).await;
        let t = failed(&r);
        assert!(
            t.contains("Permission denied") && t.contains("outside your scope"),
            "{cmd}: {t}"
        );
    }
    let r = bot.say("admin1", "/k delete pod x -n team-b").await;
    assert!(failed(&r).contains("outside your scope"), "{}", r.reply);
    // Cluster-wide objects need every namespace.
    let r = bot.say("admin1", "/k cordon node-1").await;
    assert!(failed(&r).contains("outside your scope"), "{}", r.reply);
    let r = bot.say("op1", "/k get nodes").await;
    assert!(failed(&r).contains("outside your scope"), "{}", r.reply);
    assert_eq!(writes(&c), 0, "{:?}", c.fake.requests());
    assert_eq!(
        c.fake.get("deployments", "team-b", "b").unwrap()["spec"]["replicas"],
        2
    );
    assert!(c.fake.get("pods", "team-b", "x").is_some());
    assert!(
        c.fake.get("nodes", "", "node-1").unwrap()["spec"]
            .get("unschedulable")
            .is_none()
    );

    // In scope works, the same way as without scopes.
    let r = bot
        .say("op1", "/k scale deploy/a --replicas 3 -n team-a")
        .await;
    assert!(ok(&r).contains("2 → 3"), "{}", r.reply);
    assert_eq!(
        c.fake.get("deployments", "team-a", "a").unwrap()["spec"]["replicas"],
        3
    );
    let r = bot.say("admin1", "/k delete pod a-1 -n team-a").await;
    let code = code_of(ok(&r));
    let r = bot.say("admin1", &format!("/confirm {code}")).await;
    assert!(ok(&r).contains("a-1 deleted"), "{}", r.reply);
    assert!(c.fake.get("pods", "team-a", "a-1").is_none());

    // A scoped admin is also refused on another context.
    let r = bot
        .say("admin1", "/k --context staging delete pod a-1 -n team-a")
        .await;
    assert!(failed(&r).contains("outside your scope"), "{}", r.reply);

    // Unscoped roles are not affected.
    let r = bot.say("viewer1", "/k get pods -n team-b").await;
    assert!(ok(&r).contains('x'), "{}", r.reply);

    // Refusals are audited.
    let audit = bot.admin("/audit 20").await;
    assert!(audit.reply.contains("refused: scope"), "{}", audit.reply);
}

#[tokio::test]
async fn listings_over_every_namespace_show_only_the_scope() {
    let (c, bot) = scoped_cluster().await;
    let r = bot.say("op1", "/k get pods -A").await;
    let t = ok(&r);
    assert!(t.contains("a-1"), "{t}");
    assert!(!t.contains("team-b") && !t.contains("web-1"), "{t}");
    let r = bot.say("op1", "/k get deploy -A").await;
    let t = ok(&r);
    assert!(t.contains("team-a") && !t.contains("team-b"), "{t}");
    // The unscoped viewer still sees everything.
    let r = bot.say("viewer1", "/k get pods -A").await;
    let t = ok(&r);
    assert!(t.contains("team-b") && t.contains("web-1"), "{t}");
    drop(c);
}

#[tokio::test]
async fn read_scope_allows_reads_but_not_writes() {
    let c = Cluster::start().await;
    c.seed();
    let scopes = r#"
[[identity.scopes]]
role = "operator"
namespaces = ["default"]
access = "read"
"#;
    let bot = Bot::new(&format!("{}\n{scopes}", c.config(""))).await;
    bot.say("op1", "hello").await;
    let r = bot.say("op1", "/k get pods").await;
    assert!(ok(&r).contains("web-1"), "{}", r.reply);
    c.fake.clear_requests();
    let r = bot.say("op1", "/k scale deploy/web --replicas 4").await;
    assert!(failed(&r).contains("outside your scope"), "{}", r.reply);
    assert_eq!(writes(&c), 0);
    assert_eq!(
        c.fake.get("deployments", "default", "web").unwrap()["spec"]["replicas"],
        2
    );
}

#[tokio::test]
async fn kube_confirmations_use_the_kubernetes_timeout() {
    let c = Cluster::start().await;
    c.seed();
    let cfg = c
        .config("confirm_timeout_secs = 1")
        .replace("[docker]\n", "[docker]\nconfirm_timeout_secs = 600\n");
    let bot = Bot::new(&cfg).await;
    bot.say("admin1", "hello").await;
    let r = bot.say("admin1", "/k delete pod web-1").await;
    let t = ok(&r).to_string();
    assert!(t.contains("within 1 s"), "{t}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = bot
        .say("admin1", &format!("/confirm {}", code_of(&t)))
        .await;
    failed(&r);
    assert!(c.fake.get("pods", "default", "web-1").is_some());

    // `wedock check` names the key.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wedock.toml");
    std::fs::write(&path, "[kubernetes]\nconfirm_timeout_secs = 0\n").unwrap();
    let e = wedock::config::Config::load(Some(&path), vec![]).unwrap_err();
    assert!(
        e.to_string().contains("kubernetes.confirm_timeout_secs")
            && e.to_string().contains("between"),
        "{e}"
    );
}

fn started_at(name: &str) -> String {
    docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", name])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_scope_container_is_refused_and_untouched() {
    if !docker_available("out_of_scope_container_is_refused_and_untouched") {
        return;
    }
    ensure_image();
    let s = Scope::new("scope");
    let api = s.run("api-1", &[], SERVICE);
    let other = s.run("other", &[], SERVICE);
    let scopes = format!(
        r#"
[[identity.scopes]]
role = "operator"
docker_hosts = ["local"]
containers = ["{}-api-*"]
access = "write"
"#,
        s.id
    );
    let bot = Bot::new(&format!("{}\n{scopes}", base_config(""))).await;
    bot.say("op1", "hello").await;
    let before = started_at(&other);

    for cmd in [
        format!("/docker restart {other}"),
        format!("/restart {other}"),
        format!("/docker kill {other}"),
        // Several names: refused before anything changes, the in-scope one included.
        format!("/docker stop {api} {other}"),
        format!("/docker logs {other}"),
    ] {
        let r = bot.say("op1", &cmd).await;
        let t = failed(&r);
        assert!(t.contains("outside your scope"), "{cmd}: {t}");
    }
    // A prefix of an out-of-scope container resolves to nothing the sender may see.
    let prefix = &other[..other.len() - 2];
    let r = bot.say("op1", &format!("/docker restart {prefix}")).await;
    failed(&r);
    // Another host is out of scope.
    let r = bot
        .say("op1", &format!("/docker @second restart {api}"))
        .await;
    assert!(failed(&r).contains("outside your scope"), "{}", r.reply);
    assert_eq!(state(&other), "running");
    assert_eq!(state(&api), "running");
    assert_eq!(
        started_at(&other),
        before,
        "out-of-scope container untouched"
    );

    // In scope works.
    let api_before = started_at(&api);
    let r = bot.say("op1", &format!("/docker restart {api}")).await;
    assert!(ok(&r).contains(&api), "{}", r.reply);
    assert_ne!(started_at(&api), api_before);

    // Listings show in-scope names only.
    let r = bot.say("op1", &format!("/docker ps {}", s.id)).await;
    let t = ok(&r);
    assert!(t.contains(&api) && !t.contains(&other), "{t}");
    let r = bot.say("op1", &format!("/ps --all-hosts {}", s.id)).await;
    let t = ok(&r);
    assert!(t.contains(&api) && !t.contains(&other), "{t}");

    let audit = bot.admin("/audit 20").await;
    assert!(audit.reply.contains("refused: scope"), "{}", audit.reply);
}
