//! The fallback carrier: [`MessageOut`] for the control and data "channels" over one encrypted,
//! ordered relay stream, and the reader task that turns relay frames back into
//! [`ChannelEvent`]s for the unchanged transfer drivers.

use bytes::BytesMut;
use peerdrop_proto::transfer::MAX_MESSAGE_BYTES;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

use super::{decode, encode, FRAGMENT_BYTES, KIND_TRANSPORT, WINDOW_BYTES};
use crate::engine::channels::{ChannelEvent, PUMP_QUEUE};
use crate::engine::transport::MessageOut;
use crate::error::CoreError;
use crate::signaling::{RelayRoute, RelaySender};

const MSG_CONTROL: u8 = 0x10;
const MSG_DATA: u8 = 0x11;
const MSG_CREDIT: u8 = 0x20;
const MSG_CLOSE: u8 = 0x30;
const FLAG_LAST: u8 = 0x01;
/// Noise's authentication tag.
const TAG_BYTES: usize = 16;
/// How long a sender waits for credit before declaring the peer stuck.
const CREDIT_STALL: Duration = Duration::from_secs(60);

/// State shared by both channel handles and the reader task.
struct Core {
    noise: Mutex<snow::TransportState>,
    out: RelaySender,
    /// Bytes of messages sent (all kinds) and of control messages sent.
    sent: AtomicU64,
    sent_control: AtomicU64,
    /// The peer's latest credit: bytes consumed (all kinds) and of control messages.
    acked: AtomicU64,
    acked_control: AtomicU64,
    credit: Notify,
    failed: AtomicBool,
}

impl Core {
    /// Encrypts and queues one message of `kind`, cut into fragments, atomically (the noise
    /// nonce order is the queue order).
    fn write(&self, kind: u8, bytes: &[u8]) -> Result<(), CoreError> {
        let mut noise = self.noise.lock().expect("noise lock");
        let mut cipher = vec![0u8; FRAGMENT_BYTES + 2 + TAG_BYTES];
        if bytes.is_empty() {
            return self.write_one(&mut noise, &[kind, FLAG_LAST], &[], &mut cipher);
        }
        let count = bytes.len().div_ceil(FRAGMENT_BYTES);
        for (i, chunk) in bytes.chunks(FRAGMENT_BYTES).enumerate() {
            let flags = if i + 1 == count { FLAG_LAST } else { 0 };
            self.write_one(&mut noise, &[kind, flags], chunk, &mut cipher)?;
        }
        Ok(())
    }

    fn write_one(
        &self,
        noise: &mut snow::TransportState,
        head: &[u8],
        body: &[u8],
        cipher: &mut [u8],
    ) -> Result<(), CoreError> {
        let mut plain = Vec::with_capacity(head.len() + body.len());
        plain.extend_from_slice(head);
        plain.extend_from_slice(body);
        let n = noise
            .write_message(&plain, cipher)
            .map_err(|e| CoreError::Connect(format!("fallback relay: {e}")))?;
        self.out.send(encode(KIND_TRANSPORT, &cipher[..n]))?;
        Ok(())
    }

    fn fail(&self) {
        self.failed.store(true, Ordering::SeqCst);
        self.credit.notify_waiters();
    }
}

/// Owns the reader task; aborts it when the last channel handle is dropped.
struct Handle {
    core: Arc<Core>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.core.write(MSG_CLOSE, b"closed");
        self.reader.abort();
    }
}

/// One logical channel (control or data) of the fallback carrier.
pub struct FallbackOut {
    handle: Arc<Handle>,
    kind: u8,
}

/// An established fallback carrier, shaped like the channels of a WebRTC connection.
pub struct Carrier {
    /// Control channel (JSON text messages).
    pub control: Arc<FallbackOut>,
    /// The one data channel (binary frames).
    pub data: Arc<FallbackOut>,
    /// Events of the control channel.
    pub control_rx: mpsc::Receiver<ChannelEvent>,
    /// Events of the data channel.
    pub data_rx: mpsc::Receiver<ChannelEvent>,
    /// The whole Noise handshake hash in hex: what the verification phrase binds on this
    /// carrier (equal at both ends of one handshake, different on the two legs of a MITM).
    pub binding: String,
    /// The peer's certificate fingerprint: proved by its signature over the handshake when
    /// `peer_proved`, else only as it claimed it inside the handshake (initiator side).
    pub peer_fp: Option<String>,
    /// Whether the peer proved `peer_fp` ([`crate::identity::proof`]).
    pub peer_proved: bool,
}

impl Carrier {
    pub(crate) fn start(
        transport: snow::TransportState,
        route: RelayRoute,
        out: RelaySender,
        handshake_hash: &[u8],
        peer_fp: Option<String>,
        peer_proved: bool,
    ) -> Carrier {
        let binding = super::binding_of(handshake_hash);
        let core = Arc::new(Core {
            noise: Mutex::new(transport),
            out,
            sent: AtomicU64::new(0),
            sent_control: AtomicU64::new(0),
            acked: AtomicU64::new(0),
            acked_control: AtomicU64::new(0),
            credit: Notify::new(),
            failed: AtomicBool::new(false),
        });
        let (control_tx, control_rx) = mpsc::channel(PUMP_QUEUE);
        let (data_tx, data_rx) = mpsc::channel(PUMP_QUEUE);
        let reader = tokio::spawn(read_loop(core.clone(), route, control_tx, data_tx));
        let handle = Arc::new(Handle { core, reader });
        Carrier {
            control: Arc::new(FallbackOut {
                handle: handle.clone(),
                kind: MSG_CONTROL,
            }),
            data: Arc::new(FallbackOut {
                handle,
                kind: MSG_DATA,
            }),
            control_rx,
            data_rx,
            binding,
            peer_fp,
            peer_proved,
        }
    }
}

impl FallbackOut {
    async fn send(&self, bytes: &[u8]) -> Result<(), CoreError> {
        let core = &self.handle.core;
        let len = bytes.len() as u64;
        let deadline = tokio::time::Instant::now() + CREDIT_STALL;
        loop {
            let notified = core.credit.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if core.failed.load(Ordering::SeqCst) {
                return Err(CoreError::Connect("the fallback relay closed".into()));
            }
            let in_flight = core
                .sent
                .load(Ordering::SeqCst)
                .saturating_sub(core.acked.load(Ordering::SeqCst));
            if in_flight == 0 || in_flight + len <= WINDOW_BYTES {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(CoreError::Connect(
                    "the peer stopped reading the fallback relay".into(),
                ));
            }
        }
        core.sent.fetch_add(len, Ordering::SeqCst);
        if self.kind == MSG_CONTROL {
            core.sent_control.fetch_add(len, Ordering::SeqCst);
        }
        core.write(self.kind, bytes)
    }
}

#[async_trait::async_trait]
impl MessageOut for FallbackOut {
    async fn send_text(&self, text: &str) -> Result<(), CoreError> {
        self.send(text.as_bytes()).await
    }

    async fn send_binary(&self, frame: BytesMut) -> Result<(), CoreError> {
        self.send(&frame).await
    }

    async fn outstanding(&self) -> usize {
        let core = &self.handle.core;
        let (sent, acked) = if self.kind == MSG_CONTROL {
            (&core.sent_control, &core.acked_control)
        } else {
            (&core.sent, &core.acked)
        };
        sent.load(Ordering::SeqCst)
            .saturating_sub(acked.load(Ordering::SeqCst)) as usize
    }
}

/// Decrypts relay frames in order, reassembles messages, hands them to the drivers' bounded
/// queues (waiting when they are full: that is the backpressure) and returns credit.
async fn read_loop(
    core: Arc<Core>,
    mut route: RelayRoute,
    control_tx: mpsc::Sender<ChannelEvent>,
    data_tx: mpsc::Sender<ChannelEvent>,
) {
    let mut plain = vec![0u8; 65_535];
    let mut partial: Vec<u8> = Vec::new();
    let mut partial_kind: Option<u8> = None;
    let (mut consumed, mut consumed_control, mut credited) = (0u64, 0u64, 0u64);
    let why = loop {
        let Some(text) = route.recv().await else {
            break "signaling connection closed";
        };
        let Some((KIND_TRANSPORT, body)) = decode(&text) else {
            break "unexpected relay frame";
        };
        let n = match core
            .noise
            .lock()
            .expect("noise lock")
            .read_message(&body, &mut plain)
        {
            Ok(n) => n,
            Err(_) => break "a relay frame failed authentication",
        };
        let msg = &plain[..n];
        if msg.is_empty() {
            break "empty relay message";
        }
        match msg[0] {
            kind @ (MSG_CONTROL | MSG_DATA) if msg.len() >= 2 => {
                if partial_kind.is_some_and(|k| k != kind) {
                    break "interleaved relay fragments";
                }
                partial_kind = Some(kind);
                partial.extend_from_slice(&msg[2..]);
                if partial.len() > MAX_MESSAGE_BYTES {
                    break "relay message too large";
                }
                if msg[1] & FLAG_LAST == 0 {
                    continue;
                }
                partial_kind = None;
                let len = partial.len() as u64;
                let event = ChannelEvent::Message {
                    is_text: kind == MSG_CONTROL,
                    data: BytesMut::from(&partial[..]),
                };
                partial.clear();
                let queue = if kind == MSG_CONTROL {
                    &control_tx
                } else {
                    &data_tx
                };
                if queue.send(event).await.is_err() {
                    break "transfer ended";
                }
                consumed += len;
                if kind == MSG_CONTROL {
                    consumed_control += len;
                }
                let due = kind == MSG_CONTROL
                    || consumed - credited >= WINDOW_BYTES / 8
                    || route.is_empty();
                if due && consumed > credited {
                    let mut credit = consumed.to_be_bytes().to_vec();
                    credit.extend_from_slice(&consumed_control.to_be_bytes());
                    if core.write(MSG_CREDIT, &credit).is_err() {
                        break "signaling connection closed";
                    }
                    credited = consumed;
                }
            }
            MSG_CREDIT if msg.len() >= 2 + 16 => {
                // Credit is one unfragmented message: [kind, flags, total u64, control u64].
                let total = u64::from_be_bytes(msg[2..10].try_into().expect("8 bytes"));
                let control = u64::from_be_bytes(msg[10..18].try_into().expect("8 bytes"));
                core.acked.fetch_max(total, Ordering::SeqCst);
                core.acked_control.fetch_max(control, Ordering::SeqCst);
                core.credit.notify_waiters();
            }
            MSG_CLOSE => break "the peer closed the fallback relay",
            _ => break "unknown relay message",
        }
    };
    tracing::debug!("fallback relay reader stops: {why}");
    core.fail();
    let _ = control_tx.send(ChannelEvent::Closed).await;
    let _ = data_tx.send(ChannelEvent::Closed).await;
}
