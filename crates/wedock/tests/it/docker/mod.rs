//! Docker ChatOps against the real engine, through the same path chat messages take
//! (`Pipeline::handle` with an `Incoming`), so roles, confirmations and the audit log are
//! exercised. Containers run a locally built busybox image (no registry needed) and carry a
//! unique label; a guard removes them even when a test fails.

mod engines;
mod reads;
mod writes;

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
