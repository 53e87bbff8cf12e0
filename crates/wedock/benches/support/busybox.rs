//! The local engine and the busybox test image (`tests/images/busybox`) the Docker benches
//! run their containers from; built on first use, like the integration tests do.

use std::path::PathBuf;
use std::process::Command;

pub const IMAGE: &str = "wedock-test/busybox:latest";

pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

pub fn ensure_image() {
    if docker(&["image", "inspect", IMAGE]).status.success() {
        return;
    }
    let ctx = tempfile::tempdir().expect("tempdir");
    let dockerfile =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/images/busybox/Dockerfile");
    std::fs::copy(dockerfile, ctx.path().join("Dockerfile")).expect("Dockerfile");
    std::fs::copy("/bin/busybox", ctx.path().join("busybox"))
        .expect("/bin/busybox (apt-get install busybox-static)");
    let out = docker(&[
        "build",
        "-q",
        "-t",
        IMAGE,
        &ctx.path().display().to_string(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
