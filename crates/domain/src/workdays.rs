//! Working days of Vietnamese state agencies: Monday to Friday, less the public holidays
//! and their compensatory days, plus the Saturdays worked to make up for a swapped day.
//! The dated rows are in `data/calendar/holidays.csv` (sources in its `SOURCES.md`).

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};

pub const HOLIDAYS_CSV: &str = include_str!("../../../data/calendar/holidays.csv");

/// What a listed date is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    pub working: bool,
    pub name: String,
    pub source: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    #[error("holiday row {row}: {reason}")]
    Row { row: usize, reason: String },
}

/// The calendar: listed years from the data, other years by the fixed solar holidays.
#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    days: BTreeMap<NaiveDate, DayRow>,
    years: std::collections::BTreeSet<i32>,
    /// Weekdays off by the Labour Code's rule in years without announced rows.
    computed: std::collections::BTreeSet<NaiveDate>,
}

/// Years for which the rule-based holidays are computed when no rows are listed.
const RULE_YEARS: std::ops::RangeInclusive<i32> = 1990..=2100;

impl WorkCalendar {
    /// The compiled-in calendar.
    pub fn embedded() -> Result<WorkCalendar, CalendarError> {
        WorkCalendar::from_csv(HOLIDAYS_CSV)
    }

    /// Reads `date,kind,name,source` rows (`kind` = `holiday` | `workday`).
    pub fn from_csv(text: &str) -> Result<WorkCalendar, CalendarError> {
        let mut cal = WorkCalendar::default();
        let mut rdr = csv::Reader::from_reader(text.as_bytes());
        for (i, rec) in rdr.records().enumerate() {
            let row = i + 2;
            let rec = rec.map_err(|e| CalendarError::Row { row, reason: e.to_string() })?;
            let field = |n: usize| rec.get(n).unwrap_or("").trim().to_string();
            let date = NaiveDate::parse_from_str(&field(0), "%Y-%m-%d")
                .map_err(|_| CalendarError::Row { row, reason: format!("date {:?} is not yyyy-mm-dd", field(0)) })?;
            let working = match field(1).as_str() {
                "holiday" => false,
                "workday" => true,
                other => {
                    return Err(CalendarError::Row { row, reason: format!("kind {other:?} is not holiday or workday") })
                }
            };
            let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
            if working != weekend {
                return Err(CalendarError::Row {
                    row,
                    reason: if working {
                        "a make-up working day must be a Saturday or Sunday".into()
                    } else {
                        "a holiday row must fall on a weekday (weekend holidays need no row)".into()
                    },
                });
            }
            if field(3).is_empty() {
                return Err(CalendarError::Row { row, reason: "every row needs its source".into() });
            }
            cal.years.insert(date.year());
            cal.days.insert(date, DayRow { working, name: field(2), source: field(3) });
        }
        for year in RULE_YEARS.filter(|y| !cal.years.contains(y)) {
            cal.computed.extend(rule_holidays(year));
        }
        Ok(cal)
    }

    /// Whether `d` is a working day of state agencies.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if let Some(r) = self.days.get(&d) {
            return r.working;
        }
        let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        if weekend {
            return false;
        }
        if self.years.contains(&d.year()) {
            return true;
        }
        !self.computed.contains(&d)
    }

    /// The listed row of `d`, if any.
    pub fn day(&self, d: NaiveDate) -> Option<&DayRow> {
        self.days.get(&d)
    }

    /// The days of `year` that differ from Monday–Friday: the announced rows when the year is
    /// listed, else the holidays computed by the Labour Code's rule.
    pub fn year_days(&self, year: i32) -> Vec<(NaiveDate, DayRow)> {
        if self.years.contains(&year) {
            return self.days.iter().filter(|(d, _)| d.year() == year).map(|(d, r)| (*d, r.clone())).collect();
        }
        self.computed
            .iter()
            .filter(|d| d.year() == year)
            .map(|d| {
                let row = DayRow {
                    working: false,
                    name: "Nghỉ lễ, Tết (tính theo quy tắc của Bộ luật Lao động)".into(),
                    source: "Bộ luật Lao động 2019 Điều 112 (tính theo quy tắc)".into(),
                };
                (*d, row)
            })
            .collect()
    }

    /// Whether `year` has announced rows (rather than the computed rule).
    pub fn is_listed(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    /// The `n`-th working day after `from` (`from` itself not counted); `n = 0` is `from`.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let mut d = from;
        let mut left = n;
        while left > 0 {
            match d.checked_add_days(Days::new(1)) {
                Some(next) => d = next,
                None => return d,
            }
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Working days after `from` up to and including `to` (0 when `to <= from`).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        from.iter_days().skip(1).take_while(|d| *d <= to).filter(|d| self.is_working_day(*d)).count() as i64
    }
}

/// The weekdays off in `year` by the Labour Code alone (Art. 112.1: 1/1, Tết — taken as the
/// last day of the old lunar year and the first four of the new one, the usual arrangement —,
/// the Hùng Kings' day 10/3 lunar, 30/4, 1/5, 2/9 and the day after; Art. 112.3: a holiday on a
/// weekly day off is taken on the next working day). Used for years whose announced rows are
/// not in the data.
pub fn rule_holidays(year: i32) -> Vec<NaiveDate> {
    let mut off: Vec<NaiveDate> = [(1, 1), (4, 30), (5, 1), (9, 2), (9, 3)]
        .iter()
        .filter_map(|(m, d)| NaiveDate::from_ymd_opt(year, *m, *d))
        .collect();
    if let Some(tet) = crate::lunar::tet(year) {
        off.extend((-1..4).filter_map(|i| tet.checked_add_signed(chrono::Duration::days(i))));
    }
    if let Some(h) = crate::lunar::hung_kings(year) {
        off.push(h);
    }
    off.sort();
    let mut taken: Vec<NaiveDate> = Vec::new();
    for h in off {
        let mut t = h;
        while matches!(t.weekday(), Weekday::Sat | Weekday::Sun) || taken.contains(&t) {
            match t.succ_opt() {
                Some(n) => t = n,
                None => break,
            }
        }
        taken.push(t);
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn embedded_rows_are_consistent() {
        let c = WorkCalendar::embedded().unwrap();
        assert!(!c.is_working_day(d("2025-01-28")), "Tết 2025");
        assert!(!c.is_working_day(d("2025-02-01")), "a Saturday");
        assert!(c.is_working_day(d("2025-04-26")), "the Saturday worked for 2/5/2025");
        assert!(!c.is_working_day(d("2025-05-02")));
        assert!(c.is_working_day(d("2025-06-16")));
        assert_eq!(c.day(d("2025-04-07")).unwrap().name, "Giỗ Tổ Hùng Vương (10/3 âm lịch)");
    }

    #[test]
    fn a_year_s_days_listed_or_computed() {
        let c = WorkCalendar::embedded().unwrap();
        assert!(c.is_listed(2025) && !c.is_listed(2030));
        let y25 = c.year_days(2025);
        assert!(y25.iter().all(|(d, _)| d.year() == 2025));
        assert!(y25.iter().any(|(day, r)| *day == d("2025-04-26") && r.working), "the make-up Saturday");
        let y30 = c.year_days(2030);
        // 2030 has no announced rows: the Labour Code's holidays, computed
        assert!(y30.iter().all(|(_, r)| !r.working && r.source.contains("Điều 112")));
        assert!(
            y30.iter().any(|(day, _)| *day == d("2030-01-01")) && y30.iter().any(|(day, _)| *day == d("2030-09-02"))
        );
    }

    #[test]
    fn adding_working_days_skips_weekends_and_holidays() {
        let c = WorkCalendar::embedded().unwrap();
        // Sat 14/6/2025 cut-off: Mon 16, Tue 17, Wed 18
        assert_eq!(c.add_working_days(d("2025-06-14"), 3), d("2025-06-18"));
        // Fri 24/1/2025 + 1: the Tết week is off, Mon 3/2
        assert_eq!(c.add_working_days(d("2025-01-24"), 1), d("2025-02-03"));
        // 29/4/2025 + 1 → 30/4, 1/5, 2/5 off, weekend → Mon 5/5
        assert_eq!(c.add_working_days(d("2025-04-29"), 1), d("2025-05-05"));
        assert_eq!(c.add_working_days(d("2025-04-25"), 1), d("2025-04-26"), "make-up Saturday");
        assert_eq!(c.add_working_days(d("2025-06-16"), 0), d("2025-06-16"));
        assert_eq!(c.working_days_between(d("2025-06-14"), d("2025-06-18")), 3);
        assert_eq!(c.working_days_between(d("2025-06-18"), d("2025-06-14")), 0);
    }

    #[test]
    fn unlisted_years_follow_the_labour_code_with_the_lunar_holidays() {
        let c = WorkCalendar::embedded().unwrap();
        assert!(!c.is_working_day(d("2027-01-01")), "Friday 1/1/2027");
        assert!(!c.is_working_day(d("2027-05-03")), "1/5/2027 is a Saturday: Monday 3/5 off");
        assert!(!c.is_working_day(d("2027-09-02")) && !c.is_working_day(d("2027-09-03")));
        assert!(c.is_working_day(d("2027-09-06")));
        assert!(!c.is_working_day(d("2023-01-02")), "1/1/2023 was a Sunday");
        // Tết 2027 is Saturday 6/2: Friday 5/2 (the year's last day), Mon 8 and Tue 9, and the
        // two weekend days taken on Wed 10 and Thu 11
        for day in ["2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11"] {
            assert!(!c.is_working_day(d(day)), "{day}");
        }
        assert!(c.is_working_day(d("2027-02-04")) && c.is_working_day(d("2027-02-12")));
        let hung = crate::lunar::hung_kings(2027).unwrap();
        assert!(!c.is_working_day(hung) || matches!(hung.weekday(), Weekday::Sat | Weekday::Sun), "{hung}");
        assert_eq!(rule_holidays(2027).len(), 11, "1/1, Tết 5, Giỗ Tổ, 30/4, 1/5, 2/9 and the day after");
        // for a listed year the announcement wins: 2025's Tết was announced as 27–31/1, the rule
        // alone would give 28/1–3/2 (the Saturday 1/2 moved to Monday)
        let r25 = rule_holidays(2025);
        for day in ["2025-01-28", "2025-01-29", "2025-01-31", "2025-02-03", "2025-04-07"] {
            assert!(r25.contains(&d(day)), "{day}");
        }
        assert!(!c.is_working_day(d("2025-01-27")) && c.is_working_day(d("2025-02-03")), "the rows rule 2025");
    }

    #[test]
    fn bad_rows_are_named() {
        let e = WorkCalendar::from_csv("date,kind,name,source\n2025-02-01,holiday,x,y\n").unwrap_err();
        assert!(e.to_string().contains("row 2") && e.to_string().contains("weekday"), "{e}");
        let e = WorkCalendar::from_csv("date,kind,name,source\n2025-02-03,holiday,x,\n").unwrap_err();
        assert!(e.to_string().contains("source"), "{e}");
        let e = WorkCalendar::from_csv("date,kind,name,source\n03/02/2025,holiday,x,y\n").unwrap_err();
        assert!(e.to_string().contains("yyyy-mm-dd"), "{e}");
    }
}
