//! `maintctl invoke`: the ALB response JSON the responder returns for an event file, through
//! the very function the Lambda runs (embedded configuration and content unless told otherwise).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use maintenance_responder::alb;
use maintenance_responder::config::Site;
use maintenance_responder::content::Content;

use crate::Globals;

/// Arguments of `maintctl invoke`.
#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// ALB event JSON file, or - for standard input.
    #[arg(long, short = 'e', value_name = "FILE")]
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
        let site = Site::embedded();
        let handled = alb::handle(
            &raw,
            &Content::default(),
            &site,
            time::OffsetDateTime::now_utc(),
        );
        let json =
            serde_json::to_string_pretty(&handled.alb).context("failed to encode the response")?;
        say!("{json}");
        if self.show_body
            && let Some(aws_lambda_events::encodings::Body::Text(body)) = &handled.alb.body
        {
            say!("\n{body}");
        }
        Ok(ExitCode::SUCCESS)
    }
}
