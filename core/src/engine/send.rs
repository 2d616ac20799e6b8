//! The sender's role in the one driver loop (`engine::driver`): a [`SenderMachine`] over a
//! [`Connection`], and the streaming of its files.
//!
//! Bytes flow: a reader thread reads each file front to back in 1 MiB blocks and hashes them
//! ([`SourceReader`]) → a bounded queue (4 blocks) → the streaming task cuts the wanted parts
//! into frames (up to the max-message-size both peers negotiated), waits at the store
//! window's gate (the machine's allowance), and hands them to the data channel, whose `send`
//! blocks once the channel's send buffer is full. Memory therefore stays flat whatever the file size.
//!
//! Identity and resume: once the channels are open the driver reads the certificate the
//! receiver proved in the DTLS handshake. The transfer id is derived from both certificates
//! and the files (names, sizes, modification times), so sending the same files to the same
//! device again — after a crash, a reboot, a closed laptop — offers the same transfer and the
//! receiver's journal answers with what it already holds. If the connection fails mid-transfer
//! while the receiver is still online, the driver connects again (up to
//! [`RECONNECT_WINDOW`], the machine's timer), insists on the *same* receiver certificate, and resumes.

use bytes::{BufMut, Bytes, BytesMut};
use peerdrop_proto::device_name::display_form;
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::signal::PeerInfo;
use peerdrop_proto::transfer::{ByteRange, ControlMsg, DataFrame, DATA_HEADER_BYTES};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::changed::{IdentityChange, OnChangedIdentity};
use super::channels::ChannelEvent;
use super::clock::Clock;
use super::connection::{connect_offerer, Connection};
use super::driver::{drive, Common, Own, Role};
use super::rejoin::{Gave, SamePeer};
use super::store_window::StoreWindow;
use super::transport::MessageOut;
use super::{CancellationToken, EventSink, TransferReport};
use crate::error::CoreError;
use crate::identity::nonce::new_nonce;
use crate::identity::{Recognition, Trust};
use crate::machine::rate::{eta_secs, RateMeter};
use crate::machine::sender::{SenderMachine, StreamJob, TxAction, TxInput};
use crate::machine::time::Timestamp;
use crate::machine::Outcome;
use crate::rtc::RtcSettings;
use crate::signaling::SignalClient;
use crate::store::{SendPlan, SourceReader};

/// How often progress is reported.
pub use super::driver::PROGRESS_INTERVAL;

/// How long a sender keeps trying to reach a receiver again after the connection failed
/// (the machine's timer; re-exported for the drivers and tests that name it).
pub use crate::machine::RECONNECT_WINDOW;

/// Pause between reconnection attempts that failed fast.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// Blocks read ahead of the network.
const READ_AHEAD_BLOCKS: usize = 4;

/// What a send runs with besides the files: the signaling connection that reaches the
/// receiver, WebRTC settings, this device's identity and pins, and the policy for a receiver
/// whose identity changed.
pub struct SendContext<'a> {
    /// The signaling connection the receiver is reached through.
    pub client: &'a SignalClient,
    /// WebRTC settings.
    pub rtc: &'a RtcSettings,
    /// This device's identity and the devices it trusts.
    pub trust: &'a Trust,
    /// What to do when the receiver is not the device pinned under its name.
    pub on_changed: &'a OnChangedIdentity,
}

/// Connects to `to` and sends `plan`.
pub async fn send(
    ctx: SendContext<'_>,
    to: &PeerInfo,
    plan: SendPlan,
    events: EventSink,
    cancel: CancellationToken,
) -> Result<TransferReport, CoreError> {
    let SendContext {
        client,
        rtc,
        trust,
        on_changed,
    } = ctx;
    events(TransferEvent::Connecting {
        peer: to.name.clone(),
    });
    let conn = tokio::select! {
        conn = connect_offerer(client, to, rtc, rtc.data_channels) => conn?,
        _ = cancel.cancelled() => return Err(CoreError::Transfer(Outcome::Cancelled("cancelled".into()))),
    };
    events(TransferEvent::Connected {
        peer: to.name.clone(),
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
    let link = Link {
        client,
        rtc,
        to,
        remote_fp,
        binding: conn.channel_binding(),
        proved: conn.identity_proved(),
    };
    if let Err(e) = check_identity(&link, trust, on_changed, &events, &cancel).await {
        conn.close("identity changed").await;
        return Err(e);
    }
    run(link, conn, trust, plan, events, cancel).await
}

/// Lets the transfer start only if the receiver is not a changed identity, or the person
/// said to go on: before this returns `Ok`, nothing about the files has been sent.
async fn check_identity(
    link: &Link<'_>,
    trust: &Trust,
    on_changed: &OnChangedIdentity,
    events: &EventSink,
    cancel: &CancellationToken,
) -> Result<(), CoreError> {
    // An unproved fingerprint (a relay peer without a persistent identity) can never be a
    // pinned device, so under a pinned device's name it is a changed identity too.
    let Recognition::Changed {
        previous,
        pinned_as,
    } = trust.recognise_peer(&link.to.name, &link.remote_fp, link.proved)
    else {
        return Ok(());
    };
    let change = IdentityChange {
        peer: display_form(&link.to.name),
        pinned_as,
        previous,
        now: link.remote_fp.clone(),
    };
    tracing::warn!(
        peer = %change.peer,
        pinned_as = %change.pinned_as,
        previous = %change.previous,
        now = %change.now,
        "the receiver's identity CHANGED since it was trusted: nothing is sent unless the person confirms"
    );
    events(TransferEvent::IdentityChanged {
        peer: change.peer.clone(),
        pinned_as: change.pinned_as.clone(),
        previous: change.previous.clone(),
        fingerprint: change.now.clone(),
    });
    let go_on = tokio::select! {
        go_on = on_changed.allows(&change) => go_on,
        _ = cancel.cancelled() => {
            return Err(CoreError::Transfer(Outcome::Cancelled("cancelled".into())))
        }
    };
    if go_on {
        tracing::info!(peer = %change.peer, "sending to a changed identity: the person confirmed");
        Ok(())
    } else {
        Err(CoreError::IdentityChanged(change))
    }
}

/// Everything needed to reach the receiver again.
struct Link<'a> {
    client: &'a SignalClient,
    rtc: &'a RtcSettings,
    to: &'a PeerInfo,
    /// The receiver's certificate fingerprint, as proved in the first DTLS handshake.
    remote_fp: String,
    /// Set when the fingerprint is only claimed (the encrypted relay): see
    /// [`Connection::channel_binding`].
    binding: Option<String>,
    /// Whether `remote_fp` is proved (DTLS, or the relay's identity proof).
    proved: bool,
}

/// The id of "these files to that device": the same files (same names, sizes and
/// modification times) sent by the same device to the same device get the same id, which
/// is what lets the receiver find its journal and resume.
pub fn transfer_id(sender_fp: &str, receiver_fp: &str, plan: &SendPlan) -> Uuid {
    let mut hasher = blake3::Hasher::new_derive_key("peerdrop 2025-06 transfer id v1");
    let mut field = |bytes: &[u8]| {
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(sender_fp.as_bytes());
    field(receiver_fp.as_bytes());
    if let Some(text) = plan.text_on_offer() {
        field(b"text");
        field(text.as_bytes());
    }
    for file in plan.files() {
        field(&file.entry.index.to_le_bytes());
        field(file.entry.path.as_bytes());
        field(&file.entry.size.to_le_bytes());
        let mtime = plan
            .modified(file.entry.index)
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(u128::MAX, |d| d.as_nanos());
        field(&mtime.to_le_bytes());
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_bytes()[..16]);
    // RFC 9562 version 8 (custom) and variant bits.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

/// What the streaming task reports back to the driver loop, tagged with the connection
/// generation it streamed on (reports of a replaced connection are dropped).
#[derive(Debug)]
enum StreamReport {
    FileSent { index: u32, blake3: String },
    SourceError(String),
    ChannelError(String),
}

/// What the reader thread hands the streaming task.
enum ReadItem {
    Block {
        index: u32,
        offset: u64,
        data: Bytes,
        wanted: Vec<ByteRange>,
    },
    FileDone {
        index: u32,
        blake3: String,
    },
    Error(String),
}

/// The sender's side of the one driver loop ([`drive`]): its machine, and the streaming of
/// files on the current connection.
struct SendRole<'a> {
    link: Link<'a>,
    trust: &'a Trust,
    machine: SenderMachine,
    plan: Arc<SendPlan>,
    events: EventSink,
    total: u64,
    /// Payload bytes counted as sent (resumed bytes included), for progress.
    sent: Arc<AtomicU64>,
    /// Payload bytes that went on the wire, for the summary.
    wire: Arc<AtomicU64>,
    /// Bytes the receiver still needed when streaming first started.
    needed: Option<u64>,
    report_tx: mpsc::UnboundedSender<(u64, StreamReport)>,
    report_rx: mpsc::UnboundedReceiver<(u64, StreamReport)>,
    /// Connection generation: reports of a replaced connection's stream are dropped.
    generation: u64,
    streamer: Option<tokio::task::JoinHandle<()>>,
    /// Payload bytes per data frame on the current connection (logged in the summary).
    frame_payload: Option<usize>,
    started: Option<Instant>,
    meter: RateMeter,
    /// The machine's clock (progress is measured on it too).
    clock: Clock,
    /// How far the current stream may send: the machine's allowance ([`StoreWindow`]).
    window: Arc<StoreWindow>,
    /// Set once the server reported the receiver gone (the machine's grace timer runs then).
    peer_left: bool,
    /// Bytes sent at the previous progress tick.
    sent_at_last_tick: u64,
    /// The current connection's data events: nothing arrives there for a sender, but the
    /// queue stays open while the connection lives.
    _data: Option<mpsc::Receiver<ChannelEvent>>,
}

impl SendRole<'_> {
    fn stop_streaming(&mut self) {
        if let Some(task) = self.streamer.take() {
            task.abort();
        }
    }

    /// Starts streaming `jobs` on `conn`, the stream's own window starting empty.
    async fn stream(&mut self, jobs: Vec<StreamJob>, conn: &mut Connection) {
        self.started.get_or_insert_with(Instant::now);
        self.needed
            .get_or_insert(self.total - self.machine.skipped_bytes());
        self.sent
            .store(self.machine.skipped_bytes(), Ordering::Relaxed);
        self.stop_streaming();
        self.window = StoreWindow::new();
        // The receiver has accepted, so it now answers stripe offers.
        conn.open_stripes(self.link.client).await;
        conn.cap_in_flight().await;
        let payload = conn.data_frame_payload().await;
        self.frame_payload = Some(payload);
        let tx = self.report_tx.clone();
        let gen = self.generation;
        let (item_tx, mut item_rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(report) = item_rx.recv().await {
                if tx.send((gen, report)).is_err() {
                    break;
                }
            }
        });
        let outlet = FrameOutlet {
            channels: conn.data.clone(),
            payload,
        };
        self.streamer = Some(tokio::spawn(stream_files(
            self.plan.clone(),
            jobs,
            outlet,
            self.window.clone(),
            self.sent.clone(),
            self.wire.clone(),
            item_tx,
        )));
    }
}

#[async_trait::async_trait]
impl Role for SendRole<'_> {
    type Input = TxInput;
    type Action = TxAction;

    fn handle(&mut self, now: Timestamp, input: TxInput) -> Vec<TxAction> {
        self.machine.handle(now, input)
    }

    fn handle_timeout(&mut self, now: Timestamp) -> Vec<TxAction> {
        self.machine.handle_timeout(now)
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        self.machine.poll_timeout()
    }

    fn sort(action: TxAction) -> Common<TxAction> {
        match action {
            TxAction::Send(msg) => Common::Send(msg),
            TxAction::Reconnect => Common::Rejoin,
            TxAction::Finish(outcome) => Common::Finish(outcome),
            other => Common::Own(other),
        }
    }

    fn control(&mut self, msg: Result<ControlMsg, String>) -> TxInput {
        TxInput::Control(msg.unwrap_or_else(|_| ControlMsg::Error {
            message: "unreadable control message".into(),
            cause: None,
        }))
    }

    fn lost(&self, why: String) -> TxInput {
        TxInput::ConnectionLost(why)
    }

    fn gone(&self) -> TxInput {
        TxInput::PeerGone
    }

    fn fail(&self, why: String) -> TxInput {
        TxInput::Fail(why)
    }

    fn cancelled(&self) -> TxInput {
        TxInput::LocalCancel("cancelled by sender".into())
    }

    fn peer_left(&mut self) -> Option<TxInput> {
        self.peer_left = true;
        Some(TxInput::PeerLeft)
    }

    fn watches_upkeep(&self) -> bool {
        !self.peer_left
    }

    async fn carry_out(
        &mut self,
        action: TxAction,
        conn: Option<&mut Connection>,
    ) -> Option<TxInput> {
        match action {
            // Streaming needs a connection; without one the machine is rejoining or ending.
            TxAction::Stream(jobs) => {
                if let Some(conn) = conn {
                    self.stream(jobs, conn).await
                }
            }
            TxAction::Allow { up_to } => self.window.allow(up_to),
            TxAction::Emit(event) => {
                if matches!(event, TransferEvent::Accepted) && self.link.proved {
                    self.trust
                        .remember(&self.link.to.name, &self.link.remote_fp);
                }
                (self.events)(event)
            }
            TxAction::Authenticated {
                sender_nonce,
                receiver_nonce,
            } => (self.events)(self.trust.verify_event(
                &self.link.to.name,
                &self.link.remote_fp,
                &sender_nonce,
                &receiver_nonce,
                self.link.binding.as_deref(),
                self.link.proved,
            )),
            TxAction::Send(_) | TxAction::Reconnect | TxAction::Finish(_) => {
                unreachable!("the driver's own")
            }
        }
        None
    }

    async fn next_own(&mut self) -> Own<TxInput> {
        let Some((generation, report)) = self.report_rx.recv().await else {
            return Own::Input(TxInput::PeerGone);
        };
        if generation != self.generation {
            return Own::Nothing;
        }
        Own::Input(match report {
            StreamReport::FileSent { index, blake3 } => TxInput::FileSent { index, blake3 },
            StreamReport::SourceError(why) => TxInput::SourceError(why),
            StreamReport::ChannelError(why) => {
                tracing::debug!("data channel failed: {why}");
                TxInput::ConnectionLost(format!("the data channel failed: {why}"))
            }
        })
    }

    fn tick(&mut self) -> Option<TxInput> {
        self.started?;
        let now_sent = self.sent.load(Ordering::Relaxed);
        emit_progress(
            &self.events,
            &mut self.meter,
            self.clock.now(),
            now_sent,
            self.total,
        );
        // Bytes the connection took since the last tick: it is moving (on a slow path the
        // receiver's `stored` reports can be far apart; on a stuck one the connection stops
        // taking bytes once its buffers are full).
        if now_sent == self.sent_at_last_tick {
            return None;
        }
        self.sent_at_last_tick = now_sent;
        Some(TxInput::Progress)
    }

    async fn before_rejoin(&mut self) {
        self.stop_streaming();
        self.generation += 1;
    }

    async fn rejoin(&mut self, cancel: &CancellationToken) -> Result<Connection, Gave> {
        reconnect(&self.link, cancel).await
    }

    fn take_data(&mut self, data: mpsc::Receiver<ChannelEvent>) {
        self._data = Some(data);
    }

    fn rejoined(&mut self, conn: &Connection) -> Option<TxInput> {
        (self.events)(TransferEvent::Connected {
            peer: self.link.to.name.clone(),
            connect_ms: conn.connect_ms,
        });
        Some(TxInput::Reconnected)
    }
}

async fn run(
    link: Link<'_>,
    conn: Connection,
    trust: &Trust,
    plan: SendPlan,
    events: EventSink,
    cancel: CancellationToken,
) -> Result<TransferReport, CoreError> {
    let plan = Arc::new(plan);
    let id = transfer_id(trust.identity().fingerprint(), &link.remote_fp, &plan);
    let name = link.client.name().to_string();
    let machine = match plan.text_on_offer() {
        Some(text) => SenderMachine::new_text(id, name, text.to_string(), new_nonce()),
        None => SenderMachine::new(id, name, plan.entries(), new_nonce()),
    };
    let (report_tx, report_rx) = mpsc::unbounded_channel();
    let mut role = SendRole {
        link,
        trust,
        total: machine.total_size(),
        machine,
        plan: plan.clone(),
        events: events.clone(),
        sent: Arc::new(AtomicU64::new(0)),
        wire: Arc::new(AtomicU64::new(0)),
        needed: None,
        report_tx,
        report_rx,
        generation: 0,
        streamer: None,
        frame_payload: None,
        started: None,
        meter: RateMeter::new(),
        clock: Clock::start(),
        window: StoreWindow::new(),
        peer_left: false,
        sent_at_last_tick: 0,
        _data: None,
    };
    let clock = role.clock;
    let ended = drive(&mut role, clock, conn, Some(TxInput::Start), &cancel).await;

    role.stop_streaming();
    let total = role.total;
    let seconds = role.started.map_or(0.0, |s| s.elapsed().as_secs_f64());
    let wire_bytes = role.wire.load(Ordering::Relaxed);
    let needed = role.needed.unwrap_or(0);
    tracing::info!(
        target: "peerdrop::stats",
        "sender summary: payload_bytes_sent={wire_bytes} bytes_needed={needed} resent={} total={total} frame_payload={}",
        wire_bytes.saturating_sub(needed),
        role.frame_payload.unwrap_or(0)
    );
    if ended.outcome.is_success() {
        emit_progress(&events, &mut role.meter, role.clock.now(), total, total);
        events(TransferEvent::Done {
            files: plan.len() as u32,
            bytes: total,
            seconds,
            saved_to: None,
        });
        if let Some(c) = ended.conn {
            c.close("done").await;
        }
        Ok(TransferReport {
            files: plan.len() as u32,
            bytes: total,
            seconds,
            saved: Vec::new(),
        })
    } else {
        if let Some(c) = ended.conn {
            c.close("transfer ended").await;
        }
        Err(CoreError::Transfer(ended.outcome))
    }
}

/// Connects to the receiver again, attempt after attempt, until it works, cannot work, or the
/// caller stops waiting (the machine's [`RECONNECT_WINDOW`]); accepts only a connection that
/// proves the certificate the transfer started with.
async fn reconnect(link: &Link<'_>, cancel: &CancellationToken) -> Result<Connection, Gave> {
    let same = SamePeer {
        role: "receiver",
        fingerprint: &link.remote_fp,
        relayed: link.binding.is_some(),
        relay_hint: " (send again to resume from what arrived)",
    };
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        tracing::info!(attempt, "reconnecting to {}", link.to.name);
        let tried = tokio::select! {
            r = connect_offerer(link.client, link.to, link.rtc, link.rtc.data_channels) => r,
            _ = cancel.cancelled() => return Err(Gave::Cancelled),
        };
        match tried {
            Ok(conn) => match same.check(conn).await {
                Ok(conn) => return Ok(conn),
                Err(Some(gave)) => return Err(gave),
                Err(None) => {}
            },
            Err(CoreError::PeerUnavailable(why)) => return Err(Gave::Up(why)),
            Err(CoreError::Signal(e)) => return Err(Gave::Up(e.to_string())),
            Err(e) => tracing::debug!("reconnection attempt {attempt} failed: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(RECONNECT_PAUSE) => {}
            _ = cancel.cancelled() => return Err(Gave::Cancelled),
        }
    }
}

fn emit_progress(events: &EventSink, meter: &mut RateMeter, now: Timestamp, done: u64, total: u64) {
    let rate = meter.record(now, done);
    events(TransferEvent::Progress {
        done,
        total,
        bytes_per_sec: rate,
        eta_secs: eta_secs(done, total, rate),
        file: None,
    });
}

/// Where a connection's frames go: its data channels, and the payload each frame carries
/// there ([`Connection::data_frame_payload`](super::connection::Connection::data_frame_payload)).
struct FrameOutlet {
    channels: Vec<Arc<dyn MessageOut>>,
    payload: usize,
}

/// Streams every job: reader thread → frames → data channels (round robin).
async fn stream_files(
    plan: Arc<SendPlan>,
    jobs: Vec<StreamJob>,
    outlet: FrameOutlet,
    window: Arc<StoreWindow>,
    sent: Arc<AtomicU64>,
    wire: Arc<AtomicU64>,
    report: mpsc::UnboundedSender<StreamReport>,
) {
    let (block_tx, mut block_rx) = mpsc::channel(READ_AHEAD_BLOCKS);
    let reader = std::thread::Builder::new()
        .name("peerdrop-reader".into())
        .spawn(move || read_sources(&plan, &jobs, &block_tx));
    if let Err(e) = reader {
        let _ = report.send(StreamReport::SourceError(format!(
            "cannot start reader: {e}"
        )));
        return;
    }
    let mut next_channel = 0;
    while let Some(item) = block_rx.recv().await {
        match item {
            ReadItem::Block {
                index,
                offset,
                data,
                wanted,
            } => {
                for range in wanted {
                    let mut pos = range.start;
                    while pos < range.end {
                        let len = (range.end - pos).min(outlet.payload as u64);
                        let from = (pos - offset) as usize;
                        let payload = &data[from..from + len as usize];
                        let mut frame = BytesMut::with_capacity(DATA_HEADER_BYTES + payload.len());
                        let mut header = [0u8; DATA_HEADER_BYTES];
                        DataFrame { index, offset: pos }.encode_header(&mut header);
                        frame.put_slice(&header);
                        frame.put_slice(payload);
                        let channel = &outlet.channels[next_channel % outlet.channels.len()];
                        next_channel += 1;
                        window.reserve(len).await;
                        if let Err(e) = channel.send_binary(frame).await {
                            let _ = report.send(StreamReport::ChannelError(e.to_string()));
                            return;
                        }
                        sent.fetch_add(len, Ordering::Relaxed);
                        wire.fetch_add(len, Ordering::Relaxed);
                        pos += len;
                    }
                }
            }
            ReadItem::FileDone { index, blake3 } => {
                let _ = report.send(StreamReport::FileSent { index, blake3 });
            }
            ReadItem::Error(why) => {
                let _ = report.send(StreamReport::SourceError(why));
                return;
            }
        }
    }
}

/// Reader thread: reads and hashes each job's file, passing on the blocks that hold wanted
/// ranges. Stops early when the streaming task is gone.
fn read_sources(plan: &SendPlan, jobs: &[StreamJob], out: &mpsc::Sender<ReadItem>) {
    for job in jobs {
        let Some(file) = plan.file(job.index) else {
            let _ = out.blocking_send(ReadItem::Error(format!("no file #{}", job.index)));
            return;
        };
        let mut reader = match SourceReader::open_expecting(file, plan.modified(job.index)) {
            Ok(r) => r,
            Err(e) => {
                let _ = out.blocking_send(ReadItem::Error(e.to_string()));
                return;
            }
        };
        loop {
            match reader.next_block() {
                Ok(Some(block)) => {
                    let end = block.offset + block.data.len() as u64;
                    let wanted: Vec<ByteRange> = job
                        .ranges
                        .iter()
                        .filter(|r| r.start < end && r.end > block.offset)
                        .map(|r| ByteRange {
                            start: r.start.max(block.offset),
                            end: r.end.min(end),
                        })
                        .collect();
                    if !wanted.is_empty() {
                        let item = ReadItem::Block {
                            index: job.index,
                            offset: block.offset,
                            data: block.data,
                            wanted,
                        };
                        if out.blocking_send(item).is_err() {
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = out.blocking_send(ReadItem::Error(e.to_string()));
                    return;
                }
            }
        }
        match reader.finish() {
            Ok(hash) => {
                if out
                    .blocking_send(ReadItem::FileDone {
                        index: job.index,
                        blake3: hash.to_hex().to_string(),
                    })
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                let _ = out.blocking_send(ReadItem::Error(e.to_string()));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OutgoingFile;
    use peerdrop_proto::transfer::FileEntry;

    #[test]
    fn transfer_id_is_stable_for_the_same_files_and_devices_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        std::fs::write(&a, b"hello").unwrap();
        let plan = SendPlan::from_paths(&[&a]).unwrap();
        let again = SendPlan::from_paths(&[&a]).unwrap();
        let id = transfer_id("s", "r", &plan);
        assert_eq!(
            id,
            transfer_id("s", "r", &again),
            "same files, same devices"
        );
        assert_ne!(id, transfer_id("s", "other receiver", &plan));
        assert_ne!(id, transfer_id("other sender", "r", &plan));
        // Touched (modification time changed): a different transfer.
        let later = SystemTime::now() + Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&a)
            .unwrap()
            .set_modified(later)
            .unwrap();
        let touched = SendPlan::from_paths(&[&a]).unwrap();
        assert_ne!(id, transfer_id("s", "r", &touched));
        // Renamed on the wire: different.
        let renamed = SendPlan::from_entries(vec![OutgoingFile {
            entry: FileEntry {
                index: 0,
                path: "b.bin".into(),
                size: 5,
            },
            source: a.clone(),
        }]);
        assert_ne!(
            transfer_id("s", "r", &renamed),
            transfer_id("s", "r", &SendPlan::from_entries(plan.files().to_vec()))
        );
    }
}
