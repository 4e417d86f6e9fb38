//! The citizen portal's second half and the complaint files, on both databases: attachments
//! (stored, downloaded as attachments and audited; disguised, oversized and too many files
//! refused with nothing written), a denunciation's handling time extended twice by written
//! determination, and the self-service lookup — a code printed on the decision, a code by SMS
//! through the configured sender, a wrong detail without a hint, the per-ID lock, the citizen's
//! entitlements and payments, a payment rated once and counted in the commune's index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{get, json, login, post, send, Db, Server, DEMO_PASSWORD};
use store::Backend;

const BOUNDARY: &str = "ansinhTestBoundary7MA4YWxk";

/// A multipart body: text fields, then files in `attachments`.
fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    for (name, data) in files {
        b.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        b.extend_from_slice(data);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    b
}

fn send_multipart(url: &str, headers: &[(&str, &str)], body: &[u8]) -> common::Response {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    send("POST", url, headers, Some((ct.as_str(), body)))
}

fn anon_json(base: &str, path: &str, body: &serde_json::Value) -> common::Response {
    send("POST", &format!("{base}{path}"), &[], Some(("application/json", body.to_string().as_bytes())))
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";

/// (person id, personal ID, birth date yyyy-mm-dd, phone, a paid line) of a living person of
/// commune 25210 with a phone and a full birth date.
async fn paid_person(db: &Db) -> (i64, String, String, String, i64) {
    let sql = "SELECT p.id, p.personal_id, p.birth_date, p.phone, l.id FROM payment_lines l JOIN persons p ON p.id = l.person_id \
               WHERE l.result = 'paid' AND p.commune_code = '25210' AND p.phone IS NOT NULL AND length(p.birth_date) = 10 \
               AND p.deceased_on IS NULL ORDER BY l.id LIMIT 1";
    if db.url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query_as::<_, (i64, String, String, String, i64)>(sql).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query_as::<_, (i64, String, String, String, i64)>(sql).fetch_one(&pool).await.unwrap()
    }
}

/// A stand-in for the national e-ID: a key pair, its JWKS, signed ID tokens.
struct Eid {
    key: rsa::RsaPrivateKey,
}

impl Eid {
    fn new() -> Eid {
        Eid { key: rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap() }
    }

    fn jwks(&self) -> String {
        use base64::Engine as _;
        use rsa::traits::PublicKeyParts;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let p = self.key.to_public_key();
        serde_json::json!({"keys": [{"kty": "RSA", "kid": "vneid-1", "use": "sig",
            "n": b.encode(p.n().to_bytes_be()), "e": b.encode(p.e().to_bytes_be())}]})
        .to_string()
    }

    fn token(&self, personal_id: &str, nonce: &str) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = chrono::Utc::now().timestamp();
        let h = b.encode(serde_json::json!({"alg": "RS256", "kid": "vneid-1"}).to_string());
        let c = b.encode(
            serde_json::json!({"iss": "https://vneid.test", "aud": "ansinh-dong-nai", "exp": now + 300, "iat": now,
                "nonce": nonce, "citizen_id": personal_id, "sub": "opaque-subject"})
            .to_string(),
        );
        let digest = sha2::Sha256::digest(format!("{h}.{c}").as_bytes());
        let sig = self.key.sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest).unwrap();
        format!("{h}.{c}.{}", b.encode(sig))
    }
}

async fn flow(backend: Backend) {
    let db = Db::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("sms.txt");
    let eid = Eid::new();
    std::fs::write(dir.path().join("jwks.json"), eid.jwks()).unwrap();
    let config = format!(
        "[portal.oidc]\nissuer = \"https://vneid.test\"\nclient_id = \"ansinh-dong-nai\"\n\
         authorize_url = \"https://vneid.test/authorize\"\nredirect_url = \"https://ansinh.test/portal/eid/callback\"\n\
         jwks_file = \"{}\"\npersonal_id_claim = \"citizen_id\"\n[server]\ntrust_forwarded_for = true\n",
        dir.path().join("jwks.json").display()
    );
    std::fs::write(dir.path().join("ansinh.toml"), config).unwrap();
    let mut c = common::cmd(dir.path(), &["demo", "--database-url", &db.url, "--persons", "2000"]);
    c.env("ANSINH_LOG_LEVEL", "warn").env("ANSINH_PORTAL_SMS", format!("file:{}", outbox.display()));
    let server = Server::start_with(c, dir.path());
    let base = server.base.clone();
    let xa = login(&base, "canboxa", DEMO_PASSWORD).unwrap(); // communes 25210, 25195
    let so = login(&base, "sonoivu", DEMO_PASSWORD).unwrap();
    let ld = login(&base, "lanhdao", DEMO_PASSWORD).unwrap();
    let tt = login(&base, "thanhtra", DEMO_PASSWORD).unwrap();

    // ---- attachments ----
    // the demo's complaint about a decision came with the decision's scan
    let all = json(&get(&format!("{base}/api/v1/complaints"), &xa.headers()));
    let demo_case = all.as_array().unwrap().iter().find(|c| c["case"]["status"] == "verifying").unwrap()["case"]["id"]
        .as_i64()
        .unwrap();
    let d = json(&get(&format!("{base}/api/v1/complaints/{demo_case}"), &xa.headers()));
    assert_eq!(d[0]["attachments"].as_array().unwrap().len(), 1, "{d}");

    // an officer records a case and adds a scan
    let body = serde_json::json!({
        "kind": "complaint", "subject": "payment", "commune_code": "25210", "title": "Chưa nhận trợ cấp tháng 10",
        "content": "Đề nghị kiểm tra.", "filer_name": "Phan Văn Chín", "channel": "letter"
    });
    let r = post(&base, "/api/v1/complaints", &xa, &body.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let id = json(&r)["id"].as_i64().unwrap();
    let url = format!("{base}/api/v1/complaints/{id}/attachments");
    let r = send_multipart(&url, &xa.headers(), &multipart(&[], &[("thư khiếu nại.pdf", PDF)]));
    assert_eq!(r.status, 201, "{}", r.body);
    let list = json(&r);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        (list[0]["content_type"].as_str(), list[0]["size"].as_i64()),
        (Some("application/pdf"), Some(PDF.len() as i64))
    );
    let file = list[0]["id"].as_i64().unwrap();
    // disguised files, too many, too large: refused by name, nothing written
    let page: &[u8] = b"<html><script>alert(1)</script></html>";
    let exe: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00";
    for (what, files) in [
        ("a web page named .pdf", vec![("don.pdf", page)]),
        ("an executable named .pdf", vec![("don.pdf", exe)]),
        ("a PDF named .png", vec![("anh.png", PDF)]),
        ("four files", vec![("1.pdf", PDF), ("2.pdf", PDF), ("3.pdf", PDF), ("4.pdf", PDF)]),
        ("one good, one disguised", vec![("tot.pdf", PDF), ("xau.jpg", page)]),
    ] {
        let r = send_multipart(&url, &xa.headers(), &multipart(&[], &files));
        assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("attachments")), "{what}: {}", r.body);
    }
    let mut big = b"%PDF-1.4\n".to_vec();
    big.resize(5 * 1024 * 1024 + 1, b' ');
    let r = send_multipart(&url, &xa.headers(), &multipart(&[], &[("lon.pdf", &big)]));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(json(&r)["message"].as_str().unwrap().contains("5 MB"), "{}", r.body);
    let huge = vec![b'x'; 16 * 1024 * 1024];
    let r = send_multipart(&url, &xa.headers(), &multipart(&[], &[("qua-lon.pdf", &huge)]));
    assert_eq!(r.status, 413, "the request itself is over the limit");
    let d = json(&get(&format!("{base}/api/v1/complaints/{id}"), &xa.headers()));
    assert_eq!(d[0]["attachments"].as_array().unwrap().len(), 1, "nothing half-written: {d}");
    // downloads: an attachment (never inline), the detected type, the same bytes; audited
    let r = get(&format!("{url}/{file}"), &xa.headers());
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/pdf"));
    let disp = r.header("content-disposition").unwrap();
    assert!(
        disp.starts_with("attachment;") && disp.contains("filename*=UTF-8''th%C6%B0%20khi%E1%BA%BFu%20n%E1%BA%A1i.pdf"),
        "{disp}"
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.body.as_bytes(), PDF);
    let audit = json(&get(&format!("{base}/api/v1/audit?action=complaint.attachment_read"), &tt.headers()));
    assert!(audit["total"].as_i64().unwrap() >= 1, "{audit}");
    assert_eq!(get(&format!("{url}/{}", file + 1000), &xa.headers()).status, 404);
    // the officer's page lists the file with its link
    let page = get(&format!("{base}/complaints/{id}"), &[("cookie", &xa.cookie)]);
    assert!(page.body.contains(&format!("/complaints/{id}/attachments/{file}")), "the case page links the file");

    // the portal: a complaint with a scan; a disguised scan refuses the whole filing
    let count =
        |s: &common::Session| json(&get(&format!("{base}/api/v1/complaints"), &s.headers())).as_array().unwrap().len();
    let before = count(&so);
    let fields = [
        ("kind", "complaint"),
        ("subject", "payment"),
        ("commune_code", "25195"),
        ("title", "Chi trả chậm"),
        ("content", "Tôi nhận trợ cấp chậm hai tháng."),
        ("filer_name", "Đinh Thị Hai"),
    ];
    let r =
        send_multipart(&format!("{base}/portal/complaints"), &[], &multipart(&fields, &[("bien-nhan.exe.pdf", exe)]));
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("id=\"form-error\""));
    assert_eq!(count(&so), before, "nothing written");
    let jpg: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'];
    let r = send_multipart(&format!("{base}/portal/complaints"), &[], &multipart(&fields, &[("anh-chup.jpg", jpg)]));
    assert!(r.status == 201 && r.body.contains("id=\"tracking-code\""), "{} {}", r.status, r.body);
    let all = json(&get(&format!("{base}/api/v1/complaints"), &so.headers()));
    let pc = all.as_array().unwrap().iter().find(|c| c["case"]["title"] == "Chi trả chậm").unwrap()["case"]["id"]
        .as_i64()
        .unwrap();
    let d = json(&get(&format!("{base}/api/v1/complaints/{pc}"), &so.headers()));
    assert_eq!(d[0]["attachments"][0]["content_type"], "image/jpeg", "{d}");

    // ---- a denunciation's handling time, extended twice by written determination ----
    let den = all.as_array().unwrap().iter().find(|c| c["case"]["kind"] == "denunciation").unwrap()["case"]["id"]
        .as_i64()
        .unwrap();
    let step = |b: serde_json::Value| post(&base, &format!("/api/v1/complaints/{den}/steps"), &so, &b.to_string());
    assert_eq!(
        step(serde_json::json!({"action": "extend", "note": "Vụ việc phức tạp, nhiều người liên quan"})).status,
        409,
        "not before acceptance"
    );
    let r = step(serde_json::json!({"action": "accept"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let accepted =
        chrono::NaiveDate::parse_from_str(json(&r)["case"]["accepted_on"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let cal = domain::workdays::WorkCalendar::embedded().unwrap();
    let limits = domain::deadlines::Limits::embedded().unwrap();
    let due = |v: &str| {
        limits
            .due("denunciation_resolution", v, accepted, &[], &cal)
            .unwrap()
            .date
            .unwrap()
            .format("%Y-%m-%d")
            .to_string()
    };
    assert_eq!(json(&r)["case"]["resolution_due"], due("normal"));
    let r = step(serde_json::json!({"action": "extend"}));
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("note")), "the determination is required");
    for v in ["complex", "very_complex"] {
        let r = step(serde_json::json!({"action": "extend", "note": "Vụ việc phức tạp, cần xác minh tại nhiều nơi"}));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (json(&r)["case"]["variant"].as_str(), json(&r)["case"]["resolution_due"].clone()),
            (Some(v), serde_json::json!(due(v)))
        );
    }
    let r = step(serde_json::json!({"action": "extend", "note": "Vụ việc phức tạp, cần xác minh tại nhiều nơi"}));
    assert_eq!(r.status, 409, "at most twice: {}", r.body);
    let events = json(&get(&format!("{base}/api/v1/complaints/{den}"), &so.headers()))[1].clone();
    assert_eq!(events.as_array().unwrap().iter().filter(|e| e["action"] == "extended").count(), 2);

    // ---- the citizen's lookup ----
    let (person, pid, birth_iso, phone, line) = paid_person(&db).await;
    let birth = chrono::NaiveDate::parse_from_str(&birth_iso, "%Y-%m-%d").unwrap().format("%d/%m/%Y").to_string();
    // a case about a person's dossier is linked to it (and listed on it); the portal never says
    // whether an ID is registered, an officer is told
    let about = serde_json::json!({"kind": "petition", "subject": "payment", "commune_code": "25210",
        "title": "Đề nghị chuyển chi trả qua tài khoản", "content": "Nội dung", "filer_name": "Con của đối tượng",
        "channel": "reception", "person_personal_id": pid});
    let r = post(&base, "/api/v1/complaints", &xa, &about.to_string());
    assert_eq!((r.status, json(&r)["person_id"].as_i64()), (201, Some(person)), "{}", r.body);
    let linked = json(&r)["id"].as_i64().unwrap();
    let dossier = json(&get(&format!("{base}/api/v1/persons/{person}"), &xa.headers()));
    assert!(dossier["complaints"].as_array().unwrap().iter().any(|c| c[0] == linked), "{}", dossier["complaints"]);
    let mut unknown_about = about.clone();
    unknown_about["person_personal_id"] = serde_json::json!("079188003333");
    let r = post(&base, "/api/v1/complaints", &xa, &unknown_about.to_string());
    assert_eq!((r.status, json(&r)["details"]["field"].as_str()), (400, Some("person_personal_id")));
    let r = anon_json(&base, "/api/v1/portal/complaints", &unknown_about);
    assert_eq!(r.status, 201, "the portal files it without saying anything about the ID: {}", r.body);

    // the commune officer issues the code printed on the decision
    let r = post(&base, &format!("/api/v1/persons/{person}/lookup-code"), &xa, "");
    assert_eq!(r.status, 201, "{}", r.body);
    let printed = json(&r)["code"].as_str().unwrap().to_string();
    assert_eq!(printed.len(), 9, "{printed}");
    assert_eq!(
        post(&base, &format!("/api/v1/persons/{person}/lookup-code"), &ld, "").status,
        403,
        "leaders do not issue codes"
    );
    // a wrong detail: the same answer whichever part was wrong. Each call comes from its own
    // address (X-Forwarded-For is trusted here) unless one is given, so that the per-address
    // throttle is tested on its own.
    let next_ip = std::sync::atomic::AtomicU32::new(1);
    let ident_from = |ip: &str, p: &str, b: &str, code: &str| {
        let body = serde_json::json!({"personal_id": p, "birth_date": b, "code": code}).to_string();
        let url = format!("{base}/api/v1/portal/lookup");
        send("POST", &url, &[("x-forwarded-for", ip)], Some(("application/json", body.as_bytes())))
    };
    let fresh_ip = || {
        let n = next_ip.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("10.9.{}.{}", n / 250, n % 250 + 1)
    };
    let ident = |p: &str, b: &str, code: &str| ident_from(&fresh_ip(), p, b, code);
    let wrong_birth = chrono::NaiveDate::parse_from_str(&birth_iso, "%Y-%m-%d")
        .unwrap()
        .succ_opt()
        .unwrap()
        .format("%d/%m/%Y")
        .to_string();
    let a = ident(&pid, &birth, "ZZZZ-ZZZZ");
    let b = ident(&pid, &wrong_birth, &printed);
    assert_eq!((a.status, b.status), (409, 409));
    assert_eq!(json(&a)["message"], json(&b)["message"], "no hint which part was wrong");
    let unknown = ident("079188001111", &birth, &printed);
    assert_eq!(
        (unknown.status, json(&unknown)["message"].clone()),
        (409, json(&a)["message"].clone()),
        "nor whether the ID exists"
    );
    assert_eq!(json(&ident("12345", &birth, &printed))["details"]["field"], "personal_id", "a malformed ID is named");
    // the printed code works (reusable), typed in any case and without its dash
    let r = ident(&pid, &birth, &printed.replace('-', "").to_lowercase());
    assert_eq!(r.status, 201, "{}", r.body);
    let token = json(&r)["token"].as_str().unwrap().to_string();
    let me = get(&format!("{base}/api/v1/portal/me"), &[("x-citizen-token", &token)]);
    assert_eq!(me.status, 200, "{}", me.body);
    let me = json(&me);
    assert_eq!(me["entitlements"]["totals"].as_array().unwrap().len(), 12);
    let pay = me["payments"].as_array().unwrap().iter().find(|p| p["line_id"] == line).unwrap().clone();
    assert_eq!((pay["can_rate"].as_bool(), pay["result"].as_str()), (Some(true), Some("paid")), "{pay}");
    assert_eq!(get(&format!("{base}/api/v1/portal/me"), &[("x-citizen-token", "forged")]).status, 401);
    // rate the payment once; it counts for the commune's People's Committee
    let rate = |l: i64, s: i64| {
        send(
            "POST",
            &format!("{base}/api/v1/portal/me/payments/{l}/rating"),
            &[("x-citizen-token", &token)],
            Some((
                "application/json",
                serde_json::json!({"score": s, "comment": "Nhận đủ, đúng hẹn"}).to_string().as_bytes(),
            )),
        )
    };
    assert_eq!(json(&rate(line, 9))["details"]["field"], "score");
    assert_eq!(rate(line, 5).status, 201);
    assert_eq!(rate(line, 4).status, 409, "once");
    assert_eq!(rate(1, 4).status, 409, "only one's own paid lines");
    let idx = json(&get(&format!("{base}/api/v1/satisfaction"), &ld.headers()));
    let row = idx
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["agency_code"] == "UBND_XA" && r["commune_code"] == "25210")
        .unwrap()
        .clone();
    assert!(row["ratings"].as_i64().unwrap() >= 1, "{idx}");
    let audit = json(&get(&format!("{base}/api/v1/audit?action=portal.lookup"), &tt.headers()));
    assert!(audit["total"].as_i64().unwrap() >= 1, "each look is audited");

    // a code by SMS through the configured sender: sent to the dossier's phone, used once
    let sms = |p: &str, b: &str| {
        let body = serde_json::json!({"personal_id": p, "birth_date": b}).to_string();
        let url = format!("{base}/api/v1/portal/lookup/sms");
        send("POST", &url, &[("x-forwarded-for", &fresh_ip())], Some(("application/json", body.as_bytes())))
    };
    // the answer comes first; the message follows from a background task
    let sent = |n: usize| {
        for _ in 0..100 {
            let lines = std::fs::read_to_string(&outbox).map(|t| t.lines().count()).unwrap_or(0);
            if lines >= n {
                return lines;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::fs::read_to_string(&outbox).map(|t| t.lines().count()).unwrap_or(0)
    };
    assert_eq!(sms(&pid, &birth).status, 202);
    assert_eq!(sent(1), 1);
    let text = std::fs::read_to_string(&outbox).unwrap();
    let last = text.lines().last().unwrap();
    assert!(last.starts_with(&format!("{phone}\t")), "{last}");
    let code: String = last.split(':').nth(1).unwrap().chars().filter(char::is_ascii_digit).take(6).collect();
    assert_eq!(code.len(), 6, "{last}");
    // an unknown person, or a known one with the wrong birth date, gets the same answer, and
    // nothing is sent
    assert_eq!(sms("001099012345", "01/01/1999").status, 202);
    assert_eq!(sms(&pid, &wrong_birth).status, 202);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(sent(2), 1, "nothing sent for a non-match");
    assert_eq!(ident(&pid, &birth, &code).status, 201);
    assert_eq!(ident(&pid, &birth, &code).status, 409, "an SMS code is used once");
    // SMS requests per ID are limited (3 an hour: two above, one more)
    assert_eq!(sms(&pid, &birth).status, 202);
    assert_eq!(sms(&pid, &birth).status, 429, "the fourth within the hour");

    // parallel guesses cannot slip past the per-ID limit (each is recorded before it is counted)
    let raced = "079199005678";
    let statuses: Vec<u16> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..10).map(|_| sc.spawn(|| ident(raced, "01/01/1990", "AAAA-AAAA").status)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().filter(|s| **s == 409).count() <= 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409 || **s == 429).count(), 10, "{statuses:?}");
    // one address guessing many IDs is throttled too (20 attempts in 10 minutes)
    let statuses: Vec<u16> =
        (0..21).map(|i| ident_from("10.8.0.1", &format!("0791990{i:05}"), "01/01/1990", "AAAA-AAAA").status).collect();
    assert_eq!(statuses[..20].iter().filter(|s| **s == 409).count(), 20, "{statuses:?}");
    assert_eq!(statuses[20], 429);

    // the pages: the officer's dossier button, the lookup form, a signed-in citizen's page
    let dossier = get(&format!("{base}/registry/persons/{person}"), &[("cookie", &xa.cookie)]);
    assert!(dossier.body.contains("id=\"issue-code\""));
    let form = get(&format!("{base}/portal/tra-cuu"), &[]);
    assert!(form.status == 200 && form.body.contains("id=\"lookup-form\"") && form.body.contains("id=\"lookup-sms\""));
    let r = send(
        "POST",
        &format!("{base}/registry/persons/{person}/lookup-code"),
        &[("cookie", &xa.cookie)],
        Some(("application/x-www-form-urlencoded", format!("_csrf={}", xa.csrf).as_bytes())),
    );
    assert!(r.status == 200 && r.body.contains("id=\"lookup-code\""), "{}", r.status);
    let newcode = r.body.split("id=\"lookup-code\">").nth(1).unwrap().split('<').next().unwrap().to_string();
    assert_eq!(ident(&pid, &birth, &printed).status, 409, "a reissued code replaces the old one");
    let body = format!("personal_id={pid}&birth_date={}&code={newcode}", birth.replace('/', "%2F"));
    let r = send(
        "POST",
        &format!("{base}/portal/tra-cuu"),
        &[],
        Some(("application/x-www-form-urlencoded", body.as_bytes())),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/portal"),
        "{cookie}"
    );
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = get(&format!("{base}/portal/tra-cuu"), &[("cookie", &cookie)]);
    assert!(page.body.contains("id=\"citizen-payments\"") && page.body.contains("₫"), "{}", page.body);
    // a cross-site form may not post to the lookup
    let r = send(
        "POST",
        &format!("{base}/portal/tra-cuu/thoat"),
        &[("cookie", &cookie), ("origin", "https://evil.example")],
        Some(("application/x-www-form-urlencoded", b"")),
    );
    assert_eq!(r.status, 403);
    let r = send(
        "POST",
        &format!("{base}/portal/tra-cuu/thoat"),
        &[("cookie", &cookie)],
        Some(("application/x-www-form-urlencoded", b"")),
    );
    assert_eq!(r.status, 303);
    let page = get(&format!("{base}/portal/tra-cuu"), &[("cookie", &cookie)]);
    assert!(page.body.contains("id=\"lookup-form\""), "signed out");
    // repeated guessing of one ID locks it — even the right code afterwards —, not the address
    let ip = "10.7.0.1";
    let statuses: Vec<u16> = (0..5).map(|_| ident_from(ip, &pid, &birth, "AAAA-AAAA").status).collect();
    assert_eq!(statuses, vec![409; 5]);
    assert_eq!(ident_from(ip, &pid, &birth, &newcode).status, 429, "locked, even with the right code");
    assert_eq!(ident_from(ip, "079188002222", &birth, "AAAA-AAAA").status, 409, "another ID from that address is not");

    // ---- the national e-ID (OpenID Connect): the provider posts a signed ID token back ----
    assert!(get(&format!("{base}/portal/tra-cuu"), &[]).body.contains("id=\"lookup-eid\""));
    let start = || {
        let r = get(&format!("{base}/portal/eid"), &[]);
        assert_eq!(r.status, 303);
        let loc = r.header("location").unwrap().to_string();
        assert!(
            loc.starts_with("https://vneid.test/authorize?response_type=id_token&response_mode=form_post&"),
            "{loc}"
        );
        let param =
            |k: &str| loc.split(['?', '&']).find_map(|kv| kv.strip_prefix(&format!("{k}="))).unwrap().to_string();
        let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
        (param("state"), param("nonce"), cookie)
    };
    let callback = |token: &str, st: &str, cookie: Option<&str>| {
        let body = format!("id_token={token}&state={st}");
        let headers: Vec<(&str, &str)> = cookie.map(|c| vec![("cookie", c)]).unwrap_or_default();
        send(
            "POST",
            &format!("{base}/portal/eid/callback"),
            &headers,
            Some(("application/x-www-form-urlencoded", body.as_bytes())),
        )
    };
    let (st, nonce, cookie) = start();
    assert_eq!(cookie, format!("ansinh_eid={st}"), "the login is bound to the browser");
    let r = callback(&eid.token(&pid, &nonce), &st, Some(&cookie));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"citizen-payments\""), "the citizen's page at once");
    assert!(r.header("set-cookie").unwrap().starts_with("ansinh_citizen="));
    assert_eq!(callback(&eid.token(&pid, &nonce), &st, Some(&cookie)).status, 409, "a state is used once");
    let (st, nonce, _) = start();
    assert_eq!(callback(&eid.token(&pid, &nonce), &st, None).status, 409, "not from another browser");
    let (st, _, cookie) = start();
    assert_eq!(callback(&eid.token(&pid, "another-nonce"), &st, Some(&cookie)).status, 409, "the nonce must match");
    let (st, nonce, cookie) = start();
    let r = callback(&eid.token("001099012345", &nonce), &st, Some(&cookie));
    assert!(r.status == 409 && r.body.contains("Chưa có hồ sơ"), "no record: {}", r.body);
    let audit = json(&get(&format!("{base}/api/v1/audit?action=portal.identify"), &tt.headers()));
    assert!(audit.to_string().contains("e-ID"), "{audit}");

    // ---- the working-day calendar as yearly data: a recorded day off moves the deadlines ----
    let admin = login(&base, "quantri", DEMO_PASSWORD).unwrap();
    let petition = serde_json::json!({"kind": "petition", "subject": "other", "commune_code": "25210",
        "title": "Kiến nghị", "content": "Nội dung kiến nghị", "filer_name": "Lò Văn Một"});
    let filed = json(&anon_json(&base, "/api/v1/portal/complaints", &petition));
    let due_before = filed["acceptance_due"].as_str().unwrap().to_string();
    let cal = domain::workdays::WorkCalendar::embedded().unwrap();
    let today = {
        // the day it was received: the acceptance limit counts working days from it
        let t = json(&get(&format!("{base}/api/v1/portal/track/{}", filed["tracking_code"].as_str().unwrap()), &[]));
        chrono::NaiveDate::parse_from_str(t["received_on"].as_str().unwrap(), "%Y-%m-%d").unwrap()
    };
    let next = cal.add_working_days(today, 1);
    let year = next.format("%Y").to_string();
    let y = json(&get(&format!("{base}/api/v1/calendar/{year}"), &xa.headers()));
    assert_ne!(y["origin"], "recorded", "{y}");
    let template = get(&format!("{base}/calendar/template.csv?year={year}"), &[("cookie", &xa.cookie)]);
    assert_eq!(template.status, 200);
    assert!(template.body.starts_with("date,kind,name,source\n"));
    let file =
        format!("{}{},holiday,Nghỉ bù (thử nghiệm),Thông báo thử nghiệm\n", template.body, next.format("%Y-%m-%d"));
    let record = |s: &common::Session, body: &str, mode: &str| {
        send_multipart(
            &format!("{base}/calendar"),
            &[("cookie", s.cookie.as_str())],
            &multipart(&[("_csrf", s.csrf.as_str()), ("mode", mode)], &[("lich.csv", body.as_bytes())]),
        )
    };
    assert_eq!(record(&xa, &file, "record").status, 403, "administrators record the calendar");
    let saturday =
        (0..7).map(|i| next + chrono::Duration::days(i)).find(|d| d.format("%u").to_string() == "6").unwrap();
    let bad = format!("{}{},holiday,Sai,Thông báo\n", template.body, saturday.format("%Y-%m-%d"));
    let r = record(&admin, &bad, "record");
    assert!(r.status == 400 && r.body.contains("id=\"form-error\""), "a holiday on a Saturday: {}", r.status);
    assert_ne!(
        json(&get(&format!("{base}/api/v1/calendar/{year}"), &xa.headers()))["origin"],
        "recorded",
        "nothing written"
    );
    let r = record(&admin, &file, "record");
    assert!(r.status == 200 && r.body.contains("id=\"notice\""), "{} {}", r.status, r.body);
    let y = json(&get(&format!("{base}/api/v1/calendar/{year}"), &xa.headers()));
    assert_eq!(y["origin"], "recorded");
    assert!(y["days"].as_array().unwrap().iter().any(|d| d["day"] == next.format("%Y-%m-%d").to_string()));
    let after = json(&anon_json(&base, "/api/v1/portal/complaints", &petition));
    let due_after = after["acceptance_due"].as_str().unwrap().to_string();
    assert!(due_after > due_before, "one more day off: {due_before} → {due_after}");
    let audit = json(&get(&format!("{base}/api/v1/audit?action=calendar.record_year"), &tt.headers()));
    assert_eq!(audit["total"], 1);

    server.terminate();
    db.drop_db().await;
}

#[tokio::test]
async fn portal_lookup_and_attachments_on_sqlite() {
    flow(Backend::Sqlite).await;
}

#[tokio::test]
async fn portal_lookup_and_attachments_on_postgres() {
    flow(Backend::Postgres).await;
}
