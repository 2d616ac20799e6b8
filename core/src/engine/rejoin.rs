//! Taking a new connection as the same peer again, for either role: a transfer that resumes
//! must be talking to the certificate it started with, over a path where that is proved.

use super::connection::Connection;

/// Why no new connection replaced a lost one.
pub(super) enum Gave {
    /// The peer is gone or unreachable for too long.
    Up(String),
    /// Something that must stop the transfer (e.g. the peer's certificate changed).
    Fatal(String),
    /// The user cancelled meanwhile.
    Cancelled,
}

/// The transfer as the new connection must prove it: who the peer was, and how.
pub(super) struct SamePeer<'a> {
    /// The peer's role, for the reasons people read ("receiver", "sender").
    pub role: &'a str,
    /// The certificate fingerprint the transfer started with.
    pub fingerprint: &'a str,
    /// The first connection ran over the encrypted relay (the fingerprint was only claimed).
    pub relayed: bool,
    /// Said after "not resuming in this session" when the relay stops a resume.
    pub relay_hint: &'a str,
}

impl SamePeer<'_> {
    /// `Ok` when `conn` proves the same certificate directly; `Err(Some(why))` ends the
    /// transfer; `Err(None)`: this connection is unusable (closed), try another.
    pub(super) async fn check(&self, conn: Connection) -> Result<Connection, Option<Gave>> {
        if self.relayed || conn.channel_binding().is_some() {
            conn.close("cannot re-verify").await;
            return Err(Some(Gave::Fatal(format!(
                "the connection runs over the relay, where the {} cannot be re-verified: \
                 not resuming in this session{}",
                self.role, self.relay_hint
            ))));
        }
        match conn.remote_fingerprint().await {
            Ok(fp) if fp == self.fingerprint => Ok(conn),
            Ok(fp) => {
                conn.close("identity changed").await;
                Err(Some(Gave::Fatal(format!(
                    "the {}'s certificate changed while reconnecting (was {}, now {fp}): not resuming, someone may be in the middle",
                    self.role, self.fingerprint
                ))))
            }
            Err(e) => {
                tracing::debug!("reconnection unusable: {e}");
                conn.abandon().await;
                Err(None)
            }
        }
    }
}
