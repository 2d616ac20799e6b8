//! `wss://` for real: Debian's nginx terminates TLS in front of `peerdrop-signal` on loopback,
//! as a deployment does (README, "Deploy a server"). The test CA and the server certificates
//! are made here (rcgen); the CA reaches the CLI through `SSL_CERT_FILE`, as a private
//! deployment's CA would. nginx runs as a child process with its own configuration and prefix
//! in a temporary folder, on ports picked free, and is stopped at the end even when a test
//! fails. Without nginx the tests fail, loudly: `scripts/deps.sh` installs it.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use peerdrop_core::ClientTls;
use peerdrop_proto::signal::{ClientMsg, DeviceKind, PeerInfo, ServerMsg};
use peerdrop_proto::PROTOCOL_VERSION;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// A test CA, a second CA nobody's server uses, and two server certificates signed by the
/// first: one for `localhost`/127.0.0.1, one for another name only.
struct Pki {
    dir: tempfile::TempDir,
    /// Trusting exactly the test CA, for the raw clients below.
    tls: ClientTls,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = certificate_authority("PeerDrop test CA");
        let stranger = certificate_authority("Some other CA");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("other-ca.pem"), stranger.pem()).unwrap();
        for (stem, names) in [
            (
                "localhost",
                vec!["localhost".to_string(), "127.0.0.1".to_string()],
            ),
            ("elsewhere", vec!["elsewhere.test".to_string()]),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, format!("{stem} (PeerDrop test)"));
            let cert = params.signed_by(&key, &ca).unwrap();
            std::fs::write(dir.path().join(format!("{stem}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.path().join(format!("{stem}.key")), key.serialize_pem()).unwrap();
        }
        Pki {
            tls: ClientTls::with_roots([ca.der().clone()]),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn certificate_authority(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// The nginx binary, or a loud failure saying how to get it.
fn nginx_bin() -> PathBuf {
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("nginx"));
    in_path
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|p| p.is_file())
        .expect("nginx is not installed: scripts/deps.sh installs Debian's nginx (apt-get install nginx-light)")
}

/// A TCP port nobody listens on right now (racy in theory; nginx is told at once).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx terminating TLS on two loopback ports in front of one `peerdrop-signal`:
/// `port` presents the `localhost` certificate, `mismatch_port` the `elsewhere.test` one.
struct Nginx {
    child: Child,
    prefix: tempfile::TempDir,
    port: u16,
    mismatch_port: u16,
}

impl Nginx {
    fn start(pki: &Pki, upstream: &str) -> Nginx {
        let bin = nginx_bin();
        let prefix = tempfile::tempdir().unwrap();
        let p = prefix.path();
        std::fs::create_dir_all(p.join("tmp")).unwrap();
        let (port, mismatch_port) = (free_port(), free_port());
        let site = |port: u16, stem: &str| {
            format!(
                "    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 300s;
        }}
    }}
",
                cert = pki.path(&format!("{stem}.pem")).display(),
                key = pki.path(&format!("{stem}.key")).display(),
            )
        };
        let tmp = p.join("tmp").display().to_string();
        let conf = format!(
            "daemon off;
master_process off;
worker_processes 1;
pid {pid};
error_log {log} info;
events {{ worker_connections 256; }}
http {{
    access_log {access};
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      close;
    }}
{a}{b}}}
",
            pid = p.join("nginx.pid").display(),
            log = p.join("error.log").display(),
            access = p.join("access.log").display(),
            a = site(port, "localhost"),
            b = site(mismatch_port, "elsewhere"),
        );
        std::fs::write(p.join("nginx.conf"), conf).unwrap();
        let child = Command::new(&bin)
            .arg("-p")
            .arg(p)
            .arg("-c")
            .arg(p.join("nginx.conf"))
            .arg("-e")
            .arg(p.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let mut nginx = Nginx {
            child,
            prefix,
            port,
            mismatch_port,
        };
        nginx.wait_listening();
        nginx
    }

    fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        for port in [self.port, self.mismatch_port] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                if let Some(status) = self.child.try_wait().unwrap() {
                    panic!("nginx exited ({status}):\n{}", self.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "nginx does not listen on {port}:\n{}",
                    self.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.prefix.path().join("error.log")).unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("wss://localhost:{}/ws", self.port)
    }

    fn mismatch_url(&self) -> String {
        format!("wss://localhost:{}/ws", self.mismatch_port)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT is nginx's graceful stop; a kill after 5 s in case it hangs.
        #[cfg(unix)]
        unsafe {
            // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
            libc::kill(self.child.id() as i32, libc::SIGQUIT);
        }
        if wait_timeout(&mut self.child, Duration::from_secs(5)).is_none() {
            eprintln!("nginx did not stop on SIGQUIT; killed");
        }
    }
}

/// Everything one test needs: the PKI, `peerdrop-signal` trusting the proxy, nginx.
struct Deployment {
    pki: Pki,
    signal: Signal,
    nginx: Nginx,
}

impl Deployment {
    fn start() -> Deployment {
        let pki = Pki::new();
        let signal = Signal::start_with(&["--trusted-proxy", "127.0.0.1"]);
        let nginx = Nginx::start(&pki, &signal.addr);
        Deployment { pki, signal, nginx }
    }
}

/// A `peerdrop` command with exactly the trust roots `ca_file` names (`None`: the OS store).
fn peerdrop_trusting(deployment: &Deployment, ca_file: Option<&Path>) -> Command {
    let mut cmd = peerdrop(&deployment.signal);
    cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
    if let Some(file) = ca_file {
        cmd.env("SSL_CERT_FILE", file);
    }
    cmd
}

/// Runs `peerdrop receive --server URL` that must be refused; returns its output.
fn refused_receive(deployment: &Deployment, url: &str, ca_file: Option<&Path>) -> Output {
    let dest = tempfile::tempdir().unwrap();
    let child = peerdrop_trusting(deployment, ca_file)
        .args(["receive", "--yes", "--server", url, "--dir"])
        .arg(dest.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn peerdrop receive");
    let out = finish_child(child, Duration::from_secs(30));
    assert!(
        !out.status.success(),
        "receive through {url} must fail: {out:?}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("code:"),
        "a refused server must not register anywhere else: {stdout}"
    );
    out
}

/// The one stderr line of a failed command.
fn one_line(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got: {stderr}");
    lines[0].to_string()
}

#[test]
fn a_transfer_through_nginx_over_wss_is_verified() {
    let deployment = Deployment::start();
    let ca = deployment.pki.path("ca.pem");
    let url = deployment.nginx.url();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("through-tls.bin");
    random_file(&file, 3 * 1024 * 1024 + 5, 14);
    let dest = tempfile::tempdir().unwrap();

    let env = [("SSL_CERT_FILE", ca.as_os_str())];
    let receiver = Receiver::spawn_with(
        &deployment.signal,
        dest.path(),
        &["--yes", "--server", &url],
        &env,
    );
    let sent = send_with(
        &deployment.signal,
        &receiver.code,
        &[&file],
        &["--json", "--server", &url],
        &env,
    );
    assert_success(&sent, "peerdrop send through nginx");
    let (ok, stderr) = receiver.finish(Duration::from_secs(60));
    assert!(ok, "receiver failed: {stderr}");
    assert_eq!(
        hash_tree(dest.path()),
        hash_tree(src.path()),
        "BLAKE3 of what arrived"
    );
    // Both really went through nginx: it logged their WebSocket upgrades (101).
    let access =
        std::fs::read_to_string(deployment.nginx.prefix.path().join("access.log")).unwrap();
    let upgrades = access
        .lines()
        .filter(|l| l.contains("GET /ws") && l.contains(" 101 "))
        .count();
    assert!(
        upgrades >= 2,
        "nginx saw {upgrades} WebSocket upgrades:\n{access}"
    );
}

#[test]
fn a_certificate_from_an_untrusted_authority_is_refused() {
    let deployment = Deployment::start();
    let url = deployment.nginx.url();
    let want = format!(
        "peerdrop: the server {url} presented a certificate this device does not trust (unknown issuer)"
    );
    // The OS store does not know the test CA …
    let out = refused_receive(&deployment, &url, None);
    assert_eq!(one_line(&out), want);
    // … nor does a store holding only some other CA; `send` says the same.
    let other = deployment.pki.path("other-ca.pem");
    let out = refused_receive(&deployment, &url, Some(&other));
    assert_eq!(one_line(&out), want);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("never-sent.bin");
    random_file(&file, 1000, 3);
    let child = peerdrop_trusting(&deployment, Some(&other))
        .args(["send", "--server", &url, "--to", "K7QM-2X"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish_child(child, Duration::from_secs(30));
    assert!(!out.status.success());
    assert_eq!(one_line(&out), want);
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let deployment = Deployment::start();
    let url = deployment.nginx.mismatch_url();
    let ca = deployment.pki.path("ca.pem");
    let out = refused_receive(&deployment, &url, Some(&ca));
    assert_eq!(
        one_line(&out),
        format!(
            "peerdrop: the server {url} presented a certificate for elsewhere.test, not for localhost (name mismatch)"
        )
    );
}

/// nginx forwards `X-Forwarded-For` and `peerdrop-signal` believes it (`--trusted-proxy`):
/// clients through one proxy are grouped by the address the proxy saw them come from, not all
/// as the proxy's. Raw WebSocket clients set the header a proxy in front would have set.
#[test]
fn the_proxy_forwards_client_addresses_and_the_server_believes_it() {
    let deployment = Deployment::start();
    let tls = deployment.pki.tls.clone();
    let url = deployment.nginx.url();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut a = Presence::join(&url, &tls, "a", "203.0.113.7").await;
        let b = Presence::join(&url, &tls, "b", "203.0.113.7").await;
        let mut c = Presence::join(&url, &tls, "c", "198.51.100.9").await;
        let seen_by_a = a.nearby_until(|peers| peers.len() == 1).await;
        assert_eq!(seen_by_a[0].name, "b", "same forwarded address, same group");
        let seen_by_c = c.nearby_until(|_| true).await;
        assert!(
            seen_by_c.is_empty(),
            "another forwarded address sees nobody: {seen_by_c:?}"
        );
        drop(b);
    });
}

type Wss =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One raw signaling client, for looking at what the server groups.
struct Presence {
    ws: Wss,
    nearby: Vec<PeerInfo>,
}

impl Presence {
    async fn join(url: &str, tls: &ClientTls, name: &str, forwarded_for: &str) -> Presence {
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("x-forwarded-for", forwarded_for.parse().unwrap());
        let connector = tokio_tungstenite::Connector::Rustls(tls.config());
        let (mut ws, _) =
            tokio_tungstenite::connect_async_tls_with_config(request, None, false, Some(connector))
                .await
                .expect("WebSocket through nginx");
        let hello = ClientMsg::Hello {
            v: PROTOCOL_VERSION,
            name: name.into(),
            kind: DeviceKind::Cli,
            fingerprint: None,
            max_packet: None,
        };
        ws.send(Message::text(hello.to_json())).await.unwrap();
        let mut presence = Presence {
            ws,
            nearby: Vec::new(),
        };
        match presence.next().await {
            ServerMsg::Welcome { .. } => {}
            other => panic!("expected welcome, got {other:?}"),
        }
        presence
    }

    async fn next(&mut self) -> ServerMsg {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("server message in time")
                .expect("connection open")
                .expect("frame");
            if let Message::Text(text) = frame {
                return ServerMsg::from_json(&text).unwrap();
            }
        }
    }

    /// Reads `nearby` lists until one satisfies `done` (the first list counts), or fails.
    async fn nearby_until(&mut self, done: impl Fn(&[PeerInfo]) -> bool) -> Vec<PeerInfo> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut lists = 0;
        loop {
            if lists > 0 && done(&self.nearby) {
                return self.nearby.clone();
            }
            assert!(
                Instant::now() < deadline,
                "nearby never became what was expected: {:?}",
                self.nearby
            );
            if let ServerMsg::Nearby { peers } = self.next().await {
                self.nearby = peers;
                lists += 1;
            }
        }
    }
}
