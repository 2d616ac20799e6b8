//! The path scenarios: build a bed, start coturn and the signaling server, run a real
//! `peerdrop receive` in one namespace and a real `peerdrop send` in another, and report which
//! path was used, how fast it went and whether the BLAKE3 hashes match.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::bed::{ns, Home, Layout, Topology};
use crate::procs::{self, Coturn, Lines, Signal};
use crate::proxy::RecordingProxy;
use crate::report::Row;

/// One scenario.
#[derive(Clone, Debug)]
pub struct Case {
    /// Name in the table (and of the test).
    pub name: &'static str,
    /// The homes.
    pub layout: Layout,
    /// Sender's namespace.
    pub from: &'static str,
    /// Receiver's namespace.
    pub to: &'static str,
    /// Size of the file sent, in MiB.
    pub mib: usize,
    /// The path both sides must report (`direct`, `relayed`, `fallback`).
    pub expect_path: &'static str,
    /// Candidate types the selected pair must (not) have, checked on the sender's log.
    pub expect_pair: PairCheck,
    /// Route the peers' signaling through a recording proxy and prove the server saw only
    /// ciphertext of the file.
    pub record_server: bool,
    /// Shaped link rate in Mbit/s, for the utilisation column.
    pub link_mbit: Option<u32>,
}

/// What the selected ICE candidate pair must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PairCheck {
    /// Anything (or no pair: fallback).
    Any,
    /// Same LAN: a local host candidate and the peer's host address (announced as `host`, or
    /// learnt from its first check as `prflx` when that check beat the candidate's signaling).
    Lan,
    /// Not host-host and no relay: at least one side reflexive (srflx/prflx).
    Reflexive,
    /// At least one relay candidate.
    Relay,
}

/// Every path case, in the order the table lists them.
pub fn all() -> Vec<Case> {
    vec![
        Case {
            name: "same_lan",
            layout: Layout {
                home1: Home::cone(),
                home2: Home::cone(),
            },
            from: ns::H1,
            to: ns::H1B,
            mib: 48,
            expect_path: "direct",
            expect_pair: PairCheck::Lan,
            record_server: false,
            link_mbit: None,
        },
        Case {
            name: "cone_nats",
            layout: Layout {
                home1: Home::cone(),
                home2: Home::cone(),
            },
            from: ns::H1,
            to: ns::H2,
            mib: 48,
            expect_path: "direct",
            expect_pair: PairCheck::Reflexive,
            record_server: false,
            link_mbit: None,
        },
        Case {
            name: "symmetric_nats",
            layout: Layout {
                home1: Home::symmetric(),
                home2: Home::symmetric(),
            },
            from: ns::H1,
            to: ns::H2,
            mib: 24,
            expect_path: "relayed",
            expect_pair: PairCheck::Relay,
            record_server: false,
            link_mbit: None,
        },
        Case {
            name: "udp_blocked",
            layout: Layout {
                home1: Home::cone(),
                home2: Home {
                    block_udp: true,
                    ..Home::cone()
                },
            },
            from: ns::H1,
            to: ns::H2,
            mib: 16,
            expect_path: "fallback",
            expect_pair: PairCheck::Any,
            record_server: true,
            link_mbit: None,
        },
        Case {
            name: "shaped_50mbit",
            layout: Layout {
                home1: Home {
                    shape_mbit: Some(50),
                    ..Home::cone()
                },
                home2: Home {
                    shape_mbit: Some(50),
                    ..Home::cone()
                },
            },
            from: ns::H1,
            to: ns::H2,
            mib: 32,
            expect_path: "direct",
            expect_pair: PairCheck::Reflexive,
            record_server: false,
            link_mbit: Some(50),
        },
    ]
}

/// Finds a case by name.
pub fn by_name(name: &str) -> Case {
    all()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

fn event_value(lines: &[String], event: &str) -> Option<serde_json::Value> {
    let tag = format!(r#""event":"{event}""#);
    lines
        .iter()
        .filter(|l| l.contains(&tag))
        .find_map(|l| serde_json::from_str(l).ok())
}

fn path_of(lines: &[String]) -> Option<String> {
    event_value(lines, "path").and_then(|v| v["path"].as_str().map(str::to_string))
}

/// `local=srflx remote=prflx` from the core's "selected candidate pair" log line.
fn pair_of(stderr: &str) -> Option<(String, String)> {
    let line = stderr
        .lines()
        .find(|l| l.contains("selected candidate pair"))?;
    let field = |key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(|v| v.trim_matches('"').to_string())
    };
    Some((field("local=")?, field("remote=")?))
}

/// Runs one case end to end; `Err` carries everything needed to see why it failed.
pub fn run(case: &Case) -> Result<Row, String> {
    procs::binaries();
    let started = Instant::now();
    let mut topo = Topology::build(case.layout);
    let work = tempfile::Builder::new()
        .prefix("pdnb-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let t_bed = Instant::now();
    let coturn = Coturn::start(work.path(), &procs::random_secret());
    let signal = Signal::start(Some(&coturn));
    let proxy = case
        .record_server
        .then(|| RecordingProxy::start(ns::INET, &signal.addr));
    let server_url = match &proxy {
        Some(p) => format!("ws://{}/ws", p.addr),
        None => signal.url(),
    };

    let src_dir = work.path().join("src");
    let dest = work.path().join("dest");
    std::fs::create_dir_all(&src_dir).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&dest).map_err(|e| e.to_string())?;
    let file = src_dir.join("payload.bin");
    procs::random_file(&file, case.mib << 20, 0x5eed ^ case.mib as u64);

    eprintln!(
        "netbed: {}: bed and servers up in {:.1}s",
        case.name,
        t_bed.elapsed().as_secs_f64()
    );
    let result = transfer(case, &server_url, &file, &dest);
    let mut row = match result {
        Ok(row) => row,
        Err(e) => {
            let turn_log = std::fs::read_to_string(&coturn.log).unwrap_or_default();
            let tail: Vec<&str> = turn_log.lines().rev().take(15).collect();
            return Err(format!(
                "{e}\n--- coturn log (last lines, newest first) ---\n{}",
                tail.join("\n")
            ));
        }
    };
    if let Some(proxy) = proxy {
        let seen = proxy.finish();
        let leaks = crate::proxy::plaintext_leaks(&seen, &std::fs::read(&file).unwrap());
        row.server_saw = Some(seen.len());
        if leaks > 0 {
            return Err(format!(
                "the signaling server saw file plaintext: {leaks} of the sampled windows \
                 appear in the {} bytes it relayed",
                seen.len()
            ));
        }
        if row.path == "fallback" && seen.len() < case.mib << 20 {
            return Err(format!(
                "fallback path claimed but the server relayed only {} bytes",
                seen.len()
            ));
        }
    }
    drop(signal);
    drop(coturn);
    topo.teardown();
    row.wall_secs = started.elapsed().as_secs_f64();
    Ok(row)
}

fn transfer(case: &Case, server_url: &str, file: &Path, dest: &Path) -> Result<Row, String> {
    let mut receiver = procs::peerdrop(case.to, server_url, &[])
        .args(["receive", "--json", "--yes", "--name", "receiver", "--dir"])
        .arg(dest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn receiver: {e}"))?;
    let mut rx_lines = Lines::new(receiver.stdout.take().expect("stdout"));
    let rx_err = procs::slurp(receiver.stderr.take().expect("stderr"));
    let mut receiver = procs::Guard(receiver);
    let code_line = rx_lines
        .wait_for(r#""event":"code""#, Duration::from_secs(20))
        .ok_or_else(|| format!("receiver printed no code: {:?}", rx_lines.seen))?;
    let code: serde_json::Value = serde_json::from_str(&code_line).map_err(|e| e.to_string())?;
    let code = code["code"].as_str().unwrap_or_default().to_string();

    let mut sender = procs::peerdrop(case.from, server_url, &[])
        .args(["send", "--json", "--name", "sender", "--to", &code])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn sender: {e}"))?;
    let mut tx_lines = Lines::new(sender.stdout.take().expect("stdout"));
    let tx_err = procs::slurp(sender.stderr.take().expect("stderr"));
    let t_send = Instant::now();
    let sent_status = procs::wait_timeout(&mut sender, Duration::from_secs(150));
    let send_secs = t_send.elapsed().as_secs_f64();
    tx_lines.drain(Duration::from_secs(2));
    let tx_stderr = tx_err.join().unwrap_or_default();
    let t_rx = Instant::now();
    let rx_status = procs::wait_timeout(&mut receiver.0, Duration::from_secs(30));
    eprintln!(
        "netbed: {}: sender ran {send_secs:.1}s, receiver exited {:.1}s later",
        case.name,
        t_rx.elapsed().as_secs_f64()
    );
    rx_lines.drain(Duration::from_secs(2));
    let rx_stderr = rx_err.join().unwrap_or_default();
    let context = || {
        format!(
            "\n--- sender stdout ---\n{}\n--- sender stderr ---\n{}\n--- receiver stdout ---\n{}\n--- receiver stderr ---\n{}",
            tx_lines.seen.join("\n"),
            tx_stderr.trim(),
            rx_lines.seen.join("\n"),
            rx_stderr.trim()
        )
    };
    if !sent_status.is_some_and(|s| s.success()) {
        return Err(format!("sender failed ({sent_status:?}){}", context()));
    }
    if !rx_status.is_some_and(|s| s.success()) {
        return Err(format!("receiver failed ({rx_status:?}){}", context()));
    }
    let sender_path = path_of(&tx_lines.seen);
    let receiver_path = path_of(&rx_lines.seen);
    let path = sender_path.clone().unwrap_or_else(|| "?".into());
    if sender_path.as_deref() != Some(case.expect_path)
        || receiver_path.as_deref() != Some(case.expect_path)
    {
        return Err(format!(
            "expected path {} on both sides, sender said {sender_path:?}, receiver {receiver_path:?}{}",
            case.expect_path,
            context()
        ));
    }
    if case.expect_path == "fallback" {
        // Both sides print the check code of their Noise handshake; equal = no one in between.
        let code = |stderr: &str| {
            stderr
                .split("same check code ")
                .nth(1)
                .map(|rest| rest.chars().take(9).collect::<String>())
        };
        let (tx_code, rx_code) = (code(&tx_stderr), code(&rx_stderr));
        if tx_code.is_none() || tx_code != rx_code {
            return Err(format!(
                "check codes differ or missing: sender {tx_code:?}, receiver {rx_code:?}{}",
                context()
            ));
        }
    }
    let pair = pair_of(&tx_stderr);
    let pair_ok = match (case.expect_pair, &pair) {
        (PairCheck::Any, _) => true,
        (PairCheck::Lan, Some((l, r))) => l == "host" && (r == "host" || r == "prflx"),
        (PairCheck::Reflexive, Some((l, r))) => {
            !(l == "host" && r == "host") && l != "relay" && r != "relay"
        }
        (PairCheck::Relay, Some((l, r))) => l == "relay" || r == "relay",
        (_, None) => false,
    };
    if !pair_ok {
        return Err(format!(
            "selected candidate pair {pair:?} does not match {:?}{}",
            case.expect_pair,
            context()
        ));
    }
    let done =
        event_value(&tx_lines.seen, "done").ok_or_else(|| format!("no done event{}", context()))?;
    let bytes = done["bytes"].as_f64().unwrap_or(0.0);
    let seconds = done["seconds"].as_f64().unwrap_or(0.0);
    let got = dest.join("payload.bin");
    let hash_ok = procs::blake3_file(file) == procs::blake3_file(&got);
    if !hash_ok {
        return Err(format!(
            "BLAKE3 mismatch for {}{}",
            got.display(),
            context()
        ));
    }
    // A transfer that worked logs nothing the person must act on: the WebRTC stack's expected
    // lines (TURN refusing private peers, the peer's closing abort) stay off the terminal.
    let errors: Vec<&str> = tx_stderr
        .lines()
        .chain(rx_stderr.lines())
        .filter(|line| line.contains(" ERROR "))
        .collect();
    if !errors.is_empty() {
        return Err(format!(
            "a successful transfer logged ERROR lines:\n{}{}",
            errors.join("\n"),
            context()
        ));
    }
    let mb_per_s = if seconds > 0.0 {
        bytes / seconds / 1e6
    } else {
        0.0
    };
    Ok(Row {
        case: case.name.to_string(),
        path,
        pair: pair.map(|(l, r)| format!("{l}/{r}")),
        mib: case.mib,
        mb_per_s,
        hash_ok,
        utilization: case.link_mbit.map(|mbit| mb_per_s * 8.0 / f64::from(mbit)),
        server_saw: None,
        wall_secs: 0.0,
    })
}
