//! Alert text: the built-in layout in Chinese or English, severity markers and colours where
//! the format has them, and user templates (minijinja) with documented variables.

use super::{Alert, Severity};
use crate::i18n::Lang;
use crate::render::Format;
use crate::render::escape::{self, Target};

/// Lines starting with this mark begin the log section; digests leave it out.
pub const LOG_MARK: &str = "📄";
/// Budget for attached logs so that a single alert fits one robot message.
const LOG_BUDGET: usize = 1500;

/// What an exit code usually means.
pub fn exit_meaning(code: i64, lang: Lang) -> String {
    let meaning = match code {
        0 => t!(lang, "alert.exit_0"),
        1 => t!(lang, "alert.exit_1"),
        2 => t!(lang, "alert.exit_2"),
        125 => t!(lang, "alert.exit_125"),
        126 => t!(lang, "alert.exit_126"),
        127 => t!(lang, "alert.exit_127"),
        137 => t!(lang, "alert.exit_137"),
        139 => t!(lang, "alert.exit_139"),
        143 => t!(lang, "alert.exit_143"),
        c if c > 128 && c < 160 => return t!(lang, "alert.exit_signal", signal = c - 128),
        _ => t!(lang, "alert.exit_other"),
    };
    meaning.to_string()
}

fn kind_title(kind: &str, lang: Lang) -> &'static str {
    match kind {
        "die" => t!(lang, "alert.kind_die"),
        "oom" => t!(lang, "alert.kind_oom"),
        "unhealthy" => t!(lang, "alert.kind_unhealthy"),
        "healthy" => t!(lang, "alert.kind_healthy"),
        "restart_loop" => t!(lang, "alert.kind_restart_loop"),
        "stop" => t!(lang, "alert.kind_stop"),
        "recovered" => t!(lang, "alert.kind_recovered"),
        "daemon_down" => t!(lang, "alert.kind_daemon_down"),
        "daemon_up" => t!(lang, "alert.kind_daemon_up"),
        "crashloop" => t!(lang, "alert.kind_crashloop"),
        "image_pull" => t!(lang, "alert.kind_image_pull"),
        "config_error" => t!(lang, "alert.kind_config_error"),
        "pending" => t!(lang, "alert.kind_pending"),
        "job_failed" => t!(lang, "alert.kind_job_failed"),
        "node_not_ready" => t!(lang, "alert.kind_node_not_ready"),
        "node_pressure" => t!(lang, "alert.kind_node_pressure"),
        "deployment_unavailable" => t!(lang, "alert.kind_deployment_unavailable"),
        "event" => t!(lang, "alert.kind_event"),
        "firing" => t!(lang, "alert.kind_firing"),
        "resolved" => t!(lang, "alert.kind_resolved"),
        _ => t!(lang, "alert.kind_other"),
    }
}

fn colour(sev: Severity) -> &'static str {
    match sev {
        Severity::Critical | Severity::Warning => "warning",
        Severity::Info => "comment",
        Severity::Resolved => "info",
    }
}

fn headline(a: &Alert, format: Format, lang: Lang) -> String {
    let what = kind_title(&a.kind, lang);
    let what = match (&a.kind[..], &a.title) {
        ("firing" | "resolved" | "hook", Some(t)) => format!("{what}: {t}"),
        _ => what.to_string(),
    };
    // A hook's message is its text: keep its first line in the headline (digests keep only
    // headlines).
    let what = match (
        &a.kind[..],
        a.text.as_deref().and_then(|t| t.lines().next()),
    ) {
        ("hook", Some(first)) => {
            let cut = crate::render::floor_char_boundary(first, 200);
            format!("{what} — {}", &first[..cut])
        }
        _ => what,
    };
    let what = match format {
        Format::Markdown => format!("<font color=\"{}\">**{what}**</font>", colour(a.severity)),
        Format::MarkdownV2 => format!("**{what}**"),
        Format::Text => what,
    };
    let mut line = format!("{} {what}", a.severity.marker());
    if let Some(c) = &a.container {
        line.push_str(&format!(" {c}"));
    }
    if let Some(code) = a.exit_code {
        line.push_str(&format!(" (exit {code} {})", exit_meaning(code, lang)));
    }
    let place = match (&a.host, &a.project) {
        (Some(h), Some(p)) => format!(" @{h}/{p}"),
        (Some(h), None) => format!(" @{h}"),
        (None, Some(p)) => format!(" @{p}"),
        _ => String::new(),
    };
    line.push_str(&place);
    line
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S %:z")
                .to_string()
        })
        .unwrap_or_default()
}

/// `a` with every field that came from outside (containers, pods, Alertmanager, hooks)
/// escaped for `format`, so it can only be shown, never format the message. `logs` is
/// escaped too when `logs_inline` (templates put it where they like); otherwise it is left
/// for [`escape::block`].
fn shown(a: &Alert, format: Format, logs_inline: bool) -> Alert {
    let t = Target::from(format);
    a.map_shown(logs_inline, |s| escape::inline(t, s))
}

/// The built-in message for one alert.
pub fn one(a: &Alert, format: Format, lang: Lang) -> String {
    let likely = likely_cause_lines(a, format, lang);
    let a = &shown(a, format, false);
    let q = if format == Format::Text { "" } else { "> " };
    let mut out = vec![headline(a, format, lang)];
    let mut kv = |k: &str, v: String| out.push(format!("{q}{k}: {v}"));
    if let Some(i) = &a.image {
        kv(t!(lang, "alert.field_image"), i.clone());
    }
    if let Some(s) = &a.signal {
        kv(t!(lang, "alert.field_signal"), s.clone());
    }
    if let Some(r) = a.restarts {
        kv(t!(lang, "alert.field_restarts"), r.to_string());
    }
    if a.kind == "oom" {
        kv("OOM", t!(lang, "alert.oom_yes").into());
    }
    if let Some(t) = &a.text {
        kv(t!(lang, "alert.field_details"), t.clone());
    }
    for (k, v) in &a.labels {
        if a.source == "alertmanager" && k != "alertname" {
            kv(k, v.clone());
        }
    }
    if let Some(u) = &a.url {
        kv(t!(lang, "alert.field_link"), u.clone());
    }
    kv(t!(lang, "alert.field_time"), when(a.at));
    out.extend(likely.into_iter().map(|l| format!("{q}{l}")));
    // Where there are no buttons, the message says what to type.
    out.extend(crate::alert::incident::command_hint(
        std::slice::from_ref(a),
        format,
        lang,
    ));
    if let Some(logs) = a.logs.as_deref().filter(|l| !l.trim().is_empty()) {
        let logs = crate::render::tail_fit(logs.trim_end(), LOG_BUDGET, lang);
        let n = logs.lines().count();
        out.push(format!("{LOG_MARK} {}", t!(lang, "alert.log_lines", n = n)));
        out.push(escape::block(Target::from(format), &logs));
    }
    out.join("\n")
}

/// "可能原因：…" and "回复 /diagnose NAME 查看详情" from the evidence the alert already
/// carries (see `alert::likely`), escaped for `format`: captured values come from logs.
pub fn likely_cause_lines(a: &Alert, format: Format, lang: Lang) -> Vec<String> {
    match crate::alert::likely::likely_cause(a, lang) {
        Some((cause, hint)) => {
            let t = Target::from(format);
            vec![escape::inline(t, &cause), escape::inline(t, &hint)]
        }
        None => Vec::new(),
    }
}

/// The built-in message for several related alerts: one line each.
pub fn group(alerts: &[Alert], format: Format, lang: Lang) -> String {
    let alerts: &[Alert] = &alerts
        .iter()
        .map(|a| shown(a, format, false))
        .collect::<Vec<_>>();
    let first = &alerts[0];
    let sev = alerts
        .iter()
        .map(|a| a.severity)
        .min_by_key(|s| *s as u8)
        .unwrap_or(first.severity);
    let what = kind_title(&first.kind, lang);
    let place = first
        .project
        .clone()
        .or_else(|| first.host.clone())
        .unwrap_or_else(|| first.source.clone());
    let head = t!(
        lang,
        "alert.group_head",
        what = what,
        place = place,
        n = alerts.len()
    );
    let head = match format {
        Format::Markdown => format!("<font color=\"{}\">**{head}**</font>", colour(sev)),
        Format::MarkdownV2 => format!("**{head}**"),
        Format::Text => head,
    };
    let mut out = vec![format!("{} {head}", sev.marker())];
    for a in alerts {
        let mut line = format!("- {}", a.subject());
        if a.source == "alertmanager" {
            line = format!("- {} {}", a.severity.marker(), a.subject());
            if let Some(i) = a.labels.get("instance") {
                line.push_str(&format!(" ({i})"));
            }
            if let Some(t) = &a.text {
                line.push_str(&format!(": {t}"));
            }
        }
        if let Some(c) = a.exit_code {
            line.push_str(&format!(" exit {c} {}", exit_meaning(c, lang)));
        }
        if first.project.is_some()
            && let Some(h) = &a.host
        {
            line.push_str(&format!(" @{h}"));
        }
        out.push(line);
    }
    out.push(format!(
        "{}: {}",
        t!(lang, "alert.field_time"),
        when(first.at)
    ));
    out.extend(crate::alert::incident::command_hint(alerts, format, lang));
    out.join("\n")
}

/// The variables a route template sees (see docs/alerts.md).
pub fn template_vars(alerts: &[Alert], route: &str, lang: Lang) -> minijinja::Value {
    let enrich = |a: &Alert| {
        let mut v = serde_json::to_value(a).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("marker".into(), a.severity.marker().into());
            o.insert("what".into(), kind_title(&a.kind, lang).into());
            o.insert("time".into(), when(a.at).into());
            if let Some(c) = a.exit_code {
                o.insert("exit_meaning".into(), exit_meaning(c, lang).into());
            }
        }
        v
    };
    let list: Vec<serde_json::Value> = alerts.iter().map(enrich).collect();
    to_value(&serde_json::json!({
        "alert": list.first().cloned().unwrap_or_default(),
        "alerts": list,
        "count": alerts.len(),
        "lang": lang.code(),
        "route": route,
    }))
}

fn to_value(v: &serde_json::Value) -> minijinja::Value {
    use minijinja::Value;
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => Value::from(a.iter().map(to_value).collect::<Vec<_>>()),
        serde_json::Value::Object(o) => Value::from(
            o.iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect::<std::collections::BTreeMap<String, Value>>(),
        ),
    }
}

/// Renders a route template; on error the built-in layout is used and the error logged.
pub fn with_template(
    tpl: &str,
    alerts: &[Alert],
    route: &str,
    format: Format,
    lang: Lang,
) -> String {
    let env = minijinja::Environment::new();
    let escaped: Vec<Alert> = alerts.iter().map(|a| shown(a, format, true)).collect();
    let out = env
        .template_from_str(tpl)
        .and_then(|t| t.render(template_vars(&escaped, route, lang)));
    match out {
        Ok(s) if !s.trim().is_empty() => s,
        Ok(_) | Err(_) => {
            if let Err(e) = out {
                tracing::warn!(route, error = %e, "alert template failed; using the built-in layout");
                metrics::counter!("wedock_alert_template_errors_total").increment(1);
            }
            if alerts.len() == 1 {
                one(&alerts[0], format, lang)
            } else {
                group(alerts, format, lang)
            }
        }
    }
}

/// The lines of a rendered message that a digest keeps: the headline and list items, not
/// details or logs.
pub fn digest_lines(content: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in content.lines().enumerate() {
        if line.starts_with(LOG_MARK) {
            break;
        }
        if i == 0 || line.starts_with("- ") {
            out.push(line.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn die(name: &str, code: i64) -> Alert {
        let mut a = Alert::new("docker", "die", Severity::Critical, name.into());
        a.container = Some(name.into());
        a.host = Some("local".into());
        a.project = Some("shop".into());
        a.exit_code = Some(code);
        a.logs = Some((0..500).map(|i| format!("log line {i}\n")).collect());
        a
    }

    #[test]
    fn exit_codes_are_explained() {
        assert!(exit_meaning(137, Lang::En).contains("SIGKILL"));
        assert!(exit_meaning(139, Lang::En).contains("SIGSEGV"));
        assert!(exit_meaning(127, Lang::Zh).contains("命令不存在"));
        assert_eq!(exit_meaning(130, Lang::En), "killed by signal 2");
    }

    #[test]
    fn one_alert_fits_a_robot_message_with_logs_cut_at_the_head() {
        let s = one(&die("api-1", 1), Format::Markdown, Lang::Zh);
        assert!(s.len() <= 4096, "{}", s.len());
        assert!(s.contains("api-1") && s.contains("应用错误") && s.contains("@local/shop"));
        assert!(s.contains("log line 499") && !s.contains("log line 0\n"));
        assert_eq!(digest_lines(&s).len(), 1);
    }

    #[test]
    fn hostile_fields_cannot_format_the_message_in_any_format() {
        let hostile =
            "```` <@all> [点此处理](http://phish.example) <font color=\"warning\">x</font>";
        let mut a = die("api-1", 1);
        a.source = "alertmanager".into();
        a.title = Some(format!("Disk {hostile}"));
        a.text = Some(hostile.into());
        a.labels.insert("instance".into(), hostile.into());
        a.logs = Some(format!("ok\n{hostile}\n"));
        let inert = |s: &str, links: bool| {
            assert!(!s.contains("<@all>"), "{s}");
            assert!(!s.contains("<font color=\"warning\">x"), "{s}");
            assert!(!links || !s.contains("](http"), "{s}");
        };
        for f in [Format::Markdown, Format::MarkdownV2, Format::Text] {
            let links = f != Format::Text;
            inert(&one(&a, f, Lang::En), links);
            inert(&group(&[a.clone(), a.clone()], f, Lang::Zh), links);
            let t = "{{ alert.title }} {{ alert.text }} {{ alert.logs }}";
            inert(&with_template(t, &[a.clone()], "r", f, Lang::En), links);
        }
        // markdown_v2 logs: a fence longer than the four backticks inside.
        let s = one(&a, Format::MarkdownV2, Lang::En);
        assert!(s.contains("\n`````\nok\n````"), "{s}");
        assert!(s.ends_with("\n`````"), "{s}");
        // The built-in colour of the headline stays.
        assert!(one(&a, Format::Markdown, Lang::En).starts_with("🔴 <font color=\"warning\">**"));
    }

    #[test]
    fn templates_render_and_fall_back() {
        let a = [die("api-1", 137)];
        let s = with_template(
            "{{ alert.marker }} {{ alert.container }} {{ alert.exit_meaning }} {{ count }}",
            &a,
            "r",
            Format::Text,
            Lang::En,
        );
        assert_eq!(
            s,
            "🔴 api-1 killed by SIGKILL (out of memory or docker kill) 1"
        );
        let s = with_template("{{ nope(", &a, "r", Format::Text, Lang::En);
        assert!(s.contains("Container exited"));
    }
}
