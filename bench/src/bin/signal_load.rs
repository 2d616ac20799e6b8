//! `peerdrop-signal-load`: holds N concurrent peers on one real `peerdrop-signal` — or on
//! `--nodes K` of them sharing a real `redis-server` — (loopback only) and measures what it
//! costs: connect rate, RSS of each node, and the p50/p99 latency of offers relayed between
//! peers at a fixed rate. Bounded in count and time.
//!
//! Peers connect from `--source-addresses` loopback addresses (127.0.0.2 on), so each
//! "nearby" group (one source address) stays at N/addresses peers, as on real networks, and
//! the per-address connection limit is not what is measured.
//!
//! With several nodes, peer `i` goes to node `(i / addresses) % K`, so every group spans every
//! node, and each sender first resolves its receiver's code and then offers to it **on another
//! node**: every offer measured crosses nodes (Redis pub/sub inbox). Redis is started by the
//! bench on a free loopback port with no persistence.
//!
//! What is measured where: RSS is read from `/proc/<pid>/status` of the spawned server process
//! (not of this process); the number of peers held is checked against the server's own count
//! (`GET /health`), so peers the server dropped (e.g. kicked as too slow) cannot inflate it.

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use peerdrop_proto::signal::{ClientMsg, DeviceKind, PeerId, ServerMsg, SignalData};
use peerdrop_proto::PROTOCOL_VERSION;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
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
    /// Signaling nodes; more than one share a `redis-server` the bench starts.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Distinct loopback source addresses the peers come from (spreads the per-address
    /// connection caps; loopback counts as one LAN, so the first `max_lan_group` peers share a
    /// nearby group and the rest are grouped by address): peers / addresses is the group size.
    #[arg(long, default_value_t = 200)]
    source_addresses: usize,
    /// The `redis-server` to start when `--nodes` > 1.
    #[arg(long, default_value = "redis-server")]
    redis_server: PathBuf,
}

/// Per-connection message budget of the server is 20/s; senders stay well below it.
const OFFERS_PER_SENDER_PER_SEC: usize = 4;

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn micros_since_epoch() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// A child process (a node, or Redis), killed on drop.
use peerdrop_testkit::KillOnDrop as Server;

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

/// Lets this process (and the nodes it starts, which inherit it) hold `wanted` sockets: the
/// soft fd limit up to the hard one, and the hard one up to `wanted` where permitted (root).
/// Returns the soft limit in force.
fn raise_fd_limit(wanted: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_max < wanted {
            let raised = libc::rlimit {
                rlim_cur: wanted,
                rlim_max: wanted,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return wanted;
            }
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        lim.rlim_cur
    }
}

/// Loopback source address number `n` (127.0.0.2, 127.0.0.3, …, 127.0.0.251, 127.0.1.2, …).
fn source_address(n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, (n / 250) as u8, 2 + (n % 250) as u8))
}

/// One connected peer: its id, code, group, node, and a way to send.
struct Peer {
    id: PeerId,
    code: String,
    group: usize,
    node: usize,
    out: mpsc::UnboundedSender<ClientMsg>,
}

/// What the peers' tasks report.
struct Reports {
    /// Offer latencies in microseconds.
    latencies: mpsc::UnboundedSender<u64>,
    /// One per `resolved` received.
    resolved: mpsc::UnboundedSender<()>,
    /// Error frames received (refused signals, rate limits).
    errors: Arc<AtomicUsize>,
}

impl Clone for Reports {
    fn clone(&self) -> Self {
        Self {
            latencies: self.latencies.clone(),
            resolved: self.resolved.clone(),
            errors: Arc::clone(&self.errors),
        }
    }
}

async fn connect_peer(
    server: SocketAddr,
    node: usize,
    group: usize,
    reports: Reports,
) -> Result<Peer> {
    let source = source_address(group);
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    let stream = socket.connect(server).await?;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{server}/ws"), stream).await?;
    let hello = ClientMsg::Hello {
        v: PROTOCOL_VERSION,
        name: format!("load-{group}"),
        kind: DeviceKind::Cli,
        fingerprint: None,
        max_packet: None,
    };
    ws.send(Message::text(hello.to_json())).await?;
    let (id, code) = loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => match ServerMsg::from_json(&t)? {
                ServerMsg::Welcome { id, code, .. } => break (id, code),
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
                    Some(Ok(Message::Text(t))) => match ServerMsg::from_json(&t) {
                        Ok(ServerMsg::Signal { data: SignalData::Offer { sdp, .. }, .. }) => {
                            if let Ok(sent) = sdp.parse::<u64>() {
                                let _ = reports.latencies.send(micros_since_epoch().saturating_sub(sent));
                            }
                        }
                        Ok(ServerMsg::Resolved { .. }) => {
                            let _ = reports.resolved.send(());
                        }
                        Ok(ServerMsg::Error { .. }) => {
                            reports.errors.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    },
                    Some(Ok(_)) => {}
                    _ => break,
                },
            }
        }
    });
    Ok(Peer {
        id,
        code,
        group,
        node,
        out,
    })
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

/// A free loopback port (bound and released; the child binds it a moment later).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts `redis-server` on a free loopback port, nothing persisted; waits until it answers.
fn start_redis(binary: &std::path::Path) -> Result<(Server, u16)> {
    let port = free_port()?;
    let dir = std::env::temp_dir().join(format!("peerdrop-signal-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let child = Command::new(binary)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--maxclients", "1000"])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {} (Debian: redis-server)", binary.display()))?;
    let redis = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("redis-server did not come up");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((redis, port))
}

/// Starts one `peerdrop-signal` (a cluster node when `redis` is set) and returns it with its
/// address.
fn start_node(
    bin_dir: &std::path::Path,
    max: &str,
    redis: Option<&str>,
) -> Result<(Server, SocketAddr)> {
    let mut cmd = Command::new(bin_dir.join("peerdrop-signal"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--max-connections",
        max,
        "--idle-timeout",
        "600",
    ]);
    if let Some(url) = redis {
        cmd.args(["--redis", url]);
    }
    let (server, addr) = peerdrop_testkit::spawn_listening(cmd.stderr(Stdio::null()))
        .context("starting peerdrop-signal (build it with --release)")?;
    let addr: SocketAddr = addr.parse().context("server address")?;
    Ok((server, addr))
}

/// Waits until every node's `/health` answers (a cluster node: once its Redis link is up).
async fn wait_ready(addrs: &[SocketAddr]) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    for addr in addrs {
        while server_counts(*addr).await.is_err() {
            if Instant::now() > deadline {
                bail!("node {addr} did not become ready");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// Redis's own resident memory, from `INFO memory`.
async fn redis_rss_kib(port: u16) -> Option<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    tcp.write_all(b"INFO memory\r\nQUIT\r\n").await.ok()?;
    let mut text = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read_to_string(&mut text)).await;
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory_rss:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|bytes| bytes / 1024)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let fds = raise_fd_limit(args.peers as u64 * 2 + 4096);
    if fds < args.peers as u64 + 1024 {
        eprintln!("warning: only {fds} file descriptors; raise `ulimit -n` (run as root to let the bench do it)");
    }
    EPOCH.get_or_init(Instant::now);
    let bin_dir = match args.bin_dir {
        Some(d) => d,
        None => std::env::current_exe()?
            .parent()
            .context("binary folder")?
            .to_path_buf(),
    };
    let nodes_wanted = args.nodes.max(1);
    let addresses = args.source_addresses.clamp(1, 250 * 256);
    let (redis, redis_port) = if nodes_wanted > 1 {
        let (redis, port) = start_redis(&args.redis_server)?;
        (Some(redis), Some(port))
    } else {
        (None, None)
    };
    let redis_url = redis_port.map(|port| format!("redis://127.0.0.1:{port}"));
    let max = (args.peers + 100).to_string();
    let mut nodes = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..nodes_wanted {
        let (node, addr) = start_node(&bin_dir, &max, redis_url.as_deref())?;
        nodes.push(node);
        addrs.push(addr);
    }
    wait_ready(&addrs).await?;
    let pids: Vec<u32> = nodes.iter().map(|n| n.0.id()).collect();
    let idle_rss: Vec<u64> = pids.iter().map(|pid| rss_kib(*pid, "VmRSS:")).collect();

    // Phase 1: connect every peer.
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel();
    let (resolved_tx, mut resolved_rx) = mpsc::unbounded_channel();
    let errors = Arc::new(AtomicUsize::new(0));
    let reports = Reports {
        latencies: lat_tx,
        resolved: resolved_tx,
        errors: Arc::clone(&errors),
    };
    let started = Instant::now();
    let failures = Arc::new(AtomicUsize::new(0));
    let mut peers = Vec::with_capacity(args.peers);
    let addrs_ref = &addrs;
    let mut pending = futures_util::stream::iter((0..args.peers).map(|i| {
        let reports = reports.clone();
        let node = (i / addresses) % nodes_wanted;
        async move { connect_peer(addrs_ref[node], node, i % addresses, reports).await }
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
    drop(pending);
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(if nodes_wanted > 1 { 5 } else { 1 })).await;
    let held_rss: Vec<u64> = pids.iter().map(|pid| rss_kib(*pid, "VmRSS:")).collect();
    let mut server_peers = 0;
    let mut server_connections = 0;
    let mut per_node = Vec::new();
    for addr in &addrs {
        let (p, c) = server_counts(*addr).await?;
        server_peers += p;
        server_connections += c;
        per_node.push(p);
    }

    // Phase 2: offers between peers of the same group (on different nodes when there are
    // several), at a fixed total rate.
    let mut by_group: Vec<Vec<usize>> = vec![Vec::new(); addresses];
    for (i, p) in peers.iter().enumerate() {
        by_group[p.group].push(i);
    }
    let pairs: Vec<(usize, usize)> = by_group
        .iter()
        .flat_map(|g| {
            g.chunks_exact(2)
                .map(|c| (c[0], c[1]))
                .filter(|(a, b)| nodes_wanted == 1 || peers[*a].node != peers[*b].node)
                .collect::<Vec<_>>()
        })
        .collect();
    let senders_needed = args
        .offers_per_sec
        .div_ceil(OFFERS_PER_SENDER_PER_SEC)
        .max(1);
    let pairs = &pairs[..pairs.len().min(senders_needed)];
    if pairs.is_empty() {
        bail!("not enough peers to form sender/receiver pairs");
    }
    // Each sender looks its receiver up by code first (in a cluster: in Redis), as a real
    // sender does, so the offers below are addressed to a peer it may signal.
    for &(from, to) in pairs {
        let _ = peers[from].out.send(ClientMsg::Resolve {
            code: peers[to].code.clone(),
        });
    }
    let mut resolved = 0;
    while resolved < pairs.len() {
        match tokio::time::timeout(Duration::from_secs(10), resolved_rx.recv()).await {
            Ok(Some(())) => resolved += 1,
            _ => bail!("only {resolved} of {} codes resolved", pairs.len()),
        }
    }
    let errors_before = errors.load(Ordering::Relaxed);
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
    let peak_rss: Vec<u64> = pids.iter().map(|pid| rss_kib(*pid, "VmHWM:")).collect();
    let redis_rss = match redis_port {
        Some(port) => redis_rss_kib(port).await,
        None => None,
    };

    let cross = if nodes_wanted > 1 {
        format!(", {nodes_wanted} nodes on one redis-server, every offer to another node")
    } else {
        String::new()
    };
    println!("peerdrop-signal load test (loopback, {addresses} source addresses{cross})");
    println!(
        "peers held: {} of {} ({} failed) | connect: {:.1} s, {:.0} peers/s",
        peers.len(),
        args.peers,
        failures.load(Ordering::Relaxed),
        connect_secs,
        peers.len() as f64 / connect_secs
    );
    println!(
        "servers report (GET /health while holding): {server_peers} peers ({}), {server_connections} connections",
        per_node
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(" + ")
    );
    for (n, pid) in pids.iter().enumerate() {
        println!(
            "node {n} RSS (pid {pid}): idle {:.1} MiB, holding {} peers {:.1} MiB, peak {:.1} MiB, {:.1} KiB per peer",
            idle_rss[n] as f64 / 1024.0,
            per_node[n],
            held_rss[n] as f64 / 1024.0,
            peak_rss[n] as f64 / 1024.0,
            held_rss[n].saturating_sub(idle_rss[n]) as f64 / per_node[n].max(1) as f64
        );
    }
    if let Some(kib) = redis_rss {
        println!("redis-server RSS: {:.1} MiB", kib as f64 / 1024.0);
    }
    println!(
        "relay: {} offers sent in {:.1} s ({:.0}/s) over {} sender/receiver pairs; {} delivered, {} error frames",
        total_offers,
        send_secs,
        total_offers as f64 / send_secs,
        pairs.len(),
        latencies.len(),
        errors.load(Ordering::Relaxed) - errors_before
    );
    println!(
        "relay latency (offer → addressee): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    drop(redis);
    if server_peers != peers.len() as u64 {
        bail!(
            "the servers hold {server_peers} peers, not the {} this load generator counted",
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
