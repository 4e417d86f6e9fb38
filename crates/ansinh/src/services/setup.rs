//! Opening the database at start: connect, migrate, load reference data; and the demo.

use domain::admin::DONG_NAI;
use domain::Gazetteer;
use store::{DatabaseUrl, LoadOutcome, Store};

use crate::config::Config;
use crate::error::AppError;

pub const META_DEMO: &str = "demo.province";
pub const META_PROVINCE: &str = "installation.province";

pub fn gazetteer() -> Result<Gazetteer, AppError> {
    Gazetteer::embedded().map_err(|e| AppError::Internal(format!("compiled-in administrative data: {e}")))
}

/// Connects, applies pending migrations and (re)loads reference data when its version
/// changed. What `serve`, `demo` and `migrate` all do first.
pub async fn open_store(url: &DatabaseUrl, config: &Config, g: &Gazetteer) -> Result<Store, AppError> {
    let store = Store::connect(url, &config.store_options()).await?;
    let report = store.migrate().await?;
    if report.applied_now > 0 {
        tracing::info!(applied = report.applied_now, version = report.latest_version, "database migrations applied");
    }
    match store.load_reference_data(g, false).await? {
        LoadOutcome::Loaded(c) => tracing::info!(
            provinces = c.provinces,
            communes = c.communes,
            legacy = c.legacy_communes,
            "reference data loaded"
        ),
        LoadOutcome::AlreadyCurrent(_) => tracing::debug!("reference data current"),
    }
    Ok(store)
}

/// Outcome of preparing the demo database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoOutcome {
    Created,
    AlreadyPresent,
}

/// Creates the Đồng Nai demo database if absent. Refuses to put demo data into a
/// database that already holds an installation that is not a demo.
pub async fn prepare_demo(
    store: &Store,
    g: &Gazetteer,
    persons: usize,
    seed: u64,
    policies: Option<(&rules::Packs, &crate::services::entitlements::PackSource)>,
) -> Result<DemoOutcome, AppError> {
    if store.get_meta(META_DEMO).await?.is_some() {
        return Ok(DemoOutcome::AlreadyPresent);
    }
    if let Some(p) = store.get_meta(META_PROVINCE).await? {
        return Err(AppError::Refused(format!(
            "this database belongs to an installation for province {p}, not a demo; refusing to add demo data. Use another --database-url (the demo default is sqlite://./ansinh-demo.db)"
        )));
    }
    // Later issues add the demo registry, payments, plan and complaints here.
    let policy = crate::services::authz::Policy::load(store).await?;
    let ctx = crate::services::authz::Ctx::cli();
    for d in DEMO_USERS {
        let req = crate::services::users::CreateUser {
            username: d.username.into(),
            full_name: d.full_name.into(),
            role: d.role.into(),
            agency: d.agency.map(str::to_string),
            communes: d.communes.iter().map(|c| c.to_string()).collect(),
            password: Some(DEMO_PASSWORD.into()),
        };
        crate::services::users::create(store, &policy, &ctx, &req).await?;
    }
    if persons > 0 {
        let t = std::time::Instant::now();
        let batch = crate::services::demo_data::generate(g, DONG_NAI, persons, seed);
        tracing::info!(persons = batch.persons.len(), ms = t.elapsed().as_millis() as u64, "demo registry generated");
        let mut audit = ctx.audit("registry.import", "person", None);
        audit.detail = Some(format!("demo registry: {} persons, seed {seed}", batch.persons.len()));
        store.insert_person_batch(&batch, &ctx.actor(), &audit).await?;
        if let Some((packs, source)) = policies {
            demo_payment_history(store, packs, source).await?;
            demo_late_deaths(store).await?;
        }
        // the inspector's first run of the integrity checks: the planted problems are cases
        let inspector = demo_ctx(store, &policy, "thanhtra").await?;
        crate::services::integrity::run(store, &inspector, chrono::Utc::now().date_naive()).await?;
    }
    // the seed plan with its history of agencies' reports
    crate::services::demo_plan::load(store, g, DONG_NAI, crate::services::plans::today_vn()).await?;
    // a few complaints through their workflow, two rated
    crate::services::complaints::demo(store, g, DONG_NAI).await?;
    store.set_meta(META_PROVINCE, DONG_NAI).await?;
    store.set_meta(META_DEMO, DONG_NAI).await?;
    Ok(DemoOutcome::Created)
}

/// A signed-in demo user.
async fn demo_ctx(
    store: &Store,
    policy: &crate::services::authz::Policy,
    name: &str,
) -> Result<crate::services::authz::Ctx, AppError> {
    let user = store.user_by_username(name).await?.ok_or_else(|| AppError::NotFound(name.into()))?;
    let p = crate::services::auth::principal_for(store, policy, user)
        .await?
        .ok_or_else(|| AppError::Internal(format!("demo user {name} disabled")))?;
    Ok(crate::services::authz::Ctx { principal: Some(p), ..Default::default() })
}

/// Deaths reported after last month's payroll: about one in 1,000 of the people paid died
/// in the month before it, so the integrity checks find them paid after death.
async fn demo_late_deaths(store: &Store) -> Result<(), AppError> {
    let (Some(month), paid) = store.paid_in_latest_cycle().await? else { return Ok(()) };
    let m: domain::Month = month.parse().map_err(|_| AppError::Internal(format!("demo month {month}")))?;
    let before = m.add_months(-1).ok_or_else(|| AppError::Internal("demo month".into()))?;
    let ids: Vec<i64> = paid.iter().map(|(id, _)| *id).step_by(1000).take(20).collect();
    store.demo_record_deaths(&ids, &format!("{}-{:02}-09", before.year(), before.month())).await?;
    Ok(())
}

/// Last month's payment cycle, taken through every step by the demo officers (prepared by
/// sonoivu, checked by kiemtra, approved by giamdocso, exported, reconciled with about 2 %
/// of the lines not collected, closed), so that this month's cycle shows carried lines.
async fn demo_payment_history(
    store: &Store,
    packs: &rules::Packs,
    source: &crate::services::entitlements::PackSource,
) -> Result<(), AppError> {
    use crate::services::payments as pay;
    let policy = crate::services::authz::Policy::load(store).await?;
    let (maker, checker, head) = (
        demo_ctx(store, &policy, "sonoivu").await?,
        demo_ctx(store, &policy, "kiemtra").await?,
        demo_ctx(store, &policy, "giamdocso").await?,
    );
    let today = chrono::Utc::now().date_naive();
    let month = domain::Month::of(today).add_months(-1).ok_or_else(|| AppError::Internal("demo month".into()))?;
    let cycle = pay::create(store, &maker, month, false).await?;
    pay::generate(store, packs, source, &maker, cycle.id).await?;
    pay::check(store, &checker, cycle.id).await?;
    pay::approve(store, &head, cycle.id).await?;
    pay::export(store, &maker, cycle.id).await?;
    let mut results = String::from("reference,result,amount,note\n");
    for l in store.cycle_lines_all(cycle.id, None, None, Some("pay")).await? {
        let (result, note) = match l.id % 97 {
            0 | 31 => ("failed", "Không liên lạc được"),
            50 => ("returned", "Vắng mặt tại địa phương"),
            _ => ("paid", ""),
        };
        results.push_str(&format!("{},{result},{},{note}\n", pay::reference(cycle.id, l.id), l.amount));
    }
    let r = pay::reconcile(store, &maker, cycle.id, results.as_bytes()).await?;
    if !r.errors.is_empty() {
        return Err(AppError::Internal(format!("demo results: {:?}", r.errors.first())));
    }
    pay::close(store, &maker, cycle.id).await?;
    Ok(())
}

/// The demo's shared password (printed by `ansinh demo`; never use it elsewhere).
pub const DEMO_PASSWORD: &str = "ansinh-demo-2026";

pub struct DemoUser {
    pub username: &'static str,
    pub full_name: &'static str,
    pub role: &'static str,
    pub agency: Option<&'static str>,
    pub communes: &'static [&'static str],
}

/// One demo account per staff role, and a second provincial officer (the checker of payment
/// cycles). Appended only: user ids follow this order and tests rely on them.
pub const DEMO_USERS: [DemoUser; 8] = [
    DemoUser { username: "quantri", full_name: "Trần Văn Quản", role: "admin", agency: None, communes: &[] },
    DemoUser {
        username: "sonoivu",
        full_name: "Lê Thị Hoà",
        role: "provincial_officer",
        agency: Some("SO_NOI_VU"),
        communes: &[],
    },
    DemoUser {
        username: "canboxa",
        full_name: "Nguyễn Văn An",
        role: "commune_officer",
        agency: None,
        communes: &["25210", "25195"],
    },
    DemoUser {
        username: "baocao",
        full_name: "Phạm Thị Thuỷ",
        role: "agency_reporter",
        agency: Some("SO_Y_TE"),
        communes: &[],
    },
    DemoUser { username: "lanhdao", full_name: "Võ Minh Đức", role: "leader", agency: None, communes: &[] },
    DemoUser {
        username: "thanhtra",
        full_name: "Huỳnh Quốc Bảo",
        role: "inspector",
        agency: Some("THANH_TRA"),
        communes: &[],
    },
    DemoUser {
        username: "kiemtra",
        full_name: "Đặng Thị Kiểm",
        role: "provincial_officer",
        agency: Some("SO_NOI_VU"),
        communes: &[],
    },
    DemoUser {
        username: "giamdocso",
        full_name: "Trịnh Văn Duyệt",
        role: "department_head",
        agency: Some("SO_NOI_VU"),
        communes: &[],
    },
];

/// The demo logins as printed at start.
pub fn demo_logins() -> String {
    let mut s = format!("demo logins (password for all: {DEMO_PASSWORD}):\n");
    for d in DEMO_USERS {
        s.push_str(&format!("  {:<10} {:<20} {}\n", d.username, d.role, d.full_name));
    }
    s
}

/// The province served: recorded in the database, Đồng Nai by default.
pub async fn installation_province(store: &Store) -> Result<String, AppError> {
    Ok(store.get_meta(META_PROVINCE).await?.unwrap_or_else(|| DONG_NAI.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::testing::TestDb;

    async fn demo_rules(backend: store::Backend) {
        let db = TestDb::new(backend).await;
        db.store.load_reference_data(&gazetteer().unwrap(), false).await.unwrap();
        assert_eq!(prepare_demo(&db.store, &gazetteer().unwrap(), 300, 1, None).await.unwrap(), DemoOutcome::Created);
        let users = db.store.list_users(&store::UserFilter::default(), store::Page::default()).await.unwrap();
        assert_eq!(users.total, DEMO_USERS.len() as i64, "one demo user per staff role");
        let roles: std::collections::BTreeSet<String> = users.items.iter().map(|u| u.role_code.clone()).collect();
        let staff: std::collections::BTreeSet<String> =
            db.store.roles().await.unwrap().into_iter().filter(|r| r.staff).map(|r| r.code).collect();
        assert_eq!(roles, staff);
        assert_eq!(db.store.person_count().await.unwrap(), 300);
        assert_eq!(
            prepare_demo(&db.store, &gazetteer().unwrap(), 300, 1, None).await.unwrap(),
            DemoOutcome::AlreadyPresent
        );
        assert_eq!(installation_province(&db.store).await.unwrap(), DONG_NAI);
        db.finish().await;

        // a real installation is never turned into a demo
        let db = TestDb::new(backend).await;
        db.store.set_meta(META_PROVINCE, "79").await.unwrap();
        let err = prepare_demo(&db.store, &gazetteer().unwrap(), 300, 1, None).await.unwrap_err();
        assert_eq!(err.code(), crate::error::code::REFUSED);
        assert!(err.to_string().contains("refusing to add demo data"), "{err}");
        assert_eq!(db.store.get_meta(META_DEMO).await.unwrap(), None, "nothing half-written");
        db.finish().await;
    }

    #[tokio::test]
    async fn code_permissions_match_the_permission_table() {
        let db = TestDb::new(store::Backend::Sqlite).await;
        let mut in_db: Vec<String> = db.store.role_permissions().await.unwrap().into_iter().map(|(_, p)| p).collect();
        in_db.sort();
        in_db.dedup();
        let mut in_code: Vec<String> = crate::services::authz::perm::ALL.iter().map(|p| p.to_string()).collect();
        in_code.sort();
        assert_eq!(in_db, in_code);
        db.finish().await;
    }

    #[tokio::test]
    async fn demo_rules_on_sqlite() {
        demo_rules(store::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn demo_rules_on_postgres() {
        demo_rules(store::Backend::Postgres).await;
    }
}
