//! Command-line arguments (the stable CLI contract).

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};
use peerdrop_core::{ClientTls, LanRole, NodeConfig, RtcSettings};
use peerdrop_proto::signal::DeviceKind;
use std::path::PathBuf;

/// Send files to another device, peer to peer, verified end to end.
#[derive(Parser, Debug)]
#[command(name = "peerdrop", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Wait for files: prints a code to give the sender.
    Receive(ReceiveArgs),
    /// Send files or folders to the device holding CODE.
    Send(SendArgs),
    /// List the devices in reach: on this network (no server needed) and, with --server,
    /// the server's nearby devices.
    Peers(PeersArgs),
    /// Print a completion script for SHELL (bash, zsh, fish, elvish, powershell) on stdout,
    /// e.g. `peerdrop completions bash > ~/.local/share/bash-completion/completions/peerdrop`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout, e.g. `peerdrop man | man -l -`.
    Man,
}

/// Options every subcommand shares.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Signaling server (`ws://HOST:PORT/ws` or `wss://HOST/ws`). Without one, devices on
    /// this network find each other directly (mDNS), with no server anywhere.
    #[arg(long, env = "PEERDROP_SERVER")]
    pub server: Option<String>,
    /// Turn LAN discovery and the LAN endpoint off (use only the server).
    #[arg(long, env = "PEERDROP_NO_LAN", value_parser = BoolishValueParser::new())]
    pub no_lan: bool,
    /// Name other devices see (default: host name).
    #[arg(long, env = "PEERDROP_NAME")]
    pub name: Option<String>,
    /// Print newline-delimited JSON events instead of human output.
    #[arg(long)]
    pub json: bool,
}

impl Common {
    /// How to join the network, playing `lan` on the LAN unless `--no-lan` was given.
    pub fn node_config(&self, lan: LanRole) -> NodeConfig {
        let name = self.name.clone().unwrap_or_else(|| {
            let host = gethostname::gethostname().to_string_lossy().into_owned();
            if host.is_empty() {
                "PeerDrop CLI".into()
            } else {
                host
            }
        });
        let server_url = self
            .server
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        // The environment, read here (the CLI's edge) for the settings that take variables.
        let env = |name: &str| std::env::var(name).ok();
        NodeConfig {
            tls: server_url
                .as_deref()
                .map_or_else(ClientTls::none, trust_for),
            server_url,
            name,
            kind: DeviceKind::Cli,
            rtc: RtcSettings::from_vars(&env),
            home: peerdrop_core::identity::home_from_vars(&env),
            lan: if self.no_lan { LanRole::Off } else { lan },
        }
    }
}

/// The authorities a `wss://` server is checked against: the OS store (or `SSL_CERT_FILE` /
/// `SSL_CERT_DIR`), read here once; a `ws://` server needs none, so none are read.
pub fn trust_for(server: &str) -> ClientTls {
    if server.trim_start().starts_with("wss://") {
        ClientTls::system()
    } else {
        ClientTls::none()
    }
}

/// `peerdrop receive`.
#[derive(Args, Debug)]
pub struct ReceiveArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
    /// Folder to save into (created if missing).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Accept without asking.
    #[arg(long, conflicts_with = "trusted")]
    pub yes: bool,
    /// Accept without asking from devices trusted before (accepted here earlier, same
    /// certificate); ask for any other, and always for a device whose identity changed.
    #[arg(long)]
    pub trusted: bool,
    /// Keep receiving after the first transfer.
    #[arg(long)]
    pub keep: bool,
    /// Write a received text to stdout exactly as sent (for a pipe: `peerdrop receive
    /// --stdout > note.txt`); status lines stay on stderr. Files are still saved in --dir.
    #[arg(long, conflicts_with = "json")]
    pub stdout: bool,
    /// Also print a peerdrop:// link to this receiver (code and server) and draw it as a QR
    /// code, for a phone to scan.
    #[arg(long)]
    pub qr: bool,
}

/// `peerdrop send`.
#[derive(Args, Debug)]
pub struct SendArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
    /// Who to send to: the receiver's code (as shown by `peerdrop receive` or the app), the
    /// name of a device on this network (it must be unique), or HOST:PORT of a receiver on
    /// this network (shown by `peerdrop receive`; for networks that block discovery).
    /// Repeat it to send to several receivers at once: each gets the whole send in parallel,
    /// and progress lines (`--json`: every event) name the receiver (`"to"`).
    #[arg(long, value_name = "CODE|NAME|HOST:PORT", required = true)]
    pub to: Vec<String>,
    /// Send even if the receiver's identity changed since you trusted it (you reinstalled it
    /// yourself and compared the verification phrase). Without it such a send is refused
    /// with exit code 6 and nothing is sent; `--yes` never covers this.
    #[arg(long)]
    pub accept_changed_identity: bool,
    /// Send this text (or link) instead of files; `-` reads it from stdin. At most 32 KiB:
    /// longer texts go as a file.
    #[arg(long, value_name = "TEXT|-", conflicts_with = "paths")]
    pub text: Option<String>,
    /// Files and folders to send.
    #[arg(required_unless_present = "text")]
    pub paths: Vec<PathBuf>,
}

/// `peerdrop peers`.
#[derive(Args, Debug)]
pub struct PeersArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
}
