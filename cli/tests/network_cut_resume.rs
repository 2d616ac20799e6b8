//! Network cuts in the namespace test bed (`peerdrop-netbed`, needs root): two hosts on one
//! home LAN, the signaling server on the "internet". Mid-transfer the receiver's switch port
//! goes down (`ip link set h1b down` in the router namespace — the cable is pulled), then up
//! again. The transfer must complete with the right BLAKE3 and re-send at most 5% of the file.
//!
//! - 10 s cut: ICE notices (disconnected after ~5 s) but the path comes back before it gives
//!   up; SCTP retransmits what was in flight.
//! - 35 s cut: longer than ICE's failure timeout, so the connection is declared failed; the
//!   sender connects again (same receiver certificate required) and resumes from the ranges
//!   the receiver holds.
//!
//! Measured and printed: stall time, time from link-up to bytes flowing again, bytes re-sent.

mod common;

use common::{json_events, test_home};
use peerdrop_netbed::bed::{self, ns, Home, Layout, Topology};
use peerdrop_netbed::procs::{self, Guard, Lines, Signal};
use std::process::Stdio;
use std::time::{Duration, Instant};

const SIZE: usize = 256 * 1024 * 1024;

struct Measured {
    resent: u64,
    stalled: Duration,
    back_after_up: Duration,
    reconnected: bool,
}

fn cut_mid_transfer(cut: Duration) -> Measured {
    let _topo = Topology::build(Layout {
        home1: Home::cone(),
        home2: Home::cone(),
    });
    let signal = Signal::start(None);
    let url = format!("ws://{}/ws", signal.addr);
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("video.mkv");
    procs::random_file(&file, SIZE, 99);
    let want = procs::blake3_file(&file);
    let dest = work.path().join("inbox");
    let (rx_home, tx_home) = (test_home(), test_home());

    let mut receiver = procs::peerdrop(
        ns::H1B,
        &url,
        &[("PEERDROP_HOME", rx_home.to_str().unwrap())],
    )
    .args(["receive", "--json", "--yes", "--name", "laptop", "--dir"])
    .arg(&dest)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn receiver");
    let mut rx_lines = Lines::new(receiver.stdout.take().unwrap());
    let rx_err = procs::slurp(receiver.stderr.take().unwrap());
    let mut receiver = Guard(receiver);
    let code_line = rx_lines
        .wait_for(r#""event":"code""#, Duration::from_secs(20))
        .expect("receiver code");
    let code = serde_json::from_str::<serde_json::Value>(&code_line).unwrap()["code"]
        .as_str()
        .unwrap()
        .to_string();

    let mut sender = procs::peerdrop(
        ns::H1,
        &url,
        &[
            ("PEERDROP_HOME", tx_home.to_str().unwrap()),
            (
                "PEERDROP_LOG",
                "warn,peerdrop::stats=info,peerdrop_core=info",
            ),
        ],
    )
    .args(["send", "--json", "--name", "desktop", "--to", &code])
    .arg(&file)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn sender");
    let tx_out = procs::slurp(sender.stdout.take().unwrap());
    let tx_err = procs::slurp(sender.stderr.take().unwrap());
    let mut sender = Guard(sender);

    // Cut once about a quarter has arrived.
    let progress = |line: &str| -> u64 {
        serde_json::from_str::<serde_json::Value>(line).unwrap()["done"]
            .as_u64()
            .unwrap()
    };
    let at_cut = loop {
        let line = rx_lines
            .wait_for(r#""event":"progress""#, Duration::from_secs(60))
            .expect("progress before the cut");
        let done = progress(&line);
        if done >= SIZE as u64 / 4 {
            break done;
        }
    };
    let port = "h1b"; // the receiver's port on its home router's switch
    bed::run_in(ns::R1, "ip", &["link", "set", port, "down"]);
    let down_at = Instant::now();
    eprintln!(
        "cut at {:.0}% for {} s",
        at_cut as f64 * 100.0 / SIZE as f64,
        cut.as_secs()
    );
    std::thread::sleep(cut);
    bed::run_in(ns::R1, "ip", &["link", "set", port, "up"]);
    let up_at = Instant::now();

    // When do bytes flow again?
    let mut last = at_cut;
    let back = loop {
        let line = rx_lines
            .wait_for(r#""event":"progress""#, Duration::from_secs(150))
            .expect("progress after the cut");
        let done = progress(&line);
        if Instant::now() > up_at && done > last {
            break Instant::now();
        }
        last = last.max(done);
    };
    let tx_status =
        procs::wait_timeout(&mut sender.0, Duration::from_secs(180)).expect("sender exits");
    let rx_status =
        procs::wait_timeout(&mut receiver.0, Duration::from_secs(30)).expect("receiver exits");
    rx_lines.drain(Duration::from_secs(2));
    let tx_stdout = tx_out.join().unwrap();
    let tx_stderr = tx_err.join().unwrap();
    let rx_stderr = rx_err.join().unwrap();
    assert!(tx_status.success(), "sender failed: {tx_stderr}");
    assert!(rx_status.success(), "receiver failed: {rx_stderr}");
    assert_eq!(
        procs::blake3_file(&dest.join("video.mkv")),
        want,
        "the file arrived whole"
    );

    let line = tx_stderr
        .lines()
        .find(|l| l.contains("sender summary"))
        .unwrap_or_else(|| panic!("no summary in {tx_stderr}"));
    let field = |name: &str| -> u64 {
        let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
        line[start..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let sent = field("payload_bytes_sent");
    let reconnected = !common::events_of(&json_events(&tx_stdout), "reconnecting").is_empty();
    Measured {
        resent: sent.saturating_sub(SIZE as u64),
        stalled: back.duration_since(down_at),
        back_after_up: back.duration_since(up_at),
        reconnected,
    }
}

fn report(what: &str, m: &Measured) {
    eprintln!(
        "{what}: bytes re-sent {} ({:.2}% of {} MiB), stalled {:.1} s, flowing again {:.1} s after link-up, reconnected: {}",
        m.resent,
        m.resent as f64 * 100.0 / SIZE as f64,
        SIZE >> 20,
        m.stalled.as_secs_f64(),
        m.back_after_up.as_secs_f64(),
        m.reconnected
    );
}

#[test]
fn network_cuts_mid_transfer_resume_and_resend_little() {
    if !peerdrop_netbed::ready_or_fail() {
        return;
    }
    let short = cut_mid_transfer(Duration::from_secs(10));
    report("10 s cut", &short);
    assert!(
        short.resent * 20 <= SIZE as u64,
        "at most 5% re-sent after a 10 s cut"
    );
    assert!(
        short.back_after_up < Duration::from_secs(30),
        "bytes flow again soon after the link is back"
    );

    let long = cut_mid_transfer(Duration::from_secs(35));
    report("35 s cut", &long);
    assert!(
        long.reconnected,
        "a cut longer than ICE's failure timeout needs a new connection"
    );
    assert!(
        long.resent * 20 <= SIZE as u64,
        "at most 5% re-sent after reconnecting"
    );
}
