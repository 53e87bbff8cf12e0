//! Evidence about one Docker container: its state and exit, restarts, health-check output,
//! last log lines, recent events, memory, image platform against the engine's, port
//! bindings (and who holds a conflicting port), read-only root and mounts, and engine disk
//! use when something says "no space". The independent calls run concurrently and each is
//! bounded, so a diagnosis stays within a few hundred milliseconds on a local engine.

use super::Evidence;
use super::signatures::{Facts, shorten};
use super::text::{Say, yes_no};
use crate::i18n::Lang;
use crate::ops::docker::{self as ops, Engine};
use crate::render;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters as qp;
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;

/// Log lines read from the end.
const LOG_LINES: usize = 40;
/// Events looked at, how far back.
const EVENTS_SECS: i64 = 3600;
/// Longest wait for any one secondary call (events, logs, stats, image, version).
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Restarts (or deaths within the event window) that make a restart loop.
const LOOP_RESTARTS: i64 = 3;

/// Collects the evidence for container `id` (already resolved and scope-checked).
pub async fn collect(eng: &Engine, d: &ContainerInspectResponse, lang: Lang) -> Evidence {
    let id = d.id.clone().unwrap_or_default();
    let name = d
        .name
        .as_deref()
        .unwrap_or(&id)
        .trim_start_matches('/')
        .to_string();
    let st = d.state.clone().unwrap_or_default();
    let status = st.status.map(|s| s.to_string()).unwrap_or_default();
    let running = status == "running";
    let image_id = d.image.clone().unwrap_or_default();

    let logs = bounded(crate::ops::docker::fetch_logs(
        eng,
        &id,
        LOG_LINES,
        Default::default(),
    ));
    let events = bounded(container_events(eng, &id));
    // Memory use means something only for a running container with a limit; the wait for
    // it is bounded (see `memory.rs`: the engine may hold the answer up to a second).
    let has_limit = d
        .host_config
        .as_ref()
        .and_then(|h| h.memory)
        .is_some_and(|m| m > 0);
    let stats = async {
        if running && has_limit {
            super::memory::sample(eng, &id).await
        } else {
            None
        }
    };
    let image = bounded(eng.client.inspect_image(&image_id));
    let version = bounded(eng.client.version());
    let (logs, events, stats, image, version) = tokio::join!(logs, events, stats, image, version);

    let mut f = Facts {
        status: Some(status.clone()),
        // A running container's State.ExitCode is 0 whatever its last exit was; its last
        // `die` event (below) tells how it last ended.
        exit_code: if running { None } else { st.exit_code },
        oom_killed: st.oom_killed,
        restarts: d.restart_count,
        ..Facts::default()
    };
    let mut lines = Vec::new();
    f.var("name", &name);
    f.var("status", &status);
    let now = chrono::Utc::now().timestamp();

    // State and exit.
    let when = if running {
        st.started_at.as_deref().and_then(ops::parse_time)
    } else {
        st.finished_at.as_deref().and_then(ops::parse_time)
    }
    .filter(|t| *t > 0)
    .map(|t| format!(" · {}", render::human_ago(t, now, lang)))
    .unwrap_or_default();
    let health = st
        .health
        .as_ref()
        .and_then(|h| h.status)
        .map(|s| s.to_string())
        .filter(|s| s != "none");
    let shown_state = match &health {
        Some(h) => format!("{status} ({h}){when}"),
        None => format!("{status}{when}"),
    };
    lines.push(Say::StateLine.fill(lang, &[("state", &shown_state)]));
    if !running && let Some(code) = st.exit_code {
        f.var("exit_code", code.to_string());
        if status != "created" || code != 0 {
            lines.push(Say::ExitLine.fill(lang, &[("code", &code.to_string())]));
        }
    }
    if st.oom_killed == Some(true) {
        lines.push(Say::OomLine.fill(lang, &[("oom", yes_no(lang, true))]));
    }
    if let (Some(s), Some(e)) = (
        st.started_at.as_deref().and_then(ops::parse_time),
        st.finished_at.as_deref().and_then(ops::parse_time),
    ) && s > 0
        && e >= s
        && !running
    {
        f.ran_secs = Some(e - s);
    }
    if let Some(err) = st.error.as_deref().filter(|e| !e.trim().is_empty()) {
        lines.push(Say::ErrorLine.fill(lang, &[("error", &shorten(err.trim(), 300))]));
        f.texts.push(err.to_string());
    }

    // Restarts and policy.
    let hc = d.host_config.clone().unwrap_or_default();
    let policy = hc
        .restart_policy
        .as_ref()
        .and_then(|p| p.name)
        .map(|n| n.to_string())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "no".to_string());
    let restarts = d.restart_count.unwrap_or(0);
    let deaths = events
        .as_ref()
        .map(|e| e.iter().filter(|(_, a, _)| a == "die").count() as i64)
        .unwrap_or(0);
    f.var("restarts", restarts.max(deaths).to_string());
    if restarts > 0 || policy != "no" {
        lines.push(Say::RestartLine.fill(
            lang,
            &[("count", &restarts.to_string()), ("policy", &policy)],
        ));
    }
    if status == "restarting"
        || restarts >= LOOP_RESTARTS
        || (policy != "no" && deaths >= LOOP_RESTARTS)
    {
        f.flag("restart_loop");
    }

    // Health-check outputs, most recent first.
    if let Some(h) = &st.health {
        f.health = health.clone();
        let outputs: Vec<String> = h
            .log
            .iter()
            .flatten()
            .rev()
            .filter(|r| r.exit_code.unwrap_or(0) != 0)
            .filter_map(|r| r.output.clone())
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty())
            .take(3)
            .collect();
        if let Some(last) = outputs.first() {
            f.var("health", shorten(last, 160));
        }
        if health.as_deref() == Some("unhealthy") {
            let shown = outputs
                .first()
                .map(|o| shorten(o, 160))
                .unwrap_or_else(|| format!("exit ≠ 0 × {}", h.failing_streak.unwrap_or(0)));
            lines.push(Say::HealthLine.fill(lang, &[("health", &shown)]));
        }
        f.texts.extend(outputs);
    }

    // Logs: the most recent lines first, so the latest error is the one quoted.
    let log_text = logs.and_then(Result::ok).unwrap_or_default();
    let log_lines: Vec<&str> = log_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let last_error = log_lines
        .iter()
        .rev()
        .find(|l| super::looks_like_error(l))
        .or(log_lines.last())
        .map(|l| shorten(l, 200));
    if let Some(l) = &last_error {
        f.var("last_error", l.clone());
    }
    f.texts
        .extend(log_lines.iter().rev().map(|l| l.to_string()));

    // Events (die, oom, kill, health_status, restart…), newest last.
    if let Some(evs) = &events {
        for (t, action, exit) in evs.iter().rev().take(5).rev() {
            let exit = exit
                .as_ref()
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default();
            lines.push(Say::EventLine.fill(
                lang,
                &[(
                    "event",
                    &format!("{} {action}{exit}", render::human_ago(*t, now, lang)),
                )],
            ));
        }
        if running
            && let Some(code) = evs
                .iter()
                .rev()
                .find(|(_, a, _)| a == "die")
                .and_then(|(_, _, c)| c.as_deref()?.parse::<i64>().ok())
        {
            f.exit_code = Some(code);
            f.var("exit_code", code.to_string());
        }
        if evs.iter().any(|(_, a, _)| a == "oom") && f.oom_killed.is_none() {
            f.oom_killed = Some(true);
        }
    }

    // Memory limit against use.
    let limit = hc.memory.filter(|m| *m > 0).map(|m| m as u64);
    if let Some(l) = limit {
        f.var("limit", render::human_bytes(l));
    }
    if let Some(sample) = &stats
        && sample.stats.mem_used > 0
    {
        let used = render::human_bytes(sample.stats.mem_used);
        f.var("usage", &used);
        let shown_limit = limit
            .map(render::human_bytes)
            .unwrap_or_else(|| t!(lang, "diagnose.no_limit").to_string());
        // A sample kept from an earlier diagnosis says how old it is.
        let usage = if sample.age.is_zero() {
            used
        } else {
            t!(
                lang,
                "diagnose.memory_sample_age",
                usage = used,
                secs = sample.age.as_secs().max(1)
            )
        };
        lines.push(Say::MemoryLine.fill(lang, &[("usage", &usage), ("limit", &shown_limit)]));
    } else if let Some(l) = limit
        && (running || st.oom_killed == Some(true) || f.oom_killed == Some(true))
    {
        // The limit is evidence on its own; the use is unknown (the engine was late).
        lines.push(
            Say::MemoryLine.fill(lang, &[("usage", "?"), ("limit", &render::human_bytes(l))]),
        );
    }

    // Image platform against the engine's.
    let image_name = d
        .config
        .as_ref()
        .and_then(|c| c.image.clone())
        .unwrap_or_else(|| ops::short_id(&image_id));
    f.var("image", &image_name);
    let image_platform = image.and_then(Result::ok).map(|i| {
        let mut p = format!(
            "{}/{}",
            i.os.unwrap_or_default(),
            i.architecture.unwrap_or_default()
        );
        if let Some(v) = i.variant.filter(|v| !v.is_empty()) {
            p.push('/');
            p.push_str(&v);
        }
        p
    });
    let engine_platform = version.and_then(Result::ok).map(|v| {
        format!(
            "{}/{}",
            v.os.unwrap_or_default(),
            v.arch.unwrap_or_default()
        )
    });
    if let (Some(i), Some(e)) = (&image_platform, &engine_platform) {
        f.var("image_platform", i);
        f.var("engine_arch", e);
        if arch_of(i) != arch_of(e) {
            f.flag("arch_mismatch");
            lines.push(Say::PlatformLine.fill(lang, &[("image", i), ("engine", e)]));
        }
    }

    // Read-only root file system and mounts.
    if hc.readonly_rootfs == Some(true) {
        f.flag("read_only_rootfs");
        lines.push(Say::ReadOnlyRoot.get(lang).to_string());
    }
    for m in d.mounts.iter().flatten() {
        if m.rw == Some(false) {
            lines.push(t!(
                lang,
                "diagnose.mount_read_only",
                path = m.destination.clone().unwrap_or_default()
            ));
        }
    }

    // A port the engine could not bind: who holds it.
    if let Some(port) = conflicting_port(&f.texts).or_else(|| {
        (status == "created" && st.error.is_some())
            .then(|| first_host_port(d))
            .flatten()
    }) {
        f.var("port", &port);
        if let Some(holder) = bounded(port_holder(eng, &port, &id)).await.flatten() {
            f.var("holder", &holder);
            f.flag("port_conflict");
            lines.push(Say::PortHeldBy.fill(lang, &[("port", &port), ("holder", &holder)]));
        }
    }

    // Engine disk use, only when something ran out of space.
    if f.texts
        .iter()
        .any(|t| t.to_lowercase().contains("no space left"))
        && let Some(Ok(imgs)) = bounded(eng.client.list_images(None::<qp::ListImagesOptions>)).await
    {
        let size: u64 = imgs.iter().map(|i| i.size.max(0) as u64).sum();
        let disk = t!(
            lang,
            "diagnose.images_disk",
            n = imgs.len(),
            size = render::human_bytes(size)
        );
        f.var("disk", &disk);
        lines.push(Say::DiskLine.fill(lang, &[("disk", &disk)]));
    }

    let healthy =
        running && health.as_deref() != Some("unhealthy") && !f.flags.contains("restart_loop");
    Evidence {
        target: name.clone(),
        next: vec![
            format!("/logs {name}"),
            format!("/docker inspect {name}"),
            "/docker events --since 1h".to_string(),
        ],
        name,
        facts: f,
        healthy,
        lines,
    }
}

/// A call bounded by [`CALL_TIMEOUT`]; `None` when it took too long.
async fn bounded<T>(fut: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(CALL_TIMEOUT, fut).await.ok()
}

/// `amd64` from `linux/amd64/v3`.
fn arch_of(platform: &str) -> &str {
    let arch = platform.split('/').nth(1).unwrap_or(platform);
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

/// The host port a bind error names.
fn conflicting_port(texts: &[String]) -> Option<String> {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = RE
        .get_or_init(|| {
            regex::Regex::new(
                r"(?i)(?:bind for [\d.:\[\]]*:(\d+) failed|listen tcp[46]? [\d.\[\]:]*:(\d+): bind: address already in use)",
            )
            .ok()
        })
        .as_ref()?;
    texts.iter().find_map(|t| {
        re.captures(t)
            .and_then(|c| c.get(1).or_else(|| c.get(2)))
            .map(|m| m.as_str().to_string())
    })
}

/// The first host port the container asks to publish.
fn first_host_port(d: &ContainerInspectResponse) -> Option<String> {
    d.host_config
        .as_ref()?
        .port_bindings
        .as_ref()?
        .values()
        .flatten()
        .flatten()
        .find_map(|b| b.host_port.clone().filter(|p| !p.is_empty()))
}

/// Another container publishing `port` on the host.
async fn port_holder(eng: &Engine, port: &str, own_id: &str) -> Option<String> {
    let filters = HashMap::from([("publish", vec![port.to_string()])]);
    let opts = qp::ListContainersOptionsBuilder::default()
        .filters(&filters)
        .build();
    let list = eng.client.list_containers(Some(opts)).await.ok()?;
    list.iter()
        .find(|c| c.id.as_deref() != Some(own_id))
        .map(ops::summary_name)
}

/// The container's events in the last hour: (time, action, exit code).
async fn container_events(eng: &Engine, id: &str) -> Vec<(i64, String, Option<String>)> {
    let now = chrono::Utc::now().timestamp();
    let filters = HashMap::from([
        ("container", vec![id.to_string()]),
        ("type", vec!["container".to_string()]),
    ]);
    let opts = qp::EventsOptionsBuilder::default()
        .since(&(now - EVENTS_SECS).to_string())
        .until(&now.to_string())
        .filters(&filters)
        .build();
    let mut stream = eng.client.events(Some(opts));
    let mut out = Vec::new();
    while let Some(Ok(ev)) = stream.next().await {
        let action = ev.action.unwrap_or_default();
        // `health_status: unhealthy` and `exec_start: …` carry their detail after a colon.
        let base = action.split(':').next().unwrap_or("").trim().to_string();
        if !matches!(
            base.as_str(),
            "die" | "oom" | "kill" | "health_status" | "restart" | "start" | "stop"
        ) {
            continue;
        }
        let exit = ev
            .actor
            .and_then(|a| a.attributes)
            .and_then(|a| a.get("exitCode").cloned());
        out.push((
            ev.time.unwrap_or(now),
            if base == "health_status" {
                action
            } else {
                base
            },
            exit,
        ));
        if out.len() > 200 {
            out.remove(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_compare_by_name() {
        assert_eq!(arch_of("linux/amd64"), "amd64");
        assert_eq!(arch_of("linux/x86_64"), "amd64");
        assert_eq!(arch_of("linux/arm64/v8"), "arm64");
        assert_ne!(arch_of("linux/arm64"), arch_of("linux/amd64"));
    }

    #[test]
    fn bind_errors_name_their_port() {
        let t = vec![
            "driver failed programming external connectivity on endpoint x (abc): Bind for 0.0.0.0:18080 failed: port is already allocated".to_string(),
        ];
        assert_eq!(conflicting_port(&t).as_deref(), Some("18080"));
        let t = vec!["listen tcp4 0.0.0.0:80: bind: address already in use".to_string()];
        assert_eq!(conflicting_port(&t).as_deref(), Some("80"));
        assert_eq!(conflicting_port(&["nothing".to_string()]), None);
    }
}
