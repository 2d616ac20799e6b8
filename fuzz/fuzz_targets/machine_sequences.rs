//! The sender and receiver machines driven by arbitrary *sequences* of inputs — messages a
//! hostile peer may send in any order, data frames anywhere, decisions, disk results, lost
//! connections — not only single frames (issue 15). After every step the invariants hold:
//! - the receiver writes only the frame that just arrived, only after the person accepted,
//!   only inside a declared file; it verifies a file with its declared size;
//! - what it holds stays within its caps (files declared, pieces per file, bytes received);
//! - the sender streams only declared files, only non-empty ranges inside them;
//! - once finished, neither machine asks for anything but messages and events;
//! - time passes in jumps the fuzzer picks; a timer only ends the transfer or (the stall
//!   limit) its connection; after `handle_timeout(now)` no timer is still due
//!   (the machine finished, or its next deadline is later), and a finished machine wants no
//!   wake-up;
//! - nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::Duration;
use peerdrop_proto::transfer::{ByteRange, ControlMsg, FailureCause, FileEntry, ResumeEntry};
use uuid::Uuid;

use peerdrop_machine::receiver::{
    Decision, ReceiverMachine, RxAction, RxInput, Unsaved, MAX_RANGES_PER_FILE,
};
use peerdrop_machine::sender::{SenderMachine, TxAction, TxInput};
use peerdrop_machine::time::Timestamp;
use peerdrop_proto::transfer::MAX_FILES_PER_TRANSFER;

const NONCE_S: &str = "0101010101010101010101010101010101010101010101010101010101010101";
const NONCE_R: &str = "0202020202020202020202020202020202020202020202020202020202020202";

/// Reads choices out of the fuzzer's bytes; zeros once they run out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn done(&self) -> bool {
        self.0.is_empty()
    }
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    /// A typed failure cause, or none.
    fn cause(&mut self) -> Option<FailureCause> {
        match self.u8() % 3 {
            0 => None,
            1 => Some(FailureCause::DiskFull),
            _ => Some(FailureCause::HashMismatch),
        }
    }
    /// Whether this step lets time pass (and fires what is due) instead of an input, and by how much.
    fn wait(&mut self) -> Option<Duration> {
        (self.u8() % 8 == 7).then(|| Duration::from_millis(u64::from(self.u16()) * 4))
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    /// Mostly small numbers (where the interesting edges are), sometimes any.
    fn size(&mut self) -> u64 {
        match self.u8() % 4 {
            0 => u64::from(self.u8()),
            1 | 2 => u64::from(self.u16()),
            _ => self.u64(),
        }
    }
    fn index(&mut self) -> u32 {
        match self.u8() % 8 {
            7 => self.u32(),
            small => u32::from(small % 4),
        }
    }
    fn text(&mut self) -> String {
        let len = usize::from(self.u8() % 24);
        const PIECES: [&str; 8] = ["a", "/", "..", ".", "\\", "\u{202e}", "C:", "\0"];
        (0..len)
            .map(|_| PIECES[usize::from(self.u8() % 8)])
            .collect()
    }
    fn hash(&mut self) -> String {
        match self.u8() % 3 {
            0 => "ab".repeat(32),
            1 => blake3::hash(&[self.u8()]).to_hex().to_string(),
            _ => self.text(),
        }
    }
    fn ranges(&mut self) -> Vec<ByteRange> {
        (0..self.u8() % 4)
            .map(|_| ByteRange {
                start: self.size(),
                end: self.size(),
            })
            .collect()
    }
}

/// A control message a hostile peer might send at any point.
fn control(b: &mut Bytes) -> ControlMsg {
    match b.u8() % 14 {
        0 => ControlMsg::SasCommit {
            commit: if b.u8() % 2 == 0 {
                peerdrop_machine::sas::commitment(NONCE_S)
            } else {
                b.text()
            },
        },
        1 => ControlMsg::SasReveal {
            nonce: if b.u8() % 2 == 0 {
                NONCE_S.into()
            } else {
                b.text()
            },
        },
        2 => ControlMsg::SasNonce {
            nonce: if b.u8() % 2 == 0 {
                NONCE_R.into()
            } else {
                b.text()
            },
        },
        3 => ControlMsg::Offer {
            v: if b.u8() % 4 == 0 { b.u32() } else { 1 },
            transfer_id: Uuid::from_u128(u128::from(b.u8() % 2)),
            sender_name: b.text(),
            file_count: if b.u8() % 4 == 0 {
                b.u32()
            } else {
                u32::from(b.u8() % 5)
            },
            total_size: b.size(),
            text: (b.u8() % 4 == 0).then(|| b.text()),
        },
        4 => ControlMsg::Files {
            entries: (0..b.u8() % 5)
                .map(|_| FileEntry {
                    index: b.index(),
                    path: if b.u8() % 2 == 0 {
                        format!("f{}", b.u8() % 4)
                    } else {
                        b.text()
                    },
                    size: b.size(),
                })
                .collect(),
        },
        5 => ControlMsg::Accept {
            resume: (0..b.u8() % 3)
                .map(|_| ResumeEntry {
                    index: b.index(),
                    have: b.ranges(),
                })
                .collect(),
        },
        6 => ControlMsg::FileDone {
            index: b.index(),
            blake3: b.hash(),
        },
        7 => ControlMsg::FileOk { index: b.index() },
        8 => ControlMsg::FileFailed {
            index: b.index(),
            reason: b.text(),
            cause: b.cause(),
        },
        9 => ControlMsg::Stored { bytes: b.size() },
        10 => ControlMsg::Decline { reason: b.text() },
        11 => ControlMsg::Cancel { reason: b.text() },
        12 => ControlMsg::Error {
            message: b.text(),
            cause: b.cause(),
        },
        _ => {
            // Any JSON the parser takes, to reach shapes the generator above does not make.
            let len = usize::from(b.u8());
            let raw: Vec<u8> = (0..len).map(|_| b.u8()).collect();
            std::str::from_utf8(&raw)
                .ok()
                .and_then(|t| ControlMsg::from_json(t).ok())
                .unwrap_or(ControlMsg::Stored { bytes: 0 })
        }
    }
}

fn receiver_input(b: &mut Bytes) -> RxInput {
    match b.u8() % 12 {
        0..=3 => RxInput::Control(control(b)),
        4 | 5 => RxInput::Data {
            index: b.index(),
            offset: b.size(),
            len: match b.u8() % 3 {
                0 => 0,
                1 => u64::from(b.u8()),
                _ => b.size() % (1 << 20),
            },
        },
        6 => RxInput::Decided(if b.u8() % 3 == 0 {
            Decision::Decline(b.text())
        } else {
            Decision::Accept
        }),
        7 => RxInput::Verified {
            index: b.index(),
            result: if b.u8() % 2 == 0 {
                Ok(b.text())
            } else {
                Err(Unsaved {
                    reason: b.text(),
                    cause: b.cause(),
                })
            },
        },
        8 => RxInput::ConnectionLost(b.text()),
        9 => RxInput::BadFrame(b.text()),
        10 => RxInput::DiskError {
            full: b.u8() % 2 == 0,
            reason: b.text(),
        },
        _ => match b.u8() % 3 {
            0 => RxInput::PeerGone,
            1 => RxInput::Fail(b.text()),
            _ => RxInput::LocalCancel(b.text()),
        },
    }
}

fn drive_receiver(b: &mut Bytes) {
    let mut now = Timestamp::ZERO;
    let mut rx = ReceiverMachine::new(now, peerdrop_machine::names::Platform::Unix, NONCE_R.into());
    let mut asked = false;
    let mut accepted = false;
    let mut finished = false;
    let mut succeeded = false;
    let mut steps = 0;
    while !b.done() && steps < 512 {
        steps += 1;
        if let Some(wait) = b.wait() {
            now = now + wait;
            for action in rx.handle_timeout(now) {
                match action {
                    RxAction::Finish(outcome) => {
                        finished = true;
                        succeeded = outcome.is_success();
                    }
                    // After a success, the sender had its time to close first.
                    RxAction::Close => assert!(succeeded, "a close grace only after a success"),
                    // The stall limit drops a stuck connection and waits for the sender.
                    RxAction::Send(_) | RxAction::Emit(_) | RxAction::AwaitReconnect => {}
                    other => panic!("a timer only ends the transfer or its connection, not {other:?}"),
                }
            }
            assert!(rx.poll_timeout().is_none_or(|at| at > now), "nothing left due");
            assert!(
                !rx.is_finished() || rx.poll_timeout().is_none() || succeeded,
                "a finished machine keeps no timer but the close grace after a success"
            );
            continue;
        }
        let input = receiver_input(b);
        if matches!(input, RxInput::Decided(Decision::Accept)) && asked {
            accepted = true;
        }
        let frame = match &input {
            RxInput::Data { index, offset, len } => Some((*index, *offset, *len)),
            _ => None,
        };
        let actions = rx.handle(now, input);
        let entries = rx.entries();
        assert!(entries.len() <= MAX_FILES_PER_TRANSFER as usize);
        for action in &actions {
            match action {
                RxAction::AskUser(summary) => {
                    asked = true;
                    let sum: u64 = entries.iter().map(|e| e.size).sum();
                    assert_eq!(summary.total_size, sum, "the prompt shows the real total");
                }
                RxAction::Write { index, offset } => {
                    assert!(!finished, "no write after the end");
                    assert!(accepted, "no write before the person accepted");
                    let (f_index, f_offset, len) = frame.expect("a write answers a frame");
                    assert_eq!(
                        (*index, *offset),
                        (f_index, f_offset),
                        "only the frame that arrived"
                    );
                    let entry = &entries[*index as usize];
                    assert!(offset.checked_add(len).is_some_and(|end| end <= entry.size));
                }
                RxAction::Verify { index, size, .. } => {
                    assert!(!finished);
                    assert_eq!(*size, entries[*index as usize].size);
                }
                RxAction::Finish(outcome) => {
                    finished = true;
                    succeeded = outcome.is_success();
                }
                RxAction::AwaitReconnect | RxAction::Authenticated { .. } => {
                    assert!(!finished)
                }
                RxAction::Close => assert!(succeeded, "a close grace only after a success"),
                RxAction::Send(_) | RxAction::Emit(_) => {}
            }
        }
        assert!(rx.bytes_received() <= rx.total_size());
        if finished {
            assert!(rx.is_finished());
        }
        for index in 0..entries.len() as u32 {
            assert!(rx.pieces(index) <= MAX_RANGES_PER_FILE + 1);
        }
    }
}

fn sender_input(b: &mut Bytes) -> TxInput {
    match b.u8() % 10 {
        0..=4 => TxInput::Control(control(b)),
        5 => TxInput::FileSent {
            index: b.index(),
            blake3: b.hash(),
        },
        6 => TxInput::ConnectionLost(b.text()),
        7 => TxInput::Reconnected,
        8 => TxInput::SourceError(b.text()),
        _ => match b.u8() % 5 {
            0 => TxInput::PeerGone,
            1 => TxInput::Fail(b.text()),
            2 => TxInput::Start,
            3 if b.u8() % 2 == 0 => TxInput::PeerLeft,
            4 => TxInput::Progress,
            _ => TxInput::LocalCancel(b.text()),
        },
    }
}

fn drive_sender(b: &mut Bytes) {
    let files: Vec<FileEntry> = (0..1 + b.u8() % 3)
        .map(|index| FileEntry {
            index: u32::from(index),
            path: format!("f{index}"),
            // The sender's own files (not the peer's word): real sizes, whose sum fits.
            size: b.size() % (1 << 48),
        })
        .collect();
    let mut tx = SenderMachine::new(Uuid::nil(), "sender".into(), files.clone(), NONCE_S.into());
    let mut now = Timestamp::ZERO;
    let mut finished = false;
    let mut steps = 0;
    let mut input = TxInput::Start;
    loop {
        for action in tx.handle(now, input) {
            match action {
                TxAction::Stream(jobs) => {
                    assert!(!finished, "no streaming after the end");
                    for job in jobs {
                        let entry = &files[job.index as usize];
                        let mut last_end = 0;
                        for range in &job.ranges {
                            assert!(range.start < range.end, "no empty range");
                            assert!(range.end <= entry.size, "inside the file");
                            assert!(range.start >= last_end, "in order, no overlap");
                            last_end = range.end;
                        }
                    }
                }
                TxAction::Finish(_) => finished = true,
                TxAction::Reconnect | TxAction::Authenticated { .. } => assert!(!finished),
                TxAction::Send(_) | TxAction::Emit(_) | TxAction::Allow { .. } => {}
            }
        }
        if finished {
            assert!(tx.is_finished());
        }
        steps += 1;
        if b.done() || steps >= 512 {
            break;
        }
        while let Some(wait) = b.wait() {
            now = now + wait;
            for action in tx.handle_timeout(now) {
                match action {
                    TxAction::Finish(_) => finished = true,
                    // The stall limit replaces a stuck connection.
                    TxAction::Send(_) | TxAction::Emit(_) | TxAction::Allow { .. } => {}
                    TxAction::Reconnect => assert!(!finished),
                    other => panic!("a timer only ends the transfer or its connection, not {other:?}"),
                }
            }
            assert!(tx.poll_timeout().is_none_or(|at| at > now), "nothing left due");
            assert!(!tx.is_finished() || tx.poll_timeout().is_none());
        }
        input = sender_input(b);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    if bytes.u8() % 2 == 0 {
        drive_receiver(&mut bytes);
    } else {
        drive_sender(&mut bytes);
    }
});
