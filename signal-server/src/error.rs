//! Errors that stop the server from starting or running.
//!
//! Problems with a single client never surface here: they are answered on that client's
//! connection with a [`peerdrop_proto::signal::ServerMsg::Error`] frame, and the server keeps
//! serving everyone else.

use std::net::SocketAddr;

/// Why [`crate::SignalServer`] could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is inconsistent (e.g. a zero rate limit); the text says which field.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The listening socket could not be bound (port in use, no permission, bad address).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address we tried to bind.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// Any other I/O failure of the listening socket itself.
    #[error("listener failed: {0}")]
    Io(#[from] std::io::Error),
}
