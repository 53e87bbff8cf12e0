//! On-call schedules: who is on duty at an instant, and who comes next and when.
//!
//! Everything here is a pure function of the schedule, its overrides and the instant, so it
//! is tested without a clock or a store. Shifts change at the handoff time in the schedule's
//! own time zone (so a handoff at 09:00 stays at 09:00 local across daylight-saving changes);
//! overrides (from the config or `/oncall swap`, stored in the kv) win over the rotation,
//! the one listed last winning when they overlap.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Utc};

pub mod swap;

pub use crate::config::{Override, Rotation, Schedule, local_to_utc};

/// The answer of [`Schedule::on_call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCall {
    pub user: String,
    /// Whether an override (not the rotation) put `user` on duty.
    pub overridden: bool,
    /// The next person on duty and when they take over; `None` when nobody else ever does
    /// (a one-member schedule).
    pub next: Option<(String, DateTime<Utc>)>,
}

impl Schedule {
    fn period_days(&self) -> i64 {
        match self.rotation {
            Rotation::Daily => 1,
            Rotation::Weekly(_) => 7,
        }
    }

    /// The local date on which the shift holding local time `l` began.
    fn shift_date(&self, l: NaiveDateTime) -> NaiveDate {
        let mut d = l.date();
        if l.time() < self.handoff {
            d = d.pred_opt().unwrap_or(d);
        }
        self.align(d)
    }

    /// Moves `d` back to the rotation's handoff weekday (no change for daily rotations).
    fn align(&self, d: NaiveDate) -> NaiveDate {
        match self.rotation {
            Rotation::Daily => d,
            Rotation::Weekly(w) => {
                let back = (d.weekday().num_days_from_monday() + 7 - w.num_days_from_monday()) % 7;
                d - Duration::days(i64::from(back))
            }
        }
    }

    /// The rotation's member whose shift holds `t`, and when that shift ends.
    pub fn rotation_at(&self, t: DateTime<Utc>) -> (&str, DateTime<Utc>) {
        let local = t.with_timezone(&self.tz).naive_local();
        let mut date = self.shift_date(local);
        // Around a daylight-saving jump the local reading can put `t` before its shift's
        // real start instant; step back one shift then.
        if local_to_utc(self.tz, date.and_time(self.handoff)) > t {
            date -= Duration::days(self.period_days());
        }
        let n = (date - self.align(self.start))
            .num_days()
            .div_euclid(self.period_days());
        let who = match self.members.len() {
            0 => "",
            len => &self.members[n.rem_euclid(len as i64) as usize],
        };
        let end_date = date + Duration::days(self.period_days());
        (who, local_to_utc(self.tz, end_date.and_time(self.handoff)))
    }

    /// Who is on duty at `t` (overrides first), whether by override, and the next instant
    /// after `t` at which the answer may change.
    fn at(&self, t: DateTime<Utc>) -> (String, bool, DateTime<Utc>) {
        let (member, mut change) = self.rotation_at(t);
        let mut who = (member.to_string(), false);
        for o in &self.overrides {
            if o.start <= t && t < o.end {
                who = (o.user.clone(), true);
                change = change.min(o.end);
            } else if o.start > t {
                change = change.min(o.start);
            }
        }
        (who.0, who.1, change)
    }

    /// Who is on duty at `t`, and who is next and from when.
    pub fn on_call(&self, t: DateTime<Utc>) -> OnCall {
        let (user, overridden, mut change) = self.at(t);
        // Walk the change points until someone else takes over; a one-member rotation
        // without overrides never changes hands.
        let mut next = None;
        for _ in 0..1000 {
            let (u, _, after) = self.at(change);
            if u != user {
                next = Some((u, change));
                break;
            }
            if after <= change {
                break;
            }
            change = after;
        }
        OnCall {
            user,
            overridden,
            next,
        }
    }
}

#[cfg(test)]
mod tests;
