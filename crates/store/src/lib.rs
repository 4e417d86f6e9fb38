//! Persistence for ansinh: one contract, two backends.
//!
//! [`Store`] is the contract. It is an enum over an SQLite pool (embedded, the demo and
//! small deployments) and a PostgreSQL pool (production and scale-out); every method
//! runs the same logical operation on either, and `tests/contract.rs` runs one suite of
//! assertions against both. SQL is written once where the dialects agree and per
//! backend where they do not (bulk writes use `COPY` on PostgreSQL).
//!
//! Migrations are embedded per backend (`migrations/sqlite`, `migrations/postgres`)
//! and applied by [`Store::migrate`].

pub mod accounts;
pub mod audit;
pub mod bulk;
pub mod calendar;
pub mod complaints;
mod error;
pub mod integrity;
pub mod payments;
pub mod plans;
pub mod portal;
mod reference;
pub mod registry;
mod sqlite;
mod sqlite_bulk;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod url;

pub use accounts::{AgencyRow, NewToken, NewUser, RoleRow, SessionRow, TokenRow, UserFilter, UserRow};
pub use audit::{AuditEntry, AuditFilter, AuditRecord, VerifyOutcome};
pub use error::StoreError;
pub use reference::{CommuneRow, LoadOutcome, ProvinceRow, UnitCounts};
pub use url::{redact, Backend, DatabaseUrl};

use std::path::Path;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::SqlitePool;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The newest migration version this binary knows (same on both backends).
pub const LATEST_MIGRATION: i64 = 12;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Statements slower than this are logged (at info: bulk reads of a million rows take
/// seconds by design, and the CLI logs warnings only).
pub(crate) const SLOW_STATEMENT: Duration = Duration::from_secs(5);

/// Connection settings that are not part of the URL.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// SQLite: how long a writer waits for a lock before failing.
    pub sqlite_busy_timeout: Duration,
    /// PostgreSQL: maximum pool size.
    pub pg_max_connections: u32,
    /// PostgreSQL: how long to wait for a connection (also the start-up reachability check).
    pub pg_connect_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sqlite_busy_timeout: Duration::from_secs(5),
            pg_max_connections: 10,
            pg_connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Result of [`Store::migrate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied_before: usize,
    pub applied_now: usize,
    pub latest_version: i64,
}

/// The storage contract. Cheap to clone (pools are reference-counted).
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same expression against whichever pool the store holds. The body is
/// expanded once per backend, so it is type-checked against both drivers.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::Store::Sqlite($pool) => $body,
            $crate::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Runs `$body` in a write transaction and commits it; evaluates to `Result<T>` where
/// `$body: T`. A `?` inside the body returns early and the transaction rolls back.
/// SQLite transactions start with `BEGIN IMMEDIATE` so that a read-then-write
/// transaction waits for the write lock (busy timeout) instead of failing midway.
macro_rules! write_tx {
    ($store:expr, $tx:ident => $body:block) => {
        match $store {
            $crate::Store::Sqlite(pool) => {
                #[allow(unused_mut)]
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                Ok::<_, $crate::StoreError>(out)
            }
            $crate::Store::Postgres(pool) => {
                #[allow(unused_mut)]
                let mut $tx = pool.begin().await?;
                let out = $body;
                $tx.commit().await?;
                Ok::<_, $crate::StoreError>(out)
            }
        }
    };
}
pub(crate) use write_tx;

/// Current time as stored: RFC 3339 UTC with microseconds, the same text on both
/// backends (so that it sorts as text and hashes identically).
pub fn now_text() -> String {
    time_text(chrono::Utc::now())
}

pub fn time_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A page request: 1-based page number and page size (clamped to 1..=MAX_PER_PAGE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: i64,
    pub per_page: i64,
}

impl Page {
    pub const DEFAULT_PER_PAGE: i64 = 50;
    pub const MAX_PER_PAGE: i64 = 200;

    pub fn new(page: Option<i64>, per_page: Option<i64>) -> Page {
        Page {
            page: page.unwrap_or(1).max(1),
            per_page: per_page.unwrap_or(Self::DEFAULT_PER_PAGE).clamp(1, Self::MAX_PER_PAGE),
        }
    }

    pub fn limit(self) -> i64 {
        self.per_page
    }

    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::new(None, None)
    }
}

/// One page of results and the total count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

impl Store {
    /// Opens the database (creating an SQLite file if absent). Does not migrate.
    pub async fn connect(url: &DatabaseUrl, opts: &StoreOptions) -> Result<Store> {
        match url {
            DatabaseUrl::Sqlite { path } => sqlite::open(path, opts).await.map(Store::Sqlite),
            DatabaseUrl::Postgres { url: raw } => connect_pg(raw, &url.to_string(), opts).await.map(Store::Postgres),
        }
    }

    /// Opens and migrates: what `serve` and `demo` do at start.
    pub async fn open(url: &DatabaseUrl, opts: &StoreOptions) -> Result<Store> {
        let store = Store::connect(url, opts).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations that are missing. Idempotent.
    pub async fn migrate(&self) -> Result<MigrationReport> {
        let migrator = match self {
            Store::Sqlite(_) => &SQLITE_MIGRATIONS,
            Store::Postgres(_) => &POSTGRES_MIGRATIONS,
        };
        let latest_known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let applied_before = self.applied_migrations().await?;
        if let Some(&found) = applied_before.iter().max() {
            if found > latest_known {
                return Err(StoreError::SchemaTooNew { found, known: latest_known });
            }
        }
        let res = on_pool!(self, pool => migrator.run(pool).await);
        res.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(inner) => self.classify(inner),
            other => StoreError::Migration(other.to_string()),
        })?;
        let after = self.applied_migrations().await?;
        Ok(MigrationReport {
            applied_before: applied_before.len(),
            applied_now: after.len() - applied_before.len(),
            latest_version: after.iter().copied().max().unwrap_or(0),
        })
    }

    async fn applied_migrations(&self) -> Result<Vec<i64>> {
        let exists_sql = match self {
            Store::Sqlite(_) => "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            Store::Postgres(_) => "SELECT count(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()",
        };
        let exists: i64 = on_pool!(self, pool => sqlx::query_scalar(exists_sql).fetch_one(pool).await)
            .map_err(|e| self.classify(e))?;
        if exists == 0 {
            return Ok(Vec::new());
        }
        let versions: Vec<i64> = on_pool!(self, pool => sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version").fetch_all(pool).await)?;
        Ok(versions)
    }

    /// A trivial round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        let _: i64 = on_pool!(self, pool => sqlx::query_scalar("SELECT CAST(1 AS BIGINT)").fetch_one(pool).await)?;
        Ok(())
    }

    pub async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        let v: Option<String> = on_pool!(self, pool => sqlx::query_scalar("SELECT value FROM app_meta WHERE key = $1").bind(key).fetch_optional(pool).await)?;
        Ok(v)
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO app_meta (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now_text())
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Writes a consistent copy of a live SQLite database to `target` (`VACUUM INTO`:
    /// a single read transaction, so concurrent writers neither block nor tear it).
    /// PostgreSQL backups are made with `pg_dump` by the binary.
    pub async fn backup_sqlite_to(&self, target: &Path) -> Result<()> {
        match self {
            Store::Sqlite(pool) => sqlite::backup(pool, target).await,
            Store::Postgres(_) => {
                Err(StoreError::Unsupported("online backup of PostgreSQL is done with pg_dump".into()))
            }
        }
    }

    fn classify(&self, e: sqlx::Error) -> StoreError {
        match self {
            Store::Sqlite(pool) => sqlite::classify(e, Some(&sqlite::db_path(pool))),
            Store::Postgres(_) => StoreError::Query(e),
        }
    }

    /// Closes the pool. SQLite first folds the write-ahead log back into the main file
    /// (best effort), so a stopped server leaves one self-contained file behind.
    pub async fn close(&self) {
        if let Store::Sqlite(pool) = self {
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(pool).await {
                tracing::warn!(error = %e, "WAL checkpoint at close failed");
            }
        }
        on_pool!(self, pool => pool.close().await)
    }
}

async fn connect_pg(raw: &str, shown: &str, opts: &StoreOptions) -> Result<PgPool> {
    use sqlx::ConnectOptions;
    let connect: PgConnectOptions = raw
        .parse::<PgConnectOptions>()
        .map_err(|e: sqlx::Error| StoreError::InvalidUrl { url: shown.to_string(), reason: e.to_string() })?
        .log_slow_statements(log::LevelFilter::Info, SLOW_STATEMENT);
    let target = format!("{}:{}", connect.get_host(), connect.get_port());
    PgPoolOptions::new()
        .max_connections(opts.pg_max_connections)
        .acquire_timeout(opts.pg_connect_timeout)
        .connect_with(connect)
        .await
        .map_err(|e| classify_pg(e, &target))
}

fn classify_pg(e: sqlx::Error, target: &str) -> StoreError {
    match &e {
        sqlx::Error::Io(io) => StoreError::Unreachable { target: target.to_string(), detail: io.to_string() },
        sqlx::Error::PoolTimedOut => StoreError::Unreachable {
            target: target.to_string(),
            detail: "no answer within the connect timeout".into(),
        },
        sqlx::Error::Tls(t) => StoreError::Unreachable { target: target.to_string(), detail: format!("TLS: {t}") },
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("28P01") | Some("28000") => {
                StoreError::AuthFailed { target: target.to_string(), detail: db.message().to_string() }
            }
            Some("3D000") => StoreError::NoSuchDatabase { target: target.to_string() },
            _ => StoreError::Query(e),
        },
        _ => StoreError::Query(e),
    }
}

/// ` AND col IN (…)` for an area (an empty area matches nothing).
pub(crate) fn push_in<DB: sqlx::Database>(qb: &mut sqlx::QueryBuilder<'_, DB>, col: &str, communes: Option<&[String]>)
where
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    if let Some(c) = communes {
        qb.push(format!(" AND {col} IN ("));
        let mut sep = qb.separated(", ");
        for code in c {
            sep.push_bind(code.clone());
        }
        if c.is_empty() {
            sep.push_bind(String::new());
        }
        qb.push(")");
    }
}
