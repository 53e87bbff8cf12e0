//! `/docker …` commands. Placeholder definitions until Docker ChatOps lands.

use super::{Ctx, Outcome};
use crate::i18n::Text;
use crate::identity::Role;
use crate::message::Reply;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum DockerCommand {
    /// List containers
    Ps(PsArgs),
    /// Show a container's logs
    Logs(LogsArgs),
    /// Restart containers
    Restart(TargetsArgs),
}

impl DockerCommand {
    pub fn required_role(&self) -> Role {
        match self {
            DockerCommand::Ps(_) | DockerCommand::Logs(_) => Role::Viewer,
            DockerCommand::Restart(_) => Role::Operator,
        }
    }
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Container name or id
    pub name: String,
    /// Number of lines from the end
    #[arg(long, short = 'n')]
    pub tail: Option<usize>,
}

#[derive(Debug, Args)]
pub struct TargetsArgs {
    /// Container names or ids
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub async fn run(_cmd: DockerCommand, ctx: &Ctx<'_>) -> Outcome {
    Outcome::Reply(Reply::error(
        Text::DockerUnavailable.fill(ctx.lang, &[("reason", "not implemented yet")]),
        ctx.lang,
    ))
}
