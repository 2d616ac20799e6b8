//! Phase 2's dispatch: each request of a registered peer goes to its handler (one file per
//! request that needs more than a line), and a handled request forgives one strike.

use super::*;

impl Conn {
    /// Phase 2: one well-formed request from registered peer `me`. It forgives one earlier
    /// strike unless handling it was itself a rejection (a strike).
    pub(super) async fn handle(&mut self, me: PeerId, msg: ClientMsg) -> Result<(), End> {
        let strikes = self.strikes;
        let handled = self.dispatch(me, msg).await;
        if self.strikes <= strikes {
            self.forgive();
        }
        handled
    }

    async fn dispatch(&mut self, me: PeerId, msg: ClientMsg) -> Result<(), End> {
        match msg {
            ClientMsg::Ping => {
                tracing::debug!("ping");
                self.send(&ServerMsg::Pong).await
            }
            ClientMsg::Hello { .. } => {
                self.reject(
                    ErrorCode::HelloRequired,
                    "hello was already received".into(),
                )
                .await
            }
            ClientMsg::Resolve { code } => {
                tracing::debug!("resolve");
                self.resolve(me, &code).await
            }
            ClientMsg::Watch { tags } => self.watch(me, &tags).await,
            ClientMsg::Relay { to, session, data } => self.relay(me, to, session, data).await,
            ClientMsg::Signal { to, data } => {
                let kind = signal_kind(&data);
                tracing::debug!(%to, kind, "signal");
                match self.shared.registry.relay(me, to, data) {
                    Ok(()) => {
                        self.shared.metrics.signal_relayed(kind);
                        Ok(())
                    }
                    // The addressee's outbox is full: the sender slows down (and a flood
                    // earns strikes), the addressee stays.
                    Err(RelayError::Busy) => {
                        let message = format!("peer {to} is not keeping up; signal dropped");
                        self.reject(ErrorCode::RateLimited, message).await
                    }
                    Err(RelayError::UnknownPeer | RelayError::Gone) => {
                        let message = format!(
                            "peer {to} is not connected or not reachable from this connection"
                        );
                        self.send_error(ErrorCode::UnknownPeer, message).await
                    }
                }
            }
        }
    }
}

fn signal_kind(data: &peerdrop_proto::signal::SignalData) -> &'static str {
    use peerdrop_proto::signal::SignalData;
    match data {
        SignalData::Offer { .. } => "offer",
        SignalData::StripeOffer { .. } => "stripe_offer",
        SignalData::Answer { .. } => "answer",
        SignalData::Candidate { .. } => "candidate",
        SignalData::Queued { .. } => "queued",
        SignalData::Bye { .. } => "bye",
    }
}
