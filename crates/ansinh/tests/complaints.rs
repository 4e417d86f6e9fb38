//! Complaints end to end, on both databases: a citizen files a complaint on the portal, a
//! commune officer accepts it (the resolution deadline computed from the law and the holiday
//! calendar) and resolves it, the citizen follows it by its tracking code and rates the
//! service, and the rating appears in the agency's satisfaction index and in the plan's
//! computed indicator; bad input — a wrong code, repeated guessing, a complaint past the 90-day
//! limit, script in free text, a complex case without its determination — is handled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{get, json, login, post, send, Db, Server, DEMO_PASSWORD};
use store::Backend;

fn anon_post(base: &str, path: &str, body: &str) -> common::Response {
    send("POST", &format!("{base}{path}"), &[], Some(("application/json", body.as_bytes())))
}

async fn flow(backend: Backend) {
    let db = Db::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::cmd(dir.path(), &["demo", "--database-url", &db.url, "--persons", "2000"]);
    c.env("ANSINH_LOG_LEVEL", "warn");
    let server = Server::start_with(c, dir.path());
    let base = server.base.clone();
    let xa = login(&base, "canboxa", DEMO_PASSWORD).unwrap(); // communes 25210, 25195
    let ld = login(&base, "lanhdao", DEMO_PASSWORD).unwrap();
    let tt = login(&base, "thanhtra", DEMO_PASSWORD).unwrap();

    // the citizen files on the portal (no login); script in the title stays text
    let body = serde_json::json!({
        "kind": "complaint", "subject": "officer_conduct", "commune_code": "25210",
        "title": "<script>alert(1)</script> Cán bộ không tiếp nhận hồ sơ",
        "content": "Tôi nộp hồ sơ đề nghị trợ cấp nhưng cán bộ không nhận.", "filer_name": "Đỗ Thị Mười",
        "filer_phone": "0912345678"
    })
    .to_string();
    let r = anon_post(&base, "/api/v1/portal/complaints", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let filed = json(&r);
    let code = filed["tracking_code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 14, "{code}");
    let t = json(&get(&format!("{base}/api/v1/portal/track/{code}"), &[]));
    assert_eq!((t["status"].as_str(), t["can_rate"].as_bool()), (Some("received"), Some(false)));
    assert!(t.get("filer_name").is_none() && t.get("content").is_none(), "the public view has no personal data: {t}");
    // the acceptance deadline is the law's: 7 working days from today (since 01/07/2026)
    let today = chrono::NaiveDate::parse_from_str(t["received_on"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let cal = domain::workdays::WorkCalendar::embedded().unwrap();
    let limits = domain::deadlines::Limits::embedded().unwrap();
    let expect = limits.due("complaint_acceptance", "normal", today, &[], &cal).unwrap().date.unwrap();
    assert_eq!(t["acceptance_due"], expect.format("%Y-%m-%d").to_string());

    // the officer sees it with its traffic light; the page renders the script inert
    let list = json(&get(&format!("{base}/api/v1/complaints?status=received"), &xa.headers()));
    let case = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"]["title"].as_str().unwrap().contains("Cán bộ không tiếp nhận hồ sơ"))
        .unwrap()
        .clone();
    assert_ne!(case["case"]["tracking_code"], code.as_str(), "the citizen's code is not shown to officers");
    let id = case["case"]["id"].as_i64().unwrap();
    assert_eq!(case["light"], "green", "{case}");
    let page = get(&format!("{base}/complaints/{id}"), &[("cookie", &xa.cookie)]);
    assert!(
        page.status == 200 && page.body.contains("&#60;script&#62;alert(1)") && !page.body.contains("<script>alert"),
        "escaped"
    );
    let list_page = get(&format!("{base}/complaints"), &[("cookie", &xa.cookie)]);
    assert!(
        list_page.body.contains("id=\"no-overdue\"") && list_page.body.contains("id=\"satisfaction\""),
        "nothing overdue yet"
    );

    // accept: a complex case needs its written determination; the deadline is computed
    let step = |s: &common::Session, b: serde_json::Value| {
        post(&base, &format!("/api/v1/complaints/{id}/steps"), s, &b.to_string())
    };
    let r = step(&xa, serde_json::json!({"action": "accept", "variant": "complex"}));
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("note")), "{}", r.body);
    let r = step(&xa, serde_json::json!({"action": "decide", "outcome": "upheld", "note": "Kết luận đúng một phần"}));
    assert_eq!(r.status, 409, "not before acceptance: {}", r.body);
    let r = step(&xa, serde_json::json!({"action": "accept"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let v = json(&r);
    let due = limits.due("complaint_first", "normal", today, &[], &cal).unwrap().date.unwrap();
    assert_eq!(v["case"]["resolution_due"], due.format("%Y-%m-%d").to_string());
    assert_eq!(v["case"]["assigned_to"], "canboxa");
    for b in [
        serde_json::json!({"action": "verify"}),
        serde_json::json!({"action": "decide", "outcome": "upheld", "note": "Cán bộ đã bị nhắc nhở; hồ sơ được tiếp nhận lại."}),
        serde_json::json!({"action": "notify"}),
        serde_json::json!({"action": "close"}),
    ] {
        let r = step(&xa, b.clone());
        assert_eq!(r.status, 200, "{b}: {}", r.body);
    }
    let (v, events) = {
        let d = json(&get(&format!("{base}/api/v1/complaints/{id}"), &xa.headers()));
        (d[0].clone(), d[1].clone())
    };
    assert_eq!(v["case"]["status"], "closed");
    assert!(
        v["case"]["decided_on"].as_str().unwrap() <= v["case"]["resolution_due"].as_str().unwrap(),
        "within the deadline"
    );
    assert_eq!(events.as_array().unwrap().len(), 6, "{events}");

    // the citizen follows it and rates the service, once
    let t = json(&get(&format!("{base}/api/v1/portal/track/{}", code.to_lowercase()), &[]));
    assert_eq!(
        (t["status"].as_str(), t["outcome"].as_str(), t["can_rate"].as_bool()),
        (Some("closed"), Some("upheld"), Some(true))
    );
    let r = anon_post(&base, &format!("/api/v1/portal/track/{code}/rating"), r#"{"score": 7}"#);
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("score")));
    assert_eq!(
        anon_post(&base, &format!("/api/v1/portal/track/{code}/rating"), r#"{"score": 2, "comment": "Chậm"}"#).status,
        200
    );
    assert_eq!(anon_post(&base, &format!("/api/v1/portal/track/{code}/rating"), r#"{"score": 5}"#).status, 409, "once");

    // the rating is in the agency's index (the demo's two ratings, 4 and 5, plus this 2 for UBND_XA)
    let idx = json(&get(&format!("{base}/api/v1/satisfaction"), &ld.headers()));
    let ubnd = idx
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agency_code"] == "UBND_XA" && r["commune_code"].is_null())
        .unwrap()
        .clone();
    assert_eq!((ubnd["ratings"].as_i64(), ubnd["mean_milli"].as_i64()), (Some(1), Some(2000)), "{idx}");
    let so = idx
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agency_code"] == "SO_NOI_VU" && r["commune_code"].is_null())
        .unwrap()
        .clone();
    assert_eq!((so["ratings"].as_i64(), so["mean_milli"].as_i64()), (Some(2), Some(4500)));
    // … and in the plan's computed indicators
    let dash = json(&get(&format!("{base}/api/v1/plans/1/dashboard"), &ld.headers()));
    let ind = |code: &str| {
        dash["scorecard"].as_array().unwrap().iter().find(|s| s["indicator"]["code"] == code).unwrap().clone()
    };
    assert_eq!(ind("HAI_LONG")["actual"], 3667, "(4 + 5 + 2) / 3");
    assert_eq!(ind("KN_DUNG_HAN")["actual"], 100_000, "every closed case decided in time");

    // suspension stops the clock: no deadline while suspended; resumed, the deadline is back
    let so = login(&base, "sonoivu", DEMO_PASSWORD).unwrap();
    let all = json(&get(&format!("{base}/api/v1/complaints"), &so.headers()));
    let verifying = all.as_array().unwrap().iter().find(|c| c["case"]["status"] == "verifying").unwrap().clone();
    let vid = verifying["case"]["id"].as_i64().unwrap();
    let due_before = verifying["case"]["resolution_due"].clone();
    let vstep = |b: serde_json::Value| post(&base, &format!("/api/v1/complaints/{vid}/steps"), &xa, &b.to_string());
    assert_eq!(vstep(serde_json::json!({"action": "suspend"})).status, 400, "a suspension needs its reason");
    assert_eq!(vstep(serde_json::json!({"action": "suspend", "note": "Chờ kết quả giám định y khoa"})).status, 200);
    let d = json(&get(&format!("{base}/api/v1/complaints/{vid}"), &xa.headers()));
    assert!(d[0]["case"]["resolution_due"].is_null() && d[0]["light"] == "none", "{d}");
    assert_eq!(
        vstep(serde_json::json!({"action": "suspend", "note": "Chờ kết quả giám định y khoa"})).status,
        409,
        "already"
    );
    let r =
        vstep(serde_json::json!({"action": "decide", "outcome": "rejected", "note": "Kết luận khi đang tạm đình chỉ"}));
    assert_eq!(r.status, 409, "not decided while suspended");
    assert_eq!(vstep(serde_json::json!({"action": "resume"})).status, 200);
    let d = json(&get(&format!("{base}/api/v1/complaints/{vid}"), &xa.headers()));
    assert_eq!(d[0]["case"]["resolution_due"], due_before, "suspended and resumed the same day: no day added");

    // a first decision rejected: the citizen complains to the next level from the portal
    let body = serde_json::json!({
        "kind": "complaint", "subject": "entitlement_decision", "commune_code": "25195",
        "title": "Khiếu nại quyết định cắt trợ cấp xã hội", "content": "Tôi vẫn đủ điều kiện.", "filer_name": "Lý Văn Mẫn"
    })
    .to_string();
    let r = anon_post(&base, "/api/v1/portal/complaints", &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let vcode = json(&r)["tracking_code"].as_str().unwrap().to_string();
    let list = json(&get(&format!("{base}/api/v1/complaints?status=received"), &xa.headers()));
    let vid = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"]["title"] == "Khiếu nại quyết định cắt trợ cấp xã hội")
        .unwrap()["case"]["id"]
        .as_i64()
        .unwrap();
    let vstep = |b: serde_json::Value| post(&base, &format!("/api/v1/complaints/{vid}/steps"), &xa, &b.to_string());
    let r = vstep(serde_json::json!({"action": "accept", "assigned_to": "lanhdao"}));
    assert_eq!(
        (r.status, json(&r)["details"]["field"].as_str()),
        (400, Some("assigned_to")),
        "a leader does not handle complaints"
    );
    for b in [
        serde_json::json!({"action": "accept"}),
        serde_json::json!({"action": "decide", "outcome": "rejected", "note": "Quyết định thôi hưởng là đúng quy định."}),
    ] {
        assert_eq!(vstep(b.clone()).status, 200, "{b}");
    }
    let t = json(&get(&format!("{base}/api/v1/portal/track/{vcode}"), &[]));
    assert_eq!(t["can_escalate"], false, "not before the citizen is notified");
    for b in [serde_json::json!({"action": "notify"}), serde_json::json!({"action": "close"})] {
        assert_eq!(vstep(b.clone()).status, 200, "{b}");
    }
    let t = json(&get(&format!("{base}/api/v1/portal/track/{vcode}"), &[]));
    assert_eq!(t["can_escalate"], true, "{t}");
    let r = anon_post(&base, &format!("/api/v1/portal/track/{vcode}/second-instance"), r#"{"reason": "x"}"#);
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("reason")));
    let r = anon_post(
        &base,
        &format!("/api/v1/portal/track/{vcode}/second-instance"),
        r#"{"reason": "Tôi vẫn đủ điều kiện hưởng trợ cấp"}"#,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let second = json(&r)["tracking_code"].as_str().unwrap().to_string();
    let r = anon_post(
        &base,
        &format!("/api/v1/portal/track/{vcode}/second-instance"),
        r#"{"reason": "Tôi vẫn đủ điều kiện hưởng trợ cấp"}"#,
    );
    assert_eq!(r.status, 409, "once");
    let t2 = json(&get(&format!("{base}/api/v1/portal/track/{second}"), &[]));
    assert_eq!((t2["instance"].as_i64(), t2["can_escalate"].as_bool()), (Some(2), Some(false)));
    let all = json(&get(&format!("{base}/api/v1/complaints?status=received"), &so.headers()));
    let c2 = all.as_array().unwrap().iter().find(|c| c["case"]["parent_id"].as_i64() == Some(vid)).unwrap().clone();
    let c2id = c2["case"]["id"].as_i64().unwrap();
    assert_eq!((c2["case"]["agency_code"].as_str(), c2["case"]["parent_id"].as_i64()), (Some("UBND_TINH"), Some(vid)));
    let r = post(&base, &format!("/api/v1/complaints/{c2id}/steps"), &xa, r#"{"action": "accept"}"#);
    assert_eq!(r.status, 403, "the second instance is the province's");
    let r = post(&base, &format!("/api/v1/complaints/{c2id}/steps"), &so, r#"{"action": "accept"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let due2 = limits.due("complaint_second", "normal", today, &[], &cal).unwrap().date.unwrap();
    assert_eq!(json(&r)["case"]["resolution_due"], due2.format("%Y-%m-%d").to_string(), "45 days");

    // a complaint past the 90-day limit is recorded and flagged (an officer at reception)
    let late = serde_json::json!({
        "kind": "complaint", "subject": "entitlement_decision", "commune_code": "25195", "title": "Khiếu nại quyết định",
        "content": "Nội dung", "filer_name": "Hồ Văn Út", "decision_known_on": (today - chrono::Duration::days(120)).format("%d/%m/%Y").to_string(),
        "channel": "letter"
    });
    let r = post(&base, "/api/v1/complaints", &xa, &late.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(json(&r)["late_note"].as_str().unwrap().contains("90 ngày"), "{}", r.body);
    let r = post(&base, "/api/v1/complaints", &xa, &late.to_string().replace("25195", "26068"));
    assert_eq!(r.status, 403, "outside the officer's communes");
    let r = post(&base, "/api/v1/complaints", &xa, &late.to_string().replace("\"complaint\"", "\"rumour\""));
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("kind")));

    // a denouncer's identity: hidden from the leader, shown to the inspector (and audited)
    let all = json(&get(&format!("{base}/api/v1/complaints"), &ld.headers()));
    let den = all.as_array().unwrap().iter().find(|c| c["case"]["kind"] == "denunciation").unwrap().clone();
    assert_eq!(den["identity_hidden"], true);
    assert!(den["case"]["filer_phone"].is_null() && !den["case"]["filer_name"].as_str().unwrap().contains("Tư"));
    let did = den["case"]["id"].as_i64().unwrap();
    let d = json(&get(&format!("{base}/api/v1/complaints/{did}"), &tt.headers()));
    assert_eq!(d[0]["case"]["filer_name"], "Nguyễn Văn Tư");
    let audit = json(&get(&format!("{base}/api/v1/audit?action=complaint.identity_read"), &tt.headers()));
    assert!(audit["total"].as_i64().unwrap() >= 1);
    assert_eq!(step(&ld, serde_json::json!({"action": "accept"})).status, 403, "leaders read, they do not handle");

    // the public posting of a commune's beneficiaries: names, birth years, groups; nothing sensitive
    let posting = json(&get(&format!("{base}/api/v1/portal/postings/25210"), &[]));
    let rows = posting.as_array().unwrap();
    assert!(!rows.is_empty(), "the demo commune has beneficiaries");
    let text = posting.to_string();
    assert!(!text.contains("HIV") && !text.contains("nặng"), "no HIV group, no disability level: {text}");
    assert!(!text.as_bytes().windows(12).any(|w| w.iter().all(u8::is_ascii_digit)), "no ID numbers");
    assert!(rows.iter().all(|r| r.get("hiv").is_none() && r.get("personal_id").is_none()));
    assert_eq!(get(&format!("{base}/api/v1/portal/postings/99999"), &[]).status, 400);
    let page = get(&format!("{base}/portal/niem-yet?commune=25210"), &[]);
    assert!(page.status == 200 && page.body.contains("id=\"posting\""));

    // the policy pages come from the packs in force: the standard level with its citation
    let pol = get(&format!("{base}/portal/chinh-sach"), &[]);
    assert_eq!(pol.status, 200);
    assert!(pol.body.contains("500.000") && pol.body.contains("Nghị định 76/2024"), "the assistance standard level");
    assert!(
        pol.body.contains("2.789.000") && pol.body.contains("Phụ lục I"),
        "the merit standard level and Appendix I"
    );

    // the portal pages: file, receipt with the code, track, rate
    let portal = get(&format!("{base}/portal"), &[]);
    assert!(portal.status == 200 && portal.body.contains("id=\"complaint-form\""));
    let form = "kind=petition&subject=payment&commune_code=25210&title=Xin+chi+tra+qua+tai+khoan&content=De+nghi&filer_name=Mai";
    let r = send(
        "POST",
        &format!("{base}/portal/complaints"),
        &[],
        Some(("application/x-www-form-urlencoded", form.as_bytes())),
    );
    assert!(r.status == 201 && r.body.contains("id=\"tracking-code\""), "{} {}", r.status, r.body);

    // a wrong code says only that it is wrong; guessing is throttled
    let r = get(&format!("{base}/api/v1/portal/track/AAAA-BBBB-CCCC"), &[]);
    assert_eq!(r.status, 409);
    assert!(json(&r)["message"].as_str().unwrap().contains("Không tìm thấy"), "{}", r.body);
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(get(&format!("{base}/api/v1/portal/track/ZZZZ-ZZZZ-ZZZZ"), &[]).status);
    }
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");

    server.terminate();
    db.drop_db().await;
}

#[tokio::test]
async fn complaint_flow_on_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn complaint_flow_on_postgres() {
    flow(Backend::Postgres).await;
}
