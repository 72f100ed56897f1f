//! Names shared by the Lambda, `maintctl` and the infrastructure templates under `deploy/`:
//! environment variables, rule tag keys, the SSM parameter layout and the defaults they share.
//!
//! The templates repeat these strings (CloudFormation and Terraform cannot import Rust), so
//! `tests/deploy.rs` reads the templates and checks that every name here appears there unchanged.

/// Environment variables the Lambda reads once at start.
pub mod env {
    /// SSM parameter prefix holding the live content, e.g. `/maintenance/shop`. Unset: embedded
    /// defaults only, no SSM client is built.
    pub const SSM_PREFIX: &str = "MAINTENANCE_SSM_PREFIX";
    /// Seconds a fetched content snapshot stays fresh (default 30).
    pub const SSM_TTL_SECONDS: &str = "MAINTENANCE_SSM_TTL_SECONDS";
    /// Milliseconds the cold start may spend fetching SSM content (default 200).
    pub const SSM_INIT_BUDGET_MS: &str = "MAINTENANCE_SSM_INIT_BUDGET_MS";
    /// Milliseconds a warm refresh may spend fetching SSM content (default 100).
    pub const SSM_REFRESH_BUDGET_MS: &str = "MAINTENANCE_SSM_REFRESH_BUDGET_MS";
    /// Path of the health route (default `/healthz`).
    pub const HEALTH_PATH: &str = "MAINTENANCE_HEALTH_PATH";
    /// Page served when nothing more specific matches (default `maintenance`).
    pub const DEFAULT_PAGE: &str = "MAINTENANCE_DEFAULT_PAGE";
    /// `name-or-arn=page` pairs separated by `,`: the page each invoking target group gets.
    pub const TARGET_GROUP_PAGES: &str = "MAINTENANCE_TARGET_GROUP_PAGES";
    /// `path=page` pairs separated by `,`: well-known paths and the page they get.
    pub const PATH_PAGES: &str = "MAINTENANCE_PATH_PAGES";
    /// A whole responder configuration as TOML text, replacing the embedded `config/responder.toml`.
    pub const CONFIG: &str = "MAINTENANCE_CONFIG";
}

/// Tag keys `maintctl` writes on the listener rules it manages, and finds them by.
pub mod tags {
    /// `maintenance` on the maintenance rule, `bypass` on a bypass rule.
    pub const ROLE: &str = "maintenance-responder:role";
    /// Value of [`ROLE`] on the maintenance rule.
    pub const ROLE_MAINTENANCE: &str = "maintenance";
    /// Value of [`ROLE`] on a bypass rule.
    pub const ROLE_BYPASS: &str = "bypass";
    /// Environment name, so `maintctl --environment NAME` finds every rule of one environment.
    pub const ENVIRONMENT: &str = "maintenance-responder:environment";
    /// Priority the rule returns to when maintenance is switched off.
    pub const PARKED_PRIORITY: &str = "maintenance-responder:parked-priority";
    /// `on` or `off`, as last set by `maintctl`.
    pub const STATE: &str = "maintenance-responder:state";
    /// Caller identity (STS ARN) that last switched maintenance.
    pub const CHANGED_BY: &str = "maintenance-responder:changed-by";
    /// RFC 3339 time of the last switch.
    pub const CHANGED_AT: &str = "maintenance-responder:changed-at";
    /// Free-text reason given with `--reason`.
    pub const REASON: &str = "maintenance-responder:reason";
}

/// The SSM parameter layout under the prefix (see the README's "Content in SSM").
pub mod parameters {
    /// `{prefix}/{lang}/title`: the maintenance page title in one language.
    pub const TITLE: &str = "title";
    /// `{prefix}/{lang}/message`: the maintenance message in one language.
    pub const MESSAGE: &str = "message";
    /// `{prefix}/retry-after`: delay in seconds (`900`) or an end time (RFC 3339).
    pub const RETRY_AFTER: &str = "retry-after";
    /// `{prefix}/links/status-page`: an `https://` URL of the status page.
    pub const STATUS_PAGE: &str = "links/status-page";
    /// `{prefix}/links/contact`: an `https://` or `mailto:` URL for support.
    pub const CONTACT: &str = "links/contact";
    /// `{prefix}/bypass/token` (`SecureString`): the bypass link's token of the current
    /// window, set by `maintctl on` and rotated by `off`.
    pub const BYPASS_TOKEN: &str = "bypass/token";
}

/// Default health route path.
pub const DEFAULT_HEALTH_PATH: &str = "/healthz";
/// Default priority the maintenance rule is parked at while maintenance is off.
pub const DEFAULT_PARKED_PRIORITY: u32 = 50_000;
/// User agent of ALB (and NLB) HTTP health checks.
pub const HEALTH_CHECK_USER_AGENT: &str = "ELB-HealthChecker/2.0";
/// Default path of the bypass link (`{path}/{token}`), under which the responder issues the
/// bypass cookie.
pub const DEFAULT_BYPASS_PATH: &str = "/__maintenance/bypass";
/// Name of the bypass cookie; the cookie bypass rule matches `*maint_bypass=TOKEN*`.
pub const BYPASS_COOKIE: &str = "maint_bypass";
