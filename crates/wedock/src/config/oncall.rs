//! `[oncall]`: on-call schedules (see docs/alerts.md, "值班 / On-call").

use super::*;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// How often the duty passes to the next member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    Daily,
    /// Weekly, on this weekday at the handoff time.
    Weekly(chrono::Weekday),
}

/// A stretch of time when `user` is on duty instead of the rotation's member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub user: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// A schedule ready to compute with (built from `[[oncall.schedules]]`; what it computes is
/// in `oncall/`).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub tz: Tz,
    pub rotation: Rotation,
    pub handoff: NaiveTime,
    /// The local date on which `members[0]` takes the first shift.
    pub start: NaiveDate,
    pub members: Vec<String>,
    pub overrides: Vec<Override>,
}

/// The UTC instant of a local wall-clock time. A time skipped by a daylight-saving jump
/// moves forward to the first valid minute; a repeated one takes the earlier instant.
pub fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut t = local;
    for _ in 0..(4 * 60) {
        if let Some(d) = tz.from_local_datetime(&t).earliest() {
            return d.with_timezone(&Utc);
        }
        t += Duration::minutes(1);
    }
    // No zone skips four hours; fall back to reading the time as UTC.
    Utc.from_utc_datetime(&local)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OncallConfig {
    pub schedules: Vec<ScheduleConfig>,
}

/// One `[[oncall.schedules]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// A word: `/oncall NAME`, a route's `oncall = "NAME"`.
    pub name: String,
    /// IANA time zone of the handoff time.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// `daily` or `weekly`.
    #[serde(default = "default_rotation")]
    pub rotation: String,
    /// Local `HH:MM` at which the duty passes on.
    #[serde(default = "default_handoff")]
    pub handoff: String,
    /// Weekly rotations: the weekday of the handoff (`monday` … `sunday`, or `mon` …).
    #[serde(default = "default_weekday")]
    pub handoff_weekday: String,
    /// `YYYY-MM-DD`: the local date the first member's first shift begins.
    #[serde(default = "default_start")]
    pub start: String,
    /// Channel user ids, in rotation order.
    pub members: Vec<String>,
    #[serde(default)]
    pub overrides: Vec<OverrideConfig>,
}

/// One `[[oncall.schedules.overrides]]` entry: `user` is on duty from `start` to `end`
/// (`YYYY-MM-DD HH:MM` in the schedule's zone, or RFC 3339).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideConfig {
    pub user: String,
    pub start: String,
    pub end: String,
}

fn default_timezone() -> String {
    "Asia/Shanghai".into()
}
fn default_rotation() -> String {
    "weekly".into()
}
fn default_handoff() -> String {
    "09:00".into()
}
fn default_weekday() -> String {
    "monday".into()
}
fn default_start() -> String {
    "2024-01-01".into()
}

/// A user id as the channels give it: one word of letters, digits and `_.@-`.
pub fn valid_user_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c))
}

/// A local time `YYYY-MM-DD HH:MM` in `tz`, or an RFC 3339 instant.
pub fn parse_instant(s: &str, tz: chrono_tz::Tz) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&chrono::Utc));
    }
    let local = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M").ok()?;
    Some(local_to_utc(tz, local))
}

impl ScheduleConfig {
    /// The schedule ready to compute with, or the key and reason it is wrong. `key` is the
    /// entry's dotted key, e.g. `oncall.schedules[0]`.
    pub fn build(&self, key: &str) -> Result<Schedule, ConfigError> {
        if !valid_user_id(&self.name) || self.name.contains(':') {
            return Err(err(
                format!("{key}.name"),
                "must be one word of letters, digits, `_`, `.`, `-`",
            ));
        }
        let tz: chrono_tz::Tz = self.timezone.parse().map_err(|_| {
            err(
                format!("{key}.timezone"),
                format!(
                    "unknown time zone {:?}; use an IANA name such as \"Asia/Shanghai\"",
                    self.timezone
                ),
            )
        })?;
        let handoff = NaiveTime::parse_from_str(&self.handoff, "%H:%M").map_err(|_| {
            err(
                format!("{key}.handoff"),
                format!("{:?} is not a time HH:MM such as \"09:00\"", self.handoff),
            )
        })?;
        let rotation = match self.rotation.as_str() {
            "daily" => Rotation::Daily,
            "weekly" => {
                Rotation::Weekly(self.handoff_weekday.parse::<Weekday>().map_err(|_| {
                    err(
                        format!("{key}.handoff_weekday"),
                        "must be a weekday such as \"monday\"",
                    )
                })?)
            }
            _ => {
                return Err(err(
                    format!("{key}.rotation"),
                    "must be \"daily\" or \"weekly\"",
                ));
            }
        };
        let start = NaiveDate::parse_from_str(&self.start, "%Y-%m-%d").map_err(|_| {
            err(
                format!("{key}.start"),
                format!("{:?} is not a date YYYY-MM-DD", self.start),
            )
        })?;
        if self.members.is_empty() {
            return Err(err(
                format!("{key}.members"),
                "list at least one member (channel user ids)",
            ));
        }
        for (j, m) in self.members.iter().enumerate() {
            if !valid_user_id(m) {
                return Err(err(
                    format!("{key}.members[{j}]"),
                    format!("{m:?} is not a user id"),
                ));
            }
        }
        let mut overrides = Vec::new();
        for (j, o) in self.overrides.iter().enumerate() {
            let okey = format!("{key}.overrides[{j}]");
            if !valid_user_id(&o.user) {
                return Err(err(format!("{okey}.user"), "is not a user id"));
            }
            let when = |field: &str, s: &str| {
                parse_instant(s, tz).ok_or_else(|| {
                    err(
                        format!("{okey}.{field}"),
                        format!("{s:?} is not \"YYYY-MM-DD HH:MM\" or an RFC 3339 time"),
                    )
                })
            };
            let (start, end) = (when("start", &o.start)?, when("end", &o.end)?);
            if end <= start {
                return Err(err(format!("{okey}.end"), "must be after start"));
            }
            overrides.push(Override {
                user: o.user.clone(),
                start,
                end,
            });
        }
        Ok(Schedule {
            name: self.name.clone(),
            tz,
            rotation,
            handoff,
            start,
            members: self.members.clone(),
            overrides,
        })
    }
}

impl Config {
    pub(super) fn validate_oncall(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::BTreeSet::new();
        for (i, s) in self.oncall.schedules.iter().enumerate() {
            let key = format!("oncall.schedules[{i}]");
            s.build(&key)?;
            if !names.insert(s.name.as_str()) {
                return Err(err(
                    format!("{key}.name"),
                    format!("duplicate schedule {:?}", s.name),
                ));
            }
        }
        for (i, r) in self.alerts.routes.iter().enumerate() {
            if let Some(o) = &r.oncall
                && !names.contains(o.as_str())
            {
                return Err(err(
                    format!("alerts.routes[{i}].oncall"),
                    format!("no [[oncall.schedules]] named {o:?}"),
                ));
            }
        }
        Ok(())
    }

    /// The schedule named `name` (config errors were refused at load).
    pub fn oncall_schedule(&self, name: &str) -> Option<Schedule> {
        let (i, s) = self
            .oncall
            .schedules
            .iter()
            .enumerate()
            .find(|(_, s)| s.name == name)?;
        s.build(&format!("oncall.schedules[{i}]")).ok()
    }
}
