//! Extra peer connections ("stripes") that carry data frames beside a transfer's main
//! connection.
//!
//! Why: one SCTP association in `webrtc` 0.21 is bound by the per-packet latency of its single
//! driver task, not by the CPUs or the path (≈ 0.5 core per peer at full speed on loopback;
//! docs/BENCHMARKS.md). A second association runs in parallel on another core.
//!
//! How: once the receiver has accepted, the sender opens `RtcSettings::stripes - 1` more peer
//! connections to it, each with one data channel, offered with
//! [`SignalData::StripeOffer`] naming the main session; their channels join the round robin
//! the frames are dealt over. The receiver answers a stripe inside the main connection, only
//! from the same peer and only if the stripe's certificate fingerprint is the one the main
//! connection's DTLS proved (the stripe's own DTLS then proves it again), and merges the
//! stripe's frames into the main data queue. Frames carry their file index and offset and the
//! receiver writes positionally, so which association carried a frame does not matter.
//!
//! A stripe that does not open in time is skipped (the transfer runs on fewer). One that
//! fails later reports the connection lost, and the transfer reconnects and resumes as after
//! any network cut (`engine::send`, `engine::receive`).

use peerdrop_proto::signal::{PeerInfo, SignalData};
use peerdrop_proto::transfer::DATA_CHANNEL_PREFIX;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{debug, warn};
use uuid::Uuid;
use webrtc::peer_connection::{
    PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription,
};

use super::channels::{spawn_pump, ChannelEvent};
use super::negotiate::{
    answer_with_new_connection, candidate_signal, local_offer, reliable_ordered, rtc_err, Answered,
};
use super::nudge::spawn_nudger;
use super::transport::{MessageOut, RtcChannel};
use crate::error::CoreError;
use crate::rtc::{build_peer_connection, RtcEvent, RtcSettings};
use crate::signaling::{IncomingOffer, SessionLink, SessionSignal, SignalClient};

/// How long the sender waits for a stripe to open before going on without it. Stripes are
/// opened one after the other once the transfer is accepted; on loopback one takes ≈ 40 ms.
pub const STRIPE_OPEN_TIMEOUT: Duration = Duration::from_secs(3);

/// One extra peer connection. Dropping it stops its background task and closes it.
pub struct Stripe {
    pc: Arc<dyn PeerConnection>,
    _nudger: DropGuard,
    _service: DropGuard,
}

impl Stripe {
    /// Starts the stripe's background service ([`serve`]) on an open or answered connection;
    /// the returned value keeps connection, wake-ups and service alive until dropped.
    fn start(
        pc: Arc<dyn PeerConnection>,
        nudger: DropGuard,
        link: SessionLink,
        rtc_events: mpsc::UnboundedReceiver<RtcEvent>,
        peer: peerdrop_proto::signal::PeerId,
        side: StripeSide,
        lost: mpsc::UnboundedSender<String>,
    ) -> Stripe {
        let stop = CancellationToken::new();
        tokio::spawn(serve(
            stop.clone(),
            link,
            rtc_events,
            pc.clone(),
            peer,
            side,
            lost,
        ));
        Stripe {
            pc,
            _nudger: nudger,
            _service: stop.drop_guard(),
        }
    }

    /// The stripe's peer connection (to read what its SCTP association negotiated).
    pub fn peer_connection(&self) -> &dyn PeerConnection {
        self.pc.as_ref()
    }
}

impl Drop for Stripe {
    fn drop(&mut self) {
        let pc = self.pc.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = pc.close().await;
            });
        }
    }
}

/// Sender side: opens stripe number `number` (1, 2, ...) to `to` for the transfer running on
/// session `main`, and waits until its data channel is open. Returns the stripe and its
/// channel for the round robin. A failure later is reported on `lost`.
pub async fn open_stripe(
    client: &SignalClient,
    to: &PeerInfo,
    settings: &RtcSettings,
    main: Uuid,
    number: usize,
    lost: mpsc::UnboundedSender<String>,
) -> Result<(Stripe, Arc<dyn MessageOut>), CoreError> {
    let session = Uuid::new_v4();
    let mut link = client.open_session(session);
    let (pc, mut rtc_events) = build_peer_connection(client.ice_servers(), settings, to.max_packet)
        .await
        .map_err(rtc_err("creating stripe connection"))?;
    let dc = pc
        .create_data_channel(
            &format!("{DATA_CHANNEL_PREFIX}stripe{number}"),
            reliable_ordered(None),
        )
        .await
        .map_err(rtc_err("creating stripe channel"))?;
    let nudger = spawn_nudger(dc.clone());
    let (events_tx, mut events) = mpsc::channel(4);
    spawn_pump(dc.clone(), events_tx);
    let sdp = local_offer(pc.as_ref()).await?;
    link.send(
        to.id,
        SignalData::StripeOffer {
            session,
            of: main,
            sdp,
        },
    )?;

    let mut pending: Vec<RTCIceCandidateInit> = Vec::new();
    let mut remote_set = false;
    let opened = tokio::time::timeout(STRIPE_OPEN_TIMEOUT, async {
        loop {
            tokio::select! {
                signal = link.recv() => match signal {
                    SessionSignal::Signal { data: SignalData::Answer { sdp, .. }, .. } if !remote_set => {
                        let answer = RTCSessionDescription::answer(sdp).map_err(rtc_err("parsing stripe answer"))?;
                        pc.set_remote_description(answer).await.map_err(rtc_err("applying stripe answer"))?;
                        remote_set = true;
                        for init in pending.drain(..) {
                            let _ = pc.add_ice_candidate(init).await;
                        }
                    }
                    SessionSignal::Signal { data: SignalData::Candidate { candidate, sdp_mid, sdp_mline_index, .. }, .. } => {
                        let init = RTCIceCandidateInit { candidate, sdp_mid, sdp_mline_index, ..Default::default() };
                        if remote_set {
                            let _ = pc.add_ice_candidate(init).await;
                        } else {
                            pending.push(init);
                        }
                    }
                    SessionSignal::Signal { data: SignalData::Bye { reason, .. }, .. } => {
                        return Err(CoreError::Connect(format!("stripe refused: {reason}")));
                    }
                    SessionSignal::Disconnected => {
                        return Err(CoreError::Connect("signaling lost while opening a stripe".into()));
                    }
                    _ => {}
                },
                event = rtc_events.recv() => match event {
                    Some(RtcEvent::LocalCandidate(c)) => {
                        let _ = link.send(to.id, candidate_signal(session, c));
                    }
                    Some(RtcEvent::State(RTCPeerConnectionState::Failed)) | None => {
                        return Err(CoreError::Connect("stripe connection failed".into()));
                    }
                    Some(_) => {}
                },
                event = events.recv() => match event {
                    Some(ChannelEvent::Open) => return Ok(()),
                    _ => return Err(CoreError::Connect("stripe channel closed while opening".into())),
                },
            }
        }
    })
    .await;
    match opened {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            let _ = pc.close().await;
            return Err(e);
        }
        Err(_) => {
            let _ = pc.close().await;
            return Err(CoreError::Connect("stripe did not open in time".into()));
        }
    }
    debug!(number, "stripe open");
    let stripe = Stripe::start(
        pc,
        nudger,
        link,
        rtc_events,
        to.id,
        StripeSide::Sender(events),
        lost,
    );
    Ok((stripe, Arc::new(RtcChannel(dc))))
}

/// Receiver side: answers a stripe `offer` if its certificate fingerprint is `proved` (what
/// the main connection's DTLS proved for the same peer). The stripe's data channel is pumped
/// into `data`, the main connection's data queue. Returns at once; the stripe connects in
/// the background and reports a failure on `lost`.
pub async fn accept_stripe(
    ice: &[peerdrop_proto::signal::IceServer],
    settings: &RtcSettings,
    offer: IncomingOffer,
    proved: &str,
    data: mpsc::Sender<ChannelEvent>,
    lost: mpsc::UnboundedSender<String>,
) -> Result<Stripe, CoreError> {
    let IncomingOffer {
        from,
        session,
        sdp,
        link,
    } = offer;
    if !offers_certificate(&sdp, proved) {
        let _ = link.send(
            from.id,
            SignalData::Bye {
                session,
                reason: "stripe refused: another certificate".into(),
            },
        );
        return Err(CoreError::Connect(
            "refused a stripe whose certificate is not the peer's".into(),
        ));
    }
    // The receiver never writes on a stripe; its driver is kept awake as on the main one.
    let Answered {
        pc,
        rtc_events,
        nudger,
    } = answer_with_new_connection(ice, settings, &link, &from, session, sdp).await?;
    Ok(Stripe::start(
        pc,
        nudger,
        link,
        rtc_events,
        from.id,
        StripeSide::Receiver(data),
        lost,
    ))
}

/// Whether a stripe offer's SDP announces exactly the certificate fingerprint `proved` (what
/// the main connection's DTLS proved for this peer). The stripe's own DTLS handshake then
/// holds the peer to that certificate, so a stripe cannot smuggle in another party.
fn offers_certificate(sdp: &str, proved: &str) -> bool {
    crate::fallback::sdp_fingerprint(sdp).as_deref() == Some(proved)
}

/// What a stripe's background task watches besides signaling and the peer connection.
enum StripeSide {
    /// The sender's own channel events (open/closed).
    Sender(mpsc::Receiver<ChannelEvent>),
    /// The receiver's main data queue, where channels announced by the sender are pumped.
    Receiver(mpsc::Sender<ChannelEvent>),
}

/// A stripe's background: trickles candidates both ways, pumps the sender's channels on the
/// receiving side, and reports a failed or closed stripe on `lost`.
async fn serve(
    stop: CancellationToken,
    mut link: SessionLink,
    mut rtc_events: mpsc::UnboundedReceiver<RtcEvent>,
    pc: Arc<dyn PeerConnection>,
    peer: peerdrop_proto::signal::PeerId,
    mut side: StripeSide,
    lost: mpsc::UnboundedSender<String>,
) {
    let session = link.session();
    let mut signaling_open = true;
    loop {
        let own_channel = async {
            match &mut side {
                StripeSide::Sender(events) => events.recv().await,
                StripeSide::Receiver(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            signal = link.recv(), if signaling_open => match signal {
                SessionSignal::Signal { data: SignalData::Candidate { candidate, sdp_mid, sdp_mline_index, .. }, .. } => {
                    let init = RTCIceCandidateInit { candidate, sdp_mid, sdp_mline_index, ..Default::default() };
                    if let Err(e) = pc.add_ice_candidate(init).await {
                        warn!("stripe: ignoring remote candidate: {e}");
                    }
                }
                SessionSignal::Disconnected => signaling_open = false,
                _ => {}
            },
            event = rtc_events.recv() => match event {
                Some(RtcEvent::LocalCandidate(c)) => {
                    let _ = link.send(peer, candidate_signal(session, c));
                }
                Some(RtcEvent::DataChannel(dc)) => match &side {
                    StripeSide::Receiver(data) => {
                        let label = dc.label().await.unwrap_or_default();
                        if label.starts_with(DATA_CHANNEL_PREFIX) {
                            spawn_pump(dc, data.clone());
                        } else {
                            let (drain_tx, _) = mpsc::channel(1);
                            spawn_pump(dc, drain_tx);
                        }
                    }
                    StripeSide::Sender(_) => {
                        let (drain_tx, _) = mpsc::channel(1);
                        spawn_pump(dc, drain_tx);
                    }
                },
                Some(RtcEvent::State(RTCPeerConnectionState::Failed | RTCPeerConnectionState::Closed)) | None => {
                    let _ = lost.send("a stripe's network path failed".into());
                    return;
                }
                Some(RtcEvent::PeerOverran(why)) => {
                    let _ = lost.send(why);
                    return;
                }
                Some(_) => {}
            },
            event = own_channel => {
                if !matches!(event, Some(ChannelEvent::Open)) {
                    let _ = lost.send("a stripe's channel closed".into());
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::offers_certificate;

    #[test]
    fn a_stripe_must_announce_the_certificate_the_main_connection_proved() {
        let proved = "ab:cd:ef";
        let sdp = |fp: &str| format!("v=0\r\na=fingerprint:sha-256 {fp}\r\na=setup:actpass\r\n");
        assert!(offers_certificate(&sdp("AB:CD:EF"), proved));
        assert!(!offers_certificate(&sdp("AB:CD:00"), proved));
        assert!(!offers_certificate("v=0\r\na=setup:actpass\r\n", proved));
        assert!(!offers_certificate(
            "v=0\r\na=fingerprint:sha-1 AB:CD:EF\r\n",
            proved
        ));
    }
}
