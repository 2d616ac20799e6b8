//! `watch`: the pairing tags a peer follows (docs/protocol.md, **Paired devices**).

use super::*;

impl Conn {
    /// `watch`: at most [`MAX_PAIRING_TAGS`] well-formed tags replace this peer's; more, a
    /// malformed one, or a watch past the connection's budget ([`WATCH_BURST`]) is refused (a
    /// strike) and leaves the tags it watched before.
    pub(super) async fn watch(&mut self, me: PeerId, tags: &[String]) -> Result<(), End> {
        if tags.len() > MAX_PAIRING_TAGS {
            let message = format!(
                "watch carries {} pairing tags; at most {MAX_PAIRING_TAGS}",
                tags.len()
            );
            return self.reject(ErrorCode::TooLarge, message).await;
        }
        let Some(parsed) = tags
            .iter()
            .map(|t| parse_tag(t))
            .collect::<Option<Vec<_>>>()
        else {
            let message = "a pairing tag is 64 lowercase hex digits".to_string();
            return self.reject(ErrorCode::BadMessage, message).await;
        };
        if !self.watches.try_take(std::time::Instant::now()) {
            let message = format!(
                "too many watch messages: {WATCH_BURST} at once, then one every {WATCH_REFILL_SECS} s"
            );
            return self.reject(ErrorCode::RateLimited, message).await;
        }
        tracing::debug!(tags = parsed.len(), "watch");
        self.shared.registry.watch(me, parsed);
        Ok(())
    }
}
