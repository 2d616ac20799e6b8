//! The receiver's role in the one driver loop (`engine::driver`): a [`ReceiverMachine`]
//! over a [`Connection`], its disk worker, the prompt and the sender's new offers.
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
//! disk) is what the machine hears as an earlier run ([`RxInput::EarlierRun`]), and the
//! accept tells the sender what to skip; the final BLAKE3 covers the whole file, old bytes
//! and new. Partial data is kept on every ending except a
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
use super::clock::{Clock, MachineTimer};
use super::connection::{connect_answerer, Connection};
use super::disk_worker::{disk_worker, DiskCmd, DiskReport};
use super::driver::{drive, Common, Own, Role};
use super::rejoin::{Gave, SamePeer};
use super::{CancellationToken, EventSink, TransferReport};
use crate::error::CoreError;
use crate::identity::nonce::new_nonce;
use crate::identity::Trust;
use crate::machine::rate::{eta_secs, RateMeter};
use crate::machine::receiver::trust::{without_asking, AcceptWithoutAsking, TrustVerdict};
use crate::machine::receiver::{
    Decision, EarlierFile, OfferSummary, ReceiverMachine, RxAction, RxInput, Verification,
};
use crate::machine::time::Timestamp;
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
        match without_asking(offer.verification.as_ref(), AcceptWithoutAsking::Everyone) {
            TrustVerdict::Decided(decision) => decision,
            TrustVerdict::Ask => unreachable!("everyone is decided without asking"),
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
    disk_reports: mpsc::UnboundedReceiver<DiskReport>,
    saved: Vec<PathBuf>,
    /// The person's answer comes back here from the decider's task.
    decision_tx: mpsc::Sender<Decision>,
    decision_rx: mpsc::Receiver<Decision>,
    /// The current connection's data frames.
    data_rx: Option<mpsc::Receiver<ChannelEvent>>,
    /// The payload of the data frame the machine is handling.
    payload: Option<BytesMut>,
    /// A new connection the sender offered while the old one still looked alive.
    pending_offer: Option<IncomingOffer>,
    /// Whether the sender's new offers can still arrive (the claim's queue is open).
    claim_open: bool,
    started: Option<Instant>,
    meter: RateMeter,
}

impl ReceiveRun {
    fn new(dest: PathBuf, decider: Box<dyn Decider>, events: EventSink, session: Session) -> Self {
        let (disk_report_tx, disk_reports) = mpsc::unbounded_channel();
        let (decision_tx, decision_rx) = mpsc::channel(1);
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
            disk_reports,
            saved: Vec::new(),
            decision_tx,
            decision_rx,
            data_rx: None,
            payload: None,
            pending_offer: None,
            claim_open: true,
            started: None,
            meter: RateMeter::new(),
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
        let clock = self.clock;
        let ended = drive(&mut self, clock, conn, None, &cancel).await;
        let outcome = ended.outcome;
        let mut control_rx = ended.control;

        let seconds = self.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
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
            self.emit_progress();
            (self.events)(TransferEvent::Done {
                files: self.machine.file_count(),
                bytes: total,
                seconds,
                saved_to: (!self.machine.is_text()).then(|| self.dest.display().to_string()),
            });
            if let Some(c) = ended.conn {
                // The machine says when to close: once the sender has closed (it read the
                // last message), or when its grace for that is over.
                let mut timer = MachineTimer::new();
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
            if let Some(c) = ended.conn {
                c.close("transfer ended").await;
            }
            Err(CoreError::Transfer(outcome))
        }
    }

    /// Hands the verified phrase to the front end, keeping it for the prompt.
    fn authenticated(&mut self, sender_nonce: &str, receiver_nonce: &str) {
        let event = self.session.trust.verify_event(
            &self.session.peer.name,
            &self.session.remote_fp,
            sender_nonce,
            receiver_nonce,
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

    /// Asks the decider (on its own task: a person may take their time).
    async fn ask(&mut self, summary: OfferSummary) {
        let summary = self.prepare_prompt(summary).await;
        if let Some(mut decider) = self.decider.take() {
            let tx = self.decision_tx.clone();
            tokio::spawn(async move {
                let decision = decider.decide(&summary).await;
                let _ = tx.send(decision).await;
            });
        }
    }

    /// What the machine hears when the disk worker is gone.
    fn disk_stopped() -> RxInput {
        RxInput::DiskError {
            full: false,
            reason: "disk worker stopped".into(),
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

    fn emit_progress(&mut self) {
        let done = self.machine.bytes_received();
        let total = self.machine.total_size();
        let rate = self.meter.record(self.clock.now(), done);
        (self.events)(TransferEvent::Progress {
            done,
            total,
            bytes_per_sec: rate,
            eta_secs: eta_secs(done, total, rate),
            file: None,
        });
    }
}

/// The receiver's side of the one driver loop ([`drive`]): its machine, the disk worker, the
/// prompt, and the sender's new connections.
#[async_trait::async_trait]
impl Role for ReceiveRun {
    type Input = RxInput;
    type Action = RxAction;

    fn handle(&mut self, now: Timestamp, input: RxInput) -> Vec<RxAction> {
        self.machine.handle(now, input)
    }

    fn handle_timeout(&mut self, now: Timestamp) -> Vec<RxAction> {
        self.machine.handle_timeout(now)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        self.machine.poll_timeout()
    }

    fn sort(action: RxAction) -> Common<RxAction> {
        match action {
            RxAction::Send(msg) => Common::Send(msg),
            RxAction::AwaitReconnect => Common::Rejoin,
            RxAction::Finish(outcome) => Common::Finish(outcome),
            other => Common::Own(other),
        }
    }

    fn control(&mut self, msg: Result<ControlMsg, String>) -> RxInput {
        match msg {
            Ok(msg) => RxInput::Control(msg),
            Err(e) => RxInput::BadFrame(format!("unreadable control message: {e}")),
        }
    }

    fn lost(&self, why: String) -> RxInput {
        RxInput::ConnectionLost(why)
    }

    fn gone(&self) -> RxInput {
        RxInput::PeerGone
    }

    fn fail(&self, why: String) -> RxInput {
        RxInput::Fail(why)
    }

    fn cancelled(&self) -> RxInput {
        RxInput::LocalCancel("cancelled by receiver".into())
    }

    fn peer_left(&mut self) -> Option<RxInput> {
        Some(RxInput::PeerGone)
    }

    async fn carry_out(
        &mut self,
        action: RxAction,
        _conn: Option<&mut Connection>,
    ) -> Option<RxInput> {
        match action {
            RxAction::Authenticated {
                sender_nonce,
                receiver_nonce,
            } => self.authenticated(&sender_nonce, &receiver_nonce),
            RxAction::AskUser(summary) => self.ask(summary).await,
            RxAction::Write { index, offset } => {
                self.started.get_or_insert_with(Instant::now);
                let data = self.payload.take().unwrap_or_default();
                let cmd = DiskCmd::Write {
                    index,
                    offset,
                    data,
                };
                if !self.send_disk(cmd).await {
                    return Some(Self::disk_stopped());
                }
            }
            RxAction::Verify {
                index,
                blake3,
                path,
                size,
            } => {
                self.started.get_or_insert_with(Instant::now);
                let cmd = DiskCmd::Verify {
                    index,
                    blake3,
                    path,
                    size,
                };
                if !self.send_disk(cmd).await {
                    return Some(Self::disk_stopped());
                }
            }
            RxAction::Emit(event) => (self.events)(event),
            // Only after the finish, handled with the connection's close in `run`.
            RxAction::Close => {}
            RxAction::Send(_) | RxAction::AwaitReconnect | RxAction::Finish(_) => {
                unreachable!("the driver's own")
            }
        }
        None
    }

    async fn next_own(&mut self) -> Own<RxInput> {
        let data = async {
            match self.data_rx.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = data => match event {
                Some(ChannelEvent::Message { mut data, .. }) => match DataFrame::decode(&data) {
                    Ok((frame, body)) => {
                        let len = body.len() as u64;
                        self.payload = Some(data.split_off(DATA_HEADER_BYTES));
                        Own::Input(RxInput::Data { index: frame.index, offset: frame.offset, len })
                    }
                    Err(e) => Own::Input(RxInput::BadFrame(e.to_string())),
                },
                Some(ChannelEvent::Open) => Own::Nothing,
                Some(ChannelEvent::Closed) | None => Own::ChannelClosed("the data channel closed"),
            },
            report = self.disk_reports.recv() => match report {
                Some(DiskReport::Verified { index, result }) => {
                    let result = result.map(|(shown, abs)| {
                        self.saved.push(abs);
                        shown
                    });
                    Own::Input(RxInput::Verified { index, result })
                }
                Some(DiskReport::Failed { full, reason }) => Own::Input(RxInput::DiskError { full, reason }),
                Some(DiskReport::Stored(total)) => Own::Input(RxInput::Stored { total }),
                None => Own::Nothing,
            },
            decision = self.decision_rx.recv() => match decision {
                Some(decision) => {
                    if decision == Decision::Accept && self.session.proved {
                        self.session.trust.remember(&self.session.peer.name, &self.session.remote_fp);
                    }
                    if decision == Decision::Accept && !self.machine.is_text() {
                        self.start_disk();
                    }
                    Own::Input(RxInput::Decided(decision))
                }
                None => Own::Nothing,
            },
            offer = self.session.claim.next(), if self.claim_open => match offer {
                // The sender gave up on this connection and offers a new one.
                Some(offer) => {
                    self.pending_offer = Some(offer);
                    Own::Input(RxInput::ConnectionLost("the sender started a new connection".into()))
                }
                // The signaling client is gone (its upkeep reports it): stop asking.
                None => {
                    self.claim_open = false;
                    Own::Nothing
                }
            },
        }
    }

    fn tick(&mut self) -> Option<RxInput> {
        if self.started.is_some() {
            self.emit_progress();
        }
        None
    }

    async fn before_rejoin(&mut self) {
        if self.disk.is_some() {
            self.send_disk(DiskCmd::Checkpoint).await;
        }
    }

    async fn rejoin(&mut self, cancel: &CancellationToken) -> Result<Connection, Gave> {
        let pending = self.pending_offer.take();
        self.await_reconnect(pending, cancel).await
    }

    fn take_data(&mut self, data: mpsc::Receiver<ChannelEvent>) {
        self.data_rx = Some(data);
        // A frame half-handled on the old connection is not this one's.
        self.payload = None;
    }

    fn rejoined(&mut self, conn: &Connection) -> Option<RxInput> {
        (self.events)(TransferEvent::Connected {
            peer: self.session.peer.name.clone(),
            connect_ms: conn.connect_ms,
        });
        None
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
