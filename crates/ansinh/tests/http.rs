//! Black-box HTTP tests: the real binary on a random port, on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{get, Db, Server};
use store::Backend;

fn row_count(html: &str) -> usize {
    html.matches("<tr><td class=\"num\">").count()
}

async fn start_page_and_api(backend: Backend) {
    let db = Db::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["demo", "--database-url", &db.url]);

    // start page: Vietnamese, the province and its 95 communes
    let r = get(&server.url("/"), &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.body.contains("<html lang=\"vi\">"));
    assert!(r.body.contains("<h1>Tỉnh Đồng Nai</h1>"));
    assert!(r.body.contains("Phường Đồng Xoài") && r.body.contains("Phường Biên Hòa"));
    assert_eq!(row_count(&r.body), 95);
    assert!(r.body.contains("<dd id=\"total\">95</dd>"));
    // security headers and request id on every response
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("content-security-policy").unwrap().contains("default-src 'self'"));
    assert!(r.header("x-request-id").is_some_and(|v| !v.is_empty()));

    // a sane incoming request id is kept
    let r = get(&server.url("/healthz"), &[("x-request-id", "abc-123")]);
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    assert_eq!(r.header("x-request-id"), Some("abc-123"));

    // English on request, remembered in a cookie
    let r = get(&server.url("/?lang=en"), &[]);
    assert!(r.body.contains("<html lang=\"en\">") && r.body.contains("Commune-level administrative units"));
    assert!(r.header("set-cookie").unwrap().starts_with("lang=en"));
    let r = get(&server.url("/"), &[("cookie", "lang=en")]);
    assert!(r.body.contains("<html lang=\"en\">"));

    // search without diacritics; former units map to today's commune
    let r = get(&server.url("/?q=dong%20xoai"), &[]);
    assert_eq!(row_count(&r.body), 1);
    assert!(r.body.contains("25210"));
    let r = get(&server.url("/?q=xuan%20tam"), &[]);
    assert!(r.body.contains("id=\"former\""));
    assert!(r.body.contains("Xã Xuân Tâm") && r.body.contains("Xã Xuân Đông") && r.body.contains("Xã Xuân Hòa"));
    // a whole pre-reform address, typed without diacritics
    let r = get(&server.url("/?q=Ap%203%2C%20xa%20Tien%20Hung%2C%20TP%20Dong%20Xoai"), &[]);
    assert!(r.body.contains("Xã Tiến Hưng") && r.body.contains("<strong>Phường Bình Phước</strong>"), "{}", r.body);
    let long = "a".repeat(101);
    let r = get(&server.url(&format!("/?q={long}")), &[]);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("q: tối đa 100 ký tự"), "{}", r.body);

    // JSON API from the same service
    let r = get(&server.url("/api/v1/provinces/75/communes"), &[]);
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["commune_total"], 95);
    assert_eq!(v["communes"].as_array().unwrap().len(), 95);
    assert_eq!(v["xa"].as_u64().unwrap() + v["phuong"].as_u64().unwrap(), 95);
    let r = get(&server.url("/api/v1/provinces/99/communes"), &[]);
    assert_eq!(r.status, 404);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["code"], "not_found");
    assert!(v["details"]["request_id"].is_string());
    let r = get(&server.url("/api/v1/nothing"), &[]);
    assert_eq!(r.status, 404);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["code"], "not_found");
    let r = get(&server.url("/no/such/page"), &[]);
    assert_eq!(r.status, 404);
    assert!(r.body.contains("Không tìm thấy trang"));

    // assets are embedded
    let r = get(&server.url("/assets/app.css"), &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/css"));

    // metrics in Prometheus text format, counting what happened above
    let r = get(&server.url("/metrics"), &[]);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    assert!(r.body.trim_end().ends_with("# EOF"));
    assert!(r.body.contains("ansinh_http_requests_total{method=\"GET\",route=\"/\",status=\"200\"}"));
    assert!(r.body.contains("ansinh_database_up 1"));
    assert!(r.body.contains("ansinh_build_info{version="));
    assert!(r.body.contains("ansinh_http_request_duration_seconds_bucket"));

    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0");
    db.drop_db().await;
}

#[tokio::test]
async fn start_page_and_api_on_sqlite() {
    start_page_and_api(Backend::Sqlite).await;
}

#[tokio::test]
async fn start_page_and_api_on_postgres() {
    start_page_and_api(Backend::Postgres).await;
}

#[tokio::test]
async fn secrets_are_never_logged() {
    // The test cluster trusts local logins, so any password is accepted: it must not
    // appear in output or logs, even at trace level.
    let db = Db::new(Backend::Postgres).await;
    let with_pw = db.url.replacen("postgres://postgres@", "postgres://postgres:TopSecret42@", 1);
    assert_ne!(with_pw, db.url);
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::cmd(dir.path(), &["serve", "--database-url", &with_pw, "--log-format", "json"]);
    c.env("ANSINH_LOG_LEVEL", "trace");
    let server = Server::start_with(c, dir.path());
    let r = get(&server.url("/healthz"), &[]);
    assert_eq!(r.status, 200);
    let logs = server.logs();
    assert!(!logs.contains("TopSecret42"), "password leaked into logs");
    // JSON logs: each line is an object
    let first = logs.lines().find(|l| l.contains("serving")).expect("serving line");
    let v: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(v["level"], "INFO");
    assert!(v["database"].as_str().unwrap().contains("***"));
    drop(server);
    db.drop_db().await;
}

/// Wrong password, lock-out, expired session, missing or wrong CSRF token, oversized
/// body, malformed JSON, unknown route, forbidden area: the right status, a clear
/// message in the right language, no internal text, nothing changed.
async fn bad_input(backend: Backend) {
    use common::{login, send, DEMO_PASSWORD};
    let db = Db::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["demo", "--database-url", &db.url]);
    let base = server.base.clone();
    let admin = login(&base, "quantri", DEMO_PASSWORD).unwrap();
    let users_before = get(&format!("{base}/api/v1/users"), &admin.headers()).body;
    let count = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap()["total"].as_i64().unwrap();
    let json = |r: &common::Response| serde_json::from_str::<serde_json::Value>(&r.body).unwrap();

    // wrong password: Vietnamese by default, English when asked
    let r = login(&base, "quantri", "sai-mat-khau").unwrap_err();
    assert_eq!(r.status, 401);
    assert_eq!(json(&r)["code"], "bad_credentials");
    assert_eq!(json(&r)["message"], "Sai tên đăng nhập hoặc mật khẩu.");
    let body = br#"{"username":"quantri","password":"nope-nope"}"#;
    let r =
        send("POST", &format!("{base}/api/v1/session"), &[("accept-language", "en")], Some(("application/json", body)));
    assert_eq!(json(&r)["message"], "Wrong username or password.");
    // an unknown user gets the same answer (no user enumeration)
    let r = login(&base, "khongtontai", "whatever-pass").unwrap_err();
    assert_eq!((r.status, json(&r)["code"].as_str()), (401, Some("bad_credentials")));
    // the login page shows the message too
    let r = send(
        "POST",
        &format!("{base}/login"),
        &[],
        Some(("application/x-www-form-urlencoded", b"username=quantri&password=x")),
    );
    assert_eq!(r.status, 401);
    assert!(r.body.contains("id=\"login-error\"") && r.body.contains("Sai tên đăng nhập hoặc mật khẩu."));

    // five failures lock the account for 15 minutes, even with the right password
    for _ in 0..3 {
        let _ = login(&base, "lanhdao", "wrong-password");
    }
    let _ = login(&base, "lanhdao", "wrong-password");
    let r = login(&base, "lanhdao", "wrong-password").unwrap_err();
    assert_eq!((r.status, json(&r)["code"].as_str()), (429, Some("account_locked")));
    assert!(json(&r)["message"].as_str().unwrap().starts_with("Tài khoản tạm khóa đến"));
    let r = login(&base, "lanhdao", DEMO_PASSWORD).unwrap_err();
    assert_eq!(r.status, 429);
    // the administrator's reset unlocks it
    let users = json(&get(&format!("{base}/api/v1/users?q=lanhdao"), &admin.headers()));
    let lid = users["items"][0]["id"].as_i64().unwrap();
    assert_eq!(users["items"][0]["locked"], true);
    let r = send("POST", &format!("{base}/api/v1/users/{lid}/reset-password"), &admin.headers(), None);
    let temp = json(&r)["temporary_password"].as_str().unwrap().to_string();
    let s = login(&base, "lanhdao", &temp).unwrap();
    let me = json(&get(&format!("{base}/api/v1/me"), &s.headers()));
    assert_eq!(me["must_change_password"], true);
    // in the UI a temporary password must be changed before anything else
    let r = get(&format!("{base}/home"), &[("cookie", &s.cookie)]);
    assert_eq!((r.status, r.header("location")), (303, Some("/account?must_change=1")));
    // … and in the API
    let r = get(&format!("{base}/api/v1/users"), &s.headers());
    assert_eq!(r.status, 403);
    // the open-redirect trick of a tab inside `next` is refused
    let r = send(
        "POST",
        &format!("{base}/login"),
        &[],
        Some((
            "application/x-www-form-urlencoded",
            b"username=thanhtra&password=ansinh-demo-2026&next=/%09/evil.example",
        )),
    );
    assert_eq!((r.status, r.header("location")), (303, Some("/home")));

    // expired or forged session: 401 in the API, the login page in the UI
    let forged = [("cookie", "ansinh_session=0123456789abcdef")];
    let r = get(&format!("{base}/api/v1/me"), &forged);
    assert_eq!((r.status, json(&r)["code"].as_str()), (401, Some("unauthenticated")));
    let r = get(&format!("{base}/home"), &forged);
    assert_eq!((r.status, r.header("location")), (303, Some("/login?next=%2Fhome")));

    // a session that really expired (its expiry moved into the past in the database)
    let old = login(&base, "sonoivu", DEMO_PASSWORD).unwrap();
    assert_eq!(get(&format!("{base}/api/v1/me"), &old.headers()).status, 200);
    match backend {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
            sqlx::query("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000000Z'").execute(&pool).await.unwrap();
            pool.close().await;
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::query("UPDATE sessions SET expires_at = '2000-01-01T00:00:00.000000Z'").execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
    let r = get(&format!("{base}/api/v1/me"), &old.headers());
    assert_eq!((r.status, json(&r)["code"].as_str()), (401, Some("unauthenticated")));
    let r = get(&format!("{base}/account"), &[("cookie", &old.cookie)]);
    assert_eq!((r.status, r.header("location")), (303, Some("/login?next=%2Faccount")));
    let admin = login(&base, "quantri", DEMO_PASSWORD).unwrap();

    // CSRF: missing or wrong token on a state-changing request with the cookie
    let body = br#"{"username":"csrf.test","full_name":"A B","role":"leader"}"#;
    let r =
        send("POST", &format!("{base}/api/v1/users"), &[("cookie", &admin.cookie)], Some(("application/json", body)));
    assert_eq!((r.status, json(&r)["code"].as_str()), (403, Some("csrf_failed")));
    let r = send(
        "POST",
        &format!("{base}/api/v1/users"),
        &[("cookie", &admin.cookie), ("x-csrf-token", "wrong")],
        Some(("application/json", body)),
    );
    assert_eq!(r.status, 403);
    let r = send(
        "POST",
        &format!("{base}/users"),
        &[("cookie", &admin.cookie)],
        Some(("application/x-www-form-urlencoded", b"username=csrf.form&full_name=A+B&role=leader&_csrf=bad")),
    );
    assert_eq!(r.status, 403);
    assert!(r.body.contains("tải lại trang"), "{}", r.body);
    // a cross-site login form is refused
    let r = send(
        "POST",
        &format!("{base}/login"),
        &[("origin", "http://evil.example")],
        Some(("application/x-www-form-urlencoded", b"username=quantri&password=ansinh-demo-2026")),
    );
    assert_eq!(r.status, 403);

    // oversized body
    let big = vec![b'a'; 300 * 1024];
    let r = send("POST", &format!("{base}/api/v1/users"), &admin.headers(), Some(("application/json", &big)));
    assert_eq!((r.status, json(&r)["code"].as_str()), (413, Some("payload_too_large")));

    // malformed JSON and wrong content type
    let r =
        send("POST", &format!("{base}/api/v1/users"), &admin.headers(), Some(("application/json", b"{\"username\": ")));
    assert_eq!((r.status, json(&r)["code"].as_str()), (400, Some("malformed_json")));
    assert!(json(&r)["message"].as_str().unwrap().contains("line 1"));
    let r = send("POST", &format!("{base}/api/v1/users"), &admin.headers(), Some(("text/plain", b"hello")));
    assert_eq!(r.status, 400);
    // a field error names the field
    let r = send(
        "POST",
        &format!("{base}/api/v1/users"),
        &admin.headers(),
        Some(("application/json", br#"{"username":"ok.name","full_name":"A","role":"commune_officer"}"#)),
    );
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("communes")));

    // unknown route
    let r = get(&format!("{base}/api/v1/khong-co"), &admin.headers());
    assert_eq!((r.status, json(&r)["code"].as_str()), (404, Some("not_found")));

    // a forbidden area
    let xa = login(&base, "canboxa", DEMO_PASSWORD).unwrap();
    let r = get(&format!("{base}/api/v1/communes/26068"), &xa.headers());
    assert_eq!((r.status, json(&r)["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(json(&r)["message"], "Bạn không có quyền thực hiện thao tác này.");
    let r = get(&format!("{base}/communes/26068"), &[("cookie", &xa.cookie)]);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Không có quyền truy cập"));

    // none of it leaked internals or changed anything
    let users_after = get(&format!("{base}/api/v1/users"), &admin.headers()).body;
    assert_eq!(count(&users_before), count(&users_after));
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    let v = json(&get(&format!("{base}/api/v1/audit/verify"), &admin.headers()));
    assert_eq!(v["intact"], true);
    // failed logins are in the audit trail
    let v = json(&get(&format!("{base}/api/v1/audit?action=auth.login_failed&per_page=200"), &admin.headers()));
    assert!(v["total"].as_i64().unwrap() >= 8, "{v}");
    db.drop_db().await;
}

#[tokio::test]
async fn bad_input_on_sqlite() {
    bad_input(Backend::Sqlite).await;
}

#[tokio::test]
async fn bad_input_on_postgres() {
    bad_input(Backend::Postgres).await;
}

/// With a metrics token, /metrics answers only a scraper that sends it (even on this machine).
#[test]
fn metrics_token_guards_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::cmd(dir.path(), &["serve", "--database-url", "sqlite://m.db"]);
    c.env("ANSINH_METRICS_TOKEN", "a-long-random-metrics-secret");
    let server = Server::start_with(c, dir.path());
    assert_eq!(get(&server.url("/metrics"), &[]).status, 403);
    assert_eq!(get(&server.url("/metrics"), &[("authorization", "Bearer wrong-token-of-some-length")]).status, 403);
    let r = get(&server.url("/metrics"), &[("authorization", "Bearer a-long-random-metrics-secret")]);
    assert_eq!(r.status, 200);
    assert!(r.body.trim_end().ends_with("# EOF"));
    let status = server.terminate();
    assert!(status.success());
}
