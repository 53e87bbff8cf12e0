//! Optional LLM answers.
use super::Hit;
use crate::config::LlmConfig;
use crate::i18n::Lang;
use crate::message::Reply;

pub async fn improve(
    _cfg: &LlmConfig,
    _q: &str,
    _hits: &[Hit],
    _lang: Lang,
    plain: Reply,
) -> Reply {
    plain
}
