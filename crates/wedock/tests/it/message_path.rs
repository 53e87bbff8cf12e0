//! What a message costs the store, and what that must not cost in safety. A question (no side
//! effect) costs one store write, made in a group commit after its reply; a retry of it meanwhile
//! is answered from memory. A command keeps its durable claim before it runs: a retry that
//! arrives after the process running it is gone (crash, restart, another replica) finds the
//! claim and does not run it again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use wedock::app::App;
use wedock::config::Config;
use wedock::knowledge::Knowledge;
use wedock::message::Incoming;
use wedock::pipeline::Pipeline;
use wedock::store::{DedupState, SqliteStore, Store};

struct Setup {
    app: Arc<App>,
    store: Arc<SqliteStore>,
    dir: tempfile::TempDir,
}

/// An app on a file-backed SQLite store, with `extra` TOML appended to the config.
fn setup(extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "[store]\ndata_dir = \"{}\"\n[limits]\ncommands_per_minute = 0\nanswers_per_hour = 0\n{extra}",
        dir.path().join("data").display()
    );
    let path = dir.path().join("wedock.toml");
    std::fs::write(&path, toml).unwrap();
    let config = Config::load(Some(&path), Vec::new()).expect("valid config");
    let store = Arc::new(SqliteStore::open(&config.store.data_dir).expect("store"));
    let knowledge = Arc::new(Knowledge::load(&config.knowledge).expect("knowledge"));
    let app = Arc::new(App::new(config, store.clone(), knowledge));
    Setup { app, store, dir }
}

fn msg(user: &str, id: &str, text: &str) -> Incoming {
    Incoming {
        channel: "wecom".into(),
        user: user.into(),
        chat: None,
        text: text.into(),
        msg_id: Some(id.into()),
        granted_role: None,
        role_cap: None,
    }
}

const QUESTIONS: &[&str] = &[
    "what is a docker volume",
    "怎么查看容器日志",
    "what is a kubernetes pod",
    "容器一直重启怎么办",
];

#[tokio::test]
async fn a_question_costs_one_store_write_and_a_command_two() {
    let s = setup("");
    let pipeline = Pipeline::new(s.app.clone());
    let before = s.store.writes();
    let n = 40;
    for i in 0..n {
        let m = msg(&format!("u{}", i % 7), &format!("q{i}"), QUESTIONS[i % 4]);
        let (reply, fresh) = pipeline.handle_traced(m).await;
        assert!(fresh);
        assert!(!reply.expect("an answer").reply.is_empty());
    }
    pipeline.settle().await;
    // At most one write per question: its dedup record (the first message of each user
    // also records its language in the same write), and records that queue together share
    // one write.
    let writes = s.store.writes() - before;
    assert!(
        (1..=n as u64).contains(&writes),
        "{writes} writes for {n} questions"
    );

    // Every one of them is durable: a fresh process (no memory of them) answers a retry
    // from the store, without running it.
    let restarted = Pipeline::new(s.app.clone());
    let (reply, fresh) = restarted.handle_traced(msg("u0", "q0", QUESTIONS[0])).await;
    assert!(!fresh, "a recorded question ran again");
    assert!(reply.is_some());

    // A command keeps its claim before it runs and its result after: two writes.
    let before = s.store.writes();
    let (reply, fresh) = pipeline.handle_traced(msg("u0", "c1", "/ping")).await;
    assert!(fresh && reply.is_some());
    pipeline.settle().await;
    assert_eq!(s.store.writes() - before, 2);
    let _ = &s.dir;
}

#[tokio::test]
async fn a_retry_before_the_group_commit_gets_the_same_answer_from_memory() {
    let s = setup("");
    let pipeline = Pipeline::new(s.app.clone());
    // Another connection holds the database's write lock: the question's record cannot
    // commit until it lets go.
    let db = s.dir.path().join("data").join("wedock.sqlite3");
    let blocker = rusqlite::Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let (first, fresh) = pipeline
        .handle_traced(msg("li", "r1", "what is a docker volume"))
        .await;
    assert!(fresh);
    let first = first.expect("an answer");
    for _ in 0..3 {
        let (again, fresh) = pipeline
            .handle_traced(msg("li", "r1", "what is a docker volume"))
            .await;
        assert!(!fresh, "a retry ran the question again");
        assert_eq!(again.expect("the same answer").reply, first.reply);
    }
    let peek = s
        .store
        .dedup_peek_with("wecom", "r1", Vec::new())
        .await
        .unwrap();
    assert_eq!(
        peek.0,
        DedupState::New,
        "recorded before the commit could run"
    );

    blocker.execute_batch("COMMIT").unwrap();
    pipeline.settle().await;
    let peek = s
        .store
        .dedup_peek_with("wecom", "r1", Vec::new())
        .await
        .unwrap();
    assert!(matches!(peek.0, DedupState::Done(Some(_))), "{peek:?}");
}

/// A knowledge answer is the same whenever it is given, so a question's record says "answer
/// it again" instead of carrying a copy of the answer (about 2 KB, most of what the writer
/// wrote under load): a retry after the commit, here in a fresh process, still gets it.
#[tokio::test]
async fn a_questions_record_names_its_answer_instead_of_carrying_it() {
    let s = setup("");
    let pipeline = Pipeline::new(s.app.clone());
    let mut answers = Vec::new();
    for (i, q) in QUESTIONS.iter().enumerate() {
        let (reply, fresh) = pipeline
            .handle_traced(msg("wang", &format!("k{i}"), q))
            .await;
        assert!(fresh);
        answers.push(reply.expect("an answer"));
    }
    pipeline.settle().await;
    for (i, first) in answers.iter().enumerate() {
        let id = format!("k{i}");
        let (state, _) = s
            .store
            .dedup_peek_with("wecom", &id, Vec::new())
            .await
            .unwrap();
        let DedupState::Done(Some(stored)) = state else {
            panic!("{id}: {state:?}");
        };
        assert!(
            stored.len() < 64 && first.reply.len() > 200,
            "{id}: the record carries {} bytes for a {}-byte answer",
            stored.len(),
            first.reply.len()
        );
        let restarted = Pipeline::new(s.app.clone());
        let (again, fresh) = restarted
            .handle_traced(msg("wang", &id, QUESTIONS[i]))
            .await;
        assert!(!fresh, "{id}: a recorded question counted as new");
        let again = again.expect("the answer again");
        assert_eq!(again.reply, first.reply, "{id}");
        assert_eq!(again.lang, first.lang, "{id}");
    }
    // A reply that is not the knowledge answer (here: the reply to a command) is stored whole.
    let (reply, _) = pipeline.handle_traced(msg("wang", "c9", "/ping")).await;
    pipeline.settle().await;
    let (state, _) = s
        .store
        .dedup_peek_with("wecom", "c9", Vec::new())
        .await
        .unwrap();
    let DedupState::Done(Some(stored)) = state else {
        panic!("{state:?}");
    };
    let start: String = reply.expect("pong").reply.chars().take(3).collect();
    assert!(stored.contains(&start), "{stored}");
    let _ = &s.dir;
}

/// A Docker engine that accepts connections and never answers: a command that reaches it
/// stays running.
async fn silent_engine() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            held.push(sock);
        }
    });
    (port, connections)
}

#[tokio::test]
async fn a_command_is_claimed_durably_before_it_runs_and_never_runs_twice() {
    let (port, connections) = silent_engine().await;
    let s = setup(&format!(
        "[docker]\nhosts = [{{ name = \"silent\", endpoint = \"tcp://127.0.0.1:{port}\" }}]\n\
         [identity.users]\n\"wecom:ops\" = \"operator\"\n"
    ));
    let first = Pipeline::new(s.app.clone());
    let running =
        tokio::spawn(async move { first.handle_traced(msg("ops", "w1", "/restart api")).await });
    // The command reached the engine: it is running.
    for _ in 0..500 {
        if connections.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reached = connections.load(Ordering::SeqCst);
    assert!(reached > 0, "the command never reached the engine");
    // Its claim is already in the database, seen through another connection.
    let other = SqliteStore::open(&s.dir.path().join("data")).unwrap();
    let (state, _) = other
        .dedup_peek_with("wecom", "w1", Vec::new())
        .await
        .unwrap();
    assert_eq!(state, DedupState::InProgress);

    // The process dies mid-command; the platform retries, several times at once, at a
    // process that never saw the message.
    running.abort();
    let restarted = Pipeline::new(s.app.clone());
    let retries = (0..4).map(|_| {
        let p = restarted.clone();
        async move {
            tokio::time::timeout(
                Duration::from_millis(1500),
                p.handle_traced(msg("ops", "w1", "/restart api")),
            )
            .await
        }
    });
    // Each is still waiting for the first run's result (timed out here), or was told it is
    // a duplicate.
    for (_, fresh) in futures::future::join_all(retries)
        .await
        .into_iter()
        .flatten()
    {
        assert!(!fresh, "a retry ran the command again");
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        reached,
        "a retry ran the command again"
    );
}

/// Records of questions answered at the same time are written together: one store write
/// carries many (a write per record was a fifth of the message path's CPU under load), and
/// every one of them is still durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_questions_share_their_record_writes() {
    let s = setup("");
    let pipeline = Pipeline::new(s.app.clone());
    let n = 64;
    let ask = |p: Pipeline, i: usize| async move {
        let m = msg(&format!("c{}", i % 5), &format!("cq{i}"), QUESTIONS[i % 4]);
        p.handle_traced(m).await
    };
    // Warm the answers, so the batch below is answered from memory at once.
    for (i, q) in QUESTIONS.iter().enumerate() {
        let _ = pipeline
            .handle_traced(msg("warm", &format!("w{i}"), q))
            .await;
    }
    pipeline.settle().await;
    let before = s.store.writes();
    let all = (0..n).map(|i| ask(pipeline.clone(), i));
    let out = futures::future::join_all(all).await;
    assert!(out.iter().all(|(r, fresh)| *fresh && r.is_some()));
    pipeline.settle().await;
    let writes = s.store.writes() - before;
    assert!(
        writes < n as u64,
        "{writes} writes for {n} questions: none were shared"
    );

    let restarted = Pipeline::new(s.app.clone());
    for i in 0..n {
        let (reply, fresh) = ask(restarted.clone(), i).await;
        assert!(!fresh && reply.is_some(), "question {i} was not recorded");
    }
    let _ = &s.dir;
}
