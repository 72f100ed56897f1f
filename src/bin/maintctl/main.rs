//! `maintctl`: the operator's CLI for maintenance-responder.
//!
//! Thin by design: each subcommand parses its flags, builds the library's validated request,
//! makes one library call, prints the report once (text or JSON, `output`) and turns its outcome
//! into an exit code (`exit`). Planning, rendering and AWS calls live in the libraries (`maintctl`,
//! `maintenance_engine`, `maintenance_responder`, `maintenance_core`); only the terminal (the
//! confirmation prompt, Ctrl-C) is here.

/// `println!` that never panics: a closed stdout (`maintctl status | head`) is not an error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod announce;
mod attach;
mod bypass;
mod config;
#[cfg(test)]
mod doc_commands;
mod doctor;
mod exit;
mod fallback;
mod globals;
mod gradual;
mod history;
mod invoke;
mod lease;
mod logging;
mod message;
mod on;
mod output;
mod preview;
mod reference;
mod schedule;
mod status;
mod switch;
mod terminal;
mod until;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use globals::{Globals, Output};

/// Serve maintenance and fallback pages from a Lambda behind your ALB, and switch them on and off.
#[derive(Debug, Parser)]
#[command(name = "maintctl", version, about, long_about = None, propagate_version = true)]
#[command(after_long_help = exit::TABLE)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    globals: Globals,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the ALB response the responder returns for an event (a JSON file, or - for stdin).
    Invoke(invoke::InvokeArgs),
    /// Serve the pages locally over HTTP, through the same code the Lambda runs.
    Serve(preview::ServeArgs),
    /// Render every page kind, language and format to files, with an index.html gallery.
    Preview(preview::PreviewArgs),
    /// Read or write the page content in SSM Parameter Store.
    #[command(subcommand)]
    Message(message::MessageCommand),
    /// Create the maintenance rule (and the fallback and optional bypass rules) on a listener,
    /// parked.
    Attach(attach::AttachArgs),
    /// Render the fallback rule's page, or refresh it on the listeners from the SSM content.
    #[command(subcommand)]
    Fallback(fallback::FallbackCommand),
    /// Show each listener's rules and whether maintenance is on.
    Status(status::StatusArgs),
    /// Check everything a switch relies on (the responder answers, the content, the rules, the
    /// listener's headers, capacity); on runs the checks that can block first.
    Doctor(doctor::DoctorArgs),
    /// Switch maintenance on: move the maintenance rule (or, with --fallback, the fallback rule)
    /// above every other rule.
    On(on::OnArgs),
    /// Switch maintenance off: move the maintenance rule back to its parked priority.
    Off(gradual::OffArgs),
    /// The switches of an environment, newest first: when, which way, who, why, the outcome.
    History(history::HistoryArgs),
    /// The settings in force: maintctl.toml's environment, the flags, and where each value
    /// came from.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Schedule maintenance windows that switch themselves (create, list, cancel, extend).
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// The bypass link: print the current window's link again.
    #[command(subcommand)]
    Bypass(bypass::BypassCommand),
    /// The switching lease: who holds it, and breaking one whose holder is gone.
    #[command(subcommand)]
    Lease(lease::LeaseCommand),
    /// Print the shell completion script for bash, zsh, fish or powershell.
    Completions(reference::CompletionsArgs),
    /// Print the manual page maintctl(1), or write every page into a directory.
    Man(reference::ManArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut cli = Cli::parse();
    logging::init_cli();
    if let Err(err) = cli.globals.select() {
        eprintln!("maintctl: error: {err:#}; nothing was changed");
        return ExitCode::from(exit::FAILED);
    }
    let globals = cli.globals;
    let result = match cli.command {
        Command::Invoke(args) => args.run(&globals).await,
        Command::Serve(args) => args.run(&globals).await,
        Command::Preview(args) => args.run(&globals).await,
        Command::Message(cmd) => cmd.run(&globals).await,
        Command::Attach(args) => args.run(&globals).await,
        Command::Fallback(cmd) => cmd.run(&globals).await,
        Command::Status(args) => args.run(&globals).await,
        Command::Doctor(args) => args.run(&globals).await,
        Command::On(args) => args.run(&globals).await,
        Command::Off(args) => args.run(&globals).await,
        Command::History(args) => args.run(&globals).await,
        Command::Config(cmd) => cmd.run(&globals),
        Command::Schedule(cmd) => cmd.run(&globals).await,
        Command::Bypass(cmd) => cmd.run(&globals).await,
        Command::Lease(cmd) => cmd.run(&globals).await,
        Command::Completions(args) => args.run(&globals, <Cli as clap::CommandFactory>::command()),
        Command::Man(args) => args.run(&globals, <Cli as clap::CommandFactory>::command()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("maintctl: error: {err:#}");
            ExitCode::from(exit::FAILED)
        }
    }
}
