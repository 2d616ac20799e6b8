//! `resolve`: a typed code to the peer it names, within the look-up budgets.

use super::*;

impl Conn {
    /// `resolve`: malformed codes fail without touching the budget; look-ups of well-formed
    /// codes are limited per connection and per address.
    pub(super) async fn resolve(&mut self, me: PeerId, typed: &str) -> Result<(), End> {
        let Some(code) = normalize_code(typed) else {
            return self
                .send_error(ErrorCode::UnknownCode, "not a valid code".into())
                .await;
        };
        let now = std::time::Instant::now();
        if !self.resolves.try_take(now)
            || !self
                .shared
                .registry
                .take_resolve_budget(GroupKey::guessing_budget_of(self.client), now)
        {
            let text = "too many code look-ups; wait a minute".to_string();
            return self.reject(ErrorCode::RateLimited, text).await;
        }
        let mut found = self.shared.registry.resolve(me, &code);
        if let (None, Some(link)) = (&found, self.shared.bus.link()) {
            // Not held here: perhaps on another node. Redis down = not found.
            match link.lookup_code(&code).await {
                Ok(Some(record)) => found = self.shared.registry.resolve_remote(me, record),
                Ok(None) => {}
                Err(err) => tracing::debug!(%err, "code look-up in the cluster failed"),
            }
        }
        match found {
            Some(peer) => self.send(&ServerMsg::Resolved { code, peer }).await,
            None => {
                self.send_error(ErrorCode::UnknownCode, format!("no peer holds code {code}"))
                    .await
            }
        }
    }
}
