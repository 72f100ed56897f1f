//! Log setup: JSON lines for the Lambda (CloudWatch), compact text on stderr for `maintctl`.
//! Levels come from `RUST_LOG` (or `AWS_LAMBDA_LOG_LEVEL` on Lambda).

use tracing_subscriber::EnvFilter;

/// JSON logs, one object per line, for the Lambda. Safe to call twice (the second is ignored).
pub fn init_lambda() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_else(|_| "info".into());
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(level.to_ascii_lowercase()));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stdout)
        .try_init();
}

/// Warnings and errors on stderr for the CLI (more with `RUST_LOG`).
pub fn init_cli() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .try_init();
}
