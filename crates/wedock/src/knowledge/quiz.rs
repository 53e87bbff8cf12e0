//! Interview practice state: the pending question per (user, chat) and answer grading.
use crate::app::App;
use crate::i18n::Lang;
use crate::message::{Incoming, Reply};

pub async fn take_answer(_app: &App, _msg: &Incoming, _lang: Lang) -> Option<Reply> {
    None
}
