//! Events the engine reports to a front end.
//!
//! The CLI prints them one JSON object per line with `--json` (tag `event`), and the Tauri
//! shell forwards the very same values to the Sycamore UI, so a field added here shows up
//! everywhere at once. They carry names and numbers, never file contents.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::signal::PeerInfo;

/// Which network path a transfer's bytes take.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PathKind {
    /// Peer to peer (host or server-reflexive candidates).
    Direct,
    /// Through a TURN server.
    Relayed,
    /// Through the encrypted relay over the signaling WebSocket.
    Fallback,
}

/// A file as listed in an incoming-transfer prompt.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FileSummary {
    /// Relative path as it will be saved (already made safe).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// One thing that happened during a send or a receive.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TransferEvent {
    /// This device is registered; others reach it by `code`.
    Code {
        /// Short code, `XXXX-XX`.
        code: String,
        /// This device's name as others see it.
        name: String,
        /// This device's kind as others see it (the app shows its own icon by it); absent from
        /// the CLI's events.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<crate::signal::DeviceKind>,
    },
    /// This device on its local network: where a sender can type it in (its LAN endpoint), and
    /// whether multicast discovery works here. Sent when the node starts and again once the
    /// multicast check has an answer.
    Lan {
        /// `IP:PORT`, one per local IPv4 address (empty when this device only browses).
        addresses: Vec<String>,
        /// True once this device found that multicast (mDNS) is blocked here: it cannot be
        /// discovered, nor discover others; typed addresses and codes through a server still work.
        #[serde(default)]
        blocked: bool,
    },
    /// Nearby devices changed (full list).
    Nearby {
        /// Devices behind the same public IP.
        peers: Vec<PeerInfo>,
    },
    /// The peer is known and the WebRTC connection is being set up.
    Connecting {
        /// Name of the other device.
        peer: String,
    },
    /// The data channels are open.
    Connected {
        /// Name of the other device.
        peer: String,
        /// Milliseconds from the start of the connect until the channels opened.
        connect_ms: u64,
    },
    /// The network path is known.
    Path {
        /// Direct, relayed or fallback.
        path: PathKind,
    },
    /// Receiver: someone offers files; waiting for accept/decline.
    Incoming {
        /// Transfer id (stable across resumes).
        transfer_id: Uuid,
        /// Sender's device name.
        from: String,
        /// The files on offer, with safe names.
        files: Vec<FileSummary>,
        /// Sum of all sizes.
        total_size: u64,
        /// The text on offer, when it is a text rather than files.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// Both sides derived the short authentication phrase from both DTLS fingerprints; the
    /// same words on both screens mean nobody is in the middle.
    Verify {
        /// Four words, space-separated.
        phrase: String,
        /// Whether the other device's identity was verified (pinned) before.
        known: bool,
        /// The other device's name (as it calls itself).
        peer: String,
        /// A device remembered under this name now shows a *different* identity: either it
        /// was reinstalled, or someone is impersonating it. Shown as a loud warning.
        #[serde(default)]
        changed: bool,
        /// The other device's certificate fingerprint (`sha-256`, lowercase hex with colons).
        #[serde(default)]
        fingerprint: String,
        /// The name of the pinned device this one relates to: with `known`, the name it was
        /// trusted under when it now calls itself something else (show that one); with
        /// `changed`, the trusted device whose name it now looks like.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pinned_as: Option<String>,
    },
    /// Sender side, before anything is offered: the receiver's name looks like a device
    /// trusted before, but its certificate is another one (reinstalled, or someone pretending
    /// to be it). Nothing is sent unless the person confirms; front ends show a loud warning.
    IdentityChanged {
        /// The name the receiver uses now.
        peer: String,
        /// The name the trusted device was pinned under.
        pinned_as: String,
        /// The trusted device's fingerprint.
        previous: String,
        /// The fingerprint presented now.
        fingerprint: String,
    },
    /// The receiver accepted.
    Accepted,
    /// Receiver: the text on offer was accepted; this is it (sent by the sender, untrusted).
    Text {
        /// The text as sent.
        text: String,
    },
    /// A file continues from bytes already at the receiver (after a cut or a restart).
    Resumed {
        /// Relative path of the file.
        file: String,
        /// Bytes of it already at the receiver, not sent again.
        offset: u64,
        /// Size of the file, so a front end can show "resumed at N%".
        size: u64,
    },
    /// Sender: the receiver is busy with another transfer and holds this offer in its waiting
    /// line (it says so again every few seconds); the connection is set up when its turn comes.
    Queued {
        /// Place in the line: 1 = next.
        position: u32,
    },
    /// The connection to the peer was lost mid-transfer; setting up a new one to resume.
    Reconnecting {
        /// What happened.
        reason: String,
    },
    /// The receiver declined.
    Declined {
        /// Reason given.
        reason: String,
    },
    /// Bytes moved (emitted a few times per second, and once at the end).
    Progress {
        /// Bytes transferred so far, over all files (resumed bytes included).
        done: u64,
        /// Total bytes of the transfer.
        total: u64,
        /// Recent throughput, bytes per second.
        bytes_per_sec: f64,
        /// Estimated seconds left, when a rate is known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eta_secs: Option<f64>,
        /// File currently moving, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
    },
    /// One file was verified by the receiver (emitted on both sides).
    FileVerified {
        /// Relative path (receiver: the name it was saved under).
        path: String,
        /// Size in bytes.
        size: u64,
        /// BLAKE3, lowercase hex.
        blake3: String,
    },
    /// Everything was sent/received and verified.
    Done {
        /// Number of files.
        files: u32,
        /// Bytes moved.
        bytes: u64,
        /// Seconds from accept to the last verification.
        seconds: f64,
        /// Folder the files were saved in (receiver only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        saved_to: Option<String>,
    },
    /// The transfer failed; `reason` is the one line a user needs.
    Failed {
        /// Why.
        reason: String,
        /// The reason as a cause a front end answers in its own way (a full disk, a file that
        /// did not verify); absent for every other failure.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<crate::transfer::FailureCause>,
    },
    /// The transfer was cancelled by one side.
    Cancelled {
        /// Why (and by whom).
        reason: String,
    },
}

impl TransferEvent {
    /// One JSON line for `--json` output.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("TransferEvent always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_event_matches_cli_contract() {
        let ev = TransferEvent::Code {
            code: "K7QM-2X".into(),
            name: "Ana".into(),
            kind: None,
        };
        assert_eq!(
            ev.to_json(),
            r#"{"event":"code","code":"K7QM-2X","name":"Ana"}"#
        );
        let path = TransferEvent::Path {
            path: PathKind::Direct,
        };
        assert_eq!(path.to_json(), r#"{"event":"path","path":"direct"}"#);
    }

    #[test]
    fn verify_and_resumed_events_match_cli_contract() {
        let ev = TransferEvent::Resumed {
            file: "a.bin".into(),
            offset: 10,
            size: 20,
        };
        assert_eq!(
            ev.to_json(),
            r#"{"event":"resumed","file":"a.bin","offset":10,"size":20}"#
        );
        let ev = TransferEvent::Verify {
            phrase: "a b c d".into(),
            known: false,
            peer: "Ana".into(),
            changed: false,
            fingerprint: "ab:cd".into(),
            pinned_as: None,
        };
        let json = ev.to_json();
        assert!(
            json.starts_with(r#"{"event":"verify","phrase":"a b c d","known":false"#),
            "{json}"
        );
    }
}
