//! Docker ChatOps against the real engine, through the same path chat messages take
//! (`Pipeline::handle` with an `Incoming`), so roles, confirmations and the audit log are
//! exercised. Containers run a locally built busybox image (no registry needed) and carry a
//! unique label; a guard removes them even when a test fails.

use crate::support::docker_available;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wedock::config::Config;
use wedock::identity::Role;
use wedock::message::{Incoming, Reply, ReplyKind};
use wedock::pipeline::Pipeline;

pub const IMAGE: &str = "wedock-test/busybox:latest";

/// A long-running process that stops promptly on SIGTERM (a bare `sleep` as PID 1 ignores
/// it, so `stop` would wait its full grace period).
pub const SERVICE: &[&str] = &[
    "sh",
    "-c",
    "trap 'exit 0' TERM; while true; do sleep 1; done",
];

/// Builds the test image once per process (idempotent: reuses an existing one).
pub fn ensure_image() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        if docker(&["image", "inspect", IMAGE]).status.success() {
            return;
        }
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .expect("a static busybox is needed to build the test image: apt-get install busybox-static");
        let ctx = tempfile::tempdir().expect("tempdir");
        let dockerfile = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/images/busybox/Dockerfile");
        std::fs::copy(&dockerfile, ctx.path().join("Dockerfile")).expect("copy Dockerfile");
        std::fs::copy(&busybox, ctx.path().join("busybox")).expect("copy busybox");
        let out = docker(&["build", "-q", "-t", IMAGE, &ctx.path().display().to_string()]);
        assert!(
            out.status.success(),
            "building {IMAGE} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Unique names and a label for one test; removes every labelled container on drop.
pub struct Scope {
    pub id: String,
}

impl Scope {
    pub fn new(test: &str) -> Scope {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "wdt{}{}{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            test.chars().take(6).collect::<String>()
        );
        Scope { id }
    }

    pub fn name(&self, short: &str) -> String {
        format!("{}-{short}", self.id)
    }

    pub fn label(&self) -> String {
        format!("wedock.test={}", self.id)
    }

    /// `docker run -d` with the scope's label; `extra` goes before the image, `cmd` after.
    pub fn run(&self, short: &str, extra: &[&str], cmd: &[&str]) -> String {
        let name = self.name(short);
        let label = self.label();
        let mut args = vec!["run", "-d", "--name", &name, "--label", &label];
        args.extend_from_slice(extra);
        args.push(IMAGE);
        args.extend_from_slice(cmd);
        docker_ok(&args);
        name
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let ids = docker(&["ps", "-aq", "--filter", &format!("label={}", self.label())]);
        let ids = String::from_utf8_lossy(&ids.stdout).to_string();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            let _ = docker(&args);
        }
    }
}

/// Polls `docker inspect -f FORMAT` until it prints `want` (up to 60 s).
pub fn wait_for(name: &str, format: &str, want: &str) {
    for _ in 0..600 {
        let out = docker(&["inspect", "-f", format, name]);
        if String::from_utf8_lossy(&out.stdout).trim() == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{name}: {format} never became {want}");
}

// These tests fire dozens of commands a minute from one user: the per-identity limit is
// tested on its own (security_output.rs), here it would only get in the way.
const USERS: &str = r#"
[limits]
commands_per_minute = 0

[identity.users]
"wecom:viewer1" = "viewer"
"wecom:op1" = "operator"
"wecom:admin1" = "admin"
"#;

pub fn base_config(extra_docker: &str) -> String {
    format!(
        r#"
[docker]
logs_tail = 50
{extra_docker}

[[docker.hosts]]
name = "local"
endpoint = "unix:///var/run/docker.sock"

[[docker.hosts]]
name = "second"
endpoint = "unix:///var/run/docker.sock"

[[docker.hosts]]
name = "down"
endpoint = "unix:///nonexistent/docker.sock"
{USERS}
"#
    )
}

/// A wedock pipeline over `toml`, with its data in a temp dir.
pub struct Bot {
    pub pipeline: Pipeline,
    _dir: tempfile::TempDir,
}

impl Bot {
    pub async fn new(toml: &str) -> Bot {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wedock.toml");
        std::fs::write(&path, toml).expect("write config");
        let env = vec![(
            "WEDOCK_STORE__DATA_DIR".to_string(),
            format!("\"{}\"", dir.path().join("data").display()),
        )];
        let config = Config::load(Some(&path), env).expect("valid config");
        let app = wedock::cli::build_app(config).await.expect("app");
        Bot {
            pipeline: Pipeline::new(Arc::clone(&app)),
            _dir: dir,
        }
    }

    /// Sends as a WeCom user whose role comes from `[identity.users]`.
    pub async fn say(&self, user: &str, text: &str) -> Reply {
        let msg = Incoming {
            channel: "wecom".into(),
            user: user.into(),
            chat: None,
            text: text.into(),
            msg_id: None,
            granted_role: None,
            role_cap: None,
        };
        self.pipeline.handle(msg).await.expect("a reply")
    }

    /// Sends as the local admin (console / CLI).
    pub async fn admin(&self, text: &str) -> Reply {
        let msg = Incoming::local("console", "local:admin", Role::Admin, text);
        self.pipeline.handle(msg).await.expect("a reply")
    }
}

pub fn ok(r: &Reply) -> &str {
    assert_eq!(r.kind, ReplyKind::Command, "expected success: {}", r.reply);
    assert!(r.reply.len() <= 2048, "over budget: {}", r.reply.len());
    &r.reply
}

pub fn failed(r: &Reply) -> &str {
    assert_eq!(r.kind, ReplyKind::Error, "expected an error: {}", r.reply);
    &r.reply
}

pub fn code_of(confirmation: &str) -> String {
    confirmation
        .split("/confirm ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("a confirmation code")
        .to_string()
}

fn exists(name: &str) -> bool {
    docker(&["inspect", name]).status.success()
}

pub fn state(name: &str) -> String {
    docker_ok(&["inspect", "-f", "{{.State.Status}}", name])
}

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
async fn several_engines_and_unreachable_ones() {
    if !docker_available("several_engines_and_unreachable_ones") {
        return;
    }
    ensure_image();
    let s = Scope::new("hosts");
    let app = s.run("app", &[], SERVICE);
    let bot = Bot::new(&base_config("")).await;
    let r = bot
        .say("viewer1", &format!("/docker @second ps {}", s.id))
        .await;
    let t = ok(&r);
    assert!(t.starts_with("🐳 second") && t.contains(&app), "{t}");
    let r = bot.say("viewer1", &format!("/@second ps {}", s.id)).await;
    assert!(ok(&r).starts_with("🐳 second"));
    let r = bot
        .say("viewer1", &format!("/docker logs --host second {app}"))
        .await;
    ok(&r);
    let r = bot
        .say("viewer1", &format!("/docker ps --all-hosts {}", s.id))
        .await;
    let t = ok(&r);
    assert!(
        t.contains("local") && t.contains("second") && t.contains("⚠️ down"),
        "{t}"
    );
    assert_eq!(t.matches(&app).count(), 2, "{t}");

    let r = bot
        .say("op1", &format!("/docker @second restart {app}"))
        .await;
    ok(&r);
    let r = bot.say("admin1", "/audit 1").await;
    assert!(ok(&r).contains("@second"));

    let r = bot.say("viewer1", "/docker @down ps").await;
    let t = failed(&r);
    assert!(
        t.contains("未连接 Docker 引擎") && t.contains("no Docker engine"),
        "{t}"
    );
    let r = bot.say("viewer1", "/docker @nowhere ps").await;
    assert!(failed(&r).contains("没有名为 nowhere"));
    let r = bot.say("viewer1", "/ping").await;
    assert!(ok(&r).contains("pong"), "the bot keeps running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_missing_entirely_is_reported_not_fatal() {
    let bot = Bot::new(&format!(
        "[[docker.hosts]]\nname = \"local\"\nendpoint = \"unix:///nonexistent/docker.sock\"\n{USERS}"
    ))
    .await;
    bot.say("viewer1", "hello").await;
    let r = bot.say("viewer1", "/docker ps").await;
    assert!(failed(&r).contains("No Docker engine available"));
    let r = bot.say("viewer1", "/logs api").await;
    assert!(failed(&r).contains("No Docker engine available"));
    let bot = Bot::new("[docker]\nenabled = false\n").await;
    let r = bot.admin("/docker ps").await;
    assert!(failed(&r).contains("docker.enabled = false"));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_chat_runs_docker_commands() {
    if !docker_available("console_chat_runs_docker_commands") {
        return;
    }
    ensure_image();
    let s = Scope::new("console");
    let app = s.run("app", &[], SERVICE);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = crate::support::TestServer::start(&base_config("")).await;
    let v = server.chat(&format!("/docker ps {}", s.id)).await;
    assert_eq!(v["kind"], "command", "{v}");
    let text = v["reply"].as_str().unwrap_or_default();
    assert!(text.contains(&app) && text.contains("🟢 running"), "{text}");
    // The console acts as the local admin: a destructive command asks for confirmation.
    let v = server.chat(&format!("/docker rm -f {app}")).await;
    let text = v["reply"].as_str().unwrap_or_default().to_string();
    assert!(text.contains("/confirm"), "{text}");
    let v = server.chat(&format!("/confirm {}", code_of(&text))).await;
    assert!(
        v["reply"].as_str().unwrap_or_default().contains("✅ rm"),
        "{v}"
    );
    assert!(!exists(&app));
    server.stop().await.expect("clean stop");
}

/// A plain TCP endpoint for the local engine: each connection is piped to the socket, so the
/// `tcp://` client path talks to a real engine.
async fn tcp_proxy_to_socket() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut unix) = tokio::net::UnixStream::connect("/var/run/docker.sock").await
                {
                    let _ = tokio::io::copy_bidirectional(&mut tcp, &mut unix).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_endpoint_is_a_second_engine() {
    if !docker_available("tcp_endpoint_is_a_second_engine") {
        return;
    }
    ensure_image();
    let s = Scope::new("tcp");
    let app = s.run("app", &[], SERVICE);
    let addr = tcp_proxy_to_socket().await;
    let cfg = format!(
        "[[docker.hosts]]\nname = \"sock\"\nendpoint = \"unix:///var/run/docker.sock\"\n\n\
         [[docker.hosts]]\nname = \"remote\"\nendpoint = \"tcp://{addr}\"\n{USERS}"
    );
    let bot = Bot::new(&cfg).await;
    let r = bot.say("viewer1", "/docker @remote version").await;
    let t = ok(&r);
    assert!(
        t.starts_with("🐳 remote") && t.contains("协商使用的 API: 1."),
        "{t}"
    );
    let r = bot
        .say("viewer1", &format!("/docker ps --host remote {}", s.id))
        .await;
    assert!(ok(&r).contains(&app));
    let before = docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", &app]);
    let r = bot.say("op1", &format!("/restart @remote {app}")).await;
    ok(&r);
    let after = docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", &app]);
    assert_ne!(before, after);
    let r = bot
        .say("viewer1", &format!("/ps --all-hosts {}", s.id))
        .await;
    let t = ok(&r);
    assert!(t.contains("sock") && t.contains("remote"), "{t}");
    let r = bot.say("admin1", "/audit 1").await;
    assert!(ok(&r).contains("@remote"));
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
