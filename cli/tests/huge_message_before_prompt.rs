//! A hostile sender opens a WebRTC connection to the real `peerdrop receive` and, before the
//! verification phrase or any prompt, sends one enormous control message (issue 15, item 10).
//! The SCTP stack keeps reassembling an unfinished message past its receive window, so
//! without a bound of PeerDrop's own the receiver holds all of it in memory (+233 MiB for
//! 200 MB before the bound). The receiver must end that connection with a clear reason while
//! what it holds stays small, and go on serving the next sender.
//!
//! The attacker is an independent WebRTC stack (aiortc, `tests/hostile/huge_message.py`):
//! PeerDrop's own stack refuses to send messages over 256 KiB. `scripts/deps.sh` installs
//! it into `~/.cache/peerdrop-venv` (`PEERDROP_TEST_PYTHON` names another interpreter).

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// What the attacker sends as one control message: far more than anything PeerDrop accepts.
const HUGE_MESSAGE: u64 = 256 * 1024 * 1024;
/// What the receiver may grow by while it is attacked: its bound (8 MiB) plus what arrives
/// within one look of the watchdog, plus allocator slack.
const GROWTH_ALLOWED: u64 = 48 * 1024 * 1024;

/// Peak resident memory of `pid` so far (`VmHWM`), bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib * 1024
}

#[test]
fn one_huge_message_before_the_prompt_is_refused_with_bounded_memory() {
    let signal = Signal::start();
    let dest = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::spawn(&signal, dest.path(), &["--keep", "--yes"]);
    let pid = receiver.child.id();
    let before = peak_rss(pid);

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/hostile/huge_message.py");
    let attack = Command::new(aiortc_python())
        .arg(script)
        .args([&signal.url, &receiver.code])
        .arg(HUGE_MESSAGE.to_string())
        .arg("60")
        .output()
        .expect("run the aiortc attacker");
    let report = String::from_utf8_lossy(&attack.stdout);
    assert!(
        attack.status.success(),
        "the attacker failed: {report}\n{}",
        String::from_utf8_lossy(&attack.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    assert_eq!(
        report["sent"], HUGE_MESSAGE,
        "the attacker sent its message"
    );
    assert_eq!(
        report["closed_by_receiver"], true,
        "the receiver closed the connection on the attacker"
    );

    let failed = receiver.wait_for(r#""event":"failed""#, Duration::from_secs(30));
    let grown = peak_rss(pid).saturating_sub(before);
    assert!(
        grown < GROWTH_ALLOWED,
        "the receiver grew by {} MiB while attacked (allowed {} MiB); it reported {failed}",
        grown >> 20,
        GROWTH_ALLOWED >> 20
    );
    assert!(
        failed.contains("hold more than 8 MiB"),
        "the reason names the bound: {failed}"
    );
    assert!(final_files(dest.path()).is_empty(), "nothing was written");

    // The receiver is still there for an honest sender.
    let source = tempfile::tempdir().unwrap();
    let file = source.path().join("after.bin");
    random_file(&file, 300_000, 7);
    let output = send(&signal, &receiver.code, &[&file], &[]);
    assert_success(&output, "an honest send after the attack");
    assert_eq!(
        hash_tree(dest.path()).get("after.bin"),
        hash_tree(source.path()).get("after.bin")
    );
}
