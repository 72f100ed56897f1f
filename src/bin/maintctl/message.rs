//! `maintctl message show|set`: flags → `ops::message` (the same layout and validation the
//! responder reads with) → the report.

use std::process::ExitCode;

use jiff::Timestamp;
use maintenance_core::catalog::Catalog;
use maintenance_core::site::Site;
use maintenance_engine::ops::fallback;
use maintenance_engine::ops::message::{self, RetryOption, SetRequest};
use maintenance_responder::ssm::Change;

use crate::{Globals, output};

/// `maintctl message` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum MessageCommand {
    /// Show the content under a prefix as the responder would read it, with any ignored values.
    Show(ShowArgs),
    /// Validate and write content under a prefix (only the values given are changed).
    Set(SetArgs),
}

/// Arguments of `maintctl message show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// SSM parameter prefix, e.g. /maintenance/shop [default: the environment's prefix].
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
}

/// Arguments of `maintctl message set`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Every value is checked with the responder's own rules before anything is \
    written. An existing parameter keeps its type (a SecureString stays a SecureString, under its \
    own key); new ones are String, or SecureString with --secure. Then the page of every fallback \
    rule of this prefix is rendered from the new content and put on the rule (ModifyRule), \
    unless --no-fallback-refresh."
)]
pub struct SetArgs {
    /// SSM parameter prefix, e.g. /maintenance/shop [default: the environment's prefix].
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// Language of --title and --message (a language of config/content.toml: en, ja).
    #[arg(long, default_value = "en")]
    lang: String,
    /// Maintenance page title.
    #[arg(long)]
    title: Option<String>,
    /// Maintenance message; blank lines separate paragraphs.
    #[arg(long)]
    message: Option<String>,
    /// Retry-After in seconds (0 to 604800).
    #[arg(
        long,
        value_name = "SECONDS",
        conflicts_with = "expected_back",
        allow_hyphen_values = true
    )]
    retry_after: Option<String>,
    /// The end the page announces ("expected back"), RFC 3339 (e.g. 2026-11-22T06:00:00Z), at
    /// most a week ahead: Retry-After becomes an HTTP-date. Switches nothing off (on --until
    /// does). Formerly --until.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true, alias = "until")]
    expected_back: Option<String>,
    /// Status page URL (https://).
    #[arg(long)]
    status_page: Option<String>,
    /// Support contact URL (https:// or mailto:).
    #[arg(long)]
    contact: Option<String>,
    /// Create new parameters as SecureString (existing ones keep their type either way).
    #[arg(long)]
    secure: bool,
    /// Print what would be written and write nothing.
    #[arg(long, short = 'n')]
    dry_run: bool,
    /// Do not refresh the fallback rules' page (found through the maintenance rules tagged
    /// with this prefix) after writing. Formerly --no-fallback.
    #[arg(long, alias = "no-fallback")]
    no_fallback_refresh: bool,
}

impl MessageCommand {
    /// Runs the command.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let catalog = Catalog::embedded();
        let now = Timestamp::now();
        match self {
            Self::Show(args) => {
                let client = aws_sdk_ssm::Client::new(&globals.aws.load().await);
                let prefix = globals.prefix(args.prefix);
                let report = message::show(&client, &prefix, &catalog, now).await?;
                output::emit(globals.output, &report)
            }
            Self::Set(args) => {
                let prefix = globals.prefix(args.prefix.clone());
                let retry = match (&args.retry_after, &args.expected_back) {
                    (Some(seconds), _) => Some(RetryOption::Seconds(seconds)),
                    (None, Some(until)) => Some(RetryOption::Until(until)),
                    (None, None) => None,
                };
                let change = Change {
                    lang: Some(&args.lang),
                    title: args.title.as_deref(),
                    message: args.message.as_deref(),
                    retry: None,
                    status_page: args.status_page.as_deref(),
                    contact: args.contact.as_deref(),
                };
                let request = SetRequest::new(
                    &prefix,
                    &change,
                    retry,
                    args.secure,
                    args.dry_run,
                    &catalog,
                    now,
                )?;
                let client = aws_sdk_ssm::Client::new(&globals.aws.load().await);
                let listeners = globals.listeners().await;
                let site = Site::embedded();
                let refresh = !args.no_fallback_refresh;
                let report =
                    fallback::set_message(&client, &listeners, &request, refresh, &site, now)
                        .await?;
                let code = output::emit(globals.output, &report)?;
                if let Some(problem) = report.problem() {
                    eprintln!("maintctl: {problem}");
                }
                Ok(code)
            }
        }
    }
}
