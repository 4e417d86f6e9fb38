#![allow(clippy::expect_used, clippy::panic)]
//! Throwaway databases for tests on both backends (feature `testing`).
//!
//! SQLite: a file in a fresh temporary directory. PostgreSQL: a fresh database created
//! in the server named by `ANSINH_TEST_POSTGRES_URL` (an admin connection, e.g.
//! `postgres://postgres@127.0.0.1:55432/postgres`, which `scripts/test.sh` starts and
//! exports). Without that variable PostgreSQL tests fail loudly: they are never skipped.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{DatabaseUrl, Store, StoreOptions};

pub const PG_ENV: &str = "ANSINH_TEST_POSTGRES_URL";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A migrated, empty database that removes itself with [`TestDb::finish`].
pub struct TestDb {
    pub store: Store,
    pub url: DatabaseUrl,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let (dir, url) = TestDb::sqlite_url();
        let store = Store::open(&url, &StoreOptions::default()).await.expect("open sqlite test db");
        TestDb { store, url, cleanup: Cleanup::Sqlite(dir) }
    }

    /// A fresh temp dir and an SQLite URL inside it (not yet created).
    pub fn sqlite_url() -> (tempfile::TempDir, DatabaseUrl) {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = DatabaseUrl::Sqlite { path: dir.path().join("test.db") };
        (dir, url)
    }

    pub async fn postgres() -> TestDb {
        let (admin_url, name, url) = TestDb::postgres_url().await;
        let store = Store::open(&url, &StoreOptions::default()).await.expect("open postgres test db");
        TestDb { store, url, cleanup: Cleanup::Postgres { admin_url, name } }
    }

    /// Creates an empty PostgreSQL database and returns (admin url, name, its url).
    pub async fn postgres_url() -> (String, String, DatabaseUrl) {
        let admin_url = std::env::var(PG_ENV).unwrap_or_else(|_| {
            panic!("{PG_ENV} is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL")
        });
        let name = format!("ansinh_t_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let admin = sqlx::PgPool::connect(&admin_url).await.expect("connect to the PostgreSQL test server");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create test database");
        admin.close().await;
        let url = DatabaseUrl::parse(&replace_db_name(&admin_url, &name)).expect("test url");
        (admin_url, name, url)
    }

    pub async fn new(backend: crate::Backend) -> TestDb {
        match backend {
            crate::Backend::Sqlite => TestDb::sqlite().await,
            crate::Backend::Postgres => TestDb::postgres().await,
        }
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.url {
            DatabaseUrl::Sqlite { path } => Some(path.clone()),
            DatabaseUrl::Postgres { .. } => None,
        }
    }

    /// Closes the pool and drops the database.
    pub async fn finish(self) {
        self.store.close().await;
        if let Cleanup::Postgres { admin_url, name } = self.cleanup {
            drop_pg_database(&admin_url, &name).await;
        }
    }
}

pub async fn drop_pg_database(admin_url: &str, name: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(admin_url).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await;
        admin.close().await;
    }
}

/// `postgres://u@h:p/postgres?x` → `postgres://u@h:p/NAME?x`.
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[scheme_end..].find('/').map(|i| scheme_end + i);
    let mut out = match path_start {
        Some(i) => format!("{}/{name}", &base[..i]),
        None => format!("{base}/{name}"),
    };
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
