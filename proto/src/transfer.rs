//! The transfer protocol two peers speak over WebRTC data channels.
//!
//! - The **control** channel (label [`CONTROL_CHANNEL_LABEL`], reliable, ordered) carries
//!   [`ControlMsg`] as JSON text messages.
//! - **Data** channels (labels starting with [`DATA_CHANNEL_PREFIX`], reliable) carry binary
//!   [`DataFrame`]s: `(file index, offset, bytes)`. Writes are positional, so the receiver does
//!   not care which channel or in which order a frame arrives.
//!
//! Control messages stay at or under [`MAX_MESSAGE_BYTES`] (64 KiB, the size every WebRTC stack
//! and the relay carry); a large file list is therefore sent as a [`ControlMsg::Offer`]
//! followed by [`ControlMsg::Files`] chunks. Data frames may be larger, up to
//! [`MAX_DATA_FRAME_BYTES`], where the connection allows it: a sender sizes its frames to the
//! SCTP max-message-size both peers negotiated in SDP ([`data_payload_budget`]), and to
//! 64 KiB over the relay.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

/// Label of the control data channel.
pub const CONTROL_CHANNEL_LABEL: &str = "peerdrop-control";

/// Label prefix of data channels (`peerdrop-data-0`, `peerdrop-data-1`, ...).
pub const DATA_CHANNEL_PREFIX: &str = "peerdrop-data-";

/// Upper bound on a control message, and on any message over the relay or to a peer that
/// advertises no larger SCTP max-message-size.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Largest data frame a PeerDrop receiver accepts, and the SCTP max-message-size it advertises.
/// 256 KiB (`webrtc`'s ceiling): a quarter of the messages of 64 KiB frames, and with them a
/// quarter of the per-message work on both peers (1 GiB on loopback ≈ 20% faster,
/// docs/BENCHMARKS.md).
pub const MAX_DATA_FRAME_BYTES: usize = 256 * 1024;

/// Bytes of [`DataFrame`] header: kind (1) + file index (4) + offset (8).
pub const DATA_HEADER_BYTES: usize = 13;

/// Payload of a data frame that fits [`MAX_MESSAGE_BYTES`]: what every connection carries.
pub const MAX_DATA_PAYLOAD: usize = MAX_MESSAGE_BYTES - DATA_HEADER_BYTES;

/// Payload bytes per data frame on a connection whose largest message is `max_message` bytes
/// (the negotiated SCTP max-message-size): never above [`MAX_DATA_FRAME_BYTES`] (what a
/// receiver accepts) and never below [`MAX_DATA_PAYLOAD`] (what every connection carries; a
/// peer advertising less is not a PeerDrop peer).
pub fn data_payload_budget(max_message: usize) -> usize {
    max_message.clamp(MAX_MESSAGE_BYTES, MAX_DATA_FRAME_BYTES) - DATA_HEADER_BYTES
}

/// Payload bytes a sender may have sent on a connection beyond what the receiver reported
/// stored ([`ControlMsg::Stored`]). 16 MiB: a quarter second at 64 MB/s, the BDP of
/// 160 MB/s over a 100 ms round trip, and what bounds a receiver's buffered data.
pub const STORE_WINDOW: u64 = 16 << 20;

/// How often (in bytes written) a receiver reports [`ControlMsg::Stored`].
pub const STORE_ACK_EVERY: u64 = 1 << 20;

/// Most files one transfer may announce; more is refused as malformed (protects memory).
pub const MAX_FILES_PER_TRANSFER: u32 = 1_000_000;

/// Most UTF-8 bytes a text offer carries ([`ControlMsg::Offer`] `text`). It travels inside the
/// offer, so with JSON escaping the offer must still fit [`MAX_MESSAGE_BYTES`]; anything longer
/// is better sent as a file, with resume and a progress bar.
pub const MAX_TEXT_BYTES: usize = 32 * 1024;

/// Most UTF-8 bytes of free text (a reason, an error message) a PeerDrop peer puts in one
/// control message ([`ControlMsg::bounded`]). Reasons may quote what a peer sent (a serde error
/// quotes the offending value), so without a bound a refusal could outgrow
/// [`MAX_MESSAGE_BYTES`] and never reach a peer whose stack carries only that much. 4 KiB
/// escapes to at most 24 KiB of JSON (a control character costs six bytes), well inside it.
pub const MAX_REASON_BYTES: usize = 4096;

/// `text` cut to at most [`MAX_REASON_BYTES`] bytes at a character boundary, ending in `…`
/// when it was cut.
pub fn bound_reason(text: &str) -> String {
    if text.len() <= MAX_REASON_BYTES {
        return text.to_owned();
    }
    const ELLIPSIS: &str = "…";
    let mut end = MAX_REASON_BYTES - ELLIPSIS.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{ELLIPSIS}", &text[..end])
}

/// First byte of a data frame; lets future frame kinds coexist.
const FRAME_KIND_DATA: u8 = 0x01;

/// A half-open byte range `[start, end)` of one file.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// One file of an offer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    /// Position in the offer, `0..file_count`; data frames refer to it.
    pub index: u32,
    /// Relative path with `/` separators (`folder/sub/name.txt`). Untrusted at the receiver.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// What the receiver already holds of one file, sent with [`ControlMsg::Accept`] to resume.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ResumeEntry {
    /// File index.
    pub index: u32,
    /// Ranges already on the receiver's disk; the sender skips them.
    pub have: Vec<ByteRange>,
}

/// Messages on the control channel.
///
/// A transfer opens with the short-authentication handshake (a commit–reveal of two random
/// nonces, so that nobody in the middle can grind certificates until both phrases match):
/// sender → `sas_commit`, receiver → `sas_nonce`, sender → `sas_reveal`. Both sides then
/// derive the verification phrase from both DTLS fingerprints and both nonces. The `offer`
/// may travel while the handshake is under way, but the receiver only asks its user once the
/// phrase is known.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlMsg {
    /// Sender → receiver, first message: commitment (BLAKE3, hex) to the sender's nonce.
    SasCommit {
        /// Lowercase hex of the commitment.
        commit: String,
    },
    /// Receiver → sender: the receiver's random nonce (hex), sent after the commitment.
    SasNonce {
        /// Lowercase hex, 32 bytes.
        nonce: String,
    },
    /// Sender → receiver: opens the commitment.
    SasReveal {
        /// Lowercase hex, 32 bytes.
        nonce: String,
    },
    /// Sender → receiver: what is on offer. Followed by `Files` chunks until `file_count`
    /// entries have been sent.
    Offer {
        /// Protocol version, [`crate::PROTOCOL_VERSION`].
        v: u32,
        /// Stable id of this transfer (the same files to the same device keep it for resume).
        transfer_id: Uuid,
        /// Sender's device name, for the prompt.
        sender_name: String,
        /// Number of files announced.
        file_count: u32,
        /// Sum of all file sizes.
        total_size: u64,
        /// A text (or link) offered instead of files: then `file_count` and `total_size` are 0
        /// and no `files` follow. At most [`MAX_TEXT_BYTES`]. Untrusted at the receiver.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
    /// Sender → receiver: the next entries of the file list.
    Files {
        /// Entries, in index order.
        entries: Vec<FileEntry>,
    },
    /// Receiver → sender: go ahead; skip what `resume` says is already here.
    Accept {
        /// Ranges already held, per file (empty for a fresh transfer).
        #[serde(default)]
        resume: Vec<ResumeEntry>,
    },
    /// Receiver → sender: the user (or policy) said no.
    Decline {
        /// Reason shown to the sender.
        reason: String,
    },
    /// Sender → receiver: every byte of file `index` has been sent; this is its BLAKE3.
    FileDone {
        /// File index.
        index: u32,
        /// BLAKE3 of the whole file, lowercase hex.
        blake3: String,
    },
    /// Receiver → sender: file `index` was verified and moved to its final name.
    FileOk {
        /// File index.
        index: u32,
    },
    /// Receiver → sender: file `index` could not be received (hash mismatch, disk full...).
    FileFailed {
        /// File index.
        index: u32,
        /// Why.
        reason: String,
        /// The reason as a cause the sender can act on, when it is one (absent from peers
        /// that predate it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<FailureCause>,
    },
    /// Receiver → sender: payload bytes received on this connection that are now written to
    /// disk, in total (sent every [`STORE_ACK_EVERY`] bytes). The sender keeps at most
    /// [`STORE_WINDOW`] bytes sent on this connection beyond it, so a receiver whose disk lags
    /// holds a bounded amount of data whatever its WebRTC stack would buffer.
    Stored {
        /// Bytes written since this connection opened.
        bytes: u64,
    },
    /// Either side: stop now; nothing more will be sent.
    Cancel {
        /// Why, for display.
        reason: String,
    },
    /// Either side: the other broke the protocol (or announced hostile paths); the transfer
    /// is over.
    Error {
        /// Why, for display.
        message: String,
        /// The reason as a cause the other side can act on, when it is one (absent from peers
        /// that predate it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<FailureCause>,
    },
}

/// Why a transfer (or one file of it) failed, when the reason calls for its own answer rather
/// than "something went wrong": the app shows its own message, the CLI exits with its own code,
/// and the other side is told the same cause.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FailureCause {
    /// The receiving device ran out of space. What arrived is kept: free some space and send
    /// again to resume.
    DiskFull,
    /// A file arrived whole but its BLAKE3 did not match the sender's: it was not kept.
    HashMismatch,
}

impl ControlMsg {
    /// Parses one control message.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serialises one control message.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("ControlMsg always serialises")
    }

    /// This message with its free text (`reason`, `message`) cut by [`bound_reason`]: what a
    /// PeerDrop peer sends, so that its refusals and errors always fit [`MAX_MESSAGE_BYTES`]
    /// whatever they quote. Other messages are returned as they are.
    pub fn bounded(self) -> Self {
        match self {
            ControlMsg::Decline { reason } => ControlMsg::Decline {
                reason: bound_reason(&reason),
            },
            ControlMsg::Cancel { reason } => ControlMsg::Cancel {
                reason: bound_reason(&reason),
            },
            ControlMsg::Error { message, cause } => ControlMsg::Error {
                message: bound_reason(&message),
                cause,
            },
            ControlMsg::FileFailed {
                index,
                reason,
                cause,
            } => ControlMsg::FileFailed {
                index,
                reason: bound_reason(&reason),
                cause,
            },
            other => other,
        }
    }
}

/// Why a data frame could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FrameError {
    /// Shorter than the header.
    #[error("data frame of {0} bytes is shorter than its {DATA_HEADER_BYTES}-byte header")]
    TooShort(usize),
    /// Longer than [`MAX_DATA_FRAME_BYTES`].
    #[error("data frame of {0} bytes exceeds the {MAX_DATA_FRAME_BYTES}-byte limit")]
    TooLong(usize),
    /// Unknown first byte.
    #[error("unknown data frame kind {0:#04x}")]
    UnknownKind(u8),
}

/// Header of a binary data frame; the payload follows it in the same message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataFrame {
    /// File index.
    pub index: u32,
    /// Offset of the payload's first byte in the file.
    pub offset: u64,
}

impl DataFrame {
    /// Writes the header for this frame into the first [`DATA_HEADER_BYTES`] of `out`.
    pub fn encode_header(&self, out: &mut [u8; DATA_HEADER_BYTES]) {
        out[0] = FRAME_KIND_DATA;
        out[1..5].copy_from_slice(&self.index.to_be_bytes());
        out[5..13].copy_from_slice(&self.offset.to_be_bytes());
    }

    /// Builds a complete frame (header + payload) in a fresh buffer.
    pub fn encode(&self, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0u8; DATA_HEADER_BYTES + payload.len()];
        let (header, body) = frame.split_at_mut(DATA_HEADER_BYTES);
        self.encode_header(
            header
                .try_into()
                .expect("header slice has the header length"),
        );
        body.copy_from_slice(payload);
        frame
    }

    /// Splits a received message into header and payload, validating only the framing.
    /// Whether index and offset make sense is the receiver state machine's call.
    pub fn decode(message: &[u8]) -> Result<(DataFrame, &[u8]), FrameError> {
        if message.len() < DATA_HEADER_BYTES {
            return Err(FrameError::TooShort(message.len()));
        }
        if message.len() > MAX_DATA_FRAME_BYTES {
            return Err(FrameError::TooLong(message.len()));
        }
        if message[0] != FRAME_KIND_DATA {
            return Err(FrameError::UnknownKind(message[0]));
        }
        let index = u32::from_be_bytes(message[1..5].try_into().expect("4 bytes"));
        let offset = u64::from_be_bytes(message[5..13].try_into().expect("8 bytes"));
        Ok((DataFrame { index, offset }, &message[DATA_HEADER_BYTES..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_frame_round_trips() {
        let frame = DataFrame {
            index: 7,
            offset: (1 << 40) + 3,
        };
        let bytes = frame.encode(b"hello");
        assert_eq!(bytes.len(), DATA_HEADER_BYTES + 5);
        let (decoded, payload) = DataFrame::decode(&bytes).unwrap();
        assert_eq!(decoded, frame);
        assert_eq!(payload, b"hello");
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert_eq!(DataFrame::decode(&[1, 2, 3]), Err(FrameError::TooShort(3)));
        let mut bytes = DataFrame {
            index: 0,
            offset: 0,
        }
        .encode(b"");
        bytes[0] = 9;
        assert_eq!(DataFrame::decode(&bytes), Err(FrameError::UnknownKind(9)));
        let huge = vec![1u8; MAX_DATA_FRAME_BYTES + 1];
        assert_eq!(
            DataFrame::decode(&huge),
            Err(FrameError::TooLong(MAX_DATA_FRAME_BYTES + 1))
        );
    }

    #[test]
    fn the_largest_frame_a_receiver_accepts_decodes() {
        let payload = vec![5u8; data_payload_budget(MAX_DATA_FRAME_BYTES)];
        let bytes = DataFrame {
            index: 1,
            offset: 9,
        }
        .encode(&payload);
        assert_eq!(bytes.len(), MAX_DATA_FRAME_BYTES);
        let (_, decoded) = DataFrame::decode(&bytes).unwrap();
        assert_eq!(decoded.len(), payload.len());
    }

    #[test]
    fn frames_follow_the_negotiated_message_size_within_bounds() {
        // Both peers at PeerDrop's limit: the largest frames.
        assert_eq!(
            data_payload_budget(MAX_DATA_FRAME_BYTES),
            MAX_DATA_FRAME_BYTES - DATA_HEADER_BYTES
        );
        // A peer that advertises the RFC 8841 default: 64 KiB frames.
        assert_eq!(data_payload_budget(65_536), MAX_DATA_PAYLOAD);
        // In between: exactly what was negotiated.
        assert_eq!(data_payload_budget(100_000), 100_000 - DATA_HEADER_BYTES);
        // Never beyond what a receiver accepts, never below what every connection carries.
        assert_eq!(
            data_payload_budget(usize::MAX),
            MAX_DATA_FRAME_BYTES - DATA_HEADER_BYTES
        );
        assert_eq!(data_payload_budget(1_000), MAX_DATA_PAYLOAD);
    }

    #[test]
    fn reasons_are_cut_at_a_character_boundary_and_short_ones_kept() {
        assert_eq!(bound_reason("disk full"), "disk full");
        let exact = "a".repeat(MAX_REASON_BYTES);
        assert_eq!(bound_reason(&exact), exact);
        // Three-byte characters: a cut in the middle of one must move back to its start.
        let long = "€".repeat(MAX_REASON_BYTES);
        let cut = bound_reason(&long);
        assert!(cut.len() <= MAX_REASON_BYTES, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert!(cut.trim_end_matches('…').chars().all(|c| c == '€'));
    }

    #[test]
    fn the_worst_refusal_still_fits_a_control_message() {
        // The costliest text in JSON: control characters, six bytes each (`\u0001`), far
        // beyond any limit.
        let hostile: String = "\u{1}".repeat(300_000);
        let cause = Some(FailureCause::HashMismatch);
        for msg in [
            ControlMsg::Error {
                message: hostile.clone(),
                cause,
            },
            ControlMsg::Decline {
                reason: hostile.clone(),
            },
            ControlMsg::Cancel {
                reason: hostile.clone(),
            },
            ControlMsg::FileFailed {
                index: u32::MAX,
                reason: hostile.clone(),
                cause,
            },
        ] {
            assert!(
                msg.to_json().len() > MAX_MESSAGE_BYTES,
                "the test is a worst case"
            );
            let json = msg.bounded().to_json();
            assert!(json.len() <= MAX_MESSAGE_BYTES, "{} bytes", json.len());
            // Still a message the other side reads.
            assert!(ControlMsg::from_json(&json).is_ok());
        }
        let small = ControlMsg::FileOk { index: 3 };
        assert_eq!(small.clone().bounded(), small);
    }

    #[test]
    fn control_messages_have_documented_shape() {
        let msg = ControlMsg::FileDone {
            index: 2,
            blake3: "ab".into(),
        };
        assert_eq!(
            msg.to_json(),
            r#"{"type":"file_done","index":2,"blake3":"ab"}"#
        );
        let accept = ControlMsg::from_json(r#"{"type":"accept"}"#).unwrap();
        assert_eq!(accept, ControlMsg::Accept { resume: vec![] });
    }
}
