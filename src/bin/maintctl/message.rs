//! `maintctl message show|set`: read and write the page content in SSM Parameter Store, with the
//! same layout and validation the responder reads with.

use std::process::ExitCode;

use anyhow::{Context, bail};
use maintenance_responder::catalog::Catalog;
use maintenance_responder::content::Retry;
use maintenance_responder::ssm::{self, Change, ParameterStore};
use time::OffsetDateTime;

use crate::{Globals, Output, exit};

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
    /// SSM parameter prefix, e.g. /maintenance/shop.
    #[arg(long, env = "MAINTENANCE_SSM_PREFIX")]
    prefix: String,
}

/// Arguments of `maintctl message set`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// SSM parameter prefix, e.g. /maintenance/shop.
    #[arg(long, env = "MAINTENANCE_SSM_PREFIX")]
    prefix: String,
    /// Language of --title and --message (a language of config/content.toml: en, ja).
    #[arg(long, default_value = "en")]
    lang: String,
    /// Maintenance page title.
    #[arg(long)]
    title: Option<String>,
    /// Maintenance message; blank lines separate paragraphs.
    #[arg(long)]
    message: Option<String>,
    /// Retry-After in seconds.
    #[arg(long, value_name = "SECONDS", conflicts_with = "until")]
    retry_after: Option<u64>,
    /// Expected end time, RFC 3339 (e.g. 2026-11-22T06:00:00Z): Retry-After becomes an HTTP-date.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Status page URL (https://).
    #[arg(long)]
    status_page: Option<String>,
    /// Support contact URL (https:// or mailto:).
    #[arg(long)]
    contact: Option<String>,
    /// Print what would be written and write nothing.
    #[arg(long)]
    dry_run: bool,
}

impl MessageCommand {
    /// Runs the command.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        match self {
            Self::Show(args) => args.run(globals).await,
            Self::Set(args) => args.run(globals).await,
        }
    }
}

impl ShowArgs {
    async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        ssm::check_prefix(&self.prefix).map_err(anyhow::Error::msg)?;
        let client = aws_sdk_ssm::Client::new(&globals.aws.load().await);
        let params = client
            .parameters_by_path(&self.prefix)
            .await
            .with_context(|| format!("failed to read parameters under {}", self.prefix))?;
        let catalog = Catalog::embedded();
        let (content, warnings) = ssm::content_from_parameters(
            &self.prefix,
            &params,
            &catalog,
            OffsetDateTime::now_utc(),
        );
        if globals.output == Output::Json {
            let json = serde_json::json!({
                "prefix": self.prefix,
                "maintenance": content.maintenance.iter().map(|(lang, t)| (lang.clone(), serde_json::json!({"title": t.title, "message": t.message}))).collect::<serde_json::Map<_, _>>(),
                "retry_after": content.retry.map(|r| r.to_parameter_value()),
                "status_page": content.status_page,
                "contact": content.contact,
                "ignored": warnings.iter().map(|w| serde_json::json!({"parameter": w.parameter, "problem": w.problem})).collect::<Vec<_>>(),
            });
            say!("{}", serde_json::to_string_pretty(&json)?);
        } else {
            say!(
                "content under {} ({} parameters)",
                self.prefix,
                params.len()
            );
            for lang in catalog.languages() {
                match content.maintenance.get(lang) {
                    Some(text) => say!(
                        "  [{lang}] title: {}\n  [{lang}] message: {}",
                        text.title,
                        text.message.replace('\n', "\n           ")
                    ),
                    None => say!("  [{lang}] (built-in texts)"),
                }
            }
            match content.retry {
                Some(retry) => say!("  retry-after: {}", retry.to_parameter_value()),
                None => say!("  retry-after: (not set: the configured default)"),
            }
            say!(
                "  status page: {}",
                content.status_page.as_deref().unwrap_or("(none)")
            );
            say!(
                "  contact: {}",
                content.contact.as_deref().unwrap_or("(none)")
            );
            for w in &warnings {
                say!("  ignored {}: {}", w.parameter, w.problem);
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

impl SetArgs {
    async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let retry = match (self.retry_after, &self.until) {
            (Some(seconds), _) => Some(
                Retry::parse(&seconds.to_string(), OffsetDateTime::now_utc())
                    .context("--retry-after")?,
            ),
            (None, Some(until)) => {
                let retry = Retry::parse(until, OffsetDateTime::now_utc()).context("--until")?;
                if let Retry::Until(at) = retry
                    && at <= OffsetDateTime::now_utc()
                {
                    bail!(
                        "--until {until} is in the past; give a future end time or use --retry-after"
                    );
                }
                Some(retry)
            }
            (None, None) => None,
        };
        let catalog = Catalog::embedded();
        let change = Change {
            lang: Some(&self.lang),
            title: self.title.as_deref(),
            message: self.message.as_deref(),
            retry,
            status_page: self.status_page.as_deref(),
            contact: self.contact.as_deref(),
        };
        let writes = ssm::plan_writes(&self.prefix, &change, &catalog)
            .map_err(|w| anyhow::anyhow!("{}: {}; nothing was written", w.parameter, w.problem))?;
        if writes.is_empty() {
            eprintln!(
                "maintctl: nothing to write; give --title, --message, --retry-after, --until, --status-page or --contact"
            );
            return Ok(ExitCode::from(exit::NOTHING_TO_DO));
        }
        let verb = if self.dry_run {
            "would write"
        } else {
            "writing"
        };
        if globals.output == Output::Text {
            for w in &writes {
                say!("{verb} {} = {:?}", w.name, w.value);
            }
        }
        if !self.dry_run {
            let client = aws_sdk_ssm::Client::new(&globals.aws.load().await);
            if let Err((done, e)) = ssm::apply_writes(&client, &writes).await {
                bail!(
                    "writing {} failed after {done} of {} parameters were written: {e}",
                    writes[done].name,
                    writes.len()
                );
            }
        }
        if globals.output == Output::Json {
            let json = serde_json::json!({
                "dry_run": self.dry_run,
                "writes": writes.iter().map(|w| serde_json::json!({"name": w.name, "value": w.value})).collect::<Vec<_>>(),
            });
            say!("{}", serde_json::to_string_pretty(&json)?);
        }
        Ok(ExitCode::SUCCESS)
    }
}
