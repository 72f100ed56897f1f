//! maintctl's log lines: warnings and errors on stderr, never the AWS SDK's own TRACE lines
//! (the same filter as the Lambda's, `maintenance_responder::logging::sdk_trace`).

use maintenance_responder::logging::sdk_trace;

/// Warnings and errors on stderr for the CLI (more with `RUST_LOG`), never the AWS SDK's own
/// TRACE lines (`maintenance_responder::logging::sdk_trace`).
pub fn init_cli() {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr)
        .finish()
        .with(tracing_subscriber::filter::filter_fn(|meta| {
            !sdk_trace(meta)
        }))
        .try_init();
}
