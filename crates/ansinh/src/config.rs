//! Configuration: defaults < TOML file < environment (`ANSINH_*`) < command-line flags.
//!
//! Every effective value remembers where it came from, so `ansinh config check` can
//! say so. Secrets (the database password) are redacted whenever a value is shown.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./ansinh.db";
pub const DEFAULT_DEMO_DATABASE_URL: &str = "sqlite://./ansinh-demo.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_CONFIG_FILE: &str = "ansinh.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("config file {} does not exist (given with --config or ANSINH_CONFIG)", path.display())]
    FileMissing { path: PathBuf },
    #[error("{source_name}: invalid value '{value}' for {key}: {reason}")]
    Value { source_name: String, key: &'static str, value: String, reason: String },
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(p) => write!(f, "file {}", p.display()),
            Source::Env(v) => write!(f, "environment {v}"),
            Source::Flag(n) => write!(f, "flag {n}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

impl LogFormat {
    fn parse(s: &str) -> Result<LogFormat, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "human" | "text" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected 'human' or 'json'".into()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Setting<T> {
    fn new(value: T) -> Self {
        Setting { value, source: Source::Default }
    }
    fn set(&mut self, value: T, source: Source) {
        self.value = value;
        self.source = source;
    }
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Setting<String>,
    pub bind: Setting<SocketAddr>,
    pub log_format: Setting<LogFormat>,
    pub log_level: Setting<String>,
    pub sqlite_busy_timeout_ms: Setting<u64>,
    pub pg_max_connections: Setting<u32>,
    pub pg_connect_timeout_s: Setting<u64>,
    pub cookie_secure: Setting<bool>,
    pub trust_forwarded_for: Setting<bool>,
    /// A secret a scraper sends as `Authorization: Bearer …` for `/metrics`; without one,
    /// `/metrics` answers only clients on this machine.
    pub metrics_token: Setting<Option<String>>,
    /// An import is stopped for review when more than this share of its rows duplicate
    /// persons already registered (record linkage).
    pub import_duplicate_share: Setting<f64>,
    /// Where the portal's one-time codes go by SMS (`none`, `log`, `file:PATH`, `command:PATH`).
    pub portal_sms: Setting<String>,
    /// The citizen portal's OpenID Connect login (national e-ID), when configured (file only).
    pub portal_oidc: Setting<Option<crate::services::oidc::Settings>>,
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
}

/// Values given on the command line (all optional).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub database_url: Option<String>,
    pub bind: Option<String>,
    pub port: Option<u16>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    server: Option<FileServer>,
    log: Option<FileLog>,
    sqlite: Option<FileSqlite>,
    postgres: Option<FilePostgres>,
    import: Option<FileImport>,
    portal: Option<FilePortal>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePortal {
    sms: Option<String>,
    oidc: Option<FileOidc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOidc {
    issuer: String,
    client_id: String,
    authorize_url: String,
    redirect_url: String,
    jwks_file: String,
    #[serde(default)]
    personal_id_claim: Option<String>,
    #[serde(default)]
    label: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileImport {
    duplicate_share: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    bind: Option<String>,
    port: Option<u16>,
    cookie_secure: Option<bool>,
    trust_forwarded_for: Option<bool>,
    metrics_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    format: Option<String>,
    level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSqlite {
    busy_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePostgres {
    max_connections: Option<u32>,
    connect_timeout_s: Option<u64>,
}

/// Environment variable names, one per setting.
pub const ENV_CONFIG: &str = "ANSINH_CONFIG";
pub const ENV_DATABASE_URL: &str = "ANSINH_DATABASE_URL";
pub const ENV_BIND: &str = "ANSINH_BIND";
pub const ENV_PORT: &str = "ANSINH_PORT";
pub const ENV_LOG_FORMAT: &str = "ANSINH_LOG_FORMAT";
pub const ENV_LOG_LEVEL: &str = "ANSINH_LOG_LEVEL";
pub const ENV_SQLITE_BUSY_TIMEOUT_MS: &str = "ANSINH_SQLITE_BUSY_TIMEOUT_MS";
pub const ENV_PG_MAX_CONNECTIONS: &str = "ANSINH_PG_MAX_CONNECTIONS";
pub const ENV_PG_CONNECT_TIMEOUT_S: &str = "ANSINH_PG_CONNECT_TIMEOUT_S";
pub const ENV_COOKIE_SECURE: &str = "ANSINH_COOKIE_SECURE";
pub const ENV_METRICS_TOKEN: &str = "ANSINH_METRICS_TOKEN";
pub const ENV_IMPORT_DUPLICATE_SHARE: &str = "ANSINH_IMPORT_DUPLICATE_SHARE";
pub const ENV_PORTAL_SMS: &str = "ANSINH_PORTAL_SMS";

fn parse_sms(source: &Source, v: &str) -> Result<String, ConfigError> {
    crate::services::lookup::SmsSender::parse(v).map_err(|r| value_err(source, "portal.sms", v, &r))?;
    Ok(v.trim().to_string())
}

/// A share between 0 (exclusive) and 1.
fn parse_share(source: &Source, key: &'static str, v: &str) -> Result<f64, ConfigError> {
    match v.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        _ => Err(value_err(source, key, v, "expected a share above 0 and at most 1, e.g. 0.5")),
    }
}

fn value_err(source: &Source, key: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    let shown = if key == "database_url" { store::redact(value) } else { value.to_string() };
    ConfigError::Value { source_name: source.to_string(), key, value: shown, reason: reason.into() }
}

/// `127.0.0.1:8080`, `0.0.0.0:80`, `[::1]:8080`, or a bare address (port 8080).
/// A bind address: `IP:PORT`, or a bare IP that keeps the port already configured.
fn parse_bind(s: &str, current_port: u16) -> Result<SocketAddr, String> {
    let s = s.trim();
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = s.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, current_port));
    }
    if let Some(port) = s.strip_prefix("localhost:") {
        let port: u16 = port.parse().map_err(|_| "port must be a number 0–65535".to_string())?;
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    Err("expected IP:PORT such as 127.0.0.1:8080 or 0.0.0.0:8080".into())
}

fn parse_num<T>(source: &Source, key: &'static str, s: &str, min: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let v: T = s.trim().parse().map_err(|_| value_err(source, key, s, "expected a whole number"))?;
    if v < min {
        return Err(value_err(source, key, s, format!("must be at least {min}")));
    }
    Ok(v)
}

fn check_level(source: &Source, s: &str) -> Result<String, ConfigError> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    // A bare word must be a level: EnvFilter would read "loud" as a target name and
    // silently log nothing.
    for directive in s.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if !directive.contains('=') && !LEVELS.contains(&directive.to_ascii_lowercase().as_str()) {
            return Err(value_err(
                source,
                "log.level",
                s,
                format!("'{directive}' is not a level (use error, warn, info, debug or trace)"),
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(s.trim())
        .map(|_| s.trim().to_string())
        .map_err(|e| value_err(source, "log.level", s, format!("{e} (use error, warn, info, debug or trace)")))
}

fn check_url(source: &Source, s: &str) -> Result<String, ConfigError> {
    store::DatabaseUrl::parse(s).map(|_| s.trim().to_string()).map_err(|e| match e {
        store::StoreError::InvalidUrl { reason, .. } => value_err(source, "database_url", s, reason),
        other => value_err(source, "database_url", s, other.to_string()),
    })
}

impl Config {
    pub fn defaults() -> Config {
        Config {
            database_url: Setting::new(DEFAULT_DATABASE_URL.to_string()),
            bind: Setting::new(DEFAULT_BIND.parse().unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080)))),
            log_format: Setting::new(LogFormat::Human),
            log_level: Setting::new("info".to_string()),
            sqlite_busy_timeout_ms: Setting::new(5000),
            pg_max_connections: Setting::new(10),
            pg_connect_timeout_s: Setting::new(5),
            cookie_secure: Setting::new(true),
            trust_forwarded_for: Setting::new(false),
            metrics_token: Setting::new(None),
            import_duplicate_share: Setting::new(0.5),
            portal_sms: Setting::new("none".into()),
            portal_oidc: Setting::new(None),
            file: None,
        }
    }

    /// Builds the configuration from all layers. `env` is injected for testability.
    pub fn load(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut c = Config::defaults();
        // 1. file: --config, else ANSINH_CONFIG, else ./ansinh.toml when present
        let explicit = flags.config.clone().or_else(|| env(ENV_CONFIG).map(PathBuf::from));
        let path = match explicit {
            Some(p) if !p.exists() => return Err(ConfigError::FileMissing { path: p }),
            Some(p) => Some(p),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        if let Some(path) = path {
            c.apply_file(&path)?;
            c.file = Some(path);
        }
        // 2. environment
        let e = |name: &'static str| env(name).filter(|v| !v.trim().is_empty()).map(|v| (Source::Env(name), v));
        if let Some((s, v)) = e(ENV_DATABASE_URL) {
            let v = check_url(&s, &v)?;
            c.database_url.set(v, s);
        }
        if let Some((s, v)) = e(ENV_BIND) {
            let a = parse_bind(&v, c.bind.value.port()).map_err(|r| value_err(&s, "server.bind", &v, r))?;
            c.bind.set(a, s);
        }
        if let Some((s, v)) = e(ENV_PORT) {
            let p: u16 = parse_num(&s, "server.port", &v, 0)?;
            c.bind.set(SocketAddr::new(c.bind.value.ip(), p), s);
        }
        if let Some((s, v)) = e(ENV_LOG_FORMAT) {
            let f = LogFormat::parse(&v).map_err(|r| value_err(&s, "log.format", &v, r))?;
            c.log_format.set(f, s);
        }
        if let Some((s, v)) = e(ENV_LOG_LEVEL) {
            let l = check_level(&s, &v)?;
            c.log_level.set(l, s);
        }
        if let Some((s, v)) = e(ENV_SQLITE_BUSY_TIMEOUT_MS) {
            let n = parse_num(&s, "sqlite.busy_timeout_ms", &v, 0)?;
            c.sqlite_busy_timeout_ms.set(n, s);
        }
        if let Some((s, v)) = e(ENV_PG_MAX_CONNECTIONS) {
            let n = parse_num(&s, "postgres.max_connections", &v, 1)?;
            c.pg_max_connections.set(n, s);
        }
        if let Some((s, v)) = e(ENV_PG_CONNECT_TIMEOUT_S) {
            let n = parse_num(&s, "postgres.connect_timeout_s", &v, 1)?;
            c.pg_connect_timeout_s.set(n, s);
        }
        if let Some((s, v)) = e(ENV_IMPORT_DUPLICATE_SHARE) {
            let x = parse_share(&s, "import.duplicate_share", &v)?;
            c.import_duplicate_share.set(x, s);
        }
        if let Some((s, v)) = e(ENV_PORTAL_SMS) {
            let x = parse_sms(&s, &v)?;
            c.portal_sms.set(x, s);
        }
        if let Some((s, v)) = e(ENV_METRICS_TOKEN) {
            c.metrics_token.set(Some(v).filter(|t| !t.trim().is_empty()), s);
        }
        if let Some((s, v)) = e(ENV_COOKIE_SECURE) {
            let b = match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(value_err(&s, "server.cookie_secure", &v, "expected true or false")),
            };
            c.cookie_secure.set(b, s);
        }
        // 3. flags
        if let Some(v) = &flags.database_url {
            let s = Source::Flag("--database-url");
            let v = check_url(&s, v)?;
            c.database_url.set(v, s);
        }
        if let Some(v) = &flags.bind {
            let s = Source::Flag("--bind");
            let a = parse_bind(v, c.bind.value.port()).map_err(|r| value_err(&s, "server.bind", v, r))?;
            c.bind.set(a, s);
        }
        if let Some(p) = flags.port {
            c.bind.set(SocketAddr::new(c.bind.value.ip(), p), Source::Flag("--port"));
        }
        if let Some(v) = &flags.log_format {
            let s = Source::Flag("--log-format");
            let f = LogFormat::parse(v).map_err(|r| value_err(&s, "log.format", v, r))?;
            c.log_format.set(f, s);
        }
        if let Some(v) = &flags.log_level {
            let s = Source::Flag("--log-level");
            let l = check_level(&s, v)?;
            c.log_level.set(l, s);
        }
        Ok(c)
    }

    fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::File { path: path.to_path_buf(), reason: e.to_string() })?;
        // The error names line and column but never quotes the line: it may hold a password.
        let f: FileConfig = toml::from_str(&text).map_err(|e| {
            let at = e.span().map(|sp| {
                let before = &text[..sp.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {col}: ")
            });
            ConfigError::File { path: path.to_path_buf(), reason: format!("{}{}", at.unwrap_or_default(), e.message()) }
        })?;
        let s = || Source::File(path.to_path_buf());
        if let Some(v) = f.database_url {
            let v = check_url(&s(), &v)?;
            self.database_url.set(v, s());
        }
        if let Some(server) = f.server {
            if let Some(b) = server.bind {
                let a = parse_bind(&b, self.bind.value.port()).map_err(|r| value_err(&s(), "server.bind", &b, r))?;
                self.bind.set(a, s());
            }
            if let Some(p) = server.port {
                self.bind.set(SocketAddr::new(self.bind.value.ip(), p), s());
            }
            if let Some(b) = server.cookie_secure {
                self.cookie_secure.set(b, s());
            }
            if let Some(b) = server.trust_forwarded_for {
                self.trust_forwarded_for.set(b, s());
            }
            if let Some(t) = server.metrics_token {
                if t.trim().len() < 16 {
                    return Err(value_err(&s(), "server.metrics_token", "***", "must be at least 16 characters"));
                }
                self.metrics_token.set(Some(t), s());
            }
        }
        if let Some(log) = f.log {
            if let Some(v) = log.format {
                let fmt = LogFormat::parse(&v).map_err(|r| value_err(&s(), "log.format", &v, r))?;
                self.log_format.set(fmt, s());
            }
            if let Some(v) = log.level {
                let l = check_level(&s(), &v)?;
                self.log_level.set(l, s());
            }
        }
        if let Some(sq) = f.sqlite {
            if let Some(v) = sq.busy_timeout_ms {
                self.sqlite_busy_timeout_ms.set(v, s());
            }
        }
        if let Some(pg) = f.postgres {
            if let Some(v) = pg.max_connections {
                if v == 0 {
                    return Err(value_err(&s(), "postgres.max_connections", "0", "must be at least 1"));
                }
                self.pg_max_connections.set(v, s());
            }
            if let Some(v) = pg.connect_timeout_s {
                if v == 0 {
                    return Err(value_err(&s(), "postgres.connect_timeout_s", "0", "must be at least 1"));
                }
                self.pg_connect_timeout_s.set(v, s());
            }
        }
        if let Some(v) = f.import.and_then(|i| i.duplicate_share) {
            let x = parse_share(&s(), "import.duplicate_share", &v.to_string())?;
            self.import_duplicate_share.set(x, s());
        }
        if let Some(p) = f.portal {
            if let Some(v) = p.sms {
                let x = parse_sms(&s(), &v)?;
                self.portal_sms.set(x, s());
            }
            if let Some(o) = p.oidc {
                let settings = crate::services::oidc::Settings {
                    issuer: o.issuer,
                    client_id: o.client_id,
                    authorize_url: o.authorize_url,
                    redirect_url: o.redirect_url,
                    jwks_file: o.jwks_file,
                    personal_id_claim: o.personal_id_claim.unwrap_or_else(|| "sub".into()),
                    label: o.label.unwrap_or_else(|| "Đăng nhập bằng tài khoản định danh điện tử VNeID".into()),
                };
                self.portal_oidc.set(Some(settings), s());
            }
        }
        Ok(())
    }

    pub fn database_url(&self) -> Result<store::DatabaseUrl, store::StoreError> {
        store::DatabaseUrl::parse(&self.database_url.value)
    }

    pub fn store_options(&self) -> store::StoreOptions {
        store::StoreOptions {
            sqlite_busy_timeout: Duration::from_millis(self.sqlite_busy_timeout_ms.value),
            pg_max_connections: self.pg_max_connections.value,
            pg_connect_timeout: Duration::from_secs(self.pg_connect_timeout_s.value),
        }
    }

    /// `key = value  # source` lines, secrets redacted.
    pub fn describe(&self) -> String {
        let rows: Vec<(&str, String, &Source)> = vec![
            ("database_url", store::redact(&self.database_url.value), &self.database_url.source),
            ("server.bind", self.bind.value.to_string(), &self.bind.source),
            ("log.format", format!("{:?}", self.log_format.value).to_lowercase(), &self.log_format.source),
            ("log.level", self.log_level.value.clone(), &self.log_level.source),
            (
                "sqlite.busy_timeout_ms",
                self.sqlite_busy_timeout_ms.value.to_string(),
                &self.sqlite_busy_timeout_ms.source,
            ),
            ("postgres.max_connections", self.pg_max_connections.value.to_string(), &self.pg_max_connections.source),
            (
                "postgres.connect_timeout_s",
                self.pg_connect_timeout_s.value.to_string(),
                &self.pg_connect_timeout_s.source,
            ),
            ("server.cookie_secure", self.cookie_secure.value.to_string(), &self.cookie_secure.source),
            (
                "server.trust_forwarded_for",
                self.trust_forwarded_for.value.to_string(),
                &self.trust_forwarded_for.source,
            ),
            (
                "server.metrics_token",
                if self.metrics_token.value.is_some() { "***" } else { "(none: this machine only)" }.to_string(),
                &self.metrics_token.source,
            ),
            (
                "import.duplicate_share",
                self.import_duplicate_share.value.to_string(),
                &self.import_duplicate_share.source,
            ),
            ("portal.sms", self.portal_sms.value.clone(), &self.portal_sms.source),
            (
                "portal.oidc",
                self.portal_oidc.value.as_ref().map_or_else(|| "(none)".to_string(), |o| o.issuer.clone()),
                &self.portal_oidc.source,
            ),
        ];
        rows.into_iter().map(|(k, v, s)| format!("{k:<28} = {v:<40} # {s}\n")).collect()
    }
}

/// The fully commented example printed by `ansinh config example`.
pub const EXAMPLE: &str = r#"# ansinh configuration file (TOML).
#
# Precedence, lowest to highest: built-in defaults < this file < environment
# variables (ANSINH_*) < command-line flags. The file is read from --config PATH,
# else $ANSINH_CONFIG, else ./ansinh.toml when it exists.
# Check the effective configuration with:  ansinh config check

# Database. sqlite://PATH (embedded; the file is created on first start) or
# postgres://USER:PASSWORD@HOST:PORT/DATABASE for production.
# The password is a secret: ansinh never logs it and shows it as ***.
# Environment: ANSINH_DATABASE_URL      Flag: --database-url
database_url = "sqlite://./ansinh.db"

[server]
# Address to listen on. 127.0.0.1 serves this machine only; use 0.0.0.0 to serve
# the office network (put a TLS reverse proxy in front of it).
# Environment: ANSINH_BIND              Flag: --bind
bind = "127.0.0.1:8080"
# Overrides the port of `bind`. 0 picks a free port (printed at start).
# Environment: ANSINH_PORT              Flag: --port
# port = 8080
# Mark session cookies Secure (sent only over HTTPS, or to localhost). Keep true in
# production behind a TLS proxy; false only for plain-HTTP test networks.
# Environment: ANSINH_COOKIE_SECURE
cookie_secure = true
# Behind a reverse proxy, take the client's address from X-Forwarded-For (for the
# login throttle and the audit trail). Never enable without a proxy that sets it.
trust_forwarded_for = false
# /metrics (Prometheus/OpenMetrics): without a token it answers only clients on this
# machine; with one, any client that sends "Authorization: Bearer <token>". A secret
# (at least 16 characters), shown as ***.
# Environment: ANSINH_METRICS_TOKEN
# metrics_token = "a-long-random-secret"

[log]
# "human" (readable lines) or "json" (one JSON object per line, for log shippers).
# Environment: ANSINH_LOG_FORMAT        Flag: --log-format
format = "human"
# error, warn, info, debug, trace, or per-module filters such as "info,sqlx=warn".
# Environment: ANSINH_LOG_LEVEL         Flag: --log-level
level = "info"

[sqlite]
# How long a writer waits for the database lock before giving up (milliseconds).
# Environment: ANSINH_SQLITE_BUSY_TIMEOUT_MS
busy_timeout_ms = 5000

[postgres]
# Size of the connection pool.
# Environment: ANSINH_PG_MAX_CONNECTIONS
max_connections = 10
# Seconds to wait for a connection before reporting the server unreachable.
# Environment: ANSINH_PG_CONNECT_TIMEOUT_S
connect_timeout_s = 5

[import]
# An import is stopped for review when more than this share of its rows look like persons
# already registered (record linkage); importing anyway needs --allow-duplicates.
# Environment: ANSINH_IMPORT_DUPLICATE_SHARE
duplicate_share = 0.5

[portal]
# Where the citizen portal sends one-time lookup codes by SMS: "none" (only the codes printed
# on entitlement decisions work), "log" (written to the server log: demos), "file:PATH" (one
# line per message, phone TAB text), or "command:PATH" (a program given the phone number as its
# argument and the text on standard input: the client of your SMS gateway; exit 0 = sent).
# `ansinh demo` uses "log" unless this is set.
# Environment: ANSINH_PORTAL_SMS
sms = "none"

# An OpenID Connect login for the national e-ID (VNeID) or another provider, next to the
# lookup codes. The provider posts an ID token back (response_type=id_token,
# response_mode=form_post), verified with its public keys from jwks_file (download the
# provider's JWKS and keep it current); the server makes no outbound connection. Register
# redirect_url with the provider. personal_id_claim names the claim holding the 12-digit
# personal ID number (default "sub").
# [portal.oidc]
# issuer = "https://sso.example.gov.vn"
# client_id = "ansinh-dong-nai"
# authorize_url = "https://sso.example.gov.vn/authorize"
# redirect_url = "https://ansinh.dongnai.gov.vn/portal/eid/callback"
# jwks_file = "/etc/ansinh/eid-jwks.json"
# personal_id_claim = "personal_id"
# label = "Đăng nhập bằng tài khoản định danh điện tử VNeID"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let p = dir.path().join("ansinh.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn example_parses_and_equals_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, EXAMPLE);
        let c = Config::load(&Flags { config: Some(p), ..Default::default() }, &env_of(&[])).unwrap();
        let d = Config::defaults();
        assert_eq!(c.database_url.value, d.database_url.value);
        assert_eq!(c.bind.value, d.bind.value);
        assert_eq!(c.pg_max_connections.value, d.pg_max_connections.value);
    }

    #[test]
    fn precedence_default_file_env_flag() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "[server]\nbind = \"0.0.0.0:9000\"\n[log]\nlevel = \"debug\"\n");
        let flags = Flags { config: Some(p.clone()), ..Default::default() };
        let c = Config::load(&flags, &env_of(&[])).unwrap();
        assert_eq!(c.bind.value.to_string(), "0.0.0.0:9000");
        assert_eq!(c.bind.source, Source::File(p.clone()));
        let c = Config::load(&flags, &env_of(&[(ENV_PORT, "9100")])).unwrap();
        assert_eq!(c.bind.value.to_string(), "0.0.0.0:9100");
        assert_eq!(c.bind.source, Source::Env(ENV_PORT));
        let flags2 = Flags { port: Some(9200), ..flags.clone() };
        let c = Config::load(&flags2, &env_of(&[(ENV_PORT, "9100")])).unwrap();
        assert_eq!(c.bind.value.to_string(), "0.0.0.0:9200");
        assert_eq!(c.log_level.value, "debug");
        assert_eq!(c.sqlite_busy_timeout_ms.source, Source::Default);
    }

    #[test]
    fn invalid_values_name_source_key_and_reason() {
        let err = Config::load(&Flags::default(), &env_of(&[(ENV_PORT, "abc")])).unwrap_err().to_string();
        assert_eq!(err, "environment ANSINH_PORT: invalid value 'abc' for server.port: expected a whole number");
        let err = Config::load(&Flags::default(), &env_of(&[(ENV_DATABASE_URL, "mysql://u:pw@h/db")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsupported scheme 'mysql'") && !err.contains("pw@"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "[server]\nbnid = \"x\"\n");
        let err = Config::load(&Flags { config: Some(p), ..Default::default() }, &env_of(&[])).unwrap_err().to_string();
        assert!(err.contains("unknown field `bnid`"), "{err}");
        let err = Config::load(&Flags { bind: Some("nowhere".into()), ..Default::default() }, &env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("flag --bind: invalid value 'nowhere' for server.bind"), "{err}");
        let err = Config::load(&Flags { config: Some("/no/such.toml".into()), ..Default::default() }, &env_of(&[]))
            .unwrap_err();
        assert!(matches!(err, ConfigError::FileMissing { .. }));
        let err = Config::load(&Flags { log_level: Some("loud".into()), ..Default::default() }, &env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("'loud' is not a level"), "{err}");
        assert!(Config::load(&Flags { log_level: Some("info,sqlx=warn".into()), ..Default::default() }, &env_of(&[]))
            .is_ok());
        let err = Config::load(&Flags::default(), &env_of(&[(ENV_LOG_FORMAT, "xml")])).unwrap_err().to_string();
        assert!(err.contains("expected 'human' or 'json'"), "{err}");
    }

    #[test]
    fn syntax_errors_never_quote_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "database_url = \"postgres://u:s3cret@db/x\n");
        let err = Config::load(&Flags { config: Some(p), ..Default::default() }, &env_of(&[])).unwrap_err().to_string();
        assert!(err.contains("line 1") && !err.contains("s3cret"), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }

    #[test]
    fn bare_bind_address_keeps_configured_port() {
        let c =
            Config::load(&Flags { bind: Some("0.0.0.0".into()), ..Default::default() }, &env_of(&[(ENV_PORT, "9100")]))
                .unwrap();
        assert_eq!(c.bind.value.to_string(), "0.0.0.0:9100");
    }

    #[test]
    fn describe_redacts_secrets() {
        let c = Config::load(&Flags::default(), &env_of(&[(ENV_DATABASE_URL, "postgres://ansinh:s3cret@db/ansinh")]))
            .unwrap();
        let d = c.describe();
        assert!(d.contains("postgres://ansinh:***@db/ansinh") && !d.contains("s3cret"), "{d}");
        assert!(d.contains("# environment ANSINH_DATABASE_URL"));
    }

    #[test]
    fn bind_forms() {
        assert_eq!(parse_bind("0.0.0.0", 9000).unwrap().to_string(), "0.0.0.0:9000");
        assert_eq!(parse_bind("[::1]:81", 9000).unwrap().to_string(), "[::1]:81");
        assert_eq!(parse_bind("localhost:81", 9000).unwrap().to_string(), "127.0.0.1:81");
        assert!(parse_bind("1.2.3.4:99999", 9000).is_err());
    }
}
