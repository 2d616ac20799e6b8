//! The sender's driver: runs a [`SenderMachine`] over a [`Connection`].
//!
//! Bytes flow: a reader thread reads each file front to back in 1 MiB blocks and hashes them
//! ([`SourceReader`]) → a bounded queue (4 blocks) → the streaming task cuts the wanted parts
//! into ≤ 64 KiB frames and hands them to the data channel, whose `send` blocks once the
//! channel's send buffer is full. Memory therefore stays flat whatever the file size.

use bytes::{BufMut, Bytes, BytesMut};
use peerdrop_proto::events::TransferEvent;
use peerdrop_proto::signal::PeerInfo;
use peerdrop_proto::transfer::{
    ByteRange, ControlMsg, DataFrame, DATA_HEADER_BYTES, MAX_DATA_PAYLOAD,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::channels::ChannelEvent;
use super::connection::{connect_offerer, Background, Connection};
use super::progress::{eta_secs, RateMeter};
use super::transport::MessageOut;
use super::{CancellationToken, EventSink, TransferReport};
use crate::error::CoreError;
use crate::machine::sender::{SenderMachine, StreamJob, TxAction, TxInput};
use crate::machine::Outcome;
use crate::rtc::RtcSettings;
use crate::signaling::SignalClient;
use crate::store::{SendPlan, SourceReader};

/// How often progress is reported.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Blocks read ahead of the network.
const READ_AHEAD_BLOCKS: usize = 4;

/// Connects to `to` and sends `plan`.
pub async fn send(
    client: &SignalClient,
    rtc: &RtcSettings,
    to: &PeerInfo,
    plan: SendPlan,
    events: EventSink,
    cancel: CancellationToken,
) -> Result<TransferReport, CoreError> {
    events(TransferEvent::Connecting {
        peer: to.name.clone(),
    });
    let conn = tokio::select! {
        conn = connect_offerer(client, to, rtc, 1) => conn?,
        _ = cancel.cancelled() => return Err(CoreError::Transfer(Outcome::Cancelled("cancelled".into()))),
    };
    events(TransferEvent::Connected {
        peer: to.name.clone(),
        connect_ms: conn.connect_ms,
    });
    run(conn, plan, client.name().to_string(), events, cancel).await
}

/// What the streaming task reports back to the driver loop.
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

async fn run(
    mut conn: Connection,
    plan: SendPlan,
    name: String,
    events: EventSink,
    cancel: CancellationToken,
) -> Result<TransferReport, CoreError> {
    let plan = Arc::new(plan);
    let mut machine = SenderMachine::new(Uuid::new_v4(), name, plan.entries());
    let total = machine.total_size();
    let sent = Arc::new(AtomicU64::new(0));
    let (report_tx, mut report_rx) = mpsc::unbounded_channel();
    let mut streamer: Option<tokio::task::JoinHandle<()>> = None;
    let mut started: Option<Instant> = None;
    let mut meter = RateMeter::new();
    let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
    let mut actions = machine.handle(TxInput::Start);
    let (mut control_rx, _data_rx) = conn.take_receivers();

    let outcome = 'driver: loop {
        for action in std::mem::take(&mut actions) {
            match action {
                TxAction::Send(msg) => {
                    if conn.control.send_text(&msg.to_json()).await.is_err() {
                        actions = machine.handle(TxInput::PeerGone);
                        continue 'driver;
                    }
                }
                TxAction::Stream(jobs) => {
                    started = Some(Instant::now());
                    sent.store(machine.skipped_bytes(), Ordering::Relaxed);
                    streamer = Some(tokio::spawn(stream_files(
                        plan.clone(),
                        jobs,
                        conn.data.clone(),
                        sent.clone(),
                        report_tx.clone(),
                    )));
                }
                TxAction::Emit(event) => events(event),
                TxAction::Finish(outcome) => break 'driver outcome,
            }
        }
        let input = tokio::select! {
            ev = control_rx.recv() => match ev {
                Some(ChannelEvent::Message { data, .. }) => match std::str::from_utf8(&data).ok().and_then(|t| ControlMsg::from_json(t).ok()) {
                    Some(msg) => TxInput::Control(msg),
                    None => TxInput::Control(ControlMsg::Error { message: "unreadable control message".into() }),
                },
                Some(ChannelEvent::Open) => continue,
                Some(ChannelEvent::Closed) | None => TxInput::PeerGone,
            },
            report = report_rx.recv() => match report {
                Some(StreamReport::FileSent { index, blake3 }) => TxInput::FileSent { index, blake3 },
                Some(StreamReport::SourceError(why)) => TxInput::SourceError(why),
                Some(StreamReport::ChannelError(why)) => {
                    tracing::debug!("data channel failed: {why}");
                    TxInput::PeerGone
                }
                None => TxInput::PeerGone,
            },
            bg = conn.next_background() => match bg {
                Background::PeerGone(_) => TxInput::PeerGone,
                Background::Quiet => continue,
            },
            _ = cancel.cancelled() => TxInput::LocalCancel("cancelled by sender".into()),
            _ = tick.tick() => {
                if started.is_some() {
                    emit_progress(&events, &mut meter, sent.load(Ordering::Relaxed), total);
                }
                continue;
            }
        };
        actions = machine.handle(input);
    };

    if let Some(task) = streamer {
        task.abort();
    }
    let seconds = started.map_or(0.0, |s| s.elapsed().as_secs_f64());
    if outcome.is_success() {
        emit_progress(&events, &mut meter, total, total);
        events(TransferEvent::Done {
            files: plan.len() as u32,
            bytes: total,
            seconds,
            saved_to: None,
        });
        conn.close("done").await;
        Ok(TransferReport {
            files: plan.len() as u32,
            bytes: total,
            seconds,
            saved: Vec::new(),
        })
    } else {
        conn.close("transfer ended").await;
        Err(CoreError::Transfer(outcome))
    }
}

fn emit_progress(events: &EventSink, meter: &mut RateMeter, done: u64, total: u64) {
    let rate = meter.record(Instant::now(), done);
    events(TransferEvent::Progress {
        done,
        total,
        bytes_per_sec: rate,
        eta_secs: eta_secs(done, total, rate),
        file: None,
    });
}

/// Streams every job: reader thread → frames → data channels (round robin).
async fn stream_files(
    plan: Arc<SendPlan>,
    jobs: Vec<StreamJob>,
    channels: Vec<Arc<dyn MessageOut>>,
    sent: Arc<AtomicU64>,
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
                        let len = (range.end - pos).min(MAX_DATA_PAYLOAD as u64);
                        let from = (pos - offset) as usize;
                        let payload = &data[from..from + len as usize];
                        let mut frame = BytesMut::with_capacity(DATA_HEADER_BYTES + payload.len());
                        let mut header = [0u8; DATA_HEADER_BYTES];
                        DataFrame { index, offset: pos }.encode_header(&mut header);
                        frame.put_slice(&header);
                        frame.put_slice(payload);
                        let channel = &channels[next_channel % channels.len()];
                        next_channel += 1;
                        if let Err(e) = channel.send_binary(frame).await {
                            let _ = report.send(StreamReport::ChannelError(e.to_string()));
                            return;
                        }
                        sent.fetch_add(len, Ordering::Relaxed);
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
        let mut reader = match SourceReader::open(file) {
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
