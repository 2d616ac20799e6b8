//! Which network path a connection's bytes take, for `TransferEvent::Path`.
//!
//! Read from the selected ICE candidate pair: `relayed` when either candidate is a TURN
//! `relay` candidate, `direct` otherwise (host, server- or peer-reflexive). The encrypted
//! WebSocket fallback (see [`crate::fallback`]) reports `fallback` without asking ICE.

use peerdrop_proto::events::PathKind;
use webrtc::peer_connection::{PeerConnection, RTCIceCandidateType};

/// The path of `pc`: relayed if either selected candidate is a relay candidate.
pub async fn path_of(pc: &dyn PeerConnection) -> PathKind {
    let Some(sctp) = pc.sctp().await else {
        return PathKind::Direct;
    };
    let ice = sctp.transport().ice_transport();
    match ice.get_selected_candidate_pair().await {
        Ok(Some(pair)) => {
            let (local, remote) = (pair.local().typ, pair.remote().typ);
            tracing::info!(%local, %remote, "selected candidate pair");
            if local == RTCIceCandidateType::Relay || remote == RTCIceCandidateType::Relay {
                PathKind::Relayed
            } else {
                PathKind::Direct
            }
        }
        _ => PathKind::Direct,
    }
}
