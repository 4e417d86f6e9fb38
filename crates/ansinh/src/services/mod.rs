//! Services: the application's operations, shared by the HTML pages, the JSON API and
//! the CLI. Handlers parse input, call a service, and render its result; authorization
//! is enforced here (through `authz::Ctx`), not in handlers.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod calendar;
pub mod complaints;
pub mod days;
pub mod dedup;
pub mod demo_data;
pub mod demo_plan;
pub mod entitlements;
pub mod import;
pub mod integrity;
pub mod jobs;
pub mod lookup;
pub mod oidc;
pub mod payments;
pub mod plan_file;
pub mod plans;
pub mod portal;
pub mod registry;
pub mod setup;
pub mod units;
pub mod uploads;
pub mod users;

use std::sync::Arc;
use std::time::Instant;

use domain::Gazetteer;
use store::Store;

use crate::http::metrics::Metrics;

/// Runs seconds of CPU work on every core from async code: a multi-threaded runtime is told
/// to move its other tasks off this worker meanwhile (a current-thread runtime, as in tests,
/// just runs it).
pub fn cpu_bound<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Everything a request handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub gazetteer: Arc<Gazetteer>,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
    /// The province this installation serves (Đồng Nai for the demo).
    pub province_code: String,
    pub policy: Arc<authz::Policy>,
    pub throttle: Arc<auth::Throttle>,
    /// Set the `Secure` flag on cookies (turn off only for plain-HTTP test setups).
    pub cookie_secure: bool,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Import error reports kept for download (one hour, per user).
    pub reports: Arc<ReportCache>,
    /// Computed plan indicators with the data version they were computed at.
    pub computed: Arc<plans::ComputedCache>,
    /// Imports running (or recently finished) in the background for the web page.
    pub import_jobs: Arc<jobs::ImportJobs>,
    /// The policy packs, checked at start.
    pub packs: Arc<rules::Packs>,
    /// Their text and version, stored with every payment cycle.
    pub pack_source: Arc<entitlements::PackSource>,
    /// See `config::Config::metrics_token`.
    pub metrics_token: Option<Arc<str>>,
    /// See `config::Config::import_duplicate_share`.
    pub import_duplicate_share: f64,
    /// Where one-time lookup codes go by SMS.
    pub sms: Arc<lookup::SmsSender>,
    /// The portal's OpenID Connect login (national e-ID), when configured.
    pub oidc: Option<Arc<oidc::Provider>>,
}

/// Error reports of recent imports, kept in memory for an hour for their download link.
#[derive(Default)]
pub struct ReportCache {
    inner: std::sync::Mutex<std::collections::HashMap<String, CachedReport>>,
}

/// When it was made, for whom (user id), and the errors.
type CachedReport = (Instant, i64, Vec<import::RowError>);

impl ReportCache {
    const KEEP: std::time::Duration = std::time::Duration::from_secs(3600);

    pub fn put(&self, id: &str, user: i64, errors: Vec<import::RowError>) {
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, (t, _, _)| t.elapsed() < Self::KEEP);
        m.insert(id.to_string(), (Instant::now(), user, errors));
    }

    /// Only the user who ran the import gets its report.
    pub fn get(&self, id: &str, user: i64) -> Option<Vec<import::RowError>> {
        let m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        m.get(id).filter(|(t, u, _)| *u == user && t.elapsed() < Self::KEEP).map(|(_, _, e)| e.clone())
    }
}
