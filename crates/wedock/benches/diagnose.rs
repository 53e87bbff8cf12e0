//! `/diagnose` latency through the whole chat path (`Pipeline::handle`):
//!
//! * `docker_exited` / `docker_healthy`: a container that exited with an error in its log and
//!   a running one, on the local engine (target p95 < 300 ms). Needs a Docker engine and
//!   /bin/busybox (Debian's busybox-static); skipped with a notice when no engine answers.
//! * `docker_limited`: a running container with a memory limit, the one case where the engine's
//!   memory statistics are read (same target). Repeated diagnoses reuse a sample younger than
//!   2 s, so two more series are printed: `docker_limited_spaced` (runs 2.1 s apart: a new
//!   stats request each time, the engine idle) and `docker_limited_busy` (the same with a
//!   `docker stats` stream open, so the engine's collector is always mid-tick: the bounded
//!   wait of `diagnose/memory.rs` is what is measured).
//! * `pod_crashloop`: a CrashLoopBackOff pod with previous logs, events, its node and its
//!   Deployment, against the fake API server of the integration tests (target p95 < 200 ms).
//!
//! Criterion reports means; the p50 / p95 the targets speak of are measured first over 200
//! runs each and printed.
//!
//! Run: `cargo bench -p wedock --bench diagnose`

#[path = "../tests/it/support/fake_kube/mod.rs"]
#[allow(dead_code)]
mod fake_kube;

#[path = "support/busybox.rs"]
mod busybox;

use busybox::{IMAGE, docker, ensure_image};
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wedock::config::Config;
use wedock::identity::Role;
use wedock::message::{Incoming, ReplyKind};
use wedock::pipeline::Pipeline;

const RUNS: usize = 200;

/// Removes the bench's containers when dropped.
struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = docker(&["rm", "-f", n]);
        }
    }
}

fn pipeline(rt: &tokio::runtime::Runtime, toml: &str, dir: &std::path::Path) -> Pipeline {
    let path = dir.join("wedock.toml");
    std::fs::write(&path, toml).expect("config");
    let env = vec![(
        "WEDOCK_STORE__DATA_DIR".to_string(),
        format!("\"{}\"", dir.join("data").display()),
    )];
    let config = Config::load(Some(&path), env).expect("config");
    let app = rt.block_on(wedock::cli::build_app(config)).expect("app");
    Pipeline::new(Arc::clone(&app))
}

async fn ask(p: Pipeline, text: String) {
    let r = p
        .handle(Incoming::local("console", "local:admin", Role::Admin, text))
        .await
        .expect("reply");
    assert_eq!(r.kind, ReplyKind::Command, "{}", r.reply);
}

/// p50 and p95 of `RUNS` sequential runs, printed.
fn percentiles(rt: &tokio::runtime::Runtime, name: &str, p: &Pipeline, text: &str) {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            rt.block_on(ask(p.clone(), text.to_string()));
            t.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "diagnose/{name}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms over {RUNS} runs",
        at(0.50).as_secs_f64() * 1000.0,
        at(0.95).as_secs_f64() * 1000.0,
        times[times.len() - 1].as_secs_f64() * 1000.0
    );
}

/// `docker run -d --name NAME [FLAGS] busybox sh -c SCRIPT`; panics with docker's words.
fn run_detached(name: &str, flags: &[&str], script: &str) {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[IMAGE, "sh", "-c", script]);
    let out = docker(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// p50 and max of `n` runs spaced `gap` apart, printed.
fn spaced(rt: &tokio::runtime::Runtime, name: &str, p: &Pipeline, text: &str, n: usize) {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(2100));
            let t = Instant::now();
            rt.block_on(ask(p.clone(), text.to_string()));
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "diagnose/{name}: p50 {:.1} ms, max {:.1} ms over {n} runs 2.1 s apart",
        times[n / 2].as_secs_f64() * 1000.0,
        times[n - 1].as_secs_f64() * 1000.0
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("diagnose");
    g.sample_size(30);

    // Kubernetes: a crash-looping pod against the fake API server.
    let fake = rt.block_on(fake_kube::FakeKube::start());
    fake.put("nodes", fake_kube::objects::node("node-2", true));
    fake.put(
        "deployments",
        fake_kube::objects::deployment("shop", "api", 3, 2),
    );
    let pod = "api-7d4b8c9f6-x2x9q";
    fake.put(
        "pods",
        fake_kube::objects::crashloop_pod("shop", pod, "api", 7, "Error", 1),
    );
    fake.set_logs(
        "shop",
        pod,
        "app",
        "",
        Some("INFO starting\nERROR Error: connect ECONNREFUSED 10.96.0.15:5432\n"),
    );
    for i in 0..20 {
        fake.put(
            "events",
            fake_kube::objects::warning_event(
                "shop",
                &format!("api.{i}"),
                pod,
                "BackOff",
                "Back-off restarting failed container app",
                3 + i,
            ),
        );
    }
    let kdir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = kdir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig(&["prod"])).expect("kubeconfig");
    let kube = pipeline(
        &rt,
        &format!(
            "[docker]\nenabled = false\n[kubernetes]\nenabled = true\nkubeconfig = \"{}\"\n[limits]\ncommands_per_minute = 0\n",
            kubeconfig.display()
        ),
        kdir.path(),
    );
    let text = format!("/diagnose pod/{pod} -n shop");
    rt.block_on(ask(kube.clone(), text.clone()));
    percentiles(&rt, "pod_crashloop", &kube, &text);
    g.bench_function("pod_crashloop", |b| {
        b.to_async(&rt).iter(|| ask(kube.clone(), text.clone()))
    });

    // Docker: an exited container and a healthy one on the local engine.
    let up = docker(&["version", "--format", "{{.Server.Version}}"]);
    if up.status.success() {
        ensure_image();
        let run = format!("wdbenchdx{}", std::process::id());
        let exited = format!("{run}-exited");
        let healthy = format!("{run}-up");
        let limited = format!("{run}-limited");
        let _cleanup = Cleanup(vec![exited.clone(), healthy.clone(), limited.clone()]);
        const SLEEPER: &str = "trap 'exit 0' TERM; while true; do sleep 1; done";
        run_detached(
            &exited,
            &[],
            "for i in $(seq 1 200); do echo \"line $i\"; done; echo 'panic: dial tcp 10.0.0.5:5432: connect: connection refused'; exit 1",
        );
        run_detached(&healthy, &[], SLEEPER);
        run_detached(&limited, &["--memory", "64m"], SLEEPER);
        let _ = docker(&["wait", &exited]);
        let ddir = tempfile::tempdir().expect("tempdir");
        let local = pipeline(
            &rt,
            "[limits]\ncommands_per_minute = 0\n[[docker.hosts]]\nname = \"local\"\nendpoint = \"unix:///var/run/docker.sock\"\n",
            ddir.path(),
        );
        let te = format!("/diagnose {exited}");
        let th = format!("/diagnose {healthy}");
        let tl = format!("/diagnose {limited}");
        rt.block_on(ask(local.clone(), te.clone()));
        percentiles(&rt, "docker_exited", &local, &te);
        percentiles(&rt, "docker_healthy", &local, &th);
        percentiles(&rt, "docker_limited", &local, &tl);
        spaced(&rt, "docker_limited_spaced", &local, &tl, 20);
        let mut stream = std::process::Command::new("docker")
            .args(["stats", &limited])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("docker stats");
        spaced(&rt, "docker_limited_busy", &local, &tl, 20);
        let _ = stream.kill();
        let _ = stream.wait();
        g.bench_function("docker_exited", |b| {
            b.to_async(&rt).iter(|| ask(local.clone(), te.clone()))
        });
        g.bench_function("docker_healthy", |b| {
            b.to_async(&rt).iter(|| ask(local.clone(), th.clone()))
        });
        g.bench_function("docker_limited", |b| {
            b.to_async(&rt).iter(|| ask(local.clone(), tl.clone()))
        });
    } else {
        eprintln!("SKIPPED diagnose docker benches: no Docker engine reachable");
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
