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
    // decomposed (NFD) text must come back byte for byte, not recomposed
    let nfd = "Nguye\u{302}\u{303}n Thi\u{323} Hoa\u{300}".to_string();
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

// ---- accounts and audit (shared contract) ----

mod accounts {
    use store::{
        AuditEntry, AuditFilter, NewToken, NewUser, Page, SessionRow, Store, StoreError, UserFilter, VerifyOutcome,
    };

    contract!(
        roles_and_permissions_are_data,
        user_lifecycle,
        failed_user_create_writes_nothing,
        lockout_after_failures,
        sessions_expire_and_end,
        tokens_are_scoped_expiring_revocable,
        audit_chain_and_search,
        concurrent_audit_appends_stay_sequential,
        audit_is_append_only,
        audit_tampering_is_detected,
    );

    fn entry(action: &str) -> AuditEntry {
        AuditEntry { actor: "tester".into(), action: action.into(), entity_type: "test".into(), ..Default::default() }
    }

    pub fn new_user(username: &str, role: &str, communes: &[&str]) -> NewUser {
        NewUser {
            username: username.into(),
            full_name: "Nguyễn Thị Hoà".into(),
            role_code: role.into(),
            agency_code: None,
            password_hash: "$argon2id$fake".into(),
            must_change_password: false,
            communes: communes.iter().map(|c| c.to_string()).collect(),
        }
    }

    async fn loaded(store: &Store) {
        store.load_reference_data(&domain::Gazetteer::embedded().unwrap(), false).await.unwrap();
    }

    fn has_perm(perms: &[(String, String)], r: &str, p: &str) -> bool {
        perms.iter().any(|(a, b)| a == r && b == p)
    }

    pub async fn roles_and_permissions_are_data(store: &Store) {
        let roles = store.roles().await.unwrap();
        let codes: Vec<&str> = roles.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(
            codes,
            vec![
                "admin",
                "agency_reporter",
                "citizen",
                "commune_officer",
                "department_head",
                "inspector",
                "leader",
                "provincial_officer"
            ]
        );
        assert!(has_perm(&store.role_permissions().await.unwrap(), "department_head", "payments.approve"));
        assert!(!has_perm(&store.role_permissions().await.unwrap(), "provincial_officer", "payments.approve"));
        let perms = store.role_permissions().await.unwrap();
        let has = |r: &str, p: &str| perms.iter().any(|(a, b)| a == r && b == p);
        assert!(has("admin", "users.manage"));
        assert!(has("inspector", "audit.read") && !has("inspector", "users.manage"));
        assert!(!has("leader", "users.manage") && has("leader", "dashboards.read"));
        assert!(!perms.iter().any(|(r, _)| r == "citizen"), "citizens have no staff permissions");
        let agencies = store.agencies().await.unwrap();
        assert!(agencies.iter().any(|a| a.code == "SO_NOI_VU" && a.name_vi == "Sở Nội vụ"));
    }

    pub async fn user_lifecycle(store: &Store) {
        loaded(store).await;
        let id = store
            .create_user(&new_user("lan.nt", "commune_officer", &["25210", "25195"]), &entry("user.create"))
            .await
            .unwrap();
        let u = store.user_by_username("lan.nt").await.unwrap().unwrap();
        assert_eq!((u.id, u.role_code.as_str(), u.full_name.as_str()), (id, "commune_officer", "Nguyễn Thị Hoà"));
        assert!(!u.disabled && !u.must_change_password && u.failed_logins == 0);
        assert_eq!(store.user_by_id(id).await.unwrap().unwrap().username, "lan.nt");
        assert_eq!(store.user_communes(id).await.unwrap(), vec!["25195", "25210"]);
        let err = store.create_user(&new_user("lan.nt", "leader", &[]), &entry("user.create")).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        for i in 0..5 {
            store.create_user(&new_user(&format!("u{i}"), "leader", &[]), &entry("user.create")).await.unwrap();
        }
        // search folds diacritics of the full name
        let found = store
            .list_users(&UserFilter { q: Some("hoa".into()), ..Default::default() }, Page::new(Some(1), Some(4)))
            .await
            .unwrap();
        assert_eq!(found.total, 6);
        assert_eq!(found.items.len(), 4);
        let p2 = store
            .list_users(&UserFilter { q: Some("hoa".into()), ..Default::default() }, Page::new(Some(2), Some(4)))
            .await
            .unwrap();
        assert_eq!(p2.items.len(), 2);
        let leaders = store
            .list_users(&UserFilter { role: Some("leader".into()), ..Default::default() }, Page::default())
            .await
            .unwrap();
        assert_eq!(leaders.total, 5);
        // disabling ends sessions and hides the user from the default list
        let s = session(id, "h1", "2999-01-01T00:00:00.000000Z");
        store.create_session(&s, &entry("auth.login")).await.unwrap();
        assert!(store.set_user_disabled(id, true, &entry("user.disable")).await.unwrap());
        assert!(store.session("h1", &store::now_text()).await.unwrap().is_none());
        let all = store.list_users(&UserFilter::default(), Page::default()).await.unwrap();
        assert_eq!(all.total, 5);
        assert!(!store.set_user_disabled(999_999, true, &entry("user.disable")).await.unwrap());
        assert!(store.set_password(id, "$argon2id$new", true, None, &entry("user.reset_password")).await.unwrap());
        let u = store.user_by_id(id).await.unwrap().unwrap();
        assert!(u.must_change_password && u.password_hash == "$argon2id$new" && u.disabled);
        let f = AuditFilter { action: Some("USER.".into()), ..Default::default() };
        assert_eq!(
            store.audit_search(&f, Page::default()).await.unwrap().total,
            0,
            "action prefixes are case-sensitive on both backends"
        );
    }

    pub async fn failed_user_create_writes_nothing(store: &Store) {
        loaded(store).await;
        let head = store.audit_head().await.unwrap();
        let err =
            store.create_user(&new_user("x", "commune_officer", &["99999"]), &entry("user.create")).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        let err = store.create_user(&new_user("y", "no_such_role", &[]), &entry("user.create")).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        assert!(store.user_by_username("x").await.unwrap().is_none());
        assert_eq!(store.audit_head().await.unwrap(), head, "no audit entry for a change that did not happen");
    }

    fn session(user_id: i64, hash: &str, expires: &str) -> SessionRow {
        let now = store::now_text();
        SessionRow {
            token_hash: hash.into(),
            user_id,
            csrf_token: "csrf".into(),
            created_at: now.clone(),
            expires_at: expires.into(),
            last_seen_at: now,
            ip: Some("127.0.0.1".into()),
            user_agent: None,
        }
    }

    pub async fn lockout_after_failures(store: &Store) {
        let id = store.create_user(&new_user("a", "admin", &[]), &entry("user.create")).await.unwrap();
        for n in 1..=4 {
            assert_eq!(
                store
                    .record_login_failure(
                        id,
                        5,
                        &store::now_text(),
                        "2999-01-01T00:00:00.000000Z",
                        &entry("auth.login_failed")
                    )
                    .await
                    .unwrap(),
                n
            );
            assert!(store.user_by_id(id).await.unwrap().unwrap().locked_until.is_none());
        }
        assert_eq!(
            store
                .record_login_failure(
                    id,
                    5,
                    &store::now_text(),
                    "2999-01-01T00:00:00.000000Z",
                    &entry("auth.login_failed")
                )
                .await
                .unwrap(),
            5
        );
        assert_eq!(
            store.user_by_id(id).await.unwrap().unwrap().locked_until.as_deref(),
            Some("2999-01-01T00:00:00.000000Z")
        );
        // once a lock has run out, the count starts again from one
        let old = store.create_user(&new_user("b", "admin", &[]), &entry("user.create")).await.unwrap();
        for _ in 0..5 {
            store
                .record_login_failure(
                    old,
                    5,
                    &store::now_text(),
                    "2000-01-01T00:00:00.000000Z",
                    &entry("auth.login_failed"),
                )
                .await
                .unwrap();
        }
        let n = store
            .record_login_failure(
                old,
                5,
                &store::now_text(),
                "2999-01-01T00:00:00.000000Z",
                &entry("auth.login_failed"),
            )
            .await
            .unwrap();
        assert_eq!(n, 1, "an expired lock starts a fresh count");
        assert!(store.user_by_id(old).await.unwrap().unwrap().locked_until.is_none());
        // a successful login (session) resets the counter
        store.create_session(&session(id, "s", "2999-01-01T00:00:00.000000Z"), &entry("auth.login")).await.unwrap();
        let u = store.user_by_id(id).await.unwrap().unwrap();
        assert_eq!((u.failed_logins, u.locked_until), (0, None));
    }

    pub async fn sessions_expire_and_end(store: &Store) {
        let id = store.create_user(&new_user("s", "leader", &[]), &entry("user.create")).await.unwrap();
        store.create_session(&session(id, "live", "2999-01-01T00:00:00.000000Z"), &entry("auth.login")).await.unwrap();
        store.create_session(&session(id, "old", "2000-01-01T00:00:00.000000Z"), &entry("auth.login")).await.unwrap();
        let now = store::now_text();
        assert_eq!(store.session("live", &now).await.unwrap().unwrap().user_id, id);
        assert!(store.session("old", &now).await.unwrap().is_none(), "expired sessions are not returned");
        store.touch_session("live", &now, "2998-01-01T00:00:00.000000Z").await.unwrap();
        assert_eq!(store.session("live", &now).await.unwrap().unwrap().expires_at, "2998-01-01T00:00:00.000000Z");
        assert_eq!(store.purge_expired_sessions(&now).await.unwrap(), 1);
        // a password change by the user keeps their own session only
        store.create_session(&session(id, "other", "2999-01-01T00:00:00.000000Z"), &entry("auth.login")).await.unwrap();
        store.set_password(id, "h", false, Some("live"), &entry("user.change_password")).await.unwrap();
        assert!(store.session("live", &now).await.unwrap().is_some());
        assert!(store.session("other", &now).await.unwrap().is_none());
        assert!(store.delete_session("live", &entry("auth.logout")).await.unwrap());
        assert!(!store.delete_session("live", &entry("auth.logout")).await.unwrap());
    }

    pub async fn tokens_are_scoped_expiring_revocable(store: &Store) {
        let id = store.create_user(&new_user("t", "inspector", &[]), &entry("user.create")).await.unwrap();
        let other = store.create_user(&new_user("o", "inspector", &[]), &entry("user.create")).await.unwrap();
        let t = NewToken {
            user_id: id,
            name: "báo cáo".into(),
            token_hash: "th".into(),
            prefix: "ans_abcd".into(),
            scopes: "audit.read units.read".into(),
            expires_at: "2999-01-01T00:00:00.000000Z".into(),
        };
        let tid = store.create_token(&t, &entry("token.create")).await.unwrap();
        let expired =
            NewToken { token_hash: "th2".into(), expires_at: "2000-01-01T00:00:00.000000Z".into(), ..t.clone() };
        store.create_token(&expired, &entry("token.create")).await.unwrap();
        let now = store::now_text();
        let live = store.live_token("th", &now).await.unwrap().unwrap();
        assert_eq!((live.id, live.scopes.as_str(), live.name.as_str()), (tid, "audit.read units.read", "báo cáo"));
        assert!(store.live_token("th2", &now).await.unwrap().is_none());
        assert_eq!(store.tokens_of(id).await.unwrap().len(), 2);
        assert!(!store.revoke_token(tid, other, &entry("token.revoke")).await.unwrap(), "only the owner revokes");
        assert!(store.revoke_token(tid, id, &entry("token.revoke")).await.unwrap());
        // an administrator's password reset revokes every token of the user
        let t3 = NewToken { token_hash: "th3".into(), ..t.clone() };
        store.create_token(&t3, &entry("token.create")).await.unwrap();
        assert!(store.live_token("th3", &now).await.unwrap().is_some());
        store.set_password(id, "h", true, None, &entry("user.reset_password")).await.unwrap();
        assert!(store.live_token("th3", &now).await.unwrap().is_none());
        assert!(store.live_token("th", &now).await.unwrap().is_none());
        let dup = NewToken { name: "dup".into(), ..t };
        assert!(matches!(store.create_token(&dup, &entry("token.create")).await.unwrap_err(), StoreError::Conflict(_)));
    }

    pub async fn audit_chain_and_search(store: &Store) {
        for i in 0..30 {
            let mut e = entry(if i % 3 == 0 { "user.create" } else { "auth.login" });
            e.actor = if i % 2 == 0 { "an".into() } else { "binh".into() };
            e.entity_id = Some(format!("{i}"));
            e.after = Some(format!("{{\"n\":{i},\"name\":\"Hoà\"}}"));
            assert_eq!(store.audit_append(&e).await.unwrap(), i + 1);
        }
        assert!(matches!(store.audit_verify().await.unwrap(), VerifyOutcome::Intact { entries: 30, .. }));
        let all = store.audit_search(&AuditFilter::default(), Page::new(Some(1), Some(10))).await.unwrap();
        assert_eq!((all.total, all.items.len(), all.items[0].seq), (30, 10, 30), "newest first");
        let f = AuditFilter { actor: Some("an".into()), action: Some("user.".into()), ..Default::default() };
        let hits = store.audit_search(&f, Page::default()).await.unwrap();
        assert_eq!(hits.total, 5);
        assert!(hits.items.iter().all(|r| r.actor == "an" && r.action == "user.create"));
        let f = AuditFilter { entity_type: Some("test".into()), entity_id: Some("7".into()), ..Default::default() };
        assert_eq!(
            store.audit_search(&f, Page::default()).await.unwrap().items[0].after_json.as_deref(),
            Some("{\"n\":7,\"name\":\"Hoà\"}")
        );
        let today = &store::now_text()[..10];
        let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d").to_string();
        let f = AuditFilter { from: Some(today.into()), to: Some(tomorrow), ..Default::default() };
        assert_eq!(store.audit_search(&f, Page::default()).await.unwrap().total, 30);
        let f = AuditFilter { to: Some("2000-01-01".into()), ..Default::default() };
        assert_eq!(store.audit_search(&f, Page::default()).await.unwrap().total, 0);
    }

    pub async fn concurrent_audit_appends_stay_sequential(store: &Store) {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                for j in 0..10 {
                    s.audit_append(&AuditEntry { detail: Some(format!("{i}-{j}")), ..entry("load") }).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        match store.audit_verify().await.unwrap() {
            VerifyOutcome::Intact { entries, .. } => assert_eq!(entries, 80),
            other => panic!("{other:?}"),
        }
        // verifying while others append is not a false alarm
        let writer = {
            let s = store.clone();
            tokio::spawn(async move {
                for _ in 0..50 {
                    s.audit_append(&entry("during-verify")).await.unwrap();
                }
            })
        };
        for _ in 0..5 {
            assert!(matches!(store.audit_verify().await.unwrap(), VerifyOutcome::Intact { .. }));
        }
        writer.await.unwrap();
        let recs = store.audit_search(&AuditFilter::default(), Page::new(Some(1), Some(200))).await.unwrap().items;
        assert!(recs.windows(2).all(|w| w[0].at >= w[1].at), "time follows sequence");
    }

    async fn exec(store: &Store, sql: &str) -> Result<(), sqlx::Error> {
        match store {
            Store::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
            Store::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        }
    }

    pub async fn audit_is_append_only(store: &Store) {
        store.audit_append(&entry("x")).await.unwrap();
        assert!(exec(store, "UPDATE audit_log SET actor = 'mallory'").await.is_err());
        assert!(exec(store, "DELETE FROM audit_log").await.is_err());
        assert!(matches!(store.audit_verify().await.unwrap(), VerifyOutcome::Intact { entries: 1, .. }));
    }

    /// What an attacker with database access could do after dropping the triggers.
    async fn drop_guards(store: &Store) {
        let sql = match store {
            Store::Sqlite(_) => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
            Store::Postgres(_) => {
                "DROP TRIGGER audit_log_no_update ON audit_log; DROP TRIGGER audit_log_no_truncate ON audit_log;"
            }
        };
        exec(store, sql).await.unwrap();
    }

    async fn fresh_chain(store: &Store, n: i64) {
        exec(store, "DELETE FROM audit_log; UPDATE audit_head SET seq = 0, hash = '0000000000000000000000000000000000000000000000000000000000000000';")
            .await
            .unwrap();
        for i in 0..n {
            store.audit_append(&AuditEntry { detail: Some(format!("entry {}", i + 1)), ..entry("e") }).await.unwrap();
        }
        assert!(matches!(store.audit_verify().await.unwrap(), VerifyOutcome::Intact { .. }));
    }

    fn broken_at(o: VerifyOutcome) -> (i64, String) {
        match o {
            VerifyOutcome::Broken { seq, reason } => (seq, reason),
            other => panic!("tampering not detected: {other:?}"),
        }
    }

    pub async fn audit_tampering_is_detected(store: &Store) {
        drop_guards(store).await;

        fresh_chain(store, 6).await;
        exec(store, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3").await.unwrap();
        let (seq, why) = broken_at(store.audit_verify().await.unwrap());
        assert_eq!(seq, 3);
        assert!(why.contains("modified"), "{why}");

        fresh_chain(store, 6).await;
        exec(store, "DELETE FROM audit_log WHERE seq = 4").await.unwrap();
        let (seq, why) = broken_at(store.audit_verify().await.unwrap());
        assert_eq!(seq, 4);
        assert!(why.contains("missing"), "{why}");

        // reordering: swap the contents of entries 2 and 5 (keeping their seq numbers)
        fresh_chain(store, 6).await;
        exec(
            store,
            "UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = -2;",
        )
        .await
        .unwrap();
        let (seq, _) = broken_at(store.audit_verify().await.unwrap());
        assert_eq!(seq, 2);

        // a rewritten entry whose hash was recomputed still breaks the next link
        fresh_chain(store, 6).await;
        exec(store, "UPDATE audit_log SET detail = 'forged', hash = 'f00d' WHERE seq = 2").await.unwrap();
        assert_eq!(broken_at(store.audit_verify().await.unwrap()).0, 2);

        // cutting entries off the end is caught by the head
        fresh_chain(store, 6).await;
        exec(store, "DELETE FROM audit_log WHERE seq >= 5").await.unwrap();
        let (seq, why) = broken_at(store.audit_verify().await.unwrap());
        assert_eq!(seq, 5);
        assert!(why.contains("removed at the end"), "{why}");
    }
}

// ---- registry (shared contract) ----

mod registry {
    use store::registry::{
        AsOf, AssistanceRecord, ChangePayload, MeritRecord, NewHousehold, NewPerson, PaymentMethod, PersonBatch,
        PersonPatch, PersonQuery, PersonSort,
    };
    use store::{AuditEntry, Page, Store, StoreError, VerifyOutcome};

    contract!(
        batch_insert_and_read_back,
        bad_references_abort_the_whole_batch,
        duplicate_personal_id_aborts_the_whole_batch,
        search_by_id_name_given_name_and_words,
        search_respects_area_filters_and_paging,
        approved_change_keeps_history_and_as_of,
        rejected_and_decided_changes,
    );

    fn entry(action: &str) -> AuditEntry {
        AuditEntry { actor: "tester".into(), action: action.into(), entity_type: "person".into(), ..Default::default() }
    }

    fn person(pid: &str, name: &str, commune: &str, household: Option<&str>) -> NewPerson {
        NewPerson {
            personal_id: pid.into(),
            full_name: name.into(),
            birth_date: format!("19{}-03-04", &pid[4..6]),
            sex: if pid.as_bytes()[3].is_multiple_of(2) { "male" } else { "female" }.into(),
            ethnicity: "Kinh".into(),
            commune_code: commune.into(),
            address_line: "Ấp 1".into(),
            household_code: household.map(str::to_string),
            valid_from: "2025-07-01".into(),
            ..Default::default()
        }
    }

    fn batch() -> PersonBatch {
        PersonBatch {
            households: vec![NewHousehold {
                code: "HO-1".into(),
                commune_code: "25210".into(),
                address_line: "Ấp 1".into(),
                status: "poor".into(),
                status_from: "2022-01-01".into(),
            }],
            persons: vec![
                person("075045000001", "Nguyễn Văn An", "25210", Some("HO-1")),
                person("075150000002", "Trần Thị Hòa", "25210", Some("HO-1")),
                person("075160000003", "Lê Thị Hoà", "26068", None),
                person("075070000004", "Nguyễn Văn Bình", "26068", None),
            ],
            merits: vec![(
                "075045000001".into(),
                MeritRecord {
                    category: "g".into(),
                    decision_no: "1/QĐ".into(),
                    decision_date: "1990-01-01".into(),
                    issuer: "Sở".into(),
                    injury_rate: Some(41),
                    valid_from: "2021-07-01".into(),
                    ..Default::default()
                },
            )],
            assistance: vec![(
                "075160000003".into(),
                AssistanceRecord {
                    group_code: "k6".into(),
                    disability_level: Some("severe".into()),
                    hiv: true,
                    decision_no: "2/QĐ".into(),
                    decision_date: "2020-01-01".into(),
                    valid_from: "2020-01-01".into(),
                    ..Default::default()
                },
            )],
            payments: vec![(
                "075045000001".into(),
                PaymentMethod {
                    method: "bank".into(),
                    bank_name: Some("Agribank".into()),
                    account_no: Some("5800205123456".into()),
                    valid_from: "2024-01-01".into(),
                    ..Default::default()
                },
            )],
            relationships: vec![("075045000001".into(), "075150000002".into(), "spouse".into())],
        }
    }

    pub(super) async fn loaded(store: &Store) {
        store.load_reference_data(&domain::Gazetteer::embedded().unwrap(), false).await.unwrap();
        assert_eq!(store.insert_person_batch(&batch(), "tester", &entry("registry.import")).await.unwrap(), 4);
    }

    pub async fn batch_insert_and_read_back(store: &Store) {
        loaded(store).await;
        assert_eq!(store.person_count().await.unwrap(), 4);
        let an = store.person_by_personal_id("075045000001").await.unwrap().unwrap();
        assert_eq!(
            (an.full_name.as_str(), an.categories.as_str(), an.status.as_str()),
            ("Nguyễn Văn An", "|g|", "living")
        );
        let m = store.merit_records(an.id).await.unwrap();
        assert_eq!((m.len(), m[0].injury_rate, m[0].type_b), (1, Some(41), false));
        let p = store.payment_methods(an.id).await.unwrap();
        assert_eq!(p[0].account_no.as_deref(), Some("5800205123456"));
        let (hh, members, status) = store.household(an.household_id.unwrap()).await.unwrap().unwrap();
        assert_eq!((hh.code.as_str(), members.len(), status.as_deref()), ("HO-1", 2, Some("poor")));
        assert_eq!(store.relationships(an.id).await.unwrap().len(), 1);
        let hoa = store.person_by_personal_id("075160000003").await.unwrap().unwrap();
        let a = store.assistance_records(hoa.id).await.unwrap();
        assert!(a[0].hiv && a[0].disability_level.as_deref() == Some("severe"));
        assert_eq!(hoa.categories, "|k6|");
        let ids = store.existing_personal_ids(&["075045000001".into(), "075999999999".into()]).await.unwrap();
        assert_eq!(ids.len(), 1);
        assert!(
            matches!(store.audit_verify().await.unwrap(), VerifyOutcome::Intact { entries: 1, .. }),
            "one audit entry per batch"
        );
    }

    pub async fn duplicate_personal_id_aborts_the_whole_batch(store: &Store) {
        loaded(store).await;
        let head = store.audit_head().await.unwrap();
        let mut b = PersonBatch::default();
        b.persons.push(person("075080000009", "Mới Một", "25210", None));
        b.persons.push(person("075045000001", "Trùng Lặp", "25210", None));
        let err = store.insert_person_batch(&b, "tester", &entry("registry.import")).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert!(store.person_by_personal_id("075080000009").await.unwrap().is_none(), "nothing half-written");
        assert_eq!(store.person_count().await.unwrap(), 4);
        assert_eq!(store.audit_head().await.unwrap(), head);
    }

    /// What a foreign key or CHECK refuses is refused by every backend's bulk writer (the
    /// SQLite one checks it itself), and nothing of the batch stays.
    pub async fn bad_references_abort_the_whole_batch(store: &Store) {
        loaded(store).await;
        let head = store.audit_head().await.unwrap();
        let bad =
            |b: PersonBatch| async move { store.insert_person_batch(&b, "tester", &entry("registry.import")).await };
        // a batch of one new person, valid until changed
        let one = || PersonBatch {
            persons: vec![person("075080000009", "Mới Một", "25210", None)],
            ..Default::default()
        };
        let mut b = one();
        b.persons.push(person("075080000010", "Xã Lạ", "99999", None));
        let err = bad(b).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "unknown commune: {err}");
        let mut b = one();
        b.persons[0].sex = "x".into();
        let err = bad(b).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "sex outside the CHECK: {err}");
        let mut b = one();
        b.payments.push((
            "075099999999".into(),
            PaymentMethod { method: "cash".into(), valid_from: "2024-01-01".into(), ..Default::default() },
        ));
        let err = bad(b).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "a record of nobody: {err}");
        let mut b = PersonBatch::default();
        b.persons.push(person("075080000009", "Mới Một", "25210", Some("HO-404")));
        let err = bad(b).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "a household that does not exist: {err}");
        let mut b = PersonBatch::default();
        b.households.push(NewHousehold {
            code: "HO-9".into(),
            commune_code: "99999".into(),
            address_line: "Ấp 9".into(),
            status: "none".into(),
            status_from: "2025-07-01".into(),
        });
        b.persons.push(person("075080000009", "Mới Một", "25210", Some("HO-9")));
        let err = bad(b).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "a household in an unknown commune: {err}");
        let mut b = one();
        b.persons[0].personal_id = "07508000009".into();
        let err = bad(b).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "an ID of 11 characters: {err}");
        let mut b = one();
        b.relationships.push(("075080000009".into(), "075099999999".into(), "child".into()));
        let err = bad(b).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "a relative who does not exist: {err}");
        let mut b = one();
        b.merits.push((
            "075080000009".into(),
            MeritRecord {
                category: "relative".into(),
                decision_no: "9/QĐ".into(),
                decision_date: "2000-01-01".into(),
                issuer: "Sở".into(),
                linked_person_id: Some(987_654_321),
                valid_from: "2000-01-01".into(),
                ..Default::default()
            },
        ));
        let err = bad(b).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "linked to a person who does not exist: {err}");
        assert!(store.person_by_personal_id("075080000009").await.unwrap().is_none(), "nothing half-written");
        assert_eq!(store.person_count().await.unwrap(), 4);
        assert_eq!(store.audit_head().await.unwrap(), head);
    }

    fn q(text: &str) -> PersonQuery {
        PersonQuery { q: Some(text.into()), ..Default::default() }
    }

    fn names(p: &store::Paged<store::registry::PersonRow>) -> Vec<String> {
        p.items.iter().map(|r| r.full_name.clone()).collect()
    }

    pub async fn search_by_id_name_given_name_and_words(store: &Store) {
        loaded(store).await;
        let all = Page::default();
        assert_eq!(names(&store.search_persons(&q("075070000004"), all).await.unwrap()), vec!["Nguyễn Văn Bình"]);
        assert_eq!(names(&store.search_persons(&q("nguyen van an"), all).await.unwrap()), vec!["Nguyễn Văn An"]);
        assert_eq!(
            names(&store.search_persons(&q("NGUYỄN VĂN"), all).await.unwrap()),
            vec!["Nguyễn Văn An", "Nguyễn Văn Bình"]
        );
        // `hoa` finds both Hòa and Hoà (given name first)
        let r = store.search_persons(&q("hoa"), all).await.unwrap();
        assert_eq!(r.total, 2);
        assert!(names(&r).contains(&"Trần Thị Hòa".to_string()) && names(&r).contains(&"Lê Thị Hoà".to_string()));
        // words in another order
        assert_eq!(names(&store.search_persons(&q("binh nguyen"), all).await.unwrap()), vec!["Nguyễn Văn Bình"]);
        assert_eq!(names(&store.search_persons(&q("van binh"), all).await.unwrap()), vec!["Nguyễn Văn Bình"]);
        assert_eq!(store.search_persons(&q("khong ai ca"), all).await.unwrap().total, 0);
        assert_eq!(store.search_persons(&q("%"), all).await.unwrap().total, 0);
        // no text: everyone, sorted by name
        let r = store.search_persons(&PersonQuery::default(), all).await.unwrap();
        assert_eq!(r.total, 4);
        assert_eq!(r.items[0].full_name, "Lê Thị Hoà");
    }

    pub async fn search_respects_area_filters_and_paging(store: &Store) {
        loaded(store).await;
        let area = PersonQuery { communes: Some(vec!["25210".into()]), ..Default::default() };
        let r = store.search_persons(&area, Page::default()).await.unwrap();
        assert_eq!(r.total, 2);
        assert!(r.items.iter().all(|p| p.commune_code == "25210"));
        let none = PersonQuery { communes: Some(vec![]), ..Default::default() };
        assert_eq!(store.search_persons(&none, Page::default()).await.unwrap().total, 0, "an empty area sees nobody");
        let cat = PersonQuery { category: Some("k6".into()), ..Default::default() };
        assert_eq!(names(&store.search_persons(&cat, Page::default()).await.unwrap()), vec!["Lê Thị Hoà"]);
        let p1 = store.search_persons(&PersonQuery::default(), Page::new(Some(1), Some(3))).await.unwrap();
        let p2 = store.search_persons(&PersonQuery::default(), Page::new(Some(2), Some(3))).await.unwrap();
        assert_eq!((p1.items.len(), p2.items.len(), p1.total), (3, 1, 4));
        let newest = PersonQuery { sort: PersonSort::Newest, ..Default::default() };
        assert_eq!(store.search_persons(&newest, Page::default()).await.unwrap().items[0].personal_id, "075070000004");
    }

    pub async fn approved_change_keeps_history_and_as_of(store: &Store) {
        loaded(store).await;
        let an = store.person_by_personal_id("075045000001").await.unwrap().unwrap();
        let payload = ChangePayload::UpdatePerson {
            patch: PersonPatch {
                address_line: Some("Ấp 7".into()),
                full_name: Some("Nguyễn Văn Ân".into()),
                ..Default::default()
            },
            valid_from: "2026-01-01".into(),
        };
        let cid = store
            .propose_change(Some(an.id), "25210", &payload, "chuyển nhà", "canboxa", &entry("change.propose"))
            .await
            .unwrap();
        assert_eq!(
            store
                .change_requests(Some("pending"), None, Some(&["25210".to_string()]), Page::default())
                .await
                .unwrap()
                .total,
            1
        );
        assert_eq!(
            store
                .change_requests(Some("pending"), None, Some(&["26068".to_string()]), Page::default())
                .await
                .unwrap()
                .total,
            0
        );
        // nothing changes before approval
        assert_eq!(store.person(an.id).await.unwrap().unwrap().address_line, "Ấp 1");
        store.approve_change(cid, "sonoivu", "", &entry("change.approve")).await.unwrap();
        let now = store.person(an.id).await.unwrap().unwrap();
        assert_eq!(
            (now.address_line.as_str(), now.full_name.as_str(), now.version, now.valid_from.as_str()),
            ("Ấp 7", "Nguyễn Văn Ân", 2, "2026-01-01")
        );
        // the name search follows the change
        assert_eq!(store.search_persons(&q("nguyen van an"), Page::default()).await.unwrap().items[0].id, an.id);
        let v = store.person_versions(an.id).await.unwrap();
        assert_eq!((v.len(), v[0].valid_to.as_deref(), v[0].recorded_by.as_str()), (1, Some("2025-12-31"), "sonoivu"));
        match store.person_as_of(an.id, "2025-08-01").await.unwrap().unwrap() {
            AsOf::Earlier(v) => assert!(v.snapshot.contains("Ấp 1")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(store.person_as_of(an.id, "2026-02-01").await.unwrap().unwrap(), AsOf::Current(_)));
        assert!(matches!(store.person_as_of(an.id, "2000-01-01").await.unwrap().unwrap(), AsOf::NotYet));
        // a change effective before the current state is refused and leaves the request pending
        let back = ChangePayload::UpdatePerson {
            patch: PersonPatch { phone: Some("0900000000".into()), ..Default::default() },
            valid_from: "2025-09-01".into(),
        };
        let c2 = store
            .propose_change(Some(an.id), "25210", &back, "sửa", "canboxa", &entry("change.propose"))
            .await
            .unwrap();
        assert!(store.approve_change(c2, "sonoivu", "", &entry("change.approve")).await.is_err());
        assert_eq!(store.change_request(c2).await.unwrap().unwrap().status, "pending");
        // adding a record updates the categories in force
        let add = ChangePayload::AddAssistance {
            record: AssistanceRecord {
                group_code: "k5b".into(),
                decision_no: "9/QĐ".into(),
                decision_date: "2026-01-01".into(),
                valid_from: "2026-01-01".into(),
                ..Default::default()
            },
        };
        let c3 = store
            .propose_change(Some(an.id), "25210", &add, "đủ 75 tuổi", "canboxa", &entry("change.propose"))
            .await
            .unwrap();
        store.approve_change(c3, "sonoivu", "", &entry("change.approve")).await.unwrap();
        assert_eq!(store.person(an.id).await.unwrap().unwrap().categories, "|g|k5b|");
        assert!(matches!(store.audit_verify().await.unwrap(), VerifyOutcome::Intact { .. }));
    }

    pub async fn rejected_and_decided_changes(store: &Store) {
        loaded(store).await;
        let an = store.person_by_personal_id("075045000001").await.unwrap().unwrap();
        let payload = ChangePayload::UpdatePerson {
            patch: PersonPatch { phone: Some("0911".into()), ..Default::default() },
            valid_from: "2026-02-01".into(),
        };
        let cid = store
            .propose_change(Some(an.id), "25210", &payload, "số mới", "canboxa", &entry("change.propose"))
            .await
            .unwrap();
        assert!(store.reject_change(cid, "sonoivu", "thiếu giấy tờ", &entry("change.reject")).await.unwrap());
        assert!(!store.reject_change(cid, "sonoivu", "again", &entry("change.reject")).await.unwrap(), "decided once");
        assert!(store.approve_change(cid, "sonoivu", "", &entry("change.approve")).await.is_err());
        let c = store.change_request(cid).await.unwrap().unwrap();
        assert_eq!((c.status.as_str(), c.decision_reason.as_deref()), ("rejected", Some("thiếu giấy tờ")));
        assert_eq!(store.person(an.id).await.unwrap().unwrap().phone, None, "a rejected change changes nothing");
        // a new dossier through maker-checker
        let create = ChangePayload::CreatePerson {
            person: person("075095000077", "Phan Văn Mới", "25210", None),
            merit: None,
            assistance: None,
            payment: None,
        };
        let c2 = store
            .propose_change(None, "25210", &create, "hồ sơ mới", "canboxa", &entry("change.propose"))
            .await
            .unwrap();
        assert!(store.person_by_personal_id("075095000077").await.unwrap().is_none());
        let id = store.approve_change(c2, "sonoivu", "", &entry("change.approve")).await.unwrap();
        assert_eq!(store.person(id).await.unwrap().unwrap().full_name, "Phan Văn Mới");
        assert_eq!(store.change_request(c2).await.unwrap().unwrap().status, "approved");
    }

    // ---- payment cycles ----

    mod payments {
        use store::payments::{Generation, LineResult, NewItem, NewLine};
        use store::{Store, StoreError};

        contract!(cycle_lines_are_frozen_past_draft, results_are_all_or_nothing_and_feed_the_next_cycle);

        fn generation() -> Generation {
            Generation {
                pack_version: "v1".into(),
                pack_files: "{}".into(),
                arrears_from: None,
                by: "sonoivu".into(),
                started_at: store::now_text(),
            }
        }

        /// A line to pay for the person with merit (bank) and a held one for the other.
        async fn lines(store: &Store) -> Vec<NewLine> {
            let payees = store.payees().await.unwrap();
            assert_eq!(payees.len(), 2, "the two persons with records");
            let item = |amount| NewItem { item: "6.1p".into(), for_month: "2026-10".into(), kind: "regular", amount };
            vec![
                NewLine {
                    person_id: payees[0].person_id,
                    personal_id: "075045000001".into(),
                    full_name: payees[0].full_name.clone(),
                    commune_code: "25210".into(),
                    method: "bank",
                    bank_name: payees[0].bank_name.clone(),
                    account_no: payees[0].account_no.clone(),
                    amount: 2_789_000,
                    status: "pay",
                    facts: "{\"person\":\"075045000001\"}".into(),
                    items: vec![item(2_789_000)],
                    ..NewLine::default()
                },
                NewLine {
                    person_id: payees[1].person_id,
                    personal_id: "075160000003".into(),
                    full_name: payees[1].full_name.clone(),
                    commune_code: "26068".into(),
                    method: "cash",
                    amount: 500_000,
                    status: "held",
                    reason: Some("Tạm dừng".into()),
                    facts: "{}".into(),
                    items: vec![NewItem {
                        item: "tgxh.k6".into(),
                        for_month: "2026-10".into(),
                        kind: "regular",
                        amount: 500_000,
                    }],
                    ..NewLine::default()
                },
            ]
        }

        async fn approved_cycle(store: &Store) -> i64 {
            super::loaded(store).await;
            let id = store
                .create_cycle(
                    "2026-10",
                    "monthly",
                    "Chi trả tháng 10/2026",
                    "sonoivu",
                    &super::entry("payments.create"),
                )
                .await
                .unwrap();
            let again =
                store.create_cycle("2026-10", "monthly", "x", "sonoivu", &super::entry("payments.create")).await;
            assert!(matches!(again, Err(StoreError::Conflict(_))), "one monthly cycle per month: {again:?}");
            assert!(store.lock_generation(id, "2000-01-01").await.unwrap());
            assert!(!store.lock_generation(id, "2000-01-01").await.unwrap(), "one generation at a time");
            store.write_cycle(id, &generation(), lines(store).await, &super::entry("payments.generate")).await.unwrap();
            // regenerating replaces the lines (no duplicates)
            assert!(store.lock_generation(id, "2000-01-01").await.unwrap());
            store.write_cycle(id, &generation(), lines(store).await, &super::entry("payments.generate")).await.unwrap();
            let c = store.cycle(id).await.unwrap().unwrap();
            assert_eq!((c.lines, c.payable_lines, c.total, c.status.as_str()), (2, 1, 2_789_000, "draft"));
            assert!(c.generating_since.is_none(), "the write released the lock");
            let sum = store.cycle_summary(id, None).await.unwrap();
            assert_eq!(sum.by_commune, vec![("25210".to_string(), 1, 2_789_000)]);
            assert_eq!(sum.by_item, vec![("6.1p".to_string(), "regular".to_string(), 2_789_000)]);
            assert_eq!(sum.by_status.len(), 2);
            assert_eq!(store.cycle_summary(id, Some(&["26068".to_string()])).await.unwrap().by_commune, vec![]);
            // steps are conditional on the state
            assert!(!store
                .advance_cycle(id, (&["checked"], "approved"), "giamdoc", "", None, &super::entry("a"))
                .await
                .unwrap());
            assert!(store
                .advance_cycle(id, (&["draft"], "checked"), "kiemtra", "", None, &super::entry("c"))
                .await
                .unwrap());
            let digest = store.cycle_digest(id).await.unwrap();
            assert_eq!(digest, store.cycle_digest(id).await.unwrap(), "the digest is deterministic");
            assert!(store
                .advance_cycle(id, (&["checked"], "approved"), "giamdoc", "", Some(&digest), &super::entry("a"))
                .await
                .unwrap());
            assert_eq!(store.cycle(id).await.unwrap().unwrap().digest.as_deref(), Some(digest.as_str()));
            id
        }

        pub async fn cycle_lines_are_frozen_past_draft(store: &Store) {
            let id = approved_cycle(store).await;
            let sql_fails = |sql: &'static str| async move {
                match store {
                    Store::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
                    Store::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
                }
                .is_err()
            };
            assert!(sql_fails("UPDATE payment_lines SET amount = amount + 1000").await, "amounts are frozen");
            assert!(sql_fails("UPDATE payment_lines SET account_no = '999'").await, "payees are frozen");
            assert!(sql_fails("DELETE FROM payment_lines").await, "lines cannot be deleted");
            assert!(sql_fails("UPDATE payment_items SET amount = 1").await, "items are frozen");
            assert!(sql_fails("DELETE FROM payment_items").await, "items cannot be deleted");
            let c = store.cycle(id).await.unwrap().unwrap();
            assert_eq!(store.cycle_digest(id).await.unwrap(), c.digest.unwrap(), "nothing changed");
            let r = store.write_cycle(id, &generation(), lines(store).await, &super::entry("payments.generate")).await;
            assert!(matches!(r, Err(StoreError::Invalid(_))), "an approved cycle is not regenerated: {r:?}");
            assert!(!store.lock_generation(id, "2000-01-01").await.unwrap());
            // what approved cycles scheduled: the paid line, not the held one
            let s = store.scheduled("2026-01", "2026-12").await.unwrap();
            assert_eq!(s.len(), 1);
            assert!(store.scheduled("2026-01", "2026-09").await.unwrap().is_empty(), "bounded by the cycle's month");
            assert_eq!((s[0].item.as_str(), s[0].amount, s[0].failed), ("6.1p", 2_789_000, false));
            assert_eq!(store.first_paid_month().await.unwrap().as_deref(), Some("2026-10"));
        }

        pub async fn results_are_all_or_nothing_and_feed_the_next_cycle(store: &Store) {
            let id = approved_cycle(store).await;
            let lines = store.cycle_lines_all(id, None, None, Some("pay")).await.unwrap();
            let ok =
                LineResult {
                    line_id: lines[0].id, result: "failed".into(), note: Some("Sai số tài khoản".into())
                };
            // not exported yet
            assert!(store.record_results(id, std::slice::from_ref(&ok), &super::entry("r")).await.is_err());
            assert!(store
                .advance_cycle(id, (&["approved"], "exported"), "sonoivu", "", None, &super::entry("e"))
                .await
                .unwrap());
            let held = store.cycle_lines_all(id, None, None, Some("held")).await.unwrap();
            let bad = LineResult { line_id: held[0].id, result: "paid".into(), note: None };
            assert!(store.record_results(id, &[ok.clone(), bad], &super::entry("r")).await.is_err());
            assert!(store.cycle_line(lines[0].id).await.unwrap().unwrap().result.is_none(), "nothing applied");
            assert!(store.record_results(id, &[ok], &super::entry("r")).await.unwrap(), "reconciled");
            let c = store.cycle(id).await.unwrap().unwrap();
            assert_eq!(c.status, "reconciled");
            // a failed line no longer counts as scheduled, and says so
            let s = store.scheduled("2026-01", "2026-12").await.unwrap();
            assert_eq!((s[0].amount, s[0].failed), (0, true));
            let u = store.uncollected("2026-12", 1, None).await.unwrap();
            assert_eq!(u.len(), 1);
            assert_eq!(u[0].personal_id, "075045000001");
            assert!(store.uncollected("2026-12", 3, None).await.unwrap().is_empty(), "one cycle is not three");
            // holds
            let p = store.payees().await.unwrap()[1].person_id;
            let h = store.hold_person(p, "Xác minh", "canboxa", &super::entry("payments.hold")).await.unwrap();
            assert_eq!(store.open_holds().await.unwrap(), vec![(p, "Xác minh".to_string())]);
            assert_eq!(store.hold(h).await.unwrap().unwrap().commune_code, "26068");
            assert!(store.release_hold(h, "canboxa", &super::entry("payments.release")).await.unwrap());
            assert!(!store.release_hold(h, "canboxa", &super::entry("payments.release")).await.unwrap());
            assert!(store.open_holds().await.unwrap().is_empty());
            assert!(matches!(store.audit_verify().await.unwrap(), store::VerifyOutcome::Intact { .. }));
        }
    }

    // ---- integrity cases ----

    mod integrity {
        use store::integrity::{CaseQuery, NewCase, Resolution};
        use store::{Page, Store};

        contract!(cases_open_once_and_resolve_with_their_consequences);

        pub async fn cases_open_once_and_resolve_with_their_consequences(store: &Store) {
            super::loaded(store).await;
            let persons = store.check_persons().await.unwrap();
            assert_eq!(persons.len(), 4);
            assert_eq!(persons[0].full_name, "Nguyễn Văn An", "ordered by id, text exact");
            let (a, b) = (persons[0].id, persons[2].id);
            let case = |check: &'static str, key: String, other: Option<i64>, commune: &str| NewCase {
                check_code: check,
                case_key: key,
                person_id: a,
                other_person_id: other,
                commune_code: commune.into(),
                score: other.map(|_| 0.97),
                summary: "Nguyễn Văn An và Lê Thị Hoà".into(),
                evidence: "{\"amount\": 1500000}".into(),
            };
            let cases = vec![
                case("duplicate", format!("pair:{a}:{b}"), Some(b), "25210"),
                case("deceased_paid", format!("deceased_paid:{a}:2026-10"), None, "25210"),
            ];
            let run = store.start_integrity_run("thanhtra").await.unwrap();
            assert_eq!(store.record_integrity_run(run, &cases, "{}", &super::entry("integrity.run")).await.unwrap(), 2);
            let run2 = store.start_integrity_run("thanhtra").await.unwrap();
            assert_eq!(
                store.record_integrity_run(run2, &cases, "{}", &super::entry("integrity.run")).await.unwrap(),
                0,
                "a finding seen before is not opened again"
            );
            let all = store.integrity_cases(&CaseQuery::default(), Page::default()).await.unwrap();
            assert_eq!(all.total, 2);
            assert_eq!(all.items[0].check_code, "deceased_paid", "the most serious first");
            let dup = all.items.iter().find(|c| c.check_code == "duplicate").unwrap().clone();
            let dead = all.items.iter().find(|c| c.check_code == "deceased_paid").unwrap().clone();
            assert_eq!(
                (dup.full_name.as_str(), dup.other_person_id, dup.score),
                ("Nguyễn Văn An", Some(b), Some(0.97))
            );
            let q = |c: Option<&str>, communes: Option<Vec<String>>| CaseQuery {
                check_code: c.map(str::to_string),
                communes,
                ..Default::default()
            };
            assert_eq!(store.integrity_cases(&q(Some("duplicate"), None), Page::default()).await.unwrap().total, 1);
            assert_eq!(
                store.integrity_cases(&q(None, Some(vec!["26068".into()])), Page::default()).await.unwrap().total,
                0,
                "the caller's area"
            );
            let stats = store.integrity_stats(None).await.unwrap();
            assert_eq!(stats.len(), 2);
            assert!(stats.iter().all(|s| s.open == 1 && s.confirmed == 0));

            // a pair of different people: never flagged again
            assert!(store.assign_case(dup.id, "kiemtra", "thanhtra", &super::entry("integrity.assign")).await.unwrap());
            assert!(store
                .resolve_case(dup.id, &Resolution::FalsePositive, "Hai người khác nhau", "kiemtra", &super::entry("r"))
                .await
                .unwrap());
            assert_eq!(store.distinct_pairs().await.unwrap(), vec![(a.min(b), a.max(b))]);
            assert!(!store
                .resolve_case(dup.id, &Resolution::FalsePositive, "again", "kiemtra", &super::entry("r"))
                .await
                .unwrap());
            assert!(
                !store.assign_case(dup.id, "x", "y", &super::entry("a")).await.unwrap(),
                "resolved: not assignable"
            );

            // confirmed: payments suspended and a recovery opened, in one transaction
            let confirmed =
                Resolution::Confirmed { suspend: a, hold_reason: "Vụ việc #2".into(), recovery: Some(1_500_000) };
            assert!(store
                .resolve_case(dead.id, &confirmed, "Đã xác minh", "thanhtra", &super::entry("r"))
                .await
                .unwrap());
            let c = store.integrity_case(dead.id).await.unwrap().unwrap();
            assert_eq!((c.status.as_str(), c.suspended_person_id), ("confirmed", Some(a)));
            let holds = store.open_holds().await.unwrap();
            assert_eq!(holds.len(), 1);
            assert_eq!(holds[0], (a, "Vụ việc #2".to_string()));
            assert!(c.hold_id.is_some());
            let rec = store.case_recoveries(dead.id).await.unwrap();
            assert_eq!((rec.len(), rec[0].amount, rec[0].person_id), (1, 1_500_000, a));
            assert_eq!(store.person_cases(a).await.unwrap().len(), 2);
            let run3 = store.start_integrity_run("thanhtra").await.unwrap();
            assert_eq!(
                store.record_integrity_run(run3, &cases, "{}", &super::entry("integrity.run")).await.unwrap(),
                0
            );
            assert!(matches!(store.audit_verify().await.unwrap(), store::VerifyOutcome::Intact { .. }));
        }
    }
}

// ---- plan monitoring ----

mod plans {
    use store::plans::{
        Decision, NewIndicator, NewPlan, NewReport, NewSection, NewTask, ProgressRow, ReportContent, ValueRow,
    };
    use store::{AuditEntry, Store, StoreError};

    contract!(plans_reports_and_their_lock);

    fn entry(action: &str) -> AuditEntry {
        AuditEntry { actor: "tester".into(), action: action.into(), entity_type: "plan".into(), ..Default::default() }
    }

    fn plan() -> NewPlan {
        let lead = |a: &str, from: &str, to: Option<&str>| {
            (a.to_string(), "lead".to_string(), from.to_string(), to.map(str::to_string), String::new())
        };
        NewPlan {
            number: "230/KH-UBND".into(),
            title: "Kế hoạch thực hiện Nghị quyết 68/NQ-CP".into(),
            issued_on: "2024-07-02".into(),
            issuer: "UBND tỉnh Đồng Nai".into(),
            legal_basis: "Nghị quyết 68/NQ-CP".into(),
            period_from: "2024-07-02".into(),
            period_to: "2030-12-31".into(),
            parent_ref: "Nghị quyết 68/NQ-CP".into(),
            owner_agency: "SO_NOI_VU".into(),
            report_kinds: "six_monthly,annual".into(),
            report_due_days: 3,
            sections: vec![NewSection {
                code: "II.3".into(),
                title: "Người có công".into(),
                tasks: vec![
                    NewTask {
                        code: "II.3.a".into(),
                        content: "Chăm lo đời sống người có công".into(),
                        deadline: "every:annual".into(),
                        expected_output: "Báo cáo".into(),
                        agencies: vec![
                            lead("SO_LDTBXH", "2024-07-02", Some("2025-02-28")),
                            lead("SO_NOI_VU", "2025-03-01", None),
                        ],
                    },
                    NewTask {
                        code: "II.3.b".into(),
                        content: "Chăm sóc sức khỏe".into(),
                        deadline: "2025-12-31".into(),
                        expected_output: "".into(),
                        agencies: vec![lead("SO_Y_TE", "2024-07-02", None)],
                    },
                ],
            }],
            indicators: vec![NewIndicator {
                code: "BHYT".into(),
                name_vi: "Tỷ lệ tham gia bảo hiểm y tế".into(),
                name_en: "Health insurance coverage".into(),
                unit: "percent".into(),
                direction: "higher".into(),
                baseline_milli: Some(92_800),
                baseline_year: Some(2023),
                source: "reported".into(),
                agency_code: Some("SO_Y_TE".into()),
                legal_basis: "Nghị quyết 42-NQ/TW".into(),
                targets: vec![(2030, "province".into(), "75".into(), 95_500)],
                ..Default::default()
            }],
        }
    }

    pub async fn plans_reports_and_their_lock(store: &Store) {
        let id = store.insert_plan(&plan(), "tester", &entry("plan.import")).await.unwrap();
        let again = store.insert_plan(&plan(), "tester", &entry("plan.import")).await.unwrap_err();
        assert!(matches!(again, StoreError::Conflict(_)), "{again}");
        assert_eq!(store.plans().await.unwrap().len(), 1, "the failed import left nothing");
        let tasks = store.plan_tasks(id).await.unwrap();
        assert_eq!(tasks.iter().map(|t| t.code.as_str()).collect::<Vec<_>>(), ["II.3.a", "II.3.b"]);
        let assign = store.plan_task_agencies(id).await.unwrap();
        assert_eq!(assign.len(), 3);
        assert_eq!(assign[0].valid_to.as_deref(), Some("2025-02-28"));
        let ind = store.indicators(id).await.unwrap();
        assert_eq!((ind[0].baseline_milli, ind[0].unit.as_str()), (Some(92_800), "percent"));
        assert_eq!(store.indicator_targets(id).await.unwrap()[0].target_milli, 95_500);
        assert!(store
            .agency_changes()
            .await
            .unwrap()
            .iter()
            .any(|c| c.agency_code == "SO_LDTBXH" && c.successor_code.as_deref() == Some("SO_Y_TE")));

        // reassign a task from a date
        assert!(store
            .reassign_task(tasks[1].id, "SO_NOI_VU", "2026-01-01", "2025-12-31", "điều chỉnh", &entry("plan.reassign"))
            .await
            .unwrap());
        let a = store.plan_task_agencies(id).await.unwrap();
        assert_eq!(a.iter().filter(|x| x.task_id == tasks[1].id).count(), 2);

        let r = NewReport {
            plan_id: id,
            agency_code: "SO_Y_TE".into(),
            period: "2026-H1".into(),
            period_kind: "six_monthly".into(),
            window_from: "2025-12-15".into(),
            window_to: "2026-06-14".into(),
            due_on: "2026-06-17".into(),
        };
        let rid = store.create_report(&r, "baocao", &entry("plan.report.create")).await.unwrap();
        assert!(matches!(store.create_report(&r, "baocao", &entry("x")).await.unwrap_err(), StoreError::Conflict(_)));
        let content = |v: i64| ReportContent {
            summary: "Tóm tắt".into(),
            progress: vec![ProgressRow {
                report_id: rid,
                task_id: tasks[1].id,
                progress: "done".into(),
                completed_on: Some("2026-06-01".into()),
                note: "Đã xong".into(),
            }],
            values: vec![ValueRow {
                indicator_id: ind[0].id,
                report_id: rid,
                period: "2026-H1".into(),
                period_end: "2026-06-14".into(),
                unit_level: "province".into(),
                unit_code: "75".into(),
                value_milli: v,
                note: String::new(),
            }],
        };
        assert!(store.save_report(rid, &content(94_000), "baocao", "{\"v\":94000}", &entry("save")).await.unwrap());
        assert!(
            store.save_report(rid, &content(94_100), "baocao", "{\"v\":94100}", &entry("save")).await.unwrap(),
            "a draft is replaced"
        );
        assert_eq!(store.report_values(rid).await.unwrap().len(), 1);
        assert!(store.plan_progress(id).await.unwrap().is_empty(), "drafts do not count");
        assert!(store
            .submit_report(rid, "baocao", "2026-06-20T09:00:00.000000Z", "{}", &entry("submit"))
            .await
            .unwrap());
        assert!(
            !store.save_report(rid, &content(1), "baocao", "{}", &entry("save")).await.unwrap(),
            "submitted: not editable"
        );
        assert_eq!(store.plan_progress(id).await.unwrap().len(), 1);
        assert!(store
            .decide_report(
                rid,
                Decision::Return,
                "Bổ sung",
                "sonoivu",
                "2026-06-22T09:00:00.000000Z",
                "{}",
                &entry("return")
            )
            .await
            .unwrap());
        assert!(
            store.save_report(rid, &content(94_300), "baocao", "{}", &entry("save")).await.unwrap(),
            "returned: editable"
        );
        assert!(store
            .submit_report(rid, "baocao", "2026-06-25T09:00:00.000000Z", "{}", &entry("submit"))
            .await
            .unwrap());
        assert!(store
            .decide_report(rid, Decision::Accept, "", "sonoivu", "2026-06-26T09:00:00.000000Z", "{}", &entry("accept"))
            .await
            .unwrap());
        assert!(!store
            .decide_report(rid, Decision::Return, "x", "sonoivu", "2026-06-27T09:00:00.000000Z", "{}", &entry("x"))
            .await
            .unwrap());
        let rep = store.plan_report(rid).await.unwrap().unwrap();
        assert_eq!((rep.status.as_str(), rep.revision), ("accepted", 2));
        assert_eq!(
            rep.first_submitted_at.as_deref(),
            Some("2026-06-20T09:00:00.000000Z"),
            "timeliness counts the first submission"
        );
        let ev = store.report_events(rid).await.unwrap();
        assert_eq!(
            ev.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["created", "saved", "saved", "submitted", "returned", "saved", "submitted", "accepted"]
        );
        assert_eq!(ev[1].content, "{\"v\":94000}", "each step keeps what the report held");
        let vals = store.plan_values(id).await.unwrap();
        assert_eq!((vals[0].value_milli, vals[0].status.as_str()), (94_300, "accepted"));

        // the database itself refuses to change an accepted report or its content
        let locked = match store {
            Store::Sqlite(p) => sqlx::query("UPDATE indicator_values SET value_milli = 1").execute(p).await.err(),
            Store::Postgres(p) => sqlx::query("UPDATE indicator_values SET value_milli = 1").execute(p).await.err(),
        };
        assert!(locked.unwrap().to_string().contains("locked"));
        let locked = match store {
            Store::Sqlite(p) => sqlx::query("UPDATE plan_reports SET summary = 'x'").execute(p).await.err(),
            Store::Postgres(p) => sqlx::query("UPDATE plan_reports SET summary = 'x'").execute(p).await.err(),
        };
        assert!(locked.unwrap().to_string().contains("locked"));
        assert!(!store.save_report(rid, &content(1), "baocao", "{}", &entry("save")).await.unwrap());

        assert!(store.close_period(id, "2026-H1", "sonoivu", &entry("close")).await.unwrap());
        assert!(!store.close_period(id, "2026-H1", "sonoivu", &entry("close")).await.unwrap());
        assert_eq!(store.closed_periods(id).await.unwrap(), ["2026-H1"]);

        // the computed indicators' sources: no cycles yet; the registry's version moves with an
        // import, and the beneficiaries are counted per commune
        assert!(store.cycle_states().await.unwrap().is_empty());
        assert!(store.cycle_commune_figures(1, "2026-10").await.unwrap().is_empty());
        let v0 = store.registry_version().await.unwrap();
        assert_eq!(store.registry_version().await.unwrap(), v0, "stable while nothing changes");
        assert!(store.close_period(id, "2026", "sonoivu", &entry("close")).await.unwrap());
        assert_eq!(store.registry_version().await.unwrap(), v0, "plan work does not touch the registry");
        super::registry::loaded(store).await;
        assert_ne!(store.registry_version().await.unwrap(), v0, "an import moves the version");
        let a = store.assistance_beneficiaries("2026-11-29").await.unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!((a[0].commune_code.as_str(), a[0].n), ("26068", 1));
        assert!(matches!(store.audit_verify().await.unwrap(), store::VerifyOutcome::Intact { .. }));
    }
}

// ---- complaints ----

mod complaints {
    use store::complaints::{NewComplaint, Step};
    use store::{AuditEntry, Store, StoreError};

    contract!(
        complaints_step_through_their_workflow_and_are_rated_once,
        complaint_files_extensions_and_portal_codes,
        calendar_years_are_replaced_whole
    );

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            actor: "tester".into(),
            action: action.into(),
            entity_type: "complaint".into(),
            ..Default::default()
        }
    }

    pub async fn complaints_step_through_their_workflow_and_are_rated_once(store: &Store) {
        super::loaded(store).await;
        let c = NewComplaint {
            tracking_code: "ABCD-EFGH-JKLM".into(),
            kind: "complaint".into(),
            channel: "portal".into(),
            subject: "payment".into(),
            title: "Chưa nhận trợ cấp".into(),
            content: "Nội dung".into(),
            filer_name: "Đỗ Thị Mười".into(),
            commune_code: "25210".into(),
            agency_code: "UBND_XA".into(),
            received_on: "2026-11-30".into(),
            acceptance_due: "2026-12-09".into(),
            ..Default::default()
        };
        let id = store.insert_complaint(&c, "portal", &entry("complaint.file")).await.unwrap();
        let again = store.insert_complaint(&c, "portal", &entry("complaint.file")).await.unwrap_err();
        assert!(matches!(again, StoreError::Conflict(_)), "tracking codes are unique: {again}");
        assert_eq!(store.complaint_by_code("ABCD-EFGH-JKLM").await.unwrap().unwrap().id, id);
        assert!(store.complaint_by_code("ABCD-EFGH-XXXX").await.unwrap().is_none());
        let close = Step::Close { on: "2026-12-01".into() };
        assert!(!store.complaint_step(id, &close, "canboxa", "", &entry("x")).await.unwrap(), "not from received");
        assert!(!store.rate_complaint(id, 4, "", &entry("rate")).await.unwrap(), "not rated before it is closed");
        let accept = Step::Accept {
            accepted_on: "2026-12-01".into(),
            resolution_due: "2026-12-31".into(),
            assigned_to: "canboxa".into(),
            variant: "normal".into(),
            complex_note: None,
        };
        assert!(store.complaint_step(id, &accept, "canboxa", "", &entry("a")).await.unwrap());
        assert!(!store.complaint_step(id, &accept, "canboxa", "", &entry("a")).await.unwrap(), "once");
        for s in [
            Step::Verify,
            Step::Decide { outcome: "upheld".into(), note: "Đúng".into(), on: "2026-12-10".into() },
            Step::Notify { on: "2026-12-11".into() },
            close,
        ] {
            assert!(store.complaint_step(id, &s, "canboxa", "", &entry("s")).await.unwrap(), "{s:?}");
        }
        let row = store.complaint(id).await.unwrap().unwrap();
        assert_eq!(
            (row.status.as_str(), row.outcome.as_deref(), row.closed_on.as_deref()),
            ("closed", Some("upheld"), Some("2026-12-01"))
        );
        assert_eq!(store.complaint_events(id).await.unwrap().len(), 6);
        assert!(store.rate_complaint(id, 4, "Tốt", &entry("rate")).await.unwrap());
        assert!(!store.rate_complaint(id, 5, "", &entry("rate")).await.unwrap(), "once");
        let s = store.satisfaction().await.unwrap();
        assert_eq!((s[0].agency_code.as_str(), s[0].ratings, s[0].score_sum), ("UBND_XA", 1, 4));
        let on_time = store.complaints_on_time().await.unwrap();
        assert_eq!((on_time[0].n, on_time[0].of), (1, 1));
        assert_eq!(store.complaints(Some("closed"), Some(&["25195".to_string()])).await.unwrap().len(), 0, "area");
        assert_eq!(store.complaints(None, None).await.unwrap().len(), 1);
        assert!(!store.complaint_escalated(id).await.unwrap());
        // the public posting leaves out anyone with an HIV-marked record (the loaded registry's
        // only beneficiary, in 26068, has one)
        super::registry::loaded(store).await;
        assert!(store.posting("26068", "2026-11-29").await.unwrap().is_empty());
        assert!(store.posting("25210", "2026-11-29").await.unwrap().is_empty());
        assert!(matches!(store.audit_verify().await.unwrap(), store::VerifyOutcome::Intact { .. }));
    }

    pub async fn complaint_files_extensions_and_portal_codes(store: &Store) {
        use store::complaints::NewAttachment;
        use store::portal::NewCode;
        super::registry::loaded(store).await;
        // binary content round-trips exactly, stored with the case in one transaction
        let bytes = vec![0x89, b'P', b'N', b'G', 0x00, 0xFF, 0x0D, 0x0A];
        let file = NewAttachment {
            file_name: "ảnh chụp.png".into(),
            content_type: "image/png".into(),
            data: bytes.clone(),
            sha256: "ab".repeat(32),
        };
        let c = NewComplaint {
            tracking_code: "WXYZ-EFGH-JKLM".into(),
            kind: "denunciation".into(),
            channel: "reception".into(),
            subject: "officer_conduct".into(),
            title: "Tố cáo".into(),
            content: "Nội dung".into(),
            filer_name: "Người tố cáo".into(),
            commune_code: "25210".into(),
            agency_code: "UBND_XA".into(),
            received_on: "2026-11-30".into(),
            acceptance_due: "2026-12-09".into(),
            attachments: vec![file.clone()],
            ..Default::default()
        };
        let id = store.insert_complaint(&c, "canboxa", &entry("complaint.file")).await.unwrap();
        let list = store.attachments(id).await.unwrap();
        assert_eq!((list.len(), list[0].size, list[0].file_name.as_str()), (1, 8, "ảnh chụp.png"));
        let (meta, data) = store.attachment(id, list[0].id).await.unwrap().unwrap();
        assert_eq!((meta.content_type.as_str(), data), ("image/png", bytes));
        assert!(store.attachment(id + 1, list[0].id).await.unwrap().is_none(), "only through its own case");
        // a bad row (a type the schema does not allow) leaves nothing behind
        let bad = NewAttachment { content_type: "text/html".into(), ..file.clone() };
        assert!(store.add_attachments(id, &[file.clone(), bad], "canboxa", &entry("attach")).await.is_err());
        assert_eq!(store.attachments(id).await.unwrap().len(), 1, "all or nothing");
        assert!(store.add_attachments(id, std::slice::from_ref(&file), "canboxa", &entry("attach")).await.unwrap());
        assert_eq!(store.attachments(id).await.unwrap().len(), 2);
        // extensions: only of an accepted case in the stated variant
        assert!(!store
            .extend_complaint(id, "normal", "complex", Some("2027-01-29"), "Phức tạp", "so", &entry("e"))
            .await
            .unwrap());
        let accept = Step::Accept {
            accepted_on: "2026-11-30".into(),
            resolution_due: "2026-12-30".into(),
            assigned_to: "sonoivu".into(),
            variant: "normal".into(),
            complex_note: None,
        };
        assert!(store.complaint_step(id, &accept, "sonoivu", "", &entry("a")).await.unwrap());
        assert!(
            !store.extend_complaint(id, "complex", "very_complex", None, "x", "so", &entry("e")).await.unwrap(),
            "stale variant"
        );
        assert!(store
            .extend_complaint(id, "normal", "complex", Some("2027-01-29"), "Nhiều người liên quan", "so", &entry("e"))
            .await
            .unwrap());
        assert!(store
            .extend_complaint(id, "complex", "very_complex", Some("2027-02-28"), "Cần giám định", "so", &entry("e"))
            .await
            .unwrap());
        let row = store.complaint(id).await.unwrap().unwrap();
        assert_eq!((row.variant.as_str(), row.resolution_due.as_deref()), ("very_complex", Some("2027-02-28")));
        assert_eq!(row.complex_note.as_deref(), Some("Nhiều người liên quan | Cần giám định"));
        let events = store.complaint_events(id).await.unwrap();
        assert_eq!(events.iter().filter(|e| e.action == "extended").count(), 2);

        // lookup codes: a reissued printed code replaces the old one; an SMS code is used once
        let person = store.person(1).await.unwrap().unwrap();
        let code = |channel: &str, hash: &str, expires: &str| NewCode {
            person_id: person.id,
            channel: channel.into(),
            salt: "s".into(),
            code_hash: hash.into(),
            issued_by: "canboxa".into(),
            expires_at: expires.into(),
        };
        let now = store::now_text();
        store.issue_portal_code(&code("decision", "h1", "2099-01-01T00:00:00.000000Z"), &entry("code")).await.unwrap();
        store.issue_portal_code(&code("decision", "h2", "2099-01-01T00:00:00.000000Z"), &entry("code")).await.unwrap();
        store.issue_portal_code(&code("sms", "h3", "2099-01-01T00:00:00.000000Z"), &entry("code")).await.unwrap();
        store.issue_portal_code(&code("sms", "h4", "2000-01-01T00:00:00.000000Z"), &entry("code")).await.unwrap();
        let live = store.live_portal_codes(person.id, &now).await.unwrap();
        let hashes: Vec<&str> = live.iter().map(|c| c.code_hash.as_str()).collect();
        assert_eq!(hashes, vec!["h3", "h2"], "the replaced and the expired codes are gone");
        // failures and SMS sends per typed ID
        for _ in 0..3 {
            store.portal_attempt(&person.personal_id, "failure").await.unwrap();
        }
        store.portal_attempt(&person.personal_id, "sms").await.unwrap();
        let since = "2000-01-01T00:00:00.000000Z";
        assert_eq!(store.portal_attempts_since(&person.personal_id, "failure", since).await.unwrap(), 3);
        assert_eq!(store.portal_attempts_since(&person.personal_id, "failure", "2099-01-01").await.unwrap(), 0);
        assert_eq!(store.portal_attempts_since(&person.personal_id, "sms", since).await.unwrap(), 1);
        let sms = live.iter().find(|c| c.channel == "sms").unwrap();
        let exp = "2099-01-01T00:00:00.000000Z";
        assert!(store
            .open_portal_session(Some(sms), &person.personal_id, person.id, "t1", exp, &entry("id"))
            .await
            .unwrap());
        assert!(
            !store
                .open_portal_session(Some(sms), &person.personal_id, person.id, "t2", exp, &entry("id"))
                .await
                .unwrap(),
            "used"
        );
        assert_eq!(
            store.portal_attempts_since(&person.personal_id, "failure", since).await.unwrap(),
            0,
            "forgotten on success"
        );
        assert_eq!(store.live_portal_codes(person.id, &store::now_text()).await.unwrap().len(), 1);
        assert_eq!(store.portal_session("t1", &store::now_text()).await.unwrap(), Some(person.id));
        assert_eq!(store.portal_session("t1", "2099-06-01T00:00:00.000000Z").await.unwrap(), None, "expired");
        assert_eq!(store.portal_session("t2", &store::now_text()).await.unwrap(), None);
        // an e-ID login's state is taken once, and only while fresh
        store.put_oidc_state("st-1", "nonce-1").await.unwrap();
        store.put_oidc_state("st-2", "nonce-2").await.unwrap();
        assert_eq!(store.take_oidc_state("st-1", since).await.unwrap().as_deref(), Some("nonce-1"));
        assert_eq!(store.take_oidc_state("st-1", since).await.unwrap(), None, "once");
        assert_eq!(store.take_oidc_state("st-2", "2099-01-01T00:00:00.000000Z").await.unwrap(), None, "stale");
        assert!(store
            .open_portal_session(None, &person.personal_id, person.id, "t3", exp, &entry("eid"))
            .await
            .unwrap());
        store.close_portal_session("t1").await.unwrap();
        // pruning drops spent codes (the used SMS code, the replaced and the expired ones)
        assert!(store.prune_portal().await.unwrap() >= 3);
        assert_eq!(
            store.live_portal_codes(person.id, &store::now_text()).await.unwrap().len(),
            1,
            "the live code stays"
        );
        assert_eq!(store.portal_session("t1", &store::now_text()).await.unwrap(), None);
        // a rating needs the person's own paid line
        assert!(!store.rate_payment(person.id, 1, "UBND_XA", 5, "", &entry("rate")).await.unwrap());
        assert!(store.payment_ratings_of(person.id).await.unwrap().is_empty());
        assert!(matches!(store.audit_verify().await.unwrap(), store::VerifyOutcome::Intact { .. }));
    }

    pub async fn calendar_years_are_replaced_whole(store: &Store) {
        use store::calendar::CalendarDay;
        let day = |d: &str, kind: &str| CalendarDay {
            day: d.into(),
            kind: kind.into(),
            name: "Nghỉ bù".into(),
            source: "Thông báo (thử)".into(),
        };
        let v0 = store.calendar_version().await.unwrap();
        assert!(store.calendar_days().await.unwrap().is_empty());
        let y27 = [day("2027-01-01", "holiday"), day("2027-02-06", "workday")];
        store.replace_calendar_year(2027, &y27, "quantri", &entry("calendar")).await.unwrap();
        store
            .replace_calendar_year(2028, &[day("2028-01-03", "holiday")], "quantri", &entry("calendar"))
            .await
            .unwrap();
        assert_eq!(store.calendar_days().await.unwrap().len(), 3);
        let v1 = store.calendar_version().await.unwrap();
        assert_ne!(v0, v1);
        // replacing a year drops its old rows; a failing row leaves the year as it was
        let v2 = store.calendar_version().await.unwrap();
        store
            .replace_calendar_year(2027, &[day("2027-01-04", "holiday")], "quantri", &entry("calendar"))
            .await
            .unwrap();
        assert_ne!(store.calendar_version().await.unwrap(), v2, "a same-size replacement is a new version too");
        let days: Vec<String> = store.calendar_days().await.unwrap().into_iter().map(|d| d.day).collect();
        assert_eq!(days, vec!["2027-01-04", "2028-01-03"]);
        let bad = [day("2027-01-05", "holiday"), day("2027-01-06", "vacation")];
        assert!(store.replace_calendar_year(2027, &bad, "quantri", &entry("calendar")).await.is_err());
        let days: Vec<String> = store.calendar_days().await.unwrap().into_iter().map(|d| d.day).collect();
        assert_eq!(days, vec!["2027-01-04", "2028-01-03"], "all or nothing");
        store.replace_calendar_year(2028, &[], "quantri", &entry("calendar")).await.unwrap();
        assert_eq!(store.calendar_days().await.unwrap().len(), 1, "an empty year goes back to the compiled data");
        assert_ne!(store.calendar_version().await.unwrap(), v1);
        assert!(matches!(store.audit_verify().await.unwrap(), store::VerifyOutcome::Intact { .. }));
    }
}
