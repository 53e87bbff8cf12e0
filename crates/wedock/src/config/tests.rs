//! Loading and validation, each error named by its key.

use super::*;

fn load_str(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, text).unwrap();
    Config::load(
        Some(&p),
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
}

#[test]
fn empty_config_gives_defaults() {
    let c = Config::load(None, std::iter::empty()).unwrap();
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.store.data_dir, PathBuf::from("./wedock-data"));
}

#[test]
fn unknown_key_is_named() {
    let e = load_str("[server]\nlisten = \"127.0.0.1:1\"\nlistne = 3\n", &[]).unwrap_err();
    assert_eq!(e.key, "server.listne");
    assert!(e.reason.contains("listne"), "{e}");
}

#[test]
fn docker_keys_are_checked_by_name() {
    let e = load_str("[docker]\nlogs_tail = 0\n", &[]).unwrap_err();
    assert_eq!(e.key, "docker.logs_tail");
    let e = load_str("[docker]\nexec_allowlist = [\"ok\", \"sh -c 'x\"]\n", &[]).unwrap_err();
    assert_eq!(e.key, "docker.exec_allowlist[1]");
    let e = load_str("[[docker.hosts]]\nname = \"@a\"\nendpoint = \"env\"\n", &[]).unwrap_err();
    assert_eq!(e.key, "docker.hosts[0].name");
}

#[test]
fn wrong_type_is_named() {
    let e = load_str("[server]\nbody_limit_bytes = \"big\"\n", &[]).unwrap_err();
    assert_eq!(e.key, "server.body_limit_bytes", "{e}");
}

#[test]
fn malformed_aes_key_is_named_and_secret_not_echoed() {
    let text = "[wecom.app]\ncorp_id = \"ww1\"\nagent_id = 1\nsecret = \"SUPERSECRETVALUE\"\ntoken = \"tok\"\nencoding_aes_key = \"short\"\n";
    let e = load_str(text, &[]).unwrap_err();
    assert_eq!(e.key, "wecom.app.encoding_aes_key");
    assert!(!e.to_string().contains("SUPERSECRETVALUE"));
    assert!(!e.to_string().contains("short\""));
}

#[test]
fn missing_env_secret_is_named() {
    let text = "[wecom.app]\ncorp_id = \"ww1\"\nagent_id = 1\nsecret = { env = \"WEDOCK_TEST_NOPE_9\" }\ntoken = \"tok\"\nencoding_aes_key = \"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C\"\n";
    let e = load_str(text, &[]).unwrap_err();
    assert_eq!(e.key, "wecom.app.secret");
    assert!(e.reason.contains("WEDOCK_TEST_NOPE_9"));
}

#[test]
fn env_overrides_apply_with_types() {
    let c = load_str(
        "[server]\nlisten = \"127.0.0.1:1\"\n",
        &[
            ("WEDOCK_SERVER__LISTEN", "0.0.0.0:9090"),
            ("WEDOCK_DOCKER__READ_ONLY", "true"),
            ("WEDOCK_CONFIG", "/ignored"),
            ("WEDOCK_TEST_SOMETHING", "not a key"),
        ],
    )
    .unwrap();
    assert_eq!(c.server.listen.to_string(), "0.0.0.0:9090");
    assert!(c.docker.read_only);
}

#[test]
fn alert_route_errors_are_named() {
    let robot = "[[wecom.robots]]\nname = \"ops\"\nkey = \"k\"\n";
    let e = load_str(
        &format!("{robot}[[alerts.routes]]\nname = \"r\"\ntargets = [\"opz\"]\n"),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key, "alerts.routes[0].targets[0]");
    assert!(e.reason.contains("opz"));
    let e = load_str(
        &format!(
            "{robot}[[alerts.routes]]\nname = \"r\"\ntargets = [\"ops\"]\ntemplate = \"{{{{ x\"\n"
        ),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key, "alerts.routes[0].template");
    let e = load_str(
        &format!("{robot}[[alerts.routes]]\nname = \"r\"\ntargets = [\"ops\"]\n[alerts.routes.match]\nevnt = [\"die\"]\n"),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key, "alerts.routes[0].match.evnt");
    let e = load_str("[alerts]\nlang = \"fr\"\n", &[]).unwrap_err();
    assert_eq!(e.key, "alerts.lang");
    let ok = load_str(
        &format!("{robot}[[alerts.routes]]\nname = \"r\"\ntargets = [\"ops\", \"aibot:c1\"]\nrepeat_interval = \"30m\"\n[alerts.routes.match]\nevent = [\"die\"]\nexit_code = [137]\n"),
        &[],
    )
    .unwrap();
    assert_eq!(ok.alerts.routes[0].matches.exit_code, vec![137]);
}

#[test]
fn bad_robot_url_is_named() {
    let e = load_str(
        "[[wecom.robots]]\nname = \"ops\"\nurl = \"not a url\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key, "wecom.robots[0].url");
}

#[test]
fn weixin_keys_are_checked_by_name() {
    let ok = load_str(
        "[weixin]\nenabled = true\n[[weixin.accounts]]\nname = \"main\"\n",
        &[],
    );
    assert_eq!(ok.unwrap().weixin.per_inbound, 10);
    let e = load_str("[weixin]\nper_inbound = 11\n", &[]).unwrap_err();
    assert_eq!(e.key, "weixin.per_inbound");
    let e = load_str("[[weixin.accounts]]\nname = \"Main Phone\"\n", &[]).unwrap_err();
    assert_eq!(e.key, "weixin.accounts[0].name");
    let e = load_str(
        "[[weixin.accounts]]\nname = \"a\"\n[[weixin.accounts]]\nname = \"a\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key, "weixin.accounts[1].name");
    let e = load_str("[[weixin.accounts]]\nname = \"a\"\ntoken = \"x\"\n", &[]).unwrap_err();
    assert!(e.key.starts_with("weixin.accounts"), "{e}");
}

#[test]
fn alertmanager_section_takes_the_receiver_credentials_and_names_conflicts() {
    let c = load_str(
        "[alerts.alertmanager]\nurl = \"http://am:9093\"\ntoken = \"t1\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.alerts.receiver_token().map(|t| t.expose()), Some("t1"));
    assert_eq!(
        c.alerts.alertmanager.url.unwrap().as_str(),
        "http://am:9093/"
    );
    // The old keys keep working.
    let c = load_str(
        "[alerts]\nalertmanager_basic_user = \"am\"\nalertmanager_basic_password = \"p\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.alerts.receiver_basic().map(|(u, _)| u), Some("am"));
    let e = load_str(
        "[alerts]\nalertmanager_token = \"a\"\n[alerts.alertmanager]\ntoken = \"b\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key, "alerts.alertmanager.token");
    let e = load_str("[alerts.alertmanager]\nurl = \"ftp://am\"\n", &[]).unwrap_err();
    assert_eq!(e.key, "alerts.alertmanager.url");
    let e = load_str("[alerts.alertmanager]\nbasic_user = \"am\"\n", &[]).unwrap_err();
    assert_eq!(e.key, "alerts.alertmanager.basic_password");
}

#[test]
fn oncall_schedules_are_checked_by_key() {
    let ok = "[[oncall.schedules]]\nname = \"primary\"\nrotation = \"daily\"\nmembers = [\"zhangsan\", \"lisi\"]\n[[oncall.schedules.overrides]]\nuser = \"wangwu\"\nstart = \"2026-01-01 09:00\"\nend = \"2026-01-02 09:00\"\n";
    let c = load_str(ok, &[]).unwrap();
    let s = c.oncall_schedule("primary").unwrap();
    assert_eq!(s.tz, chrono_tz::Asia::Shanghai);
    assert_eq!(s.overrides.len(), 1);
    let bad = |from: &str, to: &str| load_str(&ok.replace(from, to), &[]).unwrap_err();
    let e = bad("rotation = \"daily\"", "timezone = \"Mars/Base\"");
    assert_eq!(e.key, "oncall.schedules[0].timezone");
    let e = bad("[\"zhangsan\", \"lisi\"]", "[]");
    assert_eq!(e.key, "oncall.schedules[0].members");
    let e = bad("rotation = \"daily\"", "handoff = \"25:00\"");
    assert_eq!(e.key, "oncall.schedules[0].handoff");
    let e = bad("rotation = \"daily\"", "rotation = \"hourly\"");
    assert_eq!(e.key, "oncall.schedules[0].rotation");
    let e = bad("end = \"2026-01-02 09:00\"", "end = \"tomorrow\"");
    assert_eq!(e.key, "oncall.schedules[0].overrides[0].end");
    let routed = format!(
        "{ok}[[alerts.routes]]\nname = \"r\"\ntargets = [\"ops\"]\noncall = \"secondary\"\n[[wecom.robots]]\nname = \"ops\"\nkey = \"k\"\n"
    );
    let e = load_str(&routed, &[]).unwrap_err();
    assert_eq!(e.key, "alerts.routes[0].oncall");
}

#[test]
fn escalation_steps_are_checked_by_key() {
    let sched = "[[oncall.schedules]]\nname = \"primary\"\nmembers = [\"zhangsan\", \"lisi\"]\n";
    let robot = "[[wecom.robots]]\nname = \"ops\"\nkey = \"k\"\n";
    let step = |body: &str| format!("{sched}{robot}[[alerts.escalations]]\n{body}\n");
    // Durations as text or minutes; notify defaults to the person on duty.
    let c = load_str(&step("after = \"90s\""), &[]).unwrap();
    let e = &c.alerts.escalations[0];
    assert_eq!(e.delay(), Some(std::time::Duration::from_secs(90)));
    assert_eq!(e.notify_kind(true), Some(Notify::OnCall));
    assert_eq!(e.schedule_name(&c), Some("primary"));
    assert!(e.severity.contains("critical") && !e.severity.contains("warning"));
    let c = load_str(&step("after_secs = 30\noncall = \"primary\""), &[]).unwrap();
    assert_eq!(
        c.alerts.escalations[0].delay(),
        Some(std::time::Duration::from_secs(30))
    );
    assert_eq!(c.alerts.escalations[0].schedule.as_deref(), Some("primary"));
    let c = load_str(&step("after_minutes = 10\nnotify = \"all\""), &[]).unwrap();
    assert_eq!(
        c.alerts.escalations[0].delay(),
        Some(std::time::Duration::from_secs(600))
    );
    for (body, key) in [
        ("after = \"soon\"", "alerts.escalations[0].after"),
        ("after = 0", "alerts.escalations[0].after"),
        ("after = \"30d\"", "alerts.escalations[0].after"),
        ("notify = \"all\"", "alerts.escalations[0].after"),
        ("after = 5\nafter_secs = 5", "alerts.escalations[0].after"),
        (
            "after = 5\nnotify = \"pager\"",
            "alerts.escalations[0].notify",
        ),
        (
            "after = 5\nschedule = \"nope\"",
            "alerts.escalations[0].schedule",
        ),
        (
            "after = 5\nnotify = \"users\"",
            "alerts.escalations[0].users",
        ),
        (
            "after = 5\nnotify = \"users\"\nusers = [\"a b\"]",
            "alerts.escalations[0].users[0]",
        ),
        (
            "after = 5\nnotify = \"all\"\ntargets = [\"nosuch\"]",
            "alerts.escalations[0].targets[0]",
        ),
        (
            "after = 5\nseverity = [\"fatal\"]",
            "alerts.escalations[0].severity",
        ),
    ] {
        let e = load_str(&step(body), &[]).unwrap_err();
        assert_eq!(e.key, key, "{body}: {e}");
    }
    // Two schedules: a step reading one must name it.
    let two = format!(
        "{sched}[[oncall.schedules]]\nname = \"db\"\nmembers = [\"wangwu\"]\n{robot}[[alerts.escalations]]\nafter = 5\n"
    );
    assert_eq!(
        load_str(&two, &[]).unwrap_err().key,
        "alerts.escalations[0].schedule"
    );
    // No schedule at all and nothing else named: @all in the group.
    let c = load_str(&format!("{robot}[[alerts.escalations]]\nafter = 5\n"), &[]).unwrap();
    assert_eq!(
        c.alerts.escalations[0].notify_kind(false),
        Some(Notify::All)
    );
}
