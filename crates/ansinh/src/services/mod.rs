//! Services: the application's operations, shared by the HTML pages, the JSON API and
//! the CLI. Handlers parse input, call a service, and render its result; authorization
//! is enforced here (through `authz::Ctx`), not in handlers.

pub mod audit;
pub mod auth;
pub mod authz;
pub mod demo_data;
pub mod registry;
pub mod setup;
pub mod units;
pub mod users;

use std::sync::Arc;
use std::time::Instant;

use domain::Gazetteer;
use store::Store;

use crate::http::metrics::Metrics;

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
}
