//! Scenario tests for the two machines, wired to each other by a tiny in-memory "driver".

use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::transfer::{ByteRange, ControlMsg, FileEntry, MAX_MESSAGE_BYTES};
use uuid::Uuid;

use super::ranges::RangeSet;
use super::receiver::{Decision, ReceiverMachine, RxAction, RxInput};
use super::sender::{SenderMachine, StreamJob, TxAction, TxInput};
use super::Outcome;
use crate::store::names::Platform;

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

/// Feeds every control message the sender emits into a fresh receiver, returning its actions.
fn deliver_offer(tx: &mut SenderMachine, rx: &mut ReceiverMachine) -> Vec<RxAction> {
    let mut out = Vec::new();
    for msg in sent(&tx.handle(TxInput::Start)) {
        out.extend(rx.handle(RxInput::Control(msg)));
    }
    out
}

fn offered(files: Vec<FileEntry>) -> (SenderMachine, ReceiverMachine, Vec<RxAction>) {
    let mut tx = SenderMachine::new(Uuid::new_v4(), "Ben's laptop".into(), files);
    let mut rx = ReceiverMachine::new(Platform::Unix);
    let actions = deliver_offer(&mut tx, &mut rx);
    (tx, rx, actions)
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

    let accept = rx.handle(RxInput::Decided(Decision::Accept));
    let accept_msgs = rx_sent(&accept);
    assert_eq!(accept_msgs, vec![ControlMsg::Accept { resume: vec![] }]);

    let stream = tx.handle(TxInput::Control(accept_msgs[0].clone()));
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
    let done0 = sent(&tx.handle(TxInput::FileSent {
        index: 0,
        blake3: HASH_A.into(),
    }));
    assert!(
        rx.handle(RxInput::Control(done0[0].clone())).is_empty(),
        "not complete yet"
    );
    assert_eq!(
        rx.handle(RxInput::Data {
            index: 0,
            offset: 0,
            len: 4
        }),
        vec![RxAction::Write {
            index: 0,
            offset: 0
        }]
    );
    let last = rx.handle(RxInput::Data {
        index: 0,
        offset: 4,
        len: 6,
    });
    assert!(matches!(
        last[1],
        RxAction::Verify {
            index: 0,
            size: 10,
            ..
        }
    ));

    // The empty file needs no data at all.
    let done1 = sent(&tx.handle(TxInput::FileSent {
        index: 1,
        blake3: HASH_B.into(),
    }));
    let verify1 = rx.handle(RxInput::Control(done1[0].clone()));
    assert!(
        matches!(&verify1[0], RxAction::Verify { index: 1, size: 0, path, .. } if path.display_string() == "dir/b.bin")
    );

    let ok0 = rx.handle(RxInput::Verified {
        index: 0,
        result: Ok("a.txt".into()),
    });
    assert_eq!(rx_finish(&ok0), None);
    let ok1 = rx.handle(RxInput::Verified {
        index: 1,
        result: Ok("dir/b.bin".into()),
    });
    assert_eq!(rx_finish(&ok1), Some(Outcome::Completed));
    assert!(rx.is_finished());

    let mut tx_out = Vec::new();
    for msg in rx_sent(&ok0).into_iter().chain(rx_sent(&ok1)) {
        tx_out.extend(tx.handle(TxInput::Control(msg)));
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
    let out = rx.handle(RxInput::Decided(Decision::Decline("not now".into())));
    assert_eq!(rx_finish(&out), Some(Outcome::Declined("not now".into())));
    let tx_out = tx.handle(TxInput::Control(rx_sent(&out)[0].clone()));
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
            Some(Outcome::Failed(reason)) => {
                assert!(reason.contains("refused"), "{hostile:?}: {reason}")
            }
            other => panic!("{hostile:?}: expected refusal, got {other:?}"),
        }
        let refusal = rx_sent(&actions);
        assert!(
            matches!(&refusal[0], ControlMsg::Error { message } if message.contains("unsafe file name"))
        );
        let tx_out = tx.handle(TxInput::Control(refusal[0].clone()));
        assert!(matches!(tx_finish(&tx_out), Some(Outcome::Failed(r)) if r.contains("refused")));
    }
}

#[test]
fn duplicate_and_file_folder_clashes_are_refused() {
    let (_, _, dup) = offered(vec![entry(0, "a.txt", 1), entry(1, "a.txt", 1)]);
    assert!(matches!(rx_finish(&dup), Some(Outcome::Failed(r)) if r.contains("twice")));
    let (_, _, clash) = offered(vec![entry(0, "a", 1), entry(1, "a/b", 1)]);
    assert!(
        matches!(rx_finish(&clash), Some(Outcome::Failed(r)) if r.contains("both a file and a folder"))
    );
}

#[test]
fn data_past_end_of_file_is_a_protocol_error() {
    let (_, mut rx, _) = offered(vec![entry(0, "a", 10)]);
    rx.handle(RxInput::Decided(Decision::Accept));
    let out = rx.handle(RxInput::Data {
        index: 0,
        offset: 8,
        len: 4,
    });
    assert!(matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("past the end")));
    assert!(
        !out.iter().any(|a| matches!(a, RxAction::Write { .. })),
        "nothing is written"
    );
}

#[test]
fn data_before_accept_and_for_unknown_files_is_rejected() {
    let (_, mut rx, _) = offered(vec![entry(0, "a", 10)]);
    let early = rx.handle(RxInput::Data {
        index: 0,
        offset: 0,
        len: 1,
    });
    assert!(
        matches!(rx_finish(&early), Some(Outcome::Failed(r)) if r.contains("before the transfer was accepted"))
    );

    let (_, mut rx, _) = offered(vec![entry(0, "a", 10)]);
    rx.handle(RxInput::Decided(Decision::Accept));
    let unknown = rx.handle(RxInput::Data {
        index: 5,
        offset: 0,
        len: 1,
    });
    assert!(
        matches!(rx_finish(&unknown), Some(Outcome::Failed(r)) if r.contains("unknown file 5"))
    );
}

#[test]
fn duplicate_frames_are_harmless() {
    let (_, mut rx, _) = offered(vec![entry(0, "a", 10)]);
    rx.handle(RxInput::Decided(Decision::Accept));
    rx.handle(RxInput::Data {
        index: 0,
        offset: 0,
        len: 5,
    });
    rx.handle(RxInput::Data {
        index: 0,
        offset: 0,
        len: 5,
    });
    assert_eq!(rx.bytes_received(), 5);
    rx.handle(RxInput::Control(ControlMsg::FileDone {
        index: 0,
        blake3: HASH_A.into(),
    }));
    let out = rx.handle(RxInput::Data {
        index: 0,
        offset: 5,
        len: 5,
    });
    assert!(out.iter().any(|a| matches!(a, RxAction::Verify { .. })));
    // A late duplicate after verification started changes nothing.
    assert!(rx
        .handle(RxInput::Data {
            index: 0,
            offset: 0,
            len: 5
        })
        .is_empty());
}

#[test]
fn hash_mismatch_fails_transfer_on_both_sides() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 3)]);
    let accept = rx_sent(&rx.handle(RxInput::Decided(Decision::Accept)));
    tx.handle(TxInput::Control(accept[0].clone()));
    let done = sent(&tx.handle(TxInput::FileSent {
        index: 0,
        blake3: HASH_A.into(),
    }));
    rx.handle(RxInput::Data {
        index: 0,
        offset: 0,
        len: 3,
    });
    rx.handle(RxInput::Control(done[0].clone()));
    let out = rx.handle(RxInput::Verified {
        index: 0,
        result: Err("BLAKE3 mismatch".into()),
    });
    assert!(matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("mismatch")));
    let tx_out = tx.handle(TxInput::Control(rx_sent(&out)[0].clone()));
    assert!(matches!(tx_finish(&tx_out), Some(Outcome::Failed(r)) if r.contains("mismatch")));
}

#[test]
fn cancel_mid_file_from_either_side() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 100)]);
    let accept = rx_sent(&rx.handle(RxInput::Decided(Decision::Accept)));
    tx.handle(TxInput::Control(accept[0].clone()));
    rx.handle(RxInput::Data {
        index: 0,
        offset: 0,
        len: 50,
    });

    let tx_cancel = tx.handle(TxInput::LocalCancel("user pressed cancel".into()));
    assert!(matches!(tx_finish(&tx_cancel), Some(Outcome::Cancelled(_))));
    let rx_out = rx.handle(RxInput::Control(sent(&tx_cancel)[0].clone()));
    assert!(
        matches!(rx_finish(&rx_out), Some(Outcome::Cancelled(r)) if r.contains("sender cancelled"))
    );

    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 100)]);
    let accept = rx_sent(&rx.handle(RxInput::Decided(Decision::Accept)));
    tx.handle(TxInput::Control(accept[0].clone()));
    let rx_cancel = rx.handle(RxInput::LocalCancel("changed my mind".into()));
    let tx_out = tx.handle(TxInput::Control(rx_sent(&rx_cancel)[0].clone()));
    assert!(
        matches!(tx_finish(&tx_out), Some(Outcome::Cancelled(r)) if r.contains("receiver cancelled"))
    );
}

#[test]
fn peer_gone_ends_both_machines() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 100)]);
    assert!(
        matches!(tx_finish(&tx.handle(TxInput::PeerGone)), Some(Outcome::Failed(r)) if r == "peer disconnected")
    );
    assert!(
        matches!(rx_finish(&rx.handle(RxInput::PeerGone)), Some(Outcome::Failed(r)) if r == "peer disconnected")
    );
    assert!(
        tx.handle(TxInput::Control(ControlMsg::FileOk { index: 0 }))
            .is_empty(),
        "finished machines stay quiet"
    );
}

#[test]
fn resume_sends_only_missing_ranges() {
    let (mut tx, mut rx, _) = offered(vec![entry(0, "a", 100)]);
    rx.set_already_have(0, RangeSet::from_ranges(&[ByteRange { start: 0, end: 60 }]));
    let accept = rx_sent(&rx.handle(RxInput::Decided(Decision::Accept)));
    let out = tx.handle(TxInput::Control(accept[0].clone()));
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
    let mut tx = SenderMachine::new(Uuid::new_v4(), "x".into(), files);
    let msgs = sent(&tx.handle(TxInput::Start));
    assert!(msgs.len() > 2, "5000 entries need several chunks");
    for m in &msgs {
        assert!(
            m.to_json().len() <= MAX_MESSAGE_BYTES,
            "message of {} bytes",
            m.to_json().len()
        );
    }
    let mut rx = ReceiverMachine::new(Platform::Unix);
    let mut asked = false;
    for m in msgs {
        asked |= rx
            .handle(RxInput::Control(m))
            .iter()
            .any(|a| matches!(a, RxAction::AskUser(_)));
    }
    assert!(asked);
    assert_eq!(rx.file_count(), 5000);
}

#[test]
fn wrong_total_size_is_refused() {
    let mut rx = ReceiverMachine::new(Platform::Unix);
    rx.handle(RxInput::Control(ControlMsg::Offer {
        v: peerdrop_proto::PROTOCOL_VERSION,
        transfer_id: Uuid::nil(),
        sender_name: "x".into(),
        file_count: 1,
        total_size: 5,
    }));
    let out = rx.handle(RxInput::Control(ControlMsg::Files {
        entries: vec![entry(0, "a", 6)],
    }));
    assert!(matches!(rx_finish(&out), Some(Outcome::Failed(r)) if r.contains("add up")));
}
