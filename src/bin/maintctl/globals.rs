//! The options every `maintctl` subcommand understands (`Globals`: the AWS profile and region,
//! the output format) and the clients they give.

use maintenance_responder::aws::AwsOptions;
use maintenance_responder::listeners::Aws;

/// Options every subcommand understands.
#[derive(Debug, Clone, clap::Args)]
pub struct Globals {
    #[command(flatten)]
    /// AWS profile and region.
    pub aws: AwsOptions,
    /// Output format: human-readable text, or JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

impl Globals {
    /// The ELBv2 and STS clients for `--profile` and `--region`.
    pub async fn listeners(&self) -> Aws {
        Aws::new(&self.aws.load().await)
    }

    /// The listeners' clients and the SSM client (where the bypass link's token goes).
    pub async fn listeners_and_ssm(&self) -> (Aws, aws_sdk_ssm::Client) {
        let config = self.aws.load().await;
        (Aws::new(&config), aws_sdk_ssm::Client::new(&config))
    }
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Human-readable text.
    Text,
    /// One JSON document on stdout.
    Json,
}
