//! Integrity checks end to end, on both databases: the demo's planted problems (records
//! registered twice and paid twice, deaths reported after the payroll, a shared bank
//! account, ID numbers that contradict the birth year) are cases after the inspector's
//! first run; a case is confirmed (the record's payments are suspended — the next cycle
//! holds its line — and a recovery is opened) and another resolved as a false positive
//! (never flagged again); each role sees and does only what it may; bad input is named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{get, json, login, post, Db, Server, DEMO_PASSWORD};
use serde_json::Value;
use store::Backend;

fn cases(base: &str, s: &common::Session, filter: &str) -> Value {
    json(&get(&format!("{base}/api/v1/integrity/cases?per_page=200{filter}"), &s.headers()))
}

async fn flow(backend: Backend) {
    let db = Db::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::cmd(dir.path(), &["demo", "--database-url", &db.url, "--persons", "3000"]);
    c.env("ANSINH_LOG_LEVEL", "warn");
    let server = Server::start_with(c, dir.path());
    let base = server.base.clone();
    let ins = login(&base, "thanhtra", DEMO_PASSWORD).unwrap();
    let so = login(&base, "sonoivu", DEMO_PASSWORD).unwrap();
    let xa = login(&base, "canboxa", DEMO_PASSWORD).unwrap();
    let ld = login(&base, "lanhdao", DEMO_PASSWORD).unwrap();
    let bc = login(&base, "baocao", DEMO_PASSWORD).unwrap();

    // the demo's planted problems are cases: 3 records registered twice (3,000 persons),
    // deaths reported after last month's payroll, the shared account, IDs against birth years
    let stats = json(&get(&format!("{base}/api/v1/integrity/stats"), &ins.headers()));
    let total = |check: &str| -> i64 {
        stats.as_array().unwrap().iter().filter(|s| s["check_code"] == check).map(|s| s["open"].as_i64().unwrap()).sum()
    };
    assert_eq!(total("paid_twice") + total("duplicate"), 3, "{stats}");
    assert!(total("paid_twice") >= 1, "{stats}");
    assert!(total("deceased_paid") >= 1, "{stats}");
    assert_eq!(total("shared_account"), 1, "{stats}");
    assert!(total("id_inconsistent") >= 2, "{stats}");

    // a pair paid twice, side by side: one ID digit apart, the engine's explanation
    let twice = cases(&base, &ins, "&check=paid_twice");
    let case_id = twice["items"][0]["id"].as_i64().unwrap();
    let d = json(&get(&format!("{base}/api/v1/integrity/cases/{case_id}"), &ins.headers()));
    let (pa, pb) =
        (d["a"]["person"]["personal_id"].as_str().unwrap(), d["b"]["person"]["personal_id"].as_str().unwrap());
    assert_eq!(pa.len(), 12);
    assert_eq!(pa.bytes().zip(pb.bytes()).filter(|(x, y)| x != y).count(), 1, "{pa} {pb}");
    assert!(d["evidence"]["probability"].as_f64().unwrap() >= 0.5, "{d}");
    let parts = d["evidence"]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 7);
    assert!(parts
        .iter()
        .any(|p| p["comparison"] == "personal_id" && p["level"].as_str().unwrap().starts_with("one digit")));
    assert!(d["suggested_recovery"].as_i64().unwrap() > 0, "the duplicate record was paid: {d}");
    let audit =
        json(&get(&format!("{base}/api/v1/audit?action=integrity.case_read&entity_id={case_id}"), &ins.headers()));
    assert!(audit["total"].as_i64().unwrap() >= 1, "reading a case is audited");
    let html = get(&format!("{base}/integrity/cases/{case_id}"), &[("cookie", &ins.cookie)]);
    assert_eq!(html.status, 200);
    assert!(html.body.contains("id=\"side-by-side\"") && html.body.contains("id=\"match-parts\""), "{}", html.body);
    assert!(html.body.contains("sai, đảo, thiếu hoặc thừa một chữ số"), "levels in Vietnamese");

    // assignment: to an officer who exists
    let r = post(&base, &format!("/api/v1/integrity/cases/{case_id}/assign"), &ins, r#"{"assigned_to":"khongco"}"#);
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("assigned_to")));
    let r = post(&base, &format!("/api/v1/integrity/cases/{case_id}/assign"), &ins, r#"{"assigned_to":"kiemtra"}"#);
    assert_eq!(r.status, 200, "{}", r.body);

    // bad resolutions are named and change nothing
    for (body, field) in [
        (r#"{"outcome":"maybe","note":"Đã xác minh tại xã"}"#, "outcome"),
        (r#"{"outcome":"confirmed","note":"ok"}"#, "note"),
        (r#"{"outcome":"confirmed","recovery":"abc","note":"Đã xác minh tại xã"}"#, "recovery"),
        (
            r#"{"outcome":"confirmed","suspend_personal_id":"075000000000","note":"Đã xác minh tại xã"}"#,
            "suspend_personal_id",
        ),
    ] {
        let r = post(&base, &format!("/api/v1/integrity/cases/{case_id}/resolve"), &ins, body);
        assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some(field)), "{body}: {}", r.body);
    }
    // roles: the commune officer reads (in the area) but does not resolve or run; the leader
    // and an agency reporter, who do not read person data, see nothing of it
    let confirm = format!(
        r#"{{"outcome":"confirmed","suspend_personal_id":"{pb}","note":"Cùng một người, đăng ký hai lần ở hai xã"}}"#
    );
    for s in [&xa, &ld] {
        assert_eq!(post(&base, &format!("/api/v1/integrity/cases/{case_id}/resolve"), s, &confirm).status, 403);
        assert_eq!(post(&base, "/api/v1/integrity/runs", s, "").status, 403);
    }
    assert_eq!(get(&format!("{base}/api/v1/integrity/cases"), &bc.headers()).status, 403);
    assert_eq!(get(&format!("{base}/api/v1/integrity/cases/{case_id}"), &ld.headers()).status, 403);
    assert_eq!(get(&format!("{base}/integrity"), &[("cookie", &bc.cookie)]).status, 403);
    let area = cases(&base, &xa, "");
    for c in area["items"].as_array().unwrap() {
        assert!(["25210", "25195"].contains(&c["commune_code"].as_str().unwrap()), "{c}");
    }
    let outside = cases(&base, &ins, "")["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| !["25210", "25195"].contains(&c["commune_code"].as_str().unwrap()))
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(get(&format!("{base}/api/v1/integrity/cases/{outside}"), &xa.headers()).status, 404);

    // confirmed: the duplicate record's payments are suspended and a recovery is opened
    let r = post(&base, &format!("/api/v1/integrity/cases/{case_id}/resolve"), &ins, &confirm);
    assert_eq!(r.status, 200, "{}", r.body);
    let d = json(&get(&format!("{base}/api/v1/integrity/cases/{case_id}"), &ins.headers()));
    assert_eq!(d["case"]["status"], "confirmed");
    let suspended = d["case"]["suspended_person_id"].as_i64().unwrap();
    assert_eq!(d["b"]["person"]["id"].as_i64().unwrap(), suspended);
    let recovered = d["recoveries"][0]["amount"].as_i64().unwrap();
    assert!(recovered > 0, "{d}");
    let holds = json(&get(&format!("{base}/api/v1/payments/holds"), &so.headers()));
    assert!(
        holds.as_array().unwrap().iter().any(|h| h["person_id"] == suspended && h["released_at"].is_null()),
        "{holds}"
    );
    let r = post(&base, &format!("/api/v1/integrity/cases/{case_id}/resolve"), &ins, &confirm);
    assert_eq!(r.status, 409, "resolved once: {}", r.body);
    // the dossier shows the flag
    let dossier = json(&get(&format!("{base}/api/v1/persons/{suspended}"), &ins.headers()));
    assert_eq!(dossier["cases"][0]["id"].as_i64(), Some(case_id), "{dossier}");
    let page = get(&format!("{base}/registry/persons/{suspended}"), &[("cookie", &ins.cookie)]);
    assert!(page.body.contains("id=\"person-cases\"") && page.body.contains("Xác nhận vi phạm"), "{}", page.body);
    // … and the next payment cycle holds that record's line
    let cycles = json(&get(&format!("{base}/api/v1/payments/cycles"), &so.headers()));
    let last: domain::Month = cycles["items"][0]["month"].as_str().unwrap().parse().unwrap();
    let next = last.add_months(1).unwrap();
    let r = post(
        &base,
        "/api/v1/payments/cycles",
        &so,
        &format!(r#"{{"month":"{:04}-{:02}"}}"#, next.year(), next.month()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let cycle = json(&r)["cycle_id"].as_i64().unwrap();
    let mut held = None;
    for page in 1.. {
        let lines =
            json(&get(&format!("{base}/api/v1/payments/cycles/{cycle}/lines?per_page=200&page={page}"), &so.headers()));
        let items = lines["items"].as_array().unwrap();
        if let Some(l) = items.iter().find(|l| l["line"]["person_id"] == suspended) {
            held = Some(l["line"]["status"].clone());
        }
        if items.len() < 200 || held.is_some() {
            break;
        }
    }
    assert_eq!(held, Some(Value::from("held")), "the suspended record is not paid");

    // false positive: the pair is marked as two people and never flagged again
    let dups = cases(&base, &ins, "&status=open");
    let pair = dups["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check_code"] == "duplicate" || c["check_code"] == "paid_twice")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = post(
        &base,
        &format!("/api/v1/integrity/cases/{pair}/resolve"),
        &ins,
        r#"{"outcome":"false_positive","note":"Hai anh em sinh đôi, đã gặp cả hai"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post(&base, "/api/v1/integrity/runs", &ins, "");
    assert_eq!(r.status, 201, "{}", r.body);
    let run = json(&r);
    assert_eq!(run["new_cases"], 0, "nothing new, nothing reopened: {run}");
    let after = cases(&base, &ins, "&check=duplicate").as_object().unwrap()["total"].as_i64().unwrap()
        + cases(&base, &ins, "&check=paid_twice")["total"].as_i64().unwrap();
    assert_eq!(after, 3, "the pairs are still three cases, one per pair");

    // a death reported after the payroll: confirmed with the computed recovery
    let dead = cases(&base, &ins, "&check=deceased_paid");
    let dead_id = dead["items"][0]["id"].as_i64().unwrap();
    let d = json(&get(&format!("{base}/api/v1/integrity/cases/{dead_id}"), &ins.headers()));
    let amount = d["evidence"]["amount"].as_i64().unwrap();
    assert_eq!(d["suggested_recovery"].as_i64().unwrap(), amount);
    let r = post(
        &base,
        &format!("/api/v1/integrity/cases/{dead_id}/resolve"),
        &ins,
        r#"{"outcome":"confirmed","note":"Gia đình báo tử chậm, đã lập biên bản"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let d = json(&get(&format!("{base}/api/v1/integrity/cases/{dead_id}"), &ins.headers()));
    assert_eq!(d["recoveries"][0]["amount"].as_i64().unwrap(), amount);

    // the queue page with its statistics, in both languages
    let page = get(&format!("{base}/integrity?check=deceased_paid"), &[("cookie", &ins.cookie)]);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("id=\"check-stats\"") && page.body.contains("Đã chết vẫn được chi trả"),
        "{}",
        page.body
    );
    let page = get(&format!("{base}/integrity?lang=en"), &[("cookie", &ins.cookie)]);
    assert!(page.body.contains("Paid after death"), "{}", page.body);
    let r = get(&format!("{base}/api/v1/integrity/cases?check=nope"), &ins.headers());
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("check")));

    server.terminate();
    db.drop_db().await;
}

#[tokio::test]
async fn integrity_flow_on_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn integrity_flow_on_postgres() {
    flow(Backend::Postgres).await;
}
