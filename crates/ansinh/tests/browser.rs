//! Headless-Chromium tests of the main pages: the DOM after the browser has parsed
//! and laid out the page, as a user would get it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::Server;

fn chromium() -> String {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] {
        if std::path::Path::new(c).exists() {
            return c.to_string();
        }
    }
    panic!(
        "Chromium is not installed: run the tests with scripts/test.sh, which installs it (Debian package chromium)"
    );
}

/// Flags as documented for this machine: no network side traffic, no sandbox as root.
fn browser(profile: &std::path::Path) -> Command {
    let mut c = Command::new(chromium());
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn dump_dom(url: &str, width: u32) -> String {
    let profile = tempfile::tempdir().unwrap();
    let o =
        browser(profile.path()).arg(format!("--window-size={width},900")).arg("--dump-dom").arg(url).output().unwrap();
    assert!(o.status.success(), "chromium failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn start_page_in_a_real_browser() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), &["demo"]);

    let dom = dump_dom(&server.url("/"), 1280);
    assert!(dom.contains("<h1>Tỉnh Đồng Nai</h1>"), "{dom}");
    assert_eq!(dom.matches("<tr><td class=\"num\">").count(), 95);
    // accessibility basics: language, labelled search, skip link, table caption
    assert!(dom.contains("<html lang=\"vi\">"));
    assert!(dom.contains("<label for=\"q\">"));
    assert!(dom.contains("href=\"#main\""));
    assert!(dom.contains("<caption"));

    let dom = dump_dom(&server.url("/?q=BIEN%20HOA&lang=en"), 400);
    assert!(dom.contains("<html lang=\"en\">"));
    assert!(dom.contains("Phường Biên Hòa"));
    assert_eq!(dom.matches("<tr><td class=\"num\">").count(), 1);

    // a screenshot renders (layout and fonts work headless)
    let shot = d.path().join("start.png");
    let profile = tempfile::tempdir().unwrap();
    let o = browser(profile.path())
        .arg("--window-size=1280,900")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(server.url("/"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot too small: {} bytes", png.len());
}

/// A minimal WebDriver client (ChromeDriver). Written by hand: the WebDriver crates
/// bring their own HTTP and TLS stacks, and these tests need eight endpoints.
struct Driver {
    child: std::process::Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    fn start() -> Driver {
        let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!("chromedriver is not installed: run scripts/test.sh (Debian package chromium-driver)")
            });
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        for _ in 0..100 {
            if agent.get(&format!("{base}/status")).call().is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = serde_json::json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let mut d = Driver { child, base, session: String::new(), _profile: profile };
        let v = d.call("POST", "/session", caps);
        d.session = v["sessionId"].as_str().unwrap_or_else(|| panic!("no WebDriver session: {v}")).to_string();
        d
    }

    fn call(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let mut res = match method {
            "GET" => agent.get(&url).call().unwrap(),
            "DELETE" => agent.delete(&url).call().unwrap(),
            _ => agent.post(&url).header("content-type", "application/json").send(body.to_string()).unwrap(),
        };
        let text = res.body_mut().with_config().limit(20 * 1024 * 1024).read_to_string().unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["value"].clone()
    }

    fn goto(&self, url: &str) {
        self.call("POST", "/url", serde_json::json!({ "url": url }));
    }

    fn url(&self) -> String {
        self.call("GET", "/url", serde_json::Value::Null).as_str().unwrap().to_string()
    }

    fn find(&self, css: &str) -> Option<String> {
        let v = self.call("POST", "/element", serde_json::json!({"using": "css selector", "value": css}));
        v[ELEMENT].as_str().map(str::to_string)
    }

    fn el(&self, css: &str) -> String {
        self.find(css).unwrap_or_else(|| panic!("no element {css} on {}", self.url()))
    }

    fn type_into(&self, css: &str, text: &str) {
        let id = self.el(css);
        self.call("POST", &format!("/element/{id}/value"), serde_json::json!({ "text": text }));
    }

    fn clear(&self, css: &str) {
        let id = self.el(css);
        self.call("POST", &format!("/element/{id}/clear"), serde_json::json!({}));
    }

    fn click(&self, css: &str) {
        let id = self.el(css);
        self.call("POST", &format!("/element/{id}/click"), serde_json::json!({}));
    }

    fn text(&self, css: &str) -> String {
        let id = self.el(css);
        self.call("GET", &format!("/element/{id}/text"), serde_json::Value::Null).as_str().unwrap_or("").to_string()
    }

    fn source(&self) -> String {
        self.call("GET", "/source", serde_json::Value::Null).as_str().unwrap_or("").to_string()
    }

    fn wait_url(&self, suffix: &str) {
        for _ in 0..100 {
            if self.url().ends_with(suffix) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("expected a URL ending in {suffix}, at {}", self.url());
    }

    fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.call("GET", "/screenshot", serde_json::Value::Null);
        let bytes = decode_base64(b64.as_str().unwrap());
        std::fs::write(path, bytes).unwrap();
    }

    fn login(&self, base: &str, user: &str) {
        self.goto(&format!("{base}/login"));
        self.type_into("#username", user);
        self.type_into("#password", "ansinh-demo-2026");
        self.click("#login-submit");
        self.wait_url("/home");
    }

    fn logout(&self) {
        self.click("#logout");
        self.wait_url("/login");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.call("DELETE", "", serde_json::Value::Null);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 decoding for the screenshot (test-only helper).
fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, c)| acc | (u32::from(val(*c)) << (18 - 6 * i)));
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

#[test]
fn log_in_navigate_and_log_out_as_admin_and_commune_officer() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), &["demo"]);
    let base = server.base.clone();
    let b = Driver::start();
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));

    // an anonymous visit to a protected page goes to the login, then back
    b.goto(&format!("{base}/users"));
    b.wait_url("/login?next=%2Fusers");
    assert!(b.source().contains("Đăng nhập"));

    b.login(&base, "quantri");
    assert_eq!(b.text("#role"), "Quản trị hệ thống");
    assert!(b.text("#who").contains("Trần Văn Quản"));
    b.screenshot(&shots.join("home-admin.png"));
    b.click("a[href='/users']");
    b.wait_url("/users");
    assert!(b.text("#users").contains("canboxa"));
    // htmx: disabling a user swaps only their row
    let row = "#user-5"; // lanhdao (demo users are created in a fixed order)
    let before = b.text(row);
    assert!(before.contains("Hoạt động"), "{before}");
    b.click(&format!("{row} form button"));
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(b.text(row).contains("Đã khóa"), "{}", b.text(row));
    b.screenshot(&shots.join("users.png"));
    b.click("a[href='/audit']");
    b.wait_url("/audit");
    assert!(b.text("#audit").contains("auth.login"));
    b.click("#verify");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(b.text("#verify-result").starts_with("Toàn vẹn"), "{}", b.text("#verify-result"));
    b.screenshot(&shots.join("audit.png"));
    // English on request
    b.click("#switch-lang");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(b.source().contains("Audit trail"));
    b.click("#switch-lang");
    b.logout();

    b.login(&base, "canboxa");
    assert!(b.text("#my-communes").contains("Phường Đồng Xoài"));
    assert!(b.find("a[href='/users']").is_none(), "no user administration for a commune officer");
    b.click("#my-communes a");
    b.wait_url("/communes/25195");
    assert_eq!(b.text("#commune-name"), "Phường Bình Phước");
    b.goto(&format!("{base}/communes/26068"));
    assert!(b.source().contains("Không có quyền truy cập"));
    b.goto(&format!("{base}/home"));
    b.logout();
    // after logging out the workspace is closed again
    b.goto(&format!("{base}/home"));
    b.wait_url("/login?next=%2Fhome");
}

#[test]
fn registry_search_propose_and_approve_in_a_browser() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), &["demo", "--persons", "2000"]);
    let base = server.base.clone();
    let b = Driver::start();
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));

    b.login(&base, "canboxa");
    b.click("a[href='/registry']");
    b.wait_url("/registry");
    // the first person of the list, searched for without diacritics
    let name = b.text("#persons tbody tr:first-child td:first-child");
    let typed = domain::text::search_key(&name);
    b.type_into("#rq", &typed);
    b.click(".filters button[type=submit]");
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(b.text("#persons").contains(&name), "{typed} did not find {name}");
    b.screenshot(&shots.join("registry.png"));
    b.click("#persons tbody tr:first-child td:first-child a");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(b.text("#person-name"), name);
    b.type_into("#c-address", " (mới)");
    b.type_into("#c-from", "01/01/2027");
    b.type_into("#c-reason", "Đổi địa chỉ");
    b.click("#propose-submit");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(b.text("#notice").contains("Đã gửi đề nghị"), "{}", b.source());
    b.screenshot(&shots.join("dossier.png"));

    // import a bad file: the page follows the background job, then lists each problem
    let header: Vec<&str> =
        ["Số định danh cá nhân", "Họ và tên", "Ngày sinh", "Giới tính", "Dân tộc", "Mã xã", "Địa chỉ"].to_vec();
    let bad = d.path().join("sai.csv");
    std::fs::write(&bad, format!("{}\n075058012345,Lê Thị Hoà,31/02/1958,Nữ,Kinh,25210,Ấp 1\n", header.join(",")))
        .unwrap();
    b.goto(&format!("{base}/registry/import"));
    b.type_into("#file", bad.to_str().unwrap());
    b.click("input[name=mode][value=all]");
    b.click("#import-submit");
    let mut done = false;
    for _ in 0..100 {
        if b.find("#import-result").is_some() {
            done = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(done, "no import result: {}", b.source());
    let errors = b.text("#import-errors");
    assert!(errors.contains("không có ngày 31"), "{errors}");
    assert!(b.text("#import-result").contains("Không có gì được ghi"));
    b.screenshot(&shots.join("import-errors.png"));
    b.logout();

    b.login(&base, "sonoivu");
    b.click("a[href='/registry/changes']");
    b.wait_url("/registry/changes");
    assert!(b.text("#changes").contains("(mới)"));
    b.click("#changes button[value=approve]");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(b.text("#notice").starts_with("Đã duyệt"), "{}", b.source());
    // the budget simulation page draws its chart
    b.click("a[href='/simulate']");
    b.wait_url("/simulate");
    b.type_into("#s-from", "01/2027");
    b.type_into("#s-to", "12/2027");
    b.type_into("#s-value", "3000000");
    b.type_into("#s-change", "07/2027");
    b.click("#simulate-submit");
    let mut drawn = false;
    for _ in 0..50 {
        if b.find("#sim-chart").is_some() {
            drawn = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(drawn, "{}", b.source());
    assert!(b.text("#sim-summary").contains("Tổng chênh lệch"));
    b.screenshot(&shots.join("simulate.png"));
    b.logout();
}

/// Polls until `selector` exists (a page submitted by a click has loaded).
/// Waits until `gone` has left the page and `present` is on it: for a form posted to a page
/// that shares elements with the next one.
fn wait_gone(b: &Driver, gone: &str, present: &str) {
    for _ in 0..100 {
        if b.find(gone).is_none() && b.find(present).is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{gone} still on the page, or {present} missing, at {}", b.url());
}

fn wait_for(b: &Driver, selector: &str) {
    for _ in 0..100 {
        if b.find(selector).is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("{selector} did not appear: {}", b.source());
}

#[test]
fn payment_cycle_through_three_officers_in_a_browser() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), &["demo", "--persons", "2000"]);
    let base = server.base.clone();
    let b = Driver::start();
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));

    // the maker creates this month's cycle (the demo has last month's, closed)
    b.login(&base, "sonoivu");
    b.click("a[href='/payments']");
    b.wait_url("/payments");
    assert!(b.text("#cycles").contains("Đã khóa sổ"), "{}", b.text("#cycles"));
    let month = domain::Month::of(chrono::Utc::now().date_naive());
    b.type_into("#c-month", &month.to_string());
    b.click("#cycle-create-submit");
    wait_for(&b, "#cycle-status");
    assert_eq!(b.text("#cycle-status"), "Dự thảo");
    assert!(b.text("#cycle-total").contains('₫'));
    assert!(
        b.text("#by-item").contains("chi bù"),
        "last month's uncollected lines are carried: {}",
        b.text("#by-item")
    );
    assert!(b.find("#do-check").is_none(), "the maker is not offered the check");
    let cycle_url = b.url();
    b.screenshot(&shots.join("payment-cycle.png"));
    b.logout();

    // a second officer checks it
    b.login(&base, "kiemtra");
    b.goto(&cycle_url);
    b.click("#do-check");
    wait_for(&b, "#notice");
    assert_eq!(b.text("#cycle-status"), "Đã kiểm tra");
    assert!(b.find("#do-approve").is_none(), "a provincial officer cannot approve");
    b.logout();

    // the head of department approves; the lists appear
    b.login(&base, "giamdocso");
    b.goto(&cycle_url);
    b.click("#do-approve");
    wait_for(&b, "#cycle-digest");
    assert_eq!(b.text("#cycle-status"), "Đã phê duyệt");
    b.click("#by-commune tbody tr:first-child a");
    wait_for(&b, "#pay-list");
    assert!(b.text("#pay-list").contains("Ký nhận"));
    assert!(b.text("#pay-list-total").contains('₫'));
    b.screenshot(&shots.join("pay-list.png"));
    b.logout();
}

#[test]
fn integrity_case_resolved_by_the_inspector_in_a_browser() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), &["demo", "--persons", "2000"]);
    let base = server.base.clone();
    let b = Driver::start();
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));

    // the inspector opens the queue: the planted pairs are listed first
    b.login(&base, "thanhtra");
    b.click("a[href='/integrity']");
    b.wait_url("/integrity");
    assert!(b.text("#check-stats").contains("Một người hưởng ở hai hồ sơ/xã"), "{}", b.text("#check-stats"));
    let first = b.text("#cases tbody tr:first-child");
    assert!(first.contains("có vẻ là một người"), "{first}");
    b.screenshot(&shots.join("integrity-queue.png"));
    b.click("#cases tbody tr:first-child td:first-child a");
    wait_for(&b, "#side-by-side");
    assert!(b.text("#side-by-side").contains("Số định danh"));
    assert!(b.text("#match-parts").contains("sai, đảo, thiếu hoặc thừa một chữ số"), "{}", b.text("#match-parts"));
    // a resolution without the verification's notes is refused by the form, then recorded
    b.click("#outcome-confirmed");
    b.type_into("#r-note", "Cùng một người, đăng ký hai lần");
    b.screenshot(&shots.join("integrity-case.png"));
    b.click("#resolve-submit");
    wait_for(&b, "#recoveries");
    assert_eq!(b.text("#case-status"), "Xác nhận vi phạm");
    assert!(b.text("#recoveries").contains('₫'), "{}", b.text("#recoveries"));
    assert!(b.find("#resolve-form").is_none(), "a resolved case has no form");
    b.logout();
}

#[test]
fn six_monthly_report_returned_fixed_and_accepted_in_a_browser() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), &["demo", "--persons", "2000"]);
    let base = server.base.clone();
    let b = Driver::start();
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));

    // Sở Y tế's reporter opens the six-monthly report the demo left missing
    b.login(&base, "baocao");
    b.click("a[href='/plans']");
    b.wait_url("/plans");
    b.click("#plans tbody tr:first-child a");
    b.click("#nav-reports");
    wait_for(&b, "#report-create");
    b.click("#report-create-submit");
    wait_for(&b, "#report-form");
    let report_url = b.url();
    b.click("select[name='progress_II.3.a.2'] option[value='done']");
    let today = chrono::Utc::now().date_naive().format("%d/%m/%Y").to_string();
    b.type_into("input[name='completed_II.3.a.2']", &today);
    b.type_into("textarea[name='note_II.3.a.2']", "Khám sức khỏe cho 1.240 người có công");
    b.type_into("#value-BHYT", "94,2");
    b.screenshot(&shots.join("plan-report-form.png"));
    b.click("#report-submit");
    wait_gone(&b, "#report-form", "#report-status");
    assert_eq!(b.text("#report-status"), "Đã gửi, chờ tiếp nhận");
    b.logout();

    // the plan owner returns it with comments
    b.login(&base, "sonoivu");
    b.goto(&report_url);
    wait_for(&b, "#report-decide");
    b.type_into("#comment", "Đề nghị cập nhật tỷ lệ BHYT theo số liệu chốt 14/6");
    b.click("#report-return");
    wait_for(&b, "#report-comment");
    assert_eq!(b.text("#report-status"), "Bị trả lại");
    b.logout();

    // the reporter fixes the value and resubmits
    b.login(&base, "baocao");
    b.goto(&report_url);
    wait_for(&b, "#report-form");
    assert!(b.text("#report-comment").contains("14/6"));
    b.clear("#value-BHYT");
    b.type_into("#value-BHYT", "94,6");
    b.click("#report-submit");
    wait_gone(&b, "#report-form", "#report-status");
    assert_eq!(b.text("#report-status"), "Đã gửi, chờ tiếp nhận");
    b.logout();

    // accepted and locked
    b.login(&base, "sonoivu");
    b.goto(&report_url);
    b.click("#report-accept");
    wait_gone(&b, "#report-decide", "#report-history");
    assert_eq!(b.text("#report-status"), "Đã tiếp nhận (khóa)");
    assert!(b.find("#report-form").is_none() && b.find("#report-decide").is_none(), "locked");
    assert_eq!(b.text("#report-history").lines().count(), 7, "{}", b.text("#report-history"));
    b.screenshot(&shots.join("plan-report-accepted.png"));
    b.logout();

    // the leader: scorecard, overdue by agency, drill-down to the communes
    b.login(&base, "lanhdao");
    b.click("a[href='/plans']");
    b.click("#plans tbody tr:first-child a");
    b.click("#nav-dashboard");
    wait_for(&b, "#scorecard");
    assert!(b.text("#ind-BHYT").contains("94,6%"), "{}", b.text("#ind-BHYT"));
    assert!(b.text("#agency-ranking").contains("Sở Nội vụ"));
    assert!(!b.text("#overdue-list").contains("II.3.a.2"), "the task is no longer overdue");
    b.screenshot(&shots.join("plan-dashboard.png"));
    b.click("#ind-BHYT a");
    wait_for(&b, "#communes");
    assert!(b.text("#communes").contains("2024"), "the old communes' 2024 values");
    b.screenshot(&shots.join("plan-indicator.png"));
    b.logout();
}

#[test]
fn complaint_filed_on_the_portal_resolved_and_rated_in_a_browser() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), &["demo", "--persons", "1000"]);
    let base = server.base.clone();
    let b = Driver::start();
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));

    // a citizen files a complaint on the portal, without logging in
    b.goto(&format!("{base}/"));
    b.click("#portal-link");
    wait_for(&b, "#complaint-form");
    b.click("#c-subject option[value='payment']");
    b.click("#c-commune option[value='25210']");
    b.type_into("#c-title", "Chưa nhận được trợ cấp tháng 10");
    b.type_into("#c-content", "Tôi là thương binh, tháng 10 chưa nhận được tiền trợ cấp tại điểm chi trả.");
    b.type_into("#c-name", "Nguyễn Thị Hạnh");
    b.screenshot(&shots.join("portal-file.png"));
    b.click("#complaint-submit");
    wait_for(&b, "#tracking-code");
    let code = b.text("#tracking-code");
    assert_eq!(code.len(), 14, "{code}");
    assert_eq!(b.text("#track-status"), "Đã tiếp nhận đơn");

    // the commune officer accepts it (the deadline is computed) and resolves it
    b.login(&base, "canboxa");
    b.click("a[href='/complaints']");
    wait_for(&b, "#complaints");
    b.click("#complaints tbody tr:first-child td:first-child a");
    wait_for(&b, "#step-form");
    assert!(b.text("#complaint-facts").contains("Chưa nhận được trợ cấp") || b.text("h1").contains("Chưa nhận được"));
    b.click("#step-accept");
    wait_for(&b, "#resolution-due");
    assert_eq!(b.text("#complaint-status"), "Đã thụ lý");
    b.click("#s-outcome option[value='upheld']");
    b.type_into("#s-note", "Điểm chi trả đã chi bổ sung ngày hôm nay.");
    b.click("#step-decide");
    wait_for(&b, "#outcome");
    b.click("#step-notify");
    wait_for(&b, "#step-close");
    b.click("#step-close");
    // the closed case's page has no step form (the status element is on both pages)
    wait_gone(&b, "#step-form", "#complaint-status");
    assert_eq!(b.text("#complaint-status"), "Đã kết thúc");
    b.screenshot(&shots.join("complaint-closed.png"));
    b.logout();

    // the citizen follows it by the code and rates the service
    b.goto(&format!("{base}/portal/track?code={code}"));
    wait_for(&b, "#rating-form");
    assert_eq!(b.text("#track-status"), "Đã kết thúc");
    b.click("#score-5");
    b.click("#rating-submit");
    wait_for(&b, "#rated");
    b.screenshot(&shots.join("portal-rated.png"));

    // the rating is in the agency's index
    b.login(&base, "lanhdao");
    b.goto(&format!("{base}/complaints"));
    wait_for(&b, "#satisfaction");
    assert!(b.text("#sat-SO_NOI_VU").contains('3'), "{}", b.text("#satisfaction"));
    b.logout();
}

#[test]
fn citizen_looks_up_payments_with_a_printed_code_and_rates_one_in_a_browser() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(d.path(), &["demo", "--persons", "1000"]);
    let base = server.base.clone();
    // a living person of the officer's commune with a paid payment and a full birth date
    let db = format!("sqlite://{}", d.path().join("ansinh-demo.db").display());
    let (person, pid, birth): (i64, String, String) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
        sqlx::query_as(
            "SELECT p.id, p.personal_id, p.birth_date FROM payment_lines l JOIN persons p ON p.id = l.person_id \
             WHERE l.result = 'paid' AND p.commune_code = '25210' AND length(p.birth_date) = 10 AND p.deceased_on IS NULL \
             ORDER BY l.id LIMIT 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    });
    let birth = format!("{}/{}/{}", &birth[8..10], &birth[5..7], &birth[..4]);
    let b = Driver::start();
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));

    // the commune officer issues the code printed on the person's decision
    b.login(&base, "canboxa");
    b.goto(&format!("{base}/registry/persons/{person}"));
    wait_for(&b, "#issue-code");
    b.click("#issue-code button");
    wait_for(&b, "#lookup-code");
    let code = b.text("#lookup-code");
    assert_eq!(code.len(), 9, "{code}");
    b.logout();

    // the citizen: a wrong code first (no hint), then the right one
    b.goto(&format!("{base}/portal"));
    b.click("#lookup-link");
    wait_for(&b, "#lookup-form");
    b.type_into("#q-pid", &pid);
    b.type_into("#q-birth", &birth);
    b.type_into("#q-code", "AAAA-AAAA");
    b.click("#lookup-submit");
    wait_for(&b, "#form-error");
    assert!(b.text("#form-error").contains("không khớp"), "{}", b.text("#form-error"));
    b.clear("#q-code");
    b.type_into("#q-code", &code);
    b.click("#lookup-submit");
    wait_for(&b, "#citizen-payments");
    assert!(b.text("#citizen-entitlements").contains('₫'), "{}", b.text("#citizen-entitlements"));
    b.screenshot(&shots.join("portal-lookup.png"));
    // rate the first paid payment
    b.click("#citizen-payments form.rate-payment option[value='4']");
    b.click("#citizen-payments form.rate-payment button");
    wait_for(&b, "#notice");
    assert!(b.text("#citizen-payments").contains("4/5"), "{}", b.text("#citizen-payments"));
    b.click("#lookup-signout button");
    wait_for(&b, "#lookup-form");
}
