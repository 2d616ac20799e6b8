//! The `peerdrop-signal` binary: the `listening on <addr>` contract, flags, env, SIGTERM.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use peerdrop_proto::signal::{ClientMsg, DeviceKind, ServerMsg};
use peerdrop_proto::PROTOCOL_VERSION;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use futures_util::{SinkExt, StreamExt};

const BIN: &str = env!("CARGO_BIN_EXE_peerdrop-signal");

/// Kills the child if a test fails half-way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary and reads the address from its first stdout line.
fn spawn(
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Server, SocketAddr, BufReader<std::process::ChildStdout>) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("PEERDROP_TURN_SECRET")
        .env_remove("PEERDROP_ALLOW_ORIGIN")
        .env("RUST_LOG", "warn");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).expect("reads first line");
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|rest| rest.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    (Server(child), addr, stdout)
}

fn wait_for_exit(server: &mut Server, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "process did not exit in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn prints_listening_line_serves_welcome_and_stops_on_sigterm() {
    let (mut server, addr, mut stdout) = spawn(
        &[
            "--listen",
            "127.0.0.1:0",
            "--turn-url",
            "turn:198.18.0.1:3478",
            "--turn-ttl",
            "120",
        ],
        &[("PEERDROP_TURN_SECRET", "env-secret")],
    );
    assert!(addr.ip().is_loopback() && addr.port() != 0);

    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp)
        .await
        .unwrap();
    let hello = ClientMsg::Hello {
        v: PROTOCOL_VERSION,
        name: "cli".into(),
        kind: DeviceKind::Cli,
        fingerprint: None,
        max_packet: None,
    };
    ws.send(Message::text(hello.to_json())).await.unwrap();
    let text = tokio::time::timeout(common::STEP, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let ServerMsg::Welcome {
        id, ice_servers, ..
    } = ServerMsg::from_json(text.to_text().unwrap()).unwrap()
    else {
        panic!("expected welcome, got {text:?}");
    };
    assert_eq!(
        ice_servers[0].urls,
        vec!["stun:198.18.0.1:3478".to_string()]
    );
    let username = ice_servers[1].username.clone().unwrap();
    assert!(username.ends_with(&format!(":{id}")), "{username}");
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"env-secret").unwrap();
    mac.update(username.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(
        ice_servers[1].credential.as_deref(),
        Some(expected.as_str()),
        "secret taken from the environment"
    );

    let status = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for_exit(&mut server, Duration::from_secs(5));
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "", "exactly one line on stdout");
}

#[test]
fn invalid_limits_fail_with_one_line_reason() {
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--messages-per-sec", "0"])
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        output.stdout.is_empty(),
        "nothing is listening, so no listening line"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("messages_per_sec"), "{stderr}");
}

#[test]
fn help_lists_the_contract_flags() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--listen",
        "--turn-secret",
        "--turn-url",
        "--stun-url",
        "--turn-ttl",
        "--trusted-proxy",
        "--idle-timeout",
        "--max-connections-per-ip",
        "--resolve-per-minute",
        "--allow-origin",
        "--turn-credentials-per-ip",
        "--relay-bytes-per-sec-per-ip",
        "--relay-frames-per-sec",
        "--redis",
        "--presence-ttl",
        "--shutdown-grace",
        "--log-format",
    ] {
        assert!(help.contains(flag), "missing {flag} in\n{help}");
    }
}

/// Starts the binary with `log_env` and `args`, sends it SIGTERM once it listens, and returns
/// its stderr lines.
fn log_lines(args: &[&str], log_env: &[(&str, &str)]) -> Vec<String> {
    let mut cmd = Command::new(BIN);
    cmd.args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("PEERDROP_LOG_FORMAT");
    for (k, v) in log_env {
        cmd.env(k, v);
    }
    let mut child = Server(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on "), "{line:?}");
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = wait_for_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr.lines().map(str::to_string).collect()
}

#[test]
fn json_logs_are_one_object_per_line() {
    for (args, env) in [
        (&["--log-format", "json"][..], &[][..]),
        (&[][..], &[("PEERDROP_LOG_FORMAT", "json")][..]),
    ] {
        let lines = log_lines(args, env);
        assert!(lines.len() >= 2, "{lines:?}");
        let events: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
            .collect();
        let listening = events
            .iter()
            .find(|e| e["fields"]["message"] == "signal server listening")
            .unwrap_or_else(|| panic!("no listening event in {lines:?}"));
        assert_eq!(listening["level"], "INFO");
        assert!(listening["fields"]["local_addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")));
        assert!(listening["timestamp"].is_string());
        assert!(events
            .iter()
            .any(|e| e["fields"]["message"] == "SIGTERM received"));
    }
    // Text stays the default: no line is JSON.
    let text = log_lines(&[], &[]);
    assert!(text.iter().any(|l| l.contains("signal server listening")));
    assert!(text
        .iter()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_err()));
}

/// The upgrade a page at `origin` sends to `addr`: `Ok` if accepted, else the HTTP status.
async fn upgrade_with_origin(addr: SocketAddr, origin: &str) -> Result<(), u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", origin.parse().unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    match tokio_tungstenite::client_async(request, tcp).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn allowed_origins_come_from_flags_and_the_environment() {
    let (_server, addr, _stdout) = spawn(
        &[
            "--listen",
            "127.0.0.1:0",
            "--allow-origin",
            "https://flag.example",
        ],
        &[(
            "PEERDROP_ALLOW_ORIGIN",
            "https://env-one.example,https://env-two.example",
        )],
    );
    // The flag wins over the environment (clap: command line first).
    assert_eq!(
        upgrade_with_origin(addr, "https://flag.example").await,
        Ok(())
    );
    assert_eq!(
        upgrade_with_origin(addr, "https://env-two.example").await,
        Err(403)
    );
    assert_eq!(
        upgrade_with_origin(addr, "https://evil.example").await,
        Err(403)
    );

    let (_server, addr, _stdout) = spawn(
        &["--listen", "127.0.0.1:0"],
        &[(
            "PEERDROP_ALLOW_ORIGIN",
            "https://env-one.example,https://env-two.example",
        )],
    );
    assert_eq!(
        upgrade_with_origin(addr, "https://env-one.example").await,
        Ok(())
    );
    assert_eq!(
        upgrade_with_origin(addr, "https://env-two.example").await,
        Ok(())
    );
    assert_eq!(
        upgrade_with_origin(addr, "https://evil.example").await,
        Err(403)
    );
}

#[test]
fn a_malformed_allowed_origin_fails_at_start_up() {
    let output = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--allow-origin", "example.org"])
        .env_remove("PEERDROP_ALLOW_ORIGIN")
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("example.org"), "{stderr}");
}
