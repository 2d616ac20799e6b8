//! The receiver's driver: runs a [`ReceiverMachine`] over a [`Connection`].
//!
//! Bytes flow: data channel pump → bounded queue → this loop (frame checked by the machine) →
//! bounded queue → the disk worker thread, which owns the [`IncomingTransfer`]: positional
//! writes into `.part` files, BLAKE3 computed on the fly while frames arrive in order (falling
//! back to re-reading the part when they did not), then the atomic no-overwrite move to the
//! final name. Every queue is bounded, so a slow disk slows the sender instead of filling RAM.

use bytes::BytesMut;
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::signal::{PeerInfo, SignalData};
use peerdrop_proto::transfer::{ControlMsg, DataFrame, DATA_HEADER_BYTES};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::warn;
use uuid::Uuid;

use super::channels::ChannelEvent;
use super::connection::{connect_answerer, Background};
use super::progress::{eta_secs, RateMeter};
use super::send::PROGRESS_INTERVAL;
use super::{CancellationToken, EventSink, TransferReport};
use crate::error::CoreError;
use crate::machine::receiver::{Decision, OfferSummary, ReceiverMachine, RxAction, RxInput};
use crate::machine::Outcome;
use crate::rtc::RtcSettings;
use crate::signaling::{IncomingOffer, SignalClient};
use crate::store::{IncomingTransfer, Platform, SafePath};

/// Frames queued for the disk worker (64 KiB each at most).
const DISK_QUEUE: usize = 64;

/// Decides whether to accept an offer: the CLI asks on the terminal (or `--yes`), the app asks
/// through its dialog. It may take as long as a person needs; cancel and peer loss are still
/// noticed meanwhile.
#[async_trait::async_trait]
pub trait Decider: Send + 'static {
    /// Accept or decline `offer`.
    async fn decide(&mut self, offer: &OfferSummary) -> Decision;
}

/// Accepts everything (`--yes`).
pub struct AutoAccept;

#[async_trait::async_trait]
impl Decider for AutoAccept {
    async fn decide(&mut self, _offer: &OfferSummary) -> Decision {
        Decision::Accept
    }
}

/// A sender that wants to connect, not yet answered.
pub struct Incoming {
    offer: IncomingOffer,
    client: Arc<SignalClient>,
    rtc: RtcSettings,
}

impl Incoming {
    pub(crate) fn new(offer: IncomingOffer, client: Arc<SignalClient>, rtc: RtcSettings) -> Self {
        Self { offer, client, rtc }
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
        let conn = tokio::select! {
            conn = connect_answerer(&self.client, self.offer, &self.rtc) => conn?,
            _ = cancel.cancelled() => return Err(CoreError::Transfer(Outcome::Cancelled("cancelled".into()))),
        };
        events(TransferEvent::Connected {
            peer: peer.name.clone(),
            connect_ms: conn.connect_ms,
        });
        ReceiveRun::run(
            ReceiveRun::new(dir, Box::new(decider), events),
            conn,
            cancel,
        )
        .await
    }
}

/// Commands for the disk worker, executed strictly in order.
enum DiskCmd {
    Write {
        index: u32,
        offset: u64,
        data: BytesMut,
    },
    Verify {
        index: u32,
        blake3: String,
        path: SafePath,
        size: u64,
    },
    Finish,
    Discard,
}

/// What the disk worker reports.
enum DiskReport {
    Verified {
        index: u32,
        result: Result<(String, PathBuf), String>,
    },
    Failed(String),
}

/// Running BLAKE3 of a file whose frames arrived in order so far.
struct RunningHash {
    hasher: blake3::Hasher,
    next: u64,
    in_order: bool,
}

/// The disk worker: the only code that touches the destination folder during a transfer.
fn disk_worker(
    dest: PathBuf,
    transfer_id: Uuid,
    mut commands: mpsc::Receiver<DiskCmd>,
    report: mpsc::UnboundedSender<DiskReport>,
) {
    let mut store = match IncomingTransfer::open(&dest, transfer_id) {
        Ok(store) => store,
        Err(e) => {
            let _ = report.send(DiskReport::Failed(e.to_string()));
            return;
        }
    };
    let mut hashes: HashMap<u32, RunningHash> = HashMap::new();
    let mut broken = false;
    while let Some(cmd) = commands.blocking_recv() {
        match cmd {
            DiskCmd::Write {
                index,
                offset,
                data,
            } => {
                if broken {
                    continue;
                }
                if let Err(e) = store.write_at(index, offset, &data) {
                    broken = true;
                    let _ = report.send(DiskReport::Failed(e.to_string()));
                    continue;
                }
                let running = hashes.entry(index).or_insert_with(|| RunningHash {
                    hasher: blake3::Hasher::new(),
                    next: 0,
                    in_order: true,
                });
                if running.in_order && offset == running.next {
                    running.hasher.update(&data);
                    running.next += data.len() as u64;
                } else if offset + data.len() as u64 > running.next {
                    running.in_order = false;
                }
            }
            DiskCmd::Verify {
                index,
                blake3,
                path,
                size,
            } => {
                let running = hashes.remove(&index);
                let result = verify_and_place(&mut store, index, &blake3, &path, size, running);
                if let Err(reason) = &result {
                    warn!("file #{index} failed: {reason}");
                    let _ = store.remove_part(index);
                }
                let result = result.map(|abs| (relative_display(store.dest(), &abs), abs));
                let _ = report.send(DiskReport::Verified { index, result });
            }
            DiskCmd::Finish => {
                if let Err(e) = store.finish() {
                    warn!("could not tidy staging folder: {e}");
                }
                return;
            }
            DiskCmd::Discard => {
                if let Err(e) = store.discard() {
                    warn!("could not remove partial files: {e}");
                }
                return;
            }
        }
    }
}

fn verify_and_place(
    store: &mut IncomingTransfer,
    index: u32,
    expected: &str,
    path: &SafePath,
    size: u64,
    running: Option<RunningHash>,
) -> Result<PathBuf, String> {
    if size == 0 {
        store.create_empty(index).map_err(|e| e.to_string())?;
    }
    let actual = match running {
        Some(r) if r.in_order && r.next == size => r.hasher.finalize(),
        None if size == 0 => blake3::hash(&[]),
        _ => store.hash_part(index).map_err(|e| e.to_string())?,
    };
    if actual.to_hex().as_str() != expected {
        return Err(format!(
            "BLAKE3 mismatch (expected {expected}, got {}): corrupted in transit",
            actual.to_hex()
        ));
    }
    store.finalize(index, path).map_err(|e| e.to_string())
}

fn relative_display(dest: &std::path::Path, abs: &std::path::Path) -> String {
    abs.strip_prefix(dest)
        .unwrap_or(abs)
        .to_string_lossy()
        .replace('\\', "/")
}

/// One receive, from open channels to the end.
struct ReceiveRun {
    dest: PathBuf,
    decider: Option<Box<dyn Decider>>,
    events: EventSink,
    machine: ReceiverMachine,
    disk: Option<mpsc::Sender<DiskCmd>>,
    disk_thread: Option<std::thread::JoinHandle<()>>,
    disk_report_tx: mpsc::UnboundedSender<DiskReport>,
    saved: Vec<PathBuf>,
}

impl ReceiveRun {
    fn new(
        dest: PathBuf,
        decider: Box<dyn Decider>,
        events: EventSink,
    ) -> (Self, mpsc::UnboundedReceiver<DiskReport>) {
        let (disk_report_tx, disk_report_rx) = mpsc::unbounded_channel();
        (
            Self {
                dest,
                decider: Some(decider),
                events,
                machine: ReceiverMachine::new(Platform::current()),
                disk: None,
                disk_thread: None,
                disk_report_tx,
                saved: Vec::new(),
            },
            disk_report_rx,
        )
    }

    /// The disk worker, started on first use (only once the user accepted).
    fn disk(&mut self) -> &mpsc::Sender<DiskCmd> {
        if self.disk.is_none() {
            let (tx, rx) = mpsc::channel(DISK_QUEUE);
            let dest = self.dest.clone();
            let id = self.machine.transfer_id().unwrap_or_else(Uuid::new_v4);
            let report = self.disk_report_tx.clone();
            self.disk_thread = std::thread::Builder::new()
                .name("peerdrop-disk".into())
                .spawn(move || disk_worker(dest, id, rx, report))
                .ok();
            self.disk = Some(tx);
        }
        self.disk.as_ref().expect("just created")
    }

    async fn run(
        self_and_reports: (Self, mpsc::UnboundedReceiver<DiskReport>),
        mut conn: super::connection::Connection,
        cancel: CancellationToken,
    ) -> Result<TransferReport, CoreError> {
        let (mut this, mut disk_reports) = self_and_reports;
        let (decision_tx, mut decision_rx) = mpsc::channel(1);
        let mut payload: Option<BytesMut> = None;
        let mut started: Option<Instant> = None;
        let mut meter = RateMeter::new();
        let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
        let mut actions: Vec<RxAction> = Vec::new();
        let (mut control_rx, mut data_rx) = conn.take_receivers();

        let outcome = 'driver: loop {
            for action in std::mem::take(&mut actions) {
                match action {
                    RxAction::Send(msg) => {
                        if conn.control.send_text(&msg.to_json()).await.is_err() {
                            actions = this.machine.handle(RxInput::PeerGone);
                            continue 'driver;
                        }
                    }
                    RxAction::AskUser(summary) => {
                        if let Some(mut decider) = this.decider.take() {
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
                        if this
                            .disk()
                            .send(DiskCmd::Write {
                                index,
                                offset,
                                data,
                            })
                            .await
                            .is_err()
                        {
                            actions = this
                                .machine
                                .handle(RxInput::DiskError("disk worker stopped".into()));
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
                        if this
                            .disk()
                            .send(DiskCmd::Verify {
                                index,
                                blake3,
                                path,
                                size,
                            })
                            .await
                            .is_err()
                        {
                            actions = this
                                .machine
                                .handle(RxInput::DiskError("disk worker stopped".into()));
                            continue 'driver;
                        }
                    }
                    RxAction::Emit(event) => (this.events)(event),
                    RxAction::Finish(outcome) => break 'driver outcome,
                }
            }
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
                    Some(ChannelEvent::Closed) | None => RxInput::PeerGone,
                },
                ev = control_rx.recv() => match ev {
                    Some(ChannelEvent::Message { data, .. }) => match std::str::from_utf8(&data).map_err(|e| e.to_string()).and_then(|t| ControlMsg::from_json(t).map_err(|e| e.to_string())) {
                        Ok(msg) => RxInput::Control(msg),
                        Err(e) => RxInput::BadFrame(format!("unreadable control message: {e}")),
                    },
                    Some(ChannelEvent::Open) => continue,
                    Some(ChannelEvent::Closed) | None => RxInput::PeerGone,
                },
                report = disk_reports.recv() => match report {
                    Some(DiskReport::Verified { index, result }) => {
                        let result = result.map(|(shown, abs)| { this.saved.push(abs); shown });
                        RxInput::Verified { index, result }
                    }
                    Some(DiskReport::Failed(why)) => RxInput::DiskError(why),
                    None => continue,
                },
                decision = decision_rx.recv() => match decision {
                    Some(decision) => RxInput::Decided(decision),
                    None => continue,
                },
                bg = conn.next_background() => match bg {
                    Background::PeerGone(_) => RxInput::PeerGone,
                    Background::Quiet => continue,
                },
                _ = cancel.cancelled() => RxInput::LocalCancel("cancelled by receiver".into()),
                _ = tick.tick() => {
                    if started.is_some() {
                        this.emit_progress(&mut meter);
                    }
                    continue;
                }
            };
            actions = this.machine.handle(input);
        };

        let seconds = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
        let total = this.machine.total_size();
        if let Some(disk) = this.disk.take() {
            let last = if outcome.is_success() {
                DiskCmd::Finish
            } else {
                DiskCmd::Discard
            };
            let _ = disk.send(last).await;
            if let Some(thread) = this.disk_thread.take() {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
        }
        if outcome.is_success() {
            this.emit_progress(&mut meter);
            (this.events)(TransferEvent::Done {
                files: this.machine.file_count(),
                bytes: total,
                seconds,
                saved_to: Some(this.dest.display().to_string()),
            });
            conn.close("done").await;
            Ok(TransferReport {
                files: this.machine.file_count(),
                bytes: total,
                seconds,
                saved: this.saved,
            })
        } else {
            conn.close("transfer ended").await;
            Err(CoreError::Transfer(outcome))
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
