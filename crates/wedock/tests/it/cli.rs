//! The `wedock` command line as a user runs it.

use crate::support::wedock_bin;
use std::process::Command;

fn run(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    Command::new(wedock_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("WEDOCK_CONFIG")
        .output()
        .expect("run wedock")
}

#[test]
fn ask_json_has_the_documented_shape() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["ask", "--json", "/ping"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "command");
    assert_eq!(v["matched"], true);
    assert!(v["reply"].as_str().unwrap().contains("pong"));
    assert!(v["sources"].is_array());
    // State lands in ./wedock-data by default.
    assert!(dir.path().join("wedock-data/wedock.sqlite3").exists());
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn version_and_help_are_complete() {
    let dir = tempfile::tempdir().unwrap();
    let v = run(&["version"], dir.path());
    let text = String::from_utf8_lossy(&v.stdout);
    assert!(v.status.success());
    assert!(
        text.starts_with("wedock ") && text.contains("commit"),
        "{text}"
    );
    for sub in [
        "serve",
        "ask",
        "chat",
        "check",
        "version",
        "healthcheck",
        "kb",
    ] {
        let h = run(&[sub, "--help"], dir.path());
        assert!(h.status.success(), "{sub} --help failed");
        assert!(h.stdout.len() > 40, "{sub} --help too short");
    }
    let top = run(&["--help"], dir.path());
    let top = String::from_utf8_lossy(&top.stdout);
    for sub in ["serve", "ask", "chat", "check", "version"] {
        assert!(top.contains(sub), "{sub} missing from --help");
    }
}

#[test]
fn check_names_the_offending_key_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[server]\nlisen = \"x\"\n", "server.lisen"),
        (
            "[server]\nbody_limit_bytes = \"big\"\n",
            "server.body_limit_bytes",
        ),
        (
            "[wecom.app]\ncorp_id = \"ww1\"\nagent_id = 1\nsecret = { env = \"NOPE_NOT_SET_42\" }\ntoken = \"t\"\nencoding_aes_key = \"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C\"\n",
            "wecom.app.secret",
        ),
        (
            "[wecom.app]\ncorp_id = \"ww1\"\nagent_id = 1\nsecret = \"s3cr3t-value\"\ntoken = \"t\"\nencoding_aes_key = \"tooshort\"\n",
            "wecom.app.encoding_aes_key",
        ),
        (
            "[[wecom.robots]]\nname = \"ops\"\nurl = \"::not a url\"\n",
            "wecom.robots[0].url",
        ),
        ("this is = = not toml", "line 1"),
    ];
    for (toml, key) in cases {
        let p = dir.path().join("c.toml");
        std::fs::write(&p, toml).unwrap();
        let out = run(&["check", "--config", p.to_str().unwrap()], dir.path());
        assert_eq!(out.status.code(), Some(2), "{toml}");
        let err = stderr(&out);
        assert!(err.contains(key), "expected {key} in: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(!err.contains("s3cr3t-value"), "secret echoed: {err}");
        // `serve` refuses the same config with the same message.
        let serve = run(&["serve", "--config", p.to_str().unwrap()], dir.path());
        assert_eq!(serve.status.code(), Some(2));
        assert!(stderr(&serve).contains(key));
    }
    let ok = dir.path().join("ok.toml");
    std::fs::write(&ok, include_str!("../../../../config.example.toml")).unwrap();
    let out = run(&["check", "--config", ok.to_str().unwrap()], dir.path());
    assert!(
        out.status.success(),
        "example config must be valid: {}",
        stderr(&out)
    );
}

#[test]
fn unusable_data_dir_and_corrupt_database_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the data directory should be.
    std::fs::write(dir.path().join("blocker"), b"x").unwrap();
    let out = Command::new(wedock_bin())
        .args(["ask", "/ping"])
        .current_dir(dir.path())
        .env("WEDOCK_STORE__DATA_DIR", "\"blocker/data\"")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot create data directory"),
        "{}",
        stderr(&out)
    );

    // A corrupted database is refused and left untouched.
    let data = dir.path().join("wedock-data");
    std::fs::create_dir_all(&data).unwrap();
    let garbage = vec![0x42u8; 4096];
    std::fs::write(data.join("wedock.sqlite3"), &garbage).unwrap();
    let out = run(&["ask", "/ping"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("not a database"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(std::fs::read(data.join("wedock.sqlite3")).unwrap(), garbage);
}

#[test]
fn serve_reports_a_taken_port_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = Command::new(wedock_bin())
        .args(["serve"])
        .current_dir(dir.path())
        .env("WEDOCK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("WEDOCK_DOCKER__ENABLED", "false")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("already in use"), "{}", stderr(&out));
    drop(taken);

    let port = crate::support::free_port();
    let mut child = Command::new(wedock_bin())
        .args(["serve"])
        .current_dir(dir.path())
        .env("WEDOCK_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("WEDOCK_DOCKER__ENABLED", "false")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut healthy = false;
    for _ in 0..200 {
        let h = Command::new(wedock_bin())
            .args(["healthcheck", "--addr", &format!("127.0.0.1:{port}")])
            .output()
            .unwrap();
        if h.status.success() {
            healthy = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(healthy, "server never became healthy");
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "graceful shutdown must exit 0, got {status}"
    );
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("shutdown requested") && err.contains("stopped"),
        "{err}"
    );
}

#[test]
fn chat_reads_lines_and_survives_bad_input() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(wedock_bin())
        .arg("chat")
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.as_mut().unwrap();
    stdin
        .write_all(b"/ping\n\xff\xfe bad bytes\n/whoami\n")
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pong") && text.contains("admin"), "{text}");
    assert!(stderr(&out).contains("not valid UTF-8"));
}
