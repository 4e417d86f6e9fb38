//! Legal time limits of complaints and denunciations as effective-dated data
//! (`data/complaints/limits.csv`) and the computation of a deadline from them: calendar or
//! working days, the variants (complex, remote, extended), suspension and resumption, and the
//! rule that a calendar-day limit ending on a day off ends on the next working day.

use chrono::{Datelike, Duration, NaiveDate};

use crate::workdays::WorkCalendar;

pub const LIMITS_CSV: &str = include_str!("../../../data/complaints/limits.csv");

/// How a limit counts days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayUnit {
    Calendar,
    Working,
}

/// One limit in force over a period.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Limit {
    pub code: String,
    pub variant: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub days: u32,
    pub unit: DayUnit,
    pub counted_from: String,
    pub citation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    #[error("limits row {row}: {reason}")]
    Row { row: usize, reason: String },
    #[error("no limit {code} ({variant}) in force on {on}")]
    NoLimit { code: String, variant: String, on: NaiveDate },
    #[error("a suspension from {from} resumes on {to}, before it began")]
    BadSuspension { from: NaiveDate, to: NaiveDate },
}

/// A computed deadline and how it came about.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Due {
    /// The last day to act; `None` while the clock is suspended.
    pub date: Option<NaiveDate>,
    pub limit: Limit,
    /// Days (of the limit's unit) added for suspensions that have ended.
    pub suspended_days: u32,
    /// Moved from a day off to the next working day (calendar-day limits).
    pub moved_to_working_day: bool,
}

/// A suspension of the clock: from the day it was suspended to the day it resumed (`None`:
/// still suspended).
pub type Suspension = (NaiveDate, Option<NaiveDate>);

#[derive(Debug, Clone, Default)]
pub struct Limits {
    rows: Vec<Limit>,
}

impl Limits {
    pub fn embedded() -> Result<Limits, DeadlineError> {
        Limits::from_csv(LIMITS_CSV)
    }

    /// Reads `code,variant,valid_from,valid_to,days,unit,counted_from,citation`; periods of one
    /// code and variant must not overlap; every row needs its citation.
    pub fn from_csv(text: &str) -> Result<Limits, DeadlineError> {
        let mut rows: Vec<Limit> = Vec::new();
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        for (i, rec) in rdr.records().enumerate() {
            let row = i + 2;
            let bad = |reason: String| DeadlineError::Row { row, reason };
            let rec = rec.map_err(|e| bad(e.to_string()))?;
            let f = |n: usize| rec.get(n).unwrap_or("").trim().to_string();
            let day = |s: String| {
                NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| bad(format!("date {s:?} is not yyyy-mm-dd")))
            };
            let valid_from = day(f(2))?;
            let valid_to = if f(3).is_empty() { None } else { Some(day(f(3))?) };
            if valid_to.is_some_and(|t| t < valid_from) {
                return Err(bad("valid_to before valid_from".into()));
            }
            let days: u32 = f(4).parse().map_err(|_| bad(format!("days {:?} is not a whole number", f(4))))?;
            let unit = match f(5).as_str() {
                "calendar" => DayUnit::Calendar,
                "working" => DayUnit::Working,
                other => return Err(bad(format!("unit {other:?} is not calendar or working"))),
            };
            if f(0).is_empty() || f(1).is_empty() || f(7).is_empty() {
                return Err(bad("code, variant and citation are required".into()));
            }
            let limit = Limit {
                code: f(0),
                variant: f(1),
                valid_from,
                valid_to,
                days,
                unit,
                counted_from: f(6),
                citation: f(7),
            };
            let overlaps = rows.iter().any(|r| {
                r.code == limit.code
                    && r.variant == limit.variant
                    && r.valid_from <= limit.valid_to.unwrap_or(NaiveDate::MAX)
                    && limit.valid_from <= r.valid_to.unwrap_or(NaiveDate::MAX)
            });
            if overlaps {
                return Err(bad(format!("{} ({}) overlaps an earlier row", limit.code, limit.variant)));
            }
            rows.push(limit);
        }
        Ok(Limits { rows })
    }

    pub fn rows(&self) -> &[Limit] {
        &self.rows
    }

    /// The limit in force on `on` (the day its clock starts).
    pub fn find(&self, code: &str, variant: &str, on: NaiveDate) -> Result<&Limit, DeadlineError> {
        self.rows
            .iter()
            .find(|r| {
                r.code == code && r.variant == variant && r.valid_from <= on && r.valid_to.is_none_or(|t| on <= t)
            })
            .ok_or_else(|| DeadlineError::NoLimit { code: code.into(), variant: variant.into(), on })
    }

    /// The deadline of `code` (`variant`) whose clock started on `start` (the day itself not
    /// counted), with the suspensions so far.
    pub fn due(
        &self,
        code: &str,
        variant: &str,
        start: NaiveDate,
        suspensions: &[Suspension],
        cal: &WorkCalendar,
    ) -> Result<Due, DeadlineError> {
        let limit = self.find(code, variant, start)?.clone();
        let mut suspended_days = 0u32;
        for (from, to) in suspensions {
            match to {
                None => return Ok(Due { date: None, limit, suspended_days, moved_to_working_day: false }),
                Some(to) if to < from => return Err(DeadlineError::BadSuspension { from: *from, to: *to }),
                Some(to) => {
                    let n = match limit.unit {
                        DayUnit::Calendar => (*to - *from).num_days(),
                        // the working days the clock stood still: from the suspension up to the
                        // day before resumption
                        DayUnit::Working => {
                            cal.working_days_between(*from - Duration::days(1), *to - Duration::days(1))
                        }
                    };
                    suspended_days = suspended_days.saturating_add(u32::try_from(n.max(0)).unwrap_or(u32::MAX));
                }
            }
        }
        let total = limit.days.saturating_add(suspended_days);
        let (date, moved) = match limit.unit {
            DayUnit::Working => (cal.add_working_days(start, total), false),
            DayUnit::Calendar => {
                let mut d = start.checked_add_signed(Duration::days(i64::from(total))).unwrap_or(NaiveDate::MAX);
                let mut moved = false;
                while !cal.is_working_day(d) && d.year() < 9999 {
                    d = d.succ_opt().unwrap_or(d);
                    moved = true;
                }
                (d, moved)
            }
        };
        Ok(Due { date: Some(date), limit, suspended_days, moved_to_working_day: moved })
    }

    /// Whether a complaint filed on `filed` about a decision received (or known) on `known` is
    /// past the filing limit — it is then still recorded, flagged with the reason.
    pub fn filed_late(&self, known: NaiveDate, filed: NaiveDate, cal: &WorkCalendar) -> Result<bool, DeadlineError> {
        let due = self.due("complaint_filing", "normal", known, &[], cal)?;
        Ok(due.date.is_some_and(|d| filed > d))
    }

    /// Whether a second-instance complaint filed on `filed` is past its limit from the day the
    /// first-instance decision was received (30 days; 45 where the first case was handled as a
    /// remote-area case — Luật Khiếu nại 2011 Điều 33).
    pub fn second_filed_late(
        &self,
        first_variant: &str,
        received: NaiveDate,
        filed: NaiveDate,
        cal: &WorkCalendar,
    ) -> Result<(bool, Limit), DeadlineError> {
        let variant = if first_variant.starts_with("remote") { "remote" } else { "normal" };
        let due = self.due("complaint_second_filing", variant, received, &[], cal)?;
        Ok((due.date.is_some_and(|d| filed > d), due.limit))
    }
}

/// The variant a case moves to when its handling time is extended during handling, by a written
/// determination: a denunciation once (complex, +30 days) and once more (very complex, +30) —
/// Luật Tố cáo 2018 Điều 30; a complaint once, when it is determined complex — Luật Khiếu nại
/// 2011 Điều 28, 37. `None`: no further extension.
pub fn extension_of(code: &str, variant: &str) -> Option<&'static str> {
    match (code, variant) {
        ("denunciation_resolution", "normal") => Some("complex"),
        ("denunciation_resolution", "complex") => Some("very_complex"),
        ("complaint_first" | "complaint_second", "normal") => Some("complex"),
        ("complaint_first" | "complaint_second", "remote") => Some("remote_complex"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn setup() -> (Limits, WorkCalendar) {
        (Limits::embedded().unwrap(), WorkCalendar::embedded().unwrap())
    }

    fn due(code: &str, variant: &str, start: &str) -> NaiveDate {
        let (l, c) = setup();
        l.due(code, variant, d(start), &[], &c).unwrap().date.unwrap()
    }

    #[test]
    fn acceptance_changed_on_1_july_2026() {
        let (l, c) = setup();
        // received Monday 1/6/2026: 10 calendar days → Thursday 11/6
        let old = l.due("complaint_acceptance", "normal", d("2026-06-01"), &[], &c).unwrap();
        assert_eq!((old.date, old.limit.unit), (Some(d("2026-06-11")), DayUnit::Calendar));
        assert!(old.limit.citation.contains("Điều 27"));
        // received Wednesday 1/7/2026: 7 working days → Friday 10/7
        let new = l.due("complaint_acceptance", "normal", d("2026-07-01"), &[], &c).unwrap();
        assert_eq!((new.date, new.limit.unit), (Some(d("2026-07-10")), DayUnit::Working));
        assert!(new.limit.citation.contains("155/2026"));
    }

    #[test]
    fn every_limit_and_variant() {
        // accepted Monday 2/3/2026
        for (code, variant, expected) in [
            ("complaint_first", "normal", "2026-04-01"),  // +30 = Wed 1/4
            ("complaint_first", "complex", "2026-04-16"), // +45 = Thu 16/4
            ("complaint_first", "remote", "2026-04-16"),
            ("complaint_first", "remote_complex", "2026-05-04"), // +60 = Fri 1/5 (holiday) → Mon 4/5
            ("complaint_second", "normal", "2026-04-16"),
            ("complaint_second", "complex", "2026-05-04"),
            ("complaint_second", "remote", "2026-05-04"),
            ("complaint_second", "remote_complex", "2026-05-11"), // +70 = Mon 11/5
            ("denunciation_processing", "normal", "2026-03-11"),  // 7 working days
            ("denunciation_processing", "extended", "2026-03-16"),
            ("denunciation_forwarding", "normal", "2026-03-09"),
            ("denunciation_resolution", "normal", "2026-04-01"),
            ("denunciation_resolution", "complex", "2026-05-04"),
            ("denunciation_resolution", "very_complex", "2026-06-01"), // +90 = Sun 31/5 → Mon 1/6
        ] {
            assert_eq!(due(code, variant, "2026-03-02"), d(expected), "{code} {variant}");
        }
        let (l, _) = setup();
        assert!(matches!(
            l.find("complaint_first", "very_complex", d("2026-03-02")),
            Err(DeadlineError::NoLimit { .. })
        ));
    }

    #[test]
    fn holidays_move_a_calendar_deadline_and_stretch_a_working_one() {
        let (l, c) = setup();
        // received Friday 6/2/2026: 7 working days across Tết (16–20/2 off): 9–13/2, 23/2, 24/2
        let r = l.due("denunciation_processing", "normal", d("2026-02-06"), &[], &c).unwrap();
        assert_eq!(r.date, Some(d("2026-02-24")));
        // accepted 17/1/2026: +30 = Monday 16/2, in Tết → the next working day, Monday 23/2
        let r = l.due("complaint_first", "normal", d("2026-01-17"), &[], &c).unwrap();
        assert_eq!((r.date, r.moved_to_working_day), (Some(d("2026-02-23")), true));
        // a year without announced rows: Tết 2027 (5–11/2 off by the Labour Code rule)
        let r = l.due("denunciation_processing", "normal", d("2027-02-03"), &[], &c).unwrap();
        assert_eq!(r.date, Some(d("2027-02-19")), "Thu 4, Fri 12, Mon 15 … Thu 18, Fri 19");
    }

    #[test]
    fn suspension_stops_the_clock() {
        let (l, c) = setup();
        // accepted 2/3/2026, suspended 10/3, resumed 20/3: 10 days do not count
        let s = [(d("2026-03-10"), Some(d("2026-03-20")))];
        let r = l.due("complaint_first", "normal", d("2026-03-02"), &s, &c).unwrap();
        assert_eq!((r.date, r.suspended_days), (Some(d("2026-04-13")), 10), "1/4 + 10 = Sat 11/4 → Mon 13/4");
        let open = [(d("2026-03-10"), None)];
        assert_eq!(l.due("complaint_first", "normal", d("2026-03-02"), &open, &c).unwrap().date, None);
        // working days: suspended Wed 4/3, resumed Mon 9/3 → Wed, Thu, Fri do not count
        let s = [(d("2026-03-04"), Some(d("2026-03-09")))];
        let r = l.due("denunciation_processing", "normal", d("2026-03-02"), &s, &c).unwrap();
        assert_eq!((r.suspended_days, r.date), (3, Some(d("2026-03-16"))));
        let bad = [(d("2026-03-10"), Some(d("2026-03-01")))];
        assert!(matches!(
            l.due("complaint_first", "normal", d("2026-03-02"), &bad, &c),
            Err(DeadlineError::BadSuspension { .. })
        ));
    }

    #[test]
    fn the_90_day_filing_limit() {
        let (l, c) = setup();
        // decision received Monday 5/1/2026: +90 = Sunday 5/4 → Monday 6/4
        assert!(!l.filed_late(d("2026-01-05"), d("2026-04-06"), &c).unwrap());
        assert!(l.filed_late(d("2026-01-05"), d("2026-04-07"), &c).unwrap());
    }

    #[test]
    fn the_second_instance_window_and_extensions() {
        let (l, c) = setup();
        // first decision received Monday 5/1/2026: 30 days → Wednesday 4/2
        assert!(!l.second_filed_late("normal", d("2026-01-05"), d("2026-02-04"), &c).unwrap().0);
        assert!(l.second_filed_late("normal", d("2026-01-05"), d("2026-02-05"), &c).unwrap().0);
        assert!(l.second_filed_late("complex", d("2026-01-05"), d("2026-02-05"), &c).unwrap().0);
        // remote areas: 45 days → Thursday 19/2, inside the Tết break → the first working day after
        let (late, limit) = l.second_filed_late("remote_complex", d("2026-01-05"), d("2026-02-23"), &c).unwrap();
        assert_eq!((late, limit.days), (false, 45));
        assert!(l.second_filed_late("remote", d("2026-01-05"), d("2026-02-26"), &c).unwrap().0);
        // a denunciation accepted 2/3/2026: 30 days, extended once (60) and twice (90)
        let mut v = "normal";
        let mut dues = Vec::new();
        loop {
            dues.push(l.due("denunciation_resolution", v, d("2026-03-02"), &[], &c).unwrap().date.unwrap());
            match extension_of("denunciation_resolution", v) {
                Some(next) => v = next,
                None => break,
            }
        }
        // +60 = Friday 1/5 (Labour Day) → Monday 4/5; +90 = Sunday 31/5 → Monday 1/6
        assert_eq!(dues, vec![d("2026-04-01"), d("2026-05-04"), d("2026-06-01")]);
        assert_eq!(extension_of("complaint_first", "remote"), Some("remote_complex"));
        assert_eq!(extension_of("complaint_second", "complex"), None);
        assert_eq!(extension_of("denunciation_processing", "normal"), None);
    }

    #[test]
    fn bad_rows_are_named() {
        let head = "code,variant,valid_from,valid_to,days,unit,counted_from,citation\n";
        let e = Limits::from_csv(&format!("{head}x,normal,2020-01-01,,5,weeks,,Luật\n")).unwrap_err();
        assert!(e.to_string().contains("row 2") && e.to_string().contains("weeks"), "{e}");
        let e = Limits::from_csv(&format!("{head}x,normal,2020-01-01,,5,working,,\n")).unwrap_err();
        assert!(e.to_string().contains("citation"), "{e}");
        let e =
            Limits::from_csv(&format!("{head}x,normal,2020-01-01,,5,working,,L\nx,normal,2021-01-01,,6,working,,L\n"))
                .unwrap_err();
        assert!(e.to_string().contains("row 3") && e.to_string().contains("overlaps"), "{e}");
    }
}
