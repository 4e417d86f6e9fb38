//! The storage contract: one suite of assertions, run against SQLite and PostgreSQL.
//! Every test function here takes a migrated, empty `Store` and must pass on both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use domain::admin::{Gazetteer, DATA_VERSION, DONG_NAI};
use store::testing::TestDb;
use store::{Backend, LoadOutcome, Store};

/// Generates `on_sqlite::NAME` and `on_postgres::NAME` for each contract test.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = store::testing::TestDb::new(store::Backend::Sqlite).await;
                    super::$name(&db.store).await;
                    db.finish().await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = store::testing::TestDb::new(store::Backend::Postgres).await;
                    super::$name(&db.store).await;
                    db.finish().await;
                }
            )*
        }
    };
}

contract!(
    migrate_is_idempotent,
    ping_and_backend,
    meta_roundtrip,
    reference_load_counts_and_idempotence,
    reference_reload_upserts_without_duplicates,
    dong_nai_has_95_communes_in_order,
    commune_lookup_and_predecessors,
    search_folds_diacritics,
    search_escapes_like_wildcards,
    legacy_mapping_handles_splits,
    unicode_is_preserved_exactly,
    concurrent_readers,
    foreign_keys_are_enforced,
);

fn gazetteer() -> Gazetteer {
    Gazetteer::embedded().unwrap()
}

async fn loaded(store: &Store) {
    store.load_reference_data(&gazetteer(), false).await.unwrap();
}

async fn migrate_is_idempotent(store: &Store) {
    // TestDb already migrated once
    let again = store.migrate().await.unwrap();
    assert_eq!(again.applied_now, 0);
    assert!(again.applied_before >= 1);
    assert!(again.latest_version >= 1);
}

async fn ping_and_backend(store: &Store) {
    store.ping().await.unwrap();
    assert!(matches!(store.backend(), Backend::Sqlite | Backend::Postgres));
}

async fn meta_roundtrip(store: &Store) {
    assert_eq!(store.get_meta("demo.created").await.unwrap(), None);
    store.set_meta("demo.created", "2026-11-29").await.unwrap();
    assert_eq!(store.get_meta("demo.created").await.unwrap().as_deref(), Some("2026-11-29"));
    store.set_meta("demo.created", "2026-11-30").await.unwrap();
    assert_eq!(store.get_meta("demo.created").await.unwrap().as_deref(), Some("2026-11-30"));
}

async fn reference_load_counts_and_idempotence(store: &Store) {
    let g = gazetteer();
    let first = store.load_reference_data(&g, false).await.unwrap();
    let LoadOutcome::Loaded(counts) = first else { panic!("first load must load, got {first:?}") };
    assert_eq!(counts.provinces, 34);
    assert_eq!(counts.communes, 3321);
    assert_eq!(counts.legacy_communes as usize, g.legacy_communes().len());
    assert!(counts.legacy_communes > 250, "{counts:?}");
    assert_eq!(store.get_meta("reference.admin_units").await.unwrap().as_deref(), Some(DATA_VERSION));
    let second = store.load_reference_data(&g, false).await.unwrap();
    assert_eq!(second, LoadOutcome::AlreadyCurrent(counts));
}

async fn reference_reload_upserts_without_duplicates(store: &Store) {
    loaded(store).await;
    let before = store.unit_counts().await.unwrap();
    let forced = store.load_reference_data(&gazetteer(), true).await.unwrap();
    assert_eq!(forced, LoadOutcome::Loaded(before));
}

async fn dong_nai_has_95_communes_in_order(store: &Store) {
    loaded(store).await;
    let p = store.province(DONG_NAI).await.unwrap().unwrap();
    assert_eq!(p.name, "Tỉnh Đồng Nai");
    assert_eq!(p.commune_count, 95);
    let communes = store.communes_of(DONG_NAI).await.unwrap();
    assert_eq!(communes.len(), 95);
    let keys: Vec<String> = communes.iter().map(|c| domain::text::search_key(&c.name)).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "communes are in folded alphabetical order");
    assert!(communes.iter().all(|c| c.province_code == DONG_NAI));
    assert_eq!(store.provinces().await.unwrap().len(), 34);
    assert!(store.province("99").await.unwrap().is_none());
}

async fn commune_lookup_and_predecessors(store: &Store) {
    loaded(store).await;
    let c = store.commune("25210").await.unwrap().unwrap();
    assert_eq!(c.name, "Phường Đồng Xoài");
    assert_eq!(c.kind, "phuong");
    assert_eq!(c.predecessor_count, 2);
    assert!(store.commune("00000").await.unwrap().is_none());
    // a commune outside Đồng Nai has no recorded predecessors
    assert_eq!(store.commune("00070").await.unwrap().unwrap().predecessor_count, 0);
}

async fn search_folds_diacritics(store: &Store) {
    loaded(store).await;
    let hits = store.search_communes("dong xoai", Some(DONG_NAI), 10).await.unwrap();
    assert_eq!(hits.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(), vec!["25210"]);
    let hits = store.search_communes("ĐỒNG XOÀI", None, 10).await.unwrap();
    assert_eq!(hits.len(), 1);
    let many = store.search_communes("xa", None, 5).await.unwrap();
    assert_eq!(many.len(), 5, "limit is respected");
    let none = store.search_communes("khong ton tai", None, 10).await.unwrap();
    assert!(none.is_empty());
}

async fn search_escapes_like_wildcards(store: &Store) {
    loaded(store).await;
    assert!(store.search_communes("%", None, 10).await.unwrap().is_empty());
    assert!(store.search_communes("_", None, 10).await.unwrap().is_empty());
}

async fn legacy_mapping_handles_splits(store: &Store) {
    loaded(store).await;
    let one = store.legacy_successors("25207").await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].0.code, "25210");
    assert!(!one[0].1);
    let split = store.legacy_successors("26449").await.unwrap();
    let codes: Vec<&str> = split.iter().map(|(c, _)| c.code.as_str()).collect();
    assert_eq!(codes, vec!["26359", "26446"]);
    assert!(split.iter().all(|(_, partial)| *partial));
    assert!(store.legacy_successors("99999").await.unwrap().is_empty());
}

async fn unicode_is_preserved_exactly(store: &Store) {
    let nfd: String = "Nguyễn Thị Hoà".chars().collect::<String>();
    let value = format!("{nfd} \u{1F600} \"quoted\", 'single'");
    store.set_meta("unicode", &value).await.unwrap();
    assert_eq!(store.get_meta("unicode").await.unwrap().unwrap(), value);
    loaded(store).await;
    let c = store.commune("26446").await.unwrap().unwrap();
    assert_eq!(c.name, "Xã Xuân Hòa");
}

async fn concurrent_readers(store: &Store) {
    loaded(store).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move { s.communes_of(DONG_NAI).await.unwrap().len() }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 95);
    }
}

async fn foreign_keys_are_enforced(store: &Store) {
    loaded(store).await;
    // a commune pointing at a province that does not exist must be refused
    let res = match store {
        Store::Sqlite(p) => sqlx::query(
            "INSERT INTO communes (code, name, name_key, kind, province_code) VALUES ('99999', 'X', 'x', 'xa', '00')",
        )
        .execute(p)
        .await
        .map(|_| ()),
        Store::Postgres(p) => sqlx::query(
            "INSERT INTO communes (code, name, name_key, kind, province_code) VALUES ('99999', 'X', 'x', 'xa', '00')",
        )
        .execute(p)
        .await
        .map(|_| ()),
    };
    assert!(res.is_err(), "foreign key violation must fail");
}

// ---- backend-specific behaviour (not part of the shared contract) ----

#[tokio::test]
async fn sqlite_pragmas_are_set() {
    let db = TestDb::sqlite().await;
    let Store::Sqlite(pool) = &db.store else { unreachable!() };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(pool).await.unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(pool).await.unwrap();
    assert_eq!(fk, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(pool).await.unwrap();
    assert_eq!(busy, 5000);
    db.finish().await;
}

#[tokio::test]
async fn sqlite_backup_is_consistent_under_writes() {
    let db = TestDb::sqlite().await;
    loaded(&db.store).await;
    // keep writing while the backup runs
    let writer = {
        let s = db.store.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                s.set_meta(&format!("k{i}"), "v").await.unwrap();
            }
        })
    };
    let target = db.sqlite_path().unwrap().with_file_name("backup.db");
    db.store.backup_sqlite_to(&target).await.unwrap();
    writer.await.unwrap();
    let copy = Store::open(&store::DatabaseUrl::Sqlite { path: target.clone() }, &Default::default()).await.unwrap();
    let counts = copy.unit_counts().await.unwrap();
    assert_eq!((counts.provinces, counts.communes), (34, 3321));
    copy.close().await;
    // refusing to overwrite
    let err = db.store.backup_sqlite_to(&target).await.unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");
    db.finish().await;
}

#[tokio::test]
async fn sqlite_refuses_corrupt_readonly_and_missing_dir() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let opts = store::StoreOptions::default();

    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(&corrupt, b"this is not a database, just some text that is long enough").unwrap();
    let err = Store::connect(&store::DatabaseUrl::Sqlite { path: corrupt }, &opts).await.unwrap_err();
    assert!(matches!(err, store::StoreError::NotADatabase { .. }), "{err}");
    assert!(err.to_string().contains("not an SQLite database"));

    // a real database whose pages were damaged after the header
    let damaged = dir.path().join("damaged.db");
    {
        let s = Store::open(&store::DatabaseUrl::Sqlite { path: damaged.clone() }, &opts).await.unwrap();
        s.close().await;
    }
    let _ = std::fs::remove_file(damaged.with_extension("db-wal"));
    let mut bytes = std::fs::read(&damaged).unwrap();
    for b in bytes.iter_mut().skip(100) {
        *b = 0xA5;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    let err = Store::open(&store::DatabaseUrl::Sqlite { path: damaged }, &opts).await.unwrap_err();
    assert!(matches!(err, store::StoreError::NotADatabase { .. } | store::StoreError::Query(_)), "{err}");

    let ro = dir.path().join("ro.db");
    {
        let s = Store::open(&store::DatabaseUrl::Sqlite { path: ro.clone() }, &opts).await.unwrap();
        s.close().await;
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o444)).unwrap();
    let err = Store::connect(&store::DatabaseUrl::Sqlite { path: ro }, &opts).await.unwrap_err();
    assert!(matches!(err, store::StoreError::ReadOnly { .. }), "{err}");

    let missing = dir.path().join("no/such/dir/a.db");
    let err = Store::connect(&store::DatabaseUrl::Sqlite { path: missing }, &opts).await.unwrap_err();
    assert!(matches!(err, store::StoreError::NoDirectory { .. }), "{err}");
}

#[tokio::test]
async fn postgres_unreachable_is_a_clear_error() {
    // a port on loopback where nothing listens
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = store::DatabaseUrl::parse(&format!("postgres://ansinh:secret@127.0.0.1:{port}/ansinh")).unwrap();
    let opts = store::StoreOptions { pg_connect_timeout: std::time::Duration::from_secs(2), ..Default::default() };
    let err = Store::connect(&url, &opts).await.unwrap_err();
    assert!(matches!(err, store::StoreError::Unreachable { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("127.0.0.1:{port}")) && !msg.contains("secret"), "{msg}");
}

#[tokio::test]
async fn postgres_missing_database_is_a_clear_error() {
    let admin = std::env::var(store::testing::PG_ENV).expect("scripts/test.sh sets ANSINH_TEST_POSTGRES_URL");
    let url = store::DatabaseUrl::parse(&store::testing::replace_db_name(&admin, "ansinh_no_such_db")).unwrap();
    let err = Store::connect(&url, &Default::default()).await.unwrap_err();
    assert!(matches!(err, store::StoreError::NoSuchDatabase { .. }), "{err}");
}
