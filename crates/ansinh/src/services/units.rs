//! Administrative units as the pages and the API show them.

use domain::text::search_key;
use domain::Gazetteer;
use serde::Serialize;
use store::{CommuneRow, Store};

use crate::error::AppError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommuneView {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub predecessor_count: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProvinceOverview {
    pub code: String,
    pub name: String,
    /// All communes of the province.
    pub commune_total: i64,
    pub xa: usize,
    pub phuong: usize,
    pub dac_khu: usize,
    /// The filter applied, if any.
    pub query: Option<String>,
    /// Communes matching the filter (all when there is none), in alphabetical order.
    pub communes: Vec<CommuneView>,
    /// Pre-2025 communes whose name matches the filter, with the commune they are in today.
    pub former_units: Vec<FormerUnit>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FormerUnit {
    pub old_code: String,
    pub old_name: String,
    pub new_code: String,
    pub new_name: String,
    /// The old unit was split; only part of it is in this commune.
    pub partial: bool,
}

/// At most this many former units are listed for one query.
const MAX_FORMER: usize = 50;

/// Pre-2025 units of the province whose folded name contains the folded query.
/// A full pre-reform address (`Ấp 3, xã Tiến Hưng, TP Đồng Xoài`) is narrowed to its commune.
fn former_units(g: &Gazetteer, province_code: &str, query: &str) -> Vec<FormerUnit> {
    let commune_part = g.map_legacy_address(query).map(|m| m.old_commune);
    let key = search_key(commune_part.as_deref().unwrap_or(query));
    g.legacy_communes()
        .iter()
        .filter(|l| search_key(&l.name).contains(&key))
        .filter_map(|l| {
            let c = g.commune(&l.successor_code).filter(|c| c.province_code == province_code)?;
            Some(FormerUnit {
                old_code: l.code.clone(),
                old_name: l.name.clone(),
                new_code: c.code.clone(),
                new_name: c.name.clone(),
                partial: l.partial,
            })
        })
        .take(MAX_FORMER)
        .collect()
}

/// Maximum length of a search query (longer input is refused, not truncated).
pub const MAX_QUERY_CHARS: usize = 100;

pub async fn province_overview(
    store: &Store,
    g: &Gazetteer,
    province_code: &str,
    query: Option<&str>,
) -> Result<ProvinceOverview, AppError> {
    let province = store
        .province(province_code)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("province {province_code} does not exist")))?;
    let query = query.map(str::trim).filter(|q| !q.is_empty()).map(str::to_string);
    if let Some(q) = &query {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(AppError::field(
                "q",
                format!("tối đa {MAX_QUERY_CHARS} ký tự"),
                format!("at most {MAX_QUERY_CHARS} characters"),
            ));
        }
    }
    let all = store.communes_of(province_code).await?;
    let count = |k: &str| all.iter().filter(|c| c.kind == k).count();
    let (xa, phuong, dac_khu) = (count("xa"), count("phuong"), count("dac_khu"));
    let shown: Vec<CommuneRow> = match &query {
        Some(q) => store.search_communes(q, Some(province_code), 1000).await?,
        None => all,
    };
    let former = query.as_deref().map(|q| former_units(g, province_code, q)).unwrap_or_default();
    Ok(ProvinceOverview {
        code: province.code,
        name: province.name,
        commune_total: province.commune_count,
        xa,
        phuong,
        dac_khu,
        query,
        communes: shown
            .into_iter()
            .map(|c| CommuneView { code: c.code, name: c.name, kind: c.kind, predecessor_count: c.predecessor_count })
            .collect(),
        former_units: former,
    })
}

/// A commune's workspace: what an officer of that commune works on. Later issues add
/// its beneficiaries, payment lists and complaints here.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CommuneWorkspace {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub province_code: String,
    /// Pre-2025 units it was formed from.
    pub predecessors: Vec<Predecessor>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Predecessor {
    pub code: String,
    pub name: String,
    pub partial: bool,
}

/// Opens a commune's workspace: needs `commune.workspace` and the commune in the
/// caller's area (an out-of-area commune is refused whether or not it exists).
pub async fn commune_workspace(
    store: &Store,
    g: &Gazetteer,
    ctx: &crate::services::authz::Ctx,
    code: &str,
) -> Result<CommuneWorkspace, AppError> {
    let p = ctx.require(crate::services::authz::perm::COMMUNE_WORKSPACE)?;
    p.require_commune(code)?;
    let c = store.commune(code).await?.ok_or_else(|| AppError::NotFound(format!("commune {code}")))?;
    let predecessors = g
        .predecessors_of(code)
        .into_iter()
        .map(|l| Predecessor { code: l.code.clone(), name: l.name.clone(), partial: l.partial })
        .collect();
    Ok(CommuneWorkspace { code: c.code, name: c.name, kind: c.kind, province_code: c.province_code, predecessors })
}

/// The communes a principal works in: their assigned communes, or none for
/// province-wide roles (who reach every commune from the list).
pub async fn my_communes(store: &Store, scope: &crate::services::authz::Scope) -> Result<Vec<CommuneView>, AppError> {
    let mut out = Vec::new();
    if let crate::services::authz::Scope::Communes(codes) = scope {
        for code in codes {
            if let Some(c) = store.commune(code).await? {
                out.push(CommuneView {
                    code: c.code,
                    name: c.name,
                    kind: c.kind,
                    predecessor_count: c.predecessor_count,
                });
            }
        }
    }
    Ok(out)
}
