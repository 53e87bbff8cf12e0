use super::*;
use chrono::{NaiveTime, Weekday};

fn sched(tz: &str, rotation: Rotation, handoff: &str, start: &str, members: &[&str]) -> Schedule {
    Schedule {
        name: "primary".into(),
        tz: tz.parse().unwrap(),
        rotation,
        handoff: NaiveTime::parse_from_str(handoff, "%H:%M").unwrap(),
        start: NaiveDate::parse_from_str(start, "%Y-%m-%d").unwrap(),
        members: members.iter().map(|m| m.to_string()).collect(),
        overrides: Vec::new(),
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn daily_rotation_hands_over_at_the_local_handoff_time() {
    let s = sched(
        "Asia/Shanghai",
        Rotation::Daily,
        "09:00",
        "2026-01-01",
        &["a", "b", "c"],
    );
    // 08:59 on the start date is still the previous day's shift: the last member.
    let before = s.on_call(utc("2026-01-01T08:59:00+08:00"));
    assert_eq!(before.user, "c");
    assert_eq!(
        before.next,
        Some(("a".to_string(), utc("2026-01-01T01:00:00Z")))
    );
    let at = s.on_call(utc("2026-01-01T09:00:00+08:00"));
    assert_eq!(at.user, "a");
    assert!(!at.overridden);
    assert_eq!(
        at.next,
        Some(("b".to_string(), utc("2026-01-02T09:00:00+08:00")))
    );
    // Three days on, the rotation has come round again.
    assert_eq!(s.on_call(utc("2026-01-04T10:00:00+08:00")).user, "a");
    assert_eq!(s.on_call(utc("2026-01-06T08:00:00+08:00")).user, "b");
}

#[test]
fn weekly_rotation_hands_over_on_its_weekday() {
    let s = sched(
        "Asia/Shanghai",
        Rotation::Weekly(Weekday::Mon),
        "10:00",
        "2026-01-05",
        &["a", "b"],
    );
    // Wednesday of the first week, then the Monday handoff just before and after.
    let wed = s.on_call(utc("2026-01-07T15:00:00+08:00"));
    assert_eq!(wed.user, "a");
    assert_eq!(
        wed.next,
        Some(("b".to_string(), utc("2026-01-12T10:00:00+08:00")))
    );
    assert_eq!(s.on_call(utc("2026-01-12T09:59:00+08:00")).user, "a");
    assert_eq!(s.on_call(utc("2026-01-12T10:00:00+08:00")).user, "b");
    assert_eq!(s.on_call(utc("2026-01-19T10:00:00+08:00")).user, "a");
    // A start date in mid-week counts from that week's handoff weekday.
    let mid = sched(
        "Asia/Shanghai",
        Rotation::Weekly(Weekday::Mon),
        "10:00",
        "2026-01-07",
        &["a", "b"],
    );
    assert_eq!(mid.on_call(utc("2026-01-08T12:00:00+08:00")).user, "a");
}

#[test]
fn handoff_stays_at_local_time_across_daylight_saving() {
    // New York springs forward on 2026-03-08 and falls back on 2026-11-01.
    let s = sched(
        "America/New_York",
        Rotation::Daily,
        "09:00",
        "2026-03-01",
        &["a", "b"],
    );
    let sat = s.on_call(utc("2026-03-07T12:00:00-05:00"));
    // 09:00 EDT on Sunday is 13:00 UTC, an hour earlier in UTC than the day before.
    assert_eq!(
        sat.next.as_ref().map(|n| n.1),
        Some(utc("2026-03-08T13:00:00Z"))
    );
    assert_eq!(s.on_call(utc("2026-03-08T12:59:00Z")).user, sat.user);
    assert_ne!(s.on_call(utc("2026-03-08T13:00:00Z")).user, sat.user);
    let fall = s.on_call(utc("2026-10-31T12:00:00-04:00"));
    assert_eq!(fall.next.map(|n| n.1), Some(utc("2026-11-01T14:00:00Z")));
}

#[test]
fn a_handoff_inside_the_spring_gap_moves_to_the_first_valid_minute() {
    let s = sched(
        "America/New_York",
        Rotation::Daily,
        "02:30",
        "2026-03-01",
        &["a", "b"],
    );
    let before = s.on_call(utc("2026-03-07T23:00:00-05:00"));
    // 02:30 does not exist on 2026-03-08: the duty passes at 03:00 EDT (07:00 UTC).
    assert_eq!(
        before.next.as_ref().map(|n| n.1),
        Some(utc("2026-03-08T07:00:00Z"))
    );
    assert_eq!(s.on_call(utc("2026-03-08T06:59:00Z")).user, before.user);
    assert_ne!(s.on_call(utc("2026-03-08T07:00:00Z")).user, before.user);
}

#[test]
fn overrides_win_and_bound_the_next_handoff() {
    let mut s = sched(
        "Asia/Shanghai",
        Rotation::Daily,
        "09:00",
        "2026-01-01",
        &["a", "b"],
    );
    s.overrides.push(Override {
        user: "x".into(),
        start: utc("2026-01-01T12:00:00+08:00"),
        end: utc("2026-01-01T14:00:00+08:00"),
    });
    let before = s.on_call(utc("2026-01-01T11:00:00+08:00"));
    assert_eq!(before.user, "a");
    assert_eq!(
        before.next,
        Some(("x".to_string(), utc("2026-01-01T12:00:00+08:00")))
    );
    let during = s.on_call(utc("2026-01-01T13:00:00+08:00"));
    assert_eq!(during.user, "x");
    assert!(during.overridden);
    assert_eq!(
        during.next,
        Some(("a".to_string(), utc("2026-01-01T14:00:00+08:00")))
    );
    // A later override wins where two overlap.
    s.overrides.push(Override {
        user: "y".into(),
        start: utc("2026-01-01T13:00:00+08:00"),
        end: utc("2026-01-01T13:30:00+08:00"),
    });
    assert_eq!(s.on_call(utc("2026-01-01T13:10:00+08:00")).user, "y");
    assert_eq!(s.on_call(utc("2026-01-01T13:40:00+08:00")).user, "x");
}

#[test]
fn next_skips_change_points_that_keep_the_same_person() {
    let mut s = sched(
        "Asia/Shanghai",
        Rotation::Daily,
        "09:00",
        "2026-01-01",
        &["a", "b"],
    );
    // `b` covers the rest of `a`'s shift and then has their own: the next one is `a` again.
    s.overrides.push(Override {
        user: "b".into(),
        start: utc("2026-01-01T12:00:00+08:00"),
        end: utc("2026-01-02T09:00:00+08:00"),
    });
    let now = s.on_call(utc("2026-01-01T13:00:00+08:00"));
    assert_eq!(now.user, "b");
    assert_eq!(
        now.next,
        Some(("a".to_string(), utc("2026-01-03T09:00:00+08:00")))
    );
}

#[test]
fn a_single_member_has_no_next() {
    let s = sched(
        "Asia/Shanghai",
        Rotation::Weekly(Weekday::Fri),
        "18:00",
        "2026-01-01",
        &["solo"],
    );
    let now = s.on_call(utc("2026-05-01T00:00:00Z"));
    assert_eq!(now.user, "solo");
    assert_eq!(now.next, None);
}
