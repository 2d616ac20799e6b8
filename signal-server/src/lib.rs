//! # peerdrop-signal — the PeerDrop rendezvous service
//!
//! Peers connect over one WebSocket (`/ws`), say `hello`, and get an unguessable id, a short
//! human code and ICE servers. The server groups peers behind the same public address (and
//! everyone on its own LAN) as "nearby", resolves codes for everyone else and relays SDP/ICE
//! envelopes to exactly the addressed peer. It never sees file bytes. The wire types live in
//! [`peerdrop_proto::signal`]; the protocol is described for humans in `docs/protocol.md`.
//!
//! The crate is a library first (tests, the CLI's tests and the desktop app embed it
//! in-process) and a thin binary second (`peerdrop-signal`, see `src/main.rs`).
//!
//! ## Layout: one job per module
//! - [`config`]: [`ServerConfig`] and [`Limits`] — every tunable, with safe defaults.
//! - [`error`]: [`ServerError`], what can go wrong when starting the server.
//! - [`server`]: [`SignalServer`] — binds the port, accepts connections, shuts down gracefully.
//! - `http` (private): reads the HTTP request head and routes it: `GET /health`, the
//!   WebSocket upgrade at `/ws`, `404` for anything else.
//! - [`origin`]: which web pages may open the WebSocket (the `Origin` check, 403 otherwise).
//! - [`addr`]: which client address a connection counts as (trusted proxies), the
//!   [`addr::GroupKey`] of per-address limits and the [`addr::NearbyGroup`] that defines
//!   "nearby" (one group for a server's whole LAN).
//! - [`device`]: device endpoint mode — this server as one device's direct LAN signaling
//!   endpoint, with an owner and guests that may talk only to it.
//! - `slots` (private): per-IP and global connection caps.
//! - `connection` (private): one task per WebSocket — the hello handshake, limits, dispatch.
//! - `registry` (private): who is online — peers, codes, nearby groups, who may signal whom.
//! - [`cluster`]: several nodes as one service — the `Bus` the registry talks to (alone: in
//!   memory; with `--redis`: codes, presence, groups and per-node inboxes in Redis).
//! - [`rate`]: the token bucket used for message, code-guessing and TURN credential limits.
//! - [`relay`]: the encrypted fallback relay (`relay` frames) and its byte and frame budgets,
//!   per connection and per client address.
//! - [`metrics`]: the Prometheus metrics served at `GET /metrics`.
//! - [`names`]: cleaning user-chosen device names before anyone else sees them.
//! - [`ice`] and [`turn`]: the ICE server list handed out in `welcome`, with coturn
//!   REST (`use-auth-secret`) credentials, minted within a budget per client address.
#![warn(missing_docs)]

pub mod addr;
pub mod cluster;
pub mod config;
mod connection;
pub mod device;
pub mod error;
mod http;
pub mod ice;
pub mod metrics;
pub mod names;
pub mod origin;
pub mod rate;
mod registry;
pub mod relay;
pub mod server;
mod slots;
pub mod turn;

pub use config::{Limits, ServerConfig};
pub use error::ServerError;
pub use server::{RunningServer, SignalServer};
