//! The node supervisor: keeps this device registered on a signaling server, forwards its code
//! and the live nearby list to the UI, and runs incoming transfers through the UI's
//! Accept/Decline dialog. It reconnects with back-off when the server goes away and restarts
//! at once when the server or device name changes in Settings. While the configured server is
//! unreachable it stands in with the built-in one and goes back as soon as the configured one
//! answers again (the decisions are [`crate::failover`]'s).

use std::sync::Arc;
use std::time::Duration;

use peerdrop_app_ipc::{NodeState, NodeStatus, NodeUpdate};
use peerdrop_core::signaling::SignalError;
use peerdrop_core::{
    CancellationToken, CoreError, Decider, Decision, Incoming, LanRole, Node, NodeConfig,
    OfferSummary, Outcome, RtcSettings, WhenBusy,
};
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::signal::DeviceKind;
use tokio::sync::oneshot;

use crate::failover::{Backoff, Failover, Failure, Meanwhile};
use crate::history::{self, Recorder};
use crate::local_owner;
use crate::server::{preferred_builtin_url, BUILTIN_PORT, CONNECT_TIMEOUT};
use crate::OfferAnswer;
use crate::Shared;

/// This device's kind as others see it.
fn device_kind() -> DeviceKind {
    if cfg!(any(target_os = "android", target_os = "ios")) {
        DeviceKind::Phone
    } else {
        DeviceKind::Desktop
    }
}

/// Registers on `url` with a time limit (also used for a send through the server a link named,
/// [`crate::transfer`]).
pub(crate) async fn connect_to(
    shared: &Shared,
    url: &str,
    name: &str,
    lan: LanRole,
) -> Result<Node, Failure> {
    let config = NodeConfig {
        server_url: Some(url.to_string()),
        tls: shared.tls.clone(),
        lan,
        name: name.to_string(),
        kind: device_kind(),
        rtc: RtcSettings {
            identity: shared.identity.clone(),
            ..shared.rtc.clone()
        },
        home: None,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, Node::connect(config)).await {
        Ok(Ok(node)) => Ok(node),
        Ok(Err(e)) => Err(failure_of(&e)),
        Err(_) => Err(Failure::Unreachable("timed out".to_string())),
    }
}

/// A refused certificate or TLS handshake is not "unreachable": the server answered, and it
/// must not be replaced by another one.
fn failure_of(error: &CoreError) -> Failure {
    match error {
        CoreError::Signal(SignalError::UntrustedCertificate { .. } | SignalError::Tls { .. }) => {
            Failure::Refused(error.to_string())
        }
        CoreError::Signal(SignalError::Unreachable { reason, .. }) => {
            Failure::Unreachable(reason.clone())
        }
        other => Failure::Unreachable(other.to_string()),
    }
}

/// Which kind of server a status names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    /// The one set in Settings or `PEERDROP_SERVER` (links to this device name it).
    Configured,
    /// The signaling service this app started in-process.
    Builtin,
    /// The automatic one on this computer that something else serves (`ws://127.0.0.1:8787/ws`).
    Local,
}

fn status(state: NodeState, server: String, via: Via, message: Option<String>) -> NodeStatus {
    NodeStatus {
        state,
        server,
        embedded: via == Via::Builtin,
        configured: via == Via::Configured,
        message,
    }
}

/// A registration ready to serve.
struct Registered {
    node: Node,
    /// What the status line shows.
    status: NodeStatus,
    /// Set while the built-in server stands in for the configured one: when to try that again.
    retry_configured_in: Option<Duration>,
}

/// No registration: what the status line shows, and when to try again (`None`: the
/// supervisor's own back-off).
struct NotRegistered {
    status: NodeStatus,
    retry_in: Option<Duration>,
}

/// Registers on the configured server, or (see [`crate::failover`]) on the built-in one
/// meanwhile; without a configured server, on this computer's (see [`crate::server`]).
async fn register(
    shared: &Shared,
    failover: Option<&mut Failover>,
) -> Result<Registered, NotRegistered> {
    let name = shared.settings.effective().device_name;
    let Some(failover) = failover else {
        return register_locally(shared, &name).await;
    };
    let url = failover.configured().to_string();
    let failure = match connect_to(shared, &url, &name, shared.lan).await {
        Ok(node) => {
            failover.answered();
            return Ok(Registered {
                node,
                status: status(NodeState::Online, url, Via::Configured, None),
                retry_configured_in: None,
            });
        }
        Err(failure) => failure,
    };
    tracing::warn!(%url, ?failure, "configured server not usable");
    match failover.failed(&failure) {
        Meanwhile::StayOffline { message, retry_in } => Err(NotRegistered {
            status: status(NodeState::Offline, url, Via::Configured, Some(message)),
            retry_in: Some(retry_in),
        }),
        Meanwhile::UseBuiltin { note, retry_in } => {
            let (node, builtin) =
                join_builtin(shared, &name)
                    .await
                    .map_err(|why| NotRegistered {
                        status: status(
                            NodeState::Offline,
                            url.clone(),
                            Via::Configured,
                            Some(format!("{note}; {why}")),
                        ),
                        retry_in: Some(retry_in),
                    })?;
            Ok(Registered {
                node,
                status: status(NodeState::Online, builtin, Via::Builtin, Some(note)),
                retry_configured_in: Some(retry_in),
            })
        }
    }
}

/// No server configured: join one already running on this computer, else start our own.
async fn register_locally(shared: &Shared, name: &str) -> Result<Registered, NotRegistered> {
    let builtin = shared.builtin.url().await;
    let local = builtin.clone().unwrap_or_else(preferred_builtin_url);
    // Another user's server on our loopback port is not joined (see [`crate::local_owner`]).
    let foreign = match (&builtin, local_owner::loopback_listener(BUILTIN_PORT)) {
        (None, local_owner::Owner::Other(uid)) => Some(uid),
        _ => None,
    };
    if let Some(uid) = foreign {
        tracing::warn!(
            uid,
            "the server on 127.0.0.1:{BUILTIN_PORT} belongs to another user: not joining it, starting PeerDrop's own"
        );
    }
    let joined = match foreign {
        Some(_) => None,
        None => connect_to(shared, &local, name, shared.lan).await.ok(),
    };
    if let Some(node) = joined {
        return Ok(Registered {
            node,
            status: status(
                NodeState::Online,
                local,
                if builtin.is_some() {
                    Via::Builtin
                } else {
                    Via::Local
                },
                None,
            ),
            retry_configured_in: None,
        });
    }
    let (node, url) = join_builtin(shared, name)
        .await
        .map_err(|why| NotRegistered {
            status: status(
                NodeState::Offline,
                preferred_builtin_url(),
                Via::Builtin,
                Some(why),
            ),
            retry_in: None,
        })?;
    let note = foreign.map(|uid| {
        format!(
            "the server on 127.0.0.1:{BUILTIN_PORT} belongs to another user (uid {uid}): using PeerDrop's own"
        )
    });
    Ok(Registered {
        node,
        status: status(NodeState::Online, url, Via::Builtin, note),
        retry_configured_in: None,
    })
}

/// Starts the built-in server if needed and registers on it; returns the node and its URL.
async fn join_builtin(shared: &Shared, name: &str) -> Result<(Node, String), String> {
    let url = shared.builtin.ensure().await?;
    match connect_to(shared, &url, name, shared.lan).await {
        Ok(node) => Ok((node, url)),
        Err(Failure::Unreachable(e) | Failure::Refused(e)) => {
            Err(format!("the built-in server does not answer: {e}"))
        }
    }
}

/// How trying to get back to the configured server ended.
enum Return {
    /// It answers again: here is the registration on it.
    Back(Box<Registered>),
    /// It answers but TLS refuses it: go offline, saying why.
    Refused(NotRegistered),
}

/// While the built-in server stands in (`standing_in` is its status), tries the configured
/// server on the failover's schedule, first after `wait`; each failed try refreshes the status
/// line's reason. Runs until the configured server answers or is refused.
async fn return_to_configured(
    shared: &Shared,
    failover: &mut Failover,
    mut wait: Duration,
    standing_in: &NodeStatus,
) -> Return {
    let name = shared.settings.effective().device_name;
    loop {
        tokio::time::sleep(wait).await;
        let url = failover.configured().to_string();
        let failure = match connect_to(shared, &url, &name, shared.lan).await {
            Ok(node) => {
                failover.answered();
                tracing::info!(%url, "the configured server answers again: leaving the built-in one");
                return Return::Back(Box::new(Registered {
                    node,
                    status: status(NodeState::Online, url, Via::Configured, None),
                    retry_configured_in: None,
                }));
            }
            Err(failure) => failure,
        };
        tracing::debug!(%url, ?failure, "configured server still not usable");
        match failover.failed(&failure) {
            Meanwhile::UseBuiltin { note, retry_in } => {
                let mut update = standing_in.clone();
                update.message = Some(note);
                shared.hub.emit(NodeUpdate::Status(update));
                wait = retry_in;
            }
            Meanwhile::StayOffline { message, retry_in } => {
                return Return::Refused(NotRegistered {
                    status: status(NodeState::Offline, url, Via::Configured, Some(message)),
                    retry_in: Some(retry_in),
                });
            }
        }
    }
}

/// What the status line says when the server connection ends: a plain loss in one sentence,
/// anything else with the server's or the stack's reason.
fn lost_server_message(reason: &CoreError) -> String {
    match reason {
        CoreError::Signal(SignalError::Disconnected) => {
            "Lost the connection to the signaling server. Reconnecting…".to_string()
        }
        other => format!("Lost the signaling server: {other}. Reconnecting…"),
    }
}

/// How serving one registration ended.
enum Ended {
    /// The server connection failed.
    Lost(CoreError),
    /// Settings changed.
    Restart,
    /// The configured server was tried again while the built-in one stood in.
    Return(Return),
}

/// Runs forever: connect, serve, and reconnect when needed.
pub async fn supervise(shared: Arc<Shared>) {
    let mut backoff = Backoff::default();
    let mut failover: Option<Failover> = None;
    let mut ready: Option<Registered> = None;
    loop {
        let configured = shared.settings.configured_server();
        if failover.as_ref().map(Failover::configured) != configured.as_deref() {
            failover = configured.clone().map(Failover::new);
            ready = None;
        }
        let registered = match ready.take() {
            Some(registered) => registered,
            None => {
                shared.hub.emit(NodeUpdate::Status(status(
                    NodeState::Connecting,
                    configured.clone().unwrap_or_else(preferred_builtin_url),
                    if configured.is_some() {
                        Via::Configured
                    } else {
                        Via::Builtin
                    },
                    None,
                )));
                match register(&shared, failover.as_mut()).await {
                    Ok(registered) => registered,
                    Err(NotRegistered { status, retry_in }) => {
                        tracing::warn!(message = ?status.message, "node offline");
                        shared.hub.emit(NodeUpdate::Status(status));
                        let wait = retry_in.unwrap_or_else(|| backoff.next_wait());
                        pause(&shared, wait).await;
                        continue;
                    }
                }
            }
        };
        backoff.reset();
        let Registered {
            node,
            status: online,
            retry_configured_in,
        } = registered;
        tracing::info!(server = %online.server, code = %node.code(), "registered");
        let node = Arc::new(node);
        *shared.node.lock().expect("node lock") = Some(node.clone());
        shared.hub.emit(NodeUpdate::Status(online.clone()));
        shared.hub.emit(NodeUpdate::Event(TransferEvent::Code {
            code: node.code().to_string(),
            name: node.name().to_string(),
            kind: Some(device_kind()),
        }));
        let try_configured = async {
            match (retry_configured_in, failover.as_mut()) {
                (Some(wait), Some(failover)) => {
                    return_to_configured(&shared, failover, wait, &online).await
                }
                _ => std::future::pending().await,
            }
        };
        let ended = tokio::select! {
            reason = serve(shared.clone(), node.clone()) => Ended::Lost(reason),
            _ = shared.restart.notified() => Ended::Restart,
            back = try_configured => Ended::Return(back),
        };
        *shared.node.lock().expect("node lock") = None;
        match ended {
            // Settings changed: reconnect right away.
            Ended::Restart => {}
            Ended::Return(Return::Back(registered)) => ready = Some(*registered),
            Ended::Return(Return::Refused(NotRegistered { status, retry_in })) => {
                tracing::warn!(message = ?status.message, "configured server refused");
                shared.hub.emit(NodeUpdate::Status(status));
                pause(&shared, retry_in.unwrap_or_else(|| backoff.next_wait())).await;
            }
            Ended::Lost(reason) => {
                let lost = NodeStatus {
                    state: NodeState::Offline,
                    message: Some(lost_server_message(&reason)),
                    ..online
                };
                tracing::warn!(message = ?lost.message, "node offline");
                shared.hub.emit(NodeUpdate::Status(lost));
                pause(&shared, backoff.next_wait()).await;
            }
        }
    }
}

/// Waits `wait`, or less when Settings change.
async fn pause(shared: &Shared, wait: Duration) {
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = shared.restart.notified() => {}
    }
}

/// Serves one registration until it fails; returns why.
async fn serve(shared: Arc<Shared>, node: Arc<Node>) -> CoreError {
    let mut nearby = node.devices();
    let hub_shared = shared.clone();
    let forward = tokio::spawn(async move {
        loop {
            let peers = nearby
                .borrow_and_update()
                .iter()
                .map(|device| device.peer_info())
                .collect();
            hub_shared
                .hub
                .emit(NodeUpdate::Event(TransferEvent::Nearby { peers }));
            if nearby.changed().await.is_err() {
                break;
            }
        }
    });
    let lan = tokio::spawn(forward_lan_state(shared.clone(), node.clone()));
    // One receive at a time: senders that come meanwhile wait in the node's line (they are
    // told `queued`) and are asked next, one dialog after the other.
    let reason = loop {
        match node.next_incoming().await {
            Ok(incoming) => {
                if let Some(running) = start_receive(&shared, incoming) {
                    let _ = node.while_busy(running, WhenBusy::Queue).await;
                }
            }
            Err(e) => break e,
        }
    };
    forward.abort();
    lan.abort();
    reason
}

/// Tells the UI where this device can be typed in on its network and, once known, whether
/// multicast discovery is blocked here (the Send page then says so and offers the fallbacks).
async fn forward_lan_state(shared: Arc<Shared>, node: Arc<Node>) {
    use peerdrop_core::lan::{typed_addresses, verdict, Multicast};
    let (Some(port), Some(multicast)) = (node.lan_port(), node.multicast()) else {
        return;
    };
    let addresses = typed_addresses(port);
    let lan = |blocked| {
        NodeUpdate::Event(TransferEvent::Lan {
            addresses: addresses.clone(),
            blocked,
        })
    };
    shared.hub.emit(lan(false));
    if verdict(multicast).await == Multicast::Blocked {
        shared.hub.emit(lan(true));
    }
}

/// Receives one incoming transfer on a task (returned, to wait for), or turns the sender away
/// if a receive is already running (the serve loop holds others in line, so it is not).
fn start_receive(
    shared: &Arc<Shared>,
    incoming: Incoming,
) -> Option<tauri::async_runtime::JoinHandle<()>> {
    let cancel = CancellationToken::new();
    {
        let mut slot = shared.receive_cancel.lock().expect("receive lock");
        if slot.is_some() {
            tracing::info!(from = %incoming.from().name, "busy: turning a second sender away");
            incoming.reject("the receiver is busy with another transfer");
            return None;
        }
        *slot = Some(cancel.clone());
    }
    let shared = shared.clone();
    Some(tauri::async_runtime::spawn(async move {
        let hub = shared.clone();
        let events = history::recording(shared.clone(), Recorder::receiving(), move |event| {
            hub.hub.emit(NodeUpdate::Event(event))
        });
        let from = incoming.from().name.clone();
        let result = match shared.settings.download_dir() {
            Ok(dir) => {
                let decider = UiDecider {
                    shared: shared.clone(),
                };
                let received = incoming
                    .receive(dir.clone(), decider, events.sink(), cancel)
                    .await;
                match &received {
                    Ok(report) => {
                        // "Open folder" on the finished card opens this, by name, not by path.
                        *shared.last_received.lock().expect("received lock") = Some(dir);
                        shared
                            .notifier
                            .receive_ended(&from, Ok((report.files, report.bytes)));
                    }
                    // Declined or cancelled here: the person knows.
                    Err(CoreError::Transfer(Outcome::Declined(_) | Outcome::Cancelled(_))) => {}
                    Err(e) => shared.notifier.receive_ended(&from, Err(&e.to_string())),
                }
                received.map(|_| ()).map_err(|e| e.to_string())
            }
            Err(e) => {
                incoming.reject("the receiver cannot save files right now");
                Err(e.to_string())
            }
        };
        if let Err(reason) = result {
            tracing::info!(%reason, "receive ended without success");
            events.fail_unless_finished(reason);
        }
        shared.pending_answer.lock().expect("answer lock").take();
        shared.receive_cancel.lock().expect("receive lock").take();
    }))
}

/// Asks the person through the UI's dialog (the engine has already emitted `incoming`).
struct UiDecider {
    shared: Arc<Shared>,
}

#[async_trait::async_trait]
impl Decider for UiDecider {
    async fn decide(&mut self, offer: &OfferSummary) -> Decision {
        if self.shared.trusted.accepts(offer.verification.as_ref()) {
            tracing::info!(from = %offer.from, "a trusted device: accepting without asking");
            return Decision::Accept;
        }
        let (tx, rx) = oneshot::channel();
        *self.shared.pending_answer.lock().expect("answer lock") = Some(tx);
        tracing::info!(from = %offer.from, files = offer.files.len(), "asking the user");
        self.shared.notifier.offer_waiting(offer);
        match rx.await {
            Ok(OfferAnswer {
                accept: true,
                always,
            }) => {
                if always {
                    self.trust_sender(offer);
                }
                Decision::Accept
            }
            Ok(OfferAnswer { accept: false, .. }) => {
                let me = self.shared.settings.effective().device_name;
                Decision::Decline(format!("{me} declined the transfer"))
            }
            Err(_) => Decision::Decline("the receiver did not answer".into()),
        }
    }
}

impl UiDecider {
    /// "Always accept from …" was ticked: trust the sender's certificate (never a changed one).
    fn trust_sender(&self, offer: &OfferSummary) {
        let Some(verification) = &offer.verification else {
            tracing::warn!(from = %offer.from, "not trusted: the sender's certificate is unknown");
            return;
        };
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        match self.shared.trusted.trust(verification, &offer.from, now_ms) {
            Ok(true) => {
                tracing::info!(from = %offer.from, "device trusted: its offers are accepted without asking")
            }
            Ok(false) => tracing::warn!(from = %offer.from, "not trusted: its identity changed"),
            Err(e) => tracing::warn!(error = %e, "could not save the trusted device"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Defaults, SettingsStore};
    use peerdrop_app_ipc::SettingsUpdate;
    use peerdrop_core::identity::Identity;

    fn shared(dir: &std::path::Path) -> Shared {
        let defaults = Defaults {
            device_name: "test device".into(),
            download_dir: dir.join("Downloads"),
            env_server: None,
        };
        let settings = SettingsStore::load(dir, defaults);
        Shared::new(settings, Some(Identity::ephemeral().expect("identity")))
    }

    #[test]
    fn a_lost_connection_is_said_once_and_other_reasons_are_kept() {
        let lost = lost_server_message(&CoreError::Signal(SignalError::Disconnected));
        assert_eq!(
            lost,
            "Lost the connection to the signaling server. Reconnecting…"
        );
        let timeout = lost_server_message(&CoreError::Signal(SignalError::Timeout));
        assert!(
            timeout.starts_with("Lost the signaling server: ") && timeout.contains("in time"),
            "{timeout}"
        );
    }

    /// A loopback port nobody listens on: bind one, note it, close it.
    fn unused_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn configure(shared: &Shared, url: &str) -> Failover {
        shared
            .settings
            .save(SettingsUpdate {
                server_url: url.to_string(),
                ..SettingsUpdate::default()
            })
            .unwrap();
        Failover::new(shared.settings.configured_server().expect("configured"))
    }

    #[tokio::test]
    async fn without_a_server_the_app_uses_a_local_one() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = shared(tmp.path());
        let registered = register(&shared, None).await.ok().expect("online");
        assert_eq!(registered.status.state, NodeState::Online);
        assert!(
            registered.status.server.starts_with("ws://127.0.0.1:"),
            "{}",
            registered.status.server
        );
        assert_eq!(registered.retry_configured_in, None);
        assert_eq!(registered.node.code().len(), 7);
        // Another device cannot reach a loopback server: links to this one name none.
        assert_eq!(registered.status.link_server(), None);
    }

    #[tokio::test]
    async fn an_unreachable_configured_server_falls_back_to_the_built_in_one() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = shared(tmp.path());
        let url = format!("ws://127.0.0.1:{}/ws", unused_port());
        let mut failover = configure(&shared, &url);
        let registered = register(&shared, Some(&mut failover))
            .await
            .ok()
            .expect("online via the built-in server");
        let status = &registered.status;
        assert!(status.embedded, "{status:?}");
        assert_eq!(status.link_server(), None, "the stand-in is not shared");
        assert_ne!(status.server, url);
        let note = status.message.clone().unwrap();
        assert!(
            note.starts_with(&format!("{url} is unreachable (")),
            "{note}"
        );
        assert_eq!(registered.retry_configured_in, Some(Duration::from_secs(1)));
        assert_eq!(shared.builtin.url().await, Some(status.server.clone()));
    }

    #[tokio::test]
    async fn the_app_goes_back_to_its_configured_server_when_it_answers_again() {
        let tmp = tempfile::tempdir().unwrap();
        let shared = shared(tmp.path());
        let port = unused_port();
        let url = format!("ws://127.0.0.1:{port}/ws");
        let mut failover = configure(&shared, &url);
        let standing_in = register(&shared, Some(&mut failover))
            .await
            .ok()
            .expect("online via the built-in server");
        assert!(standing_in.status.embedded);

        // Two more tries fail (1 s, then 2 s) while nothing listens; the status line keeps
        // naming the built-in server with the configured one's reason. Then it comes up.
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let comes_up = async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            peerdrop_signal::SignalServer::bind(peerdrop_signal::ServerConfig::new(addr))
                .await
                .expect("bind the configured server's port")
                .spawn()
        };
        let wait = standing_in
            .retry_configured_in
            .expect("a retry is scheduled");
        let (back, _server) = tokio::join!(
            return_to_configured(&shared, &mut failover, wait, &standing_in.status),
            comes_up
        );
        let Return::Back(registered) = back else {
            panic!("the configured server answers again");
        };
        assert_eq!(registered.status.server, url);
        assert!(!registered.status.embedded);
        assert_eq!(registered.status.link_server(), Some(url.as_str()));
        assert_eq!(registered.status.message, None);
        // While waiting, the status named the built-in server and why.
        let shown = shared.hub.status().expect("a status was shown");
        assert!(shown.embedded, "{shown:?}");
        assert!(
            shown.message.unwrap().contains("next try in 2 s"),
            "the second try's reason is shown"
        );
    }

    #[test]
    fn a_refused_certificate_is_not_unreachable() {
        let refused = CoreError::Signal(SignalError::UntrustedCertificate {
            url: "wss://peerdrop.example.org/ws".into(),
            problem: peerdrop_core::tls::CertificateProblem::UnknownIssuer,
        });
        assert_eq!(
            failure_of(&refused),
            Failure::Refused(
                "the server wss://peerdrop.example.org/ws presented a certificate this device does not trust (unknown issuer)".into()
            )
        );
        let down = CoreError::Signal(SignalError::Unreachable {
            url: "ws://192.168.1.10:8787/ws".into(),
            reason: "Connection refused".into(),
        });
        assert_eq!(
            failure_of(&down),
            Failure::Unreachable("Connection refused".into())
        );
    }
}
