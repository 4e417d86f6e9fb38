//! Calendar months, effective-date ranges and the date forms officers type.
//!
//! Old records often hold only a year (or month and year) of birth, so a recorded
//! date is a [`PartialDate`]; everything effective-dated uses [`DateRange`] with
//! inclusive bounds, as Vietnamese legal texts do ("từ ngày … đến ngày …").

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Years accepted on input. Records of people with merit go back to the 1880s
/// (pre-1945 revolutionaries); anything outside is a typing error.
pub const MIN_YEAR: i32 = 1850;
pub const MAX_YEAR: i32 = 2200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("'{input}' is not a date; type dd/mm/yyyy (e.g. 02/09/1945), yyyy-mm-dd, mm/yyyy or yyyy")]
    Format { input: String },
    #[error("'{input}': year {year} is outside {MIN_YEAR}–{MAX_YEAR}")]
    YearOutOfRange { input: String, year: i32 },
    #[error("'{input}': month {month} does not exist (1–12)")]
    MonthOutOfRange { input: String, month: u32 },
    #[error("'{input}': day {day} does not exist in {month:02}/{year}")]
    DayOutOfRange { input: String, day: u32, month: u32, year: i32 },
    #[error("date range: end {to} is before start {from}")]
    RangeReversed { from: String, to: String },
}

impl DateError {
    /// The message for end users, in Vietnamese (`Display` is the English one for logs).
    pub fn vi(&self) -> String {
        match self {
            DateError::Format { input } => {
                format!("'{input}' không phải ngày: ghi dd/mm/yyyy (ví dụ 02/09/1945), yyyy-mm-dd, mm/yyyy hoặc yyyy")
            }
            DateError::YearOutOfRange { input, year } => {
                format!("'{input}': năm {year} nằm ngoài {MIN_YEAR}–{MAX_YEAR}")
            }
            DateError::MonthOutOfRange { input, month } => format!("'{input}': không có tháng {month} (1–12)"),
            DateError::DayOutOfRange { input, day, month, year } => {
                format!("'{input}': tháng {month:02}/{year} không có ngày {day}")
            }
            DateError::RangeReversed { from, to } => {
                format!("khoảng ngày: ngày kết thúc {to} trước ngày bắt đầu {from}")
            }
        }
    }
}

/// A calendar month, the unit of monthly allowances and payment cycles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (MIN_YEAR..=MAX_YEAR).contains(&year)).then_some(Month { year, month })
    }

    pub fn of(date: NaiveDate) -> Month {
        Month { year: date.year(), month: date.month() }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    /// Months since year 0, handy for arithmetic and as a dense key.
    pub fn index(self) -> i64 {
        i64::from(self.year) * 12 + i64::from(self.month) - 1
    }

    pub fn from_index(index: i64) -> Option<Month> {
        let year = i32::try_from(index.div_euclid(12)).ok()?;
        let month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
        Month::new(year, month)
    }

    pub fn add_months(self, n: i64) -> Option<Month> {
        Month::from_index(self.index().checked_add(n)?)
    }

    pub fn next(self) -> Option<Month> {
        self.add_months(1)
    }

    pub fn first_day(self) -> NaiveDate {
        // Always valid: month is 1..=12 and year within chrono's range.
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn last_day(self) -> NaiveDate {
        match self.next() {
            Some(n) => n.first_day().pred_opt().unwrap_or(NaiveDate::MAX),
            None => NaiveDate::from_ymd_opt(self.year, 12, 31).unwrap_or(NaiveDate::MAX),
        }
    }

    /// Number of months from `self` to `to`, both inclusive (0 if `to` is earlier).
    pub fn count_through(self, to: Month) -> i64 {
        (to.index() - self.index() + 1).max(0)
    }

    /// Iterates months from `self` to `to`, both inclusive.
    pub fn through(self, to: Month) -> impl Iterator<Item = Month> {
        let start = self.index();
        let end = to.index();
        (start..=end).filter_map(Month::from_index)
    }
}

/// Displays `09/2024`.
impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{}", self.month, self.year)
    }
}

impl FromStr for Month {
    type Err = DateError;
    /// Accepts `mm/yyyy`, `m/yyyy` and `yyyy-mm`.
    fn from_str(s: &str) -> Result<Month, DateError> {
        match PartialDate::parse(s)? {
            PartialDate::MonthYear(m) => Ok(m),
            _ => Err(DateError::Format { input: s.to_string() }),
        }
    }
}

/// A date as recorded: full, month and year, or year only (old records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "precision", content = "value", rename_all = "snake_case")]
pub enum PartialDate {
    Full(NaiveDate),
    MonthYear(Month),
    Year(i32),
}

impl PartialDate {
    pub fn year(self) -> i32 {
        match self {
            PartialDate::Full(d) => d.year(),
            PartialDate::MonthYear(m) => m.year(),
            PartialDate::Year(y) => y,
        }
    }

    /// Earliest date the record can mean.
    pub fn earliest(self) -> NaiveDate {
        match self {
            PartialDate::Full(d) => d,
            PartialDate::MonthYear(m) => m.first_day(),
            PartialDate::Year(y) => NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(NaiveDate::MIN),
        }
    }

    /// Latest date the record can mean.
    pub fn latest(self) -> NaiveDate {
        match self {
            PartialDate::Full(d) => d,
            PartialDate::MonthYear(m) => m.last_day(),
            PartialDate::Year(y) => NaiveDate::from_ymd_opt(y, 12, 31).unwrap_or(NaiveDate::MAX),
        }
    }

    /// Parses what officers type: `dd/mm/yyyy`, `d/m/yyyy` (also with `-` or `.`),
    /// `yyyy-mm-dd`, `mm/yyyy`, `yyyy-mm`, `yyyy`. Errors say precisely what is wrong.
    pub fn parse(input: &str) -> Result<PartialDate, DateError> {
        let s = input.trim();
        let fmt_err = || DateError::Format { input: input.to_string() };
        if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || matches!(c, '/' | '-' | '.')) {
            return Err(fmt_err());
        }
        let parts: Vec<&str> = s.split(['/', '-', '.']).collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(fmt_err());
        }
        // one separator kind only
        let seps: Vec<char> = s.chars().filter(|c| !c.is_ascii_digit()).collect();
        if seps.windows(2).any(|w| w[0] != w[1]) {
            return Err(fmt_err());
        }
        let num = |p: &str| p.parse::<u32>().map_err(|_| fmt_err());
        let (year_s, month_s, day_s) = match parts.as_slice() {
            [y] if y.len() == 4 => (*y, None, None),
            [a, b] if a.len() == 4 && b.len() <= 2 => (*a, Some(*b), None),
            [m, y] if m.len() <= 2 && y.len() == 4 => (*y, Some(*m), None),
            [y, m, d] if y.len() == 4 && m.len() <= 2 && d.len() <= 2 => (*y, Some(*m), Some(*d)),
            [d, m, y] if d.len() <= 2 && m.len() <= 2 && y.len() == 4 => (*y, Some(*m), Some(*d)),
            _ => return Err(fmt_err()),
        };
        let year = i32::try_from(num(year_s)?).map_err(|_| fmt_err())?;
        if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
            return Err(DateError::YearOutOfRange { input: input.to_string(), year });
        }
        let Some(month_s) = month_s else {
            return Ok(PartialDate::Year(year));
        };
        let month = num(month_s)?;
        if !(1..=12).contains(&month) {
            return Err(DateError::MonthOutOfRange { input: input.to_string(), month });
        }
        let m = Month { year, month };
        let Some(day_s) = day_s else {
            return Ok(PartialDate::MonthYear(m));
        };
        let day = num(day_s)?;
        NaiveDate::from_ymd_opt(year, month, day).map(PartialDate::Full).ok_or(DateError::DayOutOfRange {
            input: input.to_string(),
            day,
            month,
            year,
        })
    }

    /// Canonical storage form: `yyyy-mm-dd`, `yyyy-mm`, `yyyy`.
    pub fn to_iso(self) -> String {
        match self {
            PartialDate::Full(d) => d.format("%Y-%m-%d").to_string(),
            PartialDate::MonthYear(m) => format!("{}-{:02}", m.year(), m.month()),
            PartialDate::Year(y) => format!("{y}"),
        }
    }
}

/// Displays `dd/mm/yyyy`, `mm/yyyy` or `yyyy`.
impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartialDate::Full(d) => write!(f, "{}", format_date(*d)),
            PartialDate::MonthYear(m) => write!(f, "{m}"),
            PartialDate::Year(y) => write!(f, "{y}"),
        }
    }
}

/// Parses a full date only (an effective date, a decision date).
pub fn parse_date(input: &str) -> Result<NaiveDate, DateError> {
    match PartialDate::parse(input)? {
        PartialDate::Full(d) => Ok(d),
        _ => Err(DateError::Format { input: input.to_string() }),
    }
}

/// Vietnamese display of a date: `dd/mm/yyyy`.
pub fn format_date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// An inclusive date range with an optional open end: the validity of a fact,
/// a rule row or a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DateRange {
    pub from: NaiveDate,
    /// Last day of validity; `None` = still in force.
    pub to: Option<NaiveDate>,
}

impl DateRange {
    pub fn new(from: NaiveDate, to: Option<NaiveDate>) -> Result<DateRange, DateError> {
        if let Some(t) = to {
            if t < from {
                return Err(DateError::RangeReversed { from: format_date(from), to: format_date(t) });
            }
        }
        Ok(DateRange { from, to })
    }

    pub fn open(from: NaiveDate) -> DateRange {
        DateRange { from, to: None }
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        d >= self.from && self.to.is_none_or(|t| d <= t)
    }

    pub fn overlaps(&self, other: &DateRange) -> bool {
        self.intersect(other).is_some()
    }

    pub fn intersect(&self, other: &DateRange) -> Option<DateRange> {
        let from = self.from.max(other.from);
        let to = match (self.to, other.to) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match to {
            Some(t) if t < from => None,
            _ => Some(DateRange { from, to }),
        }
    }

    /// True if the range covers the whole month (a monthly allowance is due for it).
    pub fn covers_month(&self, m: Month) -> bool {
        self.contains(m.first_day()) && self.contains(m.last_day())
    }

    /// True if the range touches any day of the month.
    pub fn touches_month(&self, m: Month) -> bool {
        self.overlaps(&DateRange { from: m.first_day(), to: Some(m.last_day()) })
    }
}

impl fmt::Display for DateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to {
            Some(t) => write!(f, "{} – {}", format_date(self.from), format_date(t)),
            None => write!(f, "từ {}", format_date(self.from)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn errors_speak_vietnamese_to_users() {
        let e = PartialDate::parse("31/02/1958").unwrap_err();
        assert_eq!(e.vi(), "'31/02/1958': tháng 02/1958 không có ngày 31");
        assert!(e.to_string().contains("day 31 does not exist"), "Display stays English for logs");
        assert!(parse_date("hôm qua").unwrap_err().vi().starts_with("'hôm qua' không phải ngày"));
    }

    #[test]
    fn parses_officer_forms() {
        assert_eq!(PartialDate::parse("02/09/1945").unwrap(), PartialDate::Full(d(1945, 9, 2)));
        assert_eq!(PartialDate::parse("2/9/1945").unwrap(), PartialDate::Full(d(1945, 9, 2)));
        assert_eq!(PartialDate::parse("1945-09-02").unwrap(), PartialDate::Full(d(1945, 9, 2)));
        assert_eq!(PartialDate::parse("02-09-1945").unwrap(), PartialDate::Full(d(1945, 9, 2)));
        assert_eq!(PartialDate::parse("02.09.1945").unwrap(), PartialDate::Full(d(1945, 9, 2)));
        assert_eq!(PartialDate::parse(" 1930 ").unwrap(), PartialDate::Year(1930));
        assert_eq!(PartialDate::parse("7/1954").unwrap(), PartialDate::MonthYear(Month::new(1954, 7).unwrap()));
        assert_eq!(PartialDate::parse("1954-07").unwrap(), PartialDate::MonthYear(Month::new(1954, 7).unwrap()));
    }

    #[test]
    fn explains_bad_dates() {
        assert!(matches!(
            PartialDate::parse("31/02/2024"),
            Err(DateError::DayOutOfRange { day: 31, month: 2, year: 2024, .. })
        ));
        assert!(matches!(PartialDate::parse("29/02/2023"), Err(DateError::DayOutOfRange { .. })));
        assert!(PartialDate::parse("29/02/2024").is_ok());
        assert!(matches!(PartialDate::parse("01/13/2024"), Err(DateError::MonthOutOfRange { month: 13, .. })));
        assert!(matches!(PartialDate::parse("01/01/1024"), Err(DateError::YearOutOfRange { year: 1024, .. })));
        for bad in ["", "abc", "1/2/3", "2024/1-1", "01//2024", "123456", "1.2", "０1/01/2024"] {
            assert!(matches!(PartialDate::parse(bad), Err(DateError::Format { .. })), "{bad}");
        }
        let msg = PartialDate::parse("31/02/2024").unwrap_err().to_string();
        assert!(msg.contains("day 31 does not exist in 02/2024"), "{msg}");
    }

    #[test]
    fn displays_vietnamese() {
        assert_eq!(PartialDate::Full(d(2024, 7, 1)).to_string(), "01/07/2024");
        assert_eq!(Month::new(2024, 7).unwrap().to_string(), "07/2024");
        assert_eq!(DateRange::open(d(2024, 7, 1)).to_string(), "từ 01/07/2024");
    }

    #[test]
    fn month_arithmetic() {
        let m = Month::new(2024, 11).unwrap();
        assert_eq!(m.add_months(3).unwrap(), Month::new(2025, 2).unwrap());
        assert_eq!(m.add_months(-11).unwrap(), Month::new(2023, 12).unwrap());
        assert_eq!(Month::new(2024, 2).unwrap().last_day(), d(2024, 2, 29));
        assert_eq!(Month::new(2023, 7).unwrap().count_through(Month::new(2024, 6).unwrap()), 12);
        assert_eq!(Month::new(2023, 7).unwrap().through(Month::new(2023, 9).unwrap()).count(), 3);
        assert!(Month::new(2024, 13).is_none());
        assert_eq!("07/2023".parse::<Month>().unwrap(), Month::new(2023, 7).unwrap());
    }

    #[test]
    fn ranges() {
        let a = DateRange::new(d(2021, 7, 1), Some(d(2023, 6, 30))).unwrap();
        let b = DateRange::open(d(2023, 7, 1));
        assert!(!a.overlaps(&b));
        assert!(a.covers_month(Month::new(2023, 6).unwrap()));
        assert!(!a.covers_month(Month::new(2023, 7).unwrap()));
        assert!(b.contains(d(2100, 1, 1)));
        let c = DateRange::new(d(2023, 6, 15), None).unwrap();
        assert_eq!(a.intersect(&c).unwrap(), DateRange::new(d(2023, 6, 15), Some(d(2023, 6, 30))).unwrap());
        assert!(a.touches_month(Month::new(2023, 6).unwrap()));
        assert!(DateRange::new(d(2024, 1, 2), Some(d(2024, 1, 1))).is_err());
    }

    proptest! {
        #[test]
        fn full_date_display_parse_roundtrip(days in 0i64..(200 * 366)) {
            let date = d(1900, 1, 1) + chrono::Duration::days(days);
            let p = PartialDate::Full(date);
            prop_assert_eq!(PartialDate::parse(&p.to_string()).unwrap(), p);
            prop_assert_eq!(PartialDate::parse(&p.to_iso()).unwrap(), p);
        }

        #[test]
        fn month_index_roundtrip(y in MIN_YEAR..MAX_YEAR, m in 1u32..=12, k in -600i64..600) {
            let month = Month::new(y, m).unwrap();
            prop_assert_eq!(Month::from_index(month.index()).unwrap(), month);
            if let Some(n) = month.add_months(k) {
                prop_assert_eq!(n.index() - month.index(), k);
                prop_assert!(n.first_day() <= n.last_day());
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,16}") {
            let _ = PartialDate::parse(&s);
        }

        #[test]
        fn intersection_is_commutative_and_contained(a in 0i64..1000, b in 0i64..1000, c in 0i64..1000, e in 0i64..1000) {
            let base = d(2020, 1, 1);
            let r1 = DateRange::new(base + chrono::Duration::days(a.min(b)), Some(base + chrono::Duration::days(a.max(b)))).unwrap();
            let r2 = DateRange::new(base + chrono::Duration::days(c.min(e)), Some(base + chrono::Duration::days(c.max(e)))).unwrap();
            prop_assert_eq!(r1.intersect(&r2), r2.intersect(&r1));
            if let Some(i) = r1.intersect(&r2) {
                prop_assert!(r1.contains(i.from) && r2.contains(i.from));
            }
        }
    }
}
