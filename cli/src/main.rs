//! `peerdrop` — send and receive files peer to peer from a terminal.
//!
//! The command-line contract (flags, the `code:` line, `--json` events, exit codes) is stable:
//! scripts and tests depend on it. See `../shared/DESIGN.md` and the README.
//!
//! Layout: [`args`] (clap definitions), one module per subcommand ([`receive`], [`send`],
//! [`peers`]), [`output`] (progress bars or JSON lines), [`prompt`] (accept/decline), [`qr`]
//! (`receive --qr`: the link to this receiver and its QR code), [`exit`] (exit codes).

mod args;
mod docs;
mod exit;
mod lan;
mod output;
mod peers;
mod prompt;
mod qr;
mod receive;
mod send;

use clap::Parser;
use std::io::IsTerminal;
use std::process::ExitCode;

use args::{Cli, Command};

/// Our warnings, but only errors from the WebRTC stack, whose warnings are routine noise
/// (e.g. candidates probed before the answer arrives). `PEERDROP_LOG` overrides it.
const DEFAULT_LOG_FILTER: &str =
    "warn,rtc=error,rtc_ice=error,rtc_dtls=error,rtc_sctp=error,webrtc=error";

/// Logs to stderr: `PEERDROP_LOG` (default [`DEFAULT_LOG_FILTER`]), without the dependencies'
/// expected, harmless ERROR lines unless `PEERDROP_LOG_NOISE=1`
/// (see [`peerdrop_core::log_noise`]).
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let show_noise = std::env::var("PEERDROP_LOG_NOISE").is_ok_and(|v| v == "1");
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PEERDROP_LOG")
                .unwrap_or_else(|_| DEFAULT_LOG_FILTER.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .finish()
        .with((!show_noise).then_some(peerdrop_core::log_noise::ExpectedNoise))
        .init();
}

fn main() -> ExitCode {
    peerdrop_core::allocator::tune_for_transfers();
    let cli = Cli::parse();
    // Help for the shell and for `man`: no runtime, no network, nothing logged.
    match &cli.command {
        Command::Completions { shell } => return docs::print_completions(*shell),
        Command::Man => return docs::print_man_page(),
        _ => {}
    }
    init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("peerdrop: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Receive(args) => receive::run(args).await,
            Command::Send(args) => send::run(args).await,
            Command::Peers(args) => peers::run(args).await,
            Command::Completions { .. } | Command::Man => {
                unreachable!("handled before the runtime")
            }
        }
    });
    // Do not wait for background tasks (e.g. a pending stdin read) on the way out.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            eprintln!(
                "peerdrop: {}",
                peerdrop_core::store::terminal_safe(&format!("{e:#}"))
            );
            ExitCode::from(exit::code_for(&e))
        }
    }
}
