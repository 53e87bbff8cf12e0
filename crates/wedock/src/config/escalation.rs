//! `[[alerts.escalations]]`: what wedock does when an alert stays unacknowledged (see
//! docs/alerts.md, "升级 / Escalation"). Each entry is one step with its own delay, counted
//! from when the alert first fired; the escalation loop lives in `alert/incident/escalate.rs`.

use super::*;

/// One `[[alerts.escalations]]` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// How long the alert may stay unacknowledged: a duration (`"10m"`, `"90s"`) or a number
    /// of minutes (`10`, `0.5`).
    #[serde(default, alias = "after_minutes")]
    pub after: Option<After>,
    /// The same in seconds (`after_secs = 90`), instead of `after`.
    #[serde(default, alias = "after_seconds")]
    pub after_secs: Option<f64>,
    /// Who is told: `oncall` (the person on duty), `secondary` (the next person on the
    /// rotation), `users` (the `users` list) or `all` (@all in the group robots). Unset:
    /// `users` when `users` is given, else `oncall` when a schedule exists, else `all`.
    #[serde(default, alias = "to")]
    pub notify: Option<String>,
    /// The on-call schedule for `oncall` / `secondary` (may be left out when there is one);
    /// `oncall = "NAME"`, as routes write it, works too.
    #[serde(default, alias = "oncall")]
    pub schedule: Option<String>,
    /// User ids for `notify = "users"`; `CHANNEL:ID` picks the channel.
    #[serde(default)]
    pub users: Vec<String>,
    /// Group targets for `all`, and for @-mentions when a person has no direct channel;
    /// unset: every `[[wecom.robots]]`.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Which alerts escalate (default `critical`).
    #[serde(default = "default_severity")]
    pub severity: OneOrMany,
}

/// A delay as TOML lets people write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum After {
    Minutes(f64),
    Text(String),
}

impl After {
    /// The delay, or `None` when it is not a duration.
    pub fn duration(&self) -> Option<std::time::Duration> {
        match self {
            After::Minutes(m) if m.is_finite() && *m > 0.0 => {
                Some(std::time::Duration::from_secs_f64(m * 60.0))
            }
            After::Minutes(_) => None,
            After::Text(s) => {
                let s = s.trim();
                if let Ok(m) = s.parse::<f64>() {
                    return After::Minutes(m).duration();
                }
                humantime::parse_duration(s).ok()
            }
        }
    }
}

/// One string or a list of them (`severity = "critical"` or `["critical", "warning"]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn contains(&self, s: &str) -> bool {
        match self {
            OneOrMany::One(x) => x == s,
            OneOrMany::Many(v) => v.iter().any(|x| x == s),
        }
    }
    fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(x) => vec![x.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

fn default_severity() -> OneOrMany {
    OneOrMany::One("critical".into())
}

/// Who a step tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    OnCall,
    Secondary,
    Users,
    All,
}

/// The longest delay a step may have.
const MAX_AFTER: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

impl EscalationConfig {
    /// How long the alert may stay unacknowledged before this step; `None` when the delay
    /// is missing, given twice, or not a duration.
    pub fn delay(&self) -> Option<std::time::Duration> {
        match (&self.after, self.after_secs) {
            (Some(a), None) => a.duration(),
            (None, Some(s)) if s.is_finite() && s > 0.0 => {
                Some(std::time::Duration::from_secs_f64(s))
            }
            _ => None,
        }
    }

    /// What `notify` means, with its default filled in (`has_schedules`: whether any
    /// `[[oncall.schedules]]` exist).
    pub fn notify_kind(&self, has_schedules: bool) -> Option<Notify> {
        match self.notify.as_deref().map(str::trim) {
            Some("oncall" | "on_call" | "primary") => Some(Notify::OnCall),
            Some("secondary" | "next") => Some(Notify::Secondary),
            Some("users" | "user") => Some(Notify::Users),
            Some("all" | "@all" | "group") => Some(Notify::All),
            Some(_) => None,
            None if !self.users.is_empty() => Some(Notify::Users),
            None if has_schedules || self.schedule.is_some() => Some(Notify::OnCall),
            None => Some(Notify::All),
        }
    }

    /// The schedule this step reads: its own, or the only one configured.
    pub fn schedule_name<'a>(&'a self, cfg: &'a Config) -> Option<&'a str> {
        match &self.schedule {
            Some(s) => Some(s),
            None if cfg.oncall.schedules.len() == 1 => Some(&cfg.oncall.schedules[0].name),
            None => None,
        }
    }
}

impl Config {
    pub(super) fn validate_escalations(&self) -> Result<(), ConfigError> {
        let has_schedules = !self.oncall.schedules.is_empty();
        for (i, e) in self.alerts.escalations.iter().enumerate() {
            let key = format!("alerts.escalations[{i}]");
            match e.delay() {
                Some(d) if d >= std::time::Duration::from_secs(1) && d <= MAX_AFTER => {}
                _ => {
                    return Err(err(
                        format!("{key}.after"),
                        "set one of after (a duration from 1s to 7d such as \"10m\", or a number of minutes) or after_secs",
                    ));
                }
            }
            for s in e.severity.items() {
                if !matches!(s, "critical" | "warning" | "info") {
                    return Err(err(
                        format!("{key}.severity"),
                        format!("{s:?} is not critical, warning or info"),
                    ));
                }
            }
            let Some(kind) = e.notify_kind(has_schedules) else {
                return Err(err(
                    format!("{key}.notify"),
                    "must be \"oncall\", \"secondary\", \"users\" or \"all\"",
                ));
            };
            if let Some(s) = &e.schedule
                && !self.oncall.schedules.iter().any(|x| &x.name == s)
            {
                return Err(err(
                    format!("{key}.schedule"),
                    format!("no [[oncall.schedules]] named {s:?}"),
                ));
            }
            match kind {
                Notify::OnCall | Notify::Secondary if e.schedule_name(self).is_none() => {
                    return Err(err(
                        format!("{key}.schedule"),
                        if has_schedules {
                            "name the [[oncall.schedules]] entry to read (there are several)"
                        } else {
                            "needs an [[oncall.schedules]] entry"
                        },
                    ));
                }
                Notify::Users if e.users.is_empty() => {
                    return Err(err(format!("{key}.users"), "list at least one user id"));
                }
                _ => {}
            }
            for (j, u) in e.users.iter().enumerate() {
                let id = u.split_once(':').map_or(u.as_str(), |(_, id)| id);
                if !super::oncall::valid_user_id(id) {
                    return Err(err(
                        format!("{key}.users[{j}]"),
                        format!("{u:?} is not a user id"),
                    ));
                }
            }
            for (j, t) in e.targets.iter().enumerate() {
                self.check_alert_target(format!("{key}.targets[{j}]"), t)?;
            }
            if kind == Notify::All && e.targets.is_empty() && self.wecom.robots.is_empty() {
                return Err(err(
                    format!("{key}.targets"),
                    "@all needs a group: list targets or add a [[wecom.robots]] entry",
                ));
            }
        }
        Ok(())
    }
}
