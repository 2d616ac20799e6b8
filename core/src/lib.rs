//! # peerdrop-core — the engine behind the app, the CLI and the tests
//!
//! Layout, from the wire inwards:
//! - [`signaling`]: the WebSocket client for `peerdrop-signal` (presence, codes, relay).
//! - [`lan`]: finding devices on the same network with no server (mDNS/DNS-SD) and the
//!   direct LAN signaling endpoint each discoverable device runs.
//! - [`rtc`]: building `webrtc` peer connections with PeerDrop's tuned settings.
//! - [`engine`]: async drivers that connect peers and run transfers; [`engine::Node`] is the
//!   facade the CLI and the app use.
//! - [`machine`]: the transfer protocol as pure state machines (no I/O, unit-tested).
//! - [`store`]: everything that touches the file system (safe names, `.part` files, atomic
//!   no-overwrite placement, reading sources).
//! - [`tls`]: the certificate authorities `wss://` servers are checked against, and refused
//!   certificates in words.
//! - [`identity`]: this device's persistent certificate, verification phrases, pinned devices.
//! - [`error`]: [`CoreError`], whose `Display` is the one line a user needs.
//! - [`log_noise`]: the dependency log lines that are expected and harmless, kept off the
//!   terminal.
//! - [`allocator`]: one call at process start that keeps glibc from zeroing pages over and
//!   over during a transfer.

pub mod allocator;
pub mod engine;
pub mod error;
pub mod fallback;
pub mod identity;
pub mod lan;
pub mod log_noise;
/// The protocol's pure state machines, from their own crate (`peerdrop-machine`).
pub use peerdrop_machine as machine;
pub mod rtc;
pub mod signaling;
pub mod store;
pub mod tls;
pub mod vars;

pub use engine::{
    AutoAccept, CancellationToken, ConfirmChange, Decider, Device, EventSink, IdentityChange,
    Incoming, LanRole, Node, NodeConfig, OnChangedIdentity, Recipient, TransferReport, Via,
    WhenBusy,
};
pub use error::CoreError;
pub use machine::receiver::{Decision, OfferSummary, Verification};
pub use machine::Outcome;
pub use rtc::RtcSettings;
pub use store::SendPlan;
pub use tls::ClientTls;

#[cfg(test)]
mod protocol_vectors;
