//! CLI tests: every command, and each kind of bad input gives one clear line and a
//! non-zero exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_one_line_error, cmd, run, stderr, stdout, Db};
use store::Backend;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn version_and_help_explain_terms() {
    let d = tmp();
    let o = run(d.path(), &["version"]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with(&format!("ansinh {}", env!("CARGO_PKG_VERSION"))));
    let o = run(d.path(), &["--help"]);
    // clap wraps help to the terminal width: compare with whitespace normalised
    let h = stdout(&o).split_whitespace().collect::<Vec<_>>().join(" ");
    for term in [
        "người có công",
        "people with meritorious services",
        "số định danh cá nhân",
        "personal ID number",
        "Sở Nội vụ",
        "phường = urban ward",
    ] {
        assert!(h.contains(term), "help lacks '{term}'");
    }
    for sub in ["serve", "demo", "migrate", "backup", "config", "version"] {
        assert!(h.contains(sub), "help lacks '{sub}'");
    }
    let h = stdout(&run(d.path(), &["demo", "--help"]));
    assert!(h.contains("Đồng Nai") && h.contains("--no-serve") && h.contains("--bind") && h.contains("--port"));
}

#[test]
fn config_example_is_valid_and_check_reports_sources() {
    let d = tmp();
    let o = run(d.path(), &["config", "example"]);
    assert!(o.status.success());
    std::fs::write(d.path().join("ansinh.toml"), stdout(&o)).unwrap();
    // ./ansinh.toml is picked up by default
    let o = run(d.path(), &["config", "check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("configuration OK (file ansinh.toml)"), "{out}");
    assert!(out.contains("server.bind") && out.contains("127.0.0.1:8080"));
    // environment beats file, flag beats environment
    let o = cmd(d.path(), &["config", "check", "--database-url", "sqlite://x.db"])
        .env("ANSINH_DATABASE_URL", "postgres://u:hidden@db/ansinh")
        .env("ANSINH_PORT", "9999")
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(out.contains("sqlite://x.db") && out.contains("# flag --database-url"), "{out}");
    assert!(out.contains("127.0.0.1:9999") && out.contains("# environment ANSINH_PORT"), "{out}");
    assert!(!out.contains("hidden"));
}

#[test]
fn invalid_config_values_are_one_line_errors() {
    let d = tmp();
    let o = cmd(d.path(), &["config", "check"]).env("ANSINH_PORT", "abc").output().unwrap();
    assert_one_line_error(&o, 2, "environment ANSINH_PORT: invalid value 'abc' for server.port");
    std::fs::write(d.path().join("bad.toml"), "[server]\nbind = 8080\n").unwrap();
    let o = run(d.path(), &["config", "check", "--config", "bad.toml"]);
    assert_one_line_error(&o, 2, "config file bad.toml");
    let o = run(d.path(), &["config", "check", "--config", "missing.toml"]);
    assert_one_line_error(&o, 2, "missing.toml does not exist");
    let o = run(d.path(), &["serve", "--bind", "not-an-address"]);
    assert_one_line_error(&o, 2, "flag --bind: invalid value 'not-an-address'");
    // flag values clap rejects are one line too
    let o = run(d.path(), &["serve", "--port", "abc"]);
    assert_one_line_error(&o, 2, "invalid value 'abc' for '--port <N>'");
    let o = run(d.path(), &["serve", "--port", "70000"]);
    assert_one_line_error(&o, 2, "'--port <N>'");
    let o = run(d.path(), &["no-such-command"]);
    assert_one_line_error(&o, 2, "unrecognized subcommand");
    let o = run(d.path(), &["migrate", "--log-level", "loud"]);
    assert_one_line_error(&o, 2, "log.level");
}

#[test]
fn malformed_database_urls_are_refused() {
    let d = tmp();
    let o = run(d.path(), &["migrate", "--database-url", "mysql://root:pw@localhost/ansinh"]);
    let line = assert_one_line_error(&o, 2, "unsupported scheme 'mysql'");
    assert!(!line.contains(":pw@"), "password shown: {line}");
    let o = run(d.path(), &["migrate", "--database-url", "ansinh.db"]);
    assert_one_line_error(&o, 2, "missing scheme");
    let o = run(d.path(), &["migrate", "--database-url", "sqlite://"]);
    assert_one_line_error(&o, 2, "no file path");
}

#[test]
fn unreachable_postgres_is_a_clear_error() {
    let d = tmp();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://ansinh:pw@127.0.0.1:{port}/ansinh");
    let o =
        cmd(d.path(), &["migrate", "--database-url", &url]).env("ANSINH_PG_CONNECT_TIMEOUT_S", "2").output().unwrap();
    let line = assert_one_line_error(&o, 1, &format!("cannot reach PostgreSQL at 127.0.0.1:{port}"));
    assert!(line.contains("Is the server running"), "{line}");
}

#[test]
fn corrupt_readonly_and_missing_sqlite_files() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmp();
    std::fs::write(d.path().join("corrupt.db"), "hello, I am a text file and not a database at all").unwrap();
    let o = run(d.path(), &["migrate", "--database-url", "sqlite://corrupt.db"]);
    assert_one_line_error(&o, 1, "corrupt.db is not an SQLite database");

    assert!(run(d.path(), &["migrate", "--database-url", "sqlite://ro.db"]).status.success());
    std::fs::set_permissions(d.path().join("ro.db"), std::fs::Permissions::from_mode(0o444)).unwrap();
    let o = run(d.path(), &["serve", "--port", "0", "--database-url", "sqlite://ro.db"]);
    assert_one_line_error(&o, 1, "ro.db is read-only");

    let o = run(d.path(), &["migrate", "--database-url", "sqlite://no/such/dir/a.db"]);
    assert_one_line_error(&o, 1, "directory no/such/dir of the database file does not exist");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let d = tmp();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let o = run(d.path(), &["serve", "--port", &port, "--database-url", "sqlite://a.db"]);
    assert_one_line_error(&o, 1, "address is already in use");
    // the database was not touched
    assert!(!d.path().join("a.db").exists());
}

#[test]
fn migrate_is_idempotent_and_creates_the_sqlite_file() {
    let d = tmp();
    let o = run(d.path(), &["migrate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("34 provinces, 3321 communes"));
    assert!(d.path().join("ansinh.db").exists(), "default ./ansinh.db is created");
    let o = run(d.path(), &["migrate"]);
    assert!(o.status.success());
}

#[test]
fn demo_no_serve_creates_once() {
    let d = tmp();
    let o = run(d.path(), &["demo", "--no-serve"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("demo database created: sqlite://./ansinh-demo.db"));
    assert!(d.path().join("ansinh-demo.db").exists());
    let o = run(d.path(), &["demo", "--no-serve"]);
    assert!(stdout(&o).contains("already present"));
}

#[test]
fn sqlite_backup_is_a_working_copy() {
    let d = tmp();
    assert!(run(d.path(), &["demo", "--no-serve"]).status.success());
    let o = run(d.path(), &["backup", "--database-url", "sqlite://ansinh-demo.db", "copy.db"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("backup written to copy.db"));
    // the copy is a complete database: serve-able and migrated
    let o = run(d.path(), &["migrate", "--database-url", "sqlite://copy.db"]);
    assert!(stdout(&o).contains("3321 communes"), "{}", stderr(&o));
    let o = run(d.path(), &["backup", "--database-url", "sqlite://ansinh-demo.db", "copy.db"]);
    assert_one_line_error(&o, 1, "already exists");
    let o = run(d.path(), &["backup", "--database-url", "sqlite://none.db", "x.db"]);
    assert_one_line_error(&o, 1, "does not exist");
}

#[tokio::test]
async fn postgres_migrate_demo_and_backup() {
    let db = Db::new(Backend::Postgres).await;
    let d = tmp();
    let o = run(d.path(), &["migrate", "--database-url", &db.url]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3321 communes"));
    let o = run(d.path(), &["demo", "--no-serve", "--database-url", &db.url]);
    assert!(stdout(&o).contains("demo database created"), "{}", stderr(&o));
    let o = run(d.path(), &["backup", "--database-url", &db.url, "pg.dump"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list = std::process::Command::new("pg_restore").arg("--list").arg(d.path().join("pg.dump")).output().unwrap();
    assert!(list.status.success());
    assert!(String::from_utf8_lossy(&list.stdout).contains("TABLE public communes"));
    db.drop_db().await;
}

#[test]
fn user_commands() {
    let d = tmp();
    assert!(run(d.path(), &["migrate"]).status.success());
    let o = run(
        d.path(),
        &[
            "user",
            "add",
            "--username",
            "lan.nt",
            "--full-name",
            "nguyễn thị LAN",
            "--role",
            "commune_officer",
            "--commune",
            "25210",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("created user lan.nt (Nguyễn Thị Lan, commune_officer)"), "{out}");
    assert!(out.contains("temporary password (change at first login): "));
    // password from standard input
    let mut c = cmd(
        d.path(),
        &["user", "add", "--username", "admin", "--full-name", "Quản Trị", "--role", "admin", "--password-stdin"],
    );
    c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"mat-khau-rat-dai\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains("temporary password"));
    // bad input is one line naming the field
    let o = run(d.path(), &["user", "add", "--username", "x", "--full-name", "X", "--role", "leader"]);
    assert_one_line_error(&o, 1, "--username: 3–32 characters");
    let o = run(d.path(), &["user", "add", "--username", "lan.nt", "--full-name", "X", "--role", "leader"]);
    assert_one_line_error(&o, 1, "--username: username 'lan.nt' is taken");
    let o = run(
        d.path(),
        &["user", "add", "--username", "xa.b", "--full-name", "X", "--role", "commune_officer", "--commune", "99999"],
    );
    assert_one_line_error(&o, 1, "commune 99999 does not exist");
    let o = run(d.path(), &["user", "add", "--username", "xa.c", "--full-name", "X", "--role", "chief"]);
    assert_one_line_error(&o, 1, "unknown role 'chief'");

    let out = stdout(&run(d.path(), &["user", "list"]));
    assert!(out.contains("lan.nt") && out.contains("25210") && out.contains("admin"), "{out}");
    assert!(run(d.path(), &["user", "disable", "lan.nt"]).status.success());
    let out = stdout(&run(d.path(), &["user", "list"]));
    assert!(!out.contains("lan.nt"), "disabled users are hidden by default: {out}");
    let out = stdout(&run(d.path(), &["user", "list", "--all"]));
    assert!(out.contains("lan.nt") && out.contains("disabled"), "{out}");
    assert!(run(d.path(), &["user", "enable", "lan.nt"]).status.success());
    let o = run(d.path(), &["user", "reset-password", "lan.nt"]);
    assert!(stdout(&o).contains("temporary password for lan.nt"), "{}", stderr(&o));
    let o = run(d.path(), &["user", "disable", "nobody"]);
    assert_one_line_error(&o, 1, "user 'nobody'");

    // every change above is in an intact audit trail
    let o = run(d.path(), &["audit", "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("audit trail intact: 5 entries"), "{}", stdout(&o));
}

/// Someone with write access to the database file drops the guard triggers and edits,
/// deletes or reorders entries: `ansinh audit verify` names the first bad one.
#[tokio::test]
async fn audit_verify_detects_tampering() {
    let d = tmp();
    assert!(run(d.path(), &["demo", "--no-serve"]).status.success());
    for u in ["a.one", "a.two", "a.three"] {
        assert!(run(
            d.path(),
            &[
                "--database-url",
                "sqlite://ansinh-demo.db",
                "user",
                "add",
                "--username",
                u,
                "--full-name",
                "X Y",
                "--role",
                "leader"
            ]
        )
        .status
        .success());
    }
    let verify = || run(d.path(), &["--database-url", "sqlite://ansinh-demo.db", "audit", "verify"]);
    assert!(verify().status.success());
    let url = format!("sqlite://{}", d.path().join("ansinh-demo.db").display());
    let tamper = |sql: &'static str| {
        let url = url.clone();
        async move {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
            pool.close().await;
        }
    };
    tamper("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").await;
    // keep a pristine copy to restore between attacks
    let db = d.path().join("ansinh-demo.db");
    let pristine = std::fs::read(&db).unwrap();

    tamper("UPDATE audit_log SET actor = 'ke-gian' WHERE seq = 3").await;
    let o = verify();
    assert_one_line_error(&o, 1, "audit trail broken at entry 3: entry 3 was modified");

    std::fs::write(&db, &pristine).unwrap();
    tamper("DELETE FROM audit_log WHERE seq = 5").await;
    assert_one_line_error(&verify(), 1, "audit trail broken at entry 5: entry 5 is missing");

    std::fs::write(&db, &pristine).unwrap();
    tamper("UPDATE audit_log SET seq = -1 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = -1;").await;
    assert_one_line_error(&verify(), 1, "audit trail broken at entry 2");

    std::fs::write(&db, &pristine).unwrap();
    assert!(verify().status.success(), "restored copy verifies");
}

/// Excel files: the first visible sheet is read (hidden sheets are skipped), trailing empty
/// rows are ignored, and merged header cells are refused with a clear reason.
#[test]
fn import_xlsx_sheets_and_merged_headers() {
    use rust_xlsxwriter::Workbook;
    let d = tmp();
    assert!(run(d.path(), &["demo", "--no-serve", "--persons", "0"]).status.success());
    let template = stdout(&run(d.path(), &["import", "template"]));
    let header: Vec<String> =
        template.trim_start_matches('\u{feff}').lines().next().unwrap().split(',').map(str::to_string).collect();
    let row = ["075058012345", "Nguyễn Văn An", "02/09/1958", "Nam", "Kinh", "26068", "Tổ 5, khu phố 3"];

    let mut wb = Workbook::new();
    let hidden = wb.add_worksheet().set_name("Cũ").unwrap();
    hidden.write_string(0, 0, "rác, không được đọc").unwrap();
    hidden.set_hidden(true);
    let ws = wb.add_worksheet().set_name("Đối tượng").unwrap();
    // Excel never hides the active sheet: make the data sheet the active one
    ws.set_active(true);
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    for (c, v) in row.iter().enumerate() {
        ws.write_string(1, c as u16, *v).unwrap();
    }
    // trailing rows that only carry formatting
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for r in 2..6 {
        ws.write_blank(r, 0, &bold).unwrap();
    }
    wb.save(d.path().join("ok.xlsx")).unwrap();
    let o = run(d.path(), &["--database-url", "sqlite://ansinh-demo.db", "import", "persons", "ok.xlsx"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).starts_with("1 rows, 1 valid, 1 imported"), "{}", stdout(&o));

    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.merge_range(0, 0, 0, 1, "Số định danh cá nhân / Họ và tên", &rust_xlsxwriter::Format::new()).unwrap();
    for (c, h) in header.iter().enumerate().skip(2) {
        ws.write_string(0, c as u16, h).unwrap();
    }
    wb.save(d.path().join("merged.xlsx")).unwrap();
    let o = run(d.path(), &["--database-url", "sqlite://ansinh-demo.db", "import", "persons", "merged.xlsx"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("ô gộp"), "{}", stdout(&o));
}

/// The worked examples of docs/entitlements.md, run exactly as documented.
#[test]
fn entitlement_examples_of_the_docs_are_reproduced() {
    let d = tmp();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ex = repo.join("docs/examples");
    let facts = ex.join("facts.jsonl");
    let out = d.path().join("out.csv");
    let o = run(
        d.path(),
        &[
            "entitlements",
            "compute",
            "--facts",
            facts.to_str().unwrap(),
            "--from",
            "2024-06",
            "--to",
            "2024-08",
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("5 persons") && stdout(&o).contains("117.191.000"), "{}", stdout(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(ex.join("entitlements-2024-06-to-08.csv")).unwrap()
    );
    let paid = ex.join("paid-2023.csv");
    let o = run(
        d.path(),
        &[
            "entitlements",
            "compute",
            "--facts",
            facts.to_str().unwrap(),
            "--from",
            "2023-07",
            "--to",
            "2023-08",
            "--paid",
            paid.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(ex.join("arrears-2023-07-to-08.csv")).unwrap()
    );
    let o = run(
        d.path(),
        &[
            "entitlements",
            "explain",
            "--facts",
            facts.to_str().unwrap(),
            "--person",
            "075145000303",
            "--month",
            "2024-07",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = std::fs::read_to_string(repo.join("docs/entitlements.md")).unwrap();
    for line in stdout(&o).lines() {
        assert!(doc.contains(line), "docs/entitlements.md lacks the line «{line}»");
    }
    let o = run(d.path(), &["rules", "check"]);
    assert!(o.status.success() && stdout(&o).contains("ok: the packs are valid"), "{}", stdout(&o));
    assert!(stdout(&o).contains("muc_chuan_tro_giup from 07/2024"), "unconfirmed values are listed");
}

#[test]
fn bad_facts_and_packs_are_refused_with_line_and_field_and_write_nothing() {
    let d = tmp();
    let out = d.path().join("out.csv");
    let cases: [(&str, &str); 5] = [
        ("{\"person\": \"1\", \"birth_date\": \"1950\"}\n{\"person\": \"2\", \"birth_date\": ", "line 2"),
        ("{\"person\": \"1\", \"birth_date\": 1950}", "line 1"),
        ("{\"person\": \"1\", \"birth_date\": \"1950\", \"merits\": []}", "unknown field `merits`"),
        ("{\"person\": \"1\", \"birth_date\": \"31/02/1950\"}", "birth_date"),
        ("{\"person\": \"1\", \"birth_date\": \"1950\", \"merit\": [{\"category\": \"g\", \"from\": \"2021-07-01\", \"injury_rate\": 150}]}", "merit[0].injury_rate"),
    ];
    for (text, needle) in cases {
        std::fs::write(d.path().join("f.jsonl"), text).unwrap();
        let o = run(
            d.path(),
            &[
                "entitlements",
                "compute",
                "--facts",
                "f.jsonl",
                "--from",
                "2024-01",
                "--to",
                "2024-02",
                "--output",
                "out.csv",
            ],
        );
        assert_one_line_error(&o, 1, needle);
        assert!(!out.exists(), "no output file after an error ({needle})");
    }
    // a missing fact is an error naming person, rule and fact
    std::fs::write(
        d.path().join("f.jsonl"),
        "{\"person\": \"P1\", \"birth_date\": \"1950\", \"merit\": [{\"category\": \"g\", \"from\": \"2021-07-01\"}]}",
    )
    .unwrap();
    let o = run(
        d.path(),
        &[
            "entitlements",
            "compute",
            "--facts",
            "f.jsonl",
            "--from",
            "2024-01",
            "--to",
            "2024-02",
            "--output",
            "out.csv",
        ],
    );
    let err = assert_one_line_error(&o, 1, "person P1, rule 6.1");
    assert!(err.contains("injury_rate"), "{err}");
    assert!(!out.exists());
    // a broken pack directory: refused with its file and line
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let pol = d.path().join("policies");
    for f in ["nguoi-co-cong", "tro-giup-xa-hoi"] {
        std::fs::create_dir_all(pol.join(f)).unwrap();
    }
    for f in rules::pack::FILES {
        let text = std::fs::read_to_string(repo.join(f)).unwrap();
        let text = if f.ends_with("coefficients.csv") && f.starts_with("tro") {
            text.replacen("k8,any,,1.5", "k8,any,,abc", 1)
        } else {
            text
        };
        std::fs::write(pol.join(f), text).unwrap();
    }
    let o = run(d.path(), &["rules", "check", "--policies", "policies"]);
    assert_one_line_error(&o, 1, "tro-giup-xa-hoi/coefficients.csv line 18");
    // the server refuses to start with it, before binding a port
    let o = run(d.path(), &["--database-url", "sqlite://x.db", "serve", "--port", "0", "--policies", "policies"]);
    assert_one_line_error(&o, 1, "policy pack error: tro-giup-xa-hoi/coefficients.csv line 18");
}

#[test]
fn simulate_reports_the_cost_of_a_change_against_the_baseline() {
    let d = tmp();
    let o = run(d.path(), &["demo", "--no-serve", "--persons", "400"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let url = "sqlite://ansinh-demo.db";
    let o = run(
        d.path(),
        &[
            "--database-url",
            url,
            "simulate",
            "--from",
            "2027-01",
            "--to",
            "2027-12",
            "--set",
            "muc_chuan=3000000@2027-07",
            "--output",
            "sim.csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("2027-06") && out.contains("total"), "{out}");
    let csv = std::fs::read_to_string(d.path().join("sim.csv")).unwrap();
    let diff = |key: &str| -> i64 {
        let line = csv.lines().find(|l| l.starts_with(&format!("month,{key},"))).unwrap();
        line.rsplit(',').next().unwrap().parse().unwrap()
    };
    assert_eq!(diff("2027-06"), 0, "nothing changes before July");
    assert!(diff("2027-07") > 0, "a higher standard level costs more from July");
    let o = run(
        d.path(),
        &["--database-url", url, "simulate", "--from", "2027-01", "--to", "2027-12", "--set", "muc_chuan=abc"],
    );
    assert_one_line_error(&o, 1, "--set muc_chuan=abc");
}

/// A reader that goes away early (`ansinh version | head -0`) ends the command quietly.
#[test]
fn closed_stdout_is_not_a_panic() {
    let d = tmp();
    let mut child = cmd(d.path(), &["version"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{err}");
}

#[test]
fn dedup_finds_one_person_typed_twice_and_reports_what_it_cannot_compare() {
    let d = tmp();
    let mut csv = String::from("record_id,full_name,birth_date,sex,personal_id,commune\n");
    csv.push_str("a1,Nguyễn Văn Hòa,03/05/1950,male,075050001234,26041\n");
    csv.push_str("a2,NGUYEN VAN HOA,05/03/1950,Nam,075050001243,26041\n");
    csv.push_str("a3,Nguye\u{302}\u{303}n Va\u{306}n Hoa\u{300},1950,male,,26041\n");
    csv.push_str("b1,Trần Thị Lan,12/07/1962,female,075162004321,25210\n");
    csv.push_str("c1,,1970,female,,25210\n");
    csv.push_str("d1,Lê Văn Tám,31/02/1960,male,,25195\n");
    std::fs::write(d.path().join("in.csv"), csv).unwrap();
    let o = run(
        d.path(),
        &["dedup", "--input", "in.csv", "--output", "out.csv", "--pairs", "pairs.csv", "--report", "report.csv"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("6 records (1 not compared)"), "{}", stdout(&o));
    let out = std::fs::read_to_string(d.path().join("out.csv")).unwrap();
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 6, "every record is in the output: {out}");
    let cluster = |id: &str| rows.iter().find(|r| r[0] == id).unwrap()[1].to_string();
    assert_eq!(cluster("a1"), "a1");
    assert_eq!(cluster("a2"), "a1", "{out}");
    assert_eq!(cluster("b1"), "b1");
    let c1 = rows.iter().find(|r| r[0] == "c1").unwrap();
    assert_eq!(c1[2], "not_compared");
    let pairs = std::fs::read_to_string(d.path().join("pairs.csv")).unwrap();
    assert!(
        pairs.starts_with("record_id_a,record_id_b,probability,match_weight,decision,cluster_id,given_name"),
        "{pairs}"
    );
    assert!(pairs.contains("a1,a2,") && pairs.contains("day and month swapped"), "{pairs}");
    let report = std::fs::read_to_string(d.path().join("report.csv")).unwrap();
    assert!(report.contains("6,c1,full_name,,empty name"), "{report}");
    assert!(report.contains("7,d1,birth_date,31/02/1960"), "a bad date is reported, the row still compared: {report}");

    // a file without the required columns is refused whole, in one line
    std::fs::write(d.path().join("bad.csv"), "id,ngay_sinh\n1,1950\n").unwrap();
    let o = run(d.path(), &["dedup", "--input", "bad.csv", "--output", "x.csv"]);
    assert_one_line_error(&o, 1, "missing column(s) full_name");
    assert!(!d.path().join("x.csv").exists(), "nothing written");
    let o = run(d.path(), &["dedup", "--input", "in.csv", "--output", "x.csv", "--duplicate-at", "2"]);
    assert_one_line_error(&o, 1, "--duplicate-at 2");
}

#[test]
fn integrity_run_and_cases_over_the_demo_registry() {
    let d = tmp();
    let o = run(d.path(), &["demo", "--no-serve", "--persons", "2000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let url = "sqlite://ansinh-demo.db";
    let o = run(d.path(), &["--database-url", url, "integrity", "cases", "--as", "thanhtra", "--check", "paid_twice"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("paid_twice") && out.contains("có vẻ là một người"), "the demo's planted pairs: {out}");
    // a second run finds the same problems and opens nothing new
    let o = run(d.path(), &["--database-url", url, "integrity", "run", "--as", "thanhtra"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("0 new cases") && out.contains("deceased_paid"), "{out}");
    // a commune officer may not run the checks
    let o = run(d.path(), &["--database-url", url, "integrity", "run", "--as", "canboxa"]);
    assert!(!o.status.success());
    let o = run(d.path(), &["--database-url", url, "dedup", "--registry", "--output", "reg.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("2000 records"), "{}", stdout(&o));
}

#[tokio::test]
async fn an_import_that_mostly_duplicates_the_registry_is_stopped_for_review() {
    use sqlx::Row as _;
    let d = tmp();
    let o = run(d.path(), &["demo", "--no-serve", "--no-payments", "--persons", "300"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let url = "sqlite://ansinh-demo.db";
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", d.path().join("ansinh-demo.db").display())).await.unwrap();
    let rows = sqlx::query(
        "SELECT personal_id, full_name, birth_date, sex, commune_code FROM persons WHERE length(birth_date) = 10 ORDER BY id LIMIT 4",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let header = stdout(&run(d.path(), &["import", "template"])).lines().next().unwrap().to_string();
    let mut csv = format!("{header}\n");
    for r in &rows {
        // the same people typed again: no diacritics, one digit of the ID wrong
        let pid: String = r.get(0);
        let mut digits: Vec<u8> = pid.into_bytes();
        digits[11] = if digits[11] == b'9' { b'0' } else { digits[11] + 1 };
        let name: String = r.get(1);
        let iso: String = r.get(2);
        let dob = format!("{}/{}/{}", &iso[8..10], &iso[5..7], &iso[..4]);
        let sex = if r.get::<String, _>(3) == "male" { "Nam" } else { "Nữ" };
        let commune: String = r.get(4);
        csv.push_str(&format!(
            "{},{},{dob},{sex},Kinh,{commune},Ấp 1,,,,,,,,,,,,,,\n",
            String::from_utf8(digits).unwrap(),
            domain::text::search_key(&name).to_uppercase()
        ));
    }
    csv.push_str("075058012345,Nguyễn Văn An,02/09/1958,Nam,Kinh,26068,Ấp 2,,,,,,,,,,,,,,\n");
    std::fs::write(d.path().join("lai.csv"), csv).unwrap();
    let o = run(d.path(), &["--database-url", url, "import", "persons", "lai.csv"]);
    assert!(!o.status.success(), "stopped: {}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("80% số dòng trùng với người đã có trong sổ"), "{out}");
    assert!(out.contains("dòng 2 ≈"), "the duplicates are listed: {out}");
    assert!(out.contains("0 imported"), "{out}");
    let o = run(d.path(), &["--database-url", url, "import", "persons", "lai.csv", "--allow-duplicates"]);
    assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("5 imported"), "{}", stdout(&o));
}

#[test]
fn plan_template_import_status_and_export() {
    let d = tmp();
    // the template needs no database
    let o = run(d.path(), &["plan", "template", "--output", "mau.xlsx"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::metadata(d.path().join("mau.xlsx")).unwrap().len() > 5000);
    let url = "sqlite://plans.db";
    let o = run(d.path(), &["--database-url", url, "plan", "import", "mau.xlsx", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("15 tasks, 11 indicators (dry run"), "{}", stdout(&o));
    let o = run(d.path(), &["--database-url", url, "plan", "status"]);
    assert!(stdout(&o).trim().is_empty(), "a dry run imports nothing: {}", stdout(&o));
    let o = run(d.path(), &["--database-url", url, "plan", "import", "mau.xlsx"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("plan 1 imported: 15 tasks, 11 indicators"), "{}", stdout(&o));
    let o = run(d.path(), &["--database-url", url, "plan", "import", "mau.xlsx"]);
    assert_one_line_error(&o, 1, "230/KH-UBND");
    // a broken TOML names its line; an unknown agency its place and field
    std::fs::write(d.path().join("bad.toml"), "[plan]\nnumber = \"1/KH\"\ntitle = 3\n").unwrap();
    let o = run(d.path(), &["--database-url", url, "plan", "import", "bad.toml"]);
    assert!(!o.status.success() && stderr(&o).contains("dòng 3"), "{}", stderr(&o));
    let toml = common::SEED_PLAN
        .replace("230/KH-UBND", "9/KH-UBND")
        .replace("owner_agency = \"SO_NOI_VU\"", "owner_agency = \"SO_X\"");
    std::fs::write(d.path().join("x.toml"), toml).unwrap();
    let o = run(d.path(), &["--database-url", url, "plan", "import", "x.toml"]);
    assert!(
        !o.status.success() && stderr(&o).contains("owner_agency") && stderr(&o).contains("SO_X"),
        "{}",
        stderr(&o)
    );
    let o = run(d.path(), &["--database-url", url, "plan", "status", "--plan", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("II.3.b.3") && out.contains("overdue") && out.contains("SO_NOI_VU"), "{out}");
    let o = run(d.path(), &["--database-url", url, "plan", "export", "--plan", "1", "--output", "bao-cao.xlsx"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::metadata(d.path().join("bao-cao.xlsx")).unwrap().len() > 5000);
    let o = run(d.path(), &["--database-url", url, "plan", "status", "--plan", "7"]);
    assert!(!o.status.success(), "an unknown plan");
}

#[test]
fn calendar_show_template_and_record_a_year() {
    let d = tmp();
    let url = "sqlite://cal.db";
    // 2030 has no announcement: the Labour Code's days off, computed (lunar Tết included)
    let o = run(d.path(), &["--database-url", url, "calendar", "show", "2030"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("computed by the Labour Code") && stdout(&o).contains("02/09/2030"), "{}", stdout(&o));
    let o = run(d.path(), &["--database-url", url, "calendar", "template", "2030", "--output", "2030.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(d.path().join("2030.csv")).unwrap();
    assert!(text.starts_with("date,kind,name,source\n"), "{text}");
    // the announcement swaps Monday 29/04/2030 with Saturday 04/05/2030
    let year = format!(
        "{text}2030-04-29,holiday,Nghỉ hoán đổi,Thông báo nghỉ lễ 2030 (thử)\n2030-05-04,workday,Làm bù cho 29/04,Thông báo nghỉ lễ 2030 (thử)\n"
    );
    std::fs::write(d.path().join("2030-ok.csv"), &year).unwrap();
    let o = run(d.path(), &["--database-url", url, "calendar", "import", "2030-ok.csv", "--dry-run"]);
    assert!(o.status.success() && stdout(&o).contains("dry run"), "{}", stdout(&o));
    let o = run(d.path(), &["--database-url", url, "calendar", "show", "2030"]);
    assert!(stdout(&o).contains("computed"), "a dry run records nothing: {}", stdout(&o));
    // a make-up day on a weekday is refused with its row; nothing is recorded
    std::fs::write(d.path().join("2030-bad.csv"), format!("{year}2030-05-06,workday,Sai,Thông báo\n")).unwrap();
    let o = run(d.path(), &["--database-url", url, "calendar", "import", "2030-bad.csv"]);
    let e = assert_one_line_error(&o, 1, "Saturday or Sunday");
    assert!(e.contains("row"), "{e}");
    let o = run(d.path(), &["--database-url", url, "calendar", "import", "2030-ok.csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("recorded in the database") && stdout(&o).contains("04/05/2030  làm bù"),
        "{}",
        stdout(&o)
    );
    let o = run(d.path(), &["--database-url", url, "calendar", "show", "2030"]);
    assert!(stdout(&o).contains("recorded in the database"), "{}", stdout(&o));
}
