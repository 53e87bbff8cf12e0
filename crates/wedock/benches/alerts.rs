//! Alert pipeline performance.
//!
//! * `event_to_post`: one container death handed to the alert engine → the group robot POST
//!   arrives at a local fake robot (criterion; p50/p99 printed too).
//! * `docker_die_to_post`: a real container exits (Docker engine, if present) → POST; from
//!   the engine's `FinishedAt` to arrival. p50/p99 printed.
//! * `ingest`: 1,000 Docker events/s for 10 s through the Docker watcher's pump (translator,
//!   batching, engine, cursor saves), with the outbox sending at the robot's 20/min; reports
//!   the achieved rate (until the cursor reaches the last event), RSS and the number of
//!   waiting outbox rows (bounded by digest folding).
//!
//! Run: `cargo bench -p wedock --bench alerts`.

mod support;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use bollard::models::EventMessage;
use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::rss_kib;
use tokio::sync::Notify;
use wedock::alert::docker::{Tracker, pump};
use wedock::alert::{Alert, Engine, Severity};
use wedock::outbox::Outbox;

/// Arrival (monotonic and wall clock) and body of each POST.
type Received = Vec<(Instant, chrono::DateTime<chrono::Utc>, String)>;

#[derive(Clone, Default)]
struct Fake {
    got: Arc<Mutex<Received>>,
    notify: Arc<Notify>,
}

async fn send(State(f): State<Fake>, body: String) -> &'static str {
    f.got
        .lock()
        .unwrap()
        .push((Instant::now(), chrono::Utc::now(), body));
    f.notify.notify_waiters();
    r#"{"errcode":0,"errmsg":"ok"}"#
}

async fn fake() -> (Fake, String) {
    let f = Fake::default();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let app = Router::new()
        .route("/cgi-bin/webhook/send", post(send))
        .with_state(f.clone());
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (f, format!("http://{addr}"))
}

async fn setup(base: &str, per_minute: u32, dir: &std::path::Path) -> (Arc<Engine>, Arc<Outbox>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let p = dir.join("wedock.toml");
    std::fs::write(
        &p,
        format!(
            "[docker]\nenabled = false\n[api]\nrobot_base = \"{base}\"\n[[wecom.robots]]\nname = \"ops\"\nkey = \"k\"\nper_minute = {per_minute}\n[alerts]\nlang = \"en\"\n"
        ),
    )
    .unwrap();
    let env = vec![(
        "WEDOCK_STORE__DATA_DIR".to_string(),
        format!("\"{}\"", dir.join("data").display()),
    )];
    let cfg = wedock::config::Config::load(Some(&p), env).unwrap();
    let app = wedock::cli::build_app(cfg).await.unwrap();
    let mut outbox = Outbox::new(app.store.clone(), app.config.outbox.clone());
    wedock::channel::register_senders(&app, &mut outbox);
    let outbox = Arc::new(outbox);
    let leader = wedock::leader::Leader::solo(app.store.clone()).await;
    tokio::spawn(outbox.clone().run(leader, std::future::pending::<()>()));
    (Arc::new(Engine::new(app, outbox.clone())), outbox)
}

fn die(i: u64) -> Alert {
    let mut a = Alert::new("docker", "die", Severity::Critical, format!("bench|{i}"));
    a.host = Some("local".into());
    a.container = Some(format!("c-{i}"));
    a.exit_code = Some(1);
    a.fingerprint = format!("bench|{i}");
    a.logs = Some("line one\nline two\n".into());
    a
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn event_to_post(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (f, base, engine) = rt.block_on(async {
        let (f, base) = fake().await;
        let (engine, _) = setup(&base, 1_000_000, dir.path()).await;
        (f, base, engine)
    });
    let _ = base;
    let seq = std::sync::atomic::AtomicU64::new(0);
    let one = |i: u64| {
        let f = f.clone();
        let engine = engine.clone();
        async move {
            let n = f.got.lock().unwrap().len();
            let t = Instant::now();
            let wait = f.notify.notified();
            tokio::pin!(wait);
            wait.as_mut().enable();
            engine.submit(vec![die(i)]).await.unwrap();
            loop {
                if f.got.lock().unwrap().len() > n {
                    break;
                }
                wait.as_mut().await;
                wait.set(f.notify.notified());
                wait.as_mut().enable();
            }
            t.elapsed()
        }
    };
    let mut samples: Vec<Duration> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..500 {
            let i = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            v.push(one(i).await);
        }
        v
    });
    println!(
        "event_to_post (engine → robot POST), 500 samples: p50 {:?}, p99 {:?}",
        pct(&mut samples, 0.5),
        pct(&mut samples, 0.99)
    );
    c.bench_function("event_to_post", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let one = &one;
            let seq = &seq;
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let i = seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    total += one(i).await;
                }
                total
            }
        })
    });
}

/// A real container exits; time from the engine's FinishedAt to the robot POST.
fn docker_die_to_post(_c: &mut Criterion) {
    let ok = std::process::Command::new("docker")
        .args(["image", "inspect", "wedock-test/alerts-busybox:latest"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!(
            "docker_die_to_post: skipped (no engine or no wedock-test/alerts-busybox image; run the alert_docker tests first)"
        );
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let (f, base) = fake().await;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let p = dir.path().join("wedock.toml");
        std::fs::write(
            &p,
            format!("[api]\nrobot_base = \"{base}\"\n[[wecom.robots]]\nname = \"ops\"\nkey = \"k\"\nper_minute = 100000\n[alerts]\nlang = \"en\"\nlog_lines = 20\n"),
        )
        .unwrap();
        let env = vec![(
            "WEDOCK_STORE__DATA_DIR".to_string(),
            format!("\"{}\"", dir.path().join("data").display()),
        )];
        let cfg = wedock::config::Config::load(Some(&p), env).unwrap();
        // The watcher's readiness detail needs a console login.
        let key = wedock::server::console_key::ConsoleKey::load(&cfg).unwrap();
        let token = key.mint(
            wedock::server::console_key::Kind::Login,
            wedock::server::console_key::now_secs(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(wedock::serve::run_with(cfg, listener, std::future::pending()));
        let client = reqwest::Client::new();
        for _ in 0..400 {
            if let Ok(r) = client
                .get(format!("http://{addr}/readyz"))
                .bearer_auth(&token)
                .send()
                .await
                && let Ok(v) = r.json::<serde_json::Value>().await
                && v["components"]["alerts:docker:local"]["ready"] == true
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let label = format!("wedock-bench={}", std::process::id());
        let mut lat = Vec::new();
        for i in 0..30 {
            let name = format!("wdk-bench-{}-{i}", std::process::id());
            let n = f.got.lock().unwrap().len();
            let out = std::process::Command::new("docker")
                .args(["run", "--name", &name, "--label", &label, "wedock-test/alerts-busybox:latest", "sh", "-c", "echo bye; exit 2"])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2));
            let end = Instant::now() + Duration::from_secs(10);
            let arrived = loop {
                let found = f.got.lock().unwrap()[n..]
                    .iter()
                    .find(|(_, _, b)| b.contains(&name))
                    .map(|(_, at, _)| *at);
                if found.is_some() {
                    break found;
                }
                if Instant::now() > end {
                    break None;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            };
            let finished = std::process::Command::new("docker")
                .args(["inspect", "-f", "{{.State.FinishedAt}}", &name])
                .output()
                .unwrap();
            let finished = String::from_utf8_lossy(&finished.stdout).trim().to_string();
            let finished = chrono::DateTime::parse_from_rfc3339(&finished).unwrap();
            if let Some(at) = arrived {
                lat.push((at - finished.with_timezone(&chrono::Utc)).to_std().unwrap_or_default());
            }
        }
        let ids = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label={label}")])
            .output()
            .unwrap();
        let ids = String::from_utf8_lossy(&ids.stdout).to_string();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let _ = std::process::Command::new("docker").args(["rm", "-f"]).args(&ids).output();
        }
        let got = lat.len();
        println!(
            "docker_die_to_post (real container exit → robot POST, 20 log lines), {got}/30 delivered: p50 {:?}, p99 {:?}",
            pct(&mut lat, 0.5),
            pct(&mut lat, 0.99)
        );
    });
}

/// 1,000 events/s for 10 s through the translator and engine, robot limited to 20/min.
fn ingest(_c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let (f, base) = fake().await;
        let (engine, _outbox) = setup(&base, 20, dir.path()).await;
        // The events go through the same pump the Docker watcher uses (batching of events
        // that are already waiting, cursor saves), fed by a channel instead of the engine.
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<EventMessage, String>>();
        let (_stop_tx, mut stop) = tokio::sync::watch::channel(false);
        let pumping = {
            let engine = engine.clone();
            tokio::spawn(async move {
                let mut tracker = Tracker::new("local", 3, Duration::from_secs(600));
                pump(&engine, "local", &mut tracker, rx, None, 0, &mut stop).await
            })
        };
        let rate = 1000u64;
        let secs = 10u64;
        let start = Instant::now();
        let rss0 = rss_kib();
        let mut max_lag = Duration::ZERO;
        let mut rss_mid = 0;
        let t0 = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
        for i in 0..rate * secs {
            let due = start + Duration::from_micros(i * 1_000_000 / rate);
            let now = Instant::now();
            if due > now {
                tokio::time::sleep(due - now).await;
            } else {
                max_lag = max_lag.max(now - due);
            }
            let mut attrs = HashMap::new();
            attrs.insert("name".to_string(), format!("svc-{i}"));
            attrs.insert("exitCode".to_string(), "1".to_string());
            let ev = EventMessage {
                action: Some("die".into()),
                actor: Some(bollard::models::EventActor {
                    id: Some(format!("id{i}")),
                    attributes: Some(attrs),
                }),
                time_nano: Some(t0 + i as i64 * 1000),
                ..Default::default()
            };
            tx.unbounded_send(Ok(ev)).unwrap();
            if i == rate * secs / 2 {
                rss_mid = rss_kib();
            }
        }
        // Ingest is done when the cursor reaches the last event.
        let last = (t0 + (rate * secs - 1) as i64 * 1000).to_string();
        let key = wedock::alert::docker::cursor_key("local");
        loop {
            if engine.app.store.kv_get(&key).await.unwrap().as_deref() == Some(last.as_str()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let took = start.elapsed();
        drop(tx);
        let _ = pumping.await;
        let pending = engine
            .app
            .store
            .outbox_pending_for("robot", "ops")
            .await
            .unwrap()
            .len();
        println!(
            "ingest: {} events in {:.2?} = {:.0} events/s (target {rate}/s, max producer lag {:?}); RSS {} → {} → {} KiB; robot posts {}; waiting outbox rows {pending}; dedup entries {}",
            rate * secs,
            took,
            (rate * secs) as f64 / took.as_secs_f64(),
            max_lag,
            rss0,
            rss_mid,
            rss_kib(),
            f.got.lock().unwrap().len(),
            engine.dedup_entries(),
        );
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = event_to_post, docker_die_to_post, ingest
}
criterion_main!(benches);
