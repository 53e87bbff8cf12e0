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
