//! The one error type front ends see. Its `Display` is the one line a user needs.

use thiserror::Error;

use crate::machine::Outcome;
use crate::signaling::SignalError;
use crate::store::StoreError;

/// Why a send or receive did not succeed.
#[derive(Debug, Error)]
pub enum CoreError {
    /// Talking to the signaling server failed.
    #[error(transparent)]
    Signal(#[from] SignalError),
    /// The peer could not be reached (gone, offline, unknown code).
    #[error("{0}")]
    PeerUnavailable(String),
    /// Setting up the WebRTC connection failed.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The file system refused something.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The user typed something that is not a code (nor, with no LAN, a nearby device's name).
    #[error("{0:?} is not a valid code (codes look like K7QM-2X)")]
    BadCode(String),
    /// The transfer ran but did not end well (declined, cancelled, failed).
    #[error("{}", outcome_text(.0))]
    Transfer(Outcome),
    /// LAN discovery or the LAN endpoint could not start.
    #[error(transparent)]
    Lan(#[from] crate::lan::LanError),
    /// No device fits what was asked for (within the LAN search window).
    #[error("{}", not_found_text(.wanted, *.lan, *.multicast_blocked, *.server))]
    NotFound {
        /// What was looked for.
        wanted: peerdrop_proto::send_to::SendTo,
        /// Whether the LAN was searched.
        lan: bool,
        /// Whether multicast looked blocked here (our own record never came back).
        multicast_blocked: bool,
        /// Whether a server was asked too.
        server: bool,
    },
    /// Several devices have the name asked for.
    #[error("several devices are called {name:?}: {}; use the code of the one you mean", .matches.join(", "))]
    AmbiguousName {
        /// The name as typed.
        name: String,
        /// The devices that have it, with their codes.
        matches: Vec<String>,
    },
    /// The receiver is not the device trusted under its name, and nobody said to go on:
    /// nothing was sent.
    #[error("refused: {:?} presents a different identity than the device you trusted as {:?} (was {}, now {}); it was reinstalled, or someone is pretending to be it: nothing was sent", .0.peer, .0.pinned_as, .0.previous, .0.now)]
    IdentityChanged(crate::engine::IdentityChange),
    /// This device's identity (certificate, pinned devices) could not be loaded.
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
}

fn not_found_text(
    wanted: &peerdrop_proto::send_to::SendTo,
    lan: bool,
    multicast_blocked: bool,
    server: bool,
) -> String {
    use peerdrop_proto::send_to::SendTo;
    let place = match (lan, server) {
        (true, true) => "on this network or on the server",
        (true, false) => "on this network",
        (false, _) => "on the server",
    };
    let mut text = match wanted {
        SendTo::Code(code) => format!("no device is online with code {code} {place}"),
        SendTo::Name(name) => format!("no device called {name:?} was found {place}"),
        SendTo::Address(address) => format!("no device answers at {address}"),
    };
    if multicast_blocked {
        text.push_str(
            "; multicast (mDNS) is blocked here (Wi-Fi client isolation, a VPN or a firewall), so \
             devices on this network cannot be discovered: type the receiver's address \
             (HOST:PORT, shown by the receiver) or use a server and the receiver's code",
        );
    } else if lan && !server {
        text.push_str(
            "; is the receiver waiting on this network? If this network blocks discovery, type \
             its address (HOST:PORT) or use a server and its code",
        );
    }
    text
}

fn outcome_text(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Completed => "completed".into(),
        other => other.reason().to_string(),
    }
}
