//! Changes: roles and the audit log, read-only mode, compose order, prune after confirmation, the
//! exec allowlist.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_roles_and_are_audited() {
    if !docker_available("writes_need_roles_and_are_audited") {
        return;
    }
    ensure_image();
    let s = Scope::new("write");
    let app = s.run("app", &[], SERVICE);
    let bot = Bot::new(&base_config("")).await;

    let r = bot.say("viewer1", &format!("/docker stop {app}")).await;
    let t = failed(&r);
    assert!(t.contains("需要 operator") && t.contains("viewer"), "{t}");
    assert_eq!(state(&app), "running");

    let r = bot.say("op1", &format!("/docker stop {app}")).await;
    assert!(ok(&r).contains(&format!("✅ stop {app}")));
    assert_eq!(state(&app), "exited");
    let r = bot.say("op1", &format!("/docker start {app}")).await;
    ok(&r);
    assert_eq!(state(&app), "running");
    let before = docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", &app]);
    let r = bot.say("op1", &format!("/restart {app}")).await;
    ok(&r);
    let after = docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", &app]);
    assert_ne!(before, after, "restart restarts");
    let r = bot.say("op1", &format!("/docker pause {app}")).await;
    ok(&r);
    let r = bot.say("viewer1", &format!("/ps {}", s.id)).await;
    assert!(ok(&r).contains("⏸ paused"));
    let r = bot.say("op1", &format!("/docker unpause {app}")).await;
    ok(&r);
    assert_eq!(state(&app), "running");
    let r = bot
        .say("op1", &format!("/docker kill -s bogus {app}"))
        .await;
    assert!(failed(&r).contains("unknown signal"));
    let r = bot.say("op1", &format!("/docker kill -s TERM {app}")).await;
    ok(&r);
    wait_for(&app, "{{.State.Status}}", "exited");
    // Wrong state is the engine's refusal, said plainly.
    let r = bot.say("op1", &format!("/docker pause {app}")).await;
    assert!(failed(&r).contains("Docker 拒绝了操作"));

    // Destructive: operator refused; admin asked to confirm; anything else cancels.
    let r = bot.say("op1", &format!("/docker rm {app}")).await;
    assert!(failed(&r).contains("需要 admin"));
    let r = bot.say("admin1", &format!("/docker rm {app}")).await;
    let t = ok(&r).to_string();
    assert!(t.contains("/confirm") && t.contains(&app), "{t}");
    bot.say("admin1", "/docker ps").await;
    let r = bot
        .say("admin1", &format!("/confirm {}", code_of(&t)))
        .await;
    assert!(failed(&r).contains("没有待确认"));
    assert!(exists(&app), "cancelled rm must not remove");
    let r = bot.say("admin1", &format!("/docker rm {app}")).await;
    let code = code_of(ok(&r));
    let r = bot.say("admin1", &format!("/confirm {code}")).await;
    assert!(ok(&r).contains(&format!("✅ rm {app}")));
    assert!(!exists(&app));

    // The audit log holds every write with user, host and target.
    let r = bot.say("admin1", "/audit 20").await;
    let t = ok(&r);
    for verb in ["stop", "start", "restart", "pause", "unpause", "kill", "rm"] {
        let found = t.lines().any(|l| {
            (l.contains(&format!("/docker {verb} ")) || l.contains(&format!("/{verb} ")))
                && l.contains(&app)
        });
        assert!(found, "{verb}: {t}");
    }
    assert!(
        t.contains("wecom:op1 [operator]") && t.contains("@local"),
        "{t}"
    );
    assert!(t.contains("wecom:admin1 [admin]"), "{t}");
    let r = bot.say("viewer1", "/audit").await;
    assert!(failed(&r).contains("需要 admin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_every_write() {
    if !docker_available("read_only_refuses_every_write") {
        return;
    }
    ensure_image();
    let s = Scope::new("ro");
    let app = s.run("app", &[], SERVICE);
    for cfg in [
        format!("read_only = true\n{}", base_config("")),
        base_config("read_only = true"),
    ] {
        let bot = Bot::new(&cfg).await;
        for cmd in [
            format!("/docker stop {app}"),
            format!("/restart {app}"),
            format!("/docker rm -f {app}"),
            "/docker prune containers".to_string(),
            format!("/docker compose stop {}", s.id),
        ] {
            let r = bot.say("admin1", &cmd).await;
            assert!(failed(&r).contains("只读模式"), "{cmd}: {}", r.reply);
        }
        assert_eq!(state(&app), "running");
        let r = bot.say("viewer1", &format!("/ps {}", s.id)).await;
        assert!(ok(&r).contains(&app), "reads still work");
        let r = bot.say("admin1", "/audit 5").await;
        assert!(ok(&r).contains("refused: read-only"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_projects_in_dependency_order() {
    if !docker_available("compose_projects_in_dependency_order") {
        return;
    }
    ensure_image();
    let s = Scope::new("compose");
    let project = s.id.to_lowercase();
    let labels = |svc: &str, deps: &str| {
        let mut v = vec![
            format!("com.docker.compose.project={project}"),
            format!("com.docker.compose.service={svc}"),
        ];
        if !deps.is_empty() {
            v.push(format!("com.docker.compose.depends_on={deps}"));
        }
        v
    };
    // Created in the order web, api, db: only the labels give the right order.
    for (svc, deps) in [
        ("web", "api:service_started:false"),
        ("api", "db:service_started:false"),
        ("db", ""),
    ] {
        let ls = labels(svc, deps);
        let mut extra = Vec::new();
        for l in &ls {
            extra.push("--label");
            extra.push(l.as_str());
        }
        s.run(svc, &extra, SERVICE);
    }
    let bot = Bot::new(&base_config("")).await;
    let r = bot.say("viewer1", "/docker compose ls").await;
    let t = ok(&r);
    assert!(t.contains(&project) && t.contains("🟢 3/3"), "{t}");
    let r = bot
        .say("viewer1", &format!("/docker compose ps {project}"))
        .await;
    let t = ok(&r);
    assert!(
        t.contains("web") && t.contains("api") && t.contains("db"),
        "{t}"
    );

    let pos = |t: &str, what: &str| t.find(what).unwrap_or_else(|| panic!("{what} in {t}"));
    let r = bot
        .say("op1", &format!("/docker compose stop {project}"))
        .await;
    let t = ok(&r).to_string();
    assert!(pos(&t, &s.name("web")) < pos(&t, &s.name("api")));
    assert!(pos(&t, &s.name("api")) < pos(&t, &s.name("db")));
    assert_eq!(state(&s.name("db")), "exited");
    let r = bot.say("viewer1", "/docker compose ls").await;
    assert!(ok(&r).contains("🔴 0/3"));
    let r = bot
        .say("op1", &format!("/docker compose start {project}"))
        .await;
    let t = ok(&r).to_string();
    assert!(pos(&t, &s.name("db")) < pos(&t, &s.name("api")));
    assert!(pos(&t, &s.name("api")) < pos(&t, &s.name("web")));
    assert_eq!(state(&s.name("web")), "running");
    let r = bot
        .say("op1", &format!("/docker compose restart {project}"))
        .await;
    let t = ok(&r);
    assert_eq!(t.matches("✅").count(), 6, "{t}");
    let r = bot
        .say("viewer1", &format!("/docker compose restart {project}"))
        .await;
    assert!(failed(&r).contains("需要 operator"));
    let r = bot
        .say("viewer1", "/docker compose ps no-such-project")
        .await;
    let t = failed(&r);
    assert!(
        t.contains("找不到 Compose 项目") && t.contains(&project),
        "{t}"
    );
    let r = bot.say("admin1", "/audit 3").await;
    assert!(ok(&r).contains(&format!("compose restart {project}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_shows_what_goes_then_removes_after_confirmation() {
    if !docker_available("prune_shows_what_goes_then_removes_after_confirmation") {
        return;
    }
    ensure_image();
    let s = Scope::new("prune");
    let a = s.run("a", &[], &["sh", "-c", "echo bye; exit 1"]);
    let b = s.run("b", &[], &["true"]);
    let keep = s.run("keep", &[], &["sleep", "600"]);
    wait_for(&a, "{{.State.Status}}", "exited");
    wait_for(&b, "{{.State.Status}}", "exited");
    let bot = Bot::new(&base_config("")).await;
    let cmd = format!("/docker prune containers --filter label={}", s.label());
    let r = bot.say("op1", &cmd).await;
    assert!(failed(&r).contains("需要 admin"));
    let r = bot.say("admin1", &cmd).await;
    let t = ok(&r).to_string();
    assert!(
        t.contains("清理 2 个已停止容器") && t.contains(&a) && t.contains(&b),
        "{t}"
    );
    assert!(t.contains("预计释放") && !t.contains(&keep), "{t}");
    let r = bot
        .say("admin1", &format!("/confirm {}", code_of(&t)))
        .await;
    assert!(ok(&r).contains("已删除 2 个"));
    assert!(!exists(&a) && !exists(&b) && exists(&keep));
    let r = bot.say("admin1", &cmd).await;
    assert!(ok(&r).contains("没有可清理"));
    let r = bot
        .say("admin1", "/docker prune containers --filter bogus=1")
        .await;
    assert!(failed(&r).contains("参数无效"));
    let r = bot
        .say(
            "admin1",
            "/docker prune images --filter label=wedock.none=1",
        )
        .await;
    assert!(ok(&r).contains("没有可清理的悬空镜像"));
    let r = bot.say("admin1", "/audit 2").await;
    assert!(ok(&r).contains("ok: 2 removed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_only_allowlisted_argv() {
    if !docker_available("exec_runs_only_allowlisted_argv") {
        return;
    }
    ensure_image();
    let s = Scope::new("exec");
    let app = s.run(
        "app",
        &["--hostname", "wedock-exec-test"],
        &["sleep", "600"],
    );
    let off = Bot::new(&base_config("")).await;
    let r = off
        .say("op1", &format!("/docker exec {app} cat /etc/hostname"))
        .await;
    assert!(failed(&r).contains("exec 未启用"));

    let on = Bot::new(&base_config(
        "exec_enabled = true\nexec_allowlist = [\"cat /etc/hostname\", \"sh -c 'echo out; echo err >&2; exit 3'\"]",
    ))
    .await;
    let r = on
        .say("op1", &format!("/docker exec {app} cat /etc/hostname"))
        .await;
    let t = ok(&r);
    assert!(
        t.contains("wedock-exec-test") && t.contains("exit 0"),
        "{t}"
    );
    let r = on
        .say(
            "op1",
            &format!("/docker exec {app} sh -c 'echo out; echo err >&2; exit 3'"),
        )
        .await;
    let t = failed(&r);
    assert!(
        t.contains("out") && t.contains("err") && t.contains("exit 3"),
        "{t}"
    );
    // Extra words, or shell syntax smuggled in, do not match the allowlist.
    let r = on
        .say(
            "op1",
            &format!("/docker exec {app} cat /etc/hostname /etc/shadow"),
        )
        .await;
    assert!(failed(&r).contains("exec_allowlist"));
    let r = on
        .say(
            "op1",
            &format!("/docker exec {app} 'cat /etc/hostname; id'"),
        )
        .await;
    assert!(failed(&r).contains("exec_allowlist"));
    let r = on
        .say("viewer1", &format!("/docker exec {app} cat /etc/hostname"))
        .await;
    assert!(failed(&r).contains("需要 operator"));
    let r = on.say("admin1", "/audit 5").await;
    let t = ok(&r);
    assert!(
        t.contains("exit 0") && t.contains("refused: not allowlisted"),
        "{t}"
    );
}
