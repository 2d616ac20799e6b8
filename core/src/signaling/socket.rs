//! The client's one WebSocket: writes the outbox, hands what arrives to `route`,
//! pings to stay alive, and names a refused certificate for the person.

use super::*;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Owns the socket: writes the outbox, routes what arrives, pings to stay alive.
pub(super) async fn run_connection(
    mut ws: Socket,
    mut outbox: mpsc::UnboundedReceiver<ClientMsg>,
    shared: Arc<Shared>,
) {
    let mut keepalive = tokio::time::interval(KEEPALIVE_INTERVAL);
    keepalive.tick().await;
    loop {
        tokio::select! {
            msg = outbox.recv() => {
                let Some(msg) = msg else { break };
                if ws.send(Message::text(msg.to_json())).await.is_err() {
                    break;
                }
            }
            frame = ws.next() => {
                match frame {
                    Some(Ok(Message::Text(text))) => match ServerMsg::from_json(&text) {
                        Ok(msg) => route::route(msg, &shared),
                        Err(e) => warn!("ignoring unparseable server message: {e}"),
                    },
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                }
            }
            _ = keepalive.tick() => {
                if ws.send(Message::text(ClientMsg::Ping.to_json())).await.is_err() {
                    break;
                }
            }
        }
    }
    debug!("signaling connection closed");
    let sessions: Vec<_> = shared
        .sessions
        .lock()
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default();
    for s in sessions {
        let _ = s.send(SessionSignal::Disconnected);
    }
    // Closing the relay routes tells fallback carriers the server is gone.
    if let Ok(mut relays) = shared.relays.lock() {
        relays.clear();
    }
    if let Some(reply) = shared.resolve_reply.lock().ok().and_then(|mut r| r.take()) {
        let _ = reply.send(Err(SignalError::Disconnected));
    }
    if let Ok(mut claims) = shared.claims.lock() {
        claims.clear();
    }
    shared.closed.cancel();
}

/// Why opening the WebSocket failed: a refused certificate or a failed TLS handshake is told
/// as such (a person must know the server may not be who it claims), anything else is
/// "unreachable".
pub(super) fn connect_failure(url: &str, error: WsError, tls: &ClientTls) -> SignalError {
    let rustls_error = match &error {
        WsError::Io(io) => crate::tls::rustls_error(io),
        WsError::Tls(TlsError::Rustls(e)) => Some(e.as_ref()),
        _ => None,
    };
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(cert)) => SignalError::UntrustedCertificate {
            url: url.to_string(),
            problem: CertificateProblem::from_rustls(cert, &host_of(url), tls),
        },
        Some(other) => SignalError::Tls {
            url: url.to_string(),
            reason: other.to_string(),
        },
        None => SignalError::Unreachable {
            url: url.to_string(),
            reason: error.to_string(),
        },
    }
}

/// The host part of a server URL (as the certificate must name it).
fn host_of(url: &str) -> String {
    url.parse::<tokio_tungstenite::tungstenite::http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_string))
        .unwrap_or_else(|| url.to_string())
}
