//! Payment cycles end to end, on both databases: one officer generates the month's cycle, a
//! second checks it, the head of department approves it; the maker cannot check, the
//! checker cannot approve; the lists and the bank file are exported and every total
//! reconciles to the đồng; a results file with problems is refused whole, a good one is
//! recorded; the next cycle carries the failed line, pays the held line as arrears once the
//! hold is released, and recovers what was paid after a death recorded late.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{get, json, login, post, send, Db, Server, DEMO_PASSWORD};
use serde_json::Value;
use store::Backend;

/// Every line of a cycle (all pages), as (line, items).
fn all_lines(base: &str, s: &common::Session, id: i64, filter: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let r = json(&get(
            &format!("{base}/api/v1/payments/cycles/{id}/lines?per_page=200&page={page}{filter}"),
            &s.headers(),
        ));
        let items = r["items"].as_array().unwrap().clone();
        let done = items.len() < 200;
        out.extend(items);
        if done {
            break;
        }
    }
    out
}

fn sum3(v: &Value) -> i64 {
    v.as_array().unwrap().iter().map(|r| r[2].as_i64().unwrap()).sum()
}

/// The total at the foot of a printed pay-point list ("1.234.000 ₫").
fn list_total(html: &str) -> i64 {
    let at = html.find("id=\"pay-list-total\"><strong>").expect("total cell") + "id=\"pay-list-total\"><strong>".len();
    let text: String = html[at..].chars().take_while(|c| *c != '<').collect();
    text.chars().filter(char::is_ascii_digit).collect::<String>().parse().unwrap()
}

fn line_of(lines: &[Value], person_id: i64) -> Option<&Value> {
    lines.iter().find(|l| l["line"]["person_id"] == person_id)
}

async fn flow(backend: Backend) {
    let db = Db::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::cmd(dir.path(), &["demo", "--database-url", &db.url, "--persons", "3000"]);
    c.env("ANSINH_LOG_LEVEL", "warn");
    let server = Server::start_with(c, dir.path());
    let base = server.base.clone();
    let maker = login(&base, "sonoivu", DEMO_PASSWORD).unwrap();
    let checker = login(&base, "kiemtra", DEMO_PASSWORD).unwrap();
    let head = login(&base, "giamdocso", DEMO_PASSWORD).unwrap();
    let xa = login(&base, "canboxa", DEMO_PASSWORD).unwrap();

    // the demo comes with last month's cycle, taken through every step
    let existing = json(&get(&format!("{base}/api/v1/payments/cycles"), &maker.headers()));
    assert_eq!(existing["total"], 1, "{existing}");
    assert_eq!(existing["items"][0]["status"], "closed");
    let p: domain::Month = existing["items"][0]["month"].as_str().unwrap().parse().unwrap();
    let iso = |m: domain::Month| format!("{:04}-{:02}", m.year(), m.month());
    let (m1, m2) = (iso(p.add_months(1).unwrap()), iso(p.add_months(2).unwrap()));
    let create = |m: &str| format!(r#"{{"month":"{m}"}}"#);

    // a commune officer reads but cannot prepare; bad months are named
    assert_eq!(post(&base, "/api/v1/payments/cycles", &xa, &create(&m1)).status, 403);
    let r = post(&base, "/api/v1/payments/cycles", &maker, r#"{"month":"2026-13"}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(json(&r)["details"]["field"], "month");

    // generate (maker)
    let r = post(&base, "/api/v1/payments/cycles", &maker, &create(&m1));
    assert_eq!(r.status, 201, "{}", r.body);
    let g = json(&r);
    let id = g["cycle_id"].as_i64().unwrap();
    assert!(g["payable_lines"].as_i64().unwrap() > 100);
    assert_eq!(g["held"], 0, "{g}");
    // a second monthly cycle for the month is refused; regenerating a draft is idempotent
    assert_eq!(post(&base, "/api/v1/payments/cycles", &maker, &create(&m1)).status, 409);
    let before = json(&get(&format!("{base}/api/v1/payments/cycles/{id}"), &maker.headers()));
    let r = post(&base, &format!("/api/v1/payments/cycles/{id}/generate"), &maker, "{}");
    assert_eq!(r.status, 200, "{}", r.body);
    let after = json(&get(&format!("{base}/api/v1/payments/cycles/{id}"), &maker.headers()));
    assert_eq!(before["summary"], after["summary"]);
    assert_eq!(before["cycle"]["total"], after["cycle"]["total"]);

    // three beneficiaries of the commune officer's area; the first is suspended
    // (lines of this month only: none carried from the demo's uncollected ones)
    let ours: Vec<Value> = all_lines(&base, &xa, id, "&commune=25210&status=pay")
        .into_iter()
        .filter(|l| l["items"].as_array().unwrap().iter().all(|i| i["kind"] == "regular"))
        .collect();
    assert!(ours.len() >= 4, "demo has beneficiaries in 25210");
    assert!(all_lines(&base, &xa, id, "")
        .iter()
        .all(|l| l["line"]["commune_code"] == "25210" || l["line"]["commune_code"] == "25195"));
    let person = |l: &Value| serde_json::json!({"id": l["line"]["person_id"], "personal_id": l["line"]["personal_id"]});
    let (held_p, failed_p, dead_p, ended_p) = (person(&ours[0]), person(&ours[1]), person(&ours[2]), person(&ours[3]));
    let body =
        serde_json::json!({"personal_id": held_p["personal_id"], "reason": "Đang xác minh nơi cư trú"}).to_string();
    let r = post(&base, "/api/v1/payments/holds", &xa, &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let hold_id = json(&r)["id"].as_i64().unwrap();
    let r = post(&base, "/api/v1/payments/holds", &xa, r#"{"personal_id":"001099000001","reason":"x"}"#);
    assert_eq!(r.status, 400, "a reason is required: {}", r.body);
    let r = post(&base, &format!("/api/v1/payments/cycles/{id}/generate"), &maker, "{}");
    assert_eq!(json(&r)["held"], 1, "{}", r.body);

    // the workflow's refusals
    let empty = "{}";
    assert_eq!(
        post(&base, &format!("/api/v1/payments/cycles/{id}/approve"), &head, empty).status,
        409,
        "not checked yet"
    );
    let r = post(&base, &format!("/api/v1/payments/cycles/{id}/check"), &maker, empty);
    assert_eq!(r.status, 409, "the maker cannot check: {}", r.body);
    assert!(json(&r)["message"].as_str().unwrap().contains("không được tự kiểm tra"));
    assert_eq!(post(&base, &format!("/api/v1/payments/cycles/{id}/check"), &xa, empty).status, 403);
    assert_eq!(post(&base, &format!("/api/v1/payments/cycles/{id}/check"), &checker, empty).status, 200);
    assert_eq!(post(&base, &format!("/api/v1/payments/cycles/{id}/approve"), &checker, empty).status, 403);
    // an ad-hoc cycle computed now (last month's uncollected lines, which cycle 1 also carries)
    // goes stale when cycle 1 is approved
    let r = post(&base, "/api/v1/payments/cycles", &maker, &format!(r#"{{"month":"{m1}","adhoc":true}}"#));
    assert_eq!(r.status, 201, "{}", r.body);
    let adhoc = json(&r)["cycle_id"].as_i64().unwrap();
    assert!(json(&r)["payable_lines"].as_i64().unwrap() > 0, "{}", r.body);
    assert_eq!(post(&base, &format!("/api/v1/payments/cycles/{adhoc}/check"), &checker, empty).status, 200);
    assert_eq!(
        get(&format!("{base}/api/v1/payments/cycles/{id}/bank-file"), &maker.headers()).status,
        409,
        "no files before approval"
    );
    let r = post(&base, &format!("/api/v1/payments/cycles/{id}/approve"), &head, empty);
    assert_eq!(r.status, 200, "{}", r.body);
    let cycle = json(&r);
    assert_eq!(cycle["status"], "approved");
    assert_eq!(cycle["digest"].as_str().unwrap().len(), 64);
    let r = post(&base, &format!("/api/v1/payments/cycles/{id}/generate"), &maker, empty);
    assert_eq!(r.status, 409, "an approved cycle is immutable: {}", r.body);
    let r = post(&base, &format!("/api/v1/payments/cycles/{adhoc}/approve"), &head, empty);
    assert_eq!(r.status, 409, "the stale ad-hoc cycle would pay twice: {}", r.body);
    assert!(json(&r)["message"].as_str().unwrap().contains("tính lại"), "{}", r.body);
    let r = post(&base, &format!("/api/v1/payments/cycles/{adhoc}/generate"), &maker, empty);
    assert_eq!(json(&r)["payable_lines"], 0, "regenerated, it has nothing left to pay: {}", r.body);

    // every total reconciles: lines = summaries = files
    let d = json(&get(&format!("{base}/api/v1/payments/cycles/{id}"), &maker.headers()));
    let total = d["cycle"]["total"].as_i64().unwrap();
    let lines = all_lines(&base, &maker, id, "");
    let pay: Vec<&Value> = lines.iter().filter(|l| l["line"]["status"] == "pay").collect();
    assert_eq!(pay.iter().map(|l| l["line"]["amount"].as_i64().unwrap()).sum::<i64>(), total);
    for l in &lines {
        let items: i64 = l["items"].as_array().unwrap().iter().map(|i| i["amount"].as_i64().unwrap()).sum();
        assert_eq!(items, l["line"]["amount"].as_i64().unwrap(), "a line is the sum of its items");
    }
    assert_eq!(sum3(&d["summary"]["by_commune"]), total);
    assert_eq!(sum3(&d["summary"]["by_item"]), total);
    assert_eq!(sum3(&d["summary"]["by_method"]), total);
    assert_eq!(d["by_source"].as_array().unwrap().iter().map(|r| r[1].as_i64().unwrap()).sum::<i64>(), total);
    let held = line_of(&lines, held_p["id"].as_i64().unwrap()).expect("held line");
    assert_eq!(held["line"]["status"], "held");
    assert!(held["line"]["reason"].as_str().unwrap().contains("Đang xác minh"));
    let bank = get(&format!("{base}/api/v1/payments/cycles/{id}/bank-file"), &maker.headers());
    assert_eq!(bank.status, 200);
    let mut rdr = csv::Reader::from_reader(bank.body.as_bytes());
    let bank_total: i64 = rdr.records().map(|r| r.unwrap()[2].parse::<i64>().unwrap()).sum();
    let bank_method = d["summary"]["by_method"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "bank")
        .map_or(0, |r| r[2].as_i64().unwrap());
    assert_eq!(bank_total, bank_method);
    let mut cash_total = 0;
    for row in d["summary"]["by_commune"].as_array().unwrap() {
        let page =
            get(&format!("{base}/payments/{id}/lists/{}", row[0].as_str().unwrap()), &[("cookie", &maker.cookie)]);
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Ký nhận"));
        cash_total += list_total(&page.body);
    }
    assert_eq!(cash_total + bank_total, total, "pay-point lists + bank file = the cycle's total");
    // the commune officer sees their communes' figures only, and no other commune's list
    let dx = json(&get(&format!("{base}/api/v1/payments/cycles/{id}"), &xa.headers()));
    assert_eq!(dx["partial"], true);
    assert_eq!(dx["area_total"].as_i64().unwrap(), sum3(&dx["summary"]["by_commune"]));
    assert!(dx["area_total"].as_i64().unwrap() < total);
    assert_eq!(d["area_total"].as_i64().unwrap(), total);
    assert!(dx["summary"]["by_commune"].as_array().unwrap().iter().all(|r| r[0] == "25210" || r[0] == "25195"));
    let other =
        d["summary"]["by_commune"].as_array().unwrap().iter().find(|r| r[0] != "25210" && r[0] != "25195").unwrap();
    assert_eq!(
        get(&format!("{base}/payments/{id}/lists/{}", other[0].as_str().unwrap()), &[("cookie", &xa.cookie)]).status,
        403
    );
    assert_eq!(get(&format!("{base}/api/v1/payments/cycles/{id}/bank-file"), &xa.headers()).status, 403);
    let xlsx = get(&format!("{base}/payments/{id}/lists/25210.xlsx"), &[("cookie", &xa.cookie)]);
    assert!(xlsx.header("content-type").unwrap().contains("spreadsheetml"));

    // export, then results: a bad file is refused whole, a good one recorded
    assert_eq!(post(&base, &format!("/api/v1/payments/cycles/{id}/export"), &maker, empty).status, 200);
    let failed_line = line_of(&lines, failed_p["id"].as_i64().unwrap()).unwrap()["line"].clone();
    let reference = |l: &Value| format!("ANSINH-{id}-{}", l["line"]["id"]);
    let mut good = String::from("reference,result,amount,note\n");
    for l in &pay {
        let result = if l["line"]["id"] == failed_line["id"] { "thất bại" } else { "paid" };
        good.push_str(&format!("{},{result},{},\n", reference(l), l["line"]["amount"]));
    }
    let first = pay[0];
    let bad = format!(
        "reference,result,amount\n{r},paid,{a}\n{r},paid,{a}\n{r2},paid,1\nANSINH-{o}-1,paid,5\n{r3},maybe,{a3}\n",
        r = reference(first),
        a = first["line"]["amount"],
        r2 = reference(pay[1]),
        o = id + 1,
        r3 = reference(pay[2]),
        a3 = pay[2]["line"]["amount"],
    );
    let r = send(
        "POST",
        &format!("{base}/api/v1/payments/cycles/{id}/results"),
        &maker.headers(),
        Some(("text/csv", bad.as_bytes())),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let rep = json(&r);
    assert_eq!(rep["applied"], false);
    let reasons: Vec<(i64, String)> = rep["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["column"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        reasons,
        vec![(3, "reference".into()), (4, "amount".into()), (5, "reference".into()), (6, "result".into())],
        "{rep}"
    );
    let utf16: Vec<u8> = "reference,result,amount\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let r = send(
        "POST",
        &format!("{base}/api/v1/payments/cycles/{id}/results"),
        &maker.headers(),
        Some(("text/csv", &utf16)),
    );
    assert_eq!(r.status, 422);
    assert!(json(&r)["errors"][0]["reason"].as_str().unwrap().contains("UTF-8"));
    let unrecorded = all_lines(&base, &maker, id, "&result=none&status=pay");
    assert_eq!(unrecorded.len(), pay.len(), "nothing was applied");
    let r = send(
        "POST",
        &format!("{base}/api/v1/payments/cycles/{id}/results"),
        &maker.headers(),
        Some(("text/csv", good.as_bytes())),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rep = json(&r);
    assert_eq!((rep["failed"].as_i64(), rep["reconciled"].as_bool()), (Some(1), Some(true)));
    assert_eq!(post(&base, &format!("/api/v1/payments/cycles/{id}/close"), &maker, empty).status, 200);

    // between the cycles: the hold is released, a death last month is recorded late
    assert_eq!(post(&base, &format!("/api/v1/payments/holds/{hold_id}/release"), &xa, empty).status, 200);
    let dead_id = dead_p["id"].as_i64().unwrap();
    let died = format!("15/{:02}/{}", p.month(), p.year());
    let body = serde_json::json!({"deceased_on": died, "valid_from": died, "reason": "Giấy báo tử"}).to_string();
    let r = post(&base, &format!("/api/v1/persons/{dead_id}/changes"), &xa, &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let cid = json(&r)["id"].as_i64().unwrap();
    assert_eq!(post(&base, &format!("/api/v1/changes/{cid}/approve"), &maker, empty).status, 200);

    // … and every record of a fourth beneficiary ends with the first cycle's month
    let ended_id = ended_p["id"].as_i64().unwrap();
    let m1_month: domain::Month = m1.parse().unwrap();
    let last_day = m1_month.add_months(1).unwrap().first_day().pred_opt().unwrap().format("%d/%m/%Y").to_string();
    let dossier = json(&get(&format!("{base}/api/v1/persons/{ended_id}"), &maker.headers()));
    for (list, table) in [("merit", "merit_records"), ("assistance", "assistance_records")] {
        for rec in dossier[list].as_array().unwrap().iter().filter(|r| r["valid_to"].is_null()) {
            let body = serde_json::json!({"action": "end_record", "table": table, "record_id": rec["id"],
                "valid_to": last_day, "reason": "Hết thời hạn hưởng"})
            .to_string();
            let r = post(&base, &format!("/api/v1/persons/{ended_id}/records"), &xa, &body);
            assert_eq!(r.status, 201, "{}", r.body);
            let cid = json(&r)["id"].as_i64().unwrap();
            assert_eq!(post(&base, &format!("/api/v1/changes/{cid}/approve"), &maker, empty).status, 200);
        }
    }

    // the next cycle: carried, arrears, recovery — and the stop of the deceased
    let r = post(&base, "/api/v1/payments/cycles", &maker, &create(&m2));
    assert_eq!(r.status, 201, "{}", r.body);
    let id2 = json(&r)["cycle_id"].as_i64().unwrap();
    let d2 = json(&get(&format!("{base}/api/v1/payments/cycles/{id2}"), &maker.headers()));
    assert_eq!(d2["cycle"]["arrears_from"], iso(p), "compared from the first paid month");
    let lines2 = all_lines(&base, &maker, id2, "");
    let items_of =
        |p: &Value| line_of(&lines2, p["id"].as_i64().unwrap()).unwrap()["items"].as_array().unwrap().clone();
    let carried = items_of(&failed_p);
    let oct_failed: i64 = failed_line["amount"].as_i64().unwrap();
    assert_eq!(
        carried
            .iter()
            .filter(|i| i["kind"] == "carried" && i["for_month"] == m1)
            .map(|i| i["amount"].as_i64().unwrap())
            .sum::<i64>(),
        oct_failed,
        "the failed line is carried in full: {carried:?}"
    );
    let arrears = items_of(&held_p);
    let held_amount = held["line"]["amount"].as_i64().unwrap();
    assert_eq!(
        arrears
            .iter()
            .filter(|i| i["kind"] == "arrears" && i["for_month"] == m1)
            .map(|i| i["amount"].as_i64().unwrap())
            .sum::<i64>(),
        held_amount,
        "the held month is paid as arrears once released: {arrears:?}"
    );
    let dead_line = line_of(&lines2, dead_id).unwrap();
    let paid_oct = line_of(&lines, dead_id).unwrap()["line"]["amount"].as_i64().unwrap();
    let dead_items = dead_line["items"].as_array().unwrap();
    assert_eq!(
        dead_items
            .iter()
            .filter(|i| i["kind"] == "recovery" && i["for_month"] == m1)
            .map(|i| i["amount"].as_i64().unwrap())
            .sum::<i64>(),
        -paid_oct,
        "October was paid after the death: recovered: {dead_line}"
    );
    assert!(dead_items.iter().all(|i| i["kind"] != "regular"), "no monthly allowance after death: {dead_line}");
    assert!(dead_line["line"]["reason"].as_str().unwrap().contains("mất"), "{dead_line}");
    // every amount explains itself from the frozen facts; only for roles that see sensitive data
    let arrears_line = line_of(&lines2, held_p["id"].as_i64().unwrap()).unwrap()["line"]["id"].as_i64().unwrap();
    let ex = json(&get(&format!("{base}/api/v1/payments/cycles/{id2}/lines/{arrears_line}"), &xa.headers()));
    let m1_explained =
        ex["months"].as_array().unwrap().iter().find(|m| m[0] == m1.as_str()).expect("the arrears month");
    assert_eq!(m1_explained[2].as_i64().unwrap(), held_amount, "{ex}");
    assert!(!m1_explained[1].as_array().unwrap().is_empty());
    let leader = login(&base, "lanhdao", DEMO_PASSWORD).unwrap();
    assert_eq!(
        get(&format!("{base}/api/v1/payments/cycles/{id2}/lines/{arrears_line}"), &leader.headers()).status,
        403
    );
    let page = get(&format!("{base}/payments/{id2}/lines/{arrears_line}"), &[("cookie", &maker.cookie)]);
    assert!(page.status == 200 && page.body.contains(&format!("id=\"explain-{m1}\"")), "{}", page.status);

    // the dossier lists the person's lines, newest cycle first
    let dossier = json(&get(&format!("{base}/api/v1/persons/{}", failed_p["id"]), &xa.headers()));
    let pays = dossier["payments"].as_array().unwrap();
    assert_eq!(pays[0]["cycle_id"], id2, "{dossier}");
    assert!(pays.iter().any(|x| x["cycle_id"] == id && x["result"] == "failed"), "{dossier}");
    let page = get(&format!("{base}/registry/persons/{}", failed_p["id"]), &[("cookie", &xa.cookie)]);
    assert!(page.body.contains("id=\"person-payments\"") && page.body.contains("không chi được"));

    let ended = line_of(&lines2, ended_id).expect("a stopped line explains the stop");
    assert_eq!(ended["line"]["status"], "stopped", "{ended}");
    assert_eq!(ended["line"]["amount"], 0);
    assert!(ended["line"]["reason"].as_str().unwrap().contains("hết hiệu lực"), "{ended}");
    assert!(d2["summary"]["by_status"].as_array().unwrap().iter().any(|r| r[0] == "stopped"));
    // approved cycle 1 is untouched by all this
    let again = json(&get(&format!("{base}/api/v1/payments/cycles/{id}"), &maker.headers()));
    assert_eq!(again["cycle"]["total"], total);
    assert_eq!(again["cycle"]["status"], "closed");

    // the pages
    let page = get(&format!("{base}/payments/{id2}"), &[("cookie", &maker.cookie)]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"cycle-status\" data-status=\"draft\""));
    assert!(!page.body.contains("id=\"do-check\""), "the maker is not offered the check");
    let page = get(&format!("{base}/payments/{id2}"), &[("cookie", &checker.cookie)]);
    assert!(page.body.contains("id=\"do-check\""));
    let list = get(&format!("{base}/payments"), &[("cookie", &head.cookie)]);
    assert!(list.body.contains(&format!("id=\"cycle-{id2}\"")));

    let ins = login(&base, "thanhtra", DEMO_PASSWORD).unwrap();
    let audit = json(&get(&format!("{base}/api/v1/audit?action=payments.approve&entity_id={id}"), &ins.headers()));
    assert_eq!(audit["total"], 1, "{audit}");
    assert!(audit["items"][0]["detail"].as_str().unwrap().contains(cycle["digest"].as_str().unwrap()));
    let v = json(&get(&format!("{base}/api/v1/audit/verify"), &ins.headers()));
    assert_eq!(v["intact"], true);
    drop(server);

    // the CLI verifies the approved cycle from its frozen facts and pack text
    let o = common::run(dir.path(), &["payments", "verify", &id.to_string(), "--database-url", &db.url]);
    assert!(o.status.success(), "{}{}", common::stdout(&o), common::stderr(&o));
    assert!(common::stdout(&o).contains("digest matches the approval"), "{}", common::stdout(&o));
    db.drop_db().await;
}

#[tokio::test]
async fn payments_flow_on_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn payments_flow_on_postgres() {
    flow(Backend::Postgres).await;
}
