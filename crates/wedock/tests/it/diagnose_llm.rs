//! `/diagnose` with `[llm]`: the model's explanation follows the diagnosis; with
//! `[llm] tools = true` it may call read-only tools, each run as the asker (role and scopes)
//! and audited. A call into a namespace the asker may not read is refused to the model and
//! nothing from there reaches it; at most six calls are made; a failing model costs only
//! the explanation.

use crate::kube::Cluster;
use crate::support::fake_kube::objects;
use crate::support::fake_llm_tools::{ToolLlm, Turn};
use serde_json::json;
use wedock::message::ReplyKind;

const POD: &str = "api-7d4b8c9f6-x2x9q";
const SECRET_POD: &str = "vault-unseal-0aa1";

/// A cluster with a crash-looping pod in `shop` and a pod in `vault`, and a bot whose viewer
/// may read `shop` only.
async fn setup(llm: &str) -> (Cluster, crate::docker::Bot) {
    let c = Cluster::start().await;
    let f = &c.fake;
    f.put("nodes", objects::node("node-2", true));
    f.put(
        "pods",
        objects::crashloop_pod("shop", POD, "api", 7, "Error", 1),
    );
    f.set_logs(
        "shop",
        POD,
        "app",
        "",
        Some("2026-03-02T10:00:02Z ERROR Error: connect ECONNREFUSED 10.96.0.15:5432\n"),
    );
    f.put(
        "pods",
        objects::running_pod("vault", SECRET_POD, "vault", "node-2"),
    );
    let extra = format!(
        r#"
[llm]
base_url = "{llm}"
model = "test-model"
timeout_ms = 8000
tools = true

[[identity.scopes]]
role = "viewer"
namespaces = ["shop"]
access = "read"
"#
    );
    let bot = c.bot(&extra).await;
    (c, bot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_run_as_the_asker_are_audited_and_a_forbidden_namespace_is_refused() {
    let llm = ToolLlm::start(vec![
        Turn::Tools(vec![
            (
                "kubectl_logs",
                json!({"pod": POD, "previous": true, "namespace": "shop"}),
            ),
            ("kubectl_get", json!({"kind": "pods", "namespace": "vault"})),
            // A write dressed up as a read is not a tool at all.
            ("kubectl_delete", json!({"kind": "pod", "name": POD})),
        ]),
        Turn::Say(
            "The database at 10.96.0.15:5432 refuses connections; check the postgres Service.",
        ),
    ])
    .await;
    let (c, bot) = setup(&llm.base_url).await;
    c.fake.clear_requests();
    let r = bot
        .say("viewer1", &format!("/diagnose pod/{POD} -n shop"))
        .await;
    assert_eq!(r.kind, ReplyKind::Command, "{}", r.reply);
    assert!(
        r.reply.contains("ECONNREFUSED"),
        "the diagnosis itself: {}",
        r.reply
    );
    assert!(r.reply.contains("AI reading"), "{}", r.reply);
    assert!(
        r.reply.contains("check the postgres Service"),
        "{}",
        r.reply
    );

    // The model saw the diagnosis first, was offered only reads, and got the tools' answers.
    let reqs = llm.requests();
    assert_eq!(reqs.len(), 2, "one tool round, then the answer");
    let names: Vec<String> = reqs[0]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("docker_") || n.starts_with("kubectl_"))
    );
    assert!(
        !names
            .iter()
            .any(|n| ["delete", "restart", "scale", "exec", "rollout"]
                .iter()
                .any(|w| n.contains(w))),
        "{names:?}"
    );
    assert!(
        reqs[0]["messages"][1]["content"]
            .as_str()
            .unwrap()
            .contains(POD)
    );
    let results = llm.tool_results();
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(results[0].contains("ECONNREFUSED"), "{results:?}");
    assert!(
        results[1].starts_with("refused") && results[1].contains("vault"),
        "{results:?}"
    );
    assert!(results[2].starts_with("refused"), "{results:?}");
    let everything = serde_json::to_string(&reqs).unwrap();
    assert!(
        !everything.contains(SECRET_POD),
        "nothing from the forbidden namespace reaches the model"
    );
    // The refused calls never reached the API server: only reads, none in `vault`, no
    // listing across every namespace.
    let seen: Vec<String> = c
        .fake
        .requests()
        .iter()
        .map(|q| format!("{} {}", q.method, q.path))
        .collect();
    let allowed = |q: &String| {
        let cluster_wide_pods = q.ends_with("/pods") && !q.contains("/namespaces/");
        q.starts_with("GET ") && !q.contains("/namespaces/vault/") && !cluster_wide_pods
    };
    assert!(seen.iter().all(allowed), "{seen:?}");

    // Each call is in the audit log as the viewer, with its outcome.
    let audit = bot.pipeline.app().store.audit_recent(20).await.unwrap();
    let tool_rows: Vec<(String, String, String)> = audit
        .iter()
        .filter(|e| e.command.starts_with("llm tool:"))
        .map(|e| (e.user.clone(), e.command.clone(), e.result.clone()))
        .collect();
    assert_eq!(tool_rows.len(), 3, "{tool_rows:?}");
    assert!(tool_rows.iter().all(|(u, _, _)| u == "wecom:viewer1"));
    assert!(
        tool_rows
            .iter()
            .any(|(_, c, r)| c.contains("kubectl logs") && r == "ok"),
        "{tool_rows:?}"
    );
    assert!(
        tool_rows
            .iter()
            .any(|(_, c, r)| c.contains("-n vault") && r == "refused: scope"),
        "{tool_rows:?}"
    );
    assert!(
        tool_rows
            .iter()
            .any(|(_, c, r)| c.contains("kubectl_delete") && r.starts_with("refused")),
        "{tool_rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_six_calls_then_the_model_must_answer() {
    let eight: Vec<(&'static str, serde_json::Value)> = (0..8)
        .map(|_| ("kubectl_events", json!({"namespace": "shop"})))
        .collect();
    let llm = ToolLlm::start(vec![
        Turn::Tools(eight),
        Turn::Say("Too many events to read; start with the BackOff."),
    ])
    .await;
    let (_c, bot) = setup(&llm.base_url).await;
    let r = bot
        .say("viewer1", &format!("/diagnose pod/{POD} -n shop"))
        .await;
    assert!(r.reply.contains("start with the BackOff"), "{}", r.reply);
    let reqs = llm.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1].get("tools").is_none(),
        "no tools once the budget is spent"
    );
    let results = llm.tool_results();
    assert_eq!(results.len(), 8);
    assert_eq!(
        results.iter().filter(|r| r.contains("at most 6")).count(),
        2,
        "{results:?}"
    );
    let audit = bot.pipeline.app().store.audit_recent(50).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.command.starts_with("llm tool:"))
            .count(),
        6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_model_costs_only_the_explanation() {
    // Nothing listens here.
    let dead = format!("http://127.0.0.1:{}/v1", crate::support::free_port());
    let (_c, bot) = setup(&dead).await;
    let r = bot
        .say("viewer1", &format!("/diagnose pod/{POD} -n shop"))
        .await;
    assert_eq!(r.kind, ReplyKind::Command);
    assert!(r.reply.contains("ECONNREFUSED"), "{}", r.reply);
    assert!(!r.reply.contains("AI reading"), "{}", r.reply);
}
