//! Setting up one WebRTC connection between two peers over a signaling session, and
//! keeping it serviced (late candidates, state changes) while a transfer runs.
//!
//! The sender is always the offerer: it creates the control channel and the data channel(s).
//! The receiver answers and learns the channels from `on_data_channel`. Both sides keep their
//! connection's driver awake with [`super::nudge`] (the receiver through a local channel the
//! sender never uses, [`NUDGE_STREAM_ID`]).

use peerdrop_proto::signal::{ErrorCode, PeerInfo, SignalData};
use peerdrop_proto::transfer::{
    data_payload_budget, CONTROL_CHANNEL_LABEL, DATA_CHANNEL_PREFIX, MAX_DATA_PAYLOAD,
    MAX_MESSAGE_BYTES,
};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, warn};
use uuid::Uuid;
use webrtc::data_channel::DataChannel;
use webrtc::peer_connection::{
    PeerConnection, RTCIceCandidateInit, RTCPeerConnectionState, RTCSessionDescription,
};

use super::channels::{spawn_pump, spawn_pump_notifying, ChannelEvent, PUMP_QUEUE};
use super::in_flight::CappedChannel;
use super::nudge::spawn_nudger;
use super::stripes::{accept_stripe, open_stripe, Stripe};
use super::transport::{MessageOut, RtcChannel};
use crate::error::CoreError;
use crate::rtc::{build_peer_connection, RtcEvent, RtcSettings};
use crate::signaling::{IncomingOffer, SessionLink, SessionSignal, SignalClient};

/// How long connection setup may take before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

pub use super::negotiate::NUDGE_STREAM_ID;
use super::negotiate::{
    answer_with_new_connection, candidate_signal, local_offer, reliable_ordered, rtc_err, Answered,
};

mod setup;

pub use setup::{connect_answerer, connect_offerer};

/// An established connection with open channels.
pub struct Connection {
    /// The peer connection (kept alive for the transfer's duration).
    pc: Arc<dyn PeerConnection>,
    /// Who is on the other side.
    pub peer: PeerInfo,
    /// Control channel, for sending.
    pub control: Arc<dyn MessageOut>,
    /// Events of the control channel.
    pub control_rx: mpsc::Receiver<ChannelEvent>,
    /// Data channels, for sending.
    pub data: Vec<Arc<dyn MessageOut>>,
    /// Events of all data channels, merged.
    pub data_rx: mpsc::Receiver<ChannelEvent>,
    /// Where pumps of data channels announced after setup deliver (they share `data_rx`).
    data_tx: mpsc::Sender<ChannelEvent>,
    /// Milliseconds from the start of setup until the channels were open.
    pub connect_ms: u64,
    /// Keeps the driver awake while the connection lives ([`super::nudge`]).
    _nudger: tokio_util::sync::DropGuard,
    link: SessionLink,
    rtc_events: mpsc::UnboundedReceiver<RtcEvent>,
    remote_set: bool,
    pending_candidates: Vec<RTCIceCandidateInit>,
    signaling_closed: bool,
    /// Whether the channels run over the encrypted WebSocket relay ([`crate::fallback`]).
    via_fallback: bool,
    /// Over the relay: the certificate fingerprint the peer announced (no DTLS proves it).
    fallback_fp: Option<String>,
    /// Over the relay: the Noise handshake hash (hex), bound into the verification phrase.
    fallback_binding: Option<String>,
    /// Whether the relay peer proved its fingerprint ([`Connection::identity_proved`]).
    fallback_proved: bool,
    /// Stripes and the in-flight cap: what a direct connection adds to its data channels.
    plane: DataPlane,
    /// Why this side closed the connection on the peer, if it did
    /// ([`RtcEvent::PeerOverran`]).
    refusal: Option<String>,
}

/// What a connection needs, beyond its channels, to add stripes ([`super::stripes`]) and to
/// cap its bytes in flight ([`super::in_flight`]).
struct DataPlane {
    /// Extra peer connections carrying data.
    stripes: Vec<Stripe>,
    /// Where stripes report that they failed, and where [`Connection::next_background`]
    /// hears it.
    lost_tx: mpsc::UnboundedSender<String>,
    lost_rx: mpsc::UnboundedReceiver<String>,
    /// What a stripe is built with (the receiver accepts them while the transfer runs).
    ice_servers: Vec<peerdrop_proto::signal::IceServer>,
    settings: RtcSettings,
    /// Whether [`Connection::cap_in_flight`] already ran.
    in_flight_sized: bool,
    /// The sender's main data channels (also in [`Connection::data`]), which a cap applies to.
    capped: Vec<Arc<CappedChannel>>,
}

impl DataPlane {
    fn new(client: &SignalClient, settings: &RtcSettings, capped: Vec<Arc<CappedChannel>>) -> Self {
        let (lost_tx, lost_rx) = mpsc::unbounded_channel();
        DataPlane {
            stripes: Vec::new(),
            lost_tx,
            lost_rx,
            ice_servers: client.ice_servers().to_vec(),
            settings: settings.clone(),
            in_flight_sized: false,
            capped,
        }
    }
}

/// What the background of a connection reported that matters to a transfer.
#[derive(Debug)]
pub enum Background {
    /// Nothing the transfer needs to act on.
    Quiet,
    /// The peer is gone; the string says how it was noticed.
    PeerGone(String),
    /// The peer-to-peer path failed (ICE failed, connection closed) while the peer may still
    /// be there: a transfer can try a new connection and resume.
    Lost(String),
    /// The peer broke a limit this side enforces and the connection was closed on it
    /// ([`crate::rtc::held_bytes`]): the transfer ends with this reason, with no new attempt.
    Refused(String),
}

impl Connection {
    /// Takes the control and data event queues out, so a transfer loop can poll them next to
    /// [`Connection::next_background`] (which needs `&mut self`).
    pub fn take_receivers(
        &mut self,
    ) -> (mpsc::Receiver<ChannelEvent>, mpsc::Receiver<ChannelEvent>) {
        let (_, closed_control) = mpsc::channel(1);
        let (_, closed_data) = mpsc::channel(1);
        (
            std::mem::replace(&mut self.control_rx, closed_control),
            std::mem::replace(&mut self.data_rx, closed_data),
        )
    }

    /// Why this side closed the connection on the peer, if it did. Call it when a channel
    /// closes: the reason is queued before the close, so it is known by then.
    pub fn refusal(&mut self) -> Option<String> {
        while self.refusal.is_none() {
            match self.rtc_events.try_recv() {
                Ok(event) => {
                    self.on_rtc(event);
                }
                Err(_) => break,
            }
        }
        self.refusal.clone()
    }

    /// Services one signaling or peer-connection event; call it from the transfer loop.
    pub async fn next_background(&mut self) -> Background {
        tokio::select! {
            Some(why) = self.plane.lost_rx.recv() => Background::Lost(why),
            signal = self.link.recv(), if !self.signaling_closed => self.on_signal(signal).await,
            event = self.rtc_events.recv() => match event {
                Some(event) => self.on_rtc(event),
                None => Background::PeerGone("connection closed".into()),
            },
        }
    }

    async fn on_signal(&mut self, signal: SessionSignal) -> Background {
        match signal {
            SessionSignal::Signal {
                data:
                    SignalData::Candidate {
                        candidate,
                        sdp_mid,
                        sdp_mline_index,
                        ..
                    },
                ..
            } => {
                let init = RTCIceCandidateInit {
                    candidate,
                    sdp_mid,
                    sdp_mline_index,
                    ..Default::default()
                };
                self.add_candidate(init).await;
                Background::Quiet
            }
            SessionSignal::Signal {
                data: SignalData::Bye { reason, .. },
                ..
            } => Background::PeerGone(format!("peer left: {reason}")),
            SessionSignal::PeerGone(id) if id == self.peer.id => {
                Background::PeerGone("peer disconnected".into())
            }
            SessionSignal::Stripe(pending) => {
                if let Some(offer) = pending.take() {
                    self.accept_stripe(offer).await;
                }
                Background::Quiet
            }
            SessionSignal::Disconnected => {
                // The peer-to-peer link does not need the server any more; keep going, and
                // stop listening to a closed session.
                debug!("signaling connection lost during transfer; continuing peer to peer");
                self.signaling_closed = true;
                Background::Quiet
            }
            _ => Background::Quiet,
        }
    }

    fn on_rtc(&mut self, event: RtcEvent) -> Background {
        if self.via_fallback {
            // The abandoned peer connection's late events mean nothing to the relay.
            return Background::Quiet;
        }
        match event {
            RtcEvent::LocalCandidate(c) => {
                let _ = self
                    .link
                    .send(self.peer.id, candidate_signal(self.link.session(), c));
                Background::Quiet
            }
            RtcEvent::DataChannel(dc) => {
                // A channel announced after setup (the sender opens several): it must be polled
                // like the others, or its messages pile up and the connection's driver stalls.
                spawn_pump(dc.clone(), self.data_tx.clone());
                self.data.push(Arc::new(RtcChannel(dc)));
                Background::Quiet
            }
            RtcEvent::State(RTCPeerConnectionState::Failed) => {
                Background::Lost("the network path to the peer failed".into())
            }
            RtcEvent::State(RTCPeerConnectionState::Closed) => {
                Background::Lost("the connection to the peer closed".into())
            }
            RtcEvent::PeerOverran(why) => {
                self.refusal = Some(why.clone());
                Background::Refused(why)
            }
            _ => Background::Quiet,
        }
    }

    /// Receiver side: answers a stripe the peer offers for this connection's transfer, if it
    /// comes from the same peer with the certificate this connection's DTLS proved.
    async fn accept_stripe(&mut self, offer: IncomingOffer) {
        if self.via_fallback || offer.from.id != self.peer.id {
            debug!("ignoring a stripe offer that does not belong to this connection");
            return;
        }
        let proved = match crate::identity::remote_fingerprint(self.pc.as_ref()).await {
            Ok(fp) => fp,
            Err(e) => {
                warn!("ignoring a stripe offer: {e}");
                return;
            }
        };
        match accept_stripe(
            &self.plane.ice_servers,
            &self.plane.settings,
            offer,
            &proved,
            self.data_tx.clone(),
            self.plane.lost_tx.clone(),
        )
        .await
        {
            Ok(stripe) => {
                tracing::info!(stripes = self.plane.stripes.len() + 1, "stripe accepted");
                self.plane.stripes.push(stripe);
            }
            Err(e) => warn!("stripe not accepted: {e}"),
        }
    }

    /// Sender side: opens the extra peer connections `settings.stripes` asks for (one after
    /// the other, each bounded by [`super::stripes::STRIPE_OPEN_TIMEOUT`]) and adds their
    /// channels to [`Connection::data`]. Only on a direct path: through TURN or the relay a
    /// second association would only share the same relayed bottleneck. Call it once the
    /// receiver has accepted (it then services the stripe offers); later calls do nothing.
    pub async fn open_stripes(&mut self, client: &SignalClient) {
        if !self.plane.stripes.is_empty() || self.plane.settings.stripes <= 1 || self.via_fallback {
            return;
        }
        if self.path().await != peerdrop_proto::events::PathKind::Direct {
            return;
        }
        let main = self.link.session();
        for number in 1..self.plane.settings.stripes {
            match open_stripe(
                client,
                &self.peer,
                &self.plane.settings,
                main,
                number,
                self.plane.lost_tx.clone(),
            )
            .await
            {
                Ok((stripe, channel)) => {
                    self.plane.stripes.push(stripe);
                    self.data.push(channel);
                }
                Err(e) => {
                    warn!("going on without stripe {number}: {e}");
                    break;
                }
            }
        }
        tracing::info!(
            channels = self.data.len(),
            stripes = self.plane.stripes.len(),
            "stripes open"
        );
    }

    /// Sender side: caps the bytes in flight on every data channel at the path's
    /// bandwidth-delay product ([`super::in_flight`]), from the selected ICE pair's measured
    /// round trip. Not on loopback-only connections or the relay, nor when no round trip was
    /// measured; later calls do nothing.
    pub async fn cap_in_flight(&mut self) {
        if self.plane.in_flight_sized
            || self.via_fallback
            || !self.plane.settings.cap_in_flight
            || crate::rtc::loopback_only(&self.plane.settings.udp_bind)
        {
            return;
        }
        self.plane.in_flight_sized = true;
        let report = self
            .pc
            .get_stats(
                std::time::Instant::now(),
                webrtc::peer_connection::StatsSelector::None,
            )
            .await;
        let rtt = report
            .candidate_pairs()
            .filter(|p| p.nominated && p.current_round_trip_time > 0.0)
            .map(|p| p.current_round_trip_time)
            .fold(None, |best: Option<f64>, rtt| {
                Some(best.map_or(rtt, |b| b.max(rtt)))
            });
        let Some(rtt) = rtt.map(Duration::from_secs_f64) else {
            debug!("no round trip measured yet; bytes in flight stay at the send buffer");
            return;
        };
        let Some(cap) =
            crate::machine::flow::in_flight_cap(rtt, self.plane.settings.send_buffer_limit)
        else {
            return;
        };
        tracing::info!(
            rtt_us = rtt.as_micros() as u64,
            cap,
            "bytes in flight capped at the path's bandwidth-delay product"
        );
        // The main connection's channels; stripes keep the send buffer as their bound.
        for channel in &self.plane.capped {
            if let Err(e) = channel.set_cap(cap).await {
                warn!("{e}");
            }
        }
    }

    async fn add_candidate(&mut self, init: RTCIceCandidateInit) {
        if !self.remote_set {
            self.pending_candidates.push(init);
            return;
        }
        if let Err(e) = self.pc.add_ice_candidate(init).await {
            warn!("ignoring remote candidate: {e}");
        }
    }

    async fn remote_description_set(&mut self) {
        self.remote_set = true;
        for init in std::mem::take(&mut self.pending_candidates) {
            if let Err(e) = self.pc.add_ice_candidate(init).await {
                warn!("ignoring remote candidate: {e}");
            }
        }
    }

    /// Which path the bytes take: `fallback` over the relay, else from the selected ICE pair.
    pub async fn path(&self) -> peerdrop_proto::events::PathKind {
        if self.via_fallback {
            peerdrop_proto::events::PathKind::Fallback
        } else {
            super::path::path_of(self.pc.as_ref()).await
        }
    }

    /// Payload bytes per data frame on this connection: 64 KiB frames over the relay, else
    /// what the SCTP max-message-size negotiated with the peer allows, on the main connection
    /// and on every stripe (the smallest of them, since frames are dealt across all).
    pub async fn data_frame_payload(&self) -> usize {
        if self.via_fallback {
            return MAX_DATA_PAYLOAD;
        }
        let mut max_message = negotiated_max_message(self.pc.as_ref()).await;
        for stripe in &self.plane.stripes {
            max_message = max_message.min(negotiated_max_message(stripe.peer_connection()).await);
        }
        data_payload_budget(max_message)
    }

    /// Switches this connection to the encrypted relay: the drivers then run unchanged over
    /// `carrier`, and the (failed) peer connection is closed.
    async fn use_carrier(&mut self, carrier: crate::fallback::Carrier) {
        let announced = self
            .pc
            .remote_description()
            .await
            .and_then(|d| crate::fallback::sdp_fingerprint(&d.sdp));
        self.fallback_proved = carrier.peer_proved;
        self.fallback_fp = if carrier.peer_proved {
            carrier.peer_fp.clone()
        } else {
            carrier.peer_fp.clone().or(announced)
        };
        self.fallback_binding = Some(carrier.binding.clone());
        let _ = self.pc.close().await;
        self.control = carrier.control;
        self.control_rx = carrier.control_rx;
        self.data = vec![carrier.data as Arc<dyn MessageOut>];
        self.plane.capped.clear();
        self.data_rx = carrier.data_rx;
        self.via_fallback = true;
    }

    /// What ties the verification phrase to this very channel when the peer's fingerprint is
    /// *not* proved by DTLS (the relay: its Noise handshake hash); `None` on a WebRTC
    /// connection, where [`Connection::remote_fingerprint`] is authenticated.
    pub fn channel_binding(&self) -> Option<String> {
        self.fallback_binding.clone()
    }

    /// Whether [`Connection::remote_fingerprint`] is proved: by DTLS, or on the relay by the
    /// peer's signature over the handshake ([`crate::identity::proof`]). Only a proved
    /// fingerprint may be recognised as pinned, or pinned.
    pub fn identity_proved(&self) -> bool {
        !self.via_fallback || self.fallback_proved
    }

    /// Whether our own signaling connection is gone (a lost peer connection cannot be
    /// replaced then).
    pub fn signaling_closed(&self) -> bool {
        self.signaling_closed
    }

    /// Fingerprint of the certificate the peer proved in the DTLS handshake (see
    /// [`crate::identity::remote_fingerprint`]).
    pub async fn remote_fingerprint(&self) -> Result<String, CoreError> {
        if self.via_fallback {
            // No DTLS ran; see docs/network.md for what the phrase proves on the relay.
            return self.fallback_fp.clone().ok_or_else(|| {
                CoreError::Connect("the peer announced no certificate fingerprint".into())
            });
        }
        crate::identity::remote_fingerprint(self.pc.as_ref())
            .await
            .map_err(|e| CoreError::Connect(e.to_string()))
    }

    /// Drops the connection *without* telling the peer through the server: used when a
    /// connection is replaced by a new one to resume, so the peer does not read a `bye` as
    /// the end of the transfer.
    pub async fn abandon(self) {
        let _ = self.pc.close().await;
    }

    /// Tells the peer this session is over and closes the connection, after giving queued
    /// control messages a moment to leave.
    pub async fn close(self, reason: &str) {
        let drain_deadline = Instant::now() + Duration::from_millis(1500);
        while Instant::now() < drain_deadline {
            match self.control.outstanding().await {
                0 => break,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let _ = self.link.send(
            self.peer.id,
            SignalData::Bye {
                session: self.link.session(),
                reason: reason.into(),
            },
        );
        let _ = self.pc.close().await;
    }
}

/// The largest message `pc`'s SCTP association may carry, as negotiated in SDP (the smaller of
/// both peers' `max-message-size`); the 64 KiB every stack carries when it cannot be read.
async fn negotiated_max_message(pc: &dyn PeerConnection) -> usize {
    let Some(sctp) = pc.sctp().await else {
        return MAX_MESSAGE_BYTES;
    };
    match sctp.max_message_size().await {
        Ok(size) => size as usize,
        Err(e) => {
            debug!("no negotiated max-message-size: {e}");
            MAX_MESSAGE_BYTES
        }
    }
}
