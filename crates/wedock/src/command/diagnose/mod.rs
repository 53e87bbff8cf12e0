//! `/diagnose TARGET` (alias `/why`): the clap arguments, the declaration the command
//! runtime applies (a read of the Docker host or of the Kubernetes context, so the lowest
//! role that may read the target may diagnose it, and scopes apply as for `/docker inspect`
//! and `/k describe`), and the Docker handler. Kubernetes targets run through the kubectl
//! family's namespace and scope resolution (`command/kubectl`). The evidence itself is
//! gathered by `diagnose/`; `llm.rs` is the optional AI reading, whose read-only tools run as
//! the asker's chat commands through the runtime.

pub mod llm;

use crate::command::docker::{self as dcmd, HostOpt};
use crate::command::runtime::{Decl, Family, Target};
use crate::command::{Ctx, Outcome};
use crate::diagnose::text::Say;
use crate::message::Reply;
use bollard::query_parameters as qp;
use clap::Args;

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// A container name or id, or pod/NAME, deploy/NAME, node/NAME
    pub target: String,
    /// Kubernetes namespace (default: the context's)
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// Kubernetes context from the kubeconfig
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    #[command(flatten)]
    pub h: HostOpt,
}

pub use crate::diagnose::kube::{KubeKind, kube_target};

impl DiagnoseArgs {
    /// A read on the target's family: Docker host or Kubernetes context.
    pub fn decl(&self, words: &[String]) -> Decl {
        if self.is_kube() {
            Decl::read(Family::Kube, "diagnose").on(Target::Kube {
                context: self.context.clone().or_else(|| dcmd::host_word(words)),
            })
        } else {
            Decl::read(Family::Docker, "diagnose").on(Target::Docker {
                host: self.h.host.clone().or_else(|| dcmd::host_word(words)),
                all_hosts: false,
            })
        }
    }

    /// Whether the target names a Kubernetes object (`kind/name`, or `-n` / `--context`).
    pub fn is_kube(&self) -> bool {
        kube_target(&self.target).is_some()
            || ((self.namespace.is_some() || self.context.is_some()) && self.h.host.is_none())
    }
}

/// Runs a diagnosis admitted by the command runtime.
pub async fn run(a: DiagnoseArgs, ctx: &Ctx<'_>) -> Outcome {
    if a.is_kube() {
        let Some((kind, name)) = kube_target(&a.target) else {
            return crate::command::error(
                ctx,
                Say::UnknownKind.fill(ctx.lang, &[("target", &a.target)]),
            );
        };
        return crate::command::kubectl::diagnose(ctx, a.context, a.namespace, kind, name).await;
    }
    docker(ctx, a).await
}

async fn docker(ctx: &Ctx<'_>, a: DiagnoseArgs) -> Outcome {
    let eng = match dcmd::engine(ctx, &a.h).await {
        Ok(e) => e,
        Err(refused) => return refused,
    };
    let c = match dcmd::find(ctx, &eng, &a.target).await {
        Ok(c) => c,
        Err(not_found) => return not_found,
    };
    let id = c.id.clone().unwrap_or_default();
    let d = match eng
        .client
        .inspect_container(&id, None::<qp::InspectContainerOptions>)
        .await
    {
        Ok(d) => d,
        Err(e) => return crate::command::error(ctx, dcmd::call_error_text(ctx, &eng, &e).await),
    };
    let mut ev = crate::diagnose::docker::collect(&eng, &d, ctx.lang).await;
    if ctx.app.docker.names().len() > 1 {
        ev.target = format!("{} @{}", ev.target, eng.name);
    }
    Outcome::Reply(finish(ctx, &ev))
}

/// Matches the evidence against the catalogue and writes the reply.
pub fn finish(ctx: &Ctx<'_>, ev: &crate::diagnose::Evidence) -> Reply {
    let matches = if ev.healthy {
        Vec::new()
    } else {
        crate::diagnose::catalog().match_facts(&ev.facts)
    };
    let verdict = if ev.healthy {
        "healthy"
    } else {
        matches
            .first()
            .map(|m| m.signature.id.as_str())
            .unwrap_or("unknown")
    };
    metrics::counter!("wedock_diagnoses_total", "verdict" => verdict.to_string()).increment(1);
    let topic = matches
        .first()
        .and_then(|m| ctx.app.knowledge.topic(&m.signature.topic));
    let text = crate::diagnose::reply::render(ev, &matches, topic.as_deref(), ctx.lang);
    // Plain text: the evidence quotes container output, which must not format the reply.
    Reply::command(text, ctx.lang)
}
