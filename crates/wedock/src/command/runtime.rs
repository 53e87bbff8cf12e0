//! The one command runtime. Every command declares what it is ([`Decl`]: family, audit verb,
//! role, read or write, destructive, typed target); the runtime applies the role, `read_only`,
//! scopes, confirmation timeout, audit of refusals and the per-family metrics the same way for
//! every family, so handlers only do the work.
//!
//! Scopes are checked twice: here on the declared target (the Docker host, the Kubernetes
//! context), and by each family's target resolver on what the typed name resolved to (a
//! container prefix, the context's default namespace) with [`refuse_scope`].

use super::{Ctx, Outcome};
use crate::config::Config;
use crate::i18n::{Lang, Text};
use crate::identity::Role;
use crate::message::{Reply, ReplyKind};
use crate::render;
use crate::scope::Access;

/// Byte budget of one text reply unless a channel says otherwise.
pub const TEXT_BUDGET: usize = 2048;

/// Which family a command belongs to: decides `read_only`, the confirmation timeout, the
/// metric and how scopes apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Help, confirmations, audit, alerts, quiz: nothing on hosts or clusters.
    Core,
    Docker,
    Kube,
}

/// What a command touches, as typed (resolved further by the family's handlers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Target {
    #[default]
    None,
    /// A Docker host (`None`: the default one, or every host for `ps --all-hosts`).
    Docker {
        host: Option<String>,
        all_hosts: bool,
    },
    /// A Kubernetes context (`None`: the default one).
    Kube { context: Option<String> },
}

/// A command's declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decl {
    pub family: Family,
    /// Audit and metric name, e.g. `restart`, `rollout_restart`.
    pub verb: &'static str,
    /// The lowest role that may run it.
    pub role: Role,
    pub access: Access,
    /// Needs `/confirm CODE` within the family's timeout.
    pub destructive: bool,
    pub target: Target,
}

impl Decl {
    /// A read: viewer and up.
    pub fn read(family: Family, verb: &'static str) -> Decl {
        Decl {
            family,
            verb,
            role: Role::Viewer,
            access: Access::Read,
            destructive: false,
            target: Target::None,
        }
    }

    /// A change: operator and up.
    pub fn write(family: Family, verb: &'static str) -> Decl {
        Decl {
            role: Role::Operator,
            access: Access::Write,
            ..Decl::read(family, verb)
        }
    }

    /// A destructive change: admin, confirmed.
    pub fn destructive(family: Family, verb: &'static str) -> Decl {
        Decl {
            role: Role::Admin,
            destructive: true,
            ..Decl::write(family, verb)
        }
    }

    /// The same declaration with another minimum role.
    pub fn role(self, role: Role) -> Decl {
        Decl { role, ..self }
    }

    pub fn on(self, target: Target) -> Decl {
        Decl { target, ..self }
    }
}

/// The refusal for a sender whose role is too low, or `None`.
pub fn check_role(decl: &Decl, role: Role, lang: Lang, words: &[String]) -> Option<Reply> {
    if role >= decl.role {
        return None;
    }
    metrics::counter!("wedock_refused_total", "reason" => "role").increment(1);
    Some(Reply::error(
        Text::NeedRole.fill(
            lang,
            &[
                ("what", &slash_word(words)),
                ("need", decl.role.as_str()),
                ("have", role.as_str()),
            ],
        ),
        lang,
    ))
}

fn slash_word(words: &[String]) -> String {
    format!("/{}", words.first().map(String::as_str).unwrap_or(""))
}

/// The config key that makes `family` read-only, when it is set.
fn read_only_key(cfg: &Config, family: Family) -> Option<&'static str> {
    match family {
        Family::Core => None,
        _ if cfg.read_only => Some("read_only"),
        Family::Docker if cfg.docker.read_only => Some("docker.read_only"),
        Family::Kube if cfg.kubernetes.read_only => Some("kubernetes.read_only"),
        _ => None,
    }
}

/// How long a destructive command of `family` waits for `/confirm`.
pub fn confirm_timeout_secs(cfg: &Config, family: Family) -> u64 {
    match family {
        Family::Kube => cfg.kubernetes.confirm_timeout_secs,
        _ => cfg.docker.confirm_timeout_secs,
    }
    .max(1)
}

/// The typed host or context, for audit entries of refusals.
fn target_place(ctx: &Ctx<'_>, decl: &Decl) -> Option<String> {
    match &decl.target {
        Target::None => None,
        Target::Docker { host, .. } => Some(
            host.clone()
                .unwrap_or_else(|| ctx.app.docker.default_name().to_string()),
        ),
        Target::Kube { context } => context
            .clone()
            .or_else(|| ctx.app.kube.default_context().ok()),
    }
}

/// What the command names after its verb, for audit entries of refusals.
fn target_words(ctx: &Ctx<'_>) -> String {
    let words: Vec<&str> = ctx
        .words
        .iter()
        .map(String::as_str)
        .filter(|w| !w.starts_with('@') && !w.starts_with('-'))
        .collect();
    // Skip the family word and the verb (`docker restart api` → `api`).
    let skip = match (words.first(), words.get(1)) {
        (Some(&("docker" | "kubectl" | "k")), Some(&("compose" | "rollout"))) => 3,
        (Some(&("docker" | "kubectl" | "k")), _) => 2,
        _ => 1,
    };
    words
        .iter()
        .skip(skip)
        .copied()
        .collect::<Vec<_>>()
        .join(",")
}

/// A refusal because the target is outside the sender's scope: counted, logged and audited
/// like every refusal, worded like a missing role.
pub fn refuse_scope(ctx: &Ctx<'_>, place: Option<&str>, target: &str) -> Outcome {
    metrics::counter!("wedock_refused_total", "reason" => "scope").increment(1);
    tracing::warn!(user = %ctx.identity, reason = "scope", place, target, "command refused");
    let access = match ctx.access {
        Access::Read => t!(ctx.lang, "cmd.access_read"),
        Access::Write => t!(ctx.lang, "cmd.access_write"),
    };
    let shown = match place {
        Some(p) => format!("{target} @{p}"),
        None => target.to_string(),
    };
    Outcome::Audited(
        Reply::error(
            Text::OutOfScope.fill(
                ctx.lang,
                &[
                    ("what", &slash_word(&ctx.words)),
                    ("access", access),
                    ("target", &shown),
                    ("have", ctx.role.as_str()),
                ],
            ),
            ctx.lang,
        ),
        ctx.audit(place, Some(target), "refused: scope"),
    )
}

/// Applies `read_only` and the scope of the declared target, runs the handler, and counts
/// the result under the family's metric.
pub async fn execute(cmd: super::ChatCommand, decl: &Decl, ctx: &Ctx<'_>) -> Outcome {
    let out = match admit(decl, ctx) {
        Some(refused) => refused,
        None => super::run(cmd, ctx).await,
    };
    if decl.destructive
        && !ctx.confirmed
        && matches!(out, Outcome::Audited(ref r, _) if r.kind != ReplyKind::Error)
    {
        tracing::error!(
            verb = decl.verb,
            "a destructive command ran without confirmation"
        );
    }
    let result = match &out {
        Outcome::Reply(r) | Outcome::Audited(r, _) if r.kind == ReplyKind::Error => "error",
        Outcome::Reply(_) | Outcome::Audited(..) => "ok",
        Outcome::NeedsConfirmation { .. } => "confirm",
    };
    match decl.family {
        Family::Docker => {
            metrics::counter!("wedock_docker_commands_total", "cmd" => decl.verb, "result" => result)
                .increment(1)
        }
        Family::Kube => {
            metrics::counter!("wedock_kubectl_commands_total", "cmd" => decl.verb, "result" => result)
                .increment(1)
        }
        Family::Core => {}
    }
    out
}

/// The refusal of a command before it runs: read-only mode, or a host/context out of scope.
fn admit(decl: &Decl, ctx: &Ctx<'_>) -> Option<Outcome> {
    if decl.access == Access::Write
        && let Some(key) = read_only_key(&ctx.app.config, decl.family)
    {
        metrics::counter!("wedock_refused_total", "reason" => "read_only").increment(1);
        tracing::info!(user = %ctx.identity, reason = "read_only", "write refused");
        let place = target_place(ctx, decl);
        return Some(Outcome::Audited(
            Reply::error(Text::ReadOnly.fill(ctx.lang, &[("key", key)]), ctx.lang),
            ctx.audit(
                place.as_deref(),
                Some(&target_words(ctx)),
                "refused: read-only",
            ),
        ));
    }
    let in_scope = match &decl.target {
        Target::None
        | Target::Docker {
            all_hosts: true, ..
        } => true,
        Target::Docker { .. } => {
            let host = target_place(ctx, decl).unwrap_or_default();
            ctx.scopes.docker_host(&host, decl.access)
        }
        // An unknown default context is reported by the handler.
        Target::Kube { .. } => match target_place(ctx, decl) {
            Some(c) => ctx.scopes.kube_context(&c, decl.access),
            None => true,
        },
    };
    if !in_scope {
        let place = target_place(ctx, decl);
        return Some(refuse_scope(ctx, place.as_deref(), &target_words(ctx)));
    }
    None
}

/// The first lines of a list under `head` that fit in one reply.
pub fn fit(lang: Lang, head: &str, lines: &[String]) -> String {
    let budget = TEXT_BUDGET.saturating_sub(head.len() + 1);
    let body = render::head_fit(lines, budget, lang);
    if head.is_empty() {
        body
    } else {
        format!("{head}\n{body}")
    }
}

/// Seconds since the epoch, for "5m ago" columns.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Log output under `head`: its last lines that fit in one reply, or a note that there is
/// none.
pub fn tail_under(lang: Lang, head: &str, text: &str) -> String {
    if text.trim().is_empty() {
        return format!("{head}\n{}", t!(lang, "cmd.no_log_output"));
    }
    let body = render::tail_fit(
        text.trim_end(),
        TEXT_BUDGET.saturating_sub(head.len() + 1),
        lang,
    );
    format!("{head}\n{body}")
}
