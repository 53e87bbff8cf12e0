//! What the HTTP callbacks do alike: read the query; and, for the Official Account and the
//! WeCom app once a message body is open, read the sender from its flat fields, name the
//! message for dedup, hand it to the pipeline as an [`Incoming`], and queue the reply parts
//! that do not fit the passive answer.

use super::reject;
use crate::identity::Role;
use crate::message::Incoming;
use crate::state::AppState;
use crate::store::NewOutboxMessage;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use std::collections::HashMap;

/// A callback's query string as a map: the platforms send their parameters form-encoded, a
/// repeated name keeps its last value, and a missing query is an empty map (each handler
/// says which parameters it needs, and refuses with its own reason).
pub(crate) struct CallbackQuery(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for CallbackQuery {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(CallbackQuery(query_of(&parts.uri)))
    }
}

fn query_of(uri: &axum::http::Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A message POST to a callback as every channel takes it: the app, the query and the body,
/// still unread (each channel reads it within its own limit, after checking the query).
pub(crate) struct CallbackPost {
    pub s: AppState,
    pub q: HashMap<String, String>,
    pub body: axum::body::Body,
}

impl FromRequest<AppState> for CallbackPost {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(CallbackPost {
            s: state.clone(),
            q: query_of(req.uri()),
            body: req.into_body(),
        })
    }
}

/// A decoded callback message with its sender checked present.
pub(crate) struct CallbackMessage<'f> {
    fields: &'f HashMap<String, String>,
    /// `FromUserName`: the platform's id of the user who wrote.
    pub user: String,
    /// `<channel>:<user>`, the identity roles and languages are kept under.
    pub identity: String,
}

impl<'f> CallbackMessage<'f> {
    /// Refuses a message without `FromUserName`: there is nobody to answer or to authorise.
    /// The refusal is boxed: it is the rare and large case.
    pub fn new(channel: &str, fields: &'f HashMap<String, String>) -> Result<Self, Box<Response>> {
        let user = fields
            .get("FromUserName")
            .map(String::as_str)
            .unwrap_or("")
            .to_string();
        if user.is_empty() {
            return Err(Box::new(reject(
                channel,
                "bad_message",
                StatusCode::BAD_REQUEST,
                &"message without FromUserName",
            )));
        }
        Ok(CallbackMessage {
            fields,
            identity: format!("{channel}:{user}"),
            user,
        })
    }

    /// A field of the message, empty when absent.
    pub fn field(&self, k: &str) -> &'f str {
        self.fields.get(k).map(String::as_str).unwrap_or("")
    }

    /// The dedup id: `MsgId`, or sender + time for a message without one (never seen for
    /// text, but a retry must still dedup).
    pub fn msg_id(&self) -> String {
        match self.field("MsgId") {
            "" => format!("{}:{}", self.user, self.field("CreateTime")),
            id => id.to_string(),
        }
    }

    /// The message for the pipeline; the platform grants no role of its own.
    pub fn incoming(
        &self,
        channel: &str,
        text: String,
        msg_id: &str,
        role_cap: Option<Role>,
    ) -> Incoming {
        Incoming {
            channel: channel.into(),
            user: self.user.clone(),
            chat: None,
            text,
            msg_id: Some(msg_id.to_string()),
            granted_role: None,
            role_cap,
        }
    }
}

/// One outbox message per reply part from `skip` on, for `sender` to deliver to `target`;
/// `payload` makes a part's body. The dedup keys (`sender:key:index`) make queuing the same
/// reply again a no-op.
pub(crate) fn part_messages(
    sender: &str,
    target: &str,
    key: &str,
    parts: &[String],
    skip: usize,
    payload: impl Fn(&str) -> serde_json::Value,
) -> Vec<NewOutboxMessage> {
    parts
        .iter()
        .enumerate()
        .skip(skip)
        .map(|(i, part)| NewOutboxMessage {
            channel: sender.into(),
            target: target.to_string(),
            payload: payload(part).to_string(),
            dedup_key: Some(format!("{sender}:{key}:{i}")),
        })
        .collect()
}

/// Queues the reply parts after the passive answer, one by one so that one failure loses only
/// its own part.
pub(crate) async fn queue_rest(s: &AppState, rest: Vec<NewOutboxMessage>) {
    for m in rest {
        if let Err(e) = s.outbox.enqueue(m).await {
            tracing::error!(error = %e, "could not queue a reply part");
        }
    }
}
