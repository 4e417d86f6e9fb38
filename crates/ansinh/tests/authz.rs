//! The authorization matrix: every endpoint, called as every role and anonymously, and
//! from outside the caller's area, must give exactly the expected answer. Runs against
//! the real binary on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{get, login, send, Db, Server, Session, DEMO_PASSWORD};
use store::Backend;

const ROLES: [&str; 7] = ["anonymous", "quantri", "sonoivu", "canboxa", "baocao", "lanhdao", "thanhtra"];

/// Expected status per role, in the order of `ROLES`.
type Expect = [u16; 7];

struct Case {
    method: &'static str,
    path: String,
    body: Option<String>,
    /// `json` or `form`
    kind: &'static str,
    expect: Expect,
}

fn api(method: &'static str, path: &str, body: Option<serde_json::Value>, expect: Expect) -> Case {
    Case { method, path: path.to_string(), body: body.map(|b| b.to_string()), kind: "json", expect }
}

fn ui(method: &'static str, path: &str, body: Option<&str>, expect: Expect) -> Case {
    Case { method, path: path.to_string(), body: body.map(str::to_string), kind: "form", expect }
}

//                     anon  admin prov  comm  agcy  lead  insp
const ALL_OK: Expect = [401, 200, 200, 200, 200, 200, 200];
const PUBLIC: Expect = [200, 200, 200, 200, 200, 200, 200];
const READERS: Expect = [401, 200, 403, 403, 403, 403, 200]; // users.read / audit.*
const ADMIN_ONLY: Expect = [401, 200, 403, 403, 403, 403, 403];
const WORKSPACE_IN: Expect = [401, 403, 200, 200, 403, 403, 200];
const WORKSPACE_OUT: Expect = [401, 403, 200, 403, 403, 403, 200];
const TOKEN_HOLDERS: Expect = [401, 200, 200, 200, 200, 403, 403];
const UI_ALL: Expect = [303, 200, 200, 200, 200, 200, 200];
const UI_READERS: Expect = [303, 200, 403, 403, 403, 403, 200];
const UI_WORKSPACE_IN: Expect = [303, 403, 200, 200, 403, 403, 200];
const UI_WORKSPACE_OUT: Expect = [303, 403, 200, 403, 403, 403, 200];

const REGISTRY: Expect = [401, 403, 200, 200, 403, 403, 200];
const UI_REGISTRY: Expect = [303, 403, 200, 200, 403, 403, 200];
const PAYMENTS: Expect = [401, 403, 200, 200, 403, 200, 200];

fn cases(target_id: i64, inside: i64, outside: i64) -> Vec<Case> {
    let mut c = vec![
        api("GET", "/api/v1/persons", None, REGISTRY),
        api("GET", &format!("/api/v1/persons/{inside}"), None, REGISTRY),
        api("GET", &format!("/api/v1/persons/{outside}"), None, [401, 403, 200, 403, 403, 403, 200]),
        api("GET", &format!("/api/v1/persons/{inside}/as-of?date=01/01/2026"), None, REGISTRY),
        api("GET", &format!("/api/v1/persons/{inside}/entitlements?from=2025-01&to=2025-12"), None, REGISTRY),
        api("GET", "/api/v1/changes", None, REGISTRY),
        api(
            "POST",
            &format!("/api/v1/persons/{inside}/changes"),
            Some(serde_json::json!({"phone": "0900000001", "valid_from": "01/01/2030", "reason": ""})),
            [401, 403, 403, 400, 403, 403, 403],
        ),
        api(
            "POST",
            &format!("/api/v1/persons/{outside}/changes"),
            Some(serde_json::json!({"phone": "0900000001", "valid_from": "01/01/2030", "reason": "x"})),
            [401, 403, 403, 403, 403, 403, 403],
        ),
        api("POST", "/api/v1/changes/999999/approve", Some(serde_json::json!({})), [401, 403, 404, 403, 403, 403, 403]),
        api("GET", "/api/v1/payments/cycles", None, PAYMENTS),
        api("GET", "/api/v1/payments/cycles/999999", None, [401, 403, 404, 404, 403, 404, 404]),
        api("GET", "/api/v1/payments/cycles/999999/lines", None, [401, 403, 404, 404, 403, 404, 404]),
        api("GET", "/api/v1/payments/holds", None, PAYMENTS),
        api(
            "POST",
            "/api/v1/payments/cycles",
            Some(serde_json::json!({"month": "13/2026"})),
            [401, 403, 400, 403, 403, 403, 403],
        ),
        api("POST", "/api/v1/payments/cycles/999999/check", Some(serde_json::json!({})), [401, 403, 404, 403, 403, 403, 403]),
        api("POST", "/api/v1/payments/cycles/999999/approve", Some(serde_json::json!({})), [401, 403, 403, 403, 403, 403, 403]),
        api("GET", "/api/v1/payments/cycles/999999/bank-file", None, [401, 403, 404, 403, 403, 403, 403]),
        api(
            "POST",
            "/api/v1/payments/holds",
            Some(serde_json::json!({"personal_id": "000000000000", "reason": "Xác minh lại"})),
            [401, 403, 404, 404, 403, 403, 403],
        ),
        ui("GET", "/payments", None, [303, 403, 200, 200, 403, 200, 200]),
        api("GET", "/api/v1/integrity/cases", None, [401, 403, 200, 200, 403, 403, 200]),
        api("GET", "/api/v1/integrity/stats", None, [401, 403, 200, 200, 403, 403, 200]),
        api("GET", "/api/v1/integrity/cases/999999", None, [401, 403, 404, 404, 403, 403, 404]),
        api(
            "POST",
            "/api/v1/integrity/cases/999999/resolve",
            Some(serde_json::json!({"outcome": "false_positive", "note": "Hai người khác nhau"})),
            [401, 403, 404, 403, 403, 403, 404],
        ),
        api(
            "POST",
            "/api/v1/integrity/cases/999999/assign",
            Some(serde_json::json!({"assigned_to": "kiemtra"})),
            [401, 403, 404, 403, 403, 403, 404],
        ),
        api("POST", "/api/v1/integrity/runs", Some(serde_json::json!({})), [401, 403, 201, 403, 403, 403, 201]),
        ui("GET", "/integrity", None, [303, 403, 200, 200, 403, 403, 200]),
        api("GET", "/api/v1/plans", None, [401, 403, 200, 200, 200, 200, 200]),
        api("GET", "/api/v1/plans/1/dashboard", None, [401, 403, 200, 403, 403, 200, 200]),
        api("GET", "/api/v1/plans/1/indicators/BHYT", None, [401, 403, 200, 403, 403, 200, 200]),
        api("GET", "/api/v1/plans/1/reports", None, [401, 403, 200, 200, 200, 200, 200]),
        api("POST", "/api/v1/plans/1/reports", Some(serde_json::json!({"period": "2099-H1"})), [401, 403, 409, 403, 409, 403, 403]),
        api("POST", "/api/v1/plan-reports/1/decision", Some(serde_json::json!({"decision": "accept"})), [401, 403, 409, 403, 403, 403, 403]),
        api("POST", "/api/v1/plans", Some(serde_json::json!("x")), [401, 403, 409, 403, 403, 403, 403]),
        ui("GET", "/plans", None, [303, 403, 200, 200, 200, 200, 200]),
        api("GET", "/api/v1/complaints", None, [401, 403, 200, 200, 403, 200, 200]),
        api("GET", "/api/v1/complaints/1", None, [401, 403, 200, 200, 403, 200, 200]),
        api("GET", "/api/v1/complaints/3", None, [401, 403, 200, 403, 403, 200, 200]),
        api("POST", "/api/v1/complaints/999999/steps", Some(serde_json::json!({"action": "verify"})), [401, 403, 404, 404, 403, 403, 403]),
        api("GET", "/api/v1/satisfaction", None, [401, 403, 200, 200, 403, 200, 200]),
        ui("GET", "/complaints", None, [303, 403, 200, 200, 403, 200, 200]),
        ui("GET", "/portal", None, [200, 200, 200, 200, 200, 200, 200]),
        ui("GET", "/portal/tra-cuu", None, [200, 200, 200, 200, 200, 200, 200]),
        ui("GET", "/calendar?year=2026", None, UI_ALL),
        ui("GET", "/calendar/template.csv?year=2026", None, UI_ALL),
        api("GET", "/api/v1/calendar/2026", None, ALL_OK),
        api("GET", "/api/v1/complaints/2/attachments/1", None, [401, 403, 200, 200, 403, 200, 200]),
        ui("POST", "/complaints/999999/attachments", Some(""), [303, 403, 404, 404, 403, 403, 403]),
        api("POST", &format!("/api/v1/persons/{inside}/lookup-code"), None, [401, 403, 201, 201, 403, 403, 403]),
        api("POST", &format!("/api/v1/persons/{outside}/lookup-code"), None, [401, 403, 201, 403, 403, 403, 403]),
        ui("GET", "/plans/1/dashboard", None, [303, 403, 200, 403, 403, 200, 200]),
        ui("GET", "/registry", None, UI_REGISTRY),
        ui("GET", &format!("/registry/persons/{inside}"), None, UI_REGISTRY),
        ui("GET", &format!("/registry/persons/{outside}"), None, [303, 403, 200, 403, 403, 403, 200]),
        ui("GET", "/registry/changes", None, UI_REGISTRY),
        ui("GET", "/simulate?from=2027-01&to=2027-02&name=muc_chuan&value=3000000", None, [303, 403, 200, 403, 403, 200, 200]),
        api(
            "POST",
            "/api/v1/simulations",
            Some(serde_json::json!({"from": "2027-01", "to": "2027-01"})),
            [401, 403, 200, 403, 403, 200, 200],
        ),
        ui(
            "POST",
            &format!("/registry/persons/{inside}/records"),
            Some("action=add_merit&category=zz&decision_no=1&decision_date=01%2F01%2F2000&valid_from=01%2F01%2F2000&reason=x"),
            [303, 403, 403, 400, 403, 403, 403],
        ),
        ui(
            "POST",
            &format!("/registry/persons/{outside}/records"),
            Some("action=add_merit&category=g&decision_no=1&decision_date=01%2F01%2F2000&valid_from=01%2F01%2F2000&reason=x"),
            [303, 403, 403, 403, 403, 403, 403],
        ),
        ui("GET", "/registry/new", None, [303, 403, 403, 200, 403, 403, 403]),
        api(
            "POST",
            "/api/v1/persons/proposals",
            Some(serde_json::json!({"fields": {}, "reason": ""})),
            [401, 403, 403, 400, 403, 403, 403],
        ),
        ui("GET", "/registry/import", None, [303, 403, 200, 200, 403, 403, 403]),
        ui("GET", "/registry/export.csv", None, UI_REGISTRY),
        api("GET", "/api/v1/me", None, ALL_OK),
        api("GET", "/api/v1/provinces/75/communes", None, PUBLIC),
        api("GET", "/api/v1/openapi.json", None, PUBLIC),
        // 25210 is in canboxa's area; 26068 (Biên Hòa) is not
        api("GET", "/api/v1/communes/25210", None, WORKSPACE_IN),
        api("GET", "/api/v1/communes/26068", None, WORKSPACE_OUT),
        api("GET", "/api/v1/users", None, READERS),
        api("GET", "/api/v1/audit", None, READERS),
        api("GET", "/api/v1/audit/verify", None, READERS),
        api("POST", &format!("/api/v1/users/{target_id}/reset-password"), None, ADMIN_ONLY),
        api("POST", &format!("/api/v1/users/{target_id}/enable"), None, ADMIN_ONLY),
        api("GET", "/api/v1/tokens", None, TOKEN_HOLDERS),
        api("DELETE", "/api/v1/tokens/999999", None, [401, 404, 404, 404, 404, 403, 403]),
        api("GET", "/api/v1/roles", None, READERS),
        api("GET", "/api/v1/agencies", None, ALL_OK),
        api("POST", &format!("/api/v1/users/{target_id}/disable"), None, ADMIN_ONLY),
        ui("POST", &format!("/users/{target_id}/enable"), Some(""), [303, 200, 403, 403, 403, 403, 403]),
        ui("POST", &format!("/users/{target_id}/reset-password"), Some(""), [303, 200, 403, 403, 403, 403, 403]),
        ui(
            "POST",
            "/account/password",
            Some("current_password=wrong-password&new_password=long-enough-pass"),
            [303, 400, 400, 400, 400, 400, 400],
        ),
        ui("POST", "/account/tokens", Some("name=ui&scope=units.read&days=1"), [303, 201, 201, 201, 201, 403, 403]),
        ui("POST", "/account/tokens/999999/revoke", Some(""), [303, 404, 404, 404, 404, 403, 403]),
        api(
            "POST",
            "/api/v1/account/password",
            Some(serde_json::json!({"current_password": "wrong-password", "new_password": "whatever-long-enough"})),
            [401, 400, 400, 400, 400, 400, 400],
        ),
        ui("GET", "/home", None, UI_ALL),
        ui("GET", "/account", None, UI_ALL),
        ui("GET", "/users", None, UI_READERS),
        ui("GET", "/audit", None, UI_READERS),
        ui("GET", "/communes/25210", None, UI_WORKSPACE_IN),
        ui("GET", "/communes/26068", None, UI_WORKSPACE_OUT),
        ui("GET", "/", None, PUBLIC),
        ui("GET", "/api/docs", None, PUBLIC),
    ];
    // state-changing calls whose success differs per role: unique bodies per role
    for (i, role) in ROLES.iter().enumerate() {
        let mut expect_user = [403; 7];
        expect_user[0] = 401;
        expect_user[1] = 201;
        let only = |e: Expect| {
            let mut x = [0u16; 7];
            x[i] = e[i];
            x
        };
        c.push(api(
            "POST",
            "/api/v1/users",
            Some(serde_json::json!({"username": format!("new.{role}"), "full_name": "Đỗ Văn Mới", "role": "leader"})),
            only(expect_user),
        ));
        let mut expect_token = [201u16; 7];
        expect_token[0] = 401;
        expect_token[5] = 403;
        expect_token[6] = 403;
        c.push(api(
            "POST",
            "/api/v1/tokens",
            Some(serde_json::json!({"name": format!("t-{role}"), "scopes": ["units.read"], "days": 1})),
            only(expect_token),
        ));
        let mut expect_form = [403u16; 7];
        expect_form[0] = 303;
        expect_form[1] = 201;
        c.push(ui(
            "POST",
            "/users",
            Some(&format!("username=form.{role}&full_name=Ng%C3%B4+Th%E1%BB%8B+B&role=leader")),
            only(expect_form),
        ));
    }
    c
}

async fn matrix(backend: Backend) {
    let db = Db::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["demo", "--database-url", &db.url, "--persons", "500"]);
    let base = server.base.clone();
    let sessions: Vec<Option<Session>> = ROLES
        .iter()
        .map(|r| if *r == "anonymous" { None } else { Some(login(&base, r, DEMO_PASSWORD).unwrap()) })
        .collect();

    // a target account for the admin actions
    let admin = sessions[1].clone().unwrap();
    let body = serde_json::json!({"username": "target", "full_name": "Mục Tiêu", "role": "leader"}).to_string();
    let r =
        send("POST", &format!("{base}/api/v1/users"), &admin.headers(), Some(("application/json", body.as_bytes())));
    assert_eq!(r.status, 201, "{}", r.body);
    let target_id = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["user"]["id"].as_i64().unwrap();

    // a dossier inside canboxa's communes and one outside
    let prov = sessions[2].clone().unwrap();
    let pick = |commune: &str| {
        let v: serde_json::Value = serde_json::from_str(
            &get(&format!("{base}/api/v1/persons?commune={commune}&per_page=1"), &prov.headers()).body,
        )
        .unwrap();
        v["items"][0]["id"].as_i64().unwrap()
    };
    let (inside, outside) = (pick("25210"), pick("26068"));

    let mut failures = Vec::new();
    let mut checked = 0;
    for case in cases(target_id, inside, outside) {
        for (i, role) in ROLES.iter().enumerate() {
            let want = case.expect[i];
            if want == 0 {
                continue; // this case is only for another role
            }
            let mut headers: Vec<(&str, &str)> = sessions[i].as_ref().map(|s| s.headers()).unwrap_or_default();
            headers.push(("accept", "application/json"));
            let ct = if case.kind == "json" { "application/json" } else { "application/x-www-form-urlencoded" };
            let body = match (&case.body, case.kind, &sessions[i]) {
                (Some(b), "form", Some(s)) => Some(format!("{b}&_csrf={}", s.csrf)),
                (b, _, _) => b.clone(),
            };
            let r = send(
                case.method,
                &format!("{base}{}", case.path),
                &headers,
                body.as_deref().map(|b| (ct, b.as_bytes())),
            );
            checked += 1;
            if r.status != want {
                failures.push(format!(
                    "{} {} as {role}: want {want}, got {} {}",
                    case.method,
                    case.path,
                    r.status,
                    &r.body.chars().take(160).collect::<String>()
                ));
            }
            // a refusal is an error body with a stable code, never an internal error
            if case.path.starts_with("/api/") && (r.status == 401 || r.status == 403) {
                let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                assert!(matches!(v["code"].as_str(), Some("unauthenticated" | "forbidden")), "{}", r.body);
            }
            if r.status == 303 {
                assert!(
                    r.header("location").unwrap().starts_with("/login?next="),
                    "anonymous UI requests go to the login"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} calls gave the wrong answer:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked > 150, "matrix too small: {checked}");

    // an API token carrying all of its owner's permissions gets the same answers as the
    // owner's session, for every read endpoint
    let reads = [
        "/api/v1/me",
        "/api/v1/users",
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/communes/25210",
        "/api/v1/communes/26068",
        "/api/v1/tokens",
    ];
    for (i, role) in ROLES.iter().enumerate().skip(1) {
        let s = sessions[i].clone().unwrap();
        let me: serde_json::Value =
            serde_json::from_str(&get(&format!("{base}/api/v1/me"), &s.headers()).body).unwrap();
        if !me["permissions"].as_array().unwrap().iter().any(|p| p == "tokens.own") {
            continue;
        }
        let body = serde_json::json!({"name": "all", "scopes": me["permissions"], "days": 1}).to_string();
        let r =
            send("POST", &format!("{base}/api/v1/tokens"), &s.headers(), Some(("application/json", body.as_bytes())));
        assert_eq!(r.status, 201, "{role}: {}", r.body);
        let bearer = format!(
            "Bearer {}",
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["secret"].as_str().unwrap()
        );
        for path in reads {
            let by_session = get(&format!("{base}{path}"), &s.headers()).status;
            let by_token = get(&format!("{base}{path}"), &[("authorization", &bearer)]).status;
            assert_eq!(by_session, by_token, "{role} {path}");
        }
        // but a token cannot mint tokens or change the password
        let r = send(
            "POST",
            &format!("{base}/api/v1/tokens"),
            &[("authorization", &bearer)],
            Some(("application/json", body.as_bytes())),
        );
        assert_eq!(r.status, 403, "{role}: token minted a token");
        let pw = br#"{"current_password":"ansinh-demo-2026","new_password":"another-long-password"}"#;
        let r = send(
            "POST",
            &format!("{base}/api/v1/account/password"),
            &[("authorization", &bearer)],
            Some(("application/json", pw)),
        );
        assert_eq!(r.status, 403, "{role}: token changed the password");
        assert_eq!(send("DELETE", &format!("{base}/api/v1/session"), &[("authorization", &bearer)], None).status, 403);
    }

    // API tokens are limited to their scopes, whatever their owner may do
    let body = serde_json::json!({"name": "units only", "scopes": ["units.read"], "days": 1}).to_string();
    let r =
        send("POST", &format!("{base}/api/v1/tokens"), &admin.headers(), Some(("application/json", body.as_bytes())));
    let secret = serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["secret"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {secret}");
    assert_eq!(get(&format!("{base}/api/v1/me"), &[("authorization", &bearer)]).status, 200);
    assert_eq!(get(&format!("{base}/api/v1/users"), &[("authorization", &bearer)]).status, 403);
    // a token may not grant what its owner does not hold
    let provincial = sessions[2].clone().unwrap();
    let body = serde_json::json!({"name": "x", "scopes": ["users.manage"], "days": 1}).to_string();
    let r = send(
        "POST",
        &format!("{base}/api/v1/tokens"),
        &provincial.headers(),
        Some(("application/json", body.as_bytes())),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    // a revoked or unknown token is refused
    let id = serde_json::from_str::<serde_json::Value>(&get(&format!("{base}/api/v1/tokens"), &admin.headers()).body)
        .unwrap()[0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(send("DELETE", &format!("{base}/api/v1/tokens/{id}"), &admin.headers(), None).status, 204);
    assert_eq!(get(&format!("{base}/api/v1/me"), &[("authorization", &bearer)]).status, 401);
    assert_eq!(get(&format!("{base}/api/v1/me"), &[("authorization", "Bearer ans_0000")]).status, 401);

    // disabling a user ends their session at once
    let lanhdao = sessions[5].clone().unwrap();
    let lid = serde_json::from_str::<serde_json::Value>(&get(&format!("{base}/api/v1/me"), &lanhdao.headers()).body)
        .unwrap()["user_id"]
        .as_i64()
        .unwrap();
    assert_eq!(send("POST", &format!("{base}/api/v1/users/{lid}/disable"), &admin.headers(), None).status, 200);
    assert_eq!(get(&format!("{base}/api/v1/me"), &lanhdao.headers()).status, 401);
    assert!(login(&base, "lanhdao", DEMO_PASSWORD).is_err());
    // an administrator cannot lock themselves out
    let aid = serde_json::from_str::<serde_json::Value>(&get(&format!("{base}/api/v1/me"), &admin.headers()).body)
        .unwrap()["user_id"]
        .as_i64()
        .unwrap();
    assert_eq!(send("POST", &format!("{base}/api/v1/users/{aid}/disable"), &admin.headers(), None).status, 409);

    // logging out (API and UI) ends the session for every role
    for (i, role) in ROLES.iter().enumerate().skip(2) {
        let s = sessions[i].clone().unwrap();
        let before = get(&format!("{base}/api/v1/me"), &s.headers()).status;
        if before != 200 {
            continue; // lanhdao was disabled above
        }
        if i % 2 == 0 {
            assert_eq!(send("DELETE", &format!("{base}/api/v1/session"), &s.headers(), None).status, 204, "{role}");
        } else {
            let body = format!("_csrf={}", s.csrf);
            let r = send(
                "POST",
                &format!("{base}/logout"),
                &s.headers(),
                Some(("application/x-www-form-urlencoded", body.as_bytes())),
            );
            assert_eq!((r.status, r.header("location")), (303, Some("/login")), "{role}");
        }
        assert_eq!(get(&format!("{base}/api/v1/me"), &s.headers()).status, 401, "{role} still logged in");
    }
    assert_eq!(send("DELETE", &format!("{base}/api/v1/session"), &[], None).status, 401);

    // everything above is in an intact audit trail
    let v: serde_json::Value =
        serde_json::from_str(&get(&format!("{base}/api/v1/audit/verify"), &admin.headers()).body).unwrap();
    assert_eq!(v["intact"], true, "{v}");

    drop(server);
    db.drop_db().await;
}

#[tokio::test]
async fn authorization_matrix_on_sqlite() {
    matrix(Backend::Sqlite).await;
}

#[tokio::test]
async fn authorization_matrix_on_postgres() {
    matrix(Backend::Postgres).await;
}
