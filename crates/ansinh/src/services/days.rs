//! Days as Vietnamese agencies count them: today in Viet Nam, the day of a stored timestamp,
//! ISO dates, and the working-day calendar — shared by plan monitoring and complaints.

use chrono::NaiveDate;
use domain::workdays::WorkCalendar;

use crate::error::AppError;

static CAL: std::sync::RwLock<Option<std::sync::Arc<WorkCalendar>>> = std::sync::RwLock::new(None);

/// The working-day calendar in force: the years recorded in the database (see
/// `services::calendar`), else the compiled-in rows, else the Labour Code's rule with the lunar
/// holidays. Built on first use from the compiled-in data; replaced by [`install`].
pub fn calendar() -> Result<std::sync::Arc<WorkCalendar>, AppError> {
    if let Some(c) = CAL.read().map_err(|_| AppError::Internal("calendar lock".into()))?.as_ref() {
        return Ok(c.clone());
    }
    let c = std::sync::Arc::new(
        WorkCalendar::embedded().map_err(|e| AppError::Internal(format!("compiled-in holiday data: {e}")))?,
    );
    let mut w = CAL.write().map_err(|_| AppError::Internal("calendar lock".into()))?;
    Ok(w.get_or_insert(c).clone())
}

/// Puts a rebuilt calendar in force for this process.
pub fn install(cal: WorkCalendar) -> Result<(), AppError> {
    *CAL.write().map_err(|_| AppError::Internal("calendar lock".into()))? = Some(std::sync::Arc::new(cal));
    Ok(())
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
