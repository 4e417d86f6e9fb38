//! The OpenAPI document: valid OpenAPI 3 (checked by the reference validator,
//! `openapi-spec-validator`, which scripts/test.sh installs), and complete — every
//! `/api/v1` route the server answers is documented.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{get, Server};

#[test]
fn openapi_document_validates_and_covers_the_api() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), &["demo"]);
    let r = get(&server.url("/api/v1/openapi.json"), &[]);
    assert_eq!(r.status, 200);
    let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));

    let file = d.path().join("openapi.json");
    std::fs::write(&file, &r.body).unwrap();
    let o = std::process::Command::new("python3").args(["-m", "openapi_spec_validator"]).arg(&file).output().unwrap();
    assert!(
        o.status.success(),
        "openapi-spec-validator rejected the document (install: pip install openapi-spec-validator)\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    // every route of the API router appears with the right methods
    let routes = [
        ("post", "/api/v1/session"),
        ("delete", "/api/v1/session"),
        ("get", "/api/v1/me"),
        ("get", "/api/v1/roles"),
        ("get", "/api/v1/agencies"),
        ("get", "/api/v1/provinces/{code}/communes"),
        ("get", "/api/v1/communes/{code}"),
        ("get", "/api/v1/users"),
        ("post", "/api/v1/users"),
        ("post", "/api/v1/users/{id}/disable"),
        ("post", "/api/v1/users/{id}/enable"),
        ("post", "/api/v1/users/{id}/reset-password"),
        ("post", "/api/v1/account/password"),
        ("get", "/api/v1/tokens"),
        ("post", "/api/v1/tokens"),
        ("delete", "/api/v1/tokens/{id}"),
        ("get", "/api/v1/persons"),
        ("get", "/api/v1/persons/{id}"),
        ("get", "/api/v1/persons/{id}/as-of"),
        ("get", "/api/v1/persons/{id}/entitlements"),
        ("post", "/api/v1/simulations"),
        ("post", "/api/v1/persons/{id}/changes"),
        ("post", "/api/v1/persons/proposals"),
        ("post", "/api/v1/persons/{id}/records"),
        ("get", "/api/v1/changes"),
        ("post", "/api/v1/changes/{id}/approve"),
        ("post", "/api/v1/changes/{id}/reject"),
        ("get", "/api/v1/audit"),
        ("get", "/api/v1/audit/verify"),
        ("get", "/api/v1/payments/cycles"),
        ("post", "/api/v1/payments/cycles"),
        ("get", "/api/v1/payments/cycles/{id}"),
        ("post", "/api/v1/payments/cycles/{id}/generate"),
        ("post", "/api/v1/payments/cycles/{id}/check"),
        ("post", "/api/v1/payments/cycles/{id}/approve"),
        ("post", "/api/v1/payments/cycles/{id}/export"),
        ("post", "/api/v1/payments/cycles/{id}/close"),
        ("get", "/api/v1/payments/cycles/{id}/lines"),
        ("get", "/api/v1/payments/cycles/{id}/lines/{line}"),
        ("get", "/api/v1/payments/cycles/{id}/bank-file"),
        ("post", "/api/v1/payments/cycles/{id}/results"),
        ("get", "/api/v1/payments/holds"),
        ("post", "/api/v1/payments/holds"),
        ("post", "/api/v1/payments/holds/{id}/release"),
        ("post", "/api/v1/integrity/runs"),
        ("get", "/api/v1/integrity/cases"),
        ("get", "/api/v1/integrity/cases/{id}"),
        ("post", "/api/v1/integrity/cases/{id}/assign"),
        ("post", "/api/v1/integrity/cases/{id}/resolve"),
        ("get", "/api/v1/integrity/stats"),
        ("get", "/api/v1/plans"),
        ("post", "/api/v1/plans"),
        ("get", "/api/v1/plans/{id}"),
        ("get", "/api/v1/plans/{id}/dashboard"),
        ("get", "/api/v1/plans/{id}/indicators/{code}"),
        ("get", "/api/v1/plans/{id}/reports"),
        ("post", "/api/v1/plans/{id}/reports"),
        ("post", "/api/v1/plans/{id}/periods/{period}/close"),
        ("get", "/api/v1/plan-reports/{id}"),
        ("put", "/api/v1/plan-reports/{id}"),
        ("post", "/api/v1/plan-reports/{id}/submit"),
        ("post", "/api/v1/plan-reports/{id}/decision"),
        ("get", "/api/v1/complaints"),
        ("post", "/api/v1/complaints"),
        ("get", "/api/v1/complaints/{id}"),
        ("post", "/api/v1/complaints/{id}/steps"),
        ("get", "/api/v1/satisfaction"),
        ("post", "/api/v1/portal/complaints"),
        ("get", "/api/v1/portal/track/{code}"),
        ("post", "/api/v1/portal/track/{code}/rating"),
        ("post", "/api/v1/portal/track/{code}/second-instance"),
        ("get", "/api/v1/portal/postings/{commune}"),
        ("post", "/api/v1/complaints/{id}/attachments"),
        ("get", "/api/v1/complaints/{id}/attachments/{file}"),
        ("post", "/api/v1/persons/{id}/lookup-code"),
        ("post", "/api/v1/portal/lookup/sms"),
        ("post", "/api/v1/portal/lookup"),
        ("get", "/api/v1/portal/me"),
        ("post", "/api/v1/portal/me/payments/{line}/rating"),
        ("get", "/api/v1/calendar/{year}"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, routes.len(), "documented operations: {:?}", paths.keys().collect::<Vec<_>>());
    for (m, p) in routes {
        assert!(doc["paths"][p][m].is_object(), "{m} {p} is not documented");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());

    // the browsable documentation page lists them and the error code table
    let r = get(&server.url("/api/docs"), &[]);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("/api/v1/audit/verify") && r.body.contains("csrf_failed"));
}
