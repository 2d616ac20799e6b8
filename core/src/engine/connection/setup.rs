//! Setting a connection up, for either side: the offerer's offer and the answerer's answer
//! over a signaling session, trickle ICE, and the wait until every channel is open.

use super::*;

/// Channels still expected to open before a connection is usable.
struct Opening {
    control_open: bool,
    data_open: usize,
    data_expected: usize,
}

impl Opening {
    fn ready(&self) -> bool {
        self.control_open && self.data_open >= self.data_expected
    }
}

/// Sender side: offers a connection to `to` and waits until every channel is open.
pub async fn connect_offerer(
    client: &SignalClient,
    to: &PeerInfo,
    settings: &RtcSettings,
    data_channels: usize,
) -> Result<Connection, CoreError> {
    let started = Instant::now();
    let session = Uuid::new_v4();
    let link = client.open_session(session);
    let (pc, rtc_events) = build_peer_connection(client.ice_servers(), settings, to.max_packet)
        .await
        .map_err(rtc_err("creating connection"))?;
    let control = pc
        .create_data_channel(CONTROL_CHANNEL_LABEL, reliable_ordered(None))
        .await
        .map_err(rtc_err("creating control channel"))?;
    let nudger = spawn_nudger(control.clone());
    let (control_tx, control_rx) = mpsc::channel(PUMP_QUEUE);
    spawn_pump(control.clone(), control_tx);
    let (data_tx, data_rx) = mpsc::channel(PUMP_QUEUE);
    let mut data = Vec::new();
    for i in 0..data_channels.max(1) {
        let dc = pc
            .create_data_channel(&format!("{DATA_CHANNEL_PREFIX}{i}"), reliable_ordered(None))
            .await
            .map_err(rtc_err("creating data channel"))?;
        let drained = Arc::new(tokio::sync::Notify::new());
        spawn_pump_notifying(dc.clone(), data_tx.clone(), Some(drained.clone()));
        data.push(Arc::new(CappedChannel::new(dc, drained)));
    }
    let sdp = local_offer(pc.as_ref()).await?;
    debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "offer sent"
    );
    link.send(to.id, SignalData::Offer { session, sdp })?;
    // Dropped armed when this wait is cancelled or times out: a receiver holding the offer
    // in its waiting line hears at once that nobody waits for the answer any more.
    let mut gave_up = link.bye_on_drop(to.id, "the sender stopped waiting");

    let expected = data.len();
    let mut conn = Connection {
        pc,
        peer: to.clone(),
        control: Arc::new(RtcChannel(control)),
        control_rx,
        data: data
            .iter()
            .map(|channel| channel.clone() as Arc<dyn MessageOut>)
            .collect(),
        data_rx,
        data_tx,
        connect_ms: 0,
        _nudger: nudger,
        link,
        rtc_events,
        remote_set: false,
        pending_candidates: Vec::new(),
        signaling_closed: false,
        via_fallback: false,
        fallback_fp: None,
        fallback_binding: None,
        fallback_proved: false,
        plane: DataPlane::new(client, settings, data),
        refusal: None,
    };
    let fallback = settings.fallback;
    let mut fallback_at = tokio::time::Instant::now() + fallback.after;
    // Re-armed by every `queued` from a busy receiver (see [`SignalData::Queued`]); while the
    // receiver holds the offer there is no path to try, so the relay switch waits for the
    // answer and counts from it.
    let mut deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    let mut held = false;
    let mut timed_out = false;
    let mut opening = Opening {
        control_open: false,
        data_open: 0,
        data_expected: expected,
    };
    let use_fallback = async {
        while !opening.ready() {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    timed_out = true;
                    return Err(CoreError::Connect(format!("timed out connecting to {}", to.name)));
                }
                signal = conn.link.recv() => match signal {
                    SessionSignal::Signal { data: SignalData::Queued { position, .. }, .. } if !conn.remote_set => {
                        debug!(position, "the receiver is busy and holds our offer in line");
                        held = true;
                        deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
                        client.report_queued(to.id, position);
                    }
                    SessionSignal::Signal { data: SignalData::Answer { sdp, .. }, .. } if !conn.remote_set => {
                        debug!(elapsed_ms = started.elapsed().as_millis() as u64, "answer received");
                        if held {
                            held = false;
                            let now = tokio::time::Instant::now();
                            deadline = now + CONNECT_TIMEOUT;
                            fallback_at = now + fallback.after;
                        }
                        let answer = RTCSessionDescription::answer(sdp).map_err(rtc_err("parsing answer"))?;
                        conn.pc.set_remote_description(answer).await.map_err(rtc_err("applying answer"))?;
                        conn.remote_description_set().await;
                    }
                    SessionSignal::ServerError { code: ErrorCode::UnknownPeer, .. } => {
                        return Err(CoreError::PeerUnavailable(format!("{} is no longer online", to.name)));
                    }
                    SessionSignal::Disconnected => return Err(CoreError::Signal(crate::signaling::SignalError::Disconnected)),
                    other => {
                        if let Background::PeerGone(why) = conn.on_signal(other).await {
                            return Err(CoreError::PeerUnavailable(why));
                        }
                    }
                },
                _ = tokio::time::sleep_until(fallback_at), if fallback.enabled && !held => return Ok(true),
                event = conn.rtc_events.recv() => {
                    if let Some(RtcEvent::State(RTCPeerConnectionState::Failed)) = event {
                        if fallback.enabled {
                            return Ok(true);
                        }
                        return Err(CoreError::Connect("no network path to the peer (ICE failed)".into()));
                    }
                    if let Some(event) = event {
                        if let Background::Refused(why) = conn.on_rtc(event) {
                            return Err(CoreError::Connect(why));
                        }
                    }
                }
                ev = conn.control_rx.recv() => match ev {
                    Some(ChannelEvent::Open) => {
                        debug!(elapsed_ms = started.elapsed().as_millis() as u64, "control channel open");
                        opening.control_open = true;
                    }
                    _ => return Err(CoreError::Connect("control channel closed while connecting".into())),
                },
                ev = conn.data_rx.recv() => match ev {
                    Some(ChannelEvent::Open) => {
                        debug!(elapsed_ms = started.elapsed().as_millis() as u64, "data channel open");
                        opening.data_open += 1;
                    }
                    _ => return Err(CoreError::Connect("data channel closed while connecting".into())),
                },
            }
        }
        Ok(false)
    }
    .await;
    if !timed_out {
        gave_up.disarm();
    }
    drop(gave_up);
    let use_fallback = use_fallback?;
    if use_fallback {
        let route = client.relay_route(session, to.id);
        let out = conn.link.relay_sender(to.id);
        let carrier = crate::fallback::initiate(
            session,
            client.id(),
            to.id,
            route,
            out,
            settings.identity.as_ref(),
        )
        .await?;
        conn.use_carrier(carrier).await;
    }
    conn.connect_ms = started.elapsed().as_millis() as u64;
    Ok(conn)
}

/// Receiver side: answers `offer` and waits until the sender's channels have arrived.
pub async fn connect_answerer(
    client: &SignalClient,
    offer: IncomingOffer,
    settings: &RtcSettings,
) -> Result<Connection, CoreError> {
    let started = Instant::now();
    let IncomingOffer {
        from,
        session,
        sdp,
        link,
    } = offer;
    let Answered {
        pc,
        rtc_events,
        nudger,
    } = answer_with_new_connection(client.ice_servers(), settings, &link, &from, session, sdp)
        .await?;
    let (control_tx, control_rx) = mpsc::channel(PUMP_QUEUE);
    let (data_tx, data_rx) = mpsc::channel(PUMP_QUEUE);
    let mut control: Option<Arc<dyn DataChannel>> = None;
    let mut data: Vec<Arc<dyn DataChannel>> = Vec::new();
    let mut rtc_events = rtc_events;
    let mut link = link;
    let fallback = settings.fallback;
    // Candidates that arrive before the channels: apply immediately (remote is set).
    let relay_hello = tokio::time::timeout(CONNECT_TIMEOUT, async {
        while control.is_none() || data.is_empty() {
            tokio::select! {
                signal = link.recv() => match signal {
                    SessionSignal::Signal { data: SignalData::Candidate { candidate, sdp_mid, sdp_mline_index, .. }, .. } => {
                        let init = RTCIceCandidateInit { candidate, sdp_mid, sdp_mline_index, ..Default::default() };
                        if let Err(e) = pc.add_ice_candidate(init).await { warn!("ignoring remote candidate: {e}"); }
                    }
                    SessionSignal::Signal { data: SignalData::Bye { reason, .. }, .. } => return Err(CoreError::PeerUnavailable(format!("sender left: {reason}"))),
                    SessionSignal::PeerGone(id) if id == from.id => return Err(CoreError::PeerUnavailable("sender disconnected".into())),
                    SessionSignal::Disconnected => return Err(CoreError::Signal(crate::signaling::SignalError::Disconnected)),
                    // The sender found no UDP path and opens the encrypted relay.
                    SessionSignal::Relay { from: sender, data: frame } if sender == from.id && fallback.enabled && crate::fallback::is_handshake_start(&frame) => return Ok(Some(frame)),
                    _ => {}
                },
                event = rtc_events.recv() => match event {
                    Some(RtcEvent::LocalCandidate(c)) => { let _ = link.send(from.id, candidate_signal(session, c)); }
                    Some(RtcEvent::DataChannel(dc)) => {
                        let label = dc.label().await.unwrap_or_default();
                        if label == CONTROL_CHANNEL_LABEL && control.is_none() {
                            spawn_pump(dc.clone(), control_tx.clone());
                            control = Some(dc);
                        } else if label.starts_with(DATA_CHANNEL_PREFIX) {
                            spawn_pump(dc.clone(), data_tx.clone());
                            data.push(dc);
                        } else {
                            debug!("ignoring unknown data channel {label:?}");
                            // Still drained, so it cannot stall the connection.
                            let (drain_tx, _) = mpsc::channel(1);
                            spawn_pump(dc, drain_tx);
                        }
                    }
                    // With the fallback on, the sender may still open the relay: keep waiting.
                    Some(RtcEvent::State(RTCPeerConnectionState::Failed)) if !fallback.enabled => return Err(CoreError::Connect("no network path to the sender (ICE failed)".into())),
                    Some(RtcEvent::PeerOverran(why)) => return Err(CoreError::Connect(why)),
                    Some(_) => {}
                    None => return Err(CoreError::Connect("connection closed while connecting".into())),
                }
            }
        }
        Ok(None)
    })
    .await
    .map_err(|_| CoreError::Connect(format!("timed out connecting to {}", from.name)))??;
    let carrier = match relay_hello {
        Some(frame) => {
            let route = client.relay_route(session, from.id);
            let out = link.relay_sender(from.id);
            let mine = pc
                .local_description()
                .await
                .and_then(|d| crate::fallback::sdp_fingerprint(&d.sdp));
            Some(
                crate::fallback::respond(
                    session,
                    client.id(),
                    from.id,
                    &frame,
                    mine.as_deref(),
                    route,
                    out,
                    settings.identity.as_ref(),
                )
                .await?,
            )
        }
        None => None,
    };
    let mut conn = Connection {
        pc,
        peer: from,
        control: match &carrier {
            Some(c) => c.control.clone(),
            None => Arc::new(RtcChannel(
                control.expect("loop exits with a control channel"),
            )),
        },
        control_rx,
        data: data
            .into_iter()
            .map(|dc| Arc::new(RtcChannel(dc)) as Arc<dyn MessageOut>)
            .collect(),
        data_rx,
        data_tx,
        connect_ms: started.elapsed().as_millis() as u64,
        _nudger: nudger,
        link,
        rtc_events,
        remote_set: true,
        pending_candidates: Vec::new(),
        signaling_closed: false,
        via_fallback: false,
        fallback_fp: None,
        fallback_binding: None,
        fallback_proved: false,
        plane: DataPlane::new(client, settings, Vec::new()),
        refusal: None,
    };
    if let Some(carrier) = carrier {
        conn.use_carrier(carrier).await;
    }
    Ok(conn)
}
