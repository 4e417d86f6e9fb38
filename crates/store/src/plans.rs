//! Plan monitoring: plans with their sections, tasks (assigned to agencies, effective-dated)
//! and indicators with targets; agencies' periodic reports (draft → submitted → returned |
//! accepted, every step kept with its content); the values reported; the platform's own data
//! behind computed indicators.

use serde::Serialize;

use crate::audit::{append_in_tx, AuditEntry};
use crate::{on_pool, write_tx, Result, Store};

/// A plan to store, checked by the caller.
#[derive(Debug, Clone, Default)]
pub struct NewPlan {
    pub number: String,
    pub title: String,
    pub issued_on: String,
    pub issuer: String,
    pub legal_basis: String,
    pub period_from: String,
    pub period_to: String,
    pub parent_ref: String,
    pub owner_agency: String,
    pub report_kinds: String,
    pub report_due_days: i64,
    pub sections: Vec<NewSection>,
    pub indicators: Vec<NewIndicator>,
}

#[derive(Debug, Clone, Default)]
pub struct NewSection {
    pub code: String,
    pub title: String,
    pub tasks: Vec<NewTask>,
}

#[derive(Debug, Clone, Default)]
pub struct NewTask {
    pub code: String,
    pub content: String,
    pub deadline: String,
    pub expected_output: String,
    /// (agency, role, valid_from, valid_to, reason)
    pub agencies: Vec<(String, String, String, Option<String>, String)>,
}

#[derive(Debug, Clone, Default)]
pub struct NewIndicator {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub unit: String,
    pub direction: String,
    pub baseline_milli: Option<i64>,
    pub baseline_year: Option<i64>,
    pub source: String,
    pub computed_key: Option<String>,
    pub agency_code: Option<String>,
    pub min_milli: Option<i64>,
    pub max_milli: Option<i64>,
    pub legal_basis: String,
    /// (year, unit level, unit code, target)
    pub targets: Vec<(i64, String, String, i64)>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PlanRow {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub issued_on: String,
    pub issuer: String,
    pub legal_basis: String,
    pub period_from: String,
    pub period_to: String,
    pub parent_id: Option<i64>,
    pub parent_ref: String,
    pub owner_agency: String,
    pub report_kinds: String,
    pub report_due_days: i64,
    pub created_by: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct SectionRow {
    pub id: i64,
    pub code: String,
    pub title: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TaskRow {
    pub id: i64,
    pub section_id: i64,
    pub code: String,
    pub content: String,
    pub deadline: String,
    pub expected_output: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TaskAgencyRow {
    pub task_id: i64,
    pub agency_code: String,
    pub role: String,
    pub valid_from: String,
    pub valid_to: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct IndicatorRow {
    pub id: i64,
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub unit: String,
    pub direction: String,
    pub baseline_milli: Option<i64>,
    pub baseline_year: Option<i64>,
    pub source: String,
    pub computed_key: Option<String>,
    pub agency_code: Option<String>,
    pub min_milli: Option<i64>,
    pub max_milli: Option<i64>,
    pub legal_basis: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TargetRow {
    pub indicator_id: i64,
    pub year: i64,
    pub unit_level: String,
    pub unit_code: String,
    pub target_milli: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AgencyChangeRow {
    pub agency_code: String,
    pub changed_on: String,
    pub kind: String,
    pub successor_code: Option<String>,
    pub field: String,
    pub note: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReportRow {
    pub id: i64,
    pub plan_id: i64,
    pub agency_code: String,
    pub period: String,
    pub period_kind: String,
    pub window_from: String,
    pub window_to: String,
    pub due_on: String,
    pub status: String,
    pub revision: i64,
    pub summary: String,
    pub first_submitted_at: Option<String>,
    pub submitted_at: Option<String>,
    pub submitted_by: Option<String>,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub comment: Option<String>,
    pub created_by: String,
    pub created_at: String,
}

/// A report to open.
#[derive(Debug, Clone)]
pub struct NewReport {
    pub plan_id: i64,
    pub agency_code: String,
    pub period: String,
    pub period_kind: String,
    pub window_from: String,
    pub window_to: String,
    pub due_on: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ProgressRow {
    pub report_id: i64,
    pub task_id: i64,
    pub progress: String,
    pub completed_on: Option<String>,
    pub note: String,
}

/// What a report says about a task, with the report's state.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReportedProgress {
    pub report_id: i64,
    pub task_id: i64,
    pub progress: String,
    pub completed_on: Option<String>,
    pub note: String,
    pub agency_code: String,
    pub period: String,
    pub window_to: String,
    pub status: String,
    pub submitted_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ValueRow {
    pub indicator_id: i64,
    pub report_id: i64,
    pub period: String,
    pub period_end: String,
    pub unit_level: String,
    pub unit_code: String,
    pub value_milli: i64,
    pub note: String,
}

/// A value with the state of the report that carries it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReportedValue {
    pub indicator_id: i64,
    pub report_id: i64,
    pub period: String,
    pub period_end: String,
    pub unit_level: String,
    pub unit_code: String,
    pub value_milli: i64,
    pub note: String,
    pub status: String,
    pub agency_code: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ReportEventRow {
    pub id: i64,
    pub revision: i64,
    pub action: String,
    pub actor: String,
    pub at: String,
    pub comment: String,
    pub content: String,
}

/// A report's content as saved.
#[derive(Debug, Clone, Default)]
pub struct ReportContent {
    pub summary: String,
    pub progress: Vec<ProgressRow>,
    pub values: Vec<ValueRow>,
}

/// Per commune: a count, or a count out of a total.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CommuneCount {
    pub commune_code: String,
    pub n: i64,
    pub of: i64,
}

/// A monthly payment cycle's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CycleState {
    pub id: i64,
    pub month: String,
    pub status: String,
}

/// One cycle's figures in one commune.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CycleCommune {
    pub commune_code: String,
    pub merit_paid: i64,
    pub paid: i64,
    pub payable: i64,
}

/// A report's next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Return,
}

impl Store {
    /// Stores a plan with its sections, tasks, assignments, indicators and targets in one
    /// transaction with the audit entry. A plan number already present is a conflict.
    pub async fn insert_plan(&self, p: &NewPlan, by: &str, audit: &AuditEntry) -> Result<i64> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO plans (number, title, issued_on, issuer, legal_basis, period_from, period_to, parent_ref, \
                 owner_agency, report_kinds, report_due_days, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
            )
            .bind(&p.number).bind(&p.title).bind(&p.issued_on).bind(&p.issuer).bind(&p.legal_basis)
            .bind(&p.period_from).bind(&p.period_to).bind(&p.parent_ref).bind(&p.owner_agency)
            .bind(&p.report_kinds).bind(p.report_due_days).bind(by).bind(&now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| crate::StoreError::from_write(e, "a plan with this number already exists"))?;
            let mut ord = 0i64;
            for (si, s) in p.sections.iter().enumerate() {
                let sid: i64 = sqlx::query_scalar(
                    "INSERT INTO plan_sections (plan_id, code, title, ord) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(id).bind(&s.code).bind(&s.title).bind(si as i64)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| crate::StoreError::from_write(e, &format!("section {}", s.code)))?;
                for t in &s.tasks {
                    ord += 1;
                    let tid: i64 = sqlx::query_scalar(
                        "INSERT INTO plan_tasks (plan_id, section_id, code, content, deadline, expected_output, ord) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    )
                    .bind(id).bind(sid).bind(&t.code).bind(&t.content).bind(&t.deadline).bind(&t.expected_output).bind(ord)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| crate::StoreError::from_write(e, &format!("task {}", t.code)))?;
                    for (agency, role, from, to, reason) in &t.agencies {
                        sqlx::query(
                            "INSERT INTO plan_task_agencies (task_id, agency_code, role, valid_from, valid_to, reason) \
                             VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(tid).bind(agency).bind(role).bind(from).bind(to).bind(reason)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| crate::StoreError::from_write(e, &format!("task {}: agency {agency} as {role}", t.code)))?;
                    }
                }
            }
            for (i, ind) in p.indicators.iter().enumerate() {
                let iid: i64 = sqlx::query_scalar(
                    "INSERT INTO indicators (plan_id, code, name_vi, name_en, unit, direction, baseline_milli, baseline_year, \
                     source, computed_key, agency_code, min_milli, max_milli, legal_basis, ord) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
                )
                .bind(id).bind(&ind.code).bind(&ind.name_vi).bind(&ind.name_en).bind(&ind.unit).bind(&ind.direction)
                .bind(ind.baseline_milli).bind(ind.baseline_year).bind(&ind.source).bind(&ind.computed_key)
                .bind(&ind.agency_code).bind(ind.min_milli).bind(ind.max_milli).bind(&ind.legal_basis).bind(i as i64)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| crate::StoreError::from_write(e, &format!("indicator {}", ind.code)))?;
                for (year, level, unit, target) in &ind.targets {
                    sqlx::query(
                        "INSERT INTO indicator_targets (indicator_id, year, unit_level, unit_code, target_milli) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(iid).bind(year).bind(level).bind(unit).bind(target)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| crate::StoreError::from_write(e, &format!("indicator {}: target {year} {unit}", ind.code)))?;
                }
            }
            let mut a = audit.clone();
            a.entity_id = Some(id.to_string());
            append_in_tx!(tx, &a);
            id
        })
    }

    pub async fn plans(&self) -> Result<Vec<PlanRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PlanRow>("SELECT * FROM plans ORDER BY issued_on DESC, id DESC")
            .fetch_all(pool).await)?)
    }

    pub async fn plan(&self, id: i64) -> Result<Option<PlanRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, PlanRow>("SELECT * FROM plans WHERE id = $1")
            .bind(id).fetch_optional(pool).await)?)
    }

    pub async fn plan_sections(&self, plan_id: i64) -> Result<Vec<SectionRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, SectionRow>(
            "SELECT id, code, title FROM plan_sections WHERE plan_id = $1 ORDER BY ord")
            .bind(plan_id).fetch_all(pool).await)?)
    }

    pub async fn plan_tasks(&self, plan_id: i64) -> Result<Vec<TaskRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, TaskRow>(
            "SELECT id, section_id, code, content, deadline, expected_output FROM plan_tasks WHERE plan_id = $1 ORDER BY ord")
            .bind(plan_id).fetch_all(pool).await)?)
    }

    /// Every assignment of the plan's tasks, current and past.
    pub async fn plan_task_agencies(&self, plan_id: i64) -> Result<Vec<TaskAgencyRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, TaskAgencyRow>(
            "SELECT a.task_id, a.agency_code, a.role, a.valid_from, a.valid_to, a.reason FROM plan_task_agencies a \
             JOIN plan_tasks t ON t.id = a.task_id WHERE t.plan_id = $1 ORDER BY a.task_id, a.valid_from, a.role, a.agency_code")
            .bind(plan_id).fetch_all(pool).await)?)
    }

    /// Moves a task to another lead agency from a date: the current lead assignment ends the
    /// day before, the new one starts (one transaction with the audit entry).
    pub async fn reassign_task(
        &self,
        task_id: i64,
        agency: &str,
        from: &str,
        until: &str,
        reason: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        write_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE plan_task_agencies SET valid_to = $1 WHERE task_id = $2 AND role = 'lead' AND valid_to IS NULL AND valid_from <= $1",
            )
            .bind(until).bind(task_id)
            .execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query("INSERT INTO plan_task_agencies (task_id, agency_code, role, valid_from, valid_to, reason) VALUES ($1, $2, 'lead', $3, NULL, $4)")
                .bind(task_id).bind(agency).bind(from).bind(reason)
                .execute(&mut *tx).await?;
            append_in_tx!(tx, audit);
            true
        })
    }

    pub async fn indicators(&self, plan_id: i64) -> Result<Vec<IndicatorRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, IndicatorRow>(
            "SELECT id, code, name_vi, name_en, unit, direction, baseline_milli, baseline_year, source, computed_key, \
             agency_code, min_milli, max_milli, legal_basis FROM indicators WHERE plan_id = $1 ORDER BY ord")
            .bind(plan_id).fetch_all(pool).await)?)
    }

    pub async fn indicator_targets(&self, plan_id: i64) -> Result<Vec<TargetRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, TargetRow>(
            "SELECT t.indicator_id, t.year, t.unit_level, t.unit_code, t.target_milli FROM indicator_targets t \
             JOIN indicators i ON i.id = t.indicator_id WHERE i.plan_id = $1 ORDER BY t.indicator_id, t.year, t.unit_level, t.unit_code")
            .bind(plan_id).fetch_all(pool).await)?)
    }

    pub async fn agency_changes(&self) -> Result<Vec<AgencyChangeRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, AgencyChangeRow>(
            "SELECT agency_code, changed_on, kind, successor_code, field, note, source FROM agency_changes ORDER BY changed_on, id")
            .fetch_all(pool).await)?)
    }

    /// The plan's reports, optionally of one agency, newest period first.
    pub async fn plan_reports(&self, plan_id: i64, agency: Option<&str>) -> Result<Vec<ReportRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ReportRow>(
            "SELECT * FROM plan_reports WHERE plan_id = $1 AND ($2 IS NULL OR agency_code = $2) \
             ORDER BY window_to DESC, agency_code")
            .bind(plan_id).bind(agency).fetch_all(pool).await)?)
    }

    pub async fn plan_report(&self, id: i64) -> Result<Option<ReportRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ReportRow>("SELECT * FROM plan_reports WHERE id = $1")
            .bind(id).fetch_optional(pool).await)?)
    }

    pub async fn report_progress(&self, report_id: i64) -> Result<Vec<ProgressRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ProgressRow>(
            "SELECT report_id, task_id, progress, completed_on, note FROM report_task_progress WHERE report_id = $1 ORDER BY task_id")
            .bind(report_id).fetch_all(pool).await)?)
    }

    pub async fn report_values(&self, report_id: i64) -> Result<Vec<ValueRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ValueRow>(
            "SELECT indicator_id, report_id, period, period_end, unit_level, unit_code, value_milli, note \
             FROM indicator_values WHERE report_id = $1 ORDER BY indicator_id, unit_level DESC, unit_code")
            .bind(report_id).fetch_all(pool).await)?)
    }

    pub async fn report_events(&self, report_id: i64) -> Result<Vec<ReportEventRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ReportEventRow>(
            "SELECT id, revision, action, actor, at, comment, content FROM report_events WHERE report_id = $1 ORDER BY id")
            .bind(report_id).fetch_all(pool).await)?)
    }

    /// Everything submitted or accepted reports say about the plan's tasks.
    pub async fn plan_progress(&self, plan_id: i64) -> Result<Vec<ReportedProgress>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ReportedProgress>(
            "SELECT p.report_id, p.task_id, p.progress, p.completed_on, p.note, r.agency_code, r.period, r.window_to, r.status, r.submitted_at \
             FROM report_task_progress p JOIN plan_reports r ON r.id = p.report_id \
             WHERE r.plan_id = $1 AND r.status IN ('submitted', 'accepted') \
             ORDER BY r.window_to, CASE r.period_kind WHEN 'annual' THEN 1 ELSE 0 END, r.id, p.task_id")
            .bind(plan_id).fetch_all(pool).await)?)
    }

    /// Every value reported for the plan's indicators, with its report's state.
    pub async fn plan_values(&self, plan_id: i64) -> Result<Vec<ReportedValue>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, ReportedValue>(
            "SELECT v.indicator_id, v.report_id, v.period, v.period_end, v.unit_level, v.unit_code, v.value_milli, v.note, \
             r.status, r.agency_code FROM indicator_values v JOIN plan_reports r ON r.id = v.report_id \
             WHERE r.plan_id = $1 \
             ORDER BY v.indicator_id, v.period_end, CASE r.period_kind WHEN 'annual' THEN 1 ELSE 0 END, r.id, v.unit_level DESC, v.unit_code")
            .bind(plan_id).fetch_all(pool).await)?)
    }

    pub async fn closed_periods(&self, plan_id: i64) -> Result<Vec<String>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar::<_, String>(
            "SELECT period FROM plan_period_closures WHERE plan_id = $1 ORDER BY period")
            .bind(plan_id).fetch_all(pool).await)?)
    }

    /// Opens a report (status draft) with its first history event. An agency has one report
    /// per plan and period: a second is a conflict.
    pub async fn create_report(&self, r: &NewReport, by: &str, audit: &AuditEntry) -> Result<i64> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO plan_reports (plan_id, agency_code, period, period_kind, window_from, window_to, due_on, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(r.plan_id).bind(&r.agency_code).bind(&r.period).bind(&r.period_kind)
            .bind(&r.window_from).bind(&r.window_to).bind(&r.due_on).bind(by).bind(&now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| crate::StoreError::from_write(e, "this agency already has a report for this period"))?;
            sqlx::query("INSERT INTO report_events (report_id, revision, action, actor, at, comment, content) VALUES ($1, 0, 'created', $2, $3, '', '{}')")
                .bind(id).bind(by).bind(&now).execute(&mut *tx).await?;
            let mut a = audit.clone();
            a.entity_id = Some(id.to_string());
            append_in_tx!(tx, &a);
            id
        })
    }

    /// Replaces a draft's or returned report's content; false when the report is in
    /// another state (submitted reports wait for the decision; accepted ones are locked).
    pub async fn save_report(
        &self,
        id: i64,
        c: &ReportContent,
        by: &str,
        snapshot: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let n = sqlx::query("UPDATE plan_reports SET summary = $1 WHERE id = $2 AND status IN ('draft', 'returned')")
                .bind(&c.summary).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            sqlx::query("DELETE FROM report_task_progress WHERE report_id = $1").bind(id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM indicator_values WHERE report_id = $1").bind(id).execute(&mut *tx).await?;
            for p in &c.progress {
                sqlx::query("INSERT INTO report_task_progress (report_id, task_id, progress, completed_on, note) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id).bind(p.task_id).bind(&p.progress).bind(&p.completed_on).bind(&p.note)
                    .execute(&mut *tx).await?;
            }
            for v in &c.values {
                sqlx::query(
                    "INSERT INTO indicator_values (indicator_id, report_id, period, period_end, unit_level, unit_code, value_milli, note) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(v.indicator_id).bind(id).bind(&v.period).bind(&v.period_end).bind(&v.unit_level)
                .bind(&v.unit_code).bind(v.value_milli).bind(&v.note)
                .execute(&mut *tx).await
                .map_err(|e| crate::StoreError::from_write(e, "a value for this indicator, period and unit is already reported"))?;
            }
            let rev: i64 = sqlx::query_scalar("SELECT revision FROM plan_reports WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
            sqlx::query("INSERT INTO report_events (report_id, revision, action, actor, at, comment, content) VALUES ($1, $2, 'saved', $3, $4, '', $5)")
                .bind(id).bind(rev).bind(by).bind(&now).bind(snapshot).execute(&mut *tx).await?;
            append_in_tx!(tx, audit);
            true
        })
    }

    /// Submits a draft or returned report (`at` is the submission time; the first one is kept
    /// for timeliness). False when the report is in another state.
    pub async fn submit_report(&self, id: i64, by: &str, at: &str, snapshot: &str, audit: &AuditEntry) -> Result<bool> {
        write_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE plan_reports SET status = 'submitted', revision = revision + 1, submitted_at = $1, submitted_by = $2, \
                 first_submitted_at = COALESCE(first_submitted_at, $1) WHERE id = $3 AND status IN ('draft', 'returned')",
            )
            .bind(at).bind(by).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            let rev: i64 = sqlx::query_scalar("SELECT revision FROM plan_reports WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
            sqlx::query("INSERT INTO report_events (report_id, revision, action, actor, at, comment, content) VALUES ($1, $2, 'submitted', $3, $4, '', $5)")
                .bind(id).bind(rev).bind(by).bind(at).bind(snapshot).execute(&mut *tx).await?;
            append_in_tx!(tx, audit);
            true
        })
    }

    /// Accepts (locks) or returns a submitted report; false when it is not submitted.
    #[allow(clippy::too_many_arguments)] // one transaction's worth of inputs, each a column
    pub async fn decide_report(
        &self,
        id: i64,
        d: Decision,
        comment: &str,
        by: &str,
        at: &str,
        snapshot: &str,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let (status, action) = match d {
            Decision::Accept => ("accepted", "accepted"),
            Decision::Return => ("returned", "returned"),
        };
        write_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE plan_reports SET status = $1, decided_at = $2, decided_by = $3, comment = $4 WHERE id = $5 AND status = 'submitted'",
            )
            .bind(status).bind(at).bind(by).bind(comment).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Ok(false);
            }
            let rev: i64 = sqlx::query_scalar("SELECT revision FROM plan_reports WHERE id = $1").bind(id).fetch_one(&mut *tx).await?;
            sqlx::query("INSERT INTO report_events (report_id, revision, action, actor, at, comment, content) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id).bind(rev).bind(action).bind(by).bind(at).bind(comment).bind(snapshot).execute(&mut *tx).await?;
            append_in_tx!(tx, audit);
            true
        })
    }

    /// Closes a period of a plan; false when it was already closed.
    pub async fn close_period(&self, plan_id: i64, period: &str, by: &str, audit: &AuditEntry) -> Result<bool> {
        let now = crate::now_text();
        write_tx!(self, tx => {
            let n = sqlx::query(
                "INSERT INTO plan_period_closures (plan_id, period, closed_by, closed_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(plan_id).bind(period).bind(by).bind(&now).execute(&mut *tx).await?.rows_affected();
            if n == 1 {
                append_in_tx!(tx, audit);
            }
            n == 1
        })
    }

    /// Living social-assistance beneficiaries with a record in force on `day`, per commune.
    /// A semi-join that reads the persons in order (`+p.id` keeps SQLite from looking each
    /// beneficiary up by id: random reads into a million rows cost 2.5× as much).
    pub async fn assistance_beneficiaries(&self, day: &str) -> Result<Vec<CommuneCount>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CommuneCount>(
            "SELECT p.commune_code, count(*) AS n, CAST(0 AS BIGINT) AS of FROM persons p \
             WHERE +p.id IN (SELECT a.person_id FROM assistance_records a \
                             WHERE a.valid_from <= $1 AND (a.valid_to IS NULL OR a.valid_to >= $1)) \
               AND (p.deceased_on IS NULL OR p.deceased_on > $1) \
             GROUP BY p.commune_code ORDER BY p.commune_code")
            .bind(day).fetch_all(pool).await)?)
    }

    /// The monthly payment cycles with their state (a few dozen rows a year).
    pub async fn cycle_states(&self) -> Result<Vec<CycleState>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CycleState>(
            "SELECT id, month, status FROM payment_cycles WHERE kind = 'monthly' ORDER BY month, id")
            .fetch_all(pool).await)?)
    }

    /// One cycle's figures per commune: people with merit (or relatives) paid a regular monthly
    /// item, lines paid within the cycle, payable lines. One pass over the cycle's lines.
    /// `month` is the cycle's (`yyyy-mm`): a merit record counts if it was in force in it.
    pub async fn cycle_commune_figures(&self, cycle_id: i64, month: &str) -> Result<Vec<CycleCommune>> {
        let (first, last) = (format!("{month}-01"), format!("{month}-31"));
        Ok(on_pool!(self, pool => sqlx::query_as::<_, CycleCommune>(
            "SELECT l.commune_code, \
               count(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM payment_items i WHERE i.line_id = l.id AND i.kind = 'regular') \
                                    AND EXISTS (SELECT 1 FROM merit_records m WHERE m.person_id = l.person_id \
                                                AND m.valid_from <= $3 AND (m.valid_to IS NULL OR m.valid_to >= $2)) \
                              THEN l.person_id END) AS merit_paid, \
               sum(CASE WHEN l.result = 'paid' THEN 1 ELSE 0 END) AS paid, count(*) AS payable \
             FROM payment_lines l WHERE l.cycle_id = $1 AND l.status = 'pay' GROUP BY l.commune_code ORDER BY l.commune_code")
            .bind(cycle_id).bind(&first).bind(&last).fetch_all(pool).await)?)
    }

    /// Changes whenever a registry fact the computed indicators read may have changed: a person
    /// added, a change approved (with its version), a merit or assistance record added or ended.
    pub async fn registry_version(&self) -> Result<String> {
        let v: String = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT COALESCE(CAST((SELECT max(id) FROM persons) AS TEXT), '0') || ':' || \
                    COALESCE(CAST((SELECT max(id) FROM person_versions) AS TEXT), '0') || ':' || \
                    COALESCE(CAST((SELECT max(id) FROM merit_records) AS TEXT), '0') || ':' || \
                    COALESCE(CAST((SELECT max(id) FROM assistance_records) AS TEXT), '0') || ':' || \
                    COALESCE((SELECT max(decided_at) FROM change_requests), '')")
            .fetch_one(pool).await)?;
        Ok(v)
    }
}
