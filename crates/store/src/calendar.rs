//! The working-day calendar's editable yearly rows (a year's announced days off and make-up
//! working days), replacing a year at a time.

use serde::Serialize;

use crate::audit::{append_in_tx, AuditEntry};
use crate::{on_pool, write_tx, Result, Store};

/// One recorded day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CalendarDay {
    /// yyyy-mm-dd
    pub day: String,
    /// holiday | workday
    pub kind: String,
    pub name: String,
    pub source: String,
}

impl Store {
    /// Every recorded day, in date order.
    pub async fn calendar_days(&self) -> Result<Vec<CalendarDay>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CalendarDay>(
            "SELECT day, kind, name, source FROM calendar_days ORDER BY day")
            .fetch_all(pool).await)?)
    }

    /// Replaces the rows of `year` (all of them, checked by the caller) in one transaction.
    pub async fn replace_calendar_year(
        &self,
        year: i32,
        rows: &[CalendarDay],
        by: &str,
        audit: &AuditEntry,
    ) -> Result<()> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            sqlx::query("DELETE FROM calendar_days WHERE year = $1").bind(i64::from(year)).execute(&mut *tx).await?;
            for r in rows {
                sqlx::query(
                    "INSERT INTO calendar_days (day, year, kind, name, source, recorded_by, recorded_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&r.day).bind(i64::from(year)).bind(&r.kind).bind(&r.name).bind(&r.source).bind(by).bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(|e| crate::StoreError::from_write(e, "calendar day"))?;
            }
            // a counter, not a clock: another process must see every change
            sqlx::query(
                "INSERT INTO app_meta (key, value, updated_at) VALUES ('calendar.version', '1', $1) ON CONFLICT (key) \
                 DO UPDATE SET value = CAST(CAST(app_meta.value AS BIGINT) + 1 AS TEXT), updated_at = $1",
            )
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            append_in_tx!(tx, audit);
        })
    }

    /// Changes whenever the recorded rows change (for processes that cache the calendar).
    pub async fn calendar_version(&self) -> Result<String> {
        Ok(self.get_meta("calendar.version").await?.unwrap_or_else(|| "0".into()))
    }
}
