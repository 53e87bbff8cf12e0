//! Records the git commit so `wedock version` can say which build this is, and embeds the
//! built-in knowledge base (`knowledge/<area>/*.md`) and the failure signatures
//! (`knowledge/signatures/*.toml`) into the binary.
use std::path::{Path, PathBuf};
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
    embed_knowledge();
}

/// Writes `$OUT_DIR/knowledge_files.rs`: `(relative path, include_str!(…))` for every topic file.
fn embed_knowledge() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.join("../../knowledge");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut out = String::from("pub static BUILTIN_FILES: &[(&str, &str)] = &[\n");
    for (rel, abs) in &files {
        out.push_str(&format!("    ({rel:?}, include_str!({abs:?})),\n"));
    }
    out.push_str("];\n");
    // Failure signatures (`knowledge/signatures/*.toml`), shared by /diagnose and chat.
    let mut sigs = Vec::new();
    let sig_dir = root.join("signatures");
    println!("cargo:rerun-if-changed={}", sig_dir.display());
    if let Ok(entries) = std::fs::read_dir(&sig_dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "toml") {
                let name = entry.file_name().to_string_lossy().to_string();
                let abs = path.canonicalize().unwrap_or(path.clone());
                println!("cargo:rerun-if-changed={}", abs.display());
                sigs.push((
                    format!("signatures/{name}"),
                    abs.to_string_lossy().to_string(),
                ));
            }
        }
    }
    sigs.sort();
    out.push_str("pub static SIGNATURE_FILES: &[(&str, &str)] = &[\n");
    for (rel, abs) in &sigs {
        out.push_str(&format!("    ({rel:?}, include_str!({abs:?})),\n"));
    }
    out.push_str("];\n");
    let dest =
        PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("knowledge_files.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            if name != "eval" && !name.starts_with('.') {
                println!("cargo:rerun-if-changed={}", path.display());
                collect(root, &path, out);
            }
            continue;
        }
        // Topic files live in area directories; FORMAT.md at the root is documentation.
        if !name.ends_with(".md") || path.parent() == Some(root) {
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| name.clone());
        let abs = path
            .canonicalize()
            .unwrap_or(path.clone())
            .to_string_lossy()
            .to_string();
        println!("cargo:rerun-if-changed={abs}");
        out.push((rel, abs));
    }
}
