//! A man in the middle: a malicious signaling server that terminates both WebRTC sessions
//! with its own certificates and relays every data-channel message between the two real
//! `peerdrop` processes. The file still arrives (the attacker relays faithfully, as a real
//! one would to stay unnoticed) — but the two verification phrases differ, and devices that
//! trusted each other before see a changed identity, which `--yes` refuses.
//!
//! The proxy sits in front of a real `peerdrop-signal`: pass-through it is harmless (the
//! control run shows equal phrases through it); in MITM mode it swallows the sender's offer,
//! answers it itself (leg A), and offers the receiver a connection of its own (leg B),
//! injecting the messages as if they came from the real peers.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use peerdrop_core::engine::channels::{spawn_pump, ChannelEvent};
use peerdrop_core::rtc::{build_peer_connection, RtcEvent, RtcSettings};
use peerdrop_proto::signal::{ClientMsg, PeerId, PeerInfo, ServerMsg, SessionId, SignalData};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Message;
use webrtc::data_channel::{DataChannel, RTCDataChannelInit};
use webrtc::peer_connection::{RTCIceCandidateInit, RTCSessionDescription};

/// What the proxy knows and does.
#[derive(Default)]
struct State {
    /// Attack, or just forward.
    mitm: AtomicBool,
    /// Connected clients: who they are, and how to inject a server message to them.
    clients: Mutex<HashMap<PeerId, (PeerInfo, mpsc::UnboundedSender<ServerMsg>)>>,
    /// Sessions the attacker terminates: where signals for them go.
    legs: Mutex<HashMap<SessionId, mpsc::UnboundedSender<SignalData>>>,
    /// Sessions completed as man in the middle.
    intercepted: Mutex<u32>,
}

impl State {
    fn inject(&self, to: PeerId, msg: ServerMsg) {
        if let Some((_, tx)) = self.clients.lock().unwrap().get(&to) {
            let _ = tx.send(msg);
        }
    }

    fn info(&self, id: PeerId) -> Option<PeerInfo> {
        self.clients
            .lock()
            .unwrap()
            .get(&id)
            .map(|(i, _)| i.clone())
    }
}

struct Proxy {
    addr: String,
    state: Arc<State>,
    _runtime: tokio::runtime::Runtime,
}

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let state = Arc::new(State::default());
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let upstream = format!("ws://{upstream}/ws");
        let shared = state.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let state = shared.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                        serve(ws, &upstream, state).await;
                    }
                });
            }
        });
        Proxy {
            addr,
            state,
            _runtime: runtime,
        }
    }
}

/// One client connection: forwards both ways, except what the attacker intercepts.
async fn serve(
    client: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    upstream: &str,
    state: Arc<State>,
) {
    let Ok((up, _)) = tokio_tungstenite::connect_async(upstream).await else {
        return;
    };
    let (mut up_tx, mut up_rx) = up.split();
    let (mut cl_tx, mut cl_rx) = client.split();
    let (inject_tx, mut inject_rx) = mpsc::unbounded_channel::<ServerMsg>();
    let mut hello: Option<(String, peerdrop_proto::signal::DeviceKind)> = None;
    let mut me: Option<PeerInfo> = None;
    loop {
        tokio::select! {
            frame = cl_rx.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    match ClientMsg::from_json(&text) {
                        Ok(ClientMsg::Hello { name, kind, .. }) => hello = Some((name, kind)),
                        Ok(ClientMsg::Signal { to, data }) if state.mitm.load(Ordering::SeqCst) => {
                            if let Some(from) = &me {
                                if intercept(&state, from.clone(), to, data) {
                                    continue;
                                }
                            }
                        }
                        _ => {}
                    }
                    if up_tx.send(Message::Text(text)).await.is_err() { break; }
                }
                Some(Ok(other)) => { if up_tx.send(other).await.is_err() { break; } }
                _ => break,
            },
            frame = up_rx.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let (Ok(ServerMsg::Welcome { id, .. }), Some((name, kind))) = (ServerMsg::from_json(&text), &hello) {
                        let info = PeerInfo { id, name: name.clone(), kind: *kind, fingerprint: None, max_packet: None };
                        state.clients.lock().unwrap().insert(id, (info.clone(), inject_tx.clone()));
                        me = Some(info);
                    }
                    if cl_tx.send(Message::Text(text)).await.is_err() { break; }
                }
                Some(Ok(other)) => { if cl_tx.send(other).await.is_err() { break; } }
                _ => break,
            },
            Some(msg) = inject_rx.recv() => {
                if cl_tx.send(Message::text(msg.to_json())).await.is_err() { break; }
            }
        }
    }
}

/// Handles a signal from `from` to `to` as the attacker; `true` when it was swallowed.
fn intercept(state: &Arc<State>, from: PeerInfo, to: PeerId, data: SignalData) -> bool {
    let session = match &data {
        SignalData::Offer { session, .. }
        | SignalData::StripeOffer { session, .. }
        | SignalData::Answer { session, .. }
        | SignalData::Candidate { session, .. }
        | SignalData::Queued { session, .. }
        | SignalData::Bye { session, .. } => *session,
    };
    if let Some(leg) = state.legs.lock().unwrap().get(&session) {
        let _ = leg.send(data);
        return true;
    }
    let SignalData::Offer { sdp, .. } = data else {
        return false;
    };
    let Some(victim) = state.info(to) else {
        return false;
    };
    // Leg A: answer the sender ourselves. Signals for its session come to us from now on.
    let (leg_a_tx, leg_a_rx) = mpsc::unbounded_channel();
    state.legs.lock().unwrap().insert(session, leg_a_tx);
    tokio::spawn(man_in_the_middle(
        state.clone(),
        from,
        victim,
        session,
        sdp,
        leg_a_rx,
    ));
    true
}

fn settings() -> RtcSettings {
    RtcSettings {
        udp_bind: vec!["127.0.0.1:0".into()],
        // No identity: the attacker's stack makes a certificate of its own for each leg.
        identity: None,
        ..RtcSettings::default()
    }
}

/// A channel end the relay writes to, and when it is open.
struct End {
    channel: Arc<dyn DataChannel>,
    open: Arc<Notify>,
    is_open: Arc<AtomicBool>,
}

async fn man_in_the_middle(
    state: Arc<State>,
    sender: PeerInfo,
    receiver: PeerInfo,
    session_a: SessionId,
    offer_sdp: String,
    mut leg_a_rx: mpsc::UnboundedReceiver<SignalData>,
) {
    // Leg A: the sender connects to us, believing we are the receiver.
    let (pc_a, mut ev_a) = build_peer_connection(&[], &settings(), None).await.unwrap();
    pc_a.set_remote_description(RTCSessionDescription::offer(offer_sdp).unwrap())
        .await
        .unwrap();
    let answer = pc_a.create_answer(None).await.unwrap();
    pc_a.set_local_description(answer).await.unwrap();
    let sdp = pc_a.local_description().await.unwrap().sdp;
    state.inject(
        sender.id,
        ServerMsg::Signal {
            from: receiver.clone(),
            data: SignalData::Answer {
                session: session_a,
                sdp,
            },
        },
    );
    // Collect the sender's channels (they open once leg A is up).
    let mut a_channels: Vec<(String, Arc<dyn DataChannel>, mpsc::Receiver<ChannelEvent>)> =
        Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let have_control = a_channels.iter().any(|(l, _, _)| l == "peerdrop-control");
        let have_data = a_channels
            .iter()
            .any(|(l, _, _)| l.starts_with("peerdrop-data-"));
        let grace = if have_control && have_data {
            Duration::from_millis(300)
        } else {
            deadline.saturating_duration_since(tokio::time::Instant::now())
        };
        tokio::select! {
            ev = ev_a.recv() => match ev {
                Some(RtcEvent::LocalCandidate(c)) => state.inject(sender.id, ServerMsg::Signal {
                    from: receiver.clone(),
                    data: SignalData::Candidate { session: session_a, candidate: c.candidate, sdp_mid: c.sdp_mid, sdp_mline_index: c.sdp_mline_index },
                }),
                Some(RtcEvent::DataChannel(dc)) => {
                    let label = dc.label().await.unwrap_or_default();
                    let (tx, rx) = mpsc::channel(64);
                    spawn_pump(dc.clone(), tx);
                    a_channels.push((label, dc, rx));
                }
                Some(_) => {}
                None => return,
            },
            sig = leg_a_rx.recv() => if let Some(SignalData::Candidate { candidate, sdp_mid, sdp_mline_index, .. }) = sig {
                let _ = pc_a.add_ice_candidate(RTCIceCandidateInit { candidate, sdp_mid, sdp_mline_index, ..Default::default() }).await;
            },
            _ = tokio::time::sleep(grace) => break,
        }
    }
    // Leg B: we connect to the receiver, pretending to be the sender, with the same channels.
    let session_b = uuid::Uuid::new_v4();
    let (leg_b_tx, mut leg_b_rx) = mpsc::unbounded_channel();
    state.legs.lock().unwrap().insert(session_b, leg_b_tx);
    let (pc_b, mut ev_b) = build_peer_connection(&[], &settings(), None).await.unwrap();
    let mut relays = Vec::new();
    for (label, dc_a, rx_a) in a_channels {
        let init = RTCDataChannelInit {
            ordered: true,
            ..Default::default()
        };
        let dc_b = pc_b.create_data_channel(&label, Some(init)).await.unwrap();
        let (tx_b, rx_b) = mpsc::channel(64);
        spawn_pump(dc_b.clone(), tx_b);
        relays.push((dc_a, rx_a, dc_b, rx_b));
    }
    let offer = pc_b.create_offer(None).await.unwrap();
    pc_b.set_local_description(offer).await.unwrap();
    let sdp = pc_b.local_description().await.unwrap().sdp;
    state.inject(
        receiver.id,
        ServerMsg::Signal {
            from: sender.clone(),
            data: SignalData::Offer {
                session: session_b,
                sdp,
            },
        },
    );
    for (dc_a, rx_a, dc_b, rx_b) in relays {
        // The sender's channels are open already; ours towards the receiver open later.
        let a_end = End {
            channel: dc_a,
            open: Arc::new(Notify::new()),
            is_open: Arc::new(AtomicBool::new(true)),
        };
        let b_end = End {
            channel: dc_b,
            open: Arc::new(Notify::new()),
            is_open: Arc::new(AtomicBool::new(false)),
        };
        let b_open = (b_end.open.clone(), b_end.is_open.clone());
        tokio::spawn(relay(rx_a, b_end, None));
        tokio::spawn(relay(rx_b, a_end, Some(b_open)));
    }
    *state.intercepted.lock().unwrap() += 1;
    // Keep both legs serviced: candidates, the receiver's answer, byes.
    loop {
        tokio::select! {
            ev = ev_a.recv() => match ev {
                Some(RtcEvent::LocalCandidate(c)) => state.inject(sender.id, ServerMsg::Signal {
                    from: receiver.clone(),
                    data: SignalData::Candidate { session: session_a, candidate: c.candidate, sdp_mid: c.sdp_mid, sdp_mline_index: c.sdp_mline_index },
                }),
                Some(_) => {}
                None => break,
            },
            ev = ev_b.recv() => match ev {
                Some(RtcEvent::LocalCandidate(c)) => state.inject(receiver.id, ServerMsg::Signal {
                    from: sender.clone(),
                    data: SignalData::Candidate { session: session_b, candidate: c.candidate, sdp_mid: c.sdp_mid, sdp_mline_index: c.sdp_mline_index },
                }),
                Some(_) => {}
                None => break,
            },
            sig = leg_a_rx.recv() => match sig {
                Some(SignalData::Candidate { candidate, sdp_mid, sdp_mline_index, .. }) => {
                    let _ = pc_a.add_ice_candidate(RTCIceCandidateInit { candidate, sdp_mid, sdp_mline_index, ..Default::default() }).await;
                }
                Some(SignalData::Bye { reason, .. }) => state.inject(receiver.id, ServerMsg::Signal {
                    from: sender.clone(),
                    data: SignalData::Bye { session: session_b, reason },
                }),
                Some(_) => {}
                None => break,
            },
            sig = leg_b_rx.recv() => match sig {
                Some(SignalData::Answer { sdp, .. }) => {
                    pc_b.set_remote_description(RTCSessionDescription::answer(sdp).unwrap()).await.unwrap();
                }
                Some(SignalData::Candidate { candidate, sdp_mid, sdp_mline_index, .. }) => {
                    let _ = pc_b.add_ice_candidate(RTCIceCandidateInit { candidate, sdp_mid, sdp_mline_index, ..Default::default() }).await;
                }
                Some(SignalData::Bye { reason, .. }) => state.inject(sender.id, ServerMsg::Signal {
                    from: receiver.clone(),
                    data: SignalData::Bye { session: session_a, reason },
                }),
                Some(_) => {}
                None => break,
            },
        }
    }
}

/// Copies every message from `from` to `to` (text stays text), waiting until `to` is open.
/// `announce` is set on the relay that reads a channel the attacker opened itself: its
/// `Open` event tells the opposite relay it may start writing.
async fn relay(
    mut from: mpsc::Receiver<ChannelEvent>,
    to: End,
    announce: Option<(Arc<Notify>, Arc<AtomicBool>)>,
) {
    while let Some(event) = from.recv().await {
        match event {
            ChannelEvent::Open => {
                if let Some((notify, flag)) = &announce {
                    flag.store(true, Ordering::SeqCst);
                    notify.notify_waiters();
                }
            }
            ChannelEvent::Message { is_text, data } => {
                while !to.is_open.load(Ordering::SeqCst) {
                    let wait = to.open.notified();
                    if to.is_open.load(Ordering::SeqCst) {
                        break;
                    }
                    let _ = tokio::time::timeout(Duration::from_millis(50), wait).await;
                }
                let sent = if is_text {
                    to.channel.send_text(&String::from_utf8_lossy(&data)).await
                } else {
                    to.channel.send(data).await
                };
                if sent.is_err() {
                    return;
                }
            }
            ChannelEvent::Closed => return,
        }
    }
}

/// One transfer through `signal` between the devices in `tx_home` and `rx_home`.
struct Run {
    sender_ok: bool,
    receiver_ok: bool,
    sender_verify: serde_json::Value,
    receiver_verify: serde_json::Value,
    sender_stderr: String,
}

fn transfer(signal: &Signal, file: &Path, tx_home: &Path, rx_home: &Path, dest: &Path) -> Run {
    let receiver = Receiver::spawn_with(
        signal,
        dest,
        &["--yes"],
        &[("PEERDROP_HOME", rx_home.as_os_str())],
    );
    let sent = send_with(
        signal,
        &receiver.code,
        &[file],
        &["--json"],
        &[("PEERDROP_HOME", tx_home.as_os_str())],
    );
    let (receiver_ok, _, lines) = receiver.finish_lines(Duration::from_secs(30));
    let tx_events = json_events(&String::from_utf8_lossy(&sent.stdout));
    let rx_events = json_events(&lines.join("\n"));
    let pick = |events: &[serde_json::Value]| {
        events_of(events, "verify")
            .first()
            .map(|v| (*v).clone())
            .unwrap_or_default()
    };
    Run {
        sender_ok: sent.status.success(),
        receiver_ok,
        sender_verify: pick(&tx_events),
        receiver_verify: pick(&rx_events),
        sender_stderr: String::from_utf8_lossy(&sent.stderr).into_owned(),
    }
}

#[test]
fn a_man_in_the_middle_relaying_with_its_own_certificates_changes_the_phrases() {
    let real = Signal::start();
    let proxy = Proxy::start(&real.addr);
    let signal = Signal::external(&proxy.addr);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("passport-scan.png");
    random_file(&file, 3 * 1024 * 1024, 21);
    let want = blake3::hash(&std::fs::read(&file).unwrap());

    // Control: the same proxy, passing everything through. Equal phrases, real certificates.
    let (ana, ben) = (test_home(), test_home());
    let dest = tempfile::tempdir().unwrap();
    let honest = transfer(&signal, &file, &ana, &ben, dest.path());
    assert!(
        honest.sender_ok && honest.receiver_ok,
        "{}",
        honest.sender_stderr
    );
    assert_eq!(
        honest.sender_verify["phrase"], honest.receiver_verify["phrase"],
        "no attacker: the same phrase on both screens"
    );
    assert_eq!(*proxy.state.intercepted.lock().unwrap(), 0);

    // Attack, first contact (nothing pinned yet): the relay works, the phrases do not match.
    proxy.state.mitm.store(true, Ordering::SeqCst);
    let (carla, dan) = (test_home(), test_home());
    let dest = tempfile::tempdir().unwrap();
    let attacked = transfer(&signal, &file, &carla, &dan, dest.path());
    assert_eq!(
        *proxy.state.intercepted.lock().unwrap(),
        1,
        "the attacker terminated both sessions"
    );
    assert!(
        attacked.sender_ok && attacked.receiver_ok,
        "the attacker relays faithfully: {}",
        attacked.sender_stderr
    );
    assert_eq!(
        blake3::hash(&std::fs::read(dest.path().join("passport-scan.png")).unwrap()),
        want
    );
    let (p_sender, p_receiver) = (
        attacked.sender_verify["phrase"].as_str().unwrap(),
        attacked.receiver_verify["phrase"].as_str().unwrap(),
    );
    eprintln!("under attack the sender shows {p_sender:?}, the receiver {p_receiver:?}");
    assert_ne!(
        p_sender, p_receiver,
        "a man in the middle cannot make the phrases match"
    );

    // Attack on devices that trusted each other (pinned in the control run): the sender sees
    // the attacker's certificate under the receiver's name and sends nothing (exit code 6,
    // issue 15 item 1), so the attacker never even learns the file list.
    let dest = tempfile::tempdir().unwrap();
    let receiver = Receiver::spawn_with(
        &signal,
        dest.path(),
        &["--yes"],
        &[("PEERDROP_HOME", ben.as_os_str())],
    );
    let sent = send_with(
        &signal,
        &receiver.code,
        &[&file],
        &["--json"],
        &[("PEERDROP_HOME", ana.as_os_str())],
    );
    let sender_stderr = String::from_utf8_lossy(&sent.stderr);
    assert_eq!(sent.status.code(), Some(6), "{sender_stderr}");
    assert!(sender_stderr.contains("refused"), "{sender_stderr}");
    let tx_events = json_events(&String::from_utf8_lossy(&sent.stdout));
    let warning = events_of(&tx_events, "identity_changed");
    assert_eq!(warning.len(), 1, "{tx_events:#?}");
    assert_ne!(
        warning[0]["fingerprint"], honest.sender_verify["fingerprint"],
        "the sender sees the attacker's certificate, not the receiver's"
    );
    assert_eq!(warning[0]["previous"], honest.sender_verify["fingerprint"]);
    assert!(
        events_of(&tx_events, "verify").is_empty(),
        "refused before the protocol started"
    );
    drop(receiver);
    assert!(hash_tree(dest.path()).is_empty(), "nothing was sent");
}
