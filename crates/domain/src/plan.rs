//! Plan monitoring: report periods of Decree 09/2019, task deadlines and the Government's
//! task status categories (Quyết định 42/2014, 23/2018 of the Prime Minister), indicator
//! values in fixed point and the traffic light of an indicator against its target.
//! Pure: "today" is always passed in.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// How often a report (or a recurring task) comes round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Monthly,
    Quarterly,
    SixMonthly,
    Annual,
}

impl PeriodKind {
    pub const ALL: [PeriodKind; 4] =
        [PeriodKind::Monthly, PeriodKind::Quarterly, PeriodKind::SixMonthly, PeriodKind::Annual];

    pub fn code(self) -> &'static str {
        match self {
            PeriodKind::Monthly => "monthly",
            PeriodKind::Quarterly => "quarterly",
            PeriodKind::SixMonthly => "six_monthly",
            PeriodKind::Annual => "annual",
        }
    }

    pub fn parse(s: &str) -> Option<PeriodKind> {
        let k = crate::text::search_key(s);
        Some(match k.as_str() {
            "monthly" | "hang thang" | "thang" => PeriodKind::Monthly,
            "quarterly" | "hang quy" | "quy" => PeriodKind::Quarterly,
            "six_monthly" | "six monthly" | "6 thang" | "sau thang" | "hang 6 thang" | "6 thang mot lan" => {
                PeriodKind::SixMonthly
            }
            "annual" | "yearly" | "hang nam" | "nam" => PeriodKind::Annual,
            _ => return None,
        })
    }
}

/// One report period: its data window (cut-off) per Decree 09/2019 Art. 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReportPeriod {
    pub kind: PeriodKind,
    pub year: i32,
    /// month 1–12, quarter 1–4, half 1 (the six-monthly report); 0 for annual
    pub n: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("report period {0:?}: expected yyyy-mm, yyyy-Qn, yyyy-H1 or yyyy")]
pub struct PeriodError(pub String);

impl ReportPeriod {
    pub fn new(kind: PeriodKind, year: i32, n: u32) -> Option<ReportPeriod> {
        let ok = match kind {
            PeriodKind::Monthly => (1..=12).contains(&n),
            PeriodKind::Quarterly => (1..=4).contains(&n),
            PeriodKind::SixMonthly => n == 1,
            PeriodKind::Annual => n == 0,
        };
        (ok && (1900..=2200).contains(&year)).then_some(ReportPeriod { kind, year, n })
    }

    /// The last month of the period (its cut-off is the 14th of that month).
    fn end_month(self) -> u32 {
        match self.kind {
            PeriodKind::Monthly => self.n,
            PeriodKind::Quarterly => self.n * 3,
            PeriodKind::SixMonthly => 6,
            PeriodKind::Annual => 12,
        }
    }

    /// First day of the data window: the 15th of the month before the period's first month
    /// (15/12 of the previous year for six-monthly and annual reports).
    pub fn start(self) -> NaiveDate {
        let first_month = match self.kind {
            PeriodKind::Monthly => self.n,
            PeriodKind::Quarterly => self.n * 3 - 2,
            PeriodKind::SixMonthly | PeriodKind::Annual => 1,
        };
        let (y, m) = if first_month == 1 { (self.year - 1, 12) } else { (self.year, first_month - 1) };
        NaiveDate::from_ymd_opt(y, m, 15).unwrap_or(NaiveDate::MIN)
    }

    /// Last day of the data window (the cut-off): the 14th of the period's last month.
    pub fn end(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.end_month(), 14).unwrap_or(NaiveDate::MAX)
    }

    pub fn contains(self, d: NaiveDate) -> bool {
        self.start() <= d && d <= self.end()
    }

    /// The period of `kind` whose window contains `d`.
    pub fn containing(kind: PeriodKind, d: NaiveDate) -> ReportPeriod {
        // windows run from the 15th: a day from the 15th on belongs to the next month's window
        let (y, m) = if d.day() >= 15 {
            if d.month() == 12 {
                (d.year() + 1, 1)
            } else {
                (d.year(), d.month() + 1)
            }
        } else {
            (d.year(), d.month())
        };
        let n = match kind {
            PeriodKind::Monthly => m,
            PeriodKind::Quarterly => m.div_ceil(3),
            PeriodKind::SixMonthly => 1,
            PeriodKind::Annual => 0,
        };
        let p = ReportPeriod { kind, year: y, n };
        // the six-monthly window covers only 15/12 → 14/6: later days are in no such window;
        // the next one is returned
        if kind == PeriodKind::SixMonthly && !p.contains(d) {
            return ReportPeriod { kind, year: if d < p.start() { y } else { y + 1 }, n: 1 };
        }
        p
    }

    /// The periods of `kind` whose windows end within `[from, to]`, in order.
    pub fn ending_within(kind: PeriodKind, from: NaiveDate, to: NaiveDate) -> Vec<ReportPeriod> {
        let mut out = Vec::new();
        for year in from.year()..=to.year() + 1 {
            let ns: Vec<u32> = match kind {
                PeriodKind::Monthly => (1..=12).collect(),
                PeriodKind::Quarterly => (1..=4).collect(),
                PeriodKind::SixMonthly => vec![1],
                PeriodKind::Annual => vec![0],
            };
            for n in ns {
                let p = ReportPeriod { kind, year, n };
                if p.end() >= from && p.end() <= to {
                    out.push(p);
                }
            }
        }
        out
    }

    /// Vietnamese label: "Tháng 06/2025", "Quý II/2025", "6 tháng đầu năm 2025", "Năm 2025".
    pub fn label_vi(self) -> String {
        match self.kind {
            PeriodKind::Monthly => format!("Tháng {:02}/{}", self.n, self.year),
            PeriodKind::Quarterly => {
                format!("Quý {}/{}", ["I", "II", "III", "IV"][(self.n as usize).clamp(1, 4) - 1], self.year)
            }
            PeriodKind::SixMonthly => format!("6 tháng đầu năm {}", self.year),
            PeriodKind::Annual => format!("Năm {}", self.year),
        }
    }

    pub fn label_en(self) -> String {
        match self.kind {
            PeriodKind::Monthly => format!("{:02}/{}", self.n, self.year),
            PeriodKind::Quarterly => format!("Q{} {}", self.n, self.year),
            PeriodKind::SixMonthly => format!("First half of {}", self.year),
            PeriodKind::Annual => format!("Year {}", self.year),
        }
    }
}

impl fmt::Display for ReportPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            PeriodKind::Monthly => write!(f, "{}-{:02}", self.year, self.n),
            PeriodKind::Quarterly => write!(f, "{}-Q{}", self.year, self.n),
            PeriodKind::SixMonthly => write!(f, "{}-H1", self.year),
            PeriodKind::Annual => write!(f, "{}", self.year),
        }
    }
}

impl FromStr for ReportPeriod {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PeriodError(s.to_string());
        let t = s.trim();
        let (year, rest) = match t.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (t, None),
        };
        if year.len() != 4 {
            return Err(err());
        }
        let year: i32 = year.parse().map_err(|_| err())?;
        let p = match rest {
            None => ReportPeriod::new(PeriodKind::Annual, year, 0),
            Some("H1") | Some("h1") => ReportPeriod::new(PeriodKind::SixMonthly, year, 1),
            Some(r) if r.starts_with(['Q', 'q']) => {
                ReportPeriod::new(PeriodKind::Quarterly, year, r[1..].parse().map_err(|_| err())?)
            }
            Some(r) if r.len() == 2 => ReportPeriod::new(PeriodKind::Monthly, year, r.parse().map_err(|_| err())?),
            Some(_) => None,
        };
        p.ok_or_else(err)
    }
}

/// A task's deadline as plans write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Deadline {
    /// By a date.
    On(NaiveDate),
    /// Every period of this kind (its occurrence is due at the period's cut-off).
    Every(PeriodKind),
    /// Continuous (thường xuyên): never due, never overdue.
    Continuous,
}

impl Deadline {
    /// `dd/mm/yyyy` | `yyyy-mm-dd` | `annual`/`hằng năm` | `six_monthly`/`6 tháng` | `quarterly` |
    /// `monthly` | `continuous`/`thường xuyên`.
    pub fn parse(s: &str) -> Option<Deadline> {
        let k = crate::text::search_key(s);
        if matches!(k.as_str(), "continuous" | "thuong xuyen" | "lien tuc") {
            return Some(Deadline::Continuous);
        }
        if let Some(kind) = PeriodKind::parse(s) {
            return Some(Deadline::Every(kind));
        }
        crate::calendar::parse_date(s).ok().map(Deadline::On)
    }

    /// Stored form: `2025-12-31`, `every:annual`, `continuous`.
    pub fn code(self) -> String {
        match self {
            Deadline::On(d) => d.format("%Y-%m-%d").to_string(),
            Deadline::Every(k) => format!("every:{}", k.code()),
            Deadline::Continuous => "continuous".into(),
        }
    }

    pub fn from_code(s: &str) -> Option<Deadline> {
        if s == "continuous" {
            return Some(Deadline::Continuous);
        }
        if let Some(k) = s.strip_prefix("every:") {
            return PeriodKind::parse(k).map(Deadline::Every);
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(Deadline::On)
    }

    pub fn label_vi(self) -> String {
        match self {
            Deadline::On(d) => crate::calendar::format_date(d),
            Deadline::Every(PeriodKind::Monthly) => "Hằng tháng".into(),
            Deadline::Every(PeriodKind::Quarterly) => "Hằng quý".into(),
            Deadline::Every(PeriodKind::SixMonthly) => "6 tháng một lần".into(),
            Deadline::Every(PeriodKind::Annual) => "Hằng năm".into(),
            Deadline::Continuous => "Thường xuyên".into(),
        }
    }

    pub fn label_en(self) -> String {
        match self {
            Deadline::On(d) => crate::calendar::format_date(d),
            Deadline::Every(PeriodKind::Monthly) => "Every month".into(),
            Deadline::Every(PeriodKind::Quarterly) => "Every quarter".into(),
            Deadline::Every(PeriodKind::SixMonthly) => "Every six months".into(),
            Deadline::Every(PeriodKind::Annual) => "Every year".into(),
            Deadline::Continuous => "Continuous".into(),
        }
    }
}

/// What an agency reports about a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Progress {
    NotStarted,
    InProgress,
    Done,
}

impl Progress {
    pub fn code(self) -> &'static str {
        match self {
            Progress::NotStarted => "not_started",
            Progress::InProgress => "in_progress",
            Progress::Done => "done",
        }
    }
    pub fn parse(s: &str) -> Option<Progress> {
        Some(match s {
            "not_started" => Progress::NotStarted,
            "in_progress" => Progress::InProgress,
            "done" => Progress::Done,
            _ => return None,
        })
    }
}

/// The Government's task status categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    NotYetDue,
    InProgress,
    DoneOnTime,
    DoneLate,
    Overdue,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 5] = [
        TaskStatus::Overdue,
        TaskStatus::DoneLate,
        TaskStatus::InProgress,
        TaskStatus::NotYetDue,
        TaskStatus::DoneOnTime,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TaskStatus::NotYetDue => "not_yet_due",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::DoneOnTime => "done_on_time",
            TaskStatus::DoneLate => "done_late",
            TaskStatus::Overdue => "overdue",
        }
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            TaskStatus::NotYetDue => ("Chưa đến hạn", "Not yet due"),
            TaskStatus::InProgress => ("Đang thực hiện trong hạn", "In progress within deadline"),
            TaskStatus::DoneOnTime => ("Hoàn thành đúng hạn", "Done on time"),
            TaskStatus::DoneLate => ("Hoàn thành quá hạn", "Done late"),
            TaskStatus::Overdue => ("Quá hạn chưa hoàn thành", "Overdue, not done"),
        }
    }
}

/// One thing an agency reported about a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressReport {
    pub progress: Progress,
    /// When it was done, as reported; the submission date if not given. A date after the
    /// submission is not believed (the submission date is used).
    pub completed_on: Option<NaiveDate>,
    /// The (latest) submission of the report that says it.
    pub submitted_on: NaiveDate,
    /// The cut-off of the report's period: which occurrence of a recurring task it speaks for.
    pub period_end: NaiveDate,
}

impl ProgressReport {
    fn done_on(&self) -> NaiveDate {
        self.completed_on.unwrap_or(self.submitted_on).min(self.submitted_on)
    }
}

/// A task's state on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaskState {
    pub status: TaskStatus,
    /// The deadline that decides the status (the occurrence's, for a recurring task).
    pub due: Option<NaiveDate>,
    pub done_on: Option<NaiveDate>,
    /// Days until `due` (negative: days overdue).
    pub days_left: Option<i64>,
}

/// The occurrences of a recurring task within the plan, as (start, due) windows: the report
/// periods of its kind — and for "every six months" both halves of the year (15/12 → 14/6 and
/// 15/6 → 14/12), since Decree 09's six-monthly report covers only the first.
pub fn occurrences(kind: PeriodKind, plan_from: NaiveDate, plan_to: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate)> =
        ReportPeriod::ending_within(kind, plan_from, plan_to).into_iter().map(|p| (p.start(), p.end())).collect();
    if kind == PeriodKind::SixMonthly {
        for year in plan_from.year()..=plan_to.year() {
            if let (Some(s), Some(e)) = (NaiveDate::from_ymd_opt(year, 6, 15), NaiveDate::from_ymd_opt(year, 12, 14)) {
                if e >= plan_from && e <= plan_to {
                    out.push((s, e));
                }
            }
        }
        out.sort();
    }
    out
}

/// Derives a task's status on `today` from its deadline and what was reported (submitted or
/// accepted reports only; drafts and returned versions are the caller's to leave out).
///
/// A one-off deadline: done on time / late by the earliest "done"; else overdue once past,
/// in progress once work was reported, not yet due before. A recurring task has one occurrence
/// per window of [`occurrences`]; a report speaks for the occurrence whose window holds its
/// period's cut-off, and its "done" counts only if the work was done after that occurrence
/// started (a restatement of earlier work is not a new completion); on time or late by the
/// completion date against the occurrence's due date. The task's state is the last due
/// occurrence's when that one is overdue, else the current occurrence's (done early, in
/// progress, not yet due), or after the plan's last occurrence, that one's. Continuous tasks
/// are never due.
pub fn task_state(
    deadline: Deadline,
    plan_from: NaiveDate,
    plan_to: NaiveDate,
    reports: &[ProgressReport],
    today: NaiveDate,
) -> TaskState {
    let seen: Vec<&ProgressReport> = reports.iter().filter(|r| r.submitted_on <= today).collect();
    let one = |due: NaiveDate, done: Option<NaiveDate>, started: bool| -> TaskState {
        let days_left = Some((due - today).num_days());
        match done {
            Some(d) if d <= due => {
                TaskState { status: TaskStatus::DoneOnTime, due: Some(due), done_on: Some(d), days_left }
            }
            Some(d) => TaskState { status: TaskStatus::DoneLate, due: Some(due), done_on: Some(d), days_left },
            None if today > due => TaskState { status: TaskStatus::Overdue, due: Some(due), done_on: None, days_left },
            None if started => TaskState { status: TaskStatus::InProgress, due: Some(due), done_on: None, days_left },
            None => TaskState { status: TaskStatus::NotYetDue, due: Some(due), done_on: None, days_left },
        }
    };
    let worked = |r: &&&ProgressReport| r.progress != Progress::NotStarted;
    match deadline {
        Deadline::Continuous => TaskState {
            status: if seen.iter().any(|r| worked(&r)) { TaskStatus::InProgress } else { TaskStatus::NotYetDue },
            due: None,
            done_on: None,
            days_left: None,
        },
        Deadline::On(due) => {
            let done = seen.iter().filter(|r| r.progress == Progress::Done).map(|r| r.done_on()).min();
            one(due, done, seen.iter().any(|r| worked(&r)))
        }
        Deadline::Every(kind) => {
            let occ = occurrences(kind, plan_from, plan_to);
            if occ.is_empty() {
                let done = seen.iter().filter(|r| r.progress == Progress::Done).map(|r| r.done_on()).min();
                return one(plan_to, done, seen.iter().any(|r| worked(&r)));
            }
            let state_of = |i: usize| -> TaskState {
                let (start, due) = occ[i];
                let mine: Vec<&&ProgressReport> =
                    seen.iter().filter(|r| start <= r.period_end && r.period_end <= due).collect();
                let done = mine
                    .iter()
                    .filter(|r| r.progress == Progress::Done)
                    .map(|r| r.done_on())
                    .filter(|d| *d >= start)
                    .min();
                one(due, done, mine.iter().any(&worked))
            };
            let Some(i) = occ.iter().rposition(|(_, due)| *due < today) else { return state_of(0) };
            let last = state_of(i);
            if last.status == TaskStatus::Overdue || i + 1 >= occ.len() {
                return last;
            }
            state_of(i + 1)
        }
    }
}

/// An indicator value in thousandths (96.5 % = 96_500): no floating point on the way from a
/// report to a scorecard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Milli(pub i64);

impl Milli {
    pub fn from_int(n: i64) -> Milli {
        Milli(n.saturating_mul(1000))
    }

    /// Vietnamese display: `96,5`, `1.234`, `2.789.000` (up to three decimals, trailing zeros dropped).
    pub fn display_vi(self) -> String {
        self.display(',', '.')
    }

    pub fn display_en(self) -> String {
        self.display('.', ',')
    }

    fn display(self, dec: char, group: char) -> String {
        let neg = self.0 < 0;
        let abs = self.0.unsigned_abs();
        let (int, frac) = (abs / 1000, abs % 1000);
        let digits = int.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(group);
            }
            grouped.push(c);
        }
        let mut s = if neg { format!("-{grouped}") } else { grouped };
        if frac != 0 {
            let f = format!("{frac:03}");
            s.push(dec);
            s.push_str(f.trim_end_matches('0'));
        }
        s
    }
}

/// The unit of an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Percent,
    Persons,
    Households,
    Count,
    Vnd,
    Points,
}

impl Unit {
    pub fn code(self) -> &'static str {
        match self {
            Unit::Percent => "percent",
            Unit::Persons => "persons",
            Unit::Households => "households",
            Unit::Count => "count",
            Unit::Vnd => "vnd",
            Unit::Points => "points",
        }
    }

    pub fn parse(s: &str) -> Option<Unit> {
        let k = crate::text::search_key(s);
        Some(match k.as_str() {
            "percent" | "%" | "phan tram" => Unit::Percent,
            "persons" | "nguoi" => Unit::Persons,
            "households" | "ho" => Unit::Households,
            "count" | "luot" | "so luong" | "cai" => Unit::Count,
            "vnd" | "dong" | "d" | "₫" => Unit::Vnd,
            "points" | "diem" => Unit::Points,
            _ => return None,
        })
    }

    /// The suffix shown after a value.
    pub fn symbol_vi(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::Persons => "người",
            Unit::Households => "hộ",
            Unit::Count => "",
            Unit::Vnd => "₫",
            Unit::Points => "điểm",
        }
    }

    pub fn symbol_en(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::Persons => "persons",
            Unit::Households => "households",
            Unit::Count => "",
            Unit::Vnd => "₫",
            Unit::Points => "points",
        }
    }

    /// Whether values are whole numbers (people, households, đồng).
    pub fn whole(self) -> bool {
        matches!(self, Unit::Persons | Unit::Households | Unit::Count | Unit::Vnd)
    }
}

/// Why a typed value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("{0:?} is not a number")]
    NotANumber(String),
    #[error("the value is in {given}, the indicator is measured in {expected}")]
    WrongUnit { given: String, expected: &'static str },
    #[error("{0} must be a whole number")]
    NotWhole(String),
    #[error("{value} is outside the allowed range {min}–{max}")]
    OutOfRange { value: String, min: String, max: String },
}

impl ValueError {
    pub fn vi(&self) -> String {
        match self {
            ValueError::NotANumber(s) => format!("{s:?} không phải là số"),
            ValueError::WrongUnit { given, expected } => {
                format!("giá trị tính bằng {given}, chỉ tiêu tính bằng {expected}")
            }
            ValueError::NotWhole(s) => format!("{s} phải là số nguyên"),
            ValueError::OutOfRange { value, min, max } => format!("{value} nằm ngoài khoảng cho phép {min}–{max}"),
        }
    }
}

/// Parses a value as officers type it (`96,5`, `96.5 %`, `1.234 người`, `12 345`) for an
/// indicator in `unit`, within `[min, max]` (the unit's natural range when not given).
///
/// A comma is the decimal mark; dots are thousands separators when a comma is present, when
/// there are several, or when one is followed by exactly three digits (except for percentages).
pub fn parse_value(input: &str, unit: Unit, min: Option<Milli>, max: Option<Milli>) -> Result<Milli, ValueError> {
    let value = parse_number(input, unit)?;
    let (lo, hi) = natural_range(unit);
    let lo = min.unwrap_or(lo);
    let hi = max.unwrap_or(hi);
    if value < lo || value > hi {
        return Err(ValueError::OutOfRange { value: value.display_vi(), min: lo.display_vi(), max: hi.display_vi() });
    }
    Ok(value)
}

/// A number as typed, in the unit's form (a fraction refused for whole units), without a
/// range check. Thousands separators — dots, or spaces — must group the digits by three.
pub fn parse_number(input: &str, unit: Unit) -> Result<Milli, ValueError> {
    let nan = || ValueError::NotANumber(input.to_string());
    let s = input.trim();
    let split =
        s.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | ' ' | '\u{a0}'))).unwrap_or(s.len());
    let (num, suffix) = (s[..split].trim(), s[split..].trim());
    if num.is_empty() {
        return Err(nan());
    }
    if !suffix.is_empty() {
        let given = Unit::parse(suffix);
        if given != Some(unit) {
            return Err(ValueError::WrongUnit { given: suffix.to_string(), expected: unit.symbol_vi() });
        }
    }
    // spaces only between groups of three digits (`12 345`, not `9 6,5`)
    let groups: Vec<&str> = num.split([' ', '\u{a0}']).filter(|g| !g.is_empty()).collect();
    if groups.len() > 1 {
        let int_groups = &groups[..groups.len() - 1];
        let last_int = groups[groups.len() - 1].split(',').next().unwrap_or("");
        if int_groups[1..].iter().chain(std::iter::once(&last_int)).any(|g| g.len() != 3) {
            return Err(nan());
        }
    }
    let compact: String = groups.concat();
    let (neg, body) = match compact.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, compact.as_str()),
    };
    let dots = body.matches('.').count();
    let grouped_by_three = |int: &str| int.split('.').skip(1).all(|g| g.len() == 3);
    let (int_part, frac_part) = if body.contains(',') {
        let (i, f) = body.split_once(',').unwrap_or((body, ""));
        if !grouped_by_three(i) {
            return Err(nan());
        }
        (i.replace('.', ""), f.to_string())
    } else if dots > 1
        || (dots == 1 && unit != Unit::Percent && body.split_once('.').is_some_and(|(_, f)| f.len() == 3))
    {
        if !grouped_by_three(body) {
            return Err(nan());
        }
        (body.replace('.', ""), String::new())
    } else if let Some((i, f)) = body.split_once('.') {
        (i.to_string(), f.to_string())
    } else {
        (body.to_string(), String::new())
    };
    if int_part.is_empty()
        || !int_part.chars().all(|c| c.is_ascii_digit())
        || !frac_part.chars().all(|c| c.is_ascii_digit())
        || frac_part.len() > 3
        || int_part.len() > 15
    {
        return Err(nan());
    }
    let int: i64 = int_part.parse().map_err(|_| nan())?;
    let frac: i64 = if frac_part.is_empty() { 0 } else { format!("{frac_part:0<3}").parse().map_err(|_| nan())? };
    let v = int * 1000 + frac;
    let value = Milli(if neg { -v } else { v });
    if unit.whole() && frac != 0 {
        return Err(ValueError::NotWhole(value.display_vi()));
    }
    Ok(value)
}

fn natural_range(unit: Unit) -> (Milli, Milli) {
    match unit {
        Unit::Percent => (Milli(0), Milli(100_000)),
        _ => (Milli(0), Milli(i64::MAX / 4)),
    }
}

/// Whether higher or lower values are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Higher,
    Lower,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Direction> {
        match crate::text::search_key(s).as_str() {
            "higher" | "up" | "cao hon" | "tang" => Some(Direction::Higher),
            "lower" | "down" | "thap hon" | "giam" => Some(Direction::Lower),
            _ => None,
        }
    }
    pub fn code(self) -> &'static str {
        match self {
            Direction::Higher => "higher",
            Direction::Lower => "lower",
        }
    }
}

/// The traffic light of an indicator against the year's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Light {
    OnTrack,
    AtRisk,
    OffTrack,
    NoData,
}

impl Light {
    pub fn code(self) -> &'static str {
        match self {
            Light::OnTrack => "on_track",
            Light::AtRisk => "at_risk",
            Light::OffTrack => "off_track",
            Light::NoData => "no_data",
        }
    }
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Light::OnTrack => ("Đạt tiến độ", "On track"),
            Light::AtRisk => ("Có nguy cơ không đạt", "At risk"),
            Light::OffTrack => ("Không đạt tiến độ", "Off track"),
            Light::NoData => ("Chưa có số liệu", "No data"),
        }
    }
}

/// The margin below the target (as a share of the distance from baseline to target, or of
/// the target itself when there is no distance) within which an indicator is "at risk"
/// rather than "off track": one tenth.
pub const AT_RISK_MARGIN_PER_MILLE: i64 = 100;

/// Assesses `actual` against the year's `target`: reached → on track; short by at most a
/// tenth of the way from the baseline (or of the target when the baseline is missing or
/// equal) → at risk; else off track.
pub fn assess(direction: Direction, baseline: Option<Milli>, target: Milli, actual: Option<Milli>) -> Light {
    let Some(actual) = actual else { return Light::NoData };
    let shortfall = match direction {
        Direction::Higher => target.0 - actual.0,
        Direction::Lower => actual.0 - target.0,
    };
    if shortfall <= 0 {
        return Light::OnTrack;
    }
    let span = baseline.map(|b| (target.0 - b.0).abs()).filter(|s| *s > 0).unwrap_or(target.0.abs());
    let margin = (i128::from(span) * i128::from(AT_RISK_MARGIN_PER_MILLE) / 1000) as i64;
    if shortfall <= margin {
        Light::AtRisk
    } else {
        Light::OffTrack
    }
}

/// The target of `year` between a baseline and a later target, on the straight line
/// (half away from zero to the nearest thousandth); the baseline itself for years before it.
pub fn interpolate(baseline: (i32, Milli), target: (i32, Milli), year: i32) -> Milli {
    let (by, bv) = baseline;
    let (ty, tv) = target;
    if year <= by || ty <= by {
        return if year >= ty { tv } else { bv };
    }
    if year >= ty {
        return tv;
    }
    let num = i128::from(tv.0 - bv.0) * i128::from(year - by);
    let den = i128::from(ty - by);
    let q = num / den;
    let r = num % den;
    let rounded = if 2 * r.abs() >= den { q + num.signum() } else { q };
    Milli(bv.0 + rounded as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn report_windows_follow_decree_09() {
        let m: ReportPeriod = "2025-06".parse().unwrap();
        assert_eq!((m.start(), m.end()), (d("2025-05-15"), d("2025-06-14")));
        let jan: ReportPeriod = "2025-01".parse().unwrap();
        assert_eq!(jan.start(), d("2024-12-15"));
        let h: ReportPeriod = "2025-H1".parse().unwrap();
        assert_eq!((h.start(), h.end()), (d("2024-12-15"), d("2025-06-14")));
        let y: ReportPeriod = "2025".parse().unwrap();
        assert_eq!((y.start(), y.end()), (d("2024-12-15"), d("2025-12-14")));
        let q: ReportPeriod = "2025-Q3".parse().unwrap();
        assert_eq!((q.start(), q.end()), (d("2025-06-15"), d("2025-09-14")));
        for s in ["2025-06", "2025-H1", "2025", "2025-Q3"] {
            assert_eq!(s.parse::<ReportPeriod>().unwrap().to_string(), s);
        }
        for bad in ["2025-13", "2025-H2", "25", "2025-Q5", "x", "2025-6"] {
            assert!(bad.parse::<ReportPeriod>().is_err(), "{bad}");
        }
        assert_eq!(h.label_vi(), "6 tháng đầu năm 2025");
        assert_eq!(q.label_vi(), "Quý III/2025");
    }

    #[test]
    fn containing_period() {
        assert_eq!(ReportPeriod::containing(PeriodKind::Annual, d("2024-12-20")).to_string(), "2025");
        assert_eq!(ReportPeriod::containing(PeriodKind::Annual, d("2025-12-14")).to_string(), "2025");
        assert_eq!(ReportPeriod::containing(PeriodKind::Monthly, d("2025-06-15")).to_string(), "2025-07");
        assert_eq!(ReportPeriod::containing(PeriodKind::SixMonthly, d("2025-03-01")).to_string(), "2025-H1");
        assert_eq!(ReportPeriod::containing(PeriodKind::SixMonthly, d("2025-08-01")).to_string(), "2026-H1");
        assert_eq!(ReportPeriod::containing(PeriodKind::Quarterly, d("2025-12-15")).to_string(), "2026-Q1");
        let ends = ReportPeriod::ending_within(PeriodKind::SixMonthly, d("2024-07-02"), d("2026-12-31"));
        assert_eq!(ends.iter().map(|p| p.to_string()).collect::<Vec<_>>(), ["2025-H1", "2026-H1"]);
    }

    fn rep(p: Progress, done: Option<&str>, sub: &str) -> ProgressReport {
        ProgressReport { progress: p, completed_on: done.map(d), submitted_on: d(sub), period_end: d(sub) }
    }

    fn rep_for(p: Progress, done: Option<&str>, sub: &str, period_end: &str) -> ProgressReport {
        ProgressReport { progress: p, completed_on: done.map(d), submitted_on: d(sub), period_end: d(period_end) }
    }

    #[test]
    fn one_off_deadlines() {
        let (f, t) = (d("2024-07-02"), d("2030-12-31"));
        let dl = Deadline::On(d("2025-12-31"));
        assert_eq!(task_state(dl, f, t, &[], d("2025-01-01")).status, TaskStatus::NotYetDue);
        let started = [rep(Progress::InProgress, None, "2025-06-10")];
        assert_eq!(task_state(dl, f, t, &started, d("2025-07-01")).status, TaskStatus::InProgress);
        assert_eq!(
            task_state(dl, f, t, &started, d("2025-06-01")).status,
            TaskStatus::NotYetDue,
            "not yet reported on 1/6"
        );
        let s = task_state(dl, f, t, &started, d("2026-01-05"));
        assert_eq!((s.status, s.days_left), (TaskStatus::Overdue, Some(-5)));
        let late = [rep(Progress::Done, Some("2026-01-20"), "2026-02-01")];
        assert_eq!(task_state(dl, f, t, &late, d("2026-03-01")).status, TaskStatus::DoneLate);
        let ontime = [rep(Progress::Done, Some("2025-12-01"), "2025-12-10")];
        let s = task_state(dl, f, t, &ontime, d("2026-03-01"));
        assert_eq!((s.status, s.done_on), (TaskStatus::DoneOnTime, Some(d("2025-12-01"))));
        // a completion date after the submission is not believed
        let odd = [rep(Progress::Done, Some("2027-01-01"), "2025-12-10")];
        assert_eq!(task_state(dl, f, t, &odd, d("2026-03-01")).done_on, Some(d("2025-12-10")));
    }

    #[test]
    fn recurring_deadlines() {
        let (f, t) = (d("2024-07-02"), d("2030-12-31"));
        let dl = Deadline::Every(PeriodKind::Annual);
        // occurrences due 14/12/2024, 14/12/2025, …
        let s = task_state(dl, f, t, &[], d("2024-11-01"));
        assert_eq!((s.status, s.due), (TaskStatus::NotYetDue, Some(d("2024-12-14"))));
        let done24 = rep_for(Progress::Done, Some("2024-12-01"), "2024-12-16", "2024-12-14");
        let s = task_state(dl, f, t, &[done24], d("2025-03-01"));
        // 2024's was done on time; the 2025 occurrence is current and nothing was reported for it
        assert_eq!((s.status, s.due), (TaskStatus::NotYetDue, Some(d("2025-12-14"))));
        // a six-monthly report in June: work in progress on the 2025 occurrence
        let mid = rep_for(Progress::InProgress, None, "2025-06-16", "2025-06-14");
        assert_eq!(task_state(dl, f, t, &[done24, mid], d("2025-07-01")).status, TaskStatus::InProgress);
        let early = rep_for(Progress::Done, Some("2025-06-01"), "2025-06-16", "2025-06-14");
        let s = task_state(dl, f, t, &[done24, early], d("2025-07-01"));
        assert_eq!((s.status, s.done_on), (TaskStatus::DoneOnTime, Some(d("2025-06-01"))));
        let s = task_state(dl, f, t, &[done24], d("2025-12-20"));
        assert_eq!((s.status, s.due), (TaskStatus::Overdue, Some(d("2025-12-14"))));
        // done late, said in the annual report: credited to 2025, not to 2026
        let late25 = rep_for(Progress::Done, Some("2025-12-28"), "2026-01-05", "2025-12-14");
        let s = task_state(dl, f, d("2025-12-31"), &[done24, late25], d("2026-01-10"));
        assert_eq!((s.status, s.due), (TaskStatus::DoneLate, Some(d("2025-12-14"))));
        let s = task_state(dl, f, t, &[done24, late25], d("2026-01-10"));
        assert_eq!((s.status, s.due), (TaskStatus::NotYetDue, Some(d("2026-12-14"))), "the 2026 occurrence is current");
        // a missed occurrence does not swallow the next one's completion
        let done26 = rep_for(Progress::Done, Some("2026-12-01"), "2026-12-16", "2026-12-14");
        let s = task_state(dl, f, t, &[done24, done26], d("2027-01-10"));
        assert_eq!((s.status, s.due), (TaskStatus::NotYetDue, Some(d("2027-12-14"))), "2026's was done");
        // a restatement of 2024's work in the 2025 report is not a 2025 completion
        let restated = rep_for(Progress::Done, Some("2024-12-01"), "2025-12-16", "2025-12-14");
        assert_eq!(task_state(dl, f, t, &[done24, restated], d("2025-12-20")).status, TaskStatus::Overdue);
        let cont =
            task_state(Deadline::Continuous, f, t, &[rep(Progress::InProgress, None, "2025-01-01")], d("2026-01-01"));
        assert_eq!((cont.status, cont.due), (TaskStatus::InProgress, None));
    }

    #[test]
    fn six_monthly_tasks_come_round_twice_a_year() {
        let occ = occurrences(PeriodKind::SixMonthly, d("2024-07-02"), d("2025-12-31"));
        assert_eq!(
            occ,
            [
                (d("2024-06-15"), d("2024-12-14")),
                (d("2024-12-15"), d("2025-06-14")),
                (d("2025-06-15"), d("2025-12-14"))
            ]
        );
        let dl = Deadline::Every(PeriodKind::SixMonthly);
        let h1 = rep_for(Progress::Done, Some("2025-06-01"), "2025-06-16", "2025-06-14");
        let s = task_state(dl, d("2024-07-02"), d("2030-12-31"), &[h1], d("2025-12-20"));
        assert_eq!((s.status, s.due), (TaskStatus::Overdue, Some(d("2025-12-14"))), "the second half was missed");
        // the first half done late, reported in its own (returned and resubmitted) report
        let late = rep_for(Progress::Done, Some("2025-06-20"), "2025-07-21", "2025-06-14");
        let s = task_state(dl, d("2024-12-15"), d("2025-06-30"), &[late], d("2025-07-25"));
        assert_eq!(s.status, TaskStatus::DoneLate);
    }

    #[test]
    fn deadlines_parse() {
        assert_eq!(Deadline::parse("31/12/2025"), Some(Deadline::On(d("2025-12-31"))));
        assert_eq!(Deadline::parse("Hằng năm"), Some(Deadline::Every(PeriodKind::Annual)));
        assert_eq!(Deadline::parse("6 tháng"), Some(Deadline::Every(PeriodKind::SixMonthly)));
        assert_eq!(Deadline::parse("Thường xuyên"), Some(Deadline::Continuous));
        assert_eq!(Deadline::parse("soon"), None);
        for dl in [Deadline::On(d("2025-12-31")), Deadline::Every(PeriodKind::Quarterly), Deadline::Continuous] {
            assert_eq!(Deadline::from_code(&dl.code()), Some(dl));
        }
    }

    #[test]
    fn values_parse_as_typed() {
        let p = |s, u| parse_value(s, u, None, None);
        assert_eq!(p("96,5", Unit::Percent), Ok(Milli(96_500)));
        assert_eq!(p("96.5 %", Unit::Percent), Ok(Milli(96_500)));
        assert_eq!(p("1.234 người", Unit::Persons), Ok(Milli(1_234_000)));
        assert_eq!(p("12 345", Unit::Households), Ok(Milli(12_345_000)));
        assert_eq!(p("2.789.000 ₫", Unit::Vnd), Ok(Milli(2_789_000_000)));
        assert!(matches!(p("101", Unit::Percent), Err(ValueError::OutOfRange { .. })));
        assert!(matches!(p("-1", Unit::Persons), Err(ValueError::OutOfRange { .. })));
        assert!(matches!(p("12 người", Unit::Percent), Err(ValueError::WrongUnit { .. })));
        assert!(matches!(p("1,5", Unit::Persons), Err(ValueError::NotWhole(_))));
        assert!(matches!(p("abc", Unit::Count), Err(ValueError::NotANumber(_))));
        assert!(matches!(p("", Unit::Count), Err(ValueError::NotANumber(_))));
        assert!(matches!(p("1,2345", Unit::Percent), Err(ValueError::NotANumber(_))));
        assert!(matches!(p("1.234.5", Unit::Count), Err(ValueError::NotANumber(_))), "groups of three");
        assert!(matches!(p("9 6,5", Unit::Percent), Err(ValueError::NotANumber(_))), "spaces only between thousands");
        assert_eq!(p("1 234 567", Unit::Count), Ok(Milli(1_234_567_000)));
        assert_eq!(p("-1,5", Unit::Points).map_err(|_| ()), Err(()), "below the natural range");
        assert_eq!(parse_value("-1,5", Unit::Points, Some(Milli(-5_000)), None), Ok(Milli(-1_500)));
        assert_eq!(parse_number("-2", Unit::Percent), Ok(Milli(-2_000)), "a range bound may be negative");
        assert_eq!(
            parse_value("4", Unit::Percent, None, Some(Milli(3_000))).map_err(|e| e.vi()),
            Err("4 nằm ngoài khoảng cho phép 0–3".into())
        );
        assert_eq!(Milli(96_500).display_vi(), "96,5");
        assert_eq!(Milli(1_234_000_000).display_vi(), "1.234.000");
        assert_eq!(Milli(-1_500).display_en(), "-1.5");
    }

    #[test]
    fn traffic_lights() {
        let b = Some(Milli(90_000));
        assert_eq!(assess(Direction::Higher, b, Milli(95_000), Some(Milli(95_100))), Light::OnTrack);
        assert_eq!(assess(Direction::Higher, b, Milli(95_000), Some(Milli(94_600))), Light::AtRisk);
        assert_eq!(assess(Direction::Higher, b, Milli(95_000), Some(Milli(94_400))), Light::OffTrack);
        assert_eq!(assess(Direction::Lower, Some(Milli(4_000)), Milli(3_000), Some(Milli(3_050))), Light::AtRisk);
        assert_eq!(assess(Direction::Lower, Some(Milli(4_000)), Milli(3_000), Some(Milli(2_900))), Light::OnTrack);
        assert_eq!(assess(Direction::Higher, None, Milli(60_000), None), Light::NoData);
        assert_eq!(interpolate((2023, Milli(90_000)), (2030, Milli(95_000)), 2026), Milli(92_143));
        assert_eq!(interpolate((2023, Milli(90_000)), (2030, Milli(95_000)), 2030), Milli(95_000));
        assert_eq!(interpolate((2023, Milli(90_000)), (2030, Milli(95_000)), 2020), Milli(90_000));
        assert_eq!(interpolate((2023, Milli(4_000)), (2030, Milli(3_000)), 2024), Milli(3_857));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_day_is_in_exactly_one_window(days in 0i64..40_000, kind in 0usize..3) {
            let kind = [PeriodKind::Monthly, PeriodKind::Quarterly, PeriodKind::Annual][kind];
            let day = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + chrono::Duration::days(days);
            let p = ReportPeriod::containing(kind, day);
            prop_assert!(p.contains(day));
            prop_assert_eq!(p.to_string().parse::<ReportPeriod>().unwrap(), p);
        }

        #[test]
        fn displayed_values_parse_back(v in 0i64..1_000_000_000_000) {
            let m = Milli(v);
            prop_assert_eq!(parse_value(&m.display_vi(), Unit::Points, None, None).unwrap(), m);
        }

        #[test]
        fn interpolation_stays_between(b in -100_000i64..100_000, t in -100_000i64..100_000, y in 2020i32..2035) {
            let v = interpolate((2023, Milli(b)), (2030, Milli(t)), y).0;
            prop_assert!(v >= b.min(t) && v <= b.max(t));
        }
    }
}
