//! The budget simulation page (provincial officers, leaders, inspectors): a policy change
//! against the baseline over the whole registry, with a chart drawn as inline SVG.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::error::AppError;
use crate::http::extract::Req;
use crate::http::i18n::Key;
use crate::http::ui::{fail, layout, render, Layout};
use crate::services::authz::perm;
use crate::services::entitlements::{self, Override, Simulation};
use crate::services::AppState;

/// What can be changed, with its label. (Not the social pension: the registry does not record
/// who has a pension, so a registry run does not assess it and a change would show nothing.)
pub const CHANGEABLE: [(&str, &str, &str); 3] = [
    (
        "muc_chuan",
        "Mức chuẩn người có công (các mức Phụ lục I–III theo tỷ lệ)",
        "Standard level, people with merit (Appendices I–III in proportion)",
    ),
    ("muc_chuan_tro_giup", "Mức chuẩn trợ giúp xã hội", "Social-assistance standard level"),
    ("luong_co_so", "Lương cơ sở (trợ cấp mai táng)", "Base salary (funeral allowance)"),
];

#[derive(Debug, Default, Deserialize)]
pub struct SimQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub name: Option<String>,
    pub value: Option<String>,
    pub change_from: Option<String>,
    pub commune: Option<String>,
    /// Added group: minimum age, poor households only, coefficient (from `change_from`).
    pub group_age: Option<String>,
    pub group_poor: Option<String>,
    pub group_coefficient: Option<String>,
}

/// One bar pair of the chart.
pub struct Bar {
    pub label: String,
    pub x: i64,
    pub base_h: i64,
    pub scen_h: i64,
}

#[derive(Template)]
#[template(path = "simulate.html")]
struct SimulatePage {
    l: Layout,
    q: SimQuery,
    options: Vec<(&'static str, &'static str)>,
    sim: Option<Simulation>,
    /// (key, label, baseline, scenario) per dimension
    months: Vec<(String, i64, i64)>,
    items: Vec<(String, i64, i64)>,
    communes: Vec<(String, i64, i64)>,
    bars: Vec<Bar>,
    error: String,
}

const CHART_H: i64 = 160;

pub async fn page(State(state): State<AppState>, req: Req, Query(q): Query<SimQuery>) -> Response {
    if let Err(e) = req.ctx.require(perm::DASHBOARDS_READ) {
        return fail(e, &req);
    }
    let lang = req.lang;
    let options = CHANGEABLE
        .iter()
        .map(|(k, vi, en)| (*k, if lang == crate::http::i18n::Lang::Vi { *vi } else { *en }))
        .collect();
    let mut page = SimulatePage {
        l: layout(&state, &req),
        q: SimQuery::default(),
        options,
        sim: None,
        months: Vec::new(),
        items: Vec::new(),
        communes: Vec::new(),
        bars: Vec::new(),
        error: String::new(),
    };
    if q.from.is_some() {
        match run(&state, &q).await {
            Ok(sim) => fill(&mut page, &state, sim),
            Err(e @ (AppError::Field { .. } | AppError::Invalid(_))) => page.error = e.message(lang),
            Err(e) => return fail(e, &req),
        }
    }
    page.q = q;
    render(&page, &req)
}

async fn run(state: &AppState, q: &SimQuery) -> Result<Simulation, AppError> {
    let month = |field: &'static str, v: &Option<String>| {
        v.as_deref()
            .unwrap_or("")
            .parse::<domain::Month>()
            .map_err(|e| AppError::field(field, format!("tháng không hợp lệ: {}", e.vi()), e.to_string()))
    };
    let (from, to) = (month("from", &q.from)?, month("to", &q.to)?);
    let mut overrides = Vec::new();
    if let (Some(name), Some(value)) =
        (q.name.as_deref().filter(|n| !n.is_empty()), q.value.as_deref().filter(|v| !v.trim().is_empty()))
    {
        let value = domain::Money::parse_vnd(value)
            .map_err(|e| AppError::field("value", format!("số tiền không hợp lệ: {e}"), e.to_string()))?;
        let change_from =
            q.change_from.clone().filter(|c| !c.is_empty()).or_else(|| q.from.clone()).unwrap_or_default();
        let change_from = month("change_from", &Some(change_from))?;
        overrides.push(Override { name: name.to_string(), value: value.dong(), from: entitlements::iso(change_from) });
    }
    let commune = q.commune.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let group = match (
        q.group_age.as_deref().map(str::trim).filter(|v| !v.is_empty()),
        q.group_coefficient.as_deref().map(str::trim).filter(|v| !v.is_empty()),
    ) {
        (Some(age), Some(coefficient)) => {
            let min_age = age
                .parse::<i32>()
                .map_err(|_| AppError::field("group_age", "tuổi là số nguyên", "the age is a whole number"))?;
            let from = q.change_from.clone().filter(|c| !c.is_empty()).or_else(|| q.from.clone()).unwrap_or_default();
            let from = month("change_from", &Some(from))?;
            Some(entitlements::AddedGroup {
                min_age,
                poor_only: q.group_poor.as_deref() == Some("on"),
                coefficient: coefficient.to_string(),
                from: entitlements::iso(from),
            })
        }
        (None, None) => None,
        _ => {
            return Err(AppError::field(
                "group_age",
                "nhóm bổ sung cần cả tuổi và hệ số",
                "an added group needs an age and a coefficient",
            ))
        }
    };
    entitlements::simulate(&state.store, &state.packs, commune, from, to, &overrides, group.as_ref()).await
}

fn fill(page: &mut SimulatePage, state: &AppState, sim: Simulation) {
    let rows = entitlements::simulation_rows(&sim);
    for (dim, key, b, s) in rows {
        match dim {
            "month" => page.months.push((key, b, s)),
            "item" => page.items.push((entitlements::item_name(&state.packs, &key), b, s)),
            "commune" => {
                let name = state.gazetteer.commune(&key).map_or(key.clone(), |c| format!("{} ({key})", c.name));
                page.communes.push((name, b, s));
            }
            _ => {}
        }
    }
    page.items.sort_by(|a, b| (b.2 - b.1).cmp(&(a.2 - a.1)).then(b.2.cmp(&a.2)));
    page.communes.sort_by(|a, b| (b.2 - b.1).cmp(&(a.2 - a.1)).then(a.0.cmp(&b.0)));
    page.communes.truncate(15);
    let max = page.months.iter().map(|(_, b, s)| (*b).max(*s)).max().unwrap_or(0).max(1);
    page.bars = page
        .months
        .iter()
        .enumerate()
        .map(|(i, (m, b, s))| Bar {
            label: m.get(5..7).unwrap_or(m).to_string(),
            x: 40 + i as i64 * 44,
            base_h: b * CHART_H / max,
            scen_h: s * CHART_H / max,
        })
        .collect();
    page.sim = Some(sim);
}
