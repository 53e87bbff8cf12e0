//! Knowledge answers end to end: `wedock ask --json`, `wedock kb`, user runbooks reloaded on
//! change, and `/quiz` per user and chat through the real pipeline and SQLite store.

use crate::support::wedock_bin;
use std::process::Command;
use std::sync::Arc;
use wedock::config::{Config, KnowledgeConfig};
use wedock::identity::Role;
use wedock::knowledge::Knowledge;
use wedock::message::Incoming;
use wedock::pipeline::Pipeline;

fn wedock(args: &[&str], dir: &std::path::Path) -> serde_json::Value {
    let out = Command::new(wedock_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("WEDOCK_CONFIG")
        .output()
        .expect("run wedock");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn ask_json_answers_in_the_question_language_with_sources() {
    let dir = tempfile::tempdir().unwrap();
    let v = wedock(
        &["ask", "--json", "CMD 和 ENTRYPOINT 有什么区别"],
        dir.path(),
    );
    assert_eq!(v["kind"], "answer", "{v}");
    assert_eq!(v["matched"], true);
    assert_eq!(v["sources"][0]["id"], "docker-cmd-vs-entrypoint");
    let score = v["sources"][0]["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score), "{score}");
    let reply = v["reply"].as_str().unwrap();
    assert!(reply.starts_with("**简答：**"), "{reply}");
    assert!(
        reply.contains("📖 文档：https://docs.docker.com/"),
        "{reply}"
    );

    let v = wedock(
        &["ask", "--json", "what does exit code 137 mean"],
        dir.path(),
    );
    assert_eq!(v["matched"], true, "{v}");
    assert_eq!(v["sources"][0]["id"], "ts-exit-code-137");
    let reply = v["reply"].as_str().unwrap();
    assert!(reply.starts_with("**Short answer:**"), "{reply}");
    assert!(reply.contains("📖 Docs: https://"), "{reply}");
}

#[test]
fn ask_json_off_topic_and_greeting() {
    let dir = tempfile::tempdir().unwrap();
    let v = wedock(&["ask", "--json", "讲个笑话吧"], dir.path());
    assert_eq!(v["kind"], "unknown", "{v}");
    assert_eq!(v["matched"], false);
    assert!(v["reply"].as_str().unwrap().contains("不确定"), "{v}");
    let v = wedock(&["ask", "--json", "tell me a joke"], dir.path());
    assert_eq!(v["matched"], false, "{v}");
    assert!(v["reply"].as_str().unwrap().contains("not sure"), "{v}");
    let v = wedock(&["ask", "--json", "你好"], dir.path());
    assert_eq!(v["kind"], "answer");
    assert!(v["reply"].as_str().unwrap().contains("/quiz"), "{v}");
}

#[test]
fn kb_list_and_search() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(wedock_bin())
        .args(["kb", "list", "--json"])
        .current_dir(dir.path())
        .env_remove("WEDOCK_CONFIG")
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 80, "{} topics", lines.len());
    assert!(
        lines
            .iter()
            .all(|t| t["title_zh"].is_string() && t["title_en"].is_string()),
        "every built-in topic has both languages"
    );
    let v = wedock(&["kb", "search", "--json", "镜像", "太大"], dir.path());
    assert_eq!(v["query"], "镜像 太大");
    assert_eq!(v["hits"][0]["id"], "docker-image-size", "{v}");
}

fn user_cfg(dir: &std::path::Path) -> KnowledgeConfig {
    KnowledgeConfig {
        dirs: vec![dir.to_path_buf()],
        reload_secs: 0,
        ..KnowledgeConfig::default()
    }
}

#[test]
fn user_runbooks_are_searched_and_reloaded_and_bad_files_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("payments.md");
    std::fs::write(
        &rb,
        "# 支付网关 502 怎么处理\n\n先执行 `kubectl -n pay rollout restart deploy/gateway`，再看 grafana 的 pay 面板。\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.md"), "---\nid: [oops\n---\nbody").unwrap();
    std::fs::write(dir.path().join("binary.md"), [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let kb = Knowledge::load(&user_cfg(dir.path())).expect("bad files do not fail the load");
    let problems = kb.problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("broken.md") && p.contains("front matter")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("binary.md") && p.contains("UTF-8"))
    );
    let r = kb.answer("支付网关 502 了怎么办", wedock::i18n::Lang::Zh);
    assert!(r.matched, "{r:?}");
    assert_eq!(r.sources[0].id, "runbook:payments");
    assert!(r.reply.contains("rollout restart"), "{}", r.reply);
    // Built-in topics are still there.
    assert!(kb.topic("docker-cmd-vs-entrypoint").is_some());

    assert!(!kb.reload_if_changed(), "nothing changed");
    // A runbook with front matter, in English, added later.
    std::fs::write(
        dir.path().join("ledger.en.md"),
        "---\nid: team-ledger-lag\ntitle: Ledger consumer lag is growing\nquestions:\n  - ledger consumer is behind\ntags: [kafka, ledger]\n---\nScale the ledger consumers: `kubectl scale deploy/ledger --replicas 6`.\n",
    )
    .unwrap();
    std::fs::remove_file(&rb).unwrap();
    assert!(kb.reload_if_changed());
    let r = kb.answer("ledger consumer lag keeps growing", wedock::i18n::Lang::En);
    assert!(r.matched, "{r:?}");
    assert_eq!(r.sources[0].id, "team-ledger-lag");
    assert!(
        kb.topic("runbook:payments").is_none(),
        "deleted runbook is gone"
    );
}

#[test]
fn user_runbooks_reload_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = KnowledgeConfig {
        reload_secs: 1,
        ..user_cfg(dir.path())
    };
    let kb = Knowledge::load(&cfg).unwrap();
    let before = kb.topic_count();
    std::fs::write(
        dir.path().join("x.md"),
        "# 夜间批处理失败\n\n重跑 batch。\n",
    )
    .unwrap();
    let mut seen = false;
    for _ in 0..100 {
        if kb.topic_count() == before + 1 {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(seen, "the watcher picked up the new file");
}

#[test]
fn searches_right_after_load_wait_for_the_loader_thread() {
    // Loading runs in the background; every early caller must get the full base, not an
    // empty or half-built one.
    let kb = Arc::new(Knowledge::load(&KnowledgeConfig::default()).unwrap());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let kb = kb.clone();
            std::thread::spawn(move || {
                let hits = kb.search("what does exit code 137 mean", 3);
                (kb.topic_count(), hits.first().map(|h| h.topic.id.clone()))
            })
        })
        .collect();
    for t in threads {
        let (count, best) = t.join().unwrap();
        assert!(count >= 80, "{count} topics");
        assert_eq!(best.as_deref(), Some("ts-exit-code-137"));
    }
}

async fn pipeline() -> (Pipeline, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![(
        "WEDOCK_STORE__DATA_DIR".to_string(),
        format!("\"{}\"", dir.path().join("data").display()),
    )];
    let config = Config::load(None, env).expect("default config");
    let app = wedock::cli::build_app(config).await.expect("app");
    (Pipeline::new(Arc::clone(&app)), dir)
}

fn msg(user: &str, chat: Option<&str>, text: &str) -> Incoming {
    Incoming {
        channel: "wecom".into(),
        user: user.into(),
        chat: chat.map(str::to_string),
        text: text.into(),
        msg_id: None,
        granted_role: Some(Role::Viewer),
        role_cap: None,
    }
}

async fn say(p: &Pipeline, user: &str, chat: Option<&str>, text: &str) -> wedock::message::Reply {
    p.handle(msg(user, chat, text)).await.expect("a reply")
}

#[tokio::test]
async fn quiz_answer_is_taken_per_user_and_chat() {
    let (p, _dir) = pipeline().await;
    let q = say(&p, "alice", Some("g1"), "/quiz docker").await;
    assert!(q.reply.contains("面试题"), "{}", q.reply);
    let topic = q.sources[0].id.clone();
    assert!(topic.starts_with("docker-"), "{topic}");

    // Bob in the same group asks a question: answered normally, not graded.
    let b = say(&p, "bob", Some("g1"), "CMD 和 ENTRYPOINT 有什么区别").await;
    assert_eq!(b.sources[0].id, "docker-cmd-vs-entrypoint", "{}", b.reply);
    // Alice in a direct chat has nothing pending there.
    let d = say(&p, "alice", None, "镜像太大怎么办").await;
    assert!(!d.reply.contains("要点"), "{}", d.reply);

    // Alice answers in the group: graded against the topic's key points.
    let a = say(&p, "alice", Some("g1"), "不知道，我猜和容器有关").await;
    assert!(a.reply.contains("个要点"), "{}", a.reply);
    assert!(a.reply.contains('❌'), "{}", a.reply);
    assert!(a.reply.contains("参考答案"), "{}", a.reply);
    // The reference answer is plain text: quiz replies go to WeChat as they are.
    assert!(
        !a.reply.contains("**") && !a.reply.contains('`'),
        "{}",
        a.reply
    );
    assert_eq!(a.sources[0].id, topic);
    // The pending question is gone: the next message is a normal question again.
    let n = say(&p, "alice", Some("g1"), "what is a pod").await;
    assert_eq!(n.sources[0].id, "k8s-pod", "{}", n.reply);

    let s = say(&p, "alice", Some("g1"), "/quiz stats").await;
    assert!(s.reply.contains("1"), "{}", s.reply);
    assert!(s.reply.contains("Docker"), "{}", s.reply);
    let s = say(&p, "bob", Some("g1"), "/quiz stats").await;
    assert!(
        s.reply.contains("No answers yet") || s.reply.contains("还没有"),
        "{}",
        s.reply
    );
}

/// A pending quiz takes only what reads as an answer: questions — with a question mark, a
/// question word, or a strong match on another topic — are answered normally, the quiz keeps
/// waiting and says so, and the real answer is graded afterwards.
#[tokio::test]
async fn quiz_waits_politely_while_the_user_asks_other_questions() {
    let (p, _dir) = pipeline().await;
    let q = say(&p, "dave", Some("g2"), "/quiz docker").await;
    let topic = q.sources[0].id.clone();
    for question in [
        "k8s 的 Service 有哪几种类型？",
        "what is a pod",
        "为什么容器退出码是 137",
        "liveness 和 readiness 探针的区别",
    ] {
        let r = say(&p, "dave", Some("g2"), question).await;
        assert!(
            !r.reply.contains("个要点"),
            "{question}: graded as an answer: {}",
            r.reply
        );
        assert!(!r.reply.contains("key points"), "{question}: {}", r.reply);
        assert!(r.matched, "{question}: not answered: {}", r.reply);
        assert_ne!(r.sources[0].id, topic, "{question}");
        assert!(
            r.reply.contains("/quiz skip"),
            "{question}: no word that the quiz still waits: {}",
            r.reply
        );
    }
    let r = say(&p, "dave", Some("g2"), "k8s 的 Service 有哪几种类型？").await;
    assert_eq!(r.sources[0].id, "k8s-service-types", "{}", r.reply);
    // The answer itself is still graded against the question asked.
    let a = say(&p, "dave", Some("g2"), "不太清楚，大概和镜像分层有关").await;
    assert!(a.reply.contains("个要点"), "{}", a.reply);
    assert_eq!(a.sources[0].id, topic);
    // And then nothing waits any more.
    let n = say(&p, "dave", Some("g2"), "what is a pod").await;
    assert!(!n.reply.contains("/quiz skip"), "{}", n.reply);
}

#[tokio::test]
async fn quiz_skip_unknown_area_and_key_point_coverage() {
    let (p, _dir) = pipeline().await;
    let s = say(&p, "carol", None, "/quiz skip").await;
    assert!(
        s.reply.contains("Send /quiz") || s.reply.contains("发送 /quiz"),
        "{}",
        s.reply
    );
    let e = say(&p, "carol", None, "/quiz cooking").await;
    assert_eq!(e.kind, wedock::message::ReplyKind::Error);
    assert!(e.reply.contains("cooking"));

    let q = say(&p, "carol", None, "/quiz k8s").await;
    let topic = q.sources[0].id.clone();
    let s = say(&p, "carol", None, "/quiz skip").await;
    assert!(
        s.reply.contains("Skipped") || s.reply.contains("已跳过"),
        "{}",
        s.reply
    );

    // Answering with the topic's own key points covers all of them.
    let q = say(&p, "carol", None, "/quiz k8s").await;
    let id = q.sources[0].id.clone();
    let kb = Knowledge::load(&KnowledgeConfig::default()).unwrap();
    let t = kb.topic(&id).unwrap();
    let kps = t.variant(q.lang).keypoints.join("，");
    let a = say(&p, "carol", None, &kps).await;
    assert!(!a.reply.contains('❌'), "{} / {}", kps, a.reply);
    assert!(a.reply.contains("100%"), "{}", a.reply);
    let _ = topic;
}

#[tokio::test]
async fn quiz_asks_unseen_questions_first() {
    let (p, _dir) = pipeline().await;
    let kb = Knowledge::load(&KnowledgeConfig::default()).unwrap();
    let n = kb
        .corpus()
        .topics
        .iter()
        .filter(|t| t.quiz && t.category == "network")
        .count();
    assert!(n >= 3, "{n} network quiz topics");
    let mut seen = std::collections::HashSet::new();
    for _ in 0..n {
        let q = say(&p, "dave", None, "/quiz network").await;
        let id = q.sources[0].id.clone();
        assert!(
            seen.insert(id.clone()),
            "{id} asked twice before all were seen"
        );
        say(&p, "dave", None, "network namespace veth bridge").await;
    }
    let s = say(&p, "dave", None, "/quiz stats").await;
    assert!(s.reply.contains(&n.to_string()), "{}", s.reply);
}
