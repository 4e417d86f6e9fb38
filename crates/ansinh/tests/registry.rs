//! The registry end to end, on both databases: a commune officer finds a person by a
//! name typed without diacritics, proposes a change that a provincial officer approves,
//! imports a template file and sees the errors of a bad one; sensitive fields only for
//! the roles that need them, every such read audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{get, json, login, send, Db, Server, DEMO_PASSWORD};
use store::Backend;

/// Uploads a file on the import page: the import runs in the background and the page it
/// redirects to shows its progress until the report is ready. Returns that final page.
fn import_file(base: &str, cookie: &str, csrf: &str, mode: &str, file_name: &str, content: &[u8]) -> common::Response {
    let (ct, body) = multipart(csrf, mode, file_name, content);
    let r = send("POST", &format!("{base}/registry/import"), &[("cookie", cookie)], Some((&ct, &body)));
    assert_eq!(r.status, 303, "{}", r.body);
    let job = r.header("location").unwrap().to_string();
    assert!(job.starts_with("/registry/import/jobs/"), "{job}");
    for _ in 0..200 {
        let page = get(&format!("{base}{job}"), &[("cookie", cookie)]);
        if page.status != 200 || !page.body.contains("id=\"import-job\"") {
            // the page's htmx poll is told to reload the whole page once the job is over
            let poll = get(&format!("{base}{job}"), &[("cookie", cookie), ("hx-request", "true")]);
            assert_eq!(poll.header("hx-refresh"), Some("true"));
            return page;
        }
        assert!(page.body.contains("<progress"), "a running import shows its progress");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("import {job} did not finish");
}

/// Another person of the same commune as `first`, who lives in a household.
fn r_items_same_commune(list: &serde_json::Value, first: &serde_json::Value) -> serde_json::Value {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["commune_code"] == first["commune_code"] && p["id"] != first["id"])
        .unwrap()
        .clone()
}

fn multipart(csrf: &str, mode: &str, file_name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----ansinhtestboundary";
    let mut body = Vec::new();
    for (name, value) in [("_csrf", csrf), ("mode", mode)] {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes());
    body.extend(content);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn flow(backend: Backend) {
    let db = Db::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let mut c = common::cmd(dir.path(), &["demo", "--database-url", &db.url, "--persons", "3000"]);
    c.env("ANSINH_LOG_LEVEL", "warn");
    let server = Server::start_with(c, dir.path());
    let base = server.base.clone();
    let xa = login(&base, "canboxa", DEMO_PASSWORD).unwrap();
    let so = login(&base, "sonoivu", DEMO_PASSWORD).unwrap();

    // the commune officer sees only their two communes
    let r = json(&get(&format!("{base}/api/v1/persons?per_page=200"), &xa.headers()));
    let total = r["total"].as_i64().unwrap();
    assert!(total > 0);
    assert!(r["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| matches!(p["commune_code"].as_str(), Some("25210" | "25195"))));
    // a name typed without diacritics finds the person
    let first = r["items"][0].clone();
    let typed = domain::text::search_key(first["full_name"].as_str().unwrap());
    let q: String = form_urlencoded::byte_serialize(typed.as_bytes()).collect();
    let found = json(&get(&format!("{base}/api/v1/persons?q={q}"), &xa.headers()));
    assert!(found["items"].as_array().unwrap().iter().any(|p| p["id"] == first["id"]), "{typed}");
    // the search page too
    let page = get(&format!("{base}/registry?q={q}"), &[("cookie", &xa.cookie)]);
    assert_eq!(page.status, 200);
    assert!(page.body.contains(first["full_name"].as_str().unwrap()));

    // someone outside the area is out of reach
    let outside = json(&get(&format!("{base}/api/v1/persons?commune=26068&per_page=1"), &so.headers()));
    let outside_id = outside["items"][0]["id"].as_i64().unwrap();
    assert_eq!(get(&format!("{base}/api/v1/persons/{outside_id}"), &xa.headers()).status, 403);
    assert_eq!(get(&format!("{base}/registry/persons/{outside_id}"), &[("cookie", &xa.cookie)]).status, 403);

    // propose → approve → in force, with history and the state as of before
    let id = first["id"].as_i64().unwrap();
    let body = serde_json::json!({"address_line": "Ấp 9, đường Hùng Vương", "valid_from": "01/01/2027", "reason": "Chuyển nhà"}).to_string();
    let r = send(
        "POST",
        &format!("{base}/api/v1/persons/{id}/changes"),
        &xa.headers(),
        Some(("application/json", body.as_bytes())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let cid = json(&r)["id"].as_i64().unwrap();
    let before = json(&get(&format!("{base}/api/v1/persons/{id}"), &so.headers()));
    assert_ne!(before["person"]["address_line"], "Ấp 9, đường Hùng Vương", "not in force before approval");
    // the maker cannot approve; a reader cannot either
    let empty = b"{}";
    assert_eq!(
        send("POST", &format!("{base}/api/v1/changes/{cid}/approve"), &xa.headers(), Some(("application/json", empty)))
            .status,
        403
    );
    let r =
        send("POST", &format!("{base}/api/v1/changes/{cid}/approve"), &so.headers(), Some(("application/json", empty)));
    assert_eq!(r.status, 200, "{}", r.body);
    let after = json(&get(&format!("{base}/api/v1/persons/{id}"), &so.headers()));
    assert_eq!(after["person"]["address_line"], "Ấp 9, đường Hùng Vương");
    assert_eq!(after["history"].as_array().unwrap().len(), 1);
    let old = json(&get(&format!("{base}/api/v1/persons/{id}/as-of?date=01/12/2026"), &so.headers()));
    assert_eq!(old["address_line"], before["person"]["address_line"]);
    // a rejection needs a reason
    let body = serde_json::json!({"phone": "0911222333", "valid_from": "02/02/2027", "reason": "Số mới"}).to_string();
    let r = send(
        "POST",
        &format!("{base}/api/v1/persons/{id}/changes"),
        &xa.headers(),
        Some(("application/json", body.as_bytes())),
    );
    let c2 = json(&r)["id"].as_i64().unwrap();
    assert_eq!(
        send("POST", &format!("{base}/api/v1/changes/{c2}/reject"), &so.headers(), Some(("application/json", empty)))
            .status,
        400
    );
    let r = send(
        "POST",
        &format!("{base}/api/v1/changes/{c2}/reject"),
        &so.headers(),
        Some(("application/json", r#"{"reason":"thiếu giấy tờ"}"#.as_bytes())),
    );
    assert_eq!((r.status, json(&r)["status"].as_str()), (200, Some("rejected")));

    // a household move and a new relationship, proposed together as one change
    let other =
        r_items_same_commune(&json(&get(&format!("{base}/api/v1/persons?per_page=200"), &xa.headers())), &first);
    let od = json(&get(&format!("{base}/api/v1/persons/{}", other["id"]), &so.headers()));
    let hh = od["household_code"].as_str().unwrap().to_string();
    let change = |extra: serde_json::Value| {
        let mut body = serde_json::json!({"valid_from": "01/03/2027", "reason": "Kết hôn"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        send(
            "POST",
            &format!("{base}/api/v1/persons/{id}/changes"),
            &xa.headers(),
            Some(("application/json", body.to_string().as_bytes())),
        )
    };
    let r = change(serde_json::json!({"related_personal_id": other["personal_id"], "relationship": "uncle"}));
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("relationship")));
    let r = change(serde_json::json!({"household_code": "KHONG-CO"}));
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("household_code")));
    let r = change(serde_json::json!({"related_personal_id": "075099999999", "relationship": "spouse"}));
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("related_personal_id")));
    let r = change(
        serde_json::json!({"household_code": hh, "relation_to_head": "vợ", "related_personal_id": other["personal_id"], "relationship": "spouse"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(json(&r)["summary"].as_str().unwrap().contains("vợ/chồng"), "{}", r.body);
    let c = json(&r)["id"].as_i64().unwrap();
    assert_eq!(
        send("POST", &format!("{base}/api/v1/changes/{c}/approve"), &so.headers(), Some(("application/json", empty)))
            .status,
        200
    );
    let d = json(&get(&format!("{base}/api/v1/persons/{id}"), &so.headers()));
    assert_eq!(d["household_code"].as_str(), Some(hh.as_str()));
    assert!(
        d["relatives"].as_array().unwrap().iter().any(|r| r["person_id"] == other["id"] && r["relation"] == "spouse"),
        "{d}"
    );

    // a new dossier proposed through the API: validated like an import row
    let bad = serde_json::json!({"fields": {"personal_id": "075058000777", "full_name": "Hồ Văn Mới", "birth_date": "1960", "sex": "Nam", "commune_code": "26068", "address_line": "Ấp 2"}, "reason": "Hồ sơ mới"}).to_string();
    let r = send(
        "POST",
        &format!("{base}/api/v1/persons/proposals"),
        &xa.headers(),
        Some(("application/json", bad.as_bytes())),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let errs = json(&r)["errors"].as_array().unwrap().clone();
    assert!(errs.iter().any(|e| e["column"] == "Số định danh cá nhân"), "ID 1958 vs birth 1960: {errs:?}");
    assert!(errs.iter().any(|e| e["reason"].as_str().unwrap().contains("ngoài phạm vi")), "{errs:?}");
    let good = serde_json::json!({"fields": {"personal_id": "075060000777", "full_name": "hồ văn mới", "birth_date": "1960", "sex": "Nam", "commune_code": "25210", "address_line": "Ấp 2", "merit_category": "l", "decision_no": "5/QĐ", "decision_date": "01/02/2000"}, "reason": "Hồ sơ mới"}).to_string();
    let r = send(
        "POST",
        &format!("{base}/api/v1/persons/proposals"),
        &xa.headers(),
        Some(("application/json", good.as_bytes())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let c3 = json(&r)["id"].as_i64().unwrap();
    assert_eq!(
        json(&get(&format!("{base}/api/v1/persons?q=075060000777"), &so.headers()))["total"],
        0,
        "not before approval"
    );
    let r =
        send("POST", &format!("{base}/api/v1/changes/{c3}/approve"), &so.headers(), Some(("application/json", empty)));
    assert_eq!(r.status, 200, "{}", r.body);
    let found = json(&get(&format!("{base}/api/v1/persons?q=075060000777"), &so.headers()));
    assert_eq!(
        (found["items"][0]["full_name"].as_str(), found["items"][0]["categories"][0].as_str()),
        (Some("Hồ Văn Mới"), Some("l"))
    );

    // a record added to an existing dossier, then ended, both through maker-checker
    let body = serde_json::json!({"action": "add_assistance", "group_code": "k5b", "decision_no": "77/QĐ", "decision_date": "01/03/2027", "valid_from": "01/03/2027", "reason": "Đủ 75 tuổi"}).to_string();
    let r = send(
        "POST",
        &format!("{base}/api/v1/persons/{id}/records"),
        &xa.headers(),
        Some(("application/json", body.as_bytes())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let c4 = json(&r)["id"].as_i64().unwrap();
    assert_eq!(
        send("POST", &format!("{base}/api/v1/changes/{c4}/approve"), &so.headers(), Some(("application/json", empty)))
            .status,
        200
    );
    let d = json(&get(&format!("{base}/api/v1/persons/{id}"), &so.headers()));
    let rec = d["assistance"].as_array().unwrap().iter().find(|a| a["group_code"] == "k5b").unwrap().clone();
    assert!(d["person"]["categories"].as_array().unwrap().iter().any(|c| c == "k5b"));
    let body = serde_json::json!({"action": "end_record", "table": "assistance_records", "record_id": rec["id"], "valid_to": "31/12/2027", "reason": "Chuyển đi"}).to_string();
    let r = send(
        "POST",
        &format!("{base}/api/v1/persons/{id}/records"),
        &xa.headers(),
        Some(("application/json", body.as_bytes())),
    );
    let c5 = json(&r)["id"].as_i64().unwrap();
    assert_eq!(
        send("POST", &format!("{base}/api/v1/changes/{c5}/approve"), &so.headers(), Some(("application/json", empty)))
            .status,
        200
    );
    let d = json(&get(&format!("{base}/api/v1/persons/{id}"), &so.headers()));
    assert!(
        !d["person"]["categories"].as_array().unwrap().iter().any(|c| c == "k5b"),
        "ended records are no longer in force"
    );
    let bad = serde_json::json!({"action": "add_merit", "category": "zz", "decision_no": "1", "decision_date": "01/01/2000", "valid_from": "01/01/2000", "reason": "x"}).to_string();
    let r = send(
        "POST",
        &format!("{base}/api/v1/persons/{id}/records"),
        &xa.headers(),
        Some(("application/json", bad.as_bytes())),
    );
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("category")));
    // and through the dossier page's forms: add a record, then propose ending it (a living person
    // of the area, so that the new record's entitlements can be checked)
    let living = json(&get(&format!("{base}/api/v1/persons?status=living&per_page=1"), &xa.headers()));
    let id = living["items"][0]["id"].as_i64().unwrap();
    let page = get(&format!("{base}/registry/persons/{id}"), &[("cookie", &xa.cookie)]);
    assert!(page.body.contains("id=\"add-merit\"") && page.body.contains("g — Thương binh"), "{}", page.body);
    let form = format!(
        "_csrf={}&action=add_merit&category=g&decision_no=88%2FQ%C4%90&decision_date=02%2F03%2F2027&injury_rate=41&studying=on&valid_from=02%2F03%2F2027&reason=Gi%C3%A1m+%C4%91%E1%BB%8Bnh",
        xa.csrf
    );
    let r = send(
        "POST",
        &format!("{base}/registry/persons/{id}/records"),
        &[("cookie", &xa.cookie)],
        Some(("application/x-www-form-urlencoded", form.as_bytes())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.contains("Đã gửi đề nghị"), "{}", r.body);
    let pending = json(&get(&format!("{base}/api/v1/changes?status=pending"), &so.headers()));
    let c6 =
        pending["items"].as_array().unwrap().iter().find(|c| c["kind"] == "add_merit").unwrap()["id"].as_i64().unwrap();
    assert_eq!(
        send("POST", &format!("{base}/api/v1/changes/{c6}/approve"), &so.headers(), Some(("application/json", empty)))
            .status,
        200
    );
    let page = get(&format!("{base}/registry/persons/{id}"), &[("cookie", &xa.cookie)]);
    assert!(page.body.contains("88/QĐ") && page.body.contains("41%"), "the approved record is on the dossier");
    assert!(page.body.contains("đang đi học"), "with its rule facts");
    // its rule facts were recorded: the invalid who studies receives the study allowance 11.1
    let e = json(&get(&format!("{base}/api/v1/persons/{id}/entitlements?from=2027-03&to=2027-03"), &so.headers()));
    let lines = e["lines"].as_array().unwrap();
    assert!(lines.iter().any(|l| l["item"] == "11.1") && lines.iter().any(|l| l["item"] == "II"), "{e}");
    // an unknown fact stays unknown through approval: a relative of an invalid without
    // of_deceased is an error naming the fact, not a relative of a living person
    let body = serde_json::json!({"action": "add_merit", "category": "relative", "decision_no": "9/QĐ", "decision_date": "01/03/2027", "valid_from": "01/03/2027", "reason": "Thân nhân", "facts": {"of_category": "g", "of_injury_rate": 81}}).to_string();
    let r = send(
        "POST",
        &format!("{base}/api/v1/persons/{id}/records"),
        &xa.headers(),
        Some(("application/json", body.as_bytes())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let c7 = json(&r)["id"].as_i64().unwrap();
    assert_eq!(
        send("POST", &format!("{base}/api/v1/changes/{c7}/approve"), &so.headers(), Some(("application/json", empty)))
            .status,
        200
    );
    let e = json(&get(&format!("{base}/api/v1/persons/{id}/entitlements?from=2027-03&to=2027-03"), &so.headers()));
    assert!(e["error"].as_str().unwrap_or("").contains("of_deceased"), "{e}");
    let page = get(&format!("{base}/registry/persons/{id}"), &[("cookie", &xa.cookie)]);
    assert!(!page.body.contains("người có công còn sống"), "unknown is not shown as alive");
    let rid = page.body.split("value=\"merit_records:").nth(1).unwrap().split('"').next().unwrap().to_string();
    let form =
        format!("_csrf={}&action=end_record&record=merit_records%3A{rid}&valid_to=31%2F12%2F2027&reason=x", xa.csrf);
    let r = send(
        "POST",
        &format!("{base}/registry/persons/{id}/records"),
        &[("cookie", &xa.cookie)],
        Some(("application/x-www-form-urlencoded", form.as_bytes())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let form = format!("_csrf={}&action=add_merit&category=g&decision_no=1&decision_date=1%2F1%2F2000&injury_rate=abc&valid_from=1%2F1%2F2000&reason=x", xa.csrf);
    let r = send(
        "POST",
        &format!("{base}/registry/persons/{id}/records"),
        &[("cookie", &xa.cookie)],
        Some(("application/x-www-form-urlencoded", form.as_bytes())),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("id=\"form-error\"") && r.body.contains("số nguyên"), "{}", r.body);

    // the same through the page
    let form = format!("_csrf={}&personal_id=075161000888&full_name=Ngo+Thi+Hai&birth_date=1961&sex=N%E1%BB%AF&commune_code=25195&address_line=%E1%BA%A4p+3&reason=M%E1%BB%9Bi", xa.csrf);
    let r = send(
        "POST",
        &format!("{base}/registry/new"),
        &[("cookie", &xa.cookie)],
        Some(("application/x-www-form-urlencoded", form.as_bytes())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.body.contains("Đã gửi đề nghị"));
    let form = format!(
        "_csrf={}&personal_id=123&full_name=X&birth_date=1961&sex=Nam&commune_code=25195&address_line=A&reason=M",
        xa.csrf
    );
    let r = send(
        "POST",
        &format!("{base}/registry/new"),
        &[("cookie", &xa.cookie)],
        Some(("application/x-www-form-urlencoded", form.as_bytes())),
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"form-errors\"") && r.body.contains("phải đủ 12"), "{}", r.body);

    // import the template (its one row, placed in the officer's commune)
    let template = get(&format!("{base}/registry/import/template.csv"), &[("cookie", &xa.cookie)]).body;
    let good = template.replace(",26068,", ",25210,");
    let r = import_file(&base, &xa.cookie, &xa.csrf, "all", "mau.csv", good.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("1 đã nhập"), "{}", r.body);
    let found = json(&get(&format!("{base}/api/v1/persons?q=075058012345"), &xa.headers()));
    assert_eq!(found["items"][0]["full_name"], "Nguyễn Văn An");
    // a bad file: errors named by row and column, nothing written
    let count_before = json(&get(&format!("{base}/api/v1/persons"), &so.headers()))["total"].as_i64().unwrap();
    let bad = format!(
        "{}\n075058012345,Trùng Lặp,1958,Nam,Kinh,25210,Ấp 1,,,,,,,,,,,,,,\n07505801234,Sai Số,31/02/1958,Nam,Kinh,26068,Ấp 1,,,,,z,,,,,,,,,\n075058099999,NguyÔn V¨n T,1958,Nam,Kinh,25210,Ấp 1,,,,,,,,,,,,,,\n",
        template.lines().next().unwrap()
    );
    let r = import_file(&base, &xa.cookie, &xa.csrf, "all", "sai.csv", bad.as_bytes());
    assert_eq!(r.status, 200);
    for needle in [
        "đã có trong sổ đối tượng",
        "tháng 02/1958 không có ngày 31",
        "ngoài phạm vi",
        "TCVN3/VNI",
        "diện không có",
        "Không có gì được ghi",
    ] {
        assert!(r.body.contains(needle), "missing '{needle}' in the report page");
    }
    assert_eq!(json(&get(&format!("{base}/api/v1/persons"), &so.headers()))["total"].as_i64().unwrap(), count_before);
    let report = r.body.split("/registry/import/report/").nth(1).unwrap().split('"').next().unwrap().to_string();
    let x = get(&format!("{base}/registry/import/report/{report}"), &[("cookie", &xa.cookie)]);
    assert_eq!(x.status, 200);
    assert!(x.header("content-type").unwrap().contains("spreadsheetml"));
    assert_eq!(
        get(&format!("{base}/registry/import/report/{report}"), &[("cookie", &so.cookie)]).status,
        404,
        "reports are private"
    );
    assert_eq!(
        get(&format!("{base}/registry/import/jobs/{report}"), &[("cookie", &so.cookie)]).status,
        404,
        "so are import jobs"
    );
    // a file in a legacy encoding (Windows-1258 bytes are not UTF-8) is refused as a whole
    let mut legacy = template.clone().into_bytes();
    legacy.extend(b"075058000001,Nguy\xd2n V\xe3n A,1958,Nam,Kinh,25210,Ap 1,,,,,,,,,,,,,,\n");
    let r = import_file(&base, &xa.cookie, &xa.csrf, "all", "cu.csv", &legacy);
    assert!(r.body.contains("không phải UTF-8"), "{}", r.body);

    // entitlements computed from the registry, with their citations, on the API and the dossier
    let invalids = json(&get(&format!("{base}/api/v1/persons?category=g&status=living&per_page=20"), &so.headers()));
    // (not the person who was given a category g record from 2027 above)
    let gid =
        invalids["items"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).find(|g| *g != id).unwrap();
    let e = json(&get(&format!("{base}/api/v1/persons/{gid}/entitlements?from=2024-06&to=2024-07"), &so.headers()));
    assert!(e["error"].is_null(), "{e}");
    let lines = e["lines"].as_array().unwrap();
    let june = lines.iter().find(|l| l["month"] == "2024-06" && (l["item"] == "II" || l["item"] == "III")).unwrap();
    let july = lines.iter().find(|l| l["month"] == "2024-07" && l["item"] == june["item"]).unwrap();
    assert!(
        july["amount"].as_i64().unwrap() > june["amount"].as_i64().unwrap(),
        "Decree 77/2024 raised July 2024: {e}"
    );
    assert!(july["citation"].as_str().unwrap().starts_with("Nghị định 77/2024/NĐ-CP"), "{e}");
    assert_eq!(e["totals"].as_array().unwrap().len(), 2);
    let r = get(&format!("{base}/api/v1/persons/{gid}/entitlements?from=2024-13"), &so.headers());
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("from")));
    let page = get(&format!("{base}/registry/persons/{gid}"), &[("cookie", &so.cookie)]);
    assert!(page.body.contains("id=\"entitlements-h\"") && page.body.contains("Phụ lục II"), "{}", page.body);

    // budget simulation: a new standard level costs more, month by month, for the province
    let body = serde_json::json!({"from": "2027-01", "to": "2027-03", "changes": [{"name": "muc_chuan_tro_giup", "value": 600000, "from": "2027-02"}]}).to_string();
    let r =
        send("POST", &format!("{base}/api/v1/simulations"), &so.headers(), Some(("application/json", body.as_bytes())));
    assert_eq!(r.status, 200, "{}", r.body);
    let sim = json(&r);
    let (b, s) = (&sim["baseline"]["by_month"], &sim["scenario"]["by_month"]);
    assert_eq!(b["2027-01"], s["2027-01"], "nothing changes before the change: {sim}");
    assert!(s["2027-02"].as_i64().unwrap() > b["2027-02"].as_i64().unwrap(), "{sim}");
    // 600,000 / 500,000 for two of the three months: assistance grows, by less than a fifth;
    // amounts for people with merit do not change
    let (bi, si) = (&sim["baseline"]["by_item"], &sim["scenario"]["by_item"]);
    let (k6, k6s) = (bi["tgxh.k6"].as_i64().unwrap(), si["tgxh.k6"].as_i64().unwrap());
    assert!(k6 > 0 && k6s > k6 && k6s < k6 * 6 / 5, "{sim}");
    // the groups defined by HIV status never appear on their own in aggregates
    assert!(bi.get("tgxh.k8").is_none() && bi.get("tgxh.k3").is_none(), "{sim}");
    assert_eq!(bi["II"], si["II"]);
    assert_eq!(
        sim["baseline"]["total"].as_i64().unwrap(),
        b.as_object().unwrap().values().map(|v| v.as_i64().unwrap()).sum::<i64>()
    );
    let body = serde_json::json!({"from": "2027-01", "to": "2027-01", "add_group": {"min_age": 70, "poor_only": true, "coefficient": "1.5", "from": "2027-01"}}).to_string();
    let r =
        send("POST", &format!("{base}/api/v1/simulations"), &so.headers(), Some(("application/json", body.as_bytes())));
    assert_eq!(r.status, 200, "{}", r.body);
    let g = json(&r);
    let added = g["scenario"]["by_item"]["them_nhom"].as_i64().unwrap_or(0);
    assert_eq!(g["scenario"]["total"].as_i64().unwrap() - g["baseline"]["total"].as_i64().unwrap(), added, "{g}");
    let body = serde_json::json!({"from": "2027-01", "to": "2027-01", "changes": [{"name": "khong_co", "value": 1000, "from": "2027-01"}]}).to_string();
    let r =
        send("POST", &format!("{base}/api/v1/simulations"), &so.headers(), Some(("application/json", body.as_bytes())));
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("name")));
    let page = get(
        &format!("{base}/simulate?from=01%2F2027&to=12%2F2027&name=muc_chuan&value=3.000.000&change_from=07%2F2027"),
        &[("cookie", &so.cookie)],
    );
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"sim-chart\"") && page.body.contains("Tổng chênh lệch"), "{}", page.body);

    // sensitive fields: shown to those who need them, each read audited
    let ins = login(&base, "thanhtra", DEMO_PASSWORD).unwrap();
    let invalid = json(&get(&format!("{base}/api/v1/persons?category=g&per_page=20"), &ins.headers()));
    let gid =
        invalid["items"].as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).find(|g| *g != id).unwrap();
    let d = json(&get(&format!("{base}/api/v1/persons/{gid}"), &ins.headers()));
    assert!(d["merit"][0]["injury_rate"].is_i64(), "{d}");
    assert_eq!(d["sensitive_shown"], true);
    let audit =
        json(&get(&format!("{base}/api/v1/audit?action=person.read_sensitive&entity_id={gid}"), &ins.headers()));
    assert!(audit["total"].as_i64().unwrap() >= 1);
    // roles without the registry see nothing of it
    let ld = login(&base, "lanhdao", DEMO_PASSWORD).unwrap();
    assert_eq!(get(&format!("{base}/api/v1/persons"), &ld.headers()).status, 403);
    let bc = login(&base, "baocao", DEMO_PASSWORD).unwrap();
    assert_eq!(get(&format!("{base}/api/v1/persons/{gid}"), &bc.headers()).status, 403);

    // exports of a list, CSV and Excel, within the area
    let csv = get(&format!("{base}/registry/export.csv?q=nguyen"), &[("cookie", &xa.cookie)]);
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with('\u{feff}') && csv.body.contains("Số định danh cá nhân"));
    assert!(
        csv.body.lines().skip(1).all(|l| l.contains(",25210,") || l.contains(",25195,")),
        "export stays in the area"
    );
    let x = get(&format!("{base}/registry/export.xlsx"), &[("cookie", &xa.cookie)]);
    assert!(x.header("content-type").unwrap().contains("spreadsheetml"));

    let v = json(&get(&format!("{base}/api/v1/audit/verify"), &ins.headers()));
    assert_eq!(v["intact"], true);
    drop(server);
    db.drop_db().await;
}

#[tokio::test]
async fn registry_flow_on_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn registry_flow_on_postgres() {
    flow(Backend::Postgres).await;
}
