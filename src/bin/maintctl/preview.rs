//! `maintctl serve` and `maintctl preview`: flags, content source, and one call into
//! `maintctl::preview` (the server, or the gallery writer).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use maintctl::preview::{self, Loaded, ServeOptions, Source};
use maintenance_responder::lambda::alb_event::HeaderMode;

use crate::Globals;

/// Where the content and configuration come from (shared by `serve` and `preview`).
#[derive(Debug, clap::Args)]
pub struct ContentArgs {
    /// Live content from a TOML file in the SSM layout (see config/content.example.toml);
    /// re-read on change.
    #[arg(long, value_name = "FILE", conflicts_with = "prefix")]
    content: Option<PathBuf>,
    /// Live content from SSM Parameter Store under PREFIX (read-only; uses your AWS profile)
    /// [default: the environment's prefix, else the embedded texts]. Formerly --from-ssm.
    #[arg(long, value_name = "PREFIX", alias = "from-ssm")]
    prefix: Option<String>,
    /// Responder configuration (brand colour, logo, paths) instead of the embedded
    /// config/responder.toml; MAINTENANCE_* variables apply on top, as on the Lambda.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Build multi-value ALB events (target group attribute lambda.multi_value_headers.enabled).
    #[arg(long)]
    multi_value: bool,
}

/// Arguments of `maintctl serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = preview::DEFAULT_LISTEN)]
    listen: SocketAddr,
    #[command(flatten)]
    content: ContentArgs,
}

/// Arguments of `maintctl preview`.
#[derive(Debug, clap::Args)]
pub struct PreviewArgs {
    /// Directory to write the pages and index.html to (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    content: ContentArgs,
}

impl ContentArgs {
    /// The preview's function over the site and content named, and what to serve it with;
    /// ignored content values are printed as warnings.
    async fn load(
        &self,
        globals: &Globals,
        command: &str,
    ) -> anyhow::Result<(Loaded, ServeOptions)> {
        let site = preview::site_from(self.config.as_deref(), &|name| std::env::var(name).ok())?;
        globals.text_only(command);
        let source = match (&self.content, globals.selection.prefix(self.prefix.clone())) {
            (Some(path), _) => Source::File(path.clone()),
            (None, Some(p)) => Source::ssm(&globals.aws.load().await, p.value),
            (None, None) => Source::Embedded,
        };
        let loaded = preview::load(site, source).await?;
        for line in loaded.warning_lines() {
            eprintln!("maintctl {command}: warning: {line}");
        }
        let mode = match self.multi_value {
            true => HeaderMode::Multi,
            false => HeaderMode::Single,
        };
        let options = ServeOptions {
            mode,
            source: loaded.source.clone(),
        };
        Ok((loaded, options))
    }
}

impl ServeArgs {
    /// Runs the server until Ctrl-C.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let (loaded, options) = self.content.load(globals, "serve").await?;
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .with_context(|| {
                format!(
                    "failed to listen on {}; pick another with --listen",
                    self.listen
                )
            })?;
        let addr = listener
            .local_addr()
            .context("failed to read the listening address")?;
        if !addr.ip().is_loopback() {
            eprintln!(
                "maintctl serve: warning: listening on {addr}, which is reachable from other machines"
            );
        }
        say(format_args!(
            "maintctl serve: http://{addr}/ (index: http://{addr}{})",
            preview::INDEX_PATH
        ));
        say(format_args!(
            "maintctl serve: {}; Ctrl-C stops",
            options.describe()
        ));
        let shutdown = async {
            // If the signal handler cannot be installed, run until killed rather than stop now.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        preview::serve(listener, shutdown, Arc::new(loaded.function), options)
            .await
            .context("the server failed")?;
        say(format_args!("maintctl serve: stopped"));
        Ok(ExitCode::SUCCESS)
    }
}

/// Prints a line on stdout. A reader that went away (a closed pipe) must not stop the server.
fn say(line: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

impl PreviewArgs {
    /// Writes the gallery.
    pub async fn run(self, globals: &Globals) -> anyhow::Result<ExitCode> {
        let (loaded, options) = self.content.load(globals, "preview").await?;
        let written = preview::write_gallery(&loaded.function, &self.out, &options).await?;
        say!(
            "maintctl preview: wrote {} files to {}; open {}",
            written.len(),
            self.out.display(),
            self.out.join("index.html").display()
        );
        Ok(ExitCode::SUCCESS)
    }
}
