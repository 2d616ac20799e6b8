//! Command-line arguments (the stable CLI contract).

use clap::{Args, Parser, Subcommand};
use peerdrop_core::{ClientTls, NodeConfig, RtcSettings};
use peerdrop_proto::signal::DeviceKind;
use std::path::PathBuf;

/// Default signaling server when neither `--server` nor `PEERDROP_SERVER` is given.
pub const DEFAULT_SERVER: &str = "ws://127.0.0.1:8787/ws";

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
    /// List nearby devices (same network).
    Peers(PeersArgs),
}

/// Options every subcommand shares.
#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Signaling server.
    #[arg(long, env = "PEERDROP_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// Name other devices see (default: host name).
    #[arg(long, env = "PEERDROP_NAME")]
    pub name: Option<String>,
    /// Print newline-delimited JSON events instead of human output.
    #[arg(long)]
    pub json: bool,
}

impl Common {
    /// How to join the network.
    pub fn node_config(&self) -> NodeConfig {
        let name = self.name.clone().unwrap_or_else(|| {
            let host = gethostname::gethostname().to_string_lossy().into_owned();
            if host.is_empty() {
                "PeerDrop CLI".into()
            } else {
                host
            }
        });
        NodeConfig {
            server_url: self.server.clone(),
            tls: trust_for(&self.server),
            name,
            kind: DeviceKind::Cli,
            rtc: RtcSettings::default(),
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
    #[arg(long)]
    pub yes: bool,
    /// Keep receiving after the first transfer.
    #[arg(long)]
    pub keep: bool,
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
    /// The receiver's code (as shown by `peerdrop receive` or the app).
    #[arg(long)]
    pub to: String,
    /// Files and folders to send.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// `peerdrop peers`.
#[derive(Args, Debug)]
pub struct PeersArgs {
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
}
