//! `peerdrop-signal-load`: holds N concurrent peers on one real `peerdrop-signal` (loopback
//! only) and measures what it costs: connect rate, server RSS, and the p50/p99 latency of
//! offers relayed between peers at a fixed rate. Bounded in count and time.
//!
//! Peers connect from source addresses 127.0.0.2–127.0.0.201, so each "nearby" group (one
//! source address) stays at N/200 peers, as on real networks, and the per-address connection
//! limit is not what is measured.
//!
//! What is measured where: RSS is read from `/proc/<pid>/status` of the spawned server process
//! (not of this process); the number of peers held is checked against the server's own count
//! (`GET /health`), so peers the server dropped (e.g. kicked as too slow) cannot inflate it.

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use peerdrop_proto::signal::{ClientMsg, DeviceKind, PeerId, ServerMsg, SignalData};
use peerdrop_proto::PROTOCOL_VERSION;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Command-line options.
#[derive(Parser, Debug)]
#[command(about = "Load test for peerdrop-signal: concurrent peers, RSS, relay latency")]
struct Args {
    /// Concurrent peers to hold.
    #[arg(long, default_value_t = 10_000)]
    peers: usize,
    /// Offers per second during the latency phase (spread over many senders).
    #[arg(long, default_value_t = 1000)]
    offers_per_sec: usize,
    /// Seconds the latency phase lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Connection attempts in flight at once.
    #[arg(long, default_value_t = 256)]
    parallel_connects: usize,
    /// Folder holding the `peerdrop-signal` binary (default: next to this binary).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

/// Distinct loopback source addresses used (spreads the per-address connection caps; loopback
/// counts as one LAN, so the first `max_lan_group` peers share a nearby group and the rest are
/// grouped by address).
const SOURCE_ADDRESSES: usize = 200;

/// Per-connection message budget of the server is 20/s; senders stay well below it.
const OFFERS_PER_SENDER_PER_SEC: usize = 4;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn micros_since_epoch() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Lets this process hold many sockets: soft fd limit up to the hard limit.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// One connected peer: its id, group, and a way to send.
struct Peer {
    id: PeerId,
    group: usize,
    out: mpsc::UnboundedSender<ClientMsg>,
}

async fn connect_peer(
    server: SocketAddr,
    group: usize,
    latencies: mpsc::UnboundedSender<u64>,
) -> Result<Peer> {
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + group as u8));
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(server).await?;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{server}/ws"), stream).await?;
    let hello = ClientMsg::Hello {
        v: PROTOCOL_VERSION,
        name: format!("load-{group}"),
        kind: DeviceKind::Cli,
        fingerprint: None,
    };
    ws.send(Message::text(hello.to_json())).await?;
    let id = loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => match ServerMsg::from_json(&t)? {
                ServerMsg::Welcome { id, .. } => break id,
                ServerMsg::Error { code, message } => bail!("refused: {code:?} {message}"),
                _ => {}
            },
            Some(Ok(_)) => {}
            other => bail!("connection ended before welcome: {other:?}"),
        }
    };
    let (out, mut outbox) = mpsc::unbounded_channel::<ClientMsg>();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                msg = outbox.recv() => match msg {
                    Some(msg) => if ws.send(Message::text(msg.to_json())).await.is_err() { break },
                    None => break,
                },
                frame = ws.next() => match frame {
                    Some(Ok(Message::Text(t))) => {
                        if let Ok(ServerMsg::Signal { data: SignalData::Offer { sdp, .. }, .. }) = ServerMsg::from_json(&t) {
                            if let Ok(sent) = sdp.parse::<u64>() {
                                let _ = latencies.send(micros_since_epoch().saturating_sub(sent));
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
            }
        }
    });
    Ok(Peer { id, group, out })
}

/// The server's own count of registered peers and open connections, from `GET /health`.
async fn server_counts(server: SocketAddr) -> Result<(u64, u64)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(server).await?;
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: load\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = String::new();
    tcp.read_to_string(&mut response).await?;
    let body = response
        .split_once("\r\n\r\n")
        .context("health response without body")?
        .1;
    let health: serde_json::Value = serde_json::from_str(body.trim())?;
    let count = |field: &str| {
        health[field]
            .as_u64()
            .with_context(|| format!("health response without {field}"))
    };
    Ok((count("peers")?, count("connections")?))
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    raise_fd_limit();
    EPOCH.get_or_init(Instant::now);
    let bin_dir = match args.bin_dir {
        Some(d) => d,
        None => std::env::current_exe()?
            .parent()
            .context("binary folder")?
            .to_path_buf(),
    };
    let max = (args.peers + 100).to_string();
    let mut child = Command::new(bin_dir.join("peerdrop-signal"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--max-connections",
            &max,
            "--idle-timeout",
            "600",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting peerdrop-signal (build it with --release)")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let server = Server(child);
    let addr: SocketAddr = line
        .trim()
        .trim_start_matches("listening on ")
        .parse()
        .context("server address")?;
    let pid = server.0.id();
    let idle_rss = rss_kib(pid, "VmRSS:");

    // Phase 1: connect every peer.
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel();
    let started = Instant::now();
    let failures = Arc::new(AtomicUsize::new(0));
    let mut peers = Vec::with_capacity(args.peers);
    let mut pending = futures_util::stream::iter((0..args.peers).map(|i| {
        let lat_tx = lat_tx.clone();
        async move { connect_peer(addr, i % SOURCE_ADDRESSES, lat_tx).await }
    }))
    .buffer_unordered(args.parallel_connects);
    while let Some(result) = tokio::time::timeout(Duration::from_secs(120), pending.next())
        .await
        .context("connect phase stalled")?
    {
        match result {
            Ok(peer) => peers.push(peer),
            Err(e) => {
                if failures.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("connect failed: {e:#}");
                }
            }
        }
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held_rss = rss_kib(pid, "VmRSS:");
    let (server_peers, server_connections) = server_counts(addr).await?;

    // Phase 2: offers between peers of the same group, at a fixed total rate.
    let mut by_group: Vec<Vec<usize>> = vec![Vec::new(); SOURCE_ADDRESSES];
    for (i, p) in peers.iter().enumerate() {
        by_group[p.group].push(i);
    }
    let pairs: Vec<(usize, usize)> = by_group
        .iter()
        .filter(|g| g.len() >= 2)
        .flat_map(|g| g.chunks_exact(2).map(|c| (c[0], c[1])))
        .collect();
    let senders_needed = args
        .offers_per_sec
        .div_ceil(OFFERS_PER_SENDER_PER_SEC)
        .max(1);
    let pairs = &pairs[..pairs.len().min(senders_needed)];
    if pairs.is_empty() {
        bail!("not enough peers to form sender/receiver pairs");
    }
    let interval = Duration::from_secs_f64(1.0 / args.offers_per_sec as f64);
    let total_offers = args.offers_per_sec * args.seconds as usize;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let relay_started = Instant::now();
    for n in 0..total_offers {
        ticker.tick().await;
        let (from, to) = pairs[n % pairs.len()];
        let data = SignalData::Offer {
            session: uuid_from(n),
            sdp: micros_since_epoch().to_string(),
        };
        let _ = peers[from].out.send(ClientMsg::Signal {
            to: peers[to].id,
            data,
        });
    }
    let send_secs = relay_started.elapsed().as_secs_f64();
    let mut latencies = Vec::with_capacity(total_offers);
    let deadline = Instant::now() + Duration::from_secs(5);
    while latencies.len() < total_offers {
        match tokio::time::timeout(
            deadline.saturating_duration_since(Instant::now()),
            lat_rx.recv(),
        )
        .await
        {
            Ok(Some(l)) => latencies.push(l),
            _ => break,
        }
    }
    latencies.sort_unstable();
    let peak_rss = rss_kib(pid, "VmHWM:");

    println!(
        "peerdrop-signal load test (loopback, {} source addresses)",
        SOURCE_ADDRESSES
    );
    println!(
        "peers held: {} of {} ({} failed) | connect: {:.1} s, {:.0} peers/s",
        peers.len(),
        args.peers,
        failures.load(Ordering::Relaxed),
        connect_secs,
        peers.len() as f64 / connect_secs
    );
    println!(
        "server reports (GET /health while holding): {server_peers} peers, {server_connections} connections"
    );
    println!(
        "server RSS (pid {pid}): idle {:.1} MiB, holding peers {:.1} MiB, peak {:.1} MiB",
        idle_rss as f64 / 1024.0,
        held_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    );
    if peers.len() > 1 {
        println!(
            "server RSS per peer held: {:.1} KiB",
            held_rss.saturating_sub(idle_rss) as f64 / peers.len() as f64
        );
    }
    println!(
        "relay: {} offers sent in {:.1} s ({:.0}/s) over {} sender/receiver pairs; {} delivered",
        total_offers,
        send_secs,
        total_offers as f64 / send_secs,
        pairs.len(),
        latencies.len()
    );
    println!(
        "relay latency (offer → addressee): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    if server_peers != peers.len() as u64 {
        bail!(
            "the server holds {server_peers} peers, not the {} this load generator counted",
            peers.len()
        );
    }
    if latencies.len() < total_offers {
        bail!(
            "{} offers were not delivered",
            total_offers - latencies.len()
        );
    }
    Ok(())
}

/// A distinct session id per offer without pulling in a uuid generator.
fn uuid_from(n: usize) -> peerdrop_proto::signal::SessionId {
    peerdrop_proto::signal::SessionId::from_u128(n as u128 + 1)
}
