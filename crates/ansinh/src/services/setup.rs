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
pub async fn prepare_demo(store: &Store) -> Result<DemoOutcome, AppError> {
    if store.get_meta(META_DEMO).await?.is_some() {
        return Ok(DemoOutcome::AlreadyPresent);
    }
    if let Some(p) = store.get_meta(META_PROVINCE).await? {
        return Err(AppError::Refused(format!(
            "this database belongs to an installation for province {p}, not a demo; refusing to add demo data. Use another --database-url (the demo default is sqlite://./ansinh-demo.db)"
        )));
    }
    // Later issues add the demo registry, payments, plan and complaints here.
    store.set_meta(META_PROVINCE, DONG_NAI).await?;
    store.set_meta(META_DEMO, DONG_NAI).await?;
    Ok(DemoOutcome::Created)
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
        assert_eq!(prepare_demo(&db.store).await.unwrap(), DemoOutcome::Created);
        assert_eq!(prepare_demo(&db.store).await.unwrap(), DemoOutcome::AlreadyPresent);
        assert_eq!(installation_province(&db.store).await.unwrap(), DONG_NAI);
        db.finish().await;

        // a real installation is never turned into a demo
        let db = TestDb::new(backend).await;
        db.store.set_meta(META_PROVINCE, "79").await.unwrap();
        let err = prepare_demo(&db.store).await.unwrap_err();
        assert_eq!(err.code(), crate::error::code::REFUSED);
        assert!(err.to_string().contains("refusing to add demo data"), "{err}");
        assert_eq!(db.store.get_meta(META_DEMO).await.unwrap(), None, "nothing half-written");
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
