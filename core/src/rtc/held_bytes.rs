//! A bound on what a peer can make this side's WebRTC stack hold before PeerDrop sees it.
//!
//! PeerDrop sees a message only once the SCTP stack has reassembled all of it. `rtc-sctp`
//! checks message sizes only when sending, and while no complete message is readable it keeps
//! taking the next in-sequence chunk past its receive window (so a full window can never
//! deadlock). One unfinished message from a hostile peer therefore grows without limit: 1 GB
//! sent as one control message cost a receiver 1.13 GiB before any verification phrase or
//! prompt (issue 15, item 10). No setting of the crate bounds it.
//!
//! The watchdog here bounds it from outside: every [`TICK`] it compares the bytes that reached
//! the connection's transport with the message bytes the data channels delivered. What lies
//! between is what the stack holds for the peer (plus per-packet overhead, which the allowance
//! covers). Past [`HeldBytesBound`] the watchdog reports [`RtcEvent::PeerOverran`] and closes
//! the connection, which frees it all.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::warn;
use webrtc::peer_connection::{PeerConnection, StatsSelector};

use super::RtcEvent;

/// How often the watchdog looks. At the few hundred MB/s one association can take in, a tick
/// lets a peer overshoot the bound by a few MB at most.
pub const TICK: Duration = Duration::from_millis(25);

/// Beyond the SCTP receive window: the DTLS handshake, STUN checks, and what a completed
/// message may still occupy while the stack hands it over.
const SLACK: u64 = 4 * 1024 * 1024;

/// Per delivered byte, what headers and retransmitted duplicates may add on the wire (1/8:
/// DTLS, SCTP and chunk headers are ≈ 5% of a 1191-byte packet).
const OVERHEAD_DIVISOR: u64 = 8;

/// Per packet this side sent, what the peer's answers to it may add: a sender mostly receives
/// acknowledgements (≈ 80 bytes, one per two packets it sends), never delivered as messages.
/// Below the smallest packet that can carry data (≈ 66 bytes), so a peer cannot earn more
/// allowance than it spends by making this side answer.
const PER_SENT_PACKET: u64 = 48;

/// How much a peer may make this side hold undelivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldBytesBound {
    base: u64,
}

impl HeldBytesBound {
    /// The bound for a connection whose SCTP receive window is `window` bytes: a window's
    /// worth plus [`SLACK`], and an eighth of what was delivered for the wire's overhead.
    pub fn for_receive_window(window: u32) -> Self {
        HeldBytesBound {
            base: u64::from(window) + SLACK,
        }
    }

    /// What may be held once `traffic.delivered` bytes were handed to the channels and
    /// `traffic.packets_sent` packets left.
    pub fn allowance(&self, traffic: &Traffic) -> u64 {
        self.base
            .saturating_add(traffic.delivered / OVERHEAD_DIVISOR)
            .saturating_add(traffic.packets_sent.saturating_mul(PER_SENT_PACKET))
    }

    /// The bytes held beyond the bound; `None` while within it.
    pub fn overrun(&self, traffic: &Traffic) -> Option<u64> {
        let held = traffic.received.saturating_sub(traffic.delivered);
        (held > self.allowance(traffic)).then_some(held)
    }
}

/// A connection's counters, as its statistics report them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes that reached the transport (every datagram: STUN, DTLS, SCTP).
    pub received: u64,
    /// Message bytes the data channels delivered.
    pub delivered: u64,
    /// Datagrams this side sent.
    pub packets_sent: u64,
}

/// The one-line reason a transfer ends with when a peer overran the bound.
pub fn overrun_reason(held: u64, bound: &HeldBytesBound, traffic: &Traffic) -> String {
    format!(
        "the peer made this device hold more than {} MiB it had not delivered ({} MiB, one \
         unfinished message or a flood); the connection was closed",
        bound.allowance(traffic) >> 20,
        held >> 20
    )
}

/// Watches `pc` until it is dropped or closed; on an overrun, sends
/// [`RtcEvent::PeerOverran`] on `events` and then closes `pc` (in that order, so whoever sees
/// the channels close can already read why).
pub(crate) fn spawn_watchdog(
    pc: Weak<dyn PeerConnection>,
    events: mpsc::UnboundedSender<RtcEvent>,
    bound: HeldBytesBound,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(pc) = pc.upgrade() else { return };
            if events.is_closed() {
                return;
            }
            let traffic = traffic(pc.as_ref()).await;
            let Some(held) = bound.overrun(&traffic) else {
                continue;
            };
            let reason = overrun_reason(held, &bound, &traffic);
            warn!(held, ?traffic, "{reason}");
            let _ = events.send(RtcEvent::PeerOverran(reason));
            let _ = pc.close().await;
            return;
        }
    });
}

/// `pc`'s counters now.
async fn traffic(pc: &dyn PeerConnection) -> Traffic {
    let report = pc.get_stats(Instant::now(), StatsSelector::None).await;
    let transport = report.transport();
    Traffic {
        received: transport.map_or(0, |t| t.bytes_received),
        delivered: report.data_channels().map(|d| d.bytes_received).sum(),
        packets_sent: transport.map_or(0, |t| t.packets_sent),
    }
}

/// Starts the watchdog of a connection just built ([`super::build_peer_connection`]).
pub(crate) fn watch(
    pc: &Arc<dyn PeerConnection>,
    events: mpsc::UnboundedSender<RtcEvent>,
    receive_window: u32,
) {
    spawn_watchdog(
        Arc::downgrade(pc),
        events,
        HeldBytesBound::for_receive_window(receive_window),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn traffic(received: u64, delivered: u64, packets_sent: u64) -> Traffic {
        Traffic {
            received,
            delivered,
            packets_sent,
        }
    }

    #[test]
    fn before_anything_is_delivered_a_window_and_slack_may_be_held() {
        let bound = HeldBytesBound::for_receive_window(4 * MIB as u32);
        assert_eq!(bound.overrun(&traffic(8 * MIB, 0, 0)), None);
        assert_eq!(
            bound.overrun(&traffic(8 * MIB + 1, 0, 0)),
            Some(8 * MIB + 1)
        );
        // A 1 GB message in progress is caught long before it completes, even though this
        // side acknowledged every second packet of it.
        let packets = 50 * MIB / 1200;
        assert!(bound
            .overrun(&traffic(50 * MIB, 1000, packets / 2))
            .is_some());
    }

    #[test]
    fn a_long_transfer_earns_room_for_the_wire_overhead_only() {
        let bound = HeldBytesBound::for_receive_window(4 * MIB as u32);
        let delivered = 1024 * MIB;
        let acks = delivered / 1200 / 2;
        // 5% of headers on a gigabyte received is within the allowance...
        let received = delivered + delivered / 20;
        assert_eq!(bound.overrun(&traffic(received, delivered, acks)), None);
        // ...a gigabyte on top of it is not.
        assert!(bound
            .overrun(&traffic(2 * delivered, delivered, acks))
            .is_some());
    }

    #[test]
    fn a_sender_may_receive_an_acknowledgement_per_two_packets_it_sent() {
        let bound = HeldBytesBound::for_receive_window(4 * MIB as u32);
        let sent = 1024 * MIB / 1200;
        let acks = sent / 2;
        assert_eq!(bound.overrun(&traffic(acks * 90, 0, sent)), None);
    }

    #[test]
    fn answers_the_peer_provokes_earn_it_less_than_they_cost() {
        let bound = HeldBytesBound::for_receive_window(0);
        // One smallest data packet (66 bytes on the wire) per acknowledgement it provokes:
        // what is held still grows without bound, so it is caught.
        let packets = 10_000_000;
        assert!(bound.overrun(&traffic(packets * 66, 0, packets)).is_some());
    }

    #[test]
    fn more_delivered_than_received_is_never_an_overrun() {
        let bound = HeldBytesBound::for_receive_window(0);
        assert_eq!(bound.overrun(&traffic(10, 20, 0)), None);
    }

    #[test]
    fn the_reason_names_the_bound_and_what_was_held() {
        let bound = HeldBytesBound::for_receive_window(4 * MIB as u32);
        let reason = overrun_reason(300 * MIB, &bound, &Traffic::default());
        assert!(reason.contains("more than 8 MiB"), "{reason}");
        assert!(reason.contains("300 MiB"), "{reason}");
    }
}
