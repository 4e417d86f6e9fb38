//! ansinh benchmarks. Run in release mode; see docs/benchmarks.md for the commands and
//! the figures measured.
//!
//! - `primitives`: throughput of the domain primitives on synthetic records.
//! - `reference`: loading the administrative units (set-based upsert / COPY) versus the
//!   per-row INSERT loop of an ORM, on either database, in the same run.
//! - `http`: latency and throughput of a running server's pages.
//! - `entitlements`: the rules engine over a facts file (bench/entitlements/), on one core
//!   and on all, with totals per month to compare with OpenFisca's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use domain::admin::Gazetteer;
use domain::text::{canonical, search_key};
use domain::{Money, PartialDate, PersonalId};
use store::{DatabaseUrl, Store, StoreOptions};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Domain primitives on N synthetic records.
    Primitives {
        #[arg(long, default_value_t = 1_000_000)]
        n: usize,
    },
    /// Reference-data load: set-based vs per-row, R rounds each, on a fresh database.
    Reference {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Audit trail: N appends (each its own transaction, as in service), then a full verify.
    Audit {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 20_000)]
        entries: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Registry name search: Q realistic queries against an existing registry (e.g. made by
    /// `ansinh demo --no-serve --persons 1000000`), province-wide and commune-scoped.
    Search {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 2000)]
        queries: usize,
    },
    /// Entitlements of every person of a facts file for a range of months: the engine on one
    /// thread and on `threads`, totals per month (compare with bench/entitlements/openfisca_bench.py).
    Entitlements {
        #[arg(long)]
        facts: String,
        #[arg(long)]
        policies: String,
        #[arg(long, default_value = "2024-01")]
        from: String,
        #[arg(long, default_value = "2024-12")]
        to: String,
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// GET the given paths of a running server with C concurrent clients for N requests each.
    Http {
        /// Log in first (USER:PASSWORD) and send the session cookie.
        #[arg(long)]
        login: Option<String>,
        #[arg(long)]
        base: String,
        #[arg(long, default_value = "/,/healthz,/api/v1/provinces/75/communes")]
        paths: String,
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Plan dashboard on a running server: the first one after the start, then R rounds of
    /// (an unrelated audited change → dashboard; a registry change → dashboard; W dashboards
    /// with nothing changed; the indicator by commune); p50/p95 of each.
    Plans {
        #[arg(long)]
        base: String,
        #[arg(long, default_value_t = 1)]
        plan: i64,
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        #[arg(long, default_value_t = 20)]
        warm: usize,
    },
    /// The citizen's lookup over HTTP: an officer issues N persons' printed codes, each citizen
    /// identifies, reads their page (12 months of entitlements and payments) and files a case;
    /// compared with the officer's reads of the same persons.
    Portal {
        #[arg(long)]
        base: String,
        #[arg(long, default_value_t = 100)]
        persons: usize,
    },
}

/// Deterministic generator (no external crate needed for synthetic data).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() as usize) % xs.len()]
    }
}

const FAMILY: &[&str] = &[
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương",
    "Lý", "Khúc",
];
const MIDDLE: &[&str] = &["Văn", "Thị", "Hữu", "Đức", "Ngọc", "Minh", "Thanh", "Xuân", "Quang", "Thuỳ"];
const GIVEN: &[&str] = &[
    "An", "Bình", "Hoà", "Thuỷ", "Khoẻ", "Hương", "Dũng", "Tuấn", "Lan", "Quý", "Huyền", "Nghĩa", "Phước", "Thủy",
    "Hòa",
];

fn rate(label: &str, n: usize, d: Duration) {
    let ns = d.as_nanos() as f64 / n as f64;
    println!("{label:<44} {n:>10} ops  {:>9.1} ns/op  {:>12.0} ops/s", ns, 1e9 / ns);
}

fn primitives(n: usize) {
    let mut g = Lcg(42);
    let names: Vec<String> =
        (0..n).map(|_| format!("  {} {}  {} ", g.pick(FAMILY), g.pick(MIDDLE), g.pick(GIVEN)).to_uppercase()).collect();
    let ids: Vec<String> = (0..n)
        .map(|_| {
            let year = 1920 + (g.next() % 100) as i32;
            let female = g.next() % 2;
            let c = (year - 1900) / 100 * 2 + female as i32;
            format!("075{c}{:02}{:06}", year % 100, g.next() % 1_000_000)
        })
        .collect();
    let dates: Vec<String> =
        (0..n).map(|_| format!("{}/{}/{}", 1 + g.next() % 28, 1 + g.next() % 12, 1920 + g.next() % 100)).collect();
    println!("domain primitives, {n} synthetic records each");
    let t = Instant::now();
    for s in &names {
        black_box(search_key(black_box(s)));
    }
    rate("text::search_key (fold case + diacritics)", n, t.elapsed());
    let t = Instant::now();
    for s in &names {
        black_box(canonical(black_box(s)));
    }
    rate("text::canonical (NFC + tone placement)", n, t.elapsed());
    let t = Instant::now();
    let mut bad = 0usize;
    for (s, d) in ids.iter().zip(&dates) {
        let id = PersonalId::parse(black_box(s)).unwrap();
        let born = PartialDate::parse(d).unwrap();
        bad += id.check_against(Some(born), None).len();
    }
    black_box(bad);
    rate("PersonalId::parse + PartialDate::parse + check", n, t.elapsed());
    let t = Instant::now();
    for i in 0..n {
        black_box(Money::from_dong(black_box(i as i64 * 1_000 + 2_789_000)).to_string());
    }
    rate("Money display (2.789.000 ₫)", n, t.elapsed());
}

async fn fresh(url: &DatabaseUrl) -> Store {
    Store::open(url, &StoreOptions::default()).await.expect("open database")
}

async fn clear(store: &Store) {
    for t in ["legacy_communes", "communes", "provinces", "app_meta"] {
        let sql = format!("DELETE FROM {t}");
        match store {
            Store::Sqlite(p) => {
                sqlx::query(&sql).execute(p).await.unwrap();
            }
            Store::Postgres(p) => {
                sqlx::query(&sql).execute(p).await.unwrap();
            }
        }
    }
}

/// The per-row path an ORM takes (`create()` per record): one INSERT statement per row,
/// each in its own transaction (autocommit), parameters bound per row.
async fn per_row(store: &Store, g: &Gazetteer) {
    macro_rules! go {
        ($p:expr) => {{
            for p in g.provinces() {
                sqlx::query("INSERT INTO provinces (code, name, name_key, predecessor_codes, commune_count) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO UPDATE SET name = excluded.name")
                    .bind(&p.code).bind(&p.name).bind(search_key(&p.name)).bind(p.predecessor_codes.join(";")).bind(i64::from(p.commune_count))
                    .execute($p).await.unwrap();
            }
            for c in g.communes() {
                sqlx::query("INSERT INTO communes (code, name, name_key, kind, province_code) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO UPDATE SET name = excluded.name")
                    .bind(&c.code).bind(&c.name).bind(search_key(&c.name)).bind(c.kind.code()).bind(&c.province_code)
                    .execute($p).await.unwrap();
            }
            for l in g.legacy_communes() {
                sqlx::query("INSERT INTO legacy_communes (code, name, name_key, successor_code, partial) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code, successor_code) DO UPDATE SET name = excluded.name")
                    .bind(&l.code).bind(&l.name).bind(search_key(&l.name)).bind(&l.successor_code).bind(l.partial)
                    .execute($p).await.unwrap();
            }
        }};
    }
    match store {
        Store::Sqlite(p) => go!(p),
        Store::Postgres(p) => go!(p),
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn reference(url: &str, rounds: usize) {
    let url = DatabaseUrl::parse(url).unwrap();
    let g = Gazetteer::embedded().unwrap();
    let rows = g.provinces().len() + g.communes().len() + g.legacy_communes().len();
    let store = fresh(&url).await;
    // This benchmark empties the unit tables: never let it touch an installation.
    if store.get_meta("installation.province").await.unwrap().is_some() {
        eprintln!("refusing: {url} holds an ansinh installation or demo; give an empty database");
        std::process::exit(2);
    }
    let mut set_based = Vec::new();
    let mut row_loop = Vec::new();
    for _ in 0..rounds {
        clear(&store).await;
        let t = Instant::now();
        store.load_reference_data(&g, true).await.unwrap();
        set_based.push(t.elapsed());
        clear(&store).await;
        let t = Instant::now();
        per_row(&store, &g).await;
        row_loop.push(t.elapsed());
    }
    let (a, b) = (median(set_based), median(row_loop));
    println!("reference data load on {}: {rows} rows, median of {rounds} rounds", store.backend().name());
    println!(
        "  ansinh set-based (multi-row upsert / COPY + upsert): {:>8.1} ms  {:>9.0} rows/s",
        a.as_secs_f64() * 1e3,
        rows as f64 / a.as_secs_f64()
    );
    println!(
        "  per-row INSERT, autocommit (ORM create() loop):     {:>8.1} ms  {:>9.0} rows/s",
        b.as_secs_f64() * 1e3,
        rows as f64 / b.as_secs_f64()
    );
    println!("  ratio: set-based is {:.1}x faster", b.as_secs_f64() / a.as_secs_f64());
    store.close().await;
}

async fn audit(url: &str, entries: usize, concurrency: usize) {
    let url = DatabaseUrl::parse(url).unwrap();
    let store = fresh(&url).await;
    if store.get_meta("installation.province").await.unwrap().is_some() {
        eprintln!("refusing: {url} holds an ansinh installation or demo; give an empty database");
        std::process::exit(2);
    }
    let (before, _) = store.audit_head().await.unwrap();
    let t = Instant::now();
    let per_task = entries / concurrency;
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let e = store::AuditEntry {
                    actor: format!("bench{w}"),
                    action: "user.update".into(),
                    entity_type: "user".into(),
                    entity_id: Some(i.to_string()),
                    before: Some(format!("{{\"full_name\":\"Nguyễn Văn {i}\"}}")),
                    after: Some(format!("{{\"full_name\":\"Nguyễn Văn {i} (sửa)\"}}")),
                    ip: Some("10.0.0.1".into()),
                    request_id: Some(format!("r{w}-{i}")),
                    ..Default::default()
                };
                s.audit_append(&e).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let append = t.elapsed();
    let n = per_task * concurrency;
    let t = Instant::now();
    let outcome = store.audit_verify().await.unwrap();
    let verify = t.elapsed();
    let total = match outcome {
        store::VerifyOutcome::Intact { entries, .. } => entries,
        other => panic!("chain broken in benchmark: {other:?}"),
    };
    assert_eq!(total as usize, before as usize + n);
    println!("audit trail on {} ({concurrency} concurrent writers)", store.backend().name());
    println!(
        "  append {n} entries, one transaction each: {:>8.0} ms  {:>8.0} entries/s",
        append.as_secs_f64() * 1e3,
        n as f64 / append.as_secs_f64()
    );
    println!(
        "  verify the whole chain ({total} entries):   {:>8.0} ms  {:>8.0} entries/s",
        verify.as_secs_f64() * 1e3,
        total as f64 / verify.as_secs_f64()
    );
    store.close().await;
}

async fn search(url: &str, queries: usize) {
    use store::registry::{PersonQuery, PersonSort};
    let url = DatabaseUrl::parse(url).unwrap();
    let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
    let n = store.person_count().await.unwrap();
    assert!(n > 0, "the registry is empty: run ansinh demo --no-serve --persons N first");
    // sample real names and communes, then type them the ways officers do
    let sample: Vec<(String, String)> = match &store {
        Store::Sqlite(p) => sqlx::query_as("SELECT full_name, commune_code FROM persons WHERE id % 997 = 0 LIMIT 5000")
            .fetch_all(p)
            .await
            .unwrap(),
        Store::Postgres(p) => {
            sqlx::query_as("SELECT full_name, commune_code FROM persons WHERE id % 997 = 0 LIMIT 5000")
                .fetch_all(p)
                .await
                .unwrap()
        }
    };
    let mut rng = Lcg(7);
    let mut kinds: Vec<(&str, Vec<Duration>)> = vec![
        ("full name, no diacritics", vec![]),
        ("given name only", vec![]),
        ("family + middle (prefix)", vec![]),
        ("words in any order", vec![]),
        ("full name, within one commune", vec![]),
    ];
    let mut hits = 0usize;
    for i in 0..queries {
        let (name, commune) = &sample[(rng.next() as usize) % sample.len()];
        let key = domain::text::search_key(name);
        let words: Vec<&str> = key.split(' ').collect();
        let kind = i % kinds.len();
        let (q, communes) = match kind {
            0 => (key.clone(), None),
            1 => (words.last().unwrap().to_string(), None),
            2 => (words[..words.len().saturating_sub(1).max(1)].join(" "), None),
            3 => (format!("{} {}", words.last().unwrap(), words[0]), None),
            _ => (key.clone(), Some(vec![commune.clone()])),
        };
        let query = PersonQuery { q: Some(q), communes, sort: PersonSort::Name, ..Default::default() };
        let t = Instant::now();
        let r = store.search_persons(&query, store::Page::new(Some(1), Some(50))).await.unwrap();
        kinds[kind].1.push(t.elapsed());
        hits += usize::from(r.total > 0);
    }
    println!("registry name search on {} with {n} persons, {queries} queries, page of 50", store.backend().name());
    let mut all: Vec<Duration> = Vec::new();
    for (label, mut lat) in kinds {
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
        println!("  {label:<32} p50 {:>7.2} ms  p95 {:>7.2} ms  max {:>7.2} ms", p(0.5), p(0.95), p(1.0));
        all.extend(lat);
    }
    all.sort();
    let p = |q: f64| all[((all.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
    println!(
        "  {:<32} p50 {:>7.2} ms  p95 {:>7.2} ms  ({hits} of {queries} found someone)",
        "all queries",
        p(0.5),
        p(0.95)
    );
    store.close().await;
}

/// Logs in through the API and returns (cookie, csrf).
fn login(base: &str, user_pass: &str) -> String {
    let (u, p) = user_pass.split_once(':').expect("--login USER:PASSWORD");
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let res = agent
        .post(&format!("{}/api/v1/session", base.trim_end_matches('/')))
        .header("content-type", "application/json")
        .send(format!("{{\"username\":\"{u}\",\"password\":\"{p}\"}}"))
        .expect("login");
    let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("session cookie");
    cookie.split(';').next().unwrap_or("").to_string()
}

fn http(base: &str, paths: &str, requests: usize, concurrency: usize, login_as: Option<&str>) {
    let cookie = Arc::new(login_as.map(|l| login(base, l)));
    for path in paths.split(',') {
        let url = Arc::new(format!("{}{}", base.trim_end_matches('/'), path));
        let t = Instant::now();
        let handles: Vec<_> = (0..concurrency)
            .map(|_| {
                let url = url.clone();
                let cookie = cookie.clone();
                std::thread::spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
                    let mut lat = Vec::with_capacity(requests);
                    for _ in 0..requests {
                        let s = Instant::now();
                        let mut req = agent.get(url.as_str());
                        if let Some(c) = cookie.as_ref() {
                            req = req.header("cookie", c);
                        }
                        let mut r = req.call().expect("request");
                        let body = r.body_mut().read_to_vec().expect("body");
                        black_box(body);
                        lat.push(s.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut lat: Vec<Duration> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let total = t.elapsed();
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
        println!(
            "GET {path:<36} {:>6} req  {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
            lat.len(),
            lat.len() as f64 / total.as_secs_f64(),
            p(0.5),
            p(0.99)
        );
    }
}

fn main() {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Primitives { n } => primitives(n),
        Cmd::Reference { database_url, rounds } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(reference(&database_url, rounds));
        }
        Cmd::Search { database_url, queries } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(search(&database_url, queries));
        }
        Cmd::Audit { database_url, entries, concurrency } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
            rt.block_on(audit(&database_url, entries, concurrency));
        }
        Cmd::Entitlements { facts, policies, from, to, threads } => {
            entitlements(&facts, &policies, &from, &to, threads)
        }
        Cmd::Http { login, base, paths, requests, concurrency } => {
            http(&base, &paths, requests, concurrency, login.as_deref())
        }
        Cmd::Plans { base, plan, rounds, warm } => plans(&base, plan, rounds, warm),
        Cmd::Portal { base, persons } => portal(&base, persons),
    }
}

fn plans(base: &str, plan: i64, rounds: usize, warm: usize) {
    let base = base.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let session = |u: &str| -> (String, String) {
        let mut res = agent
            .post(&format!("{base}/api/v1/session"))
            .header("content-type", "application/json")
            .send(format!("{{\"username\":\"{u}\",\"password\":\"ansinh-demo-2026\"}}"))
            .expect("login");
        let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("cookie");
        let cookie = cookie.split(';').next().unwrap_or("").to_string();
        let v: serde_json::Value = serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
        (cookie, v["csrf_token"].as_str().unwrap().to_string())
    };
    let (leader, _) = session("lanhdao");
    let owner = session("sonoivu");
    let commune = session("canboxa");
    let get = |cookie: &str, path: &str| -> (Duration, serde_json::Value) {
        let s = Instant::now();
        let mut r = agent.get(&format!("{base}{path}")).header("cookie", cookie).call().expect("GET");
        assert_eq!(r.status().as_u16(), 200, "{path}");
        let body = r.body_mut().with_config().limit(50 << 20).read_to_string().unwrap();
        (s.elapsed(), serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
    };
    let post = |who: &(String, String), path: &str, body: String| -> serde_json::Value {
        let mut r = agent
            .post(&format!("{base}{path}"))
            .header("cookie", &who.0)
            .header("x-csrf-token", &who.1)
            .header("content-type", "application/json")
            .send(body)
            .expect("POST");
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap();
        assert!(status < 300, "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
    };
    let dashboard = format!("/api/v1/plans/{plan}/dashboard");
    // the first dashboard after the server started: every computed figure is computed
    let (first, _) = get(&leader, &dashboard);
    println!("{:<48} p50 {:>8.1} ms", "first dashboard after start (all computed)", first.as_secs_f64() * 1e3);
    let persons = get(&commune.0, "/api/v1/persons?commune=25210&per_page=200").1;
    let candidates: Vec<i64> = persons["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["status"] == "living"
                && p["categories"].as_array().unwrap().iter().all(|c| !c.as_str().unwrap_or("").starts_with('k'))
        })
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    let (mut unrelated, mut registry, mut hot, mut drill) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..rounds {
        // a change that is not the indicators' data (audited: an API token created)
        post(&owner, "/api/v1/tokens", format!("{{\"name\":\"bench {i}\",\"scopes\":[\"plans.read\"]}}"));
        unrelated.push(get(&leader, &dashboard).0);
        // a registry change: a new beneficiary proposed and approved
        let pid = candidates[i % candidates.len()];
        let body = serde_json::json!({"action": "add_assistance", "group_code": "k6", "disability_level": "severe",
            "decision_no": format!("{i}/QĐ"), "decision_date": "01/01/2026", "valid_from": "01/01/2026", "reason": "benchmark"});
        let change =
            post(&commune, &format!("/api/v1/persons/{pid}/records"), body.to_string())["id"].as_i64().unwrap();
        post(&owner, &format!("/api/v1/changes/{change}/approve"), "{}".into());
        registry.push(get(&leader, &dashboard).0);
        for _ in 0..warm {
            hot.push(get(&leader, &dashboard).0);
        }
        drill.push(get(&leader, &format!("/api/v1/plans/{plan}/indicators/BTXH_DOI_TUONG")).0);
    }
    let report = |name: &str, v: &mut Vec<Duration>| {
        v.sort();
        let p = |q: f64| v[((v.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
        println!("{name:<48} p50 {:>8.1} ms  p95 {:>8.1} ms  ({} requests)", p(0.5), p(0.95), v.len());
        p(0.5)
    };
    report("dashboard after an unrelated change", &mut unrelated);
    let r = report("dashboard after a registry change", &mut registry);
    let h = report("dashboard, nothing changed", &mut hot);
    report("indicator by commune (BTXH_DOI_TUONG)", &mut drill);
    println!(
        "first / unchanged p50 = {:.0}x; registry change / unchanged = {:.0}x",
        first.as_secs_f64() * 1e3 / h,
        r / h
    );
}

fn portal(base: &str, n: usize) {
    let base = base.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut res = agent
        .post(&format!("{base}/api/v1/session"))
        .header("content-type", "application/json")
        .send("{\"username\":\"canboxa\",\"password\":\"ansinh-demo-2026\"}")
        .expect("login");
    let cookie = res.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("cookie");
    let cookie = cookie.split(';').next().unwrap_or("").to_string();
    let v: serde_json::Value = serde_json::from_str(&res.body_mut().read_to_string().unwrap()).unwrap();
    let csrf = v["csrf_token"].as_str().unwrap().to_string();
    let call = |method: &str,
                path: &str,
                headers: &[(&str, &str)],
                body: Option<String>|
     -> (Duration, u16, serde_json::Value) {
        let mut b = ureq::http::Request::builder().method(method).uri(format!("{base}{path}"));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let s = Instant::now();
        let mut r = match body {
            Some(body) => agent.run(b.header("content-type", "application/json").body(body).unwrap()),
            None => agent.run(b.body(()).unwrap()),
        }
        .expect("HTTP");
        let text = r.body_mut().with_config().limit(50 << 20).read_to_string().unwrap_or_default();
        (s.elapsed(), r.status().as_u16(), serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    };
    let officer = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    // living persons of the officer's communes with a full birth date
    let mut people: Vec<(i64, String, String)> = Vec::new();
    for commune in ["25210", "25195"] {
        let mut page = 1;
        while people.len() < n && page <= 20 {
            let (_, _, list) =
                call("GET", &format!("/api/v1/persons?commune={commune}&per_page=200&page={page}"), &officer, None);
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                break;
            }
            for p in items {
                let birth = p["birth_date"].as_str().unwrap_or("").to_string();
                if p["status"] == "living" && birth.len() == 10 && people.len() < n {
                    let birth = if birth.contains('-') {
                        format!("{}/{}/{}", &birth[8..10], &birth[5..7], &birth[..4])
                    } else {
                        birth
                    };
                    people.push((p["id"].as_i64().unwrap(), p["personal_id"].as_str().unwrap().to_string(), birth));
                }
            }
            page += 1;
        }
    }
    assert!(!people.is_empty(), "no persons found");
    let (mut issue, mut ident, mut me, mut dossier, mut ent) = (vec![], vec![], vec![], vec![], vec![]);
    let now = domain::Month::of(
        chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
            + chrono::Duration::seconds(
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64 + 7 * 3600,
            ),
    );
    let month = |back: i64| {
        let m = now.add_months(back).unwrap();
        format!("{:04}-{:02}", m.year(), m.month())
    };
    let (from, to) = (month(-11), month(0));
    for (id, pid, birth) in &people {
        let (t, st, code) = call("POST", &format!("/api/v1/persons/{id}/lookup-code"), &officer, Some(String::new()));
        assert_eq!(st, 201, "{code}");
        issue.push(t);
        let body = serde_json::json!({"personal_id": pid, "birth_date": birth, "code": code["code"]}).to_string();
        let (t, st, tok) = call("POST", "/api/v1/portal/lookup", &[], Some(body));
        assert_eq!(st, 201, "{tok}");
        ident.push(t);
        let token = tok["token"].as_str().unwrap().to_string();
        let (t, st, page) = call("GET", "/api/v1/portal/me", &[("x-citizen-token", token.as_str())], None);
        assert_eq!(st, 200, "{page}");
        me.push(t);
        let (t, st, _) = call("GET", &format!("/api/v1/persons/{id}"), &officer, None);
        assert_eq!(st, 200);
        dossier.push(t);
        let (t, st, _) = call("GET", &format!("/api/v1/persons/{id}/entitlements?from={from}&to={to}"), &officer, None);
        assert_eq!(st, 200);
        ent.push(t);
    }
    let report = |name: &str, v: &mut Vec<Duration>| {
        v.sort();
        let p = |q: f64| v[((v.len() as f64 - 1.0) * q) as usize].as_secs_f64() * 1e3;
        println!("{name:<52} p50 {:>8.1} ms  p95 {:>8.1} ms  ({} requests)", p(0.5), p(0.95), v.len());
        p(0.5)
    };
    report("officer issues a printed lookup code", &mut issue);
    report("citizen identifies (ID + birth date + code)", &mut ident);
    let c = report("citizen's page (12 months + payments)", &mut me);
    report("officer's dossier (same persons)", &mut dossier);
    let e = report("officer's entitlements, 12 months (same persons)", &mut ent);
    println!("citizen's page / officer's entitlements p50 = {:.2}x", c / e);
}

fn entitlements(facts: &str, policies: &str, from: &str, to: &str, threads: usize) {
    let dir = std::path::PathBuf::from(policies);
    let packs = rules::Packs::load(&|f| std::fs::read_to_string(dir.join(f)).ok()).unwrap();
    let engine = rules::Engine::new(&packs).unwrap();
    let (from, to): (domain::Month, domain::Month) = (from.parse().unwrap(), to.parse().unwrap());
    let t = Instant::now();
    let text = std::fs::read_to_string(facts).unwrap();
    let people: Vec<rules::PersonFacts> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    drop(text);
    let parse = t.elapsed();
    let t = Instant::now();
    let checked: Vec<rules::facts::Checked> = people.iter().map(|p| p.check().unwrap()).collect();
    drop(people);
    let check = t.elapsed();
    let months: Vec<domain::Month> = from.through(to).collect();
    // one reused line buffer per thread; totals per month, in đồng
    let run = |chunk: &[rules::facts::Checked]| -> (Vec<i64>, usize) {
        let mut totals = vec![0i64; months.len()];
        let mut out = Vec::with_capacity(64);
        let mut lines = 0usize;
        for c in chunk {
            out.clear();
            engine.person(c, from, to, &mut out, None).unwrap();
            lines += out.len();
            for l in &out {
                let i = (l.month.index() - from.index()) as usize;
                totals[i] += l.amount.dong();
            }
        }
        (totals, lines)
    };
    let t = Instant::now();
    let (single, lines) = run(&checked);
    let one = t.elapsed();
    let t = Instant::now();
    let per = checked.len().div_ceil(threads.max(1));
    let parts: Vec<(Vec<i64>, usize)> = std::thread::scope(|s| {
        let hs: Vec<_> = checked.chunks(per.max(1)).map(|c| s.spawn(move || run(c))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let many = t.elapsed();
    let mut multi = vec![0i64; months.len()];
    for (p, _) in &parts {
        for (a, b) in multi.iter_mut().zip(p) {
            *a += b;
        }
    }
    assert_eq!(single, multi, "the same totals on one thread and on {threads}");
    println!("persons {}  months {}  lines {lines}", checked.len(), months.len());
    println!("parse JSON {:.2} s  check facts {:.2} s", parse.as_secs_f64(), check.as_secs_f64());
    println!(
        "engine, 1 thread: {:.2} s ({:.0} person-months/s); {threads} threads: {:.2} s",
        one.as_secs_f64(),
        (checked.len() * months.len()) as f64 / one.as_secs_f64(),
        many.as_secs_f64()
    );
    let total: i64 = single.iter().sum();
    for (m, t) in months.iter().zip(&single) {
        println!("total {m}: {t}");
    }
    println!("total: {total}");
}
