//! `peerdrop-signal`: the rendezvous service as a command.
//!
//! ```text
//! peerdrop-signal [--listen 127.0.0.1:8787] [--turn-secret S --turn-url turn:host:3478 ...]
//!                 [--stun-url URL ...] [--turn-ttl SECS] [--trusted-proxy IP ...]
//!                 [--allow-origin ORIGIN ...] [--redis redis://HOST:PORT [--presence-ttl SECS]]
//!                 [limits...]
//! ```
//! After binding it prints exactly one line, `listening on <addr>`, to stdout (tests start it
//! with `--listen 127.0.0.1:0` and read the port from it). Logs go to stderr (`RUST_LOG`,
//! default `info`; `--log-format json` for one JSON object per line). Ctrl-C or SIGTERM drain it: no new connections, every client closed with
//! 1012 "service restart" (reconnect elsewhere), exit 0 within `--shutdown-grace`.
//!
//! The settings a deployment sets also come from the environment (`PEERDROP_LISTEN`,
//! `PEERDROP_STUN_URL`, `PEERDROP_TURN_URL`, `PEERDROP_TURN_SECRET`, `PEERDROP_TURN_TTL`,
//! `PEERDROP_TRUSTED_PROXY`, `PEERDROP_ALLOW_ORIGIN`, `PEERDROP_REDIS`,
//! `PEERDROP_PRESENCE_TTL`; a flag wins over its variable), so the
//! packaged systemd unit reads them from one file, `/etc/peerdrop/signal.env`, with the
//! secret out of `ps` (packaging/server/).

use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use peerdrop_signal::cluster::{ClusterConfig, DEFAULT_PRESENCE_TTL};
use peerdrop_signal::config::{DEFAULT_LISTEN, DEFAULT_TURN_TTL};
use peerdrop_signal::{Limits, ServerConfig, SignalServer};
use tracing_subscriber::EnvFilter;

/// PeerDrop signaling server: presence, short codes, SDP/ICE relay, TURN REST credentials.
#[derive(Parser, Debug)]
#[command(name = "peerdrop-signal", version, about)]
struct Args {
    /// Address to listen on (HTTP /health and WebSocket /ws on the same port).
    #[arg(long, value_name = "ADDR", env = "PEERDROP_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// STUN URL handed to clients (repeatable, or comma-separated in the environment), e.g.
    /// stun:stun.example.org:3478.
    #[arg(
        long = "stun-url",
        value_name = "URL",
        env = "PEERDROP_STUN_URL",
        value_delimiter = ','
    )]
    stun_urls: Vec<String>,
    /// TURN URL handed to clients with REST credentials (repeatable, or comma-separated in the
    /// environment), e.g. turn:host:3478?transport=udp.
    #[arg(
        long = "turn-url",
        value_name = "URL",
        env = "PEERDROP_TURN_URL",
        value_delimiter = ','
    )]
    turn_urls: Vec<String>,
    /// Secret shared with coturn (static-auth-secret) to mint TURN credentials.
    #[arg(
        long,
        value_name = "SECRET",
        env = "PEERDROP_TURN_SECRET",
        hide_env_values = true
    )]
    turn_secret: Option<String>,
    /// Lifetime of TURN credentials in seconds (coturn checks it when an allocation is made;
    /// allocations already made outlive it). Also the window of --turn-credentials-per-ip.
    #[arg(long, value_name = "SECS", env = "PEERDROP_TURN_TTL", default_value_t = DEFAULT_TURN_TTL.as_secs())]
    turn_ttl: u64,
    /// TURN credentials minted per client address (IPv6: per /48) per --turn-ttl; beyond it
    /// clients get STUN only.
    #[arg(long, value_name = "N", default_value_t = Limits::default().turn_credentials_per_ip)]
    turn_credentials_per_ip: u32,
    /// Reverse proxy whose X-Forwarded-For header is trusted (repeatable, or comma-separated in
    /// the environment).
    #[arg(
        long = "trusted-proxy",
        value_name = "IP",
        env = "PEERDROP_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<IpAddr>,
    /// Web page origin (scheme://host[:port]) allowed to open the WebSocket (repeatable, or
    /// comma-separated in the environment). Requests without an Origin header (native
    /// clients) and pages this server serves itself by IP address or localhost are always
    /// allowed; any other web page is refused with 403.
    #[arg(
        long = "allow-origin",
        value_name = "ORIGIN",
        env = "PEERDROP_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    /// Largest accepted message in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_message_bytes)]
    max_message_bytes: usize,
    /// Sustained messages per second per connection.
    #[arg(long, value_name = "N", default_value_t = Limits::default().messages_per_sec)]
    messages_per_sec: u32,
    /// Messages per connection allowed in one burst.
    #[arg(long, value_name = "N", default_value_t = Limits::default().message_burst)]
    message_burst: u32,
    /// Rejected messages tolerated before a connection is closed.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_strikes)]
    max_strikes: u32,
    /// Simultaneous connections per client address (IPv6: per /64).
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_connections_per_ip)]
    max_connections_per_ip: usize,
    /// Simultaneous connections in total.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_connections)]
    max_connections: usize,
    /// Close connections silent for this many seconds (pings count as activity).
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// Code look-ups per minute per connection.
    #[arg(long, value_name = "N", default_value_t = Limits::default().resolve_per_minute)]
    resolve_per_minute: u32,
    /// Code look-ups per minute per client address.
    #[arg(long, value_name = "N", default_value_t = Limits::default().resolve_per_minute_per_ip)]
    resolve_per_minute_per_ip: u32,
    /// Bytes per second one connection may push through the encrypted fallback relay (0 = off).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().relay_bytes_per_sec)]
    relay_bytes_per_sec: u64,
    /// Bytes per second of the fallback relay for all connections of one client address
    /// together (IPv6: per /48).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().relay_bytes_per_sec_per_ip)]
    relay_bytes_per_sec_per_ip: u64,
    /// Fallback relay frames per second one connection may send.
    #[arg(long, value_name = "N", default_value_t = Limits::default().relay_frames_per_sec)]
    relay_frames_per_sec: u32,
    /// Fallback relay frames per second for all connections of one client address together.
    #[arg(long, value_name = "N", default_value_t = Limits::default().relay_frames_per_sec_per_ip)]
    relay_frames_per_sec_per_ip: u32,
    /// Most peers in the one nearby group of clients on the server's LAN (private, loopback,
    /// link-local addresses); later ones are grouped by their own address.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_lan_group)]
    max_lan_group: usize,
    /// Redis shared by several nodes of one service (redis://[user:password@]host:port[/db]):
    /// codes unique across nodes, nearby groups spanning them, signals to peers on other
    /// nodes. Without it, this server is alone and keeps everything in memory.
    #[arg(
        long,
        value_name = "URL",
        env = "PEERDROP_REDIS",
        hide_env_values = true
    )]
    redis: Option<String>,
    /// (With --redis) Seconds a peer's presence outlives its node's last refresh: the peers
    /// of a node that died vanish from the others within this.
    #[arg(long, value_name = "SECS", env = "PEERDROP_PRESENCE_TTL", default_value_t = DEFAULT_PRESENCE_TTL.as_secs())]
    presence_ttl: u64,
    /// Seconds a SIGTERM waits for connections to close (each told 1012 "service restart")
    /// before dropping them; keep it below systemd's TimeoutStopSec (15 in the packaged unit).
    #[arg(long, value_name = "SECS", env = "PEERDROP_SHUTDOWN_GRACE", default_value_t = ServerConfig::default().shutdown_grace.as_secs())]
    shutdown_grace: u64,
    /// How logs are written to stderr: `text` for people, `json` (one object per line) for
    /// log collectors.
    #[arg(long, value_name = "FORMAT", env = "PEERDROP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// The shape of the log lines (`--log-format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields` (with `message`), `target`
    /// and the current `span` (a connection's client and peer).
    Json,
}

/// Installs the global log subscriber: `RUST_LOG` filters (default `info`), stderr, `format`.
fn init_logs(format: LogFormat) {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
}

impl Args {
    /// The server's configuration (everything but how logs are written).
    fn into_config(self) -> ServerConfig {
        ServerConfig {
            listen: self.listen,
            stun_urls: self.stun_urls,
            turn_urls: self.turn_urls,
            turn_secret: self.turn_secret,
            turn_ttl: Duration::from_secs(self.turn_ttl),
            trusted_proxies: self.trusted_proxies,
            allowed_origins: self.allowed_origins,
            limits: Limits {
                max_message_bytes: self.max_message_bytes,
                messages_per_sec: self.messages_per_sec,
                message_burst: self.message_burst,
                max_strikes: self.max_strikes,
                max_connections_per_ip: self.max_connections_per_ip,
                max_connections: self.max_connections,
                idle_timeout: Duration::from_secs(self.idle_timeout),
                resolve_per_minute: self.resolve_per_minute,
                resolve_per_minute_per_ip: self.resolve_per_minute_per_ip,
                relay_bytes_per_sec: self.relay_bytes_per_sec,
                relay_bytes_per_sec_per_ip: self.relay_bytes_per_sec_per_ip,
                relay_frames_per_sec: self.relay_frames_per_sec,
                relay_frames_per_sec_per_ip: self.relay_frames_per_sec_per_ip,
                turn_credentials_per_ip: self.turn_credentials_per_ip,
                max_lan_group: self.max_lan_group,
                ..Limits::default()
            },
            shutdown_grace: Duration::from_secs(self.shutdown_grace),
            cluster: self.redis.map(|redis_url| ClusterConfig {
                redis_url,
                presence_ttl: Duration::from_secs(self.presence_ttl),
            }),
            ..ServerConfig::default()
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_logs(args.log_format);

    let server = match SignalServer::bind(args.into_config()).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("peerdrop-signal: {err}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = shutdown_signal();
    {
        let mut stdout = std::io::stdout().lock();
        let printed =
            writeln!(stdout, "listening on {}", server.local_addr()).and_then(|_| stdout.flush());
        if let Err(err) = printed {
            eprintln!("peerdrop-signal: cannot write to stdout: {err}");
            return ExitCode::FAILURE;
        }
    }
    match server.run(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("peerdrop-signal: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Registers the Ctrl-C and (on Unix) SIGTERM handlers now and returns a future that completes
/// on either. Registering before the `listening on` line matters: a supervisor (or a test) that
/// sends SIGTERM as soon as it reads that line must get a drain, not the default kill.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    async move {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let term = async {
            match term {
                Ok(mut sig) => {
                    sig.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => tracing::info!("ctrl-c received"),
            _ = term => tracing::info!("SIGTERM received"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packaged unit configures the server through `/etc/peerdrop/signal.env` alone: every
    /// deployment setting must be read from its variable (lists comma-separated), and a flag
    /// given on the command line must still win over it.
    #[test]
    fn deployment_settings_come_from_the_environment_file() {
        for (key, value) in [
            ("PEERDROP_LISTEN", "127.0.0.1:9797"),
            ("PEERDROP_STUN_URL", "stun:a.test:3478,stun:b.test:3478"),
            ("PEERDROP_TURN_URL", "turn:a.test:3478?transport=udp"),
            ("PEERDROP_TURN_SECRET", "s3cret"),
            ("PEERDROP_TURN_TTL", "300"),
            ("PEERDROP_TRUSTED_PROXY", "127.0.0.1,::1"),
            ("PEERDROP_ALLOW_ORIGIN", "https://drop.test"),
            ("PEERDROP_REDIS", "redis://127.0.0.1:6390"),
            ("PEERDROP_PRESENCE_TTL", "7"),
            ("PEERDROP_SHUTDOWN_GRACE", "9"),
            ("PEERDROP_LOG_FORMAT", "json"),
        ] {
            std::env::set_var(key, value);
        }
        let args = Args::try_parse_from(["peerdrop-signal"]).unwrap();
        assert_eq!(args.log_format, LogFormat::Json);
        let config = args.into_config();
        assert_eq!(config.shutdown_grace, Duration::from_secs(9));
        assert_eq!(config.listen, "127.0.0.1:9797".parse().unwrap());
        assert_eq!(config.stun_urls, ["stun:a.test:3478", "stun:b.test:3478"]);
        assert_eq!(config.turn_urls, ["turn:a.test:3478?transport=udp"]);
        assert_eq!(config.turn_secret.as_deref(), Some("s3cret"));
        assert_eq!(config.turn_ttl, Duration::from_secs(300));
        let proxies: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        assert_eq!(config.trusted_proxies, proxies);
        assert_eq!(config.allowed_origins, ["https://drop.test"]);
        let cluster = config.cluster.expect("a cluster node");
        assert_eq!(cluster.redis_url, "redis://127.0.0.1:6390");
        assert_eq!(cluster.presence_ttl, Duration::from_secs(7));

        let flagged = Args::try_parse_from([
            "peerdrop-signal",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "text",
        ])
        .unwrap();
        assert_eq!(flagged.log_format, LogFormat::Text);
        assert_eq!(flagged.into_config().listen, "127.0.0.1:0".parse().unwrap());
    }
}
