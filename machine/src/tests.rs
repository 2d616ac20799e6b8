//! Scenario tests for the two machines, wired to each other by a tiny in-memory "driver".

use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::transfer::{
    ByteRange, ControlMsg, FailureCause, FileEntry, MAX_MESSAGE_BYTES, STORE_WINDOW,
};
use uuid::Uuid;

use super::receiver::{Decision, EarlierFile, ReceiverMachine, RxAction, RxInput, Unsaved};
use super::sender::{SenderMachine, StreamJob, TxAction, TxInput};
use super::Outcome;
use crate::names::Platform;
use crate::time::Timestamp;

/// These scenarios never let time pass; the timer scenarios are in `sim`.
const T0: Timestamp = Timestamp::ZERO;

const HASH_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const HASH_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn entry(index: u32, path: &str, size: u64) -> FileEntry {
    FileEntry {
        index,
        path: path.into(),
        size,
    }
}

fn sent(actions: &[TxAction]) -> Vec<ControlMsg> {
    actions
        .iter()
        .filter_map(|a| match a {
            TxAction::Send(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn rx_sent(actions: &[RxAction]) -> Vec<ControlMsg> {
    actions
        .iter()
        .filter_map(|a| match a {
            RxAction::Send(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn rx_finish(actions: &[RxAction]) -> Option<Outcome> {
    actions.iter().find_map(|a| match a {
        RxAction::Finish(o) => Some(o.clone()),
        _ => None,
    })
}

fn tx_finish(actions: &[TxAction]) -> Option<Outcome> {
    actions.iter().find_map(|a| match a {
        TxAction::Finish(o) => Some(o.clone()),
        _ => None,
    })
}

const NONCE_S: &str = "5555555555555555555555555555555555555555555555555555555555555555";
const NONCE_R: &str = "7777777777777777777777777777777777777777777777777777777777777777";

fn sender(files: Vec<FileEntry>) -> SenderMachine {
    SenderMachine::new(Uuid::new_v4(), "Ben's laptop".into(), files, NONCE_S.into())
}

fn receiver() -> ReceiverMachine {
    ReceiverMachine::new(T0, Platform::Unix, NONCE_R.into())
}

/// A receiver that has the sender's commitment and an offer of `file_count` files and
/// `total_size` bytes, waiting for the file list (what a hostile sender controls next).
fn announced(file_count: u32, total_size: u64) -> ReceiverMachine {
    offer_to_fresh_receiver(file_count, total_size, None).0
}

/// A fresh receiver given the sender's commitment and an offer (`text` for a text offer), and
/// what it did with the offer.
fn offer_to_fresh_receiver(
    file_count: u32,
    total_size: u64,
    text: Option<String>,
) -> (ReceiverMachine, Vec<RxAction>) {
    let mut rx = receiver();
    rx.handle(
        T0,
        RxInput::Control(ControlMsg::SasCommit {
            commit: crate::sas::commitment(NONCE_S),
        }),
    );
    let actions = rx.handle(
        T0,
        RxInput::Control(ControlMsg::Offer {
            v: peerdrop_proto::PROTOCOL_VERSION,
            transfer_id: Uuid::nil(),
            sender_name: "x".into(),
            file_count,
            total_size,
            text,
        }),
    );
    (rx, actions)
}

/// Runs the opening of a transfer: the sender's commitment, offer and file list reach the
/// receiver, the receiver's nonce reaches the sender, the sender's reveal reaches the
/// receiver. Returns every action of the receiver (the accept/decline prompt among them).
fn deliver_offer(tx: &mut SenderMachine, rx: &mut ReceiverMachine) -> Vec<RxAction> {
    let mut out = Vec::new();
    let mut to_rx = sent(&tx.handle(T0, TxInput::Start));
    while !to_rx.is_empty() {
        let mut to_tx = Vec::new();
        for msg in std::mem::take(&mut to_rx) {
            let actions = rx.handle(T0, RxInput::Control(msg));
            to_tx.extend(
                rx_sent(&actions)
                    .into_iter()
                    .filter(|m| matches!(m, ControlMsg::SasNonce { .. })),
            );
            out.extend(actions);
        }
        for msg in to_tx {
            to_rx.extend(sent(&tx.handle(T0, TxInput::Control(msg))));
        }
    }
    out
}

fn offered(files: Vec<FileEntry>) -> (SenderMachine, ReceiverMachine, Vec<RxAction>) {
    let mut tx = sender(files);
    let mut rx = receiver();
    let actions = deliver_offer(&mut tx, &mut rx);
    (tx, rx, actions)
}

/// Delivers every control message of `actions` to the other machine.
fn to_tx(tx: &mut SenderMachine, actions: &[RxAction]) -> Vec<TxAction> {
    rx_sent(actions)
        .into_iter()
        .flat_map(|m| tx.handle(T0, TxInput::Control(m)))
        .collect()
}

fn to_rx(rx: &mut ReceiverMachine, actions: &[TxAction]) -> Vec<RxAction> {
    sent(actions)
        .into_iter()
        .flat_map(|m| rx.handle(T0, RxInput::Control(m)))
        .collect()
}

fn jobs(actions: &[TxAction]) -> Vec<StreamJob> {
    actions
        .iter()
        .find_map(|a| match a {
            TxAction::Stream(j) => Some(j.clone()),
            _ => None,
        })
        .expect("a stream action")
}

#[test]
fn happy_path_two_files_end_to_end() {
    let (mut tx, mut rx, actions) = offered(vec![entry(0, "a.txt", 10), entry(1, "dir/b.bin", 0)]);
    let summary = actions
        .iter()
        .find_map(|a| match a {
            RxAction::AskUser(s) => Some(s.clone()),
            _ => None,
        })
        .expect("receiver asks the user");
    assert_eq!(summary.from, "Ben's laptop");
    assert_eq!(summary.total_size, 10);
    assert_eq!(summary.files.len(), 2);

    let accept = rx.handle(T0, RxInput::Decided(Decision::Accept));
    let accept_msgs = rx_sent(&accept);
    assert_eq!(accept_msgs, vec![ControlMsg::Accept { resume: vec![] }]);

    let stream = tx.handle(T0, TxInput::Control(accept_msgs[0].clone()));
    let jobs = stream
        .iter()
        .find_map(|a| match a {
            TxAction::Stream(j) => Some(j.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        jobs,
        vec![
            StreamJob {
                index: 0,
                ranges: vec![ByteRange { start: 0, end: 10 }]
            },
            StreamJob {
                index: 1,
                ranges: vec![]
            },
        ]
    );

    // Data for file 0 arrives in two frames; file_done may overtake data (separate channels).
    let done0 = sent(&tx.handle(
        T0,
        TxInput::FileSent {
            index: 0,
            blake3: HASH_A.into(),
        },
    ));
    assert!(
        rx.handle(T0, RxInput::Control(done0[0].clone())).is_empty(),
        "not complete yet"
    );
    assert_eq!(
        rx.handle(
            T0,
            RxInput::Data {
                index: 0,
                offset: 0,
                len: 4
            }
        ),
        vec![RxAction::Write {
            index: 0,
            offset: 0
        }]
    );
    let last = rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 4,
            len: 6,
        },
    );
    assert!(matches!(
        last[1],
        RxAction::Verify {
            index: 0,
            size: 10,
            ..
        }
    ));

    // The empty file needs no data at all.
    let done1 = sent(&tx.handle(
        T0,
        TxInput::FileSent {
            index: 1,
            blake3: HASH_B.into(),
        },
    ));
    let verify1 = rx.handle(T0, RxInput::Control(done1[0].clone()));
    assert!(
        matches!(&verify1[0], RxAction::Verify { index: 1, size: 0, path, .. } if path.display_string() == "dir/b.bin")
    );

    let ok0 = rx.handle(
        T0,
        RxInput::Verified {
            index: 0,
            result: Ok("a.txt".into()),
        },
    );
    assert_eq!(rx_finish(&ok0), None);
    let ok1 = rx.handle(
        T0,
        RxInput::Verified {
            index: 1,
            result: Ok("dir/b.bin".into()),
        },
    );
    assert_eq!(rx_finish(&ok1), Some(Outcome::Completed));
    assert!(rx.is_finished());

    let mut tx_out = Vec::new();
    for msg in rx_sent(&ok0).into_iter().chain(rx_sent(&ok1)) {
        tx_out.extend(tx.handle(T0, TxInput::Control(msg)));
    }
    assert_eq!(tx_finish(&tx_out), Some(Outcome::Completed));
    let verified = tx_out
        .iter()
        .filter(|a| matches!(a, TxAction::Emit(TransferEvent::FileVerified { .. })))
        .count();
    assert_eq!(verified, 2);
}

#[test]
fn decline_reaches_sender_with_reason() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 1)]);
    let out = rx.handle(T0, RxInput::Decided(Decision::Decline("not now".into())));
    assert_eq!(rx_finish(&out), Some(Outcome::Declined("not now".into())));
    let tx_out = tx.handle(T0, TxInput::Control(rx_sent(&out)[0].clone()));
    match tx_finish(&tx_out) {
        Some(Outcome::Declined(reason)) => {
            assert!(reason.contains("declined") && reason.contains("not now"))
        }
        other => panic!("expected declined, got {other:?}"),
    }
}

#[test]
fn hostile_paths_are_refused_before_asking_the_user() {
    for hostile in [
        "../evil",
        "/etc/passwd",
        "a/../../b",
        "C:/Windows/x",
        "..\\..\\evil",
        "ok/\u{1b}[2Jx",
        "a\0b",
    ] {
        let (mut tx, _rx, actions) = offered(vec![entry(0, "fine.txt", 1), entry(1, hostile, 1)]);
        assert!(
            !actions.iter().any(|a| matches!(a, RxAction::AskUser(_))),
            "{hostile:?} must not reach the user"
        );
        match rx_finish(&actions) {
            Some(Outcome::Refused(reason)) => {
                assert!(reason.contains("refused"), "{hostile:?}: {reason}")
            }
            other => panic!("{hostile:?}: expected refusal, got {other:?}"),
        }
        let refusal: Vec<ControlMsg> = rx_sent(&actions)
            .into_iter()
            .filter(|m| !matches!(m, ControlMsg::SasNonce { .. }))
            .collect();
        assert!(
            matches!(&refusal[0], ControlMsg::Error { message, .. } if message.contains("unsafe file name"))
        );
        let tx_out = tx.handle(T0, TxInput::Control(refusal[0].clone()));
        assert!(matches!(tx_finish(&tx_out), Some(Outcome::Refused(r)) if r.contains("refused")));
    }
}

#[test]
fn duplicate_and_file_folder_clashes_are_refused() {
    let (_, _, dup) = offered(vec![entry(0, "a.txt", 1), entry(1, "a.txt", 1)]);
    assert!(matches!(rx_finish(&dup), Some(Outcome::Refused(r)) if r.contains("twice")));
    let (_, _, clash) = offered(vec![entry(0, "a", 1), entry(1, "a/b", 1)]);
    assert!(
        matches!(rx_finish(&clash), Some(Outcome::Refused(r)) if r.contains("both a file and a folder"))
    );
}

#[test]
fn data_past_end_of_file_is_a_protocol_error() {
    let (_, mut rx, _) = offered(vec![entry(0, "a", 10)]);
    rx.handle(T0, RxInput::Decided(Decision::Accept));
    let out = rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 8,
            len: 4,
        },
    );
    assert!(matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("past the end")));
    assert!(
        !out.iter().any(|a| matches!(a, RxAction::Write { .. })),
        "nothing is written"
    );
}

#[test]
fn one_byte_frames_at_descending_offsets_cannot_fragment_a_file_without_bound() {
    let size = 1 << 20;
    let (_, mut rx, _) = offered(vec![entry(0, "a", size)]);
    rx.handle(T0, RxInput::Decided(Decision::Accept));
    // Every other byte, from the end down: each frame is a new hole-separated range at the
    // front of the set. Refused once the cap is passed, long before the million frames.
    let mut refused_after = None;
    for (n, offset) in (0..size).rev().step_by(2).enumerate() {
        let out = rx.handle(
            T0,
            RxInput::Data {
                index: 0,
                offset,
                len: 1,
            },
        );
        if let Some(outcome) = rx_finish(&out) {
            assert!(
                matches!(&outcome, Outcome::Failed(r) if r.contains("separate pieces")),
                "{outcome:?}"
            );
            assert!(
                !out.iter().any(|a| matches!(a, RxAction::Write { .. })),
                "nothing written"
            );
            refused_after = Some(n + 1);
            break;
        }
    }
    assert_eq!(
        refused_after,
        Some(super::receiver::MAX_RANGES_PER_FILE + 1)
    );
}

#[test]
fn data_before_accept_and_for_unknown_files_is_rejected() {
    let (_, mut rx, _) = offered(vec![entry(0, "a", 10)]);
    let early = rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 0,
            len: 1,
        },
    );
    assert!(
        matches!(rx_finish(&early), Some(Outcome::Failed(r)) if r.contains("before the transfer was accepted"))
    );

    let (_, mut rx, _) = offered(vec![entry(0, "a", 10)]);
    rx.handle(T0, RxInput::Decided(Decision::Accept));
    let unknown = rx.handle(
        T0,
        RxInput::Data {
            index: 5,
            offset: 0,
            len: 1,
        },
    );
    assert!(
        matches!(rx_finish(&unknown), Some(Outcome::Failed(r)) if r.contains("unknown file 5"))
    );
}

#[test]
fn duplicate_frames_are_harmless() {
    let (_, mut rx, _) = offered(vec![entry(0, "a", 10)]);
    rx.handle(T0, RxInput::Decided(Decision::Accept));
    rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 0,
            len: 5,
        },
    );
    rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 0,
            len: 5,
        },
    );
    assert_eq!(rx.bytes_received(), 5);
    rx.handle(
        T0,
        RxInput::Control(ControlMsg::FileDone {
            index: 0,
            blake3: HASH_A.into(),
        }),
    );
    let out = rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 5,
            len: 5,
        },
    );
    assert!(out.iter().any(|a| matches!(a, RxAction::Verify { .. })));
    // A late duplicate after verification started changes nothing.
    assert!(rx
        .handle(
            T0,
            RxInput::Data {
                index: 0,
                offset: 0,
                len: 5
            }
        )
        .is_empty());
}

#[test]
fn hash_mismatch_fails_transfer_on_both_sides() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 3)]);
    let accept = rx_sent(&rx.handle(T0, RxInput::Decided(Decision::Accept)));
    tx.handle(T0, TxInput::Control(accept[0].clone()));
    let done = sent(&tx.handle(
        T0,
        TxInput::FileSent {
            index: 0,
            blake3: HASH_A.into(),
        },
    ));
    rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 0,
            len: 3,
        },
    );
    rx.handle(T0, RxInput::Control(done[0].clone()));
    let out = rx.handle(
        T0,
        RxInput::Verified {
            index: 0,
            result: Err(Unsaved {
                reason: "BLAKE3 mismatch".into(),
                cause: Some(FailureCause::HashMismatch),
            }),
        },
    );
    // Both sides end with the typed cause (the CLI's exit code, the app's message).
    assert!(matches!(rx_finish(&out), Some(Outcome::HashMismatch(r)) if r.contains("mismatch")));
    assert!(matches!(
        &rx_sent(&out)[0],
        ControlMsg::FileFailed {
            cause: Some(FailureCause::HashMismatch),
            ..
        }
    ));
    let tx_out = tx.handle(T0, TxInput::Control(rx_sent(&out)[0].clone()));
    assert!(matches!(tx_finish(&tx_out), Some(Outcome::HashMismatch(r)) if r.contains("mismatch")));
    assert!(tx_out.iter().any(|a| matches!(
        a,
        TxAction::Emit(TransferEvent::Failed {
            cause: Some(FailureCause::HashMismatch),
            ..
        })
    )));
}

#[test]
fn a_full_disk_is_its_own_ending_on_both_sides_and_other_disk_errors_are_not() {
    for (full, disk_full) in [(true, true), (false, false)] {
        let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 100)]);
        let accept = rx_sent(&rx.handle(T0, RxInput::Decided(Decision::Accept)));
        tx.handle(T0, TxInput::Control(accept[0].clone()));
        let out = rx.handle(
            T0,
            RxInput::DiskError {
                full,
                reason: "disk full while writing x.part".into(),
            },
        );
        let rx_end = rx_finish(&out).unwrap();
        let tx_end = tx_finish(&tx.handle(T0, TxInput::Control(rx_sent(&out)[0].clone()))).unwrap();
        for end in [&rx_end, &tx_end] {
            assert_eq!(matches!(end, Outcome::DiskFull(_)), disk_full, "{end:?}");
            assert_eq!(matches!(end, Outcome::Failed(_)), !disk_full, "{end:?}");
            assert!(end.reason().contains("disk full while writing"));
        }
        assert_eq!(tx_end.cause(), full.then_some(FailureCause::DiskFull));
    }
}

#[test]
fn files_that_fail_for_different_causes_end_as_a_plain_failure() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 0), entry(1, "b", 0)]);
    let accept = rx_sent(&rx.handle(T0, RxInput::Decided(Decision::Accept)));
    tx.handle(T0, TxInput::Control(accept[0].clone()));
    let mut to_sender = Vec::new();
    for (index, cause) in [(0, Some(FailureCause::HashMismatch)), (1, None)] {
        for msg in sent(&tx.handle(
            T0,
            TxInput::FileSent {
                index,
                blake3: HASH_A.into(),
            },
        )) {
            rx.handle(T0, RxInput::Control(msg));
        }
        let out = rx.handle(
            T0,
            RxInput::Verified {
                index,
                result: Err(Unsaved {
                    reason: "no".into(),
                    cause,
                }),
            },
        );
        to_sender.extend(rx_sent(&out));
        if index == 1 {
            assert!(matches!(rx_finish(&out), Some(Outcome::Failed(_))));
        }
    }
    let mut tx_end = None;
    for msg in to_sender {
        tx_end = tx_end.or(tx_finish(&tx.handle(T0, TxInput::Control(msg))));
    }
    assert!(matches!(tx_end, Some(Outcome::Failed(_))), "{tx_end:?}");
}

#[test]
fn cancel_mid_file_from_either_side() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 100)]);
    let accept = rx_sent(&rx.handle(T0, RxInput::Decided(Decision::Accept)));
    tx.handle(T0, TxInput::Control(accept[0].clone()));
    rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 0,
            len: 50,
        },
    );

    let tx_cancel = tx.handle(T0, TxInput::LocalCancel("user pressed cancel".into()));
    assert!(matches!(tx_finish(&tx_cancel), Some(Outcome::Cancelled(_))));
    let rx_out = rx.handle(T0, RxInput::Control(sent(&tx_cancel)[0].clone()));
    assert!(
        matches!(rx_finish(&rx_out), Some(Outcome::Cancelled(r)) if r.contains("sender cancelled"))
    );

    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 100)]);
    let accept = rx_sent(&rx.handle(T0, RxInput::Decided(Decision::Accept)));
    tx.handle(T0, TxInput::Control(accept[0].clone()));
    let rx_cancel = rx.handle(T0, RxInput::LocalCancel("changed my mind".into()));
    let tx_out = tx.handle(T0, TxInput::Control(rx_sent(&rx_cancel)[0].clone()));
    assert!(
        matches!(tx_finish(&tx_out), Some(Outcome::Cancelled(r)) if r.contains("receiver cancelled"))
    );
}

#[test]
fn peer_gone_ends_both_machines() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 100)]);
    assert!(
        matches!(tx_finish(&tx.handle(T0, TxInput::PeerGone)), Some(Outcome::Disconnected(r)) if r == "peer disconnected")
    );
    assert!(
        matches!(rx_finish(&rx.handle(T0, RxInput::PeerGone)), Some(Outcome::Disconnected(r)) if r == "peer disconnected")
    );
    assert!(
        tx.handle(T0, TxInput::Control(ControlMsg::FileOk { index: 0 }))
            .is_empty(),
        "finished machines stay quiet"
    );
}

#[test]
fn resume_sends_only_missing_ranges() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 100)]);
    rx.handle(
        T0,
        RxInput::EarlierRun(vec![EarlierFile::Partial(vec![ByteRange {
            start: 0,
            end: 60,
        }])]),
    );
    let accept = rx_sent(&rx.handle(T0, RxInput::Decided(Decision::Accept)));
    let out = tx.handle(T0, TxInput::Control(accept[0].clone()));
    assert!(out.contains(&TxAction::Stream(vec![StreamJob {
        index: 0,
        ranges: vec![ByteRange {
            start: 60,
            end: 100
        }]
    }])));
    assert_eq!(tx.skipped_bytes(), 60);
}

#[test]
fn large_file_lists_are_chunked_under_the_message_limit() {
    let files: Vec<FileEntry> = (0..5000)
        .map(|i| entry(i, &format!("folder/file-{i:05}.dat"), 1))
        .collect();
    let mut tx = sender(files);
    let msgs = sent(&tx.handle(T0, TxInput::Start));
    assert!(msgs.len() > 2, "5000 entries need several chunks");
    for m in &msgs {
        assert!(
            m.to_json().len() <= MAX_MESSAGE_BYTES,
            "message of {} bytes",
            m.to_json().len()
        );
    }
    let mut rx = receiver();
    let mut nonce = Vec::new();
    for m in msgs {
        nonce.extend(rx_sent(&rx.handle(T0, RxInput::Control(m))));
    }
    assert_eq!(rx.file_count(), 5000);
    let reveal = sent(&tx.handle(T0, TxInput::Control(nonce[0].clone())));
    let asked = rx
        .handle(T0, RxInput::Control(reveal[0].clone()))
        .iter()
        .any(|a| matches!(a, RxAction::AskUser(_)));
    assert!(asked);
}

#[test]
fn wrong_total_size_is_refused() {
    let mut rx = announced(1, 5);
    let out = rx.handle(
        T0,
        RxInput::Control(ControlMsg::Files {
            entries: vec![entry(0, "a", 6)],
        }),
    );
    assert!(matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("add up")));
}

#[test]
fn file_sizes_that_overflow_never_show_a_small_total() {
    // 2^63 + 2^63 + 5 wraps to 5 in unchecked release arithmetic.
    let mut rx = announced(3, 5);
    let out = rx.handle(
        T0,
        RxInput::Control(ControlMsg::Files {
            entries: vec![
                entry(0, "a", 1 << 63),
                entry(1, "b", 1 << 63),
                entry(2, "c", 5),
            ],
        }),
    );
    assert!(
        matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("more than 2^64")),
        "{out:?}"
    );
    assert!(
        !out.iter().any(|a| matches!(a, RxAction::AskUser(_))),
        "no prompt for an offer whose sizes overflow"
    );
}

#[test]
fn a_huge_hostile_name_gets_a_short_refusal() {
    // 21,000 RIGHT-TO-LEFT OVERRIDEs: quoting it whole made a 168 KB refusal, larger than
    // the control channel's own message limit.
    let hostile = "\u{202E}".repeat(21_000);
    let (_tx, _rx, out) = offered(vec![entry(0, &hostile, 1)]);
    let sent = rx_sent(&out);
    let message = sent
        .iter()
        .find_map(|m| match m {
            ControlMsg::Error { message, .. } => Some(message.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("expected a refusal, got {sent:?}"));
    assert!(message.contains("unsafe file name"), "{message}");
    assert!(message.len() < 512, "refusal is {} bytes", message.len());
    assert!(
        !message.contains('\u{202E}'),
        "the override is escaped: {message}"
    );
}

/// What `peerdrop-core`'s receiver hands the machine for a control message it cannot read: the
/// decoder's error, which quotes the offending value whole.
fn unreadable_control_message(text: &str) -> RxInput {
    let error = ControlMsg::from_json(text).expect_err("not a control message");
    RxInput::BadFrame(format!("unreadable control message: {error}"))
}

/// Asserts that every message in `sent` fits the control channel.
fn all_fit(sent: &[ControlMsg]) {
    assert!(!sent.is_empty(), "something is sent");
    for m in sent {
        let len = m.to_json().len();
        assert!(len <= MAX_MESSAGE_BYTES, "a {len}-byte message: {m:?}");
    }
}

#[test]
fn refusals_and_errors_never_outgrow_the_control_message_limit() {
    // The worst a peer can provoke: a 64 KiB message whose one string the decoder quotes with
    // every quote escaped again (`\"` → `\\\"`), and control characters (six bytes in JSON).
    let quotes = "\\\"".repeat(30_000);
    let hostile = format!(r#"{{"type":"file_ok","index":"{quotes}"}}"#);
    assert!(hostile.len() <= MAX_MESSAGE_BYTES);
    let mut rx = receiver();
    all_fit(&rx_sent(
        &rx.handle(T0, unreadable_control_message(&hostile)),
    ));
    let unknown = format!(r#"{{"type":"{}"}}"#, "\\u0001".repeat(10_000));
    let mut rx = receiver();
    all_fit(&rx_sent(
        &rx.handle(T0, unreadable_control_message(&unknown)),
    ));

    // Local reasons of any length (an OS error quoting a path, a person's decline).
    let long = "\u{1}\"".repeat(200_000);
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 1)]);
    all_fit(&rx_sent(
        &rx.handle(T0, RxInput::Decided(Decision::Decline(long.clone()))),
    ));
    all_fit(&sent(&tx.handle(T0, TxInput::SourceError(long.clone()))));
    let (mut tx, mut rx) = streaming();
    all_fit(&sent(&tx.handle(T0, TxInput::Fail(long.clone()))));
    all_fit(&rx_sent(&rx.handle(
        T0,
        RxInput::DiskError {
            full: true,
            reason: long.clone(),
        },
    )));
    let (mut tx, mut rx) = streaming();
    all_fit(&sent(&tx.handle(T0, TxInput::LocalCancel(long.clone()))));
    all_fit(&rx_sent(&rx.handle(T0, RxInput::LocalCancel(long.clone()))));
    let (_tx, mut rx) = streaming();
    rx.handle(
        T0,
        RxInput::Data {
            index: 1,
            offset: 0,
            len: 10,
        },
    );
    let verify = rx.handle(
        T0,
        RxInput::Control(ControlMsg::FileDone {
            index: 1,
            blake3: HASH_A.into(),
        }),
    );
    assert!(
        verify.iter().any(|a| matches!(a, RxAction::Verify { .. })),
        "{verify:?}"
    );
    let failed = rx.handle(
        T0,
        RxInput::Verified {
            index: 1,
            result: Err(Unsaved::other(long)),
        },
    );
    all_fit(&rx_sent(&failed));
}

#[test]
fn a_manifest_of_huge_deep_paths_is_refused_before_the_prompt() {
    let long = format!("{}/f", "d/".repeat(2000)); // ≈ 4 KB, within the per-path limit
    let count = super::receiver::MAX_MANIFEST_PATH_BYTES / long.len() + 10;
    let mut rx = announced(count as u32, count as u64);
    let mut refused = None;
    for chunk_start in (0..count).step_by(1000) {
        let entries = (chunk_start..(chunk_start + 1000).min(count))
            .map(|i| entry(i as u32, &long, 1))
            .collect();
        let out = rx.handle(T0, RxInput::Control(ControlMsg::Files { entries }));
        assert!(
            !out.iter().any(|a| matches!(a, RxAction::AskUser(_))),
            "never asked"
        );
        if let Some(outcome) = rx_finish(&out) {
            refused = Some(outcome);
            break;
        }
    }
    assert!(
        matches!(&refused, Some(Outcome::Failed(r)) if r.contains("MiB of names")),
        "{refused:?}"
    );
}

#[test]
fn verification_handshake_comes_before_the_prompt() {
    let mut tx = sender(vec![entry(0, "a", 1)]);
    let mut rx = receiver();
    let start = sent(&tx.handle(T0, TxInput::Start));
    assert!(
        matches!(&start[0], ControlMsg::SasCommit { commit } if *commit == crate::sas::commitment(NONCE_S)),
        "the commitment goes first: {start:?}"
    );
    let mut rx_out = Vec::new();
    for m in start {
        rx_out.extend(rx.handle(T0, RxInput::Control(m)));
    }
    assert!(
        !rx_out.iter().any(|a| matches!(a, RxAction::AskUser(_))),
        "no prompt before the phrase is known"
    );
    assert_eq!(
        rx_sent(&rx_out),
        vec![ControlMsg::SasNonce {
            nonce: NONCE_R.into()
        }]
    );
    let tx_out = to_tx(&mut tx, &rx_out);
    assert!(tx_out.contains(&TxAction::Authenticated {
        sender_nonce: NONCE_S.into(),
        receiver_nonce: NONCE_R.into()
    }));
    let rx_out = to_rx(&mut rx, &tx_out);
    assert_eq!(
        rx_out[0],
        RxAction::Authenticated {
            sender_nonce: NONCE_S.into(),
            receiver_nonce: NONCE_R.into()
        }
    );
    assert!(rx_out.iter().any(|a| matches!(a, RxAction::AskUser(_))));
}

#[test]
fn a_reveal_that_does_not_match_its_commitment_is_refused() {
    let mut tx = sender(vec![entry(0, "a", 1)]);
    let mut rx = receiver();
    for m in sent(&tx.handle(T0, TxInput::Start)) {
        rx.handle(T0, RxInput::Control(m));
    }
    // A man in the middle who swaps the nonce after seeing ours cannot open the commitment.
    let out = rx.handle(
        T0,
        RxInput::Control(ControlMsg::SasReveal {
            nonce: NONCE_R.into(),
        }),
    );
    assert!(
        matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("verification handshake failed"))
    );
    assert!(!out.iter().any(|a| matches!(a, RxAction::AskUser(_))));
}

#[test]
fn an_offer_without_the_handshake_or_an_early_accept_is_refused() {
    let mut rx = receiver();
    let out = rx.handle(
        T0,
        RxInput::Control(ControlMsg::Offer {
            v: peerdrop_proto::PROTOCOL_VERSION,
            transfer_id: Uuid::nil(),
            sender_name: "x".into(),
            file_count: 1,
            total_size: 1,
            text: None,
        }),
    );
    assert!(
        matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("verification handshake"))
    );

    let mut tx = sender(vec![entry(0, "a", 1)]);
    tx.handle(T0, TxInput::Start);
    let out = tx.handle(T0, TxInput::Control(ControlMsg::Accept { resume: vec![] }));
    assert!(
        matches!(tx_finish(&out), Some(Outcome::Failed(r)) if r.contains("before the verification"))
    );
}

/// Both machines are accepted and streaming a 100-byte and a 10-byte file.
fn streaming() -> (SenderMachine, ReceiverMachine) {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "big.bin", 100), entry(1, "small.txt", 10)]);
    let accept = rx.handle(T0, RxInput::Decided(Decision::Accept));
    let out = to_tx(&mut tx, &accept);
    assert_eq!(jobs(&out).len(), 2);
    (tx, rx)
}

#[test]
fn a_lost_connection_resumes_with_only_the_missing_bytes() {
    let (mut tx, mut rx) = streaming();
    // File 1 arrives whole and is verified; file 0 gets 40 bytes, then the network drops.
    rx.handle(
        T0,
        RxInput::Data {
            index: 1,
            offset: 0,
            len: 10,
        },
    );
    let done1 = tx.handle(
        T0,
        TxInput::FileSent {
            index: 1,
            blake3: HASH_B.into(),
        },
    );
    assert!(matches!(
        to_rx(&mut rx, &done1)[0],
        RxAction::Verify { index: 1, .. }
    ));
    rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 0,
            len: 40,
        },
    );
    let lost_tx = tx.handle(T0, TxInput::ConnectionLost("ICE failed".into()));
    assert!(lost_tx.contains(&TxAction::Reconnect));
    assert!(tx_finish(&lost_tx).is_none(), "not the end");
    let lost_rx = rx.handle(T0, RxInput::ConnectionLost("ICE failed".into()));
    assert!(lost_rx.contains(&RxAction::AwaitReconnect));
    // The disk finishes verifying file 1 meanwhile: nobody to tell yet, and not the end.
    let verified = rx.handle(
        T0,
        RxInput::Verified {
            index: 1,
            result: Ok("small.txt".into()),
        },
    );
    assert!(rx_sent(&verified).is_empty());
    assert!(rx_finish(&verified).is_none());
    // A frame still queued from the old connection is dropped, not an error.
    assert!(rx
        .handle(
            T0,
            RxInput::Data {
                index: 0,
                offset: 40,
                len: 5
            }
        )
        .is_empty());

    // New connection: same offer again, accepted without asking, with what is held.
    let reoffer = tx.handle(T0, TxInput::Reconnected);
    assert!(
        !sent(&reoffer)
            .iter()
            .any(|m| matches!(m, ControlMsg::SasCommit { .. })),
        "no new handshake: the driver checked it is the same certificate"
    );
    let rx_out = to_rx(&mut rx, &reoffer);
    assert!(!rx_out.iter().any(|a| matches!(a, RxAction::AskUser(_))));
    assert!(rx_out.contains(&RxAction::Emit(TransferEvent::Resumed {
        file: "big.bin".into(),
        offset: 40,
        size: 100
    })));
    let tx_out = to_tx(&mut tx, &rx_out);
    assert_eq!(
        jobs(&tx_out),
        vec![
            StreamJob {
                index: 0,
                ranges: vec![ByteRange {
                    start: 40,
                    end: 100
                }]
            },
            StreamJob {
                index: 1,
                ranges: vec![]
            },
        ],
        "only the missing 60 bytes; file 1 only needs its hash again"
    );
    assert_eq!(tx.skipped_bytes(), 50);
    assert!(tx_out.contains(&TxAction::Emit(TransferEvent::Resumed {
        file: "big.bin".into(),
        offset: 40,
        size: 100
    })));

    // File 1's hash again → file_ok now; file 0 completes normally.
    let again1 = tx.handle(
        T0,
        TxInput::FileSent {
            index: 1,
            blake3: HASH_B.into(),
        },
    );
    let ok1 = to_rx(&mut rx, &again1);
    assert_eq!(rx_sent(&ok1), vec![ControlMsg::FileOk { index: 1 }]);
    to_tx(&mut tx, &ok1);
    rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 40,
            len: 60,
        },
    );
    let done0 = tx.handle(
        T0,
        TxInput::FileSent {
            index: 0,
            blake3: HASH_A.into(),
        },
    );
    assert!(matches!(
        to_rx(&mut rx, &done0)[0],
        RxAction::Verify { index: 0, .. }
    ));
    let ok0 = rx.handle(
        T0,
        RxInput::Verified {
            index: 0,
            result: Ok("big.bin".into()),
        },
    );
    assert_eq!(rx_finish(&ok0), Some(Outcome::Completed));
    assert_eq!(tx_finish(&to_tx(&mut tx, &ok0)), Some(Outcome::Completed));
}

#[test]
fn a_resume_with_another_transfer_or_file_list_is_refused() {
    let (mut tx, mut rx) = streaming();
    tx.handle(T0, TxInput::ConnectionLost("cut".into()));
    rx.handle(T0, RxInput::ConnectionLost("cut".into()));
    let reoffer = sent(&tx.handle(T0, TxInput::Reconnected));
    rx.handle(T0, RxInput::Control(reoffer[0].clone()));
    let out = rx.handle(
        T0,
        RxInput::Control(ControlMsg::Files {
            entries: vec![entry(0, "other.bin", 100), entry(1, "small.txt", 10)],
        }),
    );
    assert!(
        matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("changed the file list"))
    );

    let (_tx, mut rx) = streaming();
    rx.handle(T0, RxInput::ConnectionLost("cut".into()));
    let out = rx.handle(
        T0,
        RxInput::Control(ControlMsg::Offer {
            v: peerdrop_proto::PROTOCOL_VERSION,
            transfer_id: Uuid::new_v4(),
            sender_name: "x".into(),
            file_count: 2,
            total_size: 110,
            text: None,
        }),
    );
    assert!(
        matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("different transfer"))
    );
}

#[test]
fn a_connection_lost_before_accepting_is_a_failure() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 1)]);
    assert!(
        matches!(tx_finish(&tx.handle(T0, TxInput::ConnectionLost("x".into()))), Some(Outcome::Disconnected(r)) if r.contains("disconnected"))
    );
    assert!(
        matches!(rx_finish(&rx.handle(T0, RxInput::ConnectionLost("x".into()))), Some(Outcome::Disconnected(r)) if r.contains("disconnected"))
    );
}

#[test]
fn files_saved_by_an_earlier_run_are_confirmed_by_hash_only() {
    let (mut tx, mut rx, actions) = offered(vec![entry(0, "a.bin", 100), entry(1, "b.bin", 50)]);
    assert!(actions.iter().any(|a| matches!(a, RxAction::AskUser(_))));
    rx.handle(
        T0,
        RxInput::EarlierRun(vec![
            saved_earlier(HASH_A, "a.bin"),
            EarlierFile::Partial(vec![ByteRange { start: 0, end: 20 }]),
        ]),
    );
    assert_eq!(rx.bytes_received(), 120);
    let accept = rx.handle(T0, RxInput::Decided(Decision::Accept));
    assert!(accept.contains(&RxAction::Emit(TransferEvent::Resumed {
        file: "b.bin".into(),
        offset: 20,
        size: 50
    })));
    let out = to_tx(&mut tx, &accept);
    assert_eq!(
        jobs(&out),
        vec![
            StreamJob {
                index: 0,
                ranges: vec![]
            },
            StreamJob {
                index: 1,
                ranges: vec![ByteRange { start: 20, end: 50 }]
            },
        ]
    );
    let ok = to_rx(
        &mut rx,
        &tx.handle(
            T0,
            TxInput::FileSent {
                index: 0,
                blake3: HASH_A.into(),
            },
        ),
    );
    assert_eq!(rx_sent(&ok), vec![ControlMsg::FileOk { index: 0 }]);
    assert!(ok.iter().any(
        |a| matches!(a, RxAction::Emit(TransferEvent::FileVerified { path, .. }) if path == "a.bin")
    ));

    // The sender's file changed since: the saved copy is not confirmed.
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a.bin", 100)]);
    rx.handle(
        T0,
        RxInput::EarlierRun(vec![saved_earlier(HASH_A, "a.bin")]),
    );
    to_tx(&mut tx, &rx.handle(T0, RxInput::Decided(Decision::Accept)));
    let out = to_rx(
        &mut rx,
        &tx.handle(
            T0,
            TxInput::FileSent {
                index: 0,
                blake3: HASH_B.into(),
            },
        ),
    );
    assert!(matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("different now")));
}

#[test]
fn an_accept_before_the_question_was_asked_is_ignored() {
    // Offer and file list are in, but the verification phrase is not: nobody was asked yet.
    let mut rx = announced(1, 5);
    rx.handle(
        T0,
        RxInput::Control(ControlMsg::Files {
            entries: vec![entry(0, "f0", 5)],
        }),
    );
    assert!(rx.handle(T0, RxInput::Decided(Decision::Accept)).is_empty());
    let frame = rx.handle(
        T0,
        RxInput::Data {
            index: 0,
            offset: 0,
            len: 5,
        },
    );
    assert!(
        !frame.iter().any(|a| matches!(a, RxAction::Write { .. })),
        "nothing is written before the person was asked: {frame:?}"
    );
}

#[test]
fn a_text_is_asked_about_and_received_on_accept_with_nothing_streamed() {
    let text = "https://example.org/ and a line\nwith \u{1F600}".to_string();
    let mut tx =
        SenderMachine::new_text(Uuid::new_v4(), "Ben".into(), text.clone(), NONCE_S.into());
    let mut rx = receiver();
    let opening = deliver_offer(&mut tx, &mut rx);
    let asked = opening
        .iter()
        .find_map(|a| match a {
            RxAction::AskUser(summary) => Some(summary.clone()),
            _ => None,
        })
        .expect("the receiver is asked about the text");
    assert_eq!(asked.text.as_deref(), Some(text.as_str()));
    assert!(asked.files.is_empty());
    assert_eq!(asked.total_size, 0);
    assert!(!opening.iter().any(|a| matches!(a, RxAction::Write { .. })));

    let accepted = rx.handle(T0, RxInput::Decided(Decision::Accept));
    assert!(accepted
        .iter()
        .any(|a| matches!(a, RxAction::Emit(TransferEvent::Text { text: t }) if *t == text)));
    assert_eq!(rx_finish(&accepted), Some(Outcome::Completed));
    let tx_out = to_tx(&mut tx, &accepted);
    assert!(
        !tx_out.iter().any(|a| matches!(a, TxAction::Stream(_))),
        "nothing is streamed for a text"
    );
    assert_eq!(tx_finish(&tx_out), Some(Outcome::Completed));
}

#[test]
fn a_declined_text_is_declined_on_both_sides() {
    let mut tx = SenderMachine::new_text(Uuid::new_v4(), "Ben".into(), "hi".into(), NONCE_S.into());
    let mut rx = receiver();
    deliver_offer(&mut tx, &mut rx);
    let out = rx.handle(T0, RxInput::Decided(Decision::Decline("no".into())));
    assert!(!out
        .iter()
        .any(|a| matches!(a, RxAction::Emit(TransferEvent::Text { .. }))));
    assert!(matches!(rx_finish(&out), Some(Outcome::Declined(_))));
    assert!(matches!(
        tx_finish(&to_tx(&mut tx, &out)),
        Some(Outcome::Declined(_))
    ));
}

#[test]
fn a_text_offer_that_also_announces_files_or_is_too_long_is_refused_before_asking() {
    let offer = |file_count, total_size, text: String| {
        offer_to_fresh_receiver(file_count, total_size, Some(text)).1
    };
    let with_files = offer(1, 10, "hi".into());
    assert!(
        matches!(rx_finish(&with_files), Some(Outcome::Failed(r)) if r.contains("also announces files"))
    );
    let too_long = offer(
        0,
        0,
        "x".repeat(peerdrop_proto::transfer::MAX_TEXT_BYTES + 1),
    );
    assert!(
        matches!(rx_finish(&too_long), Some(Outcome::Refused(r)) if r.contains("send it as a file"))
    );
    for out in [&with_files, &too_long] {
        assert!(!out.iter().any(|a| matches!(a, RxAction::AskUser(_))));
    }
}

fn saved_earlier(blake3: &str, saved_as: &str) -> EarlierFile {
    EarlierFile::Saved {
        blake3: blake3.into(),
        saved_as: saved_as.into(),
    }
}

#[test]
fn what_an_earlier_run_left_is_taken_only_while_the_person_is_asked() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 100)]);
    let accept = rx_sent(&rx.handle(T0, RxInput::Decided(Decision::Accept)));
    // Too late: the accept already told the sender to send everything.
    rx.handle(
        T0,
        RxInput::EarlierRun(vec![EarlierFile::Partial(vec![ByteRange {
            start: 0,
            end: 60,
        }])]),
    );
    assert_eq!(rx.bytes_received(), 0, "seeded after the decision");
    let out = tx.handle(T0, TxInput::Control(accept[0].clone()));
    assert_eq!(
        jobs(&out),
        vec![StreamJob {
            index: 0,
            ranges: vec![ByteRange { start: 0, end: 100 }]
        }]
    );
}

#[test]
fn the_store_window_runs_from_the_receivers_disk_to_the_senders_allowance() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 64 << 20)]);
    // Before accepting there is no connection carrying data to report about.
    assert!(rx.handle(T0, RxInput::Stored { total: 1 }).is_empty());
    let out = to_tx(&mut tx, &rx.handle(T0, RxInput::Decided(Decision::Accept)));
    assert!(
        out.contains(&TxAction::Allow {
            up_to: STORE_WINDOW
        }),
        "a fresh connection may run one window ahead: {out:?}"
    );
    let report = rx.handle(T0, RxInput::Stored { total: 3 << 20 });
    assert_eq!(
        rx_sent(&report),
        vec![ControlMsg::Stored { bytes: 3 << 20 }]
    );
    let out = to_tx(&mut tx, &report);
    assert_eq!(
        out,
        vec![TxAction::Allow {
            up_to: (3 << 20) + STORE_WINDOW
        }]
    );
    // A cut: the receiver counts the next connection from zero, and so does the sender.
    rx.handle(T0, RxInput::ConnectionLost("cut".into()));
    tx.handle(T0, TxInput::ConnectionLost("cut".into()));
    assert!(
        tx.handle(T0, TxInput::Control(ControlMsg::Stored { bytes: 9 << 20 }))
            .is_empty(),
        "a report while reconnecting moves nothing"
    );
    let report = rx.handle(T0, RxInput::Stored { total: 4 << 20 });
    assert!(
        report.is_empty(),
        "no connection carries data yet: {report:?}"
    );
}

#[test]
fn after_a_success_the_receiver_lets_the_sender_close_first_for_a_bounded_time() {
    use crate::receiver::SENDER_CLOSE_GRACE;
    // Quickest success: a text, complete when accepted.
    let mut tx = SenderMachine::new_text(Uuid::nil(), "s".into(), "hi".into(), NONCE_S.into());
    let mut rx = receiver();
    deliver_offer(&mut tx, &mut rx);
    let done = rx.handle(T0, RxInput::Decided(Decision::Accept));
    assert_eq!(rx_finish(&done), Some(Outcome::Completed));
    assert!(
        !done.contains(&RxAction::Close),
        "closed before the sender read the end"
    );
    assert_eq!(rx.poll_timeout(), Some(T0 + SENDER_CLOSE_GRACE));
    // The sender closes: close now.
    assert_eq!(
        rx.handle(T0, RxInput::ConnectionLost("closed".into())),
        vec![RxAction::Close]
    );
    assert_eq!(rx.poll_timeout(), None);
    assert!(rx.handle_timeout(T0 + SENDER_CLOSE_GRACE).is_empty());

    // A sender that never closes: the grace ends it.
    let mut tx = SenderMachine::new_text(Uuid::nil(), "s".into(), "hi".into(), NONCE_S.into());
    let mut rx = receiver();
    deliver_offer(&mut tx, &mut rx);
    rx.handle(T0, RxInput::Decided(Decision::Accept));
    assert!(rx
        .handle_timeout(T0 + std::time::Duration::from_millis(1999))
        .is_empty());
    assert_eq!(
        rx.handle_timeout(T0 + SENDER_CLOSE_GRACE),
        vec![RxAction::Close]
    );

    // A failure closes at once: no grace.
    let (_tx, mut rx, _) = offered(vec![entry(0, "a", 1)]);
    rx.handle(T0, RxInput::Decided(Decision::Decline("no".into())));
    assert_eq!(rx.poll_timeout(), None);
}
