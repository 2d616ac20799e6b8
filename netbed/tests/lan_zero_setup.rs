//! Two devices, zero setup: hosts on one LAN with **no signaling server anywhere** find each
//! other by mDNS and transfer device to device. Three hosts on one bridge ([`LanBed`]):
//!
//! - with a default route: `peers` on B lists A's receiver by name within 3 s; B sends to A
//!   by code and by name; hashes verified;
//! - with no default route at all (where WebRTC's own mDNS socket fails with ENODEV): the same;
//! - C drops all multicast: `peers` says so clearly, and sending by typed address works;
//! - a receiver with a server *and* the LAN takes a transfer from each: by name over the LAN,
//!   and by code through the server from C, whose multicast is dropped.
//!
//! `cargo test -p peerdrop-netbed --test lan_zero_setup`; needs root and iproute2/iptables.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use peerdrop_netbed::lan_bed::{lan_ns, LanBed, LanLayout};
use peerdrop_netbed::procs::{
    self, blake3_file, peerdrop_lan, random_file, wait_timeout, Guard, Lines,
};

/// What the requirement allows for `peers` to list a receiver (process start included).
const LIST_WITHIN: Duration = Duration::from_secs(3);

fn main() {
    let mut args = Arguments::from_args();
    if !peerdrop_netbed::ready_or_fail() {
        return;
    }
    args.test_threads = Some(1);
    let trials = vec![
        Trial::test(
            "lan_with_default_route_lists_and_sends_by_code_and_name",
            || {
                lists_and_sends(LanLayout {
                    default_route: true,
                })
            },
        ),
        Trial::test(
            "lan_without_default_route_lists_and_sends_by_code_and_name",
            || {
                lists_and_sends(LanLayout {
                    default_route: false,
                })
            },
        ),
        Trial::test(
            "blocked_multicast_is_explained_and_a_typed_address_works",
            blocked_multicast,
        ),
        Trial::test(
            "a_receiver_on_lan_and_server_is_reached_both_ways",
            lan_and_server,
        ),
    ];
    // Build the binaries before any bed exists (a build inside a trial would hold the lock).
    procs::binaries();
    libtest_mimic::run(&args, trials).exit();
}

/// A `peerdrop receive --keep --yes --json` on `host`, with its code and typed addresses.
struct Receiver {
    child: Guard,
    lines: Lines,
    code: String,
    addresses: Vec<String>,
    _home: tempfile::TempDir,
}

impl Receiver {
    fn start(host: &str, name: &str, dir: &Path) -> Result<Receiver, Failed> {
        Self::start_with(host, name, dir, &[])
    }

    fn start_with(host: &str, name: &str, dir: &Path, extra: &[&str]) -> Result<Receiver, Failed> {
        let home = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut child = peerdrop_lan(host, home.path(), &[])
            .args([
                "receive", "--keep", "--yes", "--json", "--name", name, "--dir",
            ])
            .arg(dir)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn receiver: {e}"))?;
        let mut lines = Lines::new(child.stdout.take().expect("stdout"));
        let child = Guard(child);
        let code_line = lines
            .wait_for("\"event\":\"code\"", Duration::from_secs(20))
            .ok_or("the receiver never printed its code")?;
        let code = json(&code_line)["code"]
            .as_str()
            .ok_or("code event without code")?
            .to_string();
        let lan_line = lines
            .wait_for("\"event\":\"lan\"", Duration::from_secs(5))
            .ok_or("the receiver never printed its LAN addresses")?;
        let addresses = json(&lan_line)["addresses"]
            .as_array()
            .ok_or("lan event without addresses")?
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        Ok(Receiver {
            child,
            lines,
            code,
            addresses,
            _home: home,
        })
    }

    /// Waits until the receiver reports its next finished transfer (`file` is for the message).
    fn wait_done(&mut self, file: &str) -> Result<(), Failed> {
        match self
            .lines
            .wait_for("\"event\":\"done\"", Duration::from_secs(60))
        {
            Some(_) => Ok(()),
            None => Err(format!(
                "the receiver did not finish {file}; saw {:?}",
                self.lines.seen
            )
            .into()),
        }
    }
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or(serde_json::Value::Null)
}

/// Runs a `peerdrop` command on `host` to completion; returns (success, stdout, stderr, time).
fn run(host: &str, home: &Path, args: &[&str]) -> Result<(bool, String, String, Duration), Failed> {
    let started = Instant::now();
    let mut child: Child = peerdrop_lan(host, home, &[])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn peerdrop {args:?}: {e}"))?;
    let out = procs::slurp(child.stdout.take().expect("stdout"));
    let err = procs::slurp(child.stderr.take().expect("stderr"));
    let status = wait_timeout(&mut child, Duration::from_secs(90)).ok_or_else(|| {
        let _ = child.kill();
        format!("peerdrop {args:?} did not finish")
    })?;
    let elapsed = started.elapsed();
    Ok((
        status.success(),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
        elapsed,
    ))
}

/// Sends `file` from `host` to `to`; fails with the sender's stderr.
fn send(host: &str, home: &Path, to: &str, file: &Path) -> Result<(), Failed> {
    let file = file.to_str().ok_or("non-UTF-8 path")?;
    let (ok, _, stderr, _) = run(host, home, &["send", "--to", to, file])?;
    if !ok {
        return Err(format!("send --to {to} failed: {stderr}").into());
    }
    Ok(())
}

fn same_file(sent: &Path, dir: &Path) -> Result<(), Failed> {
    let got = dir.join(sent.file_name().expect("file name"));
    let (want, have) = (blake3_file(sent), blake3_file(&got));
    if want != have {
        return Err(format!("{} arrived with BLAKE3 {have}, sent {want}", got.display()).into());
    }
    Ok(())
}

fn lists_and_sends(layout: LanLayout) -> Result<(), Failed> {
    let _bed = LanBed::build(layout);
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).map_err(|e| e.to_string())?;
    let mut receiver = Receiver::start(lan_ns::A, "Laptop-A", &inbox)?;
    let sender_home = tempfile::tempdir().map_err(|e| e.to_string())?;

    // `peers` on B lists A by name, with A's code, via the LAN, within 3 s.
    let (ok, stdout, stderr, took) = run(lan_ns::B, sender_home.path(), &["peers", "--json"])?;
    if !ok {
        return Err(format!("peers failed: {stderr}").into());
    }
    let listed: Vec<serde_json::Value> = stdout.lines().map(json).collect();
    let found = listed.iter().any(|d| {
        d["name"] == "Laptop-A" && d["via"] == "lan" && d["code"] == receiver.code.as_str()
    });
    let found_after = stderr
        .lines()
        .find(|l| l.contains("found a device on the LAN"))
        .and_then(|l| l.split("after_ms=").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or("?");
    eprintln!(
        "discovery: B heard Laptop-A {found_after} ms after starting to browse; `peers` took {:.2} s in all; listed {listed:?}",
        took.as_secs_f64()
    );
    if !found {
        return Err(format!(
            "peers on B did not list Laptop-A ({}): {stdout} {stderr}",
            receiver.code
        )
        .into());
    }
    if took > LIST_WITHIN {
        return Err(format!("peers took {took:?}, more than {LIST_WITHIN:?}").into());
    }

    // By code, then by name.
    let by_code = work.path().join("by-code.bin");
    random_file(&by_code, 3 * 1024 * 1024 + 17, 1);
    send(
        lan_ns::B,
        sender_home.path(),
        &receiver.code.to_lowercase(),
        &by_code,
    )?;
    receiver.wait_done("by-code.bin")?;
    same_file(&by_code, &inbox)?;

    let by_name = work.path().join("by-name.bin");
    random_file(&by_name, 1024 * 1024 + 5, 2);
    send(lan_ns::B, sender_home.path(), "laptop-a", &by_name)?;
    receiver.wait_done("by-name.bin")?;
    same_file(&by_name, &inbox)?;

    // A name nobody has is a clear error, not a hang.
    let (ok, _, stderr, _) = run(
        lan_ns::B,
        sender_home.path(),
        &["send", "--to", "Nobody-Here", by_name.to_str().unwrap()],
    )?;
    if ok || !stderr.contains("no device called \"Nobody-Here\" was found on this network") {
        return Err(format!("sending to an unknown name: ok={ok}, {stderr}").into());
    }
    drop(receiver.child);
    Ok(())
}

fn blocked_multicast() -> Result<(), Failed> {
    let bed = LanBed::build(LanLayout {
        default_route: true,
    });
    bed.block_multicast(lan_ns::C);
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).map_err(|e| e.to_string())?;
    let mut receiver = Receiver::start(lan_ns::A, "Laptop-A", &inbox)?;
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;

    let (ok, stdout, stderr, _) = run(lan_ns::C, home.path(), &["peers"])?;
    if !ok || !stdout.trim().is_empty() || !stderr.contains("multicast (mDNS) is blocked") {
        return Err(format!("peers on C: ok={ok} stdout={stdout:?} stderr={stderr:?}").into());
    }
    let file = work.path().join("typed.bin");
    random_file(&file, 2 * 1024 * 1024 + 3, 3);
    let path = file.to_str().ok_or("non-UTF-8 path")?;
    let (ok, _, stderr, _) = run(
        lan_ns::C,
        home.path(),
        &["send", "--to", &receiver.code, path],
    )?;
    if ok || !stderr.contains("multicast (mDNS) is blocked") || !stderr.contains("HOST:PORT") {
        return Err(format!("send by code on C: ok={ok} {stderr}").into());
    }

    let address = receiver
        .addresses
        .iter()
        .find(|a| a.starts_with(peerdrop_netbed::lan_bed::lan_ip(lan_ns::A)))
        .cloned()
        .ok_or_else(|| format!("A printed no address on the LAN: {:?}", receiver.addresses))?;
    send(lan_ns::C, home.path(), &address, &file)?;
    receiver.wait_done("typed.bin")?;
    same_file(&file, &inbox)?;
    drop(bed);
    Ok(())
}

fn lan_and_server() -> Result<(), Failed> {
    let bed = LanBed::build(LanLayout {
        default_route: true,
    });
    bed.block_multicast(lan_ns::C);
    let server = procs::Signal::start_in(
        lan_ns::SWITCH,
        peerdrop_netbed::lan_bed::LAN_ROUTER_IP,
        None,
    );
    let url = server.url();
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let inbox = work.path().join("inbox");
    std::fs::create_dir_all(&inbox).map_err(|e| e.to_string())?;
    let mut receiver = Receiver::start_with(lan_ns::A, "Laptop-A", &inbox, &["--server", &url])?;

    let lan_file = work.path().join("over-the-lan.bin");
    random_file(&lan_file, 1024 * 1024 + 1, 4);
    let b_home = tempfile::tempdir().map_err(|e| e.to_string())?;
    send(lan_ns::B, b_home.path(), "Laptop-A", &lan_file)?;
    receiver.wait_done("over-the-lan.bin")?;
    same_file(&lan_file, &inbox)?;

    let server_file = work.path().join("through-the-server.bin");
    random_file(&server_file, 1024 * 1024 + 2, 5);
    let c_home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = server_file.to_str().ok_or("non-UTF-8 path")?;
    let (ok, _, stderr, _) = run(
        lan_ns::C,
        c_home.path(),
        &["send", "--server", &url, "--to", &receiver.code, path],
    )?;
    if !ok {
        return Err(format!("send through the server from C failed: {stderr}").into());
    }
    receiver.wait_done("through-the-server.bin")?;
    same_file(&server_file, &inbox)?;
    drop(bed);
    Ok(())
}
