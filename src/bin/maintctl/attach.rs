//! `maintctl attach`: flags → `ops::AttachRequest` → `ops::attach` → the report.

use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::bail;
use ipnet::IpNet;
use maintenance_core::deploy_names::DEFAULT_PARKED_PRIORITY;
use maintenance_core::site::Site;
use maintenance_engine::ops::{self, AttachRequest, fallback};
use maintenance_engine::planner::{AttachSpec, FallbackSpec};

use crate::{Globals, output};

/// Arguments of `maintctl attach`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Creates, on each listener, a rule forwarding every path (/*) to the \
    responder's target group, parked at --priority where it catches nothing, tagged so maintctl \
    finds it again; plus optional bypass rules directly above it that forward chosen clients to \
    the application (to --app-target-group, else where the listener's own rules send each \
    request), and the fallback rule (a fixed-response 503 page for maintctl on --fallback, \
    with the default texts until maintctl message set puts the live content in). Running it again \
    with the same options changes nothing."
)]
pub struct AttachArgs {
    /// Listener ARN to attach to (repeat for several, e.g. HTTP and HTTPS) [default: the
    /// environment's listeners].
    #[arg(long = "listener", value_name = "ARN")]
    listeners: Vec<String>,
    /// The responder's target group (target type lambda).
    #[arg(long, value_name = "ARN")]
    target_group: String,
    /// Parked priority of the maintenance rule while maintenance is off; bypass rules are
    /// parked directly above it.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PARKED_PRIORITY,
          value_parser = clap::value_parser!(u32).range(1..=50_000))]
    priority: u32,
    /// SSM prefix of the responder's content (the function's MAINTENANCE_SSM_PREFIX), tagged
    /// on the maintenance rule so that switching finds the bypass token, end time and lease
    /// there [default: the environment's prefix]. The environment (--environment) is tagged on
    /// the rules too, so that -e NAME finds them later.
    #[arg(long = "prefix", value_name = "PREFIX")]
    content_prefix: Option<String>,
    /// Clients from this address or CIDR reach the application while maintenance is on
    /// (repeatable, up to 5). Matched against the connection's real source address, which
    /// cannot be spoofed the way X-Forwarded-For can.
    #[arg(long = "bypass-cidr", value_name = "CIDR", value_parser = parse_cidr)]
    bypass_cidrs: Vec<IpNet>,
    /// Requests carrying this header reach the application while maintenance is on. Keep the
    /// value secret: anyone who knows it bypasses maintenance.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_header)]
    bypass_header: Option<(String, String)>,
    /// A cookie bypass rule, for the bypass link maintctl on prints (needs --prefix): created
    /// with a fresh token nobody is given.
    #[arg(long)]
    bypass_link: bool,
    /// The application's own target group, where bypass rules forward (one rule per bypass).
    /// Without it, each bypass copies the listener's own rules with the bypass condition added
    /// (mirror rules), so that a bypassing request reaches the target group its path would
    /// reach.
    #[arg(long, value_name = "ARN")]
    app_target_group: Option<String>,
    /// Attach even though no rule catches every request before the parked priority: the
    /// maintenance rule then answers every request no other rule matches, instead of the
    /// listener's default action.
    #[arg(long)]
    allow_fallthrough: bool,
    /// Accept a --bypass-cidr of /0 (0.0.0.0/0, ::/0), which lets every client of that
    /// address family bypass maintenance.
    #[arg(long)]
    allow_bypass_everyone: bool,
    /// Do not create the fallback rule (a fixed-response 503 page that needs no Lambda, for
    /// maintctl on --fallback). Formerly --no-fallback.
    #[arg(long, alias = "no-fallback")]
    no_fallback_rule: bool,
    /// Parked priority of the fallback rule [default: --priority minus 5].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=50_000))]
    fallback_priority: Option<u32>,
    /// Print what would be created and create nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
}

fn parse_cidr(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is not an IP address or CIDR (e.g. 203.0.113.0/24)"))
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() && !value.is_empty() => {
            Ok((name.trim().to_string(), value.to_string()))
        }
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

impl AttachArgs {
    /// Runs `maintctl attach`.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let spec = AttachSpec {
            target_group: self.target_group,
            parked: self.priority,
            environment: globals.environment.clone(),
            content_prefix: globals
                .selection
                .prefix(self.content_prefix)
                .map(|p| p.value),
            bypass_cidrs: self.bypass_cidrs,
            bypass_header: self.bypass_header,
            bypass_link: self.bypass_link,
            app_target_group: self.app_target_group,
            allow_fallthrough: self.allow_fallthrough,
            allow_bypass_everyone: self.allow_bypass_everyone,
            fallback: (!self.no_fallback_rule).then(|| FallbackSpec {
                priority: self.fallback_priority,
                body: fallback::default_page(&Site::embedded()),
            }),
        };
        let (listeners, _) = globals.selection.targets(self.listeners, Vec::new());
        if listeners.value.is_empty() {
            crate::globals::usage(
                "name the listeners to attach to: --listener ARN, or the environment's \
                 listeners = [...] in maintctl.toml",
            );
        }
        let request = match AttachRequest::new(listeners.value, spec, self.dry_run) {
            Ok(request) => request,
            Err(e) => return output::stopped(e.into()),
        };
        let report = match ops::attach(&globals.listeners().await, &request).await {
            Ok(report) => report,
            Err(e) => return output::stopped(e),
        };
        let code = output::emit(globals.output, &report)?;
        if let Some(problem) = report.problem() {
            bail!("{problem}");
        }
        Ok(code)
    }
}
