//! Read commands against real containers: listings, states flagged, budgets, and Docker's own
//! flags as people type them.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_commands_show_real_containers() {
    if !docker_available("read_commands_show_real_containers") {
        return;
    }
    ensure_image();
    let s = Scope::new("read");
    let logger = s.run(
        "logger",
        &[],
        &[
            "sh",
            "-c",
            "for i in $(seq 1 300); do echo \"line $i\"; done; sleep 1; echo 'err 300' >&2; exit 3",
        ],
    );
    let sleeper = s.run("sleeper", &["-p", "127.0.0.1::8080"], &["sleep", "600"]);
    wait_for(&logger, "{{.State.Status}}", "exited");
    let bot = Bot::new(&base_config("")).await;

    // ps: running by default, -a for all, status markers, pattern and label filter.
    let r = bot.say("viewer1", &format!("/docker ps {}", s.id)).await;
    let t = ok(&r);
    assert!(t.contains(&sleeper) && t.contains("🟢 running"), "{t}");
    assert!(!t.contains(&logger), "{t}");
    let r = bot
        .say("viewer1", &format!("/ps -a --filter label={}", s.label()))
        .await;
    let t = ok(&r);
    assert!(t.contains(&logger) && t.contains("🔴 exited(3)"), "{t}");
    assert!(t.contains("2 个容器"), "{t}");

    // logs: stdout and stderr, tail, exited container, head-truncated to the budget.
    let r = bot
        .say("viewer1", &format!("/logs {logger} --tail 4"))
        .await;
    let t = ok(&r);
    assert!(t.contains("line 300") && t.contains("err 300"), "{t}");
    assert!(!t.contains("line 296"), "{t}");
    let r = bot.say("viewer1", &format!("/docker logs {logger}")).await;
    let t = ok(&r);
    assert!(
        t.contains("最近 50 行"),
        "default tail from docker.logs_tail: {t}"
    );
    assert!(
        t.trim_end().ends_with("err 300") || t.trim_end().ends_with("line 300"),
        "{t}"
    );
    let r = bot
        .say(
            "viewer1",
            &format!("/docker logs {logger} --tail 1000 --since 10m"),
        )
        .await;
    let t = ok(&r);
    assert!(
        t.contains("行已省略") && t.contains("err 300"),
        "tail-truncated: {t}"
    );
    let r = bot
        .say(
            "viewer1",
            &format!("/docker logs {logger} --since yesterday-ish"),
        )
        .await;
    assert!(failed(&r).contains("参数无效"));

    // inspect: exit code, OOMKilled, ports, human times.
    let r = bot
        .say("viewer1", &format!("/docker inspect {logger}"))
        .await;
    let t = ok(&r);
    assert!(
        t.contains("退出码: 3") && t.contains("OOMKilled: 否"),
        "{t}"
    );
    assert!(
        t.contains(IMAGE) && t.contains("创建: ") && t.contains("结束: "),
        "{t}"
    );
    let r = bot
        .say("viewer1", &format!("/docker inspect {sleeper}"))
        .await;
    let t = ok(&r);
    assert!(t.contains("→8080/tcp") && t.contains("网络: bridge"), "{t}");

    // Names: unique prefix, id prefix, typo suggestion, ambiguity, bad characters.
    let id = docker_ok(&["inspect", "-f", "{{.Id}}", &sleeper]);
    let r = bot
        .say("viewer1", &format!("/docker inspect {}", &id[..10]))
        .await;
    assert!(ok(&r).contains(&sleeper));
    let r = bot
        .say("viewer1", &format!("/docker inspect {}-sleep", s.id))
        .await;
    assert!(ok(&r).contains(&sleeper));
    let typo = format!("{}-sleepr", s.id);
    let r = bot.say("viewer1", &format!("/docker inspect {typo}")).await;
    let t = failed(&r);
    assert!(t.contains("找不到") && t.contains(&sleeper), "{t}");
    let r = bot.say("viewer1", &format!("/docker logs {}", s.id)).await;
    let t = failed(&r);
    assert!(
        t.contains("多个容器") && t.contains(&logger) && t.contains(&sleeper),
        "{t}"
    );
    let r = bot.say("viewer1", "/docker logs 'a;rm -rf /'").await;
    assert!(failed(&r).contains("参数无效"));

    // stats, top, images, networks, volumes, df, info, version, events.
    let r = bot
        .say("viewer1", &format!("/docker stats {sleeper}"))
        .await;
    let t = ok(&r);
    assert!(
        t.contains(&sleeper) && t.contains('%') && t.contains("iB/"),
        "{t}"
    );
    let r = bot.say("viewer1", &format!("/docker top {sleeper}")).await;
    assert!(ok(&r).contains("sleep 600"));
    let r = bot.say("viewer1", "/docker images").await;
    assert!(ok(&r).contains("wedock-test/busybox:latest"));
    let r = bot.say("viewer1", "/docker networks").await;
    assert!(ok(&r).contains("bridge"));
    let r = bot.say("viewer1", "/docker volumes").await;
    assert!(ok(&r).contains("💾 local"));
    let r = bot.say("viewer1", "/docker df").await;
    assert!(ok(&r).contains("可回收"));
    let r = bot.say("viewer1", "/docker info").await;
    assert!(ok(&r).contains("引擎版本"));
    let r = bot.say("viewer1", "/docker version").await;
    let t = ok(&r);
    assert!(t.contains("协商使用的 API: 1."), "{t}");
    let r = bot.say("viewer1", "/docker events --since 10m").await;
    let t = ok(&r);
    assert!(
        t.contains(&logger) && t.contains("die") && t.contains("(exit 3)"),
        "{t}"
    );

    // English follows the user's language.
    bot.say("viewer1", "hello there").await;
    let r = bot
        .say("viewer1", &format!("/docker inspect {logger}"))
        .await;
    assert!(ok(&r).contains("Exit code: 3"));
    let r = bot.say("viewer1", &format!("/docker inspect {typo}")).await;
    assert!(failed(&r).contains("Did you mean"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oom_killed_and_unhealthy_containers_are_flagged() {
    if !docker_available("oom_killed_and_unhealthy_containers_are_flagged") {
        return;
    }
    ensure_image();
    let s = Scope::new("health");
    let oom = s.run(
        "oom",
        &["-m", "8m", "--memory-swap", "8m"],
        &[
            "sh",
            "-c",
            "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done",
        ],
    );
    let sick = s.run(
        "sick",
        &[
            "--health-cmd",
            "false",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        &["sleep", "600"],
    );
    wait_for(&oom, "{{.State.Status}}", "exited");
    wait_for(&sick, "{{.State.Health.Status}}", "unhealthy");
    let bot = Bot::new(&base_config("")).await;
    let r = bot.say("viewer1", &format!("/docker inspect {oom}")).await;
    let t = ok(&r);
    assert!(
        t.contains("OOMKilled: 是") && t.contains("退出码: 137"),
        "{t}"
    );
    assert!(t.contains("🔴 exited(137)"), "{t}");
    let r = bot.say("viewer1", &format!("/docker ps -a {}", s.id)).await;
    let t = ok(&r);
    assert!(
        t.contains("🟡 unhealthy") && t.contains("🔴 exited(137)"),
        "{t}"
    );
    let r = bot.say("viewer1", &format!("/docker inspect {sick}")).await;
    let t = ok(&r);
    assert!(
        t.contains("健康: unhealthy") && t.contains("🟡 unhealthy"),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lists_stay_within_budget() {
    if !docker_available("long_lists_stay_within_budget") {
        return;
    }
    ensure_image();
    let s = Scope::new("many");
    let label = s.label();
    for i in 0..45 {
        let name = s.name(&format!("c{i:02}"));
        docker_ok(&["create", "--name", &name, "--label", &label, IMAGE, "true"]);
    }
    let bot = Bot::new(&base_config("")).await;
    let r = bot
        .say("viewer1", &format!("/docker ps -a --filter label={label}"))
        .await;
    let t = ok(&r);
    assert!(t.contains("45 个容器") && t.contains("⚪ created"), "{t}");
    let more = t.lines().last().unwrap_or("");
    assert!(more.starts_with("… 还有"), "{t}");
    // Columns line up by display width.
    let widths: Vec<usize> = t
        .lines()
        .skip(2)
        .filter(|l| l.contains("⚪"))
        .map(|l| unicode_width::UnicodeWidthStr::width(&l[..l.find('⚪').unwrap_or(0)]))
        .collect();
    assert!(widths.windows(2).all(|w| w[0] == w[1]), "{widths:?}");
}

/// Docker's own flags work as people type them: `stop/restart -t`, `logs --timestamps`,
/// `--until`, `ps -n`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_cli_flags_work_as_typed() {
    if !docker_available("docker_cli_flags_work_as_typed") {
        return;
    }
    ensure_image();
    let s = Scope::new("flags");
    // A process that ignores SIGTERM: only the grace period decides how long stop takes.
    let stubborn = s.run(
        "stubborn",
        &[],
        &[
            "sh",
            "-c",
            "trap '' TERM; echo ready; while true; do sleep 1; done",
        ],
    );
    let bot = Bot::new(&base_config("")).await;
    wait_for(&stubborn, "{{.State.Status}}", "running");

    let r = bot
        .say("op1", &format!("/docker stop -t 0 {stubborn}"))
        .await;
    assert!(
        ok(&r).contains(&format!("✅ stop {stubborn}")),
        "{}",
        r.reply
    );
    assert_eq!(state(&stubborn), "exited");
    let code = docker_ok(&["inspect", "-f", "{{.State.ExitCode}}", &stubborn]);
    assert_eq!(code.trim(), "137", "killed after a grace period of 0 s");
    let r = bot.say("op1", &format!("/docker start {stubborn}")).await;
    ok(&r);
    let r = bot
        .say("op1", &format!("/docker restart --time 0 {stubborn}"))
        .await;
    ok(&r);
    assert_eq!(state(&stubborn), "running");

    let r = bot
        .say("viewer1", &format!("/docker logs --timestamps {stubborn}"))
        .await;
    let t = ok(&r);
    // Engine timestamps are RFC 3339 with nanoseconds: 2026-12-06T08:00:00.123456789Z ready
    assert!(
        t.lines().any(|l| l.contains("Z ready") && l.contains('T')),
        "{t}"
    );
    let r = bot
        .say("viewer1", &format!("/docker logs --until 1h {stubborn}"))
        .await;
    assert!(
        !ok(&r).contains("ready"),
        "nothing is an hour old: {}",
        r.reply
    );

    let other = s.run("other", &[], SERVICE);
    wait_for(&other, "{{.State.Status}}", "running");
    // Other tests make containers at the same time: look only at this test's label.
    let r = bot
        .say(
            "viewer1",
            &format!("/docker ps -n 1 -f label={}", s.label()),
        )
        .await;
    let t = ok(&r);
    assert!(t.contains(&other) && !t.contains(&stubborn), "{t}");
}
