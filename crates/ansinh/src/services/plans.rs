//! Plan monitoring: importing plans, the tasks' status as the Government counts it, agencies'
//! periodic reports (submit → return | accept, accepted = locked), the indicators' scorecard
//! (reported values and values computed from ansinh's own data, kept current by the versions
//! of the data they read, not on a schedule), completeness and timeliness of reporting, drill-down by
//! commune across the 2025 reform, and the compiled implementation report.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use domain::plan::{
    assess, interpolate, parse_value, task_state, Deadline, Direction, Light, Milli, PeriodKind, Progress,
    ProgressReport, ReportPeriod, TaskState, TaskStatus, Unit,
};
use domain::Gazetteer;
use store::plans::{
    Decision, IndicatorRow, NewReport, PlanRow, ProgressRow, ReportContent, ReportRow, TaskAgencyRow, ValueRow,
};
use store::Store;

use crate::error::AppError;
use crate::services::authz::{perm, Ctx, Scope};
pub use crate::services::days::{calendar, today_vn};
use crate::services::days::{date, day_vn, iso};
use crate::services::plan_file::{self, FileError, Known, PlanFile};

/// The day of the 2025 reform: values of periods ending before it refer to pre-2025 units.
pub const REFORM_DAY: &str = "2025-07-01";

/// Days before a deadline at which a task is listed as due soon.
pub const WARN_DAYS: i64 = 30;

/// Whether the caller sees every agency's reports (dashboards, the owner's reviewers, the
/// operator) rather than only the own agency's.
fn sees_all_reports(ctx: &Ctx) -> bool {
    ctx.operator || ctx.principal.as_ref().is_some_and(|p| p.can(perm::DASHBOARDS_READ) || p.can(perm::PLANS_REVIEW))
}

/// The caller's agency (an agency reporter's scope, else the account's agency).
fn own_agency(ctx: &Ctx) -> Option<String> {
    let p = ctx.principal.as_ref()?;
    match &p.scope {
        Scope::Agency(a) => Some(a.clone()),
        _ => p.agency.clone(),
    }
}

fn denied(vi: impl Into<String>, en: impl Into<String>) -> AppError {
    AppError::Denied { vi: vi.into(), en: en.into() }
}

fn file_errors(errs: &[FileError]) -> AppError {
    let line = |e: &FileError, vi: bool| {
        let what = if vi { &e.vi } else { &e.en };
        match (e.place.is_empty(), e.field.is_empty()) {
            (true, true) => what.clone(),
            (false, true) => format!("{}: {what}", e.place),
            (true, false) => format!("{}: {what}", e.field),
            (false, false) => format!("{} · {}: {what}", e.place, e.field),
        }
    };
    let n = errs.len();
    let take = |vi: bool| errs.iter().take(30).map(|e| line(e, vi)).collect::<Vec<_>>().join("\n");
    denied(
        format!("Tệp kế hoạch có {n} lỗi, chưa nhập gì:\n{}", take(true)),
        format!("The plan file has {n} errors; nothing was imported:\n{}", take(false)),
    )
}

// ---------- import ----------

/// Reads a plan file (`.toml` or `.xlsx`, told apart by content), checks it, stores it.
/// `dry_run` checks only. Returns the plan id (0 for a dry run) and the counts.
pub async fn import(
    store: &Store,
    g: &Gazetteer,
    ctx: &Ctx,
    province: &str,
    bytes: &[u8],
    dry_run: bool,
) -> Result<(i64, usize, usize), AppError> {
    ctx.authorize(perm::PLANS_MANAGE)?;
    let file: PlanFile = if bytes.starts_with(b"PK") {
        plan_file::parse_xlsx(bytes).map_err(|e| file_errors(&e))?
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            denied(
                "Tệp kế hoạch không phải UTF-8 (TOML) cũng không phải XLSX",
                "The plan file is neither UTF-8 (TOML) nor XLSX",
            )
        })?;
        plan_file::parse_toml(text).map_err(|e| file_errors(&e))?
    };
    let agencies = store.agencies().await?;
    let plan = plan_file::validate(&file, &Known { agencies: &agencies, gazetteer: g, province })
        .map_err(|e| file_errors(&e))?;
    let tasks = plan.sections.iter().map(|s| s.tasks.len()).sum();
    let inds = plan.indicators.len();
    if dry_run {
        return Ok((0, tasks, inds));
    }
    let mut audit = ctx.audit("plan.import", "plan", None);
    audit.detail = Some(format!("{}: {} tasks, {} indicators", plan.number, tasks, inds));
    let id = store.insert_plan(&plan, &ctx.actor(), &audit).await.map_err(|e| match e {
        store::StoreError::Conflict(_) => denied(
            format!("Kế hoạch số {} đã có trong hệ thống", plan.number),
            format!("Plan {} is already in the system", plan.number),
        ),
        other => other.into(),
    })?;
    Ok((id, tasks, inds))
}

// ---------- reading ----------

/// A plan with everything the pages show, as of `today`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub plan: PlanRow,
    pub today: String,
    pub agencies: BTreeMap<String, AgencyName>,
    pub sections: Vec<store::plans::SectionRow>,
    pub tasks: Vec<TaskView>,
    pub indicators: Vec<IndicatorRow>,
    pub report_kinds: Vec<PeriodKind>,
    pub closed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AgencyName {
    pub vi: String,
    pub en: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    pub id: i64,
    pub section_id: i64,
    pub code: String,
    pub content: String,
    pub deadline: Deadline,
    pub expected_output: String,
    /// The lead agency today (after any reassignment).
    pub lead: String,
    /// The lead agencies over time.
    pub leads: Vec<TaskAgencyRow>,
    pub coordinate: Vec<String>,
    pub state: TaskState,
    /// The latest progress note reported.
    pub latest_note: String,
}

pub async fn plans(store: &Store, ctx: &Ctx) -> Result<Vec<PlanRow>, AppError> {
    ctx.authorize(perm::PLANS_READ)?;
    Ok(store.plans().await?)
}

fn lead_on(rows: &[TaskAgencyRow], task: i64, day: &str) -> Option<String> {
    let leads: Vec<&TaskAgencyRow> = rows.iter().filter(|a| a.task_id == task && a.role == "lead").collect();
    leads
        .iter()
        .find(|a| a.valid_from.as_str() <= day && a.valid_to.as_deref().is_none_or(|t| t >= day))
        .or_else(
            || if leads.first().is_some_and(|a| day < a.valid_from.as_str()) { leads.first() } else { leads.last() },
        )
        .map(|a| a.agency_code.clone())
}

pub async fn plan(store: &Store, ctx: &Ctx, id: i64, today: NaiveDate) -> Result<PlanView, AppError> {
    ctx.authorize(perm::PLANS_READ)?;
    let plan = store.plan(id).await?.ok_or_else(|| AppError::NotFound(format!("plan {id}")))?;
    let (sections, tasks, assign, indicators, progress, closed, agencies) = (
        store.plan_sections(id).await?,
        store.plan_tasks(id).await?,
        store.plan_task_agencies(id).await?,
        store.indicators(id).await?,
        store.plan_progress(id).await?,
        store.closed_periods(id).await?,
        store.agencies().await?,
    );
    let from = date(&plan.period_from).unwrap_or(today);
    let to = date(&plan.period_to).unwrap_or(today);
    let today_s = iso(today);
    let (all_reports, mine) = (sees_all_reports(ctx), own_agency(ctx));
    let mut by_task: HashMap<i64, Vec<&store::plans::ReportedProgress>> = HashMap::new();
    for p in &progress {
        by_task.entry(p.task_id).or_default().push(p);
    }
    let tasks = tasks
        .into_iter()
        .map(|t| {
            let deadline = Deadline::from_code(&t.deadline).unwrap_or(Deadline::Continuous);
            let reps: Vec<ProgressReport> = by_task
                .get(&t.id)
                .map(|v| {
                    v.iter()
                        .filter_map(|p| {
                            Some(ProgressReport {
                                progress: Progress::parse(&p.progress)?,
                                completed_on: p.completed_on.as_deref().and_then(date),
                                submitted_on: p.submitted_at.as_deref().and_then(day_vn)?,
                                period_end: date(&p.window_to)?,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            let state = task_state(deadline, from, to, &reps, today);
            let latest_note = by_task
                .get(&t.id)
                .and_then(|v| v.iter().rev().find(|p| all_reports || mine.as_deref() == Some(p.agency_code.as_str())))
                .map(|p| p.note.clone())
                .unwrap_or_default();
            TaskView {
                lead: lead_on(&assign, t.id, &today_s).unwrap_or_default(),
                leads: assign.iter().filter(|a| a.task_id == t.id && a.role == "lead").cloned().collect(),
                coordinate: assign
                    .iter()
                    .filter(|a| a.task_id == t.id && a.role == "coordinate")
                    .map(|a| a.agency_code.clone())
                    .collect(),
                id: t.id,
                section_id: t.section_id,
                code: t.code,
                content: t.content,
                deadline,
                expected_output: t.expected_output,
                state,
                latest_note,
            }
        })
        .collect();
    Ok(PlanView {
        report_kinds: plan.report_kinds.split(',').filter_map(PeriodKind::parse).collect(),
        plan,
        today: today_s,
        agencies: agencies
            .into_iter()
            .map(|a| (a.code, AgencyName { vi: a.name_vi, en: a.name_en, active: a.active }))
            .collect(),
        sections,
        tasks,
        indicators,
        closed,
    })
}

// ---------- dashboard ----------

#[derive(Debug, Clone, Default, Serialize)]
pub struct AgencyStat {
    pub agency: String,
    pub total: i64,
    pub overdue: i64,
    pub done_on_time: i64,
    pub done_late: i64,
    pub in_progress: i64,
    pub not_yet_due: i64,
    /// overdue / total, per mille
    pub overdue_per_mille: i64,
    /// 1 = best
    pub rank: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    pub task_id: i64,
    pub task_code: String,
    pub agency: String,
    pub due: String,
    /// days left (negative: overdue by)
    pub days: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoreRow {
    pub indicator: IndicatorRow,
    pub unit: Unit,
    pub year: i32,
    pub target: Option<Milli>,
    pub target_interpolated: bool,
    pub actual: Option<Milli>,
    /// the period (or cycle month / "now") the actual value is from
    pub actual_period: String,
    pub light: Option<Light>,
    /// (period label, value), oldest first
    pub series: Vec<(String, Milli)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompletenessCell {
    pub period: String,
    pub due_on: String,
    /// `on_time` | `late` | `missing` (past due, nothing submitted) | `pending` (not yet due) | `draft`
    pub state: String,
    pub status: Option<String>,
    pub report_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompletenessRow {
    pub agency: String,
    pub cells: Vec<CompletenessCell>,
    pub on_time: i64,
    pub late: i64,
    pub missing: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub view: PlanView,
    pub status_counts: Vec<(TaskStatus, i64)>,
    pub by_agency: Vec<AgencyStat>,
    pub due_soon: Vec<Warning>,
    pub overdue: Vec<Warning>,
    pub scorecard: Vec<ScoreRow>,
    pub periods: Vec<String>,
    pub completeness: Vec<CompletenessRow>,
}

/// The leader's dashboard. Needs `dashboards.read` (leaders, provincial officers,
/// inspectors).
pub async fn dashboard(
    store: &Store,
    cache: &ComputedCache,
    ctx: &Ctx,
    id: i64,
    today: NaiveDate,
    province: &str,
) -> Result<Dashboard, AppError> {
    ctx.authorize(perm::DASHBOARDS_READ)?;
    let view = plan(store, ctx, id, today).await?;
    let mut counts: BTreeMap<TaskStatus, i64> = BTreeMap::new();
    let mut stats: BTreeMap<String, AgencyStat> = BTreeMap::new();
    let (mut due_soon, mut overdue) = (Vec::new(), Vec::new());
    for t in &view.tasks {
        *counts.entry(t.state.status).or_default() += 1;
        let s =
            stats.entry(t.lead.clone()).or_insert_with(|| AgencyStat { agency: t.lead.clone(), ..Default::default() });
        s.total += 1;
        match t.state.status {
            TaskStatus::Overdue => s.overdue += 1,
            TaskStatus::DoneOnTime => s.done_on_time += 1,
            TaskStatus::DoneLate => s.done_late += 1,
            TaskStatus::InProgress => s.in_progress += 1,
            TaskStatus::NotYetDue => s.not_yet_due += 1,
        }
        if let (Some(due), Some(days)) = (t.state.due, t.state.days_left) {
            let w = Warning { task_id: t.id, task_code: t.code.clone(), agency: t.lead.clone(), due: iso(due), days };
            match t.state.status {
                TaskStatus::Overdue => overdue.push(w),
                TaskStatus::InProgress | TaskStatus::NotYetDue if days <= WARN_DAYS => due_soon.push(w),
                _ => {}
            }
        }
    }
    due_soon.sort_by_key(|w| w.days);
    overdue.sort_by_key(|w| w.days);
    let mut by_agency: Vec<AgencyStat> = stats
        .into_values()
        .map(|mut s| {
            s.overdue_per_mille = if s.total > 0 { s.overdue * 1000 / s.total } else { 0 };
            s
        })
        .collect();
    // ranking: fewest overdue (share), then fewest done late (share), then most done on time
    // (share), then code
    let share = |n: i64, total: i64| n * 1000 / total.max(1);
    by_agency.sort_by(|a, b| {
        a.overdue_per_mille
            .cmp(&b.overdue_per_mille)
            .then(share(a.done_late, a.total).cmp(&share(b.done_late, b.total)))
            .then(share(b.done_on_time, b.total).cmp(&share(a.done_on_time, a.total)))
            .then(a.agency.cmp(&b.agency))
    });
    for (i, s) in by_agency.iter_mut().enumerate() {
        s.rank = i as i64 + 1;
    }
    let scorecard = scorecard(store, cache, &view, today, province, None).await?;
    let (periods, completeness) = completeness(store, &view, today).await?;
    Ok(Dashboard {
        status_counts: TaskStatus::ALL.iter().map(|s| (*s, counts.get(s).copied().unwrap_or(0))).collect(),
        by_agency,
        due_soon,
        overdue,
        scorecard,
        periods,
        completeness,
        view,
    })
}

/// The agencies expected to report for a period ending on `day` (any day: today): the lead
/// of a task on that day and the reporter of any reported indicator.
fn reporting_agencies(view: &PlanView, day: &str) -> Vec<String> {
    let mut a: Vec<String> = view
        .tasks
        .iter()
        .filter_map(|t| lead_on(&t.leads, t.id, day))
        .chain(view.indicators.iter().filter_map(|i| i.agency_code.clone()))
        .collect();
    a.sort();
    a.dedup();
    a
}

/// The report periods of the plan whose windows have started by `today`.
fn report_periods(view: &PlanView, today: NaiveDate) -> Vec<ReportPeriod> {
    let from = date(&view.plan.period_from).unwrap_or(today);
    let to = date(&view.plan.period_to).unwrap_or(today);
    let mut out: Vec<ReportPeriod> = view
        .report_kinds
        .iter()
        .flat_map(|k| ReportPeriod::ending_within(*k, from, to))
        .filter(|p| p.start() <= today)
        .collect();
    out.sort_by_key(|p| (p.end(), p.kind));
    out
}

async fn completeness(
    store: &Store,
    view: &PlanView,
    today: NaiveDate,
) -> Result<(Vec<String>, Vec<CompletenessRow>), AppError> {
    let cal = calendar()?;
    let periods = report_periods(view, today);
    let reports = store.plan_reports(view.plan.id, None).await?;
    let mut agencies: Vec<String> = periods.iter().flat_map(|p| reporting_agencies(view, &iso(p.end()))).collect();
    agencies.sort();
    agencies.dedup();
    let mut rows = Vec::new();
    for agency in agencies {
        let mut row = CompletenessRow { agency: agency.clone(), cells: vec![], on_time: 0, late: 0, missing: 0 };
        for p in &periods {
            let code = p.to_string();
            if !reporting_agencies(view, &iso(p.end())).contains(&agency) {
                row.cells.push(CompletenessCell {
                    period: code,
                    due_on: String::new(),
                    state: "not_expected".into(),
                    status: None,
                    report_id: None,
                });
                continue;
            }
            let due = cal.add_working_days(p.end(), view.plan.report_due_days.max(1) as u32);
            let r = reports.iter().find(|r| r.agency_code == agency && r.period == code);
            let first = r.and_then(|r| r.first_submitted_at.as_deref()).and_then(day_vn);
            let state = match (r, first) {
                (_, Some(d)) if d <= due => "on_time",
                (_, Some(_)) => "late",
                (_, None) if today > due => "missing",
                (Some(_), None) => "draft",
                (None, None) => "pending",
            };
            match state {
                "on_time" => row.on_time += 1,
                "late" => row.late += 1,
                "missing" => row.missing += 1,
                _ => {}
            }
            row.cells.push(CompletenessCell {
                period: code,
                due_on: iso(due),
                state: state.into(),
                status: r.map(|r| r.status.clone()),
                report_id: r.map(|r| r.id),
            });
        }
        rows.push(row);
    }
    Ok((periods.iter().map(|p| p.to_string()).collect(), rows))
}

/// The target of `year` for a unit: the row for that year, else the straight line from the
/// baseline to the next target year; a commune without targets takes the province's.
fn target_for(
    ind: &IndicatorRow,
    targets: &[store::plans::TargetRow],
    year: i32,
    unit: Option<&str>,
) -> Option<(Milli, bool)> {
    let rows: Vec<&store::plans::TargetRow> = targets
        .iter()
        .filter(|t| t.indicator_id == ind.id)
        .filter(|t| match unit {
            Some(c) => t.unit_level == "commune" && t.unit_code == c,
            None => t.unit_level == "province",
        })
        .collect();
    if rows.is_empty() {
        return if unit.is_some() { target_for(ind, targets, year, None) } else { None };
    }
    if let Some(t) = rows.iter().find(|t| t.year == i64::from(year)) {
        return Some((Milli(t.target_milli), false));
    }
    let next = rows.iter().filter(|t| t.year > i64::from(year)).min_by_key(|t| t.year)?;
    let prev = rows
        .iter()
        .filter(|t| t.year < i64::from(year))
        .max_by_key(|t| t.year)
        .map(|t| (t.year as i32, Milli(t.target_milli)))
        .or_else(|| Some((ind.baseline_year? as i32, Milli(ind.baseline_milli?))))?;
    Some((interpolate(prev, (next.year as i32, Milli(next.target_milli)), year), true))
}

/// The target a value of `period` is measured against: the year's target for an annual
/// value; for a shorter period, the point on the way from the previous year's target (or the
/// baseline) that the period's last month reaches. Rounded to a tenth of the unit (a whole
/// unit for counts).
fn target_at(
    ind: &IndicatorRow,
    targets: &[store::plans::TargetRow],
    period: &str,
    today: NaiveDate,
    unit: Option<&str>,
) -> Option<(Milli, bool, i32)> {
    use chrono::Datelike;
    let (year, month) = match period.parse::<ReportPeriod>() {
        Ok(p) => (
            p.year,
            match p.kind {
                PeriodKind::Monthly => p.n,
                PeriodKind::Quarterly => p.n * 3,
                PeriodKind::SixMonthly => 6,
                PeriodKind::Annual => 12,
            },
        ),
        Err(_) => (today.year(), 12),
    };
    let (t, mut interpolated) = target_for(ind, targets, year, unit)?;
    let mut v = t;
    if month < 12 {
        let prev = target_for(ind, targets, year - 1, unit)
            .map(|p| p.0)
            .or(ind.baseline_milli.filter(|_| ind.baseline_year.is_some_and(|b| b == i64::from(year - 1))).map(Milli));
        if let Some(p) = prev {
            v = Milli(p.0 + (i128::from(t.0 - p.0) * i128::from(month) / 12) as i64);
            interpolated = true;
        }
    }
    let whole = Unit::parse(&ind.unit).is_some_and(Unit::whole);
    let step = if whole { 1000 } else { 100 };
    if interpolated {
        v = Milli((v.0 + step / 2).div_euclid(step) * step);
    }
    Some((v, interpolated, year))
}

/// The scorecard (province, or one commune): per indicator the year's target, the latest
/// accepted (reported) or current (computed) value, the light, and the history.
pub async fn scorecard(
    store: &Store,
    cache: &ComputedCache,
    view: &PlanView,
    today: NaiveDate,
    province: &str,
    commune: Option<&str>,
) -> Result<Vec<ScoreRow>, AppError> {
    use chrono::Datelike;
    let targets = store.indicator_targets(view.plan.id).await?;
    let values = store.plan_values(view.plan.id).await?;
    let computed = cache.get(store, today).await?;
    let year = today.year();
    let mut out = Vec::new();
    for ind in &view.indicators {
        let unit = Unit::parse(&ind.unit).unwrap_or(Unit::Count);
        let direction = Direction::parse(&ind.direction).unwrap_or(Direction::Higher);
        let (level, code) = match commune {
            Some(c) => ("commune", c),
            None => ("province", province),
        };
        let (actual, actual_period, series) = if ind.source == "computed" {
            let key = ind.computed_key.as_deref().unwrap_or("");
            computed.value(key, commune)
        } else {
            let mine: Vec<&store::plans::ReportedValue> = values
                .iter()
                .filter(|v| {
                    v.indicator_id == ind.id && v.status == "accepted" && v.unit_level == level && v.unit_code == code
                })
                .collect();
            let series: Vec<(String, Milli)> = mine.iter().map(|v| (v.period.clone(), Milli(v.value_milli))).collect();
            let last = mine.last();
            (last.map(|v| Milli(v.value_milli)), last.map(|v| v.period.clone()).unwrap_or_default(), series)
        };
        let target = target_at(ind, &targets, &actual_period, today, commune);
        let baseline = ind.baseline_milli.map(Milli);
        out.push(ScoreRow {
            unit,
            year: target.map_or(year, |t| t.2),
            target: target.map(|t| t.0),
            target_interpolated: target.is_some_and(|t| t.1),
            light: target.map(|(t, _, _)| assess(direction, baseline, t, actual)),
            actual,
            actual_period,
            series,
            indicator: ind.clone(),
        });
    }
    Ok(out)
}

// ---------- computed indicators ----------

/// `n / of` as a percentage to a tenth, half up (as agencies report rates).
fn percent_tenths(n: i64, of: i64) -> Milli {
    let (n, of) = (i128::from(n), i128::from(of.max(1)));
    Milli((((n * 1000 * 2 + of) / (2 * of)) * 100) as i64)
}

/// Values computed from the platform's data, per commune.
#[derive(Debug, Clone, Default)]
pub struct Computed {
    /// key → commune → (n, of)
    by_commune: HashMap<String, BTreeMap<String, (i64, i64)>>,
    /// key → (month, value)
    series: HashMap<String, Vec<(String, Milli)>>,
    label: HashMap<String, String>,
}

impl Computed {
    fn value(&self, key: &str, commune: Option<&str>) -> (Option<Milli>, String, Vec<(String, Milli)>) {
        let Some(m) = self.by_commune.get(key) else { return (None, String::new(), Vec::new()) };
        let (n, of) = match commune {
            Some(c) => m.get(c).copied().unwrap_or((0, 0)),
            None => m.values().fold((0, 0), |(a, b), (n, of)| (a + n, b + of)),
        };
        let is_ratio = matches!(key, "paid_within_cycle" | "complaints_on_time");
        let v = if key == "satisfaction_index" {
            // the mean score: n = sum of scores, of = ratings
            (of > 0).then(|| Milli((n * 1000 * 2 + of) / (2 * of)))
        } else if is_ratio {
            // to a tenth of a percent, half up, as agencies report rates
            (of > 0).then(|| percent_tenths(n, of))
        } else {
            Some(Milli::from_int(n))
        };
        let series = if commune.is_none() { self.series.get(key).cloned().unwrap_or_default() } else { Vec::new() };
        (v, self.label.get(key).cloned().unwrap_or_default(), series)
    }
}

/// Computed values, each kept with the version of the data it was computed from, and
/// recomputed only when that data changed — never on a timer:
/// - a payment cycle's figures with the cycle's state (a cycle past approval is frozen, so
///   its figures are computed once per state) and the merit records' version;
/// - the assistance beneficiaries with the registry's version and the day.
#[derive(Default)]
pub struct ComputedCache {
    /// cycle id → its figures with the state they were computed in
    cycles: Mutex<HashMap<i64, CachedCycle>>,
    /// (registry version, day) → beneficiaries per commune
    assistance: Mutex<Option<(String, std::sync::Arc<Vec<store::plans::CommuneCount>>)>>,
}

/// A cycle's figures per commune, with the cycle's status and the merit records' version
/// they were computed at.
type CachedCycle = (String, String, std::sync::Arc<Vec<store::plans::CycleCommune>>);

/// Cycle states whose lines have been approved (paid or about to be).
const PAID_STATES: [&str; 4] = ["approved", "exported", "reconciled", "closed"];
/// Cycle states whose results are in.
const RECONCILED_STATES: [&str; 2] = ["reconciled", "closed"];

impl ComputedCache {
    async fn cycle(
        &self,
        store: &Store,
        c: &store::plans::CycleState,
        merit_version: &str,
    ) -> Result<std::sync::Arc<Vec<store::plans::CycleCommune>>, AppError> {
        if let Ok(g) = self.cycles.lock() {
            if let Some((st, mv, figures)) = g.get(&c.id) {
                if *st == c.status && mv == merit_version {
                    return Ok(figures.clone());
                }
            }
        }
        let figures = std::sync::Arc::new(store.cycle_commune_figures(c.id, &c.month).await?);
        if let Ok(mut g) = self.cycles.lock() {
            g.insert(c.id, (c.status.clone(), merit_version.to_string(), figures.clone()));
        }
        Ok(figures)
    }

    pub async fn get(&self, store: &Store, today: NaiveDate) -> Result<Computed, AppError> {
        let day = iso(today);
        let registry = store.registry_version().await?;
        let merit_version = registry.split(':').nth(2).unwrap_or("").to_string();
        let key = format!("{registry}@{day}");
        let cached =
            self.assistance.lock().ok().and_then(|g| g.as_ref().filter(|(k, _)| *k == key).map(|(_, v)| v.clone()));
        let assistance = match cached {
            Some(a) => a,
            None => {
                let a = std::sync::Arc::new(store.assistance_beneficiaries(&day).await?);
                if let Ok(mut g) = self.assistance.lock() {
                    *g = Some((key, a.clone()));
                }
                a
            }
        };
        let mut c = Computed::default();
        let sum =
            |rows: &[store::plans::CommuneCount]| rows.iter().map(|r| (r.commune_code.clone(), (r.n, r.of))).collect();
        c.by_commune.insert("assistance_beneficiaries".into(), sum(&assistance));
        c.label.insert("assistance_beneficiaries".into(), day);
        let states = store.cycle_states().await?;
        let mut merit_series = Vec::new();
        let mut paid_series = Vec::new();
        let latest_paid = states.iter().rev().find(|s| PAID_STATES.contains(&s.status.as_str()));
        let latest_reconciled = states.iter().rev().find(|s| RECONCILED_STATES.contains(&s.status.as_str()));
        for s in states.iter().filter(|s| RECONCILED_STATES.contains(&s.status.as_str())) {
            let f = self.cycle(store, s, &merit_version).await?;
            let (merit, paid, payable) =
                f.iter().fold((0, 0, 0), |a, r| (a.0 + r.merit_paid, a.1 + r.paid, a.2 + r.payable));
            merit_series.push((s.month.clone(), Milli::from_int(merit)));
            if payable > 0 {
                paid_series.push((s.month.clone(), percent_tenths(paid, payable)));
            }
        }
        if let Some(s) = latest_paid {
            let f = self.cycle(store, s, &merit_version).await?;
            c.by_commune.insert(
                "merit_paid_monthly".into(),
                f.iter().map(|r| (r.commune_code.clone(), (r.merit_paid, 0))).collect(),
            );
            c.label.insert("merit_paid_monthly".into(), s.month.clone());
        }
        if let Some(s) = latest_reconciled {
            let f = self.cycle(store, s, &merit_version).await?;
            c.by_commune.insert(
                "paid_within_cycle".into(),
                f.iter().map(|r| (r.commune_code.clone(), (r.paid, r.payable))).collect(),
            );
            c.label.insert("paid_within_cycle".into(), s.month.clone());
        }
        // complaints and ratings: small tables, read each time (no cache to go stale)
        let sum =
            |rows: Vec<store::plans::CommuneCount>| rows.into_iter().map(|r| (r.commune_code, (r.n, r.of))).collect();
        c.by_commune.insert("complaints_on_time".into(), sum(store.complaints_on_time().await?));
        c.label.insert("complaints_on_time".into(), iso(today));
        let ratings: std::collections::BTreeMap<String, (i64, i64)> =
            store.satisfaction().await?.into_iter().fold(Default::default(), |mut m, r| {
                let e = m.entry(r.commune_code).or_insert((0, 0));
                e.0 += r.score_sum;
                e.1 += r.ratings;
                m
            });
        c.by_commune.insert("satisfaction_index".into(), ratings);
        c.label.insert("satisfaction_index".into(), iso(today));
        c.series.insert("merit_paid_monthly".into(), merit_series);
        c.series.insert("paid_within_cycle".into(), paid_series);
        Ok(c)
    }
}

// ---------- drill-down ----------

/// One indicator over the units: the province, each commune now, and the pre-2025 units'
/// values mapped to their successors.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorDrill {
    pub view_plan: PlanRow,
    pub indicator: IndicatorRow,
    pub unit: Unit,
    pub province: ScoreRow,
    pub communes: Vec<CommuneValue>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CommuneValue {
    pub code: String,
    pub name: String,
    pub target: Option<Milli>,
    pub actual: Option<Milli>,
    pub period: String,
    pub light: Option<Light>,
    /// values reported for the pre-2025 units this commune was formed from:
    /// (period, old code, old name, value, partial)
    pub before_reform: Vec<(String, String, String, Milli, bool)>,
    /// for counts (persons, households …) the sum over the predecessors per period, when no
    /// predecessor was split; rates are not summed
    pub comparable: Vec<(String, Milli)>,
}

#[allow(clippy::too_many_arguments)] // the sources (store, cache, gazetteer, province) and the request
pub async fn indicator_drill(
    store: &Store,
    cache: &ComputedCache,
    g: &Gazetteer,
    ctx: &Ctx,
    plan_id: i64,
    code: &str,
    today: NaiveDate,
    province: &str,
) -> Result<IndicatorDrill, AppError> {
    ctx.authorize(perm::DASHBOARDS_READ)?;
    let view = plan(store, ctx, plan_id, today).await?;
    let ind = view
        .indicators
        .iter()
        .find(|i| i.code == code)
        .cloned()
        .ok_or_else(|| AppError::NotFound(format!("indicator {code}")))?;
    let unit = Unit::parse(&ind.unit).unwrap_or(Unit::Count);
    let direction = Direction::parse(&ind.direction).unwrap_or(Direction::Higher);
    let prov = scorecard(store, cache, &view, today, province, None)
        .await?
        .into_iter()
        .find(|r| r.indicator.id == ind.id)
        .ok_or_else(|| AppError::NotFound(format!("indicator {code}")))?;
    let targets = store.indicator_targets(plan_id).await?;
    let values = store.plan_values(plan_id).await?;
    let computed = cache.get(store, today).await?;
    let mut communes = Vec::new();
    for c in g.communes_of(province) {
        let (actual, period) = if ind.source == "computed" {
            let (v, p, _) = computed.value(ind.computed_key.as_deref().unwrap_or(""), Some(&c.code));
            (v, p)
        } else {
            let last = values.iter().rfind(|v| {
                v.indicator_id == ind.id
                    && v.status == "accepted"
                    && v.unit_level == "commune"
                    && v.unit_code == c.code
                    && v.period_end.as_str() >= REFORM_DAY
            });
            (last.map(|v| Milli(v.value_milli)), last.map(|v| v.period.clone()).unwrap_or_default())
        };
        let target = target_at(&ind, &targets, &period, today, Some(&c.code)).map(|t| t.0);
        let preds = g.predecessors_of(&c.code);
        let mut before = Vec::new();
        for v in values.iter().filter(|v| {
            v.indicator_id == ind.id
                && v.status == "accepted"
                && v.unit_level == "commune"
                && v.period_end.as_str() < REFORM_DAY
        }) {
            if let Some(p) = preds.iter().find(|p| p.code == v.unit_code) {
                before.push((v.period.clone(), p.code.clone(), p.name.clone(), Milli(v.value_milli), p.partial));
            }
        }
        let mut comparable: BTreeMap<String, i64> = BTreeMap::new();
        if unit != Unit::Percent && unit != Unit::Points && !before.iter().any(|b| b.4) {
            for b in &before {
                *comparable.entry(b.0.clone()).or_default() += b.3 .0;
            }
        }
        communes.push(CommuneValue {
            code: c.code.clone(),
            name: c.name.clone(),
            light: target.map(|t| assess(direction, ind.baseline_milli.map(Milli), t, actual)),
            target,
            actual,
            period,
            before_reform: before,
            comparable: comparable.into_iter().map(|(p, v)| (p, Milli(v))).collect(),
        });
    }
    Ok(IndicatorDrill { view_plan: view.plan, indicator: ind, unit, province: prov, communes })
}

// ---------- reports ----------

/// What may be reported: the caller's agency (an agency reporter's, or a provincial officer's
/// own department); the CLI operator names it.
fn acting_agency(ctx: &Ctx, requested: Option<&str>) -> Result<String, AppError> {
    if ctx.operator {
        return requested.map(str::to_string).ok_or_else(|| AppError::Invalid("--agency is required".into()));
    }
    ctx.require(perm::PLANS_REPORT)?;
    let own = own_agency(ctx).ok_or_else(|| AppError::Forbidden("the caller belongs to no agency".into()))?;
    if let Some(r) = requested.filter(|r| !r.is_empty()) {
        if r != own {
            return Err(AppError::Forbidden(format!("agency {r} is not the caller's ({own})")));
        }
    }
    Ok(own)
}

/// May the caller see this report? Plan readers with dashboards see all; an agency's
/// reporter sees the agency's.
fn can_see(ctx: &Ctx, r: &ReportRow) -> Result<(), AppError> {
    if ctx.operator {
        return Ok(());
    }
    let p = ctx.require(perm::PLANS_READ)?;
    if p.can(perm::DASHBOARDS_READ) || p.can(perm::PLANS_REVIEW) {
        return Ok(());
    }
    if own_agency(ctx).as_deref() == Some(r.agency_code.as_str()) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!("report {} belongs to another agency", r.id)))
    }
}

/// What reports said about one task, newest first: every agency's for those who see all
/// reports, else the caller's agency's only.
pub async fn task_reports(
    store: &Store,
    ctx: &Ctx,
    plan_id: i64,
    task_id: i64,
) -> Result<Vec<store::plans::ReportedProgress>, AppError> {
    ctx.authorize(perm::PLANS_READ)?;
    let (all, mine) = (sees_all_reports(ctx), own_agency(ctx));
    Ok(store
        .plan_progress(plan_id)
        .await?
        .into_iter()
        .filter(|p| p.task_id == task_id && (all || mine.as_deref() == Some(p.agency_code.as_str())))
        .rev()
        .collect())
}

/// The reports a caller may see: all for reviewers and dashboard readers, else the own agency's.
pub async fn reports(store: &Store, ctx: &Ctx, plan_id: i64) -> Result<Vec<ReportRow>, AppError> {
    ctx.authorize(perm::PLANS_READ)?;
    let all = match &ctx.principal {
        Some(p) if !(p.can(perm::DASHBOARDS_READ) || p.can(perm::PLANS_REVIEW)) => match own_agency(ctx) {
            Some(a) => store.plan_reports(plan_id, Some(&a)).await?,
            None => Vec::new(),
        },
        _ => store.plan_reports(plan_id, None).await?,
    };
    Ok(all)
}

/// Periods an agency may open a report for now: started, not closed, not yet reported.
pub async fn open_periods(
    store: &Store,
    ctx: &Ctx,
    plan_id: i64,
    today: NaiveDate,
) -> Result<Vec<ReportPeriod>, AppError> {
    let view = plan(store, ctx, plan_id, today).await?;
    let agency = match acting_agency(ctx, None) {
        Ok(a) => a,
        Err(_) => return Ok(Vec::new()),
    };
    let mine = store.plan_reports(plan_id, Some(&agency)).await?;
    let mut out: Vec<ReportPeriod> = report_periods(&view, today)
        .into_iter()
        .chain(view.report_kinds.iter().map(|k| ReportPeriod::containing(*k, today)))
        .filter(|p| p.start() <= today)
        .filter(|p| !view.closed.contains(&p.to_string()) && !mine.iter().any(|r| r.period == p.to_string()))
        .collect();
    out.sort_by_key(|p| (p.end(), p.kind));
    out.dedup();
    Ok(out)
}

/// Opens a report for the caller's agency and a period of the plan.
pub async fn create_report(
    store: &Store,
    ctx: &Ctx,
    plan_id: i64,
    period: &str,
    agency: Option<&str>,
    today: NaiveDate,
) -> Result<i64, AppError> {
    let agency = acting_agency(ctx, agency)?;
    let view = plan(store, ctx, plan_id, today).await?;
    let p: ReportPeriod = period.trim().parse().map_err(|_| AppError::Field {
        field: "period",
        vi: format!("kỳ báo cáo {period:?} không hợp lệ (ví dụ 2025-H1, 2025)"),
        en: format!("report period {period:?} is not valid (e.g. 2025-H1, 2025)"),
    })?;
    if !view.report_kinds.contains(&p.kind) {
        return Err(AppError::Field {
            field: "period",
            vi: "kế hoạch không quy định kỳ báo cáo này".into(),
            en: "the plan has no reports of this kind".into(),
        });
    }
    check_open(&view, &p, today)?;
    if !reporting_agencies(&view, &iso(p.end())).contains(&agency) && !ctx.operator {
        return Err(denied(
            format!("Cơ quan {agency} không chủ trì nhiệm vụ hay báo cáo chỉ tiêu nào của kế hoạch"),
            format!("Agency {agency} leads no task and reports no indicator of the plan"),
        ));
    }
    let cal = calendar()?;
    let due = cal.add_working_days(p.end(), view.plan.report_due_days.max(1) as u32);
    let r = NewReport {
        plan_id,
        agency_code: agency.clone(),
        period: p.to_string(),
        period_kind: p.kind.code().into(),
        window_from: iso(p.start()),
        window_to: iso(p.end()),
        due_on: iso(due),
    };
    let mut audit = ctx.audit("plan.report.create", "plan_report", None);
    audit.detail = Some(format!("{} {} {}", view.plan.number, agency, p));
    store.create_report(&r, &ctx.actor(), &audit).await.map_err(|e| match e {
        store::StoreError::Conflict(_) => denied(
            format!("Cơ quan {agency} đã có báo cáo kỳ {p}"),
            format!("Agency {agency} already has a report for {p}"),
        ),
        other => other.into(),
    })
}

fn check_open(view: &PlanView, p: &ReportPeriod, today: NaiveDate) -> Result<(), AppError> {
    if view.closed.contains(&p.to_string()) {
        return Err(denied(
            format!("Kỳ báo cáo {} đã khóa sổ: không nhận báo cáo mới hoặc sửa đổi", p.label_vi()),
            format!("The report period {} is closed: no new or changed reports", p.label_en()),
        ));
    }
    if p.start() > today {
        return Err(denied(
            format!("Kỳ báo cáo {} chưa bắt đầu (từ {})", p.label_vi(), domain::calendar::format_date(p.start())),
            format!(
                "The report period {} has not started (from {})",
                p.label_en(),
                domain::calendar::format_date(p.start())
            ),
        ));
    }
    let (from, to) = (date(&view.plan.period_from), date(&view.plan.period_to));
    if from.is_some_and(|f| p.end() < f) || to.is_some_and(|t| p.start() > t) {
        return Err(denied(
            "Kỳ báo cáo nằm ngoài thời gian thực hiện kế hoạch",
            "The report period is outside the plan's period",
        ));
    }
    Ok(())
}

/// A report with what the page shows.
#[derive(Debug, Clone, Serialize)]
pub struct ReportDetail {
    pub report: ReportRow,
    pub plan: PlanRow,
    pub period_label_vi: String,
    pub period_label_en: String,
    /// the tasks the agency leads at the period's end, with what was reported
    pub tasks: Vec<(TaskView, Option<ProgressRow>)>,
    /// the indicators the agency reports, with the values of this report
    pub indicators: Vec<(IndicatorRow, Vec<ValueRow>)>,
    pub events: Vec<store::plans::ReportEventRow>,
    pub can_edit: bool,
    pub can_decide: bool,
    pub closed: bool,
}

pub async fn report(store: &Store, ctx: &Ctx, id: i64, today: NaiveDate) -> Result<ReportDetail, AppError> {
    let r = store.plan_report(id).await?.ok_or_else(|| AppError::NotFound(format!("report {id}")))?;
    can_see(ctx, &r)?;
    let view = plan(store, ctx, r.plan_id, today).await?;
    let progress = store.report_progress(id).await?;
    let values = store.report_values(id).await?;
    let assign = store.plan_task_agencies(r.plan_id).await?;
    let tasks = view
        .tasks
        .iter()
        .filter(|t| lead_on(&assign, t.id, &r.window_to).as_deref() == Some(r.agency_code.as_str()))
        .map(|t| (t.clone(), progress.iter().find(|p| p.task_id == t.id).cloned()))
        .collect();
    let indicators = view
        .indicators
        .iter()
        .filter(|i| i.source == "reported" && i.agency_code.as_deref() == Some(r.agency_code.as_str()))
        .map(|i| (i.clone(), values.iter().filter(|v| v.indicator_id == i.id).cloned().collect()))
        .collect();
    let closed = view.closed.contains(&r.period);
    let can_edit = matches!(r.status.as_str(), "draft" | "returned")
        && !closed
        && acting_agency(ctx, Some(&r.agency_code)).is_ok();
    let can_decide = r.status == "submitted" && reviewer(ctx, &view.plan).is_ok();
    let p: Option<ReportPeriod> = r.period.parse().ok();
    Ok(ReportDetail {
        period_label_vi: p.map(|p| p.label_vi()).unwrap_or_else(|| r.period.clone()),
        period_label_en: p.map(|p| p.label_en()).unwrap_or_else(|| r.period.clone()),
        events: store.report_events(id).await?,
        report: r,
        plan: view.plan,
        tasks,
        indicators,
        can_edit,
        can_decide,
        closed,
    })
}

/// What an agency reports, as typed (form or JSON).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportInput {
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub progress: Vec<ProgressInput>,
    #[serde(default)]
    pub values: Vec<ValueInput>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProgressInput {
    /// the task's code in the plan (e.g. `II.3.a.2`)
    pub task: String,
    /// `not_started` | `in_progress` | `done`
    pub progress: String,
    /// dd/mm/yyyy, when done
    #[serde(default)]
    pub completed_on: Option<String>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ValueInput {
    /// the indicator's code (e.g. `BHYT`)
    pub indicator: String,
    /// a commune code (5 digits; for a period ending before 01/07/2025 a pre-2025 commune code);
    /// the province when absent
    #[serde(default)]
    pub commune: Option<String>,
    /// as typed: `96,5`, `96.5 %`
    pub value: String,
    #[serde(default)]
    pub note: String,
}

/// Saves a draft (or a returned report being fixed). Every bad entry is named; nothing is
/// saved unless all are good.
pub async fn save_report(
    store: &Store,
    g: &Gazetteer,
    ctx: &Ctx,
    id: i64,
    input: &ReportInput,
    today: NaiveDate,
    province: &str,
) -> Result<(), AppError> {
    let d = editable_report(store, ctx, id, today).await?;
    let content = check_content(&d, g, input, province, today)?;
    let snapshot = snapshot(&content);
    let mut audit = ctx.audit("plan.report.save", "plan_report", Some(id.to_string()));
    audit.detail = Some(format!("{} tasks, {} values", content.progress.len(), content.values.len()));
    if !store.save_report(id, &content, &ctx.actor(), &snapshot, &audit).await? {
        return Err(not_editable(&d.report));
    }
    Ok(())
}

/// A report the caller's agency may change now: its own, a draft or returned, in a period
/// still open.
async fn editable_report(store: &Store, ctx: &Ctx, id: i64, today: NaiveDate) -> Result<ReportDetail, AppError> {
    let d = report(store, ctx, id, today).await?;
    acting_agency(ctx, Some(&d.report.agency_code))?;
    let view = plan(store, ctx, d.report.plan_id, today).await?;
    if let Ok(p) = d.report.period.parse::<ReportPeriod>() {
        check_open(&view, &p, today)?;
    }
    if !matches!(d.report.status.as_str(), "draft" | "returned") {
        return Err(not_editable(&d.report));
    }
    Ok(d)
}

/// A report's content as stored (for the history of a step).
fn content_of(d: &ReportDetail) -> ReportContent {
    ReportContent {
        summary: d.report.summary.clone(),
        progress: d.tasks.iter().filter_map(|(_, p)| p.clone()).collect(),
        values: d.indicators.iter().flat_map(|(_, v)| v.clone()).collect(),
    }
}

fn not_editable(r: &ReportRow) -> AppError {
    let (vi, en) = report_status_label(&r.status);
    denied(
        format!("Báo cáo đang ở trạng thái \"{vi}\": không sửa được"),
        format!("The report is {en}: it cannot be changed"),
    )
}

fn check_content(
    d: &ReportDetail,
    g: &Gazetteer,
    input: &ReportInput,
    province: &str,
    today: NaiveDate,
) -> Result<ReportContent, AppError> {
    let mut errs: Vec<(String, String)> = Vec::new();
    let mut progress = Vec::new();
    for (i, p) in input.progress.iter().enumerate() {
        let place = format!("progress[{}] {}", i + 1, p.task);
        let Some((t, _)) = d.tasks.iter().find(|(t, _)| t.code == p.task.trim()) else {
            errs.push((
                format!("{place}: nhiệm vụ không do cơ quan {} chủ trì trong kỳ này", d.report.agency_code),
                format!("{place}: not a task agency {} leads in this period", d.report.agency_code),
            ));
            continue;
        };
        let Some(prog) = Progress::parse(p.progress.trim()) else {
            errs.push((
                format!("{place}: tiến độ {:?} phải là not_started, in_progress hoặc done", p.progress),
                format!("{place}: progress {:?} must be not_started, in_progress or done", p.progress),
            ));
            continue;
        };
        let completed_on = match p.completed_on.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match domain::calendar::parse_date(s) {
                Ok(dt) => Some(iso(dt)),
                Err(e) => {
                    errs.push((
                        format!("{place}: ngày hoàn thành {s:?}: {}", e.vi()),
                        format!("{place}: completion date {s:?}: {e}"),
                    ));
                    continue;
                }
            },
        };
        if prog == Progress::Done && completed_on.is_none() {
            errs.push((
                format!("{place}: nhiệm vụ đã hoàn thành cần ngày hoàn thành"),
                format!("{place}: a task that is done needs its completion date"),
            ));
        }
        if let Some(c) = completed_on.as_deref() {
            if c < d.plan.period_from.as_str() || c > iso(today).as_str() {
                errs.push((
                    format!("{place}: ngày hoàn thành phải từ ngày bắt đầu kế hoạch đến hôm nay"),
                    format!("{place}: the completion date must lie between the plan's start and today"),
                ));
            }
        }
        if prog != Progress::Done && completed_on.is_some() {
            errs.push((
                format!("{place}: chỉ ghi ngày hoàn thành khi đã hoàn thành"),
                format!("{place}: a completion date only for a task that is done"),
            ));
        }
        if progress.iter().any(|x: &ProgressRow| x.task_id == t.id) {
            errs.push((format!("{place}: nhiệm vụ bị ghi hai lần"), format!("{place}: task given twice")));
        }
        progress.push(ProgressRow {
            report_id: d.report.id,
            task_id: t.id,
            progress: prog.code().into(),
            completed_on,
            note: p.note.trim().chars().take(4000).collect(),
        });
    }
    let before_reform = d.report.window_to.as_str() < REFORM_DAY;
    let mut values: Vec<ValueRow> = Vec::new();
    for (i, v) in input.values.iter().enumerate() {
        let place = format!("values[{}] {}", i + 1, v.indicator);
        let Some((ind, _)) = d.indicators.iter().find(|(x, _)| x.code == v.indicator.trim()) else {
            errs.push((
                format!("{place}: không phải chỉ tiêu do cơ quan {} báo cáo", d.report.agency_code),
                format!("{place}: not an indicator agency {} reports", d.report.agency_code),
            ));
            continue;
        };
        let unit = Unit::parse(&ind.unit).unwrap_or(Unit::Count);
        let value = match parse_value(&v.value, unit, ind.min_milli.map(Milli), ind.max_milli.map(Milli)) {
            Ok(m) => m,
            Err(e) => {
                errs.push((format!("{place}: {}", e.vi()), format!("{place}: {e}")));
                continue;
            }
        };
        let (level, code) = match v.commune.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => ("province", province.to_string()),
            Some(c) => {
                let ok = if before_reform {
                    g.legacy_communes().iter().any(|l| {
                        l.code == c && g.commune(&l.successor_code).is_some_and(|x| x.province_code == province)
                    })
                } else {
                    g.commune(c).is_some_and(|x| x.province_code == province)
                };
                if !ok {
                    errs.push(if before_reform {
                        (
                            format!("{place}: {c:?} không phải mã xã trước 01/07/2025 của tỉnh (kỳ này trước sắp xếp đơn vị hành chính)"),
                            format!("{place}: {c:?} is not a pre-2025 commune code of the province (this period is before the reform)"),
                        )
                    } else {
                        (
                            format!("{place}: {c:?} không phải xã/phường hiện hành của tỉnh"),
                            format!("{place}: {c:?} is not a current commune of the province"),
                        )
                    });
                    continue;
                }
                ("commune", c.to_string())
            }
        };
        if values.iter().any(|x| x.indicator_id == ind.id && x.unit_level == level && x.unit_code == code) {
            errs.push((
                format!("{place}: giá trị cho đơn vị {code} bị ghi hai lần"),
                format!("{place}: value for unit {code} given twice"),
            ));
            continue;
        }
        values.push(ValueRow {
            indicator_id: ind.id,
            report_id: d.report.id,
            period: d.report.period.clone(),
            period_end: d.report.window_to.clone(),
            unit_level: level.into(),
            unit_code: code,
            value_milli: value.0,
            note: v.note.trim().chars().take(2000).collect(),
        });
    }
    if !errs.is_empty() {
        let n = errs.len();
        return Err(denied(
            format!(
                "Báo cáo có {n} lỗi, chưa lưu:\n{}",
                errs.iter().map(|e| e.0.clone()).collect::<Vec<_>>().join("\n")
            ),
            format!(
                "The report has {n} errors; nothing was saved:\n{}",
                errs.iter().map(|e| e.1.clone()).collect::<Vec<_>>().join("\n")
            ),
        ));
    }
    Ok(ReportContent { summary: input.summary.trim().chars().take(8000).collect(), progress, values })
}

fn snapshot(c: &ReportContent) -> String {
    serde_json::json!({
        "summary": c.summary,
        "progress": c.progress,
        "values": c.values,
    })
    .to_string()
}

/// Submits a draft or a fixed returned report (it must say something about every task the
/// agency leads, or carry a value, to be worth reviewing).
pub async fn submit_report(
    store: &Store,
    ctx: &Ctx,
    id: i64,
    today: NaiveDate,
    at: Option<String>,
) -> Result<(), AppError> {
    let d = editable_report(store, ctx, id, today).await?;
    let missing: Vec<&str> = d.tasks.iter().filter(|(_, p)| p.is_none()).map(|(t, _)| t.code.as_str()).collect();
    if !missing.is_empty() {
        return Err(denied(
            format!("Chưa báo cáo tiến độ các nhiệm vụ: {}", missing.join(", ")),
            format!("No progress given for tasks: {}", missing.join(", ")),
        ));
    }
    if d.tasks.is_empty() && d.indicators.iter().all(|(_, v)| v.is_empty()) {
        return Err(denied(
            "Báo cáo trống: chưa có tiến độ hay số liệu nào",
            "The report is empty: no progress and no values",
        ));
    }
    let content = content_of(&d);
    let audit = ctx.audit("plan.report.submit", "plan_report", Some(id.to_string()));
    let at = at.unwrap_or_else(store::now_text);
    if !store.submit_report(id, &ctx.actor(), &at, &snapshot(&content), &audit).await? {
        return Err(not_editable(&d.report));
    }
    Ok(())
}

/// The plan owner's reviewer: `plans.review` in the agency that owns the plan.
fn reviewer<'a>(ctx: &'a Ctx, plan: &PlanRow) -> Result<Option<&'a crate::services::authz::Principal>, AppError> {
    let p = ctx.authorize(perm::PLANS_REVIEW)?;
    if let Some(p) = p {
        if p.agency.as_deref() != Some(plan.owner_agency.as_str()) {
            return Err(AppError::Forbidden(format!(
                "only the plan owner ({}) reviews its reports",
                plan.owner_agency
            )));
        }
    }
    Ok(p)
}

/// Accepts (locks) or returns a submitted report; a return needs the comments.
pub async fn decide_report(
    store: &Store,
    ctx: &Ctx,
    id: i64,
    accept: bool,
    comment: &str,
    today: NaiveDate,
    at: Option<String>,
) -> Result<(), AppError> {
    let d = report(store, ctx, id, today).await?;
    if let Some(p) = reviewer(ctx, &d.plan)? {
        // the maker does not check: whoever opened or submitted the report does not decide it
        // (the owner agency's own reports are decided by another of its officers)
        if d.report.submitted_by.as_deref() == Some(p.username.as_str()) || d.report.created_by == p.username {
            return Err(denied(
                "Người lập hoặc gửi báo cáo không tự tiếp nhận hay trả lại báo cáo đó",
                "A report is not decided by the officer who opened or submitted it",
            ));
        }
    }
    if !accept && d.closed {
        return Err(denied(
            "Kỳ báo cáo đã khóa sổ: không trả lại được, cơ quan sẽ không sửa được nữa",
            "The period is closed: a returned report could no longer be fixed",
        ));
    }
    if d.report.status != "submitted" {
        let (vi, en) = report_status_label(&d.report.status);
        return Err(denied(
            format!("Chỉ báo cáo đã gửi mới được tiếp nhận hoặc trả lại (báo cáo đang \"{vi}\")"),
            format!("Only a submitted report can be accepted or returned (it is {en})"),
        ));
    }
    let comment = comment.trim();
    if !accept && comment.is_empty() {
        return Err(AppError::Field {
            field: "comment",
            vi: "trả lại báo cáo cần ghi rõ ý kiến để cơ quan sửa".into(),
            en: "returning a report needs comments for the agency to act on".into(),
        });
    }
    let action = if accept { "plan.report.accept" } else { "plan.report.return" };
    let mut audit = ctx.audit(action, "plan_report", Some(id.to_string()));
    audit.detail = Some(comment.chars().take(500).collect());
    let content = content_of(&d);
    let decision = if accept { Decision::Accept } else { Decision::Return };
    let at = at.unwrap_or_else(store::now_text);
    if !store.decide_report(id, decision, comment, &ctx.actor(), &at, &snapshot(&content), &audit).await? {
        return Err(denied("Báo cáo vừa được người khác xử lý", "The report was just decided by someone else"));
    }
    Ok(())
}

/// Closes a report period of a plan (the plan owner, when compiling): a period of a kind the
/// plan uses, within the plan, whose window has ended, with no report waiting for a decision or
/// being fixed.
pub async fn close_period(
    store: &Store,
    ctx: &Ctx,
    plan_id: i64,
    period: &str,
    today: NaiveDate,
) -> Result<bool, AppError> {
    let p = ctx.authorize(perm::PLANS_MANAGE)?;
    let plan = store.plan(plan_id).await?.ok_or_else(|| AppError::NotFound(format!("plan {plan_id}")))?;
    if let Some(p) = p {
        if p.agency.as_deref() != Some(plan.owner_agency.as_str()) {
            return Err(AppError::Forbidden(format!("only the plan owner ({}) closes its periods", plan.owner_agency)));
        }
    }
    let bad = |vi: String, en: String| AppError::Field { field: "period", vi, en };
    let period: ReportPeriod = period.trim().parse().map_err(|_| {
        bad(format!("kỳ báo cáo {period:?} không hợp lệ"), format!("report period {period:?} is not valid"))
    })?;
    let kinds: Vec<PeriodKind> = plan.report_kinds.split(',').filter_map(PeriodKind::parse).collect();
    if !kinds.contains(&period.kind) {
        return Err(bad(
            "kế hoạch không quy định kỳ báo cáo này".into(),
            "the plan has no reports of this kind".into(),
        ));
    }
    if date(&plan.period_from).is_some_and(|f| period.end() < f)
        || date(&plan.period_to).is_some_and(|t| period.start() > t)
    {
        return Err(bad(
            "kỳ báo cáo nằm ngoài thời gian thực hiện kế hoạch".into(),
            "the period is outside the plan's period".into(),
        ));
    }
    if period.end() >= today {
        return Err(bad(
            format!(
                "kỳ {} chưa kết thúc (chốt số liệu {})",
                period.label_vi(),
                domain::calendar::format_date(period.end())
            ),
            format!("{} has not ended (cut-off {})", period.label_en(), domain::calendar::format_date(period.end())),
        ));
    }
    let pending: Vec<String> = store
        .plan_reports(plan_id, None)
        .await?
        .into_iter()
        .filter(|r| r.period == period.to_string() && matches!(r.status.as_str(), "submitted" | "returned"))
        .map(|r| format!("#{} {}", r.id, r.agency_code))
        .collect();
    if !pending.is_empty() {
        return Err(denied(
            format!("Còn báo cáo chờ tiếp nhận hoặc đang sửa: {}", pending.join(", ")),
            format!("Reports still awaiting a decision or being fixed: {}", pending.join(", ")),
        ));
    }
    let audit = ctx.audit("plan.period.close", "plan", Some(format!("{plan_id}:{period}")));
    Ok(store.close_period(plan_id, &period.to_string(), &ctx.actor(), &audit).await?)
}

pub fn report_status_label(s: &str) -> (&'static str, &'static str) {
    match s {
        "draft" => ("Đang soạn", "draft"),
        "submitted" => ("Đã gửi, chờ tiếp nhận", "submitted, awaiting review"),
        "returned" => ("Bị trả lại", "returned"),
        "accepted" => ("Đã tiếp nhận (khóa)", "accepted (locked)"),
        _ => ("", ""),
    }
}

pub fn completeness_label(s: &str) -> (&'static str, &'static str) {
    match s {
        "on_time" => ("Đúng hạn", "On time"),
        "late" => ("Trễ hạn", "Late"),
        "missing" => ("Chưa nộp (quá hạn)", "Missing (past due)"),
        "pending" => ("Chưa đến hạn", "Not yet due"),
        "draft" => ("Đang soạn", "Draft"),
        "not_expected" => ("—", "—"),
        _ => ("", ""),
    }
}

// ---------- compiled report (XLSX) ----------

/// The compiled implementation report: the same figures as the dashboard, one sheet each.
pub fn dashboard_xlsx(d: &Dashboard, vi: bool) -> Result<Vec<u8>, AppError> {
    use rust_xlsxwriter::{Format, Workbook};
    let x = |e: rust_xlsxwriter::XlsxError| AppError::Internal(format!("xlsx: {e}"));
    let tr = |a: &'static str, b: &'static str| if vi { a } else { b };
    let agency = |c: &str| {
        d.view.agencies.get(c).map_or_else(|| c.to_string(), |a| if vi { a.vi.clone() } else { a.en.clone() })
    };
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let header = |ws: &mut rust_xlsxwriter::Worksheet, cols: &[&str]| -> Result<(), rust_xlsxwriter::XlsxError> {
        for (i, c) in cols.iter().enumerate() {
            ws.write_string_with_format(0, i as u16, *c, &bold)?;
        }
        Ok(())
    };
    {
        let ws = wb.add_worksheet().set_name(tr("TongHop", "Summary")).map_err(x)?;
        let p = &d.view.plan;
        let rows: Vec<(&str, String)> = vec![
            (tr("Kế hoạch", "Plan"), format!("{} — {}", p.number, p.title)),
            (tr("Cơ quan theo dõi", "Owner"), agency(&p.owner_agency)),
            (tr("Số liệu đến ngày", "As of"), domain::calendar::format_date(date(&d.view.today).unwrap_or_default())),
        ];
        for (i, (k, v)) in rows.iter().enumerate() {
            ws.write_string_with_format(i as u32, 0, *k, &bold).map_err(x)?;
            ws.write_string(i as u32, 1, v).map_err(x)?;
        }
        for (i, (s, n)) in d.status_counts.iter().enumerate() {
            let (a, b) = s.label();
            ws.write_string(i as u32 + 4, 0, tr(a, b)).map_err(x)?;
            ws.write_number(i as u32 + 4, 1, *n as f64).map_err(x)?;
        }
        ws.set_column_width(0, 30).map_err(x)?;
        ws.set_column_width(1, 100).map_err(x)?;
    }
    {
        let ws = wb.add_worksheet().set_name(tr("NhiemVu", "Tasks")).map_err(x)?;
        header(
            ws,
            &[
                tr("Mã", "Code"),
                tr("Nội dung", "Content"),
                tr("Chủ trì", "Lead"),
                tr("Thời hạn", "Deadline"),
                tr("Hạn kỳ này", "Due"),
                tr("Tình trạng", "Status"),
                tr("Ngày hoàn thành", "Done on"),
                tr("Tiến độ gần nhất", "Latest progress"),
            ],
        )
        .map_err(x)?;
        for (i, t) in d.view.tasks.iter().enumerate() {
            let r = i as u32 + 1;
            let (a, b) = t.state.status.label();
            let cells = [
                t.code.clone(),
                t.content.clone(),
                agency(&t.lead),
                if vi { t.deadline.label_vi() } else { t.deadline.label_en() },
                t.state.due.map(domain::calendar::format_date).unwrap_or_default(),
                tr(a, b).to_string(),
                t.state.done_on.map(domain::calendar::format_date).unwrap_or_default(),
                t.latest_note.clone(),
            ];
            for (c, v) in cells.iter().enumerate() {
                ws.write_string(r, c as u16, v).map_err(x)?;
            }
        }
        ws.set_column_width(1, 80).map_err(x)?;
    }
    {
        let ws = wb.add_worksheet().set_name(tr("CoQuan", "Agencies")).map_err(x)?;
        header(
            ws,
            &[
                tr("Hạng", "Rank"),
                tr("Cơ quan", "Agency"),
                tr("Số nhiệm vụ", "Tasks"),
                tr("Quá hạn", "Overdue"),
                tr("Tỷ lệ quá hạn (%)", "Overdue share (%)"),
                tr("Hoàn thành đúng hạn", "Done on time"),
                tr("Hoàn thành quá hạn", "Done late"),
                tr("Đang thực hiện", "In progress"),
                tr("Chưa đến hạn", "Not yet due"),
            ],
        )
        .map_err(x)?;
        for (i, s) in d.by_agency.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_number(r, 0, s.rank as f64).map_err(x)?;
            ws.write_string(r, 1, agency(&s.agency)).map_err(x)?;
            for (c, n) in [s.total, s.overdue].iter().enumerate() {
                ws.write_number(r, c as u16 + 2, *n as f64).map_err(x)?;
            }
            ws.write_string(r, 4, Milli(s.overdue_per_mille * 100).display_vi()).map_err(x)?;
            for (c, n) in [s.done_on_time, s.done_late, s.in_progress, s.not_yet_due].iter().enumerate() {
                ws.write_number(r, c as u16 + 5, *n as f64).map_err(x)?;
            }
        }
    }
    {
        let ws = wb.add_worksheet().set_name(tr("ChiTieu", "Indicators")).map_err(x)?;
        header(
            ws,
            &[
                tr("Mã", "Code"),
                tr("Chỉ tiêu", "Indicator"),
                tr("Đơn vị", "Unit"),
                tr("Mục tiêu của kỳ", "Target for the period"),
                tr("Thực hiện", "Actual"),
                tr("Kỳ số liệu", "Period"),
                tr("Đánh giá", "Assessment"),
            ],
        )
        .map_err(x)?;
        for (i, s) in d.scorecard.iter().enumerate() {
            let r = i as u32 + 1;
            let light = s
                .light
                .map(|l| {
                    let (a, b) = l.label();
                    tr(a, b).to_string()
                })
                .unwrap_or_else(|| tr("Không đặt mục tiêu", "No target").into());
            let cells = [
                s.indicator.code.clone(),
                if vi { s.indicator.name_vi.clone() } else { s.indicator.name_en.clone() },
                if vi { s.unit.symbol_vi() } else { s.unit.symbol_en() }.to_string(),
                s.target.map(|t| t.display_vi()).unwrap_or_default(),
                s.actual.map(|t| t.display_vi()).unwrap_or_default(),
                s.actual_period.clone(),
                light,
            ];
            for (c, v) in cells.iter().enumerate() {
                ws.write_string(r, c as u16, v).map_err(x)?;
            }
        }
        ws.set_column_width(1, 70).map_err(x)?;
    }
    {
        let ws = wb.add_worksheet().set_name(tr("BaoCao", "Reporting")).map_err(x)?;
        let mut cols: Vec<&str> = vec![tr("Cơ quan", "Agency")];
        for p in &d.periods {
            cols.push(p.as_str());
        }
        header(ws, &cols).map_err(x)?;
        for (i, row) in d.completeness.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_string(r, 0, agency(&row.agency)).map_err(x)?;
            for (c, cell) in row.cells.iter().enumerate() {
                let (a, b) = completeness_label(&cell.state);
                ws.write_string(r, c as u16 + 1, tr(a, b)).map_err(x)?;
            }
        }
    }
    wb.save_to_buffer().map_err(x)
}
