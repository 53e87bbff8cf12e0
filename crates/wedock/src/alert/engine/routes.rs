//! Which routes an alert takes and the small helpers of rendering it for them.

use super::*;

pub(super) fn suppress(done: &mut Submitted, reason: &'static str) {
    done.suppressed += 1;
    metrics::counter!("wedock_alerts_suppressed_total", "reason" => reason).increment(1);
}

pub(super) fn source_label(s: &str) -> String {
    if s.starts_with("hook:") {
        "hook".into()
    } else {
        s.to_string()
    }
}

/// Strips markup from a line so digests stay compact.
pub(super) fn plain(line: &str) -> String {
    let mut s = line.replace("**", "").replace("</font>", "");
    while let Some(start) = s.find("<font") {
        match s[start..].find('>') {
            Some(end) => s.replace_range(start..start + end + 1, ""),
            None => break,
        }
    }
    s.trim_start_matches("> ").to_string()
}

/// Built-in routing when no routes are configured: problems and their resolution, not
/// planned stops or clean exits.
pub fn default_applies(a: &Alert) -> bool {
    match a.kind.as_str() {
        "die" => a.exit_code != Some(0),
        "stop" => false,
        _ => true,
    }
}

pub(super) fn glob_ok(pattern: &Option<String>, value: Option<&str>) -> bool {
    match pattern {
        None => true,
        Some(p) => match (glob::Pattern::new(p), value) {
            (Ok(p), Some(v)) => p.matches(v),
            _ => false,
        },
    }
}

pub fn route_matches(m: &RouteMatch, a: &Alert) -> bool {
    glob_ok(&m.source, Some(&a.source))
        && glob_ok(&m.host, a.host.as_deref())
        && glob_ok(&m.container, a.container.as_deref())
        && glob_ok(&m.image, a.image.as_deref())
        && glob_ok(&m.project, a.project.as_deref())
        && (m.event.is_empty() || m.event.iter().any(|e| e == &a.kind))
        && (m.exit_code.is_empty() || a.exit_code.is_some_and(|c| m.exit_code.contains(&c)))
        && (m.severity.is_empty() || m.severity.iter().any(|s| s == a.severity.as_str()))
        && m.labels
            .iter()
            .all(|(k, p)| glob_ok(&Some(p.clone()), a.labels.get(k).map(String::as_str)))
}

#[derive(Clone, Copy)]
pub(super) enum RouteRef {
    Configured(usize),
    Default,
    Direct,
}

impl RouteRef {
    pub(super) fn index(self) -> usize {
        match self {
            RouteRef::Configured(i) => i,
            RouteRef::Default => usize::MAX,
            RouteRef::Direct => usize::MAX - 1,
        }
    }
}

impl Engine {
    /// The message to `t` @-mentioning the person on duty, where its channel can notify
    /// them: markup in the text (`<@userid>` in robot markdown), or their name in the text
    /// and their id in the list of a format that has one (a robot `text` message's
    /// `mentioned_list`). Returns the content and the ids for that list.
    pub(super) fn mention_on_duty(
        &self,
        t: &Target,
        content: String,
        format: Format,
        user: &str,
    ) -> (String, Vec<String>) {
        let Some(sender) = self.outbox.sender(&t.channel) else {
            return (content, Vec::new());
        };
        let lang = self.lang;
        if let Some(mention) = sender.mention_in_text(format, user) {
            let line = t!(lang, "oncall.mention_line", user = mention);
            return (format!("{content}\n{line}"), Vec::new());
        }
        if sender.mention_list_format() == Some(format) {
            let line = t!(lang, "oncall.mention_line", user = user);
            return (format!("{content}\n{line}"), vec![user.to_string()]);
        }
        (content, Vec::new())
    }

    /// The person on duty also gets the alert's card with its buttons in their own
    /// conversation (group robots have none) through a channel that shows cards and reaches
    /// people directly (the WeCom app); `None` when there is none or the route already sends
    /// to them there.
    pub(super) fn on_duty_card(&self, user: &str, targets: &[Target]) -> Option<Target> {
        let (channel, id) = self.outbox.direct_target(user, true)?;
        let already = targets
            .iter()
            .any(|t| t.channel == channel && t.id.split('|').any(|u| u == id));
        (!already).then_some(Target { channel, id })
    }

    /// The person on duty in the route's schedule, if it names one. A store failure costs
    /// the mention, never the alert.
    pub(super) async fn on_duty(&self, schedule: Option<&str>) -> Option<String> {
        let name = schedule?;
        match crate::oncall::swap::on_duty(&self.app, name).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(schedule = name, "on-call lookup failed: {e}");
                None
            }
        }
    }
}
