//! `maintctl invoke`: the ALB response JSON for an event file, through the Lambda's own
//! per-event code (`Function::handle`) built exactly as the Lambda builds it from this
//! environment (`MAINTENANCE_*`, and SSM content when `MAINTENANCE_SSM_PREFIX` is set).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use maintenance_responder::lambda::{Function, alb_event};

use crate::Globals;

/// Arguments of `maintctl invoke`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Uses the configuration the Lambda would read from this environment: \
    MAINTENANCE_CONFIG, MAINTENANCE_DEFAULT_PAGE, …, and the live content from SSM when \
    MAINTENANCE_SSM_PREFIX is set (else the embedded texts)."
)]
pub struct InvokeArgs {
    /// ALB event JSON file, or - for standard input.
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
    /// Print the response body as text after the JSON, for reading.
    #[arg(long)]
    show_body: bool,
}

impl InvokeArgs {
    /// Runs the command.
    pub async fn run(self, _globals: &Globals) -> anyhow::Result<ExitCode> {
        let raw = if self.event.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("failed to read the event from standard input")?;
            text
        } else {
            std::fs::read_to_string(&self.event).with_context(|| {
                format!("failed to read the event file {}", self.event.display())
            })?
        };
        if let Err(e) = alb_event::check_is_json(&raw) {
            bail!(
                "the event is not JSON ({e}): the deployed Lambda would not answer it with a page \
                 — its runtime fails the invocation before the responder sees the event, and the \
                 ALB answers that with its own 502 (an ALB always sends JSON)"
            );
        }
        // The SSM client from the standard chain (profiles, SSO), not only the variables a
        // Lambda has: this runs on an operator's machine.
        let (function, problems) =
            Function::from_environment_with(&|name| std::env::var(name).ok(), async || {
                let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .http_client(maintenance_responder::aws::https_client())
                    .load()
                    .await;
                ((&config).into(), Vec::new())
            })
            .await;
        for problem in &problems {
            eprintln!("maintctl invoke: warning: {}", problem.0);
        }
        function.init().await;
        let json = function.handle(&raw).await;
        let value: serde_json::Value =
            serde_json::from_str(json.get()).context("the response is not JSON")?;
        say!(
            "{}",
            serde_json::to_string_pretty(&value).context("failed to encode the response")?
        );
        if self.show_body
            && let Some(body) = value.get("body").and_then(serde_json::Value::as_str)
        {
            say!("\n{body}");
        }
        Ok(ExitCode::SUCCESS)
    }
}
