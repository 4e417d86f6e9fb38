//! Helpers for black-box tests of the `ansinh` binary: run a command, or start the
//! server on a random port and talk HTTP to it. Databases are throwaway (SQLite in a
//! temp dir, PostgreSQL from `store::testing`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_ansinh");

/// A command with a clean environment (no ANSINH_* from the developer's shell) run in `cwd`.
pub fn cmd(cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(cwd).stdin(Stdio::null());
    for (k, _) in std::env::vars() {
        if k.starts_with("ANSINH_") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c.env("ANSINH_LOG_LEVEL", "warn");
    c
}

pub fn run(cwd: &Path, args: &[&str]) -> Output {
    cmd(cwd, args).output().expect("run ansinh")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a failure reported as exactly one `error: …` line, without panic or backtrace.
pub fn assert_one_line_error(o: &Output, code: i32, needle: &str) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "exit status; stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line expected, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "'{needle}' not in: {err}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
    lines[0].to_string()
}

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub stderr_path: PathBuf,
}

impl Server {
    /// Starts `ansinh ARGS --port 0` and waits for its URL line.
    pub fn start(cwd: &Path, args: &[&str]) -> Server {
        Server::start_with(cmd(cwd, args), cwd)
    }

    pub fn start_with(mut c: Command, cwd: &Path) -> Server {
        let stderr_path = cwd.join(format!("server-{}.log", std::process::id()));
        let log = std::fs::File::create(&stderr_path).unwrap();
        c.arg("--port").arg("0").stdout(Stdio::piped()).stderr(log);
        let mut child = c.spawn().expect("spawn server");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(i) = line.find("http://") {
                    let url: String = line[i..].split_whitespace().next().unwrap().to_string();
                    let _ = tx.send(url);
                }
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(u) => u.trim_end_matches('/').to_string(),
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start: {}", std::fs::read_to_string(&stderr_path).unwrap_or_default());
            }
        };
        Server { child, base, stderr_path }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        // the shell's built-in kill: no dependency on procps
        let _ = Command::new("sh").arg("-c").arg(format!("kill -TERM {}", self.child.id())).status();
        for _ in 0..100 {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not stop after SIGTERM");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

fn finish(mut res: ureq::http::Response<ureq::Body>) -> Response {
    let status = res.status().as_u16();
    let headers =
        res.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let body = res.body_mut().with_config().limit(10 * 1024 * 1024).read_to_string().unwrap_or_default();
    Response { status, headers, body }
}

/// GET without following redirects; non-2xx statuses are returned, not errors.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    finish(req.call().expect("HTTP request"))
}

/// Any method with an optional body (sent with the given content type).
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<(&str, &[u8])>) -> Response {
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let res = match body {
        Some((ct, bytes)) => agent().run(b.header("content-type", ct).body(bytes.to_vec()).unwrap()),
        None => agent().run(b.body(()).unwrap()),
    };
    finish(res.expect("HTTP request"))
}

/// A logged-in API session: the cookie and the CSRF token.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl Session {
    pub fn headers(&self) -> Vec<(&str, &str)> {
        vec![("cookie", self.cookie.as_str()), ("x-csrf-token", self.csrf.as_str())]
    }
}

/// The seed plan (the import template's TOML form).
#[allow(dead_code)]
pub const SEED_PLAN: &str = include_str!("../../../../data/plans/230-KH-UBND-2024.toml");

pub const DEMO_PASSWORD: &str = "ansinh-demo-2026";

/// Logs in through the JSON API.
pub fn login(base: &str, username: &str, password: &str) -> Result<Session, Response> {
    let body = serde_json::json!({"username": username, "password": password}).to_string();
    let r = send("POST", &format!("{base}/api/v1/session"), &[], Some(("application/json", body.as_bytes())));
    if r.status != 200 {
        return Err(r);
    }
    let cookie = r.header("set-cookie").unwrap().split(';').next().unwrap().to_string();
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    Ok(Session { cookie, csrf: v["csrf_token"].as_str().unwrap().to_string() })
}

/// A database URL for `backend`, freshly created; keep the guard alive while in use.
pub struct Db {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl Db {
    pub async fn new(backend: store::Backend) -> Db {
        match backend {
            store::Backend::Sqlite => {
                let (dir, url) = store::testing::TestDb::sqlite_url();
                Db { url: url.expose(), _dir: Some(dir), pg: None }
            }
            store::Backend::Postgres => {
                let (admin, name, url) = store::testing::TestDb::postgres_url().await;
                Db { url: url.expose(), _dir: None, pg: Some((admin, name)) }
            }
        }
    }

    pub async fn drop_db(self) {
        if let Some((admin, name)) = &self.pg {
            store::testing::drop_pg_database(admin, name).await;
        }
    }
}

/// The response's body as JSON (a readable failure when it is not).
pub fn json(r: &Response) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not JSON: {} {}", r.status, r.body))
}

/// POSTs a JSON body to `base` + `path` in a logged-in session.
pub fn post(base: &str, path: &str, s: &Session, body: &str) -> Response {
    send("POST", &format!("{base}{path}"), &s.headers(), Some(("application/json", body.as_bytes())))
}
