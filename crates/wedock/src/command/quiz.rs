//! `/quiz`: interview practice. Placeholder until the knowledge base lands.

use super::{Ctx, Outcome};
use crate::message::Reply;
use clap::Args;

#[derive(Debug, Args)]
pub struct QuizArgs {
    /// `docker`, `k8s`, `network`, `troubleshooting`, `skip` or `stats`
    pub what: Option<String>,
}

pub async fn run(_args: QuizArgs, ctx: &Ctx<'_>) -> Outcome {
    Outcome::Reply(Reply::error(
        ctx.lang.pick(
            "面试练习尚未启用。",
            "Interview practice is not available yet.",
        ),
        ctx.lang,
    ))
}
