//! Plan monitoring end to end, on both databases: the demo's seed plan and its report
//! history; an agency reporter submits the six-monthly report the demo left open, the plan
//! owner returns it, the reporter fixes and resubmits, it is accepted and locked; the leader
//! sees the scorecard, the overdue tasks by agency and the drill-down across the 2025 reform;
//! the exported XLSX matches the dashboard; every bad input is named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{get, json, login, post, send, Db, Server, DEMO_PASSWORD};
use serde_json::Value;
use store::Backend;

/// A binary download (XLSX) in a signed-in session.
fn bytes(url: &str, cookie: &str) -> Vec<u8> {
    let mut res = ureq::get(url).header("cookie", cookie).call().unwrap();
    assert_eq!(res.status().as_u16(), 200, "{url}");
    res.body_mut().with_config().limit(20 * 1024 * 1024).read_to_vec().unwrap()
}

fn put(base: &str, path: &str, s: &common::Session, body: &str) -> common::Response {
    send("PUT", &format!("{base}{path}"), &s.headers(), Some(("application/json", body.as_bytes())))
}

async fn flow(backend: Backend) {
    let db = Db::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::cmd(dir.path(), &["demo", "--database-url", &db.url, "--persons", "3000"]);
    c.env("ANSINH_LOG_LEVEL", "warn");
    let server = Server::start_with(c, dir.path());
    let base = server.base.clone();
    let bc = login(&base, "baocao", DEMO_PASSWORD).unwrap(); // Sở Y tế's reporter
    let so = login(&base, "sonoivu", DEMO_PASSWORD).unwrap(); // Sở Nội vụ: the plan owner
    let ld = login(&base, "lanhdao", DEMO_PASSWORD).unwrap();
    let xa = login(&base, "canboxa", DEMO_PASSWORD).unwrap();

    let plans = json(&get(&format!("{base}/api/v1/plans"), &bc.headers()));
    assert_eq!(plans[0]["number"], "230/KH-UBND", "{plans}");
    let id = plans[0]["id"].as_i64().unwrap();

    // the demo's history: reports of every agency, some late, one missing; the reporter sees
    // only its agency's
    let mine = json(&get(&format!("{base}/api/v1/plans/{id}/reports"), &bc.headers()));
    assert!(mine.as_array().unwrap().len() >= 3, "{mine}");
    assert!(mine.as_array().unwrap().iter().all(|r| r["agency_code"] == "SO_Y_TE"), "{mine}");
    let all = json(&get(&format!("{base}/api/v1/plans/{id}/reports"), &so.headers()));
    let other =
        all.as_array().unwrap().iter().find(|r| r["agency_code"] == "SO_NOI_VU").unwrap()["id"].as_i64().unwrap();
    assert_eq!(
        get(&format!("{base}/api/v1/plan-reports/{other}"), &bc.headers()).status,
        403,
        "another agency's report"
    );

    let dash = json(&get(&format!("{base}/api/v1/plans/{id}/dashboard"), &ld.headers()));
    let cells = |d: &Value, agency: &str| -> Vec<Value> {
        d["completeness"].as_array().unwrap().iter().find(|r| r["agency"] == agency).unwrap()["cells"]
            .as_array()
            .unwrap()
            .clone()
    };
    let missing = cells(&dash, "SO_Y_TE")
        .into_iter()
        .find(|c| c["state"] == "missing")
        .expect("the demo leaves a report missing");
    let period = missing["period"].as_str().unwrap().to_string();
    assert!(period.ends_with("-H1"), "a six-monthly report: {period}");
    let all_states: Vec<String> = dash["completeness"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["cells"].as_array().unwrap().iter().map(|c| c["state"].as_str().unwrap().to_string()))
        .collect();
    assert!(all_states.iter().any(|s| s == "late") && all_states.iter().any(|s| s == "on_time"), "{all_states:?}");
    let status = |d: &Value, code: &str| -> Value {
        d["view"]["tasks"].as_array().unwrap().iter().find(|t| t["code"] == code).unwrap()["state"]["status"].clone()
    };
    assert_eq!(status(&dash, "II.3.a.2"), "overdue", "Sở Y tế's six-monthly task without its report");
    assert_eq!(status(&dash, "II.2.c.1"), "done_late");
    assert_eq!(status(&dash, "II.3.b.3"), "done_on_time");
    let counts: i64 = dash["status_counts"].as_array().unwrap().iter().map(|c| c[1].as_i64().unwrap()).sum();
    assert_eq!(counts, dash["view"]["tasks"].as_array().unwrap().len() as i64);
    let agency = |d: &Value, a: &str| -> Value {
        d["by_agency"].as_array().unwrap().iter().find(|x| x["agency"] == a).unwrap().clone()
    };
    assert_eq!(agency(&dash, "SO_Y_TE")["overdue"], 1);
    // the reorganisation: tasks of the former Sở LĐTBXH are led by their successors now
    let t = dash["view"]["tasks"].as_array().unwrap().iter().find(|t| t["code"] == "II.4.a.1").unwrap().clone();
    assert_eq!(t["lead"], "SO_GD_DT");
    assert_eq!(t["leads"][0]["agency_code"], "SO_LDTBXH");
    assert_eq!(t["leads"][0]["valid_to"], "2025-02-28");

    // bad periods
    let r = post(&base, &format!("/api/v1/plans/{id}/reports"), &bc, r#"{"period":"2024"}"#);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(json(&r)["message"].as_str().unwrap().contains("khóa sổ"), "{}", r.body);
    let r = post(&base, &format!("/api/v1/plans/{id}/reports"), &bc, r#"{"period":"2099-H1"}"#);
    assert!(r.status == 409 && r.body.contains("chưa bắt đầu"), "{}", r.body);
    let r = post(&base, &format!("/api/v1/plans/{id}/reports"), &bc, r#"{"period":"2026-H2"}"#);
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("period")), "{}", r.body);
    let r = post(&base, &format!("/api/v1/plans/{id}/reports"), &xa, &format!(r#"{{"period":"{period}"}}"#));
    assert_eq!(r.status, 403, "a commune officer does not report for an agency");

    // the reporter opens the six-monthly report
    let r = post(&base, &format!("/api/v1/plans/{id}/reports"), &bc, &format!(r#"{{"period":"{period}"}}"#));
    assert_eq!(r.status, 201, "{}", r.body);
    let rid = json(&r)["id"].as_i64().unwrap();
    let r = post(&base, &format!("/api/v1/plans/{id}/reports"), &bc, &format!(r#"{{"period":"{period}"}}"#));
    assert_eq!(r.status, 409, "one report per agency and period");

    // bad content is named, row by row, and nothing is saved
    let year = &period[..4];
    let bad = serde_json::json!({
        "summary": "x",
        "progress": [
            {"task": "II.9.z", "progress": "done"},
            {"task": "II.3.a.2", "progress": "finished"},
            {"task": "II.3.a.2", "progress": "in_progress", "completed_on": "01/06/2026"},
            {"task": "II.3.a.2", "progress": "done"}
        ],
        "values": [
            {"indicator": "BHYT", "value": "120"},
            {"indicator": "BHYT", "value": "95 người"},
            {"indicator": "BHXH", "value": "50"},
            {"indicator": "BHYT", "commune": "99999", "value": "90"}
        ]
    });
    let r = put(&base, &format!("/api/v1/plan-reports/{rid}"), &bc, &bad.to_string());
    assert_eq!(r.status, 409, "{}", r.body);
    let msg = json(&r)["message"].as_str().unwrap().to_string();
    for needle in [
        "progress[1] II.9.z",
        "progress[2] II.3.a.2",
        "progress[3] II.3.a.2",
        "values[1] BHYT",
        "120",
        "values[2] BHYT",
        "người",
        "values[3] BHXH",
        "values[4] BHYT",
        "99999",
    ] {
        assert!(msg.contains(needle), "{needle} in {msg}");
    }
    let d = json(&get(&format!("{base}/api/v1/plan-reports/{rid}"), &bc.headers()));
    assert!(d["tasks"][0][1].is_null(), "nothing saved: {d}");
    let r = post(&base, &format!("/api/v1/plan-reports/{rid}/submit"), &bc, "{}");
    assert!(r.status == 409 && r.body.contains("II.3.a.2"), "an empty report is not submitted: {}", r.body);

    // saved and submitted
    let good = |value: &str| {
        serde_json::json!({
            "summary": "Đã tổ chức khám sức khỏe định kỳ cho người có công.",
            "progress": [{"task": "II.3.a.2", "progress": "done", "completed_on": format!("20/06/{year}"), "note": "Khám cho 1.240 người"}],
            "values": [{"indicator": "BHYT", "value": value}]
        })
        .to_string()
    };
    let r = put(&base, &format!("/api/v1/plan-reports/{rid}"), &bc, &good("94"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(post(&base, &format!("/api/v1/plan-reports/{rid}/submit"), &bc, "{}").status, 200);
    let r = post(&base, &format!("/api/v1/plan-reports/{rid}/decision"), &bc, r#"{"decision":"accept"}"#);
    assert_eq!(r.status, 403, "the reporter does not review");
    let r = put(&base, &format!("/api/v1/plan-reports/{rid}"), &bc, &good("95"));
    assert_eq!(r.status, 409, "a submitted report waits for the decision");

    // the owner returns it: comments required
    let r = post(&base, &format!("/api/v1/plan-reports/{rid}/decision"), &so, r#"{"decision":"return"}"#);
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("comment")));
    let r = post(
        &base,
        &format!("/api/v1/plan-reports/{rid}/decision"),
        &so,
        r#"{"decision":"return","comment":"Đề nghị cập nhật tỷ lệ BHYT theo số liệu chốt 14/6."}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let d = json(&get(&format!("{base}/api/v1/plan-reports/{rid}"), &bc.headers()));
    assert_eq!(d["report"]["status"], "returned");
    assert_eq!(d["can_edit"], true);

    // the reporter fixes and resubmits; the owner accepts: locked
    assert_eq!(put(&base, &format!("/api/v1/plan-reports/{rid}"), &bc, &good("94,3")).status, 200);
    assert_eq!(post(&base, &format!("/api/v1/plan-reports/{rid}/submit"), &bc, "{}").status, 200);
    let r = post(&base, &format!("/api/v1/plan-reports/{rid}/decision"), &so, r#"{"decision":"accept"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = put(&base, &format!("/api/v1/plan-reports/{rid}"), &bc, &good("99"));
    assert_eq!(r.status, 409, "an accepted report is locked");
    let r = post(&base, &format!("/api/v1/plan-reports/{rid}/decision"), &so, r#"{"decision":"return","comment":"x"}"#);
    assert_eq!(r.status, 409);

    // the history keeps every step with its content, the returned version included
    let d = json(&get(&format!("{base}/api/v1/plan-reports/{rid}"), &so.headers()));
    let actions: Vec<&str> = d["events"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "saved", "submitted", "returned", "saved", "submitted", "accepted"], "{d}");
    let returned = d["events"].as_array().unwrap().iter().find(|e| e["action"] == "returned").unwrap();
    assert!(returned["comment"].as_str().unwrap().contains("BHYT"));
    assert!(returned["content"].as_str().unwrap().contains("94000"), "the returned version: {returned}");
    assert_eq!(d["report"]["revision"], 2);
    let audit = json(&get(
        &format!("{base}/api/v1/audit?action=plan.report.accept"),
        &login(&base, "thanhtra", DEMO_PASSWORD).unwrap().headers(),
    ));
    assert!(audit["total"].as_i64().unwrap() >= 1, "{audit}");

    // the leader: the task is no longer overdue, the report counts as late, the value is in
    let dash = json(&get(&format!("{base}/api/v1/plans/{id}/dashboard"), &ld.headers()));
    assert_ne!(status(&dash, "II.3.a.2"), "overdue");
    assert_eq!(agency(&dash, "SO_Y_TE")["overdue"], 0);
    let cell = cells(&dash, "SO_Y_TE").into_iter().find(|c| c["period"] == period.as_str()).unwrap();
    assert_eq!(cell["state"], "late", "{cell}");
    let bhyt = dash["scorecard"].as_array().unwrap().iter().find(|s| s["indicator"]["code"] == "BHYT").unwrap().clone();
    assert_eq!(bhyt["actual"], 94_300, "{bhyt}");
    assert_eq!(bhyt["actual_period"], period.as_str());
    assert!(["on_track", "at_risk", "off_track"].contains(&bhyt["light"].as_str().unwrap()), "{bhyt}");
    assert!(bhyt["series"].as_array().unwrap().len() >= 3, "a trend: {bhyt}");
    let computed =
        dash["scorecard"].as_array().unwrap().iter().find(|s| s["indicator"]["code"] == "NCC_TRO_CAP").unwrap().clone();
    assert!(computed["actual"].as_i64().unwrap() > 0, "computed from the payments: {computed}");

    // computed indicators follow the registry: a new beneficiary approved → counted at once
    let btxh = |d: &Value| {
        d["scorecard"].as_array().unwrap().iter().find(|s| s["indicator"]["code"] == "BTXH_DOI_TUONG").unwrap()
            ["actual"]
            .as_i64()
            .unwrap()
    };
    let before = btxh(&dash);
    let found = json(&get(&format!("{base}/api/v1/persons?commune=25210&per_page=200"), &xa.headers()));
    let pid = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| {
            p["status"] == "living"
                && p["categories"].as_array().unwrap().iter().all(|c| !c.as_str().unwrap().starts_with('k'))
        })
        .expect("a living person without assistance")["id"]
        .as_i64()
        .unwrap();
    let body = serde_json::json!({"action": "add_assistance", "group_code": "k6", "disability_level": "severe", "decision_no": "9/QĐ", "decision_date": "01/01/2026", "valid_from": "01/01/2026", "reason": "Khuyết tật nặng"}).to_string();
    let r = post(&base, &format!("/api/v1/persons/{pid}/records"), &xa, &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let change = json(&r)["id"].as_i64().unwrap();
    assert_eq!(post(&base, &format!("/api/v1/changes/{change}/approve"), &so, "{}").status, 200);
    let dash = json(&get(&format!("{base}/api/v1/plans/{id}/dashboard"), &ld.headers()));
    assert_eq!(btxh(&dash), before + 1000, "the approved beneficiary is counted (thousandths)");

    // drill-down: communes now, and the pre-2025 communes' 2024 values under their successors
    let drill = json(&get(&format!("{base}/api/v1/plans/{id}/indicators/BHYT"), &ld.headers()));
    let communes = drill["communes"].as_array().unwrap();
    assert_eq!(communes.len(), 95);
    assert!(communes.iter().all(|c| !c["actual"].is_null()), "every commune reported in the annual report");
    let with_history = communes.iter().filter(|c| !c["before_reform"].as_array().unwrap().is_empty()).count();
    assert!(with_history >= 90, "{with_history} communes show their predecessors' 2024 values");
    assert!(communes.iter().any(|c| c["before_reform"][0][0] == "2024"), "2024 values of the old communes");
    let page = get(&format!("{base}/plans/{id}/indicators/BHYT"), &[("cookie", &ld.cookie)]);
    assert!(page.status == 200 && page.body.contains("Trước sắp xếp"), "{}", page.status);

    // the exported report matches the screen
    let raw = bytes(&format!("{base}/plans/{id}/export.xlsx"), &ld.cookie);
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(raw)).unwrap();
    let agencies = wb.worksheet_range("CoQuan").unwrap();
    let html = get(&format!("{base}/plans/{id}/dashboard"), &[("cookie", &ld.cookie)]).body;
    for (i, a) in dash["by_agency"].as_array().unwrap().iter().enumerate() {
        let row = i as u32 + 1;
        assert_eq!(
            agencies.get_value((row, 3)).unwrap().to_string(),
            a["overdue"].to_string(),
            "overdue of {}",
            a["agency"]
        );
        assert_eq!(agencies.get_value((row, 2)).unwrap().to_string(), a["total"].to_string());
        let code = a["agency"].as_str().unwrap();
        let tr = &html[html.find(&format!("id=\"agency-{code}\"")).unwrap()..];
        let overdue_cell = tr.split("class=\"num overdue\">").nth(1).unwrap().split('<').next().unwrap();
        assert_eq!(overdue_cell, a["overdue"].to_string(), "the page shows the same for {code}");
    }
    let inds = wb.worksheet_range("ChiTieu").unwrap();
    let bhyt_row = (1..inds.height() as u32)
        .find(|r| matches!(inds.get_value((*r, 0)), Some(calamine::Data::String(s)) if s == "BHYT"))
        .unwrap();
    assert_eq!(inds.get_value((bhyt_row, 4)).unwrap().to_string(), "94,3");
    assert!(html.contains(">94,3%<"), "the page shows 94,3%");
    let print = get(&format!("{base}/plans/{id}/print"), &[("cookie", &ld.cookie)]);
    assert!(print.status == 200 && print.body.contains(">94,3%<") && print.body.contains("id=\"agency-ranking\""));

    // who may see what
    assert_eq!(get(&format!("{base}/api/v1/plans/{id}/dashboard"), &bc.headers()).status, 403);
    assert_eq!(get(&format!("{base}/api/v1/plans/{id}/dashboard"), &xa.headers()).status, 403);
    assert_eq!(
        get(&format!("{base}/plans/{id}"), &[("cookie", &xa.cookie)]).status,
        200,
        "commune officers read the plan"
    );

    // the 2025 reform on the way in: a pre-2025 commune code in a 2026 report is refused
    let r =
        post(&base, &format!("/api/v1/plans/{id}/reports"), &so, &format!(r#"{{"period":"{}"}}"#, current_annual()));
    let so_rid = if r.status == 201 { json(&r)["id"].as_i64().unwrap() } else { panic!("{}", r.body) };
    let current: Vec<&str> = communes.iter().map(|c| c["code"].as_str().unwrap()).collect();
    let legacy = communes
        .iter()
        .flat_map(|c| c["before_reform"].as_array().unwrap().iter().map(|b| b[1].as_str().unwrap()))
        .find(|code| !current.contains(code))
        .unwrap()
        .to_string();
    let body =
        serde_json::json!({"values": [{"indicator": "THAT_NGHIEP", "commune": legacy, "value": "2,9"}]}).to_string();
    let r = put(&base, &format!("/api/v1/plan-reports/{so_rid}"), &so, &body);
    assert!(r.status == 409 && r.body.contains("hiện hành"), "{}", r.body);

    // maker-checker inside the owner agency: Sở Nội vụ's own report is decided by another officer
    let d = json(&get(&format!("{base}/api/v1/plan-reports/{so_rid}"), &so.headers()));
    let progress: Vec<Value> = d["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| serde_json::json!({"task": t[0]["code"], "progress": "in_progress", "note": "Đang thực hiện"}))
        .collect();
    assert!(progress.len() >= 5, "Sở Nội vụ leads most tasks: {}", progress.len());
    let body = serde_json::json!({"summary": "Báo cáo năm", "progress": progress}).to_string();
    assert_eq!(put(&base, &format!("/api/v1/plan-reports/{so_rid}"), &so, &body).status, 200);
    assert_eq!(post(&base, &format!("/api/v1/plan-reports/{so_rid}/submit"), &so, "{}").status, 200);
    let r = post(&base, &format!("/api/v1/plan-reports/{so_rid}/decision"), &so, r#"{"decision":"accept"}"#);
    assert!(r.status == 409 && r.body.contains("không tự tiếp nhận"), "{}", r.body);
    let kt = login(&base, "kiemtra", DEMO_PASSWORD).unwrap();
    let r = post(&base, &format!("/api/v1/plan-reports/{so_rid}/decision"), &kt, r#"{"decision":"accept"}"#);
    assert_eq!(r.status, 200, "{}", r.body);

    // closing periods: not one still running; the six-monthly one: then nothing more for it
    let r = post(&base, &format!("/api/v1/plans/{id}/periods/{}/close", current_annual()), &so, "{}");
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("period")), "{}", r.body);
    let r = post(&base, &format!("/api/v1/plans/{id}/periods/{period}/close"), &bc, "{}");
    assert_eq!(r.status, 403, "only the owner closes");
    let r = post(&base, &format!("/api/v1/plans/{id}/periods/{period}/close"), &so, "{}");
    assert_eq!((r.status, json(&r)["closed"].as_bool()), (200, Some(true)), "{}", r.body);
    let r = post(&base, &format!("/api/v1/plans/{id}/periods/{period}/close"), &so, "{}");
    assert_eq!(json(&r)["closed"].as_bool(), Some(false), "already closed");
    let r = post(&base, &format!("/api/v1/plans/{id}/reports"), &bc, &format!(r#"{{"period":"{period}"}}"#));
    assert!(r.status == 409 && r.body.contains("khóa sổ"), "{}", r.body);

    // import: broken files are refused with their place; the template checks (dry run) and
    // cannot be imported twice
    let r = send(
        "POST",
        &format!("{base}/api/v1/plans"),
        &so.headers(),
        Some(("application/toml", b"[plan]\nnumber = 1\n")),
    );
    assert!(r.status == 409 && r.body.contains("dòng 2"), "{}", r.body);
    let tpl = bytes(&format!("{base}/plans/template.xlsx"), &so.cookie);
    let r = send(
        "POST",
        &format!("{base}/api/v1/plans?dry_run=true"),
        &so.headers(),
        Some(("application/octet-stream", &tpl)),
    );
    assert_eq!((r.status, json(&r)["tasks"].as_i64()), (200, Some(15)), "{}", r.body);
    let r = send("POST", &format!("{base}/api/v1/plans"), &so.headers(), Some(("application/octet-stream", &tpl)));
    assert!(r.status == 409 && r.body.contains("230/KH-UBND"), "{}", r.body);
    let toml = common::SEED_PLAN.replace("230/KH-UBND", "15/KH-UBND").replacen(
        "lead = \"SO_VHTTDL\"",
        "lead = \"SO_KHONG_CO\"",
        1,
    );
    let r = send("POST", &format!("{base}/api/v1/plans"), &so.headers(), Some(("application/toml", toml.as_bytes())));
    assert!(r.status == 409 && r.body.contains("SO_KHONG_CO") && r.body.contains("lead"), "{}", r.body);
    let toml = common::SEED_PLAN.replace("230/KH-UBND", "15/KH-UBND");
    let r = send("POST", &format!("{base}/api/v1/plans"), &so.headers(), Some(("application/toml", toml.as_bytes())));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(json(&get(&format!("{base}/api/v1/plans"), &so.headers())).as_array().unwrap().len(), 2);

    server.terminate();
    db.drop_db().await;
}

/// The annual period whose window contains today (open: it has started).
fn current_annual() -> String {
    let today = chrono::Utc::now().date_naive();
    domain::plan::ReportPeriod::containing(domain::plan::PeriodKind::Annual, today).to_string()
}

#[tokio::test]
async fn plan_flow_on_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn plan_flow_on_postgres() {
    flow(Backend::Postgres).await;
}
