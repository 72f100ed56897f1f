//! Names shared by the Lambda, `maintctl` and the infrastructure templates under `deploy/`:
//! environment variables, rule tag keys, the SSM parameter layout and the defaults they share.
//!
//! The templates repeat these strings (CloudFormation and Terraform cannot import Rust), so
//! `tests/deploy/templates.rs` reads the templates and checks that every name here appears there unchanged.

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
    /// Value of [`ROLE`] on the fallback rule (a fixed-response 503 that needs no Lambda).
    pub const ROLE_FALLBACK: &str = "fallback";
    /// Value of [`ROLE`] on an admission rule of a gradual return (`maintctl off --gradual`,
    /// `crate::admission`): created at the return's start, deleted at its end or abort.
    pub const ROLE_ADMISSION: &str = "admission";
    /// On an admission rule: the id of the return it belongs to.
    pub const RETURN: &str = "maintenance-responder:return";
    /// On an admission rule: the CloudWatch alarm (`off --gradual --abort-alarm`) whose ALARM,
    /// delivered to the switch function, aborts the return; empty when none was named.
    pub const ABORT_ALARM: &str = "maintenance-responder:abort-alarm";
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
    /// On the maintenance rule: the SSM prefix of the responder's live content (the function's
    /// `MAINTENANCE_SSM_PREFIX`), so that switching finds the content it writes beside the rules
    /// (the bypass token, the window's end, the lease).
    pub const CONTENT_PREFIX: &str = "maintenance-responder:content-prefix";
    /// On the maintenance rule: the window (`maintctl schedule`, `on --until`) whose end
    /// switches the current maintenance off; empty when a person switched it on without one.
    pub const WINDOW: &str = "maintenance-responder:window";
    /// On the maintenance rule: the CloudWatch alarm that switched the current maintenance on
    /// (the switch function); only that alarm's OK switches it off. Empty otherwise.
    pub const ALARM: &str = "maintenance-responder:alarm";
    /// On the maintenance rule: the alarm on the responder (the switch function's
    /// `MAINTENANCE_SWITCH_FALLBACK_ALARMS`) that put the fallback page live in the
    /// responder's place during maintenance; only that alarm's OK puts the responder's page
    /// back. Empty otherwise. It says nothing about who owns the maintenance ([`WINDOW`],
    /// [`ALARM`] keep saying that).
    pub const FALLBACK_ALARM: &str = "maintenance-responder:fallback-alarm";
    /// On the cookie bypass rule (role [`ROLE_BYPASS`]) only: [`BYPASS_LINK_COOKIE`]. It marks
    /// the one rule `maintctl` modifies (its condition holds the bypass link's token), so that
    /// IAM can grant `ModifyRule` on rules with this tag and no other.
    pub const BYPASS_LINK: &str = "maintenance-responder:bypass-link";
    /// Value of [`BYPASS_LINK`] on the cookie bypass rule.
    pub const BYPASS_LINK_COOKIE: &str = "cookie";
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
    /// `{prefix}/return/state` (`SecureString`): the gradual return under way
    /// (`crate::admission::ReturnState`, JSON), written by the switching side at every step and
    /// deleted when the return ends or is aborted.
    pub const RETURN_STATE: &str = "return/state";
    /// `{prefix}/timezone`: the IANA time zone (`Asia/Tokyo`) the page shows the end time in,
    /// written with the window's end by a scheduled switch (`maintctl schedule --timezone`).
    pub const TIMEZONE: &str = "timezone";
    /// `{prefix}/switch/…`: what the switching side keeps beside the content (the lease); the
    /// responder reads past it.
    pub const SWITCH_DIR: &str = "switch";
    /// `{prefix}/switch/lease`: the one-writer-at-a-time lease of the switching side.
    pub const LEASE: &str = "switch/lease";
    /// `{prefix}/switch/owners`: who owns the maintenance and which switch events were
    /// handled (JSON, `crate::planner::owners`), written under the lease.
    pub const OWNERS: &str = "switch/owners";
    /// `{prefix}/switch/history`: every switch of the prefix's listeners, one JSON entry per
    /// version (`maintenance_engine::announce::history`); SSM keeps the last 100 versions.
    pub const HISTORY: &str = "switch/history";

    /// Checks a parameter prefix: starts with `/`, no trailing `/`, SSM's name characters only.
    pub fn check_prefix(prefix: &str) -> Result<(), String> {
        let ok = prefix.starts_with('/')
            && !prefix.ends_with('/')
            && prefix.len() > 1
            && prefix.len() <= 1000
            && prefix.split('/').skip(1).all(|s| !s.is_empty())
            && prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'.' | b'-'));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{prefix:?} is not a parameter path prefix (expected e.g. /maintenance/shop: starts with /, no trailing /, letters, digits, _ . - only)"
            ))
        }
    }
}

/// Default health route path.
pub const DEFAULT_HEALTH_PATH: &str = "/healthz";
/// Default priority the maintenance rule is parked at while maintenance is off.
pub const DEFAULT_PARKED_PRIORITY: u32 = 50_000;
/// How far above the maintenance rule the fallback rule is parked by default (49995 beside
/// 50000): room for up to four bypass rules directly above the maintenance rule, in between.
pub const FALLBACK_PARKED_OFFSET: u32 = 5;
/// The fallback rule's fixed response: status and content type (its body is
/// `deploy/fallback.html`, rendered by `maintctl fallback render`).
pub const FALLBACK_STATUS: &str = "503";
/// See [`FALLBACK_STATUS`].
pub const FALLBACK_CONTENT_TYPE: &str = "text/html";
/// User agent of ALB (and NLB) HTTP health checks.
pub const HEALTH_CHECK_USER_AGENT: &str = "ELB-HealthChecker/2.0";
/// Default path of the bypass link (`{path}/{token}`), under which the responder issues the
/// bypass cookie.
pub const DEFAULT_BYPASS_PATH: &str = "/__maintenance/bypass";
/// Name of the bypass cookie; the cookie bypass rule matches `*maint_bypass=TOKEN*`.
pub const BYPASS_COOKIE: &str = "maint_bypass";
/// Name of the admission cookie of a gradual return (`crate::admission`): the admission rules
/// match `*maint_admit=TOKEN*`.
pub const ADMIT_COOKIE: &str = "maint_admit";
/// Name of the cookie holding a visitor's place in a gradual return's queue
/// (`crate::admission::Ticket`).
pub const TICKET_COOKIE: &str = "maint_ticket";

/// The Lambda function the templates under `deploy/` create, and the defaults of its capacity and
/// logging settings (README, "Capacity"). `tests/deploy/templates.rs` checks both templates against these.
pub mod function {
    /// Function name prefix: the function is `maintenance-responder-<environment>`, its log
    /// group `/aws/lambda/maintenance-responder-<environment>`.
    pub const NAME_PREFIX: &str = "maintenance-responder";
    /// The alias the target group invokes (provisioned concurrency is configured on it).
    pub const ALIAS: &str = "live";
    /// Target group name prefix: `maint-<environment>`.
    pub const TARGET_GROUP_PREFIX: &str = "maint";
    /// Set by Lambda from the function's application log level (`LoggingConfig`, JSON format);
    /// the Lambda reads it for its own filter (`maintenance_responder::logging::init_lambda`).
    pub const LOG_LEVEL_VAR: &str = "AWS_LAMBDA_LOG_LEVEL";
    /// Application log level of the templates, and the Lambda's when the variable is unset.
    pub const DEFAULT_LOG_LEVEL: &str = "INFO";
    /// Application log levels Lambda accepts (the Lambda reads `FATAL` as `ERROR`).
    pub const LOG_LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
    /// Architectures the templates accept, the default first; `scripts/package` builds each.
    pub const ARCHITECTURES: [&str; 2] = ["x86_64", "arm64"];
    /// Memory in MB.
    pub const DEFAULT_MEMORY_MB: u32 = 128;
    /// Retention of the function's log group, in days.
    pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 30;
    /// Reserved concurrency: peak requests/s × seconds an execution environment is busy per
    /// request × headroom = 1,000 × 0.05 s (a cold start, when maintenance is switched on) × 2.
    pub const DEFAULT_RESERVED_CONCURRENCY: i32 = 100;
    /// The reserved-concurrency value that means "no reservation" (Terraform's own convention;
    /// 0 would throttle every invocation).
    pub const NO_RESERVED_CONCURRENCY: i32 = -1;
    /// Provisioned concurrency on the alias (0: none; it is billed while configured).
    pub const DEFAULT_PROVISIONED_CONCURRENCY: u32 = 0;
    /// The variable the time zone crate (jiff) reads the zone database's directory from; the
    /// templates set it to [`BUNDLED_ZONEINFO`] on the responder.
    pub const TZDIR_VAR: &str = "TZDIR";
    /// Where the responder's zip puts its time zone database on Lambda (`scripts/package` adds
    /// `zoneinfo/`, and Lambda unzips the package to `/var/task`): `provided.al2023` may have
    /// no `/usr/share/zoneinfo`, and the page shows the end time in a display zone.
    pub const BUNDLED_ZONEINFO: &str = "/var/task/zoneinfo";
}

/// The switch events (issue #23): what every switch puts on an EventBridge bus
/// (`maintenance_engine::announce`), and the settings that name the bus. The templates' rules
/// match on [`events::SOURCE`] and the detail types; `tests/deploy/templates.rs` checks them.
pub mod events {
    /// The events' `source`.
    pub const SOURCE: &str = "maintenance-responder";
    /// `detail-type` of a switch that changed (or tried to change) the listeners.
    pub const SWITCHED: &str = "Maintenance Switched";
    /// `detail-type` of a switch no one watched (a window, an alarm) that was refused.
    pub const REFUSED: &str = "Maintenance Switch Refused";
    /// The bus when none is named: the account's default event bus.
    pub const DEFAULT_BUS: &str = "default";
    /// The switch function's setting: the bus it puts its events on (name or ARN).
    pub const SWITCH_BUS: &str = "MAINTENANCE_SWITCH_EVENT_BUS";
    /// maintctl's setting (and `--event-bus`): the bus `on` and `off` put their events on.
    pub const MAINTCTL_BUS: &str = "MAINTCTL_EVENT_BUS";
}

/// The `maintenance-switch` Lambda (issue #15): the function that switches on a schedule or an
/// alarm, its settings, and the EventBridge Scheduler names `maintctl schedule` shares with the
/// templates. `tests/deploy/templates.rs` checks both templates against these.
pub mod switch {
    /// Function name prefix: `maintenance-switch-<environment>`.
    pub const NAME_PREFIX: &str = "maintenance-switch";
    /// The environment the function switches (required): a switch request for another one is
    /// refused, and alarms switch this one.
    pub const ENVIRONMENT: &str = "MAINTENANCE_SWITCH_ENVIRONMENT";
    /// What an alarm's OK does to a maintenance that alarm switched on: `off` (the default)
    /// switches it off, `stay` leaves it on until a person ends it.
    pub const ON_ALARM_OK: &str = "MAINTENANCE_SWITCH_ON_ALARM_OK";
    /// Comma-separated alarm names allowed to switch; unset: any alarm that can invoke it.
    pub const ALARM_NAMES: &str = "MAINTENANCE_SWITCH_ALARM_NAMES";
    /// Comma-separated names of the alarms on the responder itself (its throttles and errors,
    /// the ALB's 502s on the maintenance target group): their ALARM puts the fallback page live
    /// in the responder's place while maintenance is on, their OK puts the responder's page
    /// back; they never switch maintenance on or off.
    pub const FALLBACK_ALARMS: &str = "MAINTENANCE_SWITCH_FALLBACK_ALARMS";
    /// Seconds the function waits for the lease another writer holds (default 20).
    pub const LEASE_WAIT_SECONDS: &str = "MAINTENANCE_SWITCH_LEASE_WAIT_SECONDS";
    /// Default of [`LEASE_WAIT_SECONDS`].
    pub const DEFAULT_LEASE_WAIT_SECONDS: u64 = 20;
    /// The function's timeout in the templates: the lease wait, a switch with its retries and
    /// rollback, and the parameter writes fit in it.
    pub const TIMEOUT_SECONDS: u32 = 90;
    /// Schedule group name prefix: the group of an environment is `maintenance-<environment>`.
    pub const SCHEDULE_GROUP_PREFIX: &str = "maintenance";
    /// Tag on the schedule group: the ARN of the switch function its schedules invoke.
    pub const GROUP_TAG_FUNCTION: &str = "maintenance-responder:switch-function";
    /// Tag on the schedule group: the role EventBridge Scheduler assumes to invoke it.
    pub const GROUP_TAG_ROLE: &str = "maintenance-responder:scheduler-role";
    /// Tag on the schedule group: the SQS queue undeliverable switches go to.
    pub const GROUP_TAG_DEAD_LETTER: &str = "maintenance-responder:dead-letter-queue";
    /// Tag on the schedule group: the environment it belongs to.
    pub const GROUP_TAG_ENVIRONMENT: &str = "maintenance-responder:environment";
    /// How long Scheduler keeps trying to deliver a switch (`MaximumEventAgeInSeconds`): a
    /// switch five minutes late is still wanted, one an hour late is not.
    pub const RETRY_MAX_EVENT_AGE_SECONDS: i32 = 300;
    /// Delivery attempts after the first (`MaximumRetryAttempts`).
    pub const RETRY_MAX_ATTEMPTS: i32 = 3;
    /// The alarm the templates create on the application target group's `HealthyHostCount`
    /// is `maintenance-switch-<environment>-<ALARM_SUFFIX>`; the function acts on that alarm only
    /// ([`ALARM_NAMES`]).
    pub const ALARM_SUFFIX: &str = "app-unhealthy";
    /// The dead-letter queue is `maintenance-switch-<environment>-<DEAD_LETTER_SUFFIX>`: what
    /// Scheduler could not deliver, and what the function failed after Lambda's retries.
    pub const DEAD_LETTER_SUFFIX: &str = "dead-letters";
    /// How long the queue keeps a message (the maximum, 14 days): a person reads it.
    pub const DEAD_LETTER_RETENTION_SECONDS: u32 = 1_209_600;
    /// Lambda's asynchronous retries of a switch that failed in a way a retry can fix (the
    /// function answers with an invocation error then): at most this many more attempts...
    pub const ASYNC_MAX_RETRY_ATTEMPTS: u32 = 2;
    /// ...and none for an event older than this (a switch ten minutes late is still wanted,
    /// an hour late is not); then it goes to the dead-letter queue.
    pub const ASYNC_MAX_EVENT_AGE_SECONDS: u32 = 600;

    /// The schedule group of an environment, or why the environment's name cannot be one
    /// (group names allow letters, digits, `-`, `_` and `.`, at most 64 characters).
    pub fn schedule_group(environment: &str) -> Result<String, String> {
        let name = format!("{SCHEDULE_GROUP_PREFIX}-{environment}");
        let ok = !environment.is_empty()
            && name.len() <= 64
            && environment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok {
            Ok(name)
        } else {
            Err(format!(
                "environment {environment:?} cannot name a schedule group ({SCHEDULE_GROUP_PREFIX}-NAME: \
                 letters, digits, - _ . only, at most {} characters): scheduled windows need an \
                 environment named that way",
                64 - SCHEDULE_GROUP_PREFIX.len() - 1
            ))
        }
    }
}
