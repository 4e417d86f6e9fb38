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
    assert!(r.body.contains("at most 100 characters"));

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
