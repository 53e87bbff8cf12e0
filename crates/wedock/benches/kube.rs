//! Kubernetes performance.
//!
//! * `get_pods_all_2000`: `/k get pods -A` over 2,000 pods — decoding the PodList JSON as the
//!   API server sends it and rendering the reply (status words, problems first, width-aligned
//!   table cut to the 2,048-byte budget). Target: < 200 ms.
//! * `watch_500_updates`: 500 Pod watch events (JSON lines, as in a watch stream) decoded and
//!   fed through the alert tracker — the work the watcher does per second at 500 updates/s.
//!   Target: well under 1 s per batch.
//! * `watch_soak`: 60,000 updates (two minutes at 500/s) over 2,000 pods with some of them
//!   crash-looping; prints the achieved rate, the tracker's remembered objects and RSS, which
//!   must stay flat (bounded memory).
//!
//! Run: `cargo bench -p wedock --bench kube`.

mod support;
use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use std::time::Instant;
use support::rss_kib;
use wedock::alert::kube::Tracker;
use wedock::command::kubectl::PodRowList;
use wedock::config::KubeAlertsConfig;
use wedock::i18n::Lang;

fn pod_json(i: usize, rv: u64, crashing: bool, restarts: i64) -> Value {
    let ns = format!("team-{}", i % 40);
    let name = format!("svc-{}-7d4b8c9f6-{i:05}", i % 97);
    let state = if crashing {
        json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off 5m0s restarting failed container=app pod={name}_{ns}(uid)")}})
    } else {
        json!({"running": {"startedAt": "2025-03-01T10:00:02Z"}})
    };
    json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{i}"), "resourceVersion": rv.to_string(),
            "creationTimestamp": "2025-03-01T09:12:44Z", "labels": {"app": format!("svc-{}", i % 97), "pod-template-hash": "7d4b8c9f6"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "svc-7d4b8c9f6", "uid": "rs", "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"nodeName": format!("node-{}", i % 50), "restartPolicy": "Always", "serviceAccountName": "default",
            "containers": [{"name": "app", "image": "registry.local/svc:2.3.1",
                "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 5}}]},
        "status": {"phase": "Running", "hostIP": "10.0.0.12", "podIP": format!("10.244.{}.{}", i / 250, i % 250),
            "startTime": "2025-03-01T09:12:44Z", "qosClass": "Burstable",
            "conditions": [{"type": "Ready", "status": if crashing {"False"} else {"True"}, "lastProbeTime": null, "lastTransitionTime": "2025-03-01T09:20:03Z"}],
            "containerStatuses": [{"name": "app", "ready": !crashing, "started": !crashing, "restartCount": restarts,
                "image": "registry.local/svc:2.3.1", "imageID": "registry.local/svc@sha256:9f2e", "containerID": "containerd://4be1",
                "state": state,
                "lastState": if crashing { json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2025-03-01T09:20:02Z"}}) } else { json!({}) }}]}
    })
}

fn pod_list(n: usize) -> Vec<u8> {
    let items: Vec<Value> = (0..n)
        .map(|i| pod_json(i, 1000 + i as u64, i % 100 == 0, 3))
        .collect();
    serde_json::to_vec(&json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "99999"}, "items": items}))
        .unwrap()
}

#[derive(serde::Deserialize)]
struct PodList {
    items: Vec<Pod>,
}

/// What `/k get pods -A` does with the LIST response: decode the rows, render the reply.
fn render_all(body: &[u8]) -> String {
    let list: PodRowList = serde_json::from_slice(body).unwrap();
    let pods: Vec<Pod> = list.items.into_iter().map(|r| r.0).collect();
    wedock::command::kubectl::pods_reply(
        "prod",
        "all namespaces",
        &pods,
        true,
        false,
        chrono::Utc::now().timestamp(),
        Lang::En,
    )
}

fn get_pods_all_2000(c: &mut Criterion) {
    let body = pod_list(2000);
    let out = render_all(&body);
    assert!(
        out.len() <= 2048 && out.contains("2000 pods, 20 not ready"),
        "{out}"
    );
    c.bench_function("get_pods_all_2000", |b| b.iter(|| render_all(&body)));
    let mut times: Vec<f64> = (0..50)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(render_all(&body));
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "get pods -A over 2000 pods ({} KiB of JSON): p50 {:.1} ms, p99 {:.1} ms",
        body.len() / 1024,
        times[25],
        times[49]
    );
    // Where the time goes: decoding (full k8s-openapi Pods, as before, and the rows the
    // command decodes now) vs. building the reply.
    let list: PodList = serde_json::from_slice(&body).unwrap();
    let p50 = |f: &mut dyn FnMut()| {
        let mut t: Vec<f64> = (0..21)
            .map(|_| {
                let s = Instant::now();
                f();
                s.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[10]
    };
    let rows = p50(&mut || {
        std::hint::black_box(serde_json::from_slice::<PodRowList>(&body).unwrap());
    });
    let full = p50(&mut || {
        std::hint::black_box(serde_json::from_slice::<PodList>(&body).unwrap());
    });
    let now = chrono::Utc::now().timestamp();
    let render = p50(&mut || {
        std::hint::black_box(wedock::command::kubectl::pods_reply(
            "prod",
            "all namespaces",
            &list.items,
            true,
            false,
            now,
            Lang::En,
        ));
    });
    println!(
        "  p50 of the parts: decode+free as full Pods {full:.1} ms, as rows {rows:.1} ms; render {render:.1} ms"
    );
}

/// One watch line per update, as the API server streams them.
fn watch_lines(n: usize, start: usize) -> Vec<Vec<u8>> {
    (start..start + n)
        .map(|k| {
            let i = k % 2000;
            // 1 % of pods crash-loop, their restart count rising with every update.
            let crashing = i % 100 == 0;
            let obj = pod_json(i, 100_000 + k as u64, crashing, (k / 2000) as i64);
            serde_json::to_vec(&json!({"type": "MODIFIED", "object": obj})).unwrap()
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct WatchLine {
    #[allow(dead_code)]
    r#type: String,
    object: Pod,
}

fn feed(t: &mut Tracker, lines: &[Vec<u8>], now: i64) -> usize {
    let mut alerts = 0;
    for l in lines {
        let ev: WatchLine = serde_json::from_slice(l).unwrap();
        alerts += t.apply_pod(&ev.object, now).len();
    }
    alerts
}

fn watch_500_updates(c: &mut Criterion) {
    let lines = watch_lines(500, 0);
    let mut t = Tracker::new("prod", &KubeAlertsConfig::default());
    c.bench_function("watch_500_updates", |b| b.iter(|| feed(&mut t, &lines, 1)));
}

fn watch_soak(_: &mut Criterion) {
    let mut t = Tracker::new("prod", &KubeAlertsConfig::default());
    let total = 60_000;
    let started = Instant::now();
    let mut alerts = 0;
    let mut rss_mid = 0;
    for batch in 0..total / 500 {
        let lines = watch_lines(500, batch * 500);
        alerts += feed(&mut t, &lines, 1 + batch as i64);
        if batch == total / 500 / 2 {
            rss_mid = rss_kib();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "watch soak: {total} pod updates in {secs:.2} s = {:.0} updates/s; {alerts} alerts (one per crash-looping pod); tracker remembers {} objects, {} problems; RSS {} KiB at half-time, {} KiB at the end",
        total as f64 / secs,
        t.tracked_len(),
        t.active_len(),
        rss_mid,
        rss_kib()
    );
    assert_eq!(
        alerts, 20,
        "one alert per crash-looping pod, not per update"
    );
}

criterion_group!(benches, get_pods_all_2000, watch_500_updates, watch_soak);
criterion_main!(benches);
