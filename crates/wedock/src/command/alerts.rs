//! `/alerts`, `/mute`, `/mutes`, `/unmute`. Placeholder until alerts land.

use super::{Ctx, Outcome};
use crate::message::Reply;
use clap::Args;

#[derive(Debug, Args)]
pub struct MuteArgs {
    /// What to mute: a container, compose project, alert name or `*`
    pub target: String,
    /// For how long, e.g. `30m`, `2h`
    pub duration: String,
}

pub async fn mute(_args: MuteArgs, ctx: &Ctx<'_>) -> Outcome {
    not_yet(ctx)
}

pub async fn mutes(ctx: &Ctx<'_>) -> Outcome {
    not_yet(ctx)
}

pub async fn unmute(_id: String, ctx: &Ctx<'_>) -> Outcome {
    not_yet(ctx)
}

pub async fn recent(_n: usize, ctx: &Ctx<'_>) -> Outcome {
    not_yet(ctx)
}

fn not_yet(ctx: &Ctx<'_>) -> Outcome {
    Outcome::Reply(Reply::error(
        ctx.lang
            .pick("告警功能尚未启用。", "Alerts are not available yet."),
        ctx.lang,
    ))
}
