//! The working-day calendar as editable yearly data. Each year the Government announces its
//! holidays, the swapped days and the Saturdays worked to make up for them; an administrator
//! records a year (a CSV in the format of `data/calendar/holidays.csv`, started from
//! `template`), which replaces that year's compiled-in rows — no release needed. Years without
//! rows anywhere follow the Labour Code's rule (lunar Tết and the Hùng Kings' day computed).
//!
//! Every server process rebuilds its calendar at start and whenever the recorded rows change
//! (checked each minute, and at once in the process that recorded them), so deadlines computed
//! anywhere use the same days.

use chrono::{Datelike, NaiveDate};
use domain::workdays::{WorkCalendar, HOLIDAYS_CSV};
use serde::Serialize;
use store::calendar::CalendarDay;
use store::Store;

use crate::error::AppError;
use crate::services::authz::{perm, Ctx};

/// The calendar from the compiled-in rows with the recorded years put in their place.
pub fn build(recorded: &[CalendarDay]) -> Result<WorkCalendar, AppError> {
    let years: std::collections::BTreeSet<&str> = recorded.iter().filter_map(|r| r.day.get(..4)).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: String| AppError::Internal(format!("calendar: {e}"));
    w.write_record(["date", "kind", "name", "source"]).map_err(|e| bad(e.to_string()))?;
    let mut compiled = csv::Reader::from_reader(HOLIDAYS_CSV.as_bytes());
    for rec in compiled.records() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        if !years.contains(rec.get(0).and_then(|d| d.get(..4)).unwrap_or("")) {
            w.write_record(&rec).map_err(|e| bad(e.to_string()))?;
        }
    }
    for r in recorded {
        w.write_record([&r.day, &r.kind, &r.name, &r.source]).map_err(|e| bad(e.to_string()))?;
    }
    let text = String::from_utf8(w.into_inner().map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
    WorkCalendar::from_csv(&text).map_err(|e| bad(e.to_string()))
}

static VERSION: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Rebuilds this process's calendar from the database when its rows changed since the last
/// look (always on the first call).
pub async fn refresh(store: &Store) -> Result<(), AppError> {
    let v = store.calendar_version().await?;
    if VERSION.lock().map_err(|_| AppError::Internal("calendar version lock".into()))?.as_str() == v {
        return Ok(());
    }
    let rows = store.calendar_days().await?;
    crate::services::days::install(build(&rows)?)?;
    *VERSION.lock().map_err(|_| AppError::Internal("calendar version lock".into()))? = v;
    Ok(())
}

/// One day of a year that differs from Monday–Friday.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct YearDay {
    /// yyyy-mm-dd
    pub day: String,
    /// holiday | workday
    pub kind: String,
    pub name: String,
    pub source: String,
}

/// A year of the calendar in force.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Year {
    pub year: i32,
    /// `recorded` (in the database), `compiled` (shipped with the release) or `computed`
    /// (the Labour Code's rule)
    pub origin: String,
    pub days: Vec<YearDay>,
    /// weekdays off
    pub holidays: usize,
    /// weekend days worked
    pub workdays: usize,
}

/// The year as the calendar in force has it.
pub async fn year(store: &Store, year: i32) -> Result<Year, AppError> {
    if !(1990..=2100).contains(&year) {
        return Err(AppError::field("year", "năm phải từ 1990 đến 2100", "the year must be 1990–2100"));
    }
    refresh(store).await?;
    let cal = crate::services::days::calendar()?;
    let recorded = store.calendar_days().await?.iter().any(|r| r.day.starts_with(&year.to_string()));
    let compiled = WorkCalendar::embedded().map(|c| c.is_listed(year)).unwrap_or(false);
    let origin = if recorded {
        "recorded"
    } else if compiled {
        "compiled"
    } else {
        "computed"
    };
    Ok(year_of(&cal, year, origin))
}

fn year_of(cal: &WorkCalendar, year: i32, origin: &str) -> Year {
    let days: Vec<YearDay> = cal
        .year_days(year)
        .into_iter()
        .map(|(d, r)| YearDay {
            day: d.format("%Y-%m-%d").to_string(),
            kind: if r.working { "workday" } else { "holiday" }.into(),
            name: r.name,
            source: r.source,
        })
        .collect();
    Year {
        year,
        origin: origin.into(),
        holidays: days.iter().filter(|d| d.kind == "holiday").count(),
        workdays: days.iter().filter(|d| d.kind == "workday").count(),
        days,
    }
}

/// The year in force as a CSV to edit and record again.
pub async fn template(store: &Store, y: i32) -> Result<String, AppError> {
    let year = year(store, y).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: String| AppError::Internal(format!("calendar template: {e}"));
    w.write_record(["date", "kind", "name", "source"]).map_err(|e| bad(e.to_string()))?;
    for d in &year.days {
        w.write_record([&d.day, &d.kind, &d.name, &d.source]).map_err(|e| bad(e.to_string()))?;
    }
    String::from_utf8(w.into_inner().map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))
}

/// Checks a year's CSV: the same rules as the compiled-in rows (every row dated, a holiday on a
/// weekday, a make-up day on a weekend, its source), one year only, no date twice.
pub fn parse_year(text: &str) -> Result<(i32, Vec<CalendarDay>), AppError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let field = |vi: String, en: String| AppError::Field { field: "file", vi, en };
    WorkCalendar::from_csv(text).map_err(|e| field(format!("tệp lịch: {e}"), format!("calendar file: {e}")))?;
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> =
        rdr.headers().map_err(|e| field(e.to_string(), e.to_string()))?.iter().map(str::to_string).collect();
    if header != ["date", "kind", "name", "source"] {
        return Err(field(
            format!("dòng tiêu đề phải là date,kind,name,source (đang là {})", header.join(",")),
            format!("the header must be date,kind,name,source (it is {})", header.join(",")),
        ));
    }
    let mut rows: Vec<CalendarDay> = Vec::new();
    let mut year = None;
    for (i, rec) in rdr.records().enumerate() {
        let row = i + 2;
        let rec = rec.map_err(|e| field(format!("dòng {row}: {e}"), format!("row {row}: {e}")))?;
        let get = |n: usize| rec.get(n).unwrap_or("").trim().to_string();
        let day = NaiveDate::parse_from_str(&get(0), "%Y-%m-%d")
            .map_err(|_| field(format!("dòng {row}: ngày {:?}", get(0)), format!("row {row}: date {:?}", get(0))))?;
        match year {
            None => year = Some(day.year()),
            Some(y) if y != day.year() => {
                return Err(field(
                    format!("dòng {row}: mỗi tệp chỉ một năm ({y}), ngày {} thuộc năm khác", get(0)),
                    format!("row {row}: one year per file ({y}); {} is in another year", get(0)),
                ))
            }
            Some(_) => {}
        }
        if rows.iter().any(|r| r.day == get(0)) {
            return Err(field(format!("dòng {row}: ngày {} lặp lại", get(0)), format!("row {row}: {} twice", get(0))));
        }
        rows.push(CalendarDay { day: get(0), kind: get(1), name: get(2), source: get(3) });
    }
    let Some(year) = year else {
        return Err(field("tệp không có dòng nào".into(), "the file has no rows".into()));
    };
    if !(1990..=2100).contains(&year) {
        return Err(field("năm phải từ 1990 đến 2100".into(), "the year must be 1990–2100".into()));
    }
    Ok((year, rows))
}

/// Records a year (replacing its rows) or, with `dry_run`, only checks it; the year as now in
/// force.
pub async fn import(store: &Store, ctx: &Ctx, text: &str, dry_run: bool) -> Result<Year, AppError> {
    ctx.authorize(perm::CALENDAR_MANAGE)?;
    let (y, rows) = parse_year(text)?;
    if dry_run {
        let mut all: Vec<CalendarDay> =
            store.calendar_days().await?.into_iter().filter(|r| !r.day.starts_with(&y.to_string())).collect();
        all.extend(rows.iter().cloned());
        return Ok(year_of(&build(&all)?, y, "dry_run"));
    }
    let mut audit = ctx.audit("calendar.record_year", "calendar", Some(y.to_string()));
    audit.detail = Some(format!("{} rows", rows.len()));
    store.replace_calendar_year(y, &rows, &ctx.actor(), &audit).await?;
    refresh(store).await?;
    year(store, y).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_year_replaces_the_compiled_one() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let row = |day: &str, kind: &str| CalendarDay {
            day: day.into(),
            kind: kind.into(),
            name: "Nghỉ bù".into(),
            source: "Thông báo của Bộ Nội vụ (thử)".into(),
        };
        // 2026 recorded with one extra day off (Tuesday 1/12) and nothing else
        let cal = build(&[row("2026-12-01", "holiday")]).unwrap();
        assert!(!cal.is_working_day(d("2026-12-01")));
        assert!(cal.is_working_day(d("2026-09-02")), "the recorded year is complete: its compiled rows are gone");
        assert!(!cal.is_working_day(d("2025-09-02")), "other years keep theirs");
        assert!(!cal.is_working_day(d("2030-01-01")), "and computed years theirs");
        let csv = "date,kind,name,source\n2027-01-01,holiday,Tết Dương lịch,BLLĐ 2019 Điều 112\n2027-01-09,workday,Làm bù,Thông báo\n";
        let (y, rows) = parse_year(csv).unwrap();
        assert_eq!((y, rows.len()), (2027, 2));
        for (bad, needle) in [
            ("date,kind,name,source\n2027-01-01,holiday,X,S\n2028-01-03,holiday,X,S\n", "one year"),
            ("date,kind,name,source\n2027-01-01,holiday,X,S\n2027-01-01,holiday,X,S\n", "row 3"),
            ("date,kind,name,source\n2027-01-02,holiday,X,S\n", "weekday"),
            ("date,kind,name,source\n2027-01-04,holiday,X,\n", "source"),
            ("day,kind,name,source\n2027-01-04,holiday,X,S\n", "header"),
            ("date,kind,name,source\n", "no rows"),
        ] {
            let e = parse_year(bad).unwrap_err().message(crate::http::i18n::Lang::En);
            assert!(e.contains(needle), "{bad:?}: {e}");
        }
    }
}
