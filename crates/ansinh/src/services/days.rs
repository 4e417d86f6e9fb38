//! Days as Vietnamese agencies count them: today in Viet Nam, the day of a stored timestamp,
//! ISO dates, and the working-day calendar — shared by plan monitoring and complaints.

use chrono::NaiveDate;
use domain::workdays::WorkCalendar;

use crate::error::AppError;

/// The working-day calendar (compiled-in rows and the Labour Code's rule with the lunar
/// holidays for other years), built once.
pub fn calendar() -> Result<&'static WorkCalendar, AppError> {
    static CAL: std::sync::OnceLock<Result<WorkCalendar, String>> = std::sync::OnceLock::new();
    CAL.get_or_init(|| WorkCalendar::embedded().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| AppError::Internal(format!("compiled-in holiday data: {e}")))
}

pub fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok()
}

/// Viet Nam's UTC offset (no daylight saving): deadlines are days in Viet Nam.
const VN_OFFSET_HOURS: i64 = 7;

/// Today in Viet Nam.
pub fn today_vn() -> NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(VN_OFFSET_HOURS)).date_naive()
}

/// The day in Viet Nam of a stored timestamp (RFC 3339 UTC); a bare date as it is.
pub fn day_vn(ts: &str) -> Option<NaiveDate> {
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => Some((t.with_timezone(&chrono::Utc) + chrono::Duration::hours(VN_OFFSET_HOURS)).date_naive()),
        Err(_) => date(ts),
    }
}
