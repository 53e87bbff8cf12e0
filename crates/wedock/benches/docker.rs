//! Docker command latency on the local socket, through the whole chat path
//! (`Pipeline::handle`): `ps` over 200 containers (target < 100 ms) and `logs --tail 200`
//! (target < 50 ms). Needs a Docker engine and /bin/busybox (Debian's busybox-static) to
//! build the test image; skipped with a notice when no engine answers.
//!
//! Run: `cargo bench -p wedock --bench docker`

#[path = "support/busybox.rs"]
mod busybox;

use busybox::{IMAGE, docker, ensure_image};
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use wedock::config::Config;
use wedock::identity::Role;
use wedock::message::Incoming;
use wedock::pipeline::Pipeline;

const CONTAINERS: usize = 200;

/// Removes the bench's containers when dropped, even if a benchmark panics.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = docker(&["ps", "-aq", "--filter", &format!("label={}", self.0)]);
        let ids = String::from_utf8_lossy(&ids.stdout).to_string();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        for chunk in ids.chunks(50) {
            let mut args = vec!["rm", "-f"];
            args.extend_from_slice(chunk);
            let _ = docker(&args);
        }
    }
}

fn bench(c: &mut Criterion) {
    let up = docker(&["version", "--format", "{{.Server.Version}}"]);
    if !up.status.success() {
        eprintln!("SKIPPED docker benches: no Docker engine reachable");
        return;
    }
    ensure_image();
    let run = format!("wdbench{}", std::process::id());
    let label = format!("wedock.bench={run}");
    let _cleanup = Cleanup(label.clone());

    // 200 containers, created in parallel batches (created, not started: listing cost is
    // the same and the machine is shared).
    let names: Vec<String> = (0..CONTAINERS).map(|i| format!("{run}-c{i:03}")).collect();
    std::thread::scope(|s| {
        for chunk in names.chunks(CONTAINERS / 4) {
            let label = &label;
            s.spawn(move || {
                for n in chunk {
                    let out = docker(&["create", "--name", n, "--label", label, IMAGE, "true"]);
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    let logger = format!("{run}-logger");
    let out = docker(&[
        "run",
        "-d",
        "--name",
        &logger,
        "--label",
        &label,
        IMAGE,
        "sh",
        "-c",
        "for i in $(seq 1 5000); do echo \"log line $i with some typical payload text\"; done",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = docker(&["wait", &logger]);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let env = vec![(
        "WEDOCK_STORE__DATA_DIR".to_string(),
        format!("\"{}\"", dir.path().join("data").display()),
    )];
    let config = Config::load(None, env).expect("config");
    let app = rt.block_on(wedock::cli::build_app(config)).expect("app");
    let pipeline = Pipeline::new(Arc::clone(&app));
    let ask = |text: String| {
        let p = pipeline.clone();
        async move {
            let r = p
                .handle(Incoming::local("console", "local:admin", Role::Admin, text))
                .await
                .expect("reply");
            assert_eq!(r.kind, wedock::message::ReplyKind::Command, "{}", r.reply);
            r
        }
    };
    // Warm the engine connection, and check the work is real.
    let first = rt.block_on(ask(format!("/docker ps -a --filter label={label}")));
    assert!(first.reply.contains("201"), "{}", first.reply);

    let mut g = c.benchmark_group("docker");
    g.sample_size(30);
    g.bench_function("ps_200_containers", |b| {
        b.to_async(&rt)
            .iter(|| ask(format!("/docker ps -a --filter label={label}")))
    });
    g.bench_function("ps_all_unfiltered", |b| {
        b.to_async(&rt).iter(|| ask("/docker ps -a".to_string()))
    });
    g.bench_function("logs_tail_200", |b| {
        b.to_async(&rt)
            .iter(|| ask(format!("/docker logs {logger} --tail 200")))
    });
    // Baselines: the engine calls alone, without wedock's parsing, resolution and rendering.
    let Ok(engine) = rt.block_on(app.docker.get(None)) else {
        panic!("local engine unreachable");
    };
    let mut filters = std::collections::HashMap::new();
    filters.insert("label".to_string(), vec![label.clone()]);
    g.bench_function("engine_list_200_raw", |b| {
        b.to_async(&rt).iter(|| {
            let opts = bollard::query_parameters::ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build();
            let e = engine.clone();
            async move { e.client.list_containers(Some(opts)).await.expect("list") }
        })
    });
    g.bench_function("engine_logs_200_raw", |b| {
        b.to_async(&rt).iter(|| {
            let e = engine.clone();
            let logger = logger.clone();
            async move {
                wedock::command::docker::fetch_logs(&e, &logger, 200, Default::default())
                    .await
                    .expect("logs")
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
