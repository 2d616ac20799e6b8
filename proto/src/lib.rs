//! # peerdrop-proto — the one source of truth for every byte PeerDrop puts on a wire
//!
//! This crate holds *types only*: no sockets, no tokio, no file system. It compiles for
//! native targets and for `wasm32-unknown-unknown`, so the signaling server, the core
//! engine, the CLI and the Sycamore UI all speak exactly the same language.
//!
//! Layout:
//! - [`signal`]: JSON messages between a peer and `peerdrop-signal` over the WebSocket.
//! - [`transfer`]: the control messages and binary data frames two peers exchange over
//!   WebRTC data channels.
//! - [`events`]: what the engine reports to a front end (CLI `--json`, Tauri events).
//! - [`code`]: the short human codes peers share to find each other.
//! - [`device_name`]: names as shown (NFKC, no invisible characters) and compared (lookalikes).
//! - [`link`]: `peerdrop://send?to=CODE&server=URL` links (the app's QR code, its link
//!   handler, `peerdrop receive --qr`).
//! - [`send_to`]: reading what a person typed to send to: a code, `HOST:PORT` or a name.
//! - [`web_link`]: whether a received text is one web link the app may offer to open.
//!
//! The protocol itself is described for humans in `docs/protocol.md`.

pub mod code;
pub mod device_name;
pub mod events;
pub mod link;
pub mod send_to;
pub mod signal;
pub mod transfer;
pub mod web_link;

/// Version of both the signaling and the transfer protocol. Bumped on any incompatible change;
/// peers and server refuse a different major version with a clear error instead of misparsing.
pub const PROTOCOL_VERSION: u32 = 1;
