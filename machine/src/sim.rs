//! Deterministic simulation of whole transfers: both machines, one simulated clock, a link
//! with latency and a bandwidth, connections that are cut, a sender that goes silent, a
//! receiver that never comes back. Nothing sleeps and nothing touches a socket: a two-minute
//! reconnection window passes in microseconds, and a failure replays exactly from its seed.
//!
//! The model of the real driver (`peerdrop-core`'s engine), kept as small as it can be:
//! - a message or frame sent at `t` on connection `c` arrives at `t + one_way`, unless `c`
//!   was cut first (what was in flight is lost, as with a dead SCTP association);
//! - frames leave one after another at `bandwidth`; the sender's "file sent" comes when the
//!   last frame of a file leaves;
//! - a cut is noticed by both sides `detect` later ([`TxInput::ConnectionLost`],
//!   [`RxInput::ConnectionLost`]); the sender's [`TxAction::Reconnect`] succeeds after
//!   `reconnect_after`, or never when the receiver is unreachable;
//! - the person accepts `think` after being asked; the disk writes at once and verifies a
//!   file by checking every byte was written and the announced hash is the file's;
//! - a receiver that finished leaves the server: the sender hears [`TxInput::PeerLeft`]
//!   `server_delay` later;
//! - the receiver's driver reports every write back as progress ([`TxInput::Progress`], what
//!   its `stored` messages are); a path can also go silent without anyone noticing (a
//!   "blackhole": everything on it is lost, no side is told), which only the sender's stall
//!   timer can detect;
//! - a sender's new connection reaches the receiver as the driver's "the sender started a new
//!   connection" before its re-offer.

use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::transfer::FileEntry;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;
use uuid::Uuid;

use crate::names::Platform;
use crate::ranges::RangeSet;
use crate::receiver::{Decision, ReceiverMachine, RxAction, RxInput};
use crate::sender::{SenderMachine, TxAction, TxInput, PEER_GONE_GRACE};
use crate::time::Timestamp;
use crate::{Outcome, RECONNECT_WINDOW, STALL_LIMIT};

const NONCE_S: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const NONCE_R: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// Payload bytes per simulated data frame.
const FRAME: u64 = 64 * 1024;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(d: Duration) -> Timestamp {
    Timestamp::after_epoch(d)
}

/// The hash the simulated sender announces for file `index` (and the disk expects).
fn file_hash(index: u32) -> String {
    format!("{:064x}", u64::from(index) + 1)
}

/// How the world around the two machines behaves.
#[derive(Clone, Debug)]
struct World {
    one_way: Duration,
    /// Bytes per second the link carries.
    bandwidth: u64,
    detect: Duration,
    think: Duration,
    /// How long each reconnection takes (attempt `n` uses entry `n`, the last repeats);
    /// `None`: the receiver is unreachable, no reconnection ever succeeds.
    reconnect_after: Vec<Option<Duration>>,
    /// When the current connection is cut (absolute simulated times).
    cuts: Vec<Duration>,
    /// After this many control messages the sender says nothing more (a hostile or hung peer).
    sender_goes_silent_after: Option<usize>,
    /// When the connection in use goes silent: everything on it is lost.
    blackhole_at: Option<Duration>,
    /// How long until both sides are told that silent connection failed (ICE's connectivity
    /// checks notice a dead path); `None`: never — the path still answers ICE but carries
    /// nothing (a peer's full socket buffer, a stuck association), which only the sender's stall
    /// timer notices.
    blackhole_noticed_after: Option<Duration>,
    server_delay: Duration,
}

impl Default for World {
    fn default() -> Self {
        World {
            one_way: ms(20),
            bandwidth: 10_000_000,
            detect: ms(30),
            think: ms(500),
            reconnect_after: vec![Some(ms(2_000))],
            cuts: Vec::new(),
            sender_goes_silent_after: None,
            blackhole_at: None,
            blackhole_noticed_after: None,
            server_delay: ms(50),
        }
    }
}

#[derive(Debug)]
enum Event {
    ToRx(Option<u32>, RxInput),
    ToTx(Option<u32>, TxInput),
    Cut,
    Blackhole,
}

/// What happened, for the assertions.
#[derive(Debug, Default)]
struct Record {
    tx_outcome: Option<(Timestamp, Outcome)>,
    rx_outcome: Option<(Timestamp, Outcome)>,
    tx_events: Vec<TransferEvent>,
    rx_events: Vec<TransferEvent>,
    asked: bool,
    /// Payload bytes the receiver wrote, duplicates included.
    bytes_written: u64,
    /// Each `Stream` action's ranges per file, in order.
    streamed: Vec<Vec<(u32, RangeSet)>>,
    control_sent_by_tx: usize,
}

struct Sim {
    world: World,
    now: Timestamp,
    tx: SenderMachine,
    rx: ReceiverMachine,
    queue: BinaryHeap<Reverse<(Timestamp, u64, usize)>>,
    events: Vec<Option<Event>>,
    seq: u64,
    /// The connection in use, and whether it is up.
    conn: u32,
    conn_up: bool,
    reconnects: usize,
    /// The sender's data link is busy until then.
    link_free: Timestamp,
    written: Vec<RangeSet>,
    last_frame: Option<u64>,
    record: Record,
}

impl Sim {
    fn new(world: World, files: Vec<FileEntry>) -> Self {
        let n = files.len();
        let tx = SenderMachine::new(
            Uuid::from_u128(7),
            "Sim sender".into(),
            files.clone(),
            NONCE_S.into(),
        );
        let rx = ReceiverMachine::new(Timestamp::ZERO, Platform::Unix, NONCE_R.into());
        let mut sim = Sim {
            world,
            now: Timestamp::ZERO,
            tx,
            rx,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            seq: 0,
            conn: 0,
            conn_up: true,
            reconnects: 0,
            link_free: Timestamp::ZERO,
            written: vec![RangeSet::new(); n],
            last_frame: None,
            record: Record::default(),
        };
        for cut in sim.world.cuts.clone() {
            sim.schedule(at(cut), Event::Cut);
        }
        if let Some(when) = sim.world.blackhole_at {
            sim.schedule(at(when), Event::Blackhole);
        }
        sim.schedule(Timestamp::ZERO, Event::ToTx(Some(0), TxInput::Start));
        sim
    }

    fn schedule(&mut self, when: Timestamp, event: Event) {
        self.seq += 1;
        self.events.push(Some(event));
        self.queue
            .push(Reverse((when, self.seq, self.events.len() - 1)));
    }

    /// Runs until both machines finished, nothing is left to happen, or `horizon` passed.
    fn run(mut self, horizon: Duration) -> (Record, Timestamp) {
        let horizon = at(horizon);
        loop {
            let next_event = self.queue.peek().map(|Reverse((t, _, _))| *t);
            let candidates = [next_event, self.tx.poll_timeout(), self.rx.poll_timeout()];
            let Some(next) = candidates.into_iter().flatten().min() else {
                break;
            };
            if next > horizon || (self.tx.is_finished() && self.rx.is_finished()) {
                break;
            }
            assert!(next >= self.now, "time never runs backwards");
            self.now = next;
            if self.tx.poll_timeout() == Some(next) {
                let actions = self.tx.handle_timeout(next);
                self.on_tx(actions);
            } else if self.rx.poll_timeout() == Some(next) {
                let actions = self.rx.handle_timeout(next);
                self.on_rx(actions);
            } else {
                let Reverse((_, _, slot)) = self.queue.pop().expect("peeked");
                let event = self.events[slot].take().expect("each event once");
                self.deliver(event);
            }
        }
        (self.record, self.now)
    }

    /// Whether something sent on connection `conn` still arrives.
    fn live(&self, conn: Option<u32>) -> bool {
        conn.is_none_or(|c| c == self.conn && self.conn_up)
    }

    fn deliver(&mut self, event: Event) {
        match event {
            Event::Cut => {
                if self.conn_up {
                    self.conn_up = false;
                    let why = "the control channel closed".to_string();
                    let when = self.now + self.world.detect;
                    self.schedule(
                        when,
                        Event::ToTx(None, TxInput::ConnectionLost(why.clone())),
                    );
                    self.schedule(when, Event::ToRx(None, RxInput::ConnectionLost(why)));
                }
            }
            Event::Blackhole => {
                if self.conn_up {
                    self.conn_up = false;
                    if let Some(after) = self.world.blackhole_noticed_after {
                        let why = "ICE: the connection failed".to_string();
                        let when = self.now + after;
                        self.schedule(
                            when,
                            Event::ToTx(None, TxInput::ConnectionLost(why.clone())),
                        );
                        self.schedule(when, Event::ToRx(None, RxInput::ConnectionLost(why)));
                    }
                }
            }
            Event::ToTx(conn, input) => {
                if input == TxInput::Reconnected {
                    // The new connection is up: the re-offer goes out on it. The receiver's
                    // driver sees the sender's new offer first.
                    self.conn_up = true;
                    self.link_free = self.now;
                    let lost =
                        RxInput::ConnectionLost("the sender started a new connection".into());
                    self.schedule(self.now, Event::ToRx(None, lost));
                }
                if self.live(conn) {
                    let actions = self.tx.handle(self.now, input);
                    self.on_tx(actions);
                }
            }
            Event::ToRx(conn, input) => {
                if self.live(conn) {
                    self.last_frame = match &input {
                        RxInput::Data { len, .. } => Some(*len),
                        _ => None,
                    };
                    let actions = self.rx.handle(self.now, input);
                    self.on_rx(actions);
                }
            }
        }
    }

    fn on_tx(&mut self, actions: Vec<TxAction>) {
        for action in actions {
            match action {
                TxAction::Send(msg) => {
                    self.record.control_sent_by_tx += 1;
                    let silent = self
                        .world
                        .sender_goes_silent_after
                        .is_some_and(|n| self.record.control_sent_by_tx > n);
                    if !silent {
                        let when = self.now + self.world.one_way;
                        self.schedule(when, Event::ToRx(Some(self.conn), RxInput::Control(msg)));
                    }
                }
                TxAction::Stream(jobs) => {
                    self.record.streamed.push(
                        jobs.iter()
                            .map(|j| (j.index, RangeSet::from_ranges(&j.ranges)))
                            .collect(),
                    );
                    for job in jobs {
                        self.stream(job.index, &job.ranges);
                    }
                }
                TxAction::Emit(event) => self.record.tx_events.push(event),
                TxAction::Authenticated { .. } | TxAction::Allow { .. } => {}
                TxAction::Reconnect => {
                    let attempt = self.reconnects.min(self.world.reconnect_after.len() - 1);
                    self.reconnects += 1;
                    if let Some(after) = self.world.reconnect_after[attempt] {
                        // The connection being made is the one in use from now; the old one
                        // is dead.
                        self.conn += 1;
                        self.conn_up = false;
                        let when = self.now + after;
                        self.schedule(when, Event::ToTx(None, TxInput::Reconnected));
                    }
                }
                TxAction::Finish(outcome) => self.record.tx_outcome = Some((self.now, outcome)),
            }
        }
    }

    fn stream(&mut self, index: u32, ranges: &[peerdrop_proto::transfer::ByteRange]) {
        let mut depart = self.link_free.max(self.now);
        for range in ranges {
            let mut offset = range.start;
            while offset < range.end {
                let len = FRAME.min(range.end - offset);
                let on_wire = Duration::from_secs_f64(len as f64 / self.world.bandwidth as f64);
                depart = depart + on_wire;
                let arrive = depart + self.world.one_way;
                self.schedule(
                    arrive,
                    Event::ToRx(Some(self.conn), RxInput::Data { index, offset, len }),
                );
                offset += len;
            }
        }
        self.link_free = depart;
        let sent = TxInput::FileSent {
            index,
            blake3: file_hash(index),
        };
        self.schedule(depart, Event::ToTx(Some(self.conn), sent));
    }

    fn on_rx(&mut self, actions: Vec<RxAction>) {
        for action in actions {
            match action {
                RxAction::Send(msg) => {
                    let when = self.now + self.world.one_way;
                    self.schedule(when, Event::ToTx(Some(self.conn), TxInput::Control(msg)));
                }
                RxAction::AskUser(_) => {
                    self.record.asked = true;
                    let when = self.now + self.world.think;
                    self.schedule(when, Event::ToRx(None, RxInput::Decided(Decision::Accept)));
                }
                RxAction::Write { index, offset } => {
                    let len = self.last_frame.take().expect("a write answers a frame");
                    self.written[index as usize].insert(offset, offset + len);
                    self.record.bytes_written += len;
                    let when = self.now + self.world.one_way;
                    self.schedule(when, Event::ToTx(Some(self.conn), TxInput::Progress));
                }
                RxAction::Verify {
                    index,
                    blake3,
                    path,
                    size,
                } => {
                    let complete = self.written[index as usize].covers_all(size);
                    let result = if complete && blake3 == file_hash(index) {
                        Ok(path.display_string())
                    } else {
                        Err(crate::receiver::Unsaved {
                            reason: "hash mismatch".into(),
                            cause: Some(peerdrop_proto::transfer::FailureCause::HashMismatch),
                        })
                    };
                    self.schedule(
                        self.now,
                        Event::ToRx(None, RxInput::Verified { index, result }),
                    );
                }
                RxAction::Emit(event) => self.record.rx_events.push(event),
                RxAction::Authenticated { .. } | RxAction::AwaitReconnect | RxAction::Close => {}
                RxAction::Finish(outcome) => {
                    self.record.rx_outcome = Some((self.now, outcome));
                    // The receiver's process is done: it leaves the server.
                    let when = self.now + self.world.server_delay;
                    self.schedule(when, Event::ToTx(None, TxInput::PeerLeft));
                }
            }
        }
    }
}

fn files(sizes: &[u64]) -> Vec<FileEntry> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| FileEntry {
            index: i as u32,
            path: format!("dir/file-{i}.bin"),
            size,
        })
        .collect()
}

fn outcome(o: &Option<(Timestamp, Outcome)>) -> &Outcome {
    &o.as_ref().expect("the machine finished").1
}

fn when(o: &Option<(Timestamp, Outcome)>) -> Duration {
    o.as_ref().expect("the machine finished").0.since_epoch()
}

const MIB: u64 = 1 << 20;

#[test]
fn a_clean_transfer_over_a_40_ms_round_trip_completes_in_a_few_round_trips_plus_the_bytes() {
    let world = World::default();
    let (record, _) = Sim::new(world, files(&[3 * MIB, 0, 1])).run(Duration::from_secs(60));
    assert_eq!(outcome(&record.tx_outcome), &Outcome::Completed);
    assert_eq!(outcome(&record.rx_outcome), &Outcome::Completed);
    assert_eq!(record.bytes_written, 3 * MIB + 1, "every byte written once");
    // Opening (commit → nonce → reveal: 1.5 round trips) + 0.5 s thinking + accept (½ RTT) +
    // 3 MiB at 10 MB/s (0.315 s) + last frame and file_ok (1 RTT).
    let took = when(&record.tx_outcome);
    assert!(took > ms(500 + 315), "{took:?}");
    assert!(took < ms(500 + 315 + 4 * 40), "{took:?}");
}

#[test]
fn a_cut_mid_file_resumes_where_the_receiver_stopped_and_sends_the_rest_once() {
    let world = World {
        cuts: vec![ms(700)],
        ..World::default()
    };
    let size = 8 * MIB;
    let (record, _) = Sim::new(world, files(&[size])).run(Duration::from_secs(60));
    assert_eq!(outcome(&record.tx_outcome), &Outcome::Completed);
    assert_eq!(outcome(&record.rx_outcome), &Outcome::Completed);
    assert!(record
        .tx_events
        .iter()
        .any(|e| matches!(e, TransferEvent::Reconnecting { .. })));
    assert!(record
        .rx_events
        .iter()
        .any(|e| matches!(e, TransferEvent::Reconnecting { .. })));
    // The second stream starts where the receiver's bytes end: nothing is sent twice.
    assert_eq!(record.streamed.len(), 2);
    let (_, second) = &record.streamed[1][0];
    let resumed_from = second.ranges()[0].start;
    assert!(resumed_from > 0 && resumed_from < size, "{resumed_from}");
    assert_eq!(record.bytes_written, size, "no byte written twice");
    assert!(record
        .rx_events
        .iter()
        .any(|e| matches!(e, TransferEvent::Resumed { offset, .. } if *offset == resumed_from)));
}

#[test]
fn a_second_cut_during_the_resume_handshake_is_one_more_reconnection() {
    // First cut at 0.7 s, noticed at 0.73 s; the new connection is up at 2.73 s and the
    // re-offer is on its way when that connection is cut too.
    let world = World {
        cuts: vec![ms(700), ms(2_740)],
        ..World::default()
    };
    let (record, _) = Sim::new(world, files(&[8 * MIB])).run(Duration::from_secs(3600));
    assert_eq!(outcome(&record.tx_outcome), &Outcome::Completed);
    assert_eq!(outcome(&record.rx_outcome), &Outcome::Completed);
    let reconnects = record
        .tx_events
        .iter()
        .filter(|e| matches!(e, TransferEvent::Reconnecting { .. }))
        .count();
    assert_eq!(reconnects, 2);
    assert_eq!(record.streamed.len(), 2, "streamed once, resumed once");
    assert_eq!(record.bytes_written, 8 * MIB);
}

#[test]
fn a_path_that_goes_silent_with_nobody_told_is_replaced_after_the_stall_limit() {
    let world = World {
        blackhole_at: Some(ms(700)),
        ..World::default()
    };
    let size = 8 * MIB;
    let (record, _) = Sim::new(world, files(&[size])).run(Duration::from_secs(3600));
    assert_eq!(outcome(&record.tx_outcome), &Outcome::Completed);
    assert_eq!(outcome(&record.rx_outcome), &Outcome::Completed);
    let reasons: Vec<&str> = record
        .tx_events
        .iter()
        .filter_map(|e| match e {
            TransferEvent::Reconnecting { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, ["no progress for 60 s: the connection is stuck"]);
    // The last progress came just before 0.7 s; stuck at ~60.7 s, back 2 s later.
    assert!(when(&record.tx_outcome) > STALL_LIMIT + ms(2_700));
    assert!(when(&record.tx_outcome) < STALL_LIMIT + ms(4_000));
    assert_eq!(record.streamed.len(), 2, "resumed, not restarted");
    assert_eq!(
        record.bytes_written, size,
        "what arrived before the silence was kept"
    );
}

#[test]
fn a_receiver_that_never_comes_back_is_given_up_on_after_the_reconnection_window() {
    let world = World {
        cuts: vec![ms(700)],
        reconnect_after: vec![None],
        ..World::default()
    };
    let (record, end) = Sim::new(world.clone(), files(&[8 * MIB])).run(Duration::from_secs(3600));
    let noticed = ms(700) + world.detect;
    assert_eq!(when(&record.tx_outcome), noticed + RECONNECT_WINDOW);
    assert_eq!(
        outcome(&record.tx_outcome),
        &Outcome::Disconnected("peer disconnected: no new connection within 120 s".into())
    );
    assert_eq!(when(&record.rx_outcome), noticed + RECONNECT_WINDOW);
    assert_eq!(
        outcome(&record.rx_outcome),
        &Outcome::Disconnected(
            "peer disconnected: the sender did not come back within 120 s".into()
        )
    );
    // Two minutes passed in the simulation, none on the wall clock.
    assert!(end.since_epoch() >= RECONNECT_WINDOW);
}

#[test]
fn a_sender_back_a_second_inside_the_window_resumes_and_one_a_second_outside_does_not() {
    let cut = ms(700);
    for (after, completes) in [
        (RECONNECT_WINDOW - Duration::from_secs(1), true),
        (RECONNECT_WINDOW + Duration::from_secs(1), false),
    ] {
        let world = World {
            cuts: vec![cut],
            reconnect_after: vec![Some(after)],
            ..World::default()
        };
        let (record, _) = Sim::new(world, files(&[8 * MIB])).run(Duration::from_secs(3600));
        let tx = outcome(&record.tx_outcome);
        assert_eq!(tx.is_success(), completes, "back after {after:?}: {tx:?}");
        assert_eq!(outcome(&record.rx_outcome).is_success(), completes);
    }
}

#[test]
fn a_sender_that_goes_silent_after_its_commitment_is_refused_after_the_offer_deadline() {
    let world = World {
        sender_goes_silent_after: Some(1),
        ..World::default()
    };
    let (record, _) = Sim::new(world, files(&[MIB])).run(Duration::from_secs(3600));
    assert_eq!(when(&record.rx_outcome), crate::receiver::OFFER_DEADLINE);
    assert_eq!(
        outcome(&record.rx_outcome),
        &Outcome::Failed("the sender did not complete its offer within 30 s".into())
    );
    assert!(!record.asked, "nobody was asked about half an offer");
    assert_eq!(record.bytes_written, 0);
}

#[test]
fn a_person_may_take_longer_than_the_offer_deadline_to_decide() {
    let world = World {
        think: Duration::from_secs(300),
        ..World::default()
    };
    let (record, _) = Sim::new(world, files(&[MIB])).run(Duration::from_secs(3600));
    assert_eq!(outcome(&record.rx_outcome), &Outcome::Completed);
    assert_eq!(outcome(&record.tx_outcome), &Outcome::Completed);
    assert!(when(&record.tx_outcome) > Duration::from_secs(300));
}

#[test]
fn the_receivers_last_word_may_arrive_after_the_server_says_it_left() {
    // The receiver's `file_ok` takes `one_way`; the server's word that it left takes
    // `server_delay`. Within the grace the transfer still completes; after it, it cannot.
    for (one_way, completes) in [(ms(300), true), (ms(700), false)] {
        let world = World {
            one_way,
            server_delay: ms(50),
            think: ms(10),
            ..World::default()
        };
        let (record, _) = Sim::new(world, files(&[MIB])).run(Duration::from_secs(3600));
        assert_eq!(outcome(&record.rx_outcome), &Outcome::Completed);
        let tx = outcome(&record.tx_outcome);
        if completes {
            assert_eq!(tx, &Outcome::Completed, "one way {one_way:?}");
        } else {
            assert_eq!(tx, &Outcome::Disconnected("peer disconnected".into()));
            let left = when(&record.rx_outcome) + ms(50);
            assert_eq!(when(&record.tx_outcome), left + PEER_GONE_GRACE);
        }
    }
}

/// A small deterministic generator (xorshift64*), so every seed replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn many_paths_and_cuts_always_end_and_never_lie_about_success() {
    // What the seeds covered: (clean successes, successes after a resume, cut short).
    let mut seen = (0, 0, 0);
    for seed in 1..=300u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let sizes: Vec<u64> = (0..1 + rng.below(3))
            .map(|_| match rng.below(4) {
                0 => 0,
                1 => rng.below(FRAME),
                _ => rng.below(24 * MIB),
            })
            .collect();
        let mut cuts: Vec<Duration> = (0..rng.below(4)).map(|_| ms(rng.below(20_000))).collect();
        cuts.sort();
        let reconnect_after = (0..3)
            .map(|_| match rng.below(6) {
                0 => None,
                1 => Some(RECONNECT_WINDOW + ms(rng.below(60_000))),
                _ => Some(ms(100 + rng.below(20_000))),
            })
            .collect();
        let world = World {
            one_way: ms(1 + rng.below(150)),
            bandwidth: 1_000_000 + rng.below(20_000_000),
            detect: ms(rng.below(50)),
            think: ms(rng.below(2_000)),
            reconnect_after,
            cuts,
            sender_goes_silent_after: None,
            blackhole_at: (rng.below(5) == 0).then(|| ms(rng.below(20_000))),
            // A dead path is noticed by ICE; one that answers ICE but carries nothing is not.
            blackhole_noticed_after: (rng.below(2) == 0).then(|| ms(5_000 + rng.below(25_000))),
            server_delay: ms(rng.below(100)),
        };
        let total: u64 = sizes.iter().sum();
        let (record, end) =
            Sim::new(world.clone(), files(&sizes)).run(Duration::from_secs(24 * 3600));
        let context = format!("seed {seed}: {world:?} sizes {sizes:?}");
        assert!(
            record.tx_outcome.is_some() && record.rx_outcome.is_some(),
            "{context}: a side never ended: {record:?}"
        );
        let tx = outcome(&record.tx_outcome);
        let rx = outcome(&record.rx_outcome);
        // Liveness: both ended long before the horizon.
        assert!(end.since_epoch() < Duration::from_secs(3600), "{context}");
        // Nobody says "done" unless every byte is there and verified.
        if tx.is_success() {
            assert!(rx.is_success(), "{context}: sender done, receiver {rx:?}");
        }
        if rx.is_success() {
            assert!(record.bytes_written >= total, "{context}");
        }
        // Ends other than success are the ones a cut explains (or a path gone silent before the
        // offer was through: the receiver's offer deadline).
        for o in [tx, rx] {
            let offer_cut_short = world.blackhole_at.is_some()
                && matches!(o, Outcome::Failed(r) if r.contains("did not complete its offer"));
            assert!(
                o.is_success() || matches!(o, Outcome::Disconnected(_)) || offer_cut_short,
                "{context}: {o:?}"
            );
        }
        match (tx.is_success(), record.streamed.len()) {
            (true, 1) => seen.0 += 1,
            (true, _) => seen.1 += 1,
            (false, _) => seen.2 += 1,
        }
    }
    assert!(
        seen.0 > 0 && seen.1 > 0 && seen.2 > 0,
        "every kind of ending tried: {seen:?}"
    );
}
