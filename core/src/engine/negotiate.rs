//! The SDP and wake-up steps every peer connection goes through, the main one
//! ([`super::connection`]) and each stripe ([`super::stripes`]) alike.

use peerdrop_proto::signal::{IceServer, PeerInfo, SignalData};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::DropGuard;
use uuid::Uuid;
use webrtc::data_channel::RTCDataChannelInit;
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateInit, RTCSessionDescription};

use super::channels::spawn_pump;
use super::nudge::spawn_nudger;
use crate::error::CoreError;
use crate::rtc::{build_peer_connection, RtcEvent, RtcSettings};
use crate::signaling::SessionLink;

/// SCTP stream of the receiver's local-only channel that exists only to wake its driver
/// ([`super::nudge`]): negotiated (so nothing is sent to open it) and never written to. Far
/// above the few in-band ids the sender allocates from 0 or 1 upwards.
pub const NUDGE_STREAM_ID: u16 = 1022;

/// A reliable, ordered channel; negotiated on `stream` when given, else opened in-band.
pub fn reliable_ordered(stream: Option<u16>) -> Option<RTCDataChannelInit> {
    Some(RTCDataChannelInit {
        ordered: true,
        negotiated: stream,
        ..Default::default()
    })
}

/// Offerer: creates the offer, applies it locally and returns its SDP to send.
pub async fn local_offer(pc: &dyn PeerConnection) -> Result<String, CoreError> {
    let offer = pc
        .create_offer(None)
        .await
        .map_err(rtc_err("creating offer"))?;
    pc.set_local_description(offer)
        .await
        .map_err(rtc_err("setting offer"))?;
    local_sdp(pc).await
}

/// Answerer: applies the peer's offer `sdp`, creates the answer, applies it locally and
/// returns its SDP to send.
async fn answer_offer(pc: &dyn PeerConnection, sdp: String) -> Result<String, CoreError> {
    let desc = RTCSessionDescription::offer(sdp).map_err(rtc_err("parsing offer"))?;
    pc.set_remote_description(desc)
        .await
        .map_err(rtc_err("applying offer"))?;
    let answer = pc
        .create_answer(None)
        .await
        .map_err(rtc_err("creating answer"))?;
    pc.set_local_description(answer)
        .await
        .map_err(rtc_err("setting answer"))?;
    local_sdp(pc).await
}

async fn local_sdp(pc: &dyn PeerConnection) -> Result<String, CoreError> {
    Ok(pc
        .local_description()
        .await
        .ok_or_else(|| CoreError::Connect("no local description".into()))?
        .sdp)
}

/// A peer connection just built to answer an offer ([`answer_with_new_connection`]).
pub struct Answered {
    /// The connection, its answer already sent.
    pub pc: Arc<dyn PeerConnection>,
    /// Its events (local candidates, state, channels the offerer opens).
    pub rtc_events: mpsc::UnboundedReceiver<RtcEvent>,
    /// Keeps its driver awake while held ([`spawn_answerer_nudger`]).
    pub nudger: DropGuard,
}

/// Answerer: builds a peer connection with `settings` (its SCTP packets no larger than `to`
/// says it takes, [`crate::rtc::build_peer_connection`]), answers the offer `sdp` of
/// `session`, sends the answer to `to` and keeps the new connection's driver awake. The main
/// connection and each stripe start this way.
pub async fn answer_with_new_connection(
    ice: &[IceServer],
    settings: &RtcSettings,
    link: &SessionLink,
    to: &PeerInfo,
    session: Uuid,
    sdp: String,
) -> Result<Answered, CoreError> {
    let (pc, rtc_events) = build_peer_connection(ice, settings, to.max_packet)
        .await
        .map_err(rtc_err("creating connection"))?;
    let sdp = answer_offer(pc.as_ref(), sdp).await?;
    link.send(to.id, SignalData::Answer { session, sdp })?;
    let nudger = spawn_answerer_nudger(pc.as_ref()).await?;
    Ok(Answered {
        pc,
        rtc_events,
        nudger,
    })
}

/// Answerer: keeps the driver of a connection it never writes on awake, through a local
/// negotiated channel ([`NUDGE_STREAM_ID`]) that is nudged and drained like any other.
async fn spawn_answerer_nudger(pc: &dyn PeerConnection) -> Result<DropGuard, CoreError> {
    let channel = pc
        .create_data_channel("peerdrop-nudge", reliable_ordered(Some(NUDGE_STREAM_ID)))
        .await
        .map_err(rtc_err("creating local channel"))?;
    let nudger = spawn_nudger(channel.clone());
    // Polled like every channel, though nothing ever arrives on it.
    let (drain_tx, _) = mpsc::channel(1);
    spawn_pump(channel, drain_tx);
    Ok(nudger)
}

/// The signal carrying a local ICE candidate of `session`.
pub fn candidate_signal(session: Uuid, c: RTCIceCandidateInit) -> SignalData {
    SignalData::Candidate {
        session,
        candidate: c.candidate,
        sdp_mid: c.sdp_mid,
        sdp_mline_index: c.sdp_mline_index,
    }
}

/// Maps a `webrtc` error to a connection error saying what was being done.
pub fn rtc_err(context: &str) -> impl Fn(webrtc::error::Error) -> CoreError + '_ {
    move |e| CoreError::Connect(format!("{context}: {e}"))
}
