//! `wedock kb list|search`: for people maintaining the knowledge base.

use crate::cli::KbCommand;
use crate::config::Config;

pub fn run(_config: &Config, _cmd: KbCommand) -> anyhow::Result<()> {
    anyhow::bail!("todo")
}
