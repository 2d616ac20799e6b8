//! The receiver's waiting line: offers from other senders that arrive while a transfer runs
//! are held (bounded) instead of being turned away, and each held sender is told its place
//! with [`SignalData::Queued`] so it keeps waiting past its connect deadline. When the running
//! transfer ends, the front end takes the first held offer as the next
//! [`super::Incoming`] and answers its SDP (the sender's peer connection has been waiting
//! for exactly that answer; its trickled candidates were kept on the session's link).

use peerdrop_proto::signal::SignalData;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{debug, info};

use crate::signaling::{IncomingOffer, SessionSignal, SignalClient};

/// Most senders held while a transfer runs; one more is turned away with `bye`. Each holds a
/// session and its SDP, and a person will not wait behind a long line anyway.
pub const MAX_QUEUED: usize = 3;

/// Longest a sender is held; then it is told `bye` ("busy for too long"). The sender's
/// peer connection and TURN allocation stay valid far longer than this.
pub const QUEUE_MAX_WAIT: Duration = Duration::from_secs(300);

/// How often held senders are told their place again. Each `queued` re-arms the sender's
/// 30 s connect deadline ([`super::connection::CONNECT_TIMEOUT`]): three refreshes fit in it.
pub const QUEUED_REFRESH: Duration = Duration::from_secs(10);

/// How often held offers are checked for a sender that left (its `bye` or `peer_gone`).
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Why a sender was turned away while the receiver is busy.
pub(crate) const BUSY: &str = "the receiver is busy with another transfer";
const LINE_FULL: &str = "the receiver is busy with another transfer and its waiting line is full";
const TOO_LONG: &str = "the receiver stayed busy for too long";

/// One held offer and the signaling connection it came through.
pub(crate) struct Held {
    pub offer: IncomingOffer,
    pub client: Arc<SignalClient>,
    since: Instant,
}

/// The held offers, first come first served.
#[derive(Default)]
pub(crate) struct WaitingLine {
    held: VecDeque<Held>,
}

impl WaitingLine {
    /// Holds `offer` and tells the sender its place; a full line turns it away instead.
    pub fn push(&mut self, offer: IncomingOffer, client: Arc<SignalClient>) {
        if self.held.len() >= MAX_QUEUED {
            turn_away(&offer, LINE_FULL);
            return;
        }
        info!(sender = %offer.from.name, position = self.held.len() + 1, "busy: holding a sender's offer in line");
        self.held.push_back(Held {
            offer,
            client,
            since: Instant::now(),
        });
        self.tell(self.held.len() - 1);
    }

    /// Drops held offers whose sender left or gave up, and turns away those held too long.
    pub fn prune(&mut self) {
        let before = self.held.len();
        self.held.retain_mut(|held| {
            if left(held) {
                debug!(sender = %held.offer.from.name, "a held sender left the line");
                return false;
            }
            if held.since.elapsed() > QUEUE_MAX_WAIT {
                turn_away(&held.offer, TOO_LONG);
                return false;
            }
            true
        });
        if self.held.len() != before {
            self.tell_all();
        }
    }

    /// Tells every held sender its place again.
    pub fn tell_all(&self) {
        for index in 0..self.held.len() {
            self.tell(index);
        }
    }

    /// The first held offer whose sender is still there.
    pub fn pop(&mut self) -> Option<Held> {
        self.prune();
        self.held.pop_front()
    }

    /// Turns every held sender away (the receiver takes no more transfers).
    pub fn clear(&mut self, reason: &str) {
        for held in self.held.drain(..) {
            turn_away(&held.offer, reason);
        }
    }

    /// How many senders are held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    fn tell(&self, index: usize) {
        let held = &self.held[index];
        let _ = held.offer.link.send(
            held.offer.from.id,
            SignalData::Queued {
                session: held.offer.session,
                position: index as u32 + 1,
            },
        );
    }
}

/// Answers `offer` with `bye`.
pub(crate) fn turn_away(offer: &IncomingOffer, reason: &str) {
    let _ = offer.link.send(
        offer.from.id,
        SignalData::Bye {
            session: offer.session,
            reason: reason.into(),
        },
    );
}

/// Whether the held sender said `bye`, disconnected, or cannot be reached any more. What
/// else arrived (its candidates) stays on the link for the answer.
fn left(held: &mut Held) -> bool {
    let sender = held.offer.from.id;
    held.offer
        .link
        .peek_new()
        .iter()
        .any(|signal| match signal {
            SessionSignal::Signal {
                data: SignalData::Bye { .. },
                ..
            } => true,
            SessionSignal::PeerGone(id) => *id == sender,
            SessionSignal::Disconnected => true,
            _ => false,
        })
}
