//! The evidence behind `/diagnose TARGET`: why a container, pod, deployment or node is
//! broken. Collectors gather it (docker.rs, kube.rs), the failure-signature catalogue
//! (`knowledge/signatures.rs`) turns it into a verdict, reply.rs writes it. Uses `ops/`,
//! `knowledge/` and the app; the command that runs it is `command/diagnose/`.

pub mod docker;
pub mod intent;
pub mod kube;
pub mod memory;
pub mod reply;

// The failure signatures, the answer to a pasted error and the sentences both share live with
// the knowledge base, which answers pasted errors before any diagnosis runs.
pub use crate::knowledge::say as text;
pub use crate::knowledge::signatures::{Catalog, Facts, Match, catalog};
pub use crate::knowledge::{paste, signatures};

/// What a collector found: the facts signatures match on, and the evidence lines shown to
/// the user (already in the user's language, not yet redacted — the pipeline redacts every
/// command reply).
#[derive(Debug, Default, Clone)]
pub struct Evidence {
    /// How the target is shown, e.g. `api @local` or `pod/web-1 -n shop`.
    pub target: String,
    /// The short name for next commands (`/logs NAME`).
    pub name: String,
    pub facts: Facts,
    /// Whether the target is well (running, healthy, not restarting).
    pub healthy: bool,
    /// Key facts, one per line.
    pub lines: Vec<String>,
    /// Next commands to suggest.
    pub next: Vec<String>,
}

/// Words that make a log line worth quoting as "the last error".
const ERROR_WORDS: &[&str] = &[
    "error",
    "fatal",
    "panic",
    "exception",
    "failed",
    "refused",
    "denied",
    "cannot",
    "can't",
    "could not",
    "unable",
    "not found",
    "no such",
    "timeout",
    "timed out",
    "错误",
    "失败",
];

/// Whether a log line looks like an error (the one a verdict quotes when no pattern did).
pub fn looks_like_error(line: &str) -> bool {
    let low = line.to_lowercase();
    ERROR_WORDS.iter().any(|w| low.contains(w))
}
