//! The receiver's driver: runs a [`ReceiverMachine`] over a [`Connection`].
//!
//! Bytes flow: data channel pump → bounded queue → this loop (frame checked by the machine) →
//! bounded queue → the disk worker thread, which owns the [`IncomingTransfer`]: positional
//! writes into `.part` files, BLAKE3 computed on the fly while frames arrive in order (falling
//! back to re-reading the part when they did not), then the atomic no-overwrite move to the
//! final name. Every queue is bounded, so a slow disk slows the sender instead of filling RAM.
//!
//! Resume: the staging directory of a transfer is named after the transfer id *and* the
//! sender's certificate, so only the same sender can continue it. Every few megabytes the
//! disk worker flushes the parts and records in a journal which ranges are on disk and which
//! files are already saved. When an offer arrives, the journal (checked against the parts on
//! disk) pre-seeds the machine, and the accept tells the sender what to skip; the final BLAKE3
//! covers the whole file, old bytes and new. Partial data is kept on every ending except a
//! decline or a cancel (see [`crate::store`]). A connection that fails mid-transfer is replaced
//! when the same sender (same certificate) offers a new one within
//! [`crate::machine::RECONNECT_WINDOW`] (a timer the machine owns).

use bytes::BytesMut;
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::signal::{PeerInfo, SignalData};
use peerdrop_proto::transfer::{ControlMsg, DataFrame, DATA_HEADER_BYTES};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::warn;
use uuid::Uuid;

use super::channels::ChannelEvent;
use super::clock::{sleep_until_or_never, Clock, MachineTimer};
use super::connection::{connect_answerer, Background, Connection};
use super::disk_worker::{disk_worker, DiskCmd, DiskReport};
use super::progress::{eta_secs, RateMeter};
use super::rejoin::{Gave, SamePeer};
use super::send::PROGRESS_INTERVAL;
use super::{CancellationToken, EventSink, TransferReport};
use crate::error::CoreError;
use crate::identity::nonce::new_nonce;
use crate::identity::Trust;
use crate::machine::receiver::{
    Decision, EarlierFile, OfferSummary, ReceiverMachine, RxAction, RxInput, Verification,
};
use crate::machine::Outcome;
use crate::rtc::RtcSettings;
use crate::signaling::{IncomingOffer, OfferClaim, SignalClient};
use crate::store::{FileResume, IncomingTransfer, Journal, Platform};

/// Frames queued for the disk worker (256 KiB each at most; the store window bounds the total).
const DISK_QUEUE: usize = 64;

/// How long a sender has, from the moment the connection is up, to complete its offer (the
/// machine's timer; re-exported for the tests that name it).
pub use crate::machine::receiver::OFFER_DEADLINE;

/// Staging untouched for this long belongs to a transfer nobody will resume.
const STALE_STAGING: Duration = Duration::from_secs(30 * 24 * 3600);

/// Decides whether to accept an offer: the CLI asks on the terminal (or `--yes`), the app asks
/// through its dialog. It may take as long as a person needs; cancel and peer loss are still
/// noticed meanwhile.
#[async_trait::async_trait]
pub trait Decider: Send + 'static {
    /// Accept or decline `offer`.
    async fn decide(&mut self, offer: &OfferSummary) -> Decision;
}

/// Accepts everything (`--yes`), except a device whose identity changed since it was trusted:
/// that needs a person to compare the verification phrase.
pub struct AutoAccept;

#[async_trait::async_trait]
impl Decider for AutoAccept {
    async fn decide(&mut self, offer: &OfferSummary) -> Decision {
        match &offer.verification {
            Some(v) if v.changed => Decision::Decline(
                "the receiver does not auto-accept: this device's identity changed since it was trusted"
                    .into(),
            ),
            _ => Decision::Accept,
        }
    }
}

/// A sender that wants to connect, not yet answered.
pub struct Incoming {
    offer: IncomingOffer,
    client: Arc<SignalClient>,
    rtc: RtcSettings,
    trust: Arc<Trust>,
}

impl Incoming {
    pub(crate) fn new(
        offer: IncomingOffer,
        client: Arc<SignalClient>,
        rtc: RtcSettings,
        trust: Arc<Trust>,
    ) -> Self {
        Self {
            offer,
            client,
            rtc,
            trust,
        }
    }

    /// Who wants to send.
    pub fn from(&self) -> &PeerInfo {
        &self.offer.from
    }

    /// Turns the sender away without connecting (e.g. busy with another transfer).
    pub fn reject(self, reason: &str) {
        let data = SignalData::Bye {
            session: self.offer.session,
            reason: reason.to_string(),
        };
        let _ = self.offer.link.send(self.offer.from.id, data);
    }

    /// Connects, asks `decider`, and receives into `dir` until done, declined, failed or
    /// cancelled.
    pub async fn receive(
        self,
        dir: PathBuf,
        decider: impl Decider,
        events: EventSink,
        cancel: CancellationToken,
    ) -> Result<TransferReport, CoreError> {
        let peer = self.offer.from.clone();
        events(TransferEvent::Connecting {
            peer: peer.name.clone(),
        });
        // From now on, new offers from this sender belong to this transfer (reconnections).
        let claim = self.client.claim_offers_from(peer.id);
        let conn = tokio::select! {
            conn = connect_answerer(&self.client, self.offer, &self.rtc) => conn?,
            _ = cancel.cancelled() => return Err(CoreError::Transfer(Outcome::Cancelled("cancelled".into()))),
        };
        events(TransferEvent::Connected {
            peer: peer.name.clone(),
            connect_ms: conn.connect_ms,
        });
        events(TransferEvent::Path {
            path: conn.path().await,
        });
        let remote_fp = match conn.remote_fingerprint().await {
            Ok(fp) => fp,
            Err(e) => {
                conn.close("cannot verify peer").await;
                return Err(e);
            }
        };
        let prune_dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            let removed = IncomingTransfer::prune_stale(&prune_dir, STALE_STAGING);
            if removed > 0 {
                tracing::info!(removed, "removed partial data of long-abandoned transfers");
            }
        });
        let session = Session {
            client: self.client,
            rtc: self.rtc,
            trust: self.trust,
            peer,
            remote_fp,
            binding: conn.channel_binding(),
            proved: conn.identity_proved(),
            claim,
        };
        ReceiveRun::new(dir, Box::new(decider), events, session)
            .run(conn, cancel)
            .await
    }
}

/// The sender as this transfer knows it, and how to reach it again.
struct Session {
    client: Arc<SignalClient>,
    rtc: RtcSettings,
    trust: Arc<Trust>,
    peer: PeerInfo,
    remote_fp: String,
    /// Set when `remote_fp` is only claimed (the encrypted relay): see
    /// [`Connection::channel_binding`].
    binding: Option<String>,
    /// Whether `remote_fp` is proved (DTLS, or the relay's identity proof): only then may it
    /// be recognised as pinned, or pinned.
    proved: bool,
    claim: OfferClaim,
}

/// The staging id of a transfer from one sender: the sender's transfer id bound to the
/// certificate that proved it, so no other device can feed (or read progress of) someone
/// else's half-received files by reusing their id. Transfers whose fingerprint was only
/// claimed (`proved == false`, the relay) get ids of their own, so they can never continue a
/// transfer a proved certificate started.
pub fn staging_id(transfer_id: Uuid, sender_fp: &str, proved: bool) -> Uuid {
    let mut hasher = blake3::Hasher::new_derive_key("peerdrop 2025-06 staging id v1");
    hasher.update(transfer_id.as_bytes());
    hasher.update(sender_fp.as_bytes());
    if !proved {
        hasher.update(b"\0claimed, not proved");
    }
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// One receive, from open channels to the end.
struct ReceiveRun {
    dest: PathBuf,
    decider: Option<Box<dyn Decider>>,
    events: EventSink,
    /// The machine's clock; its epoch is when the connection came up.
    clock: Clock,
    machine: ReceiverMachine,
    session: Session,
    verification: Option<Verification>,
    /// Where this transfer stages, once the offer is known.
    staging: Option<Uuid>,
    /// The journal to start the disk worker with (what the resume plan kept).
    journal: Option<Journal>,
    /// An earlier run left staging for this transfer.
    had_staging: bool,
    disk: Option<mpsc::Sender<DiskCmd>>,
    disk_thread: Option<std::thread::JoinHandle<()>>,
    disk_report_tx: mpsc::UnboundedSender<DiskReport>,
    disk_report_rx: Option<mpsc::UnboundedReceiver<DiskReport>>,
    saved: Vec<PathBuf>,
}

impl ReceiveRun {
    fn new(dest: PathBuf, decider: Box<dyn Decider>, events: EventSink, session: Session) -> Self {
        let (disk_report_tx, disk_report_rx) = mpsc::unbounded_channel();
        let clock = Clock::start();
        Self {
            dest,
            decider: Some(decider),
            events,
            clock,
            machine: ReceiverMachine::new(clock.now(), Platform::current(), new_nonce()),
            session,
            verification: None,
            staging: None,
            journal: None,
            had_staging: false,
            disk: None,
            disk_thread: None,
            disk_report_tx,
            disk_report_rx: Some(disk_report_rx),
            saved: Vec::new(),
        }
    }

    /// Starts the disk worker (once the user accepted).
    fn start_disk(&mut self) {
        if self.disk.is_some() {
            return;
        }
        let (tx, rx) = mpsc::channel(DISK_QUEUE);
        let dest = self.dest.clone();
        let staging = self.staging.unwrap_or_else(Uuid::new_v4);
        let journal = self.journal.take().unwrap_or_else(|| {
            Journal::new(
                self.machine
                    .entries()
                    .iter()
                    .map(|e| (e.index, e.path.clone(), e.size)),
            )
        });
        let report = self.disk_report_tx.clone();
        self.disk_thread = std::thread::Builder::new()
            .name("peerdrop-disk".into())
            .spawn(move || disk_worker(dest, staging, journal, rx, report))
            .ok();
        self.disk = Some(tx);
    }

    async fn send_disk(&mut self, cmd: DiskCmd) -> bool {
        self.start_disk();
        match &self.disk {
            Some(disk) => disk.send(cmd).await.is_ok(),
            None => false,
        }
    }

    /// Looks for an earlier run of this transfer, pre-seeds the machine with what it left,
    /// and completes the prompt with the phrase and the bytes already here.
    async fn prepare_prompt(&mut self, mut summary: OfferSummary) -> OfferSummary {
        if self.machine.is_text() {
            // A text has nothing on disk to resume.
            summary.verification = self.verification.clone();
            return summary;
        }
        let staging = staging_id(
            summary.transfer_id,
            &self.session.remote_fp,
            self.session.binding.is_none(),
        );
        self.staging = Some(staging);
        let offer: Vec<(u32, String, u64)> = self
            .machine
            .entries()
            .iter()
            .map(|e| (e.index, e.path.clone(), e.size))
            .collect();
        let dest = self.dest.clone();
        let lookup = offer.clone();
        let plan = tokio::task::spawn_blocking(move || {
            IncomingTransfer::resume_plan(&dest, staging, &lookup)
        })
        .await
        .unwrap_or_else(|_| Ok(Vec::new()));
        let plan = match plan {
            Ok(plan) if plan.len() == offer.len() => plan,
            Ok(_) => vec![FileResume::Fresh; offer.len()],
            Err(e) => {
                warn!("cannot read earlier progress of this transfer, starting afresh: {e}");
                vec![FileResume::Fresh; offer.len()]
            }
        };
        let mut journal = Journal::new(offer);
        let mut earlier = Vec::with_capacity(journal.files.len());
        for (entry, resume) in journal.files.iter_mut().zip(plan) {
            earlier.push(match resume {
                FileResume::Fresh => EarlierFile::Fresh,
                FileResume::Partial(have) => {
                    self.had_staging = true;
                    entry.have = have.clone();
                    EarlierFile::Partial(have)
                }
                FileResume::Saved(saved) => {
                    self.had_staging = true;
                    let file = EarlierFile::Saved {
                        blake3: saved.blake3.clone(),
                        saved_as: saved.saved_as.clone(),
                    };
                    entry.saved = Some(saved);
                    file
                }
            });
        }
        self.journal = Some(journal);
        // Asked while the prompt is pending, so nothing to carry out.
        let _ = self
            .machine
            .handle(self.clock.now(), RxInput::EarlierRun(earlier));
        summary.resumable_bytes = self.machine.bytes_received();
        summary.verification = self.verification.clone();
        summary
    }

    async fn run(
        mut self,
        conn: Connection,
        cancel: CancellationToken,
    ) -> Result<TransferReport, CoreError> {
        let mut disk_reports = self.disk_report_rx.take().expect("taken once");
        let (decision_tx, mut decision_rx) = mpsc::channel(1);
        let mut payload: Option<BytesMut> = None;
        let mut started: Option<Instant> = None;
        let mut meter = RateMeter::new();
        let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
        let mut timer = MachineTimer::new();
        let mut actions: Vec<RxAction> = Vec::new();
        let mut conn = conn;
        let (mut control_rx, mut data_rx) = conn.take_receivers();
        let mut conn = Some(conn);
        let mut pending_offer: Option<IncomingOffer> = None;

        let outcome = 'driver: loop {
            let mut lost: Option<String> = None;
            for action in std::mem::take(&mut actions) {
                match action {
                    RxAction::Send(msg) => {
                        let Some(c) = conn.as_ref() else { continue };
                        if c.control.send_text(&msg.to_json()).await.is_err() && lost.is_none() {
                            lost = Some("the control channel closed".into());
                        }
                    }
                    RxAction::Authenticated {
                        sender_nonce,
                        receiver_nonce,
                    } => {
                        let event = self.session.trust.verify_event(
                            &self.session.peer.name,
                            &self.session.remote_fp,
                            &sender_nonce,
                            &receiver_nonce,
                            self.session.binding.as_deref(),
                            self.session.proved,
                        );
                        if let TransferEvent::Verify {
                            phrase,
                            known,
                            changed,
                            fingerprint,
                            ..
                        } = &event
                        {
                            self.verification = Some(Verification {
                                phrase: phrase.clone(),
                                known: *known,
                                changed: *changed,
                                fingerprint: fingerprint.clone(),
                            });
                        }
                        (self.events)(event);
                    }
                    RxAction::AskUser(summary) => {
                        let summary = self.prepare_prompt(summary).await;
                        if let Some(mut decider) = self.decider.take() {
                            let tx = decision_tx.clone();
                            tokio::spawn(async move {
                                let decision = decider.decide(&summary).await;
                                let _ = tx.send(decision).await;
                            });
                        }
                    }
                    RxAction::Write { index, offset } => {
                        started.get_or_insert_with(Instant::now);
                        let data = payload.take().unwrap_or_default();
                        if !self
                            .send_disk(DiskCmd::Write {
                                index,
                                offset,
                                data,
                            })
                            .await
                        {
                            actions = self.machine.handle(
                                self.clock.now(),
                                RxInput::DiskError {
                                    full: false,
                                    reason: "disk worker stopped".into(),
                                },
                            );
                            continue 'driver;
                        }
                    }
                    RxAction::Verify {
                        index,
                        blake3,
                        path,
                        size,
                    } => {
                        started.get_or_insert_with(Instant::now);
                        if !self
                            .send_disk(DiskCmd::Verify {
                                index,
                                blake3,
                                path,
                                size,
                            })
                            .await
                        {
                            actions = self.machine.handle(
                                self.clock.now(),
                                RxInput::DiskError {
                                    full: false,
                                    reason: "disk worker stopped".into(),
                                },
                            );
                            continue 'driver;
                        }
                    }
                    RxAction::Emit(event) => (self.events)(event),
                    RxAction::AwaitReconnect => {
                        if self.disk.is_some() {
                            self.send_disk(DiskCmd::Checkpoint).await;
                        }
                        if let Some(old) = conn.take() {
                            old.abandon().await;
                        }
                        // The machine's reconnection window bounds the wait.
                        let window_end = self.clock.instant(self.machine.poll_timeout());
                        let waited = tokio::select! {
                            waited = self.await_reconnect(pending_offer.take(), &cancel) => waited,
                            _ = sleep_until_or_never(window_end) => {
                                actions = self.machine.handle_timeout(self.clock.now());
                                continue 'driver;
                            }
                        };
                        let input = match waited {
                            Ok(mut fresh) => {
                                (self.events)(TransferEvent::Connected {
                                    peer: self.session.peer.name.clone(),
                                    connect_ms: fresh.connect_ms,
                                });
                                (control_rx, data_rx) = fresh.take_receivers();
                                payload = None;
                                conn = Some(fresh);
                                continue 'driver;
                            }
                            Err(Gave::Up(why)) => {
                                tracing::info!("not resuming: {why}");
                                RxInput::PeerGone
                            }
                            Err(Gave::Fatal(why)) => RxInput::Fail(why),
                            Err(Gave::Cancelled) => {
                                RxInput::LocalCancel("cancelled by receiver".into())
                            }
                        };
                        actions = self.machine.handle(self.clock.now(), input);
                        continue 'driver;
                    }
                    // Only after the finish, handled below with the connection's close.
                    RxAction::Close => {}
                    RxAction::Finish(outcome) => break 'driver outcome,
                }
            }
            if let Some(why) = lost {
                actions = self
                    .machine
                    .handle(self.clock.now(), RxInput::ConnectionLost(why));
                continue;
            }
            let Some(c) = conn.as_mut() else {
                actions = self.machine.handle(self.clock.now(), RxInput::PeerGone);
                continue;
            };
            timer.arm(self.clock.instant(self.machine.poll_timeout()));
            let input = tokio::select! {
                ev = data_rx.recv() => match ev {
                    Some(ChannelEvent::Message { mut data, .. }) => match DataFrame::decode(&data) {
                        Ok((frame, body)) => {
                            let len = body.len() as u64;
                            payload = Some(data.split_off(DATA_HEADER_BYTES));
                            RxInput::Data { index: frame.index, offset: frame.offset, len }
                        }
                        Err(e) => RxInput::BadFrame(e.to_string()),
                    },
                    Some(ChannelEvent::Open) => continue,
                    Some(ChannelEvent::Closed) | None => closed_input(c, "the data channel closed"),
                },
                ev = control_rx.recv() => match ev {
                    Some(ChannelEvent::Message { data, .. }) => match std::str::from_utf8(&data).map_err(|e| e.to_string()).and_then(|t| ControlMsg::from_json(t).map_err(|e| e.to_string())) {
                        Ok(msg) => RxInput::Control(msg),
                        Err(e) => RxInput::BadFrame(format!("unreadable control message: {e}")),
                    },
                    Some(ChannelEvent::Open) => continue,
                    Some(ChannelEvent::Closed) | None => closed_input(c, "the control channel closed"),
                },
                report = disk_reports.recv() => match report {
                    Some(DiskReport::Verified { index, result }) => {
                        let result = result.map(|(shown, abs)| { self.saved.push(abs); shown });
                        RxInput::Verified { index, result }
                    }
                    Some(DiskReport::Failed { full, reason }) => RxInput::DiskError { full, reason },
                    Some(DiskReport::Stored(total)) => RxInput::Stored { total },
                    None => continue,
                },
                decision = decision_rx.recv() => match decision {
                    Some(decision) => {
                        if decision == Decision::Accept && self.session.proved {
                            self.session.trust.remember(&self.session.peer.name, &self.session.remote_fp);
                        }
                        if decision == Decision::Accept && !self.machine.is_text() {
                            self.start_disk();
                        }
                        RxInput::Decided(decision)
                    }
                    None => continue,
                },
                offer = self.session.claim.next() => match offer {
                    // The sender gave up on this connection and offers a new one.
                    Some(offer) => {
                        pending_offer = Some(offer);
                        RxInput::ConnectionLost("the sender started a new connection".into())
                    }
                    None => continue,
                },
                bg = c.next_background() => match bg {
                    Background::PeerGone(_) => RxInput::PeerGone,
                    Background::Lost(why) => {
                        if c.signaling_closed() { RxInput::PeerGone } else { RxInput::ConnectionLost(why) }
                    }
                    Background::Refused(why) => RxInput::Fail(why),
                    Background::Quiet => continue,
                },
                _ = cancel.cancelled() => RxInput::LocalCancel("cancelled by receiver".into()),
                _ = timer.fired() => {
                    actions = self.machine.handle_timeout(self.clock.now());
                    continue;
                }
                _ = tick.tick() => {
                    if started.is_some() {
                        self.emit_progress(&mut meter);
                    }
                    continue;
                }
            };
            actions = self.machine.handle(self.clock.now(), input);
        };

        let seconds = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let total = self.machine.total_size();
        let last = match &outcome {
            Outcome::Completed => DiskCmd::Finish,
            Outcome::Declined(_) | Outcome::Cancelled(_) | Outcome::Refused(_) => DiskCmd::Discard,
            Outcome::Disconnected(_)
            | Outcome::Failed(_)
            | Outcome::DiskFull(_)
            | Outcome::HashMismatch(_) => DiskCmd::Keep,
        };
        if let Some(disk) = self.disk.take() {
            let _ = disk.send(last).await;
            if let Some(thread) = self.disk_thread.take() {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
        } else if self.had_staging && matches!(last, DiskCmd::Discard) {
            // Declined a resumable transfer: its old parts go too.
            if let Some(staging) = self.staging {
                let dest = self.dest.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    IncomingTransfer::open(&dest, staging).and_then(|t| t.discard())
                })
                .await;
            }
        }
        if outcome.is_success() {
            self.emit_progress(&mut meter);
            (self.events)(TransferEvent::Done {
                files: self.machine.file_count(),
                bytes: total,
                seconds,
                saved_to: (!self.machine.is_text()).then(|| self.dest.display().to_string()),
            });
            if let Some(c) = conn {
                // The machine says when to close: once the sender has closed (it read the
                // last message), or when its grace for that is over.
                while self.machine.poll_timeout().is_some() {
                    timer.arm(self.clock.instant(self.machine.poll_timeout()));
                    let actions = tokio::select! {
                        event = control_rx.recv() => match event {
                            Some(ChannelEvent::Closed) | None => self.machine.handle(
                                self.clock.now(),
                                RxInput::ConnectionLost("the sender closed".into()),
                            ),
                            Some(_) => continue,
                        },
                        _ = timer.fired() => self.machine.handle_timeout(self.clock.now()),
                    };
                    if actions.contains(&RxAction::Close) {
                        break;
                    }
                }
                c.close("done").await;
            }
            Ok(TransferReport {
                files: self.machine.file_count(),
                bytes: total,
                seconds,
                saved: self.saved,
            })
        } else {
            if let Some(c) = conn {
                c.close("transfer ended").await;
            }
            Err(CoreError::Transfer(outcome))
        }
    }

    /// Waits for the sender to offer a new connection (or uses the one it already offered),
    /// connects, and checks it is the same sender certificate.
    async fn await_reconnect(
        &mut self,
        mut pending: Option<IncomingOffer>,
        cancel: &CancellationToken,
    ) -> Result<Connection, Gave> {
        // Hears `peer_gone` for the sender (and our own disconnection) while waiting.
        let mut watch = self.session.client.open_session(Uuid::new_v4());
        loop {
            let offer = match pending.take() {
                Some(offer) => offer,
                None => tokio::select! {
                    offer = self.session.claim.next() => match offer {
                        Some(offer) => offer,
                        None => return Err(Gave::Up("lost the signaling server".into())),
                    },
                    signal = watch.recv() => match signal {
                        crate::signaling::SessionSignal::PeerGone(id) if id == self.session.peer.id => {
                            return Err(Gave::Up("the sender left".into()));
                        }
                        crate::signaling::SessionSignal::Disconnected => {
                            return Err(Gave::Up("lost the signaling server".into()));
                        }
                        _ => continue,
                    },
                    _ = cancel.cancelled() => return Err(Gave::Cancelled),
                },
            };
            let connecting = tokio::select! {
                c = connect_answerer(&self.session.client, offer, &self.session.rtc) => c,
                _ = cancel.cancelled() => return Err(Gave::Cancelled),
            };
            let conn = match connecting {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::debug!("reconnection attempt failed: {e}");
                    continue;
                }
            };
            let same = SamePeer {
                role: "sender",
                fingerprint: &self.session.remote_fp,
                relayed: self.session.binding.is_some(),
                relay_hint: "",
            };
            match same.check(conn).await {
                Ok(conn) => return Ok(conn),
                Err(Some(gave)) => return Err(gave),
                Err(None) => {}
            }
        }
    }

    fn emit_progress(&self, meter: &mut RateMeter) {
        let done = self.machine.bytes_received();
        let total = self.machine.total_size();
        let rate = meter.record(Instant::now(), done);
        (self.events)(TransferEvent::Progress {
            done,
            total,
            bytes_per_sec: rate,
            eta_secs: eta_secs(done, total, rate),
            file: None,
        });
    }
}

/// What a closed channel of `conn` means: the end of the transfer when this side closed the
/// connection on a peer that broke a limit, else a lost connection (which may be resumed).
fn closed_input(conn: &mut Connection, what: &str) -> RxInput {
    match conn.refusal() {
        Some(why) => RxInput::Fail(why),
        None => RxInput::ConnectionLost(what.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::staging_id;

    #[test]
    fn a_claimed_fingerprint_stages_apart_from_a_proved_one() {
        let id = uuid::Uuid::new_v4();
        let fp = "aa:bb";
        assert_eq!(staging_id(id, fp, true), staging_id(id, fp, true));
        assert_ne!(staging_id(id, fp, true), staging_id(id, fp, false));
        assert_ne!(staging_id(id, fp, true), staging_id(id, "aa:bc", true));
    }
}
