//! The likely cause of an alert, from what the watcher already put in it (kind, exit code,
//! restarts, the waiting or termination message, the attached log lines): no call to an
//! engine or cluster, so it costs microseconds on the alert path. The alert renderer adds
//! the two lines this returns.

use super::Alert;
use crate::i18n::Lang;
use crate::knowledge::say::Say;
use crate::knowledge::signatures::{self, Facts, catalog};

/// Alert kinds that get a likely cause.
const KINDS: &[&str] = &[
    "die",
    "oom",
    "unhealthy",
    "restart_loop",
    "crashloop",
    "image_pull",
    "config_error",
    "pending",
];

/// Captured values worth naming beside the cause, most specific first.
const DETAIL_VARS: &[&str] = &[
    "addr", "host", "port", "cmd", "setting", "path", "missing", "image", "resource", "taint",
    "pvc",
];

/// `可能原因：…` and `回复 /diagnose NAME 查看详情`, or `None` for alerts this does not
/// apply to (recoveries, Alertmanager, hooks) and when nothing matched.
pub fn likely_cause(a: &Alert, lang: Lang) -> Option<(String, String)> {
    if !KINDS.contains(&a.kind.as_str()) {
        return None;
    }
    let facts = facts_of(a);
    let matches = catalog().match_facts(&facts);
    let m = matches.first()?;
    let mut cause = m.title(lang).to_string();
    if let Some(v) = DETAIL_VARS.iter().find_map(|k| m.vars.get(*k)) {
        let v = signatures::shorten(v, 80);
        cause.push_str(&t!(lang, "diagnose.detail", detail = v));
    }
    Some((
        Say::LikelyCause.fill(lang, &[("cause", &cause)]),
        Say::ReplyForDetails.fill(lang, &[("name", &target_of(a)?)]),
    ))
}

/// The `/diagnose` argument for the alert's subject.
fn target_of(a: &Alert) -> Option<String> {
    let subject = a.container.as_deref()?;
    if a.source == "kubernetes" {
        let pod = subject.split('/').next().unwrap_or(subject);
        return Some(match &a.project {
            Some(ns) => format!("pod/{pod} -n {ns}"),
            None => format!("pod/{pod}"),
        });
    }
    Some(match &a.host {
        Some(h) => format!("@{h} {subject}"),
        None => subject.to_string(),
    })
}

/// The facts an alert carries, in the catalogue's terms.
fn facts_of(a: &Alert) -> Facts {
    let mut f = Facts {
        exit_code: a.exit_code,
        restarts: a.restarts.map(i64::from),
        ..Facts::default()
    };
    let k8s = a.source == "kubernetes";
    match a.kind.as_str() {
        "oom" => {
            f.oom_killed = Some(true);
            f.reasons.push("OOMKilled".into());
        }
        "die" => {
            f.oom_killed = Some(false);
            f.status = Some("exited".into());
        }
        "unhealthy" => f.health = Some("unhealthy".into()),
        "restart_loop" => f.flag("restart_loop"),
        "crashloop" => f.waiting_reasons.push("CrashLoopBackOff".into()),
        "image_pull" => f.waiting_reasons.push("ImagePullBackOff".into()),
        "config_error" => f.waiting_reasons.push("CreateContainerConfigError".into()),
        "pending" => f.status = Some("Pending".into()),
        _ => {}
    }
    if k8s && a.kind != "oom" {
        f.oom_killed = None;
    }
    if let Some(t) = &a.text {
        f.texts.push(t.clone());
        f.var("message", signatures::shorten(t, 200));
    }
    if let Some(logs) = &a.logs {
        let lines: Vec<&str> = logs
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if let Some(l) = lines.last() {
            f.var("last_error", signatures::shorten(l, 200));
        }
        f.texts.extend(lines.iter().rev().map(|l| l.to_string()));
    }
    if let Some(i) = &a.image {
        f.var("image", i);
    }
    if let Some(c) = a.exit_code {
        f.var("exit_code", c.to_string());
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::Severity;

    fn alert(source: &str, kind: &str) -> Alert {
        let mut a = Alert::new(source, kind, Severity::Critical, "e1".into());
        a.container = Some("api".into());
        a.host = Some("local".into());
        a
    }

    #[test]
    fn a_death_names_the_refused_dependency() {
        let mut a = alert("docker", "die");
        a.exit_code = Some(1);
        a.logs =
            Some("starting\npanic: dial tcp 10.0.0.5:5432: connect: connection refused\n".into());
        let (cause, hint) = likely_cause(&a, Lang::Zh).unwrap();
        assert_eq!(cause, "可能原因：依赖服务拒绝连接（10.0.0.5:5432）");
        assert_eq!(hint, "回复 /diagnose @local api 查看详情");
    }

    #[test]
    fn oom_and_k8s_kinds_have_causes() {
        let a = alert("docker", "oom");
        let (cause, _) = likely_cause(&a, Lang::En).unwrap();
        assert!(cause.contains("OOMKilled"), "{cause}");
        let mut p = alert("kubernetes", "pending");
        p.container = Some("web-1".into());
        p.project = Some("shop".into());
        p.text = Some("0/3 nodes are available: 3 Insufficient memory.".into());
        let (cause, hint) = likely_cause(&p, Lang::En).unwrap();
        assert!(
            cause.contains("not enough resources") && cause.contains("memory"),
            "{cause}"
        );
        assert_eq!(hint, "Reply /diagnose pod/web-1 -n shop for details");
        let mut c = alert("kubernetes", "image_pull");
        c.container = Some("web-1/app".into());
        c.text = Some("Back-off pulling image \"registry.local/web:9\"".into());
        let (cause, _) = likely_cause(&c, Lang::Zh).unwrap();
        assert!(cause.contains("ImagePullBackOff"), "{cause}");
    }

    #[test]
    fn recoveries_get_nothing() {
        assert!(likely_cause(&alert("docker", "recovered"), Lang::Zh).is_none());
        assert!(likely_cause(&alert("alertmanager", "firing"), Lang::Zh).is_none());
    }
}
