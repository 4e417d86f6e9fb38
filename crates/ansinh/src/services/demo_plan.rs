//! The demo's plan monitoring: the seed plan (Kế hoạch 230/KH-UBND) imported, and a
//! deterministic history of agencies' reports up to today — most on time, some late, one
//! agency missing a period, tasks done on time, done late and overdue, indicator values for
//! the province and, in annual reports, for the communes (the 2024 ones for the pre-2025
//! communes). The latest six-monthly report of Sở Y tế is left for the demo's reporter.

use chrono::{Datelike, NaiveDate};

use domain::plan::{Milli, PeriodKind, ReportPeriod};
use domain::Gazetteer;
use store::Store;

use crate::error::AppError;
use crate::services::authz::Ctx;
use crate::services::plans::{self, ProgressInput, ReportInput, ValueInput};

/// The agency whose latest six-monthly report the demo leaves to its reporter (`baocao`).
pub const DEMO_REPORTER_AGENCY: &str = "SO_Y_TE";

fn at(d: NaiveDate, hour: u32) -> String {
    format!("{}T{hour:02}:00:00.000000Z", d.format("%Y-%m-%d"))
}

/// A small deterministic hash for demo variation.
fn h(s: &str) -> u64 {
    s.bytes().fold(1469598103934665603u64, |a, b| (a ^ u64::from(b)).wrapping_mul(1099511628211))
}

/// Value of a reported indicator for a period: its baseline moving towards the 2030 target at
/// a per-indicator pace (some on track, some not), with small commune differences.
fn value_for(code: &str, baseline: i64, target: i64, year: i32, half: bool, commune: Option<&str>) -> i64 {
    let pace = match code {
        "BHYT" => 1.1,
        "THAT_NGHIEP" => 1.2,
        "NCC_MUC_SONG" => 0.93,
        "BHXH" => 0.6,
        "BHTN" => 0.95,
        _ => 0.8,
    };
    let t = f64::from(year - 2023) - if half { 0.5 } else { 0.0 };
    let v = baseline as f64 + (target - baseline) as f64 * pace * t / 7.0;
    let jitter = commune.map_or(0.0, |c| ((h(c) % 41) as f64 - 20.0) * 60.0);
    // thousandths, to one decimal of a percent
    let v = ((v + jitter) / 100.0).round() * 100.0;
    (v as i64).clamp(0, 100_000)
}

/// Loads the seed plan and its report history. Returns the plan id.
pub async fn load(store: &Store, g: &Gazetteer, province: &str, today: NaiveDate) -> Result<i64, AppError> {
    let op = Ctx::cli();
    let (id, _, _) =
        plans::import(store, g, &op, province, crate::services::plan_file::SEED_PLAN_TOML.as_bytes(), false).await?;
    let view = plans::plan(store, &op, id, today).await?;
    let cal = plans::calendar()?;
    let from = NaiveDate::parse_from_str(&view.plan.period_from, "%Y-%m-%d").unwrap_or(today);
    let to = NaiveDate::parse_from_str(&view.plan.period_to, "%Y-%m-%d").unwrap_or(today);
    let mut periods: Vec<ReportPeriod> = view
        .report_kinds
        .iter()
        .flat_map(|k| ReportPeriod::ending_within(*k, from, to))
        .filter(|p| cal.add_working_days(p.end(), view.plan.report_due_days as u32) < today)
        .collect();
    periods.sort_by_key(|p| (p.end(), p.kind));
    let latest_half = periods.iter().filter(|p| p.kind == PeriodKind::SixMonthly).map(|p| p.to_string()).next_back();
    let assign = store.plan_task_agencies(id).await?;
    let legacy: Vec<String> = g
        .legacy_communes()
        .iter()
        .filter(|l| g.commune(&l.successor_code).is_some_and(|c| c.province_code == province))
        .map(|l| l.code.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let communes: Vec<String> = g.communes_of(province).map(|c| c.code.clone()).collect();
    for p in &periods {
        let end = p.end();
        let end_s = end.format("%Y-%m-%d").to_string();
        let due = cal.add_working_days(end, view.plan.report_due_days as u32);
        let mut agencies: Vec<String> = view
            .tasks
            .iter()
            .filter_map(|t| {
                assign
                    .iter()
                    .find(|a| {
                        a.task_id == t.id
                            && a.role == "lead"
                            && a.valid_from <= end_s
                            && a.valid_to.as_deref().is_none_or(|x| x >= end_s.as_str())
                    })
                    .map(|a| a.agency_code.clone())
            })
            .chain(view.indicators.iter().filter_map(|i| i.agency_code.clone()))
            .collect();
        agencies.sort();
        agencies.dedup();
        for agency in agencies {
            let key = format!("{agency}{p}");
            if agency == DEMO_REPORTER_AGENCY && Some(p.to_string()) == latest_half {
                continue;
            }
            // the Military Command missed its 2025 six-monthly report
            if agency == "BCHQS" && p.to_string() == "2025-H1" {
                continue;
            }
            let rid = plans::create_report(store, &op, id, &p.to_string(), Some(&agency), today).await?;
            let detail = plans::report(store, &op, rid, today).await?;
            let mut input = ReportInput {
                summary: format!("Báo cáo {} của {agency} về kết quả thực hiện Kế hoạch 230/KH-UBND.", p.label_vi()),
                ..Default::default()
            };
            for (t, _) in &detail.tasks {
                let (progress, done) = task_progress(&t.code, &t.deadline, *p, end);
                input.progress.push(ProgressInput {
                    task: t.code.clone(),
                    progress: progress.into(),
                    completed_on: done.map(|d| d.format("%d/%m/%Y").to_string()),
                    note: progress_note(progress).into(),
                });
            }
            for (ind, _) in &detail.indicators {
                let (Some(b), Some(t)) = (ind.baseline_milli, target_2030(store, id, ind.id).await?) else { continue };
                let half = p.kind == PeriodKind::SixMonthly;
                let v = value_for(&ind.code, b, t, p.year, half, None);
                input.values.push(ValueInput {
                    indicator: ind.code.clone(),
                    commune: None,
                    value: Milli(v).display_vi(),
                    note: String::new(),
                });
                if p.kind == PeriodKind::Annual && ind.code == "BHYT" {
                    let units =
                        if end < NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or(end) { &legacy } else { &communes };
                    for c in units {
                        input.values.push(ValueInput {
                            indicator: ind.code.clone(),
                            commune: Some(c.clone()),
                            value: Milli(value_for(&ind.code, b, t, p.year, false, Some(c))).display_vi(),
                            note: String::new(),
                        });
                    }
                }
            }
            plans::save_report(store, g, &op, rid, &input, today, province).await?;
            // one report in five late, by 2–9 working days; the rest 1–3 days before the deadline
            let late = h(&key).is_multiple_of(5);
            let submitted = if late {
                cal.add_working_days(due, 2 + (h(&key) % 8) as u32)
            } else {
                due - chrono::Duration::days(1 + (h(&key) % 3) as i64)
            };
            let submitted = submitted.min(today);
            plans::submit_report(store, &op, rid, today, Some(at(submitted, 9))).await?;
            // Sở Nội vụ accepts within a few days; a first 2025 report of BHXH was returned once
            let decided = cal.add_working_days(submitted, 2).min(today);
            if agency == "BHXH" && p.to_string() == "2025-H1" {
                plans::decide_report(
                    store,
                    &op,
                    rid,
                    false,
                    "Đề nghị bổ sung số liệu tỷ lệ tham gia bảo hiểm thất nghiệp theo số liệu chốt ngày 14/6.",
                    today,
                    Some(at(decided, 10)),
                )
                .await?;
                plans::save_report(store, g, &op, rid, &input, today, province).await?;
                let again = cal.add_working_days(decided, 1).min(today);
                plans::submit_report(store, &op, rid, today, Some(at(again, 15))).await?;
                let accepted = cal.add_working_days(again, 1).min(today);
                plans::decide_report(store, &op, rid, true, "", today, Some(at(accepted, 16))).await?;
            } else {
                plans::decide_report(store, &op, rid, true, "", today, Some(at(decided, 14))).await?;
            }
        }
    }
    // periods whose deadline passed more than two months ago are closed
    for p in &periods {
        let due = cal.add_working_days(p.end(), view.plan.report_due_days as u32);
        if today.signed_duration_since(due).num_days() > 60 && Some(p.to_string()) != latest_half {
            plans::close_period(store, &op, id, &p.to_string(), today).await?;
        }
    }
    Ok(id)
}

async fn target_2030(store: &Store, plan: i64, indicator: i64) -> Result<Option<i64>, AppError> {
    Ok(store
        .indicator_targets(plan)
        .await?
        .into_iter()
        .filter(|t| t.indicator_id == indicator && t.unit_level == "province")
        .max_by_key(|t| t.year)
        .map(|t| t.target_milli))
}

/// What the demo reports about a task in a period ending on `end`.
fn task_progress(
    code: &str,
    deadline: &domain::plan::Deadline,
    p: ReportPeriod,
    end: NaiveDate,
) -> (&'static str, Option<NaiveDate>) {
    use domain::plan::Deadline;
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
    match (code, deadline) {
        // data of people with merit completed on time (due 31/12/2024)
        ("II.3.b.3", _) if end >= d(2024, 12, 14).unwrap_or(end) => ("done", d(2024, 12, 10)),
        // the database linkage finished six weeks late (due 30/06/2025)
        ("II.2.c.1", _) if end >= d(2025, 12, 14).unwrap_or(end) => ("done", d(2025, 8, 15)),
        // the martyrs' records: done late (due 31/12/2025)
        ("II.3.b.2", _) if end >= d(2026, 6, 14).unwrap_or(end) => ("done", d(2026, 3, 20)),
        // extending the beneficiaries (due 31/12/2025): still in progress → overdue
        (_, Deadline::On(_)) => ("in_progress", None),
        (_, Deadline::Continuous) => ("in_progress", None),
        // recurring: the annual report says done (one agency late in 2025), six-monthly in progress
        (_, Deadline::Every(_)) if p.kind == PeriodKind::Annual => {
            if code == "II.4.a.1" && p.year == 2025 {
                ("in_progress", None)
            } else {
                ("done", NaiveDate::from_ymd_opt(p.year, 12, 5 + (h(code) % 5) as u32))
            }
        }
        (_, Deadline::Every(PeriodKind::SixMonthly)) => ("done", NaiveDate::from_ymd_opt(end.year(), 6, 1)),
        _ => ("in_progress", None),
    }
}

fn progress_note(progress: &str) -> &'static str {
    match progress {
        "done" => "Đã hoàn thành theo kế hoạch; báo cáo kết quả đính kèm.",
        "in_progress" => "Đang triển khai; tiến độ đạt khoảng 60% khối lượng.",
        _ => "Chưa triển khai.",
    }
}
