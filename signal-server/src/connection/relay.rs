//! `relay`: one frame of the encrypted fallback relay, charged to the budgets.

use super::*;

impl Conn {
    /// `relay`: forwards one encrypted fallback frame and charges it to this connection's and
    /// this address's budgets (see [`crate::relay`]). A frame for a peer this connection may
    /// not reach is a strike; one for a partner that just left is not (frames in flight).
    pub(super) async fn relay(
        &mut self,
        me: PeerId,
        to: PeerId,
        session: uuid::Uuid,
        data: String,
    ) -> Result<(), End> {
        if self.shared.config.limits.relay_bytes_per_sec == 0 {
            let text = "the fallback relay is disabled on this server".to_string();
            return self.send_error(ErrorCode::Unavailable, text).await;
        }
        let now = Instant::now();
        let cost = data.len() + FRAME_OVERHEAD;
        let mine = self.relay_budget.charge(cost, now.into_std());
        let address = GroupKey::subscriber_of(self.client);
        let shared = self
            .shared
            .relay_budgets
            .charge(address, cost, now.into_std());
        let pause = mine.max(shared);
        if !pause.is_zero() {
            self.relay_pause = Some(now + pause);
        }
        let msg = ServerMsg::Relay {
            from: me,
            session,
            data,
        };
        match self.shared.registry.relay_frame(me, to, msg) {
            Ok(()) => {
                self.shared.metrics.relay_forwarded(cost - FRAME_OVERHEAD);
                Ok(())
            }
            Err(RelayError::Busy) => {
                let text = format!("peer {to} is not keeping up; relay frame dropped");
                self.send_error(ErrorCode::RateLimited, text).await
            }
            Err(RelayError::Gone) => {
                let text = format!("peer {to} has left; relay frame dropped");
                self.send_error(ErrorCode::UnknownPeer, text).await
            }
            Err(RelayError::UnknownPeer) => {
                let text =
                    format!("peer {to} is not connected or not reachable from this connection");
                self.reject(ErrorCode::UnknownPeer, text).await
            }
        }
    }
}
