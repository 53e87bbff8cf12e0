//! Records the git commit so `wedock version` can say which build this is.
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    let commit = std::env::var("WEDOCK_GIT_COMMIT").unwrap_or(commit);
    println!("cargo:rustc-env=WEDOCK_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-env-changed=WEDOCK_GIT_COMMIT");
    println!("cargo:rerun-if-changed=../../.git/HEAD");
    println!("cargo:rerun-if-changed=../../.git/refs");
}
