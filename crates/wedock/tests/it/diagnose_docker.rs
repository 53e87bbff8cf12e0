//! `/diagnose` against the real engine: one container broken each way the catalogue knows
//! (OOM, a missing command, an ARM64 entrypoint, a taken host port, a failing health check,
//! a restart loop, a read-only root, a refused dependency, a clean exit), a healthy one, an
//! unknown name, and the plain-words question that reaches it. Every reply goes through the
//! chat pipeline (roles, scopes, redaction).

use crate::docker::{
    Bot, IMAGE, SERVICE, Scope, base_config, docker, docker_ok, ensure_image, failed, ok, wait_for,
};
use crate::support::docker_available;

/// `docker run -d` that is expected to fail at start (the container stays `created`).
fn run_failing(s: &Scope, short: &str, extra: &[&str], image: &str, cmd: &[&str]) -> String {
    let name = s.name(short);
    let label = s.label();
    let mut args = vec!["run", "-d", "--name", &name, "--label", &label];
    args.extend_from_slice(extra);
    args.push(image);
    args.extend_from_slice(cmd);
    let out = docker(&args);
    assert!(
        !out.status.success(),
        "{name} was expected to fail to start"
    );
    name
}

/// Polls until the container's restart count reaches `n` (up to 60 s).
fn wait_restarts(name: &str, n: u32) {
    for _ in 0..600 {
        let out = docker(&["inspect", "-f", "{{.RestartCount}}", name]);
        let c: u32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        if c >= n {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{name} never restarted {n} times");
}

/// The verdict line (the first line of the reply).
fn verdict(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnoses_oom_missing_command_and_clean_exit() {
    if !docker_available("diagnoses_oom_missing_command_and_clean_exit") {
        return;
    }
    ensure_image();
    let s = Scope::new("dxone");
    let oom = s.run(
        "oom",
        &["-m", "8m", "--memory-swap", "8m"],
        &[
            "sh",
            "-c",
            "x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done",
        ],
    );
    let missing = run_failing(&s, "nocmd", &[], IMAGE, &["definitely-not-here", "--serve"]);
    let done = s.run("done", &[], &["sh", "-c", "echo migrated 3 tables"]);
    wait_for(&oom, "{{.State.Status}}", "exited");
    wait_for(&done, "{{.State.Status}}", "exited");
    let bot = Bot::new(&base_config("")).await;

    let r = bot.say("viewer1", &format!("/diagnose {oom}")).await;
    let t = ok(&r);
    assert!(
        verdict(t).contains("OOMKilled") && verdict(t).contains(&oom),
        "{t}"
    );
    assert!(t.contains("退出码：137") && t.contains("8.0 MiB"), "{t}");
    assert!(
        t.contains("/logs ") && t.contains("/docker inspect "),
        "{t}"
    );
    assert!(t.contains("📖"), "the knowledge topic is linked: {t}");

    let r = bot.say("viewer1", &format!("/why {missing}")).await;
    let t = ok(&r);
    assert!(verdict(t).contains("命令找不到"), "{t}");
    assert!(t.contains("definitely-not-here"), "names the command: {t}");

    let r = bot.say("viewer1", &format!("/diagnose {done}")).await;
    let t = ok(&r);
    assert!(verdict(t).contains("退出码 0"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnoses_an_arm64_entrypoint_as_exec_format_error() {
    if !docker_available("diagnoses_an_arm64_entrypoint_as_exec_format_error") {
        return;
    }
    let arch = docker_ok(&["version", "--format", "{{.Server.Arch}}"]);
    if arch == "arm64" {
        eprintln!(
            "SKIPPED diagnoses_an_arm64_entrypoint_as_exec_format_error: the engine is arm64 itself"
        );
        return;
    }
    // A 64-byte ELF header for AArch64 (e_machine 183): enough for the kernel to refuse it.
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little endian
    elf[6] = 1; // version
    elf[16] = 2; // ET_EXEC
    elf[18] = 183; // EM_AARCH64
    elf[20] = 1;
    elf[52] = 64; // e_ehsize
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::write(&app, &elf).unwrap();
    // COPY keeps the mode (the classic builder has no `COPY --chmod`).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY app /app\nENTRYPOINT [\"/app\"]\n",
    )
    .unwrap();
    let image = "wedock-test/arm64-entry:latest";
    let ctx = dir.path().display().to_string();
    let built = docker(&[
        "build",
        "-q",
        "--platform",
        "linux/arm64",
        "-t",
        image,
        &ctx,
    ]);
    assert!(
        built.status.success(),
        "building {image}: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let s = Scope::new("dxarm");
    // The engine starts it; the kernel refuses the file (`exec /app: exec format error` in
    // the log, exit 1; older engines report it in State.Error instead).
    let c = s.name("arm");
    let label = s.label();
    let _ = docker(&["run", "-d", "--name", &c, "--label", &label, image]);
    wait_for(&c, "{{.State.Status}}", "exited");
    let bot = Bot::new(&base_config("")).await;
    let r = bot.say("viewer1", &format!("/diagnose {c}")).await;
    let t = ok(&r);
    assert!(verdict(t).contains("exec format error"), "{t}");
    assert!(
        t.contains("linux/arm64") && t.contains(&format!("linux/{arch}")),
        "names both platforms: {t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnoses_a_taken_port_naming_the_holder() {
    if !docker_available("diagnoses_a_taken_port_naming_the_holder") {
        return;
    }
    ensure_image();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let publish = format!("127.0.0.1:{port}:80");
    let s = Scope::new("dxport");
    let holder = s.run("first", &["-p", &publish], SERVICE);
    let second = run_failing(&s, "second", &["-p", &publish], IMAGE, SERVICE);
    let bot = Bot::new(&base_config("")).await;
    let r = bot.say("viewer1", &format!("/diagnose {second}")).await;
    let t = ok(&r);
    assert!(verdict(t).contains("端口"), "{t}");
    assert!(
        t.contains(&port) && t.contains(&holder),
        "names port and holder: {t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnoses_health_restart_loop_read_only_and_refused_dependency() {
    if !docker_available("diagnoses_health_restart_loop_read_only_and_refused_dependency") {
        return;
    }
    ensure_image();
    let s = Scope::new("dxfour");
    let sick = s.run(
        "sick",
        &[
            "--health-cmd",
            "echo upstream db not reachable; exit 1",
            "--health-interval",
            "1s",
            "--health-retries",
            "1",
        ],
        SERVICE,
    );
    let looping = s.run(
        "loop",
        &["--restart", "always"],
        &[
            "sh",
            "-c",
            "echo fatal: config file /etc/app.yml is broken; exit 3",
        ],
    );
    let ro = s.run(
        "ro",
        &["--read-only"],
        &["sh", "-c", "echo starting; echo 1 > /state.txt"],
    );
    let refused = s.run(
        "refused",
        &[],
        &[
            "sh",
            "-c",
            "echo connecting; wget -q -O- http://127.0.0.1:5432/; exit 1",
        ],
    );
    wait_for(&sick, "{{.State.Health.Status}}", "unhealthy");
    wait_restarts(&looping, 3);
    wait_for(&ro, "{{.State.Status}}", "exited");
    wait_for(&refused, "{{.State.Status}}", "exited");
    let bot = Bot::new(&base_config("")).await;

    let r = bot.say("viewer1", &format!("/diagnose {sick}")).await;
    let t = ok(&r);
    assert!(verdict(t).contains("健康检查失败"), "{t}");
    assert!(
        t.contains("upstream db not reachable"),
        "quotes the health output: {t}"
    );

    let r = bot.say("viewer1", &format!("/diagnose {looping}")).await;
    let t = ok(&r);
    assert!(verdict(t).contains("重启循环"), "{t}");
    assert!(
        t.contains("config file /etc/app.yml is broken"),
        "quotes the last error: {t}"
    );

    let r = bot.say("viewer1", &format!("/diagnose {ro}")).await;
    let t = ok(&r);
    assert!(verdict(t).contains("只读"), "{t}");
    assert!(
        t.contains("根文件系统只读") && t.contains("/state.txt"),
        "{t}"
    );

    let r = bot.say("viewer1", &format!("/diagnose {refused}")).await;
    let t = ok(&r);
    assert!(verdict(t).contains("拒绝连接"), "{t}");
    assert!(t.contains("Connection refused"), "quotes the log: {t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_unknown_english_and_plain_words() {
    if !docker_available("healthy_unknown_english_and_plain_words") {
        return;
    }
    ensure_image();
    let s = Scope::new("dxok");
    let up = s.run("up", &[], SERVICE);
    let crashing = s.run(
        "crash",
        &["--restart", "always"],
        &[
            "sh",
            "-c",
            "echo error: missing required setting: db.url; exit 1",
        ],
    );
    wait_for(&up, "{{.State.Status}}", "running");
    wait_restarts(&crashing, 3);
    let bot = Bot::new(&base_config("")).await;

    let r = bot.say("viewer1", &format!("/diagnose {up}")).await;
    let t = ok(&r);
    assert!(verdict(t).contains("看起来正常"), "{t}");
    assert!(t.contains("running"), "key facts: {t}");

    // Unknown names get the closest ones.
    let typo = format!("{}-uq", s.id);
    let r = bot.say("viewer1", &format!("/diagnose {typo}")).await;
    let t = failed(&r);
    assert!(t.contains("你是不是想找") && t.contains(&up), "{t}");

    // English follows the user's language; the missing setting is named.
    bot.say("viewer1", "hello").await;
    let r = bot.say("viewer1", &format!("/diagnose {crashing}")).await;
    let t = ok(&r);
    assert!(verdict(t).contains("setting"), "{t}");
    assert!(t.contains("db.url"), "{t}");

    // Plain words with a failure word and an existing name run a diagnosis…
    let r = bot
        .say("viewer1", &format!("{crashing} 为什么一直重启"))
        .await;
    let t = ok(&r);
    assert!(verdict(t).starts_with("🩺") && t.contains("db.url"), "{t}");
    let r = bot
        .say("viewer1", &format!("why is {crashing} crashing"))
        .await;
    assert!(verdict(ok(&r)).starts_with("🩺"), "{}", r.reply);
    // …while a name that is not a container leaves the question to the knowledge base.
    let r = bot.say("viewer1", "为什么 pod 一直重启").await;
    assert!(!r.reply.starts_with("🩺"), "{}", r.reply);

    // A guest may not read containers, so may not diagnose them.
    let r = bot.say("guest1", &format!("/diagnose {up}")).await;
    failed(&r);
}

/// A running container with a memory limit shows its use against the limit, also when asked
/// again at once and while a `docker stats` stream keeps the engine's collector busy (the
/// sample then comes from the last minute or, failing that, the use is `?`; the limit is
/// always there). How long it takes is measured in `benches/diagnose.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limited_container_shows_memory_against_its_limit_every_time() {
    if !docker_available("a_limited_container_shows_memory_against_its_limit_every_time") {
        return;
    }
    ensure_image();
    let s = Scope::new("dxmem");
    let name = s.run(
        "lim",
        &["-m", "64m"],
        &[
            "sh",
            "-c",
            "trap 'exit 0' TERM; while true; do sleep 1; done",
        ],
    );
    wait_for(&name, "{{.State.Status}}", "running");
    let bot = Bot::new(&base_config("")).await;
    let mut stream = std::process::Command::new("docker")
        .args(["stats", &name])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("docker stats");
    for round in 0..3 {
        let r = bot.say("viewer1", &format!("/diagnose {name}")).await;
        let t = ok(&r);
        let line = t
            .lines()
            .find(|l| l.contains("内存："))
            .unwrap_or_else(|| panic!("round {round}: no memory line: {t}"));
        assert!(line.contains("限制 64.0 MiB"), "round {round}: {line}");
    }
    let _ = stream.kill();
    let _ = stream.wait();
}
