//! Where each server message goes: the resolver waiting for `resolved`, the session a
//! `signal` or relay frame belongs to (a new one for a new offer), every session for
//! `peer_gone` and errors, the nearby and paired lists.

use super::*;

fn broadcast(shared: &Shared, signal: SessionSignal) {
    let sessions: Vec<_> = shared
        .sessions
        .lock()
        .map(|m| m.values().cloned().collect())
        .unwrap_or_default();
    for s in sessions {
        let _ = s.send(signal.clone());
    }
}

fn take_resolver(shared: &Shared) -> Option<oneshot::Sender<Result<PeerInfo, SignalError>>> {
    shared.resolve_reply.lock().ok().and_then(|mut r| r.take())
}

/// Registers `session` (ours, or opened by the peer's offer) and returns the link its
/// signals arrive on; dropping the link unregisters it.
pub(super) fn register_session(shared: &Shared, session: SessionId) -> SessionLink {
    let (tx, inbox) = mpsc::unbounded_channel();
    shared
        .sessions
        .lock()
        .expect("session map lock")
        .insert(session, tx);
    SessionLink {
        session,
        outbox: shared.outbox.clone(),
        inbox,
        unread: Default::default(),
        sessions: shared.sessions.clone(),
    }
}

pub(super) fn route(msg: ServerMsg, shared: &Arc<Shared>) {
    match msg {
        ServerMsg::Nearby { peers } => {
            let _ = shared.nearby_tx.send(peers);
        }
        ServerMsg::Paired { peers } => {
            let kept = paired_as_pinned(peers, &shared.pairing.lock().expect("pairing lock"));
            let _ = shared.paired_tx.send(kept);
        }
        ServerMsg::Resolved { peer, .. } => {
            if let Some(reply) = take_resolver(shared) {
                let _ = reply.send(Ok(peer));
            }
        }
        ServerMsg::Signal { from, data } => {
            let session = session_of(&data);
            let existing = shared
                .sessions
                .lock()
                .ok()
                .and_then(|m| m.get(&session).cloned());
            match (existing, data) {
                (Some(tx), data) => {
                    let _ = tx.send(SessionSignal::Signal { from, data });
                }
                (None, SignalData::Offer { session, sdp }) => {
                    let link = register_session(shared, session);
                    let claim = shared
                        .claims
                        .lock()
                        .ok()
                        .and_then(|m| m.get(&from.id).cloned());
                    let offer = IncomingOffer {
                        from,
                        session,
                        sdp,
                        link,
                    };
                    let unclaimed = match claim {
                        Some(tx) => tx.send(offer).err().map(|e| e.0),
                        None => Some(offer),
                    };
                    if let Some(offer) = unclaimed {
                        if let Err(mpsc::error::TrySendError::Full(offer)) =
                            shared.offers_tx.try_send(offer)
                        {
                            // Turned away, not queued: one peer's flood of offers must not
                            // grow this device's memory. Dropping the offer drops its session.
                            let _ = offer.link.send(
                                offer.from.id,
                                SignalData::Bye {
                                    session: offer.session,
                                    reason: "the receiver has too many offers waiting".into(),
                                },
                            );
                        }
                    }
                }
                (None, SignalData::StripeOffer { session, of, sdp }) => {
                    let main = shared
                        .sessions
                        .lock()
                        .ok()
                        .and_then(|m| m.get(&of).cloned());
                    let Some(main) = main else {
                        debug!("dropping stripe offer for unknown session {of}");
                        return;
                    };
                    let link = register_session(shared, session);
                    let offer = IncomingOffer {
                        from,
                        session,
                        sdp,
                        link,
                    };
                    // If the main session is gone the offer (and its link) is dropped, which
                    // unregisters the stripe's session again.
                    let _ = main.send(SessionSignal::Stripe(PendingStripe(Arc::new(Mutex::new(
                        Some(offer),
                    )))));
                }
                (None, other) => debug!("dropping signal for unknown session: {other:?}"),
            }
        }
        ServerMsg::Relay {
            from,
            session,
            data,
        } => route_relay(shared, from, session, data),
        ServerMsg::PeerGone { id } => broadcast(shared, SessionSignal::PeerGone(id)),
        ServerMsg::Error { code, message } => {
            let for_resolver = matches!(code, ErrorCode::UnknownCode | ErrorCode::RateLimited);
            let resolver = if for_resolver {
                take_resolver(shared)
            } else {
                None
            };
            match resolver {
                Some(reply) => {
                    let _ = reply.send(Err(SignalError::Refused { code, message }));
                }
                None => {
                    if code == ErrorCode::UnknownPeer {
                        // Routine when the peer left first (e.g. our closing `bye`).
                        debug!(?code, "signaling server: {message}");
                    } else {
                        warn!(?code, "signaling server: {message}");
                    }
                    broadcast(shared, SessionSignal::ServerError { code, message });
                }
            }
        }
        ServerMsg::Welcome { .. } | ServerMsg::Pong => {}
    }
}

/// A relay frame goes to the session's relay route if one is open (only from the peer it was
/// opened for), else to the session's signal queue (the first handshake message).
fn route_relay(shared: &Shared, from: PeerId, session: SessionId, data: String) {
    let route = shared
        .relays
        .lock()
        .ok()
        .and_then(|m| m.get(&session).cloned());
    match route {
        Some((peer, tx)) if peer == from => {
            if tx.try_send(data).is_err() {
                warn!("dropping relay frame: the fallback carrier is not keeping up");
            }
        }
        Some(_) => debug!("dropping relay frame from a peer outside the session"),
        None => {
            let existing = shared
                .sessions
                .lock()
                .ok()
                .and_then(|m| m.get(&session).cloned());
            match existing {
                Some(tx) => {
                    let _ = tx.send(SessionSignal::Relay { from, data });
                }
                None => debug!("dropping relay frame for unknown session"),
            }
        }
    }
}

fn session_of(data: &SignalData) -> SessionId {
    match data {
        SignalData::Offer { session, .. }
        | SignalData::StripeOffer { session, .. }
        | SignalData::Answer { session, .. }
        | SignalData::Candidate { session, .. }
        | SignalData::Queued { session, .. }
        | SignalData::Bye { session, .. } => *session,
    }
}
